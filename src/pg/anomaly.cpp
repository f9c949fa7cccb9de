// cryptoml_internal.anomaly_scores: the SQL face of core/anomaly.* (issue 17). ml_detect_anomalies
// (extension/cryptoml.sql) reads the bars and the market index with SQL, calls this once per
// symbol and stores what it returns. Arrays in, rows out; no SPI.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "anomaly.hpp"

#include "guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(cml_anomaly_scores);
}

namespace {

// A one-dimensional array of n elements (NULL elements become NaN); the first call fixes n.
double* read_doubles(ArrayType* a, const char* name, int* n) {
  if (ARR_NDIM(a) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("%s must be a one-dimensional array", name)));
  Datum* elems;
  bool* nulls;
  int k;
  deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &k);
  if (k != *n)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s has %d elements, %d expected", name, k, *n),
                    errdetail("rule: every array holds one element per bar")));
  double* v = (double*)palloc(sizeof(double) * Max(k, 1));
  for (int i = 0; i < k; i++) v[i] = nulls[i] ? NAN : DatumGetFloat8(elems[i]);
  return v;
}

}  // namespace

// anomaly_scores(ts timestamp[], high, low, close, volume, index_return float8[], first_new integer,
// "window" integer, threshold float8, all_rows boolean): one row per scored bar from first_new
// (1-based) on: only the anomalous ones unless all_rows.
Datum cml_anomaly_scores(PG_FUNCTION_ARGS) {
  for (int i = 0; i < 10; i++)
    if (PG_ARGISNULL(i))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("anomaly_scores: argument %d is NULL", i + 1)));
  ArrayType* ts_arr = PG_GETARG_ARRAYTYPE_P(0);
  if (ARR_NDIM(ts_arr) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("ts must be a one-dimensional array")));
  Datum* ts_elems;
  bool* ts_nulls;
  int n;
  deconstruct_array(ts_arr, TIMESTAMPOID, sizeof(Timestamp), true, TYPALIGN_DOUBLE, &ts_elems, &ts_nulls, &n);
  int64* minute = (int64*)palloc(sizeof(int64) * Max(n, 1));
  Timestamp* ts = (Timestamp*)palloc(sizeof(Timestamp) * Max(n, 1));
  for (int i = 0; i < n; i++) {
    if (ts_nulls[i]) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("ts[%d] is NULL", i + 1)));
    ts[i] = DatumGetTimestamp(ts_elems[i]);
    if (TIMESTAMP_NOT_FINITE(ts[i])) ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("ts[%d] is not finite", i + 1)));
    int64 q = ts[i] / USECS_PER_MINUTE;
    if (ts[i] % USECS_PER_MINUTE < 0) q--;  // floor
    minute[i] = q;
  }
  double* high = read_doubles(PG_GETARG_ARRAYTYPE_P(1), "high", &n);
  double* low = read_doubles(PG_GETARG_ARRAYTYPE_P(2), "low", &n);
  double* close = read_doubles(PG_GETARG_ARRAYTYPE_P(3), "close", &n);
  double* volume = read_doubles(PG_GETARG_ARRAYTYPE_P(4), "volume", &n);
  double* index_return = read_doubles(PG_GETARG_ARRAYTYPE_P(5), "index_return", &n);
  const int32 first_new = PG_GETARG_INT32(6);
  const int32 window = PG_GETARG_INT32(7);
  const float8 threshold = PG_GETARG_FLOAT8(8);
  const bool all_rows = PG_GETARG_BOOL(9);
  if (first_new < 1)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("first_new must be at least 1, not %d", first_new)));

  // C++: the scores, copied into palloc'd C arrays.
  int m = 0;
  int* rows = nullptr;
  double* score = nullptr;
  bool* anomalous = nullptr;
  unsigned* kinds = nullptr;
  char** detail = nullptr;
  cml::pg::guarded("anomaly_scores", [&] {
    cml::AnomalyBars b;
    b.minute = reinterpret_cast<const int64_t*>(minute);
    b.high = high;
    b.low = low;
    b.close = close;
    b.volume = volume;
    b.index_return = index_return;
    b.n = (std::size_t)n;
    cml::AnomalySettings st;
    st.window = window;
    st.threshold = threshold;
    const std::vector<cml::AnomalyScore> v = cml::score_anomalies(b, (std::size_t)first_new - 1, st);
    std::size_t keep = 0;
    for (const auto& s : v) keep += all_rows || s.anomalous;
    auto alloc = [](std::size_t bytes) {
      void* p = MemoryContextAllocExtended(CurrentMemoryContext, std::max<std::size_t>(bytes, 1), MCXT_ALLOC_NO_OOM);
      if (p == nullptr) throw std::bad_alloc();
      return p;
    };
    rows = (int*)alloc(sizeof(int) * keep);
    score = (double*)alloc(sizeof(double) * keep);
    anomalous = (bool*)alloc(sizeof(bool) * keep);
    kinds = (unsigned*)alloc(sizeof(unsigned) * keep);
    detail = (char**)alloc(sizeof(char*) * keep);
    for (const auto& s : v) {
      if (!(all_rows || s.anomalous)) continue;
      rows[m] = (int)s.row;
      score[m] = s.score;
      anomalous[m] = s.anomalous;
      kinds[m] = s.kinds;
      detail[m] = cml::pg::pstrdup_nothrow(cml::anomaly_detail_json(s));
      m++;
    }
  });

  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  for (int k = 0; k < m; k++) {
    Datum names[cml::kAnomalyFeatures];
    int nk = 0;
    for (int f = 0; f < cml::kAnomalyFeatures; f++)
      if (kinds[k] & (1u << f)) names[nk++] = CStringGetTextDatum(cml::anomaly_feature_name(f));
    Datum v[5];
    bool nulls[5] = {false, false, false, false, false};
    v[0] = TimestampGetDatum(ts[rows[k]]);
    v[1] = Float8GetDatum(score[k]);
    v[2] = BoolGetDatum(anomalous[k]);
    v[3] = PointerGetDatum(nk > 0 ? construct_array(names, nk, TEXTOID, -1, false, TYPALIGN_INT) : construct_empty_array(TEXTOID));
    v[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(detail[k]));
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
  }
  return (Datum)0;
}
