// rollingChartData indicators: the row and statement triggers, checkpoints, tail recompute and
// ml_recompute_indicators.
//
// Design (docs/indicators.md has the user's view):
// - Each backend caches, per symbol, the full-precision IndicatorState after the symbol's latest
//   bar. The cache is trusted only inside the transaction that holds the symbol's advisory lock,
//   so an in-order bar costs one O(1) update and no lookup.
// - A transaction's first bar of a symbol takes the lock and restores the state from
//   cryptoml_internal.indicator_checkpoint (written at the end of every statement that changed the
//   symbol, and every kCheckpointEvery bars). Checkpoints are ordinary rows: a rollback undoes
//   them with the bars they describe.
// - Across transactions (issue 19): every taking of a symbol's lock bumps the symbol's generation
//   in shared memory (ChartShared). A backend that committed the symbol's last change finds the
//   generation it left and keeps its state, after one index probe that the symbol's latest bar
//   is still the one it holds (bars written with the triggers off). Any other writer, a
//   rolled-back subtransaction, an invalidation of the table (TRUNCATE, ALTER TABLE) or of the
//   node's symbol roles, or a missing preload means the restore above.
// - A bar that is not after the latest one (late, duplicate, ON CONFLICT), a price UPDATE and a
//   DELETE mark the symbol dirty from that timestamp; the statement trigger then recomputes the
//   symbol's tail once, from the last checkpoint before it.
//
// Frames that call PostgreSQL hold no C++ object with a destructor: C++ state lives in the heap
// (g_entries) and is reached through raw pointers; C++ work that can throw runs in guarded().
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "indicators.hpp"

#include "chart.hpp"
#include "config_access.hpp"
#include "follow.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "node.hpp"
#include "owner.hpp"
#include "progress.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/table.h"
#include "nodes/parsenodes.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "access/genam.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lock.h"
#include "storage/shmem.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(cml_chart_row_trigger);
PG_FUNCTION_INFO_V1(cml_chart_statement_trigger);
PG_FUNCTION_INFO_V1(ml_recompute_indicators);
PG_FUNCTION_INFO_V1(cml_delete_history);
PG_FUNCTION_INFO_V1(cml_statement_bar_changes);
PG_FUNCTION_INFO_V1(cml_numeric_to_double_mismatches);
PG_FUNCTION_INFO_V1(cml_column_numeric_mismatches);
}

namespace cml {
namespace pg {
void chart_init();
}
}  // namespace cml

namespace {

using cml::IndicatorParams;
using cml::IndicatorState;
using cml::IndicatorValues;
using cml::pg::enter_owner;
using cml::pg::guarded;
using cml::pg::leave_owner;
using cml::pg::OwnerScope;

constexpr int64 kCheckpointEvery = 1000;  // bars between periodic checkpoints
constexpr uint32 kLockKey = 0x434D4C31;    // 'CML1': first key of the per-symbol advisory lock

// Per-symbol generations, by hash of database and symbol (a collision only costs a restore).
// Only when the library is preloaded; otherwise g_shared is null and every transaction restores
// from the checkpoint.
constexpr int kGenSlots = 8192;
struct ChartShared {
  pg_atomic_uint64 gen[kGenSlots];
};
ChartShared* g_shared = nullptr;
shmem_request_hook_type g_prev_shmem_request = nullptr;
shmem_startup_hook_type g_prev_shmem_startup = nullptr;

void chart_shmem_request() {
  if (g_prev_shmem_request) g_prev_shmem_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(ChartShared)));
}

void chart_shmem_startup() {
  if (g_prev_shmem_startup) g_prev_shmem_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  ChartShared* sh = static_cast<ChartShared*>(ShmemInitStruct("cryptoml symbol generations", sizeof(ChartShared), &found));
  if (!found) {
    for (int i = 0; i < kGenSlots; i++) pg_atomic_init_u64(&sh->gen[i], 1);
  }
  g_shared = sh;
  LWLockRelease(AddinShmemInitLock);
}

pg_atomic_uint64* gen_slot(uint32 symbol_hash) {
  return &g_shared->gen[hash_combine(symbol_hash, (uint32)MyDatabaseId) % kGenSlots];
}

struct PendingCheckpoint {
  Timestamp ts;
  int64 bars;
  std::string state;
};

struct SymbolEntry {
  std::unique_ptr<IndicatorState> state;  // after last_ts, when valid
  bool valid = false;
  Timestamp last_ts = DT_NOBEGIN;
  LocalTransactionId lxid = InvalidLocalTransactionId;  // transaction holding the symbol lock
  bool touched = false;                                  // changed by the current statement
  Timestamp touch_ts = DT_NOBEGIN;                       // last_ts when first touched (flushed up to here)
  bool dirty = false;                                    // tail from dirty_from needs recompute
  Timestamp dirty_from = DT_NOEND;
  bool need_latest = false;                              // latest checkpoint not written yet
  // The symbol's newest checkpoint row as this transaction knows it (DT_NOBEGIN: none), and
  // whether it is a periodic one (kept). A non-periodic one is the previous "latest": it is
  // deleted, by its key, when a newer latest is written.
  Timestamp ckpt_ts = DT_NOBEGIN;
  bool ckpt_periodic = false;
  // For the next transaction (ChartShared): the symbol's generation after this backend's last
  // lock and the relation then; reusable is cleared by a rolled-back subtransaction (the state
  // may hold what it undid) and by invalidations of the table (TRUNCATE, ALTER TABLE).
  uint64 gen = 0;
  Oid relid = InvalidOid;
  bool reusable = false;
  std::vector<PendingCheckpoint> pending;                // periodic checkpoints not written yet
};

// Never destroyed: no static destructor runs at backend exit.
std::unordered_map<std::string, SymbolEntry>* g_entries = nullptr;
std::vector<std::string>* g_touched = nullptr;
// The last symbol looked up: consecutive bars of one symbol skip the hash lookup.
SymbolEntry* g_last_entry = nullptr;
char g_last_symbol[32];
// > 0 while our own UPDATEs run: the triggers stand aside. Each recompute records the
// (sub)transaction nest level it began in, so an error caught by a SAVEPOINT or a PL/pgSQL
// EXCEPTION block ends exactly the recomputes that began inside the aborted subtransaction (a bare
// counter stayed raised until the next top-level abort, and the session then stored bars without
// indicators or validation).
constexpr int kMaxRecomputeDepth = 32;
int g_recompute_level[kMaxRecomputeDepth];
int g_recompute_depth = 0;

void recompute_enter() {
  if (g_recompute_depth >= kMaxRecomputeDepth)
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                    errmsg("cryptoml: indicator recomputes nested more than %d deep", kMaxRecomputeDepth)));
  g_recompute_level[g_recompute_depth++] = GetCurrentTransactionNestLevel();
}

void recompute_leave() {
  if (g_recompute_depth > 0) g_recompute_depth--;
}

// What the last statement changed, per symbol: bars from `since` on (DT_NOBEGIN: possibly any).
// Read by the trade-following statement trigger (cryptoml_internal.statement_bar_changes), which
// fires after the indicators' one. Never destroyed.
struct BarChange {
  std::string symbol;
  Timestamp since;
};
std::vector<BarChange>* g_changes = nullptr;

// Column numbers of rollingChartData, looked up once per relation.
struct Columns {
  Oid relid = InvalidOid;
  Oid owner = InvalidOid;
  int symbol, ts, open, high, low, close, volume;
  int ind[11];  // rsi, macd, macd_signal, macd_hist, bollinger_upper, bollinger_middle,
                // bollinger_lower, stochastic_k, stochastic_d, volatility, is_complete
  int32 typmod[10];
};
const char* const kIndicatorColumns[11] = {"rsi", "macd", "macd_signal", "macd_hist", "bollinger_upper",
                                           "bollinger_middle", "bollinger_lower", "stochastic_k",
                                           "stochastic_d", "volatility", "is_complete"};
Columns g_cols;

void mark_dirty(SymbolEntry* e, Timestamp from) {
  e->dirty = true;
  if (from < e->dirty_from) e->dirty_from = from;
}

void xact_callback(XactEvent event, void*) {
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
    g_recompute_depth = 0;
    g_last_entry = nullptr;
    try {
      if (g_entries) g_entries->clear();
      if (g_touched) g_touched->clear();
      if (g_changes) g_changes->clear();
    } catch (...) {
    }
  } else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PREPARE) {
    // Nothing can be pending after the last statement trigger; drop leftovers of a statement
    // that wrote nothing to flush (e.g. only a rolled-back savepoint touched the symbol).
    if (g_touched) g_touched->clear();
    if (g_entries)
      for (auto& kv : *g_entries) {
        kv.second.touched = false;
        // a prepared transaction can still be rolled back, by another session
        if (event == XACT_EVENT_PREPARE) kv.second.reusable = false;
      }
  }
}

// A rolled-back subtransaction may have advanced cached states, and rolled back checkpoints.
// Symbols the current statement has touched keep the statement's bars that survived, so they
// are recomputed at statement end from the last flushed point; the others simply restore from
// their checkpoint at their next bar.
void subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  if (event != SUBXACT_EVENT_ABORT_SUB) return;
  const int level = GetCurrentTransactionNestLevel();  // the aborting subtransaction's
  while (g_recompute_depth > 0 && g_recompute_level[g_recompute_depth - 1] >= level) g_recompute_depth--;
  if (g_changes) g_changes->clear();
  if (g_entries == nullptr) return;
  for (auto& kv : *g_entries) {
    SymbolEntry& e = kv.second;
    e.reusable = false;
    if (e.touched) {
      e.valid = false;
      e.need_latest = false;
      e.pending.clear();
      mark_dirty(&e, e.touch_ts == DT_NOBEGIN ? DT_NOBEGIN : e.touch_ts + 1);
    } else {
      e.lxid = InvalidLocalTransactionId;
    }
  }
}

