-- The bulk loader ml_load_bars (issue 19): the stored table and checkpoints equal the trigger
-- path's (COPY through the row trigger) in every column but id and created_at (ids come from the
-- same sequence in another order of runs; created_at is the transaction time), from a file (plain
-- and gzip, ISO 'T...Z' timestamps, header and none) and from a staging table; trade following
-- runs; bad input gets the trigger's own errors and stores nothing; a rolled-back load leaves no
-- per-backend state behind. Needs a server that can write and read /tmp (pgTAP runs as superuser).
BEGIN;
SET client_min_messages = warning;
SELECT plan(62);

SELECT '/tmp/cryptoml_bulk_' || pg_backend_pid() AS d \gset
SELECT :'d' || '_a.csv' AS fa, :'d' || '_b.csv.gz' AS fb, 'gzip -c > ' || :'d' || '_b.csv.gz' AS fb_w,
       'gzip -dc ' || :'d' || '_b.csv.gz' AS fb_r, :'d' || '_c.csv' AS fc \gset

-- 2 x 2600 random-walk bars (a 7-minute gap in each), split: A = the first 1500 of each symbol
-- (header, symbol order, exchange-file timestamps), B = the rest, interleaved by time (gzip, no
-- header), C = one more bar of each, inserted through the trigger afterwards.
SELECT setseed(0.25);
CREATE TEMP TABLE src AS
SELECT s.symbol, '2021-03-01'::timestamp + make_interval(mins => i + CASE WHEN i >= 1200 THEN 7 ELSE 0 END) AS ts,
       round((c * 0.9995)::numeric, 8) AS open, round((c * 1.002)::numeric, 8) AS high,
       round((c * 0.998)::numeric, 8) AS low, round(c::numeric, 8) AS close, round((10 + 5 * random())::numeric, 8) AS volume, i
FROM (VALUES ('BTCUSDT', 50000.0), ('ETHUSDT', 3000.0)) s(symbol, p0),
     LATERAL (SELECT i, p0 * exp(sum(r) OVER (ORDER BY i)) AS c
                FROM (SELECT i, (random() - 0.5) * 0.004 AS r FROM generate_series(0, 2600) i) x) y;
COPY (SELECT symbol, to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS timestamp, open, high, low, close, volume
        FROM src WHERE i < 1500 ORDER BY symbol, ts) TO :'fa' (FORMAT csv, HEADER true);
COPY (SELECT symbol, ts, open, high, low, close, volume FROM src WHERE i >= 1500 AND i < 2600 ORDER BY ts, symbol)
  TO PROGRAM :'fb_w' (FORMAT csv);

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
-- a file of the given lines
CREATE FUNCTION pg_temp.put(name text, lines text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  path text := current_setting('bulk.dir') || '_' || name;
BEGIN
  EXECUTE format('COPY (SELECT unnest(%L::text[])) TO %L', lines, path);
  RETURN path;
END $$;
SELECT set_config('bulk.dir', :'d', true) AS bulk_dir \gset
CREATE FUNCTION pg_temp.rows() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT row(symbol, timestamp, open, high, low, close, volume, rsi, macd, macd_signal, macd_hist, bollinger_upper,
             bollinger_middle, bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete, source)::text
    FROM rollingChartData $$;
CREATE FUNCTION pg_temp.checkpoints() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT row(symbol, bar_ts, bars, encode(sha256(state), 'hex'))::text FROM cryptoml_internal.indicator_checkpoint $$;
CREATE FUNCTION pg_temp.trade() RETURNS text LANGUAGE sql AS $$
  SELECT row(symbol, signal_type, entry_price, current_price, real_time_pnl, highest_profit, lowest_loss, profitable_minutes,
             total_minutes, is_active, completed_at, exit_reason)::text FROM tradeSimulations $$;
CREATE FUNCTION pg_temp.open_trade() RETURNS void LANGUAGE sql AS $$
  INSERT INTO tradeSimulations (symbol, signal_type, entry_price, tp_price, sl_price, forecast_horizon, entry_bar, fee_pct, slippage_pct)
  SELECT 'BTCUSDT', 'LONG', close, close * 2, round(close / 2, 8), 100000, ts, 0.1, 0.05 FROM src
   WHERE symbol = 'BTCUSDT' AND i = 1499 $$;
CREATE FUNCTION pg_temp.insert_c() RETURNS void LANGUAGE sql AS $$
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT symbol, ts, open, high, low, close, volume FROM src WHERE i = 2600 ORDER BY symbol $$;
CREATE FUNCTION pg_temp.checksum() RETURNS text LANGUAGE sql AS $$
  SELECT md5(coalesce((SELECT string_agg(r::text, ',' ORDER BY r::text) FROM rollingChartData r), '') ||
             coalesce((SELECT string_agg(k::text, ',' ORDER BY k::text) FROM cryptoml_internal.indicator_checkpoint k), '') ||
             coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM tradeSimulations t), '')) $$;

