#!/usr/bin/env bash
# Volatility model figures (issue 17): walk-forward QLIKE of the HAR volatility model
# (ml_volatility_evaluate: refit every day on an expanding window, the first after 14 days, each
# prediction only from bars before it) against the trailing realized volatility of the last h
# minutes (ratio = model / trailing; the target is <= 0.90) and against the formula
# sigma60 * sqrt(h), with the RMSE of log volatility, at h = 15 and 60 on every loaded symbol.
#
# Own cluster CLUSTER=volbench (PORT=54491, DB=cryptoml, workers off). Loads the shared bars
# (../shared/data; generated random-walk bars when absent, which say nothing about real markets)
# once; REUSE=0 reloads.
# Usage: bash bench/volatility.sh   (HORIZONS='15 60' OPTIONS='{}' SYMBOLS=BTCUSDT,ETHUSDT)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CLUSTER=${CLUSTER:-volbench}
HORIZONS=${HORIZONS:-15 60}
OPTIONS=${OPTIONS:-'{}'}
SYMBOLS=${SYMBOLS:-}
export CRYPTOML_PORT=${PORT:-54491} CRYPTOML_DB=${DB:-cryptoml}
was_running=0
bash scripts/cluster.sh status "$CLUSTER" >/dev/null 2>&1 && was_running=1
bash scripts/cluster.sh start "$CLUSTER" >/dev/null
eval "$(bash scripts/cluster.sh env "$CLUSTER")"
trap '[ "$was_running" = 0 ] && bash scripts/cluster.sh stop "$CLUSTER" >/dev/null' EXIT
P=(psql -X -q -v ON_ERROR_STOP=1)
if [ -z "$("${P[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$CRYPTOML_DB'")" ]; then
  "${P[@]}" -d postgres -c "CREATE DATABASE $CRYPTOML_DB"
fi
version=$("${P[@]}" -Atc "SELECT default_version FROM pg_available_extensions WHERE name = 'cryptoml'")
if [ "${REUSE:-1}" = 1 ] && [ "$("${P[@]}" -Atc "SELECT count(*) FROM pg_extension e WHERE e.extname = 'cryptoml' AND e.extversion = '$version'" 2>/dev/null)" = 1 ] \
   && [ "$("${P[@]}" -Atc "SELECT count(*) > 0 FROM rollingChartData")" = t ]; then
  echo "reusing the loaded database (REUSE=0 reloads)"
else
  "${P[@]}" -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS cryptoml CASCADE" -c "CREATE EXTENSION cryptoml CASCADE"
  bash scripts/load.sh "$CLUSTER"
fi
[ -d "$ROOT/../shared/data" ] || echo "NOTE: ../shared/data is absent: these are generated random-walk bars"
hs=$(echo "$HORIZONS" | tr ' ' ',')
"${P[@]}" -P pager=off -P footer=off <<SQL
\\echo cryptoml $version: walk-forward of the HAR volatility model, options $OPTIONS
\\timing on
SELECT s.symbol, h AS horizon, e.n, e.refits,
       round(e.qlike::numeric, 4) AS qlike, round(e.qlike_baseline::numeric, 4) AS qlike_trailing,
       round(e.qlike_formula::numeric, 4) AS qlike_formula,
       round(e.ratio::numeric, 3) AS ratio_trailing, round((e.qlike / e.qlike_formula)::numeric, 3) AS ratio_formula,
       round(e.rmse_log::numeric, 4) AS rmse_log, round(e.rmse_log_baseline::numeric, 4) AS rmse_log_trailing,
       round(e.rmse_log_formula::numeric, 4) AS rmse_log_formula
  FROM (SELECT DISTINCT symbol FROM rollingChartData
         WHERE '$SYMBOLS' = '' OR symbol = ANY (string_to_array('$SYMBOLS', ','))) s,
       unnest(ARRAY[$hs]) h,
       LATERAL ml_volatility_evaluate(s.symbol, h, '$OPTIONS') e
 ORDER BY h, s.symbol;
SQL
