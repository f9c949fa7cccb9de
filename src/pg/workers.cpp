// Background workers (issue 6, first part): the launcher and the forecaster.
//
// With cryptoml in shared_preload_libraries, the postmaster starts one "cryptoml launcher" (a
// static background worker, restarted 5 s after it dies). The launcher uses no database: every
// second it starts the "cryptoml forecaster" (a dynamic worker) for cryptoml.database_name when
// workers are enabled and the forecaster is not running, and stops it when they are disabled.
// After a crash (kill -9 of any backend makes the postmaster reinitialize), the launcher comes
// back after 5 s and starts the forecaster again.
//
// The forecaster runs a cycle every forecasting.updateFrequency seconds: for each configured
// symbol with bars, one transaction that runs ml_forecast_all (the three forecast types at every
// forecasting horizon; an error is recorded and logged, and the other symbols go on), then one
// transaction for ml_fill_actuals(). It sleeps with no transaction
// open. Status (pid, last run, next run, cycles, last error) is in shared memory: ml_workers().
//
// Plain C style: the worker loops use PG_TRY and transactions, so no C++ object with a destructor
// lives in these frames.
#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "pg.hpp"

extern "C" {
#include "access/xact.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

PGDLLEXPORT void cml_launcher_main(Datum arg);
PGDLLEXPORT void cml_forecaster_main(Datum arg);
PG_FUNCTION_INFO_V1(ml_workers);
PG_FUNCTION_INFO_V1(ml_start_workers);
PG_FUNCTION_INFO_V1(ml_stop_workers);
}

