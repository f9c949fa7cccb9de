// feature_context.hpp: feature set selection, the cross-market names of set 2, the seasonality
// ranges a tail build reads, the ablation's columns.
#include <gtest/gtest.h>

#include <set>

#include "config.hpp"
#include "feature_context.hpp"
#include "features.hpp"
#include "features_v2.hpp"

using cml::json;

namespace {

template <typename E, typename F>
E caught(F f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  }
  ADD_FAILURE() << "no exception";
  return E("none");
}

}  // namespace

TEST(FeatureContext, FeatureSetFromConfigAndChecked) {
  EXPECT_EQ(cml::config_feature_set(cml::Config::effective(json::object())), 1);
  EXPECT_EQ(cml::config_feature_set(cml::Config::effective(json{{"features.featureSet", 2}})), 2);
  EXPECT_EQ(cml::checked_feature_set(2, "option featureSet"), 2);
  const auto e = caught<cml::InvalidParameter>([] { cml::checked_feature_set(3, "option featureSet"); });
  EXPECT_STREQ(e.what(), "unknown feature set 3 (option featureSet)");
  EXPECT_EQ(e.detail(), "rule: feature sets are 1 or 2 (docs/features.md)");
  EXPECT_THROW(cml::checked_feature_set(0, "x"), cml::InvalidParameter);
}

TEST(FeatureContext, MarketNamesFromConfig) {
  const cml::MarketNames m = cml::config_market_names(cml::Config::effective(json::object()));
  EXPECT_EQ(m.leaders, (std::vector<std::string>{"BTCUSDT", "ETHUSDT"}));
  EXPECT_EQ(m.index_members, (std::vector<std::string>{"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"}));
  EXPECT_EQ(cml::context_symbols(m, "SOLUSDT"), (std::vector<std::string>{"ADAUSDT", "BTCUSDT", "ETHUSDT", "HBARUSDT", "XRPUSDT"}));
  EXPECT_EQ(cml::context_symbols(m, "BTCUSDT"), (std::vector<std::string>{"ADAUSDT", "ETHUSDT", "HBARUSDT", "SOLUSDT", "XRPUSDT"}));
  // a symbol outside the index reads all of them
  EXPECT_EQ(cml::context_symbols(m, "DOGEUSDT").size(), 6u);
}

// Config::effective accepts symbols without a default leader (set 1 never needs them); set 2's
// use of the configuration refuses it, naming the leader and the rule.
TEST(FeatureContext, MarketNamesRefuseADefaultLeaderMissingFromSymbols) {
  const json tree = cml::Config::effective(json{{"symbols", {"BTCUSDT", "SOLUSDT"}}});
  auto e = caught<cml::InvalidParameter>([&] { cml::config_market_names(tree); });
  EXPECT_STREQ(e.what(), "config key features.crossMarketSymbols names \"ETHUSDT\", which is not in symbols");
  EXPECT_EQ(e.detail(), "rule: every features.crossMarketSymbols entry is one of the configured symbols (their bars are this database's)");
  e = caught<cml::InvalidParameter>([] { cml::config_market_names(cml::Config::effective(json{{"symbols", {"ETHUSDT"}}})); });
  EXPECT_STREQ(e.what(), "config key features.crossMarketSymbols names \"BTCUSDT\", which is not in symbols");
  // with both leaders kept the names are the configured ones
  const cml::MarketNames m = cml::config_market_names(cml::Config::effective(json{{"symbols", {"ETHUSDT", "BTCUSDT"}}}));
  EXPECT_EQ(m.leaders, (std::vector<std::string>{"BTCUSDT", "ETHUSDT"}));
  EXPECT_EQ(m.index_members, (std::vector<std::string>{"ETHUSDT", "BTCUSDT"}));
}

TEST(FeatureContext, RecordedNamesRoundTripAndMissingOnesAreNamed) {
  cml::MarketNames m;
  m.leaders = {"BTCUSDT"};
  m.index_members = {"BTCUSDT", "SOLUSDT"};
  const json hp = cml::market_names_json(m);
  EXPECT_EQ(hp.dump(), R"({"index_members":["BTCUSDT","SOLUSDT"],"leaders":["BTCUSDT"]})");
  EXPECT_TRUE(cml::recorded_market_names(hp, "model x") == m);
  auto e = caught<cml::DataError>([] { cml::recorded_market_names(json{{"windowSize", 600}}, "model xgb-SOLUSDT-h15-3"); });
  EXPECT_STREQ(e.what(), "model xgb-SOLUSDT-h15-3 is of feature set 2 but records no leaders and index members");
  e = caught<cml::DataError>([] { cml::recorded_market_names(json{{"leaders", {"A", "B", "C"}}, {"index_members", {"A"}}}, "m"); });
  EXPECT_STREQ(e.what(), "m: leaders names 3 symbols");
  e = caught<cml::DataError>([] { cml::recorded_market_names(json{{"leaders", {"A"}}, {"index_members", {"A", "A"}}}, "m"); });
  EXPECT_STREQ(e.what(), "m: index_members names \"A\" twice");
  e = caught<cml::DataError>([] { cml::recorded_market_names(json{{"leaders", {"A"}}, {"index_members", json::array()}}, "m"); });
  EXPECT_STREQ(e.what(), "m: index_members names 0 symbols");
  e = caught<cml::DataError>([] { cml::recorded_market_names(json{{"leaders", {1}}, {"index_members", {"A"}}}, "m"); });
  EXPECT_STREQ(e.what(), "m: leaders names 1, which is not a symbol");
}

