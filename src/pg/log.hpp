// systemLogs and recoveryState writes that survive the caller's rollback.
//
// With cryptoml in shared_preload_libraries, entries go into a shared-memory ring (one per
// database) drained by a "cryptoml logger" background worker that commits them in its own
// transactions. Without preload they are inserted directly (transactional: they vanish on
// rollback) and a WARNING says so once per session.
//
// These are PostgreSQL-side functions: they may raise ERROR, so call them outside C++ regions
// or through cml::pg::pg_call.
#pragma once

#include "log_level.hpp"
#include "pg.hpp"

namespace cml {
namespace pg {

// Defines the logger GUCs and, during shared_preload_libraries, the shared-memory hooks.
void log_init();

// True when the message passes system.logLevel and was queued or written. An entry too large
// for the queue (over a quarter of its per-database ring) has its message and stack trace
// clipped and an oversized context replaced by a note of its size, so it stays autonomous.
bool log_write(LogLevel level, const char* category, const char* subcategory, const char* message,
               const char* context_json, const char* symbol, const char* stack_trace);

// An info entry of an audited change (config changes), written whatever system.logLevel says and
// inside the caller's transaction: it commits exactly when the change does.
void log_audit(const char* category, const char* subcategory, const char* message, const char* context_json);

// Records an audited operation in cryptoml_internal.audit_log (read through ml_audit_log): the
// action (deploy, rollback, model_import, config_set, grant, ...), its object, old and new values
// as JSON text (either may be NULL), who (session role, role in effect, pid, application, client),
// when, and the (sub)transaction that made the change. Like systemLogs it survives the caller's
// rollback (with preload); ml_audit_log shows whether that transaction committed. Waits until the
// entry is committed (10 s at most).
void audit_event(const char* action, const char* object, const char* old_json, const char* new_json);
// The same for an operation that takes effect whatever the caller's transaction does (a worker
// switch, an export): no transaction is recorded, ml_audit_log says "not transactional".
void audit_event_immediate(const char* action, const char* object, const char* old_json, const char* new_json);

// Who writes a checkpoint: cryptoml's own operations (the only ones they resume from) or a user
// (ml_checkpoint). Stored in recoveryState.origin, which no role but the owner can write.
enum class CheckpointOrigin { cryptoml, user };

// Writes a recoveryState row and waits until it is committed (autonomous path) so a crash
// after it returns cannot lose it. checkpoint_type: success, error or intermediate.
void checkpoint_write(const char* service_name, const char* operation_id, const char* checkpoint_type,
                      const char* state_json, CheckpointOrigin origin = CheckpointOrigin::cryptoml);

// The extension's schema, quoted for SQL text, or NULL when the extension is not installed in this
// database. Caller is connected to SPI; the string lives until SPI_finish.
const char* extension_schema();
// The extension's namespace (cached like extension_schema()); InvalidOid when not installed.
Oid extension_namespace();
// The role owning the extension's tables (errors when it is not installed).
Oid extension_owner();
// The relation id of mltrainingbatches the cache is keyed by (changes when the extension is re-created).
Oid extension_registry_relid();
// numeric -> double: exact for the plain values bars hold, numeric_float8 otherwise (chart.cpp).
double numeric_value(Datum d);

// Waits until every entry this backend queued is committed; false on timeout.
bool log_flush(int timeout_ms);

}  // namespace pg
}  // namespace cml
