// ml_forecast: the production model's forecast for a symbol's latest bar, as it can honestly be
// stated (src/core/honest.hpp): the raw output, the served (shrunk) change, the confidence that
// the stated direction is right and the conformal interval, all from the model's out-of-time
// record (its rolling-origin pairs and its own forecasts' outcomes known at that bar); a signal
// only with skill shown; the prediction cache; the forecast stored in persistentForecasts.
//
// read (SPI, indexes) -> compute (one guarded call into core) -> write.
//
// Features are built exactly as for training samples, but without replaying the whole history:
// the indicator state comes from the trigger's checkpoint at least 60 bars back, and only the bars
// since are read (build_features with a restored state is bit-identical to the full build).
//
// A model of feature set 2 reads more (features_v2.hpp): its own last kV2OwnRows bars, its bars of
// the seasonality ranges (the same hours of the 4 previous weeks), and the other symbols' bars from
// kV2OtherMinutes before the bar on, for the leaders and index members the model RECORDED
// (hyperparameters), not the configuration's. While another symbol's bar of the minute before may
// still arrive (pending_inputs), ml_forecast raises SQLSTATE 55000 naming it; the features of a bar
// are final, and equal to its stored sample's, once every such symbol has a bar at or after it.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <unordered_map>

#include "node.hpp"
#include "config.hpp"
#include "feature_context.hpp"
#include "features.hpp"
#include "features_v2.hpp"
#include "honest.hpp"
#include "model.hpp"

#include "market.hpp"
#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "registry.hpp"

#include "forecast_history.hpp"
#include "workers.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "commands/trigger.h"
#include "storage/sinval.h"
#include "utils/inval.h"
#include "storage/itemptr.h"
#include "funcapi.h"
#include "utils/json.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(ml_forecast);
PG_FUNCTION_INFO_V1(cml_registry_changed);
PG_FUNCTION_INFO_V1(cml_latest_features);
}

namespace {

using cml::json;

// A loaded model (xgboost booster, lstm, or an ensemble of them) and its out-of-time record, by
// batch id. Models never change once stored, so the key stays valid; the map is never destroyed
// (no static destructor may free XGBoost handles at backend exit).
struct LoadedModel {
  std::unique_ptr<cml::Model> model;
  std::string version;  // model_version as returned: the batch id, and an ensemble's weighted members
  std::vector<cml::OutcomePair> record;  // rolling-origin pairs from training (empty before 0.6.0)
  int feature_set = 1;                   // the model's feature set (cryptoml_internal.models.feature_set_version)
  cml::MarketNames market;               // set 2: the leaders and index members it was trained with
};
std::unordered_map<std::string, LoadedModel>* g_models = nullptr;

// Features of each symbol's latest bar, keyed by that bar's row version (timestamp, xmin, ctid):
// a corrected price, and a late, updated or deleted earlier bar (whose recompute rewrites the
// latest row) all make a new row version, so a stale vector is never used. Never destroyed.
// A set-2 vector also depends on the other symbols' bars: its key adds the feature set, the market
// names and each other symbol's latest row version.
struct CachedFeatures {
  std::string key;
  cml::IndicatorParams params;  // a features settings change rebuilds (and is then checked) like a new session
  int rows = 0;                 // the last `rows` bars' vectors, oldest first
  size_t nf = 0;                // features per vector
  std::vector<double> values;   // rows x features
  std::vector<int> run;         // contiguous minutes ending at each row (counted within these rows)
};
std::unordered_map<std::string, CachedFeatures>* g_features = nullptr;

// The prediction cache's last hit or store per (symbol, horizon) in this backend, so that a repeated
// call needs no lookup in persistentForecasts. It names the bar, the model and the forecast's
// creation time, so it is used exactly when the lookup would find that row (a row deleted by hand
// within maxPredictionAge is still returned). Never destroyed.
// What a forecast stated (cached and returned).
struct Stated {
  double served = 0, confidence = 50, raw = 0, lower = NAN, upper = NAN;
};
struct Memo {
  Timestamp bar_ts;
  std::string batch_id;
  TimestampTz made_at;
  Stated stated;
};
std::unordered_map<std::string, Memo>* g_memo = nullptr;

// A rolled back (sub)transaction may have stored the forecast a memo names: forget them all.
void memo_xact_callback(XactEvent event, void*) {
  if (event == XACT_EVENT_ABORT && g_memo != nullptr) g_memo->clear();
}
void memo_subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  if (event == SUBXACT_EVENT_ABORT_SUB && g_memo != nullptr) g_memo->clear();
}

constexpr int64 kUsecPerMinute = INT64CONST(60000000);
using cml::pg::minute_of;

// Statements kept across calls (SPI_prepare + SPI_keepplan), prepared for one extension schema.
// The plan cache replans them when the tables they read are replaced; a different schema name
// (the extension dropped and created elsewhere) prepares them again.
struct Plans {
  char* schema;
  Oid registry;           // mltrainingbatches' relation id when prepared: a re-created extension prepares again
  // Relations, indexes and columns read directly (see read_latest_bar, read_production).
  Oid bars_rel, bars_idx, batches_rel, batches_idx;
  AttrNumber a_ts, a_close, a_batch_id, a_type, a_prod;
  SPIPlanPtr lookup;      // the prediction cache: a young forecast of a bar by a model
  SPIPlanPtr model;       // the out-of-time record of a batch
  SPIPlanPtr outcomes;    // a model's forecasts whose outcome is known at a bar
  SPIPlanPtr checkpoint;  // indicator checkpoint at least 60 bars back
  SPIPlanPtr bars;        // bars since a timestamp
  SPIPlanPtr insert;      // the forecast row
};
Plans g_plans;

Oid relation_in(Oid nsp, const char* name) {
  Oid id = get_relname_relid(name, nsp);
  if (!OidIsValid(id)) ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("cryptoml: relation %s is missing", name)));
  return id;
}

SPIPlanPtr keep_plan(const char* sql, int nargs, Oid* types) {
  SPIPlanPtr p = SPI_prepare(sql, nargs, types);
  if (p == nullptr) elog(ERROR, "cryptoml: preparing a forecast statement failed: %s", SPI_result_code_string(SPI_result));
  if (SPI_keepplan(p) != 0) elog(ERROR, "cryptoml: keeping a forecast statement failed");
  return p;
}

