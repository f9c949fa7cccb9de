-- Hyperparameter search (issue 17): CALL ml_tune runs random search and successive halving over
-- time-series CV folds, stores every trial and the best params, is deterministic for a seed, and
-- ml_train takes the tuned params; bad input is refused and changes nothing. Inside this
-- transaction ml_tune runs atomically (no commits); kill/resume and cancel are in
-- test/tap/tune_resume.sh.
BEGIN;
SET client_min_messages = error;
SELECT plan(43);

-- 2500 minutes with a learnable signal (a slow sine the features see)
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2022-05-01'::timestamp + make_interval(mins => i), c, c * 1.001, c * 0.999, c, 10 + i % 7
  FROM (SELECT i, round((30000 + 300 * sin(i / 40.0) + 40 * sin(i / 7.0))::numeric, 8) AS c
          FROM generate_series(0, 2499) i) x;
ANALYZE rollingChartData;
SELECT ok(ml_build_samples('BTCUSDT', 5) > 2400, 'samples built (h5)');

CREATE TEMP TABLE res (name text PRIMARY KEY, result jsonb);
CREATE FUNCTION pg_temp.tune(name text, budget int, opts jsonb, model text DEFAULT 'xgboost') RETURNS jsonb
  LANGUAGE plpgsql AS $$
  DECLARE r jsonb;
  BEGIN
    CALL ml_tune('BTCUSDT', 5, model, budget, opts, r);
    INSERT INTO res VALUES (name, r);
    RETURN r;
  END $$;
CREATE TEMP TABLE cfg AS SELECT '{"train": {"windowSize": 2500, "earlyStoppingPatience": 5}, "space": {"num_rounds": [30, 60], "max_depth": [2, 4], "eta": [0.1, 0.3]},
                                  "folds": 3, "seed": 7}'::jsonb AS opts;

-- ---- random search -----------------------------------------------------------------------------
SELECT lives_ok($$SELECT pg_temp.tune('a', 4, (SELECT opts FROM cfg))$$, 'CALL ml_tune: random search, budget 4');
SELECT is((SELECT result ->> 'status' FROM res WHERE name = 'a'), 'completed', 'the run completed');
SELECT is((SELECT (result ->> 'trials')::int FROM res WHERE name = 'a'), 4, 'it ran the budget: 4 trials');
SELECT is((SELECT array_agg(trial ORDER BY trial) FROM ml_tune_trials WHERE tune_id = (SELECT (result ->> 'tune_id')::bigint FROM res WHERE name = 'a')),
          ARRAY[1, 2, 3, 4], 'every trial is a row of ml_tune_trials');
CREATE TEMP VIEW ta AS SELECT * FROM ml_tune_trials WHERE tune_id = (SELECT (result ->> 'tune_id')::bigint FROM res WHERE name = 'a');
SELECT ok((SELECT bool_and(status = 'completed' AND score > 0 AND cardinality(fold_scores) = 3 AND folds_used = 3) FROM ta),
          'each trial completed with a positive score and one score per fold (3)');
SELECT ok((SELECT bool_and((params ->> 'num_rounds')::int BETWEEN 30 AND 60 AND (params ->> 'max_depth')::int BETWEEN 2 AND 4
                           AND (params ->> 'eta')::float8 BETWEEN 0.1 AND 0.3 AND (params ->> 'lambda')::float8 BETWEEN 0.01 AND 10) FROM ta),
          'sampled params lie in the restricted space and the default ranges');
SELECT ok((SELECT bool_and(abs(score - rmse / baseline_rmse) < 1e-9) FROM ta), 'score = out-of-fold RMSE / zero-change RMSE');
SELECT ok((SELECT bool_and(rows_scored = 3 * (rows_used / 4) AND rows_used > 2400) FROM ta),
          'scored over every row of the 3 test chunks (pooled), all samples of the window used');
SELECT is((SELECT (result ->> 'best_score')::float8 FROM res WHERE name = 'a'), (SELECT min(score) FROM ta), 'the best trial has the lowest score');
SELECT is((SELECT result -> 'best_params' FROM res WHERE name = 'a'), (SELECT params FROM ta WHERE is_best), 'its params are the run''s best_params');
SELECT ok((SELECT min(score) < 1 FROM ta), 'on a learnable signal the best beats zero change');
SELECT is((SELECT row(status, trials_done, trials_planned, best_trial)::text FROM ml_tune_runs WHERE tune_id = (SELECT (result ->> 'tune_id')::bigint FROM res WHERE name = 'a')),
          (SELECT row('completed', 4, 4, (result ->> 'best_trial')::int)::text FROM res WHERE name = 'a'), 'ml_tune_runs: status, trials, best');
