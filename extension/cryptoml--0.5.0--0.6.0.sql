-- cryptoml 0.5.0 -> 0.6.0 (issue 15): honest forecasts. Forecasts state a shrunk change, a
-- confidence and a conformal interval from the model's out-of-time record; a model is promoted
-- and a signal shown only with skill shown out of time; reports gain ECE, Brier and coverage.
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.6.0'" to load this file. \quit

-- ===========================================================================================
-- Tables. Rows stored before 0.6.0 keep their values: their new columns are NULL (a forecast's
-- raw output was its predicted_value, and it stated no interval).
-- ===========================================================================================
ALTER TABLE mlTrainingBatches ADD COLUMN shrinkage DOUBLE PRECISION, ADD COLUMN skill_statistic DOUBLE PRECISION,
  ADD COLUMN skill_p_value DOUBLE PRECISION, ADD COLUMN calibration_pairs INTEGER;
ALTER TABLE persistentForecasts ADD COLUMN raw_value DECIMAL(15,8), ADD COLUMN lower DECIMAL(15,8), ADD COLUMN upper DECIMAL(15,8);
CREATE INDEX persistentforecasts_outcomes_idx ON persistentForecasts (model_version, forecast_horizon, bar_timestamp)
  WHERE actual_value IS NOT NULL;
ALTER TABLE cryptoml_internal.models ADD COLUMN oot_ts TIMESTAMP[], ADD COLUMN oot_raw DOUBLE PRECISION[],
  ADD COLUMN oot_actual DOUBLE PRECISION[];
ALTER TABLE mlBacktestPredictions ADD COLUMN raw_change FLOAT8, ADD COLUMN lower FLOAT8, ADD COLUMN upper FLOAT8;
ALTER TABLE cryptoml_internal.monitor_alerts DROP CONSTRAINT monitor_alerts_alert_check;
ALTER TABLE cryptoml_internal.monitor_alerts ADD CONSTRAINT monitor_alerts_alert_check
  CHECK (alert IN ('stale_data', 'completeness', 'missing_data', 'invalid_values')
         OR alert ~ '^(interval_coverage|calibration_error)_h[0-9]+$');
COMMENT ON COLUMN mlTrainingBatches.shrinkage IS 'The factor served on the raw prediction over the model''s out-of-time record at training: the lower prediction bound of the next block''s least-squares slope, 0 without skill (docs/forecasting.md; added in 0.6.0).';
COMMENT ON COLUMN mlTrainingBatches.skill_statistic IS 'Diebold-Mariano statistic (prequential, long-run variance by overlapping batch means) of zero change''s squared error minus the shrunk prediction''s over the out-of-time record: > 0 when the model helps (added in 0.6.0).';
COMMENT ON COLUMN mlTrainingBatches.skill_p_value IS 'One-sided p-value of skill_statistic; a model is promoted only below inference.skillSignificance (added in 0.6.0).';
COMMENT ON COLUMN mlTrainingBatches.calibration_pairs IS 'Predictions in the out-of-time record (rolling-origin folds inside the training window) (added in 0.6.0).';
COMMENT ON COLUMN persistentForecasts.confidence IS 'price_direction: the probability (50-100) that the change has the sign of raw_value, as stated from the model''s out-of-time record (before decay); 50 without shown skill.';
COMMENT ON COLUMN persistentForecasts.predicted_value IS 'Served prediction: the percentage change (price_direction: the raw model output shrunk, 0 without shown skill) or the value of the forecast type.';
COMMENT ON COLUMN persistentForecasts.raw_value IS 'price_direction: the model''s raw output before shrinkage, % change (added in 0.6.0; NULL before).';
COMMENT ON COLUMN persistentForecasts.lower IS 'Lower bound of the conformal interval of the outcome at inference.intervalCoverage (price_direction: the change in %; volatility: the realized volatility) (added in 0.6.0; NULL when none could be stated).';
COMMENT ON COLUMN persistentForecasts.upper IS 'Upper bound of the conformal interval of the outcome (added in 0.6.0; NULL when none could be stated).';
COMMENT ON TABLE cryptoml_internal.models IS 'Model bytes (db://models/<batch_id>), their feature list, validation buckets and out-of-time record. Deleted with their batch.';
COMMENT ON COLUMN cryptoml_internal.models.oot_ts IS 'The model''s out-of-time record, with oot_raw and oot_actual: bars predicted by rolling-origin fold models inside its training window (an ensemble: its members'' records, weighted), what they predicted and what happened. Its forecasts state their shrinkage, confidence and interval from it and their own outcomes (added in 0.6.0; NULL for older models).';
COMMENT ON COLUMN cryptoml_internal.models.oot_raw IS 'Raw predictions of the out-of-time record, % change (added in 0.6.0).';
COMMENT ON COLUMN cryptoml_internal.models.oot_actual IS 'Outcomes of the out-of-time record, % change (added in 0.6.0).';
COMMENT ON COLUMN mlBacktestPredictions.predicted_change IS 'Served prediction of the % change of close over the horizon, as a live forecast at that bar would have served it (the raw output shrunk; 0 without shown skill; before 0.6.0 the raw output).';
COMMENT ON COLUMN mlBacktestPredictions.raw_change IS 'The segment model''s raw output, % change (added in 0.6.0; NULL for older runs).';
COMMENT ON COLUMN mlBacktestPredictions.lower IS 'Lower bound of the conformal interval a live forecast would have stated (added in 0.6.0).';
COMMENT ON COLUMN mlBacktestPredictions.upper IS 'Upper bound of the conformal interval a live forecast would have stated (added in 0.6.0).';
COMMENT ON COLUMN mlBacktestPredictions.confidence IS 'Stated confidence in % that the change has the sign of raw_change, as a live forecast at that bar would have stated it (only outcomes known by then; NULL for runs made before 0.4.0).';

