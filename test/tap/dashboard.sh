#!/usr/bin/env bash
# ml_dashboard() (issue 16): the page drawn from a cluster with data, rendered by headless Chromium.
# Everything is set up and read in one transaction of the test database that is rolled back at the
# end (pg_cron allows the extension in one database only, so there is no second database to fill):
# bars of two symbols up to now (one a stopped feed with a gap), a production model with live
# outcomes, a forecast, a walk-forward backtest with trades, the monitor's alerts. The page and the
# database's own figures (ml_health, ml_forecast_quality, ml_workers, ml_backtest, the registry)
# are written out in that transaction, so they come from the same snapshot and the same now().
# Then: Chromium's DOM holds each section and the same figures; the screenshot is a PNG with many
# colours; the page made no network request. Bad input errors. TAP output.
# DASHBOARD_SCREENSHOT_OUT=1 copies the screenshot to docs/img/dashboard.png (any other value: to
# that path).
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}

echo "1..16"
if [ -z "$CHROMIUM" ] || [ "$(q -c "SELECT to_regprocedure('ml_dashboard(text)') IS NOT NULL")" != t ]; then
  for i in $(seq 1 16); do echo "ok $i # SKIP chromium or ml_dashboard missing"; done
  exit 0
fi

cat >"$tmp/run.sql" <<SQL
BEGIN;
SET client_min_messages = warning;
TRUNCATE rollingChartData, persistentForecasts, mlTrainingSamples;
DELETE FROM cryptoml_internal.indicator_checkpoint WHERE symbol IN ('BTCUSDT', 'ETHUSDT');
DELETE FROM mlBacktestRuns;
DELETE FROM cryptoml_internal.monitor_alerts;
UPDATE mlTrainingBatches SET is_production = false WHERE is_production;
SELECT ml_config_set('symbols', '["BTCUSDT", "ETHUSDT"]') IS NOT NULL;
SELECT setseed(0.21);
-- BTCUSDT: 3000 minutes of a series with a signal, up to the current minute
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', date_trunc('minute', now() AT TIME ZONE 'UTC') - make_interval(mins => 2999 - i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
  FROM (SELECT i, 20000 * exp(sum(r) OVER (ORDER BY i)) AS c
          FROM (SELECT i, 0.003 * sin(i / 20.0) + (random() - 0.5) * 0.002 AS r FROM generate_series(0, 2999) i) x) y;
-- ETHUSDT: a random walk whose feed stopped 10 minutes ago, with 5 minutes missing 40 minutes ago
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'ETHUSDT', date_trunc('minute', now() AT TIME ZONE 'UTC') - make_interval(mins => 10 + 599 - i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 5
  FROM (SELECT i, 1500 * exp(sum(r) OVER (ORDER BY i)) AS c
          FROM (SELECT i, (random() - 0.5) * 0.002 AS r FROM generate_series(0, 599) i) x) y
 WHERE i NOT BETWEEN 565 AND 569;
SELECT ml_build_samples('BTCUSDT', 5) > 2900;
CREATE TEMP TABLE dash_model AS SELECT batch_id FROM ml_train('BTCUSDT', 5, 'xgboost', '{"windowSize": 800, "num_rounds": 40}');
SELECT ml_deploy((SELECT batch_id FROM dash_model)) IS NOT NULL;
-- live outcomes of the production model: its forecasts of the bars of the last 600 minutes (but
-- the latest 5), stating confidences from 50 to 90 and intervals of +/- 0.3 %, leaning the way the
-- price went two bars in three
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, model_version,
                                 created_at, expires_at, bar_timestamp, raw_value, lower, upper)
SELECT 'BTCUSDT', 'price_direction', 50 + (b0.n % 5) * 10, 0, 5, (SELECT batch_id FROM dash_model), b0.timestamp,
       b0.timestamp + interval '5 minutes', b0.timestamp,
       CASE WHEN b0.n % 3 = 0 THEN -1 ELSE 1 END * sign(b1.close - b0.close) * 0.05 + 0.001, -0.3, 0.3
  FROM (SELECT r.*, row_number() OVER (ORDER BY r.timestamp) AS n FROM rollingChartData r WHERE r.symbol = 'BTCUSDT') b0
  JOIN rollingChartData b1 ON b1.symbol = 'BTCUSDT' AND b1.timestamp = b0.timestamp + interval '5 minutes'
 WHERE b0.timestamp > (now() AT TIME ZONE 'UTC') - interval '600 minutes';
SELECT ml_fill_actuals() > 500;
SELECT ml_config_set('inference.predictionCache', 'false') IS NOT NULL;
CREATE TEMP TABLE dash_fc AS SELECT * FROM ml_forecast('BTCUSDT', 5);
CREATE TEMP TABLE dash_bt AS SELECT * FROM ml_backtest('BTCUSDT', 5, 'xgboost', NULL, NULL,
    '{"windowSize": 800, "retrainEvery": 400, "numRounds": 40, "confidenceThreshold": 0}');
