// Model bundles (src/core/bundle.hpp) in SQL:
//   ml_export_model(batch_id text) RETURNS jsonb
//   ml_import_model(bundle jsonb, deploy boolean DEFAULT false) RETURNS mlTrainingBatches
//   cryptoml_internal.model_predict(batch_id text, features float8[]) RETURNS float8[]
// The registry rows are read and written with SPI in PostgreSQL frames that hold only plain C
// structs (PlainBatch below); the bundle is built and checked by the core inside guarded(), from
// and into those structs. An import checks the whole bundle (and that none of its batch_ids is
// registered yet) before it writes anything, so a refused bundle changes nothing.
#include <cmath>
#include <string>
#include <vector>

#include "bundle.hpp"
#include "features.hpp"
#include "model.hpp"
#include "options.hpp"

#include "guard.hpp"
#include "log.hpp"
#include "registry.hpp"

extern "C" {
#include "utils/array.h"

PG_FUNCTION_INFO_V1(ml_export_model);
PG_FUNCTION_INFO_V1(ml_import_model);
PG_FUNCTION_INFO_V1(cml_model_predict);
}

namespace {

// One registry batch with its model row, as plain C data (no destructor: it lives in frames
// that call PostgreSQL). Nullable values carry a flag.
struct PlainBatch {
  char* batch_id;
  char* symbol;
  int model_type;  // cml::ModelType
  int horizon;
  int64 training_samples, validation_samples;
  double num[7];  // rmse, mae, accuracy, baseline_rmse, shrinkage, skill_statistic, skill_p_value
  bool num_null[7];
  char* hyperparameters;  // JSON text or NULL
  int feature_set_version;
  bool feature_set_version_null;
  int64 duration_ms;
  bool duration_ms_null;
  int calibration_pairs;
  bool calibration_pairs_null;
  char* created_at;  // YYYY-MM-DDTHH:MM:SS[.ffffff] or NULL
  // the model row
  const char* bytes;
  size_t len;
  char* sha256_hex;       // import: the checked digest
  char* feature_names;    // JSON text
  int model_feature_set_version;
  char* calibration;      // JSON text or NULL
  bool has_oot;
  int n_oot;
  char** oot_ts;
  double* oot_raw;
  double* oot_actual;
  double weight;  // as an ensemble member
};

constexpr int kMaxBatches = 3;  // an ensemble and its two members (registry.hpp's BlobSet)

// palloc in `cxt` that throws std::bad_alloc instead of raising an ERROR: safe inside C++ regions.
char* copy_nothrow(MemoryContext cxt, const std::string& s) {
  char* p = static_cast<char*>(MemoryContextAllocExtended(cxt, s.size() + 1, MCXT_ALLOC_NO_OOM));
  if (p == nullptr) throw std::bad_alloc();
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}
void* alloc_nothrow(size_t n) {
  void* p = MemoryContextAllocExtended(CurrentMemoryContext, n == 0 ? 1 : n, MCXT_ALLOC_NO_OOM);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

char* quoted_id(const char* s) { return psprintf("%.60s%s", s, strlen(s) > 60 ? "..." : ""); }

// ---- export: registry rows -> plain structs (PostgreSQL side) ---------------------------------------

// Reads the batch (and an ensemble's members) into out[]; returns how many. ERRORs for an unknown
// batch, missing model bytes, or bytes that do not match their recorded checksum.
int read_batches(const char* batch_id, PlainBatch* out) {
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("cryptoml is not installed in this database")));
  const char* ts = "pg_catalog.replace(pg_catalog.to_char(%s, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')";
  char* sql = psprintf(
      "SELECT b.batch_id, b.symbol, b.model_type, b.forecast_horizon, b.training_samples, b.validation_samples, "
      "b.rmse::float8, b.mae::float8, b.accuracy::float8, b.baseline_rmse::float8, b.hyperparameters::text, b.feature_set_version, "
      "b.duration_ms, b.shrinkage, b.skill_statistic, b.skill_p_value, b.calibration_pairs, %s, "
      "m.model, m.model_sha256 = pg_catalog.sha256(m.model), m.feature_names::text, m.feature_set_version, m.calibration::text, "
      "CASE WHEN m.oot_ts IS NOT NULL THEN ARRAY(SELECT %s FROM pg_catalog.unnest(m.oot_ts) WITH ORDINALITY u(t, i) ORDER BY i) END, "
      "m.oot_raw, m.oot_actual, m.batch_id IS NOT NULL, coalesce(e.weight, 1) "
      "FROM %s.mltrainingbatches b LEFT JOIN cryptoml_internal.models m ON m.batch_id = b.batch_id "
      "LEFT JOIN cryptoml_internal.ensemble_members e ON e.ensemble_batch_id = $1 AND e.member_batch_id = b.batch_id "
      "WHERE b.batch_id = $1 OR e.member_batch_id IS NOT NULL ORDER BY b.batch_id = $1 DESC, b.batch_id",
      psprintf(ts, "b.created_at"), psprintf(ts, "u.t"), schema);
  Oid t1[1] = {TEXTOID};
  Datum v1[1] = {CStringGetTextDatum(batch_id)};
  if (SPI_execute_with_args(sql, 1, t1, v1, nullptr, true, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: reading the batch failed");
  if (SPI_processed == 0 || strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), batch_id) != 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown batch_id \"%s\"", quoted_id(batch_id)),
                    errdetail("rule: ml_export_model exports a batch of mlTrainingBatches")));
  if (SPI_processed > kMaxBatches)
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("ensemble %s has " UINT64_FORMAT " members", batch_id, SPI_processed - 1),
                    errdetail("rule: an ensemble has two members")));
  TupleDesc td = SPI_tuptable->tupdesc;
  int n = 0;
  for (uint64 r = 0; r < SPI_processed; r++) {
    HeapTuple row = SPI_tuptable->vals[r];
    PlainBatch& b = out[n++];
    memset(&b, 0, sizeof b);
    bool isnull;
    b.batch_id = SPI_getvalue(row, td, 1);
    b.symbol = SPI_getvalue(row, td, 2);
    char* type = SPI_getvalue(row, td, 3);
    b.model_type = -1;
    for (int t = 0; t < 3 && type != nullptr; t++)
      if (strcmp(type, cml::pg::kModelTypeNames[t]) == 0) b.model_type = t;
    if (b.model_type < 0)
      ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("batch %s has model_type %s", b.batch_id, type ? type : "NULL"),
                      errdetail("rule: model_type is one of xgboost, lstm, ensemble")));
    Datum h = SPI_getbinval(row, td, 4, &isnull);
    if (isnull) ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("batch %s has no forecast_horizon", b.batch_id)));
    b.horizon = DatumGetInt32(h);
    b.training_samples = DatumGetInt32(SPI_getbinval(row, td, 5, &isnull));
    b.validation_samples = DatumGetInt32(SPI_getbinval(row, td, 6, &isnull));
    const int num_cols[7] = {7, 8, 9, 10, 14, 15, 16};
    for (int k = 0; k < 7; k++) {
      Datum d = SPI_getbinval(row, td, num_cols[k], &b.num_null[k]);
      b.num[k] = b.num_null[k] ? 0 : DatumGetFloat8(d);
    }
    b.hyperparameters = SPI_getvalue(row, td, 11);
    Datum fsv = SPI_getbinval(row, td, 12, &b.feature_set_version_null);
    b.feature_set_version = b.feature_set_version_null ? 0 : DatumGetInt32(fsv);
    Datum dur = SPI_getbinval(row, td, 13, &b.duration_ms_null);
    b.duration_ms = b.duration_ms_null ? 0 : DatumGetInt64(dur);
    Datum cp = SPI_getbinval(row, td, 17, &b.calibration_pairs_null);
    b.calibration_pairs = b.calibration_pairs_null ? 0 : DatumGetInt32(cp);
    b.created_at = SPI_getvalue(row, td, 18);
    if (!DatumGetBool(SPI_getbinval(row, td, 27, &isnull)))
      ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("the model bytes of \"%s\" are missing", b.batch_id),
                      errdetail("rule: an exported batch has its row in cryptoml_internal.models")));
    if (!DatumGetBool(SPI_getbinval(row, td, 20, &isnull)))
      ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                      errmsg("the stored model bytes of %s do not match the checksum recorded when they were stored", b.batch_id),
                      errdetail("rule: cryptoml_internal.models.model_sha256 = sha256(model); the model is not exported"),
                      errhint("Restore the model from a backup, or train a new one.")));
    bytea* bytes = DatumGetByteaPP(SPI_getbinval(row, td, 19, &isnull));
    b.bytes = VARDATA_ANY(bytes);
    b.len = VARSIZE_ANY_EXHDR(bytes);
    b.feature_names = SPI_getvalue(row, td, 21);
    b.model_feature_set_version = DatumGetInt32(SPI_getbinval(row, td, 22, &isnull));
    b.calibration = SPI_getvalue(row, td, 23);
    bool n1, n2, n3;
    Datum ts_d = SPI_getbinval(row, td, 24, &n1);
    Datum raw_d = SPI_getbinval(row, td, 25, &n2);
    Datum act_d = SPI_getbinval(row, td, 26, &n3);
    b.has_oot = !(n1 && n2 && n3);
    if (b.has_oot) {
      if (n1 || n2 || n3)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("the out-of-time record of %s is incomplete", b.batch_id),
                        errdetail("rule: oot_ts, oot_raw and oot_actual are all NULL or all set")));
      Datum *tv, *rv, *av;
      bool *tn, *rn, *an;
      int nt, nr, na;
      deconstruct_array(DatumGetArrayTypeP(ts_d), TEXTOID, -1, false, TYPALIGN_INT, &tv, &tn, &nt);
      deconstruct_array(DatumGetArrayTypeP(raw_d), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &rv, &rn, &nr);
      deconstruct_array(DatumGetArrayTypeP(act_d), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &av, &an, &na);
      if (nt != nr || nt != na)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("the out-of-time record of %s has %d timestamps, %d predictions and %d outcomes", b.batch_id, nt, nr, na)));
      b.n_oot = nt;
      b.oot_ts = (char**)palloc(sizeof(char*) * Max(nt, 1));
      b.oot_raw = (double*)palloc(sizeof(double) * Max(nt, 1));
      b.oot_actual = (double*)palloc(sizeof(double) * Max(nt, 1));
      for (int i = 0; i < nt; i++) {
        if (tn[i] || rn[i] || an[i])
          ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("the out-of-time record of %s has a NULL at element %d", b.batch_id, i + 1)));
        b.oot_ts[i] = TextDatumGetCString(tv[i]);
        b.oot_raw[i] = DatumGetFloat8(rv[i]);
        b.oot_actual[i] = DatumGetFloat8(av[i]);
      }
    }
    b.weight = DatumGetFloat8(SPI_getbinval(row, td, 28, &isnull));
  }
  return n;
}