// Caller is connected to SPI.
const Plans& plans() {
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("extension cryptoml is not installed in this database")));
  Oid registry = cml::pg::extension_registry_relid();
  if (g_plans.schema != nullptr && strcmp(g_plans.schema, schema) == 0 && g_plans.registry == registry) return g_plans;
  SPIPlanPtr* all[6] = {&g_plans.lookup, &g_plans.model, &g_plans.outcomes, &g_plans.checkpoint, &g_plans.bars, &g_plans.insert};
  for (SPIPlanPtr* p : all)
    if (*p != nullptr) {
      SPI_freeplan(*p);
      *p = nullptr;
    }
  g_plans.schema = nullptr;
  Oid t5[5] = {TEXTOID, INT4OID, TIMESTAMPOID, TEXTOID, INT4OID};
  g_plans.lookup = keep_plan(psprintf(
      "SELECT predicted_value::float8, confidence::float8, extract(epoch FROM now()::timestamp - created_at)::float8, "
      "raw_value::float8, lower::float8, upper::float8 "
      "FROM %s.persistentforecasts WHERE symbol = $1 AND forecast_horizon = $2 AND bar_timestamp = $3 AND model_version = $4 "
      "AND forecast_type = 'price_direction' AND created_at >= now()::timestamp - make_interval(secs => $5) "
      "ORDER BY id DESC LIMIT 1", schema), 5, t5);
  Oid t1[1] = {TEXTOID};
  // the record as stored (three arrays, put in time order by read_model) with the feature set and
  // the hyperparameters (set 2: the market names its features read)
  g_plans.model = keep_plan(psprintf("SELECT m.oot_ts, m.oot_raw, m.oot_actual, m.feature_set_version, "
                                     "coalesce(b.hyperparameters::text, '{}') "
                                     "FROM cryptoml_internal.models m JOIN %s.mltrainingbatches b USING (batch_id) "
                                     "WHERE m.batch_id = $1", schema), 1, t1);
  // one row per bar (the latest forecast of it), oldest first; known at `bar`: bar_timestamp + horizon <= bar
  Oid to[3] = {TEXTOID, INT4OID, TIMESTAMPOID};
  g_plans.outcomes = keep_plan(psprintf(
      "SELECT f.bar_timestamp, f.raw_value::float8, f.actual_value::float8, "
      "f.lower::float8, f.upper::float8 FROM (SELECT DISTINCT ON (p.bar_timestamp) p.* FROM %s.persistentforecasts p "
      "WHERE p.model_version = $1 AND p.forecast_horizon = $2 AND p.actual_value IS NOT NULL "
      "AND p.forecast_type = 'price_direction' AND p.raw_value IS NOT NULL "
      "AND p.bar_timestamp <= $3 - make_interval(mins => $2) ORDER BY p.bar_timestamp, p.id DESC) f ORDER BY f.bar_timestamp",
      schema), 3, to);
  Oid tk[2] = {TEXTOID, INT8OID};
  g_plans.checkpoint = keep_plan(psprintf(
      "SELECT k.bar_ts, k.state FROM cryptoml_internal.indicator_checkpoint k WHERE k.symbol = $1 AND k.bar_ts <= "
      "(SELECT r.timestamp FROM %s.rollingchartdata r WHERE r.symbol = $1 ORDER BY r.timestamp DESC OFFSET $2 LIMIT 1) "
      "ORDER BY k.bar_ts DESC LIMIT 1", schema), 2, tk);
  Oid tt[2] = {TEXTOID, TIMESTAMPOID};
  g_plans.bars = keep_plan(psprintf("SELECT timestamp, open, high, low, close, volume FROM %s.rollingchartdata "
                                    "WHERE symbol = $1 AND timestamp > $2 ORDER BY timestamp", schema), 2, tt);
  Oid ti[10] = {TEXTOID, FLOAT8OID, FLOAT8OID, INT4OID, TEXTOID, TIMESTAMPOID, TIMESTAMPOID, FLOAT8OID, FLOAT8OID, FLOAT8OID};
  g_plans.insert = keep_plan(psprintf("INSERT INTO %s.persistentforecasts (symbol, forecast_type, confidence, "
                                      "predicted_value, forecast_horizon, model_version, expires_at, bar_timestamp, "
                                      "raw_value, lower, upper) "
                                      "VALUES ($1, 'price_direction', $2, $3, $4, $5, $6, $7, $8, $9, $10)", schema), 10, ti);
  Oid nsp = cml::pg::extension_namespace();
  g_plans.bars_rel = relation_in(nsp, "rollingchartdata");
  g_plans.bars_idx = relation_in(nsp, "rollingchartdata_symbol_timestamp_key");
  g_plans.batches_rel = relation_in(nsp, "mltrainingbatches");
  g_plans.batches_idx = relation_in(nsp, "mltrainingbatches_one_production_idx");
  g_plans.a_ts = get_attnum(g_plans.bars_rel, "timestamp");
  g_plans.a_close = get_attnum(g_plans.bars_rel, "close");
  g_plans.a_batch_id = get_attnum(g_plans.batches_rel, "batch_id");
  g_plans.a_type = get_attnum(g_plans.batches_rel, "model_type");
  g_plans.a_prod = get_attnum(g_plans.batches_rel, "is_production");
  g_plans.registry = registry;
  g_plans.schema = MemoryContextStrdup(TopMemoryContext, schema);
  return g_plans;
}

bool model_cached(const char* batch_id) {
  bool found = false;
  cml::pg::guarded("ml_forecast", [&] {
    if (g_models == nullptr) g_models = new std::unordered_map<std::string, LoadedModel>();
    found = g_models->count(batch_id) > 0;
  });
  return found;
}

// The production models per (symbol, horizon), valid while no relcache invalidation of
// mltrainingbatches arrives: its statement trigger (cml_registry_changed) sends one for every
// change, and a rolled back change is invalidated again at abort. Never destroyed.
struct ProductionEntry;
uint64 g_registry_generation = 1;
void registry_inval_callback(Datum, Oid relid);

// ---- the state of a call, read straight from the indexes ------------------------------------
// A repeated call is mostly this read, so it bypasses SPI and the executor: one backward probe of
// rollingChartData's (symbol, timestamp) index, one probe of the partial unique index of production
// models, both under the active snapshot. Relations and indexes are looked up by name on every
// call (syscache), so a re-created table or index is simply found again.

struct Production {
  int n;
  char batch_id[3][64];
  char model_type[3][32];
};
struct ProductionEntry {
  uint64 generation;
  Production p;
};
std::unordered_map<std::string, ProductionEntry>* g_production = nullptr;

void registry_inval_callback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == g_plans.batches_rel) g_registry_generation++;
}

void text_key(ScanKey key, Relation idx, AttrNumber att, const char* value) {
  ScanKeyEntryInitialize(key, 0, att, BTEqualStrategyNumber, InvalidOid, idx->rd_indcollation[att - 1], F_TEXTEQ,
                         CStringGetTextDatum(value));
}