SELECT is((SELECT count(*) FROM ml_progress WHERE operation = 'tune'), 0::bigint, 'no progress row is left behind');
SELECT is((SELECT checkpoint_type || ' ' || (state_data ->> 'trials_done') FROM recoveryState
            WHERE service_name = 'ml_tuning' AND operation_id = 'tune ' || (SELECT result ->> 'tune_id' FROM res WHERE name = 'a')
            ORDER BY id DESC LIMIT 1), 'success 4', 'recoveryState: the run''s last checkpoint (ml_tuning) is success after 4 trials');

-- ---- deterministic for a seed ----------------------------------------------------------------
SELECT lives_ok($$SELECT pg_temp.tune('b', 4, (SELECT opts FROM cfg))$$, 'the same request again (a new run: the first one completed)');
SELECT isnt((SELECT result ->> 'tune_id' FROM res WHERE name = 'b'), (SELECT result ->> 'tune_id' FROM res WHERE name = 'a'), 'a new tune_id');
SELECT is((SELECT array_agg(row(trial, params, score, fold_scores)::text ORDER BY trial) FROM ml_tune_trials
            WHERE tune_id = (SELECT (result ->> 'tune_id')::bigint FROM res WHERE name = 'b')),
          (SELECT array_agg(row(trial, params, score, fold_scores)::text ORDER BY trial) FROM ta),
          'same seed: the same params and the same scores, trial by trial');
SELECT lives_ok($$SELECT pg_temp.tune('c', 2, jsonb_set((SELECT opts FROM cfg), '{seed}', '8'))$$, 'another seed');
SELECT isnt((SELECT params FROM ml_tune_trials WHERE tune_id = (SELECT (result ->> 'tune_id')::bigint FROM res WHERE name = 'c') AND trial = 1),
            (SELECT params FROM ta WHERE trial = 1), 'another seed samples other params');

-- ---- successive halving ------------------------------------------------------------------------
SELECT lives_ok($$SELECT pg_temp.tune('h', 5, jsonb_set((SELECT opts FROM cfg), '{method}', '"halving"'))$$, 'successive halving, budget 5');
CREATE TEMP VIEW th AS SELECT * FROM ml_tune_trials WHERE tune_id = (SELECT (result ->> 'tune_id')::bigint FROM res WHERE name = 'h');
SELECT is((SELECT array_agg(row(rung, round(resource::numeric, 4))::text ORDER BY trial) FROM th),
          ARRAY['(0,0.3333)', '(0,0.3333)', '(0,0.3333)', '(0,0.3333)', '(1,1.0000)'],
          'rungs: 4 configurations on the most recent third, the best one on the whole window (eta 3)');
SELECT is((SELECT config FROM th WHERE rung = 1), (SELECT config FROM th WHERE rung = 0 ORDER BY score, trial LIMIT 1),
          'the last rung runs the best configuration of rung 0');
SELECT ok((SELECT bool_and(rows_used BETWEEN 800 AND 840) FROM th WHERE rung = 0), 'rung 0 trials use a third of the samples');
SELECT is((SELECT best_trial FROM ml_tune_runs WHERE tune_id = (SELECT (result ->> 'tune_id')::bigint FROM res WHERE name = 'h')), 5,
          'the best trial is the one of the last rung');
SELECT lives_ok($$SELECT pg_temp.tune('r', 2, jsonb_set((SELECT opts FROM cfg), '{scheme}', '"rolling"'))$$, 'rolling folds');
SELECT is((SELECT (SELECT fold_scores[1] FROM ml_tune_trials WHERE tune_id = (SELECT (result ->> 'tune_id')::bigint FROM res WHERE name = 'r') AND trial = 1)),
          (SELECT fold_scores[1] FROM ta WHERE trial = 1), 'rolling: the first fold is the expanding one''s');

