-- Issue 14: a hostile (or careless) caller. Every entry point gets NULLs, empty strings, a
-- 10,000-character symbol, unicode and control characters, SQL-injection-looking strings, unknown
-- symbols, out-of-range horizons and options, options that are not objects, numbers jsonb stores
-- but C cannot (1e400, 4294967302), malformed exchange payloads; bars get every invalid value;
-- indicator columns are written by hand; and errors are caught (SAVEPOINT / ROLLBACK TO and
-- PL/pgSQL exception blocks) inside every writing entry point, after which the session must behave
-- as a fresh one would (issue 14, D3).
--
-- Each case asserts a clear error (SQLSTATE, message pattern, and a message under 300 characters,
-- so that no hostile value is echoed in full), and each group of cases asserts that no stored row
-- of the extension changed: a checksum of every table of the extension (and of the privileges and
-- triggers on them) is taken before the group and compared after it. systemLogs and recoveryState
-- are compared on the rows that existed at the snapshot only, since the autonomous logger adds rows
-- that survive any rollback.
--
-- The whole file runs in one transaction that is rolled back; the log entries and checkpoints that
-- the autonomous logger committed are deleted after the ROLLBACK.
--
-- The savepoint cases (the issue's own repro) run top-level statements that fail on purpose:
-- ON_ERROR_STOP is switched off around them, psql prints their ERROR on stderr, and the SQLSTATE psql
-- recorded (LAST_ERROR_SQLSTATE) is asserted after the ROLLBACK TO SAVEPOINT.
SELECT coalesce(max(id), 0) AS hostile_log_mark FROM systemLogs \gset
SELECT coalesce(max(id), 0) AS hostile_rs_mark FROM recoveryState \gset
BEGIN;
SET client_min_messages = error;
SELECT plan(529);

-- Helpers: checksums of the stored state, snapshots, refused() / runs()
\ir ../pgtap_lib/hostile_helpers.sql
-- SQL that undoes a statement's effects when it succeeds (raising HH000), for throws_ok
CREATE FUNCTION pg_temp.undone(sql text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('DO $undo$ BEGIN EXECUTE %L; RAISE EXCEPTION ''the statement succeeded (its effects were undone)'' USING ERRCODE = ''HH000''; END $undo$', sql)
$$;

-- n bars of a seeded random walk, one per minute from `start`
CREATE FUNCTION pg_temp.walk(sym text, start timestamp, n integer, base float8, seed float8) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM setseed(seed);
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT sym, start + make_interval(mins => i), round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8),
         round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10 + i % 9
    FROM (SELECT i, base * exp(sum(r) OVER (ORDER BY i)) AS c
            FROM (SELECT i, (random() - 0.5) * 0.004 AS r FROM generate_series(0, n - 1) i) x) y;
END $$;
CREATE FUNCTION pg_temp.near(a numeric, b float8, scale integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT (a IS NULL AND b IS NULL) OR abs(a - b::numeric) <= 0.5 * 10 ^ (-scale)
$$;
-- The indicator columns of a symbol's bar that differ from what the array functions give over the
-- symbol's bars (the default features settings; a bar's values depend on the bars up to it only):
-- what a fresh session computes. NULL when there is no such bar.
CREATE FUNCTION pg_temp.wrong_indicators(sym text, at timestamp) RETURNS text[] LANGUAGE sql AS $$
  WITH a AS (SELECT array_agg(r.high::float8 ORDER BY r.timestamp) AS h, array_agg(r.low::float8 ORDER BY r.timestamp) AS l,
                    array_agg(r.close::float8 ORDER BY r.timestamp) AS c, array_agg(r.timestamp ORDER BY r.timestamp) AS ts
               FROM rollingChartData r WHERE r.symbol = sym),
  s AS (SELECT a.h, a.l, a.c, array_position(a.ts, at) AS n FROM a),
  ref AS (SELECT (ml_rsi(s.c, 14))[s.n] AS rsi, m.macd[s.n] AS macd, m.signal[s.n] AS ms, m.hist[s.n] AS mh,
                 b.upper[s.n] AS bu, b.middle[s.n] AS bm, b.lower[s.n] AS bl, st.k[s.n] AS sk, st.d[s.n] AS sd,
                 (ml_volatility(s.c, 5))[s.n] AS vol
            FROM s, ml_macd(s.c, 12, 26, 9) m, ml_bollinger(s.c, 20, 2) b, ml_stochastic(s.h, s.l, s.c, 14, 3) st)
  SELECT array_remove(ARRAY[
           CASE WHEN NOT pg_temp.near(r.rsi, ref.rsi, 4) THEN 'rsi' END,
           CASE WHEN NOT pg_temp.near(r.macd, ref.macd, 8) THEN 'macd' END,
           CASE WHEN NOT pg_temp.near(r.macd_signal, ref.ms, 8) THEN 'macd_signal' END,
           CASE WHEN NOT pg_temp.near(r.macd_hist, ref.mh, 8) THEN 'macd_hist' END,
           CASE WHEN NOT pg_temp.near(r.bollinger_upper, ref.bu, 8) THEN 'bollinger_upper' END,
           CASE WHEN NOT pg_temp.near(r.bollinger_middle, ref.bm, 8) THEN 'bollinger_middle' END,
           CASE WHEN NOT pg_temp.near(r.bollinger_lower, ref.bl, 8) THEN 'bollinger_lower' END,
           CASE WHEN NOT pg_temp.near(r.stochastic_k, ref.sk, 4) THEN 'stochastic_k' END,
           CASE WHEN NOT pg_temp.near(r.stochastic_d, ref.sd, 4) THEN 'stochastic_d' END,
           CASE WHEN NOT pg_temp.near(r.volatility, ref.vol, 6) THEN 'volatility' END,
           CASE WHEN r.is_complete IS DISTINCT FROM (ref.rsi IS NOT NULL AND ref.macd IS NOT NULL AND ref.bu IS NOT NULL
                     AND ref.bl IS NOT NULL AND ref.sk IS NOT NULL AND ref.sd IS NOT NULL AND ref.vol IS NOT NULL) THEN 'is_complete' END], NULL)
    FROM ref, rollingChartData r WHERE r.symbol = sym AND r.timestamp = at
$$;
-- bars of a symbol whose stored indicators differ from the array functions over all its bars
CREATE FUNCTION pg_temp.symbol_mismatches(sym text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM rollingChartData r WHERE r.symbol = sym AND pg_temp.wrong_indicators(sym, r.timestamp) <> '{}'
$$;
-- The session behaves as a fresh one: the next bar of `sym` gets the indicators a fresh session
-- computes (and not those its INSERT supplies), a bar with close -5 and a bar in 2999 are refused.
-- (The refusals are undone if they wrongly succeed, so a failure does not spread.)
CREATE FUNCTION pg_temp.probe(sym text, tag text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t timestamp;
  c numeric;
BEGIN
  SELECT r.timestamp + interval '1 minute', round(r.close * 1.0007, 8) INTO t, c
    FROM rollingChartData r WHERE r.symbol = sym ORDER BY r.timestamp DESC LIMIT 1;
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume, rsi, macd, bollinger_upper, stochastic_k, volatility, is_complete)
    VALUES (sym, t, c, round(c * 1.001, 8), round(c * 0.998, 8), c, 7, 99.99, 12345, 1, 0.5, 7, false);
  RETURN NEXT is(pg_temp.wrong_indicators(sym, t), '{}'::text[], tag || ': the next ' || sym || ' bar gets the indicators a fresh session computes');
  RETURN NEXT ok((SELECT r.rsi IS DISTINCT FROM 99.99 AND r.macd IS DISTINCT FROM 12345 AND r.volatility IS DISTINCT FROM 7 AND r.is_complete
                    FROM rollingChartData r WHERE r.symbol = sym AND r.timestamp = t),
                 tag || ': ... not the indicator values its INSERT supplied');
  RETURN NEXT throws_like(pg_temp.undone(format('INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES (%L, %L, 1, 1, 1, -5, 1)',
                                                sym, t + interval '1 minute')),
                          '%close is -5%', tag || ': a bar with close -5 is refused');
  RETURN NEXT throws_like(pg_temp.undone(format('INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES (%L, %L, 1, 1, 1, 1, 1)',
                                                sym, '2999-01-01 00:00')),
                          '%is in the future%', tag || ': a bar in 2999 is refused');
END $$;
-- raises when asked to (an error in a later row of a statement)
CREATE FUNCTION pg_temp.boom(fire boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF fire THEN RAISE EXCEPTION 'boom' USING ERRCODE = 'HH002'; END IF;
  RETURN true;
END $$;
CREATE TEMP TABLE caught (k text PRIMARY KEY, state text, msg text);

-- ===========================================================================================
-- Data: seeded random walks, small models
-- ===========================================================================================
SELECT pg_temp.walk('ADAUSDT', '2021-04-01', 20000, 1.2, 0.14);   -- the issue's repro needs a long recompute
SELECT pg_temp.walk('BTCUSDT', '2021-01-01', 1500, 30000, 0.5);   -- samples, models, forecasts, trades
SELECT pg_temp.walk('XRPUSDT', '2021-02-01', 300, 0.6, 0.21);     -- deliberate errors in bar statements
DELETE FROM rollingChartData WHERE symbol = 'XRPUSDT' AND timestamp = '2021-02-01 02:30';   -- a gap: a late bar fits there
SELECT pg_temp.walk('ETHUSDT', '2021-03-01', 80, 2000, 0.31);     -- probes after errors elsewhere
SELECT pg_temp.walk('SOLUSDT', '2021-05-01', 100, 20, 0.41);      -- bar validation
-- HBARUSDT through the ingest path: 60 binance-us candles from 2024-01-01 00:00 UTC
CREATE TEMP TABLE hbar AS
SELECT i, 1704067200000::int8 + i * 60000 AS t, round((0.08 + 0.0001 * sin(i / 5.0))::numeric, 8) AS c FROM generate_series(0, 59) i;
SELECT ml_ingest_klines('binance-us', 'HBARUSDT',
  (SELECT jsonb_agg(jsonb_build_array(t, c::text, (c + 0.0002)::text, (c - 0.0002)::text, c::text, '5', t + 59999, '0', 3, '0', '0', '0') ORDER BY t) FROM hbar));
SELECT ml_build_samples('BTCUSDT', 5);
CREATE TEMP TABLE m AS SELECT 'm1'::text AS k, batch_id::text FROM ml_train('BTCUSDT', 5, 'xgboost', '{"num_rounds": 3}');
INSERT INTO m SELECT 'm2', batch_id FROM ml_train('BTCUSDT', 5, 'xgboost', '{"num_rounds": 4, "max_depth": 3}');
SELECT ml_deploy((SELECT batch_id FROM m WHERE k = 'm1')) IS NULL;
SELECT ml_deploy((SELECT batch_id FROM m WHERE k = 'm2')) IS NULL;   -- production m2, m1 before it
ANALYZE rollingChartData;
ANALYZE mlTrainingSamples;
SELECT ml_log_flush(10000);

-- ===========================================================================================
-- ml_forecast
-- ===========================================================================================
SELECT pg_temp.snap('ml_forecast');
SELECT is((SELECT count(*) FROM ml_forecast(NULL, 5) f WHERE f.symbol IS NOT NULL), 0::bigint, 'ml_forecast(NULL, 5): STRICT, no forecast');
SELECT is((SELECT count(*) FROM ml_forecast('BTCUSDT', NULL) f WHERE f.symbol IS NOT NULL), 0::bigint, 'ml_forecast(symbol, NULL): STRICT, no forecast');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast('', 5)$$, '22023', 'unknown symbol ""%', 'ml_forecast: an empty symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast(repeat('A', 10000), 5)$$, '22023', NULL, 'ml_forecast: a 10,000-character symbol is refused without being echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast('''; DROP TABLE rollingChartData; --', 5)$$, '22023', NULL,
                       'ml_forecast: an SQL-injection-looking symbol is just an invalid symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast(E'BTC\x01\x1b[2J\nUSDT', 5)$$, '22023', 'unknown symbol%', 'ml_forecast: control characters');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast('BTC€ÜSDT', 5)$$, '22023', 'unknown symbol%', 'ml_forecast: unicode');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast('btcusdt', 5)$$, '22023', 'unknown symbol%', 'ml_forecast: the symbol is matched exactly (lower case is unknown)');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast('BTCUSDT', 0)$$, '22023', 'horizon must be > 0 minutes, got 0', 'ml_forecast: horizon 0');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast('BTCUSDT', -1)$$, '22023', 'horizon must be > 0 minutes, got -1', 'ml_forecast: horizon -1');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast('BTCUSDT', -2147483648)$$, '22023', 'horizon must be > 0 minutes%', 'ml_forecast: horizon -2147483648');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast('BTCUSDT', 2147483647)$$, 'P0002', 'no production model for BTCUSDT horizon 2147483647',
                       'ml_forecast: horizon 2147483647 has no production model');
SELECT pg_temp.refused($$SELECT * FROM ml_forecast('BTCUSDT', 7)$$, 'P0002', 'no production model for BTCUSDT horizon 7', 'ml_forecast: a horizon that is not configured');
SELECT pg_temp.unchanged('ml_forecast');

-- ===========================================================================================
-- ml_train (options at horizon 15, which has no samples: an option that is wrongly accepted ends
-- in "too few samples" instead of its own error, and nothing is trained)
-- ===========================================================================================
SELECT pg_temp.snap('ml_train');
SELECT is((SELECT batch_id FROM ml_train(NULL, 5)), NULL, 'ml_train(NULL, ...): STRICT, nothing trained');
SELECT is((SELECT batch_id FROM ml_train('BTCUSDT', 5, 'xgboost', NULL)), NULL, 'ml_train(..., options NULL): STRICT, nothing trained');
SELECT pg_temp.refused($$SELECT * FROM ml_train('', 5)$$, '22%', NULL, 'ml_train: an empty symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_train(repeat('A', 10000), 5)$$, '22%', NULL, 'ml_train: a 10,000-character symbol is refused without being echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_train('''; DROP TABLE rollingChartData; --', 5)$$, '22%', NULL, 'ml_train: an SQL-injection-looking symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_train(E'BTC€Ü\x01USDT', 5)$$, '22%', NULL, 'ml_train: unicode and control characters in the symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_train('DOGEUSDT', 5)$$, '22%', '%DOGEUSDT%', 'ml_train: a symbol without samples');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 0)$$, '22023', 'horizon 0 is not a training horizon', 'ml_train: horizon 0');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', -1)$$, '22023', 'horizon -1 is not a training horizon', 'ml_train: horizon -1');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 2147483647)$$, '22023', 'horizon 2147483647 is not a training horizon', 'ml_train: horizon 2147483647');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 7)$$, '22023', 'horizon 7 is not a training horizon', 'ml_train: a horizon that is not configured');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 5, 'randomforest')$$, '22023', 'unknown model_type "randomforest"', 'ml_train: unknown model_type');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 5, '')$$, '22023', 'unknown model_type ""', 'ml_train: empty model_type');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 5, 'XGBoost')$$, '22023', 'unknown model_type%', 'ml_train: model_type is case-sensitive');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 5, repeat('x', 10000))$$, '22023', NULL, 'ml_train: a 10,000-character model_type is not echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '[]')$$, '22023', 'options must be a JSON object%', 'ml_train: options an array');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '"x"')$$, '22023', 'options must be a JSON object%', 'ml_train: options a string');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', 'null')$$, '22023', 'options must be a JSON object%', 'ml_train: options JSON null');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', jsonb_build_array(repeat('k', 10000)))$$, '22023', NULL,
                       'ml_train: a 10,000-character non-object is not echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"max_depthh": 3}')$$, '22023', 'unknown option "max_depthh"%', 'ml_train: an unknown option');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"hiddenSize": 8}')$$, '22023', 'unknown option "hiddenSize" for model_type xgboost', 'ml_train: an lstm option for xgboost');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"max_depth": 3}')$$, '22023', 'unknown option "max_depth" for model_type lstm', 'ml_train: an xgboost option for lstm');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', jsonb_build_object(repeat('k', 10000), 1))$$, '22023', NULL,
                       'ml_train: a 10,000-character option key is not echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"max_depth": 4294967302}')$$, '22023', '%max_depth%', 'ml_train: max_depth 4294967302 (2^32 + 6) is out of range');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"num_rounds": 4294967297}')$$, '22023', '%num_rounds%', 'ml_train: num_rounds 4294967297 (2^32 + 1) is out of range');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"num_rounds": 2147483648}')$$, '22023', '%num_rounds%', 'ml_train: num_rounds 2147483648 is out of range');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"num_rounds": 2147483648}')$$, '22023', '%2147483648%', '... and the error names the value given');
