#!/usr/bin/env bash
# ml_tune (issue 17) across transactions: a CALL killed mid-tune (pg_terminate_backend) keeps the
# trials it committed, a CALL with the same arguments resumes the run without rerunning them, and
# the finished run equals an uninterrupted one with the same seed; progress is visible while it
# runs; cancel (pg_cancel_backend) and statement_timeout stop it between or inside trials, keeping
# what was committed; ml_train takes the tuned params. TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
echo "1..17"
SYM=TUNEUSDT
tmp=$(mktemp -d)
symbols_before=$(q -c "SELECT ml_config_get('symbols')")
cleanup() {
  q -c "DELETE FROM recoveryState WHERE service_name = 'ml_tuning' AND operation_id IN
          (SELECT 'tune ' || tune_id FROM cryptoml_internal.tune_runs WHERE symbol = '$SYM');
        DELETE FROM cryptoml_internal.tune_runs WHERE symbol = '$SYM'; DELETE FROM mlTrainingBatches WHERE symbol = '$SYM';
        DELETE FROM mlTrainingSamples WHERE symbol = '$SYM'; DELETE FROM rollingChartData WHERE symbol = '$SYM'" >/dev/null 2>&1
  q -c "SELECT ml_config_set('symbols', '$symbols_before'::jsonb)" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
q -c "SELECT ml_stop_workers()" >/dev/null
q -c "SELECT ml_config_set('symbols', ml_config_get('symbols') || '[\"$SYM\"]'::jsonb)" >/dev/null
# 3000 minutes with a learnable signal
q -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT '$SYM', '2022-04-01'::timestamp + make_interval(mins => i), c, c * 1.001, c * 0.999, c, 10
        FROM (SELECT i, round((100 + 2 * sin(i / 40.0) + 0.3 * sin(i / 7.0))::numeric, 8) AS c
                FROM generate_series(0, 2999) i) x" >/dev/null
q -c "ANALYZE rollingChartData" >/dev/null
q -c "SELECT ml_build_samples('$SYM', 5)" >/dev/null

# every round runs (no early stopping): a trial takes a moment, so the kill lands mid-tune
OPTS='{"train": {"windowSize": 3000, "earlyStoppingPatience": 100000}, "space": {"num_rounds": [150, 250], "max_depth": [4, 6]}, "seed": 11}'
BUDGET=8
tune() { q "$@" -c "CALL ml_tune('$SYM', 5, 'xgboost', $BUDGET, '$OPTS')"; }
trials() { q -c "SELECT string_agg(format('%s %s %s %s', trial, params, score, fold_scores), E'\n' ORDER BY trial) FROM ml_tune_trials WHERE tune_id = $1"; }

# the reference: one uninterrupted run
ref=$(tune -c "SET client_min_messages = warning" | sed -n 's/.*"tune_id": \([0-9]*\).*/\1/p')
[ -n "$ref" ] && [ "$(q -c "SELECT status || ' ' || trials_done FROM ml_tune_runs WHERE tune_id = $ref")" = "completed $BUDGET" ]
ok $? "an uninterrupted run completes its $BUDGET trials (tune $ref)"
trials "$ref" >"$tmp/ref"

# the same request, killed after some trials committed
PGAPPNAME=tune_tap q -c "CALL ml_tune('$SYM', 5, 'xgboost', $BUDGET, '$OPTS')" >"$tmp/out1" 2>"$tmp/err1" &
bg=$!
wait_for 60 "SELECT EXISTS (SELECT 1 FROM ml_progress p JOIN pg_stat_activity a ON a.pid = p.pid
                             WHERE a.application_name = 'tune_tap' AND p.operation = 'tune' AND p.symbol = '$SYM'
                               AND p.total = $BUDGET AND p.phase LIKE 'trial % of $BUDGET')"
ok $? "another session sees the tune in ml_progress (operation tune, trial k of $BUDGET)"
wait_for 120 "SELECT coalesce((SELECT trials_done >= 3 FROM ml_tune_runs WHERE symbol = '$SYM' AND status = 'running'), false)"
ok $? "trials commit one by one while it runs"
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tune_tap'" >/dev/null
wait $bg
[ $? -ne 0 ]
ok $? "the killed CALL failed"
run=$(q -c "SELECT tune_id FROM ml_tune_runs WHERE symbol = '$SYM' AND status = 'running'")
kept=$(q -c "SELECT count(*) FROM ml_tune_trials WHERE tune_id = ${run:-0}")
[ -n "$run" ] && [ "$kept" -ge 3 ] && [ "$kept" -lt "$BUDGET" ]
ok $? "the run is left running with the $kept trials it committed"
[ "$(q -c "SELECT checkpoint_type || ' ' || (state_data ->> 'trials_done') FROM recoveryState WHERE service_name = 'ml_tuning'
            AND operation_id = 'tune ${run:-0}' AND origin = 'cryptoml' ORDER BY id DESC LIMIT 1")" = "intermediate $kept" ]
