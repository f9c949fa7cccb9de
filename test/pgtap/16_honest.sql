-- Honest forecasts (issue 15): on random-walk bars nothing claims skill; every number a forecast
-- states is the core's statement of the model's out-of-time record known at its bar; filled
-- outcomes refresh the next statement by that rule; backtest intervals cover their target; no
-- statement reads an outcome that was not known at its time; reports and alerts; bad input.
BEGIN;
SET client_min_messages = error;
SELECT plan(52);

-- 6000 minutes of a random walk (no signal at all)
SELECT setseed(0.15);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-03-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10 + i % 9
FROM (SELECT i, 50000 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 AS r FROM generate_series(0, 5999) i) x) y;
ANALYZE rollingChartData;
SELECT ok(ml_build_samples('BTCUSDT', 15) > 5900, 'samples built (h15)');
SELECT ok(ml_build_samples('BTCUSDT', 5) > 5900, 'samples built (h5)');

-- ---- training: the out-of-time record and the skill test ------------------------------------
-- the model is trained at 2021-03-02 00:00 (it sees the bars and h15 samples up to then); the
-- later bars arrive afterwards
CREATE TEMP TABLE later AS SELECT * FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp > '2021-03-02 00:00';
DELETE FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp > '2021-03-02 00:00';
DELETE FROM mlTrainingSamples WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15 AND bar_timestamp > '2021-03-02 00:00'::timestamp - interval '15 minutes';
CREATE TEMP TABLE m AS SELECT * FROM ml_train('BTCUSDT', 15, options => '{"windowSize": 1000}');
SELECT ok((SELECT calibration_pairs BETWEEN 700 AND 750 FROM m),
          'the record: 3 rolling-origin folds predict the last 3/4 of the 1000-sample window (750 pairs, less what a fold cannot predict)');
SELECT is((SELECT cardinality(oot_ts) FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM m)),
          (SELECT calibration_pairs FROM m), 'the record is stored with the model');
SELECT ok((SELECT bool_and(t + interval '15 minutes' <= '2021-03-02 00:00' AND t > '2021-03-02 00:00'::timestamp - interval '1000 minutes')
             FROM cryptoml_internal.models, unnest(oot_ts) t WHERE batch_id = (SELECT batch_id FROM m)),
          'every pair of the record lies in the training window, its outcome known at training');
SELECT ok((SELECT skill_p_value BETWEEN 0 AND 1 AND shrinkage BETWEEN 0 AND 1 AND skill_statistic IS NOT NULL FROM m),
          'ml_train''s row shows the skill test''s statistic, p-value and the shrinkage');
SELECT is((SELECT is_production FROM m),
          (SELECT skill_p_value < 0.05 AND rmse < baseline_rmse FROM m), 'promoted exactly when skill is shown and it beats zero change');
SELECT ok((SELECT skill_p_value >= 0.05 FROM m), 'a random walk shows no skill');
SELECT ok(ml_log_flush(), 'the training log is written');
SELECT ok((SELECT message LIKE '%no skill shown, production unchanged%' FROM systemLogs
            WHERE category = 'ml_training' AND context ->> 'batch_id' = (SELECT batch_id FROM m) ORDER BY id DESC LIMIT 1),
          'the training log says why it was not promoted');

-- ---- a forecast states what the record gives ---------------------------------------------------
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM m))$$, 'an operator may still deploy it by hand');
SELECT lives_ok($$SELECT ml_config_set('inference.predictionCache', 'false')$$, 'prediction cache off');
CREATE TEMP TABLE f1 AS SELECT * FROM ml_forecast('BTCUSDT', 15);
SELECT is((SELECT signal FROM f1), 'WAIT', 'no skill: WAIT');
SELECT is((SELECT confidence FROM f1), 50::float8, 'no skill: confidence exactly 50');
SELECT is((SELECT predicted_change FROM f1), 0::float8, 'no skill: the served change is 0');
SELECT ok((SELECT raw_change <> 0 FROM f1), 'the raw model output is reported beside it');
SELECT ok((SELECT lower < 0 AND upper > 0 AND abs(lower + upper) < 1e-12 FROM f1), 'an interval around the served change');
CREATE TEMP TABLE rec AS SELECT oot_ts AS ts, oot_raw AS raw, oot_actual AS actual FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM m);
SELECT is((SELECT row(f1.predicted_change, f1.confidence, f1.lower, f1.upper)::text FROM f1),
          (SELECT row(s.served, round(s.confidence::numeric, 2)::float8, s.lower, s.upper)::text
             FROM f1, rec, cryptoml_internal.forecast_statement(f1.raw_change, 15, f1.forecast_at, rec.ts, rec.raw, rec.actual, 0, 0) s),
          'served change, confidence and interval are the core''s statement of the record known at the bar');