SELECT ok((SELECT msg !~ '-2147483648' FROM pg_temp.error_of($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"num_rounds": 2147483648}')$$)),
          '... not a wrapped-around -2147483648');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"num_rounds": -1}')$$, '22023', '%num_rounds%', 'ml_train: num_rounds -1');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"max_depth": 1e400}')$$, '22023', '%max_depth%', 'ml_train: max_depth 1e400 (jsonb stores it)');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"max_depth": 6.5}')$$, '22023', '%max_depth must be an integer%', 'ml_train: max_depth 6.5');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"max_depth": "6"}')$$, '22023', '%max_depth%', 'ml_train: max_depth as a string');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"max_depth": 0}')$$, '22023', '%max_depth%', 'ml_train: max_depth 0');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"eta": 1e400}')$$, '22023', '%eta%', 'ml_train: eta 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"eta": 0}')$$, '22023', '%eta%', 'ml_train: eta 0');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"seed": -1}')$$, '22023', '%seed%', 'ml_train: seed -1');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"seed": 1e400}')$$, '22023', '%seed%', 'ml_train: seed 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"seed": 18446744073709551616}')$$, '22023', '%seed%', 'ml_train: seed 2^64');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"nthread": 4294967297}')$$, '22023', '%nthread%', 'ml_train: nthread 4294967297');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"windowSize": 1e400}')$$, '22023', '%windowSize%', 'ml_train: windowSize 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"windowSize": 4294967302}')$$, '22023', '%windowSize%', 'ml_train: windowSize 4294967302');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"validationSplit": 1}')$$, '22023', '%alidation%', 'ml_train: validationSplit 1');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'xgboost', '{"earlyStoppingPatience": 1e400}')$$, '22023', '%earlyStoppingPatience%', 'ml_train: earlyStoppingPatience 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"hiddenSize": 4294967297}')$$, '22023', '%hidden%', 'ml_train: lstm hiddenSize 4294967297');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"numLayers": 4294967297}')$$, '22023', '%ayers%', 'ml_train: lstm numLayers 4294967297');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"sequenceLength": 2147483648}')$$, '22023', '%sequence%', 'ml_train: lstm sequenceLength 2147483648');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"batchSize": 1e400}')$$, '22023', '%atch%', 'ml_train: lstm batchSize 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"learningRate": 1e400}')$$, '22023', '%learning%', 'ml_train: lstm learningRate 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'ensemble', '{"xgboost": {"max_depth": 4294967302}}')$$, '22023', '%max_depth%',
                       'ml_train: an ensemble''s xgboost member option out of range');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'ensemble', '{"weights": {"xgboost": 1e400}}')$$, '22023', '%eights%', 'ml_train: ensemble weight 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_train('BTCUSDT', 15, 'ensemble', '{"lstm": []}')$$, '22023', '%lstm%', 'ml_train: ensemble member options not an object');
SELECT pg_temp.unchanged('ml_train');

-- ===========================================================================================
-- ml_backtest, ml_simulate
-- ===========================================================================================
SELECT pg_temp.snap('ml_backtest');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest(NULL, 5)$$, '22004', NULL, 'ml_backtest: NULL symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest(repeat('A', 10000), 5)$$, '_____', NULL, 'ml_backtest: a 10,000-character symbol is refused without being echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('''; DROP TABLE rollingChartData; --', 5)$$, '_____', NULL, 'ml_backtest: an SQL-injection-looking symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', NULL)$$, '22004', NULL, 'ml_backtest: NULL horizon');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, 'randomforest')$$, '22023', 'invalid model_type "randomforest"', 'ml_backtest: unknown model_type');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, repeat('m', 10000))$$, '22023', NULL, 'ml_backtest: a 10,000-character model_type is not echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 0)$$, '22023', 'invalid backtest: horizon 0%', 'ml_backtest: horizon 0');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', -1)$$, '22023', 'invalid backtest: horizon -1%', 'ml_backtest: horizon -1');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 2147483647)$$, '55000', 'no training samples for BTCUSDT at horizon 2147483647', 'ml_backtest: horizon 2147483647');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '[]')$$, '22023', 'options must be a JSON object%', 'ml_backtest: options an array');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => 'null')$$, '22023', 'options must be a JSON object%', 'ml_backtest: options JSON null');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"retrain": 60}')$$, '22023', 'unknown backtest option(s): retrain', 'ml_backtest: an unknown option');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => jsonb_build_object(repeat('k', 10000), 1))$$, '22023', NULL,
                       'ml_backtest: a 10,000-character option key is not echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"numRounds": 4294967297}')$$, '22023', '%ounds%', 'ml_backtest: numRounds 4294967297');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"numRounds": 2147483648}')$$, '22023', '%ounds%', 'ml_backtest: numRounds 2147483648');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"numRounds": -1}')$$, '22023', '%ounds%', 'ml_backtest: numRounds -1');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"maxDepth": 2147483648}')$$, '22023', '%ax%epth%', 'ml_backtest: maxDepth 2147483648');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"maxDepth": 1e400}')$$, '22023', '%ax%epth%', 'ml_backtest: maxDepth 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"retrainEvery": 6.5}')$$, '22023', '%etrain%', 'ml_backtest: retrainEvery 6.5');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"feePct": 1e308, "numRounds": 2}')$$, '22023', '%fee%',
                       'ml_backtest: feePct 1e308 is refused before the backtest runs');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"feePct": 1e400}')$$, '22023', '%fee%', 'ml_backtest: feePct 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"slippagePct": 1e308, "numRounds": 2}')$$, '22023', '%slippage%', 'ml_backtest: slippagePct 1e308');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"feePct": -0.1}')$$, '22023', '%-0.1%', 'ml_backtest: a negative fee');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"confidenceThreshold": -1}')$$, '22023', '%confidence%', 'ml_backtest: confidenceThreshold -1');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, options => '{"validationSplit": 1e400}')$$, '22023', '%alidation%', 'ml_backtest: validationSplit 1e400');
SELECT pg_temp.refused($$SELECT * FROM ml_backtest('BTCUSDT', 5, "from" => 'infinity')$$, '22023', '%from%', 'ml_backtest: from infinity');
SELECT pg_temp.unchanged('ml_backtest');
-- unbounded periods: refused, not run until a timeout (bounded here by a 3 s statement_timeout)
SELECT pg_temp.snap('ml_backtest period');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SET LOCAL statement_timeout = '3s';
SELECT * FROM ml_backtest('BTCUSDT', 5, "to" => 'infinity', options => '{"numRounds": 2}');
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '22023', 'ml_backtest: "to" infinity is refused (not run until the 3 s statement_timeout)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SET LOCAL statement_timeout = '3s';
SELECT * FROM ml_backtest('BTCUSDT', 5, "from" => '-infinity', options => '{"numRounds": 2}');
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '22023', 'ml_backtest: "from" -infinity is refused (not run until the 3 s statement_timeout)');
SELECT pg_temp.unchanged('ml_backtest period');

SELECT pg_temp.snap('ml_simulate');
SELECT is((SELECT count(*) FROM ml_simulate(NULL, 5) s WHERE s.id IS NOT NULL), 0::bigint, 'ml_simulate(NULL, ...): STRICT, no trade');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate(repeat('A', 10000), 5)$$, '_____', NULL, 'ml_simulate: a 10,000-character symbol is refused without being echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('''; DROP TABLE rollingChartData; --', 5)$$, '_____', NULL, 'ml_simulate: an SQL-injection-looking symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate(E'BTC€\nUSDT', 5)$$, '_____', NULL, 'ml_simulate: unicode and a newline in the symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', 0)$$, '55000', 'no production model for BTCUSDT at horizon 0', 'ml_simulate: horizon 0');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', -1)$$, '55000', 'no production model for BTCUSDT at horizon -1', 'ml_simulate: horizon -1');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', 2147483647)$$, '55000', 'no production model for BTCUSDT at horizon 2147483647', 'ml_simulate: horizon 2147483647');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', 5, 2, 1, 'NaN')$$, '22023', 'invalid trading costs%', 'ml_simulate: fee NaN');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', 5, 2, 1, 1e308)$$, '22023', 'invalid trading costs%', 'ml_simulate: fee 1e308');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', 5, 2, 1, 'Infinity')$$, '22023', 'invalid trading costs%', 'ml_simulate: fee Infinity');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', 5, 2, 1, 0.1, -1)$$, '22023', 'invalid trading costs%', 'ml_simulate: slippage -1');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', 5, -1)$$, '22023', '%tp_sigma%', 'ml_simulate: tp_sigma -1');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', 5, 'NaN')$$, '22023', '%tp_sigma%', 'ml_simulate: tp_sigma NaN');
SELECT pg_temp.refused($$SELECT * FROM ml_simulate('BTCUSDT', 5, 2, 'Infinity')$$, '22023', '%sl_sigma%', 'ml_simulate: sl_sigma Infinity');
SELECT pg_temp.unchanged('ml_simulate');

