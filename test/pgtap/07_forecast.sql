-- ml_forecast: serving builds exactly the training features, confidence from calibration,
-- signal, the prediction cache, persistence, stale flag, and clear errors.
BEGIN;
SET client_min_messages = error;
SELECT plan(25);

SELECT setseed(0.31);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-01-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10 + i % 9
FROM (SELECT i, 50000 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 AS r FROM generate_series(0, 2999) i) x) y;
SELECT ok(ml_build_samples('BTCUSDT', 15) > 2900, 'samples built');

-- SERVING = TRAINING: cut the history after 2021-01-02 20:00, whose sample exists, and build the
-- features the forecast path uses (checkpoint state + tail): identical to the stored sample's
DELETE FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp > '2021-01-02 20:00';
SELECT is(cryptoml_internal.latest_features('BTCUSDT'),
          (SELECT features FROM mlTrainingSamples WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15 AND bar_timestamp = '2021-01-02 20:00'),
          'the forecast path builds exactly the features of the training sample of the same bar');
SELECT ok((SELECT bars > 1000 FROM ml_indicator_status WHERE symbol = 'BTCUSDT'), 'from a checkpoint, not bar 0 (history longer than one checkpoint period)');

-- a production model
CREATE TEMP TABLE m AS SELECT * FROM ml_train('BTCUSDT', 15, options => '{"windowSize": 2000}');
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM m))$$, 'deploy a model');
CREATE TEMP TABLE f1 AS SELECT * FROM ml_forecast('BTCUSDT', 15);
SELECT is((SELECT forecast_at FROM f1), '2021-01-02 20:00'::timestamp, 'forecast from the latest bar');
SELECT is((SELECT model_version FROM f1), (SELECT batch_id::text FROM m), 'model_version names the production model');
SELECT is((SELECT expires_at FROM f1), '2021-01-02 20:15'::timestamp, 'expires at the bar plus the horizon');
SELECT is((SELECT row(f1.predicted_change, f1.confidence)::text FROM f1),
          (SELECT row(round(s.served::numeric, 8)::float8, round(s.confidence::numeric, 2)::float8)::text
             FROM f1, cryptoml_internal.models md,
                  cryptoml_internal.forecast_statement(f1.raw_change, 15, f1.forecast_at, md.oot_ts, md.oot_raw, md.oot_actual, 0, 0) s
            WHERE md.batch_id = (SELECT batch_id FROM m)),
          'served change and confidence are the statement of the model''s out-of-time record (docs/forecasting.md)');
SELECT is((SELECT signal FROM f1), (SELECT CASE WHEN confidence >= 60 AND predicted_change <> 0 THEN CASE WHEN predicted_change > 0 THEN 'LONG' ELSE 'SHORT' END ELSE 'WAIT' END FROM f1),
          'signal: LONG/SHORT with a served change (skill shown) at confidence >= inference.confidenceThreshold, else WAIT');
SELECT ok((SELECT stale AND NOT cached FROM f1), 'a bar from 2021 is stale; the first call is not cached');
SELECT is((SELECT count(*) FROM persistentForecasts WHERE symbol = 'BTCUSDT' AND forecast_type = 'price_direction'
            AND bar_timestamp = '2021-01-02 20:00' AND model_version = (SELECT batch_id FROM m)), 1::bigint, 'the forecast is stored');
SELECT is((SELECT row(f1.predicted_change, f1.raw_change, f1.lower, f1.upper, f1.confidence)::text FROM f1),
          (SELECT row(p.predicted_value::float8, p.raw_value::float8, p.lower::float8, p.upper::float8, p.confidence::float8)::text
             FROM persistentForecasts p WHERE p.symbol = 'BTCUSDT' AND p.forecast_type = 'price_direction'
              AND p.bar_timestamp = '2021-01-02 20:00'),
          'the computed forecast states its values as stored (numeric(15,8), numeric(5,2)): a cached read, another session or a router get the same numbers');
SELECT ok((SELECT cached FROM ml_forecast('BTCUSDT', 15)), 'a repeated call within maxPredictionAge is served from the stored forecast');
SELECT is((SELECT count(*) FROM persistentForecasts WHERE symbol = 'BTCUSDT'), 1::bigint, '... and stores nothing new');
-- a new bar invalidates the cache
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, timestamp + interval '1 minute', close, high, low, close, volume FROM rollingChartData
   WHERE symbol = 'BTCUSDT' AND timestamp = '2021-01-02 20:00';
SELECT ok((SELECT NOT cached AND forecast_at = '2021-01-02 20:01' FROM ml_forecast('BTCUSDT', 15)), 'a newer bar: a new forecast');
-- the backend's memo is forgotten when a (sub)transaction aborts; the stored row is then found by lookup
SELECT throws_ok($$SELECT 1 / 0$$, '22012', NULL, 'a failing statement (its subtransaction aborts)');
SELECT ok((SELECT cached AND forecast_at = '2021-01-02 20:01' FROM ml_forecast('BTCUSDT', 15)),
          'the stored forecast is found in persistentForecasts');
-- a forecast rolled back with its savepoint is never served from the cache
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, timestamp + interval '1 minute', close, high, low, close, volume FROM rollingChartData
   WHERE symbol = 'BTCUSDT' AND timestamp = '2021-01-02 20:01';
SAVEPOINT before_forecast;
SELECT * FROM ml_forecast('BTCUSDT', 15);
ROLLBACK TO SAVEPOINT before_forecast;
SELECT ok((SELECT NOT cached AND forecast_at = '2021-01-02 20:02' FROM ml_forecast('BTCUSDT', 15)),
          'after the savepoint rollback the forecast is made again');
SELECT is((SELECT count(*) FROM persistentForecasts WHERE bar_timestamp = '2021-01-02 20:02'), 1::bigint, '... and stored once');

-- the per-backend feature cache follows the latest row's version: a corrected price is seen
SELECT is(ml_config_set('inference.predictionCache', 'false'), 'false'::jsonb, 'prediction cache off');
CREATE TEMP TABLE fa AS SELECT * FROM ml_forecast('BTCUSDT', 15);
SELECT is((SELECT raw_change FROM ml_forecast('BTCUSDT', 15)), (SELECT raw_change FROM fa), 'same bar, same features: same prediction');
UPDATE rollingChartData SET close = round(close * 0.96, 8), low = round(low * 0.96, 8), open = round(open * 0.96, 8)
 WHERE symbol = 'BTCUSDT' AND timestamp = '2021-01-02 20:02';
SELECT isnt((SELECT raw_change FROM ml_forecast('BTCUSDT', 15)), (SELECT raw_change FROM fa),
            'after a price correction of the latest bar the forecast is recomputed from the new features');
SELECT is(ml_config_reset('inference.predictionCache'), 'true'::jsonb, 'prediction cache back on');

SELECT throws_like($$SELECT * FROM ml_forecast('BTCUSDT', 60)$$, 'no production model for BTCUSDT horizon 60', 'no production model: says so, hints ml_train');
SELECT throws_like($$SELECT * FROM ml_forecast('ETHUSDT', 15)$$, 'unknown symbol "ETHUSDT"%', 'a symbol without bars');

SELECT * FROM finish();
ROLLBACK;
