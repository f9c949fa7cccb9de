// Autonomous systemLogs / recoveryState writer: shared-memory ring per database + background
// worker. Plain PostgreSQL-style code: no C++ object with a destructor lives in this file's
// functions, so ereport may be called anywhere here.
#include "log.hpp"
#include "owner.hpp"

#include "config_access.hpp"

extern "C" {
#include "utils/syscache.h"
#include "catalog/pg_class.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"
#include "utils/json.h"
#include "utils/timestamp.h"
#include "access/xact.h"
#include "commands/extension.h"
#include "utils/fmgrprotos.h"
#include "miscadmin.h"
}

extern "C" {
PGDLLEXPORT void cml_logger_main(Datum arg);
PG_FUNCTION_INFO_V1(ml_log);
PG_FUNCTION_INFO_V1(ml_log_flush);
PG_FUNCTION_INFO_V1(ml_checkpoint);
PG_FUNCTION_INFO_V1(cml_log_queue_state);
PG_FUNCTION_INFO_V1(cml_audit);
}

namespace cml {
namespace pg {
namespace {

constexpr int kSlots = 8;              // databases served at once
constexpr int kMaxFields = 8;
constexpr uint32 kNullLen = 0xFFFFFFFFu;
constexpr uint8 kKindLog = 1;
constexpr uint8 kKindCheckpoint = 2;
constexpr uint8 kKindAudit = 3;
constexpr int kLogFields = 7;         // level, category, subcategory, message, context, symbol, stack_trace
constexpr int kCheckpointFields = 5;  // service_name, operation_id, state_data, checkpoint_type, origin
constexpr int kAuditFields = 7;       // action, object, old_value, new_value, who (json), xact_id, logged_at
constexpr Size kBatchBytes = 256 * 1024;
constexpr int kBatchEntries = 2000;

struct EntryHeader {
  uint32 total_len;
  uint8 kind;
  uint8 nfields;
  uint16 pad;
  Timestamp ts;  // caller's local time, like DEFAULT NOW() in the caller's session
  uint64 seq;
  uint32 lens[kMaxFields];
};

struct QueueSlot {
  Oid dboid;
  pid_t worker_pid;
  bool starting;
  TimestampTz start_requested;
  Latch* worker_latch;
  uint64 head;      // bytes ever written
  uint64 tail;      // bytes ever consumed (committed or given up)
  uint64 next_seq;  // seq of the next entry
  uint64 done_seq;  // every entry with seq < done_seq is committed or given up
  uint64 written;
  uint64 failed;
};

struct QueueShared {
  LWLock* lock;
  Size ring_size;
  QueueSlot slots[kSlots];
  ConditionVariable space_cv[kSlots];  // broadcast when the worker frees ring space
  ConditionVariable done_cv[kSlots];   // broadcast when the worker advances done_seq
};

int g_queue_kb = 8192;
int g_idle_timeout_ms = 2000;
QueueShared* g_queue = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

// per backend
int my_slot = -1;
uint64 my_last_seq = 0;
bool my_queued_any = false;
bool warned_direct = false;

Size ring_size_for(int kb) { return MAXALIGN((Size)kb * 1024 / kSlots); }
Size queue_shmem_size() { return MAXALIGN(sizeof(QueueShared)) + (Size)kSlots * ring_size_for(g_queue_kb); }
char* ring_of(int idx) {
  return reinterpret_cast<char*>(g_queue) + MAXALIGN(sizeof(QueueShared)) + (Size)idx * g_queue->ring_size;
}

void queue_shmem_request() {
  if (prev_shmem_request_hook) prev_shmem_request_hook();
  RequestAddinShmemSpace(queue_shmem_size());
  RequestNamedLWLockTranche("cryptoml", 1);
}

void queue_shmem_startup() {
  if (prev_shmem_startup_hook) prev_shmem_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  g_queue = static_cast<QueueShared*>(ShmemInitStruct("cryptoml log queue", queue_shmem_size(), &found));
  if (!found) {
    memset(g_queue, 0, sizeof(QueueShared));
    g_queue->lock = &(GetNamedLWLockTranche("cryptoml"))->lock;
    g_queue->ring_size = ring_size_for(g_queue_kb);
    for (int i = 0; i < kSlots; i++) {
      ConditionVariableInit(&g_queue->space_cv[i]);
      ConditionVariableInit(&g_queue->done_cv[i]);
    }
  }
  LWLockRelease(AddinShmemInitLock);
}

void ring_write(char* ring, Size size, uint64 pos, const char* src, Size len) {
  Size off = pos % size;
  Size first = Min(len, size - off);
  memcpy(ring + off, src, first);
  if (first < len) memcpy(ring, src + first, len - first);
}

void ring_read(const char* ring, Size size, uint64 pos, char* dst, Size len) {
  Size off = pos % size;
  Size first = Min(len, size - off);
  memcpy(dst, ring + off, first);
  if (first < len) memcpy(dst + first, ring, len - first);
}

// Caller holds the lock exclusively. Returns the slot serving MyDatabaseId, claiming a free one.
int claim_slot() {
  int free_idx = -1;
  for (int i = 0; i < kSlots; i++) {
    QueueSlot* s = &g_queue->slots[i];
    if (s->dboid == MyDatabaseId) return i;
    bool idle = s->head == s->tail && s->worker_pid == 0 && !s->starting;
    if (free_idx < 0 && (s->dboid == InvalidOid || idle)) free_idx = i;
  }
  if (free_idx >= 0) {
    QueueSlot* s = &g_queue->slots[free_idx];
    uint64 seq = s->next_seq;  // keep sequence numbers monotonic across reuse
    memset(s, 0, sizeof(QueueSlot));
    s->dboid = MyDatabaseId;
    s->next_seq = s->done_seq = seq;
  }
  return free_idx;
}

void start_worker(int idx) {
  BackgroundWorker worker;
  BackgroundWorkerHandle* handle;
  memset(&worker, 0, sizeof(worker));
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = BGW_NEVER_RESTART;
  snprintf(worker.bgw_library_name, BGW_MAXLEN, "cryptoml");
  snprintf(worker.bgw_function_name, BGW_MAXLEN, "cml_logger_main");
  snprintf(worker.bgw_name, BGW_MAXLEN, "cryptoml logger for database %u", MyDatabaseId);
  snprintf(worker.bgw_type, BGW_MAXLEN, "cryptoml logger");
  worker.bgw_main_arg = Int32GetDatum(idx);
  Oid db = MyDatabaseId;
  memcpy(worker.bgw_extra, &db, sizeof(Oid));
  worker.bgw_notify_pid = 0;
  if (!RegisterDynamicBackgroundWorker(&worker, &handle)) {
    LWLockAcquire(g_queue->lock, LW_EXCLUSIVE);
    g_queue->slots[idx].starting = false;
    LWLockRelease(g_queue->lock);
    ereport(WARNING, (errmsg("cryptoml: could not start the logger worker: no free background worker slot"),
                      errdetail("Log entries stay queued in shared memory; the next log call retries."),
                      errhint("Raise max_worker_processes.")));
  }
}

// Caller holds the lock exclusively; decides whether a worker must be started.
bool needs_worker(QueueSlot* s, TimestampTz now) {
  if (s->worker_pid != 0) return false;
  if (s->starting && !TimestampDifferenceExceeds(s->start_requested, now, 10000)) return false;
  s->starting = true;
  s->start_requested = now;
  return true;
}

// Copies one entry into the ring; false when the queue cannot take it (caller writes directly).
bool enqueue(uint8 kind, const char* const* fields, int nfields) {
  if (g_queue == nullptr || !IsUnderPostmaster || !OidIsValid(MyDatabaseId)) return false;
  EntryHeader h;
  memset(&h, 0, sizeof(h));
  h.kind = kind;
  h.nfields = (uint8)nfields;
  Size total = sizeof(EntryHeader);
  for (int i = 0; i < nfields; i++) {
    h.lens[i] = fields[i] ? (uint32)strlen(fields[i]) : kNullLen;
    if (fields[i]) total += h.lens[i];
  }
  if (total > g_queue->ring_size / 4) return false;
  h.total_len = (uint32)total;
  h.ts = DatumGetTimestamp(DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(GetCurrentTimestamp())));

