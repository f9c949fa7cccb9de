-- Least privilege: reader, writer and admin sets from ml_grant_access().
BEGIN;
SET client_min_messages = warning;
SELECT plan(57);

CREATE TABLE public.cml_tap_unrelated (secret text);  -- a user table sharing the extension's schema
CREATE ROLE cml_tap_reader;
CREATE ROLE cml_tap_writer;
CREATE ROLE cml_tap_admin;
CREATE ROLE cml_tap_nobody;
CREATE ROLE "cml tap; DROP TABLE rollingchartdata; --";
SELECT lives_ok($$SELECT ml_grant_access('cml_tap_reader', 'reader')$$, 'grant reader');
SELECT lives_ok($$SELECT ml_grant_access('cml_tap_writer', 'writer')$$, 'grant writer');
SELECT lives_ok($$SELECT ml_grant_access('cml_tap_admin', 'admin')$$, 'grant admin');
SELECT lives_ok($$SELECT ml_grant_access('"cml tap; DROP TABLE rollingchartdata; --"', 'reader')$$,
                'a role name with SQL in it is quoted, not executed');
SELECT has_table('rollingchartdata', 'the injected DROP did not run');
SELECT throws_ok($$SELECT ml_grant_access('cml_tap_reader', 'superuser')$$, '22023',
                 'invalid access level "superuser"', 'unknown access level rejected');
SELECT throws_ok($$SELECT ml_grant_access('no_such_role_xyz', 'reader')$$, '42704', NULL, 'unknown role rejected');
SELECT is(ml_grant_access(NULL, 'reader')::text, NULL, 'NULL role: STRICT, nothing granted');

INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
VALUES ('BTCUSDT', '2021-04-02 00:00', 1, 1, 1, 1, 1);
INSERT INTO systemLogs (level, category, message, context) VALUES ('info', 'tap', 'secret context', '{"token": "x"}');

-- reader: chart data, forecasts, simulations, registry metrics, logs without context
SET ROLE cml_tap_reader;
SELECT lives_ok('SELECT count(*) FROM rollingChartData', 'reader reads chart data');
SELECT lives_ok('SELECT count(*) FROM persistentForecasts', 'reader reads forecasts');
SELECT lives_ok('SELECT count(*) FROM tradeSimulations', 'reader reads simulations');
SELECT lives_ok('SELECT count(*) FROM mlTrainingBatches', 'reader reads model metrics');
SELECT lives_ok('SELECT id, level, category, message, timestamp FROM systemLogs', 'reader reads log messages');
SELECT throws_ok('SELECT context FROM systemLogs', '42501', NULL, 'reader cannot read log context');
SELECT throws_ok('SELECT stack_trace FROM systemLogs', '42501', NULL, 'reader cannot read stack traces');
SELECT throws_ok('SELECT * FROM systemLogs', '42501', NULL, 'reader cannot SELECT * from logs');
SELECT throws_ok('SELECT count(*) FROM cryptoml_internal.config', '42501', NULL, 'reader cannot reach internals (config, model bytes)');
SELECT throws_ok('SELECT count(*) FROM recoveryState', '42501', NULL, 'reader cannot read recovery state');
SELECT lives_ok('SELECT ml_config()', 'reader reads the config');
SELECT ok(has_function_privilege('cml_tap_reader', 'ml_forecast(text, integer)', 'EXECUTE'), 'reader may forecast');
SELECT ok(NOT has_function_privilege('cml_tap_nobody', 'ml_forecast(text, integer)', 'EXECUTE'), 'a role without a grant may not');
SELECT ok(NOT has_function_privilege('cml_tap_reader', 'ml_train(text, integer, text, jsonb)', 'EXECUTE'), 'reader may not train');
SELECT throws_ok($$SELECT ml_config_set('features.rsiPeriod', '21')$$, '42501', NULL, 'reader cannot change config');
SELECT throws_ok($$SELECT ml_config_reset_all()$$, '42501', NULL, 'reader cannot reset config');
SELECT throws_ok($$INSERT INTO rollingChartData (symbol, timestamp, close) VALUES ('ETHUSDT', '2021-04-02', 1)$$,
                 '42501', NULL, 'reader cannot insert candles');
SELECT throws_ok($$SELECT ml_log('info', 'tap', 'reader', 'x')$$, '42501', NULL, 'reader cannot write logs');
SELECT lives_ok('SELECT count(*) FROM ml_health()', 'reader reads ml_health()');
SELECT lives_ok('SELECT count(*) FROM ml_performance()', 'reader reads ml_performance()');
SELECT ok(NOT has_function_privilege('cml_tap_reader', 'ml_simulate(text, integer, float8, float8, float8, float8)', 'EXECUTE'),
          'reader may not open simulated trades');
