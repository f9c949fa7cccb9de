// ml_dashboard(symbol text DEFAULT NULL) -> text: the self-contained HTML page of issue 16
// (src/core/dashboard.hpp renders it).
//
// One read-only SPI query gathers every figure as one JSON document, from the readers that already
// compute them: cryptoml_internal.chart_quality (what ml_health() and ml_monitor_check() judge:
// staleness and completeness over the last 60 minutes), ml_forecasts_live, the open alerts of
// cryptoml_internal.monitor_alerts, mlTrainingBatches (is_production) with the outcome window
// model_honesty() reads and cryptoml_internal.reliability_table/reliability_summary,
// ml_workers(), and the latest row of mlBacktestRuns with its trades and bars. The C++ side parses
// and renders inside guarded(); this frame holds no C++ object (the seam rules, guard.hpp).
#include "dashboard.hpp"

#include "guard.hpp"
#include "log.hpp"

extern "C" {
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(ml_dashboard);
}

namespace {

// The last 240 bars of the symbol y.symbol (the bars the price chart shows). %1$s: the schema.
#define CML_LAST_BARS "(SELECT r.* FROM %1$s.rollingchartdata r WHERE r.symbol = y.symbol ORDER BY r.timestamp DESC LIMIT 240)"
// A bar's values are consistent: the rule of cryptoml_internal.chart_quality's invalid count.
#define CML_BAR_VALID                                                                                                        \
  "coalesce(r.open > 0 AND r.high > 0 AND r.low > 0 AND r.close > 0 AND coalesce(r.volume >= 0, true) "                      \
  "AND r.high >= greatest(r.open, r.close, r.low) AND r.low <= least(r.open, r.close) "                                      \
  "AND coalesce(r.rsi BETWEEN 0 AND 100, true) AND coalesce(r.stochastic_k BETWEEN 0 AND 100, true) "                        \
  "AND coalesce(r.stochastic_d BETWEEN 0 AND 100, true) AND coalesce(r.volatility >= 0, true) "                              \
  "AND coalesce(r.bollinger_lower <= r.bollinger_middle AND r.bollinger_middle <= r.bollinger_upper, true), false)"
#define CML_UTC_TEXT(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'"

// $1: the symbol, or NULL for every symbol (configured or with bars). Times of the seed tables are
// printed as stored (bar times are UTC); timestamptz values in UTC.
const char* const kQuery =
    "WITH cfg AS ("
    "  SELECT %1$s.ml_config_get('monitoring') AS mon, %1$s.ml_config_get('symbols') AS syms,"
    "         (%1$s.ml_config_get('inference.confidenceThreshold'))::float8 AS conf_threshold,"
    "         (%1$s.ml_config_get('inference.intervalCoverage'))::float8 AS cov_target,"
    "         (%1$s.ml_config_get('inference.calibrationWindow'))::integer AS cal_window,"
    "         now() AT TIME ZONE 'UTC' AS utc, now()::timestamp AS local_now),"
    " sy AS ("
    "  SELECT u.symbol, bool_or(u.configured) AS configured FROM ("
    "    SELECT c.s AS symbol, true AS configured FROM cfg, jsonb_array_elements_text(cfg.syms) AS c(s)"
    "    UNION ALL SELECT cs.symbol, false FROM cryptoml_internal.chart_symbols() AS cs(symbol)) u"
    "   WHERE $1 IS NULL OR u.symbol = $1 GROUP BY u.symbol)"
    " SELECT jsonb_build_object("
    "  'generated_at', to_char(cfg.utc, 'YYYY-MM-DD HH24:MI:SS') || ' UTC',"
    "  'symbol_filter', $1,"
    // ---- symbols
    "  'symbols', (SELECT coalesce(jsonb_agg(z.js ORDER BY z.sym), '[]') FROM ("
    "    SELECT y.symbol AS sym, jsonb_build_object("
    "      'symbol', y.symbol, 'configured', y.configured,"
    "      'latest_bar', q.latest_bar::text, 'latest_bar_epoch', extract(epoch FROM q.latest_bar)::float8,"
    "      'staleness_seconds', q.staleness_seconds,"
    "      'staleness_threshold', (cfg.mon #>> '{alertThresholds,staleData}')::float8,"
    "      'completeness', q.complete::float8 / q.expected,"
    "      'completeness_threshold', (cfg.mon ->> 'completenessThreshold')::float8,"
    "      'bars', (SELECT coalesce(jsonb_agg(jsonb_build_array(extract(epoch FROM r.timestamp)::float8, r.close::float8) ORDER BY r.timestamp), '[]')"
    "                 FROM " CML_LAST_BARS " r),"
    "      'forecasts', (SELECT coalesce(jsonb_agg(jsonb_build_object("
    "          'horizon', f.forecast_horizon, 'forecast_at', f.bar_timestamp::text,"
    "          'forecast_at_epoch', extract(epoch FROM f.bar_timestamp)::float8,"
    "          'target_at', (f.bar_timestamp + make_interval(mins => f.forecast_horizon))::text,"
    "          'target_at_epoch', extract(epoch FROM f.bar_timestamp + make_interval(mins => f.forecast_horizon))::float8,"
    "          'close', c.close, 'predicted_change', f.predicted_value::float8,"
    "          'predicted_price', c.close * (1 + f.predicted_value::float8 / 100),"
    "          'lower_price', c.close * (1 + f.lower::float8 / 100), 'upper_price', c.close * (1 + f.upper::float8 / 100),"
    "          'signal', CASE WHEN f.predicted_value > 0 AND f.stored_confidence >= cfg.conf_threshold THEN 'LONG'"
    "                         WHEN f.predicted_value < 0 AND f.stored_confidence >= cfg.conf_threshold THEN 'SHORT' ELSE 'WAIT' END,"
    "          'confidence', f.stored_confidence::float8, 'live_confidence', f.confidence::float8,"
    "          'model_version', f.model_version) ORDER BY f.forecast_horizon), '[]')"
    "        FROM (SELECT DISTINCT ON (l.forecast_horizon) l.* FROM %1$s.ml_forecasts_live l"
    "               WHERE l.symbol = y.symbol AND l.forecast_type = 'price_direction'"
    "               ORDER BY l.forecast_horizon, l.created_at DESC, l.id DESC) f"
    "        LEFT JOIN LATERAL (SELECT r.close::float8 AS close FROM %1$s.rollingchartdata r"
    "                            WHERE r.symbol = y.symbol AND r.timestamp = f.bar_timestamp) c ON true),"
    "      'alerts', (SELECT coalesce(jsonb_agg(jsonb_build_object("
    "          'kind', m.alert, 'level', m.level, 'value', m.value, 'threshold', m.threshold,"
    "          'since', " CML_UTC_TEXT("m.started_at") ", 'since_epoch', extract(epoch FROM m.started_at)::float8,"
    "          'message', coalesce((SELECT l.message FROM %1$s.systemlogs l WHERE l.category = 'monitoring' AND l.subcategory = m.alert"
    "                                  AND l.symbol = y.symbol ORDER BY l.id DESC LIMIT 1),"
    "                              m.alert || ': value ' || coalesce(m.value::text, 'none') || ', threshold ' || m.threshold))"
    "          ORDER BY m.alert), '[]')"
    "        FROM cryptoml_internal.monitor_alerts m WHERE m.symbol = y.symbol),"
    "      'anomalies', (SELECT coalesce(jsonb_agg(a.js ORDER BY a.ts DESC), '[]') FROM ("
    "          SELECT x.ts, x.js FROM ("
    "            SELECT g.timestamp AS ts, jsonb_build_object('kind', 'gap', 'at', g.timestamp::text,"
    "                     'at_epoch', extract(epoch FROM g.timestamp)::float8,"
    "                     'detail', (extract(epoch FROM g.next_ts - g.timestamp) / 60)::bigint - 1 || ' minutes without a bar after this bar') AS js"
    "              FROM (SELECT r.timestamp, lead(r.timestamp) OVER (ORDER BY r.timestamp) AS next_ts FROM " CML_LAST_BARS " r) g"
    "             WHERE g.next_ts > g.timestamp + interval '1 minute'"
    "            UNION ALL"
    "            SELECT r.timestamp, jsonb_build_object('kind', 'invalid_bar', 'at', r.timestamp::text,"
    "                     'at_epoch', extract(epoch FROM r.timestamp)::float8,"
    "                     'detail', 'inconsistent prices or out-of-range indicators')"
    "              FROM " CML_LAST_BARS " r WHERE NOT " CML_BAR_VALID
    "            UNION ALL"
    "            SELECT max(r.timestamp), jsonb_build_object('kind', 'incomplete', 'at', max(r.timestamp)::text,"
    "                     'at_epoch', extract(epoch FROM max(r.timestamp))::float8,"
    "                     'detail', count(*) || ' of the bars shown have an indicator missing (is_complete not true), the latest at this time')"
    "              FROM " CML_LAST_BARS " r WHERE r.is_complete IS NOT TRUE HAVING count(*) > 0) x"
    "          ORDER BY x.ts DESC LIMIT 20) a)"
    "    ) AS js"
    "    FROM sy y, LATERAL cryptoml_internal.chart_quality(y.symbol, cfg.utc, 60) q) z),"
    // ---- production models, over the outcome window model_honesty() reads
    "  'models', (SELECT coalesce(jsonb_agg(mm.js ORDER BY mm.s, mm.h, mm.t), '[]') FROM ("
    "    SELECT b.symbol AS s, b.forecast_horizon AS h, b.model_type AS t, jsonb_build_object("
    "      'symbol', b.symbol, 'horizon', b.forecast_horizon, 'model_type', b.model_type, 'batch_id', b.batch_id,"
    "      'created_at', b.created_at::text, 'age_hours', extract(epoch FROM cfg.local_now - b.created_at)::float8 / 3600,"
    "      'live_n', x.n, 'live_hits', x.hits,"
    "      'ece', (SELECT s.ece FROM cryptoml_internal.reliability_summary(x.conf, x.hit, 1) s),"
    "      'reliability', (SELECT coalesce(jsonb_agg(jsonb_build_object('bucket', t.bucket, 'count', t.forecasts,"
    "                                'stated', t.stated_confidence, 'observed', t.observed_hit_rate) ORDER BY t.stated_confidence), '[]')"
    "                        FROM cryptoml_internal.reliability_table(x.conf, x.hit) t),"
    "      'interval_coverage', x.coverage, 'with_interval', x.with_interval, 'coverage_target', cfg.cov_target,"
    "      'coverage_gap', (cfg.mon #>> '{alertThresholds,intervalCoverageGap}')::float8) AS js"
    "    FROM %1$s.mltrainingbatches b,"
    "    LATERAL (SELECT count(*) FILTER (WHERE f.actual <> 0) AS n,"
    "                    count(*) FILTER (WHERE f.actual <> 0 AND sign(f.lean) = sign(f.actual)) AS hits,"
    "                    avg((f.actual BETWEEN f.lo AND f.hi)::int) FILTER (WHERE f.lo IS NOT NULL)::float8 AS coverage,"
    "                    count(*) FILTER (WHERE f.lo IS NOT NULL) AS with_interval,"
    "                    array_agg(f.conf) FILTER (WHERE f.actual <> 0) AS conf,"
    "                    array_agg(sign(f.lean) = sign(f.actual)) FILTER (WHERE f.actual <> 0) AS hit"
    "               FROM (SELECT DISTINCT ON (p.bar_timestamp) p.confidence::float8 AS conf, p.actual_value::float8 AS actual,"
    "                            coalesce(p.raw_value, p.predicted_value)::float8 AS lean, p.lower::float8 AS lo, p.upper::float8 AS hi"
    "                       FROM %1$s.persistentforecasts p"
    "                      WHERE p.model_version = b.batch_id AND p.forecast_horizon = b.forecast_horizon"
    "                        AND p.actual_value IS NOT NULL AND p.forecast_type = 'price_direction'"
    "                      ORDER BY p.bar_timestamp DESC, p.id DESC LIMIT cfg.cal_window) f) x"
    "    WHERE b.is_production AND ($1 IS NULL OR b.symbol = $1)) mm),"
    // ---- workers
    "  'workers', (SELECT coalesce(jsonb_agg(jsonb_build_object("
    "      'worker', w.worker, 'database', w.database, 'state', w.state, 'pid', w.pid, 'errors', w.errors,"
    "      'last_error', w.last_error,"
    "      'last_run', " CML_UTC_TEXT("w.last_run") ", 'last_run_epoch', extract(epoch FROM w.last_run)::float8,"
    "      'last_error_at', " CML_UTC_TEXT("le.at") ", 'last_error_at_epoch', extract(epoch FROM le.at)::float8)"
    "      ORDER BY w.ordinality), '[]')"
    "    FROM %1$s.ml_workers() WITH ORDINALITY AS w"  // no alias list: a column added to ml_workers() shifts nothing
    "    LEFT JOIN LATERAL (SELECT max(l.timestamp) AT TIME ZONE current_setting('TimeZone') AS at FROM %1$s.systemlogs l"
    "                        WHERE w.errors > 0 AND w.database = current_database() AND l.category = 'worker'"
    "                          AND l.subcategory = w.worker AND l.level = 'error') le ON true),"
    // ---- the latest backtest: its bars (at most ~400, first and last kept) and its trades
    "  'backtest', (SELECT jsonb_build_object("
    "      'run_id', r.run_id, 'symbol', r.symbol, 'horizon', r.forecast_horizon, 'model_type', r.model_type,"
    "      'from', r.from_ts::text, 'from_epoch', extract(epoch FROM r.from_ts)::float8,"
    "      'to', r.to_ts::text, 'to_epoch', extract(epoch FROM r.to_ts)::float8,"
    "      'predictions', r.predictions,"
    "      'trades', (SELECT count(*) FROM %1$s.mlbacktesttrades t WHERE t.run_id = r.run_id),"
    "      'fee_pct', coalesce((r.options ->> 'feePct')::float8, 0.1),"
    "      'slippage_pct', coalesce((r.options ->> 'slippagePct')::float8, 0.05),"
    "      'bars', (SELECT coalesce(jsonb_agg(jsonb_build_array(extract(epoch FROM k.timestamp)::float8, k.close) ORDER BY k.timestamp), '[]')"
    "                 FROM (SELECT c.timestamp, c.close::float8 AS close, row_number() OVER (ORDER BY c.timestamp) AS rn,"
    "                              count(*) OVER () AS cnt"
    "                         FROM %1$s.rollingchartdata c WHERE c.symbol = r.symbol AND c.timestamp BETWEEN r.from_ts AND r.to_ts) k"
    "                WHERE k.rn = k.cnt OR (k.rn - 1) %% greatest(1, ceil(k.cnt / 400.0))::bigint = 0),"
    "      'trade_pnl', (SELECT coalesce(jsonb_agg(jsonb_build_array(extract(epoch FROM t.closed_at)::float8, t.pnl_pct) ORDER BY t.trade_no), '[]')"
    "                      FROM %1$s.mlbacktesttrades t WHERE t.run_id = r.run_id))"
    "    FROM %1$s.mlbacktestruns r WHERE $1 IS NULL OR r.symbol = $1 ORDER BY r.created_at DESC, r.run_id LIMIT 1)"
    " )::text FROM cfg";

const char* const kKnownSymbol =
    "SELECT EXISTS (SELECT 1 FROM %1$s.rollingchartdata r WHERE r.symbol = $1)"
    "    OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(%1$s.ml_config_get('symbols')) AS c(s) WHERE c.s = $1)";

}  // namespace

