#!/usr/bin/env bash
# Single-row INSERT latency of rollingChartData, as a live feed writes: one bar per statement (and per
# transaction, autocommit), each pgbench client appending the next minute's bar of its own symbol.
# Against the same load into bench_chart_plain, the same table without any trigger, in the same run.
#
# Scenarios (each: both tables, REPS times, the order alternating; medians reported):
#   notrade  no simulated trade: the trigger computes the indicators, checks the bar, writes the
#            symbol's checkpoint; trade following finds nothing to follow
#   trade    every client also opens a LONG trade of its symbol (horizon 15 min, levels out of reach)
#            every 16th bar, in the same transaction as that bar: each bar follows one active trade
#            (the plain table's run inserts the same trades; nothing follows them)
# Commit modes: SYNC="on off" (default both): synchronous_commit of the pgbench sessions. "on" is a
# live feed's default (a WAL flush per bar, which fsync's cost dominates); "off" shows the CPU cost.
#
# Reported per (scenario, commit mode, table): transactions/s (all clients), the bar INSERT's mean
# latency (pgbench -r), and p50/p99 of the transactions' latency (pgbench -l); then the ratio
# trigger / no trigger of the mean and p50. Runtime: about 4 x 2 x REPS x SECS s (default 3 x 5:
# 2 min) plus setup.
#
# Cluster: its own (CLUSTER=lat, PORT=54531; stopped at the end unless KEEP=1 or it was running),
# database contrib_regression; the PostgreSQL and cryptoml found through pg_config on PATH. To
# measure another build (e.g. a release installed into a copy of the PostgreSQL tree), put that
# tree's bin first on PATH and give the run its own CLUSTER and PORT.
#
# Usage: bash bench/insert_latency.sh                 (CLIENTS=4 SECS=5 REPS=3 SYNC="on off")
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PORT=${PORT:-54531}
CLUSTER=${CLUSTER:-lat}
KEEP=${KEEP:-0}
CLIENTS=${CLIENTS:-4}
SECS=${SECS:-5}
REPS=${REPS:-3}
SYNC=${SYNC:-on off}
WARM=${WARM:-300}   # bars per symbol before each run: the indicators are complete from the start
SYMBOLS=(BTCUSDT ETHUSDT SOLUSDT XRPUSDT ADAUSDT HBARUSDT)
[ "$CLIENTS" -ge 1 ] && [ "$CLIENTS" -le ${#SYMBOLS[@]} ] || { echo "insert_latency: CLIENTS must be 1..${#SYMBOLS[@]}" >&2; exit 2; }

export CRYPTOML_PORT=$PORT
was_running=0
bash scripts/cluster.sh status "$CLUSTER" >/dev/null 2>&1 && was_running=1
bash scripts/cluster.sh start "$CLUSTER" >/dev/null
eval "$(bash scripts/cluster.sh env "$CLUSTER")"
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
WORK=$(mktemp -d /tmp/cryptoml-latency.XXXXXX)
chmod 777 "$WORK"
cleanup() {
  rm -rf "$WORK"
  if [ "$KEEP" != 1 ] && [ "$was_running" = 0 ]; then bash scripts/cluster.sh stop "$CLUSTER" >/dev/null; fi
}
trap cleanup EXIT
pm=$(head -1 "$ROOT/.pg/$CLUSTER/data/postmaster.pid" 2>/dev/null || true)
if [ -n "$pm" ] && grep -q 'cryptoml.so (deleted)' "/proc/$pm/maps" 2>/dev/null; then
  echo "insert_latency: WARNING: cluster $CLUSTER runs a cryptoml.so that has since been reinstalled; restart it" >&2
fi
if [ -z "$("${PSQL[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'")" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $PGDATABASE"
fi
"${PSQL[@]}" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE"
version=$("${PSQL[@]}" -Atc "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")
# the clients' symbols must be configured (a database used by bench/ingest_scale.sh holds other ones)
"${PSQL[@]}" -c "SELECT ml_config_set('symbols', '$(printf '"%s",' "${SYMBOLS[@]}" | sed 's/,$//; s/^/[/; s/$/]/')')" >/dev/null
triggers=$("${PSQL[@]}" -Atc "SELECT string_agg(tgname, ', ' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'rollingchartdata'::regclass AND NOT tgisinternal")
"${PSQL[@]}" <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_chart_plain;
CREATE TABLE bench_chart_plain (LIKE rollingChartData INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE SEQUENCE bench_chart_plain_id_seq OWNED BY bench_chart_plain.id;
ALTER TABLE bench_chart_plain ALTER COLUMN id SET DEFAULT nextval('bench_chart_plain_id_seq');
SQL

syms=$(printf "'%s'," "${SYMBOLS[@]:0:$CLIENTS}")
syms="ARRAY[${syms%,}]"
t0=1704067200   # 2024-01-01 00:00 UTC: minute n of a client's symbol is t0 + 60 n
# one transaction: the client's next bar (and every 16th bar, with TRADES=1, a new trade)
script() {  # TABLE TRADES
  cat <<SQL
\set n :n + 1
\set o random(0, 1000)
\set c random(0, 1000)
\set v random(0, 100000)
\if :trades = 1 and :n % 16 = 0
BEGIN;
INSERT INTO tradeSimulations (symbol, signal_type, entry_price, tp_price, sl_price, current_price, is_active, forecast_horizon, entry_bar, total_minutes, profitable_minutes) VALUES (($syms)[:client_id + 1], 'LONG', 100, 1000, 1, 100, true, 15, to_timestamp($t0 + 60 * (:n - 1)) AT TIME ZONE 'UTC', 0, 0);
INSERT INTO $1 (symbol, timestamp, open, high, low, close, volume) VALUES (($syms)[:client_id + 1], to_timestamp($t0 + 60 * :n) AT TIME ZONE 'UTC', 100 + :o / 1000.0, 101.5, 99.5, 100 + :c / 1000.0, :v / 100.0);
COMMIT;
\else
INSERT INTO $1 (symbol, timestamp, open, high, low, close, volume) VALUES (($syms)[:client_id + 1], to_timestamp($t0 + 60 * :n) AT TIME ZONE 'UTC', 100 + :o / 1000.0, 101.5, 99.5, 100 + :c / 1000.0, :v / 100.0);
\endif
SQL
}

# run TABLE SCENARIO SYNC -> "tps mean_ms p50_ms p99_ms"
run() {
  local table=$1 scenario=$2 sync=$3 trades=0
  [ "$scenario" = trade ] && trades=1
  "${PSQL[@]}" -c "SET client_min_messages = warning" -c "TRUNCATE $table RESTART IDENTITY" -c "TRUNCATE tradeSimulations RESTART IDENTITY CASCADE" \
    -c "INSERT INTO $table (symbol, timestamp, open, high, low, close, volume)
          SELECT s, to_timestamp($t0 + 60 * i) AT TIME ZONE 'UTC', 100 + (i % 7) / 10.0, 101.5, 99.5, 100 + (i % 5) / 10.0, 10
            FROM unnest($syms) s, generate_series(0, $WARM - 1) i ORDER BY s, i" \
    -c "VACUUM ANALYZE $table" -c "VACUUM ANALYZE tradeSimulations" -c "CHECKPOINT"
  script "$table" >"$WORK/script.sql"
  rm -f "$WORK"/log.*
  (cd "$WORK" && PGOPTIONS="-c synchronous_commit=$sync" pgbench -n -r -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" \
     -D n=$((WARM - 1)) -D trades=$trades --random-seed=1 -l --log-prefix=log -f script.sql) >"$WORK/out.txt" 2>&1 ||
    { cat "$WORK/out.txt" >&2; exit 1; }
  local tps mean
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/out.txt" | head -1)
  # the bar INSERT's mean latency: the last INSERT line of -r (the bar alone, without a trade)
  mean=$(grep -E "^ +[0-9.]+ +[0-9]+ +INSERT INTO $table" "$WORK/out.txt" | tail -1 | awk '{printf "%.3f", $1}')
  cat "$WORK"/log.* | awk '{print $3}' | sort -n | awk -v tps="$tps" -v mean="$mean" '{a[NR] = $1}
    END {printf "%.0f %s %.3f %.3f\n", tps, mean, a[int(NR * 0.5) + 1] / 1000, a[int(NR * 0.99) + 1] / 1000}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A res
for sync in $SYNC; do
  for scenario in notrade trade; do
    for ((r = 0; r < REPS; r++)); do
      order=(rollingchartdata bench_chart_plain)
      [ $((r % 2)) = 1 ] && order=(bench_chart_plain rollingchartdata)
      for t in "${order[@]}"; do
        out=$(run "$t" "$scenario" "$sync")
        res[$sync,$scenario,$t]+="$out;"
        echo "sync=$sync $scenario rep $((r + 1))/$REPS $t: tps mean_ms p50_ms p99_ms = $out" >&2
      done
    done
  done
done

col() { tr ';' '\n' | awk -v k="$1" 'NF {print $k}' | median; }
echo
echo "cryptoml $version; triggers on rollingChartData: $triggers"
echo "PostgreSQL $("${PSQL[@]}" -Atc 'SHOW server_version'); $(nproc) cores; $(date -u +%Y-%m-%d); $CLIENTS clients x $SECS s, median of $REPS runs"
printf "%-5s %-8s %-26s %9s %9s %9s %9s\n" sync scenario table tps mean_ms p50_ms p99_ms
for sync in $SYNC; do
  for scenario in notrade trade; do
    for t in rollingchartdata bench_chart_plain; do
      v=${res[$sync,$scenario,$t]}
      printf "%-5s %-8s %-26s %9s %9s %9s %9s\n" "$sync" "$scenario" "$t" "$(echo "$v" | col 1)" "$(echo "$v" | col 2)" \
        "$(echo "$v" | col 3)" "$(echo "$v" | col 4)"
    done
    a=${res[$sync,$scenario,rollingchartdata]} b=${res[$sync,$scenario,bench_chart_plain]}
    awk -v m1="$(echo "$a" | col 2)" -v m0="$(echo "$b" | col 2)" -v p1="$(echo "$a" | col 3)" -v p0="$(echo "$b" | col 3)" \
      -v s="$sync" -v sc="$scenario" 'BEGIN {printf "%-5s %-8s trigger / no trigger: mean latency %.2fx, p50 %.2fx (+%.3f ms per bar)\n", s, sc, m1 / m0, p1 / p0, m1 - m0}'
  done
done
echo "reproduce: cd $ROOT && CLIENTS=$CLIENTS SECS=$SECS REPS=$REPS SYNC=\"$SYNC\" PORT=$PORT CLUSTER=$CLUSTER bash bench/insert_latency.sh"
