#!/usr/bin/env bash
# On all six shared symbols (or generated ones), every stored indicator is within half a unit of
# its column's last decimal of the full-precision array function value, and is_complete agrees.
# TAP output; PGHOST/PGPORT/PGUSER/PGDATABASE point at the test cluster.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
q -c "TRUNCATE rollingChartData"
DATA="$ROOT/../shared/data"
if ls "$DATA"/binance_*_1m.csv.gz >/dev/null 2>&1; then
  source_note="shared candles"
  for f in "$DATA"/binance_*_1m.csv.gz; do
    gzip -dc "$f" | q -c "\copy rollingChartData(symbol,timestamp,open,high,low,close,volume) FROM STDIN WITH (FORMAT csv, HEADER true)"
  done
else
  source_note="generated bars"
  seed=1
  for spec in BTCUSDT:58000 ETHUSDT:2000 SOLUSDT:20 XRPUSDT:0.6 ADAUSDT:1.2 HBARUSDT:0.25; do
    bash "$ROOT/scripts/gen_bars.sh" "${spec%%:*}" 60000 "${spec##*:}" "$seed" |
      q -c "\copy rollingChartData(symbol,timestamp,open,high,low,close,volume) FROM STDIN WITH (FORMAT csv, HEADER true)"
    seed=$((seed + 1))
  done
fi
# statistics now, not when autovacuum gets to it: planned on an empty table's estimates, the first
# symbol's query below ran for over 11 minutes on a fresh clone
q -c "ANALYZE rollingChartData"
symbols=$(q -At -c "SELECT DISTINCT symbol FROM rollingChartData ORDER BY 1")
echo "1..$(( $(echo "$symbols" | wc -l) + 1 ))"
echo "# $(q -At -c "SELECT count(*) FROM rollingChartData") bars ($source_note)"
i=0
for s in $symbols; do
  i=$((i + 1))
  read -r bars bad worst <<<"$(q -At -F ' ' -c "
    WITH s AS (SELECT array_agg(r.timestamp ORDER BY r.timestamp) AS ts, array_agg(r.high::float8 ORDER BY r.timestamp) AS h,
                      array_agg(r.low::float8 ORDER BY r.timestamp) AS l, array_agg(r.close::float8 ORDER BY r.timestamp) AS c
                 FROM rollingChartData r WHERE r.symbol = '$s'),
    ref AS (SELECT u.* FROM s, ml_macd(s.c) m, ml_bollinger(s.c) b, ml_stochastic(s.h, s.l, s.c) st,
            unnest(s.ts, ml_rsi(s.c), m.macd, m.signal, m.hist, b.upper, b.middle, b.lower, st.k, st.d, ml_volatility(s.c))
              AS u(ts, rsi, macd, ms, mh, bu, bm, bl, sk, sd, vol)),
    d AS (SELECT r.is_complete,
                 (ref.rsi IS NOT NULL AND ref.macd IS NOT NULL AND ref.bu IS NOT NULL AND ref.bl IS NOT NULL
                  AND ref.sk IS NOT NULL AND ref.sd IS NOT NULL AND ref.vol IS NOT NULL) AS complete,
                 -- each column's error in units of its last decimal (NULL on both sides counts as 0, one-sided NULL as 99)
                 greatest(
                   CASE WHEN (r.rsi IS NULL) <> (ref.rsi IS NULL) THEN 99 ELSE coalesce(abs(r.rsi - ref.rsi::numeric) * 1e4, 0) END,
                   CASE WHEN (r.macd IS NULL) <> (ref.macd IS NULL) THEN 99 ELSE coalesce(abs(r.macd - ref.macd::numeric) * 1e8, 0) END,
                   CASE WHEN (r.macd_signal IS NULL) <> (ref.ms IS NULL) THEN 99 ELSE coalesce(abs(r.macd_signal - ref.ms::numeric) * 1e8, 0) END,
                   CASE WHEN (r.macd_hist IS NULL) <> (ref.mh IS NULL) THEN 99 ELSE coalesce(abs(r.macd_hist - ref.mh::numeric) * 1e8, 0) END,
                   CASE WHEN (r.bollinger_upper IS NULL) <> (ref.bu IS NULL) THEN 99 ELSE coalesce(abs(r.bollinger_upper - ref.bu::numeric) * 1e8, 0) END,
                   CASE WHEN (r.bollinger_middle IS NULL) <> (ref.bm IS NULL) THEN 99 ELSE coalesce(abs(r.bollinger_middle - ref.bm::numeric) * 1e8, 0) END,
                   CASE WHEN (r.bollinger_lower IS NULL) <> (ref.bl IS NULL) THEN 99 ELSE coalesce(abs(r.bollinger_lower - ref.bl::numeric) * 1e8, 0) END,
                   CASE WHEN (r.stochastic_k IS NULL) <> (ref.sk IS NULL) THEN 99 ELSE coalesce(abs(r.stochastic_k - ref.sk::numeric) * 1e4, 0) END,
                   CASE WHEN (r.stochastic_d IS NULL) <> (ref.sd IS NULL) THEN 99 ELSE coalesce(abs(r.stochastic_d - ref.sd::numeric) * 1e4, 0) END,
                   CASE WHEN (r.volatility IS NULL) <> (ref.vol IS NULL) THEN 99 ELSE coalesce(abs(r.volatility - ref.vol::numeric) * 1e6, 0) END
                 ) AS units
            FROM ref JOIN rollingChartData r ON r.symbol = '$s' AND r.timestamp = ref.ts)
    SELECT count(*), count(*) FILTER (WHERE units > 0.5 OR is_complete IS DISTINCT FROM complete), round(max(units), 4) FROM d")"
  if [ "$bad" = 0 ]; then
    echo "ok $i - $s: all $bars bars within half a unit of the last stored decimal (worst $worst units)"
  else
    echo "not ok $i - $s: $bad of $bars bars off by more than half a unit (worst $worst units)"
  fi
done
read -r mism fast <<<"$(q -At -F ' ' -c "SELECT r[1], r[2] FROM (SELECT cryptoml_internal.numeric_to_double_mismatches(
  array_agg(v)) AS r FROM rollingChartData, LATERAL (VALUES (open), (high), (low), (close), (volume)) AS p(v)) t")"
i=$((i + 1))
if [ "$mism" = 0 ]; then echo "ok $i - every price and volume reads as the same double as numeric_float8 ($fast by the shortcut)"
else echo "not ok $i - $mism prices read differently than numeric_float8"; fi
q -c "TRUNCATE rollingChartData"
