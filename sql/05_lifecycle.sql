-- DROP EXTENSION then CREATE again leaves no orphans: no logger worker, no config, fresh state.
SELECT ml_config_set('features.rsiPeriod', '21');
SELECT ml_log('info', 'regress', 'lifecycle', 'before drop');
SELECT ml_log_flush();
DROP EXTENSION cryptoml;
-- the logger worker of this database exits once it is idle (cryptoml.log_worker_idle_timeout)
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'cryptoml logger' AND datname = current_database());
    PERFORM pg_sleep(0.1);
  END LOOP;
END
$$;
SELECT count(*) AS logger_workers FROM pg_stat_activity WHERE backend_type = 'cryptoml logger' AND datname = current_database();
SELECT count(*) AS leftover_objects FROM pg_namespace WHERE nspname = 'cryptoml_internal';
SELECT count(*) AS leftover_tables FROM pg_class WHERE relname IN ('rollingchartdata', 'systemlogs', 'recoverystate', 'config');
CREATE EXTENSION cryptoml;
SELECT ml_config_get('features.rsiPeriod') AS rsi_period_back_to_default;
SELECT ml_log('info', 'regress', 'lifecycle', 'after re-create');
SELECT ml_log_flush();
SELECT message FROM systemLogs WHERE subcategory = 'lifecycle';
SELECT mode, failed FROM ml_log_queue();
