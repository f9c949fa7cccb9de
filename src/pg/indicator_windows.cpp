// SQL window functions over the indicator kernels: ml_rsi(close) OVER w, ml_macd, ml_bollinger,
// ml_stochastic, ml_volatility (overloads of the array functions on scalar arguments).
//
// Each call keeps one cml::IndicatorWindow (src/core/indicator_windows.hpp: the streaming state the
// array functions and the trigger run) in the partition's local memory and advances it by exactly
// one row per call, so a partition of n rows costs n steps, the same arithmetic as the array
// function over the same closes: the values are equal bit for bit.
//
// Rules (docs/indicators.md "Window functions"):
//   - The frame clause is ignored: every row's value covers the partition from its first row to
//     this row in the window's ORDER BY order (as lag() or row_number() do).
//   - Rows must have distinct positions in that order: two consecutive rows that are peers (no
//     ORDER BY, or equal ORDER BY values) raise an error, since the values would depend on an
//     arbitrary order.
//   - A row whose price argument (close; high, low or close for stochastic) is NULL gets NULL and
//     is skipped: the values are those of the array function over the non-NULL rows.
//   - A NULL parameter gives NULL on every row (the array functions are STRICT). A parameter must
//     be the same on every row of a partition.
//   - Bad parameters raise the array function's error; a non-finite price (volatility: <= 0;
//     stochastic: high < low) raises an error naming the row of the partition.
//   - A partition shorter than a period gives NULLs (the array function would refuse the array).
//   - The executor calls a window function once per row in order. Should it ever ask for a row
//     out of order, the call fails with an internal error rather than return a wrong value (the
//     earlier rows are released from the window's buffer as the state moves on: WinSetMarkPosition).
#include <cmath>
#include <cstring>
#include <new>

#include "indicator_windows.hpp"

#include "guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "windowapi.h"

PG_FUNCTION_INFO_V1(ml_rsi_window);
PG_FUNCTION_INFO_V1(ml_macd_window);
PG_FUNCTION_INFO_V1(ml_bollinger_window);
PG_FUNCTION_INFO_V1(ml_stochastic_window);
PG_FUNCTION_INFO_V1(ml_volatility_window);
}

namespace {

constexpr int kMaxParams = 3;

// Partition-local memory of one window function call (zeroed by WinGetPartitionLocalMemory).
struct Slot {
  bool started;      // the first row was seen: params read, window constructed (unless params_null)
  bool params_null;  // a parameter is NULL: every row is NULL
  int64 next_pos;    // the position the next call must be for
  Datum params[kMaxParams];
  bool param_nulls[kMaxParams];
  cml::IndicatorWindow* window;  // placement-constructed in the partition's memory context
  MemoryContextCallback destroy;  // runs ~IndicatorWindow when that context is reset or deleted
};

void destroy_window(void* arg) {
  Slot* s = static_cast<Slot*>(arg);
  if (s->window != nullptr) {
    s->window->~IndicatorWindow();
    s->window = nullptr;
  }
}

// What one SQL function reads: its price arguments come first, then its parameters.
struct Spec {
  const char* name;
  int inputs;   // price arguments (1: close; 3: high, low, close)
  int nparams;  // parameter arguments after them
  const bool* param_is_float8;
  cml::IndicatorWindow (*make)(const Datum* p);
};

bool same_param(Datum a, bool anull, Datum b, bool bnull, bool is_float8) {
  if (anull || bnull) return anull == bnull;
  if (is_float8) {
    const double x = DatumGetFloat8(a), y = DatumGetFloat8(b);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  return DatumGetInt32(a) == DatumGetInt32(b);
}

const char* const kParamNames[][kMaxParams] = {
    {"period"}, {"fast", "slow", "signal"}, {"period", "k"}, {"k", "d"}, {"window"}};

// Advances the partition's window by the current row. Returns false when the row's value is NULL
// (NULL parameter or NULL price); else fills out[0..outputs-1] (NaN = no value).
bool step(FunctionCallInfo fcinfo, const Spec& spec, int kind, double* out) {
  WindowObject winobj = PG_WINDOW_OBJECT();
  const int64 pos = WinGetCurrentPosition(winobj);
  Slot* s = static_cast<Slot*>(WinGetPartitionLocalMemory(winobj, sizeof(Slot)));

  Datum params[kMaxParams];
  bool nulls[kMaxParams];
  for (int i = 0; i < spec.nparams; i++) params[i] = WinGetFuncArgCurrent(winobj, spec.inputs + i, &nulls[i]);

  if (!s->started) {
    if (pos != 0)
      ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                      errmsg("%s: first called for row " INT64_FORMAT " of a partition, not its first row", spec.name, pos + 1),
                      errdetail("rule: the indicator window functions advance one row per call, in the window's order")));
    for (int i = 0; i < spec.nparams; i++) {
      s->params[i] = params[i];
      s->param_nulls[i] = nulls[i];
      if (nulls[i]) s->params_null = true;
    }
    if (!s->params_null) {
      // construct outside any C++ region's allocation: palloc first, then the guarded constructor
      void* mem = MemoryContextAlloc(GetMemoryChunkContext(s), sizeof(cml::IndicatorWindow));
      cml::pg::guarded(spec.name, [&] { s->window = new (mem) cml::IndicatorWindow(spec.make(params)); });
      s->destroy.func = destroy_window;
      s->destroy.arg = s;
      MemoryContextRegisterResetCallback(GetMemoryChunkContext(s), &s->destroy);
    }
    s->started = true;
  } else {
    if (pos != s->next_pos)
      ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                      errmsg("%s: called for row " INT64_FORMAT " of the partition, expected row " INT64_FORMAT, spec.name,
                             pos + 1, s->next_pos + 1),
                      errdetail("rule: the indicator window functions advance one row per call, in the window's order")));
    for (int i = 0; i < spec.nparams; i++)
      if (!same_param(params[i], nulls[i], s->params[i], s->param_nulls[i], spec.param_is_float8[i]))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: parameter %s changes at row " INT64_FORMAT " of the window partition", spec.name,
                               kParamNames[kind][i], pos + 1),
                        errdetail("rule: a parameter must be the same on every row of a partition")));
    if (WinRowsArePeers(winobj, pos - 1, pos))
      ereport(ERROR, (errcode(ERRCODE_WINDOWING_ERROR),
                      errmsg("%s: rows " INT64_FORMAT " and " INT64_FORMAT " of the window partition are peers", spec.name, pos,
                             pos + 1),
                      errdetail("rule: the window must order the rows of a partition by a unique key; with no ORDER BY or equal ORDER "
                                "BY values the values would depend on an arbitrary order"),
                      errhint("Order the window by a unique key, e.g. OVER (PARTITION BY symbol ORDER BY timestamp).")));
  }
  // this row is consumed: the buffer may drop the rows before it
  WinSetMarkPosition(winobj, pos);
  s->next_pos = pos + 1;
  if (s->params_null) return false;

  double in[cml::IndicatorWindow::kMaxInputs];
  for (int i = 0; i < spec.inputs; i++) {
    bool isnull;
    const Datum d = WinGetFuncArgCurrent(winobj, i, &isnull);
    if (isnull) return false;
    in[i] = DatumGetFloat8(d);
  }
  cml::IndicatorWindow* w = s->window;
  cml::pg::guarded(spec.name, [&] { w->update(pos + 1, in, out); });
  return true;
}

