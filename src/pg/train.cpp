// ml_train: trains an xgboost, lstm or ensemble model of a symbol and horizon on the last
// training.windowSize minutes of samples, validates on the later part (time-ordered, never
// shuffled, with an embargo of `horizon` samples so no training target reads into the validation
// window), stores the model in cryptoml_internal.models and a row in mlTrainingBatches, and
// promotes it only when it beats the current production model of its type (or the zero-change
// baseline) on the same validation rows.
//
// It reads the samples of one feature set (options.featureSet, else config features.featureSet) and
// records that set, its feature names and (set 2) the leaders and index members the samples were
// built with; an ensemble's members are of the same set.
//
// An ensemble combines the production (else latest) xgboost and lstm models of the symbol and
// horizon, training any member that is missing or stale first (see docs/training.md), with
// weights from inference.ensembleWeights (or options.weights) or else learned: by default on the
// validation rows as inverse validation MSE, with options.combiner "stacking" by the constrained
// meta-model of src/core/stacking.hpp on the members' out-of-time records.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "node.hpp"
#include "config.hpp"
#include "features.hpp"
#include "features_v2.hpp"
#include "honest.hpp"
#include "lstm.hpp"
#include "model.hpp"
#include "options.hpp"
#include "stacking.hpp"
#include "xgb.hpp"

#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "progress.hpp"
#include "registry.hpp"

extern "C" {
#include "common/hashfn.h"
#include "utils/guc.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/json.h"

PG_FUNCTION_INFO_V1(ml_train);
}

namespace {

using cml::json;
using cml::pg::Blob;
using cml::pg::BlobSet;
using cml::pg::build_model;
using cml::pg::fetch_model;
using cml::ModelType;

constexpr int64 kUsecPerMinute = INT64CONST(60000000);
using cml::pg::minute_of;

// Test hook (superuser only, not in postgresql.conf.sample): when > 0, LSTM training reports a
// non-finite loss at that epoch, so tests can show how a diverged run is handled.
int g_test_diverge_epoch = 0;

const char* const kTypeName[] = {"xgboost", "lstm", "ensemble"};
const char* const kTypePrefix[] = {"xgb", "lstm", "ens"};

// Training settings, plain data (it lives in PostgreSQL frames).
struct Settings {
  int type;  // ModelType
  int window;
  double split;
  cml::XgbParams xgb;
  cml::LstmParams lstm;
  bool weights_set;
  double weights[2];     // xgboost, lstm
  char* member_options[2];  // ensemble: options for members it trains (json text)
  int combiner;             // ensemble: cml::Combiner
  int folds;                // training.calibrationFolds
  int feature_set;          // options.featureSet or config features.featureSet: the samples read
  cml::HonestSettings honest;  // inference.*: the skill test and calibration window
};
static_assert(std::is_trivially_destructible<Settings>::value, "Settings must stay plain data");

// The samples of the window, sorted by time, palloc'd.
struct TrainData {
  int n, nf;
  int feature_set;    // of the samples (options.featureSet or config features.featureSet)
  char* market_json;  // set 2: {"leaders": [...], "index_members": [...]} the samples were built with; else "null"
  Timestamp* ts;
  double* y;
  double* X;   // n x nf, row-major
  int* run;    // contiguous minutes ending at each row
  int anomalies_excluded;  // samples left out by training.excludeAnomalies
};

// What the C++ part hands back, all C data.
struct TrainResult {
  int n_train, n_val;
  double rmse, mae, accuracy, baseline_rmse, prod_rmse;  // prod_rmse NaN without a production model
  char* model;                                           // bytes (none for an ensemble)
  size_t model_len;
  char* hyperparameters;                                 // json text
  char* calibration;                                     // json text
  char* features;                                        // json array of names
  int n_members;
  char* member_ids[2];
  int member_types[2];
  double member_weights[2];
  // the out-of-time record: rolling-origin predictions inside the window (an ensemble: its
  // members' records combined with its weights), and what calibrate() makes of it
  int n_pairs;
  int64* oot_ts;       // minutes
  double* oot_raw;
  double* oot_actual;
  int folds_used;
  double shrink, skill_statistic, skill_p_value;
  int skill_n;
  bool skilled;
  bool cancelled;
  bool diverged;
  int diverged_epoch;
  char* error;  // diverged: the message
};

char* copy_out(const std::string& s, size_t* len = nullptr) {
  char* p = cml::pg::pstrdup_nothrow(s);
  if (len) *len = s.size();
  return p;
}

// Options over config (src/core/options.hpp checks every key, its type and range, before any
// narrowing), copied into the plain Settings; the member options text is palloc'd.
void parse_settings(ModelType type, const json& config, const json& options, Settings* st) {
  const cml::TrainOptions o = cml::parse_train_options(type, config, options);
  st->type = static_cast<int>(o.type);
  st->window = o.window;
  st->split = o.split;
  st->xgb = o.xgb;
  st->lstm = o.lstm;
  st->weights_set = o.weights_set;
  st->weights[0] = o.weights[0];
  st->weights[1] = o.weights[1];
  st->combiner = static_cast<int>(o.combiner);
  for (int m = 0; m < 2; m++)
    st->member_options[m] = type == ModelType::ensemble ? copy_out(o.member_options[m]) : nullptr;
  st->folds = cml::Config::get(config, "training.calibrationFolds").get<int>();
  st->feature_set = o.feature_set;
  st->honest = cml::honest_settings(config, 1);
}

void lock_training(const char* symbol, int horizon) {
  LOCKTAG tag;
  SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0x434D4C54 /* 'CMLT' */,
                       hash_bytes((const unsigned char*)symbol, (int)strlen(symbol)) ^ (uint32)horizon, 2);
  (void)LockAcquire(&tag, ExclusiveLock, false, false);
}

