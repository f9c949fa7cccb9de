-- cryptoml 0.4.0 -> 0.5.0 (issue 14): security and integrity. Every function that runs SQL pins its
-- search_path; the admin level loses TRIGGER, TRUNCATE, REFERENCES and UPDATE of logs; checkpoints
-- record their origin; model bytes carry a checksum; options and bars are checked more strictly.
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.5.0'" to load this file. \quit

-- ===========================================================================================
-- Tables
-- ===========================================================================================
-- Checkpoints written before 0.5.0 are origin 'user': an operation interrupted under 0.4.0
-- starts afresh instead of resuming from a row any writer could have inserted.
ALTER TABLE recoveryState ADD COLUMN origin TEXT NOT NULL DEFAULT 'user';
ALTER TABLE recoveryState ADD CONSTRAINT recoverystate_origin_check CHECK (origin IN ('user', 'cryptoml'));
COMMENT ON COLUMN recoveryState.origin IS 'Who wrote the checkpoint: cryptoml (its own operations, which resume only from these) or user (ml_checkpoint, INSERT). Only the owner writes cryptoml, and the admin level through ml_retrain_all''s step. Added in 0.5.0.';

-- The bytes stored so far are taken as they are: their checksum is recorded now.
ALTER TABLE cryptoml_internal.models ADD COLUMN model_sha256 BYTEA;
UPDATE cryptoml_internal.models SET model_sha256 = pg_catalog.sha256(model);
ALTER TABLE cryptoml_internal.models ALTER COLUMN model_sha256 SET NOT NULL;
COMMENT ON COLUMN cryptoml_internal.models.model_sha256 IS 'SHA-256 of model, recorded when the model was stored; every load checks the bytes against it (added in 0.5.0).';

-- ===========================================================================================
-- Functions (pinned search_path, new checks)
-- ===========================================================================================
CREATE OR REPLACE FUNCTION ml_log(level text, category text, subcategory text, message text,
                       context jsonb DEFAULT NULL, symbol text DEFAULT NULL) RETURNS boolean
  AS 'MODULE_PATHNAME', 'ml_log' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION ml_log_flush(timeout_ms integer DEFAULT 10000) RETURNS boolean
  AS 'MODULE_PATHNAME', 'ml_log_flush' LANGUAGE C VOLATILE STRICT SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION cryptoml_internal.log_queue_state() RETURNS jsonb
  AS 'MODULE_PATHNAME', 'cml_log_queue_state' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION ml_checkpoint(service_name text, operation_id text, checkpoint_type text,
                              state jsonb DEFAULT '{}') RETURNS void
  AS 'MODULE_PATHNAME', 'ml_checkpoint' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION ml_recovery_last(service_name text, operation_id text) RETURNS SETOF recoveryState
  LANGUAGE sql STABLE STRICT ROWS 1 SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT r.* FROM @extschema@.recoverystate AS r
    WHERE r.service_name = $1 AND r.operation_id = $2
    ORDER BY r.created_at DESC, r.id DESC LIMIT 1
  $$;

CREATE OR REPLACE FUNCTION ml_recovery_status()
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

CREATE OR REPLACE FUNCTION ml_grant_access(role regrole, access text) RETURNS void
  LANGUAGE plpgsql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r text := quote_ident((SELECT rolname FROM pg_roles WHERE oid = role));
    s text := quote_ident('@extschema@');
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
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_workers(), %s.ml_health() TO %s', s, s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_performance(text, timestamp), %s.ml_forecast_quality(text, integer, timestamp), '
                   '%s.ml_calibration(text, integer, timestamp), %s.ml_backtest_calibration(text) TO %s', s, s, s, s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_ingest_status() TO %s', s, r);
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
    END IF;
  END
  $$;

