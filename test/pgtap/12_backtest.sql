-- Walk-forward backtests: out-of-sample predictions only, no look-ahead (perturbing the future
-- leaves the past untouched), determinism, stored trades with the live rules, bad input.
BEGIN;
SET client_min_messages = warning;
SELECT plan(39);

-- returns that swing slowly under noise: the models show skill out of time, so their served
-- changes open trades (0.6.0 serves 0, and trades nothing, without skill)
SELECT setseed(0.21);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'SOLUSDT', '2021-03-01'::timestamp + make_interval(mins => i), round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8),
       round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
  FROM (SELECT i, 20 * exp(sum(r) OVER (ORDER BY i)) AS c
          FROM (SELECT i, 0.003 * sin(i / 20.0) + (random() - 0.5) * 0.002 AS r FROM generate_series(0, 2999) i) x) y;
SELECT ok(ml_build_samples('SOLUSDT', 5) > 2000, 'samples');
CREATE TEMP TABLE r1 AS SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 40}');
SELECT set_eq($$SELECT strategy FROM r1$$, ARRAY['backtest', 'buy_and_hold', 'random_entry'], 'the backtest beside its two baselines');
SELECT ok((SELECT predictions > 1000 FROM r1 WHERE strategy = 'backtest'), 'out-of-sample predictions over the period');
SELECT is((SELECT count(*) FROM mlBacktestPredictions p JOIN mlBacktestRuns r USING (run_id)
            WHERE p.bar_timestamp < r.from_ts OR p.bar_timestamp >= r.to_ts), 0::bigint, 'every prediction lies in [from, to)');
SELECT ok((SELECT min(p.bar_timestamp) >= r.from_ts FROM mlBacktestPredictions p JOIN mlBacktestRuns r USING (run_id) GROUP BY r.from_ts),
          'the first model is trained only on what precedes from');
SELECT is((SELECT trades FROM r1 WHERE strategy = 'backtest'), (SELECT count(*)::integer FROM mlBacktestTrades), 'every trade is stored');
SELECT is((SELECT count(*) FROM mlBacktestTrades a JOIN mlBacktestTrades b ON a.run_id = b.run_id AND b.trade_no = a.trade_no + 1
            WHERE b.opened_at < a.closed_at), 0::bigint, 'one trade at a time');
SELECT ok((SELECT bool_and(CASE signal_type WHEN 'LONG' THEN tp_price > entry_price AND entry_price > sl_price
                                            ELSE tp_price < entry_price AND entry_price < sl_price END) FROM mlBacktestTrades),
          'TP and SL on the right sides of every entry');
SELECT is((SELECT trades FROM r1 WHERE strategy = 'random_entry'), (SELECT trades FROM r1 WHERE strategy = 'backtest'),
          'random entry makes as many trades');

-- the live rule: a trade opens only at a prediction whose stated confidence reaches
-- inference.confidenceThreshold (60), as a live forecast's signal is WAIT below it
SELECT ok((SELECT bool_and(p.confidence BETWEEN 0 AND 100) AND count(*) = count(p.confidence) FROM mlBacktestPredictions p),
          'every prediction states a confidence in [0, 100]');
SELECT is((SELECT count(*) FROM mlBacktestTrades t JOIN mlBacktestPredictions p ON p.run_id = t.run_id AND p.bar_timestamp = t.opened_at
            WHERE p.confidence < 60), 0::bigint, 'no trade opened below the confidence threshold');
CREATE TEMP TABLE r0 AS SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 40, "confidenceThreshold": 0}');
SELECT ok((SELECT trades FROM r0 WHERE strategy = 'backtest') >= (SELECT trades FROM r1 WHERE strategy = 'backtest')
          AND (SELECT trades FROM r0 WHERE strategy = 'backtest') > 0, 'with threshold 0 at least as many trades, and some');