int compare_rows(const void* a, const void* b) {
  Timestamp x = *(const Timestamp*)a, y = *(const Timestamp*)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

// The values of a feature vector of nf elements (NULL elements become NaN); errors on another shape.
void vector_values(Datum d, int nf, Timestamp ts, double* out) {
  ArrayType* a = DatumGetArrayTypeP(d);
  if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != nf || ARR_ELEMTYPE(a) != FLOAT8OID)
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                    errmsg("the feature_vector of the sample at %s has %d elements, %d expected",
                           DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(ts))),
                           ARR_NDIM(a) == 1 ? ARR_DIMS(a)[0] : 0, nf),
                    errhint("Set it to cryptoml_internal.features_to_vector(features), or to NULL.")));
  if (!ARR_HASNULL(a)) {
    memcpy(out, ARR_DATA_PTR(a), sizeof(double) * nf);
    return;
  }
  Datum* elems;
  bool* nulls;
  int n;
  deconstruct_array(a, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
  for (int i = 0; i < nf; i++) out[i] = nulls[i] ? NAN : DatumGetFloat8(elems[i]);
}

// The window's samples with a target, sorted by bar time (sorted here: an ORDER BY would sort the
// vectors on disk at the default work_mem). Samples without a stored vector have theirs built from
// the jsonb. Caller is connected to SPI.
TrainData read_samples(const char* schema, const char* symbol, int horizon, int window, int feature_set) {
  // set 2: the leaders and index members the samples were built with (ml_build_samples keeps them
  // one per symbol, horizon and set), recorded with the model for its live features
  char* market_json = pstrdup("null");
  if (feature_set == 2) {
    Oid tk[2] = {TEXTOID, INT4OID};
    Datum vk[2] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon)};
    if (SPI_execute_with_args(psprintf("SELECT jsonb_build_object('leaders', metadata->'leaders', 'index_members', "
                                       "metadata->'index_members')::text FROM %s.mltrainingsamples WHERE symbol = $1 "
                                       "AND forecast_horizon = $2 AND feature_set = 2 ORDER BY bar_timestamp DESC LIMIT 1", schema),
                              2, tk, vk, nullptr, false, 1) != SPI_OK_SELECT)
      elog(ERROR, "cryptoml: reading samples failed");
    if (SPI_processed == 1) market_json = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
  }
  char* sql = psprintf(
      "SELECT s.bar_timestamp, s.target::float8, coalesce(s.feature_vector, cryptoml_internal.features_to_vector(s.features, s.feature_set)), "
      "(SELECT count(*) FROM cryptoml_internal.anomaly_excluded_samples($1, $2, $3, %d))::int4 "  // training.excludeAnomalies
      "FROM %s.mltrainingsamples s "
      "WHERE s.symbol = $1 AND s.forecast_horizon = $2 AND s.feature_set = %d AND s.target IS NOT NULL AND s.bar_timestamp > "
      "(SELECT max(bar_timestamp) - make_interval(mins => $3) FROM %s.mltrainingsamples WHERE symbol = $1 AND forecast_horizon = $2 "
      "AND feature_set = %d) "
      "AND s.bar_timestamp NOT IN (SELECT cryptoml_internal.anomaly_excluded_samples($1, $2, $3, %d))",
      feature_set, schema, feature_set, schema, feature_set, feature_set);
  Oid t3[3] = {TEXTOID, INT4OID, INT4OID};
  Datum v3[3] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon), Int32GetDatum(window)};
  // read_only = false: a fresh snapshot, taken after lock_training() (a read-only SPI query would
  // reuse the statement's snapshot, from before a wait for a concurrent training to commit).
  if (SPI_execute_with_args(sql, 3, t3, v3, nullptr, false, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: reading samples failed");
  TrainData d;
  d.n = (int)SPI_processed;
  d.nf = 0;
  d.feature_set = feature_set;
  d.market_json = market_json;
  bool excluded_null = true;
  d.anomalies_excluded = d.n > 0 ? DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &excluded_null)) : 0;
  cml::pg::guarded("ml_train", [&] { d.nf = (int)cml::feature_names_for(feature_set).size(); });
  // Sort (timestamp, row index) pairs, then fill the arrays in time order.
  struct Key {
    Timestamp ts;
    int row;
  };
  Key* keys = (Key*)palloc(sizeof(Key) * Max(d.n, 1));
  for (int i = 0; i < d.n; i++) {
    bool isnull;
    keys[i].ts = DatumGetTimestamp(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
    keys[i].row = i;
  }
  if (d.n > 1) qsort(keys, d.n, sizeof(Key), compare_rows);
  d.ts = (Timestamp*)palloc(sizeof(Timestamp) * Max(d.n, 1));
  d.y = (double*)palloc(sizeof(double) * Max(d.n, 1));
  d.X = (double*)palloc(sizeof(double) * Max(d.n, 1) * Max(d.nf, 1));
  d.run = (int*)palloc(sizeof(int) * Max(d.n, 1));
  for (int i = 0; i < d.n; i++) {
    bool isnull;
    HeapTuple row = SPI_tuptable->vals[keys[i].row];
    d.ts[i] = keys[i].ts;
    d.y[i] = DatumGetFloat8(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
    vector_values(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull), d.nf, d.ts[i], d.X + (size_t)i * d.nf);
    d.run[i] = (i > 0 && d.ts[i] - d.ts[i - 1] == kUsecPerMinute) ? d.run[i - 1] + 1 : 1;
  }
  SPI_freetuptable(SPI_tuptable);
  return d;
}

// Rows needed: at least 10 validation and 30 training samples after the embargo.
void check_enough(const TrainData& d, const char* symbol, int horizon, const Settings& st) {
  int needed = 0;
  cml::pg::guarded("ml_train", [&] { needed = (int)cml::split_min_rows(st.split, horizon); });
  if (d.n < needed)
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                    errmsg("too few samples for %s horizon %d: %d in the last %d minutes, %d needed", symbol, horizon, d.n,
                           st.window, needed),
                    errdetail("rule: at least 10 validation and 30 training samples of feature set %d after a %d-sample embargo "
                              "(validationSplit %g)", d.feature_set, horizon, st.split),
                    d.feature_set == 1 ? errhint("Run SELECT ml_build_samples('%s'); or raise training.windowSize.", symbol)
                                       : errhint("Build samples of feature set %d (SELECT ml_config_set('features.featureSet', '%d'); "
                                                 "SELECT ml_build_samples('%s');), or raise training.windowSize.",
                                                 d.feature_set, d.feature_set, symbol)));
}

char* timestamp_text(Timestamp ts) { return DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(ts))); }

std::vector<size_t> rows_with_history(const TrainData& d, int from, int to, int L) {
  std::vector<size_t> r;
  for (int i = from; i < to; i++)
    if (d.run[i] >= L) r.push_back((size_t)i);
  return r;
}