-- ---- the trigger path: COPY A, a trade, COPY B, INSERT C -------------------------------------
TRUNCATE rollingChartData;
DELETE FROM tradeSimulations;
COPY rollingChartData (symbol, timestamp, open, high, low, close, volume) FROM :'fa' (FORMAT csv, HEADER true);
SELECT pg_temp.open_trade();
COPY rollingChartData (symbol, timestamp, open, high, low, close, volume) FROM PROGRAM :'fb_r' (FORMAT csv);
CREATE TEMP TABLE trig_ab AS SELECT pg_temp.rows() AS r;
CREATE TEMP TABLE trig_ab_ck AS SELECT pg_temp.checkpoints() AS k;
CREATE TEMP TABLE trig_ab_trade AS SELECT pg_temp.trade() AS t;
SELECT pg_temp.insert_c();
CREATE TEMP TABLE trig AS SELECT pg_temp.rows() AS r;
CREATE TEMP TABLE trig_ck AS SELECT pg_temp.checkpoints() AS k;
SELECT is((SELECT count(*) FROM trig), 5202::bigint, 'trigger path: 5202 bars');
SELECT ok((SELECT count(*) FROM trig_ck) >= 6, 'trigger path: periodic and latest checkpoints');
SELECT ok((SELECT t FROM trig_ab_trade) LIKE '%,1100,t,,)', 'trigger path: the trade followed 1100 bars');

-- ---- the bulk path: ml_load_bars(A), a trade, ml_load_bars(B), INSERT C -----------------------
TRUNCATE rollingChartData;
DELETE FROM tradeSimulations;
SELECT is((SELECT count(*) FROM cryptoml_internal.indicator_checkpoint), 0::bigint, 'TRUNCATE cleared the checkpoints');
SELECT results_eq(format('SELECT * FROM ml_load_bars(%L)', :'fa'),
                  $$VALUES ('BTCUSDT'::text, 1500::bigint, '2021-03-01 00:00'::timestamp, '2021-03-02 01:06'::timestamp),
                           ('ETHUSDT', 1500, '2021-03-01 00:00', '2021-03-02 01:06')$$,
                  'ml_load_bars(file): a row per symbol with its bars, first and last');
SELECT pg_temp.open_trade();
-- a new session would restore from the checkpoints: a rolled-back subtransaction makes this one do so
SAVEPOINT fresh;
ROLLBACK TO fresh;
-- a load that fails after storing 2 batches (its last line is bad): nothing of it stays
SELECT pg_temp.put('b_bad.csv', (SELECT array_agg(format('%s,%s,%s,%s,%s,%s,%s', symbol, ts, open, high, low, close, volume) ORDER BY ts, symbol)
                                   FROM src WHERE i >= 1500 AND i < 2600) || 'BTCUSDT,2021-03-05 00:00,1,1,2,1,1'::text) AS fbad \gset
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', :'fbad')), '^23514 rollingChartData bar BTCUSDT .* high \(1\) is below low \(2\)',
               'a bad last line fails the whole load');
SELECT is((SELECT count(*) FROM rollingChartData), 3000::bigint, '... and stores none of its 2200 good bars');
-- a load rolled back by hand: the cached state it advanced is forgotten
SAVEPOINT s;
SELECT is((SELECT sum(bars) FROM ml_load_bars(:'fb')), 2200::numeric, 'ml_load_bars(gzip file, no header)');
ROLLBACK TO s;
SELECT is((SELECT count(*) FROM rollingChartData), 3000::bigint, 'ROLLBACK TO SAVEPOINT removed the load');
SELECT results_eq(format('SELECT symbol, bars FROM ml_load_bars(%L)', :'fb'),
                  $$VALUES ('BTCUSDT'::text, 1100::bigint), ('ETHUSDT', 1100)$$, 'the same load again');
