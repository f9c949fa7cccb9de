#!/usr/bin/env bash
# Sustained ingest of a live feed at scale: 500 symbols (the configured `symbols` list: BTCUSDT,
# ETHUSDT and 498 generated names), 4 concurrent writers (pgbench clients), each owning 125 of the
# symbols; every statement (one transaction) inserts one minute of bars: one bar for each of the
# writer's symbols. Into rollingChartData through its triggers (indicators, validation, per-symbol
# lock, checkpoints, trade following, anomaly staleness), against the same load into
# bench_chart_plain, the same table without any trigger, in the same run (the order alternating).
#
# Reported: bars/s (all writers) per table, median of REPS runs of SECS seconds, and the ratio.
# With PROFILE=1 (needs perf), the writers' backends of one more trigger run are sampled and the
# top functions printed: what bounds the rate.
# Runtime: about 2 x REPS x SECS s plus setup (default 2 x 3 x 15: under 2 min).
#
# Cluster: its own (CLUSTER=scale, PORT=54533; stopped at the end unless KEEP=1 or it was
# running), database contrib_regression. The symbols setting is changed in that database only.
#
# Usage: bash bench/ingest_scale.sh          (SECS=15 REPS=3 WRITERS=4 SYMBOLS=500 SYNC=on WARM=60)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PORT=${PORT:-54533}
CLUSTER=${CLUSTER:-scale}
KEEP=${KEEP:-0}
SECS=${SECS:-15}
REPS=${REPS:-3}
WRITERS=${WRITERS:-4}
NSYM=${SYMBOLS:-500}
SYNC=${SYNC:-on}
WARM=${WARM:-60}
PROFILE=${PROFILE:-0}
[ "$NSYM" -ge 2 ] && [ "$NSYM" -le 2000 ] || { echo "ingest_scale: SYMBOLS must be 2..2000" >&2; exit 2; }

export CRYPTOML_PORT=$PORT
was_running=0
bash scripts/cluster.sh status "$CLUSTER" >/dev/null 2>&1 && was_running=1
bash scripts/cluster.sh start "$CLUSTER" >/dev/null
eval "$(bash scripts/cluster.sh env "$CLUSTER")"
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
WORK=$(mktemp -d /tmp/cryptoml-scale.XXXXXX)
chmod 777 "$WORK"
cleanup() {
  rm -rf "$WORK"
  if [ "$KEEP" != 1 ] && [ "$was_running" = 0 ]; then bash scripts/cluster.sh stop "$CLUSTER" >/dev/null; fi
}
trap cleanup EXIT
pm=$(head -1 "$ROOT/.pg/$CLUSTER/data/postmaster.pid" 2>/dev/null || true)
if [ -n "$pm" ] && grep -q 'cryptoml.so (deleted)' "/proc/$pm/maps" 2>/dev/null; then
  echo "ingest_scale: WARNING: cluster $CLUSTER runs a cryptoml.so that has since been reinstalled; restart it" >&2
