#!/usr/bin/env bash
# Long jobs killed mid-way (kill -9 of their backend: the server reinitializes) resume on the next
# run and finish with the result of an uninterrupted run:
#   - CALL ml_build_samples_all(): one committed transaction per symbol; the next run goes on
#     from the samples already stored;
#   - CALL ml_retrain_all(): a recoveryState checkpoint commits with each symbol's models; the
#     next call with the same arguments skips those symbols.
# (ml_recompute_indicators' resume is tested in sql/04_recovery.sql and test/pgtap.) TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
wait_up() {  # the server accepts connections again (after the reinitialization)
  for _ in $(seq 1 120); do q -c "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}
# kill -9 the backend running the statement like $1 once the SQL $2 returns t (polled)
kill_when() {
  local pid=""
  for _ in $(seq 1 600); do
    [ "$(q -c "$2" 2>/dev/null)" = t ] && pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '$1%' AND pid <> pg_backend_pid() LIMIT 1")
    [ -n "$pid" ] && break
    sleep 0.05
  done
  [ -n "$pid" ] || return 1
  kill9 "$pid"
  sleep 1
  wait_up
}
SYMS="BTCUSDT ETHUSDT SOLUSDT XRPUSDT ADAUSDT HBARUSDT"
samples_digest() {
  q -c "SELECT md5(string_agg(symbol || forecast_horizon || bar_timestamp || target || feature_vector::text, ',' ORDER BY symbol, forecast_horizon, bar_timestamp)) || ' ' || count(*) FROM mlTrainingSamples"
}
models_digest() {
  q -c "SELECT string_agg(symbol || ':' || forecast_horizon || ':' || round(rmse::numeric, 10) || ':' || round(accuracy::numeric, 10) || ':' || training_samples, ' ' ORDER BY symbol, forecast_horizon) FROM mlTrainingBatches"
}
reset_models() { q -c "DELETE FROM cryptoml_internal.deployments; DELETE FROM cryptoml_internal.ensemble_members; DELETE FROM mlTrainingBatches" >/dev/null; }
echo "1..11"
q -c "SELECT ml_stop_workers()" >/dev/null 2>&1
q -c "TRUNCATE rollingChartData; DELETE FROM mlTrainingSamples; DELETE FROM persistentForecasts" >/dev/null
reset_models
q -c "SELECT ml_config_set('training.forecastHorizons', '[5, 15]')" >/dev/null
i=0
for s in $SYMS; do
  i=$((i + 1))
  q -c "SELECT setseed(0.$i);
        INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
        SELECT '$s', '2021-02-01'::timestamp + make_interval(mins => k),
               round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
        FROM (SELECT k, 100 * exp(sum(r) OVER (ORDER BY k)) AS c
                FROM (SELECT k, (random() - 0.5) * 0.002 AS r FROM generate_series(0, 2999) k) x) y" >/dev/null
done

# --- the sample build ---
q -c "CALL ml_build_samples_all()" >/dev/null
ref_samples=$(samples_digest)
q -c "DELETE FROM mlTrainingSamples" >/dev/null
q -c "CALL ml_build_samples_all()" >/dev/null 2>&1 &
kill_when "CALL ml_build_samples_all" "SELECT count(DISTINCT symbol) BETWEEN 1 AND 5 FROM mlTrainingSamples"
ok $? "a sample build is killed (kill -9) after its first symbol committed"
wait
part=$(q -c "SELECT count(DISTINCT symbol) FROM mlTrainingSamples")
[ "$part" -ge 1 ] && [ "$part" -lt 6 ]
ok $? "the symbols it finished are kept ($part of 6)"
q -c "CALL ml_build_samples_all()" >/dev/null
[ "$(samples_digest)" = "$ref_samples" ]
ok $? "the next run finishes with exactly the samples of an uninterrupted run ($ref_samples)"

# --- the retrain sweep ---
q -c "CALL ml_retrain_all()" >/dev/null
ref_models=$(models_digest)
reset_models
q -c "CALL ml_retrain_all()" >/dev/null 2>&1 &
kill_when "CALL ml_retrain_all" "SELECT count(DISTINCT symbol) BETWEEN 1 AND 5 FROM mlTrainingBatches"
ok $? "a retrain sweep is killed (kill -9) after its first symbol committed"
wait
done_before=$(q -c "SELECT count(DISTINCT symbol) FROM mlTrainingBatches")
[ "$(q -c "SELECT checkpoint_type FROM recoveryState WHERE service_name = 'ml_training' AND operation_id LIKE 'retrain_all xgboost %' ORDER BY created_at DESC, id DESC LIMIT 1")" = intermediate ]
ok $? "its recoveryState checkpoint is intermediate ($done_before symbols done)"
out=$(q -c "CALL ml_retrain_all()" 2>&1)
grep -q "resuming an interrupted sweep" <<<"$out"
ok $? "the next call resumes it"
[ "$(q -c "SELECT count(*) = count(DISTINCT (symbol, forecast_horizon)) AND count(*) = 12 FROM mlTrainingBatches")" = t ]
ok $? "each symbol and horizon is trained exactly once (12 models)"
[ "$(models_digest)" = "$ref_models" ]
ok $? "with the metrics of an uninterrupted sweep"

# --- a walk-forward backtest (a checkpoint per segment, written autonomously) ---
BT="SELECT count(*) FROM ml_backtest('BTCUSDT', 5, options => '{\"windowSize\": 600, \"retrainEvery\": 150, \"learningRate\": 0.01, \"numRounds\": 400}')"
bt_digest() {
  q -c "SELECT md5(string_agg(bar_timestamp || ':' || predicted_change, ',' ORDER BY bar_timestamp)) || ' ' || count(*) FROM mlBacktestPredictions" &&
  q -c "SELECT md5(string_agg(trade_no || signal_type || opened_at || closed_at || pnl_pct, ',' ORDER BY trade_no)) FROM mlBacktestTrades"
}
q -c "DELETE FROM mlBacktestRuns" >/dev/null
q -c "$BT" >/dev/null
ref_bt=$(bt_digest)
q -c "DELETE FROM mlBacktestRuns" >/dev/null
q -c "$BT" >/dev/null 2>&1 &
kill_when "SELECT count(*) FROM ml_backtest" "SELECT count(*) >= 2 FROM recoveryState WHERE service_name = 'backtest' AND checkpoint_type = 'intermediate'
                                              AND id > (SELECT max(id) FROM recoveryState WHERE service_name = 'backtest' AND checkpoint_type = 'success')"
ok $? "a backtest is killed (kill -9) after two segments were checkpointed"
wait
out=$(q -c "$BT" 2>&1)
grep -q "resuming run bt-" <<<"$out"
ok $? "the next call with the same arguments resumes it"
got_bt=$(bt_digest)
[ "$got_bt" = "$ref_bt" ]
ok $? "with exactly the predictions and trades of an uninterrupted run"
[ "$got_bt" = "$ref_bt" ] || { echo "# uninterrupted: $ref_bt"; echo "# resumed: $got_bt"; }

reset_models
q -c "DELETE FROM mlBacktestRuns" >/dev/null
q -c "SELECT ml_config_reset('training.forecastHorizons')" >/dev/null
q -c "TRUNCATE rollingChartData; DELETE FROM mlTrainingSamples" >/dev/null