SELECT is((SELECT t FROM trig_ab_trade), pg_temp.trade(), 'the trade followed the loaded bars as the trigger path did');
SELECT is((SELECT array_agg(r ORDER BY r) FROM trig_ab), (SELECT array_agg(r ORDER BY r) FROM pg_temp.rows() r),
          'after B: every column of every bar equals the trigger path''s (but id and created_at)');
SELECT is((SELECT array_agg(k ORDER BY k) FROM trig_ab_ck), (SELECT array_agg(k ORDER BY k) FROM pg_temp.checkpoints() k),
          'after B: the checkpoints (symbol, bar, bars, state bytes) equal the trigger path''s');
SELECT pg_temp.insert_c();
SELECT is((SELECT array_agg(r ORDER BY r) FROM trig), (SELECT array_agg(r ORDER BY r) FROM pg_temp.rows() r),
          'a bar inserted after the load through the trigger: still equal');
SELECT is((SELECT array_agg(k ORDER BY k) FROM trig_ck), (SELECT array_agg(k ORDER BY k) FROM pg_temp.checkpoints() k),
          '... checkpoints too');
SELECT ok((SELECT bool_and(up_to_date) FROM ml_indicator_status), 'ml_indicator_status: up to date');

-- ---- the staging-table path -------------------------------------------------------------------
TRUNCATE rollingChartData;
DELETE FROM tradeSimulations;
CREATE TEMP TABLE stage (symbol text, "timestamp" timestamp, open numeric, high numeric, low numeric, close numeric, volume numeric, note text);
COPY stage (symbol, "timestamp", open, high, low, close, volume) FROM :'fa' (FORMAT csv, HEADER true);
COPY stage (symbol, "timestamp", open, high, low, close, volume) FROM PROGRAM :'fb_r' (FORMAT csv);
SELECT results_eq($$SELECT symbol, bars FROM ml_load_bars('stage'::regclass)$$,
                  $$VALUES ('BTCUSDT'::text, 2600::bigint), ('ETHUSDT', 2600)$$, 'ml_load_bars(regclass): A and B in one call');
SELECT pg_temp.insert_c();
SELECT is((SELECT array_agg(r ORDER BY r) FROM trig), (SELECT array_agg(r ORDER BY r) FROM pg_temp.rows() r),
          'staging path: every column equals the trigger path''s');
SELECT is((SELECT count(*) FROM pg_temp.checkpoints() k WHERE k NOT IN (SELECT k FROM trig_ck)), 0::bigint,
          'staging path: every checkpoint is one the trigger path wrote');
SELECT ok((SELECT count(*) FROM pg_temp.checkpoints()) >= 6, '... periodic ones and the latest');
ANALYZE rollingChartData;

-- ---- bad input: the trigger's own errors, nothing stored ---------------------------------------
CREATE TEMP TABLE before AS SELECT pg_temp.checksum() AS c;
SELECT matches(pg_temp.err($$SELECT ml_load_bars('/tmp/cryptoml_no_such_file.csv')$$),
               '^58P01 could not open file "/tmp/cryptoml_no_such_file.csv" for reading', 'missing file');
SELECT pg_temp.put('locked.csv', ARRAY['BTCUSDT,2021-03-10 00:00,1,1,1,1,1']) AS flocked \gset
SELECT 'chmod 000 ' || :'flocked' AS chmod \gset
COPY (SELECT 1) TO PROGRAM :'chmod';
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', :'flocked')), '^42501 could not open file .* Permission denied', 'unreadable file');
SELECT matches(pg_temp.err($$SELECT ml_load_bars('/tmp')$$), '^42809 "/tmp" is a directory', 'a directory');
SELECT matches(pg_temp.err($$SELECT ml_load_bars('bars.csv')$$), '^22023 ml_load_bars: path "bars.csv" is not absolute', 'a relative path');
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', pg_temp.put('hdr.csv', ARRAY['symbol,ts,open,high,low,close,volume', 'BTCUSDT,2021-03-10 00:00,1,1,1,1,1']))),
               '^22P04 .*header .* does not name the columns', 'wrong header');
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', pg_temp.put('six.csv', ARRAY['BTCUSDT,2021-03-10 00:00,1,1,1,1']))),
               '^22P04 ml_load_bars: fewer fields where 7 are expected', 'wrong number of columns');