-- the reliability table of the run: every prediction with a non-zero outcome, once
SELECT is((SELECT sum(forecasts) FROM ml_backtest_calibration((SELECT run_id FROM r1 LIMIT 1))),
          (SELECT count(*) FROM mlBacktestPredictions p WHERE p.run_id = (SELECT run_id FROM r1 LIMIT 1) AND p.actual_change <> 0)::numeric,
          'ml_backtest_calibration counts every prediction with an outcome once');
SELECT ok((SELECT bool_and(observed_hit_rate BETWEEN hit_low95 AND hit_high95 AND stated_confidence >= split_part(bucket, '-', 1)::float8)
             FROM ml_backtest_calibration((SELECT run_id FROM r1 LIMIT 1))), 'each bucket: the hit rate inside its interval, the confidence inside its bucket');
DELETE FROM mlBacktestRuns WHERE run_id = (SELECT run_id FROM r0 LIMIT 1);

-- lstm and ensemble backtests (small networks: the tests time the machinery, not the model)
CREATE TEMP TABLE l1 AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options =>
  '{"windowSize": 800, "retrainEvery": 400, "sequenceLength": 10, "hiddenSize": 8, "maxEpochs": 3, "batchSize": 256}');
SELECT ok((SELECT predictions > 1000 AND rmse > 0 FROM l1 WHERE strategy = 'backtest'), 'an lstm backtest predicts out of sample');
CREATE TEMP TABLE lp1 AS SELECT p.bar_timestamp, p.predicted_change, p.raw_change, p.confidence, p.lower, p.upper FROM mlBacktestPredictions p JOIN mlBacktestRuns r USING (run_id)
  WHERE r.model_type = 'lstm';
CREATE TEMP TABLE e1 AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'ensemble', options =>
  '{"windowSize": 800, "retrainEvery": 400, "numRounds": 40, "sequenceLength": 10, "hiddenSize": 8, "maxEpochs": 3, "batchSize": 256}');
SELECT is((SELECT predictions FROM e1 WHERE strategy = 'backtest'), (SELECT predictions FROM l1 WHERE strategy = 'backtest'),
          'an ensemble backtest predicts the bars its lstm member can');
CREATE TEMP TABLE e2 AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'ensemble', options =>
  '{"windowSize": 800, "retrainEvery": 400, "numRounds": 40, "sequenceLength": 10, "hiddenSize": 8, "maxEpochs": 3, "batchSize": 256}');
SELECT results_eq($$SELECT * FROM e1 ORDER BY strategy$$, $$SELECT * FROM e2 ORDER BY strategy$$, 'the ensemble backtest is deterministic');
DELETE FROM mlBacktestRuns WHERE model_type = 'ensemble';

-- determinism: the same arguments give the same run and the same numbers
CREATE TEMP TABLE p1 AS SELECT bar_timestamp, predicted_change, raw_change, confidence, lower, upper FROM mlBacktestPredictions JOIN mlBacktestRuns USING (run_id)
  WHERE model_type = 'xgboost';
CREATE TEMP TABLE r2 AS SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 40}');
SELECT results_eq($$SELECT * FROM r1 ORDER BY strategy$$, $$SELECT * FROM r2 ORDER BY strategy$$, 'deterministic');
SELECT is((SELECT count(*) FROM mlBacktestRuns WHERE model_type = 'xgboost'), 1::bigint, 'the same run id, stored once');

-- look-ahead proof: perturb every sample and bar from a segment boundary on; the predictions
-- before it do not move
CREATE TEMP TABLE cut AS SELECT from_ts + interval '800 minutes' AS ts FROM mlBacktestRuns WHERE model_type = 'xgboost';
UPDATE mlTrainingSamples SET target = -target * 3, feature_vector = (SELECT array_agg(-v * 2) FROM unnest(feature_vector) v)
 WHERE symbol = 'SOLUSDT' AND bar_timestamp >= (SELECT ts FROM cut);
