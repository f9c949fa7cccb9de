-- pgTAP: cryptoml configuration. Defaults equal the seed (shared/seed/ml-infrastructure.md), every
-- invalid value is rejected with SQLSTATE 22023 (key + value in the message, rule in the detail) and
-- leaves the configuration as it was, set/reset/reset_all/keys behave as documented (docs/config.md).
-- One transaction, rolled back: no configuration change persists. (The audit entries ml_config_set
-- writes to systemLogs do persist: the log is autonomous by design.)
BEGIN;
SET client_min_messages = warning;
SELECT plan(405);

-- Error detail of a statement (NULL when it does not fail): the rule of a rejected value.
CREATE FUNCTION pg_temp.error_detail(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  EXECUTE sql;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN d;
END $$;
CREATE FUNCTION pg_temp.error_hint(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
  EXECUTE sql;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
  RETURN h;
END $$;
CREATE TEMP TABLE log_mark AS SELECT coalesce(max(id), 0) AS id FROM systemLogs;

-- ===========================================================================================
-- Defaults
-- ===========================================================================================
SELECT is_empty('SELECT path FROM cryptoml_internal.config', 'no configuration override is stored at the start');
SELECT is(ml_config_get('system.environment'), '"development"'::jsonb, 'system.environment defaults to "development"');
SELECT is(ml_config_get('system.logLevel'), '"info"'::jsonb, 'system.logLevel defaults to "info"');
SELECT is(ml_config_get('system.enableRecovery'), 'true'::jsonb, 'system.enableRecovery defaults to true');
SELECT is(ml_config_get('system.maxConcurrentWorkers'), '4'::jsonb, 'system.maxConcurrentWorkers defaults to 4');
SELECT is(ml_config_get('data.retentionDays'), '30'::jsonb, 'data.retentionDays defaults to 30');
SELECT is(ml_config_get('data.compressionThreshold'), '7'::jsonb, 'data.compressionThreshold defaults to 7');
SELECT is(ml_config_get('data.backfillBatchSize'), '1000'::jsonb, 'data.backfillBatchSize defaults to 1000');
SELECT is(ml_config_get('data.rejectUnknownSymbols'), 'true'::jsonb, 'data.rejectUnknownSymbols defaults to true');
SELECT is(ml_config_get('data.futureToleranceSeconds'), '120'::jsonb, 'data.futureToleranceSeconds defaults to 120');
SELECT is(ml_config_get('features.rsiPeriod'), '14'::jsonb, 'features.rsiPeriod defaults to 14');
SELECT is(ml_config_get('features.macdFast'), '12'::jsonb, 'features.macdFast defaults to 12');
SELECT is(ml_config_get('features.macdSlow'), '26'::jsonb, 'features.macdSlow defaults to 26');
SELECT is(ml_config_get('features.macdSignal'), '9'::jsonb, 'features.macdSignal defaults to 9');
SELECT is(ml_config_get('features.bollingerPeriod'), '20'::jsonb, 'features.bollingerPeriod defaults to 20');
SELECT is(ml_config_get('features.bollingerStdDev'), '2'::jsonb, 'features.bollingerStdDev defaults to 2');
SELECT is(ml_config_get('features.stochasticK'), '14'::jsonb, 'features.stochasticK defaults to 14');
SELECT is(ml_config_get('features.stochasticD'), '3'::jsonb, 'features.stochasticD defaults to 3');
SELECT is(ml_config_get('features.volatilityWindow'), '5'::jsonb, 'features.volatilityWindow defaults to 5');
SELECT is(ml_config_get('features.featureSet'), '1'::jsonb, 'features.featureSet defaults to 1');
SELECT is(ml_config_get('features.crossMarketSymbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'features.crossMarketSymbols defaults to ["BTCUSDT", "ETHUSDT"]');
SELECT is(ml_config_get('training.windowSize'), '600'::jsonb, 'training.windowSize defaults to 600');
SELECT is(ml_config_get('training.forecastHorizons'), '[5, 15, 30, 60]'::jsonb, 'training.forecastHorizons defaults to [5, 15, 30, 60]');
SELECT is(ml_config_get('training.validationSplit'), '0.2'::jsonb, 'training.validationSplit defaults to 0.2');
SELECT is(ml_config_get('training.modelTypes'), '["xgboost", "lstm", "ensemble"]'::jsonb, 'training.modelTypes defaults to ["xgboost", "lstm", "ensemble"]');
SELECT is(ml_config_get('training.batchSize'), '1000'::jsonb, 'training.batchSize defaults to 1000');
SELECT is(ml_config_get('training.maxEpochs'), '100'::jsonb, 'training.maxEpochs defaults to 100');
SELECT is(ml_config_get('training.earlyStoppingPatience'), '10'::jsonb, 'training.earlyStoppingPatience defaults to 10');
SELECT is(ml_config_get('training.excludeAnomalies'), 'false'::jsonb, 'training.excludeAnomalies defaults to false');
SELECT is(ml_config_get('inference.confidenceThreshold'), '60'::jsonb, 'inference.confidenceThreshold defaults to 60');
SELECT is(ml_config_get('inference.ensembleWeights'), '{}'::jsonb, 'inference.ensembleWeights defaults to {}');
SELECT is(ml_config_get('inference.predictionCache'), 'true'::jsonb, 'inference.predictionCache defaults to true');
SELECT is(ml_config_get('inference.maxPredictionAge'), '300'::jsonb, 'inference.maxPredictionAge defaults to 300');
SELECT is(ml_config_get('forecasting.horizons'), '[5, 15, 30, 60, 240, 1440]'::jsonb, 'forecasting.horizons defaults to [5, 15, 30, 60, 240, 1440]');
SELECT is(ml_config_get('forecasting.updateFrequency'), '60'::jsonb, 'forecasting.updateFrequency defaults to 60');
SELECT is(ml_config_get('forecasting.confidenceDecay'), '0.95'::jsonb, 'forecasting.confidenceDecay defaults to 0.95');
SELECT is(ml_config_get('forecasting.marketRegimes'), '["trending", "ranging", "volatile"]'::jsonb, 'forecasting.marketRegimes defaults to ["trending", "ranging", "volatile"]');
SELECT is(ml_config_get('monitoring.completenessThreshold'), '0.95'::jsonb, 'monitoring.completenessThreshold defaults to 0.95');
SELECT is(ml_config_get('monitoring.alertThresholds.missingData'), '0.1'::jsonb, 'monitoring.alertThresholds.missingData defaults to 0.1');
SELECT is(ml_config_get('monitoring.alertThresholds.staleData'), '300'::jsonb, 'monitoring.alertThresholds.staleData defaults to 300');
SELECT is(ml_config_get('monitoring.alertThresholds.invalidValues'), '0.05'::jsonb, 'monitoring.alertThresholds.invalidValues defaults to 0.05');
SELECT is(ml_config_get('monitoring.checkInterval'), '60'::jsonb, 'monitoring.checkInterval defaults to 60');
SELECT is(ml_config_get('monitoring.anomalyThreshold'), '12'::jsonb, 'monitoring.anomalyThreshold defaults to 12');
SELECT is(ml_config_get('monitoring.anomalyWindow'), '240'::jsonb, 'monitoring.anomalyWindow defaults to 240');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"]'::jsonb, 'symbols defaults to ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"]');
SELECT is(ml_config_get('exchanges'), '["binance-us", "coinbase", "bybit"]'::jsonb, 'exchanges defaults to ["binance-us", "coinbase", "bybit"]');
SELECT is(ARRAY(SELECT jsonb_object_keys(ml_config()) ORDER BY 1),
          ARRAY['data', 'exchanges', 'features', 'forecasting', 'inference', 'ingest', 'monitoring', 'symbols', 'system', 'trading', 'training'],
          'ml_config() has exactly the top-level keys of the seed (system, data, features, training, inference, forecasting, monitoring, symbols, exchanges) and of cryptoml (trading, ingest)');
SELECT is(ml_config(), '{
  "system": {"environment": "development", "logLevel": "info", "enableRecovery": true, "maxConcurrentWorkers": 4},
  "data": {"retentionDays": 30, "compressionThreshold": 7, "backfillBatchSize": 1000, "rejectUnknownSymbols": true, "futureToleranceSeconds": 120},
  "features": {"rsiPeriod": 14, "macdFast": 12, "macdSlow": 26, "macdSignal": 9, "bollingerPeriod": 20,
               "bollingerStdDev": 2, "stochasticK": 14, "stochasticD": 3, "volatilityWindow": 5,
               "featureSet": 1, "crossMarketSymbols": ["BTCUSDT", "ETHUSDT"]},
  "training": {"windowSize": 600, "forecastHorizons": [5, 15, 30, 60], "validationSplit": 0.2,
               "modelTypes": ["xgboost", "lstm", "ensemble"], "batchSize": 1000, "maxEpochs": 100,
               "earlyStoppingPatience": 10, "calibrationFolds": 3, "excludeAnomalies": false},
  "inference": {"confidenceThreshold": 60, "ensembleWeights": {}, "predictionCache": true, "maxPredictionAge": 300,
                "intervalCoverage": 0.8, "intervalAdaptRate": 0.005, "skillSignificance": 0.05, "calibrationWindow": 10080},
  "forecasting": {"horizons": [5, 15, 30, 60, 240, 1440], "updateFrequency": 60, "confidenceDecay": 0.95,
                  "marketRegimes": ["trending", "ranging", "volatile"]},
  "monitoring": {"completenessThreshold": 0.95,
                 "alertThresholds": {"missingData": 0.1, "staleData": 300, "invalidValues": 0.05,
                                     "intervalCoverageGap": 0.05, "calibrationError": 0.05},
                 "checkInterval": 60, "anomalyThreshold": 12, "anomalyWindow": 240},
  "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"],
  "exchanges": ["binance-us", "coinbase", "bybit"],
  "trading": {"autoSimulate": false, "horizon": 15},
  "ingest": {"enabled": false, "pollInterval": 60, "initialBackfillMinutes": 1440, "primaryExchange": {},
             "failoverAfter": 3, "timeoutMs": 10000, "backoffBaseMs": 1000, "backoffMaxMs": 60000, "maxPayloadBytes": 4194304,
             "baseUrls": {"binance-us": "https://api.binance.us", "coinbase": "https://api.exchange.coinbase.com",
                          "bybit": "https://api.bybit.com"},
             "rateLimits": {"binance-us": 5, "coinbase": 3, "bybit": 10},
             "symbolMap": {"binance-us": {}, "coinbase": {}, "bybit": {}}}
}'::jsonb,
          'ml_config() is exactly the seed configuration plus the trading and ingest sections');
SELECT is(ml_config_get('features'), ml_config()->'features', 'ml_config_get of a section returns the whole section');
SELECT is(ml_config_get('monitoring.alertThresholds'), '{"missingData": 0.1, "staleData": 300, "invalidValues": 0.05, "intervalCoverageGap": 0.05, "calibrationError": 0.05}'::jsonb,
          'ml_config_get of a nested section returns it');
SELECT is((SELECT count(*) FROM ml_config_keys()), 72::bigint, 'ml_config_keys() returns 72 keys');
SELECT ok((SELECT bool_and(is_default) FROM ml_config_keys()), 'every key is_default at the start');
SELECT set_eq('SELECT path, default_value, rule FROM ml_config_keys()',
  $$VALUES
    ('system.environment', '"development"'::jsonb, 'one of "development", "production"'),
    ('system.logLevel', '"info"'::jsonb, 'one of "debug", "info", "warning", "error"'),
    ('system.enableRecovery', 'true'::jsonb, 'boolean (true or false)'),
    ('system.maxConcurrentWorkers', '4'::jsonb, 'integer between 1 and 64'),
    ('data.retentionDays', '30'::jsonb, 'integer between 1 and 36500 (days)'),
    ('data.compressionThreshold', '7'::jsonb, 'integer between 1 and 36500 (days)'),
    ('data.backfillBatchSize', '1000'::jsonb, 'integer between 1 and 1000000'),
    ('data.rejectUnknownSymbols', 'true'::jsonb, 'boolean (true or false)'),
    ('data.futureToleranceSeconds', '120'::jsonb, 'integer between 0 and 86400 (seconds)'),
    ('features.rsiPeriod', '14'::jsonb, 'integer between 2 and 1000'),
    ('features.macdFast', '12'::jsonb, 'integer between 2 and 1000'),
    ('features.macdSlow', '26'::jsonb, 'integer between 2 and 1000'),
    ('features.macdSignal', '9'::jsonb, 'integer between 1 and 1000'),
    ('features.bollingerPeriod', '20'::jsonb, 'integer between 2 and 1000'),
    ('features.bollingerStdDev', '2'::jsonb, 'number greater than 0 and at most 10'),
    ('features.stochasticK', '14'::jsonb, 'integer between 1 and 1000'),
    ('features.stochasticD', '3'::jsonb, 'integer between 1 and 1000'),
    ('features.volatilityWindow', '5'::jsonb, 'integer between 2 and 1000'),
    ('features.featureSet', '1'::jsonb, 'integer between 1 and 2 (feature set version)'),
    ('features.crossMarketSymbols', '["BTCUSDT", "ETHUSDT"]'::jsonb, 'non-empty array of at most 2 unique strings, each matching ^[A-Z0-9]{2,20}$ (feature set 2''s lead1 and lead2)'),
    ('training.windowSize', '600'::jsonb, 'integer between 10 and 10000000 (minutes)'),
    ('training.forecastHorizons', '[5, 15, 30, 60]'::jsonb, 'non-empty array of unique integers, each between 1 and 10080'),
    ('training.validationSplit', '0.2'::jsonb, 'number strictly between 0 and 1'),
    ('training.modelTypes', '["xgboost", "lstm", "ensemble"]'::jsonb, 'non-empty array of unique strings, each one of "xgboost", "lstm", "ensemble"'),
    ('training.batchSize', '1000'::jsonb, 'integer between 1 and 1000000'),
    ('training.maxEpochs', '100'::jsonb, 'integer between 1 and 100000'),
    ('training.earlyStoppingPatience', '10'::jsonb, 'integer between 1 and 100000'),
    ('training.calibrationFolds', '3'::jsonb, 'integer between 1 and 20 (rolling-origin folds)'),
    ('training.excludeAnomalies', 'false'::jsonb, 'boolean (true or false)'),
    ('inference.confidenceThreshold', '60'::jsonb, 'number between 0 and 100'),
    ('inference.ensembleWeights', '{}'::jsonb, 'object: empty (weights are learned) or mapping model types ("xgboost", "lstm") to finite numbers >= 0 with a sum > 0'),
    ('inference.predictionCache', 'true'::jsonb, 'boolean (true or false)'),
    ('inference.maxPredictionAge', '300'::jsonb, 'integer between 0 and 86400 (seconds)'),
    ('inference.calibrationWindow', '10080'::jsonb, 'integer between 10 and 10000000 (outcomes)'),
    ('inference.intervalAdaptRate', '0.005'::jsonb, 'number between 0 and 1'),
    ('inference.intervalCoverage', '0.8'::jsonb, 'number strictly between 0 and 1'),
    ('inference.skillSignificance', '0.05'::jsonb, 'number greater than 0 and at most 0.5'),
    ('forecasting.horizons', '[5, 15, 30, 60, 240, 1440]'::jsonb, 'non-empty array of unique integers, each between 1 and 10080'),
    ('forecasting.updateFrequency', '60'::jsonb, 'integer between 1 and 86400 (seconds)'),
    ('forecasting.confidenceDecay', '0.95'::jsonb, 'number greater than 0 and at most 1'),
    ('forecasting.marketRegimes', '["trending", "ranging", "volatile"]'::jsonb, 'non-empty array of unique strings, each one of "trending", "ranging", "volatile"'),
    ('monitoring.completenessThreshold', '0.95'::jsonb, 'number between 0 and 1'),
    ('monitoring.alertThresholds.missingData', '0.1'::jsonb, 'number between 0 and 1'),
    ('monitoring.alertThresholds.staleData', '300'::jsonb, 'integer between 1 and 604800 (seconds)'),
    ('monitoring.alertThresholds.invalidValues', '0.05'::jsonb, 'number between 0 and 1'),
    ('monitoring.alertThresholds.calibrationError', '0.05'::jsonb, 'number greater than 0 and at most 1'),
    ('monitoring.alertThresholds.intervalCoverageGap', '0.05'::jsonb, 'number greater than 0 and at most 1'),
    ('monitoring.checkInterval', '60'::jsonb, 'integer between 1 and 86400 (seconds)'),
    ('monitoring.anomalyThreshold', '12'::jsonb, 'number between 1 and 1000'),
    ('monitoring.anomalyWindow', '240'::jsonb, 'integer between 30 and 10080 (bars)'),
    ('symbols', '["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"]'::jsonb, 'non-empty array of at most 2000 unique strings, each matching ^[A-Z0-9]{2,20}$'),
    ('exchanges', '["binance-us", "coinbase", "bybit"]'::jsonb, 'non-empty array of unique strings, each one of "binance-us", "coinbase", "bybit"'),
    ('ingest.backoffBaseMs', '1000'::jsonb, 'integer between 1 and 3600000 (milliseconds)'),
    ('ingest.backoffMaxMs', '60000'::jsonb, 'integer between 1 and 3600000 (milliseconds)'),
    ('ingest.baseUrls.binance-us', '"https://api.binance.us"'::jsonb, 'http:// or https:// URL of a host (letters, digits, dots, hyphens), an optional :port and path, no query, no credentials, at most 200 characters'),
    ('ingest.baseUrls.bybit', '"https://api.bybit.com"'::jsonb, 'http:// or https:// URL of a host (letters, digits, dots, hyphens), an optional :port and path, no query, no credentials, at most 200 characters'),
    ('ingest.baseUrls.coinbase', '"https://api.exchange.coinbase.com"'::jsonb, 'http:// or https:// URL of a host (letters, digits, dots, hyphens), an optional :port and path, no query, no credentials, at most 200 characters'),
    ('ingest.enabled', 'false'::jsonb, 'boolean (true or false)'),
    ('ingest.failoverAfter', '3'::jsonb, 'integer between 1 and 1000 (consecutive failed polls)'),
    ('ingest.initialBackfillMinutes', '1440'::jsonb, 'integer between 1 and 525600 (minutes)'),
    ('ingest.maxPayloadBytes', '4194304'::jsonb, 'integer between 1024 and 67108864 (bytes)'),
    ('ingest.pollInterval', '60'::jsonb, 'integer between 1 and 86400 (seconds)'),
    ('ingest.primaryExchange', '{}'::jsonb, 'object of at most 100 entries mapping symbols (^[A-Z0-9]{2,20}$) to one of "binance-us", "coinbase", "bybit"'),
    ('ingest.rateLimits.binance-us', '5'::jsonb, 'number greater than 0 and at most 100'),
    ('ingest.rateLimits.bybit', '10'::jsonb, 'number greater than 0 and at most 100'),
    ('ingest.rateLimits.coinbase', '3'::jsonb, 'number greater than 0 and at most 100'),
    ('ingest.symbolMap.binance-us', '{}'::jsonb, 'object of at most 100 entries mapping symbols (^[A-Z0-9]{2,20}$) to product ids (^[A-Za-z0-9-]{2,30}$)'),
    ('ingest.symbolMap.bybit', '{}'::jsonb, 'object of at most 100 entries mapping symbols (^[A-Z0-9]{2,20}$) to product ids (^[A-Za-z0-9-]{2,30}$)'),
    ('ingest.symbolMap.coinbase', '{}'::jsonb, 'object of at most 100 entries mapping symbols (^[A-Z0-9]{2,20}$) to product ids (^[A-Za-z0-9-]{2,30}$)'),
    ('ingest.timeoutMs', '10000'::jsonb, 'integer between 100 and 120000 (milliseconds)'),
    ('trading.autoSimulate', 'false'::jsonb, 'boolean (true or false)'),
    ('trading.horizon', '15'::jsonb, 'integer between 1 and 10080 (minutes)')$$,
  'ml_config_keys() lists the 72 keys with their defaults and rules');
SELECT set_eq('SELECT path, value FROM ml_config_keys()', 'SELECT path, default_value FROM ml_config_keys()',
  'at the start every value equals its default');

-- ===========================================================================================
-- Set, get, keys
-- ===========================================================================================
SELECT is(ml_config_set('features.rsiPeriod', '21'), '21'::jsonb, 'ml_config_set returns the new value');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'ml_config_get shows the new value');
SELECT is(ml_config()->'features'->'rsiPeriod', '21'::jsonb, 'ml_config() shows the new value');
SELECT is(ml_config_get('features')->'macdFast', '12'::jsonb, 'the other keys of the section keep their values');
SELECT results_eq('SELECT path, value, is_default FROM ml_config_keys() WHERE NOT is_default',
  $$VALUES ('features.rsiPeriod', '21'::jsonb, false)$$, 'ml_config_keys() flags exactly the changed key as not default');
