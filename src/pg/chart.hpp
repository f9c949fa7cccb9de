// The rollingChartData per-symbol indicator state of chart.cpp, for code that stores bars without
// the row trigger: the bulk loader (ml_load_bars, bulk_load.cpp). One computation, one set of
// checks, one cache: these functions run the row trigger's own code.
//
// Protocol (one SQL statement): chart_append_begin once per symbol, then chart_append_bar for
// each of its bars in strictly increasing time after *last_ts, then the table's AFTER STATEMENT
// INSERT triggers must fire (ExecASInsertTriggers): zz_cryptoml_indicators_statement writes the
// checkpoints and records the changed symbols for trade following and anomaly staleness, as for
// any INSERT. A rolled-back (sub)transaction resets the state as it does for the trigger path.
//
// All of these may raise ERROR: call them with no C++ object alive.
#pragma once

#include "pg.hpp"

extern "C" {
#include "utils/rel.h"
}

namespace cml {
namespace pg {

// One bar as the row trigger reads it (prices converted with numeric_value, see log.hpp).
struct ChartBar {
  const char* symbol;
  Timestamp ts;
  double open, high, low, close, volume;
  bool open_null, high_null, low_null, close_null, volume_null;
};

// The row trigger's checks of a new or changed bar (node ownership, known symbol, timestamp,
// prices, volume), with its errors.
void chart_validate_bar(const ChartBar& b);

// A CSV price field as numeric_in followed by the DECIMAL(p,s) typmod stores it, for plain
// decimal text with at most s fractional digits; false for anything else (exponents, signs,
// blanks, rounding, too many digits, out of range): the caller then calls numeric_in.
bool chart_decimal_in(const char* text, int32 typmod, Datum* out);

struct ChartAppend;  // opaque: a symbol's cached state, valid until the statement ends

// Starts appending bars of `symbol` in the current statement, as the row trigger's first bar of
// a symbol does: READ COMMITTED required, the symbol's advisory lock taken, its state restored
// from its latest checkpoint (a stale or missing one is recomputed now, from the bars), and the
// symbol marked as changed by this statement. *last_ts: its latest stored bar (DT_NOBEGIN: none).
ChartAppend* chart_append_begin(Relation rel, const char* symbol, Timestamp* last_ts);

// The next bar of the symbol (validated, and after every bar before it): advances the state as
// the row trigger's in-order path does and writes the 11 indicator columns (rsi ... is_complete)
// into values/nulls, indexed by attribute number - 1, exactly as the row trigger stores them.
void chart_append_bar(ChartAppend* a, Relation rel, const ChartBar& b, Datum* values, bool* nulls);

// Every cached symbol state of this backend is restored from its checkpoint at its next
// transaction instead of being kept (called on invalidations: node roles, the table).
void chart_forget_states();

}  // namespace pg
}  // namespace cml
