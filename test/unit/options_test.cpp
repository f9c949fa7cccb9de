// Unit tests of the options parser (src/core/options.hpp): every key's bounds, checks before
// narrowing, integral doubles, numbers that do not fit a double, nested ensemble member options,
// unknown keys, non-objects, and messages naming the key, the value and the rule.
#include "options.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace {

using cml::BacktestConfig;
using cml::Config;
using cml::json;
using cml::ModelType;
using cml::OptionSpec;
using cml::OptionType;
using cml::TrainOptions;

struct Caught {
  bool thrown = false;
  std::string message, detail;
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
  }
  return c;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

const json& config() { return Config::defaults(); }

TrainOptions train(ModelType t, const json& options) { return cml::parse_train_options(t, config(), options); }
Caught train_error(ModelType t, const json& options) {
  return capture([&] { (void)train(t, options); });
}
Caught train_error_text(ModelType t, const std::string& text) {
  return capture([&] { (void)train(t, cml::parse_json_document(text, "option")); });
}
BacktestConfig backtest(ModelType m, const json& options) { return cml::parse_backtest_options(options, m, 15); }
Caught backtest_error(ModelType m, const json& options) {
  return capture([&] { (void)backtest(m, options); });
}

std::string zeros(std::size_t n) { return std::string(n, '0'); }

// --- every key's bounds, in every table -------------------------------------------------------

struct Context {
  std::string label;
  const std::vector<OptionSpec>* specs;
  std::function<void(const json&)> parse;  // parses {key: value}, throwing InvalidParameter
};

std::vector<Context> contexts() {
  std::vector<Context> v;
  for (ModelType t : {ModelType::xgboost, ModelType::lstm, ModelType::ensemble})
    v.push_back({std::string("ml_train ") + cml::model_type_name(t), &cml::train_option_specs(t),
                 [t](const json& o) { (void)train(t, o); }});
  for (ModelType t : {ModelType::xgboost, ModelType::lstm, ModelType::ensemble})
    v.push_back({std::string("ml_backtest ") + cml::model_type_name(t), &cml::backtest_option_specs(t),
                 [t](const json& o) { (void)backtest(t, o); }});
  return v;
}

void expect_accepted(const Context& c, const OptionSpec& s, const json& v) {
  const Caught e = capture([&] { c.parse(json{{s.key, v}}); });
  EXPECT_FALSE(e.thrown) << c.label << ": " << s.key << " = " << v.dump() << " refused: " << e.message << " / " << e.detail;
}

void expect_out_of_range(const Context& c, const OptionSpec& s, const json& v) {
  const Caught e = capture([&] { c.parse(json{{s.key, v}}); });
  ASSERT_TRUE(e.thrown) << c.label << ": " << s.key << " = " << v.dump() << " accepted";
  EXPECT_TRUE(starts_with(e.message, "option " + s.key + " = ")) << c.label << ": " << e.message;
  EXPECT_TRUE(ends_with(e.message, " is out of range")) << c.label << ": " << e.message;
  EXPECT_EQ(e.detail, "rule: " + s.rule()) << c.label;
}