SELECT count(*) > 0 FROM ml_monitor_check();
\o $tmp/page.html
SELECT ml_dashboard();
\o
-- a hostile message (on the ETHUSDT page only): the dashboard shows the latest monitoring entry of
-- an alert (after the monitor's own entries, written autonomously, are committed)
SELECT ml_log_flush();
INSERT INTO systemLogs (category, subcategory, level, message, symbol)
  VALUES ('monitoring', 'stale_data', 'error', '<script>alert(1)</script> & "quotes"', 'ETHUSDT');
\o $tmp/eth.html
SELECT ml_dashboard('ETHUSDT');
\o $tmp/figures.txt
SELECT 'staleness_seconds', scope, value::text FROM ml_health() WHERE metric = 'staleness'
UNION ALL SELECT 'completeness', scope, value::text FROM ml_health() WHERE metric = 'completeness'
UNION ALL SELECT 'batch_id', symbol || '/' || forecast_horizon, batch_id FROM mlTrainingBatches WHERE is_production
UNION ALL SELECT 'live_accuracy', symbol || '/' || horizon, directional_accuracy::text FROM ml_forecast_quality('BTCUSDT', 5)
UNION ALL SELECT 'accuracy_low95', symbol || '/' || horizon, accuracy_low95::text FROM ml_forecast_quality('BTCUSDT', 5)
UNION ALL SELECT 'accuracy_high95', symbol || '/' || horizon, accuracy_high95::text FROM ml_forecast_quality('BTCUSDT', 5)
UNION ALL SELECT 'interval_coverage', scope || '/5', value::text FROM ml_health() WHERE metric = 'interval_coverage_h5'
UNION ALL SELECT 'ece', scope || '/5', value::text FROM ml_health() WHERE metric = 'live_ece_h5'
UNION ALL SELECT 'worker', worker || '/' || coalesce(database, ''), state FROM ml_workers()
UNION ALL SELECT 'run_id', 'BTCUSDT', (SELECT DISTINCT run_id FROM dash_bt)
UNION ALL SELECT 'final_equity', 'BTCUSDT', (100 + total_return_pct)::text FROM dash_bt WHERE strategy = 'backtest'
UNION ALL SELECT 'final_buy_and_hold', 'BTCUSDT', (100 + total_return_pct)::text FROM dash_bt WHERE strategy = 'buy_and_hold'
UNION ALL SELECT 'trades', 'BTCUSDT', trades::text FROM dash_bt WHERE strategy = 'backtest'
UNION ALL SELECT 'alert', symbol || '/' || alert, level FROM cryptoml_internal.monitor_alerts
UNION ALL SELECT 'predicted_price', symbol || '/' || horizon, predicted_price::text FROM dash_fc
UNION ALL SELECT 'signal', symbol || '/' || horizon, signal FROM dash_fc;
\o $tmp/reader.txt
DROP ROLE IF EXISTS dash_reader;
CREATE ROLE dash_reader;
SELECT ml_grant_access('dash_reader', 'reader') IS NULL;
SET ROLE dash_reader;
SELECT length(ml_dashboard()) > 10000;
RESET ROLE;
\o
ROLLBACK;
SQL

t0=$SECONDS
q -f "$tmp/run.sql" >"$tmp/run.out" 2>&1 || sed 's/^/# /' "$tmp/run.out" | grep -i -A2 'error' | head -n 8
[ -s "$tmp/page.html" ] && [ -s "$tmp/eth.html" ] && [ -s "$tmp/figures.txt" ]
ok $? "a cluster with data: bars, a production model with outcomes, a forecast, a backtest, alerts ($((SECONDS - t0)) s)"
[ "$(tail -n 1 "$tmp/reader.txt" 2>/dev/null)" = t ]
ok $? "a role with ml_grant_access(role, 'reader') may call it"
[ -s "$tmp/page.html" ] && [ "$(wc -c <"$tmp/page.html")" -lt 600000 ] && ! grep -qi '<script' "$tmp/page.html" &&
  ! grep -Eqi '(src|href)="[a-z]+:' "$tmp/page.html" && ! grep -qi 'url(' "$tmp/page.html"
ok $? "the page: under 600 kB, no <script, no src or href to a URL, no url() ($(wc -c <"$tmp/page.html") bytes)"
grep -q 'id="symbol-ETHUSDT"' "$tmp/eth.html" && ! grep -q 'id="symbol-BTCUSDT"' "$tmp/eth.html" && grep -q 'no backtest yet' "$tmp/eth.html"
ok $? "ml_dashboard('ETHUSDT') shows that symbol only (and no backtest of it)"

# headless Chromium, no name resolves; the browser's own background requests are not the page's
chrome() {
  timeout 90 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --user-data-dir="$tmp/profile-$1" --host-resolver-rules='MAP * ~NOTFOUND' \
    --disable-background-networking --disable-component-update --disable-sync --no-first-run --disable-extensions \
    --hide-scrollbars --log-net-log="$tmp/net-$1.json" "${@:2}" 2>"$tmp/chrome-$1.err"
}
chrome dom --dump-dom "file://$tmp/page.html" >"$tmp/dom.html"
ok $? "chromium --dump-dom renders the page"
chrome shot --screenshot="$tmp/shot.png" --window-size=1280,2400 "file://$tmp/page.html" >/dev/null
ok $? "chromium --screenshot renders the page"

cat >"$tmp/check_dom.py" <<'PY'
import sys
from html.parser import HTMLParser

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.fields, self.tags, self.stack = set(), [], {}, []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if "id" in a:
            self.ids.add(a["id"])
        if "data-field" in a:
            self.fields.append(a)

p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
fig = {}
for line in open(sys.argv[2], encoding="utf-8"):
    k, who, v = line.rstrip("\n").split("|", 2)
    fig.setdefault(k, {})[who] = v
what = sys.argv[3]

def values(field, **own):
    return [f.get("data-value") for f in p.fields if f["data-field"] == field and all(f.get("data-" + k) == v for k, v in own.items())]

def close(a, b, rel=1e-9):
    a, b = float(a), float(b)
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))

