-- The ensemble's "stacking" combiner (src/core/stacking.hpp, docs/training.md "Stacking"): the
-- option, the recorded weights (non-negative, the core's fit on the members' stored out-of-time
-- records, from pairs known before the evaluation rows), the ensemble's own record (each pair
-- combined with the weights known at its bar: no look-ahead), forecasts stated through the same
-- calibration as every model, the walk-forward option, and bad input.
BEGIN;
SET client_min_messages = error;
SELECT plan(29);

-- 2400 minutes of a noisy random walk with a weak momentum signal
SELECT setseed(0.22);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-01-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
FROM (SELECT i, 50000 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 + 0.0004 * sin(i / 40.0) AS r FROM generate_series(0, 2399) i) x) y;
ANALYZE rollingChartData;
SELECT ok(ml_build_samples('BTCUSDT', 15) > 2300, 'samples built');

-- ---- ml_train with combiner stacking ----------------------------------------------------------------
CREATE TEMP TABLE e1 AS SELECT * FROM ml_train('BTCUSDT', 15, 'ensemble',
  '{"combiner": "stacking", "windowSize": 1000, "xgboost": {"num_rounds": 40}, "lstm": {"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 3}}');
SELECT is((SELECT hyperparameters->>'combiner' FROM e1), 'stacking', 'the combiner is recorded');
SELECT is((SELECT hyperparameters->>'weights_from' FROM e1), 'learned: stacking on the members'' out-of-time records', 'weights_from says so');
CREATE TEMP TABLE mem AS
  SELECT e.model_type, e.weight, (e.model_type = 'lstm')::int AS k, m.oot_ts, m.oot_raw, m.oot_actual
    FROM cryptoml_internal.ensemble_members e JOIN cryptoml_internal.models m ON m.batch_id = e.member_batch_id
   WHERE e.ensemble_batch_id = (SELECT batch_id FROM e1);
SELECT is((SELECT count(*) FROM mem WHERE cardinality(oot_ts) > 600), 2::bigint, 'both members carry an out-of-time record');
SELECT ok((SELECT bool_and(weight >= 0) AND abs(sum(weight) - 1) < 1e-12 FROM mem), 'the stacked weights are >= 0 and sum to 1');
CREATE TEMP TABLE st AS SELECT hyperparameters->'stacking' AS s FROM e1;
SELECT ok((SELECT (s->>'stacked')::boolean AND (s->>'pairs')::int >= 100 AND s->'fallback' = 'null'::jsonb FROM st),
          'fitted by the meta-model (not the fallback) on at least 100 pairs');
SELECT is((SELECT (s->>'lambda')::float8 FROM st), (SELECT 250.0::float8 / (s->>'pairs')::int FROM st), 'lambda = 250 / pairs');
SELECT is((SELECT array_agg(round(weight::numeric, 12) ORDER BY k) FROM mem),
          (SELECT array_agg(round(w::numeric, 12) ORDER BY o) FROM st, jsonb_array_elements_text(s->'weights') WITH ORDINALITY x(w, o)),
          'ensemble_members holds the recorded weights');
-- the core's fit recomputed from the members' stored records, as of the recorded time
CREATE TEMP TABLE pairs AS
  SELECT k, t, r, a FROM mem, unnest(oot_ts, oot_raw, oot_actual) u(t, r, a);
CREATE TEMP TABLE refit AS
  SELECT cryptoml_internal.stacking_fit(array_agg(k), array_agg(t), array_agg(r), array_agg(a), 15, (SELECT (s->>'as_of')::timestamp FROM st)) AS f
    FROM pairs;
SELECT is((SELECT array_agg(round(w::numeric, 12) ORDER BY o) FROM refit, jsonb_array_elements_text(f->'weights') WITH ORDINALITY x(w, o)),
          (SELECT array_agg(round(weight::numeric, 12) ORDER BY k) FROM mem),
          'the weights are the core''s fit on the members'' stored out-of-time pairs');
SELECT is((SELECT f->'pairs' FROM refit), (SELECT s->'pairs' FROM st), '... over the same pairs');
-- no look-ahead: the pairs read are those whose outcome was known when the evaluation rows begin
SELECT is((SELECT (s->>'pairs')::bigint FROM st),
          (SELECT count(*) FROM (SELECT t FROM pairs GROUP BY t HAVING count(*) = 2) p, st
            WHERE p.t + interval '15 minutes' <= (s->>'as_of')::timestamp),
          'the fit reads exactly the aligned pairs with ts + horizon <= as_of');
SELECT ok((SELECT (s->>'as_of')::timestamp > (hyperparameters->>'valid_first_bar')::timestamp
             AND (s->>'as_of')::timestamp <= (hyperparameters->>'valid_last_bar')::timestamp FROM st, e1),
          'as_of lies inside the validation rows: the later half evaluates the ensemble out of sample');
SELECT is((SELECT cryptoml_internal.stacking_fit(array_agg(k), array_agg(t),
                                                  array_agg(CASE WHEN t + interval '15 minutes' > (s->>'as_of')::timestamp THEN r * -7 + 1 ELSE r END),
                                                  array_agg(CASE WHEN t + interval '15 minutes' > (s->>'as_of')::timestamp THEN -a ELSE a END),
                                                  15, min((s->>'as_of')::timestamp))->'weights' FROM pairs, st),
          (SELECT f->'weights' FROM refit), 'pairs not yet known at as_of could be anything: the same weights');
