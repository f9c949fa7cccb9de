#!/usr/bin/env bash
# Scale-out figures (issue 18, docs/scale-out.md): what the PL/Proxy router costs a call, and how a
# retrain sweep spreads over three nodes. Every figure against its baseline measured in the same run.
#
# Clusters (all its own; nothing else is touched): a router and three nodes made by
# `scripts/scaleout.sh setup` with SCALEOUT_PREFIX=bench SCALEOUT_BASE_PORT=54390 (router 54390,
# nodes 54391-54393: .pg/bench-router, .pg/bench-node1..3), and one standalone node ONE_CLUSTER
# (bench-one, port base + 4) holding every symbol, the baseline of part 2.
# Setup: the six shared symbols (../shared/data; six generated random-walk series, the same as
# scripts/load.sh makes, when absent), BARS per symbol (0 = all). LOAD=copy (default) COPYs each
# symbol's CSV straight to its owner, found with the router's ml_copy_target(symbol) (the map
# tables when the router has no such function); LOAD=router sends the bars through the router with
# ml_insert_bars(symbol, bars jsonb), CHUNK bars per call. The standalone node loads the same bars
# with COPY, as scripts/load.sh does. Samples at horizons 15 and 60 (ml_build_samples per owned symbol, one
# session per node in parallel; one session on the standalone node); then one xgboost model per
# symbol at HORIZON trained through the router with TRAIN_OPTIONS and deployed on its owner; then
# VACUUM ANALYZE of the bars, samples and batches and a CHECKPOINT on every cluster.
#
#   1. Router overhead: SELECT * FROM ml_forecast(symbol, HORIZON) through the router against the
#      same statement on the symbol's owner. pgbench -n -c 1 -t CALLS+1 -M prepared (one connection
#      per run, the first transaction of each run dropped: it opens the router's connections to the
#      nodes), per-transaction logs (-l), latencies pooled over every symbol and BLOCKS blocks; in
#      each block every symbol runs router then direct or direct then router (flipping). Twice:
#      inference.predictionCache true (the default: a repeated call is answered from
#      persistentForecasts) and false (every call predicts and inserts), set through the router's
#      ml_config_set (so on every node). The forecasts are emptied on every node before each mode.
#      Printed: p50, p90, p99 of each path, router_overhead_p50_ratio (cache on: the default
#      configuration) and router_overhead_p50_ratio_cache_off. Then where the router's time goes
#      (cache on, BTCUSDT, BREAK_CALLS calls of each, twice, in turn): the router's ml_forecast, its
#      PL/Proxy call alone (cryptoml_router.px_forecast, without the plpgsql guard), a PL/Proxy call
#      running SELECT 1 on the owner (bench.px_ping, a function this script makes on the router),
#      plproxy.get_cluster_version('cryptoml') (PL/Proxy runs it on every call), SELECT 1 on the
#      router; ml_forecast and SELECT 1 on the owner. CPU of the walsenders (logical decoding for the
#      replicated leaders) is shown apart where it matters.
#      ml_forecast warns on every call here (the shared data ends in 2021): the nodes and the router
#      run with client_min_messages and log_min_messages = error (ALTER DATABASE), so neither path
#      pays for a warning the other does not.
#   2. Work spread: a retrain sweep, ml_train(symbol, h, 'xgboost', SWEEP_OPTIONS) for every symbol
#      at every h of SWEEP_HORIZONS, (a) on the standalone node, one session, symbol after symbol
#      (what ml_retrain_all does), against (b) through the router, one psql session per node issuing
#      that node's symbols, the three at once. SWEEPS repetitions, order flipping. Wall time of each,
#      and CPU seconds of every cluster (utime + stime from /proc/<pid>/stat of its postmaster, its
#      live children and its reaped children (cutime + cstime of the postmaster), before and after).
#      Check: every model of (b) has the rmse of the same model of (a) (same bars, same seed).
#      Side figure: the samples of the setup (ml_build_samples at 15 and 60), timed the same way.
#
# The clusters are stopped at the end (KEEP=1 leaves them running, DESTROY=1 removes them); a rerun
# reuses loaded clusters (REUSE=0 destroys and rebuilds them).
#
# Usage: bash bench/router.sh
#   (CALLS=100 BLOCKS=3 BREAK_CALLS=500 HORIZON=15 SWEEPS=3 SWEEP_HORIZONS="15 60" BARS=0 LOAD=copy
#    SWEEP_OPTIONS='{"windowSize": 20000}' TRAIN_OPTIONS='{"windowSize": 20000}')
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export SCALEOUT_BASE_PORT=${SCALEOUT_BASE_PORT:-54390} SCALEOUT_PREFIX=${SCALEOUT_PREFIX:-bench}
CALLS=${CALLS:-100}
BREAK_CALLS=${BREAK_CALLS:-500}
BLOCKS=${BLOCKS:-3}
HORIZON=${HORIZON:-15}
SWEEPS=${SWEEPS:-3}
SWEEP_HORIZONS=${SWEEP_HORIZONS:-15 60}
SAMPLE_HORIZONS=$(printf '%s\n' "$HORIZON" $SWEEP_HORIZONS | sort -nu | paste -sd' ')
SWEEP_OPTIONS=${SWEEP_OPTIONS:-'{"windowSize": 20000}'}
TRAIN_OPTIONS=${TRAIN_OPTIONS:-'{"windowSize": 20000}'}
BARS=${BARS:-0}
LOAD=${LOAD:-copy}
CHUNK=${CHUNK:-5000}
KEEP=${KEEP:-0}
DESTROY=${DESTROY:-0}
REUSE=${REUSE:-1}
ONE_CLUSTER=${ONE_CLUSTER:-$SCALEOUT_PREFIX-one}
ONE_PORT=${ONE_PORT:-$((SCALEOUT_BASE_PORT + 4))}
NODES="node1 node2 node3"
SYMBOLS="BTCUSDT ETHUSDT SOLUSDT XRPUSDT ADAUSDT HBARUSDT"
DATA="$ROOT/../shared/data"
SO=(bash scripts/scaleout.sh)

