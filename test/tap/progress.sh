#!/usr/bin/env bash
# ml_progress (issue 16): a backtest running in one session is visible from another, with its
# phase, units done of total and an ETA, and NOTICE lines reach its client at most every
# cryptoml.progress_notice_interval seconds (default 5, 1 here); the
# row goes when the operation ends, and when an error caught by a SAVEPOINT or a PL/pgSQL
# EXCEPTION block aborts it. TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
echo "1..13"
SYM=PROGUSDT
tmp=$(mktemp -d)
symbols_before=$(q -c "SELECT ml_config_get('symbols')")
cleanup() {
  q -c "DELETE FROM mlBacktestRuns WHERE symbol = '$SYM'; DELETE FROM recoveryState WHERE service_name = 'backtest' AND operation_id LIKE '%$SYM%';
        DELETE FROM mlTrainingSamples WHERE symbol = '$SYM'; DELETE FROM rollingChartData WHERE symbol = '$SYM'" >/dev/null 2>&1
  q -c "SELECT ml_config_set('symbols', '$symbols_before'::jsonb)" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
q -c "SELECT ml_stop_workers()" >/dev/null
q -c "SELECT ml_config_set('symbols', ml_config_get('symbols') || '[\"$SYM\"]'::jsonb)" >/dev/null
# a series with a signal (the models have something to learn), 4000 minutes
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT '$SYM', '2022-03-01'::timestamp + make_interval(mins => i), c, c * 1.001, c * 0.999, c, 10
        FROM (SELECT i, round((100 + 2 * sin(i / 40.0) + 0.3 * sin(i / 7.0))::numeric, 8) AS c
                FROM generate_series(0, 3999) i) x" >/dev/null
q -c "SELECT ml_build_samples('$SYM', 5)" >/dev/null

# the backtest, in a session of its own (application_name finds its pid)
OPTS='{"windowSize": 800, "retrainEvery": 120, "numRounds": 30}'
t0=$SECONDS
PGAPPNAME=progress_tap psql -X -q -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = notice" -c "SET cryptoml.progress_notice_interval = 1" \
  -c "SELECT count(*) FROM ml_backtest('$SYM', 5, options => '$OPTS')" >"$tmp/out" 2>"$tmp/err" &
bt=$!
wait_for 30 "SELECT EXISTS (SELECT 1 FROM ml_progress p JOIN pg_stat_activity a ON a.pid = p.pid
                             WHERE a.application_name = 'progress_tap' AND p.operation = 'backtest' AND p.symbol = '$SYM'
                               AND p.phase = 'segments' AND p.done > 0 AND p.total > p.done)"
ok $? "another session sees the backtest in ml_progress: operation, symbol, phase, done of total"
row=$(q -c "SELECT p.database = current_database(), p.role = current_user, p.percent > 0 AND p.percent < 100,
                   p.started_at <= p.updated_at, p.eta > p.updated_at, p.total
              FROM ml_progress p JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.application_name = 'progress_tap'")
IFS='|' read -r same_db same_role pct ordered eta_after total <<<"$row"
[ "$same_db|$same_role|$pct|$ordered|$eta_after" = "t|t|t|t|t" ]
ok $? "its database, role, percent, start, last update and an ETA after the last update ($row)"
[ -n "$total" ] && [ "$total" -gt 0 ]
ok $? "the total is the number of walk-forward segments ($total)"
d1=$(q -c "SELECT p.done FROM ml_progress p JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.application_name = 'progress_tap'")
wait_for 30 "SELECT coalesce((SELECT p.done > ${d1:-0} FROM ml_progress p JOIN pg_stat_activity a ON a.pid = p.pid
                               WHERE a.application_name = 'progress_tap'), true)"
ok $? "done grows while it runs"
wait $bt
ok $? "the backtest finishes"
secs=$((SECONDS - t0))
[ "$(q -c "SELECT count(*) FROM ml_progress WHERE operation = 'backtest' AND symbol = '$SYM'")" = 0 ]
ok $? "its row is gone when it ends"
grep -Eq "NOTICE:  backtest $SYM: [0-9]+ of [0-9]+ \([0-9]+ %\), about [0-9]+ s left" "$tmp/err"
ok $? "its client got NOTICE lines with the progress and ETA"
notices=$(grep -c "NOTICE:  backtest $SYM:" "$tmp/err")
[ "$notices" -ge 1 ] && [ "$notices" -le $((secs + 1)) ]
ok $? "at most one NOTICE per cryptoml.progress_notice_interval (1 s here: $notices in $secs s)"

# no NOTICE when client_min_messages does not let it through
psql -X -q -At -c "SET client_min_messages = warning" -c "SET cryptoml.progress_notice_interval = 1" \
  -c "SELECT count(*) FROM ml_backtest('$SYM', 5, options => '{\"windowSize\": 800, \"retrainEvery\": 120, \"numRounds\": 31}')" >/dev/null 2>"$tmp/err2"
! grep -q "NOTICE:  backtest" "$tmp/err2"
ok $? "no NOTICE when client_min_messages = warning"

# an error caught by a SAVEPOINT (a statement timeout in the middle of the backtest): the row goes
# with the aborted subtransaction
out=$(psql -X -At -v ON_ERROR_STOP=0 2>&1 <<SQL
BEGIN;
SAVEPOINT a;
SET LOCAL statement_timeout = '1500ms';
SELECT count(*) FROM ml_backtest('$SYM', 5, options => '{"windowSize": 800, "retrainEvery": 120, "numRounds": 32}');
ROLLBACK TO SAVEPOINT a;
SELECT 'rows=' || count(*) FROM ml_progress WHERE pid = pg_backend_pid();
COMMIT;
SQL
)
grep -Eq "ERROR: .*(statement timeout|cancel)" <<<"$out" && grep -q "^rows=0$" <<<"$out"
ok $? "a backtest cancelled inside a SAVEPOINT leaves no row after ROLLBACK TO"

# an error caught by a PL/pgSQL EXCEPTION block (ml_train of a symbol without samples fails after it began)
out=$(q -c "DO \$\$ BEGIN PERFORM ml_train('NOSAMPLESUSDT', 5); EXCEPTION WHEN others THEN RAISE NOTICE 'caught: %', SQLERRM; END \$\$;
            SELECT 'rows=' || count(*) FROM ml_progress WHERE pid = pg_backend_pid()" 2>&1)
grep -q "caught:" <<<"$out" && grep -q "^rows=0$" <<<"$out"
ok $? "an ml_train error caught by an EXCEPTION block leaves no row"

# the same session then reports its next operation afresh
out=$(q -c "DO \$\$ BEGIN PERFORM ml_train('NOSAMPLESUSDT', 5); EXCEPTION WHEN others THEN NULL; END \$\$;
            SELECT count(*) FROM ml_build_samples('$SYM', 5); SELECT 'rows=' || count(*) FROM ml_progress WHERE pid = pg_backend_pid()" 2>&1)
grep -q "^rows=0$" <<<"$out"
ok $? "after the caught error, the next operation begins and ends cleanly"

# a procedure that commits along the way (ml_compress_history) ends its row too
q -c "CALL ml_compress_history()" >/dev/null 2>&1
[ "$(q -c "SELECT count(*) FROM ml_progress WHERE operation = 'compress'")" = 0 ]
ok $? "ml_compress_history (commits between steps) leaves no row"
