#!/usr/bin/env bash
# The ops files (ops/grafana/cryptoml.json, ops/prometheus/queries.yaml) against the extension's
# ml_status_* views, so a schema change cannot break a dashboard silently. With a symbol, bars, a
# production model with outcomes and two open alerts in the test database, and a LOGIN role that
# holds only ml_grant_access(role, 'reader'):
#  (a) every panel's and template variable's rawSql (Grafana macros expanded as Grafana does) and
#      every exporter query runs and returns rows, in a generated pgTAP file run by pg_prove as
#      that role; each exporter query returns exactly the columns its metrics list names; the
#      panels read only ml_status_* views;
#  (b) the installed prometheus-postgres-exporter, connected as that role, loads queries.yaml,
#      scrapes without error and serves every figure the same SQL returns.
# Everything the test writes is removed at the end (the symbols setting restored). TAP output.
# Environment: PGHOST/PGPORT/PGUSER/PGDATABASE of the test cluster (a superuser; the extension and
# pgtap created).
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
SYM=OPSTAPUSDT
ROLE=cml_ops_tap
BATCH=ops-tap-xgboost-15
DASH="$ROOT/ops/grafana/cryptoml.json"
YAML="$ROOT/ops/prometheus/queries.yaml"
EXPORTER=${PROMETHEUS_POSTGRES_EXPORTER:-/usr/bin/prometheus-postgres-exporter}
tmp=$(mktemp -d)
chmod 755 "$tmp"
exporter_pid=
saved_symbols=$(q -c "SELECT value FROM cryptoml_internal.config WHERE path = 'symbols'")

remove_fixture() {
  q -c "DELETE FROM persistentForecasts WHERE symbol = '$SYM'" \
    -c "DELETE FROM mlTrainingBatches WHERE symbol = '$SYM'" \
    -c "DELETE FROM rollingChartData WHERE symbol = '$SYM'" \
    -c "DELETE FROM cryptoml_internal.monitor_alerts WHERE symbol = '$SYM'" >/dev/null
}
drop_role() {
  q -c "DO \$\$ BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') THEN
            PERFORM ml_revoke_access('$ROLE');
            DROP OWNED BY $ROLE;
            DROP ROLE $ROLE;
          END IF;
        END \$\$" >/dev/null
}
cleanup() {
  if [ -n "$exporter_pid" ]; then kill "$exporter_pid" 2>/dev/null; wait "$exporter_pid" 2>/dev/null; fi
  remove_fixture
  drop_role
  # the symbols setting as it was (without this test's symbol, should an interrupted run have left it)
  if [ -n "$saved_symbols" ]; then
    q -c "SELECT ml_config_set('symbols', (SELECT jsonb_agg(s) FROM jsonb_array_elements('$saved_symbols'::jsonb) s
                                            WHERE s <> to_jsonb('$SYM'::text)))" >/dev/null
  else
    q -c "SELECT ml_config_reset('symbols')" >/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the fixture: 293 bars ending 8 minutes ago (stale, incomplete), a production model whose
