// The C++/PostgreSQL seam.
//
// Two rules, enforced by the two helpers below:
//  1. A C++ exception never reaches PostgreSQL. Every SQL entry point runs its C++ inside
//     cml::pg::guarded(), which catches everything and raises ereport(ERROR) only after the
//     catch block has ended, that is after every C++ object of the guarded code is destroyed.
//  2. ereport(ERROR) never longjmps over a live C++ object. A PostgreSQL call made while C++
//     objects are live goes through cml::pg::pg_call(), which runs it under PG_TRY, copies the
//     error and throws cml::pg::PgError; guarded() re-raises that error unchanged (same
//     SQLSTATE, message, detail, hint, context). A PgError must be propagated, never swallowed:
//     the transaction is in an aborted state until the error is re-raised.
//
// The lambda given to pg_call must not itself create objects with non-trivial destructors.
#pragma once

#include <exception>
#include <utility>

#include "errors.hpp"
#include "pg.hpp"

namespace cml {
namespace pg {

// A PostgreSQL ERROR caught inside a C++ region; carries the copied ErrorData.
struct PgError {
  ErrorData* edata;
};

// Fills the message buffers of a failed guarded call; defined in guard.cpp.
struct GuardFailure {
  int sqlstate = 0;
  ErrorData* pg_error = nullptr;
  char message[1024];
  char detail[1024];
  char hint[512];
};
void classify_current_exception(GuardFailure& f) noexcept;
[[noreturn]] void raise_failure(const char* where, const GuardFailure& f);

template <typename F>
void pg_call(F&& f) {
  MemoryContext oldcxt = CurrentMemoryContext;
  ErrorData* volatile edata = nullptr;
  PG_TRY();
  {
    f();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(oldcxt);
    edata = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  if (edata != nullptr) throw PgError{edata};
}

// Runs f (returning void) and turns any exception into an ereport(ERROR).
// `where` names the SQL function for the error context, e.g. "ml_config_set".
template <typename F>
void guarded(const char* where, F&& f) {
  GuardFailure failure;
  bool failed = false;
  try {
    f();
  } catch (...) {
    failed = true;
    classify_current_exception(failure);
  }
  if (failed) raise_failure(where, failure);
}

// A symbol argument as a C string; ERROR (invalid_parameter_value) when it is longer than a stored
// symbol can be (20 characters), quoting only its first 20 characters: no entry point echoes a
// hostile 10,000-character argument. Call outside C++ regions.
char* symbol_arg(text* t);

// palloc that throws std::bad_alloc instead of raising an ERROR: safe inside C++ regions.
char* pstrdup_nothrow(const std::string& s);

}  // namespace pg
}  // namespace cml