CREATE OR REPLACE FUNCTION ml_revoke_access(role regrole) RETURNS void
  LANGUAGE plpgsql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r text := quote_ident((SELECT rolname FROM pg_roles WHERE oid = role));
    s text := quote_ident('@extschema@');
  BEGIN
    EXECUTE format('REVOKE ALL ON %s.rollingchartdata, %s.persistentforecasts, %s.tradesimulations, %s.mltrainingbatches, '
                   '%s.mltrainingsamples, %s.systemlogs, %s.recoverystate FROM %s', s, s, s, s, s, s, s, r);
    EXECUTE format('REVOKE ALL ON SEQUENCE %s.rollingchartdata_id_seq, %s.persistentforecasts_id_seq, '
                   '%s.tradesimulations_id_seq, %s.mltrainingbatches_id_seq, %s.mltrainingsamples_id_seq, '
                   '%s.systemlogs_id_seq, %s.recoverystate_id_seq FROM %s', s, s, s, s, s, s, s, r);
    EXECUTE format('REVOKE ALL ON SCHEMA cryptoml_internal FROM %s', r);
    EXECUTE format('REVOKE ALL ON %s.ml_indicator_status, %s.ml_forecasts_live, %s.ml_chart_history FROM %s', s, s, s, r);
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
  END
  $$;

CREATE OR REPLACE FUNCTION cryptoml_internal.latest_features(symbol text) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'cml_latest_features' LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION ml_build_samples(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS bigint AS 'MODULE_PATHNAME', 'ml_build_samples' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION ml_deploy(batch_id text) RETURNS mlTrainingBatches
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    b @extschema@.mltrainingbatches;
  BEGIN
    SELECT * INTO b FROM @extschema@.mltrainingbatches t WHERE t.batch_id = ml_deploy.batch_id;
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
    UPDATE @extschema@.mltrainingbatches t SET is_production = false
     WHERE t.symbol = b.symbol AND t.forecast_horizon = b.forecast_horizon AND t.model_type = b.model_type
       AND t.is_production AND t.id <> b.id;
    UPDATE @extschema@.mltrainingbatches t SET is_production = true WHERE t.id = b.id;
    INSERT INTO cryptoml_internal.deployments (symbol, forecast_horizon, model_type, batch_id, action)
      VALUES (b.symbol, b.forecast_horizon, b.model_type, b.batch_id, 'deploy');
    PERFORM @extschema@.ml_log('info', 'ml_training', 'deploy',
      format('%s is now the production %s model of %s h%s', b.batch_id, b.model_type, b.symbol, b.forecast_horizon),
      jsonb_build_object('batch_id', b.batch_id, 'by', session_user), b.symbol::text);  -- ::text: exact types, no overload can match better
    SELECT * INTO b FROM @extschema@.mltrainingbatches t WHERE t.id = b.id;
    RETURN b;
  END
  $$;

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
    result := @extschema@.ml_deploy(previous_id);
    UPDATE cryptoml_internal.deployments SET action = 'rollback'
     WHERE id = (SELECT max(d.id) FROM cryptoml_internal.deployments d WHERE d.batch_id = previous_id);
    RETURN result;
  END
  $$;

CREATE OR REPLACE FUNCTION ml_check_drift(days integer DEFAULT 7, min_forecasts integer DEFAULT 100, threshold float8 DEFAULT 0.05)
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
             count(*) AS n, avg(((f.predicted_value > 0) = (f.actual_value > 0))::int)::float8 AS live,
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

CREATE FUNCTION cryptoml_internal.sweep_checkpoint(operation_id text, state jsonb, checkpoint_type text) RETURNS void
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    INSERT INTO @extschema@.recoverystate (service_name, operation_id, state_data, checkpoint_type, origin)
    VALUES ('ml_training', $1, $2, $3, 'cryptoml')
  $$;

REVOKE ALL ON FUNCTION cryptoml_internal.sweep_checkpoint(text, jsonb, text) FROM PUBLIC;

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
    FOR s IN SELECT c.symbol FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) AS c(symbol)
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
    RETURN n;
  END
  $$;

