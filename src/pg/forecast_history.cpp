// cryptoml_internal.volatility_interval: the conformal interval of a volatility forecast from the
// symbol's earlier volatility forecasts of the horizon whose outcome is known (ml_forecast_all),
// with the series kept per backend (src/core/outcome_window.hpp) instead of read and sorted again
// for every forecast.
//
// What is kept and when it is read again. The series is every persistentForecasts row of the
// symbol, type 'volatility' and horizon with a known outcome (actual_value set), one per bar (the
// newest row of a bar). Rows whose outcome is unknown do not belong to it, so the forecasts the
// forecaster inserts every cycle (actual_value NULL) leave it as it is; anything else that could
// change it sends a relcache invalidation of persistentForecasts to every backend at commit
// (triggers zz_cryptoml_forecasts_changed: any UPDATE (ml_fill_actuals resolving outcomes), DELETE
// or TRUNCATE; zz_cryptoml_forecast_outcome_inserted: an INSERT of a row with actual_value set),
// and so do ALTER TABLE, VACUUM's statistics and a re-created extension. A kept series is used
// while no such invalidation has arrived since it was read, and read again otherwise:
//   - in this backend's own transaction, the invalidation is processed at the next command
//     (CommandCounterIncrement), and again when the (sub)transaction aborts, so a change rolled
//     back to a savepoint or by an EXCEPTION block is read again too;
//   - the series is read under a snapshot taken after the invalidations received so far were
//     processed (READ COMMITTED: a new snapshot per read), so what it was read from includes every
//     commit whose invalidation had arrived; under REPEATABLE READ or SERIALIZABLE (an older
//     snapshot) the series is used for the call and not kept.
// Only the newest calibrationWindow + kSlack rows are kept; the older ones are counted (the
// ACI level counts every earlier interval). Triggers that do not fire (session_replication_role =
// replica, a disabled trigger) are not seen: as for the registry cache (forecast.cpp).
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "outcome_window.hpp"

#include "config_access.hpp"
#include "forecast_history.hpp"
#include "guard.hpp"
#include "log.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "funcapi.h"
#include "storage/sinval.h"
#include "utils/inval.h"

PG_FUNCTION_INFO_V1(cml_volatility_interval);
}

namespace {

constexpr int64 kUsPerMinute = INT64CONST(60000000);
constexpr size_t kSlack = 2880;       // kept rows beyond the window (forecasts not yet known at the bar asked)
constexpr size_t kMaxSeries = 4096;   // kept series (symbols x horizons); cleared beyond

uint64 g_generation = 1;           // bumped by every relcache invalidation of persistentForecasts
Oid g_forecasts_rel = InvalidOid;  // persistentForecasts' relation id, as last looked up

void inval_callback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == g_forecasts_rel) g_generation++;
}

struct Series {
  uint64 generation;
  Oid rel;
  size_t window;  // the window it was kept for (rows beyond window + kSlack are counted)
  cml::OutcomeWindow w;
};
std::unordered_map<std::string, Series>* g_series = nullptr;

SPIPlanPtr g_read = nullptr;  // the series' rows, kept (SPI_keepplan) for one relation id
Oid g_read_rel = InvalidOid;

// PostgreSQL's float8 order (NaN equal to itself and above every other value).
bool pg_lt(double a, double b) { return std::isnan(a) ? false : std::isnan(b) ? true : a < b; }
bool pg_gt(double a, double b) { return pg_lt(b, a); }

// bar - h minutes, as "bar_timestamp + make_interval(mins => h) <= bar" compares (saturated).
int64 known_until(Timestamp bar, int horizon) {
  if (bar == DT_NOEND) return std::numeric_limits<int64>::max();
  int64 out;
  if (__builtin_sub_overflow((int64)bar, (int64)horizon * kUsPerMinute, &out))
    return horizon > 0 ? std::numeric_limits<int64>::min() : std::numeric_limits<int64>::max();
  return out;
}

}  // namespace

namespace cml {
namespace pg {
void forecast_history_init() { CacheRegisterRelcacheCallback(inval_callback, (Datum)0); }
}  // namespace pg
}  // namespace cml