TEST(Options, EveryKeyAcceptsItsBoundsAndRefusesJustBeyond) {
  int checked = 0;
  for (const Context& c : contexts()) {
    for (const OptionSpec& s : *c.specs) {
      SCOPED_TRACE(c.label + " " + s.key);
      if (s.type == OptionType::Integer) {
        expect_accepted(c, s, json(s.imin));
        expect_accepted(c, s, json(s.imax));
        expect_out_of_range(c, s, json(s.imin - 1));
        expect_out_of_range(c, s, s.imax == std::numeric_limits<std::uint64_t>::max() ? json::parse("18446744073709551616")
                                                                                       : json(s.imax + 1));
        ++checked;
      } else if (s.type == OptionType::Number) {
        const double inf = std::numeric_limits<double>::infinity();
        if (s.min_open) {
          expect_out_of_range(c, s, json(s.dmin));
          expect_accepted(c, s, json(std::nextafter(s.dmin, inf)));
        } else {
          expect_accepted(c, s, json(s.dmin));
          expect_out_of_range(c, s, json(std::nextafter(s.dmin, -inf)));
        }
        if (!s.has_max) {
          expect_accepted(c, s, json(std::numeric_limits<double>::max()));
          expect_out_of_range(c, s, json(inf));
        } else if (s.max_open) {
          expect_out_of_range(c, s, json(s.dmax));
          expect_accepted(c, s, json(std::nextafter(s.dmax, -inf)));
        } else {
          expect_accepted(c, s, json(s.dmax));
          expect_out_of_range(c, s, json(std::nextafter(s.dmax, inf)));
        }
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 2 + 12 + 2 + 11 + 3 + 3 * 28);  // featureSet in every table
}

// The ranges and rule texts, pinned (docs/training.md and docs/trading.md list them).
TEST(Options, RulesOfEveryKey) {
  auto rules = [](const std::vector<OptionSpec>& specs) {
    std::vector<std::string> r;
    for (const OptionSpec& s : specs) r.push_back(s.rule());
    return r;
  };
  const std::vector<std::string> xgb = {
      "windowSize is an integer in [10, 10000000] (minutes; the rule of config training.windowSize)",
      "validationSplit is a finite number in (0, 1) (the rule of config training.validationSplit)",
      "earlyStoppingPatience is an integer in [1, 100000] (rounds; the rule of config training.earlyStoppingPatience)",
      "max_depth is an integer in [1, 20]",
      "eta is a finite number in (0, 1]",
      "num_rounds is an integer in [1, 100000] (an upper bound: early stopping usually ends sooner)",
      "subsample is a finite number in (0, 1]",
      "colsample_bytree is a finite number in (0, 1]",
      "min_child_weight is a finite number >= 0",
      "lambda is a finite number >= 0 (L2 regularisation)",
      "alpha is a finite number >= 0 (L1 regularisation)",
      "nthread is an integer in [1, 64]",
      "seed is an integer in [0, 18446744073709551615]",
      "featureSet is an integer in [1, 2] (the samples' feature set; default config features.featureSet)",
  };
  EXPECT_EQ(rules(cml::train_option_specs(ModelType::xgboost)), xgb);
  const std::vector<std::string> lstm = {
      "windowSize is an integer in [10, 10000000] (minutes; the rule of config training.windowSize)",
      "validationSplit is a finite number in (0, 1) (the rule of config training.validationSplit)",
      "earlyStoppingPatience is an integer in [1, 100000] (epochs; the rule of config training.earlyStoppingPatience)",
      "batchSize is an integer in [1, 1000000] (sequences; the rule of config training.batchSize)",
      "maxEpochs is an integer in [1, 100000] (the rule of config training.maxEpochs)",
      "sequenceLength is an integer in [1, 1440] (minutes per sequence)",
      "hiddenSize is an integer in [1, 1024]",
      "numLayers is an integer in [1, 2]",
      "learningRate is a finite number in (0, 1]",
      "clipNorm is a finite number > 0",
      "weightDecay is a finite number >= 0",
      "seed is an integer in [0, 18446744073709551615]",
      "featureSet is an integer in [1, 2] (the samples' feature set; default config features.featureSet)",
  };
  EXPECT_EQ(rules(cml::train_option_specs(ModelType::lstm)), lstm);
  const std::vector<std::string> ens = {
      "windowSize is an integer in [10, 10000000] (minutes; the rule of config training.windowSize)",
      "validationSplit is a finite number in (0, 1) (the rule of config training.validationSplit)",
      "weights is an object of member weights (the rule of config inference.ensembleWeights)",
      "xgboost is an object of member options (xgboost options for the member the ensemble trains)",
      "lstm is an object of member options (lstm options for the member the ensemble trains)",
      "combiner is one of \"inverse_mse\", \"stacking\" (how the ensemble weighs its members; docs/training.md, Stacking)",
      "featureSet is an integer in [1, 2] (the samples' feature set; default config features.featureSet)",
  };
  EXPECT_EQ(rules(cml::train_option_specs(ModelType::ensemble)), ens);
  const std::vector<std::string> bt = {
      "retrainEvery is an integer in [1, 52560000] (minutes per segment)",
      "windowSize is an integer in [50, 100000000] (samples per training window)",
      "validationSplit is a finite number in [0.05, 0.5]",
      "maxDepth is an integer in [1, 20]",
      "learningRate is a finite number in (0, 1] (xgboost eta)",
      "numRounds is an integer in [1, 100000]",
      "tpSigma is a finite number in (0, 100] (multiple of sigma)",
      "slSigma is a finite number in (0, 100] (multiple of sigma)",
      "feePct is a finite number in [0, 10] (percent per side)",
      "slippagePct is a finite number in [0, 10] (percent per side)",
      "minEdgePct is a finite number in [-100, 100] (percent; < 0 means the round-trip cost 2 * (feePct + slippagePct))",
      "confidenceThreshold is a finite number in [0, 100] (percent)",
      "earlyStoppingPatience is an integer in [0, 100000] (0 = off (xgboost only))",
      "sequenceLength is an integer in [1, 1440] (minutes per sequence)",
      "hiddenSize is an integer in [1, 1024]",
      "numLayers is an integer in [1, 2]",
      "lstmLearningRate is a finite number in (0, 1]",
      "maxEpochs is an integer in [1, 100000]",
      "batchSize is an integer in [1, 1000000]",
      "calibrationFolds is an integer in [1, 20] (rolling-origin folds per segment)",
      "intervalCoverage is a finite number in (0, 1) (share of outcomes the intervals cover)",
      "intervalAdaptRate is a finite number in [0, 1] (ACI gamma)",
      "skillSignificance is a finite number in (0, 0.5] (one-sided level of the skill test)",
      "calibrationWindow is an integer in [10, 10000000] (outcomes a statement reads)",
      "featureSet is an integer in [1, 2] (the samples' feature set; default config features.featureSet)",
      "excludeGroups is an array of feature group names (feature set 2 groups blanked before training and prediction)",
      "combiner is one of \"inverse_mse\", \"stacking\" (model ensemble only: how it weighs its members)",
      "warmStart is a boolean (true or false) (lstm and ensemble: each segment's networks start from the previous segment's weights)",
      "warmMaxEpochs is an integer in [1, 100000] (epochs of a warm-started network)",
      "warmPatience is an integer in [1, 100000] (patience of a warm-started network, counted from its initial weights)",
      "warmWindow is an integer in [0, 100000000] (a warm-started network's epochs train on only its newest warmWindow sequences; 0 = all)",
  };
  EXPECT_EQ(rules(cml::backtest_option_specs(ModelType::xgboost)), bt);
  EXPECT_EQ(cml::find_option(cml::backtest_option_specs(ModelType::lstm), "earlyStoppingPatience")->rule(),
            "earlyStoppingPatience is an integer in [1, 100000] (0 = off is for xgboost only)");
}

// The training.* keys keep the config's rules: the option bounds are the config bounds.
TEST(Options, TrainingKeysMatchTheirConfigRules) {
  for (ModelType t : {ModelType::xgboost, ModelType::lstm})
    for (const OptionSpec& s : cml::train_option_specs(t)) {
      const std::string path = "training." + s.key;
      if (!Config::is_key(path)) continue;
      SCOPED_TRACE(path);
      if (s.type == OptionType::Integer) {
        EXPECT_EQ(Config::rule(path).rfind("integer between " + std::to_string(s.imin) + " and " + std::to_string(s.imax), 0), 0u)
            << Config::rule(path);
      } else {
        EXPECT_EQ(Config::rule(path), "number strictly between 0 and 1");
        EXPECT_TRUE(s.min_open && s.max_open && s.dmin == 0 && s.dmax == 1);
      }
    }
}

// --- narrowing --------------------------------------------------------------------------------

TEST(Options, HugeIntegersAreOutOfRangeNotWrapped) {
  Caught e = train_error(ModelType::xgboost, json{{"max_depth", 4294967302ULL}});  // 2^32 + 6: was depth 6
  EXPECT_EQ(e.message, "option max_depth = 4294967302 is out of range");
  EXPECT_EQ(e.detail, "rule: max_depth is an integer in [1, 20]");
  e = train_error(ModelType::xgboost, json{{"num_rounds", 4294967297ULL}});  // 2^32 + 1: was 1 round
  EXPECT_EQ(e.message, "option num_rounds = 4294967297 is out of range");
  EXPECT_EQ(e.detail, "rule: num_rounds is an integer in [1, 100000] (an upper bound: early stopping usually ends sooner)");
  e = backtest_error(ModelType::xgboost, json{{"maxDepth", 2147483648LL}});  // was "must be integers"
  EXPECT_EQ(e.message, "option maxDepth = 2147483648 is out of range");
  EXPECT_EQ(e.detail, "rule: maxDepth is an integer in [1, 20]");
  e = train_error(ModelType::lstm, json{{"hiddenSize", -1}});
  EXPECT_EQ(e.message, "option hiddenSize = -1 is out of range");
  EXPECT_EQ(e.detail, "rule: hiddenSize is an integer in [1, 1024]");
  e = train_error(ModelType::xgboost, json{{"max_depth", -1}});
  EXPECT_EQ(e.message, "option max_depth = -1 is out of range");
  e = train_error(ModelType::xgboost, json{{"seed", -1}});
  EXPECT_EQ(e.message, "option seed = -1 is out of range");
  e = train_error(ModelType::lstm, json{{"windowSize", 4294967896ULL}});  // 2^32 + 600
  EXPECT_EQ(e.message, "option windowSize = 4294967896 is out of range");
  e = train_error(ModelType::xgboost, json{{"max_depth", std::numeric_limits<std::int64_t>::min()}});
  EXPECT_EQ(e.message, "option max_depth = -9223372036854775808 is out of range");
  e = train_error_text(ModelType::xgboost, "{\"max_depth\": 18446744073709551615}");
  EXPECT_EQ(e.message, "option max_depth = 18446744073709551615 is out of range");
  e = train_error_text(ModelType::xgboost, "{\"max_depth\": 100000000000000000000}");  // beyond uint64: a double
  EXPECT_EQ(e.message, "option max_depth = 1e+20 is out of range");
  e = train_error_text(ModelType::xgboost, "{\"max_depth\": -100000000000000000000}");
  EXPECT_EQ(e.message, "option max_depth = -1e+20 is out of range");
}

TEST(Options, IntegralDoublesAreIntegers) {
  EXPECT_EQ(train(ModelType::xgboost, json::parse("{\"max_depth\": 6.0}")).xgb.max_depth, 6);
  EXPECT_EQ(train(ModelType::xgboost, json::parse("{\"num_rounds\": 1e3}")).xgb.num_rounds, 1000);
  EXPECT_EQ(train(ModelType::lstm, json::parse("{\"windowSize\": 700.0}")).window, 700);
  EXPECT_EQ(backtest(ModelType::xgboost, json::parse("{\"maxDepth\": 6.0}")).xgb.max_depth, 6);
  EXPECT_EQ(train(ModelType::lstm, json::parse("{\"seed\": 9007199254740992.0}")).lstm.seed, 9007199254740992ULL);

  Caught e = train_error(ModelType::xgboost, json::parse("{\"max_depth\": 6.5}"));
  EXPECT_EQ(e.message, "option max_depth must be an integer, got 6.5");
  EXPECT_EQ(e.detail, "rule: max_depth is an integer in [1, 20]");
  e = backtest_error(ModelType::xgboost, json::parse("{\"numRounds\": 2.5}"));
  EXPECT_EQ(e.message, "option numRounds must be an integer, got 2.5");
  e = train_error(ModelType::xgboost, json::parse("{\"seed\": 18446744073709551616.0}"));  // 2^64
  EXPECT_EQ(e.message, "option seed = 18446744073709551616 is out of range");  // the double 2^64, shortest text
}

TEST(Options, SeedTakesTheWholeUint64Range) {
  EXPECT_EQ(train(ModelType::xgboost, json::parse("{\"seed\": 18446744073709551615}")).xgb.seed,
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(train(ModelType::lstm, json{{"seed", 0}}).lstm.seed, 0u);
}

// --- numbers that are not finite, strings that look like numbers ------------------------------

TEST(Options, NumbersMustBeFinite) {
  Caught e = train_error(ModelType::xgboost, json{{"eta", std::nan("")}});
  EXPECT_EQ(e.message, "option eta = NaN is out of range");
  EXPECT_EQ(e.detail, "rule: eta is a finite number in (0, 1]");
  e = train_error(ModelType::xgboost, json{{"lambda", std::numeric_limits<double>::infinity()}});
  EXPECT_EQ(e.message, "option lambda = Infinity is out of range");
  e = train_error(ModelType::xgboost, json{{"max_depth", -std::numeric_limits<double>::infinity()}});
  EXPECT_EQ(e.message, "option max_depth = -Infinity is out of range");
}

TEST(Options, NanLikeStringsAreNotNumbers) {
  for (const char* s : {"NaN", "nan", "Infinity", "-Infinity", "inf", "1e400", "6"}) {
    SCOPED_TRACE(s);
    Caught e = train_error(ModelType::xgboost, json{{"eta", s}});
    EXPECT_EQ(e.message, std::string("option eta must be a number, got \"") + s + "\"");
    EXPECT_EQ(e.detail, "rule: eta is a finite number in (0, 1]");
    e = train_error(ModelType::lstm, json{{"hiddenSize", s}});
    EXPECT_EQ(e.message, std::string("option hiddenSize must be an integer, got \"") + s + "\"");
  }
  // NaN and Infinity are no JSON at all
  for (const char* text : {"{\"eta\": NaN}", "{\"eta\": Infinity}", "{\"eta\": -Infinity}"}) {
    const Caught e = train_error_text(ModelType::xgboost, text);
    ASSERT_TRUE(e.thrown) << text;
    EXPECT_TRUE(starts_with(e.message, "invalid JSON for option eta at byte ")) << e.message;
    EXPECT_TRUE(starts_with(e.detail, "rule: the text must be a single JSON value (RFC 8259); last read: ")) << e.detail;
  }
  EXPECT_EQ(train_error(ModelType::xgboost, json{{"eta", true}}).message, "option eta must be a number, got true");
  EXPECT_EQ(train_error(ModelType::xgboost, json{{"eta", nullptr}}).message, "option eta must be a number, got null");
}

// --- numbers that do not fit a double (parse_json_document) -----------------------------------

TEST(Options, NumberBeyondADoubleAsPostgresPrintsIt) {
  const std::string big = "1" + zeros(400);  // jsonb keeps 1e400 exactly and prints it so
  Caught e = train_error_text(ModelType::xgboost, "{\"max_depth\": " + big + "}");
  EXPECT_EQ(e.message, "option max_depth = 1" + zeros(59) + "... (401 characters) is out of range");
  EXPECT_EQ(e.detail, "rule: numbers must fit a double (|x| <= 1.8e308); the number starts at byte 15");
  EXPECT_LT(e.message.size() + e.detail.size(), 200u);
  e = train_error_text(ModelType::xgboost, "{\"num_rounds\": -" + big + "}");
  EXPECT_EQ(e.message, "option num_rounds = -1" + zeros(58) + "... (402 characters) is out of range");
  EXPECT_EQ(e.detail, "rule: numbers must fit a double (|x| <= 1.8e308); the number starts at byte 16");
}

TEST(Options, NumberBeyondADoubleInExponentForm) {
  Caught e = train_error_text(ModelType::xgboost, "{\"eta\": 1e400}");
  EXPECT_EQ(e.message, "option eta = 1e400 is out of range");
  EXPECT_EQ(e.detail, "rule: numbers must fit a double (|x| <= 1.8e308); the number starts at byte 9");
  e = train_error_text(ModelType::xgboost, "{\"eta\": -1e400}");
  EXPECT_EQ(e.message, "option eta = -1e400 is out of range");
  e = train_error_text(ModelType::ensemble, "{\"lstm\": {\"learningRate\": 0.1, \"clipNorm\": -1e400}}");
  EXPECT_EQ(e.message, "option lstm.clipNorm = -1e400 is out of range");
  EXPECT_EQ(e.detail, "rule: numbers must fit a double (|x| <= 1.8e308); the number starts at byte 44");
  e = train_error_text(ModelType::ensemble, "{\"weights\": {\"xgboost\": 1e400}}");
  EXPECT_EQ(e.message, "option weights.xgboost = 1e400 is out of range");
  // array elements, the whole document, a config key
  e = capture([] { (void)cml::parse_json_document("{\"a\": [1, {\"b\": 2}, 1e999]}", "option"); });
  EXPECT_EQ(e.message, "option a[2] = 1e999 is out of range");
  e = capture([] { (void)cml::parse_json_document("[[1], [2, -1e400]]", "option"); });
  EXPECT_EQ(e.message, "option [1][1] = -1e400 is out of range");
  e = capture([] { (void)cml::parse_json_document("1e400", "option"); });
  EXPECT_EQ(e.message, "option (the whole document) = 1e400 is out of range");
  EXPECT_EQ(e.detail, "rule: numbers must fit a double (|x| <= 1.8e308); the number starts at byte 1");
  e = capture([] { (void)cml::parse_json_document("1" + zeros(400), "config key", "features.rsiPeriod"); });
  EXPECT_EQ(e.message, "config key features.rsiPeriod = 1" + zeros(59) + "... (401 characters) is out of range");
  e = capture([] { (void)cml::parse_json_document("{\"xgboost\": 1e400}", "config key", "inference.ensembleWeights"); });
  EXPECT_EQ(e.message, "config key inference.ensembleWeights.xgboost = 1e400 is out of range");
}

TEST(Options, DocumentParserKeepsValidDocumentsAndSmallNumbers) {
  const json j = cml::parse_json_document("{\"a\": [1, 2.5, -3, 1e-400, 1.7e308, 18446744073709551615], \"b\": {\"c\": null}}", "option");
  EXPECT_EQ(j.at("a").size(), 6u);
  EXPECT_TRUE(j.at("a")[5].is_number_unsigned());
  EXPECT_EQ(j.at("a")[3].get<double>(), 0.0);  // underflow is 0, not an error
  EXPECT_TRUE(j.at("b").at("c").is_null());
}

TEST(Options, SyntaxErrorsNameThePlaceAndEchoLittle) {
  Caught e = capture([] { (void)cml::parse_json_document("{\"eta\": tru}", "option"); });
  EXPECT_EQ(e.message, "invalid JSON for option eta at byte 12: syntax error while parsing value - invalid literal");
  EXPECT_TRUE(starts_with(e.detail, "rule: the text must be a single JSON value (RFC 8259); last read: '")) << e.detail;
  const std::string longtext = "{\"k\": \"" + std::string(5000, 'x');  // an unterminated string
  e = capture([&] { (void)cml::parse_json_document(longtext, "option"); });
  ASSERT_TRUE(e.thrown);
  EXPECT_TRUE(starts_with(e.message, "invalid JSON for option k at byte ")) << e.message;
  EXPECT_LT(e.message.size() + e.detail.size(), 400u);
  e = capture([] { (void)cml::parse_json_document("", "option"); });
  EXPECT_TRUE(starts_with(e.message, "invalid JSON for option (the whole document) at byte ")) << e.message;
}

// --- unknown keys, non-objects, types -----------------------------------------------------------

TEST(Options, UnknownKeysListTheValidOnes) {
  Caught e = train_error(ModelType::xgboost, json{{"windowsize", 600}});
  EXPECT_EQ(e.message, "unknown option \"windowsize\" for model_type xgboost");
  EXPECT_EQ(e.detail, "rule: options keys are windowSize, validationSplit, earlyStoppingPatience, max_depth, eta, num_rounds, "
                      "subsample, colsample_bytree, min_child_weight, lambda, alpha, nthread, seed, featureSet");
  e = train_error(ModelType::lstm, json{{"max_depth", 3}});
  EXPECT_EQ(e.message, "unknown option \"max_depth\" for model_type lstm");
  EXPECT_EQ(e.detail, "rule: options keys are windowSize, validationSplit, earlyStoppingPatience, batchSize, maxEpochs, "
                      "sequenceLength, hiddenSize, numLayers, learningRate, clipNorm, weightDecay, seed, featureSet");
  e = train_error(ModelType::ensemble, json{{"eta", 0.1}});
  EXPECT_EQ(e.message, "unknown option \"eta\" for model_type ensemble");
  EXPECT_EQ(e.detail, "rule: options keys are windowSize, validationSplit, weights, xgboost, lstm, combiner, featureSet");
  e = train_error(ModelType::xgboost, json{{"batchSize", 10}});  // an lstm key
  EXPECT_EQ(e.message, "unknown option \"batchSize\" for model_type xgboost");
  e = backtest_error(ModelType::xgboost, json{{"retrain", 60}});
  EXPECT_EQ(e.message, "unknown option \"retrain\" for ml_backtest");
  EXPECT_EQ(e.detail, "rule: options keys are retrainEvery, windowSize, validationSplit, maxDepth, learningRate, numRounds, "
                      "tpSigma, slSigma, feePct, slippagePct, minEdgePct, confidenceThreshold, earlyStoppingPatience, "
                      "sequenceLength, hiddenSize, numLayers, lstmLearningRate, maxEpochs, batchSize, calibrationFolds, intervalCoverage, "
            "intervalAdaptRate, skillSignificance, calibrationWindow, featureSet, excludeGroups, combiner, warmStart, warmMaxEpochs, warmPatience, "
            "warmWindow");
  e = train_error(ModelType::xgboost, json{{std::string(500, 'k'), 1}});
  EXPECT_EQ(e.message, "unknown option \"" + std::string(60, 'k') + "...\" for model_type xgboost");
}

TEST(Options, OptionsMustBeAnObject) {
  EXPECT_EQ(train_error(ModelType::xgboost, json::array({1, 2})).message, "options must be a JSON object, got [1,2]");
  EXPECT_EQ(train_error(ModelType::lstm, json(3)).message, "options must be a JSON object, got 3");
  EXPECT_EQ(train_error(ModelType::ensemble, json("x")).message, "options must be a JSON object, got \"x\"");
  EXPECT_EQ(backtest_error(ModelType::xgboost, json(nullptr)).message, "options must be a JSON object, got null");
  EXPECT_EQ(train_error(ModelType::xgboost, json(std::string(1000, 'y'))).message,
            "options must be a JSON object, got \"" + std::string(59, 'y') + "...");
}

TEST(Options, WrongTypesNameKeyValueAndRule) {
  Caught e = train_error(ModelType::lstm, json{{"hiddenSize", "big"}});
  EXPECT_EQ(e.message, "option hiddenSize must be an integer, got \"big\"");
  EXPECT_EQ(e.detail, "rule: hiddenSize is an integer in [1, 1024]");
  e = train_error(ModelType::xgboost, json{{"subsample", json::array()}});
  EXPECT_EQ(e.message, "option subsample must be a number, got []");
  e = train_error(ModelType::ensemble, json{{"xgboost", 3}});
  EXPECT_EQ(e.message, "option xgboost must be an object of member options, got 3");
  e = train_error(ModelType::ensemble, json{{"weights", "equal"}});
  EXPECT_EQ(e.message, "option weights must be an object of member weights, got \"equal\"");
  e = train_error(ModelType::xgboost, json{{"eta", std::string(500, 'z')}});
  EXPECT_EQ(e.message, "option eta must be a number, got \"" + std::string(59, 'z') + "...");
}

// --- ml_train: defaults, config rules, validate(), the ensemble ----------------------------------

TEST(Options, TrainDefaultsComeFromTheConfig) {
  const TrainOptions x = train(ModelType::xgboost, json::object());
  EXPECT_EQ(x.window, 600);
  EXPECT_DOUBLE_EQ(x.split, 0.2);
  EXPECT_EQ(x.xgb.early_stopping_rounds, 10);
  EXPECT_EQ(x.xgb.max_depth, cml::XgbParams().max_depth);
  EXPECT_FALSE(x.weights_set);
  EXPECT_TRUE(x.member_options[0].empty());
  const TrainOptions l = train(ModelType::lstm, json{{"batchSize", 64}, {"maxEpochs", 7}, {"earlyStoppingPatience", 3},
                                                      {"learningRate", 0.01}, {"seed", 5}});
  EXPECT_EQ(l.lstm.batch_size, 64);
  EXPECT_EQ(l.lstm.max_epochs, 7);
  EXPECT_EQ(l.lstm.patience, 3);
  EXPECT_DOUBLE_EQ(l.lstm.learning_rate, 0.01);
  EXPECT_EQ(l.lstm.seed, 5u);

  json overrides = {{"training.windowSize", 900}, {"inference.ensembleWeights", {{"xgboost", 1}, {"lstm", 3}}}};
  const TrainOptions e = cml::parse_train_options(ModelType::ensemble, Config::effective(overrides), json::object());
  EXPECT_EQ(e.window, 900);
  EXPECT_TRUE(e.weights_set);
  EXPECT_DOUBLE_EQ(e.weights[0], 1);
  EXPECT_DOUBLE_EQ(e.weights[1], 3);
}

TEST(Options, TrainingKeysStillPassTheirConfigRule) {
  const Caught e = train_error(ModelType::lstm, json{{"batchSize", 0}});
  EXPECT_EQ(e.message, "option batchSize = 0 is out of range");
  EXPECT_EQ(e.detail, "rule: batchSize is an integer in [1, 1000000] (sequences; the rule of config training.batchSize)");
  EXPECT_EQ(train_error(ModelType::xgboost, json{{"validationSplit", 1}}).message, "option validationSplit = 1 is out of range");
}

TEST(Options, EnsembleMemberOptions) {
  const TrainOptions e = train(ModelType::ensemble, json::parse(
      "{\"windowSize\": 800, \"xgboost\": {\"max_depth\": 4.0}, \"lstm\": {\"hiddenSize\": 8, \"windowSize\": 800}}"));
  EXPECT_EQ(e.window, 800);
  const json xo = json::parse(e.member_options[0]), lo = json::parse(e.member_options[1]);
  EXPECT_EQ(xo, json::parse("{\"max_depth\": 4.0, \"windowSize\": 800, \"validationSplit\": 0.2, \"featureSet\": 1}"));
  EXPECT_EQ(lo, json::parse("{\"hiddenSize\": 8, \"windowSize\": 800, \"validationSplit\": 0.2, \"featureSet\": 1}"));
  EXPECT_EQ(train(ModelType::xgboost, xo).xgb.max_depth, 4);  // what the member's own ml_train call reads

  Caught c = train_error(ModelType::ensemble, json{{"xgboost", {{"max_depth", 4294967302ULL}}}});
  EXPECT_EQ(c.message, "option xgboost.max_depth = 4294967302 is out of range");
  EXPECT_EQ(c.detail, "rule: max_depth is an integer in [1, 20]");
  c = train_error(ModelType::ensemble, json{{"lstm", {{"numLayers", 3}}}});
  EXPECT_EQ(c.message, "option lstm.numLayers = 3 is out of range");
  c = train_error(ModelType::ensemble, json{{"lstm", {{"hiddenSize", 6.5}}}});
  EXPECT_EQ(c.message, "option lstm.hiddenSize must be an integer, got 6.5");
  c = train_error(ModelType::ensemble, json{{"lstm", {{"eta", 0.1}}}});
  EXPECT_EQ(c.message, "unknown option \"lstm.eta\" for model_type lstm");
  c = train_error(ModelType::ensemble, json{{"lstm", {{"windowSize", 2000}}}});
  EXPECT_EQ(c.message, "option lstm.windowSize = 2000 differs from the ensemble's windowSize (600)");
  c = train_error(ModelType::ensemble, json{{"xgboost", {{"validationSplit", 0.3}}}});
  EXPECT_EQ(c.message, "option xgboost.validationSplit = 0.3 differs from the ensemble's validationSplit (0.2)");
  c = train_error(ModelType::ensemble, json{{"weights", {{"xgboost", -1}, {"lstm", 1}}}});
  EXPECT_TRUE(contains(c.message, "ensembleWeights")) << c.message;
  c = train_error_text(ModelType::ensemble, "{\"xgboost\": {\"max_depth\": 1" + zeros(400) + "}}");
  EXPECT_EQ(c.message, "option xgboost.max_depth = 1" + zeros(59) + "... (401 characters) is out of range");
}

// featureSet: config features.featureSet unless the option says otherwise; an ensemble's members
// read the ensemble's set.
TEST(Options, FeatureSet) {
  EXPECT_EQ(train(ModelType::xgboost, json::object()).feature_set, 1);
  EXPECT_EQ(train(ModelType::lstm, json{{"featureSet", 2}}).feature_set, 2);
  const TrainOptions c = cml::parse_train_options(ModelType::xgboost, Config::effective(json{{"features.featureSet", 2}}), json::object());
  EXPECT_EQ(c.feature_set, 2);
  EXPECT_EQ(cml::parse_train_options(ModelType::xgboost, Config::effective(json{{"features.featureSet", 2}}), json{{"featureSet", 1}})
                .feature_set, 1);
  Caught e = train_error(ModelType::xgboost, json{{"featureSet", 3}});
  EXPECT_EQ(e.message, "option featureSet = 3 is out of range");
  EXPECT_EQ(e.detail, "rule: featureSet is an integer in [1, 2] (the samples' feature set; default config features.featureSet)");
  EXPECT_EQ(train_error(ModelType::xgboost, json{{"featureSet", 0}}).message, "option featureSet = 0 is out of range");
  EXPECT_EQ(train_error(ModelType::xgboost, json{{"featureSet", "2"}}).message, "option featureSet must be an integer, got \"2\"");
  const TrainOptions en = train(ModelType::ensemble, json{{"featureSet", 2}});
  EXPECT_EQ(en.feature_set, 2);
  EXPECT_EQ(json::parse(en.member_options[0]).at("featureSet"), 2);
  EXPECT_EQ(json::parse(en.member_options[1]).at("featureSet"), 2);
  e = train_error(ModelType::ensemble, json{{"featureSet", 2}, {"lstm", {{"featureSet", 1}}}});
  EXPECT_EQ(e.message, "option lstm.featureSet = 1 differs from the ensemble's featureSet (2)");
  // backtests: the keys are known; excludeGroups must be an array of strings (names: excluded_columns)
  EXPECT_NO_THROW(backtest(ModelType::xgboost, json{{"featureSet", 2}, {"excludeGroups", {"volatility"}}}));
  e = backtest_error(ModelType::xgboost, json{{"excludeGroups", "volatility"}});
  EXPECT_EQ(e.message, "option excludeGroups must be an array of feature group names, got \"volatility\"");
  EXPECT_EQ(e.detail, "rule: excludeGroups is an array of feature group names (feature set 2 groups blanked before training and prediction)");
  EXPECT_EQ(backtest_error(ModelType::xgboost, json{{"excludeGroups", {1}}}).message,
            "option excludeGroups must be an array of feature group names, got [1]");
  EXPECT_EQ(backtest_error(ModelType::xgboost, json{{"featureSet", 3}}).message, "option featureSet = 3 is out of range");
}

// --- ml_backtest ----------------------------------------------------------------------------------

TEST(Options, BacktestReadsEveryKey) {
  // the object ml_backtest resolves from its defaults
  const json p = json::parse(R"({"retrainEvery": 400, "windowSize": 800, "validationSplit": 0.25, "maxDepth": 4,
    "learningRate": 0.2, "numRounds": 40, "tpSigma": 2.5, "slSigma": 1.5, "feePct": 0.1, "slippagePct": 0.05,
    "minEdgePct": 0, "confidenceThreshold": 60, "earlyStoppingPatience": 10, "sequenceLength": 20, "hiddenSize": 16,
    "numLayers": 2, "lstmLearningRate": 0.002, "maxEpochs": 5, "batchSize": 128})");
  const BacktestConfig c = cml::parse_backtest_options(p, ModelType::ensemble, 5);
  EXPECT_EQ(c.horizon, 5);
  EXPECT_EQ(c.model, ModelType::ensemble);
  EXPECT_EQ(c.retrain_every, 400);
  EXPECT_EQ(c.window, 800);
  EXPECT_DOUBLE_EQ(c.validation_split, 0.25);
  EXPECT_EQ(c.xgb.max_depth, 4);
  EXPECT_DOUBLE_EQ(c.xgb.eta, 0.2);
  EXPECT_EQ(c.xgb.num_rounds, 40);
  EXPECT_DOUBLE_EQ(c.rule.tp_sigma, 2.5);
  EXPECT_DOUBLE_EQ(c.rule.sl_sigma, 1.5);
  EXPECT_DOUBLE_EQ(c.costs.fee_pct, 0.1);
  EXPECT_DOUBLE_EQ(c.costs.slippage_pct, 0.05);
  EXPECT_DOUBLE_EQ(c.min_edge_pct, 0);
  EXPECT_DOUBLE_EQ(c.min_confidence, 60);
  EXPECT_EQ(c.xgb.early_stopping_rounds, 10);
  EXPECT_EQ(c.lstm.patience, 10);
  EXPECT_EQ(c.lstm.sequence_length, 20);
  EXPECT_EQ(c.lstm.hidden_size, 16);
  EXPECT_EQ(c.lstm.num_layers, 2);
  EXPECT_DOUBLE_EQ(c.lstm.learning_rate, 0.002);
  EXPECT_EQ(c.lstm.max_epochs, 5);
  EXPECT_EQ(c.lstm.batch_size, 128);
  // keys not given keep BacktestConfig's defaults
  const BacktestConfig d = backtest(ModelType::xgboost, json::object());
  EXPECT_EQ(d.window, BacktestConfig().window);
  EXPECT_DOUBLE_EQ(d.min_edge_pct, BacktestConfig().min_edge_pct);
}

// Warm-started lstm backtests (backtest.hpp, "Warm start"): the three keys, their types and ranges.
TEST(Options, BacktestWarmStart) {
  const BacktestConfig d = backtest(ModelType::lstm, json::object());
  EXPECT_EQ(d.warm_start, BacktestConfig().warm_start);
  EXPECT_EQ(d.warm_max_epochs, 2);
  EXPECT_EQ(d.warm_patience, 1);
  for (ModelType t : {ModelType::lstm, ModelType::ensemble}) {
    const BacktestConfig c = backtest(t, json{{"warmStart", true}, {"warmMaxEpochs", 5}, {"warmPatience", 2.0}});
    EXPECT_TRUE(c.warm_start);
    EXPECT_EQ(c.warm_max_epochs, 5);
    EXPECT_EQ(c.warm_patience, 2);
    EXPECT_FALSE(backtest(t, json{{"warmStart", false}}).warm_start);
  }
  Caught e = backtest_error(ModelType::lstm, json{{"warmStart", "yes"}});
  EXPECT_EQ(e.message, "option warmStart must be a boolean, got \"yes\"");
  EXPECT_EQ(e.detail, "rule: warmStart is a boolean (true or false) (lstm and ensemble: each segment's networks start from the previous segment's weights)");
  EXPECT_EQ(backtest_error(ModelType::lstm, json{{"warmStart", 1}}).message, "option warmStart must be a boolean, got 1");
  e = backtest_error(ModelType::lstm, json{{"warmMaxEpochs", 0}});
  EXPECT_EQ(e.message, "option warmMaxEpochs = 0 is out of range");
  EXPECT_EQ(e.detail, "rule: warmMaxEpochs is an integer in [1, 100000] (epochs of a warm-started network)");
  EXPECT_EQ(backtest_error(ModelType::ensemble, json{{"warmPatience", 1.5}}).message, "option warmPatience must be an integer, got 1.5");
  EXPECT_EQ(backtest_error(ModelType::lstm, json{{"warmPatience", 4294967297LL}}).message, "option warmPatience = 4294967297 is out of range");
  // an xgboost backtest has no network to start warm: true is refused, false is the same run
  e = backtest_error(ModelType::xgboost, json{{"warmStart", true}});
  EXPECT_EQ(e.message, "option warmStart = true is for model_type lstm or ensemble, not xgboost");
  EXPECT_FALSE(backtest(ModelType::xgboost, json{{"warmStart", false}}).warm_start);
  EXPECT_EQ(backtest_error(ModelType::lstm, json{{"warmstart", true}}).message, "unknown option \"warmstart\" for ml_backtest");
}

// warmWindow: a warm-started network's epochs over only its newest sequences (2880 by default; 0 = all).
TEST(Options, BacktestWarmWindow) {
  EXPECT_EQ(backtest(ModelType::lstm, json::object()).warm_window, 2880);
  EXPECT_EQ(BacktestConfig().warm_window, 2880);
  for (ModelType t : {ModelType::lstm, ModelType::ensemble}) {
    EXPECT_EQ(backtest(t, json{{"warmWindow", 2880}}).warm_window, 2880);
    EXPECT_EQ(backtest(t, json{{"warmWindow", 0}}).warm_window, 0);
    EXPECT_EQ(backtest(t, json{{"warmWindow", 100000000}}).warm_window, 100000000);
  }
  Caught e = backtest_error(ModelType::lstm, json{{"warmWindow", -1}});
  EXPECT_EQ(e.message, "option warmWindow = -1 is out of range");
  EXPECT_EQ(e.detail, "rule: warmWindow is an integer in [0, 100000000] (a warm-started network's epochs train on only its "
                      "newest warmWindow sequences; 0 = all)");
  EXPECT_EQ(backtest_error(ModelType::lstm, json{{"warmWindow", 100000001}}).message, "option warmWindow = 100000001 is out of range");
  EXPECT_EQ(backtest_error(ModelType::ensemble, json{{"warmWindow", 2.5}}).message, "option warmWindow must be an integer, got 2.5");
  EXPECT_EQ(backtest_error(ModelType::lstm, json{{"warmWindow", "all"}}).message, "option warmWindow must be an integer, got \"all\"");
  // as warmMaxEpochs, checked whatever the model type (an xgboost backtest has no network to limit)
  EXPECT_EQ(backtest(ModelType::xgboost, json{{"warmWindow", 1000}}).warm_window, 1000);
  EXPECT_EQ(backtest_error(ModelType::xgboost, json{{"warmWindow", -5}}).message, "option warmWindow = -5 is out of range");
}

TEST(Options, BacktestCostsAreCheckedBeforeTheRun) {
  Caught e = backtest_error(ModelType::xgboost, json{{"feePct", 1e308}});  // failed only after the run
  EXPECT_EQ(e.message, "option feePct = 1e+308 is out of range");
  EXPECT_EQ(e.detail, "rule: feePct is a finite number in [0, 10] (percent per side)");
  e = backtest_error(ModelType::xgboost, json{{"feePct", -0.1}});
  EXPECT_EQ(e.message, "option feePct = -0.1 is out of range");
  e = backtest_error(ModelType::xgboost, json{{"slippagePct", 10.5}});
  EXPECT_EQ(e.message, "option slippagePct = 10.5 is out of range");
  e = backtest_error(ModelType::xgboost, json{{"confidenceThreshold", 101}});
  EXPECT_EQ(e.message, "option confidenceThreshold = 101 is out of range");
  e = backtest_error(ModelType::lstm, json{{"sequenceLength", 0}});
  EXPECT_EQ(e.message, "option sequenceLength = 0 is out of range");
  e = backtest_error(ModelType::xgboost, json{{"tpSigma", 1e300}});
  EXPECT_EQ(e.message, "option tpSigma = 1e+300 is out of range");
  e = capture([] { (void)backtest(ModelType::xgboost, cml::parse_json_document("{\"tpSigma\": 1" + zeros(400) + "}", "option")); });
  EXPECT_EQ(e.message, "option tpSigma = 1" + zeros(59) + "... (401 characters) is out of range");
}

TEST(Options, BacktestPatienceZeroIsForXgboostOnly) {
  EXPECT_EQ(backtest(ModelType::xgboost, json{{"earlyStoppingPatience", 0}}).xgb.early_stopping_rounds, 0);
  for (ModelType m : {ModelType::lstm, ModelType::ensemble}) {
    const Caught e = backtest_error(m, json{{"earlyStoppingPatience", 0}});
    EXPECT_EQ(e.message, "option earlyStoppingPatience = 0 is out of range");
    EXPECT_EQ(e.detail, "rule: earlyStoppingPatience is an integer in [1, 100000] (0 = off is for xgboost only)");
  }
}

// --- the single-value checkers ----------------------------------------------------------------

TEST(Options, SingleValueCheckers) {
  OptionSpec flag;
  flag.key = "enabled";
  flag.type = OptionType::Boolean;
  EXPECT_TRUE(cml::option_bool(flag, json(true), "enabled"));
  Caught e = capture([&] { (void)cml::option_bool(flag, json(1), "enabled"); });
  EXPECT_EQ(e.message, "option enabled must be a boolean, got 1");
  EXPECT_EQ(e.detail, "rule: enabled is a boolean (true or false)");
  const OptionSpec* depth = cml::find_option(cml::train_option_specs(ModelType::xgboost), "max_depth");
  ASSERT_NE(depth, nullptr);
  EXPECT_EQ(cml::option_int(*depth, json(20), "max_depth"), 20);
  EXPECT_EQ(cml::option_int(*depth, json(1.0), "max_depth"), 1);
  EXPECT_THROW((void)cml::option_int(*depth, json(21), "max_depth"), cml::InvalidParameter);
  EXPECT_THROW((void)cml::option_number(*depth, json(1), "max_depth"), std::logic_error);  // not a number option
  EXPECT_EQ(cml::find_option(cml::train_option_specs(ModelType::xgboost), "nope"), nullptr);
}

}  // namespace