-- ===========================================================================================
-- ml_build_samples, ml_deploy, ml_rollback
-- ===========================================================================================
SELECT pg_temp.snap('samples and registry');
SELECT pg_temp.refused($$SELECT ml_build_samples('')$$, 'P0002', 'symbol "" has no bars%', 'ml_build_samples: an empty symbol');
SELECT pg_temp.refused($$SELECT ml_build_samples(repeat('A', 10000))$$, '_____', NULL, 'ml_build_samples: a 10,000-character symbol is refused without being echoed');
SELECT pg_temp.refused($$SELECT ml_build_samples('''; DROP TABLE rollingChartData; --')$$, '_____', NULL, 'ml_build_samples: an SQL-injection-looking symbol');
SELECT pg_temp.refused($$SELECT ml_build_samples(E'BTC\nUSDT€')$$, '_____', NULL, 'ml_build_samples: a newline and unicode in the symbol');
SELECT pg_temp.refused($$SELECT ml_build_samples('DOGEUSDT')$$, 'P0002', 'symbol "DOGEUSDT" has no bars%', 'ml_build_samples: an unknown symbol');
SELECT pg_temp.refused($$SELECT ml_build_samples('BTCUSDT', 0)$$, '22023', 'horizon 0 is not a training horizon', 'ml_build_samples: horizon 0');
SELECT pg_temp.refused($$SELECT ml_build_samples('BTCUSDT', -1)$$, '22023', 'horizon -1 is not a training horizon', 'ml_build_samples: horizon -1');
SELECT pg_temp.refused($$SELECT ml_build_samples('BTCUSDT', 2147483647)$$, '22023', 'horizon 2147483647 is not a training horizon', 'ml_build_samples: horizon 2147483647');
SELECT pg_temp.refused($$SELECT ml_build_samples('BTCUSDT', 7)$$, '22023', 'horizon 7 is not a training horizon', 'ml_build_samples: a horizon that is not configured');
SELECT pg_temp.refused($$SELECT ml_build_samples('BTCUSDT', 5, 'infinity')$$, '22023', 'since must be a finite timestamp%', 'ml_build_samples: since infinity');
SELECT pg_temp.refused($$SELECT ml_build_samples('BTCUSDT', 5, '-infinity')$$, '22023', 'since must be a finite timestamp%', 'ml_build_samples: since -infinity');
SELECT is((SELECT batch_id FROM ml_deploy(NULL)), NULL, 'ml_deploy(NULL): STRICT, nothing deployed');
SELECT pg_temp.refused($$SELECT * FROM ml_deploy('')$$, '22023', 'unknown batch_id ""', 'ml_deploy: an empty batch_id');
SELECT pg_temp.refused($$SELECT * FROM ml_deploy(repeat('A', 10000))$$, '22023', NULL, 'ml_deploy: a 10,000-character batch_id is not echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_deploy('''; DROP TABLE rollingChartData; --')$$, '22023', 'unknown batch_id%', 'ml_deploy: an SQL-injection-looking batch_id');
SELECT pg_temp.refused($$SELECT * FROM ml_deploy(E'xgb-BTCUSDT\x01-h5-1')$$, '22023', 'unknown batch_id%', 'ml_deploy: a control character in the batch_id');
SELECT pg_temp.refused($$SELECT * FROM ml_deploy('xgb-BTCUSDT-h5-%')$$, '22023', 'unknown batch_id%', 'ml_deploy: a LIKE pattern is not a batch_id');
SELECT is((SELECT batch_id FROM ml_rollback(NULL, 5)), NULL, 'ml_rollback(NULL, ...): STRICT, nothing rolled back');
SELECT pg_temp.refused($$SELECT * FROM ml_rollback('BTCUSDT', 5, 'randomforest')$$, '22023', 'unknown model_type "randomforest"', 'ml_rollback: model_type randomforest');
SELECT pg_temp.refused($$SELECT * FROM ml_rollback('BTCUSDT', 5, '')$$, '22023', 'unknown model_type ""', 'ml_rollback: an empty model_type');
SELECT pg_temp.refused($$SELECT * FROM ml_rollback('BTCUSDT', 5, 'XGBOOST')$$, '22023', 'unknown model_type%', 'ml_rollback: model_type is case-sensitive');
SELECT pg_temp.refused($$SELECT * FROM ml_rollback('BTCUSDT', 5, repeat('x', 10000))$$, '22023', NULL, 'ml_rollback: a 10,000-character model_type is not echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_rollback(repeat('A', 10000), 5)$$, '_____', NULL, 'ml_rollback: a 10,000-character symbol is refused without being echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_rollback('BTCUSDT', 0)$$, 'P0002', 'no production xgboost model for BTCUSDT horizon 0', 'ml_rollback: horizon 0');
SELECT pg_temp.refused($$SELECT * FROM ml_rollback('BTCUSDT', 5, 'ensemble')$$, 'P0002', 'no production ensemble model%', 'ml_rollback: a type without a production model');
SELECT is((SELECT batch_id::text FROM mlTrainingBatches WHERE symbol = 'BTCUSDT' AND forecast_horizon = 5 AND is_production),
          (SELECT batch_id FROM m WHERE k = 'm2'), 'the production model is still m2');
SELECT pg_temp.unchanged('samples and registry');

-- ===========================================================================================
-- Configuration
-- ===========================================================================================
SELECT pg_temp.snap('config');
SELECT is(ml_config_set('features.rsiPeriod', NULL), NULL, 'ml_config_set(key, NULL): STRICT, nothing changed');
SELECT is(ml_config_set(NULL, '21'), NULL, 'ml_config_set(NULL, value): STRICT');
SELECT pg_temp.refused($$SELECT ml_config_set('', '1')$$, '22023', 'unknown config key ""', 'ml_config_set: an empty key');
SELECT pg_temp.refused($$SELECT ml_config_set(repeat('a', 10000), '1')$$, '22023', NULL, 'ml_config_set: a 10,000-character key is not echoed');
SELECT pg_temp.refused($$SELECT ml_config_set('''; DROP TABLE rollingChartData; --', '1')$$, '22023', 'unknown config key%', 'ml_config_set: an SQL-injection-looking key');
SELECT pg_temp.refused($$SELECT ml_config_set(E'features.rsi\nPeriod', '21')$$, '22023', 'unknown config key%', 'ml_config_set: a newline in the key');
SELECT pg_temp.refused($$SELECT ml_config_set('features', '{"rsiPeriod": 21}')$$, '22023', 'unknown config key "features"%', 'ml_config_set: a section is not a key');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', '1e400')$$, '22023', '%features.rsiPeriod%', 'ml_config_set: 1e400');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', '4294967302')$$, '22023', 'invalid value for config key "features.rsiPeriod"%', 'ml_config_set: 4294967302');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', '2147483648')$$, '22023', 'invalid value for config key "features.rsiPeriod"%', 'ml_config_set: 2147483648');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', '-1')$$, '22023', 'invalid value for config key "features.rsiPeriod"%', 'ml_config_set: -1');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', '14.5')$$, '22023', 'invalid value for config key "features.rsiPeriod"%', 'ml_config_set: 14.5 for an integer');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', '14.0')$$, '22023', 'invalid value for config key "features.rsiPeriod"%', 'ml_config_set: 14.0 for an integer');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', '"14"')$$, '22023', 'invalid value for config key "features.rsiPeriod"%', 'ml_config_set: "14" (a string)');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', 'null')$$, '22023', 'invalid value for config key "features.rsiPeriod"%', 'ml_config_set: JSON null');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', 'true')$$, '22023', 'invalid value for config key "features.rsiPeriod"%', 'ml_config_set: a boolean');
SELECT pg_temp.refused($$SELECT ml_config_set('features.rsiPeriod', '[14]')$$, '22023', 'invalid value for config key "features.rsiPeriod"%', 'ml_config_set: an array');
SELECT pg_temp.refused($$SELECT ml_config_set('features.bollingerStdDev', '1e400')$$, '22023', '%features.bollingerStdDev%', 'ml_config_set: number 1e400');
SELECT pg_temp.refused($$SELECT ml_config_set('features.bollingerStdDev', '1e-400')$$, '22023', 'invalid value for config key "features.bollingerStdDev"%', 'ml_config_set: number 1e-400 (not > 0)');
SELECT pg_temp.refused($$SELECT ml_config_set('features.macdFast', '30')$$, '22023', 'invalid config: features.macdFast (30) must be less than features.macdSlow (26)', 'ml_config_set: a broken cross-key rule');
SELECT pg_temp.refused($$SELECT ml_config_set('data.compressionThreshold', '31')$$, '22023', 'invalid config: data.compressionThreshold%', 'ml_config_set: compressionThreshold above retentionDays');
SELECT pg_temp.refused($$SELECT ml_config_set('data.futureToleranceSeconds', '86401')$$, '22023', 'invalid value%', 'ml_config_set: futureToleranceSeconds out of range');
SELECT pg_temp.refused($$SELECT ml_config_set('data.rejectUnknownSymbols', '"false"')$$, '22023', 'invalid value%', 'ml_config_set: a boolean as a string');
SELECT pg_temp.refused($$SELECT ml_config_set('system.logLevel', '"INFO"')$$, '22023', 'invalid value%', 'ml_config_set: log level in upper case');
SELECT pg_temp.refused($$SELECT ml_config_set('symbols', '[]')$$, '22023', 'invalid value for config key "symbols"%', 'ml_config_set: no symbols');
SELECT pg_temp.refused($$SELECT ml_config_set('symbols', '"BTCUSDT"')$$, '22023', 'invalid value for config key "symbols"%', 'ml_config_set: symbols not an array');
SELECT pg_temp.refused($$SELECT ml_config_set('symbols', '["btcusdt"]')$$, '22023', 'invalid value for config key "symbols"%', 'ml_config_set: a lower-case symbol');
SELECT pg_temp.refused($$SELECT ml_config_set('symbols', '["BTCUSDT", "BTCUSDT"]')$$, '22023', 'invalid value for config key "symbols"%', 'ml_config_set: a repeated symbol');
SELECT pg_temp.refused($$SELECT ml_config_set('symbols', jsonb_build_array('''; DROP TABLE rollingChartData; --'))$$, '22023', 'invalid value for config key "symbols"%',
                       'ml_config_set: an SQL-injection-looking symbol');
SELECT pg_temp.refused($$SELECT ml_config_set('symbols', jsonb_build_array(repeat('A', 10000)))$$, '22023', NULL,
                       'ml_config_set: a 10,000-character symbol is not echoed');
SELECT pg_temp.refused($$SELECT ml_config_set('symbols', (SELECT jsonb_agg('S' || i) FROM generate_series(1, 2001) i))$$, '22023', 'invalid value for config key "symbols"%',
                       'ml_config_set: 2001 symbols (at most 2000)');
SELECT pg_temp.refused($$SELECT ml_config_set('training.forecastHorizons', '[2147483648]')$$, '22023', 'invalid value%', 'ml_config_set: horizon 2147483648');
SELECT pg_temp.refused($$SELECT ml_config_set('training.forecastHorizons', '[0]')$$, '22023', 'invalid value%', 'ml_config_set: horizon 0');
SELECT pg_temp.refused($$SELECT ml_config_set('training.forecastHorizons', '[1e400]')$$, '22023', '%training.forecastHorizons%', 'ml_config_set: horizon 1e400');
SELECT pg_temp.refused($$SELECT ml_config_set('inference.ensembleWeights', '{"xgboost": 1e400}')$$, '22023', '%inference.ensembleWeights%', 'ml_config_set: a weight of 1e400');
SELECT pg_temp.refused($$SELECT ml_config_set('inference.ensembleWeights', '{"svm": 1}')$$, '22023', 'invalid value%', 'ml_config_set: a weight for an unknown model type');
SELECT pg_temp.refused($$SELECT ml_config_set('ingest.baseUrls.binance-us', '"http://user:secret@evil.example/"')$$, '22023', 'invalid value%', 'ml_config_set: a base URL with credentials');
SELECT pg_temp.refused($$SELECT ml_config_set('ingest.baseUrls.binance-us', '"file:///etc/passwd"')$$, '22023', 'invalid value%', 'ml_config_set: a file:// base URL');
SELECT pg_temp.refused($$SELECT ml_config_set('ingest.baseUrls.binance-us', '"https://api.binance.us/?x=1"')$$, '22023', 'invalid value%', 'ml_config_set: a base URL with a query');
SELECT pg_temp.refused($$SELECT ml_config_set('ingest.baseUrls.binance-us', to_jsonb('https://' || repeat('a', 10000)))$$, '22023', 'invalid value%', 'ml_config_set: a 10,000-character URL is not echoed');
SELECT is(ml_config_get(NULL), NULL, 'ml_config_get(NULL): STRICT');
SELECT pg_temp.refused($$SELECT ml_config_get('')$$, '22023', 'unknown config key ""%', 'ml_config_get: an empty key');
SELECT pg_temp.refused($$SELECT ml_config_get(repeat('a', 10000))$$, '22023', NULL, 'ml_config_get: a 10,000-character key is not echoed');
SELECT pg_temp.refused($$SELECT ml_config_get('''; DROP TABLE rollingChartData; --')$$, '22023', 'unknown config key%', 'ml_config_get: an SQL-injection-looking key');
SELECT pg_temp.refused($$SELECT ml_config_get('features.rsiPeriod€')$$, '22023', 'unknown config key%', 'ml_config_get: unicode in the key');
SELECT pg_temp.refused($$SELECT ml_config_get('features.rsiPeriod.x')$$, '22023', 'unknown config key%', 'ml_config_get: a path below a key');
SELECT is(ml_config_reset(NULL), NULL, 'ml_config_reset(NULL): STRICT');
SELECT pg_temp.refused($$SELECT ml_config_reset('features')$$, '22023', 'unknown config key%', 'ml_config_reset: a section');
SELECT pg_temp.refused($$SELECT ml_config_reset(repeat('a', 10000))$$, '22023', NULL, 'ml_config_reset: a 10,000-character key is not echoed');
SELECT is(ml_config_get('features.rsiPeriod'), '14'::jsonb, 'the configuration is the default after all of it');
SELECT pg_temp.unchanged('config');

-- ===========================================================================================
-- ml_ingest_klines (HBARUSDT is stored from binance-us; every refused payload changes nothing)
-- ===========================================================================================
-- the current minute by the clock (not the transaction's start), in ms
CREATE VIEW pg_temp.now_ms AS SELECT (floor(extract(epoch FROM clock_timestamp()) / 60) * 60000)::int8 AS m;
CREATE FUNCTION pg_temp.kline(open_ms bigint, o text DEFAULT '1', h text DEFAULT '1.2', l text DEFAULT '0.9', c text DEFAULT '1.1', v text DEFAULT '5', close_ms bigint DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_array(open_ms, o, h, l, c, v, coalesce(close_ms, open_ms + 59999), '0', 1, '0', '0', '0')
$$;
SELECT pg_temp.snap('ml_ingest_klines');
SELECT pg_temp.refused($$SELECT ml_ingest_klines(NULL, 'HBARUSDT', '[]')$$, '22004', 'exchange, symbol and payload must not be NULL', 'ml_ingest_klines: NULL exchange');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', NULL, '[]')$$, '22004', 'exchange, symbol and payload must not be NULL', 'ml_ingest_klines: NULL symbol');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', NULL)$$, '22004', 'exchange, symbol and payload must not be NULL', 'ml_ingest_klines: NULL payload');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('kraken', 'HBARUSDT', '[]')$$, '22023', '%kraken%', 'ml_ingest_klines: an unknown exchange');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('', 'HBARUSDT', '[]')$$, '22023', '%exchange%', 'ml_ingest_klines: an empty exchange');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('BINANCE-US', 'HBARUSDT', '[]')$$, '22023', '%exchange%', 'ml_ingest_klines: the exchange in upper case');
SELECT pg_temp.refused($$SELECT ml_ingest_klines(repeat('e', 10000), 'HBARUSDT', '[]')$$, '22023', '%exchange%', 'ml_ingest_klines: a 10,000-character exchange is not echoed');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', '', '[]')$$, '22023', 'unknown symbol ""%', 'ml_ingest_klines: an empty symbol');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', repeat('A', 10000), '[]')$$, '22023', NULL, 'ml_ingest_klines: a 10,000-character symbol is not echoed');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', '''; DROP TABLE rollingChartData; --', '[]')$$, '22023', NULL, 'ml_ingest_klines: an SQL-injection-looking symbol');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', E'HBAR\nUSDT\x07', '[]')$$, '22023', 'unknown symbol%', 'ml_ingest_klines: control characters in the symbol');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'DOGEUSDT', '[]')$$, '22023', 'unknown symbol "DOGEUSDT"%', 'ml_ingest_klines: an unconfigured symbol');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '{}')$$, '22000', '%expected a JSON array%', 'ml_ingest_klines: an object where binance-us returns an array');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '"[[]]"')$$, '22000', '%expected a JSON array%', 'ml_ingest_klines: a string payload');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '42')$$, '22000', '%expected a JSON array%', 'ml_ingest_klines: a number payload');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', 'null')$$, '22000', '%expected a JSON array%', 'ml_ingest_klines: a JSON null payload');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('coinbase', 'HBARUSDT', '{"candles": []}')$$, '22000', '%coinbase%', 'ml_ingest_klines: coinbase, an object');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('bybit', 'HBARUSDT', '[]')$$, '22000', '%bybit%', 'ml_ingest_klines: bybit, an array');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, close_ms => 1617325199999))),
                       '22000', '%a 1h candle, not a 1-minute one%', 'ml_ingest_klines: a 1h candle (closeTime = openTime + 3599999)');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT',
                              (SELECT jsonb_agg(pg_temp.kline(1617321600000 + i * 3600000, close_ms => 1617321600000 + i * 3600000 + 3599999)) FROM generate_series(0, 23) i)),
                       '22000', '%1h candle%', 'ml_ingest_klines: a day of 1h candles');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, close_ms => 1617321600000 + 59999 + 86400000))),
                       '22000', '%closes at%', 'ml_ingest_klines: an old candle whose closeTime lies a day later');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(jsonb_build_array(1617321600000, '1', '1.2', '0.9', '1.1', '5'))),
                       '22000', '%closeTime%', 'ml_ingest_klines: a kline without its closeTime');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(m + 3600000))), '22000', '%clock skew%',
                       'ml_ingest_klines: a candle an hour in the future (closeTime in the future)') FROM now_ms;
