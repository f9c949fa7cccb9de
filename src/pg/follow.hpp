// Trade following on the insert path (trading.cpp): the indicators' statement trigger on
// rollingChartData (chart.cpp) re-evaluates the simulated trades its statement's bars concern,
// and ml_simulate follows a trade it has just opened (cryptoml_internal.follow_trade). One walk,
// in C: saved SPI plans, the evaluation of src/core/trading.*.
//
// Both may raise ERROR: call them with no C++ object alive, connected to SPI, as the tables' owner
// with search_path pinned (owner.hpp's enter_owner).
#pragma once

#include "pg.hpp"

namespace cml {
namespace pg {

// Re-evaluates, in id order, every LONG or SHORT trade of symbols[i] that is active, or whose
// completion is at or after since[i] (DT_NOBEGIN: any bar of the symbol may have changed).
// schema: the extension's schema, quoted (rollingChartData's and tradeSimulations').
void follow_trades(const char* schema, int n, const char* const* symbols, const Timestamp* since);

// One trade re-evaluated from its entry over the stored bars (TP/SL on high/low, SL first when a
// bar touches both, expiry at the first bar at or after entry_bar + horizon) and its row updated;
// false (and nothing changed) for a trade without the fields ml_simulate writes.
bool follow_trade(const char* schema, int32 id);

}  // namespace pg
}  // namespace cml
