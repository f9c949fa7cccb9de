#!/usr/bin/env bash
# Model bundles (issue 16): ml_export_model of an xgboost model trained on generated bars with a
# signal; Debian's python3-xgboost loads the bundle's bytes and predicts exactly what the extension
# predicts on the same feature rows (cryptoml_internal.model_predict) and at the latest bar
# (ml_forecast's raw_change); ml_import_model(deploy => true) in a second database holding the same
# bars registers the same model, and ml_forecast there states the same forecast; corrupted,
# truncated and otherwise bad bundles, an import over an existing batch_id and the export of an
# unknown batch fail with clear errors and leave the registry unchanged.
#
# Two databases, cryptoml_export_a and cryptoml_export_b, each in its own throwaway cluster
# (scripts/cluster.sh; ports CRYPTOML_BUNDLE_PORT_A/B, default 54341/54342): cryptoml requires
# pg_cron, and pg_cron installs only in its cluster's cron.database_name, so a second database of
# the test cluster cannot hold the extension. Both clusters are destroyed at the end. The test
# cluster itself is not touched. TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
tmp=$(mktemp -d)
chmod 755 "$tmp"
PORT_A=${CRYPTOML_BUNDLE_PORT_A:-54341}
PORT_B=${CRYPTOML_BUNDLE_PORT_B:-54342}
cl_a() { CRYPTOML_PORT=$PORT_A CRYPTOML_DB=cryptoml_export_a CRYPTOML_PRELOAD=1 bash "$ROOT/scripts/cluster.sh" "$1" bundle_a; }
cl_b() { CRYPTOML_PORT=$PORT_B CRYPTOML_DB=cryptoml_export_b CRYPTOML_PRELOAD=1 bash "$ROOT/scripts/cluster.sh" "$1" bundle_b; }
cleanup() {
  cl_a destroy >/dev/null 2>&1
  cl_b destroy >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
# psql in database a / b (the environment cluster.sh prints, in a subshell)
qa() { (eval "$(cl_a env)"; q "$@"); }
qb() { (eval "$(cl_b env)"; q "$@"); }
# stderr of a statement expected to fail, with the SQLSTATE (VERBOSITY verbose); "" when it succeeded
err_a() { (eval "$(cl_a env)"; psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$@" 2>&1 >/dev/null); }
err_b() { (eval "$(cl_b env)"; psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$@" 2>&1 >/dev/null); }
# psql variables are not interpolated in -c: SQL that reads the bundles runs as a script on stdin,
# with :'b' = a's bundle ($tmp/bundle.json) and :'bb' = b's export ($tmp/bundle_b.json, once written)
with_bundle() {
  local run=$1
  shift
  { echo "\\set b \`cat $tmp/bundle.json\`"
    [ -f "$tmp/bundle_b.json" ] && echo "\\set bb \`cat $tmp/bundle_b.json\`"
    echo "$1;"; } | $run
}
PY=/usr/bin/python3
SYMBOL=SOLUSDT
H=5

echo "1..31"

# ---- two databases with the extension -------------------------------------------------------------
cl_a destroy >/dev/null 2>&1
cl_b destroy >/dev/null 2>&1
setup_ok=0
for c in cl_a cl_b; do
  $c start >/dev/null || setup_ok=1
  db=$([ $c = cl_a ] && echo cryptoml_export_a || echo cryptoml_export_b)
  (eval "$($c env)"; createdb "$db" && psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
     -c "CREATE EXTENSION cryptoml CASCADE") >/dev/null || setup_ok=1
done
ok $setup_ok "databases cryptoml_export_a and cryptoml_export_b hold the extension (own clusters: pg_cron installs in one database per cluster)"
if [ $setup_ok != 0 ]; then
  for i in $(seq 2 28); do ok 1 "skipped: no databases"; done
  exit 1
fi

# ---- a: bars with a signal, samples, an xgboost model ----------------------------------------------
# 3000 minutes whose returns follow a slow sine (learnable) plus noise
qa -c "SELECT setseed(0.42)" -c "
  INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
  SELECT '$SYMBOL', '2021-05-01'::timestamp + make_interval(mins => i), round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8),
         round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10 + i % 7
    FROM (SELECT i, 100 * exp(sum(r) OVER (ORDER BY i)) AS c
            FROM (SELECT i, 0.003 * sin(i / 20.0) + (random() - 0.5) * 0.002 AS r FROM generate_series(0, 2999) i) x) y" >/dev/null
qa -c "SELECT ml_build_samples('$SYMBOL', $H)" >/dev/null
bid=$(qa -c "SELECT batch_id FROM ml_train('$SYMBOL', $H, 'xgboost', '{\"windowSize\": 2000, \"num_rounds\": 40, \"max_depth\": 4}')")
[ -n "$bid" ] && [ "$(qa -c "SELECT count(*) FROM cryptoml_internal.models WHERE batch_id = '$bid'")" = 1 ]
ok $? "a: ml_train registered an xgboost model ($bid)"
qa -c "SELECT ml_deploy('$bid') WHERE NOT (SELECT is_production FROM mlTrainingBatches WHERE batch_id = '$bid')" >/dev/null
qa -c "SELECT ml_config_set('inference.predictionCache', 'false')" >/dev/null
[ "$(qa -c "SELECT is_production AND rmse < baseline_rmse FROM mlTrainingBatches WHERE batch_id = '$bid'")" = t ]
ok $? "a: it is the production model and beats zero change (the bars have a signal)"

# ---- export ---------------------------------------------------------------------------------------
qa -c "SELECT ml_export_model('$bid')" >"$tmp/bundle.json"
[ -s "$tmp/bundle.json" ] && [ "$(with_bundle qa "SELECT (:'b'::jsonb ->> 'format') = 'cryptoml-model-bundle'
    AND (:'b'::jsonb -> 'bundle_version') = '1' AND (:'b'::jsonb -> 'batch' ->> 'batch_id') = '$bid'
    AND (:'b'::jsonb -> 'members') = '[]' AND (:'b'::jsonb -> 'batch' -> 'hyperparameters') ? 'train_first_bar'")" = t ]
ok $? "ml_export_model writes a cryptoml-model-bundle, bundle_version 1, with the batch and its training window"
[ "$(with_bundle qa "SELECT (:'b'::jsonb -> 'model' ->> 'sha256') = encode(model_sha256, 'hex')
    AND decode(:'b'::jsonb -> 'model' ->> 'bytes_base64', 'base64') = model
    AND (:'b'::jsonb -> 'model' -> 'feature_names') = feature_names
    AND (:'b'::jsonb -> 'model' -> 'calibration') IS NOT DISTINCT FROM calibration
    AND jsonb_array_length(:'b'::jsonb -> 'model' -> 'oot_raw') = cardinality(oot_raw)
    FROM cryptoml_internal.models WHERE batch_id = '$bid'")" = t ]
ok $? "its bytes, SHA-256, feature names, calibration and out-of-time record are the stored ones"

# ---- python3-xgboost predicts the same ------------------------------------------------------------
if ! "$PY" -c "import xgboost, numpy" 2>/dev/null; then bash "$ROOT/scripts/deps.sh" bench >/dev/null 2>&1; fi
# the last 300 samples' feature vectors (NaN = missing) and the extension's predictions of them
qa -c "SELECT array_to_json(array_agg(feature_vector ORDER BY bar_timestamp)) FROM (SELECT feature_vector, bar_timestamp
         FROM mlTrainingSamples WHERE symbol = '$SYMBOL' AND forecast_horizon = $H ORDER BY bar_timestamp DESC LIMIT 300) s" >"$tmp/rows.json"
qa -c "SELECT array_to_json(cryptoml_internal.model_predict('$bid', (SELECT array_agg(feature_vector ORDER BY bar_timestamp)
         FROM (SELECT feature_vector, bar_timestamp FROM mlTrainingSamples WHERE symbol = '$SYMBOL' AND forecast_horizon = $H
               ORDER BY bar_timestamp DESC LIMIT 300) s)))" >"$tmp/ext.json"