int attnum_of(TupleDesc desc, const char* name) {
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute a = TupleDescAttr(desc, i);
    if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0) return i + 1;
  }
  ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                  errmsg("cryptoml indicators trigger: column \"%s\" is missing from the table", name)));
  return 0;
}

const Columns& columns_of(Relation rel) {
  if (g_cols.relid == RelationGetRelid(rel)) return g_cols;
  TupleDesc desc = RelationGetDescr(rel);
  Columns c;
  c.symbol = attnum_of(desc, "symbol");
  c.ts = attnum_of(desc, "timestamp");
  c.open = attnum_of(desc, "open");
  c.high = attnum_of(desc, "high");
  c.low = attnum_of(desc, "low");
  c.close = attnum_of(desc, "close");
  c.volume = attnum_of(desc, "volume");
  for (int i = 0; i < 11; i++) c.ind[i] = attnum_of(desc, kIndicatorColumns[i]);
  for (int i = 0; i < 10; i++) c.typmod[i] = TupleDescAttr(desc, c.ind[i] - 1)->atttypmod;
  c.relid = RelationGetRelid(rel);
  c.owner = rel->rd_rel->relowner;
  g_cols = c;
  return g_cols;
}

const char* qualified_name(Relation rel) {
  return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel));
}

// ---- values <-> Datums ----

constexpr double kPow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};  // all exact

// numeric -> double without the text round trip of numeric_float8, for the plain values bars
// hold. numeric stores base-10000 digits; when they fit a mantissa m < 2^53 with a decimal
// exponent |e| <= 22, m and 10^|e| are exact doubles and one IEEE multiply or divide rounds the
// exact value correctly: the same double strtod (inside numeric_float8) gives. Anything else
// (NaN, infinities, long or toasted values) goes through numeric_float8. The on-disk layout read
// here (numeric.c: NumericShort / NumericLong) is fixed by pg_upgrade compatibility.
bool numeric_to_double_fast(Datum d, double* out) {
  struct varlena* v = (struct varlena*)DatumGetPointer(d);
  if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v)) return false;
  const char* p = VARDATA_ANY(v);
  size_t len = VARSIZE_ANY_EXHDR(v);
  if (len < sizeof(uint16)) return false;
  uint16 header;
  memcpy(&header, p, sizeof header);
  int weight;
  bool negative;
  const char* digits;
  size_t ndigits;
  if ((header & 0xC000) == 0x8000) {  // short format
    negative = (header & 0x2000) != 0;
    weight = (header & 0x0040) ? (int)(~0x003F | (header & 0x003F)) : (int)(header & 0x003F);
    digits = p + 2;
    ndigits = (len - 2) / 2;
  } else if ((header & 0xC000) == 0xC000) {  // NaN, +/-Infinity
    return false;
  } else {  // long format
    if (len < 4) return false;
    negative = (header & 0xC000) == 0x4000;
    int16 w;
    memcpy(&w, p + 2, sizeof w);
    weight = w;
    digits = p + 4;
    ndigits = (len - 4) / 2;
  }
  if (ndigits == 0) {
    *out = 0.0;
    return true;
  }
  if (ndigits > 4) return false;
  int64 m = 0;
  for (size_t i = 0; i < ndigits; i++) {
    int16 dgt;
    memcpy(&dgt, digits + 2 * i, sizeof dgt);
    m = m * 10000 + dgt;
  }
  if (m > (INT64CONST(1) << 53)) return false;
  int e = 4 * (weight - (int)ndigits + 1);
  if (e > 22 || e < -22) return false;
  double x = e >= 0 ? (double)m * kPow10[e] : (double)m / kPow10[-e];
  *out = negative ? -x : x;
  return true;
}

// v / 10^scale as a numeric Datum, the same bytes int64_div_fast_to_numeric(v, scale) returns
// (numeric.c's make_result: base-10000 digits aligned on the decimal point, leading and trailing
// zero digits dropped, zero as weight 0, the short header when dscale <= 63 and -64 <= weight <= 63)
// in one palloc instead of a NumericVar, its digit buffer and the result. Checked value by value
// against int64_div_fast_to_numeric by cryptoml_internal.column_numeric_mismatches (28_ingest_path).
// |v| >= 2^62 or a scale over 63 take int64_div_fast_to_numeric itself.
Datum scaled_int_to_numeric(int64 v, int scale) {
  if (v >= (INT64CONST(1) << 62) || v <= -(INT64CONST(1) << 62) || scale < 0 || scale > 63)
    return NumericGetDatum(int64_div_fast_to_numeric(v, scale));
  static const uint32 kPad[4] = {1, 1000, 100, 10};  // 10^((4 - scale % 4) % 4)
  unsigned __int128 u = (unsigned __int128)(uint64)(v < 0 ? -v : v) * kPad[scale % 4];
  int16 digits[8];  // least significant first; u < 2^62 * 1000 < 10^22: at most 6 digits
  int n = 0;
  while (u != 0) {
    digits[n++] = (int16)(uint32)(u % 10000);
    u /= 10000;
  }
  int weight = n - 1 - (scale + 3) / 4;  // of the most significant digit
  int low = 0;                           // trailing zero digits dropped
  while (low < n && digits[low] == 0) low++;
  int nd = n - low;
  if (nd == 0) weight = 0;
  bool neg = v < 0;
  Size len;
  char* p;
  if (weight <= 63 && weight >= -64) {  // NUMERIC_CAN_BE_SHORT (scale <= 63 checked above)
    len = VARHDRSZ + sizeof(uint16) + nd * sizeof(int16);
    p = (char*)palloc(len);
    uint16 header = 0x8000 | (neg ? 0x2000 : 0) | (uint16)(scale << 7) | (weight < 0 ? 0x0040 : 0) | (uint16)(weight & 0x003F);
    memcpy(p + VARHDRSZ, &header, sizeof header);
  } else {
    len = VARHDRSZ + sizeof(uint16) + sizeof(int16) + nd * sizeof(int16);
    p = (char*)palloc(len);
    uint16 header = (neg ? 0x4000 : 0x0000) | (uint16)(scale & 0x3FFF);
    int16 w = (int16)weight;
    memcpy(p + VARHDRSZ, &header, sizeof header);
    memcpy(p + VARHDRSZ + sizeof header, &w, sizeof w);
  }
  SET_VARSIZE(p, len);
  int16* out = (int16*)(p + len - nd * sizeof(int16));
  for (int i = 0; i < nd; i++) out[i] = digits[n - 1 - i];
  return PointerGetDatum(p);
}

// Plain decimal text (digits with at most one '.': no sign, exponent, blanks, NaN or Infinity) as
// numeric_in with a DECIMAL(p,s) typmod stores it: the same bytes, built by scaled_int_to_numeric.
// Only for at most s fractional digits (no rounding), 17 significant digits and a value the
// column holds; false for anything else, which the caller gives to numeric_in (and its errors).
// Checked byte for byte against numeric_in by test/pgtap/25_bulk_load.sql.
bool decimal_text_to_numeric(const char* text, int32 typmod, Datum* out) {
  if (typmod < (int32)VARHDRSZ) return false;
  int32 tm = typmod - VARHDRSZ;
  int precision = (tm >> 16) & 0xffff, scale = ((tm & 0x7ff) ^ 1024) - 1024;
  if (scale < 0 || scale > 17 || precision < 1) return false;
  int64 m = 0;
  int significant = 0, frac = -1;
  bool any = false;
  for (const char* p = text; *p != '\0'; p++) {
    if (*p >= '0' && *p <= '9') {
      any = true;
      if (m != 0 || *p != '0') significant++;
      if (significant > 17) return false;
      m = m * 10 + (*p - '0');
      if (frac >= 0) frac++;
    } else if (*p == '.' && frac < 0) {
      frac = 0;
    } else {
      return false;
    }
  }
  if (!any) return false;
  if (frac < 0) frac = 0;
  if (frac > scale) return false;
  __int128 v = (__int128)m;
  for (int i = frac; i < scale; i++) v *= 10;
  __int128 limit = 1;
  for (int i = 0; i < precision && limit <= (__int128)INT64CONST(1000000000000000000); i++) limit *= 10;
  if (v >= limit || v >= (__int128)INT64CONST(1000000000000000000)) return false;
  *out = scaled_int_to_numeric((int64)v, scale);
  return true;
}

// x rounded to the column's scale, as numeric; NaN gives NULL. Values a DECIMAL(p,s) column
// cannot hold are an error (heap_modify_tuple does not apply typmods).
Datum to_column_numeric(double x, int32 typmod, const char* column, bool* isnull) {
  *isnull = std::isnan(x);
  if (*isnull) return (Datum)0;
  int32 tm = typmod - VARHDRSZ;
  int precision = (tm >> 16) & 0xffff, scale = tm & 0xffff;
  double scaled = std::round(x * (scale <= 22 ? kPow10[scale] : std::pow(10.0, scale)));  // half away from zero, like round()
  double limit = precision <= 22 ? kPow10[precision] : std::pow(10.0, precision);
  if (!std::isfinite(x) || std::fabs(scaled) >= limit)
    ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                    errmsg("indicator %s = %g does not fit column %s DECIMAL(%d,%d)", column, x, column, precision, scale)));
  return scaled_int_to_numeric((int64)scaled, scale);
}

double numeric_to_double(Datum d) {
  double x;
  if (numeric_to_double_fast(d, &x)) return x;
  return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
}

using Bar = cml::pg::ChartBar;  // chart.hpp: shared with the bulk loader

// A row's columns, deformed once.
struct Row {
  Datum* values;
  bool* nulls;
};

Row deform(HeapTuple tup, TupleDesc desc) {
  Row r{(Datum*)palloc(sizeof(Datum) * desc->natts), (bool*)palloc(sizeof(bool) * desc->natts)};
  heap_deform_tuple(tup, desc, r.values, r.nulls);
  return r;
}

