#!/usr/bin/env bash
# Point-in-time recovery with pgBackRest (scripts/backup.sh, docs/disaster-recovery.md), on two
# throwaway clusters of its own (.pg/pitr on 54481 and .pg/pitr_restored on 54482, destroyed at
# the end even on failure): sentinel rows, a full backup, more bars, forecasts, a new model and a
# config change, a target time, more writes after it; the restore to the target into a new cluster
# holds exactly what was committed before the target (every extension table), its workers start
# and ml_forecast works. Bad targets (future, before the first backup, malformed) fail clearly and
# change nothing. Prints the measured restore time and RPO as TAP comments. TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
SRC=pitr DST=pitr_restored
P1=${CRYPTOML_PITR_PORT:-54481} P2=${CRYPTOML_PITR_RESTORED_PORT:-54482}
A=10   # archive_timeout (s) of the test cluster
export CRYPTOML_DB=contrib_regression
cl() { CRYPTOML_PORT=$1 bash "$ROOT/scripts/cluster.sh" "$2" "$3" >/dev/null 2>&1; }
bk() { CRYPTOML_PORT=$P1 CRYPTOML_RESTORE_PORT=$P2 CRYPTOML_ARCHIVE_TIMEOUT=${A}s bash "$ROOT/scripts/backup.sh" "$@"; }
cleanup() { cl "$P2" destroy $DST; cl "$P1" destroy $SRC; }
trap cleanup EXIT
export PGHOST="$ROOT/.pg/$SRC/run" PGPORT=$P1 PGDATABASE=contrib_regression
PGUSER=$( [ "$(id -u)" -eq 0 ] && echo postgres || id -un ); export PGUSER
qr() { q -h "$ROOT/.pg/$DST/run" -p "$P2" "$@"; }   # the restored cluster
echo "1..16"

cleanup
cl "$P1" start $SRC
q -d postgres -c "CREATE DATABASE contrib_regression" &&
  q -c "SET client_min_messages = warning; CREATE EXTENSION cryptoml CASCADE"
out=$(bk setup $SRC 2>&1)
ok $? "backup.sh setup: repository, archive_command, stanza and check"
[ $? -eq 0 ] || echo "$out" | sed 's/^/# /'

# every table of the extension: name, rows, md5 of the ordered rows (model bytes included); the
# sequences are left out: recovery may leave a sequence up to 32 values ahead (its WAL prefetch)
FP_TABLES="SELECT c.oid::regclass::text AS t FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
            JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass WHERE d.deptype = 'e' AND c.relkind = 'r'"
