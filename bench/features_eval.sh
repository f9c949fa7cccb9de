#!/usr/bin/env bash
# Feature set evaluation (issue 17): walk-forward backtests (bench/honesty.sh, xgboost, the same
# window, refits and horizons for every variant) of feature set 1, feature set 2, and set 2
# without each of its groups (excludeGroups: the group's columns are NaN for training and
# prediction). Per variant: per symbol and horizon the honesty table, then pooled over the
# symbols the directional accuracy with its 95 % Wilson interval and served RMSE / zero-change.
# Nothing here is tuned: the options are the fixed ones below for every variant.
# Usage: bash bench/features_eval.sh   (HORIZONS='5 15 60' SYMBOLS= WINDOW=20000 RETRAIN=10080
#        GROUPS='multi_timeframe cross_market volatility seasonality')
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WINDOW=${WINDOW:-20000}
RETRAIN=${RETRAIN:-10080}
GROUPS=${GROUPS:-multi_timeframe cross_market volatility seasonality}
base="\"windowSize\": $WINDOW, \"retrainEvery\": $RETRAIN"
run() { VARIANT=$1 OPTIONS="{$base$2}" MODEL=xgboost bash "$ROOT/bench/honesty.sh"; }
run set1 ', "featureSet": 1'
run set2 ', "featureSet": 2'
for g in $GROUPS; do
  run "set2-no-$g" ", \"featureSet\": 2, \"excludeGroups\": [\"$g\"]"
done
