#!/usr/bin/env bash
# pg_dump / pg_restore of a database with cryptoml and its data (docs/disaster-recovery.md#pg_dump),
# on a throwaway cluster of its own (.pg/dumprestore, port 54483, destroyed at the end even on
# failure): bars (one stored out of time order), samples, models, forecasts, a followed trade, a
# backtest, a config override and logs are dumped with `pg_dump -Fc`, the database is dropped and
# created again, and `pg_restore` (triggers on, as by default) gives back every extension table and
# sequence exactly, indicators included; ml_forecast works. A restore with --disable-triggers is
# compared too. A catalog check: every table and sequence of the extension is registered with
# pg_extension_config_dump, except the two that must not be dumped (named below). TAP output.
set -uo pipefail
source "$(dirname "$0")/lib/tap.bash"
NAME=dumprestore P=${CRYPTOML_DUMP_PORT:-54483}
export CRYPTOML_DB=contrib_regression
cl() { CRYPTOML_PORT=$P bash "$ROOT/scripts/cluster.sh" "$1" $NAME >/dev/null 2>&1; }
DUMP=$(mktemp -d)
[ "$(id -u)" -eq 0 ] && chown postgres "$DUMP"
cleanup() { cl destroy; rm -rf "$DUMP"; }
trap cleanup EXIT
export PGHOST="$ROOT/.pg/$NAME/run" PGPORT=$P PGDATABASE=contrib_regression
PGUSER=$( [ "$(id -u)" -eq 0 ] && echo postgres || id -un ); export PGUSER
# not dumped on purpose: indicator_checkpoint is derived (the rollingChartData trigger rebuilds it
# while the bars are restored); config_version is a lock row the install script creates (a dumped
# copy would collide with it)
NOT_DUMPED="cryptoml_internal.config_version cryptoml_internal.indicator_checkpoint"
echo "1..10"

cl destroy
cl start
q -d postgres -c "CREATE DATABASE contrib_regression" && q -c "SET client_min_messages = warning; CREATE EXTENSION cryptoml CASCADE"

# every table and sequence of the extension: name, rows, md5 of the ordered rows
MEMBERS="SELECT c.oid::regclass::text AS t, c.relkind AS k FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
          JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass WHERE d.deptype = 'e' AND c.relkind IN ('r', 'S')"
fingerprints() {  # $1: tables to leave out (space-separated)
  local sql
  sql=$(q -c "SELECT string_agg(CASE k WHEN 'r' THEN format('SELECT %L AS t, count(*) AS n, coalesce(md5(string_agg(x::text, E''\n'' ORDER BY x::text)), ''-'') AS h FROM %s x', t, t)
                                     ELSE format('SELECT %L, 1, last_value || '' '' || is_called FROM %s', t, t) END, ' UNION ALL ')
               FROM ($MEMBERS) s WHERE t <> ALL (string_to_array('${1:-}', ' '))") || return 1
  q -c "SELECT string_agg(t || ' ' || n || ' ' || h, E'\n' ORDER BY t) FROM ($sql) f"
}
bars() {  # symbol, first minute, count, seed
  q -c "SELECT setseed($4);
        INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
        SELECT '$1', '2021-02-01'::timestamp + make_interval(mins => k),
               round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
        FROM (SELECT k, 100 * exp(sum(r) OVER (ORDER BY k)) AS c
                FROM (SELECT k, (random() - 0.5) * 0.002 AS r FROM generate_series($2, $2 + $3 - 1) k) x) y" >/dev/null
}