// False when symbol or timestamp is NULL (NOT NULL reports it after the trigger).
bool read_bar(const Columns& c, const Row& row, Bar* b) {
  if (row.nulls[c.symbol - 1] || row.nulls[c.ts - 1]) return false;
  b->symbol = TextDatumGetCString(row.values[c.symbol - 1]);
  b->ts = DatumGetTimestamp(row.values[c.ts - 1]);
  struct {
    int att;
    double* v;
    bool* n;
  } f[5] = {{c.open, &b->open, &b->open_null},
            {c.high, &b->high, &b->high_null},
            {c.low, &b->low, &b->low_null},
            {c.close, &b->close, &b->close_null},
            {c.volume, &b->volume, &b->volume_null}};
  for (auto& x : f) {
    *x.n = row.nulls[x.att - 1];
    *x.v = *x.n ? 0.0 : numeric_to_double(row.values[x.att - 1]);
  }
  return true;
}

[[noreturn]] void reject_bar(const Bar& b, const char* rule, const char* fmt, double v1, double v2 = 0) {
  char what[256];
  snprintf(what, sizeof what, fmt, v1, v2);
  ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                  errmsg("rollingChartData bar %s %s rejected: %s", b.symbol,
                         DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(b.ts))), what),
                  errdetail("rule: %s", rule)));
  pg_unreachable();
}

void validate_bar(const Bar& b) {
  cml::pg::node_require_owned(b.symbol, "rollingChartData: writing bars of");
  if (!cml::pg::config_symbol_allowed(b.symbol))
    ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION), errmsg("rollingChartData: unknown symbol \"%s\"", b.symbol),
                    errdetail("rule: symbol must be one of the configured symbols: %s", cml::pg::config_symbols_text()),
                    errhint("Add it with ml_config_set('symbols', ...), or accept any symbol with "
                            "ml_config_set('data.rejectUnknownSymbols', 'false').")));
  if (TIMESTAMP_NOT_FINITE(b.ts))
    ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                    errmsg("rollingChartData bar %s rejected: timestamp %s is not a finite time", b.symbol,
                           TIMESTAMP_IS_NOBEGIN(b.ts) ? "-infinity" : "infinity"),
                    errdetail("rule: timestamp is the bar's open time in UTC, a finite time after 1970-01-01 00:00")));
  // One rule with ml_ingest_klines: exchanges count open times in ms after the Unix epoch (> 0).
  const Timestamp unix_epoch = -(Timestamp)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
  if (b.ts <= unix_epoch)
    ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                    errmsg("rollingChartData bar %s rejected: timestamp %s is not after 1970-01-01 00:00", b.symbol,
                           DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(b.ts)))),
                    errdetail("rule: timestamp is the bar's open time in UTC, after 1970-01-01 00:00 (the exchanges' "
                              "epoch: ml_ingest_klines refuses open times <= 0 alike)")));
  if (b.ts % USECS_PER_MINUTE != 0)
    ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                    errmsg("rollingChartData bar %s rejected: timestamp %s is not on a whole minute", b.symbol,
                           DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(b.ts)))),
                    errdetail("rule: timestamp is the bar's open time in UTC, with zero seconds")));
  // Timestamps are UTC; GetCurrentTimestamp() counts UTC microseconds from the same epoch.
  // The clock is read again only for a bar after the last reading plus the tolerance: time only
  // moves on, so a bar before that is not in the future (a backfill reads the clock once).
  static TimestampTz now_seen = 0;
  int64 tolerance = (int64)cml::pg::config_future_tolerance_seconds() * USECS_PER_SEC;
  if (b.ts > now_seen + tolerance) now_seen = GetCurrentTimestamp();
  if (b.ts > now_seen + tolerance)
    ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                    errmsg("rollingChartData bar %s rejected: timestamp %s is in the future", b.symbol,
                           DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(b.ts)))),
                    errdetail("rule: timestamp (UTC) at most data.futureToleranceSeconds (%d) after now",
                              cml::pg::config_future_tolerance_seconds())));
  const char* price_rule = "open, high, low and close are finite and > 0";
  const struct {
    const char* name;
    double v;
    bool n;
  } prices[4] = {{"open", b.open, b.open_null}, {"high", b.high, b.high_null}, {"low", b.low, b.low_null}, {"close", b.close, b.close_null}};
  for (const auto& p : prices) {
    if (p.n)
      ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                      errmsg("rollingChartData bar %s %s rejected: %s is NULL", b.symbol,
                             DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(b.ts))), p.name),
                      errdetail("rule: %s", price_rule)));
    if (!std::isfinite(p.v) || p.v <= 0) {
      char fmt[64];
      snprintf(fmt, sizeof fmt, "%s is %%.10g", p.name);
      reject_bar(b, price_rule, fmt, p.v);
    }
  }
  if (b.high < b.low) reject_bar(b, "low <= open, close <= high", "high (%.10g) is below low (%.10g)", b.high, b.low);
  if (b.open < b.low || b.open > b.high)
    reject_bar(b, "low <= open, close <= high", "open (%.10g) is outside [low, high] = [%.10g, ...]", b.open, b.low);
  if (b.close < b.low || b.close > b.high)
    reject_bar(b, "low <= open, close <= high", "close (%.10g) is outside [low, high] = [%.10g, ...]", b.close, b.low);
  if (!b.volume_null && (!std::isfinite(b.volume) || b.volume < 0))
    reject_bar(b, "volume is NULL or finite and >= 0", "volume is %.10g", b.volume);
}

void require_read_committed() {
  if (IsolationUsesXactSnapshot())
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("rollingChartData can only be written in READ COMMITTED transactions"),
                    errdetail("A bar's indicators depend on the bars other sessions commit; a REPEATABLE READ or "
                              "SERIALIZABLE snapshot could miss them."),
                    errhint("Use BEGIN ISOLATION LEVEL READ COMMITTED (the default).")));
}

// Takes the symbol's lock (until the transaction ends) and bumps its generation: every path that
// changes a symbol's bars or checkpoints takes it. Returns the generation before the bump (0
// without shared memory).
uint64 lock_symbol(const char* symbol) {
  LOCKTAG tag;
  uint32 h = hash_bytes((const unsigned char*)symbol, (int)strlen(symbol));
  SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, kLockKey, h, 2);
  (void)LockAcquire(&tag, ExclusiveLock, false, false);
  return g_shared != nullptr ? pg_atomic_fetch_add_u64(gen_slot(h), 1) : 0;
}