qa -c "SELECT array_to_json(cryptoml_internal.features_to_vector(cryptoml_internal.latest_features('$SYMBOL')))" >"$tmp/latest.json"
qa -c "SELECT raw_change FROM ml_forecast('$SYMBOL', $H)" 2>/dev/null >"$tmp/raw_change"
cat >"$tmp/predict.py" <<'PY'
import base64, json, sys
import numpy as np
import xgboost as xgb
d = sys.argv[1]
bundle = json.load(open(d + "/bundle.json"))
raw = base64.b64decode(bundle["model"]["bytes_base64"], validate=True)
bst = xgb.Booster()
bst.load_model(bytearray(raw))
rows = np.array(json.load(open(d + "/rows.json")), dtype=np.float64)   # json reads NaN
ext = np.array(json.load(open(d + "/ext.json")), dtype=np.float64)
py = bst.predict(xgb.DMatrix(rows.astype(np.float32), missing=np.nan)).astype(np.float64)
assert rows.shape[1] == len(bundle["model"]["feature_names"]), rows.shape
bitwise = int(np.sum(py == ext))
rel = float(np.max(np.abs(py - ext) / np.maximum(np.abs(ext), 1e-12)))
latest = np.array([json.load(open(d + "/latest.json"))], dtype=np.float64)
p_latest = float(bst.predict(xgb.DMatrix(latest.astype(np.float32), missing=np.nan))[0])
raw_change = float(open(d + "/raw_change").read())
print("rows=%d bitwise_equal=%d max_rel_diff=%.3g nan_cells=%d latest_py=%r raw_change=%r"
      % (len(py), bitwise, rel, int(np.isnan(rows).sum()), p_latest, raw_change))