// ---- plain structs <-> core bundle (C++, inside guarded()) -----------------------------------------

std::optional<double> opt(const PlainBatch& p, int k) { return p.num_null[k] ? std::nullopt : std::optional<double>(p.num[k]); }

cml::Bundle to_bundle(const PlainBatch& p) {
  cml::Bundle b;
  b.batch.batch_id = p.batch_id;
  b.batch.symbol = p.symbol;
  b.batch.model_type = (cml::ModelType)p.model_type;
  b.batch.forecast_horizon = p.horizon;
  b.batch.training_samples = p.training_samples;
  b.batch.validation_samples = p.validation_samples;
  b.batch.rmse = opt(p, 0);
  b.batch.mae = opt(p, 1);
  b.batch.accuracy = opt(p, 2);
  b.batch.baseline_rmse = opt(p, 3);
  b.batch.shrinkage = opt(p, 4);
  b.batch.skill_statistic = opt(p, 5);
  b.batch.skill_p_value = opt(p, 6);
  b.batch.hyperparameters = p.hyperparameters ? cml::parse_json_document(p.hyperparameters, "stored hyperparameters") : nlohmann::json();
  if (!p.feature_set_version_null) b.batch.feature_set_version = p.feature_set_version;
  if (!p.duration_ms_null) b.batch.duration_ms = p.duration_ms;
  if (!p.calibration_pairs_null) b.batch.calibration_pairs = p.calibration_pairs;
  if (p.created_at) b.batch.created_at = p.created_at;
  b.model.feature_set_version = p.model_feature_set_version;
  nlohmann::json names = cml::parse_json_document(p.feature_names, "stored feature_names");
  if (!names.is_array()) throw cml::DataError(std::string("the stored feature_names of ") + p.batch_id + " are not an array");
  for (const auto& n : names) {
    if (!n.is_string()) throw cml::DataError(std::string("the stored feature_names of ") + p.batch_id + " hold a non-string");
    b.model.feature_names.push_back(n.get<std::string>());
  }
  b.model.calibration = p.calibration ? cml::parse_json_document(p.calibration, "stored calibration") : nlohmann::json();
  b.model.has_oot = p.has_oot;
  for (int i = 0; i < p.n_oot; i++) {
    b.model.oot_ts.emplace_back(p.oot_ts[i]);
    b.model.oot_raw.push_back(p.oot_raw[i]);
    b.model.oot_actual.push_back(p.oot_actual[i]);
  }
  b.model.bytes.assign(p.bytes, p.len);
  return b;
}

