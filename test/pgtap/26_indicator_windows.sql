-- The indicator window functions (ml_rsi(close) OVER w, ml_macd, ml_bollinger, ml_stochastic,
-- ml_volatility): equal bit for bit (array_send of the values) to the array functions over the
-- same rows, warm-up NULLs included, on generated minute bars of three symbols, on 5-minute bars
-- resampled with date_bin, on rollingChartData's numeric columns and on the real shared data when
-- present; NULL prices are skipped; bad parameters fail as the array functions do; bad rows and
-- ambiguous orders fail naming the rule; the array functions still resolve; views and PL/pgSQL.
BEGIN;
SET client_min_messages = warning;
SELECT plan(63);

-- ---- bars: a random walk per symbol, prices on a tick, with an exchange-outage gap ---------------
SELECT setseed(0.26);
CREATE TEMP TABLE bars AS
WITH r AS (
  SELECT p.symbol, p.base, p.tick, i, (random() - 0.5) * 0.004 AS ret, random() AS u1, random() AS u2
    FROM (VALUES ('BTCUSDT', 60000::float8, 0.01::float8), ('XRPUSDT', 2.5, 0.0001), ('HBARUSDT', 0.35, 0.00001)) p(symbol, base, tick),
         generate_series(0, 2999) i),
c AS (SELECT symbol, tick, i, u1, u2, base * exp(sum(ret) OVER (PARTITION BY symbol ORDER BY i)) AS c FROM r)
SELECT symbol, '2021-04-01'::timestamp + make_interval(mins => i) AS ts,
       round(c * (1 + 0.002 * u1) / tick) * tick AS high, round(c * (1 - 0.002 * u2) / tick) * tick AS low,
       round(c / tick) * tick AS close
  FROM c;
DELETE FROM bars WHERE ts BETWEEN '2021-04-01 10:02' AND '2021-04-01 11:29';  -- 88 missing minutes
-- the same bars resampled to 5 minutes
CREATE TEMP VIEW bars5 AS
  SELECT symbol, date_bin('5 minutes', ts, '2021-01-01') AS ts, max(high) AS high, min(low) AS low,
         (array_agg(close ORDER BY ts DESC))[1] AS close
    FROM bars GROUP BY 1, 2;

