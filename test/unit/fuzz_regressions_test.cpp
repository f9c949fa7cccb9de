// Regression tests for the bugs found with the libFuzzer targets of fuzz/ (docs/fuzzing.md). Each
// test rebuilds the exact input that crashed (it is generated here rather than stored, since
// several are megabytes of brackets) and checks that it is now rejected by the project's error
// type with a message naming the value and the rule.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "exchange.hpp"
#include "indicators.hpp"
#include "json_text.hpp"
#include "model.hpp"
#include "options.hpp"
#include "xgb.hpp"

namespace {

namespace ex = cml::exchange;
using nlohmann::json;

std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// The depth of the crashing inputs: a million levels, 2 MB of brackets (binance-us bodies may be
// 4 MB, config values as long as a text value). nlohmann's dump() recursed once per level.
constexpr std::size_t kDeep = 1000000;

template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception of the expected type";
  return {};
}

}  // namespace

TEST(JsonText, DeepValuesAreDescribedNotDumped) {
  const json deep = json::parse(nested_arrays(kDeep));
  EXPECT_TRUE(cml::json_deeper_than(deep, cml::kMaxJsonTextDepth));
  EXPECT_EQ(cml::json_text(deep), "<array nested more than 64 levels deep>");
  const json shallow = json::parse(nested_arrays(cml::kMaxJsonTextDepth));
  EXPECT_FALSE(cml::json_deeper_than(shallow, cml::kMaxJsonTextDepth));
  EXPECT_EQ(cml::json_text(shallow), nested_arrays(cml::kMaxJsonTextDepth));
  EXPECT_EQ(cml::json_text(json::parse(R"({"a":[1,"x",null]})")), R"({"a":[1,"x",null]})");
}

// fuzz/exchange_fuzz: a binance-us candle whose open time is a deeply nested array. The message
// describing the bad element dumped it: stack overflow (ASan: stack-overflow in serializer::dump).
TEST(FuzzRegression, ExchangeDeeplyNestedOpenTime) {
  const std::string body = "[[" + nested_arrays(kDeep) + ",\"1\",\"1\",\"1\",\"1\",\"1\"]]";
  ex::ParseOptions opt;
  opt.now_ms = 1767225600000;
  const std::string msg =
      message_of<cml::DataError>([&] { ex::parse_klines(ex::Exchange::BinanceUs, body, opt); });
  EXPECT_NE(msg.find("open time (element 0) must be an integer, got array <array nested more than 64 levels deep>"),
            std::string::npos)
      << msg;
}

// fuzz/exchange_fuzz: a binance-us error body whose "code" is deeply nested (dumped into the
// ApiError's detail), and a bybit error whose retMsg is (dumped into the message).
TEST(FuzzRegression, ExchangeDeeplyNestedErrorBody) {
  ex::ParseOptions opt;
  opt.now_ms = 1767225600000;
  try {
    ex::parse_klines(ex::Exchange::BinanceUs, "{\"code\":" + nested_arrays(kDeep) + "}", opt);
    ADD_FAILURE() << "accepted";
  } catch (const ex::ApiError& e) {
    EXPECT_EQ(e.detail(), "binance-us error code <array nested more than 64 levels deep>");
  }
  const std::string msg = message_of<ex::ApiError>([&] {
    ex::parse_klines(ex::Exchange::Bybit, "{\"retCode\":10001,\"retMsg\":" + nested_arrays(kDeep) + "}", opt);
  });
  EXPECT_EQ(msg, "bybit API error: <array nested more than 64 levels deep>");
}

// fuzz/config_fuzz: a config value nested a million levels deep (ml_config_set parses the text
// and validates it); the InvalidParameter message dumped the value: stack overflow.
TEST(FuzzRegression, ConfigDeeplyNestedValue) {
  const json doc = json::parse("{\"features.rsiPeriod\":" + nested_arrays(kDeep) + "}");
  std::string msg = message_of<cml::InvalidParameter>([&] { cml::Config::effective(doc); });
  EXPECT_EQ(msg, "invalid value for config key \"features.rsiPeriod\": <array nested more than 64 levels deep>");
  msg = message_of<cml::InvalidParameter>(
      [&] { cml::Config::validate_value("symbols", json::parse(nested_arrays(kDeep))); });
  EXPECT_EQ(msg, "invalid value for config key \"symbols\": <array nested more than 64 levels deep>");
}