SELECT lives_ok('SELECT count(*) FROM ml_chart_history', 'reader reads ml_chart_history');
SELECT throws_ok('SELECT count(*) FROM ml_monitor_check()', '42501', NULL, 'reader cannot run the monitor check (it writes alerts)');
SELECT throws_ok('SELECT count(*) FROM cryptoml_internal.chart_archive', '42501', NULL, 'reader cannot read the archive table directly');
RESET ROLE;

-- writer: inserts candles, writes logs and checkpoints, cannot change config
SET ROLE cml_tap_writer;
SELECT lives_ok($$INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                  VALUES ('ETHUSDT', '2021-04-02 00:00', 1, 1, 1, 1, 1)$$, 'writer inserts candles');
SELECT lives_ok($$SELECT ml_log('info', 'tap', 'writer', 'from the writer')$$, 'writer writes logs');
SELECT lives_ok($$SELECT ml_checkpoint('tap', 'writer-op', 'success')$$, 'writer writes checkpoints');
SELECT throws_ok($$SELECT ml_config_set('features.rsiPeriod', '21')$$, '42501', NULL, 'writer cannot change config');
SELECT throws_ok('DELETE FROM rollingChartData', '42501', NULL, 'writer cannot delete candles');
SELECT throws_ok('SELECT context FROM systemLogs', '42501', NULL, 'writer cannot read log context');
SELECT throws_ok($$SELECT ml_grant_access('cml_tap_writer', 'admin')$$, '42501', NULL, 'writer cannot escalate');
RESET ROLE;

-- admin: changes config, manages data; granting stays with the owner
SET ROLE cml_tap_admin;
SELECT is(ml_config_set('features.rsiPeriod', '21'), '21'::jsonb, 'admin changes config');
SELECT is(ml_config_reset('features.rsiPeriod'), '14'::jsonb, 'admin resets config');
SELECT lives_ok('SELECT context FROM systemLogs', 'admin reads log context');
SELECT lives_ok('DELETE FROM rollingChartData WHERE symbol = ''ETHUSDT''', 'admin deletes candles');
SELECT throws_ok($$SELECT ml_grant_access('cml_tap_nobody', 'admin')$$, '42501', NULL, 'admin cannot grant (owner only)');
SELECT throws_ok('SELECT * FROM cml_tap_unrelated', '42501', NULL, 'admin gets no privilege on other tables of the schema');
SELECT throws_ok('SELECT count(*) FROM cryptoml_internal.config', '42501', NULL, 'admin cannot read internals directly');
SELECT throws_ok('SELECT count(*) FROM cryptoml_internal.monitor_alerts', '42501', NULL, '... nor the open alerts');
SELECT throws_ok('DELETE FROM cryptoml_internal.chart_archive', '42501', NULL, '... nor the archive');
SELECT lives_ok('SELECT count(*) FROM ml_monitor_check()', 'admin runs the monitor check');
SELECT ok(has_function_privilege('cml_tap_admin', 'cryptoml_internal.retention_step(text, integer)', 'EXECUTE')
          AND has_function_privilege('cml_tap_admin', 'cryptoml_internal.compress_step(integer)', 'EXECUTE'),
          'admin may run the steps of the retention and compression procedures');
SELECT ok(NOT has_function_privilege('cml_tap_admin', 'cryptoml_internal.delete_history(text, timestamp, integer)', 'EXECUTE'),
          'but not the raw delete path under them');
SELECT ok(NOT has_function_privilege('cml_tap_writer', 'cryptoml_internal.retention_step(text, integer)', 'EXECUTE'),
          'a writer may not run retention');
SELECT lives_ok($$INSERT INTO persistentForecasts (symbol, forecast_type, forecast_horizon) VALUES ('BTCUSDT', 'trend', 5)$$,
                'admin writes forecasts (sequence granted)');
RESET ROLE;

-- a role with no grant sees nothing
SET ROLE cml_tap_nobody;
SELECT throws_ok('SELECT count(*) FROM rollingChartData', '42501', NULL, 'no grant: no chart data');
RESET ROLE;

-- revoke takes everything back
SELECT lives_ok($$SELECT ml_revoke_access('cml_tap_writer')$$, 'revoke writer');
SET ROLE cml_tap_writer;
SELECT throws_ok('SELECT count(*) FROM rollingChartData', '42501', NULL, 'revoked writer reads nothing');
SELECT throws_ok($$SELECT ml_log('info', 'tap', 'writer', 'x')$$, '42501', NULL, 'revoked writer cannot log');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
