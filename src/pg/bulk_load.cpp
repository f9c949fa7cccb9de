// ml_load_bars: the bulk loader for backfills (docs/ingest.md#bulk-loader).
//
// Bars come from a file the server reads (CSV, plain or gzip) or from a table the caller can
// SELECT (filled with \copy). Each bar goes through the row trigger's own checks and indicator
// state (chart.hpp: one computation, in src/core/indicators.*), then into rollingChartData the
// way COPY FROM stores rows: slots in batches through table_multi_insert, index entries through
// ExecInsertIndexTuples, constraints through ExecConstraints, column defaults evaluated, the
// table's BEFORE and AFTER STATEMENT INSERT triggers fired. The AFTER STATEMENT triggers do the
// rest exactly as for an INSERT: checkpoints (zz_cryptoml_indicators_statement), trade following
// and anomaly staleness (which read what that trigger recorded). Bars are only appended: a bar
// at or before its symbol's latest stored bar is an error, and an error stores nothing.
//
// Everything here is plain C data (palloc, dynahash): no C++ object is alive across a call that
// can raise an ERROR, and no per-backend state is kept between calls (chart.cpp owns the cache).
#include <cerrno>
#include <cstdlib>

#include <zlib.h>

#include "chart.hpp"
#include "guard.hpp"
#include "log.hpp"

extern "C" {
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/heapam.h"
#include "catalog/pg_trigger.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_authid.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/fmgroids.h"
#include "rewrite/rewriteHandler.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/hsearch.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(ml_load_bars_file);
PG_FUNCTION_INFO_V1(ml_load_bars_table);
}

namespace {

using cml::pg::ChartAppend;
using cml::pg::ChartBar;

constexpr int kInputColumns = 7;
const char* const kInputNames[kInputColumns] = {"symbol", "timestamp", "open", "high", "low", "close", "volume"};
constexpr int kBatchRows = 1000;          // rows per table_multi_insert, as COPY's buffer
constexpr size_t kReadChunk = 256 * 1024;  // bytes read from the file at a time

struct SymbolLoad {
  char key[NAMEDATALEN];  // dynahash key: the symbol
  ChartAppend* chart;
  Timestamp stored_last;  // latest stored bar before this load (DT_NOBEGIN: none)
  Timestamp first, last;  // of the loaded bars
  int64 bars;
};

struct Loader {
  Relation rel;
  TupleDesc desc;
  EState* estate;
  ResultRelInfo* rri;
  int att[kInputColumns];  // attribute numbers of symbol ... volume
  FmgrInfo in_fn[kInputColumns];
  Oid in_ioparam[kInputColumns];
  int32 in_typmod[kInputColumns];
  int ndefaults;
  int* def_att;  // 0-based
  ExprState** def_expr;
  bool check_constraints;
  bool generated;
  TupleTableSlot* slots[kBatchRows];
  int nbuf;
  CommandId cid;
  BulkInsertState bistate;
  MemoryContext batch_cxt;  // the buffered rows' values; reset after each flush
  HTAB* symbols;
  SymbolLoad* last;  // the previous row's symbol
  int64 rows;
  // for the error context
  const char* source;
  const char* unit;  // "line" or "row"
  int64 position;
};

void load_error_context(void* arg) {
  Loader* L = (Loader*)arg;
  if (L->position > 0) errcontext("ml_load_bars: %s, %s %lld", L->source, L->unit, (long long)L->position);
}

// The row trigger stands for the bars' indicators: any other row-level INSERT trigger, a disabled
// cryptoml trigger or a transition table would be bypassed or behave differently, so they are
// refused rather than silently skipped.
void check_triggers(Relation rel) {
  if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("ml_load_bars refuses to run with session_replication_role = replica"),
                    errdetail("rule: ml_load_bars stores what the indicator triggers would; under the replica role they do not fire"),
                    errhint("SET session_replication_role = origin.")));
  TriggerDesc* td = rel->trigdesc;
  bool row_ok = false, stmt_ok = false;
  for (int i = 0; td != nullptr && i < td->numtriggers; i++) {
    const Trigger* t = &td->triggers[i];
    bool ours_row = strcmp(t->tgname, "zz_cryptoml_indicators_row") == 0;
    bool ours_stmt = strcmp(t->tgname, "zz_cryptoml_indicators_statement") == 0;
    if (ours_row) row_ok = t->tgenabled != TRIGGER_DISABLED;
    if (ours_stmt) stmt_ok = t->tgenabled != TRIGGER_DISABLED;
    if (t->tgenabled == TRIGGER_DISABLED || ours_row) continue;
    if (TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_INSERT(t->tgtype))
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("ml_load_bars cannot load %s: it has the row-level INSERT trigger \"%s\"",
                             RelationGetRelationName(rel), t->tgname),
                      errdetail("rule: ml_load_bars fires the table's statement triggers but no row trigger other than cryptoml's own"),
                      errhint("Load through COPY or INSERT, which fire it, or drop or disable the trigger.")));
    if (TRIGGER_FOR_INSERT(t->tgtype) && t->tgnewtable != nullptr)
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("ml_load_bars cannot load %s: trigger \"%s\" has a transition table", RelationGetRelationName(rel),
                             t->tgname),
                      errhint("Load through COPY or INSERT.")));
  }
  if (!row_ok || !stmt_ok)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("ml_load_bars needs the triggers zz_cryptoml_indicators_row and zz_cryptoml_indicators_statement "
                           "of %s enabled", RelationGetRelationName(rel)),
                    errdetail("rule: ml_load_bars stores exactly what the trigger path would, and the statement trigger writes the checkpoints"),
                    errhint("ALTER TABLE rollingChartData ENABLE TRIGGER ALL;")));
}