// Copies a checked bundle into plain structs allocated in the current memory context.
void from_bundle(const cml::Bundle& b, double weight, PlainBatch* p) {
  memset(p, 0, sizeof *p);
  MemoryContext cxt = CurrentMemoryContext;
  p->batch_id = copy_nothrow(cxt, b.batch.batch_id);
  p->symbol = copy_nothrow(cxt, b.batch.symbol);
  p->model_type = (int)b.batch.model_type;
  p->horizon = b.batch.forecast_horizon;
  p->training_samples = b.batch.training_samples;
  p->validation_samples = b.batch.validation_samples;
  const std::optional<double>* nums[7] = {&b.batch.rmse, &b.batch.mae, &b.batch.accuracy, &b.batch.baseline_rmse,
                                          &b.batch.shrinkage, &b.batch.skill_statistic, &b.batch.skill_p_value};
  for (int k = 0; k < 7; k++) {
    p->num_null[k] = !nums[k]->has_value();
    p->num[k] = nums[k]->value_or(0);
  }
  p->hyperparameters = b.batch.hyperparameters.is_null() ? nullptr : copy_nothrow(cxt, b.batch.hyperparameters.dump());
  p->feature_set_version_null = !b.batch.feature_set_version;
  p->feature_set_version = b.batch.feature_set_version.value_or(0);
  p->duration_ms_null = !b.batch.duration_ms;
  p->duration_ms = b.batch.duration_ms.value_or(0);
  p->calibration_pairs_null = !b.batch.calibration_pairs;
  p->calibration_pairs = b.batch.calibration_pairs.value_or(0);
  p->created_at = b.batch.created_at.empty() ? nullptr : copy_nothrow(cxt, b.batch.created_at);
  char* bytes = (char*)alloc_nothrow(b.model.bytes.size());
  std::memcpy(bytes, b.model.bytes.data(), b.model.bytes.size());
  p->bytes = bytes;
  p->len = b.model.bytes.size();
  p->sha256_hex = copy_nothrow(cxt, cml::sha256_hex(b.model.bytes));
  p->feature_names = copy_nothrow(cxt, nlohmann::json(b.model.feature_names).dump());
  p->model_feature_set_version = b.model.feature_set_version;
  p->calibration = b.model.calibration.is_null() ? nullptr : copy_nothrow(cxt, b.model.calibration.dump());
  p->has_oot = b.model.has_oot;
  p->n_oot = (int)b.model.oot_ts.size();
  p->oot_ts = (char**)alloc_nothrow(sizeof(char*) * b.model.oot_ts.size());
  p->oot_raw = (double*)alloc_nothrow(sizeof(double) * b.model.oot_ts.size());
  p->oot_actual = (double*)alloc_nothrow(sizeof(double) * b.model.oot_ts.size());
  for (int i = 0; i < p->n_oot; i++) {
    p->oot_ts[i] = copy_nothrow(cxt, b.model.oot_ts[i]);
    p->oot_raw[i] = b.model.oot_raw[i];
    p->oot_actual[i] = b.model.oot_actual[i];
  }
  p->weight = weight;
}