# --- the data: every kind of row the extension keeps
q -c "SELECT ml_config_set('training.forecastHorizons', '[5]')" >/dev/null
bars BTCUSDT 0 2000 0.21
bars BTCUSDT 2001 399 0.22      # minute 2000 is missing ...
bars ETHUSDT 0 300 0.23
q -c "SELECT ml_build_samples('BTCUSDT')" >/dev/null
m=$(q -c "SELECT (ml_deploy(batch_id)).batch_id FROM ml_train('BTCUSDT', 5, options => '{\"windowSize\": 2000}')")
q -c "SELECT count(*) FROM ml_forecast('BTCUSDT', 5)" >/dev/null 2>&1
trade=$(q -c "SELECT (ml_simulate('BTCUSDT', 5)).id")
q -c "UPDATE tradeSimulations SET signal_type = 'LONG', tp_price = entry_price * 1.5, sl_price = entry_price * 0.5 WHERE id = $trade" >/dev/null
bars BTCUSDT 2400 2 0.24        # the trade follows these bars (still open: horizon 5)
bars BTCUSDT 2000 1 0.25        # ... and arrives late: stored after later bars (the trigger recomputes the tail)
q -c "SELECT count(*) FROM ml_forecast('BTCUSDT', 5)" >/dev/null 2>&1
q -c "SELECT count(*) FROM ml_backtest('BTCUSDT', 5, options => '{\"windowSize\": 600, \"retrainEvery\": 600, \"numRounds\": 50}')" >/dev/null
q -c "SELECT ml_config_set('training.validationSplit', '0.25')" >/dev/null
q -c "SELECT ml_log('info', 'test', 'dump_restore', 'a log row to dump')" >/dev/null
q -c "SELECT ml_stop_workers()" >/dev/null 2>&1
counts=$(q -c "SELECT (SELECT count(*) FROM rollingChartData) || ' bars, ' || (SELECT count(*) FROM mlTrainingSamples) || ' samples, '
                || (SELECT count(*) FROM cryptoml_internal.models) || ' models, ' || (SELECT count(*) FROM persistentForecasts) || ' forecasts, '
                || (SELECT count(*) FROM tradeSimulations WHERE signal_type = 'LONG' AND total_minutes > 0) || ' followed trade, '
                || (SELECT count(*) FROM mlBacktestPredictions) || ' backtest predictions, ' || (SELECT count(*) FROM systemLogs) || ' logs'")
ref=$(fingerprints)
ref_indicators=$(q -c "SELECT md5(string_agg(concat_ws(',', symbol, timestamp, rsi, macd, macd_signal, macd_hist, bollinger_upper, bollinger_middle,
                        bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete), ';' ORDER BY symbol, timestamp)) FROM rollingChartData")
ref_ckpt=$(q -c "SELECT md5(string_agg(symbol || bar_ts || bars || md5(state), ',' ORDER BY symbol, bar_ts)) FROM cryptoml_internal.indicator_checkpoint")
[ "$(q -c "SELECT count(*) > 0 FROM mlBacktestPredictions")" = t ] && [ -n "$m" ] &&
  [ "$(q -c "SELECT count(*) FROM tradeSimulations WHERE signal_type = 'LONG' AND total_minutes > 0")" = 1 ]
ok $? "a database with bars, samples, a model, forecasts, a followed trade, a backtest, a config override and logs ($counts)"

# --- the catalog: what pg_dump will carry
missing=$(q -c "SELECT string_agg(t, ' ' ORDER BY t) FROM ($MEMBERS) s
                 WHERE t::regclass::oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'cryptoml')::oid[])")
[ "$missing" = "$NOT_DUMPED" ]
ok $? "every table and sequence of the extension is registered with pg_extension_config_dump except $NOT_DUMPED (unregistered: ${missing:-none})"

