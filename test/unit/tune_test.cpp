// Unit tests of the hyperparameter search (src/core/tune.hpp): the space and its restriction,
// the sampler, the halving plan, out-of-fold scoring and bad input.
#include "tune.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "honest.hpp"

namespace {

using cml::json;
using cml::ModelType;
using cml::TuneOptions;
using cml::TuneSearch;
using cml::TrialSpec;

const json& config() {
  static const json c = cml::Config::effective(json::object());
  return c;
}

template <typename F>
std::string error_of(F&& f, std::string* detail = nullptr) {
  try {
    f();
  } catch (const cml::InvalidParameter& e) {
    if (detail) *detail = e.detail();
    return e.what();
  }
  return "(no error)";
}

TEST(TuneSpace, EverySampledValuePassesTheTrainOptionSpecs) {
  for (ModelType t : {ModelType::xgboost, ModelType::lstm}) {
    const TuneOptions o = cml::parse_tune_options(t, 30, config(), json::object());
    for (int c = 1; c <= 300; c++) {
      const json p = cml::sample_params(o.space, 7, c);
      ASSERT_EQ(p.size(), o.space.size());
      for (const cml::SearchDim& d : o.space) {
        const double v = p.at(d.key).get<double>();
        EXPECT_GE(v, d.lo) << d.key;
        EXPECT_LE(v, d.hi) << d.key;
        if (d.integer) {
          EXPECT_TRUE(p.at(d.key).is_number_integer()) << d.key;
        }
      }
      EXPECT_NO_THROW(cml::trial_train_options(t, config(), o, p)) << p.dump();
    }
  }
}

TEST(TuneSpace, DocumentedDimensions) {
  std::vector<std::string> x, l;
  for (const auto& d : cml::default_search_space(ModelType::xgboost)) x.push_back(d.key);
  for (const auto& d : cml::default_search_space(ModelType::lstm)) l.push_back(d.key);
  EXPECT_EQ(x, (std::vector<std::string>{"max_depth", "eta", "num_rounds", "subsample", "colsample_bytree", "min_child_weight",
                                         "lambda", "alpha"}));
  EXPECT_EQ(l, (std::vector<std::string>{"hiddenSize", "learningRate", "sequenceLength", "numLayers", "weightDecay"}));
  for (const char* k : {"eta", "min_child_weight", "lambda"}) {
    auto& s = cml::default_search_space(ModelType::xgboost);
    auto d = std::find_if(s.begin(), s.end(), [&](const cml::SearchDim& v) { return v.key == k; });
    EXPECT_TRUE(d->log) << k;
  }
  EXPECT_NE(error_of([] { (void)cml::default_search_space(ModelType::ensemble); }).find("ensemble cannot be tuned"), std::string::npos);
}

TEST(TuneSampler, DeterministicPerSeedAndConfiguration) {
  const TuneOptions o = cml::parse_tune_options(ModelType::xgboost, 30, config(), json::object());
  EXPECT_EQ(cml::sample_params(o.space, 42, 3), cml::sample_params(o.space, 42, 3));
  EXPECT_NE(cml::sample_params(o.space, 42, 3), cml::sample_params(o.space, 43, 3));
  EXPECT_NE(cml::sample_params(o.space, 42, 3), cml::sample_params(o.space, 42, 4));
  std::set<std::string> seen;
  for (int c = 1; c <= 100; c++) seen.insert(cml::sample_params(o.space, 42, c).dump());
  EXPECT_EQ(seen.size(), 100u) << "distinct configurations";
}

TEST(TuneSampler, IntegersReachBothEndsAndLogScaleIsGeometric) {
  const TuneOptions o = cml::parse_tune_options(ModelType::xgboost, 30, config(), json::object());
  std::set<long long> depths;
  std::vector<double> etas;
  for (int c = 1; c <= 2000; c++) {
    const json p = cml::sample_params(o.space, 1, c);
    depths.insert(p.at("max_depth").get<long long>());
    etas.push_back(p.at("eta").get<double>());
  }
  EXPECT_EQ(*depths.begin(), 2);
  EXPECT_EQ(*depths.rbegin(), 10);
  EXPECT_EQ(depths.size(), 9u);
  // log-uniform on [0.01, 0.3]: the median is the geometric mean sqrt(0.003) = 0.0548
  std::nth_element(etas.begin(), etas.begin() + 1000, etas.end());
  EXPECT_NEAR(etas[1000], std::sqrt(0.01 * 0.3), 0.01);
  // share of values below 0.03: log(3) / log(30) = 0.323 (uniform would give 0.069)
  const double below = std::count_if(etas.begin(), etas.end(), [](double e) { return e < 0.03; }) / 2000.0;
  EXPECT_NEAR(below, std::log(3.0) / std::log(30.0), 0.04);
}

TEST(TuneOptions, RestrictingTheSpace) {
  const TuneOptions o = cml::parse_tune_options(
      ModelType::xgboost, 10, config(), json::parse(R"({"space": {"max_depth": [3, 4], "eta": 0.05, "num_rounds": [5, 10]}})"));
  for (int c = 1; c <= 50; c++) {
    const json p = cml::sample_params(o.space, 5, c);
    EXPECT_TRUE(p["max_depth"] == 3 || p["max_depth"] == 4);
    EXPECT_EQ(p["eta"].get<double>(), 0.05);
    EXPECT_GE(p["num_rounds"].get<int>(), 5);
    EXPECT_LE(p["num_rounds"].get<int>(), 10);
  }
}

TEST(TuneOptions, BadInputIsRefusedNamingTheValueAndRule) {
  std::string detail;
  auto parse = [&](ModelType t, int budget, const char* opts) {
    return error_of([&] { (void)cml::parse_tune_options(t, budget, config(), json::parse(opts)); }, &detail);
  };
  EXPECT_EQ(parse(ModelType::xgboost, 0, "{}"), "budget = 0 is out of range");
  EXPECT_EQ(detail, "rule: budget is an integer in [1, 500] (trials)");
  EXPECT_EQ(parse(ModelType::xgboost, -1, "{}"), "budget = -1 is out of range");
  EXPECT_EQ(parse(ModelType::xgboost, 501, "{}"), "budget = 501 is out of range");
  EXPECT_EQ(parse(ModelType::xgboost, 500, "{}"), "(no error)");
  EXPECT_EQ(parse(ModelType::ensemble, 5, "{}"), "model_type ensemble cannot be tuned");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"space": {"depth": [1, 2]}})"), "unknown search-space key \"depth\" for model_type xgboost");
  EXPECT_EQ(detail, "rule: space keys are max_depth, eta, num_rounds, subsample, colsample_bytree, min_child_weight, lambda, alpha");
  EXPECT_EQ(parse(ModelType::lstm, 5, R"({"space": {"max_depth": [1, 2]}})"), "unknown search-space key \"max_depth\" for model_type lstm");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"space": {"max_depth": [2, 50]}})"), "option space.max_depth = 50 is out of range");
  EXPECT_EQ(detail, "rule: max_depth is an integer in [1, 20]");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"space": {"eta": [0.3, 0.1]}})"), "option space.eta = [0.3,0.1] is an empty range (lo > hi)");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"space": {"lambda": [0, 1]}})"), "option space.lambda = [0,1] starts at 0 on a log scale");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"space": {"max_depth": [2.5, 4]}})"), "option space.max_depth must be an integer, got 2.5");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"space": {"eta": [0.1, 0.2, 0.3]}})"), "option space.eta = [0.1,0.2,0.3] is not a range");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"space": {"eta": "fast"}})"), "option space.eta must be a number, got \"fast\"");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"method": "grid"})"), "unknown method \"grid\" for ml_tune");
  EXPECT_EQ(detail, "rule: method is one of \"random\", \"halving\"");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"scheme": "sliding"})"), "unknown scheme \"sliding\" for ml_tune");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"folds": 1})"), "option folds = 1 is out of range");
  EXPECT_EQ(detail, "rule: folds is an integer in [2, 10] (time-series CV folds)");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"folds": 11})"), "option folds = 11 is out of range");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"trials": 11})"), "unknown ml_tune option \"trials\"");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"train": {"eta": 0.1}})"), "option train.eta is a searched parameter");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"train": {"windowSize": 5}})"), "options.train: option windowSize = 5 is out of range");
  EXPECT_EQ(parse(ModelType::xgboost, 5, R"({"featureSet": 9})"), "option featureSet = 9 is out of range");
}

