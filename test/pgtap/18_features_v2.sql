-- Feature set 2 in the database (issue 17): samples of set 2 built by ml_build_samples, live
-- features equal to the stored sample's (cross-market ones included), the arrival rule (a row is
-- built only once the other symbols' bars of the minute before are in, so the order of arrival
-- changes nothing), pending inputs at forecast time, set-1 models unchanged, training and
-- backtests by feature set with the ablation, bad input, per-backend state after a rollback.
BEGIN;
SET client_min_messages = error;
SELECT plan(55);

SELECT ml_config_set('symbols', '["BTCUSDT", "ETHUSDT", "SOLUSDT"]');
SELECT ml_config_set('inference.predictionCache', 'false');

-- Correlated random walks of 3 symbols: minutes 1200..2999 from 2021-03-01, plus 18:59-21:59 of the
-- week before (2021-02-23), which the seasonality group of the bars near T reads.
SELECT setseed(0.42);
CREATE TEMP TABLE gen AS
SELECT i, 0.002 * (random() - 0.5) AS m, 0.001 * (random() - 0.5) AS e1, 0.001 * (random() - 0.5) AS e2,
       0.001 * (random() - 0.5) AS e3
  FROM (SELECT generate_series(-7501, -7321) UNION ALL SELECT generate_series(1200, 2999)) g(i);
CREATE TEMP TABLE px AS
SELECT sym, '2021-03-01'::timestamp + make_interval(mins => i) AS ts, i, c, k
  FROM (SELECT i, 'BTCUSDT' AS sym, 3 AS k, 50000 * exp(sum(m + e1) OVER (ORDER BY i)) AS c FROM gen
        UNION ALL SELECT i, 'ETHUSDT', 5, 2000 * exp(sum(1.2 * m + e2) OVER (ORDER BY i)) FROM gen
        UNION ALL SELECT i, 'SOLUSDT', 7, 20 * exp(sum(1.5 * m + e3) OVER (ORDER BY i)) FROM gen) x;
CREATE FUNCTION pg_temp.load(syms text[], lo int, hi int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT sym, ts, round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8),
         round(c::numeric, 8), 10 + (i * k) % 9
    FROM px WHERE sym = ANY(syms) AND i BETWEEN lo AND hi ORDER BY ts, sym
$$;
-- T = 2021-03-02 20:00 (minute 2640): every symbol up to T
SELECT pg_temp.load('{BTCUSDT,ETHUSDT,SOLUSDT}', -9000, 2640);
ANALYZE rollingChartData;

-- ---- samples of set 2 ------------------------------------------------------------------------
SELECT lives_ok($$SELECT ml_config_set('features.featureSet', '2')$$, 'features.featureSet = 2');
SELECT is(ml_build_samples(NULL, 15), 3 * ((181 - 15) + (2641 - 1200 - 15))::bigint,
          'set 2: one sample per bar with a bar 15 minutes later, for the 3 symbols (no input pending)');
SELECT is((SELECT count(*) FROM mlTrainingSamples WHERE feature_set <> 2), 0::bigint, 'only set 2 was built');
SELECT is((SELECT count(DISTINCT metadata - 'indicator_params') FROM mlTrainingSamples), 1::bigint, 'one metadata for all samples');
SELECT is((SELECT metadata - 'indicator_params' FROM mlTrainingSamples LIMIT 1),
          '{"source": "ml_build_samples", "feature_set_version": 2, "leaders": ["BTCUSDT", "ETHUSDT"], "index_members": ["BTCUSDT", "ETHUSDT", "SOLUSDT"]}'::jsonb,
          'metadata records the feature set, the leaders and the index members');
SELECT ok((SELECT bool_and(array_length(feature_vector, 1) = 81 AND feature_vector = cryptoml_internal.features_to_vector(features, 2))
             FROM mlTrainingSamples), 'feature_vector: the 81 features of set 2 in their order, equal to the jsonb converted');
