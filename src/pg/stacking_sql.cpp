// SQL face of the stacking combiner (src/core/stacking.hpp): the weights the core fits on members'
// out-of-time records as of a time, for tests and for users who want to see the rule at work
// (ml_train records the same fit in an ensemble's hyperparameters->'stacking').
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "stacking.hpp"

#include "guard.hpp"
#include "pg.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cml_stacking_fit);
}

namespace {

struct Elems {
  int n;
  Datum* values;
  bool* nulls;
};
Elems elems_of(ArrayType* a, Oid type, const char* name) {
  if (ARR_NDIM(a) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("%s must be a one-dimensional array, got %d dimensions", name, ARR_NDIM(a))));
  Elems e;
  int16 len;
  bool byval;
  char align;
  get_typlenbyvalalign(type, &len, &byval, &align);
  deconstruct_array(a, type, len, byval, align, &e.values, &e.nulls, &e.n);
  return e;
}

}  // namespace

// cryptoml_internal.stacking_fit(member integer[], ts timestamp[], raw float8[], actual float8[],
//   horizon integer, as_of timestamp) -> jsonb: one element per (member, minute) pair; members are
//   ordered by their number. The fit of stacking.hpp's stack_weights on the aligned pairs known as of
//   as_of, as stack_fit_json writes it. NULL elements are skipped (NULL raw or actual: NaN).
Datum cml_stacking_fit(PG_FUNCTION_ARGS) {
  Elems mem = elems_of(PG_GETARG_ARRAYTYPE_P(0), INT4OID, "member");
  Elems ts = elems_of(PG_GETARG_ARRAYTYPE_P(1), TIMESTAMPOID, "ts");
  Elems raw = elems_of(PG_GETARG_ARRAYTYPE_P(2), FLOAT8OID, "raw");
  Elems act = elems_of(PG_GETARG_ARRAYTYPE_P(3), FLOAT8OID, "actual");
  const int horizon = PG_GETARG_INT32(4);
  const Timestamp as_of = PG_GETARG_TIMESTAMP(5);
  if (mem.n != ts.n || mem.n != raw.n || mem.n != act.n)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                    errmsg("member, ts, raw and actual have %d, %d, %d and %d elements", mem.n, ts.n, raw.n, act.n),
                    errdetail("rule: one element of each per out-of-time pair")));
  if (horizon < 1)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("horizon must be >= 1, got %d", horizon)));
  if (TIMESTAMP_NOT_FINITE(as_of))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("as_of must be a finite timestamp")));
  int n = 0;
  int* m = (int*)palloc(sizeof(int) * Max(mem.n, 1));
  int64* t = (int64*)palloc(sizeof(int64) * Max(mem.n, 1));
  double* r = (double*)palloc(sizeof(double) * Max(mem.n, 1));
  double* a = (double*)palloc(sizeof(double) * Max(mem.n, 1));
  for (int i = 0; i < mem.n; i++) {
    if (mem.nulls[i] || ts.nulls[i]) continue;
    Timestamp x = DatumGetTimestamp(ts.values[i]);
    if (TIMESTAMP_NOT_FINITE(x)) continue;
    m[n] = DatumGetInt32(mem.values[i]);
    t[n] = cml::pg::minute_of(x);
    r[n] = raw.nulls[i] ? NAN : DatumGetFloat8(raw.values[i]);
    a[n] = act.nulls[i] ? NAN : DatumGetFloat8(act.values[i]);
    n++;
  }
  const int64 as_of_min = cml::pg::minute_of(as_of);
  char* out = nullptr;
  cml::pg::guarded("stacking_fit", [&] {
    std::vector<int> ids(m, m + n);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (ids.empty()) throw cml::InvalidParameter("stacking_fit: no pair", "rule: at least one member's pair");
    std::vector<std::vector<cml::OutcomePair>> members(ids.size());
    for (int i = 0; i < n; i++) {
      const size_t k = (size_t)(std::lower_bound(ids.begin(), ids.end(), m[i]) - ids.begin());
      members[k].push_back(cml::OutcomePair{t[i], r[i], a[i]});
    }
    out = cml::pg::pstrdup_nothrow(cml::stack_fit_json(cml::stack_weights(cml::align_records(members), horizon, as_of_min)));
  });
  PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out)));
}
