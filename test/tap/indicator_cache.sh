#!/usr/bin/env bash
# The indicator state a backend keeps across its transactions (issue 19, src/pg/chart.cpp
# "Across transactions"): kept only while nothing else changed the symbol, and restored from the
# checkpoint after another session's write, a rolled-back savepoint, an error caught by a
# PL/pgSQL EXCEPTION block, bars written with the triggers off, a TRUNCATE, or an ALTER TABLE.
# After each case the stored indicators equal a full recompute's. Two long-lived sessions (A, B)
# and one-shot psql calls; a session's DEBUG1 message says when it kept its state.
# TAP output (run by prove from scripts/test.sh). Environment: the test cluster's PG* variables.
set -uo pipefail
tmp=$(mktemp -d)
SYM=SOLUSDT
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# ---- long-lived sessions: statements go in through a FIFO, output is read up to a marker ----
declare -A FD
mark=0
start_session() {
  mkfifo "$tmp/$1.in"
  psql -X -q -v ON_ERROR_STOP=0 -v VERBOSITY=terse <"$tmp/$1.in" >"$tmp/$1.out" 2>&1 &
  local fd
  exec {fd}>"$tmp/$1.in"
  FD[$1]=$fd
  send "$1" "SET client_min_messages = debug1;" >/dev/null
}
# send SESSION SQL: runs SQL in the session, waits for it, prints what the session printed
send() {
  local s=$1 before
  before=$(wc -l <"$tmp/$s.out")
  mark=$((mark + 1))
  printf '%s\n\\warn __done %d\n' "$2" "$mark" >&"${FD[$s]}"
  for _ in $(seq 1 600); do
    grep -q "^__done $mark\$" "$tmp/$s.out" && break
    sleep 0.05
  done
  tail -n +"$((before + 1))" "$tmp/$s.out" | grep -v '^__done'
}
cleanup() {
  for s in "${!FD[@]}"; do exec {FD[$s]}>&-; done
  wait
  rm -rf "$tmp"
}
trap cleanup EXIT

n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; [ -n "${3:-}" ] && echo "$3" | sed 's/^/# /'; fi; }
kept() { grep -q "indicator state of $SYM kept" <<<"$1"; }
bar() {  # minute k: an INSERT of one bar (prices from k, inside [low, high])
  echo "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES
        ('$SYM', '2024-03-01'::timestamp + $1 * interval '1 minute', 100 + ($1 % 7), 110 + ($1 % 7), 90 + ($1 % 5), 95 + ($1 % 11), 10);"
}
# rows whose indicators differ from a full recompute of the symbol (the recompute then stands)
differs_from_recompute() {
  { q -At <<SQL
SET client_min_messages = warning;
CREATE TEMP TABLE before AS SELECT timestamp, rsi, macd, macd_signal, macd_hist, bollinger_upper, bollinger_middle, bollinger_lower,
       stochastic_k, stochastic_d, volatility, is_complete FROM rollingChartData WHERE symbol = '$SYM';
CALL ml_recompute_indicators('$SYM');
SELECT count(*) FROM (SELECT * FROM before EXCEPT SELECT timestamp, rsi, macd, macd_signal, macd_hist, bollinger_upper, bollinger_middle,
       bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete FROM rollingChartData WHERE symbol = '$SYM') d;
SQL
  } | tail -1
}

echo "1..14"
q -c "SET client_min_messages = warning" -c "DELETE FROM rollingChartData WHERE symbol = '$SYM'" \
  -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT '$SYM', '2024-03-01'::timestamp + k * interval '1 minute', 100 + (k % 7), 110 + (k % 7), 90 + (k % 5), 95 + (k % 11), 10
        FROM generate_series(0, 59) k"
start_session A
start_session B

out=$(send A "$(bar 60)")
ok "$(kept "$out" && echo 1 || echo 0)" "a session's first transaction of a symbol restores its state from the checkpoint" "$out"
out=$(send A "$(bar 61)")
ok "$(kept "$out" && echo 0 || echo 1)" "its next transaction keeps the state it committed" "$out"

