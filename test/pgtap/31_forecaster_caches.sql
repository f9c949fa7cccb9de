-- The forecaster's per-backend caches of issue 19 give what a computation from scratch gives, after
-- every kind of change, in one session (the cross-session cases: specs/forecaster_caches.spec):
--   - the kept bars of feature set 1 (forecast.cpp, rolling_features): latest_features(symbol), as
--     ml_forecast builds it, equals latest_features(symbol, 1), built from the trigger's checkpoint,
--     after new bars, a corrected earlier bar, a deleted latest bar, and changes rolled back to a
--     savepoint or by an EXCEPTION block;
--   - the kept series of known volatility outcomes (forecast_history.cpp): volatility_interval
--     equals the query ml_forecast_all 0.10.0 ran (kept below as the reference) after forecasts
--     inserted without and with an outcome, outcomes resolved, rows deleted, a TRUNCATE, another
--     calibration window, and changes rolled back to a savepoint or by an EXCEPTION block;
--   - the market statistics' kept bars (volatility.cpp): market_stats equals the statistics of
--     the bars read by a query, after the same changes.
BEGIN;
SET client_min_messages = error;
SELECT plan(15);

-- 1,500 minutes of XRPUSDT bars (longer than one checkpoint period)
SELECT setseed(0.32);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'XRPUSDT', '2021-02-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10 + i % 7
FROM (SELECT i, 0.6 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.004 AS r FROM generate_series(0, 1499) i) x) y;

CREATE FUNCTION pg_temp.new_bar(drift float8 DEFAULT 0) RETURNS timestamp LANGUAGE sql AS $$
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
    SELECT symbol, ts, o, round(greatest(o, c) * 1.001, 8), round(least(o, c) * 0.999, 8), c, 12
      FROM (SELECT symbol, timestamp + interval '1 minute' AS ts, close AS o,
                   round(close * (1 + drift + (random() - 0.5) * 0.004)::numeric, 8) AS c
              FROM rollingChartData WHERE symbol = 'XRPUSDT' ORDER BY timestamp DESC LIMIT 1) l
    RETURNING timestamp $$;

