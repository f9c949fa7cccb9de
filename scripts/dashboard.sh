#!/usr/bin/env bash
# Writes the dashboard of the demo cluster (ml_dashboard(), see docs/monitoring.md) to
# .pg/demo/dashboard.html and prints its path: open it in any browser, it loads nothing.
#   dashboard.sh [SYMBOL]        (make dashboard)
# CLUSTER=<name> reads another cluster of scripts/cluster.sh instead (e.g. CLUSTER=test).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cluster=${CLUSTER:-demo}
eval "$(bash "$ROOT/scripts/cluster.sh" env "$cluster")"
bash "$ROOT/scripts/cluster.sh" status "$cluster" >/dev/null || { echo "dashboard: cluster $cluster is not running (make start)" >&2; exit 1; }
out="$ROOT/.pg/$cluster/dashboard.html"
mkdir -p "$(dirname "$out")"
printf '%s\n' "SELECT ml_dashboard(nullif(:'sym', ''));" |
  psql -X -q -At -v ON_ERROR_STOP=1 -v sym="${1:-}" -f - >"$out.tmp" 2>"$out.err" ||
  { cat "$out.err" >&2; rm -f "$out.tmp" "$out.err"; exit 1; }
rm -f "$out.err"
mv "$out.tmp" "$out"
echo "$out"