-- ===========================================================================================
-- Functions. Those whose result gained columns are dropped and created again (their privileges
-- are re-derived below).
-- ===========================================================================================
DROP FUNCTION ml_forecast(text, integer);
DROP FUNCTION ml_forecast_quality(text, integer, timestamp);
DROP FUNCTION ml_calibration(text, integer, timestamp);
DROP FUNCTION ml_backtest_calibration(text);

COMMENT ON FUNCTION ml_train(text, integer, text, jsonb) IS 'Trains a model on the last training.windowSize minutes of samples (time-ordered split, embargo, early stopping) and its out-of-time record (training.calibrationFolds rolling-origin folds), stores both, and promotes it only when the record beats zero change significantly (skill_p_value below inference.skillSignificance) and it beats the production model, or without one the zero-change baseline, on the same validation rows.';

CREATE FUNCTION ml_forecast(symbol text, horizon integer,
                            OUT symbol text, OUT horizon integer, OUT forecast_at timestamp, OUT predicted_change float8,
                            OUT predicted_price float8, OUT confidence float8, OUT signal text, OUT model_version text,
                            OUT expires_at timestamp, OUT cached boolean, OUT stale boolean,
                            OUT raw_change float8, OUT lower float8, OUT upper float8)
  AS 'MODULE_PATHNAME', 'ml_forecast' LANGUAGE C VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION ml_forecast(text, integer) IS 'Forecast of the percentage change of close over horizon minutes from the latest bar, by the production model, stated from its out-of-time record: predicted_change is the raw output (raw_change) shrunk, 0 without shown skill; confidence the probability (50-100) that the change has raw_change''s sign; [lower, upper] the conformal interval at inference.intervalCoverage; a LONG/SHORT signal only with skill and confidence >= inference.confidenceThreshold. Stored in persistentForecasts; repeated calls within inference.maxPredictionAge return the stored forecast (cached).';

CREATE FUNCTION cryptoml_internal.forecast_statement(raw float8, horizon integer, at timestamp, ts timestamp[], raws float8[],
    actuals float8[], stated bigint, missed bigint,
    OUT served float8, OUT confidence float8, OUT lower float8, OUT upper float8, OUT skilled boolean, OUT shrinkage float8,
    OUT skill_statistic float8, OUT skill_p_value float8, OUT pairs bigint)
  AS 'MODULE_PATHNAME', 'cml_forecast_statement' LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION cryptoml_internal.reliability_summary(confidence float8[], hit boolean[], min_bucket integer,
    OUT predictions bigint, OUT ece float8, OUT brier float8, OUT brier_skill float8, OUT largest_gap float8)
  AS 'MODULE_PATHNAME', 'cml_reliability_summary' LANGUAGE C IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION cryptoml_internal.conformal_interval(center float8, residuals float8[], stated bigint, missed bigint,
    OUT lower float8, OUT upper float8)
  AS 'MODULE_PATHNAME', 'cml_conformal_interval' LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION cryptoml_internal.forecast_statement(float8, integer, timestamp, timestamp[], float8[], float8[], bigint, bigint),
  cryptoml_internal.conformal_interval(float8, float8[], bigint, bigint) FROM PUBLIC;

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
    vol_lo float8;       -- the volatility forecast's interval
    vol_hi float8;
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
      -- with its conformal interval: the |errors| of this symbol's earlier volatility forecasts of
      -- the horizon known at this bar (the last inference.calibrationWindow), at the ACI level
      -- after those of them that stated an interval
      IF sigma IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.persistentforecasts f WHERE f.symbol = ml_forecast_all.symbol
                       AND f.forecast_type = 'volatility' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
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
          FROM cryptoml_internal.conformal_interval(sigma * sqrt(h), (SELECT coalesce(array_agg(w.a - w.p), '{}') FROM w),
                 (SELECT count(*) FROM past WHERE past.lo IS NOT NULL),
                 (SELECT count(*) FROM past WHERE past.lo IS NOT NULL AND (past.a < past.lo OR past.a > past.hi))) ci;
        INSERT INTO @extschema@.persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                     model_version, expires_at, bar_timestamp, lower, upper)
          VALUES (symbol, 'volatility', NULL, round((sigma * sqrt(h))::numeric, 8), h, 'stat:sigma60-sqrt-h',
                  bar + make_interval(mins => h), bar, round(greatest(vol_lo, 0)::numeric, 8), round(vol_hi::numeric, 8));
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