// ---- import: plain structs -> registry rows (PostgreSQL side) ---------------------------------------

void insert_batch(const char* schema, const PlainBatch& b) {
  // ids: a later ml_train numbers its batch_id with the next id, so the sequence moves past the
  // imported batch_id's number (xgb-BTCUSDT-h15-7 -> ids from 8 on) and never writes it again
  long long number = -1;
  cml::pg::guarded("ml_import_model", [&] { number = cml::batch_id_number(b.batch_id); });
  if (number > 0) {
    char* adv = psprintf("SELECT pg_catalog.setval(s, greatest($1, pg_catalog.nextval(s))) "
                         "FROM pg_catalog.pg_get_serial_sequence('%s.mltrainingbatches', 'id') s",
                         schema);
    Oid ta[1] = {INT8OID};
    Datum va[1] = {Int64GetDatum(number)};
    if (SPI_execute_with_args(adv, 1, ta, va, nullptr, false, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: moving the batch id sequence failed");
  }
  char* ins = psprintf(
      "INSERT INTO %s.mltrainingbatches (batch_id, symbol, model_type, training_samples, validation_samples, rmse, mae, accuracy, "
      "model_path, is_production, created_at, forecast_horizon, baseline_rmse, hyperparameters, feature_set_version, duration_ms, "
      "shrinkage, skill_statistic, skill_p_value, calibration_pairs) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'db://models/' || $1, false, coalesce($9::timestamp, pg_catalog.now()), $10, $11, $12::jsonb, "
      "$13, $14, $15, $16, $17, $18)",
      schema);
  Oid t[18] = {TEXTOID, TEXTOID, TEXTOID, INT4OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTOID, INT4OID,
               FLOAT8OID, TEXTOID, INT4OID, INT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT4OID};
  char nulls[19] = "                  ";
  Datum v[18];
  v[0] = CStringGetTextDatum(b.batch_id);
  v[1] = CStringGetTextDatum(b.symbol);
  v[2] = CStringGetTextDatum(cml::pg::kModelTypeNames[b.model_type]);
  v[3] = Int32GetDatum((int32)b.training_samples);
  v[4] = Int32GetDatum((int32)b.validation_samples);
  const int num_param[7] = {5, 6, 7, 10, 14, 15, 16};
  for (int k = 0; k < 7; k++) {
    v[num_param[k]] = Float8GetDatum(b.num[k]);
    if (b.num_null[k]) nulls[num_param[k]] = 'n';
  }
  v[8] = b.created_at ? CStringGetTextDatum(b.created_at) : (Datum)0;
  if (!b.created_at) nulls[8] = 'n';
  v[9] = Int32GetDatum(b.horizon);
  v[11] = b.hyperparameters ? CStringGetTextDatum(b.hyperparameters) : (Datum)0;
  if (!b.hyperparameters) nulls[11] = 'n';
  v[12] = Int32GetDatum(b.feature_set_version);
  if (b.feature_set_version_null) nulls[12] = 'n';
  v[13] = Int64GetDatum(b.duration_ms);
  if (b.duration_ms_null) nulls[13] = 'n';
  v[17] = Int32GetDatum(b.calibration_pairs);
  if (b.calibration_pairs_null) nulls[17] = 'n';
  if (SPI_execute_with_args(ins, 18, t, v, nulls, false, 0) != SPI_OK_INSERT || SPI_processed != 1)
    elog(ERROR, "cryptoml: registering the imported batch %s failed", b.batch_id);

  bytea* bytes = (bytea*)palloc(VARHDRSZ + b.len);
  SET_VARSIZE(bytes, VARHDRSZ + b.len);
  memcpy(VARDATA(bytes), b.bytes, b.len);
  Datum* ts = (Datum*)palloc(sizeof(Datum) * Max(b.n_oot, 1));
  Datum* raw = (Datum*)palloc(sizeof(Datum) * Max(b.n_oot, 1));
  Datum* act = (Datum*)palloc(sizeof(Datum) * Max(b.n_oot, 1));
  for (int i = 0; i < b.n_oot; i++) {
    ts[i] = CStringGetTextDatum(b.oot_ts[i]);
    raw[i] = Float8GetDatum(b.oot_raw[i]);
    act[i] = Float8GetDatum(b.oot_actual[i]);
  }
  // model_sha256 is the digest the bundle stated and the core checked against the bytes
  Oid tm[9] = {TEXTOID, BYTEAOID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID};
  Datum vm[9] = {CStringGetTextDatum(b.batch_id), PointerGetDatum(bytes), CStringGetTextDatum(b.feature_names),
                 Int32GetDatum(b.model_feature_set_version), b.calibration ? CStringGetTextDatum(b.calibration) : (Datum)0,
                 CStringGetTextDatum(b.sha256_hex),
                 b.has_oot ? PointerGetDatum(construct_array(ts, b.n_oot, TEXTOID, -1, false, TYPALIGN_INT)) : (Datum)0,
                 b.has_oot ? PointerGetDatum(construct_array(raw, b.n_oot, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)) : (Datum)0,
                 b.has_oot ? PointerGetDatum(construct_array(act, b.n_oot, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)) : (Datum)0};
  char nm[10] = "         ";
  if (!b.calibration) nm[4] = 'n';
  if (!b.has_oot) nm[6] = nm[7] = nm[8] = 'n';
  if (SPI_execute_with_args("INSERT INTO cryptoml_internal.models (batch_id, model, feature_names, feature_set_version, calibration, "
                            "model_sha256, oot_ts, oot_raw, oot_actual) "
                            "SELECT $1, $2, $3::jsonb, $4, $5::jsonb, pg_catalog.decode($6, 'hex'), $7::timestamp[], $8, $9 "
                            "WHERE pg_catalog.sha256($2) = pg_catalog.decode($6, 'hex')",
                            9, tm, vm, nm, false, 0) != SPI_OK_INSERT ||
      SPI_processed != 1)
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("storing the model bytes of %s failed: their SHA-256 differs", b.batch_id)));
}

}  // namespace

