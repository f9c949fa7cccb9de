// ml_build_samples: training samples (mlTrainingSamples) from rollingChartData, through the
// versioned feature sets of src/core/features.* (set 1) and features_v2.* (set 2) that live
// forecasts use too. The set built is config features.featureSet.
//
// Per symbol: read its bars once, build features for the bars after the last stored sample of each
// horizon and feature set (or from `since`), pair them with targets where the bar exactly `horizon`
// minutes later exists, and insert with ON CONFLICT DO NOTHING on (symbol, forecast_horizon,
// feature_set, bar_timestamp). The samples table is its own resume point: a killed run rolls back,
// and the next run starts after the last committed sample. Each (symbol, horizon) done is recorded
// in recoveryState.
//
// Set 2 also reads, once per symbol, the bars of the leaders and index members (market.hpp) from
// kV2OtherMinutes before the first row built. A row whose cross-market inputs are pending (another
// symbol's bar of the minute before may still arrive: pending_inputs) is not built: it is left to
// a later run, so a stored sample never depends on the order in which bars arrived. Samples record
// the leaders and index members they were built with; a build whose configuration names others
// than the symbol's stored set-2 samples of that horizon is refused (never a mix).
#include <cmath>
#include <string>
#include <vector>

#include "feature_context.hpp"
#include "features.hpp"
#include "features_v2.hpp"

#include "config_access.hpp"
#include "guard.hpp"
#include "progress.hpp"
#include "log.hpp"
#include "market.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/json.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(ml_build_samples);
PG_FUNCTION_INFO_V1(cml_features_to_vector);
}

