-- Without cryptoml in shared_preload_libraries: everything callable, logging degrades clearly.
BEGIN;
SELECT plan(12);
SELECT is((SELECT mode FROM ml_log_queue()), 'direct', 'queue mode is direct');
SELECT is(ml_config_get('features.rsiPeriod'), '14'::jsonb, 'config works');
-- the first log call of the session warns once
CREATE TEMP TABLE notices (msg text);
SELECT lives_ok($$SELECT ml_log('info', 'tap', 'direct', 'first')$$, 'ml_log works without preload');
SELECT is((SELECT count(*)::int FROM systemLogs WHERE subcategory = 'direct'), 1, 'written in the caller''s transaction');
SELECT is(ml_log_flush(), true, 'flush has nothing to wait for');
SELECT lives_ok($$SELECT ml_checkpoint('tap', 'direct-op', 'intermediate')$$, 'checkpoints work without preload');
SELECT is((SELECT count(*)::int FROM ml_recovery_status() WHERE operation_id = 'direct-op'), 1, 'checkpoint visible');
SELECT is((SELECT string_agg(worker || ': ' || state, ', ' ORDER BY worker) FROM ml_workers()), 'forecaster: not loaded, ingest: not loaded, launcher: not loaded, monitor: not loaded',
          'ml_workers() says the workers are not loaded');
SELECT ok((SELECT bool_and(last_error LIKE '%shared_preload_libraries%') FROM ml_workers()), '... and how to load them');
SELECT throws_ok($$SELECT ml_start_workers()$$, '55000', 'the cryptoml workers are not loaded', 'ml_start_workers() refuses clearly');
SELECT is((SELECT value FROM ml_health() WHERE scope = 'system' AND metric = 'prediction_latency_p50'), NULL::float8,
          'ml_health(): no latency figures without the shared memory');
SELECT is((SELECT detail FROM ml_health() WHERE scope = 'system' AND metric = 'prediction_latency_p50'),
          'not measured: cryptoml is not in shared_preload_libraries', '... and it says why');
SELECT * FROM finish();
ROLLBACK;
