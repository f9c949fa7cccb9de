-- The forecaster's cycle (issue 19): ml_forecast_all of 0.10.0 (one query per symbol for what is
-- already stored and which models exist, one INSERT of its statistical forecasts) stores the same
-- forecasts as the 0.9.0 function, kept below as the reference, cycle after cycle on one symbol with
-- a production model, outcomes and volatility intervals; per-backend caches (the configuration,
-- the production models, the prediction memo) after changes rolled back to a savepoint and after
-- errors caught by an EXCEPTION block.
BEGIN;
SET client_min_messages = error;  -- every forecast of these historical bars warns that its bar is stale
SELECT plan(15);

-- ml_forecast_all as 0.9.0 shipped it (extension/cryptoml--0.9.0.sql), the reference
CREATE FUNCTION pg_temp.forecast_all_090(symbol text) RETURNS integer
  LANGUAGE plpgsql VOLATILE STRICT
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
    SELECT max(r.timestamp) INTO bar FROM rollingchartdata r WHERE r.symbol = forecast_all_090.symbol;
    IF bar IS NULL THEN
      RAISE EXCEPTION 'unknown symbol "%": it has no bars', left(symbol, 40) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the statistics (src/core/volatility.hpp): sigma of the last hour's returns between stored
    -- bars, the volatility percentile of the last 24 hourly sigmas, the efficiency ratio over
    -- min(max(h, 10), 240) bars and the regime, at every horizon in configuration order
    FOR st IN SELECT * FROM cryptoml_internal.market_stats(symbol,
                ARRAY(SELECT x::integer FROM jsonb_array_elements_text(ml_config_get('forecasting.horizons'))
                        WITH ORDINALITY AS j(x, k) ORDER BY k), bar) LOOP
      h := st.horizon;
      -- price_direction: the production model, else the zero-change baseline
      IF NOT EXISTS (SELECT 1 FROM persistentforecasts f WHERE f.symbol = forecast_all_090.symbol
                       AND f.forecast_type = 'price_direction' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
        IF EXISTS (SELECT 1 FROM mltrainingbatches m WHERE m.symbol = forecast_all_090.symbol
                     AND m.forecast_horizon = h AND m.is_production) THEN
          BEGIN
            PERFORM ml_forecast(symbol, h);
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
          INSERT INTO persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
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
      IF NOT EXISTS (SELECT 1 FROM persistentforecasts f WHERE f.symbol = forecast_all_090.symbol
                       AND f.forecast_type = 'volatility' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
        vol := NULL;
        SELECT m.id, m.model INTO vm FROM cryptoml_internal.volatility_models m
         WHERE m.symbol = forecast_all_090.symbol AND m.horizon = h AND m.is_production;
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
              FROM persistentforecasts f
             WHERE f.symbol = forecast_all_090.symbol AND f.forecast_type = 'volatility' AND f.forecast_horizon = h
               AND f.actual_value IS NOT NULL AND f.bar_timestamp + make_interval(mins => h) <= bar
             ORDER BY f.bar_timestamp DESC, f.id DESC),
          w AS (SELECT * FROM past ORDER BY past.bar_timestamp DESC
                 LIMIT (ml_config_get('inference.calibrationWindow'))::integer)
          SELECT ci.lower, ci.upper INTO vol_lo, vol_hi
            FROM cryptoml_internal.conformal_interval(vol, (SELECT coalesce(array_agg(w.a - w.p), '{}') FROM w),
                   (SELECT count(*) FROM past WHERE past.lo IS NOT NULL),
                   (SELECT count(*) FROM past WHERE past.lo IS NOT NULL AND (past.a < past.lo OR past.a > past.hi))) ci;
          INSERT INTO persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                       model_version, expires_at, bar_timestamp, lower, upper)
            VALUES (symbol, 'volatility', NULL, round(vol::numeric, 8), h, vol_version,
                    bar + make_interval(mins => h), bar, CASE WHEN vol_lo IS NOT NULL THEN round(greatest(vol_lo, 0)::numeric, 8) END, round(vol_hi::numeric, 8));
          written := written + 1;
        END IF;
      END IF;
      -- trend: the market regime, from the efficiency ratio over min(max(h, 10), 240) bars and
      -- the volatility percentile
      IF st.er IS NOT NULL AND NOT EXISTS (SELECT 1 FROM persistentforecasts f WHERE f.symbol = forecast_all_090.symbol
                       AND f.forecast_type = 'trend' AND f.forecast_horizon = h AND f.bar_timestamp = bar) THEN
        INSERT INTO persistentforecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon,
                                                     model_version, expires_at, bar_timestamp)
          VALUES (symbol, 'trend', NULL, round(st.er::numeric, 8), h, 'stat:regime-' || st.regime,
                  bar + make_interval(mins => h), bar);
        written := written + 1;
      END IF;
    END LOOP;
    RETURN written;
  END
  $$;