  TimestampTz wait_start = 0;
  bool fits = false;
  for (;;) {
    LWLockAcquire(g_queue->lock, LW_EXCLUSIVE);
    int idx = claim_slot();
    if (idx < 0) {
      LWLockRelease(g_queue->lock);
      break;
    }
    QueueSlot* s = &g_queue->slots[idx];
    Latch* latch = s->worker_latch;
    bool start = needs_worker(s, GetCurrentTimestamp());
    fits = g_queue->ring_size - (Size)(s->head - s->tail) >= total;
    if (fits) {
      h.seq = s->next_seq++;
      char* ring = ring_of(idx);
      ring_write(ring, g_queue->ring_size, s->head, reinterpret_cast<const char*>(&h), sizeof(h));
      uint64 pos = s->head + sizeof(h);
      for (int i = 0; i < nfields; i++) {
        if (!fields[i]) continue;
        ring_write(ring, g_queue->ring_size, pos, fields[i], h.lens[i]);
        pos += h.lens[i];
      }
      s->head += total;
      my_slot = idx;
      my_last_seq = h.seq;
      my_queued_any = true;
    }
    LWLockRelease(g_queue->lock);
    if (latch) SetLatch(latch);
    if (start) start_worker(idx);
    if (fits) break;
    // Full: sleep until the worker frees space, at most 2 s in all, then write directly.
    if (wait_start == 0) {
      wait_start = GetCurrentTimestamp();
      ConditionVariablePrepareToSleep(&g_queue->space_cv[idx]);
    } else if (TimestampDifferenceExceeds(wait_start, GetCurrentTimestamp(), 2000)) {
      break;
    }
    (void)ConditionVariableTimedSleep(&g_queue->space_cv[idx], 100, PG_WAIT_EXTENSION);
  }
  if (wait_start != 0) ConditionVariableCancelSleep();
  return fits;
}

// ---- inserting entries (used by the worker, and by backends on the direct path) ----

struct Entry {
  EntryHeader h;
  const char* field[kMaxFields];
};

Datum text_array(Entry* entries, int n, uint8 kind, int field) {
  Datum* elems = (Datum*)palloc(sizeof(Datum) * n);
  bool* nulls = (bool*)palloc(sizeof(bool) * n);
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (entries[i].h.kind != kind) continue;
    uint32 len = entries[i].h.lens[field];
    nulls[k] = (len == kNullLen);
    elems[k] = nulls[k] ? (Datum)0 : PointerGetDatum(cstring_to_text_with_len(entries[i].field[field], (int)len));
    k++;
  }
  int dims[1] = {k};
  int lbs[1] = {1};
  return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

Datum ts_array(Entry* entries, int n, uint8 kind) {
  Datum* elems = (Datum*)palloc(sizeof(Datum) * n);
  int k = 0;
  for (int i = 0; i < n; i++)
    if (entries[i].h.kind == kind) elems[k++] = TimestampGetDatum(entries[i].h.ts);
  return PointerGetDatum(construct_array(elems, k, TIMESTAMPOID, sizeof(Timestamp), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

// Inserts the entries of one kind with one statement. Caller is inside SPI and a transaction.
void insert_kind(const char* schema, Entry* entries, int n, uint8 kind) {
  int count = 0;
  for (int i = 0; i < n; i++) count += entries[i].h.kind == kind;
  if (count == 0) return;
  StringInfoData sql;
  initStringInfo(&sql);
  if (kind == kKindLog) {
    appendStringInfo(&sql,
                     "INSERT INTO %s.systemlogs (level, category, subcategory, message, context, symbol, "
                     "stack_trace, \"timestamp\") SELECT u.l, u.c, u.s, u.m, u.x::jsonb, u.y, u.t, u.ts "
                     "FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) AS u(l, c, s, m, x, y, t, ts)",
                     schema);
    Oid types[8] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
                    TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPARRAYOID};
    Datum values[8];
    for (int f = 0; f < kLogFields; f++) values[f] = text_array(entries, n, kind, f);
    values[7] = ts_array(entries, n, kind);
    if (SPI_execute_with_args(sql.data, 8, types, values, nullptr, false, 0) != SPI_OK_INSERT)
      elog(ERROR, "cryptoml: inserting into systemLogs failed");
  } else if (kind == kKindAudit) {
    appendStringInfoString(&sql,
                     "INSERT INTO cryptoml_internal.audit_log (action, object, old_value, new_value, session_role, "
                     "acting_role, backend_pid, application_name, client, xact_id, logged_at) "
                     "SELECT u.a, u.o, u.ov::jsonb, u.nv::jsonb, (u.w::jsonb->>'session_role')::name, "
                     "(u.w::jsonb->>'role')::name, (u.w::jsonb->>'pid')::integer, u.w::jsonb->>'application_name', "
                     "u.w::jsonb->>'client', u.x::xid8, u.t::timestamptz "
                     "FROM unnest($1, $2, $3, $4, $5, $6, $7) AS u(a, o, ov, nv, w, x, t)");
    Oid types[kAuditFields];
    Datum values[kAuditFields];
    for (int f = 0; f < kAuditFields; f++) {
      types[f] = TEXTARRAYOID;
      values[f] = text_array(entries, n, kind, f);
    }
    if (SPI_execute_with_args(sql.data, kAuditFields, types, values, nullptr, false, 0) != SPI_OK_INSERT)
      elog(ERROR, "cryptoml: inserting into cryptoml_internal.audit_log failed");
  } else {
    appendStringInfo(&sql,
                     "INSERT INTO %s.recoverystate (service_name, operation_id, state_data, checkpoint_type, "
                     "origin, created_at) SELECT u.s, u.o, u.d::jsonb, u.t, u.g, u.ts FROM unnest($1, $2, $3, $4, $5, $6) "
                     "AS u(s, o, d, t, g, ts)",
                     schema);
    Oid types[6] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPARRAYOID};
    Datum values[6];
    for (int f = 0; f < kCheckpointFields; f++) values[f] = text_array(entries, n, kind, f);
    values[5] = ts_array(entries, n, kind);
    if (SPI_execute_with_args(sql.data, 6, types, values, nullptr, false, 0) != SPI_OK_INSERT)
      elog(ERROR, "cryptoml: inserting into recoveryState failed");
  }
}

// Runs insert_kind for both kinds inside a subtransaction; on failure logs the error and
// returns false, leaving the outer transaction usable.
bool insert_guarded(const char* schema, Entry* entries, int n) {
  MemoryContext oldcxt = CurrentMemoryContext;
  ResourceOwner oldowner = CurrentResourceOwner;
  volatile bool ok = true;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(oldcxt);
  PG_TRY();
  {
    insert_kind(schema, entries, n, kKindLog);
    insert_kind(schema, entries, n, kKindCheckpoint);
    insert_kind(schema, entries, n, kKindAudit);
    ReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(oldcxt);
    CurrentResourceOwner = oldowner;
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(oldcxt);
    ErrorData* e = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(oldcxt);
    CurrentResourceOwner = oldowner;
    ereport(WARNING, (errmsg("cryptoml logger: could not store %d entr%s: %s", n, n == 1 ? "y" : "ies", e->message)));
    FreeErrorData(e);
    ok = false;
  }
  PG_END_TRY();
  return ok;
}

// Inserts a batch, falling back to one entry at a time when the batch fails. Returns stored count.
int store_entries(const char* schema, Entry* entries, int n) {
  if (insert_guarded(schema, entries, n)) return n;
  int stored = 0;
  for (int i = 0; i < n; i++) stored += insert_guarded(schema, &entries[i], 1) ? 1 : 0;
  return stored;
}

// Direct, transactional path: no preload, no free database slot, or the queue stayed full.
void write_direct(uint8 kind, const char* const* fields, int nfields, bool warn = true) {
  if (warn && !warned_direct) {
    warned_direct = true;
    if (g_queue == nullptr)
      ereport(WARNING,
              (errmsg("cryptoml: systemLogs/recoveryState entries are written in the caller's transaction"),
               errdetail("cryptoml is not in shared_preload_libraries, so there is no autonomous writer: "
                         "entries vanish if the transaction rolls back."),
               errhint("Add cryptoml to shared_preload_libraries and restart the server.")));
    else
      ereport(WARNING,
              (errmsg("cryptoml: the shared log queue could not take an entry; writing it in the caller's transaction"),
               errdetail("The queue stayed full for 2 s, or more than %d databases are logging at once.", kSlots),
               errhint("Raise cryptoml.log_queue_size, or check that the cryptoml logger worker is running.")));
  }
  Entry e;
  memset(&e, 0, sizeof(e));
  e.h.kind = kind;
  e.h.nfields = (uint8)nfields;
  e.h.ts = DatumGetTimestamp(DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(GetCurrentTimestamp())));
  for (int i = 0; i < nfields; i++) {
    e.field[i] = fields[i];
    e.h.lens[i] = fields[i] ? (uint32)strlen(fields[i]) : kNullLen;
  }
  SPI_connect();
  const char* schema = extension_schema();
  if (schema == nullptr) ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("extension cryptoml is not installed in this database")));
  // A checkpoint carries its origin, a column only the owner writes: the row goes in as the
  // owner (as the logger worker, a superuser, writes queued ones).
  OwnerScope scope;
  bool as_owner = kind != kKindLog;
  if (as_owner) enter_owner(extension_owner(), &scope);
  insert_kind(schema, &e, 1, kind);
  if (as_owner) leave_owner(&scope);
  SPI_finish();
}

