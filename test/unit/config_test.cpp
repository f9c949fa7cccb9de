// Unit tests for cml::Config (src/core/config.hpp).
#include "config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

using cml::Config;
using cml::json;

namespace {

struct Caught {
  bool thrown = false;
  std::string message, detail, hint;
};

// Runs f and captures the InvalidParameter it throws (any other exception fails the test).
Caught capture(const std::function<void()>& f) {
  Caught c;
  try {
    f();
  } catch (const cml::InvalidParameter& e) {
    c.thrown = true;
    c.message = e.what();
    c.detail = e.detail();
    c.hint = e.hint();
  }
  return c;
}

Caught bad_value(const std::string& key, const json& v) {
  return capture([&] { Config::validate_value(key, v); });
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

const json& D(const std::string& path) { return Config::get(Config::defaults(), path); }

void expect_int(const std::string& path, std::int64_t v) {
  const json& j = D(path);
  EXPECT_TRUE(j.is_number_integer()) << path << " = " << j.dump();
  EXPECT_EQ(j, json(v)) << path;
}

void expect_num(const std::string& path, double v) {
  const json& j = D(path);
  EXPECT_TRUE(j.is_number()) << path;
  EXPECT_DOUBLE_EQ(j.get<double>(), v) << path;
}

const std::vector<std::string> kAllKeys = {
    "data.backfillBatchSize",
    "data.compressionThreshold",
    "data.futureToleranceSeconds",
    "data.rejectUnknownSymbols",
    "data.retentionDays",
    "exchanges",
    "features.bollingerPeriod",
    "features.bollingerStdDev",
    "features.crossMarketSymbols",
    "features.featureSet",
    "features.macdFast",
    "features.macdSignal",
    "features.macdSlow",
    "features.rsiPeriod",
    "features.stochasticD",
    "features.stochasticK",
    "features.volatilityWindow",
    "forecasting.confidenceDecay",
    "forecasting.horizons",
    "forecasting.marketRegimes",
    "forecasting.updateFrequency",
    "inference.calibrationWindow",
    "inference.confidenceThreshold",
    "inference.ensembleWeights",
    "inference.intervalAdaptRate",
    "inference.intervalCoverage",
    "inference.maxPredictionAge",
    "inference.predictionCache",
    "inference.skillSignificance",
    "ingest.backoffBaseMs",
    "ingest.backoffMaxMs",
    "ingest.baseUrls.binance-us",
    "ingest.baseUrls.bybit",
    "ingest.baseUrls.coinbase",
    "ingest.enabled",
    "ingest.failoverAfter",
    "ingest.initialBackfillMinutes",
    "ingest.maxPayloadBytes",
    "ingest.pollInterval",
    "ingest.primaryExchange",
    "ingest.rateLimits.binance-us",
    "ingest.rateLimits.bybit",
    "ingest.rateLimits.coinbase",
    "ingest.symbolMap.binance-us",
    "ingest.symbolMap.bybit",
    "ingest.symbolMap.coinbase",
    "ingest.timeoutMs",
    "monitoring.alertThresholds.calibrationError",
    "monitoring.alertThresholds.intervalCoverageGap",
    "monitoring.alertThresholds.invalidValues",
    "monitoring.alertThresholds.missingData",
    "monitoring.alertThresholds.staleData",
    "monitoring.anomalyThreshold",
    "monitoring.anomalyWindow",
    "monitoring.checkInterval",
    "monitoring.completenessThreshold",
    "symbols",
    "system.enableRecovery",
    "system.environment",
    "system.logLevel",
    "system.maxConcurrentWorkers",
    "trading.autoSimulate",
    "trading.horizon",
    "training.batchSize",
    "training.calibrationFolds",
    "training.earlyStoppingPatience",
    "training.excludeAnomalies",
    "training.forecastHorizons",
    "training.maxEpochs",
    "training.modelTypes",
    "training.validationSplit",
    "training.windowSize",
};

// Collects the leaf paths of a tree (ensembleWeights counts as a leaf).
void collect_leaves(const json& node, const std::string& prefix, std::vector<std::string>& out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string p = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it.value().is_object() && p != "inference.ensembleWeights" && p != "ingest.primaryExchange" &&
        p.rfind("ingest.symbolMap.", 0) != 0)
      collect_leaves(it.value(), p, out);
    else
      out.push_back(p);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Defaults

TEST(ConfigDefaults, System) {
  EXPECT_EQ(D("system.environment"), json("development"));
  EXPECT_EQ(D("system.logLevel"), json("info"));
  EXPECT_EQ(D("system.enableRecovery"), json(true));
  expect_int("system.maxConcurrentWorkers", 4);
  EXPECT_EQ(D("system").size(), 4u);
}

TEST(ConfigDefaults, Data) {
  expect_int("data.retentionDays", 30);
  expect_int("data.compressionThreshold", 7);
  expect_int("data.backfillBatchSize", 1000);
  EXPECT_EQ(D("data.rejectUnknownSymbols"), json(true));
  expect_int("data.futureToleranceSeconds", 120);
  EXPECT_EQ(D("data").size(), 5u);
}

TEST(ConfigDefaults, Features) {
  expect_int("features.rsiPeriod", 14);
  expect_int("features.macdFast", 12);
  expect_int("features.macdSlow", 26);
  expect_int("features.macdSignal", 9);
  expect_int("features.bollingerPeriod", 20);
  expect_num("features.bollingerStdDev", 2.0);
  expect_int("features.stochasticK", 14);
  expect_int("features.stochasticD", 3);
  expect_int("features.volatilityWindow", 5);
  expect_int("features.featureSet", 1);
  EXPECT_EQ(D("features.crossMarketSymbols"), json::parse(R"(["BTCUSDT", "ETHUSDT"])"));
  EXPECT_EQ(D("features").size(), 11u);
}

TEST(ConfigDefaults, Training) {
  expect_int("training.windowSize", 600);
  EXPECT_EQ(D("training.forecastHorizons"), json::parse("[5, 15, 30, 60]"));
  for (const auto& h : D("training.forecastHorizons")) EXPECT_TRUE(h.is_number_integer());
  expect_num("training.validationSplit", 0.2);
  EXPECT_TRUE(D("training.validationSplit").is_number_float());
  EXPECT_EQ(D("training.modelTypes"), json::parse(R"(["xgboost", "lstm", "ensemble"])"));
  expect_int("training.batchSize", 1000);
  expect_int("training.maxEpochs", 100);
  expect_int("training.earlyStoppingPatience", 10);
  expect_int("training.calibrationFolds", 3);
  EXPECT_EQ(D("training.excludeAnomalies"), json(false));
  EXPECT_EQ(D("training").size(), 9u);
}

TEST(ConfigDefaults, Inference) {
  expect_num("inference.confidenceThreshold", 60);
  EXPECT_EQ(D("inference.confidenceThreshold"), json(60));
  EXPECT_TRUE(D("inference.ensembleWeights").is_object());
  EXPECT_TRUE(D("inference.ensembleWeights").empty());
  EXPECT_EQ(D("inference.predictionCache"), json(true));
  expect_int("inference.maxPredictionAge", 300);
  expect_num("inference.intervalCoverage", 0.8);
  expect_num("inference.intervalAdaptRate", 0.005);
  expect_num("inference.skillSignificance", 0.05);
  expect_int("inference.calibrationWindow", 10080);
  EXPECT_EQ(D("inference").size(), 8u);
}

TEST(ConfigDefaults, Forecasting) {
  EXPECT_EQ(D("forecasting.horizons"), json::parse("[5, 15, 30, 60, 240, 1440]"));
  for (const auto& h : D("forecasting.horizons")) EXPECT_TRUE(h.is_number_integer());
  expect_int("forecasting.updateFrequency", 60);
  expect_num("forecasting.confidenceDecay", 0.95);
  EXPECT_EQ(D("forecasting.marketRegimes"),
            json::parse(R"(["trending", "ranging", "volatile"])"));
  EXPECT_EQ(D("forecasting").size(), 4u);
}

TEST(ConfigDefaults, Monitoring) {
  expect_num("monitoring.completenessThreshold", 0.95);
  expect_num("monitoring.alertThresholds.missingData", 0.1);
  expect_int("monitoring.alertThresholds.staleData", 300);
  expect_num("monitoring.alertThresholds.invalidValues", 0.05);
  expect_num("monitoring.alertThresholds.intervalCoverageGap", 0.05);
  expect_num("monitoring.alertThresholds.calibrationError", 0.05);
  EXPECT_EQ(D("monitoring.alertThresholds").size(), 5u);
  expect_int("monitoring.checkInterval", 60);
  expect_num("monitoring.anomalyThreshold", 12);
  expect_int("monitoring.anomalyWindow", 240);
  EXPECT_EQ(D("monitoring").size(), 5u);
}

TEST(ConfigDefaults, SymbolsAndExchanges) {
  EXPECT_EQ(D("symbols"),
            json::parse(R"(["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"])"));
  EXPECT_EQ(D("exchanges"), json::parse(R"(["binance-us", "coinbase", "bybit"])"));
}

TEST(ConfigDefaults, TopLevelShape) {
  const json& d = Config::defaults();
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d.size(), 11u);
  for (const char* k : {"system", "data", "features", "training", "inference", "forecasting",
                        "monitoring", "symbols", "exchanges", "trading", "ingest"})
    EXPECT_TRUE(d.contains(k)) << k;
  EXPECT_EQ(&Config::defaults(), &Config::defaults());  // built once
}

TEST(ConfigDefaults, EffectiveOfNothingIsDefaults) {
  EXPECT_EQ(Config::effective(json()), Config::defaults());
  EXPECT_EQ(Config::effective(json::object()), Config::defaults());
}

// ---------------------------------------------------------------------------------------------
// Keys

TEST(ConfigKeys, CountAndContents) {
  const auto& k = Config::keys();
  EXPECT_EQ(k.size(), 72u);
  EXPECT_EQ(k, kAllKeys);
  EXPECT_TRUE(std::is_sorted(k.begin(), k.end()));
}

TEST(ConfigKeys, KeysAreExactlyTheDefaultLeaves) {
  std::vector<std::string> leaves;
  collect_leaves(Config::defaults(), "", leaves);
  std::sort(leaves.begin(), leaves.end());
  EXPECT_EQ(leaves, kAllKeys);
}

TEST(ConfigKeys, IsKey) {
  for (const auto& k : kAllKeys) EXPECT_TRUE(Config::is_key(k)) << k;
  for (const char* k : {"", "features", "monitoring.alertThresholds", "monitoring",
                        "inference.ensembleWeights.xgboost", "features.rsiPeriodd",
                        "Features.rsiPeriod", "features.rsiperiod", "symbols.0", ".symbols",
                        "symbols."})
    EXPECT_FALSE(Config::is_key(k)) << k;
}

TEST(ConfigKeys, EveryKeyAcceptsItsDefault) {
  for (const auto& k : Config::keys()) {
    EXPECT_NO_THROW(Config::validate_value(k, D(k))) << k;
    EXPECT_FALSE(Config::rule(k).empty()) << k;
  }
}

TEST(ConfigKeys, EveryKeyRejectsNullAndWrongContainer) {
  for (const auto& k : Config::keys()) {
    Caught c = bad_value(k, json());
    ASSERT_TRUE(c.thrown) << k;
    EXPECT_EQ(c.message, "invalid value for config key \"" + k + "\": null");
    EXPECT_EQ(c.detail, "rule: " + Config::rule(k));
    EXPECT_EQ(c.hint, "default: " + D(k).dump());
  }
}

// ---------------------------------------------------------------------------------------------
// Rules

TEST(ConfigRules, RuleTexts) {
  EXPECT_EQ(Config::rule("features.rsiPeriod"), "integer between 2 and 1000");
  EXPECT_EQ(Config::rule("data.retentionDays"), "integer between 1 and 36500 (days)");
  EXPECT_EQ(Config::rule("system.environment"), "one of \"development\", \"production\"");
  EXPECT_EQ(Config::rule("system.enableRecovery"), "boolean (true or false)");
  EXPECT_EQ(Config::rule("features.bollingerStdDev"), "number greater than 0 and at most 10");
  EXPECT_EQ(Config::rule("training.validationSplit"), "number strictly between 0 and 1");
  EXPECT_EQ(Config::rule("inference.confidenceThreshold"), "number between 0 and 100");
  EXPECT_EQ(Config::rule("forecasting.horizons"),
            "non-empty array of unique integers, each between 1 and 10080");
  EXPECT_EQ(Config::rule("training.modelTypes"),
            "non-empty array of unique strings, each one of \"xgboost\", \"lstm\", \"ensemble\"");
  EXPECT_EQ(Config::rule("symbols"),
            "non-empty array of at most 2000 unique strings, each matching ^[A-Z0-9]{2,20}$");
  EXPECT_TRUE(contains(Config::rule("inference.ensembleWeights"), "\"xgboost\", \"lstm\""));
}

TEST(ConfigRules, RuleOfUnknownKeyThrows) {
  EXPECT_THROW(Config::rule("features.nope"), cml::InvalidParameter);
  EXPECT_THROW(Config::rule("features"), cml::InvalidParameter);
}

struct Case {
  const char* key;
  const char* value;  // JSON text
};

// Values every key must reject with message "invalid value ... : <value>" and detail
// "rule: <rule(key)>" (scalar rules and whole-array type errors).
const std::vector<Case> kRejectedScalar = {
    {"system.environment", R"("staging")"},
    {"system.environment", R"("Production")"},
    {"system.environment", "1"},
    {"system.logLevel", R"("trace")"},
    {"system.logLevel", R"("")"},
    {"system.logLevel", R"(["info"])"},
    {"system.enableRecovery", "1"},
    {"system.enableRecovery", R"("true")"},
    {"system.maxConcurrentWorkers", "0"},
    {"system.maxConcurrentWorkers", "65"},
    {"system.maxConcurrentWorkers", "4.0"},
    {"system.maxConcurrentWorkers", R"("4")"},
    {"system.maxConcurrentWorkers", "true"},
    {"data.retentionDays", "0"},
    {"data.retentionDays", "36501"},
    {"data.retentionDays", "30.5"},
    {"data.compressionThreshold", "0"},
    {"data.compressionThreshold", "36501"},
    {"data.compressionThreshold", R"("7")"},
    {"data.backfillBatchSize", "0"},
    {"data.backfillBatchSize", "1000001"},
    {"data.backfillBatchSize", "-1"},
    {"data.rejectUnknownSymbols", "1"},
    {"data.rejectUnknownSymbols", R"("true")"},
    {"data.futureToleranceSeconds", "-1"},
    {"data.futureToleranceSeconds", "86401"},
    {"data.futureToleranceSeconds", "1.5"},
    {"features.rsiPeriod", "1"},
    {"features.rsiPeriod", "1001"},
    {"features.rsiPeriod", "-3"},
    {"features.rsiPeriod", "14.0"},
    {"features.macdFast", "1"},
    {"features.macdFast", "1001"},
    {"features.macdSlow", "1"},
    {"features.macdSlow", "1001"},
    {"features.macdSignal", "0"},
    {"features.macdSignal", "1001"},
    {"features.bollingerPeriod", "1"},
    {"features.bollingerPeriod", "1001"},
    {"features.bollingerStdDev", "0"},
    {"features.bollingerStdDev", "-0.5"},
    {"features.bollingerStdDev", "10.0001"},
    {"features.bollingerStdDev", "11"},
    {"features.bollingerStdDev", R"("2")"},
    {"features.stochasticK", "0"},
    {"features.stochasticK", "1001"},
    {"features.stochasticD", "0"},
    {"features.stochasticD", "1001"},
    {"features.volatilityWindow", "1"},
    {"features.volatilityWindow", "1001"},
    {"features.featureSet", "0"},
    {"features.featureSet", "3"},
    {"features.featureSet", "1.0"},
    {"features.featureSet", R"("2")"},
    {"features.crossMarketSymbols", R"("BTCUSDT")"},
    {"features.crossMarketSymbols", R"({"lead1": "BTCUSDT"})"},
    {"training.windowSize", "9"},
    {"training.windowSize", "10000001"},
    {"training.windowSize", "600.0"},
    {"training.forecastHorizons", "5"},
    {"training.forecastHorizons", R"({"a": 5})"},
    {"training.validationSplit", "0"},
    {"training.validationSplit", "1"},
    {"training.validationSplit", "-0.1"},
    {"training.validationSplit", "1.5"},
    {"training.validationSplit", R"("0.2")"},
    {"training.modelTypes", R"("xgboost")"},
    {"training.batchSize", "0"},
    {"training.batchSize", "1000001"},
    {"training.maxEpochs", "0"},
    {"training.maxEpochs", "100001"},
    {"training.earlyStoppingPatience", "0"},
    {"training.earlyStoppingPatience", "100001"},
    {"training.excludeAnomalies", "1"},
    {"training.excludeAnomalies", R"("false")"},
    {"inference.confidenceThreshold", "-0.001"},
    {"inference.confidenceThreshold", "100.5"},
    {"inference.confidenceThreshold", "101"},
    {"inference.confidenceThreshold", R"("60")"},
    {"inference.ensembleWeights", "[]"},
    {"inference.ensembleWeights", "1"},
    {"inference.predictionCache", "0"},
    {"inference.predictionCache", R"("false")"},
    {"inference.maxPredictionAge", "-1"},
    {"inference.maxPredictionAge", "86401"},
    {"forecasting.horizons", R"("5,15")"},
    {"forecasting.updateFrequency", "0"},
    {"forecasting.updateFrequency", "86401"},
    {"forecasting.confidenceDecay", "0"},
    {"forecasting.confidenceDecay", "1.01"},
    {"forecasting.confidenceDecay", "-1"},
    {"forecasting.marketRegimes", R"("trending")"},
    {"monitoring.completenessThreshold", "-0.01"},
    {"monitoring.completenessThreshold", "1.01"},
    {"monitoring.completenessThreshold", "true"},
    {"monitoring.alertThresholds.missingData", "-0.1"},
    {"monitoring.alertThresholds.missingData", "1.1"},
    {"monitoring.alertThresholds.staleData", "0"},
    {"monitoring.alertThresholds.staleData", "604801"},
    {"monitoring.alertThresholds.staleData", "300.0"},
    {"monitoring.alertThresholds.invalidValues", "-0.05"},
    {"monitoring.alertThresholds.invalidValues", "2"},
    {"monitoring.checkInterval", "0"},
    {"monitoring.checkInterval", "86401"},
    {"monitoring.anomalyThreshold", "0.999"},
    {"monitoring.anomalyThreshold", "0"},
    {"monitoring.anomalyThreshold", "-12"},
    {"monitoring.anomalyThreshold", "1000.001"},
    {"monitoring.anomalyThreshold", "1001"},
    {"monitoring.anomalyThreshold", R"("12")"},
    {"monitoring.anomalyWindow", "29"},
    {"monitoring.anomalyWindow", "10081"},
    {"monitoring.anomalyWindow", "240.0"},
    {"monitoring.anomalyWindow", "0"},
    {"symbols", R"("BTCUSDT")"},
    {"exchanges", R"("coinbase")"},
};

TEST(ConfigRules, RejectsOutOfRangeAndWrongType) {
  std::set<std::string> covered;
  for (const auto& c : kRejectedScalar) {
    json v = json::parse(c.value);
    Caught e = bad_value(c.key, v);
    ASSERT_TRUE(e.thrown) << c.key << " = " << c.value;
    EXPECT_EQ(e.message, std::string("invalid value for config key \"") + c.key + "\": " + v.dump())
        << c.key;
    EXPECT_EQ(e.detail, "rule: " + Config::rule(c.key)) << c.key;
    covered.insert(c.key);
  }
  // At least one rejected case per key in the table.
  EXPECT_EQ(covered.size(), 45u);
}

// Boundary values that must be accepted.
const std::vector<Case> kAccepted = {
    {"system.environment", R"("production")"},
    {"system.logLevel", R"("debug")"},
    {"system.logLevel", R"("warning")"},
    {"system.logLevel", R"("error")"},
    {"system.enableRecovery", "false"},
    {"system.maxConcurrentWorkers", "1"},
    {"system.maxConcurrentWorkers", "64"},
    {"data.retentionDays", "1"},
    {"data.retentionDays", "36500"},
    {"data.compressionThreshold", "1"},
    {"data.compressionThreshold", "36500"},
    {"data.backfillBatchSize", "1"},
    {"data.backfillBatchSize", "1000000"},
    {"data.rejectUnknownSymbols", "false"},
    {"data.futureToleranceSeconds", "0"},
    {"data.futureToleranceSeconds", "86400"},
    {"features.rsiPeriod", "2"},
    {"features.rsiPeriod", "1000"},
    {"features.macdFast", "2"},
    {"features.macdSlow", "1000"},
    {"features.macdSignal", "1"},
    {"features.bollingerPeriod", "1000"},
    {"features.bollingerStdDev", "0.0001"},
    {"features.bollingerStdDev", "10"},
    {"features.bollingerStdDev", "2.5"},
    {"features.stochasticK", "1"},
    {"features.stochasticD", "1000"},
    {"features.volatilityWindow", "2"},
    {"features.featureSet", "1"},
    {"features.featureSet", "2"},
    {"features.crossMarketSymbols", R"(["SOLUSDT"])"},
    {"features.crossMarketSymbols", R"(["ETHUSDT", "BTCUSDT"])"},
    {"features.crossMarketSymbols", R"(["DOGEUSDT"])"},  // a single value; membership is a cross-key rule
    {"training.windowSize", "10"},
    {"training.windowSize", "10000000"},
    {"training.forecastHorizons", "[1]"},
    {"training.forecastHorizons", "[10080, 1]"},
    {"training.validationSplit", "0.0001"},
    {"training.validationSplit", "0.9999"},
    {"training.modelTypes", R"(["lstm"])"},
    {"training.batchSize", "1000000"},
    {"training.maxEpochs", "100000"},
    {"training.earlyStoppingPatience", "1"},
    {"training.excludeAnomalies", "true"},
    {"inference.confidenceThreshold", "0"},
    {"inference.confidenceThreshold", "100"},
    {"inference.confidenceThreshold", "55.5"},
    {"inference.ensembleWeights", "{}"},
    {"inference.ensembleWeights", R"({"xgboost": 1, "lstm": 0})"},
    {"inference.ensembleWeights", R"({"lstm": 0.25})"},
    {"inference.predictionCache", "false"},
    {"inference.maxPredictionAge", "0"},
    {"inference.maxPredictionAge", "86400"},
    {"forecasting.horizons", "[1, 10080]"},
    {"forecasting.updateFrequency", "1"},
    {"forecasting.updateFrequency", "86400"},
    {"forecasting.confidenceDecay", "1"},
    {"forecasting.confidenceDecay", "0.001"},
    {"forecasting.marketRegimes", R"(["volatile"])"},
    {"monitoring.completenessThreshold", "0"},
    {"monitoring.completenessThreshold", "1"},
    {"monitoring.alertThresholds.missingData", "0"},
    {"monitoring.alertThresholds.missingData", "1"},
    {"monitoring.alertThresholds.staleData", "1"},
    {"monitoring.alertThresholds.staleData", "604800"},
    {"monitoring.alertThresholds.invalidValues", "1"},
    {"monitoring.checkInterval", "1"},
    {"monitoring.checkInterval", "86400"},
    {"monitoring.anomalyThreshold", "1"},
    {"monitoring.anomalyThreshold", "1000"},
    {"monitoring.anomalyThreshold", "3.5"},
    {"monitoring.anomalyWindow", "30"},
    {"monitoring.anomalyWindow", "10080"},
    {"symbols", R"(["AB", "ABCDEFGHIJ0123456789", "1INCH"])"},
    {"exchanges", R"(["bybit"])"},
};

TEST(ConfigRules, AcceptsBoundaryValues) {
  for (const auto& c : kAccepted)
    EXPECT_NO_THROW(Config::validate_value(c.key, json::parse(c.value)))
        << c.key << " = " << c.value;
}

TEST(ConfigRules, ErrorNamesKeyValueAndRule) {
  Caught e = bad_value("features.rsiPeriod", -3);
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid value for config key \"features.rsiPeriod\": -3");
  EXPECT_EQ(e.detail, "rule: integer between 2 and 1000");
  EXPECT_EQ(e.hint, "default: 14");

