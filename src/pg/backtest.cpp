// Walk-forward backtests (issue 7): cryptoml_internal.backtest_run reads a symbol's samples and bars,
// runs src/core/backtest.* (retrain every retrain_every minutes on the samples whose target was
// known at that point, predict the next segment, turn the predictions into trades with the live
// simulation's rules) and stores predictions and trades under a run id. ml_backtest (SQL) wraps it.
//
// The samples are those of params.featureSet (ml_backtest resolves it from config
// features.featureSet); params.excludeGroups names feature set 2 groups whose columns are set to
// NaN (missing) in every sample before anything trains or predicts: the ablation.
//
// Frames that call PostgreSQL hold no C++ object with a destructor: inputs are copied into
// palloc'd arrays, the C++ work runs inside guarded() and copies its results into palloc'd arrays
// (allocated before, sized by an upper bound), which are written with SPI afterwards.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backtest.hpp"
#include "feature_context.hpp"
#include "features.hpp"
#include "features_v2.hpp"
#include "options.hpp"
#include "version.hpp"

#include "guard.hpp"
#include "progress.hpp"
#include "log.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cml_backtest_run);
PG_FUNCTION_INFO_V1(cml_check_backtest_options);
}

namespace {

constexpr int64 kUsecPerMinute = INT64CONST(60000000);

using cml::pg::minute_of;

struct Row {
  int64 ts;
  int row;
};
int compare_rows(const void* a, const void* b) {
  int64 x = ((const Row*)a)->ts, y = ((const Row*)b)->ts;
  return (x > y) - (x < y);
}

// cryptoml.backtest_threads: networks a backtest segment trains at once (backtest.hpp, "Threads";
// the results do not depend on it).
int g_backtest_threads = 2;

}  // namespace

namespace cml {
namespace pg {
void backtest_init() {
  DefineCustomIntVariable("cryptoml.backtest_threads",
                          "Networks (model and fold models) a backtest segment of an lstm or ensemble trains at once.",
                          "See docs/trading.md. The results do not depend on it.", &g_backtest_threads, 2, 1, 64,
                          PGC_USERSET, 0, nullptr, nullptr, nullptr);
}
}  // namespace pg
}  // namespace cml

// cryptoml_internal.check_backtest_options(model_type, options): ERROR naming key, value and rule for
// an option of the wrong type or out of range (src/core/options.hpp); ml_backtest calls it before
// it resolves and casts anything, and again with the resolved featureSet and excludeGroups (an
// unknown group is named with the list of groups).
Datum cml_check_backtest_options(PG_FUNCTION_ARGS) {
  char* model_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* options = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(1)));
  cml::pg::guarded("ml_backtest", [&] {
    const cml::json o = cml::parse_json_document(options, "option");
    const cml::ModelType type = cml::parse_model_type(model_type);
    const auto& specs = cml::backtest_option_specs(type);
    for (auto it = o.begin(); it != o.end(); ++it)
      if (const cml::OptionSpec* spec = cml::find_option(specs, it.key())) cml::check_option(*spec, it.value(), it.key());
    // the ablation's groups, once the feature set is known (ml_backtest calls again with the resolved one)
    if (o.contains("featureSet") && o.contains("excludeGroups"))
      (void)cml::excluded_columns(cml::checked_feature_set(o.at("featureSet").get<long long>(), "option featureSet"), o.at("excludeGroups"));
  });
  PG_RETURN_VOID();
}

