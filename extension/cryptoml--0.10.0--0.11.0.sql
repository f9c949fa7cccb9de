-- cryptoml 0.10.0 -> 0.11.0 (issue 19, continued): a forecaster cycle that keeps each session's
-- series of known volatility outcomes instead of re-reading every earlier forecast for each
-- interval (cryptoml_internal.volatility_interval; two triggers on persistentForecasts keep the
-- series current), and the backtest option warmWindow. The insert path's changes (checkpoints
-- looked up and replaced by key, the indicator state kept across a session's transactions, the
-- bulk loader's own decimal parser) are in the library only.
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.11.0'" to load this file. \quit

-- ===========================================================================================
-- The forecaster's per-session series of volatility outcomes
-- ===========================================================================================
-- registry_changed (a relcache invalidation of its table) drops each session's series of known
-- volatility outcomes (volatility_interval) at every change of persistentForecasts but the insert
-- of a forecast whose outcome is not known yet.
CREATE TRIGGER zz_cryptoml_forecasts_changed AFTER UPDATE OR DELETE OR TRUNCATE ON persistentForecasts
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.registry_changed();
CREATE TRIGGER zz_cryptoml_forecast_outcome_inserted AFTER INSERT ON persistentForecasts
  FOR EACH ROW WHEN (NEW.actual_value IS NOT NULL) EXECUTE FUNCTION cryptoml_internal.registry_changed();

-- The interval of a volatility forecast: conformal_interval of the |errors| of the symbol's last
-- cal_window volatility forecasts of the horizon known at the bar, at the ACI level after those of
-- them that stated an interval, from a series kept per session (src/pg/forecast_history.cpp).
CREATE FUNCTION cryptoml_internal.volatility_interval(symbol text, horizon integer, bar timestamp, center float8,
    cal_window integer, OUT lower float8, OUT upper float8)
  AS 'MODULE_PATHNAME', 'cml_volatility_interval' LANGUAGE C VOLATILE SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION cryptoml_internal.volatility_interval(text, integer, timestamp, float8, integer) FROM PUBLIC;

-- ===========================================================================================
-- Functions changed in 0.11.0
-- ===========================================================================================
CREATE OR REPLACE FUNCTION ml_forecast_all(symbol text) RETURNS integer
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

-- ===========================================================================================
-- Privileges re-derived: every role granted a level gets exactly what the level grants now
-- (no new function of a level in 0.11.0; kept so that every update re-derives them).
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
    RAISE NOTICE 'cryptoml 0.11.0: privileges of role % re-derived from its level (%)', r.role::pg_catalog.regrole, level;
  END LOOP;
END
$$;

-- pgAudit object auditing of the registry, model bytes, configuration and audit trail
SELECT @extschema@.ml_pgaudit_objects();
