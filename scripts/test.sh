#!/usr/bin/env bash
# Every test: C++ unit tests (ctest), pg_regress (make installcheck) and pgTAP (pg_prove),
# against a throwaway cluster started and stopped here. Fails if any backend crashed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
rm -f "$ROOT/.pg/expected_kills"
cd "$ROOT"
JOBS=$(nproc 2>/dev/null || echo 2)

bash scripts/deps.sh

echo "== build and install the extension"
make -s -j"$JOBS" >/dev/null
make -s install >/dev/null

# The C++ unit tests build and run beside the database tests, which mostly wait on servers. They
# link the core objects the PGXS build just made for cryptoml.so (-DCRYPTOML_PGXS_CORE: the
# objects the extension ships, not a second build of them), and the test files themselves are
# compiled without optimization: on 2 cores this is 2.5 CPU minutes instead of about 10. The
# result is printed at the end. (`make unit` builds everything optimized, in build/.)
echo "== C++ unit tests (ctest): building and running in the background"
UNIT_LOG="$ROOT/.pg/unit_tests.log"
mkdir -p "$ROOT/.pg"; rm -f "$UNIT_LOG.rc"
( { cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DCRYPTOML_PGXS_CORE=ON >/dev/null &&
    cmake --build build-test -j"$JOBS" --target cryptoml_unit >/dev/null &&
    cd build-test && ctest --output-on-failure -j"$JOBS"; } >"$UNIT_LOG" 2>&1; echo $? >"$UNIT_LOG.rc" ) &
UNIT_PID=$!

echo "== throwaway cluster"
bash scripts/cluster.sh destroy test >/dev/null 2>&1 || true
bash scripts/cluster.sh start test
eval "$(bash scripts/cluster.sh env test)"
cleanup() {
  bash scripts/cluster.sh stop test >/dev/null 2>&1 || true
  CRYPTOML_PORT=${CRYPTOML_RECOVERY_PORT:-54331} bash scripts/cluster.sh stop recovery >/dev/null 2>&1 || true
}
trap cleanup EXIT

status=0
# The shell tests that run their own clusters (own ports) run beside everything else: they mostly
# wait on servers (start, archive, restore), so on 2 cores this saves minutes, not CPU.
OWN_TESTS="test/tap/pitr.sh test/tap/dump_restore.sh test/tap/model_bundle.sh test/tap/scaleout.sh"
OWN_LOG="$ROOT/.pg/own_cluster_tests.log"
( prove --timer -e bash $OWN_TESTS >"$OWN_LOG" 2>&1; echo $? >"$OWN_LOG.rc" ) &
OWN_PID=$!
# recovery.sh kills backends with kill -9 (the server reinitializes and ends every session): on a
# cluster of its own it runs beside the rest instead of after them (it mostly waits: 2.5 minutes).
REC_LOG="$ROOT/.pg/recovery_test.log"
REC_ENV="CRYPTOML_PORT=${CRYPTOML_RECOVERY_PORT:-54331}"
rm -f "$REC_LOG.rc"
(
  set +e
  env $REC_ENV bash scripts/cluster.sh destroy recovery >/dev/null 2>&1
  env $REC_ENV bash scripts/cluster.sh start recovery >/dev/null &&
    eval "$(env $REC_ENV bash scripts/cluster.sh env recovery)" &&
    psql -X -q -d postgres -c "CREATE DATABASE contrib_regression" &&
    psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "CREATE EXTENSION cryptoml CASCADE" &&
    prove --timer -e bash test/tap/recovery.sh
  echo $? >"$REC_LOG.rc"
  env $REC_ENV bash scripts/cluster.sh stop recovery >/dev/null 2>&1
) >"$REC_LOG" 2>&1 &
REC_PID=$!
echo "== pg_regress (make installcheck)"
if ! make -s installcheck; then
  status=1
  [ -f regression.diffs ] && head -200 regression.diffs
fi

echo "== pgTAP (pg_prove)"
psql -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE" -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null
pg_prove --timer --ext .sql -r test/pgtap || status=1

echo "== shell tests on the throwaway cluster"
CLUSTER=test prove --timer -e bash $(ls test/tap/*.sh | grep -vxF -f <(tr ' ' '\n' <<<"$OWN_TESTS test/tap/recovery.sh")) || status=1

echo "== shell tests with their own clusters (ran beside the tests above)"
wait $OWN_PID || true
cat "$OWN_LOG"
[ "$(cat "$OWN_LOG.rc" 2>/dev/null)" = 0 ] || status=1
echo "== recovery.sh on its own cluster (ran beside the tests above)"
wait $REC_PID || true
cat "$REC_LOG"
[ "$(cat "$REC_LOG.rc" 2>/dev/null)" = 0 ] || status=1

echo "== C++ unit tests (ctest, ran beside the tests above)"
wait $UNIT_PID || true
cat "$UNIT_LOG"
[ "$(cat "$UNIT_LOG.rc" 2>/dev/null)" = 0 ] || { echo "FAIL: C++ unit tests" >&2; status=1; }

echo "== without shared_preload_libraries (second throwaway cluster)"
bash scripts/cluster.sh stop test
NP_ENV="CRYPTOML_PORT=${CRYPTOML_NOPRELOAD_PORT:-54330} CRYPTOML_PRELOAD=0"
env $NP_ENV bash scripts/cluster.sh destroy nopreload >/dev/null 2>&1 || true
env $NP_ENV bash scripts/cluster.sh start nopreload
TEST_LOG=$CRYPTOML_SERVER_LOG
eval "$(env $NP_ENV bash scripts/cluster.sh env nopreload)"
trap 'env $NP_ENV bash scripts/cluster.sh stop nopreload >/dev/null 2>&1 || true' EXIT
createdb contrib_regression && echo "database contrib_regression created"
psql -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "CREATE EXTENSION cryptoml CASCADE" -c "CREATE EXTENSION pgtap"
pg_prove --ext .sql test/nopreload || status=1
prove -e bash test/nopreload/*.sh || status=1
env $NP_ENV bash scripts/cluster.sh stop nopreload
trap - EXIT

echo "== server log check"
# test/tap/workers.sh and recovery.sh kill backends on purpose and list their pids in .pg/expected_kills
kills=$(cat "$ROOT/.pg/expected_kills" 2>/dev/null | sed 's/.*/(PID &)/' | paste -sd'|' -)
for log in "$TEST_LOG" "$CRYPTOML_SERVER_LOG" "$ROOT/.pg/recovery/server.log"; do
  if grep -E "terminated by signal|server process .* was terminated|PANIC" "$log" |
     { if [ -n "$kills" ]; then grep -vF "$(tr '|' '\n' <<<"$kills")"; else cat; fi; } | grep .; then
    echo "FAIL: a backend crashed (see $log)" >&2
    status=1
  fi
  # a FATAL of cryptoml's own processes, other than being stopped (the launcher once died at every
  # server start reading pg_database through an index it could not open)
  if grep -E "cryptoml [a-z]+ FATAL" "$log" | grep -v "FATAL:  \(57P01: \)\?terminating" | grep .; then
    echo "FAIL: a cryptoml worker died (see $log)" >&2
    status=1
  fi
done
if [ $status -eq 0 ]; then echo "ALL TESTS PASSED"; else echo "TESTS FAILED" >&2; fi
exit $status
