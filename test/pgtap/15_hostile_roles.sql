-- Issue 14: hostile roles. A reader, a writer and an admin (ml_grant_access) try what a hostile
-- or careless holder of each level would: triggers, TRUNCATE, ALTER, foreign keys onto the
-- extension's tables, the internals, the admin functions, indicator columns written by hand,
-- objects planted on their search_path to capture the extension's own queries (operators,
-- functions and relations that shadow pg_catalog's and the extension's), and checkpoints forged in
-- recoveryState that the extension's resumable operations must never trust.
--
-- ml_retrain_all and ml_recompute_indicators commit, so this file cannot run in one transaction:
-- it commits its roles and data, and drops or deletes all of it at the end (and at the start,
-- should an earlier run have been interrupted). Every hostile statement runs in a subtransaction
-- that is undone even when it wrongly succeeds (pg_temp.refused), and a checksum of the
-- extension's tables, privileges and triggers shows that none of them changed.
SELECT coalesce(max(id), 0) AS hostile_log_mark FROM systemLogs \gset
SELECT coalesce(max(id), 0) AS hostile_rs_mark FROM recoveryState \gset
SET client_min_messages = error;

-- what an interrupted earlier run may have left
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['hostile_reader', 'hostile_writer', 'hostile_admin'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('DROP OWNED BY %I', r);
      EXECUTE format('DROP ROLE %I', r);
    END IF;
  END LOOP;
END $$;
DROP SCHEMA IF EXISTS hostile_scratch CASCADE;
CREATE FUNCTION pg_temp.forget_hbar() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM recoveryState WHERE service_name = 'hostile'
     OR (service_name = 'ml_training' AND operation_id = 'retrain_all xgboost ' || md5('{"num_rounds": 2}'::jsonb::text))
     OR (service_name = 'indicators' AND operation_id = 'recompute HBARUSDT')
     OR (service_name = 'backtest' AND operation_id IN (SELECT run_id FROM mlBacktestRuns WHERE symbol = 'HBARUSDT'));
  DELETE FROM mlBacktestRuns WHERE symbol = 'HBARUSDT';
  DELETE FROM tradeSimulations WHERE symbol = 'HBARUSDT';
  DELETE FROM persistentForecasts WHERE symbol = 'HBARUSDT';
  DELETE FROM cryptoml_internal.ensemble_members WHERE ensemble_batch_id IN (SELECT batch_id FROM mlTrainingBatches WHERE symbol = 'HBARUSDT');
  DELETE FROM mlTrainingBatches WHERE symbol = 'HBARUSDT';
  DELETE FROM cryptoml_internal.deployments WHERE symbol = 'HBARUSDT';
  DELETE FROM mlTrainingSamples WHERE symbol = 'HBARUSDT';
  DELETE FROM rollingChartData WHERE symbol = 'HBARUSDT';
  DELETE FROM cryptoml_internal.indicator_checkpoint WHERE symbol = 'HBARUSDT';
  DELETE FROM cryptoml_internal.monitor_alerts WHERE symbol = 'HBARUSDT';
  DELETE FROM cryptoml_internal.ingest_state WHERE symbol = 'HBARUSDT';
  PERFORM ml_config_reset('features.rsiPeriod');
  PERFORM ml_config_reset('inference.confidenceThreshold');
END $$;
SELECT pg_temp.forget_hbar();

SELECT plan(212);

-- Helpers: checksums of the stored state, snapshots, refused() / runs()
\ir ../pgtap_lib/hostile_helpers.sql
-- SQL that undoes a statement's effects when it succeeds (raising HH000), for throws_ok
CREATE FUNCTION pg_temp.undone(sql text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('DO $undo$ BEGIN EXECUTE %L; RAISE EXCEPTION ''the statement succeeded (its effects were undone)'' USING ERRCODE = ''HH000''; END $undo$', sql)
$$;

-- n bars of a seeded random walk, one per minute from `start`
CREATE FUNCTION pg_temp.walk(sym text, start timestamp, n integer, base float8, seed float8) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM setseed(seed);
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT sym, start + make_interval(mins => i), round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8),
         round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10 + i % 9
    FROM (SELECT i, base * exp(sum(r) OVER (ORDER BY i)) AS c
            FROM (SELECT i, (random() - 0.5) * 0.004 AS r FROM generate_series(0, n - 1) i) x) y;
END $$;
CREATE FUNCTION pg_temp.near(a numeric, b float8, scale integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT (a IS NULL AND b IS NULL) OR abs(a - b::numeric) <= 0.5 * 10 ^ (-scale)
$$;
-- The indicator columns of a symbol's bar that differ from what the array functions give over the
-- symbol's bars (the default features settings; a bar's values depend on the bars up to it only):
-- what a fresh session computes. NULL when there is no such bar.
CREATE FUNCTION pg_temp.wrong_indicators(sym text, at timestamp) RETURNS text[] LANGUAGE sql AS $$
  WITH a AS (SELECT array_agg(r.high::float8 ORDER BY r.timestamp) AS h, array_agg(r.low::float8 ORDER BY r.timestamp) AS l,
                    array_agg(r.close::float8 ORDER BY r.timestamp) AS c, array_agg(r.timestamp ORDER BY r.timestamp) AS ts
               FROM rollingChartData r WHERE r.symbol = sym),
  s AS (SELECT a.h, a.l, a.c, array_position(a.ts, at) AS n FROM a),
  ref AS (SELECT (ml_rsi(s.c, 14))[s.n] AS rsi, m.macd[s.n] AS macd, m.signal[s.n] AS ms, m.hist[s.n] AS mh,
                 b.upper[s.n] AS bu, b.middle[s.n] AS bm, b.lower[s.n] AS bl, st.k[s.n] AS sk, st.d[s.n] AS sd,
                 (ml_volatility(s.c, 5))[s.n] AS vol
            FROM s, ml_macd(s.c, 12, 26, 9) m, ml_bollinger(s.c, 20, 2) b, ml_stochastic(s.h, s.l, s.c, 14, 3) st)
  SELECT array_remove(ARRAY[
           CASE WHEN NOT pg_temp.near(r.rsi, ref.rsi, 4) THEN 'rsi' END,
           CASE WHEN NOT pg_temp.near(r.macd, ref.macd, 8) THEN 'macd' END,
           CASE WHEN NOT pg_temp.near(r.macd_signal, ref.ms, 8) THEN 'macd_signal' END,
           CASE WHEN NOT pg_temp.near(r.macd_hist, ref.mh, 8) THEN 'macd_hist' END,
           CASE WHEN NOT pg_temp.near(r.bollinger_upper, ref.bu, 8) THEN 'bollinger_upper' END,
           CASE WHEN NOT pg_temp.near(r.bollinger_middle, ref.bm, 8) THEN 'bollinger_middle' END,
           CASE WHEN NOT pg_temp.near(r.bollinger_lower, ref.bl, 8) THEN 'bollinger_lower' END,
           CASE WHEN NOT pg_temp.near(r.stochastic_k, ref.sk, 4) THEN 'stochastic_k' END,
           CASE WHEN NOT pg_temp.near(r.stochastic_d, ref.sd, 4) THEN 'stochastic_d' END,
           CASE WHEN NOT pg_temp.near(r.volatility, ref.vol, 6) THEN 'volatility' END,
           CASE WHEN r.is_complete IS DISTINCT FROM (ref.rsi IS NOT NULL AND ref.macd IS NOT NULL AND ref.bu IS NOT NULL
                     AND ref.bl IS NOT NULL AND ref.sk IS NOT NULL AND ref.sd IS NOT NULL AND ref.vol IS NOT NULL) THEN 'is_complete' END], NULL)
    FROM ref, rollingChartData r WHERE r.symbol = sym AND r.timestamp = at
$$;
-- bars of a symbol whose stored indicators differ from the array functions over all its bars
CREATE FUNCTION pg_temp.symbol_mismatches(sym text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM rollingChartData r WHERE r.symbol = sym AND pg_temp.wrong_indicators(sym, r.timestamp) <> '{}'
$$;

-- an attack (a statement) and the levels it is tried as
CREATE TEMP TABLE attacks (n serial, who text[], sql text, state text, msg text, descr text);
GRANT SELECT ON attacks TO PUBLIC;
-- every attack the current role is listed for: refused, with the SQLSTATE and message wanted, and undone
CREATE FUNCTION pg_temp.attack(level text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  a attacks;
  list attacks[];
BEGIN
  list := ARRAY(SELECT x FROM attacks x WHERE level = ANY (x.who) ORDER BY x.n);
  FOREACH a IN ARRAY list LOOP
    RETURN NEXT pg_temp.refused(a.sql, a.state, a.msg, level || ': ' || a.descr);
  END LOOP;
END $$;

-- ===========================================================================================
-- Roles, a schema of their own (as a user's schema on their search_path would be), data
-- ===========================================================================================
CREATE ROLE hostile_reader;
CREATE ROLE hostile_writer;
CREATE ROLE hostile_admin;
SELECT ml_grant_access('hostile_reader', 'reader');
SELECT ml_grant_access('hostile_writer', 'writer');
SELECT ml_grant_access('hostile_admin', 'admin');
CREATE SCHEMA hostile_scratch;
GRANT USAGE, CREATE ON SCHEMA hostile_scratch TO hostile_reader, hostile_writer, hostile_admin;
-- what planted objects record when something calls them: who ran them (current_user), what, and
-- the entry point the test was exercising
CREATE TABLE hostile_scratch.canary (usr name, what text, entry text);
GRANT INSERT, SELECT ON hostile_scratch.canary TO PUBLIC;
-- errors of the admin's entry points below (they should run; only what they resolve is tested)
CREATE TABLE hostile_scratch.errors (entry text, msg text);
GRANT INSERT ON hostile_scratch.errors TO PUBLIC;
SELECT pg_temp.walk('HBARUSDT', '2021-06-01', 300, 0.25, 0.61);
SELECT ml_build_samples('HBARUSDT', 5) > 0;
ANALYZE rollingChartData;

-- ===========================================================================================
-- Table-level attacks
-- ===========================================================================================
INSERT INTO attacks (who, sql, state, msg, descr) VALUES
  ('{reader,writer,admin}', $$CREATE TRIGGER hostile_t BEFORE UPDATE ON public.rollingChartData FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()$$,
   '42501', NULL, 'CREATE TRIGGER on rollingChartData (TRIGGER is never granted)'),
  ('{reader,writer,admin}', $$CREATE TRIGGER hostile_t BEFORE UPDATE ON public.systemLogs FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()$$,
   '42501', NULL, 'CREATE TRIGGER on systemLogs'),
  ('{reader,writer,admin}', $$CREATE TRIGGER hostile_t BEFORE UPDATE ON public.mlTrainingBatches FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()$$,
   '42501', NULL, 'CREATE TRIGGER on mlTrainingBatches'),
  ('{reader,writer,admin}', $$CREATE TRIGGER hostile_t BEFORE UPDATE ON public.recoveryState FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()$$,
   '42501', NULL, 'CREATE TRIGGER on recoveryState'),
  ('{reader,writer,admin}', $$TRUNCATE public.rollingChartData$$, '42501', NULL, 'TRUNCATE rollingChartData'),
  ('{reader,writer,admin}', $$TRUNCATE public.systemLogs$$, '42501', NULL, 'TRUNCATE systemLogs'),
  ('{reader,writer,admin}', $$TRUNCATE public.persistentForecasts$$, '42501', NULL, 'TRUNCATE persistentForecasts'),
  ('{reader,writer,admin}', $$ALTER TABLE public.rollingChartData ADD COLUMN hostile integer$$, '42501', NULL, 'ALTER TABLE rollingChartData ADD COLUMN'),
  ('{reader,writer,admin}', $$ALTER TABLE public.rollingChartData DISABLE TRIGGER zz_cryptoml_indicators_row$$, '42501', NULL, 'ALTER TABLE rollingChartData DISABLE TRIGGER'),
  ('{reader,writer,admin}', $$ALTER TABLE public.recoveryState ALTER COLUMN origin SET DEFAULT 'cryptoml'$$, '42501', NULL, 'ALTER TABLE recoveryState: origin defaults to cryptoml'),
  ('{reader,writer,admin}', $$ALTER TABLE public.rollingChartData ENABLE ROW LEVEL SECURITY$$, '42501', NULL, 'ALTER TABLE rollingChartData ENABLE ROW LEVEL SECURITY'),
  ('{reader,writer,admin}', $$CREATE INDEX hostile_idx ON public.rollingChartData (volume)$$, '42501', NULL, 'CREATE INDEX on rollingChartData'),
  ('{reader,writer,admin}', $$CREATE RULE hostile_r AS ON INSERT TO public.rollingChartData DO ALSO NOTHING$$, '42501', NULL, 'CREATE RULE on rollingChartData'),
  ('{reader,writer,admin}', $$COMMENT ON TABLE public.rollingChartData IS 'hostile'$$, '42501', NULL, 'COMMENT ON TABLE rollingChartData'),
  ('{reader,writer,admin}', $$CREATE TABLE hostile_scratch.fk_bars (id integer REFERENCES public.rollingChartData (id))$$,
   '42501', NULL, 'a foreign key REFERENCES rollingChartData (REFERENCES is never granted)'),
  ('{reader,writer,admin}', $$CREATE TABLE hostile_scratch.fk_batches (batch_id varchar(50) REFERENCES public.mlTrainingBatches (batch_id) ON DELETE RESTRICT)$$,
   '42501', NULL, 'a foreign key REFERENCES mlTrainingBatches'),
  ('{reader,writer,admin}', $$CREATE TABLE hostile_scratch.fk_samples (id integer REFERENCES public.mlTrainingSamples (id))$$,
   '42501', NULL, 'a foreign key REFERENCES mlTrainingSamples'),
  ('{reader,writer,admin}', $$SELECT count(*) FROM cryptoml_internal.models$$, '42501', NULL, 'read cryptoml_internal.models (model bytes)'),
  ('{reader,writer,admin}', $$SELECT count(*) FROM cryptoml_internal.config$$, '42501', NULL, 'read cryptoml_internal.config'),
  ('{reader,writer,admin}', $$SELECT count(*) FROM cryptoml_internal.deployments$$, '42501', NULL, 'read cryptoml_internal.deployments'),
  ('{reader,writer,admin}', $$SELECT count(*) FROM cryptoml_internal.indicator_checkpoint$$, '42501', NULL, 'read cryptoml_internal.indicator_checkpoint'),
  ('{reader,writer,admin}', $$UPDATE cryptoml_internal.config SET value = '1'$$, '42501', NULL, 'write cryptoml_internal.config'),
  ('{reader,writer,admin}', $$DELETE FROM cryptoml_internal.indicator_checkpoint$$, '42501', NULL, 'delete indicator checkpoints'),
  ('{reader,writer,admin}', $$INSERT INTO public.recoveryState (service_name, operation_id, checkpoint_type, origin) VALUES ('ml_training', 'x', 'intermediate', 'cryptoml')$$,
   '42501', NULL, 'insert a checkpoint with origin cryptoml'),
  ('{reader,writer,admin}', $$UPDATE public.recoveryState SET origin = 'cryptoml'$$, '42501', NULL, 'turn checkpoints into cryptoml''s'),
  ('{reader,writer,admin}', $$UPDATE public.systemLogs SET message = 'hostile'$$, '42501', NULL, 'rewrite log entries'),
  ('{reader,writer,admin}', $$SELECT cryptoml_internal.delete_history('HBARUSDT', '2030-01-01', 10)$$, '42501', NULL, 'the raw delete path of retention'),
  ('{reader,writer,admin}', $$SELECT cryptoml_internal.store_klines('binance-us', 'HBARUSDT', '{}', '{}', '{}', '{}', '{}', '{}')$$, '42501', NULL, 'the ingest upsert, without its validation'),
  ('{reader,writer,admin}', $$SELECT cryptoml_internal.features_to_vector('{}')$$, '42501', NULL, 'cryptoml_internal.features_to_vector'),
  ('{reader,writer,admin}', $$SELECT ml_grant_access(current_user::regrole, 'admin')$$, '42501', NULL, 'grant itself admin'),
  ('{reader,writer,admin}', $$SELECT ml_revoke_access('hostile_reader')$$, '42501', NULL, 'revoke another role'),
  ('{reader,writer,admin}', $$ALTER FUNCTION public.ml_forecast(text, integer) SECURITY INVOKER$$, '42501', NULL, 'ALTER FUNCTION ml_forecast'),
  ('{reader,writer,admin}', $$CREATE OR REPLACE FUNCTION public.ml_version() RETURNS text LANGUAGE sql AS 'SELECT ''hostile'''$$, '42501', NULL, 'replace ml_version()'),
  ('{reader,writer,admin}', $$SET session_replication_role = replica$$, '42501', NULL, 'SET session_replication_role = replica (bars without triggers)'),
  ('{reader,writer,admin}', $$DROP EXTENSION cryptoml CASCADE$$, '42501', NULL, 'DROP EXTENSION cryptoml'),
  ('{reader,writer}', $$SELECT cryptoml_internal.sweep_checkpoint('retrain_all xgboost x', '{"done": []}', 'intermediate')$$, '42501', NULL,
   'write a checkpoint of ml_retrain_all with origin cryptoml'),
  ('{reader,writer}', $$DELETE FROM public.rollingChartData WHERE symbol = 'HBARUSDT'$$, '42501', NULL, 'delete candles'),
  ('{reader,writer}', $$UPDATE public.mlTrainingBatches SET is_production = true$$, '42501', NULL, 'promote models by hand'),
  ('{reader,writer}', $$INSERT INTO public.mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples) VALUES ('x', 'HBARUSDT', 'xgboost', 1, 1)$$,
   '42501', NULL, 'register a model by hand'),
  ('{reader,writer}', $$DELETE FROM public.recoveryState$$, '42501', NULL, 'delete checkpoints'),
  ('{reader,writer}', $$DELETE FROM public.systemLogs$$, '42501', NULL, 'delete log entries'),
  ('{reader,writer}', $$SELECT context FROM public.systemLogs$$, '42501', NULL, 'read log context'),
  ('{reader,writer}', $$SELECT * FROM ml_train('HBARUSDT', 5, 'xgboost', '{"num_rounds": 2}')$$, '42501', NULL, 'ml_train'),
  ('{reader,writer}', $$SELECT * FROM ml_deploy('x')$$, '42501', NULL, 'ml_deploy'),
  ('{reader,writer}', $$SELECT * FROM ml_rollback('HBARUSDT', 5)$$, '42501', NULL, 'ml_rollback'),
  ('{reader,writer}', $$SELECT ml_build_samples('HBARUSDT', 5)$$, '42501', NULL, 'ml_build_samples'),
  ('{reader,writer}', $$SELECT * FROM ml_backtest('HBARUSDT', 5)$$, '42501', NULL, 'ml_backtest'),
  ('{reader,writer}', $$SELECT * FROM ml_simulate('HBARUSDT', 5)$$, '42501', NULL, 'ml_simulate'),
  ('{reader,writer}', $$SELECT ml_fill_actuals()$$, '42501', NULL, 'ml_fill_actuals'),
  ('{reader,writer}', $$SELECT * FROM ml_check_drift()$$, '42501', NULL, 'ml_check_drift'),
  ('{reader,writer}', $$SELECT * FROM ml_monitor_check('HBARUSDT')$$, '42501', NULL, 'ml_monitor_check'),
  ('{reader,writer}', $$SELECT ml_forecast_all('HBARUSDT')$$, '42501', NULL, 'ml_forecast_all'),
  ('{reader,writer}', $$SELECT ml_config_set('features.rsiPeriod', '21')$$, '42501', NULL, 'ml_config_set'),
  ('{reader,writer}', $$SELECT ml_config_reset('features.rsiPeriod')$$, '42501', NULL, 'ml_config_reset'),
  ('{reader,writer}', $$SELECT ml_config_reset_all()$$, '42501', NULL, 'ml_config_reset_all'),
  ('{reader,writer}', $$SELECT * FROM ml_schedule()$$, '42501', NULL, 'ml_schedule'),
  ('{reader,writer}', $$SELECT ml_stop_workers()$$, '42501', NULL, 'ml_stop_workers'),
  ('{reader,writer}', $$CALL ml_recompute_indicators('HBARUSDT')$$, '42501', NULL, 'CALL ml_recompute_indicators'),
  ('{reader,writer}', $$CALL ml_retrain_all()$$, '42501', NULL, 'CALL ml_retrain_all'),
  ('{reader,writer}', $$CALL ml_build_samples_all()$$, '42501', NULL, 'CALL ml_build_samples_all'),
  ('{reader,writer}', $$CALL ml_apply_retention()$$, '42501', NULL, 'CALL ml_apply_retention'),
  ('{reader,writer}', $$CALL ml_compress_history()$$, '42501', NULL, 'CALL ml_compress_history'),
  ('{reader}', $$INSERT INTO public.rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('HBARUSDT', '2021-06-01 06:00', 1, 1, 1, 1, 1)$$,
   '42501', NULL, 'insert a candle'),
  ('{reader}', $$UPDATE public.rollingChartData SET volume = 0 WHERE symbol = 'HBARUSDT'$$, '42501', NULL, 'update candles'),
  ('{reader}', $$SELECT ml_ingest_klines('binance-us', 'HBARUSDT', '[]')$$, '42501', NULL, 'ml_ingest_klines'),
  ('{reader}', $$SELECT ml_log('info', 'hostile', 'x', 'm')$$, '42501', NULL, 'ml_log'),
  ('{reader}', $$SELECT ml_checkpoint('hostile', 'x', 'success')$$, '42501', NULL, 'ml_checkpoint'),
  ('{reader}', $$SELECT * FROM ml_recovery_last('hostile', 'x')$$, '42501', NULL, 'ml_recovery_last'),
  ('{reader}', $$INSERT INTO public.recoveryState (service_name, operation_id, checkpoint_type) VALUES ('hostile', 'x', 'success')$$, '42501', NULL, 'insert a checkpoint'),
  ('{reader}', $$SELECT count(*) FROM public.recoveryState$$, '42501', NULL, 'read recoveryState');

SELECT pg_temp.snap('attacks');
SET ROLE hostile_reader;
SELECT * FROM pg_temp.attack('reader');
RESET ROLE;
SET ROLE hostile_writer;
SELECT * FROM pg_temp.attack('writer');
RESET ROLE;
SET ROLE hostile_admin;
SELECT * FROM pg_temp.attack('admin');
RESET ROLE;
SELECT pg_temp.unchanged('attacks');
SELECT ok(NOT has_table_privilege('hostile_admin', 'rollingchartdata', 'TRIGGER') AND NOT has_table_privilege('hostile_admin', 'rollingchartdata', 'TRUNCATE')
          AND NOT has_table_privilege('hostile_admin', 'rollingchartdata', 'REFERENCES') AND NOT has_table_privilege('hostile_admin', 'mltrainingbatches', 'TRIGGER')
          AND NOT has_table_privilege('hostile_admin', 'systemlogs', 'TRIGGER') AND NOT has_table_privilege('hostile_admin', 'recoverystate', 'UPDATE'),
          'admin holds no TRIGGER, TRUNCATE or REFERENCES privilege, and may not update recoveryState');

-- indicator columns: a writer's and an admin's UPDATE of them has no effect
CREATE TEMP TABLE hbar_before AS
SELECT timestamp, rsi, macd, bollinger_upper, stochastic_k, volatility, is_complete FROM rollingChartData WHERE symbol = 'HBARUSDT';
GRANT SELECT ON hbar_before TO PUBLIC;
CREATE FUNCTION pg_temp.hbar_indicators_changed() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM hbar_before b JOIN rollingChartData r ON r.symbol = 'HBARUSDT' AND r.timestamp = b.timestamp
   WHERE (b.rsi, b.macd, b.bollinger_upper, b.stochastic_k, b.volatility, b.is_complete)
         IS DISTINCT FROM (r.rsi, r.macd, r.bollinger_upper, r.stochastic_k, r.volatility, r.is_complete)
$$;
SET ROLE hostile_writer;
SELECT lives_ok($$UPDATE public.rollingChartData SET rsi = 99.99, macd = 12345, is_complete = false WHERE symbol = 'HBARUSDT' AND timestamp >= '2021-06-01 02:00'$$,
                'writer: UPDATE of indicator columns runs...');
RESET ROLE;
SELECT is(pg_temp.hbar_indicators_changed(), 0::bigint, '... and changes no indicator');
SET ROLE hostile_admin;
SELECT lives_ok($$UPDATE public.rollingChartData SET volatility = 0, stochastic_k = 100, bollinger_upper = 1 WHERE symbol = 'HBARUSDT'$$,
                'admin: UPDATE of indicator columns runs...');
RESET ROLE;
SELECT is(pg_temp.hbar_indicators_changed(), 0::bigint, '... and changes no indicator');

-- ===========================================================================================
-- Objects planted on the search_path. The writer creates, in its own schema, operators and
-- functions that shadow pg_catalog's and views that shadow the extension's tables; they behave as
-- the originals and record who ran them. With that schema first on the search_path, the writer
-- and then the admin call every entry point they may: the extension's code must never resolve a
-- planted object (it pins search_path = pg_catalog, pg_temp and qualifies its names), least of
-- all as the extension's owner.
-- ===========================================================================================
SET ROLE hostile_writer;
CREATE FUNCTION hostile_scratch.note(what text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO hostile_scratch.canary (usr, what, entry) VALUES (current_user, what, current_setting('hostile.entry', true));
  RETURN true;
END $$;
CREATE FUNCTION hostile_scratch.eq(a text, b text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('operator =(text, text)'); RETURN a = b; END $$;
CREATE FUNCTION hostile_scratch.eq(a varchar, b text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('operator =(varchar, text)'); RETURN a::text = b; END $$;
CREATE FUNCTION hostile_scratch.eq(a text, b varchar) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('operator =(text, varchar)'); RETURN a = b::text; END $$;
CREATE FUNCTION hostile_scratch.eq(a varchar, b varchar) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('operator =(varchar, varchar)'); RETURN a::text = b::text; END $$;
CREATE FUNCTION hostile_scratch.eq(a integer, b integer) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('operator =(integer, integer)'); RETURN a = b; END $$;
CREATE FUNCTION hostile_scratch.eq(a timestamp, b timestamp) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('operator =(timestamp, timestamp)'); RETURN a = b; END $$;
CREATE FUNCTION hostile_scratch.lt(a timestamp, b timestamp) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('operator <(timestamp, timestamp)'); RETURN a < b; END $$;
CREATE FUNCTION hostile_scratch.gt(a timestamp, b timestamp) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('operator >(timestamp, timestamp)'); RETURN a > b; END $$;
CREATE FUNCTION hostile_scratch.cat(a text, b text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('operator ||(text, text)'); RETURN a || b; END $$;
CREATE OPERATOR hostile_scratch.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile_scratch.eq);
CREATE OPERATOR hostile_scratch.= (LEFTARG = varchar, RIGHTARG = text, FUNCTION = hostile_scratch.eq);
CREATE OPERATOR hostile_scratch.= (LEFTARG = text, RIGHTARG = varchar, FUNCTION = hostile_scratch.eq);
CREATE OPERATOR hostile_scratch.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = hostile_scratch.eq);
CREATE OPERATOR hostile_scratch.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = hostile_scratch.eq);
CREATE OPERATOR hostile_scratch.= (LEFTARG = timestamp, RIGHTARG = timestamp, FUNCTION = hostile_scratch.eq);
CREATE OPERATOR hostile_scratch.< (LEFTARG = timestamp, RIGHTARG = timestamp, FUNCTION = hostile_scratch.lt);
CREATE OPERATOR hostile_scratch.> (LEFTARG = timestamp, RIGHTARG = timestamp, FUNCTION = hostile_scratch.gt);
CREATE OPERATOR hostile_scratch.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile_scratch.cat);
CREATE FUNCTION hostile_scratch.now() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function now()'); RETURN now(); END $$;
CREATE FUNCTION hostile_scratch.md5(t text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function md5(text)'); RETURN md5(t); END $$;
CREATE FUNCTION hostile_scratch.lower(t text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function lower(text)'); RETURN lower(t); END $$;
CREATE FUNCTION hostile_scratch.length(t text) RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function length(text)'); RETURN length(t); END $$;
CREATE FUNCTION hostile_scratch.round(x numeric, s integer) RETURNS numeric LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function round(numeric, integer)'); RETURN round(x, s); END $$;
CREATE FUNCTION hostile_scratch.sqrt(x double precision) RETURNS double precision LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function sqrt(float8)'); RETURN sqrt(x); END $$;
CREATE FUNCTION hostile_scratch.hashtext(t text) RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function hashtext(text)'); RETURN hashtext(t); END $$;
CREATE FUNCTION hostile_scratch.to_jsonb(x anyelement) RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function to_jsonb(anyelement)'); RETURN to_jsonb(x); END $$;
CREATE FUNCTION hostile_scratch.jsonb_typeof(j jsonb) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function jsonb_typeof(jsonb)'); RETURN jsonb_typeof(j); END $$;
CREATE FUNCTION hostile_scratch.jsonb_array_elements_text(j jsonb) RETURNS SETOF text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function jsonb_array_elements_text(jsonb)'); RETURN QUERY SELECT jsonb_array_elements_text(j); END $$;
CREATE FUNCTION hostile_scratch.generate_series(a integer, b integer) RETURNS SETOF integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function generate_series(integer, integer)'); RETURN QUERY SELECT generate_series(a, b); END $$;
CREATE FUNCTION hostile_scratch.unnest(a anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function unnest(anyarray)'); RETURN QUERY SELECT unnest(a); END $$;
CREATE FUNCTION hostile_scratch.pg_advisory_xact_lock(a integer, b integer) RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile_scratch.note('function pg_advisory_xact_lock(integer, integer)'); PERFORM pg_advisory_xact_lock(a, b); END $$;
CREATE VIEW hostile_scratch.rollingchartdata AS SELECT * FROM public.rollingchartdata WHERE hostile_scratch.note('relation rollingchartdata');
CREATE VIEW hostile_scratch.recoverystate AS SELECT * FROM public.recoverystate WHERE hostile_scratch.note('relation recoverystate');
CREATE VIEW hostile_scratch.mltrainingbatches AS SELECT * FROM public.mltrainingbatches WHERE hostile_scratch.note('relation mltrainingbatches');
CREATE VIEW hostile_scratch.mltrainingsamples AS SELECT * FROM public.mltrainingsamples WHERE hostile_scratch.note('relation mltrainingsamples');
CREATE VIEW hostile_scratch.persistentforecasts AS SELECT * FROM public.persistentforecasts WHERE hostile_scratch.note('relation persistentforecasts');
CREATE VIEW hostile_scratch.tradesimulations AS SELECT * FROM public.tradesimulations WHERE hostile_scratch.note('relation tradesimulations');
GRANT SELECT ON ALL TABLES IN SCHEMA hostile_scratch TO PUBLIC;
RESET ROLE;
-- who ran planted objects, and which, while the test exercised `entry`
CREATE FUNCTION pg_temp.planted(entry_like text) RETURNS text[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(DISTINCT c.usr || ' ran ' || c.what ORDER BY c.usr || ' ran ' || c.what), '{}')
    FROM hostile_scratch.canary c WHERE c.entry LIKE entry_like
$$;
-- the canary itself works: a query that resolves the planted operator is recorded
SET hostile.entry = 'self-test';
SET search_path = hostile_scratch, public, pg_catalog;
SELECT count(*) FROM public.rollingChartData WHERE symbol = 'HBARUSDT'::text;
RESET search_path;
SELECT is(pg_temp.planted('self-test'), ARRAY[current_user || ' ran operator =(varchar, text)'], 'the planted objects record who resolves them (self-test)');

-- the writer's entry points, with the planted schema first on the search_path
SET ROLE hostile_writer;
SET search_path = hostile_scratch, public, pg_catalog;
SET hostile.entry = 'writer: INSERT of bars';
INSERT INTO public.rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES
  ('HBARUSDT', '2021-06-01 05:00', 0.25, 0.2501, 0.2499, 0.25, 3), ('HBARUSDT', '2021-06-01 05:01', 0.25, 0.2502, 0.2498, 0.2501, 3);
SET hostile.entry = 'writer: INSERT of a late bar';
INSERT INTO public.rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('HBARUSDT', '2021-06-01 05:03', 0.25, 0.2501, 0.2499, 0.25, 3);
INSERT INTO public.rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('HBARUSDT', '2021-06-01 05:02', 0.25, 0.2501, 0.2499, 0.25, 3);
SET hostile.entry = 'writer: UPDATE of a price';
UPDATE public.rollingChartData SET close = 0.25005 WHERE symbol OPERATOR(pg_catalog.=) 'HBARUSDT'::text AND timestamp OPERATOR(pg_catalog.=) '2021-06-01 05:01'::timestamp;
SET hostile.entry = 'writer: INSERT ... ON CONFLICT DO UPDATE';
INSERT INTO public.rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('HBARUSDT', '2021-06-01 04:00', 0.25, 0.2601, 0.2399, 0.25, 3)
  ON CONFLICT (symbol, timestamp) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close;
DO $$
BEGIN
  PERFORM pg_catalog.set_config('hostile.entry', 'writer: ml_ingest_klines', false);
  PERFORM ml_ingest_klines('binance-us', 'HBARUSDT', '[[1622523960000, "0.25", "0.2501", "0.2499", "0.25", "3", 1622524019999, "0", 1, "0", "0", "0"],
                                                       [1622520000000, "0.25", "0.2601", "0.2399", "0.2501", "3", 1622520059999, "0", 1, "0", "0", "0"]]');
  PERFORM pg_catalog.set_config('hostile.entry', 'writer: ml_log', false);
  PERFORM ml_log('warning', 'hostile', 'canary', 'a warning, with its stack trace', '{"k": 1}', 'HBARUSDT');
  PERFORM ml_log_flush(10000);
  PERFORM pg_catalog.set_config('hostile.entry', 'writer: ml_checkpoint', false);
  PERFORM ml_checkpoint('hostile', 'canary', 'intermediate', '{"k": 1}');
  PERFORM pg_catalog.set_config('hostile.entry', 'writer: ml_recovery_last and ml_recovery_status', false);
  PERFORM * FROM ml_recovery_last('hostile', 'canary');
  PERFORM * FROM ml_recovery_status();
  PERFORM pg_catalog.set_config('hostile.entry', 'writer: ml_config and ml_config_get', false);
  PERFORM ml_config();
  PERFORM ml_config_get('symbols');
  PERFORM * FROM ml_config_keys();
  PERFORM pg_catalog.set_config('hostile.entry', 'writer: ml_forecast, ml_health and the reader functions', false);
  BEGIN
    PERFORM * FROM ml_forecast('HBARUSDT', 5);
  EXCEPTION WHEN OTHERS THEN NULL;   -- no production model yet: only what it resolved matters
  END;
  PERFORM * FROM ml_health();
  PERFORM * FROM ml_performance('HBARUSDT');
  PERFORM * FROM ml_forecast_quality('HBARUSDT');
  PERFORM * FROM ml_calibration('HBARUSDT');
  PERFORM * FROM ml_ingest_status();
  PERFORM * FROM ml_workers();
END $$;
RESET search_path;
RESET hostile.entry;
RESET ROLE;
SELECT is(pg_temp.planted('writer: INSERT of bars'), '{}'::text[], 'writer: INSERT of bars resolves no planted object');
SELECT is(pg_temp.planted('writer: INSERT of a late bar'), '{}'::text[], 'writer: INSERT of a late bar (its recompute) resolves no planted object');
SELECT is(pg_temp.planted('writer: UPDATE of a price'), '{}'::text[], 'writer: UPDATE of a price resolves no planted object');
SELECT is(pg_temp.planted('writer: INSERT ... ON CONFLICT DO UPDATE'), '{}'::text[], 'writer: an upsert resolves no planted object');
SELECT is(pg_temp.planted('writer: ml_ingest_klines'), '{}'::text[], 'writer: ml_ingest_klines resolves no planted object');
SELECT is(pg_temp.planted('writer: ml_log'), '{}'::text[], 'writer: ml_log and ml_log_flush resolve no planted object');
SELECT is(pg_temp.planted('writer: ml_checkpoint'), '{}'::text[], 'writer: ml_checkpoint resolves no planted object');
SELECT is(pg_temp.planted('writer: ml_recovery_last and ml_recovery_status'), '{}'::text[], 'writer: ml_recovery_last and ml_recovery_status resolve no planted object');
SELECT is(pg_temp.planted('writer: ml_config and ml_config_get'), '{}'::text[], 'writer: ml_config, ml_config_get and ml_config_keys resolve no planted object');
SELECT is(pg_temp.planted('writer: ml_forecast, ml_health and the reader functions'), '{}'::text[], 'writer: ml_forecast, ml_health and the reader functions resolve no planted object');
SELECT is(pg_temp.symbol_mismatches('HBARUSDT'), 0::bigint, 'the writer''s bars got the indicators a fresh session computes');

-- ===========================================================================================
-- Checkpoints a writer forges: every resumable operation resumes only from its own
-- ===========================================================================================
-- a backtest run, whose segment checkpoints the writer then copies with other predictions
CREATE TEMP TABLE bt1 AS SELECT * FROM ml_backtest('HBARUSDT', 5, options => '{"windowSize": 100, "retrainEvery": 60, "numRounds": 2}');
CREATE TEMP TABLE bt1_pred AS SELECT bar_timestamp, predicted_change FROM mlBacktestPredictions WHERE run_id = (SELECT run_id FROM bt1 LIMIT 1);
GRANT SELECT ON bt1, bt1_pred TO PUBLIC;
SELECT ok((SELECT count(*) FROM bt1_pred) > 50, 'a backtest of HBARUSDT predicts (the run whose checkpoints are forged next)');
-- the indicators of HBARUSDT are damaged behind the triggers' back, so that a recompute must rewrite them
SET session_replication_role = replica;
UPDATE rollingChartData SET rsi = 50, macd = 0 WHERE symbol = 'HBARUSDT';
SET session_replication_role = origin;
SELECT ok(pg_temp.symbol_mismatches('HBARUSDT') > 250, 'HBARUSDT''s stored indicators are wrong now (written with the triggers off)');
SET ROLE hostile_writer;
SELECT lives_ok(format($$INSERT INTO public.recoveryState (service_name, operation_id, state_data, checkpoint_type) VALUES ('ml_training', %L, %L, 'intermediate')$$,
                       'retrain_all xgboost ' || md5('{"num_rounds": 2}'::jsonb::text),
                       jsonb_build_object('done', ml_config_get('symbols'), 'trained', 0, 'failed', 0)),
                'writer: inserts a checkpoint of ml_retrain_all claiming every symbol done');
SELECT lives_ok(format($$SELECT ml_checkpoint('ml_training', %L, 'intermediate', %L)$$,
                       'retrain_all xgboost ' || md5('{"num_rounds": 2}'::jsonb::text),
                       jsonb_build_object('done', ml_config_get('symbols'), 'trained', 0, 'failed', 0)),
                '... and writes the same through ml_checkpoint');
SELECT lives_ok(format($$INSERT INTO public.recoveryState (service_name, operation_id, state_data, checkpoint_type) VALUES ('indicators', 'recompute HBARUSDT', %L, 'intermediate')$$,
                       jsonb_build_object('since', NULL, 'cursor', (SELECT max(timestamp) FROM public.rollingChartData WHERE symbol = 'HBARUSDT')::text, 'rewritten', 300)),
                'writer: inserts a checkpoint of ml_recompute_indicators claiming HBARUSDT done');
SELECT lives_ok(format($$INSERT INTO public.recoveryState (service_name, operation_id, state_data, checkpoint_type)
                         SELECT 'backtest', operation_id, jsonb_set(state_data, '{pred}', (SELECT jsonb_agg(5.0) FROM jsonb_array_elements(state_data -> 'pred'))), 'intermediate'
                           FROM public.recoveryState WHERE service_name = 'backtest' AND operation_id = %L AND checkpoint_type = 'intermediate'$$,
                       (SELECT run_id FROM bt1 LIMIT 1)),
                'writer: copies the backtest''s segment checkpoints with every prediction set to 5 %');
RESET ROLE;
SELECT ml_log_flush(10000);

-- the admin's entry points, with the planted schema first on the search_path; the recompute, the
-- sweep and the backtest meet the forged checkpoints
SET ROLE hostile_admin;
SET search_path = hostile_scratch, public, pg_catalog;
\o /dev/null
SET hostile.entry = 'admin: CALL ml_recompute_indicators';
CALL ml_recompute_indicators('HBARUSDT');
SET hostile.entry = 'admin: CALL ml_retrain_all';
CALL ml_retrain_all('xgboost', '{"num_rounds": 2}');
SET hostile.entry = 'admin: ml_backtest';
SELECT run_id FROM ml_backtest('HBARUSDT', 5, options => '{"windowSize": 100, "retrainEvery": 60, "numRounds": 2}');
\o
-- each step in its own block: its errors are recorded (the body itself uses no operator, so that
-- only the extension's code can resolve a planted one)
DO $$
DECLARE
  b public.mltrainingbatches;
  c public.mltrainingbatches;
BEGIN
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_build_samples', false);
  BEGIN
    PERFORM ml_build_samples('HBARUSDT', 5);
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_build_samples', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_train', false);
  BEGIN
    b := ml_train('HBARUSDT', 5, 'xgboost', '{"num_rounds": 3}');
    c := ml_train('HBARUSDT', 5, 'xgboost', '{"num_rounds": 4}');
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_train', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_deploy', false);
  BEGIN
    PERFORM ml_deploy(b.batch_id);
    PERFORM ml_deploy(c.batch_id);
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_deploy', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_rollback', false);
  BEGIN
    PERFORM ml_rollback('HBARUSDT', 5);
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_rollback', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_forecast', false);
  BEGIN
    PERFORM * FROM ml_forecast('HBARUSDT', 5);
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_forecast', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_forecast_all', false);
  BEGIN
    PERFORM ml_forecast_all('HBARUSDT');
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_forecast_all', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_simulate', false);
  BEGIN
    PERFORM ml_config_set('inference.confidenceThreshold', '0');
    PERFORM * FROM ml_simulate('HBARUSDT', 5);
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_simulate', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_config_set and ml_config_reset', false);
  BEGIN
    PERFORM ml_config_set('features.rsiPeriod', '15');
    PERFORM ml_config_reset('features.rsiPeriod');
    PERFORM ml_config_reset('inference.confidenceThreshold');
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_config_set and ml_config_reset', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_monitor_check', false);
  BEGIN
    PERFORM * FROM ml_monitor_check('HBARUSDT', '2021-06-01 05:10+00');
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_monitor_check', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: ml_fill_actuals and ml_check_drift', false);
  BEGIN
    PERFORM ml_fill_actuals();
    PERFORM * FROM ml_check_drift();
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: ml_fill_actuals and ml_check_drift', SQLERRM);
  END;
  PERFORM pg_catalog.set_config('hostile.entry', 'admin: DELETE of a bar', false);
  BEGIN
    DELETE FROM public.rollingChartData WHERE symbol OPERATOR(pg_catalog.=) 'HBARUSDT'::text AND timestamp OPERATOR(pg_catalog.=) '2021-06-01 03:00'::timestamp;
  EXCEPTION WHEN OTHERS THEN INSERT INTO hostile_scratch.errors VALUES ('admin: DELETE of a bar', SQLERRM);
  END;
