-- Chart monitor: figures, alerts raised once and cleared once, bad input, ml_health.
BEGIN;
SET client_min_messages = warning;
SELECT plan(40);

INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-03-01'::timestamp + make_interval(mins => i), 100 + sin(i / 10.0), 101 + sin(i / 10.0),
       99 + sin(i / 10.0), 100.5 + sin(i / 10.0), 5
  FROM generate_series(0, 119) i;
SELECT ml_log_flush();
DELETE FROM systemLogs WHERE category = 'monitoring';   -- earlier runs' recoveries (rolled back at the end)
CREATE TEMP TABLE mark AS SELECT coalesce(max(id), 0) AS id FROM systemLogs;
CREATE FUNCTION pg_temp.logs(sub text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM systemLogs l, mark WHERE l.id > mark.id AND l.category = 'monitoring' AND l.subcategory = sub AND l.symbol = 'BTCUSDT' $$;

-- a healthy window: the 60 closed minutes before 02:00:30
CREATE TEMP TABLE c1 AS SELECT * FROM ml_monitor_check('BTCUSDT', '2021-03-01 02:00:30+00');
SELECT is((SELECT staleness_seconds FROM c1), 30::float8, 'staleness: seconds since the latest bar closed (01:59 closed at 02:00)');
SELECT is((SELECT completeness FROM c1), 1::float8, 'completeness 60 / 60');
SELECT is((SELECT missing_ratio FROM c1), 0::float8, 'nothing missing');
SELECT is((SELECT invalid_ratio FROM c1), 0::float8, 'nothing invalid');
SELECT is((SELECT raised FROM c1), '{}'::text[], 'no alert');

-- the feed stops: ten minutes later, three conditions start
CREATE TEMP TABLE c2 AS SELECT * FROM ml_monitor_check('BTCUSDT', '2021-03-01 02:10:30+00');
SELECT is((SELECT staleness_seconds FROM c2), 630::float8, 'stale for 630 s');
SELECT is((SELECT completeness FROM c2), 50 / 60.0::float8, 'completeness 50 / 60');
SELECT is((SELECT missing_ratio FROM c2), 10 / 60.0::float8, 'missing 10 / 60');
SELECT set_eq($$SELECT unnest(raised) FROM c2$$, ARRAY['stale_data', 'completeness', 'missing_data'], 'three alerts raised');
CREATE TEMP TABLE c3 AS SELECT * FROM ml_monitor_check('BTCUSDT', '2021-03-01 02:11:30+00');
SELECT is((SELECT raised FROM c3), '{}'::text[], 'a minute later the same conditions raise nothing again');
SELECT is((SELECT open_alerts FROM c3), ARRAY['completeness', 'missing_data', 'stale_data'], '... and stay open');
SELECT is((SELECT value FROM cryptoml_internal.monitor_alerts WHERE symbol = 'BTCUSDT' AND alert = 'stale_data'), 690::float8,
          'the open alert follows the latest value');
SELECT ml_log_flush();
SELECT is(pg_temp.logs('stale_data'), 1::bigint, 'one stale_data entry in systemLogs');
SELECT is((SELECT level FROM systemLogs l, mark WHERE l.id > mark.id AND l.subcategory = 'stale_data')::text, 'error', '... at level error');
SELECT is(pg_temp.logs('completeness') + pg_temp.logs('missing_data'), 2::bigint, 'one entry for each of the other two');

-- the feed comes back: each alert is cleared once, with its duration
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-03-01'::timestamp + make_interval(mins => i), 100 + sin(i / 10.0), 101 + sin(i / 10.0),
       99 + sin(i / 10.0), 100.5 + sin(i / 10.0), 5
  FROM generate_series(120, 131) i;
CREATE TEMP TABLE c4 AS SELECT * FROM ml_monitor_check('BTCUSDT', '2021-03-01 02:12:10+00');
SELECT set_eq($$SELECT unnest(recovered) FROM c4$$, ARRAY['stale_data', 'completeness', 'missing_data'], 'three recoveries');
SELECT is((SELECT open_alerts FROM c4), '{}'::text[], 'no alert is open');
CREATE TEMP TABLE c5 AS SELECT * FROM ml_monitor_check('BTCUSDT', '2021-03-01 02:12:20+00');
SELECT is((SELECT recovered FROM c5), '{}'::text[], 'recovered once only');
SELECT ml_log_flush();
SELECT is(pg_temp.logs('recovered'), 3::bigint, 'three recovery entries');
SELECT is((SELECT min((context ->> 'duration_seconds')::float8) FROM systemLogs l, mark WHERE l.id > mark.id AND l.subcategory = 'recovered'),
          100::float8, 'each with its duration (02:10:30 to 02:12:10)');

-- invalid values: indicators written out of order. An UPDATE cannot set indicator columns (they
-- are computed, never accepted), so they are written past the row trigger, as only the owner can.
ALTER TABLE rollingChartData DISABLE TRIGGER zz_cryptoml_indicators_row;
UPDATE rollingChartData SET bollinger_lower = bollinger_upper + 1
 WHERE symbol = 'BTCUSDT' AND timestamp BETWEEN '2021-03-01 02:00' AND '2021-03-01 02:04';
ALTER TABLE rollingChartData ENABLE TRIGGER zz_cryptoml_indicators_row;
CREATE TEMP TABLE c6 AS SELECT * FROM ml_monitor_check('BTCUSDT', '2021-03-01 02:12:20+00');
SELECT is((SELECT invalid_ratio FROM c6), 5 / 60.0::float8, 'invalid ratio 5 / 60 (Bollinger bands out of order)');
SELECT is((SELECT raised FROM c6), ARRAY['invalid_values'], 'above invalidValues (0.05): raised');
SELECT lives_ok($$SELECT ml_config_set('monitoring.alertThresholds.invalidValues', '0.1')$$, 'a looser threshold');
SELECT is((SELECT recovered FROM ml_monitor_check('BTCUSDT', '2021-03-01 02:12:20+00')), ARRAY['invalid_values'],
          'takes effect at the next check: cleared');

-- configuration: a tighter staleness threshold
SELECT lives_ok($$SELECT ml_config_set('monitoring.alertThresholds.staleData', '10')$$, 'staleData 10 s');
SELECT is((SELECT raised FROM ml_monitor_check('BTCUSDT', '2021-03-01 02:12:30+00')), ARRAY['stale_data'], 'now 30 s is stale');
SELECT throws_ok($$SELECT ml_config_set('monitoring.completenessThreshold', '1.5')$$, '22023', NULL, 'a bad threshold is refused');

-- bad input
SELECT throws_ok($$SELECT * FROM ml_monitor_check('BTCUSDT', now(), 0)$$, '22023',
                 'invalid monitor check arguments: at ' || now()::text || ', window_minutes 0', 'window_minutes 0');
SELECT throws_like($$SELECT * FROM ml_monitor_check('BTCUSDT', now(), 10081)$$, '%window_minutes 10081', 'a window over a week');
SELECT throws_like($$SELECT * FROM ml_monitor_check('BTCUSDT', NULL)$$, '%at NULL%', 'at NULL');
SELECT throws_ok($$SELECT * FROM ml_monitor_check('btc-usd')$$, '22023', 'invalid symbol "btc-usd"', 'a malformed symbol');
SELECT is((SELECT raised FROM ml_monitor_check('DOGEUSDT', '2021-03-01 02:12:30+00')), ARRAY['stale_data', 'completeness', 'missing_data'],
          'a symbol with no bars is stale, incomplete and missing');
SELECT is((SELECT staleness_seconds FROM ml_monitor_check('DOGEUSDT', '2021-03-01 02:12:30+00')), NULL::float8, '... with no staleness value');

-- every configured symbol; alerts of symbols taken out of the configuration are closed
SELECT is((SELECT count(*) FROM ml_monitor_check(NULL, '2021-03-01 02:12:30+00')), 6::bigint, 'NULL checks the six configured symbols');
SELECT lives_ok($$SELECT ml_config_set('symbols', '["BTCUSDT"]')$$, 'one symbol left in the configuration');
SELECT is((SELECT count(*) FROM ml_monitor_check(NULL, '2021-03-01 02:12:30+00')), 1::bigint, 'checks that one');
SELECT is((SELECT array_agg(DISTINCT symbol::text) FROM cryptoml_internal.monitor_alerts), ARRAY['BTCUSDT'], 'the others'' alerts are closed');

-- ml_health: per symbol and system figures
SELECT is((SELECT count(*) FROM ml_health() WHERE scope = 'BTCUSDT'), 5::bigint, 'five figures per symbol');
SELECT set_eq($$SELECT metric FROM ml_health() WHERE scope = 'system'$$,
              ARRAY['prediction_latency_p50', 'prediction_latency_p95', 'predictions_per_second', 'data_completeness', 'error_rate',
                    'recovery_time', 'open_alerts'], 'the seed''s system metrics');
SELECT is((SELECT value FROM ml_health() WHERE scope = 'system' AND metric = 'recovery_time'), 75::float8,
          'recovery time: the mean duration of recovered alerts (three of 100 s, one of 0 s)');

SELECT * FROM finish();
ROLLBACK;
