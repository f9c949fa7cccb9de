// SQL faces of src/core/volatility.*: the market statistics ml_forecast_all states (volatility and
// trend regime), the HAR volatility model's fit (ml_train_volatility's C part), its prediction (the
// production model in ml_forecast_all) and its walk-forward evaluation (ml_volatility_evaluate).
// Pattern: read with SPI into palloc'd C arrays -> one guarded call into core -> build the result
// outside the guard.
#include <cmath>
#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.hpp"
#include "options.hpp"
#include "seasonality.hpp"
#include "market.hpp"
#include "volatility.hpp"

#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(cml_market_stats);
PG_FUNCTION_INFO_V1(cml_volatility_fit);
PG_FUNCTION_INFO_V1(cml_volatility_predict);
PG_FUNCTION_INFO_V1(cml_volatility_evaluate);
}

namespace {

constexpr int64 kUsPerMinute = INT64CONST(60000000);

const char* schema_or_error() {
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("extension cryptoml is not installed")));
  return schema;
}

char* symbol_of(FunctionCallInfo fcinfo, int arg) {
  if (PG_ARGISNULL(arg))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("symbol must not be NULL")));
  return cml::pg::symbol_arg(PG_GETARG_TEXT_PP(arg));
}

int horizon_of(FunctionCallInfo fcinfo, int arg) {
  if (PG_ARGISNULL(arg))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("horizon must not be NULL")));
  int h = PG_GETARG_INT32(arg);
  if (h < 1 || h > 10080)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid horizon = %d: must be between 1 and 10080 minutes", h),
                    errdetail("rule: horizon in [1, 10080]")));
  return h;
}

[[noreturn]] void unknown_symbol(const char* symbol) {
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown symbol \"%s\": it has no bars", symbol),
                  errdetail("rule: the symbol must have bars in rollingChartData")));
}

// The latest bar's minute of a symbol; errors for a symbol without bars.
int64 latest_minute(const char* schema, const char* symbol) {
  char* sql = psprintf("SELECT max(timestamp) FROM %s.rollingchartdata WHERE symbol = $1", schema);
  Oid types[1] = {TEXTOID};
  Datum values[1] = {CStringGetTextDatum(symbol)};
  if (SPI_execute_with_args(sql, 1, types, values, nullptr, true, 1) != SPI_OK_SELECT)
    elog(ERROR, "cryptoml: reading the bars of %s failed", symbol);
  bool isnull = true;
  Datum d = SPI_processed == 1 ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull) : (Datum)0;
  if (isnull) unknown_symbol(symbol);
  return cml::pg::minute_of(DatumGetTimestamp(d));
}

const char* kBarColumns = "timestamp, open, high, low, close, volume";  // numeric: query_bars converts them

// The options object's JSON text (jsonb argument; NULL = {}).
char* options_text(FunctionCallInfo fcinfo, int arg) {
  if (PG_ARGISNULL(arg)) return pstrdup("{}");
  Jsonb* j = PG_GETARG_JSONB_P(arg);
  return JsonbToCString(nullptr, &j->root, VARSIZE(j));
}

HeapTupleHeader record_of(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "cryptoml: expected a record result");
  desc = BlessTupleDesc(desc);
  return heap_form_tuple(desc, values, nulls)->t_data;
}

Datum float_or_null(double v, bool* isnull) {
  *isnull = !std::isfinite(v);
  return Float8GetDatum(*isnull ? 0.0 : v);
}