// Train/validation boundaries of a window (time-ordered; the `horizon` rows before validation are
// the embargo).
struct Split {
  int n_train, v0;
};
Split split_of(const TrainData& d, const Settings& st, int horizon) {
  const cml::SplitRows sp = cml::split_rows((size_t)d.n, st.split, horizon);  // the one rule (honest.hpp)
  return Split{(int)sp.train, d.n - (int)sp.valid};
}

bool should_stop() { return InterruptPending && (QueryCancelPending || ProcDiePending); }

// Copies of a vector in palloc'd memory, from C++ code (no PostgreSQL error may be raised there).
template <typename T>
T* copy_array(const std::vector<T>& v) {
  T* p = static_cast<T*>(MemoryContextAllocExtended(CurrentMemoryContext, sizeof(T) * std::max<size_t>(v.size(), 1), MCXT_ALLOC_NO_OOM));
  if (p == nullptr) throw std::bad_alloc();
  std::copy(v.begin(), v.end(), p);
  return p;
}

// The out-of-time record into r, and what the one calibration makes of it: the shrinkage and
// the skill test a promotion needs (C++, inside guarded()).
void record_pairs(const std::vector<cml::OutcomePair>& pairs, int folds_used, const Settings& st, int horizon, json& hp,
                  TrainResult* r) {
  std::vector<int64> ts;
  std::vector<double> raw, actual;
  for (const cml::OutcomePair& p : pairs) {
    ts.push_back(p.ts);
    raw.push_back(p.raw);
    actual.push_back(p.actual);
  }
  r->n_pairs = (int)pairs.size();
  r->oot_ts = copy_array(ts);
  r->oot_raw = copy_array(raw);
  r->oot_actual = copy_array(actual);
  r->folds_used = folds_used;
  cml::HonestSettings hs = st.honest;
  hs.horizon = horizon;
  const cml::Calibration c = cml::calibrate(pairs, 0, 0, hs);
  r->shrink = c.shrink;
  r->skill_statistic = c.skill.statistic;
  r->skill_p_value = c.skill.p_value;
  r->skill_n = (int)c.skill.n;
  r->skilled = c.skill.skilled;
  hp["calibration"] = {{"method", "rolling-origin out-of-time pairs; shrinkage, prequential Diebold-Mariano, symmetrized conformal"},
                       {"folds", st.folds}, {"folds_used", folds_used}, {"pairs", pairs.size()}, {"window_pairs", c.pairs},
                       {"shrinkage", c.shrink}, {"least_squares_slope", c.shrink_ls}, {"skill_n", c.skill.n},
                       {"skill_batch", c.skill.batch}, {"skill_statistic", std::isfinite(c.skill.statistic) ? json(c.skill.statistic) : json(nullptr)},
                       {"skill_p_value", c.skill.p_value}, {"skilled", c.skill.skilled}, {"significance", hs.significance}};
}

// Rolling-origin folds inside the window (cml::rolling_origin), each fold model trained like the
// model itself; a fold whose lstm diverges predicts nothing (C++, inside guarded()).
std::vector<cml::OutcomePair> fold_pairs(const Settings& st, const TrainData& d, int horizon, int* folds_used) {
  std::vector<long long> minutes;
  for (int i = 0; i < d.n; i++) minutes.push_back(minute_of(d.ts[i]));
  const size_t nf = (size_t)d.nf;
  cml::FoldTrainer trainer = [&](const std::vector<size_t>& tr, const std::vector<size_t>& va, const std::vector<size_t>& pr) {
    std::vector<double> out(pr.size(), NAN);
    if (st.type == (int)ModelType::xgboost) {
      auto gather = [&](const std::vector<size_t>& rows) {
        std::vector<float> X;
        for (size_t i : rows)
          for (size_t c = 0; c < nf; c++) X.push_back((float)d.X[i * nf + c]);
        return X;
      };
      std::vector<float> Xt = gather(tr), Xv = gather(va), Xp = gather(pr), yt, yv;
      for (size_t i : tr) yt.push_back((float)d.y[i]);
      for (size_t i : va) yv.push_back((float)d.y[i]);
      cml::XgbModel m = cml::XgbModel::train(cml::DenseMatrix{Xt.data(), tr.size(), nf}, yt, cml::DenseMatrix{Xv.data(), va.size(), nf},
                                             yv, st.xgb, should_stop, nullptr);
      std::vector<float> p = m.predict(cml::DenseMatrix{Xp.data(), pr.size(), nf});
      for (size_t k = 0; k < p.size(); k++) out[k] = p[k];
      return out;
    }
    const int L = st.lstm.sequence_length;
    auto with_history = [&](const std::vector<size_t>& rows) {
      std::vector<size_t> r;
      for (size_t i : rows)
        if (d.run[i] >= L) r.push_back(i);
      return r;
    };
    cml::SequenceSet trs{d.X, (size_t)d.n, nf, d.y, with_history(tr)}, vas{d.X, (size_t)d.n, nf, d.y, with_history(va)};
    std::vector<size_t> prs = with_history(pr);
    if (trs.ends.size() < 30 || vas.ends.size() < 10 || prs.empty()) return out;
    try {
      cml::LstmModel m = cml::LstmModel::train(trs, vas, st.lstm, should_stop, nullptr);
      std::vector<double> p = m.predict(cml::SequenceSet{d.X, (size_t)d.n, nf, nullptr, prs});
      for (size_t k = 0, j = 0; k < pr.size() && j < prs.size(); k++)
        if (pr[k] == prs[j]) out[k] = p[j++];
    } catch (const cml::DataError&) {
      // a diverged fold: no pairs from it
    }
    return out;
  };
  const cml::RollingOrigin ro = cml::rolling_origin(std::vector<int64_t>(minutes.begin(), minutes.end()), horizon, st.split, st.folds, trainer);
  std::vector<cml::OutcomePair> pairs;
  for (size_t k = 0; k < ro.rows.size(); k++) pairs.push_back(cml::OutcomePair{minutes[ro.rows[k]], ro.raw[k], d.y[ro.rows[k]]});
  *folds_used = ro.folds_used;
  return pairs;
}

