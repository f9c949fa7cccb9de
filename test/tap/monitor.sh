#!/usr/bin/env bash
# The chart monitor worker and the worker runtime's edges (cryptoml preloaded; the test cluster
# runs its workers for contrib_regression and cryptoml_second, and starts them disabled): a stale
# feed raises one alert on LISTEN cryptoml_alerts over many checks, the feed's return clears it
# once; ml_health shows it; a second database that does not exist, then exists without the
# extension, then is dropped while its workers run; a second launcher refuses. TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# LISTEN for $1 seconds in the background; notifications go to $2
listen() {
  { echo "LISTEN cryptoml_alerts;"; for _ in $(seq 1 $(($1 * 2))); do echo "SELECT pg_sleep(0.5);"; done; } |
    psql -X -q -At >"$2" 2>&1 &
}
alerts() { grep -c "\"alert\": \"$2\".*\"state\": \"$3\".*\"symbol\": \"BTCUSDT\"" "$1"; }
# bars of BTCUSDT for the minutes from $1 to $2 minutes before the current one
bars() {
  q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
        SELECT 'BTCUSDT', date_trunc('minute', now() AT TIME ZONE 'UTC') - make_interval(mins => i),
               100 + sin(i / 7.0), 101 + sin(i / 7.0), 99 + sin(i / 7.0), 100.5 + sin(i / 7.0), 1
          FROM generate_series($1, $2, -1) i ON CONFLICT DO NOTHING" >/dev/null
}
echo "1..14"
q -c "SELECT ml_stop_workers()" >/dev/null
q -c "TRUNCATE rollingChartData; DELETE FROM cryptoml_internal.monitor_alerts; DELETE FROM persistentForecasts" >/dev/null
q -c "SELECT ml_config_set('symbols', '[\"BTCUSDT\"]'), ml_config_set('monitoring.checkInterval', '1'),
             ml_config_set('monitoring.alertThresholds.staleData', '60')" >/dev/null
q -c "SELECT ml_log_flush()" >/dev/null
mark=$(q -c "SELECT coalesce(max(id), 0) FROM systemLogs")

# the feed stopped: the latest bar is two minutes old, so it closed 60 to 120 s ago (stale), while
# the current minute's bar closes 0 to 60 s ago (fresh), whenever the test runs
bars 122 2
c0=$(q -c "SELECT cycles FROM ml_workers() WHERE worker = 'monitor' AND database = current_database()")
listen 8 "$tmp/raised"
sleep 1
q -c "SELECT ml_start_workers()" >/dev/null
wait_for 15 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'cryptoml monitor' AND datname = current_database())"
ok $? "the monitor runs, named in pg_stat_activity.backend_type"
wait_for 15 "SELECT EXISTS (SELECT 1 FROM cryptoml_internal.monitor_alerts WHERE symbol = 'BTCUSDT' AND alert = 'stale_data')"
ok $? "the monitor opens a stale_data alert"
wait
c=$(( $(q -c "SELECT cycles FROM ml_workers() WHERE worker = 'monitor' AND database = current_database()") - c0 ))
[ "$(alerts "$tmp/raised" stale_data raised)" = 1 ] && [ "$c" -ge 3 ]
ok $? "LISTEN cryptoml_alerts received exactly one stale_data alert over $c checks"
grep -q '"level": "error".*"threshold": 60' "$tmp/raised"
ok $? "its JSON payload has the level and the threshold"
[ "$(grep -c '"state": "raised"' "$tmp/raised")" = 1 ]
ok $? "and no other alert (completeness and the rest are fine)"
[ "$(q -c "SELECT value > 0 AND NOT ok FROM ml_health() WHERE scope = 'BTCUSDT' AND metric = 'open_alerts'")" = t ]
ok $? "ml_health() shows the open alert"

# the feed comes back
listen 6 "$tmp/recovered"
sleep 1
bars 1 0
wait_for 15 "SELECT NOT EXISTS (SELECT 1 FROM cryptoml_internal.monitor_alerts WHERE symbol = 'BTCUSDT')"
ok $? "new bars close the alert"
wait
[ "$(alerts "$tmp/recovered" stale_data recovered)" = 1 ] && [ "$(grep -c '"state"' "$tmp/recovered")" = 1 ]
ok $? "LISTEN received exactly one recovery"
q -c "SELECT ml_log_flush()" >/dev/null
[ "$(q -c "SELECT count(*) FILTER (WHERE subcategory = 'stale_data') || '/' || count(*) FILTER (WHERE subcategory = 'recovered')
             FROM systemLogs WHERE id > $mark AND category = 'monitoring' AND symbol = 'BTCUSDT'")" = 1/1 ]
ok $? "systemLogs holds one alert and one recovery"

# a second database in cryptoml.database_name
wait_for 15 "SELECT bool_and(state = 'waiting: database \"cryptoml_second\" does not exist') FROM ml_workers() WHERE database = 'cryptoml_second'"
ok $? "the workers of a database that does not exist wait, saying so"
q -d postgres -c "DROP DATABASE IF EXISTS cryptoml_second" -c "CREATE DATABASE cryptoml_second" >/dev/null
wait_for 20 "SELECT bool_and(state = 'waiting: extension not installed' AND pid IS NOT NULL) FROM ml_workers() WHERE database = 'cryptoml_second'"
ok $? "once it exists, they run there and wait for the extension"
q -d postgres -c "DROP DATABASE cryptoml_second WITH (FORCE)" >/dev/null
ok $? "DROP DATABASE ... WITH (FORCE) succeeds while they run"
wait_for 20 "SELECT bool_and(state = 'waiting: database \"cryptoml_second\" does not exist') FROM ml_workers() WHERE database = 'cryptoml_second'"
ok $? "after the drop they wait again; the other database's workers go on"

[ "$(q -c "SELECT cryptoml_internal.test_second_launcher()")" = t ]
ok $? "a second launcher refuses to run and the first one stays"

q -c "SELECT ml_stop_workers()" >/dev/null
q -c "SELECT ml_config_reset('symbols'), ml_config_reset('monitoring.checkInterval'), ml_config_reset('monitoring.alertThresholds.staleData')" >/dev/null
q -c "TRUNCATE rollingChartData; DELETE FROM cryptoml_internal.monitor_alerts" >/dev/null