# forecasts of those bars have outcomes up to 15 minutes before the last bar, two open alerts
# the workers (off in the test cluster) would check the fixture's symbol and change its alerts
q -c "SELECT ml_stop_workers()" >/dev/null
remove_fixture
drop_role
q -c "SELECT ml_config_set('symbols', ml_config_get('symbols') || to_jsonb('$SYM'::text))
        WHERE NOT ml_config_get('symbols') ? '$SYM'" >/dev/null
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT '$SYM', date_trunc('minute', now() AT TIME ZONE 'UTC') - make_interval(mins => i),
             100 + sin(i / 7.0), 101 + sin(i / 7.0), 99 + sin(i / 7.0), 100.5 + sin(i / 7.0), 1
        FROM generate_series(300, 8, -1) i" \
  -c "INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples, is_production,
                                     forecast_horizon, created_at)
      VALUES ('$BATCH', '$SYM', 'xgboost', 1000, 200, true, 15, now()::timestamp - interval '3 hours')" \
  -c "INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, raw_value, lower, upper,
                                       forecast_horizon, model_version, created_at, expires_at, bar_timestamp, actual_value)
      SELECT '$SYM', 'price_direction', 55, 0.01 * sin(r.id), 0.02 * sin(r.id / 3.0), -1.2, 1.2, 15, '$BATCH',
             r.timestamp + interval '1 minute', r.timestamp + interval '15 minutes', r.timestamp,
             round(100 * (n.close / r.close - 1), 8)
        FROM rollingChartData r
        LEFT JOIN rollingChartData n ON n.symbol = r.symbol AND n.timestamp = r.timestamp + interval '15 minutes'
       WHERE r.symbol = '$SYM'" \
  -c "INSERT INTO cryptoml_internal.monitor_alerts (symbol, alert, level, value, threshold, started_at, last_seen_at)
      VALUES ('$SYM', 'stale_data', 'error', 450, 300, now() - interval '3 minutes', now()),
             ('$SYM', 'missing_data', 'warning', 0.12, 0.1, now() - interval '2 minutes', now())" \
  -c "CREATE ROLE $ROLE LOGIN" -c "SELECT ml_grant_access('$ROLE', 'reader')" >/dev/null
[ $? = 0 ] || { echo "Bail out! could not write the fixture"; exit 1; }

# --- (a) the queries, extracted and expanded, as a pgTAP file
python3 - "$DASH" "$YAML" "$SYM" "$tmp" <<'PY' || { echo "Bail out! could not read the ops files"; exit 1; }
import datetime, json, re, sys

dash_path, yaml_path, sym, tmp = sys.argv[1:5]

def parse_queries_yaml(path):
    """The subset of YAML queries.yaml is written in (see its header); anything else is an error."""
    out, name, item, block = {}, None, None, None
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if block is not None:
            if line.startswith("    ") or not line.strip():
                out[name]["query"] += line[4:] + "\n"
                continue
            block = None
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r"([a-z_][a-z0-9_]*):", line)
        if m:
            name = m.group(1)
            out[name] = {"query": "", "metrics": []}
            continue
        if line == "  query: |":
            block = True
            continue
        m = re.fullmatch(r"  (cache_seconds): ([0-9]+)", line) or re.fullmatch(r"  (master): (true|false)", line)
        if m:
            out[name][m.group(1)] = int(m.group(2)) if m.group(2).isdigit() else m.group(2) == "true"
            continue
        if line == "  metrics:":
            continue
        m = re.fullmatch(r"    - ([a-z_][a-z0-9_]*):", line)
        if m:
            item = {}
            out[name]["metrics"].append({m.group(1): item})
            continue
        m = re.fullmatch(r'        (usage|description): "([^"\\]*)"', line)
        if m:
            item[m.group(1)] = m.group(2)
            continue
        sys.exit("%s:%d: not in the subset of YAML this test reads: %r" % (path, no, line))
    return out

queries = parse_queries_yaml(yaml_path)
try:  # where PyYAML is there, the subset must read as real YAML does
    import yaml
    if yaml.safe_load(open(yaml_path, encoding="utf-8")) != queries:
        sys.exit("queries.yaml: the subset parser and PyYAML disagree")
except ImportError:
    pass
for name, spec in queries.items():
    if not spec["query"].strip() or not spec["metrics"]:
        sys.exit("queries.yaml: %s has no query or no metrics" % name)
    for m in spec["metrics"]:
        (col, attrs), = m.items()
        if attrs.get("usage") not in ("LABEL", "GAUGE", "COUNTER") or not attrs.get("description"):
            sys.exit("queries.yaml: %s.%s needs a usage (LABEL, GAUGE, COUNTER) and a description" % (name, col))

