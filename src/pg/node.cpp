// Scale-out node state (issue 18): the role of each symbol on this node, cached per backend.
#include "chart.hpp"
#include "node.hpp"

#include "owner.hpp"
#include "pg.hpp"

extern "C" {
#include "commands/trigger.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"
PG_FUNCTION_INFO_V1(cml_node_changed);
}

namespace cml {
namespace pg {
namespace {

struct NodeSymbol {
  char symbol[24];
  NodeRole role;
};

bool g_valid = false;
bool g_cluster = false;
char g_name[32];
NodeSymbol* g_symbols = nullptr;  // sorted by symbol, in TopMemoryContext
int g_nsymbols = 0;
Oid g_symbols_relid = InvalidOid;
Oid g_identity_relid = InvalidOid;

void inval_callback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == g_symbols_relid || relid == g_identity_relid) {
    g_valid = false;
    cml::pg::chart_forget_states();  // a symbol moved: its bars and checkpoints changed without the triggers
  }
}

NodeRole role_of(const char* text) {
  if (strcmp(text, "owned") == 0) return NodeRole::Owned;
  if (strcmp(text, "moving") == 0) return NodeRole::Moving;
  if (strcmp(text, "replica") == 0) return NodeRole::Replica;
  return NodeRole::None;
}

void load() {
  Oid nsp = get_namespace_oid("cryptoml_internal", true);
  g_symbols_relid = OidIsValid(nsp) ? get_relname_relid("node_symbols", nsp) : InvalidOid;
  g_identity_relid = OidIsValid(nsp) ? get_relname_relid("node_identity", nsp) : InvalidOid;
  g_cluster = false;
  g_nsymbols = 0;
  if (!OidIsValid(g_symbols_relid) || !OidIsValid(g_identity_relid)) {  // before 0.9.0's update: standalone
    g_valid = true;
    return;
  }
  HeapTuple reltup = SearchSysCache1(RELOID, ObjectIdGetDatum(g_symbols_relid));
  if (!HeapTupleIsValid(reltup)) elog(ERROR, "cryptoml: cache lookup failed for relation %u", g_symbols_relid);
  Oid owner = ((Form_pg_class)GETSTRUCT(reltup))->relowner;
  ReleaseSysCache(reltup);
  OwnerScope scope;  // a writer of bars has no right on the internals: read them as their owner
  enter_owner(owner, &scope);
  SPI_connect();
  if (SPI_execute("SELECT name FROM cryptoml_internal.node_identity", false, 1) != SPI_OK_SELECT)
    elog(ERROR, "cryptoml: reading cryptoml_internal.node_identity failed");
  if (SPI_processed == 1) {
    g_cluster = true;
    snprintf(g_name, sizeof g_name, "%s", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
  }
  if (SPI_execute("SELECT symbol, role FROM cryptoml_internal.node_symbols ORDER BY symbol COLLATE \"C\"", false, 0) !=
      SPI_OK_SELECT)
    elog(ERROR, "cryptoml: reading cryptoml_internal.node_symbols failed");
  const int n = (int)SPI_processed;
  NodeSymbol* rows = (NodeSymbol*)MemoryContextAllocZero(TopMemoryContext, sizeof(NodeSymbol) * Max(n, 1));
  for (int i = 0; i < n; i++) {
    snprintf(rows[i].symbol, sizeof rows[i].symbol, "%s", SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
    rows[i].role = role_of(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
  }
  SPI_finish();
  leave_owner(&scope);
  if (g_symbols != nullptr) pfree(g_symbols);
  g_symbols = rows;
  g_nsymbols = n;
  g_valid = true;
}

}  // namespace

void node_init() { CacheRegisterRelcacheCallback(inval_callback, (Datum)0); }

NodeRole node_role(const char* symbol) {
  if (!g_valid) load();
  if (!g_cluster) return NodeRole::Standalone;
  int lo = 0, hi = g_nsymbols - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    int c = strcmp(g_symbols[mid].symbol, symbol);
    if (c == 0) return g_symbols[mid].role;
    if (c < 0) lo = mid + 1; else hi = mid - 1;
  }
  return NodeRole::None;
}

void node_require_owned(const char* symbol, const char* what) {
  switch (node_role(symbol)) {
    case NodeRole::Standalone:
    case NodeRole::Owned:
      return;
    case NodeRole::Moving:
      ereport(ERROR, (errcode(ERRCODE_OBJECT_IN_USE), errmsg("%s %s refused: %s is being moved off node %s", what, symbol, symbol, g_name),
                      errdetail("rule: a symbol is frozen on its old node while ml_move_symbol copies it"),
                      errhint("Wait for the move to finish, then go through the router (it knows the new owner).")));
      break;
    case NodeRole::Replica:
      ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                      errmsg("%s %s refused: node %s holds a read-only replica of %s", what, symbol, g_name, symbol),
                      errdetail("rule: a leader's bars arrive from its owner by logical replication; only the owner writes and serves them"),
                      errhint("Go through the router, or find the owner with ml_copy_target('%s') on the router.", symbol)));
      break;
    case NodeRole::None:
      ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                      errmsg("%s %s refused: node %s does not own %s", what, symbol, g_name, symbol),
                      errdetail("rule: on a cluster node, only the symbols the router's map gives it are written and served"),
                      errhint("Go through the router, or find the owner with ml_copy_target('%s') on the router.", symbol)));
      break;
  }
}

}  // namespace pg
}  // namespace cml

// AFTER ... FOR EACH STATEMENT on node_identity and node_symbols: every backend drops its cache
// (this one at once, the others at commit).
Datum cml_node_changed(PG_FUNCTION_ARGS) {
  if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "cml_node_changed: not called as a trigger");
  TriggerData* td = (TriggerData*)fcinfo->context;
  CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
  return PointerGetDatum(nullptr);
}