// ---- the worker ----

volatile sig_atomic_t got_sigterm = false;
bool worker_connected = false;

void logger_sigterm(SIGNAL_ARGS) {
  int save_errno = errno;
  got_sigterm = true;
  SetLatch(MyLatch);
  errno = save_errno;
}

void logger_detach(int, Datum arg) {
  int idx = DatumGetInt32(arg);
  LWLockAcquire(g_queue->lock, LW_EXCLUSIVE);
  QueueSlot* s = &g_queue->slots[idx];
  if (s->worker_pid == MyProcPid) {
    s->worker_pid = 0;
    s->worker_latch = nullptr;
  }
  if (!worker_connected) {
    // The database cannot be reached (dropped): nothing can ever store these entries.
    s->starting = false;
    s->failed += s->next_seq - s->done_seq;
    s->tail = s->head;
    s->done_seq = s->next_seq;
  }
  LWLockRelease(g_queue->lock);
  ConditionVariableBroadcast(&g_queue->space_cv[idx]);
  ConditionVariableBroadcast(&g_queue->done_cv[idx]);
}

// Copies up to one batch of entries out of the ring (without consuming them).
int read_batch(int idx, char* buf, Entry* entries, uint64* new_tail, uint64* last_seq) {
  LWLockAcquire(g_queue->lock, LW_EXCLUSIVE);
  QueueSlot* s = &g_queue->slots[idx];
  const char* ring = ring_of(idx);
  uint64 pos = s->tail;
  Size used = 0;
  int n = 0;
  while (pos < s->head && n < kBatchEntries) {
    EntryHeader h;
    ring_read(ring, g_queue->ring_size, pos, reinterpret_cast<char*>(&h), sizeof(h));
    if (used + h.total_len > kBatchBytes && n > 0) break;
    ring_read(ring, g_queue->ring_size, pos, buf + used, h.total_len);
    Entry* e = &entries[n++];
    memcpy(&e->h, &h, sizeof(h));
    const char* p = buf + used + sizeof(h);
    for (int f = 0; f < h.nfields; f++) {
      e->field[f] = h.lens[f] == kNullLen ? nullptr : p;
      if (h.lens[f] != kNullLen) p += h.lens[f];
    }
    used += h.total_len;
    pos += h.total_len;
    *last_seq = h.seq;
  }
  *new_tail = pos;
  LWLockRelease(g_queue->lock);
  return n;
}

