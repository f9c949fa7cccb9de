-- ml_ingest_klines: each exchange's response body as the exchange returns it, strict validation
-- (the whole payload or nothing), closed candles only, idempotent upserts through the indicator
-- trigger, the source recorded, and the bad inputs of issue 8.
BEGIN;
SET client_min_messages = warning;
SELECT plan(31);

-- A binance-us payload of 30 candles from 2024-01-01 00:00 UTC (ascending, 12 fields, strings).
CREATE TEMP TABLE k AS
SELECT i, (extract(epoch FROM '2024-01-01'::timestamp) * 1000)::int8 + i * 60000 AS t,
       (100 + i)::numeric AS o, (101.5 + i)::numeric AS h, (99.5 + i)::numeric AS l, (100.5 + i)::numeric AS c
  FROM generate_series(0, 29) i;
CREATE TEMP TABLE p AS
SELECT (SELECT jsonb_agg(jsonb_build_array(t, o::text, h::text, l::text, c::text, '2.5', t + 59999, '0', 3, '0', '0', '0') ORDER BY t) FROM k) AS binance,
       (SELECT jsonb_agg(jsonb_build_array(t / 1000 + 1800, l, h, o, c, 1.25) ORDER BY t DESC) FROM k) AS coinbase,
       jsonb_build_object('retCode', 0, 'retMsg', 'OK', 'result', jsonb_build_object('category', 'spot', 'symbol', 'SOLUSDT', 'list',
         (SELECT jsonb_agg(jsonb_build_array((t + 3600000)::text, o::text, h::text, l::text, c::text, '7', '700') ORDER BY t DESC) FROM k)),
         'retExtInfo', '{}'::jsonb, 'time', 1) AS bybit;

SELECT is(ml_ingest_klines('binance-us', 'BTCUSDT', (SELECT binance FROM p)), 30, 'binance-us: 30 closed candles stored');
SELECT is((SELECT count(*) FROM rollingChartData WHERE symbol = 'BTCUSDT' AND source = 'binance-us'), 30::bigint, '... with source binance-us');
SELECT ok((SELECT rsi IS NOT NULL AND volatility IS NOT NULL FROM rollingChartData WHERE symbol = 'BTCUSDT' ORDER BY timestamp DESC LIMIT 1),
          '... through the indicator trigger (the last bar has its RSI and volatility)');
SELECT results_eq($$SELECT timestamp, open, high, low, close, volume FROM rollingChartData WHERE symbol = 'BTCUSDT' ORDER BY timestamp LIMIT 1$$,
                  $$VALUES ('2024-01-01 00:00'::timestamp, 100::numeric, 101.5::numeric, 99.5::numeric, 100.5::numeric, 2.5::numeric)$$,
                  '... at the right minute (UTC) with the exact prices');
SELECT is(ml_ingest_klines('binance-us', 'BTCUSDT', (SELECT binance FROM p)), 0, 'the same payload again stores nothing (idempotent)');
SELECT is((SELECT count(*) FROM rollingChartData WHERE symbol = 'BTCUSDT'), 30::bigint, '... and adds no row');
SELECT is(ml_ingest_klines('binance-us', 'BTCUSDT', '[[1704068940000, "129", "130.5", "128.5", "129.75", "2.5", 1704068999999, "0", 3, "0", "0", "0"]]'), 1,
          'a corrected candle is stored (1 bar changed)');
SELECT is((SELECT close FROM rollingChartData WHERE symbol = 'BTCUSDT' AND timestamp = '2024-01-01 00:29'), 129.75::numeric,
          '... with its new close');

SELECT is(ml_ingest_klines('coinbase', 'ETHUSDT', (SELECT coinbase FROM p)), 30, 'coinbase: newest first, [time, low, high, open, close, volume]');
SELECT results_eq($$SELECT open, high, low, close FROM rollingChartData WHERE symbol = 'ETHUSDT' ORDER BY timestamp LIMIT 1$$,
                  $$VALUES (100::numeric, 101.5::numeric, 99.5::numeric, 100.5::numeric)$$, '... fields read in coinbase''s order');
SELECT is(ml_ingest_klines('bybit', 'SOLUSDT', (SELECT bybit FROM p)), 30, 'bybit: the whole object with retCode and result.list');
SELECT is((SELECT min(timestamp) FROM rollingChartData WHERE symbol = 'SOLUSDT'), '2024-01-01 01:00'::timestamp, '... at the right minutes');

-- only closed candles: the current minute is still forming
SELECT is(ml_ingest_klines('binance-us', 'XRPUSDT', jsonb_build_array(
            jsonb_build_array(m - 60000, '1', '1.1', '0.9', '1', '5', m - 1, '0', 1, '0', '0', '0'),
            jsonb_build_array(m, '1', '1.1', '0.9', '1.05', '1', m + 59999, '0', 1, '0', '0', '0')))
            , 1, 'of the last closed minute and the forming one, only the closed one is stored')
  FROM (SELECT (floor(extract(epoch FROM now()) / 60) * 60000)::int8 AS m) n;