// The symbol's latest bar, by a backward scan of rollingChartData's (symbol, timestamp) index
// under a new snapshot: what the cached state is checked against. False when the table has no
// such index (the caller restores instead); *ts is DT_NOBEGIN when the symbol has no bar.
bool probe_latest_bar(Relation rel, const char* symbol, int symbol_att, int ts_att, Timestamp* ts) {
  Oid index = InvalidOid;
  List* indexes = RelationGetIndexList(rel);
  ListCell* lc;
  foreach (lc, indexes) {
    HeapTuple t = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
    if (!HeapTupleIsValid(t)) continue;
    Form_pg_index ix = (Form_pg_index)GETSTRUCT(t);
    bool match = ix->indisvalid && ix->indnkeyatts == 2 && ix->indkey.values[0] == symbol_att &&
                 ix->indkey.values[1] == ts_att && heap_attisnull(t, Anum_pg_index_indexprs, nullptr) &&
                 heap_attisnull(t, Anum_pg_index_indpred, nullptr);
    ReleaseSysCache(t);
    if (match) {
      index = lfirst_oid(lc);
      break;
    }
  }
  list_free(indexes);
  if (!OidIsValid(index)) return false;
  Relation irel = index_open(index, AccessShareLock);
  if (irel->rd_rel->relam != BTREE_AM_OID || irel->rd_opcintype[0] != TEXTOID) {
    index_close(irel, AccessShareLock);
    return false;
  }
  ScanKeyData key;
  ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid, irel->rd_indcollation[0], F_TEXTEQ,
                         CStringGetTextDatum(symbol));
  Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
  IndexScanDesc scan = index_beginscan(rel, irel, snap, 1, 0);
  index_rescan(scan, &key, 1, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  *ts = DT_NOBEGIN;
  if (index_getnext_slot(scan, BackwardScanDirection, slot)) {
    bool isnull;
    Datum d = slot_getattr(slot, ts_att, &isnull);
    if (!isnull) *ts = DatumGetTimestamp(d);
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  UnregisterSnapshot(snap);
  index_close(irel, AccessShareLock);
  return true;
}

// ---- SPI helpers ----

void spi_run(const char* sql, int nargs, Oid* types, Datum* values, const char* nulls, int expect) {
  int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
  if (rc != expect) elog(ERROR, "cryptoml: SPI returned %d for: %s", rc, sql);
}

// Saved plans of the queries every statement (or every transaction's first bar of a symbol) runs:
// parsed and planned once per backend instead of at each call. They name their tables with the
// schema, so a plan invalidated by DDL is planned again from the same text.
SPIPlanPtr kept_plan(SPIPlanPtr* slot, const char* sql, int nargs, Oid* types) {
  if (*slot == nullptr) {
    SPIPlanPtr p = SPI_prepare(sql, nargs, types);
    if (p == nullptr) elog(ERROR, "cryptoml: SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result), sql);
    if (SPI_keepplan(p) != 0) elog(ERROR, "cryptoml: SPI_keepplan failed for: %s", sql);
    *slot = p;
  }
  return *slot;
}

void run_plan(SPIPlanPtr plan, Datum* values, const char* nulls, int expect, const char* what) {
  int rc = SPI_execute_plan(plan, values, nulls, false, 0);
  if (rc != expect) elog(ERROR, "cryptoml: SPI returned %d for the %s", rc, what);
}

SPIPlanPtr g_plan_write_checkpoint = nullptr, g_plan_prune_checkpoints = nullptr;
SPIPlanPtr g_plan_write_latest = nullptr, g_plan_prune_latest = nullptr;  // flush_statement's, for all symbols at once
SPIPlanPtr g_plan_begin = nullptr;  // for the relation g_plan_begin_rel names
char g_plan_begin_rel[512] = "";

Datum bytea_from(const std::string& s) {
  bytea* b = (bytea*)palloc(VARHDRSZ + s.size());
  SET_VARSIZE(b, VARHDRSZ + s.size());
  memcpy(VARDATA(b), s.data(), s.size());
  return PointerGetDatum(b);
}

// The entry's current state as a palloc'd bytea (serialization is C++, so it runs guarded).
Datum state_bytea(SymbolEntry* e) {
  bytea* out = nullptr;
  guarded("indicators", [&] {
    std::string s = e->state->serialize();
    out = (bytea*)MemoryContextAllocExtended(CurrentMemoryContext, VARHDRSZ + s.size(), MCXT_ALLOC_NO_OOM);
    if (out == nullptr) throw std::bad_alloc();
    SET_VARSIZE(out, VARHDRSZ + s.size());
    memcpy(VARDATA(out), s.data(), s.size());
  });
  return PointerGetDatum(out);
}

void write_checkpoint(const char* symbol, Timestamp ts, int64 bars, Datum state) {
  Oid types[4] = {TEXTOID, TIMESTAMPOID, INT8OID, BYTEAOID};
  Datum values[4] = {CStringGetTextDatum(symbol), TimestampGetDatum(ts), Int64GetDatum(bars), state};
  run_plan(kept_plan(&g_plan_write_checkpoint,
                     "INSERT INTO cryptoml_internal.indicator_checkpoint (symbol, bar_ts, bars, state) VALUES ($1, $2, $3, $4) "
                     "ON CONFLICT (symbol, bar_ts) DO UPDATE SET bars = EXCLUDED.bars, state = EXCLUDED.state",
                     4, types),
           values, nullptr, SPI_OK_INSERT, "checkpoint write");
}

void write_pending_checkpoints(const char* symbol, SymbolEntry* e) {
  for (size_t i = 0; i < e->pending.size(); i++)
    write_checkpoint(symbol, e->pending[i].ts, e->pending[i].bars, bytea_from(e->pending[i].state));
  e->pending.clear();
}

// Keeps the periodic checkpoints and the latest one; earlier "latest" ones are dropped.
void prune_checkpoints(const char* symbol, Timestamp latest) {
  Oid types[3] = {TEXTOID, TIMESTAMPOID, INT8OID};
  Datum values[3] = {CStringGetTextDatum(symbol), TimestampGetDatum(latest), Int64GetDatum(kCheckpointEvery)};
  run_plan(kept_plan(&g_plan_prune_checkpoints,
                     "DELETE FROM cryptoml_internal.indicator_checkpoint WHERE symbol = $1 AND bar_ts < $2 AND bars % $3 <> 0",
                     3, types),
           values, nullptr, SPI_OK_DELETE, "checkpoint pruning");
}

// ---- the per-symbol cache ----

SymbolEntry* entry_for(const char* symbol) {
  if (g_last_entry != nullptr && strcmp(symbol, g_last_symbol) == 0) return g_last_entry;
  SymbolEntry* e = nullptr;
  guarded("indicators", [&] {
    if (g_entries == nullptr) g_entries = new std::unordered_map<std::string, SymbolEntry>();
    if (g_touched == nullptr) g_touched = new std::vector<std::string>();
    e = &(*g_entries)[symbol];
  });
  if (strlen(symbol) < sizeof g_last_symbol) {
    strcpy(g_last_symbol, symbol);
    g_last_entry = e;
  }
  return e;
}

void reset_state(SymbolEntry* e, const IndicatorParams& p) {
  guarded("indicators", [&] { e->state.reset(new IndicatorState(p)); });
}

enum class Restore { ok, other_settings, unreadable };

// Deserializes a checkpoint into e->state when it was written with the current settings. An
// unreadable checkpoint (corrupt bytes, an unknown format version) is reported and treated like
// one with other settings: the bars are the truth, so the symbol is recomputed from them.
Restore load_state(SymbolEntry* e, const char* symbol, bytea* b, const IndicatorParams& p) {
  Restore r = Restore::ok;
  char why[256] = "";
  const char* data = VARDATA_ANY(b);
  size_t len = VARSIZE_ANY_EXHDR(b);
  guarded("indicators", [&] {
    try {
      std::unique_ptr<IndicatorState> s(new IndicatorState(IndicatorState::deserialize(std::string(data, len))));
      if (!(s->params() == p)) r = Restore::other_settings;
      else e->state = std::move(s);
    } catch (const cml::DataError& err) {
      r = Restore::unreadable;
      snprintf(why, sizeof why, "%s", err.what());
    }
  });
  if (r == Restore::unreadable)
    ereport(WARNING, (errmsg("cryptoml: unreadable indicator checkpoint of %s: %s", symbol, why),
                      errdetail("The symbol's indicators are recomputed from its bars.")));
  return r;
}

// The transaction's first touch of a symbol: lock it, then restore its state at its latest bar
// from the latest checkpoint, or mark what must be recomputed.
// When the state this backend committed is still the symbol's (ChartShared): nobody took the
// symbol's lock since, no TRUNCATE, no rolled-back subtransaction here, the same relation and
// settings, and the latest bar (probed) is the one the state ends at.
bool still_current(Relation rel, const char* symbol, SymbolEntry* e, uint64 gen_before) {
  if (g_shared == nullptr || !e->reusable || !e->valid || e->dirty || e->need_latest || !e->pending.empty() ||
      e->gen != gen_before || e->relid != RelationGetRelid(rel) || e->ckpt_ts != e->last_ts ||
      !(e->state->params() == cml::pg::config_indicator_params()))
    return false;
  const Columns& c = columns_of(rel);
  Timestamp latest;
  return probe_latest_bar(rel, symbol, c.symbol, c.ts, &latest) && latest == e->last_ts;
}

void begin_symbol(Relation rel, const char* symbol, SymbolEntry* e) {
  uint64 gen_before = lock_symbol(symbol);
  bool current = still_current(rel, symbol, e, gen_before);
  e->gen = gen_before + 1;
  e->relid = RelationGetRelid(rel);
  e->reusable = true;
  e->lxid = MyProc->lxid;
  e->touched = false;
  if (current) {
    ereport(DEBUG1, (errmsg_internal("cryptoml: indicator state of %s kept from this session's previous transaction", symbol)));
    return;
  }
  e->valid = e->dirty = e->need_latest = false;
  e->dirty_from = DT_NOEND;
  e->pending.clear();
  const IndicatorParams& p = cml::pg::config_indicator_params();
  const char* rel_name = qualified_name(rel);
  Oid owner = rel->rd_rel->relowner;

  Oid types[1] = {TEXTOID};
  Datum values[1] = {CStringGetTextDatum(symbol)};
  OwnerScope scope;
  enter_owner(owner, &scope);
  SPI_connect();
  if (strcmp(g_plan_begin_rel, rel_name) != 0) {  // another relation (a re-created extension): plan again
    if (g_plan_begin != nullptr) SPI_freeplan(g_plan_begin);
    g_plan_begin = nullptr;
    g_plan_begin_rel[0] = '\0';
  }
  if (g_plan_begin == nullptr) {
    // The checkpoint at the latest bar is looked up by its whole key: the symbol's newest
    // checkpoint by "ORDER BY bar_ts DESC LIMIT 1" was planned as a bitmap scan of every
    // checkpoint of the symbol, the periodic ones and the dead earlier "latest" ones included,
    // once per symbol and transaction (issue 19). That scan remains the fallback (Append runs
    // its branches in order; LIMIT 1 stops after the first row) for a symbol whose newest
    // checkpoint is not at its latest bar, or that has no bar.
    char* sql = psprintf(
        "SELECT m.latest, c.bar_ts, c.state, c.bars "
        "FROM (SELECT max(r.timestamp) AS latest FROM %s r WHERE r.symbol = $1) m LEFT JOIN LATERAL ("
        "(SELECT k.bar_ts, k.state, k.bars FROM cryptoml_internal.indicator_checkpoint k WHERE k.symbol = $1 AND k.bar_ts = m.latest) "
        "UNION ALL "
        "(SELECT k.bar_ts, k.state, k.bars FROM cryptoml_internal.indicator_checkpoint k WHERE k.symbol = $1 ORDER BY k.bar_ts DESC LIMIT 1) "
        "LIMIT 1) c ON true",
        rel_name);
    (void)kept_plan(&g_plan_begin, sql, 1, types);
    strlcpy(g_plan_begin_rel, rel_name, sizeof g_plan_begin_rel);
  }
  run_plan(g_plan_begin, values, nullptr, SPI_OK_SELECT, "symbol's latest bar and checkpoint");
  bool latest_null, ckpt_null, state_null;
  HeapTuple row = SPI_tuptable->vals[0];
  TupleDesc td = SPI_tuptable->tupdesc;
  Timestamp latest = DatumGetTimestamp(SPI_getbinval(row, td, 1, &latest_null));
  Timestamp ckpt_ts = DatumGetTimestamp(SPI_getbinval(row, td, 2, &ckpt_null));
  Datum state = SPI_getbinval(row, td, 3, &state_null);
  bool bars_null;
  int64 ckpt_bars = DatumGetInt64(SPI_getbinval(row, td, 4, &bars_null));
  e->ckpt_ts = ckpt_null ? DT_NOBEGIN : ckpt_ts;
  e->ckpt_periodic = !ckpt_null && !bars_null && ckpt_bars % kCheckpointEvery == 0;

  if (latest_null) {  // first bar of this symbol
    reset_state(e, p);
    e->valid = true;
    e->last_ts = DT_NOBEGIN;
    if (!ckpt_null) mark_dirty(e, DT_NOBEGIN);  // leftovers of deleted bars: clear them
  } else if (!ckpt_null && ckpt_ts == latest) {
    Restore r = load_state(e, symbol, DatumGetByteaPP(state), p);
    if (r == Restore::ok) {
      e->valid = true;
      e->last_ts = latest;
    } else {
      if (r == Restore::other_settings)
        ereport(WARNING, (errmsg("cryptoml: the features configuration changed since the indicators of %s were computed", symbol),
                          errdetail("Every bar of %s is recomputed with the new settings at the end of this statement.", symbol),
                          errhint("Run CALL ml_recompute_indicators(); to bring the other symbols up to date.")));
      mark_dirty(e, DT_NOBEGIN);
    }
  } else {
    // Bars newer than the latest checkpoint (written with triggers disabled?): recompute them.
    mark_dirty(e, ckpt_null ? DT_NOBEGIN : ckpt_ts + 1);
  }
  SPI_finish();
  leave_owner(&scope);
}

void touch(const char* symbol, SymbolEntry* e) {
  if (e->touched) return;
  guarded("indicators", [&] { g_touched->push_back(symbol); });
  e->touched = true;
  e->touch_ts = e->valid && !e->dirty ? e->last_ts : DT_NOBEGIN;
}

SymbolEntry* acquire(Relation rel, const char* symbol) {
  SymbolEntry* e = entry_for(symbol);
  if (e->lxid != MyProc->lxid) begin_symbol(rel, symbol, e);
  touch(symbol, e);
  return e;
}

// A cached state made with other features settings is dropped: the symbol is recomputed.
void check_settings(SymbolEntry* e, const char* symbol) {
  if (e->valid && !(e->state->params() == cml::pg::config_indicator_params())) {
    ereport(WARNING, (errmsg("cryptoml: the features configuration changed while indicators of %s were cached", symbol),
                      errdetail("Every bar of %s is recomputed with the new settings at the end of this statement.", symbol),
                      errhint("Run CALL ml_recompute_indicators(); to bring the other symbols up to date.")));
    e->valid = false;
    mark_dirty(e, DT_NOBEGIN);
  }
}

// The O(1) path of an in-order bar (valid, clean state; b.ts after e->last_ts).
void advance(SymbolEntry* e, const Bar& b, IndicatorValues* v) {
  guarded("indicators", [&] {
    *v = e->state->update(b.high, b.low, b.close);
    if (e->state->bars() % kCheckpointEvery == 0)
      e->pending.push_back(PendingCheckpoint{b.ts, e->state->bars(), e->state->serialize()});
  });
  e->last_ts = b.ts;
  e->need_latest = true;
}

// The 11 indicator columns of a row (v == nullptr: NULL, is_complete false), as stored.
void indicator_datums(const Columns& c, const IndicatorValues* v, Datum* values, bool* nulls) {
  const double x[10] = {v ? v->rsi : NAN,      v ? v->macd : NAN,       v ? v->macd_signal : NAN, v ? v->macd_hist : NAN,
                        v ? v->bb_upper : NAN, v ? v->bb_middle : NAN,  v ? v->bb_lower : NAN,    v ? v->stoch_k : NAN,
                        v ? v->stoch_d : NAN,  v ? v->volatility : NAN};
  for (int i = 0; i < 10; i++) {
    int a = c.ind[i] - 1;
    values[a] = to_column_numeric(x[i], c.typmod[i], kIndicatorColumns[i], &nulls[a]);
  }
  int a = c.ind[10] - 1;
  values[a] = BoolGetDatum(v != nullptr && v->complete());
  nulls[a] = false;
}

// The row with its indicator columns replaced; identification copied as heap_modify_tuple does.
HeapTuple set_indicators(Relation rel, const Columns& c, HeapTuple orig, Row& row, const IndicatorValues* v) {
  indicator_datums(c, v, row.values, row.nulls);
  HeapTuple t = heap_form_tuple(RelationGetDescr(rel), row.values, row.nulls);
  t->t_data->t_ctid = orig->t_data->t_ctid;
  t->t_self = orig->t_self;
  t->t_tableOid = orig->t_tableOid;
  return t;
}

// ---- recompute ----

// Replays the symbol's bars after the last checkpoint before `rewrite_from` into e->state and
// rewrites the indicators of the bars at or after `rewrite_from` (all bars when the checkpoints
// were written with other settings). Writes periodic checkpoints and the latest one. With
// `after_batch`, the latest checkpoint is written after every batch and after_batch is called
// outside SPI (it may commit). Returns the number of bars rewritten. Buffers are allocated in
// the caller's memory context, which must outlive commits made by after_batch.
int64 recompute(const Columns& c, const char* rel_name, const char* symbol, SymbolEntry* e, Timestamp rewrite_from,
                int batch_size, void (*after_batch)(const char* symbol, Timestamp cursor, int64 rewritten, void* arg),
                void* arg) {
  const IndicatorParams& p = cml::pg::config_indicator_params();
  MemoryContext work = CurrentMemoryContext;
  Datum sym = CStringGetTextDatum(symbol);
  char* select_sql = psprintf(
      "SELECT id, timestamp, high::float8, low::float8, close::float8 FROM %s WHERE symbol = $1 AND timestamp > $2 "
      "ORDER BY timestamp LIMIT %d", rel_name, batch_size);
  char* update_sql = psprintf(
      "UPDATE %s r SET rsi = u.v1, macd = u.v2, macd_signal = u.v3, macd_hist = u.v4, bollinger_upper = u.v5, "
      "bollinger_middle = u.v6, bollinger_lower = u.v7, stochastic_k = u.v8, stochastic_d = u.v9, volatility = u.v10, "
      "is_complete = u.c FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
      "AS u(id, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, c) WHERE r.id = u.id", rel_name);
  int32* ids = (int32*)palloc(sizeof(int32) * batch_size);
  Timestamp* ts = (Timestamp*)palloc(sizeof(Timestamp) * batch_size);
  double* hlc = (double*)palloc(sizeof(double) * batch_size * 3);
  double* out = (double*)palloc(sizeof(double) * batch_size * 10);
  bool* complete = (bool*)palloc(sizeof(bool) * batch_size);

  recompute_enter();
  OwnerScope scope;
  enter_owner(c.owner, &scope);
  SPI_connect();
  Oid t2[2] = {TEXTOID, TIMESTAMPOID};
  Datum v2[2] = {sym, TimestampGetDatum(rewrite_from)};
  spi_run("SELECT bar_ts, state FROM cryptoml_internal.indicator_checkpoint WHERE symbol = $1 AND bar_ts < $2 "
          "ORDER BY bar_ts DESC LIMIT 1", 2, t2, v2, nullptr, SPI_OK_SELECT);
  Timestamp cursor = DT_NOBEGIN;
  bool restored = false;
  if (SPI_processed == 1) {
    bool isnull;
    Timestamp at = DatumGetTimestamp(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    Datum st = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
    restored = load_state(e, symbol, DatumGetByteaPP(st), p) == Restore::ok;
    if (restored) cursor = at;
  }
  if (!restored) {  // no checkpoint, or one written with other settings: every bar is rewritten
    reset_state(e, p);
    rewrite_from = DT_NOBEGIN;
    v2[1] = TimestampGetDatum(rewrite_from);
  }
  spi_run("DELETE FROM cryptoml_internal.indicator_checkpoint WHERE symbol = $1 AND bar_ts >= $2", 2, t2, v2, nullptr,
          SPI_OK_DELETE);

  int64 rewritten = 0;
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    Datum sv[2] = {sym, TimestampGetDatum(cursor)};
    spi_run(select_sql, 2, t2, sv, nullptr, SPI_OK_SELECT);
    int n = (int)SPI_processed;
    if (n == 0) break;
    for (int i = 0; i < n; i++) {
      HeapTuple row = SPI_tuptable->vals[i];
      TupleDesc td = SPI_tuptable->tupdesc;
      bool isnull;
      ids[i] = DatumGetInt32(SPI_getbinval(row, td, 1, &isnull));
      ts[i] = DatumGetTimestamp(SPI_getbinval(row, td, 2, &isnull));
      for (int k = 0; k < 3; k++) hlc[i * 3 + k] = DatumGetFloat8(SPI_getbinval(row, td, 3 + k, &isnull));
    }
    SPI_freetuptable(SPI_tuptable);
    guarded("indicators", [&] {  // the C++ part: advance the state over the batch
      for (int i = 0; i < n; i++) {
        IndicatorValues v = e->state->update(hlc[i * 3], hlc[i * 3 + 1], hlc[i * 3 + 2]);
        const double x[10] = {v.rsi, v.macd, v.macd_signal, v.macd_hist, v.bb_upper,
                              v.bb_middle, v.bb_lower, v.stoch_k, v.stoch_d, v.volatility};
        memcpy(&out[i * 10], x, sizeof x);
        complete[i] = v.complete();
        if (e->state->bars() % kCheckpointEvery == 0)
          e->pending.push_back(PendingCheckpoint{ts[i], e->state->bars(), e->state->serialize()});
      }
    });
    // Bars before rewrite_from were replayed only to rebuild the state: their values stand.
    int first = 0;
    while (first < n && ts[first] < rewrite_from) first++;
    int m = n - first;
    if (m > 0) {
      Datum args[12];
      Oid types[12];
      int dims[1] = {m}, lbs[1] = {1};
      Datum* idd = (Datum*)palloc(sizeof(Datum) * m);
      Datum* comp = (Datum*)palloc(sizeof(Datum) * m);
      for (int i = 0; i < m; i++) {
        idd[i] = Int32GetDatum(ids[first + i]);
        comp[i] = BoolGetDatum(complete[first + i]);
      }
      args[0] = PointerGetDatum(construct_array(idd, m, INT4OID, 4, true, TYPALIGN_INT));
      types[0] = INT4ARRAYOID;
      for (int k = 0; k < 10; k++) {
        Datum* vals = (Datum*)palloc(sizeof(Datum) * m);
        bool* nulls = (bool*)palloc(sizeof(bool) * m);
        for (int i = 0; i < m; i++)
          vals[i] = to_column_numeric(out[(first + i) * 10 + k], c.typmod[k], kIndicatorColumns[k], &nulls[i]);
        args[k + 1] = PointerGetDatum(construct_md_array(vals, nulls, 1, dims, lbs, NUMERICOID, -1, false, TYPALIGN_INT));
        types[k + 1] = NUMERICARRAYOID;
      }
      args[11] = PointerGetDatum(construct_array(comp, m, BOOLOID, 1, true, TYPALIGN_CHAR));
      types[11] = BOOLARRAYOID;
      spi_run(update_sql, 12, types, args, nullptr, SPI_OK_UPDATE);
      rewritten += m;
    }
    cursor = ts[n - 1];
    write_pending_checkpoints(symbol, e);
    if (after_batch) {
      write_checkpoint(symbol, cursor, e->state->bars(), state_bytea(e));
      SPI_finish();
      leave_owner(&scope);
      MemoryContextSwitchTo(work);
      after_batch(symbol, cursor, rewritten, arg);
      enter_owner(c.owner, &scope);
      SPI_connect();
    }
    if (n < batch_size) break;
  }
  if (cursor != DT_NOBEGIN) {  // the latest checkpoint: the state after the last bar
    write_checkpoint(symbol, cursor, e->state->bars(), state_bytea(e));
    prune_checkpoints(symbol, cursor);
  }
  SPI_finish();
  leave_owner(&scope);
  MemoryContextSwitchTo(work);
  e->valid = true;
  e->last_ts = cursor;
  e->ckpt_ts = cursor;  // the latest written above (pruning kept it), or none: every checkpoint was deleted
  e->ckpt_periodic = cursor != DT_NOBEGIN && e->state->bars() % kCheckpointEvery == 0;
  e->dirty = e->need_latest = false;
  e->dirty_from = DT_NOEND;
  recompute_leave();
  return rewritten;
}

// End of a statement: recompute dirty symbols, write the checkpoints of the others.
void flush_statement(Relation rel) {
  if (g_touched == nullptr || g_touched->empty()) return;
  const Columns& c = columns_of(rel);
  const char* rel_name = qualified_name(rel);
  int batch = Max(cml::pg::config_backfill_batch_size(), 1000);
  int n = (int)g_touched->size(), nl = 0;
  Datum* latest_sym = (Datum*)palloc(sizeof(Datum) * n);
  Datum* latest_ts = (Datum*)palloc(sizeof(Datum) * n);
  Datum* latest_bars = (Datum*)palloc(sizeof(Datum) * n);
  Datum* latest_state = (Datum*)palloc(sizeof(Datum) * n);
  Datum* prev_sym = (Datum*)palloc(sizeof(Datum) * n);  // previous non-periodic latest rows: deleted
  Datum* prev_ts = (Datum*)palloc(sizeof(Datum) * n);
  int np = 0;
  for (size_t i = 0; i < g_touched->size(); i++) {
    const char* symbol = (*g_touched)[i].c_str();
    SymbolEntry* e = entry_for(symbol);
    e->touched = false;
    Timestamp since = e->touch_ts == DT_NOBEGIN ? DT_NOBEGIN : e->touch_ts + 1;
    if (e->dirty && e->dirty_from < since) since = e->dirty_from;
    guarded("indicators", [&] {
      if (g_changes == nullptr) g_changes = new std::vector<BarChange>();
      g_changes->push_back(BarChange{symbol, since});
    });
    if (e->dirty) {
      (void)recompute(c, rel_name, symbol, e, e->dirty_from, batch, nullptr, nullptr);
      continue;
    }
    if (!e->pending.empty()) {  // periodic checkpoints (every kCheckpointEvery bars)
      OwnerScope scope;
      enter_owner(c.owner, &scope);
      SPI_connect();
      write_pending_checkpoints(symbol, e);
      SPI_finish();
      leave_owner(&scope);
    }
    if (e->need_latest) {  // written below, with the other symbols'
      latest_sym[nl] = CStringGetTextDatum(symbol);
      latest_ts[nl] = TimestampGetDatum(e->last_ts);
      latest_bars[nl] = Int64GetDatum(e->state->bars());
      latest_state[nl] = state_bytea(e);
      if (e->ckpt_ts != DT_NOBEGIN && !e->ckpt_periodic && e->ckpt_ts < e->last_ts) {
        prev_sym[np] = latest_sym[nl];
        prev_ts[np] = TimestampGetDatum(e->ckpt_ts);
        np++;
      }
      nl++;
      e->need_latest = false;
      e->ckpt_ts = e->last_ts;
      e->ckpt_periodic = e->state->bars() % kCheckpointEvery == 0;
    }
  }
  if (nl > 0) {  // the latest checkpoints, and earlier non-periodic ones dropped: one statement each
    OwnerScope scope;
    enter_owner(c.owner, &scope);
    SPI_connect();
    Oid types[4] = {TEXTARRAYOID, TIMESTAMPARRAYOID, INT8ARRAYOID, BYTEAARRAYOID};
    Datum args[4] = {PointerGetDatum(construct_array(latest_sym, nl, TEXTOID, -1, false, TYPALIGN_INT)),
                     PointerGetDatum(construct_array(latest_ts, nl, TIMESTAMPOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                     PointerGetDatum(construct_array(latest_bars, nl, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                     PointerGetDatum(construct_array(latest_state, nl, BYTEAOID, -1, false, TYPALIGN_INT))};
    run_plan(kept_plan(&g_plan_write_latest,
                       "INSERT INTO cryptoml_internal.indicator_checkpoint (symbol, bar_ts, bars, state) "
                       "SELECT * FROM unnest($1, $2, $3, $4) "
                       "ON CONFLICT (symbol, bar_ts) DO UPDATE SET bars = EXCLUDED.bars, state = EXCLUDED.state",
                       4, types),
             args, nullptr, SPI_OK_INSERT, "latest checkpoints' write");
    if (np > 0) {
      // Each symbol's previous latest row, by its key. The row ids are collected by one index
      // lookup per symbol (LATERAL), then deleted by a TID scan: a join here was planned as a
      // hash join over a sequential scan of the whole table, dead rows included (issue 19).
      Oid ptypes[2] = {TEXTARRAYOID, TIMESTAMPARRAYOID};
      Datum pargs[2] = {PointerGetDatum(construct_array(prev_sym, np, TEXTOID, -1, false, TYPALIGN_INT)),
                        PointerGetDatum(construct_array(prev_ts, np, TIMESTAMPOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))};
      run_plan(kept_plan(&g_plan_prune_latest,
                         "DELETE FROM cryptoml_internal.indicator_checkpoint WHERE ctid = ANY (ARRAY("
                         "SELECT c.ctid FROM unnest($1, $2) AS u(symbol, bar_ts), LATERAL ("
                         "SELECT k.ctid FROM cryptoml_internal.indicator_checkpoint k "
                         "WHERE k.symbol = u.symbol AND k.bar_ts = u.bar_ts) c))",
                         2, ptypes),
               pargs, nullptr, SPI_OK_DELETE, "checkpoint pruning");
    }
    SPI_finish();
    leave_owner(&scope);
  }
  g_touched->clear();
}

}  // namespace

namespace cml {
namespace pg {
double numeric_value(Datum d) { return numeric_to_double(d); }
}  // namespace pg
}  // namespace cml

// No cached state is kept past its transaction after an invalidation of rollingChartData (ALTER
// TABLE ... DISABLE TRIGGER, a new index, ANALYZE) or of the node's symbol roles (a move): a
// symbol changed by such a path is restored from its checkpoint and bars.
void cml::pg::chart_forget_states() {
  if (g_entries == nullptr) return;
  for (auto& kv : *g_entries) kv.second.reusable = false;
}

static void chart_relcache_callback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == g_cols.relid) cml::pg::chart_forget_states();
}

void cml::pg::chart_init() {
  RegisterXactCallback(xact_callback, nullptr);
  RegisterSubXactCallback(subxact_callback, nullptr);
  CacheRegisterRelcacheCallback(chart_relcache_callback, (Datum)0);
  if (process_shared_preload_libraries_in_progress) {
    g_prev_shmem_request = shmem_request_hook;
    shmem_request_hook = chart_shmem_request;
    g_prev_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = chart_shmem_startup;
  }
}

// A bar on a day that compression moved to cryptoml_internal.chart_archive is refused: merging it
// would need the archived day back (see docs/upkeep.md). Only late bars reach this check.
void refuse_if_archived(Oid owner, const char* symbol, Timestamp ts) {
  OwnerScope scope;
  enter_owner(owner, &scope);
  SPI_connect();
  Oid types[2] = {TEXTOID, TIMESTAMPOID};
  Datum values[2] = {CStringGetTextDatum(symbol), TimestampGetDatum(ts)};
  spi_run("SELECT 1 FROM cryptoml_internal.chart_archive WHERE symbol = $1 AND day = $2::date", 2, types, values, nullptr,
          SPI_OK_SELECT);
  bool archived = SPI_processed > 0;
  SPI_finish();
  leave_owner(&scope);
  if (archived)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("rollingChartData bar %s %s rejected: its day is archived", symbol,
                           DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(ts)))),
                    errdetail("rule: bars older than data.compressionThreshold are moved, one day per symbol, to the archive "
                              "that ml_chart_history reads; a late bar cannot be merged into an archived day"),
                    errhint("Read the archived bars with ml_chart_history.")));
}