-- the same bad bar through COPY (the row trigger) and ml_load_bars: the same error
CREATE FUNCTION pg_temp.same(line text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
  f text := pg_temp.put('one.csv', ARRAY[line]);
BEGIN
  RETURN ARRAY[pg_temp.err(format('COPY rollingChartData (symbol, timestamp, open, high, low, close, volume) FROM %L (FORMAT csv)', f)),
               pg_temp.err(format('SELECT ml_load_bars(%L)', f))];
END $$;
CREATE TEMP TABLE bad (what text, line text, pattern text);
INSERT INTO bad VALUES
  ('bad number', 'BTCUSDT,2021-03-10 00:00,abc,1,1,1,1', '^22P02 invalid input syntax for type numeric: "abc"'),
  ('NaN price', 'BTCUSDT,2021-03-10 00:00,NaN,1,1,1,1', '^23514 rollingChartData bar BTCUSDT 2021-03-10 00:00:00 rejected: open is NaN'),
  ('high < low', 'BTCUSDT,2021-03-10 00:00,1,1,2,1,1', '^23514 .* high \(1\) is below low \(2\)'),
  ('NULL price', 'BTCUSDT,2021-03-10 00:00,,1,1,1,1', '^23514 .* open is NULL'),
  ('negative volume', 'BTCUSDT,2021-03-10 00:00,1,1,1,1,-1', '^23514 .* volume is -1'),
  ('unknown symbol', 'FOOUSDT,2021-03-10 00:00,1,1,1,1,1', '^23514 rollingChartData: unknown symbol "FOOUSDT"'),
  ('off the minute', 'BTCUSDT,2021-03-10 00:00:30,1,1,1,1,1', '^23514 .* is not on a whole minute'),
  ('future bar', 'BTCUSDT,2999-01-01 00:00,1,1,1,1,1', '^23514 .* is in the future'),
  ('symbol too long', 'BTCUSDTBTCUSDTBTCUSDTX,2021-03-10 00:00,1,1,1,1,1', '^22001 value too long for type character varying\(20\)'),
  ('NULL symbol', ',2021-03-10 00:00,1,1,1,1,1', '^23502 null value in column "symbol"');
SELECT is(x[2], x[1], 'the trigger''s error: ' || what) FROM bad, LATERAL (SELECT pg_temp.same(line) AS x) s ORDER BY what;
SELECT ok(bool_and(x[2] ~ pattern), 'each names the value and the rule') FROM bad, LATERAL (SELECT pg_temp.same(line) AS x) s;
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', pg_temp.put('dup.csv', ARRAY['ETHUSDT,2021-03-10 00:00,1,1,1,1,1', 'ETHUSDT,2021-03-10 00:00,1,1,1,1,1']))),
               '^23514 rollingChartData bar ETHUSDT 2021-03-10 00:00:00 rejected: duplicate timestamp in the input', 'duplicate timestamps');
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', pg_temp.put('order.csv', ARRAY['ETHUSDT,2021-03-10 00:01,1,1,1,1,1', 'ETHUSDT,2021-03-10 00:00,1,1,1,1,1']))),
               '^23514 rollingChartData bar ETHUSDT 2021-03-10 00:00:00 rejected: it comes after the bar at 2021-03-10 00:01:00 in the input', 'out of order');
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', :'fa')),
               '^23514 rollingChartData bar BTCUSDT 2021-03-01 00:00:00 rejected: BTCUSDT already holds bars up to 2021-03-02 19:27:00',
               'overlap with stored bars');
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', pg_temp.put('old.csv', ARRAY['ETHUSDT,2021-02-01 00:00,1,1,1,1,1']))),
               '^23514 .* ETHUSDT already holds bars', 'a bar before the stored ones');
SELECT matches(pg_temp.err($$SELECT ml_load_bars(NULL::text)$$), '^22004', 'NULL path');
SELECT is(pg_temp.checksum(), (SELECT c FROM before), 'nothing of the failed loads is stored (bars, checkpoints, trades)');

