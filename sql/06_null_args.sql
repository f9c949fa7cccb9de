-- NULL arguments to every user-facing function: STRICT (NULL result) or a clear error, never a
-- crash. The list is read from the catalog, so functions added later are covered too.
SELECT pg_backend_pid() AS pid \gset
CREATE FUNCTION pg_temp.call_with_nulls(f regprocedure) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  p pg_proc;
  args text;
  res text;
  st text;
  msg text;
BEGIN
  SELECT * INTO p FROM pg_proc WHERE oid = f;
  SELECT string_agg(format('NULL::%s', format_type(t, NULL)), ', ' ORDER BY i) INTO args
    FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i);
  BEGIN
    IF p.prokind = 'p' THEN
      EXECUTE format('CALL %I(%s)', p.proname, args);
      RETURN 'called (NULL means every symbol / from the first bar)';
    END IF;
    IF p.proretset THEN
      EXECUTE format('SELECT count(*)::text FROM %I(%s)', p.proname, args) INTO res;
      RETURN 'rows: ' || res;
    END IF;
    EXECUTE format('SELECT %I(%s)::text', p.proname, args) INTO res;
    RETURN CASE WHEN res IS NULL THEN 'NULL' ELSE 'value' END || CASE WHEN p.proisstrict THEN ' (strict)' ELSE '' END;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN format('error %s: %s', st, msg);
  END;
END $$;
SELECT p.oid::regprocedure AS function, pg_temp.call_with_nulls(p.oid::regprocedure) AS outcome
  FROM pg_proc p
  JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
 WHERE p.pronamespace <> 'cryptoml_internal'::regnamespace AND p.pronargs > 0
 ORDER BY p.oid::regprocedure::text;
SELECT pg_backend_pid() = :pid AS same_backend;
