// Trade simulation and performance analytics (issue 7): SQL wrappers over src/core/trading.*.
// The SQL side (ml_simulate, the trade-following trigger, ml_performance, ml_forecast_quality)
// reads the rows and calls these with arrays; everything here is a pure computation.
//
// Frames that call PostgreSQL hold no C++ object with a destructor: inputs are copied into
// palloc'd arrays first, the C++ work runs inside guarded(), and results are copied into plain
// locals before any Datum is built.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "trading.hpp"

#include "follow.hpp"
#include "guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cml_trade_levels);
PG_FUNCTION_INFO_V1(cml_check_trade_rule);
PG_FUNCTION_INFO_V1(cml_trade_evaluate);
PG_FUNCTION_INFO_V1(cml_performance_of);
PG_FUNCTION_INFO_V1(cml_random_entry_trades);
PG_FUNCTION_INFO_V1(cml_follow_trade);
}

namespace {

constexpr int64 kUsecPerMinute = INT64CONST(60000000);

int64 to_minutes(Timestamp ts) { return cml::pg::minute_of(ts); }
Timestamp from_minutes(int64 m) { return m * kUsecPerMinute; }

cml::Side read_side(text* t) {
  char* s = text_to_cstring(t);
  if (strcmp(s, "LONG") == 0) return cml::Side::Long;
  if (strcmp(s, "SHORT") == 0) return cml::Side::Short;
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid side \"%s\"", s),
                  errdetail("rule: side is LONG or SHORT")));
  return cml::Side::Long;
}

// A one-dimensional array without NULLs, of float8 or timestamp, copied out.
int read_array(ArrayType* a, Oid type, const char* name, Datum** out) {
  if (ARR_NDIM(a) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("%s must be a one-dimensional array", name)));
  bool* nulls;
  int n;
  deconstruct_array(a, type, 8, true, TYPALIGN_DOUBLE, out, &nulls, &n);
  for (int i = 0; i < n; i++)
    if (nulls[i])
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s[%d] is NULL", name, i + 1)));
  return n;
}

double* read_float8s(ArrayType* a, const char* name, int* n) {
  Datum* d;
  *n = read_array(a, FLOAT8OID, name, &d);
  double* v = (double*)palloc(sizeof(double) * Max(*n, 1));
  for (int i = 0; i < *n; i++) v[i] = DatumGetFloat8(d[i]);
  return v;
}

int64* read_minutes(ArrayType* a, const char* name, int* n) {
  Datum* d;
  *n = read_array(a, TIMESTAMPOID, name, &d);
  int64* v = (int64*)palloc(sizeof(int64) * Max(*n, 1));
  for (int i = 0; i < *n; i++) v[i] = to_minutes(DatumGetTimestamp(d[i]));
  return v;
}

void same_length(int n, int m, const char* a, const char* b) {
  if (n != m)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("%s has %d elements and %s %d", a, n, b, m),
                    errdetail("rule: the arrays describe the same bars or trades, element by element")));
}

TupleDesc result_desc(FunctionCallInfo fcinfo) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "cryptoml: expected a composite result");
  return BlessTupleDesc(desc);
}

// A float8 result: NULL when undefined (NaN); infinities stay (a profit factor with no loss).
void put_double(Datum* v, bool* n, int i, double x) {
  n[i] = std::isnan(x);
  v[i] = Float8GetDatum(n[i] ? 0.0 : x);
}

// A trade followed over bars in time order (src/core/trading.hpp): what trade_evaluate returns
// and follow_trade stores.
struct Evaluation {
  double cur = 0, pnl = 0, best = 0, worst = 0, exit_price = 0;
  int profitable = 0, total = 0;
  bool active = true;
  int64 completed = 0;
  char reason[16] = "";
};

