// Background workers (issues 6 and 8): the launcher, and per database a forecaster, a chart monitor
// and an exchange ingester (its cycle is in ingest.cpp).
//
// With cryptoml in shared_preload_libraries, the postmaster starts one "cryptoml launcher" (a
// static background worker, restarted 5 s after it dies). The launcher uses no database: every
// second, for each database named in cryptoml.database_name (a comma-separated list), it starts
// the "cryptoml forecaster", the "cryptoml monitor" and the "cryptoml ingest" worker (dynamic
// workers) when workers are enabled,
// the database exists and the worker is not running, and stops them when workers are disabled.
// After a crash (kill -9 of any backend makes the postmaster reinitialize), the launcher comes
// back after 5 s and starts them again.
//
// The forecaster runs a cycle every forecasting.updateFrequency seconds: for each configured
// symbol with bars, one transaction that runs ml_forecast_all, then one for ml_fill_actuals() and
// one for cryptoml_internal.auto_simulate() (trades opened when trading.autoSimulate is on). The
// monitor runs one every monitoring.checkInterval seconds: for each configured symbol, one
// transaction that runs ml_monitor_check(symbol), then one that closes the alerts of symbols no
// longer configured. An error is recorded and logged, and the other symbols go on. Workers sleep
// with no transaction open. Status (pid, last run, next run, cycles, last error) is in shared
// memory: ml_workers().
//
// Plain C style: the worker loops use PG_TRY and transactions, so no C++ object with a destructor
// lives in these frames.
#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "pg.hpp"
#include "workers.hpp"

extern "C" {
#include "utils/fmgroids.h"
#include "catalog/pg_database.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/genam.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

PGDLLEXPORT void cml_launcher_main(Datum arg);
PGDLLEXPORT void cml_db_worker_main(Datum arg);
PG_FUNCTION_INFO_V1(ml_workers);
PG_FUNCTION_INFO_V1(ml_start_workers);
PG_FUNCTION_INFO_V1(ml_stop_workers);
PG_FUNCTION_INFO_V1(cml_prediction_stats);
PG_FUNCTION_INFO_V1(cml_test_second_launcher);
}

namespace {

constexpr int kMaxDatabases = 8;
enum { kForecaster = 0, kMonitor = 1, kIngest = 2, kKinds = 3 };
const char* const kKindNames[kKinds] = {"forecaster", "monitor", "ingest"};
constexpr int kLatencyRing = 1024;

struct WorkerStatus {
  pid_t pid;
  TimestampTz started_at, last_run, next_run, last_error_at;
  int64 cycles, errors;
  char state[96];
  char last_error[256];
};

struct WorkersShared {
  slock_t mutex;
  bool enabled;
  Latch* launcher_latch;
  WorkerStatus launcher;
  int ndatabases;
  char database[kMaxDatabases][NAMEDATALEN];
  WorkerStatus w[kMaxDatabases][kKinds];
  // ml_forecast latencies (microseconds): calls since start and the last kLatencyRing values
  int64 prediction_calls;
  int32 latency_us[kLatencyRing];
};

WorkersShared* g_workers = nullptr;
char* g_database = nullptr;
bool g_enabled_guc = true;
shmem_request_hook_type prev_request = nullptr;
shmem_startup_hook_type prev_startup = nullptr;

void workers_shmem_request() {
  if (prev_request) prev_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(WorkersShared)));
}

// The database names of cryptoml.database_name (comma-separated, at most kMaxDatabases).
int parse_databases(const char* value, char out[kMaxDatabases][NAMEDATALEN]) {
  char* copy = pstrdup(value ? value : "");
  List* names = NIL;
  if (!SplitIdentifierString(copy, ',', &names)) return -1;
  int n = 0;
  ListCell* lc;
  foreach (lc, names) {
    if (n == kMaxDatabases) return -1;
    strlcpy(out[n++], (const char*)lfirst(lc), NAMEDATALEN);
  }
  return n;
}

