// Progress of long operations (ml_progress): one slot per backend in shared memory, written only
// by its backend, read by any session like pg_stat_progress_*.
//
// A backend reports at most one operation at a time; a long operation that calls another (a
// backtest trains models, a retrain sweep trains many) keeps the outer one's row and shows the
// inner one as its phase. The row disappears when the operation ends, when the (sub)transaction
// that began it aborts (an error caught by a SAVEPOINT or an EXCEPTION block leaves no stale row),
// at commit unless the operation spans transactions (procedures that commit), and at backend exit.
//
// progress_update also sends a NOTICE at most every cryptoml.progress_notice_interval seconds
// (default kNoticeSeconds) when client_min_messages lets NOTICE through. Without cryptoml in shared_preload_libraries there is no shared memory:
// ml_progress is empty, the NOTICEs still come.
//
// PostgreSQL-side functions (progress_update may ereport a NOTICE): call them from frames that
// hold no C++ object with a destructor.
#pragma once

#include "pg.hpp"

namespace cml {
namespace pg {

constexpr int kNoticeSeconds = 5;

// During shared_preload_libraries: the shared-memory hooks; always: the transaction callbacks.
void progress_init();

// Starts reporting `operation` (train, backtest, build_samples, recompute, tune, compress) for
// `symbol` (may be NULL), with `total` units of work (0 when unknown). spans_transactions: the
// operation commits along the way (a procedure), so commit does not end it.
void progress_begin(const char* operation, const char* symbol, int64 total, bool spans_transactions = false);
// Names the current phase and sets done and total (total < 0 keeps the previous total).
void progress_phase(const char* phase, int64 done, int64 total = -1);
// Sets the units done; at most every kNoticeSeconds a NOTICE with the progress and its ETA.
void progress_update(int64 done);
// Ends the innermost operation begun by this backend.
void progress_end();

}  // namespace pg
}  // namespace cml
