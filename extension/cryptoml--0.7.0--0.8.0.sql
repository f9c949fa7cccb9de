-- cryptoml 0.7.0 -> 0.8.0 (issue 17): forecast skill. Feature set 2 (multi-timeframe,
-- cross-market, volatility and seasonality features; mlTrainingSamples.feature_set), a trained
-- volatility model (ml_train_volatility, ml_volatility_evaluate; ml_forecast_all's statistics in
-- C), per-bar anomaly detection (ml_detect_anomalies, ml_anomalies, the monitor's 'anomaly'
-- alert, training.excludeAnomalies), hyperparameter search (ml_tune, ml_tune_runs,
-- ml_tune_trials) and the stacking combiner of ensembles.
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.8.0'" to load this file. \quit

-- ===========================================================================================
-- Samples carry their feature set: one sample per (symbol, horizon, feature set, bar)
-- ===========================================================================================
ALTER TABLE mlTrainingSamples ADD COLUMN feature_set INTEGER NOT NULL DEFAULT 1;
DROP INDEX mltrainingsamples_symbol_horizon_bar_idx;
CREATE UNIQUE INDEX mltrainingsamples_symbol_horizon_bar_idx ON mlTrainingSamples (symbol, forecast_horizon, feature_set, bar_timestamp);
COMMENT ON COLUMN mlTrainingSamples.feature_set IS 'Feature set of features and feature_vector: 1 or 2 (docs/features.md); one sample per (symbol, horizon, feature set, bar) (added in 0.8.0).';

-- the monitor's alerts: 'anomaly' (0.8.0)
ALTER TABLE cryptoml_internal.monitor_alerts DROP CONSTRAINT monitor_alerts_alert_check;
ALTER TABLE cryptoml_internal.monitor_alerts ADD CONSTRAINT monitor_alerts_alert_check CHECK (alert IN ('stale_data', 'completeness', 'missing_data', 'invalid_values', 'anomaly')
                                                OR alert ~ '^(interval_coverage|calibration_error)_h[0-9]+$');

-- ===========================================================================================
-- New in 0.8.0 (as in the install script)
-- ===========================================================================================
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
      syms := ARRAY(SELECT c.symbol FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) AS c(symbol)
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
    FOR sym IN SELECT s FROM unnest(syms) AS s WHERE ml_detect_anomalies.symbol IS NULL OR s = ml_detect_anomalies.symbol ORDER BY s LOOP
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


-- ==== Stacking (0.8.0) ====
-- The ensemble's "stacking" combiner (src/core/stacking.hpp, docs/training.md "Stacking"): the
-- weights the core fits on members' out-of-time records, as ml_train records them.
CREATE FUNCTION cryptoml_internal.stacking_fit(member integer[], ts timestamp[], raw float8[], actual float8[], horizon integer,
                                               as_of timestamp) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'cml_stacking_fit' LANGUAGE C IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION cryptoml_internal.stacking_fit(integer[], timestamp[], float8[], float8[], integer, timestamp) IS 'The stacking combiner''s fit (src/core/stacking.hpp): one element per (member, minute) out-of-time pair, members ordered by number; the non-negative weights summing to 1, shrunk toward the inverse-MSE weights with lambda = 250 / pairs, fitted on the aligned pairs whose outcome was known at as_of (ts + horizon <= as_of); with fewer than 100 such pairs, a constant member or all predictions 0, the inverse-MSE weights and the reason. The JSON ml_train stores in an ensemble''s hyperparameters->''stacking''.';
REVOKE ALL ON FUNCTION cryptoml_internal.stacking_fit(integer[], timestamp[], float8[], float8[], integer, timestamp) FROM PUBLIC;

-- ===========================================================================================
-- Functions changed in 0.8.0
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

COMMENT ON FUNCTION ml_build_samples(text, integer, timestamp) IS 'Writes one mlTrainingSamples row per (symbol, bar, horizon) with a bar exactly horizon minutes later, in the feature set of features.featureSet (see docs/features.md; set 2 leaves a bar whose cross-market inputs are pending to a later call). Idempotent and incremental; NULL symbol/horizon mean every symbol / every training horizon; returns the rows added.';

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