bool check_database_name(char** newval, void**, GucSource) {
  char names[kMaxDatabases][NAMEDATALEN];
  int n = parse_databases(*newval, names);
  if (n < 1) {
    GUC_check_errdetail("cryptoml.database_name must be a comma-separated list of 1 to %d database names.", kMaxDatabases);
    return false;
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0) {
        GUC_check_errdetail("Database \"%s\" is listed twice.", names[i]);
        return false;
      }
  return true;
}

void workers_shmem_startup() {
  if (prev_startup) prev_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  g_workers = static_cast<WorkersShared*>(ShmemInitStruct("cryptoml workers", sizeof(WorkersShared), &found));
  if (!found) {
    memset(g_workers, 0, sizeof(WorkersShared));
    SpinLockInit(&g_workers->mutex);
    g_workers->enabled = g_enabled_guc;
    g_workers->ndatabases = Max(parse_databases(g_database, g_workers->database), 0);
    strlcpy(g_workers->launcher.state, "not started", sizeof g_workers->launcher.state);
    for (int d = 0; d < kMaxDatabases; d++)
      for (int k = 0; k < kKinds; k++) strlcpy(g_workers->w[d][k].state, "not started", sizeof g_workers->w[d][k].state);
  }
  LWLockRelease(AddinShmemInitLock);
}

// A worker's status slot: the launcher for slot -1, else database slot / kKinds, kind slot % kKinds.
WorkerStatus& status_of(int slot) { return slot < 0 ? g_workers->launcher : g_workers->w[slot / kKinds][slot % kKinds]; }

void set_state(int slot, const char* state) {
  SpinLockAcquire(&g_workers->mutex);
  strlcpy(status_of(slot).state, state, sizeof status_of(slot).state);
  SpinLockRelease(&g_workers->mutex);
}

// Claims a worker's slot; false when another live process holds it (a second launcher or worker).
bool claim(int slot) {
  SpinLockAcquire(&g_workers->mutex);
  WorkerStatus& s = status_of(slot);
  pid_t other = s.pid;
  bool free_slot = other == 0 || other == MyProcPid || kill(other, 0) != 0;
  if (free_slot) {
    s.pid = MyProcPid;
    s.started_at = GetCurrentTimestamp();
    s.next_run = 0;
    strlcpy(s.state, "starting", sizeof s.state);
    if (slot < 0) g_workers->launcher_latch = MyLatch;
  }
  SpinLockRelease(&g_workers->mutex);
  return free_slot;
}

void release(int, Datum arg) {
  int slot = DatumGetInt32(arg);
  SpinLockAcquire(&g_workers->mutex);
  WorkerStatus& s = status_of(slot);
  if (s.pid == MyProcPid) {
    s.pid = 0;
    strlcpy(s.state, "stopped", sizeof s.state);
    if (slot < 0) g_workers->launcher_latch = nullptr;
  }
  SpinLockRelease(&g_workers->mutex);
}

void record_error(int slot, const char* message) {
  SpinLockAcquire(&g_workers->mutex);
  WorkerStatus& s = status_of(slot);
  s.errors++;
  s.last_error_at = GetCurrentTimestamp();
  strlcpy(s.last_error, message, sizeof s.last_error);
  SpinLockRelease(&g_workers->mutex);
}

BackgroundWorkerHandle* start_db_worker(int slot) {
  const char* database = g_workers->database[slot / kKinds];
  const char* kind = kKindNames[slot % kKinds];
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = BGW_NEVER_RESTART;  // the launcher restarts it
  snprintf(w.bgw_library_name, BGW_MAXLEN, "cryptoml");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "cml_db_worker_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "cryptoml %s for database %s", kind, database);
  snprintf(w.bgw_type, BGW_MAXLEN, "cryptoml %s", kind);
  strlcpy(w.bgw_extra, database, BGW_EXTRALEN);
  w.bgw_main_arg = Int32GetDatum(slot);
  w.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle* handle = nullptr;
  if (!RegisterDynamicBackgroundWorker(&w, &handle)) return nullptr;
  return handle;
}

