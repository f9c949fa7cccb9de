-- ml_train (XGBoost), the model registry, ml_deploy and ml_rollback.
BEGIN;
SET client_min_messages = warning;
SELECT plan(34);

-- 3000 minutes of a noisy random walk with a weak momentum signal
SELECT setseed(0.17);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-01-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
FROM (SELECT i, 50000 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 + 0.0003 * sin(i / 40.0) AS r FROM generate_series(0, 2999) i) x) y;
SELECT ok(ml_build_samples('BTCUSDT', 15) > 2900, 'samples built');

CREATE TEMP TABLE m1 AS SELECT * FROM ml_train('BTCUSDT', 15);
SELECT is((SELECT training_samples FROM m1), 465, 'window 600: 600 samples, 120 validate, 15 embargoed, 465 train');
SELECT is((SELECT validation_samples FROM m1), 120, 'validationSplit 0.2 of 600');
SELECT is((SELECT model_path::text FROM m1), 'db://models/' || (SELECT batch_id FROM m1), 'model_path names the row holding the bytes');
SELECT ok((SELECT length(model) > 1000 FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM m1)), 'model bytes stored in the database');
SELECT ok((SELECT rmse > 0 AND mae > 0 AND accuracy BETWEEN 0 AND 1 AND baseline_rmse > 0 FROM m1), 'metrics and the zero-change baseline recorded');
SELECT is((SELECT is_production FROM m1), (SELECT skill_p_value < 0.05 AND rmse < baseline_rmse FROM m1),
          'first model is production exactly when it shows skill out of time and beats the zero-change baseline');
SELECT ok((SELECT (hyperparameters->>'rounds_trained')::int BETWEEN 1 AND 300 AND hyperparameters ? 'eta' FROM m1), 'hyperparameters and rounds stored');
SELECT is((SELECT feature_set_version FROM m1), 1, 'feature set version recorded');
SELECT ok((SELECT jsonb_array_length(calibration->'buckets') BETWEEN 1 AND 5 FROM cryptoml_internal.models
            WHERE batch_id = (SELECT batch_id FROM m1)), 'confidence calibration buckets stored with the model');
SELECT ok(ml_log_flush(), 'the logger has written everything this session queued');
SELECT ok((SELECT count(*) = 1 FROM systemLogs WHERE category = 'ml_training' AND message LIKE '%' || (SELECT batch_id FROM m1) || ' trained%'),
          'training logged with its promotion decision');

-- training reads feature_vector; samples without one have their jsonb converted: the same model
UPDATE mlTrainingSamples SET feature_vector = NULL WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15;
CREATE TEMP TABLE m1b AS SELECT * FROM ml_train('BTCUSDT', 15);
SELECT is((SELECT md5(m.model) FROM cryptoml_internal.models m JOIN m1b USING (batch_id)),
          (SELECT md5(m.model) FROM cryptoml_internal.models m JOIN m1 USING (batch_id)),
          'samples without feature_vector train the identical model (their jsonb is converted)');
UPDATE mlTrainingSamples SET feature_vector = cryptoml_internal.features_to_vector(features) WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15;

-- make sure there is a production model, then a second one only replaces it if better on the same rows
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM m1))$$, 'ml_deploy');
CREATE TEMP TABLE m2 AS SELECT * FROM ml_train('BTCUSDT', 15, options => '{"max_depth": 2, "eta": 0.3}');
SELECT is((SELECT count(*) FROM mlTrainingBatches WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15 AND is_production), 1::bigint,
          'exactly one production model per (symbol, horizon, type)');
SELECT ok((SELECT (m2.is_production) = (SELECT NOT b.is_production FROM mlTrainingBatches b WHERE b.batch_id = m1.batch_id) FROM m1, m2),
          'the first model is demoted exactly when the second is promoted');
SELECT throws_ok($$UPDATE mlTrainingBatches SET is_production = true WHERE symbol = 'BTCUSDT'$$, '23505', NULL,
                 'the database itself refuses two production models');

-- deploy and roll back
SELECT is((SELECT batch_id::text FROM ml_deploy((SELECT batch_id FROM m2))), (SELECT batch_id::text FROM m2), 'ml_deploy the second model');
SELECT is((SELECT batch_id::text FROM ml_rollback('BTCUSDT', 15)), (SELECT batch_id::text FROM m1), 'ml_rollback puts the first back');
SELECT is((SELECT batch_id::text FROM mlTrainingBatches WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15 AND is_production),
          (SELECT batch_id::text FROM m1), 'and it is the production model');
SELECT ok(ml_log_flush(), 'flushed again');
SELECT ok((SELECT count(*) >= 2 FROM systemLogs WHERE category = 'ml_training' AND subcategory = 'deploy'), 'switches logged');

-- bad input
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'svm')$$, 'unknown model_type "svm"', 'unknown model type');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'lstm', '{"max_depth": 3}')$$, 'unknown option "max_depth" for model_type lstm',
                   'an option of another model type is refused, naming the type');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 7)$$, 'horizon 7 is not a training horizon', 'horizon not in config');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, options => '{"windowsize": 600}')$$, 'unknown option "windowsize" for model_type xgboost', 'unknown option key');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, options => '{"eta": 0}')$$, '%eta%', 'eta out of range');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, options => '{"max_depth": 4294967302}')$$, 'option max_depth = 4294967302 is out of range',
                   'a max_depth beyond 32 bits is out of range (it trained depth 6)');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, options => '{"num_rounds": 1e400}')$$,
                   'option num_rounds = 1% (401 characters) is out of range', 'a number beyond a double names the option (was an internal error)');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, options => '{"windowSize": 30}')$$, 'too few samples for BTCUSDT horizon 15: % needed',
                   'too few samples: says how many exist and are needed');
-- 64 bytes changed inside the model (the issue's D9: the forecast changed silently under the same version)
UPDATE cryptoml_internal.models SET model = overlay(model PLACING decode(repeat('3f', 64), 'hex') FROM length(model) / 2 FOR 64)
 WHERE batch_id = (SELECT batch_id FROM m1);
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15)$$,
                   'the stored model bytes of % do not match the checksum recorded when they were stored',
                   'model bytes changed after training are refused at load (checksum recorded at training)');
-- bytes that match their checksum but are no model still give the loader's clear error
UPDATE cryptoml_internal.models SET model = '\x7b00'::bytea, model_sha256 = sha256('\x7b00'::bytea) WHERE batch_id = (SELECT batch_id FROM m1);
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15)$$, 'xgboost model:%', 'a corrupted production model is a clear error, not a crash');
UPDATE mlTrainingSamples SET feature_vector = feature_vector[1:3]
 WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15 AND bar_timestamp = (SELECT max(bar_timestamp) - interval '20 minutes' FROM mlTrainingSamples WHERE symbol = 'BTCUSDT');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15)$$, 'the feature_vector of the sample at % has 3 elements, 29 expected',
                   'a feature_vector of the wrong length is a clear error');
SELECT throws_like($$SELECT ml_deploy('no-such-batch')$$, 'unknown batch_id "no-such-batch"', 'ml_deploy of an unknown batch');

SELECT * FROM finish();
ROLLBACK;
