-- The rollingChartData indicator triggers: every stored indicator equals the array functions'
-- full-precision value rounded to the column (within half a unit of its last decimal), however
-- the bars arrive: in order, late, updated, deleted, rolled back, upserted, after a config change.
BEGIN;
SET client_min_messages = warning;
SELECT plan(57);

-- a deterministic bar generator: n bars from minute `start` of 2021-01-01, price level `base`
CREATE FUNCTION pg_temp.bars(sym text, start int, n int, base float8 DEFAULT 100)
RETURNS TABLE (symbol text, ts timestamp, open numeric, high numeric, low numeric, close numeric, volume numeric)
LANGUAGE sql AS $$
  SELECT sym, '2021-01-01'::timestamp + make_interval(mins => i),
         round((c * 0.999)::numeric, 8), round((c * (1.003 + (i % 5) * 0.0005))::numeric, 8),
         round((c * (0.9975 - (i % 3) * 0.0005))::numeric, 8), round(c::numeric, 8), (10 + i % 7)::numeric
  FROM generate_series(start, start + n - 1) AS i,
       LATERAL (SELECT base * (1 + 0.05 * sin(i / 7.0) + (i % 13) * 0.001 + i * 0.0001) AS c) AS p
$$;
CREATE FUNCTION pg_temp.load(sym text, start int, n int, base float8 DEFAULT 100) RETURNS void LANGUAGE sql AS $$
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) SELECT * FROM pg_temp.bars(sym, start, n, base)
$$;
CREATE FUNCTION pg_temp.near(a numeric, b float8, scale int) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT (a IS NULL AND b IS NULL) OR abs(a - b::numeric) <= 0.5 * 10 ^ (-scale)
$$;
-- rows of a symbol whose stored indicators differ from the array functions over its bars
CREATE FUNCTION pg_temp.mismatches(sym text, rsi_p int DEFAULT 14) RETURNS bigint LANGUAGE sql AS $$
  WITH s AS (SELECT array_agg(r.timestamp ORDER BY r.timestamp) AS ts, array_agg(r.high::float8 ORDER BY r.timestamp) AS h,
                    array_agg(r.low::float8 ORDER BY r.timestamp) AS l, array_agg(r.close::float8 ORDER BY r.timestamp) AS c
               FROM rollingChartData r WHERE r.symbol = sym),
  ref AS (SELECT u.* FROM s, ml_macd(s.c) m, ml_bollinger(s.c) b, ml_stochastic(s.h, s.l, s.c) st,
          unnest(s.ts, ml_rsi(s.c, rsi_p), m.macd, m.signal, m.hist, b.upper, b.middle, b.lower, st.k, st.d, ml_volatility(s.c))
            AS u(ts, rsi, macd, ms, mh, bu, bm, bl, sk, sd, vol))
  SELECT count(*) FROM ref JOIN rollingChartData r ON r.symbol = sym AND r.timestamp = ref.ts
  WHERE NOT (pg_temp.near(r.rsi, ref.rsi, 4) AND pg_temp.near(r.macd, ref.macd, 8) AND pg_temp.near(r.macd_signal, ref.ms, 8)
         AND pg_temp.near(r.macd_hist, ref.mh, 8) AND pg_temp.near(r.bollinger_upper, ref.bu, 8)
         AND pg_temp.near(r.bollinger_middle, ref.bm, 8) AND pg_temp.near(r.bollinger_lower, ref.bl, 8)
         AND pg_temp.near(r.stochastic_k, ref.sk, 4) AND pg_temp.near(r.stochastic_d, ref.sd, 4)
         AND pg_temp.near(r.volatility, ref.vol, 6)
         AND r.is_complete = (ref.rsi IS NOT NULL AND ref.macd IS NOT NULL AND ref.bu IS NOT NULL AND ref.bl IS NOT NULL
                              AND ref.sk IS NOT NULL AND ref.sd IS NOT NULL AND ref.vol IS NOT NULL))
$$;
CREATE FUNCTION pg_temp.up_to_date(sym text) RETURNS boolean LANGUAGE sql AS $$
  SELECT coalesce((SELECT up_to_date FROM ml_indicator_status WHERE symbol = sym), false)
$$;

-- in order, one statement, across several periodic checkpoints
SELECT pg_temp.load('BTCUSDT', 0, 2500);
SELECT is(pg_temp.mismatches('BTCUSDT'), 0::bigint, 'in-order load: every indicator equals the array functions');
SELECT is((SELECT count(*) FROM rollingChartData WHERE symbol = 'BTCUSDT' AND is_complete), 2500 - 33::bigint,
          'is_complete from row 33 on (slow + signal - 2)');
SELECT is((SELECT count(*) FROM cryptoml_internal.indicator_checkpoint WHERE symbol = 'BTCUSDT'), 3::bigint,
          'checkpoints at bars 1000, 2000 and the latest');