int attnum_or_error(TupleDesc desc, const char* name) {
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute a = TupleDescAttr(desc, i);
    if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0) return i + 1;
  }
  ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN), errmsg("ml_load_bars: column \"%s\" is missing from rollingChartData", name)));
  return 0;
}

// rollingChartData of the extension.
Oid chart_relid() {
  Oid nsp = cml::pg::extension_namespace();
  Oid relid = OidIsValid(nsp) ? get_relname_relid("rollingchartdata", nsp) : InvalidOid;
  if (!OidIsValid(relid)) elog(ERROR, "cryptoml: rollingChartData not found");
  return relid;
}

// Opens rollingChartData for inserting as COPY FROM does: INSERT privilege on the loaded columns,
// no row-level security, an executor state with its indexes, the BEFORE STATEMENT triggers fired.
void loader_open(Loader* L) {
  memset(L, 0, sizeof *L);
  PreventCommandIfReadOnly("ml_load_bars()");
  PreventCommandIfParallelMode("ml_load_bars()");
  Oid relid = chart_relid();
  L->rel = table_open(relid, RowExclusiveLock);
  L->desc = RelationGetDescr(L->rel);
  if (L->rel->rd_rel->relkind != RELKIND_RELATION)
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("ml_load_bars: %s is not a plain table", RelationGetRelationName(L->rel))));
  for (int k = 0; k < kInputColumns; k++) L->att[k] = attnum_or_error(L->desc, kInputNames[k]);

  RangeTblEntry* rte = makeNode(RangeTblEntry);
  rte->rtekind = RTE_RELATION;
  rte->relid = relid;
  rte->relkind = L->rel->rd_rel->relkind;
  rte->rellockmode = RowExclusiveLock;
  rte->requiredPerms = ACL_INSERT;
  for (int k = 0; k < kInputColumns; k++)
    rte->insertedCols = bms_add_member(rte->insertedCols, L->att[k] - FirstLowInvalidHeapAttributeNumber);
  List* range_table = list_make1(rte);
  (void)ExecCheckRTPerms(range_table, true);
  if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("ml_load_bars is not supported for a table with row-level security"),
                    errhint("Use INSERT statements instead (as for COPY FROM).")));
  check_triggers(L->rel);

  for (int k = 0; k < kInputColumns; k++) {
    Form_pg_attribute a = TupleDescAttr(L->desc, L->att[k] - 1);
    Oid func;
    getTypeInputInfo(a->atttypid, &func, &L->in_ioparam[k]);
    fmgr_info(func, &L->in_fn[k]);
    L->in_typmod[k] = a->atttypmod;
  }

  L->estate = CreateExecutorState();
  ExecInitRangeTable(L->estate, range_table);
  L->rri = makeNode(ResultRelInfo);
  ExecInitResultRelation(L->estate, L->rri, 1);
  CheckValidResultRel(L->rri, CMD_INSERT);
  ExecOpenIndices(L->rri, false);

  // Defaults of the columns nobody supplies (id, created_at, source, ...), as COPY evaluates them.
  L->def_att = (int*)palloc(sizeof(int) * L->desc->natts);
  L->def_expr = (ExprState**)palloc(sizeof(ExprState*) * L->desc->natts);
  // the indicator columns: filled by chart_append_bar
  const char* computed[] = {"rsi", "macd", "macd_signal", "macd_hist", "bollinger_upper", "bollinger_middle",
                            "bollinger_lower", "stochastic_k", "stochastic_d", "volatility", "is_complete"};
  for (int i = 0; i < L->desc->natts; i++) {
    Form_pg_attribute a = TupleDescAttr(L->desc, i);
    if (a->attisdropped || a->attgenerated) continue;
    bool supplied = false;
    for (int k = 0; k < kInputColumns; k++) supplied |= L->att[k] == i + 1;
    for (const char* name : computed) supplied |= strcmp(NameStr(a->attname), name) == 0;
    if (supplied) continue;
    Expr* def = (Expr*)build_column_default(L->rel, i + 1);
    if (def == nullptr) continue;
    L->def_att[L->ndefaults] = i;
    L->def_expr[L->ndefaults] = ExecInitExpr(expression_planner(def), nullptr);
    L->ndefaults++;
  }
  L->check_constraints = L->desc->constr != nullptr;
  L->generated = L->desc->constr != nullptr && L->desc->constr->has_generated_stored;
  for (int i = 0; i < kBatchRows; i++) L->slots[i] = table_slot_create(L->rel, &L->estate->es_tupleTable);
  L->cid = GetCurrentCommandId(true);
  L->bistate = GetBulkInsertState();
  L->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "ml_load_bars batch", ALLOCSET_DEFAULT_SIZES);

  HASHCTL ctl;
  memset(&ctl, 0, sizeof ctl);
  ctl.keysize = NAMEDATALEN;
  ctl.entrysize = sizeof(SymbolLoad);
  ctl.hcxt = CurrentMemoryContext;
  L->symbols = hash_create("ml_load_bars symbols", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

  AfterTriggerBeginQuery();
  ExecBSInsertTriggers(L->estate, L->rri);
}

