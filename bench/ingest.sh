#!/usr/bin/env bash
# Ingest throughput of rollingChartData with the C++ indicators trigger, against two baselines loaded
# in the same run, on the same cluster, with the same session settings:
#   cpp      rollingChartData itself: BEFORE ROW + AFTER STATEMENT C++ triggers (indicators,
#            bar validation, per-symbol lock, checkpoints)
#   plain    bench_chart_plain: the same table (LIKE ... INCLUDING DEFAULTS, CONSTRAINTS, INDEXES)
#            without any trigger: the floor, what storing the bars costs
#   plpgsql  bench_chart_plpgsql: the same table plus 7 float8 state columns, with the PL/pgSQL
#            BEFORE ROW trigger of bench/plpgsql_indicators.sql computing the same indicators
# and, with FLOORS=1 (default; needs cc and the server headers), two reference points that split the
# gap between "cpp" and "plain" (C functions compiled into the temporary directory, loaded by path):
#   noop     bench_chart_noop: a C BEFORE ROW trigger that returns the row unchanged. Any BEFORE ROW
#            trigger makes COPY insert row by row instead of in batches (heap_multi_insert)
#   const    bench_chart_const: a C BEFORE ROW trigger that sets the 10 indicator columns to fixed
#            numerics and is_complete (heap_modify_tuple): storing filled rows and checking their
#            CHECK constraints, with no reading, converting or computing
# Each load is one psql session running one \copy ... CSV HEADER per symbol file (COPY FROM STDIN
# protocol), in file order, into a freshly truncated table, after a CHECKPOINT; the wall time of
# the whole session is the load's time. The loads repeat REPS times, the order of the tables
# rotating each repetition; medians are reported. The PL/pgSQL values are then compared with the
# C++ ones (every bar), and CALL ml_recompute_indicators('BTCUSDT') runs REPS times against its
# floor, an UPDATE of the same rows with no trigger firing (session_replication_role = replica),
# each after a VACUUM and a CHECKPOINT; medians are reported.
#
# Data: the six files ../shared/data/binance_*_1m.csv.gz (DATA=dir to change) when present,
# else 6 x GEN_BARS (60000) random-walk bars of the six configured symbols on whole minutes.
# The files are decompressed once before timing starts (gzip is not in the timed path).
#
# Cluster: its own one by default (name CLUSTER=bench, port PORT=54410) so that it never disturbs
# others; database contrib_regression. The cluster is stopped at the end unless KEEP=1 or it was
# already running when the script started. The cluster and its database persist between runs
# (CREATE EXTENSION IF NOT EXISTS): after a change to extension/cryptoml.sql start from scratch with
# CRYPTOML_PORT=54410 bash scripts/cluster.sh destroy bench.
#
# PLPGSQL=0 leaves the PL/pgSQL table out (its loads take about 30x the others': minutes per run).
#
# Usage: REPS=3 bash bench/ingest.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REPS=${REPS:-3}
PORT=${PORT:-54410}
CLUSTER=${CLUSTER:-bench}
KEEP=${KEEP:-0}
FLOORS=${FLOORS:-1}
PLPGSQL=${PLPGSQL:-1}
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
WORK=$(mktemp -d /tmp/cryptoml-ingest.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  # the floor triggers' library lives in $WORK: drop what uses it
  "${PSQL[@]}" -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS bench_chart_noop, bench_chart_const" \
    -c "DROP FUNCTION IF EXISTS bench_noop_trigger(), bench_const_trigger()" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  if [ "$KEEP" != 1 ] && [ "$was_running" = 0 ]; then bash scripts/cluster.sh stop "$CLUSTER" >/dev/null; fi
}
trap cleanup EXIT
# A cluster started before the last `make install` still runs the replaced library.
pm=$(head -1 "$ROOT/.pg/$CLUSTER/data/postmaster.pid" 2>/dev/null || true)
if [ -n "$pm" ] && grep -q 'cryptoml.so (deleted)' "/proc/$pm/maps" 2>/dev/null; then
  echo "ingest: WARNING: cluster $CLUSTER runs a cryptoml.so that has since been reinstalled; restart it to measure the installed one" >&2
fi