// The new row of an UPDATE with the old row's indicator columns: an UPDATE cannot set them.
HeapTuple keep_indicators(Relation rel, const Columns& c, HeapTuple newtup, HeapTuple oldtup) {
  TupleDesc desc = RelationGetDescr(rel);
  int cols[11];
  Datum vals[11];
  bool nulls[11];
  bool changed = false;
  for (int i = 0; i < 11; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, c.ind[i] - 1);
    bool new_null;
    Datum nv = heap_getattr(newtup, c.ind[i], desc, &new_null);
    cols[i] = c.ind[i];
    vals[i] = heap_getattr(oldtup, c.ind[i], desc, &nulls[i]);
    if (new_null != nulls[i] || (!new_null && !datumIsEqual(nv, vals[i], att->attbyval, att->attlen))) changed = true;
  }
  return changed ? heap_modify_tuple_by_cols(newtup, desc, 11, cols, vals, nulls) : newtup;
}

static void follow_changed_trades(Relation rel);
// The statement's changes (g_changes) handed to trade following, as the table owner. The list is
// copied first: nothing C++ is touched once PostgreSQL runs.
static void follow_changed_trades(Relation rel) {
  int n = (int)g_changes->size();
  const char** symbols = (const char**)palloc(sizeof(char*) * n);
  Timestamp* since = (Timestamp*)palloc(sizeof(Timestamp) * n);
  for (int i = 0; i < n; i++) {
    symbols[i] = pstrdup((*g_changes)[i].symbol.c_str());
    since[i] = (*g_changes)[i].since;
  }
  const char* schema = quote_identifier(get_namespace_name(RelationGetNamespace(rel)));
  OwnerScope scope;
  enter_owner(rel->rd_rel->relowner, &scope);
  SPI_connect();
  cml::pg::follow_trades(schema, n, symbols, since);
  SPI_finish();
  leave_owner(&scope);
}

