#!/usr/bin/env bash
# Cost of ml_log() for the caller, against a plain INSERT INTO systemLogs (a transactional
# logger) measured in the same run on the same cluster, with the loop's own cost subtracted.
#   burst:     BURST calls in one statement, fewer than the queue holds: the caller's cost
#   sustained: SUSTAINED calls in one statement, far more than the queue holds: the caller is
#              throttled to the logger worker's insert rate (backpressure, nothing is dropped)
# Each shape runs REPS times; the median is reported.
# Usage: bash bench/log_cost.sh   (uses the demo cluster; run `make demo` first)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/cluster.sh env demo)"
BURST=${BURST:-5000}
SUSTAINED=${SUSTAINED:-300000}
REPS=${REPS:-5}

ms() { psql -qAt -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {  # n -> prints "log_ms insert_ms floor_ms"
  local n=$1 l=() i=() f=()
  for _ in $(seq "$REPS"); do
    ms "SELECT ml_log_flush(600000)" >/dev/null
    l+=("$(ms "SELECT count(ml_log('info', 'bench', 'log', 'bench message ' || g)) FROM generate_series(1, $n) g")")
    ms "SELECT ml_log_flush(600000)" >/dev/null
    i+=("$(ms "INSERT INTO systemLogs (level, category, subcategory, message) SELECT 'info', 'bench', 'insert', 'bench message ' || g FROM generate_series(1, $n) g")")
    f+=("$(ms "SELECT count(length('bench message ' || g)) FROM generate_series(1, $n) g")")
  done
  echo "$(printf '%s\n' "${l[@]}" | median) $(printf '%s\n' "${i[@]}" | median) $(printf '%s\n' "${f[@]}" | median)"
}
read -r bl bi bf <<<"$(measure "$BURST")"
read -r sl si sf <<<"$(measure "$SUSTAINED")"
psql -qAtc "SELECT ml_log_flush(600000)" >/dev/null
cap=$(psql -qAtc "SELECT capacity_bytes FROM ml_log_queue()")
psql -qc "DELETE FROM systemLogs WHERE category = 'bench'"
awk -v bl="$bl" -v bi="$bi" -v bf="$bf" -v sl="$sl" -v si="$si" -v sf="$sf" -v bn="$BURST" -v sn="$SUSTAINED" -v cap="$cap" 'BEGIN {
  printf "queue capacity per database: %d bytes; median of %s runs\n", cap, ENVIRON["REPS"] ? ENVIRON["REPS"] : 5
  printf "burst (%d calls):      ml_log %.2f us/call   INSERT %.2f us/row   ratio %.3f\n", bn, (bl-bf)*1000/bn, (bi-bf)*1000/bn, (bl-bf)/(bi-bf)
  printf "sustained (%d calls): ml_log %.2f us/call   INSERT %.2f us/row   ratio %.3f\n", sn, (sl-sf)*1000/sn, (si-sf)*1000/sn, (sl-sf)/(si-sf)
}'