SELECT ok(pg_temp.up_to_date('BTCUSDT'), 'the latest checkpoint is the latest bar');

-- in order, one bar per statement (the O(1) path across statements of one transaction)
SELECT pg_temp.load('BTCUSDT', 2500 + i, 1) FROM generate_series(0, 19) AS i;
SELECT is(pg_temp.mismatches('BTCUSDT'), 0::bigint, 'bar-by-bar inserts: still exact');

-- late bars: a gap filled afterwards, and a bar older than all others
SELECT pg_temp.load('ETHUSDT', 0, 100, 2000);
SELECT pg_temp.load('ETHUSDT', 120, 100, 2000);
SELECT pg_temp.load('ETHUSDT', 100, 20, 2000);
SELECT is(pg_temp.mismatches('ETHUSDT'), 0::bigint, 'late bars filling a gap: the tail is recomputed');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, ts - interval '1 day', open, high, low, close, volume FROM pg_temp.bars('ETHUSDT', 0, 1, 2000);
SELECT is(pg_temp.mismatches('ETHUSDT'), 0::bigint, 'a bar before the first one: everything recomputed');
-- several late bars in one statement, in reverse order
SELECT pg_temp.load('SOLUSDT', 0, 300, 50);
DELETE FROM rollingChartData WHERE symbol = 'SOLUSDT' AND timestamp >= '2021-01-01 02:00';
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT * FROM pg_temp.bars('SOLUSDT', 120, 180, 50) ORDER BY ts DESC;
SELECT is(pg_temp.mismatches('SOLUSDT'), 0::bigint, 'bars inserted newest first in one statement');
SELECT ok(pg_temp.up_to_date('SOLUSDT'), 'checkpoint follows the recompute');

-- UPDATE of prices recomputes the bar and its tail; other columns leave indicators alone
UPDATE rollingChartData SET close = close * 1.01, high = high * 1.01 WHERE symbol = 'ETHUSDT' AND timestamp = '2021-01-01 01:00';
SELECT is(pg_temp.mismatches('ETHUSDT'), 0::bigint, 'price correction: bar and tail recomputed');
UPDATE rollingChartData SET volume = volume + 1 WHERE symbol = 'ETHUSDT';
SELECT is(pg_temp.mismatches('ETHUSDT'), 0::bigint, 'volume-only update: indicators unchanged and exact');
UPDATE rollingChartData SET timestamp = '2021-01-01 05:00' WHERE symbol = 'ETHUSDT' AND timestamp = '2021-01-01 00:30';
SELECT is(pg_temp.mismatches('ETHUSDT'), 0::bigint, 'moving a bar in time recomputes both places');

-- DELETE recomputes the tail
DELETE FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp BETWEEN '2021-01-01 10:00' AND '2021-01-01 10:30';
SELECT is(pg_temp.mismatches('BTCUSDT'), 0::bigint, 'deleted bars: tail recomputed');
DELETE FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp > '2021-01-02 12:00';
SELECT is(pg_temp.mismatches('BTCUSDT'), 0::bigint, 'deleting the newest bars');
SELECT ok(pg_temp.up_to_date('BTCUSDT'), 'checkpoint moved back to the new latest bar');
SELECT pg_temp.load('BTCUSDT', 2161, 10);
SELECT is(pg_temp.mismatches('BTCUSDT'), 0::bigint, 'in-order inserts continue from the right state after deletes');

-- rollback: a rolled-back bar must not stay in the cached state
SAVEPOINT before_bad;
SELECT pg_temp.load('XRPUSDT', 0, 50, 1);
SELECT pg_temp.load('XRPUSDT', 50, 10, 1.2);
ROLLBACK TO SAVEPOINT before_bad;
SELECT pg_temp.load('XRPUSDT', 0, 50, 1);
SELECT pg_temp.load('XRPUSDT', 50, 10, 1);
SELECT is(pg_temp.mismatches('XRPUSDT'), 0::bigint, 'after ROLLBACK TO SAVEPOINT the state is the stored one');
SAVEPOINT before_delete;
DELETE FROM rollingChartData WHERE symbol = 'XRPUSDT';
ROLLBACK TO SAVEPOINT before_delete;
SELECT pg_temp.load('XRPUSDT', 60, 5, 1);
SELECT is(pg_temp.mismatches('XRPUSDT'), 0::bigint, 'a rolled-back delete leaves nothing behind');

-- upserts: ON CONFLICT DO NOTHING keeps the stored bar, DO UPDATE applies the correction
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, ts, open * 2, high * 2, low * 2, close * 2, volume FROM pg_temp.bars('XRPUSDT', 30, 5, 1)
  ON CONFLICT (symbol, timestamp) DO NOTHING;