SELECT pg_temp.refused($$SELECT ml_ingest_klines('bybit', 'HBARUSDT', '{"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "symbol": "HBARUSDT", "list": [["1617321600000", "1", "1.2", "0.9", "1.1", "5", "5"]]}}')$$,
                       '22000', 'bybit response is for category "linear", not "spot"%', 'ml_ingest_klines: a bybit body with result.category linear');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('bybit', 'HBARUSDT', '{"retCode": 0, "retMsg": "OK", "result": {"symbol": "HBARUSDT", "list": [["1617321600000", "1", "1.2", "0.9", "1.1", "5", "5"]]}}')$$,
                       '22000', '%category%', 'ml_ingest_klines: a bybit body without result.category');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('bybit', 'HBARUSDT', jsonb_build_object('retCode', 0, 'retMsg', 'OK', 'result', jsonb_build_object('category', repeat('c', 10000), 'symbol', 'HBARUSDT', 'list', '[]'::jsonb)))$$,
                       '22000', '%category%', 'ml_ingest_klines: a 10,000-character category is not echoed');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('coinbase', 'HBARUSDT', '[[1617321600, 0.9, 1.2, 1, 1.1, 5], [1617325200, 0.9, 1.2, 1, 1.1, 5], [1617328800, 0.9, 1.2, 1, 1.1, 5]]')$$,
                       '22000', '%spaced 3600 s apart%', 'ml_ingest_klines: coinbase 1h candles');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT',
                              (SELECT jsonb_agg(pg_temp.kline(1617321600000 + i::int8 * 60000)) FROM generate_series(0, 49999) i)),
                       '22000', '%larger than the limit%', 'ml_ingest_klines: an oversized payload (50,000 candles, 4.3 MB)');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, o => 'NaN'))),
                       '22000', '%"NaN" is not a plain decimal%', 'ml_ingest_klines: "NaN"');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, h => 'Infinity'))),
                       '22000', '%"Infinity" is not a plain decimal%', 'ml_ingest_klines: "Infinity"');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, l => '-Infinity'))),
                       '22000', '%not a plain decimal%', 'ml_ingest_klines: "-Infinity"');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, c => '1e400'))),
                       '22000', '%not a plain decimal%', 'ml_ingest_klines: "1e400"');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, v => ''))),
                       '22000', '%not a plain decimal%', 'ml_ingest_klines: an empty volume');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, o => repeat('9', 10000)))),
                       '22000', NULL, 'ml_ingest_klines: a 10,000-digit price is not echoed');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[[1617321600000, 1, 1.2, 0.9, 1.1, 5, 1617321659999, "0", 1, "0", "0", "0"]]')$$,
                       '22000', '%must be a string%', 'ml_ingest_klines: prices as JSON numbers');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, o => '-1'))),
                       '22000', '%"-1" is not > 0%', 'ml_ingest_klines: a negative price');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(1617321600000, v => '-5'))),
                       '22000', '%negative%', 'ml_ingest_klines: a negative volume');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(0))),
                       '22000', '%open time 0 is not > 0%', 'ml_ingest_klines: open time 0 (1970-01-01 00:00)');
SELECT pg_temp.refused(format('SELECT ml_ingest_klines(%L, %L, %L)', 'binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(-60000))),
                       '22000', '%not > 0%', 'ml_ingest_klines: a negative open time (1969)');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[[9223372036854775807, "1", "1.2", "0.9", "1.1", "5", 59999, "0", 1, "0", "0", "0"]]')$$,
                       '22000', NULL, 'ml_ingest_klines: open time 2^63 - 1');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[[1e400, "1", "1.2", "0.9", "1.1", "5", 59999, "0", 1, "0", "0", "0"]]')$$,
                       '22000', NULL, 'ml_ingest_klines: open time 1e400');
SELECT pg_temp.refused($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', jsonb_build_object('code', -1121, 'msg', repeat('m', 10000)))$$,
                       '22000', 'binance-us API error:%', 'ml_ingest_klines: a 10,000-character exchange error message is not echoed in full');
SELECT ok((SELECT msg !~ '[\x01-\x08\x0b-\x1f\x7f]' FROM pg_temp.error_of($$SELECT ml_ingest_klines('coinbase', 'HBARUSDT', jsonb_build_object('message', E'bad\x1b[2J\x07product'))$$)),
          'ml_ingest_klines: control characters of an exchange error message are not passed on');
SELECT is((SELECT count(*) FROM rollingChartData WHERE symbol = 'HBARUSDT'), 60::bigint, 'HBARUSDT still has its 60 bars');
SELECT pg_temp.unchanged('ml_ingest_klines');
-- accepted bodies that hold nothing to store (they may record the successful call in ingest_state)
SELECT is(ml_ingest_klines('binance-us', 'HBARUSDT', '[]'), 0, 'ml_ingest_klines: an empty array stores nothing');
SELECT is(ml_ingest_klines('binance-us', 'HBARUSDT', jsonb_build_array(pg_temp.kline(m))), 0, 'ml_ingest_klines: the forming candle (closeTime in the future) is skipped') FROM now_ms;

