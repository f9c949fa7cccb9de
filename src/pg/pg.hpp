// The one place PostgreSQL headers are included from C++.
// Standard headers come first: PostgreSQL's port.h turns snprintf and friends into macros.
// PostgreSQL headers carry no extern "C", so they are wrapped here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

namespace cml {
namespace pg {
// The minute of a timestamp counted from PostgreSQL's epoch (2000-01-01), rounded down (earlier
// minutes are negative): the time unit of samples, backtests and out-of-time records.
inline int64 minute_of(Timestamp ts) {
  const int64 per_minute = INT64CONST(60000000);
  return ts / per_minute - (ts % per_minute < 0 ? 1 : 0);
}
}  // namespace pg
}  // namespace cml