-- the ensemble's own record: each pair combined with the weights fitted on the pairs known at its bar
CREATE TEMP TABLE erec AS SELECT oot_ts AS ts, oot_raw AS raw, oot_actual AS actual FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM e1);
SELECT is((SELECT cardinality(ts) FROM erec), (SELECT calibration_pairs FROM e1), 'the ensemble''s record is stored');
SELECT ok((SELECT bool_and(abs(u.r - (SELECT sum(p.r * (cryptoml_internal.stacking_fit(
                                          (SELECT array_agg(k) FROM pairs), (SELECT array_agg(t) FROM pairs), (SELECT array_agg(r) FROM pairs),
                                          (SELECT array_agg(a) FROM pairs), 15, u.t)->'weights'->>p.k)::float8)
                                        FROM pairs p WHERE p.t = u.t)) < 1e-12)
             FROM erec, unnest(ts, raw) WITH ORDINALITY u(t, r, o) WHERE o % 60 = 1),
          'every 60th pair of the ensemble''s record: its members'' raws weighted as fitted on the pairs known at its bar');
SELECT ok((SELECT min(t) FROM erec, unnest(ts) t) >= (SELECT min(t) + interval '15 minutes' FROM pairs),
          'the record starts once a pair was known (no weights from the future for its first bars)');

-- ---- forecasts: the same calibration as every model --------------------------------------------------
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM e1))$$, 'deploy the stacked ensemble');
SELECT lives_ok($$SELECT ml_config_set('inference.predictionCache', 'false')$$, 'prediction cache off');
CREATE TEMP TABLE f1 AS SELECT * FROM ml_forecast('BTCUSDT', 15);
SELECT ok((SELECT model_version LIKE (SELECT batch_id FROM e1) || ' = xgb-BTCUSDT-h15-% + lstm-BTCUSDT-h15-%' FROM f1),
          'ml_forecast uses the stacked ensemble');
SELECT is((SELECT row(f1.predicted_change, f1.confidence, f1.lower, f1.upper)::text FROM f1),
          (SELECT row(s.served, round(s.confidence::numeric, 2)::float8, s.lower, s.upper)::text
             FROM f1, erec, cryptoml_internal.forecast_statement(f1.raw_change, 15, f1.forecast_at, erec.ts, erec.raw, erec.actual, 0, 0) s),
          'served change, confidence and interval: the core''s statement of the ensemble''s record');
SELECT ok((SELECT confidence >= 50 AND lower <= predicted_change AND predicted_change <= upper FROM f1), 'a calibrated confidence and an interval');

-- ---- the default, and bad input -------------------------------------------------------------------------
CREATE TEMP TABLE e2 AS SELECT * FROM ml_train('BTCUSDT', 15, 'ensemble', '{"windowSize": 1000, "lstm": {"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 3}}');
SELECT is((SELECT hyperparameters->>'combiner' FROM e2), 'inverse_mse', 'the default combiner: inverse validation MSE, as before');
CREATE TEMP TABLE n0 AS SELECT count(*) AS n FROM mlTrainingBatches;
SELECT throws_ok($$SELECT ml_train('BTCUSDT', 15, 'ensemble', '{"combiner": "median"}')$$, '22023',
                 'option combiner = "median" is not allowed', 'an unknown combiner is refused');
SELECT throws_ok($$SELECT ml_train('BTCUSDT', 15, 'xgboost', '{"combiner": "stacking"}')$$, '22023',
                 'option combiner is for model_type ensemble, not xgboost', 'a combiner on a model without members is refused');
SELECT throws_ok($$SELECT ml_train('BTCUSDT', 15, 'ensemble', '{"combiner": "stacking", "weights": {"xgboost": 1, "lstm": 1}}')$$, '22023',
                 'options weights and combiner "stacking" are both given', 'fixed weights and a combiner together are refused');
SELECT is((SELECT count(*) FROM mlTrainingBatches), (SELECT n FROM n0), 'the refused calls stored nothing');

-- ---- walk-forward ----------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM ml_backtest('BTCUSDT', 15, 'xgboost', options => '{"combiner": "stacking"}')$$, '22023',
                 'option combiner is for model_type ensemble, not xgboost', 'ml_backtest: a combiner on xgboost is refused');
SELECT throws_ok($$SELECT * FROM ml_backtest('BTCUSDT', 15, 'ensemble', options => '{"combiner": 1}')$$, '22023',
                 'option combiner must be a string, got 1', 'ml_backtest: a combiner must be a string');
CREATE TEMP TABLE b1 AS SELECT * FROM ml_backtest('BTCUSDT', 15, 'ensemble', '2021-01-02 10:00', '2021-01-02 16:00', '{"combiner": "stacking",
  "windowSize": 1000, "retrainEvery": 180, "numRounds": 30, "sequenceLength": 10, "hiddenSize": 8, "maxEpochs": 2, "batchSize": 256}');
SELECT ok((SELECT count(*) > 300 AND bool_and(confidence >= 50 AND confidence < 100 AND lower <= predicted_change AND predicted_change <= upper)
             FROM mlBacktestPredictions WHERE run_id = (SELECT DISTINCT run_id FROM b1)),
          'a stacked walk-forward states every prediction with a confidence and an interval');

SELECT * FROM finish();
ROLLBACK;
