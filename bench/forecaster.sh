#!/usr/bin/env bash
# One forecaster cycle and the forecaster's memory over many cycles (issue 6).
#
#   1. cycle time: the forecaster's unit of work, ml_forecast_all(symbol) in one transaction per
#      symbol, for the six shared symbols (6 symbols x 6 forecasting horizons x 3 types = 108
#      forecasts; price_direction by a production xgboost model at horizons 5, 15, 30 and 60 and
#      the zero-change fallback at 240 and 1440), after one new bar per symbol; REPS cycles, psql
#      \timing of the whole cycle, median and max. Target: <= 100 ms.
#   2. memory: the forecaster worker itself with forecasting.updateFrequency = 1 for CYCLES
#      cycles, a new bar per symbol every second; its private memory (RssAnon) after the first 10
#      cycles and at the end.
#
# Own cluster CLUSTER=bench6 (PORT=54460, database cryptoml, workers off except during part 2):
# loads the shared bars (generated ones when ../shared/data is absent), builds samples and trains
# and deploys one xgboost model per symbol and horizon 5/15/30/60 (windowSize 3000) when missing.
# Usage: bash bench/forecaster.sh      (REPS=20 CYCLES=120)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REPS=${REPS:-20}
CYCLES=${CYCLES:-120}
CLUSTER=${CLUSTER:-bench6}
export CRYPTOML_PORT=${PORT:-54460} CRYPTOML_DB=cryptoml
was_running=0
bash scripts/cluster.sh status "$CLUSTER" >/dev/null 2>&1 && was_running=1
bash scripts/cluster.sh start "$CLUSTER" >/dev/null
eval "$(bash scripts/cluster.sh env "$CLUSTER")"
P=(psql -X -q -v ON_ERROR_STOP=1)
cleanup() {
  "${P[@]}" -c "SELECT ml_stop_workers()" -c "SELECT ml_config_reset('forecasting.updateFrequency')" >/dev/null 2>&1 || true
  if [ "$was_running" = 0 ]; then bash scripts/cluster.sh stop "$CLUSTER" >/dev/null; fi
}
trap cleanup EXIT
if [ -z "$("${P[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'cryptoml'")" ]; then
  "${P[@]}" -d postgres -c "CREATE DATABASE cryptoml"
fi
"${P[@]}" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE" -c "ALTER EXTENSION cryptoml UPDATE"
[ "$("${P[@]}" -Atc "SELECT count(*) FROM rollingChartData")" -gt 0 ] || bash scripts/load.sh "$CLUSTER" >&2
export PGOPTIONS='-c client_min_messages=error'
"${P[@]}" -c "SELECT ml_build_samples()" >/dev/null
"${P[@]}" -c "SELECT count(ml_deploy(b.batch_id)) FROM (SELECT DISTINCT symbol FROM rollingChartData) s, unnest(ARRAY[5, 15, 30, 60]) h,
               LATERAL ml_train(s.symbol, h, options => '{\"windowSize\": 3000}') b
               WHERE NOT EXISTS (SELECT 1 FROM mlTrainingBatches p WHERE p.symbol = s.symbol AND p.forecast_horizon = h AND p.is_production)" >/dev/null
new_bars() {
  "${P[@]}" -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
                SELECT symbol, timestamp + interval '1 minute', close, high, low, close, volume
                  FROM (SELECT DISTINCT ON (symbol) * FROM rollingChartData ORDER BY symbol, timestamp DESC) l" >/dev/null
}
symbols=$("${P[@]}" -Atc "SELECT string_agg(DISTINCT symbol, ' ') FROM rollingChartData")
cycle_sql=""
for s in $symbols; do cycle_sql+="SELECT ml_forecast_all('$s');"$'\n'; done
times=()
written=0
for r in $(seq 1 "$((REPS + 1))"); do
  new_bars
  out=$( { echo '\timing on'; echo "BEGIN; SELECT 1; COMMIT;"; printf '%s' "$cycle_sql"; } | "${P[@]}" -At 2>&1)
  ms=$(grep '^Time:' <<<"$out" | tail -n +4 | awk '{ s += $2 } END { printf "%.2f", s }')   # the six ml_forecast_all calls
  n=$(grep -E '^[0-9]+$' <<<"$out" | awk '$1 != 1 || NR > 1 { s += $1 } END { print s }')
  [ "$r" -gt 1 ] && { times+=("$ms"); written=$n; }   # the first cycle loads models and caches (a new connection)
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
med=$(awk -v n="${#times[@]}" 'NR == int((n + 1) / 2)' <<<"$sorted")
max=$(tail -1 <<<"$sorted")
echo "1. one forecaster cycle (6 symbols x 6 horizons x 3 types; $written forecasts written in the last cycle), $REPS cycles after a warm-up:"
echo "   median ${med} ms, max ${max} ms   (target <= 100 ms: $(awk -v m="$med" 'BEGIN { print (m <= 100) ? "met" : "MISSED" }'))"

# ---- 2. the worker's memory ----
"${P[@]}" -c "SELECT ml_config_set('forecasting.updateFrequency', '1')" -c "SELECT ml_start_workers()" >/dev/null
for _ in $(seq 1 30); do
  pid=$("${P[@]}" -Atc "SELECT pid FROM ml_workers() WHERE worker = 'forecaster' AND pid IS NOT NULL")
  [ -n "$pid" ] && break
  sleep 0.5
done
[ -n "$pid" ] || { echo "forecaster did not start" >&2; exit 1; }
# private memory (RssAnon): VmRSS also counts the shared buffers the worker has touched, which
# grows with every new page of bars and forecasts it reads
rss() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status"; }
mpid=$("${P[@]}" -Atc "SELECT pid FROM ml_workers() WHERE worker = 'monitor' AND pid IS NOT NULL")
c0=$("${P[@]}" -Atc "SELECT cycles FROM ml_workers() WHERE worker = 'forecaster'")
rss_early=""
series=""
next_mark=$((CYCLES / 4))
while :; do
  new_bars
  c=$("${P[@]}" -Atc "SELECT cycles FROM ml_workers() WHERE worker = 'forecaster'")
  [ -z "$rss_early" ] && [ $((c - c0)) -ge 10 ] && { rss_early=$(rss "$pid"); series="10:${rss_early}"; }
  if [ $((c - c0)) -ge "$next_mark" ] && [ "$next_mark" -lt "$CYCLES" ]; then
    series+=" $((c - c0)):$(rss "$pid")"
    next_mark=$((next_mark + CYCLES / 4))
  fi
  [ $((c - c0)) -ge "$CYCLES" ] && break
  sleep 1
done
rss_end=$(rss "$pid")
series+=" $((c - c0)):${rss_end}"
errors=$("${P[@]}" -Atc "SELECT errors FROM ml_workers() WHERE worker = 'forecaster'")
echo "2. forecaster worker (pid $pid), $CYCLES cycles at forecasting.updateFrequency 1 with new bars: private memory (RssAnon) after 10 cycles ${rss_early} kB, at the end ${rss_end} kB ($(awk -v a="$rss_early" -v b="$rss_end" 'BEGIN { printf "%+.1f %%", 100 * (b - a) / a }')); errors $errors"
echo "   RssAnon (kB) by cycle: $series"
[ -n "$mpid" ] && [ -r "/proc/$mpid/status" ] &&
  echo "   the monitor worker (pid $mpid, a check every monitoring.checkInterval = 60 s) at the end: $(rss "$mpid") kB"
echo "reproduce: cd $ROOT && REPS=$REPS CYCLES=$CYCLES bash bench/forecaster.sh"
