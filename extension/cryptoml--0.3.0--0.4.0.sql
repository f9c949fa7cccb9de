-- cryptoml 0.3.0 -> 0.4.0 (issues 7 and 8): lstm and ensemble backtests with stated confidence and
-- their reliability table, trades opened by the forecaster (trading.autoSimulate), exchange ingestion.
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.4.0'" to load this file. \quit

-- ===========================================================================================
-- Backtests: every model type, stated confidence, the reliability table
-- ===========================================================================================
ALTER TABLE mlBacktestPredictions ADD COLUMN confidence FLOAT8;

COMMENT ON COLUMN mlBacktestPredictions.confidence IS 'Stated confidence in %, as a live forecast states it: the hit rate of the prediction''s |prediction| bucket on its segment''s validation rows (NULL for runs made before 0.4.0).';

COMMENT ON COLUMN mlBacktestRuns.model_type IS 'Model type retrained at every segment: xgboost, lstm or ensemble.';

DROP FUNCTION cryptoml_internal.backtest_run(text, text, integer, timestamp, timestamp, integer, integer, float8, integer, float8, integer, float8, float8, float8, float8, float8);
CREATE FUNCTION cryptoml_internal.backtest_run(run_id text, symbol text, horizon integer, from_ts timestamp, to_ts timestamp,
    model_type text, params jsonb) RETURNS integer
  AS 'MODULE_PATHNAME', 'cml_backtest_run' LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION cryptoml_internal.backtest_run(text, text, integer, timestamp, timestamp, text, jsonb) FROM PUBLIC;
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
      RAISE EXCEPTION 'invalid model_type "%"', model_type
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: model_type is xgboost, lstm or ensemble';
    END IF;
    IF jsonb_typeof(o) <> 'object' THEN
      RAISE EXCEPTION 'options must be a JSON object, not %', o USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_object_keys(o) k
     WHERE k NOT IN ('retrainEvery', 'windowSize', 'validationSplit', 'maxDepth', 'learningRate', 'numRounds', 'tpSigma',
                     'slSigma', 'feePct', 'slippagePct', 'minEdgePct', 'confidenceThreshold', 'earlyStoppingPatience',
                     'sequenceLength', 'hiddenSize', 'numLayers', 'lstmLearningRate', 'maxEpochs', 'batchSize');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'unknown backtest option(s): %', bad USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: options are retrainEvery, windowSize, validationSplit, maxDepth, learningRate, numRounds, tpSigma, slSigma, feePct, slippagePct, minEdgePct, confidenceThreshold, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, lstmLearningRate, maxEpochs, batchSize';
    END IF;
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_each(o) e(k, v) WHERE jsonb_typeof(v) <> 'number';
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'backtest option(s) % must be JSON numbers', bad USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: every option is a number (integers for retrainEvery, windowSize, maxDepth, numRounds, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, maxEpochs, batchSize)';
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
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_each(p) e(k, v)
     WHERE k IN ('retrainEvery', 'windowSize', 'maxDepth', 'numRounds', 'earlyStoppingPatience', 'sequenceLength', 'hiddenSize',
                 'numLayers', 'maxEpochs', 'batchSize') AND (v::numeric <> trunc(v::numeric) OR abs(v::numeric) > 2147483647);
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'backtest option(s) % must be integers', bad USING ERRCODE = 'invalid_parameter_value';
    END IF;
    fee := (p ->> 'feePct')::float8;
    slip := (p ->> 'slippagePct')::float8;
    IF horizon <= 0 OR (p ->> 'retrainEvery')::integer <= 0 THEN
      RAISE EXCEPTION 'invalid backtest: horizon %, retrainEvery %', horizon, p ->> 'retrainEvery'
        USING ERRCODE = 'invalid_parameter_value', DETAIL = 'rule: horizon > 0 and retrainEvery > 0 minutes';
    END IF;
    SELECT min(s.bar_timestamp), max(s.bar_timestamp) INTO smin, smax FROM @extschema@.mltrainingsamples s
     WHERE s.symbol = ml_backtest.symbol AND s.forecast_horizon = ml_backtest.horizon AND s.target IS NOT NULL;
    IF smin IS NULL THEN
      RAISE EXCEPTION 'no training samples for % at horizon %', symbol, horizon USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = format('SELECT ml_build_samples(%L, %s);', symbol, horizon);
    END IF;
    f := coalesce(ml_backtest."from", smin + make_interval(mins => (p ->> 'windowSize')::integer + horizon));
    t := coalesce(ml_backtest."to", smax + interval '1 minute');
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
      RAISE EXCEPTION 'backtest of % from % to %: no segment had enough samples to train a model', symbol, f, t
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
COMMENT ON FUNCTION ml_backtest(text, integer, text, timestamp, timestamp, jsonb) IS 'Walk-forward backtest: retrains every retrainEvery minutes on the samples whose target was known then, forecasts each bar of the period out of sample, trades with the live simulation''s rules and costs; stores predictions and trades under a run id; returns the backtest''s performance and prediction quality beside buy-and-hold and random entry.';

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

