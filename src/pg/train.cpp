// ml_train (XGBoost path): trains on the last training.windowSize minutes of samples, validates on
// the later part (time-ordered, never shuffled, with an embargo of `horizon` samples so no training
// target reads into the validation window), stores the model in cryptoml_internal.models and a row
// in mlTrainingBatches, and promotes it only when it beats the current production model (or the
// zero-change baseline) on the same validation rows.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "config.hpp"
#include "features.hpp"
#include "xgb.hpp"

#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"

extern "C" {
#include "common/hashfn.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/json.h"

PG_FUNCTION_INFO_V1(ml_train);
}

namespace {

using cml::json;

struct Sample {
  Timestamp ts;
  double target;
  const double* features;  // feature_names().size() values, NaN = missing
};

int compare_samples(const void* a, const void* b) {
  Timestamp x = ((const Sample*)a)->ts, y = ((const Sample*)b)->ts;
  return x < y ? -1 : x > y ? 1 : 0;
}

// The values of a feature vector of nf elements (NULL elements become NaN); errors on another shape.
const double* vector_values(Datum d, int nf, Timestamp ts) {
  ArrayType* a = DatumGetArrayTypeP(d);
  if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != nf || ARR_ELEMTYPE(a) != FLOAT8OID)
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                    errmsg("the feature_vector of the sample at %s has %d elements, %d expected",
                           DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(ts))),
                           ARR_NDIM(a) == 1 ? ARR_DIMS(a)[0] : 0, nf),
                    errhint("Set it to cryptoml_internal.features_to_vector(features), or to NULL.")));
  if (!ARR_HASNULL(a)) return (const double*)ARR_DATA_PTR(a);
  Datum* elems;
  bool* nulls;
  int n;
  deconstruct_array(a, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
  double* out = (double*)palloc(sizeof(double) * nf);
  for (int i = 0; i < nf; i++) out[i] = nulls[i] ? NAN : DatumGetFloat8(elems[i]);
  return out;
}

// What the C++ part hands back, all C data.
struct TrainResult {
  int n_train, n_val, rounds;
  double rmse, mae, accuracy, baseline_rmse, prod_rmse;  // prod_rmse NaN without a production model
  char* model;                                           // bytes
  size_t model_len;
  char* hyperparameters;                                 // json text
  char* calibration;                                     // json text
  char* features;                                        // json array of names
  bool cancelled;
};

const char* const kXgbKeys[] = {"max_depth", "eta", "num_rounds", "subsample", "colsample_bytree",
                                "min_child_weight", "lambda", "alpha", "nthread", "seed"};
const char* const kTrainingKeys[] = {"windowSize", "validationSplit", "earlyStoppingPatience"};

// Options: training keys override config training.*, the others set XGBoost parameters.
void apply_options(const json& options, json& training, cml::XgbParams& p) {
  if (!options.is_object())
    throw cml::InvalidParameter("options must be a JSON object, got " + options.dump());
  for (auto it = options.begin(); it != options.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    bool known = false;
    for (const char* t : kTrainingKeys)
      if (k == t) {
        cml::Config::validate_value("training." + k, v);
        training[k] = v;
        known = true;
      }
    auto as_int = [&](int* out) {
      if (!v.is_number_integer()) throw cml::InvalidParameter("option " + k + " must be an integer, got " + v.dump());
      *out = v.get<int>();
    };
    auto as_num = [&](double* out) {
      if (!v.is_number()) throw cml::InvalidParameter("option " + k + " must be a number, got " + v.dump());
      *out = v.get<double>();
    };
    if (k == "max_depth") as_int(&p.max_depth), known = true;
    if (k == "eta") as_num(&p.eta), known = true;
    if (k == "num_rounds") as_int(&p.num_rounds), known = true;
    if (k == "subsample") as_num(&p.subsample), known = true;
    if (k == "colsample_bytree") as_num(&p.colsample_bytree), known = true;
    if (k == "min_child_weight") as_num(&p.min_child_weight), known = true;
    if (k == "lambda") as_num(&p.lambda), known = true;
    if (k == "alpha") as_num(&p.alpha), known = true;
    if (k == "nthread") as_int(&p.nthread), known = true;
    if (k == "seed") {
      if (!v.is_number_unsigned()) throw cml::InvalidParameter("option seed must be a non-negative integer, got " + v.dump());
      p.seed = v.get<std::uint64_t>();
      known = true;
    }
    if (!known) {
      std::string list;
      for (const char* t : kTrainingKeys) list += std::string(list.empty() ? "" : ", ") + t;
      for (const char* t : kXgbKeys) list += std::string(", ") + t;
      throw cml::InvalidParameter("unknown option \"" + k + "\"", "rule: options keys are " + list);
    }
  }
  p.early_stopping_rounds = training.at("earlyStoppingPatience").get<int>();
  p.validate();
}

