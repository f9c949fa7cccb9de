#!/usr/bin/env bash
# Backups and point-in-time recovery of a repo cluster (.pg/<name>) with pgBackRest.
#   backup.sh setup    NAME                     repository, archiving, stanza and check (idempotent)
#   backup.sh backup   NAME [full|diff|auto]    one backup (auto: see below; the schedule runs this)
#   backup.sh restore  NAME TARGET [DEST]       PITR to TARGET into a NEW cluster DEST (default NAME_restored)
#   backup.sh info     NAME                     the repository's backups and WAL archive
#   backup.sh schedule NAME | unschedule NAME   the 6-hourly `backup NAME auto` (cron or systemd)
# Everything of a cluster's backups lives in .pg/NAME/pgbackrest/: pgbackrest.conf, the
# repository (repo/), logs (log/), locks (lock/) and the archive-push spool (spool/).
# NAME: demo, test, or another name with CRYPTOML_PORT set (as for scripts/cluster.sh).
# restore: DEST's port is CRYPTOML_RESTORE_PORT (default: NAME's port + 1); the restored cluster
# does not archive (archive_mode off) until `backup.sh setup DEST` gives it its own repository;
# CRYPTOML_RESTORE_WORKERS=on|off sets its cryptoml.workers_enabled (default: as in the backup).
# Restoring over NAME itself needs CRYPTOML_RESTORE_IN_PLACE=yes and NAME stopped.
# docs/disaster-recovery.md describes the procedures; test/tap/pitr.sh tests them.
set -euo pipefail
cmd=${1:?usage: backup.sh setup|backup|restore|info|check|schedule|unschedule NAME ...}
name=${2:?cluster name}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
STANZA=cryptoml
BASE="$ROOT/.pg/$name"
DATA="$BASE/data"
PGBR="$BASE/pgbackrest"
CONF="$PGBR/pgbackrest.conf"
# archive_timeout: a WAL segment is archived at most this long after its first commit, so this is
# the recovery point objective while the server runs (docs/disaster-recovery.md#rpo).
ARCHIVE_TIMEOUT=${CRYPTOML_ARCHIVE_TIMEOUT:-60s}
# `auto` takes a new full backup when the newest one is older than this many days, else a
# differential (against that full); with repo1-retention-full=2 that keeps 1 to 2 weeks of PITR.
FULL_EVERY_DAYS=${CRYPTOML_BACKUP_FULL_DAYS:-7}

die() { echo "backup.sh: $*" >&2; exit 1; }
as_pg() {  # pgBackRest, like initdb/pg_ctl, runs as the postgres OS user when we are root
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pguser() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }
pgbr() { as_pg pgbackrest --config="$CONF" --stanza=$STANZA "$@"; }
cluster() { bash "$ROOT/scripts/cluster.sh" "$@"; }
# PGHOST/PGPORT/PGUSER/PGDATABASE of NAME (cluster.sh knows the ports of demo and test)
eval "$(cluster env "$name")"
SOCK=$PGHOST PORT=$PGPORT DB=$PGDATABASE
export PGHOST PGPORT PGUSER PGDATABASE
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
running() { cluster status "$name" >/dev/null 2>&1; }
need_repo() { [ -f "$CONF" ] || die "cluster $name has no backup repository ($CONF): run scripts/backup.sh setup $name first"; }

write_conf() {
  mkdir -p "$PGBR"/{repo,log,lock,spool}
  cat >"$PGBR/pgbackrest.conf.new" <<CONF
# pgBackRest configuration of cluster $name, written by scripts/backup.sh setup (rewritten on each setup)
[global]
repo1-path=$PGBR/repo
# two full backups, each with its differentials, and the WAL needed to recover to any time since
# the older one's start; older backups and WAL expire after each backup
repo1-retention-full=2
repo1-retention-full-type=count
log-path=$PGBR/log
lock-path=$PGBR/lock
spool-path=$PGBR/spool
log-level-console=warn
log-level-file=info
compress-type=zst
compress-level=3
process-max=2
# a checkpoint at once instead of waiting for the next one
start-fast=y
# a backup fails instead of running unattended for hours behind another one
archive-timeout=120

[$STANZA]
pg1-path=$DATA
pg1-socket-path=$SOCK
pg1-port=$PORT
pg1-user=$(pguser)
CONF
  mv "$PGBR/pgbackrest.conf.new" "$CONF"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$PGBR"
  return 0
}