END $$;
RESET search_path;
RESET hostile.entry;
RESET ROLE;
SELECT is((SELECT array_agg(entry || ': ' || msg) FROM hostile_scratch.errors), NULL, 'the admin''s entry points ran without error under that search_path');
SELECT is(pg_temp.planted('admin: CALL ml_recompute_indicators'), '{}'::text[], 'admin: CALL ml_recompute_indicators resolves no planted object');
SELECT is(pg_temp.planted('admin: CALL ml_retrain_all'), '{}'::text[], 'admin: CALL ml_retrain_all resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_backtest'), '{}'::text[], 'admin: ml_backtest resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_build_samples'), '{}'::text[], 'admin: ml_build_samples resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_train'), '{}'::text[], 'admin: ml_train resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_deploy'), '{}'::text[], 'admin: ml_deploy resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_rollback'), '{}'::text[], 'admin: ml_rollback resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_forecast'), '{}'::text[], 'admin: ml_forecast resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_forecast_all'), '{}'::text[], 'admin: ml_forecast_all resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_simulate'), '{}'::text[], 'admin: ml_simulate (and the trade-following trigger) resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_config_set and ml_config_reset'), '{}'::text[], 'admin: ml_config_set and ml_config_reset resolve no planted object');
SELECT is(pg_temp.planted('admin: ml_monitor_check'), '{}'::text[], 'admin: ml_monitor_check resolves no planted object');
SELECT is(pg_temp.planted('admin: ml_fill_actuals and ml_check_drift'), '{}'::text[], 'admin: ml_fill_actuals and ml_check_drift resolve no planted object');
SELECT is(pg_temp.planted('admin: DELETE of a bar'), '{}'::text[], 'admin: DELETE of a bar (its recompute) resolves no planted object');
SELECT is((SELECT array_agg(DISTINCT c.what ORDER BY c.what) FROM hostile_scratch.canary c WHERE c.usr = current_user AND c.entry <> 'self-test'), NULL,
          'no planted object ever ran with the rights of the extension''s owner');
