// ml_progress: shared-memory progress slots of long operations (see progress.hpp). Plain
// PostgreSQL-style code: no C++ object with a destructor lives in this file's functions.
#include "progress.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cml_progress);
PG_FUNCTION_INFO_V1(cml_progress_report);
PG_FUNCTION_INFO_V1(cml_progress_done);
}

namespace cml {
namespace pg {
namespace {

constexpr int kMaxDepth = 8;

struct ProgressSlot {
  uint32 changecount;  // odd while its backend writes it
  int pid;             // 0: no operation
  Oid dboid;
  Oid roleid;
  char operation[16];
  char symbol[32];
  char phase[64];
  int64 done;
  int64 total;
  TimestampTz started_at;
  TimestampTz updated_at;
};

ProgressSlot* g_slots = nullptr;
int g_nslots = 0;
shmem_request_hook_type prev_request_hook = nullptr;
shmem_startup_hook_type prev_startup_hook = nullptr;

// per backend
int g_depth = 0;
int g_level[kMaxDepth];          // transaction nest level at each begin
int g_overflow = 0;              // begins past kMaxDepth, ended without touching the stack
bool g_spans = false;            // the outermost operation commits along the way
char g_operation[16];
char g_symbol[32];
int64 g_done = 0, g_total = 0;
TimestampTz g_started = 0, g_last_notice = 0;
int g_notice_seconds = kNoticeSeconds;  // cryptoml.progress_notice_interval

Size slots_size() { return mul_size(sizeof(ProgressSlot), (Size)MaxBackends); }

void request_shmem() {
  if (prev_request_hook) prev_request_hook();
  RequestAddinShmemSpace(slots_size());
}

void startup_shmem() {
  if (prev_startup_hook) prev_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  g_slots = static_cast<ProgressSlot*>(ShmemInitStruct("cryptoml progress", slots_size(), &found));
  if (!found) memset(g_slots, 0, slots_size());
  g_nslots = MaxBackends;
  LWLockRelease(AddinShmemInitLock);
}

ProgressSlot* my_slot() {
  if (g_slots == nullptr || MyBackendId == InvalidBackendId || MyBackendId < 1 || MyBackendId > g_nslots) return nullptr;
  return &g_slots[MyBackendId - 1];
}

// The writer's half of the changecount protocol (readers retry while it is odd or moved).
void slot_write_begin(ProgressSlot* s) {
  s->changecount++;
  pg_write_barrier();
}
void slot_write_end(ProgressSlot* s) {
  pg_write_barrier();
  s->changecount++;
}

void clear_slot() {
  ProgressSlot* s = my_slot();
  if (s == nullptr || s->pid == 0) return;
  slot_write_begin(s);
  s->pid = 0;
  slot_write_end(s);
}

void reset_all() {
  g_depth = 0;
  g_overflow = 0;
  g_spans = false;
  clear_slot();
}

void on_xact(XactEvent event, void*) {
  if (g_depth == 0) return;
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) reset_all();
  else if ((event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) && !g_spans) reset_all();
}

void on_subxact(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  if (g_depth == 0 || event != SUBXACT_EVENT_ABORT_SUB) return;
  int level = GetCurrentTransactionNestLevel();  // the subtransaction being aborted
  while (g_depth > 0 && g_level[g_depth - 1] >= level) g_depth--;
  if (g_depth == 0) reset_all();
}

void on_exit(int, Datum) { clear_slot(); }

void publish(const char* phase) {
  ProgressSlot* s = my_slot();
  if (s == nullptr) return;
  slot_write_begin(s);
  if (s->pid == 0) {
    s->pid = MyProcPid;
    s->dboid = MyDatabaseId;
    s->roleid = GetOuterUserId();
    strlcpy(s->operation, g_operation, sizeof s->operation);
    strlcpy(s->symbol, g_symbol, sizeof s->symbol);
    s->started_at = g_started;
  }
  if (phase) strlcpy(s->phase, phase, sizeof s->phase);
  s->done = g_done;
  s->total = g_total;
  s->updated_at = GetCurrentTimestamp();
  slot_write_end(s);
}

// Seconds left at the rate so far, or -1 when it cannot be told yet.
double eta_seconds(TimestampTz started, TimestampTz now, int64 done, int64 total) {
  if (done <= 0 || total <= 0 || done > total) return -1;
  double elapsed = (double)(now - started) / 1e6;
  return elapsed * (double)(total - done) / (double)done;
}

}  // namespace

void progress_init() {
  static bool callbacks = false;
  if (!callbacks) {
    DefineCustomIntVariable("cryptoml.progress_notice_interval",
                            "Seconds between the NOTICE lines a long operation sends its client (ml_progress).",
                            nullptr, &g_notice_seconds, kNoticeSeconds, 1, 3600, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
    RegisterXactCallback(on_xact, nullptr);
    RegisterSubXactCallback(on_subxact, nullptr);
    callbacks = true;
  }
  if (process_shared_preload_libraries_in_progress) {
    prev_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
    prev_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
  }
}

void progress_begin(const char* operation, const char* symbol, int64 total, bool spans_transactions) {
  static bool exit_hook = false;
  if (g_depth > 0) {
    // an operation inside another: shown as the outer one's phase
    if (g_depth < kMaxDepth) g_level[g_depth++] = GetCurrentTransactionNestLevel();
    else g_overflow++;  // deeper than the stack: its end must not end an outer operation
    char phase[64];
    snprintf(phase, sizeof phase, "%s%s%s", operation, symbol ? " " : "", symbol ? symbol : "");
    publish(phase);
    return;
  }
  if (!exit_hook && g_slots != nullptr) {
    before_shmem_exit(on_exit, (Datum)0);
    exit_hook = true;
  }
  g_depth = 1;
  g_level[0] = GetCurrentTransactionNestLevel();
  g_spans = spans_transactions;
  strlcpy(g_operation, operation, sizeof g_operation);
  strlcpy(g_symbol, symbol ? symbol : "", sizeof g_symbol);
  g_done = 0;
  g_total = total > 0 ? total : 0;
  g_started = GetCurrentTimestamp();
  g_last_notice = g_started;
  clear_slot();
  publish("starting");
}

void progress_phase(const char* phase, int64 done, int64 total) {
  if (g_depth != 1) return;  // an inner operation's phases stay out of the outer row
  g_done = done;
  if (total >= 0) g_total = total;
  publish(phase);
}

void progress_update(int64 done) {
  if (g_depth == 0) return;
  if (g_depth == 1) {
    g_done = done;
    publish(nullptr);
  }
  TimestampTz now = GetCurrentTimestamp();
  if (!TimestampDifferenceExceeds(g_last_notice, now, g_notice_seconds * 1000)) return;
  g_last_notice = now;
  if (!message_level_is_interesting(NOTICE)) return;
  double eta = eta_seconds(g_started, now, g_done, g_total);
  if (eta >= 0)
    ereport(NOTICE, (errmsg("%s%s%s: %lld of %lld (%.0f %%), about %.0f s left", g_operation, g_symbol[0] ? " " : "",
                            g_symbol, (long long)g_done, (long long)g_total, 100.0 * (double)g_done / (double)g_total, eta)));
  else
    ereport(NOTICE, (errmsg("%s%s%s: %lld done", g_operation, g_symbol[0] ? " " : "", g_symbol, (long long)g_done)));
}

void progress_end() {
  if (g_overflow > 0) {
    g_overflow--;
    return;
  }
  if (g_depth == 0) return;
  if (--g_depth == 0) reset_all();
}

}  // namespace pg
}  // namespace cml