SELECT is((SELECT row(raw_value::float8, lower::float8, upper::float8, predicted_value::float8)::text FROM persistentForecasts
            WHERE model_version = (SELECT batch_id FROM m) ORDER BY id DESC LIMIT 1),
          (SELECT row(round(raw_change::numeric, 8)::float8, round(lower::numeric, 8)::float8, round(upper::numeric, 8)::float8,
                      round(predicted_change::numeric, 8)::float8)::text FROM f1),
          'stored in persistentForecasts: raw, served and the bounds');

-- ---- the refresh: outcomes filled by ml_fill_actuals change the next statement, by the rule ------
-- the later bars arrive; the model's forecasts of them (here: raws that match the change to come,
-- a perfect model) get their outcomes from ml_fill_actuals. The record read is the last 4000
-- outcomes: three days of them, so the served factor (tomorrow's slope, from the daily slopes)
-- can be stated.
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, timestamp, open, high, low, close, volume FROM later WHERE timestamp <= '2021-03-05 03:00';
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, model_version,
                                 expires_at, bar_timestamp, raw_value)
SELECT 'BTCUSDT', 'price_direction', 50, 0, 15, (SELECT batch_id FROM m), b0.timestamp + interval '15 minutes', b0.timestamp,
       round((100 * (b1.close / b0.close - 1))::numeric, 8)
  FROM rollingChartData b0 JOIN rollingChartData b1 ON b1.symbol = b0.symbol AND b1.timestamp = b0.timestamp + interval '15 minutes'
 WHERE b0.symbol = 'BTCUSDT' AND b0.timestamp > '2021-03-02 00:00';
CREATE TEMP TABLE due AS SELECT count(*) AS n FROM persistentForecasts WHERE actual_value IS NULL AND expires_at <= '2021-03-05 03:00';
SELECT ok((SELECT n > 4400 FROM due), 'the model''s forecasts of 4400 later bars are due');
SELECT is(ml_fill_actuals(), (SELECT n FROM due), 'ml_fill_actuals fills their outcomes');
SELECT lives_ok($$SELECT ml_config_set('inference.calibrationWindow', '4000')$$, 'the record read: the last 4000 outcomes');
CREATE TEMP TABLE f2 AS SELECT * FROM ml_forecast('BTCUSDT', 15);
CREATE TEMP TABLE live AS
  SELECT array_agg(bar_timestamp ORDER BY bar_timestamp) AS ts, array_agg(raw_value::float8 ORDER BY bar_timestamp) AS raw,
         array_agg(actual_value::float8 ORDER BY bar_timestamp) AS actual,
         count(*) FILTER (WHERE lower IS NOT NULL) AS stated,
         count(*) FILTER (WHERE lower IS NOT NULL AND (actual_value < lower OR actual_value > upper)) AS missed
    FROM (SELECT DISTINCT ON (bar_timestamp) * FROM persistentForecasts
           WHERE model_version = (SELECT batch_id FROM m) AND actual_value IS NOT NULL AND forecast_type = 'price_direction'
           ORDER BY bar_timestamp, id DESC) x;
SELECT is((SELECT row(f2.predicted_change, f2.confidence, f2.lower, f2.upper)::text FROM f2),
          (SELECT row(s.served, round(s.confidence::numeric, 2)::float8, s.lower, s.upper)::text
             FROM f2, rec, live, cryptoml_internal.forecast_statement(f2.raw_change, 15, f2.forecast_at, rec.ts || live.ts,
                    rec.raw || live.raw, rec.actual || live.actual, live.stated, live.missed) s),
          'after the refresh: the statement of the record plus the outcomes known at the new bar (ACI counting the stated intervals)');
SELECT ok((SELECT skilled FROM f2, rec, live, cryptoml_internal.forecast_statement(f2.raw_change, 15, f2.forecast_at, rec.ts || live.ts,
                    rec.raw || live.raw, rec.actual || live.actual, live.stated, live.missed)),
          'the filled outcomes of a perfect model show skill');
SELECT ok((SELECT confidence > 50 AND predicted_change <> 0 AND sign(predicted_change) = sign(raw_change) FROM f2),
          'so the next forecast serves a change of the raw output''s sign, with confidence above 50');