CREATE OR REPLACE FUNCTION ml_forecast_all(symbol text) RETURNS integer
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    bar timestamp;
    h integer;
    written integer := 0;
    sigma float8;        -- std of the last hour's returns between stored bars, in %
    vol_pct float8;      -- share of the last 24 hours' hourly sigmas at or below it
    closes float8[];     -- the last 241 closes, newest first
    steps float8[];      -- cumulative absolute moves from the newest bar back
    er float8;           -- efficiency ratio over the trend window
    regime text;
    n integer;
  BEGIN
    SELECT max(r.timestamp) INTO bar FROM @extschema@.rollingchartdata r WHERE r.symbol = ml_forecast_all.symbol;
    IF bar IS NULL THEN
      RAISE EXCEPTION 'unknown symbol "%": it has no bars', left(symbol, 40) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- volatility of the last hour and of each of the last 24 hours (returns between stored bars)
    WITH b AS (SELECT r.timestamp, r.close::float8 AS c FROM @extschema@.rollingchartdata r
                WHERE r.symbol = ml_forecast_all.symbol AND r.timestamp > bar - interval '1441 minutes'),
         ret AS (SELECT timestamp, 100 * (c / lag(c) OVER (ORDER BY timestamp) - 1) AS x FROM b),
         hourly AS (SELECT floor(extract(epoch FROM bar - timestamp) / 3600)::int AS k, stddev_samp(x) AS s
                      FROM ret WHERE x IS NOT NULL GROUP BY 1)
    SELECT (SELECT hr.s FROM hourly hr WHERE hr.k = 0),
           (SELECT avg((hr.s <= cur.s)::int)::float8 FROM hourly hr, hourly cur WHERE cur.k = 0 AND hr.s IS NOT NULL)
      INTO sigma, vol_pct;
    -- the last 241 closes and the cumulative absolute moves, for the efficiency ratios
    WITH b AS (SELECT r.close::float8 AS c, r.timestamp FROM @extschema@.rollingchartdata r
                WHERE r.symbol = ml_forecast_all.symbol AND r.timestamp <= bar ORDER BY r.timestamp DESC LIMIT 241),
         d AS (SELECT c, timestamp, abs(c - lead(c) OVER (ORDER BY timestamp DESC)) AS step FROM b),
         e AS (SELECT c, timestamp, sum(step) OVER (ORDER BY timestamp DESC) AS cum FROM d)
    SELECT array_agg(c ORDER BY timestamp DESC), array_agg(cum ORDER BY timestamp DESC) INTO closes, steps FROM e;
    FOR h IN SELECT x::integer FROM jsonb_array_elements_text(@extschema@.ml_config_get('forecasting.horizons')) AS x LOOP
      -- price_direction: the production model, else the zero-change baseline
      IF NOT EXISTS (SELECT 1 FROM @extschema@.persistentforecasts f WHERE f.symbol = ml_forecast_all.symbol
                       AND f.forecast_type = 'price_direction' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
        IF EXISTS (SELECT 1 FROM @extschema@.mltrainingbatches m WHERE m.symbol = ml_forecast_all.symbol
                     AND m.forecast_horizon = h AND m.is_production) THEN
          PERFORM @extschema@.ml_forecast(symbol, h);
        ELSE
          INSERT INTO @extschema@.persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                       model_version, expires_at, bar_timestamp)
            VALUES (symbol, 'price_direction', NULL, 0, h, 'stat:zero-change', bar + make_interval(mins => h), bar);
        END IF;
        written := written + 1;
      END IF;
      -- volatility: the realized volatility expected over the horizon, sigma * sqrt(h)
      IF sigma IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.persistentforecasts f WHERE f.symbol = ml_forecast_all.symbol
                       AND f.forecast_type = 'volatility' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
        INSERT INTO @extschema@.persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                     model_version, expires_at, bar_timestamp)
          VALUES (symbol, 'volatility', NULL, round((sigma * sqrt(h))::numeric, 8), h, 'stat:sigma60-sqrt-h',
                  bar + make_interval(mins => h), bar);
        written := written + 1;
      END IF;
      -- trend: the market regime, from the efficiency ratio over min(max(h, 10), 240) bars and
      -- the volatility percentile
      IF NOT EXISTS (SELECT 1 FROM @extschema@.persistentforecasts f WHERE f.symbol = ml_forecast_all.symbol
                       AND f.forecast_type = 'trend' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
        n := least(greatest(h, 10), 240, coalesce(array_length(closes, 1), 1) - 1);
        -- ER over the last n moves; a flat window (no move at all) is 0: no trend
        er := CASE WHEN n < 1 THEN NULL WHEN steps[n] > 0 THEN abs(closes[1] - closes[n + 1]) / steps[n] ELSE 0 END;
        regime := CASE WHEN vol_pct >= 0.9 THEN 'volatile' WHEN er >= 0.3 THEN 'trending' ELSE 'ranging' END;
        IF er IS NOT NULL THEN
          INSERT INTO @extschema@.persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                       model_version, expires_at, bar_timestamp)
            VALUES (symbol, 'trend', NULL, round(er::numeric, 8), h, 'stat:regime-' || regime,
                    bar + make_interval(mins => h), bar);
          written := written + 1;
        END IF;
      END IF;
    END LOOP;
    RETURN written;
  END
  $$;

