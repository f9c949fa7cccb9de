#!/usr/bin/env bash
# Compression (data.compressionThreshold, issue 6): bytes per bar in rollingChartData (heap, TOAST
# and indexes) against the per-day archive rows, the time to archive, and reading the archived
# bars back through ml_chart_history against reading rollingChartData.
#
# Own cluster CLUSTER=bench7 (PORT=54470, database cryptoml, workers off), a fresh extension:
# loads the six shared symbols (generated bars when ../shared/data is absent), measures, then
# archives every whole day older than the latest bar - 1 day (compressionThreshold 1).
# Usage: bash bench/compression.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CLUSTER=${CLUSTER:-bench7}
export CRYPTOML_PORT=${PORT:-54470} CRYPTOML_DB=cryptoml
was_running=0
bash scripts/cluster.sh status "$CLUSTER" >/dev/null 2>&1 && was_running=1
bash scripts/cluster.sh start "$CLUSTER" >/dev/null
eval "$(bash scripts/cluster.sh env "$CLUSTER")"
trap '[ "$was_running" = 0 ] && bash scripts/cluster.sh stop "$CLUSTER" >/dev/null' EXIT
P=(psql -X -q -At -v ON_ERROR_STOP=1)
if [ -z "$("${P[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'cryptoml'")" ]; then
  "${P[@]}" -d postgres -c "CREATE DATABASE cryptoml"
fi
"${P[@]}" -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS cryptoml CASCADE" -c "CREATE EXTENSION cryptoml CASCADE"
bash scripts/load.sh "$CLUSTER" >/dev/null
"${P[@]}" -c "VACUUM ANALYZE rollingChartData"
bars=$("${P[@]}" -c "SELECT count(*) FROM rollingChartData")
hot=$("${P[@]}" -c "SELECT pg_total_relation_size('rollingchartdata')")
read_hot=$("${P[@]}" -c "EXPLAIN (ANALYZE, FORMAT json) SELECT * FROM rollingChartData" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['Execution Time'])")
"${P[@]}" -c "SELECT ml_config_set('data.compressionThreshold', '1')" >/dev/null
t0=$(date +%s.%N)
moved=$("${P[@]}" -c "CALL ml_compress_history()")
t1=$(date +%s.%N)
days=$("${P[@]}" -c "SELECT count(*) FROM cryptoml_internal.chart_archive")
archive=$("${P[@]}" -c "SELECT pg_total_relation_size('cryptoml_internal.chart_archive')")
"${P[@]}" -c "VACUUM FULL rollingChartData"
left=$("${P[@]}" -c "SELECT count(*) FROM rollingChartData")
hot_after=$("${P[@]}" -c "SELECT pg_total_relation_size('rollingchartdata')")
read_hist=$("${P[@]}" -c "EXPLAIN (ANALYZE, FORMAT json) SELECT * FROM ml_chart_history" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['Execution Time'])")
same=$("${P[@]}" -c "SELECT count(*) = $bars FROM ml_chart_history")
awk -v bars="$bars" -v hot="$hot" -v moved="$moved" -v days="$days" -v archive="$archive" -v left="$left" -v hot_after="$hot_after" \
    -v t="$(echo "$t1 - $t0" | bc)" -v rh="$read_hot" -v rr="$read_hist" -v same="$same" 'BEGIN {
  printf "rollingChartData: %d bars, %.1f MB with indexes and TOAST = %.0f bytes per bar\n", bars, hot / 1048576, hot / bars
  printf "archived: %d bars in %d symbol-days in %.1f s (%.0f ms per symbol-day)\n", moved, days, t, 1000 * t / days
  printf "archive: %.1f MB = %.0f bytes per bar: %.2f of the hot table per bar (ratio archive / hot)\n", archive / 1048576, archive / moved, (archive / moved) / (hot / bars)
  printf "rollingChartData after VACUUM FULL: %d bars, %.1f MB\n", left, hot_after / 1048576
  printf "reading every bar: rollingChartData %.0f ms before; ml_chart_history %.0f ms after (ratio %.2f); same count: %s\n", rh, rr, rr / rh, same
}'
echo "reproduce: cd $ROOT && bash bench/compression.sh"