// Evaluation shared by every type: metrics on the validation rows, the production model on the
// same rows (those both can predict), calibration, and the window's boundaries.
void evaluate_into(const cml::Model& model, const cml::Model* prod, const TrainData& d, const Split& sp,
                   const std::vector<size_t>& val_rows, json& hp, TrainResult* r) {
  cml::FeatureRows fr{d.X, (size_t)d.n, (size_t)d.nf, d.run};
  std::vector<double> pred = model.predict(fr, val_rows), yv;
  for (size_t i : val_rows) yv.push_back(d.y[i]);
  cml::Metrics m = cml::evaluate(pred, yv);
  r->rmse = m.rmse;
  r->mae = m.mae;
  r->accuracy = m.accuracy;
  r->baseline_rmse = m.baseline_rmse;
  r->n_val = (int)val_rows.size();
  r->prod_rmse = NAN;
  if (prod != nullptr && prod->num_features() == (size_t)d.nf) {
    int L = std::max(model.sequence_length(), prod->sequence_length());
    std::vector<size_t> common;
    std::vector<double> mine, yc;
    for (size_t k = 0; k < val_rows.size(); k++)
      if (d.run[val_rows[k]] >= L) {
        common.push_back(val_rows[k]);
        mine.push_back(pred[k]);
        yc.push_back(d.y[val_rows[k]]);
      }
    if (!common.empty()) {
      r->prod_rmse = cml::evaluate(prod->predict(fr, common), yc).rmse;
      r->rmse = cml::evaluate(mine, yc).rmse;  // compared on the same rows
      hp["compared_rows"] = common.size();
    }
  }
  r->calibration = copy_out(cml::calibration_json(pred, yv));
  r->features = copy_out(json(cml::feature_names_for(d.feature_set)).dump());
  if (d.feature_set == 2) {  // the cross-market inputs its live features must read
    const json mk = json::parse(d.market_json);
    if (mk.is_object() && mk.contains("leaders")) {
      hp["leaders"] = mk.at("leaders");
      hp["index_members"] = mk.at("index_members");
    }
  }
  // timestamp_out is a PostgreSQL call: under PG_TRY (pg_call), since C++ objects are live here
  const Timestamp bounds[4] = {d.ts[0], d.ts[std::max(sp.n_train - 1, 0)], d.ts[sp.v0], d.ts[d.n - 1]};
  const char* const names[4] = {"train_first_bar", "train_last_bar", "valid_first_bar", "valid_last_bar"};
  for (int i = 0; i < 4; i++) {
    char* text = nullptr;
    cml::pg::pg_call([&] { text = timestamp_text(bounds[i]); });
    hp[names[i]] = text;
  }
  hp["anomalies_excluded"] = d.anomalies_excluded;
  r->hyperparameters = copy_out(hp.dump());
}

// Trains an xgboost or lstm model on the window (C++, inside guarded()).
void train_single(const Settings& st, const TrainData& d, int horizon, const BlobSet* prod_blobs, TrainResult* r) {
  Split sp = split_of(d, st, horizon);
  const size_t nf = (size_t)d.nf;
  std::unique_ptr<cml::Model> prod;
  if (prod_blobs != nullptr) prod.reset(new cml::Model(build_model(*prod_blobs)));
  json hp;
  hp["windowSize"] = st.window;
  hp["validationSplit"] = st.split;
  hp["embargo_samples"] = horizon;
  try {
    if (st.type == (int)ModelType::xgboost) {
      std::vector<float> X((size_t)d.n * nf), y(d.n);
      for (size_t i = 0; i < (size_t)d.n * nf; i++) X[i] = (float)d.X[i];
      for (int i = 0; i < d.n; i++) y[i] = (float)d.y[i];
      int n_val = d.n - sp.v0;
      cml::DenseMatrix Xt{X.data(), (size_t)sp.n_train, nf}, Xv{X.data() + (size_t)sp.v0 * nf, (size_t)n_val, nf};
      std::vector<float> yt(y.begin(), y.begin() + sp.n_train), yv(y.begin() + sp.v0, y.end());
      cml::XgbTrainReport report;
      cml::Model model = cml::Model::from_xgboost(cml::XgbModel::train(Xt, yt, Xv, yv, st.xgb, should_stop, &report));
      json p = json::parse(st.xgb.to_json());
      for (auto it = p.begin(); it != p.end(); ++it) hp[it.key()] = it.value();
      hp["rounds_trained"] = report.rounds_trained;
      hp["best_iteration"] = report.best_iteration;
      r->n_train = sp.n_train;
      r->model = copy_out(model.save(), &r->model_len);
      int folds_used = 0;
      record_pairs(fold_pairs(st, d, horizon, &folds_used), folds_used, st, horizon, hp, r);
      evaluate_into(model, prod.get(), d, sp, rows_with_history(d, sp.v0, d.n, 1), hp, r);
    } else {
      const int L = st.lstm.sequence_length;
      std::vector<size_t> train_ends = rows_with_history(d, 0, sp.n_train, L);
      std::vector<size_t> val_ends = rows_with_history(d, sp.v0, d.n, L);
      if (train_ends.size() < 30 || val_ends.size() < 10)
        throw cml::InvalidParameter(
            "too few sequences of " + std::to_string(L) + " contiguous minutes: " + std::to_string(train_ends.size()) +
                " training and " + std::to_string(val_ends.size()) + " validation, at least 30 and 10 needed",
            "rule: sequenceLength must leave enough gap-free sequences in the window (" + std::to_string(d.n) + " samples)",
            "Lower sequenceLength or raise windowSize.");
      cml::SequenceSet tr, va;
      tr.X = va.X = d.X;
      tr.rows = va.rows = (size_t)d.n;
      tr.cols = va.cols = nf;
      tr.y = va.y = d.y;
      tr.ends = train_ends;
      va.ends = val_ends;
      cml::LstmTrainReport report;
      try {
        cml::lstm_detail::TrainHooks hooks;
        const int poison = g_test_diverge_epoch;
        if (poison > 0)
          hooks.after_backward = [poison](int epoch, int, double* loss, float*, std::size_t) {
            if (epoch == poison) *loss = NAN;
          };
        cml::Model model = cml::Model::from_lstm(cml::lstm_detail::train_with_hooks(tr, va, st.lstm, should_stop, &report, hooks));
        json p = json::parse(st.lstm.to_json());
        for (auto it = p.begin(); it != p.end(); ++it) hp[it.key()] = it.value();
        hp["epochs_trained"] = report.epochs_trained;
        hp["best_epoch"] = report.best_epoch;
        hp["early_stopped"] = report.early_stopped;
        r->n_train = (int)train_ends.size();
        r->model = copy_out(model.save(), &r->model_len);
        int folds_used = 0;
        record_pairs(fold_pairs(st, d, horizon, &folds_used), folds_used, st, horizon, hp, r);
        evaluate_into(model, prod.get(), d, sp, val_ends, hp, r);
      } catch (const cml::DataError& e) {
        if (!report.diverged) throw;
        r->diverged = true;
        r->diverged_epoch = report.diverged_epoch;
        r->error = copy_out(e.what());
      }
    }
  } catch (const cml::Cancelled&) {
    r->cancelled = true;
  }
}

