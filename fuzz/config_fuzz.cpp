// libFuzzer target: the configuration validation of src/core/config.hpp, fed with JSON text as
// ml_config_set / ml_config_* hand it over (the SQL layer parses the text, then calls the core).
//
// Input: JSON text (text that is not JSON is skipped: parsing JSON is nlohmann's job, not the
// core's). The document is used
//   - as a whole overrides document: Config::effective(doc). When accepted, every key of the
//     effective tree reads back with Config::get and passes Config::validate_value;
//   - when it is an object, entry by entry: Config::validate_value(key, value), Config::rule(key),
//     Config::get(effective, key);
//   - as a stored tree: Config::get(doc, key) for every settable key.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "fuzz_common.hpp"

using cml::Config;
using cml::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const json doc = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;

  json tree;
  if (fuzz::accepts([&] { tree = Config::effective(doc); })) {
    for (const std::string& k : Config::keys()) {
      const json* v = nullptr;
      FUZZ_CHECK(fuzz::accepts([&] { v = &Config::get(tree, k); }));
      FUZZ_CHECK(fuzz::accepts([&] { Config::validate_value(k, *v); }));
    }
  } else {
    tree = Config::defaults();
  }

  if (doc.is_object()) {
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      const std::string& k = it.key();
      fuzz::accepts([&] { Config::validate_value(k, it.value()); });
      const bool has_rule = fuzz::accepts([&] { (void)Config::rule(k); });
      FUZZ_CHECK(has_rule == Config::is_key(k));
      fuzz::accepts([&] { (void)Config::get(tree, k); });
      fuzz::accepts([&] { (void)Config::get(doc, k); });
    }
  }
  for (const std::string& k : Config::keys()) fuzz::accepts([&] { (void)Config::get(doc, k); });
  return 0;
}
