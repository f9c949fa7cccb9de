-- Upkeep: the pg_cron schedule, outcomes of forecasts, decayed confidence, drift alerts.
BEGIN;
SET client_min_messages = warning;
SELECT plan(37);

-- the schedule: named jobs, idempotent, removable
SELECT is((SELECT count(*) FROM ml_schedule()), 8::bigint, 'ml_schedule installs eight jobs');
CREATE TEMP TABLE jobs1 AS SELECT jobid, jobname FROM cron.job WHERE jobname LIKE 'cryptoml-%';
SELECT is((SELECT count(*) FROM ml_schedule()), 8::bigint, 'a second ml_schedule still has eight');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'cryptoml-%'), 8::bigint, '... and adds no job');
SELECT set_eq($$SELECT jobname::text FROM cron.job WHERE jobname LIKE 'cryptoml-%'$$,
              ARRAY['cryptoml-build-samples', 'cryptoml-fill-actuals', 'cryptoml-drift-check', 'cryptoml-retrain', 'cryptoml-retrain-volatility',
                    'cryptoml-compress', 'cryptoml-retention', 'cryptoml-trim-cron-history'], 'the named jobs');
SELECT is((SELECT command FROM cron.job WHERE jobname = 'cryptoml-retrain'),
          format('CALL %s.ml_retrain_all(''xgboost''::pg_catalog.text, ''{}''::pg_catalog.jsonb)', quote_ident((SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                                                            WHERE e.extname = 'cryptoml'))),
          'job commands name the extension''s schema and give every argument its type');
SELECT is(ml_unschedule(), 8, 'ml_unschedule removes them');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'cryptoml-%'), 0::bigint, 'no cryptoml job is left');
SELECT is(ml_unschedule(), 0, 'a second ml_unschedule removes nothing');

-- outcomes, once the future bar exists: price change, realized volatility, realized efficiency ratio
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-01-01'::timestamp + make_interval(mins => i), 100 + i, 101 + i, 99 + i, 100 + i, 1
  FROM generate_series(0, 29) i WHERE i <> 12;   -- 00:12 is missing
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, model_version, expires_at, bar_timestamp)
VALUES ('BTCUSDT', 'price_direction', 70, 1, 5, 'm', '2021-01-01 00:12', '2021-01-01 00:07'),   -- future bar in the gap
       ('BTCUSDT', 'price_direction', 70, 1, 5, 'm', '2021-01-01 00:15', '2021-01-01 00:10'),
       ('BTCUSDT', 'price_direction', 70, 1, 5, 'm', '2021-01-01 00:35', '2021-01-01 00:30'),   -- future bar not there yet
       ('BTCUSDT', 'trend', NULL, 0.5, 5, 'm', '2021-01-01 00:15:30', '2021-01-01 00:10'),
       ('BTCUSDT', 'volatility', NULL, 0.5, 5, 'm', '2021-01-01 00:15:45', '2021-01-01 00:10');
SELECT is(ml_fill_actuals(1), 1::bigint, 'one outcome filled (a forecast whose future bar is in a gap does not block it)');
SELECT is((SELECT actual_value FROM persistentForecasts WHERE bar_timestamp = '2021-01-01 00:10' AND forecast_type = 'price_direction'),
          round(100 * (115.0 / 110.0 - 1), 8), 'price_direction: 100 * (close at t + horizon / close at t - 1)');
SELECT is(ml_fill_actuals(), 2::bigint, 'then the trend and volatility forecasts of the same bar');
SELECT is((SELECT actual_value FROM persistentForecasts WHERE forecast_type = 'trend'), 1.00000000::numeric(15,8),
          'trend: the realized efficiency ratio (a straight rise: 1)');
SELECT is((SELECT actual_value FROM persistentForecasts WHERE forecast_type = 'volatility'),
          (SELECT round(sqrt(sum((100 * (c::float8 / p - 1)) ^ 2))::numeric, 8)
             FROM (VALUES (111, 110), (113, 111), (114, 113), (115, 114)) AS v(c, p)),
          'volatility: sqrt of the sum of squared returns between the stored bars of the horizon (00:12 is missing)');
SELECT is(ml_fill_actuals(), 0::bigint, 'nothing else can be filled: the rest wait for their bar');
SELECT ok((SELECT bool_and(actual_value IS NULL) FROM persistentForecasts WHERE bar_timestamp IN ('2021-01-01 00:07', '2021-01-01 00:30')),
          'the gap and the future rows stay NULL');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  VALUES ('BTCUSDT', '2021-01-01 00:12', 112, 113, 111, 112, 1);
SELECT is(ml_fill_actuals(), 1::bigint, 'a late bar fills its forecast');

-- decayed confidence
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, model_version, expires_at, bar_timestamp, created_at)
VALUES ('ETHUSDT', 'price_direction', 80, 1, 60, 'decay-test', now()::timestamp + interval '50 minutes', '2021-01-01', now()::timestamp - interval '10 minutes');
SELECT is((SELECT confidence FROM ml_forecasts_live WHERE model_version = 'decay-test'), round((80 * 0.95 ^ 10)::numeric, 2),
          'confidence decays by confidenceDecay per minute of age');
SELECT is((SELECT stored_confidence FROM ml_forecasts_live WHERE model_version = 'decay-test'), 80.00::numeric(5,2), 'the stored value is unchanged');
SELECT lives_ok($$SELECT ml_config_set('forecasting.confidenceDecay', '0.5')$$, 'another decay');
SELECT is((SELECT confidence FROM ml_forecasts_live WHERE model_version = 'decay-test'), round((80 * 0.5 ^ 10)::numeric, 2), 'follows the configuration');

