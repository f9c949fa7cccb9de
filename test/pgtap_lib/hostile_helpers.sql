-- Helpers of the hostile regression suite (test/pgtap/14_hostile.sql, 15_hostile_roles.sql), read by
-- both with \ir: the extension's stored state as checksums, snapshots of it, and statements run
-- for their error (whatever they did is undone). Not a test itself (pg_prove reads test/pgtap only).
-- The extension's stored state, one md5 per table; recoveryState and systemLogs: the rows up to
-- the given ids (the autonomous logger commits new rows whatever the test rolls back).
-- rollingChartData (24,000 rows) is summed by row version (ctid, xmin) rather than by content, which
-- costs a tenth: a row whose version is unchanged has unchanged content, and any write of a row
-- (even one that would store the same values) shows as a change.
CREATE FUNCTION pg_temp.state(rs_mark bigint, log_mark bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object(
    'rollingchartdata', (SELECT md5(coalesce(string_agg(t.id || ':' || t.ctid::text || ':' || t.xmin::text, '|' ORDER BY t.id), '')) FROM rollingChartData t),
    'rollingchartdata_rows', (SELECT count(*) FROM rollingChartData),
    'mltrainingbatches', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM mlTrainingBatches t),
    'mltrainingsamples', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM mlTrainingSamples t),
    'persistentforecasts', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM persistentForecasts t),
    'tradesimulations', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM tradeSimulations t),
    'mlbacktestruns', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.run_id), '')) FROM mlBacktestRuns t),
    'mlbacktestpredictions', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM mlBacktestPredictions t),
    'mlbacktesttrades', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM mlBacktestTrades t),
    'models', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.batch_id), '')) FROM cryptoml_internal.models t),
    'config', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.path), '')) FROM cryptoml_internal.config t),
    'config_version', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM cryptoml_internal.config_version t),
    'deployments', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM cryptoml_internal.deployments t),
    'ensemble_members', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM cryptoml_internal.ensemble_members t),
    'indicator_checkpoint', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.symbol, t.bar_ts), '')) FROM cryptoml_internal.indicator_checkpoint t),
    'ingest_state', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.symbol, t.exchange), '')) FROM cryptoml_internal.ingest_state t),
    'monitor_alerts', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.symbol, t.alert), '')) FROM cryptoml_internal.monitor_alerts t),
    'chart_archive', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.symbol, t.day), '')) FROM cryptoml_internal.chart_archive t),
    'recoverystate', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM recoveryState t WHERE t.id <= rs_mark),
    'systemlogs', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM systemLogs t WHERE t.id <= log_mark),
    -- who may do what on the extension's relations and functions, and the triggers and foreign
    -- keys on its tables
    'privileges', (SELECT md5(coalesce(string_agg(c.oid::regclass::text || '=' || coalesce(c.relacl::text, ''), '|' ORDER BY c.oid::regclass::text), ''))
                     FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
                     JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'cryptoml'),
    'function_privileges', (SELECT md5(coalesce(string_agg(p.oid::regprocedure::text || '=' || coalesce(p.proacl::text, ''), '|' ORDER BY p.oid::regprocedure::text), ''))
                     FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                     JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'cryptoml'),
    'triggers_and_references', (SELECT md5(coalesce(string_agg(k, '|' ORDER BY k), '')) FROM (
                     SELECT 'trigger ' || g.tgrelid::regclass::text || '.' || g.tgname AS k FROM pg_trigger g
                      WHERE g.tgrelid IN (SELECT d.objid FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'cryptoml'
                                           WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e')
                     UNION ALL
                     SELECT 'fk ' || o.conrelid::regclass::text || '.' || o.conname FROM pg_constraint o
                      WHERE o.contype = 'f' AND o.confrelid IN (SELECT d.objid FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'cryptoml'
                                                               WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e')) z));
END $$;
CREATE TEMP TABLE snaps (grp text PRIMARY KEY, state jsonb, rs_mark bigint, log_mark bigint);
CREATE FUNCTION pg_temp.snap(g text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r bigint; l bigint;
BEGIN
  PERFORM ml_log_flush(10000);   -- this session's queued entries are committed: the marks are stable
  SELECT coalesce(max(id), 0) INTO r FROM recoveryState;
  SELECT coalesce(max(id), 0) INTO l FROM systemLogs;
  INSERT INTO snaps VALUES (g, pg_temp.state(r, l), r, l)
    ON CONFLICT (grp) DO UPDATE SET state = excluded.state, rs_mark = excluded.rs_mark, log_mark = excluded.log_mark;
END $$;
-- the tables whose checksum differs from the snapshot's
CREATE FUNCTION pg_temp.unchanged(g text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  s snaps;
  now_state jsonb;
BEGIN
  SELECT * INTO s FROM snaps WHERE grp = g;
  now_state := pg_temp.state(s.rs_mark, s.log_mark);
  RETURN is(ARRAY(SELECT e.key FROM jsonb_each_text(s.state) e WHERE e.value IS DISTINCT FROM now_state ->> e.key ORDER BY 1),
            '{}'::text[], g || ': no stored row of the extension changed (tables, privileges, triggers)');
END $$;

-- The SQLSTATE and message of the error a statement raises; 'none' when it raises none. Whatever
-- the statement did is undone in both cases.
CREATE FUNCTION pg_temp.error_of(sql text, OUT state text, OUT msg text) LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    EXECUTE sql;
    state := 'none';
    msg := '';
    RAISE EXCEPTION 'undo' USING ERRCODE = 'HH001';
  EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
    IF SQLSTATE <> 'HH001' THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    END IF;
  END;
END $$;
-- The statement fails with a SQLSTATE LIKE want_state (never an internal error XX..., unless that is
-- wanted) and a message LIKE want_msg (NULL: any) that is shorter than 300 characters (a hostile value
-- is never echoed in full). Nothing it did is kept,
-- even when it wrongly succeeds.
CREATE FUNCTION pg_temp.refused(sql text, want_state text, want_msg text, descr text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  e record;
  good boolean;
BEGIN
  SELECT * INTO e FROM pg_temp.error_of(sql);
  good := e.state LIKE want_state AND (e.state NOT LIKE 'XX%' OR want_state LIKE 'XX%') AND e.msg LIKE coalesce(want_msg, '%') AND length(e.msg) < 300;
  IF good THEN
    RETURN ok(true, descr);
  END IF;
  RETURN ok(false, descr) || E'\n' || diag(format(E'    caught: %s: %s\n    wanted: %s: %s (in under 300 characters; got %s)',
    e.state, CASE WHEN e.state = 'none' THEN '(no error: the statement succeeded; its effects were undone)'
                  ELSE left(e.msg, 200) || CASE WHEN length(e.msg) > 200 THEN '...' ELSE '' END END,
    want_state, coalesce(want_msg, '%'), length(e.msg)));
END $$;
-- a statement that must succeed (its effects are undone)
CREATE FUNCTION pg_temp.runs(sql text, descr text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE e record;
BEGIN
  SELECT * INTO e FROM pg_temp.error_of(sql);
  RETURN ok(e.state = 'none', descr) || CASE WHEN e.state = 'none' THEN '' ELSE E'\n' || diag(format('    died: %s: %s', e.state, left(e.msg, 200))) END;
END $$;