// BEFORE INSERT OR UPDATE OR DELETE, FOR EACH ROW.
Datum cml_chart_row_trigger(PG_FUNCTION_ARGS) {
  if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "cml_chart_row_trigger: not called as a trigger");
  TriggerData* td = (TriggerData*)fcinfo->context;
  if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
    elog(ERROR, "cml_chart_row_trigger: must be a BEFORE ... FOR EACH ROW trigger");
  Relation rel = td->tg_relation;
  HeapTuple result = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
  if (g_recompute_depth > 0) return PointerGetDatum(result);
  const Columns& c = columns_of(rel);
  TupleDesc desc = RelationGetDescr(rel);
  require_read_committed();

  if (TRIGGER_FIRED_BY_DELETE(td->tg_event)) {
    Bar old;
    if (read_bar(c, deform(td->tg_trigtuple, desc), &old)) {
      cml::pg::node_require_owned(old.symbol, "rollingChartData: deleting bars of");
      mark_dirty(acquire(rel, old.symbol), old.ts);
    }
    return PointerGetDatum(result);
  }

  Row row = deform(result, desc);
  Bar b;
  if (!read_bar(c, row, &b)) return PointerGetDatum(result);  // NOT NULL reports it

  if (TRIGGER_FIRED_BY_UPDATE(td->tg_event)) {
    Bar old;
    bool has_old = read_bar(c, deform(td->tg_trigtuple, desc), &old);
    bool moved = !has_old || strcmp(old.symbol, b.symbol) != 0 || old.ts != b.ts;
    bool repriced = !has_old || old.high != b.high || old.low != b.low || old.close != b.close ||
                    old.open != b.open || old.high_null != b.high_null || old.low_null != b.low_null ||
                    old.close_null != b.close_null || old.open_null != b.open_null;
    bool revolumed = !has_old || old.volume != b.volume || old.volume_null != b.volume_null;
    if (!moved && !repriced) {
      if (revolumed) validate_bar(b);
      // Indicators do not depend on what changed, and are computed, never accepted: values the
      // statement wrote into them are replaced by the stored (computed) ones.
      return PointerGetDatum(keep_indicators(rel, c, result, td->tg_trigtuple));
    }
    validate_bar(b);
    if (moved) refuse_if_archived(rel->rd_rel->relowner, b.symbol, b.ts);
    if (has_old) mark_dirty(acquire(rel, old.symbol), old.ts);
    mark_dirty(acquire(rel, b.symbol), b.ts);
    return PointerGetDatum(set_indicators(rel, c, result, row, nullptr));  // rewritten at statement end
  }

  // INSERT
  validate_bar(b);
  SymbolEntry* e = acquire(rel, b.symbol);
  check_settings(e, b.symbol);
  if (e->valid && !e->dirty && b.ts > e->last_ts) {  // the O(1) path: an in-order bar
    IndicatorValues v;
    advance(e, b, &v);
    return PointerGetDatum(set_indicators(rel, c, result, row, &v));
  }
  // Late or duplicate (ON CONFLICT) bar, or one after an unusable state: the statement trigger
  // recomputes the symbol from here.
  if (b.ts < e->last_ts || !e->valid) refuse_if_archived(rel->rd_rel->relowner, b.symbol, b.ts);
  mark_dirty(e, b.ts);
  return PointerGetDatum(set_indicators(rel, c, result, row, nullptr));
}

// AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE, FOR EACH STATEMENT.
Datum cml_chart_statement_trigger(PG_FUNCTION_ARGS) {
  if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "cml_chart_statement_trigger: not called as a trigger");
  TriggerData* td = (TriggerData*)fcinfo->context;
  if (g_recompute_depth > 0) return PointerGetDatum(nullptr);
  if (g_changes != nullptr) g_changes->clear();
  if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event)) {
    OwnerScope scope;
    enter_owner(td->tg_relation->rd_rel->relowner, &scope);
    SPI_connect();
    spi_run("DELETE FROM cryptoml_internal.indicator_checkpoint", 0, nullptr, nullptr, nullptr, SPI_OK_DELETE);
    SPI_finish();
    leave_owner(&scope);
    xact_callback(XACT_EVENT_ABORT, nullptr);  // forget every cached state
    return PointerGetDatum(nullptr);
  }
  flush_statement(td->tg_relation);
  // New and corrected bars re-evaluate the simulated trades they concern (follow.hpp): every
  // active trade of a changed symbol, and completed trades whose window ends at or after the
  // first changed bar. A DELETE leaves the trades as they are.
  if ((TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)) && g_changes != nullptr &&
      !g_changes->empty())
    follow_changed_trades(td->tg_relation);
  return PointerGetDatum(nullptr);
}

// ---- CALL ml_recompute_indicators(symbol, since) ----

namespace {

// rollingChartData of the extension, wherever it was installed. Caller is connected to SPI.
Oid chart_relid() {
  spi_run("SELECT c.oid FROM pg_class c JOIN pg_extension e ON e.extnamespace = c.relnamespace "
          "WHERE e.extname = 'cryptoml' AND c.relname = 'rollingchartdata'", 0, nullptr, nullptr, nullptr, SPI_OK_SELECT);
  if (SPI_processed != 1) elog(ERROR, "cryptoml: rollingChartData not found");
  bool isnull;
  return DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

struct RecomputeRun {
  const char* schema;  // the extension's schema, quoted
  const char* op_id;
  const char* since_json;  // the run's `since` as JSON, to recognise the same run when resuming
  int* pin;                // the search_path pin of the current transaction (re-pinned after each commit)
};

char* timestamp_json(Timestamp ts) {
  if (ts == DT_NOBEGIN) return pstrdup("null");
  return psprintf("\"%s\"", DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(ts))));
}

// After every batch of a procedure call: commit it, then record it in recoveryState.
void commit_batch(const char* symbol, Timestamp cursor, int64 rewritten, void* arg) {
  RecomputeRun* run = (RecomputeRun*)arg;
  SPI_commit();
  *run->pin = cml::pg::pin_search_path();  // the commit reset it
  char* state = psprintf("{\"since\": %s, \"cursor\": %s, \"rewritten\": " INT64_FORMAT "}", run->since_json,
                         timestamp_json(cursor), rewritten);
  cml::pg::checkpoint_write("indicators", run->op_id, "intermediate", state);
  ereport(NOTICE, (errmsg("ml_recompute_indicators: %s committed up to %s (%lld bars rewritten)", symbol,
                          DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(cursor))), (long long)rewritten)));
  lock_symbol(symbol);  // the commit released it
  entry_for(symbol)->lxid = MyProc->lxid;
}