// The composite result type (ml_macd_value, ...), looked up once per query.
TupleDesc result_desc(FunctionCallInfo fcinfo) {
  if (fcinfo->flinfo->fn_extra == nullptr) {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "cryptoml: expected a composite result type");
    MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
    desc = BlessTupleDesc(CreateTupleDescCopy(desc));
    MemoryContextSwitchTo(old);
    fcinfo->flinfo->fn_extra = desc;
  }
  return static_cast<TupleDesc>(fcinfo->flinfo->fn_extra);
}

Datum composite(FunctionCallInfo fcinfo, const double* out, int n) {
  TupleDesc desc = result_desc(fcinfo);
  Datum values[cml::IndicatorWindow::kMaxOutputs];
  bool nulls[cml::IndicatorWindow::kMaxOutputs];
  for (int i = 0; i < n; i++) {
    nulls[i] = std::isnan(out[i]);
    values[i] = Float8GetDatum(nulls[i] ? 0.0 : out[i]);
  }
  return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

const bool kInts[kMaxParams] = {false, false, false};
const bool kBollingerParams[kMaxParams] = {false, true, false};

const Spec kSpecs[] = {
    {"ml_rsi", 1, 1, kInts, [](const Datum* p) { return cml::IndicatorWindow::rsi(DatumGetInt32(p[0])); }},
    {"ml_macd", 1, 3, kInts,
     [](const Datum* p) { return cml::IndicatorWindow::macd(DatumGetInt32(p[0]), DatumGetInt32(p[1]), DatumGetInt32(p[2])); }},
    {"ml_bollinger", 1, 2, kBollingerParams,
     [](const Datum* p) { return cml::IndicatorWindow::bollinger(DatumGetInt32(p[0]), DatumGetFloat8(p[1])); }},
    {"ml_stochastic", 3, 2, kInts,
     [](const Datum* p) { return cml::IndicatorWindow::stochastic(DatumGetInt32(p[0]), DatumGetInt32(p[1])); }},
    {"ml_volatility", 1, 1, kInts, [](const Datum* p) { return cml::IndicatorWindow::volatility(DatumGetInt32(p[0])); }},
};

Datum scalar_result(FunctionCallInfo fcinfo, int kind) {
  double out[cml::IndicatorWindow::kMaxOutputs];
  if (!step(fcinfo, kSpecs[kind], kind, out) || std::isnan(out[0])) PG_RETURN_NULL();
  PG_RETURN_FLOAT8(out[0]);
}

Datum composite_result(FunctionCallInfo fcinfo, int kind, int outputs) {
  double out[cml::IndicatorWindow::kMaxOutputs];
  if (!step(fcinfo, kSpecs[kind], kind, out)) PG_RETURN_NULL();
  return composite(fcinfo, out, outputs);
}

}  // namespace

Datum ml_rsi_window(PG_FUNCTION_ARGS) { return scalar_result(fcinfo, 0); }
Datum ml_macd_window(PG_FUNCTION_ARGS) { return composite_result(fcinfo, 1, 3); }
Datum ml_bollinger_window(PG_FUNCTION_ARGS) { return composite_result(fcinfo, 2, 3); }
Datum ml_stochastic_window(PG_FUNCTION_ARGS) { return composite_result(fcinfo, 3, 2); }
Datum ml_volatility_window(PG_FUNCTION_ARGS) { return scalar_result(fcinfo, 4); }
