-- Without cryptoml in shared_preload_libraries: everything callable, logging degrades clearly.
BEGIN;
SELECT plan(7);
SELECT is((SELECT mode FROM ml_log_queue()), 'direct', 'queue mode is direct');
SELECT is(ml_config_get('features.rsiPeriod'), '14'::jsonb, 'config works');
-- the first log call of the session warns once
CREATE TEMP TABLE notices (msg text);
SELECT lives_ok($$SELECT ml_log('info', 'tap', 'direct', 'first')$$, 'ml_log works without preload');
SELECT is((SELECT count(*)::int FROM systemLogs WHERE subcategory = 'direct'), 1, 'written in the caller''s transaction');
SELECT is(ml_log_flush(), true, 'flush has nothing to wait for');
SELECT lives_ok($$SELECT ml_checkpoint('tap', 'direct-op', 'intermediate')$$, 'checkpoints work without preload');
SELECT is((SELECT count(*)::int FROM ml_recovery_status() WHERE operation_id = 'direct-op'), 1, 'checkpoint visible');
SELECT * FROM finish();
ROLLBACK;
