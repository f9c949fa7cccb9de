// Runs SPI on cryptoml_internal tables as their owner, with search_path pinned to pg_catalog, the
// way PostgreSQL's own RI triggers act as the table owner: a role without any privilege on the
// internals (a writer inserting bars, a writer logging) still gets its indicators and config,
// and cannot steer those queries through its search_path. Plain C: no destructors, so an ERROR
// between enter and leave is safe (transaction abort restores the user and the GUC nest level).
#pragma once

#include "pg.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace cml {
namespace pg {

struct OwnerScope {
  Oid save_user;
  int save_sec;
  int nest;
};

inline void enter_owner(Oid owner, OwnerScope* s) {
  GetUserIdAndSecContext(&s->save_user, &s->save_sec);
  SetUserIdAndSecContext(owner, s->save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
  s->nest = NewGUCNestLevel();
  (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                          false);
}

// Pins search_path to pg_catalog, pg_temp for code that cannot carry a SET clause (a procedure
// that commits); returns the GUC nest level to give unpin_search_path. A commit pops it: pin again.
inline int pin_search_path() {
  int nest = NewGUCNestLevel();
  (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                          false);
  return nest;
}

inline void unpin_search_path(int nest) { AtEOXact_GUC(true, nest); }

inline void leave_owner(const OwnerScope* s) {
  AtEOXact_GUC(true, s->nest);
  SetUserIdAndSecContext(s->save_user, s->save_sec);
}

}  // namespace pg
}  // namespace cml