COMMENT ON FUNCTION ml_forecast_all(text) IS 'Writes the forecasts of the symbol''s latest bar that are missing: price_direction (production model, else the zero-change baseline), volatility (statistical, with a conformal interval from its earlier errors) and trend (statistical) at every forecasting.horizons horizon; returns how many.';

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
           format('%s of %s bars have inconsistent prices or out-of-range indicators', q.invalid, q.present))
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

COMMENT ON FUNCTION ml_monitor_check(text, timestamptz, integer) IS 'Data-quality check of one or every configured symbol over the window_minutes closed minutes before at: completeness, missing ratio, staleness, invalid ratio; and the live honesty of its production models (interval coverage off target by more than monitoring.alertThresholds.intervalCoverageGap, expected calibration error above monitoring.alertThresholds.calibrationError, over at least 100 outcomes); raises each alert once (systemLogs + NOTIFY cryptoml_alerts) and clears it once.';

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

CREATE FUNCTION cryptoml_internal.check_trade_rule(tp_sigma float8, sl_sigma float8) RETURNS void
  AS 'MODULE_PATHNAME', 'cml_check_trade_rule' LANGUAGE C IMMUTABLE STRICT;

REVOKE ALL ON FUNCTION cryptoml_internal.check_trade_rule(float8, float8) FROM PUBLIC;

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
    SELECT array_agg(p.confidence::float8) AS conf,
           array_agg(sign(coalesce(p.raw_value, p.predicted_value)) = sign(p.actual_value)) AS hit
      FROM @extschema@.persistentforecasts p
     WHERE p.forecast_type = 'price_direction' AND p.actual_value IS NOT NULL AND p.actual_value <> 0 AND p.confidence IS NOT NULL
       AND ($1 IS NULL OR p.symbol = $1) AND ($2 IS NULL OR p.forecast_horizon = $2) AND ($3 IS NULL OR p.bar_timestamp >= $3)) f,
    LATERAL cryptoml_internal.reliability_report(f.conf, f.hit) r
  $$;

COMMENT ON FUNCTION ml_calibration(text, integer, timestamp) IS 'Reliability table of price_direction forecasts with a non-zero outcome: per confidence bucket (0-50, 50-60, ..., 90-100) the mean stated confidence against the observed rate of the raw output''s sign being right, with its 95 % Wilson interval; on every row the expected calibration error and the largest bucket gap (points), the Brier score and its skill against always stating 50 %.';

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
                     'intervalCoverage', 'intervalAdaptRate', 'skillSignificance', 'calibrationWindow');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'unknown backtest option(s): %', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: options are retrainEvery, windowSize, validationSplit, maxDepth, learningRate, numRounds, tpSigma, slSigma, feePct, slippagePct, minEdgePct, confidenceThreshold, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, lstmLearningRate, maxEpochs, batchSize, calibrationFolds, intervalCoverage, intervalAdaptRate, skillSignificance, calibrationWindow';
    END IF;
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_each(o) e(k, v) WHERE jsonb_typeof(v) <> 'number';
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'backtest option(s) % must be JSON numbers', left(bad, 200) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: every option is a number (integers for retrainEvery, windowSize, maxDepth, numRounds, earlyStoppingPatience, sequenceLength, hiddenSize, numLayers, maxEpochs, batchSize, calibrationFolds, calibrationWindow)';
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
      'calibrationWindow', @extschema@.ml_config_get('inference.calibrationWindow')) || o;
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

REVOKE ALL ON FUNCTION ml_forecast(text, integer), ml_forecast_quality(text, integer, timestamp),
  ml_calibration(text, integer, timestamp), ml_backtest_calibration(text) FROM PUBLIC;

CREATE OR REPLACE VIEW ml_forecasts_live AS
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

-- ===========================================================================================
-- Privileges re-derived: every role granted a level gets exactly what the level grants now
-- (the functions created again above start with none).
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
    RAISE NOTICE 'cryptoml 0.6.0: privileges of role % re-derived from its level (%)', r.role::pg_catalog.regrole, level;
  END LOOP;
END
$$;