-- ---- privileges ---------------------------------------------------------------------------------
CREATE ROLE cml_bulk_writer;
CREATE ROLE cml_bulk_reader;
SELECT ml_grant_access('cml_bulk_writer', 'writer');
SELECT ml_grant_access('cml_bulk_reader', 'reader');
GRANT EXECUTE ON FUNCTION ml_load_bars(text), ml_load_bars(regclass) TO cml_bulk_writer, cml_bulk_reader;
CREATE TEMP TABLE stage2 AS SELECT symbol, ts AS "timestamp", open, high, low, close, volume FROM src WHERE i = 2601 - 1 AND false;
INSERT INTO stage2 SELECT 'BTCUSDT', '2021-03-02 20:09', 1, 1, 1, 1, 1;
GRANT SELECT ON stage2 TO cml_bulk_writer;
CREATE TEMP TABLE stage3 AS SELECT * FROM stage2;
SET ROLE cml_bulk_writer;
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', :'fa')),
               '^42501 permission denied to read server file .* with ml_load_bars', 'a writer may not read server files');
SELECT matches(pg_temp.err($$SELECT ml_load_bars('stage3'::regclass)$$), '^42501 permission denied for table stage3',
               'nor a table it cannot SELECT');
SELECT results_eq($$SELECT symbol, bars FROM ml_load_bars('stage2'::regclass)$$, $$VALUES ('BTCUSDT'::text, 1::bigint)$$,
                  'a writer loads a table it can read');
RESET ROLE;
SET ROLE cml_bulk_reader;
SELECT matches(pg_temp.err($$SELECT ml_load_bars('stage2'::regclass)$$), '^42501 permission denied for table rollingchartdata',
               'a reader may not load');
RESET ROLE;
GRANT pg_read_server_files TO cml_bulk_writer;
SELECT pg_temp.put('w.csv', ARRAY['ETHUSDT,2021-03-02 20:09,1,1,1,1,1']) AS fw \gset
SET ROLE cml_bulk_writer;
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', :'fw')),
               '^no error', 'a writer with pg_read_server_files may load a server file');
RESET ROLE;
SELECT is((SELECT count(*) FROM rollingChartData WHERE timestamp = '2021-03-02 20:09'), 2::bigint, '... both bars stored');
SELECT is((SELECT bars FROM cryptoml_internal.indicator_checkpoint WHERE symbol = 'ETHUSDT' ORDER BY bar_ts DESC LIMIT 1),
          2602::bigint, '... with their checkpoint');
SELECT is(has_function_privilege('public', 'ml_load_bars(text)', 'EXECUTE'), false, 'PUBLIC may not execute ml_load_bars(text)');
SELECT is(has_function_privilege('public', 'ml_load_bars(regclass)', 'EXECUTE'), false, '... nor ml_load_bars(regclass)');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'ml_load_bars(text)'::regprocedure), false, 'ml_load_bars is SECURITY INVOKER');

-- ---- refusals ------------------------------------------------------------------------------------
SET LOCAL session_replication_role = replica;
SELECT matches(pg_temp.err($$SELECT ml_load_bars('stage2'::regclass)$$), '^55000 ml_load_bars refuses to run with session_replication_role = replica',
               'the replica role is refused (the indicator triggers would not fire)');
SET LOCAL session_replication_role = origin;
CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER aa_user_row BEFORE INSERT ON rollingChartData FOR EACH ROW EXECUTE FUNCTION pg_temp.noop();
SELECT matches(pg_temp.err($$SELECT ml_load_bars('stage2'::regclass)$$), '^0A000 ml_load_bars cannot load rollingchartdata: it has the row-level INSERT trigger "aa_user_row"',
               'another row trigger is refused, not bypassed');
DROP TRIGGER aa_user_row ON rollingChartData;
ALTER TABLE rollingChartData DISABLE TRIGGER zz_cryptoml_indicators_statement;
SELECT matches(pg_temp.err($$SELECT ml_load_bars('stage2'::regclass)$$), '^55000 ml_load_bars needs the triggers', 'a disabled indicator trigger is refused');
ALTER TABLE rollingChartData ENABLE TRIGGER zz_cryptoml_indicators_statement;
SELECT matches(pg_temp.err($$SELECT ml_load_bars('stage2'::regclass)$$),
               '^23514 rollingChartData bar BTCUSDT 2021-03-02 20:09:00 rejected: BTCUSDT already holds bars up to 2021-03-02 20:09:00',
               'a bar just loaded is stored: loading it again overlaps');

