-- ml_build_samples: one sample per (symbol, bar, horizon) with a bar exactly horizon minutes later;
-- idempotent, incremental, and no feature reads a bar after its own timestamp.
BEGIN;
SET client_min_messages = warning;
SELECT plan(28);

CREATE FUNCTION pg_temp.load(sym text, start int, n int, base float8 DEFAULT 100) RETURNS void LANGUAGE sql AS $$
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT sym, '2021-01-01'::timestamp + make_interval(mins => i),
         round((c * 0.999)::numeric, 8), round((c * (1.003 + (i % 5) * 0.0005))::numeric, 8),
         round((c * (0.9975 - (i % 3) * 0.0005))::numeric, 8), round(c::numeric, 8), (10 + i % 7)::numeric
  FROM generate_series(start, start + n - 1) AS i,
       LATERAL (SELECT base * (1 + 0.05 * sin(i / 7.0) + (i % 13) * 0.001 + i * 0.0001) AS c) AS p
$$;
-- 300 bars, then a 20-minute gap (an exchange outage), then 100 bars
SELECT pg_temp.load('BTCUSDT', 0, 300);
SELECT pg_temp.load('BTCUSDT', 320, 100);

SELECT is(ml_build_samples('BTCUSDT', 15), (300 - 15) + (100 - 15)::bigint,
          'horizon 15: one sample per bar with a bar 15 minutes later (none across the gap or at the end)');
SELECT is((SELECT count(*) FROM mlTrainingSamples WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15
            AND bar_timestamp BETWEEN '2021-01-01 04:45' AND '2021-01-01 05:19'), 0::bigint,
          'no sample whose future bar falls in the gap');
SELECT is(ml_build_samples('BTCUSDT', 15), 0::bigint, 're-running adds nothing (idempotent)');
-- bars 0-299 and 320-419: a bar has a sample when bar t+h exists, also across the gap
-- h=5: 0-294 and 320-414 (390); h=30: 0-269, 290-299, 320-389 (350); h=60: 0-239, 260-299, 320-359 (320)
SELECT is(ml_build_samples('BTCUSDT'), 390 + 350 + 320::bigint, 'the other training horizons (5, 30, 60), also across the gap');
SELECT is((SELECT round(target, 6) FROM mlTrainingSamples WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15
            AND bar_timestamp = '2021-01-01 01:00'),
          (SELECT round(100 * (b.close / a.close - 1), 6) FROM rollingChartData a, rollingChartData b
            WHERE a.symbol = 'BTCUSDT' AND b.symbol = 'BTCUSDT' AND a.timestamp = '2021-01-01 01:00'
              AND b.timestamp = '2021-01-01 01:15'),
          'target = percentage change of close to the bar horizon minutes later');
SELECT is((SELECT count(DISTINCT k) FROM mlTrainingSamples, jsonb_object_keys(features) AS k WHERE symbol = 'BTCUSDT'), 29::bigint,
          'feature set v1 has 29 named features');
SELECT ok((SELECT bool_and((metadata->>'feature_set_version')::int = 1) FROM mlTrainingSamples WHERE symbol = 'BTCUSDT'),
          'metadata records the feature set version');
SELECT ok((SELECT (features->>'rsi')::float8 = (SELECT (ml_rsi(array_agg(close::float8 ORDER BY timestamp)))[61]
                                               FROM rollingChartData WHERE symbol = 'BTCUSDT')
             FROM mlTrainingSamples WHERE symbol = 'BTCUSDT' AND forecast_horizon = 5 AND bar_timestamp = '2021-01-01 01:00'),
          'the rsi feature is the full-precision ml_rsi value of the bar');
SELECT ok((SELECT features->'ret_15' = 'null'::jsonb FROM mlTrainingSamples
            WHERE symbol = 'BTCUSDT' AND forecast_horizon = 5 AND bar_timestamp = '2021-01-01 05:25'),
          'a return whose lagged bar is in the gap is null (time-based lags)');

-- feature_vector: the same values as the jsonb, in feature-set order, NaN for null
SELECT is((SELECT count(*) FROM mlTrainingSamples WHERE feature_vector IS DISTINCT FROM cryptoml_internal.features_to_vector(features)),
          0::bigint, 'every sample''s feature_vector equals its jsonb features converted (NaN for null)');
SELECT ok((SELECT bool_and(array_length(feature_vector, 1) = 29 AND array_ndims(feature_vector) = 1) FROM mlTrainingSamples),
          'feature_vector has the 29 features');
SELECT ok((SELECT 'NaN'::float8 = ANY(feature_vector) FROM mlTrainingSamples
            WHERE symbol = 'BTCUSDT' AND forecast_horizon = 5 AND bar_timestamp = '2021-01-01 05:25'),
          'a null feature (ret_15 in the gap) is NaN in the vector');
SELECT ok((SELECT bool_and(x = 'NaN') FROM unnest(cryptoml_internal.features_to_vector('{}')) AS x), 'missing features are NaN');
SELECT throws_like($$SELECT cryptoml_internal.features_to_vector('[1, 2]')$$, 'features must be a JSON object', 'features_to_vector: not an object');
SELECT throws_like($$SELECT cryptoml_internal.features_to_vector('{"rsi": "high"}')$$, 'feature "rsi" must be a number or null',
                   'features_to_vector: a non-number names the feature');

-- incremental: new bars add only their samples
SELECT pg_temp.load('BTCUSDT', 420, 30);
SELECT is(ml_build_samples('BTCUSDT', 5), 30::bigint, 'incremental: 30 new bars give 30 new horizon-5 samples');