// ml_export_model(batch_id text) RETURNS jsonb
Datum ml_export_model(PG_FUNCTION_ARGS) {
  char* batch_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
  MemoryContext caller = CurrentMemoryContext;
  SPI_connect();
  PlainBatch* rows = (PlainBatch*)palloc0(sizeof(PlainBatch) * kMaxBatches);
  int n = read_batches(batch_id, rows);
  if (rows[0].model_type == (int)cml::ModelType::ensemble && n != 3)
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("ensemble %s has %d members in the registry", batch_id, n - 1),
                    errdetail("rule: an ensemble has two members")));
  char* text = nullptr;
  cml::pg::guarded("ml_export_model", [&] {
    cml::Bundle b = to_bundle(rows[0]);
    for (int i = 1; i < n; i++) {
      b.members.push_back(to_bundle(rows[i]));
      b.weights.push_back(rows[i].weight);
    }
    text = copy_nothrow(caller, cml::bundle_json(b));
  });
  // who read the model bytes
  char* audit = psprintf("{\"symbol\": \"%s\", \"horizon\": %d, \"model_type\": \"%s\", \"bytes\": %zu}", rows[0].symbol, rows[0].horizon,
                         cml::pg::kModelTypeNames[rows[0].model_type], rows[0].len);
  cml::pg::audit_event_immediate("model_export", batch_id, nullptr, audit);
  SPI_finish();
  PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