void loader_flush(Loader* L) {
  if (L->nbuf == 0) return;
  table_multi_insert(L->rel, L->slots, L->nbuf, L->cid, 0, L->bistate);
  for (int i = 0; i < L->nbuf; i++) {
    if (L->rri->ri_NumIndices > 0) {
      ResetPerTupleExprContext(L->estate);
      List* recheck = ExecInsertIndexTuples(L->rri, L->slots[i], L->estate, false, false, nullptr, NIL);
      list_free(recheck);
    }
    ExecClearTuple(L->slots[i]);
  }
  L->nbuf = 0;
  MemoryContextReset(L->batch_cxt);
}

[[noreturn]] void reject_order(const Loader* L, const char* symbol, Timestamp ts, Timestamp before, bool stored) {
  const char* at = DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(ts)));
  const char* prev = DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(before)));
  if (stored)
    ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                    errmsg("rollingChartData bar %s %s rejected: %s already holds bars up to %s", symbol, at, symbol, prev),
                    errdetail("rule: ml_load_bars appends; each symbol's bars must come after its latest stored bar"),
                    errhint("Leave out the bars already stored, or load late and corrected bars with INSERT or COPY (their "
                            "trigger recomputes the symbol).")));
  ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                  errmsg("rollingChartData bar %s %s rejected: %s", symbol, at,
                         ts == before ? "duplicate timestamp in the input" : psprintf("it comes after the bar at %s in the input", prev)),
                  errdetail("rule: ml_load_bars reads each symbol's bars in strictly increasing timestamp order, without duplicates"),
                  errhint("Sort the input by symbol and timestamp and remove duplicates.")));
  pg_unreachable();
  (void)L;
}