using namespace cml::pg;

// cryptoml_internal.progress(): every slot in use, copied consistently.
Datum cml_progress(PG_FUNCTION_ARGS) {
  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  if (g_slots == nullptr) return (Datum)0;
  for (int i = 0; i < g_nslots; i++) {
    ProgressSlot copy;
    for (int attempt = 0;; attempt++) {
      uint32 before = g_slots[i].changecount;
      pg_read_barrier();
      memcpy(&copy, &g_slots[i], sizeof copy);
      pg_read_barrier();
      if (before == g_slots[i].changecount && (before & 1) == 0) break;
      if (attempt > 1000) {
        copy.pid = 0;
        break;
      }
      CHECK_FOR_INTERRUPTS();
    }
    if (copy.pid == 0) continue;
    Datum v[11];
    bool n[11] = {false, false, false, false, false, false, false, false, false, false, false};
    v[0] = Int32GetDatum(copy.pid);
    char* db = get_database_name(copy.dboid);
    if (db) v[1] = CStringGetTextDatum(db); else n[1] = true;
    char* role = GetUserNameFromId(copy.roleid, true);
    if (role) v[2] = CStringGetTextDatum(role); else n[2] = true;
    copy.operation[sizeof copy.operation - 1] = '\0';
    copy.symbol[sizeof copy.symbol - 1] = '\0';
    copy.phase[sizeof copy.phase - 1] = '\0';
    v[3] = CStringGetTextDatum(copy.operation);
    if (copy.symbol[0]) v[4] = CStringGetTextDatum(copy.symbol); else n[4] = true;
    v[5] = CStringGetTextDatum(copy.phase);
    v[6] = Int64GetDatum(copy.done);
    if (copy.total > 0) v[7] = Int64GetDatum(copy.total); else n[7] = true;
    v[8] = TimestampTzGetDatum(copy.started_at);
    v[9] = TimestampTzGetDatum(copy.updated_at);
    // at the rate measured up to the slot's last update
    double eta = eta_seconds(copy.started_at, copy.updated_at, copy.done, copy.total);
    if (eta >= 0) v[10] = TimestampTzGetDatum(copy.updated_at + (TimestampTz)(eta * 1e6)); else n[10] = true;
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
  }
  return (Datum)0;
}

// cryptoml_internal.progress_report(operation, phase, done, total): the PL/pgSQL procedures'
// way in. The first call begins the operation (it spans the procedure's transactions), later ones
// update it; cryptoml_internal.progress_done() ends it (an error ends it too).
Datum cml_progress_report(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("progress_report: operation and done must not be NULL")));
  char* operation = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* phase = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));
  int64 done = PG_GETARG_INT64(2);
  int64 total = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3);
  if (g_depth == 0) progress_begin(operation, nullptr, total, true);
  if (phase) progress_phase(phase, done, total);
  progress_update(done);
  PG_RETURN_VOID();
}

Datum cml_progress_done(PG_FUNCTION_ARGS) {
  progress_end();
  PG_RETURN_VOID();
}
