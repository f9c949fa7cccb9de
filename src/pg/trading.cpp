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

#include "guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cml_trade_levels);
PG_FUNCTION_INFO_V1(cml_check_trade_rule);
PG_FUNCTION_INFO_V1(cml_trade_evaluate);
PG_FUNCTION_INFO_V1(cml_performance_of);
PG_FUNCTION_INFO_V1(cml_random_entry_trades);
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
  double cur = 0, pnl = 0, best = 0, worst = 0, exit_price = 0;
  int profitable = 0, total = 0;
  bool active = true;
  int64 completed = 0;
  char reason[16] = "";
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
    cur = t.current_price;
    pnl = t.pnl_pct;
    best = t.highest_profit_pct;
    worst = t.lowest_loss_pct;
    profitable = t.profitable_minutes;
    total = t.total_minutes;
    active = t.active;
    completed = t.completed_at;
    exit_price = t.exit_price;
    strncpy(reason, t.exit_reason.c_str(), sizeof reason - 1);
  });
  TupleDesc desc = result_desc(fcinfo);
  Datum v[10];
  bool nu[10] = {false};
  put_double(v, nu, 0, cur);
  put_double(v, nu, 1, pnl);
  put_double(v, nu, 2, best);
  put_double(v, nu, 3, worst);
  v[4] = Int32GetDatum(profitable);
  v[5] = Int32GetDatum(total);
  v[6] = BoolGetDatum(active);
  v[7] = TimestampGetDatum(from_minutes(completed));
  nu[7] = active;
  v[8] = CStringGetTextDatum(reason);
  nu[8] = reason[0] == '\0';
  put_double(v, nu, 9, active ? NAN : exit_price);
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