namespace {

enum { kLauncher = 0, kForecaster = 1, kWorkers = 2 };
const char* const kWorkerNames[kWorkers] = {"launcher", "forecaster"};

struct WorkerStatus {
  pid_t pid;
  TimestampTz started_at, last_run, next_run, last_error_at;
  int64 cycles, errors;
  char state[64];
  char last_error[256];
};

struct WorkersShared {
  slock_t mutex;
  bool enabled;
  Latch* launcher_latch;
  WorkerStatus w[kWorkers];
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

void workers_shmem_startup() {
  if (prev_startup) prev_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  g_workers = static_cast<WorkersShared*>(ShmemInitStruct("cryptoml workers", sizeof(WorkersShared), &found));
  if (!found) {
    memset(g_workers, 0, sizeof(WorkersShared));
    SpinLockInit(&g_workers->mutex);
    g_workers->enabled = g_enabled_guc;
    for (int i = 0; i < kWorkers; i++) strlcpy(g_workers->w[i].state, "not started", sizeof g_workers->w[i].state);
  }
  LWLockRelease(AddinShmemInitLock);
}

void set_state(int k, const char* state) {
  SpinLockAcquire(&g_workers->mutex);
  strlcpy(g_workers->w[k].state, state, sizeof g_workers->w[k].state);
  SpinLockRelease(&g_workers->mutex);
}

// Claims a worker's slot; false when another live process holds it (a second launcher or forecaster).
bool claim(int k) {
  SpinLockAcquire(&g_workers->mutex);
  pid_t other = g_workers->w[k].pid;
  bool free_slot = other == 0 || other == MyProcPid || kill(other, 0) != 0;
  if (free_slot) {
    WorkerStatus& s = g_workers->w[k];
    s.pid = MyProcPid;
    s.started_at = GetCurrentTimestamp();
    s.next_run = 0;
    strlcpy(s.state, "starting", sizeof s.state);
    if (k == kLauncher) g_workers->launcher_latch = MyLatch;
  }
  SpinLockRelease(&g_workers->mutex);
  return free_slot;
}

void release(int, Datum arg) {
  int k = DatumGetInt32(arg);
  SpinLockAcquire(&g_workers->mutex);
  if (g_workers->w[k].pid == MyProcPid) {
    g_workers->w[k].pid = 0;
    strlcpy(g_workers->w[k].state, "stopped", sizeof g_workers->w[k].state);
    if (k == kLauncher) g_workers->launcher_latch = nullptr;
  }
  SpinLockRelease(&g_workers->mutex);
}

void record_error(int k, const char* message) {
  SpinLockAcquire(&g_workers->mutex);
  WorkerStatus& s = g_workers->w[k];
  s.errors++;
  s.last_error_at = GetCurrentTimestamp();
  strlcpy(s.last_error, message, sizeof s.last_error);
  SpinLockRelease(&g_workers->mutex);
}

BackgroundWorkerHandle* start_forecaster() {
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = BGW_NEVER_RESTART;  // the launcher restarts it
  snprintf(w.bgw_library_name, BGW_MAXLEN, "cryptoml");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "cml_forecaster_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "cryptoml forecaster for database %s", g_database);
  snprintf(w.bgw_type, BGW_MAXLEN, "cryptoml forecaster");
  strlcpy(w.bgw_extra, g_database, BGW_EXTRALEN);
  w.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle* handle = nullptr;
  if (!RegisterDynamicBackgroundWorker(&w, &handle)) return nullptr;
  return handle;
}

// Runs one SQL text in its own transaction; on error records and logs it and returns false.
bool run_in_transaction(const char* sql, int nargs, Oid* types, Datum* values, const char* symbol, int64* rows) {
  MemoryContext cxt = CurrentMemoryContext;
  bool ok = true;
  PG_TRY();
  {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, sql);
    int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
    if (rc < 0) elog(ERROR, "cryptoml forecaster: SPI error %d", rc);
    if (rows != nullptr) *rows = (int64)SPI_processed;
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
    ok = false;
    char msg[256];
    snprintf(msg, sizeof msg, "%s%s%s", symbol ? symbol : "", symbol ? ": " : "", e->message);
    record_error(kForecaster, msg);
    FreeErrorData(e);
    // Logged in a transaction of its own (the failed one is gone).
    PG_TRY();
    {
      StartTransactionCommand();
      SPI_connect();
      PushActiveSnapshot(GetTransactionSnapshot());
      const char* schema = cml::pg::extension_schema();
      if (schema != nullptr) {
        Oid t[3] = {TEXTOID, TEXTOID, TEXTOID};
        Datum v[3] = {CStringGetTextDatum(msg), CStringGetTextDatum("{}"), symbol ? CStringGetTextDatum(symbol) : (Datum)0};
        char n[3] = {' ', ' ', symbol ? ' ' : 'n'};
        SPI_execute_with_args(psprintf("SELECT %s.ml_log('error', 'worker', 'forecaster', $1, $2::jsonb, $3)", schema), 3, t, v,
                              n, false, 0);
      }
      SPI_finish();
      PopActiveSnapshot();
      CommitTransactionCommand();
    }
    PG_CATCH();
    {
      MemoryContextSwitchTo(cxt);
      FlushErrorState();
      AbortCurrentTransaction();
    }
    PG_END_TRY();
  }
  PG_END_TRY();
  pgstat_report_activity(STATE_IDLE, nullptr);
  return ok;
}

// One forecaster cycle; returns the seconds until the next one (forecasting.updateFrequency).
int forecaster_cycle() {
  // What to do: symbols with bars and, per symbol, the horizons with a production model.
  int frequency = 60;
  int nsymbols = 0;
  char** symbols = nullptr;
  const char* schema = nullptr;
  MemoryContext cycle = CurrentMemoryContext;
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  SPI_connect();
  PushActiveSnapshot(GetTransactionSnapshot());
  schema = cml::pg::extension_schema();
  if (schema != nullptr) {
    schema = MemoryContextStrdup(cycle, schema);
    char* sql = psprintf(
        "SELECT s.symbol, (%s.ml_config_get('forecasting.updateFrequency'))::int "
        "FROM jsonb_array_elements_text(%s.ml_config_get('symbols')) AS s(symbol) "
        "WHERE EXISTS (SELECT 1 FROM %s.rollingchartdata r WHERE r.symbol = s.symbol) ORDER BY 1",
        schema, schema, schema);
    if (SPI_execute(sql, true, 0) == SPI_OK_SELECT) {
      nsymbols = (int)SPI_processed;
      symbols = (char**)MemoryContextAllocZero(cycle, sizeof(char*) * Max(nsymbols, 1));
      for (int i = 0; i < nsymbols; i++) {
        symbols[i] = MemoryContextStrdup(cycle, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
        frequency = atoi(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
      }
    }
    if (nsymbols == 0) {  // still read the frequency
      if (SPI_execute(psprintf("SELECT (%s.ml_config_get('forecasting.updateFrequency'))::int", schema), true, 1) == SPI_OK_SELECT &&
          SPI_processed == 1)
        frequency = atoi(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
    }
  }
  SPI_finish();
  PopActiveSnapshot();
  CommitTransactionCommand();
  MemoryContextSwitchTo(cycle);
  if (schema == nullptr) {
    set_state(kForecaster, "waiting: extension not installed");
    return 10;
  }
  set_state(kForecaster, "forecasting");
  char* sql = psprintf("SELECT %s.ml_forecast_all($1)", schema);
  for (int i = 0; i < nsymbols; i++) {
    CHECK_FOR_INTERRUPTS();
    Oid t[1] = {TEXTOID};
    Datum v[1] = {CStringGetTextDatum(symbols[i])};
    (void)run_in_transaction(sql, 1, t, v, symbols[i], nullptr);
  }
  (void)run_in_transaction(psprintf("SELECT %s.ml_fill_actuals()", schema), 0, nullptr, nullptr, nullptr, nullptr);
  return Max(frequency, 1);
}

}  // namespace

namespace cml {
namespace pg {

void workers_init() {
  if (!process_shared_preload_libraries_in_progress) return;
  DefineCustomStringVariable("cryptoml.database_name", "Database the cryptoml background workers run in.", nullptr,
                             &g_database, "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
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

}  // namespace pg
}  // namespace cml

void cml_launcher_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  if (g_workers == nullptr || !claim(kLauncher)) proc_exit(0);  // a second launcher refuses
  before_shmem_exit(release, Int32GetDatum(kLauncher));
  // Connected to no database (shared catalogs only): it just shows in pg_stat_activity.
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  set_state(kLauncher, "running");
  BackgroundWorkerHandle* forecaster = nullptr;
  TimestampTz retry_at = 0;
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
    pid_t pid = 0;
    BgwHandleStatus status = forecaster ? GetBackgroundWorkerPid(forecaster, &pid) : BGWH_STOPPED;
    if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED) forecaster = nullptr;
    const char* state = enabled ? "running" : "running: workers disabled";
    if (enabled && forecaster == nullptr && GetCurrentTimestamp() >= retry_at) {
      forecaster = start_forecaster();
      retry_at = GetCurrentTimestamp() + 5 * USECS_PER_SEC;  // at most one start per 5 s (a crash loop stays slow)
      if (forecaster == nullptr) state = "running: could not register the forecaster";
    } else if (!enabled && forecaster != nullptr) {
      TerminateBackgroundWorker(forecaster);
    }
    set_state(kLauncher, state);
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
}

void cml_forecaster_main(Datum) {
  char database[BGW_EXTRALEN];
  strlcpy(database, MyBgworkerEntry->bgw_extra, sizeof database);
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  if (g_workers == nullptr || !claim(kForecaster)) proc_exit(0);
  before_shmem_exit(release, Int32GetDatum(kForecaster));
  BackgroundWorkerInitializeConnection(database, nullptr, 0);
  // Forecasts of historical bars warn that the bar is stale on every call: keep those out of the log.
  SetConfigOption("log_min_messages", "error", PGC_SUSET, PGC_S_OVERRIDE);
  // No JIT: the cycle's queries are small and repeated, so compiling costs more than it saves, and
  // the code LLVM emits is not freed in a long-lived backend (measured: the worker's private
  // memory grew about 180 kB per cycle with jit on, and stays flat with it off).
  SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
  MemoryContext cycle_cxt = AllocSetContextCreate(TopMemoryContext, "cryptoml forecaster cycle", ALLOCSET_DEFAULT_SIZES);
  for (;;) {
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    MemoryContextReset(cycle_cxt);
    MemoryContext old = MemoryContextSwitchTo(cycle_cxt);
    TimestampTz start = GetCurrentTimestamp();
    int every = forecaster_cycle();
    MemoryContextSwitchTo(old);
    TimestampTz next = start + (int64)every * USECS_PER_SEC;
    SpinLockAcquire(&g_workers->mutex);
    WorkerStatus& s = g_workers->w[kForecaster];
    s.cycles++;
    s.last_run = start;
    s.next_run = next;
    if (strcmp(s.state, "forecasting") == 0) strlcpy(s.state, "sleeping", sizeof s.state);
    SpinLockRelease(&g_workers->mutex);
    long wait_ms = (long)((next - GetCurrentTimestamp()) / 1000);
    if (wait_ms > 0)
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
}

// ml_workers(): one row per worker.
Datum ml_workers(PG_FUNCTION_ARGS) {
  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  for (int k = 0; k < kWorkers; k++) {
    Datum v[9];
    bool n[9] = {false};
    v[0] = CStringGetTextDatum(kWorkerNames[k]);
    if (g_workers == nullptr) {
      v[1] = CStringGetTextDatum("not loaded");
      for (int i = 2; i < 8; i++) n[i] = true;
      v[8] = CStringGetTextDatum("cryptoml is not in shared_preload_libraries: add it and restart the server to run the workers");
    } else {
      WorkerStatus s;
      bool enabled;
      SpinLockAcquire(&g_workers->mutex);
      s = g_workers->w[k];
      enabled = g_workers->enabled;
      SpinLockRelease(&g_workers->mutex);
      if (k == kForecaster && s.pid == 0 && !enabled) strlcpy(s.state, "disabled", sizeof s.state);
      v[1] = CStringGetTextDatum(s.state);
      v[2] = Int32GetDatum(s.pid);
      n[2] = s.pid == 0;
      TimestampTz ts[4] = {s.started_at, s.last_run, s.next_run, s.last_error_at};
      for (int i = 0; i < 3; i++) {
        v[3 + i] = TimestampTzGetDatum(ts[i]);
        n[3 + i] = ts[i] == 0;
      }
      v[6] = Int64GetDatum(s.cycles);
      v[7] = Int64GetDatum(s.errors);
      v[8] = CStringGetTextDatum(s.last_error);
      n[8] = s.last_error[0] == '\0';
    }
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
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
  return was;
}

Datum ml_start_workers(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(!switch_workers(true)); }
Datum ml_stop_workers(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(switch_workers(false)); }
