-- pgTAP: the seven seed tables of cryptoml (shared/seed/ml-infrastructure.md, "Database Schema").
-- Every seed column: exists, exact type, NULL/NOT NULL, default (or none). Columns added beyond the
-- seed are marked "(added)". Then the added constraints and indexes: they exist and they work.
-- pgTAP calls name the tables as PostgreSQL stores them (lowercase, the seed's names are unquoted).
-- Everything runs in one transaction that is rolled back.
BEGIN;
SET client_min_messages = warning;
SELECT plan(498);

-- ---- rollingChartData (rollingchartdata) --------------------------------------
SELECT has_table('rollingchartdata', 'rollingChartData exists');
SELECT has_pk('rollingchartdata', 'rollingChartData has a primary key');
SELECT col_is_pk('rollingchartdata', 'id', 'rollingChartData.id is the primary key');
SELECT has_sequence('rollingchartdata_id_seq', 'rollingChartData.id is SERIAL (sequence rollingchartdata_id_seq)');
SELECT columns_are('rollingchartdata', ARRAY['id', 'symbol', 'timestamp', 'open', 'high', 'low', 'close', 'volume', 'rsi', 'macd', 'bollinger_upper', 'bollinger_lower', 'stochastic_k', 'stochastic_d', 'volatility', 'is_complete', 'created_at', 'macd_signal', 'macd_hist', 'bollinger_middle', 'source'], 'rollingChartData has exactly the seed columns plus the documented additions');
-- id
SELECT has_column('rollingchartdata', 'id', 'rollingChartData.id exists');
SELECT col_type_is('rollingchartdata', 'id', 'integer', 'rollingChartData.id is integer');
SELECT col_not_null('rollingchartdata', 'id', 'rollingChartData.id is NOT NULL');
SELECT col_default_is('rollingchartdata', 'id', 'nextval(''rollingchartdata_id_seq''::regclass)', 'rollingChartData.id defaults to its sequence');
-- symbol
SELECT has_column('rollingchartdata', 'symbol', 'rollingChartData.symbol exists');
SELECT col_type_is('rollingchartdata', 'symbol', 'character varying(20)', 'rollingChartData.symbol is character varying(20)');
SELECT col_not_null('rollingchartdata', 'symbol', 'rollingChartData.symbol is NOT NULL');
SELECT col_hasnt_default('rollingchartdata', 'symbol', 'rollingChartData.symbol has no default');
-- timestamp
SELECT has_column('rollingchartdata', 'timestamp', 'rollingChartData.timestamp exists');
SELECT col_type_is('rollingchartdata', 'timestamp', 'timestamp without time zone', 'rollingChartData.timestamp is timestamp without time zone');
SELECT col_not_null('rollingchartdata', 'timestamp', 'rollingChartData.timestamp is NOT NULL');
SELECT col_hasnt_default('rollingchartdata', 'timestamp', 'rollingChartData.timestamp has no default');
-- open
SELECT has_column('rollingchartdata', 'open', 'rollingChartData.open exists');
SELECT col_type_is('rollingchartdata', 'open', 'numeric(20,8)', 'rollingChartData.open is numeric(20,8)');
SELECT col_is_null('rollingchartdata', 'open', 'rollingChartData.open allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'open', 'rollingChartData.open has no default');
-- high
SELECT has_column('rollingchartdata', 'high', 'rollingChartData.high exists');
SELECT col_type_is('rollingchartdata', 'high', 'numeric(20,8)', 'rollingChartData.high is numeric(20,8)');
SELECT col_is_null('rollingchartdata', 'high', 'rollingChartData.high allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'high', 'rollingChartData.high has no default');
-- low
SELECT has_column('rollingchartdata', 'low', 'rollingChartData.low exists');
SELECT col_type_is('rollingchartdata', 'low', 'numeric(20,8)', 'rollingChartData.low is numeric(20,8)');
SELECT col_is_null('rollingchartdata', 'low', 'rollingChartData.low allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'low', 'rollingChartData.low has no default');
-- close
SELECT has_column('rollingchartdata', 'close', 'rollingChartData.close exists');
SELECT col_type_is('rollingchartdata', 'close', 'numeric(20,8)', 'rollingChartData.close is numeric(20,8)');
SELECT col_is_null('rollingchartdata', 'close', 'rollingChartData.close allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'close', 'rollingChartData.close has no default');
-- volume
SELECT has_column('rollingchartdata', 'volume', 'rollingChartData.volume exists');
SELECT col_type_is('rollingchartdata', 'volume', 'numeric(20,8)', 'rollingChartData.volume is numeric(20,8)');
SELECT col_is_null('rollingchartdata', 'volume', 'rollingChartData.volume allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'volume', 'rollingChartData.volume has no default');
-- rsi
SELECT has_column('rollingchartdata', 'rsi', 'rollingChartData.rsi exists');
SELECT col_type_is('rollingchartdata', 'rsi', 'numeric(10,4)', 'rollingChartData.rsi is numeric(10,4)');
SELECT col_is_null('rollingchartdata', 'rsi', 'rollingChartData.rsi allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'rsi', 'rollingChartData.rsi has no default');
-- macd
SELECT has_column('rollingchartdata', 'macd', 'rollingChartData.macd exists');
SELECT col_type_is('rollingchartdata', 'macd', 'numeric(15,8)', 'rollingChartData.macd is numeric(15,8)');
SELECT col_is_null('rollingchartdata', 'macd', 'rollingChartData.macd allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'macd', 'rollingChartData.macd has no default');
-- bollinger_upper
SELECT has_column('rollingchartdata', 'bollinger_upper', 'rollingChartData.bollinger_upper exists');
SELECT col_type_is('rollingchartdata', 'bollinger_upper', 'numeric(20,8)', 'rollingChartData.bollinger_upper is numeric(20,8)');
SELECT col_is_null('rollingchartdata', 'bollinger_upper', 'rollingChartData.bollinger_upper allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'bollinger_upper', 'rollingChartData.bollinger_upper has no default');
-- bollinger_lower
SELECT has_column('rollingchartdata', 'bollinger_lower', 'rollingChartData.bollinger_lower exists');
SELECT col_type_is('rollingchartdata', 'bollinger_lower', 'numeric(20,8)', 'rollingChartData.bollinger_lower is numeric(20,8)');
SELECT col_is_null('rollingchartdata', 'bollinger_lower', 'rollingChartData.bollinger_lower allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'bollinger_lower', 'rollingChartData.bollinger_lower has no default');
-- stochastic_k
SELECT has_column('rollingchartdata', 'stochastic_k', 'rollingChartData.stochastic_k exists');
SELECT col_type_is('rollingchartdata', 'stochastic_k', 'numeric(10,4)', 'rollingChartData.stochastic_k is numeric(10,4)');
SELECT col_is_null('rollingchartdata', 'stochastic_k', 'rollingChartData.stochastic_k allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'stochastic_k', 'rollingChartData.stochastic_k has no default');
-- stochastic_d
SELECT has_column('rollingchartdata', 'stochastic_d', 'rollingChartData.stochastic_d exists');
SELECT col_type_is('rollingchartdata', 'stochastic_d', 'numeric(10,4)', 'rollingChartData.stochastic_d is numeric(10,4)');
SELECT col_is_null('rollingchartdata', 'stochastic_d', 'rollingChartData.stochastic_d allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'stochastic_d', 'rollingChartData.stochastic_d has no default');
-- volatility
SELECT has_column('rollingchartdata', 'volatility', 'rollingChartData.volatility exists');
SELECT col_type_is('rollingchartdata', 'volatility', 'numeric(10,6)', 'rollingChartData.volatility is numeric(10,6)');
SELECT col_is_null('rollingchartdata', 'volatility', 'rollingChartData.volatility allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'volatility', 'rollingChartData.volatility has no default');
-- is_complete
SELECT has_column('rollingchartdata', 'is_complete', 'rollingChartData.is_complete exists');
SELECT col_type_is('rollingchartdata', 'is_complete', 'boolean', 'rollingChartData.is_complete is boolean');
SELECT col_is_null('rollingchartdata', 'is_complete', 'rollingChartData.is_complete allows NULL');
SELECT col_hasnt_default('rollingchartdata', 'is_complete', 'rollingChartData.is_complete has no default');
-- created_at
SELECT has_column('rollingchartdata', 'created_at', 'rollingChartData.created_at exists');
SELECT col_type_is('rollingchartdata', 'created_at', 'timestamp without time zone', 'rollingChartData.created_at is timestamp without time zone');
SELECT col_is_null('rollingchartdata', 'created_at', 'rollingChartData.created_at allows NULL');
SELECT col_has_default('rollingchartdata', 'created_at', 'rollingChartData.created_at has a default');
SELECT col_default_is('rollingchartdata', 'created_at', 'now()', 'rollingChartData.created_at defaults to now()');
SELECT lives_ok('SELECT count(*) FROM rollingChartData', 'unqualified rollingChartData (camelCase, unquoted) works');
SELECT lives_ok('SELECT count(*) FROM rollingchartdata', 'unqualified rollingchartdata (lowercase) works');
SELECT throws_ok('SELECT count(*) FROM "rollingChartData"', '42P01', NULL, 'quoted "rollingChartData" does not exist: the name is stored folded to lowercase');

-- ---- mlTrainingSamples (mltrainingsamples) ------------------------------------
SELECT has_table('mltrainingsamples', 'mlTrainingSamples exists');
SELECT has_pk('mltrainingsamples', 'mlTrainingSamples has a primary key');
SELECT col_is_pk('mltrainingsamples', 'id', 'mlTrainingSamples.id is the primary key');
SELECT has_sequence('mltrainingsamples_id_seq', 'mlTrainingSamples.id is SERIAL (sequence mltrainingsamples_id_seq)');
SELECT columns_are('mltrainingsamples', ARRAY['id', 'symbol', 'features', 'target', 'forecast_horizon', 'created_at', 'metadata', 'bar_timestamp', 'feature_vector', 'feature_set'], 'mlTrainingSamples has exactly the seed columns plus the documented additions');
-- id
SELECT has_column('mltrainingsamples', 'id', 'mlTrainingSamples.id exists');
SELECT col_type_is('mltrainingsamples', 'id', 'integer', 'mlTrainingSamples.id is integer');
SELECT col_not_null('mltrainingsamples', 'id', 'mlTrainingSamples.id is NOT NULL');
SELECT col_default_is('mltrainingsamples', 'id', 'nextval(''mltrainingsamples_id_seq''::regclass)', 'mlTrainingSamples.id defaults to its sequence');
-- symbol
SELECT has_column('mltrainingsamples', 'symbol', 'mlTrainingSamples.symbol exists');
SELECT col_type_is('mltrainingsamples', 'symbol', 'character varying(20)', 'mlTrainingSamples.symbol is character varying(20)');
SELECT col_not_null('mltrainingsamples', 'symbol', 'mlTrainingSamples.symbol is NOT NULL');
SELECT col_hasnt_default('mltrainingsamples', 'symbol', 'mlTrainingSamples.symbol has no default');
-- features
SELECT has_column('mltrainingsamples', 'features', 'mlTrainingSamples.features exists');
SELECT col_type_is('mltrainingsamples', 'features', 'jsonb', 'mlTrainingSamples.features is jsonb');
SELECT col_not_null('mltrainingsamples', 'features', 'mlTrainingSamples.features is NOT NULL');
SELECT col_hasnt_default('mltrainingsamples', 'features', 'mlTrainingSamples.features has no default');
-- target
SELECT has_column('mltrainingsamples', 'target', 'mlTrainingSamples.target exists');
SELECT col_type_is('mltrainingsamples', 'target', 'numeric(10,6)', 'mlTrainingSamples.target is numeric(10,6)');
SELECT col_is_null('mltrainingsamples', 'target', 'mlTrainingSamples.target allows NULL');
SELECT col_hasnt_default('mltrainingsamples', 'target', 'mlTrainingSamples.target has no default');
-- forecast_horizon
SELECT has_column('mltrainingsamples', 'forecast_horizon', 'mlTrainingSamples.forecast_horizon exists');
SELECT col_type_is('mltrainingsamples', 'forecast_horizon', 'integer', 'mlTrainingSamples.forecast_horizon is integer');
SELECT col_not_null('mltrainingsamples', 'forecast_horizon', 'mlTrainingSamples.forecast_horizon is NOT NULL');
SELECT col_hasnt_default('mltrainingsamples', 'forecast_horizon', 'mlTrainingSamples.forecast_horizon has no default');
-- created_at
SELECT has_column('mltrainingsamples', 'created_at', 'mlTrainingSamples.created_at exists');
SELECT col_type_is('mltrainingsamples', 'created_at', 'timestamp without time zone', 'mlTrainingSamples.created_at is timestamp without time zone');
SELECT col_is_null('mltrainingsamples', 'created_at', 'mlTrainingSamples.created_at allows NULL');
SELECT col_has_default('mltrainingsamples', 'created_at', 'mlTrainingSamples.created_at has a default');
SELECT col_default_is('mltrainingsamples', 'created_at', 'now()', 'mlTrainingSamples.created_at defaults to now()');
-- metadata
SELECT has_column('mltrainingsamples', 'metadata', 'mlTrainingSamples.metadata exists');
SELECT col_type_is('mltrainingsamples', 'metadata', 'jsonb', 'mlTrainingSamples.metadata is jsonb');
SELECT col_is_null('mltrainingsamples', 'metadata', 'mlTrainingSamples.metadata allows NULL');
SELECT col_hasnt_default('mltrainingsamples', 'metadata', 'mlTrainingSamples.metadata has no default');
-- bar_timestamp (added)
SELECT has_column('mltrainingsamples', 'bar_timestamp', 'mlTrainingSamples.bar_timestamp exists');
SELECT col_type_is('mltrainingsamples', 'bar_timestamp', 'timestamp without time zone', 'mlTrainingSamples.bar_timestamp is timestamp without time zone');
SELECT col_is_null('mltrainingsamples', 'bar_timestamp', 'mlTrainingSamples.bar_timestamp allows NULL');
-- feature_vector (added)
SELECT has_column('mltrainingsamples', 'feature_vector', 'mlTrainingSamples.feature_vector exists');
SELECT col_type_is('mltrainingsamples', 'feature_vector', 'double precision[]', 'mlTrainingSamples.feature_vector is double precision[]');
SELECT col_is_null('mltrainingsamples', 'feature_vector', 'mlTrainingSamples.feature_vector allows NULL');
-- feature_set (added in 0.8.0)
SELECT col_type_is('mltrainingsamples', 'feature_set', 'integer', 'mlTrainingSamples.feature_set is integer');
SELECT col_not_null('mltrainingsamples', 'feature_set', 'mlTrainingSamples.feature_set is NOT NULL');
SELECT col_default_is('mltrainingsamples', 'feature_set', '1', 'mlTrainingSamples.feature_set defaults to 1');
SELECT col_hasnt_default('mltrainingsamples', 'bar_timestamp', 'mlTrainingSamples.bar_timestamp has no default');
SELECT lives_ok('SELECT count(*) FROM mlTrainingSamples', 'unqualified mlTrainingSamples (camelCase, unquoted) works');
SELECT lives_ok('SELECT count(*) FROM mltrainingsamples', 'unqualified mltrainingsamples (lowercase) works');
SELECT throws_ok('SELECT count(*) FROM "mlTrainingSamples"', '42P01', NULL, 'quoted "mlTrainingSamples" does not exist: the name is stored folded to lowercase');

-- ---- mlTrainingBatches (mltrainingbatches) ------------------------------------
SELECT has_table('mltrainingbatches', 'mlTrainingBatches exists');
SELECT has_pk('mltrainingbatches', 'mlTrainingBatches has a primary key');
SELECT col_is_pk('mltrainingbatches', 'id', 'mlTrainingBatches.id is the primary key');
SELECT has_sequence('mltrainingbatches_id_seq', 'mlTrainingBatches.id is SERIAL (sequence mltrainingbatches_id_seq)');
SELECT columns_are('mltrainingbatches', ARRAY['id', 'batch_id', 'symbol', 'model_type', 'training_samples', 'validation_samples', 'rmse', 'mae', 'accuracy', 'model_path', 'is_production', 'created_at', 'forecast_horizon', 'baseline_rmse', 'hyperparameters', 'feature_set_version', 'duration_ms', 'shrinkage', 'skill_statistic', 'skill_p_value', 'calibration_pairs'], 'mlTrainingBatches has exactly the seed columns plus the documented additions');
-- id
SELECT has_column('mltrainingbatches', 'id', 'mlTrainingBatches.id exists');
SELECT col_type_is('mltrainingbatches', 'id', 'integer', 'mlTrainingBatches.id is integer');
SELECT col_not_null('mltrainingbatches', 'id', 'mlTrainingBatches.id is NOT NULL');
SELECT col_default_is('mltrainingbatches', 'id', 'nextval(''mltrainingbatches_id_seq''::regclass)', 'mlTrainingBatches.id defaults to its sequence');
-- batch_id
SELECT has_column('mltrainingbatches', 'batch_id', 'mlTrainingBatches.batch_id exists');
SELECT col_type_is('mltrainingbatches', 'batch_id', 'character varying(50)', 'mlTrainingBatches.batch_id is character varying(50)');
SELECT col_not_null('mltrainingbatches', 'batch_id', 'mlTrainingBatches.batch_id is NOT NULL');
SELECT col_hasnt_default('mltrainingbatches', 'batch_id', 'mlTrainingBatches.batch_id has no default');
-- symbol
SELECT has_column('mltrainingbatches', 'symbol', 'mlTrainingBatches.symbol exists');
SELECT col_type_is('mltrainingbatches', 'symbol', 'character varying(20)', 'mlTrainingBatches.symbol is character varying(20)');
SELECT col_not_null('mltrainingbatches', 'symbol', 'mlTrainingBatches.symbol is NOT NULL');
SELECT col_hasnt_default('mltrainingbatches', 'symbol', 'mlTrainingBatches.symbol has no default');
-- model_type
SELECT has_column('mltrainingbatches', 'model_type', 'mlTrainingBatches.model_type exists');
SELECT col_type_is('mltrainingbatches', 'model_type', 'character varying(30)', 'mlTrainingBatches.model_type is character varying(30)');
SELECT col_is_null('mltrainingbatches', 'model_type', 'mlTrainingBatches.model_type allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'model_type', 'mlTrainingBatches.model_type has no default');
-- training_samples
SELECT has_column('mltrainingbatches', 'training_samples', 'mlTrainingBatches.training_samples exists');
SELECT col_type_is('mltrainingbatches', 'training_samples', 'integer', 'mlTrainingBatches.training_samples is integer');
SELECT col_not_null('mltrainingbatches', 'training_samples', 'mlTrainingBatches.training_samples is NOT NULL');
SELECT col_hasnt_default('mltrainingbatches', 'training_samples', 'mlTrainingBatches.training_samples has no default');
-- validation_samples
SELECT has_column('mltrainingbatches', 'validation_samples', 'mlTrainingBatches.validation_samples exists');
SELECT col_type_is('mltrainingbatches', 'validation_samples', 'integer', 'mlTrainingBatches.validation_samples is integer');
SELECT col_not_null('mltrainingbatches', 'validation_samples', 'mlTrainingBatches.validation_samples is NOT NULL');
SELECT col_hasnt_default('mltrainingbatches', 'validation_samples', 'mlTrainingBatches.validation_samples has no default');
-- rmse
SELECT has_column('mltrainingbatches', 'rmse', 'mlTrainingBatches.rmse exists');
SELECT col_type_is('mltrainingbatches', 'rmse', 'numeric(10,6)', 'mlTrainingBatches.rmse is numeric(10,6)');
SELECT col_is_null('mltrainingbatches', 'rmse', 'mlTrainingBatches.rmse allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'rmse', 'mlTrainingBatches.rmse has no default');
-- mae
SELECT has_column('mltrainingbatches', 'mae', 'mlTrainingBatches.mae exists');
SELECT col_type_is('mltrainingbatches', 'mae', 'numeric(10,6)', 'mlTrainingBatches.mae is numeric(10,6)');
SELECT col_is_null('mltrainingbatches', 'mae', 'mlTrainingBatches.mae allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'mae', 'mlTrainingBatches.mae has no default');
-- accuracy
SELECT has_column('mltrainingbatches', 'accuracy', 'mlTrainingBatches.accuracy exists');
SELECT col_type_is('mltrainingbatches', 'accuracy', 'numeric(5,4)', 'mlTrainingBatches.accuracy is numeric(5,4)');
SELECT col_is_null('mltrainingbatches', 'accuracy', 'mlTrainingBatches.accuracy allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'accuracy', 'mlTrainingBatches.accuracy has no default');
-- model_path
SELECT has_column('mltrainingbatches', 'model_path', 'mlTrainingBatches.model_path exists');
SELECT col_type_is('mltrainingbatches', 'model_path', 'character varying(255)', 'mlTrainingBatches.model_path is character varying(255)');
SELECT col_is_null('mltrainingbatches', 'model_path', 'mlTrainingBatches.model_path allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'model_path', 'mlTrainingBatches.model_path has no default');
-- is_production
SELECT has_column('mltrainingbatches', 'is_production', 'mlTrainingBatches.is_production exists');
SELECT col_type_is('mltrainingbatches', 'is_production', 'boolean', 'mlTrainingBatches.is_production is boolean');
SELECT col_is_null('mltrainingbatches', 'is_production', 'mlTrainingBatches.is_production allows NULL');
SELECT col_has_default('mltrainingbatches', 'is_production', 'mlTrainingBatches.is_production has a default');
SELECT col_default_is('mltrainingbatches', 'is_production', false, 'mlTrainingBatches.is_production defaults to FALSE');
-- created_at
SELECT has_column('mltrainingbatches', 'created_at', 'mlTrainingBatches.created_at exists');
SELECT col_type_is('mltrainingbatches', 'created_at', 'timestamp without time zone', 'mlTrainingBatches.created_at is timestamp without time zone');
SELECT col_is_null('mltrainingbatches', 'created_at', 'mlTrainingBatches.created_at allows NULL');
SELECT col_has_default('mltrainingbatches', 'created_at', 'mlTrainingBatches.created_at has a default');
SELECT col_default_is('mltrainingbatches', 'created_at', 'now()', 'mlTrainingBatches.created_at defaults to now()');
-- forecast_horizon (added)
SELECT has_column('mltrainingbatches', 'forecast_horizon', 'mlTrainingBatches.forecast_horizon exists');
SELECT col_type_is('mltrainingbatches', 'forecast_horizon', 'integer', 'mlTrainingBatches.forecast_horizon is integer');
SELECT col_is_null('mltrainingbatches', 'forecast_horizon', 'mlTrainingBatches.forecast_horizon allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'forecast_horizon', 'mlTrainingBatches.forecast_horizon has no default');
-- baseline_rmse (added)
SELECT has_column('mltrainingbatches', 'baseline_rmse', 'mlTrainingBatches.baseline_rmse exists');
SELECT col_type_is('mltrainingbatches', 'baseline_rmse', 'numeric(10,6)', 'mlTrainingBatches.baseline_rmse is numeric(10,6)');
SELECT col_is_null('mltrainingbatches', 'baseline_rmse', 'mlTrainingBatches.baseline_rmse allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'baseline_rmse', 'mlTrainingBatches.baseline_rmse has no default');
-- hyperparameters (added)
SELECT has_column('mltrainingbatches', 'hyperparameters', 'mlTrainingBatches.hyperparameters exists');
SELECT col_type_is('mltrainingbatches', 'hyperparameters', 'jsonb', 'mlTrainingBatches.hyperparameters is jsonb');
SELECT col_is_null('mltrainingbatches', 'hyperparameters', 'mlTrainingBatches.hyperparameters allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'hyperparameters', 'mlTrainingBatches.hyperparameters has no default');
-- feature_set_version (added)
SELECT has_column('mltrainingbatches', 'feature_set_version', 'mlTrainingBatches.feature_set_version exists');
SELECT col_type_is('mltrainingbatches', 'feature_set_version', 'integer', 'mlTrainingBatches.feature_set_version is integer');
SELECT col_is_null('mltrainingbatches', 'feature_set_version', 'mlTrainingBatches.feature_set_version allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'feature_set_version', 'mlTrainingBatches.feature_set_version has no default');
-- duration_ms (added)
SELECT has_column('mltrainingbatches', 'duration_ms', 'mlTrainingBatches.duration_ms exists');
SELECT col_type_is('mltrainingbatches', 'duration_ms', 'bigint', 'mlTrainingBatches.duration_ms is bigint');
SELECT col_is_null('mltrainingbatches', 'duration_ms', 'mlTrainingBatches.duration_ms allows NULL');
SELECT col_hasnt_default('mltrainingbatches', 'duration_ms', 'mlTrainingBatches.duration_ms has no default');
SELECT lives_ok('SELECT count(*) FROM mlTrainingBatches', 'unqualified mlTrainingBatches (camelCase, unquoted) works');
SELECT lives_ok('SELECT count(*) FROM mltrainingbatches', 'unqualified mltrainingbatches (lowercase) works');
SELECT throws_ok('SELECT count(*) FROM "mlTrainingBatches"', '42P01', NULL, 'quoted "mlTrainingBatches" does not exist: the name is stored folded to lowercase');

-- ---- persistentForecasts (persistentforecasts) --------------------------------
SELECT has_table('persistentforecasts', 'persistentForecasts exists');
SELECT has_pk('persistentforecasts', 'persistentForecasts has a primary key');
SELECT col_is_pk('persistentforecasts', 'id', 'persistentForecasts.id is the primary key');
SELECT has_sequence('persistentforecasts_id_seq', 'persistentForecasts.id is SERIAL (sequence persistentforecasts_id_seq)');
SELECT columns_are('persistentforecasts', ARRAY['id', 'symbol', 'forecast_type', 'confidence', 'predicted_value', 'actual_value', 'forecast_horizon', 'model_version', 'created_at', 'expires_at', 'bar_timestamp', 'raw_value', 'lower', 'upper'], 'persistentForecasts has exactly the seed columns plus the documented additions');
-- id
SELECT has_column('persistentforecasts', 'id', 'persistentForecasts.id exists');
SELECT col_type_is('persistentforecasts', 'id', 'integer', 'persistentForecasts.id is integer');
SELECT col_not_null('persistentforecasts', 'id', 'persistentForecasts.id is NOT NULL');
SELECT col_default_is('persistentforecasts', 'id', 'nextval(''persistentforecasts_id_seq''::regclass)', 'persistentForecasts.id defaults to its sequence');
-- symbol
SELECT has_column('persistentforecasts', 'symbol', 'persistentForecasts.symbol exists');
SELECT col_type_is('persistentforecasts', 'symbol', 'character varying(20)', 'persistentForecasts.symbol is character varying(20)');
SELECT col_not_null('persistentforecasts', 'symbol', 'persistentForecasts.symbol is NOT NULL');
SELECT col_hasnt_default('persistentforecasts', 'symbol', 'persistentForecasts.symbol has no default');
-- forecast_type
SELECT has_column('persistentforecasts', 'forecast_type', 'persistentForecasts.forecast_type exists');
SELECT col_type_is('persistentforecasts', 'forecast_type', 'character varying(30)', 'persistentForecasts.forecast_type is character varying(30)');
SELECT col_is_null('persistentforecasts', 'forecast_type', 'persistentForecasts.forecast_type allows NULL');
SELECT col_hasnt_default('persistentforecasts', 'forecast_type', 'persistentForecasts.forecast_type has no default');
-- confidence
SELECT has_column('persistentforecasts', 'confidence', 'persistentForecasts.confidence exists');
SELECT col_type_is('persistentforecasts', 'confidence', 'numeric(5,2)', 'persistentForecasts.confidence is numeric(5,2)');
SELECT col_is_null('persistentforecasts', 'confidence', 'persistentForecasts.confidence allows NULL');
SELECT col_hasnt_default('persistentforecasts', 'confidence', 'persistentForecasts.confidence has no default');
-- predicted_value
SELECT has_column('persistentforecasts', 'predicted_value', 'persistentForecasts.predicted_value exists');
SELECT col_type_is('persistentforecasts', 'predicted_value', 'numeric(15,8)', 'persistentForecasts.predicted_value is numeric(15,8)');
SELECT col_is_null('persistentforecasts', 'predicted_value', 'persistentForecasts.predicted_value allows NULL');
SELECT col_hasnt_default('persistentforecasts', 'predicted_value', 'persistentForecasts.predicted_value has no default');
-- actual_value
SELECT has_column('persistentforecasts', 'actual_value', 'persistentForecasts.actual_value exists');
SELECT col_type_is('persistentforecasts', 'actual_value', 'numeric(15,8)', 'persistentForecasts.actual_value is numeric(15,8)');
SELECT col_is_null('persistentforecasts', 'actual_value', 'persistentForecasts.actual_value allows NULL');
SELECT col_hasnt_default('persistentforecasts', 'actual_value', 'persistentForecasts.actual_value has no default');
-- forecast_horizon
SELECT has_column('persistentforecasts', 'forecast_horizon', 'persistentForecasts.forecast_horizon exists');
SELECT col_type_is('persistentforecasts', 'forecast_horizon', 'integer', 'persistentForecasts.forecast_horizon is integer');
SELECT col_is_null('persistentforecasts', 'forecast_horizon', 'persistentForecasts.forecast_horizon allows NULL');
SELECT col_hasnt_default('persistentforecasts', 'forecast_horizon', 'persistentForecasts.forecast_horizon has no default');
-- model_version
SELECT has_column('persistentforecasts', 'model_version', 'persistentForecasts.model_version exists');
SELECT col_type_is('persistentforecasts', 'model_version', 'character varying(50)', 'persistentForecasts.model_version is character varying(50)');
SELECT col_is_null('persistentforecasts', 'model_version', 'persistentForecasts.model_version allows NULL');
SELECT col_hasnt_default('persistentforecasts', 'model_version', 'persistentForecasts.model_version has no default');
-- created_at
SELECT has_column('persistentforecasts', 'created_at', 'persistentForecasts.created_at exists');
SELECT col_type_is('persistentforecasts', 'created_at', 'timestamp without time zone', 'persistentForecasts.created_at is timestamp without time zone');
SELECT col_is_null('persistentforecasts', 'created_at', 'persistentForecasts.created_at allows NULL');
SELECT col_has_default('persistentforecasts', 'created_at', 'persistentForecasts.created_at has a default');
SELECT col_default_is('persistentforecasts', 'created_at', 'now()', 'persistentForecasts.created_at defaults to now()');
-- expires_at
SELECT has_column('persistentforecasts', 'expires_at', 'persistentForecasts.expires_at exists');
SELECT col_type_is('persistentforecasts', 'expires_at', 'timestamp without time zone', 'persistentForecasts.expires_at is timestamp without time zone');
SELECT col_is_null('persistentforecasts', 'expires_at', 'persistentForecasts.expires_at allows NULL');
SELECT col_hasnt_default('persistentforecasts', 'expires_at', 'persistentForecasts.expires_at has no default');
-- bar_timestamp (added)
SELECT has_column('persistentforecasts', 'bar_timestamp', 'persistentForecasts.bar_timestamp exists');
SELECT col_type_is('persistentforecasts', 'bar_timestamp', 'timestamp without time zone', 'persistentForecasts.bar_timestamp is timestamp without time zone');
SELECT col_is_null('persistentforecasts', 'bar_timestamp', 'persistentForecasts.bar_timestamp allows NULL');
SELECT col_hasnt_default('persistentforecasts', 'bar_timestamp', 'persistentForecasts.bar_timestamp has no default');
SELECT lives_ok('SELECT count(*) FROM persistentForecasts', 'unqualified persistentForecasts (camelCase, unquoted) works');
SELECT lives_ok('SELECT count(*) FROM persistentforecasts', 'unqualified persistentforecasts (lowercase) works');
SELECT throws_ok('SELECT count(*) FROM "persistentForecasts"', '42P01', NULL, 'quoted "persistentForecasts" does not exist: the name is stored folded to lowercase');

-- ---- tradeSimulations (tradesimulations) --------------------------------------
SELECT has_table('tradesimulations', 'tradeSimulations exists');
SELECT has_pk('tradesimulations', 'tradeSimulations has a primary key');
SELECT col_is_pk('tradesimulations', 'id', 'tradeSimulations.id is the primary key');
SELECT has_sequence('tradesimulations_id_seq', 'tradeSimulations.id is SERIAL (sequence tradesimulations_id_seq)');
SELECT columns_are('tradesimulations', ARRAY['id', 'symbol', 'signal_type', 'entry_price', 'tp_price', 'sl_price', 'current_price', 'confidence', 'profit_likelihood', 'real_time_pnl', 'highest_profit', 'lowest_loss', 'profitable_minutes', 'total_minutes', 'is_active', 'created_at', 'completed_at', 'forecast_horizon', 'entry_bar', 'model_version', 'predicted_change', 'fee_pct', 'slippage_pct', 'exit_reason', 'exit_price'], 'tradeSimulations has exactly the seed columns plus the documented additions');
-- id
SELECT has_column('tradesimulations', 'id', 'tradeSimulations.id exists');
SELECT col_type_is('tradesimulations', 'id', 'integer', 'tradeSimulations.id is integer');
SELECT col_not_null('tradesimulations', 'id', 'tradeSimulations.id is NOT NULL');
SELECT col_default_is('tradesimulations', 'id', 'nextval(''tradesimulations_id_seq''::regclass)', 'tradeSimulations.id defaults to its sequence');
-- symbol
SELECT has_column('tradesimulations', 'symbol', 'tradeSimulations.symbol exists');
SELECT col_type_is('tradesimulations', 'symbol', 'character varying(20)', 'tradeSimulations.symbol is character varying(20)');
SELECT col_not_null('tradesimulations', 'symbol', 'tradeSimulations.symbol is NOT NULL');
SELECT col_hasnt_default('tradesimulations', 'symbol', 'tradeSimulations.symbol has no default');
-- signal_type
SELECT has_column('tradesimulations', 'signal_type', 'tradeSimulations.signal_type exists');
SELECT col_type_is('tradesimulations', 'signal_type', 'character varying(10)', 'tradeSimulations.signal_type is character varying(10)');
SELECT col_is_null('tradesimulations', 'signal_type', 'tradeSimulations.signal_type allows NULL');
SELECT col_hasnt_default('tradesimulations', 'signal_type', 'tradeSimulations.signal_type has no default');
-- entry_price
SELECT has_column('tradesimulations', 'entry_price', 'tradeSimulations.entry_price exists');
SELECT col_type_is('tradesimulations', 'entry_price', 'numeric(20,8)', 'tradeSimulations.entry_price is numeric(20,8)');
SELECT col_not_null('tradesimulations', 'entry_price', 'tradeSimulations.entry_price is NOT NULL');
SELECT col_hasnt_default('tradesimulations', 'entry_price', 'tradeSimulations.entry_price has no default');
-- tp_price
SELECT has_column('tradesimulations', 'tp_price', 'tradeSimulations.tp_price exists');
SELECT col_type_is('tradesimulations', 'tp_price', 'numeric(20,8)', 'tradeSimulations.tp_price is numeric(20,8)');
SELECT col_is_null('tradesimulations', 'tp_price', 'tradeSimulations.tp_price allows NULL');
SELECT col_hasnt_default('tradesimulations', 'tp_price', 'tradeSimulations.tp_price has no default');
-- sl_price
SELECT has_column('tradesimulations', 'sl_price', 'tradeSimulations.sl_price exists');
SELECT col_type_is('tradesimulations', 'sl_price', 'numeric(20,8)', 'tradeSimulations.sl_price is numeric(20,8)');
SELECT col_is_null('tradesimulations', 'sl_price', 'tradeSimulations.sl_price allows NULL');
SELECT col_hasnt_default('tradesimulations', 'sl_price', 'tradeSimulations.sl_price has no default');
-- current_price
SELECT has_column('tradesimulations', 'current_price', 'tradeSimulations.current_price exists');
SELECT col_type_is('tradesimulations', 'current_price', 'numeric(20,8)', 'tradeSimulations.current_price is numeric(20,8)');
SELECT col_is_null('tradesimulations', 'current_price', 'tradeSimulations.current_price allows NULL');
SELECT col_hasnt_default('tradesimulations', 'current_price', 'tradeSimulations.current_price has no default');
-- confidence
SELECT has_column('tradesimulations', 'confidence', 'tradeSimulations.confidence exists');
SELECT col_type_is('tradesimulations', 'confidence', 'integer', 'tradeSimulations.confidence is integer');
SELECT col_is_null('tradesimulations', 'confidence', 'tradeSimulations.confidence allows NULL');
SELECT col_hasnt_default('tradesimulations', 'confidence', 'tradeSimulations.confidence has no default');
-- profit_likelihood
SELECT has_column('tradesimulations', 'profit_likelihood', 'tradeSimulations.profit_likelihood exists');
SELECT col_type_is('tradesimulations', 'profit_likelihood', 'integer', 'tradeSimulations.profit_likelihood is integer');
SELECT col_is_null('tradesimulations', 'profit_likelihood', 'tradeSimulations.profit_likelihood allows NULL');
SELECT col_hasnt_default('tradesimulations', 'profit_likelihood', 'tradeSimulations.profit_likelihood has no default');
-- real_time_pnl
SELECT has_column('tradesimulations', 'real_time_pnl', 'tradeSimulations.real_time_pnl exists');
SELECT col_type_is('tradesimulations', 'real_time_pnl', 'numeric(10,4)', 'tradeSimulations.real_time_pnl is numeric(10,4)');
SELECT col_is_null('tradesimulations', 'real_time_pnl', 'tradeSimulations.real_time_pnl allows NULL');
SELECT col_hasnt_default('tradesimulations', 'real_time_pnl', 'tradeSimulations.real_time_pnl has no default');
-- highest_profit
SELECT has_column('tradesimulations', 'highest_profit', 'tradeSimulations.highest_profit exists');
SELECT col_type_is('tradesimulations', 'highest_profit', 'numeric(10,4)', 'tradeSimulations.highest_profit is numeric(10,4)');
SELECT col_is_null('tradesimulations', 'highest_profit', 'tradeSimulations.highest_profit allows NULL');
SELECT col_hasnt_default('tradesimulations', 'highest_profit', 'tradeSimulations.highest_profit has no default');
-- lowest_loss
SELECT has_column('tradesimulations', 'lowest_loss', 'tradeSimulations.lowest_loss exists');
SELECT col_type_is('tradesimulations', 'lowest_loss', 'numeric(10,4)', 'tradeSimulations.lowest_loss is numeric(10,4)');
SELECT col_is_null('tradesimulations', 'lowest_loss', 'tradeSimulations.lowest_loss allows NULL');
SELECT col_hasnt_default('tradesimulations', 'lowest_loss', 'tradeSimulations.lowest_loss has no default');
-- profitable_minutes
SELECT has_column('tradesimulations', 'profitable_minutes', 'tradeSimulations.profitable_minutes exists');
SELECT col_type_is('tradesimulations', 'profitable_minutes', 'integer', 'tradeSimulations.profitable_minutes is integer');
SELECT col_is_null('tradesimulations', 'profitable_minutes', 'tradeSimulations.profitable_minutes allows NULL');
SELECT col_hasnt_default('tradesimulations', 'profitable_minutes', 'tradeSimulations.profitable_minutes has no default');
-- total_minutes
SELECT has_column('tradesimulations', 'total_minutes', 'tradeSimulations.total_minutes exists');
SELECT col_type_is('tradesimulations', 'total_minutes', 'integer', 'tradeSimulations.total_minutes is integer');
SELECT col_is_null('tradesimulations', 'total_minutes', 'tradeSimulations.total_minutes allows NULL');
SELECT col_hasnt_default('tradesimulations', 'total_minutes', 'tradeSimulations.total_minutes has no default');
-- is_active
SELECT has_column('tradesimulations', 'is_active', 'tradeSimulations.is_active exists');
SELECT col_type_is('tradesimulations', 'is_active', 'boolean', 'tradeSimulations.is_active is boolean');
SELECT col_is_null('tradesimulations', 'is_active', 'tradeSimulations.is_active allows NULL');
SELECT col_has_default('tradesimulations', 'is_active', 'tradeSimulations.is_active has a default');
SELECT col_default_is('tradesimulations', 'is_active', true, 'tradeSimulations.is_active defaults to TRUE');
-- created_at
SELECT has_column('tradesimulations', 'created_at', 'tradeSimulations.created_at exists');
SELECT col_type_is('tradesimulations', 'created_at', 'timestamp without time zone', 'tradeSimulations.created_at is timestamp without time zone');
SELECT col_is_null('tradesimulations', 'created_at', 'tradeSimulations.created_at allows NULL');
SELECT col_has_default('tradesimulations', 'created_at', 'tradeSimulations.created_at has a default');
SELECT col_default_is('tradesimulations', 'created_at', 'now()', 'tradeSimulations.created_at defaults to now()');
-- completed_at
SELECT has_column('tradesimulations', 'completed_at', 'tradeSimulations.completed_at exists');
SELECT col_type_is('tradesimulations', 'completed_at', 'timestamp without time zone', 'tradeSimulations.completed_at is timestamp without time zone');
SELECT col_is_null('tradesimulations', 'completed_at', 'tradeSimulations.completed_at allows NULL');
SELECT col_hasnt_default('tradesimulations', 'completed_at', 'tradeSimulations.completed_at has no default');
SELECT lives_ok('SELECT count(*) FROM tradeSimulations', 'unqualified tradeSimulations (camelCase, unquoted) works');
SELECT lives_ok('SELECT count(*) FROM tradesimulations', 'unqualified tradesimulations (lowercase) works');
SELECT throws_ok('SELECT count(*) FROM "tradeSimulations"', '42P01', NULL, 'quoted "tradeSimulations" does not exist: the name is stored folded to lowercase');

-- ---- systemLogs (systemlogs) --------------------------------------------------
SELECT has_table('systemlogs', 'systemLogs exists');
SELECT has_pk('systemlogs', 'systemLogs has a primary key');
SELECT col_is_pk('systemlogs', 'id', 'systemLogs.id is the primary key');
SELECT has_sequence('systemlogs_id_seq', 'systemLogs.id is SERIAL (sequence systemlogs_id_seq)');
SELECT columns_are('systemlogs', ARRAY['id', 'category', 'subcategory', 'level', 'message', 'context', 'symbol', 'timestamp', 'stack_trace'], 'systemLogs has exactly the seed columns plus the documented additions');
-- id
SELECT has_column('systemlogs', 'id', 'systemLogs.id exists');
SELECT col_type_is('systemlogs', 'id', 'integer', 'systemLogs.id is integer');
SELECT col_not_null('systemlogs', 'id', 'systemLogs.id is NOT NULL');
SELECT col_default_is('systemlogs', 'id', 'nextval(''systemlogs_id_seq''::regclass)', 'systemLogs.id defaults to its sequence');
-- category
SELECT has_column('systemlogs', 'category', 'systemLogs.category exists');
SELECT col_type_is('systemlogs', 'category', 'character varying(50)', 'systemLogs.category is character varying(50)');
SELECT col_is_null('systemlogs', 'category', 'systemLogs.category allows NULL');
SELECT col_hasnt_default('systemlogs', 'category', 'systemLogs.category has no default');
-- subcategory
SELECT has_column('systemlogs', 'subcategory', 'systemLogs.subcategory exists');
SELECT col_type_is('systemlogs', 'subcategory', 'character varying(50)', 'systemLogs.subcategory is character varying(50)');
SELECT col_is_null('systemlogs', 'subcategory', 'systemLogs.subcategory allows NULL');
SELECT col_hasnt_default('systemlogs', 'subcategory', 'systemLogs.subcategory has no default');
-- level
SELECT has_column('systemlogs', 'level', 'systemLogs.level exists');
SELECT col_type_is('systemlogs', 'level', 'character varying(10)', 'systemLogs.level is character varying(10)');
SELECT col_is_null('systemlogs', 'level', 'systemLogs.level allows NULL');
SELECT col_hasnt_default('systemlogs', 'level', 'systemLogs.level has no default');
-- message
SELECT has_column('systemlogs', 'message', 'systemLogs.message exists');
SELECT col_type_is('systemlogs', 'message', 'text', 'systemLogs.message is text');
SELECT col_is_null('systemlogs', 'message', 'systemLogs.message allows NULL');
SELECT col_hasnt_default('systemlogs', 'message', 'systemLogs.message has no default');
-- context
SELECT has_column('systemlogs', 'context', 'systemLogs.context exists');
SELECT col_type_is('systemlogs', 'context', 'jsonb', 'systemLogs.context is jsonb');
SELECT col_is_null('systemlogs', 'context', 'systemLogs.context allows NULL');
SELECT col_hasnt_default('systemlogs', 'context', 'systemLogs.context has no default');
-- symbol
SELECT has_column('systemlogs', 'symbol', 'systemLogs.symbol exists');
SELECT col_type_is('systemlogs', 'symbol', 'character varying(20)', 'systemLogs.symbol is character varying(20)');
SELECT col_is_null('systemlogs', 'symbol', 'systemLogs.symbol allows NULL');
SELECT col_hasnt_default('systemlogs', 'symbol', 'systemLogs.symbol has no default');
-- timestamp
SELECT has_column('systemlogs', 'timestamp', 'systemLogs.timestamp exists');
SELECT col_type_is('systemlogs', 'timestamp', 'timestamp without time zone', 'systemLogs.timestamp is timestamp without time zone');
SELECT col_is_null('systemlogs', 'timestamp', 'systemLogs.timestamp allows NULL');
SELECT col_has_default('systemlogs', 'timestamp', 'systemLogs.timestamp has a default');
SELECT col_default_is('systemlogs', 'timestamp', 'now()', 'systemLogs.timestamp defaults to now()');
-- stack_trace
SELECT has_column('systemlogs', 'stack_trace', 'systemLogs.stack_trace exists');
SELECT col_type_is('systemlogs', 'stack_trace', 'text', 'systemLogs.stack_trace is text');
SELECT col_is_null('systemlogs', 'stack_trace', 'systemLogs.stack_trace allows NULL');
SELECT col_hasnt_default('systemlogs', 'stack_trace', 'systemLogs.stack_trace has no default');
SELECT lives_ok('SELECT count(*) FROM systemLogs', 'unqualified systemLogs (camelCase, unquoted) works');
SELECT lives_ok('SELECT count(*) FROM systemlogs', 'unqualified systemlogs (lowercase) works');
SELECT throws_ok('SELECT count(*) FROM "systemLogs"', '42P01', NULL, 'quoted "systemLogs" does not exist: the name is stored folded to lowercase');

-- ---- recoveryState (recoverystate) --------------------------------------------
SELECT has_table('recoverystate', 'recoveryState exists');
SELECT has_pk('recoverystate', 'recoveryState has a primary key');
SELECT col_is_pk('recoverystate', 'id', 'recoveryState.id is the primary key');
SELECT has_sequence('recoverystate_id_seq', 'recoveryState.id is SERIAL (sequence recoverystate_id_seq)');
SELECT columns_are('recoverystate', ARRAY['id', 'service_name', 'operation_id', 'state_data', 'checkpoint_type', 'created_at', 'origin'], 'recoveryState has exactly the seed columns plus the documented additions');
-- id
SELECT has_column('recoverystate', 'id', 'recoveryState.id exists');
SELECT col_type_is('recoverystate', 'id', 'integer', 'recoveryState.id is integer');
SELECT col_not_null('recoverystate', 'id', 'recoveryState.id is NOT NULL');
SELECT col_default_is('recoverystate', 'id', 'nextval(''recoverystate_id_seq''::regclass)', 'recoveryState.id defaults to its sequence');
-- service_name
SELECT has_column('recoverystate', 'service_name', 'recoveryState.service_name exists');
SELECT col_type_is('recoverystate', 'service_name', 'character varying(50)', 'recoveryState.service_name is character varying(50)');
SELECT col_is_null('recoverystate', 'service_name', 'recoveryState.service_name allows NULL');
SELECT col_hasnt_default('recoverystate', 'service_name', 'recoveryState.service_name has no default');
-- operation_id
SELECT has_column('recoverystate', 'operation_id', 'recoveryState.operation_id exists');
SELECT col_type_is('recoverystate', 'operation_id', 'character varying(100)', 'recoveryState.operation_id is character varying(100)');
SELECT col_is_null('recoverystate', 'operation_id', 'recoveryState.operation_id allows NULL');
SELECT col_hasnt_default('recoverystate', 'operation_id', 'recoveryState.operation_id has no default');
-- state_data
SELECT has_column('recoverystate', 'state_data', 'recoveryState.state_data exists');
SELECT col_type_is('recoverystate', 'state_data', 'jsonb', 'recoveryState.state_data is jsonb');
SELECT col_is_null('recoverystate', 'state_data', 'recoveryState.state_data allows NULL');
SELECT col_hasnt_default('recoverystate', 'state_data', 'recoveryState.state_data has no default');
-- checkpoint_type
SELECT has_column('recoverystate', 'checkpoint_type', 'recoveryState.checkpoint_type exists');
SELECT col_type_is('recoverystate', 'checkpoint_type', 'character varying(30)', 'recoveryState.checkpoint_type is character varying(30)');
SELECT col_is_null('recoverystate', 'checkpoint_type', 'recoveryState.checkpoint_type allows NULL');
SELECT col_hasnt_default('recoverystate', 'checkpoint_type', 'recoveryState.checkpoint_type has no default');
-- created_at
SELECT has_column('recoverystate', 'created_at', 'recoveryState.created_at exists');
SELECT col_type_is('recoverystate', 'created_at', 'timestamp without time zone', 'recoveryState.created_at is timestamp without time zone');
SELECT col_is_null('recoverystate', 'created_at', 'recoveryState.created_at allows NULL');
SELECT col_has_default('recoverystate', 'created_at', 'recoveryState.created_at has a default');
SELECT col_default_is('recoverystate', 'created_at', 'now()', 'recoveryState.created_at defaults to now()');
SELECT lives_ok('SELECT count(*) FROM recoveryState', 'unqualified recoveryState (camelCase, unquoted) works');
SELECT lives_ok('SELECT count(*) FROM recoverystate', 'unqualified recoverystate (lowercase) works');
SELECT throws_ok('SELECT count(*) FROM "recoveryState"', '42P01', NULL, 'quoted "recoveryState" does not exist: the name is stored folded to lowercase');

-- ===========================================================================================
-- Constraints and indexes: they exist ...
-- ===========================================================================================
SELECT col_is_unique('rollingchartdata', ARRAY['symbol', 'timestamp'], 'rollingChartData has UNIQUE (symbol, timestamp)');
SELECT col_is_unique('mltrainingbatches', 'batch_id', 'mlTrainingBatches.batch_id is UNIQUE');
SELECT col_has_check('rollingchartdata', 'rsi', 'rollingChartData.rsi has a CHECK');
SELECT col_has_check('rollingchartdata', 'stochastic_k', 'rollingChartData.stochastic_k has a CHECK');
SELECT col_has_check('rollingchartdata', 'stochastic_d', 'rollingChartData.stochastic_d has a CHECK');
SELECT col_has_check('rollingchartdata', 'volatility', 'rollingChartData.volatility has a CHECK');
SELECT col_has_check('mltrainingsamples', 'forecast_horizon', 'mlTrainingSamples.forecast_horizon has a CHECK');
SELECT col_has_check('mltrainingbatches', 'model_type', 'mlTrainingBatches.model_type has a CHECK');
SELECT col_has_check('mltrainingbatches', 'accuracy', 'mlTrainingBatches.accuracy has a CHECK');
SELECT col_has_check('mltrainingbatches', 'forecast_horizon', 'mlTrainingBatches.forecast_horizon has a CHECK');
SELECT col_has_check('persistentforecasts', 'forecast_type', 'persistentForecasts.forecast_type has a CHECK');
SELECT col_has_check('persistentforecasts', 'confidence', 'persistentForecasts.confidence has a CHECK');
SELECT col_has_check('persistentforecasts', 'forecast_horizon', 'persistentForecasts.forecast_horizon has a CHECK');
SELECT col_has_check('tradesimulations', 'signal_type', 'tradeSimulations.signal_type has a CHECK');
SELECT col_has_check('tradesimulations', 'confidence', 'tradeSimulations.confidence has a CHECK');
SELECT col_has_check('tradesimulations', 'profit_likelihood', 'tradeSimulations.profit_likelihood has a CHECK');
SELECT col_has_check('systemlogs', 'level', 'systemLogs.level has a CHECK');
SELECT col_has_check('recoverystate', 'checkpoint_type', 'recoveryState.checkpoint_type has a CHECK');

SELECT has_index('rollingchartdata', 'rollingchartdata_symbol_timestamp_key', ARRAY['symbol', '"timestamp"'], 'index rollingchartdata_symbol_timestamp_key (symbol, timestamp)');
SELECT index_is_unique('rollingchartdata', 'rollingchartdata_symbol_timestamp_key');
SELECT has_index('mltrainingsamples', 'mltrainingsamples_symbol_horizon_bar_idx', ARRAY['symbol', 'forecast_horizon', 'feature_set', 'bar_timestamp'], 'index mltrainingsamples_symbol_horizon_bar_idx (symbol, forecast_horizon, feature_set, bar_timestamp)');
SELECT index_is_unique('mltrainingsamples', 'mltrainingsamples_symbol_horizon_bar_idx');
SELECT has_index('mltrainingbatches', 'mltrainingbatches_one_production_idx', ARRAY['symbol', 'forecast_horizon', 'model_type'], 'index mltrainingbatches_one_production_idx (symbol, forecast_horizon, model_type)');
SELECT index_is_unique('mltrainingbatches', 'mltrainingbatches_one_production_idx');
SELECT has_index('mltrainingbatches', 'mltrainingbatches_lookup_idx', ARRAY['symbol', 'forecast_horizon', 'model_type', 'created_at'], 'index mltrainingbatches_lookup_idx (symbol, forecast_horizon, model_type, created_at)');
SELECT has_index('persistentforecasts', 'persistentforecasts_lookup_idx', ARRAY['symbol', 'forecast_horizon', 'created_at'], 'index persistentforecasts_lookup_idx (symbol, forecast_horizon, created_at)');
SELECT has_index('persistentforecasts', 'persistentforecasts_pending_actual_idx', ARRAY['expires_at'], 'index persistentforecasts_pending_actual_idx (expires_at)');
SELECT has_index('tradesimulations', 'tradesimulations_active_idx', ARRAY['symbol'], 'index tradesimulations_active_idx (symbol)');
SELECT has_index('tradesimulations', 'tradesimulations_symbol_time_idx', ARRAY['symbol', 'created_at'], 'index tradesimulations_symbol_time_idx (symbol, created_at)');
SELECT has_index('systemlogs', 'systemlogs_timestamp_idx', ARRAY['"timestamp"'], 'index systemlogs_timestamp_idx (timestamp)');
SELECT has_index('systemlogs', 'systemlogs_level_timestamp_idx', ARRAY['level', '"timestamp"'], 'index systemlogs_level_timestamp_idx (level, timestamp)');
SELECT has_index('systemlogs', 'systemlogs_category_timestamp_idx', ARRAY['category', '"timestamp"'], 'index systemlogs_category_timestamp_idx (category, timestamp)');
SELECT has_index('recoverystate', 'recoverystate_operation_idx', ARRAY['service_name', 'operation_id', 'created_at'], 'index recoverystate_operation_idx (service_name, operation_id, created_at)');
-- The partial indexes cover exactly the rows they are meant for.
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = to_regclass('mltrainingbatches_one_production_idx')),
          'is_production', 'mltrainingbatches_one_production_idx is partial: WHERE is_production');
SELECT ok((SELECT indnullsnotdistinct FROM pg_index WHERE indexrelid = to_regclass('mltrainingbatches_one_production_idx')),
          'mltrainingbatches_one_production_idx is NULLS NOT DISTINCT: NULLs cannot hide a second production model');
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = to_regclass('persistentforecasts_pending_actual_idx')),
          '(actual_value IS NULL)', 'persistentforecasts_pending_actual_idx is partial: WHERE actual_value IS NULL');
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = to_regclass('tradesimulations_active_idx')),
          'is_active', 'tradesimulations_active_idx is partial: WHERE is_active');

-- ===========================================================================================
-- ... and they work. Symbols PGTAPX/PGTAPY keep clear of real data; everything rolls back.
-- ===========================================================================================
-- rollingChartData: the table's own constraints, with the indicator triggers out of the way
-- (they validate bars and compute the indicator columns; test/pgtap/04_indicators.sql covers them)
SET LOCAL session_replication_role = replica;
SELECT lives_ok($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume, rsi, stochastic_k, stochastic_d, volatility)
                  VALUES ('PGTAPX', '2024-01-01 00:00', 1, 2, 0.5, 1.5, 10, 100, 0, 100, 1.5)$$,
                'rollingChartData accepts a bar with indicators at their bounds (rsi 100, %K 0, %D 100) and volatility above 1');
SELECT throws_ok($$INSERT INTO rollingChartData (symbol, timestamp) VALUES ('PGTAPX', '2024-01-01 00:00')$$,
                 '23505', 'duplicate key value violates unique constraint "rollingchartdata_symbol_timestamp_key"',
                 'rollingChartData rejects a second bar for the same (symbol, timestamp)');
SELECT lives_ok($$INSERT INTO rollingChartData (symbol, timestamp) VALUES ('PGTAPX', '2024-01-01 00:01'), ('PGTAPY', '2024-01-01 00:00')$$,
                'rollingChartData accepts another minute of the same symbol and the same minute of another symbol');
SELECT throws_ok($$INSERT INTO rollingChartData (symbol, timestamp, rsi) VALUES ('PGTAPX', '2024-01-01 00:02', 101)$$,
                 '23514', 'new row for relation "rollingchartdata" violates check constraint "rollingchartdata_rsi_range"',
                 'rollingChartData rejects rsi 101');
SELECT throws_ok($$INSERT INTO rollingChartData (symbol, timestamp, rsi) VALUES ('PGTAPX', '2024-01-01 00:02', -0.0001)$$,
                 '23514', 'new row for relation "rollingchartdata" violates check constraint "rollingchartdata_rsi_range"',
                 'rollingChartData rejects rsi below 0');
SELECT throws_ok($$INSERT INTO rollingChartData (symbol, timestamp, stochastic_k) VALUES ('PGTAPX', '2024-01-01 00:02', -1)$$,
                 '23514', 'new row for relation "rollingchartdata" violates check constraint "rollingchartdata_stochastic_k_range"',
                 'rollingChartData rejects stochastic_k -1');
SELECT throws_ok($$INSERT INTO rollingChartData (symbol, timestamp, stochastic_d) VALUES ('PGTAPX', '2024-01-01 00:02', 100.5)$$,
                 '23514', 'new row for relation "rollingchartdata" violates check constraint "rollingchartdata_stochastic_d_range"',
                 'rollingChartData rejects stochastic_d 100.5');
SELECT throws_ok($$INSERT INTO rollingChartData (symbol, timestamp, volatility) VALUES ('PGTAPX', '2024-01-01 00:02', -0.5)$$,
                 '23514', 'new row for relation "rollingchartdata" violates check constraint "rollingchartdata_volatility_range"',
                 'rollingChartData rejects a negative volatility');
SELECT throws_ok($$UPDATE rollingChartData SET rsi = 101 WHERE symbol = 'PGTAPX'$$,
                 '23514', 'new row for relation "rollingchartdata" violates check constraint "rollingchartdata_rsi_range"',
                 'the rsi CHECK also holds for UPDATE');
SELECT throws_ok($$INSERT INTO rollingChartData (symbol, timestamp) VALUES (NULL, '2024-01-01 00:02')$$,
                 '23502', 'null value in column "symbol" of relation "rollingchartdata" violates not-null constraint',
                 'rollingChartData rejects a NULL symbol');
SELECT throws_ok($$INSERT INTO rollingChartData (symbol) VALUES ('PGTAPX')$$,
                 '23502', 'null value in column "timestamp" of relation "rollingchartdata" violates not-null constraint',
                 'rollingChartData rejects a NULL timestamp');
SELECT ok((SELECT created_at IS NOT NULL AND is_complete IS NULL FROM rollingChartData WHERE symbol = 'PGTAPX' AND timestamp = '2024-01-01 00:00'),
          'rollingChartData.created_at is filled by its default, is_complete stays NULL');
SET LOCAL session_replication_role = origin;

-- mlTrainingSamples
SELECT lives_ok($$INSERT INTO mlTrainingSamples (symbol, features, target, forecast_horizon, bar_timestamp)
                  VALUES ('PGTAPX', '{"rsi": 50}', 0.1, 5, '2024-01-01 00:00')$$,
                'mlTrainingSamples accepts a sample');
SELECT throws_ok($$INSERT INTO mlTrainingSamples (symbol, features, forecast_horizon, bar_timestamp) VALUES ('PGTAPX', '{}', 5, '2024-01-01 00:00')$$,
                 '23505', 'duplicate key value violates unique constraint "mltrainingsamples_symbol_horizon_bar_idx"',
                 'mlTrainingSamples rejects a second sample for the same (symbol, forecast_horizon, bar_timestamp)');
SELECT lives_ok($$INSERT INTO mlTrainingSamples (symbol, features, forecast_horizon, bar_timestamp) VALUES ('PGTAPX', '{}', 15, '2024-01-01 00:00')$$,
                'mlTrainingSamples accepts the same bar for another horizon');
SELECT throws_ok($$INSERT INTO mlTrainingSamples (symbol, features, forecast_horizon) VALUES ('PGTAPX', '{}', 0)$$,
                 '23514', 'new row for relation "mltrainingsamples" violates check constraint "mltrainingsamples_horizon_positive"',
                 'mlTrainingSamples rejects forecast_horizon 0');
SELECT throws_ok($$INSERT INTO mlTrainingSamples (symbol, features, forecast_horizon) VALUES ('PGTAPX', NULL, 5)$$,
                 '23502', 'null value in column "features" of relation "mltrainingsamples" violates not-null constraint',
                 'mlTrainingSamples rejects NULL features');
SELECT throws_ok($$INSERT INTO mlTrainingSamples (symbol, features) VALUES ('PGTAPX', '{}')$$,
                 '23502', 'null value in column "forecast_horizon" of relation "mltrainingsamples" violates not-null constraint',
                 'mlTrainingSamples rejects a NULL forecast_horizon');

-- mlTrainingBatches
SELECT lives_ok($$INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples, accuracy, forecast_horizon)
                  VALUES ('pgtap-b1', 'PGTAPX', 'xgboost', 80, 20, 1, 5)$$,
                'mlTrainingBatches accepts a batch (accuracy 1)');
SELECT is((SELECT is_production FROM mlTrainingBatches WHERE batch_id = 'pgtap-b1'), false,
          'mlTrainingBatches.is_production defaults to false');
SELECT throws_ok($$INSERT INTO mlTrainingBatches (batch_id, symbol, training_samples, validation_samples) VALUES ('pgtap-b1', 'PGTAPY', 1, 1)$$,
                 '23505', 'duplicate key value violates unique constraint "mltrainingbatches_batch_id_key"',
                 'mlTrainingBatches rejects a duplicate batch_id');
SELECT throws_ok($$INSERT INTO mlTrainingBatches (batch_id, symbol, training_samples, validation_samples, accuracy) VALUES ('pgtap-b2', 'PGTAPX', 1, 1, 1.5)$$,
                 '23514', 'new row for relation "mltrainingbatches" violates check constraint "mltrainingbatches_accuracy_range"',
                 'mlTrainingBatches rejects accuracy 1.5');
SELECT throws_ok($$INSERT INTO mlTrainingBatches (batch_id, symbol, training_samples, validation_samples, model_type) VALUES ('pgtap-b2', 'PGTAPX', 1, 1, 'random_forest')$$,
                 '23514', 'new row for relation "mltrainingbatches" violates check constraint "mltrainingbatches_model_type_check"',
                 'mlTrainingBatches rejects model_type random_forest');
SELECT throws_ok($$INSERT INTO mlTrainingBatches (batch_id, symbol, training_samples, validation_samples) VALUES ('pgtap-b2', 'PGTAPX', -1, 1)$$,
                 '23514', 'new row for relation "mltrainingbatches" violates check constraint "mltrainingbatches_samples_nonnegative"',
                 'mlTrainingBatches rejects negative training_samples');
SELECT throws_ok($$INSERT INTO mlTrainingBatches (batch_id, symbol, training_samples, validation_samples, forecast_horizon) VALUES ('pgtap-b2', 'PGTAPX', 1, 1, 0)$$,
                 '23514', 'new row for relation "mltrainingbatches" violates check constraint "mltrainingbatches_horizon_positive"',
                 'mlTrainingBatches rejects forecast_horizon 0');
-- Only one production model per (symbol, forecast_horizon, model_type).
SELECT lives_ok($$INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples, forecast_horizon, is_production)
                  VALUES ('pgtap-p1', 'PGTAPX', 'lstm', 80, 20, 15, true),
                         ('pgtap-p2', 'PGTAPX', 'lstm', 80, 20, 15, false),
                         ('pgtap-p3', 'PGTAPX', 'lstm', 80, 20, 15, false)$$,
                'one production and two non-production models of the same (symbol, forecast_horizon, model_type) are accepted');
SELECT throws_ok($$UPDATE mlTrainingBatches SET is_production = true WHERE batch_id = 'pgtap-p2'$$,
                 '23505', 'duplicate key value violates unique constraint "mltrainingbatches_one_production_idx"',
                 'promoting a second production model of the same (symbol, forecast_horizon, model_type) is rejected');
SELECT throws_ok($$INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples, forecast_horizon, is_production)
                   VALUES ('pgtap-p4', 'PGTAPX', 'lstm', 80, 20, 15, true)$$,
                 '23505', 'duplicate key value violates unique constraint "mltrainingbatches_one_production_idx"',
                 'inserting a second production model of the same (symbol, forecast_horizon, model_type) is rejected');
SELECT lives_ok($$INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples, forecast_horizon, is_production)
                  VALUES ('pgtap-p5', 'PGTAPX', 'lstm', 80, 20, 30, true),
                         ('pgtap-p6', 'PGTAPX', 'xgboost', 80, 20, 15, true),
                         ('pgtap-p7', 'PGTAPY', 'lstm', 80, 20, 15, true)$$,
                'production models of another horizon, model type or symbol are accepted');
SELECT lives_ok($$UPDATE mlTrainingBatches SET is_production = false WHERE batch_id = 'pgtap-p1'$$,
                'demoting the production model is accepted');
SELECT lives_ok($$UPDATE mlTrainingBatches SET is_production = true WHERE batch_id = 'pgtap-p2'$$,
                'once demoted, another model of the same (symbol, forecast_horizon, model_type) can be promoted');
SELECT is((SELECT string_agg(batch_id, ',' ORDER BY batch_id) FROM mlTrainingBatches
           WHERE symbol = 'PGTAPX' AND forecast_horizon = 15 AND model_type = 'lstm' AND is_production),
          'pgtap-p2', 'after the switch exactly one production lstm/15 model remains');

-- persistentForecasts
SELECT lives_ok($$INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, expires_at)
                  VALUES ('PGTAPX', 'price_direction', 100, 0.5, 5, '2024-01-01 00:05'),
                         ('PGTAPX', 'volatility', 0, 0.01, 5, '2024-01-01 00:05'),
                         ('PGTAPX', 'trend', 55.55, 1, 60, '2024-01-01 01:00')$$,
                'persistentForecasts accepts each forecast type and confidence 0 and 100');
SELECT throws_ok($$INSERT INTO persistentForecasts (symbol, confidence) VALUES ('PGTAPX', 100.5)$$,
                 '23514', 'new row for relation "persistentforecasts" violates check constraint "persistentforecasts_confidence_range"',
                 'persistentForecasts rejects confidence 100.5');
SELECT throws_ok($$INSERT INTO persistentForecasts (symbol, confidence) VALUES ('PGTAPX', -0.01)$$,
                 '23514', 'new row for relation "persistentforecasts" violates check constraint "persistentforecasts_confidence_range"',
                 'persistentForecasts rejects confidence -0.01');
SELECT throws_ok($$INSERT INTO persistentForecasts (symbol, forecast_type) VALUES ('PGTAPX', 'price')$$,
                 '23514', 'new row for relation "persistentforecasts" violates check constraint "persistentforecasts_type_check"',
                 'persistentForecasts rejects forecast_type price');
SELECT throws_ok($$INSERT INTO persistentForecasts (symbol, forecast_horizon) VALUES ('PGTAPX', -5)$$,
                 '23514', 'new row for relation "persistentforecasts" violates check constraint "persistentforecasts_horizon_positive"',
                 'persistentForecasts rejects forecast_horizon -5');

-- tradeSimulations
SELECT lives_ok($$INSERT INTO tradeSimulations (symbol, signal_type, entry_price, confidence, profit_likelihood, profitable_minutes, total_minutes)
                  VALUES ('PGTAPX', 'LONG', 100, 100, 0, 0, 0), ('PGTAPX', 'SHORT', 100, 0, 100, 1, 2), ('PGTAPX', 'WAIT', 100, NULL, NULL, NULL, NULL)$$,
                'tradeSimulations accepts LONG, SHORT and WAIT with bounds 0 and 100');
SELECT is((SELECT count(*) FROM tradeSimulations WHERE symbol = 'PGTAPX' AND is_active AND created_at IS NOT NULL AND completed_at IS NULL),
          3::bigint, 'tradeSimulations.is_active defaults to true and created_at to now()');
SELECT throws_ok($$INSERT INTO tradeSimulations (symbol, signal_type, entry_price) VALUES ('PGTAPX', 'HOLD', 100)$$,
                 '23514', 'new row for relation "tradesimulations" violates check constraint "tradesimulations_signal_type_check"',
                 'tradeSimulations rejects signal_type HOLD');
SELECT throws_ok($$INSERT INTO tradeSimulations (symbol, signal_type, entry_price) VALUES ('PGTAPX', 'long', 100)$$,
                 '23514', 'new row for relation "tradesimulations" violates check constraint "tradesimulations_signal_type_check"',
                 'tradeSimulations rejects lowercase signal_type long');
SELECT throws_ok($$INSERT INTO tradeSimulations (symbol, entry_price, confidence) VALUES ('PGTAPX', 100, 101)$$,
                 '23514', 'new row for relation "tradesimulations" violates check constraint "tradesimulations_confidence_range"',
                 'tradeSimulations rejects confidence 101');
SELECT throws_ok($$INSERT INTO tradeSimulations (symbol, entry_price, profit_likelihood) VALUES ('PGTAPX', 100, -1)$$,
                 '23514', 'new row for relation "tradesimulations" violates check constraint "tradesimulations_profit_likelihood_range"',
                 'tradeSimulations rejects profit_likelihood -1');
SELECT throws_ok($$INSERT INTO tradeSimulations (symbol, entry_price, total_minutes) VALUES ('PGTAPX', 100, -1)$$,
                 '23514', 'new row for relation "tradesimulations" violates check constraint "tradesimulations_minutes_nonnegative"',
                 'tradeSimulations rejects total_minutes -1');
SELECT throws_ok($$INSERT INTO tradeSimulations (symbol, signal_type) VALUES ('PGTAPX', 'LONG')$$,
                 '23502', 'null value in column "entry_price" of relation "tradesimulations" violates not-null constraint',
                 'tradeSimulations rejects a NULL entry_price');

-- systemLogs
SELECT lives_ok($$INSERT INTO systemLogs (category, level, message) VALUES ('pgtap', 'info', 'a'), ('pgtap', 'warning', 'b'), ('pgtap', 'error', 'c'), ('pgtap', 'debug', 'd')$$,
                'systemLogs accepts the levels info, warning, error, debug');
SELECT throws_ok($$INSERT INTO systemLogs (category, level, message) VALUES ('pgtap', 'fatal', 'x')$$,
                 '23514', 'new row for relation "systemlogs" violates check constraint "systemlogs_level_check"',
                 'systemLogs rejects level fatal');
SELECT throws_ok($$INSERT INTO systemLogs (category, level, message) VALUES ('pgtap', 'warn', 'x')$$,
                 '23514', 'new row for relation "systemlogs" violates check constraint "systemlogs_level_check"',
                 'systemLogs rejects level warn');

-- recoveryState
SELECT lives_ok($$INSERT INTO recoveryState (service_name, operation_id, checkpoint_type, state_data)
                  VALUES ('pgtap', 'op1', 'intermediate', '{}'), ('pgtap', 'op1', 'success', '{}'), ('pgtap', 'op2', 'error', NULL)$$,
                'recoveryState accepts the checkpoint types success, error, intermediate');
SELECT throws_ok($$INSERT INTO recoveryState (service_name, operation_id, checkpoint_type) VALUES ('pgtap', 'op3', 'done')$$,
                 '23514', 'new row for relation "recoverystate" violates check constraint "recoverystate_checkpoint_type_check"',
                 'recoveryState rejects checkpoint_type done');

SELECT * FROM finish();
ROLLBACK;