// The symbol's latest bar: false when it has none.
bool read_latest_bar(const Plans& pl, const char* symbol, Timestamp* ts, double* close, TransactionId* xmin, ItemPointerData* tid) {
  Relation rel = table_open(pl.bars_rel, AccessShareLock);
  Relation idx = index_open(pl.bars_idx, AccessShareLock);
  AttrNumber a_ts = pl.a_ts, a_close = pl.a_close;
  ScanKeyData key;
  text_key(&key, idx, 1, symbol);
  IndexScanDesc scan = index_beginscan(rel, idx, GetActiveSnapshot(), 1, 0);
  index_rescan(scan, &key, 1, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  bool found = index_getnext_slot(scan, BackwardScanDirection, slot);
  if (found) {
    bool isnull, should_free;
    *ts = DatumGetTimestamp(slot_getattr(slot, a_ts, &isnull));
    Datum c = slot_getattr(slot, a_close, &isnull);
    *close = isnull ? NAN : cml::pg::numeric_value(c);
    HeapTuple tup = ExecFetchSlotHeapTuple(slot, false, &should_free);
    *xmin = HeapTupleHeaderGetXmin(tup->t_data);
    *tid = tup->t_self;
    if (should_free) heap_freetuple(tup);
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(idx, AccessShareLock);
  table_close(rel, AccessShareLock);
  return found;
}

// The production models of a symbol and horizon (at most one per model type).
void read_production(const Plans& pl, const char* symbol, int horizon, Production* out) {
  Relation rel = table_open(pl.batches_rel, AccessShareLock);
  Relation idx = index_open(pl.batches_idx, AccessShareLock);
  AttrNumber a_id = pl.a_batch_id, a_type = pl.a_type, a_prod = pl.a_prod;
  ScanKeyData keys[2];
  text_key(&keys[0], idx, 1, symbol);
  ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(horizon));
  IndexScanDesc scan = index_beginscan(rel, idx, GetActiveSnapshot(), 2, 0);
  index_rescan(scan, keys, 2, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  out->n = 0;
  while (out->n < 3 && index_getnext_slot(scan, ForwardScanDirection, slot)) {
    bool isnull;
    Datum prod = slot_getattr(slot, a_prod, &isnull);
    if (isnull || !DatumGetBool(prod)) continue;  // the partial index's predicate, rechecked
    Datum id = slot_getattr(slot, a_id, &isnull);
    if (isnull) continue;
    Datum type = slot_getattr(slot, a_type, &isnull);
    text_to_cstring_buffer(DatumGetTextPP(id), out->batch_id[out->n], sizeof out->batch_id[0]);
    if (isnull) out->model_type[out->n][0] = '\0';
    else text_to_cstring_buffer(DatumGetTextPP(type), out->model_type[out->n], sizeof out->model_type[0]);
    out->n++;
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(idx, AccessShareLock);
  table_close(rel, AccessShareLock);
}

// The model_version text of a loaded model (palloc'd copy).
const char* g_models_version(const char* batch_id) {
  char* out = nullptr;
  cml::pg::guarded("ml_forecast", [&] { out = cml::pg::pstrdup_nothrow(g_models->at(batch_id).version); });
  return out;
}

Datum spi_value(int row, int col, bool* isnull) { return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull); }

// The elements of an 8-byte by-value array column (timestamp[], float8[]) of the first result row;
// none when NULL.
struct Elems8 {
  int n = 0;
  Datum* values = nullptr;
  bool* nulls = nullptr;
};
Elems8 array_elems(int col) {
  Elems8 e;
  bool isnull;
  Datum d = spi_value(0, col, &isnull);
  if (isnull) return e;
  ArrayType* a = DatumGetArrayTypeP(d);
  deconstruct_array(a, ARR_ELEMTYPE(a), 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &e.values, &e.nulls, &e.n);
  return e;
}

// A bar's row version: its timestamp, xmin and ctid.
struct BarVersion {
  Timestamp ts;
  TransactionId xmin;
  ItemPointerData tid;
};

// Feature set 1, kept per symbol between the forecaster's cycles: the indicator state after some
// bar P and the bars after P up to the newest one read (with its row version). The next bar's
// vectors are built from them and the bars since, instead of the checkpoint and every bar after it
// (up to 1,000 and more, read and replayed per symbol and cycle). The same vectors: build_features
// from the state after P over the bars after P is bit-identical to the build from the trigger's
// checkpoint (features.hpp) once they leave the windows their history (kRollingKeep rows); P
// advances by IndicatorState::update, the very call build_features makes for every bar. Valid
// while the newest bar kept has the same row version: a change of any bar at or before it rewrites
// it (docs/forecasting.md, "Feature vectors"), as for the features cache. Never destroyed.
constexpr int kRollingKeep = 240;   // rows kept before the vectors asked, at least
constexpr int kRollingSlack = 240;  // rows kept beyond that before P advances
struct RollingBars {
  cml::IndicatorParams params;
  Oid rel;
  BarVersion newest;
  std::unique_ptr<cml::IndicatorState> before;  // the state after the bar before s[0]
  cml::BarSeries s;
};
std::unordered_map<std::string, RollingBars>* g_rolling = nullptr;

// Copies the last `rows` vectors out (palloc'd, C++ side: throws bad_alloc).
double* copy_out(const std::vector<double>& f) {
  double* out = static_cast<double*>(MemoryContextAllocExtended(CurrentMemoryContext, sizeof(double) * Max(f.size(), (size_t)1), MCXT_ALLOC_NO_OOM));
  if (out == nullptr) throw std::bad_alloc();
  std::copy(f.begin(), f.end(), out);
  return out;
}

// P advances over the oldest kept bars, leaving count + kRollingKeep (C++: throws what update throws).
void trim_rolling(RollingBars& r, size_t count) {
  const size_t keep = count + kRollingKeep;
  if (r.s.size() <= keep + kRollingSlack) return;
  const size_t drop = r.s.size() - keep;
  for (size_t i = 0; i < drop; i++) (void)r.before->update(r.s.high[i], r.s.low[i], r.s.close[i]);
  for (std::vector<double>* c : {&r.s.open, &r.s.high, &r.s.low, &r.s.close, &r.s.volume})
    c->erase(c->begin(), c->begin() + (std::ptrdiff_t)drop);
  r.s.ts.erase(r.s.ts.begin(), r.s.ts.begin() + (std::ptrdiff_t)drop);
}

// Set 1 from the kept bars of the symbol, when they are still valid and the newest bar read is
// `newest`; NULL otherwise (the caller builds from the checkpoint, which keeps them again).
double* rolling_features(const Plans& pl, const char* symbol, const cml::IndicatorParams& params, int count, const BarVersion& newest,
                         int64** minutes_out, int* rows_out) {
  bool kept = false;
  BarVersion k{};
  cml::pg::guarded("ml_forecast", [&] {
    if (g_rolling == nullptr) g_rolling = new std::unordered_map<std::string, RollingBars>();
    auto it = g_rolling->find(symbol);
    if (it != g_rolling->end() && it->second.params == params && it->second.rel == pl.bars_rel &&
        it->second.s.size() >= (size_t)count + 60) {
      kept = true;
      k = it->second.newest;
    }
  });
  if (!kept) return nullptr;
  // the kept newest bar (its row version unchanged) and the bars after it: one forward scan of the
  // (symbol, timestamp) index from it, under the active snapshot (no statement to plan)
  int cap = 16, n = 0;
  int64* mins = (int64*)palloc(sizeof(int64) * cap);
  double* rowv = (double*)palloc(sizeof(double) * 5 * cap);  // row-major: open, high, low, close, volume
  Timestamp last_ts = k.ts;
  bool valid = false;
  {
    Relation rel = table_open(pl.bars_rel, AccessShareLock);
    Relation idx = index_open(pl.bars_idx, AccessShareLock);
    AttrNumber att[5] = {get_attnum(pl.bars_rel, "open"), get_attnum(pl.bars_rel, "high"), get_attnum(pl.bars_rel, "low"),
                         pl.a_close, get_attnum(pl.bars_rel, "volume")};
    ScanKeyData keys[2];
    text_key(&keys[0], idx, 1, symbol);
    ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMP_GE, TimestampGetDatum(k.ts));
    IndexScanDesc scan = index_beginscan(rel, idx, GetActiveSnapshot(), 2, 0);
    index_rescan(scan, keys, 2, nullptr, 0);
    TupleTableSlot* slot = table_slot_create(rel, nullptr);
    bool first = true;
    while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
      bool isnull;
      Timestamp ts = DatumGetTimestamp(slot_getattr(slot, pl.a_ts, &isnull));
      if (first) {
        bool should_free;
        HeapTuple tup = ExecFetchSlotHeapTuple(slot, false, &should_free);
        valid = ts == k.ts && HeapTupleHeaderGetXmin(tup->t_data) == k.xmin && ItemPointerEquals(&tup->t_self, &k.tid);
        if (should_free) heap_freetuple(tup);
        first = false;
        if (!valid) break;
        continue;
      }
      if (n == cap) {
        cap *= 2;
        mins = (int64*)repalloc(mins, sizeof(int64) * cap);
        rowv = (double*)repalloc(rowv, sizeof(double) * 5 * cap);
      }
      mins[n] = minute_of(ts);
      for (int c = 0; c < 5; c++) {
        Datum d = slot_getattr(slot, att[c], &isnull);
        rowv[5 * n + c] = isnull ? NAN : cml::pg::numeric_value(d);
      }
      last_ts = ts;
      n++;
    }
    ExecDropSingleTupleTableSlot(slot);
    index_endscan(scan);
    index_close(idx, AccessShareLock);
    table_close(rel, AccessShareLock);
  }
  if (!valid || last_ts != newest.ts) {  // changed, gone, or not the newest bar of the request: build as usual
    cml::pg::guarded("ml_forecast", [&] { g_rolling->erase(symbol); });
    return nullptr;
  }
  double* out = nullptr;
  int64* out_mins = nullptr;
  int rows = 0;
  cml::pg::guarded("ml_forecast", [&] {
    RollingBars& r = g_rolling->at(symbol);
    try {
      for (int i = 0; i < n; i++) {
        r.s.ts.push_back(mins[i]);
        r.s.open.push_back(rowv[5 * i]);
        r.s.high.push_back(rowv[5 * i + 1]);
        r.s.low.push_back(rowv[5 * i + 2]);
        r.s.close.push_back(rowv[5 * i + 3]);
        r.s.volume.push_back(rowv[5 * i + 4]);
      }
      r.newest = newest;
      trim_rolling(r, (size_t)count);
      const size_t total = r.s.size();
      const size_t from = total - (size_t)count;
      out = copy_out(cml::build_features(r.s, from, total, *r.before));
      out_mins = static_cast<int64*>(MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int64) * (size_t)count, MCXT_ALLOC_NO_OOM));
      if (out_mins == nullptr) throw std::bad_alloc();
      std::copy(r.s.ts.begin() + (std::ptrdiff_t)from, r.s.ts.end(), out_mins);
      rows = count;
    } catch (const std::bad_alloc&) {
      g_rolling->erase(symbol);
      throw;
    } catch (const cml::Error&) {  // a bar the state refuses: the usual build reports it
      g_rolling->erase(symbol);
      out = nullptr;
    }
  });
  if (out == nullptr) return nullptr;
  *minutes_out = out_mins;
  *rows_out = rows;
  return out;
}