SELECT ok((SELECT lower <= predicted_change AND predicted_change <= upper FROM f2), 'its interval holds the served change');
-- per-backend state after a rolled-back subtransaction: the statement made inside it (from a
-- record whose outcomes were flipped) is not reused once they are back
SAVEPOINT flipped;
UPDATE persistentForecasts SET actual_value = -actual_value WHERE model_version = (SELECT batch_id FROM m) AND actual_value IS NOT NULL;
SELECT is((SELECT predicted_change FROM ml_forecast('BTCUSDT', 15)), 0::float8, 'inside a savepoint, a record that is always wrong shows no skill');
ROLLBACK TO SAVEPOINT flipped;
SELECT is((SELECT row(predicted_change, confidence, lower, upper)::text FROM ml_forecast('BTCUSDT', 15)),
          (SELECT row(predicted_change, confidence, lower, upper)::text FROM f2),
          'after ROLLBACK TO SAVEPOINT the next forecast states from the record as it is again');
SELECT is((SELECT row(s.served, s.confidence)::text
             FROM f2, rec, live, cryptoml_internal.forecast_statement(f2.raw_change, 15, '2021-03-02 00:10', rec.ts || live.ts,
                    rec.raw || live.raw, rec.actual || live.actual, 0, 0) s),
          (SELECT row(s.served, s.confidence)::text
             FROM f2, rec, cryptoml_internal.forecast_statement(f2.raw_change, 15, '2021-03-02 00:10', rec.ts, rec.raw, rec.actual, 0, 0) s),
          'an outcome not known at the statement''s bar (bar + horizon later) is not read');

-- ---- reports -------------------------------------------------------------------------------------
SELECT is((SELECT interval_coverage FROM ml_forecast_quality('BTCUSDT', 15) WHERE model = 'model'),
          (SELECT avg((actual_value BETWEEN lower AND upper)::int)::float8 FROM persistentForecasts
            WHERE model_version = (SELECT batch_id FROM m) AND actual_value IS NOT NULL AND lower IS NOT NULL),
          'ml_forecast_quality: coverage of the stated intervals');
SELECT ok((SELECT bool_and(ece IS NOT NULL AND brier IS NOT NULL AND brier_skill IS NOT NULL) FROM ml_calibration('BTCUSDT', 15)),
          'ml_calibration: ECE, Brier and its skill on every row');
SELECT is((SELECT count(*) FROM ml_health() WHERE scope = 'BTCUSDT' AND metric IN ('live_ece_h15', 'interval_coverage_h15')), 2::bigint,
          'ml_health: live ECE and coverage of the production model');

-- an alert when the intervals stop covering: raised once, cleared once
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, model_version,
                                 expires_at, bar_timestamp, raw_value, actual_value, lower, upper)
SELECT 'BTCUSDT', 'price_direction', 50, 0, 15, (SELECT batch_id FROM m), t + interval '15 minutes', t, 0.01, 0.5, -0.1, 0.1
  FROM generate_series('2021-03-05 03:01'::timestamp, '2021-03-05 07:00', interval '1 minute') t;
SELECT ok((SELECT 'interval_coverage_h15' = ANY (raised) FROM ml_monitor_check('BTCUSDT', '2021-03-05 07:01+00', 60)),
          'coverage far below target: the alert is raised');
SELECT ok((SELECT NOT ('interval_coverage_h15' = ANY (raised)) AND 'interval_coverage_h15' = ANY (open_alerts)
             FROM ml_monitor_check('BTCUSDT', '2021-03-05 07:02+00', 60)), '... once');
UPDATE persistentForecasts SET lower = -10, upper = 10  -- 4 in 5 covered: on target
 WHERE model_version = (SELECT batch_id FROM m) AND raw_value = 0.01 AND extract(minute FROM bar_timestamp)::integer % 5 <> 0;
SELECT ok((SELECT 'interval_coverage_h15' = ANY (recovered) FROM ml_monitor_check('BTCUSDT', '2021-03-05 07:03+00', 60)),
          'and cleared once it covers again');

-- ---- a walk-forward backtest on the random walk ----------------------------------------------------
CREATE TEMP TABLE bt AS SELECT * FROM ml_backtest('BTCUSDT', 5, 'xgboost', '2021-03-02 00:00', '2021-03-05 04:00',
                                                  '{"windowSize": 1000, "retrainEvery": 1000}');