print("RESULT", "ok" if len(py) == 300 and rel <= 1e-6 else "differ", "ok" if abs(p_latest - raw_change) <= 1e-6 * max(1.0, abs(raw_change)) else "differ")
PY
pyout=$("$PY" "$tmp/predict.py" "$tmp" 2>&1)
echo "# python3-xgboost: $(head -1 <<<"$pyout")"
grep -q "^RESULT ok" <<<"$pyout"
ok $? "python3-xgboost loads the bundle's bytes and predicts the same on 300 feature rows (equal, or within 1e-6 relative)"
grep -q "^RESULT ok ok" <<<"$pyout"
ok $? "... and at the latest bar the same as ml_forecast's raw_change"

# ---- b: the same bars, the bundle imported and deployed ---------------------------------------------
qa -c "\\copy (SELECT symbol, timestamp, open, high, low, close, volume FROM rollingChartData WHERE symbol = '$SYMBOL' ORDER BY timestamp) TO '$tmp/bars.csv' CSV"
qb -c "\\copy rollingChartData (symbol, timestamp, open, high, low, close, volume) FROM '$tmp/bars.csv' CSV" >/dev/null
qb -c "SELECT ml_config_set('inference.predictionCache', 'false')" >/dev/null
[ "$(qa -c "SELECT md5(string_agg(r::text, ',' ORDER BY timestamp)) FROM (SELECT symbol, timestamp, open, high, low, close, volume FROM rollingChartData) r")" = \
  "$(qb -c "SELECT md5(string_agg(r::text, ',' ORDER BY timestamp)) FROM (SELECT symbol, timestamp, open, high, low, close, volume FROM rollingChartData) r")" ]
ok $? "b holds the same bars"
imported=$(with_bundle qb "SELECT batch_id || ' ' || is_production FROM ml_import_model(:'b'::jsonb, deploy => true)")
[ "$imported" = "$bid true" ]
ok $? "b: ml_import_model(bundle, deploy => true) registers $bid as the production model ($imported)"
batch_row="SELECT row(batch_id, symbol, model_type, training_samples, validation_samples, rmse, mae, accuracy, model_path, is_production,
  created_at, forecast_horizon, baseline_rmse, hyperparameters, feature_set_version, duration_ms, shrinkage, skill_statistic, skill_p_value,
  calibration_pairs)::text FROM mlTrainingBatches WHERE batch_id = '$bid'"
[ "$(qa -c "$batch_row")" = "$(qb -c "$batch_row")" ]
ok $? "its mlTrainingBatches row equals a's (metrics, training window, skill, created_at)"
model_row="SELECT md5(row(batch_id, model, feature_names, feature_set_version, calibration, model_sha256, oot_ts, oot_raw, oot_actual)::text)
  FROM cryptoml_internal.models WHERE batch_id = '$bid'"
