-- LSTM and ensemble through ml_train / ml_forecast: registry rules, members, weights, forecasts,
-- divergence, bad input.
BEGIN;
SET client_min_messages = warning;
SELECT plan(47);

-- 3000 minutes of a noisy random walk with a weak momentum signal
SELECT setseed(0.29);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-01-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
FROM (SELECT i, 50000 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 + 0.0003 * sin(i / 40.0) AS r FROM generate_series(0, 2999) i) x) y;
SELECT ok(ml_build_samples('BTCUSDT', 15) > 2900, 'samples built');

-- no lstm yet: an ensemble whose lstm member cannot be trained is refused (and leaves nothing)
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'ensemble', '{"lstm": {"sequenceLength": 1000}}')$$,
                   'too few sequences of 1000 contiguous minutes%', 'an ensemble whose lstm member cannot be trained is refused clearly');
SELECT is((SELECT count(*) FROM mlTrainingBatches), 0::bigint, 'the refused ensemble left no member behind');

-- LSTM: small and quick here; defaults are documented in docs/lstm.md
CREATE TEMP TABLE l1 AS SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 6}');
SELECT alike((SELECT batch_id::text FROM l1), 'lstm-BTCUSDT-h15-%', 'an lstm batch is named lstm-<symbol>-h<horizon>-<id>');
SELECT is((SELECT model_type::text FROM l1), 'lstm', 'registered as model_type lstm');
SELECT is((SELECT substr(model, 1, 4) FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM l1)), '\x434d4c4c'::bytea,
          'its bytes are the versioned LSTM format (magic CMLL) stored in the database');
SELECT ok((SELECT (hyperparameters->>'sequence_length')::int = 10 AND (hyperparameters->>'hidden_size')::int = 8
                  AND (hyperparameters->>'epochs_trained')::int BETWEEN 1 AND 6 FROM l1), 'options and epochs recorded');
SELECT ok((SELECT validation_samples BETWEEN 100 AND 120 AND training_samples > 300 AND rmse > 0 AND baseline_rmse > 0 FROM l1),
          'validation metrics beside the zero-change baseline');
SELECT is((SELECT is_production FROM l1), (SELECT skill_p_value < 0.05 AND rmse < baseline_rmse FROM l1),
          'the first lstm is production exactly when it shows skill out of time and beats the zero-change baseline');
SELECT ok((SELECT hyperparameters->>'train_last_bar' < hyperparameters->>'valid_first_bar' FROM l1), 'training rows end before validation rows');
CREATE TEMP TABLE l2 AS SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 6}');
SELECT is((SELECT md5(model) FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM l2)),
          (SELECT md5(model) FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM l1)),
          'same data and options: the same LSTM bit for bit');
SELECT is((SELECT is_production FROM l2), false, 'an identical model does not replace the production one (not strictly better)');

-- LSTM bad input
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'lstm', '{"hiddenSize": 0}')$$, 'option hiddenSize = 0 is out of range', 'hiddenSize 0 is refused');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'lstm', '{"learningRate": 0}')$$, 'option learningRate = 0 is out of range', 'learningRate 0 is refused');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'lstm', '{"learningRate": -0.1}')$$, 'option learningRate = -0.1 is out of range', 'a negative learningRate is refused');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'lstm', '{"numLayers": 3}')$$, 'option numLayers = 3 is out of range', 'three layers are refused');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'lstm', '{"hiddenSize": "big"}')$$, 'option hiddenSize must be an integer%', 'a string for a number');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'lstm', '{"sequenceLength": 1000}')$$,
                   'too few sequences of 1000 contiguous minutes%', 'a sequence longer than the window allows is refused, with counts');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'lstm', '{"batchSize": 0}')$$, '%batchSize%', 'batchSize 0 is refused (config rule)');

-- divergence: a non-finite loss at epoch 3 stops training, is logged, and changes nothing
SELECT ml_log_flush();
CREATE TEMP TABLE mark AS SELECT coalesce(max(id), 0) AS id FROM systemLogs;
SET cryptoml.test_lstm_diverge_at_epoch = 3;
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'lstm', '{"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 6}')$$,
                   'lstm training for BTCUSDT horizon 15 diverged at epoch 3', 'a diverged run is an error naming the epoch');
RESET cryptoml.test_lstm_diverge_at_epoch;
SELECT is((SELECT count(*) FROM mlTrainingBatches WHERE model_type = 'lstm'), 2::bigint, 'the diverged run registered nothing');
SELECT ok(ml_log_flush(), 'flushed');
SELECT ok((SELECT count(*) = 1 FROM systemLogs WHERE id > (SELECT id FROM mark) AND category = 'ml_training' AND subcategory = 'diverged' AND level = 'error'
             AND message LIKE 'BTCUSDT h15: lstm training diverged at epoch 3%'), 'the divergence is in systemLogs (it survives the error)');