CREATE TEMP TABLE bp AS SELECT * FROM mlBacktestPredictions WHERE run_id = (SELECT DISTINCT run_id FROM bt);
SELECT ok((SELECT count(*) > 4000 FROM bp), 'predictions from several segments');
SELECT ok((SELECT max(abs(confidence - 50)) <= 3 FROM bp), 'every stated confidence within 50 +/- 3');
SELECT is((SELECT count(*) FROM mlBacktestTrades WHERE run_id = (SELECT DISTINCT run_id FROM bt)), 0::bigint, 'no LONG/SHORT trade');
SELECT ok((SELECT abs(avg((actual_change BETWEEN lower AND upper)::int) - 0.8) <= 0.03 FROM bp),
          'the 80 % intervals cover 77-83 % of the outcomes');
SELECT ok((SELECT bool_and(raw_change IS NOT NULL AND (predicted_change = 0 OR sign(predicted_change) = sign(raw_change))) FROM bp),
          'raw output stored; the served change has its sign or is 0');
SELECT ok((SELECT sqrt(avg((predicted_change - actual_change) ^ 2)) <= sqrt(avg(actual_change ^ 2)) FROM bp),
          'served RMSE is not worse than predicting no change');
SELECT ok((SELECT bool_and(ece IS NOT NULL) FROM ml_backtest_calibration((SELECT DISTINCT run_id FROM bt))),
          'ml_backtest_calibration: ECE on every row');

-- look-ahead: outcomes of the samples from T on are changed; run again (the same run, resumed from
-- the segment whose inputs changed): no statement before T + horizon may change
UPDATE mlTrainingSamples SET target = target * 50 WHERE symbol = 'BTCUSDT' AND forecast_horizon = 5 AND bar_timestamp >= '2021-03-04 22:00';
CREATE TEMP TABLE bt2 AS SELECT * FROM ml_backtest('BTCUSDT', 5, 'xgboost', '2021-03-02 00:00', '2021-03-05 04:00',
                                                   '{"windowSize": 1000, "retrainEvery": 1000}');
SELECT is((SELECT count(*) FROM bp JOIN mlBacktestPredictions p2 USING (run_id, bar_timestamp)
            WHERE bp.bar_timestamp < '2021-03-04 22:05'
              AND row(bp.predicted_change, bp.raw_change, bp.confidence, bp.lower, bp.upper) IS DISTINCT FROM
                  row(p2.predicted_change, p2.raw_change, p2.confidence, p2.lower, p2.upper)), 0::bigint,
          'no statement before T + horizon changed');
SELECT ok((SELECT count(*) > 0 FROM bp JOIN mlBacktestPredictions p2 USING (run_id, bar_timestamp)
            WHERE bp.bar_timestamp >= '2021-03-04 22:05' AND bp.upper IS DISTINCT FROM p2.upper),
          'statements after T + horizon read the changed outcomes (the test can fail)');

-- ---- bad input -------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT ml_config_set('inference.intervalCoverage', '1')$$, '22023', NULL, 'coverage 1 refused');
SELECT throws_ok($$SELECT ml_config_set('inference.skillSignificance', '0.6')$$, '22023', NULL, 'significance above 0.5 refused');
SELECT throws_ok($$SELECT ml_config_set('training.calibrationFolds', '0')$$, '22023', NULL, 'zero folds refused');
SELECT throws_ok($$SELECT * FROM ml_backtest('BTCUSDT', 5, 'xgboost', NULL, NULL, '{"intervalCoverage": 1.5}')$$, '22023', NULL,
                 'backtest option intervalCoverage 1.5 refused');
SELECT throws_ok($$SELECT * FROM ml_backtest('BTCUSDT', 5, 'xgboost', NULL, NULL, '{"calibrationFolds": 2.5}')$$, '22023', NULL,
                 'backtest option calibrationFolds 2.5 refused');
SELECT throws_ok($$SELECT * FROM cryptoml_internal.forecast_statement(0.1, 15, '2021-03-04', ARRAY['2021-03-01'::timestamp], '{}', '{}', 0, 0)$$,
                 '2202E', NULL, 'a record whose arrays differ in length is refused');
SELECT throws_ok($$SELECT * FROM cryptoml_internal.forecast_statement(0.1, 15, '2021-03-04', '{}', '{}', '{}', 1, 2)$$,
                 '22023', NULL, 'more missed than stated intervals is refused');
SELECT throws_ok($$SELECT * FROM cryptoml_internal.conformal_interval(1, '{1,2}', -1, 0)$$, '22023', NULL, 'a negative count is refused');

SELECT * FROM finish();
ROLLBACK;