[ "$(qa -c "$model_row")" = "$(qb -c "$model_row")" ]
ok $? "its cryptoml_internal.models row equals a's (bytes, checksum, features, calibration, out-of-time record)"
[ "$(qb -c "SELECT count(*) FROM cryptoml_internal.deployments WHERE batch_id = '$bid' AND action = 'deploy'")" = 1 ]
ok $? "b: the deployment is recorded"
[ "$(qb -c "SELECT string_agg(action || ':' || outcome || ':' || (new_value->>'deployed')::text, ',' ORDER BY id)
             FROM ml_audit_log WHERE object = '$bid' AND action = 'model_import'")" = "model_import:committed:true" ]
ok $? "b: the import is in the audit trail (model_import, committed, deployed)"
[ "$(qa -c "SELECT count(*) > 0 AND bool_and(outcome = 'not transactional') FROM ml_audit_log WHERE object = '$bid' AND action = 'model_export'")" = t ]
ok $? "a: the export is in the audit trail (model_export: who read the model bytes)"
fc="SELECT row(forecast_at, predicted_change, confidence, lower, upper, raw_change, signal, model_version)::text FROM ml_forecast('$SYMBOL', $H)"
fa=$(qa -c "$fc" 2>/dev/null)
fb=$(qb -c "$fc" 2>/dev/null)
echo "# a: $fa"
echo "# b: $fb"
[ -n "$fa" ] && [ "$fa" = "$fb" ]
ok $? "ml_forecast in b states what it states in a (predicted_change, confidence, lower, upper, raw change, signal)"
qb -c "SELECT ml_export_model('$bid')" >"$tmp/bundle_b.json"
[ "$(with_bundle qb "SELECT :'b'::jsonb = :'bb'::jsonb")" = t ]
ok $? "b exports the same bundle again"

# ---- bad input: clear errors, nothing changed --------------------------------------------------------
fingerprint="SELECT md5(string_agg(x, '|' ORDER BY x)) || ' ' || (SELECT last_value FROM mltrainingbatches_id_seq) FROM (
    SELECT t::text AS x FROM mlTrainingBatches t
    UNION ALL SELECT md5(m::text) FROM cryptoml_internal.models m
    UNION ALL SELECT e::text FROM cryptoml_internal.ensemble_members e
    UNION ALL SELECT row(d.id, d.batch_id, d.action)::text FROM cryptoml_internal.deployments d) s"
# imports the bundle transformed by the SQL expression $2 (of b, the bundle as jsonb) into b and
# checks the error matches the pattern $3 and the registry is unchanged; $1 names the case
bad_import() {
  local before after e
  before=$(qb -c "$fingerprint")
  e=$(with_bundle err_b "SELECT ml_import_model((SELECT $2 FROM (SELECT jsonb_set(:'b'::jsonb,
        '{batch,batch_id}', '\"xgb-$SYMBOL-h$H-9999\"') AS b) s), deploy => true)")
  after=$(qb -c "$fingerprint")
  echo "# $1: $(head -3 <<<"$e" | cut -c1-300 | tr '\n' ' ')"
  grep -Eq "$3" <<<"$e" && [ "$before" = "$after" ]
  ok $? "$1: a clear error, the registry unchanged"
}
bad_import "corrupted base64" \
  "jsonb_set(b, '{model,bytes_base64}', to_jsonb(overlay(b #>> '{model,bytes_base64}' placing '!' from 101 for 1)))" \
  "22000: bundle.model.bytes_base64 is not valid base64: '!' at character 101"