CREATE OR REPLACE FUNCTION ml_workers(OUT worker text, OUT database text, OUT state text, OUT pid integer, OUT started_at timestamptz,
                           OUT last_run timestamptz, OUT next_run timestamptz, OUT cycles bigint, OUT errors bigint,
                           OUT last_error text)
  RETURNS SETOF record AS 'MODULE_PATHNAME', 'ml_workers' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION ml_start_workers() RETURNS boolean AS 'MODULE_PATHNAME', 'ml_start_workers' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION ml_stop_workers() RETURNS boolean AS 'MODULE_PATHNAME', 'ml_stop_workers' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION cryptoml_internal.monitor_forget_unconfigured() RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    a record;
    n integer := 0;
  BEGIN
    FOR a IN DELETE FROM cryptoml_internal.monitor_alerts m
              WHERE m.symbol NOT IN (SELECT c.s FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) AS c(s))
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
      SELECT c.s FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) AS c(s) WHERE for_symbol IS NULL
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
      FOR a IN
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
           format('%s of %s bars have inconsistent prices or out-of-range indicators', q.invalid, q.present))
        ) AS v(alert, level, value, threshold, bad, detail)
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

CREATE OR REPLACE FUNCTION cryptoml_internal.prediction_stats(OUT calls bigint, OUT sampled integer, OUT p50_ms float8, OUT p95_ms float8)
  AS 'MODULE_PATHNAME', 'cml_prediction_stats' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION cryptoml_internal.delete_history(symbol text, before timestamp, max_rows integer) RETURNS bigint
  AS 'MODULE_PATHNAME', 'cml_delete_history' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION cryptoml_internal.retention_step(kind text, max_rows integer) RETURNS bigint
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
      COMMIT;
      PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
      EXIT WHEN k = 0;
    END LOOP;
    IF bars > 0 THEN
      PERFORM @extschema@.ml_log('info', 'data', 'compression', format('archived %s bars older than data.compressionThreshold', bars),
                                 jsonb_build_object('bars', bars), NULL);
    END IF;
    PERFORM pg_catalog.set_config('search_path', saved_path, true);
  END
  $$;

CREATE OR REPLACE PROCEDURE ml_apply_retention(INOUT deleted bigint DEFAULT NULL)
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

