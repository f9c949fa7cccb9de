// Test hooks for the C++/PostgreSQL guard (cryptoml_internal schema, not granted to PUBLIC).
// cryptoml_internal.raise_cpp(kind) throws each kind of C++ exception, or raises a PostgreSQL
// ERROR inside a C++ region, while a tracked C++ object is alive; cpp_live_objects() then
// shows whether every destructor ran.
#include <stdexcept>
#include <vector>

#include "guard.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(cml_raise_cpp);
PG_FUNCTION_INFO_V1(cml_cpp_live_objects);
}

namespace {
int g_live = 0;
struct Tracked {
  std::vector<int> payload = std::vector<int>(1024, 7);
  Tracked() { ++g_live; }
  ~Tracked() { --g_live; }
};
}  // namespace

Datum cml_raise_cpp(PG_FUNCTION_ARGS) {
  const char* kind_c = text_to_cstring(PG_GETARG_TEXT_PP(0));  // entry frame holds C data only
  int result = 0;
  cml::pg::guarded("raise_cpp", [&] {
    Tracked alive;
    const std::string kind(kind_c);
    if (kind == "none") {
      result = static_cast<int>(alive.payload.size());
    } else if (kind == "invalid_parameter") {
      throw cml::InvalidParameter("test: invalid parameter", "rule: a detail", "a hint");
    } else if (kind == "data") {
      throw cml::DataError("test: data exception");
    } else if (kind == "cancelled") {
      throw cml::Cancelled("test: cancelled");
    } else if (kind == "bad_alloc") {
      throw std::bad_alloc();
    } else if (kind == "runtime") {
      throw std::runtime_error("test: runtime error");
    } else if (kind == "unknown") {
      throw 42;
    } else if (kind == "pg_error") {
      cml::pg::pg_call([] { DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
    } else {
      throw cml::InvalidParameter("unknown kind \"" + kind + "\"",
                                  "rule: one of none, invalid_parameter, data, cancelled, bad_alloc, runtime, unknown, pg_error");
    }
  });
  PG_RETURN_INT32(result);
}

Datum cml_cpp_live_objects(PG_FUNCTION_ARGS) { PG_RETURN_INT32(g_live); }