command -v pgbench >/dev/null || { echo "router: pgbench not found (it comes with postgresql-15)" >&2; exit 1; }
command -v jq >/dev/null || { echo "router: jq not found (bash scripts/deps.sh)" >&2; exit 1; }
[ -f scripts/scaleout.sh ] || { echo "router: scripts/scaleout.sh is missing" >&2; exit 1; }
case $ONE_CLUSTER in demo | test) echo "router: ONE_CLUSTER=$ONE_CLUSTER: use a cluster of its own" >&2; exit 1 ;; esac
case $LOAD in copy | router) ;; *) echo "router: LOAD=$LOAD: copy or router" >&2; exit 2 ;; esac

WORK=$(mktemp -d /tmp/cryptoml-router.XXXXXX)
chmod 755 "$WORK"
T0=$(date +%s)
# role -> psql on it: router, node1..3 (scaleout.sh), one (the standalone node)
q() {
  local role=$1; shift
  if [ "$role" = one ]; then
    CRYPTOML_PORT=$ONE_PORT CRYPTOML_DB=cryptoml bash scripts/cluster.sh psql "$ONE_CLUSTER" -X -q -At -v ON_ERROR_STOP=1 "$@"
  else
    "${SO[@]}" psql "$role" -X -q -At -v ON_ERROR_STOP=1 "$@"
  fi
}
env_of() {  # role -> the PG* exports of its database
  if [ "$1" = one ]; then CRYPTOML_PORT=$ONE_PORT CRYPTOML_DB=cryptoml bash scripts/cluster.sh env "$ONE_CLUSTER"
  else "${SO[@]}" env "$1"; fi
}
datadir_of() { if [ "$1" = one ]; then echo "$ROOT/.pg/$ONE_CLUSTER/data"; else echo "$ROOT/.pg/$SCALEOUT_PREFIX-$1/data"; fi; }
stop_all() {
  "${SO[@]}" stop all >/dev/null 2>&1 || true
  CRYPTOML_PORT=$ONE_PORT bash scripts/cluster.sh stop "$ONE_CLUSTER" >/dev/null 2>&1 || true
}
cleanup() {
  rm -rf "$WORK"
  if [ "$DESTROY" = 1 ]; then
    "${SO[@]}" destroy all >/dev/null 2>&1 || true
    CRYPTOML_PORT=$ONE_PORT bash scripts/cluster.sh destroy "$ONE_CLUSTER" >/dev/null 2>&1 || true
  elif [ "$KEEP" != 1 ]; then stop_all; fi
}
trap cleanup EXIT
log() { echo "[$(($(date +%s) - T0)) s] $*" >&2; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# ---- /proc: CPU seconds of a cluster (postmaster + live children + reaped children) ----
TCK=$(getconf CLK_TCK)
cpu_ticks_of() {  # datadir -> ticks
  local pm c w
  pm=$(head -1 "$1/postmaster.pid")
  # each line "x|w <stat>"; after the ")" of comm: utime is field 13, stime 14, cutime 15, cstime 16
  # (the reaped children's time is in the postmaster's cutime, cstime); second figure: the walsenders alone (logical decoding of the node's WAL for its subscribers)
  { echo "x $(cat "/proc/$pm/stat")"
    for c in $(ps -o pid= --ppid "$pm"); do
      w=x; { tr '\0' ' ' <"/proc/$c/cmdline"; } 2>/dev/null | grep -q walsender && w=w
      echo "$w $(cat "/proc/$c/stat" 2>/dev/null || true)"
    done; } | sed 's/^\([xw]\) .*) /\1 /' | awk 'NF > 15 { v = $13 + $14 + $15 + $16; t += v; if ($1 == "w") w += v } END { print t + 0, w + 0 }'
}
snap() {  # label -> file WORK/cpu_<label> with "role ticks" lines
  local r
  # a session's backend exits a moment after its psql: let the postmaster reap it (its time then
  # moves to the postmaster's cutime; an exiting backend would be counted in neither)
  sleep 1
  for r in "$@"; do echo "$r $(cpu_ticks_of "$(datadir_of "$r")")"; done >"$WORK/cpu_$SNAP"
}
# cpu_delta FROM TO ROLE -> CPU seconds of ROLE between two snapshots
cpu_delta() {  # FROM TO ROLE [2: of which the walsenders]
  awk -v r="$3" -v k="${4:-1}" -v tck="$TCK" 'FNR == 1 { f++ } $1 == r { v[f] = $(1 + k) } END { printf "%.2f\n", (v[2] - v[1]) / tck }' "$WORK/cpu_$1" "$WORK/cpu_$2"
}
now() { date +%s.%N; }
# the whole machine's CPU ticks: busy, total (as bench/forecast.sh): who else was running
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
busy_cores() {  # "b0 t0" "b1 t1" -> cores busy in between
  awk -v a="$1" -v b="$2" -v c="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; printf "%.2f", t ? c * (y[1] - x[1]) / t : 0 }'
}

# ---- bars: the CSV of one symbol, as scripts/load.sh loads it ----
GEN_SEED=(BTCUSDT:58000:1 ETHUSDT:2000:2 SOLUSDT:20:3 XRPUSDT:0.6:4 ADAUSDT:1.2:5 HBARUSDT:0.25:6)
have_data() { ls "$DATA"/binance_*_1m.csv.gz >/dev/null 2>&1; }
bars_csv() {
  local sym=$1 spec take s p seed
  take() { if [ "$BARS" -gt 0 ]; then head -n $((BARS + 1)); else cat; fi; }
  if have_data; then { gzip -dc "$DATA/binance_${sym}_1m.csv.gz" || true; } | take; return; fi
  for spec in "${GEN_SEED[@]}"; do
    IFS=: read -r s p seed <<<"$spec"
    if [ "$s" = "$sym" ]; then bash scripts/gen_bars.sh "$sym" "$([ "$BARS" -gt 0 ] && echo "$BARS" || echo 60000)" "$p" "$seed"; fi
  done
}
# symbol -> owner node name (the router's map: symbol_map -> partitions)
owner_of() {
  q router -c "SELECT p.node FROM cryptoml_router.symbol_map m JOIN cryptoml_router.partitions p USING (partition) WHERE m.symbol = '$1'"
}
symbols_of() {  # node -> its symbols, space separated
  local s out=""
  for s in $SYMBOLS; do [ "${OWNER[$s]}" = "$1" ] && out+="$s "; done
  echo "$out"
}

# ---- setup ----
if [ "$REUSE" != 1 ]; then
  "${SO[@]}" destroy all >/dev/null 2>&1 || true
  CRYPTOML_PORT=$ONE_PORT bash scripts/cluster.sh destroy "$ONE_CLUSTER" >/dev/null 2>&1 || true
fi
log "scale-out: SCALEOUT_PREFIX=$SCALEOUT_PREFIX SCALEOUT_BASE_PORT=$SCALEOUT_BASE_PORT bash scripts/scaleout.sh setup"
"${SO[@]}" setup >"$WORK/setup.out" 2>&1 || { cat "$WORK/setup.out" >&2; exit 1; }
sed 's/^/  /' "$WORK/setup.out" >&2
CRYPTOML_PORT=$ONE_PORT CRYPTOML_DB=cryptoml bash scripts/cluster.sh start "$ONE_CLUSTER" >/dev/null
[ -n "$(PGDATABASE=postgres q one -c "SELECT 1 FROM pg_database WHERE datname = 'cryptoml'")" ] || PGDATABASE=postgres q one -c "CREATE DATABASE cryptoml"
q one -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE"
for r in router $NODES one; do
  pm=$(head -1 "$(datadir_of "$r")/postmaster.pid")
  if grep -q 'cryptoml.so (deleted)' "/proc/$pm/maps" 2>/dev/null; then
    echo "router: WARNING: $r runs a cryptoml.so that has since been reinstalled; REUSE=0 (or restart it) to measure the installed one" >&2
  fi
  db=$([ "$r" = router ] && echo cryptoml_router || echo cryptoml)
  # see the header: no warning is sent or logged on either path
  q "$r" -c "ALTER DATABASE $db SET client_min_messages = error" -c "ALTER DATABASE $db SET log_min_messages = error"
done
declare -A OWNER CONNINFO
for s in $SYMBOLS; do
  OWNER[$s]=$(owner_of "$s")
  [ -n "${OWNER[$s]}" ] || { echo "router: $s is not in the router's symbol map" >&2; exit 1; }
done
for n in $NODES; do CONNINFO[$n]=$(q router -c "SELECT conninfo FROM cryptoml_router.nodes WHERE name = '$n'"); done
log "owners: $(for s in $SYMBOLS; do printf '%s=%s ' "$s" "${OWNER[$s]}"; done)"

# bars (a symbol that already has bars on its owner is skipped: REUSE)
has_bars() { [ "$(q "$1" -c "SELECT count(*) > 0 FROM rollingChartData WHERE symbol = '$2'")" = t ]; }
load_start=$(now)
loaded=0
for s in $SYMBOLS; do
  o=${OWNER[$s]}
  has_bars "$o" "$s" && continue
  loaded=$((loaded + 1))
  if [ "$LOAD" = copy ]; then
    if [ -n "$(q router -c "SELECT 1 FROM pg_proc WHERE proname = 'ml_copy_target'")" ]; then
      target=$(q router -c "SELECT ml_copy_target('$s')")
    else
      target=${CONNINFO[$o]}
    fi
    bars_csv "$s" | psql -X -q -v ON_ERROR_STOP=1 "$target" \
      -c "\copy rollingChartData(symbol,timestamp,open,high,low,close,volume) FROM STDIN WITH (FORMAT csv, HEADER true)"
  else
    # through the router: the CSV into a temporary table of the router's session, then
    # ml_insert_bars(symbol, jsonb array) per CHUNK bars, in time order
    bars_csv "$s" | q router -c "CREATE TEMP TABLE b (symbol text, timestamp timestamp, open numeric, high numeric, low numeric, close numeric, volume numeric)" \
      -c "\copy b FROM STDIN WITH (FORMAT csv, HEADER true)" \
      -c "SELECT sum(ml_insert_bars('$s', c.bars)) FROM (SELECT jsonb_agg(jsonb_build_object('timestamp', timestamp, 'open', open, 'high', high,
            'low', low, 'close', close, 'volume', volume) ORDER BY timestamp) AS bars
            FROM (SELECT *, (row_number() OVER (ORDER BY timestamp) - 1) / $CHUNK AS k FROM b) x GROUP BY k ORDER BY k) c" >/dev/null
  fi
  log "bars: $s -> ${OWNER[$s]} ($LOAD)"