SELECT results_eq('SELECT path, value FROM cryptoml_internal.config', $$VALUES ('features.rsiPeriod', '21'::jsonb)$$,
  'the override is stored in cryptoml_internal.config');
SELECT is(ml_config_set('features.rsiPeriod', '2'), '2'::jsonb, 'rsiPeriod accepts its lower bound 2');
SELECT is(ml_config_set('features.rsiPeriod', '1000'), '1000'::jsonb, 'rsiPeriod accepts its upper bound 1000');
SELECT is((SELECT ml_config_get('features.rsiPeriod') FROM (SELECT ml_config_set('features.rsiPeriod', '21') AS v) AS s), '21'::jsonb,
          'rsiPeriod set back to 21: a read in the same statement as the change already sees it');
SELECT is(ml_config_set('symbols', '["BTCUSDT", "ETHUSDT"]'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'symbols accepts a shorter list');
SELECT is(ml_config_set('training.validationSplit', '0.25'), '0.25'::jsonb, 'validationSplit accepts 0.25');
SELECT is(ml_config_set('inference.ensembleWeights', '{"xgboost": 0.7, "lstm": 0.3}'), '{"xgboost": 0.7, "lstm": 0.3}'::jsonb,
          'ensembleWeights accepts {"xgboost": 0.7, "lstm": 0.3}');
SELECT is(ml_config_set('inference.ensembleWeights', '{"xgboost": 0, "lstm": 1}'), '{"xgboost": 0, "lstm": 1}'::jsonb,
          'ensembleWeights accepts a zero weight when the sum is positive');
SELECT is(ml_config_set('inference.ensembleWeights', '{"xgboost": 0.6, "lstm": 0.4}'), '{"xgboost": 0.6, "lstm": 0.4}'::jsonb,
          'ensembleWeights set to {"xgboost": 0.6, "lstm": 0.4}');
SELECT is(ml_config_set('features.macdFast', '25'), '25'::jsonb, 'macdFast accepts 25 (< macdSlow 26)');
SELECT is(ml_config_set('system.environment', '"production"'), '"production"'::jsonb, 'environment accepts "production"');
SELECT is(ml_config_set('features.bollingerStdDev', '2.5'), '2.5'::jsonb, 'bollingerStdDev accepts a real number');
SELECT set_eq('SELECT path FROM ml_config_keys() WHERE NOT is_default',
  $$VALUES ('features.rsiPeriod'), ('symbols'), ('training.validationSplit'), ('inference.ensembleWeights'),
           ('features.macdFast'), ('system.environment'), ('features.bollingerStdDev')$$,
  'ml_config_keys() flags exactly the seven changed keys as not default');

-- ===========================================================================================
-- Rejected values: SQLSTATE 22023, message with key and value, detail with the rule, and the
-- key keeps its previous value. (rsiPeriod is 21, symbols [BTCUSDT, ETHUSDT], validationSplit
-- 0.25, ensembleWeights {xgboost 0.6, lstm 0.4}, macdFast 25 at this point.)
-- ===========================================================================================
-- unknown keys
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriodd'', ''21'')', '22023', 'unknown config key "features.rsiPeriodd"',
                 'unknown key features.rsiPeriodd is rejected');
