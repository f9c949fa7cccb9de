-- cryptoml install script (source). The Makefile copies it to cryptoml--<version>.sql.
\echo Use "CREATE EXTENSION cryptoml CASCADE" to load this file. \quit

-- ===========================================================================================
-- Internal schema: configuration overrides and test hooks. Not granted to PUBLIC.
-- ===========================================================================================
CREATE SCHEMA cryptoml_internal;
REVOKE ALL ON SCHEMA cryptoml_internal FROM PUBLIC;
COMMENT ON SCHEMA cryptoml_internal IS 'cryptoml internals: configuration overrides, model bytes, test hooks. Not for direct use.';

CREATE TABLE cryptoml_internal.config (
  path       text PRIMARY KEY,
  value      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE cryptoml_internal.config IS 'Overrides of the configuration defaults, one row per dotted key. Change through ml_config_set/ml_config_reset only.';
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.config', '');

-- One row every configuration change updates first: writers queue on its row lock, and a
-- REPEATABLE READ/SERIALIZABLE writer whose snapshot predates another committed change gets a
-- serialization failure instead of validating against stale overrides.
CREATE TABLE cryptoml_internal.config_version (
  id      integer PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO cryptoml_internal.config_version VALUES (1, 0);
COMMENT ON TABLE cryptoml_internal.config_version IS 'Serializes configuration changes (one row, bumped by every change).';

-- ===========================================================================================
-- Seed tables (names unquoted, so rollingChartData and rollingchartdata both work)
-- ===========================================================================================
CREATE TABLE rollingChartData (
  id              SERIAL PRIMARY KEY,
  symbol          VARCHAR(20) NOT NULL,
  timestamp       TIMESTAMP NOT NULL,
  open            DECIMAL(20,8),
  high            DECIMAL(20,8),
  low             DECIMAL(20,8),
  close           DECIMAL(20,8),
  volume          DECIMAL(20,8),
  rsi             DECIMAL(10,4),
  macd            DECIMAL(15,8),
  bollinger_upper DECIMAL(20,8),
  bollinger_lower DECIMAL(20,8),
  stochastic_k    DECIMAL(10,4),
  stochastic_d    DECIMAL(10,4),
  volatility      DECIMAL(10,6),
  is_complete     BOOLEAN,
  created_at      TIMESTAMP DEFAULT NOW(),
  macd_signal     DECIMAL(15,8),
  macd_hist       DECIMAL(15,8),
  bollinger_middle DECIMAL(20,8),
  source          VARCHAR(20),
  CONSTRAINT rollingchartdata_symbol_timestamp_key UNIQUE (symbol, timestamp),
  CONSTRAINT rollingchartdata_rsi_range CHECK (rsi BETWEEN 0 AND 100),
  CONSTRAINT rollingchartdata_stochastic_k_range CHECK (stochastic_k BETWEEN 0 AND 100),
  CONSTRAINT rollingchartdata_stochastic_d_range CHECK (stochastic_d BETWEEN 0 AND 100),
  -- The seed describes volatility as 0-1, but a one-bar move over 100 % (a tiny-cap listing, a
  -- corrected bad print) gives more: rejecting a real bar over a derived value would lose data.
  CONSTRAINT rollingchartdata_volatility_range CHECK (volatility >= 0)
);
COMMENT ON TABLE rollingChartData IS 'Minute bars (OHLCV) per symbol with their technical indicators; one row per (symbol, timestamp).';
COMMENT ON COLUMN rollingChartData.id IS 'Surrogate key.';
COMMENT ON COLUMN rollingChartData.symbol IS 'Trading pair, e.g. BTCUSDT.';
COMMENT ON COLUMN rollingChartData.timestamp IS 'Bar open time (UTC, whole minute).';
COMMENT ON COLUMN rollingChartData.open IS 'Opening price.';
COMMENT ON COLUMN rollingChartData.high IS 'Highest price.';
COMMENT ON COLUMN rollingChartData.low IS 'Lowest price.';
COMMENT ON COLUMN rollingChartData.close IS 'Closing price.';
COMMENT ON COLUMN rollingChartData.volume IS 'Base-asset volume.';
COMMENT ON COLUMN rollingChartData.rsi IS 'Relative Strength Index (Wilder), 0-100.';
COMMENT ON COLUMN rollingChartData.macd IS 'MACD line: EMA(fast) - EMA(slow).';
COMMENT ON COLUMN rollingChartData.bollinger_upper IS 'Upper Bollinger band: SMA + k * population stddev.';
COMMENT ON COLUMN rollingChartData.bollinger_lower IS 'Lower Bollinger band: SMA - k * population stddev.';
COMMENT ON COLUMN rollingChartData.stochastic_k IS 'Fast stochastic %K, 0-100.';
COMMENT ON COLUMN rollingChartData.stochastic_d IS 'Stochastic %D (SMA of %K), 0-100.';
COMMENT ON COLUMN rollingChartData.volatility IS 'Population stddev of recent one-bar returns (>= 0; below 1 unless a bar moves over 100 %).';
COMMENT ON COLUMN rollingChartData.is_complete IS 'True when every indicator of the bar is calculated.';
COMMENT ON COLUMN rollingChartData.created_at IS 'When the row was stored.';
COMMENT ON COLUMN rollingChartData.macd_signal IS 'MACD signal line: EMA(signal) of the MACD line (added).';
COMMENT ON COLUMN rollingChartData.macd_hist IS 'MACD histogram: MACD - signal (added).';
COMMENT ON COLUMN rollingChartData.bollinger_middle IS 'Middle Bollinger band: SMA(period) of close (added).';
COMMENT ON COLUMN rollingChartData.source IS 'Exchange the bar was ingested from (binance-us, coinbase, bybit) by ml_ingest_klines or the ingest worker; NULL for bars inserted otherwise (added in 0.4.0).';

-- Full-precision indicator state of a symbol after one of its bars: written at the end of every
-- statement that changes the symbol (its latest bar) and every 1000 bars, so a new session, a
-- restart or a late bar resumes from here instead of re-reading the whole series.
CREATE TABLE cryptoml_internal.indicator_checkpoint (
  symbol  VARCHAR(20) NOT NULL,
  bar_ts  TIMESTAMP NOT NULL,
  bars    BIGINT NOT NULL,
  state   BYTEA NOT NULL,
  PRIMARY KEY (symbol, bar_ts)
);
COMMENT ON TABLE cryptoml_internal.indicator_checkpoint IS 'Indicator state after a bar (latest bar of each symbol, and every 1000th bar). Maintained by the rollingChartData triggers.';

CREATE TABLE mlTrainingSamples (
  id               SERIAL PRIMARY KEY,
  symbol           VARCHAR(20) NOT NULL,
  features         JSONB NOT NULL,
  target           DECIMAL(10,6),
  forecast_horizon INTEGER NOT NULL,
  created_at       TIMESTAMP DEFAULT NOW(),
  metadata         JSONB,
  bar_timestamp    TIMESTAMP,
  feature_vector   DOUBLE PRECISION[],
  feature_set      INTEGER NOT NULL DEFAULT 1,
  CONSTRAINT mltrainingsamples_horizon_positive CHECK (forecast_horizon > 0)
);
CREATE UNIQUE INDEX mltrainingsamples_symbol_horizon_bar_idx ON mlTrainingSamples (symbol, forecast_horizon, feature_set, bar_timestamp);
COMMENT ON TABLE mlTrainingSamples IS 'Training samples: features of one bar and the price change over the following horizon.';
COMMENT ON COLUMN mlTrainingSamples.id IS 'Surrogate key.';
COMMENT ON COLUMN mlTrainingSamples.symbol IS 'Trading pair.';
COMMENT ON COLUMN mlTrainingSamples.features IS 'Feature vector (indicators, returns, volume, range, time of day) as jsonb.';
COMMENT ON COLUMN mlTrainingSamples.target IS 'Percentage change of close from the bar to the bar forecast_horizon minutes later.';
COMMENT ON COLUMN mlTrainingSamples.forecast_horizon IS 'Minutes ahead (5, 15, 30, 60 by default).';
COMMENT ON COLUMN mlTrainingSamples.created_at IS 'When the sample was built.';
COMMENT ON COLUMN mlTrainingSamples.metadata IS 'Additional context (feature set version, source).';
COMMENT ON COLUMN mlTrainingSamples.feature_vector IS 'The same features as a vector in feature-set order, NaN for null (added; what training reads).';
COMMENT ON COLUMN mlTrainingSamples.bar_timestamp IS 'Timestamp of the bar the features describe (added: orders samples in time, makes builds idempotent).';
COMMENT ON COLUMN mlTrainingSamples.feature_set IS 'Feature set of features and feature_vector: 1 or 2 (docs/features.md); one sample per (symbol, horizon, feature set, bar) (added in 0.8.0).';

CREATE TABLE mlTrainingBatches (
  id                  SERIAL PRIMARY KEY,
  batch_id            VARCHAR(50) UNIQUE NOT NULL,
  symbol              VARCHAR(20) NOT NULL,
  model_type          VARCHAR(30),
  training_samples    INTEGER NOT NULL,
  validation_samples  INTEGER NOT NULL,
  rmse                DECIMAL(10,6),
  mae                 DECIMAL(10,6),
  accuracy            DECIMAL(5,4),
  model_path          VARCHAR(255),
  is_production       BOOLEAN DEFAULT FALSE,
  created_at          TIMESTAMP DEFAULT NOW(),
  forecast_horizon    INTEGER,
  baseline_rmse       DECIMAL(10,6),
  hyperparameters     JSONB,
  feature_set_version INTEGER,
  duration_ms         BIGINT,
  shrinkage           DOUBLE PRECISION,
  skill_statistic     DOUBLE PRECISION,
  skill_p_value       DOUBLE PRECISION,
  calibration_pairs   INTEGER,
  CONSTRAINT mltrainingbatches_model_type_check CHECK (model_type IN ('xgboost', 'lstm', 'ensemble')),
  CONSTRAINT mltrainingbatches_accuracy_range CHECK (accuracy BETWEEN 0 AND 1),
  CONSTRAINT mltrainingbatches_samples_nonnegative CHECK (training_samples >= 0 AND validation_samples >= 0),
  CONSTRAINT mltrainingbatches_horizon_positive CHECK (forecast_horizon > 0)
);
CREATE UNIQUE INDEX mltrainingbatches_one_production_idx ON mlTrainingBatches (symbol, forecast_horizon, model_type) NULLS NOT DISTINCT WHERE is_production;
CREATE INDEX mltrainingbatches_lookup_idx ON mlTrainingBatches (symbol, forecast_horizon, model_type, created_at);
COMMENT ON TABLE mlTrainingBatches IS 'Model registry: one row per training run with its validation metrics.';
COMMENT ON COLUMN mlTrainingBatches.id IS 'Surrogate key.';
COMMENT ON COLUMN mlTrainingBatches.batch_id IS 'Unique model identifier.';
COMMENT ON COLUMN mlTrainingBatches.symbol IS 'Trading pair.';
COMMENT ON COLUMN mlTrainingBatches.model_type IS 'xgboost, lstm or ensemble.';
COMMENT ON COLUMN mlTrainingBatches.training_samples IS 'Samples in the training split.';
COMMENT ON COLUMN mlTrainingBatches.validation_samples IS 'Samples in the (later, time-ordered) validation split.';
COMMENT ON COLUMN mlTrainingBatches.rmse IS 'Root mean square error on validation.';
COMMENT ON COLUMN mlTrainingBatches.mae IS 'Mean absolute error on validation.';
COMMENT ON COLUMN mlTrainingBatches.accuracy IS 'Directional accuracy on validation, 0-1.';
COMMENT ON COLUMN mlTrainingBatches.model_path IS 'Where the model bytes are stored (db://models/<batch_id>).';
COMMENT ON COLUMN mlTrainingBatches.is_production IS 'The model forecasts use; at most one per (symbol, forecast_horizon, model_type).';
COMMENT ON COLUMN mlTrainingBatches.created_at IS 'When the model was trained.';
COMMENT ON COLUMN mlTrainingBatches.forecast_horizon IS 'Minutes ahead the model predicts (added: the registry is per horizon).';
COMMENT ON COLUMN mlTrainingBatches.baseline_rmse IS 'RMSE of the zero-change baseline on the same validation rows (added).';
COMMENT ON COLUMN mlTrainingBatches.hyperparameters IS 'Training options actually used (added).';
COMMENT ON COLUMN mlTrainingBatches.feature_set_version IS 'Version of the feature set the model was trained on (added).';
COMMENT ON COLUMN mlTrainingBatches.duration_ms IS 'Training wall time in milliseconds (added).';
COMMENT ON COLUMN mlTrainingBatches.shrinkage IS 'The factor served on the raw prediction over the model''s out-of-time record at training: the lower prediction bound of the next block''s least-squares slope, 0 without skill (docs/forecasting.md; added in 0.6.0).';
COMMENT ON COLUMN mlTrainingBatches.skill_statistic IS 'Diebold-Mariano statistic (prequential, long-run variance by overlapping batch means) of zero change''s squared error minus the shrunk prediction''s over the out-of-time record: > 0 when the model helps (added in 0.6.0).';
COMMENT ON COLUMN mlTrainingBatches.skill_p_value IS 'One-sided p-value of skill_statistic; a model is promoted only below inference.skillSignificance (added in 0.6.0).';
COMMENT ON COLUMN mlTrainingBatches.calibration_pairs IS 'Predictions in the out-of-time record (rolling-origin folds inside the training window) (added in 0.6.0).';

CREATE TABLE persistentForecasts (
  id               SERIAL PRIMARY KEY,
  symbol           VARCHAR(20) NOT NULL,
  forecast_type    VARCHAR(30),
  confidence       DECIMAL(5,2),
  predicted_value  DECIMAL(15,8),
  actual_value     DECIMAL(15,8),
  forecast_horizon INTEGER,
  model_version    VARCHAR(50),
  created_at       TIMESTAMP DEFAULT NOW(),
  expires_at       TIMESTAMP,
  bar_timestamp    TIMESTAMP,
  raw_value        DECIMAL(15,8),
  lower            DECIMAL(15,8),
  upper            DECIMAL(15,8),
  CONSTRAINT persistentforecasts_type_check CHECK (forecast_type IN ('price_direction', 'volatility', 'trend')),
  CONSTRAINT persistentforecasts_confidence_range CHECK (confidence BETWEEN 0 AND 100),
  CONSTRAINT persistentforecasts_horizon_positive CHECK (forecast_horizon > 0)
);
CREATE INDEX persistentforecasts_lookup_idx ON persistentForecasts (symbol, forecast_horizon, created_at);
CREATE INDEX persistentforecasts_bar_idx ON persistentForecasts (symbol, forecast_horizon, bar_timestamp);
CREATE INDEX persistentforecasts_pending_actual_idx ON persistentForecasts (expires_at) WHERE actual_value IS NULL;
CREATE INDEX persistentforecasts_outcomes_idx ON persistentForecasts (model_version, forecast_horizon, bar_timestamp)
  WHERE actual_value IS NOT NULL;
COMMENT ON TABLE persistentForecasts IS 'Forecasts made by the models, with the actual outcome once known.';
COMMENT ON COLUMN persistentForecasts.id IS 'Surrogate key.';
COMMENT ON COLUMN persistentForecasts.symbol IS 'Trading pair.';
COMMENT ON COLUMN persistentForecasts.forecast_type IS 'price_direction, volatility or trend.';
COMMENT ON COLUMN persistentForecasts.confidence IS 'price_direction: the probability (50-100) that the change has the sign of raw_value, as stated from the model''s out-of-time record (before decay); 50 without shown skill.';
COMMENT ON COLUMN persistentForecasts.predicted_value IS 'Served prediction: the percentage change (price_direction: the raw model output shrunk, 0 without shown skill) or the value of the forecast type.';
COMMENT ON COLUMN persistentForecasts.actual_value IS 'Actual outcome, filled once the horizon has passed.';
COMMENT ON COLUMN persistentForecasts.forecast_horizon IS 'Minutes ahead.';
COMMENT ON COLUMN persistentForecasts.model_version IS 'batch_id of the model (or the fallback rule) that made it.';
COMMENT ON COLUMN persistentForecasts.created_at IS 'When the forecast was made.';
COMMENT ON COLUMN persistentForecasts.expires_at IS 'Forecast time + horizon.';
COMMENT ON COLUMN persistentForecasts.bar_timestamp IS 'Timestamp of the bar the forecast was made from (added).';
COMMENT ON COLUMN persistentForecasts.raw_value IS 'price_direction: the model''s raw output before shrinkage, % change (added in 0.6.0; NULL before).';
COMMENT ON COLUMN persistentForecasts.lower IS 'Lower bound of the conformal interval of the outcome at inference.intervalCoverage (price_direction: the change in %; volatility: the realized volatility) (added in 0.6.0; NULL when none could be stated).';
COMMENT ON COLUMN persistentForecasts.upper IS 'Upper bound of the conformal interval of the outcome (added in 0.6.0; NULL when none could be stated).';

CREATE TABLE tradeSimulations (
  id                 SERIAL PRIMARY KEY,
  symbol             VARCHAR(20) NOT NULL,
  signal_type        VARCHAR(10),
  entry_price        DECIMAL(20,8) NOT NULL,
  tp_price           DECIMAL(20,8),
  sl_price           DECIMAL(20,8),
  current_price      DECIMAL(20,8),
  confidence         INTEGER,
  profit_likelihood  INTEGER,
  real_time_pnl      DECIMAL(10,4),
  highest_profit     DECIMAL(10,4),
  lowest_loss        DECIMAL(10,4),
  profitable_minutes INTEGER,
  total_minutes      INTEGER,
  is_active          BOOLEAN DEFAULT TRUE,
  created_at         TIMESTAMP DEFAULT NOW(),
  completed_at       TIMESTAMP,
  CONSTRAINT tradesimulations_signal_type_check CHECK (signal_type IN ('LONG', 'SHORT', 'WAIT')),
  CONSTRAINT tradesimulations_confidence_range CHECK (confidence BETWEEN 0 AND 100),
  CONSTRAINT tradesimulations_profit_likelihood_range CHECK (profit_likelihood BETWEEN 0 AND 100),
  CONSTRAINT tradesimulations_minutes_nonnegative CHECK (profitable_minutes >= 0 AND total_minutes >= 0)
);
CREATE INDEX tradesimulations_active_idx ON tradeSimulations (symbol) WHERE is_active;
CREATE INDEX tradesimulations_symbol_time_idx ON tradeSimulations (symbol, created_at);
COMMENT ON TABLE tradeSimulations IS 'Simulated trades opened from forecasts and followed bar by bar.';
COMMENT ON COLUMN tradeSimulations.id IS 'Surrogate key.';
COMMENT ON COLUMN tradeSimulations.symbol IS 'Trading pair.';
COMMENT ON COLUMN tradeSimulations.signal_type IS 'LONG, SHORT or WAIT.';
COMMENT ON COLUMN tradeSimulations.entry_price IS 'Entry price.';
COMMENT ON COLUMN tradeSimulations.tp_price IS 'Take-profit target.';
COMMENT ON COLUMN tradeSimulations.sl_price IS 'Stop-loss level.';
COMMENT ON COLUMN tradeSimulations.current_price IS 'Latest market price seen by the trade.';
COMMENT ON COLUMN tradeSimulations.confidence IS 'Model confidence, 0-100.';
COMMENT ON COLUMN tradeSimulations.profit_likelihood IS 'Probability of profit, 0-100.';
COMMENT ON COLUMN tradeSimulations.real_time_pnl IS 'Current P&L in percent, after costs.';
COMMENT ON COLUMN tradeSimulations.highest_profit IS 'Peak P&L in percent.';
COMMENT ON COLUMN tradeSimulations.lowest_loss IS 'Lowest P&L in percent (maximum drawdown of the trade).';
COMMENT ON COLUMN tradeSimulations.profitable_minutes IS 'Minutes spent in profit.';
COMMENT ON COLUMN tradeSimulations.total_minutes IS 'Minutes since entry.';
COMMENT ON COLUMN tradeSimulations.is_active IS 'True while the trade is open.';
COMMENT ON COLUMN tradeSimulations.created_at IS 'Entry time.';
COMMENT ON COLUMN tradeSimulations.completed_at IS 'Exit time.';

CREATE TABLE systemLogs (
  id          SERIAL PRIMARY KEY,
  category    VARCHAR(50),
  subcategory VARCHAR(50),
  level       VARCHAR(10),
  message     TEXT,
  context     JSONB,
  symbol      VARCHAR(20),
  timestamp   TIMESTAMP DEFAULT NOW(),
  stack_trace TEXT,
  CONSTRAINT systemlogs_level_check CHECK (level IN ('info', 'warning', 'error', 'debug'))
);
CREATE INDEX systemlogs_timestamp_idx ON systemLogs (timestamp);
CREATE INDEX systemlogs_level_timestamp_idx ON systemLogs (level, timestamp);
CREATE INDEX systemlogs_category_timestamp_idx ON systemLogs (category, timestamp);
COMMENT ON TABLE systemLogs IS 'System event log. Written through ml_log(); entries survive the rollback of the transaction that wrote them.';
COMMENT ON COLUMN systemLogs.id IS 'Surrogate key.';
COMMENT ON COLUMN systemLogs.category IS 'Area: feature_calculation, ml_training, config, ...';
COMMENT ON COLUMN systemLogs.subcategory IS 'Specific operation.';
COMMENT ON COLUMN systemLogs.level IS 'info, warning, error or debug.';
COMMENT ON COLUMN systemLogs.message IS 'Log message.';
COMMENT ON COLUMN systemLogs.context IS 'Structured context (may hold operational detail: not granted to readers).';
COMMENT ON COLUMN systemLogs.symbol IS 'Associated trading pair, if any.';
COMMENT ON COLUMN systemLogs.timestamp IS 'When ml_log() was called (caller''s local time, like DEFAULT NOW()).';
COMMENT ON COLUMN systemLogs.stack_trace IS 'PostgreSQL error context at the time of a warning or error.';

CREATE TABLE recoveryState (
  id              SERIAL PRIMARY KEY,
  service_name    VARCHAR(50),
  operation_id    VARCHAR(100),
  state_data      JSONB,
  checkpoint_type VARCHAR(30),
  created_at      TIMESTAMP DEFAULT NOW(),
  CONSTRAINT recoverystate_checkpoint_type_check CHECK (checkpoint_type IN ('success', 'error', 'intermediate')),
  origin          TEXT NOT NULL DEFAULT 'user',
  CONSTRAINT recoverystate_origin_check CHECK (origin IN ('user', 'cryptoml'))
);
CREATE INDEX recoverystate_operation_idx ON recoveryState (service_name, operation_id, created_at);
COMMENT ON TABLE recoveryState IS 'Checkpoints of long operations, so an interrupted run can resume.';
COMMENT ON COLUMN recoveryState.id IS 'Surrogate key.';
COMMENT ON COLUMN recoveryState.service_name IS 'Service: chart_building, ml_training, ...';
COMMENT ON COLUMN recoveryState.operation_id IS 'Identifier of one operation of the service.';
COMMENT ON COLUMN recoveryState.state_data IS 'Serialized state needed to resume.';
COMMENT ON COLUMN recoveryState.checkpoint_type IS 'success, error or intermediate.';
COMMENT ON COLUMN recoveryState.created_at IS 'When the checkpoint was written.';
COMMENT ON COLUMN recoveryState.origin IS 'Who wrote the checkpoint: cryptoml (its own operations, which resume only from these) or user (ml_checkpoint, INSERT). Only the owner writes cryptoml, and the admin level through ml_retrain_all''s step. Added in 0.5.0.';

-- ===========================================================================================
-- Audit trail (0.7.0): who changed what. Written through the logger queue like systemLogs, so
-- an entry survives the rollback of the transaction that wrote it; ml_audit_log reads that
-- transaction's fate from the commit log. Only the owner has any privilege on the table; the
-- admin level reads the view.
-- ===========================================================================================
CREATE TABLE cryptoml_internal.audit_log (
  id               BIGSERIAL PRIMARY KEY,
  logged_at        TIMESTAMPTZ NOT NULL,
  action           TEXT NOT NULL,
  object           TEXT,
  old_value        JSONB,
  new_value        JSONB,
  session_role     NAME NOT NULL,
  acting_role      NAME NOT NULL,
  backend_pid      INTEGER NOT NULL,
  application_name TEXT,
  client           TEXT,
  xact_id          XID8,
  system_id        BIGINT NOT NULL DEFAULT (pg_catalog.pg_control_system()).system_identifier
);
CREATE INDEX audit_log_logged_at_idx ON cryptoml_internal.audit_log (logged_at);
CREATE INDEX audit_log_action_idx ON cryptoml_internal.audit_log (action, logged_at);
COMMENT ON TABLE cryptoml_internal.audit_log IS 'Audit trail of deploys, rollbacks, model imports and exports, configuration changes, grants and revokes, schedule changes and worker switches (added in 0.7.0). Written only by cryptoml''s own functions; read through ml_audit_log (admin level).';
COMMENT ON COLUMN cryptoml_internal.audit_log.logged_at IS 'When the operation recorded itself (clock time).';
COMMENT ON COLUMN cryptoml_internal.audit_log.action IS 'deploy, rollback, model_import, model_export, config_set, config_reset, grant, revoke, schedule, unschedule, workers_start, workers_stop; on a cluster node (0.9.0) node_join, node_role, node_purge.';
COMMENT ON COLUMN cryptoml_internal.audit_log.object IS 'What it acted on: a batch_id, a configuration path, a role, the job set, the cluster.';
COMMENT ON COLUMN cryptoml_internal.audit_log.old_value IS 'State before the change (JSON), when there was one.';
COMMENT ON COLUMN cryptoml_internal.audit_log.new_value IS 'State after the change (JSON).';
COMMENT ON COLUMN cryptoml_internal.audit_log.session_role IS 'The role that logged in (session_user).';
COMMENT ON COLUMN cryptoml_internal.audit_log.acting_role IS 'The role in effect when the caller called (after SET ROLE, before any SECURITY DEFINER switch).';
COMMENT ON COLUMN cryptoml_internal.audit_log.client IS 'Client address, local (Unix socket) or background (a worker).';
COMMENT ON COLUMN cryptoml_internal.audit_log.xact_id IS 'The (sub)transaction that made the change; NULL for an operation that wrote nothing transactional (a worker switch, an export).';
COMMENT ON COLUMN cryptoml_internal.audit_log.system_id IS 'System identifier of the cluster that wrote the entry: its xact_id means something only there (a restored dump keeps the rows, not the commit log).';
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.audit_log_id_seq', '');

CREATE FUNCTION cryptoml_internal.audit(action text, object text, old_value jsonb, new_value jsonb) RETURNS void
  AS 'MODULE_PATHNAME', 'cml_audit' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION cryptoml_internal.audit(text, text, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION cryptoml_internal.audit(text, text, jsonb, jsonb) IS 'Writes one audit entry; refuses any caller whose current role is not the extension owner or a superuser.';

CREATE VIEW ml_audit_log AS
  SELECT a.id, a.logged_at, a.action, a.object, a.old_value, a.new_value, a.session_role, a.acting_role,
         a.backend_pid, a.application_name, a.client, a.xact_id,
         CASE WHEN a.xact_id IS NULL THEN 'not transactional'
              WHEN a.system_id <> (pg_catalog.pg_control_system()).system_identifier THEN 'unknown (written by another cluster)'
              ELSE coalesce(pg_catalog.pg_xact_status(a.xact_id), 'unknown (older than the commit log)') END AS outcome
    FROM cryptoml_internal.audit_log a;
REVOKE ALL ON ml_audit_log FROM PUBLIC;
COMMENT ON VIEW ml_audit_log IS 'The audit trail with each change''s outcome: committed, aborted (the change was rolled back), in progress, or not transactional. Admin level (ml_grant_access).';
COMMENT ON COLUMN ml_audit_log.outcome IS 'Fate of the transaction that made the change (pg_xact_status): committed, aborted, in progress; not transactional for worker switches and exports.';

-- ===========================================================================================
-- Progress of long operations (0.7.0): one shared-memory slot per backend (src/pg/progress.cpp)
-- ===========================================================================================
CREATE FUNCTION cryptoml_internal.progress(OUT pid integer, OUT database text, OUT role text, OUT operation text,
                                           OUT symbol text, OUT phase text, OUT done bigint, OUT total bigint,
                                           OUT started_at timestamptz, OUT updated_at timestamptz, OUT eta timestamptz)
  RETURNS SETOF record AS 'MODULE_PATHNAME', 'cml_progress' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION cryptoml_internal.progress() FROM PUBLIC;
CREATE FUNCTION cryptoml_internal.progress_report(operation text, phase text, done bigint, total bigint) RETURNS void
  AS 'MODULE_PATHNAME', 'cml_progress_report' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION cryptoml_internal.progress_report(text, text, bigint, bigint) FROM PUBLIC;
CREATE FUNCTION cryptoml_internal.progress_done() RETURNS void
  AS 'MODULE_PATHNAME', 'cml_progress_done' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION cryptoml_internal.progress_done() FROM PUBLIC;
CREATE VIEW ml_progress AS
  SELECT p.pid, p.database, p.role, p.operation, p.symbol, p.phase, p.done, p.total,
         CASE WHEN p.total > 0 THEN pg_catalog.round(100.0 * p.done / p.total, 1) END AS percent,
         p.started_at, p.updated_at, p.eta
    FROM cryptoml_internal.progress() p;
REVOKE ALL ON ml_progress FROM PUBLIC;
COMMENT ON VIEW ml_progress IS 'Every long cryptoml operation running in the cluster (train, backtest, build_samples, recompute, compress), read from shared memory while it runs, like pg_stat_progress_*: its phase, units done of total, and an ETA at the rate so far. Empty without cryptoml in shared_preload_libraries. Reader level.';
COMMENT ON COLUMN ml_progress.eta IS 'Expected end at the rate measured up to updated_at; NULL until a unit is done or when the total is unknown.';

-- ===========================================================================================
-- Functions
-- ===========================================================================================
CREATE FUNCTION ml_version() RETURNS text
  AS 'MODULE_PATHNAME', 'ml_version' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_version() IS 'Version of the cryptoml library.';

-- Configuration ------------------------------------------------------------------------------
CREATE FUNCTION ml_config() RETURNS jsonb
  AS 'MODULE_PATHNAME', 'ml_config' LANGUAGE C STABLE PARALLEL RESTRICTED
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_config() IS 'The whole effective configuration (defaults + overrides), with the seed''s camelCase keys.';

CREATE FUNCTION ml_config_get(path text) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'ml_config_get' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_config_get(text) IS 'One configuration key or section by dotted path, e.g. ''features.rsiPeriod'' or ''features''.';

CREATE FUNCTION ml_config_set(path text, value jsonb) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'ml_config_set' LANGUAGE C VOLATILE STRICT
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_config_set(text, jsonb) IS 'Validates and sets one configuration key; returns the stored value. Rejected values leave the config unchanged.';

CREATE FUNCTION ml_config_reset(path text) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'ml_config_reset' LANGUAGE C VOLATILE STRICT
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_config_reset(text) IS 'Restores one configuration key to its default; returns the default.';

CREATE FUNCTION ml_config_reset_all() RETURNS jsonb
  AS 'MODULE_PATHNAME', 'ml_config_reset' LANGUAGE C VOLATILE
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_config_reset_all() IS 'Restores every configuration key to its default; returns the default configuration.';

CREATE FUNCTION cryptoml_internal.config_key_table() RETURNS jsonb
  AS 'MODULE_PATHNAME', 'cml_config_key_table' LANGUAGE C STABLE
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION ml_config_keys()
  RETURNS TABLE (path text, value jsonb, default_value jsonb, is_default boolean, rule text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT k->>'path', k->'value', k->'default', (k->'value') = (k->'default'), k->>'rule'
    FROM jsonb_array_elements(cryptoml_internal.config_key_table()) AS k
    ORDER BY 1
  $$;
COMMENT ON FUNCTION ml_config_keys() IS 'Every settable configuration key with its value, default and validation rule.';

-- Scale-out (0.9.0, docs/scale-out.md): a node of a cryptoml_router cluster serves only the symbols
-- it owns. A database without a node_identity row is standalone and serves every configured symbol.
CREATE TABLE cryptoml_internal.node_identity (
  only_row  boolean PRIMARY KEY DEFAULT true CONSTRAINT node_identity_one_row CHECK (only_row),
  name      text NOT NULL CONSTRAINT node_identity_name_rule CHECK (name ~ '^[a-z][a-z0-9_]{0,29}$'),
  node_no   integer NOT NULL CONSTRAINT node_identity_node_no_rule CHECK (node_no BETWEEN 1 AND 20),
  joined_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cryptoml_internal.node_identity IS 'This database as a node of a cryptoml_router cluster (one row), written by node_join; no row: standalone.';
CREATE TABLE cryptoml_internal.node_symbols (
  symbol     varchar(20) PRIMARY KEY,
  role       text NOT NULL CONSTRAINT node_symbols_role_rule CHECK (role IN ('owned', 'moving', 'replica')),
  changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cryptoml_internal.node_symbols IS 'On a cluster node: owned symbols (served here), moving ones (frozen during ml_move_symbol) and replicas (a leader''s bars copied from its owner by logical replication, read-only here). Written by node_set_symbol.';
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.node_identity', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.node_symbols', '');
-- Every backend's cache of these two tables (the bar trigger, ml_forecast) is dropped when they change.
CREATE FUNCTION cryptoml_internal.node_changed() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cml_node_changed' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION cryptoml_internal.node_changed() FROM PUBLIC;
CREATE TRIGGER node_identity_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cryptoml_internal.node_identity
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.node_changed();
CREATE TRIGGER node_symbols_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cryptoml_internal.node_symbols
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.node_changed();

-- The symbols this database serves (workers, sweeps, monitoring, ml_health): every configured
-- symbol when standalone; on a cluster node the configured symbols it owns.
CREATE FUNCTION cryptoml_internal.served_symbols() RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT c.s FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) AS c(s)
   WHERE NOT EXISTS (SELECT 1 FROM cryptoml_internal.node_identity)
      OR EXISTS (SELECT 1 FROM cryptoml_internal.node_symbols n WHERE n.symbol = c.s AND n.role = 'owned')
  $$;
COMMENT ON FUNCTION cryptoml_internal.served_symbols() IS 'Symbols served here: the configured ones; on a cluster node only those it owns (node_symbols).';

-- ml_config_set's validation without the write: the router checks a value on every node first.
CREATE FUNCTION cryptoml_internal.config_check(path text, value jsonb) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'cml_config_check' LANGUAGE C STABLE STRICT
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION cryptoml_internal.config_check(text, jsonb) FROM PUBLIC;

-- Logging ------------------------------------------------------------------------------------
CREATE FUNCTION ml_log(level text, category text, subcategory text, message text,
                       context jsonb DEFAULT NULL, symbol text DEFAULT NULL) RETURNS boolean
  AS 'MODULE_PATHNAME', 'ml_log' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_log(text, text, text, text, jsonb, text) IS 'Writes a systemLogs entry that survives a rollback of the calling transaction; false when below system.logLevel.';

CREATE FUNCTION ml_log_flush(timeout_ms integer DEFAULT 10000) RETURNS boolean
  AS 'MODULE_PATHNAME', 'ml_log_flush' LANGUAGE C VOLATILE STRICT SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_log_flush(integer) IS 'Waits until every entry this session queued is committed to systemLogs/recoveryState; false on timeout.';

CREATE FUNCTION cryptoml_internal.log_queue_state() RETURNS jsonb
  AS 'MODULE_PATHNAME', 'cml_log_queue_state' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION ml_log_queue(OUT mode text, OUT queued bigint, OUT queued_bytes bigint, OUT capacity_bytes bigint,
                             OUT written bigint, OUT failed bigint, OUT worker_pid integer)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT s->>'mode', (s->>'queued')::bigint, (s->>'queued_bytes')::bigint, (s->>'capacity_bytes')::bigint,
           (s->>'written')::bigint, (s->>'failed')::bigint, nullif((s->>'worker_pid')::integer, 0)
    FROM cryptoml_internal.log_queue_state() AS s
  $$;
COMMENT ON FUNCTION ml_log_queue() IS 'State of this database''s autonomous log queue: mode (autonomous or direct), backlog, totals, logger pid.';

-- Recovery -----------------------------------------------------------------------------------
CREATE FUNCTION ml_checkpoint(service_name text, operation_id text, checkpoint_type text,
                              state jsonb DEFAULT '{}') RETURNS void
  AS 'MODULE_PATHNAME', 'ml_checkpoint' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_checkpoint(text, text, text, jsonb) IS 'Writes a recoveryState checkpoint (success, error or intermediate) in its own committed step.';

CREATE FUNCTION ml_recovery_last(service_name text, operation_id text) RETURNS SETOF recoveryState
  LANGUAGE sql STABLE STRICT ROWS 1 SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT r.* FROM @extschema@.recoverystate AS r
    WHERE r.service_name = $1 AND r.operation_id = $2
    ORDER BY r.created_at DESC, r.id DESC LIMIT 1
  $$;
COMMENT ON FUNCTION ml_recovery_last(text, text) IS 'The latest checkpoint of one operation (no row when it never ran): where to resume.';

CREATE FUNCTION ml_recovery_status()
  RETURNS TABLE (service_name varchar, operation_id varchar, last_checkpoint_at timestamp,
                 started_at timestamp, checkpoints bigint, state_data jsonb)
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT o.service_name, o.operation_id, o.last_at, o.first_at, o.n, o.state_data
    FROM (
      SELECT DISTINCT ON (r.service_name, r.operation_id)
             r.service_name, r.operation_id, r.checkpoint_type, r.state_data, r.created_at AS last_at,
             min(r.created_at) OVER w AS first_at, count(*) OVER w AS n
      FROM @extschema@.recoverystate AS r
      WINDOW w AS (PARTITION BY r.service_name, r.operation_id)
      ORDER BY r.service_name, r.operation_id, r.created_at DESC, r.id DESC
    ) AS o
    WHERE o.checkpoint_type = 'intermediate'
    ORDER BY o.last_at
  $$;
COMMENT ON FUNCTION ml_recovery_status() IS 'Operations whose latest checkpoint is intermediate: started and never finished.';

-- Access control -----------------------------------------------------------------------------
-- pgAudit object auditing (docs/roles.md): the role pgaudit.role names is granted exactly the
-- privileges whose use must be logged. Reads and writes of model bytes; writes of the registry,
-- the production switches, ensemble members, the configuration and the audit trail. Never
-- rollingChartData, persistentForecasts or a table the insert path reads: a live feed's candle
-- inserts log nothing. Called at CREATE EXTENSION; call it again after creating the role.
CREATE FUNCTION ml_pgaudit_objects() RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    auditor text := pg_catalog.current_setting('pgaudit.role', true);
    r text;
    s text := quote_ident('@extschema@');
  BEGIN
    IF auditor IS NULL OR auditor = '' THEN
      RETURN 'pgaudit.role is not set (pgaudit not loaded, or no object auditing configured): nothing granted';
    END IF;
    IF to_regrole(quote_ident(auditor)) IS NULL THEN
      RETURN format('pgaudit.role names "%s", which does not exist: create it (CREATE ROLE %s NOLOGIN) and call ml_pgaudit_objects() again', auditor, quote_ident(auditor));
    END IF;
    -- the grants only mark what to log: a role that can log in, or that others belong to, would
    -- get real access to the model bytes and the registry through them
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = auditor AND (rolcanlogin OR rolsuper))
       OR EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = auditor) THEN
      RAISE EXCEPTION 'pgaudit.role "%" can log in, is a superuser or has members', auditor
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'rule: the object-audit role must be a NOLOGIN role nobody belongs to: its privileges only mark what pgAudit logs, and a member would hold them';
    END IF;
    r := quote_ident(auditor);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON cryptoml_internal.models TO %s', r);
    EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %s.mltrainingbatches, cryptoml_internal.deployments, '
                   'cryptoml_internal.ensemble_members, cryptoml_internal.config, cryptoml_internal.audit_log TO %s', s, r);
    RETURN format('object auditing through %s: cryptoml_internal.models (read, write), mltrainingbatches, deployments, '
                  'ensemble_members, config, audit_log (write)', auditor);
  END
  $$;
REVOKE ALL ON FUNCTION ml_pgaudit_objects() FROM PUBLIC;
COMMENT ON FUNCTION ml_pgaudit_objects() IS 'Grants the pgaudit.role role the privileges pgAudit object auditing logs: reads and writes of model bytes, writes of the registry, deployments, ensemble members, configuration and audit trail. Owner only; idempotent.';

-- The privilege set a role holds now, for the audit trail's old and new values of a grant.
CREATE FUNCTION cryptoml_internal.access_level(role regrole) RETURNS text
  LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT CASE
      WHEN pg_catalog.has_function_privilege(role, '@extschema@.ml_config_set(pg_catalog.text, pg_catalog.jsonb)', 'EXECUTE') THEN 'admin'
      WHEN pg_catalog.has_table_privilege(role, '@extschema@.rollingchartdata', 'INSERT') THEN 'writer'
      WHEN pg_catalog.has_table_privilege(role, '@extschema@.rollingchartdata', 'SELECT') THEN 'reader'
      ELSE 'none' END
  $$;
REVOKE ALL ON FUNCTION cryptoml_internal.access_level(regrole) FROM PUBLIC;

CREATE FUNCTION ml_grant_access(role regrole, access text) RETURNS void
  LANGUAGE plpgsql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r text := quote_ident((SELECT rolname FROM pg_roles WHERE oid = role));
    s text := quote_ident('@extschema@');
    before text := cryptoml_internal.access_level(role);
  BEGIN
    IF access NOT IN ('reader', 'writer', 'admin') THEN
      RAISE EXCEPTION 'invalid access level "%"', left(access, 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: access must be one of reader, writer, admin';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO %s', s, r);
    -- reader: chart data, forecasts, simulations, the registry's metrics, logs without context.
    EXECUTE format('GRANT SELECT ON %s.rollingchartdata, %s.persistentforecasts, %s.tradesimulations, '
                   '%s.mltrainingbatches, %s.mltrainingsamples TO %s', s, s, s, s, s, r);
    EXECUTE format('GRANT SELECT (id, category, subcategory, level, message, symbol, timestamp) ON %s.systemlogs TO %s', s, r);
    EXECUTE format('GRANT SELECT ON %s.ml_indicator_status, %s.ml_forecasts_live, %s.ml_chart_history TO %s', s, s, s, r);
    EXECUTE format('GRANT SELECT ON %s.ml_status_symbols, %s.ml_status_models, %s.ml_status_forecast_history, '
                   '%s.ml_status_forecasts, %s.ml_status_bars, %s.ml_status_alerts, %s.ml_status_workers, '
                   '%s.ml_status_system TO %s', s, s, s, s, s, s, s, s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_workers(), %s.ml_health() TO %s', s, s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_dashboard(text) TO %s', s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_performance(text, timestamp), %s.ml_forecast_quality(text, integer, timestamp), '
                   '%s.ml_calibration(text, integer, timestamp), %s.ml_backtest_calibration(text) TO %s', s, s, s, s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_ingest_status() TO %s', s, r);
    EXECUTE format('GRANT SELECT ON %s.ml_progress TO %s', s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION cryptoml_internal.progress(), cryptoml_internal.wilson(integer, integer) TO %s', r);
    EXECUTE format('GRANT SELECT ON %s.mlbacktestruns, %s.mlbacktestpredictions, %s.mlbacktesttrades TO %s', s, s, s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_forecast(text, integer) TO %s', s, r);
    -- 0.8.0: anomalies and the hyperparameter searches
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_anomalies(text, timestamp) TO %s', s, r);
    EXECUTE format('GRANT SELECT ON %s.ml_tune_runs, %s.ml_tune_trials TO %s', s, s, r);
    IF access IN ('writer', 'admin') THEN
      EXECUTE format('GRANT INSERT, UPDATE ON %s.rollingchartdata TO %s', s, r);
      EXECUTE format('GRANT USAGE ON SEQUENCE %s.rollingchartdata_id_seq TO %s', s, r);
      EXECUTE format('GRANT INSERT ON %s.systemlogs TO %s', s, r);
      -- every column but origin: a writer's checkpoint is never taken for one of cryptoml's own
      EXECUTE format('GRANT INSERT (service_name, operation_id, state_data, checkpoint_type, created_at) '
                     'ON %s.recoverystate TO %s', s, r);
      EXECUTE format('GRANT SELECT ON %s.recoverystate TO %s', s, r);
      EXECUTE format('GRANT USAGE ON SEQUENCE %s.systemlogs_id_seq, %s.recoverystate_id_seq TO %s', s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_log(text, text, text, text, jsonb, text), %s.ml_log_flush(integer), '
                     '%s.ml_checkpoint(text, text, text, jsonb), %s.ml_recovery_last(text, text), %s.ml_recovery_status(), '
                     '%s.ml_log_queue() TO %s', s, s, s, s, s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_ingest_klines(text, text, jsonb), %s.ml_insert_bars(text, jsonb), '
                     '%s.ml_load_bars(text), %s.ml_load_bars(regclass) TO %s', s, s, s, s, r);
      -- pgAudit: a feeder's sessions log DDL and ROLE statements only, whatever the server-wide
      -- pgaudit.log says, so a live feed's candle inserts are never logged statement by statement
      IF access = 'writer' AND pg_catalog.current_setting('pgaudit.log', true) IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %s SET pgaudit.log = %L', r, 'ddl, role');
      END IF;
    END IF;
    IF access = 'admin' THEN
      -- Exactly the extension's tables, never other tables that share its schema, and only
      -- the rights the level needs: TRIGGER, TRUNCATE and REFERENCES stay with the owner (a
      -- trigger an admin could create would run inside the workers and the recompute, as their
      -- role); logs and checkpoints are append-only (no UPDATE), and origin is the owner's.
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s.rollingchartdata, %s.persistentforecasts, '
                     '%s.tradesimulations, %s.mltrainingbatches, %s.mltrainingsamples TO %s', s, s, s, s, s, r);
      EXECUTE format('GRANT SELECT, DELETE ON %s.systemlogs, %s.recoverystate TO %s', s, s, r);
      EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s.rollingchartdata_id_seq, %s.persistentforecasts_id_seq, '
                     '%s.tradesimulations_id_seq, %s.mltrainingbatches_id_seq, %s.mltrainingsamples_id_seq, '
                     '%s.systemlogs_id_seq, %s.recoverystate_id_seq TO %s', s, s, s, s, s, s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_config_set(text, jsonb), %s.ml_config_reset(text), '
                     '%s.ml_config_reset_all() TO %s', s, s, s, r);
      EXECUTE format('GRANT EXECUTE ON PROCEDURE %s.ml_recompute_indicators(text, timestamp, bigint) TO %s', s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_build_samples(text, integer, timestamp) TO %s', s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_train(text, integer, text, jsonb), %s.ml_deploy(text), '
                     '%s.ml_rollback(text, integer, text) TO %s', s, s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_fill_actuals(integer), %s.ml_check_drift(integer, integer, float8), '
                     '%s.ml_schedule(), %s.ml_unschedule() TO %s', s, s, s, s, r);
      EXECUTE format('GRANT EXECUTE ON PROCEDURE %s.ml_retrain_all(text, jsonb) TO %s', s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_start_workers(), %s.ml_stop_workers() TO %s', s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_forecast_all(text), %s.ml_monitor_check(text, timestamptz, integer) TO %s', s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_simulate(text, integer, float8, float8, float8, float8), '
                     '%s.ml_backtest(text, integer, text, timestamp, timestamp, jsonb) TO %s', s, s, r);
      EXECUTE format('GRANT EXECUTE ON PROCEDURE %s.ml_compress_history(bigint), %s.ml_apply_retention(bigint), '
                     '%s.ml_build_samples_all(bigint) TO %s', s, s, s, r);
      -- the procedures' steps (SECURITY DEFINER functions) live in cryptoml_internal
      EXECUTE format('GRANT USAGE ON SCHEMA cryptoml_internal TO %s', r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION cryptoml_internal.retention_step(text, integer), '
                     'cryptoml_internal.compress_step(integer), cryptoml_internal.chart_symbols(), '
                     'cryptoml_internal.sweep_checkpoint(text, jsonb, text) TO %s', r);
      EXECUTE format('GRANT SELECT ON %s.ml_audit_log TO %s', s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_export_model(text), %s.ml_import_model(jsonb, boolean) TO %s', s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION cryptoml_internal.audit_schedule(text) TO %s', r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION cryptoml_internal.progress_report(text, text, bigint, bigint), '
                     'cryptoml_internal.progress_done() TO %s', r);
      -- 0.8.0: volatility models, anomaly detection, hyperparameter search (admin, like ml_train)
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_train_volatility(text, integer, jsonb), '
                     '%s.ml_volatility_evaluate(text, integer, jsonb), %s.ml_detect_anomalies(text) TO %s', s, s, s, r);
      EXECUTE format('GRANT EXECUTE ON PROCEDURE %s.ml_tune(text, integer, text, integer, jsonb, jsonb) TO %s', s, r);
    END IF;
    PERFORM cryptoml_internal.audit('grant', (SELECT rolname FROM pg_roles WHERE oid = role)::text,
      jsonb_build_object('access', before), jsonb_build_object('access', cryptoml_internal.access_level(role), 'granted', access));
  END
  $$;
COMMENT ON FUNCTION ml_grant_access(regrole, text) IS 'Grants a role the reader, writer or admin privilege set (see docs/roles.md). Owner only.';

CREATE FUNCTION ml_revoke_access(role regrole) RETURNS void
  LANGUAGE plpgsql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r text := quote_ident((SELECT rolname FROM pg_roles WHERE oid = role));
    s text := quote_ident('@extschema@');
    before text := cryptoml_internal.access_level(role);
  BEGIN
    EXECUTE format('REVOKE ALL ON %s.ml_audit_log FROM %s', s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_anomalies(text, timestamp), %s.ml_train_volatility(text, integer, jsonb), '
                   '%s.ml_volatility_evaluate(text, integer, jsonb), %s.ml_detect_anomalies(text) FROM %s', s, s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON PROCEDURE %s.ml_tune(text, integer, text, integer, jsonb, jsonb) FROM %s', s, r);
    EXECUTE format('REVOKE ALL ON %s.ml_tune_runs, %s.ml_tune_trials FROM %s', s, s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_dashboard(text), %s.ml_export_model(text), %s.ml_import_model(jsonb, boolean) FROM %s', s, s, s, r);
    IF pg_catalog.current_setting('pgaudit.log', true) IS NOT NULL THEN
      EXECUTE format('ALTER ROLE %s RESET pgaudit.log', r);
    END IF;
    EXECUTE format('REVOKE EXECUTE ON FUNCTION cryptoml_internal.audit_schedule(text), cryptoml_internal.progress(), cryptoml_internal.wilson(integer, integer), '
                   'cryptoml_internal.progress_report(text, text, bigint, bigint), cryptoml_internal.progress_done() FROM %s', r);
    EXECUTE format('REVOKE ALL ON %s.ml_progress FROM %s', s, r);
    EXECUTE format('REVOKE ALL ON %s.rollingchartdata, %s.persistentforecasts, %s.tradesimulations, %s.mltrainingbatches, '
                   '%s.mltrainingsamples, %s.systemlogs, %s.recoverystate FROM %s', s, s, s, s, s, s, s, r);
    EXECUTE format('REVOKE ALL ON SEQUENCE %s.rollingchartdata_id_seq, %s.persistentforecasts_id_seq, '
                   '%s.tradesimulations_id_seq, %s.mltrainingbatches_id_seq, %s.mltrainingsamples_id_seq, '
                   '%s.systemlogs_id_seq, %s.recoverystate_id_seq FROM %s', s, s, s, s, s, s, s, r);
    EXECUTE format('REVOKE ALL ON SCHEMA cryptoml_internal FROM %s', r);
    EXECUTE format('REVOKE ALL ON %s.ml_indicator_status, %s.ml_forecasts_live, %s.ml_chart_history FROM %s', s, s, s, r);
    EXECUTE format('REVOKE ALL ON %s.ml_status_symbols, %s.ml_status_models, %s.ml_status_forecast_history, '
                   '%s.ml_status_forecasts, %s.ml_status_bars, %s.ml_status_alerts, %s.ml_status_workers, '
                   '%s.ml_status_system FROM %s', s, s, s, s, s, s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_health(), %s.ml_monitor_check(text, timestamptz, integer) FROM %s', s, s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_performance(text, timestamp), %s.ml_forecast_quality(text, integer, timestamp), '
                   '%s.ml_calibration(text, integer, timestamp), %s.ml_simulate(text, integer, float8, float8, float8, float8), '
                   '%s.ml_backtest(text, integer, text, timestamp, timestamp, jsonb), %s.ml_backtest_calibration(text) FROM %s',
                   s, s, s, s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_ingest_status(), %s.ml_ingest_klines(text, text, jsonb), '
                   '%s.ml_insert_bars(text, jsonb), %s.ml_load_bars(text), %s.ml_load_bars(regclass) FROM %s', s, s, s, s, s, r);
    EXECUTE format('REVOKE ALL ON %s.mlbacktestruns, %s.mlbacktestpredictions, %s.mlbacktesttrades FROM %s', s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON PROCEDURE %s.ml_compress_history(bigint), %s.ml_apply_retention(bigint), '
                   '%s.ml_build_samples_all(bigint) FROM %s', s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION cryptoml_internal.retention_step(text, integer), '
                   'cryptoml_internal.compress_step(integer), cryptoml_internal.chart_symbols(), '
                   'cryptoml_internal.sweep_checkpoint(text, jsonb, text) FROM %s', r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_fill_actuals(integer), %s.ml_check_drift(integer, integer, float8), '
                   '%s.ml_schedule(), %s.ml_unschedule() FROM %s', s, s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON PROCEDURE %s.ml_retrain_all(text, jsonb) FROM %s', s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_workers(), %s.ml_start_workers(), %s.ml_stop_workers() FROM %s', s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_forecast_all(text) FROM %s', s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_forecast(text, integer) FROM %s', s, r);
    EXECUTE format('REVOKE EXECUTE ON PROCEDURE %s.ml_recompute_indicators(text, timestamp, bigint) FROM %s', s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_build_samples(text, integer, timestamp) FROM %s', s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_train(text, integer, text, jsonb), %s.ml_deploy(text), '
                   '%s.ml_rollback(text, integer, text) FROM %s', s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_log(text, text, text, text, jsonb, text), %s.ml_log_flush(integer), '
                   '%s.ml_checkpoint(text, text, text, jsonb), %s.ml_recovery_last(text, text), %s.ml_recovery_status(), '
                   '%s.ml_log_queue(), %s.ml_config_set(text, jsonb), %s.ml_config_reset(text), %s.ml_config_reset_all() FROM %s',
                   s, s, s, s, s, s, s, s, s, r);
    PERFORM cryptoml_internal.audit('revoke', (SELECT rolname FROM pg_roles WHERE oid = role)::text,
      jsonb_build_object('access', before), jsonb_build_object('access', cryptoml_internal.access_level(role)));
  END
  $$;
COMMENT ON FUNCTION ml_revoke_access(regrole) IS 'Revokes everything ml_grant_access granted to a role. Owner only.';

-- Guard test hooks ---------------------------------------------------------------------------
CREATE FUNCTION cryptoml_internal.raise_cpp(kind text) RETURNS integer
  AS 'MODULE_PATHNAME', 'cml_raise_cpp' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION cryptoml_internal.cpp_live_objects() RETURNS integer
  AS 'MODULE_PATHNAME', 'cml_cpp_live_objects' LANGUAGE C VOLATILE;
-- the features ml_forecast builds for a symbol's latest bar (to compare with the training samples')
CREATE FUNCTION cryptoml_internal.latest_features(symbol text) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'cml_latest_features' LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp;
-- a samples' features object as a vector in feature-set order (mlTrainingSamples.feature_vector)
CREATE FUNCTION cryptoml_internal.features_to_vector(features jsonb) RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'cml_features_to_vector' LANGUAGE C STABLE STRICT PARALLEL SAFE;
-- {mismatches, fast-path conversions}: the trigger's numeric -> double shortcut against numeric_float8
CREATE FUNCTION cryptoml_internal.numeric_to_double_mismatches(numeric[]) RETURNS bigint[]
  AS 'MODULE_PATHNAME', 'cml_numeric_to_double_mismatches' LANGUAGE C IMMUTABLE STRICT;

-- ===========================================================================================
-- Indicators: array functions, triggers on rollingChartData, recompute
-- ===========================================================================================
CREATE FUNCTION ml_rsi(close float8[], period integer DEFAULT 14) RETURNS float8[]
  AS 'MODULE_PATHNAME', 'ml_rsi' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_rsi(float8[], integer) IS 'Wilder RSI (TA-Lib convention) of a close series; NULL where no value exists yet.';

CREATE FUNCTION ml_macd(close float8[], fast integer DEFAULT 12, slow integer DEFAULT 26, signal integer DEFAULT 9,
                        OUT macd float8[], OUT signal float8[], OUT hist float8[])
  AS 'MODULE_PATHNAME', 'ml_macd' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_macd(float8[], integer, integer, integer) IS 'MACD line, signal and histogram (TA-Lib seeding); NULL before row slow+signal-2.';

CREATE FUNCTION ml_bollinger(close float8[], period integer DEFAULT 20, k float8 DEFAULT 2,
                             OUT upper float8[], OUT middle float8[], OUT lower float8[])
  AS 'MODULE_PATHNAME', 'ml_bollinger' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_bollinger(float8[], integer, float8) IS 'Bollinger bands: SMA(period) +/- k * population standard deviation.';

CREATE FUNCTION ml_stochastic(high float8[], low float8[], close float8[], k integer DEFAULT 14, d integer DEFAULT 3,
                              OUT k float8[], OUT d float8[])
  AS 'MODULE_PATHNAME', 'ml_stochastic' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_stochastic(float8[], float8[], float8[], integer, integer) IS 'Fast stochastic %K over k bars and %D = SMA(d) of %K.';

CREATE FUNCTION ml_volatility(close float8[], "window" integer DEFAULT 5) RETURNS float8[]
  AS 'MODULE_PATHNAME', 'ml_volatility' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_volatility(float8[], integer) IS 'Population standard deviation of the last window one-bar simple returns.';

CREATE FUNCTION cryptoml_internal.chart_row_trigger() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cml_chart_row_trigger' LANGUAGE C;
CREATE FUNCTION cryptoml_internal.chart_statement_trigger() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cml_chart_statement_trigger' LANGUAGE C;
-- Named to fire after any user BEFORE trigger (triggers fire in name order).
CREATE TRIGGER zz_cryptoml_indicators_row BEFORE INSERT OR UPDATE OR DELETE ON rollingChartData
  FOR EACH ROW EXECUTE FUNCTION cryptoml_internal.chart_row_trigger();
CREATE TRIGGER zz_cryptoml_indicators_statement AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rollingChartData
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.chart_statement_trigger();

CREATE PROCEDURE ml_recompute_indicators(symbol text DEFAULT NULL, since timestamp DEFAULT NULL, INOUT bars bigint DEFAULT NULL)
  AS 'MODULE_PATHNAME', 'ml_recompute_indicators' LANGUAGE C;
COMMENT ON PROCEDURE ml_recompute_indicators(text, timestamp, bigint) IS 'Rebuilds the indicators of one or all symbols (from since, or from the first bar) in committed batches of data.backfillBatchSize; resumes an interrupted run; returns the number of bars rewritten.';

CREATE VIEW ml_indicator_status AS
  SELECT s.symbol, s.bars, s.first_bar, s.latest_bar, c.bar_ts AS checkpoint_bar, c.bars AS checkpoint_bars,
         (c.bar_ts IS NOT DISTINCT FROM s.latest_bar) AS up_to_date
  FROM (SELECT r.symbol, count(*) AS bars, min(r.timestamp) AS first_bar, max(r.timestamp) AS latest_bar
          FROM @extschema@.rollingchartdata r GROUP BY r.symbol) s
  LEFT JOIN LATERAL (SELECT k.bar_ts, k.bars FROM cryptoml_internal.indicator_checkpoint k
                      WHERE k.symbol = s.symbol ORDER BY k.bar_ts DESC LIMIT 1) c ON true;
COMMENT ON VIEW ml_indicator_status IS 'Per symbol: bars, first and latest bar, and the latest indicator checkpoint.';

-- ===========================================================================================
-- Training samples
-- ===========================================================================================
CREATE FUNCTION ml_build_samples(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS bigint AS 'MODULE_PATHNAME', 'ml_build_samples' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_build_samples(text, integer, timestamp) IS 'Writes one mlTrainingSamples row per (symbol, bar, horizon) with a bar exactly horizon minutes later, in the feature set of features.featureSet (see docs/features.md; set 2 leaves a bar whose cross-market inputs are pending to a later call). Idempotent and incremental; NULL symbol/horizon mean every symbol / every training horizon; returns the rows added.';

-- ===========================================================================================
-- Model registry and training (XGBoost)
-- ===========================================================================================
CREATE TABLE cryptoml_internal.models (
  batch_id            VARCHAR(50) PRIMARY KEY REFERENCES mlTrainingBatches (batch_id) ON DELETE CASCADE,
  model               BYTEA NOT NULL,
  feature_names       JSONB NOT NULL,
  feature_set_version INTEGER NOT NULL,
  calibration         JSONB,
  created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  model_sha256        BYTEA NOT NULL,
  oot_ts              TIMESTAMP[],
  oot_raw             DOUBLE PRECISION[],
  oot_actual          DOUBLE PRECISION[]
);
COMMENT ON TABLE cryptoml_internal.models IS 'Model bytes (db://models/<batch_id>), their feature list, validation buckets and out-of-time record. Deleted with their batch.';
COMMENT ON COLUMN cryptoml_internal.models.model_sha256 IS 'SHA-256 of model, recorded when the model was stored; every load checks the bytes against it (added in 0.5.0).';
COMMENT ON COLUMN cryptoml_internal.models.oot_ts IS 'The model''s out-of-time record, with oot_raw and oot_actual: bars predicted by rolling-origin fold models inside its training window (an ensemble: its members'' records, weighted), what they predicted and what happened. Its forecasts state their shrinkage, confidence and interval from it and their own outcomes (added in 0.6.0; NULL for older models).';
COMMENT ON COLUMN cryptoml_internal.models.oot_raw IS 'Raw predictions of the out-of-time record, % change (added in 0.6.0).';
COMMENT ON COLUMN cryptoml_internal.models.oot_actual IS 'Outcomes of the out-of-time record, % change (added in 0.6.0).';

-- Per-session caches of the production models (ml_forecast) follow every change of the registry.
CREATE FUNCTION cryptoml_internal.registry_changed() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cml_registry_changed' LANGUAGE C;
REVOKE ALL ON FUNCTION cryptoml_internal.registry_changed() FROM PUBLIC;
CREATE TRIGGER zz_cryptoml_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlTrainingBatches
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.registry_changed();
-- ... and the per-session series of known volatility outcomes (volatility_interval) every change of
-- persistentForecasts but the insert of a forecast whose outcome is not known yet.
CREATE TRIGGER zz_cryptoml_forecasts_changed AFTER UPDATE OR DELETE OR TRUNCATE ON persistentForecasts
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.registry_changed();
CREATE TRIGGER zz_cryptoml_forecast_outcome_inserted AFTER INSERT ON persistentForecasts
  FOR EACH ROW WHEN (NEW.actual_value IS NOT NULL) EXECUTE FUNCTION cryptoml_internal.registry_changed();

CREATE TABLE cryptoml_internal.ensemble_members (
  ensemble_batch_id VARCHAR(50) NOT NULL REFERENCES mlTrainingBatches (batch_id) ON DELETE CASCADE,
  member_batch_id   VARCHAR(50) NOT NULL REFERENCES mlTrainingBatches (batch_id) ON DELETE RESTRICT,
  model_type        VARCHAR(30) NOT NULL,
  weight            DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (ensemble_batch_id, member_batch_id),
  CONSTRAINT ensemble_members_weight_range CHECK (weight >= 0 AND weight <= 1)
);
CREATE INDEX ensemble_members_member_idx ON cryptoml_internal.ensemble_members (member_batch_id);
COMMENT ON TABLE cryptoml_internal.ensemble_members IS 'Members of each ensemble and their weights (sum 1). A member batch cannot be deleted while an ensemble uses it.';

CREATE TABLE cryptoml_internal.deployments (
  id               BIGSERIAL PRIMARY KEY,
  symbol           VARCHAR(20) NOT NULL,
  forecast_horizon INTEGER NOT NULL,
  model_type       VARCHAR(30) NOT NULL,
  batch_id         VARCHAR(50) NOT NULL,
  action           TEXT NOT NULL CHECK (action IN ('deploy', 'rollback')),
  deployed_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  deployed_by      NAME NOT NULL DEFAULT session_user
);
CREATE INDEX deployments_key_idx ON cryptoml_internal.deployments (symbol, forecast_horizon, model_type, id);
COMMENT ON TABLE cryptoml_internal.deployments IS 'History of production switches, for ml_rollback.';

CREATE FUNCTION ml_train(symbol text, horizon integer, model_type text DEFAULT 'xgboost', options jsonb DEFAULT '{}')
  RETURNS mlTrainingBatches AS 'MODULE_PATHNAME', 'ml_train' LANGUAGE C VOLATILE STRICT
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_train(text, integer, text, jsonb) IS 'Trains a model on the last training.windowSize minutes of samples (time-ordered split, embargo, early stopping) and its out-of-time record (training.calibrationFolds rolling-origin folds), stores both, and promotes it only when the record beats zero change significantly (skill_p_value below inference.skillSignificance) and it beats the production model, or without one the zero-change baseline, on the same validation rows.';

-- One production switch, recorded in deployments and in the audit trail as action ('deploy' by
-- ml_deploy and ml_train's promotion, 'rollback' by ml_rollback).
CREATE FUNCTION cryptoml_internal.switch_production(batch_id text, action text) RETURNS @extschema@.mltrainingbatches
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    b @extschema@.mltrainingbatches;
    previous_id text;
  BEGIN
    SELECT * INTO b FROM @extschema@.mltrainingbatches t WHERE t.batch_id = switch_production.batch_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'unknown batch_id "%"', left(batch_id, 60) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cryptoml_internal.models m WHERE m.batch_id = b.batch_id) THEN
      RAISE EXCEPTION 'the model bytes of "%" are missing', left(batch_id, 60) USING ERRCODE = 'data_exception';
    END IF;
    -- one switch at a time per (symbol, horizon, model type), and none while ml_train of the same
    -- (symbol, horizon) decides its promotion: the lock ml_train holds from its start (in C:
    -- 'CMLT', hash of the symbol xor the horizon), so its comparison stays against what is committed
    PERFORM pg_advisory_xact_lock(1129139284, hashtext(b.symbol) # b.forecast_horizon);
    PERFORM pg_advisory_xact_lock(hashtext('cryptoml deploy'), hashtext(b.symbol || '/' || b.forecast_horizon || '/' || b.model_type));
    SELECT t.batch_id INTO previous_id FROM @extschema@.mltrainingbatches t
     WHERE t.symbol = b.symbol AND t.forecast_horizon = b.forecast_horizon AND t.model_type = b.model_type
       AND t.is_production AND t.id <> b.id;
    UPDATE @extschema@.mltrainingbatches t SET is_production = false
     WHERE t.symbol = b.symbol AND t.forecast_horizon = b.forecast_horizon AND t.model_type = b.model_type
       AND t.is_production AND t.id <> b.id;
    UPDATE @extschema@.mltrainingbatches t SET is_production = true WHERE t.id = b.id;
    INSERT INTO cryptoml_internal.deployments (symbol, forecast_horizon, model_type, batch_id, action)
      VALUES (b.symbol, b.forecast_horizon, b.model_type, b.batch_id, action);
    PERFORM @extschema@.ml_log('info', 'ml_training', action,
      format('%s is now the production %s model of %s h%s', b.batch_id, b.model_type, b.symbol, b.forecast_horizon),
      jsonb_build_object('batch_id', b.batch_id, 'by', session_user), b.symbol::text);  -- ::text: exact types, no overload can match better
    PERFORM cryptoml_internal.audit(action, b.batch_id::text,
      CASE WHEN previous_id IS NULL THEN NULL ELSE jsonb_build_object('production', previous_id) END,
      jsonb_build_object('production', b.batch_id, 'symbol', b.symbol, 'horizon', b.forecast_horizon, 'model_type', b.model_type));
    SELECT * INTO b FROM @extschema@.mltrainingbatches t WHERE t.id = b.id;
    RETURN b;
  END
  $$;
REVOKE ALL ON FUNCTION cryptoml_internal.switch_production(text, text) FROM PUBLIC;

CREATE FUNCTION ml_deploy(batch_id text) RETURNS mlTrainingBatches
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT * FROM cryptoml_internal.switch_production(batch_id, 'deploy'::text) $$;
COMMENT ON FUNCTION ml_deploy(text) IS 'Makes a trained model the production model of its symbol, horizon and type (the previous one is demoted); logged.';

CREATE FUNCTION ml_rollback(symbol text, horizon integer, model_type text DEFAULT 'xgboost') RETURNS mlTrainingBatches
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    current_id text;
    previous_id text;
    result @extschema@.mltrainingbatches;
  BEGIN
    IF model_type NOT IN ('xgboost', 'lstm', 'ensemble') THEN
      RAISE EXCEPTION 'unknown model_type "%"', left(model_type, 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: model_type must be one of xgboost, lstm, ensemble';
    END IF;
    SELECT t.batch_id INTO current_id FROM @extschema@.mltrainingbatches t
     WHERE t.symbol = ml_rollback.symbol AND t.forecast_horizon = horizon AND t.model_type = ml_rollback.model_type AND t.is_production;
    IF current_id IS NULL THEN
      RAISE EXCEPTION 'no production % model for % horizon %', model_type, left(symbol, 40), horizon USING ERRCODE = 'no_data_found';
    END IF;
    SELECT d.batch_id INTO previous_id FROM cryptoml_internal.deployments d
      JOIN cryptoml_internal.models m ON m.batch_id = d.batch_id
     WHERE d.symbol = ml_rollback.symbol AND d.forecast_horizon = horizon AND d.model_type = ml_rollback.model_type
       AND d.batch_id <> current_id
       AND d.id < (SELECT max(d2.id) FROM cryptoml_internal.deployments d2 WHERE d2.batch_id = current_id)
     ORDER BY d.id DESC LIMIT 1;
    IF previous_id IS NULL THEN
      RAISE EXCEPTION 'no earlier production model of % horizon % to roll back to', left(symbol, 40), horizon
        USING ERRCODE = 'no_data_found', DETAIL = format('%s is the only one deployed so far', current_id);
    END IF;
    result := cryptoml_internal.switch_production(previous_id, 'rollback'::text);
    RETURN result;
  END
  $$;
COMMENT ON FUNCTION ml_rollback(text, integer, text) IS 'Puts back the production model that preceded the current one; logged.';

-- ===========================================================================================
-- Forecasting
-- ===========================================================================================
CREATE FUNCTION ml_forecast(symbol text, horizon integer,
                            OUT symbol text, OUT horizon integer, OUT forecast_at timestamp, OUT predicted_change float8,
                            OUT predicted_price float8, OUT confidence float8, OUT signal text, OUT model_version text,
                            OUT expires_at timestamp, OUT cached boolean, OUT stale boolean,
                            OUT raw_change float8, OUT lower float8, OUT upper float8)
  AS 'MODULE_PATHNAME', 'ml_forecast' LANGUAGE C VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_forecast(text, integer) IS 'Forecast of the percentage change of close over horizon minutes from the latest bar, by the production model, stated from its out-of-time record: predicted_change is the raw output (raw_change) shrunk, 0 without shown skill; confidence the probability (50-100) that the change has raw_change''s sign; [lower, upper] the conformal interval at inference.intervalCoverage; a LONG/SHORT signal only with skill and confidence >= inference.confidenceThreshold. Stored in persistentForecasts; repeated calls within inference.maxPredictionAge return the stored forecast (cached).';

-- What a model's out-of-time record states for a raw prediction at a bar (src/core/honest.hpp):
-- the rule ml_forecast applies, for tests and for a user who wants to see it at work.
CREATE FUNCTION cryptoml_internal.forecast_statement(raw float8, horizon integer, at timestamp, ts timestamp[], raws float8[],
    actuals float8[], stated bigint, missed bigint,
    OUT served float8, OUT confidence float8, OUT lower float8, OUT upper float8, OUT skilled boolean, OUT shrinkage float8,
    OUT skill_statistic float8, OUT skill_p_value float8, OUT pairs bigint)
  AS 'MODULE_PATHNAME', 'cml_forecast_statement' LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp;
-- The reliability summary of stated confidences (%) and hits (src/core/honest.hpp): expected
-- calibration error and largest bucket gap in points, Brier score and its skill against always 50 %.
CREATE FUNCTION cryptoml_internal.reliability_summary(confidence float8[], hit boolean[], min_bucket integer,
    OUT predictions bigint, OUT ece float8, OUT brier float8, OUT brier_skill float8, OUT largest_gap float8)
  AS 'MODULE_PATHNAME', 'cml_reliability_summary' LANGUAGE C IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp;

-- The conformal interval of a value from the errors of earlier forecasts of it (volatility).
CREATE FUNCTION cryptoml_internal.conformal_interval(center float8, residuals float8[], stated bigint, missed bigint,
    OUT lower float8, OUT upper float8)
  AS 'MODULE_PATHNAME', 'cml_conformal_interval' LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp;
-- The interval of a volatility forecast: conformal_interval of the |errors| of the symbol's last
-- cal_window volatility forecasts of the horizon known at the bar, at the ACI level after those of
-- them that stated an interval, from a series kept per session (src/pg/forecast_history.cpp).
CREATE FUNCTION cryptoml_internal.volatility_interval(symbol text, horizon integer, bar timestamp, center float8,
    cal_window integer, OUT lower float8, OUT upper float8)
  AS 'MODULE_PATHNAME', 'cml_volatility_interval' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION cryptoml_internal.forecast_statement(float8, integer, timestamp, timestamp[], float8[], float8[], bigint, bigint),
  cryptoml_internal.conformal_interval(float8, float8[], bigint, bigint),
  cryptoml_internal.volatility_interval(text, integer, timestamp, float8, integer) FROM PUBLIC;

-- ===========================================================================================
-- Upkeep: live confidence, outcomes, drift, retraining, pg_cron schedule
-- ===========================================================================================
CREATE VIEW ml_forecasts_live AS
SELECT f.id, f.symbol, f.forecast_type, f.forecast_horizon, f.bar_timestamp, f.predicted_value, f.actual_value,
       f.model_version, f.created_at, f.expires_at,
       f.confidence AS stored_confidence,
       round((f.confidence * power(d.decay, a.age_minutes))::numeric, 2) AS confidence,
       round(a.age_minutes::numeric, 2) AS age_minutes,
       now()::timestamp < f.expires_at AS active,
       f.raw_value, f.lower, f.upper
  FROM persistentForecasts f,
       LATERAL (SELECT greatest(extract(epoch FROM now()::timestamp - f.created_at)::float8, 0) / 60 AS age_minutes) a,
       (SELECT ml_config_get('forecasting.confidenceDecay')::float8 AS decay) d;
COMMENT ON VIEW ml_forecasts_live IS 'persistentForecasts with the confidence decayed by forecasting.confidenceDecay per minute of age (the stored value is stored_confidence), the raw model output and the interval [lower, upper].';

-- The symbols with bars, by skipping through the (symbol, timestamp) index: one probe per symbol.
CREATE FUNCTION cryptoml_internal.chart_symbols() RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  WITH RECURSIVE s(symbol) AS (
    SELECT min(r.symbol)::text FROM @extschema@.rollingchartdata r
    UNION ALL
    SELECT (SELECT min(r.symbol)::text FROM @extschema@.rollingchartdata r WHERE r.symbol > s.symbol) FROM s WHERE s.symbol IS NOT NULL)
  SELECT s.symbol FROM s WHERE s.symbol IS NOT NULL
     -- on a cluster node (0.9.0) the owned ones: a replica follows its owner's deletes
     AND (NOT EXISTS (SELECT 1 FROM cryptoml_internal.node_identity)
          OR EXISTS (SELECT 1 FROM cryptoml_internal.node_symbols n WHERE n.symbol = s.symbol AND n.role = 'owned'))
  $$;
COMMENT ON FUNCTION cryptoml_internal.chart_symbols() IS 'Symbols with bars, for the sweeps (samples, retention, compression, actuals); on a cluster node only those it owns.';

CREATE FUNCTION ml_fill_actuals(max_rows integer DEFAULT 100000) RETURNS bigint
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  -- each symbol's latest bar (one index probe per symbol): only forecasts that expired by then can
  -- have their future bar, and the partial index on expires_at finds just those
  WITH latest AS (
    SELECT c.symbol, (SELECT max(r.timestamp) FROM @extschema@.rollingchartdata r WHERE r.symbol = c.symbol) AS ts
      FROM cryptoml_internal.chart_symbols() AS c(symbol)),
  due AS (
    SELECT f.id, f.symbol, f.forecast_type, f.bar_timestamp, f.forecast_horizon, b0.close::float8 AS c0, b1.close::float8 AS c1
      FROM latest l
      JOIN @extschema@.persistentforecasts f ON f.symbol = l.symbol AND f.actual_value IS NULL AND f.expires_at <= l.ts
      JOIN @extschema@.rollingchartdata b0 ON b0.symbol = f.symbol AND b0.timestamp = f.bar_timestamp
      JOIN @extschema@.rollingchartdata b1 ON b1.symbol = f.symbol
                                          AND b1.timestamp = f.bar_timestamp + make_interval(mins => f.forecast_horizon)
     WHERE b0.close > 0
     ORDER BY f.expires_at
     LIMIT greatest(max_rows, 0)),
  v AS (
    SELECT d.id,
           CASE d.forecast_type
             WHEN 'price_direction' THEN 100 * (d.c1 / d.c0 - 1)
             -- realized volatility over the horizon: sqrt of the sum of squared returns (%) between stored bars
             WHEN 'volatility' THEN (SELECT sqrt(sum(q.x * q.x)) FROM (
                 SELECT 100 * (r.close::float8 / lag(r.close::float8) OVER (ORDER BY r.timestamp) - 1) AS x
                   FROM @extschema@.rollingchartdata r
                  WHERE r.symbol = d.symbol AND r.timestamp BETWEEN d.bar_timestamp
                        AND d.bar_timestamp + make_interval(mins => d.forecast_horizon)) q)
             -- realized efficiency ratio over the horizon; 0 for a flat window (no move: no trend), as forecast
             WHEN 'trend' THEN (SELECT CASE WHEN sum(q.step) > 0 THEN abs(d.c1 - d.c0) / sum(q.step) ELSE 0 END FROM (
                 SELECT abs(r.close::float8 - lag(r.close::float8) OVER (ORDER BY r.timestamp)) AS step
                   FROM @extschema@.rollingchartdata r
                  WHERE r.symbol = d.symbol AND r.timestamp BETWEEN d.bar_timestamp
                        AND d.bar_timestamp + make_interval(mins => d.forecast_horizon)) q)
           END AS actual
      FROM due d),
  u AS (UPDATE @extschema@.persistentforecasts f SET actual_value = round(v.actual::numeric, 8) FROM v
         WHERE f.id = v.id AND v.actual IS NOT NULL RETURNING 1)
  SELECT count(*) FROM u;
  $$;
COMMENT ON FUNCTION ml_fill_actuals(integer) IS 'Fills actual_value of forecasts whose future bar exists (price_direction: percentage change of close; volatility: realized volatility; trend: realized efficiency ratio), oldest first, at most max_rows; returns how many.';

CREATE FUNCTION ml_check_drift(days integer DEFAULT 7, min_forecasts integer DEFAULT 100, threshold float8 DEFAULT 0.05)
  RETURNS TABLE (symbol text, horizon integer, model_version text, live_forecasts bigint, live_accuracy float8,
                 validation_accuracy float8, drifted boolean)
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r record;
  BEGIN
    IF days <= 0 OR days > 36500 OR min_forecasts <= 0 OR threshold < 0 OR threshold > 1 OR threshold = 'NaN'::float8 THEN
      RAISE EXCEPTION 'invalid drift check arguments: days %, min_forecasts %, threshold %', days, min_forecasts, threshold
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: 1 <= days <= 36500, min_forecasts > 0, 0 <= threshold <= 1';
    END IF;
    FOR r IN
      SELECT f.symbol::text AS symbol, f.forecast_horizon AS horizon, f.model_version::text AS model_version,
             count(*) AS n, avg(((coalesce(f.raw_value, f.predicted_value) > 0) = (f.actual_value > 0))::int)::float8 AS live,
             b.accuracy::float8 AS validation
        FROM @extschema@.persistentforecasts f
        JOIN @extschema@.mltrainingbatches b ON b.batch_id = f.model_version AND b.is_production
       WHERE f.forecast_type = 'price_direction' AND f.actual_value IS NOT NULL AND f.actual_value <> 0
         AND f.created_at >= now()::timestamp - make_interval(days => days)
       GROUP BY 1, 2, 3, b.accuracy
       ORDER BY 1, 2
    LOOP
      symbol := r.symbol; horizon := r.horizon; model_version := r.model_version; live_forecasts := r.n;
      live_accuracy := r.live; validation_accuracy := r.validation;
      drifted := r.n >= min_forecasts AND r.live < r.validation - threshold;
      IF drifted THEN
        PERFORM @extschema@.ml_log('warning', 'monitoring', 'drift',
          format('%s h%s: live directional accuracy %s over %s forecasts is below the validation accuracy %s of %s by more than %s',
                 r.symbol, r.horizon, round(r.live::numeric, 4), r.n, round(r.validation::numeric, 4), r.model_version, threshold),
          jsonb_build_object('model_version', r.model_version, 'live_accuracy', r.live, 'validation_accuracy', r.validation,
                             'forecasts', r.n, 'days', days), r.symbol::text);
        PERFORM pg_notify('cryptoml_alerts', jsonb_build_object('alert', 'model_drift', 'symbol', r.symbol, 'horizon', r.horizon,
                          'model_version', r.model_version, 'live_accuracy', r.live, 'validation_accuracy', r.validation)::text);
      END IF;
      RETURN NEXT;
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION ml_check_drift(integer, integer, float8) IS 'Live directional accuracy of each production model (forecasts with an outcome, last days) against its validation accuracy; a drop beyond threshold over at least min_forecasts forecasts is logged and sent on NOTIFY cryptoml_alerts.';

-- The sweep's checkpoints, written in the sweep's transaction with origin cryptoml (a column no
-- role but the owner can write): the admin level may execute it, writers may not.
CREATE FUNCTION cryptoml_internal.sweep_checkpoint(operation_id text, state jsonb, checkpoint_type text) RETURNS void
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    INSERT INTO @extschema@.recoverystate (service_name, operation_id, state_data, checkpoint_type, origin)
    VALUES ('ml_training', $1, $2, $3, 'cryptoml')
  $$;
REVOKE ALL ON FUNCTION cryptoml_internal.sweep_checkpoint(text, jsonb, text) FROM PUBLIC;

-- A procedure (it commits after each symbol): SECURITY INVOKER, every name qualified.
CREATE PROCEDURE ml_retrain_all(model_type text DEFAULT 'xgboost', options jsonb DEFAULT '{}')
  LANGUAGE plpgsql
  AS $$
  DECLARE
    saved_path text := pg_catalog.current_setting('search_path');  -- the caller's, restored at the end
    s text;
    h integer;
    b @extschema@.mltrainingbatches;
    trained integer := 0;
    failed integer := 0;
    op text;             -- this sweep's recoveryState operation: model_type and a digest of options
    done jsonb := '[]';  -- symbols finished (committed) by this sweep or the interrupted one it resumes
    last record;
  BEGIN
    -- A procedure that commits cannot carry SET search_path: it pins it for each of its
    -- transactions (here and after every COMMIT), so no name or operator it uses can be resolved
    -- to an object a non-owner planted in a schema on the caller's search_path.
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    IF model_type IS NULL OR options IS NULL THEN
      RAISE EXCEPTION '% must not be NULL', CASE WHEN model_type IS NULL THEN 'model_type' ELSE 'options' END
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF model_type NOT IN ('xgboost', 'lstm', 'ensemble') THEN
      RAISE EXCEPTION 'unknown model_type "%"', left(model_type, 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: model_type must be one of xgboost, lstm, ensemble';
    END IF;
    op := 'retrain_all ' || model_type || ' ' || md5(options::text);
    -- only a checkpoint this procedure wrote (origin cryptoml) is trusted: writers can insert
    -- recoveryState rows, never with origin cryptoml
    SELECT r.checkpoint_type, r.state_data INTO last FROM @extschema@.recoverystate r
     WHERE r.service_name = 'ml_training' AND r.operation_id = op AND r.origin = 'cryptoml'
     ORDER BY r.created_at DESC, r.id DESC LIMIT 1;
    IF FOUND AND last.checkpoint_type = 'intermediate' THEN
      done := coalesce(last.state_data -> 'done', '[]');
      trained := coalesce((last.state_data ->> 'trained')::integer, 0);
      failed := coalesce((last.state_data ->> 'failed')::integer, 0);
      RAISE NOTICE 'ml_retrain_all: resuming an interrupted sweep (%): % already done', op, done;
    END IF;
    FOR s IN SELECT c.symbol FROM cryptoml_internal.served_symbols() AS c(symbol)
              WHERE EXISTS (SELECT 1 FROM @extschema@.mltrainingsamples m WHERE m.symbol = c.symbol)
                AND NOT done ? c.symbol ORDER BY 1 LOOP
      FOR h IN SELECT x::integer FROM jsonb_array_elements_text(@extschema@.ml_config_get('training.forecastHorizons')) AS x LOOP
        BEGIN
          b := @extschema@.ml_train(s, h, model_type, options);
          trained := trained + 1;
        EXCEPTION WHEN OTHERS THEN
          failed := failed + 1;
          PERFORM @extschema@.ml_log('error', 'ml_training', 'retrain', format('%s h%s %s: %s', s, h, model_type, SQLERRM),
                                     jsonb_build_object('sqlstate', SQLSTATE, 'model_type', model_type), s);
        END;
      END LOOP;
      -- the symbol's models and its checkpoint commit together: a kill after this resumes after s
      done := done || to_jsonb(s);
      PERFORM cryptoml_internal.sweep_checkpoint(op, jsonb_build_object('done', done, 'trained', trained, 'failed', failed), 'intermediate');
      COMMIT;
      PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    END LOOP;
    PERFORM cryptoml_internal.sweep_checkpoint(op, jsonb_build_object('done', done, 'trained', trained, 'failed', failed), 'success');
    PERFORM @extschema@.ml_log('info', 'ml_training', 'retrain',
      format('retrain sweep (%s): %s models trained, %s failed', model_type, trained, failed),
      jsonb_build_object('trained', trained, 'failed', failed, 'model_type', model_type), NULL);
    PERFORM pg_catalog.set_config('search_path', saved_path, true);
  END
  $$;
COMMENT ON PROCEDURE ml_retrain_all(text, jsonb) IS 'Trains every configured symbol with samples at every training horizon (promotion by the registry rules), committing after each symbol with a recoveryState checkpoint; an interrupted sweep with the same arguments resumes after the last symbol it committed; failures are logged and do not stop the sweep.';

-- Records a schedule change in the audit trail: the cryptoml-* jobs as pg_cron holds them now,
-- against those the previous schedule entry recorded. Whoever calls it can only record the
-- truth (it reads cron.job as the owner), so ml_schedule, which runs as its caller (pg_cron runs
-- jobs as the role that scheduled them), may call it.
CREATE FUNCTION cryptoml_internal.audit_schedule(action text) RETURNS void
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    now_jobs jsonb := '{}';
    before jsonb;
  BEGIN
    IF action NOT IN ('schedule', 'unschedule') THEN
      RAISE EXCEPTION 'invalid schedule action "%"', left(action, 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: action must be schedule or unschedule';
    END IF;
    IF to_regclass('cron.job') IS NOT NULL THEN
      EXECUTE $q$SELECT coalesce(jsonb_object_agg(j.jobname, jsonb_build_object('schedule', j.schedule, 'command', j.command,
                                                   'role', j.username, 'active', j.active)), '{}'::jsonb)
                   FROM cron.job j WHERE j.jobname LIKE 'cryptoml-%'$q$ INTO now_jobs;
    END IF;
    SELECT a.new_value INTO before FROM cryptoml_internal.audit_log a
     WHERE a.action IN ('schedule', 'unschedule') ORDER BY a.id DESC LIMIT 1;
    PERFORM cryptoml_internal.audit(action, 'pg_cron jobs cryptoml-*'::text, before, now_jobs);
  END
  $$;
REVOKE ALL ON FUNCTION cryptoml_internal.audit_schedule(text) FROM PUBLIC;

CREATE FUNCTION ml_schedule() RETURNS TABLE (jobname text, schedule text, command text)
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    s text := quote_ident('@extschema@');
  BEGIN
    IF to_regclass('cron.job') IS NULL THEN
      RAISE EXCEPTION 'pg_cron is not installed in this database' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart, then CREATE EXTENSION pg_cron.';
    END IF;
    -- The jobs run with their owner's search_path, not a pinned one: every name and operator is
    -- qualified, and every argument is given with its exact type, so no object another role
    -- creates (a shadowing count() or now(), an overload that makes a default-argument call
    -- ambiguous) can run in them or stop them.
    PERFORM cron.schedule('cryptoml-build-samples', '*/5 * * * *', format('CALL %s.ml_build_samples_all(NULL::bigint)', s));
    PERFORM cron.schedule('cryptoml-fill-actuals', '* * * * *', format('SELECT %s.ml_fill_actuals(100000)', s));
    PERFORM cron.schedule('cryptoml-drift-check', '7 * * * *',
                          format('SELECT pg_catalog.count(*) FROM %s.ml_check_drift(7, 100, 0.05::pg_catalog.float8)', s));
    PERFORM cron.schedule('cryptoml-retrain', '17 3 * * *', format('CALL %s.ml_retrain_all(''xgboost''::pg_catalog.text, ''{}''::pg_catalog.jsonb)', s));
    PERFORM cron.schedule('cryptoml-retrain-volatility', '57 3 * * *',
                          format('SELECT pg_catalog.count(*) FROM %s.ml_train_volatility(NULL::pg_catalog.text, NULL::pg_catalog.int4, ''{}''::pg_catalog.jsonb)', s));
    PERFORM cron.schedule('cryptoml-compress', '27 4 * * *', format('CALL %s.ml_compress_history(NULL::bigint)', s));
    PERFORM cron.schedule('cryptoml-retention', '47 4 * * *', format('CALL %s.ml_apply_retention(NULL::bigint)', s));
    PERFORM cron.schedule('cryptoml-trim-cron-history', '37 4 * * *',
                          'DELETE FROM cron.job_run_details WHERE end_time OPERATOR(pg_catalog.<) '
                          '(pg_catalog.now() OPERATOR(pg_catalog.-) ''7 days''::pg_catalog.interval)');
    PERFORM cryptoml_internal.audit_schedule('schedule'::text);
    RETURN QUERY SELECT j.jobname::text, j.schedule::text, j.command::text FROM cron.job j
                  WHERE j.jobname LIKE 'cryptoml-%' ORDER BY 1;
  END
  $$;
COMMENT ON FUNCTION ml_schedule() IS 'Installs (or updates) the named pg_cron jobs cryptoml-*: samples, outcomes, drift check, nightly retrain (models, then volatility models), compression, retention, job history trim. Idempotent. Jobs run as the calling role.';

CREATE FUNCTION ml_unschedule() RETURNS integer
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n integer := 0;
    j record;
  BEGIN
    IF to_regclass('cron.job') IS NULL THEN
      RETURN 0;
    END IF;
    FOR j IN SELECT c.jobid FROM cron.job c WHERE c.jobname LIKE 'cryptoml-%' LOOP
      PERFORM cron.unschedule(j.jobid);
      n := n + 1;
    END LOOP;
    PERFORM cryptoml_internal.audit_schedule('unschedule'::text);
    RETURN n;
  END
  $$;
COMMENT ON FUNCTION ml_unschedule() IS 'Removes the pg_cron jobs ml_schedule installed; returns how many.';

REVOKE ALL ON ml_forecasts_live FROM PUBLIC;
REVOKE ALL ON FUNCTION ml_fill_actuals(integer), ml_check_drift(integer, integer, float8), ml_schedule(), ml_unschedule() FROM PUBLIC;
REVOKE ALL ON PROCEDURE ml_retrain_all(text, jsonb) FROM PUBLIC;


-- All forecasts of one symbol's latest bar: the three seed types at every forecasting horizon
-- (what the forecaster worker runs each cycle). See docs/workers.md for the rules.
CREATE FUNCTION ml_forecast_all(symbol text) RETURNS integer
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    bar timestamp;
    h integer;
    written integer := 0;
    hs integer[];        -- forecasting.horizons, in configuration order
    have text[];         -- the forecasts of the bar already stored, as 'type/horizon'
    produced integer[];  -- the horizons with a production model (mltrainingbatches)
    vol_models integer[];  -- the horizons with a production volatility model
    cal_window integer;  -- inference.calibrationWindow
    st record;           -- the market statistics of the bar at horizon h (cryptoml_internal.market_stats)
    vm record;           -- the production volatility model of the horizon
    vol float8;          -- the volatility forecast: the model's, else sigma * sqrt(h)
    vol_version text;
    vol_lo float8;       -- the volatility forecast's interval
    vol_hi float8;
    -- the rows to write (all but the production models' forecasts, which ml_forecast stores),
    -- stored by one INSERT at the end
    r_type text[] := '{}';
    r_h integer[] := '{}';
    r_value numeric[] := '{}';
    r_version text[] := '{}';
    r_lo numeric[] := '{}';
    r_hi numeric[] := '{}';
  BEGIN
    SELECT max(r.timestamp) INTO bar FROM @extschema@.rollingchartdata r WHERE r.symbol = ml_forecast_all.symbol;
    IF bar IS NULL THEN
      RAISE EXCEPTION 'unknown symbol "%": it has no bars', left(symbol, 40) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    hs := ARRAY(SELECT x::integer FROM jsonb_array_elements_text(@extschema@.ml_config_get('forecasting.horizons'))
                  WITH ORDINALITY AS j(x, k) ORDER BY k);
    -- what one query per symbol can tell for every horizon: the forecasts already stored, the
    -- horizons with a production model or volatility model, the calibration window
    SELECT coalesce(array_agg(f.forecast_type || '/' || f.forecast_horizon), '{}') INTO have
      FROM @extschema@.persistentforecasts f
     WHERE f.symbol = ml_forecast_all.symbol AND f.forecast_horizon = ANY (hs) AND f.bar_timestamp = bar;
    SELECT coalesce(array_agg(m.forecast_horizon), '{}') INTO produced FROM @extschema@.mltrainingbatches m
     WHERE m.symbol = ml_forecast_all.symbol AND m.forecast_horizon = ANY (hs) AND m.is_production;
    SELECT coalesce(array_agg(m.horizon), '{}') INTO vol_models FROM cryptoml_internal.volatility_models m
     WHERE m.symbol = ml_forecast_all.symbol AND m.horizon = ANY (hs) AND m.is_production;
    cal_window := (@extschema@.ml_config_get('inference.calibrationWindow'))::integer;
    -- the statistics (src/core/volatility.hpp): sigma of the last hour's returns between stored
    -- bars, the volatility percentile of the last 24 hourly sigmas, the efficiency ratio over
    -- min(max(h, 10), 240) bars and the regime, at every horizon in configuration order
    FOR st IN SELECT * FROM cryptoml_internal.market_stats(symbol, hs, bar) LOOP
      h := st.horizon;
      -- price_direction: the production model, else the zero-change baseline
      IF NOT ('price_direction/' || h) = ANY (have) THEN
        IF h = ANY (produced) THEN
          BEGIN
            PERFORM @extschema@.ml_forecast(symbol, h);
            written := written + 1;
            have := have || ('price_direction/' || h);
          EXCEPTION WHEN object_not_in_prerequisite_state THEN
            -- a feature set 2 model whose cross-market inputs are pending (another symbol's bar of the
            -- minute before may still arrive): no forecast of this bar yet, the other forecasts go on
            -- and a later cycle forecasts once the inputs are final
            IF SQLERRM NOT LIKE '%are pending%' THEN
              RAISE;
            END IF;
          END;
        ELSE
          r_type := r_type || 'price_direction'::text;
          r_h := r_h || h;
          r_value := r_value || 0::numeric;
          r_version := r_version || 'stat:zero-change'::text;
          r_lo := r_lo || NULL::numeric;
          r_hi := r_hi || NULL::numeric;
          written := written + 1;
          have := have || ('price_direction/' || h);
        END IF;
      END IF;
      -- volatility: the realized volatility expected over the horizon, from the production
      -- volatility model (ml_train_volatility) when there is one and it can predict this bar, else
      -- sigma * sqrt(h), with its conformal interval: the |errors| of this symbol's earlier
      -- volatility forecasts of the horizon known at this bar (the last inference.calibrationWindow),
      -- at the ACI level after those of them that stated an interval
      IF NOT ('volatility/' || h) = ANY (have) THEN
        vol := NULL;
        IF h = ANY (vol_models) THEN
          SELECT m.id, m.model INTO vm FROM cryptoml_internal.volatility_models m
           WHERE m.symbol = ml_forecast_all.symbol AND m.horizon = h AND m.is_production;
          IF FOUND THEN
            vol := cryptoml_internal.volatility_predict(symbol, h, bar, vm.model);
            vol_version := 'har:' || vm.id;
          END IF;
        END IF;
        IF vol IS NULL THEN
          vol := st.sigma * sqrt(h);
          vol_version := 'stat:sigma60-sqrt-h';
        END IF;
        IF vol IS NOT NULL THEN
          SELECT ci.lower, ci.upper INTO vol_lo, vol_hi FROM cryptoml_internal.volatility_interval(symbol, h, bar, vol, cal_window) ci;
          r_type := r_type || 'volatility'::text;
          r_h := r_h || h;
          r_value := r_value || round(vol::numeric, 8);
          r_version := r_version || vol_version;
          r_lo := r_lo || CASE WHEN vol_lo IS NOT NULL THEN round(greatest(vol_lo, 0)::numeric, 8) END;
          r_hi := r_hi || round(vol_hi::numeric, 8);
          written := written + 1;
          have := have || ('volatility/' || h);
        END IF;
      END IF;
      -- trend: the market regime, from the efficiency ratio over min(max(h, 10), 240) bars and
      -- the volatility percentile
      IF st.er IS NOT NULL AND NOT ('trend/' || h) = ANY (have) THEN
        r_type := r_type || 'trend'::text;
        r_h := r_h || h;
        r_value := r_value || round(st.er::numeric, 8);
        r_version := r_version || ('stat:regime-' || st.regime);
        r_lo := r_lo || NULL::numeric;
        r_hi := r_hi || NULL::numeric;
        written := written + 1;
        have := have || ('trend/' || h);
      END IF;
    END LOOP;
    INSERT INTO @extschema@.persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                 model_version, expires_at, bar_timestamp, lower, upper)
      SELECT symbol, u.t, NULL, u.v, u.h, u.mv, bar + make_interval(mins => u.h), bar, u.lo, u.hi
        FROM unnest(r_type, r_value, r_h, r_version, r_lo, r_hi) WITH ORDINALITY AS u(t, v, h, mv, lo, hi, k)
       ORDER BY u.k;
    RETURN written;
  END
  $$;
COMMENT ON FUNCTION ml_forecast_all(text) IS 'Writes the forecasts of the symbol''s latest bar that are missing: price_direction (production model, else the zero-change baseline), volatility (the production volatility model of ml_train_volatility, else sigma60 * sqrt(h); with a conformal interval from its earlier errors) and trend (statistical) at every forecasting.horizons horizon; returns how many.';
REVOKE ALL ON FUNCTION ml_forecast_all(text) FROM PUBLIC;

-- ===========================================================================================
-- Background workers (with cryptoml in shared_preload_libraries; see docs/workers.md)
-- ===========================================================================================
CREATE FUNCTION ml_workers(OUT worker text, OUT database text, OUT state text, OUT pid integer, OUT started_at timestamptz,
                           OUT last_run timestamptz, OUT next_run timestamptz, OUT cycles bigint, OUT errors bigint,
                           OUT last_error text)
  RETURNS SETOF record AS 'MODULE_PATHNAME', 'ml_workers' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_workers() IS 'The cryptoml background workers (the launcher, and a forecaster and a monitor per database of cryptoml.database_name): state, pid, last and next run, cycles, errors, last error ("not loaded" without shared_preload_libraries).';
CREATE FUNCTION ml_start_workers() RETURNS boolean AS 'MODULE_PATHNAME', 'ml_start_workers' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_start_workers() IS 'Enables the background workers (until the next reload of cryptoml.workers_enabled); true when they were disabled.';
CREATE FUNCTION ml_stop_workers() RETURNS boolean AS 'MODULE_PATHNAME', 'ml_stop_workers' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_stop_workers() IS 'Disables (stops) the background workers (until the next reload of cryptoml.workers_enabled); true when they were enabled.';
REVOKE ALL ON FUNCTION ml_workers(), ml_start_workers(), ml_stop_workers() FROM PUBLIC;

-- ===========================================================================================
-- Chart monitor and health (issue 6; see docs/monitoring.md)
-- ===========================================================================================
-- Open alerts: one row per (symbol, alert) while its condition lasts, so an alert is raised once
-- when the condition starts and cleared once when it ends.
CREATE TABLE cryptoml_internal.monitor_alerts (
  symbol       varchar(20) NOT NULL,
  alert        text NOT NULL,
  level        text NOT NULL,
  value        float8,
  threshold    float8 NOT NULL,
  started_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  PRIMARY KEY (symbol, alert),
  CONSTRAINT monitor_alerts_alert_check CHECK (alert IN ('stale_data', 'completeness', 'missing_data', 'invalid_values', 'anomaly')
                                                OR alert ~ '^(interval_coverage|calibration_error)_h[0-9]+$'),
  CONSTRAINT monitor_alerts_level_check CHECK (level IN ('warning', 'error'))
);
COMMENT ON TABLE cryptoml_internal.monitor_alerts IS 'Open chart monitor alerts (raised, not yet recovered); one row per symbol and alert.';

-- The data-quality figures of one symbol over the window_minutes closed minutes before `at`.
CREATE FUNCTION cryptoml_internal.chart_quality(symbol text, at timestamp, window_minutes integer,
    OUT latest_bar timestamp, OUT staleness_seconds float8, OUT expected integer, OUT present integer,
    OUT complete integer, OUT invalid integer)
  LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
  AS $$
  WITH w AS (SELECT date_trunc('minute', at) AS e),
  latest AS (SELECT max(r.timestamp) AS ts FROM @extschema@.rollingchartdata r, w
              WHERE r.symbol = chart_quality.symbol AND r.timestamp <= w.e),
  bars AS (
    SELECT count(*) AS present, count(*) FILTER (WHERE r.is_complete) AS complete,
           count(*) FILTER (WHERE NOT coalesce(
               r.open > 0 AND r.high > 0 AND r.low > 0 AND r.close > 0 AND coalesce(r.volume >= 0, true)
               AND r.high >= greatest(r.open, r.close, r.low) AND r.low <= least(r.open, r.close)
               AND coalesce(r.rsi BETWEEN 0 AND 100, true) AND coalesce(r.stochastic_k BETWEEN 0 AND 100, true)
               AND coalesce(r.stochastic_d BETWEEN 0 AND 100, true) AND coalesce(r.volatility >= 0, true)
               AND coalesce(r.bollinger_lower <= r.bollinger_middle AND r.bollinger_middle <= r.bollinger_upper, true),
             false)) AS invalid
      FROM @extschema@.rollingchartdata r, w
     WHERE r.symbol = chart_quality.symbol AND r.timestamp >= w.e - make_interval(mins => window_minutes) AND r.timestamp < w.e)
  SELECT l.ts,
         CASE WHEN l.ts IS NOT NULL THEN greatest(0, extract(epoch FROM at - (l.ts + interval '1 minute')))::float8 END,
         window_minutes, b.present::integer, b.complete::integer, b.invalid::integer
    FROM latest l, bars b
  $$;

-- Closes (without a notification) the open alerts of symbols no longer in the symbols setting.
CREATE FUNCTION cryptoml_internal.monitor_forget_unconfigured() RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    a record;
    n integer := 0;
  BEGIN
    FOR a IN DELETE FROM cryptoml_internal.monitor_alerts m
              WHERE m.symbol NOT IN (SELECT c.s FROM cryptoml_internal.served_symbols() AS c(s))
              RETURNING m.symbol, m.alert LOOP
      PERFORM @extschema@.ml_log('info', 'monitoring', 'recovered', format('%s: %s closed: the symbol is no longer configured', a.symbol, a.alert),
                                 jsonb_build_object('alert', a.alert), a.symbol::text);
      n := n + 1;
    END LOOP;
    RETURN n;
  END
  $$;

-- Live honesty of the price_direction models a symbol's forecasts are served by (one per
-- horizon, as ml_forecast chooses): over each one's last
-- inference.calibrationWindow forecasts with an outcome (one per bar), the expected calibration
-- error of the stated confidence (points) and the coverage of the stated intervals, beside the
-- thresholds of monitoring.alertThresholds; judged (bad) only over at least 100 outcomes.
CREATE FUNCTION cryptoml_internal.model_honesty(symbol text)
  RETURNS TABLE (horizon integer, model_version text, outcomes bigint, ece float8, ece_threshold float8, coverage float8,
                 coverage_target float8, coverage_gap float8, with_interval bigint)
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  WITH m AS (  -- per horizon the model ml_forecast serves: the production ensemble, else xgboost, else lstm
    SELECT DISTINCT ON (b.forecast_horizon) b.forecast_horizon AS horizon, b.batch_id::text AS batch_id
      FROM @extschema@.mltrainingbatches b
     WHERE b.symbol = $1 AND b.is_production
     ORDER BY b.forecast_horizon, CASE b.model_type WHEN 'ensemble' THEN 0 WHEN 'xgboost' THEN 1 ELSE 2 END),
  f AS (
    SELECT m.horizon, m.batch_id, x.* FROM m, LATERAL (
      SELECT DISTINCT ON (p.bar_timestamp) p.bar_timestamp, p.confidence::float8 AS conf, p.actual_value::float8 AS actual,
             coalesce(p.raw_value, p.predicted_value)::float8 AS lean, p.lower::float8 AS lo, p.upper::float8 AS hi
        FROM @extschema@.persistentforecasts p
       WHERE p.model_version = m.batch_id AND p.forecast_horizon = m.horizon AND p.actual_value IS NOT NULL
         AND p.forecast_type = 'price_direction'
       ORDER BY p.bar_timestamp DESC, p.id DESC
       LIMIT (@extschema@.ml_config_get('inference.calibrationWindow'))::integer) x)
  SELECT f.horizon, f.batch_id, count(*),
         (cryptoml_internal.reliability_summary(array_agg(f.conf) FILTER (WHERE f.actual <> 0),
                                                array_agg(sign(f.lean) = sign(f.actual)) FILTER (WHERE f.actual <> 0), 1)).ece,
         100 * (@extschema@.ml_config_get('monitoring.alertThresholds.calibrationError'))::float8,
         avg((f.actual BETWEEN f.lo AND f.hi)::int) FILTER (WHERE f.lo IS NOT NULL)::float8,
         (@extschema@.ml_config_get('inference.intervalCoverage'))::float8,
         (@extschema@.ml_config_get('monitoring.alertThresholds.intervalCoverageGap'))::float8,
         count(*) FILTER (WHERE f.lo IS NOT NULL)
    FROM f GROUP BY f.horizon, f.batch_id ORDER BY f.horizon
  $$;
REVOKE ALL ON FUNCTION cryptoml_internal.model_honesty(text) FROM PUBLIC;

CREATE FUNCTION ml_monitor_check(for_symbol text DEFAULT NULL, at timestamptz DEFAULT now(), window_minutes integer DEFAULT 60)
  RETURNS TABLE (symbol text, latest_bar timestamp, staleness_seconds float8, completeness float8, missing_ratio float8,
                 invalid_ratio float8, open_alerts text[], raised text[], recovered text[])
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    sym text;
    q record;
    a record;
    utc timestamp;
    cfg jsonb := @extschema@.ml_config_get('monitoring');
    started timestamptz;
    was_open boolean;
    an record;
  BEGIN
    IF at IS NULL OR NOT isfinite(at) OR window_minutes IS NULL OR window_minutes < 1 OR window_minutes > 10080 THEN
      RAISE EXCEPTION 'invalid monitor check arguments: at %, window_minutes %', coalesce(at::text, 'NULL'), coalesce(window_minutes::text, 'NULL')
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: at is a finite time and 1 <= window_minutes <= 10080';
    END IF;
    IF for_symbol IS NOT NULL AND for_symbol !~ '^[A-Z0-9]{2,20}$' THEN
      RAISE EXCEPTION 'invalid symbol "%"', left(for_symbol, 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: a symbol matches ^[A-Z0-9]{2,20}$';
    END IF;
    utc := at AT TIME ZONE 'UTC';
    FOR sym IN
      SELECT for_symbol WHERE for_symbol IS NOT NULL
      UNION ALL
      SELECT c.s FROM cryptoml_internal.served_symbols() AS c(s) WHERE for_symbol IS NULL
    LOOP
      q := cryptoml_internal.chart_quality(sym, utc, window_minutes);
      symbol := sym;
      latest_bar := q.latest_bar;
      staleness_seconds := q.staleness_seconds;
      completeness := q.complete::float8 / q.expected;
      missing_ratio := greatest(q.expected - q.present, 0)::float8 / q.expected;
      invalid_ratio := CASE WHEN q.present > 0 THEN q.invalid::float8 / q.present ELSE 0 END;
      raised := '{}';
      recovered := '{}';
      -- anomalies (0.8.0): score the symbol's new bars, then the flagged ones inside the window
      IF sym IN (SELECT c.s FROM cryptoml_internal.served_symbols() AS c(s)) THEN
        PERFORM @extschema@.ml_detect_anomalies(sym);
      END IF;
      SELECT count(*) AS n, max(b.score) AS score, max(b.bar_timestamp) AS latest INTO an FROM cryptoml_internal.bar_anomalies b
       WHERE b.symbol = sym AND b.bar_timestamp >= date_trunc('minute', utc) - make_interval(mins => window_minutes)
         AND b.bar_timestamp < date_trunc('minute', utc);
      FOR a IN
        WITH mh AS MATERIALIZED (SELECT * FROM cryptoml_internal.model_honesty(sym))  -- one read per symbol
        SELECT * FROM (VALUES
          ('stale_data', 'error', staleness_seconds, (cfg #>> '{alertThresholds,staleData}')::float8,
           staleness_seconds IS NULL OR staleness_seconds > (cfg #>> '{alertThresholds,staleData}')::float8,
           CASE WHEN latest_bar IS NULL THEN 'no bars' ELSE format('the latest bar (%s) closed %s s ago', latest_bar, round(staleness_seconds::numeric)) END),
          ('completeness', 'warning', completeness, (cfg ->> 'completenessThreshold')::float8,
           completeness < (cfg ->> 'completenessThreshold')::float8,
           format('%s of %s minutes have a complete bar', q.complete, q.expected)),
          ('missing_data', 'warning', missing_ratio, (cfg #>> '{alertThresholds,missingData}')::float8,
           missing_ratio > (cfg #>> '{alertThresholds,missingData}')::float8,
           format('%s of %s minutes have no bar', greatest(q.expected - q.present, 0), q.expected)),
          ('invalid_values', 'error', invalid_ratio, (cfg #>> '{alertThresholds,invalidValues}')::float8,
           invalid_ratio > (cfg #>> '{alertThresholds,invalidValues}')::float8,
           format('%s of %s bars have inconsistent prices or out-of-range indicators', q.invalid, q.present)),
          ('anomaly', 'warning', coalesce(an.score, 0), (cfg ->> 'anomalyThreshold')::float8, an.n > 0,
           CASE WHEN an.n > 0 THEN format('%s anomalous bars in the window, the latest at %s (max |z| %s)', an.n, an.latest, round(an.score::numeric, 1))
                ELSE format('no anomalous bar in the last %s minutes', window_minutes) END)
        ) AS v(alert, level, value, threshold, bad, detail)
        UNION ALL  -- the production models' live honesty, judged over at least 100 outcomes
        SELECT 'interval_coverage_h' || mh.horizon, 'warning', mh.coverage, mh.coverage_target,
               mh.with_interval >= 100 AND abs(mh.coverage - mh.coverage_target) > mh.coverage_gap,
               format('%s of the last %s outcomes of %s h%s inside the stated %s intervals (target +/- %s)',
                      round(mh.coverage::numeric, 3), mh.with_interval, mh.model_version, mh.horizon, mh.coverage_target, mh.coverage_gap)
          FROM mh WHERE mh.coverage IS NOT NULL
        UNION ALL
        SELECT 'calibration_error_h' || mh.horizon, 'warning', mh.ece, mh.ece_threshold,
               mh.outcomes >= 100 AND mh.ece > mh.ece_threshold,
               format('expected calibration error %s points over the last %s outcomes of %s h%s',
                      round(mh.ece::numeric, 2), mh.outcomes, mh.model_version, mh.horizon)
          FROM mh WHERE mh.ece IS NOT NULL
      LOOP
        IF a.bad THEN
          UPDATE cryptoml_internal.monitor_alerts m SET value = a.value, last_seen_at = at
           WHERE m.symbol = sym AND m.alert = a.alert;
          was_open := FOUND;
          IF NOT was_open THEN
            INSERT INTO cryptoml_internal.monitor_alerts (symbol, alert, level, value, threshold, started_at, last_seen_at)
              VALUES (sym, a.alert, a.level, a.value, a.threshold, at, at) ON CONFLICT DO NOTHING;
            IF FOUND THEN  -- raised here (a concurrent check that raised it first wins the conflict)
              raised := raised || a.alert;
              PERFORM @extschema@.ml_log(a.level::text, 'monitoring', a.alert::text, format('%s: %s alert raised: %s (threshold %s)', sym, a.alert, a.detail, a.threshold),
                jsonb_build_object('value', a.value, 'threshold', a.threshold, 'window_minutes', window_minutes, 'at', at), sym);
              PERFORM pg_notify('cryptoml_alerts', jsonb_build_object('alert', a.alert, 'state', 'raised', 'level', a.level,
                'symbol', sym, 'value', a.value, 'threshold', a.threshold, 'detail', a.detail, 'at', at)::text);
            END IF;
          END IF;
        ELSE
          DELETE FROM cryptoml_internal.monitor_alerts m WHERE m.symbol = sym AND m.alert = a.alert RETURNING m.started_at INTO started;
          IF FOUND THEN
            recovered := recovered || a.alert;
            PERFORM @extschema@.ml_log('info', 'monitoring', 'recovered', format('%s: %s recovered after %s s: %s', sym, a.alert,
                round(greatest(extract(epoch FROM at - started), 0)::numeric), a.detail),
              jsonb_build_object('alert', a.alert, 'value', a.value, 'threshold', a.threshold, 'started_at', started,
                                 'duration_seconds', greatest(extract(epoch FROM at - started), 0)::float8), sym);
            PERFORM pg_notify('cryptoml_alerts', jsonb_build_object('alert', a.alert, 'state', 'recovered', 'symbol', sym,
              'value', a.value, 'threshold', a.threshold, 'duration_seconds', greatest(extract(epoch FROM at - started), 0)::float8, 'at', at)::text);
          END IF;
        END IF;
      END LOOP;
      SELECT coalesce(array_agg(m.alert ORDER BY m.alert), '{}') INTO open_alerts FROM cryptoml_internal.monitor_alerts m WHERE m.symbol = sym;
      RETURN NEXT;
    END LOOP;
    IF for_symbol IS NULL THEN
      PERFORM cryptoml_internal.monitor_forget_unconfigured();
    END IF;
  END
  $$;
COMMENT ON FUNCTION ml_monitor_check(text, timestamptz, integer) IS 'Data-quality check of one or every configured symbol over the window_minutes closed minutes before at: completeness, missing ratio, staleness, invalid ratio, anomalous bars (runs ml_detect_anomalies first; 0.8.0); and the live honesty of its production models (interval coverage off target by more than monitoring.alertThresholds.intervalCoverageGap, expected calibration error above monitoring.alertThresholds.calibrationError, over at least 100 outcomes); raises each alert once (systemLogs + NOTIFY cryptoml_alerts) and clears it once.';

CREATE FUNCTION ml_health()
  RETURNS TABLE (scope text, metric text, value float8, unit text, threshold float8, ok boolean, detail text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cfg jsonb := @extschema@.ml_config_get('monitoring');
    sym text;
    q record;
    s record;
    utc timestamp := now() AT TIME ZONE 'UTC';
    total float8 := 0;
    n integer := 0;
  BEGIN
    FOR sym IN SELECT c.s FROM cryptoml_internal.served_symbols() AS c(s) LOOP
      q := cryptoml_internal.chart_quality(sym, utc, 60);
      scope := sym;
      metric := 'staleness'; value := q.staleness_seconds; unit := 's'; threshold := (cfg #>> '{alertThresholds,staleData}')::float8;
      ok := value IS NOT NULL AND value <= threshold;
      detail := CASE WHEN q.latest_bar IS NULL THEN 'no bars' ELSE 'latest bar ' || q.latest_bar END;
      RETURN NEXT;
      metric := 'completeness'; value := q.complete::float8 / q.expected; unit := 'ratio'; threshold := (cfg ->> 'completenessThreshold')::float8;
      ok := value >= threshold; detail := format('%s of the last %s minutes have a complete bar', q.complete, q.expected);
      total := total + value; n := n + 1;
      RETURN NEXT;
      metric := 'missing_data'; value := greatest(q.expected - q.present, 0)::float8 / q.expected;
      threshold := (cfg #>> '{alertThresholds,missingData}')::float8; ok := value <= threshold;
      detail := format('%s of the last %s minutes have no bar', greatest(q.expected - q.present, 0), q.expected);
      RETURN NEXT;
      metric := 'invalid_values'; value := CASE WHEN q.present > 0 THEN q.invalid::float8 / q.present ELSE 0 END;
      threshold := (cfg #>> '{alertThresholds,invalidValues}')::float8; ok := value <= threshold;
      detail := format('%s of %s bars', q.invalid, q.present);
      RETURN NEXT;
      metric := 'open_alerts'; unit := 'alerts'; threshold := 0;
      SELECT count(*), string_agg(m.alert || ' since ' || m.started_at, ', ' ORDER BY m.alert) INTO value, detail
        FROM cryptoml_internal.monitor_alerts m WHERE m.symbol = sym;
      ok := value = 0;
      RETURN NEXT;
      -- the production models' live honesty (issue 15)
      FOR q IN SELECT * FROM cryptoml_internal.model_honesty(sym) LOOP
        metric := 'live_ece_h' || q.horizon; value := q.ece; unit := 'points'; threshold := q.ece_threshold;
        ok := CASE WHEN q.outcomes >= 100 THEN value <= threshold END;
        detail := format('expected calibration error of %s''s stated confidence over its last %s outcomes', q.model_version, q.outcomes);
        RETURN NEXT;
        metric := 'interval_coverage_h' || q.horizon; value := q.coverage; unit := 'ratio'; threshold := q.coverage_target;
        ok := CASE WHEN q.with_interval >= 100 THEN abs(value - threshold) <= q.coverage_gap END;
        detail := format('share of %s''s last %s outcomes with an interval inside it (target %s +/- %s)', q.model_version,
                         q.with_interval, q.coverage_target, q.coverage_gap);
        RETURN NEXT;
      END LOOP;
      -- ingestion (issue 8), for symbols the ingest worker or ml_ingest_klines has stored
      FOR q IN SELECT i.exchange, i.last_lag_seconds, i.last_bar, i.consecutive_failures, i.last_error
                 FROM cryptoml_internal.ingest_state i WHERE i.symbol = sym
                ORDER BY i.is_active DESC, i.last_success DESC NULLS LAST LIMIT 1 LOOP
        metric := 'ingest_lag'; value := q.last_lag_seconds; unit := 's';
        threshold := (@extschema@.ml_config_get('ingest.pollInterval'))::float8 + 60;
        ok := value IS NOT NULL AND value <= threshold;
        detail := format('from %s: the newest stored bar (%s) was stored %s s after it closed', q.exchange,
                         coalesce(q.last_bar::text, 'none'), coalesce(round(q.last_lag_seconds::numeric, 1)::text, '?'));
        RETURN NEXT;
        metric := 'ingest_failures'; value := q.consecutive_failures; unit := 'requests';
        threshold := (@extschema@.ml_config_get('ingest.failoverAfter'))::float8; ok := value < threshold;
        detail := format('consecutive failed requests to %s%s', q.exchange, coalesce(': ' || q.last_error, ''));
        RETURN NEXT;
      END LOOP;
    END LOOP;
    scope := 'system';
    SELECT * INTO s FROM cryptoml_internal.prediction_stats();
    metric := 'prediction_latency_p50'; value := s.p50_ms; unit := 'ms'; threshold := NULL; ok := NULL;
    detail := CASE WHEN s.calls IS NULL THEN 'not measured: cryptoml is not in shared_preload_libraries'
                   ELSE format('ml_forecast calls since server start: %s (the last %s measured)', s.calls, s.sampled) END;
    RETURN NEXT;
    metric := 'prediction_latency_p95'; value := s.p95_ms;
    RETURN NEXT;
    metric := 'predictions_per_second'; unit := 'forecasts/s';
    SELECT count(*) / 300.0 INTO value FROM @extschema@.persistentforecasts f WHERE f.created_at > utc - interval '5 minutes';
    detail := 'persistentForecasts rows written in the last 5 minutes / 300 s';
    RETURN NEXT;
    metric := 'data_completeness'; value := CASE WHEN n > 0 THEN total / n END; unit := 'ratio';
    threshold := (cfg ->> 'completenessThreshold')::float8; ok := value >= threshold;
    detail := format('mean completeness of the last 60 minutes over %s configured symbols', n);
    RETURN NEXT;
    metric := 'error_rate'; unit := 'ratio'; threshold := NULL; ok := NULL;
    SELECT CASE WHEN count(*) > 0 THEN (count(*) FILTER (WHERE l.level = 'error'))::float8 / count(*) END,
           format('%s errors among %s systemLogs entries of the last hour (monitoring alerts excluded)', count(*) FILTER (WHERE l.level = 'error'), count(*))
      INTO value, detail FROM @extschema@.systemlogs l
     WHERE l.timestamp > utc - interval '1 hour' AND l.category IS DISTINCT FROM 'monitoring';
    RETURN NEXT;
    metric := 'recovery_time'; unit := 's';
    SELECT avg((l.context ->> 'duration_seconds')::float8), format('mean duration of the %s alerts that recovered in the last 24 hours', count(*))
      INTO value, detail FROM @extschema@.systemlogs l
     WHERE l.category = 'monitoring' AND l.subcategory = 'recovered' AND l.context ? 'duration_seconds' AND l.timestamp > utc - interval '24 hours';
    RETURN NEXT;
    metric := 'open_alerts'; unit := 'alerts'; threshold := 0;
    SELECT count(*), string_agg(DISTINCT m.alert, ', ') INTO value, detail FROM cryptoml_internal.monitor_alerts m;
    ok := value = 0;
    RETURN NEXT;
  END
  $$;
COMMENT ON FUNCTION ml_health() IS 'Current data-quality figures per configured symbol (last 60 minutes) and system metrics: prediction latency, predictions per second, data completeness, error rate, recovery time, open alerts; per production model the live expected calibration error and interval coverage (ok is NULL below 100 outcomes); and per ingested symbol the ingest lag and consecutive failed requests.';

CREATE FUNCTION cryptoml_internal.prediction_stats(OUT calls bigint, OUT sampled integer, OUT p50_ms float8, OUT p95_ms float8)
  AS 'MODULE_PATHNAME', 'cml_prediction_stats' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

-- ===========================================================================================
-- Retention and compression (data.retentionDays, data.compressionThreshold; docs/upkeep.md)
-- ===========================================================================================
CREATE FUNCTION cryptoml_internal.delete_history(symbol text, before timestamp, max_rows integer) RETURNS bigint
  AS 'MODULE_PATHNAME', 'cml_delete_history' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

-- Bars older than data.compressionThreshold days (before each symbol's latest bar), one row per
-- symbol and UTC day, every column of rollingChartData kept as an array (TOAST-compressed).
CREATE TABLE cryptoml_internal.chart_archive (
  symbol           varchar(20) NOT NULL,
  day              date NOT NULL,
  bars             integer NOT NULL,
  id               integer[] NOT NULL,
  "timestamp"      timestamp[] NOT NULL,
  open             numeric[] NOT NULL,
  high             numeric[] NOT NULL,
  low              numeric[] NOT NULL,
  close            numeric[] NOT NULL,
  volume           numeric[] NOT NULL,
  rsi              numeric[] NOT NULL,
  macd             numeric[] NOT NULL,
  bollinger_upper  numeric[] NOT NULL,
  bollinger_lower  numeric[] NOT NULL,
  stochastic_k     numeric[] NOT NULL,
  stochastic_d     numeric[] NOT NULL,
  volatility       numeric[] NOT NULL,
  is_complete      boolean[] NOT NULL,
  created_at       timestamp[] NOT NULL,
  macd_signal      numeric[] NOT NULL,
  macd_hist        numeric[] NOT NULL,
  bollinger_middle numeric[] NOT NULL,
  archived_at      timestamptz NOT NULL DEFAULT now(),
  source           varchar(20)[],
  PRIMARY KEY (symbol, day)
);
COMMENT ON TABLE cryptoml_internal.chart_archive IS 'rollingChartData bars older than data.compressionThreshold, one row of arrays per symbol and day; read through ml_chart_history.';
COMMENT ON COLUMN cryptoml_internal.chart_archive.source IS 'rollingChartData.source of each bar (NULL for days archived before 0.4.0).';

CREATE VIEW ml_chart_history AS
  SELECT r.id, r.symbol, r.timestamp, r.open, r.high, r.low, r.close, r.volume, r.rsi, r.macd, r.bollinger_upper,
         r.bollinger_lower, r.stochastic_k, r.stochastic_d, r.volatility, r.is_complete, r.created_at, r.macd_signal,
         r.macd_hist, r.bollinger_middle, false AS archived, r.source
    FROM @extschema@.rollingchartdata r
  UNION ALL
  SELECT u.id, a.symbol, u.ts, u.open, u.high, u.low, u.close, u.volume, u.rsi, u.macd, u.bollinger_upper,
         u.bollinger_lower, u.stochastic_k, u.stochastic_d, u.volatility, u.is_complete, u.created_at, u.macd_signal,
         u.macd_hist, u.bollinger_middle, true, u.source
    FROM cryptoml_internal.chart_archive a,
         unnest(a.id, a."timestamp", a.open, a.high, a.low, a.close, a.volume, a.rsi, a.macd, a.bollinger_upper,
                a.bollinger_lower, a.stochastic_k, a.stochastic_d, a.volatility, a.is_complete, a.created_at,
                a.macd_signal, a.macd_hist, a.bollinger_middle, a.source)
           AS u(id, ts, open, high, low, close, volume, rsi, macd, bollinger_upper, bollinger_lower, stochastic_k,
                stochastic_d, volatility, is_complete, created_at, macd_signal, macd_hist, bollinger_middle, source);
COMMENT ON VIEW ml_chart_history IS 'Every stored bar: rollingChartData and the compressed archive (archived = true).';


-- One step of retention (at most max_rows rows of one kind); returns how many rows went.
CREATE FUNCTION cryptoml_internal.retention_step(kind text, max_rows integer) RETURNS bigint
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    keep interval := make_interval(days => (@extschema@.ml_config_get('data.retentionDays'))::int);
    n bigint := 0;
    k bigint;
    r record;
  BEGIN
    CASE kind
    WHEN 'bars' THEN  -- per symbol, before its latest bar minus retentionDays, without the indicator recompute
      FOR r IN SELECT c.symbol, (SELECT max(b.timestamp) FROM @extschema@.rollingchartdata b WHERE b.symbol = c.symbol) - keep AS cutoff
                 FROM cryptoml_internal.chart_symbols() AS c(symbol) LOOP
        EXIT WHEN n >= max_rows;
        n := n + cryptoml_internal.delete_history(r.symbol, r.cutoff, (max_rows - n)::int);
      END LOOP;
    WHEN 'archive' THEN
      WITH l AS (SELECT a.symbol, max(a.day) AS last_day FROM cryptoml_internal.chart_archive a GROUP BY a.symbol),
           t AS (SELECT c.symbol, (SELECT max(b.timestamp) FROM @extschema@.rollingchartdata b WHERE b.symbol = c.symbol) AS ts
                   FROM cryptoml_internal.chart_symbols() AS c(symbol)),
           d AS (DELETE FROM cryptoml_internal.chart_archive a
                  WHERE (a.symbol, a.day) IN (
                    SELECT a2.symbol, a2.day FROM cryptoml_internal.chart_archive a2 JOIN l ON l.symbol = a2.symbol
                      LEFT JOIN t ON t.symbol = a2.symbol
                     WHERE a2.day + 1 <= coalesce(t.ts, l.last_day + 1) - keep
                     ORDER BY a2.day LIMIT greatest(max_rows / 1440, 1))
                 RETURNING a.bars)
      SELECT coalesce(sum(d.bars), 0) INTO n FROM d;
    WHEN 'samples' THEN
      WITH t AS (SELECT c.symbol, (SELECT max(b.timestamp) FROM @extschema@.rollingchartdata b WHERE b.symbol = c.symbol) AS ts
                   FROM cryptoml_internal.chart_symbols() AS c(symbol)),
           d AS (DELETE FROM @extschema@.mltrainingsamples m WHERE m.id IN (
                   SELECT m2.id FROM @extschema@.mltrainingsamples m2 JOIN t ON t.symbol = m2.symbol
                    WHERE m2.bar_timestamp < t.ts - keep ORDER BY m2.bar_timestamp LIMIT max_rows) RETURNING 1)
      SELECT count(*) INTO n FROM d;
    WHEN 'forecasts' THEN
      WITH d AS (DELETE FROM @extschema@.persistentforecasts f WHERE f.id IN (
                   SELECT f2.id FROM @extschema@.persistentforecasts f2 WHERE f2.created_at < now()::timestamp - keep
                    ORDER BY f2.created_at LIMIT max_rows) RETURNING 1)
      SELECT count(*) INTO n FROM d;
    WHEN 'logs' THEN
      WITH d AS (DELETE FROM @extschema@.systemlogs l WHERE l.id IN (
                   SELECT l2.id FROM @extschema@.systemlogs l2 WHERE l2.timestamp < now()::timestamp - keep
                    ORDER BY l2.timestamp LIMIT max_rows) RETURNING 1)
      SELECT count(*) INTO n FROM d;
    WHEN 'recovery' THEN
      WITH d AS (DELETE FROM @extschema@.recoverystate c WHERE c.id IN (
                   SELECT c2.id FROM @extschema@.recoverystate c2 WHERE c2.created_at < now()::timestamp - keep
                    ORDER BY c2.created_at LIMIT max_rows) RETURNING 1)
      SELECT count(*) INTO n FROM d;
    ELSE
      RAISE EXCEPTION 'unknown retention kind "%"', left(kind, 40) USING ERRCODE = 'invalid_parameter_value';
    END CASE;
    RETURN n;
  END
  $$;

-- Archives up to max_days (symbol, day) pairs of bars older than data.compressionThreshold days
-- before the symbol's latest bar; returns how many bars moved.
CREATE FUNCTION cryptoml_internal.compress_step(max_days integer) RETURNS bigint
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    after interval := make_interval(days => (@extschema@.ml_config_get('data.compressionThreshold'))::int);
    r record;
    n bigint := 0;
    moved integer;
  BEGIN
    FOR r IN
      -- each symbol's oldest day, when it ends before (latest bar - compressionThreshold)
      SELECT t.symbol, t.first_ts::date AS day
        FROM (SELECT c.symbol,
                     (SELECT min(b.timestamp) FROM @extschema@.rollingchartdata b WHERE b.symbol = c.symbol) AS first_ts,
                     (SELECT max(b.timestamp) FROM @extschema@.rollingchartdata b WHERE b.symbol = c.symbol) AS last_ts
                FROM cryptoml_internal.chart_symbols() AS c(symbol)) t
       WHERE t.first_ts::date + 1 <= t.last_ts - after
       ORDER BY 2, 1 LIMIT max_days
    LOOP
      IF EXISTS (SELECT 1 FROM cryptoml_internal.chart_archive a WHERE a.symbol = r.symbol AND a.day = r.day) THEN
        RAISE EXCEPTION 'bars of % on % arrived after that day was archived', r.symbol, r.day
          USING ERRCODE = 'unique_violation',
                HINT = 'Merge them by hand: move the archived day back into rollingChartData, or delete the late bars.';
      END IF;
      INSERT INTO cryptoml_internal.chart_archive (symbol, day, bars, id, "timestamp", open, high, low, close, volume, rsi, macd,
                                                   bollinger_upper, bollinger_lower, stochastic_k, stochastic_d, volatility,
                                                   is_complete, created_at, macd_signal, macd_hist, bollinger_middle, source)
      SELECT r.symbol, r.day, count(*), array_agg(c.id ORDER BY c.timestamp), array_agg(c.timestamp ORDER BY c.timestamp),
             array_agg(c.open ORDER BY c.timestamp), array_agg(c.high ORDER BY c.timestamp), array_agg(c.low ORDER BY c.timestamp),
             array_agg(c.close ORDER BY c.timestamp), array_agg(c.volume ORDER BY c.timestamp), array_agg(c.rsi ORDER BY c.timestamp),
             array_agg(c.macd ORDER BY c.timestamp), array_agg(c.bollinger_upper ORDER BY c.timestamp),
             array_agg(c.bollinger_lower ORDER BY c.timestamp), array_agg(c.stochastic_k ORDER BY c.timestamp),
             array_agg(c.stochastic_d ORDER BY c.timestamp), array_agg(c.volatility ORDER BY c.timestamp),
             array_agg(c.is_complete ORDER BY c.timestamp), array_agg(c.created_at ORDER BY c.timestamp),
             array_agg(c.macd_signal ORDER BY c.timestamp), array_agg(c.macd_hist ORDER BY c.timestamp),
             array_agg(c.bollinger_middle ORDER BY c.timestamp), array_agg(c.source ORDER BY c.timestamp)
        FROM @extschema@.rollingchartdata c
       WHERE c.symbol = r.symbol AND c.timestamp >= r.day AND c.timestamp < r.day + 1
      RETURNING bars INTO moved;
      -- the same rows go, without the indicator recompute (they are older than every bar that stays)
      IF cryptoml_internal.delete_history(r.symbol, (r.day + 1)::timestamp, moved) <> moved THEN
        RAISE EXCEPTION 'archiving % on %: the day changed while it was archived', r.symbol, r.day USING ERRCODE = 'serialization_failure';
      END IF;
      n := n + moved;
    END LOOP;
    RETURN n;
  END
  $$;

-- Procedures commit after each batch: SECURITY INVOKER, every name qualified.
CREATE PROCEDURE ml_compress_history(INOUT bars bigint DEFAULT NULL)
  LANGUAGE plpgsql
  AS $$
  DECLARE
    saved_path text := pg_catalog.current_setting('search_path');  -- the caller's, restored at the end
    k bigint;
  BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- as in ml_retrain_all
    bars := 0;
    LOOP
      k := cryptoml_internal.compress_step(1);
      bars := bars + k;
      PERFORM cryptoml_internal.progress_report('compress'::text, 'archiving symbol-days'::text, bars, NULL::bigint);
      COMMIT;
      PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
      EXIT WHEN k = 0;
    END LOOP;
    PERFORM cryptoml_internal.progress_done();
    IF bars > 0 THEN
      PERFORM @extschema@.ml_log('info', 'data', 'compression', format('archived %s bars older than data.compressionThreshold', bars),
                                 jsonb_build_object('bars', bars), NULL);
    END IF;
    PERFORM pg_catalog.set_config('search_path', saved_path, true);
  END
  $$;
COMMENT ON PROCEDURE ml_compress_history(bigint) IS 'Moves bars older than data.compressionThreshold days (before each symbol''s latest bar) into the compressed archive, one symbol-day per transaction; returns how many bars moved. ml_chart_history reads both.';

CREATE PROCEDURE ml_apply_retention(INOUT deleted bigint DEFAULT NULL)
  LANGUAGE plpgsql
  AS $$
  DECLARE
    saved_path text := pg_catalog.current_setting('search_path');  -- the caller's, restored at the end
    batch integer;
    kind text;
    k bigint;
    per jsonb := '{}';
  BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- as in ml_retrain_all
    batch := (@extschema@.ml_config_get('data.backfillBatchSize'))::int;
    deleted := 0;
    FOREACH kind IN ARRAY ARRAY['bars', 'archive', 'samples', 'forecasts', 'recovery', 'logs'] LOOP
      LOOP
        k := cryptoml_internal.retention_step(kind, batch);
        deleted := deleted + k;
        per := jsonb_set(per, ARRAY[kind], to_jsonb(coalesce((per ->> kind)::bigint, 0) + k));
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
        EXIT WHEN (kind = 'archive' AND k = 0) OR (kind <> 'archive' AND k < batch);
      END LOOP;
    END LOOP;
    PERFORM @extschema@.ml_log('info', 'data', 'retention', format('retention (data.retentionDays): %s rows deleted', deleted), per, NULL);
    PERFORM pg_catalog.set_config('search_path', saved_path, true);
  END
  $$;
COMMENT ON PROCEDURE ml_apply_retention(bigint) IS 'Deletes bars and samples older than data.retentionDays before each symbol''s latest bar (bars without the indicator recompute), the archive''s days past it, and forecasts, checkpoints and logs older than data.retentionDays, in committed batches of data.backfillBatchSize; returns how many rows.';

REVOKE ALL ON FUNCTION ml_monitor_check(text, timestamptz, integer), ml_health(),
  cryptoml_internal.chart_quality(text, timestamp, integer), cryptoml_internal.prediction_stats(),
  cryptoml_internal.delete_history(text, timestamp, integer), cryptoml_internal.retention_step(text, integer),
  cryptoml_internal.compress_step(integer), cryptoml_internal.chart_symbols(),
  cryptoml_internal.monitor_forget_unconfigured() FROM PUBLIC;
REVOKE ALL ON PROCEDURE ml_compress_history(bigint), ml_apply_retention(bigint) FROM PUBLIC;

-- The scheduled sample build: one committed transaction per symbol with bars, so a killed run keeps
-- the symbols it finished and the next run (incremental) goes on from there.
CREATE PROCEDURE ml_build_samples_all(INOUT samples bigint DEFAULT NULL)
  LANGUAGE plpgsql
  AS $$
  DECLARE
    saved_path text := pg_catalog.current_setting('search_path');  -- the caller's, restored at the end
    s text;
  BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- as in ml_retrain_all
    samples := 0;
    FOR s IN SELECT c.symbol FROM cryptoml_internal.chart_symbols() AS c(symbol) LOOP
      samples := samples + @extschema@.ml_build_samples(s, NULL::integer, NULL::timestamp);  -- every argument: no overload can make it ambiguous
      COMMIT;
      PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    END LOOP;
    PERFORM pg_catalog.set_config('search_path', saved_path, true);
  END
  $$;
COMMENT ON PROCEDURE ml_build_samples_all(bigint) IS 'ml_build_samples for every symbol with bars, committing after each symbol (what the cryptoml-build-samples job runs); returns the rows added.';
REVOKE ALL ON PROCEDURE ml_build_samples_all(bigint) FROM PUBLIC;
REVOKE ALL ON ml_chart_history FROM PUBLIC;

CREATE FUNCTION cryptoml_internal.test_second_launcher() RETURNS boolean
  AS 'MODULE_PATHNAME', 'cml_test_second_launcher' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION cryptoml_internal.test_second_launcher() IS 'Tests only: starts a second launcher; true when it refused to run and the first one stayed.';
REVOKE ALL ON FUNCTION cryptoml_internal.test_second_launcher() FROM PUBLIC;

-- ===========================================================================================
-- Simulated trading and performance analytics (issue 7; see docs/trading.md)
-- ===========================================================================================
ALTER TABLE tradeSimulations
  ADD COLUMN forecast_horizon INTEGER,
  ADD COLUMN entry_bar        TIMESTAMP,
  ADD COLUMN model_version    VARCHAR(50),
  ADD COLUMN predicted_change DECIMAL(15,8),
  ADD COLUMN fee_pct          DECIMAL(8,4) NOT NULL DEFAULT 0.1,
  ADD COLUMN slippage_pct     DECIMAL(8,4) NOT NULL DEFAULT 0.05,
  ADD COLUMN exit_reason      VARCHAR(10),
  ADD COLUMN exit_price       DECIMAL(20,8),
  ADD CONSTRAINT tradesimulations_costs_nonnegative CHECK (fee_pct >= 0 AND slippage_pct >= 0),
  ADD CONSTRAINT tradesimulations_exit_reason_check CHECK (exit_reason IN ('tp', 'sl', 'expiry')),
  ADD CONSTRAINT tradesimulations_horizon_positive CHECK (forecast_horizon > 0);
COMMENT ON COLUMN tradeSimulations.forecast_horizon IS 'Horizon of the forecast the trade follows, minutes: the trade expires after it.';
COMMENT ON COLUMN tradeSimulations.entry_bar IS 'Open time of the bar whose close is the entry; the trade follows the bars after it.';
COMMENT ON COLUMN tradeSimulations.model_version IS 'The model (batch_id) whose forecast opened the trade.';
COMMENT ON COLUMN tradeSimulations.predicted_change IS 'The forecast percentage change of close over the horizon.';
COMMENT ON COLUMN tradeSimulations.fee_pct IS 'Fee per side, percent of the entry; charged twice (round trip) in real_time_pnl.';
COMMENT ON COLUMN tradeSimulations.slippage_pct IS 'Slippage per side, percent of the entry; charged twice in real_time_pnl.';
COMMENT ON COLUMN tradeSimulations.exit_reason IS 'tp, sl or expiry once completed.';
COMMENT ON COLUMN tradeSimulations.exit_price IS 'The exit price: the TP or SL level, or the close of the expiry bar.';
CREATE INDEX tradesimulations_window_idx ON tradeSimulations (symbol, entry_bar);

-- Re-evaluates one trade from its entry over the stored bars: TP/SL hits on high/low (both in one
-- bar: SL), expiry at the first bar at or after entry_bar + horizon. Late and corrected bars are
-- therefore taken into account by construction.
CREATE FUNCTION cryptoml_internal.check_trade_rule(tp_sigma float8, sl_sigma float8) RETURNS void
  AS 'MODULE_PATHNAME', 'cml_check_trade_rule' LANGUAGE C IMMUTABLE STRICT;
REVOKE ALL ON FUNCTION cryptoml_internal.check_trade_rule(float8, float8) FROM PUBLIC;
CREATE FUNCTION cryptoml_internal.trade_levels(side text, entry float8, sigma_pct float8, horizon integer,
    tp_sigma float8, sl_sigma float8, OUT tp float8, OUT sl float8)
  AS 'MODULE_PATHNAME', 'cml_trade_levels' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION cryptoml_internal.trade_evaluate(side text, entry float8, tp float8, sl float8, opened_at timestamp,
    horizon integer, fee_pct float8, slippage_pct float8, ts timestamp[], high float8[], low float8[], close float8[],
    OUT current_price float8, OUT pnl_pct float8, OUT highest_profit float8, OUT lowest_loss float8,
    OUT profitable_minutes integer, OUT total_minutes integer, OUT active boolean, OUT completed_at timestamp,
    OUT exit_reason text, OUT exit_price float8)
  AS 'MODULE_PATHNAME', 'cml_trade_evaluate' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION cryptoml_internal.performance_of(opened_at timestamp[], closed_at timestamp[], pnl_pct float8[],
    period_start timestamp, period_end timestamp,
    OUT trades integer, OUT win_rate float8, OUT avg_pnl float8, OUT median_pnl float8, OUT profit_factor float8,
    OUT sharpe float8, OUT sortino float8, OUT max_drawdown_pct float8, OUT exposure float8, OUT total_return_pct float8,
    OUT trades_per_year float8)
  AS 'MODULE_PATHNAME', 'cml_performance_of' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION cryptoml_internal.random_entry_trades(ts timestamp[], close float8[], n_trades integer, horizon integer,
    seed bigint, fee_pct float8, slippage_pct float8, OUT opened_at timestamp[], OUT closed_at timestamp[], OUT pnl_pct float8[])
  AS 'MODULE_PATHNAME', 'cml_random_entry_trades' LANGUAGE C IMMUTABLE STRICT;

-- Re-evaluates one trade from its entry over the stored bars (src/pg/trading.cpp, follow.hpp): the
-- bars after entry_bar up to entry_bar + horizon, or after a gap over the expiry the first bar after
-- it; TP/SL on high/low, both in one bar: SL; stored rounded to the columns' scales. False for a
-- trade without the fields ml_simulate writes (a row written by hand is left as it is).
CREATE FUNCTION cryptoml_internal.follow_trade(trade_id integer) RETURNS boolean
  AS 'MODULE_PATHNAME', 'cml_follow_trade' LANGUAGE C VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- New and corrected bars re-evaluate the trades they concern: every active trade of the symbol,
-- and completed trades whose window ends at or after the first changed bar. The indicators'
-- statement trigger (zz_cryptoml_indicators_statement, after INSERT or UPDATE) does it in C with
-- the changes it has just recorded; statement_bar_changes() reports them to the triggers after it.
CREATE FUNCTION cryptoml_internal.statement_bar_changes(OUT symbol text, OUT since timestamp) RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'cml_statement_bar_changes' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION ml_simulate(symbol text, horizon integer DEFAULT 15, tp_sigma float8 DEFAULT 2, sl_sigma float8 DEFAULT 1,
                            fee_pct float8 DEFAULT 0.1, slippage_pct float8 DEFAULT 0.05)
  RETURNS tradeSimulations
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    f record;
    bar record;
    sigma float8;
    lv record;
    trade @extschema@.tradesimulations;
  BEGIN
    IF fee_pct < 0 OR slippage_pct < 0 OR fee_pct = 'NaN'::float8 OR slippage_pct = 'NaN'::float8 OR fee_pct > 10 OR slippage_pct > 10 THEN
      RAISE EXCEPTION 'invalid trading costs: fee_pct %, slippage_pct %', fee_pct, slippage_pct
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: 0 <= fee_pct <= 10 and 0 <= slippage_pct <= 10 (percent per side)';
    END IF;
    -- the trade rule checked whatever the signal (src/core/trading.hpp): a WAIT must not hide a bad tp_sigma
    PERFORM cryptoml_internal.check_trade_rule(tp_sigma, sl_sigma);
    IF NOT EXISTS (SELECT 1 FROM @extschema@.mltrainingbatches m WHERE m.symbol = ml_simulate.symbol
                     AND m.forecast_horizon = ml_simulate.horizon AND m.is_production) THEN
      RAISE EXCEPTION 'no production model for % at horizon %', left(symbol, 40), horizon USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'Train one with ml_train and promote it (or ml_deploy it) first.';
    END IF;
    SELECT * INTO f FROM @extschema@.ml_forecast(symbol, horizon);
    SELECT r.timestamp, r.close::float8 AS close INTO bar FROM @extschema@.rollingchartdata r
     WHERE r.symbol = ml_simulate.symbol AND r.timestamp = f.forecast_at;
    -- the standard deviation of the last hour's one-bar returns, in %
    SELECT stddev_samp(x) INTO sigma FROM (
      SELECT 100 * (c / lag(c) OVER (ORDER BY ts) - 1) AS x FROM (
        SELECT r.timestamp AS ts, r.close::float8 AS c FROM @extschema@.rollingchartdata r
         WHERE r.symbol = ml_simulate.symbol AND r.timestamp <= bar.timestamp ORDER BY r.timestamp DESC LIMIT 61) w) q;
    IF f.signal = 'WAIT' THEN
      INSERT INTO @extschema@.tradesimulations (symbol, signal_type, entry_price, current_price, confidence, profit_likelihood,
                                                 is_active, completed_at, forecast_horizon, entry_bar, model_version,
                                                 predicted_change, fee_pct, slippage_pct, total_minutes, profitable_minutes)
        VALUES (symbol, 'WAIT', bar.close, bar.close, round(f.confidence), round(f.confidence), false, bar.timestamp, horizon,
                bar.timestamp, f.model_version, round(f.predicted_change::numeric, 8), fee_pct, slippage_pct, 0, 0)
        RETURNING * INTO trade;
      RETURN trade;
    END IF;
    IF sigma IS NULL OR sigma <= 0 THEN
      RAISE EXCEPTION 'cannot set TP and SL for %: no price movement in the last hour before %', left(symbol, 40), bar.timestamp
        USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = 'rule: TP/SL are multiples of the last hour''s return volatility, which must be > 0';
    END IF;
    SELECT * INTO lv FROM cryptoml_internal.trade_levels(f.signal, bar.close, sigma, horizon, tp_sigma, sl_sigma);
    INSERT INTO @extschema@.tradesimulations (symbol, signal_type, entry_price, tp_price, sl_price, current_price, confidence,
                                               profit_likelihood, real_time_pnl, highest_profit, lowest_loss,
                                               profitable_minutes, total_minutes, is_active, forecast_horizon, entry_bar,
                                               model_version, predicted_change, fee_pct, slippage_pct)
      VALUES (symbol, f.signal, bar.close, round(lv.tp::numeric, 8), round(lv.sl::numeric, 8), bar.close, round(f.confidence),
              round(f.confidence), round((-2 * (fee_pct + slippage_pct))::numeric, 4), NULL, NULL, 0, 0, true, horizon,
              bar.timestamp, f.model_version, round(f.predicted_change::numeric, 8), fee_pct, slippage_pct)
      RETURNING * INTO trade;
    PERFORM cryptoml_internal.follow_trade(trade.id);   -- bars already after the entry (none for a live bar)
    SELECT * INTO trade FROM @extschema@.tradesimulations s WHERE s.id = trade.id;
    RETURN trade;
  END
  $$;
COMMENT ON FUNCTION ml_simulate(text, integer, float8, float8, float8, float8) IS 'Opens a simulated trade from the production model''s current forecast: LONG or SHORT at the latest close with TP/SL at tp_sigma/sl_sigma times the last hour''s return volatility scaled to the horizon, followed bar by bar by the insert trigger; a WAIT signal is recorded as an inactive row.';

-- Run by the forecaster worker after each cycle (issue 7): when trading.autoSimulate is on, opens a
-- simulated trade (ml_simulate with its default rule and costs) at trading.horizon for each
-- configured symbol with a production model, no active trade and a LONG or SHORT signal. A WAIT
-- is not recorded here (it would add a row per cycle). A symbol that fails (stale or incomplete
-- bars, no volatility) is logged (category trading) and the others go on. Returns the trades opened.
CREATE FUNCTION cryptoml_internal.auto_simulate() RETURNS integer
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    h integer;
    sym text;
    sig text;
    opened integer := 0;
  BEGIN
    IF NOT (@extschema@.ml_config_get('trading.autoSimulate'))::boolean THEN
      RETURN 0;
    END IF;
    h := (@extschema@.ml_config_get('trading.horizon'))::integer;
    FOR sym IN
      SELECT c.symbol FROM cryptoml_internal.served_symbols() c(symbol)
       WHERE EXISTS (SELECT 1 FROM @extschema@.mltrainingbatches m WHERE m.symbol = c.symbol AND m.forecast_horizon = h AND m.is_production)
         AND NOT EXISTS (SELECT 1 FROM @extschema@.tradesimulations t WHERE t.symbol = c.symbol AND t.is_active)
       ORDER BY 1
    LOOP
      BEGIN
        SELECT f.signal INTO sig FROM @extschema@.ml_forecast(sym, h) f;
        IF sig IN ('LONG', 'SHORT') THEN
          PERFORM @extschema@.ml_simulate(sym, h, 2::float8, 1::float8, 0.1::float8, 0.05::float8);  -- ml_simulate's defaults, given
          opened := opened + 1;
        END IF;
      EXCEPTION WHEN OTHERS THEN
        PERFORM @extschema@.ml_log('warning', 'trading', 'auto_simulate', format('no trade opened for %s: %s', sym, SQLERRM),
                                   jsonb_build_object('horizon', h, 'sqlstate', SQLSTATE), sym);
      END;
    END LOOP;
    RETURN opened;
  END
  $$;
REVOKE ALL ON FUNCTION cryptoml_internal.auto_simulate() FROM PUBLIC;

-- The inputs of ml_performance and ml_calibration (0.9.0: apart, so a router pools every node's
-- before computing with performance_of and reliability_report).
CREATE FUNCTION cryptoml_internal.performance_inputs(symbol text, since timestamp)
  RETURNS TABLE (entry_bar timestamp, completed_at timestamp, pnl float8, fee float8, slip float8, horizon integer, id integer)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT t.entry_bar, t.completed_at, t.real_time_pnl::float8, t.fee_pct::float8, t.slippage_pct::float8, t.forecast_horizon, t.id
    FROM @extschema@.tradesimulations t
   WHERE t.signal_type IN ('LONG', 'SHORT') AND NOT t.is_active AND t.completed_at IS NOT NULL AND t.real_time_pnl IS NOT NULL
     AND ($1 IS NULL OR t.symbol = $1) AND ($2 IS NULL OR t.entry_bar >= $2)
   ORDER BY t.entry_bar, t.id
  $$;
CREATE FUNCTION cryptoml_internal.calibration_inputs(symbol text, horizon integer, since timestamp)
  RETURNS TABLE (conf float8, hit boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p.confidence::float8, sign(coalesce(p.raw_value, p.predicted_value)) = sign(p.actual_value)
    FROM @extschema@.persistentforecasts p
   WHERE p.forecast_type = 'price_direction' AND p.actual_value IS NOT NULL AND p.actual_value <> 0 AND p.confidence IS NOT NULL
     AND ($1 IS NULL OR p.symbol = $1) AND ($2 IS NULL OR p.forecast_horizon = $2) AND ($3 IS NULL OR p.bar_timestamp >= $3)
  $$;

REVOKE ALL ON FUNCTION cryptoml_internal.performance_inputs(text, timestamp),
  cryptoml_internal.calibration_inputs(text, integer, timestamp) FROM PUBLIC;

CREATE FUNCTION ml_performance(symbol text DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS TABLE (strategy text, trades integer, win_rate float8, avg_pnl float8, median_pnl float8, profit_factor float8,
                 sharpe float8, sortino float8, max_drawdown_pct float8, exposure float8, total_return_pct float8,
                 trades_per_year float8, period_start timestamp, period_end timestamp)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    s record;
  BEGIN
    SELECT array_agg(t.entry_bar ORDER BY t.entry_bar, t.id) AS o, array_agg(t.completed_at ORDER BY t.entry_bar, t.id) AS c,
           array_agg(t.pnl ORDER BY t.entry_bar, t.id) AS pnl, count(*) AS n,
           min(t.entry_bar) AS first, max(t.completed_at) AS last, avg(t.fee) AS fee, avg(t.slip) AS slip,
           mode() WITHIN GROUP (ORDER BY t.horizon) AS horizon
      INTO s FROM cryptoml_internal.performance_inputs(ml_performance.symbol, ml_performance.since) t;
    IF s.n = 0 OR s.last <= s.first THEN
      strategy := 'simulations'; trades := s.n; period_start := s.first; period_end := s.last;
      RETURN NEXT;
      RETURN;
    END IF;
    RETURN QUERY SELECT 'simulations'::text, p.*, s.first, s.last
      FROM cryptoml_internal.performance_of(s.o, s.c, s.pnl, s.first, s.last) p;
    IF ml_performance.symbol IS NULL THEN
      RETURN;   -- the baselines need one symbol's bars
    END IF;
    RETURN QUERY SELECT b.*, s.first, s.last
      FROM cryptoml_internal.baselines(ml_performance.symbol, s.first, s.last, s.n::integer, s.horizon, s.fee, s.slip) b;
  END
  $$;
COMMENT ON FUNCTION ml_performance(text, timestamp) IS 'Completed simulated trades (one symbol or all, entered since): trades, win rate, mean and median P&L, profit factor, Sharpe and Sortino (per-trade returns, annualized by trades per year, risk-free 0), maximum drawdown, exposure, total return; for one symbol also buy-and-hold and random entry (same count, seed 42) over the same bars.';

CREATE FUNCTION cryptoml_internal.wilson(successes integer, n integer, OUT lo float8, OUT hi float8)
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT CASE WHEN n > 0 THEN (p + z * z / (2 * n) - z * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n))) / (1 + z * z / n) END,
         CASE WHEN n > 0 THEN (p + z * z / (2 * n) + z * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n))) / (1 + z * z / n) END
    FROM (SELECT CASE WHEN n > 0 THEN successes::float8 / n END AS p, 1.959963984540054::float8 AS z) c
  $$;

-- Forecast quality from persistentForecasts with outcomes: error, direction with a 95 % interval,
-- beside the zero-change baseline; and the reliability table of stated confidence.
CREATE FUNCTION ml_forecast_quality(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS TABLE (symbol text, horizon integer, model text, forecasts bigint, rmse float8, mae float8, baseline_rmse float8,
                 directional_accuracy float8, accuracy_low95 float8, accuracy_high95 float8, interval_coverage float8,
                 interval_mean_width float8)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  WITH f AS (
    SELECT p.symbol::text AS symbol, p.forecast_horizon AS horizon,
           CASE WHEN p.model_version LIKE 'stat:%' THEN p.model_version::text ELSE 'model' END AS model,
           p.predicted_value::float8 AS pred, p.actual_value::float8 AS actual,
           coalesce(p.raw_value, p.predicted_value)::float8 AS lean, p.lower::float8 AS lo, p.upper::float8 AS hi
      FROM @extschema@.persistentforecasts p
     WHERE p.forecast_type = 'price_direction' AND p.actual_value IS NOT NULL
       AND ($1 IS NULL OR p.symbol = $1) AND ($2 IS NULL OR p.forecast_horizon = $2) AND ($3 IS NULL OR p.bar_timestamp >= $3)),
  g AS (
    SELECT f.symbol, f.horizon, f.model, count(*) AS n, sqrt(avg((f.pred - f.actual) ^ 2)) AS rmse, avg(abs(f.pred - f.actual)) AS mae,
           sqrt(avg(f.actual ^ 2)) AS base, count(*) FILTER (WHERE f.actual <> 0) AS d,
           count(*) FILTER (WHERE f.actual <> 0 AND sign(f.lean) = sign(f.actual)) AS hits,
           avg((f.actual BETWEEN f.lo AND f.hi)::int) FILTER (WHERE f.lo IS NOT NULL) AS coverage,
           avg(f.hi - f.lo) FILTER (WHERE f.lo IS NOT NULL) AS width
      FROM f GROUP BY 1, 2, 3)
  SELECT g.symbol, g.horizon, g.model, g.n, g.rmse, g.mae, g.base,
         CASE WHEN g.d > 0 THEN g.hits::float8 / g.d END,
         w.lo, w.hi, g.coverage::float8, g.width
    FROM g, LATERAL cryptoml_internal.wilson(g.hits::integer, g.d::integer) w
   ORDER BY 1, 2, 3
  $$;
COMMENT ON FUNCTION ml_forecast_quality(text, integer, timestamp) IS 'price_direction forecasts with an outcome, per symbol, horizon and model: RMSE of the served prediction, MAE and the zero-change baseline RMSE; directional accuracy of the raw output''s sign (outcomes of 0 left out) with its 95 % Wilson interval; the share of outcomes inside the stated intervals and their mean width (forecasts with an interval).';


-- The reliability table of stated confidences (%) and hits: per confidence bucket (0-50, 50-60, ...,
-- 90-100) the count, the mean stated confidence, the observed hit rate and its 95 % Wilson interval.
CREATE FUNCTION cryptoml_internal.reliability_table(conf float8[], hit boolean[])
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8)
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  WITH b AS (
    SELECT CASE WHEN f.conf < 50 THEN 0 WHEN f.conf >= 90 THEN 90 ELSE floor(f.conf / 10) * 10 END AS lo, f.conf, f.hit
      FROM unnest($1, $2) f(conf, hit) WHERE f.conf IS NOT NULL AND f.hit IS NOT NULL),
  g AS (
    SELECT b.lo, count(*) AS n, avg(b.conf) AS conf, count(*) FILTER (WHERE b.hit) AS hits FROM b GROUP BY b.lo)
  SELECT CASE g.lo WHEN 0 THEN '0-50' WHEN 90 THEN '90-100' ELSE g.lo || '-' || (g.lo + 10) END,
         g.n, g.conf, g.hits::float8 / g.n, w.lo, w.hi
    FROM g, LATERAL cryptoml_internal.wilson(g.hits::integer, g.n::integer) w
   ORDER BY g.lo
  $$;

-- The reliability table with its summary on every row.
CREATE FUNCTION cryptoml_internal.reliability_report(conf float8[], hit boolean[])
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8,
                 ece float8, brier float8, brier_skill float8, largest_gap float8)
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT t.*, s.ece, s.brier, s.brier_skill, s.largest_gap
    FROM cryptoml_internal.reliability_table($1, $2) t, cryptoml_internal.reliability_summary($1, $2, 1) s
  $$;

CREATE FUNCTION ml_calibration(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8,
                 ece float8, brier float8, brier_skill float8, largest_gap float8)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT r.* FROM (
    SELECT array_agg(p.conf) AS conf, array_agg(p.hit) AS hit FROM cryptoml_internal.calibration_inputs($1, $2, $3) p) f,
    LATERAL cryptoml_internal.reliability_report(f.conf, f.hit) r
  $$;
COMMENT ON FUNCTION ml_calibration(text, integer, timestamp) IS 'Reliability table of price_direction forecasts with a non-zero outcome: per confidence bucket (0-50, 50-60, ..., 90-100) the mean stated confidence against the observed rate of the raw output''s sign being right, with its 95 % Wilson interval; on every row the expected calibration error and the largest bucket gap (points), the Brier score and its skill against always stating 50 %.';

REVOKE ALL ON FUNCTION ml_simulate(text, integer, float8, float8, float8, float8), ml_performance(text, timestamp),
  ml_forecast_quality(text, integer, timestamp), ml_calibration(text, integer, timestamp),
  cryptoml_internal.trade_levels(text, float8, float8, integer, float8, float8),
  cryptoml_internal.trade_evaluate(text, float8, float8, float8, timestamp, integer, float8, float8, timestamp[], float8[], float8[], float8[]),
  cryptoml_internal.performance_of(timestamp[], timestamp[], float8[], timestamp, timestamp),
  cryptoml_internal.random_entry_trades(timestamp[], float8[], integer, integer, bigint, float8, float8),
  cryptoml_internal.follow_trade(integer), cryptoml_internal.wilson(integer, integer),
  cryptoml_internal.statement_bar_changes() FROM PUBLIC;

-- ===========================================================================================
-- Walk-forward backtests (issue 7; see docs/trading.md)
-- ===========================================================================================
CREATE TABLE mlBacktestRuns (
  run_id           VARCHAR(40) PRIMARY KEY,
  symbol           VARCHAR(20) NOT NULL,
  forecast_horizon INTEGER NOT NULL,
  model_type       VARCHAR(30) NOT NULL,
  from_ts          TIMESTAMP NOT NULL,
  to_ts            TIMESTAMP NOT NULL,
  options          JSONB NOT NULL,
  predictions      INTEGER,
  trades           INTEGER,
  created_at       TIMESTAMP DEFAULT NOW()
);
COMMENT ON TABLE mlBacktestRuns IS 'Walk-forward backtest runs of ml_backtest; the run id is a digest of the arguments.';
CREATE TABLE mlBacktestPredictions (
  run_id           VARCHAR(40) NOT NULL REFERENCES mlBacktestRuns (run_id) ON DELETE CASCADE,
  bar_timestamp    TIMESTAMP NOT NULL,
  predicted_change FLOAT8 NOT NULL,
  actual_change    FLOAT8 NOT NULL,
  segment          INTEGER NOT NULL,
  PRIMARY KEY (run_id, bar_timestamp)
);
ALTER TABLE mlBacktestPredictions ADD COLUMN confidence FLOAT8;
ALTER TABLE mlBacktestPredictions ADD COLUMN raw_change FLOAT8, ADD COLUMN lower FLOAT8, ADD COLUMN upper FLOAT8;
COMMENT ON TABLE mlBacktestPredictions IS 'Out-of-sample predictions of a backtest: each by the model of its segment, trained only on samples whose target was known at the segment start.';
CREATE TABLE mlBacktestTrades (
  run_id           VARCHAR(40) NOT NULL REFERENCES mlBacktestRuns (run_id) ON DELETE CASCADE,
  trade_no         INTEGER NOT NULL,
  signal_type      VARCHAR(10) NOT NULL CHECK (signal_type IN ('LONG', 'SHORT')),
  opened_at        TIMESTAMP NOT NULL,
  closed_at        TIMESTAMP NOT NULL,
  entry_price      FLOAT8 NOT NULL,
  tp_price         FLOAT8 NOT NULL,
  sl_price         FLOAT8 NOT NULL,
  exit_price       FLOAT8 NOT NULL,
  pnl_pct          FLOAT8 NOT NULL,
  predicted_change FLOAT8 NOT NULL,
  exit_reason      VARCHAR(10) NOT NULL CHECK (exit_reason IN ('tp', 'sl', 'expiry')),
  PRIMARY KEY (run_id, trade_no)
);
COMMENT ON TABLE mlBacktestTrades IS 'Trades of a backtest, with the rules and costs of live simulations (net P&L in %).';
COMMENT ON COLUMN mlBacktestRuns.run_id IS 'bt- and a digest of the arguments: the same arguments give the same run.';
COMMENT ON COLUMN mlBacktestRuns.symbol IS 'Trading pair.';
COMMENT ON COLUMN mlBacktestRuns.forecast_horizon IS 'Horizon of the predictions and of the trades, minutes.';
COMMENT ON COLUMN mlBacktestRuns.model_type IS 'Model type retrained at every segment: xgboost, lstm or ensemble.';
COMMENT ON COLUMN mlBacktestRuns.from_ts IS 'Start of the period (first segment).';
COMMENT ON COLUMN mlBacktestRuns.to_ts IS 'End of the period (exclusive).';
COMMENT ON COLUMN mlBacktestRuns.options IS 'The options given to ml_backtest.';
COMMENT ON COLUMN mlBacktestRuns.predictions IS 'Out-of-sample predictions made.';
COMMENT ON COLUMN mlBacktestRuns.trades IS 'Trades completed.';
COMMENT ON COLUMN mlBacktestRuns.created_at IS 'When the run was made.';
COMMENT ON COLUMN mlBacktestPredictions.run_id IS 'The run.';
COMMENT ON COLUMN mlBacktestPredictions.bar_timestamp IS 'The bar the prediction is made at.';
COMMENT ON COLUMN mlBacktestPredictions.predicted_change IS 'Served prediction of the % change of close over the horizon, as a live forecast at that bar would have served it (the raw output shrunk; 0 without shown skill; before 0.6.0 the raw output).';
COMMENT ON COLUMN mlBacktestPredictions.raw_change IS 'The segment model''s raw output, % change (added in 0.6.0; NULL for older runs).';
COMMENT ON COLUMN mlBacktestPredictions.lower IS 'Lower bound of the conformal interval a live forecast would have stated (added in 0.6.0).';
COMMENT ON COLUMN mlBacktestPredictions.upper IS 'Upper bound of the conformal interval a live forecast would have stated (added in 0.6.0).';
COMMENT ON COLUMN mlBacktestPredictions.actual_change IS 'The sample''s target: the % change that happened.';
COMMENT ON COLUMN mlBacktestPredictions.segment IS 'Index of the segment (and of its model) from 0.';
COMMENT ON COLUMN mlBacktestPredictions.confidence IS 'Stated confidence in % that the change has the sign of raw_change, as a live forecast at that bar would have stated it (only outcomes known by then; NULL for runs made before 0.4.0).';
COMMENT ON COLUMN mlBacktestTrades.run_id IS 'The run.';
COMMENT ON COLUMN mlBacktestTrades.trade_no IS 'Trade number in time order, from 1.';
COMMENT ON COLUMN mlBacktestTrades.signal_type IS 'LONG or SHORT.';
COMMENT ON COLUMN mlBacktestTrades.opened_at IS 'Entry bar.';
COMMENT ON COLUMN mlBacktestTrades.closed_at IS 'Exit bar.';
COMMENT ON COLUMN mlBacktestTrades.entry_price IS 'Close of the entry bar.';
COMMENT ON COLUMN mlBacktestTrades.tp_price IS 'Take-profit level.';
COMMENT ON COLUMN mlBacktestTrades.sl_price IS 'Stop-loss level.';
COMMENT ON COLUMN mlBacktestTrades.exit_price IS 'TP or SL level, or the close of the expiry bar.';
COMMENT ON COLUMN mlBacktestTrades.pnl_pct IS 'Net P&L in %, after one round trip of fee and slippage.';
COMMENT ON COLUMN mlBacktestTrades.predicted_change IS 'The prediction that opened the trade.';
COMMENT ON COLUMN mlBacktestTrades.exit_reason IS 'tp, sl or expiry.';

CREATE FUNCTION cryptoml_internal.backtest_run(run_id text, symbol text, horizon integer, from_ts timestamp, to_ts timestamp,
    model_type text, params jsonb) RETURNS integer
  AS 'MODULE_PATHNAME', 'cml_backtest_run' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

-- The baselines on one symbol's bars of a period: buy and hold (one long trade, first to last
-- bar) and random entry (n_trades trades, random side, exit one horizon later, seed 42), with the
-- given costs. No row when the period has fewer than 2 bars.
CREATE FUNCTION cryptoml_internal.baselines(symbol text, period_start timestamp, period_end timestamp, n_trades integer,
    horizon integer, fee_pct float8, slippage_pct float8)
  RETURNS TABLE (strategy text, trades integer, win_rate float8, avg_pnl float8, median_pnl float8, profit_factor float8,
                 sharpe float8, sortino float8, max_drawdown_pct float8, exposure float8, total_return_pct float8,
                 trades_per_year float8)
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    b record;
    rnd_o timestamp[];
    rnd_c timestamp[];
    rnd_p float8[];
  BEGIN
    SELECT array_agg(r.timestamp ORDER BY r.timestamp) AS ts, array_agg(r.close::float8 ORDER BY r.timestamp) AS cl
      INTO b FROM @extschema@.rollingchartdata r
     WHERE r.symbol = baselines.symbol AND r.timestamp BETWEEN period_start AND period_end;
    IF coalesce(array_length(b.ts, 1), 0) < 2 THEN
      RETURN;
    END IF;
    RETURN QUERY SELECT 'buy_and_hold'::text, p.*
      FROM cryptoml_internal.performance_of(ARRAY[b.ts[1]], ARRAY[b.ts[array_length(b.ts, 1)]],
             ARRAY[100 * (b.cl[array_length(b.cl, 1)] / b.cl[1] - 1) - 2 * (fee_pct + slippage_pct)], period_start, period_end) p;
    IF n_trades > 0 AND b.ts[array_length(b.ts, 1)] >= b.ts[1] + make_interval(mins => horizon) THEN
      SELECT r.opened_at, r.closed_at, r.pnl_pct INTO rnd_o, rnd_c, rnd_p
        FROM cryptoml_internal.random_entry_trades(b.ts, b.cl, n_trades, horizon, 42, fee_pct, slippage_pct) r;
    END IF;
    IF coalesce(array_length(rnd_p, 1), 0) = 0 THEN
      RETURN QUERY SELECT 'random_entry'::text, 0, NULL::float8, NULL::float8, NULL::float8, NULL::float8, NULL::float8,
                          NULL::float8, NULL::float8, NULL::float8, NULL::float8, NULL::float8;
    ELSE
      RETURN QUERY SELECT 'random_entry'::text, p.* FROM cryptoml_internal.performance_of(rnd_o, rnd_c, rnd_p, period_start, period_end) p;
    END IF;
  END
  $$;

CREATE FUNCTION cryptoml_internal.check_backtest_options(model_type text, options jsonb) RETURNS void
  AS 'MODULE_PATHNAME', 'cml_check_backtest_options' LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION cryptoml_internal.check_backtest_options(text, jsonb) FROM PUBLIC;

CREATE FUNCTION ml_backtest(symbol text, horizon integer, model_type text DEFAULT 'xgboost', "from" timestamp DEFAULT NULL,
                            "to" timestamp DEFAULT NULL, options jsonb DEFAULT '{}')
  RETURNS TABLE (run_id text, strategy text, trades integer, win_rate float8, avg_pnl float8, median_pnl float8,
                 profit_factor float8, sharpe float8, sortino float8, max_drawdown_pct float8, exposure float8,
                 total_return_pct float8, trades_per_year float8, predictions bigint, rmse float8, baseline_rmse float8,
                 directional_accuracy float8)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    o jsonb := coalesce(options, '{}');
    bad text;
    p jsonb;
    fee float8;
    slip float8;
    smin timestamp;
    smax timestamp;
    f timestamp;
    t timestamp;
    id text;
    n integer;
    q record;
  BEGIN
    IF symbol IS NULL OR horizon IS NULL OR model_type IS NULL THEN
      RAISE EXCEPTION 'symbol, horizon and model_type must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF model_type NOT IN ('xgboost', 'lstm', 'ensemble') THEN
      RAISE EXCEPTION 'invalid model_type "%"', left(model_type, 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: model_type is xgboost, lstm or ensemble';
    END IF;
    IF jsonb_typeof(o) <> 'object' THEN
      RAISE EXCEPTION 'options must be a JSON object, not %', left(o::text, 60) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_object_keys(o) k
     WHERE k NOT IN ('retrainEvery', 'windowSize', 'validationSplit', 'maxDepth', 'learningRate', 'numRounds', 'tpSigma',
                     'slSigma', 'feePct', 'slippagePct', 'minEdgePct', 'confidenceThreshold', 'earlyStoppingPatience',
                     'sequenceLength', 'hiddenSize', 'numLayers', 'lstmLearningRate', 'maxEpochs', 'batchSize', 'calibrationFolds',
                     'intervalCoverage', 'intervalAdaptRate', 'skillSignificance', 'calibrationWindow', 'combiner',
                     'featureSet', 'excludeGroups', 'warmStart', 'warmMaxEpochs', 'warmPatience', 'warmWindow');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'unknown backtest option(s): %', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: options are retrainEvery, windowSize, validationSplit, maxDepth, learningRate, numRounds, tpSigma, slSigma, feePct, slippagePct, minEdgePct, confidenceThreshold, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, lstmLearningRate, maxEpochs, batchSize, calibrationFolds, intervalCoverage, intervalAdaptRate, skillSignificance, calibrationWindow, combiner, featureSet, excludeGroups, warmStart, warmMaxEpochs, warmPatience, warmWindow';
    END IF;
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_each(o) e(k, v) WHERE jsonb_typeof(v) <> 'number' AND k NOT IN ('combiner', 'excludeGroups', 'warmStart');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'backtest option(s) % must be JSON numbers', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: every option but combiner (a string), excludeGroups (an array of group names) and warmStart (a boolean) is a number (integers for retrainEvery, windowSize, maxDepth, numRounds, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, maxEpochs, batchSize, calibrationFolds, calibrationWindow, featureSet, warmMaxEpochs, warmPatience, warmWindow)';
    END IF;
    -- types and ranges of the caller's options, before anything is resolved or cast (src/core/options.hpp)
    PERFORM cryptoml_internal.check_backtest_options(model_type, o);
    IF length(symbol) > 20 THEN
      RAISE EXCEPTION 'symbol "%..." is % characters long', left(symbol, 20), length(symbol) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: a symbol has at most 20 characters (rollingChartData.symbol is VARCHAR(20))';
    END IF;
    -- Every parameter, resolved: options first, then the configuration (training.*, inference.*), then fixed defaults.
    p := jsonb_build_object(
      'retrainEvery', 1440, 'windowSize', @extschema@.ml_config_get('training.windowSize'),
      'validationSplit', @extschema@.ml_config_get('training.validationSplit'), 'maxDepth', 6, 'learningRate', 0.1,
      'numRounds', 300, 'tpSigma', 2, 'slSigma', 1, 'feePct', 0.1, 'slippagePct', 0.05, 'minEdgePct', 0,
      'confidenceThreshold', @extschema@.ml_config_get('inference.confidenceThreshold'),
      'earlyStoppingPatience', @extschema@.ml_config_get('training.earlyStoppingPatience'), 'sequenceLength', 30,
      'hiddenSize', 32, 'numLayers', 1, 'lstmLearningRate', 0.001, 'maxEpochs', @extschema@.ml_config_get('training.maxEpochs'),
      'batchSize', @extschema@.ml_config_get('training.batchSize'),
      'calibrationFolds', @extschema@.ml_config_get('training.calibrationFolds'),
      'intervalCoverage', @extschema@.ml_config_get('inference.intervalCoverage'),
      'intervalAdaptRate', @extschema@.ml_config_get('inference.intervalAdaptRate'),
      'skillSignificance', @extschema@.ml_config_get('inference.skillSignificance'),
      'calibrationWindow', @extschema@.ml_config_get('inference.calibrationWindow'),
      'featureSet', @extschema@.ml_config_get('features.featureSet'), 'excludeGroups', '[]'::jsonb) || o;
    -- (integers and their ranges: the caller's options were checked above, the configuration's by its rules)
    -- the ablation's group names against the resolved feature set
    PERFORM cryptoml_internal.check_backtest_options(model_type,
              jsonb_build_object('featureSet', p -> 'featureSet', 'excludeGroups', p -> 'excludeGroups'));
    fee := (p ->> 'feePct')::float8;
    slip := (p ->> 'slippagePct')::float8;
    IF horizon <= 0 OR (p ->> 'retrainEvery')::integer <= 0 THEN
      RAISE EXCEPTION 'invalid backtest: horizon %, retrainEvery %', horizon, p ->> 'retrainEvery'
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: horizon > 0 and retrainEvery > 0 minutes';
    END IF;
    SELECT min(s.bar_timestamp), max(s.bar_timestamp) INTO smin, smax FROM @extschema@.mltrainingsamples s
     WHERE s.symbol = ml_backtest.symbol AND s.forecast_horizon = ml_backtest.horizon AND s.target IS NOT NULL
       AND s.feature_set = (p ->> 'featureSet')::integer;
    IF smin IS NULL THEN
      RAISE EXCEPTION 'no training samples for % at horizon %', left(symbol, 40), horizon
        USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = format('rule: a backtest reads the samples of feature set %s (option featureSet, else features.featureSet)', p ->> 'featureSet'),
        HINT = CASE WHEN (p ->> 'featureSet') = '1' THEN format('SELECT ml_build_samples(%L, %s);', symbol, horizon)
                    ELSE format('SELECT ml_config_set(''features.featureSet'', %L); SELECT ml_build_samples(%L, %s);',
                                p ->> 'featureSet', symbol, horizon) END;
    END IF;
    IF NOT isfinite(coalesce(ml_backtest."from", smin)) OR NOT isfinite(coalesce(ml_backtest."to", smax)) THEN
      RAISE EXCEPTION 'invalid backtest period: from % to %', ml_backtest."from", ml_backtest."to" USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: from and to are finite timestamps (or NULL for the samples'' own range)';
    END IF;
    -- the period is clipped to the samples' range: a far past or future bound walks no empty segments
    f := greatest(coalesce(ml_backtest."from", smin + make_interval(mins => (p ->> 'windowSize')::integer + horizon)), smin);
    t := least(coalesce(ml_backtest."to", smax + interval '1 minute'), smax + interval '1 minute');
    IF f >= t THEN
      RAISE EXCEPTION 'invalid backtest period: from % is not before to %', f, t USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: from < to (the default from leaves windowSize + horizon minutes of samples to train the first model)';
    END IF;
    id := 'bt-' || left(md5(concat_ws('|', symbol, horizon, model_type, f, t, p::text)), 24);
    DELETE FROM @extschema@.mlbacktestruns r WHERE r.run_id = id;   -- the same arguments: the same run, made again
    INSERT INTO @extschema@.mlbacktestruns (run_id, symbol, forecast_horizon, model_type, from_ts, to_ts, options)
      VALUES (id, symbol, horizon, model_type, f, t, o);
    n := cryptoml_internal.backtest_run(id, symbol, horizon, f, t, model_type, p);
    IF n = 0 THEN
      RAISE EXCEPTION 'backtest of % from % to %: no segment had enough samples to train a model', left(symbol, 40), f, t
        USING ERRCODE = 'data_exception', DETAIL = 'rule: a model needs, among the samples whose target is known at its segment start, at least 30 training rows after the validation split and its embargo of horizon rows, and 10 validation rows',
              HINT = 'Start later, or build samples over a longer history.';
    END IF;
    UPDATE @extschema@.mlbacktestruns r SET predictions = n,
           trades = (SELECT count(*) FROM @extschema@.mlbacktesttrades x WHERE x.run_id = id) WHERE r.run_id = id;
    SELECT count(*) AS n, sqrt(avg((p.predicted_change - p.actual_change) ^ 2)) AS rmse, sqrt(avg(p.actual_change ^ 2)) AS base,
           avg((sign(coalesce(p.raw_change, p.predicted_change)) = sign(p.actual_change))::int) FILTER (WHERE p.actual_change <> 0) AS dir
      INTO q FROM @extschema@.mlbacktestpredictions p WHERE p.run_id = id;
    RETURN QUERY
      SELECT id, 'backtest'::text, p.*, q.n, q.rmse, q.base, q.dir::float8
        FROM (SELECT array_agg(x.opened_at ORDER BY x.trade_no) AS o, array_agg(x.closed_at ORDER BY x.trade_no) AS c,
                     array_agg(x.pnl_pct ORDER BY x.trade_no) AS pnl
                FROM @extschema@.mlbacktesttrades x WHERE x.run_id = id) a,
             LATERAL cryptoml_internal.performance_of(coalesce(a.o, '{}'), coalesce(a.c, '{}'), coalesce(a.pnl, '{}'), f, t) p;
    RETURN QUERY
      SELECT id, b.*, NULL::bigint, NULL::float8, NULL::float8, NULL::float8
        FROM cryptoml_internal.baselines(symbol, f, t, (SELECT count(*)::integer FROM @extschema@.mlbacktesttrades x WHERE x.run_id = id),
                                         horizon, fee, slip) b;
  END
  $$;
COMMENT ON FUNCTION ml_backtest(text, integer, text, timestamp, timestamp, jsonb) IS 'Walk-forward backtest: retrains every retrainEvery minutes on the samples whose target was known then, forecasts each bar of the period out of sample, trades with the live simulation''s rules and costs; stores predictions and trades under a run id; returns the backtest''s performance and prediction quality beside buy-and-hold and random entry.';

CREATE FUNCTION ml_backtest_calibration(run_id text)
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8,
                 ece float8, brier float8, brier_skill float8, largest_gap float8)
  LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.mlbacktestruns r WHERE r.run_id = ml_backtest_calibration.run_id) THEN
      RAISE EXCEPTION 'no backtest run "%"', left(run_id, 60) USING ERRCODE = 'no_data_found',
        HINT = 'SELECT run_id FROM mlBacktestRuns lists the runs.';
    END IF;
    RETURN QUERY SELECT r.* FROM (
      SELECT array_agg(p.confidence) AS conf, array_agg(sign(coalesce(p.raw_change, p.predicted_change)) = sign(p.actual_change)) AS hit
        FROM @extschema@.mlbacktestpredictions p
       WHERE p.run_id = ml_backtest_calibration.run_id AND p.actual_change <> 0 AND p.confidence IS NOT NULL) f,
      LATERAL cryptoml_internal.reliability_report(f.conf, f.hit) r;
  END
  $$;
COMMENT ON FUNCTION ml_backtest_calibration(text) IS 'Reliability table of a backtest''s out-of-sample predictions with a non-zero outcome: per confidence bucket (0-50, 50-60, ..., 90-100) the mean stated confidence against the observed rate of the raw output''s sign being right, with its 95 % Wilson interval; on every row the expected calibration error and the largest bucket gap (points), the Brier score and its skill against always stating 50 %.';
REVOKE ALL ON FUNCTION ml_backtest(text, integer, text, timestamp, timestamp, jsonb), ml_backtest_calibration(text),
  cryptoml_internal.reliability_table(float8[], boolean[]), cryptoml_internal.reliability_report(float8[], boolean[]),
  cryptoml_internal.reliability_summary(float8[], boolean[], integer),
  cryptoml_internal.backtest_run(text, text, integer, timestamp, timestamp, text, jsonb),
  cryptoml_internal.baselines(text, timestamp, timestamp, integer, integer, float8, float8) FROM PUBLIC;
REVOKE ALL ON mlBacktestRuns, mlBacktestPredictions, mlBacktestTrades FROM PUBLIC;

-- ===========================================================================================
-- Exchange ingestion (issue 8; see docs/ingest.md): ml_ingest_klines and the ingest worker's
-- bookkeeping. Bars are upserted through the indicator trigger; the exchange is recorded in
-- rollingChartData.source.
-- ===========================================================================================

CREATE TABLE cryptoml_internal.ingest_state (
  symbol               VARCHAR(20) NOT NULL,
  exchange             VARCHAR(20) NOT NULL,
  is_active            BOOLEAN NOT NULL DEFAULT false,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  requests             BIGINT NOT NULL DEFAULT 0,
  failures             BIGINT NOT NULL DEFAULT 0,
  bars_stored          BIGINT NOT NULL DEFAULT 0,
  last_attempt         TIMESTAMPTZ,
  last_success         TIMESTAMPTZ,
  last_bar             TIMESTAMP,
  last_lag_seconds     FLOAT8,
  last_error           TEXT,
  holes_checked_at     TIMESTAMPTZ,
  PRIMARY KEY (symbol, exchange)
);
COMMENT ON TABLE cryptoml_internal.ingest_state IS 'Per symbol and exchange: which exchange the ingest worker polls now (is_active), failures, requests, bars stored, the lag of the newest stored bar. Read it through ml_ingest_status().';

-- Upserts closed candles (open times in ms, prices as decimal text) of one symbol; a bar whose
-- prices are unchanged is left alone, so a repeated payload stores nothing. Returns the bars
-- inserted or changed. Records the exchange's success in ingest_state.
CREATE FUNCTION cryptoml_internal.store_klines(exchange text, symbol text, open_ms bigint[], o text[], h text[], l text[],
                                               c text[], v text[]) RETURNS integer
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n integer;
    newest bigint := (SELECT max(t) FROM unnest(open_ms) t);
  BEGIN
    WITH up AS (
      INSERT INTO @extschema@.rollingchartdata AS r (symbol, timestamp, open, high, low, close, volume, source)
      SELECT store_klines.symbol, to_timestamp(u.t / 1000.0) AT TIME ZONE 'UTC', u.o::numeric, u.h::numeric, u.l::numeric,
             u.c::numeric, u.v::numeric, store_klines.exchange
        FROM unnest(open_ms, o, h, l, c, v) u(t, o, h, l, c, v) ORDER BY u.t
      ON CONFLICT ON CONSTRAINT rollingchartdata_symbol_timestamp_key DO UPDATE
        SET open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
            volume = excluded.volume, source = excluded.source
        WHERE (r.open, r.high, r.low, r.close, r.volume) IS DISTINCT FROM
              (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume)
      RETURNING 1)
    SELECT count(*)::integer INTO n FROM up;
    INSERT INTO cryptoml_internal.ingest_state AS s (symbol, exchange, bars_stored, last_success, last_bar, last_lag_seconds)
      VALUES (store_klines.symbol, store_klines.exchange, n, now(),
              CASE WHEN newest IS NOT NULL THEN to_timestamp(newest / 1000.0) AT TIME ZONE 'UTC' END,
              CASE WHEN newest IS NOT NULL THEN extract(epoch FROM clock_timestamp() - to_timestamp((newest + 60000) / 1000.0)) END)
      ON CONFLICT ON CONSTRAINT ingest_state_pkey DO UPDATE
        SET bars_stored = s.bars_stored + excluded.bars_stored, last_success = excluded.last_success,
            last_bar = greatest(s.last_bar, excluded.last_bar),
            last_lag_seconds = CASE WHEN excluded.last_bar >= s.last_bar OR s.last_bar IS NULL THEN excluded.last_lag_seconds
                                    ELSE s.last_lag_seconds END;
    RETURN n;
  END
  $$;

CREATE FUNCTION ml_ingest_klines(exchange text, symbol text, payload jsonb) RETURNS integer
  AS 'MODULE_PATHNAME', 'cml_ingest_klines' LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_ingest_klines(text, text, jsonb) IS 'Stores the closed 1-minute candles of one exchange response body, exactly as the exchange returned it (binance-us GET /api/v3/klines, coinbase GET /products/{id}/candles, bybit GET /v5/market/kline), after strict validation: the whole payload or nothing. Upserts are idempotent; returns the bars inserted or changed.';

-- The ingest worker's bookkeeping of one request: counts it, records a failure (consecutive
-- failures, the error) or a success (resets them). Returns the consecutive failures after it.
CREATE FUNCTION cryptoml_internal.ingest_attempt(symbol text, exchange text, failed boolean, error text) RETURNS integer
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  INSERT INTO cryptoml_internal.ingest_state AS s (symbol, exchange, requests, failures, consecutive_failures, last_attempt, last_error)
    VALUES ($1, $2, 1, $3::int, $3::int, now(), CASE WHEN $3 THEN $4 END)
    ON CONFLICT ON CONSTRAINT ingest_state_pkey DO UPDATE
      SET requests = s.requests + 1, failures = s.failures + $3::int,
          consecutive_failures = CASE WHEN $3 THEN s.consecutive_failures + 1 ELSE 0 END,
          last_attempt = now(), last_error = CASE WHEN $3 THEN $4 ELSE s.last_error END
  RETURNING consecutive_failures
  $$;

-- Makes `exchange` the one the worker polls for `symbol` (the primary at first, the next one of
-- `exchanges` after failoverAfter consecutive failures); the new one starts with no failures.
CREATE FUNCTION cryptoml_internal.ingest_use(symbol text, exchange text) RETURNS void
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  UPDATE cryptoml_internal.ingest_state s SET is_active = false WHERE s.symbol = $1 AND s.exchange <> $2 AND s.is_active;
  INSERT INTO cryptoml_internal.ingest_state AS s (symbol, exchange, is_active) VALUES ($1, $2, true)
    ON CONFLICT ON CONSTRAINT ingest_state_pkey DO UPDATE SET is_active = true, consecutive_failures = 0;
  $$;

-- Minutes missing between stored bars of a symbol at or after `since`: [gap_start, gap_end] inclusive.
CREATE FUNCTION cryptoml_internal.chart_holes(symbol text, since timestamp)
  RETURNS TABLE (gap_start timestamp, gap_end timestamp)
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT w.ts + interval '1 minute', w.next_ts - interval '1 minute'
    FROM (SELECT r.timestamp AS ts, lead(r.timestamp) OVER (ORDER BY r.timestamp) AS next_ts
            FROM @extschema@.rollingchartdata r WHERE r.symbol = $1 AND r.timestamp >= $2) w
   WHERE w.next_ts > w.ts + interval '1 minute'
   ORDER BY 1
  $$;

CREATE FUNCTION ml_ingest_status()
  RETURNS TABLE (symbol text, exchange text, is_active boolean, consecutive_failures integer, requests bigint, failures bigint,
                 bars_stored bigint, last_attempt timestamptz, last_success timestamptz, last_bar timestamp,
                 lag_seconds float8, last_error text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT s.symbol, s.exchange, s.is_active, s.consecutive_failures, s.requests, s.failures, s.bars_stored, s.last_attempt,
         s.last_success, s.last_bar, s.last_lag_seconds, s.last_error
    FROM cryptoml_internal.ingest_state s ORDER BY s.symbol, s.is_active DESC, s.exchange
  $$;
COMMENT ON FUNCTION ml_ingest_status() IS 'Ingestion per symbol and exchange: the exchange polled now (is_active), requests, failures (consecutive and in all), bars stored, the last attempt, success and bar, the lag of the newest stored bar (seconds from its close to its storage) and the last error (no response body).';

REVOKE ALL ON FUNCTION ml_ingest_klines(text, text, jsonb), ml_ingest_status(),
  cryptoml_internal.store_klines(text, text, bigint[], text[], text[], text[], text[], text[]),
  cryptoml_internal.ingest_attempt(text, text, boolean, text), cryptoml_internal.ingest_use(text, text),
  cryptoml_internal.chart_holes(text, timestamp) FROM PUBLIC;
REVOKE ALL ON cryptoml_internal.ingest_state FROM PUBLIC;

-- ===========================================================================================
-- pg_dump: extension member tables are skipped unless registered. Every table holding user data
-- is dumped with its sequence. indicator_checkpoint is not: restoring rollingChartData through
-- its trigger rebuilds it.
-- ===========================================================================================
-- ===========================================================================================
-- Status views for dashboards and exporters (issue 16; ops/grafana, ops/prometheus, ops/README.md)
-- ===========================================================================================
-- The Grafana panels and the prometheus-postgres-exporter queries read only these views, so a
-- schema change that breaks one of them breaks test/tap/ops_queries.sh instead of a dashboard.
-- They are built on the readers every other report uses (ml_health(), ml_workers(),
-- ml_forecasts_live) and repeat their definitions where no reader states a figure per model.
-- Bar times are rollingChartData's UTC timestamps (timestamp without time zone), which Grafana
-- takes as UTC. Readers select them (ml_grant_access(role, 'reader')); the views read the
-- tables as their owner, and call only functions a reader may execute.

-- One row per configured symbol (the symbols setting), figures of ml_health() (last 60 minutes).
CREATE VIEW ml_status_symbols AS
WITH h AS MATERIALIZED (SELECT * FROM ml_health() WHERE scope <> 'system')
SELECT h.scope AS symbol,
       l.timestamp AS latest_bar,
       l.close AS latest_close,
       max(h.value) FILTER (WHERE h.metric = 'staleness') AS staleness_seconds,
       max(h.value) FILTER (WHERE h.metric = 'staleness') / 60 AS staleness_minutes,
       max(h.threshold) FILTER (WHERE h.metric = 'staleness') AS staleness_threshold_seconds,
       max(h.value) FILTER (WHERE h.metric = 'completeness') AS completeness,
       max(h.threshold) FILTER (WHERE h.metric = 'completeness') AS completeness_threshold,
       max(h.value) FILTER (WHERE h.metric = 'missing_data') AS missing_ratio,
       max(h.value) FILTER (WHERE h.metric = 'invalid_values') AS invalid_ratio,
       coalesce(max(h.value) FILTER (WHERE h.metric = 'open_alerts'), 0)::integer AS open_alerts,
       NOT coalesce(bool_or(NOT h.ok), false) AS healthy
  FROM h
  LEFT JOIN LATERAL (
    SELECT r.timestamp, r.close FROM rollingChartData r
     WHERE r.symbol = h.scope AND r.timestamp <= date_trunc('minute', now() AT TIME ZONE 'UTC')
     ORDER BY r.timestamp DESC LIMIT 1) l ON true
 GROUP BY h.scope, l.timestamp, l.close;
COMMENT ON VIEW ml_status_symbols IS 'One row per configured symbol: the data-quality figures of ml_health() over the last 60 minutes, its latest bar and close, and its open alerts (issue 16: read by ops/grafana and ops/prometheus).';
COMMENT ON COLUMN ml_status_symbols.symbol IS 'Trading pair (from the symbols setting).';
COMMENT ON COLUMN ml_status_symbols.latest_bar IS 'Timestamp (UTC) of the latest bar not after the current minute; NULL without bars.';
COMMENT ON COLUMN ml_status_symbols.latest_close IS 'Close of that bar.';
COMMENT ON COLUMN ml_status_symbols.staleness_seconds IS 'Seconds since the latest bar closed (ml_health staleness); NULL without bars.';
COMMENT ON COLUMN ml_status_symbols.staleness_minutes IS 'staleness_seconds / 60.';
COMMENT ON COLUMN ml_status_symbols.staleness_threshold_seconds IS 'monitoring.alertThresholds.staleData: the stale_data alert fires above it.';
COMMENT ON COLUMN ml_status_symbols.completeness IS 'Share of the last 60 closed minutes with a complete bar (0-1).';
COMMENT ON COLUMN ml_status_symbols.completeness_threshold IS 'monitoring.completenessThreshold: the completeness alert fires below it.';
COMMENT ON COLUMN ml_status_symbols.missing_ratio IS 'Share of the last 60 closed minutes without a bar (0-1).';
COMMENT ON COLUMN ml_status_symbols.invalid_ratio IS 'Share of the last 60 minutes'' bars with an invalid value (0-1).';
COMMENT ON COLUMN ml_status_symbols.open_alerts IS 'Open monitor alerts of the symbol (see ml_status_alerts).';
COMMENT ON COLUMN ml_status_symbols.healthy IS 'No ml_health() row of the symbol is false (data, alerts, model honesty, ingestion).';

-- One row per production model (mlTrainingBatches.is_production): its live record, from the
-- price_direction forecasts it made whose outcome ml_fill_actuals has filled, with the
-- definitions of ml_forecast_quality (hit: the outcome has the sign of the raw output, outcomes
-- of 0 left out; coverage over the forecasts with an interval), and for the model ml_forecast
-- serves at its horizon the windowed figures ml_health() and the monitor's alerts judge.
CREATE VIEW ml_status_models AS
WITH h AS MATERIALIZED (SELECT * FROM ml_health() WHERE metric ~ '^(live_ece|interval_coverage)_h[0-9]+$'),
served AS (
  SELECT DISTINCT ON (b.symbol, b.forecast_horizon) b.batch_id
    FROM mlTrainingBatches b
   WHERE b.is_production
   ORDER BY b.symbol, b.forecast_horizon, CASE b.model_type WHEN 'ensemble' THEN 0 WHEN 'xgboost' THEN 1 ELSE 2 END)
SELECT b.symbol::text AS symbol, b.forecast_horizon AS horizon, b.model_type::text AS model_type, b.batch_id::text AS batch_id,
       s.batch_id IS NOT NULL AS served,
       b.created_at AS trained_at,
       round((extract(epoch FROM now()::timestamp - b.created_at) / 3600)::numeric, 2)::float8 AS age_hours,
       o.outcomes, o.decided, o.hits,
       CASE WHEN o.decided > 0 THEN o.hits::float8 / o.decided END AS directional_accuracy,
       w.lo AS accuracy_low95, w.hi AS accuracy_high95,   -- the 95 % Wilson interval of ml_forecast_quality
       o.with_interval, o.interval_coverage,
       (ml_config_get('inference.intervalCoverage'))::float8 AS coverage_target,
       o.last_outcome_bar,
       he.value AS window_ece, he.ok AS window_ece_ok,
       hc.value AS window_interval_coverage, hc.ok AS window_interval_coverage_ok
  FROM mlTrainingBatches b
  LEFT JOIN served s ON s.batch_id = b.batch_id
  CROSS JOIN LATERAL (
    SELECT count(*) AS outcomes, count(*) FILTER (WHERE p.actual_value <> 0) AS decided,
           count(*) FILTER (WHERE p.actual_value <> 0 AND sign(coalesce(p.raw_value, p.predicted_value)) = sign(p.actual_value)) AS hits,
           count(*) FILTER (WHERE p.lower IS NOT NULL) AS with_interval,
           avg((p.actual_value BETWEEN p.lower AND p.upper)::int) FILTER (WHERE p.lower IS NOT NULL)::float8 AS interval_coverage,
           max(p.bar_timestamp) AS last_outcome_bar
      FROM persistentForecasts p
     WHERE p.model_version = b.batch_id AND p.forecast_horizon = b.forecast_horizon AND p.actual_value IS NOT NULL
       AND p.forecast_type = 'price_direction') o
  CROSS JOIN LATERAL cryptoml_internal.wilson(o.hits::integer, o.decided::integer) w
  LEFT JOIN h he ON s.batch_id IS NOT NULL AND he.scope = b.symbol AND he.metric = 'live_ece_h' || b.forecast_horizon
  LEFT JOIN h hc ON s.batch_id IS NOT NULL AND hc.scope = b.symbol AND hc.metric = 'interval_coverage_h' || b.forecast_horizon
 WHERE b.is_production;
COMMENT ON VIEW ml_status_models IS 'One row per production model: age, live directional accuracy with its 95 % Wilson interval and interval coverage over all its price_direction forecasts with an outcome (the definitions of ml_forecast_quality), and, for the model ml_forecast serves at its horizon, the windowed ECE and coverage ml_health() and the monitor judge (issue 16).';
COMMENT ON COLUMN ml_status_models.symbol IS 'Trading pair.';
COMMENT ON COLUMN ml_status_models.horizon IS 'Minutes ahead.';
COMMENT ON COLUMN ml_status_models.model_type IS 'xgboost, lstm or ensemble.';
COMMENT ON COLUMN ml_status_models.batch_id IS 'The model (mlTrainingBatches.batch_id; persistentForecasts.model_version of its forecasts).';
COMMENT ON COLUMN ml_status_models.served IS 'ml_forecast serves this model at its horizon (the production ensemble, else xgboost, else lstm).';
COMMENT ON COLUMN ml_status_models.trained_at IS 'mlTrainingBatches.created_at.';
COMMENT ON COLUMN ml_status_models.age_hours IS 'Hours since it was trained.';
COMMENT ON COLUMN ml_status_models.outcomes IS 'Its price_direction forecasts with an outcome.';
COMMENT ON COLUMN ml_status_models.decided IS 'Those with a non-zero outcome (the ones a direction is scored on).';
COMMENT ON COLUMN ml_status_models.hits IS 'Those whose outcome has the sign of the raw output.';
COMMENT ON COLUMN ml_status_models.directional_accuracy IS 'hits / decided (0-1); NULL without a decided outcome.';
COMMENT ON COLUMN ml_status_models.accuracy_low95 IS 'Lower bound of the 95 % Wilson interval of directional_accuracy.';
COMMENT ON COLUMN ml_status_models.accuracy_high95 IS 'Upper bound of the 95 % Wilson interval of directional_accuracy.';
COMMENT ON COLUMN ml_status_models.with_interval IS 'Outcomes of forecasts that stated an interval.';
COMMENT ON COLUMN ml_status_models.interval_coverage IS 'Share of those outcomes inside [lower, upper] (0-1); NULL without one.';
COMMENT ON COLUMN ml_status_models.coverage_target IS 'inference.intervalCoverage: the coverage the intervals state.';
COMMENT ON COLUMN ml_status_models.last_outcome_bar IS 'Bar (UTC) of its latest forecast with an outcome.';
COMMENT ON COLUMN ml_status_models.window_ece IS 'Served model: ml_health live_ece_h<N>, the expected calibration error (points) over its last inference.calibrationWindow outcomes; NULL otherwise.';
COMMENT ON COLUMN ml_status_models.window_ece_ok IS 'Served model: whether window_ece is within monitoring.alertThresholds.calibrationError (NULL below 100 outcomes).';
COMMENT ON COLUMN ml_status_models.window_interval_coverage IS 'Served model: ml_health interval_coverage_h<N> over the same window; NULL otherwise.';
COMMENT ON COLUMN ml_status_models.window_interval_coverage_ok IS 'Served model: whether window_interval_coverage is within monitoring.alertThresholds.intervalCoverageGap of coverage_target (NULL below 100 outcomes with an interval).';

-- Every price_direction forecast with the prices it implies: the served, lower and upper change
-- applied to the close of the bar it was made from, beside what happened.
CREATE VIEW ml_status_forecast_history AS
SELECT f.symbol::text AS symbol, f.forecast_horizon AS horizon, f.bar_timestamp,
       f.bar_timestamp + make_interval(mins => f.forecast_horizon) AS target_time,
       f.model_version::text AS model_version, f.created_at, f.active,
       f.confidence::float8 AS confidence, f.stored_confidence::float8 AS stored_confidence,
       f.predicted_value::float8 AS predicted_change, f.raw_value::float8 AS raw_change,
       f.lower::float8 AS lower_change, f.upper::float8 AS upper_change,
       r.close::float8 AS base_close,
       r.close::float8 * (1 + f.predicted_value::float8 / 100) AS predicted_close,
       r.close::float8 * (1 + f.lower::float8 / 100) AS lower_close,
       r.close::float8 * (1 + f.upper::float8 / 100) AS upper_close,
       f.actual_value::float8 AS actual_change,
       r.close::float8 * (1 + f.actual_value::float8 / 100) AS actual_close,
       CASE WHEN f.actual_value <> 0 THEN sign(coalesce(f.raw_value, f.predicted_value)) = sign(f.actual_value) END AS hit,
       CASE WHEN f.lower IS NOT NULL AND f.actual_value IS NOT NULL THEN f.actual_value BETWEEN f.lower AND f.upper END AS inside_interval
  FROM ml_forecasts_live f
  LEFT JOIN rollingChartData r ON r.symbol = f.symbol AND r.timestamp = f.bar_timestamp
 WHERE f.forecast_type = 'price_direction';
COMMENT ON VIEW ml_status_forecast_history IS 'Every price_direction forecast (ml_forecasts_live) with the prices it implies from the close of its bar: served, lower and upper, and the actual one once known (issue 16). Filter on symbol and bar_timestamp: they are indexed.';
COMMENT ON COLUMN ml_status_forecast_history.symbol IS 'Trading pair.';
COMMENT ON COLUMN ml_status_forecast_history.horizon IS 'Minutes ahead.';
COMMENT ON COLUMN ml_status_forecast_history.bar_timestamp IS 'Bar (UTC) the forecast was made from.';
COMMENT ON COLUMN ml_status_forecast_history.target_time IS 'bar_timestamp + horizon: the bar (UTC) whose close it forecasts.';
COMMENT ON COLUMN ml_status_forecast_history.model_version IS 'batch_id of the model, or the fallback rule (stat:zero-change).';
COMMENT ON COLUMN ml_status_forecast_history.created_at IS 'When the forecast was made.';
COMMENT ON COLUMN ml_status_forecast_history.active IS 'Not yet expired.';
COMMENT ON COLUMN ml_status_forecast_history.confidence IS 'Stated confidence (%) decayed by age (ml_forecasts_live.confidence).';
COMMENT ON COLUMN ml_status_forecast_history.stored_confidence IS 'Stated confidence (%) when made.';
COMMENT ON COLUMN ml_status_forecast_history.predicted_change IS 'Served change, %.';
COMMENT ON COLUMN ml_status_forecast_history.raw_change IS 'The model''s raw output, % (NULL before 0.6.0).';
COMMENT ON COLUMN ml_status_forecast_history.lower_change IS 'Lower bound of its conformal interval, % (NULL when none was stated).';
COMMENT ON COLUMN ml_status_forecast_history.upper_change IS 'Upper bound of its conformal interval, %.';
COMMENT ON COLUMN ml_status_forecast_history.base_close IS 'Close of the bar it was made from (NULL once that bar left rollingChartData).';
COMMENT ON COLUMN ml_status_forecast_history.predicted_close IS 'base_close moved by predicted_change.';
COMMENT ON COLUMN ml_status_forecast_history.lower_close IS 'base_close moved by lower_change.';
COMMENT ON COLUMN ml_status_forecast_history.upper_close IS 'base_close moved by upper_change.';
COMMENT ON COLUMN ml_status_forecast_history.actual_change IS 'The outcome, % (NULL until ml_fill_actuals fills it).';
COMMENT ON COLUMN ml_status_forecast_history.actual_close IS 'base_close moved by actual_change.';
COMMENT ON COLUMN ml_status_forecast_history.hit IS 'The outcome has the sign of the raw output; NULL without an outcome or for an outcome of 0.';
COMMENT ON COLUMN ml_status_forecast_history.inside_interval IS 'The outcome fell inside [lower_change, upper_change]; NULL without both.';

-- The latest price_direction forecast of each configured symbol and forecasting.horizons horizon.
CREATE VIEW ml_status_forecasts AS
SELECT x.*
  FROM cryptoml_internal.served_symbols() AS s(symbol),
       jsonb_array_elements_text(ml_config_get('forecasting.horizons')) AS h(horizon),
       LATERAL (SELECT f.* FROM ml_status_forecast_history f
                 WHERE f.symbol = s.symbol AND f.horizon = h.horizon::integer
                 ORDER BY f.bar_timestamp DESC, f.created_at DESC LIMIT 1) x;
COMMENT ON VIEW ml_status_forecasts IS 'The latest price_direction forecast of each configured symbol and horizon (forecasting.horizons), with the columns of ml_status_forecast_history (issue 16).';
COMMENT ON COLUMN ml_status_forecasts.symbol IS 'Trading pair.';
COMMENT ON COLUMN ml_status_forecasts.horizon IS 'Minutes ahead.';
COMMENT ON COLUMN ml_status_forecasts.bar_timestamp IS 'Bar (UTC) the forecast was made from.';
COMMENT ON COLUMN ml_status_forecasts.target_time IS 'bar_timestamp + horizon.';
COMMENT ON COLUMN ml_status_forecasts.model_version IS 'batch_id of the model, or the fallback rule.';
COMMENT ON COLUMN ml_status_forecasts.created_at IS 'When the forecast was made.';
COMMENT ON COLUMN ml_status_forecasts.active IS 'Not yet expired.';
COMMENT ON COLUMN ml_status_forecasts.confidence IS 'Stated confidence (%) decayed by age.';
COMMENT ON COLUMN ml_status_forecasts.stored_confidence IS 'Stated confidence (%) when made.';
COMMENT ON COLUMN ml_status_forecasts.predicted_change IS 'Served change, %.';
COMMENT ON COLUMN ml_status_forecasts.raw_change IS 'Raw model output, %.';
COMMENT ON COLUMN ml_status_forecasts.lower_change IS 'Lower bound of the interval, %.';
COMMENT ON COLUMN ml_status_forecasts.upper_change IS 'Upper bound of the interval, %.';
COMMENT ON COLUMN ml_status_forecasts.base_close IS 'Close of the bar it was made from.';
COMMENT ON COLUMN ml_status_forecasts.predicted_close IS 'base_close moved by predicted_change.';
COMMENT ON COLUMN ml_status_forecasts.lower_close IS 'base_close moved by lower_change.';
COMMENT ON COLUMN ml_status_forecasts.upper_close IS 'base_close moved by upper_change.';
COMMENT ON COLUMN ml_status_forecasts.actual_change IS 'The outcome, % (NULL until known).';
COMMENT ON COLUMN ml_status_forecasts.actual_close IS 'base_close moved by actual_change.';
COMMENT ON COLUMN ml_status_forecasts.hit IS 'The outcome has the sign of the raw output.';
COMMENT ON COLUMN ml_status_forecasts.inside_interval IS 'The outcome fell inside the interval.';

-- The bars a price panel draws (rollingChartData without the indicators).
CREATE VIEW ml_status_bars AS
SELECT r.symbol::text AS symbol, r.timestamp AS "time", r.open::float8 AS open, r.high::float8 AS high,
       r.low::float8 AS low, r.close::float8 AS close, r.volume::float8 AS volume, r.is_complete
  FROM rollingChartData r;
COMMENT ON VIEW ml_status_bars IS 'The minute bars of rollingChartData (prices, volume, is_complete), for price panels; filter on symbol and time: they are indexed (issue 16).';
COMMENT ON COLUMN ml_status_bars.symbol IS 'Trading pair.';
COMMENT ON COLUMN ml_status_bars."time" IS 'Bar open time (UTC).';
COMMENT ON COLUMN ml_status_bars.open IS 'Open price.';
COMMENT ON COLUMN ml_status_bars.high IS 'High price.';
COMMENT ON COLUMN ml_status_bars.low IS 'Low price.';
COMMENT ON COLUMN ml_status_bars.close IS 'Close price.';
COMMENT ON COLUMN ml_status_bars.volume IS 'Volume.';
COMMENT ON COLUMN ml_status_bars.is_complete IS 'Every indicator of the bar is warmed up.';

-- Open monitor alerts.
CREATE VIEW ml_status_alerts AS
SELECT m.symbol::text AS symbol, m.alert, m.level, m.value, m.threshold, m.started_at, m.last_seen_at,
       extract(epoch FROM now() - m.started_at)::float8 AS open_seconds
  FROM cryptoml_internal.monitor_alerts m;
COMMENT ON VIEW ml_status_alerts IS 'The open monitor alerts (raised by ml_monitor_check or the monitor worker, not yet recovered; see docs/monitoring.md) (issue 16).';
COMMENT ON COLUMN ml_status_alerts.symbol IS 'Trading pair.';
COMMENT ON COLUMN ml_status_alerts.alert IS 'stale_data, completeness, missing_data, invalid_values, interval_coverage_h<N> or calibration_error_h<N>.';
COMMENT ON COLUMN ml_status_alerts.level IS 'warning or error.';
COMMENT ON COLUMN ml_status_alerts.value IS 'The figure at the latest check.';
COMMENT ON COLUMN ml_status_alerts.threshold IS 'The threshold it crossed.';
COMMENT ON COLUMN ml_status_alerts.started_at IS 'When it was raised.';
COMMENT ON COLUMN ml_status_alerts.last_seen_at IS 'The latest check that found it.';
COMMENT ON COLUMN ml_status_alerts.open_seconds IS 'Seconds since it was raised.';

-- The background workers.
CREATE VIEW ml_status_workers AS
SELECT w.worker, w.database, w.state, w.pid, w.pid IS NOT NULL AS up,
       w.started_at, w.last_run, w.next_run, w.cycles, w.errors, w.last_error,
       extract(epoch FROM now() - w.last_run)::float8 AS seconds_since_last_run
  FROM ml_workers() w;
COMMENT ON VIEW ml_status_workers IS 'The cryptoml background workers of the server (ml_workers()), with up (a process runs) and the seconds since each last ran (issue 16).';
COMMENT ON COLUMN ml_status_workers.worker IS 'launcher, forecaster, monitor or ingest.';
COMMENT ON COLUMN ml_status_workers.database IS 'The database it serves (NULL for the launcher).';
COMMENT ON COLUMN ml_status_workers.state IS 'What it is doing or waiting for; "not loaded" without shared_preload_libraries.';
COMMENT ON COLUMN ml_status_workers.pid IS 'Its process id; NULL when it does not run.';
COMMENT ON COLUMN ml_status_workers.up IS 'A process runs (pid is not NULL); false for a worker that is disabled.';
COMMENT ON COLUMN ml_status_workers.started_at IS 'When its process started.';
COMMENT ON COLUMN ml_status_workers.last_run IS 'Its latest cycle.';
COMMENT ON COLUMN ml_status_workers.next_run IS 'Its next cycle.';
COMMENT ON COLUMN ml_status_workers.cycles IS 'Cycles run since the server started.';
COMMENT ON COLUMN ml_status_workers.errors IS 'Cycles that failed since the server started.';
COMMENT ON COLUMN ml_status_workers.last_error IS 'The latest failure''s message.';
COMMENT ON COLUMN ml_status_workers.seconds_since_last_run IS 'Seconds since last_run; NULL before the first cycle.';

-- The system figures of ml_health().
CREATE VIEW ml_status_system AS
SELECT h.metric, h.value, h.unit, h.threshold, h.ok, h.detail
  FROM ml_health() h
 WHERE h.scope = 'system';
COMMENT ON VIEW ml_status_system IS 'The system rows of ml_health(): prediction latency, predictions per second, data completeness, error rate, recovery time, open alerts (issue 16).';
COMMENT ON COLUMN ml_status_system.metric IS 'prediction_latency_p50, prediction_latency_p95, predictions_per_second, data_completeness, error_rate, recovery_time or open_alerts.';
COMMENT ON COLUMN ml_status_system.value IS 'Its value (NULL when not measured).';
COMMENT ON COLUMN ml_status_system.unit IS 'Its unit.';
COMMENT ON COLUMN ml_status_system.threshold IS 'Its threshold (NULL without one).';
COMMENT ON COLUMN ml_status_system.ok IS 'Within the threshold (NULL without one).';
COMMENT ON COLUMN ml_status_system.detail IS 'How it was computed.';

REVOKE ALL ON ml_status_symbols, ml_status_models, ml_status_forecast_history, ml_status_forecasts, ml_status_bars,
              ml_status_alerts, ml_status_workers, ml_status_system FROM PUBLIC;

-- ===========================================================================================
-- The dashboard (issue 16; see docs/monitoring.md)
-- ===========================================================================================
-- One self-contained HTML page of the live tables. SECURITY DEFINER like ml_health(): it reads
-- cryptoml_internal (open alerts, chart quality, reliability helpers) for roles that may not.
CREATE FUNCTION ml_dashboard(symbol text DEFAULT NULL) RETURNS text
  AS 'MODULE_PATHNAME', 'ml_dashboard' LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_dashboard(text) IS 'A self-contained HTML page (inline CSS and SVG, no script, no outside resource) of one symbol or all (NULL): per symbol the last 240 bars of close with the latest forecasts and their intervals, staleness and completeness (as ml_health), open alerts and anomalies (gaps, invalid or incomplete bars); per production model its age, live directional accuracy with its 95 % Wilson interval, reliability diagram, ECE and interval coverage over the outcomes ml_health judges; the workers (ml_workers) with their last errors; the latest backtest''s equity against buy and hold. Every figure is also in a data-field/data-value attribute. Errors: an unknown symbol (22023).';
REVOKE ALL ON FUNCTION ml_dashboard(text) FROM PUBLIC;

-- ===========================================================================================
-- Model bundles (issue 16): export a registered model, import it into another database
-- (src/core/bundle.hpp, src/pg/bundle.cpp). Place after ml_deploy / ml_rollback.
-- ===========================================================================================
CREATE FUNCTION ml_export_model(batch_id text) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'ml_export_model' LANGUAGE C VOLATILE STRICT
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_export_model(text) IS 'A versioned bundle of a registered model (format cryptoml-model-bundle, bundle_version 1): its mlTrainingBatches row (metrics, training window in hyperparameters), model bytes (base64) with their SHA-256, feature set, calibration and out-of-time record; an ensemble with its members'' bundles nested. Audited (model_export).';

CREATE FUNCTION ml_import_model(bundle jsonb, deploy boolean DEFAULT false) RETURNS mlTrainingBatches
  AS 'MODULE_PATHNAME', 'ml_import_model' LANGUAGE C VOLATILE
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_import_model(jsonb, boolean) IS 'Registers a bundle from ml_export_model after checking all of it (format, bundle_version, feature set version, model type, field types and ranges, base64, SHA-256, that the bytes load as a model); refuses a batch_id that exists already; not production unless deploy (then ml_deploy). Nothing changes when it fails. Audited (model_import).';

-- The stored model's predictions for rows of features (rows x features array, as consecutive
-- minutes): for tests comparing the extension's predictions with another implementation's.
CREATE FUNCTION cryptoml_internal.model_predict(batch_id text, features float8[]) RETURNS float8[]
  AS 'MODULE_PATHNAME', 'cml_model_predict' LANGUAGE C STABLE STRICT
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION cryptoml_internal.model_predict(text, float8[]) IS 'Raw predictions (% change) of a registered model for a rows x features array of feature vectors (NULL = missing), one per row; NULL for a row without the model''s sequence length of earlier rows.';

REVOKE ALL ON FUNCTION ml_export_model(text), ml_import_model(jsonb, boolean),
  cryptoml_internal.model_predict(text, float8[]) FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('rollingchartdata', '');
SELECT pg_catalog.pg_extension_config_dump('rollingchartdata_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mltrainingsamples', '');
SELECT pg_catalog.pg_extension_config_dump('mltrainingsamples_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mltrainingbatches', '');
SELECT pg_catalog.pg_extension_config_dump('mltrainingbatches_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('persistentforecasts', '');
SELECT pg_catalog.pg_extension_config_dump('persistentforecasts_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tradesimulations', '');
SELECT pg_catalog.pg_extension_config_dump('tradesimulations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('systemlogs', '');
SELECT pg_catalog.pg_extension_config_dump('systemlogs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('recoverystate', '');
SELECT pg_catalog.pg_extension_config_dump('recoverystate_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.models', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.ensemble_members', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.deployments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.chart_archive', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.monitor_alerts', '');
SELECT pg_catalog.pg_extension_config_dump('mlbacktestruns', '');
SELECT pg_catalog.pg_extension_config_dump('mlbacktestpredictions', '');
SELECT pg_catalog.pg_extension_config_dump('mlbacktesttrades', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.ingest_state', '');

-- ===========================================================================================
-- Privileges: nothing but read-only helpers is executable by PUBLIC.
-- ===========================================================================================
REVOKE ALL ON FUNCTION ml_config_set(text, jsonb), ml_config_reset(text), ml_config_reset_all(),
  ml_log(text, text, text, text, jsonb, text), ml_log_flush(integer), ml_log_queue(),
  ml_checkpoint(text, text, text, jsonb), ml_recovery_last(text, text), ml_recovery_status(),
  ml_grant_access(regrole, text), ml_revoke_access(regrole),
  cryptoml_internal.config_key_table(), cryptoml_internal.log_queue_state(),
  cryptoml_internal.raise_cpp(text), cryptoml_internal.cpp_live_objects(),
  cryptoml_internal.numeric_to_double_mismatches(numeric[]), cryptoml_internal.latest_features(text),
  cryptoml_internal.features_to_vector(jsonb),
  cryptoml_internal.chart_row_trigger(), cryptoml_internal.chart_statement_trigger() FROM PUBLIC;
REVOKE ALL ON PROCEDURE ml_recompute_indicators(text, timestamp, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ml_build_samples(text, integer, timestamp) FROM PUBLIC;
REVOKE ALL ON FUNCTION ml_train(text, integer, text, jsonb), ml_deploy(text), ml_rollback(text, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ml_forecast(text, integer) FROM PUBLIC;
REVOKE ALL ON ml_indicator_status FROM PUBLIC;

-- ==== feature set 2 binding (0.8.0) ====
-- The features ml_forecast would use for the symbol's latest bar in a feature set (set 2 with the
-- configuration's leaders and index members), as jsonb shaped like mlTrainingSamples.features:
-- training and serving build the same vector. ERROR 55000 while a cross-market input is pending.
CREATE FUNCTION cryptoml_internal.latest_features(symbol text, feature_set integer) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'cml_latest_features' LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp;
-- a samples' features object as a vector in the order of the feature set (mlTrainingSamples.feature_vector)
CREATE FUNCTION cryptoml_internal.features_to_vector(features jsonb, feature_set integer) RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'cml_features_to_vector' LANGUAGE C STABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION cryptoml_internal.latest_features(text, integer), cryptoml_internal.features_to_vector(jsonb, integer) FROM PUBLIC;

-- ==== section: features_v2 (0.8.0): helpers insert their SQL above this line ====

-- ==== volatility (0.8.0) ====
-- The statistics of ml_forecast_all and the trained volatility model (src/core/volatility.hpp,
-- docs/forecasting.md#the-volatility-model).

-- The market statistics ml_forecast_all states at a bar (its latest with bar NULL), one row per
-- horizon in the order given: sigma of the last hour's returns between stored bars (%), the
-- volatility percentile of the last 24 hourly sigmas, the efficiency ratio over n =
-- min(max(h, 10), 240) moves and the regime (volatile, trending, ranging).
CREATE FUNCTION cryptoml_internal.market_stats(symbol text, horizons integer[], bar timestamp DEFAULT NULL)
  RETURNS TABLE (horizon integer, bar_timestamp timestamp, sigma float8, vol_pct float8, n integer, er float8, regime text)
  AS 'MODULE_PATHNAME', 'cml_market_stats' LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp;

-- Trained volatility models: one HAR regression of log realized volatility per row; at most one
-- production model per (symbol, horizon), which ml_forecast_all uses.
CREATE TABLE cryptoml_internal.volatility_models (
  id            bigserial PRIMARY KEY,
  symbol        varchar(20) NOT NULL,
  horizon       integer NOT NULL CHECK (horizon BETWEEN 1 AND 10080),
  model         jsonb NOT NULL,
  options       jsonb NOT NULL DEFAULT '{}',
  trained_at    timestamptz NOT NULL DEFAULT now(),
  train_from    timestamp NOT NULL,
  train_to      timestamp NOT NULL,
  valid_from    timestamp NOT NULL,
  valid_to      timestamp NOT NULL,
  train_rows    bigint NOT NULL,
  valid_rows    bigint NOT NULL,
  metrics       jsonb NOT NULL,
  is_production boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX volatility_models_one_production_idx ON cryptoml_internal.volatility_models (symbol, horizon) WHERE is_production;
CREATE INDEX volatility_models_symbol_idx ON cryptoml_internal.volatility_models (symbol, horizon, id);
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.volatility_models', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.volatility_models_id_seq', '');
COMMENT ON TABLE cryptoml_internal.volatility_models IS 'Trained volatility models (HAR regression of log realized volatility, JSON in model), with their training range and validation metrics (QLIKE and RMSE of log volatility against the trailing realized volatility and the formula); is_production marks the one ml_forecast_all uses.';

-- The C parts: fit (reads only), predict (NULL when a feature is missing) and walk-forward.
CREATE FUNCTION cryptoml_internal.volatility_fit(symbol text, horizon integer, options jsonb,
    OUT model jsonb, OUT rows bigint, OUT train_rows bigint, OUT valid_rows bigint,
    OUT train_from timestamp, OUT train_to timestamp, OUT valid_from timestamp, OUT valid_to timestamp,
    OUT n bigint, OUT qlike float8, OUT qlike_baseline float8, OUT qlike_formula float8,
    OUT rmse_log float8, OUT rmse_log_baseline float8, OUT rmse_log_formula float8)
  AS 'MODULE_PATHNAME', 'cml_volatility_fit' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION cryptoml_internal.volatility_predict(symbol text, horizon integer, bar timestamp, model jsonb)
  RETURNS float8 AS 'MODULE_PATHNAME', 'cml_volatility_predict' LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION cryptoml_internal.market_stats(text, integer[], timestamp),
  cryptoml_internal.volatility_fit(text, integer, jsonb),
  cryptoml_internal.volatility_predict(text, integer, timestamp, jsonb) FROM PUBLIC;

-- Trains the volatility model of each symbol (NULL: the configured symbols that have bars) and
-- horizon (NULL: forecasting.horizons) and promotes it when its validation QLIKE beats both the
-- trailing realized volatility and the formula (sigma60 * sqrt(h)).
CREATE FUNCTION ml_train_volatility(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, options jsonb DEFAULT '{}')
  RETURNS TABLE (model_id bigint, model_symbol text, forecast_horizon integer, is_production boolean, n bigint,
                 qlike float8, qlike_baseline float8, qlike_formula float8, ratio float8,
                 rmse_log float8, rmse_log_baseline float8, rmse_log_formula float8,
                 train_from timestamp, train_to timestamp, valid_from timestamp, valid_to timestamp)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    syms text[];
    hs integer[];
    s text;
    h integer;
    f record;
    new_id bigint;
    promote boolean;
    msg text; det text; hnt text; st text;
  BEGIN
    IF horizon IS NOT NULL AND (horizon < 1 OR horizon > 10080) THEN
      RAISE EXCEPTION 'invalid horizon = %: must be between 1 and 10080 minutes', horizon
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: horizon in [1, 10080]';
    END IF;
    IF options IS NULL THEN options := '{}'; END IF;
    IF ml_train_volatility.symbol IS NOT NULL THEN
      syms := ARRAY[ml_train_volatility.symbol];
    ELSE
      syms := ARRAY(SELECT c.symbol FROM cryptoml_internal.served_symbols() AS c(symbol)
                     WHERE EXISTS (SELECT 1 FROM @extschema@.rollingchartdata r WHERE r.symbol = c.symbol) ORDER BY 1);
    END IF;
    IF ml_train_volatility.horizon IS NOT NULL THEN
      hs := ARRAY[ml_train_volatility.horizon];
    ELSE
      hs := ARRAY(SELECT x::integer FROM jsonb_array_elements_text(@extschema@.ml_config_get('forecasting.horizons'))
                    WITH ORDINALITY AS j(x, k) ORDER BY k);
    END IF;
    FOREACH s IN ARRAY syms LOOP
      FOREACH h IN ARRAY hs LOOP
        BEGIN
          f := cryptoml_internal.volatility_fit(s, h, options);
        EXCEPTION WHEN OTHERS THEN
          GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT, st = RETURNED_SQLSTATE;
          -- a sweep (symbol or horizon NULL, as the nightly job calls it) logs a pair it cannot fit
          -- (too little history) and goes on; bad options, and a pair the caller named, are errors
          IF (ml_train_volatility.symbol IS NULL OR ml_train_volatility.horizon IS NULL) AND st <> '22023' THEN
            PERFORM @extschema@.ml_log('warning', 'ml_training', 'volatility', format('ml_train_volatility(%s, %s): %s', s, h, msg),
                                       jsonb_build_object('sqlstate', st, 'detail', det), s);
            CONTINUE;
          END IF;
          RAISE EXCEPTION 'ml_train_volatility(%, %): %', s, h, msg USING ERRCODE = st, DETAIL = det, HINT = hnt;
        END;
        promote := f.n > 0 AND f.qlike < f.qlike_baseline AND f.qlike < f.qlike_formula;
        -- one promotion at a time per (symbol, horizon)
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('cryptoml volatility ' || s || ' ' || h));
        IF promote THEN
          UPDATE cryptoml_internal.volatility_models m SET is_production = false
           WHERE m.symbol = s AND m.horizon = h AND m.is_production;
        END IF;
        INSERT INTO cryptoml_internal.volatility_models (symbol, horizon, model, options, train_from, train_to, valid_from,
                                                         valid_to, train_rows, valid_rows, metrics, is_production)
          VALUES (s, h, f.model, options, f.train_from, f.train_to, f.valid_from, f.valid_to, f.train_rows, f.valid_rows,
                  jsonb_build_object('n', f.n, 'qlike', f.qlike, 'qlike_baseline', f.qlike_baseline,
                                     'qlike_formula', f.qlike_formula, 'rmse_log', f.rmse_log,
                                     'rmse_log_baseline', f.rmse_log_baseline, 'rmse_log_formula', f.rmse_log_formula),
                  promote)
          RETURNING volatility_models.id INTO new_id;
        model_id := new_id; model_symbol := s; forecast_horizon := h; is_production := promote; n := f.n;
        qlike := f.qlike; qlike_baseline := f.qlike_baseline; qlike_formula := f.qlike_formula;
        ratio := f.qlike / nullif(f.qlike_baseline, 0);
        rmse_log := f.rmse_log; rmse_log_baseline := f.rmse_log_baseline; rmse_log_formula := f.rmse_log_formula;
        train_from := f.train_from; train_to := f.train_to; valid_from := f.valid_from; valid_to := f.valid_to;
        RETURN NEXT;
      END LOOP;
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION ml_train_volatility(text, integer, jsonb) IS 'Trains the HAR volatility model (log realized volatility over the horizon on the log realized volatility of the last 15, 60, 240 and 1440 minutes and the hour-of-week profile) per symbol (NULL: every configured symbol with bars) and horizon (NULL: forecasting.horizons) on the last trainDays days, split by the one split rule; returns the validation QLIKE and RMSE of log volatility against the trailing realized volatility and the formula, and promotes the model when it beats both. A sweep (symbol or horizon NULL) logs and skips the pairs without enough history. Options: ridge, validationSplit, trainDays.';

CREATE FUNCTION ml_volatility_evaluate(symbol text, horizon integer, options jsonb DEFAULT '{}',
    OUT qlike float8, OUT qlike_baseline float8, OUT ratio float8, OUT rmse_log float8, OUT rmse_log_baseline float8,
    OUT n bigint, OUT qlike_formula float8, OUT rmse_log_formula float8, OUT refits integer)
  AS 'MODULE_PATHNAME', 'cml_volatility_evaluate' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_volatility_evaluate(text, integer, jsonb) IS 'Walk-forward evaluation of the HAR volatility model over all the symbol''s bars: refits every refitEvery minutes (expanding window, or rolling with trainDays), each prediction only from bars before it; QLIKE and RMSE of log volatility of the model, the trailing realized volatility of the last h minutes (baseline, ratio = qlike / qlike_baseline) and the formula sigma60 * sqrt(h). Options: ridge, trainDays, refitEvery, warmupDays.';
REVOKE ALL ON FUNCTION ml_train_volatility(text, integer, jsonb), ml_volatility_evaluate(text, integer, jsonb) FROM PUBLIC;

-- ==== section: volatility (0.8.0): helpers insert their SQL above this line ====

-- ==== Anomalies (0.8.0) ====
-- Per-bar anomaly detector (issue 17; docs/monitoring.md, "Anomalies"). The scores are computed by
-- src/core/anomaly.* through cryptoml_internal.anomaly_scores; ml_detect_anomalies reads the
-- bars, the market index and the checkpoint and stores the flagged bars; ml_monitor_check runs it
-- and raises the 'anomaly' alert; ml_train leaves flagged bars' samples out with
-- training.excludeAnomalies (src/pg/train.cpp, cryptoml_internal.anomaly_excluded_samples).
CREATE TABLE cryptoml_internal.bar_anomalies (
  symbol        varchar(20) NOT NULL,
  bar_timestamp timestamp NOT NULL,
  score         float8 NOT NULL,
  kinds         text[] NOT NULL,
  z             jsonb NOT NULL,
  detected_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (symbol, bar_timestamp),
  CONSTRAINT bar_anomalies_kinds_check CHECK (cardinality(kinds) > 0 AND kinds <@ ARRAY['return', 'range', 'volume', 'residual'])
);
COMMENT ON TABLE cryptoml_internal.bar_anomalies IS 'Bars flagged by the anomaly detector (ml_detect_anomalies): max robust |z| of return, range, volume and market residual at or above monitoring.anomalyThreshold. Rows of bars at or after a changed, late or deleted bar are removed when the bar changes and re-scored by the next detection.';
COMMENT ON COLUMN cryptoml_internal.bar_anomalies.score IS 'max |z| over the scored features.';
COMMENT ON COLUMN cryptoml_internal.bar_anomalies.kinds IS 'The features with |z| >= threshold: return, range, volume, residual.';
COMMENT ON COLUMN cryptoml_internal.bar_anomalies.z IS 'Per feature its value, the window median and scale and z (null: not scored); and the beta of the residual.';

-- Per symbol: every bar at or before scored_through has been scored with these settings.
CREATE TABLE cryptoml_internal.anomaly_checkpoint (
  symbol          varchar(20) PRIMARY KEY,
  scored_through  timestamp NOT NULL,
  anomaly_window  integer NOT NULL,
  threshold       float8 NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cryptoml_internal.anomaly_checkpoint IS 'Anomaly detection progress per symbol: the bars at or before scored_through were scored with anomaly_window and threshold (a change of either re-scores the symbol from its first bar).';
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.bar_anomalies', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.anomaly_checkpoint', '');

CREATE FUNCTION cryptoml_internal.anomaly_scores(ts timestamp[], high float8[], low float8[], close float8[], volume float8[],
    index_return float8[], first_new integer, "window" integer, threshold float8, all_rows boolean DEFAULT false,
    OUT bar_timestamp timestamp, OUT score float8, OUT anomalous boolean, OUT kinds text[], OUT z jsonb)
  RETURNS SETOF record AS 'MODULE_PATHNAME', 'cml_anomaly_scores' LANGUAGE C IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION cryptoml_internal.anomaly_scores(timestamp[], float8[], float8[], float8[], float8[], float8[], integer, integer, float8, boolean) IS 'Robust z-scores (src/core/anomaly.hpp) of the bars from first_new (1-based) on, against the window bars before each; the earlier elements are history only. One row per scored bar (only the anomalous ones unless all_rows).';

-- The equal-weight market index of a symbol: per minute in [lo, hi], the MEDIAN 1-minute log
-- return of the others (the OTHER configured symbols) that have a bar at that minute and at the
-- one before (the caller passes them: ml_config_get may not run inside a parallel query) (the
-- median, not the mean: with five others the mean passes a fifth of one symbol's flash wick into
-- every other symbol's residual; docs/monitoring.md, "Anomalies").
CREATE FUNCTION cryptoml_internal.anomaly_index(others text[], lo timestamp, hi timestamp, OUT minute timestamp, OUT index_return float8, OUT members integer)
  RETURNS SETOF record LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT x.ts, percentile_cont(0.5) WITHIN GROUP (ORDER BY ln(x.c / x.pc)), count(*)::integer
    FROM (SELECT r.symbol, r.timestamp AS ts, r.close::float8 AS c,
                 lag(r.close::float8) OVER w AS pc, lag(r.timestamp) OVER w AS pts
            FROM @extschema@.rollingchartdata r
           WHERE r.symbol = ANY ($1)
             AND r.timestamp >= $2 - interval '1 minute' AND r.timestamp <= $3
          WINDOW w AS (PARTITION BY r.symbol ORDER BY r.timestamp)) x
   WHERE x.pts = x.ts - interval '1 minute' AND x.c > 0 AND x.pc > 0 AND x.ts >= $2
   GROUP BY x.ts
  $$;

CREATE FUNCTION ml_detect_anomalies(symbol text DEFAULT NULL) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    syms text[] := ARRAY(SELECT c.s FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) AS c(s));
    win integer := (@extschema@.ml_config_get('monitoring.anomalyWindow'))::integer;
    thr float8 := (@extschema@.ml_config_get('monitoring.anomalyThreshold'))::float8;
    sym text;
    cp record;
    through timestamp;
    ready_until timestamp;
    last_new timestamp;
    first_new timestamp;
    hist_n integer;
    b record;
    n integer;
    total integer := 0;
  BEGIN
    IF symbol IS NOT NULL AND NOT (symbol = ANY (syms)) THEN
      RAISE EXCEPTION 'unknown symbol "%"', left(symbol, 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: anomalies are detected for the symbols of the symbols setting',
              HINT = 'SELECT ml_config_get(''symbols'');';
    END IF;
    IF win IS NULL OR win < 30 OR win > 10080 OR thr IS NULL OR NOT (thr >= 1 AND thr <= 1000) THEN  -- config.cpp's rules, checked again
      RAISE EXCEPTION 'invalid anomaly settings: monitoring.anomalyWindow %, monitoring.anomalyThreshold %', win, thr
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: 30 <= anomalyWindow <= 10080 and 1 <= anomalyThreshold <= 1000';
    END IF;
    FOR sym IN SELECT s FROM unnest(syms) AS s
                WHERE (ml_detect_anomalies.symbol IS NULL AND s IN (SELECT cryptoml_internal.served_symbols()))
                   OR s = ml_detect_anomalies.symbol ORDER BY s LOOP
      -- one detection per symbol at a time (a second caller waits, then finds nothing new)
      PERFORM pg_advisory_xact_lock(hashtext('cryptoml anomalies'), hashtext(sym));
      SELECT * INTO cp FROM cryptoml_internal.anomaly_checkpoint k WHERE k.symbol = sym;
      through := NULL;
      IF FOUND THEN
        IF cp.anomaly_window = win AND cp.threshold = thr THEN
          through := cp.scored_through;
        ELSE  -- other settings: re-score the symbol
          DELETE FROM cryptoml_internal.bar_anomalies a WHERE a.symbol = sym;
        END IF;
      END IF;
      -- A bar is ready when every other configured symbol has a bar at or after its minute (its
      -- market index is final), or when it is more than 5 minutes old (a lagging or dead symbol
      -- does not hold detection up).
      ready_until := greatest(
        coalesce((SELECT min(coalesce((SELECT max(r.timestamp) FROM @extschema@.rollingchartdata r WHERE r.symbol = o.s), '-infinity'))
                    FROM unnest(syms) AS o(s) WHERE o.s <> sym), 'infinity'),
        date_trunc('minute', now() AT TIME ZONE 'UTC') - interval '6 minutes');
      SELECT min(r.timestamp), max(r.timestamp) INTO first_new, last_new FROM @extschema@.rollingchartdata r
       WHERE r.symbol = sym AND r.timestamp > coalesce(through, '-infinity') AND r.timestamp <= ready_until;
      CONTINUE WHEN last_new IS NULL;
      SELECT count(*)::integer INTO hist_n FROM (SELECT 1 FROM @extschema@.rollingchartdata r
        WHERE r.symbol = sym AND r.timestamp < first_new ORDER BY r.timestamp DESC LIMIT win + 1) h;
      SELECT array_agg(x.timestamp ORDER BY x.timestamp) AS ts, array_agg(x.high::float8 ORDER BY x.timestamp) AS high,
             array_agg(x.low::float8 ORDER BY x.timestamp) AS low, array_agg(x.close::float8 ORDER BY x.timestamp) AS close,
             array_agg(x.volume::float8 ORDER BY x.timestamp) AS volume, array_agg(i.index_return ORDER BY x.timestamp) AS idx
        INTO b
        FROM (SELECT * FROM (SELECT r.timestamp, r.high, r.low, r.close, r.volume FROM @extschema@.rollingchartdata r
                              WHERE r.symbol = sym AND r.timestamp < first_new ORDER BY r.timestamp DESC LIMIT win + 1) h
              UNION ALL
              SELECT r.timestamp, r.high, r.low, r.close, r.volume FROM @extschema@.rollingchartdata r
               WHERE r.symbol = sym AND r.timestamp >= first_new AND r.timestamp <= last_new) x
        LEFT JOIN cryptoml_internal.anomaly_index(array_remove(syms, sym), coalesce((SELECT min(r.timestamp) FROM (SELECT r.timestamp FROM @extschema@.rollingchartdata r
                     WHERE r.symbol = sym AND r.timestamp < first_new ORDER BY r.timestamp DESC LIMIT win + 1) r), first_new), last_new) i
          ON i.minute = x.timestamp;
      INSERT INTO cryptoml_internal.bar_anomalies AS a (symbol, bar_timestamp, score, kinds, z, detected_at)
        SELECT sym, s.bar_timestamp, s.score, s.kinds, s.z, now()
          FROM cryptoml_internal.anomaly_scores(b.ts, b.high, b.low, b.close, b.volume, b.idx, hist_n + 1, win, thr) s
        ON CONFLICT ON CONSTRAINT bar_anomalies_pkey DO UPDATE
          SET score = excluded.score, kinds = excluded.kinds, z = excluded.z, detected_at = excluded.detected_at;
      GET DIAGNOSTICS n = ROW_COUNT;
      total := total + n;
      INSERT INTO cryptoml_internal.anomaly_checkpoint AS k (symbol, scored_through, anomaly_window, threshold, updated_at)
        VALUES (sym, last_new, win, thr, now())
        ON CONFLICT ON CONSTRAINT anomaly_checkpoint_pkey DO UPDATE SET scored_through = excluded.scored_through, anomaly_window = excluded.anomaly_window,
                                           threshold = excluded.threshold, updated_at = excluded.updated_at;
    END LOOP;
    RETURN total;
  END
  $$;
COMMENT ON FUNCTION ml_detect_anomalies(text) IS 'Scores the bars of one or every configured symbol not scored yet and ready (every other configured symbol has reached their minute, or they are over 5 minutes old): robust z-scores of 1-minute log return, log range, log1p volume and the residual against the equal-weight index of the other symbols, against the median and MAD of the previous monitoring.anomalyWindow bars; stores the bars with max |z| >= monitoring.anomalyThreshold; returns how many it flagged. Incremental (a per-symbol checkpoint) and idempotent. Errors: a symbol not configured (22023).';

-- ml_anomalies' argument rules (a one-time filter of its query: raised before any row is read).
CREATE FUNCTION cryptoml_internal.anomalies_args_ok(symbol text, since timestamp) RETURNS boolean
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF symbol IS NOT NULL AND symbol !~ '^[A-Z0-9]{2,20}$' THEN
      RAISE EXCEPTION 'invalid symbol "%"', left(symbol, 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: a symbol matches ^[A-Z0-9]{2,20}$';
    END IF;
    IF since IS NOT NULL AND NOT isfinite(since) THEN
      RAISE EXCEPTION 'invalid since %', since USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: since is a finite time or NULL';
    END IF;
    RETURN true;
  END
  $$;

CREATE FUNCTION ml_anomalies(symbol text DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS TABLE (symbol text, bar_timestamp timestamp, score float8, kinds text[], z_return float8, z_range float8,
                 z_volume float8, z_residual float8, beta float8, z jsonb, detected_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT a.symbol::text, a.bar_timestamp, a.score, a.kinds, (a.z #>> '{return,z}')::float8, (a.z #>> '{range,z}')::float8,
         (a.z #>> '{volume,z}')::float8, (a.z #>> '{residual,z}')::float8, (a.z ->> 'beta')::float8, a.z, a.detected_at
    FROM cryptoml_internal.bar_anomalies a
   WHERE cryptoml_internal.anomalies_args_ok($1, $2)
     AND ($1 IS NULL OR a.symbol = $1) AND ($2 IS NULL OR a.bar_timestamp >= $2)
   ORDER BY a.bar_timestamp, a.symbol
  $$;
COMMENT ON FUNCTION ml_anomalies(text, timestamp) IS 'The flagged bars of one or every symbol (NULL), from since on (NULL: all), oldest first: score (max |z|), kinds, the z of each feature, the residual''s beta and the full detail. Run ml_detect_anomalies (or the monitor) to bring them up to date.';

-- Bars changed by a statement (late, corrected, deleted: cryptoml_internal.statement_bar_changes,
-- which the indicators' statement trigger fills): the anomaly rows of the symbol at or after the
-- earliest change are removed and its checkpoint moved back before it, so the next detection
-- re-scores them. Bars appended after the checkpoint change nothing. Retention and compression
-- (cryptoml_internal.delete_history) report no change: the flags of the bars they remove stay.
CREATE FUNCTION cryptoml_internal.anomalies_bars_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    c record;
  BEGIN
    IF TG_OP = 'TRUNCATE' THEN
      DELETE FROM cryptoml_internal.bar_anomalies;
      DELETE FROM cryptoml_internal.anomaly_checkpoint;
      RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cryptoml_internal.anomaly_checkpoint) THEN
      RETURN NULL;  -- detection never ran: nothing to invalidate
    END IF;
    FOR c IN
      SELECT k.symbol, ch.since FROM cryptoml_internal.statement_bar_changes() ch
        JOIN cryptoml_internal.anomaly_checkpoint k ON k.symbol = ch.symbol
       WHERE ch.since IS NULL OR ch.since <= k.scored_through
    LOOP
      IF c.since IS NULL THEN
        DELETE FROM cryptoml_internal.bar_anomalies a WHERE a.symbol = c.symbol;
        DELETE FROM cryptoml_internal.anomaly_checkpoint k WHERE k.symbol = c.symbol;
      ELSE
        DELETE FROM cryptoml_internal.bar_anomalies a WHERE a.symbol = c.symbol AND a.bar_timestamp >= c.since;
        UPDATE cryptoml_internal.anomaly_checkpoint k SET scored_through = c.since - interval '1 microsecond', updated_at = now()
         WHERE k.symbol = c.symbol;
      END IF;
    END LOOP;
    RETURN NULL;
  END
  $$;
-- Named to fire after zz_cryptoml_indicators_statement (statement triggers fire in name order).
CREATE TRIGGER zz_cryptoml_stale_anomalies AFTER INSERT OR UPDATE OR DELETE ON rollingChartData
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.anomalies_bars_changed();
CREATE TRIGGER zz_cryptoml_stale_anomalies_truncate AFTER TRUNCATE ON rollingChartData
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.anomalies_bars_changed();
-- statement_bar_changes reports what the indicators read (prices, not volume): an UPDATE of a
-- bar's volume (or any of its OHLCV, symbol, timestamp) invalidates its symbol from that bar on
-- here, one row at a time (the WHEN clause keeps indicator-only updates out).
CREATE FUNCTION cryptoml_internal.anomalies_bar_updated() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    b record;
  BEGIN
    FOR b IN SELECT OLD.symbol AS symbol, OLD.timestamp AS ts UNION ALL SELECT NEW.symbol, NEW.timestamp LOOP
      DELETE FROM cryptoml_internal.bar_anomalies a WHERE a.symbol = b.symbol AND a.bar_timestamp >= b.ts;
      UPDATE cryptoml_internal.anomaly_checkpoint k SET scored_through = b.ts - interval '1 microsecond', updated_at = now()
       WHERE k.symbol = b.symbol AND k.scored_through >= b.ts;
    END LOOP;
    RETURN NULL;
  END
  $$;
CREATE TRIGGER zz_cryptoml_anomalies_bar_updated AFTER UPDATE ON rollingChartData
  FOR EACH ROW WHEN ((OLD.symbol, OLD.timestamp, OLD.open, OLD.high, OLD.low, OLD.close, OLD.volume)
                     IS DISTINCT FROM (NEW.symbol, NEW.timestamp, NEW.open, NEW.high, NEW.low, NEW.close, NEW.volume))
  EXECUTE FUNCTION cryptoml_internal.anomalies_bar_updated();

-- training.excludeAnomalies: the samples of the training window (as ml_train reads it: feature
-- set, target known, bar after the set's latest sample minus window_minutes) whose bar or target window
-- [bar, bar + horizon] holds a flagged bar; none while the setting is false.
CREATE FUNCTION cryptoml_internal.anomaly_excluded_samples(symbol text, horizon integer, window_minutes integer, feature_set integer)
  RETURNS SETOF timestamp LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF NOT coalesce((@extschema@.ml_config_get('training.excludeAnomalies'))::boolean, false) THEN
      RETURN;
    END IF;
    RETURN QUERY
      SELECT s.bar_timestamp FROM @extschema@.mltrainingsamples s
       WHERE s.symbol = $1 AND s.forecast_horizon = $2 AND s.feature_set = $4 AND s.target IS NOT NULL
         AND s.bar_timestamp > (SELECT max(t.bar_timestamp) - make_interval(mins => $3) FROM @extschema@.mltrainingsamples t
                                 WHERE t.symbol = $1 AND t.forecast_horizon = $2 AND t.feature_set = $4)
         AND EXISTS (SELECT 1 FROM cryptoml_internal.bar_anomalies a
                      WHERE a.symbol = $1 AND a.bar_timestamp >= s.bar_timestamp
                        AND a.bar_timestamp <= s.bar_timestamp + make_interval(mins => $2));
  END
  $$;

REVOKE ALL ON FUNCTION ml_detect_anomalies(text), ml_anomalies(text, timestamp),
  cryptoml_internal.anomaly_scores(timestamp[], float8[], float8[], float8[], float8[], float8[], integer, integer, float8, boolean),
  cryptoml_internal.anomaly_index(text[], timestamp, timestamp), cryptoml_internal.anomalies_bars_changed(),
  cryptoml_internal.anomaly_excluded_samples(text, integer, integer, integer), cryptoml_internal.anomalies_args_ok(text, timestamp),
  cryptoml_internal.anomalies_bar_updated() FROM PUBLIC;

-- ==== section: anomalies (0.8.0): helpers insert their SQL above this line ====

-- ==== tune (0.8.0) ====
-- Hyperparameter search (docs/training.md, "Hyperparameter search"): one row per ml_tune run and
-- one per trial, written by the procedure as the owner; readers see them through the views.
CREATE TABLE cryptoml_internal.tune_runs (
  tune_id          bigserial PRIMARY KEY,
  symbol           text NOT NULL,
  forecast_horizon integer NOT NULL,
  model_type       text NOT NULL CHECK (model_type IN ('xgboost', 'lstm')),
  budget           integer NOT NULL,
  options          jsonb NOT NULL,
  request          jsonb NOT NULL,
  train_options    jsonb NOT NULL,
  method           text NOT NULL CHECK (method IN ('random', 'halving')),
  scheme           text NOT NULL CHECK (scheme IN ('expanding', 'rolling')),
  folds            integer NOT NULL,
  seed             numeric NOT NULL,
  data_first       timestamp,
  data_last        timestamp NOT NULL,
  samples          integer NOT NULL,
  trials_planned   integer NOT NULL,
  trials_done      integer NOT NULL DEFAULT 0,
  status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
  best_trial       integer,
  best_score       float8,
  best_params      jsonb,
  started_by       name NOT NULL DEFAULT current_user,
  started_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX tune_runs_request_idx ON cryptoml_internal.tune_runs (symbol, forecast_horizon, model_type, status);
COMMENT ON TABLE cryptoml_internal.tune_runs IS 'ml_tune runs: the request (resumed while status is running), the samples it reads (up to data_last), the training settings fixed at its start, and the best trial.';
CREATE TABLE cryptoml_internal.tune_trials (
  tune_id       bigint NOT NULL REFERENCES cryptoml_internal.tune_runs ON DELETE CASCADE,
  trial         integer NOT NULL,
  rung          integer NOT NULL,
  config        integer NOT NULL,
  resource      float8 NOT NULL,
  params        jsonb NOT NULL,
  fold_scores   float8[] NOT NULL,
  folds_used    integer,
  rows_used     integer,
  rows_scored   integer,
  rmse          float8,
  baseline_rmse float8,
  score         float8,
  status        text NOT NULL CHECK (status IN ('completed', 'failed')),
  error         text,
  duration_ms   bigint NOT NULL,
  finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tune_id, trial)
);
COMMENT ON TABLE cryptoml_internal.tune_trials IS 'ml_tune trials, one committed row each: the configuration, its out-of-fold scores (RMSE / zero-change RMSE, lower is better) and how long it took.';
REVOKE ALL ON cryptoml_internal.tune_runs, cryptoml_internal.tune_trials FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.tune_runs', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.tune_runs_tune_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.tune_trials', '');

CREATE VIEW ml_tune_runs AS
  SELECT r.tune_id, r.symbol, r.forecast_horizon, r.model_type, r.budget, r.method, r.scheme, r.folds, r.seed, r.status,
         r.trials_planned, r.trials_done, r.best_trial, r.best_score, r.best_params, r.options, r.train_options,
         r.data_first, r.data_last, r.samples, r.started_by, r.started_at, r.finished_at
    FROM cryptoml_internal.tune_runs r;
COMMENT ON VIEW ml_tune_runs IS 'ml_tune runs: request, status (running until it finishes; a CALL with the same arguments resumes it), trials done of planned, best trial, score and params.';
CREATE VIEW ml_tune_trials AS
  SELECT t.tune_id, r.symbol, r.forecast_horizon, r.model_type, t.trial, t.rung, t.config, t.resource, t.params,
         t.fold_scores, t.folds_used, t.rows_used, t.rows_scored, t.rmse, t.baseline_rmse, t.score, t.status, t.error,
         t.duration_ms, t.finished_at, t.trial IS NOT DISTINCT FROM r.best_trial AS is_best
    FROM cryptoml_internal.tune_trials t JOIN cryptoml_internal.tune_runs r USING (tune_id);
COMMENT ON VIEW ml_tune_trials IS 'Every ml_tune trial: rung and share of the window (resource), params, per-fold and pooled out-of-fold score (RMSE / zero-change RMSE, lower is better), status, error, duration.';
REVOKE ALL ON ml_tune_runs, ml_tune_trials FROM PUBLIC;

-- A procedure (it commits after each trial): no SET clause; the C code pins search_path itself.
CREATE PROCEDURE ml_tune(symbol text, horizon integer, model_type text DEFAULT 'xgboost', budget integer DEFAULT 30,
                         options jsonb DEFAULT '{}', INOUT result jsonb DEFAULT NULL)
  AS 'MODULE_PATHNAME', 'ml_tune' LANGUAGE C;
COMMENT ON PROCEDURE ml_tune(text, integer, text, integer, jsonb, jsonb) IS 'Hyperparameter search by time-series cross-validation (random search or successive halving, scored out of fold against zero change), committing each trial; a killed or cancelled run resumes when called again with the same arguments; returns the best trial. ml_train(..., options => ''{"params": "tuned"}'') uses its params.';
REVOKE ALL ON PROCEDURE ml_tune(text, integer, text, integer, jsonb, jsonb) FROM PUBLIC;

-- ==== section: tune (0.8.0): helpers insert their SQL above this line ====

-- ==== Stacking (0.8.0) ====
-- The ensemble's "stacking" combiner (src/core/stacking.hpp, docs/training.md "Stacking"): the
-- weights the core fits on members' out-of-time records, as ml_train records them.
CREATE FUNCTION cryptoml_internal.stacking_fit(member integer[], ts timestamp[], raw float8[], actual float8[], horizon integer,
                                               as_of timestamp) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'cml_stacking_fit' LANGUAGE C IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION cryptoml_internal.stacking_fit(integer[], timestamp[], float8[], float8[], integer, timestamp) IS 'The stacking combiner''s fit (src/core/stacking.hpp): one element per (member, minute) out-of-time pair, members ordered by number; the non-negative weights summing to 1, shrunk toward the inverse-MSE weights with lambda = 250 / pairs, fitted on the aligned pairs whose outcome was known at as_of (ts + horizon <= as_of); with fewer than 100 such pairs, a constant member or all predictions 0, the inverse-MSE weights and the reason. The JSON ml_train stores in an ensemble''s hyperparameters->''stacking''.';
REVOKE ALL ON FUNCTION cryptoml_internal.stacking_fit(integer[], timestamp[], float8[], float8[], integer, timestamp) FROM PUBLIC;

-- ==== section: stacking (0.8.0): helpers insert their SQL above this line ====

-- ===========================================================================================
-- Scale-out node: identity, owned and replica symbols, replication (issue 18; docs/scale-out.md)
-- ===========================================================================================
-- ==== node cluster mode (0.9.0) ====
-- Bars of one symbol as a function call (PL/Proxy routes calls, not COPY): the router's
-- ml_insert_bars runs this one on the symbol's owner. A minute already stored is corrected.
CREATE FUNCTION ml_insert_bars(symbol text, bars jsonb) RETURNS integer
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    bad record;
    n integer;
  BEGIN
    IF symbol IS NULL OR bars IS NULL THEN
      RAISE EXCEPTION 'ml_insert_bars: symbol and bars must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(bars) IS DISTINCT FROM 'array' THEN
      RAISE EXCEPTION 'ml_insert_bars: bars must be a JSON array of bars, got %', left(coalesce(jsonb_typeof(bars), 'null'), 20)
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'rule: [{"timestamp": "2026-12-07 14:30", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 0}, ...]';
    END IF;
    SELECT e.i, left(e.b::text, 80) AS b INTO bad
      FROM jsonb_array_elements(bars) WITH ORDINALITY AS e(b, i)
     WHERE jsonb_typeof(e.b) IS DISTINCT FROM 'object'
        OR NOT e.b ?& ARRAY['timestamp', 'open', 'high', 'low', 'close', 'volume']
        OR EXISTS (SELECT 1 FROM unnest(ARRAY['open', 'high', 'low', 'close', 'volume']) k WHERE jsonb_typeof(e.b -> k) <> 'number')
     ORDER BY e.i LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'ml_insert_bars: bar % of % is not a bar: %', bad.i, jsonb_array_length(bars), bad.b
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'rule: each bar is an object with "timestamp" (text) and numbers "open", "high", "low", "close", "volume"';
    END IF;
    WITH up AS (
      INSERT INTO @extschema@.rollingchartdata AS r (symbol, timestamp, open, high, low, close, volume, source)
      SELECT ml_insert_bars.symbol, (e.b ->> 'timestamp')::timestamp, (e.b ->> 'open')::numeric, (e.b ->> 'high')::numeric,
             (e.b ->> 'low')::numeric, (e.b ->> 'close')::numeric, (e.b ->> 'volume')::numeric, 'sql'
        FROM jsonb_array_elements(bars) AS e(b) ORDER BY 2
      ON CONFLICT ON CONSTRAINT rollingchartdata_symbol_timestamp_key DO UPDATE
        SET open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume
        WHERE (r.open, r.high, r.low, r.close, r.volume) IS DISTINCT FROM
              (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume)
      RETURNING 1)
    SELECT count(*)::integer INTO n FROM up;
    RETURN n;
  END
  $$;
COMMENT ON FUNCTION ml_insert_bars(text, jsonb) IS 'Inserts one symbol''s bars given as a JSON array of {timestamp, open, high, low, close, volume}; a minute already stored is corrected (indicators follow by trigger). Returns the bars inserted or changed. On a router: runs on the symbol''s owner.';

-- rollingChartData is published by its natural key, so a replica keeps its own surrogate ids.
ALTER TABLE rollingChartData REPLICA IDENTITY USING INDEX rollingchartdata_symbol_timestamp_key;

-- The publication of the leaders this node owns (row filter rebuilt by node_refresh_publication).
CREATE FUNCTION cryptoml_internal.node_refresh_publication() RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cols text := (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
                   WHERE a.attrelid = '@extschema@.rollingchartdata'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                     AND a.attname <> 'id');
    owned text[];
    filter text;
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM cryptoml_internal.node_identity) THEN
      RAISE EXCEPTION 'this database is not a cluster node' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'A router''s ml_cluster_add_node runs cryptoml_internal.node_join on it.';
    END IF;
    owned := ARRAY(SELECT n.symbol::text FROM cryptoml_internal.node_symbols n
                    WHERE n.role = 'owned'
                      AND n.symbol IN (SELECT jsonb_array_elements_text(@extschema@.ml_config_get('features.crossMarketSymbols')))
                    ORDER BY 1);
    -- (a publication's row filter takes symbol = 'A' OR symbol = 'B', not symbol IN ('A', 'B'))
    filter := CASE WHEN cardinality(owned) = 0 THEN 'false'
                   ELSE (SELECT string_agg(format('symbol = %L', o), ' OR ' ORDER BY o) FROM unnest(owned) o) END;
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'cryptoml_leaders') THEN
      EXECUTE format('CREATE PUBLICATION cryptoml_leaders FOR TABLE @extschema@.rollingchartdata (%s) WHERE (%s)', cols, filter);
    ELSE
      EXECUTE format('ALTER PUBLICATION cryptoml_leaders SET TABLE @extschema@.rollingchartdata (%s) WHERE (%s)', cols, filter);
    END IF;
    RETURN filter;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_refresh_publication() IS 'Rebuilds the row filter of publication cryptoml_leaders: the bars of the leaders (features.crossMarketSymbols) this node owns; returns the filter.';

CREATE FUNCTION cryptoml_internal.node_join(name text, node_no integer) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cur record;
    seq regclass;
    lo bigint := node_no::bigint << 40;
  BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,29}$' THEN
      RAISE EXCEPTION 'invalid node name "%"', left(coalesce(name, 'NULL'), 40) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: a lower-case letter, then up to 29 lower-case letters, digits or _';
    END IF;
    IF node_no IS NULL OR node_no NOT BETWEEN 1 AND 20 THEN
      RAISE EXCEPTION 'invalid node number %', coalesce(node_no::text, 'NULL') USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: 1 <= node_no <= 20, one per node (each node has its own range of bigserial ids)';
    END IF;
    SELECT * INTO cur FROM cryptoml_internal.node_identity FOR UPDATE;
    IF FOUND AND (cur.name <> node_join.name OR cur.node_no <> node_join.node_no) THEN
      RAISE EXCEPTION 'this database already is node "%" (number %), not "%" (number %)', cur.name, cur.node_no, node_join.name, node_join.node_no
        USING ERRCODE = 'object_in_use', HINT = 'A database is one node of one cluster.';
    ELSIF NOT FOUND THEN
      INSERT INTO cryptoml_internal.node_identity (name, node_no) VALUES (node_join.name, node_join.node_no);
      PERFORM cryptoml_internal.audit('node_join', node_join.name, NULL, jsonb_build_object('node_no', node_join.node_no));
    END IF;
    -- ids that travel with a moved symbol come from a range of their own on every node
    FOREACH seq IN ARRAY ARRAY[pg_get_serial_sequence('cryptoml_internal.volatility_models', 'id'),
                               pg_get_serial_sequence('cryptoml_internal.tune_runs', 'tune_id'),
                               pg_get_serial_sequence('cryptoml_internal.deployments', 'id')]::regclass[] LOOP
      IF coalesce(pg_sequence_last_value(seq), 0) < lo THEN
        PERFORM setval(seq, lo, false);
      END IF;
    END LOOP;
    PERFORM cryptoml_internal.node_refresh_publication();
    RETURN node_join.name;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_join(text, integer) IS 'Makes this database node <name> (number 1-20) of a cryptoml_router cluster: it then serves only the symbols it owns. Idempotent.';

CREATE FUNCTION cryptoml_internal.node_set_symbol(symbol text, role text) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    before text;
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM cryptoml_internal.node_identity) THEN
      RAISE EXCEPTION 'this database is not a cluster node' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'A router''s ml_cluster_add_node runs cryptoml_internal.node_join on it.';
    END IF;
    IF role IS NULL OR role NOT IN ('owned', 'moving', 'replica', 'none') THEN
      RAISE EXCEPTION 'invalid node role "%" for %', left(coalesce(role, 'NULL'), 20), left(symbol, 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: owned, moving, replica or none';
    END IF;
    IF symbol IS NULL OR symbol !~ '^[A-Z0-9]{2,20}$' THEN
      RAISE EXCEPTION 'invalid symbol "%"', left(coalesce(symbol, 'NULL'), 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: a symbol of config key symbols, ^[A-Z0-9]{2,20}$';
    END IF;
    LOCK TABLE cryptoml_internal.node_symbols IN SHARE ROW EXCLUSIVE MODE;
    SELECT n.role INTO before FROM cryptoml_internal.node_symbols n WHERE n.symbol = node_set_symbol.symbol;
    before := coalesce(before, 'none');
    IF before = role THEN
      RETURN before;
    ELSIF role = 'none' THEN
      DELETE FROM cryptoml_internal.node_symbols n WHERE n.symbol = node_set_symbol.symbol;
    ELSE
      INSERT INTO cryptoml_internal.node_symbols AS n (symbol, role) VALUES (node_set_symbol.symbol, node_set_symbol.role)
        ON CONFLICT ON CONSTRAINT node_symbols_pkey DO UPDATE SET role = excluded.role, changed_at = now();
    END IF;
    PERFORM cryptoml_internal.node_refresh_publication();
    PERFORM cryptoml_internal.audit('node_role', symbol, to_jsonb(before), to_jsonb(role));
    PERFORM @extschema@.ml_log('info'::text, 'cluster'::text, 'symbol'::text, format('%s: %s -> %s on node %s', symbol, before, role,
                               (SELECT i.name FROM cryptoml_internal.node_identity i)), NULL::jsonb, symbol);
    RETURN before;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_set_symbol(text, text) IS 'Sets what this node does with a symbol: owned (served, writable), moving (frozen during a move), replica (a leader''s bars copied from its owner, read-only), none; returns the previous role. Idempotent.';

CREATE FUNCTION cryptoml_internal.node_create_slot(slot text) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF slot IS NULL OR slot !~ '^[a-z0-9_]{1,63}$' THEN
      RAISE EXCEPTION 'invalid replication slot name "%"', left(coalesce(slot, 'NULL'), 80)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: 1 to 63 lower-case letters, digits or _';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.slot_name = slot) THEN
      PERFORM pg_create_logical_replication_slot(slot, 'pgoutput');
    END IF;
    RETURN slot;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_create_slot(text) IS 'Creates the logical replication slot a peer''s subscription to publication cryptoml_leaders uses (on the publisher; idempotent).';

CREATE FUNCTION cryptoml_internal.node_subscribe(peer text, conninfo text, slot text, copy_data boolean) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    sub text := 'cryptoml_from_' || peer;
  BEGIN
    IF peer IS NULL OR peer !~ '^[a-z][a-z0-9_]{0,29}$' OR slot IS NULL OR slot !~ '^[a-z0-9_]{1,63}$' OR conninfo IS NULL
       OR copy_data IS NULL THEN
      RAISE EXCEPTION 'invalid subscription: peer "%", slot "%"', left(coalesce(peer, 'NULL'), 40), left(coalesce(slot, 'NULL'), 80)
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'rule: peer is a node name (a lower-case letter, then letters, digits or _), slot 1-63 of [a-z0-9_], conninfo and copy_data given';
    END IF;
    IF peer = (SELECT i.name FROM cryptoml_internal.node_identity i) THEN
      RAISE EXCEPTION 'node % cannot subscribe to itself', peer USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_subscription s WHERE s.subname = sub AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())) THEN
      EXECUTE format('ALTER SUBSCRIPTION %I CONNECTION %L', sub, conninfo);
      RETURN sub;
    END IF;
    -- copy_data: the peer's published bars as they are now (a new node), or only the changes from
    -- the slot on (this node holds them already: a leader moved to the peer)
    EXECUTE format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION cryptoml_leaders '
                   'WITH (create_slot = false, slot_name = %L, copy_data = %s, enabled = true)', sub, conninfo, slot,
                   CASE WHEN copy_data THEN 'true' ELSE 'false' END);
    RETURN sub;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_subscribe(text, text, text, boolean) IS 'Subscribes this node to peer''s publication cryptoml_leaders over an existing slot (node_create_slot on the peer first), copying the peer''s published bars first when copy_data; idempotent.';

-- The subscription to a peer that publishes nothing any more, dropped once it has received every
-- change the peer had written up to caught_up_to (the peer's pg_current_wal_lsn() when it stopped
-- owning leaders), so no in-flight bar is lost. Returns the slot the peer can drop, or NULL.
CREATE FUNCTION cryptoml_internal.node_unsubscribe(peer text, caught_up_to pg_lsn, timeout_seconds integer) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    sub text := 'cryptoml_from_' || peer;
    s record;
    reached pg_lsn;
    deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_seconds);
  BEGIN
    IF peer IS NULL OR peer !~ '^[a-z][a-z0-9_]{0,29}$' OR caught_up_to IS NULL OR timeout_seconds IS NULL
       OR timeout_seconds NOT BETWEEN 0 AND 3600 THEN
      RAISE EXCEPTION 'invalid unsubscribe: peer "%", timeout %', left(coalesce(peer, 'NULL'), 40), timeout_seconds
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: a node name, an LSN, 0 <= timeout_seconds <= 3600';
    END IF;
    SELECT x.oid, x.subslotname INTO s FROM pg_subscription x
     WHERE x.subname = sub AND x.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database());
    IF NOT FOUND THEN
      RETURN NULL;
    END IF;
    LOOP
      SELECT max(st.latest_end_lsn) INTO reached FROM pg_stat_subscription st WHERE st.subid = s.oid;
      EXIT WHEN reached >= caught_up_to;
      IF clock_timestamp() > deadline THEN
        RAISE EXCEPTION 'subscription % has received up to % of node %, not yet %', sub, coalesce(reached::text, 'nothing'), peer, caught_up_to
          USING ERRCODE = 'lock_not_available', HINT = 'The subscription is kept; retry once it has caught up (node_status shows its lag).';
      END IF;
      PERFORM pg_sleep(0.1);
      PERFORM pg_stat_clear_snapshot();
    END LOOP;
    EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', sub);
    EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', sub);
    EXECUTE format('DROP SUBSCRIPTION %I', sub);
    RETURN s.subslotname;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_unsubscribe(text, pg_lsn, integer) IS 'Drops the subscription to peer once it has received the peer''s changes up to caught_up_to (waits up to timeout_seconds); returns its slot, for node_drop_slot on the peer.';

-- On the publisher: a slot no subscription uses any more (its walsender ended first).
CREATE FUNCTION cryptoml_internal.node_drop_slot(slot text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    pid integer;
    deadline timestamptz := clock_timestamp() + interval '10 seconds';
  BEGIN
    IF slot IS NULL OR slot !~ '^cryptoml_[a-z0-9_]{1,54}$' THEN
      RAISE EXCEPTION 'invalid replication slot name "%"', left(coalesce(slot, 'NULL'), 80)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: one of cryptoml''s slots, cryptoml_<publisher>_to_<subscriber>';
    END IF;
    LOOP
      SELECT r.active_pid INTO pid FROM pg_replication_slots r WHERE r.slot_name = slot;
      IF NOT FOUND THEN
        RETURN false;
      END IF;
      EXIT WHEN pid IS NULL;
      PERFORM pg_terminate_backend(pid);  -- the walsender of a subscription dropped a moment ago
      IF clock_timestamp() > deadline THEN
        RAISE EXCEPTION 'replication slot % is still in use by process %', slot, pid USING ERRCODE = 'object_in_use';
      END IF;
      PERFORM pg_sleep(0.1);
    END LOOP;
    PERFORM pg_drop_replication_slot(slot);
    RETURN true;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_drop_slot(text) IS 'Drops one of cryptoml''s replication slots on this publisher once no subscription uses it (ending a lingering walsender); false when there is none.';

CREATE FUNCTION cryptoml_internal.node_wal_lsn() RETURNS pg_lsn
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT pg_current_wal_lsn() $$;
COMMENT ON FUNCTION cryptoml_internal.node_wal_lsn() IS 'This node''s current WAL position: what its subscribers must have received before a subscription to it is dropped.';

CREATE FUNCTION cryptoml_internal.node_status() RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object(
    'name', i.name, 'node_no', i.node_no, 'joined_at', i.joined_at, 'version', @extschema@.ml_version(),
    'owned', (SELECT coalesce(jsonb_agg(n.symbol ORDER BY n.symbol), '[]') FROM cryptoml_internal.node_symbols n WHERE n.role = 'owned'),
    'moving', (SELECT coalesce(jsonb_agg(n.symbol ORDER BY n.symbol), '[]') FROM cryptoml_internal.node_symbols n WHERE n.role = 'moving'),
    'replica', (SELECT coalesce(jsonb_agg(n.symbol ORDER BY n.symbol), '[]') FROM cryptoml_internal.node_symbols n WHERE n.role = 'replica'),
    'publication_filter', (SELECT pg_get_expr(pr.prqual, pr.prrelid) FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
                            WHERE p.pubname = 'cryptoml_leaders'),
    'subscriptions', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'name', s.subname, 'enabled', s.subenabled, 'worker_pid', st.pid,
                         'last_message', st.last_msg_receipt_time, 'latest_end_time', st.latest_end_time,
                         'lag_seconds', extract(epoch FROM now() - st.latest_end_time)) ORDER BY s.subname), '[]')
                        FROM pg_subscription s LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
                       WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
    'slots', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'name', r.slot_name, 'active', r.active,
                 'lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), r.confirmed_flush_lsn)) ORDER BY r.slot_name), '[]')
                FROM pg_replication_slots r WHERE r.database = current_database() AND r.slot_name LIKE 'cryptoml\_%'))
    FROM (SELECT NULL) x LEFT JOIN cryptoml_internal.node_identity i ON true
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_status() IS 'This node: name, number, owned / moving / replica symbols, the publication filter, subscriptions with their lag, slots with the WAL they hold.';

REVOKE ALL ON FUNCTION cryptoml_internal.node_refresh_publication(), cryptoml_internal.node_join(text, integer),
  cryptoml_internal.node_set_symbol(text, text), cryptoml_internal.node_create_slot(text),
  cryptoml_internal.node_subscribe(text, text, text, boolean), cryptoml_internal.node_unsubscribe(text, pg_lsn, integer),
  cryptoml_internal.node_drop_slot(text), cryptoml_internal.node_wal_lsn(), cryptoml_internal.node_status(),
  ml_insert_bars(text, jsonb) FROM PUBLIC;

-- ==== node move: export, import, counts, purge (0.9.0) ====
-- Moving one symbol between nodes (docs/scale-out.md, "What a move copies"): the symbol's rows,
-- part by part in dependency order, exported in keyset chunks from the old owner and imported on
-- the new one (ml_move_symbol on the router drives it). Node-level tables (configuration, logs,
-- audit, recovery checkpoints, the node's identity) stay where they are.

-- Rows of the parts without a natural key (forecasts, trades, samples without a bar), whose SERIAL
-- id the importing node re-assigns: source id -> local id, so a re-imported chunk writes nothing.
-- Cleared for a symbol by node_purge.
CREATE TABLE cryptoml_internal.node_moved_rows (
  symbol    varchar(20) NOT NULL,
  part      text NOT NULL,
  source_id bigint NOT NULL,
  local_id  bigint NOT NULL,
  PRIMARY KEY (symbol, part, source_id)
);
COMMENT ON TABLE cryptoml_internal.node_moved_rows IS 'Rows a symbol move imported into a part without a natural key (forecasts, trades, samples without a bar): the id on the node they came from and the id given here, so an import repeated writes nothing. Cleared for the symbol by node_purge.';
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.node_moved_rows', '');

-- The parts of a symbol's data: table, the rows of the symbol (t, $1 = symbol), the stable key of
-- export (keyset, unique per symbol), the SERIAL id re-assigned on import (NULL: every column is
-- kept, bigserial ids included) and which re-assigned rows have a natural key (ON CONFLICT DO
-- NOTHING); the others go through node_moved_rows. check: what an imported row must satisfy.
CREATE FUNCTION cryptoml_internal.node_part_specs(OUT ord integer, OUT part text, OUT tbl text, OUT filter text, OUT key_cols text[],
                                                  OUT id_col text, OUT natural_key text, OUT "check" text)
  RETURNS SETOF record LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  VALUES
    (1, 'bars', '@extschema@.rollingchartdata', 't.symbol = $1', ARRAY['timestamp'], 'id', 'true', 't.symbol = $1'),
    (2, 'indicator_checkpoint', 'cryptoml_internal.indicator_checkpoint', 't.symbol = $1', ARRAY['bar_ts'], NULL, NULL, 't.symbol = $1'),
    (3, 'chart_archive', 'cryptoml_internal.chart_archive', 't.symbol = $1', ARRAY['day'], NULL, NULL, 't.symbol = $1'),
    (4, 'samples', '@extschema@.mltrainingsamples', 't.symbol = $1', ARRAY['id'], 'id', 't.bar_timestamp IS NOT NULL', 't.symbol = $1'),
    (5, 'batches', '@extschema@.mltrainingbatches', 't.symbol = $1', ARRAY['id'], 'id', 'true', 't.symbol = $1'),
    (6, 'models', 'cryptoml_internal.models',
        't.batch_id IN (SELECT b.batch_id FROM @extschema@.mltrainingbatches b WHERE b.symbol = $1)', ARRAY['batch_id'], NULL, NULL,
        't.batch_id IN (SELECT b.batch_id FROM @extschema@.mltrainingbatches b WHERE b.symbol = $1)'),
    (7, 'ensemble_members', 'cryptoml_internal.ensemble_members',
        't.ensemble_batch_id IN (SELECT b.batch_id FROM @extschema@.mltrainingbatches b WHERE b.symbol = $1)',
        ARRAY['ensemble_batch_id', 'member_batch_id'], NULL, NULL,
        't.ensemble_batch_id IN (SELECT b.batch_id FROM @extschema@.mltrainingbatches b WHERE b.symbol = $1) '
        'AND t.member_batch_id IN (SELECT b.batch_id FROM @extschema@.mltrainingbatches b WHERE b.symbol = $1)'),
    -- (no foreign key: a deployment outlives a deleted batch)
    (8, 'deployments', 'cryptoml_internal.deployments', 't.symbol = $1', ARRAY['id'], NULL, NULL, 't.symbol = $1'),
    (9, 'forecasts', '@extschema@.persistentforecasts', 't.symbol = $1', ARRAY['id'], 'id', 'false', 't.symbol = $1'),
    (10, 'trades', '@extschema@.tradesimulations', 't.symbol = $1', ARRAY['id'], 'id', 'false', 't.symbol = $1'),
    (11, 'backtest_runs', '@extschema@.mlbacktestruns', 't.symbol = $1', ARRAY['run_id'], NULL, NULL, 't.symbol = $1'),
    (12, 'backtest_predictions', '@extschema@.mlbacktestpredictions',
        't.run_id IN (SELECT r.run_id FROM @extschema@.mlbacktestruns r WHERE r.symbol = $1)', ARRAY['run_id', 'bar_timestamp'], NULL, NULL,
        't.run_id IN (SELECT r.run_id FROM @extschema@.mlbacktestruns r WHERE r.symbol = $1)'),
    (13, 'backtest_trades', '@extschema@.mlbacktesttrades',
        't.run_id IN (SELECT r.run_id FROM @extschema@.mlbacktestruns r WHERE r.symbol = $1)', ARRAY['run_id', 'trade_no'], NULL, NULL,
        't.run_id IN (SELECT r.run_id FROM @extschema@.mlbacktestruns r WHERE r.symbol = $1)'),
    (14, 'volatility_models', 'cryptoml_internal.volatility_models', 't.symbol = $1', ARRAY['id'], NULL, NULL, 't.symbol = $1'),
    (15, 'bar_anomalies', 'cryptoml_internal.bar_anomalies', 't.symbol = $1', ARRAY['bar_timestamp'], NULL, NULL, 't.symbol = $1'),
    (16, 'anomaly_checkpoint', 'cryptoml_internal.anomaly_checkpoint', 't.symbol = $1', ARRAY['symbol'], NULL, NULL, 't.symbol = $1'),
    (17, 'ingest_state', 'cryptoml_internal.ingest_state', 't.symbol = $1', ARRAY['exchange'], NULL, NULL, 't.symbol = $1'),
    (18, 'tune_runs', 'cryptoml_internal.tune_runs', 't.symbol = $1', ARRAY['tune_id'], NULL, NULL, 't.symbol = $1'),
    (19, 'tune_trials', 'cryptoml_internal.tune_trials',
        't.tune_id IN (SELECT r.tune_id FROM cryptoml_internal.tune_runs r WHERE r.symbol = $1)', ARRAY['tune_id', 'trial'], NULL, NULL,
        't.tune_id IN (SELECT r.tune_id FROM cryptoml_internal.tune_runs r WHERE r.symbol = $1)'),
    (20, 'monitor_alerts', 'cryptoml_internal.monitor_alerts', 't.symbol = $1', ARRAY['alert'], NULL, NULL, 't.symbol = $1')
  $$;

CREATE FUNCTION cryptoml_internal.node_parts() RETURNS SETOF text
  LANGUAGE sql IMMUTABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT s.part FROM cryptoml_internal.node_part_specs() s ORDER BY s.ord $$;
COMMENT ON FUNCTION cryptoml_internal.node_parts() IS 'The parts of a symbol''s data a move copies, in dependency order (import in this order, purge in the reverse one).';

-- Checks a move function's symbol and, unless NULL is allowed (part_given false), its part.
CREATE FUNCTION cryptoml_internal.node_check_part(symbol text, part text, part_given boolean, fn text) RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF symbol IS NULL OR symbol !~ '^[A-Z0-9]{2,20}$' THEN
      RAISE EXCEPTION '%: invalid symbol "%"', fn, left(coalesce(symbol, 'NULL'), 40)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: a symbol matches ^[A-Z0-9]{2,20}$';
    END IF;
    IF part_given AND NOT EXISTS (SELECT 1 FROM cryptoml_internal.node_part_specs() p WHERE p.part = node_check_part.part) THEN
      RAISE EXCEPTION '%: unknown part "%"', fn, left(coalesce(part, 'NULL'), 40)
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'rule: part is one of ' || (SELECT string_agg(p.part, ', ' ORDER BY p.ord) FROM cryptoml_internal.node_part_specs() p);
    END IF;
  END
  $$;

-- The column list of a table (in attribute order), without `without` and dropped columns.
CREATE FUNCTION cryptoml_internal.node_columns(tbl text, without text) RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
   WHERE a.attrelid = tbl::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname IS DISTINCT FROM without
  $$;

CREATE FUNCTION cryptoml_internal.node_export(symbol text, part text, after text, max_rows integer) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp SET extra_float_digits = 3 SET bytea_output = 'hex'
  AS $$
  DECLARE
    s record;
    cur jsonb;
    cmp text := '';
    keys text;
    rows jsonb;
    n integer;
    last_key jsonb;
    next_key jsonb;
  BEGIN
    PERFORM cryptoml_internal.node_check_part(symbol, part, true, 'node_export');
    SELECT * INTO s FROM cryptoml_internal.node_part_specs() p WHERE p.part = node_export.part;
    IF max_rows IS NULL OR max_rows < 1 OR max_rows > 100000 THEN
      RAISE EXCEPTION 'node_export: invalid max_rows %', coalesce(max_rows::text, 'NULL')
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: max_rows is between 1 and 100000';
    END IF;
    keys := (SELECT string_agg('t.' || quote_ident(k), ', ' ORDER BY i) FROM unnest(s.key_cols) WITH ORDINALITY u(k, i));
    IF after IS NOT NULL THEN
      BEGIN
        cur := after::jsonb;
      EXCEPTION WHEN others THEN
        cur := NULL;
      END;
      IF cur IS NULL OR jsonb_typeof(cur) <> 'array' OR jsonb_array_length(cur) <> cardinality(s.key_cols)
         OR EXISTS (SELECT 1 FROM jsonb_array_elements(cur) e WHERE jsonb_typeof(e) = 'null') THEN
        RAISE EXCEPTION 'node_export: invalid cursor "%" for part %', left(after, 80), part
          USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('rule: the cursor is the "next" of the previous chunk of the same part: a JSON array of %s (%s)',
                                cardinality(s.key_cols), array_to_string(s.key_cols, ', '));
      END IF;
      -- the key's values typed as its columns: (t.k1, t.k2) > ((cur->>0)::type1, (cur->>1)::type2)
      cmp := format(' AND (%s) > (%s)', keys,
        (SELECT string_agg(format('($2 ->> %s)::%s', i - 1, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY i)
           FROM unnest(s.key_cols) WITH ORDINALITY u(k, i)
           JOIN pg_attribute a ON a.attrelid = s.tbl::regclass AND a.attname = u.k));
    END IF;
    -- the next max_rows rows by key (and one more: is there a next chunk?); the aggregates take them
    -- in the subquery's order without sorting them again (importing does not rely on it)
    EXECUTE format('SELECT coalesce(jsonb_agg(q.r) FILTER (WHERE q.o <= $3), ''[]''), count(*)::integer, '
                   '(array_agg(q.k) FILTER (WHERE q.o = $3))[1] '
                   'FROM (SELECT to_jsonb(t) AS r, jsonb_build_array(%2$s) AS k, row_number() OVER (ORDER BY %2$s) AS o '
                   '        FROM %1$s t WHERE %3$s%4$s ORDER BY %2$s LIMIT $3 + 1) q',
                   s.tbl, keys, s.filter, cmp)
      INTO rows, n, last_key USING symbol, cur, max_rows;
    IF n > max_rows THEN next_key := last_key; END IF;
    RETURN jsonb_build_object('rows', rows, 'next', next_key::text);
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_export(text, text, text, integer) IS 'One chunk of a symbol''s rows of a part for a move: {"rows": [to_jsonb of each row], "next": the cursor to pass as after for the next chunk, NULL after the last}. Keyset pagination on the part''s stable key (never OFFSET).';

CREATE FUNCTION cryptoml_internal.node_import(symbol text, part text, rows jsonb) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp SET session_replication_role = replica
  AS $$
  DECLARE
    s record;
    bad jsonb;
    cols text;
    src text;
    seq text;
    n bigint := 0;
    m bigint := 0;
  BEGIN
    PERFORM cryptoml_internal.node_check_part(symbol, part, true, 'node_import');
    SELECT * INTO s FROM cryptoml_internal.node_part_specs() p WHERE p.part = node_import.part;
    IF rows IS NULL OR jsonb_typeof(rows) <> 'array' THEN
      RAISE EXCEPTION 'node_import: rows must be a JSON array (got %)', coalesce(jsonb_typeof(rows), 'NULL')
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: rows is the "rows" array of a node_export chunk';
    END IF;
    IF jsonb_array_length(rows) > 100000 THEN
      RAISE EXCEPTION 'node_import: % rows in one chunk', jsonb_array_length(rows)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: at most 100000 rows per call (node_export''s max_rows)';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(rows) e WHERE jsonb_typeof(e) <> 'object') THEN
      RAISE EXCEPTION 'node_import: every element of rows must be a JSON object (a row)'
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: rows is the "rows" array of a node_export chunk';
    END IF;
    src := format('jsonb_populate_recordset(NULL::%s, $3)', s.tbl);
    -- every row belongs to the symbol (and a row of a child part to a parent of the symbol here)
    EXECUTE format('SELECT to_jsonb(t) FROM %s t WHERE (%s) IS NOT TRUE LIMIT 1', src, s."check") INTO bad USING symbol, part, rows;
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'node_import: a row of part % is not of symbol %', part, symbol
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = format('rule: %s; row: %s', CASE WHEN s."check" = 't.symbol = $1' THEN 'every row carries the symbol imported'
                                                        ELSE 'every row references rows of the symbol already imported here (parts in the order of node_parts())' END,
                              left((SELECT jsonb_object_agg(k, bad -> k) FROM unnest(s.key_cols || ARRAY['symbol', 'batch_id', 'ensemble_batch_id', 'member_batch_id', 'run_id', 'tune_id']) k
                                     WHERE bad ? k)::text, 300)),
              HINT = 'Import the parts of one symbol in the order of cryptoml_internal.node_parts().';
    END IF;
    IF s.id_col IS NULL THEN
      EXECUTE format('INSERT INTO %s SELECT * FROM %s t ORDER BY %s ON CONFLICT DO NOTHING', s.tbl, src,
                     (SELECT string_agg('t.' || quote_ident(k), ', ') FROM unnest(s.key_cols) k))
        USING symbol, part, rows;
      GET DIAGNOSTICS n = ROW_COUNT;
    ELSE
      cols := cryptoml_internal.node_columns(s.tbl, s.id_col);
      -- rows with a natural key: a new id from the local sequence, a repeated row conflicts
      EXECUTE format('INSERT INTO %1$s (%2$s) SELECT %2$s FROM %3$s t WHERE %4$s ORDER BY t.%5$I ON CONFLICT DO NOTHING',
                     s.tbl, cols, src, s.natural_key, s.id_col)
        USING symbol, part, rows;
      GET DIAGNOSTICS n = ROW_COUNT;
      -- the others: a new id, remembered against the source's
      IF s.natural_key <> 'true' THEN
        seq := pg_get_serial_sequence(s.tbl, s.id_col);
        EXECUTE format(
          'WITH x AS (SELECT DISTINCT ON (t.%5$I) t.* FROM %3$s t WHERE (%4$s) IS NOT TRUE '
          '             AND NOT EXISTS (SELECT 1 FROM cryptoml_internal.node_moved_rows m '
          '                              WHERE m.symbol = $1 AND m.part = $2 AND m.source_id = t.%5$I) ORDER BY t.%5$I), '
          ' src AS (SELECT x.*, nextval(%6$L::regclass) AS cml_new_id FROM x ORDER BY x.%5$I), '
          ' ins AS (INSERT INTO %1$s (%5$I, %2$s) SELECT src.cml_new_id, %2$s FROM src RETURNING 1), '
          ' map AS (INSERT INTO cryptoml_internal.node_moved_rows (symbol, part, source_id, local_id) '
          '         SELECT $1, $2, src.%5$I, src.cml_new_id FROM src) '
          'SELECT count(*) FROM ins', s.tbl, cols, src, s.natural_key, s.id_col, seq)
          INTO m USING symbol, part, rows;
        n := n + m;
      END IF;
    END IF;
    IF part = 'batches' AND n > 0 THEN
      -- the registry changed: its statement trigger invalidates the sessions' production caches
      PERFORM set_config('session_replication_role', 'origin', true);
      UPDATE @extschema@.mltrainingbatches b SET id = b.id WHERE false;
    END IF;
    RETURN n;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_import(text, text, jsonb) IS 'Imports a node_export chunk of a symbol''s part with triggers off; ON CONFLICT DO NOTHING, so a repeated chunk writes nothing; SERIAL ids are given by the local sequence, bigserial ids kept. Every row must be of the symbol. Returns the rows written.';

CREATE FUNCTION cryptoml_internal.node_counts(symbol text) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    s record;
    n bigint;
    result jsonb := '{}';
  BEGIN
    PERFORM cryptoml_internal.node_check_part(symbol, NULL, false, 'node_counts');
    FOR s IN SELECT * FROM cryptoml_internal.node_part_specs() p ORDER BY p.ord LOOP
      EXECUTE format('SELECT count(*) FROM %s t WHERE %s', s.tbl, s.filter) INTO n USING symbol;
      result := result || jsonb_build_object(s.part, n);
    END LOOP;
    RETURN result;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_counts(text) IS 'The symbol''s rows of every part here: {part: rows}.';

CREATE FUNCTION cryptoml_internal.node_purge(symbol text, keep_bars boolean) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp SET session_replication_role = replica
  AS $$
  DECLARE
    s record;
    n bigint;
    ref record;
    result jsonb := '{}';
  BEGIN
    PERFORM cryptoml_internal.node_check_part(symbol, NULL, false, 'node_purge');
    IF keep_bars IS NULL THEN
      RAISE EXCEPTION 'node_purge: keep_bars must be true or false' USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: keep_bars true keeps the bars (a leader that stays here as a replica; its indicator checkpoints go: a replica does not maintain them)';
    END IF;
    IF EXISTS (SELECT 1 FROM cryptoml_internal.node_symbols ns WHERE ns.symbol = node_purge.symbol AND ns.role = 'owned') THEN
      RAISE EXCEPTION 'node_purge: % is owned by this node', symbol USING ERRCODE = 'object_in_use',
        DETAIL = 'rule: a node purges a symbol only after the move switched it to another node (role replica or none here)';
    END IF;
    -- an ensemble of another symbol using one of its models as a member (the foreign key, off here)
    SELECT e.ensemble_batch_id, e.member_batch_id INTO ref
      FROM cryptoml_internal.ensemble_members e
      JOIN @extschema@.mltrainingbatches mb ON mb.batch_id = e.member_batch_id AND mb.symbol = node_purge.symbol
      JOIN @extschema@.mltrainingbatches eb ON eb.batch_id = e.ensemble_batch_id AND eb.symbol <> node_purge.symbol
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'node_purge: model % of % is a member of ensemble %, of another symbol', ref.member_batch_id, symbol, ref.ensemble_batch_id
        USING ERRCODE = 'foreign_key_violation', DETAIL = 'rule: a member batch cannot be deleted while an ensemble uses it';
    END IF;
    FOR s IN SELECT * FROM cryptoml_internal.node_part_specs() p ORDER BY p.ord DESC LOOP
      n := 0;
      IF NOT (keep_bars AND s.part = 'bars') THEN
        EXECUTE format('DELETE FROM %s t WHERE %s', s.tbl, s.filter) USING symbol;
        GET DIAGNOSTICS n = ROW_COUNT;
      END IF;
      result := jsonb_build_object(s.part, n) || result;
    END LOOP;
    DELETE FROM cryptoml_internal.node_moved_rows m WHERE m.symbol = node_purge.symbol;
    PERFORM cryptoml_internal.audit('node_purge', symbol, NULL, jsonb_build_object('keep_bars', keep_bars, 'deleted', result));
    -- the registry changed: its statement trigger invalidates the sessions' production caches
    PERFORM set_config('session_replication_role', 'origin', true);
    UPDATE @extschema@.mltrainingbatches b SET id = b.id WHERE false;
    RETURN result;
  END
  $$;
COMMENT ON FUNCTION cryptoml_internal.node_purge(text, boolean) IS 'Deletes the symbol''s rows of every part (with keep_bars the bars stay: a leader replicated here; its indicator checkpoints go, a replica does not maintain them), children first, triggers off; refuses a symbol this node owns; recorded in the audit trail (action node_purge). Returns {part: rows deleted}.';

REVOKE ALL ON TABLE cryptoml_internal.node_moved_rows FROM PUBLIC;
REVOKE ALL ON FUNCTION cryptoml_internal.node_part_specs(), cryptoml_internal.node_parts(),
  cryptoml_internal.node_check_part(text, text, boolean, text), cryptoml_internal.node_columns(text, text),
  cryptoml_internal.node_export(text, text, text, integer), cryptoml_internal.node_import(text, text, jsonb),
  cryptoml_internal.node_counts(text), cryptoml_internal.node_purge(text, boolean) FROM PUBLIC;

-- ==== indicator window functions (0.10.0) ====
-- Overloads of the array functions on scalar arguments, used with OVER (PARTITION BY ... ORDER BY ...):
-- ml_rsi(close) OVER w, (ml_macd(close) OVER w).signal, ... Same kernels, same parameters and
-- defaults, the array function's values bit for bit (docs/indicators.md "Window functions").
-- Not STRICT: a row with a NULL price gets NULL and is skipped; a NULL parameter gives NULL rows.
CREATE TYPE ml_macd_value AS (macd float8, signal float8, hist float8);
COMMENT ON TYPE ml_macd_value IS 'One row of ml_macd(close) OVER w: MACD line, signal line and histogram (NULL before row slow+signal-2).';
CREATE TYPE ml_bollinger_value AS (upper float8, middle float8, lower float8);
COMMENT ON TYPE ml_bollinger_value IS 'One row of ml_bollinger(close) OVER w: upper, middle and lower band (NULL before row period-1).';
CREATE TYPE ml_stochastic_value AS (k float8, d float8);
COMMENT ON TYPE ml_stochastic_value IS 'One row of ml_stochastic(high, low, close) OVER w: fast %K and %D.';

CREATE FUNCTION ml_rsi(close float8, period integer DEFAULT 14) RETURNS float8
  AS 'MODULE_PATHNAME', 'ml_rsi_window' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ml_rsi(float8, integer) IS 'Window function: Wilder RSI of the partition''s closes up to this row in window order, equal to ml_rsi(float8[]); NULL where no value exists yet.';
CREATE FUNCTION ml_macd(close float8, fast integer DEFAULT 12, slow integer DEFAULT 26, signal integer DEFAULT 9)
  RETURNS ml_macd_value
  AS 'MODULE_PATHNAME', 'ml_macd_window' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ml_macd(float8, integer, integer, integer) IS 'Window function: MACD line, signal and histogram up to this row in window order, equal to ml_macd(float8[]).';
CREATE FUNCTION ml_bollinger(close float8, period integer DEFAULT 20, k float8 DEFAULT 2) RETURNS ml_bollinger_value
  AS 'MODULE_PATHNAME', 'ml_bollinger_window' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ml_bollinger(float8, integer, float8) IS 'Window function: Bollinger bands of the last period closes in window order, equal to ml_bollinger(float8[]).';
CREATE FUNCTION ml_stochastic(high float8, low float8, close float8, k integer DEFAULT 14, d integer DEFAULT 3)
  RETURNS ml_stochastic_value
  AS 'MODULE_PATHNAME', 'ml_stochastic_window' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ml_stochastic(float8, float8, float8, integer, integer) IS 'Window function: fast stochastic %K and %D up to this row in window order, equal to ml_stochastic(float8[], ...).';
CREATE FUNCTION ml_volatility(close float8, "window" integer DEFAULT 5) RETURNS float8
  AS 'MODULE_PATHNAME', 'ml_volatility_window' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ml_volatility(float8, integer) IS 'Window function: population standard deviation of the last window one-bar returns in window order, equal to ml_volatility(float8[]).';
-- (end of indicator window functions)

-- ==== bulk loader (0.10.0) ====
-- Backfills without the row trigger (docs/ingest.md#bulk-loader): the same checks and indicators
-- (the row trigger's own code), rows stored in batches as COPY stores them, the table's statement
-- triggers fired (checkpoints, trade following, anomaly staleness). Bars are only appended after
-- each symbol's latest stored bar. SECURITY INVOKER: the caller needs INSERT on rollingChartData
-- and USAGE on its id sequence (the writer level); the file form also superuser or the privileges
-- of pg_read_server_files, as COPY FROM a file.
CREATE FUNCTION ml_load_bars(path text)
  RETURNS TABLE (symbol text, bars bigint, first_bar timestamp, last_bar timestamp)
  AS 'MODULE_PATHNAME', 'ml_load_bars_file' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_load_bars(text) IS 'Appends the bars of a CSV file on the server (absolute path, plain or gzip; columns symbol,timestamp,open,high,low,close,volume, header optional) to rollingChartData with their indicators, as the insert trigger computes them; one row per symbol loaded. Superusers and pg_read_server_files only.';
CREATE FUNCTION ml_load_bars(source regclass)
  RETURNS TABLE (symbol text, bars bigint, first_bar timestamp, last_bar timestamp)
  AS 'MODULE_PATHNAME', 'ml_load_bars_table' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ml_load_bars(regclass) IS 'Appends the bars of a table the caller can read (e.g. filled with \copy; columns symbol, timestamp, open, high, low, close, volume) to rollingChartData with their indicators, in symbol, timestamp order; one row per symbol loaded.';
REVOKE ALL ON FUNCTION ml_load_bars(text), ml_load_bars(regclass) FROM PUBLIC;
-- (end of bulk loader)

-- ==== ingest path (0.10.0) ====
-- Test hook: {v / 10^scale} encoded by the indicator trigger's numeric encoder against
-- int64_div_fast_to_numeric, byte for byte: the number of values that differ (must be 0).
CREATE FUNCTION cryptoml_internal.column_numeric_mismatches(v bigint[], scale integer) RETURNS bigint
  AS 'MODULE_PATHNAME', 'cml_column_numeric_mismatches' LANGUAGE C IMMUTABLE STRICT;
REVOKE ALL ON FUNCTION cryptoml_internal.column_numeric_mismatches(bigint[], integer) FROM PUBLIC;
-- (end of ingest path)

-- pgAudit object auditing of the tables above, when the server runs pgAudit with pgaudit.role set
SELECT ml_pgaudit_objects();