void evaluate_trade(cml::Side side, double entry, double tp, double sl, int64 opened, int horizon, double fee,
                    double slip, int n, const int64* ts, const double* high, const double* low, const double* close,
                    Evaluation* out) {
  Evaluation r;
  cml::pg::guarded("trade evaluation", [&] {
    cml::TradeCosts costs;
    costs.fee_pct = fee;
    costs.slippage_pct = slip;
    costs.validate();
    cml::TradeState t = cml::open_trade_at_levels(side, opened, entry, tp, sl, horizon);
    for (int i = 0; i < n && t.active; i++) {
      cml::Bar b{ts[i], close[i], high[i], low[i], close[i]};
      cml::apply_bar(t, b, costs);
    }
    r.cur = t.current_price;
    r.pnl = t.pnl_pct;
    r.best = t.highest_profit_pct;
    r.worst = t.lowest_loss_pct;
    r.profitable = t.profitable_minutes;
    r.total = t.total_minutes;
    r.active = t.active;
    r.completed = t.completed_at;
    r.exit_price = t.exit_price;
    strncpy(r.reason, t.exit_reason.c_str(), sizeof r.reason - 1);
  });
  *out = r;
}

}  // namespace

// cryptoml_internal.trade_levels(side, entry, sigma_pct, horizon, tp_sigma, sl_sigma) -> (tp, sl)
// cryptoml_internal.check_trade_rule(tp_sigma, sl_sigma): the trade rule's check alone
// (src/core/trading.hpp), for callers that must refuse a bad rule whatever the signal.
Datum cml_check_trade_rule(PG_FUNCTION_ARGS) {
  double tp_sigma = PG_GETARG_FLOAT8(0), sl_sigma = PG_GETARG_FLOAT8(1);
  cml::pg::guarded("ml_simulate", [&] {
    cml::TradeRule rule;
    rule.tp_sigma = tp_sigma;
    rule.sl_sigma = sl_sigma;
    rule.validate();
  });
  PG_RETURN_VOID();
}

Datum cml_trade_levels(PG_FUNCTION_ARGS) {
  cml::Side side = read_side(PG_GETARG_TEXT_PP(0));
  double entry = PG_GETARG_FLOAT8(1), sigma = PG_GETARG_FLOAT8(2);
  int horizon = PG_GETARG_INT32(3);
  double tp_sigma = PG_GETARG_FLOAT8(4), sl_sigma = PG_GETARG_FLOAT8(5);
  double tp = 0, sl = 0;
  cml::pg::guarded("ml_simulate", [&] {
    cml::TradeRule rule;
    rule.tp_sigma = tp_sigma;
    rule.sl_sigma = sl_sigma;
    cml::TradeState t = cml::open_trade(side, 0, entry, sigma, horizon, rule);
    tp = t.tp;
    sl = t.sl;
  });
  TupleDesc desc = result_desc(fcinfo);
  Datum v[2] = {Float8GetDatum(tp), Float8GetDatum(sl)};
  bool n[2] = {false, false};
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, n)));
}

// cryptoml_internal.trade_evaluate(side, entry, tp, sl, opened_at, horizon, fee_pct, slippage_pct,
// ts[], high[], low[], close[]): the trade followed over the given bars (in time order).
Datum cml_trade_evaluate(PG_FUNCTION_ARGS) {
  cml::Side side = read_side(PG_GETARG_TEXT_PP(0));
  double entry = PG_GETARG_FLOAT8(1), tp = PG_GETARG_FLOAT8(2), sl = PG_GETARG_FLOAT8(3);
  int64 opened = to_minutes(PG_GETARG_TIMESTAMP(4));
  int horizon = PG_GETARG_INT32(5);
  double fee = PG_GETARG_FLOAT8(6), slip = PG_GETARG_FLOAT8(7);
  int n, nh, nl, nc;
  int64* ts = read_minutes(PG_GETARG_ARRAYTYPE_P(8), "ts", &n);
  double* high = read_float8s(PG_GETARG_ARRAYTYPE_P(9), "high", &nh);
  double* low = read_float8s(PG_GETARG_ARRAYTYPE_P(10), "low", &nl);
  double* close = read_float8s(PG_GETARG_ARRAYTYPE_P(11), "close", &nc);
  same_length(n, nh, "ts", "high");
  same_length(n, nl, "ts", "low");
  same_length(n, nc, "ts", "close");
  Evaluation r;
  evaluate_trade(side, entry, tp, sl, opened, horizon, fee, slip, n, ts, high, low, close, &r);
  TupleDesc desc = result_desc(fcinfo);
  Datum v[10];
  bool nu[10] = {false};
  put_double(v, nu, 0, r.cur);
  put_double(v, nu, 1, r.pnl);
  put_double(v, nu, 2, r.best);
  put_double(v, nu, 3, r.worst);
  v[4] = Int32GetDatum(r.profitable);
  v[5] = Int32GetDatum(r.total);
  v[6] = BoolGetDatum(r.active);
  v[7] = TimestampGetDatum(from_minutes(r.completed));
  nu[7] = r.active;
  v[8] = CStringGetTextDatum(r.reason);
  nu[8] = r.reason[0] == '\0';
  put_double(v, nu, 9, r.active ? NAN : r.exit_price);
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, nu)));
}