bool drain_once(int idx, MemoryContext batch_cxt) {
  MemoryContextReset(batch_cxt);
  MemoryContext old = MemoryContextSwitchTo(batch_cxt);
  char* buf = (char*)palloc(kBatchBytes + g_queue->ring_size / 4 + sizeof(EntryHeader));
  Entry* entries = (Entry*)palloc(sizeof(Entry) * kBatchEntries);
  uint64 new_tail = 0, last_seq = 0;
  int n = read_batch(idx, buf, entries, &new_tail, &last_seq);
  MemoryContextSwitchTo(old);
  if (n == 0) return false;

  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  SPI_connect();
  PushActiveSnapshot(GetTransactionSnapshot());
  pgstat_report_activity(STATE_RUNNING, "cryptoml logger: storing entries");
  const char* schema = extension_schema();
  int stored = 0;
  if (schema == nullptr)
    ereport(LOG, (errmsg("cryptoml logger: extension cryptoml is not installed in this database; discarding %d entries", n)));
  else
    stored = store_entries(schema, entries, n);
  SPI_finish();
  PopActiveSnapshot();
  CommitTransactionCommand();
  pgstat_report_activity(STATE_IDLE, nullptr);

  LWLockAcquire(g_queue->lock, LW_EXCLUSIVE);
  QueueSlot* s = &g_queue->slots[idx];
  s->tail = new_tail;
  s->done_seq = last_seq + 1;
  s->written += stored;
  s->failed += n - stored;
  LWLockRelease(g_queue->lock);
  ConditionVariableBroadcast(&g_queue->space_cv[idx]);
  ConditionVariableBroadcast(&g_queue->done_cv[idx]);
  return true;
}

}  // namespace