# another session's write
send B "$(bar 62)" >/dev/null
out=$(send A "$(bar 63)")
ok "$(kept "$out" && echo 1 || echo 0)" "after another session wrote the symbol, the state is restored, not kept" "$out"
ok "$(differs_from_recompute)" "indicators equal a full recompute (sessions alternating)"

# a rolled-back savepoint that had rewritten older bars' indicators
send A "$(bar 64)" >/dev/null
out=$(send A "$(bar 65)")
ok "$(kept "$out" && echo 0 || echo 1)" "kept again once the session wrote the symbol last" "$out"
send A "BEGIN; SAVEPOINT s; UPDATE rollingChartData SET close = low WHERE symbol = '$SYM' AND timestamp = '2024-03-01 00:30'; ROLLBACK TO SAVEPOINT s; COMMIT;" >/dev/null
out=$(send A "$(bar 66)")
ok "$(kept "$out" && echo 1 || echo 0)" "after a rolled-back savepoint, the state is restored, not kept" "$out"
ok "$(differs_from_recompute)" "indicators equal a full recompute (savepoint)"

# an error caught by a PL/pgSQL EXCEPTION block after a price correction
send A "$(bar 67)" >/dev/null
send A "$(bar 68)" >/dev/null
send A "DO \$\$ BEGIN
          UPDATE rollingChartData SET close = high WHERE symbol = '$SYM' AND timestamp = '2024-03-01 00:20';
          RAISE EXCEPTION 'undo it';
        EXCEPTION WHEN raise_exception THEN NULL;
        END \$\$;" >/dev/null
out=$(send A "$(bar 69)")
ok "$(kept "$out" && echo 1 || echo 0)" "after an error caught by an EXCEPTION block, the state is restored, not kept" "$out"
ok "$(differs_from_recompute)" "indicators equal a full recompute (EXCEPTION block)"

# a bar written with the triggers off (replica role): found by the probe of the latest bar
send A "$(bar 70)" >/dev/null
q -c "SET session_replication_role = replica" -c "$(bar 71)"
out=$(send A "$(bar 72)")
ok "$(kept "$out" && echo 1 || echo 0)" "after a bar stored with the triggers off, the state is restored, not kept" "$out"
ok "$(differs_from_recompute)" "indicators equal a full recompute (the bar stored without triggers was computed)"

# TRUNCATE, then the same minutes with other prices stored with the triggers off
send A "$(bar 73)" >/dev/null
send A "$(bar 74)" >/dev/null
q -c "BEGIN" -c "TRUNCATE rollingChartData" -c "SET LOCAL session_replication_role = replica" \
  -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
      SELECT '$SYM', '2024-03-01'::timestamp + k * interval '1 minute', 100, 120, 80, 90 + (k % 13), 10 FROM generate_series(0, 74) k" -c "COMMIT"
out=$(send A "$(bar 75)")
ok "$(kept "$out" && echo 1 || echo 0)" "after a TRUNCATE, the state is restored, not kept" "$out"
ok "$(differs_from_recompute)" "indicators equal a full recompute (TRUNCATE)"

# ALTER TABLE (a relcache invalidation of rollingChartData)
send A "$(bar 76)" >/dev/null
send A "$(bar 77)" >/dev/null
q -c "ALTER TABLE rollingChartData DISABLE TRIGGER zz_cryptoml_stale_anomalies" -c "ALTER TABLE rollingChartData ENABLE TRIGGER zz_cryptoml_stale_anomalies"
out=$(send A "$(bar 78)")
ok "$(kept "$out" && echo 1 || echo 0)" "after an ALTER TABLE of rollingChartData, the state is restored, not kept" "$out"

q -c "SET client_min_messages = warning" -c "DELETE FROM rollingChartData WHERE symbol = '$SYM'"
