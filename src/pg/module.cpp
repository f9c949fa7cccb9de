// Module entry: PG_MODULE_MAGIC, _PG_init, ml_version().
#include "version.hpp"

#include <cstdio>
#include <exception>

#include "lstm.hpp"

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
void backtest_init();
}
}  // namespace cml

namespace {

// cryptoml.lstm_kernels (docs/lstm.md "CPU kernels"): auto | portable | avx2, checked by the core's
// rules (avx2 on a CPU without AVX2+FMA is refused, naming the flags it lacks).
char* g_lstm_kernels = nullptr;

bool lstm_kernels_check(char** newval, void**, GucSource) {
  char msg[512] = "";
  try {
    cml::resolve_lstm_kernels(cml::parse_lstm_kernels(*newval != nullptr ? *newval : "", "cryptoml.lstm_kernels"));
  } catch (const std::exception& e) {
    snprintf(msg, sizeof msg, "%s", e.what());
  } catch (...) {
    snprintf(msg, sizeof msg, "cryptoml.lstm_kernels: unexpected error");
  }
  if (msg[0] == '\0') return true;
  GUC_check_errdetail("%s", msg);
  GUC_check_errhint("Valid values are auto, portable and avx2; avx2 needs a CPU with the avx2 and fma flags.");
  return false;
}

void lstm_kernels_assign(const char* newval, void*) {
  try {  // checked above: cannot fail; an assign hook must not error
    cml::set_lstm_kernels(cml::parse_lstm_kernels(newval != nullptr ? newval : "auto"));
  } catch (...) {
  }
}

}  // namespace

void _PG_init(void) {
  cml::pg::log_init();
  cml::pg::chart_init();
  cml::pg::config_init();
  cml::pg::node_init();
  cml::pg::train_init();
  cml::pg::forecast_init();
  cml::pg::workers_init();
  cml::pg::progress_init();
  cml::pg::backtest_init();
  DefineCustomStringVariable("cryptoml.lstm_kernels",
                             "LSTM kernels: auto (AVX2+FMA when the CPU has them), portable (SSE2) or avx2.",
                             "See docs/lstm.md, CPU kernels. Applies to training and prediction started afterwards.",
                             &g_lstm_kernels, "auto", PGC_USERSET, 0, lstm_kernels_check, lstm_kernels_assign, nullptr);
  MarkGUCPrefixReserved("cryptoml");
}

Datum ml_version(PG_FUNCTION_ARGS) { PG_RETURN_TEXT_P(cstring_to_text(cml::kVersion)); }