// ---- public C++ API ----

// The schema name is cached per backend, keyed by the relation id of mltrainingbatches: dropping
// the extension (or moving that table) sends a relcache invalidation for it, which clears the
// cache. A schema with no mltrainingbatches yet (inside CREATE EXTENSION) is not cached. The
// cached string is replaced only when the name changes, so a pointer returned earlier stays valid.
namespace {
char* g_schema = nullptr;
Oid g_schema_nsp = InvalidOid;
Oid g_schema_relid = InvalidOid;
bool g_schema_valid = false;

void schema_inval_callback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == g_schema_relid) g_schema_valid = false;
}
}  // namespace

const char* extension_schema() {
  if (g_schema_valid) return g_schema;
  // pg_extension has no syscache; one index scan by name (get_extension_schema is not exported in 15).
  Oid nsp = InvalidOid;
  Relation rel = table_open(ExtensionRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum("cryptoml"));
  SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, nullptr, 1, &key);
  HeapTuple tup = systable_getnext(scan);
  if (HeapTupleIsValid(tup)) nsp = ((Form_pg_extension)GETSTRUCT(tup))->extnamespace;
  systable_endscan(scan);
  table_close(rel, AccessShareLock);
  char* name = OidIsValid(nsp) ? get_namespace_name(nsp) : nullptr;
  if (name == nullptr) return nullptr;
  const char* quoted = quote_identifier(name);
  Oid relid = get_relname_relid("mltrainingbatches", nsp);
  if (!OidIsValid(relid)) return quoted;
  if (g_schema == nullptr || strcmp(g_schema, quoted) != 0) g_schema = MemoryContextStrdup(TopMemoryContext, quoted);
  g_schema_relid = relid;
  g_schema_nsp = nsp;
  g_schema_valid = true;
  return g_schema;
}

Oid extension_registry_relid() {
  if (extension_schema() == nullptr || !g_schema_valid) return InvalidOid;
  return g_schema_relid;
}

Oid extension_namespace() {
  if (extension_schema() == nullptr) return InvalidOid;
  if (!g_schema_valid) ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("extension cryptoml is being installed")));
  return g_schema_nsp;
}

Oid extension_owner() {
  Oid nsp = extension_namespace();
  Oid relid = OidIsValid(nsp) ? get_relname_relid("recoverystate", nsp) : InvalidOid;
  HeapTuple tup = OidIsValid(relid) ? SearchSysCache1(RELOID, ObjectIdGetDatum(relid)) : nullptr;
  if (!HeapTupleIsValid(tup))
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("extension cryptoml is not installed in this database")));
  Oid owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
  ReleaseSysCache(tup);
  return owner;
}