TEST(TuneOptions, FeatureSetAndSeedReachEveryTrial) {
  const TuneOptions o = cml::parse_tune_options(ModelType::xgboost, 3, config(), json::parse(R"({"featureSet": 2, "seed": 9})"));
  const cml::TrainOptions t = cml::trial_train_options(ModelType::xgboost, config(), o, cml::sample_params(o.space, o.seed, 1));
  EXPECT_EQ(t.feature_set, 2);
  EXPECT_EQ(t.xgb.seed, 9u);
  EXPECT_EQ(cml::trial_train_options(ModelType::xgboost, config(), cml::parse_tune_options(ModelType::xgboost, 3, config(), json::object()),
                                     json::object()).feature_set,
            1)
      << "the configuration's features.featureSet by default";
  EXPECT_EQ(error_of([] {
              (void)cml::parse_tune_options(ModelType::xgboost, 3, config(), json::parse(R"({"featureSet": 2, "train": {"featureSet": 1}})"));
            }),
            "option featureSet = 2 differs from option train.featureSet = 1");
}

TEST(TuneSearch, RandomRunsBudgetConfigurationsOnTheWholeWindow) {
  TuneSearch s(cml::TuneMethod::random, 7, 10000, 500);
  EXPECT_EQ(s.total_trials(), 7);
  std::vector<double> scores;
  TrialSpec t;
  while (s.next(scores, &t)) {
    EXPECT_EQ(t.trial, static_cast<int>(scores.size()) + 1);
    EXPECT_EQ(t.config, t.trial);
    EXPECT_EQ(t.fraction, 1.0);
    scores.push_back(1.0 / t.trial);
  }
  EXPECT_EQ(scores.size(), 7u);
}