// ml_dashboard(symbol text DEFAULT NULL) -> text: the HTML page (every symbol when NULL).
Datum ml_dashboard(PG_FUNCTION_ARGS) {
  char* symbol = PG_ARGISNULL(0) ? nullptr : cml::pg::symbol_arg(PG_GETARG_TEXT_PP(0));
  SPI_connect();
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) elog(ERROR, "cryptoml: extension schema not found");
  Oid types[1] = {TEXTOID};
  Datum values[1] = {symbol != nullptr ? CStringGetTextDatum(symbol) : (Datum)0};
  const char nulls[1] = {symbol != nullptr ? ' ' : 'n'};
  if (symbol != nullptr) {
    if (SPI_execute_with_args(psprintf(kKnownSymbol, schema), 1, types, values, nulls, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
      elog(ERROR, "cryptoml: looking up the symbol failed");
    bool isnull;
    Datum known = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull || !DatumGetBool(known))
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown symbol \"%s\"", symbol),
                      errdetail("rule: the symbol has bars in rollingChartData or is in the symbols setting"),
                      errhint("SELECT ml_dashboard() shows every symbol.")));
  }
  if (SPI_execute_with_args(psprintf(kQuery, schema), 1, types, values, nulls, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
    elog(ERROR, "cryptoml: reading the dashboard's figures failed");
  bool isnull;
  Datum doc = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  if (isnull) elog(ERROR, "cryptoml: the dashboard's figures are NULL");
  // copied out of SPI's memory, which SPI_finish frees
  text* t = DatumGetTextPP(doc);
  const size_t len = VARSIZE_ANY_EXHDR(t);
  char* json = (char*)SPI_palloc(len + 1);
  memcpy(json, VARDATA_ANY(t), len);
  json[len] = '\0';
  SPI_finish();

  char* html = nullptr;
  cml::pg::guarded("ml_dashboard", [&] {
    html = cml::pg::pstrdup_nothrow(cml::render_dashboard(cml::dashboard_data_from_json(std::string(json, len))));
  });
  PG_RETURN_TEXT_P(cstring_to_text(html));
}