CREATE OR REPLACE PROCEDURE ml_build_samples_all(INOUT samples bigint DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION cryptoml_internal.test_second_launcher() RETURNS boolean
  AS 'MODULE_PATHNAME', 'cml_test_second_launcher' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION cryptoml_internal.statement_bar_changes(OUT symbol text, OUT since timestamp) RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'cml_statement_bar_changes' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION ml_simulate(symbol text, horizon integer DEFAULT 15, tp_sigma float8 DEFAULT 2, sl_sigma float8 DEFAULT 1,
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
      SELECT c.symbol FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) c(symbol)
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

CREATE OR REPLACE FUNCTION cryptoml_internal.backtest_run(run_id text, symbol text, horizon integer, from_ts timestamp, to_ts timestamp,
    model_type text, params jsonb) RETURNS integer
  AS 'MODULE_PATHNAME', 'cml_backtest_run' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION cryptoml_internal.check_backtest_options(model_type text, options jsonb) RETURNS void
  AS 'MODULE_PATHNAME', 'cml_check_backtest_options' LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION cryptoml_internal.check_backtest_options(text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION ml_backtest(symbol text, horizon integer, model_type text DEFAULT 'xgboost', "from" timestamp DEFAULT NULL,
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
                     'sequenceLength', 'hiddenSize', 'numLayers', 'lstmLearningRate', 'maxEpochs', 'batchSize');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'unknown backtest option(s): %', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: options are retrainEvery, windowSize, validationSplit, maxDepth, learningRate, numRounds, tpSigma, slSigma, feePct, slippagePct, minEdgePct, confidenceThreshold, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, lstmLearningRate, maxEpochs, batchSize';
    END IF;
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_each(o) e(k, v) WHERE jsonb_typeof(v) <> 'number';
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'backtest option(s) % must be JSON numbers', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: every option is a number (integers for retrainEvery, windowSize, maxDepth, numRounds, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, maxEpochs, batchSize)';
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
      'batchSize', @extschema@.ml_config_get('training.batchSize')) || o;
    -- (integers and their ranges: the caller's options were checked above, the configuration's by its rules)
    fee := (p ->> 'feePct')::float8;
    slip := (p ->> 'slippagePct')::float8;
    IF horizon <= 0 OR (p ->> 'retrainEvery')::integer <= 0 THEN
      RAISE EXCEPTION 'invalid backtest: horizon %, retrainEvery %', horizon, p ->> 'retrainEvery'
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: horizon > 0 and retrainEvery > 0 minutes';
    END IF;
    SELECT min(s.bar_timestamp), max(s.bar_timestamp) INTO smin, smax FROM @extschema@.mltrainingsamples s
     WHERE s.symbol = ml_backtest.symbol AND s.forecast_horizon = ml_backtest.horizon AND s.target IS NOT NULL;
    IF smin IS NULL THEN
      RAISE EXCEPTION 'no training samples for % at horizon %', left(symbol, 40), horizon USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = format('SELECT ml_build_samples(%L, %s);', symbol, horizon);
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
        USING ERRCODE = 'data_exception', DETAIL = 'rule: a model needs at least 50 samples whose target is known at its segment start',
              HINT = 'Start later, or build samples over a longer history.';
    END IF;
    UPDATE @extschema@.mlbacktestruns r SET predictions = n,
           trades = (SELECT count(*) FROM @extschema@.mlbacktesttrades x WHERE x.run_id = id) WHERE r.run_id = id;
    SELECT count(*) AS n, sqrt(avg((p.predicted_change - p.actual_change) ^ 2)) AS rmse, sqrt(avg(p.actual_change ^ 2)) AS base,
           avg((sign(p.predicted_change) = sign(p.actual_change))::int) FILTER (WHERE p.actual_change <> 0) AS dir
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

CREATE OR REPLACE FUNCTION ml_backtest_calibration(run_id text)
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8)
  LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.mlbacktestruns r WHERE r.run_id = ml_backtest_calibration.run_id) THEN
      RAISE EXCEPTION 'no backtest run "%"', left(run_id, 60) USING ERRCODE = 'no_data_found',
        HINT = 'SELECT run_id FROM mlBacktestRuns lists the runs.';
    END IF;
    RETURN QUERY SELECT r.* FROM (
      SELECT array_agg(p.confidence) AS conf, array_agg(sign(p.predicted_change) = sign(p.actual_change)) AS hit
        FROM @extschema@.mlbacktestpredictions p
       WHERE p.run_id = ml_backtest_calibration.run_id AND p.actual_change <> 0 AND p.confidence IS NOT NULL) f,
      LATERAL cryptoml_internal.reliability_table(f.conf, f.hit) r;
  END
  $$;

-- ===========================================================================================
-- Privileges re-derived: every role granted a level under 0.4.0 gets exactly what the level
-- grants now (0.4.0's admin held TRIGGER, TRUNCATE and REFERENCES on the tables, UPDATE of the
-- logs, and writers INSERT on recoveryState.origin).
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
    RAISE NOTICE 'cryptoml 0.5.0: privileges of role % re-derived from its level (%)', r.role::pg_catalog.regrole, level;
  END LOOP;
END
$$;

-- Triggers on the extension's tables that the extension did not create (an admin could create
-- them under 0.4.0) would run inside the workers and the recompute: named here, for the owner to drop.
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT g.tgname, g.tgrelid::pg_catalog.regclass AS rel, pg_catalog.pg_get_userbyid(c.relowner) AS owner
      FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) g.tgrelid
      JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
           AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'cryptoml')
     WHERE NOT g.tgisinternal
       AND g.tgname OPERATOR(pg_catalog.<>) ALL (ARRAY['zz_cryptoml_indicators_row', 'zz_cryptoml_indicators_statement',
                                                      'zz_cryptoml_registry_changed', 'zz_trades_follow_bars']::pg_catalog.name[])
  LOOP
    RAISE WARNING 'cryptoml 0.5.0: trigger % on % was not created by cryptoml', t.tgname, t.rel
      USING HINT = 'Such a trigger runs inside cryptoml''s workers and recomputes; drop it unless you trust its owner: DROP TRIGGER ' || pg_catalog.quote_ident(t.tgname) || ' ON ' || t.rel::text || ';';
  END LOOP;
END
$$;