UPDATE rollingChartData SET close = close * 1.05, high = high * 1.05, low = low * 1.05, open = open * 1.05
 WHERE symbol = 'SOLUSDT' AND timestamp >= (SELECT ts FROM cut);
CREATE TEMP TABLE r3 AS SELECT * FROM ml_backtest('SOLUSDT', 5, "from" => (SELECT from_ts FROM mlBacktestRuns WHERE model_type = 'xgboost'),
                                                  "to" => (SELECT to_ts FROM mlBacktestRuns WHERE model_type = 'xgboost'),
                                                  options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 40}');
SELECT is((SELECT count(*) FROM p1 JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.bar_timestamp < (SELECT ts FROM cut) AND p.run_id = (SELECT run_id FROM r3 LIMIT 1)
              AND row(p.predicted_change, p.raw_change, p.confidence, p.lower, p.upper)
                  IS DISTINCT FROM row(p1.predicted_change, p1.raw_change, p1.confidence, p1.lower, p1.upper)), 0::bigint,
          'no prediction before the perturbed future changed');
SELECT ok((SELECT count(*) FROM p1 WHERE bar_timestamp < (SELECT ts FROM cut)) > 500, '... over hundreds of predictions');
SELECT ok((SELECT count(*) FROM p1 JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.bar_timestamp >= (SELECT ts FROM cut) AND p.raw_change <> p1.raw_change) > 0,
          'while predictions after it did change (the test can fail)');
CREATE TEMP TABLE l3 AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options =>
  '{"windowSize": 800, "retrainEvery": 400, "sequenceLength": 10, "hiddenSize": 8, "maxEpochs": 3, "batchSize": 256}');
SELECT is((SELECT count(*) FROM lp1 JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.bar_timestamp < (SELECT ts FROM cut) AND p.run_id = (SELECT run_id FROM l3 LIMIT 1)
              AND row(p.predicted_change, p.raw_change, p.confidence, p.lower, p.upper)
                  IS DISTINCT FROM row(lp1.predicted_change, lp1.raw_change, lp1.confidence, lp1.lower, lp1.upper)), 0::bigint,
          'lstm: no prediction before the perturbed future changed');
SELECT ok((SELECT count(*) FROM lp1 JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.run_id = (SELECT run_id FROM l3 LIMIT 1) AND p.bar_timestamp < (SELECT ts FROM cut)) > 500
          AND (SELECT count(*) FROM lp1 JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.run_id = (SELECT run_id FROM l3 LIMIT 1) AND p.bar_timestamp >= (SELECT ts FROM cut)
              AND p.raw_change <> lp1.raw_change) > 0,
          'lstm: over hundreds of predictions, while predictions after it did change');

-- bad input
SELECT throws_ok($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'arima')$$, '22023', 'invalid model_type "arima"', 'an unknown model type');
SELECT throws_ok($$SELECT * FROM ml_backtest_calibration('bt-nosuch')$$, 'P0002', 'no backtest run "bt-nosuch"', 'the calibration of an unknown run');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"maxDepth": "6"}')$$, 'backtest option(s) maxDepth must be JSON numbers',
                   'an option that is not a number');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"numRounds": 2.5}')$$, 'option numRounds must be an integer, got 2.5',
                   'a fractional integer option');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"confidenceThreshold": 101}')$$, 'option confidenceThreshold = 101 is out of range',
                   'a confidence threshold above 100');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => '{"sequenceLength": 0}')$$, 'option sequenceLength = 0 is out of range',
                   'an lstm sequence length of 0');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, "from" => '2021-03-02', "to" => '2021-03-01')$$,
                   'invalid backtest period: from % is not before to %', 'from after to');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, "from" => '2021-03-01 00:30', "to" => '2021-03-01 01:30')$$,
                   '%no segment had enough samples to train a model', 'a window with too few samples');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"feePct": -0.1}')$$, 'option feePct = -0.1 is out of range', 'a negative fee');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"feePct": 1e308}')$$, 'option feePct = 1e+308 is out of range',
                   'a fee above 10 % is refused before the run (it failed only after the whole backtest)');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"retrain": 60}')$$, 'unknown backtest option(s): retrain', 'an unknown option');