fingerprints() {  # psql connection args
  local sql
  sql=$(q "$@" -c "SELECT string_agg(format('SELECT %L AS t, count(*) AS n, coalesce(md5(string_agg(x::text, E''\n'' ORDER BY x::text)), ''-'') AS h FROM %s x', t, t), ' UNION ALL ')
                    FROM ($FP_TABLES) s") || return 1
  q "$@" -c "SELECT string_agg(t || ' ' || n || ' ' || h, E'\n' ORDER BY t) FROM ($sql) f"
  q "$@" -c "SELECT 'model bytes ' || md5(string_agg(batch_id || ':' || md5(model), ',' ORDER BY batch_id)) FROM cryptoml_internal.models"
}
bars() {  # symbol, first minute, count, seed: a random walk of 1-minute bars
  q -c "SELECT setseed($4);
        INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
        SELECT '$1', '2021-02-01'::timestamp + make_interval(mins => k),
               round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
        FROM (SELECT k, 100 * exp(sum(r) OVER (ORDER BY k)) AS c
                FROM (SELECT k, (random() - 0.5) * 0.002 AS r FROM generate_series($2, $2 + $3 - 1) k) x) y" >/dev/null
}
model() {  # trains and deploys a BTCUSDT horizon-5 model; prints its batch_id
  q -c "SELECT ml_build_samples('BTCUSDT')" >/dev/null &&
  q -c "SELECT (ml_deploy(batch_id)).batch_id FROM ml_train('BTCUSDT', 5, options => '{\"windowSize\": 2000}')"
}

# --- sentinel rows, then the first (full) backup
q -c "SELECT ml_config_set('training.forecastHorizons', '[5]')" >/dev/null
bars BTCUSDT 0 2500 0.11
bars ETHUSDT 0 300 0.12
m1=$(model)
before_backup=$(q -c "SELECT clock_timestamp()")
sleep 1
out=$(bk backup $SRC full 2>&1)
ok $? "a full backup of the sentinel rows (model $m1)"
[ $? -eq 0 ] || echo "$out" | sed 's/^/# /'

# --- RPO: a committed row is archived (WAL segment) within archive_timeout
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('ETHUSDT', '2021-02-01 05:00', 1, 1, 1, 1, 1)"
seg=$(q -c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
t0=$(q -c "SELECT extract(epoch FROM clock_timestamp())")
wait_for $((A + 20)) "SELECT last_archived_wal >= '$seg' FROM pg_stat_archiver"
archived=$?
rpo=$(q -c "SELECT round((extract(epoch FROM last_archived_time) - $t0)::numeric, 1) FROM pg_stat_archiver")
echo "# rpo_seconds=$rpo (archive_timeout=${A}s: the seconds from a commit until its WAL segment was archived)"
[ $archived = 0 ] && awk -v r="$rpo" -v a="$A" 'BEGIN { exit !(r <= a + 5) }'
ok $? "a commit is in the archive within archive_timeout ($rpo s <= $A s + 5 s)"

# --- more bars, forecasts, a new model, a config change; the target time after their commits
bars BTCUSDT 2500 500 0.13
q -c "SELECT count(*) FROM ml_forecast('BTCUSDT', 5)" >/dev/null 2>&1
m2=$(model)
q -c "SELECT ml_config_set('training.validationSplit', '0.25')" >/dev/null
q -c "SELECT count(*) FROM ml_forecast('BTCUSDT', 5)" >/dev/null 2>&1
target="" fp=""
for _ in 1 2 3 4 5; do   # no asynchronous write (log queue) between the fingerprints and the target
  fp1=$(fingerprints); target=$(q -c "SELECT clock_timestamp()"); fp=$(fingerprints)
  [ "$fp1" = "$fp" ] && break
  sleep 1
done
[ -n "$m2" ] && [ "$m2" != "$m1" ] && [ "$(q -c "SELECT count(*) FROM persistentForecasts")" -ge 2 ]
ok $? "bars, two forecasts, a new model ($m2) and a config change committed before the target $target"
sleep 1

# --- written after the target: must not be restored
bars BTCUSDT 3000 200 0.14
q -c "SELECT ml_config_set('training.validationSplit', '0.3')" >/dev/null
q -c "SELECT ml_config_set('inference.skillSignificance', '0.01')" >/dev/null
m3=$(model)
after=$(fingerprints)
[ -n "$m3" ] && [ "$after" != "$fp" ]
ok $? "more bars, config changes and a third model ($m3) after the target"

# --- bad targets: a clear error, nothing changed (repository, source cluster, no new cluster)
repo_state() { bk info $SRC 2>/dev/null | grep -E "backup:|timestamp"; find "$ROOT/.pg/$SRC/pgbackrest/repo/backup" -type f | sort | xargs md5sum 2>/dev/null | md5sum; }
repo0=$(repo_state)
bad() {  # target, expected message part, description
  local out rc
  out=$(bk restore $SRC "$1" $DST 2>&1); rc=$?
  [ $rc -ne 0 ] && grep -q -- "$2" <<<"$out" && grep -q "nothing was changed" <<<"$out" &&
    [ ! -e "$ROOT/.pg/$DST" ] && [ "$(repo_state)" = "$repo0" ] && [ "$(fingerprints)" = "$after" ]
  ok $? "$3 fails clearly and changes nothing"
  echo "$out" | grep "backup.sh:" | sed 's/^/#   /'
}
future=$(q -c "SELECT clock_timestamp() + interval '1 hour'")
bad "$future" "is in the future" "a target in the future ($future)"
bad "$before_backup" "before the end of the first backup" "a target before the first backup ($before_backup)"
bad "2026-13-45 25:61" "is not a timestamp with time zone" "a malformed target"
out=$(bk restore $SRC "$target" $SRC 2>&1)
[ $? -ne 0 ] && grep -q "CRYPTOML_RESTORE_IN_PLACE=yes" <<<"$out" && [ "$(fingerprints)" = "$after" ]
ok $? "a restore over the running source cluster is refused"

# --- the restore to the target, into a new cluster (workers off until the contents are checked)
t0=$(date +%s.%N)
out=$(CRYPTOML_RESTORE_WORKERS=off bk restore $SRC "$target" $DST 2>&1)
rc=$?
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
ok $rc "backup.sh restore to $target into cluster $DST"
[ $rc -eq 0 ] || echo "$out" | tail -20 | sed 's/^/# /'
echo "# restore_seconds=$secs (backup.sh restore, wall time: restore, recovery to the target, promotion; $(du -sh "$ROOT/.pg/$DST/data" | cut -f1) data directory)"
got=$(fingerprints -h "$ROOT/.pg/$DST/run" -p "$P2")
[ "$got" = "$fp" ]
ok $? "every extension table and the model bytes equal their state at the target"
[ "$got" = "$fp" ] || diff <(echo "$fp") <(echo "$got") | sed 's/^/# /'
[ "$(qr -c "SELECT count(*) FROM rollingChartData WHERE timestamp >= '2021-02-01'::timestamp + interval '3000 minutes'")" = 0 ] &&
  [ "$(qr -c "SELECT count(*) FROM mlTrainingBatches WHERE batch_id = '$m3'")" = 0 ] &&
  [ "$(qr -c "SELECT count(*) FROM cryptoml_internal.models WHERE batch_id IN ('$m1', '$m2')")" = 2 ] &&
  [ "$(qr -c "SELECT value::text FROM cryptoml_internal.config WHERE path = 'training.validationSplit'")" = 0.25 ] &&
  [ "$(qr -c "SELECT count(*) FROM cryptoml_internal.config WHERE path = 'inference.skillSignificance'")" = 0 ]
ok $? "the bars, model and config changes written after the target are absent"
[ "$(qr -c "SELECT NOT pg_is_in_recovery() AND current_setting('archive_mode') = 'off' AND current_setting('port') = '$P2'")" = t ] &&
  [ "$(q -c "SELECT count(*) FROM mlTrainingBatches WHERE batch_id = '$m3'")" = 1 ]
ok $? "the restored cluster is promoted, does not archive into the source's repository, and the source is untouched"

# --- the restored cluster works: its workers start, ml_forecast answers
qr -c "ALTER SYSTEM SET cryptoml.workers_enabled = on" -c "SELECT pg_reload_conf()" >/dev/null
deadline=$((SECONDS + 30)) w=""
while [ $SECONDS -lt $deadline ]; do
  w=$(qr -c "SELECT string_agg(worker || ':' || state, ' ' ORDER BY worker) FROM ml_workers() WHERE worker IN ('forecaster', 'monitor')")
  [ "$(qr -c "SELECT count(*) FROM ml_workers() WHERE worker IN ('forecaster', 'monitor') AND state NOT LIKE '%disabled%' AND pid IS NOT NULL")" = 2 ] && break
  sleep 1
done
[ "$(qr -c "SELECT count(*) FROM ml_workers() WHERE worker IN ('forecaster', 'monitor') AND state NOT LIKE '%disabled%' AND pid IS NOT NULL")" = 2 ]
ok $? "its forecaster and monitor run within 30 s of being enabled ($w)"
f=$(qr -c "SELECT model_version FROM ml_forecast('BTCUSDT', 5)" 2>/dev/null)
[ "$f" = "$m2" ]
ok $? "ml_forecast('BTCUSDT', 5) answers with the model deployed before the target ($f)"

# --- a target of "now", with no commit after it yet: backup.sh commits a marker after the target
# before archiving, so recovery can tell it reached the target (without it recovery ends first)
cl "$P2" destroy $DST
q -c "SELECT ml_config_set('training.validationSplit', '0.3')" >/dev/null
now_target=$(q -c "SELECT now()")
out=$(CRYPTOML_RESTORE_WORKERS=off bk restore $SRC "$now_target" $DST 2>&1)
rc=$?
[ $rc -eq 0 ] && [ "$(qr -c "SELECT value::text FROM cryptoml_internal.config WHERE path = 'training.validationSplit'")" = 0.3 ]
ok $? "a restore to now() (no later commit written by anyone) holds the last change"
[ $rc -eq 0 ] || echo "$out" | tail -5 | sed 's/^/# /'
