#!/usr/bin/env bash
# pgAudit in the test cluster (docs/roles.md#audit-070): DDL and ROLE statements of every session
# are logged; object auditing through cryptoml_auditor logs reads of the model bytes and writes of
# the configuration and the registry; a writer's candle inserts log nothing, and the writer role
# carries its own pgaudit.log setting. Reads the server log (CRYPTOML_SERVER_LOG). TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
echo "1..9"
LOG=${CRYPTOML_SERVER_LOG:?run with the environment of scripts/cluster.sh env}
SYM=AUDITTAPUSDT
symbols_before=$(q -c "SELECT ml_config_get('symbols')")
cleanup() {
  q -c "DELETE FROM rollingChartData WHERE symbol = '$SYM'" >/dev/null 2>&1
  q -c "SELECT ml_config_set('symbols', '$symbols_before'::jsonb)" >/dev/null 2>&1
  for r in audit_tap_writer audit_tap_admin; do
    q -c "SELECT ml_revoke_access('$r')" -c "DROP OWNED BY $r" -c "DROP ROLE $r" >/dev/null 2>&1
  done
  q -c "DROP TABLE IF EXISTS public.audit_tap_scratch" >/dev/null 2>&1
}
trap cleanup EXIT
cleanup
# the lines the server logged since offset $1 by backend $2
since() { tail -c +"$(($1 + 1))" "$LOG" | grep -F "[$2]" || true; }
size() { stat -c %s "$LOG"; }

[ "$(q -c "SHOW shared_preload_libraries")" = "pg_cron,cryptoml,pgaudit" ] && [ "$(q -c "SHOW pgaudit.role")" = cryptoml_auditor ] &&
  [ "$(q -c "SHOW pgaudit.log")" = "ddl, role" ]
ok $? "the test cluster preloads pgaudit with pgaudit.log = 'ddl, role' and pgaudit.role = cryptoml_auditor"

q -c "SELECT ml_config_set('symbols', ml_config_get('symbols') || '[\"$SYM\"]'::jsonb)" >/dev/null
q -c "CREATE ROLE audit_tap_writer LOGIN" -c "CREATE ROLE audit_tap_admin LOGIN" >/dev/null
q -c "SELECT ml_grant_access('audit_tap_writer', 'writer')" -c "SELECT ml_grant_access('audit_tap_admin', 'admin')" >/dev/null
[ "$(q -c "SELECT array_to_string(s.setconfig, ',') FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
           WHERE r.rolname = 'audit_tap_writer' AND s.setdatabase = 0")" = "pgaudit.log=ddl, role" ]
ok $? "ml_grant_access(writer) pins the writer's pgaudit.log to 'ddl, role'"

# a feeder's candle inserts: nothing in the log
off=$(size)
pid=$(psql -X -q -At -v ON_ERROR_STOP=1 -U audit_tap_writer -c "SELECT pg_backend_pid()" \
      -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
          SELECT '$SYM', '2023-01-01'::timestamp + make_interval(mins => i), 10, 10.1, 9.9, 10, 1 FROM generate_series(0, 199) i" \
      -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('$SYM', '2023-01-01 03:20', 10, 10.1, 9.9, 10, 1)")
[ -n "$pid" ] && [ "$(q -c "SELECT count(*) FROM rollingChartData WHERE symbol = '$SYM'")" = 201 ]
ok $? "the writer inserted 201 candles"
! since "$off" "$pid" | grep -q "AUDIT:"
ok $? "... and the server logged no AUDIT line for them"

# a configuration change: an OBJECT line on cryptoml_internal.config. (pgAudit logs no statement
# that runs inside a SECURITY DEFINER function of a role the session user is not a member of, so
# an admin's ml_config_set leaves no pgAudit line: ml_audit_log records it, test/pgtap/17_audit.sql)
off=$(size)
pid=$(q -c "SELECT pg_backend_pid()" -c "SELECT ml_config_set('training.windowSize', '640')" -c "SELECT ml_config_reset('training.windowSize')" | head -1)
since "$off" "$pid" | grep -q "AUDIT: OBJECT,.*,WRITE,INSERT,TABLE,cryptoml_internal.config,"
ok $? "ml_config_set logs an OBJECT WRITE line on cryptoml_internal.config"

# reading model bytes: an OBJECT READ line on cryptoml_internal.models
off=$(size)
pid=$(q -c "SELECT pg_backend_pid()" -c "SELECT count(*) FROM cryptoml_internal.models" | head -1)
since "$off" "$pid" | grep -q "AUDIT: OBJECT,.*,READ,SELECT,TABLE,cryptoml_internal.models,"
ok $? "a read of the model bytes logs an OBJECT READ line on cryptoml_internal.models"

# an admin's own write of the registry: an OBJECT line on mltrainingbatches
off=$(size)
pid=$(psql -X -q -At -v ON_ERROR_STOP=1 -U audit_tap_admin -c "SELECT pg_backend_pid()" -c "BEGIN" \
      -c "UPDATE mlTrainingBatches SET model_path = model_path WHERE false" -c "ROLLBACK" | head -1)
since "$off" "$pid" | grep -q "AUDIT: OBJECT,.*,WRITE,UPDATE,TABLE,public.mltrainingbatches,"
ok $? "an admin's UPDATE of the registry logs an OBJECT WRITE line on mltrainingbatches"

# ROLE and DDL classes
off=$(size)
pid=$(q -c "SELECT pg_backend_pid()" -c "GRANT audit_tap_writer TO audit_tap_admin" -c "REVOKE audit_tap_writer FROM audit_tap_admin" | head -1)
since "$off" "$pid" | grep -q "AUDIT: SESSION,.*,ROLE,GRANT ROLE,"
ok $? "GRANT of a role logs a SESSION ROLE line"
off=$(size)
pid=$(q -c "SELECT pg_backend_pid()" -c "CREATE TABLE public.audit_tap_scratch (x int)" -c "DROP TABLE public.audit_tap_scratch" | head -1)
since "$off" "$pid" | grep -q "AUDIT: SESSION,.*,DDL,CREATE TABLE,"
ok $? "CREATE TABLE logs a SESSION DDL line"
