// libFuzzer target: the options parsers of src/core/options.hpp (ml_train / ml_backtest options)
// and their JSON text parser, cml::parse_json_document.
//
// Input: byte 0 picks what the document is (byte % 5: 0 ml_train xgboost, 1 lstm, 2 ensemble,
// 3 ml_backtest with an xgboost model, 4 with an lstm model); the rest is the options text, parsed
// by parse_json_document (every failure must be an InvalidParameter) and, when it is JSON, handed
// to parse_train_options (over the default configuration) or parse_backtest_options (horizon 15).
#include <cstddef>
#include <cstdint>
#include <string>

#include "config.hpp"
#include "fuzz_common.hpp"
#include "options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int mode = data[0] % 5;
  const std::string text = fuzz::bytes(data + 1, size - 1);
  static const cml::json config = cml::Config::effective(cml::json());
  cml::json doc;
  if (!fuzz::accepts([&] { doc = cml::parse_json_document(text, "option"); })) return 0;
  if (mode <= 2) {
    const cml::ModelType t = mode == 0 ? cml::ModelType::xgboost : mode == 1 ? cml::ModelType::lstm : cml::ModelType::ensemble;
    cml::TrainOptions o;
    if (fuzz::accepts([&] { o = cml::parse_train_options(t, config, doc); })) {
      FUZZ_CHECK(o.type == t);
      // What the parser accepted, the structs' own checks accept too.
      if (t != cml::ModelType::lstm) FUZZ_CHECK(fuzz::accepts([&] { o.xgb.validate(); }));
      if (t != cml::ModelType::xgboost) FUZZ_CHECK(fuzz::accepts([&] { o.lstm.validate(); }));
    }
  } else {
    const cml::ModelType m = mode == 3 ? cml::ModelType::xgboost : cml::ModelType::lstm;
    fuzz::accepts([&] { (void)cml::parse_backtest_options(doc, m, 15); });
  }
  return 0;
}