# Grafana's macros and variables, as its PostgreSQL data source expands them, for the last 6 hours
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
frm, to = now - datetime.timedelta(hours=6), now
iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
variables = {"symbol": sym, "horizon": "15"}

def expand(sql):
    sql = re.sub(r"\$__timeFilter\(([^)]*)\)", lambda m: "%s BETWEEN '%s' AND '%s'" % (m.group(1).strip(), iso(frm), iso(to)), sql)
    sql = sql.replace("$__timeFrom()", "'%s'" % iso(frm)).replace("$__timeTo()", "'%s'" % iso(to))
    sql = re.sub(r"\$__unixEpochFilter\(([^)]*)\)", lambda m: "%s >= %d AND %s <= %d" % (
        m.group(1).strip(), frm.timestamp(), m.group(1).strip(), to.timestamp()), sql)
    def group(m):
        col, step = [a.strip().strip("'") for a in m.group(2).split(",")[:2]]
        secs = int(step[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[step[-1]]
        expr = "floor(extract(epoch from %s)/%d)*%d" % (col, secs, secs)
        return expr + (' AS "time"' if m.group(1) else "")
    sql = re.sub(r"\$__timeGroup(Alias)?\(([^)]*)\)", group, sql)
    for k, v in variables.items():
        sql = sql.replace("${%s}" % k, v).replace("[[%s]]" % k, v)
        sql = re.sub(r"\$%s\b" % k, v, sql)
    left = re.findall(r"\$\{?\w+|\[\[\w+\]\]", sql)
    if left:
        sys.exit("unknown Grafana macro or variable %s in: %s" % (left[0], sql))
    return sql.strip().rstrip(";")

dash = json.load(open(dash_path, encoding="utf-8"))
checks = []   # (description, sql)
for var in dash["templating"]["list"]:
    if var["type"] == "query":
        checks.append(("grafana variable %s" % var["name"], expand(var["query"] if isinstance(var["query"], str) else var["query"]["rawSql"])))
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
panel_sql = []
for p in walk(dash["panels"]):
    for t in p.get("targets", []):
        checks.append(("grafana panel %s (%s)" % (p["title"], t["refId"]), expand(t["rawSql"])))
        panel_sql.append(t["rawSql"])
# the relations every panel reads: only the documented status views
relations = sorted({r for sql in panel_sql for r in re.findall(r"\b(?:FROM|JOIN)\s+([\w.\"]+)", sql, re.I)})
for name, spec in queries.items():
    checks.append(("exporter query %s" % name, spec["query"].strip().rstrip(";")))

def dollar(s):
    tag = "$q$"
    assert tag not in s
    return tag + s + tag
lit = lambda s: "'" + s.replace("'", "''") + "'"
with open(tmp + "/ops.sql", "w") as f:
    f.write("\\set QUIET 1\nSET client_min_messages = warning;\n")
    f.write("""CREATE FUNCTION pg_temp.rows_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
  EXECUTE 'SELECT count(*) FROM (' || q || ') q' INTO n;
  RETURN n::text;
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM;
END $f$;
CREATE FUNCTION pg_temp.columns_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE c text;
BEGIN
  EXECUTE 'CREATE TEMP VIEW ops_columns_of AS ' || q;
  SELECT string_agg(a.attname, ',' ORDER BY a.attnum) INTO c FROM pg_attribute a
   WHERE a.attrelid = 'pg_temp.ops_columns_of'::regclass AND a.attnum > 0;
  DROP VIEW pg_temp.ops_columns_of;
  RETURN c;
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM;
END $f$;
""")
    f.write("SELECT plan(%d);\n" % (2 * len(checks) + len(queries) + 1))
    f.write("SELECT is(%s::text, %s::text, 'the panels read only ml_status_* views');\n" % (
        lit(",".join(relations)), lit(",".join(r for r in relations if re.fullmatch(r"ml_status_\w+", r)))))
    for desc, sql in checks:
        f.write("SELECT lives_ok(%s, %s);\n" % (dollar(sql), lit(desc + " runs as a reader")))
        f.write("SELECT matches(pg_temp.rows_of(%s), '^[1-9][0-9]*$', %s);\n" % (dollar(sql), lit(desc + " returns rows")))
    for name, spec in queries.items():
        cols = ",".join(next(iter(m)) for m in spec["metrics"])
        f.write("SELECT is(pg_temp.columns_of(%s), %s::text, %s);\n" % (
            dollar(spec["query"].strip().rstrip(";")), lit(cols), lit("exporter query %s returns exactly the columns of its metrics" % name)))
    f.write("SELECT * FROM finish();\n")
json.dump(queries, open(tmp + "/queries.json", "w"))
PY

# pg_prove as the reader role; its results become this test's
pg_prove -v -U "$ROLE" "$tmp/ops.sql" >"$tmp/pg_prove.out" 2>&1
prove_status=$?
while IFS= read -r line; do
  case "$line" in
    "ok "*) ok 0 "${line#* - }" ;;
    "not ok "*) ok 1 "${line#* - }" ;;
    "#"*) echo "#   ${line#\# }" ;;
  esac