namespace {

// The checkpoint of an IndicatorState with small params after 10 bars (the layout of
// indicators.cpp), with every bar counter set to `bars` and the stochastic deques' bar indexes
// moved along with it: the input fuzz/indicator_state_fuzz saved with bars = INT64_MAX.
std::string checkpoint_with_bars(std::int64_t bars) {
  cml::IndicatorParams p;
  p.rsi_period = 2;
  p.macd_fast = 2;
  p.macd_slow = 3;
  p.macd_signal = 2;
  p.bb_period = 3;
  p.bb_k = 1.5;
  p.stoch_k = 3;
  p.stoch_d = 2;
  p.vol_window = 2;
  cml::IndicatorState s(p);
  for (int i = 0; i < 10; ++i) s.update(101 + i % 3, 99 - i % 2, 100 + i % 4);
  std::string b = s.serialize();
  const std::int64_t shift = bars - 10;
  auto get = [&](std::size_t off, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[off + i])) << (8 * i);
    return v;
  };
  auto set64 = [&](std::size_t off, std::int64_t v) {
    for (int i = 0; i < 8; ++i) b[off + i] = static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xFF);
  };
  std::size_t off = 6 + 40;  // magic, version, params
  auto counter = [&] {
    EXPECT_EQ(get(off, 8), 10u);
    set64(off, bars);
    off += 8;
  };
  counter();                                    // bars
  counter(), off += 5 * 8;                      // RSI
  counter(), off += 6 * 8;                      // MACD
  counter(), off += 4 + 8 * get(off, 4);        // Bollinger
  counter();                                    // stochastic
  for (int deque = 0; deque < 2; ++deque) {
    const std::uint64_t n = get(off, 4);
    off += 4;
    for (std::uint64_t k = 0; k < n; ++k, off += 16) set64(off, static_cast<std::int64_t>(get(off, 8)) + shift);
  }
  off += 4 + 8 * get(off, 4) + 8;               // %K ring, ksum
  counter(), off += 8;                          // volatility
  off += 4 + 8 * get(off, 4);
  EXPECT_EQ(off, b.size());
  return b;
}

}  // namespace

// fuzz/indicator_state_fuzz: a checkpoint claiming INT64_MAX bars was accepted, and the next update
// overflowed the int64 bar counters (UBSan: signed integer overflow in RsiState::update).
TEST(FuzzRegression, IndicatorCheckpointBarCountOverflow) {
  const std::string msg = message_of<cml::DataError>(
      [&] { cml::IndicatorState::deserialize(checkpoint_with_bars(INT64_MAX)); });
  EXPECT_EQ(msg, "indicator state: bar count 9223372036854775807 is above the limit of 9007199254740992 (rule: 0 <= bars <= 2^53)");
  // At the limit the checkpoint loads, and update refuses to go beyond it (state unchanged).
  cml::IndicatorState s = cml::IndicatorState::deserialize(checkpoint_with_bars(cml::kMaxIndicatorBars));
  EXPECT_EQ(s.bars(), cml::kMaxIndicatorBars);
  const std::string before = s.serialize();
  EXPECT_THROW(s.update(101, 99, 100), cml::DataError);
  EXPECT_EQ(s.serialize(), before);
  // One below the limit: one more bar, and its checkpoint reads back.
  cml::IndicatorState t = cml::IndicatorState::deserialize(checkpoint_with_bars(cml::kMaxIndicatorBars - 1));
  t.update(101, 99, 100);
  EXPECT_EQ(cml::IndicatorState::deserialize(t.serialize()).bars(), cml::kMaxIndicatorBars);
}

