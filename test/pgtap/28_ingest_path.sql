-- The insert path of 0.10.0: the indicator trigger's numeric encoder equals PostgreSQL's byte for
-- byte; trade following runs inside the indicators' statement trigger (no PL/pgSQL trigger left)
-- and follows trades exactly as the 0.9.0 PL/pgSQL follow_trade did (kept here as the reference),
-- through in-order, multi-row, late and corrected bars; an error caught by a SAVEPOINT leaves the
-- statement's change list and the trades right.
BEGIN;
SET client_min_messages = warning;
SELECT plan(17);

-- ---- the numeric encoder (scaled_int_to_numeric) against int64_div_fast_to_numeric -------------
SELECT setseed(0.25);
CREATE TEMP TABLE v AS
SELECT array_agg(x) AS xs FROM (
  SELECT (sign(random() - 0.5) * floor(random() * 10 ^ (random() * 18.6)))::int8 AS x FROM generate_series(1, 40000)
  UNION ALL SELECT unnest(ARRAY[0, 1, -1, 9, 10, 9999, 10000, 10001, -10000, 99990000, 100000000, 123456780000,
                                4611686018427387903, -4611686018427387903, 4611686018427387904, -4611686018427387904,
                                9223372036854775807, -9223372036854775807]::int8[])
  UNION ALL SELECT (10 ^ k)::int8 + d FROM generate_series(0, 18) k, generate_series(-1, 1) d WHERE (10 ^ k)::numeric + d < 9223372036854775807) q;
SELECT is((SELECT sum(cryptoml_internal.column_numeric_mismatches(xs, s))::int8 FROM v, generate_series(0, 12) s), 0::int8,
          'scales 0-12 (the columns use 4, 6 and 8): every value encodes to the same numeric bytes');
SELECT is((SELECT sum(cryptoml_internal.column_numeric_mismatches(xs, s))::int8 FROM v, unnest(ARRAY[20, 62, 63, 64, 100, 300]) s), 0::int8,
          'large scales, the long format included: the same bytes');
SELECT throws_ok($$SELECT cryptoml_internal.column_numeric_mismatches('{1}', -1)$$, '22023', NULL, 'a negative scale is refused');

