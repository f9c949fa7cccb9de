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
# WARM_WINDOW=N adds a third run, `window`: warm-started with option warmWindow N (a warm network's
# epochs over only its newest N training sequences); MODES (a list of cold, warm, window; default
# "cold warm", plus window with WARM_WINDOW) chooses the runs; mode/T runs it with
# cryptoml.backtest_threads T (e.g. "warm/1 window/2"; else the setting's default). `warm` is
# 0.10.0's warm start (warmWindow 0; on 1 thread: warm/1). Per symbol and pooled: each run's RMSE
# against the first cold and the first warm mode listed, and its seconds per model against that
# warm mode's.
# Usage: bash bench/backtest.sh
#   (HORIZON=15 MODEL=xgboost SYMBOLS= OPTIONS='{"windowSize": 20000, "retrainEvery": 1440}' FROM= TO= COMPARE_WARM=0
#    WARM_WINDOW= MODES=)
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
WARM_WINDOW=${WARM_WINDOW:-}
MODES=${MODES:-cold warm${WARM_WINDOW:+ window}}
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
  # the modes one after the other per symbol, in the same session
  MODE_LIST="'$(echo "$MODES" | sed "s/[ ,]\+/','/g")'"
  # ratios are against the first cold and the first warm mode listed (0.10.0's warm start)
  COLD_REF=$(echo "$MODES" | tr ' ,' '\n\n' | grep -m1 '^cold' || true)
  WARM_REF=$(echo "$MODES" | tr ' ,' '\n\n' | grep -m1 '^warm' || true)
  DEFAULT_THREADS=$("${P[@]}" -Atc "SELECT current_setting('cryptoml.backtest_threads')")
  "${P[@]}" <<SQL
CREATE TEMP TABLE cmp (symbol text, mode text, seconds float8, models bigint, rmse float8, baseline_rmse float8, run_id text, n bigint,
                       served_rmse float8);
DO \$\$
DECLARE
  s text;
  m text;
  t0 timestamptz;
  r record;
BEGIN
  FOR s IN $SYMS LOOP
    FOREACH m IN ARRAY ARRAY[$MODE_LIST] LOOP
      -- mode/N: on N threads (cryptoml.backtest_threads), else its default
      PERFORM set_config('cryptoml.backtest_threads', coalesce(split_part(m, '/', 2), ''), true) WHERE m LIKE '%/%';
      PERFORM set_config('cryptoml.backtest_threads', '$DEFAULT_THREADS', true) WHERE m NOT LIKE '%/%';
      t0 := clock_timestamp();
      SELECT b.* INTO r FROM ml_backtest(s, $HORIZON, '$MODEL', $PERIOD,
          options => '$OPTIONS'::jsonb || CASE split_part(m, '/', 1) WHEN 'cold' THEN '{"warmStart": false}'::jsonb
                                                WHEN 'warm' THEN '{"warmStart": true, "warmWindow": 0}'::jsonb
                                                WHEN 'window' THEN jsonb_build_object('warmStart', true, 'warmWindow', ${WARM_WINDOW:-0}) END) b
       WHERE b.strategy = 'backtest';
      -- the raw model output's RMSE (the served change is 0 while no skill is shown) and zero change's, on the same rows
      INSERT INTO cmp SELECT s, m, extract(epoch FROM clock_timestamp() - t0), count(DISTINCT p.segment),
             sqrt(avg((p.raw_change - p.actual_change) ^ 2)), sqrt(avg(p.actual_change ^ 2)), r.run_id, count(*), r.rmse
        FROM mlBacktestPredictions p WHERE p.run_id = r.run_id AND p.raw_change IS NOT NULL;
    END LOOP;
  END LOOP;
END
\$\$;
-- per symbol and mode; ratios against the same symbol's cold and warm (0.10.0) runs of this session
SELECT x.symbol, x.mode, round(x.rmse::numeric, 5) AS raw_rmse, round(x.baseline_rmse::numeric, 5) AS zero_change_rmse,
       round(x.served_rmse::numeric, 5) AS served_rmse,
       round((x.rmse / nullif(x.baseline_rmse, 0))::numeric, 4) AS vs_zero,
       round((x.rmse / nullif(c.rmse, 0))::numeric, 4) AS vs_cold, round((x.rmse / nullif(w.rmse, 0))::numeric, 4) AS vs_warm,
       round((x.seconds / nullif(x.models, 0))::numeric, 2) AS s_per_model,
       round(((x.seconds / nullif(x.models, 0)) / nullif(w.seconds / nullif(w.models, 0), 0))::numeric, 3) AS time_vs_warm,
       x.models, x.n AS predictions
  FROM cmp x LEFT JOIN cmp c ON c.symbol = x.symbol AND c.mode = '$COLD_REF' LEFT JOIN cmp w ON w.symbol = x.symbol AND w.mode = '$WARM_REF'
 ORDER BY 1, array_position(ARRAY[$MODE_LIST], x.mode);
-- pooled over every prediction of every symbol (each symbol's RMSE weighed by its predictions)
WITH p AS (SELECT mode, sqrt(sum(rmse ^ 2 * n) / sum(n)) AS rmse, sqrt(sum(baseline_rmse ^ 2 * n) / sum(n)) AS zero_change,
                  sum(seconds) / sum(models) AS s_per_model, sum(n) AS predictions, sum(models) AS models FROM cmp GROUP BY mode)
SELECT p.mode, round(p.rmse::numeric, 5) AS raw_rmse_all, round(p.zero_change::numeric, 5) AS zero_change_rmse_all,
       round((p.rmse / nullif(c.rmse, 0))::numeric, 4) AS vs_cold, round((p.rmse / nullif(w.rmse, 0))::numeric, 4) AS vs_warm,
       round(p.s_per_model::numeric, 2) AS s_per_model, round((p.s_per_model / nullif(w.s_per_model, 0))::numeric, 3) AS time_vs_warm,
       p.models, p.predictions
  FROM p LEFT JOIN p c ON c.mode = '$COLD_REF' LEFT JOIN p w ON w.mode = '$WARM_REF' ORDER BY array_position(ARRAY[$MODE_LIST], p.mode);
SQL
  echo "reproduce: cd $ROOT && COMPARE_WARM=1 MODES='$MODES' WARM_WINDOW='$WARM_WINDOW' HORIZON=$HORIZON MODEL=$MODEL SYMBOLS='$SYMBOLS' FROM='$FROM' TO='$TO' OPTIONS='$OPTIONS' bash bench/backtest.sh"
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