// The union covers every range of every row, and nothing else: checked minute by minute.
TEST(FeatureContext, SeasonRangesUnionCoversEveryRowsRanges) {
  std::vector<std::int64_t> minutes;
  for (std::int64_t t = 27000000 - 130; t <= 27000000 + 5; t++) minutes.push_back(t);  // spans 3 hours
  const auto u = cml::season_ranges_union(minutes);
  std::set<std::int64_t> want;
  for (std::int64_t t : minutes)
    for (const auto& r : cml::v2_season_ranges(t))
      for (std::int64_t x = r.first; x <= r.second; x++) want.insert(x);
  std::set<std::int64_t> got;
  for (size_t i = 0; i < u.size(); i++) {
    ASSERT_LE(u[i].first, u[i].second);
    if (i > 0) {
      EXPECT_GT(u[i].first, u[i - 1].second + 1);  // sorted, disjoint, not adjacent
    }
    for (std::int64_t x = u[i].first; x <= u[i].second; x++) got.insert(x);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(u.size(), 4u);  // one per week back, the hours merged
  // negative minutes (before the epoch) too
  const auto neg = cml::season_ranges_union({-61, -60, -1});
  std::set<std::int64_t> w2, g2;
  for (std::int64_t t : {-61, -60, -1})
    for (const auto& r : cml::v2_season_ranges(t))
      for (std::int64_t x = r.first; x <= r.second; x++) w2.insert(x);
  for (const auto& r : neg)
    for (std::int64_t x = r.first; x <= r.second; x++) g2.insert(x);
  EXPECT_EQ(g2, w2);
  EXPECT_TRUE(cml::season_ranges_union({}).empty());
}

TEST(FeatureContext, ExcludedColumnsAreTheGroupsColumns) {
  EXPECT_TRUE(cml::excluded_columns(2, json::array()).empty());
  EXPECT_TRUE(cml::excluded_columns(1, json::array()).empty());
  std::vector<std::size_t> want;
  for (const char* g : {"volatility", "cross_market"})
    for (std::size_t c : cml::feature_group_columns(g)) want.push_back(c);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(cml::excluded_columns(2, json{"volatility", "cross_market", "volatility"}), want);
  // every group's columns lie after set 1's and inside set 2's vector
  for (const std::string& g : cml::feature_groups_v2())
    for (std::size_t c : cml::excluded_columns(2, json{g})) {
      EXPECT_GE(c, cml::feature_names().size());
      EXPECT_LT(c, cml::feature_names_for(2).size());
    }
  auto e = caught<cml::InvalidParameter>([] { cml::excluded_columns(2, json{"volatility", "vibes"}); });
  EXPECT_STREQ(e.what(), "unknown feature group \"vibes\" in option excludeGroups");
  EXPECT_EQ(e.detail(), "rule: excludeGroups is an array of feature set 2 groups: multi_timeframe, cross_market, volatility, seasonality");
  e = caught<cml::InvalidParameter>([] { cml::excluded_columns(1, json{"volatility"}); });
  EXPECT_STREQ(e.what(), "option excludeGroups needs featureSet 2, got featureSet 1");
  e = caught<cml::InvalidParameter>([] { cml::excluded_columns(2, json("volatility")); });
  EXPECT_STREQ(e.what(), "option excludeGroups must be an array of group names, got \"volatility\"");
  e = caught<cml::InvalidParameter>([] { cml::excluded_columns(2, json{3}); });
  EXPECT_STREQ(e.what(), "option excludeGroups names 3, which is not a group name");
}
TEST(FeatureContext, ClusterNodeIndexIsTheLeaders) {
  const json tree = cml::Config::effective(json{{"symbols", {"ADAUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT"}}});
  const cml::MarketNames standalone = cml::config_market_names(tree);
  EXPECT_EQ(standalone.index_members, (std::vector<std::string>{"ADAUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT"}));
  const cml::MarketNames node = cml::config_market_names(tree, true);
  EXPECT_EQ(node.leaders, standalone.leaders);
  EXPECT_EQ(node.index_members, node.leaders);
  EXPECT_EQ(cml::context_symbols(node, "SOLUSDT"), (std::vector<std::string>{"BTCUSDT", "ETHUSDT"}));
}
