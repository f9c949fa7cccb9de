-- cryptoml 0.9.0 -> 0.10.0 (issue 19): performance. LSTM kernels compiled twice (portable and
-- AVX2+FMA, chosen at run time; GUC cryptoml.lstm_kernels), warm-started LSTM backtest segments,
-- a cheaper forecaster cycle, a cheaper indicator trigger that also follows trades (the PL/pgSQL
-- trigger zz_trades_follow_bars is gone), the bulk loader ml_load_bars, and the indicators as
-- window functions.
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.10.0'" to load this file. \quit

-- ===========================================================================================
-- Trade following moves into the indicators' C statement trigger
-- ===========================================================================================
DROP TRIGGER zz_trades_follow_bars ON @extschema@.rollingChartData;
DROP FUNCTION cryptoml_internal.trades_follow_bars();

-- ===========================================================================================
-- Functions changed in 0.10.0
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
          WITH past AS (
            SELECT DISTINCT ON (f.bar_timestamp) f.bar_timestamp, f.predicted_value::float8 AS p, f.actual_value::float8 AS a,
                   f.lower::float8 AS lo, f.upper::float8 AS hi
              FROM @extschema@.persistentforecasts f
             WHERE f.symbol = ml_forecast_all.symbol AND f.forecast_type = 'volatility' AND f.forecast_horizon = h
               AND f.actual_value IS NOT NULL AND f.bar_timestamp + make_interval(mins => h) <= bar
             ORDER BY f.bar_timestamp DESC, f.id DESC),
          w AS (SELECT * FROM past ORDER BY past.bar_timestamp DESC LIMIT cal_window)
          SELECT ci.lower, ci.upper INTO vol_lo, vol_hi
            FROM cryptoml_internal.conformal_interval(vol, (SELECT coalesce(array_agg(w.a - w.p), '{}') FROM w),
                   (SELECT count(*) FROM past WHERE past.lo IS NOT NULL),
                   (SELECT count(*) FROM past WHERE past.lo IS NOT NULL AND (past.a < past.lo OR past.a > past.hi))) ci;
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

CREATE OR REPLACE FUNCTION cryptoml_internal.follow_trade(trade_id integer) RETURNS boolean
  AS 'MODULE_PATHNAME', 'cml_follow_trade' LANGUAGE C VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

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
                     'featureSet', 'excludeGroups', 'warmStart', 'warmMaxEpochs', 'warmPatience');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'unknown backtest option(s): %', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: options are retrainEvery, windowSize, validationSplit, maxDepth, learningRate, numRounds, tpSigma, slSigma, feePct, slippagePct, minEdgePct, confidenceThreshold, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, lstmLearningRate, maxEpochs, batchSize, calibrationFolds, intervalCoverage, intervalAdaptRate, skillSignificance, calibrationWindow, combiner, featureSet, excludeGroups, warmStart, warmMaxEpochs, warmPatience';
    END IF;
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_each(o) e(k, v) WHERE jsonb_typeof(v) <> 'number' AND k NOT IN ('combiner', 'excludeGroups', 'warmStart');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'backtest option(s) % must be JSON numbers', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: every option but combiner (a string), excludeGroups (an array of group names) and warmStart (a boolean) is a number (integers for retrainEvery, windowSize, maxDepth, numRounds, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, maxEpochs, batchSize, calibrationFolds, calibrationWindow, featureSet, warmMaxEpochs, warmPatience)';
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

-- ===========================================================================================
-- Privileges re-derived: every role granted a level gets exactly what the level grants now
-- (the new functions: ml_load_bars for writers).
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
    RAISE NOTICE 'cryptoml 0.10.0: privileges of role % re-derived from its level (%)', r.role::pg_catalog.regrole, level;
  END LOOP;
END
$$;

-- pgAudit object auditing of the registry, model bytes, configuration and audit trail
SELECT @extschema@.ml_pgaudit_objects();