char* copy_out(const std::string& s, size_t* len = nullptr) {
  char* p = cml::pg::pstrdup_nothrow(s);
  if (len) *len = s.size();
  return p;
}

void lock_training(const char* symbol, int horizon) {
  LOCKTAG tag;
  SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0x434D4C54 /* 'CMLT' */,
                       hash_bytes((const unsigned char*)symbol, (int)strlen(symbol)) ^ (uint32)horizon, 2);
  (void)LockAcquire(&tag, ExclusiveLock, false, false);
}

}  // namespace

Datum ml_train(PG_FUNCTION_ARGS) {
  const char* symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
  int horizon = PG_GETARG_INT32(1);
  const char* model_type = text_to_cstring(PG_GETARG_TEXT_PP(2));
  Jsonb* opt = PG_GETARG_JSONB_P(3);
  const char* options = JsonbToCString(nullptr, &opt->root, VARSIZE(opt));
  if (strcmp(model_type, "lstm") == 0 || strcmp(model_type, "ensemble") == 0)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("model_type \"%s\" is not available yet", model_type),
                    errdetail("This version trains xgboost models only.")));
  if (strcmp(model_type, "xgboost") != 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown model_type \"%s\"", model_type),
                    errdetail("rule: model_type must be one of xgboost, lstm, ensemble")));
  int horizons[64];
  int nh = cml::pg::config_training_horizons(horizons, 64);
  bool configured = false;
  for (int i = 0; i < nh; i++) configured |= horizons[i] == horizon;
  if (!configured)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("horizon %d is not a training horizon", horizon),
                    errdetail("rule: horizon must be one of training.forecastHorizons")));
  char* config = cml::pg::config_json_text();

  // Settings first (bad options fail before any work), then the lock, then the data.
  // XgbParams is trivially destructible: it may live in this PostgreSQL frame.
  static_assert(std::is_trivially_destructible<cml::XgbParams>::value, "XgbParams must stay plain data");
  cml::XgbParams params;
  int window = 0;
  double split = 0;
  cml::pg::guarded("ml_train", [&] {
    json training = cml::Config::get(json::parse(config), "training");
    apply_options(json::parse(options), training, params);
    window = training.at("windowSize").get<int>();
    split = training.at("validationSplit").get<double>();
  });
  lock_training(symbol, horizon);
  TimestampTz started = GetCurrentTimestamp();

  SPI_connect();
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) elog(ERROR, "cryptoml: extension schema not found");
  // Unordered (sorted below, in memory: an ORDER BY would sort the vectors on disk at the default
  // work_mem); samples without a stored vector have theirs built from the jsonb.
  char* sql = psprintf(
      "SELECT s.bar_timestamp, s.target::float8, coalesce(s.feature_vector, cryptoml_internal.features_to_vector(s.features)) "
      "FROM %s.mltrainingsamples s "
      "WHERE s.symbol = $1 AND s.forecast_horizon = $2 AND s.target IS NOT NULL AND s.bar_timestamp > "
      "(SELECT max(bar_timestamp) - make_interval(mins => $3) FROM %s.mltrainingsamples WHERE symbol = $1 AND forecast_horizon = $2)",
      schema, schema);
  Oid t3[3] = {TEXTOID, INT4OID, INT4OID};
  Datum v3[3] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon), Int32GetDatum(window)};
  if (SPI_execute_with_args(sql, 3, t3, v3, nullptr, true, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: reading samples failed");
  int n = (int)SPI_processed;
  int nfeat = 0;
  cml::pg::guarded("ml_train", [&] { nfeat = (int)cml::feature_names().size(); });
  Sample* samples = (Sample*)palloc(sizeof(Sample) * Max(n, 1));
  for (int i = 0; i < n; i++) {
    bool isnull;
    HeapTuple row = SPI_tuptable->vals[i];
    samples[i].ts = DatumGetTimestamp(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
    samples[i].target = DatumGetFloat8(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
    samples[i].features = vector_values(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull), nfeat, samples[i].ts);
  }
  if (n > 1) qsort(samples, n, sizeof(Sample), compare_samples);
  // Rows needed: at least 10 validation rows and 30 training rows after the embargo.
  int needed = 0;
  for (int m = 1; m < 10000000; m++)
    if ((int)std::floor(m * split) >= 10 && m - (int)std::floor(m * split) - horizon >= 30) {
      needed = m;
      break;
    }
  if (n < needed)
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                    errmsg("too few samples for %s horizon %d: %d in the last %d minutes, %d needed", symbol, horizon, n,
                           window, needed),
                    errdetail("rule: at least 10 validation and 30 training samples after a %d-sample embargo "
                              "(validationSplit %g)", horizon, split),
                    errhint("Run SELECT ml_build_samples('%s'); or raise training.windowSize.", symbol)));

  // The current production model, to compare on the same validation rows.
  char* prod_sql = psprintf(
      "SELECT b.batch_id, m.model FROM %s.mltrainingbatches b JOIN cryptoml_internal.models m USING (batch_id) "
      "WHERE b.symbol = $1 AND b.forecast_horizon = $2 AND b.model_type = 'xgboost' AND b.is_production", schema);
  Oid t2[2] = {TEXTOID, INT4OID};
  if (SPI_execute_with_args(prod_sql, 2, t2, v3, nullptr, true, 1) != SPI_OK_SELECT) elog(ERROR, "cryptoml: SPI failed");
  const char* prod_bytes = nullptr;
  size_t prod_len = 0;
  if (SPI_processed == 1) {
    bool isnull;
    bytea* b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    prod_bytes = VARDATA_ANY(b);
    prod_len = VARSIZE_ANY_EXHDR(b);
  }

  TrainResult r;
  memset(&r, 0, sizeof r);
  cml::pg::guarded("ml_train", [&] {
    const cml::XgbParams& p = params;
    const std::vector<std::string>& names = cml::feature_names();
    size_t nf = names.size();
    int n_val = (int)std::floor(n * split);
    int n_train = n - n_val - horizon;  // embargo: the last `horizon` rows before validation are dropped
    std::vector<float> X((size_t)n * nf), y(n);
    for (int i = 0; i < n; i++) {
      for (size_t c = 0; c < nf; c++) X[(size_t)i * nf + c] = (float)samples[i].features[c];
      y[i] = (float)samples[i].target;
    }
    int v0 = n - n_val;
    cml::DenseMatrix Xt{X.data(), (size_t)n_train, nf}, Xv{X.data() + (size_t)v0 * nf, (size_t)n_val, nf};
    std::vector<float> yt(y.begin(), y.begin() + n_train), yv(y.begin() + v0, y.end());
    cml::XgbTrainReport report;
    try {
      cml::XgbModel model = cml::XgbModel::train(
          Xt, yt, Xv, yv, p, [] { return InterruptPending && (QueryCancelPending || ProcDiePending); }, &report);
      std::vector<float> pred = model.predict(Xv);
      double se = 0, ae = 0, base = 0;
      int dir_n = 0, dir_ok = 0;
      for (int i = 0; i < n_val; i++) {
        double e = pred[i] - yv[i];
        se += e * e;
        ae += std::fabs(e);
        base += (double)yv[i] * yv[i];
        if (yv[i] != 0) {
          dir_n++;
          dir_ok += (pred[i] > 0) == (yv[i] > 0);
        }
      }
      r.rmse = std::sqrt(se / n_val);
      r.mae = ae / n_val;
      r.baseline_rmse = std::sqrt(base / n_val);
      r.accuracy = dir_n ? (double)dir_ok / dir_n : 0;
      r.prod_rmse = NAN;
      if (prod_bytes != nullptr) {
        cml::XgbModel prod = cml::XgbModel::load(std::string(prod_bytes, prod_len));
        if (prod.num_features() == nf) {
          std::vector<float> pp = prod.predict(Xv);
          double pse = 0;
          for (int i = 0; i < n_val; i++) pse += (pp[i] - yv[i]) * (double)(pp[i] - yv[i]);
          r.prod_rmse = std::sqrt(pse / n_val);
        }
      }
      // Calibration: directional hit rate on validation by |prediction| quintile, for confidence.
      std::vector<std::pair<double, bool>> scored;
      for (int i = 0; i < n_val; i++)
        if (yv[i] != 0) scored.push_back({std::fabs(pred[i]), (pred[i] > 0) == (yv[i] > 0)});
      std::sort(scored.begin(), scored.end());
      json buckets = json::array();
      int nb = std::min<int>(5, std::max<int>(1, (int)scored.size() / 10));
      for (int b = 0; b < nb; b++) {
        size_t lo = scored.size() * b / nb, hi = scored.size() * (b + 1) / nb;
        if (hi <= lo) continue;
        int ok = 0;
        for (size_t i = lo; i < hi; i++) ok += scored[i].second;
        buckets.push_back({{"min_abs_pred", b == 0 ? 0.0 : scored[lo].first}, {"hit_rate", (double)ok / (hi - lo)}, {"n", hi - lo}});
      }
      json names_json = names;
      r.n_train = n_train;
      r.n_val = n_val;
      r.rounds = report.rounds_trained;
      r.model = copy_out(model.save(), &r.model_len);
      json hp = json::parse(p.to_json());
      hp["windowSize"] = window;
      hp["validationSplit"] = split;
      hp["embargo_samples"] = horizon;
      hp["rounds_trained"] = report.rounds_trained;
      hp["best_iteration"] = report.best_iteration;
      r.hyperparameters = copy_out(hp.dump());
      r.calibration = copy_out(json{{"method", "validation hit rate by |prediction| quintile"}, {"buckets", buckets}}.dump());
      r.features = copy_out(names_json.dump());
    } catch (const cml::Cancelled&) {
      r.cancelled = true;
    }
  });
  if (r.cancelled) {
    CHECK_FOR_INTERRUPTS();  // raises the cancel or timeout error PostgreSQL has pending
    ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("ml_train was cancelled")));
  }

  // Register: model bytes, batch row, production decision.
  int64 duration_ms = (GetCurrentTimestamp() - started) / 1000;
  bool beats = std::isnan(r.prod_rmse) ? r.rmse < r.baseline_rmse : r.rmse < r.prod_rmse;
  char* ins = psprintf(
      "WITH n AS (SELECT nextval(pg_get_serial_sequence('%s.mltrainingbatches', 'id'))::int AS id), "
      "b AS (INSERT INTO %%s.mltrainingbatches (id, batch_id, symbol, model_type, training_samples, validation_samples, "
      "rmse, mae, accuracy, model_path, is_production, forecast_horizon, baseline_rmse, hyperparameters, "
      "feature_set_version, duration_ms) "
      "SELECT n.id, format('xgb-%%%%s-h%%%%s-%%%%s', $1::text, $2, n.id), "
      "$1, 'xgboost', $3, $4, $5, $6, $7, NULL, false, $2, $8, $9::jsonb, %d, $10 FROM n RETURNING id, batch_id) "
      "SELECT id, batch_id FROM b",
      schema, cml::kFeatureSetVersion);
  ins = psprintf(ins, schema);
  Oid ti[10] = {TEXTOID, INT4OID, INT4OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTOID, INT8OID};
  Datum vi[10] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon), Int32GetDatum(r.n_train), Int32GetDatum(r.n_val),
                  Float8GetDatum(r.rmse), Float8GetDatum(r.mae), Float8GetDatum(r.accuracy), Float8GetDatum(r.baseline_rmse),
                  CStringGetTextDatum(r.hyperparameters), Int64GetDatum(duration_ms)};
  if (SPI_execute_with_args(ins, 10, ti, vi, nullptr, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
    elog(ERROR, "cryptoml: registering the model failed");
  char* batch_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
  bytea* bytes = (bytea*)palloc(VARHDRSZ + r.model_len);
  SET_VARSIZE(bytes, VARHDRSZ + r.model_len);
  memcpy(VARDATA(bytes), r.model, r.model_len);
  Oid tm[5] = {TEXTOID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID};
  Datum vm[5] = {CStringGetTextDatum(batch_id), PointerGetDatum(bytes), CStringGetTextDatum(r.features),
                 CStringGetTextDatum(r.calibration), CStringGetTextDatum(batch_id)};
  char* ins_model = psprintf(
      "WITH m AS (INSERT INTO cryptoml_internal.models (batch_id, model, feature_names, feature_set_version, calibration) "
      "VALUES ($1, $2, $3::jsonb, %d, $4::jsonb)) "
      "UPDATE %s.mltrainingbatches SET model_path = 'db://models/' || $5 WHERE batch_id = $5",
      cml::kFeatureSetVersion, schema);
  if (SPI_execute_with_args(ins_model, 5, tm, vm, nullptr, false, 0) != SPI_OK_UPDATE)
    elog(ERROR, "cryptoml: storing the model failed");
  StringInfoData ctx;
  initStringInfo(&ctx);
  appendStringInfo(&ctx, "{\"batch_id\": \"%s\", \"rmse\": %.6f, \"baseline_rmse\": %.6f, \"production_rmse\": %s, "
                         "\"rounds\": %d, \"training_samples\": %d, \"validation_samples\": %d}",
                   batch_id, r.rmse, r.baseline_rmse, std::isnan(r.prod_rmse) ? "null" : psprintf("%.6f", r.prod_rmse),
                   r.rounds, r.n_train, r.n_val);
  if (beats) {
    char* deploy = psprintf("SELECT %s.ml_deploy($1)", schema);
    Oid td[1] = {TEXTOID};
    Datum vd[1] = {CStringGetTextDatum(batch_id)};
    if (SPI_execute_with_args(deploy, 1, td, vd, nullptr, false, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: deploying failed");
  }
  cml::pg::log_write(cml::LogLevel::info, "ml_training", beats ? "promoted" : "not_promoted",
                     psprintf("%s h%d: %s trained (rmse %.6f, %s %.6f)%s", symbol, horizon, batch_id, r.rmse,
                              std::isnan(r.prod_rmse) ? "zero-change baseline" : "production", 
                              std::isnan(r.prod_rmse) ? r.baseline_rmse : r.prod_rmse,
                              beats ? ": now production" : ": production unchanged"),
                     ctx.data, symbol, nullptr);
  char* ret = psprintf("SELECT * FROM %s.mltrainingbatches WHERE batch_id = $1", schema);
  Oid tr[1] = {TEXTOID};
  Datum vr[1] = {CStringGetTextDatum(batch_id)};
  if (SPI_execute_with_args(ret, 1, tr, vr, nullptr, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
    elog(ERROR, "cryptoml: reading the batch back failed");
  HeapTupleHeader result = SPI_returntuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
  SPI_finish();
  PG_RETURN_HEAPTUPLEHEADER(result);
}
