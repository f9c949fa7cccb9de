#!/usr/bin/env bash
# make demo-cluster: the PL/Proxy scale-out on one machine (docs/scale-out.md) in a few minutes. A
# router and three cryptoml nodes (scripts/scaleout.sh; .pg/cluster-router, .pg/cluster-node1..3,
# ports 54350-54353), bars loaded through the router, a model per symbol trained and a forecast
# made through the router, the map and ml_health(), then one symbol moved to another node and
# forecast again. Every command is printed before it runs, so it can be repeated by hand.
# Safe to run again: it keeps the clusters and their data (SCALEOUT_PREFIX=cluster
# bash scripts/scaleout.sh destroy all removes them).
#   BARS (default 20000) bars per symbol: the first BARS of ../shared/data, or generated ones.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export SCALEOUT_PREFIX=${SCALEOUT_PREFIX:-cluster} SCALEOUT_BASE_PORT=${SCALEOUT_BASE_PORT:-54350}
BARS=${BARS:-20000}
HORIZON=15
SYMBOLS="BTCUSDT ETHUSDT SOLUSDT XRPUSDT ADAUSDT HBARUSDT"
DATA=../shared/data
T0=$(date +%s)

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }  # a shell command, printed then run
# sql ROLE STATEMENT: printed as the command that repeats it, then run with psql's table output
sql() {
  local role=$1 stmt=$2
  printf '$ bash scripts/scaleout.sh psql %s -c "%s"\n' "$role" "$(tr -s ' \n' ' ' <<<"$stmt" | sed 's/ $//')"
  bash scripts/scaleout.sh psql "$role" -X -q -v ON_ERROR_STOP=1 -P footer=off -c "SET client_min_messages = error" -c "$stmt"
}
val() { bash scripts/scaleout.sh psql "$1" -X -q -At -v ON_ERROR_STOP=1 -c "$2"; }  # one value, not shown

say "packages (PL/Proxy among them), build and install cryptoml and cryptoml_router"
if [ "${BUILD:-1}" = 1 ]; then  # BUILD=0: use what is installed
  bash scripts/deps.sh
  run make -s -j"$(nproc)" >/dev/null
  run make -s install >/dev/null
fi

say "a router and three nodes on this machine"
printf '$ export SCALEOUT_PREFIX=%s SCALEOUT_BASE_PORT=%s\n' "$SCALEOUT_PREFIX" "$SCALEOUT_BASE_PORT"
run bash scripts/scaleout.sh setup

say "bars through the router: ml_insert_bars(symbol, bars jsonb) runs on the symbol's owner"
echo "(the CSV goes into a temporary table of the router session, then one ml_insert_bars call per 5000 bars)"
for s in $SYMBOLS; do
  owner=$(val router "SELECT node FROM ml_cluster_map() WHERE symbol = '$s'")
  if [ "$(val "$owner" "SELECT count(*) > 0 FROM rollingChartData WHERE symbol = '$s'")" = t ]; then
    echo "$s: already loaded"; continue
  fi
  if [ -f "$DATA/binance_${s}_1m.csv.gz" ]; then
    src="gzip -dc $DATA/binance_${s}_1m.csv.gz | head -n $((BARS + 1))"
  else
    i=0
    for spec in BTCUSDT:58000 ETHUSDT:2000 SOLUSDT:20 XRPUSDT:0.6 ADAUSDT:1.2 HBARUSDT:0.25; do
      i=$((i + 1)); [ "${spec%%:*}" = "$s" ] && src="bash scripts/gen_bars.sh $s $BARS ${spec##*:} $i"
    done
  fi
  load="CREATE TEMP TABLE b (symbol text, timestamp timestamp, open numeric, high numeric, low numeric, close numeric, volume numeric)"
  ins="SELECT sum(ml_insert_bars('$s', c.bars)) AS bars_written FROM (SELECT jsonb_agg(to_jsonb(x) - 'symbol' - 'k' ORDER BY x.timestamp) AS bars
         FROM (SELECT *, (row_number() OVER (ORDER BY timestamp) - 1) / 5000 AS k FROM b) x GROUP BY x.k) c"
  printf '$ %s | bash scripts/scaleout.sh psql router -c "%s" -c "\\copy b FROM STDIN WITH (FORMAT csv, HEADER true)" -c "%s"\n' "$src" "$load" "$(tr -s ' \n' ' ' <<<"$ins")"
  bash -c "$src" | bash scripts/scaleout.sh psql router -X -q -At -v ON_ERROR_STOP=1 -c "$load" \
    -c "\\copy b FROM STDIN WITH (FORMAT csv, HEADER true)" -c "$ins" | sed "s/^/$s: bars written: /"
done
echo "(for bulk loads, COPY straight to the owner instead; the router names it, and refuses while the symbol moves:)"
cat <<'EOF2'
$ gzip -dc ../shared/data/binance_BTCUSDT_1m.csv.gz | psql "$(bash scripts/scaleout.sh psql router -Atc "SELECT ml_copy_target('BTCUSDT')")" \
    -c "\copy rollingChartData(symbol,timestamp,open,high,low,close,volume) FROM STDIN WITH (FORMAT csv, HEADER true)"