-- ---- kept bars of feature set 1 ----
CREATE TEMP TABLE fcmp (step text, same boolean);
CREATE FUNCTION pg_temp.features_same(step text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO fcmp SELECT step, cryptoml_internal.latest_features('XRPUSDT') = cryptoml_internal.latest_features('XRPUSDT', 1) $$;
SELECT pg_temp.features_same('first') ;
SELECT pg_temp.new_bar(), pg_temp.features_same('new bar') FROM generate_series(1, 300);
SELECT is((SELECT count(*) FILTER (WHERE same) FROM fcmp), 301::bigint,
          'latest_features as ml_forecast builds it (kept bars) = from the checkpoint, over 300 new bars');
-- a corrected earlier bar (its recompute rewrites the later rows), then a new bar
UPDATE rollingChartData SET close = round(close * 1.01, 8), high = round(high * 1.01, 8)
 WHERE symbol = 'XRPUSDT' AND timestamp = (SELECT max(timestamp) - interval '5 minutes' FROM rollingChartData WHERE symbol = 'XRPUSDT');
SELECT pg_temp.features_same('corrected');
SELECT pg_temp.new_bar(), pg_temp.features_same('after corrected');
-- the latest bar deleted
DELETE FROM rollingChartData WHERE symbol = 'XRPUSDT' AND timestamp = (SELECT max(timestamp) FROM rollingChartData WHERE symbol = 'XRPUSDT');
SELECT pg_temp.features_same('deleted latest');
SELECT pg_temp.new_bar(), pg_temp.features_same('after deleted');
SELECT is((SELECT count(*) FILTER (WHERE same) FROM fcmp WHERE step IN ('corrected', 'after corrected', 'deleted latest', 'after deleted')), 4::bigint,
          '... after a corrected earlier bar and a deleted latest bar');
-- a bar rolled back to a savepoint, then another bar of the same minute
SAVEPOINT s1;
SELECT pg_temp.new_bar(0.01), pg_temp.features_same('in savepoint');
ROLLBACK TO SAVEPOINT s1;
SELECT pg_temp.new_bar(-0.01), pg_temp.features_same('after savepoint');
-- the same by an EXCEPTION block
DO $$ BEGIN
  PERFORM pg_temp.new_bar(0.02);
  PERFORM cryptoml_internal.latest_features('XRPUSDT');
  RAISE EXCEPTION 'rolled back';
EXCEPTION WHEN raise_exception THEN NULL;
END $$;
SELECT pg_temp.new_bar(-0.02), pg_temp.features_same('after exception');
SELECT is((SELECT count(*) FILTER (WHERE same) FROM fcmp WHERE step IN ('after savepoint', 'after exception')), 2::bigint,
          '... after bars rolled back to a savepoint and by an EXCEPTION block');
SELECT is((SELECT count(*) FROM fcmp WHERE NOT same OR same IS NULL), 0::bigint, 'every comparison equal');

-- ---- market statistics' kept bars ----
-- the statistics at a bar: from the window kept by the call before when it is still valid, and in
-- full after a call for a bar 1,500 minutes earlier (whose window the next call cannot reach)
CREATE FUNCTION pg_temp.stats_at(b timestamp) RETURNS text LANGUAGE sql AS $$
  SELECT array_agg(row(s.*)::text ORDER BY s.horizon)::text FROM cryptoml_internal.market_stats('XRPUSDT', '{5, 15, 60, 240}', b) s $$;
CREATE FUNCTION pg_temp.stats_full(b timestamp) RETURNS text LANGUAGE plpgsql AS $$
  BEGIN PERFORM pg_temp.stats_at(b - interval '1500 minutes'); RETURN pg_temp.stats_at(b); END $$;
CREATE FUNCTION pg_temp.latest() RETURNS timestamp LANGUAGE sql AS $$ SELECT max(timestamp) FROM rollingChartData WHERE symbol = 'XRPUSDT' $$;
CREATE TEMP TABLE scmp (step text, same boolean);
SELECT pg_temp.stats_at(pg_temp.latest());
SELECT pg_temp.new_bar() FROM generate_series(1, 3);
INSERT INTO scmp SELECT 'new bars', pg_temp.stats_at(pg_temp.latest()) = pg_temp.stats_full(pg_temp.latest());
SELECT pg_temp.stats_at(pg_temp.latest());
UPDATE rollingChartData SET close = round(close * 0.99, 8), low = round(low * 0.99, 8)
 WHERE symbol = 'XRPUSDT' AND timestamp = pg_temp.latest() - interval '30 minutes';
INSERT INTO scmp SELECT 'corrected', pg_temp.stats_at(pg_temp.latest()) = pg_temp.stats_full(pg_temp.latest());
SELECT pg_temp.stats_at(pg_temp.latest());
SAVEPOINT s2;
SELECT pg_temp.new_bar(0.05);
SELECT pg_temp.stats_at(pg_temp.latest());
ROLLBACK TO SAVEPOINT s2;
SELECT pg_temp.new_bar(-0.05);
INSERT INTO scmp SELECT 'after savepoint', pg_temp.stats_at(pg_temp.latest()) = pg_temp.stats_full(pg_temp.latest());
SELECT pg_temp.stats_at(pg_temp.latest());
DELETE FROM rollingChartData WHERE symbol = 'XRPUSDT' AND timestamp = pg_temp.latest();
INSERT INTO scmp SELECT 'deleted latest', pg_temp.stats_at(pg_temp.latest()) = pg_temp.stats_full(pg_temp.latest());
SELECT is((SELECT count(*) FILTER (WHERE same) FROM scmp), 4::bigint,
          'market_stats from the kept window = read in full, after new, corrected, rolled back and deleted bars');
-- ... and sigma is that of the last hour's returns of the stored bars
SELECT is((SELECT round(sigma::numeric, 10) FROM cryptoml_internal.market_stats('XRPUSDT', '{5}')),
          (SELECT round(stddev_samp(r)::numeric, 10) FROM (
             SELECT 100 * (close::float8 / lag(close::float8) OVER (ORDER BY timestamp) - 1) AS r
               FROM rollingChartData WHERE symbol = 'XRPUSDT'
                AND timestamp >= pg_temp.latest() - interval '60 minutes') x WHERE r IS NOT NULL),
          'sigma from the kept window = the last hour''s returns of the stored bars');

-- ---- the kept series of known volatility outcomes ----
-- 0.10.0's query (ml_forecast_all), the reference
CREATE FUNCTION pg_temp.vol_ref(symbol text, h integer, bar timestamp, vol float8, cal_window integer) RETURNS text LANGUAGE sql AS $$
  WITH past AS (
    SELECT DISTINCT ON (f.bar_timestamp) f.bar_timestamp, f.predicted_value::float8 AS p, f.actual_value::float8 AS a,
           f.lower::float8 AS lo, f.upper::float8 AS hi
      FROM persistentforecasts f
     WHERE f.symbol = vol_ref.symbol AND f.forecast_type = 'volatility' AND f.forecast_horizon = h
       AND f.actual_value IS NOT NULL AND f.bar_timestamp + make_interval(mins => h) <= bar
     ORDER BY f.bar_timestamp DESC, f.id DESC),
  w AS (SELECT * FROM past ORDER BY past.bar_timestamp DESC LIMIT cal_window)
  SELECT row(ci.lower, ci.upper)::text
    FROM cryptoml_internal.conformal_interval(vol, (SELECT coalesce(array_agg(w.a - w.p), '{}') FROM w),
           (SELECT count(*) FROM past WHERE past.lo IS NOT NULL),
           (SELECT count(*) FROM past WHERE past.lo IS NOT NULL AND (past.a < past.lo OR past.a > past.hi))) ci $$;
CREATE FUNCTION pg_temp.vol_same(w integer) RETURNS boolean LANGUAGE sql AS $$
  SELECT bool_and((SELECT row(v.lower, v.upper)::text FROM cryptoml_internal.volatility_interval('XRPUSDT', h, b, 0.5, w) v)
                  IS NOT DISTINCT FROM pg_temp.vol_ref('XRPUSDT', h, b, 0.5, w))
    FROM unnest('{5, 15}'::integer[]) h,
         (SELECT max(timestamp) - make_interval(mins => k) AS b FROM rollingChartData, generate_series(0, 40, 20) k
           WHERE symbol = 'XRPUSDT' GROUP BY k) bars $$;
-- volatility forecasts of 200 earlier bars with outcomes, some with intervals, two rows for some bars
INSERT INTO persistentForecasts (symbol, forecast_type, predicted_value, actual_value, forecast_horizon, model_version,
                                 expires_at, bar_timestamp, lower, upper)
SELECT 'XRPUSDT', 'volatility', round((0.3 + random() * 0.2)::numeric, 8), round((0.2 + random() * 0.4)::numeric, 8), h, 'stat:test',
       b + make_interval(mins => h), b,
       CASE WHEN k % 3 > 0 THEN round((0.2 + random() * 0.1)::numeric, 8) END, CASE WHEN k % 3 = 1 THEN round((0.5 + random() * 0.1)::numeric, 8) END
  FROM unnest('{5, 15}'::integer[]) h,
       (SELECT timestamp AS b, row_number() OVER (ORDER BY timestamp) AS k FROM rollingChartData
         WHERE symbol = 'XRPUSDT' ORDER BY timestamp DESC LIMIT 200) x,
       generate_series(1, CASE WHEN k % 17 = 0 THEN 2 ELSE 1 END);
CREATE TEMP TABLE vcmp (step text, same boolean);
INSERT INTO vcmp SELECT 'outcomes inserted, window 50', pg_temp.vol_same(50);
INSERT INTO vcmp SELECT 'again (kept)', pg_temp.vol_same(50);
INSERT INTO vcmp SELECT 'window 20', pg_temp.vol_same(20);
INSERT INTO vcmp SELECT 'all', pg_temp.vol_same(NULL);
SELECT is((SELECT count(*) FILTER (WHERE same) FROM vcmp), 4::bigint,
          'volatility_interval = 0.10.0''s query, kept and again, at three windows, several bars and horizons');
-- forecasts without an outcome (the forecaster's inserts) change nothing; then their outcomes resolved
INSERT INTO persistentForecasts (symbol, forecast_type, predicted_value, forecast_horizon, model_version, expires_at, bar_timestamp)
SELECT 'XRPUSDT', 'volatility', 0.4, 5, 'stat:test', b + interval '5 minutes', b
  FROM (SELECT timestamp - interval '3 minutes' AS b FROM rollingChartData WHERE symbol = 'XRPUSDT' ORDER BY timestamp DESC LIMIT 30) x;
INSERT INTO vcmp SELECT 'pending inserted', pg_temp.vol_same(50);
UPDATE persistentForecasts SET actual_value = 0.45 WHERE symbol = 'XRPUSDT' AND forecast_type = 'volatility' AND actual_value IS NULL;
INSERT INTO vcmp SELECT 'resolved', pg_temp.vol_same(50);
-- an outcome inserted with its forecast, rows deleted
INSERT INTO persistentForecasts (symbol, forecast_type, predicted_value, actual_value, forecast_horizon, model_version, expires_at, bar_timestamp, lower, upper)
SELECT 'XRPUSDT', 'volatility', 0.1, 0.9, 5, 'stat:test', max(timestamp), max(timestamp) - interval '10 minutes', 0.05, 0.2
  FROM rollingChartData WHERE symbol = 'XRPUSDT';
INSERT INTO vcmp SELECT 'inserted with outcome', pg_temp.vol_same(50);
DELETE FROM persistentForecasts WHERE symbol = 'XRPUSDT' AND forecast_type = 'volatility' AND id % 4 = 0;
INSERT INTO vcmp SELECT 'deleted', pg_temp.vol_same(50);
SELECT is((SELECT count(*) FILTER (WHERE same) FROM vcmp WHERE step IN ('pending inserted', 'resolved', 'inserted with outcome', 'deleted')), 4::bigint,
          '... after forecasts inserted without and with an outcome, outcomes resolved and rows deleted');
-- resolved in a savepoint, rolled back
SAVEPOINT s3;
UPDATE persistentForecasts SET actual_value = actual_value * 3 WHERE symbol = 'XRPUSDT' AND forecast_type = 'volatility';
INSERT INTO vcmp SELECT 'in savepoint', pg_temp.vol_same(50);
ROLLBACK TO SAVEPOINT s3;
INSERT INTO vcmp SELECT 'after savepoint', pg_temp.vol_same(50);
-- ... and by an EXCEPTION block
DO $$ BEGIN
  UPDATE persistentForecasts SET actual_value = actual_value * 5 WHERE symbol = 'XRPUSDT' AND forecast_type = 'volatility';
  PERFORM cryptoml_internal.volatility_interval('XRPUSDT', 5, (SELECT max(timestamp) FROM rollingChartData WHERE symbol = 'XRPUSDT'), 0.5, 50);
  RAISE EXCEPTION 'rolled back';
EXCEPTION WHEN raise_exception THEN NULL;
END $$;
INSERT INTO vcmp SELECT 'after exception', pg_temp.vol_same(50);
SELECT is((SELECT count(*) FILTER (WHERE same) FROM vcmp WHERE step IN ('after savepoint', 'after exception')), 2::bigint,
          '... after outcomes changed and rolled back to a savepoint and by an EXCEPTION block');
SELECT isnt((SELECT row(v.lower, v.upper)::text FROM cryptoml_internal.volatility_interval('XRPUSDT', 5,
               (SELECT max(timestamp) FROM rollingChartData WHERE symbol = 'XRPUSDT'), 0.5, 50) v), '(,)',
            'the compared intervals are stated (not NULL)');
TRUNCATE persistentForecasts;
INSERT INTO vcmp SELECT 'truncated', pg_temp.vol_same(50);
SELECT is((SELECT row(v.lower, v.upper)::text FROM cryptoml_internal.volatility_interval('XRPUSDT', 5,
             (SELECT max(timestamp) FROM rollingChartData WHERE symbol = 'XRPUSDT'), 0.5, 50) v), '(,)',
          'after TRUNCATE: no outcome, no interval');
SELECT is((SELECT count(*) FROM vcmp WHERE NOT same OR same IS NULL), 0::bigint, 'every volatility comparison equal');

-- ---- ml_forecast_all with a production model, a cycle after each change (29_forecaster_cycle
-- compares it with 0.9.0's function) writes its 18 forecasts
SELECT ok(ml_build_samples('XRPUSDT', 5) > 0, 'samples');
SELECT lives_ok($$SELECT ml_deploy(batch_id) FROM ml_train('XRPUSDT', 5)$$, 'a production model for horizon 5');
SELECT pg_temp.new_bar();
SELECT is(ml_forecast_all('XRPUSDT'), 18, 'a cycle writes 18 forecasts');

SELECT * FROM finish();
ROLLBACK;