namespace {

// An XGBoost 1.7 UBJSON model with no trees whose header claims `num_feature` features, written
// the way XGBoost writes UBJSON (int64 lengths).
std::string xgb_model_claiming(const std::string& num_feature) {
  auto len = [](std::size_t n) {
    std::string s = "L";
    for (int i = 7; i >= 0; --i) s += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF);
    return s;
  };
  auto key = [&](const std::string& k) { return len(k.size()) + k; };
  auto str = [&](const std::string& v) { return "S" + len(v.size()) + v; };
  const std::string param = "{" + key("num_parallel_tree") + str("1") + key("num_trees") + str("0") +
                            key("size_leaf_vector") + str("0") + "}";
  const std::string booster = "{" + key("model") + "{" + key("gbtree_model_param") + param + key("tree_info") + "[]" +
                              key("trees") + "[]" + "}" + key("name") + str("gbtree") + "}";
  const std::string model_param = "{" + key("base_score") + str("5E-1") + key("boost_from_average") + str("1") +
                                  key("num_class") + str("0") + key("num_feature") + str(num_feature) +
                                  key("num_target") + str("1") + "}";
  const std::string objective = "{" + key("name") + str("reg:squarederror") + key("reg_loss_param") + "{" +
                                key("scale_pos_weight") + str("1") + "}" + "}";
  const std::string learner = "{" + key("attributes") + "{}" + key("feature_names") + "[]" + key("feature_types") +
                              "[]" + key("gradient_booster") + booster + key("learner_model_param") + model_param +
                              key("objective") + objective + "}";
  return "{" + key("learner") + learner + key("version") + std::string("[i\x01i\x07i\x04]", 8) + "}";
}

}  // namespace

// fuzz/xgb_model_fuzz: a 2.5 kB model whose learner_model_param.num_feature was "1073741824" made
// load() allocate a 4 GiB row (libFuzzer: out-of-memory (malloc(4294967296))); 100000000 took
// 7 GB and 20 s. num_feature is now limited to 1..1000000.
TEST(FuzzRegression, XgbModelHugeNumFeature) {
  const std::string msg = message_of<cml::DataError>([] { cml::XgbModel::load(xgb_model_claiming("1073741824")); });
  EXPECT_EQ(msg,
            "xgboost model: learner_model_param.num_feature is missing or invalid: \"1073741824\" (rule: an "
            "integer between 1 and 1000000)");
  EXPECT_THROW(cml::Model::load(cml::ModelType::xgboost, xgb_model_claiming("1000001")), cml::DataError);
  // The same bytes with a plausible width load and predict (the path the huge value reached).
  const cml::XgbModel m = cml::XgbModel::load(xgb_model_claiming("3"));
  EXPECT_EQ(m.num_features(), 3u);
  const float row[3] = {1, 2, 3};
  EXPECT_EQ(m.predict(cml::DenseMatrix{row, 1, 3}).size(), 1u);
}

// fuzz/options_fuzz: an ensemble's "weights" or member options nested a million levels deep
// ({"weights":{"a":{"a":...}}}) were copied (json's copy constructor recurses per level) before
// being checked: stack overflow. They are now checked in place first.
TEST(FuzzRegression, OptionsDeeplyNestedEnsembleValues) {
  const json config = cml::Config::effective(json());
  std::string deep_object;
  for (std::size_t i = 0; i < kDeep; ++i) deep_object += "{\"a\":";
  deep_object += "1" + std::string(kDeep, '}');
  std::string msg = message_of<cml::InvalidParameter>([&] {
    cml::parse_train_options(cml::ModelType::ensemble, config,
                             cml::parse_json_document("{\"weights\":" + deep_object + "}", "option"));
  });
  EXPECT_EQ(msg, "invalid value for config key \"inference.ensembleWeights\": <object nested more than 64 levels deep>");
  msg = message_of<cml::InvalidParameter>([&] {
    cml::parse_train_options(cml::ModelType::ensemble, config,
                             cml::parse_json_document("{\"xgboost\":" + deep_object + "}", "option"));
  });
  EXPECT_NE(msg.find("unknown option \"xgboost.a\" for model_type xgboost"), std::string::npos) << msg;
  // Member options still work, and a member's differing windowSize is still refused.
  const cml::TrainOptions o = cml::parse_train_options(
      cml::ModelType::ensemble, config, json::parse(R"({"xgboost":{"max_depth":3},"lstm":{"hiddenSize":4}})"));
  EXPECT_EQ(o.xgb.max_depth, 6);  // the ensemble's own params; the member's are in member_options
  EXPECT_NE(o.member_options[0].find("\"max_depth\":3"), std::string::npos) << o.member_options[0];
  EXPECT_THROW(cml::parse_train_options(cml::ModelType::ensemble, config,
                                        json::parse(R"({"lstm":{"windowSize":700}})")),
               cml::InvalidParameter);
}
