-- The C++/PostgreSQL guard: every C++ exception kind becomes an ERROR with a fitting SQLSTATE,
-- every C++ destructor runs, and the backend survives.
SELECT pg_backend_pid() AS pid \gset
SELECT cryptoml_internal.raise_cpp('none');
-- what a user sees
SELECT cryptoml_internal.raise_cpp('invalid_parameter');
-- each kind: SQLSTATE, message, detail, hint
CREATE FUNCTION pg_temp.try_kind(kind text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hin text;
BEGIN
  PERFORM cryptoml_internal.raise_cpp(kind);
  RETURN 'no error';
EXCEPTION WHEN OTHERS OR query_canceled THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hin = PG_EXCEPTION_HINT;
  RETURN format('%s | %s | %s | %s', st, msg, det, hin);
END $$;
SELECT k AS kind, pg_temp.try_kind(k) AS error
  FROM unnest(ARRAY['invalid_parameter', 'data', 'cancelled', 'bad_alloc', 'runtime', 'unknown', 'pg_error',
                    'no such kind']) AS k;
-- no C++ object outlived its error, and this is still the same backend
SELECT cryptoml_internal.cpp_live_objects() AS live_cpp_objects;
SELECT pg_backend_pid() = :pid AS same_backend;
-- many errors in a row inside one transaction: still no leak, still alive
BEGIN;
SELECT count(*) FILTER (WHERE pg_temp.try_kind(k) LIKE 'XX000%') AS internal_errors
  FROM generate_series(1, 1000), unnest(ARRAY['runtime', 'unknown']) AS k;
COMMIT;
SELECT cryptoml_internal.cpp_live_objects() AS live_cpp_objects;
SELECT pg_backend_pid() = :pid AS same_backend;
-- the hooks are not for PUBLIC
SELECT has_function_privilege('public', 'cryptoml_internal.raise_cpp(text)', 'EXECUTE') AS public_can_raise;