// The error entry of a failed worker statement (worker_transaction's body).
struct ErrorEntry {
  const char* kind;
  const char* message;
  const char* symbol;
};
void log_error_entry(void* arg) {
  ErrorEntry* e = static_cast<ErrorEntry*>(arg);
  const char* schema = cml::pg::extension_schema();
  if (schema == nullptr) return;
  Oid t[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
  Datum v[4] = {CStringGetTextDatum(e->kind), CStringGetTextDatum(e->message), CStringGetTextDatum("{}"),
                e->symbol ? CStringGetTextDatum(e->symbol) : (Datum)0};
  char n[4] = {' ', ' ', ' ', e->symbol ? ' ' : 'n'};
  SPI_execute_with_args(psprintf("SELECT %s.ml_log('error', 'worker', $1, $2, $3::jsonb, $4)", schema), 4, t, v, n, false, 0);
}

// Runs one SQL text in its own transaction; on error records and logs it (category worker,
// subcategory the worker's kind) and returns false.
bool run_in_transaction(int slot, const char* sql, int nargs, Oid* types, Datum* values, const char* symbol) {
  pgstat_report_activity(STATE_RUNNING, sql);
  cml::pg::WorkerStatement st{sql, nargs, types, values, nullptr, nullptr};
  char* error = cml::pg::worker_transaction(cml::pg::worker_statement, &st);
  if (error != nullptr) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s%s%s", symbol ? symbol : "", symbol ? ": " : "", error);
    record_error(slot, msg);
    ErrorEntry e{kKindNames[slot % kKinds], msg, symbol};
    (void)cml::pg::worker_transaction(log_error_entry, &e);  // logged in a transaction of its own (the failed one is gone)
  }
  pgstat_report_activity(STATE_IDLE, nullptr);
  return error == nullptr;
}

