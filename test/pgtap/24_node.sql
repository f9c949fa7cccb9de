-- A database as a node of a cryptoml_router cluster (issue 18): standalone until node_join; then it
-- serves, writes and forecasts only the symbols it owns; replicas and moving symbols refuse writes;
-- the per-backend cache of roles is right after a SAVEPOINT rollback and a caught error; the
-- publication's row filter follows the owned leaders; config_check validates without writing;
-- ml_insert_bars and its bad input. Replication between nodes: test/tap/scaleout.sh.
BEGIN;
SET client_min_messages = error;
SELECT plan(39);
DELETE FROM rollingChartData;

CREATE FUNCTION pg_temp.bars(sym text, n integer) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_agg(jsonb_build_object('timestamp', '2026-11-01'::timestamp + make_interval(mins => i),
                                      'open', 100 + i % 7, 'high', 110, 'low', 95, 'close', 100.5 + i % 5, 'volume', 10 + i) ORDER BY i)
    FROM generate_series(1, n) i $$;

-- standalone
SELECT set_eq('SELECT cryptoml_internal.served_symbols()', 'SELECT jsonb_array_elements_text(ml_config_get(''symbols''))',
              'standalone: every configured symbol is served');
SELECT throws_ok($$SELECT cryptoml_internal.node_set_symbol('BTCUSDT', 'owned')$$, '55000', 'this database is not a cluster node',
                 'node_set_symbol before node_join: refused');
SELECT is(ml_insert_bars('BTCUSDT', pg_temp.bars('BTCUSDT', 30)), 30, 'ml_insert_bars stores 30 bars');
SELECT is(ml_insert_bars('BTCUSDT', pg_temp.bars('BTCUSDT', 30)), 0, 'the same bars again change nothing');
SELECT is(ml_insert_bars('BTCUSDT', jsonb_set(pg_temp.bars('BTCUSDT', 30), '{29,close}', '101')), 1, 'a corrected minute: 1 bar changed');
SELECT is((SELECT close FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp = '2026-11-01 00:30'), 101.00000000::numeric,
          'the correction is stored');
SELECT ok((SELECT rsi IS NOT NULL FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp = '2026-11-01 00:30'),
          'indicators follow by trigger');
SELECT throws_ok($$SELECT ml_insert_bars('BTCUSDT', '{"a": 1}')$$, '22023', 'ml_insert_bars: bars must be a JSON array of bars, got object',
                 'bars not an array: refused');
SELECT throws_ok($$SELECT ml_insert_bars('BTCUSDT', '[{"timestamp": "2026-11-02 00:00", "open": 1, "high": 1, "low": 1, "close": 1}]')$$,
                 '22023', 'ml_insert_bars: bar 1 of 1 is not a bar: {"low": 1, "high": 1, "open": 1, "close": 1, "timestamp": "2026-11-02 00:00"}',
                 'a bar without volume: refused, naming it');
SELECT throws_ok($$SELECT ml_insert_bars('BTCUSDT', '[{"timestamp": "2026-11-02 00:00", "open": "1", "high": 1, "low": 1, "close": 1, "volume": 1}]')$$,
                 '22023', NULL, 'a price as a string: refused');
SELECT is((SELECT count(*) FROM rollingChartData), 30::bigint, 'refused calls stored nothing');

-- config_check: ml_config_set's rules, no write
SELECT is(cryptoml_internal.config_check('training.batchSize', '64'), '64'::jsonb, 'config_check returns the canonical value');
SELECT throws_ok($$SELECT cryptoml_internal.config_check('training.batchSize', '"many"')$$, '22023', NULL, 'config_check: a bad value is refused');
SELECT throws_ok($$SELECT cryptoml_internal.config_check('features.crossMarketSymbols', '["DOGEUSDT"]')$$, '22023', NULL,
                 'config_check: a cross-key rule is checked');
SELECT is(ml_config_get('training.batchSize'), (SELECT default_value FROM ml_config_keys() WHERE path = 'training.batchSize'),
          'config_check wrote nothing');

