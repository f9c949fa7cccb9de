-- recoveryState: checkpoints in their own committed steps; where did the last run stop?
-- Checkpoints survive the rollback of the operation that wrote them.
BEGIN;
SELECT ml_checkpoint('regress_backfill', 'BTCUSDT', 'intermediate', '{"last_bar": "2021-04-02T00:10:00"}');
SELECT ml_checkpoint('regress_backfill', 'BTCUSDT', 'intermediate', '{"last_bar": "2021-04-02T00:20:00"}');
ROLLBACK;
SELECT ml_checkpoint('regress_backfill', 'ETHUSDT', 'intermediate', '{"last_bar": "2021-04-02T00:05:00"}');
SELECT ml_checkpoint('regress_backfill', 'ETHUSDT', 'success', '{"last_bar": "2021-04-02T01:00:00"}');
SELECT ml_checkpoint('regress_training', 'sweep-1', 'error');
-- unfinished operations: BTCUSDT only (ETHUSDT succeeded, sweep-1 failed)
SELECT service_name, operation_id, checkpoints, state_data FROM ml_recovery_status() WHERE service_name LIKE 'regress%';
-- resume point
SELECT checkpoint_type, state_data FROM ml_recovery_last('regress_backfill', 'BTCUSDT');
SELECT checkpoint_type, state_data FROM ml_recovery_last('regress_backfill', 'ETHUSDT');
SELECT state_data FROM ml_recovery_last('regress_training', 'sweep-1');
SELECT * FROM ml_recovery_last('regress_backfill', 'never ran');
-- bad input
SELECT ml_checkpoint('regress_backfill', 'BTCUSDT', 'done');
SELECT ml_checkpoint(NULL, 'BTCUSDT', 'success');
SELECT ml_checkpoint('regress_backfill', NULL, 'success');
SELECT ml_checkpoint('regress_backfill', 'BTCUSDT', NULL);
SELECT ml_checkpoint(repeat('s', 51), 'op', 'success');
SELECT ml_checkpoint('svc', repeat('o', 101), 'success');
SELECT ml_checkpoint('svc', 'op', 'success', 'not json');
-- with system.enableRecovery off, checkpoints are not written
SELECT ml_config_set('system.enableRecovery', 'false');
SELECT ml_checkpoint('regress_disabled', 'op', 'intermediate');
SELECT ml_config_reset('system.enableRecovery');
SELECT count(*) AS disabled_rows FROM recoveryState WHERE service_name = 'regress_disabled';