// The configured symbols (only those with bars when with_bars) and one integer setting, read in
// a short transaction. Returns the extension's schema (NULL when it is not installed).
const char* read_cycle_plan(const char* setting, bool with_bars, int* every, int* nsymbols, char*** symbols) {
  MemoryContext cycle = CurrentMemoryContext;
  const char* schema = nullptr;
  *nsymbols = 0;
  *symbols = nullptr;
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  SPI_connect();
  PushActiveSnapshot(GetTransactionSnapshot());
  schema = cml::pg::extension_schema();
  if (schema != nullptr) {
    schema = MemoryContextStrdup(cycle, schema);
    if (SPI_execute(psprintf("SELECT (%s.ml_config_get('%s'))::int", schema, setting), true, 1) == SPI_OK_SELECT &&
        SPI_processed == 1)
      *every = atoi(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
    // served: the configured symbols, on a cluster node those it owns (cryptoml_internal.served_symbols,
    // from 0.9.0: until the extension is updated, the configured ones)
    bool served = SPI_execute("SELECT to_regprocedure('cryptoml_internal.served_symbols()') IS NOT NULL", true, 1) == SPI_OK_SELECT &&
                  SPI_processed == 1 && strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0;
    char* sql = psprintf("SELECT s.symbol FROM %s AS s(symbol) %s ORDER BY 1",
                         served ? "cryptoml_internal.served_symbols()"
                                : psprintf("jsonb_array_elements_text(%s.ml_config_get('symbols'))", schema),
                         with_bars ? psprintf("WHERE EXISTS (SELECT 1 FROM %s.rollingchartdata r WHERE r.symbol = s.symbol)", schema) : "");
    if (SPI_execute(sql, true, 0) == SPI_OK_SELECT) {
      *nsymbols = (int)SPI_processed;
      *symbols = (char**)MemoryContextAllocZero(cycle, sizeof(char*) * Max(*nsymbols, 1));
      for (int i = 0; i < *nsymbols; i++)
        (*symbols)[i] = MemoryContextStrdup(cycle, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
    }
  }
  SPI_finish();
  PopActiveSnapshot();
  CommitTransactionCommand();
  MemoryContextSwitchTo(cycle);
  return schema;
}

// One cycle of a database worker; returns the seconds until the next one.
int worker_cycle(int slot) {
  if (slot % kKinds == kIngest) return cml::pg::ingest_cycle(slot);
  const bool forecaster = slot % kKinds == kForecaster;
  int every = 60, nsymbols = 0;
  char** symbols = nullptr;
  const char* schema = forecaster ? read_cycle_plan("forecasting.updateFrequency", true, &every, &nsymbols, &symbols)
                                  : read_cycle_plan("monitoring.checkInterval", false, &every, &nsymbols, &symbols);
  if (schema == nullptr) {
    set_state(slot, "waiting: extension not installed");
    return 10;
  }
  set_state(slot, forecaster ? "forecasting" : "checking");
  char* sql = forecaster ? psprintf("SELECT %s.ml_forecast_all($1)", schema)
                         : psprintf("SELECT count(*) FROM %s.ml_monitor_check($1, now(), 60)", schema);  // every argument
  for (int i = 0; i < nsymbols; i++) {
    CHECK_FOR_INTERRUPTS();
    Oid t[1] = {TEXTOID};
    Datum v[1] = {CStringGetTextDatum(symbols[i])};
    (void)run_in_transaction(slot, sql, 1, t, v, symbols[i]);
  }
  if (forecaster) {
    (void)run_in_transaction(slot, psprintf("SELECT %s.ml_fill_actuals(100000)", schema), 0, nullptr, nullptr, nullptr);
    (void)run_in_transaction(slot, "SELECT cryptoml_internal.auto_simulate()", 0, nullptr, nullptr, nullptr);
  } else
    (void)run_in_transaction(slot, "SELECT cryptoml_internal.monitor_forget_unconfigured()", 0, nullptr, nullptr, nullptr);
  return Max(every, 1);
}

// Whether a database exists (the launcher reads the shared catalog pg_database).
bool database_exists(const char* name) {
  bool exists = false;
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  // A heap scan of pg_database, not get_database_oid: its index lookup needs the shared relcache
  // init file, which is rebuilt only once a backend connected to a database, so a launcher asking
  // just after server start died with "cannot read pg_class without having selected a database".
  Relation rel = table_open(DatabaseRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_database_datname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum(name));
  SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 1, &key);
  exists = HeapTupleIsValid(systable_getnext(scan));
  systable_endscan(scan);
  table_close(rel, AccessShareLock);
  CommitTransactionCommand();
  return exists;
}

}  // namespace