void log_init() {
  CacheRegisterRelcacheCallback(schema_inval_callback, (Datum)0);
  // A PGC_POSTMASTER variable can only be defined while the postmaster loads the library;
  // loaded later (no preload) there is no queue to size anyway.
  if (process_shared_preload_libraries_in_progress)
    DefineCustomIntVariable("cryptoml.log_queue_size",
                            "Shared memory for queued systemLogs/recoveryState entries (all databases).", nullptr,
                            &g_queue_kb, 8192, 64, 1024 * 1024, PGC_POSTMASTER, GUC_UNIT_KB, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("cryptoml.log_worker_idle_timeout",
                          "How long an idle logger worker waits before it exits.", nullptr, &g_idle_timeout_ms,
                          2000, 100, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  if (process_shared_preload_libraries_in_progress) {
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = queue_shmem_request;
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = queue_shmem_startup;
  }
}

namespace {

// Clips a field to at most max_bytes (on a character boundary), marking the cut.
const char* clip_field(const char* value, Size max_bytes) {
  if (value == nullptr || strlen(value) <= max_bytes) return value;
  const char* marker = "... [truncated by cryptoml]";
  int keep = pg_mbcliplen(value, (int)strlen(value), (int)(max_bytes - strlen(marker)));
  return psprintf("%.*s%s", keep, value, marker);
}

// A log entry must fit the queue to stay autonomous: clip message and stack trace, and replace
// an oversized context by a note of its size (a cut jsonb would not parse).
void fit_log_entry(const char** fields) {
  if (g_queue == nullptr) return;
  Size limit = g_queue->ring_size / 4 - sizeof(EntryHeader) - 1024;
  Size total = 0;
  for (int i = 0; i < kLogFields; i++) total += fields[i] ? strlen(fields[i]) : 0;
  if (total <= limit) return;
  if (fields[4] && strlen(fields[4]) > limit / 4)
    fields[4] = psprintf("{\"truncated_by_cryptoml\": true, \"original_bytes\": %zu}", strlen(fields[4]));
  fields[3] = clip_field(fields[3], limit / 2);
  fields[6] = clip_field(fields[6], limit / 4);
}

void write_log(LogLevel level, const char* category, const char* subcategory, const char* message,
               const char* context_json, const char* symbol, const char* stack_trace) {
  const char* fields[kLogFields] = {to_string(level), category, subcategory, message, context_json, symbol, stack_trace};
  fit_log_entry(fields);
  if (!enqueue(kKindLog, fields, kLogFields)) write_direct(kKindLog, fields, kLogFields);
}

}  // namespace

bool log_write(LogLevel level, const char* category, const char* subcategory, const char* message,
               const char* context_json, const char* symbol, const char* stack_trace) {
  if (!log_enabled(level, config_log_level())) return false;
  write_log(level, category, subcategory, message, context_json, symbol, stack_trace);
  return true;
}

void log_audit(const char* category, const char* subcategory, const char* message, const char* context_json) {
  const char* fields[kLogFields] = {to_string(LogLevel::info), category, subcategory, message, context_json, nullptr, nullptr};
  write_direct(kKindLog, fields, kLogFields, false);
}

// The caller's identity as JSON: session role, the role in effect outside any SECURITY DEFINER
// function (SET ROLE), backend pid, application_name and client address.
static char* audit_who() {
  StringInfoData w;
  initStringInfo(&w);
  appendStringInfoString(&w, "{\"session_role\": ");
  escape_json(&w, GetUserNameFromId(GetSessionUserId(), false));
  appendStringInfoString(&w, ", \"role\": ");
  escape_json(&w, GetUserNameFromId(GetOuterUserId(), false));
  appendStringInfo(&w, ", \"pid\": %d, \"application_name\": ", MyProcPid);
  const char* app = GetConfigOption("application_name", true, false);
  if (app && app[0]) escape_json(&w, app); else appendStringInfoString(&w, "null");
  appendStringInfoString(&w, ", \"client\": ");
  LOCAL_FCINFO(addr_call, 0);
  InitFunctionCallInfoData(*addr_call, nullptr, 0, InvalidOid, nullptr, nullptr);
  Datum addr = inet_client_addr(addr_call);  // NULL over a Unix socket
  if (addr_call->isnull) escape_json(&w, MyProcPort ? "local" : "background");
  else escape_json(&w, DatumGetCString(DirectFunctionCall1(inet_out, addr)));
  appendStringInfoChar(&w, '}');
  return w.data;
}

static void audit_write(const char* action, const char* object, const char* old_json, const char* new_json, bool transactional) {
  // The transaction (or subtransaction) that made the change: ml_audit_log reads its fate from
  // the commit log, so an entry of a change that was rolled back says so.
  FullTransactionId fxid = transactional ? GetCurrentFullTransactionIdIfAny() : InvalidFullTransactionId;
  char* xact = FullTransactionIdIsValid(fxid) ? psprintf(UINT64_FORMAT, U64FromFullTransactionId(fxid)) : nullptr;
  char* at = DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(GetCurrentTimestamp())));
  const char* fields[kAuditFields] = {action, object, old_json, new_json, audit_who(), xact, at};
  // Inside CREATE or ALTER EXTENSION the trail may be a table of this very transaction, which the
  // logger cannot see yet: written directly (the script commits or rolls back as one).
  if (creating_extension || !enqueue(kKindAudit, fields, kAuditFields)) {
    write_direct(kKindAudit, fields, kAuditFields, g_queue == nullptr && !creating_extension);
    return;
  }
  if (!log_flush(10000))
    ereport(WARNING, (errmsg("cryptoml: audit entry %s %s is queued but not yet committed after 10 s", action, object ? object : "")));
}