def check(cond, msg):
    if not cond:
        print("# " + msg)
        sys.exit(1)

if what == "sections":
    batch = fig["batch_id"]["BTCUSDT/5"]
    for i in ["summary", "alerts", "symbols", "symbol-BTCUSDT", "symbol-ETHUSDT", "models", "model-" + batch, "workers", "backtest",
              "chart-price-BTCUSDT", "chart-price-ETHUSDT", "chart-reliability-" + batch, "chart-equity"]:
        check(i in p.ids, "no element with id " + i)
    check(p.tags.get("script", 0) == 0, "a script element")
    check(p.tags.get("svg", 0) >= 4 and p.tags.get("polyline", 0) >= 5, "charts missing: %s" % p.tags)
elif what == "symbols":
    for s in ["BTCUSDT", "ETHUSDT"]:
        for k in ["staleness_seconds", "completeness"]:
            got = values(k, symbol=s)
            check(len(got) == 1 and close(got[0], fig[k][s]), "%s %s: page %s, ml_health %s" % (k, s, got, fig[k][s]))
    got = values("predicted_price", symbol="BTCUSDT", horizon="5")
    check(len(got) == 1 and close(got[0], fig["predicted_price"]["BTCUSDT/5"], 1e-6), "predicted price %s" % got)
    got = values("signal", symbol="BTCUSDT", horizon="5")
    check(got == [fig["signal"]["BTCUSDT/5"]], "signal %s" % got)
elif what == "models":
    batch = fig["batch_id"]["BTCUSDT/5"]
    check(values("batch_id", batch=batch) == [batch], "batch_id")
    for k in ["live_accuracy", "accuracy_low95", "accuracy_high95"]:
        got = values(k, batch=batch)
        check(len(got) == 1 and close(got[0], fig[k]["BTCUSDT/5"]), "%s: page %s, ml_forecast_quality %s" % (k, got, fig[k]["BTCUSDT/5"]))
    for k in ["interval_coverage", "ece"]:
        got = values(k, batch=batch)
        check(len(got) == 1 and close(got[0], fig[k]["BTCUSDT/5"]), "%s: page %s, ml_health %s" % (k, got, fig[k]["BTCUSDT/5"]))
    check(len(values("bucket_observed", batch=batch)) == 5, "five reliability buckets")
elif what == "workers":
    page = sorted(f["data-worker"] + "/" + f["data-database"] for f in p.fields if f["data-field"] == "worker")
    check(page == sorted(fig["worker"]) and len(page) > 0, "workers: page %s, ml_workers %s" % (page, sorted(fig["worker"])))
elif what == "backtest":
    run = fig["run_id"]["BTCUSDT"]
    check(values("run_id", run=run) == [run], "run_id")
    check(values("trades", run=run) == [fig["trades"]["BTCUSDT"]] and int(fig["trades"]["BTCUSDT"]) > 0, "trades")
    for k in ["final_equity", "final_buy_and_hold"]:
        got = values(k, run=run)
        check(len(got) == 1 and close(got[0], fig[k]["BTCUSDT"], 1e-6), "%s: page %s, ml_backtest %s" % (k, got, fig[k]["BTCUSDT"]))
