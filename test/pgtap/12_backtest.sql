-- Walk-forward backtests: out-of-sample predictions only, no look-ahead (perturbing the future
-- leaves the past untouched), determinism, stored trades with the live rules, bad input.
BEGIN;
SET client_min_messages = warning;
SELECT plan(19);

SELECT setseed(0.21);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'SOLUSDT', '2021-03-01'::timestamp + make_interval(mins => i), round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8),
       round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
  FROM (SELECT i, 20 * exp(sum(r) OVER (ORDER BY i)) AS c FROM (SELECT i, (random() - 0.5) * 0.004 AS r FROM generate_series(0, 2999) i) x) y;
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

-- determinism: the same arguments give the same run and the same numbers
CREATE TEMP TABLE p1 AS SELECT bar_timestamp, predicted_change FROM mlBacktestPredictions;
CREATE TEMP TABLE r2 AS SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 40}');
SELECT results_eq($$SELECT * FROM r1 ORDER BY strategy$$, $$SELECT * FROM r2 ORDER BY strategy$$, 'deterministic');
SELECT is((SELECT count(*) FROM mlBacktestRuns), 1::bigint, 'the same run id, stored once');

-- look-ahead proof: perturb every sample and bar from a segment boundary on; the predictions
-- before it do not move
CREATE TEMP TABLE cut AS SELECT from_ts + interval '800 minutes' AS ts FROM mlBacktestRuns;
UPDATE mlTrainingSamples SET target = -target * 3, feature_vector = (SELECT array_agg(-v * 2) FROM unnest(feature_vector) v)
 WHERE symbol = 'SOLUSDT' AND bar_timestamp >= (SELECT ts FROM cut);
UPDATE rollingChartData SET close = close * 1.05, high = high * 1.05, low = low * 1.05, open = open * 1.05
 WHERE symbol = 'SOLUSDT' AND timestamp >= (SELECT ts FROM cut);
CREATE TEMP TABLE r3 AS SELECT * FROM ml_backtest('SOLUSDT', 5, "from" => (SELECT from_ts FROM mlBacktestRuns LIMIT 1),
                                                  "to" => (SELECT to_ts FROM mlBacktestRuns LIMIT 1),
                                                  options => '{"windowSize": 800, "retrainEvery": 400, "numRounds": 40}');
SELECT is((SELECT count(*) FROM p1 JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.bar_timestamp < (SELECT ts FROM cut) AND p.run_id = (SELECT run_id FROM r3 LIMIT 1)
              AND p.predicted_change IS DISTINCT FROM p1.predicted_change), 0::bigint,
          'no prediction before the perturbed future changed');
SELECT ok((SELECT count(*) FROM p1 WHERE bar_timestamp < (SELECT ts FROM cut)) > 500, '... over hundreds of predictions');
SELECT ok((SELECT count(*) FROM p1 JOIN mlBacktestPredictions p USING (bar_timestamp)
            WHERE p.bar_timestamp >= (SELECT ts FROM cut) AND p.predicted_change <> p1.predicted_change) > 0,
          'while predictions after it did change (the test can fail)');

-- bad input
SELECT throws_ok($$SELECT * FROM ml_backtest('SOLUSDT', 5, 'lstm')$$, '0A000', 'backtests of model_type "lstm" are not implemented', 'an lstm backtest');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, "from" => '2021-03-02', "to" => '2021-03-01')$$,
                   'invalid backtest period: from % is not before to %', 'from after to');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, "from" => '2021-03-01 00:30', "to" => '2021-03-01 01:30')$$,
                   '%no segment had enough samples to train a model', 'a window with too few samples');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"feePct": -0.1}')$$, '%fee_pct = -0.1%', 'a negative fee');
SELECT throws_like($$SELECT * FROM ml_backtest('SOLUSDT', 5, options => '{"retrain": 60}')$$, 'unknown backtest option(s): retrain', 'an unknown option');
SELECT * FROM finish();
ROLLBACK;
