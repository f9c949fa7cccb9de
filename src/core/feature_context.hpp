// cryptoml feature set selection and the cross-market names of feature set 2, as the binding
// (samples, training, forecasts, backtests, bundles) needs them. Pure C++17: no PostgreSQL header.
// The features themselves are in features.hpp (set 1) and features_v2.hpp (set 2).
//
// ---- The names a set-2 feature vector depends on ---------------------------------------------------
// MarketNames = the leaders (config features.crossMarketSymbols: lead1, lead2) and the equal-weight
// index members (config symbols), in the order the configuration gives them. A set-2 sample records
// them in its metadata, a set-2 model in its hyperparameters ({"leaders": [...], "index_members":
// [...]}), and a live forecast of that model uses the recorded ones, not the configuration's.
//
// ---- Errors ----------------------------------------------------------------------------------------
// InvalidParameter naming the value and the rule (unknown feature set, unknown group, names that are
// not 1-2 distinct leaders / a non-empty list of distinct members); DataError for a stored record
// (hyperparameters) that lacks them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"

namespace cml {

struct MarketNames {
  std::vector<std::string> leaders;        // 1 or 2, distinct, non-empty
  std::vector<std::string> index_members;  // >= 1, distinct, non-empty
  bool operator==(const MarketNames& o) const { return leaders == o.leaders && index_members == o.index_members; }
  bool operator!=(const MarketNames& o) const { return !(*this == o); }
};

// A feature set number checked: 1 or 2 (kMaxFeatureSet). `what` names the value in the message
// ("option featureSet", "config key features.featureSet"). Throws InvalidParameter.
int checked_feature_set(long long version, const std::string& what);

// features.featureSet of an effective configuration tree (checked).
int config_feature_set(const nlohmann::json& config);

// features.crossMarketSymbols and symbols of an effective configuration tree (checked).
// cluster_node: this database is a node of a cryptoml_router cluster (issue 18), where only the
// leaders' bars are on every node: the index is then the leaders' (docs/scale-out.md).
MarketNames config_market_names(const nlohmann::json& config, bool cluster_node = false);

// The names a model or sample recorded: hp["leaders"], hp["index_members"]. `where` names the record
// in messages ("model sol-h15-7"). DataError when missing or malformed.
MarketNames recorded_market_names(const nlohmann::json& hp, const std::string& where);

// {"leaders": [...], "index_members": [...]}
nlohmann::json market_names_json(const MarketNames& m);

// The other symbols whose bars a set-2 row of `symbol` reads: leaders and index members except
// `symbol`, sorted, without duplicates.
std::vector<std::string> context_symbols(const MarketNames& m, const std::string& symbol);

// The union of the seasonality ranges (v2_season_ranges) of rows at the given minutes, as sorted,
// disjoint, non-adjacent inclusive ranges: the own bars a set-2 tail build needs beside its rows.
std::vector<std::pair<std::int64_t, std::int64_t>> season_ranges_union(const std::vector<std::int64_t>& minutes);

// The ablation of backtests: `groups` (a JSON array of group names of feature_groups_v2()) ->
// the set-2 columns to blank (NaN), ascending, without duplicates. An empty array gives none.
// InvalidParameter for a non-array, a non-string element, an unknown group (naming it and the list)
// or groups with feature_set 1 (set 1 has no groups).
std::vector<std::size_t> excluded_columns(int feature_set, const nlohmann::json& groups);

}  // namespace cml