done <"$tmp/pg_prove.out"
ok $prove_status "pg_prove of the generated file passes"
[ $prove_status = 0 ] || grep -v "^\(ok\|not ok\|#\)" "$tmp/pg_prove.out" | sed 's/^/#   /'

# --- (b) the exporter, as the reader role
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATA_SOURCE_NAME="host=$PGHOST port=$PGPORT user=$ROLE dbname=$PGDATABASE sslmode=disable" \
  "$EXPORTER" --extend.query-path="$YAML" --web.listen-address="127.0.0.1:$port" \
  --disable-default-metrics --disable-settings-metrics --no-collector.database --no-collector.bgwriter \
  --log.level=info >"$tmp/exporter.log" 2>&1 &
exporter_pid=$!
up=1
for _ in $(seq 1 40); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/" && { up=0; break; }
  sleep 0.25
done
ok $up "prometheus-postgres-exporter $("$EXPORTER" --version 2>&1 | awk 'NR == 1 {print $3}') listens on 127.0.0.1:$port"

# what SQL says before and after one scrape: every figure the exporter serves must lie between
snapshot() {
  python3 - "$tmp/queries.json" "$ROLE" >"$1" <<'PY'
import csv, io, json, subprocess, sys
queries = json.load(open(sys.argv[1]))
out = {}
for name, spec in queries.items():
    r = subprocess.run(["psql", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-U", sys.argv[2], "-c", spec["query"]],
                       capture_output=True, text=True)
    out[name] = list(csv.DictReader(io.StringIO(r.stdout))) if r.returncode == 0 else {"error": r.stderr}
json.dump(out, sys.stdout)
PY
}
snapshot "$tmp/before.json"
curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/metrics.txt"
ok $? "GET /metrics answers"
snapshot "$tmp/after.json"

python3 - "$tmp" "$SYM" "$n" <<'PY'
import json, math, re, sys
tmp, sym, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
queries = json.load(open(tmp + "/queries.json"))
before, after = json.load(open(tmp + "/before.json")), json.load(open(tmp + "/after.json"))
samples = {}
for line in open(tmp + "/metrics.txt"):
    m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)\n?", line)
    if not m or line.startswith("#"):
        continue
    labels = dict((k, re.sub(r"\\(.)", r"\1", v)) for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
    labels.pop("server", None)
    samples[(m.group(1), tuple(sorted(labels.items())))] = float(m.group(3))
n = [first]
def ok(cond, desc, diag=()):
    n[0] += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n[0], desc))
    for d in ([] if cond else diag):
        for l in str(d).splitlines():
            print("#   " + l)
def num(v):
    return math.nan if v in ("", None) else float({"t": 1, "f": 0}.get(v, v))