-- ---- lstm ------------------------------------------------------------------------------------
SELECT lives_ok($$SELECT pg_temp.tune('l', 1, '{"train": {"windowSize": 1200, "maxEpochs": 2, "batchSize": 256}, "folds": 2,
                                                "space": {"hiddenSize": 4, "sequenceLength": 5, "numLayers": 1}}', 'lstm')$$, 'an lstm tune (one small trial)');
SELECT is((SELECT status || ' ' || (params ->> 'hiddenSize') FROM ml_tune_trials WHERE tune_id = (SELECT (result ->> 'tune_id')::bigint FROM res WHERE name = 'l')),
          'completed 4', 'its trial completed with the fixed hiddenSize');

-- ---- ml_train takes the tuned params -------------------------------------------------------------
CREATE TEMP TABLE m AS SELECT * FROM ml_train('BTCUSDT', 5, 'xgboost', '{"params": "tuned", "windowSize": 2500}');
SELECT is((SELECT row(hyperparameters -> 'max_depth', hyperparameters -> 'eta', hyperparameters -> 'num_rounds', hyperparameters -> 'lambda')::text FROM m),
          (SELECT row(best_params -> 'max_depth', best_params -> 'eta', best_params -> 'num_rounds', best_params -> 'lambda')::text FROM ml_tune_runs
            WHERE model_type = 'xgboost' AND status = 'completed' ORDER BY finished_at DESC, tune_id DESC LIMIT 1),
          'ml_train(options => {"params": "tuned"}) trains with the latest completed tune''s best params');
SELECT throws_ok($$SELECT ml_train('BTCUSDT', 15, 'xgboost', '{"params": "tuned"}')$$, '22023',
                 'no completed ml_tune for BTCUSDT horizon 15 model_type xgboost', 'tuned params without a tune: error');
SELECT throws_ok($$SELECT ml_train('BTCUSDT', 5, 'xgboost', '{"params": "best"}')$$, '22023',
                 'option params = "best" is not supported', 'another params value: error');

-- ---- bad input: clear errors, nothing stored ------------------------------------------------------
CREATE TEMP TABLE before AS SELECT (SELECT count(*) FROM ml_tune_runs) AS runs, (SELECT count(*) FROM ml_tune_trials) AS trials;
SELECT throws_ok($$CALL ml_tune('BTCUSDT', 5, 'xgboost', 0)$$, '22023', 'budget = 0 is out of range', 'budget 0');
SELECT throws_ok($$CALL ml_tune('BTCUSDT', 5, 'xgboost', -1)$$, '22023', 'budget = -1 is out of range', 'budget -1');
SELECT throws_ok($$CALL ml_tune('BTCUSDT', 5, 'xgboost', 501)$$, '22023', 'budget = 501 is out of range', 'budget over the cap (500)');
SELECT throws_ok($$CALL ml_tune('BTCUSDT', 5, 'forest', 3)$$, '22023', NULL, 'unknown model type');
SELECT throws_ok($$CALL ml_tune('BTCUSDT', 5, 'ensemble', 3)$$, '22023', 'model_type ensemble cannot be tuned', 'ensemble');
SELECT throws_ok($$CALL ml_tune('BTCUSDT', 5, 'xgboost', 3, '{"space": {"depth": [2, 3]}}')$$, '22023',
                 'unknown search-space key "depth" for model_type xgboost', 'unknown space key');
SELECT throws_ok($$CALL ml_tune('BTCUSDT', 5, 'xgboost', 3, '{"space": {"eta": [0.5, 2]}}')$$, '22023',
                 'option space.eta = 2 is out of range', 'a range outside the option spec');
SELECT throws_ok($$CALL ml_tune('BTCUSDT', 5, 'xgboost', 3, '{"method": "grid"}')$$, '22023', 'unknown method "grid" for ml_tune', 'unknown method');
SELECT throws_ok($$CALL ml_tune('BTCUSDT', 5, 'xgboost', 3, '{"folds": 11}')$$, '22023', 'option folds = 11 is out of range', 'folds out of range');
SELECT throws_ok($$CALL ml_tune('ETHUSDT', 5, 'xgboost', 3)$$, '22000', 'no samples with a target for ETHUSDT horizon 5 (feature set 1)', 'a symbol without samples');
SELECT is((SELECT row((SELECT count(*) FROM ml_tune_runs), (SELECT count(*) FROM ml_tune_trials))::text), (SELECT row(runs, trials)::text FROM before),
          'the refused calls stored nothing');

SELECT * FROM finish();
ROLLBACK;