// One input row, its columns already of rollingChartData's types (NULL symbol or timestamp:
// refused as the NOT NULL constraint would).
void loader_add(Loader* L, const Datum* in, const bool* in_null) {
  for (int k = 0; k < 2; k++)
    if (in_null[k])
      ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
                      errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint", kInputNames[k],
                             RelationGetRelationName(L->rel))));
  MemoryContext caller = MemoryContextSwitchTo(L->batch_cxt);
  ResetPerTupleExprContext(L->estate);
  ChartBar b;
  b.symbol = TextDatumGetCString(in[0]);
  b.ts = DatumGetTimestamp(in[1]);
  double* v[5] = {&b.open, &b.high, &b.low, &b.close, &b.volume};
  bool* n[5] = {&b.open_null, &b.high_null, &b.low_null, &b.close_null, &b.volume_null};
  for (int k = 0; k < 5; k++) {
    *n[k] = in_null[2 + k];
    *v[k] = *n[k] ? 0.0 : cml::pg::numeric_value(in[2 + k]);
  }
  cml::pg::chart_validate_bar(b);  // the row trigger's checks and errors

  SymbolLoad* s = L->last;
  if (s == nullptr || strcmp(s->key, b.symbol) != 0) {
    bool found;
    s = (SymbolLoad*)hash_search(L->symbols, b.symbol, HASH_ENTER, &found);
    if (!found) {
      s->chart = nullptr;
      s->bars = 0;
      s->chart = cml::pg::chart_append_begin(L->rel, b.symbol, &s->stored_last);
      s->first = s->last = DT_NOBEGIN;
    }
    L->last = s;
  }
  if (s->bars == 0 && s->stored_last != DT_NOBEGIN && b.ts <= s->stored_last) reject_order(L, b.symbol, b.ts, s->stored_last, true);
  if (s->bars > 0 && b.ts <= s->last) reject_order(L, b.symbol, b.ts, s->last, false);

  TupleTableSlot* slot = L->slots[L->nbuf];
  ExecClearTuple(slot);
  Datum* values = slot->tts_values;
  bool* nulls = slot->tts_isnull;
  for (int i = 0; i < L->desc->natts; i++) {
    values[i] = (Datum)0;
    nulls[i] = true;
  }
  for (int k = 0; k < kInputColumns; k++) {
    values[L->att[k] - 1] = in[k];
    nulls[L->att[k] - 1] = in_null[k];
  }
  cml::pg::chart_append_bar(s->chart, L->rel, b, values, nulls);
  ExprContext* econtext = GetPerTupleExprContext(L->estate);
  for (int d = 0; d < L->ndefaults; d++)
    values[L->def_att[d]] = ExecEvalExpr(L->def_expr[d], econtext, &nulls[L->def_att[d]]);
  ExecStoreVirtualTuple(slot);
  if (L->generated) ExecComputeStoredGenerated(L->rri, L->estate, slot, CMD_INSERT);
  if (L->check_constraints) ExecConstraints(L->rri, slot, L->estate);
  MemoryContextSwitchTo(caller);

  if (s->bars == 0) s->first = b.ts;
  s->last = b.ts;
  s->bars++;
  L->rows++;
  if (++L->nbuf == kBatchRows) loader_flush(L);
}

int compare_loads(const void* a, const void* b) {
  return strcmp((*(SymbolLoad* const*)a)->key, (*(SymbolLoad* const*)b)->key);
}

// Stores the last batch, fires the AFTER STATEMENT triggers (checkpoints, trade following,
// anomaly staleness), closes the table and returns a row per symbol.
void loader_finish(Loader* L, FunctionCallInfo fcinfo) {
  loader_flush(L);
  table_finish_bulk_insert(L->rel, 0);
  FreeBulkInsertState(L->bistate);
  ExecASInsertTriggers(L->estate, L->rri, nullptr);
  AfterTriggerEndQuery(L->estate);
  ExecResetTupleTable(L->estate->es_tupleTable, false);
  ExecCloseResultRelations(L->estate);
  ExecCloseRangeTableRelations(L->estate);
  FreeExecutorState(L->estate);
  table_close(L->rel, NoLock);

  long n = hash_get_num_entries(L->symbols);
  SymbolLoad** all = (SymbolLoad**)palloc(sizeof(SymbolLoad*) * (n + 1));
  HASH_SEQ_STATUS it;
  hash_seq_init(&it, L->symbols);
  long i = 0;
  for (SymbolLoad* s; (s = (SymbolLoad*)hash_seq_search(&it)) != nullptr;) all[i++] = s;
  qsort(all, n, sizeof(SymbolLoad*), compare_loads);
  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  for (i = 0; i < n; i++) {
    Datum v[4] = {CStringGetTextDatum(all[i]->key), Int64GetDatum(all[i]->bars), TimestampGetDatum(all[i]->first),
                  TimestampGetDatum(all[i]->last)};
    bool nulls[4] = {false, false, false, false};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
  }
}

// ---- the file source ----

