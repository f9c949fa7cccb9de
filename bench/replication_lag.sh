#!/usr/bin/env bash
# Replication lag of a leader's bars on a router + 3 nodes (scripts/scaleout.sh, own ports): a bar
# committed on the leader's owner until it is visible on each other node (bench/replication_lag.py).
#   bash bench/replication_lag.sh [N=500]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${1:-500}
export SCALEOUT_PREFIX=${SCALEOUT_PREFIX:-lag} SCALEOUT_BASE_PORT=${SCALEOUT_BASE_PORT:-54400}
bash scripts/scaleout.sh setup >/dev/null
trap 'bash scripts/scaleout.sh stop all >/dev/null 2>&1 || true' EXIT
r() { bash scripts/scaleout.sh psql router -qAt -v ON_ERROR_STOP=1 "$@"; }
leader=$(r -c "SELECT ml_config_get('features.crossMarketSymbols') ->> 0")
owner=$(r -c "SELECT p.node FROM cryptoml_router.symbol_map m JOIN cryptoml_router.partitions p USING (partition) WHERE m.symbol = '$leader'")
r -c "SELECT ml_insert_bars('$leader', '[{\"timestamp\": \"2026-01-01 00:00\", \"open\": 100, \"high\": 100, \"low\": 100, \"close\": 100, \"volume\": 1}]')" >/dev/null
echo "leader $leader, owner $owner; $N bars, each committed on the owner, then polled on the replica"
for nd in node1 node2 node3; do
  [ "$nd" = "$owner" ] && continue
  printf '%s -> %s: ' "$owner" "$nd"
  /usr/bin/python3 bench/replication_lag.py "$(bash scripts/scaleout.sh conninfo "$owner")" "$(bash scripts/scaleout.sh conninfo "$nd")" "$leader" "$N"
done
echo "reproduce: cd $ROOT && bash bench/replication_lag.sh $N"