CREATE OR REPLACE FUNCTION ml_calibration(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT r.* FROM (
    SELECT array_agg(p.confidence::float8) AS conf, array_agg(sign(p.predicted_value) = sign(p.actual_value)) AS hit
      FROM @extschema@.persistentforecasts p
     WHERE p.forecast_type = 'price_direction' AND p.actual_value IS NOT NULL AND p.actual_value <> 0 AND p.confidence IS NOT NULL
       AND ($1 IS NULL OR p.symbol = $1) AND ($2 IS NULL OR p.forecast_horizon = $2) AND ($3 IS NULL OR p.bar_timestamp >= $3)) f,
    LATERAL cryptoml_internal.reliability_table(f.conf, f.hit) r
  $$;
COMMENT ON FUNCTION ml_calibration(text, integer, timestamp) IS 'Reliability table of price_direction forecasts with a non-zero outcome: per confidence bucket (0-50, 50-60, ..., 90-100) the mean stated confidence against the observed hit rate with its 95 % Wilson interval.';

CREATE FUNCTION ml_backtest_calibration(run_id text)
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8)
  LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.mlbacktestruns r WHERE r.run_id = ml_backtest_calibration.run_id) THEN
      RAISE EXCEPTION 'no backtest run "%"', run_id USING ERRCODE = 'no_data_found',
        HINT = 'SELECT run_id FROM mlBacktestRuns lists the runs.';
    END IF;
    RETURN QUERY SELECT r.* FROM (
      SELECT array_agg(p.confidence) AS conf, array_agg(sign(p.predicted_change) = sign(p.actual_change)) AS hit
        FROM @extschema@.mlbacktestpredictions p
       WHERE p.run_id = ml_backtest_calibration.run_id AND p.actual_change <> 0 AND p.confidence IS NOT NULL) f,
      LATERAL cryptoml_internal.reliability_table(f.conf, f.hit) r;
  END
  $$;
COMMENT ON FUNCTION ml_backtest_calibration(text) IS 'Reliability table of a backtest''s out-of-sample predictions with a non-zero outcome: per confidence bucket (0-50, 50-60, ..., 90-100) the mean stated confidence against the observed hit rate with its 95 % Wilson interval.';

REVOKE ALL ON FUNCTION ml_backtest_calibration(text), cryptoml_internal.reliability_table(float8[], boolean[]) FROM PUBLIC;

-- ===========================================================================================
-- Trades opened by the forecaster
-- ===========================================================================================
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
      SELECT c.symbol FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) c(symbol)
       WHERE EXISTS (SELECT 1 FROM @extschema@.mltrainingbatches m WHERE m.symbol = c.symbol AND m.forecast_horizon = h AND m.is_production)
         AND NOT EXISTS (SELECT 1 FROM @extschema@.tradesimulations t WHERE t.symbol = c.symbol AND t.is_active)
       ORDER BY 1
    LOOP
      BEGIN
        SELECT f.signal INTO sig FROM @extschema@.ml_forecast(sym, h) f;
        IF sig IN ('LONG', 'SHORT') THEN
          PERFORM @extschema@.ml_simulate(sym, h);
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


-- ===========================================================================================
-- Privileges
-- ===========================================================================================
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
    EXECUTE format('GRANT SELECT ON %s.ml_indicator_status, %s.ml_forecasts_live, %s.ml_chart_history TO %s', s, s, s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_workers(), %s.ml_health() TO %s', s, s, r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_performance(text, timestamp), %s.ml_forecast_quality(text, integer, timestamp), '
                   '%s.ml_calibration(text, integer, timestamp), %s.ml_backtest_calibration(text) TO %s', s, s, s, s, r);
    EXECUTE format('GRANT SELECT ON %s.mlbacktestruns, %s.mlbacktestpredictions, %s.mlbacktesttrades TO %s', s, s, s, r);
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
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_forecast_all(text), %s.ml_monitor_check(text, timestamptz, integer) TO %s', s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_simulate(text, integer, float8, float8, float8, float8), '
                     '%s.ml_backtest(text, integer, text, timestamp, timestamp, jsonb) TO %s', s, s, r);
      EXECUTE format('GRANT EXECUTE ON PROCEDURE %s.ml_compress_history(bigint), %s.ml_apply_retention(bigint), '
                     '%s.ml_build_samples_all(bigint) TO %s', s, s, s, r);
      -- the procedures' steps (SECURITY DEFINER functions) live in cryptoml_internal
      EXECUTE format('GRANT USAGE ON SCHEMA cryptoml_internal TO %s', r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION cryptoml_internal.retention_step(text, integer), '
                     'cryptoml_internal.compress_step(integer), cryptoml_internal.chart_symbols() TO %s', r);
    END IF;
  END
  $$;
COMMENT ON FUNCTION ml_grant_access(regrole, text) IS 'Grants a role the reader, writer or admin privilege set (see docs/roles.md). Owner only.';

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
    EXECUTE format('REVOKE ALL ON %s.mlbacktestruns, %s.mlbacktestpredictions, %s.mlbacktesttrades FROM %s', s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON PROCEDURE %s.ml_compress_history(bigint), %s.ml_apply_retention(bigint), '
                   '%s.ml_build_samples_all(bigint) FROM %s', s, s, s, r);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION cryptoml_internal.retention_step(text, integer), '
                   'cryptoml_internal.compress_step(integer), cryptoml_internal.chart_symbols() FROM %s', r);
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
COMMENT ON FUNCTION ml_revoke_access(regrole) IS 'Revokes everything ml_grant_access granted to a role. Owner only.';

-- Roles granted access under 0.3.0 can read the new reliability table as they can read ml_calibration.
DO $$
DECLARE
  r text;
BEGIN
  FOR r IN SELECT a.grantee::regrole::text FROM pg_proc p, aclexplode(p.proacl) a
            WHERE p.oid = '@extschema@.ml_calibration(text, integer, timestamp)'::regprocedure AND a.privilege_type = 'EXECUTE'
              AND a.grantee <> 0 AND a.grantee <> p.proowner
  LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION @extschema@.ml_backtest_calibration(text) TO %s', r);
  END LOOP;
END
$$;
