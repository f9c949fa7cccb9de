#!/usr/bin/env bash
# Loading the same bars in order, shuffled, from 4 concurrent sessions, or across a server
# restart gives the same rollingChartData. TAP output (run by prove from scripts/test.sh).
# Uses the first BARS bars of three shared symbols (../shared/data), or generated ones.
# Environment: PGHOST/PGPORT/PGUSER/PGDATABASE of the test cluster, CLUSTER (its name for
# scripts/cluster.sh, to restart it).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BARS=${BARS:-10000}
CLUSTER=${CLUSTER:-test}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
copy_file() { q -c "\copy rollingChartData(symbol,timestamp,open,high,low,close,volume) FROM '$1' WITH (FORMAT csv)"; }

# inputs: one header-less CSV per symbol, in time order
DATA="$ROOT/../shared/data"
for spec in BTCUSDT:58000:11 ETHUSDT:2000:12 XRPUSDT:0.6:13; do
  IFS=: read -r sym price seed <<<"$spec"
  if [ -f "$DATA/binance_${sym}_1m.csv.gz" ]; then
    gzip -dc "$DATA/binance_${sym}_1m.csv.gz" | sed -n "2,$((BARS + 1))p" > "$tmp/$sym.csv"
  else
    bash "$ROOT/scripts/gen_bars.sh" "$sym" "$BARS" "$price" "$seed" | tail -n +2 > "$tmp/$sym.csv"
  fi
done
cat "$tmp"/*.csv > "$tmp/all.csv"
total=$(wc -l < "$tmp/all.csv")
source_note=$([ -d "$DATA" ] && echo "shared candles" || echo "generated bars")

COLS="symbol, timestamp, rsi, macd, macd_signal, macd_hist, bollinger_upper, bollinger_middle, bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete"
same_as_reference() {  # rows differing from the in-order reference, both directions
  q -At -c "SELECT (SELECT count(*) FROM (SELECT $COLS FROM eq_reference EXCEPT SELECT $COLS FROM rollingChartData) a)
                 + (SELECT count(*) FROM (SELECT $COLS FROM rollingChartData EXCEPT SELECT $COLS FROM eq_reference) b)"
}
checkpoints_current() {
  q -At -c "SELECT count(*) FILTER (WHERE NOT up_to_date) FROM ml_indicator_status"
}
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2 ($1 differing rows)"; fi; }

echo "1..10"
echo "# $total bars of 3 symbols ($source_note)"
q -c "TRUNCATE rollingChartData" -c "DROP TABLE IF EXISTS eq_reference"
for s in BTCUSDT ETHUSDT XRPUSDT; do copy_file "$tmp/$s.csv"; done
q -c "CREATE TABLE eq_reference AS SELECT $COLS FROM rollingChartData"
ok "$([ "$(q -At -c "SELECT count(*) FROM eq_reference WHERE is_complete")" -gt $((total - 200)) ] && echo 0 || echo 1)" \
   "in-order load: every bar after warm-up is complete"

# shuffled, one COPY
q -c "TRUNCATE rollingChartData"
shuf --random-source=<(yes 42) "$tmp/all.csv" > "$tmp/shuffled.csv"
copy_file "$tmp/shuffled.csv"
ok "$(same_as_reference)" "shuffled load (one COPY) equals the in-order load"
ok "$(checkpoints_current)" "checkpoints are at the latest bar of every symbol"

# shuffled, many small statements from one session (each restores from checkpoints)
q -c "TRUNCATE rollingChartData"
split -l 2000 "$tmp/shuffled.csv" "$tmp/chunk."
for f in "$tmp"/chunk.*; do copy_file "$f"; done
ok "$(same_as_reference)" "shuffled load in 2000-row statements equals the in-order load"

# 4 concurrent sessions: rows dealt round-robin, each session loads its share in order, 500 rows a transaction
q -c "TRUNCATE rollingChartData"
awk -v d="$tmp" '{ print > (d "/session." (NR % 4)) }' "$tmp/all.csv"
for k in 0 1 2 3; do
  (split -l 500 "$tmp/session.$k" "$tmp/s$k." && for f in "$tmp"/s$k.*; do copy_file "$f"; done) &
done
wait
ok "$(same_as_reference)" "4 concurrent sessions equal the in-order load"

# a restart in the middle: first half, restart (new backends, empty caches), second half
q -c "TRUNCATE rollingChartData"
for s in BTCUSDT ETHUSDT XRPUSDT; do head -n $((BARS / 2)) "$tmp/$s.csv" > "$tmp/$s.first"; tail -n +$((BARS / 2 + 1)) "$tmp/$s.csv" > "$tmp/$s.second"; done
for s in BTCUSDT ETHUSDT XRPUSDT; do copy_file "$tmp/$s.first"; done
bash "$ROOT/scripts/cluster.sh" restart "$CLUSTER" >/dev/null
for s in BTCUSDT ETHUSDT XRPUSDT; do copy_file "$tmp/$s.second"; done
ok "$(same_as_reference)" "load across a server restart equals the in-order load"

# ml_recompute_indicators over the whole table changes nothing
q -c "CALL ml_recompute_indicators()" >/dev/null 2>&1
ok "$(same_as_reference)" "CALL ml_recompute_indicators() rewrites the same values"
# a recompute killed half way resumes after its last committed batch
q -c "SELECT ml_config_set('data.backfillBatchSize', '500')" >/dev/null
q -c "CREATE FUNCTION pg_temp_kill() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
        IF current_setting('cryptoml_test.kill_at', true) IS NOT NULL AND NEW.symbol = 'ETHUSDT'
           AND NEW.timestamp >= current_setting('cryptoml_test.kill_at')::timestamp THEN
          RAISE EXCEPTION 'recompute killed at %', NEW.timestamp; END IF;
        RETURN NEW; END \$\$" \
  -c "CREATE TRIGGER a_kill BEFORE UPDATE ON rollingChartData FOR EACH ROW EXECUTE FUNCTION pg_temp_kill()"
kill_at=$(q -At -c "SELECT timestamp FROM rollingChartData WHERE symbol = 'ETHUSDT' ORDER BY timestamp OFFSET 2600 LIMIT 1")
out=$(psql -X -q -c "SET cryptoml_test.kill_at = '$kill_at'" -c "CALL ml_recompute_indicators('ETHUSDT')" 2>&1)
state=$(q -At -c "SELECT checkpoint_type || ' ' || (state_data->>'rewritten') FROM ml_recovery_last('indicators', 'recompute ETHUSDT')")
ok "$([ "$state" = "intermediate 2500" ] && grep -q "recompute killed" <<<"$out" && echo 0 || echo 1)" \
   "a recompute killed in its 6th batch leaves 5 committed batches and an intermediate checkpoint ($state)"
q -c "DROP TRIGGER a_kill ON rollingChartData" -c "DROP FUNCTION pg_temp_kill()"
out=$(psql -X -q -c "CALL ml_recompute_indicators('ETHUSDT')" 2>&1)
ok "$(grep -q "resuming recompute ETHUSDT after" <<<"$out" && echo 0 || echo 1)" "calling it again resumes after the last committed bar"
ok "$(same_as_reference)" "the resumed recompute leaves the in-order table"
q -c "SELECT ml_config_reset('data.backfillBatchSize')" >/dev/null
q -c "TRUNCATE rollingChartData" -c "DROP TABLE eq_reference"