// A stored model's out-of-time record (cryptoml_internal.models.oot_*), palloc'd.
struct OotRecord {
  int n;
  int64* ts;  // minutes
  double* raw;
  double* actual;
};

// Reads a model's record (none for a model trained before 0.6.0). Caller is connected to SPI.
OotRecord read_oot(const char* batch_id) {
  OotRecord o{0, nullptr, nullptr, nullptr};
  Oid t1[1] = {TEXTOID};
  Datum v1[1] = {CStringGetTextDatum(batch_id)};
  if (SPI_execute_with_args("SELECT t, r, a FROM cryptoml_internal.models m, "
                            "unnest(m.oot_ts, m.oot_raw, m.oot_actual) u(t, r, a) WHERE m.batch_id = $1 ORDER BY t",
                            1, t1, v1, nullptr, false, 0) != SPI_OK_SELECT)  // not read-only: a member trained by
    elog(ERROR, "cryptoml: reading the out-of-time record of %s failed", batch_id);  // this call is seen (fresh snapshot)
  o.n = (int)SPI_processed;
  o.ts = (int64*)palloc(sizeof(int64) * Max(o.n, 1));
  o.raw = (double*)palloc(sizeof(double) * Max(o.n, 1));
  o.actual = (double*)palloc(sizeof(double) * Max(o.n, 1));
  for (int i = 0; i < o.n; i++) {
    bool isnull;
    HeapTuple row = SPI_tuptable->vals[i];
    o.ts[i] = minute_of(DatumGetTimestamp(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull)));
    Datum r = SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull);
    o.raw[i] = isnull ? NAN : DatumGetFloat8(r);
    Datum a = SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull);
    o.actual[i] = isnull ? NAN : DatumGetFloat8(a);
  }
  SPI_freetuptable(SPI_tuptable);
  return o;
}

// The members' stored records, aligned by minute (stacking.hpp's align_records). The ensemble's
// record is built from them: with fixed or inverse-MSE weights, the members' predictions of the
// same bars weighted as the ensemble weighs them (what the ensemble of the fold models would have
// predicted); with stacking, the prequential stacked record.
cml::AlignedRecords aligned_records(const OotRecord* rec, int n) {
  std::vector<std::vector<cml::OutcomePair>> members(n);
  for (int m = 0; m < n; m++)
    for (int i = 0; i < rec[m].n; i++) members[m].push_back(cml::OutcomePair{rec[m].ts[i], rec[m].raw[i], rec[m].actual[i]});
  return cml::align_records(members);
}

// Member predictions on the ensemble's validation rows, weights, metrics (C++, inside guarded()).
void train_ensemble(const Settings& st, const TrainData& d, int horizon, const BlobSet* members, const OotRecord* records,
                    int n_members, const BlobSet* prod_blobs, TrainResult* r) {
  Split sp = split_of(d, st, horizon);
  std::vector<cml::Model> models;
  int L = 1;
  for (int m = 0; m < n_members; m++) {
    models.push_back(build_model(members[m]));
    L = std::max(L, models.back().sequence_length());
  }
  // The validation rows in time order: the first half fits the weights, the second half (never
  // seen by the members' training nor by the weights) gives the metrics.
  std::vector<size_t> val_rows = rows_with_history(d, sp.v0, d.n, L);
  if (val_rows.size() < 20)
    throw cml::InvalidParameter("too few validation rows with " + std::to_string(L) + " contiguous minutes of history for the ensemble: " +
                                std::to_string(val_rows.size()) + ", at least 20 needed (half fit the weights, half evaluate)");
  std::vector<size_t> fit_rows(val_rows.begin(), val_rows.begin() + val_rows.size() / 2);
  std::vector<size_t> eval_rows(val_rows.begin() + val_rows.size() / 2, val_rows.end());
  cml::FeatureRows fr{d.X, (size_t)d.n, (size_t)d.nf, d.run};
  std::vector<double> yv;
  for (size_t i : fit_rows) yv.push_back(d.y[i]);
  std::vector<std::vector<double>> preds;
  for (const cml::Model& m : models) preds.push_back(m.predict(fr, fit_rows));
  std::vector<double> w;
  json hp;
  const cml::AlignedRecords aligned = aligned_records(records, n_members);
  const bool stacking = !st.weights_set && st.combiner == (int)cml::Combiner::stacking;
  size_t stack_pairs = 0;
  if (st.weights_set) {
    for (int m = 0; m < n_members; m++) w.push_back(st.weights[members[m].items[0].type]);
    hp["weights_from"] = "inference.ensembleWeights or options.weights";
    hp["combiner"] = "fixed";
  } else if (stacking) {
    // fitted on the members' out-of-time pairs whose outcome was known when the evaluation rows
    // begin (as the inverse-MSE weights are fitted before them): the metrics stay out of sample
    const Timestamp as_of = d.ts[eval_rows[0]];
    const cml::StackFit f = cml::stack_weights(aligned, horizon, minute_of(as_of));
    w = f.weights;
    stack_pairs = f.pairs;
    hp["weights_from"] = "learned: stacking on the members' out-of-time records";
    hp["combiner"] = "stacking";
    hp["stacking"] = json::parse(cml::stack_fit_json(f));
    char* text = nullptr;
    cml::pg::pg_call([&] { text = timestamp_text(as_of); });
    hp["stacking"]["as_of"] = text;
  } else {
    w = cml::inverse_mse_weights(preds, yv);
    hp["weights_from"] = "learned: inverse validation MSE";
    hp["combiner"] = "inverse_mse";
  }
  std::vector<std::pair<cml::Model, double>> pairs;
  for (int m = 0; m < n_members; m++) pairs.emplace_back(models[m], w[m]);
  cml::Model ens = cml::Model::ensemble(std::move(pairs));  // checks the weights (>= 0, sum > 0) and normalizes
  std::unique_ptr<cml::Model> prod;
  if (prod_blobs != nullptr) prod.reset(new cml::Model(build_model(*prod_blobs)));
  json members_json = json::array();
  r->n_members = n_members;
  for (int m = 0; m < n_members; m++) {
    r->member_ids[m] = members[m].items[0].batch_id;
    r->member_types[m] = members[m].items[0].type;
    r->member_weights[m] = ens.members()[m].second;
    members_json.push_back({{"batch_id", members[m].items[0].batch_id}, {"model_type", kTypeName[members[m].items[0].type]},
                            {"weight", ens.members()[m].second}, {"weight_rows_rmse", cml::evaluate(preds[m], yv).rmse}});
  }
  hp["members"] = members_json;
  hp["windowSize"] = st.window;
  hp["validationSplit"] = st.split;
  hp["embargo_samples"] = horizon;
  if (!stacking) hp["weight_rows"] = fit_rows.size();  // stacking: hp.stacking.pairs
  r->n_train = st.weights_set ? 0 : stacking ? (int)stack_pairs : (int)fit_rows.size();  // rows (pairs) the ensemble itself was fitted on
  r->model = copy_out(json{{"format", "cryptoml ensemble"}, {"version", 1}, {"members", members_json}}.dump(), &r->model_len);
  std::vector<double> normalized;
  for (int m = 0; m < n_members; m++) normalized.push_back(ens.members()[m].second);
  record_pairs(stacking ? cml::stacked_record(aligned, horizon) : cml::combine_aligned(aligned, normalized), 0, st, horizon, hp, r);
  evaluate_into(ens, prod.get(), d, sp, eval_rows, hp, r);
}

