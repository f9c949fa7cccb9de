#!/usr/bin/env bash
# Indicator window functions against the array functions (issue 19), in SQL, same run.
#
# For each indicator, the median of REPS runs of three queries over the same N bars (one partition):
#   window:   ml_rsi(close) OVER (ORDER BY ts)                      (the window function)
#   array:    unnest(ml_rsi(array_agg(close ORDER BY ts)))           (the array function)
#   lag:      lag(close) OVER (ORDER BY ts)                          (baseline: the sort and the
#             WindowAgg node alone, what any window function over these rows costs)
#   rank:     rank() OVER (ORDER BY ts)                              (baseline: rank() compares each
#             row with the previous one, WinRowsArePeers, as the indicator functions do to refuse ties)
# Each query sums its values so that nothing is sent to the client. Ratios: window / array, and
# (window - lag) / N = what the indicator adds per row on top of the window machinery.
# Bars: BTCUSDT's first N minutes of ../shared/data when present, else a generated random walk.
#
# Own cluster CLUSTER=winbench (PORT=54551, DB=cryptoml, workers off), started if needed and
# stopped at the end if it was not running. About 1 minute with the defaults.
# Usage: bash bench/indicator_windows.sh      (N=60000 REPS=7)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CLUSTER=${CLUSTER:-winbench}
N=${N:-60000}
REPS=${REPS:-7}
export CRYPTOML_PORT=${PORT:-54551} CRYPTOML_DB=${DB:-cryptoml}
was_running=0
bash scripts/cluster.sh status "$CLUSTER" >/dev/null 2>&1 && was_running=1
bash scripts/cluster.sh start "$CLUSTER" >/dev/null
eval "$(bash scripts/cluster.sh env "$CLUSTER")"
trap '[ "$was_running" = 0 ] && bash scripts/cluster.sh stop "$CLUSTER" >/dev/null' EXIT
P=(psql -X -q -v ON_ERROR_STOP=1)
if [ -z "$("${P[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$CRYPTOML_DB'")" ]; then
  "${P[@]}" -d postgres -c "CREATE DATABASE $CRYPTOML_DB"
fi
version=$("${P[@]}" -Atc "SELECT default_version FROM pg_available_extensions WHERE name = 'cryptoml'")
"${P[@]}" -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS cryptoml CASCADE" -c "CREATE EXTENSION cryptoml CASCADE"
data="$ROOT/../shared/data/binance_BTCUSDT_1m.csv.gz"
"${P[@]}" -c "DROP TABLE IF EXISTS winbench_bars" \
  -c "CREATE TABLE winbench_bars (symbol text, ts text, open float8, high float8, low float8, close float8, volume float8)"
if [ -r "$data" ]; then
  src="BTCUSDT, first $N minute bars of $data"
  gzip -dc "$data" | awk -v n="$N" 'NR > 1 && NR <= n + 1' | "${P[@]}" -c "\\copy winbench_bars FROM STDIN WITH (FORMAT csv)"
else
  src="generated random walk ($N bars; ../shared/data is absent)"
  "${P[@]}" -c "SELECT setseed(0.5)" -c "INSERT INTO winbench_bars
    SELECT 'GEN', to_char('2021-04-01'::timestamp + make_interval(mins => i), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), c, c * 1.001, c * 0.999, c, 1
      FROM (SELECT i, 50000 * exp(sum((random() - 0.5) * 0.002) OVER (ORDER BY i)) AS c FROM generate_series(0, $N - 1) i) x"
fi
"${P[@]}" -c "ANALYZE winbench_bars"
"${P[@]}" -P pager=off -P footer=off <<SQL
SET work_mem = '64MB';
SET max_parallel_workers_per_gather = 0;
CREATE FUNCTION pg_temp.median_ms(q text, reps int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; ms float8[] := '{}'; v float8;
BEGIN
  EXECUTE q INTO v;  -- warm-up
  FOR i IN 1..reps LOOP
    t0 := clock_timestamp();
    EXECUTE q INTO v;
    ms := ms || extract(epoch FROM clock_timestamp() - t0) * 1000;
  END LOOP;
  RETURN (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY m) FROM unnest(ms) m);
END \$\$;
\\echo cryptoml $version: indicator window functions vs array functions, $src, median of $REPS runs
WITH n AS (SELECT count(*)::float8 AS n FROM winbench_bars),
ind(name, wexpr, aexpr) AS (VALUES
  ('rsi(14)', 'ml_rsi(close) OVER w', 'unnest(ml_rsi(array_agg(close ORDER BY ts)))'),
  ('macd(12,26,9)', '(ml_macd(close) OVER w).signal', 'unnest((ml_macd(array_agg(close ORDER BY ts))).signal)'),
  ('bollinger(20,2)', '(ml_bollinger(close) OVER w).upper', 'unnest((ml_bollinger(array_agg(close ORDER BY ts))).upper)'),
  ('stochastic(14,3)', '(ml_stochastic(high, low, close) OVER w).d',
   'unnest((ml_stochastic(array_agg(high ORDER BY ts), array_agg(low ORDER BY ts), array_agg(close ORDER BY ts))).d)'),
  ('volatility(5)', 'ml_volatility(close) OVER w', 'unnest(ml_volatility(array_agg(close ORDER BY ts)))')),
lag AS (SELECT pg_temp.median_ms('SELECT sum(v) FROM (SELECT lag(close) OVER w AS v FROM winbench_bars WINDOW w AS (ORDER BY ts)) x', $REPS) AS ms),
rank AS (SELECT pg_temp.median_ms('SELECT sum(v) FROM (SELECT rank() OVER w AS v FROM winbench_bars WINDOW w AS (ORDER BY ts)) x', $REPS) AS ms),
t AS (SELECT name,
             pg_temp.median_ms(format('SELECT sum(v) FROM (SELECT %s AS v FROM winbench_bars WINDOW w AS (ORDER BY ts)) x', wexpr), $REPS) AS win,
             pg_temp.median_ms(format('SELECT sum(v) FROM (SELECT %s AS v FROM winbench_bars) x', aexpr), $REPS) AS arr
        FROM ind)
SELECT t.name AS indicator, n.n::bigint AS bars, round(t.win::numeric, 1) AS window_ms, round(t.arr::numeric, 1) AS array_ms,
       round(lag.ms::numeric, 1) AS lag_ms, round(rank.ms::numeric, 1) AS rank_ms, round((t.win / t.arr)::numeric, 2) AS window_over_array,
       round(((t.win - lag.ms) / n.n * 1e6)::numeric, 0) AS window_minus_lag_ns_per_row
  FROM t, lag, rank, n;
SQL
"${P[@]}" -c "DROP TABLE winbench_bars"
