-- systemLogs through ml_log(): autonomous (survives rollback), level filtering, bad input.
SELECT mode FROM ml_log_queue();
-- A log written by a transaction that rolls back is still there.
BEGIN;
SELECT ml_log('error', 'regress', 'rollback', 'written inside a rolled back transaction', '{"step": 1}', 'BTCUSDT');
ROLLBACK;
-- A log written by an operation that then fails with an ERROR is still there, with its context.
DO $$
BEGIN
  PERFORM ml_log('error', 'regress', 'failure', 'written before an ERROR');
  RAISE EXCEPTION 'the operation failed';
END
$$;
SELECT ml_log_flush();
SELECT level, category, subcategory, message, context, symbol, stack_trace
  FROM systemLogs WHERE category = 'regress' ORDER BY id;
-- The timestamp is the caller's local time, like DEFAULT NOW() in the caller's session.
SET TimeZone = 'Asia/Tokyo';
SELECT ml_log('info', 'regress', 'tz', 'time zone check');
SELECT ml_log_flush();
SELECT abs(extract(epoch FROM (timestamp - now()::timestamp))) < 60 AS local_time
  FROM systemLogs WHERE subcategory = 'tz';
RESET TimeZone;
-- Level filtering follows system.logLevel.
SELECT ml_config_set('system.logLevel', '"warning"');
SELECT ml_log('info', 'regress', 'filtered', 'below the threshold') AS stored;
SELECT ml_log('warning', 'regress', 'kept', 'at the threshold') AS stored;
SELECT ml_config_reset('system.logLevel');
SELECT ml_log('debug', 'regress', 'filtered', 'debug is below info') AS stored;
SELECT ml_log_flush();
SELECT subcategory, level FROM systemLogs WHERE subcategory IN ('filtered', 'kept') ORDER BY id;
-- The config changes above were logged too.
SELECT subcategory, message, context FROM systemLogs WHERE category = 'config' ORDER BY id;
-- Bad input: each a clear error, nothing stored.
SELECT ml_log('fatal', 'regress', 'bad', 'unknown level');
SELECT ml_log('INFO', 'regress', 'bad', 'levels are lowercase');
SELECT ml_log(NULL, 'regress', 'bad', 'no level');
SELECT ml_log('info', NULL, 'bad', 'no category');
SELECT ml_log('info', 'regress', 'bad', NULL);
SELECT ml_log('info', repeat('c', 51), 'bad', 'category too long');
SELECT ml_log('info', 'regress', repeat('s', 51), 'subcategory too long');
SELECT ml_log('info', 'regress', 'bad', 'symbol too long', NULL, repeat('S', 21));
SELECT ml_log('info', 'regress', 'bad', 'context is not json', 'not json');
SELECT ml_log_flush(-1);
SELECT ml_log_flush(NULL);
SELECT ml_log_flush();
SELECT count(*) AS bad_rows FROM systemLogs WHERE subcategory = 'bad';
-- Large messages and many entries go through too.
SELECT bool_and(ml_log('debug', 'regress', 'bulk', 'bulk ' || g)) FROM generate_series(1, 10) g;
SELECT ml_config_set('system.logLevel', '"debug"');
SELECT bool_and(ml_log('debug', 'regress', 'bulk', repeat('x', 1000) || g)) FROM generate_series(1, 5000) g;
-- Oversized entries (over a quarter of the queue) stay autonomous: message clipped and marked,
-- an oversized context replaced by its size.
SELECT capacity_bytes AS cap FROM ml_log_queue() \gset
BEGIN;
SELECT ml_log('info', 'regress', 'big', repeat('y', :cap / 2)) AS stored_big;
SELECT ml_log('info', 'regress', 'bigctx', 'huge context', jsonb_build_object('blob', repeat('z', :cap))) AS stored_bigctx;
ROLLBACK;
SELECT ml_config_reset('system.logLevel');
SELECT ml_log_flush(60000);
SELECT count(*) AS bulk, count(DISTINCT message) AS distinct_messages FROM systemLogs WHERE subcategory = 'bulk';
SELECT length(message) < :cap / 4 AS clipped, message LIKE '%... [truncated by cryptoml]' AS marked
  FROM systemLogs WHERE subcategory = 'big';
SELECT message, context ? 'blob' AS has_blob, context->'truncated_by_cryptoml' AS truncated,
       (context->>'original_bytes')::bigint > :cap AS size_noted
  FROM systemLogs WHERE subcategory = 'bigctx';
SELECT mode, queued, failed FROM ml_log_queue();
