#!/usr/bin/env bash
# The bulk loader ml_load_bars against COPY, in the same run, on the same cluster:
#   bulk     rollingChartData through ml_load_bars(file), one call per symbol file: indicators,
#            validation, batched inserts, checkpoints, statement triggers
#   plain    bench_chart_plain: the same table (LIKE rollingChartData INCLUDING DEFAULTS,
#            CONSTRAINTS, INDEXES) without any trigger, COPY FROM the same files: the floor
#            (its rows carry no indicators, so they are smaller than bulk's)
#   trigger  rollingChartData through COPY FROM the same files: the row and statement triggers
#   filled   bench_chart_plain, COPY FROM files of the rows as ml_load_bars stores them (bars and
#            their indicator columns): the floor of storing what ml_load_bars stores, without
#            computing anything (rows about 1.8 times as large as plain's)
# Every load reads the same decompressed CSV files on the server (server-side COPY FROM a file and
# ml_load_bars both: no client protocol in either), one statement per file in one psql session,
# into a freshly truncated table after a CHECKPOINT; the wall time of the session is the load's
# time. The loads repeat REPS times, the order rotating each repetition; medians are reported,
# and the ratios of rows/s against plain. Then ml_load_bars of the gzip files once (informational)
# and a check that bulk stored the same values as trigger.
#
# Data: ../shared/data/binance_*_1m.csv.gz (DATA=dir) when present, else 6 x GEN_BARS (60000)
# random-walk bars. Files are decompressed into a temporary directory before timing.
# Cluster: its own (CLUSTER=bulkbench, PORT=54541), database contrib_regression, stopped at the end
# unless KEEP=1 or it was running before. About 1 minute per repetition on 2 cores.
#
# Usage: REPS=5 bash bench/bulk_load.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REPS=${REPS:-5}
PORT=${PORT:-54541}
CLUSTER=${CLUSTER:-bulkbench}
KEEP=${KEEP:-0}
DATA=${DATA:-$ROOT/../shared/data}
GEN_BARS=${GEN_BARS:-60000}
SYMBOLS=(BTCUSDT ETHUSDT SOLUSDT XRPUSDT ADAUSDT HBARUSDT)
COLS='symbol, timestamp, open, high, low, close, volume'

export CRYPTOML_PORT=$PORT
was_running=0
bash scripts/cluster.sh status "$CLUSTER" >/dev/null 2>&1 && was_running=1
bash scripts/cluster.sh start "$CLUSTER" >/dev/null
eval "$(bash scripts/cluster.sh env "$CLUSTER")"
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
WORK=$(mktemp -d /tmp/cryptoml-bulk.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  rm -rf "$WORK"
  if [ "$KEEP" != 1 ] && [ "$was_running" = 0 ]; then bash scripts/cluster.sh stop "$CLUSTER" >/dev/null; fi
}
trap cleanup EXIT
pm=$(head -1 "$ROOT/.pg/$CLUSTER/data/postmaster.pid" 2>/dev/null || true)
if [ -n "$pm" ] && grep -q 'cryptoml.so (deleted)' "/proc/$pm/maps" 2>/dev/null; then
  echo "bulk_load: WARNING: cluster $CLUSTER runs a cryptoml.so that has since been reinstalled; restart it" >&2