ok $? "its last recoveryState checkpoint is intermediate after $kept trials"
q -c "SELECT string_agg(trial || ' ' || finished_at, ',' ORDER BY trial) FROM ml_tune_trials WHERE tune_id = ${run:-0}" >"$tmp/kept"
[ "$(q -c "SELECT count(*) FROM ml_progress WHERE symbol = '$SYM'")" = 0 ]
ok $? "no progress row is left by the killed backend"

# resume: the same CALL goes on from there
tune -c "SET client_min_messages = notice" >"$tmp/out2" 2>"$tmp/err2"
ok $? "CALL ml_tune again with the same arguments"
grep -q "resuming tune $run of $SYM horizon 5: $kept of $BUDGET trials done" "$tmp/err2"
ok $? "it says it resumes tune $run after $kept trials"
grep -q "\"tune_id\": $run," "$tmp/out2" && grep -q "\"resumed_trials\": $kept}" "$tmp/out2"
ok $? "its result is the resumed run's"
[ -s "$tmp/kept" ] && [ "$(q -c "SELECT string_agg(trial || ' ' || finished_at, ',' ORDER BY trial) FROM ml_tune_trials WHERE tune_id = $run AND trial <= $kept")" = "$(cat "$tmp/kept")" ]
ok $? "the committed trials were kept, not rerun"
trials "$run" >"$tmp/resumed"
[ "$(wc -l <"$tmp/ref")" = "$BUDGET" ] && cmp -s "$tmp/ref" "$tmp/resumed"
ok $? "its trials (params, scores, fold scores) equal the uninterrupted run's"
best=$(q -c "SELECT row(best_trial, best_score, best_params)::text FROM ml_tune_runs WHERE tune_id = $run AND status = 'completed'")
[ -n "$best" ] && [ "$best" = \
  "$(q -c "SELECT row(best_trial, best_score, best_params)::text FROM ml_tune_runs WHERE tune_id = $ref")" ]
ok $? "and so does its best trial"

# cancel inside a trial, then statement_timeout: committed trials stay, the run resumes later
OPTS='{"train": {"windowSize": 3000, "earlyStoppingPatience": 100000}, "space": {"num_rounds": [2000, 3000], "max_depth": [6, 8]}, "seed": 12}'
PGAPPNAME=tune_cancel q -c "CALL ml_tune('$SYM', 5, 'xgboost', $BUDGET, '$OPTS')" >"$tmp/out3" 2>"$tmp/err3" &
bg=$!
wait_for 60 "SELECT EXISTS (SELECT 1 FROM ml_progress p JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.application_name = 'tune_cancel')"
sleep 1
t0=$(date +%s.%N)
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'tune_cancel'" >/dev/null
wait $bg
t1=$(date +%s.%N)
grep -q "canceling statement due to user request" "$tmp/err3"
ok $? "pg_cancel_backend stops it inside a trial"
grep -q "canceling statement due to user request" "$tmp/err3" && awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 3) }'
ok $? "within 3 s ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)"
q -c "SET statement_timeout = '1500ms'" -c "CALL ml_tune('$SYM', 5, 'xgboost', $BUDGET, '$OPTS')" >/dev/null 2>"$tmp/err4"
grep -q "canceling statement due to statement timeout" "$tmp/err4" &&
  [ "$(q -c "SELECT status FROM ml_tune_runs WHERE symbol = '$SYM' AND options @> '{\"seed\": 12}'")" = running ]
ok $? "statement_timeout stops it too; the run stays resumable"

# ml_train takes the tuned params
hp=$(q -c "SELECT (hyperparameters -> 'max_depth')::text || ' ' || (hyperparameters -> 'eta')::text
             FROM ml_train('$SYM', 5, 'xgboost', '{\"params\": \"tuned\", \"windowSize\": 3000}')")
[ -n "$hp" ] && [ "$hp" = "$(q -c "SELECT (best_params -> 'max_depth')::text || ' ' || (best_params -> 'eta')::text FROM ml_tune_runs WHERE tune_id = $run")" ]
ok $? "ml_train(options => {\"params\": \"tuned\"}) trains with the best params ($hp)"