SELECT ok((SELECT (features->>'lead1_ret_1') IS NOT NULL AND (features->>'corr_index_60') IS NOT NULL
                  AND (features->>'tf60_ret_1') IS NOT NULL AND (features->>'rv_60') IS NOT NULL
                  AND (features->>'season_absret_now') IS NOT NULL
             FROM mlTrainingSamples WHERE symbol = 'SOLUSDT' AND bar_timestamp = '2021-03-02 19:45'),
          'a late sample has values in every group (cross-market, multi-timeframe, volatility, seasonality)');
SELECT is((SELECT (features->>'lead1_ret_1')::float8 FROM mlTrainingSamples WHERE symbol = 'SOLUSDT' AND bar_timestamp = '2021-03-02 19:45'),
          (SELECT 100 * (a.close::float8 / b.close::float8 - 1) FROM rollingChartData a, rollingChartData b
            WHERE a.symbol = 'BTCUSDT' AND b.symbol = 'BTCUSDT' AND a.timestamp = '2021-03-02 19:44' AND b.timestamp = '2021-03-02 19:43'),
          'lead1_ret_1 of 19:45 is BTCUSDT''s return of the minute before (19:43 -> 19:44): no bar of 19:45 is read');
SELECT is(ml_build_samples(NULL, 15), 0::bigint, 'idempotent');

-- live features at T, before any later bar exists (compared with the stored samples below)
CREATE TEMP TABLE live_t AS
SELECT s AS symbol, cryptoml_internal.latest_features(s, 2) AS f FROM unnest('{BTCUSDT,ETHUSDT,SOLUSDT}'::text[]) s;
SELECT is((SELECT count(*) FROM live_t, jsonb_object_keys(f)), 3 * 81::bigint, 'latest_features(symbol, 2): the 81 features');
SELECT ok((SELECT bool_and(f->>'lead2_ret_5' IS NOT NULL AND f->>'beta_lead1_240' IS NOT NULL) FROM live_t WHERE symbol <> 'ETHUSDT'),
          'live cross-market features have values');

-- ---- arrival order ---------------------------------------------------------------------------
-- SOLUSDT runs 20 minutes ahead, BTCUSDT 1 minute, ETHUSDT none: SOLUSDT's rows after T + 1 wait
SELECT pg_temp.load('{SOLUSDT}', 2641, 2660);
SELECT pg_temp.load('{BTCUSDT}', 2641, 2641);
SELECT throws_like($$SELECT cryptoml_internal.latest_features('SOLUSDT', 2)$$,
                   'the feature set 2 features of SOLUSDT at 2021-03-02 20:20:00 are pending: the bar of BTCUSDT, ETHUSDT for the minute before may still arrive',
                   'live: pending while the leaders'' bars of 20:19 may still arrive');
SELECT ok(ml_build_samples(NULL, 15) > 0, 'an incremental build while inputs are pending');
SELECT is((SELECT max(bar_timestamp) FROM mlTrainingSamples WHERE symbol = 'SOLUSDT'), '2021-03-02 20:01'::timestamp,
          'SOLUSDT''s rows whose cross-market inputs are pending are left for a later build (20:01 reads 20:00, which every symbol has)');
-- the leaders' bars arrive late, ETHUSDT's newest first within the statement order of minutes
SELECT pg_temp.load('{ETHUSDT}', 2641, 2660);
SELECT pg_temp.load('{BTCUSDT}', 2642, 2660);
SELECT ok(ml_build_samples(NULL, 15) > 0, 'the rows left are built once the inputs arrived');
CREATE TEMP TABLE arrived AS SELECT symbol, bar_timestamp, features, feature_vector FROM mlTrainingSamples;
DELETE FROM mlTrainingSamples;
SELECT ok(ml_build_samples(NULL, 15) > 0, 'the same bars built at once');
SELECT is((SELECT count(*) FROM arrived a JOIN mlTrainingSamples s USING (symbol, bar_timestamp)
            WHERE s.features = a.features AND s.feature_vector = a.feature_vector),
          (SELECT count(*) FROM mlTrainingSamples),
          'arrival order changes nothing: every sample built at once equals the one built as the bars arrived');
