// See feature_context.hpp.
#include "feature_context.hpp"

#include <algorithm>
#include <set>

#include "config.hpp"
#include "features.hpp"
#include "features_v2.hpp"
#include "json_text.hpp"

namespace cml {
namespace {

std::string list_text(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string shown(const json& v) {
  std::string s = json_text(v);
  return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

// A JSON array of distinct non-empty strings with a count in [lo, hi]; `what` names it.
template <typename Error>
std::vector<std::string> names_of(const json& v, const std::string& what, std::size_t lo, std::size_t hi,
                                  const std::string& rule) {
  if (!v.is_array()) throw Error(what + " must be an array of symbols, got " + shown(v), "rule: " + rule);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const json& x : v) {
    if (!x.is_string() || x.get<std::string>().empty())
      throw Error(what + " names " + shown(x) + ", which is not a symbol", "rule: " + rule);
    if (!seen.insert(x.get<std::string>()).second) throw Error(what + " names " + shown(x) + " twice", "rule: " + rule);
    out.push_back(x.get<std::string>());
  }
  if (out.size() < lo || out.size() > hi) throw Error(what + " names " + std::to_string(out.size()) + " symbols", "rule: " + rule);
  return out;
}

const char* const kLeadersRule = "1 or 2 distinct symbols (features.crossMarketSymbols: lead1, lead2)";
const char* const kMembersRule = "at least one symbol, each once (the configured symbols)";

}  // namespace

int checked_feature_set(long long version, const std::string& what) {
  if (version < 1 || version > kMaxFeatureSet)
    throw InvalidParameter("unknown feature set " + std::to_string(version) + " (" + what + ")",
                           "rule: feature sets are 1 or " + std::to_string(kMaxFeatureSet) + " (docs/features.md)",
                           "Use 1 (the bar's own indicators) or 2 (adds multi-timeframe, cross-market, volatility and "
                           "seasonality features).");
  return static_cast<int>(version);
}

int config_feature_set(const json& config) {
  const json& v = Config::get(config, "features.featureSet");
  if (!v.is_number_integer()) throw InvalidParameter("config key features.featureSet must be an integer, got " + shown(v));
  return checked_feature_set(v.get<long long>(), "config key features.featureSet");
}

MarketNames config_market_names(const json& config, bool cluster_node) {
  MarketNames m;
  m.leaders = names_of<InvalidParameter>(Config::get(config, "features.crossMarketSymbols"), "config key features.crossMarketSymbols",
                                         1, 2, kLeadersRule);
  m.index_members = names_of<InvalidParameter>(Config::get(config, "symbols"), "config key symbols", 1, 100000, kMembersRule);
  for (const std::string& l : m.leaders)
    if (std::find(m.index_members.begin(), m.index_members.end(), l) == m.index_members.end())
      throw InvalidParameter("config key features.crossMarketSymbols names \"" + l + "\", which is not in symbols",
                             "rule: every features.crossMarketSymbols entry is one of the configured symbols (their bars are this database's)",
                             "add it to symbols, or set features.crossMarketSymbols to configured symbols");
  if (cluster_node) m.index_members = m.leaders;  // what every node has: the same features on every node
  return m;
}

MarketNames recorded_market_names(const json& hp, const std::string& where) {
  if (!hp.is_object() || !hp.contains("leaders") || !hp.contains("index_members"))
    throw DataError(where + " is of feature set 2 but records no leaders and index members",
                    "rule: a feature set 2 model records hyperparameters.leaders and hyperparameters.index_members "
                    "(the cross-market inputs it was trained with)",
                    "Train it again with ml_train, or import a bundle that records them.");
  MarketNames m;
  m.leaders = names_of<DataError>(hp.at("leaders"), where + ": leaders", 1, 2, kLeadersRule);
  m.index_members = names_of<DataError>(hp.at("index_members"), where + ": index_members", 1, 100000, kMembersRule);
  return m;
}

json market_names_json(const MarketNames& m) { return json{{"leaders", m.leaders}, {"index_members", m.index_members}}; }

std::vector<std::string> context_symbols(const MarketNames& m, const std::string& symbol) {
  std::set<std::string> s(m.leaders.begin(), m.leaders.end());
  s.insert(m.index_members.begin(), m.index_members.end());
  s.erase(symbol);
  return std::vector<std::string>(s.begin(), s.end());
}

std::vector<std::pair<std::int64_t, std::int64_t>> season_ranges_union(const std::vector<std::int64_t>& minutes) {
  std::vector<std::pair<std::int64_t, std::int64_t>> all;
  std::int64_t last_hour = 0;
  bool any = false;
  for (std::int64_t t : minutes) {
    const std::int64_t hour = t >= 0 ? t / 60 : -((-t + 59) / 60);
    if (any && hour == last_hour) continue;  // the ranges depend on the hour only
    any = true;
    last_hour = hour;
    for (const auto& r : v2_season_ranges(t)) all.push_back(r);
  }
  std::sort(all.begin(), all.end());
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& r : all) {
    if (!out.empty() && r.first <= out.back().second + 1) out.back().second = std::max(out.back().second, r.second);
    else out.push_back(r);
  }
  return out;
}

std::vector<std::size_t> excluded_columns(int feature_set, const json& groups) {
  const std::vector<std::string>& known = feature_groups_v2();
  const std::string rule = "excludeGroups is an array of feature set 2 groups: " + list_text(known);
  if (!groups.is_array()) throw InvalidParameter("option excludeGroups must be an array of group names, got " + shown(groups), "rule: " + rule);
  if (groups.empty()) return {};
  if (feature_set != 2)
    throw InvalidParameter("option excludeGroups needs featureSet 2, got featureSet " + std::to_string(feature_set),
                           "rule: feature set 1 has no groups; " + rule);
  std::set<std::size_t> cols;
  for (const json& g : groups) {
    if (!g.is_string()) throw InvalidParameter("option excludeGroups names " + shown(g) + ", which is not a group name", "rule: " + rule);
    const std::string& name = g.get_ref<const std::string&>();
    if (std::find(known.begin(), known.end(), name) == known.end())
      throw InvalidParameter("unknown feature group \"" + (name.size() > 60 ? name.substr(0, 60) + "..." : name) +
                                 "\" in option excludeGroups",
                             "rule: " + rule);
    for (std::size_t c : feature_group_columns(name)) cols.insert(c);
  }
  return std::vector<std::size_t>(cols.begin(), cols.end());
}

}  // namespace cml
