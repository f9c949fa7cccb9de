#!/usr/bin/env bash
# Honest-forecast figures (issue 15): walk-forward backtests of every symbol at every horizon of
# HORIZONS with daily retraining, then per symbol and horizon the numbers the stated forecast must
# make true out of sample: expected calibration error (10-point buckets), the largest gap of a
# bucket holding >= 300 predictions, the Brier skill score of the stated confidence against always
# stating 50 %, served RMSE / zero-change RMSE, and the coverage and mean width of the intervals
# (when the version has them). Works on 0.5.0 (no intervals, direction of the served change) and
# on 0.6.0 (direction of raw_change: a served change of 0 keeps the model's lean at 50 %).
#
# Own cluster CLUSTER=honest (PORT=54490, database cryptoml, workers off). Loads the shared bars
# (generated ones when ../shared/data is absent) and builds the samples once; REUSE=0 reloads.
# Usage: bash bench/honesty.sh
#   (HORIZONS='5 15 60' MODEL=xgboost SYMBOLS= OPTIONS='{"windowSize": 20000, "retrainEvery": 1440}'
#    VARIANT=default: a label for OPTIONS, so that several option sets (bench/features_eval.sh:
#    feature set 1, 2 and 2 without each group) are kept and reported side by side)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CLUSTER=${CLUSTER:-honest}
HORIZONS=${HORIZONS-5 15 60}   # set but empty: no backtest (load only)
MODEL=${MODEL:-xgboost}
SYMBOLS=${SYMBOLS:-}
OPTIONS=${OPTIONS:-'{"windowSize": 20000, "retrainEvery": 1440}'}
VARIANT=${VARIANT:-default}
export CRYPTOML_PORT=${PORT:-54490} CRYPTOML_DB=cryptoml
was_running=0
bash scripts/cluster.sh status "$CLUSTER" >/dev/null 2>&1 && was_running=1
bash scripts/cluster.sh start "$CLUSTER" >/dev/null
eval "$(bash scripts/cluster.sh env "$CLUSTER")"
trap '[ "$was_running" = 0 ] && bash scripts/cluster.sh stop "$CLUSTER" >/dev/null' EXIT
P=(psql -X -q -v ON_ERROR_STOP=1)
if [ -z "$("${P[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'cryptoml'")" ]; then
  "${P[@]}" -d postgres -c "CREATE DATABASE cryptoml"
fi
version=$("${P[@]}" -Atc "SELECT default_version FROM pg_available_extensions WHERE name = 'cryptoml'")
if [ "${REUSE:-1}" = 1 ] && [ "$("${P[@]}" -Atc "SELECT count(*) FROM pg_extension e WHERE e.extname = 'cryptoml' AND e.extversion = '$version'" 2>/dev/null)" = 1 ]; then
  echo "reusing the loaded database (REUSE=0 reloads)"
else
  "${P[@]}" -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS cryptoml CASCADE" -c "CREATE EXTENSION cryptoml CASCADE"
  bash scripts/load.sh "$CLUSTER" >/dev/null
fi
"${P[@]}" -c "CREATE TABLE IF NOT EXISTS honesty_variant_runs (version text, variant text, options jsonb, symbol text, horizon int,
                run_id text, seconds float8, PRIMARY KEY (version, variant, symbol, horizon))"
for h in $HORIZONS; do
  if [ "$("${P[@]}" -Atc "SELECT count(*) > 0 FROM mlTrainingSamples WHERE forecast_horizon = $h")" != t ]; then
    "${P[@]}" -Atc "SELECT 'samples h$h: ' || ml_build_samples(NULL, $h)"
  fi
  for sym in $("${P[@]}" -Atc "SELECT DISTINCT symbol FROM rollingChartData WHERE '$SYMBOLS' = '' OR symbol = ANY (string_to_array('$SYMBOLS', ',')) ORDER BY 1"); do
    "${P[@]}" -Atc "SELECT 1 FROM honesty_variant_runs WHERE version = '$version' AND variant = '$VARIANT' AND symbol = '$sym' AND horizon = $h" | grep -q 1 && continue
    t0=$(date +%s.%N)
    id=$("${P[@]}" -Atc "SELECT DISTINCT run_id FROM ml_backtest('$sym', $h, '$MODEL', options => '$OPTIONS')")
    t1=$(date +%s.%N)
    "${P[@]}" -c "INSERT INTO honesty_variant_runs VALUES ('$version', '$VARIANT', '$OPTIONS', '$sym', $h, '$id', $t1 - $t0)"
    echo "$version $VARIANT $sym h$h: $id in $(echo "$t1 - $t0" | bc) s"
  done
done
has_raw=$("${P[@]}" -Atc "SELECT count(*) FROM pg_attribute WHERE attrelid = 'mlbacktestpredictions'::regclass AND attname = 'raw_change'")
if [ "$has_raw" = 1 ]; then
  dir="coalesce(p.raw_change, p.predicted_change)"; cover="avg((p.actual_change BETWEEN p.lower AND p.upper)::int) FILTER (WHERE p.lower IS NOT NULL)"
  width="avg(p.upper - p.lower)"
else
  dir="p.predicted_change"; cover="NULL::float8"; width="NULL::float8"
fi
"${P[@]}" <<SQL
\pset footer off
WITH p AS (
  SELECT r.symbol, r.horizon, p.* , sign($dir) AS d FROM honesty_variant_runs r JOIN mlBacktestPredictions p USING (run_id)
   WHERE r.version = '$version' AND r.variant = '$VARIANT'
     AND ('$SYMBOLS' = '' OR r.symbol = ANY (string_to_array('$SYMBOLS', ',')))),
hits AS (
  SELECT symbol, horizon, confidence / 100 AS c, (d = sign(actual_change))::int AS hit,
         CASE WHEN confidence < 50 THEN 0 WHEN confidence >= 90 THEN 90 ELSE floor(confidence / 10) * 10 END AS b
    FROM p WHERE actual_change <> 0 AND confidence IS NOT NULL),
buckets AS (
  SELECT symbol, horizon, b, count(*) AS n, avg(c) AS c, avg(hit) AS h FROM hits GROUP BY 1, 2, 3),
cal AS (
  SELECT symbol, horizon, 100 * sum(n * abs(c - h)) / sum(n) AS ece,
         100 * max(abs(c - h)) FILTER (WHERE n >= 300) AS gap300
    FROM buckets GROUP BY 1, 2),
brier AS (
  SELECT symbol, horizon, count(*) AS n, avg(hit) AS hit_rate, 1 - avg((c - hit) ^ 2) / 0.25 AS bss,
         avg((c > 0.5)::int) AS stated_over_50 FROM hits GROUP BY 1, 2),
err AS (
  SELECT symbol, horizon, count(*) AS n, sqrt(avg((predicted_change - actual_change) ^ 2)) / nullif(sqrt(avg(actual_change ^ 2)), 0) AS rmse_ratio,
         $cover AS coverage, $width AS width
    FROM p GROUP BY 1, 2)
SELECT e.symbol, e.horizon AS h, e.n AS predictions, round((100 * b.hit_rate)::numeric, 2) AS hit_pct,
       round(c.ece::numeric, 2) AS ece, round(c.gap300::numeric, 2) AS gap300, round(b.bss::numeric, 4) AS bss,
       round((100 * b.stated_over_50)::numeric, 1) AS pct_over_50,
       round(e.rmse_ratio::numeric, 4) AS rmse_ratio, round((100 * e.coverage)::numeric, 1) AS coverage,
       round(e.width::numeric, 4) AS width
  FROM err e JOIN cal c USING (symbol, horizon) JOIN brier b USING (symbol, horizon) ORDER BY 2, 1;
\echo pooled over the symbols: directional accuracy (sign of the raw output, no-change outcomes left out) with its 95 % Wilson interval
WITH p AS (
  SELECT r.horizon, p.*, sign($dir) AS d FROM honesty_variant_runs r JOIN mlBacktestPredictions p USING (run_id)
   WHERE r.version = '$version' AND r.variant = '$VARIANT'
     AND ('$SYMBOLS' = '' OR r.symbol = ANY (string_to_array('$SYMBOLS', ',')))),
hits AS (SELECT horizon, count(*)::float8 AS n, sum((d = sign(actual_change))::int)::float8 AS k FROM p WHERE actual_change <> 0 GROUP BY 1),
err AS (SELECT horizon, sqrt(avg((predicted_change - actual_change) ^ 2)) / nullif(sqrt(avg(actual_change ^ 2)), 0) AS rmse_ratio FROM p GROUP BY 1)
SELECT '$VARIANT' AS variant, h.horizon AS h, h.n::bigint AS outcomes, round((100 * h.k / h.n)::numeric, 2) AS hit_pct,
       round((100 * w.lo)::numeric, 2) AS hit_lo95, round((100 * w.hi)::numeric, 2) AS hit_hi95, round(e.rmse_ratio::numeric, 4) AS rmse_ratio
  FROM hits h JOIN err e USING (horizon),
       LATERAL (SELECT (h.k / h.n + 1.96 ^ 2 / (2 * h.n) - 1.96 * sqrt(h.k / h.n * (1 - h.k / h.n) / h.n + 1.96 ^ 2 / (4 * h.n ^ 2))) / (1 + 1.96 ^ 2 / h.n) AS lo,
                       (h.k / h.n + 1.96 ^ 2 / (2 * h.n) + 1.96 * sqrt(h.k / h.n * (1 - h.k / h.n) / h.n + 1.96 ^ 2 / (4 * h.n ^ 2))) / (1 + 1.96 ^ 2 / h.n) AS hi) w
 ORDER BY 2;
SQL
echo "reproduce: cd $ROOT && HORIZONS='$HORIZONS' MODEL=$MODEL SYMBOLS='$SYMBOLS' VARIANT='$VARIANT' OPTIONS='$OPTIONS' bash bench/honesty.sh"