done
load_s=$(awk -v a="$load_start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
for n in $NODES; do q "$n" -c "ANALYZE rollingChartData"; done
for s in $SYMBOLS; do  # the same CSV into the standalone node (scripts/load.sh's COPY)
  has_bars one "$s" && continue
  bars_csv "$s" | q one -c "\copy rollingChartData(symbol,timestamp,open,high,low,close,volume) FROM STDIN WITH (FORMAT csv, HEADER true)"
done
q one -c "ANALYZE rollingChartData"
# every symbol on its owner with as many bars as on the standalone node
for s in $SYMBOLS; do
  a=$(q "${OWNER[$s]}" -c "SELECT count(*) FROM rollingChartData WHERE symbol = '$s'")
  b=$(q one -c "SELECT count(*) FROM rollingChartData WHERE symbol = '$s'")
  [ "$a" = "$b" ] || { echo "router: $s has $a bars on ${OWNER[$s]} and $b on $ONE_CLUSTER" >&2; exit 1; }
done
# the leaders' replicated bars caught up on every node (read-only copies, logical replication)
for ((i = 0; i < 120; i++)); do
  behind=""
  for n in $NODES; do
    for s in $(q "$n" -c "SELECT symbol FROM cryptoml_internal.node_symbols WHERE role = 'replica' ORDER BY 1"); do
      [ "$(q "$n" -c "SELECT count(*) FROM rollingChartData WHERE symbol = '$s'")" = "$(q "${OWNER[$s]}" -c "SELECT count(*) FROM rollingChartData WHERE symbol = '$s'")" ] || behind+="$s@$n "
    done
  done
  [ -z "$behind" ] && break
  sleep 1
done
[ -z "$behind" ] || log "replicas still behind after 120 s: $behind"
replicas=$(for n in $NODES; do printf '%s: %s; ' "$n" "$(q "$n" -c "SELECT coalesce(string_agg(symbol, ' ' ORDER BY symbol), 'none') FROM cryptoml_internal.node_symbols WHERE role = 'replica'")"; done)
log "replica symbols: $replicas"

# samples: timed as a side figure (one session per node in parallel against one session)
samples_needed() {  # role -> t when some sample horizon is missing
  local h
  for h in $SAMPLE_HORIZONS; do
    [ "$(q "$1" -c "SELECT count(*) FROM mlTrainingSamples WHERE forecast_horizon = $h")" = 0 ] && { echo t; return; }
  done
  echo f
}
SAMPLES_ONE="" SAMPLES_SPREAD=""
if [ "$(samples_needed one)" = t ]; then
  SNAP=s1a; snap one; t=$(now)
  q one -c "SELECT sum(ml_build_samples(s, h)) FROM unnest(string_to_array('$SYMBOLS', ' ')) s, unnest(string_to_array('$SAMPLE_HORIZONS', ' ')::int[]) h WHERE s <> ''" >/dev/null
  SAMPLES_ONE="$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
  SNAP=s1b; snap one
  SAMPLES_ONE+=" s wall, $(cpu_delta s1a s1b one) CPU s"
  log "samples on $ONE_CLUSTER: $SAMPLES_ONE"
fi
need=0
for n in $NODES; do [ "$(samples_needed "$n")" = t ] && need=1; done
if [ "$need" = 1 ]; then
  SNAP=s3a; snap router $NODES; t=$(now)
  pids=()
  for n in $NODES; do
    syms=$(symbols_of "$n")
    [ -n "$syms" ] || continue
    q "$n" -c "SELECT sum(ml_build_samples(s, h)) FROM unnest(string_to_array('$syms', ' ')) s, unnest(string_to_array('$SAMPLE_HORIZONS', ' ')::int[]) h WHERE s <> ''" >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  SAMPLES_SPREAD="$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
  SNAP=s3b; snap router $NODES
  SAMPLES_SPREAD+=" s wall, CPU s $(for n in $NODES; do printf '%s %s (walsenders %s) ' "$n" "$(cpu_delta s3a s3b "$n")" "$(cpu_delta s3a s3b "$n" 2)"; done)"
  log "samples on the nodes: $SAMPLES_SPREAD"
fi

# one production xgboost model per symbol at HORIZON, trained through the router, deployed on the owner
for s in $SYMBOLS; do
  if [ -z "$(q "${OWNER[$s]}" -c "SELECT 1 FROM mlTrainingBatches WHERE symbol = '$s' AND forecast_horizon = $HORIZON AND model_type = 'xgboost' AND is_production")" ]; then
    read -r b prod <<<"$(q router -F' ' -c "SELECT batch_id, is_production FROM ml_train('$s', $HORIZON, 'xgboost', '$TRAIN_OPTIONS')")"
    [ "$prod" = t ] || q "${OWNER[$s]}" -c "SELECT ml_deploy('$b')" >/dev/null
    log "model: $s h$HORIZON $b (trained through the router, deployed on ${OWNER[$s]})"
  fi
done

# settle: what the setup left to autovacuum done now, and a checkpoint, on every cluster
for r in $NODES one; do q "$r" -c "VACUUM ANALYZE rollingChartData" -c "VACUUM ANALYZE mlTrainingSamples" -c "VACUUM ANALYZE mlTrainingBatches" -c "CHECKPOINT"; done
q router -c "CHECKPOINT"

# ---- 1. router overhead ----
export PGOPTIONS='-c client_min_messages=error'
cfg() { q router -c "SELECT ml_config_set('inference.predictionCache', '$1')" >/dev/null; }
empty_forecasts() { local n; for n in $NODES; do q "$n" -c "TRUNCATE persistentForecasts" -c "VACUUM ANALYZE persistentForecasts"; done; }
pgb() {  # path symbol mode block
  local path=$1 s=$2 mode=$3 b=$4 tag="$1_$3_$2_$4"
  echo "SELECT * FROM ml_forecast('$s', $HORIZON);" >"$WORK/f_$s.sql"
  if [ "$path" = router ]; then
    (eval "$(env_of router)"; pgbench -n -c 1 -t $((CALLS + 1)) -M prepared -f "$WORK/f_$s.sql" -l --log-prefix="$WORK/pgb_$tag") >"$WORK/out_$tag" 2>&1
  else
    pgbench -n -c 1 -t $((CALLS + 1)) -M prepared -f "$WORK/f_$s.sql" -l --log-prefix="$WORK/pgb_$tag" "${CONNINFO[${OWNER[$s]}]}" >"$WORK/out_$tag" 2>&1
  fi || { cat "$WORK/out_$tag" >&2; exit 1; }
  grep -q 'number of failed transactions: 0' "$WORK/out_$tag" || { cat "$WORK/out_$tag" >&2; exit 1; }
  # pgbench -l: client_id transaction_no time(µs) ...; the first transaction dropped
  cat "$WORK"/pgb_"$tag".* | awk 'NR > 1 { print $3 }' | tee -a "$WORK/lat_${path}_$mode" >>"$WORK/lat_${path}_${mode}_${OWNER[$s]}"
}
# stats FILE -> "n p50 p90 p99" (µs)
stats() {
  sort -n "$1" | awk '{ a[NR] = $1 } END { printf "%d %.1f %.1f %.1f\n", NR, a[int(NR * 0.5 + 0.999999)], a[int(NR * 0.9 + 0.999999)], a[int(NR * 0.99 + 0.999999)] }'
}
for mode in on off; do
  cfg "$([ $mode = on ] && echo true || echo false)"
  empty_forecasts
  for s in $SYMBOLS; do q router -c "SELECT 1 FROM ml_forecast('$s', $HORIZON)" >/dev/null; done  # prime (cache on)
  for ((b = 1; b <= BLOCKS; b++)); do
    k=0
    for s in $SYMBOLS; do
      k=$((k + 1))
      if (((b + k) % 2)); then pgb router "$s" $mode $b; pgb direct "$s" $mode $b
      else pgb direct "$s" $mode $b; pgb router "$s" $mode $b; fi
    done
    log "overhead: cache $mode block $b/$BLOCKS: router p50 $(stats "$WORK/lat_router_$mode" | cut -d' ' -f2) us, direct p50 $(stats "$WORK/lat_direct_$mode" | cut -d' ' -f2) us"
  done
done
q router -c "SELECT ml_config_set('inference.predictionCache', 'true')" >/dev/null
# 1b. where the router's time goes (cache on, BTCUSDT): the router's ml_forecast, its PL/Proxy call
# alone (cryptoml_router.px_forecast, without the plpgsql guard that names a lost node), a PL/Proxy
# call that runs SELECT 1 on the owner (bench.px_ping, made here), SELECT 1 on the router; on the
# owner: ml_forecast and SELECT 1. BREAK_CALLS calls each, in turn, twice.
q router -c "CREATE SCHEMA IF NOT EXISTS bench" -c "CREATE OR REPLACE FUNCTION bench.px_ping(sym text) RETURNS integer LANGUAGE plproxy AS
  \$\$ CLUSTER 'cryptoml'; RUN ON cryptoml_router.partition_of(sym); SELECT 1; \$\$"
BREAK=(router:forecast:"SELECT * FROM ml_forecast('BTCUSDT', $HORIZON);"
       router:px_forecast:"SELECT * FROM cryptoml_router.px_forecast('BTCUSDT', $HORIZON);"
       router:px_ping:"SELECT bench.px_ping('BTCUSDT');"
       router:version:"SELECT plproxy.get_cluster_version('cryptoml');"
       router:select1:"SELECT 1;"
       owner:forecast:"SELECT * FROM ml_forecast('BTCUSDT', $HORIZON);"
       owner:select1:"SELECT 1;")
for round in 1 2; do
  for item in "${BREAK[@]}"; do
    IFS=: read -r where name stmt <<<"$item"
    echo "$stmt" >"$WORK/b.sql"
    tag="b_${where}_${name}_$round"
    if [ "$where" = router ]; then
      (eval "$(env_of router)"; pgbench -n -c 1 -t $((BREAK_CALLS + 1)) -M prepared -f "$WORK/b.sql" -l --log-prefix="$WORK/pgb_$tag") >"$WORK/out_$tag" 2>&1
    else
      pgbench -n -c 1 -t $((BREAK_CALLS + 1)) -M prepared -f "$WORK/b.sql" -l --log-prefix="$WORK/pgb_$tag" "${CONNINFO[${OWNER[BTCUSDT]}]}" >"$WORK/out_$tag" 2>&1
    fi || { cat "$WORK/out_$tag" >&2; exit 1; }
    cat "$WORK"/pgb_"$tag".* | awk 'NR > 1 { print $3 }' >>"$WORK/lat_b_${where}_$name"
  done
done
# a cached call must really be cached on the owner, through the router as directly
c_router=$(q router -c "SELECT cached FROM ml_forecast('BTCUSDT', $HORIZON)")
c_direct=$(q "${OWNER[BTCUSDT]}" -c "SELECT cached FROM ml_forecast('BTCUSDT', $HORIZON)")
[ "$c_router/$c_direct" = "t/t" ] || { echo "router: cache check failed (router: $c_router, direct: $c_direct)" >&2; exit 1; }
# and the router's forecast is the owner's: the same row of persistentForecasts
same=$(q router -c "SELECT forecast_at, predicted_change, confidence, model_version, lower, upper FROM ml_forecast('ETHUSDT', $HORIZON)")
same_d=$(q "${OWNER[ETHUSDT]}" -c "SELECT forecast_at, predicted_change, confidence, model_version, lower, upper FROM ml_forecast('ETHUSDT', $HORIZON)")
[ "$same" = "$same_d" ] || { echo "router: the router's forecast ($same) is not the owner's ($same_d)" >&2; exit 1; }
unset PGOPTIONS

# ---- 2. work spread ----
# sweep on the standalone node: one session, symbol after symbol
sweep_one() {
  local r=$1 t m0
  SNAP=one_a_$r; snap one router $NODES
  m0=$(machine_ticks)
  t=$(now)
  q one -F' ' -c "SELECT s, h, rmse FROM unnest(string_to_array('$SYMBOLS', ' ')) s, unnest(string_to_array('$SWEEP_HORIZONS', ' ')::int[]) h,
                  LATERAL ml_train(s, h, 'xgboost', '$SWEEP_OPTIONS') WHERE s <> '' ORDER BY 1, 2" | sort >"$WORK/rmse_one_$r"
  echo "$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')" >"$WORK/wall_one_$r"
  busy_cores "$m0" "$(machine_ticks)" >"$WORK/busy_one_$r"
  SNAP=one_b_$r; snap one router $NODES
}
# the same sweep through the router: one psql per node, at once, each calling ml_train for its symbols
sweep_router() {
  local r=$1 t n syms m0 pids=()
  SNAP=rt_a_$r; snap one router $NODES
  m0=$(machine_ticks)
  t=$(now)
  for n in $NODES; do
    syms=$(symbols_of "$n")
    [ -n "$syms" ] || continue
    q router -F' ' -c "SELECT s, h, rmse FROM unnest(string_to_array('$syms', ' ')) s, unnest(string_to_array('$SWEEP_HORIZONS', ' ')::int[]) h,
                       LATERAL ml_train(s, h, 'xgboost', '$SWEEP_OPTIONS') WHERE s <> '' ORDER BY 1, 2" >"$WORK/rmse_rt_${r}_$n" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  echo "$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')" >"$WORK/wall_rt_$r"
  busy_cores "$m0" "$(machine_ticks)" >"$WORK/busy_rt_$r"
  SNAP=rt_b_$r; snap one router $NODES
  sort "$WORK"/rmse_rt_"${r}"_* >"$WORK/rmse_rt_$r"
}
for ((r = 1; r <= SWEEPS; r++)); do
  if ((r % 2)); then sweep_one $r; sweep_router $r; else sweep_router $r; sweep_one $r; fi
  log "sweep $r/$SWEEPS: one node $(cat "$WORK/wall_one_$r") s, router over 3 nodes $(cat "$WORK/wall_rt_$r") s"
  cmp -s "$WORK/rmse_one_$r" "$WORK/rmse_rt_$r" || { echo "router: the sweeps trained different models:" >&2; diff "$WORK/rmse_one_$r" "$WORK/rmse_rt_$r" >&2; exit 1; }
done

# ---- report ----
pg=$(q router -c "SHOW server_version")
echo
echo "PostgreSQL $pg; $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M') UTC; git $(git rev-parse --short HEAD)$(git diff --quiet -- src extension || echo ' (working tree differs in src/ or extension/)'); cryptoml.so installed $(date -u -r "$(pg_config --pkglibdir)/cryptoml.so" '+%F %T')"
echo "router + 3 nodes ($SCALEOUT_PREFIX-router, -node1..3, ports $SCALEOUT_BASE_PORT-$((SCALEOUT_BASE_PORT + 3))), standalone node $ONE_CLUSTER (port $ONE_PORT); $(have_data && echo "shared candles" || echo "generated bars"), $([ "$BARS" -gt 0 ] && echo "$BARS" || echo all) bars per symbol"
echo "owners: $(for n in $NODES; do printf '%s: %s; ' "$n" "$(symbols_of "$n")"; done)replicas: $replicas"
if [ "$loaded" -gt 0 ]; then echo "bars loaded to the owners ($([ "$LOAD" = copy ] && echo "COPY to the owner named by the router" || echo "ml_insert_bars through the router, $CHUNK bars per call")): $loaded symbols in $load_s s"; fi
echo
echo "1. router overhead: SELECT * FROM ml_forecast(symbol, $HORIZON), pgbench -n -c 1 -t $((CALLS + 1)) -M prepared per run (first transaction dropped),"
echo "   $BLOCKS blocks x 6 symbols per path, router and direct alternating; latency in microseconds"
printf "   %-44s %6s %9s %9s %9s\n" "" n p50 p90 p99
declare -A P50 P90
for mode in on off; do
  for path in router direct; do
    read -r n p50 p90 p99 <<<"$(stats "$WORK/lat_${path}_$mode")"
    P50[$path$mode]=$p50 P90[$path$mode]=$p90
    printf "   %-44s %6d %9.1f %9.1f %9.1f\n" "cache $mode: $([ $path = router ] && echo "through the router" || echo "direct on the owner")" "$n" "$p50" "$p90" "$p99"
  done
  per=""
  for n in $NODES; do
    [ -s "$WORK/lat_router_${mode}_$n" ] || continue
    per+=" $n $(awk -v a="$(stats "$WORK/lat_router_${mode}_$n" | cut -d' ' -f2)" -v b="$(stats "$WORK/lat_direct_${mode}_$n" | cut -d' ' -f2)" 'BEGIN { printf "%.2f", a / b }')"
  done
  awk -v a="${P50[router$mode]}" -v b="${P50[direct$mode]}" -v c="${P90[router$mode]}" -v d="${P90[direct$mode]}" -v m="$mode" -v per="$per" 'BEGIN {
    printf "   cache %s: ratio router / direct p50 %.2f, p90 %.2f; router adds %.0f us at p50 (target p50 <= 1.3: %s); p50 ratio per owner:%s\n", m, a / b, c / d, a - b, a / b <= 1.3 ? "met" : "MISSED", per }'
