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

// For the worker kinds defined in other files: the status of a worker's slot (ml_workers()).
void worker_set_state(int slot, const char* state);
void worker_record_error(int slot, const char* message);
// One cycle of the ingest worker (ingest.cpp), in a worker connected to its database; returns the
// seconds until the next one.
int ingest_cycle(int slot);

}  // namespace pg
}  // namespace cml
