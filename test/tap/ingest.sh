#!/usr/bin/env bash
# The ingest worker against a local mock exchange (test/mock_exchange/server.py, no internet):
# a backfill in pages, every candle stored exactly once and equal to the exchange's, the rate
# limit never exceeded, a gap in the exchange's data backfilled once it is served, 429 (with
# Retry-After), 500, malformed JSON, inconsistent OHLC, a timeout, clock skew, duplicate and
# out-of-order candles, failover to the next exchange, a symbol the exchange does not list, and
# nothing requested while ingest.enabled is off. Runs in the test database with the extension
# re-created (its data is dropped). TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
tmp=$(mktemp -d)
python3 "$ROOT/test/mock_exchange/server.py" --port 0 --port-file "$tmp/port" &
mock_pid=$!
cleanup() {
  q -c "SELECT ml_stop_workers()" >/dev/null 2>&1
  kill "$mock_pid" 2>/dev/null
  wait "$mock_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
M="http://127.0.0.1:$(cat "$tmp/port")"
mock() { python3 "$ROOT/test/tap/lib/mockctl.py" "$M" "$@"; }
now_min_ms() { echo $(( $(date +%s) / 60 * 60000 )); }

# The stored bars of $1 equal the mock's canonical candles over the stored range (both ways).
# (bars the worker stores after hi was read are outside the compared range: a minute may close
# between the two queries)
same_as_exchange() {
  local lo hi
  lo=$(q -c "SELECT (extract(epoch FROM min(timestamp)) * 1000)::int8 FROM rollingChartData WHERE symbol = '$1'")
  hi=$(q -c "SELECT (extract(epoch FROM max(timestamp)) * 1000)::int8 FROM rollingChartData WHERE symbol = '$1'")
  mock canon "$1" "$lo" "$hi" >"$tmp/canon.csv"
  q -c "CREATE TEMP TABLE canon (ts timestamp, o numeric, h numeric, l numeric, c numeric, v numeric)" \
    -c "\\copy canon FROM '$tmp/canon.csv' WITH (FORMAT csv)" \
    -c "CREATE TEMP VIEW stored AS SELECT * FROM rollingChartData WHERE symbol = '$1'
          AND (extract(epoch FROM timestamp) * 1000)::int8 BETWEEN $lo AND $hi" \
    -c "SELECT count(*) = 0 FROM (
          (SELECT ts, o, h, l, c, v FROM canon
           EXCEPT SELECT timestamp, open, high, low, close, volume FROM stored)
          UNION ALL
          (SELECT timestamp, open, high, low, close, volume FROM stored
           EXCEPT SELECT ts, o, h, l, c, v FROM canon)) d" | tail -1
}
# Deletes the newest $2 bars of $1: the worker fetches them again (one page).
drop_tail() {
  q -c "DELETE FROM rollingChartData WHERE symbol = '$1' AND timestamp > (SELECT max(timestamp) FROM rollingChartData
        WHERE symbol = '$1') - make_interval(mins => $2)" >/dev/null
}
up_to_date() {
  echo "SELECT max(timestamp) = date_trunc('minute', now() AT TIME ZONE 'UTC') - interval '1 minute'
          FROM rollingChartData WHERE symbol = '$1'"
}
logged() {
  q -c "SELECT ml_log_flush()" >/dev/null
  q -c "SELECT count(*) > 0 FROM systemLogs WHERE category = 'ingest' AND symbol = '$1' AND message LIKE '$2'"
}

echo "1..23"
q -c "SELECT ml_stop_workers()" >/dev/null
q -c "SET client_min_messages = warning; DROP EXTENSION IF EXISTS cryptoml CASCADE; CREATE EXTENSION cryptoml CASCADE" >/dev/null
mock clear
# An exchange outage on bybit: minutes 60 to 50 before now are not served (yet).
gap_from=$(( $(now_min_ms) - 60 * 60000 ))
gap_to=$(( $(now_min_ms) - 50 * 60000 ))
mock faults bybit "[{\"type\": \"gap\", \"from_ms\": $gap_from, \"to_ms\": $gap_to}]"
q -c "SELECT ml_config_set('symbols', '[\"BTCUSDT\", \"ETHUSDT\"]'),
             ml_config_set('ingest.baseUrls.binance-us', '\"$M\"'), ml_config_set('ingest.baseUrls.coinbase', '\"$M\"'),
             ml_config_set('ingest.baseUrls.bybit', '\"$M\"'),
             ml_config_set('ingest.rateLimits.binance-us', '2'), ml_config_set('ingest.rateLimits.coinbase', '2'),
             ml_config_set('ingest.rateLimits.bybit', '2'),
             ml_config_set('ingest.pollInterval', '1'), ml_config_set('ingest.initialBackfillMinutes', '120'),
             ml_config_set('data.backfillBatchSize', '50'), ml_config_set('ingest.timeoutMs', '1000'),
             ml_config_set('ingest.backoffMaxMs', '3000'), ml_config_set('ingest.backoffBaseMs', '400'),
             ml_config_set('ingest.failoverAfter', '5'),
             ml_config_set('ingest.primaryExchange', '{\"BTCUSDT\": \"binance-us\", \"ETHUSDT\": \"bybit\"}')" >/dev/null