void audit_event(const char* action, const char* object, const char* old_json, const char* new_json) {
  audit_write(action, object, old_json, new_json, true);
}

void audit_event_immediate(const char* action, const char* object, const char* old_json, const char* new_json) {
  audit_write(action, object, old_json, new_json, false);
}

void checkpoint_write(const char* service_name, const char* operation_id, const char* checkpoint_type,
                      const char* state_json, CheckpointOrigin origin) {
  if (!config_enable_recovery()) return;
  const char* fields[kCheckpointFields] = {service_name, operation_id, state_json, checkpoint_type,
                                           origin == CheckpointOrigin::cryptoml ? "cryptoml" : "user"};
  if (!enqueue(kKindCheckpoint, fields, kCheckpointFields)) {
    write_direct(kKindCheckpoint, fields, kCheckpointFields);
    return;
  }
  if (!log_flush(30000))
    ereport(WARNING, (errmsg("cryptoml: checkpoint %s/%s is queued but not yet committed after 30 s", service_name, operation_id)));
}

bool log_flush(int timeout_ms) {
  if (g_queue == nullptr || !my_queued_any) return true;
  TimestampTz start = GetCurrentTimestamp();
  int idx = my_slot;
  bool done = false;
  ConditionVariablePrepareToSleep(&g_queue->done_cv[idx]);
  for (;;) {
    LWLockAcquire(g_queue->lock, LW_EXCLUSIVE);
    QueueSlot* s = &g_queue->slots[idx];
    done = s->dboid != MyDatabaseId || s->done_seq > my_last_seq;
    bool start_needed = !done && needs_worker(s, GetCurrentTimestamp());
    Latch* latch = s->worker_latch;
    LWLockRelease(g_queue->lock);
    if (done) break;
    if (latch) SetLatch(latch);
    if (start_needed) start_worker(idx);
    long left = timeout_ms - (long)((GetCurrentTimestamp() - start) / 1000);
    if (left <= 0) break;
    (void)ConditionVariableTimedSleep(&g_queue->done_cv[idx], Min(left, 1000L), PG_WAIT_EXTENSION);
  }
  ConditionVariableCancelSleep();
  return done;
}

}  // namespace pg
}  // namespace cml

using namespace cml::pg;

void cml_logger_main(Datum arg) {
  int idx = DatumGetInt32(arg);
  Oid dboid;
  memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
  pqsignal(SIGTERM, logger_sigterm);
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  BackgroundWorkerUnblockSignals();
  if (g_queue == nullptr) proc_exit(0);

  LWLockAcquire(g_queue->lock, LW_EXCLUSIVE);
  QueueSlot* s = &g_queue->slots[idx];
  bool mine = s->dboid == dboid && s->worker_pid == 0;
  if (mine) {
    s->worker_pid = MyProcPid;
    s->worker_latch = MyLatch;
  }
  s->starting = false;
  LWLockRelease(g_queue->lock);
  if (!mine) proc_exit(0);
  before_shmem_exit(logger_detach, Int32GetDatum(idx));

  BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
  SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);  // as the other workers
  worker_connected = true;
  MemoryContext batch_cxt = AllocSetContextCreate(TopMemoryContext, "cryptoml logger batch", ALLOCSET_DEFAULT_SIZES);

  int idle_ms = 0;
  for (;;) {
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    if (drain_once(idx, batch_cxt)) {
      idle_ms = 0;
      continue;
    }
    if (got_sigterm) break;  // queue drained
    if (idle_ms >= g_idle_timeout_ms) {
      LWLockAcquire(g_queue->lock, LW_EXCLUSIVE);
      bool empty = s->head == s->tail;
      if (empty) {
        s->worker_pid = 0;
        s->worker_latch = nullptr;
      }
      LWLockRelease(g_queue->lock);
      if (empty) break;
      idle_ms = 0;
      continue;
    }
    int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 200, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    if (rc & WL_TIMEOUT) idle_ms += 200;
  }
  proc_exit(0);
}

// ---- SQL entry points ----