namespace cml {
namespace pg {

void workers_init() {
  if (!process_shared_preload_libraries_in_progress) return;
  DefineCustomStringVariable("cryptoml.database_name",
                             "Databases the cryptoml background workers run in (a comma-separated list of at most 8).", nullptr,
                             &g_database, "postgres", PGC_POSTMASTER, GUC_LIST_INPUT, check_database_name, nullptr, nullptr);
  DefineCustomBoolVariable("cryptoml.workers_enabled",
                           "Whether the cryptoml workers run (at server start and on reload; ml_start_workers/ml_stop_workers switch it until then).",
                           nullptr, &g_enabled_guc, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  prev_request = shmem_request_hook;
  shmem_request_hook = workers_shmem_request;
  prev_startup = shmem_startup_hook;
  shmem_startup_hook = workers_shmem_startup;
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = 5;
  snprintf(w.bgw_library_name, BGW_MAXLEN, "cryptoml");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "cml_launcher_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "cryptoml launcher");
  snprintf(w.bgw_type, BGW_MAXLEN, "cryptoml launcher");
  RegisterBackgroundWorker(&w);
}

void worker_set_state(int slot, const char* state) { set_state(slot, state); }

char* worker_transaction(void (*fn)(void*), void* arg) {
  MemoryContext cxt = CurrentMemoryContext;
  char* volatile error = nullptr;
  PG_TRY();
  {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    fn(arg);
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(cxt);
    ErrorData* e = CopyErrorData();
    FlushErrorState();
    AbortCurrentTransaction();
    MemoryContextSwitchTo(cxt);
    error = pstrdup(e->message);
    FreeErrorData(e);
  }
  PG_END_TRY();
  MemoryContextSwitchTo(cxt);
  return error;
}

void worker_statement(void* arg) {
  WorkerStatement* st = static_cast<WorkerStatement*>(arg);
  int rc = SPI_execute_with_args(st->sql, st->nargs, st->types, st->values, st->nulls, false, 0);
  if (rc < 0) elog(ERROR, "cryptoml worker: SPI error %d", rc);
  if (st->result != nullptr && SPI_processed > 0) {
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    Oid t = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
    *st->result = isnull ? 0 : (t == INT8OID ? DatumGetInt64(d) : DatumGetInt32(d));
  }
}
void worker_record_error(int slot, const char* message) { record_error(slot, message); }

void record_prediction_latency(int64 microseconds) {
  if (g_workers == nullptr) return;
  int32 us = (int32)Min(microseconds, (int64)PG_INT32_MAX);
  SpinLockAcquire(&g_workers->mutex);
  g_workers->latency_us[g_workers->prediction_calls % kLatencyRing] = us;
  g_workers->prediction_calls++;
  SpinLockRelease(&g_workers->mutex);
}

}  // namespace pg
}  // namespace cml

void cml_launcher_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  if (g_workers == nullptr || !claim(-1)) proc_exit(0);  // a second launcher refuses
  before_shmem_exit(release, Int32GetDatum(-1));
  // Connected to no database: it reads only the shared catalog pg_database.
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  set_state(-1, "running");
  const int nslots = g_workers->ndatabases * kKinds;
  BackgroundWorkerHandle* handle[kMaxDatabases * kKinds] = {nullptr};
  TimestampTz retry_at[kMaxDatabases * kKinds] = {0};
  for (;;) {
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
      SpinLockAcquire(&g_workers->mutex);
      g_workers->enabled = g_enabled_guc;
      SpinLockRelease(&g_workers->mutex);
    }
    SpinLockAcquire(&g_workers->mutex);
    bool enabled = g_workers->enabled;
    SpinLockRelease(&g_workers->mutex);
    const char* state = enabled ? "running" : "running: workers disabled";
    for (int slot = 0; slot < nslots; slot++) {
      pid_t pid = 0;
      BgwHandleStatus status = handle[slot] ? GetBackgroundWorkerPid(handle[slot], &pid) : BGWH_STOPPED;
      if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED) handle[slot] = nullptr;
      if (enabled && handle[slot] == nullptr && GetCurrentTimestamp() >= retry_at[slot]) {
        retry_at[slot] = GetCurrentTimestamp() + 5 * USECS_PER_SEC;  // at most one start per 5 s (a crash loop stays slow)
        const char* database = g_workers->database[slot / kKinds];
        if (!database_exists(database)) {
          char state_text[96];  // no palloc: the launcher's loop runs in a long-lived context
          snprintf(state_text, sizeof state_text, "waiting: database \"%s\" does not exist", database);
          set_state(slot, state_text);
          continue;
        }
        handle[slot] = start_db_worker(slot);
        if (handle[slot] == nullptr) state = "running: could not register a worker (max_worker_processes)";
      } else if (!enabled && handle[slot] != nullptr) {
        TerminateBackgroundWorker(handle[slot]);
      }
    }
    set_state(-1, state);
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
}