  e = bad_value("system.environment", "staging");
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid value for config key \"system.environment\": \"staging\"");
  EXPECT_EQ(e.detail, "rule: one of \"development\", \"production\"");

  e = bad_value("training.validationSplit", 1.0);
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid value for config key \"training.validationSplit\": 1.0");
  EXPECT_EQ(e.detail, "rule: number strictly between 0 and 1");
}

TEST(ConfigRules, IntegerKindIsStrict) {
  EXPECT_TRUE(bad_value("features.rsiPeriod", 14.0).thrown);
  EXPECT_TRUE(bad_value("features.rsiPeriod", "14").thrown);
  EXPECT_TRUE(bad_value("features.rsiPeriod", true).thrown);
  EXPECT_TRUE(bad_value("features.rsiPeriod", json::array({14})).thrown);
  EXPECT_TRUE(bad_value("features.rsiPeriod", std::numeric_limits<std::uint64_t>::max()).thrown);
  EXPECT_TRUE(bad_value("features.rsiPeriod", std::numeric_limits<std::int64_t>::min()).thrown);
  EXPECT_TRUE(bad_value("features.rsiPeriod", json::parse("1e2")).thrown);  // float in JSON
  EXPECT_NO_THROW(Config::validate_value("features.rsiPeriod", json(std::uint64_t{14})));
  EXPECT_NO_THROW(Config::validate_value("features.rsiPeriod", json(std::int64_t{14})));
}