// The feature vectors of the symbol's last `count` bars, built as training samples build them: the
// indicator state at least 60 bars (set 2: kV2OwnRows) before the first of them comes from the
// trigger's checkpoints, then the bars since are replayed (bit-identical to building from the first
// bar). Set 2 also reads the season ranges' bars and the other symbols' bars of mk (`whose` names
// where mk comes from, for messages), and raises 55000 when the latest row's inputs are pending.
// Returns palloc'd rows x feature_names_for(mk.feature_set).size() doubles (oldest first), their
// minutes in *minutes_out, and the number of rows (fewer than count when the symbol has fewer
// bars). Caller is connected to SPI.
double* latest_features(const char* symbol, const cml::IndicatorParams& params, int count, const cml::pg::PgMarket& mk,
                        const char* whose, int64** minutes_out, int* rows_out, const BarVersion* newest = nullptr) {
  const Plans& pl = plans();
  const bool v2 = mk.feature_set == 2;
  if (!v2 && newest != nullptr) {  // set 1: from the bars kept since the last call, when they are still valid
    double* kept = rolling_features(pl, symbol, params, count, *newest, minutes_out, rows_out);
    if (kept != nullptr) return kept;
  }
  const int64 back = (v2 ? (int64)cml::kV2OwnRows + 1 : 60) + (int64)count - 1;
  Datum v2args[2] = {CStringGetTextDatum(symbol), Int64GetDatum(back)};
  bool isnull;
  SPI_execute_plan(pl.checkpoint, v2args, nullptr, true, 1);
  Timestamp from_ts = DT_NOBEGIN;
  const char* state = nullptr;
  size_t nstate = 0;
  if (SPI_processed == 1) {  // the bytes stay valid: SPI keeps earlier result tables until SPI_finish
    from_ts = DatumGetTimestamp(spi_value(0, 1, &isnull));
    bytea* s = DatumGetByteaPP(spi_value(0, 2, &isnull));
    state = VARDATA_ANY(s);
    nstate = VARSIZE_ANY_EXHDR(s);
  }
  Datum vt[2] = {v2args[0], TimestampGetDatum(from_ts)};
  SPI_execute_plan(pl.bars, vt, nullptr, true, 0);
  int n = (int)SPI_processed;
  if (n == 0) ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("symbol \"%s\" has no bars", symbol)));
  double* cols = (double*)palloc(sizeof(double) * 5 * n);
  int64* mins = (int64*)palloc(sizeof(int64) * n);
  Timestamp last_ts = 0;
  for (int i = 0; i < n; i++) {
    Timestamp ts = DatumGetTimestamp(spi_value(i, 1, &isnull));
    mins[i] = minute_of(ts);
    last_ts = ts;
    for (int k = 0; k < 5; k++) {  // numeric, converted as ::float8 would (numeric_value)
      Datum d = spi_value(i, 2 + k, &isnull);
      cols[k * n + i] = isnull ? NAN : cml::pg::numeric_value(d);
    }
  }
  int rows = Min(count, n);
  // set 2: the own bars of the rows' season ranges, and the other symbols' bars
  cml::pg::PgBars season{};
  cml::pg::PgBars* others = nullptr;
  int n_others = 0;
  if (v2) {
    int nr = 0;
    int64 *lo = nullptr, *hi = nullptr;
    cml::pg::guarded("ml_forecast", [&] {
      const auto ranges = cml::season_ranges_union(std::vector<std::int64_t>(mins + (n - rows), mins + n));
      lo = static_cast<int64*>(MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int64) * (ranges.size() + 1), MCXT_ALLOC_NO_OOM));
      hi = static_cast<int64*>(MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int64) * (ranges.size() + 1), MCXT_ALLOC_NO_OOM));
      if (lo == nullptr || hi == nullptr) throw std::bad_alloc();
      for (const auto& r : ranges) {
        lo[nr] = r.first;
        hi[nr++] = r.second;
      }
    });
    const char* schema = pl.schema;
    cml::pg::PgBars* parts = (cml::pg::PgBars*)palloc(sizeof(cml::pg::PgBars) * Max(nr, 1));
    int total = 0;
    for (int r = 0; r < nr; r++) {  // (after, upto]: every bar whose minute lies in [lo, hi]
      parts[r] = cml::pg::read_bars(schema, symbol, lo[r] * kUsecPerMinute - 1, hi[r] * kUsecPerMinute + (kUsecPerMinute - 1));
      total += parts[r].n;
    }
    season.symbol = symbol;
    season.n = 0;
    season.stamp = (Timestamp*)palloc(sizeof(Timestamp) * Max(total, 1));
    season.ts = (int64*)palloc(sizeof(int64) * Max(total, 1));
    double** sc[5] = {&season.open, &season.high, &season.low, &season.close, &season.volume};
    for (double** c : sc) *c = (double*)palloc(sizeof(double) * Max(total, 1));
    for (int r = 0; r < nr; r++)  // the ranges are sorted and disjoint: the concatenation is in time order
      for (int i = 0; i < parts[r].n; i++, season.n++) {
        season.stamp[season.n] = parts[r].stamp[i];
        season.ts[season.n] = parts[r].ts[i];
        season.open[season.n] = parts[r].open[i];
        season.high[season.n] = parts[r].high[i];
        season.low[season.n] = parts[r].low[i];
        season.close[season.n] = parts[r].close[i];
        season.volume[season.n] = parts[r].volume[i];
      }
    n_others = cml::pg::read_context_bars(schema, symbol, mk, mins[n - rows], whose, &others);
  }
  double* out = nullptr;
  char* pending = nullptr;
  cml::pg::guarded("ml_forecast", [&] {
    std::unique_ptr<cml::IndicatorState> st;
    if (state != nullptr) {
      st.reset(new cml::IndicatorState(cml::IndicatorState::deserialize(std::string(state, nstate))));
      if (!(st->params() == params))
        throw cml::DataError("the indicator checkpoint of " + std::string(symbol) + " was written with other features settings",
                             "", "Run CALL ml_recompute_indicators('" + std::string(symbol) + "'); first.");
    } else {
      st.reset(new cml::IndicatorState(params));
    }
    cml::BarSeries s;
    s.ts.assign(mins, mins + n);
    s.open.assign(cols, cols + n);
    s.high.assign(cols + n, cols + 2 * n);
    s.low.assign(cols + 2 * n, cols + 3 * n);
    s.close.assign(cols + 3 * n, cols + 4 * n);
    s.volume.assign(cols + 4 * n, cols + 5 * n);
    std::vector<double> f;
    if (v2) {
      cml::MarketContext ctx = cml::pg::context_of(symbol, mk, others, n_others);
      ctx.season_bars = cml::pg::series_of(season);
      const std::vector<std::string> waiting = cml::pending_inputs(ctx, s.ts[n - 1]);
      if (!waiting.empty()) {
        std::string text;
        for (const std::string& w : waiting) text += (text.empty() ? "" : ", ") + w;
        pending = cml::pg::pstrdup_nothrow(text);
        return;
      }
      f = cml::build_features_v2(s, n - rows, n, *st, ctx);
    } else {
      f = cml::build_features(s, n - rows, n, *st);
      if (newest != nullptr && last_ts == newest->ts) {  // kept for the next bar (rolling_features)
        if (g_rolling == nullptr) g_rolling = new std::unordered_map<std::string, RollingBars>();
        RollingBars r{params, pl.bars_rel, *newest, std::unique_ptr<cml::IndicatorState>(new cml::IndicatorState(*st)), std::move(s)};
        try {
          trim_rolling(r, (size_t)count);
          if (g_rolling->size() >= 256 && g_rolling->count(symbol) == 0) g_rolling->clear();
          (*g_rolling)[symbol] = std::move(r);
        } catch (const cml::Error&) {  // not kept: the next call builds from the checkpoint again
          g_rolling->erase(symbol);
        }
      }
    }
    out = static_cast<double*>(MemoryContextAllocExtended(CurrentMemoryContext, sizeof(double) * f.size(), MCXT_ALLOC_NO_OOM));
    if (out == nullptr) throw std::bad_alloc();
    std::copy(f.begin(), f.end(), out);
  });
  if (pending != nullptr) cml::pg::raise_pending(symbol, last_ts, pending);
  *minutes_out = mins + (n - rows);
  *rows_out = rows;
  return out;
}

}  // namespace

