-- Per-bar anomaly detector (issue 17): hand-built spikes on generated bars of four symbols
-- (an idiosyncratic return spike, a volume spike, a market-wide move, a wick), incremental and
-- idempotent detection, ml_anomalies, changed bars re-scored, the monitor's 'anomaly' alert raised
-- once and cleared once, training.excludeAnomalies, bad input, state after a caught error; and the
-- real ADAUSDT flash wick of 2021-04-23T02:25Z when the shared data is present.
BEGIN;
SET client_min_messages = error;
SELECT plan(54);
-- whatever an earlier file or a worker committed (a detection over other bars) is not this test's
DELETE FROM rollingChartData;
DELETE FROM cryptoml_internal.bar_anomalies;
DELETE FROM cryptoml_internal.anomaly_checkpoint;

-- 600 minutes of 4 symbols: a common market return plus each symbol's own, smaller noise (both
-- bounded: no generated bar is anywhere near 8 robust sigmas; the market dominates, as in real
-- minute returns, so the fitted beta is near 1). Minute 0 = 2021-03-01 00:00.
SELECT setseed(0.42);
CREATE TEMP TABLE mk AS SELECT i, CASE WHEN i = 500 THEN -0.02 ELSE (random() - 0.5) * 0.002 END AS m FROM generate_series(0, 599) i;
CREATE TEMP TABLE gen AS
SELECT s.sym, mk.i, mk.m + (random() - 0.5) * 0.0006
         + CASE WHEN s.sym = 'ADAUSDT' AND mk.i = 400 THEN 0.03 WHEN s.sym = 'ADAUSDT' AND mk.i = 401 THEN -0.03 ELSE 0 END AS r,
       (8 + 4 * random()) * CASE WHEN s.sym = 'ADAUSDT' AND mk.i = 450 THEN 1000 ELSE 1 END AS v,
       s.base
  FROM mk, (VALUES ('BTCUSDT', 50000.0), ('ETHUSDT', 2000.0), ('SOLUSDT', 20.0), ('ADAUSDT', 1.0)) s(sym, base);