namespace {

const char* text_arg(FunctionCallInfo fcinfo, int n) {
  return PG_ARGISNULL(n) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

const char* required_text(FunctionCallInfo fcinfo, int n, const char* name) {
  if (PG_ARGISNULL(n))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL", name)));
  return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

// A caller's value quoted in an error: its first 40 bytes (on a character boundary), marked when cut.
const char* quoted(const char* value) {
  int len = (int)strlen(value);
  if (len <= 40) return value;
  return psprintf("%.*s...", pg_mbcliplen(value, len, 40), value);
}

void check_length(const char* value, int max_chars, const char* column) {
  if (value != nullptr && pg_mbstrlen(value) > max_chars)
    ereport(ERROR, (errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
                    errmsg("%s is %d characters long: \"%.*s...\"", column, pg_mbstrlen(value),
                           pg_mbcliplen(value, (int)strlen(value), 60), value),
                    errdetail("rule: %s is VARCHAR(%d)", column, max_chars)));
}

const char* jsonb_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return nullptr;
  Jsonb* jb = PG_GETARG_JSONB_P(n);
  return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
}

}  // namespace

Datum ml_log(PG_FUNCTION_ARGS) {
  const char* level_s = required_text(fcinfo, 0, "level");
  cml::LogLevel level;
  if (!cml::try_parse_log_level(level_s, &level))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid log level \"%s\"", quoted(level_s)),
                    errdetail("rule: level must be one of debug, info, warning, error")));
  const char* category = required_text(fcinfo, 1, "category");
  const char* subcategory = text_arg(fcinfo, 2);
  const char* message = required_text(fcinfo, 3, "message");
  const char* context = jsonb_arg(fcinfo, 4);
  const char* symbol = text_arg(fcinfo, 5);
  check_length(category, 50, "systemLogs.category");
  check_length(subcategory, 50, "systemLogs.subcategory");
  check_length(symbol, 20, "systemLogs.symbol");
  const char* stack = nullptr;
  if (level >= cml::LogLevel::warning) {
    char* ctx = GetErrorContextStack();
    if (ctx != nullptr && ctx[0] != '\0') stack = ctx;
  }
  PG_RETURN_BOOL(log_write(level, category, subcategory, message, context, symbol, stack));
}

Datum ml_log_flush(PG_FUNCTION_ARGS) {
  int timeout_ms = PG_GETARG_INT32(0);
  if (timeout_ms < 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("timeout_ms must be >= 0, got %d", timeout_ms)));
  PG_RETURN_BOOL(log_flush(timeout_ms));
}

Datum ml_checkpoint(PG_FUNCTION_ARGS) {
  const char* service = required_text(fcinfo, 0, "service_name");
  const char* op = required_text(fcinfo, 1, "operation_id");
  const char* type = required_text(fcinfo, 2, "checkpoint_type");
  if (strcmp(type, "success") != 0 && strcmp(type, "error") != 0 && strcmp(type, "intermediate") != 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid checkpoint_type \"%s\"", quoted(type)),
                    errdetail("rule: checkpoint_type must be one of success, error, intermediate")));
  check_length(service, 50, "recoveryState.service_name");
  check_length(op, 100, "recoveryState.operation_id");
  const char* state = jsonb_arg(fcinfo, 3);
  checkpoint_write(service, op, type, state ? state : "{}", CheckpointOrigin::user);
  PG_RETURN_VOID();
}

// Shared state of this database's queue, as jsonb (ml_log_queue() formats it).
Datum cml_log_queue_state(PG_FUNCTION_ARGS) {
  StringInfoData out;
  initStringInfo(&out);
  if (g_queue == nullptr) {
    appendStringInfoString(&out, "{\"mode\": \"direct\"}");
  } else {
    int64 queued = 0, bytes = 0, written = 0, failed = 0;
    int pid = 0;
    LWLockAcquire(g_queue->lock, LW_SHARED);
    for (int i = 0; i < kSlots; i++) {
      QueueSlot* s = &g_queue->slots[i];
      if (s->dboid != MyDatabaseId) continue;
      queued = (int64)(s->next_seq - s->done_seq);
      bytes = (int64)(s->head - s->tail);
      written = (int64)s->written;
      failed = (int64)s->failed;
      pid = s->worker_pid;
    }
    LWLockRelease(g_queue->lock);
    appendStringInfo(&out,
                     "{\"mode\": \"autonomous\", \"queued\": " INT64_FORMAT ", \"queued_bytes\": " INT64_FORMAT
                     ", \"written\": " INT64_FORMAT ", \"failed\": " INT64_FORMAT ", \"worker_pid\": %d, "
                     "\"capacity_bytes\": " INT64_FORMAT "}",
                     queued, bytes, written, failed, pid, (int64)g_queue->ring_size);
  }
  PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

// cryptoml_internal.audit(action, object, old_value, new_value): the SQL functions' way into
// audit_event. Only the extension's own code may write the trail: the caller's current role must
// be the extension owner (as inside its SECURITY DEFINER functions) or a superuser, so an admin
// granted EXECUTE by mistake still could not forge entries.
Datum cml_audit(PG_FUNCTION_ARGS) {
  if (!superuser() && GetUserId() != extension_owner())
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("only cryptoml's own functions may write the audit trail"),
                    errdetail("current role \"%s\" is neither the extension owner nor a superuser",
                              GetUserNameFromId(GetUserId(), false))));
  const char* action = required_text(fcinfo, 0, "action");
  const char* object = text_arg(fcinfo, 1);
  const char* old_json = jsonb_arg(fcinfo, 2);
  const char* new_json = jsonb_arg(fcinfo, 3);
  audit_event(action, object, old_json, new_json);
  PG_RETURN_VOID();
}