EOF2
sql router "SELECT ml_copy_target('BTCUSDT')"
say "each symbol's bars are on its owner only (leaders are replicated read-only to the other nodes)"
for n in node1 node2 node3; do
  sql "$n" "SELECT symbol, count(*) AS bars, min(timestamp) AS first, max(timestamp) AS last FROM rollingChartData GROUP BY symbol ORDER BY symbol"
done

say "training samples on each node (ml_build_samples is not routed: it runs where the bars are), then one xgboost model per symbol trained on its owner through the router"
for n in node1 node2 node3; do
  sql "$n" "SELECT s AS symbol, ml_build_samples(s, $HORIZON) AS samples FROM cryptoml_internal.served_symbols() s ORDER BY 1"
done
sql router "SELECT t.symbol, t.batch_id, t.training_samples AS train, round(t.rmse::numeric, 5) AS rmse,
  round(t.baseline_rmse::numeric, 5) AS baseline_rmse, t.is_production
  FROM unnest(string_to_array('$SYMBOLS', ' ')) s, LATERAL ml_train(s, $HORIZON, 'xgboost', '{\"windowSize\": 10000}') t ORDER BY 1"
echo "(as in make demo: the latest model of each symbol is deployed on its owner even without skill shown, so that a forecast can be shown)"
for n in node1 node2 node3; do
  sql "$n" "SELECT b.symbol, b.batch_id, (ml_deploy(b.batch_id)).is_production AS deployed
    FROM (SELECT DISTINCT ON (symbol) symbol, batch_id, is_production FROM mlTrainingBatches
           WHERE forecast_horizon = $HORIZON AND model_type = 'xgboost' AND symbol IN (SELECT cryptoml_internal.served_symbols())
           ORDER BY symbol, id DESC) b WHERE NOT b.is_production ORDER BY 1"
done

say "forecasts through the router (each on its owner)"
FC="SELECT f.symbol, f.horizon, f.forecast_at, round(f.predicted_change::numeric, 4) AS predicted_pct, round(f.raw_change::numeric, 4) AS raw_pct,
  round(f.confidence::numeric, 1) AS confidence, f.signal, f.model_version, f.cached
  FROM unnest(string_to_array('$SYMBOLS', ' ')) s, LATERAL ml_forecast(s, $HORIZON) f ORDER BY 1"
sql router "$FC"

say "the cluster map and the health of every node, through the router"
sql router "SELECT * FROM ml_cluster_map()"
echo "(ml_health() through the router is the union of the nodes' rows; here one line per scope: the bars are historical, so"
echo " staleness and completeness fail as in make demo; the system rows are each node's own)"
sql router "SELECT scope, count(*) AS checks, count(*) FILTER (WHERE ok) AS ok, string_agg(metric, ', ' ORDER BY metric) FILTER (WHERE NOT ok) AS failing
  FROM ml_health() GROUP BY scope ORDER BY scope"

say "move one symbol to a partition on another node, and forecast again"
MOVE=SOLUSDT
from=$(val router "SELECT node FROM ml_cluster_map() WHERE symbol = '$MOVE'")
read -r to tonode <<<"$(val router "SELECT p, n.name FROM ml_cluster_nodes() n, unnest(n.partitions) p WHERE n.name <> '$from' ORDER BY n.node_no, p LIMIT 1" | tr '|' ' ')"
echo "$MOVE is on $from; partition $to is on $tonode"
BEFORE="SELECT f.symbol, round(f.predicted_change::numeric, 6) AS predicted_pct, round(f.raw_change::numeric, 6) AS raw_pct,
  round(f.confidence::numeric, 2) AS confidence, f.model_version, f.cached FROM ml_forecast('$MOVE', $HORIZON) f"
echo "(configuration set on the router is pushed to every node: the prediction cache off, so that both forecasts are computed)"
sql router "SELECT ml_config_set('inference.predictionCache', 'false')"
sql router "$BEFORE"
sql router "SELECT m->>'from_node' AS from_node, m->>'to_node' AS to_node, m->>'seconds' AS seconds,
  (SELECT string_agg(k || ' ' || v, ', ' ORDER BY k) FROM jsonb_each_text(m->'counts') c(k, v) WHERE v <> '0') AS rows_copied
  FROM ml_move_symbol('$MOVE', $to) m"
sql router "SELECT * FROM ml_cluster_map() WHERE symbol = '$MOVE'"
sql router "$BEFORE"
sql "$tonode" "SELECT symbol, count(*) AS bars FROM rollingChartData WHERE symbol = '$MOVE' GROUP BY symbol"
sql "$from" "SELECT count(*) AS bars_left_on_old_owner FROM rollingChartData WHERE symbol = '$MOVE'"
sql router "SELECT ml_config_reset('inference.predictionCache')"

say "done in $(($(date +%s) - T0)) s; the clusters keep running"
echo "psql on the router:  SCALEOUT_PREFIX=$SCALEOUT_PREFIX SCALEOUT_BASE_PORT=$SCALEOUT_BASE_PORT bash scripts/scaleout.sh psql router"
echo "stop them:           SCALEOUT_PREFIX=$SCALEOUT_PREFIX SCALEOUT_BASE_PORT=$SCALEOUT_BASE_PORT bash scripts/scaleout.sh stop all"
echo "remove them:         SCALEOUT_PREFIX=$SCALEOUT_PREFIX SCALEOUT_BASE_PORT=$SCALEOUT_BASE_PORT bash scripts/scaleout.sh destroy all"
