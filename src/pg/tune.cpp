// CALL ml_tune(symbol, horizon, model_type, budget, options, INOUT result): hyperparameter search
// by time-series cross-validation (src/core/tune.hpp), one committed transaction per trial.
//
// A run is identified by its request (symbol, horizon, model_type, budget, options): a CALL with
// the request of a run still 'running' (killed, cancelled, timed out) resumes it: the trials it
// committed are kept and not rerun, and it reads the same samples (the run's last bar and its
// training settings are fixed when it starts), so its trials and scores equal an uninterrupted
// run's. Every trial is a row of cryptoml_internal.tune_trials (ml_tune_trials); the run's best
// trial and params are in cryptoml_internal.tune_runs (ml_tune_runs), where ml_train finds them
// (options => '{"params": "tuned"}', tuned_train_options below).
//
// Called inside a transaction block (atomic), it runs without committing.
#include <cmath>
#include <string>
#include <vector>

#include "config.hpp"
#include "features.hpp"
#include "features_v2.hpp"
#include "model.hpp"
#include "options.hpp"
#include "tune.hpp"

#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "owner.hpp"
#include "progress.hpp"
#include "registry.hpp"

extern "C" {
#include "access/htup_details.h"
#include "common/hashfn.h"
#include "nodes/parsenodes.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(ml_tune);
}

namespace {

using cml::json;

constexpr int64 kUsecPerMinute = INT64CONST(60000000);

// The request as the core parsed it, plain data (it lives in PostgreSQL frames).
struct Request {
  const char* symbol;
  int horizon;
  int type;              // cml::ModelType
  int budget;
  const char* config;    // effective configuration, json text
  const char* options;   // the options as given, json text
  const char* normalized;  // the request identifying the run, json text
  const char* train;     // ml_train options every trial uses, with window and split fixed (json text)
  int window;
  double split;
  int folds;
  int method;            // cml::TuneMethod
  int scheme;            // cml::FoldScheme
  char seed[24];
  int feature_set;       // of the samples read (options.featureSet, else train.featureSet, else config)
};

// Samples of the window, time-ordered, in the procedure's memory context.
struct Samples {
  int n, nf;
  Timestamp* ts;
  int64* minutes;
  double* y;
  double* X;
  int* run;
};

// One trial's outcome, plain data.
struct Outcome {
  int trial, rung, config;
  double fraction;
  char* params;  // json text
  bool ok, cancelled;
  double score, rmse, baseline_rmse;
  int n_folds;
  double* fold_scores;
  int folds_used, rows_used, rows_scored;
  char* error;
};

bool should_stop() { return InterruptPending && (QueryCancelPending || ProcDiePending); }

char* copy_out(const std::string& s) { return cml::pg::pstrdup_nothrow(s); }

void spi_exec(const char* sql, int n, Oid* types, Datum* values, const char* nulls, int expect) {
  if (SPI_execute_with_args(sql, n, types, values, nulls, false, 0) != expect) elog(ERROR, "cryptoml: ml_tune: SPI failed: %s", sql);
}

// One run of a request at a time: a transaction-level advisory lock, taken again after each commit.
void lock_run(const char* normalized) {
  LOCKTAG tag;
  SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0x434D4C55 /* 'CMLU' */,
                       hash_bytes((const unsigned char*)normalized, (int)strlen(normalized)), 2);
  if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
    ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE), errmsg("another session is running this ml_tune request"),
                    errdetail("rule: one session at a time runs a tune; a later CALL with the same arguments resumes it")));
}

// SQL run as the extension's owner (the internal tables), search_path pinned.
void owner_exec(const char* sql, int n, Oid* types, Datum* values, const char* nulls, int expect) {
  cml::pg::OwnerScope scope;
  cml::pg::enter_owner(cml::pg::extension_owner(), &scope);
  spi_exec(sql, n, types, values, nulls, expect);
  cml::pg::leave_owner(&scope);
}