-- 400 minutes of XRPUSDT bars and a production model at horizon 5
SELECT setseed(0.19);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'XRPUSDT', '2021-02-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10 + i % 7
FROM (SELECT i, 0.6 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.004 AS r FROM generate_series(0, 399) i) x) y;
ANALYZE rollingChartData;
SELECT ok(ml_build_samples('XRPUSDT', 5) > 0, 'samples');
SELECT lives_ok($$SELECT ml_deploy(batch_id) FROM ml_train('XRPUSDT', 5)$$, 'a production model for horizon 5');
-- the comparison reads no prediction cache: each function computes its own forecasts
SELECT ml_config_set('inference.predictionCache', 'false');

-- one cycle: a new bar, the 0.9.0 function's rows kept and removed, then ml_forecast_all's rows
CREATE TEMP TABLE cmp (bar timestamp, old_n integer, new_n integer, same boolean, intervals integer);
CREATE FUNCTION pg_temp.cycle() RETURNS void LANGUAGE plpgsql AS $$
  DECLARE b timestamp; n_old integer; n_new integer; old_rows text[]; new_rows text[];
  BEGIN
    INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT symbol, ts, o, round(greatest(o, c) * 1.001, 8), round(least(o, c) * 0.999, 8), c, 12
        FROM (SELECT symbol, timestamp + interval '1 minute' AS ts, close AS o,
                     round(close * (1 + (random() - 0.5) * 0.004)::numeric, 8) AS c
                FROM rollingChartData WHERE symbol = 'XRPUSDT' ORDER BY timestamp DESC LIMIT 1) l
      RETURNING timestamp INTO b;
    n_old := pg_temp.forecast_all_090('XRPUSDT');
    old_rows := ARRAY(SELECT row(forecast_type, forecast_horizon, confidence, predicted_value, raw_value, lower, upper,
                                 model_version, expires_at)::text FROM persistentForecasts
                       WHERE symbol = 'XRPUSDT' AND bar_timestamp = b ORDER BY forecast_type, forecast_horizon);
    DELETE FROM persistentForecasts WHERE symbol = 'XRPUSDT' AND bar_timestamp = b;
    n_new := ml_forecast_all('XRPUSDT');
    new_rows := ARRAY(SELECT row(forecast_type, forecast_horizon, confidence, predicted_value, raw_value, lower, upper,
                                 model_version, expires_at)::text FROM persistentForecasts
                       WHERE symbol = 'XRPUSDT' AND bar_timestamp = b ORDER BY forecast_type, forecast_horizon);
    INSERT INTO cmp VALUES (b, n_old, n_new, old_rows = new_rows,
                            (SELECT count(*) FROM persistentForecasts WHERE symbol = 'XRPUSDT' AND bar_timestamp = b AND lower IS NOT NULL));
    PERFORM ml_fill_actuals();
  END $$;
SELECT pg_temp.cycle() FROM generate_series(1, 30);
SELECT is((SELECT count(*) FILTER (WHERE same AND old_n = new_n AND new_n = 18) FROM cmp), 30::bigint,
          '30 cycles: ml_forecast_all stores the 0.9.0 function''s 18 rows, value for value, and returns the same count');