namespace {

using cml::pg::PgBars;
using cml::pg::PgMarket;

// Rows inserted per statement: bounds the memory of the JSON texts (set 2 has 81 features).
constexpr int kInsertChunk = 5000;

// First index whose bar is after `after` (binary search).
int first_after(const PgBars& b, Timestamp after) {
  int lo = 0, hi = b.n;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (b.stamp[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

Timestamp last_sample(const char* schema, const char* symbol, int horizon, int feature_set) {
  char* sql = psprintf("SELECT max(bar_timestamp) FROM %s.mltrainingsamples WHERE symbol = $1 AND forecast_horizon = $2 "
                       "AND feature_set = $3", schema);
  Oid types[3] = {TEXTOID, INT4OID, INT4OID};
  Datum values[3] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon), Int32GetDatum(feature_set)};
  if (SPI_execute_with_args(sql, 3, types, values, nullptr, true, 1) != SPI_OK_SELECT) elog(ERROR, "cryptoml: SPI failed");
  bool isnull;
  Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  return isnull ? DT_NOBEGIN : DatumGetTimestamp(d);
}

// Set 2: the symbol's stored samples of the horizon must have been built with the market names
// of this build (they record them in metadata); else ERROR naming both and what to delete.
void check_recorded_market(const char* schema, const char* symbol, int horizon, const PgMarket& mk) {
  char* sql = psprintf("SELECT jsonb_build_object('leaders', metadata->'leaders', 'index_members', metadata->'index_members') "
                       "= $3::jsonb, jsonb_build_object('leaders', metadata->'leaders', 'index_members', metadata->'index_members')::text "
                       "FROM %s.mltrainingsamples WHERE symbol = $1 AND forecast_horizon = $2 AND feature_set = 2 LIMIT 1", schema);
  Oid types[3] = {TEXTOID, INT4OID, TEXTOID};
  Datum values[3] = {CStringGetTextDatum(symbol), Int32GetDatum(horizon), CStringGetTextDatum(mk.names_json)};
  if (SPI_execute_with_args(sql, 3, types, values, nullptr, true, 1) != SPI_OK_SELECT) elog(ERROR, "cryptoml: SPI failed");
  if (SPI_processed == 0) return;
  bool isnull;
  Datum same = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  if (!isnull && DatumGetBool(same)) return;
  ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                  errmsg("the feature set 2 samples of %s at horizon %d were built with other cross-market symbols than "
                         "the configuration names now", symbol, horizon),
                  errdetail("rule: samples of one symbol, horizon and feature set are built with one set of leaders and index "
                            "members; stored: %s, configured: %s",
                            SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), mk.names_json),
                  errhint("Restore features.crossMarketSymbols and symbols, or delete those samples first: "
                          "DELETE FROM mlTrainingSamples WHERE symbol = '%s' AND feature_set = 2;", symbol)));
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
  const PgMarket mk = cml::pg::config_market();  // features.featureSet and, for set 2, the market names
  const int fs = mk.feature_set;

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
  cml::pg::guarded("ml_build_samples", [&] { names = &cml::feature_names_for(fs); });
  int nf = (int)names->size();
  char* insert_sql = psprintf(
      "INSERT INTO %s.mltrainingsamples (symbol, features, target, forecast_horizon, bar_timestamp, metadata, feature_vector, "
      "feature_set) "
      "SELECT $1, u.f::jsonb, u.t, $2, u.ts, jsonb_build_object('feature_set_version', %d, 'source', 'ml_build_samples', "
      "'indicator_params', '%s'::jsonb)%s, $6[(u.i::int - 1) * %d + 1 : u.i::int * %d], %d "
      "FROM unnest($3::text[], $4::float8[], $5::timestamp[]) WITH ORDINALITY AS u(f, t, ts, i) "
      "ON CONFLICT (symbol, forecast_horizon, feature_set, bar_timestamp) DO NOTHING",
      schema, fs,
      psprintf("{\"rsiPeriod\": %d, \"macdFast\": %d, \"macdSlow\": %d, \"macdSignal\": %d, \"bollingerPeriod\": %d, "
               "\"bollingerStdDev\": %.17g, \"stochasticK\": %d, \"stochasticD\": %d, \"volatilityWindow\": %d}",
               params.rsi_period, params.macd_fast, params.macd_slow, params.macd_signal, params.bb_period, params.bb_k,
               params.stoch_k, params.stoch_d, params.vol_window),
      fs == 2 ? psprintf(" || %s", quote_literal_cstr(mk.names_json)) : "", nf, nf, fs);

  // One symbol's arrays, and one chunk's JSON texts, live in contexts reset as they are done.
  MemoryContext symbol_cxt = AllocSetContextCreate(CurrentMemoryContext, "cryptoml samples symbol", ALLOCSET_DEFAULT_SIZES);
  MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "cryptoml samples chunk", ALLOCSET_DEFAULT_SIZES);
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
    PgBars b = cml::pg::read_bars(schema, symbol, DT_NOBEGIN, DT_NOEND);
    // Where each horizon starts: after its last sample of this set, and not before `since`.
    int start[64];
    int from_all = b.n;
    for (int k = 0; k < nh; k++) {
      if (fs == 2) check_recorded_market(schema, symbol, horizons[k], mk);
      Timestamp after = last_sample(schema, symbol, horizons[k], fs);
      int s = first_after(b, after);
      if (since != DT_NOBEGIN) s = Max(s, first_after(b, since - 1));
      start[k] = s;
      from_all = Min(from_all, s);
    }
    if (from_all >= b.n) {
      MemoryContextSwitchTo(outer);
      continue;
    }
    // Set 2: the other symbols' bars from kV2OtherMinutes before the first row on, read once.
    PgBars* others = nullptr;
    int n_others = fs == 2 ? cml::pg::read_context_bars(schema, symbol, mk, b.ts[from_all], "the configuration", &others) : 0;
    // Features once for the widest range, targets per horizon: the C++ part. Set 2 stops before
    // the first pending row (pending is monotone in time: rows after it are pending too).
    int end = b.n;
    double* feats = (double*)palloc(sizeof(double) * (size_t)(b.n - from_all) * nf);
    double* targets = (double*)palloc(sizeof(double) * (size_t)(b.n - from_all) * nh);
    cml::pg::guarded("ml_build_samples", [&] {
      const cml::BarSeries s = cml::pg::series_of(b);
      std::vector<double> f;
      if (fs == 2) {
        const cml::MarketContext ctx = cml::pg::context_of(symbol, mk, others, n_others);
        while (end > from_all && !cml::pending_inputs(ctx, s.ts[end - 1]).empty()) end--;
        f = cml::build_features_v2(s, from_all, end, params, ctx);
      } else {
        f = cml::build_features(s, from_all, end, params);
      }
      std::copy(f.begin(), f.end(), feats);
      for (int k = 0; k < nh; k++) {
        std::vector<double> t = cml::build_targets(s, from_all, end, horizons[k]);
        for (int i = 0; i < end - from_all; i++) targets[(size_t)i * nh + k] = t[i];
      }
    });
    const int rows = end - from_all;
    for (int k = 0; k < nh; k++) {
      int64 inserted = 0;
      Timestamp last = DT_NOBEGIN;
      for (int c0 = start[k] - from_all; c0 < rows; c0 += kInsertChunk) {
        CHECK_FOR_INTERRUPTS();
        const int c1 = Min(rows, c0 + kInsertChunk);
        MemoryContextReset(chunk_cxt);
        MemoryContextSwitchTo(chunk_cxt);
        int n = 0;
        Datum* fj = (Datum*)palloc(sizeof(Datum) * (c1 - c0));
        Datum* tv = (Datum*)palloc(sizeof(Datum) * (c1 - c0));
        Datum* tsv = (Datum*)palloc(sizeof(Datum) * (c1 - c0));
        Datum* fv = (Datum*)palloc(sizeof(Datum) * (size_t)(c1 - c0) * nf);  // feature_vector, row after row
        for (int i = c0; i < c1; i++) {
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
          tsv[n] = TimestampGetDatum(b.stamp[from_all + i]);
          last = b.stamp[from_all + i];
          n++;
        }
        if (n > 0) {
          Oid types[6] = {TEXTOID, INT4OID, TEXTARRAYOID, FLOAT8ARRAYOID, TIMESTAMPARRAYOID, FLOAT8ARRAYOID};
          Datum values[6] = {CStringGetTextDatum(symbol), Int32GetDatum(horizons[k]),
                             PointerGetDatum(construct_array(fj, n, TEXTOID, -1, false, TYPALIGN_INT)),
                             PointerGetDatum(construct_array(tv, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                             PointerGetDatum(construct_array(tsv, n, TIMESTAMPOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                             PointerGetDatum(construct_array(fv, n * nf, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))};
          if (SPI_execute_with_args(insert_sql, 6, types, values, nullptr, false, 0) != SPI_OK_INSERT)
            elog(ERROR, "cryptoml: inserting samples failed");
          inserted += (int64)SPI_processed;
        }
        MemoryContextSwitchTo(symbol_cxt);
      }
      if (last == DT_NOBEGIN) continue;
      total += inserted;
      // Recorded in this transaction, not on the autonomous path: it commits exactly with the
      // samples it describes (a killed call leaves neither).
      char* op = psprintf("build %s h%d", symbol, horizons[k]);
      char* state = psprintf("{\"last_bar\": \"%s\", \"inserted\": " INT64_FORMAT ", \"feature_set_version\": %d}",
                             DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(last))), inserted, fs);
      Oid tc[2] = {TEXTOID, TEXTOID};
      Datum vc[2] = {CStringGetTextDatum(op), CStringGetTextDatum(state)};
      if (SPI_execute_with_args(checkpoint_sql, 2, tc, vc, nullptr, false, 0) != SPI_OK_INSERT)
        elog(ERROR, "cryptoml: recording the samples checkpoint failed");
    }
    MemoryContextSwitchTo(outer);
  }
  SPI_finish();
  cml::pg::progress_end();
  PG_RETURN_INT64(total);
}

// cryptoml_internal.features_to_vector(features jsonb [, feature_set integer DEFAULT 1]) RETURNS
// float8[]: a samples' features object as a vector in the order of feature_names_for(feature_set)
// (the layout of mlTrainingSamples.feature_vector): JSON null or a missing key gives NaN; any other
// non-number is an error naming the key.
Datum cml_features_to_vector(PG_FUNCTION_ARGS) {
  Jsonb* j = PG_GETARG_JSONB_P(0);
  const int fs = PG_NARGS() > 1 ? PG_GETARG_INT32(1) : 1;
  if (!JB_ROOT_IS_OBJECT(j))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("features must be a JSON object")));
  const std::vector<std::string>* names = nullptr;
  cml::pg::guarded("features_to_vector", [&] { names = &cml::feature_names_for(cml::checked_feature_set(fs, "feature_set")); });
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