TEST(TuneSearch, HalvingPromotesTheBestThirdOnThreeTimesTheData) {
  TuneSearch s(cml::TuneMethod::halving, 30, 100000, 500);
  const std::vector<int>& c = s.rung_counts();
  int total = 0;
  for (int x : c) total += x;
  EXPECT_EQ(total, s.total_trials());
  EXPECT_LE(total, 30);
  // n0 = 22 would need 22 + 7 + 2 = 31 trials; n0 = 21: 21 + 7 + 2 = 30 (2 < 3 ends it)
  EXPECT_EQ(c, (std::vector<int>{21, 7, 2}));
  std::mt19937_64 rng(3);
  std::vector<double> scores;
  std::vector<TrialSpec> specs;
  TrialSpec t;
  while (s.next(scores, &t)) {
    specs.push_back(t);
    scores.push_back(t.trial == 4 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(rng() % 1000) / 1000.0);
  }
  ASSERT_EQ(specs.size(), 30u);
  EXPECT_DOUBLE_EQ(specs[0].fraction, 1.0 / 9);
  EXPECT_DOUBLE_EQ(specs[21].fraction, 1.0 / 3);
  EXPECT_DOUBLE_EQ(specs[29].fraction, 1.0);
  // rung 1 holds the 7 best configurations of rung 0, best first; the failed one never
  std::vector<int> idx(21);
  for (int i = 0; i < 21; i++) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
    auto k = [&](int i) { return std::isfinite(scores[i]) ? scores[i] : 1e9; };
    return k(a) < k(b);
  });
  for (int j = 0; j < 7; j++) {
    EXPECT_EQ(specs[21 + j].config, specs[idx[j]].config);
    EXPECT_EQ(specs[21 + j].rung, 1);
    EXPECT_NE(specs[21 + j].config, 4);
  }
  const int best = cml::best_trial(scores, [&] {
    std::vector<int> r;
    for (auto& x : specs) r.push_back(x.rung);
    return r;
  }());
  EXPECT_EQ(specs[best - 1].rung, 2) << "the best trial is one of the last rung";
}

TEST(TuneSearch, HalvingRungsAreLimitedByTheData) {
  // 3000 rows, 500 needed: shares 1, 1/3 (1000 rows) only: two rungs
  TuneSearch s(cml::TuneMethod::halving, 30, 3000, 500);
  EXPECT_EQ(s.rungs(), 2);
  EXPECT_EQ(s.rung_counts(), (std::vector<int>{23, 7}));
  TuneSearch one(cml::TuneMethod::halving, 1, 3000, 500);
  EXPECT_EQ(one.rung_counts(), (std::vector<int>{1}));
}

// Samples whose target is 0.5 * feature 0 plus noise, and pure noise.
struct Synthetic {
  std::vector<double> X, y;
  std::vector<std::int64_t> minutes;
  std::vector<int> run;
  cml::TuneData data() const {
    cml::TuneData d;
    d.X = X.data();
    d.y = y.data();
    d.minutes = minutes.data();
    d.run = run.data();
    d.rows = y.size();
    d.cols = X.size() / y.size();
    return d;
  }
};
Synthetic synthetic(std::size_t n, double signal, std::uint64_t seed) {
  Synthetic s;
  std::mt19937_64 rng(seed);
  auto u = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53 - 0.5; };
  for (std::size_t i = 0; i < n; i++) {
    const double f0 = u(), f1 = u(), f2 = u();
    s.X.insert(s.X.end(), {f0, f1, f2});
    s.y.push_back(signal * f0 + 0.1 * u());
    s.minutes.push_back(1000 + static_cast<std::int64_t>(i));
    s.run.push_back(static_cast<int>(i) + 1);
  }
  return s;
}