done
awk -v a="${P50[routeron]}" -v b="${P50[directon]}" 'BEGIN { printf "router_overhead_p50_ratio=%.2f\n", a / b }'
awk -v a="${P90[routeron]}" -v b="${P90[directon]}" 'BEGIN { printf "router_overhead_p90_ratio=%.2f\n", a / b }'
awk -v a="${P50[routeroff]}" -v b="${P50[directoff]}" 'BEGIN { printf "router_overhead_p50_ratio_cache_off=%.2f\n", a / b }'
awk -v a="${P90[routeroff]}" -v b="${P90[directoff]}" 'BEGIN { printf "router_overhead_p90_ratio_cache_off=%.2f\n", a / b }'
echo "   where the router's time goes (cache on, BTCUSDT, $((2 * BREAK_CALLS)) calls each, pgbench as above), p50 / p90 in microseconds:"
declare -A BP
for item in "${BREAK[@]}"; do
  IFS=: read -r where name stmt <<<"$item"
  read -r n p50 p90 _ <<<"$(stats "$WORK/lat_b_${where}_$name")"
  BP[${where}_$name]=$p50
  printf "     %-8s %-66s %9.1f %9.1f\n" "$where" "$stmt" "$p50" "$p90"
done
awk -v f="${BP[router_forecast]}" -v x="${BP[router_px_forecast]}" -v p="${BP[router_px_ping]}" -v r1="${BP[router_select1]}" -v of="${BP[owner_forecast]}" -v o1="${BP[owner_select1]}" -v gv="${BP[router_version]}" 'BEGIN {
  printf "     p50 differences: the plpgsql guard around the PL/Proxy call %.0f us; a PL/Proxy call with the map lookup and a trivial remote query, beyond SELECT 1 on the router, %.0f us;\n", f - x, p - r1
  printf "     (of the PL/Proxy call: plproxy.get_cluster_version, which PL/Proxy runs on every call, %.0f us beyond SELECT 1)\n", gv - r1
  printf "     ml_forecast'"'"'s own work on the owner (beyond SELECT 1 there) %.0f us; px_forecast beyond px_ping %.0f us (that work, unprepared on the node, and the larger row)\n", of - o1, x - p
}'
echo
nmodels=$(wc -l <"$WORK/rmse_one_1")
echo "2. work spread: retrain sweep, ml_train(symbol, h, 'xgboost', '$SWEEP_OPTIONS') for 6 symbols x h in {$SWEEP_HORIZONS} = $nmodels models;"
echo "   (a) standalone node, one session; (b) through the router, one session per node at once. $SWEEPS sweeps each, order flipping."
echo "   The models of (b) have the rmse of the same models of (a) in every sweep."
printf "   %-7s %-34s %8s %10s %10s %10s %10s %10s %12s\n" sweep "" wall_s "cpu_s one" router node1 node2 node3 "machine busy"
for ((r = 1; r <= SWEEPS; r++)); do
  printf "   %-7s %-34s %8s %10s %10s %10s %10s %10s %12s\n" "$r" "(a) 1 node, sequential" "$(cat "$WORK/wall_one_$r")" \
    "$(cpu_delta one_a_$r one_b_$r one)" "$(cpu_delta one_a_$r one_b_$r router)" "$(cpu_delta one_a_$r one_b_$r node1)" "$(cpu_delta one_a_$r one_b_$r node2)" "$(cpu_delta one_a_$r one_b_$r node3)" "$(cat "$WORK/busy_one_$r") cores"
  printf "   %-7s %-34s %8s %10s %10s %10s %10s %10s %12s\n" "$r" "(b) router -> 3 nodes, concurrent" "$(cat "$WORK/wall_rt_$r")" \
    "$(cpu_delta rt_a_$r rt_b_$r one)" "$(cpu_delta rt_a_$r rt_b_$r router)" "$(cpu_delta rt_a_$r rt_b_$r node1)" "$(cpu_delta rt_a_$r rt_b_$r node2)" "$(cpu_delta rt_a_$r rt_b_$r node3)" "$(cat "$WORK/busy_rt_$r") cores"
