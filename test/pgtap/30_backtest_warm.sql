-- Warm-started lstm and ensemble backtests (0.10.0, option warmStart): each segment's networks
-- start from the previous segment's; the first segment is the cold run's; no look-ahead through
-- the chain (perturbing the future leaves the past untouched); bad values named with their rule.
-- warmWindow (a warm network's epochs over only its newest sequences): the same guarantees; and
-- cryptoml.backtest_threads does not change a result.
-- Tiny networks: the test times the machinery, not the model.
BEGIN;
SET client_min_messages = warning;
-- the portable kernels: at 0.10.0 in development, two identical lstm backtests (cold too) in one
-- session with the AVX2 kernels differed in a few raw outputs (.helper/NOTES.md, 16:12)
SET LOCAL cryptoml.lstm_kernels = portable;
SELECT plan(26);

SELECT setseed(0.28);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'SOLUSDT', '2021-03-01'::timestamp + make_interval(mins => i), round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8),
       round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
  FROM (SELECT i, 20 * exp(sum(r) OVER (ORDER BY i)) AS c
          FROM (SELECT i, 0.003 * sin(i / 20.0) + (random() - 0.5) * 0.002 AS r FROM generate_series(0, 2599) i) x) y;
ANALYZE rollingChartData;
SELECT ok(ml_build_samples('SOLUSDT', 5) > 2000, 'samples');

CREATE TEMP TABLE opts AS SELECT
  '{"windowSize": 800, "retrainEvery": 400, "sequenceLength": 10, "hiddenSize": 4, "maxEpochs": 3, "batchSize": 256, "calibrationFolds": 1}'::jsonb AS o;
CREATE TEMP TABLE cold AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => (SELECT o || '{"warmStart": false}' FROM opts));
CREATE TEMP TABLE warm AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => (SELECT o || '{"warmStart": true}' FROM opts));
CREATE TEMP TABLE pc AS SELECT p.* FROM mlBacktestPredictions p WHERE p.run_id = (SELECT run_id FROM cold LIMIT 1);
CREATE TEMP TABLE pw AS SELECT p.* FROM mlBacktestPredictions p WHERE p.run_id = (SELECT run_id FROM warm LIMIT 1);
SELECT isnt((SELECT run_id FROM cold LIMIT 1), (SELECT run_id FROM warm LIMIT 1), 'warm and cold runs are different runs');
SELECT ok((SELECT count(*) FROM pw) > 1000 AND (SELECT count(*) FROM pw) = (SELECT count(*) FROM pc),
          'a warm run predicts the bars the cold one does');
SELECT ok((SELECT count(DISTINCT segment) FROM pw) >= 3, 'over several segments');
SELECT is((SELECT count(*) FROM pc JOIN pw USING (bar_timestamp) WHERE pc.segment = 0 AND pc.raw_change IS DISTINCT FROM pw.raw_change),
          0::bigint, 'segment 0 has nothing to start from: the cold run''s predictions');
SELECT ok((SELECT count(*) FROM pc JOIN pw USING (bar_timestamp) WHERE pc.segment > 0 AND pc.raw_change <> pw.raw_change) > 0,
          'later segments start from the previous segment''s weights: other predictions');

-- warmWindow: a warm network's epochs over only its newest 150 training sequences (of about 620)
CREATE TEMP TABLE ww AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => (SELECT o || '{"warmStart": true, "warmWindow": 150}' FROM opts));
CREATE TEMP TABLE pww AS SELECT p.* FROM mlBacktestPredictions p WHERE p.run_id = (SELECT run_id FROM ww LIMIT 1);
SELECT is((SELECT count(*) FROM pww), (SELECT count(*) FROM pw), 'warmWindow: the same bars predicted');
SELECT is((SELECT count(*) FROM pw JOIN pww USING (bar_timestamp) WHERE pw.segment = 0 AND pw.raw_change IS DISTINCT FROM pww.raw_change),
          0::bigint, 'warmWindow: segment 0 trains cold, on all its rows');
SELECT ok((SELECT count(*) FROM pw JOIN pww USING (bar_timestamp) WHERE pw.segment > 0 AND pw.raw_change <> pww.raw_change) > 0,
          'warmWindow: later segments train on fewer rows: other predictions');
-- a limit above every network's training rows is no limit
CREATE TEMP TABLE wall AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => (SELECT o || '{"warmStart": true, "warmWindow": 100000}' FROM opts));
SELECT is((SELECT count(*) FROM pw FULL JOIN (SELECT * FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM wall LIMIT 1)) p USING (bar_timestamp)
            WHERE row(p.predicted_change, p.raw_change, p.confidence, p.lower, p.upper)
                  IS DISTINCT FROM row(pw.predicted_change, pw.raw_change, pw.confidence, pw.lower, pw.upper)), 0::bigint,
          'warmWindow above the rows: the warm run''s predictions');

-- cryptoml.backtest_threads: the same run on one thread (the default is 2)
SELECT is(current_setting('cryptoml.backtest_threads'), '2', 'backtest_threads: 2 by default');
SET LOCAL cryptoml.backtest_threads = 1;
CREATE TEMP TABLE one AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => (SELECT o || '{"warmStart": true, "warmWindow": 150}' FROM opts));
SELECT is((SELECT count(*) FROM pww FULL JOIN (SELECT * FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM one LIMIT 1)) p USING (bar_timestamp)
            WHERE row(p.predicted_change, p.raw_change, p.confidence, p.lower, p.upper)
                  IS DISTINCT FROM row(pww.predicted_change, pww.raw_change, pww.confidence, pww.lower, pww.upper)), 0::bigint,
          'backtest_threads 1 and 2: the same predictions, bit for bit');