-- ===========================================================================================
-- Logging and recovery
-- ===========================================================================================
SELECT pg_temp.snap('logs and checkpoints');
SELECT pg_temp.refused($$SELECT ml_checkpoint(NULL, 'x', 'success')$$, '22004', 'service_name must not be NULL', 'ml_checkpoint: NULL service_name');
SELECT pg_temp.refused($$SELECT ml_checkpoint('hostile', NULL, 'success')$$, '22004', 'operation_id must not be NULL', 'ml_checkpoint: NULL operation_id');
SELECT pg_temp.refused($$SELECT ml_checkpoint('hostile', 'x', NULL)$$, '22004', 'checkpoint_type must not be NULL', 'ml_checkpoint: NULL checkpoint_type');
SELECT pg_temp.refused($$SELECT ml_checkpoint('hostile', 'x', 'done')$$, '22023', 'invalid checkpoint_type "done"', 'ml_checkpoint: an unknown checkpoint_type');
SELECT pg_temp.refused($$SELECT ml_checkpoint('hostile', 'x', repeat('t', 10000))$$, '22023', NULL, 'ml_checkpoint: a 10,000-character checkpoint_type is not echoed');
SELECT pg_temp.refused($$SELECT ml_checkpoint(repeat('s', 10000), 'x', 'success')$$, '22%', '%service_name%', 'ml_checkpoint: a 10,000-character service_name is not echoed');
SELECT pg_temp.refused($$SELECT ml_checkpoint('hostile', repeat('o', 10000), 'success')$$, '22%', '%operation_id%', 'ml_checkpoint: a 10,000-character operation_id is not echoed');
SELECT pg_temp.refused($$SELECT ml_log('critical', 'hostile', 'x', 'm')$$, '22023', 'invalid log level "critical"', 'ml_log: an unknown level');
SELECT pg_temp.refused($$SELECT ml_log('INFO', 'hostile', 'x', 'm')$$, '22023', 'invalid log level%', 'ml_log: the level in upper case');
SELECT pg_temp.refused($$SELECT ml_log(repeat('l', 10000), 'hostile', 'x', 'm')$$, '22023', NULL, 'ml_log: a 10,000-character level is not echoed');
SELECT pg_temp.refused($$SELECT ml_log(NULL, 'hostile', 'x', 'm')$$, '22004', 'level must not be NULL', 'ml_log: NULL level');
SELECT pg_temp.refused($$SELECT ml_log('info', NULL, 'x', 'm')$$, '22004', 'category must not be NULL', 'ml_log: NULL category');
SELECT pg_temp.refused($$SELECT ml_log('info', 'hostile', 'x', NULL)$$, '22004', 'message must not be NULL', 'ml_log: NULL message');
SELECT pg_temp.refused($$SELECT ml_log('info', repeat('c', 10000), 'x', 'm')$$, '22%', '%category%', 'ml_log: a 10,000-character category is not echoed');
SELECT pg_temp.refused($$SELECT ml_log('info', 'hostile', 'x', 'm', NULL, repeat('S', 10000))$$, '22%', '%symbol%', 'ml_log: a 10,000-character symbol is not echoed');
SELECT is((SELECT count(*) FROM ml_recovery_last(NULL, 'x')), 0::bigint, 'ml_recovery_last(NULL, ...): STRICT, no row');
SELECT is((SELECT count(*) FROM ml_recovery_last(repeat('s', 10000), 'x')), 0::bigint, 'ml_recovery_last: a 10,000-character service: no row');
SELECT is((SELECT count(*) FROM ml_recovery_last('''; DROP TABLE recoveryState; --', '%')), 0::bigint, 'ml_recovery_last: SQL and a wildcard are plain text');
SELECT pg_temp.unchanged('logs and checkpoints');

-- ===========================================================================================
-- Read-only entry points: hostile arguments return nothing, never an error from deep inside
-- ===========================================================================================
SELECT pg_temp.snap('reads');
SELECT is((SELECT trades FROM ml_performance(repeat('A', 10000))), 0, 'ml_performance: a 10,000-character symbol has no trade');
SELECT is((SELECT trades FROM ml_performance('''; DROP TABLE tradeSimulations; --')), 0, 'ml_performance: an SQL-injection-looking symbol has no trade');
SELECT is((SELECT trades FROM ml_performance('BTCUSDT', 'infinity')), 0, 'ml_performance: since infinity');
SELECT is((SELECT trades FROM ml_performance('BTCUSDT', '-infinity')), 0, 'ml_performance: since -infinity');
SELECT is((SELECT count(*) FROM ml_forecast_quality(repeat('A', 10000), -1)), 0::bigint, 'ml_forecast_quality: a 10,000-character symbol, horizon -1');
SELECT is((SELECT count(*) FROM ml_forecast_quality(NULL, 2147483647, 'infinity')), 0::bigint, 'ml_forecast_quality: horizon 2147483647, since infinity');
SELECT is((SELECT count(*) FROM ml_calibration('''; DROP TABLE persistentForecasts; --', 0, '-infinity')), 0::bigint, 'ml_calibration: hostile arguments');
SELECT is((SELECT count(*) FROM ml_chart_history WHERE symbol = repeat('A', 10000)), 0::bigint, 'ml_chart_history: a 10,000-character symbol');
SELECT pg_temp.refused($$INSERT INTO ml_chart_history (symbol, timestamp, open, high, low, close) VALUES ('BTCUSDT', '2021-06-01', 1, 1, 1, 1)$$, '55000', NULL,
                       'ml_chart_history: no INSERT through the view');
SELECT pg_temp.refused($$UPDATE ml_chart_history SET close = 1$$, '55000', NULL, 'ml_chart_history: no UPDATE through the view');
SELECT pg_temp.refused($$DELETE FROM ml_chart_history$$, '55000', NULL, 'ml_chart_history: no DELETE through the view');
SELECT pg_temp.unchanged('reads');

-- ===========================================================================================
-- Monitor, upkeep, access, indicator functions, recompute
-- ===========================================================================================
SELECT pg_temp.snap('monitor and upkeep');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check(repeat('A', 10000))$$, '22023', NULL, 'ml_monitor_check: a 10,000-character symbol is not echoed');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('''; DROP TABLE rollingChartData; --')$$, '22023', 'invalid symbol%', 'ml_monitor_check: an SQL-injection-looking symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('')$$, '22023', 'invalid symbol ""', 'ml_monitor_check: an empty symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('BTC€USDT')$$, '22023', 'invalid symbol%', 'ml_monitor_check: unicode in the symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('btcusdt')$$, '22023', 'invalid symbol "btcusdt"', 'ml_monitor_check: a lower-case symbol');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('BTCUSDT', now(), 0)$$, '22023', 'invalid monitor check arguments%', 'ml_monitor_check: window 0');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('BTCUSDT', now(), -1)$$, '22023', 'invalid monitor check arguments%', 'ml_monitor_check: window -1');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('BTCUSDT', now(), 2147483647)$$, '22023', 'invalid monitor check arguments%', 'ml_monitor_check: window 2147483647');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('BTCUSDT', NULL)$$, '22023', 'invalid monitor check arguments%', 'ml_monitor_check: at NULL');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('BTCUSDT', 'infinity')$$, '22023', '%infinity%', 'ml_monitor_check: at infinity');
SELECT pg_temp.refused($$SELECT * FROM ml_monitor_check('BTCUSDT', '-infinity')$$, '22023', '%infinity%', 'ml_monitor_check: at -infinity');
SELECT is(ml_fill_actuals(NULL), NULL, 'ml_fill_actuals(NULL): STRICT');
SELECT is(ml_fill_actuals(0), 0::bigint, 'ml_fill_actuals(0): nothing filled');
SELECT is(ml_fill_actuals(-1), 0::bigint, 'ml_fill_actuals(-1): nothing filled');
SELECT pg_temp.refused($$SELECT * FROM ml_check_drift(0)$$, '22023', 'invalid drift check arguments%', 'ml_check_drift: days 0');
SELECT pg_temp.refused($$SELECT * FROM ml_check_drift(-1)$$, '22023', 'invalid drift check arguments%', 'ml_check_drift: days -1');
SELECT pg_temp.refused($$SELECT * FROM ml_check_drift(7, 0)$$, '22023', 'invalid drift check arguments%', 'ml_check_drift: min_forecasts 0');
SELECT pg_temp.refused($$SELECT * FROM ml_check_drift(7, 100, 'NaN')$$, '22023', 'invalid drift check arguments%', 'ml_check_drift: threshold NaN');
SELECT pg_temp.refused($$SELECT * FROM ml_check_drift(7, 100, 1.5)$$, '22023', 'invalid drift check arguments%', 'ml_check_drift: threshold 1.5');
SELECT pg_temp.refused($$SELECT * FROM ml_check_drift(7, 100, -0.1)$$, '22023', 'invalid drift check arguments%', 'ml_check_drift: threshold -0.1');
SELECT ok((SELECT state IN ('none', '22023') AND (state = 'none' OR msg LIKE '%days%') FROM pg_temp.error_of($$SELECT * FROM ml_check_drift(2147483647)$$)),
          'ml_check_drift: days 2147483647 runs, or is refused naming days (not "timestamp out of range")');
SELECT is((SELECT count(*) FROM ml_check_drift(NULL)), 0::bigint, 'ml_check_drift(NULL): STRICT');
SELECT is(ml_grant_access(NULL, 'reader')::text, NULL, 'ml_grant_access(NULL, ...): STRICT');
SELECT is(ml_grant_access(current_user::regrole, NULL)::text, NULL, 'ml_grant_access(role, NULL): STRICT');
SELECT pg_temp.refused($$SELECT ml_grant_access(current_user::regrole, 'superuser')$$, '22023', 'invalid access level "superuser"', 'ml_grant_access: an unknown level');
SELECT pg_temp.refused($$SELECT ml_grant_access(current_user::regrole, 'READER')$$, '22023', 'invalid access level%', 'ml_grant_access: the level in upper case');
SELECT pg_temp.refused($$SELECT ml_grant_access(current_user::regrole, repeat('a', 10000))$$, '22023', NULL, 'ml_grant_access: a 10,000-character level is not echoed');
SELECT pg_temp.refused($$SELECT ml_grant_access('no_such_role_hostile', 'reader')$$, '42704', NULL, 'ml_grant_access: an unknown role');
SELECT pg_temp.refused($$SELECT ml_grant_access('public', 'reader')$$, '42704', NULL, 'ml_grant_access: PUBLIC is not a role to grant to');
SELECT pg_temp.unchanged('monitor and upkeep');