// ml_import_model(bundle jsonb, deploy boolean DEFAULT false) RETURNS mlTrainingBatches
Datum ml_import_model(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("bundle is NULL"), errdetail("rule: a bundle from ml_export_model")));
  Jsonb* j = PG_GETARG_JSONB_P(0);
  const bool deploy = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
  char* doc = JsonbToCString(nullptr, &j->root, VARSIZE(j));
  // every check of the bundle, before anything is read or written
  PlainBatch* rows = (PlainBatch*)palloc0(sizeof(PlainBatch) * kMaxBatches);
  int n = 0;
  cml::pg::guarded("ml_import_model", [&] {
    cml::Bundle b = cml::parse_bundle(doc);
    if (b.members.size() + 1 > (size_t)kMaxBatches) throw cml::InvalidParameter("bundle.members: too many members");
    for (size_t i = 0; i < b.members.size(); i++) from_bundle(b.members[i], b.weights[i], &rows[n++]);
    from_bundle(b, 1, &rows[n++]);  // the ensemble after its members (ensemble_members references both)
  });
  const PlainBatch& top = rows[n - 1];
  SPI_connect();
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("cryptoml is not installed in this database")));
  // no batch_id of the bundle may be registered already: an import adds, it never replaces
  for (int i = 0; i < n; i++) {
    char* sql = psprintf("SELECT symbol, forecast_horizon, model_type, created_at FROM %s.mltrainingbatches WHERE batch_id = $1", schema);
    Oid t1[1] = {TEXTOID};
    Datum v1[1] = {CStringGetTextDatum(rows[i].batch_id)};
    if (SPI_execute_with_args(sql, 1, t1, v1, nullptr, false, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: reading the registry failed");
    if (SPI_processed > 0)
      ereport(ERROR, (errcode(ERRCODE_UNIQUE_VIOLATION),
                      errmsg("batch_id \"%s\" already exists in this database%s", rows[i].batch_id,
                             i < n - 1 ? " (a member of the bundle's ensemble)" : ""),
                      errdetail("It is the %s %s model of %s h%s trained %s; rule: ml_import_model registers new batches only, "
                                "it never replaces one.",
                                SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
                                rows[i].batch_id, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
                                SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
                                SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4)),
                      errhint("Nothing was imported. Delete the existing batch first, or import into another database.")));
  }
  for (int i = 0; i < n; i++) insert_batch(schema, rows[i]);
  for (int i = 0; i < n - 1; i++) {
    Oid te[4] = {TEXTOID, TEXTOID, TEXTOID, FLOAT8OID};
    Datum ve[4] = {CStringGetTextDatum(top.batch_id), CStringGetTextDatum(rows[i].batch_id),
                   CStringGetTextDatum(cml::pg::kModelTypeNames[rows[i].model_type]), Float8GetDatum(rows[i].weight)};
    if (SPI_execute_with_args("INSERT INTO cryptoml_internal.ensemble_members (ensemble_batch_id, member_batch_id, model_type, weight) "
                              "VALUES ($1, $2, $3, $4)", 4, te, ve, nullptr, false, 0) != SPI_OK_INSERT)
      elog(ERROR, "cryptoml: storing the ensemble members failed");
  }
  Oid t1[1] = {TEXTOID};
  Datum v1[1] = {CStringGetTextDatum(top.batch_id)};
  if (deploy && SPI_execute_with_args(psprintf("SELECT %s.ml_deploy($1)", schema), 1, t1, v1, nullptr, false, 0) != SPI_OK_SELECT)
    elog(ERROR, "cryptoml: deploying the imported model failed");
  char* audit = psprintf("{\"symbol\": \"%s\", \"horizon\": %d, \"model_type\": \"%s\", \"deployed\": %s}", top.symbol, top.horizon,
                         cml::pg::kModelTypeNames[top.model_type], deploy ? "true" : "false");
  cml::pg::audit_event("model_import", top.batch_id, nullptr, audit);
  if (SPI_execute_with_args(psprintf("SELECT * FROM %s.mltrainingbatches WHERE batch_id = $1", schema), 1, t1, v1, nullptr, false, 1) !=
          SPI_OK_SELECT ||
      SPI_processed != 1)
    elog(ERROR, "cryptoml: reading the imported batch back failed");
  HeapTupleHeader result = SPI_returntuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
  SPI_finish();
  PG_RETURN_HEAPTUPLEHEADER(result);
}

