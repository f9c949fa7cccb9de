#!/usr/bin/env bash
# Every test: C++ unit tests (ctest), pg_regress (make installcheck) and pgTAP (pg_prove),
# against a throwaway cluster started and stopped here. Fails if any backend crashed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=$(nproc 2>/dev/null || echo 2)

bash scripts/deps.sh

echo "== C++ unit tests (ctest)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS" >/dev/null
(cd build && ctest --output-on-failure -j"$JOBS")

echo "== build and install the extension"
make -s -j"$JOBS" >/dev/null
make -s install >/dev/null

echo "== throwaway cluster"
bash scripts/cluster.sh destroy test >/dev/null 2>&1 || true
bash scripts/cluster.sh start test
eval "$(bash scripts/cluster.sh env test)"
cleanup() { bash scripts/cluster.sh stop test >/dev/null 2>&1 || true; }
trap cleanup EXIT

status=0
echo "== pg_regress (make installcheck)"
if ! make -s installcheck; then
  status=1
  [ -f regression.diffs ] && head -200 regression.diffs
fi

echo "== pgTAP (pg_prove)"
psql -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE" -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null
pg_prove --ext .sql -r test/pgtap || status=1

echo "== server log check"
bash scripts/cluster.sh stop test
trap - EXIT
if grep -E "terminated by signal|server process .* was terminated|PANIC" "$CRYPTOML_SERVER_LOG"; then
  echo "FAIL: a backend crashed (see $CRYPTOML_SERVER_LOG)" >&2
  status=1
fi
if [ $status -eq 0 ]; then echo "ALL TESTS PASSED"; else echo "TESTS FAILED" >&2; fi
exit $status