// The production (else latest) batch of a type, or nullptr.
// Only a model of the samples' feature set (and, for set 2, of the leaders and index members they
// were built with) can be a member: one of another set is stale.
char* candidate_member(const char* schema, const char* symbol, int horizon, int type, const TrainData& d, char** hp_out) {
  Oid t5[5] = {TEXTOID, INT4OID, TEXTOID, INT4OID, TEXTOID};
  Datum v5[5] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon), CStringGetTextDatum(kTypeName[type]),
                 Int32GetDatum(d.feature_set), CStringGetTextDatum(d.market_json)};
  char* sql = psprintf("SELECT batch_id, coalesce(hyperparameters::text, '{}'), feature_set_version FROM %s.mltrainingbatches "
                       "WHERE symbol = $1 AND forecast_horizon = $2 AND model_type = $3 AND feature_set_version = $4 "
                       "AND ($4 = 1 OR jsonb_build_object('leaders', hyperparameters->'leaders', 'index_members', "
                       "hyperparameters->'index_members') = $5::jsonb) "
                       "ORDER BY is_production DESC, id DESC LIMIT 1", schema);
  if (SPI_execute_with_args(sql, 5, t5, v5, nullptr, true, 1) != SPI_OK_SELECT) elog(ERROR, "cryptoml: reading the registry failed");
  if (SPI_processed == 0) return nullptr;
  *hp_out = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
  return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

char* train_and_register(const char* symbol, int horizon, ModelType type, const char* config, const char* options, bool* promoted);