void* z_alloc(void* opaque, unsigned items, unsigned size) {
  return MemoryContextAllocExtended((MemoryContext)opaque, (Size)items * size, MCXT_ALLOC_NO_OOM);
}
void z_free(void*, void* p) {
  if (p != nullptr) pfree(p);
}

// Lines of a plain or gzip file (gzip recognised by its magic bytes, concatenated members read).
// The descriptor is a transient file and the buffers are palloc'd: an ERROR leaks nothing.
struct LineReader {
  const char* path;
  int fd;
  bool gz, raw_eof, z_end;
  z_stream zs;
  char* raw;  // compressed input
  char* buf;  // decompressed data
  size_t cap, len, pos;
};

size_t read_raw(LineReader* r, char* into, size_t n) {
  if (r->raw_eof) return 0;
  ssize_t got;
  do {
    got = read(r->fd, into, n);
  } while (got < 0 && errno == EINTR);
  if (got < 0) ereport(ERROR, (errcode_for_file_access(), errmsg("could not read file \"%s\": %m", r->path)));
  if (got == 0) r->raw_eof = true;
  return (size_t)got;
}

void reader_open(LineReader* r, const char* path) {
  memset(r, 0, sizeof *r);
  r->path = path;
  r->fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
  if (r->fd < 0)
    ereport(ERROR, (errcode_for_file_access(), errmsg("could not open file \"%s\" for reading: %m", path),
                    errhint("ml_load_bars reads a file on the database server, as the server's operating system user. To "
                            "load a file on the client, \\copy it into a table and call ml_load_bars('table'::regclass).")));
  struct stat st;
  if (fstat(r->fd, &st) != 0) ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat file \"%s\": %m", path)));
  if (S_ISDIR(st.st_mode))
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is a directory", path)));
  r->cap = 2 * kReadChunk;
  r->buf = (char*)palloc(r->cap + 1);
  r->raw = (char*)palloc(kReadChunk);
  // sniff the gzip magic
  size_t got = read_raw(r, r->buf, 2);
  if (got == 1) got += read_raw(r, r->buf + 1, 1);
  r->gz = got == 2 && (unsigned char)r->buf[0] == 0x1f && (unsigned char)r->buf[1] == 0x8b;
  if (r->gz) {
    r->zs.zalloc = z_alloc;
    r->zs.zfree = z_free;
    r->zs.opaque = CurrentMemoryContext;
    if (inflateInit2(&r->zs, 15 + 16) != Z_OK)
      ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("ml_load_bars: cannot start gzip decompression")));
    memcpy(r->raw, r->buf, 2);
    r->zs.next_in = (Bytef*)r->raw;
    r->zs.avail_in = 2;
  } else {
    r->len = got;
  }
}

// Appends decompressed or raw bytes to buf[len..]; false at the end of the file.
bool reader_fill(LineReader* r) {
  if (r->pos > 0) {  // keep only the unread tail
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
  }
  if (r->cap - r->len < kReadChunk) {
    r->cap *= 2;
    r->buf = (char*)repalloc(r->buf, r->cap + 1);
  }
  if (!r->gz) {
    size_t got = read_raw(r, r->buf + r->len, kReadChunk);
    r->len += got;
    return got > 0;
  }
  size_t before = r->len;
  while (r->len == before) {
    if (r->zs.avail_in == 0) {
      if (r->z_end && r->raw_eof) return false;
      size_t got = read_raw(r, r->raw, kReadChunk);
      if (got == 0) {
        if (!r->z_end)
          ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("ml_load_bars: gzip file \"%s\" is truncated", r->path)));
        return false;
      }
      r->zs.next_in = (Bytef*)r->raw;
      r->zs.avail_in = (uInt)got;
    }
    if (r->z_end) {  // another gzip member follows
      if (inflateReset(&r->zs) != Z_OK)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("ml_load_bars: gzip file \"%s\" is corrupt", r->path)));
      r->z_end = false;
    }
    r->zs.next_out = (Bytef*)(r->buf + r->len);
    r->zs.avail_out = (uInt)kReadChunk;
    int rc = inflate(&r->zs, Z_NO_FLUSH);
    r->len += kReadChunk - r->zs.avail_out;
    if (rc == Z_STREAM_END) r->z_end = true;
    else if (rc == Z_MEM_ERROR)
      ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory decompressing \"%s\"", r->path)));
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
      ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                      errmsg("ml_load_bars: gzip file \"%s\" is corrupt: %s", r->path, r->zs.msg ? r->zs.msg : "inflate failed")));
  }
  return true;
}

