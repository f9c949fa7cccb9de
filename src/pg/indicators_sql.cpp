// SQL array functions over the indicator kernels: ml_rsi, ml_macd, ml_bollinger, ml_stochastic,
// ml_volatility. IMMUTABLE STRICT PARALLEL SAFE, full float8 precision, NULL where no value exists.
#include <algorithm>
#include <cmath>
#include <vector>

#include "indicators.hpp"

#include "guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(ml_rsi);
PG_FUNCTION_INFO_V1(ml_macd);
PG_FUNCTION_INFO_V1(ml_bollinger);
PG_FUNCTION_INFO_V1(ml_stochastic);
PG_FUNCTION_INFO_V1(ml_volatility);
}

namespace {

struct Series {
  int n;
  double* v;
};

// A one-dimensional float8[] without NULL elements, copied into palloc'd memory.
Series read_series(ArrayType* a, const char* name) {
  if (ARR_NDIM(a) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("%s must be a one-dimensional array, got %d dimensions", name, ARR_NDIM(a))));
  Datum* elems;
  bool* nulls;
  int n;
  deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
  Series s{n, (double*)palloc(sizeof(double) * Max(n, 1))};
  for (int i = 0; i < n; i++) {
    if (nulls[i])
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s[%d] is NULL", name, i + 1),
                      errdetail("rule: series may not contain NULL elements")));
    s.v[i] = DatumGetFloat8(elems[i]);
  }
  return s;
}

Datum make_array(const double* v, int n) {
  Datum* d = (Datum*)palloc(sizeof(Datum) * Max(n, 1));
  bool* nulls = (bool*)palloc(sizeof(bool) * Max(n, 1));
  for (int i = 0; i < n; i++) {
    nulls[i] = std::isnan(v[i]);
    d[i] = Float8GetDatum(nulls[i] ? 0.0 : v[i]);
  }
  int dims[1] = {n}, lbs[1] = {1};
  if (n == 0) return PointerGetDatum(construct_empty_array(FLOAT8OID));
  return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

double* out_buffer(int n, int k) { return (double*)palloc(sizeof(double) * Max(n * k, 1)); }

void copy_out(const std::vector<double>& v, double* out) { std::copy(v.begin(), v.end(), out); }

Datum make_record(FunctionCallInfo fcinfo, const double* out, int n, int k) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "cryptoml: expected a composite result");
  desc = BlessTupleDesc(desc);
  Datum values[3];
  bool nulls[3] = {false, false, false};
  for (int i = 0; i < k; i++) values[i] = make_array(out + (size_t)i * n, n);
  return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

}  // namespace

Datum ml_rsi(PG_FUNCTION_ARGS) {
  Series c = read_series(PG_GETARG_ARRAYTYPE_P(0), "close");
  int period = PG_GETARG_INT32(1);
  double* out = out_buffer(c.n, 1);
  cml::pg::guarded("ml_rsi", [&] { copy_out(cml::rsi(std::vector<double>(c.v, c.v + c.n), period), out); });
  PG_RETURN_DATUM(make_array(out, c.n));
}

Datum ml_volatility(PG_FUNCTION_ARGS) {
  Series c = read_series(PG_GETARG_ARRAYTYPE_P(0), "close");
  int window = PG_GETARG_INT32(1);
  double* out = out_buffer(c.n, 1);
  cml::pg::guarded("ml_volatility", [&] { copy_out(cml::volatility(std::vector<double>(c.v, c.v + c.n), window), out); });
  PG_RETURN_DATUM(make_array(out, c.n));
}

Datum ml_macd(PG_FUNCTION_ARGS) {
  Series c = read_series(PG_GETARG_ARRAYTYPE_P(0), "close");
  int fast = PG_GETARG_INT32(1), slow = PG_GETARG_INT32(2), signal = PG_GETARG_INT32(3);
  double* out = out_buffer(c.n, 3);
  cml::pg::guarded("ml_macd", [&] {
    cml::MacdSeries m = cml::macd(std::vector<double>(c.v, c.v + c.n), fast, slow, signal);
    copy_out(m.macd, out);
    copy_out(m.signal, out + c.n);
    copy_out(m.hist, out + 2 * (size_t)c.n);
  });
  PG_RETURN_DATUM(make_record(fcinfo, out, c.n, 3));
}

Datum ml_bollinger(PG_FUNCTION_ARGS) {
  Series c = read_series(PG_GETARG_ARRAYTYPE_P(0), "close");
  int period = PG_GETARG_INT32(1);
  double k = PG_GETARG_FLOAT8(2);
  double* out = out_buffer(c.n, 3);
  cml::pg::guarded("ml_bollinger", [&] {
    cml::BollingerSeries b = cml::bollinger(std::vector<double>(c.v, c.v + c.n), period, k);
    copy_out(b.upper, out);
    copy_out(b.middle, out + c.n);
    copy_out(b.lower, out + 2 * (size_t)c.n);
  });
  PG_RETURN_DATUM(make_record(fcinfo, out, c.n, 3));
}

Datum ml_stochastic(PG_FUNCTION_ARGS) {
  Series h = read_series(PG_GETARG_ARRAYTYPE_P(0), "high");
  Series l = read_series(PG_GETARG_ARRAYTYPE_P(1), "low");
  Series c = read_series(PG_GETARG_ARRAYTYPE_P(2), "close");
  int k = PG_GETARG_INT32(3), d = PG_GETARG_INT32(4);
  for (int i = 0; i < Min(h.n, l.n); i++)
    if (h.v[i] < l.v[i])
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("high[%d] (%g) is below low[%d] (%g)", i + 1, h.v[i], i + 1, l.v[i]),
                      errdetail("rule: high >= low for every bar")));
  double* out = out_buffer(c.n, 2);
  cml::pg::guarded("ml_stochastic", [&] {
    cml::StochasticSeries s = cml::stochastic(std::vector<double>(h.v, h.v + h.n), std::vector<double>(l.v, l.v + l.n),
                                              std::vector<double>(c.v, c.v + c.n), k, d);
    copy_out(s.k, out);
    copy_out(s.d, out + c.n);
  });
  PG_RETURN_DATUM(make_record(fcinfo, out, c.n, 2));
}
