// See registry.hpp.
#include "registry.hpp"

#include <string>
#include <utility>
#include <vector>

#include "log.hpp"

namespace cml {
namespace pg {

const char* const kModelTypeNames[3] = {"xgboost", "lstm", "ensemble"};

bool fetch_model(const char* batch_id, BlobSet* out) {
  Oid t1[1] = {TEXTOID};
  Datum v1[1] = {CStringGetTextDatum(batch_id)};
  const char* schema = cml::pg::extension_schema();
  // The bytes are checked against the checksum recorded when they were stored, for every model type.
  char* sql = psprintf("SELECT b.model_type, m.model, coalesce(e.member_batch_id, ''), coalesce(e.weight, 0), "
                       "coalesce(mb.model_type, ''), mm.model, m.model_sha256 = pg_catalog.sha256(m.model), "
                       "mm.model_sha256 IS NULL OR mm.model_sha256 = pg_catalog.sha256(mm.model) "
                       "FROM %s.mltrainingbatches b JOIN cryptoml_internal.models m USING (batch_id) "
                       "LEFT JOIN cryptoml_internal.ensemble_members e ON e.ensemble_batch_id = b.batch_id "
                       "LEFT JOIN %s.mltrainingbatches mb ON mb.batch_id = e.member_batch_id "
                       "LEFT JOIN cryptoml_internal.models mm ON mm.batch_id = e.member_batch_id "
                       "WHERE b.batch_id = $1 ORDER BY e.model_type DESC", schema, schema);
  // not read-only: sees a model this statement has just stored (an ensemble member trained first)
  if (SPI_execute_with_args(sql, 1, t1, v1, nullptr, false, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: reading a model failed");
  if (SPI_processed == 0) return false;
  auto type_of = [](const char* name) -> int {
    for (int t = 0; t < 3; t++)
      if (strcmp(name, kModelTypeNames[t]) == 0) return t;
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("unknown model_type \"%s\" in the registry", name)));
    return 0;
  };
  bool isnull;
  for (uint64 r = 0; r < SPI_processed; r++)
    for (int col = 7; col <= 8; col++)
      if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, col, &isnull)))
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("the stored model bytes of %s do not match the checksum recorded when they were stored",
                               col == 7 ? batch_id : SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3)),
                        errdetail("rule: cryptoml_internal.models.model_sha256 = sha256(model); the model is not used"),
                        errhint("Restore the model from a backup, or train a new one.")));
  out->n = 0;
  Blob& top = out->items[out->n++];
  top.batch_id = pstrdup(batch_id);
  top.type = type_of(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
  bytea* b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
  top.bytes = VARDATA_ANY(b);
  top.len = VARSIZE_ANY_EXHDR(b);
  top.weight = 1;
  if (top.type != (int)cml::ModelType::ensemble) return true;
  for (uint64 r = 0; r < SPI_processed && out->n < 3; r++) {
    char* member = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3);
    Datum mb = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 6, &isnull);
    if (member[0] == '\0') continue;
    if (isnull)
      ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("ensemble %s: the model bytes of member %s are missing", batch_id, member)));
    Blob& m = out->items[out->n++];
    m.batch_id = member;
    m.type = type_of(SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 5));
    m.weight = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 4, &isnull));
    bytea* mbytes = DatumGetByteaPP(mb);
    m.bytes = VARDATA_ANY(mbytes);
    m.len = VARSIZE_ANY_EXHDR(mbytes);
  }
  return true;
}

// C++: a Model from fetched blobs.
cml::Model build_model(const BlobSet& s) {
  const Blob& top = s.items[0];
  if (top.type != (int)cml::ModelType::ensemble) return cml::Model::load((cml::ModelType)top.type, std::string(top.bytes, top.len));
  std::vector<std::pair<cml::Model, double>> members;
  for (int i = 1; i < s.n; i++)
    members.emplace_back(cml::Model::load((cml::ModelType)s.items[i].type, std::string(s.items[i].bytes, s.items[i].len)),
                         s.items[i].weight);
  return cml::Model::ensemble(std::move(members));
}

}  // namespace pg
}  // namespace cml