-- duplicates and order
SELECT is(ml_ingest_klines('binance-us', 'ADAUSDT', '[[1704067260000, "1", "1.2", "0.9", "1.1", "5", 1704067319999, "0", 1, "0", "0", "0"],
                                                      [1704067200000, "1", "1.2", "0.9", "1.0", "5", 1704067259999, "0", 1, "0", "0", "0"],
                                                      [1704067260000, "1", "1.2", "0.9", "1.1", "5", 1704067319999, "0", 1, "0", "0", "0"]]'), 2,
          'out of order with an exact duplicate: each candle stored once');

-- bad payloads: an error naming the value and the rule, and no row stored
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM rollingChartData;
SELECT throws_like($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[[1704067200000, "1", "1.2", "0.9", "1.1", "5", 1704067259999, "0", 1, "0", "0", "0"],
                                                                      [1704067260000, "1", "0.8", "0.9", "1.1", "5", 1704067319999, "0", 1, "0", "0", "0"]]')$$,
                   '%high "0.8"%', 'a candle whose high is below its low, after a good one');
SELECT throws_like($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[[1704067200000, "1", "1.2", "0.9", "1.1", "5", 1704067259999, "0", 1, "0", "0", "0"],
                                                                      [1704067200000, "1", "1.2", "0.9", "1.2", "5", 1704067259999, "0", 1, "0", "0", "0"]]')$$,
                   '%1704067200000%', 'two different candles for one minute');
SELECT throws_like($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[[1704067230000, "1", "1.2", "0.9", "1.1", "5", 0, "0", 1, "0", "0", "0"]]')$$,
                   '%not on a minute boundary%', 'an open time not on a minute');
SELECT throws_like($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[[1704067200000, "1", "1.2", "0.9", "abc", "5", 1704067259999, "0", 1, "0", "0", "0"]]')$$,
                   '%"abc"%', 'a price that is not a decimal');
SELECT throws_like($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[[1704067200000, "1", "1.2", "0.9", "1.1"]]')$$,
                   '%binance-us%', 'a candle with too few fields');
SELECT throws_like($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '{"data": []}')$$, '%binance-us%', 'an object where binance-us returns an array');
SELECT throws_like(format($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[[%s, "1", "1.2", "0.9", "1.1", "5", %s, "0", 1, "0", "0", "0"]]')$$,
                          (floor(extract(epoch FROM now()) / 60) * 60000 + 3600000)::int8,
                          (floor(extract(epoch FROM now()) / 60) * 60000 + 3600000 + 59999)::int8),
                   '%clock skew%', 'a candle an hour in our future (clock skew)');
SELECT throws_ok($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '{"code": -1121, "msg": "Invalid symbol."}')$$, '22000',
                 'binance-us API error: Invalid symbol.', 'binance-us''s error body is surfaced');
SELECT throws_like($$SELECT ml_ingest_klines('bybit', 'HBARUSDT', '{"retCode": 10001, "retMsg": "Not supported symbols", "result": {}}')$$,
                   '%Not supported symbols%', 'bybit''s retCode error is surfaced');
SELECT throws_like($$SELECT ml_ingest_klines('bybit', 'HBARUSDT', (SELECT bybit FROM p))$$, '%is for symbol "SOLUSDT", not "HBARUSDT"%',
                   'a bybit payload for another symbol');
SELECT throws_ok($$SELECT ml_ingest_klines('kraken', 'HBARUSDT', '[]')$$, '22023', NULL, 'an exchange cryptoml does not know');
SELECT throws_ok($$SELECT ml_ingest_klines('binance-us', 'DOGEUSDT', '[]')$$, '22023', 'unknown symbol "DOGEUSDT"', 'a symbol not configured');
SELECT ml_config_set('exchanges', '["binance-us", "bybit"]');
SELECT throws_like($$SELECT ml_ingest_klines('coinbase', 'HBARUSDT', '[]')$$, 'exchange "coinbase" is not in the configured exchanges%',
                   'an exchange not in the configuration');
SELECT ml_config_set('ingest.maxPayloadBytes', '1024');
SELECT throws_like($$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', (SELECT binance FROM p))$$, '%larger than the limit of 1024 bytes%',
                   'a payload larger than ingest.maxPayloadBytes');
SELECT throws_ok($$SELECT ml_ingest_klines('binance-us', NULL, '[]')$$, '22004', 'exchange, symbol and payload must not be NULL', 'a NULL argument');
SELECT is((SELECT count(*) FROM rollingChartData), (SELECT n FROM before), 'no rejected payload stored a row');
SELECT ok((SELECT bars_stored = 31 AND last_bar = '2024-01-01 00:29' FROM ml_ingest_status() WHERE symbol = 'BTCUSDT' AND exchange = 'binance-us'),
          'ml_ingest_status: bars stored and the newest bar per symbol and exchange');

SELECT * FROM finish();
ROLLBACK;
