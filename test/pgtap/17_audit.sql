-- Issue 16: the extension's own audit trail (cryptoml_internal.audit_log, read through
-- ml_audit_log). Every deploy, rollback, configuration change, grant and revoke, schedule change
-- and worker switch records who, what, old and new values and when; the entry survives the
-- caller's rollback and says whether its transaction committed. Only the admin level reads it;
-- nobody but the owner writes or alters it, and nobody can forge an entry through the function.
-- Model import and export are audited too (test/tap/model_bundle.sh).
BEGIN;
SELECT plan(43);
SET client_min_messages = warning;

SELECT coalesce(max(id), 0) AS audit_mark FROM cryptoml_internal.audit_log \gset
CREATE FUNCTION pg_temp.last_audit(a text) RETURNS ml_audit_log LANGUAGE sql AS $$
  SELECT * FROM ml_audit_log WHERE action = a AND id > current_setting('audit.mark')::bigint ORDER BY id DESC LIMIT 1 $$;
SELECT set_config('audit.mark', :'audit_mark', true);
SELECT ml_config_get('training.windowSize') AS window_before \gset

-- ---- configuration ----------------------------------------------------------------------
SELECT ml_config_set('training.windowSize', '700');
SELECT is((pg_temp.last_audit('config_set')).object, 'training.windowSize', 'config_set: the path is the object');
SELECT is((pg_temp.last_audit('config_set')).new_value, '700'::jsonb, 'config_set: the new value');
SELECT is((pg_temp.last_audit('config_set')).old_value, :'window_before'::jsonb, 'config_set: the old value');
SELECT is((pg_temp.last_audit('config_set')).session_role, session_user, 'config_set: the session role');
SELECT is((pg_temp.last_audit('config_set')).backend_pid, pg_backend_pid(), 'config_set: the backend');
SELECT is((pg_temp.last_audit('config_set')).outcome, 'in progress', 'config_set: its transaction is still open');
SELECT ok((pg_temp.last_audit('config_set')).logged_at BETWEEN now() AND clock_timestamp(), 'config_set: when');

-- a change rolled back by a SAVEPOINT: the entry stays and says aborted
SAVEPOINT s1;
SELECT ml_config_set('training.windowSize', '800');
ROLLBACK TO SAVEPOINT s1;
SELECT is((pg_temp.last_audit('config_set')).new_value, '800'::jsonb, 'a rolled-back change is still recorded');
SELECT is((pg_temp.last_audit('config_set')).outcome, 'aborted', '... and its outcome is aborted');
SELECT is(ml_config_get('training.windowSize'), '700'::jsonb, '... while the configuration kept the committed value');

SELECT ml_config_reset('training.windowSize');
SELECT is((pg_temp.last_audit('config_reset')).old_value, '700'::jsonb, 'config_reset: the old value');
SELECT is((pg_temp.last_audit('config_reset')).object, 'training.windowSize', 'config_reset: the path');

-- ---- deploy and rollback -------------------------------------------------------------------
INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples, forecast_horizon)
  VALUES ('audit_a', 'AUDITUSDT', 'xgboost', 100, 20, 15), ('audit_b', 'AUDITUSDT', 'xgboost', 100, 20, 15);
INSERT INTO cryptoml_internal.models (batch_id, model, feature_names, feature_set_version, model_sha256)
  VALUES ('audit_a', '\x00', '[]', 1, sha256('\x00')), ('audit_b', '\x01', '[]', 1, sha256('\x01'));
SELECT ml_deploy('audit_a');
SELECT is((pg_temp.last_audit('deploy')).object, 'audit_a', 'deploy: the batch');
SELECT is((pg_temp.last_audit('deploy')).old_value, NULL, 'deploy: no production model before');
SELECT is((pg_temp.last_audit('deploy')).new_value->>'symbol', 'AUDITUSDT', 'deploy: the symbol');
SELECT ml_deploy('audit_b');
SELECT is((pg_temp.last_audit('deploy')).old_value, '{"production": "audit_a"}'::jsonb, 'deploy: the model it replaced');
SELECT ml_rollback('AUDITUSDT', 15, 'xgboost');
SELECT is((pg_temp.last_audit('rollback')).object, 'audit_a', 'rollback: the batch put back');
SELECT is((pg_temp.last_audit('rollback')).old_value, '{"production": "audit_b"}'::jsonb, 'rollback: the model it replaced');
SELECT is((SELECT count(*)::int FROM ml_audit_log WHERE id > :audit_mark AND action IN ('deploy', 'rollback')), 3,
          'one entry per switch (a rollback is not also a deploy)');
SELECT is((SELECT action FROM cryptoml_internal.deployments WHERE symbol = 'AUDITUSDT' ORDER BY id DESC LIMIT 1), 'rollback',
          'the deployment history still says rollback');