// The next line without its end of line (NUL-terminated, in buf), or nullptr at the end.
char* reader_line(LineReader* r) {
  for (;;) {
    char* start = r->buf + r->pos;
    char* nl = (char*)memchr(start, '\n', r->len - r->pos);
    if (nl != nullptr) {
      *nl = '\0';
      r->pos = nl + 1 - r->buf;
      if (nl > start && nl[-1] == '\r') nl[-1] = '\0';
      return start;
    }
    if (!reader_fill(r)) {
      if (r->pos == r->len) return nullptr;
      r->buf[r->len] = '\0';  // a last line without end of line
      char* last = r->buf + r->pos;
      r->pos = r->len;
      size_t l = strlen(last);
      if (l > 0 && last[l - 1] == '\r') last[l - 1] = '\0';
      return last;
    }
  }
}

void reader_close(LineReader* r) {
  if (r->gz) inflateEnd(&r->zs);
  CloseTransientFile(r->fd);
}

// Splits a CSV line in place (RFC 4180 quotes, "" inside quotes); an unquoted empty field is NULL,
// as in COPY's CSV format. Returns the number of fields (at most max + 1: one too many is enough).
int split_csv(const Loader* L, char* line, char** fields, int max) {
  int n = 0;
  char* p = line;
  for (;;) {
    char* out = p;
    char* field = p;
    bool quoted = false;
    if (*p == '"') {
      quoted = true;
      p++;
      for (;;) {
        if (*p == '\0')
          ereport(ERROR, (errcode(ERRCODE_BAD_COPY_FILE_FORMAT), errmsg("unterminated CSV quoted field")));
        if (*p == '"') {
          if (p[1] == '"') {
            *out++ = '"';
            p += 2;
            continue;
          }
          p++;
          break;
        }
        *out++ = *p++;
      }
      if (*p != ',' && *p != '\0')
        ereport(ERROR, (errcode(ERRCODE_BAD_COPY_FILE_FORMAT), errmsg("unexpected character after a quoted CSV field")));
    } else {
      while (*p != ',' && *p != '\0') p++;
      out = p;
    }
    char sep = *p;
    if (n <= max) fields[n] = (!quoted && out == field) ? nullptr : field;
    n++;
    *out = '\0';
    if (sep == '\0') break;
    p++;
  }
  (void)L;
  return n;
}

void require_server_file_access(const char* path) {
  if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("permission denied to read server file \"%s\" with ml_load_bars", path),
                    errdetail("rule: only superusers and roles with the privileges of pg_read_server_files may read files on "
                              "the database server, as for COPY FROM a file"),
                    errhint("\\copy the file into a table you can read and call ml_load_bars('that_table'::regclass).")));
  if (!is_absolute_path(path))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("ml_load_bars: path \"%s\" is not absolute", path),
                    errdetail("rule: the file is named by its absolute path on the database server"),
                    errhint("To load a table, pass it as a regclass: ml_load_bars('staging'::regclass).")));
}

}  // namespace