SELECT is(pg_temp.mismatches('XRPUSDT'), 0::bigint, 'ON CONFLICT DO NOTHING: the skipped bars leave no trace');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, ts, open, high * 1.02, low, close * 1.01, volume FROM pg_temp.bars('XRPUSDT', 40, 5, 1)
  ON CONFLICT (symbol, timestamp) DO UPDATE SET high = EXCLUDED.high, close = EXCLUDED.close;
SELECT is(pg_temp.mismatches('XRPUSDT'), 0::bigint, 'ON CONFLICT DO UPDATE: corrected bars and tail recomputed');

-- several symbols interleaved in one statement
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT * FROM (SELECT * FROM pg_temp.bars('ADAUSDT', 0, 80, 1) UNION ALL SELECT * FROM pg_temp.bars('HBARUSDT', 0, 80, 0.3)) x
  ORDER BY ts, symbol;
SELECT is(pg_temp.mismatches('ADAUSDT') + pg_temp.mismatches('HBARUSDT'), 0::bigint, 'two symbols interleaved');

-- a subtransaction that aborts in the middle of a statement (an exception block evaluated per
-- row) must not make the statement forget the late bar it already inserted
CREATE FUNCTION pg_temp.hiccup(k bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    IF k = 2 THEN RAISE EXCEPTION 'hiccup'; END IF;
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
  RETURN k;
END $$;
DELETE FROM rollingChartData WHERE symbol = 'HBARUSDT' AND timestamp = '2021-01-01 00:40';
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT CASE WHEN pg_temp.hiccup(b.k) > 0 THEN b.symbol END, b.ts, b.open, b.high, b.low, b.close, b.volume
  FROM (SELECT x.*, row_number() OVER (ORDER BY x.ts) AS k
          FROM (SELECT * FROM pg_temp.bars('HBARUSDT', 40, 1, 0.3) UNION ALL SELECT * FROM pg_temp.bars('HBARUSDT', 80, 1, 0.3)) x) b
  ORDER BY b.k;
SELECT is(pg_temp.mismatches('HBARUSDT'), 0::bigint, 'a late bar survives a subtransaction abort later in the same statement');

-- an unreadable checkpoint does not block the symbol: it is recomputed from its bars
UPDATE cryptoml_internal.indicator_checkpoint SET state = '\x00deadbeef' WHERE symbol = 'ADAUSDT';
SELECT is(pg_temp.mismatches('ADAUSDT'), 0::bigint, 'ADAUSDT before the corruption is seen');
SAVEPOINT forget; ROLLBACK TO SAVEPOINT forget;  -- cached states are dropped: ADAUSDT restores from its checkpoint
SET client_min_messages = error;
SELECT pg_temp.load('ADAUSDT', 80, 5, 1);
SET client_min_messages = warning;
SELECT is(pg_temp.mismatches('ADAUSDT'), 0::bigint, 'a corrupt checkpoint is replaced by a recompute of the symbol');
SELECT ok(pg_temp.up_to_date('ADAUSDT'), 'and a readable checkpoint is written again');

-- a new session state: forget the cache by ending nothing; a checkpoint-based restore is covered
-- by the regression test (new connections). TRUNCATE clears checkpoints.
SELECT lives_ok('TRUNCATE rollingChartData', 'TRUNCATE');
SELECT is((SELECT count(*) FROM cryptoml_internal.indicator_checkpoint), 0::bigint, 'TRUNCATE clears the checkpoints');
SELECT pg_temp.load('BTCUSDT', 0, 100);
SELECT is(pg_temp.mismatches('BTCUSDT'), 0::bigint, 'reloading after TRUNCATE starts from scratch');

-- config change: the next bar recomputes the symbol with the new settings (and warns)
SELECT is(ml_config_set('features.rsiPeriod', '21'), '21'::jsonb, 'features.rsiPeriod set to 21');
SELECT pg_temp.load('BTCUSDT', 100, 1);
SELECT is(pg_temp.mismatches('BTCUSDT', 21), 0::bigint, 'after features.rsiPeriod = 21 the symbol is recomputed with it');
SELECT is(ml_config_reset('features.rsiPeriod'), '14'::jsonb, 'features.rsiPeriod reset');
SELECT lives_ok($$CALL ml_recompute_indicators('BTCUSDT')$$, 'recompute BTCUSDT');
SELECT is(pg_temp.mismatches('BTCUSDT'), 0::bigint, 'ml_recompute_indicators after the reset restores period 14');

-- ml_recompute_indicators on a correct table changes nothing
CREATE TEMP TABLE before_recompute AS SELECT * FROM rollingChartData;
SELECT lives_ok('CALL ml_recompute_indicators()', 'recompute every symbol');
SELECT is((SELECT count(*) FROM before_recompute b JOIN rollingChartData r USING (id)
            WHERE (b.rsi, b.macd, b.macd_signal, b.bollinger_upper, b.stochastic_k, b.volatility, b.is_complete)
                  IS DISTINCT FROM (r.rsi, r.macd, r.macd_signal, r.bollinger_upper, r.stochastic_k, r.volatility, r.is_complete)),
          0::bigint, 'ml_recompute_indicators() on a consistent table rewrites identical values');

-- ===== bad input: each rejected with the value and the rule; nothing stored changes =====
CREATE TEMP TABLE snapshot AS SELECT * FROM rollingChartData;
CREATE FUNCTION pg_temp.bar(o text, h text, l text, c text, v text DEFAULT '1', ts text DEFAULT '2021-01-01 06:00', sym text DEFAULT 'BTCUSDT')
RETURNS text LANGUAGE sql AS $$
  SELECT format('INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES (%L, %L, %s, %s, %s, %s, %s)',
                sym, ts, o, h, l, c, v)
$$;
SELECT throws_like(pg_temp.bar('NULL', '2', '1', '1.5'), '%open is NULL%', 'NULL open');
SELECT throws_like(pg_temp.bar('1.5', '''NaN''', '1', '1.5'), '%high is NaN%', 'NaN high');
SELECT throws_ok(pg_temp.bar('1.5', '''Infinity''', '1', '1.5'), '22003', NULL, 'Infinity high: refused by the DECIMAL(20,8) column');
SELECT throws_like(pg_temp.bar('1.5', '2', '-1', '1.5'), '%low is -1%', 'negative low');
SELECT throws_like(pg_temp.bar('0', '2', '1', '1.5'), '%open is 0%', 'zero open');
SELECT throws_like(pg_temp.bar('1.5', '1', '2', '1.5'), '%high (1) is below low (2)%', 'high < low');
SELECT throws_like(pg_temp.bar('3', '2', '1', '1.5'), '%open (3) is outside [low, high]%', 'open above high');
SELECT throws_like(pg_temp.bar('1.5', '2', '1', '0.5'), '%close (0.5) is outside [low, high]%', 'close below low');
SELECT throws_like(pg_temp.bar('1.5', '2', '1', '1.5', '-3'), '%volume is -3%', 'negative volume');
SELECT throws_ok(pg_temp.bar('1.5', '2', '1', '1234567890123.5'), '22003', NULL, 'a value over DECIMAL(20,8)');
SELECT throws_ok(pg_temp.bar('100', '101', '99', '100', '1', '2021-01-01 00:10'), '23505', NULL, 'duplicate (symbol, timestamp)');
SELECT throws_like(pg_temp.bar('1.5', '2', '1', '1.5', '1', '2021-01-01 06:00', 'DOGEUSDT'),
                   '%unknown symbol "DOGEUSDT"%', 'symbol not in config symbols');
SELECT throws_like(pg_temp.bar('1.5', '2', '1', '1.5', '1', '2021-01-01 06:00:30'), '%not on a whole minute%', 'timestamp with seconds');
SELECT throws_like(pg_temp.bar('1.5', '2', '1', '1.5', '1', date_trunc('minute', now() AT TIME ZONE 'UTC' + interval '1 day')::text), '%in the future%', 'timestamp in the future');
SELECT throws_like(pg_temp.bar('1.5', '2', '1', '1.5', '1', 'infinity'), '%timestamp infinity is not a finite time%', 'infinite timestamp');
SELECT throws_like(pg_temp.bar('1.5', '2', '1', '1.5', '1', '-infinity'), '%timestamp -infinity is not a finite time%', 'minus infinite timestamp');
SELECT throws_like(pg_temp.bar('1.5', '2', '1', '1.5', '1', '1900-01-01'), '%timestamp 1900-01-01 00:00:00 is not after 1970-01-01 00:00%',
                   'a bar before the exchanges'' epoch (ml_ingest_klines refuses open times <= 0 alike)');
SELECT throws_like($$UPDATE rollingChartData SET high = low / 2 WHERE symbol = 'BTCUSDT' AND timestamp = '2021-01-01 00:10'$$,
                   '%is below low%', 'an UPDATE to bad prices is rejected too');
SELECT is((SELECT count(*) FROM (SELECT * FROM snapshot EXCEPT SELECT * FROM rollingChartData) d), 0::bigint,
          'after every rejected bar the table is exactly as before');
SELECT is(ml_config_set('data.rejectUnknownSymbols', 'false'), 'false'::jsonb, 'unknown symbols switch off');
SELECT lives_ok(pg_temp.bar('1.5', '2', '1', '1.5', '1', '2021-01-01 06:00', 'DOGEUSDT'), 'unknown symbols accepted when the switch is off');
SELECT is(ml_config_reset('data.rejectUnknownSymbols'), 'true'::jsonb, 'unknown symbols switch back on');

SELECT * FROM finish();
ROLLBACK;
