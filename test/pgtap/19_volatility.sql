-- The volatility statistics and model (issue 17): cryptoml_internal.market_stats states exactly
-- what ml_forecast_all's SQL computed until 0.7.0; ml_train_volatility trains and promotes a HAR
-- model that beats the trailing realized volatility on bars with GARCH variance;
-- ml_forecast_all uses the production model and falls back to sigma60 * sqrt(h) without one;
-- ml_volatility_evaluate's walk-forward; bad input changes nothing.
BEGIN;
SET client_min_messages = error;
SELECT plan(33);

-- 12 days of minute bars with GARCH(1,1) variance (volatility clusters: the past predicts the next
-- minutes' volatility) times an hour-of-day profile, with a 30-minute gap on the last day
SELECT setseed(0.42);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-03-01'::timestamp + make_interval(mins => i),
       round(c::numeric, 8), round((c * 1.0004)::numeric, 8), round((c * 0.9996)::numeric, 8), round(c::numeric, 8), 10 + i % 7
FROM (SELECT i, 50000 * exp(sum(r * (0.5 + pow(sin(pi() * ((i / 60) % 24) / 24.0), 2))) OVER (ORDER BY i)) AS c
        FROM (WITH RECURSIVE g(i, v, r) AS (
                SELECT 0, 1e-6::float8, 0::float8
                UNION ALL
                SELECT g.i + 1, n.v, sqrt(n.v) * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
                  FROM g, LATERAL (SELECT 2e-8 + 0.10 * g.r * g.r + 0.88 * g.v AS v) n WHERE g.i < 12 * 1440 - 1)
              SELECT i, r FROM g) z) y
WHERE i NOT BETWEEN 12 * 1440 - 400 AND 12 * 1440 - 371;
ANALYZE rollingChartData;

-- ---- market_stats equals the 0.7.0 SQL ---------------------------------------------------------
CREATE TEMP TABLE old_stats AS
WITH bar AS (SELECT max(timestamp) AS bar FROM rollingChartData WHERE symbol = 'BTCUSDT'),
b AS (SELECT r.timestamp, r.close::float8 AS c FROM rollingChartData r, bar
       WHERE r.symbol = 'BTCUSDT' AND r.timestamp > bar.bar - interval '1441 minutes'),
ret AS (SELECT timestamp, 100 * (c / lag(c) OVER (ORDER BY timestamp) - 1) AS x FROM b),
hourly AS (SELECT floor(extract(epoch FROM (SELECT bar FROM bar) - timestamp) / 3600)::int AS k, stddev_samp(x) AS s
             FROM ret WHERE x IS NOT NULL GROUP BY 1)
SELECT (SELECT hr.s FROM hourly hr WHERE hr.k = 0) AS sigma,
       (SELECT avg((hr.s <= cur.s)::int)::float8 FROM hourly hr, hourly cur WHERE cur.k = 0 AND hr.s IS NOT NULL) AS vol_pct;
CREATE TEMP TABLE old_er AS
WITH b AS (SELECT r.close::float8 AS c, r.timestamp FROM rollingChartData r
            WHERE r.symbol = 'BTCUSDT' ORDER BY r.timestamp DESC LIMIT 241),
d AS (SELECT c, timestamp, abs(c - lead(c) OVER (ORDER BY timestamp DESC)) AS step FROM b),
e AS (SELECT c, timestamp, sum(step) OVER (ORDER BY timestamp DESC) AS cum FROM d),
arr AS (SELECT array_agg(c ORDER BY timestamp DESC) AS closes, array_agg(cum ORDER BY timestamp DESC) AS steps FROM e)
SELECT h, CASE WHEN n < 1 THEN NULL WHEN steps[n] > 0 THEN abs(closes[1] - closes[n + 1]) / steps[n] ELSE 0 END AS er
  FROM arr, unnest(ARRAY[5, 15, 30, 60, 240, 1440]) h, LATERAL (SELECT least(greatest(h, 10), 240, array_length(closes, 1) - 1) AS n) nn;
CREATE TEMP TABLE new_stats AS SELECT * FROM cryptoml_internal.market_stats('BTCUSDT', ARRAY[5, 15, 30, 60, 240, 1440]);

SELECT is((SELECT count(*) FROM new_stats), 6::bigint, 'market_stats: one row per horizon');
SELECT is((SELECT array_agg(horizon ORDER BY horizon) FROM new_stats), ARRAY[5, 15, 30, 60, 240, 1440], 'in the horizons given');
SELECT ok((SELECT abs(n.sigma - o.sigma) <= 1e-12 * o.sigma AND o.sigma > 0 FROM new_stats n, old_stats o LIMIT 1),
          'sigma = the sample std of the last hour''s returns between stored bars, as the 0.7.0 SQL');
SELECT ok((SELECT abs(n.vol_pct - o.vol_pct) < 1e-12 FROM new_stats n, old_stats o LIMIT 1), 'vol_pct as the 0.7.0 SQL');
SELECT ok((SELECT bool_and(abs(n.er - o.er) < 1e-12) FROM new_stats n JOIN old_er o ON o.h = n.horizon), 'er at each horizon as the 0.7.0 SQL');
SELECT is((SELECT array_agg(n.regime ORDER BY n.horizon) FROM new_stats n JOIN old_er o ON o.h = n.horizon, old_stats s),
          (SELECT array_agg(CASE WHEN s.vol_pct >= 0.9 THEN 'volatile' WHEN o.er >= 0.3 THEN 'trending' ELSE 'ranging' END ORDER BY o.h)
             FROM old_er o, old_stats s), 'the regime rule as the 0.7.0 SQL');
SELECT is((SELECT array_agg(n ORDER BY horizon) FROM new_stats), ARRAY[10, 15, 30, 60, 240, 240], 'ER moves min(max(h, 10), 240)');
-- at an earlier bar (the last one before the gap) the statistics read only bars up to it
SELECT is((SELECT bar_timestamp FROM cryptoml_internal.market_stats('BTCUSDT', ARRAY[15], '2021-03-12 17:19'::timestamp)),
          '2021-03-12 17:19'::timestamp, 'market_stats at a given bar');

-- ---- ml_forecast_all without a model: the formula ------------------------------------------------
SELECT ok(ml_forecast_all('BTCUSDT') > 0, 'ml_forecast_all writes forecasts');
SELECT is((SELECT predicted_value FROM persistentForecasts WHERE symbol = 'BTCUSDT' AND forecast_type = 'volatility' AND forecast_horizon = 15),
          (SELECT round((sigma * sqrt(15))::numeric, 8) FROM old_stats), 'without a model: sigma60 * sqrt(h) of the 0.7.0 SQL');
SELECT is((SELECT model_version::text FROM persistentForecasts WHERE symbol = 'BTCUSDT' AND forecast_type = 'volatility' AND forecast_horizon = 15),
          'stat:sigma60-sqrt-h', 'model_version of the formula');
SELECT is((SELECT array_agg(row(predicted_value, model_version)::text ORDER BY forecast_horizon) FROM persistentForecasts
            WHERE symbol = 'BTCUSDT' AND forecast_type = 'trend'),
          (SELECT array_agg(row(round(o.er::numeric, 8), 'stat:regime-' || n.regime)::text ORDER BY o.h)
             FROM old_er o JOIN new_stats n ON n.horizon = o.h), 'trend forecasts: the efficiency ratio and regime');

-- ---- bad input changes nothing ----------------------------------------------------------------------
SELECT throws_like($$SELECT * FROM ml_train_volatility('NOPEUSDT', 15)$$, '%unknown symbol "NOPEUSDT"%', 'train: unknown symbol');
SELECT throws_ok($$SELECT * FROM ml_train_volatility('BTCUSDT', 0)$$, '22023', 'invalid horizon = 0: must be between 1 and 10080 minutes', 'train: horizon 0');
SELECT throws_like($$SELECT * FROM ml_train_volatility('BTCUSDT', 15, '{"ridgee": 1}')$$, '%unknown option "ridgee" for ml_train_volatility%', 'train: unknown option');
SELECT throws_ok($$SELECT * FROM ml_train_volatility('BTCUSDT', 15, '{"trainDays": 0}')$$, '22023', NULL, 'train: trainDays out of range');
SELECT throws_like($$SELECT * FROM ml_volatility_evaluate('NOPEUSDT', 15)$$, '%unknown symbol "NOPEUSDT"%', 'evaluate: unknown symbol');
SELECT throws_ok($$SELECT * FROM ml_volatility_evaluate('BTCUSDT', -1)$$, '22023', NULL, 'evaluate: horizon -1');
SELECT throws_like($$SELECT * FROM ml_volatility_evaluate('BTCUSDT', 15, '{"validationSplit": 0.3}')$$,
                   '%unknown option "validationSplit" for ml_volatility_evaluate%', 'evaluate: an option of training only');
SELECT throws_ok($$SELECT * FROM cryptoml_internal.market_stats('BTCUSDT', ARRAY[0])$$, '22023', NULL, 'market_stats: horizon 0');
SELECT is((SELECT count(*) FROM cryptoml_internal.volatility_models), 0::bigint, 'bad input stored no model');

-- ---- training ----------------------------------------------------------------------------------------
CREATE TEMP TABLE t15 AS SELECT * FROM ml_train_volatility('BTCUSDT', 15, '{"trainDays": 4}');
SELECT is((SELECT count(*) FROM t15), 1::bigint, 'one model per symbol and horizon');
SELECT ok((SELECT n > 500 AND qlike > 0 AND qlike_baseline > 0 AND rmse_log > 0 FROM t15), 'validation metrics');
SELECT ok((SELECT ratio < 0.9 FROM t15), 'the model beats the trailing realized volatility (QLIKE ratio < 0.9) on GARCH variance');
SELECT ok((SELECT is_production = (qlike < qlike_baseline AND qlike < qlike_formula) AND is_production FROM t15), 'promoted: it beats both baselines');
SELECT ok((SELECT train_to < valid_from AND valid_to <= '2021-03-12 23:59' AND train_from >= '2021-03-08 23:59' FROM t15),
          'trained on the last trainDays days, validated after it');
SELECT is((SELECT model ->> 'type' FROM cryptoml_internal.volatility_models WHERE id = (SELECT model_id FROM t15)), 'har', 'the model is stored');

-- ---- the forecast uses the production model ----------------------------------------------------------
DELETE FROM persistentForecasts WHERE symbol = 'BTCUSDT';
SELECT ok(ml_forecast_all('BTCUSDT') > 0, 'ml_forecast_all again');
SELECT is((SELECT model_version::text FROM persistentForecasts WHERE symbol = 'BTCUSDT' AND forecast_type = 'volatility' AND forecast_horizon = 15),
          'har:' || (SELECT model_id FROM t15), 'the volatility forecast of h15 comes from the production model');
SELECT is((SELECT predicted_value FROM persistentForecasts WHERE symbol = 'BTCUSDT' AND forecast_type = 'volatility' AND forecast_horizon = 15),
          (SELECT round(cryptoml_internal.volatility_predict('BTCUSDT', 15, max(timestamp),
                          (SELECT model FROM cryptoml_internal.volatility_models WHERE id = (SELECT model_id FROM t15)))::numeric, 8)
             FROM rollingChartData WHERE symbol = 'BTCUSDT'), 'its value is the model''s prediction');
SELECT is((SELECT model_version::text FROM persistentForecasts WHERE symbol = 'BTCUSDT' AND forecast_type = 'volatility' AND forecast_horizon = 60),
          'stat:sigma60-sqrt-h', 'a horizon without a model falls back to the formula');

-- ---- walk-forward -----------------------------------------------------------------------------------
CREATE TEMP TABLE ev AS SELECT * FROM ml_volatility_evaluate('BTCUSDT', 15, '{"warmupDays": 8, "refitEvery": 720}');
SELECT ok((SELECT n > 4000 AND refits >= 7 FROM ev), 'walk-forward: predictions from several refits');
SELECT ok((SELECT abs(ratio - qlike / qlike_baseline) < 1e-12 AND ratio < 1 AND qlike < qlike_formula FROM ev),
          'walk-forward: the model beats the trailing realized volatility and the formula');

SELECT * FROM finish();
ROLLBACK;
