// Scale-out (issue 18, docs/scale-out.md): what this database does with a symbol when it is a node
// of a cryptoml_router cluster. Per-backend cache of cryptoml_internal.node_identity and
// node_symbols, dropped by a relcache invalidation when either changes (a statement trigger on
// them sends it), so it is right after a commit elsewhere and after a rolled-back subtransaction.
// These functions may raise ERROR (SPI on a cache miss): call them outside C++ regions.
#pragma once

namespace cml {
namespace pg {

void node_init();  // registers the invalidation callback (from _PG_init)

enum class NodeRole { Standalone, Owned, Moving, Replica, None };
NodeRole node_role(const char* symbol);
// ERROR (55000, or 55006 while moving) unless this database serves the symbol: standalone, or a
// node owning it. `what` names the refused action ("rollingChartData: writing bars of").
void node_require_owned(const char* symbol, const char* what);

}  // namespace pg
}  // namespace cml