done
w1=$(for ((r = 1; r <= SWEEPS; r++)); do cat "$WORK/wall_one_$r"; done | median)
w3=$(for ((r = 1; r <= SWEEPS; r++)); do cat "$WORK/wall_rt_$r"; done | median)
c1=$(for ((r = 1; r <= SWEEPS; r++)); do cpu_delta one_a_$r one_b_$r one; done | median)
cr=$(for ((r = 1; r <= SWEEPS; r++)); do cpu_delta rt_a_$r rt_b_$r router; done | median)
declare -A CN
for n in $NODES; do CN[$n]=$(for ((r = 1; r <= SWEEPS; r++)); do cpu_delta rt_a_$r rt_b_$r "$n"; done | median); done
cmax=$(printf '%s\n' "${CN[@]}" | sort -n | tail -1)
csum=$(printf '%s\n' "${CN[@]}" | awk '{ s += $1 } END { printf "%.2f", s }')
cw=$(for n in $NODES; do for ((r = 1; r <= SWEEPS; r++)); do cpu_delta rt_a_$r rt_b_$r "$n" 2; done | median; done | awk '{ s += $1 } END { printf "%.2f", s }')
echo "   medians: (a) wall $w1 s, CPU $c1 s; (b) wall $w3 s, CPU node1 ${CN[node1]} s, node2 ${CN[node2]} s, node3 ${CN[node3]} s (sum $csum, of which walsenders $cw), router $cr s"
awk -v w1="$w1" -v w3="$w3" -v c1="$c1" -v cmax="$cmax" -v csum="$csum" -v cr="$cr" -v cores="$(nproc)" 'BEGIN {
  printf "work_spread_wall_ratio=%.2f\n", w3 / w1
  printf "work_spread_cpu_ratio=%.2f\n", csum / c1
  printf "work_spread_busiest_node_cpu_ratio=%.2f\n", cmax / c1
  printf "   (b) / (a): wall %.2f; the nodes together used %.2f of (a)'"'"'s CPU (the same work, spread). (b) runs three sessions on %d cores:\n", w3 / w1, csum / c1, cores
  printf "   its wall time cannot fall below %.1f s (its CPU over %d cores) on this machine, against %.1f s of CPU in (a)'"'"'s one session.\n", csum / cores, cores, c1
  printf "   On 3 machines each node works alone: the sweep takes about the busiest node'"'"'s CPU, %.1f s, %.2f of (a)'"'"'s %.1f CPU s\n", cmax, cmax / c1, c1
  printf "   (%.1fx faster), plus the router'"'"'s %.2f CPU s; the busiest node bounds it, so the gain needs the symbols'"'"' cost balanced over the nodes.\n", c1 / cmax, cr
}'
if [ -n "$SAMPLES_ONE$SAMPLES_SPREAD" ]; then
  echo "   side figure, the setup's samples (ml_build_samples, horizons $SAMPLE_HORIZONS): 1 node $SAMPLES_ONE; 3 nodes, one session each, at once: $SAMPLES_SPREAD"
fi
echo
echo "bench/router.sh took $(($(date +%s) - T0)) s"
extra=""
for v in CALLS BLOCKS BREAK_CALLS HORIZON SWEEPS BARS LOAD; do
  d=""; case $v in CALLS) d=100 ;; BREAK_CALLS) d=500 ;; BLOCKS) d=3 ;; HORIZON) d=15 ;; SWEEPS) d=3 ;; BARS) d=0 ;; LOAD) d=copy ;; esac
  [ "${!v}" != "$d" ] && extra+="$v=${!v} "
done
[ "$SWEEP_HORIZONS" != "15 60" ] && extra+="SWEEP_HORIZONS='$SWEEP_HORIZONS' "
[ "$SWEEP_OPTIONS" != '{"windowSize": 20000}' ] && extra+="SWEEP_OPTIONS='$SWEEP_OPTIONS' "
[ "$TRAIN_OPTIONS" != '{"windowSize": 20000}' ] && extra+="TRAIN_OPTIONS='$TRAIN_OPTIONS' "
echo "reproduce: cd $ROOT && ${extra}SCALEOUT_PREFIX=$SCALEOUT_PREFIX SCALEOUT_BASE_PORT=$SCALEOUT_BASE_PORT bash bench/router.sh"
