// cryptoml database-wide configuration: the spec defaults, the rule of every settable key,
// validation of single values and of the effective tree (defaults + overrides).
// Pure C++17: no PostgreSQL header may be included here.
//
// Keys are dotted paths of leaves of the default tree ("features.rsiPeriod",
// "monitoring.alertThresholds.staleData", "symbols"). "inference.ensembleWeights" is an object
// but is set as a whole, so it is a leaf too. Every error is a cml::InvalidParameter whose
// message names the key and the value and whose detail states the rule, e.g.
//   message: invalid value for config key "features.rsiPeriod": -3
//   detail:  rule: integer between 2 and 1000
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "honest.hpp"

namespace cml {

using json = nlohmann::json;

struct Config {
  // The full default tree (built once; returned by const reference).
  static const json& defaults();

  // Sorted list of all settable leaf paths ("data.backfillBatchSize", ..., "training.windowSize").
  static const std::vector<std::string>& keys();

  // True when path names a settable leaf.
  static bool is_key(const std::string& path);

  // Human-readable rule of a key, e.g. "integer between 2 and 1000".
  // Throws InvalidParameter for an unknown key.
  static std::string rule(const std::string& path);

  // Validate one value for one key (type + range rule only; no cross-key rules).
  // Throws InvalidParameter for an unknown key or a bad value.
  static void validate_value(const std::string& path, const json& value);

  // Build the effective tree: defaults with every override applied. `overrides` is a JSON
  // object mapping dotted leaf paths to values ({"features.rsiPeriod": 21}); null or an empty
  // object means none. Validates every override (in key order, so the first error reported is
  // deterministic) and then the cross-key rules on the result; throws InvalidParameter.
  static json effective(const json& overrides);

  // Value of one key (leaf, or inner node such as "features" or "monitoring.alertThresholds")
  // in a tree. Throws InvalidParameter if the path is not a key/section of the schema or is
  // absent from the tree. The reference points into `tree`.
  static const json& get(const json& tree, const std::string& path);
};

// What the forecasts state from (inference.intervalCoverage, intervalAdaptRate,
// skillSignificance, calibrationWindow) for a horizon, read from an effective tree.
HonestSettings honest_settings(const json& tree, int horizon);

}  // namespace cml