# --- pg_dump -Fc, drop, create, pg_restore (triggers on)
redo_db() {
  q -d postgres -c "DROP DATABASE contrib_regression WITH (FORCE)" && q -d postgres -c "CREATE DATABASE contrib_regression"
}
out=$(pg_dump -Fc -f "$DUMP/cryptoml.dump" 2>&1)
ok $? "pg_dump -Fc ($(du -h "$DUMP/cryptoml.dump" | cut -f1))"
[ -z "$out" ] || echo "$out" | sed 's/^/# /'
redo_db
t0=$SECONDS
out=$(pg_restore --exit-on-error -d contrib_regression "$DUMP/cryptoml.dump" 2>&1)
ok $? "pg_restore into a new database, triggers on ($((SECONDS - t0)) s)"
[ -z "$out" ] || echo "$out" | head -20 | sed 's/^/# /'
# config_version is not dumped: CREATE EXTENSION made its row anew (version 0); it only serializes
# configuration changes, so its counter has no meaning to carry over
got=$(fingerprints cryptoml_internal.config_version)
want=$(grep -v '^cryptoml_internal.config_version ' <<<"$ref")
[ "$got" = "$want" ]
ok $? "every extension table and sequence equals the original (bars with their indicators, models and bytes, forecasts, trades, backtest, config, logs)"
[ "$got" = "$want" ] || diff <(echo "$want") <(echo "$got") | sed 's/^/# /'
[ "$(q -c "SELECT md5(string_agg(symbol || bar_ts || bars || md5(state), ',' ORDER BY symbol, bar_ts)) FROM cryptoml_internal.indicator_checkpoint")" = "$ref_ckpt" ] &&
  [ "$(q -c "SELECT bool_and(up_to_date) FROM ml_indicator_status")" = t ]
ok $? "the indicator checkpoints, not dumped, are rebuilt by the trigger as the bars are restored"
f=$(q -c "SELECT model_version || ' ' || signal FROM ml_forecast('BTCUSDT', 5)" 2>/dev/null)
[ "${f%% *}" = "$m" ]
ok $? "ml_forecast works on the restored database ($f)"
tm0=$(q -c "SELECT total_minutes FROM tradeSimulations WHERE signal_type = 'LONG'")
bars BTCUSDT 2402 5 0.26
tm1=$(q -c "SELECT total_minutes FROM tradeSimulations WHERE signal_type = 'LONG'")
[ "$(q -c "SELECT count(*) FILTER (WHERE is_complete) = 5 FROM rollingChartData WHERE timestamp >= '2021-02-01'::timestamp + interval '2402 minutes'")" = t ] &&
  [ "${tm1:-0}" -gt "${tm0:-0}" ]
ok $? "new bars get their indicators and the restored trade follows them ($tm0 -> $tm1 minutes)"

# --- a data-only restore into CREATE EXTENSION's empty tables, with --disable-triggers (which
# pg_restore applies to data-only restores only): the stored indicators are kept as dumped, but
# no checkpoint is written until ml_recompute_indicators() runs
redo_db
q -c "SET client_min_messages = warning; CREATE EXTENSION cryptoml CASCADE"
out=$(pg_restore --exit-on-error --data-only --disable-triggers -d contrib_regression "$DUMP/cryptoml.dump" 2>&1)
rc=$?
got2=$(fingerprints "cryptoml_internal.config_version cryptoml_internal.indicator_checkpoint")
ckpts=$(q -c "SELECT count(*) FROM cryptoml_internal.indicator_checkpoint")
[ $rc -eq 0 ] && [ "$got2" = "$(grep -v '^cryptoml_internal.indicator_checkpoint ' <<<"$want")" ] && [ "$ckpts" = 0 ]
ok $? "pg_restore --data-only --disable-triggers: the tables are equal too, but no indicator checkpoint exists ($ckpts)"
[ $rc -eq 0 ] || echo "$out" | head -20 | sed 's/^/# /'
q -c "CALL ml_recompute_indicators()" >/dev/null 2>&1
[ "$(q -c "SELECT md5(string_agg(concat_ws(',', symbol, timestamp, rsi, macd, macd_signal, macd_hist, bollinger_upper, bollinger_middle,
           bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete), ';' ORDER BY symbol, timestamp)) FROM rollingChartData")" = "$ref_indicators" ] &&
  [ "$(q -c "SELECT md5(string_agg(symbol || bar_ts || bars || md5(state), ',' ORDER BY symbol, bar_ts)) FROM cryptoml_internal.indicator_checkpoint")" = "$ref_ckpt" ] &&
  [ "$(q -c "SELECT bool_and(up_to_date) FROM ml_indicator_status")" = t ]
ok $? "then CALL ml_recompute_indicators() rebuilds the checkpoints and gives the same indicators"