SELECT pg_temp.snap('indicator functions and recompute');
SELECT is(ml_rsi(NULL::float8[]), NULL, 'ml_rsi(NULL::float8[]): STRICT');
SELECT pg_temp.refused($$SELECT ml_rsi('{}'::float8[])$$, '22023', '%larger than the array length 0%', 'ml_rsi: an empty array');
SELECT pg_temp.refused($$SELECT ml_rsi(ARRAY[1, 2, 3]::float8[], 0)$$, '22023', '%period = 0%', 'ml_rsi: period 0');
SELECT pg_temp.refused($$SELECT ml_rsi(ARRAY[1, 2, 3]::float8[], -1)$$, '22023', '%period = -1%', 'ml_rsi: period -1');
SELECT pg_temp.refused($$SELECT ml_rsi(ARRAY[1, 2, 3]::float8[], 2147483647)$$, '22023', '%period = 2147483647%', 'ml_rsi: period 2147483647');
SELECT pg_temp.refused($$SELECT ml_rsi(ARRAY[1, 'NaN', 3]::float8[], 2)$$, '22023', '%NaN%', 'ml_rsi: a NaN element');
SELECT pg_temp.refused($$SELECT ml_rsi(ARRAY[1, 'Infinity', 3]::float8[], 2)$$, '22023', '%Infinity%', 'ml_rsi: an infinite element');
SELECT pg_temp.refused($$SELECT ml_rsi(ARRAY[1, NULL, 3]::float8[], 2)$$, '22004', 'close[2] is NULL', 'ml_rsi: a NULL element');
SELECT pg_temp.refused($$SELECT ml_rsi(ARRAY[[1, 2], [3, 4]]::float8[], 1)$$, '2202E', '%one-dimensional%', 'ml_rsi: a two-dimensional array');
SELECT pg_temp.refused($$SELECT * FROM ml_macd(ARRAY[1, 2, 3]::float8[], 26, 12, 9)$$, '22023', '%slow period%', 'ml_macd: fast >= slow');
SELECT pg_temp.refused($$SELECT * FROM ml_macd(ARRAY[1, 2, 3]::float8[], 2, 3, 0)$$, '22023', '%signal period = 0%', 'ml_macd: signal 0');
SELECT pg_temp.refused($$SELECT * FROM ml_bollinger(ARRAY[1, 2, 3]::float8[], 2, 'NaN')$$, '22023', '%k = NaN%', 'ml_bollinger: k NaN');
SELECT pg_temp.refused($$SELECT * FROM ml_bollinger(ARRAY[1, 2, 3]::float8[], 2, 'Infinity')$$, '22023', '%k = Infinity%', 'ml_bollinger: k Infinity');
SELECT pg_temp.refused($$SELECT * FROM ml_bollinger(ARRAY[1, 2, 3]::float8[], 2, -1)$$, '22023', '%k = -1%', 'ml_bollinger: k -1');
SELECT pg_temp.refused($$SELECT * FROM ml_bollinger(ARRAY[1, 2, 3]::float8[], 0)$$, '22023', '%period%', 'ml_bollinger: period 0');
SELECT pg_temp.refused($$SELECT * FROM ml_stochastic(ARRAY[1, 2]::float8[], ARRAY[1]::float8[], ARRAY[1, 2]::float8[])$$, '22023', '%same length%', 'ml_stochastic: arrays of unequal length');
SELECT pg_temp.refused($$SELECT * FROM ml_stochastic(ARRAY[1, 2]::float8[], ARRAY[2, 3]::float8[], ARRAY[1, 2]::float8[], 1, 1)$$, '22023', '%below low%', 'ml_stochastic: high below low');
SELECT pg_temp.refused($$SELECT * FROM ml_stochastic(ARRAY[1, 2]::float8[], ARRAY[1, 2]::float8[], ARRAY[1, 2]::float8[], 0, 1)$$, '22023', '%k period = 0%', 'ml_stochastic: k 0');
SELECT pg_temp.refused($$SELECT ml_volatility(ARRAY[1, 0, 3]::float8[], 2)$$, '22023', '%prices must be > 0%', 'ml_volatility: a zero price');
SELECT pg_temp.refused($$SELECT ml_volatility(ARRAY[1, -1, 3]::float8[], 2)$$, '22023', '%prices must be > 0%', 'ml_volatility: a negative price');
SELECT pg_temp.refused($$SELECT ml_volatility(ARRAY[1, 2, 3]::float8[], 0)$$, '22023', '%window = 0%', 'ml_volatility: window 0');
SELECT pg_temp.refused($$SELECT ml_volatility(ARRAY[1, 2, 3]::float8[], 4)$$, '22023', '%larger than the array length%', 'ml_volatility: a window longer than the array');
SELECT pg_temp.refused($$CALL ml_recompute_indicators(repeat('A', 10000))$$, '22023', 'symbol "AAAAAAAAAAAAAAAAAAAA..." is 10000 characters long',
                       'ml_recompute_indicators: a 10,000-character symbol is refused without being echoed');
SELECT pg_temp.refused($$CALL ml_recompute_indicators('''; DROP TABLE rollingChartData; --')$$, '22023', 'symbol % is 34 characters long',
                       'ml_recompute_indicators: an SQL-injection-looking symbol is refused (too long for a symbol)');
SELECT pg_temp.runs($$CALL ml_recompute_indicators('''; DROP --')$$, 'ml_recompute_indicators: a short SQL-injection-looking symbol has no bars (a notice, no error)');
SELECT pg_temp.refused($$CALL ml_recompute_indicators('BTCUSDT', 'infinity')$$, '22023', 'since must be a finite timestamp%', 'ml_recompute_indicators: since infinity');
SELECT pg_temp.refused($$CALL ml_recompute_indicators('BTCUSDT', '-infinity')$$, '22023', 'since must be a finite timestamp%', 'ml_recompute_indicators: since -infinity');
SELECT has_table('rollingchartdata', 'after every SQL-injection-looking argument, rollingChartData exists');
SELECT pg_temp.unchanged('indicator functions and recompute');

-- ===========================================================================================
-- Bars: every invalid value is refused with check_violation (or the column's own error), and
-- nothing stored changes; multi-row statements store nothing when one row is bad
-- ===========================================================================================
CREATE FUNCTION pg_temp.bar(sym text, ts text, o text, h text, l text, c text, v text DEFAULT '1') RETURNS text LANGUAGE sql AS $$
  SELECT format('INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES (%L, %L, %s, %s, %s, %s, %s)', sym, ts, o, h, l, c, v)
$$;
SELECT pg_temp.snap('bars');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '21', '19', '-1'), '23514', '%rejected: close is -1', 'bar: a negative close');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '0', '21', '19', '20'), '23514', '%rejected: open is 0', 'bar: a zero open');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '''NaN''', '19', '20'), '23514', '%rejected: high is NaN', 'bar: a NaN high');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '21', '''Infinity''', '20'), '22003', NULL, 'bar: an infinite low (DECIMAL(20,8) refuses it)');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '21', '19', '''-Infinity'''), '22003', NULL, 'bar: a close of -Infinity');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '21', '19', '0.000000001'), '23514', '%rejected: close is 0', 'bar: a close that rounds to 0');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '1e12', '19', '20'), '22003', NULL, 'bar: a high over DECIMAL(20,8)');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '19', '21', '20'), '23514', '%high (19) is below low (21)', 'bar: high < low');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '22', '21', '19', '20'), '23514', '%open (22) is outside [low, high]%', 'bar: open above high');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '18', '21', '19', '20'), '23514', '%open (18) is outside [low, high]%', 'bar: open below low');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '21', '19', '21.5'), '23514', '%close (21.5) is outside [low, high]%', 'bar: close above high');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '21', '19', '20', '-3'), '23514', '%volume is -3', 'bar: a negative volume');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', '20', '21', '19', '20', '''NaN'''), '23514', '%volume is NaN', 'bar: a NaN volume');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00', 'NULL', '21', '19', '20'), '23514', '%open is NULL', 'bar: a NULL open');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00:30', '20', '21', '19', '20'), '23514', '%not on a whole minute', 'bar: a timestamp with seconds');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2021-05-01 03:00:00.000001', '20', '21', '19', '20'), '23514', '%not on a whole minute', 'bar: a timestamp one microsecond off');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', 'infinity', '20', '21', '19', '20'), '23514', '%timestamp infinity is not a finite time', 'bar: timestamp infinity: the message names infinity');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '-infinity', '20', '21', '19', '20'), '23514', '%timestamp -infinity is not a finite time', 'bar: timestamp -infinity: the message names infinity');
SELECT ok((SELECT msg NOT LIKE '%whole minute%' FROM pg_temp.error_of(pg_temp.bar('SOLUSDT', 'infinity', '20', '21', '19', '20'))),
          '... and does not call infinity a time off the whole minute');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '1900-01-01 00:00', '20', '21', '19', '20'), '23514', '%is not after 1970-01-01 00:00', 'bar: 1900');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '1969-12-31 23:59', '20', '21', '19', '20'), '23514', '%is not after 1970-01-01 00:00', 'bar: 1969');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '1970-01-01 00:00', '20', '21', '19', '20'), '23514', '%is not after 1970-01-01 00:00', 'bar: 1970-01-01 00:00 itself');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', '2999-01-01 00:00', '20', '21', '19', '20'), '23514', '%is in the future', 'bar: 2999');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT', date_trunc('minute', now() AT TIME ZONE 'UTC' + interval '1 hour')::text, '20', '21', '19', '20'), '23514', '%is in the future',
                       'bar: an hour ahead of the clock');
SELECT pg_temp.refused(pg_temp.bar('SOLUSDT1234567890ABCD', '2021-05-01 03:00', '20', '21', '19', '20'), '22001', NULL, 'bar: a 21-character symbol');
SELECT pg_temp.refused(pg_temp.bar('DOGEUSDT', '2021-05-01 03:00', '20', '21', '19', '20'), '23514', 'rollingChartData: unknown symbol "DOGEUSDT"', 'bar: an unconfigured symbol');
SELECT pg_temp.refused(pg_temp.bar('solusdt', '2021-05-01 03:00', '20', '21', '19', '20'), '23514', '%unknown symbol "solusdt"', 'bar: a lower-case symbol');
SELECT pg_temp.refused(pg_temp.bar('', '2021-05-01 03:00', '20', '21', '19', '20'), '23514', '%unknown symbol ""', 'bar: an empty symbol');
SELECT pg_temp.refused(pg_temp.bar(''';DROP TABLE x;--', '2021-05-01 03:00', '20', '21', '19', '20'), '23514', '%unknown symbol%', 'bar: an SQL-injection-looking symbol');
SELECT pg_temp.refused(pg_temp.bar(E'SOL\nUSDT', '2021-05-01 03:00', '20', '21', '19', '20'), '23514', '%unknown symbol%', 'bar: a symbol with a newline');
SELECT pg_temp.refused(pg_temp.bar('SÖLUSDT', '2021-05-01 03:00', '20', '21', '19', '20'), '23514', '%unknown symbol%', 'bar: a unicode symbol');
SELECT pg_temp.refused($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close) VALUES (NULL, '2021-05-01 03:00', 20, 21, 19, 20)$$, '23502', NULL, 'bar: a NULL symbol');
SELECT pg_temp.refused($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close) VALUES ('SOLUSDT', NULL, 20, 21, 19, 20)$$, '23502', NULL, 'bar: a NULL timestamp');
SELECT pg_temp.refused($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                         VALUES ('SOLUSDT', '2021-05-01 03:00', 20, 21, 19, 20, 1), ('SOLUSDT', '2021-05-01 03:01', 20, 21, 19, 20, 1), ('SOLUSDT', '2021-05-01 03:02', 20, 21, 19, -5, 1)$$,
                       '23514', '%close is -5', 'multi-row INSERT: the last row is bad');
SELECT pg_temp.refused($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                         VALUES ('SOLUSDT', '2021-05-01 03:00', 20, 19, 21, 20, 1), ('SOLUSDT', '2021-05-01 03:01', 20, 21, 19, 20, 1)$$,
                       '23514', '%is below low%', 'multi-row INSERT: the first row is bad');
SELECT pg_temp.refused($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                         VALUES ('SOLUSDT', '2021-05-01 00:30:00', 20, 21, 19, 20, 1), ('SOLUSDT', '2021-05-01 03:00', 20, 21, 19, 20, 1), ('DOGEUSDT', '2021-05-01 03:01', 20, 21, 19, 20, 1)$$,
                       '23505', NULL, 'multi-row INSERT: a late bar that is a duplicate');
SELECT pg_temp.refused($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                         VALUES ('SOLUSDT', '2021-05-01 02:00', 20, 21, 19, 20, 1), ('SOLUSDT', '2021-05-01 01:30:30', 20, 21, 19, 20, 1)$$,
                       '23514', '%whole minute', 'multi-row INSERT: a new bar, then a bar off the minute');
SELECT pg_temp.refused($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                         SELECT 'SOLUSDT', '2021-05-01 03:00'::timestamp + make_interval(mins => i), 20, 21, 19, CASE WHEN i = 500 THEN 'NaN'::numeric ELSE 20 END, 1 FROM generate_series(0, 999) i$$,
                       '23514', '%close is NaN', 'a 1,000-row INSERT ... SELECT with one NaN close');
SELECT pg_temp.refused($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                         VALUES ('SOLUSDT', '2021-05-01 03:00', 20, 21, 19, 20, 1), ('SOLUSDT', '2021-05-01 03:00', 20, 21, 19, 20.5, 1)$$,
                       '23505', NULL, 'multi-row INSERT: the same minute twice');