SELECT throws_ok('SELECT ml_config_set(''features.rsiperiod'', ''21'')', '22023', 'unknown config key "features.rsiperiod"',
                 'wrong-case key features.rsiperiod is rejected');
SELECT throws_ok('SELECT ml_config_set(''rsiPeriod'', ''21'')', '22023', 'unknown config key "rsiPeriod"',
                 'key without its section (rsiPeriod) is rejected');
SELECT throws_ok('SELECT ml_config_set(''features'', ''21'')', '22023', 'unknown config key "features"',
                 'a whole section (features) is rejected');
SELECT throws_ok('SELECT ml_config_set('''', ''21'')', '22023', 'unknown config key ""',
                 'an empty key is rejected');
SELECT is(pg_temp.error_hint('SELECT ml_config_set(''features.rsiPeriodd'', ''21'')'),
          'keys under "features": bollingerPeriod, bollingerStdDev, crossMarketSymbols, featureSet, macdFast, macdSignal, macdSlow, rsiPeriod, stochasticD, stochasticK, volatilityWindow',
          'an unknown key under a section is answered with the keys of that section');
SELECT is(pg_temp.error_hint('SELECT ml_config_set(''rsiPeriod'', ''21'')'),
          'top-level sections: data, exchanges, features, forecasting, inference, ingest, monitoring, symbols, system, trading, training',
          'an unknown top-level key is answered with the top-level sections');
SELECT throws_ok('SELECT ml_config_get(''features.nope'')', '22023', 'unknown config key "features.nope"', 'ml_config_get of an unknown key is rejected');
SELECT throws_ok('SELECT ml_config_reset(''features.nope'')', '22023', 'unknown config key "features.nope"', 'ml_config_reset of an unknown key is rejected');
SELECT throws_ok('SELECT ml_config_reset(''features'')', '22023', 'unknown config key "features"', 'ml_config_reset of a section is rejected');
SELECT is((SELECT count(*) FROM cryptoml_internal.config WHERE path NOT IN (SELECT path FROM ml_config_keys())), 0::bigint,
          'no override for an unknown key was stored');

-- features.rsiPeriod (integer between 2 and 1000)
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''"14"'')', '22023',
                 'invalid value for config key "features.rsiPeriod": "14"',
                 'rsiPeriod "14" (a string) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''"14"'')'), 'rule: integer between 2 and 1000', 'rsiPeriod "14" (a string): the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod "14" (a string): features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''14.5'')', '22023',
                 'invalid value for config key "features.rsiPeriod": 14.5',
                 'rsiPeriod 14.5 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''14.5'')'), 'rule: integer between 2 and 1000', 'rsiPeriod 14.5: the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod 14.5: features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''14.0'')', '22023',
                 'invalid value for config key "features.rsiPeriod": 14.0',
                 'rsiPeriod 14.0 (an integer written as a real) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''14.0'')'), 'rule: integer between 2 and 1000', 'rsiPeriod 14.0 (an integer written as a real): the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod 14.0 (an integer written as a real): features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''-3'')', '22023',
                 'invalid value for config key "features.rsiPeriod": -3',
                 'rsiPeriod -3 (negative period) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''-3'')'), 'rule: integer between 2 and 1000', 'rsiPeriod -3 (negative period): the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod -3 (negative period): features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''0'')', '22023',
                 'invalid value for config key "features.rsiPeriod": 0',
                 'rsiPeriod 0 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''0'')'), 'rule: integer between 2 and 1000', 'rsiPeriod 0: the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod 0: features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''1'')', '22023',
                 'invalid value for config key "features.rsiPeriod": 1',
                 'rsiPeriod 1 (below the minimum 2) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''1'')'), 'rule: integer between 2 and 1000', 'rsiPeriod 1 (below the minimum 2): the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod 1 (below the minimum 2): features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''1001'')', '22023',
                 'invalid value for config key "features.rsiPeriod": 1001',
                 'rsiPeriod 1001 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''1001'')'), 'rule: integer between 2 and 1000', 'rsiPeriod 1001: the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod 1001: features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''null'')', '22023',
                 'invalid value for config key "features.rsiPeriod": null',
                 'rsiPeriod JSON null is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''null'')'), 'rule: integer between 2 and 1000', 'rsiPeriod JSON null: the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod JSON null: features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''{"value": 21}'')', '22023',
                 'invalid value for config key "features.rsiPeriod": {"value":21}',
                 'rsiPeriod as an object is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''{"value": 21}'')'), 'rule: integer between 2 and 1000', 'rsiPeriod as an object: the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod as an object: features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''[21]'')', '22023',
                 'invalid value for config key "features.rsiPeriod": [21]',
                 'rsiPeriod as an array is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''[21]'')'), 'rule: integer between 2 and 1000', 'rsiPeriod as an array: the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod as an array: features.rsiPeriod is still 21');
SELECT throws_ok('SELECT ml_config_set(''features.rsiPeriod'', ''true'')', '22023',
                 'invalid value for config key "features.rsiPeriod": true',
                 'rsiPeriod true is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''true'')'), 'rule: integer between 2 and 1000', 'rsiPeriod true: the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod true: features.rsiPeriod is still 21');
SELECT throws_like('SELECT ml_config_set(''features.rsiPeriod'', ''99999999999999999999999'')', 'invalid value for config key "features.rsiPeriod": %',
                   'rsiPeriod 99999999999999999999999 (beyond 64 bits) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''99999999999999999999999'')'), 'rule: integer between 2 and 1000', 'rsiPeriod 99999999999999999999999 (beyond 64 bits): the detail states the rule');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'rsiPeriod 99999999999999999999999 (beyond 64 bits): features.rsiPeriod is still 21');
SELECT throws_like('SELECT ml_config_set(''features.rsiPeriod'', ''1e400'')', 'config key features.rsiPeriod = 1% (401 characters) is out of range',
                   'rsiPeriod 1e400 (beyond a double) is rejected naming the key (was an internal error)');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.rsiPeriod'', ''1e400'')'),
          'rule: numbers must fit a double (|x| <= 1.8e308); the number starts at byte 1', 'rsiPeriod 1e400: the detail states the rule');

-- features.macdFast < features.macdSlow
SELECT throws_ok('SELECT ml_config_set(''features.macdFast'', ''26'')', '22023',
                 'invalid config: features.macdFast (26) must be less than features.macdSlow (26)',
                 'macdFast 26 (= macdSlow) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.macdFast'', ''26'')'), 'rule: features.macdFast < features.macdSlow', 'macdFast 26 (= macdSlow): the detail states the rule');
SELECT is(ml_config_get('features.macdFast'), '25'::jsonb, 'macdFast 26 (= macdSlow): features.macdFast is still 25');
SELECT throws_ok('SELECT ml_config_set(''features.macdFast'', ''30'')', '22023',
                 'invalid config: features.macdFast (30) must be less than features.macdSlow (26)',
                 'macdFast 30 (> macdSlow) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.macdFast'', ''30'')'), 'rule: features.macdFast < features.macdSlow', 'macdFast 30 (> macdSlow): the detail states the rule');
SELECT is(ml_config_get('features.macdFast'), '25'::jsonb, 'macdFast 30 (> macdSlow): features.macdFast is still 25');
SELECT throws_ok('SELECT ml_config_set(''features.macdSlow'', ''25'')', '22023',
                 'invalid config: features.macdFast (25) must be less than features.macdSlow (25)',
                 'macdSlow 25 (= macdFast) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.macdSlow'', ''25'')'), 'rule: features.macdFast < features.macdSlow', 'macdSlow 25 (= macdFast): the detail states the rule');
SELECT is(ml_config_get('features.macdSlow'), '26'::jsonb, 'macdSlow 25 (= macdFast): features.macdSlow is still 26');
SELECT throws_ok('SELECT ml_config_set(''features.macdSlow'', ''5'')', '22023',
                 'invalid config: features.macdFast (25) must be less than features.macdSlow (5)',
                 'macdSlow 5 (< macdFast) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.macdSlow'', ''5'')'), 'rule: features.macdFast < features.macdSlow', 'macdSlow 5 (< macdFast): the detail states the rule');
SELECT is(ml_config_get('features.macdSlow'), '26'::jsonb, 'macdSlow 5 (< macdFast): features.macdSlow is still 26');
SELECT is(ml_config_get('features.macdFast'), '25'::jsonb, 'after the rejected macdSlow values macdFast is still 25');

-- data.compressionThreshold <= data.retentionDays
SELECT throws_ok('SELECT ml_config_set(''data.compressionThreshold'', ''31'')', '22023',
                 'invalid config: data.compressionThreshold (31) must be less than or equal to data.retentionDays (30)',
                 'compressionThreshold 31 (> retentionDays 30) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''data.compressionThreshold'', ''31'')'), 'rule: data.compressionThreshold <= data.retentionDays', 'compressionThreshold 31 (> retentionDays 30): the detail states the rule');
SELECT is(ml_config_get('data.compressionThreshold'), '7'::jsonb, 'compressionThreshold 31 (> retentionDays 30): data.compressionThreshold is still 7');
SELECT throws_ok('SELECT ml_config_set(''data.retentionDays'', ''6'')', '22023',
                 'invalid config: data.compressionThreshold (7) must be less than or equal to data.retentionDays (6)',
                 'retentionDays 6 (< compressionThreshold 7) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''data.retentionDays'', ''6'')'), 'rule: data.compressionThreshold <= data.retentionDays', 'retentionDays 6 (< compressionThreshold 7): the detail states the rule');
SELECT is(ml_config_get('data.retentionDays'), '30'::jsonb, 'retentionDays 6 (< compressionThreshold 7): data.retentionDays is still 30');

-- training.validationSplit (strictly between 0 and 1)
SELECT throws_ok('SELECT ml_config_set(''training.validationSplit'', ''0'')', '22023',
                 'invalid value for config key "training.validationSplit": 0',
                 'validationSplit 0 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.validationSplit'', ''0'')'), 'rule: number strictly between 0 and 1', 'validationSplit 0: the detail states the rule');
SELECT is(ml_config_get('training.validationSplit'), '0.25'::jsonb, 'validationSplit 0: training.validationSplit is still 0.25');
SELECT throws_ok('SELECT ml_config_set(''training.validationSplit'', ''1'')', '22023',
                 'invalid value for config key "training.validationSplit": 1',
                 'validationSplit 1 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.validationSplit'', ''1'')'), 'rule: number strictly between 0 and 1', 'validationSplit 1: the detail states the rule');
SELECT is(ml_config_get('training.validationSplit'), '0.25'::jsonb, 'validationSplit 1: training.validationSplit is still 0.25');
SELECT throws_ok('SELECT ml_config_set(''training.validationSplit'', ''1.5'')', '22023',
                 'invalid value for config key "training.validationSplit": 1.5',
                 'validationSplit 1.5 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.validationSplit'', ''1.5'')'), 'rule: number strictly between 0 and 1', 'validationSplit 1.5: the detail states the rule');
SELECT is(ml_config_get('training.validationSplit'), '0.25'::jsonb, 'validationSplit 1.5: training.validationSplit is still 0.25');
SELECT throws_ok('SELECT ml_config_set(''training.validationSplit'', ''-0.2'')', '22023',
                 'invalid value for config key "training.validationSplit": -0.2',
                 'validationSplit -0.2 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.validationSplit'', ''-0.2'')'), 'rule: number strictly between 0 and 1', 'validationSplit -0.2: the detail states the rule');
SELECT is(ml_config_get('training.validationSplit'), '0.25'::jsonb, 'validationSplit -0.2: training.validationSplit is still 0.25');
SELECT throws_ok('SELECT ml_config_set(''training.validationSplit'', ''"0.2"'')', '22023',
                 'invalid value for config key "training.validationSplit": "0.2"',
                 'validationSplit "0.2" (a string) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.validationSplit'', ''"0.2"'')'), 'rule: number strictly between 0 and 1', 'validationSplit "0.2" (a string): the detail states the rule');
SELECT is(ml_config_get('training.validationSplit'), '0.25'::jsonb, 'validationSplit "0.2" (a string): training.validationSplit is still 0.25');
SELECT throws_ok('SELECT ml_config_set(''training.validationSplit'', ''null'')', '22023',
                 'invalid value for config key "training.validationSplit": null',
                 'validationSplit JSON null is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.validationSplit'', ''null'')'), 'rule: number strictly between 0 and 1', 'validationSplit JSON null: the detail states the rule');
SELECT is(ml_config_get('training.validationSplit'), '0.25'::jsonb, 'validationSplit JSON null: training.validationSplit is still 0.25');

-- symbols
SELECT throws_ok('SELECT ml_config_set(''symbols'', ''[]'')', '22023',
                 'invalid value for config key "symbols": []',
                 'an empty symbol list is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', ''[]'')'), 'rule: non-empty array of at most 2000 unique strings, each matching ^[A-Z0-9]{2,20}$ (the array is empty)', 'an empty symbol list: the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'an empty symbol list: symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT throws_ok('SELECT ml_config_set(''symbols'', ''["btcusdt"]'')', '22023',
                 'invalid value for config key "symbols": ["btcusdt"]',
                 'symbol btcusdt (lowercase) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', ''["btcusdt"]'')'), 'rule: each element must match ^[A-Z0-9]{2,20}$ (element 1 "btcusdt" does not)', 'symbol btcusdt (lowercase): the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'symbol btcusdt (lowercase): symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT throws_ok('SELECT ml_config_set(''symbols'', ''["BTCUSDT", "BTC-USD"]'')', '22023',
                 'invalid value for config key "symbols": ["BTCUSDT","BTC-USD"]',
                 'symbol BTC-USD is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', ''["BTCUSDT", "BTC-USD"]'')'), 'rule: each element must match ^[A-Z0-9]{2,20}$ (element 2 "BTC-USD" does not)', 'symbol BTC-USD: the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'symbol BTC-USD: symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT throws_ok('SELECT ml_config_set(''symbols'', ''["BTCUSDT", "B"]'')', '22023',
                 'invalid value for config key "symbols": ["BTCUSDT","B"]',
                 'a one-character symbol is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', ''["BTCUSDT", "B"]'')'), 'rule: each element must match ^[A-Z0-9]{2,20}$ (element 2 "B" does not)', 'a one-character symbol: the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'a one-character symbol: symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT throws_ok('SELECT ml_config_set(''symbols'', ''["BTCUSDT", ""]'')', '22023',
                 'invalid value for config key "symbols": ["BTCUSDT",""]',
                 'an empty symbol is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', ''["BTCUSDT", ""]'')'), 'rule: each element must match ^[A-Z0-9]{2,20}$ (element 2 "" does not)', 'an empty symbol: the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'an empty symbol: symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT throws_ok('SELECT ml_config_set(''symbols'', ''["ABCDEFGHIJKLMNOPQRSTU"]'')', '22023',
                 'invalid value for config key "symbols": ["ABCDEFGHIJKLMNOPQRSTU"]',
                 'a 21-character symbol is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', ''["ABCDEFGHIJKLMNOPQRSTU"]'')'), 'rule: each element must match ^[A-Z0-9]{2,20}$ (element 1 "ABCDEFGHIJKLMNOPQRSTU" does not)', 'a 21-character symbol: the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'a 21-character symbol: symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT throws_ok('SELECT ml_config_set(''symbols'', ''["BTCUSDT", "ETHUSDT", "BTCUSDT"]'')', '22023',
                 'invalid value for config key "symbols": ["BTCUSDT","ETHUSDT","BTCUSDT"]',
                 'a duplicated symbol is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', ''["BTCUSDT", "ETHUSDT", "BTCUSDT"]'')'), 'rule: each element must be unique (element 3 "BTCUSDT" repeats element 1)', 'a duplicated symbol: the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'a duplicated symbol: symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT throws_ok('SELECT ml_config_set(''symbols'', ''["BTCUSDT", 1]'')', '22023',
                 'invalid value for config key "symbols": ["BTCUSDT",1]',
                 'a number in the symbol list is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', ''["BTCUSDT", 1]'')'), 'rule: each element must be a string matching ^[A-Z0-9]{2,20}$ (element 2 1 is not)', 'a number in the symbol list: the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'a number in the symbol list: symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT throws_ok('SELECT ml_config_set(''symbols'', ''"BTCUSDT"'')', '22023',
                 'invalid value for config key "symbols": "BTCUSDT"',
                 'a single symbol string instead of a list is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', ''"BTCUSDT"'')'), 'rule: non-empty array of at most 2000 unique strings, each matching ^[A-Z0-9]{2,20}$', 'a single symbol string instead of a list: the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'a single symbol string instead of a list: symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT throws_like('SELECT ml_config_set(''symbols'', (SELECT jsonb_agg(''S'' || lpad(i::text, 4, ''0'')) FROM generate_series(1, 2001) AS i))', 'invalid value for config key "symbols": ["S0001",%',
                   '2001 symbols are rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''symbols'', (SELECT jsonb_agg(''S'' || lpad(i::text, 4, ''0'')) FROM generate_series(1, 2001) AS i))'), 'rule: non-empty array of at most 2000 unique strings, each matching ^[A-Z0-9]{2,20}$ (got 2001 elements)', '2001 symbols: the detail states the rule');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, '2001 symbols: symbols is still [BTCUSDT, ETHUSDT]');
SELECT lives_ok('SELECT ml_config_set(''symbols'', (SELECT jsonb_agg(''S'' || lpad(i::text, 3, ''0'')) FROM generate_series(1, 100) AS i))', '100 symbols are accepted');
SELECT is(ml_config_set('symbols', '["BTCUSDT", "ETHUSDT"]'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'symbols set back to [BTCUSDT, ETHUSDT]');

-- training.modelTypes, forecasting.marketRegimes, exchanges
SELECT throws_ok('SELECT ml_config_set(''training.modelTypes'', ''["xgboost", "random_forest"]'')', '22023',
                 'invalid value for config key "training.modelTypes": ["xgboost","random_forest"]',
                 'unknown model type random_forest is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.modelTypes'', ''["xgboost", "random_forest"]'')'), 'rule: each element must be one of "xgboost", "lstm", "ensemble" (element 2 "random_forest" is not)', 'unknown model type random_forest: the detail states the rule');
SELECT is(ml_config_get('training.modelTypes'), '["xgboost", "lstm", "ensemble"]'::jsonb, 'unknown model type random_forest: training.modelTypes is still ["xgboost", "lstm", "ensemble"]');
SELECT throws_ok('SELECT ml_config_set(''training.modelTypes'', ''["XGBoost"]'')', '22023',
                 'invalid value for config key "training.modelTypes": ["XGBoost"]',
                 'model type XGBoost (wrong case) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.modelTypes'', ''["XGBoost"]'')'), 'rule: each element must be one of "xgboost", "lstm", "ensemble" (element 1 "XGBoost" is not)', 'model type XGBoost (wrong case): the detail states the rule');
SELECT is(ml_config_get('training.modelTypes'), '["xgboost", "lstm", "ensemble"]'::jsonb, 'model type XGBoost (wrong case): training.modelTypes is still ["xgboost", "lstm", "ensemble"]');
SELECT throws_ok('SELECT ml_config_set(''training.modelTypes'', ''[]'')', '22023',
                 'invalid value for config key "training.modelTypes": []',
                 'an empty model type list is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.modelTypes'', ''[]'')'), 'rule: non-empty array of unique strings, each one of "xgboost", "lstm", "ensemble" (the array is empty)', 'an empty model type list: the detail states the rule');
SELECT is(ml_config_get('training.modelTypes'), '["xgboost", "lstm", "ensemble"]'::jsonb, 'an empty model type list: training.modelTypes is still ["xgboost", "lstm", "ensemble"]');
SELECT throws_ok('SELECT ml_config_set(''training.modelTypes'', ''["lstm", "lstm"]'')', '22023',
                 'invalid value for config key "training.modelTypes": ["lstm","lstm"]',
                 'a duplicated model type is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.modelTypes'', ''["lstm", "lstm"]'')'), 'rule: each element must be unique (element 2 "lstm" repeats element 1)', 'a duplicated model type: the detail states the rule');
SELECT is(ml_config_get('training.modelTypes'), '["xgboost", "lstm", "ensemble"]'::jsonb, 'a duplicated model type: training.modelTypes is still ["xgboost", "lstm", "ensemble"]');
SELECT throws_ok('SELECT ml_config_set(''forecasting.marketRegimes'', ''["trending", "sideways"]'')', '22023',
                 'invalid value for config key "forecasting.marketRegimes": ["trending","sideways"]',
                 'unknown market regime sideways is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''forecasting.marketRegimes'', ''["trending", "sideways"]'')'), 'rule: each element must be one of "trending", "ranging", "volatile" (element 2 "sideways" is not)', 'unknown market regime sideways: the detail states the rule');
SELECT is(ml_config_get('forecasting.marketRegimes'), '["trending", "ranging", "volatile"]'::jsonb, 'unknown market regime sideways: forecasting.marketRegimes is still ["trending", "ranging", "volatile"]');
SELECT throws_ok('SELECT ml_config_set(''exchanges'', ''["binance-us", "kraken"]'')', '22023',
                 'invalid value for config key "exchanges": ["binance-us","kraken"]',
                 'unknown exchange kraken is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''exchanges'', ''["binance-us", "kraken"]'')'), 'rule: each element must be one of "binance-us", "coinbase", "bybit" (element 2 "kraken" is not)', 'unknown exchange kraken: the detail states the rule');
SELECT is(ml_config_get('exchanges'), '["binance-us", "coinbase", "bybit"]'::jsonb, 'unknown exchange kraken: exchanges is still ["binance-us", "coinbase", "bybit"]');
SELECT throws_ok('SELECT ml_config_set(''exchanges'', ''["binance"]'')', '22023',
                 'invalid value for config key "exchanges": ["binance"]',
                 'unknown exchange binance (not binance-us) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''exchanges'', ''["binance"]'')'), 'rule: each element must be one of "binance-us", "coinbase", "bybit" (element 1 "binance" is not)', 'unknown exchange binance (not binance-us): the detail states the rule');
SELECT is(ml_config_get('exchanges'), '["binance-us", "coinbase", "bybit"]'::jsonb, 'unknown exchange binance (not binance-us): exchanges is still ["binance-us", "coinbase", "bybit"]');

-- inference.ensembleWeights
SELECT throws_ok('SELECT ml_config_set(''inference.ensembleWeights'', ''{"xgboost": 0, "lstm": 0}'')', '22023',
                 'invalid value for config key "inference.ensembleWeights": {"lstm":0,"xgboost":0}',
                 'ensembleWeights {"xgboost":0,"lstm":0} is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.ensembleWeights'', ''{"xgboost": 0, "lstm": 0}'')'), 'rule: non-empty weights must have a finite sum > 0 (sum is 0)', 'ensembleWeights {"xgboost":0,"lstm":0}: the detail states the rule');
SELECT is(ml_config_get('inference.ensembleWeights'), '{"xgboost": 0.6, "lstm": 0.4}'::jsonb, 'ensembleWeights {"xgboost":0,"lstm":0}: inference.ensembleWeights is still {"xgboost": 0.6, "lstm": 0.4}');
SELECT throws_ok('SELECT ml_config_set(''inference.ensembleWeights'', ''{"xgboost": -1}'')', '22023',
                 'invalid value for config key "inference.ensembleWeights": {"xgboost":-1}',
                 'ensembleWeights {"xgboost":-1} is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.ensembleWeights'', ''{"xgboost": -1}'')'), 'rule: each weight must be a finite number >= 0 (key "xgboost" has -1)', 'ensembleWeights {"xgboost":-1}: the detail states the rule');
SELECT is(ml_config_get('inference.ensembleWeights'), '{"xgboost": 0.6, "lstm": 0.4}'::jsonb, 'ensembleWeights {"xgboost":-1}: inference.ensembleWeights is still {"xgboost": 0.6, "lstm": 0.4}');
SELECT throws_ok('SELECT ml_config_set(''inference.ensembleWeights'', ''{"xgboost": 2, "lstm": -1}'')', '22023',
                 'invalid value for config key "inference.ensembleWeights": {"lstm":-1,"xgboost":2}',
                 'ensembleWeights with a negative weight and a positive sum is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.ensembleWeights'', ''{"xgboost": 2, "lstm": -1}'')'), 'rule: each weight must be a finite number >= 0 (key "lstm" has -1)', 'ensembleWeights with a negative weight and a positive sum: the detail states the rule');
SELECT is(ml_config_get('inference.ensembleWeights'), '{"xgboost": 0.6, "lstm": 0.4}'::jsonb, 'ensembleWeights with a negative weight and a positive sum: inference.ensembleWeights is still {"xgboost": 0.6, "lstm": 0.4}');
SELECT throws_ok('SELECT ml_config_set(''inference.ensembleWeights'', ''{"ensemble": 1}'')', '22023',
                 'invalid value for config key "inference.ensembleWeights": {"ensemble":1}',
                 'ensembleWeights {"ensemble":1} is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.ensembleWeights'', ''{"ensemble": 1}'')'), 'rule: each key must be one of "xgboost", "lstm" (key "ensemble" is not)', 'ensembleWeights {"ensemble":1}: the detail states the rule');
SELECT is(ml_config_get('inference.ensembleWeights'), '{"xgboost": 0.6, "lstm": 0.4}'::jsonb, 'ensembleWeights {"ensemble":1}: inference.ensembleWeights is still {"xgboost": 0.6, "lstm": 0.4}');
SELECT throws_ok('SELECT ml_config_set(''inference.ensembleWeights'', ''{"xgboost": "0.5"}'')', '22023',
                 'invalid value for config key "inference.ensembleWeights": {"xgboost":"0.5"}',
                 'ensembleWeights with a string weight is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.ensembleWeights'', ''{"xgboost": "0.5"}'')'), 'rule: each weight must be a finite number >= 0 (key "xgboost" has "0.5")', 'ensembleWeights with a string weight: the detail states the rule');
SELECT is(ml_config_get('inference.ensembleWeights'), '{"xgboost": 0.6, "lstm": 0.4}'::jsonb, 'ensembleWeights with a string weight: inference.ensembleWeights is still {"xgboost": 0.6, "lstm": 0.4}');
SELECT throws_ok('SELECT ml_config_set(''inference.ensembleWeights'', ''[0.6, 0.4]'')', '22023',
                 'invalid value for config key "inference.ensembleWeights": [0.6,0.4]',
                 'ensembleWeights as an array is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.ensembleWeights'', ''[0.6, 0.4]'')'), 'rule: object: empty (weights are learned) or mapping model types ("xgboost", "lstm") to finite numbers >= 0 with a sum > 0', 'ensembleWeights as an array: the detail states the rule');
SELECT is(ml_config_get('inference.ensembleWeights'), '{"xgboost": 0.6, "lstm": 0.4}'::jsonb, 'ensembleWeights as an array: inference.ensembleWeights is still {"xgboost": 0.6, "lstm": 0.4}');
SELECT throws_ok('SELECT ml_config_set(''inference.ensembleWeights'', ''null'')', '22023',
                 'invalid value for config key "inference.ensembleWeights": null',
                 'ensembleWeights JSON null is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.ensembleWeights'', ''null'')'), 'rule: object: empty (weights are learned) or mapping model types ("xgboost", "lstm") to finite numbers >= 0 with a sum > 0', 'ensembleWeights JSON null: the detail states the rule');
SELECT is(ml_config_get('inference.ensembleWeights'), '{"xgboost": 0.6, "lstm": 0.4}'::jsonb, 'ensembleWeights JSON null: inference.ensembleWeights is still {"xgboost": 0.6, "lstm": 0.4}');

-- horizons
SELECT throws_ok('SELECT ml_config_set(''training.forecastHorizons'', ''[0]'')', '22023',
                 'invalid value for config key "training.forecastHorizons": [0]',
                 'forecastHorizons [0] is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.forecastHorizons'', ''[0]'')'), 'rule: each element must be an integer between 1 and 10080 (element 1 0 is not)', 'forecastHorizons [0]: the detail states the rule');
SELECT is(ml_config_get('training.forecastHorizons'), '[5, 15, 30, 60]'::jsonb, 'forecastHorizons [0]: training.forecastHorizons is still [5, 15, 30, 60]');
SELECT throws_ok('SELECT ml_config_set(''training.forecastHorizons'', ''[5, 15, 5]'')', '22023',
                 'invalid value for config key "training.forecastHorizons": [5,15,5]',
                 'forecastHorizons with a duplicated horizon is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.forecastHorizons'', ''[5, 15, 5]'')'), 'rule: each element must be unique (element 3 5 repeats element 1)', 'forecastHorizons with a duplicated horizon: the detail states the rule');
SELECT is(ml_config_get('training.forecastHorizons'), '[5, 15, 30, 60]'::jsonb, 'forecastHorizons with a duplicated horizon: training.forecastHorizons is still [5, 15, 30, 60]');
SELECT throws_ok('SELECT ml_config_set(''training.forecastHorizons'', ''[5, 15.5]'')', '22023',
                 'invalid value for config key "training.forecastHorizons": [5,15.5]',
                 'forecastHorizons with a fractional horizon is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.forecastHorizons'', ''[5, 15.5]'')'), 'rule: each element must be an integer between 1 and 10080 (element 2 15.5 is not)', 'forecastHorizons with a fractional horizon: the detail states the rule');
SELECT is(ml_config_get('training.forecastHorizons'), '[5, 15, 30, 60]'::jsonb, 'forecastHorizons with a fractional horizon: training.forecastHorizons is still [5, 15, 30, 60]');
SELECT throws_ok('SELECT ml_config_set(''training.forecastHorizons'', ''[5, -15]'')', '22023',
                 'invalid value for config key "training.forecastHorizons": [5,-15]',
                 'forecastHorizons with a negative horizon is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.forecastHorizons'', ''[5, -15]'')'), 'rule: each element must be an integer between 1 and 10080 (element 2 -15 is not)', 'forecastHorizons with a negative horizon: the detail states the rule');
SELECT is(ml_config_get('training.forecastHorizons'), '[5, 15, 30, 60]'::jsonb, 'forecastHorizons with a negative horizon: training.forecastHorizons is still [5, 15, 30, 60]');
SELECT throws_ok('SELECT ml_config_set(''training.forecastHorizons'', ''[10081]'')', '22023',
                 'invalid value for config key "training.forecastHorizons": [10081]',
                 'forecastHorizons beyond a week is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.forecastHorizons'', ''[10081]'')'), 'rule: each element must be an integer between 1 and 10080 (element 1 10081 is not)', 'forecastHorizons beyond a week: the detail states the rule');
SELECT is(ml_config_get('training.forecastHorizons'), '[5, 15, 30, 60]'::jsonb, 'forecastHorizons beyond a week: training.forecastHorizons is still [5, 15, 30, 60]');
SELECT throws_ok('SELECT ml_config_set(''training.forecastHorizons'', ''["5"]'')', '22023',
                 'invalid value for config key "training.forecastHorizons": ["5"]',
                 'forecastHorizons with a string horizon is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.forecastHorizons'', ''["5"]'')'), 'rule: each element must be an integer between 1 and 10080 (element 1 "5" is not)', 'forecastHorizons with a string horizon: the detail states the rule');
SELECT is(ml_config_get('training.forecastHorizons'), '[5, 15, 30, 60]'::jsonb, 'forecastHorizons with a string horizon: training.forecastHorizons is still [5, 15, 30, 60]');
SELECT throws_ok('SELECT ml_config_set(''training.forecastHorizons'', ''5'')', '22023',
                 'invalid value for config key "training.forecastHorizons": 5',
                 'forecastHorizons as a single number is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.forecastHorizons'', ''5'')'), 'rule: non-empty array of unique integers, each between 1 and 10080', 'forecastHorizons as a single number: the detail states the rule');
SELECT is(ml_config_get('training.forecastHorizons'), '[5, 15, 30, 60]'::jsonb, 'forecastHorizons as a single number: training.forecastHorizons is still [5, 15, 30, 60]');
SELECT throws_ok('SELECT ml_config_set(''forecasting.horizons'', ''[]'')', '22023',
                 'invalid value for config key "forecasting.horizons": []',
                 'an empty forecasting.horizons is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''forecasting.horizons'', ''[]'')'), 'rule: non-empty array of unique integers, each between 1 and 10080 (the array is empty)', 'an empty forecasting.horizons: the detail states the rule');
SELECT is(ml_config_get('forecasting.horizons'), '[5, 15, 30, 60, 240, 1440]'::jsonb, 'an empty forecasting.horizons: forecasting.horizons is still [5, 15, 30, 60, 240, 1440]');
SELECT throws_ok('SELECT ml_config_set(''forecasting.horizons'', ''[0]'')', '22023',
                 'invalid value for config key "forecasting.horizons": [0]',
                 'forecasting.horizons [0] is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''forecasting.horizons'', ''[0]'')'), 'rule: each element must be an integer between 1 and 10080 (element 1 0 is not)', 'forecasting.horizons [0]: the detail states the rule');
SELECT is(ml_config_get('forecasting.horizons'), '[5, 15, 30, 60, 240, 1440]'::jsonb, 'forecasting.horizons [0]: forecasting.horizons is still [5, 15, 30, 60, 240, 1440]');
SELECT throws_ok('SELECT ml_config_set(''forecasting.horizons'', ''[60, 60]'')', '22023',
                 'invalid value for config key "forecasting.horizons": [60,60]',
                 'forecasting.horizons with a duplicated horizon is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''forecasting.horizons'', ''[60, 60]'')'), 'rule: each element must be unique (element 2 60 repeats element 1)', 'forecasting.horizons with a duplicated horizon: the detail states the rule');
SELECT is(ml_config_get('forecasting.horizons'), '[5, 15, 30, 60, 240, 1440]'::jsonb, 'forecasting.horizons with a duplicated horizon: forecasting.horizons is still [5, 15, 30, 60, 240, 1440]');

-- other careless values
SELECT throws_ok('SELECT ml_config_set(''system.environment'', ''"Production"'')', '22023',
                 'invalid value for config key "system.environment": "Production"',
                 'environment "Production" (wrong case) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''system.environment'', ''"Production"'')'), 'rule: one of "development", "production"', 'environment "Production" (wrong case): the detail states the rule');
SELECT is(ml_config_get('system.environment'), '"production"'::jsonb, 'environment "Production" (wrong case): system.environment is still "production"');
SELECT throws_ok('SELECT ml_config_set(''system.environment'', ''"staging"'')', '22023',
                 'invalid value for config key "system.environment": "staging"',
                 'environment "staging" is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''system.environment'', ''"staging"'')'), 'rule: one of "development", "production"', 'environment "staging": the detail states the rule');
SELECT is(ml_config_get('system.environment'), '"production"'::jsonb, 'environment "staging": system.environment is still "production"');
SELECT throws_ok('SELECT ml_config_set(''system.logLevel'', ''"warn"'')', '22023',
                 'invalid value for config key "system.logLevel": "warn"',
                 'logLevel "warn" is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''system.logLevel'', ''"warn"'')'), 'rule: one of "debug", "info", "warning", "error"', 'logLevel "warn": the detail states the rule');
SELECT is(ml_config_get('system.logLevel'), '"info"'::jsonb, 'logLevel "warn": system.logLevel is still "info"');
SELECT throws_ok('SELECT ml_config_set(''system.logLevel'', ''null'')', '22023',
                 'invalid value for config key "system.logLevel": null',
                 'logLevel JSON null is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''system.logLevel'', ''null'')'), 'rule: one of "debug", "info", "warning", "error"', 'logLevel JSON null: the detail states the rule');
SELECT is(ml_config_get('system.logLevel'), '"info"'::jsonb, 'logLevel JSON null: system.logLevel is still "info"');
SELECT throws_ok('SELECT ml_config_set(''system.enableRecovery'', ''"true"'')', '22023',
                 'invalid value for config key "system.enableRecovery": "true"',
                 'enableRecovery "true" (a string) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''system.enableRecovery'', ''"true"'')'), 'rule: boolean (true or false)', 'enableRecovery "true" (a string): the detail states the rule');
SELECT is(ml_config_get('system.enableRecovery'), 'true'::jsonb, 'enableRecovery "true" (a string): system.enableRecovery is still true');
SELECT throws_ok('SELECT ml_config_set(''inference.predictionCache'', ''1'')', '22023',
                 'invalid value for config key "inference.predictionCache": 1',
                 'predictionCache 1 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.predictionCache'', ''1'')'), 'rule: boolean (true or false)', 'predictionCache 1: the detail states the rule');
SELECT is(ml_config_get('inference.predictionCache'), 'true'::jsonb, 'predictionCache 1: inference.predictionCache is still true');
SELECT throws_ok('SELECT ml_config_set(''system.maxConcurrentWorkers'', ''0'')', '22023',
                 'invalid value for config key "system.maxConcurrentWorkers": 0',
                 'maxConcurrentWorkers 0 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''system.maxConcurrentWorkers'', ''0'')'), 'rule: integer between 1 and 64', 'maxConcurrentWorkers 0: the detail states the rule');
SELECT is(ml_config_get('system.maxConcurrentWorkers'), '4'::jsonb, 'maxConcurrentWorkers 0: system.maxConcurrentWorkers is still 4');
SELECT throws_ok('SELECT ml_config_set(''system.maxConcurrentWorkers'', ''65'')', '22023',
                 'invalid value for config key "system.maxConcurrentWorkers": 65',
                 'maxConcurrentWorkers 65 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''system.maxConcurrentWorkers'', ''65'')'), 'rule: integer between 1 and 64', 'maxConcurrentWorkers 65: the detail states the rule');
SELECT is(ml_config_get('system.maxConcurrentWorkers'), '4'::jsonb, 'maxConcurrentWorkers 65: system.maxConcurrentWorkers is still 4');
SELECT throws_ok('SELECT ml_config_set(''inference.confidenceThreshold'', ''101'')', '22023',
                 'invalid value for config key "inference.confidenceThreshold": 101',
                 'confidenceThreshold 101 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.confidenceThreshold'', ''101'')'), 'rule: number between 0 and 100', 'confidenceThreshold 101: the detail states the rule');
SELECT is(ml_config_get('inference.confidenceThreshold'), '60'::jsonb, 'confidenceThreshold 101: inference.confidenceThreshold is still 60');
SELECT throws_ok('SELECT ml_config_set(''inference.maxPredictionAge'', ''-1'')', '22023',
                 'invalid value for config key "inference.maxPredictionAge": -1',
                 'maxPredictionAge -1 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''inference.maxPredictionAge'', ''-1'')'), 'rule: integer between 0 and 86400 (seconds)', 'maxPredictionAge -1: the detail states the rule');
SELECT is(ml_config_get('inference.maxPredictionAge'), '300'::jsonb, 'maxPredictionAge -1: inference.maxPredictionAge is still 300');
SELECT throws_ok('SELECT ml_config_set(''forecasting.confidenceDecay'', ''0'')', '22023',
                 'invalid value for config key "forecasting.confidenceDecay": 0',
                 'confidenceDecay 0 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''forecasting.confidenceDecay'', ''0'')'), 'rule: number greater than 0 and at most 1', 'confidenceDecay 0: the detail states the rule');
SELECT is(ml_config_get('forecasting.confidenceDecay'), '0.95'::jsonb, 'confidenceDecay 0: forecasting.confidenceDecay is still 0.95');
SELECT throws_ok('SELECT ml_config_set(''forecasting.confidenceDecay'', ''1.01'')', '22023',
                 'invalid value for config key "forecasting.confidenceDecay": 1.01',
                 'confidenceDecay 1.01 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''forecasting.confidenceDecay'', ''1.01'')'), 'rule: number greater than 0 and at most 1', 'confidenceDecay 1.01: the detail states the rule');
SELECT is(ml_config_get('forecasting.confidenceDecay'), '0.95'::jsonb, 'confidenceDecay 1.01: forecasting.confidenceDecay is still 0.95');
SELECT throws_ok('SELECT ml_config_set(''features.bollingerStdDev'', ''0'')', '22023',
                 'invalid value for config key "features.bollingerStdDev": 0',
                 'bollingerStdDev 0 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''features.bollingerStdDev'', ''0'')'), 'rule: number greater than 0 and at most 10', 'bollingerStdDev 0: the detail states the rule');
SELECT is(ml_config_get('features.bollingerStdDev'), '2.5'::jsonb, 'bollingerStdDev 0: features.bollingerStdDev is still 2.5');
SELECT throws_ok('SELECT ml_config_set(''monitoring.completenessThreshold'', ''95'')', '22023',
                 'invalid value for config key "monitoring.completenessThreshold": 95',
                 'completenessThreshold 95 (a percentage instead of a fraction) is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''monitoring.completenessThreshold'', ''95'')'), 'rule: number between 0 and 1', 'completenessThreshold 95 (a percentage instead of a fraction): the detail states the rule');
SELECT is(ml_config_get('monitoring.completenessThreshold'), '0.95'::jsonb, 'completenessThreshold 95 (a percentage instead of a fraction): monitoring.completenessThreshold is still 0.95');
SELECT throws_ok('SELECT ml_config_set(''monitoring.alertThresholds.staleData'', ''0'')', '22023',
                 'invalid value for config key "monitoring.alertThresholds.staleData": 0',
                 'staleData 0 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''monitoring.alertThresholds.staleData'', ''0'')'), 'rule: integer between 1 and 604800 (seconds)', 'staleData 0: the detail states the rule');
SELECT is(ml_config_get('monitoring.alertThresholds.staleData'), '300'::jsonb, 'staleData 0: monitoring.alertThresholds.staleData is still 300');
SELECT throws_ok('SELECT ml_config_set(''monitoring.alertThresholds.staleData'', ''"5m"'')', '22023',
                 'invalid value for config key "monitoring.alertThresholds.staleData": "5m"',
                 'staleData "5m" is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''monitoring.alertThresholds.staleData'', ''"5m"'')'), 'rule: integer between 1 and 604800 (seconds)', 'staleData "5m": the detail states the rule');
SELECT is(ml_config_get('monitoring.alertThresholds.staleData'), '300'::jsonb, 'staleData "5m": monitoring.alertThresholds.staleData is still 300');
SELECT throws_ok('SELECT ml_config_set(''training.windowSize'', ''9'')', '22023',
                 'invalid value for config key "training.windowSize": 9',
                 'windowSize 9 is rejected');
SELECT is(pg_temp.error_detail('SELECT ml_config_set(''training.windowSize'', ''9'')'), 'rule: integer between 10 and 10000000 (minutes)', 'windowSize 9: the detail states the rule');
SELECT is(ml_config_get('training.windowSize'), '600'::jsonb, 'windowSize 9: training.windowSize is still 600');
SELECT is(ml_config_set('inference.maxPredictionAge', '0'), '0'::jsonb, 'maxPredictionAge accepts 0 (its lower bound)');

-- features.featureSet, features.crossMarketSymbols, monitoring.anomalyThreshold/anomalyWindow (0.8.0).
-- symbols is ["BTCUSDT", "ETHUSDT"] here. Every refusal stores nothing.
SELECT throws_ok($$SELECT ml_config_set('features.featureSet', '0')$$, '22023', 'invalid value for config key "features.featureSet": 0', 'featureSet 0 is rejected');
SELECT throws_ok($$SELECT ml_config_set('features.featureSet', '3')$$, '22023', 'invalid value for config key "features.featureSet": 3', 'featureSet 3 is rejected');
SELECT is(pg_temp.error_detail($$SELECT ml_config_set('features.featureSet', '3')$$), 'rule: integer between 1 and 2 (feature set version)', 'featureSet 3: the detail states the rule');
SELECT throws_ok($$SELECT ml_config_set('features.crossMarketSymbols', '["DOGEUSDT"]')$$, '22023',
                 'invalid config: features.crossMarketSymbols names "DOGEUSDT", which is not in symbols',
                 'an explicit leader that is not a configured symbol is rejected, naming it');
SELECT is(pg_temp.error_detail($$SELECT ml_config_set('features.crossMarketSymbols', '["DOGEUSDT"]')$$),
          'rule: every features.crossMarketSymbols entry is one of the configured symbols ["BTCUSDT","ETHUSDT"]',
          'leader DOGEUSDT: the detail states the rule and the configured symbols');
SELECT is(pg_temp.error_hint($$SELECT ml_config_set('features.crossMarketSymbols', '["DOGEUSDT"]')$$), 'add the symbol to symbols first',
          'leader DOGEUSDT: the hint says what to do');
SELECT throws_ok($$SELECT ml_config_set('features.crossMarketSymbols', '["BTCUSDT", "ETHUSDT", "SOLUSDT"]')$$, '22023',
                 'invalid value for config key "features.crossMarketSymbols": ["BTCUSDT","ETHUSDT","SOLUSDT"]', 'three leaders are rejected');
SELECT is(pg_temp.error_detail($$SELECT ml_config_set('features.crossMarketSymbols', '["BTCUSDT", "ETHUSDT", "SOLUSDT"]')$$),
          'rule: non-empty array of at most 2 unique strings, each matching ^[A-Z0-9]{2,20}$ (feature set 2''s lead1 and lead2) (got 3 elements)',
          'three leaders: the detail states the rule');
SELECT throws_ok($$SELECT ml_config_set('monitoring.anomalyThreshold', '0.99')$$, '22023', 'invalid value for config key "monitoring.anomalyThreshold": 0.99', 'anomalyThreshold 0.99 (< 1) is rejected');
SELECT throws_ok($$SELECT ml_config_set('monitoring.anomalyThreshold', '1000.5')$$, '22023', 'invalid value for config key "monitoring.anomalyThreshold": 1000.5', 'anomalyThreshold 1000.5 (> 1000) is rejected');
SELECT is(pg_temp.error_detail($$SELECT ml_config_set('monitoring.anomalyThreshold', '0.99')$$), 'rule: number between 1 and 1000', 'anomalyThreshold 0.99: the detail states the rule');
SELECT throws_ok($$SELECT ml_config_set('monitoring.anomalyWindow', '29')$$, '22023', 'invalid value for config key "monitoring.anomalyWindow": 29', 'anomalyWindow 29 (< 30) is rejected');
SELECT throws_ok($$SELECT ml_config_set('monitoring.anomalyWindow', '10081')$$, '22023', 'invalid value for config key "monitoring.anomalyWindow": 10081', 'anomalyWindow 10081 (> 10080) is rejected');
SELECT is(pg_temp.error_detail($$SELECT ml_config_set('monitoring.anomalyWindow', '10081')$$), 'rule: integer between 30 and 10080 (bars)', 'anomalyWindow 10081: the detail states the rule');
SELECT is_empty($$SELECT path FROM cryptoml_internal.config WHERE path IN ('features.featureSet', 'features.crossMarketSymbols', 'monitoring.anomalyThreshold', 'monitoring.anomalyWindow')$$,
                'the rejected featureSet, leaders and anomaly values stored nothing');
SELECT is(ml_config_get('features.crossMarketSymbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'after the rejected leaders crossMarketSymbols is still the default');
SELECT is(ml_config_set('monitoring.anomalyThreshold', '1'), '1'::jsonb, 'anomalyThreshold accepts its lower bound 1');
SELECT is(ml_config_set('monitoring.anomalyThreshold', '1000'), '1000'::jsonb, 'anomalyThreshold accepts its upper bound 1000');
SELECT is(ml_config_set('monitoring.anomalyWindow', '30'), '30'::jsonb, 'anomalyWindow accepts its lower bound 30');
SELECT is(ml_config_set('monitoring.anomalyWindow', '10080'), '10080'::jsonb, 'anomalyWindow accepts its upper bound 10080');
SELECT is(ml_config_reset('monitoring.anomalyThreshold'), '12'::jsonb, 'anomalyThreshold reset to 12');
SELECT is(ml_config_reset('monitoring.anomalyWindow'), '240'::jsonb, 'anomalyWindow reset to 240');
-- With the default leaders, symbols may shrink below them (set 2 refuses such a configuration when used).
SELECT is(ml_config_set('symbols', '["BTCUSDT"]'), '["BTCUSDT"]'::jsonb, 'symbols may drop ETHUSDT while the leaders are the default pair');
SELECT throws_ok($$SELECT ml_config_set('features.crossMarketSymbols', '["BTCUSDT", "ETHUSDT"]')$$, '22023',
                 'invalid config: features.crossMarketSymbols names "ETHUSDT", which is not in symbols',
                 'the default pair set explicitly while symbols lacks ETHUSDT is rejected');
SELECT is(pg_temp.error_detail($$SELECT ml_config_set('features.crossMarketSymbols', '["BTCUSDT", "ETHUSDT"]')$$),
          'rule: every features.crossMarketSymbols entry is one of the configured symbols ["BTCUSDT"]', 'explicit default pair: the detail states the rule');
SELECT is_empty($$SELECT path FROM cryptoml_internal.config WHERE path = 'features.crossMarketSymbols'$$, 'the rejected explicit pair stored nothing');
SELECT is(ml_config_set('symbols', '["BTCUSDT", "ETHUSDT"]'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'symbols back to ["BTCUSDT", "ETHUSDT"]');
-- Explicit leaders then hold symbols to them.
SELECT is(ml_config_set('features.crossMarketSymbols', '["ETHUSDT"]'), '["ETHUSDT"]'::jsonb, 'an explicit configured leader is accepted');
SELECT throws_ok($$SELECT ml_config_set('symbols', '["BTCUSDT"]')$$, '22023',
                 'invalid config: features.crossMarketSymbols names "ETHUSDT", which is not in symbols',
                 'symbols may not drop an explicit leader');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'after the rejected symbols change symbols is still ["BTCUSDT", "ETHUSDT"]');
SELECT is(ml_config_reset('features.crossMarketSymbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'crossMarketSymbols reset to the default pair');
SELECT is(ml_config_set('inference.maxPredictionAge', '300'), '300'::jsonb, 'maxPredictionAge set back to 300');
SELECT set_eq('SELECT path, value FROM cryptoml_internal.config',
  $$VALUES ('features.rsiPeriod', '21'::jsonb), ('symbols', '["BTCUSDT", "ETHUSDT"]'), ('training.validationSplit', '0.25'),
           ('inference.ensembleWeights', '{"xgboost": 0.6, "lstm": 0.4}'), ('features.macdFast', '25'),
           ('system.environment', '"production"'), ('features.bollingerStdDev', '2.5'), ('inference.maxPredictionAge', '300')$$,
  'after all rejections the stored overrides are exactly the accepted ones');

-- ===========================================================================================
-- STRICT: NULL arguments give NULL and change nothing
-- ===========================================================================================
SELECT is(ml_config_set(NULL, '1'), NULL, 'ml_config_set(NULL, value) returns NULL');
SELECT is(ml_config_set('features.rsiPeriod', NULL), NULL, 'ml_config_set(key, NULL) returns NULL');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'ml_config_set(key, NULL) left the key unchanged');
SELECT is(ml_config_get(NULL), NULL, 'ml_config_get(NULL) returns NULL');
SELECT is(ml_config_reset(NULL), NULL, 'ml_config_reset(NULL) returns NULL');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'ml_config_reset(NULL) reset nothing');
SELECT is((SELECT count(*) FROM cryptoml_internal.config), 8::bigint, 'the NULL calls stored and removed nothing');

-- ===========================================================================================
-- Transactions: a change rolled back with its (sub)transaction is gone, also from this session's cache
-- ===========================================================================================
SAVEPOINT before_change;
DO $$ BEGIN PERFORM ml_config_set('features.rsiPeriod', '30'); PERFORM ml_config_get('features.rsiPeriod'); END $$;
ROLLBACK TO SAVEPOINT before_change;
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, 'a set rolled back to a savepoint is gone (ml_config_get)');
SELECT is(ml_config()->'features'->'rsiPeriod', '21'::jsonb, 'a set rolled back to a savepoint is gone (ml_config)');
SELECT is((SELECT value FROM ml_config_keys() WHERE path = 'features.rsiPeriod'), '21'::jsonb, 'a set rolled back to a savepoint is gone (ml_config_keys)');
SAVEPOINT before_reset;
DO $$ BEGIN PERFORM ml_config_reset_all(); PERFORM ml_config(); END $$;
ROLLBACK TO SAVEPOINT before_reset;
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'a reset_all rolled back to a savepoint is gone');
SELECT throws_ok($t$DO $do$ BEGIN PERFORM ml_config_set('features.rsiPeriod', '40'); PERFORM ml_config_get('features.rsiPeriod'); RAISE EXCEPTION 'boom'; END $do$$t$,
                 'P0001', 'boom', 'a block that sets a key and then fails ...');
SELECT is(ml_config_get('features.rsiPeriod'), '21'::jsonb, '... leaves the key as it was');

-- ===========================================================================================
-- Reset
-- ===========================================================================================
SELECT is(ml_config_reset('features.rsiPeriod'), '14'::jsonb, 'ml_config_reset returns the default');
SELECT is(ml_config_get('features.rsiPeriod'), '14'::jsonb, 'ml_config_get shows the default again');
SELECT ok((SELECT is_default FROM ml_config_keys() WHERE path = 'features.rsiPeriod'), 'the reset key is_default again');
SELECT is_empty($$SELECT 1 FROM cryptoml_internal.config WHERE path = 'features.rsiPeriod'$$, 'the reset key has no stored override');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT"]'::jsonb, 'resetting one key leaves the others alone');
SELECT is(ml_config_reset('features.rsiPeriod'), '14'::jsonb, 'resetting a key that is already default returns the default');
-- A reset that would break a cross-key rule is rejected and changes nothing.
SELECT is(ml_config_reset('features.macdFast'), '12'::jsonb, 'macdFast reset to 12');
SELECT is(ml_config_set('features.macdSlow', '40'), '40'::jsonb, 'macdSlow set to 40');
SELECT is(ml_config_set('features.macdFast', '30'), '30'::jsonb, 'macdFast set to 30 (< 40)');
SELECT throws_ok($$SELECT ml_config_reset('features.macdSlow')$$, '22023',
                 'invalid config: features.macdFast (30) must be less than features.macdSlow (26)',
                 'resetting macdSlow to 26 while macdFast is 30 is rejected');
SELECT is(pg_temp.error_detail($$SELECT ml_config_reset('features.macdSlow')$$), 'rule: features.macdFast < features.macdSlow',
          'the rejected reset states the cross-key rule');
SELECT is(ml_config_get('features.macdSlow'), '40'::jsonb, 'after the rejected reset macdSlow is still 40');
SELECT is(ml_config_get('features.macdFast'), '30'::jsonb, 'after the rejected reset macdFast is still 30');
SELECT results_eq($$SELECT value FROM cryptoml_internal.config WHERE path IN ('features.macdFast', 'features.macdSlow') ORDER BY path$$,
                  $$VALUES ('30'::jsonb), ('40'::jsonb)$$, 'after the rejected reset both overrides are still stored');
SELECT is(ml_config_reset('features.macdFast'), '12'::jsonb, 'resetting macdFast first is accepted');
SELECT is(ml_config_reset('features.macdSlow'), '26'::jsonb, '... and then macdSlow');
-- Reset everything.
SELECT is(ml_config_set('system.logLevel', '"debug"'), '"debug"'::jsonb, 'logLevel set to debug');
SELECT isnt(ml_config(), '{
  "system": {"environment": "development", "logLevel": "info", "enableRecovery": true, "maxConcurrentWorkers": 4},
  "data": {"retentionDays": 30, "compressionThreshold": 7, "backfillBatchSize": 1000, "rejectUnknownSymbols": true, "futureToleranceSeconds": 120},
  "features": {"rsiPeriod": 14, "macdFast": 12, "macdSlow": 26, "macdSignal": 9, "bollingerPeriod": 20,
               "bollingerStdDev": 2, "stochasticK": 14, "stochasticD": 3, "volatilityWindow": 5,
               "featureSet": 1, "crossMarketSymbols": ["BTCUSDT", "ETHUSDT"]},
  "training": {"windowSize": 600, "forecastHorizons": [5, 15, 30, 60], "validationSplit": 0.2,
               "modelTypes": ["xgboost", "lstm", "ensemble"], "batchSize": 1000, "maxEpochs": 100,
               "earlyStoppingPatience": 10, "calibrationFolds": 3, "excludeAnomalies": false},
  "inference": {"confidenceThreshold": 60, "ensembleWeights": {}, "predictionCache": true, "maxPredictionAge": 300,
                "intervalCoverage": 0.8, "intervalAdaptRate": 0.005, "skillSignificance": 0.05, "calibrationWindow": 10080},
  "forecasting": {"horizons": [5, 15, 30, 60, 240, 1440], "updateFrequency": 60, "confidenceDecay": 0.95,
                  "marketRegimes": ["trending", "ranging", "volatile"]},
  "monitoring": {"completenessThreshold": 0.95,
                 "alertThresholds": {"missingData": 0.1, "staleData": 300, "invalidValues": 0.05,
                                     "intervalCoverageGap": 0.05, "calibrationError": 0.05},
                 "checkInterval": 60, "anomalyThreshold": 12, "anomalyWindow": 240},
  "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"],
  "exchanges": ["binance-us", "coinbase", "bybit"],
  "trading": {"autoSimulate": false, "horizon": 15},
  "ingest": {"enabled": false, "pollInterval": 60, "initialBackfillMinutes": 1440, "primaryExchange": {},
             "failoverAfter": 3, "timeoutMs": 10000, "backoffBaseMs": 1000, "backoffMaxMs": 60000, "maxPayloadBytes": 4194304,
             "baseUrls": {"binance-us": "https://api.binance.us", "coinbase": "https://api.exchange.coinbase.com",
                          "bybit": "https://api.bybit.com"},
             "rateLimits": {"binance-us": 5, "coinbase": 3, "bybit": 10},
             "symbolMap": {"binance-us": {}, "coinbase": {}, "bybit": {}}}
}'::jsonb, 'before reset_all the configuration differs from the seed');
SELECT is(ml_config_reset_all(), '{
  "system": {"environment": "development", "logLevel": "info", "enableRecovery": true, "maxConcurrentWorkers": 4},
  "data": {"retentionDays": 30, "compressionThreshold": 7, "backfillBatchSize": 1000, "rejectUnknownSymbols": true, "futureToleranceSeconds": 120},
  "features": {"rsiPeriod": 14, "macdFast": 12, "macdSlow": 26, "macdSignal": 9, "bollingerPeriod": 20,
               "bollingerStdDev": 2, "stochasticK": 14, "stochasticD": 3, "volatilityWindow": 5,
               "featureSet": 1, "crossMarketSymbols": ["BTCUSDT", "ETHUSDT"]},
  "training": {"windowSize": 600, "forecastHorizons": [5, 15, 30, 60], "validationSplit": 0.2,
               "modelTypes": ["xgboost", "lstm", "ensemble"], "batchSize": 1000, "maxEpochs": 100,
               "earlyStoppingPatience": 10, "calibrationFolds": 3, "excludeAnomalies": false},
  "inference": {"confidenceThreshold": 60, "ensembleWeights": {}, "predictionCache": true, "maxPredictionAge": 300,
                "intervalCoverage": 0.8, "intervalAdaptRate": 0.005, "skillSignificance": 0.05, "calibrationWindow": 10080},
  "forecasting": {"horizons": [5, 15, 30, 60, 240, 1440], "updateFrequency": 60, "confidenceDecay": 0.95,
                  "marketRegimes": ["trending", "ranging", "volatile"]},
  "monitoring": {"completenessThreshold": 0.95,
                 "alertThresholds": {"missingData": 0.1, "staleData": 300, "invalidValues": 0.05,
                                     "intervalCoverageGap": 0.05, "calibrationError": 0.05},
                 "checkInterval": 60, "anomalyThreshold": 12, "anomalyWindow": 240},
  "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"],
  "exchanges": ["binance-us", "coinbase", "bybit"],
  "trading": {"autoSimulate": false, "horizon": 15},
  "ingest": {"enabled": false, "pollInterval": 60, "initialBackfillMinutes": 1440, "primaryExchange": {},
             "failoverAfter": 3, "timeoutMs": 10000, "backoffBaseMs": 1000, "backoffMaxMs": 60000, "maxPayloadBytes": 4194304,
             "baseUrls": {"binance-us": "https://api.binance.us", "coinbase": "https://api.exchange.coinbase.com",
                          "bybit": "https://api.bybit.com"},
             "rateLimits": {"binance-us": 5, "coinbase": 3, "bybit": 10},
             "symbolMap": {"binance-us": {}, "coinbase": {}, "bybit": {}}}
}'::jsonb,
          'ml_config_reset_all returns the seed configuration');
SELECT is(ml_config(), '{
  "system": {"environment": "development", "logLevel": "info", "enableRecovery": true, "maxConcurrentWorkers": 4},
  "data": {"retentionDays": 30, "compressionThreshold": 7, "backfillBatchSize": 1000, "rejectUnknownSymbols": true, "futureToleranceSeconds": 120},
  "features": {"rsiPeriod": 14, "macdFast": 12, "macdSlow": 26, "macdSignal": 9, "bollingerPeriod": 20,
               "bollingerStdDev": 2, "stochasticK": 14, "stochasticD": 3, "volatilityWindow": 5,
               "featureSet": 1, "crossMarketSymbols": ["BTCUSDT", "ETHUSDT"]},
  "training": {"windowSize": 600, "forecastHorizons": [5, 15, 30, 60], "validationSplit": 0.2,
               "modelTypes": ["xgboost", "lstm", "ensemble"], "batchSize": 1000, "maxEpochs": 100,
               "earlyStoppingPatience": 10, "calibrationFolds": 3, "excludeAnomalies": false},
  "inference": {"confidenceThreshold": 60, "ensembleWeights": {}, "predictionCache": true, "maxPredictionAge": 300,
                "intervalCoverage": 0.8, "intervalAdaptRate": 0.005, "skillSignificance": 0.05, "calibrationWindow": 10080},
  "forecasting": {"horizons": [5, 15, 30, 60, 240, 1440], "updateFrequency": 60, "confidenceDecay": 0.95,
                  "marketRegimes": ["trending", "ranging", "volatile"]},
  "monitoring": {"completenessThreshold": 0.95,
                 "alertThresholds": {"missingData": 0.1, "staleData": 300, "invalidValues": 0.05,
                                     "intervalCoverageGap": 0.05, "calibrationError": 0.05},
                 "checkInterval": 60, "anomalyThreshold": 12, "anomalyWindow": 240},
  "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"],
  "exchanges": ["binance-us", "coinbase", "bybit"],
  "trading": {"autoSimulate": false, "horizon": 15},
  "ingest": {"enabled": false, "pollInterval": 60, "initialBackfillMinutes": 1440, "primaryExchange": {},
             "failoverAfter": 3, "timeoutMs": 10000, "backoffBaseMs": 1000, "backoffMaxMs": 60000, "maxPayloadBytes": 4194304,
             "baseUrls": {"binance-us": "https://api.binance.us", "coinbase": "https://api.exchange.coinbase.com",
                          "bybit": "https://api.bybit.com"},
             "rateLimits": {"binance-us": 5, "coinbase": 3, "bybit": 10},
             "symbolMap": {"binance-us": {}, "coinbase": {}, "bybit": {}}}
}'::jsonb,
          'after ml_config_reset_all ml_config() is the seed configuration');
SELECT is(ml_config_get('system.logLevel'), '"info"'::jsonb, 'after ml_config_reset_all logLevel is info again');
SELECT is(ml_config_get('symbols'), '["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"]'::jsonb, 'after ml_config_reset_all symbols are the six seed symbols');
SELECT ok((SELECT bool_and(is_default) AND count(*) = 72 FROM ml_config_keys()), 'after ml_config_reset_all all 72 keys are default');
SELECT is_empty('SELECT path FROM cryptoml_internal.config', 'after ml_config_reset_all no override is stored');
SELECT is(ml_config_reset_all(), ml_config(), 'ml_config_reset_all on a default configuration is harmless');

-- ===========================================================================================
-- Audit: an accepted change is logged to systemLogs (category config), a rejected one is not
-- ===========================================================================================
SELECT is(ml_config_set('features.volatilityWindow', '7'), '7'::jsonb, 'volatilityWindow set to 7');
SELECT throws_ok($$SELECT ml_config_set('features.volatilityWindow', '1')$$, '22023', NULL, 'volatilityWindow 1 is rejected');
SELECT ok(ml_log_flush(10000), 'the audit entries are written');
SELECT results_eq($$SELECT category::text, subcategory::text, level::text, context FROM systemLogs
                    WHERE id > (SELECT id FROM log_mark) AND context->>'path' = 'features.volatilityWindow' ORDER BY id$$,
  $$VALUES ('config', 'set', 'info', jsonb_build_object('path', 'features.volatilityWindow', 'old', 5, 'new', 7, 'by', current_user::text))$$,
  'exactly one audit entry for volatilityWindow: the accepted change from 5 to 7');

-- ===========================================================================================
-- Who may change the configuration: owner and admin only (docs/roles.md)
-- ===========================================================================================
CREATE ROLE cml_pgtap_cfg_nobody NOLOGIN;
CREATE ROLE cml_pgtap_cfg_writer NOLOGIN;
CREATE ROLE cml_pgtap_cfg_admin NOLOGIN;
SELECT ml_grant_access('cml_pgtap_cfg_writer', 'writer') IS NULL AS granted \gset
SELECT ml_grant_access('cml_pgtap_cfg_admin', 'admin') IS NULL AS granted \gset
SELECT ok(NOT has_function_privilege('cml_pgtap_cfg_nobody', 'ml_config_set(text, jsonb)', 'EXECUTE'), 'nobody may not execute ml_config_set(text, jsonb)');
SELECT ok(NOT has_function_privilege('cml_pgtap_cfg_nobody', 'ml_config_reset(text)', 'EXECUTE'), 'nobody may not execute ml_config_reset(text)');
SELECT ok(NOT has_function_privilege('cml_pgtap_cfg_nobody', 'ml_config_reset_all()', 'EXECUTE'), 'nobody may not execute ml_config_reset_all()');
SELECT ok(NOT has_function_privilege('cml_pgtap_cfg_writer', 'ml_config_set(text, jsonb)', 'EXECUTE'), 'writer may not execute ml_config_set(text, jsonb)');
SELECT ok(NOT has_function_privilege('cml_pgtap_cfg_writer', 'ml_config_reset(text)', 'EXECUTE'), 'writer may not execute ml_config_reset(text)');
SELECT ok(NOT has_function_privilege('cml_pgtap_cfg_writer', 'ml_config_reset_all()', 'EXECUTE'), 'writer may not execute ml_config_reset_all()');
SELECT ok(has_function_privilege('cml_pgtap_cfg_admin', 'ml_config_set(text, jsonb)', 'EXECUTE'), 'admin may execute ml_config_set(text, jsonb)');
SELECT ok(has_function_privilege('cml_pgtap_cfg_admin', 'ml_config_reset(text)', 'EXECUTE'), 'admin may execute ml_config_reset(text)');
SELECT ok(has_function_privilege('cml_pgtap_cfg_admin', 'ml_config_reset_all()', 'EXECUTE'), 'admin may execute ml_config_reset_all()');
SELECT ok(has_function_privilege('cml_pgtap_cfg_nobody', 'ml_config()', 'EXECUTE'), 'everyone may execute ml_config()');
SELECT ok(has_function_privilege('cml_pgtap_cfg_nobody', 'ml_config_get(text)', 'EXECUTE'), 'everyone may execute ml_config_get(text)');
SELECT ok(has_function_privilege('cml_pgtap_cfg_nobody', 'ml_config_keys()', 'EXECUTE'), 'everyone may execute ml_config_keys()');
SELECT ok(NOT has_schema_privilege('cml_pgtap_cfg_writer', 'cryptoml_internal', 'USAGE'), 'a writer cannot reach cryptoml_internal.config directly');
SELECT is_definer('ml_config_set', ARRAY['text', 'jsonb'], 'ml_config_set is SECURITY DEFINER (admins need no table privilege)');
SELECT is_strict('ml_config_set', ARRAY['text', 'jsonb'], 'ml_config_set is STRICT');
SELECT is_strict('ml_config_get', ARRAY['text'], 'ml_config_get is STRICT');

SELECT * FROM finish();
ROLLBACK;