// cryptoml_internal.performance_of(opened_at[], closed_at[], pnl_pct[], period_start, period_end)
Datum cml_performance_of(PG_FUNCTION_ARGS) {
  int n, m, k;
  int64* opened = read_minutes(PG_GETARG_ARRAYTYPE_P(0), "opened_at", &n);
  int64* closed = read_minutes(PG_GETARG_ARRAYTYPE_P(1), "closed_at", &m);
  double* pnl = read_float8s(PG_GETARG_ARRAYTYPE_P(2), "pnl_pct", &k);
  same_length(n, m, "opened_at", "closed_at");
  same_length(n, k, "opened_at", "pnl_pct");
  int64 start = to_minutes(PG_GETARG_TIMESTAMP(3)), end = to_minutes(PG_GETARG_TIMESTAMP(4));
  if (end <= start)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the period must end after it starts"),
                    errdetail("rule: period_start < period_end")));
  double r[10];
  int trades = 0;
  cml::pg::guarded("ml_performance", [&] {
    std::vector<cml::ClosedTrade> list;
    list.reserve(n);
    for (int i = 0; i < n; i++) list.push_back(cml::ClosedTrade{opened[i], closed[i], pnl[i]});
    cml::Performance p = cml::performance(list, start, end, cml::kMinutesPerYear);
    trades = p.trades;
    double x[10] = {p.win_rate, p.avg_pnl, p.median_pnl, p.profit_factor, p.sharpe, p.sortino, p.max_drawdown_pct,
                    p.exposure, p.total_return_pct, p.trades_per_year};
    memcpy(r, x, sizeof r);
  });
  TupleDesc desc = result_desc(fcinfo);
  Datum v[11];
  bool nu[11] = {false};
  v[0] = Int32GetDatum(trades);
  for (int i = 0; i < 10; i++) put_double(v, nu, i + 1, r[i]);
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, nu)));
}