// ---- the bars market_stats reads, kept per symbol -------------------------------------------
// The statistics read the last kStatsBars bars at or before the bar (their minutes and closes).
// Each call of the forecaster asks for them one bar later than the call before, so the window of
// the last call is kept per symbol with the row version (xmin, ctid) of its newest bar: a backward
// index scan from the requested bar reads the bars newer than that one and stops at it. A
// change of any bar at or before it rewrites it (the trigger's recompute rewrites every row after
// a changed, late or deleted bar, the latest one included: docs/forecasting.md, "Feature
// vectors"), so finding the same row version proves the kept bars are those the snapshot sees;
// otherwise (another version, the bar gone, an older bar requested, a recreated table) the
// window is read again in full by the same scan. Never destroyed; at most kMaxWindows symbols.
constexpr int kStatsBars = 1441;  // 24 hourly windows of 60 returns
constexpr size_t kMaxWindows = 256;
struct BarWindow {
  Oid rel = InvalidOid;
  Timestamp last = 0;  // the newest bar's timestamp, xmin and ctid
  TransactionId xmin = InvalidTransactionId;
  ItemPointerData tid;
  std::vector<std::int64_t> minutes;  // oldest first
  std::vector<double> close;          // as numeric_value converts (NaN for NULL)
};
std::unordered_map<std::string, BarWindow>* g_windows = nullptr;

// The last kStatsBars bars of `symbol` at or before `bar` (timestamp order) into *b (palloc'd
// minutes and closes; the other columns are not read), from the kept window and the bars since.
void stats_bars(const char* symbol, Timestamp bar, cml::pg::PgBars* b) {
  Oid nsp = cml::pg::extension_namespace();
  Oid rel_id = OidIsValid(nsp) ? get_relname_relid("rollingchartdata", nsp) : InvalidOid;
  Oid idx_id = OidIsValid(nsp) ? get_relname_relid("rollingchartdata_symbol_timestamp_key", nsp) : InvalidOid;
  if (!OidIsValid(rel_id) || !OidIsValid(idx_id))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("cryptoml: rollingChartData or its (symbol, timestamp) index is missing")));
  // what is kept (copied out: no C++ object is live during the scan)
  bool kept = false;
  Timestamp k_last = 0;
  TransactionId k_xmin = InvalidTransactionId;
  ItemPointerData k_tid;
  ItemPointerSetInvalid(&k_tid);
  cml::pg::guarded("market_stats", [&] {
    if (g_windows == nullptr) g_windows = new std::unordered_map<std::string, BarWindow>();
    auto it = g_windows->find(symbol);
    if (it != g_windows->end() && it->second.rel == rel_id && !it->second.minutes.empty()) {
      kept = true;
      k_last = it->second.last;
      k_xmin = it->second.xmin;
      k_tid = it->second.tid;
    }
  });
  // newest first: the bars after the kept newest one, or the whole window
  int64* mins = (int64*)palloc(sizeof(int64) * kStatsBars);
  double* close = (double*)palloc(sizeof(double) * kStatsBars);
  int n = 0;
  bool matched = false;
  Timestamp newest = 0;
  TransactionId newest_xmin = InvalidTransactionId;
  ItemPointerData newest_tid;
  ItemPointerSetInvalid(&newest_tid);
  Relation rel = table_open(rel_id, AccessShareLock);
  Relation idx = index_open(idx_id, AccessShareLock);
  AttrNumber a_ts = get_attnum(rel_id, "timestamp"), a_close = get_attnum(rel_id, "close");
  ScanKeyData keys[2];
  ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid, idx->rd_indcollation[0], F_TEXTEQ,
                         CStringGetTextDatum(symbol));
  ScanKeyInit(&keys[1], 2, BTLessEqualStrategyNumber, F_TIMESTAMP_LE, TimestampGetDatum(bar));
  IndexScanDesc scan = index_beginscan(rel, idx, GetActiveSnapshot(), 2, 0);
  index_rescan(scan, keys, 2, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  while (n < kStatsBars && index_getnext_slot(scan, BackwardScanDirection, slot)) {
    bool isnull, should_free;
    Timestamp ts = DatumGetTimestamp(slot_getattr(slot, a_ts, &isnull));
    HeapTuple tup = ExecFetchSlotHeapTuple(slot, false, &should_free);
    TransactionId xmin = HeapTupleHeaderGetXmin(tup->t_data);
    ItemPointerData tid = tup->t_self;
    if (should_free) heap_freetuple(tup);
    if (n == 0) {
      newest = ts;
      newest_xmin = xmin;
      newest_tid = tid;
    }
    if (kept && ts == k_last && xmin == k_xmin && ItemPointerEquals(&tid, &k_tid)) {
      matched = true;
      break;
    }
    Datum c = slot_getattr(slot, a_close, &isnull);
    close[n] = isnull ? NAN : cml::pg::numeric_value(c);
    mins[n] = cml::pg::minute_of(ts);
    n++;
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(idx, AccessShareLock);
  table_close(rel, AccessShareLock);
  b->symbol = symbol;
  b->stamp = nullptr;
  b->open = b->high = b->low = b->volume = nullptr;
  b->n = 0;
  b->ts = (int64*)palloc(sizeof(int64) * kStatsBars);
  b->close = (double*)palloc(sizeof(double) * kStatsBars);
  cml::pg::guarded("market_stats", [&] {
    if (matched && n == 0) {  // nothing new: the kept window as it is
      const BarWindow& w = g_windows->at(symbol);
      b->n = (int)w.minutes.size();
      std::copy(w.minutes.begin(), w.minutes.end(), b->ts);
      std::copy(w.close.begin(), w.close.end(), b->close);
      return;
    }
    BarWindow w;
    if (matched) w = std::move(g_windows->at(symbol));
    for (int i = n - 1; i >= 0; i--) {
      w.minutes.push_back(mins[i]);
      w.close.push_back(close[i]);
    }
    if (w.minutes.size() > (size_t)kStatsBars) {
      const size_t drop = w.minutes.size() - kStatsBars;
      w.minutes.erase(w.minutes.begin(), w.minutes.begin() + drop);
      w.close.erase(w.close.begin(), w.close.begin() + drop);
    }
    b->n = (int)w.minutes.size();
    std::copy(w.minutes.begin(), w.minutes.end(), b->ts);
    std::copy(w.close.begin(), w.close.end(), b->close);
    if (w.minutes.empty()) {
      g_windows->erase(symbol);
      return;
    }
    w.rel = rel_id;
    w.last = newest;
    w.xmin = newest_xmin;
    w.tid = newest_tid;
    if (g_windows->size() >= kMaxWindows && g_windows->count(symbol) == 0) g_windows->clear();
    (*g_windows)[symbol] = std::move(w);
  });
}

}  // namespace