RESET cryptoml.backtest_threads;

-- the same arguments, the same run
CREATE TEMP TABLE warm2 AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => (SELECT o || '{"warmStart": true}' FROM opts));
SELECT results_eq($$SELECT * FROM warm ORDER BY strategy$$, $$SELECT * FROM warm2 ORDER BY strategy$$, 'a warm run is deterministic');

-- no look-ahead through the chain: perturb every sample and bar from the end of segment 1 on;
-- segments 0 and 1 (and so the weights segment 2 starts from) do not move
CREATE TEMP TABLE cut AS SELECT r.from_ts + interval '800 minutes' AS ts FROM mlBacktestRuns r WHERE r.run_id = (SELECT run_id FROM warm LIMIT 1);
UPDATE mlTrainingSamples SET target = -target * 3, feature_vector = (SELECT array_agg(-v * 2) FROM unnest(feature_vector) v)
 WHERE symbol = 'SOLUSDT' AND bar_timestamp >= (SELECT ts FROM cut);
UPDATE rollingChartData SET close = close * 1.05, high = high * 1.05, low = low * 1.05, open = open * 1.05
 WHERE symbol = 'SOLUSDT' AND timestamp >= (SELECT ts FROM cut);
CREATE TEMP TABLE warm3 AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm',
  "from" => (SELECT from_ts FROM mlBacktestRuns WHERE run_id = (SELECT run_id FROM warm LIMIT 1)),
  "to" => (SELECT to_ts FROM mlBacktestRuns WHERE run_id = (SELECT run_id FROM warm LIMIT 1)),
  options => (SELECT o || '{"warmStart": true}' FROM opts));
SELECT is((SELECT count(*) FROM pw JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.run_id = (SELECT run_id FROM warm3 LIMIT 1) AND p.bar_timestamp < (SELECT ts FROM cut)
              AND row(p.predicted_change, p.raw_change, p.confidence, p.lower, p.upper)
                  IS DISTINCT FROM row(pw.predicted_change, pw.raw_change, pw.confidence, pw.lower, pw.upper)), 0::bigint,
          'warm: no prediction before the perturbed future changed');
CREATE TEMP TABLE ww3 AS SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm',
  "from" => (SELECT from_ts FROM mlBacktestRuns WHERE run_id = (SELECT run_id FROM warm3 LIMIT 1)),
  "to" => (SELECT to_ts FROM mlBacktestRuns WHERE run_id = (SELECT run_id FROM warm3 LIMIT 1)),
  options => (SELECT o || '{"warmStart": true, "warmWindow": 150}' FROM opts));
SELECT is((SELECT count(*) FROM pww JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.run_id = (SELECT run_id FROM ww3 LIMIT 1) AND p.bar_timestamp < (SELECT ts FROM cut)
              AND row(p.predicted_change, p.raw_change, p.confidence, p.lower, p.upper)
                  IS DISTINCT FROM row(pww.predicted_change, pww.raw_change, pww.confidence, pww.lower, pww.upper)), 0::bigint,
          'warmWindow: no prediction before the perturbed future changed');
SELECT ok((SELECT count(*) FROM pww JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.run_id = (SELECT run_id FROM ww3 LIMIT 1) AND p.bar_timestamp < (SELECT ts FROM cut)) > 500
          AND (SELECT count(*) FROM pww JOIN mlBacktestPredictions p USING (bar_timestamp)
                WHERE p.run_id = (SELECT run_id FROM ww3 LIMIT 1) AND p.bar_timestamp >= (SELECT ts FROM cut)
                  AND p.raw_change <> pww.raw_change) > 0,
          'warmWindow: over hundreds of predictions, while predictions after it did change');
SELECT ok((SELECT count(*) FROM pw WHERE bar_timestamp < (SELECT ts FROM cut)) > 500
          AND (SELECT count(*) FROM pw JOIN mlBacktestPredictions p USING (bar_timestamp)
                WHERE p.run_id = (SELECT run_id FROM warm3 LIMIT 1) AND p.bar_timestamp >= (SELECT ts FROM cut)
                  AND p.raw_change <> pw.raw_change) > 0,
          'warm: over hundreds of predictions, while predictions after it did change (the test can fail)');

-- bad values: the option, the value and the rule
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => '{"warmStart": "yes"}')$$,
                   'option warmStart must be a boolean, got "yes"', 'warmStart: not a boolean');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => '{"warmMaxEpochs": 0}')$$,
                   'option warmMaxEpochs = 0 is out of range', 'warmMaxEpochs out of range');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => '{"warmPatience": 1.5}')$$,
                   'option warmPatience must be an integer, got 1.5', 'warmPatience: not an integer');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'xgboost', options => '{"warmStart": true}')$$,
                   'option warmStart = true is for model_type lstm or ensemble, not xgboost', 'warmStart: no network in an xgboost backtest');

SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => '{"warmWindow": -1}')$$,
                   'option warmWindow = -1 is out of range', 'warmWindow: below 0');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'ensemble', options => '{"warmWindow": 1.5}')$$,
                   'option warmWindow must be an integer, got 1.5', 'warmWindow: not an integer');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm', options => '{"warmWindow": "all"}')$$,
                   'backtest option(s) warmWindow must be JSON numbers', 'warmWindow: not a number');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'xgboost', options => '{"warmWindow": 100000001}')$$,
                   'option warmWindow = 100000001 is out of range', 'warmWindow: above 100000000 (checked for xgboost too)');
SELECT throws_like($$SET cryptoml.backtest_threads = 0$$,
                   '%0 is outside the valid range for parameter "cryptoml.backtest_threads" (1 .. 64)%', 'backtest_threads: below 1');

SELECT * FROM finish();
ROLLBACK;