-- ---- trade following: in C, in the indicators' statement trigger -------------------------------
SELECT is((SELECT array_agg(tgname::text ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'rollingchartdata'::regclass AND NOT tgisinternal
             AND tgname LIKE '%trade%'), NULL, 'no trade trigger of its own on rollingChartData');
SELECT is((SELECT l.lanname::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'cryptoml_internal.follow_trade(integer)'::regprocedure),
          'c', 'cryptoml_internal.follow_trade is C');
SELECT ok(to_regproc('cryptoml_internal.trades_follow_bars') IS NULL, 'the PL/pgSQL trigger function is gone');

-- the 0.9.0 PL/pgSQL follow_trade, as the reference: the trade's evaluation from its entry over the
-- stored bars, written into a temp table instead of the trade
CREATE TEMP TABLE ref (id integer PRIMARY KEY, current_price numeric, real_time_pnl numeric, highest_profit numeric, lowest_loss numeric,
                       profitable_minutes integer, total_minutes integer, is_active boolean, completed_at timestamp, exit_reason text, exit_price numeric);
CREATE FUNCTION pg_temp.ref_follow(trade_id integer) RETURNS void LANGUAGE plpgsql AS $$
  DECLARE
    t tradesimulations;
    e record;
  BEGIN
    SELECT * INTO t FROM tradesimulations s WHERE s.id = trade_id;
    SELECT r.* INTO e FROM (
      SELECT coalesce(array_agg(b.timestamp ORDER BY b.timestamp), '{}') AS ts, coalesce(array_agg(b.high::float8 ORDER BY b.timestamp), '{}') AS hi,
             coalesce(array_agg(b.low::float8 ORDER BY b.timestamp), '{}') AS lo, coalesce(array_agg(b.close::float8 ORDER BY b.timestamp), '{}') AS cl
        FROM (SELECT c.timestamp, c.high, c.low, c.close FROM rollingchartdata c
               WHERE c.symbol = t.symbol AND c.timestamp > t.entry_bar AND c.timestamp <= t.entry_bar + make_interval(mins => t.forecast_horizon)
              UNION ALL
              (SELECT c.timestamp, c.high, c.low, c.close FROM rollingchartdata c
                WHERE c.symbol = t.symbol AND c.timestamp > t.entry_bar + make_interval(mins => t.forecast_horizon)
                ORDER BY c.timestamp LIMIT 1)) b) a,
      LATERAL cryptoml_internal.trade_evaluate(t.signal_type, t.entry_price::float8, t.tp_price::float8, t.sl_price::float8,
        t.entry_bar, t.forecast_horizon, t.fee_pct::float8, t.slippage_pct::float8, a.ts, a.hi, a.lo, a.cl) r;
    INSERT INTO ref VALUES (trade_id, round(e.current_price::numeric, 8), round(e.pnl_pct::numeric, 4), round(e.highest_profit::numeric, 4),
                            round(e.lowest_loss::numeric, 4), e.profitable_minutes, e.total_minutes, e.active, e.completed_at, e.exit_reason,
                            round(e.exit_price::numeric, 8));
  END $$;
-- how many trades differ from the reference in any followed column (all trades re-evaluated)
CREATE FUNCTION pg_temp.differing() RETURNS bigint LANGUAGE plpgsql AS $$
  BEGIN
    TRUNCATE ref;
    PERFORM pg_temp.ref_follow(id) FROM tradesimulations WHERE signal_type IN ('LONG', 'SHORT') ORDER BY id;
    RETURN (SELECT count(*) FROM tradesimulations s JOIN ref r USING (id)
             WHERE (s.current_price, s.real_time_pnl, s.highest_profit, s.lowest_loss, s.profitable_minutes, s.total_minutes,
                    s.is_active, s.completed_at, s.exit_reason, s.exit_price)
                   IS DISTINCT FROM (r.current_price, r.real_time_pnl, r.highest_profit, r.lowest_loss, r.profitable_minutes,
                                     r.total_minutes, r.is_active, r.completed_at, r.exit_reason, r.exit_price));
  END $$;

-- 240 minutes of a random walk for two symbols; the first 60 now, the rest bar by bar later
SELECT setseed(0.5);
CREATE TEMP TABLE walk AS
SELECT s AS symbol, '2022-05-01'::timestamp + make_interval(mins => i) AS ts,
       round((c * (1 + (random() - 0.5) * 0.002))::numeric, 8) AS o, round((c * (1.0005 + random() * 0.003))::numeric, 8) AS h,
       round((c * (0.9995 - random() * 0.003))::numeric, 8) AS l, round(c::numeric, 8) AS c
  FROM (SELECT s, i, 100 * exp(sum((random() - 0.5) * 0.004) OVER (PARTITION BY s ORDER BY i)) AS c
          FROM unnest(ARRAY['SOLUSDT', 'ADAUSDT']) s, generate_series(0, 239) i) x;
UPDATE walk SET o = least(greatest(o, l), h);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT symbol, ts, o, h, l, c, 1 FROM walk WHERE ts < '2022-05-01 01:00' ORDER BY symbol, ts;
-- 60 trades entered at minutes 40..99 of either symbol, both sides, levels 0.2-1.2 % away, horizons 3-30
INSERT INTO tradeSimulations (symbol, signal_type, entry_price, tp_price, sl_price, forecast_horizon, entry_bar, fee_pct, slippage_pct)
SELECT w.symbol, side, w.c,
       round(w.c * (1 + sgn * (0.002 + (k % 5) * 0.0025)), 8), round(w.c * (1 - sgn * (0.002 + (k % 3) * 0.004)), 8),
       3 + (k * 7) % 28, w.ts, (k % 3) * 0.05, (k % 2) * 0.05
  FROM generate_series(0, 59) k
  CROSS JOIN LATERAL (SELECT CASE WHEN k % 2 = 0 THEN 'LONG' ELSE 'SHORT' END AS side, CASE WHEN k % 2 = 0 THEN 1 ELSE -1 END AS sgn) d
  JOIN walk w ON w.symbol = CASE WHEN k % 3 = 0 THEN 'ADAUSDT' ELSE 'SOLUSDT' END AND w.ts = '2022-05-01 00:40'::timestamp + make_interval(mins => k);
-- the trades already entered are followed over the stored bars (as ml_simulate does)
SELECT is((SELECT count(*) FILTER (WHERE cryptoml_internal.follow_trade(id)) FROM tradeSimulations), 60::bigint, 'follow_trade follows all 60 trades');
SELECT is(pg_temp.differing(), 0::bigint, '... as the 0.9.0 follow_trade did');

-- bar by bar, one statement each (a live feed), minutes 60-149 of both symbols
DO $$
DECLARE b record;
BEGIN
  FOR b IN SELECT * FROM walk WHERE ts >= '2022-05-01 01:00' AND ts < '2022-05-01 02:30' ORDER BY ts, symbol LOOP
    INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES (b.symbol, b.ts, b.o, b.h, b.l, b.c, 1);
  END LOOP;
END $$;
SELECT ok((SELECT count(*) FROM tradeSimulations WHERE NOT is_active) > 30, 'bar by bar: most trades completed');
SELECT is(pg_temp.differing(), 0::bigint, '... every trade as the reference evaluates it over the same bars');

-- minutes 150-239 in one multi-row statement, except 4 bars that arrive late
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT symbol, ts, o, h, l, c, 1 FROM walk WHERE ts >= '2022-05-01 02:30' AND ts NOT IN ('2022-05-01 01:05', '2022-05-01 02:35') ORDER BY symbol, ts;
DELETE FROM rollingChartData WHERE timestamp IN ('2022-05-01 01:05', '2022-05-01 02:35');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT symbol, ts, o, h, l, c, 1 FROM walk WHERE ts IN ('2022-05-01 01:05', '2022-05-01 02:35') ORDER BY symbol, ts;
-- a corrected bar inside several windows: a deep low
UPDATE rollingChartData SET low = round(low * 0.98, 8) WHERE symbol = 'SOLUSDT' AND timestamp = '2022-05-01 01:30';
SELECT is(pg_temp.differing(), 0::bigint, 'multi-row, deleted, late and corrected bars: the same as the reference');

-- ---- an error caught by a SAVEPOINT -------------------------------------------------------------
INSERT INTO tradeSimulations (symbol, signal_type, entry_price, tp_price, sl_price, forecast_horizon, entry_bar, fee_pct, slippage_pct)
SELECT 'SOLUSDT', 'LONG', c, round(c * 1.05, 8), round(c * 0.95, 8), 30, ts, 0.1, 0.05 FROM walk WHERE symbol = 'SOLUSDT' AND ts = '2022-05-01 03:59';
-- a trade whose levels are on the wrong side: following it is an error (and the statement's)
INSERT INTO tradeSimulations (symbol, signal_type, entry_price, tp_price, sl_price, forecast_horizon, entry_bar, fee_pct, slippage_pct)
VALUES ('ADAUSDT', 'LONG', 100, 90, 110, 30, '2022-05-01 03:59', 0.1, 0.05);
SAVEPOINT s1;
SELECT throws_like($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                     VALUES ('SOLUSDT', '2022-05-01 04:00', 100, 101, 99, 100, 1), ('ADAUSDT', '2022-05-01 04:00', 100, 101, 99, 100, 1)$$,
                   '%tp%', 'following a trade with impossible levels fails the statement');
ROLLBACK TO SAVEPOINT s1;
SELECT is((SELECT count(*) FROM cryptoml_internal.statement_bar_changes()), 0::bigint, 'after ROLLBACK TO SAVEPOINT: no changes pending');
DELETE FROM tradeSimulations WHERE symbol = 'ADAUSDT' AND tp_price = 90;
SAVEPOINT s2;
SELECT throws_ok($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                   VALUES ('SOLUSDT', '2022-05-01 04:00', 100, 101, 99, 100, 1), ('SOLUSDT', '2022-05-01 04:01', 100, 99, 101, 100, 1)$$,
                 '23514', NULL, 'a bad second bar fails the statement after the first advanced the cached state');
ROLLBACK TO SAVEPOINT s2;
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
VALUES ('SOLUSDT', '2022-05-01 04:00', 100, 101, 99, 100, 1), ('ADAUSDT', '2022-05-01 04:00', 100, 101, 99, 100, 1);
SELECT results_eq($$SELECT symbol, since FROM cryptoml_internal.statement_bar_changes() ORDER BY symbol$$,
                  $$VALUES ('ADAUSDT'::text, '2022-05-01 03:59'::timestamp + interval '1 microsecond'),
                           ('SOLUSDT', '2022-05-01 03:59'::timestamp + interval '1 microsecond')$$,
                  'the next statement: exactly its own changes (after each symbol''s bar of 03:59)');
SELECT is((SELECT total_minutes FROM tradeSimulations WHERE symbol = 'SOLUSDT' AND entry_bar = '2022-05-01 03:59'),
          1, 'the trade entered at 03:59 followed the one bar that stayed');
SELECT is(pg_temp.differing(), 0::bigint, '... and every trade still equals the reference');

SELECT * FROM finish();
ROLLBACK;