if [ -z "$("${PSQL[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'")" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $PGDATABASE"
fi
"${PSQL[@]}" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE"

# ---- data ----
files=()
shopt -s nullglob
src=("$DATA"/binance_*_1m.csv.gz)
shopt -u nullglob
if [ ${#src[@]} -gt 0 ]; then
  data_desc="${#src[@]} files $DATA/binance_*_1m.csv.gz"
  for f in "${src[@]}"; do
    out="$WORK/$(basename "$f" .gz)"
    gzip -dc "$f" >"$out"
    files+=("$out")
  done
else
  data_desc="generated: ${#SYMBOLS[@]} x $GEN_BARS random-walk bars"
  start0=1617321600  # 2021-04-02 00:00:00 UTC: whole minutes, in the past
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
        # rounding to 8 decimals keeps low <= open, close <= high
        printf "%s,%s,%.8f,%.8f,%.8f,%.8f,%.8f\n", sym, strftime("%Y-%m-%dT%H:%M:00Z", t0 + 60 * i, 1), o, h, l, c, 10 * rand()
        p = sprintf("%.8f", c) + 0
      }
    }' >"$out"
    files+=("$out")
    seed=$((seed + 1))
  done
fi
total_rows=0
for f in "${files[@]}"; do total_rows=$((total_rows + $(wc -l <"$f") - 1)); done

# ---- tables ----
"${PSQL[@]}" <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_chart_plain;
CREATE TABLE bench_chart_plain (LIKE rollingChartData INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE SEQUENCE bench_chart_plain_id_seq OWNED BY bench_chart_plain.id;
ALTER TABLE bench_chart_plain ALTER COLUMN id SET DEFAULT nextval('bench_chart_plain_id_seq');
\i bench/plpgsql_indicators.sql
SQL

tables=(rollingchartdata bench_chart_plain)
[ "$PLPGSQL" = 1 ] && tables+=(bench_chart_plpgsql)
if [ "$FLOORS" = 1 ]; then
  cat >"$WORK/floors.c" <<'C'
#include "postgres.h"
#include "fmgr.h"
#include "access/htup_details.h"
#include "commands/trigger.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(bench_noop_trigger);
PG_FUNCTION_INFO_V1(bench_const_trigger);
Datum bench_noop_trigger(PG_FUNCTION_ARGS) { return PointerGetDatum(((TriggerData *) fcinfo->context)->tg_trigtuple); }
static const char *names[11] = {"rsi", "macd", "macd_signal", "macd_hist", "bollinger_upper", "bollinger_middle",
                                "bollinger_lower", "stochastic_k", "stochastic_d", "volatility", "is_complete"};
static const int64 vals[10] = {512345, -11617064413LL, -11538902297LL, -78162115, 5972892983992LL, 5964984200000LL,
                               5957075416008LL, 734567, 651234, 1234};
static const int scales[10] = {4, 8, 8, 8, 8, 8, 8, 4, 4, 6};
static Oid cached = InvalidOid;
static Datum *cv; static bool *cn, *cr;
Datum bench_const_trigger(PG_FUNCTION_ARGS) {
  TriggerData *td = (TriggerData *) fcinfo->context;
  TupleDesc desc = RelationGetDescr(td->tg_relation);
  if (cached != RelationGetRelid(td->tg_relation)) {
    MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
    cv = palloc0(sizeof(Datum) * desc->natts); cn = palloc0(sizeof(bool) * desc->natts); cr = palloc0(sizeof(bool) * desc->natts);
    for (int k = 0; k < 11; k++)
      for (int i = 0; i < desc->natts; i++)
        if (strcmp(NameStr(TupleDescAttr(desc, i)->attname), names[k]) == 0) {
          cv[i] = k < 10 ? NumericGetDatum(int64_div_fast_to_numeric(vals[k], scales[k])) : BoolGetDatum(true);
          cr[i] = true;
        }
    MemoryContextSwitchTo(old);
    cached = RelationGetRelid(td->tg_relation);
  }
  return PointerGetDatum(heap_modify_tuple(td->tg_trigtuple, desc, cv, cn, cr));
}
C
  if cc -O2 -fPIC -shared -I"$(pg_config --includedir-server)" "$WORK/floors.c" -o "$WORK/floors.so" 2>"$WORK/cc.log"; then
    chmod 644 "$WORK/floors.so"
    "${PSQL[@]}" <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_chart_noop, bench_chart_const;
CREATE OR REPLACE FUNCTION bench_noop_trigger() RETURNS trigger AS '$WORK/floors.so', 'bench_noop_trigger' LANGUAGE C;
CREATE OR REPLACE FUNCTION bench_const_trigger() RETURNS trigger AS '$WORK/floors.so', 'bench_const_trigger' LANGUAGE C;
CREATE TABLE bench_chart_noop (LIKE rollingChartData INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE SEQUENCE bench_chart_noop_id_seq OWNED BY bench_chart_noop.id;
ALTER TABLE bench_chart_noop ALTER COLUMN id SET DEFAULT nextval('bench_chart_noop_id_seq');
CREATE TABLE bench_chart_const (LIKE rollingChartData INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE SEQUENCE bench_chart_const_id_seq OWNED BY bench_chart_const.id;
ALTER TABLE bench_chart_const ALTER COLUMN id SET DEFAULT nextval('bench_chart_const_id_seq');
CREATE TRIGGER bench_noop BEFORE INSERT ON bench_chart_noop FOR EACH ROW EXECUTE FUNCTION bench_noop_trigger();
CREATE TRIGGER bench_const BEFORE INSERT ON bench_chart_const FOR EACH ROW EXECUTE FUNCTION bench_const_trigger();
SQL
    tables+=(bench_chart_noop bench_chart_const)
  else
    echo "ingest: cannot compile the floor triggers (FLOORS=0 to skip), see below; going on without them" >&2
    cat "$WORK/cc.log" >&2
    FLOORS=0
  fi
fi

# load TABLE: truncate, checkpoint, then time one session of one \copy per file; prints seconds
load() {
  local table=$1 script="$WORK/load_$1.sql" t0 t1
  "${PSQL[@]}" -c "TRUNCATE $table RESTART IDENTITY" -c "CHECKPOINT"
  : >"$script"
  for f in "${files[@]}"; do echo "\\copy $table ($COLS) FROM '$f' CSV HEADER" >>"$script"; done
  t0=$EPOCHREALTIME
  "${PSQL[@]}" -f "$script" >/dev/null
  t1=$EPOCHREALTIME
  local n
  n=$("${PSQL[@]}" -Atc "SELECT count(*) FROM $table")
  [ "$n" = "$total_rows" ] || { echo "ingest: $table holds $n rows, expected $total_rows" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

nt=${#tables[@]}
declare -A times
for ((r = 0; r < REPS; r++)); do
  for ((i = 0; i < nt; i++)); do
    t=${tables[$(((i + r) % nt))]}
    s=$(load "$t")
    times[$t]="${times[$t]:-} $s"
    echo "rep $((r + 1))/$REPS: $t $s s" >&2
  done
done

# ---- PL/pgSQL values against the C++ ones (every row of every symbol) ----
if [ "$PLPGSQL" = 1 ]; then
echo
echo "PL/pgSQL baseline against the C++ trigger: max |difference| per column, all $total_rows bars"
"${PSQL[@]}" -x -P footer=off <<'SQL'
SELECT count(*) AS bars,
  max(abs(a.rsi - b.rsi)) AS rsi, max(abs(a.macd - b.macd)) AS macd,
  max(abs(a.macd_signal - b.macd_signal)) AS macd_signal, max(abs(a.macd_hist - b.macd_hist)) AS macd_hist,
  max(abs(a.bollinger_upper - b.bollinger_upper)) AS bb_upper, max(abs(a.bollinger_middle - b.bollinger_middle)) AS bb_middle,
  max(abs(a.bollinger_lower - b.bollinger_lower)) AS bb_lower, max(abs(a.stochastic_k - b.stochastic_k)) AS stoch_k,
  max(abs(a.stochastic_d - b.stochastic_d)) AS stoch_d, max(abs(a.volatility - b.volatility)) AS volatility,
  count(*) FILTER (WHERE (a.rsi, a.macd, a.macd_signal, a.macd_hist, a.bollinger_upper, a.bollinger_middle,
                          a.bollinger_lower, a.stochastic_k, a.stochastic_d, a.volatility)
                   IS DISTINCT FROM (b.rsi, b.macd, b.macd_signal, b.macd_hist, b.bollinger_upper, b.bollinger_middle,
                          b.bollinger_lower, b.stochastic_k, b.stochastic_d, b.volatility)) AS bars_differing,
  count(*) FILTER (WHERE (a.rsi IS NULL, a.macd IS NULL, a.macd_signal IS NULL, a.bollinger_upper IS NULL,
                          a.stochastic_k IS NULL, a.stochastic_d IS NULL, a.volatility IS NULL, a.is_complete)
                   IS DISTINCT FROM (b.rsi IS NULL, b.macd IS NULL, b.macd_signal IS NULL, b.bollinger_upper IS NULL,
                          b.stochastic_k IS NULL, b.stochastic_d IS NULL, b.volatility IS NULL, b.is_complete)) AS null_or_complete_differing
FROM rollingChartData a JOIN bench_chart_plpgsql b USING (symbol, timestamp);
SQL
fi

# ---- recompute, and its floor: rewriting the same rows with no trigger firing ----
btc_bars=$("${PSQL[@]}" -Atc "SELECT count(*) FROM rollingChartData WHERE symbol = 'BTCUSDT'")
timed() {  # SQL... -> seconds of the last statement
  "${PSQL[@]}" -c "SET client_min_messages = warning" -c '\timing on' "$@" |
    sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1 | awk '{ printf "%.3f", $1 / 1000 }'
}
rec=() upd=()
for ((r = 0; r < REPS; r++)); do
  "${PSQL[@]}" -c "VACUUM rollingChartData" -c "CHECKPOINT"
  rec+=("$(timed -c "CALL ml_recompute_indicators('BTCUSDT')")")
  "${PSQL[@]}" -c "VACUUM rollingChartData" -c "CHECKPOINT"
  upd+=("$(timed -c "SET session_replication_role = replica" \
    -c "UPDATE rollingChartData SET rsi = rsi WHERE symbol = 'BTCUSDT'")")
done

# ---- report ----
med_cpp=$(printf '%s\n' ${times[rollingchartdata]} | median)
med_plain=$(printf '%s\n' ${times[bench_chart_plain]} | median)
med_pl=$(printf '%s\n' ${times[bench_chart_plpgsql]:-1} | median)
if [ "$FLOORS" = 1 ]; then
  med_noop=$(printf '%s\n' ${times[bench_chart_noop]} | median)
  med_const=$(printf '%s\n' ${times[bench_chart_const]} | median)
fi
export FLOORS PLPGSQL
med_rec=$(printf '%s\n' "${rec[@]}" | median)
med_upd=$(printf '%s\n' "${upd[@]}" | median)
pg=$("${PSQL[@]}" -Atc "SHOW server_version")
echo
echo "data: $data_desc, $total_rows bars; PostgreSQL $pg; $(nproc) cores; $(date -u +%Y-%m-%d)"
echo "median of $REPS loads (table order rotating), seconds of each run in brackets"
awk -v n="$total_rows" -v c="$med_cpp" -v p="$med_plain" -v l="$med_pl" \
    -v rc="${times[rollingchartdata]}" -v rp="${times[bench_chart_plain]}" -v rl="${times[bench_chart_plpgsql]:-}" \
    -v o="${med_noop:-1}" -v k="${med_const:-1}" -v ro="${times[bench_chart_noop]:-}" -v rk="${times[bench_chart_const]:-}" 'BEGIN {
  printf "%-40s %9s %10s   %s\n", "table", "median s", "rows/s", "runs"
  printf "%-40s %9.3f %10.0f   [%s ]\n", "rollingChartData (C++ trigger)", c, n / c, rc
  printf "%-40s %9.3f %10.0f   [%s ]\n", "bench_chart_plain (no trigger)", p, n / p, rp
  if (ENVIRON["PLPGSQL"] == 1) printf "%-40s %9.3f %10.0f   [%s ]\n", "bench_chart_plpgsql (PL/pgSQL)", l, n / l, rl
  if (ENVIRON["FLOORS"] == 1) {
    printf "%-40s %9.3f %10.0f   [%s ]\n", "bench_chart_noop (C no-op trigger)", o, n / o, ro
    printf "%-40s %9.3f %10.0f   [%s ]\n", "bench_chart_const (C constant trigger)", k, n / k, rk
  }
  printf "ratio C++ / no trigger (rows/s):  %.2f   (target >= 0.72 since 0.10.0)\n", p / c
  if (ENVIRON["PLPGSQL"] == 1) printf "ratio C++ / PL/pgSQL  (rows/s):  %.2f   (target >= 3)\n", l / c
  if (ENVIRON["FLOORS"] == 1)
    printf "floors against no trigger (rows/s): C no-op trigger %.2f, C constant trigger %.2f\n", p / o, p / k
}'
awk -v n="$btc_bars" -v s="$med_rec" -v runs="${rec[*]}" -v u="$med_upd" -v uruns="${upd[*]}" 'BEGIN {
  printf "recompute: CALL ml_recompute_indicators('"'"'BTCUSDT'"'"'), %d bars: median %.3f s = %.0f bars/s   [ %s ]\n", n, s, n / s, runs
  printf "  floor:   UPDATE of the same rows, triggers off: median %.3f s = %.0f bars/s   [ %s ]; ratio recompute / floor (bars/s) %.2f\n", u, n / u, uruns, u / s
}'
extra=""
[ "$DATA" != "$ROOT/../shared/data" ] && extra+="DATA=$DATA "
[ "$GEN_BARS" != 60000 ] && extra+="GEN_BARS=$GEN_BARS "
[ "$PLPGSQL" != 1 ] && extra+="PLPGSQL=$PLPGSQL "
echo "reproduce: cd $ROOT && ${extra}REPS=$REPS PORT=$PORT CLUSTER=$CLUSTER FLOORS=$FLOORS bash bench/ingest.sh"
