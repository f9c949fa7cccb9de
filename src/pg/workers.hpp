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
// Runs fn(arg) in a transaction of its own, connected to SPI and with a snapshot (a worker's unit
// of work). Returns NULL when it committed, else the error's message (palloc'd in the caller's
// context) after rolling back. fn may keep results only in memory of the caller's context.
char* worker_transaction(void (*fn)(void*), void* arg);
// One statement for worker_transaction: sql with its arguments; when result is set, the first
// column of the first row (int4 or int8) goes there.
struct WorkerStatement {
  const char* sql;
  int nargs;
  Oid* types;
  Datum* values;
  const char* nulls;
  int64* result;
};
void worker_statement(void* arg);
// One cycle of the ingest worker (ingest.cpp), in a worker connected to its database; returns the
// seconds until the next one.
int ingest_cycle(int slot);

}  // namespace pg
}  // namespace cml
