// Per-backend cache of the effective configuration (defaults + cryptoml_internal.config).
// Invalidated through the relcache callback when any backend changes the config table.
// These functions may raise ERROR (they run SPI on a cache miss): call them outside C++ regions.
#pragma once

#include "honest.hpp"
#include "indicators.hpp"
#include "log_level.hpp"

namespace cml {
namespace pg {

void config_init();                 // registers the invalidation callback (from _PG_init)
LogLevel config_log_level();        // system.logLevel
bool config_enable_recovery();      // system.enableRecovery
// The effective config as JSON text, palloc'd in the current memory context.
char* config_json_text();

// Values the rollingChartData trigger reads on every bar, copied out of the JSON at load time.
const IndicatorParams& config_indicator_params();  // features.*
bool config_symbol_allowed(const char* symbol);    // in symbols, or data.rejectUnknownSymbols off
const char* config_symbols_text();                 // "BTCUSDT, ETHUSDT, ..." for error messages
int config_future_tolerance_seconds();             // data.futureToleranceSeconds
int config_backfill_batch_size();                  // data.backfillBatchSize
// inference.predictionCache, inference.maxPredictionAge (s), inference.confidenceThreshold,
// monitoring.alertThresholds.staleData (s), and what forecasts state from (honest: horizon 1,
// set it per forecast).
struct InferenceSettings {
  bool prediction_cache;
  int max_prediction_age;
  double confidence_threshold;
  int stale_seconds;
  HonestSettings honest;
};
const InferenceSettings& config_inference();
// training.forecastHorizons: the count, with up to `max` horizons copied into `out`.
int config_training_horizons(int* out, int max);

}  // namespace pg
}  // namespace cml
