// ml_build_samples: training samples (mlTrainingSamples) from rollingChartData, through the
// versioned feature set of src/core/features.* that live forecasts use too.
//
// Per symbol: read its bars once, build features for the bars after the last stored sample of each
// horizon (or from `since`), pair them with targets where the bar exactly `horizon` minutes later
// exists, and insert with ON CONFLICT DO NOTHING on (symbol, forecast_horizon, bar_timestamp).
// The samples table is its own resume point: a killed run rolls back, and the next run starts
// after the last committed sample. Each (symbol, horizon) done is recorded in recoveryState.
#include <cmath>
#include <string>
#include <vector>

#include "features.hpp"

#include "config_access.hpp"
#include "guard.hpp"
#include "progress.hpp"
#include "log.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/json.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(ml_build_samples);
PG_FUNCTION_INFO_V1(cml_features_to_vector);
}

namespace {

constexpr int64 kUsecPerMinute = INT64CONST(60000000);

// A symbol's bars, palloc'd (plain arrays: the frame that fills them runs SPI).
struct Bars {
  int n;
  Timestamp* ts;
  double *open, *high, *low, *close, *volume;
};

// Allocates in the current memory context (SPI_execute leaves it unchanged).
Bars read_bars(const char* schema, const char* symbol) {
  char* sql = psprintf("SELECT timestamp, open::float8, high::float8, low::float8, close::float8, volume::float8 "
                       "FROM %s.rollingchartdata WHERE symbol = $1 ORDER BY timestamp", schema);
  Oid types[1] = {TEXTOID};
  Datum values[1] = {CStringGetTextDatum(symbol)};
  if (SPI_execute_with_args(sql, 1, types, values, nullptr, true, 0) != SPI_OK_SELECT)
    elog(ERROR, "cryptoml: reading the bars of %s failed", symbol);
  Bars b;
  b.n = (int)SPI_processed;
  size_t bytes = sizeof(double) * Max(b.n, 1);
  b.ts = (Timestamp*)palloc(sizeof(Timestamp) * Max(b.n, 1));
  double** cols[5] = {&b.open, &b.high, &b.low, &b.close, &b.volume};
  for (double** c : cols) *c = (double*)palloc(bytes);
  for (int i = 0; i < b.n; i++) {
    HeapTuple row = SPI_tuptable->vals[i];
    bool isnull;
    b.ts[i] = DatumGetTimestamp(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
    for (int k = 0; k < 5; k++) {
      Datum d = SPI_getbinval(row, SPI_tuptable->tupdesc, 2 + k, &isnull);
      (*cols[k])[i] = isnull ? NAN : DatumGetFloat8(d);
    }
  }
  SPI_freetuptable(SPI_tuptable);
  return b;
}

// First index whose bar is after `after` (binary search).
int first_after(const Bars& b, Timestamp after) {
  int lo = 0, hi = b.n;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (b.ts[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

Timestamp last_sample(const char* schema, const char* symbol, int horizon) {
  char* sql = psprintf("SELECT max(bar_timestamp) FROM %s.mltrainingsamples WHERE symbol = $1 AND forecast_horizon = $2", schema);
  Oid types[2] = {TEXTOID, INT4OID};
  Datum values[2] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon)};
  if (SPI_execute_with_args(sql, 2, types, values, nullptr, true, 1) != SPI_OK_SELECT) elog(ERROR, "cryptoml: SPI failed");
  bool isnull;
  Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  return isnull ? DT_NOBEGIN : DatumGetTimestamp(d);
}

void append_number(StringInfo s, double x) {
  if (std::isnan(x) || !std::isfinite(x)) appendStringInfoString(s, "null");
  else appendStringInfo(s, "%.17g", x);
}

}  // namespace

Datum ml_build_samples(PG_FUNCTION_ARGS) {
  const char* only = PG_ARGISNULL(0) ? nullptr : cml::pg::symbol_arg(PG_GETARG_TEXT_PP(0));
  Timestamp since = PG_ARGISNULL(2) ? DT_NOBEGIN : PG_GETARG_TIMESTAMP(2);
  int horizons[64];
  int nh = cml::pg::config_training_horizons(horizons, 64);
  if (!PG_ARGISNULL(1)) {
    int h = PG_GETARG_INT32(1);
    bool configured = false;
    for (int i = 0; i < nh; i++) configured |= horizons[i] == h;
    if (!configured) {
      StringInfoData list;
      initStringInfo(&list);
      for (int i = 0; i < nh; i++) appendStringInfo(&list, "%s%d", i ? ", " : "", horizons[i]);
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("horizon %d is not a training horizon", h),
                      errdetail("rule: horizon must be one of training.forecastHorizons: %s", list.data),
                      errhint("Add it with ml_config_set('training.forecastHorizons', ...).")));
    }
    horizons[0] = h;
    nh = 1;
  }
  if (!PG_ARGISNULL(2) && TIMESTAMP_NOT_FINITE(since))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("since must be a finite timestamp or NULL")));
  const cml::IndicatorParams& params = cml::pg::config_indicator_params();

  SPI_connect();
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) elog(ERROR, "cryptoml: extension schema not found");
  char* list_sql = psprintf("SELECT DISTINCT symbol::text FROM %s.rollingchartdata %s ORDER BY 1", schema,
                            only ? "WHERE symbol = $1" : "");
  Oid t1[1] = {TEXTOID};
  Datum v1[1] = {only ? CStringGetTextDatum(only) : (Datum)0};
  SPI_execute_with_args(list_sql, only ? 1 : 0, t1, v1, nullptr, true, 0);
  int nsymbols = (int)SPI_processed;
  if (only != nullptr && nsymbols == 0)
    ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("symbol \"%s\" has no bars in rollingChartData", only)));
  char** symbols = (char**)SPI_palloc(sizeof(char*) * Max(nsymbols, 1));
  for (int i = 0; i < nsymbols; i++) symbols[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

  const std::vector<std::string>* names = nullptr;
  cml::pg::guarded("ml_build_samples", [&] { names = &cml::feature_names(); });
  int nf = (int)names->size();
  char* insert_sql = psprintf(
      "INSERT INTO %s.mltrainingsamples (symbol, features, target, forecast_horizon, bar_timestamp, metadata, feature_vector) "
      "SELECT $1, u.f::jsonb, u.t, $2, u.ts, jsonb_build_object('feature_set_version', %d, 'source', 'ml_build_samples', "
      "'indicator_params', '%s'::jsonb), $6[(u.i::int - 1) * %d + 1 : u.i::int * %d] "
      "FROM unnest($3::text[], $4::float8[], $5::timestamp[]) WITH ORDINALITY AS u(f, t, ts, i) "
      "ON CONFLICT (symbol, forecast_horizon, bar_timestamp) DO NOTHING",
      schema, cml::kFeatureSetVersion,
      psprintf("{\"rsiPeriod\": %d, \"macdFast\": %d, \"macdSlow\": %d, \"macdSignal\": %d, \"bollingerPeriod\": %d, "
               "\"bollingerStdDev\": %.17g, \"stochasticK\": %d, \"stochasticD\": %d, \"volatilityWindow\": %d}",
               params.rsi_period, params.macd_fast, params.macd_slow, params.macd_signal, params.bb_period, params.bb_k,
               params.stoch_k, params.stoch_d, params.vol_window), nf, nf);

  // One symbol's arrays, and one horizon's JSON texts, live in contexts reset as they are done.
  MemoryContext symbol_cxt = AllocSetContextCreate(CurrentMemoryContext, "cryptoml samples symbol", ALLOCSET_DEFAULT_SIZES);
  MemoryContext horizon_cxt = AllocSetContextCreate(CurrentMemoryContext, "cryptoml samples horizon", ALLOCSET_DEFAULT_SIZES);
  char* checkpoint_sql = psprintf("INSERT INTO %s.recoverystate (service_name, operation_id, state_data, checkpoint_type) "
                                  "VALUES ('samples', $1, $2::jsonb, 'success')", schema);
  int64 total = 0;
  cml::pg::progress_begin("build_samples", nsymbols == 1 ? symbols[0] : nullptr, nsymbols);
  for (int si = 0; si < nsymbols; si++) {
    CHECK_FOR_INTERRUPTS();
    const char* symbol = symbols[si];
    cml::pg::progress_phase(psprintf("symbol %s", symbol), si);
    MemoryContextReset(symbol_cxt);
    MemoryContext outer = MemoryContextSwitchTo(symbol_cxt);
    Bars b = read_bars(schema, symbol);
    // Where each horizon starts: after its last sample, and not before `since`.
    int start[64];
    int from_all = b.n;
    for (int k = 0; k < nh; k++) {
      Timestamp after = last_sample(schema, symbol, horizons[k]);
      int s = first_after(b, after);
      if (since != DT_NOBEGIN) s = Max(s, first_after(b, since - 1));
      start[k] = s;
      from_all = Min(from_all, s);
    }
    if (from_all >= b.n) {
      MemoryContextSwitchTo(outer);
      continue;
    }
    // Features once for the widest range, targets per horizon: the C++ part.
    int rows = b.n - from_all;
    double* feats = (double*)palloc(sizeof(double) * (size_t)rows * nf);
    double* targets = (double*)palloc(sizeof(double) * (size_t)rows * nh);
    cml::pg::guarded("ml_build_samples", [&] {
      cml::BarSeries s;
      s.ts.resize(b.n);
      for (int i = 0; i < b.n; i++) s.ts[i] = b.ts[i] / kUsecPerMinute + (b.ts[i] % kUsecPerMinute < 0 ? -1 : 0);
      s.open.assign(b.open, b.open + b.n);
      s.high.assign(b.high, b.high + b.n);
      s.low.assign(b.low, b.low + b.n);
      s.close.assign(b.close, b.close + b.n);
      s.volume.assign(b.volume, b.volume + b.n);
      std::vector<double> f = cml::build_features(s, from_all, b.n, params);
      std::copy(f.begin(), f.end(), feats);
      for (int k = 0; k < nh; k++) {
        std::vector<double> t = cml::build_targets(s, from_all, b.n, horizons[k]);
        for (int i = 0; i < rows; i++) targets[(size_t)i * nh + k] = t[i];
      }
    });
    for (int k = 0; k < nh; k++) {
      MemoryContextReset(horizon_cxt);
      MemoryContextSwitchTo(horizon_cxt);
      int n = 0;
      Datum* fj = (Datum*)palloc(sizeof(Datum) * Max(rows, 1));
      Datum* tv = (Datum*)palloc(sizeof(Datum) * Max(rows, 1));
      Datum* tsv = (Datum*)palloc(sizeof(Datum) * Max(rows, 1));
      Datum* fv = (Datum*)palloc(sizeof(Datum) * Max(rows, 1) * nf);  // feature_vector, row after row
      Timestamp last = DT_NOBEGIN;
      for (int i = start[k] - from_all; i < rows; i++) {
        double t = targets[(size_t)i * nh + k];
        if (std::isnan(t)) continue;  // the bar `horizon` minutes later is missing (gap, or not yet there)
        StringInfoData j;
        initStringInfo(&j);
        appendStringInfoChar(&j, '{');
        for (int c = 0; c < nf; c++) {
          if (c) appendStringInfoString(&j, ", ");
          escape_json(&j, (*names)[c].c_str());
          appendStringInfoString(&j, ": ");
          double x = feats[(size_t)i * nf + c];
          append_number(&j, x);
          fv[(size_t)n * nf + c] = Float8GetDatum(std::isfinite(x) ? x : NAN);  // null in the jsonb is NaN here
        }
        appendStringInfoChar(&j, '}');
        fj[n] = CStringGetTextDatum(j.data);
        tv[n] = Float8GetDatum(t);
        tsv[n] = TimestampGetDatum(b.ts[from_all + i]);
        last = b.ts[from_all + i];
        n++;
      }
      if (n == 0) {
        MemoryContextSwitchTo(symbol_cxt);
        continue;
      }
      Oid types[6] = {TEXTOID, INT4OID, TEXTARRAYOID, FLOAT8ARRAYOID, TIMESTAMPARRAYOID, FLOAT8ARRAYOID};
      Datum values[6] = {CStringGetTextDatum(symbol), Int32GetDatum(horizons[k]),
                         PointerGetDatum(construct_array(fj, n, TEXTOID, -1, false, TYPALIGN_INT)),
                         PointerGetDatum(construct_array(tv, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                         PointerGetDatum(construct_array(tsv, n, TIMESTAMPOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                         PointerGetDatum(construct_array(fv, n * nf, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))};
      if (SPI_execute_with_args(insert_sql, 6, types, values, nullptr, false, 0) != SPI_OK_INSERT)
        elog(ERROR, "cryptoml: inserting samples failed");
      int64 inserted = (int64)SPI_processed;
      total += inserted;
      // Recorded in this transaction, not on the autonomous path: it commits exactly with the
      // samples it describes (a killed call leaves neither).
      char* op = psprintf("build %s h%d", symbol, horizons[k]);
      char* state = psprintf("{\"last_bar\": \"%s\", \"inserted\": " INT64_FORMAT ", \"feature_set_version\": %d}",
                             DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(last))), inserted,
                             cml::kFeatureSetVersion);
      Oid tc[2] = {TEXTOID, TEXTOID};
      Datum vc[2] = {CStringGetTextDatum(op), CStringGetTextDatum(state)};
      if (SPI_execute_with_args(checkpoint_sql, 2, tc, vc, nullptr, false, 0) != SPI_OK_INSERT)
        elog(ERROR, "cryptoml: recording the samples checkpoint failed");
      MemoryContextSwitchTo(symbol_cxt);
    }
    MemoryContextSwitchTo(outer);
  }
  SPI_finish();
  cml::pg::progress_end();
  PG_RETURN_INT64(total);
}

// cryptoml_internal.features_to_vector(features jsonb) RETURNS float8[]: a samples' features object
// as a vector in feature_names() order (the layout of mlTrainingSamples.feature_vector): JSON null
// or a missing key gives NaN; any other non-number is an error naming the key.
Datum cml_features_to_vector(PG_FUNCTION_ARGS) {
  Jsonb* j = PG_GETARG_JSONB_P(0);
  if (!JB_ROOT_IS_OBJECT(j))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("features must be a JSON object")));
  const std::vector<std::string>* names = nullptr;
  cml::pg::guarded("features_to_vector", [&] { names = &cml::feature_names(); });
  int nf = (int)names->size();
  Datum* out = (Datum*)palloc(sizeof(Datum) * nf);
  for (int c = 0; c < nf; c++) {
    JsonbValue key;
    key.type = jbvString;
    key.val.string.val = const_cast<char*>((*names)[c].c_str());
    key.val.string.len = (int)(*names)[c].size();
    JsonbValue* v = findJsonbValueFromContainer(&j->root, JB_FOBJECT, &key);
    double x = NAN;
    if (v != nullptr && v->type == jbvNumeric)
      x = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
    else if (v != nullptr && v->type != jbvNull)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("feature \"%s\" must be a number or null", (*names)[c].c_str())));
    out[c] = Float8GetDatum(x);
  }
  PG_RETURN_ARRAYTYPE_P(construct_array(out, nf, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
