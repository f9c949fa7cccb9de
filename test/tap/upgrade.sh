#!/usr/bin/env bash
# The upgrade path: a database created at 0.1.0 (the frozen script) and upgraded with ALTER
# EXTENSION cryptoml UPDATE has exactly the catalog of a fresh install of the current version
# (tables, columns, defaults, constraints, indexes, triggers, functions, views, comments,
# privileges), and keeps its data, with samples stored by 0.1.0 given their feature_vector.
# ACLs are compared as effective privileges (NULL = the owner's default), so a role granted and
# revoked again leaves the same catalog. Runs in the test database (pg_cron, which cryptoml requires, lives in that one database only);
# it leaves the extension freshly installed at the current version. TAP output.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ROOT/cryptoml.control")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

describe() {
  q -At -c "
  WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'cryptoml'),
  members AS (SELECT d.classid, d.objid FROM pg_depend d, ext WHERE d.refclassid = 'pg_extension'::regclass
                AND d.refobjid = ext.oid AND d.deptype = 'e'),
  rels AS (SELECT c.oid, c.relname, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid)
  SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) FROM members m
  UNION ALL
  SELECT format('column %s.%s.%s %s notnull=%s default=%s comment=%s', r.nspname, r.relname, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                col_description(r.oid, a.attnum))
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
  UNION ALL
  SELECT format('column order %s.%s: %s', r.nspname, r.relname, string_agg(a.attname, ',' ORDER BY a.attnum))
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped GROUP BY r.nspname, r.relname
  UNION ALL
  SELECT format('relation %s.%s kind=%s acl=%s comment=%s', r.nspname, r.relname, c.relkind,
                coalesce(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner)), obj_description(r.oid, 'pg_class'))
    FROM rels r JOIN pg_class c ON c.oid = r.oid
  UNION ALL
  SELECT format('constraint %s.%s %s %s', r.nspname, r.relname, co.conname, pg_get_constraintdef(co.oid))
    FROM rels r JOIN pg_constraint co ON co.conrelid = r.oid
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(i.indexrelid)) FROM rels r JOIN pg_index i ON i.indrelid = r.oid
  UNION ALL
  SELECT format('trigger %s', pg_get_triggerdef(t.oid)) FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
  UNION ALL
  SELECT format('view %s.%s %s', r.nspname, r.relname, pg_get_viewdef(r.oid)) FROM rels r JOIN pg_class c ON c.oid = r.oid AND c.relkind = 'v'
  UNION ALL
  SELECT format('function %s acl=%s comment=%s def=%s', p.oid::regprocedure, coalesce(p.proacl, acldefault('f'::\"char\", p.proowner)), obj_description(p.oid, 'pg_proc'),
                pg_get_functiondef(p.oid))
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT format('schema %s acl=%s comment=%s', n.nspname, coalesce(n.nspacl, acldefault('n'::\"char\", n.nspowner)), obj_description(n.oid, 'pg_namespace'))
    FROM members m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
  ORDER BY 1"
}

echo "1..31"
q -c "DROP EXTENSION IF EXISTS cryptoml CASCADE" 2>/dev/null
q -c "SET client_min_messages = warning; CREATE EXTENSION cryptoml CASCADE"
describe >"$tmp/fresh"
# a describe that failed would compare two empty files
[ "$(wc -l <"$tmp/fresh")" -gt 1000 ] || { echo "Bail out! describing the fresh catalog failed"; exit 1; }

q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.1.0' CASCADE"
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
[ "$v" = "0.1.0" ] && echo "ok 1 - CREATE EXTENSION cryptoml VERSION '0.1.0' installs the frozen 0.1.0 script" || echo "not ok 1 - installed version is $v"

# Data stored under 0.1.0: bars through the trigger, and samples as 0.1.0 stored them (jsonb only).
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT 'BTCUSDT', '2021-01-01'::timestamp + make_interval(mins => i), 100 + i * 0.01, 100.5 + i * 0.01, 99.5 + i * 0.01, 100 + i * 0.01, 5
        FROM generate_series(0, 199) i"
q -c "INSERT INTO mlTrainingSamples (symbol, features, target, forecast_horizon, bar_timestamp, metadata)
      VALUES ('BTCUSDT', '{\"rsi\": 55.5, \"ret_1\": null}', 0.25, 15, '2021-01-01 03:00', '{\"feature_set_version\": 1}'),
             ('BTCUSDT', '{\"rsi\": 40}', -0.1, 15, '2021-01-01 03:01', '{\"feature_set_version\": 99}')"

q -c "ALTER EXTENSION cryptoml UPDATE"
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
[ "$v" = "$current" ] && echo "ok 2 - ALTER EXTENSION cryptoml UPDATE reaches $current" || echo "not ok 2 - updated to $v, expected $current"
describe >"$tmp/upgraded"
if diff -u "$tmp/fresh" "$tmp/upgraded" >"$tmp/diff"; then
  echo "ok 3 - the upgraded catalog is identical to a fresh $current install ($(wc -l <"$tmp/fresh") lines compared)"
else
  echo "not ok 3 - the upgraded catalog differs from a fresh install"
  sed 's/^/# /' "$tmp/diff" | head -60
fi
r=$(q -At -c "SELECT count(*) || '/' || (SELECT count(*) FROM mlTrainingSamples) FROM rollingChartData")
[ "$r" = "200/2" ] && echo "ok 4 - bars and samples stored under 0.1.0 are kept" || echo "not ok 4 - bars/samples after the upgrade: $r"
r=$(q -At -c "SELECT string_agg(coalesce((feature_vector = cryptoml_internal.features_to_vector(features))::text, 'null'), ',' ORDER BY bar_timestamp) FROM mlTrainingSamples")
[ "$r" = "true,null" ] && echo "ok 5 - the upgrade fills feature_vector for feature set 1 samples and leaves other versions NULL" ||
  echo "not ok 5 - feature_vector after the upgrade: $r (expected true,null)"

# From the previous release: 0.2.0 -> current.
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.2.0' CASCADE"
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT 'ETHUSDT', '2021-01-01'::timestamp + make_interval(mins => i), 50 + i * 0.01, 50.5 + i * 0.01, 49.5 + i * 0.01, 50 + i * 0.01, 5
        FROM generate_series(0, 99) i"
q -c "ALTER EXTENSION cryptoml UPDATE"
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
describe >"$tmp/upgraded2"
if [ "$v" = "$current" ] && diff -u "$tmp/fresh" "$tmp/upgraded2" >"$tmp/diff2"; then
  echo "ok 6 - 0.2.0 updated to $current has the catalog of a fresh install"
else
  echo "not ok 6 - 0.2.0 updated to $v differs from a fresh $current install"
  sed 's/^/# /' "$tmp/diff2" | head -60
fi
r=$(q -At -c "SELECT count(*) FROM rollingChartData WHERE symbol = 'ETHUSDT' AND rsi IS NOT NULL")
[ "$r" -gt 0 ] && echo "ok 7 - bars stored under 0.2.0 are kept with their indicators" || echo "not ok 7 - bars after the 0.2.0 update: $r"

# From the previous release: 0.3.0 -> current, with a trade stored.
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.3.0' CASCADE"
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT 'SOLUSDT', '2021-01-01'::timestamp + make_interval(mins => i), 20 + i * 0.01, 20.5 + i * 0.01, 19.5 + i * 0.01, 20 + i * 0.01, 5
        FROM generate_series(0, 99) i"
q -c "INSERT INTO tradeSimulations (symbol, signal_type, entry_price, tp_price, sl_price, confidence, is_active, forecast_horizon, entry_bar)
      VALUES ('SOLUSDT', 'LONG', 20.5, 21, 20, 70, false, 15, '2021-01-01 00:50')"
q -c "ALTER EXTENSION cryptoml UPDATE"
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
describe >"$tmp/upgraded3"
if [ "$v" = "$current" ] && diff -u "$tmp/fresh" "$tmp/upgraded3" >"$tmp/diff3"; then
  echo "ok 8 - 0.3.0 updated to $current has the catalog of a fresh install"
else
  echo "not ok 8 - 0.3.0 updated to $v differs from a fresh $current install"
  sed 's/^/# /' "$tmp/diff3" | head -60
fi
r=$(q -At -c "SELECT (SELECT count(*) FROM rollingChartData WHERE symbol = 'SOLUSDT') || '/' || (SELECT count(*) FROM tradeSimulations)")
[ "$r" = "100/1" ] && echo "ok 9 - bars and trades stored under 0.3.0 are kept" || echo "not ok 9 - bars/trades after the 0.3.0 update: $r"

# From the previous release: 0.4.0 -> current, with a model's bytes, a checkpoint and an admin
# role granted under 0.4.0 (which gave it TRIGGER and TRUNCATE: the update takes them back).
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.4.0' CASCADE"
q -c "DROP ROLE IF EXISTS upgrade_admin" -c "CREATE ROLE upgrade_admin" -c "SELECT ml_grant_access('upgrade_admin', 'admin')" >/dev/null 2>&1
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT 'XRPUSDT', '2021-01-01'::timestamp + make_interval(mins => i), 1 + i * 0.001, 1.5 + i * 0.001, 0.5 + i * 0.001, 1 + i * 0.001, 5
        FROM generate_series(0, 99) i"
q -c "INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, forecast_horizon, is_production, training_samples, validation_samples) VALUES ('xgb-XRPUSDT-h15-1', 'XRPUSDT', 'xgboost', 15, false, 100, 20)" \
  -c "INSERT INTO cryptoml_internal.models (batch_id, model, feature_names, feature_set_version) VALUES ('xgb-XRPUSDT-h15-1', '\\x0102', '[]', 1)"
# a forecast with its outcome, made under 0.4.0 (no raw output, no interval)
q -c "INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, actual_value, forecast_horizon, model_version,
                                       expires_at, bar_timestamp)
      VALUES ('XRPUSDT', 'price_direction', 64.5, 0.12, 0.08, 15, 'xgb-XRPUSDT-h15-1', '2021-01-01 00:45', '2021-01-01 00:30')"
q -c "ALTER EXTENSION cryptoml UPDATE" 2>&1 | grep -v NOTICE
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
r=$(q -At -c "SELECT count(*) FROM information_schema.table_privileges WHERE grantee = 'upgrade_admin' AND privilege_type IN ('TRIGGER', 'TRUNCATE', 'REFERENCES')")
[ "$r" = "0" ] && echo "ok 10 - the update takes TRIGGER, TRUNCATE and REFERENCES back from roles granted admin under 0.4.0" || echo "not ok 10 - upgrade_admin still holds $r TRIGGER/TRUNCATE/REFERENCES privileges"
r=$(q -At -c "SELECT (SELECT count(*) FROM rollingChartData WHERE symbol = 'XRPUSDT') || '/' || (SELECT count(*) FROM cryptoml_internal.models WHERE model_sha256 = sha256(model))")
[ "$r" = "100/1" ] && echo "ok 11 - bars and model bytes stored under 0.4.0 are kept, and the model bytes get their checksum" || echo "not ok 11 - bars/checksummed models after the 0.4.0 update: $r"
r=$(q -At -c "SELECT row(f.predicted_value, f.confidence, f.raw_value, f.lower, f.upper, l.stored_confidence)
               FROM persistentForecasts f JOIN ml_forecasts_live l USING (id) WHERE f.model_version = 'xgb-XRPUSDT-h15-1'")
[ "$r" = "(0.12000000,64.50,,,,64.50)" ] && echo "ok 12 - a forecast made under 0.4.0 stays readable: its value and confidence kept, no raw output nor interval (NULL)" ||
  echo "not ok 12 - the 0.4.0 forecast after the update: $r"
r=$(q -At -c "SELECT (SELECT forecasts || '/' || coalesce(interval_coverage::text, 'null') || '/' || directional_accuracy FROM ml_forecast_quality('XRPUSDT', 15) WHERE model = 'model')
               || '/' || (SELECT forecasts || '/' || round(ece::numeric, 1) FROM ml_calibration('XRPUSDT', 15))")
[ "$r" = "1/null/1/1/35.5" ] && echo "ok 13 - the reports read it: its direction and confidence count, coverage has no interval to read" ||
  echo "not ok 13 - the reports over the 0.4.0 forecast: $r"
q -c "SELECT ml_revoke_access('upgrade_admin')" -c "DROP OWNED BY upgrade_admin" -c "DROP ROLE upgrade_admin" >/dev/null
describe >"$tmp/upgraded4"
if [ "$v" = "$current" ] && diff -u "$tmp/fresh" "$tmp/upgraded4" >"$tmp/diff4"; then
  echo "ok 14 - 0.4.0 updated to $current has the catalog of a fresh install"
else
  echo "not ok 14 - 0.4.0 updated to $v differs from a fresh $current install"
  sed 's/^/# /' "$tmp/diff4" | head -60
fi


# From 0.5.0: the functions whose result gained columns are created again; a reader granted under
# 0.5.0 can still call them.
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.5.0' CASCADE"
q -c "DROP ROLE IF EXISTS upgrade_reader" -c "CREATE ROLE upgrade_reader" -c "SELECT ml_grant_access('upgrade_reader', 'reader')" >/dev/null 2>&1
q -c "ALTER EXTENSION cryptoml UPDATE" 2>&1 | grep -v NOTICE
r=$(q -At -c "SELECT bool_and(has_function_privilege('upgrade_reader', f, 'EXECUTE'))
               FROM unnest(ARRAY['ml_forecast(text, integer)', 'ml_forecast_quality(text, integer, timestamp)',
                                 'ml_calibration(text, integer, timestamp)', 'ml_backtest_calibration(text)']) f")
[ "$r" = "t" ] && echo "ok 15 - a reader granted under 0.5.0 keeps EXECUTE on the functions created again" || echo "not ok 15 - reader privileges after the 0.5.0 update: $r"
q -c "SELECT ml_revoke_access('upgrade_reader')" -c "DROP OWNED BY upgrade_reader" -c "DROP ROLE upgrade_reader" >/dev/null
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
describe >"$tmp/upgraded5"
if [ "$v" = "$current" ] && diff -u "$tmp/fresh" "$tmp/upgraded5" >"$tmp/diff5"; then
  echo "ok 16 - 0.5.0 updated to $current has the catalog of a fresh install"
else
  echo "not ok 16 - 0.5.0 updated to $v differs from a fresh $current install"
  sed 's/^/# /' "$tmp/diff5" | head -60
fi

# From 0.6.0: roles granted a level under 0.6.0 get the 0.7.0 objects of their level (readers the
# dashboard, ml_progress and the status views; admins the audit trail and model bundles), and the
# re-grant is itself audited.
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.6.0' CASCADE"
q -c "DROP ROLE IF EXISTS upgrade_reader" -c "CREATE ROLE upgrade_reader" -c "SELECT ml_grant_access('upgrade_reader', 'reader')" >/dev/null 2>&1
q -c "DROP ROLE IF EXISTS upgrade_admin6" -c "CREATE ROLE upgrade_admin6" -c "SELECT ml_grant_access('upgrade_admin6', 'admin')" >/dev/null 2>&1
q -c "ALTER EXTENSION cryptoml UPDATE" 2>&1 | grep -v NOTICE
r=$(q -At -c "SELECT has_function_privilege('upgrade_reader', 'ml_dashboard(text)', 'EXECUTE')
                     AND has_table_privilege('upgrade_reader', 'ml_progress', 'SELECT')
                     AND has_table_privilege('upgrade_reader', 'ml_status_symbols', 'SELECT')
                     AND NOT has_table_privilege('upgrade_reader', 'ml_audit_log', 'SELECT')
                     AND has_table_privilege('upgrade_admin6', 'ml_audit_log', 'SELECT')
                     AND has_function_privilege('upgrade_admin6', 'ml_import_model(jsonb, boolean)', 'EXECUTE')")
[ "$r" = "t" ] && echo "ok 17 - roles granted under 0.6.0 get the 0.7.0 objects of their level, and no more" || echo "not ok 17 - privileges after the 0.6.0 update: $r"
r=$(q -At -c "SELECT count(*) FROM ml_audit_log WHERE action = 'grant' AND object IN ('upgrade_reader', 'upgrade_admin6')")
# each update from 0.7.0 on re-derives the levels: 0.6.0 -> 0.7.0 -> current re-grants both roles once per step
steps=$(ls "$ROOT"/extension/cryptoml--*--*.sql | sed -n 's/.*--\(.*\)--\(.*\)\.sql/\1/p' | awk -F. '$2 >= 6' | wc -l)
[ "$r" = "$((2 * steps))" ] && echo "ok 18 - the re-grants of the updates are in the audit trail ($steps updates, 2 roles)" || echo "not ok 18 - audit entries of the updates' grants: $r (expected $((2 * steps)))"
q -c "SELECT ml_revoke_access('upgrade_reader')" -c "DROP OWNED BY upgrade_reader" -c "DROP ROLE upgrade_reader" >/dev/null
q -c "SELECT ml_revoke_access('upgrade_admin6')" -c "DROP OWNED BY upgrade_admin6" -c "DROP ROLE upgrade_admin6" >/dev/null
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
describe >"$tmp/upgraded6"
if [ "$v" = "$current" ] && diff -u "$tmp/fresh" "$tmp/upgraded6" >"$tmp/diff6"; then
  echo "ok 19 - 0.6.0 updated to $current has the catalog of a fresh install"
else
  echo "not ok 19 - 0.6.0 updated to $v differs from a fresh $current install"
  sed 's/^/# /' "$tmp/diff6" | head -60
fi

# From 0.7.0: samples stored under 0.7.0 become feature set 1 samples (and a set-2 sample of the
# same bar can be stored beside them); roles get the 0.8.0 objects of their level; a volatility
# forecast stored before any outcome has no interval (lower NULL, as upper).
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.7.0' CASCADE"
q -c "DROP ROLE IF EXISTS upgrade_reader" -c "CREATE ROLE upgrade_reader" -c "SELECT ml_grant_access('upgrade_reader', 'reader')" >/dev/null 2>&1
q -c "DROP ROLE IF EXISTS upgrade_admin7" -c "CREATE ROLE upgrade_admin7" -c "SELECT ml_grant_access('upgrade_admin7', 'admin')" >/dev/null 2>&1
q -c "INSERT INTO mlTrainingSamples (symbol, features, target, forecast_horizon, bar_timestamp, metadata)
      VALUES ('BTCUSDT', '{\"rsi\": 55.5}', 0.25, 15, '2021-01-01 03:00', '{\"feature_set_version\": 1}')" >/dev/null
q -c "ALTER EXTENSION cryptoml UPDATE" 2>&1 | grep -v NOTICE
r=$(q -At -c "SELECT string_agg(feature_set::text, ',') FROM mlTrainingSamples")
q -c "INSERT INTO mlTrainingSamples (symbol, features, target, forecast_horizon, bar_timestamp, metadata, feature_set)
      VALUES ('BTCUSDT', '{\"rsi\": 55.5}', 0.25, 15, '2021-01-01 03:00', '{\"feature_set_version\": 2}', 2)" >/dev/null 2>&1 || r="$r/insert failed"
[ "$r" = "1" ] && echo "ok 20 - a 0.7.0 sample is of feature set 1, and a set-2 sample of the same bar fits beside it" ||
  echo "not ok 20 - samples after the 0.7.0 update: $r"
r=$(q -At -c "SELECT has_function_privilege('upgrade_reader', 'ml_anomalies(text, timestamp)', 'EXECUTE')
                     AND has_table_privilege('upgrade_reader', 'ml_tune_trials', 'SELECT')
                     AND NOT has_function_privilege('upgrade_reader', 'ml_tune(text, integer, text, integer, jsonb, jsonb)', 'EXECUTE')
                     AND NOT has_function_privilege('upgrade_reader', 'ml_train_volatility(text, integer, jsonb)', 'EXECUTE')
                     AND has_function_privilege('upgrade_admin7', 'ml_tune(text, integer, text, integer, jsonb, jsonb)', 'EXECUTE')
                     AND has_function_privilege('upgrade_admin7', 'ml_detect_anomalies(text)', 'EXECUTE')
                     AND has_function_privilege('upgrade_admin7', 'ml_train_volatility(text, integer, jsonb)', 'EXECUTE')")
[ "$r" = "t" ] && echo "ok 21 - roles granted under 0.7.0 get the 0.8.0 objects of their level, and no more" || echo "not ok 21 - privileges after the 0.7.0 update: $r"
r=$(q -At -c "SELECT count(*) FROM cryptoml_internal.monitor_alerts") && q -c "INSERT INTO cryptoml_internal.monitor_alerts (symbol, alert, level, value, threshold, started_at, last_seen_at)
      VALUES ('BTCUSDT', 'anomaly', 'warning', 13, 12, now(), now())" >/dev/null 2>&1 && r="$r/anomaly alert stored"
[ "$r" = "0/anomaly alert stored" ] && echo "ok 22 - the monitor's alert table takes the 'anomaly' alert after the update" || echo "not ok 22 - anomaly alert after the 0.7.0 update: $r"
q -c "DELETE FROM cryptoml_internal.monitor_alerts" -c "DELETE FROM mlTrainingSamples" >/dev/null
q -c "SELECT ml_revoke_access('upgrade_reader')" -c "DROP OWNED BY upgrade_reader" -c "DROP ROLE upgrade_reader" >/dev/null
q -c "SELECT ml_revoke_access('upgrade_admin7')" -c "DROP OWNED BY upgrade_admin7" -c "DROP ROLE upgrade_admin7" >/dev/null
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
describe >"$tmp/upgraded7"
if [ "$v" = "$current" ] && diff -u "$tmp/fresh" "$tmp/upgraded7" >"$tmp/diff7"; then
  echo "ok 23 - 0.7.0 updated to $current has the catalog of a fresh install"
else
  echo "not ok 23 - 0.7.0 updated to $v differs from a fresh $current install"
  sed 's/^/# /' "$tmp/diff7" | head -60
fi

# From 0.8.0: a standalone database stays standalone (it serves every configured symbol, its bars
# are written as before), rollingChartData is published by its natural key, a writer gets
# ml_insert_bars and a reader does not.
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.8.0' CASCADE"
q -c "DROP ROLE IF EXISTS upgrade_writer8" -c "CREATE ROLE upgrade_writer8" -c "SELECT ml_grant_access('upgrade_writer8', 'writer')" >/dev/null 2>&1
q -c "DROP ROLE IF EXISTS upgrade_reader" -c "CREATE ROLE upgrade_reader" -c "SELECT ml_grant_access('upgrade_reader', 'reader')" >/dev/null 2>&1
q -c "ALTER EXTENSION cryptoml UPDATE" 2>&1 | grep -v NOTICE
r=$(q -At -c "SELECT (SELECT count(*) FROM cryptoml_internal.served_symbols()) = jsonb_array_length(ml_config_get('symbols'))
                     AND (SELECT relreplident FROM pg_class WHERE oid = 'rollingchartdata'::regclass) = 'i'
                     AND ml_insert_bars('BTCUSDT', '[{\"timestamp\": \"2021-01-01 00:00\", \"open\": 1, \"high\": 1, \"low\": 1, \"close\": 1, \"volume\": 1}]') = 1")
[ "$r" = "t" ] && echo "ok 24 - a 0.8.0 database stays standalone after the update: every symbol served, bars written; published by natural key" ||
  echo "not ok 24 - standalone after the 0.8.0 update: $r"
r=$(q -At -c "SELECT has_function_privilege('upgrade_writer8', 'ml_insert_bars(text, jsonb)', 'EXECUTE')
                     AND NOT has_function_privilege('upgrade_reader', 'ml_insert_bars(text, jsonb)', 'EXECUTE')")
[ "$r" = "t" ] && echo "ok 25 - roles granted under 0.8.0 get the 0.9.0 objects of their level, and no more" || echo "not ok 25 - privileges after the 0.8.0 update: $r"
q -c "DELETE FROM rollingChartData" >/dev/null
q -c "SELECT ml_revoke_access('upgrade_reader')" -c "DROP OWNED BY upgrade_reader" -c "DROP ROLE upgrade_reader" >/dev/null
q -c "SELECT ml_revoke_access('upgrade_writer8')" -c "DROP OWNED BY upgrade_writer8" -c "DROP ROLE upgrade_writer8" >/dev/null
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
describe >"$tmp/upgraded8"
if [ "$v" = "$current" ] && diff -u "$tmp/fresh" "$tmp/upgraded8" >"$tmp/diff8"; then
  echo "ok 26 - 0.8.0 updated to $current has the catalog of a fresh install"
else
  echo "not ok 26 - 0.8.0 updated to $v differs from a fresh $current install"
  sed 's/^/# /' "$tmp/diff8" | head -60
fi

# From 0.9.0: trade following moved from a PL/pgSQL trigger into the indicators' C statement
# trigger: an open trade stored under 0.9.0 is followed by the next bar after the update, and the
# old trigger and function are gone; a writer gets ml_load_bars, a reader does not; everyone gets
# the window functions.
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.9.0' CASCADE"
q -c "DROP ROLE IF EXISTS upgrade_writer9" -c "CREATE ROLE upgrade_writer9" -c "SELECT ml_grant_access('upgrade_writer9', 'writer')" >/dev/null 2>&1
q -c "DROP ROLE IF EXISTS upgrade_reader" -c "CREATE ROLE upgrade_reader" -c "SELECT ml_grant_access('upgrade_reader', 'reader')" >/dev/null 2>&1
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT 'SOLUSDT', '2021-01-01'::timestamp + make_interval(mins => i), 20, 20.1, 19.9, 20, 5 FROM generate_series(0, 29) i" \
  -c "INSERT INTO tradeSimulations (symbol, signal_type, entry_price, tp_price, sl_price, forecast_horizon, entry_bar, fee_pct, slippage_pct)
      VALUES ('SOLUSDT', 'LONG', 20, 20.5, 19.5, 15, '2021-01-01 00:29', 0, 0)" >/dev/null
q -c "ALTER EXTENSION cryptoml UPDATE" 2>&1 | grep -v NOTICE
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('SOLUSDT', '2021-01-01 00:30', 20, 20.6, 19.9, 20.55, 5)" >/dev/null
r=$(q -At -c "SELECT is_active || '/' || exit_reason || '/' || (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'rollingchartdata'::regclass AND tgname = 'zz_trades_follow_bars')
                     || '/' || (to_regprocedure('cryptoml_internal.trades_follow_bars()') IS NULL)
                     || '/' || (SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'cryptoml_internal.follow_trade(integer)'::regprocedure)
                FROM tradeSimulations")
[ "$r" = "false/tp/0/true/c" ] && echo "ok 27 - a trade opened under 0.9.0 is followed by the next bar through the C trigger; the PL/pgSQL trigger is gone" ||
  echo "not ok 27 - trade following after the 0.9.0 update: $r (expected false/tp/0/true/c)"
r=$(q -At -c "SELECT has_function_privilege('upgrade_writer9', 'ml_load_bars(regclass)', 'EXECUTE')
                     AND has_function_privilege('upgrade_writer9', 'ml_load_bars(text)', 'EXECUTE')
                     AND NOT has_function_privilege('upgrade_reader', 'ml_load_bars(regclass)', 'EXECUTE')
                     AND has_function_privilege('upgrade_reader', 'ml_rsi(float8, integer)', 'EXECUTE')")
[ "$r" = "t" ] && echo "ok 28 - roles granted under 0.9.0 get the 0.10.0 objects of their level, and no more" || echo "not ok 28 - privileges after the 0.9.0 update: $r"
q -c "DELETE FROM tradeSimulations" -c "DELETE FROM rollingChartData" >/dev/null
q -c "SELECT ml_revoke_access('upgrade_reader')" -c "DROP OWNED BY upgrade_reader" -c "DROP ROLE upgrade_reader" >/dev/null
q -c "SELECT ml_revoke_access('upgrade_writer9')" -c "DROP OWNED BY upgrade_writer9" -c "DROP ROLE upgrade_writer9" >/dev/null
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
describe >"$tmp/upgraded9"
if [ "$v" = "$current" ] && diff -u "$tmp/fresh" "$tmp/upgraded9" >"$tmp/diff9"; then
  echo "ok 29 - 0.9.0 updated to $current has the catalog of a fresh install"
else
  echo "not ok 29 - 0.9.0 updated to $v differs from a fresh $current install"
  sed 's/^/# /' "$tmp/diff9" | head -60
fi

# From 0.10.0: the forecaster's per-session volatility series (volatility_interval, kept current
# by two triggers on persistentForecasts) and the backtest option warmWindow.
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml VERSION '0.10.0' CASCADE"
q -c "ALTER EXTENSION cryptoml UPDATE" 2>&1 | grep -v NOTICE
r=$(q -At -c "SELECT (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'persistentforecasts'::regclass AND NOT tgisinternal
                        AND tgname LIKE 'zz_cryptoml_forecast%')
                     || '/' || NOT has_function_privilege('public', 'cryptoml_internal.volatility_interval(text, integer, timestamp, float8, integer)', 'EXECUTE')")
e=$(q -At -c "SELECT ml_backtest('SOLUSDT', 5, 'lstm', options => '{\"warmWindow\": -1}')" 2>&1 | head -1)
[ "$r" = "zz_cryptoml_forecast_outcome_inserted,zz_cryptoml_forecasts_changed/true" ] && [[ "$e" == *"option warmWindow = -1 is out of range"* ]] &&
  echo "ok 30 - 0.10.0 updated: the forecast triggers, volatility_interval for the owner only, ml_backtest takes warmWindow" ||
  echo "not ok 30 - after the 0.10.0 update: $r; $e"
v=$(q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
describe >"$tmp/upgraded10"
if [ "$v" = "$current" ] && diff -u "$tmp/fresh" "$tmp/upgraded10" >"$tmp/diff10"; then
  echo "ok 31 - 0.10.0 updated to $current has the catalog of a fresh install"
else
  echo "not ok 31 - 0.10.0 updated to $v differs from a fresh $current install"
  sed 's/^/# /' "$tmp/diff10" | head -60
fi

q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml; CREATE EXTENSION cryptoml CASCADE"