void cml_db_worker_main(Datum arg) {
  const int slot = DatumGetInt32(arg);
  char database[BGW_EXTRALEN];
  strlcpy(database, MyBgworkerEntry->bgw_extra, sizeof database);
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  if (g_workers == nullptr || slot < 0 || slot >= kMaxDatabases * kKinds || !claim(slot)) proc_exit(0);
  before_shmem_exit(release, Int32GetDatum(slot));
  BackgroundWorkerInitializeConnection(database, nullptr, 0);
  // The workers run as a superuser: no name or operator in their SQL may resolve to an object a
  // role with CREATE on some schema of the database's search_path planted (CVE-2018-1058 class).
  SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
  // Forecasts of historical bars warn that the bar is stale on every call: keep those out of the log.
  SetConfigOption("log_min_messages", "error", PGC_SUSET, PGC_S_OVERRIDE);
  // No JIT: the cycle's queries are small and repeated, so compiling costs more than it saves, and
  // the code LLVM emits is not freed in a long-lived backend (measured: the forecaster's private
  // memory grew about 180 kB per cycle with jit on, and stays flat with it off).
  SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
  MemoryContext cycle_cxt = AllocSetContextCreate(TopMemoryContext, "cryptoml worker cycle", ALLOCSET_DEFAULT_SIZES);
  for (;;) {
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    MemoryContextReset(cycle_cxt);
    MemoryContext old = MemoryContextSwitchTo(cycle_cxt);
    TimestampTz start = GetCurrentTimestamp();
    int every = worker_cycle(slot);
    MemoryContextSwitchTo(old);
    TimestampTz next = start + (int64)every * USECS_PER_SEC;
    SpinLockAcquire(&g_workers->mutex);
    WorkerStatus& s = status_of(slot);
    s.cycles++;
    s.last_run = start;
    s.next_run = next;
    if (strcmp(s.state, "forecasting") == 0 || strcmp(s.state, "checking") == 0 || strcmp(s.state, "ingesting") == 0)
      strlcpy(s.state, "sleeping", sizeof s.state);
    SpinLockRelease(&g_workers->mutex);
    long wait_ms = (long)((next - GetCurrentTimestamp()) / 1000);
    if (wait_ms > 0)
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
}

namespace {

void put_status(ReturnSetInfo* rsinfo, const char* worker, const char* database, const WorkerStatus& s) {
  Datum v[10];
  bool n[10] = {false};
  v[0] = CStringGetTextDatum(worker);
  v[1] = database ? CStringGetTextDatum(database) : (Datum)0;
  n[1] = database == nullptr;
  v[2] = CStringGetTextDatum(s.state);
  v[3] = Int32GetDatum(s.pid);
  n[3] = s.pid == 0;
  TimestampTz ts[3] = {s.started_at, s.last_run, s.next_run};
  for (int i = 0; i < 3; i++) {
    v[4 + i] = TimestampTzGetDatum(ts[i]);
    n[4 + i] = ts[i] == 0;
  }
  v[7] = Int64GetDatum(s.cycles);
  v[8] = Int64GetDatum(s.errors);
  v[9] = CStringGetTextDatum(s.last_error);
  n[9] = s.last_error[0] == '\0';
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
}

}  // namespace

// ml_workers(): the launcher, then per database its forecaster and monitor.
Datum ml_workers(PG_FUNCTION_ARGS) {
  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  if (g_workers == nullptr) {
    const char* names[4] = {"launcher", "forecaster", "monitor", "ingest"};
    for (int k = 0; k < 4; k++) {
      WorkerStatus s;
      memset(&s, 0, sizeof s);
      strlcpy(s.state, "not loaded", sizeof s.state);
      strlcpy(s.last_error, "cryptoml is not in shared_preload_libraries: add it and restart the server to run the workers",
              sizeof s.last_error);
      put_status(rsinfo, names[k], nullptr, s);
    }
    return (Datum)0;
  }
  WorkersShared copy;
  SpinLockAcquire(&g_workers->mutex);
  copy.enabled = g_workers->enabled;
  copy.launcher = g_workers->launcher;
  copy.ndatabases = g_workers->ndatabases;
  memcpy(copy.database, g_workers->database, sizeof copy.database);
  memcpy(copy.w, g_workers->w, sizeof copy.w);
  SpinLockRelease(&g_workers->mutex);
  put_status(rsinfo, "launcher", nullptr, copy.launcher);
  for (int d = 0; d < copy.ndatabases; d++)
    for (int k = 0; k < kKinds; k++) {
      WorkerStatus& s = copy.w[d][k];
      if (s.pid == 0 && !copy.enabled) strlcpy(s.state, "disabled", sizeof s.state);
      put_status(rsinfo, kKindNames[k], copy.database[d], s);
    }
  return (Datum)0;
}

static bool switch_workers(bool on) {
  if (g_workers == nullptr)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("the cryptoml workers are not loaded"),
                    errhint("Add cryptoml to shared_preload_libraries and restart the server.")));
  SpinLockAcquire(&g_workers->mutex);
  bool was = g_workers->enabled;
  g_workers->enabled = on;
  Latch* latch = g_workers->launcher_latch;
  SpinLockRelease(&g_workers->mutex);
  if (latch != nullptr) SetLatch(latch);
  // the switch is cluster-wide and immediate (not transactional): audited as such
  cml::pg::audit_event_immediate(on ? "workers_start" : "workers_stop", "cluster", was ? "{\"enabled\": true}" : "{\"enabled\": false}",
              on ? "{\"enabled\": true}" : "{\"enabled\": false}");
  return was;
}