-- ensemble: reuses the lstm (fresh), trains the missing xgboost member, learns weights
CREATE TEMP TABLE e1 AS SELECT * FROM ml_train('BTCUSDT', 15, 'ensemble', '{"lstm": {"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 6}}');
SELECT alike((SELECT batch_id::text FROM e1), 'ens-BTCUSDT-h15-%', 'an ensemble batch is named ens-<symbol>-h<horizon>-<id>');
SELECT is((SELECT count(*) FROM mlTrainingBatches WHERE model_type = 'xgboost'), 1::bigint, 'the missing xgboost member was trained');
SELECT is((SELECT count(*) FROM mlTrainingBatches WHERE model_type = 'lstm'), 2::bigint, 'the fresh lstm was reused, not retrained');
SELECT is((SELECT count(*) FROM cryptoml_internal.ensemble_members WHERE ensemble_batch_id = (SELECT batch_id FROM e1)), 2::bigint,
          'two members recorded');
SELECT ok((SELECT abs(sum(weight) - 1) < 1e-9 AND bool_and(weight >= 0) FROM cryptoml_internal.ensemble_members
            WHERE ensemble_batch_id = (SELECT batch_id FROM e1)), 'weights are >= 0 and sum to 1');
SELECT is((SELECT hyperparameters->>'weights_from' FROM e1), 'learned: inverse validation MSE', 'weights learned when none are configured');
SELECT ok((SELECT validation_samples + training_samples BETWEEN 100 AND 120 FROM e1),
          'half the validation rows fit the weights, the other half evaluate');

-- configured weights
SELECT lives_ok($$SELECT ml_config_set('inference.ensembleWeights', '{"xgboost": 3, "lstm": 1}')$$, 'set ensembleWeights');
CREATE TEMP TABLE e2 AS SELECT * FROM ml_train('BTCUSDT', 15, 'ensemble', '{"lstm": {"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 6}}');
SELECT is((SELECT array_agg(round(weight::numeric, 6) ORDER BY model_type DESC) FROM cryptoml_internal.ensemble_members
            WHERE ensemble_batch_id = (SELECT batch_id FROM e2)), ARRAY[0.75, 0.25]::numeric[], 'configured weights, normalized');
SELECT lives_ok($$SELECT ml_config_reset('inference.ensembleWeights')$$, 'reset ensembleWeights');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'ensemble', '{"weights": {"xgboost": -1, "lstm": 1}}')$$, '%ensembleWeights%',
                   'negative weights are refused');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'ensemble', '{"weights": {"xgboost": 0, "lstm": 0}}')$$, '%ensembleWeights%',
                   'weights summing to 0 are refused');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'ensemble', '{"lstm": {"windowSize": 2000}}')$$,
                   'option lstm.windowSize = 2000 differs from the ensemble''s windowSize (600)', 'a member window other than the ensemble''s is refused');
SELECT throws_like($$SELECT ml_train('BTCUSDT', 15, 'ensemble', '{"eta": 0.1}')$$, 'unknown option "eta" for model_type ensemble',
                   'member options belong in the member''s object');

-- registry rules and forecasts
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM e1))$$, 'deploy the first ensemble');
SELECT is((SELECT count(*) FROM mlTrainingBatches WHERE model_type = 'ensemble' AND is_production), 1::bigint, 'one production ensemble');
SELECT ok((SELECT model_version LIKE (SELECT batch_id FROM e1) || ' = xgb-BTCUSDT-h15-% x 0.% + lstm-BTCUSDT-h15-% x 0.%'
             AND confidence BETWEEN 0 AND 100 FROM ml_forecast('BTCUSDT', 15)),
          'ml_forecast uses the production ensemble; model_version names it and its weighted members');
SELECT throws_ok($$DELETE FROM mlTrainingBatches WHERE batch_id = (SELECT member_batch_id FROM cryptoml_internal.ensemble_members
                    WHERE ensemble_batch_id = (SELECT batch_id FROM e1) AND model_type = 'lstm')$$, '23503', NULL,
                 'a member of an ensemble cannot be deleted');
SELECT lives_ok($$DELETE FROM mlTrainingBatches WHERE batch_id = (SELECT batch_id FROM e2)$$, 'an ensemble itself can be deleted');
SELECT is((SELECT count(*) FROM cryptoml_internal.ensemble_members WHERE ensemble_batch_id = (SELECT batch_id FROM e2)), 0::bigint,
          'its member rows go with it');

-- the lstm alone in production: ml_forecast needs its last 10 minutes without a gap
UPDATE mlTrainingBatches SET is_production = false WHERE model_type <> 'lstm';
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM l1))$$, 'deploy the lstm');
SELECT is((SELECT model_version FROM ml_forecast('BTCUSDT', 15)), (SELECT batch_id::text FROM l1), 'ml_forecast uses the production lstm');
DELETE FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp = (SELECT max(timestamp) - interval '4 minutes' FROM rollingChartData);
-- (with the prediction cache off: a cached forecast of the same latest bar would be returned as is)
SELECT lives_ok($$SELECT ml_config_set('inference.predictionCache', 'false')$$, 'prediction cache off');
SELECT throws_like($$SELECT * FROM ml_forecast('BTCUSDT', 15)$$, 'incomplete features for BTCUSDT: model lstm-% needs the last 10 minutes without a gap, the latest bar has 4',
                   'a gap inside the lstm''s sequence is an incomplete-features error');

SELECT * FROM finish();
ROLLBACK;