SELECT is((SELECT count(*) FROM arrived), (SELECT count(*) FROM mlTrainingSamples), '... and there are as many');
SELECT is((SELECT count(*) FROM live_t l JOIN mlTrainingSamples s ON s.symbol = l.symbol AND s.bar_timestamp = '2021-03-02 20:00'
            WHERE s.features = l.f), 3::bigint,
          'live features of T (computed before any later bar) equal the stored samples of T, cross-market ones included');
SELECT is((SELECT l.f->'corr_lead1_60' FROM live_t l WHERE l.symbol = 'SOLUSDT'),
          (SELECT features->'corr_lead1_60' FROM mlTrainingSamples WHERE symbol = 'SOLUSDT' AND bar_timestamp = '2021-03-02 20:00'),
          '... e.g. corr_lead1_60');

-- ---- training and forecasts of set 2 ----------------------------------------------------------
CREATE TEMP TABLE m2 AS SELECT * FROM ml_train('SOLUSDT', 15, 'xgboost', '{"featureSet": 2, "windowSize": 2000, "num_rounds": 30}');
SELECT is((SELECT feature_set_version FROM m2), 2, 'ml_train featureSet 2: the model is of set 2');
SELECT is((SELECT jsonb_build_object('l', hyperparameters->'leaders', 'i', hyperparameters->'index_members') FROM m2),
          '{"l": ["BTCUSDT", "ETHUSDT"], "i": ["BTCUSDT", "ETHUSDT", "SOLUSDT"]}'::jsonb, 'it records the leaders and index members');
SELECT is((SELECT jsonb_array_length(feature_names) || '/' || feature_set_version FROM cryptoml_internal.models
            WHERE batch_id = (SELECT batch_id FROM m2)), '81/2', 'its stored feature names are set 2''s');
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM m2))$$, 'deployed by hand');
CREATE TEMP TABLE f1 AS SELECT * FROM ml_forecast('SOLUSDT', 15);
SELECT is((SELECT forecast_at FROM f1), '2021-03-02 20:20'::timestamp, 'ml_forecast with the set-2 model');
SELECT is((SELECT round(raw_change::numeric, 8) FROM f1),   -- stated as stored: numeric(15,8)
          (SELECT round(p[1]::numeric, 8) FROM cryptoml_internal.model_predict((SELECT batch_id FROM m2),
             cryptoml_internal.features_to_vector(cryptoml_internal.latest_features('SOLUSDT', 2), 2)) p),
          'the model predicted from the live set-2 vector');
-- SOLUSDT's bars of 20:21 and 20:22 arrive before the leaders' bar of 20:21 (the minute before 20:22)
SELECT pg_temp.load('{SOLUSDT}', 2661, 2662);
SELECT throws_ok($$SELECT * FROM ml_forecast('SOLUSDT', 15)$$, '55000',
                 'the feature set 2 features of SOLUSDT at 2021-03-02 20:22:00 are pending: the bar of BTCUSDT, ETHUSDT for the minute before may still arrive',
                 'pending inputs: ml_forecast raises 55000 naming the symbols and the minute');
SELECT lives_ok($$SELECT ml_forecast_all('SOLUSDT')$$, 'ml_forecast_all goes on past a pending forecast');
SELECT is((SELECT count(*) FILTER (WHERE forecast_type = 'price_direction' AND forecast_horizon = 15) || ' ' ||
                  bool_or(forecast_type <> 'price_direction')
             FROM persistentForecasts WHERE symbol = 'SOLUSDT' AND bar_timestamp = '2021-03-02 20:22'), '0 true',
          '... it writes no direction forecast of the pending bar at horizon 15, and the other forecasts');
SELECT pg_temp.load('{BTCUSDT,ETHUSDT}', 2661, 2661);
CREATE TEMP TABLE f2 AS SELECT * FROM ml_forecast('SOLUSDT', 15);
SELECT is((SELECT forecast_at FROM f2), '2021-03-02 20:22'::timestamp, 'the forecast is made once the leaders'' bars of 20:21 arrived');

