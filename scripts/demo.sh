#!/usr/bin/env bash
# The main job, from a fresh clone: packages, build, install, a local cluster in .pg/demo with
# pg_cron and cryptoml preloaded, the extension, and a look at what it offers.
# Safe to run again: it rebuilds, reinstalls, restarts the cluster and keeps its data.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=$(nproc 2>/dev/null || echo 2)

bash scripts/deps.sh
echo "== build and install"
make -s -j"$JOBS" >/dev/null
make -s install >/dev/null
echo "== local cluster"
bash scripts/cluster.sh stop demo >/dev/null   # a running cluster keeps the old library loaded
bash scripts/cluster.sh start demo
echo "== backups (docs/disaster-recovery.md): pgBackRest repository in .pg/demo/pgbackrest, WAL archiving"
bash scripts/backup.sh setup demo
eval "$(bash scripts/cluster.sh env demo)"
psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'cryptoml'" | grep -q 1 || createdb cryptoml
psql -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE;
ALTER EXTENSION cryptoml UPDATE;  -- a demo database made by an earlier version is upgraded in place
-- the forecaster waits until models are trained and deployed (it starts again below)
SELECT ml_stop_workers() AS forecaster_paused;
SQL

echo "== candles (../shared/data when present, else generated)"
bash scripts/load.sh demo

psql -X -v ON_ERROR_STOP=1 <<'SQL'
\pset footer off
\echo
\echo == cryptoml is installed
SELECT ml_version() AS version, current_database() AS database,
       (SELECT mode FROM ml_log_queue()) AS log_mode,
       current_setting('shared_preload_libraries') AS preloaded;
\echo == seed tables
SELECT c.relname AS "table", obj_description(c.oid, 'pg_class') AS description
  FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
 WHERE c.relkind = 'r' AND c.relnamespace <> 'cryptoml_internal'::regnamespace ORDER BY 1;
\echo == configuration (ml_config_keys(); change with ml_config_set)
SELECT path, value, rule FROM ml_config_keys() WHERE path LIKE 'features.%' OR path LIKE 'training.%' OR path = 'symbols';
\echo == indicators, computed by the insert trigger (ml_indicator_status)
SELECT symbol, bars, first_bar, latest_bar, up_to_date FROM ml_indicator_status ORDER BY symbol;
SELECT symbol, timestamp, close, rsi, macd, macd_signal, bollinger_upper, bollinger_lower, stochastic_k, stochastic_d, volatility
  FROM (SELECT DISTINCT ON (symbol) * FROM rollingChartData ORDER BY symbol, timestamp DESC) latest ORDER BY symbol;
\echo == the same kernels as SQL functions: RSI(14) and MACD over the whole BTCUSDT series, against the stored latest bar
WITH s AS (SELECT array_agg(close::float8 ORDER BY timestamp) AS c FROM rollingChartData WHERE symbol = 'BTCUSDT')
SELECT (ml_rsi(s.c))[cardinality(s.c)] AS rsi_full_precision, r.rsi AS rsi_stored,
       (m.macd)[cardinality(s.c)] AS macd_full_precision, r.macd AS macd_stored
  FROM s, ml_macd(s.c) AS m,
       (SELECT rsi, macd FROM rollingChartData WHERE symbol = 'BTCUSDT' ORDER BY timestamp DESC LIMIT 1) AS r;
\echo == training samples for the six symbols (docs/features.md)
SELECT ml_build_samples() AS samples_added;
\echo == XGBoost models, every symbol and horizon (docs/training.md)
\echo   windowSize 20000 minutes: a validation set of about 4000 samples. The default 600 gives 120
\echo   overlapping samples, too few to tell skill from luck. Read rmse next to baseline_rmse
\echo   (always predicting no change). A model is promoted only when its out-of-time record (3
\echo   rolling-origin folds inside the window) beats no change significantly (skill_p < 0.05) and it
\echo   beats the production model, or no change, on the same rows (docs/forecasting.md).
SELECT b.symbol, h AS horizon, b.batch_id, b.training_samples AS train, b.validation_samples AS valid,
       b.rmse, b.baseline_rmse, round(b.rmse / nullif(b.baseline_rmse, 0), 3) AS rmse_vs_baseline,
       b.accuracy AS direction_accuracy, round(b.skill_p_value::numeric, 4) AS skill_p, b.is_production AS promoted
  FROM (SELECT DISTINCT symbol FROM rollingChartData) s, unnest(ARRAY[5, 15, 30, 60]) AS h,
       LATERAL ml_train(s.symbol, h, options => '{"windowSize": 20000}') AS b
 ORDER BY 1, 2;