-- drift: live directional accuracy against the production model's validation accuracy
INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples, accuracy, is_production, forecast_horizon)
  VALUES ('xgb-drift-test', 'SOLUSDT', 'xgboost', 100, 20, 0.6, true, 15);
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, actual_value, forecast_horizon, model_version, expires_at, bar_timestamp)
SELECT 'SOLUSDT', 'price_direction', 60, 0.1, CASE WHEN i % 10 < 4 THEN 0.2 ELSE -0.2 END, 15, 'xgb-drift-test',
       '2021-01-01'::timestamp + make_interval(mins => i + 15), '2021-01-01'::timestamp + make_interval(mins => i)
  FROM generate_series(1, 120) i;
SELECT ml_log_flush();
CREATE TEMP TABLE mark AS SELECT coalesce(max(id), 0) AS id FROM systemLogs;
CREATE TEMP TABLE d AS SELECT * FROM ml_check_drift();
SELECT ok((SELECT drifted AND live_forecasts = 120 AND abs(live_accuracy - 0.4) < 1e-9 AND validation_accuracy = 0.6 FROM d
            WHERE model_version = 'xgb-drift-test'), 'live 0.40 against validation 0.60 over 120 forecasts: drifted');
SELECT ok(ml_log_flush(), 'flushed');
SELECT is((SELECT count(*) FROM systemLogs WHERE id > (SELECT id FROM mark) AND category = 'monitoring' AND subcategory = 'drift'
             AND level = 'warning' AND symbol = 'SOLUSDT'), 1::bigint, 'the drift is logged');
SELECT ok((SELECT NOT drifted FROM ml_check_drift(min_forecasts => 500) WHERE model_version = 'xgb-drift-test'),
          'too few forecasts for the minimum: no alert');
SELECT throws_like($$SELECT * FROM ml_check_drift(days => 0)$$, 'invalid drift check arguments%', 'bad arguments are refused');

-- all forecast types of a symbol's latest bar (the forecaster's unit of work)
SELECT setseed(0.6);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'XRPUSDT', '2021-02-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
FROM (SELECT i, 0.6 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 AS r FROM generate_series(0, 299) i) x) y;
SELECT is(ml_forecast_all('XRPUSDT'), 18, 'six horizons x three types');
SELECT is(ml_forecast_all('XRPUSDT'), 0, 'a second call writes nothing (no duplicate per symbol, type, horizon and bar)');
SELECT ok((SELECT bool_and(model_version = 'stat:zero-change' AND predicted_value = 0 AND confidence IS NULL) FROM persistentForecasts
            WHERE symbol = 'XRPUSDT' AND forecast_type = 'price_direction'), 'without a model: the zero-change baseline, no confidence');
SELECT is((SELECT round((max(predicted_value) FILTER (WHERE forecast_horizon = 60) / max(predicted_value) FILTER (WHERE forecast_horizon = 15))::numeric, 4)
             FROM persistentForecasts WHERE symbol = 'XRPUSDT' AND forecast_type = 'volatility'), 2.0000,
          'volatility scales with the square root of the horizon');
SELECT ok((SELECT bool_and(model_version IN ('stat:regime-trending', 'stat:regime-ranging', 'stat:regime-volatile')
                           AND predicted_value BETWEEN 0 AND 1) FROM persistentForecasts WHERE symbol = 'XRPUSDT' AND forecast_type = 'trend'),
          'trend: a regime with its efficiency ratio');
SELECT ok(ml_build_samples('XRPUSDT', 5) > 0, 'samples');
SELECT lives_ok($$SELECT ml_deploy(batch_id) FROM ml_train('XRPUSDT', 5)$$, 'a production model for horizon 5');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, timestamp + interval '1 minute', close, high, low, close, volume FROM rollingChartData
   WHERE symbol = 'XRPUSDT' ORDER BY timestamp DESC LIMIT 1;
SELECT is(ml_forecast_all('XRPUSDT'), 18, 'a new bar: eighteen new forecasts');
SELECT alike((SELECT model_version FROM persistentForecasts WHERE symbol = 'XRPUSDT' AND forecast_type = 'price_direction'
               AND forecast_horizon = 5 ORDER BY id DESC LIMIT 1), 'xgb-XRPUSDT-h5-%', 'horizon 5 uses the production model');
SELECT throws_like($$SELECT ml_forecast_all('ADAUSDT')$$, 'unknown symbol "ADAUSDT": it has no bars', 'a symbol without bars');

-- a flat window has a realized efficiency ratio of 0 (the forecast's own rule), so it is filled
-- instead of staying pending and being looked at again by every call
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'HBARUSDT', '2021-03-01'::timestamp + make_interval(mins => i), 1, 1, 1, 1, 1 FROM generate_series(0, 9) i;
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, model_version, expires_at, bar_timestamp)
VALUES ('HBARUSDT', 'trend', NULL, 0.2, 5, 'flat', '2021-03-01 00:07', '2021-03-01 00:02'),
       ('HBARUSDT', 'trend', NULL, 0.2, 5, 'flat-later', '2021-03-01 00:12', '2021-03-01 00:07');
SELECT ml_fill_actuals();
SELECT is((SELECT actual_value FROM persistentForecasts WHERE model_version = 'flat'), 0::numeric, 'trend over a flat window: 0');
SELECT is((SELECT actual_value FROM persistentForecasts WHERE model_version = 'flat-later'), NULL::numeric,
          'a forecast not expired by its symbol''s latest bar is left for later');

SELECT * FROM finish();
ROLLBACK;