-- ---- grants and revokes --------------------------------------------------------------------
CREATE ROLE audit_reader LOGIN;
CREATE ROLE audit_writer LOGIN;
CREATE ROLE audit_admin LOGIN;
SELECT ml_grant_access('audit_reader', 'reader');
SELECT ml_grant_access('audit_writer', 'writer');
SELECT ml_grant_access('audit_admin', 'admin');
SELECT is((pg_temp.last_audit('grant')).object, 'audit_admin', 'grant: the role');
SELECT is((pg_temp.last_audit('grant')).old_value, '{"access": "none"}'::jsonb, 'grant: what it had');
SELECT is((pg_temp.last_audit('grant')).new_value, '{"access": "admin", "granted": "admin"}'::jsonb, 'grant: what it has');
SELECT ml_revoke_access('audit_writer');
SELECT is((pg_temp.last_audit('revoke')).old_value, '{"access": "writer"}'::jsonb, 'revoke: what it had');
SELECT is((pg_temp.last_audit('revoke')).new_value, '{"access": "none"}'::jsonb, 'revoke: what it has');
SELECT ml_grant_access('audit_writer', 'writer');

-- ---- who reads the trail, who may write it --------------------------------------------------
SET ROLE audit_admin;
SELECT ok((SELECT count(*) FROM ml_audit_log WHERE id > :audit_mark) >= 10, 'the admin level reads the trail');
SELECT throws_ok($$SELECT cryptoml_internal.audit('deploy', 'forged', NULL, NULL)$$, '42501', NULL,
                 'an admin cannot write an entry, even given the function');
SELECT throws_ok($$DELETE FROM cryptoml_internal.audit_log$$, '42501', NULL, 'an admin cannot delete entries');
SELECT throws_ok($$UPDATE cryptoml_internal.audit_log SET action = 'x'$$, '42501', NULL, 'an admin cannot alter entries');
SELECT ml_config_set('training.windowSize', '650');
RESET ROLE;
SELECT is((pg_temp.last_audit('config_set')).acting_role, 'audit_admin'::name, 'the acting role is the caller, not the definer');
SET ROLE audit_reader;
SELECT throws_ok($$SELECT * FROM ml_audit_log$$, '42501', NULL, 'a reader cannot read the trail');
SELECT throws_ok($$SELECT * FROM cryptoml_internal.audit_log$$, '42501', NULL, 'a reader cannot read the table');
SELECT throws_ok($$INSERT INTO cryptoml_internal.audit_log (logged_at, action, session_role, acting_role, backend_pid) VALUES (now(), 'x', 'x', 'x', 1)$$,
                 '42501', NULL, 'a reader cannot write the table');
RESET ROLE;
SET ROLE audit_writer;
SELECT throws_ok($$SELECT * FROM ml_audit_log$$, '42501', NULL, 'a writer cannot read the trail');
SELECT throws_ok($$DELETE FROM cryptoml_internal.audit_log$$, '42501', NULL, 'a writer cannot delete entries');
SELECT throws_ok($$SELECT cryptoml_internal.audit('deploy', 'forged', NULL, NULL)$$, '42501', NULL, 'a writer cannot write an entry');
RESET ROLE;

-- ---- schedule --------------------------------------------------------------------------------
SELECT count(*) FROM ml_schedule();
SELECT ok((pg_temp.last_audit('schedule')).new_value ? 'cryptoml-retrain', 'schedule: the jobs as pg_cron holds them');
SELECT ml_unschedule();
SELECT is((pg_temp.last_audit('unschedule')).new_value, '{}'::jsonb, 'unschedule: no job left');
SELECT ok((pg_temp.last_audit('unschedule')).old_value ? 'cryptoml-fill-actuals', 'unschedule: the jobs before');

-- ---- pgAudit's object role must not be a role that gets real access through its grants ----------
SET LOCAL pgaudit.role = 'audit_admin';
SELECT throws_ok($$SELECT ml_pgaudit_objects()$$, '22023', NULL, 'ml_pgaudit_objects refuses a pgaudit.role that can log in');
SELECT ok(NOT has_table_privilege('audit_admin', 'cryptoml_internal.models', 'SELECT'), '... and grants it nothing');
RESET pgaudit.role;

-- ---- workers (a cluster-wide switch: not transactional) -----------------------------------------
SELECT ml_stop_workers();
SELECT is((pg_temp.last_audit('workers_stop')).outcome, 'not transactional', 'workers_stop: recorded, not transactional');
SELECT is((pg_temp.last_audit('workers_stop')).new_value, '{"enabled": false}'::jsonb, 'workers_stop: the new state');

SELECT * FROM finish();
ROLLBACK;
