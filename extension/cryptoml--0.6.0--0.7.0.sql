-- cryptoml 0.6.0 -> 0.7.0 (issue 16): operations. The audit trail (cryptoml_internal.audit_log,
-- ml_audit_log), progress of long operations (ml_progress), pgAudit object auditing
-- (ml_pgaudit_objects), the HTML dashboard (ml_dashboard), model bundles (ml_export_model,
-- ml_import_model), and the documented views the Grafana dashboard and the Prometheus exporter
-- read (ml_status_*). Deploys, rollbacks, grants, configuration and schedule changes record
-- themselves in the audit trail from now on.
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.7.0'" to load this file. \quit

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
COMMENT ON COLUMN cryptoml_internal.audit_log.action IS 'deploy, rollback, model_import, model_export, config_set, config_reset, grant, revoke, schedule, unschedule, workers_start, workers_stop.';
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
-- Functions new or changed in 0.7.0
-- ===========================================================================================
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
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_ingest_klines(text, text, jsonb) TO %s', s, r);
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
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_ingest_status(), %s.ml_ingest_klines(text, text, jsonb) FROM %s', s, s, r);
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

CREATE OR REPLACE FUNCTION ml_deploy(batch_id text) RETURNS mlTrainingBatches
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT * FROM cryptoml_internal.switch_production(batch_id, 'deploy'::text) $$;

CREATE OR REPLACE FUNCTION ml_rollback(symbol text, horizon integer, model_type text DEFAULT 'xgboost') RETURNS mlTrainingBatches
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

CREATE OR REPLACE FUNCTION ml_schedule() RETURNS TABLE (jobname text, schedule text, command text)
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

CREATE OR REPLACE FUNCTION ml_unschedule() RETURNS integer
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

CREATE OR REPLACE PROCEDURE ml_compress_history(INOUT bars bigint DEFAULT NULL)
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

CREATE FUNCTION ml_dashboard(symbol text DEFAULT NULL) RETURNS text
  AS 'MODULE_PATHNAME', 'ml_dashboard' LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION ml_dashboard(text) IS 'A self-contained HTML page (inline CSS and SVG, no script, no outside resource) of one symbol or all (NULL): per symbol the last 240 bars of close with the latest forecasts and their intervals, staleness and completeness (as ml_health), open alerts and anomalies (gaps, invalid or incomplete bars); per production model its age, live directional accuracy with its 95 % Wilson interval, reliability diagram, ECE and interval coverage over the outcomes ml_health judges; the workers (ml_workers) with their last errors; the latest backtest''s equity against buy and hold. Every figure is also in a data-field/data-value attribute. Errors: an unknown symbol (22023).';

REVOKE ALL ON FUNCTION ml_dashboard(text) FROM PUBLIC;

CREATE FUNCTION ml_export_model(batch_id text) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'ml_export_model' LANGUAGE C VOLATILE STRICT
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION ml_export_model(text) IS 'A versioned bundle of a registered model (format cryptoml-model-bundle, bundle_version 1): its mlTrainingBatches row (metrics, training window in hyperparameters), model bytes (base64) with their SHA-256, feature set, calibration and out-of-time record; an ensemble with its members'' bundles nested. Audited (model_export).';

CREATE FUNCTION ml_import_model(bundle jsonb, deploy boolean DEFAULT false) RETURNS mlTrainingBatches
  AS 'MODULE_PATHNAME', 'ml_import_model' LANGUAGE C VOLATILE
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION ml_import_model(jsonb, boolean) IS 'Registers a bundle from ml_export_model after checking all of it (format, bundle_version, feature set version, model type, field types and ranges, base64, SHA-256, that the bytes load as a model); refuses a batch_id that exists already; not production unless deploy (then ml_deploy). Nothing changes when it fails. Audited (model_import).';

CREATE FUNCTION cryptoml_internal.model_predict(batch_id text, features float8[]) RETURNS float8[]
  AS 'MODULE_PATHNAME', 'cml_model_predict' LANGUAGE C STABLE STRICT
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION cryptoml_internal.model_predict(text, float8[]) IS 'Raw predictions (% change) of a registered model for a rows x features array of feature vectors (NULL = missing), one per row; NULL for a row without the model''s sequence length of earlier rows.';

REVOKE ALL ON FUNCTION ml_export_model(text), ml_import_model(jsonb, boolean),
  cryptoml_internal.model_predict(text, float8[]) FROM PUBLIC;


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
  FROM jsonb_array_elements_text(ml_config_get('symbols')) AS s(symbol),
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
-- Privileges re-derived: every role granted a level gets exactly what the level grants now
-- (the new views and functions: ml_progress, ml_dashboard, ml_status_*, ml_audit_log, bundles).
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
    RAISE NOTICE 'cryptoml 0.7.0: privileges of role % re-derived from its level (%)', r.role::pg_catalog.regrole, level;
  END LOOP;
END
$$;

-- pgAudit object auditing of the registry, model bytes, configuration and audit trail
SELECT @extschema@.ml_pgaudit_objects();
