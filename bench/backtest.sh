#!/usr/bin/env bash
# Walk-forward backtests of the six shared symbols (issue 7): the measured results beside the
# baselines, whatever they are, and the time a backtest takes.
#
# Own cluster CLUSTER=bench8 (PORT=54480, database cryptoml, workers off), a fresh extension:
# loads the shared bars (generated ones when ../shared/data is absent), builds horizon-HORIZON
# samples, and runs ml_backtest(symbol, HORIZON, MODEL) for every symbol (or SYMBOLS, a
# comma-separated list) with OPTIONS; prints each run beside its baselines, and the reliability
# table (stated confidence against the hit rate) of every run.
# Usage: bash bench/backtest.sh
#   (HORIZON=15 MODEL=xgboost SYMBOLS= OPTIONS='{"windowSize": 20000, "retrainEvery": 1440}')
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CLUSTER=${CLUSTER:-bench8}
HORIZON=${HORIZON:-15}
MODEL=${MODEL:-xgboost}
SYMBOLS=${SYMBOLS:-}
OPTIONS=${OPTIONS:-'{"windowSize": 20000, "retrainEvery": 1440}'}
export CRYPTOML_PORT=${PORT:-54480} CRYPTOML_DB=cryptoml
was_running=0
bash scripts/cluster.sh status "$CLUSTER" >/dev/null 2>&1 && was_running=1
bash scripts/cluster.sh start "$CLUSTER" >/dev/null
eval "$(bash scripts/cluster.sh env "$CLUSTER")"
trap '[ "$was_running" = 0 ] && bash scripts/cluster.sh stop "$CLUSTER" >/dev/null' EXIT
P=(psql -X -q -v ON_ERROR_STOP=1)
if [ -z "$("${P[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'cryptoml'")" ]; then
  "${P[@]}" -d postgres -c "CREATE DATABASE cryptoml"
fi
# A loaded database at the current version is reused (REUSE=0 reloads).
if [ "${REUSE:-1}" = 1 ] && [ "$("${P[@]}" -Atc "SELECT count(*) FROM pg_extension e WHERE e.extname = 'cryptoml'
      AND e.extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'cryptoml')" 2>/dev/null)" = 1 ] &&
   [ "$("${P[@]}" -Atc "SELECT count(*) > 0 FROM mlTrainingSamples WHERE forecast_horizon = $HORIZON")" = t ]; then
  echo "reusing the loaded database (REUSE=0 reloads)"
  "${P[@]}" -c "TRUNCATE mlBacktestRuns CASCADE"
else
  "${P[@]}" -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS cryptoml CASCADE" -c "CREATE EXTENSION cryptoml CASCADE"
  bash scripts/load.sh "$CLUSTER" >/dev/null
  "${P[@]}" -Atc "SELECT 'samples: ' || ml_build_samples(NULL, $HORIZON)"
fi
"${P[@]}" <<SQL
\timing on
CREATE TEMP TABLE bt AS
  SELECT s.symbol, b.* FROM (SELECT DISTINCT symbol FROM rollingChartData
                              WHERE '$SYMBOLS' = '' OR symbol = ANY (string_to_array('$SYMBOLS', ',')) ORDER BY 1) s,
         LATERAL ml_backtest(s.symbol, $HORIZON, '$MODEL', options => '$OPTIONS') b;
\timing off
SELECT symbol, strategy, trades, round(win_rate::numeric, 3) AS win_rate, round(avg_pnl::numeric, 4) AS avg_pnl,
       round(profit_factor::numeric, 3) AS profit_factor, round(sharpe::numeric, 2) AS sharpe,
       round(max_drawdown_pct::numeric, 2) AS max_dd_pct, round(total_return_pct::numeric, 2) AS total_return_pct,
       predictions, round((rmse / nullif(baseline_rmse, 0))::numeric, 4) AS rmse_vs_zero_change,
       round(directional_accuracy::numeric, 4) AS direction
  FROM bt ORDER BY symbol, strategy;
SELECT r.symbol, r.from_ts, r.to_ts, r.predictions, r.trades,
       (SELECT count(DISTINCT segment) FROM mlBacktestPredictions p WHERE p.run_id = r.run_id) AS models
  FROM mlBacktestRuns r ORDER BY 1;
SELECT r.symbol, c.bucket, c.forecasts, round(c.stated_confidence::numeric, 1) AS stated,
       round((100 * c.observed_hit_rate)::numeric, 1) AS observed, round((100 * c.hit_low95)::numeric, 1) AS low95,
       round((100 * c.hit_high95)::numeric, 1) AS high95
  FROM mlBacktestRuns r, LATERAL ml_backtest_calibration(r.run_id) c ORDER BY 1, 2;
SQL
echo "reproduce: cd $ROOT && HORIZON=$HORIZON MODEL=$MODEL SYMBOLS='$SYMBOLS' OPTIONS='$OPTIONS' bash bench/backtest.sh"