# The archiving settings, as a marked block at the end of postgresql.conf (rewritten each time;
# later lines win over cluster.sh's own block).
write_pg_settings() {
  local f="$DATA/postgresql.conf" tmp
  tmp=$(mktemp)
  sed '/^# --- cryptoml backups (scripts\/backup.sh) ---$/,/^# --- end cryptoml backups ---$/d' "$f" >"$tmp"
  cat >>"$tmp" <<CONF
# --- cryptoml backups (scripts/backup.sh) ---
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$CONF --stanza=$STANZA archive-push %p'
archive_timeout = $ARCHIVE_TIMEOUT
max_wal_senders = 3
# --- end cryptoml backups ---
CONF
  cat "$tmp" >"$f"   # keeps the file's owner and mode
  rm -f "$tmp"
}

setup() {
  [ -f "$DATA/PG_VERSION" ] || cluster start "$name"
  write_conf
  write_pg_settings
  running || cluster start "$name"
  local mode level
  mode=$(q -c "SHOW archive_mode"); level=$(q -c "SHOW wal_level")
  if [ "$mode" != on ] || [ "$level" = minimal ]; then
    echo "backup.sh: restarting cluster $name (archive_mode $mode -> on)"
    cluster restart "$name"
  else
    q -c "SELECT pg_reload_conf()" >/dev/null   # archive_command and archive_timeout
    sleep 0.5
  fi
  [ "$(q -c "SHOW archive_command")" = "pgbackrest --config=$CONF --stanza=$STANZA archive-push %p" ] ||
    die "archive_command of cluster $name was not applied: $(q -c 'SHOW archive_command')"
  pgbr --log-level-console=warn stanza-create
  pgbr --log-level-console=warn check
  echo "backups of cluster $name: stanza $STANZA, repository $PGBR/repo, archive_timeout $(q -c 'SHOW archive_timeout') (scripts/backup.sh info $name)"
}

# the repository's backups as JSON (empty list without any)
info_json() { pgbr --output=json info 2>/dev/null | jq -c '.[0].backup // []'; }

backup() {
  local type=${1:-auto}
  need_repo
  running || die "cluster $name is not running (scripts/cluster.sh start $name)"
  case "$type" in
    full|diff) ;;
    auto)
      local newest_full
      newest_full=$(info_json | jq -r '[.[] | select(.type == "full") | .timestamp.stop] | max // 0')
      if [ "$newest_full" -eq 0 ] || [ $(( $(date +%s) - newest_full )) -ge $((FULL_EVERY_DAYS * 86400)) ]; then
        type=full
      else
        type=diff
      fi ;;
    *) die "backup type must be full, diff or auto, not '$type'" ;;
  esac
  local t0=$SECONDS
  pgbr --type="$type" backup
  echo "backup.sh: $type backup of cluster $name done in $((SECONDS - t0)) s: $(info_json | jq -r '.[-1] | "\(.label), \(.info.repository.delta) bytes stored"')"
}

info() {
  need_repo
  pgbr info
}

# "now" of NAME's server when it runs, else of this machine
now_epoch() {
  # to the microsecond: a target of now() taken a moment ago is never "in the future"
  if running; then q -c "SELECT extract(epoch FROM clock_timestamp())"; else date +%s.%N; fi
}

