-- cryptoml 0.8.0 -> 0.9.0 (issue 18): scale-out by symbol. A database can be a node of a
-- cryptoml_router cluster (PL/Proxy): it then serves, writes and forecasts only the symbols it
-- owns, publishes its leaders' bars by logical replication and keeps read-only replicas of the
-- others'; symbols can move between nodes (node_export / node_import). ml_insert_bars; up to
-- 2000 symbols.
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.9.0'" to load this file. \quit

-- ===========================================================================================
-- Node identity and symbol roles (as in the install script)
-- ===========================================================================================
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

COMMENT ON COLUMN cryptoml_internal.audit_log.action IS 'deploy, rollback, model_import, model_export, config_set, config_reset, grant, revoke, schedule, unschedule, workers_start, workers_stop; on a cluster node (0.9.0) node_join, node_role, node_purge.';

-- ===========================================================================================
-- Functions changed in 0.9.0
-- ===========================================================================================
CREATE OR REPLACE FUNCTION ml_grant_access(role regrole, access text) RETURNS void
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
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_ingest_klines(text, text, jsonb), %s.ml_insert_bars(text, jsonb) TO %s', s, s, r);
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

CREATE OR REPLACE FUNCTION ml_revoke_access(role regrole) RETURNS void
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
                   '%s.ml_insert_bars(text, jsonb) FROM %s', s, s, s, r);
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

CREATE OR REPLACE FUNCTION cryptoml_internal.chart_symbols() RETURNS SETOF text
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

CREATE OR REPLACE PROCEDURE ml_retrain_all(model_type text DEFAULT 'xgboost', options jsonb DEFAULT '{}')
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

CREATE OR REPLACE FUNCTION cryptoml_internal.monitor_forget_unconfigured() RETURNS integer
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

CREATE OR REPLACE FUNCTION ml_monitor_check(for_symbol text DEFAULT NULL, at timestamptz DEFAULT now(), window_minutes integer DEFAULT 60)
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

CREATE OR REPLACE FUNCTION ml_health()
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

CREATE OR REPLACE FUNCTION cryptoml_internal.auto_simulate() RETURNS integer
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

CREATE OR REPLACE FUNCTION ml_performance(symbol text DEFAULT NULL, since timestamp DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION ml_calibration(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8,
                 ece float8, brier float8, brier_skill float8, largest_gap float8)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT r.* FROM (
    SELECT array_agg(p.conf) AS conf, array_agg(p.hit) AS hit FROM cryptoml_internal.calibration_inputs($1, $2, $3) p) f,
    LATERAL cryptoml_internal.reliability_report(f.conf, f.hit) r
  $$;

CREATE OR REPLACE FUNCTION ml_train_volatility(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, options jsonb DEFAULT '{}')
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

CREATE OR REPLACE FUNCTION ml_detect_anomalies(symbol text DEFAULT NULL) RETURNS integer
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

-- The latest price_direction forecast of each configured symbol and forecasting.horizons horizon.
CREATE OR REPLACE VIEW ml_status_forecasts AS
SELECT x.*
  FROM cryptoml_internal.served_symbols() AS s(symbol),
       jsonb_array_elements_text(ml_config_get('forecasting.horizons')) AS h(horizon),
       LATERAL (SELECT f.* FROM ml_status_forecast_history f
                 WHERE f.symbol = s.symbol AND f.horizon = h.horizon::integer
                 ORDER BY f.bar_timestamp DESC, f.created_at DESC LIMIT 1) x;

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

-- ===========================================================================================
-- Privileges re-derived: every role granted a level gets exactly what the level grants now
-- (the new function: ml_insert_bars for writers).
-- ===========================================================================================
DO $$
DECLARE
  r record;
  level text;
BEGIN
  FOR r IN
    SELECT a.grantee AS role,
           bool_or(a.privilege_type IN ('DELETE', 'TRUNCATE', 'TRIGGER')) AS admin,
           bool_or(a.privilege_type = 'INSERT') AS writer
      FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
     WHERE c.oid = '@extschema@.rollingchartdata'::pg_catalog.regclass
       AND a.grantee OPERATOR(pg_catalog.<>) 0 AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
     GROUP BY a.grantee
  LOOP
    level := CASE WHEN r.admin THEN 'admin' WHEN r.writer THEN 'writer' ELSE 'reader' END;
    PERFORM @extschema@.ml_revoke_access(r.role::pg_catalog.regrole);
    PERFORM @extschema@.ml_grant_access(r.role::pg_catalog.regrole, level);
    RAISE NOTICE 'cryptoml 0.9.0: privileges of role % re-derived from its level (%)', r.role::pg_catalog.regrole, level;
  END LOOP;
END
$$;

-- pgAudit object auditing of the registry, model bytes, configuration and audit trail
SELECT @extschema@.ml_pgaudit_objects();
