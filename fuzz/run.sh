#!/usr/bin/env bash
# Runs every fuzz target built by fuzz/build.sh for SECONDS seconds each (default: $FUZZ_SECONDS,
# else 60) and prints, per target, the executions and the crashes found.
# Usage: bash fuzz/run.sh [SECONDS] [BUILD_DIR]     FUZZ_TARGETS="a b" limits the targets run.
# Corpora grow in BUILD_DIR/corpus/<target> (seeded from BUILD_DIR/seeds/<target>); a crashing
# input is saved as BUILD_DIR/artifacts/<target>/crash-* (or leak-, timeout-, oom-).
# Exit status 1 when any target found a crash. See docs/fuzzing.md.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECS="${1:-${FUZZ_SECONDS:-60}}"
B="$(realpath -m "${2:-$ROOT/build-fuzz}")"
SHARED="${CRYPTOML_SHARED:-$ROOT/../shared}"
[ -f "$B/targets" ] || { echo "fuzz: run fuzz/build.sh first" >&2; exit 1; }
read -r -a TARGETS <<< "${FUZZ_TARGETS:-$(tr '\n' ' ' < "$B/targets")}"

# Largest input per target: a few trained trees / a small LSTM, coinbase's 300-candle pages.
max_len() {
  case "$1" in
    exchange_fuzz) echo 32768 ;;
    xgb_model_fuzz|lstm_model_fuzz) echo 65536 ;;
    indicator_state_fuzz) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

# Seeds: made by the core itself (trained models, indicator states) and hand-written bodies.
rm -rf "$B/seeds"
"$B/bin/make_seeds" "$B/seeds" >/dev/null || { echo "fuzz: make_seeds failed" >&2; exit 1; }
# Recorded exchange responses are extra seeds when the shared data is there (never copied into
# the repository): the exchange byte, then the body.
FIX="$SHARED/data/exchange-fixtures"
if [ -d "$FIX" ]; then
  for pair in binance:0 coinbase:1 coinbase-pro-node:1 bybit:2; do
    dir="${pair%%:*}"; sel="${pair##*:}"
    for f in "$FIX/$dir"/*.json; do
      [ -f "$f" ] || continue
      { printf "\\x0$sel"; cat "$f"; } > "$B/seeds/exchange_fuzz/fixture-$dir-$(basename "$f" .json)"
    done
  done
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
rows=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$B/corpus/$t" "$B/artifacts/$t" "$B/logs"
  log="$B/logs/$t.log"
  echo "fuzz: $t for ${SECS}s (max_len $(max_len "$t"))"
  before="$(ls "$B/artifacts/$t" | wc -l)"
  "$B/bin/$t" "$B/corpus/$t" "$B/seeds/$t" -max_total_time="$SECS" -max_len="$(max_len "$t")" \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$B/artifacts/$t/" > "$log" 2>&1
  rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  eps="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  if [ -z "$execs" ]; then  # a crash ends the run before the final stats: take the last status line
    execs="$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')"
  fi
  new="$(ls -t "$B/artifacts/$t" | head -n $(( $(ls "$B/artifacts/$t" | wc -l) - before )) | tr '\n' ' ')"
  crashes=0
  if [ "$rc" -ne 0 ] || [ -n "$new" ]; then
    crashes=1
    status=1
    echo "fuzz: $t FOUND A BUG (exit $rc): ${new:-see $log}"
    grep -m3 -E 'ERROR: |runtime error|fuzz invariant|terminate called|what\(\)' "$log" | sed 's/^/    /'
  fi
  rows+=("$(printf '%-22s %8s %12s %10s %8s  %s' "$t" "$SECS" "${execs:-?}" "${eps:-?}" "$crashes" "${new:-}")")
done
echo
printf '%-22s %8s %12s %10s %8s  %s\n' target seconds executions exec/s crashes artifact
for r in "${rows[@]}"; do echo "$r"; done
echo "(logs: $B/logs, corpora: $B/corpus, crash inputs: $B/artifacts)"
exit $status