fi
if [ -z "$("${PSQL[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'")" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $PGDATABASE"
fi
"${PSQL[@]}" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE"
"${PSQL[@]}" -Atc "SELECT 1 FROM pg_proc WHERE proname = 'ml_load_bars'" | grep -q 1 ||
  { echo "bulk_load: the installed extension has no ml_load_bars; recreate it (DROP EXTENSION cryptoml CASCADE)" >&2; exit 1; }

# ---- data ----
files=() gzfiles=()
shopt -s nullglob
src=("$DATA"/binance_*_1m.csv.gz)
shopt -u nullglob
if [ ${#src[@]} -gt 0 ]; then
  data_desc="${#src[@]} files $DATA/binance_*_1m.csv.gz"
  for f in "${src[@]}"; do
    out="$WORK/$(basename "$f" .gz)"
    gzip -dc "$f" >"$out"
    cp "$f" "$WORK/"
    files+=("$out")
    gzfiles+=("$WORK/$(basename "$f")")
  done
else
  data_desc="generated: ${#SYMBOLS[@]} x $GEN_BARS random-walk bars"
  start0=1617321600
  seed=1
  for sym in "${SYMBOLS[@]}"; do
    out="$WORK/gen_$sym.csv"
    case $sym in BTCUSDT) p=58000 ;; ETHUSDT) p=2000 ;; SOLUSDT) p=20 ;; XRPUSDT) p=0.6 ;; ADAUSDT) p=1.2 ;; *) p=0.3 ;; esac
    awk -v sym="$sym" -v n="$GEN_BARS" -v p="$p" -v t0="$start0" -v seed="$seed" 'BEGIN {
      srand(seed); print "symbol,timestamp,open,high,low,close,volume"
      for (i = 0; i < n; i++) {
        z = sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand())
        o = p; c = o * exp(0.001 * z)
        h = (o > c ? o : c) * (1 + 0.0005 * rand()); l = (o < c ? o : c) * (1 - 0.0005 * rand())
        printf "%s,%s,%.8f,%.8f,%.8f,%.8f,%.8f\n", sym, strftime("%Y-%m-%dT%H:%M:00Z", t0 + 60 * i, 1), o, h, l, c, 10 * rand()
        p = sprintf("%.8f", c) + 0
      }
    }' >"$out"
    gzip -c "$out" >"$out.gz"
    files+=("$out")
    gzfiles+=("$out.gz")
    seed=$((seed + 1))
  done
