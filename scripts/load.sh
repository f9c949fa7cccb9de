#!/usr/bin/env bash
# Loads candles into rollingChartData of a local cluster (default: demo) with COPY, so the
# trigger computes every indicator. Reads ../shared/data/binance_*_1m.csv.gz when present; else
# generates six symbols of random-walk bars. A symbol that already has bars is skipped.
#   load.sh [cluster] [max_bars_per_symbol]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cluster=${1:-demo}
limit=${2:-0}
eval "$(bash "$ROOT/scripts/cluster.sh" env "$cluster")"
DATA="$ROOT/../shared/data"
copy_csv() {  # stdin: CSV with header
  psql -q -v ON_ERROR_STOP=1 -c "\copy rollingChartData(symbol,timestamp,open,high,low,close,volume) FROM STDIN WITH (FORMAT csv, HEADER true)"
}
take() { if [ "$limit" -gt 0 ]; then head -n $((limit + 1)); else cat; fi; }
has_bars() { [ "$(psql -qAtc "SELECT count(*) > 0 FROM rollingChartData WHERE symbol = '$1'")" = t ]; }
start=$(date +%s.%N)
if ls "$DATA"/binance_*_1m.csv.gz >/dev/null 2>&1; then
  for f in "$DATA"/binance_*_1m.csv.gz; do
    sym=$(basename "$f" | sed 's/binance_\(.*\)_1m.csv.gz/\1/')
    if has_bars "$sym"; then echo "load: $sym already loaded, skipped"; continue; fi
    # with a bar limit, head stops reading and gzip gets SIGPIPE (141): that alone is no failure
    gzip -dc "$f" | take | copy_csv || {
      st=("${PIPESTATUS[@]}")
      [ "${st[0]}" = 141 ] && [ "${st[1]}" = 0 ] && [ "${st[2]}" = 0 ] || { echo "load: $sym failed (${st[*]})" >&2; exit 1; }
    }
    echo "load: $sym from $(basename "$f")"
  done
else
  echo "load: $DATA not found: generating random-walk bars"
  seed=1
  for spec in BTCUSDT:58000 ETHUSDT:2000 SOLUSDT:20 XRPUSDT:0.6 ADAUSDT:1.2 HBARUSDT:0.25; do
    sym=${spec%%:*} price=${spec##*:}
    if has_bars "$sym"; then echo "load: $sym already loaded, skipped"; seed=$((seed + 1)); continue; fi
    n=$([ "$limit" -gt 0 ] && echo "$limit" || echo 60000)
    bash "$ROOT/scripts/gen_bars.sh" "$sym" "$n" "$price" "$seed" | copy_csv
    echo "load: $sym generated ($n bars)"
    seed=$((seed + 1))
  done
fi
psql -qc "ANALYZE rollingChartData"  # fresh statistics for the queries that follow a bulk load
psql -qAtc "SELECT format('load: %s bars, %s symbols, %s complete, in %s s', sum(bars), count(*), (SELECT count(*) FROM rollingChartData WHERE is_complete), round(($(date +%s.%N) - $start)::numeric, 1)) FROM ml_indicator_status"