// cryptoml_internal.market_stats(symbol text, horizons integer[], bar timestamp DEFAULT NULL)
//   -> SETOF (horizon, bar, sigma, vol_pct, n, er, regime): the statistics ml_forecast_all states
//   at the symbol's bar (its latest with bar NULL), one row per horizon in the order given.
Datum cml_market_stats(PG_FUNCTION_ARGS) {
  char* symbol = symbol_of(fcinfo, 0);
  if (PG_ARGISNULL(1)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("horizons must not be NULL")));
  ArrayType* arr = PG_GETARG_ARRAYTYPE_P(1);
  if (ARR_NDIM(arr) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("horizons must be a one-dimensional array")));
  Datum* hv;
  bool* hn;
  int nh;
  deconstruct_array(arr, INT4OID, 4, true, TYPALIGN_INT, &hv, &hn, &nh);
  int* horizons = (int*)palloc(sizeof(int) * Max(nh, 1));
  for (int k = 0; k < nh; k++) {
    if (hn[k]) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("horizon %d of horizons is NULL", k + 1)));
    horizons[k] = DatumGetInt32(hv[k]);
    if (horizons[k] < 1)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid horizon = %d: must be >= 1 minute", horizons[k]),
                      errdetail("rule: horizon >= 1")));
  }
  Timestamp bar = PG_ARGISNULL(2) ? DT_NOEND : PG_GETARG_TIMESTAMP(2);

  SPI_connect();
  (void)schema_or_error();
  // the last 1441 bars at or before the bar (the hour windows need at most 1441 minutes of whole-
  // minute bars, the efficiency ratio 241 bars), kept per symbol between calls (stats_bars)
  cml::pg::PgBars b;
  stats_bars(symbol, bar, &b);
  if (b.n == 0) {
    if (PG_ARGISNULL(2)) unknown_symbol(symbol);
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("symbol \"%s\" has no bar at or before the given bar", symbol),
                    errdetail("rule: the statistics are stated at a stored bar")));
  }
  const Timestamp last = (Timestamp)b.ts[b.n - 1] * kUsPerMinute;

  double sigma = NAN, vol_pct = NAN;
  int* n = (int*)palloc(sizeof(int) * Max(nh, 1));
  double* er = (double*)palloc(sizeof(double) * Max(nh, 1));
  char** regime = (char**)palloc(sizeof(char*) * Max(nh, 1));
  cml::pg::guarded("market_stats", [&] {
    const cml::MarketStats m = cml::market_stats(std::vector<std::int64_t>(b.ts, b.ts + b.n),
                                                 std::vector<double>(b.close, b.close + b.n),
                                                 std::vector<int>(horizons, horizons + nh));
    sigma = m.sigma;
    vol_pct = m.vol_pct;
    for (int k = 0; k < nh; k++) {
      n[k] = m.horizons[k].n;
      er[k] = m.horizons[k].er;
      regime[k] = cml::pg::pstrdup_nothrow(m.horizons[k].regime);
    }
  });
  // the tuplestore lives in the query's context; the arrays above in SPI's until SPI_finish
  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  for (int k = 0; k < nh; k++) {
    Datum v[7];
    bool nulls[7] = {false, false, false, false, false, false, false};
    v[0] = Int32GetDatum(horizons[k]);
    v[1] = TimestampGetDatum(last);
    v[2] = float_or_null(sigma, &nulls[2]);
    v[3] = float_or_null(vol_pct, &nulls[3]);
    v[4] = Int32GetDatum(n[k]);
    v[5] = float_or_null(er[k], &nulls[5]);
    v[6] = CStringGetTextDatum(regime[k]);
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
  }
  SPI_finish();
  return (Datum)0;
}