// An ensemble member is stale when its training rows reach into the ensemble's validation rows
// (they would not be out of sample), when its validation window ended more than one window before
// the latest sample, or when it was trained before 0.2.0 (no recorded boundaries).
bool member_stale(const char* hp_text, const TrainData& d, const Split& sp, int window) {
  bool stale = true;
  char* train_last = nullptr;
  char* valid_last = nullptr;
  cml::pg::guarded("ml_train", [&] {
    json hp = json::parse(hp_text);
    if (hp.contains("train_last_bar") && hp.contains("valid_last_bar")) {
      train_last = copy_out(hp.at("train_last_bar").get<std::string>());
      valid_last = copy_out(hp.at("valid_last_bar").get<std::string>());
    }
  });
  if (train_last != nullptr) {
    Timestamp tl = DatumGetTimestamp(DirectFunctionCall3(timestamp_in, CStringGetDatum(train_last), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
    Timestamp vl = DatumGetTimestamp(DirectFunctionCall3(timestamp_in, CStringGetDatum(valid_last), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
    stale = tl >= d.ts[sp.v0] || vl < d.ts[d.n - 1] - (int64)window * kUsecPerMinute;
  }
  return stale;
}

char* train_and_register(const char* symbol, int horizon, ModelType type, const char* config, const char* options, bool* promoted) {
  Settings st{};
  cml::pg::guarded("ml_train", [&] { parse_settings(type, json::parse(config), cml::parse_json_document(options, "option"), &st); });
  lock_training(symbol, horizon);
  TimestampTz started = GetCurrentTimestamp();
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) elog(ERROR, "cryptoml: extension schema not found");

  TrainData d = read_samples(schema, symbol, horizon, st.window, st.feature_set);
  check_enough(d, symbol, horizon, st);
  Split sp = split_of(d, st, horizon);

  // Ensemble: its members, trained first when missing or stale.
  BlobSet members[2];
  OotRecord records[2];
  int n_members = 0;
  if (type == ModelType::ensemble) {
    for (int m = 0; m < 2; m++) {
      char* hp = nullptr;
      char* id = candidate_member(schema, symbol, horizon, m, d, &hp);
      if (id == nullptr || member_stale(hp, d, sp, st.window)) {
        bool member_promoted;
        id = train_and_register(symbol, horizon, (ModelType)m, config, st.member_options[m], &member_promoted);
      }
      if (!fetch_model(id, &members[n_members]))
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("ensemble member %s has no stored model", id)));
      records[n_members] = read_oot(id);
      n_members++;
    }
  }

  // The current production model of this type as committed, to compare on the same validation
  // rows: read with a fresh snapshot under the training lock, which ml_deploy and ml_rollback take
  // too, so production cannot change between this read and the promotion below (a concurrent
  // training that committed while this one waited for the lock is seen: it was not, in 0.4.0).
  // Only a production model of the same feature set (and market names) reads these rows' vectors:
  // one of another set is not compared on them (the new model is compared with zero change).
  char* prod_sql = psprintf("SELECT batch_id FROM %s.mltrainingbatches WHERE symbol = $1 AND forecast_horizon = $2 "
                            "AND model_type = $3 AND is_production AND feature_set_version = $4 "
                            "AND ($4 = 1 OR jsonb_build_object('leaders', hyperparameters->'leaders', 'index_members', "
                            "hyperparameters->'index_members') = $5::jsonb)", schema);
  Oid t3[5] = {TEXTOID, INT4OID, TEXTOID, INT4OID, TEXTOID};
  Datum v3[5] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon), CStringGetTextDatum(kTypeName[(int)type]),
                 Int32GetDatum(d.feature_set), CStringGetTextDatum(d.market_json)};
  if (SPI_execute_with_args(prod_sql, 5, t3, v3, nullptr, false, 1) != SPI_OK_SELECT) elog(ERROR, "cryptoml: SPI failed");
  BlobSet prod;
  bool have_prod = false;
  if (SPI_processed == 1) {
    char* prod_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    have_prod = fetch_model(prod_id, &prod);
  }

  TrainResult r;
  memset(&r, 0, sizeof r);
  cml::pg::progress_phase(type == ModelType::ensemble ? "training the ensemble" : "training and out-of-time folds", 1);
  cml::pg::guarded("ml_train", [&] {
    if (type == ModelType::ensemble) train_ensemble(st, d, horizon, members, records, n_members, have_prod ? &prod : nullptr, &r);
    else train_single(st, d, horizon, have_prod ? &prod : nullptr, &r);
  });
  if (r.cancelled) {
    CHECK_FOR_INTERRUPTS();  // raises the cancel or timeout error PostgreSQL has pending
    ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("ml_train was cancelled")));
  }
  if (r.diverged) {
    // Logged on the autonomous path: the log survives the error, which rolls everything else back
    // (the production model stays as it was).
    cml::pg::log_write(cml::LogLevel::error, "ml_training", "diverged",
                       psprintf("%s h%d: lstm training diverged at epoch %d; production model unchanged", symbol, horizon,
                                r.diverged_epoch),
                       psprintf("{\"epoch\": %d, \"learning_rate\": %g}", r.diverged_epoch, st.lstm.learning_rate), symbol, nullptr);
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                    errmsg("lstm training for %s horizon %d diverged at epoch %d", symbol, horizon, r.diverged_epoch),
                    errdetail("%s", r.error), errhint("Lower learningRate or clipNorm; the production model is unchanged.")));
  }

  // Register: batch row, model bytes, ensemble members, production decision.
  cml::pg::progress_phase("storing", 2);
  int64 duration_ms = (GetCurrentTimestamp() - started) / 1000;
  // Promoted only with skill shown out of time (the one-sided Diebold-Mariano test of its
  // rolling-origin record against zero change, honest.hpp) and, then, when it beats the
  // production model (or, without one, zero change) on the same validation rows.
  bool better = std::isnan(r.prod_rmse) ? r.rmse < r.baseline_rmse : r.rmse < r.prod_rmse;
  bool beats = r.skilled && better;
  char* ins = psprintf(
      "WITH n AS (SELECT nextval(pg_get_serial_sequence('%s.mltrainingbatches', 'id'))::int AS id), "
      "b AS (INSERT INTO %s.mltrainingbatches (id, batch_id, symbol, model_type, training_samples, validation_samples, "
      "rmse, mae, accuracy, model_path, is_production, forecast_horizon, baseline_rmse, hyperparameters, "
      "feature_set_version, duration_ms, shrinkage, skill_statistic, skill_p_value, calibration_pairs) "
      "SELECT n.id, format('%s-%%s-h%%s-%%s', $1::text, $2, n.id), "
      "$1, $11, $3, $4, $5, $6, $7, NULL, false, $2, $8, $9::jsonb, %d, $10, $12, $13, $14, $15 FROM n RETURNING id, batch_id) "
      "SELECT id, batch_id FROM b",
      schema, schema, kTypePrefix[(int)type], d.feature_set);
  Oid ti[15] = {TEXTOID, INT4OID, INT4OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTOID, INT8OID, TEXTOID,
                FLOAT8OID, FLOAT8OID, FLOAT8OID, INT4OID};
  Datum vi[15] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon), Int32GetDatum(r.n_train), Int32GetDatum(r.n_val),
                  Float8GetDatum(r.rmse), Float8GetDatum(r.mae), Float8GetDatum(r.accuracy), Float8GetDatum(r.baseline_rmse),
                  CStringGetTextDatum(r.hyperparameters), Int64GetDatum(duration_ms), CStringGetTextDatum(kTypeName[(int)type]),
                  Float8GetDatum(r.shrink), Float8GetDatum(r.skill_statistic), Float8GetDatum(r.skill_p_value), Int32GetDatum(r.n_pairs)};
  char nulls_i[16] = "               ";
  if (!std::isfinite(r.skill_statistic)) nulls_i[12] = 'n';
  if (SPI_execute_with_args(ins, 15, ti, vi, nulls_i, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
    elog(ERROR, "cryptoml: registering the model failed");
  char* batch_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
  bytea* bytes = (bytea*)palloc(VARHDRSZ + r.model_len);
  SET_VARSIZE(bytes, VARHDRSZ + r.model_len);
  memcpy(VARDATA(bytes), r.model, r.model_len);
  Datum* ots = (Datum*)palloc(sizeof(Datum) * Max(r.n_pairs, 1));
  Datum* oraw = (Datum*)palloc(sizeof(Datum) * Max(r.n_pairs, 1));
  Datum* oact = (Datum*)palloc(sizeof(Datum) * Max(r.n_pairs, 1));
  for (int i = 0; i < r.n_pairs; i++) {
    ots[i] = TimestampGetDatum(r.oot_ts[i] * kUsecPerMinute);
    oraw[i] = Float8GetDatum(r.oot_raw[i]);
    oact[i] = Float8GetDatum(r.oot_actual[i]);
  }
  Oid tm[8] = {TEXTOID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID};
  Datum vm[8] = {CStringGetTextDatum(batch_id), PointerGetDatum(bytes), CStringGetTextDatum(r.features),
                 CStringGetTextDatum(r.calibration), CStringGetTextDatum(batch_id),
                 PointerGetDatum(construct_array(ots, r.n_pairs, TIMESTAMPOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                 PointerGetDatum(construct_array(oraw, r.n_pairs, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                 PointerGetDatum(construct_array(oact, r.n_pairs, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))};
  char* ins_model = psprintf(
      "WITH m AS (INSERT INTO cryptoml_internal.models (batch_id, model, feature_names, feature_set_version, calibration, "
      "model_sha256, oot_ts, oot_raw, oot_actual) VALUES ($1, $2, $3::jsonb, %d, $4::jsonb, pg_catalog.sha256($2), $6, $7, $8)) "
      "UPDATE %s.mltrainingbatches SET model_path = 'db://models/' || $5 WHERE batch_id = $5",
      d.feature_set, schema);
  if (SPI_execute_with_args(ins_model, 8, tm, vm, nullptr, false, 0) != SPI_OK_UPDATE)
    elog(ERROR, "cryptoml: storing the model failed");
  for (int m = 0; m < r.n_members; m++) {
    Oid te[4] = {TEXTOID, TEXTOID, TEXTOID, FLOAT8OID};
    Datum ve[4] = {CStringGetTextDatum(batch_id), CStringGetTextDatum(r.member_ids[m]),
                   CStringGetTextDatum(kTypeName[r.member_types[m]]), Float8GetDatum(r.member_weights[m])};
    if (SPI_execute_with_args("INSERT INTO cryptoml_internal.ensemble_members (ensemble_batch_id, member_batch_id, model_type, weight) "
                              "VALUES ($1, $2, $3, $4)", 4, te, ve, nullptr, false, 0) != SPI_OK_INSERT)
      elog(ERROR, "cryptoml: storing the ensemble members failed");
  }
  StringInfoData ctx;
  initStringInfo(&ctx);
  appendStringInfo(&ctx, "{\"batch_id\": \"%s\", \"model_type\": \"%s\", \"rmse\": %.6f, \"baseline_rmse\": %.6f, \"production_rmse\": %s, "
                         "\"training_samples\": %d, \"validation_samples\": %d, \"skill_p_value\": %.6g, \"skilled\": %s}",
                   batch_id, kTypeName[(int)type], r.rmse, r.baseline_rmse,
                   std::isnan(r.prod_rmse) ? "null" : psprintf("%.6f", r.prod_rmse), r.n_train, r.n_val, r.skill_p_value,
                   r.skilled ? "true" : "false");
  if (beats) {
    char* deploy = psprintf("SELECT %s.ml_deploy($1)", schema);
    Oid td[1] = {TEXTOID};
    Datum vd[1] = {CStringGetTextDatum(batch_id)};
    if (SPI_execute_with_args(deploy, 1, td, vd, nullptr, false, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: deploying failed");
  }
  cml::pg::log_write(cml::LogLevel::info, "ml_training", beats ? "promoted" : "not_promoted",
                     psprintf("%s h%d: %s trained (rmse %.6f, %s %.6f; out-of-time skill p = %.4g over %d pairs)%s", symbol,
                              horizon, batch_id, r.rmse, std::isnan(r.prod_rmse) ? "zero-change baseline" : "production",
                              std::isnan(r.prod_rmse) ? r.baseline_rmse : r.prod_rmse, r.skill_p_value, r.skill_n,
                              beats ? ": now production" : !r.skilled ? ": no skill shown, production unchanged" : ": production unchanged"),
                     ctx.data, symbol, nullptr);
  *promoted = beats;
  return batch_id;
}

}  // namespace

namespace cml {
namespace pg {
const char* tuned_train_options(const char* symbol, int horizon, const char* model_type, const char* options);  // tune.cpp
void train_init() {
  DefineCustomIntVariable("cryptoml.test_lstm_diverge_at_epoch",
                          "Test hook: LSTM training sees a non-finite loss at this epoch (0 = off).", nullptr,
                          &g_test_diverge_epoch, 0, 0, 100000, PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, nullptr, nullptr,
                          nullptr);
}
}  // namespace pg
}  // namespace cml

Datum ml_train(PG_FUNCTION_ARGS) {
  const char* symbol = cml::pg::symbol_arg(PG_GETARG_TEXT_PP(0));
  int horizon = PG_GETARG_INT32(1);
  const char* model_type = text_to_cstring(PG_GETARG_TEXT_PP(2));
  Jsonb* opt = PG_GETARG_JSONB_P(3);
  const char* options = JsonbToCString(nullptr, &opt->root, VARSIZE(opt));
  int type = 0;
  cml::pg::guarded("ml_train", [&] { type = (int)cml::parse_model_type(model_type); });
  int horizons[64];
  int nh = cml::pg::config_training_horizons(horizons, 64);
  bool configured = false;
  for (int i = 0; i < nh; i++) configured |= horizons[i] == horizon;
  if (!configured)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("horizon %d is not a training horizon", horizon),
                    errdetail("rule: horizon must be one of training.forecastHorizons")));
  cml::pg::node_require_owned(symbol, "ml_train:");
  char* config = cml::pg::config_json_text();

  cml::pg::progress_begin("train", symbol, 3);
  cml::pg::progress_phase("reading samples", 0);
  SPI_connect();
  options = cml::pg::tuned_train_options(symbol, horizon, kTypeName[type], options);  // "params": "tuned" (tune.cpp)
  bool promoted = false;
  char* batch_id = train_and_register(symbol, horizon, (ModelType)type, config, options, &promoted);
  const char* schema = cml::pg::extension_schema();
  char* ret = psprintf("SELECT * FROM %s.mltrainingbatches WHERE batch_id = $1", schema);
  Oid tr[1] = {TEXTOID};
  Datum vr[1] = {CStringGetTextDatum(batch_id)};
  if (SPI_execute_with_args(ret, 1, tr, vr, nullptr, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
    elog(ERROR, "cryptoml: reading the batch back failed");
  HeapTupleHeader result = SPI_returntuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
  SPI_finish();
  cml::pg::progress_end();
  PG_RETURN_HEAPTUPLEHEADER(result);
}