Datum ml_start_workers(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(!switch_workers(true)); }
Datum ml_stop_workers(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(switch_workers(false)); }

static int cmp_int32(const void* a, const void* b) {
  int32 x = *(const int32*)a, y = *(const int32*)b;
  return (x > y) - (x < y);
}

// cryptoml_internal.prediction_stats(): ml_forecast calls since server start, and the median and
// 95th percentile latency of the last (at most 1024) calls; NULLs without preload or before any call.
Datum cml_prediction_stats(PG_FUNCTION_ARGS) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "cryptoml: expected a record result");
  desc = BlessTupleDesc(desc);
  Datum v[4] = {0, 0, 0, 0};
  bool n[4] = {true, true, true, true};
  if (g_workers != nullptr) {
    int32* values = (int32*)palloc(sizeof(int32) * kLatencyRing);
    SpinLockAcquire(&g_workers->mutex);
    int64 calls = g_workers->prediction_calls;
    int m = (int)Min(calls, (int64)kLatencyRing);
    memcpy(values, g_workers->latency_us, sizeof(int32) * m);
    SpinLockRelease(&g_workers->mutex);
    v[0] = Int64GetDatum(calls);
    v[1] = Int32GetDatum(m);
    n[0] = n[1] = false;
    if (m > 0) {
      qsort(values, m, sizeof(int32), cmp_int32);
      v[2] = Float8GetDatum(values[(m - 1) / 2] / 1000.0);
      v[3] = Float8GetDatum(values[Min(m - 1, (int)(0.95 * m))] / 1000.0);
      n[2] = n[3] = false;
    }
  }
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, n)));
}

// cryptoml_internal.test_second_launcher(): starts a second launcher and reports whether it
// refused to run (it exits at once when the launcher's slot is held) and left the first one in
// place. For the tests; superuser only.
Datum cml_test_second_launcher(PG_FUNCTION_ARGS) {
  if (g_workers == nullptr)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("the cryptoml workers are not loaded")));
  SpinLockAcquire(&g_workers->mutex);
  pid_t first = g_workers->launcher.pid;
  SpinLockRelease(&g_workers->mutex);
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = BGW_NEVER_RESTART;
  snprintf(w.bgw_library_name, BGW_MAXLEN, "cryptoml");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "cml_launcher_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "cryptoml launcher (second, test)");
  snprintf(w.bgw_type, BGW_MAXLEN, "cryptoml launcher");
  w.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle* handle = nullptr;
  if (!RegisterDynamicBackgroundWorker(&w, &handle))
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED), errmsg("could not register a background worker")));
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; i++) {  // 10 s at most
    pid_t pid;
    stopped = GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED;
    if (!stopped) {
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100L, PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
      CHECK_FOR_INTERRUPTS();
    }
  }
  if (!stopped) TerminateBackgroundWorker(handle);
  SpinLockAcquire(&g_workers->mutex);
  pid_t now = g_workers->launcher.pid;
  SpinLockRelease(&g_workers->mutex);
  PG_RETURN_BOOL(stopped && now == first && first != 0);
}