-- on a cluster node, bars of a symbol the node does not own are refused (the trigger's rule), rolled back
-- (the outcomes are kept in psql variables and checked after the rollback: pgTAP counts its tests
-- in a table, which a ROLLBACK TO would undo)
SAVEPOINT node;
SELECT cryptoml_internal.node_join('bulknode', 1) AS node_joined \gset
SELECT pg_temp.err(format('SELECT ml_load_bars(%L)', pg_temp.put('node.csv', ARRAY['ETHUSDT,2021-03-02 20:30,1,1,1,1,1']))) AS node_err \gset
ROLLBACK TO node;
SELECT is(:'node_joined'::text, 'bulknode', 'this database joins as a node owning nothing');
SELECT matches(:'node_err'::text, '^55000 rollingChartData: writing bars of ETHUSDT refused: node bulknode does not own ETHUSDT', 'a node refuses bars it does not own');
-- ---- prices as numeric_in stores them: the loader parses plain decimal text itself (issue 19) --
-- every plain form (leading zeros, trailing zeros, a bare point, 8 decimals, the column's maximum,
-- no integer digits) and the forms it leaves to numeric_in (more decimals than the column's 8, an
-- exponent, blanks): the same numeric bytes (numeric_send) and indicators as COPY through the trigger
SELECT pg_temp.put('num.csv', (SELECT array_agg(format('SOLUSDT,2021-03-01 %s,%s,%s,%s,%s,%s', lpad((i / 60)::text, 2, '0') || ':' || lpad((i % 60)::text, 2, '0'),
                                                      p, p, p, p, v) ORDER BY i)
                                 FROM unnest(ARRAY['42', '0042.50', '42.', '42.12345678', '42.123456789', '4.2e1', '41.99999999',
                                                   '00000000000000000000000042.1', '42.5', '43', ' 42 ', '42.10000000', '4.21E+1',
                                                   '042.00000001', '42.14159265358979', '42.00100'],
                                             ARRAY['0', '0.0', '10', '10.12345678', '1e3', '00', '5.', '.25', '99999999999.99999999',
                                                   '0.00000001', '.5', '000.00100', '12345678901', '3.14159265358979', '6', '7']) WITH ORDINALITY AS x(p, v, i))) AS fnum \gset
CREATE FUNCTION pg_temp.num_rows() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT row(timestamp, numeric_send(open), numeric_send(high), numeric_send(low), numeric_send(close), numeric_send(volume),
             rsi, macd, bollinger_upper, volatility, is_complete)::text FROM rollingChartData WHERE symbol = 'SOLUSDT' $$;
SELECT is((SELECT sum(bars) FROM ml_load_bars(:'fnum')), 16::numeric, 'ml_load_bars: 16 bars with prices and volumes in every plain decimal form');
CREATE TEMP TABLE num_bulk AS SELECT pg_temp.num_rows() AS r;
DELETE FROM rollingChartData WHERE symbol = 'SOLUSDT';
COPY rollingChartData (symbol, timestamp, open, high, low, close, volume) FROM :'fnum' (FORMAT csv);
SELECT is((SELECT array_agg(r ORDER BY r) FROM num_bulk), (SELECT array_agg(r ORDER BY r) FROM pg_temp.num_rows() r),
          '... stored with the bytes numeric_in gives them (and the same indicators)');
SELECT matches(pg_temp.err(format('SELECT ml_load_bars(%L)', pg_temp.put('num_big.csv', ARRAY['SOLUSDT,2021-03-02 00:00,1234567890123.5,1234567890123.5,1234567890123.5,1234567890123.5,1']))),
               '^22003 numeric field overflow', 'a price the column cannot hold: numeric_in''s own error');
SELECT 'rm -f ' || :'d' || '_*' AS rm \gset
COPY (SELECT 1) TO PROGRAM :'rm';
SELECT * FROM finish();
ROLLBACK;