-- per-backend state after errors and rollbacks caught by a savepoint
SAVEPOINT s1;
SELECT pg_temp.load('{BTCUSDT,ETHUSDT}', 2662, 2662);
SELECT pg_temp.load('{SOLUSDT}', 2663, 2663);
SELECT is((SELECT forecast_at FROM ml_forecast('SOLUSDT', 15)), '2021-03-02 20:23'::timestamp, 'a forecast of 20:23 inside a savepoint');
ROLLBACK TO SAVEPOINT s1;
SAVEPOINT s2;
SELECT pg_temp.load('{SOLUSDT}', 2663, 2664);
SELECT throws_ok($$SELECT * FROM ml_forecast('SOLUSDT', 15)$$, '55000', NULL, 'pending inside a savepoint');
ROLLBACK TO SAVEPOINT s2;
SELECT is((SELECT row(forecast_at, raw_change)::text FROM ml_forecast('SOLUSDT', 15)), (SELECT row(forecast_at, raw_change)::text FROM f2),
          'after the rollbacks: the forecast of 20:22 again, from the same features (no cached vector of a rolled-back bar)');
SAVEPOINT s3;
DELETE FROM rollingChartData WHERE symbol = 'BTCUSDT';
SELECT throws_ok($$SELECT * FROM ml_forecast('SOLUSDT', 15)$$, 'P0002',
                 'feature set 2 of SOLUSDT reads the bars of BTCUSDT (a cross-market leader), which has no bars at all',
                 'a set-2 model whose leader has no bars at all: a clear error');
ROLLBACK TO SAVEPOINT s3;

-- ---- a set-1 model keeps forecasting under set 2 -----------------------------------------------
SELECT lives_ok($$SELECT ml_config_set('features.featureSet', '1')$$, 'back to set 1 to build its samples');
SELECT ok(ml_build_samples(NULL, 15) > 0, 'set-1 samples beside the set-2 ones');
SELECT lives_ok($$SELECT ml_config_set('features.featureSet', '2')$$, 'set 2 configured again');
CREATE TEMP TABLE m1 AS SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"featureSet": 1, "windowSize": 2000, "num_rounds": 30}');
SELECT is((SELECT feature_set_version FROM m1), 1, 'option featureSet 1 under config set 2: a set-1 model');
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM m1))$$, 'deployed');
SELECT is((SELECT model_version || ' ' || forecast_at FROM ml_forecast('BTCUSDT', 15)),
          (SELECT batch_id FROM m1) || ' 2021-03-02 20:21:00', 'the set-1 model forecasts while set 2 is configured');

-- ---- backtests: feature set and ablation ---------------------------------------------------------
CREATE TEMP TABLE bt AS
SELECT 'v1' AS k, run_id FROM ml_backtest('SOLUSDT', 15, 'xgboost', NULL, NULL,
  '{"featureSet": 1, "retrainEvery": 1440, "windowSize": 1000, "numRounds": 20, "calibrationFolds": 1}') WHERE strategy = 'backtest'
UNION ALL
SELECT 'v2-all', run_id FROM ml_backtest('SOLUSDT', 15, 'xgboost', NULL, NULL,
  '{"featureSet": 2, "excludeGroups": ["multi_timeframe", "cross_market", "volatility", "seasonality"], "retrainEvery": 1440, "windowSize": 1000, "numRounds": 20, "calibrationFolds": 1}')
 WHERE strategy = 'backtest'
UNION ALL
SELECT 'v2-cross', run_id FROM ml_backtest('SOLUSDT', 15, 'xgboost', NULL, NULL,
  '{"excludeGroups": ["cross_market"], "retrainEvery": 1440, "windowSize": 1000, "numRounds": 20, "calibrationFolds": 1}') WHERE strategy = 'backtest';
SELECT is((SELECT count(DISTINCT run_id) FROM bt), 3::bigint, 'three backtests (set 1, set 2 without every group, set 2 without cross_market)');
SELECT ok((SELECT count(*) FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM bt WHERE k = 'v1')) > 100, 'the set-1 backtest predicts');
-- (set 1's samples reach 2 bars further: set 2's were last built while SOLUSDT ran ahead)
SELECT is((SELECT count(*) FILTER (WHERE a.raw_change = b.raw_change) || ' of ' || count(*)
             FROM mlBacktestPredictions a JOIN mlBacktestPredictions b USING (bar_timestamp)
            WHERE a.run_id = (SELECT run_id FROM bt WHERE k = 'v1') AND b.run_id = (SELECT run_id FROM bt WHERE k = 'v2-all')),
          (SELECT count(*) || ' of ' || count(*) FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM bt WHERE k = 'v2-all')),
          'set 2 with every group excluded predicts exactly what set 1 predicts, bar by bar: excluded columns are missing to the model');