CREATE TEMP TABLE bars AS
SELECT sym, '2021-03-01'::timestamp + make_interval(mins => i) AS ts, i, v,
       base * exp(coalesce(sum(r) OVER (PARTITION BY sym ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS o,
       base * exp(sum(r) OVER (PARTITION BY sym ORDER BY i)) AS c
  FROM gen;
CREATE TEMP TABLE expected (sym text, i integer, kinds text[]);
INSERT INTO expected VALUES
  ('ADAUSDT', 400, '{return,range,residual}'), ('ADAUSDT', 401, '{return,range,residual}'), ('ADAUSDT', 450, '{volume}'),
  ('ADAUSDT', 500, '{return,range}'), ('BTCUSDT', 500, '{return,range}'), ('ETHUSDT', 500, '{return,range}'),
  ('SOLUSDT', 500, '{return,range}'), ('ADAUSDT', 550, '{range}');
-- the bars of minutes [lo, hi], with the wick at ADAUSDT 550 (6 % below the body)
CREATE FUNCTION pg_temp.load(lo integer, hi integer) RETURNS void LANGUAGE sql AS $$
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT sym, ts, round(o::numeric, 8), round((greatest(o, c) * 1.0005)::numeric, 8),
         round((least(o, c) * CASE WHEN sym = 'ADAUSDT' AND i = 550 THEN 0.94 ELSE 0.9995 END)::numeric, 8), round(c::numeric, 8),
         round(v::numeric, 8)
    FROM pg_temp.bars WHERE i BETWEEN lo AND hi ORDER BY sym, ts;
$$;
CREATE FUNCTION pg_temp.flags() RETURNS TABLE (sym text, i integer, kinds text[]) LANGUAGE sql AS $$
  SELECT a.symbol::text, (extract(epoch FROM a.bar_timestamp - '2021-03-01') / 60)::integer, a.kinds
    FROM cryptoml_internal.bar_anomalies a ORDER BY 1, 2;
$$;
SELECT pg_temp.load(0, 479);
ANALYZE rollingChartData;

-- ---- detection ---------------------------------------------------------------------------------
SELECT is(ml_detect_anomalies(), 3, 'the first 480 minutes: three bars flagged');
SELECT results_eq('SELECT * FROM pg_temp.flags()', 'SELECT * FROM expected WHERE i < 480 ORDER BY 1, 2',
                  'ADAUSDT 400 and 401 (idiosyncratic: return, range, residual) and 450 (volume only)');
SELECT is((SELECT array_agg(symbol || ' ' || scored_through ORDER BY symbol) FROM cryptoml_internal.anomaly_checkpoint),
          (SELECT array_agg(s || ' 2021-03-01 07:59:00' ORDER BY s) FROM unnest('{ADAUSDT,BTCUSDT,ETHUSDT,SOLUSDT}'::text[]) s),
          'a checkpoint per symbol with bars, at its latest bar');
SELECT is(ml_detect_anomalies(), 0, 'idempotent: nothing new, nothing flagged');
SELECT is((SELECT count(*)::integer FROM cryptoml_internal.bar_anomalies), 3, 'and nothing duplicated');
SELECT ok((SELECT bool_and(score >= (ml_config_get('monitoring.anomalyThreshold'))::float8 AND score = greatest(abs((z #>> '{return,z}')::float8), abs((z #>> '{range,z}')::float8),
                                                        abs((z #>> '{volume,z}')::float8), abs((z #>> '{residual,z}')::float8)))
             FROM cryptoml_internal.bar_anomalies), 'the score is max |z| and at least monitoring.anomalyThreshold');

-- ---- incremental -------------------------------------------------------------------------------
SELECT pg_temp.load(480, 599);
SELECT is(ml_detect_anomalies('ADAUSDT'), 2, 'one symbol: its two new flags (the market move at 500, the wick at 550)');
SELECT is(ml_detect_anomalies(), 3, 'then the others: the market move');
SELECT results_eq('SELECT * FROM pg_temp.flags()', 'SELECT * FROM expected ORDER BY 1, 2',
                  'every spike flagged with its kinds; the market-wide move is return and range, never residual');
SELECT ok((SELECT bool_and(abs((z #>> '{residual,z}')::float8) < (ml_config_get('monitoring.anomalyThreshold'))::float8) FROM cryptoml_internal.bar_anomalies
            WHERE bar_timestamp = '2021-03-01 08:20'), 'the market move leaves every residual below the threshold');
CREATE TEMP TABLE incremental AS SELECT symbol, bar_timestamp, score, kinds, z FROM cryptoml_internal.bar_anomalies;
DELETE FROM cryptoml_internal.bar_anomalies;
DELETE FROM cryptoml_internal.anomaly_checkpoint;
SELECT is(ml_detect_anomalies(), 8, 'a full re-scan flags the same number of bars');
SELECT results_eq('SELECT symbol, bar_timestamp, score, kinds, z FROM cryptoml_internal.bar_anomalies ORDER BY 1, 2',
                  'SELECT * FROM incremental ORDER BY 1, 2', 'incremental detection gives exactly the full scan''s rows and scores');

-- ---- ml_anomalies ------------------------------------------------------------------------------
SELECT is((SELECT count(*)::integer FROM ml_anomalies()), 8, 'ml_anomalies(): every symbol');
SELECT results_eq($$SELECT bar_timestamp, kinds FROM ml_anomalies('ADAUSDT', '2021-03-01 07:30')$$,
                  $$SELECT '2021-03-01'::timestamp + make_interval(mins => i), kinds FROM expected WHERE sym = 'ADAUSDT' AND i >= 450 ORDER BY i$$,
                  'ml_anomalies(symbol, since): that symbol from since on, oldest first');
SELECT ok((SELECT z_volume >= 12 AND abs(z_return) < 8 AND z_return = (z #>> '{return,z}')::float8 AND beta BETWEEN 0 AND 3
             FROM ml_anomalies('ADAUSDT') WHERE bar_timestamp = '2021-03-01 07:30'), 'the z of each feature and the beta are columns');
SELECT is((SELECT count(*)::integer FROM ml_anomalies('BTCUSDT', '2031-01-01')), 0, 'since in the future: no rows');
SELECT is((SELECT count(*)::integer FROM ml_anomalies('XRPUSDT')), 0, 'a configured symbol without bars: no rows');
SELECT throws_ok($$SELECT * FROM ml_anomalies('btc-usdt')$$, '22023', 'invalid symbol "btc-usdt"', 'ml_anomalies: a malformed symbol');
SELECT throws_ok($$SELECT * FROM ml_anomalies(NULL, 'infinity')$$, '22023', NULL, 'ml_anomalies: since infinity');

-- ---- bad input ---------------------------------------------------------------------------------
SELECT throws_ok($$SELECT ml_detect_anomalies('DOGEUSDT')$$, '22023', 'unknown symbol "DOGEUSDT"', 'ml_detect_anomalies: a symbol not configured');
SELECT throws_ok($$SELECT ml_config_set('monitoring.anomalyWindow', '10')$$, '22023', NULL, 'anomalyWindow below 30');
SELECT throws_ok($$SELECT ml_config_set('monitoring.anomalyWindow', '20000')$$, '22023', NULL, 'anomalyWindow above 10080');
SELECT throws_ok($$SELECT ml_config_set('monitoring.anomalyThreshold', '0.5')$$, '22023', NULL, 'anomalyThreshold below 1');
SELECT throws_ok($$SELECT ml_config_set('monitoring.anomalyThreshold', '"high"')$$, '22023', NULL, 'anomalyThreshold not a number');
SELECT throws_ok($$SELECT * FROM cryptoml_internal.anomaly_scores('{2021-03-01}', '{1}', '{1}', '{1}', '{1}', '{0}', 1, 5, 8)$$,
                 '22023', 'invalid anomaly window 5', 'the core checks the window too');
SELECT throws_ok($$SELECT * FROM cryptoml_internal.anomaly_scores('{2021-03-01, 2021-03-01 00:01}', '{1}', '{1}', '{1}', '{1}', '{0}', 1, 240, 8)$$,
                 '22023', 'high has 1 elements, 2 expected', 'arrays of different lengths');

-- ---- state after an error caught by a savepoint --------------------------------------------------
CREATE TEMP TABLE before_error AS SELECT * FROM cryptoml_internal.bar_anomalies;
CREATE TEMP TABLE cp_before AS SELECT * FROM cryptoml_internal.anomaly_checkpoint;
SAVEPOINT s1;
UPDATE rollingChartData SET volume = volume * 5000 WHERE symbol = 'BTCUSDT' AND timestamp = '2021-03-01 09:00';
SELECT is(ml_detect_anomalies(), 1, 'inside the savepoint: a corrected bar is re-scored and flagged (volume)');
SELECT throws_ok($$DO $d$ BEGIN
                     UPDATE rollingChartData SET volume = volume * 5000 WHERE symbol = 'ETHUSDT' AND timestamp = '2021-03-01 09:00';
                     PERFORM ml_detect_anomalies();
                     PERFORM 1 / 0;
                   END $d$ $$, '22012', NULL, 'an error after a detection (caught)');
ROLLBACK TO SAVEPOINT s1;
SELECT results_eq('SELECT symbol, bar_timestamp, score, kinds, z, detected_at FROM cryptoml_internal.bar_anomalies ORDER BY 1, 2',
                  'SELECT symbol, bar_timestamp, score, kinds, z, detected_at FROM before_error ORDER BY 1, 2',
                  'after the rolled-back savepoint: the flags as before');
SELECT results_eq('SELECT symbol, scored_through FROM cryptoml_internal.anomaly_checkpoint ORDER BY 1',
                  'SELECT symbol, scored_through FROM cp_before ORDER BY 1', 'and the checkpoints as before');
SELECT is(ml_detect_anomalies(), 0, 'and detection finds nothing to do');

-- ---- changed bars are re-scored ---------------------------------------------------------------
DELETE FROM rollingChartData WHERE symbol = 'ADAUSDT' AND timestamp = '2021-03-01 09:10';
SELECT is((SELECT count(*)::integer FROM cryptoml_internal.bar_anomalies WHERE symbol = 'ADAUSDT' AND bar_timestamp >= '2021-03-01 09:10'), 0,
          'deleting the wick bar removes its flag at once');
SELECT is((SELECT scored_through FROM cryptoml_internal.anomaly_checkpoint WHERE symbol = 'ADAUSDT'), '2021-03-01 09:09:59.999999'::timestamp,
          'and moves the symbol''s checkpoint back before it');
SELECT is((SELECT scored_through FROM cryptoml_internal.anomaly_checkpoint WHERE symbol = 'BTCUSDT'), '2021-03-01 09:59'::timestamp,
          'other symbols keep theirs');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT sym, ts, round(o::numeric, 8), round((greatest(o, c) * 1.0005)::numeric, 8), round((least(o, c) * 0.9995)::numeric, 8),
         round(c::numeric, 8), round(v::numeric, 8) FROM bars WHERE sym = 'ADAUSDT' AND i = 550;
SELECT is(ml_detect_anomalies(), 0, 'the corrected bar re-inserted: re-scored, not flagged');
SELECT is((SELECT scored_through FROM cryptoml_internal.anomaly_checkpoint WHERE symbol = 'ADAUSDT'), '2021-03-01 09:59'::timestamp,
          'the symbol is scored through its latest bar again');
UPDATE rollingChartData SET low = round(low * 0.94, 8) WHERE symbol = 'ADAUSDT' AND timestamp = '2021-03-01 09:10';
SELECT is(ml_detect_anomalies(), 1, 'a price update back to the wick: re-scored and flagged again');
SELECT results_eq('SELECT * FROM pg_temp.flags()', 'SELECT * FROM expected ORDER BY 1, 2', 'the flags are those of a full scan again');

-- ---- the monitor's alert: raised once, cleared once -----------------------------------------------
CREATE TEMP TABLE m1 AS SELECT * FROM ml_monitor_check('ADAUSDT', '2021-03-01 06:30:30+00', 60);
SELECT is((SELECT 'anomaly' = ANY (raised) OR 'anomaly' = ANY (open_alerts) FROM m1), false, 'no anomaly in 05:30-06:30: no alert');
CREATE TEMP TABLE m2 AS SELECT * FROM ml_monitor_check('ADAUSDT', '2021-03-01 06:50:30+00', 60);
SELECT is((SELECT 'anomaly' = ANY (raised) FROM m2), true, 'the spike at 06:40 lies in the window: raised');
SELECT is((SELECT level || ' ' || value::numeric(10, 1) || ' ' || threshold FROM cryptoml_internal.monitor_alerts
            WHERE symbol = 'ADAUSDT' AND alert = 'anomaly'),
          (SELECT 'warning ' || max(score)::numeric(10, 1) || ' ' || ml_config_get('monitoring.anomalyThreshold') FROM cryptoml_internal.bar_anomalies
            WHERE symbol = 'ADAUSDT' AND bar_timestamp BETWEEN '2021-03-01 05:50' AND '2021-03-01 06:49'),
          'open: a warning with the window''s max score against the threshold');
CREATE TEMP TABLE m3 AS SELECT * FROM ml_monitor_check('ADAUSDT', '2021-03-01 07:40:30+00', 60);
SELECT is((SELECT 'anomaly' = ANY (raised) OR 'anomaly' = ANY (recovered) FROM m3), false, 'still anomalous: neither raised again nor cleared');
SELECT is((SELECT 'anomaly' = ANY (open_alerts) FROM m3), true, 'and still open');
CREATE TEMP TABLE m4 AS SELECT * FROM ml_monitor_check('ADAUSDT', '2021-03-01 10:30:30+00', 60);
SELECT is((SELECT 'anomaly' = ANY (recovered) FROM m4), true, 'no anomaly in 09:30-10:30: cleared');
CREATE TEMP TABLE m5 AS SELECT * FROM ml_monitor_check('ADAUSDT', '2021-03-01 10:31:30+00', 60);
SELECT is((SELECT 'anomaly' = ANY (recovered) OR 'anomaly' = ANY (open_alerts) FROM m5), false, 'cleared once');
SELECT ok((SELECT count(*) = 0 FROM cryptoml_internal.monitor_alerts WHERE alert = 'anomaly'), 'no anomaly alert open');

-- ---- training.excludeAnomalies ---------------------------------------------------------------------
SELECT ok(ml_build_samples('ADAUSDT', 5) > 500, 'samples built (h5)');
CREATE TEMP TABLE t1 AS SELECT * FROM ml_train('ADAUSDT', 5, 'xgboost', '{"windowSize": 100000, "num_rounds": 20}');
SELECT lives_ok($$SELECT ml_config_set('training.excludeAnomalies', 'true')$$, 'excludeAnomalies on');
CREATE TEMP TABLE t2 AS SELECT * FROM ml_train('ADAUSDT', 5, 'xgboost', '{"windowSize": 100000, "num_rounds": 20}');
CREATE TEMP TABLE affected AS
  SELECT count(*)::integer AS n FROM mlTrainingSamples s
   WHERE s.symbol = 'ADAUSDT' AND s.forecast_horizon = 5 AND s.target IS NOT NULL
     AND EXISTS (SELECT 1 FROM pg_temp.flags() f WHERE f.sym = 'ADAUSDT'
                  AND '2021-03-01'::timestamp + make_interval(mins => f.i) BETWEEN s.bar_timestamp AND s.bar_timestamp + interval '5 minutes');
SELECT is((SELECT (t1.training_samples + t1.validation_samples) - (t2.training_samples + t2.validation_samples) FROM t1, t2),
          (SELECT n FROM affected), 'the training sample count drops by exactly the samples whose [bar, bar + 5] holds a flagged bar');
SELECT is((SELECT (hyperparameters ->> 'anomalies_excluded')::integer FROM mlTrainingBatches WHERE batch_id = (SELECT batch_id FROM t2)),
          (SELECT n FROM affected), 'the model''s hyperparameters record how many were left out');

-- ---- the real flash wick (shared data) -------------------------------------------------------------
\set data `d="${CRYPTOML_SHARED_DATA_DIR:-../shared/data}"; for s in BTC ETH SOL XRP ADA HBAR; do test -r "$d/binance_${s}USDT_1m.csv.gz" || exit 0; done; cd "$d" && pwd`
SELECT :'data' <> '' AS present \gset
DELETE FROM rollingChartData;
TRUNCATE cryptoml_internal.bar_anomalies, cryptoml_internal.anomaly_checkpoint;
SELECT is(ml_config_reset_all() IS NOT NULL, true, 'settings back to the defaults for the real slice');
CREATE TEMP TABLE raw_bars (symbol text, ts text, open numeric, high numeric, low numeric, close numeric, volume numeric);
\setenv CRYPTOML_DATA :data
\if :present
\copy raw_bars FROM PROGRAM 'for s in BTC ETH SOL XRP ADA HBAR; do gzip -dc "$CRYPTOML_DATA/binance_${s}USDT_1m.csv.gz" | awk -F, ''$2 >= "2021-04-22T20:00" && $2 < "2021-04-23T04:00"''; done' WITH (FORMAT csv)
\endif
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, (ts::timestamptz AT TIME ZONE 'UTC'), open, high, low, close, volume FROM raw_bars ORDER BY symbol, ts;
ANALYZE rollingChartData;
SELECT CASE WHEN :'present' THEN ok(ml_detect_anomalies('ADAUSDT') >= 1, 'the real slice: ADAUSDT bars flagged')
            ELSE skip('the shared data (../shared/data or CRYPTOML_SHARED_DATA_DIR) is not present', 1) END;
SELECT CASE WHEN :'present' THEN ok((SELECT 'return' = ANY (kinds) AND 'residual' = ANY (kinds) FROM ml_anomalies('ADAUSDT')
                                      WHERE bar_timestamp = '2021-04-23 02:25'), 'the flash wick 2021-04-23T02:25Z is flagged (return, residual)')
            ELSE skip('the shared data is not present', 1) END;
SELECT CASE WHEN :'present' THEN is((SELECT count(*)::integer FROM ml_anomalies('ADAUSDT') WHERE bar_timestamp NOT BETWEEN '2021-04-23 02:20' AND '2021-04-23 02:30'), 0,
                                    'at the default threshold, every other flagged ADAUSDT bar of the 8-hour slice is part of the wick (02:20-02:30)')
            ELSE skip('the shared data is not present', 1) END;
SELECT diag('ADAUSDT flags in the slice: ' || coalesce(string_agg(bar_timestamp || ' ' || array_to_string(kinds, '+') || ' ' || round(score::numeric, 1), ', '), 'none'))
  FROM ml_anomalies('ADAUSDT');

SELECT * FROM finish();
ROLLBACK;