// cryptoml_internal.random_entry_trades(ts[], close[], n_trades, horizon, seed, fee_pct,
// slippage_pct) -> (opened_at[], closed_at[], pnl_pct[]): the random-entry baseline.
Datum cml_random_entry_trades(PG_FUNCTION_ARGS) {
  int n, nc;
  int64* ts = read_minutes(PG_GETARG_ARRAYTYPE_P(0), "ts", &n);
  double* close = read_float8s(PG_GETARG_ARRAYTYPE_P(1), "close", &nc);
  same_length(n, nc, "ts", "close");
  int trades = PG_GETARG_INT32(2), horizon = PG_GETARG_INT32(3);
  uint64 seed = (uint64)PG_GETARG_INT64(4);
  double fee = PG_GETARG_FLOAT8(5), slip = PG_GETARG_FLOAT8(6);
  int out_n = 0;
  int64* o = (int64*)palloc(sizeof(int64) * Max(trades, 1));
  int64* c = (int64*)palloc(sizeof(int64) * Max(trades, 1));
  double* p = (double*)palloc(sizeof(double) * Max(trades, 1));
  cml::pg::guarded("ml_performance", [&] {
    std::vector<cml::Bar> bars;
    bars.reserve(n);
    for (int i = 0; i < n; i++) bars.push_back(cml::Bar{ts[i], close[i], close[i], close[i], close[i]});
    cml::TradeCosts costs;
    costs.fee_pct = fee;
    costs.slippage_pct = slip;
    std::vector<cml::ClosedTrade> r = cml::random_entry(bars, trades, horizon, seed, costs);
    out_n = (int)std::min<size_t>(r.size(), (size_t)Max(trades, 0));
    for (int i = 0; i < out_n; i++) {
      o[i] = r[i].opened_at;
      c[i] = r[i].closed_at;
      p[i] = r[i].pnl_pct;
    }
  });
  Datum* od = (Datum*)palloc(sizeof(Datum) * Max(out_n, 1));
  Datum* cd = (Datum*)palloc(sizeof(Datum) * Max(out_n, 1));
  Datum* pd = (Datum*)palloc(sizeof(Datum) * Max(out_n, 1));
  for (int i = 0; i < out_n; i++) {
    od[i] = TimestampGetDatum(from_minutes(o[i]));
    cd[i] = TimestampGetDatum(from_minutes(c[i]));
    pd[i] = Float8GetDatum(p[i]);
  }
  TupleDesc desc = result_desc(fcinfo);
  Datum v[3] = {PointerGetDatum(construct_array(od, out_n, TIMESTAMPOID, 8, true, TYPALIGN_DOUBLE)),
                PointerGetDatum(construct_array(cd, out_n, TIMESTAMPOID, 8, true, TYPALIGN_DOUBLE)),
                PointerGetDatum(construct_array(pd, out_n, FLOAT8OID, 8, true, TYPALIGN_DOUBLE))};
  bool nu[3] = {false, false, false};
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, nu)));
}

// ---- trade following on the insert path (follow.hpp) ----