TEST(TuneTrial, ScoresOutOfFoldAgainstZeroChange) {
  const Synthetic sig = synthetic(1500, 0.5, 1), noise = synthetic(1500, 0, 2);
  const TuneOptions o = cml::parse_tune_options(ModelType::xgboost, 5, config(),
                                                json::parse(R"({"train": {"windowSize": 100000}, "folds": 3})"));
  const json p = {{"max_depth", 3}, {"eta", 0.2}, {"num_rounds", 40}, {"subsample", 1.0}, {"colsample_bytree", 1.0},
                  {"min_child_weight", 1.0}, {"lambda", 1.0}, {"alpha", 0.0}};
  const cml::TrainOptions t = cml::trial_train_options(ModelType::xgboost, config(), o, p);
  const cml::TrialResult a = cml::run_trial(t, sig.data(), 5, o, 1.0, nullptr);
  ASSERT_TRUE(a.ok) << a.error;
  EXPECT_EQ(a.folds_used, 3);
  EXPECT_EQ(a.fold_scores.size(), 3u);
  EXPECT_EQ(a.rows_scored, 1500u - 1500u / 4) << "every row of the 3 test chunks";
  EXPECT_LT(a.score, 0.5) << "a learnable signal";
  EXPECT_NEAR(a.score, a.rmse / a.baseline_rmse, 1e-12);
  const cml::TrialResult b = cml::run_trial(t, noise.data(), 5, o, 1.0, nullptr);
  ASSERT_TRUE(b.ok);
  EXPECT_GT(b.score, 0.95) << "noise: no better than zero change";
  const cml::TrialResult again = cml::run_trial(t, sig.data(), 5, o, 1.0, nullptr);
  EXPECT_EQ(again.score, a.score) << "deterministic";
  EXPECT_EQ(again.fold_scores, a.fold_scores);
  // rolling folds train on the first fold's window length only: another (worse or equal) fit
  TuneOptions r = o;
  r.scheme = cml::FoldScheme::rolling;
  const cml::TrialResult c = cml::run_trial(t, sig.data(), 5, r, 1.0, nullptr);
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.fold_scores[0], a.fold_scores[0]) << "the first fold is the same";
  EXPECT_NE(c.fold_scores[2], a.fold_scores[2]) << "later folds see fewer rows";
  // a share of the window
  const cml::TrialResult third = cml::run_trial(t, sig.data(), 5, o, 1.0 / 3, nullptr);
  EXPECT_EQ(third.rows_used, 500u);
  EXPECT_EQ(third.rows_scored, 500u - 500u / 4);
}

TEST(TuneTrial, TooFewRowsFailsTheTrialAndCancelPropagates) {
  const Synthetic s = synthetic(60, 0.5, 4);
  const TuneOptions o = cml::parse_tune_options(ModelType::xgboost, 5, config(), json::parse(R"({"folds": 4})"));
  const json p = cml::sample_params(o.space, 1, 1);
  const cml::TrainOptions t = cml::trial_train_options(ModelType::xgboost, config(), o, p);
  EXPECT_GT(cml::tune_min_rows(4, t.split, 15), 60u);
  const cml::TrialResult r = cml::run_trial(t, s.data(), 15, o, 1.0, nullptr);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no fold could train"), std::string::npos) << r.error;
  const Synthetic big = synthetic(1500, 0.5, 4);
  EXPECT_THROW(cml::run_trial(t, big.data(), 15, o, 1.0, [] { return true; }), cml::Cancelled);
}

TEST(TuneTrial, ZeroChangeRatio) {
  EXPECT_DOUBLE_EQ(cml::zero_change_ratio({1, -2}, {1, -2}), 0.0);
  EXPECT_DOUBLE_EQ(cml::zero_change_ratio({0, 0}, {1, -2}), 1.0);
  // sqrt(((1-2)^2 + (2-0)^2) / (1 + 4)) = 1
  EXPECT_DOUBLE_EQ(cml::zero_change_ratio({2, 0}, {1, 2}), 1.0);
  EXPECT_TRUE(std::isnan(cml::zero_change_ratio({1}, {0})));
}

TEST(TuneParams, TunedRequestAndMerge) {
  EXPECT_FALSE(cml::wants_tuned_params(json::parse(R"({"eta": 0.1})")));
  EXPECT_TRUE(cml::wants_tuned_params(json::parse(R"({"params": "tuned"})")));
  EXPECT_EQ(error_of([] { (void)cml::wants_tuned_params(json::parse(R"({"params": "best"})")); }),
            "option params = \"best\" is not supported");
  const json m = cml::apply_tuned_params(json::parse(R"({"params": "tuned", "eta": 0.2})"), json::parse(R"({"eta": 0.05, "max_depth": 4})"));
  EXPECT_EQ(m, json::parse(R"({"eta": 0.2, "max_depth": 4})"));
}

}  // namespace