SELECT pg_temp.refused($$UPDATE rollingChartData SET close = -5 WHERE symbol = 'SOLUSDT' AND timestamp >= '2021-05-01 01:00'$$, '23514', '%close is -5', 'UPDATE to a negative close (40 rows)');
SELECT pg_temp.refused($$UPDATE rollingChartData SET high = low / 2 WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 00:10'$$, '23514', '%is below low%', 'UPDATE to high < low');
SELECT pg_temp.refused($$UPDATE rollingChartData SET timestamp = 'infinity' WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 01:39'$$, '23514', '%not a finite time', 'UPDATE of the timestamp to infinity');
SELECT pg_temp.refused($$UPDATE rollingChartData SET timestamp = timestamp + interval '30 seconds' WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 01:39'$$, '23514', '%whole minute',
                       'UPDATE of the timestamp off the minute');
SELECT pg_temp.refused($$UPDATE rollingChartData SET timestamp = '2999-01-01' WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 01:39'$$, '23514', '%in the future', 'UPDATE of the timestamp to 2999');
SELECT pg_temp.refused($$UPDATE rollingChartData SET timestamp = '1969-07-20 20:17' WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 00:00'$$, '23514', '%not after 1970-01-01 00:00',
                       'UPDATE of the timestamp to 1969');
SELECT pg_temp.refused($$UPDATE rollingChartData SET symbol = 'DOGEUSDT' WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 00:00'$$, '23514', '%unknown symbol "DOGEUSDT"',
                       'UPDATE of the symbol to an unconfigured one');
SELECT pg_temp.refused($$UPDATE rollingChartData SET symbol = 'SOLUSDT1234567890ABCD' WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 00:00'$$, '22001', NULL,
                       'UPDATE of the symbol to 21 characters');
SELECT is((SELECT count(*) FROM rollingChartData WHERE symbol = 'SOLUSDT'), 100::bigint, 'SOLUSDT still has exactly its 100 bars');
SELECT pg_temp.unchanged('bars');

-- indicator columns are the trigger's: whatever INSERT, UPDATE or ON CONFLICT supply, the stored
-- values are the computed ones
CREATE TEMP TABLE sol_before AS
SELECT timestamp, rsi, macd, macd_signal, macd_hist, bollinger_upper, bollinger_middle, bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete
  FROM rollingChartData WHERE symbol = 'SOLUSDT';
CREATE FUNCTION pg_temp.sol_indicators_changed() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM sol_before b JOIN rollingChartData r ON r.symbol = 'SOLUSDT' AND r.timestamp = b.timestamp
   WHERE (b.rsi, b.macd, b.macd_signal, b.macd_hist, b.bollinger_upper, b.bollinger_middle, b.bollinger_lower, b.stochastic_k, b.stochastic_d, b.volatility, b.is_complete)
         IS DISTINCT FROM (r.rsi, r.macd, r.macd_signal, r.macd_hist, r.bollinger_upper, r.bollinger_middle, r.bollinger_lower, r.stochastic_k, r.stochastic_d, r.volatility, r.is_complete)
$$;
SELECT is(pg_temp.symbol_mismatches('SOLUSDT'), 0::bigint, 'SOLUSDT: every stored indicator is the computed one before the overrides');
UPDATE rollingChartData SET rsi = 99.99, is_complete = false WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 01:00';
SELECT is(pg_temp.sol_indicators_changed(), 0::bigint, 'UPDATE SET rsi = 99.99, is_complete = false: the computed values stay');
UPDATE rollingChartData SET macd = 0, macd_signal = 0, bollinger_upper = 1, bollinger_lower = 1000, stochastic_d = 50, volatility = 0 WHERE symbol = 'SOLUSDT';
SELECT is(pg_temp.sol_indicators_changed(), 0::bigint, 'UPDATE of six indicator columns on every bar: the computed values stay');
UPDATE rollingChartData SET rsi = NULL, stochastic_k = NULL, is_complete = NULL WHERE symbol = 'SOLUSDT' AND timestamp >= '2021-05-01 01:30';
SELECT is(pg_temp.sol_indicators_changed(), 0::bigint, 'UPDATE of indicator columns to NULL: the computed values stay');
UPDATE rollingChartData SET is_complete = true WHERE symbol = 'SOLUSDT' AND timestamp < '2021-05-01 00:10';
SELECT is(pg_temp.sol_indicators_changed(), 0::bigint, 'UPDATE SET is_complete = true on warm-up bars: they stay incomplete');
UPDATE rollingChartData SET volume = volume + 1, rsi = 1 WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 01:05';
SELECT ok((SELECT volume = 10 + 65 % 9 + 1 FROM rollingChartData WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 01:05')
          AND pg_temp.sol_indicators_changed() = 0, 'UPDATE of volume and rsi: the volume changes, rsi stays');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume, rsi, is_complete)
SELECT symbol, timestamp, open, high, low, close, volume, 99.99, false FROM rollingChartData WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 01:10'
ON CONFLICT (symbol, timestamp) DO UPDATE SET rsi = excluded.rsi, is_complete = excluded.is_complete;
SELECT is(pg_temp.sol_indicators_changed(), 0::bigint, 'ON CONFLICT DO UPDATE SET rsi, is_complete: the computed values stay');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume, macd, volatility)
SELECT symbol, timestamp, open, high, low, close, volume, 12345, 7 FROM rollingChartData WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 01:11'
ON CONFLICT (symbol, timestamp) DO UPDATE SET macd = excluded.macd, volatility = excluded.volatility, volume = excluded.volume + 0;
SELECT is(pg_temp.sol_indicators_changed(), 0::bigint, 'ON CONFLICT DO UPDATE SET macd, volatility (and volume): the computed values stay');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume, rsi, macd, stochastic_k, volatility, is_complete)
SELECT symbol, timestamp, open, high, low, round(close * 1.0005, 8), volume, 99.99, 12345, 0.5, 7, false
  FROM rollingChartData WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 01:20'
ON CONFLICT (symbol, timestamp) DO UPDATE SET close = excluded.close, rsi = excluded.rsi, macd = excluded.macd, stochastic_k = excluded.stochastic_k,
                                              volatility = excluded.volatility, is_complete = excluded.is_complete;
SELECT is(pg_temp.symbol_mismatches('SOLUSDT'), 0::bigint, 'ON CONFLICT DO UPDATE of a close with indicator values: the bar and its tail are recomputed, the supplied values dropped');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume, rsi, macd, bollinger_upper, stochastic_k, volatility, is_complete)
VALUES ('SOLUSDT', '2021-05-01 01:40', 20, 20.1, 19.9, 20, 5, 99.99, 12345, 1, 0.5, 7, false);
SELECT is(pg_temp.wrong_indicators('SOLUSDT', '2021-05-01 01:40'), '{}'::text[], 'INSERT supplying rsi = 99.99, is_complete = false and more: the computed values are stored');
DELETE FROM rollingChartData WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 00:50';
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume, rsi, volatility, is_complete)
SELECT 'SOLUSDT', '2021-05-01 00:50', close, high, low, close, 5, 0, 9, true FROM rollingChartData WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-01 00:49';
SELECT is(pg_temp.symbol_mismatches('SOLUSDT'), 0::bigint, 'a late bar supplying indicator values: it and its tail get the computed ones');

-- ===========================================================================================
-- D3: per-backend state after caught errors. For every writing entry point an error is provoked
-- inside a SAVEPOINT (ROLLBACK TO) and inside a PL/pgSQL exception block; nothing stored changes,
-- and the session then computes, validates and refuses exactly as a fresh session does.
-- ===========================================================================================

-- INSERT of bars. Savepoint: a late bar with an absurd price, whose recompute (in the statement
-- trigger) overflows the indicator columns.
SELECT pg_temp.snap('D3 INSERT (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, '2021-02-01 02:30', close, 99999999999, low, 99999999999, 1 FROM rollingChartData WHERE symbol = 'XRPUSDT' AND timestamp = '2021-02-01 02:29';
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '22003', 'D3 INSERT (savepoint): the late bar''s recompute overflowed the indicator columns');
SELECT pg_temp.unchanged('D3 INSERT (savepoint)');
SELECT * FROM pg_temp.probe('XRPUSDT', 'D3 INSERT (savepoint)');
-- exception block: a late bar, then a bad row in the same statement
SELECT pg_temp.snap('D3 INSERT (exception block)');
DO $$
BEGIN
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, '2021-02-01 02:30'::timestamp, close, high, low, close, 1 FROM rollingChartData WHERE symbol = 'XRPUSDT' AND timestamp = '2021-02-01 02:29'
  UNION ALL SELECT 'XRPUSDT', '2021-02-01 09:00'::timestamp, 1, 1, 1, -5, 1;
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('insert', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'insert'), '23514', 'D3 INSERT (exception block): the bad row after the late bar was refused');
SELECT pg_temp.unchanged('D3 INSERT (exception block)');
SELECT * FROM pg_temp.probe('XRPUSDT', 'D3 INSERT (exception block)');

-- UPDATE: the issue's exact repro (a 30 ms statement_timeout inside the recompute of 18,560 bars)
SELECT pg_temp.snap('D3 UPDATE (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT a;
SET LOCAL statement_timeout = '30ms';
UPDATE rollingChartData SET close = close * 1.0001 WHERE symbol = 'ADAUSDT' AND timestamp = '2021-04-02 00:00';
ROLLBACK TO a;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '57014', 'D3 UPDATE (savepoint, the issue''s repro): the UPDATE timed out in the recompute');
SELECT pg_temp.unchanged('D3 UPDATE (savepoint)');
SELECT * FROM pg_temp.probe('ADAUSDT', 'D3 UPDATE (savepoint)');
-- exception block: a correction and, later in the same statement, an absurd price that overflows the recompute
SELECT pg_temp.snap('D3 UPDATE (exception block)');
DO $$
BEGIN
  UPDATE rollingChartData SET close = CASE WHEN timestamp = '2021-02-01 03:20' THEN 99999999999 ELSE round(close * 0.99999, 8) END,
                              high = CASE WHEN timestamp = '2021-02-01 03:20' THEN 99999999999 ELSE high END
   WHERE symbol = 'XRPUSDT' AND timestamp IN ('2021-02-01 01:40', '2021-02-01 03:20');
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('update', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'update'), '22003', 'D3 UPDATE (exception block): the recompute overflowed at the later bar');
SELECT pg_temp.unchanged('D3 UPDATE (exception block)');
SELECT * FROM pg_temp.probe('XRPUSDT', 'D3 UPDATE (exception block)');

-- DELETE: a statement_timeout inside the recompute of the tail
SELECT pg_temp.snap('D3 DELETE (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SET LOCAL statement_timeout = '30ms';
DELETE FROM rollingChartData WHERE symbol = 'ADAUSDT' AND timestamp = '2021-04-02 00:00';
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '57014', 'D3 DELETE (savepoint): the DELETE timed out in the recompute');
SELECT pg_temp.unchanged('D3 DELETE (savepoint)');
SELECT * FROM pg_temp.probe('ADAUSDT', 'D3 DELETE (savepoint)');
-- exception block: the first row is deleted, the second raises
SELECT pg_temp.snap('D3 DELETE (exception block)');
DO $$
BEGIN
  DELETE FROM rollingChartData WHERE symbol = 'XRPUSDT' AND timestamp IN ('2021-02-01 01:40', '2021-02-01 04:10')
     AND pg_temp.boom(timestamp = '2021-02-01 04:10');
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('delete', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'delete'), 'HH002', 'D3 DELETE (exception block): the second row raised');
SELECT pg_temp.unchanged('D3 DELETE (exception block)');
SELECT * FROM pg_temp.probe('XRPUSDT', 'D3 DELETE (exception block)');

-- ml_ingest_klines of a corrected old candle, whose recompute overflows
CREATE TEMP TABLE absurd AS
SELECT jsonb_build_array(jsonb_build_array(1704067800000::int8, c::text, '99999999999', (c - 0.0002)::text, '99999999999', '5', 1704067859999::int8, '0', 3, '0', '0', '0')) AS payload
  FROM hbar WHERE i = 10;
SELECT pg_temp.snap('D3 ml_ingest_klines (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SELECT ml_ingest_klines('binance-us', 'HBARUSDT', (SELECT payload FROM absurd));
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '22003', 'D3 ml_ingest_klines (savepoint): the corrected old candle''s recompute overflowed');
SELECT pg_temp.unchanged('D3 ml_ingest_klines (savepoint)');
SELECT * FROM pg_temp.probe('HBARUSDT', 'D3 ml_ingest_klines (savepoint)');
SELECT pg_temp.snap('D3 ml_ingest_klines (exception block)');
DO $$
BEGIN
  PERFORM ml_ingest_klines('binance-us', 'HBARUSDT', (SELECT payload FROM absurd));
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('ingest', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'ingest'), '22003', 'D3 ml_ingest_klines (exception block): the recompute overflowed');
SELECT pg_temp.unchanged('D3 ml_ingest_klines (exception block)');
SELECT * FROM pg_temp.probe('HBARUSDT', 'D3 ml_ingest_klines (exception block)');