-- 'ok', or what differs. The window side selects `wexpr` (using WINDOW w, PARTITION BY symbol
-- ORDER BY ts) as m from src and maps it to a float8[] with wv; the array side unnests the array
-- functions over s.t, s.h, s.l, s.c (each symbol's ts, high, low, close arrays in ts order) in
-- afrom and maps to a float8[] with av. Rows must match one to one with the same bits, and at least
-- min_valued rows must carry a first value (no vacuous pass on NULLs).
CREATE FUNCTION pg_temp.same(src text, wexpr text, wv text, afrom text, av text, min_valued bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  EXECUTE format($q$
    WITH win AS (SELECT symbol, ts, %3$s AS v FROM (SELECT symbol, ts, %2$s AS m FROM %1$s WINDOW w AS (PARTITION BY symbol ORDER BY ts)) x),
         arr AS (SELECT s.symbol, u.ts, %5$s AS v
                   FROM (SELECT symbol, array_agg(ts ORDER BY ts) t, array_agg(high ORDER BY ts) h, array_agg(low ORDER BY ts) l,
                                array_agg(close ORDER BY ts) c FROM %1$s GROUP BY symbol) s, %4$s)
    SELECT count(*) AS n, count(*) FILTER (WHERE win.v[1] IS NOT NULL) AS valued,
           count(*) FILTER (WHERE win.symbol IS NULL OR arr.symbol IS NULL OR array_send(win.v) IS DISTINCT FROM array_send(arr.v)) AS bad,
           min(coalesce(win.symbol, arr.symbol) || ' ' || coalesce(win.ts, arr.ts) || ': ' || win.v::text || ' vs ' || arr.v::text)
             FILTER (WHERE win.symbol IS NULL OR arr.symbol IS NULL OR array_send(win.v) IS DISTINCT FROM array_send(arr.v)) AS first_bad
      FROM win FULL JOIN arr ON arr.symbol = win.symbol AND arr.ts = win.ts$q$, src, wexpr, wv, afrom, av) INTO r;
  IF r.bad > 0 THEN RETURN format('%s of %s rows differ, e.g. %s', r.bad, r.n, r.first_bad); END IF;
  IF r.valued < min_valued THEN RETURN format('only %s of %s rows carry a value', r.valued, r.n); END IF;
  RETURN 'ok';
END $$;
-- the error a statement raises, as 'SQLSTATE: message', or 'no error'
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
  RETURN st || ': ' || msg;
END $$;

SELECT is((SELECT count(*) FROM bars), 8736::bigint, '3 symbols x 2912 minute bars');
SELECT is((SELECT count(*) FROM bars5), 1749::bigint, '3 symbols x 583 five-minute bars');

-- ---- bit for bit against the array functions, minute bars ---------------------------------------
SELECT is(pg_temp.same('bars', 'ml_rsi(close) OVER w', 'ARRAY[m]', 'unnest(s.t, ml_rsi(s.c)) u(ts, a)', 'ARRAY[u.a]', 8600),
          'ok', 'ml_rsi(close) OVER w = ml_rsi(array) (default period 14), three partitions');
SELECT is(pg_temp.same('bars', 'ml_rsi(close, 5) OVER w', 'ARRAY[m]', 'unnest(s.t, ml_rsi(s.c, 5)) u(ts, a)', 'ARRAY[u.a]', 8700),
          'ok', 'ml_rsi(close, 5) OVER w');
SELECT is(pg_temp.same('bars', 'ml_rsi(close, period => 2999) OVER w', 'ARRAY[m]', 'unnest(s.t, ml_rsi(s.c, 2900)) u(ts, a)', 'ARRAY[NULL::float8]', 0),
          'ok', 'a period longer than the partition: every row NULL');
SELECT is(pg_temp.same('bars', 'ml_macd(close) OVER w', 'ARRAY[(m).macd, (m).signal, (m).hist]',
                       'ml_macd(s.c) a, unnest(s.t, a.macd, a.signal, a.hist) u(ts, a, b, c)', 'ARRAY[u.a, u.b, u.c]', 8600),
          'ok', 'ml_macd(close) OVER w = ml_macd(array): macd, signal, hist (12, 26, 9)');
SELECT is(pg_temp.same('bars', 'ml_macd(close, 5, 35, 5) OVER w', 'ARRAY[(m).macd, (m).signal, (m).hist]',
                       'ml_macd(s.c, 5, 35, 5) a, unnest(s.t, a.macd, a.signal, a.hist) u(ts, a, b, c)', 'ARRAY[u.a, u.b, u.c]', 8600),
          'ok', 'ml_macd(close, 5, 35, 5) OVER w');
SELECT is(pg_temp.same('bars', 'ml_macd(close, slow => 40, fast => 3) OVER w', 'ARRAY[(m).macd, (m).signal, (m).hist]',
                       'ml_macd(s.c, 3, 40, 9) a, unnest(s.t, a.macd, a.signal, a.hist) u(ts, a, b, c)', 'ARRAY[u.a, u.b, u.c]', 8500),
          'ok', 'ml_macd with named parameters (fast 3, slow 40, default signal)');
SELECT is(pg_temp.same('bars', 'ml_bollinger(close) OVER w', 'ARRAY[(m).upper, (m).middle, (m).lower]',
                       'ml_bollinger(s.c) a, unnest(s.t, a.upper, a.middle, a.lower) u(ts, a, b, c)', 'ARRAY[u.a, u.b, u.c]', 8600),
          'ok', 'ml_bollinger(close) OVER w = ml_bollinger(array): upper, middle, lower (20, 2)');
SELECT is(pg_temp.same('bars', 'ml_bollinger(close, 7, 1.5) OVER w', 'ARRAY[(m).upper, (m).middle, (m).lower]',
                       'ml_bollinger(s.c, 7, 1.5) a, unnest(s.t, a.upper, a.middle, a.lower) u(ts, a, b, c)', 'ARRAY[u.a, u.b, u.c]', 8700),
          'ok', 'ml_bollinger(close, 7, 1.5) OVER w');
SELECT is(pg_temp.same('bars', 'ml_stochastic(high, low, close) OVER w', 'ARRAY[(m).k, (m).d]',
                       'ml_stochastic(s.h, s.l, s.c) a, unnest(s.t, a.k, a.d) u(ts, a, b)', 'ARRAY[u.a, u.b]', 8600),
          'ok', 'ml_stochastic(high, low, close) OVER w = ml_stochastic(arrays): %K, %D (14, 3)');
SELECT is(pg_temp.same('bars', 'ml_stochastic(high, low, close, 5, 4) OVER w', 'ARRAY[(m).k, (m).d]',
                       'ml_stochastic(s.h, s.l, s.c, 5, 4) a, unnest(s.t, a.k, a.d) u(ts, a, b)', 'ARRAY[u.a, u.b]', 8700),
          'ok', 'ml_stochastic(high, low, close, 5, 4) OVER w');
SELECT is(pg_temp.same('bars', 'ml_volatility(close) OVER w', 'ARRAY[m]', 'unnest(s.t, ml_volatility(s.c)) u(ts, a)', 'ARRAY[u.a]', 8700),
          'ok', 'ml_volatility(close) OVER w = ml_volatility(array) (window 5)');
SELECT is(pg_temp.same('bars', 'ml_volatility(close, 60) OVER w', 'ARRAY[m]', 'unnest(s.t, ml_volatility(s.c, 60)) u(ts, a)', 'ARRAY[u.a]', 8500),
          'ok', 'ml_volatility(close, 60) OVER w');
SELECT is((SELECT count(*) FROM (SELECT ml_rsi(close) OVER w AS r FROM bars WHERE symbol = 'BTCUSDT'
                                   WINDOW w AS (ORDER BY ts) ORDER BY ts LIMIT 15) x WHERE r IS NULL), 14::bigint,
          'warm-up: RSI(14) is NULL on rows 0..13 and has a value from row 14, as the array function');

-- ---- 5-minute bars resampled with date_bin -------------------------------------------------------
SELECT is(pg_temp.same('bars5', 'ml_rsi(close) OVER w', 'ARRAY[m]', 'unnest(s.t, ml_rsi(s.c)) u(ts, a)', 'ARRAY[u.a]', 1700),
          'ok', 'date_bin 5-minute bars: RSI');
SELECT is(pg_temp.same('bars5', 'ml_macd(close) OVER w', 'ARRAY[(m).macd, (m).signal, (m).hist]',
                       'ml_macd(s.c) a, unnest(s.t, a.macd, a.signal, a.hist) u(ts, a, b, c)', 'ARRAY[u.a, u.b, u.c]', 1600),
          'ok', 'date_bin 5-minute bars: MACD');
SELECT is(pg_temp.same('bars5', 'ml_bollinger(close) OVER w', 'ARRAY[(m).upper, (m).middle, (m).lower]',
                       'ml_bollinger(s.c) a, unnest(s.t, a.upper, a.middle, a.lower) u(ts, a, b, c)', 'ARRAY[u.a, u.b, u.c]', 1600),
          'ok', 'date_bin 5-minute bars: Bollinger');
SELECT is(pg_temp.same('bars5', 'ml_stochastic(high, low, close) OVER w', 'ARRAY[(m).k, (m).d]',
                       'ml_stochastic(s.h, s.l, s.c) a, unnest(s.t, a.k, a.d) u(ts, a, b)', 'ARRAY[u.a, u.b]', 1600),
          'ok', 'date_bin 5-minute bars: stochastic');
SELECT is(pg_temp.same('bars5', 'ml_volatility(close) OVER w', 'ARRAY[m]', 'unnest(s.t, ml_volatility(s.c)) u(ts, a)', 'ARRAY[u.a]', 1700),
          'ok', 'date_bin 5-minute bars: volatility');

-- all five in one query over one window, with lag() beside them (they share the window's buffer)
CREATE TEMP TABLE together AS
  SELECT symbol, ts, lag(close) OVER w AS prev, ml_rsi(close) OVER w AS rsi, ml_macd(close) OVER w AS macd,
         ml_bollinger(close) OVER w AS bb, ml_stochastic(high, low, close) OVER w AS st, ml_volatility(close) OVER w AS vol
    FROM bars5 WINDOW w AS (PARTITION BY symbol ORDER BY ts);
SELECT is((SELECT count(*) FROM together t JOIN
            (SELECT s.symbol, u.* FROM (SELECT symbol, array_agg(ts ORDER BY ts) t, array_agg(high ORDER BY ts) h,
                                               array_agg(low ORDER BY ts) l, array_agg(close ORDER BY ts) c FROM bars5 GROUP BY symbol) s,
                    ml_macd(s.c) m, ml_bollinger(s.c) b, ml_stochastic(s.h, s.l, s.c) st,
                    unnest(s.t, ml_rsi(s.c), m.macd, m.signal, m.hist, b.upper, b.middle, b.lower, st.k, st.d, ml_volatility(s.c))
                      AS u(ts, rsi, macd, ms, mh, bu, bm, bl, sk, sd, vol)) a ON a.symbol = t.symbol AND a.ts = t.ts
            WHERE array_send(ARRAY[t.rsi, (t.macd).macd, (t.macd).signal, (t.macd).hist, (t.bb).upper, (t.bb).middle, (t.bb).lower,
                                   (t.st).k, (t.st).d, t.vol])
                = array_send(ARRAY[a.rsi, a.macd, a.ms, a.mh, a.bu, a.bm, a.bl, a.sk, a.sd, a.vol])), 1749::bigint,
          'all five window functions in one query (and lag() beside them): every row equal');

-- another order: a window ordered by ts DESC equals the array functions over the reversed series
SELECT is(pg_temp.same('(SELECT symbol, ts, high, low, close FROM bars5) q',
                       'ml_rsi(close) OVER (PARTITION BY symbol ORDER BY ts DESC)', 'ARRAY[m]',
                       'unnest(s.t, (SELECT array_agg(x ORDER BY o DESC) FROM unnest(ml_rsi((SELECT array_agg(y ORDER BY o DESC) FROM unnest(s.c) WITH ORDINALITY v(y, o)))) WITH ORDINALITY z(x, o))) u(ts, a)',
                       'ARRAY[u.a]', 1700),
          'ok', 'ORDER BY ts DESC: the array function over the series in that order');
-- a frame clause does not change anything: every value covers the partition up to the row
SELECT is((SELECT count(*) FROM (SELECT ml_rsi(close) OVER (PARTITION BY symbol ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS a,
                                        ml_rsi(close) OVER (PARTITION BY symbol ORDER BY ts) AS b FROM bars5) x
            WHERE float8send(a) IS DISTINCT FROM float8send(b)), 0::bigint, 'a frame clause is ignored (like lag())');

-- ---- rollingChartData: numeric columns, a view, PL/pgSQL -----------------------------------------
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, ts, close::numeric(20,8), high::numeric(20,8), low::numeric(20,8), close::numeric(20,8), 1
    FROM bars WHERE symbol IN ('XRPUSDT', 'HBARUSDT') AND ts < '2021-04-01 20:00';
ANALYZE rollingChartData;
CREATE TEMP VIEW ind5 AS
  SELECT symbol, date_bin('5 minutes', timestamp, '2021-01-01') AS ts,
         (array_agg(close ORDER BY timestamp DESC))[1] AS close, max(high) AS high, min(low) AS low
    FROM rollingChartData GROUP BY 1, 2;
CREATE TEMP VIEW ind5_rsi AS
  SELECT symbol, ts, close, ml_rsi(close) OVER w AS rsi, (ml_macd(close) OVER w).*
    FROM ind5 WINDOW w AS (PARTITION BY symbol ORDER BY ts);
SELECT is((SELECT count(*) FROM ind5_rsi v JOIN
            (SELECT s.symbol, u.* FROM (SELECT symbol, array_agg(ts ORDER BY ts) t, array_agg(close::float8 ORDER BY ts) c FROM ind5 GROUP BY symbol) s,
                    ml_macd(s.c) m, unnest(s.t, ml_rsi(s.c), m.macd, m.signal, m.hist) AS u(ts, rsi, macd, ms, mh)) a
              ON a.symbol = v.symbol AND a.ts = v.ts
            WHERE array_send(ARRAY[v.rsi, v.macd, v.signal, v.hist]) = array_send(ARRAY[a.rsi, a.macd, a.ms, a.mh])),
          (SELECT count(*) FROM ind5), 'a view over rollingChartData (numeric close, date_bin, (ml_macd(close) OVER w).*): every row equal');
SELECT ok((SELECT count(*) FROM ind5_rsi WHERE signal IS NOT NULL) > 200, 'the view carries MACD values');
SELECT ok(pg_get_viewdef('ind5_rsi'::regclass) LIKE '%ml_rsi(%OVER w%', 'the view''s definition keeps the window call');
CREATE FUNCTION pg_temp.last_signal(sym text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT ts, (ml_macd(close, 12, 26, 9) OVER w).signal AS s FROM ind5 WHERE symbol = sym
             WINDOW w AS (ORDER BY ts) ORDER BY ts DESC LIMIT 1 LOOP
    RETURN r.s;
  END LOOP;
  RETURN NULL;
END $$;
SELECT is(float8send(pg_temp.last_signal('HBARUSDT')),
          (SELECT float8send(m.signal[cardinality(m.signal)]) FROM ml_macd((SELECT array_agg(close::float8 ORDER BY ts) FROM ind5 WHERE symbol = 'HBARUSDT')) m),
          'PL/pgSQL: the latest MACD signal through (ml_macd(...) OVER w).signal');

-- ---- NULL prices are skipped; NULL parameters give NULL ------------------------------------------
CREATE TEMP TABLE holes AS SELECT symbol, ts, high, low, CASE WHEN extract(minute FROM ts)::int % 7 = 3 THEN NULL ELSE close END AS close FROM bars;
UPDATE holes SET high = NULL WHERE extract(minute FROM ts)::int % 11 = 5;
SELECT is((SELECT count(*) FROM (SELECT symbol, ts, close, ml_rsi(close) OVER w AS r FROM holes WINDOW w AS (PARTITION BY symbol ORDER BY ts)) x
            WHERE close IS NULL AND r IS NOT NULL), 0::bigint, 'a row with a NULL close gets NULL');
SELECT is((SELECT count(*) FROM
            (SELECT symbol, ts, close, ml_rsi(close) OVER w AS r, (ml_stochastic(high, low, close) OVER w).k AS k FROM holes
              WINDOW w AS (PARTITION BY symbol ORDER BY ts)) x
            JOIN (SELECT s.symbol, u.* FROM (SELECT symbol, array_agg(ts ORDER BY ts) t, array_agg(close ORDER BY ts) c FROM holes
                                              WHERE close IS NOT NULL GROUP BY symbol) s,
                         unnest(s.t, ml_rsi(s.c)) u(ts, r)) a ON a.symbol = x.symbol AND a.ts = x.ts
           WHERE float8send(x.r) IS NOT DISTINCT FROM float8send(a.r)),
          (SELECT count(*) FROM holes WHERE close IS NOT NULL),
          'rows with a close: ml_rsi(close) OVER w = ml_rsi of the non-NULL closes');
SELECT is((SELECT count(*) FROM
            (SELECT symbol, ts, high, low, close, (ml_stochastic(high, low, close) OVER w).k AS k FROM holes
              WINDOW w AS (PARTITION BY symbol ORDER BY ts)) x
            JOIN (SELECT s.symbol, u.* FROM (SELECT symbol, array_agg(ts ORDER BY ts) t, array_agg(high ORDER BY ts) h, array_agg(low ORDER BY ts) l,
                                                    array_agg(close ORDER BY ts) c FROM holes
                                              WHERE high IS NOT NULL AND close IS NOT NULL GROUP BY symbol) s,
                         ml_stochastic(s.h, s.l, s.c) st, unnest(s.t, st.k) u(ts, k)) a ON a.symbol = x.symbol AND a.ts = x.ts
           WHERE float8send(x.k) IS NOT DISTINCT FROM float8send(a.k)),
          (SELECT count(*) FROM holes WHERE high IS NOT NULL AND close IS NOT NULL),
          'stochastic skips a row where high, low or close is NULL');
SELECT is((SELECT count(*) FROM (SELECT ml_rsi(close, NULL) OVER w AS r, ml_macd(close, 12, NULL) OVER w AS m
                                   FROM bars5 WINDOW w AS (PARTITION BY symbol ORDER BY ts)) x WHERE r IS NOT NULL OR m IS NOT NULL),
          0::bigint, 'a NULL parameter: NULL on every row (the array functions are STRICT)');

-- ---- bad parameters: the array function's error ---------------------------------------------------
CREATE FUNCTION pg_temp.same_error(wcall text, acall text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE w text := pg_temp.err(format('SELECT %s OVER w FROM bars5 WINDOW w AS (PARTITION BY symbol ORDER BY ts)', wcall));
        a text := pg_temp.err(format('SELECT %s FROM (SELECT array_agg(high ORDER BY ts) h, array_agg(low ORDER BY ts) l, array_agg(close ORDER BY ts) c FROM bars5 GROUP BY symbol) s', acall));
BEGIN
  RETURN CASE WHEN w = a AND w LIKE '22023: %' THEN 'same: ' || w ELSE format('window: %s; array: %s', w, a) END;
END $$;
SELECT matches(pg_temp.same_error('ml_rsi(close, 0)', 'ml_rsi(c, 0)'), '^same: 22023: invalid RSI period = 0: must be between 1 and 100000$', 'RSI period 0');
SELECT matches(pg_temp.same_error('ml_rsi(close, -5)', 'ml_rsi(c, -5)'), '^same: .*period = -5', 'RSI period -5');
SELECT matches(pg_temp.same_error('ml_rsi(close, 100001)', 'ml_rsi(c, 100001)'), '^same: .*period = 100001', 'RSI period 100001');
SELECT matches(pg_temp.same_error('ml_macd(close, 26, 12, 9)', 'ml_macd(c, 26, 12, 9)'), '^same: .*slow period = 12: must be greater than', 'MACD fast > slow');
SELECT matches(pg_temp.same_error('ml_macd(close, 12, 12, 9)', 'ml_macd(c, 12, 12, 9)'), '^same: .*slow period = 12', 'MACD fast = slow');
SELECT matches(pg_temp.same_error('ml_macd(close, 12, 26, 0)', 'ml_macd(c, 12, 26, 0)'), '^same: .*signal period = 0', 'MACD signal 0');
SELECT matches(pg_temp.same_error('ml_bollinger(close, 0)', 'ml_bollinger(c, 0)'), '^same: .*Bollinger period = 0', 'Bollinger period 0');
SELECT matches(pg_temp.same_error('ml_bollinger(close, 20, 0)', 'ml_bollinger(c, 20, 0)'), '^same: .*Bollinger k = 0', 'Bollinger k 0');
SELECT matches(pg_temp.same_error($$ml_bollinger(close, 20, 'NaN')$$, $$ml_bollinger(c, 20, 'NaN')$$), '^same: .*Bollinger k = NaN', 'Bollinger k NaN');
SELECT matches(pg_temp.same_error('ml_stochastic(high, low, close, 0)', 'ml_stochastic(h, l, c, 0)'), '^same: .*k period = 0', 'stochastic k 0');
SELECT matches(pg_temp.same_error('ml_stochastic(high, low, close, 14, -1)', 'ml_stochastic(h, l, c, 14, -1)'), '^same: .*d period = -1', 'stochastic d -1');
SELECT matches(pg_temp.same_error('ml_volatility(close, 0)', 'ml_volatility(c, 0)'), '^same: .*volatility window = 0', 'volatility window 0');

-- ---- bad rows and orders: an error naming the row and the rule ------------------------------------
SELECT is(pg_temp.err($$SELECT ml_rsi(c) OVER (ORDER BY i) FROM (VALUES (1, 10::float8), (2, 11), (3, 'NaN'), (4, 12)) v(i, c)$$),
          '22023: ml_rsi: close = NaN at row 3 of the window partition is not a finite number', 'a NaN close: error naming the row');
SELECT is(pg_temp.err($$SELECT ml_macd(c) OVER (ORDER BY i) FROM (VALUES (1, 10::float8), (2, 'Infinity')) v(i, c)$$),
          '22023: ml_macd: close = Infinity at row 2 of the window partition is not a finite number', 'an infinite close');
SELECT is(pg_temp.err($$SELECT ml_volatility(c) OVER (ORDER BY i) FROM (VALUES (1, 10::float8), (2, 0)) v(i, c)$$),
          '22023: ml_volatility: close = 0 at row 2 of the window partition is not > 0', 'volatility: a close <= 0');
SELECT is(pg_temp.err($$SELECT ml_stochastic(h, l, c) OVER (ORDER BY i) FROM (VALUES (1, 11::float8, 9::float8, 10::float8), (2, 9, 11, 10)) v(i, h, l, c)$$),
          '22023: ml_stochastic: high = 9 is below low = 11 at row 2 of the window partition', 'stochastic: high < low');
SELECT is(pg_temp.err($$SELECT ml_rsi(close) OVER (PARTITION BY symbol) FROM bars5$$),
          '42P20: ml_rsi: rows 1 and 2 of the window partition are peers', 'no ORDER BY: error (the order would be arbitrary)');
SELECT is(pg_temp.err($$SELECT ml_rsi(close) OVER (PARTITION BY symbol ORDER BY date_trunc('hour', ts)) FROM bars5$$),
          '42P20: ml_rsi: rows 1 and 2 of the window partition are peers', 'ties in the ORDER BY: error');
SELECT is(pg_temp.err($$SELECT ml_bollinger(c) OVER (ORDER BY i) FROM (VALUES (1, 10::float8), (2, 11), (3, 12), (3, 13)) v(i, c)$$),
          '42P20: ml_bollinger: rows 3 and 4 of the window partition are peers', 'a tie later in the partition: error naming the rows');
SELECT is((SELECT ml_rsi(c, 1) OVER () FROM (VALUES (10::float8)) v(c)), NULL::float8, 'a one-row partition needs no ORDER BY');
SELECT is(pg_temp.err($$SELECT ml_rsi(c, p) OVER (ORDER BY i) FROM (VALUES (1, 10::float8, 2), (2, 11, 2), (3, 12, 3)) v(i, c, p)$$),
          '22023: ml_rsi: parameter period changes at row 3 of the window partition', 'a parameter that changes within a partition');
SELECT is((SELECT array_agg(r ORDER BY i)::text FROM (SELECT i, ml_rsi(c, p) OVER (PARTITION BY p ORDER BY i) AS r
                                                       FROM (VALUES (1, 10::float8, 1), (2, 11, 1), (3, 12, 2), (4, 11, 2), (5, 13, 2)) v(i, c, p)) x),
          (ml_rsi('{10,11}'::float8[], 1) || ml_rsi('{12,11,13}'::float8[], 2))::text, 'a parameter may differ between partitions');

-- ---- names: the array functions still resolve; catalog properties --------------------------------
SELECT is(pg_typeof(ml_rsi(ARRAY[1, 2, 3, 2, 3], 2))::text, 'double precision[]', 'ml_rsi(ARRAY[...]) is the array function');
SELECT is(ml_rsi(NULL::float8[]), NULL, 'ml_rsi(NULL::float8[]) is the array function (STRICT)');
SELECT is((SELECT pg_typeof(macd)::text FROM ml_macd('{1,2,3,4,5,6,7,8,9,10,11,12}'::float8[], 2, 3, 2)), 'double precision[]',
          'ml_macd(float8[]) is the array function');
SELECT is(pg_temp.err('SELECT ml_rsi(1.5::float8)'), '42809: window function ml_rsi requires an OVER clause', 'the scalar overload needs OVER');
SELECT is(pg_temp.err('SELECT ml_rsi(NULL)'), '42725: function ml_rsi(unknown) is not unique',
          'an untyped NULL matches both overloads: cast it (NULL::float8[])');
SELECT is(pg_temp.err($$SELECT ml_rsi('{1,2,3}', 2)$$), '42809: window function ml_rsi requires an OVER clause',
          'an untyped literal with an integer period resolves to the window overload: cast it (''{1,2,3}''::float8[])');
SELECT is((SELECT string_agg(p.oid::regprocedure::text || ' ' || p.prokind::text || p.provolatile::text || p.proparallel::text || p.proisstrict::text
                             || has_function_privilege('public', p.oid, 'EXECUTE')::text, ', ' ORDER BY p.oid::regprocedure::text)
             FROM pg_proc p WHERE p.prokind = 'w' AND p.proname LIKE 'ml\_%'),
          'ml_bollinger(double precision,integer,double precision) wisfalsetrue, ml_macd(double precision,integer,integer,integer) wisfalsetrue, '
          'ml_rsi(double precision,integer) wisfalsetrue, ml_stochastic(double precision,double precision,double precision,integer,integer) wisfalsetrue, '
          'ml_volatility(double precision,integer) wisfalsetrue',
          'five window functions: IMMUTABLE, PARALLEL SAFE, not STRICT, executable by PUBLIC');

-- ---- the real shared data, when present: six symbols, 20 days (with the 2021-04-20 outage), 5-minute bars
\set data `d="${CRYPTOML_SHARED_DATA_DIR:-../shared/data}"; for s in BTC ETH SOL XRP ADA HBAR; do test -r "$d/binance_${s}USDT_1m.csv.gz" || exit 0; done; cd "$d" && pwd`
SELECT :'data' <> '' AS present \gset
CREATE TEMP TABLE real_bars (symbol text, ts text, open float8, high float8, low float8, close float8, volume float8);
\setenv CRYPTOML_DATA :data
\if :present
\copy real_bars FROM PROGRAM 'for s in BTC ETH SOL XRP ADA HBAR; do gzip -dc "$CRYPTOML_DATA/binance_${s}USDT_1m.csv.gz" | awk -F, ''NR > 1 && $2 < "2021-04-22"''; done' WITH (FORMAT csv)
\endif
CREATE TEMP TABLE real5 AS
  SELECT symbol, date_bin('5 minutes', ts::timestamptz AT TIME ZONE 'UTC', '2021-01-01') AS ts, max(high) AS high, min(low) AS low,
         (array_agg(close ORDER BY ts DESC))[1] AS close
    FROM real_bars GROUP BY 1, 2;
SELECT CASE WHEN :'present' THEN is(pg_temp.same('real5', 'ml_rsi(close) OVER w', 'ARRAY[m]', 'unnest(s.t, ml_rsi(s.c)) u(ts, a)', 'ARRAY[u.a]', 34000),
                                    'ok', 'real data, 6 symbols, 5-minute bars: RSI')
            ELSE skip('the shared data (../shared/data or CRYPTOML_SHARED_DATA_DIR) is not present', 1) END;
SELECT CASE WHEN :'present' THEN is(pg_temp.same('real5', 'ml_macd(close) OVER w', 'ARRAY[(m).macd, (m).signal, (m).hist]',
                                                 'ml_macd(s.c) a, unnest(s.t, a.macd, a.signal, a.hist) u(ts, a, b, c)', 'ARRAY[u.a, u.b, u.c]', 34000),
                                    'ok', 'real data, 6 symbols, 5-minute bars: MACD')
            ELSE skip('the shared data is not present', 1) END;
SELECT CASE WHEN :'present' THEN is(pg_temp.same('real5', 'ml_stochastic(high, low, close) OVER w', 'ARRAY[(m).k, (m).d]',
                                                 'ml_stochastic(s.h, s.l, s.c) a, unnest(s.t, a.k, a.d) u(ts, a, b)', 'ARRAY[u.a, u.b]', 34000),
                                    'ok', 'real data, 6 symbols, 5-minute bars: stochastic')
            ELSE skip('the shared data is not present', 1) END;

SELECT * FROM finish();
ROLLBACK;