\echo == LSTM and ensemble at horizon 15, beside XGBoost and the zero-change baseline (docs/lstm.md)
\echo   The LSTM reads the last 30 minutes of feature vectors; the ensemble weights the xgboost and
\echo   lstm models by inverse validation MSE, fitted on the first half of the validation rows and
\echo   measured on the second half (so its baseline is on those 2000 rows).
SELECT s.symbol, l.batch_id AS lstm, l.hyperparameters->>'epochs_trained' AS epochs
  FROM (SELECT DISTINCT symbol FROM rollingChartData) s,
       LATERAL ml_train(s.symbol, 15, 'lstm', '{"windowSize": 20000}') AS l ORDER BY 1;
SELECT s.symbol, e.batch_id AS ensemble
  FROM (SELECT DISTINCT symbol FROM rollingChartData) s,
       LATERAL ml_train(s.symbol, 15, 'ensemble', '{"windowSize": 20000}') AS e ORDER BY 1;
SELECT b.symbol, b.batch_id AS ensemble,
       string_agg(m.member_batch_id || ' x ' || round(m.weight::numeric, 3), ' + ' ORDER BY m.model_type DESC) AS members
  FROM (SELECT DISTINCT ON (symbol) symbol, batch_id FROM mlTrainingBatches
         WHERE model_type = 'ensemble' AND forecast_horizon = 15 ORDER BY symbol, id DESC) b
  JOIN cryptoml_internal.ensemble_members m ON m.ensemble_batch_id = b.batch_id
 GROUP BY b.symbol, b.batch_id ORDER BY 1;
SELECT symbol,
       max(rmse) FILTER (WHERE model_type = 'xgboost') AS xgboost_rmse,
       max(rmse) FILTER (WHERE model_type = 'lstm') AS lstm_rmse,
       max(baseline_rmse) FILTER (WHERE model_type = 'lstm') AS baseline_rmse,
       max(rmse) FILTER (WHERE model_type = 'ensemble') AS ensemble_rmse,
       max(baseline_rmse) FILTER (WHERE model_type = 'ensemble') AS ensemble_baseline_rmse,
       max(accuracy) FILTER (WHERE model_type = 'xgboost') AS xgboost_dir,
       max(accuracy) FILTER (WHERE model_type = 'lstm') AS lstm_dir,
       max(accuracy) FILTER (WHERE model_type = 'ensemble') AS ensemble_dir
  FROM (SELECT DISTINCT ON (symbol, model_type) * FROM mlTrainingBatches WHERE forecast_horizon = 15
         ORDER BY symbol, model_type, id DESC) latest
 GROUP BY symbol ORDER BY symbol;
\echo == forecasts (docs/forecasting.md)
\echo   For the demo the latest xgboost model of each symbol and horizon, and the latest ensemble at
\echo   horizon 15, are deployed even when they showed no skill, so that a forecast can be shown;
\echo   ml_forecast prefers a production ensemble. What it states comes from the out-of-time record
\echo   of the model: without skill shown it serves no change at 50 % and says WAIT.
SELECT count(ml_deploy(b.batch_id)) AS deployed
  FROM (SELECT DISTINCT ON (symbol, forecast_horizon, model_type) batch_id FROM mlTrainingBatches
         WHERE model_type IN ('xgboost', 'ensemble') ORDER BY symbol, forecast_horizon, model_type, id DESC) b;
SELECT ml_start_workers() AS forecaster_started;
\echo   raw = the output of the model; predicted = what is served (raw shrunk, 0 without skill);
\echo   confidence = the probability (50-100) that the change has the sign of raw; [lower, upper] = the 80 %
\echo   conformal interval of the change. LONG or SHORT only with skill and confidence >= 60.
\echo   stale = the latest bar is older than 5 minutes (historical candles).
\set QUIET on
SET client_min_messages = error;
SELECT f.symbol, f.horizon, f.forecast_at, round(f.raw_change::numeric, 4) AS raw_pct,
       round(f.predicted_change::numeric, 4) AS predicted_pct, round(f.lower::numeric, 4) AS lower_pct,
       round(f.upper::numeric, 4) AS upper_pct, f.confidence, f.signal, f.model_version, f.stale
  FROM (SELECT DISTINCT symbol FROM rollingChartData) s, unnest(ARRAY[5, 15, 30, 60]) AS h, LATERAL ml_forecast(s.symbol, h) AS f
 ORDER BY 1, 2;