namespace cml {
namespace pg {
void forecast_init() {
  CacheRegisterRelcacheCallback(registry_inval_callback, (Datum)0);
  forecast_history_init();
  RegisterXactCallback(memo_xact_callback, nullptr);
  RegisterSubXactCallback(memo_subxact_callback, nullptr);
}
}  // namespace pg
}  // namespace cml

namespace {

// ---- read ------------------------------------------------------------------------------------

// One call's request: the symbol's latest bar and the model that forecasts it.
struct Request {
  const char* symbol;
  int horizon;
  char memo_key[128];      // "<symbol>/<horizon>": the key of the per-session caches
  char row_version[96];    // the latest bar's row version: the features cache key
  Timestamp bar_ts;
  double close;
  BarVersion newest;       // the latest bar's row version (rolling_features)
  const char* batch_id;    // the production ensemble, else xgboost, else lstm
  bool is_ensemble;
  bool stale;
};

// The latest bar and the production model, from the indexes (and this session's registry cache).
Request read_request(const Plans& pl, const char* symbol, int horizon, int stale_seconds) {
  Request q;
  q.symbol = symbol;
  q.horizon = horizon;
  TransactionId xmin;
  ItemPointerData tid;
  if (!read_latest_bar(pl, symbol, &q.bar_ts, &q.close, &xmin, &tid))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown symbol \"%s\": it has no bars", symbol),
                    errhint("Load its candles into rollingChartData first.")));
  snprintf(q.row_version, sizeof q.row_version, INT64_FORMAT "/%u/%u/%u", (int64)q.bar_ts, xmin,
           ItemPointerGetBlockNumberNoCheck(&tid), (unsigned)ItemPointerGetOffsetNumberNoCheck(&tid));
  q.newest = BarVersion{q.bar_ts, xmin, tid};
  snprintf(q.memo_key, sizeof q.memo_key, "%s/%d", symbol, horizon);
  Production prod;
  bool prod_cached = false;
  cml::pg::guarded("ml_forecast", [&] {
    if (g_production == nullptr) g_production = new std::unordered_map<std::string, ProductionEntry>();
    auto it = g_production->find(q.memo_key);
    if (it != g_production->end() && it->second.generation == g_registry_generation) {
      prod = it->second.p;
      prod_cached = true;
    }
  });
  if (!prod_cached) {
    uint64 generation = g_registry_generation;
    read_production(pl, symbol, horizon, &prod);
    cml::pg::guarded("ml_forecast", [&] { (*g_production)[q.memo_key] = ProductionEntry{generation, prod}; });
  }
  int best_rank = 99;
  q.batch_id = nullptr;
  for (int i = 0; i < prod.n; i++) {
    const char* type = prod.model_type[i];
    int rank = strcmp(type, "ensemble") == 0 ? 0 : strcmp(type, "xgboost") == 0 ? 1 : 2;
    if (rank < best_rank) {
      best_rank = rank;
      q.batch_id = pstrdup(prod.batch_id[i]);
    }
  }
  if (q.batch_id == nullptr)
    ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("no production model for %s horizon %d", symbol, horizon),
                    errdetail("A model is promoted only when its out-of-time record beats zero change significantly "
                              "(mlTrainingBatches.skill_p_value below inference.skillSignificance)."),
                    errhint("Run SELECT ml_build_samples('%s'); SELECT ml_train('%s', %d); or deploy one with ml_deploy.",
                            symbol, symbol, horizon)));
  q.is_ensemble = best_rank == 0;
  q.stale = GetCurrentTimestamp() - q.bar_ts > (int64)stale_seconds * USECS_PER_SEC;  // timestamps are UTC
  return q;
}

