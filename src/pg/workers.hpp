// Background workers (workers.cpp): what other files of the binding layer use.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace cml {
namespace pg {

void workers_init();
// Records one ml_forecast call's latency for ml_health() (server-wide, in shared memory; a no-op
// without shared_preload_libraries).
void record_prediction_latency(int64 microseconds);

}  // namespace pg
}  // namespace cml
