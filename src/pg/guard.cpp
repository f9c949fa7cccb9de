#include "text.hpp"  // standard headers before PostgreSQL's
#include "guard.hpp"

#include <cstdio>

extern "C" {
#include "mb/pg_wchar.h"
}

namespace cml {
namespace pg {

namespace {
void copy_text(char* dst, size_t cap, const std::string& s) {
  snprintf(dst, cap, "%s", s.c_str());
}

// The backstop for messages of the core: no message longer than this reaches the client whole
// (the core quotes values through clip_for_message; this catches any it did not).
constexpr size_t kMaxMessage = 400;
void copy_message(char* dst, size_t cap, const std::string& s) {
  copy_text(dst, cap, s.size() <= kMaxMessage ? s : cml::clip_for_message(s, kMaxMessage));
}
}  // namespace

void classify_current_exception(GuardFailure& f) noexcept {
  f.message[0] = f.detail[0] = f.hint[0] = '\0';
  try {
    throw;
  } catch (const PgError& e) {
    f.pg_error = e.edata;
  } catch (const Error& e) {
    f.sqlstate = dynamic_cast<const InvalidParameter*>(&e) ? ERRCODE_INVALID_PARAMETER_VALUE
                 : dynamic_cast<const DataError*>(&e)      ? ERRCODE_DATA_EXCEPTION
                 : dynamic_cast<const Cancelled*>(&e)      ? ERRCODE_QUERY_CANCELED
                                                           : ERRCODE_INTERNAL_ERROR;
    copy_message(f.message, sizeof f.message, e.what());
    copy_text(f.detail, sizeof f.detail, e.detail());
    copy_text(f.hint, sizeof f.hint, e.hint());
  } catch (const std::bad_alloc&) {
    f.sqlstate = ERRCODE_OUT_OF_MEMORY;
    copy_text(f.message, sizeof f.message, "out of memory");
  } catch (const std::exception& e) {
    f.sqlstate = ERRCODE_INTERNAL_ERROR;
    copy_message(f.message, sizeof f.message, std::string("internal error: ") + e.what());
  } catch (...) {
    f.sqlstate = ERRCODE_INTERNAL_ERROR;
    copy_text(f.message, sizeof f.message, "internal error: unknown C++ exception");
  }
}

void raise_failure(const char* where, const GuardFailure& f) {
  if (f.pg_error != nullptr) ReThrowError(f.pg_error);
  ereport(ERROR, (errcode(f.sqlstate), errmsg("%s", f.message),
                  f.detail[0] ? errdetail("%s", f.detail) : 0, f.hint[0] ? errhint("%s", f.hint) : 0,
                  errcontext("cryptoml function %s", where)));
  pg_unreachable();
}

char* symbol_arg(text* t) {
  char* s = text_to_cstring(t);
  int chars = pg_mbstrlen(s);
  if (chars > 20) {
    int keep = pg_mbcharcliplen(s, (int)strlen(s), 20);
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("symbol \"%.*s...\" is %d characters long", keep, s, chars),
                    errdetail("rule: a symbol has at most 20 characters (rollingChartData.symbol is VARCHAR(20))")));
  }
  return s;
}

char* pstrdup_nothrow(const std::string& s) {
  char* p = static_cast<char*>(
      MemoryContextAllocExtended(CurrentMemoryContext, s.size() + 1, MCXT_ALLOC_NO_OOM));
  if (p == nullptr) throw std::bad_alloc();
  std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

}  // namespace pg
}  // namespace cml
