#!/usr/bin/env bash
# Feature set evaluation (issue 17): walk-forward backtests (bench/honesty.sh, xgboost, the same
# window, refits and horizons for every variant) of feature set 1, feature set 2, and set 2
# without each of its groups (excludeGroups: the group's columns are NaN for training and
# prediction). Per variant: per symbol and horizon the honesty table, then pooled over the
# symbols the directional accuracy with its 95 % Wilson interval and served RMSE / zero-change.
# Nothing here is tuned: the options are the fixed ones below for every variant.
# Usage: bash bench/features_eval.sh   (HORIZONS='5 15 60' ABLATION_HORIZONS='15'
#        ABLATION_SYMBOLS=BTCUSDT,ETHUSDT,ADAUSDT SYMBOLS=
#        WINDOW=10080 RETRAIN=10080 GROUPS='multi_timeframe cross_market volatility seasonality')
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WINDOW=${WINDOW:-10080}
RETRAIN=${RETRAIN:-10080}
GROUPS=${GROUPS:-multi_timeframe cross_market volatility seasonality}
base="\"windowSize\": $WINDOW, \"retrainEvery\": $RETRAIN"
HORIZONS=${HORIZONS:-5 15 60}
ABLATION_HORIZONS=${ABLATION_HORIZONS:-15}
ABLATION_SYMBOLS=${ABLATION_SYMBOLS:-BTCUSDT,ETHUSDT,ADAUSDT}
run() { VARIANT=$1 HORIZONS=$2 OPTIONS="{$base$3}" MODEL=xgboost bash "$ROOT/bench/honesty.sh"; }
# load the bars once (honesty.sh reloads when the extension version changed; REUSE=0 forces it)
VARIANT=load HORIZONS= bash "$ROOT/bench/honesty.sh" >/dev/null
export REUSE=1
run set1 "$HORIZONS" ', "featureSet": 1'
# backtests read the samples of their feature set: build set 2's (features.featureSet 2 in this
# benchmark database only)
(export CRYPTOML_PORT=${PORT:-54490} CRYPTOML_DB=cryptoml
 eval "$(bash "$ROOT/scripts/cluster.sh" env "${CLUSTER:-honest}")"
 psql -X -q -v ON_ERROR_STOP=1 -c "SELECT ml_config_set('features.featureSet', '2')" >/dev/null
 for h in $HORIZONS; do psql -X -Atc "SELECT 'set-2 samples h$h: ' || ml_build_samples(NULL, $h)"; done)
run set2 "$HORIZONS" ', "featureSet": 2'
for g in $GROUPS; do
  SYMBOLS=$ABLATION_SYMBOLS run "set2-no-$g" "$ABLATION_HORIZONS" ", \"featureSet\": 2, \"excludeGroups\": [\"$g\"]"
done
