#!/usr/bin/env bash
# Local PostgreSQL 15 clusters kept inside the repo (.pg/<name>), socket-only, pg_cron + cryptoml preloaded.
#   cluster.sh start|stop|restart|status|psql|destroy|env <name> [psql args]
# name: demo (port 54320, database cryptoml), test (port 54329, database contrib_regression),
# or any other name with CRYPTOML_PORT (and optionally CRYPTOML_DB) set.
# CRYPTOML_PRELOAD=0 at first start leaves cryptoml out of shared_preload_libraries.
# CRYPTOML_EXTRA_CONF (lines of postgresql.conf) at first start is appended to postgresql.conf.
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop|restart|status|psql|destroy|env NAME}
name=${2:?cluster name}
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
BASE="$ROOT/.pg/$name"
DATA="$BASE/data"
SOCK="$BASE/run"
LOG="$BASE/server.log"
case "$name" in
  demo) PORT=${CRYPTOML_DEMO_PORT:-54320}; DB=cryptoml ;;
  test) PORT=${CRYPTOML_TEST_PORT:-54329}; DB=contrib_regression ;;
  *) PORT=${CRYPTOML_PORT:?"set CRYPTOML_PORT for cluster $name"}; DB=${CRYPTOML_DB:-contrib_regression} ;;
esac

PRELOAD='pg_cron,cryptoml,pgaudit'
[ "${CRYPTOML_PRELOAD:-1}" = 0 ] && PRELOAD='pg_cron'   # the no-preload test cluster
# pgAudit (docs/roles.md): DDL and ROLE statements of every session, and object auditing through
# the role cryptoml_auditor (ml_pgaudit_objects grants it the audited tables' privileges).
PGAUDIT_CONF="pgaudit.log = 'ddl, role'
pgaudit.role = 'cryptoml_auditor'
pgaudit.log_catalog = off
pgaudit.log_parameter = off
pgaudit.log_relation = on"
[ "${CRYPTOML_PRELOAD:-1}" = 0 ] && PGAUDIT_CONF=''
# The background workers run in the demo cluster; elsewhere (tests, benchmarks) they start with
# ml_start_workers() only, so they never write into a measurement or a test's tables by surprise.
WORKERS=off
[ "$name" = demo ] && WORKERS=on
# The test cluster's workers also serve a second database (created and dropped by
# test/tap/monitor.sh): a list like cron.database_name's single name.
WORKER_DBS=$DB
[ "$name" = test ] && WORKER_DBS="$DB, cryptoml_second"

as_pg() {  # initdb/pg_ctl refuse root: run them as the postgres OS user then
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- env OMP_WAIT_POLICY=passive "$@"; else env OMP_WAIT_POLICY=passive "$@"; fi
}
pguser() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }

running() { [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

init() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  mkdir -p "$BASE" "$SOCK"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$BASE"
    runuser -u postgres -- test -x "$BASE" || { echo "cluster: the postgres user cannot reach $BASE (check the permissions of its parent folders)" >&2; exit 1; }
  fi
  as_pg "$BIN/initdb" -D "$DATA" -U "$(pguser)" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$DATA/postgresql.conf" <<CONF
# --- cryptoml local cluster ---
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = '$PRELOAD'
cron.database_name = '$DB'
cron.host = '$SOCK'
cryptoml.database_name = '$WORKER_DBS'
cryptoml.workers_enabled = $WORKERS
max_worker_processes = 32
fsync = on
log_line_prefix = '%m [%p] %b '
$PGAUDIT_CONF
${CRYPTOML_EXTRA_CONF:-}
CONF
}

# The object-audit role pgaudit.role names (cluster-wide, made once; it never logs in).
auditor_role() {
  [ -n "$PGAUDIT_CONF" ] || return 0
  # a cluster still recovering (a restore in progress) cannot create it: it comes with the backup
  psql -h "$SOCK" -p "$PORT" -U "$(pguser)" -d postgres -qAt -c "SELECT pg_is_in_recovery()" 2>/dev/null | grep -q f || return 0
  psql -h "$SOCK" -p "$PORT" -U "$(pguser)" -d postgres -qAt -v ON_ERROR_STOP=1 \
    -c "SELECT 1 FROM pg_roles WHERE rolname = 'cryptoml_auditor'" | grep -q 1 ||
    psql -h "$SOCK" -p "$PORT" -U "$(pguser)" -d postgres -q -v ON_ERROR_STOP=1 -c "CREATE ROLE cryptoml_auditor NOLOGIN" >/dev/null
}

case "$cmd" in
  start)
    init
    # a cluster made before the workers existed gets their settings
    grep -q "^cryptoml.database_name" "$DATA/postgresql.conf" ||
      as_pg sh -c "printf '%s\n' \"cryptoml.database_name = '$WORKER_DBS'\" 'cryptoml.workers_enabled = $WORKERS' >> '$DATA/postgresql.conf'"
    # a cluster made before 0.7.0 gets pgAudit
    if [ -n "$PGAUDIT_CONF" ] && ! grep -q "^pgaudit.role" "$DATA/postgresql.conf"; then
      as_pg sh -c "sed -i \"s/^shared_preload_libraries = 'pg_cron,cryptoml'\$/shared_preload_libraries = '$PRELOAD'/\" '$DATA/postgresql.conf' && printf '%s\n' \"$PGAUDIT_CONF\" >> '$DATA/postgresql.conf'"
    fi
    if running; then echo "cluster $name already running (port $PORT, socket $SOCK)"; exit 0; fi
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null
    auditor_role
    echo "cluster $name started (port $PORT, socket $SOCK, log $LOG)"
    ;;
  stop)
    if running; then as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null; echo "cluster $name stopped"; else echo "cluster $name not running"; fi
    ;;
  restart)
    "$0" stop "$name"; "$0" start "$name"
    ;;
  status)
    if running; then echo "cluster $name running (port $PORT, socket $SOCK)"; else echo "cluster $name not running"; exit 3; fi
    ;;
  destroy)
    "$0" stop "$name" || true
    rm -rf "$BASE"
    ;;
  psql)
    exec psql -h "$SOCK" -p "$PORT" -U "$(pguser)" -d "${PGDATABASE:-$DB}" "$@"
    ;;
  env)
    echo "export PGHOST='$SOCK' PGPORT=$PORT PGUSER=$(pguser) PGDATABASE=$DB CRYPTOML_SERVER_LOG='$LOG'"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