// cryptoml_internal.model_predict(batch_id text, features float8[]) RETURNS float8[]: the stored
// model's prediction (raw % change) for each row of a rows x cols array (a one-dimensional array
// is one row), the rows taken as consecutive minutes; NULL features are missing values (NaN). A
// row without enough history for the model's sequence length gets NULL. For tests that compare
// the extension's predictions with another implementation's on the same rows.
Datum cml_model_predict(PG_FUNCTION_ARGS) {
  char* batch_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
  ArrayType* a = PG_GETARG_ARRAYTYPE_P(1);
  if (ARR_NDIM(a) > 2)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("features must be a rows x features array, got %d dimensions", ARR_NDIM(a))));
  Datum* vals;
  bool* nulls;
  int count;
  deconstruct_array(a, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &vals, &nulls, &count);
  const int rows = ARR_NDIM(a) == 2 ? ARR_DIMS(a)[0] : (count > 0 ? 1 : 0);
  const int cols = ARR_NDIM(a) == 2 ? ARR_DIMS(a)[1] : count;
  double* X = (double*)palloc(sizeof(double) * Max(count, 1));
  for (int i = 0; i < count; i++) X[i] = nulls[i] ? NAN : DatumGetFloat8(vals[i]);
  int* run = (int*)palloc(sizeof(int) * Max(rows, 1));
  for (int i = 0; i < rows; i++) run[i] = i + 1;
  double* out = (double*)palloc(sizeof(double) * Max(rows, 1));
  bool* out_null = (bool*)palloc(sizeof(bool) * Max(rows, 1));
  SPI_connect();
  cml::pg::BlobSet set;
  if (!cml::pg::fetch_model(batch_id, &set))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown batch_id \"%s\" (or its model bytes are missing)", quoted_id(batch_id))));
  cml::pg::guarded("model_predict", [&] {
    cml::Model m = cml::pg::build_model(set);
    if ((size_t)cols != m.num_features() && rows > 0)
      throw cml::InvalidParameter("features has " + std::to_string(cols) + " columns, the model reads " + std::to_string(m.num_features()),
                                  "rule: one column per feature of the model's feature set");
    std::vector<std::size_t> idx;
    for (int i = 0; i < rows; i++) {
      out_null[i] = run[i] < m.sequence_length();
      if (!out_null[i]) idx.push_back((std::size_t)i);
    }
    std::vector<double> p = m.predict(cml::FeatureRows{X, (std::size_t)rows, (std::size_t)cols, run}, idx);
    for (std::size_t k = 0; k < idx.size(); k++) out[idx[k]] = p[k];
  });
  SPI_finish();
  Datum* od = (Datum*)palloc(sizeof(Datum) * Max(rows, 1));
  for (int i = 0; i < rows; i++) od[i] = out_null[i] ? (Datum)0 : Float8GetDatum(out[i]);
  int dims[1] = {rows}, lbs[1] = {1};
  PG_RETURN_ARRAYTYPE_P(construct_md_array(od, out_null, 1, dims, lbs, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