-- node_join
SELECT throws_ok($$SELECT cryptoml_internal.node_join('Node1', 1)$$, '22023', 'invalid node name "Node1"', 'an upper-case node name: refused');
SELECT throws_ok($$SELECT cryptoml_internal.node_join('node1', 21)$$, '22023', 'invalid node number 21', 'node number 21: refused');
SELECT is(cryptoml_internal.node_join('node1', 1), 'node1', 'node_join');
SELECT is(cryptoml_internal.node_join('node1', 1), 'node1', 'node_join again: idempotent');
SELECT throws_ok($$SELECT cryptoml_internal.node_join('node2', 2)$$, '55006', NULL, 'joining again under another name: refused');
-- (setval is not transactional: the test cluster keeps the range after this file's ROLLBACK)
SELECT cmp_ok((SELECT last_value FROM cryptoml_internal.volatility_models_id_seq), '>=', 1::bigint << 40,
              'bigserial ids continue in the node''s range');
SELECT is_empty('SELECT cryptoml_internal.served_symbols()', 'a node owning nothing serves nothing');
SELECT throws_ok($$SELECT ml_insert_bars('BTCUSDT', pg_temp.bars('BTCUSDT', 31))$$, '55000',
                 'rollingChartData: writing bars of BTCUSDT refused: node node1 does not own BTCUSDT', 'bars of a symbol not owned: refused');
SELECT throws_ok($$DELETE FROM rollingChartData WHERE symbol = 'BTCUSDT'$$, '55000', NULL, 'deleting bars not owned: refused');

-- roles
SELECT is(cryptoml_internal.node_set_symbol('BTCUSDT', 'owned'), 'none', 'node_set_symbol returns the previous role');
SELECT is(cryptoml_internal.node_set_symbol('BTCUSDT', 'owned'), 'owned', 'setting the same role again: idempotent');
SELECT is(cryptoml_internal.node_set_symbol('SOLUSDT', 'owned'), 'none', 'SOLUSDT owned');
SELECT set_eq('SELECT cryptoml_internal.served_symbols()', $$VALUES ('BTCUSDT'), ('SOLUSDT')$$, 'owned symbols are served');
SELECT is(ml_insert_bars('BTCUSDT', pg_temp.bars('BTCUSDT', 31)), 2, 'an owned symbol takes bars (minute 31, and minute 30 set back)');
SELECT is(cryptoml_internal.node_status() ->> 'publication_filter', '((symbol)::text = ''BTCUSDT''::text)',
          'the publication carries the owned leader only');
SELECT throws_ok($$SELECT cryptoml_internal.node_set_symbol('BTCUSDT', 'lent')$$, '22023', NULL, 'an unknown role: refused');
SELECT throws_ok($$SELECT cryptoml_internal.node_set_symbol('btc usdt', 'owned')$$, '22023', 'invalid symbol "btc usdt"',
                 'a symbol outside the symbols rule: refused');

-- the role cache after a rolled-back savepoint and a caught error
SAVEPOINT s;
SELECT cryptoml_internal.node_set_symbol('BTCUSDT', 'replica');
SELECT throws_ok($$SELECT ml_insert_bars('BTCUSDT', pg_temp.bars('BTCUSDT', 32))$$, '55000',
                 'rollingChartData: writing bars of BTCUSDT refused: node node1 holds a read-only replica of BTCUSDT', 'a replica refuses writes');
ROLLBACK TO SAVEPOINT s;
SELECT is(ml_insert_bars('BTCUSDT', pg_temp.bars('BTCUSDT', 32)), 1, 'after ROLLBACK TO SAVEPOINT the symbol is owned again');
DO $$ BEGIN
  PERFORM cryptoml_internal.node_set_symbol('BTCUSDT', 'moving');
  PERFORM ml_insert_bars('BTCUSDT', pg_temp.bars('BTCUSDT', 33));
EXCEPTION WHEN object_in_use THEN NULL;
END $$;
SELECT is(ml_insert_bars('BTCUSDT', pg_temp.bars('BTCUSDT', 33)), 1, 'after an error caught in PL/pgSQL the symbol is owned again');
SELECT cryptoml_internal.node_set_symbol('BTCUSDT', 'moving');
SELECT throws_ok($$SELECT ml_insert_bars('BTCUSDT', pg_temp.bars('BTCUSDT', 34))$$, '55006', NULL, 'a moving symbol refuses writes');
SELECT throws_ok($$SELECT * FROM ml_forecast('BTCUSDT', 15)$$, '55006', NULL, 'and forecasts');
SELECT cryptoml_internal.node_set_symbol('BTCUSDT', 'none');
SELECT is(cryptoml_internal.node_status() ->> 'publication_filter', 'false', 'no owned leader: the publication carries nothing');
SELECT is(cryptoml_internal.node_status() -> 'owned', '["SOLUSDT"]'::jsonb, 'node_status lists the owned symbols');

SELECT * FROM finish();
ROLLBACK;