fi
if [ -z "$("${PSQL[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'")" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $PGDATABASE"
fi
"${PSQL[@]}" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE"
version=$("${PSQL[@]}" -Atc "SELECT extversion FROM pg_extension WHERE extname = 'cryptoml'")

# the symbols: BTCUSDT and ETHUSDT (the default cross-market leaders) and generated names;
# writer k owns the symbols with i % WRITERS = k
"${PSQL[@]}" <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_scale_symbols, bench_chart_plain;
CREATE TABLE bench_scale_symbols (i integer PRIMARY KEY, symbol text NOT NULL);
INSERT INTO bench_scale_symbols
SELECT i, CASE i WHEN 0 THEN 'BTCUSDT' WHEN 1 THEN 'ETHUSDT' ELSE 'S' || lpad(i::text, 4, '0') || 'USDT' END FROM generate_series(0, $NSYM - 1) i;
SELECT ml_config_set('symbols', (SELECT jsonb_agg(symbol ORDER BY i) FROM bench_scale_symbols)) IS NOT NULL AS configured \gset
CREATE TABLE bench_chart_plain (LIKE rollingChartData INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE SEQUENCE bench_chart_plain_id_seq OWNED BY bench_chart_plain.id;
ALTER TABLE bench_chart_plain ALTER COLUMN id SET DEFAULT nextval('bench_chart_plain_id_seq');
SQL
per_writer=$("${PSQL[@]}" -Atc "SELECT count(*) FROM bench_scale_symbols WHERE i % $WRITERS = 0")

t0=1704067200   # 2024-01-01 00:00 UTC: minute n is t0 + 60 n
script() {  # TABLE: one minute of bars of the writer's symbols
  cat <<SQL
\set n :n + 1
INSERT INTO $1 (symbol, timestamp, open, high, low, close, volume)
SELECT s.symbol, to_timestamp($t0 + 60 * :n) AT TIME ZONE 'UTC', o, 101.5, 99.5, c, 10
  FROM bench_scale_symbols s, LATERAL (SELECT round((100 + random())::numeric, 8) AS o, round((100 + random())::numeric, 8) AS c) p
 WHERE s.i % $WRITERS = :client_id ORDER BY s.i;
SQL
}

# run TABLE [PROFILE] -> bars/s
run() {
  local table=$1 prof=${2:-0}
  "${PSQL[@]}" -c "SET client_min_messages = warning" -c "TRUNCATE $table RESTART IDENTITY" \
    -c "INSERT INTO $table (symbol, timestamp, open, high, low, close, volume)
          SELECT s.symbol, to_timestamp($t0 + 60 * m) AT TIME ZONE 'UTC', 100 + (m % 7) / 10.0, 101.5, 99.5, 100 + (m % 5) / 10.0, 10
            FROM bench_scale_symbols s, generate_series(0, $WARM - 1) m ORDER BY s.i, m" \
    -c "VACUUM ANALYZE $table" -c "CHECKPOINT"
  script "$table" >"$WORK/script.sql"
  (cd "$WORK" && PGOPTIONS="-c synchronous_commit=$SYNC" pgbench -n -c "$WRITERS" -j "$WRITERS" -T "$SECS" \
     -D n=$((WARM - 1)) --random-seed=1 -f script.sql) >"$WORK/out.txt" 2>&1 &
  local pb=$!
  if [ "$prof" = 1 ]; then
    sleep 2
    pids=$("${PSQL[@]}" -Atc "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE application_name = 'pgbench'")
    perf record -F 999 -g -p "$pids" -o "$WORK/perf.data" -- sleep $((SECS > 8 ? 6 : SECS - 3)) >/dev/null 2>&1 || true
  fi
  wait $pb || { cat "$WORK/out.txt" >&2; exit 1; }
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/out.txt" | head -1)
  awk -v t="$tps" -v k="$per_writer" 'BEGIN {printf "%.0f\n", t * k}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A res
for ((r = 0; r < REPS; r++)); do
  order=(rollingchartdata bench_chart_plain)
  [ $((r % 2)) = 1 ] && order=(bench_chart_plain rollingchartdata)
  for t in "${order[@]}"; do
    b=$(run "$t")
    res[$t]+="$b "
    echo "rep $((r + 1))/$REPS $t: $b bars/s" >&2
  done
done
bc=$(printf '%s\n' ${res[rollingchartdata]} | median)
bp=$(printf '%s\n' ${res[bench_chart_plain]} | median)
echo
echo "cryptoml $version; PostgreSQL $("${PSQL[@]}" -Atc 'SHOW server_version'); $(nproc) cores; $(date -u +%Y-%m-%d)"
echo "$NSYM symbols, $WRITERS writers x $per_writer symbols, one minute of bars per statement, synchronous_commit=$SYNC; $SECS s runs, median of $REPS"
printf "%-34s %10s   %s\n" table "bars/s" runs
printf "%-34s %10s   [ %s]\n" "rollingChartData (triggers)" "$bc" "${res[rollingchartdata]}"
printf "%-34s %10s   [ %s]\n" "bench_chart_plain (no trigger)" "$bp" "${res[bench_chart_plain]}"
awk -v c="$bc" -v p="$bp" 'BEGIN {printf "ratio triggers / no trigger (bars/s): %.2f\n", c / p}'
if [ "$PROFILE" = 1 ]; then
  b=$(run rollingchartdata 1)
  echo "profiled run: $b bars/s; the writers' backends, self time (perf, top 25):"
  { perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -25; } || true
  echo "inclusive (children), cryptoml and the big PostgreSQL phases:"
  { perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' |
    grep -E 'cml_|follow|flush_statement|begin_symbol|ExecInsert|heap_insert|btinsert|XLog|CommitTransaction|LockAcquire|SPI_|_SPI|ExecutePlan|ExecBRInsert|ExecAR|AfterTrigger|plpgsql|ExecScan|SeqNext|heapgetpage|hash_search' | head -30; } || true
fi
echo "reproduce: cd $ROOT && SECS=$SECS REPS=$REPS WRITERS=$WRITERS SYMBOLS=$NSYM SYNC=$SYNC PORT=$PORT CLUSTER=$CLUSTER bash bench/ingest_scale.sh"