-- Resuming (issue 14, D5 and D6): an interrupted run takes back only checkpoints cryptoml wrote,
-- and only segments whose samples are unchanged since they were checkpointed.
CREATE TEMP TABLE d6 AS SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 30}');
CREATE TEMP TABLE d6_run AS SELECT run_id FROM d6 LIMIT 1;
SELECT ok((SELECT count(*) > 1 FROM recoveryState WHERE service_name = 'backtest' AND operation_id = (SELECT run_id FROM d6_run)
            AND checkpoint_type = 'intermediate' AND origin = 'cryptoml'), 'a backtest checkpoints its segments with origin cryptoml');
-- as if the run had been killed: its closing checkpoint goes; a forged segment 0 (origin user,
-- every prediction 5.0) is planted; and the targets of segment 0's first predictions change
DELETE FROM recoveryState WHERE service_name = 'backtest' AND operation_id = (SELECT run_id FROM d6_run) AND checkpoint_type <> 'intermediate';
INSERT INTO recoveryState (service_name, operation_id, checkpoint_type, state_data)
SELECT 'backtest', (SELECT run_id FROM d6_run), 'intermediate',
       jsonb_build_object('segment', 0, 'ts', jsonb_agg(extract(epoch FROM bar_timestamp)::bigint / 60), 'pred', jsonb_agg(5.0),
                          'act', jsonb_agg(actual_change), 'conf', jsonb_agg(99))
  FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM d6_run) AND segment = 0;
UPDATE mlTrainingSamples SET target = target + 1
 WHERE symbol = 'SOLUSDT' AND forecast_horizon = 5 AND bar_timestamp IN
       (SELECT bar_timestamp FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM d6_run) AND segment = 0 ORDER BY 1 LIMIT 30);
CREATE TEMP TABLE d6_resumed AS SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 30}');
CREATE TEMP TABLE d6_resumed_p AS SELECT bar_timestamp, predicted_change, actual_change FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM d6_run);
SELECT is((SELECT count(*) FROM d6_resumed_p WHERE predicted_change = 5.0), 0::bigint, 'a forged (origin user) segment checkpoint is never taken back');
-- the same run from scratch, without any checkpoint
DELETE FROM recoveryState WHERE service_name = 'backtest' AND operation_id = (SELECT run_id FROM d6_run);
CREATE TEMP TABLE d6_fresh AS SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 30}');
SELECT results_eq($$SELECT bar_timestamp, predicted_change, actual_change FROM d6_resumed_p ORDER BY 1$$,
                  $$SELECT bar_timestamp, predicted_change, actual_change FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM d6_run) ORDER BY 1$$,
                  'after its samples changed, a resumed run equals a run from scratch (no stale segment is reused)');
-- a segment checkpoint another version of cryptoml wrote is not taken back (its predictions may
-- be stated otherwise): the run's own checkpoints, relabelled 0.5.0 with every prediction 7.0
DELETE FROM recoveryState WHERE service_name = 'backtest' AND operation_id = (SELECT run_id FROM d6_run) AND checkpoint_type <> 'intermediate';
UPDATE recoveryState SET state_data = jsonb_set(jsonb_set(state_data, '{version}', '"0.5.0"'), '{pred}',
                                                (SELECT jsonb_agg(7.0) FROM jsonb_array_elements(state_data -> 'pred')))
 WHERE service_name = 'backtest' AND operation_id = (SELECT run_id FROM d6_run) AND checkpoint_type = 'intermediate' AND origin = 'cryptoml';
CREATE TEMP TABLE d7 AS SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 30}');
SELECT is((SELECT count(*) FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM d6_run) AND predicted_change = 7.0), 0::bigint,
          'a segment checkpoint another version wrote is never taken back');
SELECT * FROM finish();
ROLLBACK;