namespace {

// Saved plans of the following queries, for one extension schema (re-prepared if it changes).
struct FollowPlans {
  char schema[2 * NAMEDATALEN + 3] = "";
  SPIPlanPtr select_ids = nullptr, select_trade = nullptr, select_bars = nullptr, update_trade = nullptr;
};
FollowPlans g_follow;

// The plan of fmt (its %s: the schema, at most twice), prepared and kept at first use.
SPIPlanPtr kept_plan(SPIPlanPtr* slot, const char* fmt, int nargs, Oid* types) {
  if (*slot == nullptr) {
    const char* sql = psprintf(fmt, g_follow.schema, g_follow.schema);
    SPIPlanPtr p = SPI_prepare(sql, nargs, types);
    if (p == nullptr) elog(ERROR, "cryptoml: SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result), sql);
    if (SPI_keepplan(p) != 0) elog(ERROR, "cryptoml: SPI_keepplan failed for: %s", sql);
    *slot = p;
  }
  return *slot;
}

void follow_plans_for(const char* schema) {
  if (strcmp(g_follow.schema, schema) == 0) return;
  SPIPlanPtr* all[4] = {&g_follow.select_ids, &g_follow.select_trade, &g_follow.select_bars, &g_follow.update_trade};
  for (SPIPlanPtr* p : all)
    if (*p != nullptr) {
      SPI_freeplan(*p);
      *p = nullptr;
    }
  strlcpy(g_follow.schema, schema, sizeof g_follow.schema);
}

void run_plan(SPIPlanPtr plan, Datum* values, const char* nulls, int expect) {
  int rc = SPI_execute_plan(plan, values, nulls, false, 0);
  if (rc != expect) elog(ERROR, "cryptoml: SPI returned %s while following trades", SPI_result_code_string(rc));
}

}  // namespace

bool cml::pg::follow_trade(const char* schema, int32 id) {
  follow_plans_for(schema);
  Oid t1[1] = {INT4OID};
  Datum v1[1] = {Int32GetDatum(id)};
  run_plan(kept_plan(&g_follow.select_trade,
                     ("SELECT s.signal_type::text, s.entry_price::float8, s.tp_price::float8, s.sl_price::float8, "
                              "s.entry_bar, s.forecast_horizon, s.fee_pct::float8, s.slippage_pct::float8, s.symbol::text "
                              "FROM %s.tradesimulations s WHERE s.id = $1 FOR UPDATE"),
                     1, t1),
           v1, nullptr, SPI_OK_SELECT);
  if (SPI_processed != 1) return false;
  HeapTuple row = SPI_tuptable->vals[0];
  TupleDesc td = SPI_tuptable->tupdesc;
  bool nulls[9];
  Datum f[9];
  for (int i = 0; i < 9; i++) f[i] = SPI_getbinval(row, td, i + 1, &nulls[i]);
  // only trades opened with everything they are followed by (ml_simulate's): a row written by
  // hand without levels is left as it is
  if (nulls[0] || nulls[2] || nulls[3] || nulls[4] || nulls[5] || nulls[1] || nulls[6] || nulls[7] || nulls[8]) return false;
  char* side_text = TextDatumGetCString(f[0]);
  cml::Side side;
  if (strcmp(side_text, "LONG") == 0) side = cml::Side::Long;
  else if (strcmp(side_text, "SHORT") == 0) side = cml::Side::Short;
  else return false;
  double entry = DatumGetFloat8(f[1]), tp = DatumGetFloat8(f[2]), sl = DatumGetFloat8(f[3]);
  Timestamp entry_bar = DatumGetTimestamp(f[4]);
  int32 horizon = DatumGetInt32(f[5]);
  double fee = DatumGetFloat8(f[6]), slip = DatumGetFloat8(f[7]);
  Datum symbol = datumCopy(f[8], false, -1);
  SPI_freetuptable(SPI_tuptable);

  // the bars after the entry up to the expiry; after a gap over the expiry, the first bar after
  // it closes the trade
  Oid t3[3] = {TEXTOID, TIMESTAMPOID, INT4OID};
  Datum v3[3] = {symbol, TimestampGetDatum(entry_bar), Int32GetDatum(horizon)};
  run_plan(kept_plan(&g_follow.select_bars,
                     ("SELECT b.timestamp, b.high::float8, b.low::float8, b.close::float8 FROM ("
                              "SELECT c.timestamp, c.high, c.low, c.close FROM %s.rollingchartdata c "
                              "WHERE c.symbol = $1 AND c.timestamp > $2 AND c.timestamp <= $2 + make_interval(mins => $3) "
                              "UNION ALL "
                              "(SELECT c.timestamp, c.high, c.low, c.close FROM %s.rollingchartdata c "
                              "WHERE c.symbol = $1 AND c.timestamp > $2 + make_interval(mins => $3) ORDER BY c.timestamp LIMIT 1)) b "
                              "ORDER BY b.timestamp"),
                     3, t3),
           v3, nullptr, SPI_OK_SELECT);
  int n = (int)SPI_processed;
  int64* ts = (int64*)palloc(sizeof(int64) * Max(n, 1));
  double* hlc = (double*)palloc(sizeof(double) * 3 * Max(n, 1));
  static const char* const kNames[3] = {"high", "low", "close"};
  for (int i = 0; i < n; i++) {
    bool isnull;
    ts[i] = to_minutes(DatumGetTimestamp(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
    for (int k = 0; k < 3; k++) {
      hlc[k * Max(n, 1) + i] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, k + 2, &isnull));
      if (isnull)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s[%d] is NULL", kNames[k], i + 1)));
    }
  }
  SPI_freetuptable(SPI_tuptable);
  Evaluation r;
  evaluate_trade(side, entry, tp, sl, to_minutes(entry_bar), horizon, fee, slip, n, ts, hlc, hlc + Max(n, 1),
                 hlc + 2 * Max(n, 1), &r);

  // stored as the SQL version did: float8 -> numeric, rounded to the column's scale
  Oid tu[11] = {INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT4OID, INT4OID, BOOLOID, TIMESTAMPOID, TEXTOID, FLOAT8OID};
  Datum vu[11];
  bool nu[11] = {false};
  vu[0] = Int32GetDatum(id);
  put_double(vu, nu, 1, r.cur);
  put_double(vu, nu, 2, r.pnl);
  put_double(vu, nu, 3, r.best);
  put_double(vu, nu, 4, r.worst);
  vu[5] = Int32GetDatum(r.profitable);
  vu[6] = Int32GetDatum(r.total);
  vu[7] = BoolGetDatum(r.active);
  vu[8] = TimestampGetDatum(from_minutes(r.completed));
  nu[8] = r.active;
  vu[9] = CStringGetTextDatum(r.reason);
  nu[9] = r.reason[0] == '\0';
  put_double(vu, nu, 10, r.active ? NAN : r.exit_price);
  char cn[11];
  for (int i = 0; i < 11; i++) cn[i] = nu[i] ? 'n' : ' ';
  run_plan(kept_plan(&g_follow.update_trade,
                     ("UPDATE %s.tradesimulations s SET current_price = round($2::numeric, 8), "
                              "real_time_pnl = round($3::numeric, 4), highest_profit = round($4::numeric, 4), "
                              "lowest_loss = round($5::numeric, 4), profitable_minutes = $6, total_minutes = $7, "
                              "is_active = $8, completed_at = $9, exit_reason = $10, exit_price = round($11::numeric, 8) "
                              "WHERE s.id = $1"),
                     11, tu),
           vu, cn, SPI_OK_UPDATE);
  return true;
}

void cml::pg::follow_trades(const char* schema, int n, const char* const* symbols, const Timestamp* since) {
  if (n <= 0) return;
  follow_plans_for(schema);
  Datum* sym = (Datum*)palloc(sizeof(Datum) * n);
  Datum* from = (Datum*)palloc(sizeof(Datum) * n);
  bool* from_null = (bool*)palloc(sizeof(bool) * n);
  for (int i = 0; i < n; i++) {
    sym[i] = CStringGetTextDatum(symbols[i]);
    from[i] = TimestampGetDatum(since[i]);
    from_null[i] = since[i] == DT_NOBEGIN;
  }
  int dims[1] = {n}, lbs[1] = {1};
  Oid types[2] = {TEXTARRAYOID, TIMESTAMPARRAYOID};
  Datum args[2] = {PointerGetDatum(construct_array(sym, n, TEXTOID, -1, false, TYPALIGN_INT)),
                   PointerGetDatum(construct_md_array(from, from_null, 1, dims, lbs, TIMESTAMPOID, 8, FLOAT8PASSBYVAL,
                                                      TYPALIGN_DOUBLE))};
  run_plan(kept_plan(&g_follow.select_ids,
                     ("SELECT DISTINCT s.id FROM unnest($1, $2) AS c(symbol, since) "
                              "JOIN %s.tradesimulations s ON s.symbol = c.symbol "
                              "WHERE s.signal_type IN ('LONG', 'SHORT') AND (s.is_active OR c.since IS NULL OR c.since <= s.completed_at) "
                              "ORDER BY 1"),
                     2, types),
           args, nullptr, SPI_OK_SELECT);
  int m = (int)SPI_processed;
  if (m == 0) return;
  int32* ids = (int32*)palloc(sizeof(int32) * m);
  for (int i = 0; i < m; i++) {
    bool isnull;
    ids[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
  }
  SPI_freetuptable(SPI_tuptable);
  for (int i = 0; i < m; i++) (void)follow_trade(schema, ids[i]);
}

// cryptoml_internal.follow_trade(trade_id): ml_simulate's follow of a trade it has just opened
// (SECURITY DEFINER, search_path pinned by its SET clause).
Datum cml_follow_trade(PG_FUNCTION_ARGS) {
  int32 id = PG_GETARG_INT32(0);
  SPI_connect();
  if (SPI_execute("SELECT e.extnamespace::regnamespace::text FROM pg_catalog.pg_extension e WHERE e.extname = 'cryptoml'", true, 1) !=
          SPI_OK_SELECT ||
      SPI_processed != 1)
    elog(ERROR, "cryptoml: extension cryptoml not found");
  const char* schema = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
  bool followed = cml::pg::follow_trade(schema, id);
  SPI_finish();
  PG_RETURN_BOOL(followed);
}