// The window's samples with a target up to `last`, the way ml_train reads them (the last
// windowSize minutes, vectors built from the jsonb where none is stored), sorted by time.
Samples read_samples(MemoryContext mcx, const char* schema, const Request& r, Timestamp last) {
  char* sql = psprintf(
      "SELECT s.bar_timestamp, s.target::float8, "
      "coalesce(s.feature_vector, cryptoml_internal.features_to_vector(s.features, s.feature_set)) "
      "FROM %s.mltrainingsamples s WHERE s.symbol = $1 AND s.forecast_horizon = $2 AND s.feature_set = %d "
      "AND s.target IS NOT NULL AND s.bar_timestamp > $4 - make_interval(mins => $3) AND s.bar_timestamp <= $4 "
      // training.excludeAnomalies, ml_train's rule; whether a sample is excluded does not depend on
      // the window, which only bounds the search: searched over every sample of the set, since
      // this window ends at `last`, not at the set's latest sample
      "AND s.bar_timestamp NOT IN (SELECT cryptoml_internal.anomaly_excluded_samples($1, $2, 2147483647, %d)) "
      "ORDER BY s.bar_timestamp",
      schema, r.feature_set, r.feature_set);
  Oid t[4] = {TEXTOID, INT4OID, INT4OID, TIMESTAMPOID};
  Datum v[4] = {CStringGetTextDatum(r.symbol), Int32GetDatum(r.horizon), Int32GetDatum(r.window), TimestampGetDatum(last)};
  owner_exec(sql, 4, t, v, nullptr, SPI_OK_SELECT);  // as ml_train (SECURITY DEFINER) reads them: the internal helpers are the owner's
  Samples d;
  d.n = (int)SPI_processed;
  d.nf = 0;
  cml::pg::guarded("ml_tune", [&] { d.nf = (int)cml::feature_names_for(r.feature_set).size(); });
  const size_t n1 = (size_t)Max(d.n, 1);
  d.ts = (Timestamp*)MemoryContextAlloc(mcx, sizeof(Timestamp) * n1);
  d.minutes = (int64*)MemoryContextAlloc(mcx, sizeof(int64) * n1);
  d.y = (double*)MemoryContextAlloc(mcx, sizeof(double) * n1);
  d.run = (int*)MemoryContextAlloc(mcx, sizeof(int) * n1);
  d.X = (double*)MemoryContextAllocHuge(mcx, sizeof(double) * n1 * (size_t)Max(d.nf, 1));
  for (int i = 0; i < d.n; i++) {
    bool isnull;
    HeapTuple row = SPI_tuptable->vals[i];
    d.ts[i] = DatumGetTimestamp(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
    d.minutes[i] = cml::pg::minute_of(d.ts[i]);
    d.y[i] = DatumGetFloat8(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
    Datum vec = SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull);
    double* out = d.X + (size_t)i * d.nf;
    ArrayType* a = DatumGetArrayTypeP(vec);
    if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != d.nf || ARR_ELEMTYPE(a) != FLOAT8OID)
      ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                      errmsg("the feature_vector of the sample at %s has %d elements, %d expected",
                             DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(d.ts[i]))),
                             ARR_NDIM(a) == 1 ? ARR_DIMS(a)[0] : 0, d.nf)));
    Datum* elems;
    bool* nulls;
    int ne;
    deconstruct_array(a, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &ne);
    for (int c = 0; c < d.nf; c++) out[c] = nulls[c] ? NAN : DatumGetFloat8(elems[c]);
    d.run[i] = (i > 0 && d.ts[i] - d.ts[i - 1] == kUsecPerMinute) ? d.run[i - 1] + 1 : 1;
  }
  SPI_freetuptable(SPI_tuptable);
  return d;
}

