-- cryptoml 0.1.0 -> 0.2.0. A database upgraded with this script has exactly the objects of a
-- fresh 0.2.0 install (test/tap/upgrade.sh compares the two catalogs).
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.2.0'" to load this file. \quit

-- Training reads a float8[] of the features instead of parsing the jsonb of every sample.
ALTER TABLE mlTrainingSamples ADD COLUMN feature_vector DOUBLE PRECISION[];
COMMENT ON COLUMN mlTrainingSamples.feature_vector IS 'The same features as a vector in feature-set order, NaN for null (added; what training reads).';

-- a samples' features object as a vector in feature-set order (mlTrainingSamples.feature_vector)
CREATE FUNCTION cryptoml_internal.features_to_vector(features jsonb) RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'cml_features_to_vector' LANGUAGE C STABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION cryptoml_internal.features_to_vector(jsonb) FROM PUBLIC;

-- Samples stored by 0.1.0 get their vector (only those of the feature set this build knows;
-- ml_train converts any other row's jsonb when it reads it).
UPDATE mlTrainingSamples SET feature_vector = cryptoml_internal.features_to_vector(features)
  WHERE metadata->>'feature_set_version' = '1';

-- The prediction cache looks a forecast up by bar.
CREATE INDEX persistentforecasts_bar_idx ON persistentForecasts (symbol, forecast_horizon, bar_timestamp);

-- Ensembles: their members and weights.
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
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.ensemble_members', '');

-- Per-session caches of the production models (ml_forecast) follow every change of the registry.
CREATE FUNCTION cryptoml_internal.registry_changed() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cml_registry_changed' LANGUAGE C;
REVOKE ALL ON FUNCTION cryptoml_internal.registry_changed() FROM PUBLIC;
CREATE TRIGGER zz_cryptoml_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlTrainingBatches
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.registry_changed();

-- ===========================================================================================
-- Upkeep: live confidence, outcomes, drift, retraining, pg_cron schedule
-- ===========================================================================================
CREATE VIEW ml_forecasts_live AS
SELECT f.id, f.symbol, f.forecast_type, f.forecast_horizon, f.bar_timestamp, f.predicted_value, f.actual_value,
       f.model_version, f.created_at, f.expires_at,
       f.confidence AS stored_confidence,
       round((f.confidence * power(d.decay, a.age_minutes))::numeric, 2) AS confidence,
       round(a.age_minutes::numeric, 2) AS age_minutes,
       now()::timestamp < f.expires_at AS active
  FROM persistentForecasts f,
       LATERAL (SELECT greatest(extract(epoch FROM now()::timestamp - f.created_at)::float8, 0) / 60 AS age_minutes) a,
       (SELECT ml_config_get('forecasting.confidenceDecay')::float8 AS decay) d;
COMMENT ON VIEW ml_forecasts_live IS 'persistentForecasts with the confidence decayed by forecasting.confidenceDecay per minute of age (the stored value is stored_confidence).';

CREATE FUNCTION ml_fill_actuals(max_rows integer DEFAULT 100000) RETURNS bigint
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  WITH due AS (
    SELECT f.id, f.symbol, f.forecast_type, f.bar_timestamp, f.forecast_horizon, b0.close::float8 AS c0, b1.close::float8 AS c1
      FROM @extschema@.persistentforecasts f
      JOIN @extschema@.rollingchartdata b0 ON b0.symbol = f.symbol AND b0.timestamp = f.bar_timestamp
      JOIN @extschema@.rollingchartdata b1 ON b1.symbol = f.symbol
                                          AND b1.timestamp = f.bar_timestamp + make_interval(mins => f.forecast_horizon)
     WHERE f.actual_value IS NULL AND b0.close > 0
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
             -- realized efficiency ratio over the horizon
             WHEN 'trend' THEN (SELECT CASE WHEN sum(q.step) > 0 THEN abs(d.c1 - d.c0) / sum(q.step) END FROM (
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
    IF days <= 0 OR min_forecasts <= 0 OR threshold < 0 OR threshold > 1 OR threshold = 'NaN'::float8 THEN
      RAISE EXCEPTION 'invalid drift check arguments: days %, min_forecasts %, threshold %', days, min_forecasts, threshold
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: days > 0, min_forecasts > 0, 0 <= threshold <= 1';
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
                             'forecasts', r.n, 'days', days), r.symbol);
        PERFORM pg_notify('cryptoml_alerts', jsonb_build_object('alert', 'model_drift', 'symbol', r.symbol, 'horizon', r.horizon,
                          'model_version', r.model_version, 'live_accuracy', r.live, 'validation_accuracy', r.validation)::text);
      END IF;
      RETURN NEXT;
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION ml_check_drift(integer, integer, float8) IS 'Live directional accuracy of each production model (forecasts with an outcome, last days) against its validation accuracy; a drop beyond threshold over at least min_forecasts forecasts is logged and sent on NOTIFY cryptoml_alerts.';

-- A procedure (it commits after each symbol): SECURITY INVOKER, every name qualified.
CREATE PROCEDURE ml_retrain_all(model_type text DEFAULT 'xgboost', options jsonb DEFAULT '{}')
  LANGUAGE plpgsql
  AS $$
  DECLARE
    s text;
    h integer;
    b @extschema@.mltrainingbatches;
    trained integer := 0;
    failed integer := 0;
  BEGIN
    IF model_type IS NULL OR options IS NULL THEN
      RAISE EXCEPTION '% must not be NULL', CASE WHEN model_type IS NULL THEN 'model_type' ELSE 'options' END
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF model_type NOT IN ('xgboost', 'lstm', 'ensemble') THEN
      RAISE EXCEPTION 'unknown model_type "%"', model_type
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: model_type must be one of xgboost, lstm, ensemble';
    END IF;
    FOR s IN SELECT c.symbol FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) AS c(symbol)
              WHERE EXISTS (SELECT 1 FROM @extschema@.mltrainingsamples m WHERE m.symbol = c.symbol) ORDER BY 1 LOOP
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
      COMMIT;  -- one symbol's models at a time: a later failure or a kill keeps them
    END LOOP;
    PERFORM @extschema@.ml_log('info', 'ml_training', 'retrain',
      format('retrain sweep (%s): %s models trained, %s failed', model_type, trained, failed),
      jsonb_build_object('trained', trained, 'failed', failed, 'model_type', model_type), NULL);
  END
  $$;
COMMENT ON PROCEDURE ml_retrain_all(text, jsonb) IS 'Trains every configured symbol with samples at every training horizon (promotion by the registry rules), committing after each symbol; failures are logged and do not stop the sweep.';

CREATE FUNCTION ml_schedule() RETURNS TABLE (jobname text, schedule text, command text)
  LANGUAGE plpgsql VOLATILE
  AS $$
  DECLARE
    s text := quote_ident('@extschema@');
  BEGIN
    IF to_regclass('cron.job') IS NULL THEN
      RAISE EXCEPTION 'pg_cron is not installed in this database' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart, then CREATE EXTENSION pg_cron.';
    END IF;
    PERFORM cron.schedule('cryptoml-build-samples', '*/5 * * * *', format('SELECT %s.ml_build_samples()', s));
    PERFORM cron.schedule('cryptoml-fill-actuals', '* * * * *', format('SELECT %s.ml_fill_actuals()', s));
    PERFORM cron.schedule('cryptoml-drift-check', '7 * * * *', format('SELECT count(*) FROM %s.ml_check_drift()', s));
    PERFORM cron.schedule('cryptoml-retrain', '17 3 * * *', format('CALL %s.ml_retrain_all()', s));
    PERFORM cron.schedule('cryptoml-trim-cron-history', '37 4 * * *',
                          'DELETE FROM cron.job_run_details WHERE end_time < now() - interval ''7 days''');
    RETURN QUERY SELECT j.jobname::text, j.schedule::text, j.command::text FROM cron.job j
                  WHERE j.jobname LIKE 'cryptoml-%' ORDER BY 1;
  END
  $$;
COMMENT ON FUNCTION ml_schedule() IS 'Installs (or updates) the named pg_cron jobs cryptoml-*: samples, outcomes, drift check, nightly retrain, job history trim. Idempotent. Jobs run as the calling role.';

CREATE FUNCTION ml_unschedule() RETURNS integer
  LANGUAGE plpgsql VOLATILE
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
COMMENT ON FUNCTION ml_unschedule() IS 'Removes the pg_cron jobs ml_schedule installed; returns how many.';

REVOKE ALL ON ml_forecasts_live FROM PUBLIC;
REVOKE ALL ON FUNCTION ml_fill_actuals(integer), ml_check_drift(integer, integer, float8), ml_schedule(), ml_unschedule() FROM PUBLIC;
REVOKE ALL ON PROCEDURE ml_retrain_all(text, jsonb) FROM PUBLIC;


-- ===========================================================================================
-- Background workers (with cryptoml in shared_preload_libraries; see docs/workers.md)
-- ===========================================================================================
CREATE FUNCTION ml_workers(OUT worker text, OUT state text, OUT pid integer, OUT started_at timestamptz,
                           OUT last_run timestamptz, OUT next_run timestamptz, OUT cycles bigint, OUT errors bigint,
                           OUT last_error text)
  RETURNS SETOF record AS 'MODULE_PATHNAME', 'ml_workers' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ml_workers() IS 'The cryptoml background workers: state, pid, last and next run, cycles, errors, last error ("not loaded" without shared_preload_libraries).';
CREATE FUNCTION ml_start_workers() RETURNS boolean AS 'MODULE_PATHNAME', 'ml_start_workers' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ml_start_workers() IS 'Enables the background workers (until the next reload of cryptoml.workers_enabled); true when they were disabled.';
CREATE FUNCTION ml_stop_workers() RETURNS boolean AS 'MODULE_PATHNAME', 'ml_stop_workers' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ml_stop_workers() IS 'Disables (stops) the background workers (until the next reload of cryptoml.workers_enabled); true when they were enabled.';
REVOKE ALL ON FUNCTION ml_workers(), ml_start_workers(), ml_stop_workers() FROM PUBLIC;

-- All forecasts of one symbol's latest bar: the three seed types at every forecasting horizon
-- (what the forecaster worker runs each cycle). See docs/workers.md for the rules.
CREATE FUNCTION ml_forecast_all(symbol text) RETURNS integer
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
      RAISE EXCEPTION 'unknown symbol "%": it has no bars', symbol USING ERRCODE = 'invalid_parameter_value';
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
COMMENT ON FUNCTION ml_forecast_all(text) IS 'Writes the forecasts of the symbol''s latest bar that are missing: price_direction (production model, else the zero-change baseline), volatility and trend (statistical) at every forecasting.horizons horizon; returns how many.';
REVOKE ALL ON FUNCTION ml_forecast_all(text) FROM PUBLIC;

-- Access levels cover the new objects.
CREATE OR REPLACE FUNCTION ml_grant_access(role regrole, access text) RETURNS void
  LANGUAGE plpgsql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r text := quote_ident((SELECT rolname FROM pg_roles WHERE oid = role));
    s text := quote_ident('@extschema@');
  BEGIN
    IF access NOT IN ('reader', 'writer', 'admin') THEN
      RAISE EXCEPTION 'invalid access level "%"', access
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: access must be one of reader, writer, admin';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO %s', s, r);
    -- reader: chart data, forecasts, simulations, the registry's metrics, logs without context.
    EXECUTE format('GRANT SELECT ON %s.rollingchartdata, %s.persistentforecasts, %s.tradesimulations, '
                   '%s.mltrainingbatches, %s.mltrainingsamples TO %s', s, s, s, s, s, r);
    EXECUTE format('GRANT SELECT (id, category, subcategory, level, message, symbol, timestamp) ON %s.systemlogs TO %s', s, r);
    EXECUTE format('GRANT SELECT ON %s.ml_indicator_status, %s.ml_forecasts_live TO %s', s, s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_workers() TO %s', s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_forecast(text, integer) TO %s', s, r);
    IF access IN ('writer', 'admin') THEN
      EXECUTE format('GRANT INSERT, UPDATE ON %s.rollingchartdata TO %s', s, r);
      EXECUTE format('GRANT USAGE ON SEQUENCE %s.rollingchartdata_id_seq TO %s', s, r);
      EXECUTE format('GRANT INSERT ON %s.systemlogs, %s.recoverystate TO %s', s, s, r);
      EXECUTE format('GRANT SELECT ON %s.recoverystate TO %s', s, r);
      EXECUTE format('GRANT USAGE ON SEQUENCE %s.systemlogs_id_seq, %s.recoverystate_id_seq TO %s', s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_log(text, text, text, text, jsonb, text), %s.ml_log_flush(integer), '
                     '%s.ml_checkpoint(text, text, text, jsonb), %s.ml_recovery_last(text, text), %s.ml_recovery_status(), '
                     '%s.ml_log_queue() TO %s', s, s, s, s, s, s, r);
    END IF;
    IF access = 'admin' THEN
      -- exactly the extension's tables: never other tables that share its schema
      EXECUTE format('GRANT ALL ON %s.rollingchartdata, %s.persistentforecasts, %s.tradesimulations, %s.mltrainingbatches, '
                     '%s.mltrainingsamples, %s.systemlogs, %s.recoverystate TO %s', s, s, s, s, s, s, s, r);
      EXECUTE format('GRANT ALL ON SEQUENCE %s.rollingchartdata_id_seq, %s.persistentforecasts_id_seq, '
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
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_forecast_all(text) TO %s', s, r);
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
    EXECUTE format('REVOKE ALL ON %s.ml_indicator_status, %s.ml_forecasts_live FROM %s', s, s, r);
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