// cryptoml_internal.volatility_fit(symbol text, horizon integer, options jsonb) -> (model jsonb,
//   rows, train_rows, valid_rows, train_from, train_to, valid_from, valid_to, n, qlike,
//   qlike_baseline, qlike_formula, rmse_log, rmse_log_baseline, rmse_log_formula): trains the HAR
//   model on the symbol's last trainDays days (history before them feeds the features), split by
//   the one split rule; the metrics are those of the validation part. Reads only.
Datum cml_volatility_fit(PG_FUNCTION_ARGS) {
  char* symbol = symbol_of(fcinfo, 0);
  int horizon = horizon_of(fcinfo, 1);
  char* opts = options_text(fcinfo, 2);
  char* config = cml::pg::config_json_text();
  cml::VolOptions o;
  cml::pg::guarded("ml_train_volatility", [&] {
    const cml::json tree = cml::json::parse(config);
    double split = 0.2;
    const cml::json* t = tree.contains("training") ? &tree["training"] : nullptr;
    if (t && t->contains("validationSplit") && (*t)["validationSplit"].is_number()) split = (*t)["validationSplit"].get<double>();
    o = cml::parse_vol_options(cml::parse_json_document(opts, "option"), false, split);
  });
  MemoryContext caller = CurrentMemoryContext;
  SPI_connect();
  const char* schema = schema_or_error();
  const int64 latest = latest_minute(schema, symbol);
  const int64 first_row_minute = latest - (int64)o.train_days * 1440 + 1;
  const int64 history = (int64)(cml::kSeasonalWeeks * 7 + 1) * 1440 + 60;
  char* sql = psprintf("SELECT %s FROM %s.rollingchartdata WHERE symbol = $1 AND timestamp >= $2 ORDER BY timestamp",
                       kBarColumns, schema);
  Oid types[2] = {TEXTOID, TIMESTAMPOID};
  Datum values[2] = {CStringGetTextDatum(symbol), TimestampGetDatum((first_row_minute - history) * kUsPerMinute)};
  cml::pg::PgBars b = cml::pg::query_bars(sql, 2, types, values, symbol);
  int first = 0;
  while (first < b.n && b.ts[first] < first_row_minute) first++;

  char* model_json = nullptr;
  cml::VolTrainResult r;
  cml::pg::guarded("ml_train_volatility", [&] {
    r = cml::train_volatility(cml::pg::series_of(b), (std::size_t)first, horizon, o);
    model_json = cml::pg::pstrdup_nothrow(r.model.to_json().dump());
  });
  model_json = MemoryContextStrdup(caller, model_json);  // SPI's memory goes at SPI_finish
  SPI_finish();
  Datum v[15];
  bool nulls[15] = {false};
  v[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(model_json));
  v[1] = Int64GetDatum((int64)r.rows);
  v[2] = Int64GetDatum((int64)r.train_rows);
  v[3] = Int64GetDatum((int64)r.valid_rows);
  v[4] = TimestampGetDatum((Timestamp)r.train_from * kUsPerMinute);
  v[5] = TimestampGetDatum((Timestamp)r.train_to * kUsPerMinute);
  v[6] = TimestampGetDatum((Timestamp)r.valid_from * kUsPerMinute);
  v[7] = TimestampGetDatum((Timestamp)r.valid_to * kUsPerMinute);
  v[8] = Int64GetDatum((int64)r.valid.n);
  const double m[6] = {r.valid.qlike, r.valid.qlike_baseline, r.valid.qlike_formula,
                       r.valid.rmse_log, r.valid.rmse_log_baseline, r.valid.rmse_log_formula};
  for (int k = 0; k < 6; k++) v[9 + k] = float_or_null(m[k], &nulls[9 + k]);
  PG_RETURN_HEAPTUPLEHEADER(record_of(fcinfo, v, nulls));
}