RESET client_min_messages;
\set QUIET off
\echo == volatility models (docs/forecasting.md): HAR regression of log realized volatility, per symbol at 15 and 60 min
\echo   ratio = validation QLIKE of the model / QLIKE of the trailing realized volatility (below 1: better);
\echo   promoted models serve forecast_type volatility (model_version har:<id>), else the formula sigma60*sqrt(h).
SELECT model_symbol AS symbol, forecast_horizon AS h, n, round(ratio::numeric, 3) AS qlike_ratio,
       round((qlike / nullif(qlike_formula, 0))::numeric, 3) AS vs_formula, is_production
  FROM ml_train_volatility(NULL, 15) UNION ALL
SELECT model_symbol, forecast_horizon, n, round(ratio::numeric, 3), round((qlike / nullif(qlike_formula, 0))::numeric, 3), is_production
  FROM ml_train_volatility(NULL, 60) ORDER BY 1, 2;
\echo == anomalies (docs/monitoring.md#anomalies): robust z-scores of return, range, volume and the residual against the market
SELECT ml_detect_anomalies() AS bars_flagged;
SELECT symbol, count(*) AS flagged, round(count(*) / greatest(extract(epoch FROM max(bar_timestamp) - min(bar_timestamp)) / 86400, 1)::numeric, 2) AS per_day
  FROM ml_anomalies() GROUP BY symbol ORDER BY symbol;
\echo   the real ADAUSDT flash wick of 2021-04-23 02:25 (with the shared candles):
SELECT symbol, bar_timestamp, round(score::numeric, 1) AS score, kinds FROM ml_anomalies('ADAUSDT', '2021-04-23 02:00')
 WHERE bar_timestamp < '2021-04-23 03:00' ORDER BY bar_timestamp;
\echo == hyperparameter search (docs/training.md#hyperparameter-search): successive halving, 9 trials, BTCUSDT h15
CALL ml_tune('BTCUSDT', 15, 'xgboost', 9, '{"method": "halving"}');
SELECT trial, rung, round(score::numeric, 4) AS score_vs_zero_change, params FROM ml_tune_trials
 WHERE tune_id = (SELECT max(tune_id) FROM ml_tune_runs) ORDER BY score LIMIT 3;
\echo == a log entry that survives the rollback of its transaction
BEGIN;
SELECT ml_log('info', 'demo', 'rollback', 'written by make demo inside a transaction that rolls back');
ROLLBACK;
SELECT ml_log_flush() AS flushed;
SELECT id, timestamp, level, category, message FROM systemLogs WHERE category = 'demo' ORDER BY id DESC LIMIT 3;
SQL

echo
echo "== the forecaster worker (docs/workers.md): all forecast types of every symbol's latest bar"
echo "   waiting for its next cycle (forecasting.updateFrequency is 60 s) ..."
for _ in $(seq 1 90); do
  n=$(psql -Atc "SELECT count(DISTINCT (f.symbol, f.forecast_type, f.forecast_horizon)) FROM persistentForecasts f
                  JOIN (SELECT symbol, max(timestamp) AS ts FROM rollingChartData GROUP BY symbol) l
                    ON l.symbol = f.symbol AND l.ts = f.bar_timestamp")
  [ "$n" -ge 108 ] && break
  sleep 2
done
psql -q <<'SQL'
SELECT worker, database, state, pid, last_run, next_run, cycles, errors, last_error FROM ml_workers();
SELECT f.symbol, count(DISTINCT forecast_horizon) FILTER (WHERE forecast_type = 'price_direction') AS price_direction_horizons,
       count(DISTINCT forecast_horizon) FILTER (WHERE forecast_type = 'volatility') AS volatility_horizons,
       count(DISTINCT forecast_horizon) FILTER (WHERE forecast_type = 'trend') AS trend_horizons,
       string_agg(DISTINCT f.model_version, ', ') FILTER (WHERE forecast_type = 'trend') AS regime
  FROM persistentForecasts f JOIN (SELECT symbol, max(timestamp) AS ts FROM rollingChartData GROUP BY symbol) l
    ON l.symbol = f.symbol AND l.ts = f.bar_timestamp
 GROUP BY 1 ORDER BY 1;
\echo   the forecasts of the latest BTCUSDT bar, confidence decayed per minute of age (ml_forecasts_live):
SELECT DISTINCT ON (forecast_type, forecast_horizon) forecast_type, forecast_horizon AS horizon,
       round(predicted_value, 4) AS predicted, stored_confidence, confidence, age_minutes, model_version
  FROM ml_forecasts_live
 WHERE symbol = 'BTCUSDT' AND bar_timestamp = (SELECT max(timestamp) FROM rollingChartData WHERE symbol = 'BTCUSDT')
 ORDER BY forecast_type, forecast_horizon, id DESC;   -- the newest of each (a rerun of the demo keeps earlier ones)
SQL
echo
echo "== a walk-forward backtest of BTCUSDT at horizon 15 (docs/trading.md)"
echo "   one XGBoost model per day, trained on the 20000 samples before that day whose outcome was"
echo "   known; trades with the live rules (confidence >= 60, TP 2 sigma, SL 1 sigma, fee 0.1 % + slippage 0.05 % per side);"
echo "   beside buy-and-hold and random entry on the same bars and costs."
echo "   (its progress: NOTICE lines every 15 s here; another session reads it in ml_progress)"
psql -q <<'SQL'
SET client_min_messages = notice;
SET cryptoml.progress_notice_interval = 15;
CREATE TEMP TABLE demo_bt AS SELECT * FROM ml_backtest('BTCUSDT', 15, options => '{"windowSize": 20000, "retrainEvery": 1440}');
SET client_min_messages = warning;
SELECT strategy, trades, round(win_rate::numeric, 3) AS win_rate, round(avg_pnl::numeric, 4) AS avg_pnl_pct,
       round(profit_factor::numeric, 3) AS profit_factor, round(sharpe::numeric, 2) AS sharpe, round(sortino::numeric, 2) AS sortino,
       round(max_drawdown_pct::numeric, 2) AS max_drawdown_pct, round(exposure::numeric, 3) AS exposure,
       round(total_return_pct::numeric, 2) AS total_return_pct
  FROM demo_bt ORDER BY strategy;
\echo   its out-of-sample predictions against the zero-change baseline:
SELECT predictions, round(rmse::numeric, 4) AS rmse, round(baseline_rmse::numeric, 4) AS zero_change_rmse,
       round(directional_accuracy::numeric, 4) AS direction FROM demo_bt WHERE strategy = 'backtest';
\echo   the calibration table (ml_backtest_calibration): each prediction states a confidence as a live forecast does
\echo   (from the out-of-time record of its segment model, 50 without skill); observed hit rate with its 95 % interval:
SELECT bucket, forecasts, round(stated_confidence::numeric, 1) AS stated_pct, round((100 * observed_hit_rate)::numeric, 1) AS observed_pct,
       round((100 * hit_low95)::numeric, 1) AS low95, round((100 * hit_high95)::numeric, 1) AS high95
  FROM ml_backtest_calibration((SELECT run_id FROM demo_bt LIMIT 1));
\echo   the live calibration table (ml_calibration): it fills as the forecasts of the forecaster get outcomes:
SELECT * FROM ml_calibration('BTCUSDT');
SQL

echo
echo "== the chart monitor and ml_health() (docs/monitoring.md)"
psql -q <<'SQL'
\echo   The shared candles are historical: measured against now, every symbol is stale and its last
\echo   hour is empty, and the monitor says so (each alert raised once, on NOTIFY cryptoml_alerts).
SELECT scope AS symbol,
       round(max(value) FILTER (WHERE metric = 'staleness')::numeric / 86400, 1) AS stale_days,
       round(max(value) FILTER (WHERE metric = 'completeness')::numeric, 3) AS completeness,
       round(max(value) FILTER (WHERE metric = 'missing_data')::numeric, 3) AS missing,
       round(max(value) FILTER (WHERE metric = 'invalid_values')::numeric, 3) AS invalid,
       regexp_replace(max(detail) FILTER (WHERE metric = 'open_alerts'), ' since [^,]*', '', 'g') AS open_alerts
  FROM ml_health() WHERE scope <> 'system' GROUP BY scope ORDER BY scope;
\echo   system metrics (latency: every ml_forecast call since the server started, the forecaster included):
SELECT metric, round(value::numeric, 4) AS value, unit, detail FROM ml_health() WHERE scope = 'system';
SQL
echo
echo "== a live feed that stops: a stale alert on LISTEN cryptoml_alerts"
echo "   DEMOUSDT (a generated random walk, added to the symbols for this part only) gets bars up to"
echo "   the current minute; monitoring.checkInterval 5 s, staleData 10 s. Then nothing more is inserted."
symbols=$(psql -Atc "SELECT ml_config_get('symbols')")
restore_monitor() {
  psql -q -c "SELECT ml_config_set('symbols', '$symbols'), ml_config_reset('monitoring.checkInterval'),
                     ml_config_reset('monitoring.alertThresholds.staleData')" \
          -c "DELETE FROM persistentForecasts WHERE symbol = 'DEMOUSDT'" -c "DELETE FROM cryptoml_internal.monitor_alerts WHERE symbol = 'DEMOUSDT'" \
          -c "DELETE FROM rollingChartData WHERE symbol = 'DEMOUSDT'" -c "SELECT ml_stop_workers(), pg_sleep(1), ml_start_workers()" >/dev/null
}
trap restore_monitor EXIT
psql -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT ml_config_set('symbols', '$symbols'::jsonb || '["DEMOUSDT"]');
SELECT ml_config_set('monitoring.checkInterval', '5'), ml_config_set('monitoring.alertThresholds.staleData', '10');
DELETE FROM rollingChartData WHERE symbol = 'DEMOUSDT';
SELECT setseed(0.7);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'DEMOUSDT', t, c, c * 1.001, c * 0.999, c, 5
  FROM (SELECT t, round((10 * exp(sum(r) OVER (ORDER BY t)))::numeric, 6) AS c
          FROM (SELECT date_trunc('minute', now() AT TIME ZONE 'UTC') - make_interval(mins => i) AS t, (random() - 0.5) * 0.002 AS r
                  FROM generate_series(0, 119) i) x) y;
SELECT ml_stop_workers(), pg_sleep(1), ml_start_workers();   -- the monitor starts again with the 5 s interval
SQL
psql -q -c "SELECT symbol, latest_bar, staleness_seconds, completeness, raised FROM ml_monitor_check('DEMOUSDT')"
echo "   listening (the latest bar closes at the end of this minute; stale 10 s after that) ..."
start=$SECONDS
got=$({ echo "LISTEN cryptoml_alerts;"; for _ in $(seq 1 240); do echo "SELECT pg_sleep(0.5);"; done; } |
      psql -X -q -At 2>&1 | grep -m1 '"symbol": "DEMOUSDT"' || true)
if [ -n "$got" ]; then echo "   after $((SECONDS - start)) s: $got"; else echo "   no alert within 120 s (see ml_workers())"; fi
psql -q -c "SELECT symbol, alert, level, round(value::numeric) AS value, threshold, started_at FROM cryptoml_internal.monitor_alerts WHERE symbol = 'DEMOUSDT'"
restore_monitor
trap - EXIT

echo
echo "== operations (docs/roles.md, docs/training.md, docs/monitoring.md, docs/disaster-recovery.md)"
psql -q <<'SQL'
SET client_min_messages = warning;
\echo   the audit trail (ml_audit_log, admin level): what this demo did, and its last deploys
SELECT action, count(*) AS entries, count(*) FILTER (WHERE outcome = 'committed') AS committed,
       max(logged_at)::timestamp(0) AS last FROM ml_audit_log GROUP BY action ORDER BY action;
SELECT logged_at::timestamp(0) AS logged_at, action, object, old_value->>'production' AS replaced, acting_role, outcome
  FROM ml_audit_log WHERE action IN ('deploy', 'rollback', 'model_import') ORDER BY id DESC LIMIT 4;
\echo   a model bundle (ml_export_model): the production BTCUSDT h15 xgboost model, ready for ml_import_model elsewhere
SELECT b->'batch'->>'batch_id' AS batch_id, b->>'bundle_version' AS bundle_version, b->'model'->>'sha256' AS sha256,
       pg_size_pretty(length(b::text)::bigint) AS size
  FROM (SELECT ml_export_model(batch_id) AS b FROM mlTrainingBatches
         WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15 AND model_type = 'xgboost' AND is_production LIMIT 1) x;
SQL
bash scripts/dashboard.sh
echo "   a backup (make backup: full when none is recent, else differential; make restore TARGET='...' restores a point in time)"
bash scripts/backup.sh backup demo auto

cat <<TXT

The cluster keeps running (data in .pg/demo, port $PGPORT, socket $PGHOST).
  make psql    open psql on it
  make stop    stop it
  make dashboard   the dashboard page
  make backup      a backup (schedule: bash scripts/backup.sh schedule demo, every 6 hours)
TXT