// Parses and checks the request (nothing stored yet), into palloc'd plain data.
void parse_request(Request* r, const char* model_type, const char* stored_train) {
  cml::pg::guarded("ml_tune", [&] {
    const cml::ModelType type = cml::parse_model_type(model_type);
    const json config = json::parse(r->config);
    const json opts = cml::parse_json_document(r->options, "option");
    const cml::TuneOptions o = cml::parse_tune_options(type, r->budget, config, opts);
    // the training settings every trial uses, fixed now (a resumed run keeps its own)
    json train = stored_train != nullptr ? json::parse(stored_train) : o.train;
    if (o.feature_set > 0) train["featureSet"] = o.feature_set;
    const cml::TrainOptions t = cml::parse_train_options(type, config, train);
    train["windowSize"] = t.window;
    train["validationSplit"] = t.split;
    train["earlyStoppingPatience"] = type == cml::ModelType::xgboost ? t.xgb.early_stopping_rounds : t.lstm.patience;
    train["featureSet"] = t.feature_set;
    if (type == cml::ModelType::lstm) {
      train["batchSize"] = t.lstm.batch_size;
      train["maxEpochs"] = t.lstm.max_epochs;
    }
    r->type = (int)type;
    r->window = t.window;
    r->split = t.split;
    r->folds = o.folds;
    r->method = (int)o.method;
    r->scheme = (int)o.scheme;
    snprintf(r->seed, sizeof r->seed, "%llu", (unsigned long long)o.seed);
    r->feature_set = t.feature_set;
    r->train = copy_out(train.dump());
    const json request = {{"symbol", r->symbol}, {"horizon", r->horizon}, {"model_type", cml::model_type_name(type)},
                          {"budget", r->budget}, {"options", opts}};
    r->normalized = copy_out(request.dump());
  });
}

// Runs trial `k` (the next one of the search) on the samples, C++ inside guarded().
void run_one(const Request& r, const Samples& d, const double* scores, int done, Outcome* out) {
  memset(out, 0, sizeof *out);
  cml::pg::guarded("ml_tune", [&] {
    const cml::ModelType type = (cml::ModelType)r.type;
    const json config = json::parse(r.config);
    cml::TuneOptions o = cml::parse_tune_options(type, r.budget, config, cml::parse_json_document(r.options, "option"));
    o.train = json::parse(r.train);
    const cml::TuneSearch search(o.method, r.budget, (size_t)d.n, cml::tune_min_rows(o.folds, r.split, r.horizon));
    cml::TrialSpec spec;
    if (!search.next(std::vector<double>(scores, scores + done), &spec)) {
      out->trial = 0;
      return;
    }
    const json params = cml::sample_params(o.space, o.seed, spec.config);
    out->trial = spec.trial;
    out->rung = spec.rung;
    out->config = spec.config;
    out->fraction = spec.fraction;
    out->params = copy_out(params.dump());
    const cml::TrainOptions t = cml::trial_train_options(type, config, o, params);
    cml::TuneData td;
    td.X = d.X;
    td.y = d.y;
    td.minutes = d.minutes;
    td.run = d.run;
    td.rows = (size_t)d.n;
    td.cols = (size_t)d.nf;
    try {
      const cml::TrialResult res = cml::run_trial(t, td, r.horizon, o, spec.fraction, should_stop);
      out->ok = res.ok;
      out->score = res.score;
      out->rmse = res.rmse;
      out->baseline_rmse = res.baseline_rmse;
      out->n_folds = (int)res.fold_scores.size();
      double* fs = (double*)MemoryContextAllocExtended(CurrentMemoryContext, sizeof(double) * std::max<size_t>(res.fold_scores.size(), 1),
                                                       MCXT_ALLOC_NO_OOM);
      if (fs == nullptr) throw std::bad_alloc();
      for (size_t k = 0; k < res.fold_scores.size(); k++) fs[k] = res.fold_scores[k];
      out->fold_scores = fs;
      out->folds_used = res.folds_used;
      out->rows_used = (int)res.rows_used;
      out->rows_scored = (int)res.rows_scored;
      out->error = res.ok ? nullptr : copy_out(res.error);
    } catch (const cml::Cancelled&) {
      out->cancelled = true;
    } catch (const cml::InvalidParameter& e) {  // a configuration the data cannot train (e.g. too few sequences)
      out->ok = false;
      out->error = copy_out(e.what());
    }
  });
}

// Total trials of the search and the rung of each finished trial.
int plan_total(const Request& r, const Samples& d) {
  int total = 0;
  cml::pg::guarded("ml_tune", [&] {
    const cml::TuneSearch s((cml::TuneMethod)r.method, r.budget, (size_t)d.n, cml::tune_min_rows(r.folds, r.split, r.horizon));
    total = s.total_trials();
  });
  return total;
}

int best_of(const double* scores, const int* rungs, int done) {
  int best = 0;
  cml::pg::guarded("ml_tune", [&] {
    best = cml::best_trial(std::vector<double>(scores, scores + done), std::vector<int>(rungs, rungs + done));
  });
  return best;
}