# Off by default: the worker runs and requests nothing.
q -c "SELECT ml_start_workers()" >/dev/null
wait_for 20 "SELECT state = 'idle: ingest.enabled is false' FROM ml_workers() WHERE worker = 'ingest' AND database = current_database()"
ok $? "the ingest worker runs and stays idle while ingest.enabled is false (the default)"
ok "$([ "$(mock count binance-us)$(mock count bybit)$(mock count coinbase)" = 000 ] && echo 0 || echo 1)" \
  "... and sends no request"

q -c "SELECT ml_config_set('ingest.enabled', 'true')" >/dev/null
wait_for 60 "SELECT ($(up_to_date BTCUSDT)) AND ($(up_to_date ETHUSDT))"
ok $? "enabled: both symbols are backfilled up to the last closed minute"
r=$(q -c "SELECT count(*) FROM rollingChartData WHERE symbol = 'BTCUSDT'")
ok "$([ "$r" -ge 119 ] && [ "$r" -le 122 ] && echo 0 || echo 1)" "BTCUSDT: the last ingest.initialBackfillMinutes (120) minutes, in pages of 50 ($r bars)"
ok "$([ "$(same_as_exchange BTCUSDT)" = t ] && echo 0 || echo 1)" "BTCUSDT: every stored bar equals the exchange's candle, and none is missing"
r=$(q -c "SELECT count(*) FROM rollingChartData WHERE symbol = 'ETHUSDT' AND (extract(epoch FROM timestamp) * 1000)::int8 BETWEEN $gap_from AND $gap_to")
ok "$([ "$r" = 0 ] && echo 0 || echo 1)" "ETHUSDT: the minutes bybit does not serve are missing ($r stored)"
r=$(q -c "SELECT string_agg(DISTINCT symbol || ':' || source, ',' ORDER BY symbol || ':' || source) FROM rollingChartData")
ok "$([ "$r" = "BTCUSDT:binance-us,ETHUSDT:bybit" ] && echo 0 || echo 1)" "each symbol comes from its primary exchange, recorded in source ($r)"
r=$(q -c "SELECT bool_and(s.stored = c.n) FROM (SELECT symbol, sum(bars_stored) AS stored FROM ml_ingest_status() GROUP BY 1) s
          JOIN (SELECT symbol, count(*) AS n FROM rollingChartData GROUP BY 1) c USING (symbol)")
ok "$([ "$r" = t ] && echo 0 || echo 1)" "every candle was stored exactly once (bars stored = bars present)"

# The gap is served again: the worker finds the hole and fills it.
mock clear
wait_for 40 "SELECT count(*) = 11 FROM rollingChartData WHERE symbol = 'ETHUSDT' AND (extract(epoch FROM timestamp) * 1000)::int8 BETWEEN $gap_from AND $gap_to"
ok $? "ETHUSDT: the gap is backfilled once the exchange serves it"
ok "$([ "$(same_as_exchange ETHUSDT)" = t ] && echo 0 || echo 1)" "ETHUSDT: every stored bar equals the exchange's candle, and none is missing"

# Faults on binance-us for BTCUSDT; each round re-requests the newest 5 minutes.
mock faults binance-us '[{"type": "429", "retry_after": 2, "symbol": "BTCUSDT"}, {"type": "500", "symbol": "BTCUSDT"},
                         {"type": "malformed", "symbol": "BTCUSDT"}, {"type": "duplicate", "symbol": "BTCUSDT"},
                         {"type": "bad_ohlc", "symbol": "BTCUSDT"}, {"type": "timeout", "seconds": 3, "symbol": "BTCUSDT"},
                         {"type": "skew", "seconds": 3600, "symbol": "BTCUSDT"}, {"type": "out_of_order", "symbol": "BTCUSDT"}]'
drop_tail BTCUSDT 5
wait_for 40 "$(up_to_date BTCUSDT)"
drop_tail BTCUSDT 5
wait_for 40 "$(up_to_date BTCUSDT)"
ok $? "after eight faults BTCUSDT is up to date again"
ok "$([ "$(same_as_exchange BTCUSDT)" = t ] && echo 0 || echo 1)" "... every bar equals the exchange's: no rejected payload left a row"
missing=""
for pat in 'HTTP 429, Retry-After 2' 'HTTP 500' '%payload rejected%JSON%' '%payload rejected%high%' 'timed out after 1000 ms' '%clock skew%'; do
  [ "$(logged BTCUSDT "%$pat%")" = t ] || missing="$missing [$pat]"