TEST(ConfigRules, NumberKindAcceptsIntegersAndRejectsNonFinite) {
  EXPECT_NO_THROW(Config::validate_value("features.bollingerStdDev", 3));
  EXPECT_NO_THROW(Config::validate_value("inference.confidenceThreshold", std::uint64_t{75}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const char* k : {"features.bollingerStdDev", "training.validationSplit",
                        "inference.confidenceThreshold", "forecasting.confidenceDecay",
                        "monitoring.completenessThreshold",
                        "monitoring.alertThresholds.missingData",
                        "monitoring.alertThresholds.invalidValues", "monitoring.anomalyThreshold"}) {
    EXPECT_TRUE(bad_value(k, nan).thrown) << k;
    EXPECT_TRUE(bad_value(k, inf).thrown) << k;
    EXPECT_TRUE(bad_value(k, -inf).thrown) << k;
  }
  // NaN prints as null in JSON; the message still names the key.
  Caught e = bad_value("training.validationSplit", nan);
  EXPECT_TRUE(contains(e.message, "\"training.validationSplit\""));
}

// ---------------------------------------------------------------------------------------------
// Arrays

TEST(ConfigArrays, IntArrays) {
  for (const char* k : {"training.forecastHorizons", "forecasting.horizons"}) {
    Caught e = bad_value(k, json::array());
    ASSERT_TRUE(e.thrown) << k;
    EXPECT_EQ(e.message, std::string("invalid value for config key \"") + k + "\": []");
    EXPECT_EQ(e.detail, "rule: " + Config::rule(k) + " (the array is empty)");

    e = bad_value(k, json::parse("[5, 0]"));
    ASSERT_TRUE(e.thrown) << k;
    EXPECT_EQ(e.detail,
              "rule: each element must be an integer between 1 and 10080 (element 2 0 is not)");

    e = bad_value(k, json::parse("[10081]"));
    ASSERT_TRUE(e.thrown) << k;
    EXPECT_EQ(e.detail,
              "rule: each element must be an integer between 1 and 10080 (element 1 10081 is "
              "not)");

    e = bad_value(k, json::parse("[5, 15.0]"));
    ASSERT_TRUE(e.thrown) << k;
    EXPECT_TRUE(contains(e.detail, "(element 2 15.0 is not)")) << e.detail;

    e = bad_value(k, json::parse(R"([5, "15"])"));
    ASSERT_TRUE(e.thrown) << k;
    EXPECT_TRUE(contains(e.detail, "(element 2 \"15\" is not)")) << e.detail;

    e = bad_value(k, json::parse("[5, 15, 5]"));
    ASSERT_TRUE(e.thrown) << k;
    EXPECT_EQ(e.message, std::string("invalid value for config key \"") + k + "\": [5,15,5]");
    EXPECT_EQ(e.detail, "rule: each element must be unique (element 3 5 repeats element 1)");
  }
}

TEST(ConfigArrays, EnumArrays) {
  Caught e = bad_value("training.modelTypes", json::parse(R"(["xgboost", "svm"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail,
            "rule: each element must be one of \"xgboost\", \"lstm\", \"ensemble\" (element 2 "
            "\"svm\" is not)");
  e = bad_value("training.modelTypes", json::parse(R"(["lstm", "lstm"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: each element must be unique (element 2 \"lstm\" repeats element 1)");
  EXPECT_TRUE(bad_value("training.modelTypes", json::array()).thrown);
  EXPECT_TRUE(bad_value("training.modelTypes", json::parse(R"(["XGBoost"])")).thrown);

  EXPECT_TRUE(bad_value("forecasting.marketRegimes", json::array()).thrown);
  EXPECT_TRUE(bad_value("forecasting.marketRegimes", json::parse(R"(["sideways"])")).thrown);
  EXPECT_TRUE(bad_value("forecasting.marketRegimes", json::parse("[1]")).thrown);
  EXPECT_TRUE(
      bad_value("forecasting.marketRegimes", json::parse(R"(["ranging", "ranging"])")).thrown);

  EXPECT_TRUE(bad_value("exchanges", json::array()).thrown);
  EXPECT_TRUE(bad_value("exchanges", json::parse(R"(["binance"])")).thrown);
  EXPECT_TRUE(bad_value("exchanges", json::parse(R"(["bybit", "bybit"])")).thrown);
  e = bad_value("exchanges", json::parse(R"(["coinbase", "kraken"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail,
            "rule: each element must be one of \"binance-us\", \"coinbase\", \"bybit\" (element 2 "
            "\"kraken\" is not)");
}

TEST(ConfigArrays, Symbols) {
  Caught e = bad_value("symbols", json::array());
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid value for config key \"symbols\": []");
  EXPECT_EQ(e.detail, "rule: " + Config::rule("symbols") + " (the array is empty)");

  e = bad_value("symbols", json::parse(R"(["BTCUSDT", "btc-usd"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid value for config key \"symbols\": [\"BTCUSDT\",\"btc-usd\"]");
  EXPECT_EQ(e.detail, "rule: each element must match ^[A-Z0-9]{2,20}$ (element 2 \"btc-usd\" does not)");

  e = bad_value("symbols", json::parse(R"(["btcusdt"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_TRUE(contains(e.detail, "(element 1 \"btcusdt\" does not)")) << e.detail;

  e = bad_value("symbols", json::parse(R"(["BTCUSDT", "ETHUSDT", "BTCUSDT"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail,
            "rule: each element must be unique (element 3 \"BTCUSDT\" repeats element 1)");

  e = bad_value("symbols", json::array({std::string(21, 'A')}));
  ASSERT_TRUE(e.thrown);
  EXPECT_TRUE(contains(e.detail, "does not")) << e.detail;
  EXPECT_NO_THROW(Config::validate_value("symbols", json::array({std::string(20, 'A')})));

  e = bad_value("symbols", json::parse(R"(["B"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: each element must match ^[A-Z0-9]{2,20}$ (element 1 \"B\" does not)");

  for (const char* s : {"", "BTC USDT", "BTC_USDT", "BTCÜSDT", "BTC\nUSDT"})
    EXPECT_TRUE(bad_value("symbols", json::array({s})).thrown) << s;

  e = bad_value("symbols", json::parse(R"(["BTCUSDT", 5])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail,
            "rule: each element must be a string matching ^[A-Z0-9]{2,20}$ (element 2 5 is not)");

  json many = json::array();
  for (int i = 0; i < 2000; ++i) many.push_back("S" + std::to_string(i));  // a cluster's list (0.9.0)
  EXPECT_NO_THROW(Config::validate_value("symbols", many));
  many.push_back("EXTRA");
  e = bad_value("symbols", many);
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: " + Config::rule("symbols") + " (got 2001 elements)");
}

TEST(ConfigArrays, LongValuesAreTruncatedInMessages) {
  json many = json::array();
  for (int i = 0; i < 200; ++i) many.push_back("lower" + std::to_string(i));
  Caught e = bad_value("symbols", many);
  ASSERT_TRUE(e.thrown);
  const std::string prefix = "invalid value for config key \"symbols\": ";
  ASSERT_EQ(e.message.compare(0, prefix.size(), prefix), 0);
  EXPECT_LE(e.message.size(), prefix.size() + 203);
  EXPECT_EQ(e.message.substr(e.message.size() - 3), "...");
  EXPECT_LT(e.detail.size(), 400u);

  // Truncation never splits a UTF-8 sequence.
  json s = std::string(198, 'x') + "\xC3\xA9\xC3\xA9";  // "xxx...éé", cut inside é
  e = bad_value("system.environment", s);
  ASSERT_TRUE(e.thrown);
  std::string shown = e.message.substr(std::string("invalid value for config key \"system.environment\": ").size());
  EXPECT_EQ(shown, "\"" + std::string(198, 'x') + "...");
}

// ---------------------------------------------------------------------------------------------
// ensembleWeights

TEST(ConfigWeights, Cases) {
  const std::string k = "inference.ensembleWeights";
  EXPECT_NO_THROW(Config::validate_value(k, json::object()));
  EXPECT_NO_THROW(Config::validate_value(k, json::parse(R"({"xgboost": 1, "lstm": 0})")));
  EXPECT_NO_THROW(Config::validate_value(k, json::parse(R"({"xgboost": 0.3, "lstm": 0.7})")));

  Caught e = bad_value(k, json::parse(R"({"xgboost": 0})"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid value for config key \"inference.ensembleWeights\": {\"xgboost\":0}");
  EXPECT_EQ(e.detail, "rule: non-empty weights must have a finite sum > 0 (sum is 0)");

  e = bad_value(k, json::parse(R"({"xgboost": 0, "lstm": 0.0})"));
  ASSERT_TRUE(e.thrown);
  EXPECT_TRUE(contains(e.detail, "sum")) << e.detail;

  e = bad_value(k, json::parse(R"({"xgboost": -1})"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: each weight must be a finite number >= 0 (key \"xgboost\" has -1)");

  e = bad_value(k, json::parse(R"({"svm": 1})"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: each key must be one of \"xgboost\", \"lstm\" (key \"svm\" is not)");

  e = bad_value(k, json::parse(R"({"ensemble": 1})"));
  ASSERT_TRUE(e.thrown);
  EXPECT_TRUE(contains(e.detail, "(key \"ensemble\" is not)")) << e.detail;

  e = bad_value(k, json::parse(R"({"xgboost": "1"})"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: each weight must be a finite number >= 0 (key \"xgboost\" has \"1\")");

  EXPECT_TRUE(bad_value(k, json::parse(R"({"xgboost": null})")).thrown);
  EXPECT_TRUE(bad_value(k, json::parse(R"({"xgboost": true})")).thrown);
  EXPECT_TRUE(
      bad_value(k, json{{"xgboost", std::numeric_limits<double>::infinity()}}).thrown);
  EXPECT_TRUE(bad_value(k, json{{"xgboost", std::numeric_limits<double>::quiet_NaN()}}).thrown);
  EXPECT_TRUE(bad_value(k, json{{"xgboost", 1e308}, {"lstm", 1e308}}).thrown);  // sum overflows

  e = bad_value(k, json::parse(R"(["xgboost"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: " + Config::rule(k));
}

// ---------------------------------------------------------------------------------------------
// Unknown keys

TEST(ConfigUnknown, MessageAndHintOfNearestSection) {
  Caught e = bad_value("features.rsiPeriodd", 14);
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "unknown config key \"features.rsiPeriodd\"");
  EXPECT_EQ(e.hint,
            "keys under \"features\": bollingerPeriod, bollingerStdDev, crossMarketSymbols, featureSet, "
            "macdFast, macdSignal, macdSlow, rsiPeriod, stochasticD, stochasticK, volatilityWindow");

  e = bad_value("monitoring.alertThresholds.stale", 1);
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "unknown config key \"monitoring.alertThresholds.stale\"");
  EXPECT_EQ(e.hint,
            "keys under \"monitoring.alertThresholds\": calibrationError, intervalCoverageGap, invalidValues, missingData, staleData");

  e = bad_value("monitoring.nope", 1);
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.hint,
            "keys under \"monitoring\": alertThresholds.calibrationError, alertThresholds.intervalCoverageGap, "
            "alertThresholds.invalidValues, alertThresholds.missingData, alertThresholds.staleData, anomalyThreshold, "
            "anomalyWindow, checkInterval, completenessThreshold");

  // An inner node is not settable: the hint lists its own keys.
  e = bad_value("features", json::object());
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "unknown config key \"features\"");
  EXPECT_TRUE(contains(e.hint, "keys under \"features\": ")) << e.hint;

  // Below a leaf: nearest section above it.
  e = bad_value("inference.ensembleWeights.xgboost", 1);
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.hint,
            "keys under \"inference\": calibrationWindow, confidenceThreshold, ensembleWeights, intervalAdaptRate, "
            "intervalCoverage, maxPredictionAge, predictionCache, skillSignificance");
}

TEST(ConfigUnknown, TopLevelHintWhenNoSectionMatches) {
  const std::string top =
      "top-level sections: data, exchanges, features, forecasting, inference, ingest, monitoring, "
      "symbols, system, trading, training";
  for (const char* k : {"nosuch", "", "Features.rsiPeriod", "symbols.0", "feature.rsiPeriod"}) {
    Caught e = bad_value(k, 1);
    ASSERT_TRUE(e.thrown) << k;
    EXPECT_EQ(e.message, std::string("unknown config key \"") + k + "\"");
    EXPECT_EQ(e.hint, top) << k;
  }
}

TEST(ConfigUnknown, KeyIsQuotedAndTruncated) {
  Caught e = bad_value("a\"b", 1);
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "unknown config key \"a\\\"b\"");
  e = bad_value(std::string(1000, 'k'), 1);
  ASSERT_TRUE(e.thrown);
  EXPECT_LT(e.message.size(), 260u);
}

// ---------------------------------------------------------------------------------------------
// effective()

TEST(ConfigEffective, AppliesOverrides) {
  json o = {{"features.rsiPeriod", 21},
            {"monitoring.alertThresholds.staleData", 600},
            {"symbols", {"BTCUSDT"}},
            {"inference.ensembleWeights", {{"xgboost", 2}, {"lstm", 1}}},
            {"system.environment", "production"}};
  json t = Config::effective(o);
  EXPECT_EQ(Config::get(t, "features.rsiPeriod"), json(21));
  EXPECT_EQ(Config::get(t, "monitoring.alertThresholds.staleData"), json(600));
  EXPECT_EQ(Config::get(t, "symbols"), json::array({"BTCUSDT"}));
  EXPECT_EQ(Config::get(t, "inference.ensembleWeights"), json::parse(R"({"xgboost":2,"lstm":1})"));
  EXPECT_EQ(Config::get(t, "system.environment"), json("production"));
  // Untouched keys keep their defaults; siblings in the same section are kept.
  EXPECT_EQ(Config::get(t, "features.macdFast"), json(12));
  EXPECT_EQ(Config::get(t, "monitoring.alertThresholds.missingData"), json(0.1));
  EXPECT_EQ(Config::get(t, "exchanges"), D("exchanges"));
  // Only overridden leaves differ from defaults.
  int differing = 0;
  for (const auto& k : Config::keys())
    if (Config::get(t, k) != D(k)) ++differing;
  EXPECT_EQ(differing, 5);
  // Defaults are not modified.
  EXPECT_EQ(D("features.rsiPeriod"), json(14));
}

TEST(ConfigEffective, RejectsBadOverrides) {
  Caught e = capture([] { Config::effective(json{{"features.rsiPeriod", 1}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid value for config key \"features.rsiPeriod\": 1");
  EXPECT_EQ(e.detail, "rule: integer between 2 and 1000");

  e = capture([] { Config::effective(json{{"features.nope", 1}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "unknown config key \"features.nope\"");
  EXPECT_TRUE(contains(e.hint, "keys under \"features\"")) << e.hint;

  // Nested form is not accepted: overrides map dotted leaf paths.
  e = capture([] { Config::effective(json{{"features", {{"rsiPeriod", 21}}}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "unknown config key \"features\"");

  for (const json& bad : {json::array(), json(5), json("x"), json(true)}) {
    e = capture([&] { Config::effective(bad); });
    ASSERT_TRUE(e.thrown) << bad.dump();
    EXPECT_TRUE(contains(e.message, "invalid config overrides")) << e.message;
  }
}

TEST(ConfigEffective, CrossKeyMacd) {
  Caught e = capture([] { Config::effective(json{{"features.macdFast", 30}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message,
            "invalid config: features.macdFast (30) must be less than features.macdSlow (26)");

  e = capture([] { Config::effective(json{{"features.macdSlow", 12}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message,
            "invalid config: features.macdFast (12) must be less than features.macdSlow (12)");

  json t = Config::effective(json{{"features.macdFast", 30}, {"features.macdSlow", 40}});
  EXPECT_EQ(Config::get(t, "features.macdFast"), json(30));
  EXPECT_EQ(Config::get(t, "features.macdSlow"), json(40));
  EXPECT_NO_THROW(Config::effective(json{{"features.macdFast", 25}}));
}

TEST(ConfigEffective, CrossKeyCompression) {
  Caught e = capture([] { Config::effective(json{{"data.compressionThreshold", 40}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message,
            "invalid config: data.compressionThreshold (40) must be less than or equal to "
            "data.retentionDays (30)");

  e = capture([] { Config::effective(json{{"data.retentionDays", 5}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message,
            "invalid config: data.compressionThreshold (7) must be less than or equal to "
            "data.retentionDays (5)");

  EXPECT_NO_THROW(Config::effective(json{{"data.compressionThreshold", 30}}));
  EXPECT_NO_THROW(Config::effective(json{{"data.retentionDays", 7}}));
  EXPECT_NO_THROW(
      Config::effective(json{{"data.compressionThreshold", 40}, {"data.retentionDays", 40}}));
}

TEST(ConfigEffective, ValidateValueIgnoresCrossKeyRules) {
  EXPECT_NO_THROW(Config::validate_value("features.macdFast", 30));
  EXPECT_NO_THROW(Config::validate_value("data.compressionThreshold", 40));
}

// ---------------------------------------------------------------------------------------------
// get()

TEST(ConfigGet, LeafAndInnerNode) {
  const json& d = Config::defaults();
  EXPECT_EQ(Config::get(d, "features.rsiPeriod"), json(14));
  const json& f = Config::get(d, "features");
  ASSERT_TRUE(f.is_object());
  EXPECT_EQ(f.size(), 11u);
  EXPECT_EQ(f.at("macdSlow"), json(26));
  const json& a = Config::get(d, "monitoring.alertThresholds");
  EXPECT_EQ(a.at("staleData"), json(300));
  EXPECT_EQ(&Config::get(d, "symbols"), &d.at("symbols"));  // reference into the tree
}

TEST(ConfigGet, UnknownOrAbsent) {
  const json& d = Config::defaults();
  Caught e = capture([&] { Config::get(d, "features.rsi"); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "unknown config key \"features.rsi\"");
  EXPECT_TRUE(capture([&] { Config::get(d, ""); }).thrown);
  EXPECT_TRUE(capture([&] { Config::get(d, "inference.ensembleWeights.xgboost"); }).thrown);

  json partial = {{"features", {{"macdFast", 12}}}};
  EXPECT_EQ(Config::get(partial, "features.macdFast"), json(12));
  e = capture([&] { Config::get(partial, "features.rsiPeriod"); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "config key \"features.rsiPeriod\" is absent from the configuration");
  EXPECT_TRUE(capture([&] { Config::get(json(), "features"); }).thrown);
  EXPECT_TRUE(capture([&] { Config::get(json{{"features", 5}}, "features.rsiPeriod"); }).thrown);
}

// ---------------------------------------------------------------------------------------------
// trading.* and ingest.* (0.4.0)

TEST(ConfigIngest, Defaults) {
  EXPECT_EQ(D("trading.autoSimulate"), json(false));
  expect_int("trading.horizon", 15);
  EXPECT_EQ(D("ingest.enabled"), json(false));  // nothing calls out without consent
  expect_int("ingest.pollInterval", 60);
  expect_int("ingest.maxPayloadBytes", 4194304);
  EXPECT_EQ(D("ingest.baseUrls.coinbase"), json("https://api.exchange.coinbase.com"));
  EXPECT_EQ(D("ingest.rateLimits.binance-us"), json(5));
  EXPECT_EQ(D("ingest.primaryExchange"), json::object());
  EXPECT_EQ(D("ingest.symbolMap.coinbase"), json::object());
}

TEST(ConfigIngest, UrlsMapsAndRatesAreValidated) {
  for (const char* ok : {"http://127.0.0.1:8080", "https://api.binance.us", "http://localhost/mock/v1"})
    EXPECT_NO_THROW(Config::validate_value("ingest.baseUrls.bybit", json(ok))) << ok;
  for (const char* bad : {"ftp://x", "https://", "http://user:pw@host", "http://h?x=1", "http://h:123456", "api.bybit.com",
                          "http://h/a b"}) {
    Caught e = bad_value("ingest.baseUrls.bybit", json(bad));
    ASSERT_TRUE(e.thrown) << bad;
    EXPECT_NE(e.message.find(bad), std::string::npos) << e.message;
  }
  EXPECT_NO_THROW(Config::validate_value("ingest.primaryExchange", json::parse(R"({"BTCUSDT": "coinbase"})")));
  EXPECT_TRUE(bad_value("ingest.primaryExchange", json::parse(R"({"BTCUSDT": "kraken"})")).thrown);
  EXPECT_TRUE(bad_value("ingest.primaryExchange", json::parse(R"({"btc": "bybit"})")).thrown);
  EXPECT_TRUE(bad_value("ingest.primaryExchange", json::parse(R"(["bybit"])")).thrown);
  EXPECT_NO_THROW(Config::validate_value("ingest.symbolMap.coinbase", json::parse(R"({"BTCUSDT": "BTC-USDT"})")));
  Caught e = bad_value("ingest.symbolMap.coinbase", json::parse(R"({"BTCUSDT": "BTC/USD"})"));
  ASSERT_TRUE(e.thrown);
  EXPECT_NE(e.detail.find("BTCUSDT"), std::string::npos) << e.detail;
  EXPECT_TRUE(bad_value("ingest.rateLimits.coinbase", json(0)).thrown);
  EXPECT_TRUE(bad_value("ingest.rateLimits.coinbase", json(101)).thrown);
  EXPECT_NO_THROW(Config::validate_value("ingest.rateLimits.coinbase", json(0.5)));
}

// ---------------------------------------------------------------------------------------------
// features.featureSet, features.crossMarketSymbols, training.excludeAnomalies,
// monitoring.anomalyThreshold, monitoring.anomalyWindow (0.8.0)

TEST(ConfigV080, RuleTexts) {
  EXPECT_EQ(Config::rule("features.featureSet"), "integer between 1 and 2 (feature set version)");
  EXPECT_EQ(Config::rule("features.crossMarketSymbols"),
            "non-empty array of at most 2 unique strings, each matching ^[A-Z0-9]{2,20}$ (feature set 2's lead1 and lead2)");
  EXPECT_EQ(Config::rule("training.excludeAnomalies"), "boolean (true or false)");
  EXPECT_EQ(Config::rule("monitoring.anomalyThreshold"), "number between 1 and 1000");
  EXPECT_EQ(Config::rule("monitoring.anomalyWindow"), "integer between 30 and 10080 (bars)");
}

TEST(ConfigV080, FeatureSetOutsideOneToTwoIsRefused) {
  for (int v : {0, 3, -1}) {
    Caught e = capture([&] { Config::effective(json{{"features.featureSet", v}}); });
    ASSERT_TRUE(e.thrown) << v;
    EXPECT_EQ(e.message, "invalid value for config key \"features.featureSet\": " + std::to_string(v));
    EXPECT_EQ(e.detail, "rule: integer between 1 and 2 (feature set version)");
    EXPECT_EQ(e.hint, "default: 1");
  }
  EXPECT_EQ(Config::get(Config::effective(json{{"features.featureSet", 2}}), "features.featureSet"), json(2));
}

TEST(ConfigV080, LeadersAreAtMostTwoDistinctSymbols) {
  const std::string k = "features.crossMarketSymbols";
  Caught e = bad_value(k, json::parse(R"(["BTCUSDT", "ETHUSDT", "SOLUSDT"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid value for config key \"features.crossMarketSymbols\": [\"BTCUSDT\",\"ETHUSDT\",\"SOLUSDT\"]");
  EXPECT_EQ(e.detail, "rule: " + Config::rule(k) + " (got 3 elements)");
  EXPECT_EQ(e.hint, "default: [\"BTCUSDT\",\"ETHUSDT\"]");
  // also when all three are configured symbols (the size rule comes before membership)
  e = capture([] { Config::effective(json{{"features.crossMarketSymbols", {"BTCUSDT", "ETHUSDT", "SOLUSDT"}}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: " + Config::rule(k) + " (got 3 elements)");

  e = bad_value(k, json::array());
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: " + Config::rule(k) + " (the array is empty)");
  e = bad_value(k, json::parse(R"(["BTCUSDT", "BTCUSDT"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: each element must be unique (element 2 \"BTCUSDT\" repeats element 1)");
  e = bad_value(k, json::parse(R"(["btcusdt"])"));
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.detail, "rule: each element must match ^[A-Z0-9]{2,20}$ (element 1 \"btcusdt\" does not)");
}

TEST(ConfigV080, ExplicitLeaderMustBeAConfiguredSymbol) {
  Caught e = capture([] { Config::effective(json{{"features.crossMarketSymbols", {"DOGEUSDT"}}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid config: features.crossMarketSymbols names \"DOGEUSDT\", which is not in symbols");
  EXPECT_EQ(e.detail,
            "rule: every features.crossMarketSymbols entry is one of the configured symbols "
            "[\"BTCUSDT\",\"ETHUSDT\",\"SOLUSDT\",\"XRPUSDT\",\"ADAUSDT\",\"HBARUSDT\"]");
  EXPECT_EQ(e.hint, "add the symbol to symbols first");

  // the second entry is checked too
  e = capture([] { Config::effective(json{{"features.crossMarketSymbols", {"BTCUSDT", "DOGEUSDT"}}}); });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid config: features.crossMarketSymbols names \"DOGEUSDT\", which is not in symbols");

  // shrinking symbols under explicit leaders: the leader that left is named
  e = capture([] {
    Config::effective(json{{"symbols", {"BTCUSDT"}}, {"features.crossMarketSymbols", {"BTCUSDT", "ETHUSDT"}}});
  });
  ASSERT_TRUE(e.thrown);
  EXPECT_EQ(e.message, "invalid config: features.crossMarketSymbols names \"ETHUSDT\", which is not in symbols");
  EXPECT_EQ(e.detail, "rule: every features.crossMarketSymbols entry is one of the configured symbols [\"BTCUSDT\"]");

  // explicit leaders that are configured symbols are accepted
  json t = Config::effective(json{{"features.crossMarketSymbols", {"SOLUSDT"}}});
  EXPECT_EQ(Config::get(t, "features.crossMarketSymbols"), json::array({"SOLUSDT"}));
  t = Config::effective(json{{"symbols", {"DOGEUSDT", "BTCUSDT"}}, {"features.crossMarketSymbols", {"DOGEUSDT"}}});
  EXPECT_EQ(Config::get(t, "features.crossMarketSymbols"), json::array({"DOGEUSDT"}));
  EXPECT_NO_THROW(Config::effective(json{{"features.crossMarketSymbols", {"BTCUSDT", "ETHUSDT"}}}));
}

TEST(ConfigV080, DefaultLeadersDoNotConstrainSymbols) {
  // the default pair is checked where feature set 2 uses it (config_market_names), not here
  json t = Config::effective(json{{"symbols", {"BTCUSDT"}}});
  EXPECT_EQ(Config::get(t, "symbols"), json::array({"BTCUSDT"}));
  EXPECT_EQ(Config::get(t, "features.crossMarketSymbols"), D("features.crossMarketSymbols"));
  EXPECT_NO_THROW(Config::effective(json{{"symbols", {"SOLUSDT", "ADAUSDT"}}}));
}

TEST(ConfigV080, AnomalyBounds) {
  for (const json& ok : {json(1), json(1000), json(1.0), json(999.5)})
    EXPECT_EQ(Config::get(Config::effective(json{{"monitoring.anomalyThreshold", ok}}), "monitoring.anomalyThreshold"), ok)
        << ok.dump();
  for (const json& bad : {json(0.999), json(1000.001), json(0), json(-5)}) {
    Caught e = capture([&] { Config::effective(json{{"monitoring.anomalyThreshold", bad}}); });
    ASSERT_TRUE(e.thrown) << bad.dump();
    EXPECT_EQ(e.message, "invalid value for config key \"monitoring.anomalyThreshold\": " + bad.dump());
    EXPECT_EQ(e.detail, "rule: number between 1 and 1000");
    EXPECT_EQ(e.hint, "default: 12");
  }
  for (int ok : {30, 10080})
    EXPECT_EQ(Config::get(Config::effective(json{{"monitoring.anomalyWindow", ok}}), "monitoring.anomalyWindow"), json(ok));
  for (const json& bad : {json(29), json(10081), json(240.5)}) {
    Caught e = capture([&] { Config::effective(json{{"monitoring.anomalyWindow", bad}}); });
    ASSERT_TRUE(e.thrown) << bad.dump();
    EXPECT_EQ(e.message, "invalid value for config key \"monitoring.anomalyWindow\": " + bad.dump());
    EXPECT_EQ(e.detail, "rule: integer between 30 and 10080 (bars)");
    EXPECT_EQ(e.hint, "default: 240");
  }
  EXPECT_EQ(Config::get(Config::effective(json{{"training.excludeAnomalies", true}}), "training.excludeAnomalies"), json(true));
  EXPECT_TRUE(capture([] { Config::effective(json{{"training.excludeAnomalies", 1}}); }).thrown);
}

TEST(ConfigIngest, BackoffBaseAtMostMax) {
  EXPECT_THROW(Config::effective(json{{"ingest.backoffBaseMs", 70000}}), cml::InvalidParameter);
  EXPECT_NO_THROW(Config::effective(json{{"ingest.backoffBaseMs", 70000}, {"ingest.backoffMaxMs", 80000}}));
}