// ml_load_bars(path text): a CSV file on the server (plain or gzip), columns symbol, timestamp,
// open, high, low, close, volume; a first line naming exactly these is a header.
Datum ml_load_bars_file(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("ml_load_bars: path must not be NULL")));
  char* path = text_to_cstring(PG_GETARG_TEXT_PP(0));
  require_server_file_access(path);
  LineReader r;
  reader_open(&r, path);
  Loader L;
  loader_open(&L);
  L.source = psprintf("file \"%s\"", path);
  L.unit = "line";
  ErrorContextCallback errcb;
  errcb.callback = load_error_context;
  errcb.arg = &L;
  errcb.previous = error_context_stack;
  error_context_stack = &errcb;

  char* fields[kInputColumns + 1];
  Datum in[kInputColumns];
  bool in_null[kInputColumns];
  for (char* line; (line = reader_line(&r)) != nullptr;) {
    L.position++;
    if (*line == '\0') continue;  // blank lines (a trailing one)
    int n = split_csv(&L, line, fields, kInputColumns);
    if (L.position == 1 && n >= 1 && fields[0] != nullptr && pg_strcasecmp(fields[0], "symbol") == 0) {
      bool exact = n == kInputColumns;
      for (int k = 0; exact && k < kInputColumns; k++) exact = fields[k] != nullptr && pg_strcasecmp(fields[k], kInputNames[k]) == 0;
      if (!exact)
        ereport(ERROR, (errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
                        errmsg("ml_load_bars: the header of \"%s\" does not name the columns symbol,timestamp,open,high,low,close,volume", path),
                        errdetail("rule: CSV columns symbol, timestamp, open, high, low, close, volume in this order; a header is optional")));
      continue;
    }
    if (n != kInputColumns)
      ereport(ERROR, (errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
                      errmsg("ml_load_bars: %s fields where %d are expected", n > kInputColumns ? "more" : "fewer", kInputColumns),
                      errdetail("rule: CSV columns symbol, timestamp, open, high, low, close, volume in this order; a header is optional")));
    for (int k = 0; k < kInputColumns; k++) {
      in_null[k] = fields[k] == nullptr;
      // prices as numeric_in stores them, without its NumericVar arithmetic (issue 19)
      if (in_null[k] || L.in_fn[k].fn_oid != F_NUMERIC_IN || !cml::pg::chart_decimal_in(fields[k], L.in_typmod[k], &in[k]))
        in[k] = InputFunctionCall(&L.in_fn[k], fields[k], L.in_ioparam[k], L.in_typmod[k]);
    }
    loader_add(&L, in, in_null);
    CHECK_FOR_INTERRUPTS();
  }
  error_context_stack = errcb.previous;
  reader_close(&r);
  loader_finish(&L, fcinfo);
  return (Datum)0;
}

// ml_load_bars(source regclass): the bars of a table or view the caller can SELECT (columns named
// symbol, timestamp, open, high, low, close, volume; others ignored), read in symbol, timestamp
// order and cast to rollingChartData's column types.
Datum ml_load_bars_table(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("ml_load_bars: source must not be NULL")));
  Oid src = PG_GETARG_OID(0);
  char* relname = get_rel_name(src);
  if (relname == nullptr) ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("ml_load_bars: relation %u does not exist", src)));
  const char* src_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(src)), relname);
  Loader L;
  loader_open(&L);
  StringInfoData sql;
  initStringInfo(&sql);
  appendStringInfoString(&sql, "SELECT s.symbol::pg_catalog.text");
  for (int k = 1; k < kInputColumns; k++) {
    Form_pg_attribute a = TupleDescAttr(L.desc, L.att[k] - 1);
    appendStringInfo(&sql, ", s.%s::%s", quote_identifier(kInputNames[k]), format_type_with_typemod(a->atttypid, a->atttypmod));
  }
  appendStringInfo(&sql, " FROM %s s ORDER BY 1, 2", src_name);
  L.source = psprintf("table %s", src_name);
  L.unit = "row (in symbol, timestamp order)";
  ErrorContextCallback errcb;
  errcb.callback = load_error_context;
  errcb.arg = &L;
  errcb.previous = error_context_stack;
  error_context_stack = &errcb;

  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cryptoml: SPI_connect failed");
  SPIPlanPtr plan = SPI_prepare(sql.data, 0, nullptr);
  if (plan == nullptr) elog(ERROR, "cryptoml: SPI_prepare failed (%d) for: %s", SPI_result, sql.data);
  Portal portal = SPI_cursor_open(nullptr, plan, nullptr, nullptr, true);
  Datum in[kInputColumns];
  bool in_null[kInputColumns];
  for (;;) {
    SPI_cursor_fetch(portal, true, kBatchRows);
    uint64 n = SPI_processed;
    if (n == 0) break;
    SPITupleTable* tt = SPI_tuptable;
    for (uint64 i = 0; i < n; i++) {
      L.position++;
      for (int k = 0; k < kInputColumns; k++) in[k] = SPI_getbinval(tt->vals[i], tt->tupdesc, k + 1, &in_null[k]);
      if (!in_null[0])  // the symbol through VARCHAR(20)'s input: too long is an error, as in COPY
        in[0] = InputFunctionCall(&L.in_fn[0], TextDatumGetCString(in[0]), L.in_ioparam[0], L.in_typmod[0]);
      loader_add(&L, in, in_null);
    }
    loader_flush(&L);  // the batch's values point into the fetched tuples
    SPI_freetuptable(tt);
    CHECK_FOR_INTERRUPTS();
  }
  SPI_cursor_close(portal);
  SPI_finish();
  error_context_stack = errcb.previous;
  loader_finish(&L, fcinfo);
  return (Datum)0;
}