// The prediction cache: the same model's forecast of the same bar, young enough. This backend's
// memo first, then persistentForecasts. True with *out filled on a hit.
bool read_cached(const Plans& pl, const Request& q, int max_age, Stated* out) {
  TimestampTz now = GetCurrentTransactionStartTimestamp();  // what now() and created_at's default read
  TimestampTz young = now - (int64)max_age * USECS_PER_SEC;
  bool hit = false;
  cml::pg::guarded("ml_forecast", [&] {
    if (g_memo == nullptr) g_memo = new std::unordered_map<std::string, Memo>();
    auto it = g_memo->find(q.memo_key);
    if (it != g_memo->end() && it->second.bar_ts == q.bar_ts && it->second.batch_id == q.batch_id && it->second.made_at >= young) {
      hit = true;
      *out = it->second.stated;
    }
  });
  if (hit) return true;
  Datum vl[5] = {CStringGetTextDatum(q.symbol), Int32GetDatum(q.horizon), TimestampGetDatum(q.bar_ts),
                 CStringGetTextDatum(q.batch_id), Int32GetDatum(max_age)};
  if (SPI_execute_plan(pl.lookup, vl, nullptr, true, 1) != SPI_OK_SELECT) elog(ERROR, "cryptoml: the prediction cache lookup failed");
  if (SPI_processed != 1) return false;
  bool isnull;
  auto value = [&](int col, double if_null) {
    Datum d = spi_value(0, col, &isnull);
    return isnull ? if_null : DatumGetFloat8(d);
  };
  out->served = value(1, 0);
  out->confidence = value(2, 50);
  TimestampTz made_at = now - (int64)(value(3, 0) * USECS_PER_SEC);
  out->raw = value(4, out->served);  // a row stored before 0.6.0: its prediction was raw
  out->lower = value(5, NAN);
  out->upper = value(6, NAN);
  Stated st = *out;
  cml::pg::guarded("ml_forecast", [&] { (*g_memo)[q.memo_key] = Memo{q.bar_ts, q.batch_id, made_at, st}; });
  return true;
}

// Loads the model, its members and its out-of-time record into this backend, once per batch.
void read_model(const Plans& pl, const Request& q) {
  if (model_cached(q.batch_id)) return;
  cml::pg::BlobSet blobs;
  if (!cml::pg::fetch_model(q.batch_id, &blobs))
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("model %s is registered but its bytes are missing", q.batch_id)));
  Datum vb[1] = {CStringGetTextDatum(q.batch_id)};
  if (SPI_execute_plan(pl.model, vb, nullptr, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
    elog(ERROR, "cryptoml: reading the feature set of model %s failed", q.batch_id);
  // the record: the three arrays read as unnest(oot_ts, oot_raw, oot_actual) would give them (the
  // shorter padded with NULL), in time order (a NULL time last), without an executor sort of
  // thousands of rows per model loaded
  Elems8 ts = array_elems(1), raw = array_elems(2), actual = array_elems(3);
  const int n = Max(ts.n, Max(raw.n, actual.n));
  cml::OutcomePair* rec = (cml::OutcomePair*)palloc(sizeof(cml::OutcomePair) * Max(n, 1));
  bool* ts_null = (bool*)palloc(sizeof(bool) * Max(n, 1));
  for (int i = 0; i < n; i++) {
    ts_null[i] = i >= ts.n || ts.nulls[i];
    rec[i].ts = minute_of(ts_null[i] ? 0 : DatumGetTimestamp(ts.values[i]));
    rec[i].raw = i >= raw.n || raw.nulls[i] ? NAN : DatumGetFloat8(raw.values[i]);
    rec[i].actual = i >= actual.n || actual.nulls[i] ? NAN : DatumGetFloat8(actual.values[i]);
  }
  bool fs_null;
  const int feature_set = DatumGetInt32(spi_value(0, 4, &fs_null));
  const char* hp_text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
  cml::pg::guarded("ml_forecast", [&] {  // insert only a model that loaded: a failed load leaves no entry
    LoadedModel m;
    m.model.reset(new cml::Model(cml::pg::build_model(blobs)));
    std::vector<int> order(n);
    for (int i = 0; i < n; i++) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return ts_null[a] != ts_null[b] ? ts_null[b] : !ts_null[a] && rec[a].ts < rec[b].ts;
    });
    m.record.reserve(n);
    for (int i : order) m.record.push_back(rec[i]);
    m.version = q.batch_id;
    m.feature_set = cml::checked_feature_set(feature_set, std::string("model ") + q.batch_id);
    if (m.feature_set == 2) m.market = cml::recorded_market_names(json::parse(hp_text), std::string("model ") + q.batch_id);
    const size_t nf = cml::feature_names_for(m.feature_set).size();
    if (m.model->num_features() != nf)
      throw cml::DataError("model " + std::string(q.batch_id) + " reads " + std::to_string(m.model->num_features()) +
                               " inputs, but feature set " + std::to_string(m.feature_set) + " has " + std::to_string(nf),
                           "rule: a model reads one input per feature of its feature set");
    for (int i = 1; i < blobs.n; i++) {
      char w[32];
      snprintf(w, sizeof w, "%.3f", blobs.items[i].weight);
      m.version += std::string(i == 1 ? " = " : " + ") + blobs.items[i].batch_id + " x " + w;
    }
    (*g_models)[q.batch_id] = std::move(m);
  });
}

// The model's own forecasts whose outcome is known at the request's bar: the live part of its
// record (oldest first), with the intervals they stated.
struct Outcomes {
  int n;
  cml::OutcomePair* pairs;
  double *lower, *upper;
};
Outcomes read_outcomes(const Plans& pl, const Request& q) {
  Datum v[3] = {CStringGetTextDatum(q.batch_id), Int32GetDatum(q.horizon), TimestampGetDatum(q.bar_ts)};
  if (SPI_execute_plan(pl.outcomes, v, nullptr, true, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: reading forecast outcomes failed");
  Outcomes o;
  o.n = (int)SPI_processed;
  o.pairs = (cml::OutcomePair*)palloc(sizeof(cml::OutcomePair) * Max(o.n, 1));
  o.lower = (double*)palloc(sizeof(double) * Max(o.n, 1));
  o.upper = (double*)palloc(sizeof(double) * Max(o.n, 1));
  for (int i = 0; i < o.n; i++) {
    bool isnull;
    o.pairs[i].ts = minute_of(DatumGetTimestamp(spi_value(i, 1, &isnull)));
    o.pairs[i].raw = DatumGetFloat8(spi_value(i, 2, &isnull));
    o.pairs[i].actual = DatumGetFloat8(spi_value(i, 3, &isnull));
    Datum lo = spi_value(i, 4, &isnull);
    o.lower[i] = isnull ? NAN : DatumGetFloat8(lo);
    Datum up = spi_value(i, 5, &isnull);
    o.upper[i] = isnull ? NAN : DatumGetFloat8(up);
  }
  return o;
}

// The features of the symbol's last `need` bars, unless this backend has them for the same row
// version. Returns the contiguous minutes ending at the latest bar.
int read_features(const Plans& pl, const Request& q, const cml::IndicatorParams& params) {
  int need = 1;
  cml::pg::PgMarket mk;
  char** others = nullptr;
  int n_others = 0;
  cml::pg::guarded("ml_forecast", [&] {
    const LoadedModel& m = g_models->at(q.batch_id);
    need = m.model->sequence_length();
    mk = cml::pg::market_of(m.feature_set, m.market);
    if (m.feature_set == 2) {
      const std::vector<std::string> names = cml::context_symbols(m.market, q.symbol);
      others = static_cast<char**>(MemoryContextAllocExtended(CurrentMemoryContext, sizeof(char*) * (names.size() + 1), MCXT_ALLOC_NO_OOM));
      if (others == nullptr) throw std::bad_alloc();
      for (const std::string& x : names) others[n_others++] = cml::pg::pstrdup_nothrow(x);
    }
  });
  // The key: the latest bar's row version; set 2 adds its market names and the other symbols'
  // latest row versions (a bar of theirs that arrives or changes rebuilds the vector).
  StringInfoData key;
  initStringInfo(&key);
  appendStringInfoString(&key, q.row_version);
  if (mk.feature_set == 2) {
    appendStringInfo(&key, "|2|%s", mk.names_json);
    for (int i = 0; i < n_others; i++) {
      Timestamp ts;
      double close;
      TransactionId xmin;
      ItemPointerData tid;
      if (read_latest_bar(pl, others[i], &ts, &close, &xmin, &tid))
        appendStringInfo(&key, "|%s:" INT64_FORMAT "/%u/%u/%u", others[i], (int64)ts, xmin, ItemPointerGetBlockNumberNoCheck(&tid),
                         (unsigned)ItemPointerGetOffsetNumberNoCheck(&tid));
      else
        appendStringInfo(&key, "|%s:none", others[i]);
    }
  }
  bool have = false;
  cml::pg::guarded("ml_forecast", [&] {
    if (g_features == nullptr) g_features = new std::unordered_map<std::string, CachedFeatures>();
    auto it = g_features->find(q.symbol);
    have = it != g_features->end() && it->second.key == key.data && it->second.params == params && it->second.rows >= need;
  });
  int64* mins = nullptr;
  int rows = 0;
  double* features = have ? nullptr : latest_features(q.symbol, params, need, mk, psprintf("model %s", q.batch_id), &mins, &rows, &q.newest);
  int run_last = 0;
  cml::pg::guarded("ml_forecast", [&] {
    if (features != nullptr) {
      size_t nf = cml::feature_names_for(mk.feature_set).size();
      CachedFeatures c{key.data, params, rows, nf, std::vector<double>(features, features + (size_t)rows * nf), {}};
      c.run = cml::contiguous_runs(std::vector<long long>(mins, mins + rows));
      (*g_features)[q.symbol] = std::move(c);
    }
    run_last = (*g_features)[q.symbol].run.back();
  });
  if (run_last < need)
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                    errmsg("incomplete features for %s: model %s needs the last %d minutes without a gap, the latest bar has %d",
                           q.symbol, q.batch_id, need, run_last),
                    errdetail("Bars are missing within the last %d minutes before %s.", need,
                              DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(q.bar_ts)))),
                    errhint("Load the missing candles, or wait until %d bars have arrived after the gap.", need)));
  return run_last;
}

