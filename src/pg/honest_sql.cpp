// SQL faces of the honest-forecast core (src/core/honest.hpp), for the SQL functions that state
// or judge forecasts: the reliability summary of stated confidences (ml_calibration,
// ml_backtest_calibration, ml_health), the conformal interval of a volatility forecast
// (ml_forecast_all), and the statement a record gives a raw prediction (what ml_forecast states,
// for tests and for users who want to see the rule at work).
#include <cmath>
#include <vector>

#include "honest.hpp"

#include "config_access.hpp"
#include "guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(cml_reliability_summary);
PG_FUNCTION_INFO_V1(cml_conformal_interval);
PG_FUNCTION_INFO_V1(cml_forecast_statement);
}

namespace {

// The elements of a one-dimensional array of a fixed-width type (NULL elements flagged).
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

void same_length(const Elems& a, const Elems& b, const char* an, const char* bn) {
  if (a.n != b.n)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("%s has %d elements and %s %d", an, a.n, bn, b.n),
                    errdetail("rule: one element of each per forecast")));
}

int64 count_arg(FunctionCallInfo fcinfo, int i, const char* name) {
  int64 v = PG_GETARG_INT64(i);
  if (v < 0) ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s must be >= 0, got " INT64_FORMAT, name, v)));
  return v;
}

HeapTupleHeader record_of(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "cryptoml: expected a record result");
  desc = BlessTupleDesc(desc);
  return heap_form_tuple(desc, values, nulls)->t_data;
}

}  // namespace

// cryptoml_internal.reliability_summary(confidence float8[], hit boolean[], min_bucket integer)
//   -> (predictions, ece, brier, brier_skill, largest_gap): NULL elements of either are skipped.
Datum cml_reliability_summary(PG_FUNCTION_ARGS) {
  Elems c = elems_of(PG_GETARG_ARRAYTYPE_P(0), FLOAT8OID, "confidence");
  Elems h = elems_of(PG_GETARG_ARRAYTYPE_P(1), BOOLOID, "hit");
  same_length(c, h, "confidence", "hit");
  int min_bucket = PG_GETARG_INT32(2);
  if (min_bucket < 1)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("min_bucket must be >= 1, got %d", min_bucket)));
  double* conf = (double*)palloc(sizeof(double) * Max(c.n, 1));
  bool* hit = (bool*)palloc(sizeof(bool) * Max(c.n, 1));
  int n = 0;
  for (int i = 0; i < c.n; i++)
    if (!c.nulls[i] && !h.nulls[i]) {
      conf[n] = DatumGetFloat8(c.values[i]);
      hit[n++] = DatumGetBool(h.values[i]);
    }
  cml::Reliability r;
  cml::pg::guarded("reliability_summary", [&] {
    r = cml::reliability(std::vector<double>(conf, conf + n), std::vector<bool>(hit, hit + n), (std::size_t)min_bucket);
  });
  Datum v[5] = {Int64GetDatum((int64)r.n), Float8GetDatum(r.ece), Float8GetDatum(r.brier), Float8GetDatum(r.brier_skill),
                Float8GetDatum(r.largest_gap)};
  bool nulls[5] = {false, r.n == 0, r.n == 0, r.n == 0, std::isnan(r.largest_gap)};
  PG_RETURN_HEAPTUPLEHEADER(record_of(fcinfo, v, nulls));
}

// cryptoml_internal.conformal_interval(center float8, residuals float8[], stated bigint, missed
//   bigint) -> (lower, upper): center -/+ the conformal quantile of |residuals| (NULL elements
//   skipped) at the ACI level after `stated` intervals of which `missed` missed, with
//   inference.intervalCoverage and inference.intervalAdaptRate. NULL bounds without a residual.
Datum cml_conformal_interval(PG_FUNCTION_ARGS) {
  double center = PG_GETARG_FLOAT8(0);
  Elems e = elems_of(PG_GETARG_ARRAYTYPE_P(1), FLOAT8OID, "residuals");
  int64 stated = count_arg(fcinfo, 2, "stated"), missed = count_arg(fcinfo, 3, "missed");
  if (missed > stated)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("missed (" INT64_FORMAT ") exceeds stated (" INT64_FORMAT ")", missed, stated),
                    errdetail("rule: missed <= stated")));
  const cml::HonestSettings hs = cml::pg::config_inference().honest;
  double* abs_res = (double*)palloc(sizeof(double) * Max(e.n, 1));
  int n = 0;
  for (int i = 0; i < e.n; i++)
    if (!e.nulls[i] && std::isfinite(DatumGetFloat8(e.values[i]))) abs_res[n++] = std::fabs(DatumGetFloat8(e.values[i]));
  double q = NAN;
  cml::pg::guarded("conformal_interval", [&] {
    double alpha = std::min(1.0, std::max(0.0, cml::aci_alpha(1 - hs.coverage, hs.aci_gamma, (size_t)stated, (size_t)missed)));
    q = cml::conformal_quantile(std::vector<double>(abs_res, abs_res + n), alpha);
  });
  Datum v[2] = {Float8GetDatum(center - q), Float8GetDatum(center + q)};
  bool nulls[2] = {!std::isfinite(q) || !std::isfinite(center), !std::isfinite(q) || !std::isfinite(center)};
  PG_RETURN_HEAPTUPLEHEADER(record_of(fcinfo, v, nulls));
}

