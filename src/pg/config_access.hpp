// Per-backend cache of the effective configuration (defaults + cryptoml_internal.config).
// Invalidated through the relcache callback when any backend changes the config table.
// These functions may raise ERROR (they run SPI on a cache miss): call them outside C++ regions.
#pragma once

#include "log_level.hpp"

namespace cml {
namespace pg {

void config_init();                 // registers the invalidation callback (from _PG_init)
LogLevel config_log_level();        // system.logLevel
bool config_enable_recovery();      // system.enableRecovery
// The effective config as JSON text, palloc'd in the current memory context.
char* config_json_text();

}  // namespace pg
}  // namespace cml
