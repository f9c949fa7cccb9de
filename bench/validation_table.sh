#!/usr/bin/env bash
# Validation metrics of XGBoost models for every shared symbol and training horizon, next to the
# zero-change baseline on the same validation rows. Runs on the demo cluster (make demo first):
# builds the missing samples, trains one model per (symbol, horizon) with WINDOW minutes of
# samples (default 20000: about 4000 validation rows) and prints a markdown table.
#   bash bench/validation_table.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
eval "$(bash "$ROOT/scripts/cluster.sh" env demo)"
WINDOW=${WINDOW:-20000}
psql -qAt -c "SELECT ml_build_samples()" >/dev/null
echo "| symbol | horizon | train | valid | rmse | zero-change rmse | rmse / baseline | direction accuracy | promoted |"
echo "|---|---|---|---|---|---|---|---|---|"
psql -qAt -F ' | ' -c "
  SELECT s.symbol, h, b.training_samples, b.validation_samples, b.rmse, b.baseline_rmse,
         round(b.rmse / nullif(b.baseline_rmse, 0), 3), b.accuracy, b.is_production
    FROM (SELECT DISTINCT symbol FROM rollingChartData) s, unnest(ARRAY[5, 15, 30, 60]) AS h,
         LATERAL ml_train(s.symbol, h, options => '{\"windowSize\": $WINDOW}') AS b
   ORDER BY 1, 2" | sed 's/^/| /; s/$/ |/'