// The run's summary row update: trials done and the best so far (or the final status), with a
// recoveryState checkpoint (service ml_tuning, operation "tune <id>") in the same transaction.
void update_run(const char* schema, int64 tune_id, int done, int best, const char* status) {
  Oid t[4] = {INT8OID, INT4OID, INT4OID, TEXTOID};
  Datum v[4] = {Int64GetDatum(tune_id), Int32GetDatum(done), Int32GetDatum(best), CStringGetTextDatum(status)};
  char nulls[5] = "    ";
  if (best == 0) nulls[2] = 'n';
  owner_exec("UPDATE cryptoml_internal.tune_runs r SET trials_done = $2, best_trial = $3, status = $4, "
             "best_score = (SELECT score FROM cryptoml_internal.tune_trials t WHERE t.tune_id = $1 AND t.trial = $3), "
             "best_params = (SELECT params FROM cryptoml_internal.tune_trials t WHERE t.tune_id = $1 AND t.trial = $3), "
             "finished_at = CASE WHEN $4 = 'running' THEN NULL ELSE pg_catalog.clock_timestamp() END WHERE r.tune_id = $1",
             4, t, v, nulls, SPI_OK_UPDATE);
  owner_exec(psprintf("INSERT INTO %s.recoverystate (service_name, operation_id, state_data, checkpoint_type, origin) "
                      "VALUES ('ml_tuning', 'tune ' || $1, pg_catalog.jsonb_build_object('tune_id', $1, 'trials_done', $2, "
                      "'best_trial', $3, 'status', $4), CASE $4 WHEN 'running' THEN 'intermediate' WHEN 'completed' THEN 'success' "
                      "ELSE 'error' END, 'cryptoml')", schema),
             4, t, v, nulls, SPI_OK_INSERT);
}

}  // namespace