-- CALL ml_recompute_indicators inside the transaction block
SELECT pg_temp.snap('D3 ml_recompute_indicators (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SET LOCAL statement_timeout = '30ms';
CALL ml_recompute_indicators('ADAUSDT');
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '57014', 'D3 CALL ml_recompute_indicators (savepoint): the recompute timed out');
SELECT pg_temp.unchanged('D3 ml_recompute_indicators (savepoint)');
SELECT * FROM pg_temp.probe('ADAUSDT', 'D3 ml_recompute_indicators (savepoint)');
-- exception block: an absurd price written with the triggers off, then the recompute overflows on it
SELECT pg_temp.snap('D3 ml_recompute_indicators (exception block)');
DO $$
DECLARE
  bars bigint;
BEGIN
  PERFORM set_config('session_replication_role', 'replica', true);
  UPDATE rollingChartData SET high = 99999999999, close = 99999999999 WHERE symbol = 'XRPUSDT' AND timestamp = '2021-02-01 03:40';
  PERFORM set_config('session_replication_role', 'origin', true);
  CALL ml_recompute_indicators('XRPUSDT', NULL, bars);
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('recompute', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'recompute'), '22003', 'D3 CALL ml_recompute_indicators (exception block): the recompute overflowed');
SELECT is(current_setting('session_replication_role'), 'origin', '... and the triggers are on again');
SELECT pg_temp.unchanged('D3 ml_recompute_indicators (exception block)');
SELECT * FROM pg_temp.probe('XRPUSDT', 'D3 ml_recompute_indicators (exception block)');

-- ml_build_samples
SELECT pg_temp.snap('D3 ml_build_samples (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SET LOCAL statement_timeout = '20ms';
SELECT ml_build_samples('ADAUSDT', 5);
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '57014', 'D3 ml_build_samples (savepoint): the build timed out');
SELECT pg_temp.unchanged('D3 ml_build_samples (savepoint)');
SELECT * FROM pg_temp.probe('ADAUSDT', 'D3 ml_build_samples (savepoint)');
SELECT pg_temp.snap('D3 ml_build_samples (exception block)');
DO $$
BEGIN
  PERFORM ml_build_samples('XRPUSDT', 5);
  PERFORM 1 / 0;
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('samples', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'samples'), '22012', 'D3 ml_build_samples (exception block): an error after the build');
SELECT pg_temp.unchanged('D3 ml_build_samples (exception block)');
SELECT * FROM pg_temp.probe('ETHUSDT', 'D3 ml_build_samples (exception block)');
SELECT is(ml_build_samples('XRPUSDT', 5),
          (SELECT count(*) FROM rollingChartData a WHERE a.symbol = 'XRPUSDT'
              AND EXISTS (SELECT 1 FROM rollingChartData b WHERE b.symbol = 'XRPUSDT' AND b.timestamp = a.timestamp + interval '5 minutes')),
          '... and the rolled-back samples are built again: one per bar with a bar 5 minutes later');

-- ml_train
SELECT pg_temp.snap('D3 ml_train (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SET LOCAL statement_timeout = '50ms';
SELECT batch_id FROM ml_train('BTCUSDT', 5, 'lstm', '{"maxEpochs": 500, "earlyStoppingPatience": 500, "hiddenSize": 16}');
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '57014', 'D3 ml_train (savepoint): training timed out');
SELECT pg_temp.unchanged('D3 ml_train (savepoint)');
SELECT is((SELECT model_version FROM ml_forecast('BTCUSDT', 5)), (SELECT batch_id FROM m WHERE k = 'm2'), 'D3 ml_train (savepoint): forecasts still use the production model m2');
SELECT * FROM pg_temp.probe('ETHUSDT', 'D3 ml_train (savepoint)');
SELECT pg_temp.snap('D3 ml_train (exception block)');
DO $$
BEGIN
  PERFORM ml_train('BTCUSDT', 5, 'xgboost', '{"num_rounds": 2, "max_depth": 2}');
  PERFORM ml_deploy((SELECT max(batch_id) FROM mlTrainingBatches WHERE symbol = 'BTCUSDT' AND batch_id NOT IN (SELECT batch_id FROM m)));
  PERFORM * FROM ml_forecast('BTCUSDT', 5);
  PERFORM 1 / 0;
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('train', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'train'), '22012', 'D3 ml_train (exception block): an error after training, deploying and forecasting');
SELECT pg_temp.unchanged('D3 ml_train (exception block)');
SELECT is((SELECT model_version FROM ml_forecast('BTCUSDT', 5)), (SELECT batch_id FROM m WHERE k = 'm2'), 'D3 ml_train (exception block): forecasts use m2, not the rolled-back model');
SELECT * FROM pg_temp.probe('ETHUSDT', 'D3 ml_train (exception block)');

-- ml_config_set: a rolled-back change must not stay in the backend's configuration cache
SELECT pg_temp.snap('D3 ml_config_set (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SELECT ml_config_set('features.rsiPeriod', '21');
SELECT ml_config_set('data.futureToleranceSeconds', '86400');
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '22012', 'D3 ml_config_set (savepoint): an error after two changes');
SELECT pg_temp.unchanged('D3 ml_config_set (savepoint)');
SELECT is(ml_config_get('features.rsiPeriod'), '14'::jsonb, 'D3 ml_config_set (savepoint): rsiPeriod is 14 again');
SELECT * FROM pg_temp.probe('ETHUSDT', 'D3 ml_config_set (savepoint)');
SELECT pg_temp.snap('D3 ml_config_set (exception block)');
DO $$
BEGIN
  PERFORM ml_config_set('features.rsiPeriod', '21');
  PERFORM ml_config_set('data.futureToleranceSeconds', '86400');
  PERFORM ml_config_set('features.macdFast', '30');   -- breaks macdFast < macdSlow
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('config', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'config'), '22023', 'D3 ml_config_set (exception block): the third change was refused');
SELECT pg_temp.unchanged('D3 ml_config_set (exception block)');
SELECT is(ml_config_get('features.rsiPeriod'), '14'::jsonb, 'D3 ml_config_set (exception block): rsiPeriod is 14 again');
SELECT * FROM pg_temp.probe('ETHUSDT', 'D3 ml_config_set (exception block)');

-- ml_checkpoint (the checkpoint itself is autonomous: it survives the rollback, as documented)
SELECT pg_temp.snap('D3 ml_checkpoint (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SELECT ml_checkpoint('hostile', 'd3-savepoint', 'intermediate', '{"step": 1}');
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '22012', 'D3 ml_checkpoint (savepoint): an error after the checkpoint');
SELECT pg_temp.unchanged('D3 ml_checkpoint (savepoint)');
SELECT is((SELECT state_data FROM ml_recovery_last('hostile', 'd3-savepoint')), '{"step": 1}'::jsonb, 'D3 ml_checkpoint (savepoint): the checkpoint survived the rollback');
SELECT * FROM pg_temp.probe('ETHUSDT', 'D3 ml_checkpoint (savepoint)');
SELECT pg_temp.snap('D3 ml_checkpoint (exception block)');
DO $$
BEGIN
  PERFORM ml_checkpoint('hostile', 'd3-block', 'finished');
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('checkpoint', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'checkpoint'), '22023', 'D3 ml_checkpoint (exception block): an invalid checkpoint_type');
SELECT pg_temp.unchanged('D3 ml_checkpoint (exception block)');
SELECT * FROM pg_temp.probe('ETHUSDT', 'D3 ml_checkpoint (exception block)');
SELECT lives_ok($$SELECT ml_checkpoint('hostile', 'd3-block', 'success')$$, '... and the next checkpoint is written');

-- ml_simulate: a trade opened and followed by a bar, then rolled back
SELECT pg_temp.snap('D3 ml_simulate (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SELECT ml_config_set('inference.confidenceThreshold', '0');
SELECT id FROM ml_simulate('BTCUSDT', 5);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, timestamp + interval '1 minute', close, high, low, close, volume FROM rollingChartData WHERE symbol = 'BTCUSDT' ORDER BY timestamp DESC LIMIT 1;
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '22012', 'D3 ml_simulate (savepoint): an error after the trade and a bar');
SELECT pg_temp.unchanged('D3 ml_simulate (savepoint)');
SELECT * FROM pg_temp.probe('BTCUSDT', 'D3 ml_simulate (savepoint)');
SELECT pg_temp.snap('D3 ml_simulate (exception block)');
DO $$
BEGIN
  PERFORM ml_config_set('inference.confidenceThreshold', '0');
  PERFORM ml_simulate('BTCUSDT', 5);
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
    SELECT symbol, timestamp + interval '1 minute', close, high, low, close, volume FROM rollingChartData WHERE symbol = 'BTCUSDT' ORDER BY timestamp DESC LIMIT 1;
  PERFORM ml_simulate('BTCUSDT', 5, 2, 1, 'NaN');
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('simulate', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'simulate'), '22023', 'D3 ml_simulate (exception block): the second trade''s costs were refused');
SELECT pg_temp.unchanged('D3 ml_simulate (exception block)');
SELECT * FROM pg_temp.probe('BTCUSDT', 'D3 ml_simulate (exception block)');

-- ml_deploy: a rolled-back deploy must not stay in the backend's production-model cache
SELECT pg_temp.snap('D3 ml_deploy (savepoint)');
\set ON_ERROR_STOP 0
\o /dev/null
\set LAST_ERROR_SQLSTATE none
SAVEPOINT hostile;
SELECT batch_id FROM ml_deploy((SELECT batch_id FROM m WHERE k = 'm1'));
SELECT model_version FROM ml_forecast('BTCUSDT', 5);
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT hostile;
\o
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '22012', 'D3 ml_deploy (savepoint): an error after the deploy and a forecast');
SELECT pg_temp.unchanged('D3 ml_deploy (savepoint)');
SELECT is((SELECT model_version FROM ml_forecast('BTCUSDT', 5)), (SELECT batch_id FROM m WHERE k = 'm2'), 'D3 ml_deploy (savepoint): forecasts use m2 again');
SELECT * FROM pg_temp.probe('ETHUSDT', 'D3 ml_deploy (savepoint)');
SELECT pg_temp.snap('D3 ml_deploy (exception block)');
DO $$
BEGIN
  PERFORM ml_deploy((SELECT batch_id FROM m WHERE k = 'm1'));
  PERFORM * FROM ml_forecast('BTCUSDT', 5);
  PERFORM ml_deploy('no-such-batch');
EXCEPTION WHEN OTHERS THEN
  INSERT INTO caught VALUES ('deploy', SQLSTATE, SQLERRM);
END $$;
SELECT is((SELECT state FROM caught WHERE k = 'deploy'), '22023', 'D3 ml_deploy (exception block): the second deploy was refused');
SELECT pg_temp.unchanged('D3 ml_deploy (exception block)');
SELECT is((SELECT model_version FROM ml_forecast('BTCUSDT', 5)), (SELECT batch_id FROM m WHERE k = 'm2'), 'D3 ml_deploy (exception block): forecasts use m2 again');
SELECT * FROM pg_temp.probe('ETHUSDT', 'D3 ml_deploy (exception block)');

-- after all of it, every bar of the probed symbols holds the indicators a fresh session computes
SELECT is(pg_temp.symbol_mismatches('XRPUSDT') + pg_temp.symbol_mismatches('ETHUSDT') + pg_temp.symbol_mismatches('HBARUSDT'), 0::bigint,
          'every XRPUSDT, ETHUSDT and HBARUSDT bar holds the computed indicators');

SELECT * FROM finish();
ROLLBACK;

-- what the autonomous logger committed for this file (log entries, checkpoints) goes too
SELECT ml_log_flush(10000) IS NULL;
DELETE FROM systemLogs WHERE id > :hostile_log_mark;
DELETE FROM recoveryState WHERE id > :hostile_rs_mark;