// cryptoml_internal.volatility_predict(symbol text, horizon integer, bar timestamp, model jsonb)
//   -> float8: the model's forecast of the realized volatility (%) over (bar, bar + horizon], from
//   the bars at or before `bar`; NULL when a feature is missing (the bar is not stored, too little
//   history, a gap).
Datum cml_volatility_predict(PG_FUNCTION_ARGS) {
  for (int i = 0; i < 4; i++)
    if (PG_ARGISNULL(i)) PG_RETURN_NULL();
  char* symbol = symbol_of(fcinfo, 0);
  int horizon = horizon_of(fcinfo, 1);
  Timestamp bar = PG_GETARG_TIMESTAMP(2);
  Jsonb* mj = PG_GETARG_JSONB_P(3);
  char* model_text = JsonbToCString(nullptr, &mj->root, VARSIZE(mj));
  const int64 t = cml::pg::minute_of(bar);
  // the minutes the features read (volatility.hpp har_read_ranges)
  constexpr int kRanges = 1 + cml::kSeasonalWeeks;
  int64 lo[kRanges], hi[kRanges];
  cml::pg::guarded("volatility_predict", [&] {
    const auto r = cml::har_read_ranges(t, horizon);
    if (r.size() != (size_t)kRanges) throw std::logic_error("har_read_ranges: unexpected range count");
    for (int k = 0; k < kRanges; k++) {
      lo[k] = r[k].first;
      hi[k] = r[k].second;
    }
  });
  SPI_connect();
  const char* schema = schema_or_error();
  StringInfoData q;
  initStringInfo(&q);
  appendStringInfo(&q, "SELECT %s FROM %s.rollingchartdata r WHERE r.symbol = $1 AND (", kBarColumns, schema);
  for (int k = 0; k < kRanges; k++)
    appendStringInfo(&q, "%sr.timestamp BETWEEN $%d AND $%d", k > 0 ? " OR " : "", 2 + 2 * k, 3 + 2 * k);
  appendStringInfoString(&q, ") ORDER BY r.timestamp");
  const char* sql = q.data;
  Oid types[1 + 2 * kRanges];
  Datum values[1 + 2 * kRanges];
  types[0] = TEXTOID;
  values[0] = CStringGetTextDatum(symbol);
  for (int k = 0; k < kRanges; k++) {
    types[1 + 2 * k] = types[2 + 2 * k] = TIMESTAMPOID;
    values[1 + 2 * k] = TimestampGetDatum(lo[k] * kUsPerMinute);
    values[2 + 2 * k] = TimestampGetDatum(hi[k] * kUsPerMinute);
  }
  cml::pg::PgBars b = cml::pg::query_bars(sql, 1 + 2 * kRanges, types, values, symbol);
  double sigma = NAN;
  if (b.n == 0 || b.ts[b.n - 1] != t) {
    SPI_finish();
    PG_RETURN_NULL();
  }
  cml::pg::guarded("volatility_predict", [&] {
    const cml::HarModel m = cml::HarModel::from_json(cml::parse_json_document(model_text, "volatility model"));
    if (m.horizon != horizon)
      throw cml::InvalidParameter("the volatility model is of horizon " + std::to_string(m.horizon) + ", not " +
                                      std::to_string(horizon),
                                  "rule: a model predicts its own horizon");
    const cml::BarSeries s = cml::pg::series_of(b);
    const cml::HarData d = cml::har_data(s, horizon, s.size() - 1, s.size());
    sigma = m.predict_sigma(d.x[0]);
  });
  SPI_finish();
  if (!std::isfinite(sigma)) PG_RETURN_NULL();
  PG_RETURN_FLOAT8(sigma);
}

