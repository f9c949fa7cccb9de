#!/usr/bin/env bash
# The background workers (cryptoml preloaded; the test cluster starts with
# cryptoml.workers_enabled = off): the launcher, ml_start_workers / ml_stop_workers, forecasts
# written by the forecaster, one failing symbol not stopping the others, no transaction held
# while sleeping, and a restart after kill -9. TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
echo "1..11"
q -c "SELECT ml_stop_workers()" >/dev/null
q -c "TRUNCATE rollingChartData; DELETE FROM persistentForecasts; DELETE FROM cryptoml_internal.deployments; DELETE FROM mlTrainingBatches; DELETE FROM mlTrainingSamples"

wait_for 15 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'cryptoml launcher')"
ok $? "the launcher runs and is named in pg_stat_activity.backend_type"
[ "$(q -c "SELECT state FROM ml_workers() WHERE worker = 'forecaster' AND database = current_database()")" = disabled ]
ok $? "ml_workers() shows the forecaster disabled"

# two symbols with a production model each; ETHUSDT's model bytes are then corrupted
for sym in BTCUSDT:50000 ETHUSDT:2000; do
  q -c "SELECT setseed(0.4);
        INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
        SELECT '${sym%%:*}', '2021-01-01'::timestamp + make_interval(mins => i),
               round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
        FROM (SELECT i, ${sym##*:} * exp(sum(r) OVER (ORDER BY i)) AS c
                FROM (SELECT i, (random() - 0.5) * 0.002 AS r FROM generate_series(0, 1499) i) x) y" >/dev/null
  q -c "SELECT ml_build_samples('${sym%%:*}', 5)" >/dev/null
  q -c "SELECT ml_deploy(batch_id) FROM ml_train('${sym%%:*}', 5)" >/dev/null
done
q -c "UPDATE cryptoml_internal.models SET model = '\\x7b00'::bytea, model_sha256 = sha256('\\x7b00'::bytea) WHERE batch_id LIKE 'xgb-ETHUSDT-%'" >/dev/null
q -c "SELECT ml_config_set('forecasting.updateFrequency', '1')" >/dev/null

[ "$(q -c "SELECT ml_start_workers()")" = t ]
ok $? "ml_start_workers() enables them"
wait_for 20 "SELECT EXISTS (SELECT 1 FROM persistentForecasts WHERE symbol = 'BTCUSDT' AND forecast_horizon = 5
                             AND model_version LIKE 'xgb-BTCUSDT-h5-%')"
ok $? "the forecaster writes BTCUSDT's forecast with its production model"
wait_for 10 "SELECT errors > 0 AND last_error LIKE 'ETHUSDT: %xgboost model%' FROM ml_workers() WHERE worker = 'forecaster' AND database = current_database()"
ok $? "ETHUSDT's corrupted model is recorded as the forecaster's last error"
c1=$(q -c "SELECT cycles FROM ml_workers() WHERE worker = 'forecaster' AND database = current_database()")
wait_for 10 "SELECT cycles > $c1 FROM ml_workers() WHERE worker = 'forecaster' AND database = current_database()"
ok $? "the failing symbol does not stop the cycles (one transaction per symbol)"
q -c "SELECT ml_log_flush()" >/dev/null
[ "$(q -c "SELECT count(*) > 0 FROM systemLogs WHERE category = 'worker' AND subcategory = 'forecaster' AND symbol = 'ETHUSDT' AND level = 'error'")" = t ]
ok $? "the error is in systemLogs"
idle=1
for _ in $(seq 1 20); do
  [ "$(q -c "SELECT xact_start IS NULL FROM pg_stat_activity WHERE backend_type = 'cryptoml forecaster'")" = t ] && { idle=0; break; }
  sleep 0.1
done
ok $idle "between cycles the forecaster has no transaction open"

# ml_start_workers lasts until a reload or a restart (also the reinitialization after a crash):
# a lasting choice is the setting
q -c "ALTER SYSTEM SET cryptoml.workers_enabled = on" >/dev/null
q -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
pid=$(q -c "SELECT pid FROM ml_workers() WHERE worker = 'forecaster' AND database = current_database()")
kill9 "$pid"
sleep 2   # the postmaster reinitializes after a killed backend
wait_for 60 "SELECT pid IS NOT NULL AND pid <> $pid AND cycles > 0 FROM ml_workers() WHERE worker = 'forecaster' AND database = current_database()"
ok $? "after kill -9 of the forecaster (pid $pid) the launcher starts a new one that runs"

[ "$(q -c "SELECT ml_stop_workers()")" = t ]
ok $? "ml_stop_workers() disables them"
wait_for 15 "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'cryptoml forecaster')"
ok $? "the forecaster stops"

q -c "ALTER SYSTEM RESET cryptoml.workers_enabled" >/dev/null
q -c "SELECT pg_reload_conf()" >/dev/null
q -c "SELECT ml_config_reset('forecasting.updateFrequency')" >/dev/null
q -c "TRUNCATE rollingChartData; DELETE FROM persistentForecasts; DELETE FROM cryptoml_internal.deployments; DELETE FROM mlTrainingBatches; DELETE FROM mlTrainingSamples" >/dev/null