SELECT ok((SELECT sum(intervals) FROM cmp WHERE bar > (SELECT min(bar) + interval '10 minutes' FROM cmp)) > 0,
          '... including forecasts with intervals from their own earlier outcomes');
SELECT is((SELECT count(DISTINCT model_version) FROM persistentForecasts WHERE symbol = 'XRPUSDT' AND forecast_type = 'price_direction'
             AND forecast_horizon = 5 AND model_version LIKE 'xgb-%'), 1::bigint, '... and horizon 5 by the production model');
SELECT is(ml_forecast_all('XRPUSDT'), 0, 'a second call writes nothing');

-- the configuration cache: a change rolled back to a savepoint, and one kept
SELECT ml_config_set('forecasting.horizons', '[5, 15]');
SAVEPOINT s1;
SELECT ml_config_set('forecasting.horizons', '[5, 15, 30]');
SELECT is(ml_config_get('forecasting.horizons'), '[5, 15, 30]'::jsonb, 'ml_config_get sees a change at once');
ROLLBACK TO SAVEPOINT s1;
SELECT is(ml_config_get('forecasting.horizons'), '[5, 15]'::jsonb, '... and not after it is rolled back to a savepoint');
SELECT pg_temp.cycle();
SELECT is((SELECT new_n || ' ' || old_n || ' ' || same FROM cmp ORDER BY bar DESC LIMIT 1), '6 6 true',
          'a cycle follows the configuration: two horizons x three types');

-- the production model cache: a new production model rolled back to a savepoint, then kept
CREATE TEMP TABLE first_model AS SELECT batch_id FROM mlTrainingBatches WHERE symbol = 'XRPUSDT' AND forecast_horizon = 5 AND is_production;
SAVEPOINT s2;
SELECT lives_ok($$SELECT ml_deploy(batch_id) FROM ml_train('XRPUSDT', 5, options => '{"max_depth": 2}')$$, 'another production model');
SELECT pg_temp.cycle();
SELECT is((SELECT model_version FROM persistentForecasts WHERE symbol = 'XRPUSDT' AND forecast_horizon = 5 AND forecast_type = 'price_direction'
            ORDER BY id DESC LIMIT 1), (SELECT batch_id FROM mlTrainingBatches WHERE symbol = 'XRPUSDT' AND forecast_horizon = 5 AND is_production),
          'the next cycle forecasts with it');
ROLLBACK TO SAVEPOINT s2;
SELECT pg_temp.cycle();
SELECT is((SELECT model_version FROM persistentForecasts WHERE symbol = 'XRPUSDT' AND forecast_horizon = 5 AND forecast_type = 'price_direction'
            ORDER BY id DESC LIMIT 1), (SELECT batch_id FROM first_model), 'rolled back: the first model again');

-- an error caught by an EXCEPTION block (a subtransaction aborted mid-cycle) leaves nothing behind
SELECT throws_like($$SELECT ml_forecast_all('ADAUSDT')$$, 'unknown symbol "ADAUSDT": it has no bars', 'a symbol without bars');
DO $$ BEGIN
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
    SELECT symbol, timestamp + interval '1 minute', close, high, low, close, volume
      FROM rollingChartData WHERE symbol = 'XRPUSDT' ORDER BY timestamp DESC LIMIT 1;
  PERFORM ml_forecast_all('XRPUSDT');  -- a bar and its forecasts, rolled back with the block
  RAISE EXCEPTION 'rolled back';
EXCEPTION WHEN raise_exception THEN NULL;
END $$;
SELECT pg_temp.cycle();
SELECT is((SELECT same FROM cmp ORDER BY bar DESC LIMIT 1), true, 'after a caught error the next cycle is still the reference''s');
SELECT is((SELECT count(*) FROM cmp WHERE NOT same), 0::bigint, 'every cycle compared equal');

ROLLBACK;