fi
chmod 644 "$WORK"/*
total_rows=0
for f in "${files[@]}"; do total_rows=$((total_rows + $(wc -l <"$f") - 1)); done

"${PSQL[@]}" <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_chart_plain;
CREATE TABLE bench_chart_plain (LIKE rollingChartData INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE SEQUENCE bench_chart_plain_id_seq OWNED BY bench_chart_plain.id;
ALTER TABLE bench_chart_plain ALTER COLUMN id SET DEFAULT nextval('bench_chart_plain_id_seq');
SQL

# the filled rows: one ml_load_bars load, exported per symbol by the server (written before timing)
mkdir -m 777 "$WORK/filled"
"${PSQL[@]}" -c "SET client_min_messages = warning" -c "TRUNCATE rollingChartData" >/dev/null
for f in "${files[@]}"; do "${PSQL[@]}" -c "SELECT count(*) FROM ml_load_bars('$f')" >/dev/null; done
FILLED_COLS="$COLS, rsi, macd, macd_signal, macd_hist, bollinger_upper, bollinger_middle, bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete"
filled=()
for sym in $("${PSQL[@]}" -Atc "SELECT DISTINCT symbol FROM rollingChartData ORDER BY 1"); do
  "${PSQL[@]}" -c "COPY (SELECT $FILLED_COLS FROM rollingChartData WHERE symbol = '$sym' ORDER BY timestamp) TO '$WORK/filled/$sym.csv' (FORMAT csv, HEADER true)" >/dev/null
  filled+=("$WORK/filled/$sym.csv")
done

# load KIND [files...]: truncate, checkpoint, then time one session of one statement per file
load() {
  local kind=$1 table=rollingchartdata script="$WORK/load_$1.sql" t0 t1 n
  shift
  [ "$kind" = plain ] || [ "$kind" = filled ] && table=bench_chart_plain
  "${PSQL[@]}" -c "SET client_min_messages = warning" -c "TRUNCATE $table RESTART IDENTITY" -c "CHECKPOINT"
  : >"$script"
  for f in "$@"; do
    case $kind in
      bulk | bulkgz) echo "SELECT count(*) FROM ml_load_bars('$f');" >>"$script" ;;
      filled) echo "COPY $table ($FILLED_COLS) FROM '$f' (FORMAT csv, HEADER true);" >>"$script" ;;
      *) echo "COPY $table ($COLS) FROM '$f' (FORMAT csv, HEADER true);" >>"$script" ;;
    esac
  done
  t0=$EPOCHREALTIME
  "${PSQL[@]}" -f "$script" >/dev/null
  t1=$EPOCHREALTIME
  n=$("${PSQL[@]}" -Atc "SELECT count(*) FROM $table")
  [ "$n" = "$total_rows" ] || { echo "bulk_load: $table holds $n rows after $kind, expected $total_rows" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

kinds=(bulk plain trigger filled)
declare -A times
for ((r = 0; r < REPS; r++)); do
  for ((i = 0; i < ${#kinds[@]}; i++)); do
    k=${kinds[$(((i + r) % ${#kinds[@]}))]}
    if [ "$k" = filled ]; then s=$(load "$k" "${filled[@]}"); else s=$(load "$k" "${files[@]}"); fi
    times[$k]="${times[$k]:-} $s"
    echo "rep $((r + 1))/$REPS: $k $s s" >&2
  done
done
# the trigger path was loaded last in some order: keep its values, load bulk into a copy to compare
"${PSQL[@]}" -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS bench_chart_trigger" \
  -c "CREATE TABLE bench_chart_trigger AS SELECT * FROM rollingChartData" >/dev/null
gz=$(load bulkgz "${gzfiles[@]}")
diff_rows=$("${PSQL[@]}" -Atc "SELECT count(*) FROM (SELECT row(symbol, timestamp, open, high, low, close, volume, rsi, macd, macd_signal,
  macd_hist, bollinger_upper, bollinger_middle, bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete)::text FROM rollingChartData
  EXCEPT SELECT row(symbol, timestamp, open, high, low, close, volume, rsi, macd, macd_signal, macd_hist, bollinger_upper,
  bollinger_middle, bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete)::text FROM bench_chart_trigger) d")
"${PSQL[@]}" -c "DROP TABLE bench_chart_trigger" >/dev/null

med_bulk=$(printf '%s\n' ${times[bulk]} | median)
med_plain=$(printf '%s\n' ${times[plain]} | median)
med_trig=$(printf '%s\n' ${times[trigger]} | median)
med_fill=$(printf '%s\n' ${times[filled]} | median)
pg=$("${PSQL[@]}" -Atc "SHOW server_version")
echo
echo "data: $data_desc, $total_rows bars; PostgreSQL $pg; $(nproc) cores; $(date -u +%Y-%m-%d)"
echo "median of $REPS loads (order rotating), seconds of each run in brackets"
awk -v n="$total_rows" -v b="$med_bulk" -v p="$med_plain" -v t="$med_trig" -v g="$gz" -v fl="$med_fill" -v rf="${times[filled]}" \
    -v rb="${times[bulk]}" -v rp="${times[plain]}" -v rt="${times[trigger]}" 'BEGIN {
  printf "%-52s %9s %10s   %s\n", "load", "median s", "rows/s", "runs"
  printf "%-52s %9.3f %10.0f   [%s ]\n", "ml_load_bars(file) into rollingChartData", b, n / b, rb
  printf "%-52s %9.3f %10.0f   [%s ]\n", "COPY FROM file into bench_chart_plain (no trigger)", p, n / p, rp
  printf "%-52s %9.3f %10.0f   [%s ]\n", "COPY FROM file into rollingChartData (triggers)", t, n / t, rt
  printf "%-52s %9.3f %10.0f   [%s ]\n", "COPY FROM file of the filled rows, no trigger", fl, n / fl, rf
  printf "%-52s %9.3f %10.0f   (once)\n", "ml_load_bars(gzip file) into rollingChartData", g, n / g
  printf "ratio ml_load_bars / plain COPY (rows/s):         %.2f   (target >= 0.9)\n", p / b
  printf "ratio COPY through the trigger / plain COPY:      %.2f\n", p / t
  printf "ratio ml_load_bars / COPY through the trigger:    %.2f\n", t / b
  printf "ratio ml_load_bars / COPY of the filled rows:     %.2f   (storing the same rows, nothing computed)\n", fl / b
  printf "ratio filled-row COPY / plain COPY:               %.2f   (what the larger rows cost)\n", p / fl
}'
echo "bars whose stored values differ between ml_load_bars and the trigger path: $diff_rows (must be 0)"
[ "$diff_rows" = 0 ] || exit 1
extra=""
[ "$DATA" != "$ROOT/../shared/data" ] && extra+="DATA=$DATA "
[ "$GEN_BARS" != 60000 ] && extra+="GEN_BARS=$GEN_BARS "
echo "reproduce: cd $ROOT && ${extra}REPS=$REPS PORT=$PORT CLUSTER=$CLUSTER bash bench/bulk_load.sh"