// Where an interrupted run with the same arguments stopped, or `since` when there is none.
Timestamp resume_point(const RecomputeRun& run, Timestamp since) {
  Oid types[2] = {TEXTOID, TEXTOID};
  Datum values[2] = {CStringGetTextDatum("indicators"), CStringGetTextDatum(run.op_id)};
  char* sql = psprintf("SELECT checkpoint_type, state_data->>'cursor', (state_data->'since')::text FROM %s.recoverystate "
                       "WHERE service_name = $1 AND operation_id = $2 AND origin = 'cryptoml' ORDER BY created_at DESC, id DESC LIMIT 1",
                       run.schema);
  spi_run(sql, 2, types, values, nullptr, SPI_OK_SELECT);
  if (SPI_processed == 0) return since;
  char* type = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
  char* cursor = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
  char* prev_since = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
  if (strcmp(type, "intermediate") != 0 || cursor == nullptr || prev_since == nullptr ||
      strcmp(prev_since, run.since_json) != 0)
    return since;
  Timestamp at = DatumGetTimestamp(DirectFunctionCall3(timestamp_in, CStringGetDatum(cursor), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
  ereport(NOTICE, (errmsg("ml_recompute_indicators: resuming %s after %s", run.op_id, cursor)));
  return at + 1;
}

}  // namespace

Datum ml_recompute_indicators(PG_FUNCTION_ARGS) {
  bool nonatomic = fcinfo->context != nullptr && IsA(fcinfo->context, CallContext) &&
                   !castNode(CallContext, fcinfo->context)->atomic;
  require_read_committed();
  const char* only = PG_ARGISNULL(0) ? nullptr : cml::pg::symbol_arg(PG_GETARG_TEXT_PP(0));
  Timestamp since = PG_ARGISNULL(1) ? DT_NOBEGIN : PG_GETARG_TIMESTAMP(1);
  if (!PG_ARGISNULL(1) && TIMESTAMP_NOT_FINITE(since))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("since must be a finite timestamp or NULL")));
  // Survives the commits between batches; freed at the end (an error leaves it to the backend).
  MemoryContext work = AllocSetContextCreate(TopMemoryContext, "cryptoml recompute", ALLOCSET_DEFAULT_SIZES);
  MemoryContext caller = MemoryContextSwitchTo(work);
  // A procedure that commits cannot carry SET search_path: pinned here and after every commit.
  int pin = cml::pg::pin_search_path();
  SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0);

  Oid relid = chart_relid();
  Relation rel = table_open(relid, AccessShareLock);
  Columns c = columns_of(rel);
  const char* rel_name = qualified_name(rel);
  const char* schema = quote_identifier(get_namespace_name(RelationGetNamespace(rel)));
  table_close(rel, AccessShareLock);

  char* list_sql = psprintf("SELECT DISTINCT symbol::text FROM %s %s ORDER BY 1", rel_name, only ? "WHERE symbol = $1" : "");
  Oid t1[1] = {TEXTOID};
  Datum v1[1] = {only ? CStringGetTextDatum(only) : (Datum)0};
  spi_run(list_sql, only ? 1 : 0, t1, v1, nullptr, SPI_OK_SELECT);
  int nsymbols = (int)SPI_processed;
  char** symbols = (char**)palloc(sizeof(char*) * Max(nsymbols, 1));
  for (int i = 0; i < nsymbols; i++) symbols[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
  if (only != nullptr && nsymbols == 0)
    ereport(NOTICE, (errmsg("ml_recompute_indicators: symbol \"%s\" has no bars", only)));

  int batch = cml::pg::config_backfill_batch_size();
  int64 total = 0;
  cml::pg::progress_begin("recompute", only, nsymbols, nonatomic);
  for (int i = 0; i < nsymbols; i++) {
    cml::pg::progress_phase(psprintf("symbol %s", symbols[i]), i);
    RecomputeRun run{schema, psprintf("recompute %s", symbols[i]), timestamp_json(since), &pin};
    Timestamp from = nonatomic ? resume_point(run, since) : since;
    lock_symbol(symbols[i]);
    SymbolEntry* e = entry_for(symbols[i]);
    e->lxid = MyProc->lxid;
    e->touched = false;
    e->pending.clear();
    int64 n = recompute(c, rel_name, symbols[i], e, from, batch, nonatomic ? commit_batch : nullptr, &run);
    total += n;
    char* state = psprintf("{\"since\": %s, \"cursor\": %s, \"rewritten\": " INT64_FORMAT "}", run.since_json,
                           timestamp_json(e->last_ts), n);
    cml::pg::checkpoint_write("indicators", run.op_id, "success", state);
    cml::pg::progress_update(i + 1);
  }
  cml::pg::progress_end();
  SPI_finish();
  cml::pg::unpin_search_path(pin);
  MemoryContextSwitchTo(caller);
  MemoryContextDelete(work);
  // A procedure with an INOUT parameter returns a record holding it.
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "cryptoml: expected a record result");
  desc = BlessTupleDesc(desc);
  Datum values[1] = {Int64GetDatum(total)};
  bool nulls[1] = {false};
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

// Test hook: how many elements of a numeric[] convert to a different double through the fast path
// than through numeric_float8 (must be 0), and how many took the fast path at all.
Datum cml_numeric_to_double_mismatches(PG_FUNCTION_ARGS) {
  ArrayType* a = PG_GETARG_ARRAYTYPE_P(0);
  Datum* elems;
  bool* nulls;
  int n;
  deconstruct_array(a, NUMERICOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
  int64 mismatches = 0, fast = 0;
  for (int i = 0; i < n; i++) {
    if (nulls[i]) continue;
    double x, y = DatumGetFloat8(DirectFunctionCall1(numeric_float8, elems[i]));
    if (numeric_to_double_fast(elems[i], &x)) {
      fast++;
      if (memcmp(&x, &y, sizeof x) != 0) mismatches++;
    }
  }
  Datum out[2] = {Int64GetDatum(mismatches), Int64GetDatum(fast)};
  PG_RETURN_ARRAYTYPE_P(construct_array(out, 2, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

// Test hook: how many of the int8[] values v give, as v / 10^scale, other numeric bytes through
// the trigger's encoder (scaled_int_to_numeric) than through int64_div_fast_to_numeric (must be 0).
Datum cml_column_numeric_mismatches(PG_FUNCTION_ARGS) {
  ArrayType* a = PG_GETARG_ARRAYTYPE_P(0);
  int32 scale = PG_GETARG_INT32(1);
  if (scale < 0 || scale > 1000)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("scale %d is out of range", scale),
                    errdetail("rule: 0 <= scale <= 1000")));
  Datum* elems;
  bool* nulls;
  int n;
  deconstruct_array(a, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
  int64 mismatches = 0;
  for (int i = 0; i < n; i++) {
    if (nulls[i]) continue;
    int64 v = DatumGetInt64(elems[i]);
    Datum x = scaled_int_to_numeric(v, scale);
    Datum y = NumericGetDatum(int64_div_fast_to_numeric(v, scale));
    if (VARSIZE(DatumGetPointer(x)) != VARSIZE(DatumGetPointer(y)) ||
        memcmp(DatumGetPointer(x), DatumGetPointer(y), VARSIZE(DatumGetPointer(x))) != 0)
      mismatches++;
  }
  PG_RETURN_INT64(mismatches);
}

// ---- cryptoml_internal.delete_history(symbol, before, max_rows): retention's delete path ----
//
// Deletes up to max_rows of the symbol's oldest bars before `before` without the recompute a
// DELETE would trigger: the bars that stay keep the indicators computed with the deleted ones as
// warm-up (a recompute from the new first bar would change them). Indicator checkpoints before
// the cutoff go too, except the newest one, from which a late bar older than the cutoff is still
// computed as before. Runs as the table owner under the symbol's lock.
Datum cml_delete_history(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_INT64(0);
  require_read_committed();
  text* sym = PG_GETARG_TEXT_PP(0);
  Timestamp before = PG_GETARG_TIMESTAMP(1);
  int32 max_rows = PG_GETARG_INT32(2);
  if (max_rows < 1)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("max_rows must be at least 1, not %d", max_rows)));
  char* symbol = text_to_cstring(sym);
  lock_symbol(symbol);
  SPI_connect();
  Oid relid = chart_relid();
  Relation rel = table_open(relid, AccessShareLock);
  const char* rel_name = qualified_name(rel);
  Oid owner = rel->rd_rel->relowner;
  table_close(rel, AccessShareLock);
  Oid types[3] = {TEXTOID, TIMESTAMPOID, INT4OID};
  Datum values[3] = {PointerGetDatum(sym), TimestampGetDatum(before), Int32GetDatum(max_rows)};
  int64 deleted = 0;
  OwnerScope scope;
  enter_owner(owner, &scope);
  recompute_enter();
  PG_TRY();
  {
    spi_run(psprintf("DELETE FROM %s WHERE id IN (SELECT id FROM %s WHERE symbol = $1 AND timestamp < $2 "
                     "ORDER BY timestamp LIMIT $3)", rel_name, rel_name),
            3, types, values, nullptr, SPI_OK_DELETE);
    deleted = (int64)SPI_processed;
    spi_run("DELETE FROM cryptoml_internal.indicator_checkpoint WHERE symbol = $1 AND bar_ts < $2 AND bar_ts < "
            "(SELECT max(k.bar_ts) FROM cryptoml_internal.indicator_checkpoint k WHERE k.symbol = $1 AND k.bar_ts < $2)",
            2, types, values, nullptr, SPI_OK_DELETE);
  }
  PG_FINALLY();
  {
    recompute_leave();
  }
  PG_END_TRY();
  leave_owner(&scope);
  SPI_finish();
  PG_RETURN_INT64(deleted);
}

// cryptoml_internal.statement_bar_changes(): (symbol, since) for each symbol whose bars the current
// statement changed, as the indicators' statement trigger recorded them; since is NULL when any
// bar may have changed.
Datum cml_statement_bar_changes(PG_FUNCTION_ARGS) {
  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  // nothing while our own recompute UPDATEs run (the outer statement reports its changes after)
  size_t n = g_changes && g_recompute_depth == 0 ? g_changes->size() : 0;
  for (size_t i = 0; i < n; i++) {
    Datum v[2];
    bool nulls[2] = {false, false};
    v[0] = CStringGetTextDatum((*g_changes)[i].symbol.c_str());
    Timestamp since = (*g_changes)[i].since;
    nulls[1] = since == DT_NOBEGIN;
    v[1] = TimestampGetDatum(since);
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
  }
  return (Datum)0;
}

// ---- appending bars without the row trigger (chart.hpp; the bulk loader, bulk_load.cpp) ----

void cml::pg::chart_validate_bar(const ChartBar& b) { validate_bar(b); }

bool cml::pg::chart_decimal_in(const char* text, int32 typmod, Datum* out) { return decimal_text_to_numeric(text, typmod, out); }

cml::pg::ChartAppend* cml::pg::chart_append_begin(Relation rel, const char* symbol, Timestamp* last_ts) {
  require_read_committed();
  SymbolEntry* e = acquire(rel, symbol);
  check_settings(e, symbol);
  if (!e->valid || e->dirty)  // what the statement trigger would recompute: done first, then O(1) appends
    (void)recompute(columns_of(rel), qualified_name(rel), symbol, e, e->dirty_from,
                    Max(cml::pg::config_backfill_batch_size(), 1000), nullptr, nullptr);
  *last_ts = e->last_ts;
  return reinterpret_cast<ChartAppend*>(e);
}

void cml::pg::chart_append_bar(ChartAppend* a, Relation rel, const ChartBar& b, Datum* values, bool* nulls) {
  SymbolEntry* e = reinterpret_cast<SymbolEntry*>(a);
  if (!e->valid || e->dirty || b.ts <= e->last_ts)
    elog(ERROR, "cryptoml: chart_append_bar: %s bar not after the symbol's cached state", b.symbol);
  IndicatorValues v;
  advance(e, b, &v);
  indicator_datums(columns_of(rel), &v, values, nulls);
}