CREATE OR REPLACE FUNCTION ml_forecast_all(symbol text) RETURNS integer
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    bar timestamp;
    h integer;
    written integer := 0;
    st record;           -- the market statistics of the bar at horizon h (cryptoml_internal.market_stats)
    vm record;           -- the production volatility model of the horizon
    vol float8;          -- the volatility forecast: the model's, else sigma * sqrt(h)
    vol_version text;
    vol_lo float8;       -- the volatility forecast's interval
    vol_hi float8;
  BEGIN
    SELECT max(r.timestamp) INTO bar FROM @extschema@.rollingchartdata r WHERE r.symbol = ml_forecast_all.symbol;
    IF bar IS NULL THEN
      RAISE EXCEPTION 'unknown symbol "%": it has no bars', left(symbol, 40) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the statistics (src/core/volatility.hpp): sigma of the last hour's returns between stored
    -- bars, the volatility percentile of the last 24 hourly sigmas, the efficiency ratio over
    -- min(max(h, 10), 240) bars and the regime, at every horizon in configuration order
    FOR st IN SELECT * FROM cryptoml_internal.market_stats(symbol,
                ARRAY(SELECT x::integer FROM jsonb_array_elements_text(@extschema@.ml_config_get('forecasting.horizons'))
                        WITH ORDINALITY AS j(x, k) ORDER BY k), bar) LOOP
      h := st.horizon;
      -- price_direction: the production model, else the zero-change baseline
      IF NOT EXISTS (SELECT 1 FROM @extschema@.persistentforecasts f WHERE f.symbol = ml_forecast_all.symbol
                       AND f.forecast_type = 'price_direction' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
        IF EXISTS (SELECT 1 FROM @extschema@.mltrainingbatches m WHERE m.symbol = ml_forecast_all.symbol
                     AND m.forecast_horizon = h AND m.is_production) THEN
          BEGIN
            PERFORM @extschema@.ml_forecast(symbol, h);
            written := written + 1;
          EXCEPTION WHEN object_not_in_prerequisite_state THEN
            -- a feature set 2 model whose cross-market inputs are pending (another symbol's bar of the
            -- minute before may still arrive): no forecast of this bar yet, the other forecasts go on
            -- and a later cycle forecasts once the inputs are final
            IF SQLERRM NOT LIKE '%are pending%' THEN
              RAISE;
            END IF;
          END;
        ELSE
          INSERT INTO @extschema@.persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                       model_version, expires_at, bar_timestamp)
            VALUES (symbol, 'price_direction', NULL, 0, h, 'stat:zero-change', bar + make_interval(mins => h), bar);
          written := written + 1;
        END IF;
      END IF;
      -- volatility: the realized volatility expected over the horizon, from the production
      -- volatility model (ml_train_volatility) when there is one and it can predict this bar, else
      -- sigma * sqrt(h), with its conformal interval: the |errors| of this symbol's earlier
      -- volatility forecasts of the horizon known at this bar (the last inference.calibrationWindow),
      -- at the ACI level after those of them that stated an interval
      IF NOT EXISTS (SELECT 1 FROM @extschema@.persistentforecasts f WHERE f.symbol = ml_forecast_all.symbol
                       AND f.forecast_type = 'volatility' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
        vol := NULL;
        SELECT m.id, m.model INTO vm FROM cryptoml_internal.volatility_models m
         WHERE m.symbol = ml_forecast_all.symbol AND m.horizon = h AND m.is_production;
        IF FOUND THEN
          vol := cryptoml_internal.volatility_predict(symbol, h, bar, vm.model);
          vol_version := 'har:' || vm.id;
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
          w AS (SELECT * FROM past ORDER BY past.bar_timestamp DESC
                 LIMIT (@extschema@.ml_config_get('inference.calibrationWindow'))::integer)
          SELECT ci.lower, ci.upper INTO vol_lo, vol_hi
            FROM cryptoml_internal.conformal_interval(vol, (SELECT coalesce(array_agg(w.a - w.p), '{}') FROM w),
                   (SELECT count(*) FROM past WHERE past.lo IS NOT NULL),
                   (SELECT count(*) FROM past WHERE past.lo IS NOT NULL AND (past.a < past.lo OR past.a > past.hi))) ci;
          INSERT INTO @extschema@.persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                       model_version, expires_at, bar_timestamp, lower, upper)
            VALUES (symbol, 'volatility', NULL, round(vol::numeric, 8), h, vol_version,
                    bar + make_interval(mins => h), bar, CASE WHEN vol_lo IS NOT NULL THEN round(greatest(vol_lo, 0)::numeric, 8) END, round(vol_hi::numeric, 8));
          written := written + 1;
        END IF;
      END IF;
      -- trend: the market regime, from the efficiency ratio over min(max(h, 10), 240) bars and
      -- the volatility percentile
      IF st.er IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.persistentforecasts f WHERE f.symbol = ml_forecast_all.symbol
                       AND f.forecast_type = 'trend' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
        INSERT INTO @extschema@.persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                     model_version, expires_at, bar_timestamp)
          VALUES (symbol, 'trend', NULL, round(st.er::numeric, 8), h, 'stat:regime-' || st.regime,
                  bar + make_interval(mins => h), bar);
        written := written + 1;
      END IF;
    END LOOP;
    RETURN written;
  END
  $$;

COMMENT ON FUNCTION ml_forecast_all(text) IS 'Writes the forecasts of the symbol''s latest bar that are missing: price_direction (production model, else the zero-change baseline), volatility (the production volatility model of ml_train_volatility, else sigma60 * sqrt(h); with a conformal interval from its earlier errors) and trend (statistical) at every forecasting.horizons horizon; returns how many.';

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
      -- anomalies (0.8.0): score the symbol's new bars, then the flagged ones inside the window
      IF sym IN (SELECT c.s FROM jsonb_array_elements_text(@extschema@.ml_config_get('symbols')) AS c(s)) THEN
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
                     'featureSet', 'excludeGroups');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'unknown backtest option(s): %', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: options are retrainEvery, windowSize, validationSplit, maxDepth, learningRate, numRounds, tpSigma, slSigma, feePct, slippagePct, minEdgePct, confidenceThreshold, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, lstmLearningRate, maxEpochs, batchSize, calibrationFolds, intervalCoverage, intervalAdaptRate, skillSignificance, calibrationWindow, combiner, featureSet, excludeGroups';
    END IF;
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_each(o) e(k, v) WHERE jsonb_typeof(v) <> 'number' AND k NOT IN ('combiner', 'excludeGroups');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'backtest option(s) % must be JSON numbers', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: every option but combiner (a string) and excludeGroups (an array of group names) is a number (integers for retrainEvery, windowSize, maxDepth, numRounds, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, maxEpochs, batchSize, calibrationFolds, calibrationWindow, featureSet)';
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
-- (the new functions and views: ml_anomalies, ml_tune_runs, ml_tune_trials for readers; ml_tune,
-- ml_train_volatility, ml_volatility_evaluate, ml_detect_anomalies for admins).
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
    RAISE NOTICE 'cryptoml 0.8.0: privileges of role % re-derived from its level (%)', r.role::pg_catalog.regrole, level;
  END LOOP;
END
$$;

-- pgAudit object auditing of the registry, model bytes, configuration and audit trail
SELECT @extschema@.ml_pgaudit_objects();