elif what == "alerts":
    page = sorted(f["data-symbol"] + "/" + f["data-alert"] for f in p.fields if f["data-field"] == "alert_kind")
    sql = sorted(fig["alert"])
    # each open alert twice: the overview and the symbol's own block
    check(sorted(set(page)) == sql and len(page) == 2 * len(sql) and "ETHUSDT/stale_data" in sql, "alerts: page %s, sql %s" % (page, sql))
    check(any(f["data-field"] == "anomaly_kind" and f.get("data-symbol") == "ETHUSDT" and f["data-value"] == "gap" for f in p.fields),
          "the gap of ETHUSDT")
PY
for part in sections symbols models workers backtest alerts; do
  python3 "$tmp/check_dom.py" "$tmp/dom.html" "$tmp/figures.txt" "$part"
  case $part in
    sections) ok $? "the DOM holds every section (summary, alerts, each symbol, models, workers, backtest) and its charts" ;;
    symbols) ok $? "per symbol: staleness and completeness equal ml_health's; the forecast's price and signal equal ml_forecast's" ;;
    models) ok $? "the production model: batch_id, live accuracy and its Wilson interval equal ml_forecast_quality's, coverage and ECE ml_health's" ;;
    workers) ok $? "the workers are ml_workers()'s" ;;
    backtest) ok $? "the latest backtest: run_id, trades and final equity (strategy, buy and hold) equal ml_backtest's" ;;
    alerts) ok $? "the open alerts are monitor_alerts', and the gap is an anomaly" ;;
  esac
done
chrome eth --dump-dom "file://$tmp/eth.html" >"$tmp/eth-dom.html" &&
  grep -q '&lt;script&gt;alert(1)&lt;/script&gt; &amp; "quotes"' "$tmp/eth-dom.html" && ! grep -qi '<script' "$tmp/eth-dom.html" &&
  ! grep -qi '<script' "$tmp/eth.html"
ok $? "a hostile message (an alert's log entry) is shown as text, escaped"

python3 - "$tmp/shot.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", body)
    if kind == b"IDAT": idat += body
    pos += 12 + n
w, h, depth, ctype = ihdr[:4]
assert depth == 8 and ctype in (2, 6), "unexpected PNG format %s" % (ihdr,)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
rows, prev, colours = min(h, 900), bytearray(stride), set()
for y in range(rows):  # unfilter the top rows: the header, the alerts, the first chart
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    colours.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
    prev = line
print("# %dx%d PNG, %d colours in the top %d rows" % (w, h, len(colours), rows))
sys.exit(0 if w == 1280 and h == 2400 and len(colours) >= 50 else 1)
PY
ok $? "the screenshot is a 1280x2400 PNG with many colours (not blank)"

cat >"$tmp/netcheck.py" <<'PY'
import json, sys
# the page's requests: URL_REQUEST_START_JOB with a URL other than file:, data:, about: or blob:
# whose initiator is an origin (Chromium's own background requests say "not an origin")
bad = set()
for path in sys.argv[1:]:
    d = json.load(open(path))
    names = {v: k for k, v in d["constants"]["logEventTypes"].items()}
    for e in d.get("events", []):
        p = e.get("params") or {}
        if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in p and \
           p["url"].split(":", 1)[0] not in ("file", "data", "about", "blob") and p.get("initiator", "") != "not an origin":
            bad.add(p["url"])
for u in sorted(bad):
    print("# request: " + u)
sys.exit(1 if bad else 0)
PY
# the check itself catches a page that loads something
echo '<html><body><img src="http://example.invalid/x.png"></body></html>' >"$tmp/control.html"
chrome control --dump-dom "file://$tmp/control.html" >/dev/null
! python3 "$tmp/netcheck.py" "$tmp/net-control.json" >/dev/null && python3 "$tmp/netcheck.py" "$tmp/net-dom.json" "$tmp/net-shot.json" "$tmp/net-eth.json"
ok $? "no network request made by the page (Chromium's net log; a control page with an <img src=http://...> is caught)"

if [ -n "${DASHBOARD_SCREENSHOT_OUT:-}" ]; then
  out=$DASHBOARD_SCREENSHOT_OUT
  [ "$out" = 1 ] && out="$ROOT/docs/img/dashboard.png"
  mkdir -p "$(dirname "$out")" && cp "$tmp/shot.png" "$out" && echo "# screenshot copied to $out"
fi

err=$(q -c "\\set VERBOSITY verbose" -c "SELECT ml_dashboard('NOPE')" 2>&1)
echo "$err" | grep -q '22023: unknown symbol "NOPE"' && echo "$err" | grep -q 'rule: the symbol has bars in rollingChartData or is in the symbols setting'
ok $? "ml_dashboard('NOPE'): invalid_parameter_value naming the value and the rule"