Datum ml_tune(PG_FUNCTION_ARGS) {
  const bool nonatomic = fcinfo->context != nullptr && IsA(fcinfo->context, CallContext) &&
                         !castNode(CallContext, fcinfo->context)->atomic;
  for (int i = 0; i < 5; i++)
    if (PG_ARGISNULL(i)) {
      static const char* const names[5] = {"symbol", "horizon", "model_type", "budget", "options"};
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL", names[i])));
    }
  // Everything lives through the commits between trials; the portal's context frees it (also
  // after an error).
  MemoryContext work = AllocSetContextCreate(PortalContext != nullptr ? PortalContext : CurrentMemoryContext, "cryptoml tune",
                                             ALLOCSET_DEFAULT_SIZES);
  MemoryContext caller = MemoryContextSwitchTo(work);
  Request r;
  memset(&r, 0, sizeof r);
  r.symbol = cml::pg::symbol_arg(PG_GETARG_TEXT_PP(0));
  r.horizon = PG_GETARG_INT32(1);
  const char* model_type = text_to_cstring(PG_GETARG_TEXT_PP(2));
  r.budget = PG_GETARG_INT32(3);
  Jsonb* opt = PG_GETARG_JSONB_P(4);
  r.options = JsonbToCString(nullptr, &opt->root, VARSIZE(opt));
  int horizons[64];
  const int nh = cml::pg::config_training_horizons(horizons, 64);
  bool configured = false;
  for (int i = 0; i < nh; i++) configured |= horizons[i] == r.horizon;
  if (!configured)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("horizon %d is not a training horizon", r.horizon),
                    errdetail("rule: horizon must be one of training.forecastHorizons")));
  r.config = cml::pg::config_json_text();
  parse_request(&r, model_type, nullptr);

  int pin = cml::pg::pin_search_path();  // a procedure that commits cannot carry SET search_path
  SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0);
  const char* schema = MemoryContextStrdup(work, cml::pg::extension_schema());
  lock_run(r.normalized);

  // A run of this request still running resumes; otherwise a new run on the samples up to now.
  int64 tune_id = 0;
  Timestamp last = 0;
  Oid t1[1] = {TEXTOID};
  Datum v1[1] = {CStringGetTextDatum(r.normalized)};
  owner_exec("SELECT tune_id, data_last, train_options::text FROM cryptoml_internal.tune_runs "
             "WHERE request = $1::jsonb AND status = 'running' ORDER BY tune_id DESC LIMIT 1",
             1, t1, v1, nullptr, SPI_OK_SELECT);
  bool resumed = SPI_processed == 1;
  if (resumed) {
    bool isnull;
    tune_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    last = DatumGetTimestamp(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    char* stored = MemoryContextStrdup(work, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3));
    parse_request(&r, model_type, stored);
  } else {
    Oid t2[2] = {TEXTOID, INT4OID};
    Datum v2[2] = {CStringGetTextDatum(r.symbol), Int32GetDatum(r.horizon)};
    spi_exec(psprintf("SELECT max(bar_timestamp) FROM %s.mltrainingsamples WHERE symbol = $1 AND forecast_horizon = $2 "
                      "AND feature_set = %d AND target IS NOT NULL", schema, r.feature_set),
             2, t2, v2, nullptr, SPI_OK_SELECT);
    bool isnull;
    Datum m = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull)
      ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                      errmsg("no samples with a target for %s horizon %d (feature set %d)", r.symbol, r.horizon, r.feature_set),
                      errhint("Run SELECT ml_build_samples('%s', %d);", r.symbol, r.horizon)));
    last = DatumGetTimestamp(m);
  }
  Samples d = read_samples(work, schema, r, last);
  size_t needed = 0;
  cml::pg::guarded("ml_tune", [&] { needed = cml::tune_min_rows(r.folds, r.split, r.horizon); });
  if ((size_t)d.n < needed)
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                    errmsg("too few samples for %s horizon %d: %d in the last %d minutes, %zu needed", r.symbol, r.horizon, d.n,
                           r.window, needed),
                    errdetail("rule: each of the %d + 1 chunks of the folds holds at least the %d-sample embargo and the "
                              "rows of one split (validationSplit %g)", r.folds, r.horizon, r.split),
                    errhint("Run SELECT ml_build_samples('%s', %d); lower options.folds or raise windowSize.", r.symbol, r.horizon)));
  const int total = plan_total(r, d);
  if (!resumed) {
    Oid ti[14] = {TEXTOID, INT4OID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID,
                  TIMESTAMPOID, INT4OID, INT4OID};
    Datum vi[14] = {CStringGetTextDatum(r.symbol), Int32GetDatum(r.horizon), CStringGetTextDatum(cml::pg::kModelTypeNames[r.type]),
                    Int32GetDatum(r.budget), CStringGetTextDatum(r.options), CStringGetTextDatum(r.normalized),
                    CStringGetTextDatum(r.train), CStringGetTextDatum(r.method == 0 ? "random" : "halving"),
                    CStringGetTextDatum(r.scheme == 0 ? "expanding" : "rolling"), Int32GetDatum(r.folds),
                    CStringGetTextDatum(r.seed), TimestampGetDatum(last), Int32GetDatum(d.n), Int32GetDatum(total)};
    owner_exec("INSERT INTO cryptoml_internal.tune_runs (symbol, forecast_horizon, model_type, budget, options, request, "
               "train_options, method, scheme, folds, seed, data_first, data_last, samples, trials_planned) "
               "VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, $10, $11::numeric, NULL, $12, $13, $14) RETURNING tune_id",
               14, ti, vi, nullptr, SPI_OK_INSERT_RETURNING);
    bool isnull;
    tune_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    Oid tf[2] = {INT8OID, TIMESTAMPOID};
    Datum vf[2] = {Int64GetDatum(tune_id), TimestampGetDatum(d.n > 0 ? d.ts[0] : last)};
    owner_exec("UPDATE cryptoml_internal.tune_runs SET data_first = $2 WHERE tune_id = $1", 2, tf, vf, nullptr, SPI_OK_UPDATE);
    if (nonatomic) {  // the run exists (and resumes) from its start, whatever happens to its first trial
      SPI_commit();
      pin = cml::pg::pin_search_path();
      lock_run(r.normalized);
    }
  }

  // The trials the run committed before (a resumed run): kept, not rerun.
  double* scores = (double*)MemoryContextAlloc(work, sizeof(double) * (size_t)Max(total, 1));
  int* rungs = (int*)MemoryContextAlloc(work, sizeof(int) * (size_t)Max(total, 1));
  int done = 0, failed = 0;
  {
    Oid t[1] = {INT8OID};
    Datum v[1] = {Int64GetDatum(tune_id)};
    owner_exec("SELECT trial, score, rung, status FROM cryptoml_internal.tune_trials WHERE tune_id = $1 ORDER BY trial", 1, t, v,
               nullptr, SPI_OK_SELECT);
    for (uint64 i = 0; i < SPI_processed && done < total; i++) {
      bool isnull;
      HeapTuple row = SPI_tuptable->vals[i];
      if (DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull)) != done + 1)
        elog(ERROR, "cryptoml: ml_tune: tune %lld has a gap before trial %d", (long long)tune_id, done + 1);
      Datum s = SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull);
      scores[done] = isnull ? NAN : DatumGetFloat8(s);
      rungs[done] = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull));
      failed += strcmp(SPI_getvalue(row, SPI_tuptable->tupdesc, 4), "failed") == 0;
      done++;
    }
  }
  const int resumed_trials = done;
  if (resumed)
    ereport(NOTICE, (errmsg("ml_tune: resuming tune %lld of %s horizon %d: %d of %d trials done", (long long)tune_id, r.symbol,
                            r.horizon, done, total)));

  cml::pg::progress_begin("tune", r.symbol, total, nonatomic);
  cml::pg::progress_update(done);
  while (done < total) {
    CHECK_FOR_INTERRUPTS();
    const TimestampTz started = GetCurrentTimestamp();
    cml::pg::progress_phase(psprintf("trial %d of %d", done + 1, total), done);
    Outcome o;
    run_one(r, d, scores, done, &o);
    if (o.cancelled) {
      CHECK_FOR_INTERRUPTS();  // the cancel or statement_timeout error PostgreSQL has pending
      ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("ml_tune was cancelled")));
    }
    if (o.trial == 0) break;
    const int64 duration_ms = (GetCurrentTimestamp() - started) / 1000;
    Datum* fs = (Datum*)palloc(sizeof(Datum) * Max(o.n_folds, 1));
    for (int k = 0; k < o.n_folds; k++) fs[k] = Float8GetDatum(o.fold_scores[k]);
    Oid t[16] = {INT8OID, INT4OID, INT4OID, INT4OID, FLOAT8OID, TEXTOID, FLOAT8ARRAYOID, INT4OID, INT4OID, INT4OID,
                 FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTOID, TEXTOID, INT8OID};
    Datum v[16] = {Int64GetDatum(tune_id), Int32GetDatum(o.trial), Int32GetDatum(o.rung), Int32GetDatum(o.config),
                   Float8GetDatum(o.fraction), CStringGetTextDatum(o.params),
                   PointerGetDatum(construct_array(fs, o.n_folds, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                   Int32GetDatum(o.folds_used), Int32GetDatum(o.rows_used), Int32GetDatum(o.rows_scored),
                   Float8GetDatum(o.rmse), Float8GetDatum(o.baseline_rmse), Float8GetDatum(o.score),
                   CStringGetTextDatum(o.ok ? "completed" : "failed"), o.error ? CStringGetTextDatum(o.error) : (Datum)0,
                   Int64GetDatum(duration_ms)};
    char nulls[17] = "                ";
    if (!o.ok) nulls[10] = nulls[11] = nulls[12] = 'n';
    if (o.error == nullptr) nulls[14] = 'n';
    owner_exec("INSERT INTO cryptoml_internal.tune_trials (tune_id, trial, rung, config, resource, params, fold_scores, folds_used, "
               "rows_used, rows_scored, rmse, baseline_rmse, score, status, error, duration_ms) "
               "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
               16, t, v, nulls, SPI_OK_INSERT);
    scores[done] = o.ok ? o.score : NAN;
    rungs[done] = o.rung;
    failed += !o.ok;
    done++;
    update_run(schema, tune_id, done, best_of(scores, rungs, done), "running");
    if (nonatomic) {
      SPI_commit();
      pin = cml::pg::pin_search_path();  // the commit reset it
      lock_run(r.normalized);            // and released the lock
    }
    cml::pg::progress_update(done);
  }
  const int best = best_of(scores, rungs, done);
  update_run(schema, tune_id, done, best, best > 0 ? "completed" : "failed");
  StringInfoData ctx;
  initStringInfo(&ctx);
  {
    Oid t[1] = {INT8OID};
    Datum v[1] = {Int64GetDatum(tune_id)};
    owner_exec("SELECT pg_catalog.jsonb_build_object('tune_id', tune_id, 'status', status, 'symbol', symbol, 'horizon', "
               "forecast_horizon, 'model_type', model_type, 'method', method, 'scheme', scheme, 'folds', folds, 'seed', seed, "
               "'trials', trials_done, 'best_trial', best_trial, 'best_score', best_score, 'best_params', best_params, "
               "'samples', samples, 'data_last', data_last)::text FROM cryptoml_internal.tune_runs WHERE tune_id = $1",
               1, t, v, nullptr, SPI_OK_SELECT);
    appendStringInfoString(&ctx, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
  }
  // resumed_trials and failed are not part of the run row (a resumed and an uninterrupted run are equal)
  char* result_text = MemoryContextStrdup(  // outlives SPI_finish
      work, psprintf("%.*s, \"failed\": %d, \"resumed_trials\": %d}", (int)ctx.len - 1, ctx.data, failed, resumed_trials));
  if (best == 0)
    ereport(WARNING, (errmsg("ml_tune: every trial of tune %lld failed", (long long)tune_id),
                      errhint("SELECT trial, error FROM ml_tune_trials WHERE tune_id = %lld;", (long long)tune_id)));
  cml::pg::log_write(cml::LogLevel::info, "ml_training", "tuned",
                     psprintf("%s h%d: %s tune %lld finished: %d trials, best %d", r.symbol, r.horizon,
                              cml::pg::kModelTypeNames[r.type], (long long)tune_id, done, best),
                     result_text, r.symbol, nullptr);
  cml::pg::progress_end();
  SPI_finish();
  cml::pg::unpin_search_path(pin);
  MemoryContextSwitchTo(caller);
  Datum result = DirectFunctionCall1(jsonb_in, CStringGetDatum(result_text));
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "cryptoml: expected a record result");
  desc = BlessTupleDesc(desc);
  Datum values[1] = {result};
  bool nulls[1] = {false};
  HeapTuple tuple = heap_form_tuple(desc, values, nulls);
  MemoryContextDelete(work);
  PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

namespace cml {
namespace pg {

// ml_train's options with "params": "tuned" replaced by the best params of the latest completed
// tune of (symbol, horizon, model_type) (the caller's other keys win); unchanged without
// "params". Caller is connected to SPI; errors (ereport) when there is no such tune.
const char* tuned_train_options(const char* symbol, int horizon, const char* model_type, const char* options) {
  bool wanted = false;
  guarded("ml_train", [&] { wanted = cml::wants_tuned_params(cml::parse_json_document(options, "option")); });
  if (!wanted) return options;
  if (strcmp(model_type, "xgboost") != 0 && strcmp(model_type, "lstm") != 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("option params = \"tuned\" is not supported for model_type %s", model_type),
                    errdetail("rule: tuned parameters are for xgboost and lstm (ml_tune); an ensemble trains its members")));
  Oid t[3] = {TEXTOID, INT4OID, TEXTOID};
  Datum v[3] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon), CStringGetTextDatum(model_type)};
  owner_exec("SELECT tune_id, best_params::text FROM cryptoml_internal.tune_runs WHERE symbol = $1 AND forecast_horizon = $2 "
             "AND model_type = $3 AND status = 'completed' AND best_params IS NOT NULL ORDER BY finished_at DESC, tune_id DESC LIMIT 1",
             3, t, v, nullptr, SPI_OK_SELECT);
  if (SPI_processed == 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("no completed ml_tune for %s horizon %d model_type %s", symbol, horizon, model_type),
                    errdetail("rule: options.params \"tuned\" takes the best params of the latest completed tune"),
                    errhint("Run CALL ml_tune('%s', %d, '%s');", symbol, horizon, model_type)));
  const char* best = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
  char* merged = nullptr;
  guarded("ml_train", [&] {
    merged = copy_out(cml::apply_tuned_params(cml::parse_json_document(options, "option"), json::parse(best)).dump());
  });
  return merged;
}

}  // namespace pg
}  // namespace cml