done
ok "$([ -z "$missing" ] && echo 0 || echo 1)" "each failure is logged in systemLogs (category ingest)${missing:+, missing:$missing}"
r=$(q -c "SELECT count(*) FROM systemLogs WHERE category = 'ingest' AND (message LIKE '%retCode%' OR message LIKE '%\"msg\"%' OR length(message) > 700)")
ok "$([ "$r" = 0 ] && echo 0 || echo 1)" "no log entry carries a response body ($r do)"
r=$(mock gap-after binance-us 429)
ok "$([ "$r" -ge 1950 ] && echo 0 || echo 1)" "after a 429 with Retry-After: 2 the next request waited $r ms"
r=$(mock gap-after binance-us 500)
ok "$([ "$r" -ge 390 ] && echo 0 || echo 1)" "after a 500 the next request waited $r ms (exponential backoff from ingest.backoffBaseMs 400)"
r="$(mock max-in-window binance-us) $(mock max-in-window bybit) $(mock max-in-window coinbase)"
ok "$([ "$(echo "$r" | tr ' ' '\n' | sort -n | tail -1)" -le 2 ] && echo 0 || echo 1)" "no exchange got more than 2 requests in any second (ingest.rateLimits 2): $r"

# Failover: binance-us keeps failing for BTCUSDT; after 5 consecutive failures coinbase takes over.
mock faults binance-us '[{"type": "500", "symbol": "BTCUSDT"}, {"type": "500", "symbol": "BTCUSDT"}, {"type": "503", "symbol": "BTCUSDT"},
                         {"type": "500", "symbol": "BTCUSDT"}, {"type": "500", "symbol": "BTCUSDT"}, {"type": "500", "symbol": "BTCUSDT"}]'
drop_tail BTCUSDT 3
wait_for 60 "SELECT exchange = 'coinbase' FROM ml_ingest_status() WHERE symbol = 'BTCUSDT' AND is_active"
ok $? "after 5 consecutive failures BTCUSDT moves to the next exchange, coinbase"
wait_for 30 "SELECT count(*) > 0 FROM rollingChartData WHERE symbol = 'BTCUSDT' AND source = 'coinbase'"
ok $? "... whose candles are stored with source coinbase"
ok "$([ "$(logged BTCUSDT '%switching from binance-us to coinbase after 5 consecutive failed requests%')" = t ] && echo 0 || echo 1)" "the failover is logged"
mock clear

# A symbol the exchange does not list: the exchange's own error is surfaced.
q -c "SELECT ml_config_set('symbols', '[\"BTCUSDT\", \"ETHUSDT\", \"DOGEUSDT\"]'),
             ml_config_set('ingest.primaryExchange', '{\"BTCUSDT\": \"binance-us\", \"ETHUSDT\": \"bybit\", \"DOGEUSDT\": \"binance-us\"}')" >/dev/null
wait_for 20 "SELECT count(*) > 0 FROM systemLogs WHERE category = 'ingest' AND symbol = 'DOGEUSDT' AND message LIKE '%the exchange says: binance-us API error: Invalid symbol.%'" ||
  q -c "SELECT ml_log_flush()" >/dev/null
ok "$([ "$(logged DOGEUSDT '%the exchange says: binance-us API error: Invalid symbol.%')" = t ] && echo 0 || echo 1)" "a symbol binance-us does not list: its error (Invalid symbol.) is logged"

# ml_health shows the ingest lag.
r=$(q -c "SELECT ok FROM ml_health() WHERE scope = 'ETHUSDT' AND metric = 'ingest_lag'")
ok "$([ "$r" = t ] && echo 0 || echo 1)" "ml_health reports ETHUSDT's ingest lag, within pollInterval + 60 s"

# Off again: no more requests.
q -c "SELECT ml_config_set('ingest.enabled', 'false')" >/dev/null
wait_for 20 "SELECT state = 'idle: ingest.enabled is false' FROM ml_workers() WHERE worker = 'ingest' AND database = current_database()"
c0=$(( $(mock count binance-us) + $(mock count bybit) + $(mock count coinbase) ))
sleep 3
c1=$(( $(mock count binance-us) + $(mock count bybit) + $(mock count coinbase) ))
ok "$([ "$c0" = "$c1" ] && echo 0 || echo 1)" "ingest.enabled false: no request in 3 s ($c0 then $c1)"
q -c "SELECT ml_stop_workers()" >/dev/null
q -c "SET client_min_messages = warning; DROP EXTENSION cryptoml CASCADE; CREATE EXTENSION cryptoml CASCADE" >/dev/null
