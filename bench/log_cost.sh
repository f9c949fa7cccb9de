#!/usr/bin/env bash
# Cost of one ml_log() call, against baselines measured in the same run on the same cluster:
#   - a plain INSERT INTO systemLogs (what a transactional logger would cost)
#   - SELECT 1 (the round trip floor, for the pgbench figures)
# Two shapes: one call per statement (pgbench, one client) and 100k calls inside one statement
# (the bulk path: what a loop that logs per row pays).
# Usage: bash bench/log_cost.sh   (uses the demo cluster; run `make demo` first)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/cluster.sh env demo)"
DUR=${DUR:-10}
N=${N:-100000}
tmp=$(mktemp -d)
echo "SELECT 1;" > "$tmp/floor.sql"
echo "SELECT ml_log('info', 'bench', 'pgbench', 'one log call per statement');" > "$tmp/mllog.sql"
echo "INSERT INTO systemLogs (level, category, subcategory, message) VALUES ('info', 'bench', 'pgbench', 'one plain insert per statement');" > "$tmp/insert.sql"
tps() { pgbench -n -c 1 -T "$DUR" -f "$1" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
floor=$(tps "$tmp/floor.sql"); mllog=$(tps "$tmp/mllog.sql"); ins=$(tps "$tmp/insert.sql")
psql -qAtc "SELECT ml_log_flush(600000)" >/dev/null
bulk() { psql -qAt -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; }
t_log=$(bulk "SELECT count(ml_log('info', 'bench', 'bulk', 'bulk log ' || g)) FROM generate_series(1, $N) g")
t_flush=$(bulk "SELECT ml_log_flush(600000)")
t_ins=$(bulk "INSERT INTO systemLogs (level, category, subcategory, message) SELECT 'info', 'bench', 'bulk', 'bulk insert ' || g FROM generate_series(1, $N) g")
t_floor=$(bulk "SELECT count(length('bulk log ' || g)) FROM generate_series(1, $N) g")
psql -qc "DELETE FROM systemLogs WHERE category = 'bench'"
rm -rf "$tmp"
awk -v f="$floor" -v l="$mllog" -v i="$ins" -v tl="$t_log" -v tf="$t_flush" -v ti="$t_ins" -v t0="$t_floor" -v n="$N" 'BEGIN {
  printf "pgbench, 1 client, %s s each:\n", ENVIRON["DUR"] ? ENVIRON["DUR"] : 10
  printf "  SELECT 1                      %8.0f tps  %6.1f us/stmt\n", f, 1e6/f
  printf "  SELECT ml_log(...)            %8.0f tps  %6.1f us/stmt\n", l, 1e6/l
  printf "  INSERT INTO systemLogs        %8.0f tps  %6.1f us/stmt\n", i, 1e6/i
  printf "  ml_log statement / INSERT statement latency: %.2fx\n", (1e6/l)/(1e6/i)
  printf "bulk, %d calls in one statement:\n", n
  printf "  ml_log per call (caller pays) %6.2f us  (statement %.0f ms, loop floor %.0f ms)\n", (tl-t0)*1000/n, tl, t0
  printf "  logger drain after the call   %6.0f ms (in the background worker)\n", tf
  printf "  INSERT ... SELECT per row     %6.2f us\n", (ti-t0)*1000/n
  printf "  ml_log per call / INSERT per row: %.2fx\n", (tl-t0)/(ti-t0)
}'