restore() {
  local target=${1:?usage: backup.sh restore NAME TARGET [DEST]} dest=${2:-${name}_restored}
  need_repo
  # 1. TARGET: a timestamp with time zone (PostgreSQL's input syntax when NAME runs, GNU date's
  # otherwise), read in NAME's TimeZone when it names none; passed on in UTC.
  local epoch="" utc
  if running; then
    epoch=$(q -v t="$target" 2>/dev/null <<<"SELECT extract(epoch FROM :'t'::timestamptz)") || epoch=""
  else
    epoch=$(date -d "$target" +%s.%N 2>/dev/null) || epoch=""
  fi
  [[ "$epoch" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] ||
    die "restore target '$target' is not a timestamp with time zone (rule: a time such as '2026-12-07 14:30:00+00'); nothing was changed"
  utc=$(TZ=UTC date -d "@$epoch" '+%Y-%m-%d %H:%M:%S.%6N+00')
  # 2. not in the future
  local now
  now=$(now_epoch)
  if awk -v e="$epoch" -v n="$now" 'BEGIN { exit !(e > n) }'; then
    die "restore target '$target' ($utc) is in the future (rule: at most the server's now(), $(TZ=UTC date -d "@$now" '+%Y-%m-%d %H:%M:%S+00')); nothing was changed"
  fi
  # 3. not before the end of the oldest backup still in the repository; the backup used is the
  # newest one that ended at or before TARGET
  local backups first_stop set
  backups=$(info_json)
  [ "$(jq length <<<"$backups")" -gt 0 ] || die "the repository of cluster $name holds no backup (scripts/backup.sh backup $name); nothing was changed"
  first_stop=$(jq -r '[.[].timestamp.stop] | min' <<<"$backups")
  if awk -v e="$epoch" -v f="$first_stop" 'BEGIN { exit !(e < f + 1) }'; then
    die "restore target '$target' ($utc) is before the end of the first backup in the repository (rule: at or after $(TZ=UTC date -d "@$((first_stop + 1))" '+%Y-%m-%d %H:%M:%S+00'), when $(jq -r 'min_by(.timestamp.stop).label' <<<"$backups") ended); nothing was changed"
  fi
  set=$(jq -r --argjson e "$epoch" '[.[] | select(.timestamp.stop <= $e)] | max_by(.timestamp.stop) | .label' <<<"$backups")
  # 4. the destination: a new cluster, or NAME itself only when asked and stopped
  local dest_base="$ROOT/.pg/$dest" dest_port delta=()
  if [ "$dest" = "$name" ]; then
    [ "${CRYPTOML_RESTORE_IN_PLACE:-}" = yes ] ||
      die "restoring over cluster $name itself needs CRYPTOML_RESTORE_IN_PLACE=yes (rule: a restore goes into a new cluster unless asked); nothing was changed"
    running && die "cluster $name is running: stop it first (scripts/cluster.sh stop $name); nothing was changed"
    dest_port=$PORT delta=(--delta)
  else
    [ -e "$dest_base/data" ] &&
      die "destination cluster $dest already exists ($dest_base/data) (rule: a restore goes into a new cluster; scripts/cluster.sh destroy $dest first); nothing was changed"
    dest_port=${CRYPTOML_RESTORE_PORT:-$((PORT + 1))}
    if psql -X -h "$SOCK" -p "$dest_port" -d postgres -c "SELECT 1" >/dev/null 2>&1 ||
       [ -e "/tmp/.s.PGSQL.$dest_port.lock" ] || ls "$ROOT"/.pg/*/run/.s.PGSQL."$dest_port".lock >/dev/null 2>&1; then
      die "port $dest_port is in use (set CRYPTOML_RESTORE_PORT); nothing was changed"
    fi
  fi
  # 5. A time target is reached when recovery replays the first commit after it: with none in the
  # archive, recovery ends before the target and the server refuses to start. When NAME runs, one
  # empty transaction commits now (after TARGET, which is not in the future) and pgbackrest check
  # switches WAL and waits until that segment is archived.
  if running; then
    q <<<"SELECT pg_catalog.txid_current()" >/dev/null || echo "backup.sh: warning: could not commit the marker transaction on $name" >&2
    pgbr --log-level-console=error check >/dev/null || echo "backup.sh: warning: pgbackrest check failed; recovering from the WAL archived so far" >&2
  fi

  echo "backup.sh: restoring cluster $name to $utc from backup $set into cluster $dest (port $dest_port)"
  local t0
  t0=$(date +%s.%N)
  mkdir -p "$dest_base/run"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$dest_base"
  pgbr --log-level-console=warn --pg1-path="$dest_base/data" --set="$set" "${delta[@]}" \
       --type=time --target="$utc" --target-action=promote --target-timeline=current \
       $([ "$dest" != "$name" ] && echo --archive-mode=off) restore
  if [ "$dest" != "$name" ]; then
    # the copy of NAME's postgresql.conf still names NAME's port, socket and archive_command
    local workers=()
    [ -n "${CRYPTOML_RESTORE_WORKERS:-}" ] && workers=("cryptoml.workers_enabled = ${CRYPTOML_RESTORE_WORKERS}")
    as_pg sh -c 'f=$1; shift; printf "%s\n" "$@" >>"$f"' sh "$dest_base/data/postgresql.conf" \
      "# --- restored by scripts/backup.sh from cluster $name to $utc ---" \
      "port = $dest_port" "unix_socket_directories = '$dest_base/run'" "cron.host = '$dest_base/run'" \
      "archive_mode = off" "archive_command = ''" "${workers[@]}"
  elif [ -n "${CRYPTOML_RESTORE_WORKERS:-}" ]; then
    as_pg sh -c "echo 'cryptoml.workers_enabled = ${CRYPTOML_RESTORE_WORKERS}' >>'$dest_base/data/postgresql.conf'"
  fi
  if ! CRYPTOML_PORT=$dest_port CRYPTOML_DB=$DB cluster start "$dest" >/dev/null; then
    if grep -q "recovery ended before configured recovery target was reached" "$dest_base/server.log" 2>/dev/null; then
      die "the archive of cluster $name holds no commit after $utc, so recovery cannot tell it reached the target (rule: a target before the last archived commit; with $name down, $(grep -o 'last completed transaction was at log time .*' "$dest_base/server.log" | tail -1)); remove the partial cluster with scripts/cluster.sh destroy $dest"
    fi
    die "cluster $dest did not start (see $dest_base/server.log)"
  fi
  local deadline=$((SECONDS + 600))
  until [ "$(psql -X -At -h "$dest_base/run" -p "$dest_port" -d postgres -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ]; do
    [ $SECONDS -lt $deadline ] || die "cluster $dest did not finish recovery in 600 s (see $dest_base/server.log)"
    sleep 0.2
  done
  local secs
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  echo "backup.sh: cluster $dest restored to $utc and promoted in $secs s (port $dest_port, socket $dest_base/run, log $dest_base/server.log)"
  echo "restore_seconds=$secs"
}

CRON_FILE=/etc/cron.d/cryptoml-backup-$name
cron_line() {
  echo "0 */6 * * * $1 cd '$ROOT' && ${CRYPTOML_PORT:+CRYPTOML_PORT=$CRYPTOML_PORT }bash scripts/backup.sh backup $name auto >>'$PGBR/log/schedule.log' 2>&1"
}
schedule() {
  need_repo
  if [ -d /run/systemd/system ] && [ "$(id -u)" -eq 0 ]; then
    sed -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|${CRYPTOML_PORT:-}|g" "$ROOT/ops/backup/cryptoml-backup@.service" >/etc/systemd/system/cryptoml-backup@.service
    cp "$ROOT/ops/backup/cryptoml-backup@.timer" /etc/systemd/system/
    systemctl daemon-reload && systemctl enable --now "cryptoml-backup@$name.timer"
    echo "backup.sh: systemd timer cryptoml-backup@$name.timer enabled (systemctl list-timers)"
    return
  fi
  command -v crontab >/dev/null || die "neither systemd nor cron: install cron (apt-get install cron) or see ops/backup/"
  if [ "$(id -u)" -eq 0 ]; then
    { echo "# cryptoml: backups of cluster $name every 6 hours (scripts/backup.sh schedule $name)"
      echo "SHELL=/bin/bash"
      echo "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
      cron_line root; } >"$CRON_FILE"
    chmod 644 "$CRON_FILE"
    echo "backup.sh: installed $CRON_FILE"
  else
    { crontab -l 2>/dev/null | grep -v "scripts/backup.sh backup $name auto" || true; cron_line "" | sed 's/  / /'; } | crontab -
    echo "backup.sh: installed in the crontab of $(id -un)"
  fi
  pgrep -x cron >/dev/null || echo "backup.sh: warning: the cron daemon is not running (start it: service cron start)" >&2
}
unschedule() {
  if [ -d /run/systemd/system ] && [ "$(id -u)" -eq 0 ]; then systemctl disable --now "cryptoml-backup@$name.timer" 2>/dev/null || true; fi
  rm -f "$CRON_FILE"
  if [ "$(id -u)" -ne 0 ] && command -v crontab >/dev/null; then
    { crontab -l 2>/dev/null | grep -v "scripts/backup.sh backup $name auto" || true; } | crontab -
  fi
  echo "backup.sh: schedule of cluster $name removed"
}

shift 2
case "$cmd" in
  setup) setup ;;
  backup) backup "$@" ;;
  restore) restore "$@" ;;
  info) info ;;
  check) need_repo; pgbr check ;;
  schedule) schedule ;;
  unschedule) unschedule ;;
  *) die "unknown command $cmd (setup|backup|restore|info|check|schedule|unschedule)" ;;
esac