// ---- compute ---------------------------------------------------------------------------------

// The calibration of a model's record as of a bar, kept per model: what a statement reads is a
// function of the model (its training record never changes), which of its record's pairs are known
// at the bar, the settings and the live outcomes, so the key digests all of them and a hit is
// exactly what a recomputation would give. The known pairs of the record are those with ts +
// horizon <= the bar's minute: a threshold on ts, so their count names the set (two bars with the
// same count know the same pairs), and the next bar of the forecaster, which knows no new pair
// of the training record, reuses the calibration instead of sorting the record again. Entries are
// never wrong after an abort, only unused. Never destroyed; cleared when it holds more than
// kMaxCalibrations models.
struct CalibrationMemo {
  uint64 key;
  cml::Calibration c;
};
std::unordered_map<std::string, CalibrationMemo>* g_calibrations = nullptr;
constexpr size_t kMaxCalibrations = 256;

uint64 calibration_key(uint64 known_record_pairs, const cml::HonestSettings& hs, const Outcomes& o) {
  uint64 h = 1469598103934665603ULL;  // FNV-1a 64
  auto mix = [&h](const void* p, size_t len) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < len; i++) {
      h ^= b[i];
      h *= 1099511628211ULL;
    }
  };
  mix(&known_record_pairs, sizeof known_record_pairs);
  mix(&hs.horizon, sizeof hs.horizon);
  mix(&hs.coverage, sizeof hs.coverage);
  mix(&hs.aci_gamma, sizeof hs.aci_gamma);
  mix(&hs.significance, sizeof hs.significance);
  mix(&hs.window, sizeof hs.window);
  mix(&hs.min_pairs, sizeof hs.min_pairs);
  mix(&o.n, sizeof o.n);
  for (int i = 0; i < o.n; i++) {
    mix(&o.pairs[i], sizeof o.pairs[i]);
    mix(&o.lower[i], sizeof o.lower[i]);
    mix(&o.upper[i], sizeof o.upper[i]);
  }
  return h;
}

// The raw prediction and what can be stated of it (C++, inside guarded()): the model's record
// known at the bar (its training pairs, then its own outcomes) calibrated by the one core path.
Stated compute_statement(const Request& q, const Outcomes& o, cml::HonestSettings hs) {
  const LoadedModel& model = g_models->at(q.batch_id);
  const CachedFeatures& c = g_features->at(q.symbol);
  size_t nf = c.nf;
  cml::FeatureRows fr{c.values.data(), (size_t)c.rows, nf, c.run.data()};
  const double raw = model.model->predict(fr, {(size_t)c.rows - 1})[0];
  hs.horizon = q.horizon;
  const int64 bar_minute = minute_of(q.bar_ts);
  if (g_calibrations == nullptr) g_calibrations = new std::unordered_map<std::string, CalibrationMemo>();
  uint64 known_record_pairs = 0;
  for (const cml::OutcomePair& p : model.record)
    if (p.ts + q.horizon <= bar_minute) known_record_pairs++;
  const uint64 key = calibration_key(known_record_pairs, hs, o);
  auto it = g_calibrations->find(q.batch_id);
  if (it == g_calibrations->end() || it->second.key != key) {
    std::vector<cml::OutcomePair> known;
    known.reserve(known_record_pairs + (size_t)o.n);
    for (const cml::OutcomePair& p : model.record)
      if (p.ts + q.horizon <= bar_minute) known.push_back(p);
    size_t stated = 0, missed = 0;
    for (int i = 0; i < o.n; i++) {
      known.push_back(o.pairs[i]);
      if (std::isfinite(o.lower[i]) && std::isfinite(o.upper[i])) {
        stated++;
        if (o.pairs[i].actual < o.lower[i] || o.pairs[i].actual > o.upper[i]) missed++;
      }
    }
    cml::Calibration cal = cml::calibrate(std::move(known), stated, missed, hs);
    if (g_calibrations->size() >= kMaxCalibrations) g_calibrations->clear();
    it = g_calibrations->insert_or_assign(q.batch_id, CalibrationMemo{key, std::move(cal)}).first;
  }
  const cml::Statement st = cml::state(it->second.c, raw);
  return Stated{st.served, st.confidence, st.raw, st.lower, st.upper};
}

// ---- write -----------------------------------------------------------------------------------

// A value as persistentForecasts keeps it: float8 -> numeric(precision, scale) -> float8, the casts
// the INSERT and a later read make. A computed forecast is stated as stored, so the session that
// made it, a cached read and another session (or a router) all return the same numbers.
double as_stored(double x, int precision, int scale) {
  if (!std::isfinite(x)) return x;
  Datum n = DirectFunctionCall1(float8_numeric, Float8GetDatum(x));
  n = DirectFunctionCall2(numeric, n, Int32GetDatum(((precision << 16) | scale) + VARHDRSZ));
  return DatumGetFloat8(DirectFunctionCall1(numeric_float8, n));
}

void round_as_stored(Stated* st) {
  st->served = as_stored(st->served, 15, 8);
  st->raw = as_stored(st->raw, 15, 8);
  st->lower = as_stored(st->lower, 15, 8);
  st->upper = as_stored(st->upper, 15, 8);
  st->confidence = as_stored(st->confidence, 5, 2);
}

