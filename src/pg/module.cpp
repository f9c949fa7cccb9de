// Module entry: PG_MODULE_MAGIC, _PG_init, ml_version().
#include "version.hpp"

#include "config_access.hpp"
#include "log.hpp"
#include "node.hpp"
#include "pg.hpp"
#include "progress.hpp"
#include "workers.hpp"

extern "C" {
#include "utils/guc.h"

PG_MODULE_MAGIC;
void _PG_init(void);
PG_FUNCTION_INFO_V1(ml_version);
}

namespace cml {
namespace pg {
void chart_init();
void train_init();
void forecast_init();
}
}  // namespace cml

void _PG_init(void) {
  cml::pg::log_init();
  cml::pg::chart_init();
  cml::pg::config_init();
  cml::pg::node_init();
  cml::pg::train_init();
  cml::pg::forecast_init();
  cml::pg::workers_init();
  cml::pg::progress_init();
  MarkGUCPrefixReserved("cryptoml");
}

Datum ml_version(PG_FUNCTION_ARGS) { PG_RETURN_TEXT_P(cstring_to_text(cml::kVersion)); }