for name, spec in queries.items():
    if "error" in before[name] or "error" in after[name]:
        ok(False, "exporter query %s serves what SQL returns" % name, [(before[name] if "error" in before[name] else after[name])["error"]])
        continue
    cols = [(c, a["usage"]) for m in spec["metrics"] for c, a in m.items()]
    labels = [c for c, u in cols if u == "LABEL"]
    values = [c for c, u in cols if u != "LABEL"]
    key = lambda row: tuple(sorted((c, row[c]) for c in labels))
    a = {key(r): r for r in after[name]}
    rows = [(r, a[key(r)]) for r in before[name] if key(r) in a]
    bad, checked = [], 0
    for r1, r2 in rows:
        for c in values:
            got = samples.get(("%s_%s" % (name, c), key(r1)))
            lo, hi = sorted((num(r1[c]), num(r2[c])), key=lambda x: (math.isnan(x), x))
            if got is None:
                bad.append("missing: %s_%s%s" % (name, c, dict(key(r1))))
            elif math.isnan(lo) or math.isnan(hi):
                if not (math.isnan(got) and math.isnan(lo) and math.isnan(hi)):
                    bad.append("%s_%s%s = %s, SQL %s .. %s" % (name, c, dict(key(r1)), got, r1[c], r2[c]))
            elif not (lo - 1e-9 * abs(lo) <= got <= hi + 1e-9 * abs(hi)):
                bad.append("%s_%s%s = %s, SQL %s .. %s" % (name, c, dict(key(r1)), got, r1[c], r2[c]))
            checked += 1
    ok(not bad and rows, "exporter serves %s as SQL returns it (%d rows, %d samples)" % (name, len(rows), checked), bad[:10])
fixture = [
    ("cryptoml_symbol_open_alerts", {"symbol": sym}, 2),
    ("cryptoml_alert_open", {"symbol": sym, "alert": "stale_data", "level": "error"}, 1),
    ("cryptoml_model_served", {"symbol": sym, "horizon": "15", "model_type": "xgboost", "batch_id": "ops-tap-xgboost-15"}, 1),
]
for metric, labels, want in fixture:
    got = samples.get((metric, tuple(sorted(labels.items()))))
    ok(got == want, "%s%s is %s" % (metric, labels, want), ["got %s" % got])
outcomes = [r for r in after["cryptoml_model"] if r["symbol"] == sym]
ok(len(outcomes) == 1 and int(outcomes[0]["outcomes"]) > 0 and
   samples.get(("cryptoml_model_outcomes", tuple(sorted({"symbol": sym, "horizon": "15", "model_type": "xgboost",
                                                          "batch_id": "ops-tap-xgboost-15"}.items())))) == float(outcomes[0]["outcomes"]),
   "cryptoml_model_outcomes of the fixture model is its count of outcomes")
loaded = [v for (k, _), v in samples.items() if k == "pg_exporter_user_queries_load_error"]
ok(loaded == [0], "the exporter loaded queries.yaml (pg_exporter_user_queries_load_error 0)", ["got %s" % loaded])
ok(samples.get(("pg_exporter_last_scrape_error", ())) == 0 and samples.get(("pg_up", ())) == 1,
   "the scrape had no error (pg_exporter_last_scrape_error 0, pg_up 1)")
print(n[0], file=open(tmp + "/count", "w"))
PY
n=$(cat "$tmp/count" 2>/dev/null || echo "$n")
kill "$exporter_pid" 2>/dev/null; wait "$exporter_pid" 2>/dev/null; exporter_pid=
! grep -E "level=(error|warn)" "$tmp/exporter.log" >"$tmp/exporter.errors"
ok $? "the exporter logged no error or warning"
[ -s "$tmp/exporter.errors" ] && sed 's/^/#   /' "$tmp/exporter.errors" | head -20
echo "1..$n"