// ml_volatility_evaluate(symbol text, horizon integer, options jsonb) -> (qlike, qlike_baseline,
//   ratio, rmse_log, rmse_log_baseline, n, qlike_formula, rmse_log_formula, refits): walk-forward
//   over all the symbol's bars (see volatility.hpp walk_forward).
Datum cml_volatility_evaluate(PG_FUNCTION_ARGS) {
  char* symbol = symbol_of(fcinfo, 0);
  int horizon = horizon_of(fcinfo, 1);
  char* opts = options_text(fcinfo, 2);
  cml::VolOptions o;
  cml::pg::guarded("ml_volatility_evaluate", [&] {
    o = cml::parse_vol_options(cml::parse_json_document(opts, "option"), true, 0.2);
  });
  SPI_connect();
  const char* schema = schema_or_error();
  (void)latest_minute(schema, symbol);
  char* sql = psprintf("SELECT %s FROM %s.rollingchartdata WHERE symbol = $1 ORDER BY timestamp", kBarColumns, schema);
  Oid types[1] = {TEXTOID};
  Datum values[1] = {CStringGetTextDatum(symbol)};
  cml::pg::PgBars b = cml::pg::query_bars(sql, 1, types, values, symbol);
  cml::VolMetrics m;
  int refits = 0;
  cml::pg::guarded("ml_volatility_evaluate", [&] {
    const cml::WalkForward w = cml::walk_forward(cml::pg::series_of(b), horizon, o);
    m = w.metrics;
    refits = w.refits;
  });
  SPI_finish();
  Datum v[9];
  bool nulls[9] = {false};
  v[0] = float_or_null(m.qlike, &nulls[0]);
  v[1] = float_or_null(m.qlike_baseline, &nulls[1]);
  v[2] = float_or_null(m.ratio(), &nulls[2]);
  v[3] = float_or_null(m.rmse_log, &nulls[3]);
  v[4] = float_or_null(m.rmse_log_baseline, &nulls[4]);
  v[5] = Int64GetDatum((int64)m.n);
  v[6] = float_or_null(m.qlike_formula, &nulls[6]);
  v[7] = float_or_null(m.rmse_log_formula, &nulls[7]);
  v[8] = Int32GetDatum(refits);
  PG_RETURN_HEAPTUPLEHEADER(record_of(fcinfo, v, nulls));
}