// cryptoml_internal.backtest_run(run_id, symbol, horizon, from, to, model_type, params) -> number of
//   predictions; predictions and trades go to mlBacktestPredictions and mlBacktestTrades. params is
//   the JSON object ml_backtest resolved, holding every key read below.
Datum cml_backtest_run(PG_FUNCTION_ARGS) {
  for (int i = 0; i < 7; i++)
    if (PG_ARGISNULL(i)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("backtest argument %d is NULL", i + 1)));
  text* run_id = PG_GETARG_TEXT_PP(0);
  text* symbol = PG_GETARG_TEXT_PP(1);
  int horizon = PG_GETARG_INT32(2);
  Timestamp from = PG_GETARG_TIMESTAMP(3), to = PG_GETARG_TIMESTAMP(4);
  char* model_type = text_to_cstring(PG_GETARG_TEXT_PP(5));
  char* params = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(6)));
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) elog(ERROR, "cryptoml: extension schema not found");
  char* rid = text_to_cstring(run_id);  // before SPI_connect: used after SPI_finish
  // Every option checked (type, range: src/core/options.hpp) before anything is read or run; the
  // feature set and the columns the ablation blanks.
  int fs = 1, n_blank = 0;
  int* blank = nullptr;
  bool warm = false;  // warm-started segments depend on the ones before: no checkpoint is taken back
  cml::pg::guarded("ml_backtest", [&] {
    const cml::json o = cml::parse_json_document(params, "option");
    const cml::BacktestConfig c = cml::parse_backtest_options(o, cml::parse_model_type(model_type), horizon);
    warm = c.warm_start && c.model != cml::ModelType::xgboost;
    fs = cml::checked_feature_set(o.contains("featureSet") ? o.at("featureSet").get<long long>() : 1, "option featureSet");
    const std::vector<std::size_t> cols = cml::excluded_columns(fs, o.contains("excludeGroups") ? o.at("excludeGroups") : cml::json::array());
    blank = static_cast<int*>(MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int) * (cols.size() + 1), MCXT_ALLOC_NO_OOM));
    if (blank == nullptr) throw std::bad_alloc();
    for (std::size_t c : cols) blank[n_blank++] = (int)c;
  });

  cml::pg::progress_begin("backtest", text_to_cstring(symbol), 0);
  cml::pg::progress_phase("reading samples", 0);
  SPI_connect();
  // samples of the symbol and horizon with a target, up to `to`
  Oid t3[4] = {TEXTOID, INT4OID, TIMESTAMPOID, INT4OID};
  Datum v3[4] = {PointerGetDatum(symbol), Int32GetDatum(horizon), TimestampGetDatum(to), Int32GetDatum(fs)};
  if (SPI_execute_with_args(psprintf("SELECT s.bar_timestamp, s.target::float8, coalesce(s.feature_vector, "
                                     "cryptoml_internal.features_to_vector(s.features, s.feature_set)) FROM %s.mltrainingsamples s "
                                     "WHERE s.symbol = $1 AND s.forecast_horizon = $2 AND s.feature_set = $4 AND s.target IS NOT NULL "
                                     "AND s.bar_timestamp < $3",
                                     schema),
                            4, t3, v3, nullptr, true, 0) != SPI_OK_SELECT)
    elog(ERROR, "cryptoml: reading samples failed");
  int n = (int)SPI_processed;
  int nf = 0;
  cml::pg::guarded("ml_backtest", [&] { nf = (int)cml::feature_names_for(fs).size(); });
  Row* order = (Row*)palloc(sizeof(Row) * Max(n, 1));
  for (int i = 0; i < n; i++) {
    bool isnull;
    order[i].ts = minute_of(DatumGetTimestamp(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
    order[i].row = i;
  }
  if (n > 1) qsort(order, n, sizeof(Row), compare_rows);
  int64* sts = (int64*)palloc(sizeof(int64) * Max(n, 1));
  float* sy = (float*)palloc(sizeof(float) * Max(n, 1));
  float* sx = (float*)palloc(sizeof(float) * (size_t)Max(n, 1) * Max(nf, 1));
  for (int i = 0; i < n; i++) {
    bool isnull;
    HeapTuple row = SPI_tuptable->vals[order[i].row];
    sts[i] = order[i].ts;
    sy[i] = (float)DatumGetFloat8(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
    ArrayType* a = DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull));
    Datum* elems;
    bool* nulls;
    int m;
    deconstruct_array(a, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &m);
    if (m != nf) elog(ERROR, "cryptoml: a sample of %s has %d features, %d expected", text_to_cstring(symbol), m, nf);
    for (int j = 0; j < nf; j++) sx[(size_t)i * nf + j] = nulls[j] ? NAN : (float)DatumGetFloat8(elems[j]);
    for (int j = 0; j < n_blank; j++) sx[(size_t)i * nf + blank[j]] = NAN;  // the ablation: those groups are missing
  }
  SPI_freetuptable(SPI_tuptable);
  // bars from before `from` (the volatility of the first signals) to the end
  Oid t2[2] = {TEXTOID, TIMESTAMPOID};
  Datum v2[2] = {PointerGetDatum(symbol), TimestampGetDatum(from - (int64)(24 * 60) * kUsecPerMinute)};
  if (SPI_execute_with_args(psprintf("SELECT r.timestamp, r.high::float8, r.low::float8, r.close::float8 FROM %s.rollingchartdata r "
                                     "WHERE r.symbol = $1 AND r.timestamp >= $2 ORDER BY r.timestamp",
                                     schema),
                            2, t2, v2, nullptr, true, 0) != SPI_OK_SELECT)
    elog(ERROR, "cryptoml: reading bars failed");
  int nb = (int)SPI_processed;
  int64* bts = (int64*)palloc(sizeof(int64) * Max(nb, 1));
  double* bh = (double*)palloc(sizeof(double) * Max(nb, 1));
  double* bl = (double*)palloc(sizeof(double) * Max(nb, 1));
  double* bc = (double*)palloc(sizeof(double) * Max(nb, 1));
  for (int i = 0; i < nb; i++) {
    bool isnull;
    HeapTuple row = SPI_tuptable->vals[i];
    bts[i] = minute_of(DatumGetTimestamp(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull)));
    bh[i] = DatumGetFloat8(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
    bl[i] = DatumGetFloat8(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull));
    bc[i] = DatumGetFloat8(SPI_getbinval(row, SPI_tuptable->tupdesc, 4, &isnull));
  }
  SPI_freetuptable(SPI_tuptable);

  // An interrupted run of the same arguments (run_id) left one checkpoint per finished segment,
  // written autonomously: its predictions are taken back and the walk goes on after them. Only
  // checkpoints cryptoml wrote (origin, a column no role but the owner writes) are read, and one is
  // taken back only while the digest of the samples it read is unchanged: from the first segment
  // whose inputs changed, the walk runs again. Only checkpoints this version of cryptoml wrote are
  // taken back: another version may predict or state otherwise (0.6.0 serves shrunk changes with
  // intervals).
  Oid t1[2] = {TEXTOID, TEXTOID};
  Datum v1[2] = {PointerGetDatum(run_id), CStringGetTextDatum(cml::kVersion)};
  if (SPI_execute_with_args(
          psprintf("SELECT (c.state_data->>'segment')::int, "
                   "ARRAY(SELECT x::bigint FROM jsonb_array_elements_text(c.state_data->'ts') x), "
                   "ARRAY(SELECT x::float8 FROM jsonb_array_elements_text(c.state_data->'pred') x), "
                   "ARRAY(SELECT x::float8 FROM jsonb_array_elements_text(c.state_data->'act') x), "
                   "ARRAY(SELECT x::float8 FROM jsonb_array_elements_text(coalesce(c.state_data->'conf', '[]')) x), "
                   "(c.state_data->>'end')::bigint, c.state_data->>'inputs', "
                   "ARRAY(SELECT x::float8 FROM jsonb_array_elements_text(coalesce(c.state_data->'raw', '[]')) x), "
                   "ARRAY(SELECT CASE WHEN x = 'null' THEN 'NaN' ELSE x END::float8 FROM jsonb_array_elements_text(coalesce(c.state_data->'lo', '[]')) x), "
                   "ARRAY(SELECT CASE WHEN x = 'null' THEN 'NaN' ELSE x END::float8 FROM jsonb_array_elements_text(coalesce(c.state_data->'up', '[]')) x) "
                   "FROM %s.recoverystate c WHERE c.service_name = 'backtest' AND c.operation_id = $1 AND c.origin = 'cryptoml' "
                   "AND c.checkpoint_type = 'intermediate' AND c.state_data->>'version' = $2 "
                   "AND c.id > coalesce((SELECT max(d.id) FROM %s.recoverystate d "
                   "WHERE d.service_name = 'backtest' AND d.operation_id = $1 AND d.checkpoint_type <> 'intermediate'), 0) "
                   "ORDER BY 1",
                   schema, schema),
          2, t1, v1, nullptr, true, 0) != SPI_OK_SELECT)
    elog(ERROR, "cryptoml: reading backtest checkpoints failed");
  int done_segments = 0, nres = 0;
  int64* r_ts = (int64*)palloc(sizeof(int64) * Max(n, 1));
  double* r_pred = (double*)palloc(sizeof(double) * Max(n, 1));
  double* r_act = (double*)palloc(sizeof(double) * Max(n, 1));
  double* r_conf = (double*)palloc(sizeof(double) * Max(n, 1));
  double* r_raw = (double*)palloc(sizeof(double) * Max(n, 1));
  double* r_lo = (double*)palloc(sizeof(double) * Max(n, 1));
  double* r_up = (double*)palloc(sizeof(double) * Max(n, 1));
  int* r_seg = (int*)palloc(sizeof(int) * Max(n, 1));
  if (warm && SPI_processed > 0)
    ereport(NOTICE, (errmsg("ml_backtest: run %s is warm-started (option warmStart): it walks again from its first segment", rid),
                     errdetail("A warm-started segment starts from the networks of the segments before it, which checkpoints do not keep.")));
  for (uint64 i = 0; i < SPI_processed && !warm; i++) {
    bool isnull;
    HeapTuple row = SPI_tuptable->vals[i];
    int seg = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
    if (seg != done_segments) break;  // only an unbroken run of segments from the first
    Datum end_d = SPI_getbinval(row, SPI_tuptable->tupdesc, 6, &isnull);
    char* recorded = SPI_getvalue(row, SPI_tuptable->tupdesc, 7);
    if (isnull || recorded == nullptr) break;  // written before 0.5.0: no digest to check
    int64 seg_end = DatumGetInt64(end_d);
    char current[17] = "";
    cml::pg::guarded("ml_backtest", [&] { snprintf(current, sizeof current, "%s", cml::samples_digest(sts, sy, sx, n, nf, seg_end).c_str()); });
    if (strcmp(current, recorded) != 0) {
      ereport(NOTICE, (errmsg("ml_backtest: the samples of segment %d changed since run %s checkpointed it; "
                              "the walk runs again from there", seg, rid)));
      break;
    }
    Datum *a, *b, *c, *d, *e, *f, *g;
    bool* nulls;
    int na, nb2, nc, nd, ne, nf2, ng;
    deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull)), INT8OID, 8, FLOAT8PASSBYVAL,
                      TYPALIGN_DOUBLE, &a, &nulls, &na);
    deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull)), FLOAT8OID, 8, FLOAT8PASSBYVAL,
                      TYPALIGN_DOUBLE, &b, &nulls, &nb2);
    deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 4, &isnull)), FLOAT8OID, 8, FLOAT8PASSBYVAL,
                      TYPALIGN_DOUBLE, &c, &nulls, &nc);
    deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 5, &isnull)), FLOAT8OID, 8, FLOAT8PASSBYVAL,
                      TYPALIGN_DOUBLE, &d, &nulls, &nd);
    deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 8, &isnull)), FLOAT8OID, 8, FLOAT8PASSBYVAL,
                      TYPALIGN_DOUBLE, &e, &nulls, &ne);
    deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 9, &isnull)), FLOAT8OID, 8, FLOAT8PASSBYVAL,
                      TYPALIGN_DOUBLE, &f, &nulls, &nf2);
    deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 10, &isnull)), FLOAT8OID, 8, FLOAT8PASSBYVAL,
                      TYPALIGN_DOUBLE, &g, &nulls, &ng);
    // a checkpoint written before 0.6.0 has no raw output nor interval: the walk runs again from it
    if (na != nb2 || na != nc || na != nd || na != ne || na != nf2 || na != ng || nres + na > n) break;
    for (int j = 0; j < na; j++, nres++) {
      r_ts[nres] = DatumGetInt64(a[j]);
      r_pred[nres] = DatumGetFloat8(b[j]);
      r_act[nres] = DatumGetFloat8(c[j]);
      r_conf[nres] = DatumGetFloat8(d[j]);
      r_raw[nres] = DatumGetFloat8(e[j]);
      r_lo[nres] = DatumGetFloat8(f[j]);
      r_up[nres] = DatumGetFloat8(g[j]);
      r_seg[nres] = seg;
    }
    done_segments++;
  }
  SPI_freetuptable(SPI_tuptable);
  if (done_segments > 0)
    ereport(NOTICE, (errmsg("ml_backtest: resuming run %s after segment %d (%d predictions checkpointed)", rid, done_segments - 1, nres)));

  // results: at most one prediction per sample and one trade per prediction
  int np = 0, nt = 0;
  int64* p_ts = (int64*)palloc(sizeof(int64) * Max(n, 1));
  double* p_pred = (double*)palloc(sizeof(double) * Max(n, 1));
  double* p_act = (double*)palloc(sizeof(double) * Max(n, 1));
  double* p_conf = (double*)palloc(sizeof(double) * Max(n, 1));
  double* p_raw = (double*)palloc(sizeof(double) * Max(n, 1));
  double* p_lo = (double*)palloc(sizeof(double) * Max(n, 1));
  double* p_up = (double*)palloc(sizeof(double) * Max(n, 1));
  int* p_seg = (int*)palloc(sizeof(int) * Max(n, 1));
  struct TradeOut {
    bool long_side;
    int64 opened, closed;
    double entry, tp, sl, exit_price, pnl, predicted;
    char reason[12];
  };
  TradeOut* trades = (TradeOut*)palloc(sizeof(TradeOut) * Max(n, 1));
  const int64 from_m = minute_of(from), to_m = minute_of(to);
  const int threads = g_backtest_threads;  // read here: the core's threads never read PostgreSQL state
  cml::pg::guarded("ml_backtest", [&] {
    cml::BacktestConfig cfg =
        cml::parse_backtest_options(cml::parse_json_document(params, "option"), cml::parse_model_type(model_type), horizon);
    cfg.threads = threads;
    cml::SampleSet s;
    s.cols = nf;
    s.ts.assign(sts, sts + n);
    s.y.assign(sy, sy + n);
    s.X.assign(sx, sx + (size_t)n * nf);
    std::vector<cml::BacktestPrediction> preds;
    for (int i = 0; i < nres; i++)
      preds.push_back(cml::BacktestPrediction{r_ts[i], r_pred[i], r_act[i], r_seg[i], r_conf[i], r_raw[i], r_lo[i], r_up[i]});
    const int64 nseg = cfg.retrain_every > 0 ? (to_m - from_m + cfg.retrain_every - 1) / cfg.retrain_every : 0;
    cml::pg::pg_call([&] { cml::pg::progress_phase("segments", done_segments, nseg); });
    cml::walk_forward(s, from_m, to_m, cfg, done_segments,
                      [&](const cml::SegmentResult& seg) {
                        const int64 seg_done = seg.segment + 1;
                        cml::pg::pg_call([&] { cml::pg::progress_update(seg_done); });
                        if (seg.networks > 0) {  // warm start: how much each segment trained (bench/backtest.sh reads it)
                          const int sk = seg.segment, nn = seg.networks, nw = seg.warm_started, ne = seg.epochs;
                          cml::pg::pg_call([&] {
                            elog(DEBUG1, "ml_backtest: segment %d trained %d lstm networks, %d warm-started, %d epochs", sk, nn, nw, ne);
                          });
                        }
                        preds.insert(preds.end(), seg.predictions.begin(), seg.predictions.end());
                        // checkpoint: the segment's predictions, exact (17 significant digits)
                        std::string json = "{\"version\": \"" + std::string(cml::kVersion) + "\", \"segment\": " +
                                           std::to_string(seg.segment) + ", \"end\": " +
                                           std::to_string(seg.end) + ", \"inputs\": \"" +
                                           cml::samples_digest(sts, sy, sx, n, nf, seg.end) + "\", \"ts\": [";
                        std::string pj = "], \"pred\": [", aj = "], \"act\": [", cj = "], \"conf\": [", rj = "], \"raw\": [",
                                    lj = "], \"lo\": [", uj = "], \"up\": [";
                        char buf[40];
                        // NaN (no interval, unknown outcome) is not JSON: written as null
                        auto num = [&buf](const char* sep, double v) {
                          if (std::isfinite(v)) snprintf(buf, sizeof buf, "%s%.17g", sep, v);
                          else snprintf(buf, sizeof buf, "%snull", sep);
                          return std::string(buf);
                        };
                        for (size_t i = 0; i < seg.predictions.size(); i++) {
                          const char* sep = i ? ", " : "";
                          json += sep + std::to_string(seg.predictions[i].ts);
                          snprintf(buf, sizeof buf, "%s%.17g", sep, seg.predictions[i].predicted);
                          pj += buf;
                          snprintf(buf, sizeof buf, "%s%.17g", sep, seg.predictions[i].actual);
                          aj += buf;
                          snprintf(buf, sizeof buf, "%s%.17g", sep, seg.predictions[i].confidence);
                          cj += buf;
                          rj += num(sep, seg.predictions[i].raw);
                          lj += num(sep, seg.predictions[i].lower);
                          uj += num(sep, seg.predictions[i].upper);
                        }
                        json += pj + aj + cj + rj + lj + uj + "]}";
                        const char* state = json.c_str();
                        cml::pg::pg_call([&] { cml::pg::checkpoint_write("backtest", rid, "intermediate", state); });
                      },
                      [] { return QueryCancelPending || ProcDiePending; });
    std::vector<cml::Bar> bars;
    bars.reserve(nb);
    for (int i = 0; i < nb; i++) bars.push_back(cml::Bar{bts[i], bc[i], bh[i], bl[i], bc[i]});
    std::vector<cml::BacktestTrade> tr = cml::simulate_signals(preds, bars, cfg);
    np = (int)std::min<size_t>(preds.size(), (size_t)Max(n, 1));
    for (int i = 0; i < np; i++) {
      p_ts[i] = preds[i].ts;
      p_pred[i] = preds[i].predicted;
      p_act[i] = preds[i].actual;
      p_conf[i] = preds[i].confidence;
      p_raw[i] = preds[i].raw;
      p_lo[i] = preds[i].lower;
      p_up[i] = preds[i].upper;
      p_seg[i] = preds[i].segment;
    }
    nt = (int)std::min<size_t>(tr.size(), (size_t)Max(n, 1));
    for (int i = 0; i < nt; i++) {
      TradeOut& t = trades[i];
      t.long_side = tr[i].side == cml::Side::Long;
      t.opened = tr[i].opened_at;
      t.closed = tr[i].closed_at;
      t.entry = tr[i].entry;
      t.tp = tr[i].tp;
      t.sl = tr[i].sl;
      t.exit_price = tr[i].exit_price;
      t.pnl = tr[i].pnl_pct;
      t.predicted = tr[i].predicted;
      strncpy(t.reason, tr[i].exit_reason.c_str(), sizeof t.reason - 1);
      t.reason[sizeof t.reason - 1] = '\0';
    }
  });

  // store them
  char* ins_p = psprintf("INSERT INTO %s.mlbacktestpredictions (run_id, bar_timestamp, predicted_change, actual_change, segment, "
                         "confidence, raw_change, lower, upper) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", schema);
  SPIPlanPtr plan_p;
  {
    Oid tp[9] = {TEXTOID, TIMESTAMPOID, FLOAT8OID, FLOAT8OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID};
    plan_p = SPI_prepare(ins_p, 9, tp);
  }
  for (int i = 0; i < np; i++) {
    Datum v[9] = {PointerGetDatum(run_id), TimestampGetDatum(p_ts[i] * kUsecPerMinute), Float8GetDatum(p_pred[i]),
                  Float8GetDatum(p_act[i]), Int32GetDatum(p_seg[i]), Float8GetDatum(p_conf[i]), Float8GetDatum(p_raw[i]),
                  Float8GetDatum(p_lo[i]), Float8GetDatum(p_up[i])};
    char nulls[10] = "         ";
    if (!std::isfinite(p_lo[i])) nulls[7] = 'n';
    if (!std::isfinite(p_up[i])) nulls[8] = 'n';
    if (SPI_execute_plan(plan_p, v, nulls, false, 0) != SPI_OK_INSERT) elog(ERROR, "cryptoml: storing a prediction failed");
  }
  char* ins_t = psprintf("INSERT INTO %s.mlbacktesttrades (run_id, trade_no, signal_type, opened_at, closed_at, entry_price, "
                         "tp_price, sl_price, exit_price, pnl_pct, predicted_change, exit_reason) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", schema);
  Oid tt[12] = {TEXTOID, INT4OID, TEXTOID, TIMESTAMPOID, TIMESTAMPOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTOID};
  SPIPlanPtr plan_t = SPI_prepare(ins_t, 12, tt);
  for (int i = 0; i < nt; i++) {
    TradeOut& t = trades[i];
    Datum v[12] = {PointerGetDatum(run_id), Int32GetDatum(i + 1), CStringGetTextDatum(t.long_side ? "LONG" : "SHORT"),
                   TimestampGetDatum(t.opened * kUsecPerMinute), TimestampGetDatum(t.closed * kUsecPerMinute),
                   Float8GetDatum(t.entry), Float8GetDatum(t.tp), Float8GetDatum(t.sl), Float8GetDatum(t.exit_price),
                   Float8GetDatum(t.pnl), Float8GetDatum(t.predicted), CStringGetTextDatum(t.reason)};
    if (SPI_execute_plan(plan_t, v, nullptr, false, 0) != SPI_OK_INSERT) elog(ERROR, "cryptoml: storing a trade failed");
  }
  SPI_finish();
  cml::pg::checkpoint_write("backtest", rid, "success", psprintf("{\"predictions\": %d, \"trades\": %d}", np, nt));
  cml::pg::progress_end();
  PG_RETURN_INT32(np);
}
