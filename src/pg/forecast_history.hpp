// Per-backend records of stored forecasts' known outcomes (forecast_history.cpp).
#pragma once

namespace cml {
namespace pg {
// Registers the invalidation callback (from forecast_init, at load).
void forecast_history_init();
}  // namespace pg
}  // namespace cml