-- NO LOOK-AHEAD: change every bar after 03:00, rebuild the sample of 03:00: same features
CREATE TEMP TABLE before AS SELECT forecast_horizon, features, target FROM mlTrainingSamples
  WHERE symbol = 'BTCUSDT' AND bar_timestamp = '2021-01-01 03:00';
UPDATE rollingChartData SET open = open * 1.1, high = high * 1.3, low = low * 1.05, close = close * 1.2, volume = volume * 7
  WHERE symbol = 'BTCUSDT' AND timestamp > '2021-01-01 03:00';
DELETE FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp BETWEEN '2021-01-01 03:41' AND '2021-01-01 03:50';
DELETE FROM mlTrainingSamples WHERE symbol = 'BTCUSDT' AND bar_timestamp >= '2021-01-01 03:00';
SELECT ok(ml_build_samples('BTCUSDT', NULL, '2021-01-01 03:00') > 0, 'rebuild from 03:00 on the altered future');
SELECT is((SELECT count(*) FROM before b JOIN mlTrainingSamples s USING (forecast_horizon)
            WHERE s.symbol = 'BTCUSDT' AND s.bar_timestamp = '2021-01-01 03:00' AND s.features = b.features), 4::bigint,
          'altering every later bar leaves the features of 03:00 identical at all four horizons');
SELECT ok((SELECT bool_and(s.target <> b.target) FROM before b JOIN mlTrainingSamples s USING (forecast_horizon)
            WHERE s.symbol = 'BTCUSDT' AND s.bar_timestamp = '2021-01-01 03:00'),
          '... while the targets, which must look ahead, changed');

-- the recoveryState record commits with the samples: a rolled-back build leaves neither
SELECT pg_temp.load('SOLUSDT', 0, 100, 20);
CREATE TEMP TABLE mark AS SELECT coalesce(max(id), 0) AS id FROM recoveryState;
SAVEPOINT before_build;
SELECT ok(ml_build_samples('SOLUSDT', 5) > 0, 'SOLUSDT samples built inside a savepoint');
ROLLBACK TO SAVEPOINT before_build;
SELECT is((SELECT count(*) FROM recoveryState WHERE service_name = 'samples' AND operation_id = 'build SOLUSDT h5'
             AND id > (SELECT id FROM mark))
          + (SELECT count(*) FROM mlTrainingSamples WHERE symbol = 'SOLUSDT'), 0::bigint,
          'after the rollback there are no SOLUSDT samples and no success record claiming them');
SELECT ok((SELECT metadata->'indicator_params'->>'rsiPeriod' = '14' FROM mlTrainingSamples WHERE symbol = 'BTCUSDT' LIMIT 1),
          'samples record the indicator periods they were built with');

-- dow_sin/dow_cos/tod_*: the convention the binding gives (docs/features.md): t counts minutes from
-- 2000-01-01 (PostgreSQL's epoch), d = (floor(t / 1440) + 3) mod 7 = (ISO day of week + 4) mod 7,
-- Wednesday = 0 ... Monday = 5, Tuesday = 6. 10 bars at 10:00 on each day of 2021-01-01 (Fri) .. 01-07 (Thu).
SELECT pg_temp.load('XRPUSDT', d * 1440 + 600, 10, 1) FROM generate_series(0, 6) AS d;
SELECT is(ml_build_samples('XRPUSDT', 5), 35::bigint, 'XRPUSDT: 5 horizon-5 samples on each of 7 days');
SELECT is((SELECT count(*) FROM mlTrainingSamples WHERE symbol = 'XRPUSDT' AND forecast_horizon = 5 AND (
             (round(atan2((features->>'dow_sin')::float8, (features->>'dow_cos')::float8) * 7 / (2 * pi()))::int % 7 + 7) % 7
               IS DISTINCT FROM (extract(isodow FROM bar_timestamp)::int + 4) % 7
             OR (round(atan2((features->>'tod_sin')::float8, (features->>'tod_cos')::float8) * 1440 / (2 * pi()))::int % 1440 + 1440) % 1440
               IS DISTINCT FROM extract(hour FROM bar_timestamp)::int * 60 + extract(minute FROM bar_timestamp)::int)),
          0::bigint, 'every day of the week: d = (ISO day of week + 4) mod 7 and m = the minute of the day (UTC)');
SELECT ok((SELECT abs((features->>'dow_sin')::float8 - sin(2 * pi() * 5 / 7)) < 1e-12
              AND abs((features->>'dow_cos')::float8 - cos(2 * pi() * 5 / 7)) < 1e-12
             FROM mlTrainingSamples WHERE symbol = 'XRPUSDT' AND forecast_horizon = 5 AND bar_timestamp = '2021-01-04 10:00'),
          'a Monday bar (2021-01-04) has d = 5, not 0: t counts from 2000-01-01, not 1970-01-01');

-- bad input
SELECT throws_like($$SELECT ml_build_samples('BTCUSDT', 7)$$, 'horizon 7 is not a training horizon', 'horizon not in training.forecastHorizons');
SELECT throws_like($$SELECT ml_build_samples('ETHUSDT')$$, '%has no bars%', 'symbol without bars');
SELECT throws_like($$SELECT ml_build_samples('BTCUSDT', NULL, 'infinity')$$, '%finite%', 'since = infinity');

SELECT * FROM finish();
ROLLBACK;