// cryptoml_internal.volatility_interval(symbol text, horizon integer, bar timestamp, center float8,
//   cal_window integer) -> (lower float8, upper float8): center -/+ q, q the conformal quantile of
//   the |actual - predicted| of the symbol's last cal_window volatility forecasts of the horizon
//   whose outcome is known at bar (bar_timestamp + horizon <= bar; the newest row of each bar), at
//   the ACI level (inference.intervalCoverage, inference.intervalAdaptRate) after every such forecast
//   that stated an interval; NULL bounds without a residual. cal_window NULL reads them all. The
//   same numbers as conformal_interval over the query ml_forecast_all of 0.10.0 ran.
Datum cml_volatility_interval(PG_FUNCTION_ARGS) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "cryptoml: expected a record result");
  desc = BlessTupleDesc(desc);
  Datum out[2] = {0, 0};
  bool out_null[2] = {true, true};
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, out, out_null)));
  const char* symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
  const int horizon = PG_GETARG_INT32(1);
  const Timestamp bar = PG_GETARG_TIMESTAMP(2);
  const double center = PG_GETARG_FLOAT8(3);
  size_t window = std::numeric_limits<size_t>::max();
  if (!PG_ARGISNULL(4)) {
    int32 w = PG_GETARG_INT32(4);
    if (w < 0) ereport(ERROR, (errcode(ERRCODE_INVALID_ROW_COUNT_IN_LIMIT_CLAUSE), errmsg("LIMIT must not be negative")));
    window = (size_t)w;
  }
  const cml::HonestSettings& hs = cml::pg::config_inference().honest;
  const double coverage = hs.coverage, gamma = hs.aci_gamma;
  const int64 until = known_until(bar, horizon);

  // invalidations committed by other sessions so far, then the relation as it is now
  AcceptInvalidationMessages();
  const Oid nsp = cml::pg::extension_namespace();
  const Oid rel = OidIsValid(nsp) ? get_relname_relid("persistentforecasts", nsp) : InvalidOid;
  if (!OidIsValid(rel)) ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("cryptoml: relation persistentforecasts is missing")));
  if (rel != g_forecasts_rel) {
    g_forecasts_rel = rel;
    g_generation++;
  }
  const uint64 generation = g_generation;
  char key[96];
  snprintf(key, sizeof key, "%s/%d", symbol, horizon);

  double q = NAN;
  bool answered = false;
  cml::pg::guarded("volatility_interval", [&] {
    if (g_series == nullptr) g_series = new std::unordered_map<std::string, Series>();
    auto it = g_series->find(key);
    if (it != g_series->end() && it->second.generation == generation && it->second.rel == rel && it->second.window >= window)
      answered = it->second.w.half_width(until, window, coverage, gamma, &q);
  });

  if (!answered) {
    // the series, read with a snapshot taken now (see the header)
    SPI_connect();
    if (g_read == nullptr || g_read_rel != rel) {
      if (g_read != nullptr) SPI_freeplan(g_read);
      g_read = nullptr;
      const char* schema = cml::pg::extension_schema();
      if (schema == nullptr) ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("extension cryptoml is not installed in this database")));
      Oid types[2] = {TEXTOID, INT4OID};
      SPIPlanPtr p = SPI_prepare(psprintf(
          "SELECT DISTINCT ON (f.bar_timestamp) f.bar_timestamp, f.predicted_value::float8, f.actual_value::float8, "
          "f.lower::float8, f.upper::float8 FROM %s.persistentforecasts f "
          "WHERE f.symbol = $1 AND f.forecast_type = 'volatility' AND f.forecast_horizon = $2 AND f.actual_value IS NOT NULL "
          "AND f.bar_timestamp IS NOT NULL ORDER BY f.bar_timestamp, f.id DESC", schema), 2, types);
      if (p == nullptr || SPI_keepplan(p) != 0) elog(ERROR, "cryptoml: preparing the volatility outcomes statement failed");
      g_read = p;
      g_read_rel = rel;
    }
    Datum args[2] = {PointerGetDatum(cstring_to_text(symbol)), Int32GetDatum(horizon)};
    if (SPI_execute_plan(g_read, args, nullptr, false, 0) != SPI_OK_SELECT) elog(ERROR, "cryptoml: reading volatility outcomes failed");
    const int n = (int)SPI_processed;
    cml::KnownOutcome* rows = (cml::KnownOutcome*)palloc(sizeof(cml::KnownOutcome) * Max(n, 1));
    for (int i = 0; i < n; i++) {
      HeapTuple t = SPI_tuptable->vals[i];
      bool ts_null, p_null, a_null, lo_null, hi_null;
      Datum ts = SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &ts_null);
      Datum p = SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &p_null);
      Datum a = SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &a_null);
      Datum lo = SPI_getbinval(t, SPI_tuptable->tupdesc, 4, &lo_null);
      Datum hi = SPI_getbinval(t, SPI_tuptable->tupdesc, 5, &hi_null);
      const double av = DatumGetFloat8(a);  // not NULL: the statement's filter
      rows[i].ts = DatumGetTimestamp(ts);
      rows[i].residual = p_null ? NAN : av - DatumGetFloat8(p);
      // "a < lo OR a > hi" counted when true (hi NULL: only a < lo can be)
      rows[i].stated = !lo_null;
      rows[i].missed = !lo_null && (pg_lt(av, DatumGetFloat8(lo)) || (!hi_null && pg_gt(av, DatumGetFloat8(hi))));
    }
    const bool keep = !IsolationUsesXactSnapshot();
    cml::pg::guarded("volatility_interval", [&] {
      cml::OutcomeWindow w(std::vector<cml::KnownOutcome>(rows, rows + n));
      answered = w.half_width(until, window, coverage, gamma, &q);  // every row is kept: always answers
      if (!keep || g_generation != generation) return;
      const size_t kept_for = window > std::numeric_limits<size_t>::max() - kSlack ? window : window + kSlack;
      w.trim(kept_for);
      if (g_series->size() >= kMaxSeries && g_series->count(key) == 0) g_series->clear();
      (*g_series)[key] = Series{generation, rel, window, std::move(w)};
    });
    SPI_finish();
  }
  if (std::isfinite(q) && std::isfinite(center)) {
    out[0] = Float8GetDatum(center - q);
    out[1] = Float8GetDatum(center + q);
    out_null[0] = out_null[1] = false;
  }
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, out, out_null)));
}