void write_forecast(const Plans& pl, const Request& q, const Stated& st) {
  Timestamp expires = q.bar_ts + (int64)q.horizon * kUsecPerMinute;
  Datum vi[10] = {CStringGetTextDatum(q.symbol), Float8GetDatum(st.confidence), Float8GetDatum(st.served), Int32GetDatum(q.horizon),
                  CStringGetTextDatum(q.batch_id), TimestampGetDatum(expires), TimestampGetDatum(q.bar_ts),
                  Float8GetDatum(st.raw), Float8GetDatum(st.lower), Float8GetDatum(st.upper)};
  char nulls[11] = "          ";
  if (!std::isfinite(st.lower)) nulls[8] = 'n';
  if (!std::isfinite(st.upper)) nulls[9] = 'n';
  if (SPI_execute_plan(pl.insert, vi, nulls, false, 0) != SPI_OK_INSERT) elog(ERROR, "cryptoml: storing the forecast failed");
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  cml::pg::guarded("ml_forecast", [&] {
    if (g_memo == nullptr) g_memo = new std::unordered_map<std::string, Memo>();
    (*g_memo)[q.memo_key] = Memo{q.bar_ts, q.batch_id, now, st};
  });
}

// The result row (its descriptor built once per call site).
HeapTupleHeader result_row(FunctionCallInfo fcinfo, const Request& q, const Stated& st, const char* signal, const char* model_version,
                           bool cached) {
  TupleDesc desc = (TupleDesc)fcinfo->flinfo->fn_extra;
  if (desc == nullptr) {
    TupleDesc built;
    if (get_call_result_type(fcinfo, nullptr, &built) != TYPEFUNC_COMPOSITE) elog(ERROR, "cryptoml: expected a record result");
    MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
    desc = BlessTupleDesc(CreateTupleDescCopy(built));
    MemoryContextSwitchTo(old);
    fcinfo->flinfo->fn_extra = desc;
  }
  Timestamp expires = q.bar_ts + (int64)q.horizon * kUsecPerMinute;
  Datum values[14] = {CStringGetTextDatum(q.symbol), Int32GetDatum(q.horizon), TimestampGetDatum(q.bar_ts),
                      Float8GetDatum(st.served), Float8GetDatum(q.close * (1 + st.served / 100.0)),
                      Float8GetDatum(std::round(st.confidence * 100) / 100), CStringGetTextDatum(signal),
                      CStringGetTextDatum(model_version), TimestampGetDatum(expires), BoolGetDatum(cached), BoolGetDatum(q.stale),
                      Float8GetDatum(st.raw), Float8GetDatum(st.lower), Float8GetDatum(st.upper)};
  bool nulls[14] = {false};
  nulls[12] = !std::isfinite(st.lower);
  nulls[13] = !std::isfinite(st.upper);
  return SPI_returntuple(heap_form_tuple(desc, values, nulls), desc);  // copied out of SPI memory
}

}  // namespace

Datum ml_forecast(PG_FUNCTION_ARGS) {
  const TimestampTz started = GetCurrentTimestamp();  // the latency ml_health() reports
  const char* symbol = cml::pg::symbol_arg(PG_GETARG_TEXT_PP(0));
  int horizon = PG_GETARG_INT32(1);
  if (horizon <= 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("horizon must be > 0 minutes, got %d", horizon)));
  cml::pg::node_require_owned(symbol, "ml_forecast:");
  const cml::pg::InferenceSettings& cfg = cml::pg::config_inference();
  const cml::IndicatorParams& params = cml::pg::config_indicator_params();
  // Registry changes committed by other sessions since this transaction's last lock: a long
  // transaction sees a deploy at its next call, as a plain query would.
  AcceptInvalidationMessages();
  SPI_connect();
  const Plans& pl = plans();

  // read
  const Request q = read_request(pl, symbol, horizon, cfg.stale_seconds);
  Stated st;
  const bool cached = cfg.prediction_cache && read_cached(pl, q, cfg.max_prediction_age, &st);
  if (!cached || q.is_ensemble) read_model(pl, q);  // to predict, or to name an ensemble's members
  if (!cached) {
    (void)read_features(pl, q, params);
    const Outcomes o = read_outcomes(pl, q);
    // compute
    cml::pg::guarded("ml_forecast", [&] { st = compute_statement(q, o, cfg.honest); });
    round_as_stored(&st);
    // write
    write_forecast(pl, q, st);
  }
  const char* model_version = q.is_ensemble || !cached ? g_models_version(q.batch_id) : q.batch_id;
  // A signal only with skill shown (the served change is 0 without it) and enough confidence.
  const char* signal = st.served != 0 && st.confidence >= cfg.confidence_threshold ? (st.served > 0 ? "LONG" : "SHORT") : "WAIT";
  if (q.stale)
    ereport(WARNING, (errmsg("ml_forecast: the latest %s bar (%s) is older than monitoring.alertThresholds.staleData (%d s)",
                             symbol, DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(q.bar_ts))),
                             cfg.stale_seconds),
                      errdetail("The forecast is made as of that bar and flagged stale.")));
  HeapTupleHeader result = result_row(fcinfo, q, st, signal, model_version, cached);
  SPI_finish();
  cml::pg::record_prediction_latency(GetCurrentTimestamp() - started);
  PG_RETURN_HEAPTUPLEHEADER(result);
}

// Test hook: the features ml_forecast would use for the symbol's latest bar, as jsonb (the same
// shape as mlTrainingSamples.features), to prove training and serving build the same vector.
// latest_features(symbol) is feature set 1 as ml_forecast builds it, from the bars this backend
// kept since its last call when they are still valid (rolling_features); latest_features(symbol,
// feature_set) builds that set from the trigger's checkpoint, set 2 with the configuration's
// leaders and index members (as ml_build_samples does).
Datum cml_latest_features(PG_FUNCTION_ARGS) {
  const char* symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
  const int requested = PG_NARGS() > 1 ? PG_GETARG_INT32(1) : 1;
  int fs = 1;
  cml::pg::guarded("latest_features", [&] { fs = cml::checked_feature_set(requested, "argument feature_set"); });
  const cml::pg::PgMarket mk = cml::pg::config_market(fs);
  MemoryContext caller = CurrentMemoryContext;
  SPI_connect();
  int64* mins;
  int rows;
  BarVersion newest{};
  bool rolling = false;
  if (PG_NARGS() == 1) {  // as ml_forecast: with the kept bars, from the latest bar's row version
    double close;
    rolling = read_latest_bar(plans(), symbol, &newest.ts, &close, &newest.xmin, &newest.tid);
  }
  double* f = latest_features(symbol, cml::pg::config_indicator_params(), 1, mk, "the configuration", &mins, &rows,
                              rolling ? &newest : nullptr);
  const std::vector<std::string>* names = nullptr;
  cml::pg::guarded("latest_features", [&] { names = &cml::feature_names_for(fs); });
  MemoryContextSwitchTo(caller);  // the text outlives SPI_finish, which frees SPI's memory
  StringInfoData j;
  initStringInfo(&j);
  appendStringInfoChar(&j, '{');
  for (size_t c = 0; c < names->size(); c++) {
    if (c) appendStringInfoString(&j, ", ");
    escape_json(&j, (*names)[c].c_str());
    if (std::isfinite(f[c])) appendStringInfo(&j, ": %.17g", f[c]);
    else appendStringInfoString(&j, ": null");
  }
  appendStringInfoChar(&j, '}');
  SPI_finish();
  PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(j.data)));
}

// Statement trigger on mltrainingbatches: every change invalidates the per-session production
// caches of all sessions (a relcache invalidation of the table, sent at commit).
Datum cml_registry_changed(PG_FUNCTION_ARGS) {
  if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "cryptoml: registry_changed must be called as a trigger");
  TriggerData* td = (TriggerData*)fcinfo->context;
  CacheInvalidateRelcache(td->tg_relation);
  return PointerGetDatum(nullptr);
}