// cryptoml_internal.forecast_statement(raw float8, horizon integer, at timestamp, ts timestamp[],
//   raws float8[], actuals float8[], stated bigint, missed bigint) -> (served, confidence, lower,
//   upper, skilled, shrinkage, skill_statistic, skill_p_value, pairs): what a model whose record is
//   (ts, raws, actuals) states at bar `at` for a raw prediction, with the inference.* settings;
//   pairs not known at `at` (ts + horizon > at) are left out, as ml_forecast leaves them out.
Datum cml_forecast_statement(PG_FUNCTION_ARGS) {
  for (int i = 0; i < 8; i++)
    if (PG_ARGISNULL(i)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("argument %d is NULL", i + 1)));
  double raw = PG_GETARG_FLOAT8(0);
  int horizon = PG_GETARG_INT32(1);
  if (horizon < 1) ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("horizon must be >= 1 minute, got %d", horizon)));
  Timestamp at = PG_GETARG_TIMESTAMP(2);
  Elems t = elems_of(PG_GETARG_ARRAYTYPE_P(3), TIMESTAMPOID, "ts");
  Elems r = elems_of(PG_GETARG_ARRAYTYPE_P(4), FLOAT8OID, "raws");
  Elems a = elems_of(PG_GETARG_ARRAYTYPE_P(5), FLOAT8OID, "actuals");
  same_length(t, r, "ts", "raws");
  same_length(t, a, "ts", "actuals");
  int64 stated = count_arg(fcinfo, 6, "stated"), missed = count_arg(fcinfo, 7, "missed");
  if (missed > stated)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("missed (" INT64_FORMAT ") exceeds stated (" INT64_FORMAT ")", missed, stated),
                    errdetail("rule: missed <= stated")));
  cml::OutcomePair* pairs = (cml::OutcomePair*)palloc(sizeof(cml::OutcomePair) * Max(t.n, 1));
  int n = 0;
  const int64 at_minute = cml::pg::minute_of(at);
  for (int i = 0; i < t.n; i++) {
    if (t.nulls[i] || r.nulls[i] || a.nulls[i]) continue;
    int64 m = cml::pg::minute_of(DatumGetTimestamp(t.values[i]));
    if (m + horizon > at_minute) continue;
    pairs[n++] = cml::OutcomePair{m, DatumGetFloat8(r.values[i]), DatumGetFloat8(a.values[i])};
  }
  cml::HonestSettings hs = cml::pg::config_inference().honest;
  hs.horizon = horizon;
  cml::Statement st;
  cml::Calibration c;
  cml::pg::guarded("forecast_statement", [&] {
    c = cml::calibrate(std::vector<cml::OutcomePair>(pairs, pairs + n), (size_t)stated, (size_t)missed, hs);
    st = cml::state(c, raw);
  });
  Datum v[9] = {Float8GetDatum(st.served), Float8GetDatum(st.confidence), Float8GetDatum(st.lower), Float8GetDatum(st.upper),
                BoolGetDatum(st.skilled), Float8GetDatum(c.shrink), Float8GetDatum(c.skill.statistic),
                Float8GetDatum(c.skill.p_value), Int64GetDatum((int64)c.pairs)};
  bool nulls[9] = {false, false, !std::isfinite(st.lower), !std::isfinite(st.upper), false, false,
                   !std::isfinite(c.skill.statistic), false, false};
  PG_RETURN_HEAPTUPLEHEADER(record_of(fcinfo, v, nulls));
}
