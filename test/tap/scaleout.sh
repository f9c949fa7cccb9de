#!/usr/bin/env bash
# The PL/Proxy scale-out (docs/scale-out.md) on a router and three nodes of its own
# (scripts/scaleout.sh, ports 54380-54383, .pg/sotest-*, destroyed at the end even on failure):
# generated bars of six symbols ingested through the router (ml_insert_bars, ml_ingest_klines)
# land on their owners only; the leaders' bars reach every node by logical replication, equal row
# by row, and a set-2 feature vector built on a replica equals the owner's; a replica refuses local
# writes; ml_config_set on the router lands on every node or on none; ml_forecast, ml_train,
# ml_backtest through the router run on the owner and answer what the owner answers; ml_health is
# the union of the nodes', ml_performance and ml_calibration without a symbol the pooled
# computation; ml_move_symbol keeps every row and the next forecast, with the workers running; a
# node stopped with -m immediate fails its symbols naming it while the others answer, and its
# symbols answer again once it is back. TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
PREFIX=sotest
export SCALEOUT_BASE_PORT=${CRYPTOML_SCALEOUT_TEST_PORT:-54380} SCALEOUT_PREFIX=$PREFIX
export PGOPTIONS='-c client_min_messages=error'   # stale-bar warnings of 2021 bars
PGUSER=$( [ "$(id -u)" -eq 0 ] && echo postgres || id -un ); export PGUSER
SYMS="BTCUSDT ETHUSDT SOLUSDT XRPUSDT ADAUSDT HBARUSDT"
NODES="node1 node2 node3"
H=5
tmp=$(mktemp -d)
so() { bash "$ROOT/scripts/scaleout.sh" "$@"; }
cleanup() { so destroy all >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
port() { case $1 in router) echo "$SCALEOUT_BASE_PORT" ;; node*) echo $((SCALEOUT_BASE_PORT + ${1#node})) ;; esac; }
on() {  # role, psql args
  local role=$1 db=cryptoml; shift
  [ "$role" = router ] && db=cryptoml_router
  q -h "$ROOT/.pg/$PREFIX-$role/run" -p "$(port "$role")" -d "$db" "$@"
}
r() { on router "$@"; }
has_router_fn() { [ "$(r -c "SELECT count(*) FROM pg_proc WHERE proname = '$1' AND pronamespace = 'public'::regnamespace" 2>/dev/null)" != 0 ]; }
poll() {  # role, seconds, SQL returning t
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(on "$1" -c "$3" 2>/dev/null)" = t ] && return 0
    sleep 0.5
  done
  return 1
}
owner() { r -c "SELECT p.node FROM cryptoml_router.symbol_map m JOIN cryptoml_router.partitions p USING (partition) WHERE m.symbol = '$1'" 2>/dev/null; }
bars_on() { on "$1" -c "SELECT count(*) FROM rollingChartData WHERE symbol = '$2'" 2>/dev/null; }
comment() { sed 's/^/#   /'; }
# Two outputs (lines of |-separated fields) equal as multisets, numbers to 1e-9 relative (the
# router may add floating-point terms in another order than a single node)
same_rows() {
  awk -F'|' 'NR == FNR { a[FNR] = $0; na = FNR; next } { b[FNR] = $0; nb = FNR }
    function num(x) { return x ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ }
    END {
      if (na != nb) exit 1
      for (i = 1; i <= na; i++) {
        n1 = split(a[i], x, "|"); n2 = split(b[i], y, "|")
        if (n1 != n2) exit 1
        for (j = 1; j <= n1; j++) {
          if (x[j] == y[j]) continue
          if (!(num(x[j]) && num(y[j]))) exit 1
          d = x[j] - y[j]; if (d < 0) d = -d
          m = (x[j] < 0 ? -x[j] : x[j]); if (m < 1) m = 1
          if (d > 1e-9 * m) exit 1
        }
      }
    }' <(sort <<<"$1") <(sort <<<"$2")
}
echo "1..29"
t_start=$SECONDS

# --- the cluster: router + 3 nodes, partitions round-robin, the symbol i on partition i
cleanup; mkdir -p "$tmp"
out=$(SCALEOUT_SYMBOLS="$SYMS" so setup 2>&1)
rc=$?
ok $rc "scaleout.sh setup: a router and three nodes, extensions, partitions, symbols, replication"
echo "$out" | tail -12 | comment
[ $rc = 0 ] || { echo "Bail out! scaleout.sh setup failed: nothing else can be checked"; exit 1; }
declare -A OWN
spread=0
for s in $SYMS; do
  OWN[$s]=$(owner "$s")
  [ "$(on "${OWN[$s]}" -c "SELECT role FROM cryptoml_internal.node_symbols WHERE symbol = '$s'" 2>/dev/null)" = owned ] || spread=1
  for nd in $NODES; do
    [ "$nd" = "${OWN[$s]}" ] && continue
    [ "$(on "$nd" -c "SELECT count(*) FROM cryptoml_internal.node_symbols WHERE symbol = '$s' AND role = 'owned'" 2>/dev/null)" = 0 ] || spread=1
  done
done
for nd in $NODES; do [ "$(r -c "SELECT count(*) FROM cryptoml_router.symbol_map m JOIN cryptoml_router.partitions p USING (partition) WHERE p.node = '$nd'" 2>/dev/null)" = 2 ] || spread=1; done
ok $spread "two symbols per node, each owned by exactly one node ($(for s in $SYMS; do printf '%s:%s ' "$s" "${OWN[$s]:-?}"; done))"
# --- bad input on the router: a clear error naming the value, nothing changed
map0=$(r -c "SELECT string_agg(symbol || ':' || partition || ':' || state, ',' ORDER BY symbol) FROM cryptoml_router.symbol_map
             UNION ALL SELECT string_agg(partition || ':' || coalesce(node, '-'), ',' ORDER BY partition) FROM cryptoml_router.partitions
             UNION ALL SELECT string_agg(name || ':' || node_no, ',' ORDER BY name) FROM cryptoml_router.nodes" 2>/dev/null)
bad=0 why=""
refused() {  # SQL, ERE the error must match
  local out
  out=$(r -c "$1" 2>&1) && { bad=1; why+="accepted: $1; "; return; }
  grep -qE "$2" <<<"$out" || { bad=1; why+="$1 -> $(grep -m1 ERROR <<<"$out"); "; }
}
refused "SELECT * FROM ml_forecast('NOPEUSDT', $H)" 'unknown symbol "NOPEUSDT"'
refused "SELECT ml_insert_bars('NOPEUSDT', '[]')" 'unknown symbol "NOPEUSDT"'
refused "SELECT ml_cluster_init(12)" 'partitions|already has'
refused "SELECT ml_cluster_add_node('Node 4', 'host=/nonexistent')" 'invalid node name "Node 4"'
refused "SELECT ml_cluster_add_node('node4', 'host=/nonexistent port=1 dbname=none connect_timeout=2')" 'node4 cannot be reached'
refused "SELECT ml_cluster_assign(99, 'node1')" 'no partition 99'
refused "SELECT ml_cluster_assign(0, 'node2')" 'partition 0 holds symbols'
refused "SELECT ml_cluster_assign(7, 'node9')" 'unknown node "node9"'
refused "SELECT ml_move_symbol('NOPEUSDT', 0)" 'unknown symbol "NOPEUSDT"'
refused "SELECT ml_move_symbol('SOLUSDT', 16)" 'no partition 16'
refused "SELECT ml_move_symbol('SOLUSDT', -1)" 'no partition -1'
refused "SELECT ml_cluster_add_symbol('btc usdt', 3)" 'invalid symbol "btc usdt"'
map1=$(r -c "SELECT string_agg(symbol || ':' || partition || ':' || state, ',' ORDER BY symbol) FROM cryptoml_router.symbol_map
             UNION ALL SELECT string_agg(partition || ':' || coalesce(node, '-'), ',' ORDER BY partition) FROM cryptoml_router.partitions
             UNION ALL SELECT string_agg(name || ':' || node_no, ',' ORDER BY name) FROM cryptoml_router.nodes" 2>/dev/null)
[ $bad = 0 ] && [ -n "$map0" ] && [ "$map0" = "$map1" ]
ok $? "bad input on the router (unknown symbol, bad partition counts, node names, partitions, unreachable node) is refused naming the value; the map is unchanged"
[ -z "$why" ] || echo "$why" | comment
LEADERS=$(on node1 -c "SELECT string_agg(x, ' ') FROM jsonb_array_elements_text(ml_config_get('features.crossMarketSymbols')) x" 2>/dev/null)
is_leader() { [[ " $LEADERS " == *" $1 "* ]]; }

# --- configuration through the router: on every node, or on none
out=$(r -c "SELECT * FROM ml_config_set('training.forecastHorizons', '[$H]')" \
        -c "SELECT * FROM ml_config_set('inference.skillSignificance', '0.5')" \
        -c "SELECT * FROM ml_config_set('inference.confidenceThreshold', '50')" 2>&1)
rc=$?
for nd in $NODES; do
  [ "$(on "$nd" -c "SELECT ml_config_get('training.forecastHorizons')::text || ml_config_get('inference.skillSignificance')::text || ml_config_get('inference.confidenceThreshold')::text" 2>/dev/null)" = "[$H]0.550" ] || rc=1
done
ok $rc "ml_config_set through the router lands on every node (forecastHorizons [$H], skillSignificance 0.5, confidenceThreshold 50)"
[ $rc = 0 ] || echo "$out" | comment
config_fp() { on "$1" -c "SELECT md5(string_agg(path || '=' || value::text, ',' ORDER BY path)) FROM cryptoml_internal.config" 2>/dev/null; }
fp0=""; for nd in $NODES; do fp0+="$(config_fp "$nd") "; done
out=$(r -c "SELECT * FROM ml_config_set('inference.confidenceThreshold', '101')" 2>&1)
rc=$?
fp1=""; for nd in $NODES; do fp1+="$(config_fp "$nd") "; done
[ $rc -ne 0 ] && grep -q "confidenceThreshold" <<<"$out" && [ "$fp0" = "$fp1" ]
ok $? "a bad value through the router fails naming the key and changes no node's configuration"
echo "$out" | grep -m1 ERROR | comment

# --- generated bars (a random walk with momentum: the models learn something), on the router
r -c "SELECT setseed(0.42)" -c "CREATE TABLE gen AS
SELECT symbol, k, ts, round(o::numeric, 8) AS o, round((greatest(o, c) * (1 + u * 0.0005))::numeric, 8) AS h,
       round((least(o, c) * (1 - u * 0.0005))::numeric, 8) AS l, round(c::numeric, 8) AS c, round(v::numeric, 8) AS v
  FROM (SELECT symbol, k, ts, coalesce(lag(c) OVER w, c) AS o, c, u, v
          FROM (SELECT symbol, k, ts, u, v, p * exp(sum(r) OVER (PARTITION BY symbol ORDER BY k)) AS c
                  FROM (SELECT symbol, k, ts, p, u, v,
                               3 * avg(e) OVER (PARTITION BY symbol ORDER BY k ROWS BETWEEN 9 PRECEDING AND CURRENT ROW) AS r
                          FROM (SELECT v.symbol, v.p, k, '2021-02-01'::timestamp + make_interval(mins => k) AS ts,
                                       (random() - 0.5) * 0.002 AS e, random() AS u, 1 + random() * 100 AS v
                                  FROM (VALUES ('BTCUSDT', 40000), ('ETHUSDT', 2000), ('SOLUSDT', 30), ('XRPUSDT', 0.5),
                                               ('ADAUSDT', 1.2), ('HBARUSDT', 0.3)) v(symbol, p),
                                       generate_series(0, 2999) k) a) b) c2
        WINDOW w AS (PARTITION BY symbol ORDER BY k)) d" >/dev/null
landed() {  # bars per symbol: all on the owner, none on another node (leaders: checked by replication)
  local s nd bad=0
  for s in $SYMS; do
    [ "$(bars_on "${OWN[$s]}" "$s")" = "$1" ] || { bad=1; echo "$s on its owner ${OWN[$s]}: $(bars_on "${OWN[$s]}" "$s") bars" | comment; }
    is_leader "$s" && continue
    for nd in $NODES; do
      [ "$nd" = "${OWN[$s]}" ] && continue
      [ "$(bars_on "$nd" "$s")" = 0 ] || { bad=1; echo "$s on $nd (not its owner): $(bars_on "$nd" "$s") bars" | comment; }
    done
  done
  return $bad
}

# --- ingestion through the router
got=$(r -c "SELECT sum(ml_insert_bars(g.symbol, g.bars)) FROM (
              SELECT symbol, jsonb_agg(jsonb_build_object('timestamp', to_char(ts, 'YYYY-MM-DD\"T\"HH24:MI:SS'), 'open', o, 'high', h,
                                                          'low', l, 'close', c, 'volume', v) ORDER BY k) AS bars
                FROM gen WHERE k < 2800 GROUP BY symbol) g" 2>&1)
[ "$got" = 16800 ] && landed 2800
ok $? "ml_insert_bars through the router: 6 x 2800 bars, each symbol's on its owner only ($got)"
for nd in $NODES; do on "$nd" -c "ANALYZE rollingChartData" 2>/dev/null; done

klines() {  # first, last k: binance-us kline bodies of every symbol through the router
  r -c "SELECT sum(ml_ingest_klines('binance-us', g.symbol, g.body)) FROM (
          SELECT symbol, jsonb_agg(jsonb_build_array((extract(epoch FROM ts) * 1000)::bigint, o::text, h::text, l::text, c::text, v::text,
                                                     (extract(epoch FROM ts) * 1000)::bigint + 59999, '0', 1, '0', '0', '0') ORDER BY k) AS body
            FROM gen WHERE k BETWEEN $1 AND $2 GROUP BY symbol) g" 2>&1
}

# --- the leaders' bars on every node: equal row by row (id and created_at are the node's own)
COLS=$(on node1 -c "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) FROM information_schema.columns
                     WHERE table_schema = 'public' AND table_name = 'rollingchartdata' AND column_name NOT IN ('id', 'created_at')")
rows_fp() { on "$1" -c "SELECT count(*) || ' ' || md5(string_agg(x::text, E'\n' ORDER BY x.timestamp))
                        FROM (SELECT $COLS FROM rollingChartData WHERE symbol = '$2') x" 2>/dev/null; }
replicated() {  # every leader's bars on every node equal the owner's
  local s nd bad=0 want
  for s in $LEADERS; do
    want=$(rows_fp "${OWN[$s]}" "$s")
    for nd in $NODES; do
      [ "$nd" = "${OWN[$s]}" ] && continue
      poll "$nd" 60 "SELECT count(*) = $(bars_on "${OWN[$s]}" "$s") FROM rollingChartData WHERE symbol = '$s'" || true
      [ "$(rows_fp "$nd" "$s")" = "$want" ] || { bad=1; echo "$s on $nd: $(rows_fp "$nd" "$s"), owner ${OWN[$s]}: $want" | comment; }
    done
  done
  return $bad
}
replicated
ok $? "the leaders' bars ($LEADERS) are replicated to every node, equal row by row to the owner's"
bad=0
for s in $LEADERS; do
  want=$(on "${OWN[$s]}" -c "SELECT cryptoml_internal.latest_features('$s', 2)::text" 2>&1)
  for nd in $NODES; do
    [ "$nd" = "${OWN[$s]}" ] && continue
    got=$(on "$nd" -c "SELECT cryptoml_internal.latest_features('$s', 2)::text" 2>&1)
    [ "$got" = "$want" ] && [[ "$want" == "{"* ]] || { bad=1; echo "$s on $nd: ${got:0:300} / on ${OWN[$s]}: ${want:0:300}" | comment; }
  done
done
ok $bad "latest_features(leader, 2) built on a node from replicated bars equals the one built on the leader's owner"

# --- a replica refuses local writes
L1=${LEADERS%% *}
RN=$(for nd in $NODES; do [ "$nd" != "${OWN[$L1]}" ] && echo "$nd" && break; done)
before=$(bars_on "$RN" "$L1")
o1=$(on "$RN" -c "INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('$L1', '2021-03-01', 1, 1, 1, 1, 1)" 2>&1); rc1=$?
o2=$(on "$RN" -c "SELECT ml_insert_bars('$L1', '[{\"timestamp\": \"2021-03-01T00:01:00\", \"open\": 1, \"high\": 1, \"low\": 1, \"close\": 1, \"volume\": 1}]')" 2>&1); rc2=$?
[ $rc1 -ne 0 ] && [ $rc2 -ne 0 ] && [ "$(bars_on "$RN" "$L1")" = "$before" ]
ok $? "on $RN, a replica of $L1, an INSERT and ml_insert_bars are refused and nothing is written"
printf '%s\n%s\n' "$o1" "$o2" | grep ERROR | comment

# --- training through the router: on the owner only
samples_where=router
has_router_fn ml_build_samples || samples_where=owner
bad=0
for s in $SYMS; do
  if [ $samples_where = router ]; then r -c "SELECT ml_build_samples('$s', $H)" >/dev/null 2>&1 || bad=1
  else on "${OWN[$s]}" -c "SELECT ml_build_samples('$s', $H)" >/dev/null 2>&1 || bad=1; fi
done
echo "# samples built through the $samples_where"
declare -A BATCH
for s in $SYMS; do
  out=$(r -c "SELECT batch_id || ' ' || is_production FROM ml_train('$s', $H, 'xgboost', '{\"windowSize\": 1500}')" 2>&1) || { bad=1; echo "$out" | comment; continue; }
  BATCH[$s]=${out%% *}
  if [ "${out##* }" != t ]; then   # promoted only with skill: deploy it anyway (the forecasts below need one)
    if has_router_fn ml_deploy; then r -c "SELECT 1 FROM ml_deploy('${BATCH[$s]}')" >/dev/null 2>&1 || bad=1
    else on "${OWN[$s]}" -c "SELECT 1 FROM ml_deploy('${BATCH[$s]}')" >/dev/null 2>&1 || bad=1; fi
  fi
  for nd in $NODES; do
    c=$(on "$nd" -c "SELECT count(*) FROM mlTrainingBatches WHERE batch_id = '${BATCH[$s]}'" 2>/dev/null)
    if [ "$nd" = "${OWN[$s]}" ]; then [ "$c" = 1 ] || bad=1; else [ "$c" = 0 ] || bad=1; fi
  done
done
ok $bad "ml_train through the router trains on the owner only ($(for s in $SYMS; do printf '%s ' "${BATCH[$s]:-none}"; done))"

# --- ml_forecast through the router = on the owner (the owner stores it first: both read the row)
bad=0
for s in $SYMS; do
  on "${OWN[$s]}" -c "SELECT 1 FROM ml_forecast('$s', $H)" >/dev/null 2>&1
  a=$(r -c "SELECT f::text FROM ml_forecast('$s', $H) f" 2>&1)
  b=$(on "${OWN[$s]}" -c "SELECT f::text FROM ml_forecast('$s', $H) f" 2>&1)
  [ "$a" = "$b" ] && [[ "$a" == "($s,"* ]] || { bad=1; echo "$s router: ${a:0:200} owner: ${b:0:200}" | comment; }
done
ok $bad "ml_forecast through the router returns the owner's row, for every symbol"

# --- 10 rounds: forecasts and simulated trades through the router, then 20 more bars by klines
bad=0 kl=0
for i in $(seq 0 9); do
  for s in $SYMS; do
    r -c "SELECT 1 FROM ml_forecast('$s', $H)" >/dev/null 2>&1 || bad=$((bad + 1))
    r -c "SELECT 1 FROM ml_simulate('$s', $H)" >/dev/null 2>&1 || bad=$((bad + 1))
  done
  got=$(klines $((2800 + 20 * i)) $((2819 + 20 * i)))
  [ "$got" = 120 ] || { kl=1; echo "round $i: ml_ingest_klines: $got" | head -3 | comment; }
done
[ $bad = 0 ]
ok $? "10 rounds of ml_forecast and ml_simulate through the router for every symbol ($bad failed calls)"
[ $kl = 0 ] && landed 3000
ok $? "ml_ingest_klines through the router: 10 x 6 x 20 bars, each symbol's on its owner only"
replicated
ok $? "... and the leaders' new bars reach every node"
for nd in $NODES; do on "$nd" -c "SELECT ml_fill_actuals()" >/dev/null 2>&1; done

# --- a backtest through the router: on the owner only
BS=SOLUSDT
out=$(r -c "SELECT run_id FROM ml_backtest('$BS', $H, 'xgboost', NULL, NULL, '{\"windowSize\": 1000, \"retrainEvery\": 500}') LIMIT 1" 2>&1)
rc=$?
run=""; [ $rc = 0 ] && run=$out
for nd in $NODES; do
  c=$(on "$nd" -c "SELECT count(*) FROM mlBacktestRuns WHERE run_id = '$run'" 2>/dev/null)
  if [ "$nd" = "${OWN[$BS]}" ]; then [ "$c" = 1 ] || rc=1; else [ "$c" = 0 ] || rc=1; fi
done
ok $rc "ml_backtest through the router runs on the owner only (run $run on ${OWN[$BS]})"
[ $rc = 0 ] || echo "$out" | head -5 | comment

# --- fan-out: ml_health = the union of the nodes' rows (a staleness value is the age at the call)
HEALTH="SELECT scope, metric, CASE WHEN metric = 'staleness' THEN NULL ELSE value END, unit, threshold, ok, detail FROM ml_health()"
a=$(r -c "$HEALTH" 2>&1)
b=$(for nd in $NODES; do on "$nd" -c "$HEALTH" 2>&1; done)
same_rows "$a" "$b" && [ -n "$a" ]
ok $? "ml_health through the router is the union of the nodes' rows ($(wc -l <<<"$a") rows)"
[ -n "$a" ] && ! same_rows "$a" "$b" && diff <(sort <<<"$a") <(sort <<<"$b") | head -10 | comment

# --- ml_performance and ml_calibration without a symbol = the pooled computation
declare -A NO
for nd in $NODES; do NO[$nd]=$(r -c "SELECT node_no FROM cryptoml_router.nodes WHERE name = '$nd'" 2>/dev/null); done
copy_out() { on "$1" -c "\\copy ($(tr '\n' ' ' <<<"$2")) TO '$3' WITH (FORMAT csv)" 2>/dev/null; }   # \copy: one line
with_trades=0
for nd in $NODES; do
  copy_out "$nd" "SELECT ${NO[$nd]:-0}, entry_bar, completed_at, real_time_pnl::float8, id FROM tradeSimulations
                  WHERE signal_type IN ('LONG', 'SHORT') AND NOT is_active AND completed_at IS NOT NULL AND real_time_pnl IS NOT NULL" \
    "$tmp/trades_$nd.csv"
  copy_out "$nd" "SELECT ${NO[$nd]:-0}, id, confidence::float8, sign(coalesce(raw_value, predicted_value)) = sign(actual_value)
                   FROM persistentForecasts WHERE forecast_type = 'price_direction' AND actual_value IS NOT NULL AND actual_value <> 0
                    AND confidence IS NOT NULL" "$tmp/cal_$nd.csv"
  [ -s "$tmp/trades_$nd.csv" ] && with_trades=$((with_trades + 1))
done
pooled_perf=$(on node1 -c "CREATE TEMP TABLE pool (node_no int, entry_bar timestamp, completed_at timestamp, pnl float8, id int)" \
  -c "\\copy pool FROM '$tmp/trades_node1.csv' WITH (FORMAT csv)" -c "\\copy pool FROM '$tmp/trades_node2.csv' WITH (FORMAT csv)" \
  -c "\\copy pool FROM '$tmp/trades_node3.csv' WITH (FORMAT csv)" \
  -c "WITH s AS (SELECT array_agg(entry_bar ORDER BY entry_bar, node_no, id) AS o, array_agg(completed_at ORDER BY entry_bar, node_no, id) AS c,
                        array_agg(pnl ORDER BY entry_bar, node_no, id) AS pnl, count(*) AS n, min(entry_bar) AS first, max(completed_at) AS last FROM pool)
      SELECT 'simulations', p.*, s.first, s.last FROM s, cryptoml_internal.performance_of(s.o, s.c, s.pnl, s.first, s.last) p
       WHERE s.n > 0 AND s.last > s.first
      UNION ALL
      SELECT 'simulations', s.n::int, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, s.first, s.last FROM s
       WHERE NOT (s.n > 0 AND s.last > s.first)" 2>&1)
a=$(r -c "SELECT * FROM ml_performance()" 2>&1)
same_rows "$a" "$pooled_perf" && [ $with_trades -ge 2 ]
ok $? "ml_performance() through the router equals the pooled computation (trades on $with_trades nodes)"
echo "router: ${a:0:300}" | comment; echo "pooled: ${pooled_perf:0:300}" | comment
pooled_cal=$(on node1 -c "CREATE TEMP TABLE pool (node_no int, id int, conf float8, hit boolean)" \
  -c "\\copy pool FROM '$tmp/cal_node1.csv' WITH (FORMAT csv)" -c "\\copy pool FROM '$tmp/cal_node2.csv' WITH (FORMAT csv)" \
  -c "\\copy pool FROM '$tmp/cal_node3.csv' WITH (FORMAT csv)" \
  -c "SELECT r.* FROM (SELECT array_agg(conf ORDER BY node_no, id) AS conf, array_agg(hit ORDER BY node_no, id) AS hit FROM pool) f,
             cryptoml_internal.reliability_report(f.conf, f.hit) r" 2>&1)
a=$(r -c "SELECT * FROM ml_calibration()" 2>&1)
same_rows "$a" "$pooled_cal" && [ -n "$a" ]
ok $? "ml_calibration() through the router equals the pooled computation ($(cat "$tmp"/cal_node*.csv 2>/dev/null | wc -l) forecasts with outcomes)"
same_rows "$a" "$pooled_cal" || { echo "router: ${a:0:300}" | comment; echo "pooled: ${pooled_cal:0:300}" | comment; }

# --- moving a symbol with the forecaster running: every row and the next forecast kept
MS=SOLUSDT OLD=${OWN[SOLUSDT]}
FC="SELECT (f.symbol, f.horizon, f.forecast_at, f.predicted_change, f.predicted_price, f.confidence, f.signal, f.model_version,
            f.expires_at, f.raw_change, f.lower, f.upper)::text FROM ml_forecast('$MS', $H) f"
# the forecast of the latest bar as stored (a second session reads the row; the first one's
# backend would answer with the values before the rounding of the stored columns)
r -c "$FC" >/dev/null 2>&1
f_before=$(r -c "$FC" 2>&1)
bad=0
for nd in $NODES; do on "$nd" -c "SELECT ml_start_workers()" >/dev/null 2>&1 || bad=1; done
for nd in $NODES; do
  poll "$nd" 30 "SELECT count(*) = 1 FROM ml_workers() WHERE worker = 'forecaster' AND database = current_database() AND pid IS NOT NULL" || bad=1
done
ok $bad "the forecaster runs on every node (ml_start_workers)"
# the counts before the move are taken once the old node's forecaster and monitor have finished a
# cycle (the monitor's first one may open an alert, a row of the symbol; later ones add none)
poll "$OLD" 60 "SELECT count(*) = 2 FROM ml_workers() WHERE worker IN ('forecaster', 'monitor') AND database = current_database() AND cycles >= 1" >/dev/null ||
  echo "the workers of $OLD did not finish a cycle in 60 s" | comment
TP=$(r -c "SELECT min(p.partition) FROM cryptoml_router.partitions p WHERE p.node <> '$OLD'
             AND p.partition NOT IN (SELECT partition FROM cryptoml_router.symbol_map)" 2>/dev/null)
NEW=$(r -c "SELECT node FROM cryptoml_router.partitions WHERE partition = ${TP:-0}" 2>/dev/null)
direct() {  # node, symbol: rows of the parts a user sees
  on "$1" -c "SELECT (SELECT count(*) FROM rollingChartData WHERE symbol = '$2') || ' bars, ' ||
                     (SELECT count(*) FROM mlTrainingSamples WHERE symbol = '$2') || ' samples, ' ||
                     (SELECT count(*) FROM mlTrainingBatches WHERE symbol = '$2') || ' batches, ' ||
                     (SELECT count(*) FROM cryptoml_internal.models m JOIN mlTrainingBatches b USING (batch_id) WHERE b.symbol = '$2') || ' models, ' ||
                     (SELECT count(*) FROM persistentForecasts WHERE symbol = '$2') || ' forecasts, ' ||
                     (SELECT count(*) FROM tradeSimulations WHERE symbol = '$2') || ' trades'" 2>&1
}
d_before=$(direct "$OLD" "$MS")
c_before=$(on "$OLD" -c "SELECT cryptoml_internal.node_counts('$MS')" 2>&1)
out=$(r -c "SELECT * FROM ml_move_symbol('$MS', ${TP:-0})" 2>&1)
rc=$?
[ $rc = 0 ] && [ "$(owner "$MS")" = "$NEW" ] && [ -n "$NEW" ] && [ "$NEW" != "$OLD" ]
ok $? "ml_move_symbol('$MS', $TP) moves it from $OLD to $NEW"
[ $rc = 0 ] || echo "$out" | head -5 | comment
[ $rc = 0 ] && echo "move_seconds=$(sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' <<<"$out")" | comment
c_new=$(on "$NEW" -c "SELECT cryptoml_internal.node_counts('$MS')" 2>&1)
c_old=$(on "$OLD" -c "SELECT coalesce(bool_and(value::bigint = 0), true) FROM jsonb_each_text(cryptoml_internal.node_counts('$MS'))" 2>&1)
[ "$c_new" = "$c_before" ] && [[ "$c_before" == "{"* ]] && [ "$c_old" = t ] && [ "$(direct "$NEW" "$MS")" = "$d_before" ] &&
  [ "$(direct "$OLD" "$MS")" = "0 bars, 0 samples, 0 batches, 0 models, 0 forecasts, 0 trades" ]
ok $? "every row moved: node_counts on $NEW after = on $OLD before, zero on $OLD ($d_before)"
echo "before on $OLD: ${c_before:0:400}" | comment; echo "after on $NEW: ${c_new:0:400}" | comment
f_after=$(r -c "$FC" 2>&1)
[ "$f_after" = "$f_before" ] && [[ "$f_before" == "($MS,"* ]]
ok $? "the next forecast of $MS through the router equals the one before the move"
[ "$f_after" = "$f_before" ] || printf 'before: %s\nafter:  %s\n' "${f_before:0:300}" "${f_after:0:300}" | comment

# --- moving a leader: its new owner publishes it, the old one keeps a replica, every node follows
ML=BTCUSDT MLOLD=$(owner BTCUSDT)
MLTP=$(r -c "SELECT min(p.partition) FROM cryptoml_router.partitions p WHERE p.node <> '$MLOLD'
               AND p.partition NOT IN (SELECT partition FROM cryptoml_router.symbol_map)" 2>/dev/null)
out=$(r -c "SELECT ml_move_symbol('$ML', ${MLTP:-0}) ->> 'to_node'" 2>&1)
rc=$?
MLNEW=$(owner "$ML")
[ $rc = 0 ] && [ "$MLNEW" = "$out" ] && [ "$MLNEW" != "$MLOLD" ] &&
  [ "$(on "$MLOLD" -c "SELECT role FROM cryptoml_internal.node_symbols WHERE symbol = '$ML'" 2>/dev/null)" = replica ] &&
  [ "$(on "$MLNEW" -c "SELECT role FROM cryptoml_internal.node_symbols WHERE symbol = '$ML'" 2>/dev/null)" = owned ] &&
  [ "$(on "$MLNEW" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'cryptoml\_%'" 2>/dev/null)" = 2 ] &&
  [ "$(on "$MLOLD" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'cryptoml\_%'" 2>/dev/null)" = 0 ]
ok $? "ml_move_symbol('$ML') moves a leader from $MLOLD to $MLNEW: owned there, a replica on $MLOLD; the nodes subscribe to $MLNEW, no longer to $MLOLD (it owns no leader now)"
[ $rc = 0 ] || echo "$out" | head -5 | comment
# a new bar through the router reaches every node; the features reading it agree everywhere
bar=$(on "$MLNEW" -c "SELECT jsonb_build_array(jsonb_build_object('timestamp', timestamp + interval '1 minute', 'open', close, 'high', close,
                        'low', close, 'close', close, 'volume', 1)) FROM rollingChartData WHERE symbol = '$ML' ORDER BY timestamp DESC LIMIT 1" 2>/dev/null)
r -c "SELECT ml_insert_bars('$ML', '$bar')" >/dev/null 2>&1
last=$(on "$MLNEW" -c "SELECT max(timestamp) FROM rollingChartData WHERE symbol = '$ML'" 2>/dev/null)
bad=0
for nd in $NODES; do
  poll "$nd" 30 "SELECT max(timestamp) = '$last' FROM rollingChartData WHERE symbol = '$ML'" || bad=1
done
f=""; for nd in $NODES; do f+="$(on "$nd" -c "SELECT md5(cryptoml_internal.latest_features('ETHUSDT', 2)::text)" 2>/dev/null) "; done
[ $bad = 0 ] && [ -n "$last" ] && [ "$(tr ' ' '\n' <<<"$f" | grep . | sort -u | wc -l)" = 1 ]
ok $? "a $ML bar written after the move reaches every node ($last), and set-2 features reading it agree on every node"

# --- changing the leaders on a live cluster: the new leader's history reaches every node first
out=$(r -c "SELECT ml_config_set('features.crossMarketSymbols', '[\"ETHUSDT\", \"SOLUSDT\"]')" 2>&1)
rc=$?
for s2 in $SYMS; do OWN[$s2]=$(owner "$s2"); done
LEADERS="ETHUSDT SOLUSDT"
bar=$(on "${OWN[SOLUSDT]}" -c "SELECT jsonb_build_array(jsonb_build_object('timestamp', timestamp + interval '1 minute', 'open', close, 'high', close,
                        'low', close, 'close', close, 'volume', 1)) FROM rollingChartData WHERE symbol = 'SOLUSDT' ORDER BY timestamp DESC LIMIT 1" 2>/dev/null)
r -c "SELECT ml_insert_bars('SOLUSDT', '$bar')" >/dev/null 2>&1 || rc=1
roles=""
for nd in $NODES; do roles+="$nd:$(on "$nd" -c "SELECT string_agg(symbol || '=' || role, ',' ORDER BY symbol) FROM cryptoml_internal.node_symbols WHERE symbol IN ('BTCUSDT', 'SOLUSDT')" 2>/dev/null) "; done
[ $rc = 0 ] && replicated && [[ "$roles" != *"BTCUSDT=replica"* ]] && [ "$(grep -o 'SOLUSDT=replica' <<<"$roles" | wc -l)" = 2 ]
ok $? "ml_config_set of the leaders on a live cluster: SOLUSDT's history and its next bar reach every node, equal to the owner's; BTCUSDT is no longer replicated ($roles)"
[ $rc = 0 ] || echo "$out" | head -5 | comment

# --- a node stopped with -m immediate: its symbols fail naming it, the others answer; it recovers
DS=HBARUSDT DOWN=$(owner HBARUSDT)
pgbin=$(pg_config --bindir)
if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$pgbin/pg_ctl" -D "$ROOT/.pg/$PREFIX-$DOWN/data" -m immediate -w stop >/dev/null
else "$pgbin/pg_ctl" -D "$ROOT/.pg/$PREFIX-$DOWN/data" -m immediate -w stop >/dev/null; fi
out=$(r -c "SELECT signal FROM ml_forecast('$DS', $H)" 2>&1)
rc=$?
[ -n "$DOWN" ] && [ $rc -ne 0 ] && grep -q "$DOWN" <<<"$out"
ok $? "with $DOWN stopped (-m immediate), ml_forecast('$DS') through the router fails naming $DOWN"
echo "$out" | head -3 | comment
bad=0 others=""
for s in $SYMS; do
  [ "$(owner "$s")" = "$DOWN" ] && continue
  others+="$s "
  r -c "SELECT 1 FROM ml_forecast('$s', $H)" >/dev/null 2>&1 || bad=1
done
[ -n "$others" ] && [ $bad = 0 ]
ok $? "... while the other symbols answer ($others)"
so start "$DOWN" >/dev/null 2>&1
poll router 30 "SELECT count(*) = 1 FROM ml_forecast('$DS', $H)"
ok $? "once $DOWN is started again, ml_forecast('$DS') through the router answers"
# the four server logs (gone with the clusters at exit): no backend crashed, no cryptoml worker died
bad=0
for role in router $NODES; do
  log="$ROOT/.pg/$PREFIX-$role/server.log"
  if grep -E "terminated by signal|server process .* was terminated|PANIC" "$log" | grep . | comment; then bad=1; fi
  if grep -E "cryptoml [a-z]+ FATAL" "$log" | grep -v "FATAL:  \(57P01: \)\?terminating" | grep . | comment; then bad=1; fi
done
ok $bad "no backend crashed and no cryptoml worker died on the router or a node (server logs)"
echo "# scaleout_test_seconds=$((SECONDS - t_start))"