SELECT ok((SELECT count(*) FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM bt WHERE k = 'v2-cross')) > 100,
          'excludeGroups ["cross_market"] with the configured set 2');

-- ---- an ensemble of set 2: its members read the same set ----------------------------------------
CREATE TEMP TABLE e2 AS SELECT * FROM ml_train('SOLUSDT', 15, 'ensemble',
  '{"featureSet": 2, "windowSize": 1500, "xgboost": {"num_rounds": 10}, "lstm": {"hiddenSize": 4, "maxEpochs": 2, "sequenceLength": 5}}');
SELECT is((SELECT feature_set_version || ' ' || (hyperparameters->'leaders')::text FROM e2), '2 ["BTCUSDT", "ETHUSDT"]',
          'an ensemble of set 2 records its set and leaders');
SELECT is((SELECT string_agg(b.model_type || ':' || b.feature_set_version || ':' || (b.hyperparameters->'leaders')::text, ' ' ORDER BY b.model_type)
             FROM cryptoml_internal.ensemble_members e JOIN mlTrainingBatches b ON b.batch_id = e.member_batch_id
            WHERE e.ensemble_batch_id = (SELECT batch_id FROM e2)),
          'lstm:2:["BTCUSDT", "ETHUSDT"] xgboost:2:["BTCUSDT", "ETHUSDT"]', '... and so do both its members');

-- ---- bad input ---------------------------------------------------------------------------------
SELECT throws_ok($$SELECT ml_train('SOLUSDT', 15, 'xgboost', '{"featureSet": 3}')$$, '22023', 'option featureSet = 3 is out of range',
                 'ml_train: featureSet 3');
SELECT throws_ok($$SELECT ml_config_set('features.featureSet', '0')$$, '22023', NULL, 'config features.featureSet 0');
SELECT throws_ok($$SELECT cryptoml_internal.latest_features('SOLUSDT', 3)$$, '22023', 'unknown feature set 3 (argument feature_set)',
                 'latest_features: feature set 3');
SELECT throws_ok($$SELECT * FROM ml_backtest('SOLUSDT', 15, 'xgboost', NULL, NULL, '{"excludeGroups": ["volatility", "vibes"]}')$$,
                 '22023', 'unknown feature group "vibes" in option excludeGroups', 'ml_backtest: an unknown group is named');
SELECT throws_ok($$SELECT * FROM ml_backtest('SOLUSDT', 15, 'xgboost', NULL, NULL, '{"featureSet": 1, "excludeGroups": ["volatility"]}')$$,
                 '22023', 'option excludeGroups needs featureSet 2, got featureSet 1', 'ml_backtest: groups of set 1');
SELECT throws_like($$SELECT ml_config_set('features.crossMarketSymbols', '["BTCUSDT", "DOGEUSDT"]')$$,
                   '%crossMarketSymbols names "DOGEUSDT", which is not in symbols%', 'a cross-market symbol not in config');
SELECT lives_ok($$SELECT ml_config_set('features.crossMarketSymbols', '["ETHUSDT"]')$$, 'the leaders changed');
SELECT throws_like($$SELECT ml_build_samples('SOLUSDT', 15)$$, '%were built with other cross-market symbols than the configuration names now',
                   'set-2 samples are never mixed: a build after the leaders changed is refused');
SELECT ml_config_set('features.crossMarketSymbols', '["BTCUSDT", "ETHUSDT"]');
SELECT ml_config_set('symbols', '["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]');
SELECT throws_ok($$SELECT ml_build_samples('SOLUSDT', 5)$$, 'P0002',
                 'feature set 2 of SOLUSDT reads the bars of XRPUSDT (an index member), which has no bars at all',
                 'an index member without bars: a clear error');

SELECT * FROM finish();
ROLLBACK;
