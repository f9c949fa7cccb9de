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
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_ingest_status() TO %s', s, r);
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
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s.ml_ingest_klines(text, text, jsonb) TO %s', s, r);
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
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s.ml_ingest_status(), %s.ml_ingest_klines(text, text, jsonb) FROM %s', s, s, r);
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


-- ===========================================================================================
-- Exchange ingestion
-- ===========================================================================================
ALTER TABLE rollingChartData ADD COLUMN source VARCHAR(20);
COMMENT ON COLUMN rollingChartData.source IS 'Exchange the bar was ingested from (binance-us, coinbase, bybit) by ml_ingest_klines or the ingest worker; NULL for bars inserted otherwise (added in 0.4.0).';

ALTER TABLE cryptoml_internal.chart_archive ADD COLUMN source varchar(20)[];
COMMENT ON COLUMN cryptoml_internal.chart_archive.source IS 'rollingChartData.source of each bar (NULL for days archived before 0.4.0).';

CREATE OR REPLACE VIEW ml_chart_history AS
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

CREATE OR REPLACE FUNCTION cryptoml_internal.compress_step(max_days integer) RETURNS bigint
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

CREATE FUNCTION cryptoml_internal.ingest_use(symbol text, exchange text) RETURNS void
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  UPDATE cryptoml_internal.ingest_state s SET is_active = false WHERE s.symbol = $1 AND s.exchange <> $2 AND s.is_active;
  INSERT INTO cryptoml_internal.ingest_state AS s (symbol, exchange, is_active) VALUES ($1, $2, true)
    ON CONFLICT ON CONSTRAINT ingest_state_pkey DO UPDATE SET is_active = true, consecutive_failures = 0;
  $$;

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

SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.ingest_state', '');
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
    FOR sym IN SELECT c.s FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) AS c(s) LOOP
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
COMMENT ON FUNCTION ml_health() IS 'Current data-quality figures per configured symbol (last 60 minutes) and system metrics: prediction latency, predictions per second, data completeness, error rate, recovery time, open alerts; and per ingested symbol the ingest lag and consecutive failed requests.';

-- Roles granted access under 0.3.0 get the new functions of their level: readers (who can run
-- ml_calibration) the backtest reliability table and ml_ingest_status, writers (who can run ml_log)
-- ml_ingest_klines.
DO $$
DECLARE
  r text;
BEGIN
  FOR r IN SELECT a.grantee::regrole::text FROM pg_proc p, aclexplode(p.proacl) a
            WHERE p.oid = '@extschema@.ml_calibration(text, integer, timestamp)'::regprocedure AND a.privilege_type = 'EXECUTE'
              AND a.grantee <> 0 AND a.grantee <> p.proowner
  LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION @extschema@.ml_backtest_calibration(text), @extschema@.ml_ingest_status() TO %s', r);
  END LOOP;
  FOR r IN SELECT a.grantee::regrole::text FROM pg_proc p, aclexplode(p.proacl) a
            WHERE p.oid = '@extschema@.ml_log(text, text, text, text, jsonb, text)'::regprocedure AND a.privilege_type = 'EXECUTE'
              AND a.grantee <> 0 AND a.grantee <> p.proowner
  LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION @extschema@.ml_ingest_klines(text, text, jsonb) TO %s', r);
  END LOOP;
END
$$;
