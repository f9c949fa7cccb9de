#!/usr/bin/env bash
# Walk-forward backtests of the six shared symbols (issue 7): the measured results beside the
# baselines, whatever they are, and the time a backtest takes.
#
# Own cluster CLUSTER=bench8 (PORT=54480, database cryptoml, workers off), a fresh extension:
# loads the shared bars (generated ones when ../shared/data is absent), builds horizon-HORIZON
# samples, and runs ml_backtest(symbol, HORIZON, MODEL) for every symbol (or SYMBOLS, a
# comma-separated list) with OPTIONS; prints each run beside its baselines, and the reliability
# table (stated confidence against the hit rate) of every run.
# Prints the seconds per model (the ml_backtest calls' time over the segments that trained one).
# FROM/TO (timestamps) restrict the period (default: ml_backtest's own).
#
# COMPARE_WARM=1 (lstm or ensemble, 0.10.0): runs every symbol twice in the same session, cold
# (warmStart false) and warm-started (warmStart true, OPTIONS' warmMaxEpochs/warmPatience or the
# defaults), and prints per symbol the out-of-time RMSE of both, the zero-change baseline's, and the
# seconds per model of both (docs/benchmarks.md, "Warm-started LSTM backtests at 0.10.0").
# Usage: bash bench/backtest.sh
#   (HORIZON=15 MODEL=xgboost SYMBOLS= OPTIONS='{"windowSize": 20000, "retrainEvery": 1440}' FROM= TO= COMPARE_WARM=0)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CLUSTER=${CLUSTER:-bench8}
HORIZON=${HORIZON:-15}
MODEL=${MODEL:-xgboost}
SYMBOLS=${SYMBOLS:-}
OPTIONS=${OPTIONS:-'{"windowSize": 20000, "retrainEvery": 1440}'}
FROM=${FROM:-}
TO=${TO:-}
COMPARE_WARM=${COMPARE_WARM:-0}
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
PERIOD="\"from\" => nullif('$FROM', '')::timestamp, \"to\" => nullif('$TO', '')::timestamp"
SYMS="SELECT DISTINCT symbol FROM rollingChartData WHERE '$SYMBOLS' = '' OR symbol = ANY (string_to_array('$SYMBOLS', ',')) ORDER BY 1"
if [ "$COMPARE_WARM" = 1 ]; then
  # cold and warm, one symbol after the other, in the same session
  "${P[@]}" <<SQL
CREATE TEMP TABLE cmp (symbol text, mode text, seconds float8, models bigint, rmse float8, baseline_rmse float8, run_id text);
DO \$\$
DECLARE
  s text;
  m text;
  t0 timestamptz;
  r record;
BEGIN
  FOR s IN $SYMS LOOP
    FOREACH m IN ARRAY ARRAY['cold', 'warm'] LOOP
      t0 := clock_timestamp();
      SELECT b.* INTO r FROM ml_backtest(s, $HORIZON, '$MODEL', $PERIOD,
          options => '$OPTIONS'::jsonb || jsonb_build_object('warmStart', m = 'warm')) b WHERE b.strategy = 'backtest';
      INSERT INTO cmp SELECT s, m, extract(epoch FROM clock_timestamp() - t0),
             (SELECT count(DISTINCT p.segment) FROM mlBacktestPredictions p WHERE p.run_id = r.run_id), r.rmse, r.baseline_rmse, r.run_id;
    END LOOP;
  END LOOP;
END
\$\$;
SELECT c.symbol, round(c.rmse::numeric, 5) AS cold_rmse, round(w.rmse::numeric, 5) AS warm_rmse,
       round(c.baseline_rmse::numeric, 5) AS zero_change_rmse,
       round((c.rmse / nullif(c.baseline_rmse, 0))::numeric, 4) AS cold_vs_zero, round((w.rmse / nullif(w.baseline_rmse, 0))::numeric, 4) AS warm_vs_zero,
       round((w.rmse / nullif(c.rmse, 0))::numeric, 4) AS warm_vs_cold,
       round((c.seconds / nullif(c.models, 0))::numeric, 2) AS cold_s_per_model, round((w.seconds / nullif(w.models, 0))::numeric, 2) AS warm_s_per_model,
       c.models, (SELECT count(*) FROM mlBacktestPredictions p WHERE p.run_id = c.run_id) AS predictions,
       (SELECT count(*) FROM mlBacktestPredictions p WHERE p.run_id = w.run_id) AS warm_predictions
  FROM cmp c JOIN cmp w ON w.symbol = c.symbol AND w.mode = 'warm' WHERE c.mode = 'cold' ORDER BY 1;
-- pooled over every prediction of every symbol (each symbol's RMSE weighed by its predictions)
SELECT round(sqrt(sum(c.rmse ^ 2 * c.n) / sum(c.n))::numeric, 5) AS cold_rmse_all, round(sqrt(sum(w.rmse ^ 2 * w.n) / sum(w.n))::numeric, 5) AS warm_rmse_all,
       round(sqrt(sum(c.baseline_rmse ^ 2 * c.n) / sum(c.n))::numeric, 5) AS zero_change_rmse_all,
       round((sum(c.seconds) / sum(c.models))::numeric, 2) AS cold_s_per_model, round((sum(w.seconds) / sum(w.models))::numeric, 2) AS warm_s_per_model
  FROM (SELECT x.*, (SELECT count(*) FROM mlBacktestPredictions p WHERE p.run_id = x.run_id) AS n FROM cmp x WHERE mode = 'cold') c
  JOIN (SELECT x.*, (SELECT count(*) FROM mlBacktestPredictions p WHERE p.run_id = x.run_id) AS n FROM cmp x WHERE mode = 'warm') w USING (symbol);
SQL
  echo "reproduce: cd $ROOT && COMPARE_WARM=1 HORIZON=$HORIZON MODEL=$MODEL SYMBOLS='$SYMBOLS' FROM='$FROM' TO='$TO' OPTIONS='$OPTIONS' bash bench/backtest.sh"
  exit 0
fi
"${P[@]}" <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
CREATE TEMP TABLE bt AS
  SELECT s.symbol, b.* FROM ($SYMS) s,
         LATERAL ml_backtest(s.symbol, $HORIZON, '$MODEL', $PERIOD, options => '$OPTIONS') b;
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1) AS seconds,
       (SELECT count(*) FROM (SELECT DISTINCT p.run_id, p.segment FROM mlBacktestPredictions p
                               WHERE p.run_id IN (SELECT run_id FROM bt)) x) AS models,
       round(((extract(epoch FROM clock_timestamp()) - :t0) / nullif((SELECT count(*) FROM (SELECT DISTINCT p.run_id, p.segment
          FROM mlBacktestPredictions p WHERE p.run_id IN (SELECT run_id FROM bt)) x), 0))::numeric, 2) AS seconds_per_model;
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
echo "reproduce: cd $ROOT && HORIZON=$HORIZON MODEL=$MODEL SYMBOLS='$SYMBOLS' FROM='$FROM' TO='$TO' OPTIONS='$OPTIONS' bash bench/backtest.sh"