bad_import "one byte of the model changed" \
  "jsonb_set(b, '{model,bytes_base64}', to_jsonb(replace(encode(set_byte(decode(b #>> '{model,bytes_base64}', 'base64'), 1000,
     get_byte(decode(b #>> '{model,bytes_base64}', 'base64'), 1000) # 1), 'base64'), E'\\n', '')))" \
  "22000: bundle.model.bytes_base64 does not match bundle.model.sha256"
bad_import "model bytes cut short" \
  "jsonb_set(b, '{model,bytes_base64}', to_jsonb(left(b #>> '{model,bytes_base64}', length(b #>> '{model,bytes_base64}') / 8 * 4)))" \
  "22000: bundle.model.bytes_base64 does not match bundle.model.sha256"
bad_import "bundle_version 99" "jsonb_set(b, '{bundle_version}', '99')" \
  "22023: bundle.bundle_version 99 is newer than this cryptoml \([0-9.]+\) reads: 1"
bad_import "a feature set this build does not know" "jsonb_set(b, '{model,feature_set_version}', '3')" \
  "22023: bundle.model.feature_set_version 3 is not supported by this cryptoml"
bad_import "a set-1 model said to be of feature set 2" "jsonb_set(b, '{model,feature_set_version}', '2')" \
  "22023: bundle.model.feature_names differ from feature set 2 at position 29"
bad_import "an unknown model type" "jsonb_set(b, '{batch,model_type}', '\"random_forest\"')" \
  "22023: bundle.batch.model_type: unknown model_type \"random_forest\""
bad_import "xgboost bytes said to be an lstm" "jsonb_set(b, '{batch,model_type}', '\"lstm\"')" \
  "22000: bundle.model.bytes_base64 does not load as a lstm model"
bad_import "a batch_id longer than the column" "jsonb_set(b, '{batch,batch_id}', to_jsonb(repeat('x', 51)))" \
  "22023: bundle.batch.batch_id \"x+\.\.\. \(51 bytes\)\" is 51 characters long"
bad_import "oot arrays of unequal length" "jsonb_set(b, '{model,oot_raw}', (b #> '{model,oot_raw}') - 0)" \
  "22023: bundle.model has oot_ts of [0-9]+ elements, oot_raw of [0-9]+ and oot_actual of [0-9]+"

before=$(qb -c "$fingerprint")
e=$(with_bundle err_b "SELECT ml_import_model(left(:'b', length(:'b') / 2)::jsonb)")
after=$(qb -c "$fingerprint")
echo "# truncated bundle: $(head -2 <<<"$e" | cut -c1-300 | tr '\n' ' ')"
grep -q "22P02: invalid input syntax for type json" <<<"$e" && [ "$before" = "$after" ]
ok $? "a truncated bundle: a clear error (not JSON), the registry unchanged"

before=$(qb -c "$fingerprint")
e=$(with_bundle err_b "SELECT ml_import_model(:'b'::jsonb, deploy => true)")
after=$(qb -c "$fingerprint")
echo "# import over an existing batch: $(head -3 <<<"$e" | cut -c1-300 | tr '\n' ' ')"
grep -q "23505: batch_id \"$bid\" already exists in this database" <<<"$e" && [ "$before" = "$after" ]
ok $? "an import over an existing batch_id: unique_violation naming it, the registry unchanged"

before=$(qb -c "$fingerprint")
e=$(err_b -c "SELECT ml_export_model('xgb-$SYMBOL-h$H-424242')")
after=$(qb -c "$fingerprint")
grep -q "22023: unknown batch_id \"xgb-$SYMBOL-h$H-424242\"" <<<"$e" && [ "$before" = "$after" ]
ok $? "the export of an unknown batch: a clear error, nothing changed"

# ---- after an import, ml_train never writes an imported batch_id ---------------------------------------
qb -c "SELECT ml_build_samples('$SYMBOL', $H)" >/dev/null
n_imported=${bid##*-}
bid_b=$(qb -c "SELECT batch_id FROM ml_train('$SYMBOL', $H, 'xgboost', '{\"windowSize\": 2000, \"num_rounds\": 40, \"max_depth\": 4}')")
[ -n "$bid_b" ] && [ "$bid_b" != "$bid" ] && [ "${bid_b##*-}" -gt "$n_imported" ]
ok $? "b: a later ml_train numbers its batch past the imported one ($bid_b after $bid)"

# ---- no crash in either cluster ---------------------------------------------------------------------
crashes=0
for c in cl_a cl_b; do
  log=$(eval "$($c env)"; echo "$CRYPTOML_SERVER_LOG")
  grep -Eq "terminated by signal|was terminated by exception" "$log" 2>/dev/null && crashes=1
done
ok $crashes "no backend crashed in either cluster"