-- the forged checkpoints were not trusted
SELECT is(pg_temp.symbol_mismatches('HBARUSDT'), 0::bigint, 'ml_recompute_indicators rewrote every HBARUSDT bar despite the forged "done" checkpoint');
SELECT ok((SELECT count(*) FROM mlTrainingBatches WHERE symbol = 'HBARUSDT' AND forecast_horizon = 5 AND hyperparameters ->> 'num_rounds' = '2') >= 1,
          'ml_retrain_all trained HBARUSDT despite the forged "every symbol done" checkpoint (a model was registered)');
SELECT ok((SELECT (state_data ->> 'trained')::integer >= 1 AND state_data -> 'done' ? 'HBARUSDT' FROM recoveryState
            WHERE service_name = 'ml_training' AND operation_id = 'retrain_all xgboost ' || md5('{"num_rounds": 2}'::jsonb::text) AND checkpoint_type = 'success'
            ORDER BY id DESC LIMIT 1), '... and its own final checkpoint counts what it trained');
SELECT is((SELECT count(*) FROM mlBacktestPredictions p WHERE p.run_id = (SELECT run_id FROM bt1 LIMIT 1) AND p.predicted_change = 5), 0::bigint,
          'ml_backtest took no prediction from the forged checkpoints');
SELECT is((SELECT count(*) FROM bt1_pred b JOIN mlBacktestPredictions p ON p.run_id = (SELECT run_id FROM bt1 LIMIT 1) AND p.bar_timestamp = b.bar_timestamp
            WHERE p.predicted_change IS DISTINCT FROM b.predicted_change), 0::bigint, '... its predictions are those of the first run');

-- ===========================================================================================
-- Clean up: roles, the schema, the data, and what the logger committed
-- ===========================================================================================
SELECT * FROM finish();
SELECT ml_revoke_access('hostile_reader');
SELECT ml_revoke_access('hostile_writer');
SELECT ml_revoke_access('hostile_admin');
DROP SCHEMA hostile_scratch CASCADE;
DROP OWNED BY hostile_reader, hostile_writer, hostile_admin;
DROP ROLE hostile_reader;
DROP ROLE hostile_writer;
DROP ROLE hostile_admin;
SELECT pg_temp.forget_hbar();
SELECT ml_log_flush(10000) IS NULL;
DELETE FROM systemLogs WHERE id > :hostile_log_mark;
DELETE FROM recoveryState WHERE id > :hostile_rs_mark;
