// Unit tests for the LSTM sequence regressor (src/core/lstm.hpp).
#include "lstm.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

using cml::LstmModel;
using cml::LstmParams;
using cml::LstmTrainReport;
using cml::SequenceSet;
namespace detail = cml::lstm_detail;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A time series of `rows` rows: feature 0 is N(0,1) noise, feature 1 an irrelevant N(0,1) feature,
// target y[r] = sum of feature 0 over rows r-4..r plus N(0, noise) noise.
struct Series {
  std::vector<double> x, y;
  std::size_t rows = 0, cols = 2;
};

Series make_series(std::size_t rows, std::uint32_t seed, double noise = 0.05) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n01(0.0, 1.0);
  Series s;
  s.rows = rows;
  s.x.resize(rows * s.cols);
  s.y.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    s.x[r * 2] = n01(rng);
    s.x[r * 2 + 1] = n01(rng);
  }
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (std::size_t k = 0; k < 5 && k <= r; ++k) sum += s.x[(r - k) * 2];
    s.y[r] = sum + noise * n01(rng);
  }
  return s;
}

SequenceSet set_of(const Series& s, std::size_t first_end, std::size_t last_end) {
  SequenceSet q{s.x.data(), s.rows, s.cols, s.y.data(), {}};
  for (std::size_t e = first_end; e <= last_end; ++e) q.ends.push_back(e);
  return q;
}

LstmParams small_params() {
  LstmParams p;
  p.sequence_length = 8;
  p.hidden_size = 8;
  p.batch_size = 64;
  p.max_epochs = 3;
  p.learning_rate = 1e-2;
  return p;
}

double mse(const std::vector<double>& pred, const SequenceSet& s) {
  double sum = 0;
  for (std::size_t k = 0; k < pred.size(); ++k) {
    const double d = pred[k] - s.y[s.ends[k]];
    sum += d * d;
  }
  return sum / static_cast<double>(pred.size());
}

// --- gradient check ---------------------------------------------------------------------------

// d loss / d theta[i] by fourth-order central differences,
// (-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h: truncation error O(h^4), so a step of 1e-3
// keeps both truncation and rounding error near 1e-12.
double numeric_derivative(const std::function<double(const std::vector<double>&)>& f, const std::vector<double>& theta,
                          std::size_t i) {
  const double h = 1e-3;
  auto at = [&](double d) {
    std::vector<double> t = theta;
    t[i] += d;
    return f(t);
  };
  return (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
}

double rel_error(double a, double n) { return std::fabs(a - n) / std::max(1e-8, std::fabs(a) + std::fabs(n)); }

void gradient_check(int layers) {
  const detail::Shape shape{3, 4, layers};
  const std::size_t B = 3, L = 5, F = 3;
  std::mt19937 rng(7 + static_cast<std::uint32_t>(layers));
  std::normal_distribution<double> n01(0.0, 1.0);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  std::vector<double> seqs(B * L * F), y(B);
  for (double& v : seqs) v = n01(rng);
  for (double& v : y) v = n01(rng);
  std::vector<double> theta = detail::init_params(shape, 3);
  for (double& v : theta) v += u(rng);  // away from the symmetric initial point
  ASSERT_EQ(theta.size(), shape.num_params());

  std::vector<double> grad;
  const double loss = detail::loss_and_gradient(shape, theta, seqs.data(), B, L, y.data(), &grad);
  ASSERT_TRUE(std::isfinite(loss));
  ASSERT_EQ(grad.size(), theta.size());

  const auto blocks = detail::param_blocks(shape);
  ASSERT_EQ(blocks.size(), static_cast<std::size_t>(3 * layers + 2));
  std::size_t covered = 0;
  for (const auto& blk : blocks) {
    EXPECT_EQ(blk.offset, covered) << blk.name;
    covered += blk.size;
    double worst = 0, largest = 0;
    for (std::size_t i = blk.offset; i < blk.offset + blk.size; ++i) {
      const double num = numeric_derivative(
          [&](const std::vector<double>& t) {
            return detail::loss_and_gradient(shape, t, seqs.data(), B, L, y.data(), nullptr);
          },
          theta, i);
      const double rel = rel_error(grad[i], num);
      worst = std::max(worst, rel);
      largest = std::max(largest, std::fabs(grad[i]));
    }
    EXPECT_LE(worst, 1e-6) << "block " << blk.name << " (" << layers << " layers)";
    std::printf("  %d layer(s) %-8s %3zu entries, max relative error %.2e\n", layers, blk.name.c_str(), blk.size, worst);
    EXPECT_GT(largest, 1e-4) << "block " << blk.name << " has only tiny gradients; the check would be vacuous";
  }
  EXPECT_EQ(covered, theta.size());
}

TEST(LstmGradient, MatchesFiniteDifferencesOneLayer) { gradient_check(1); }
TEST(LstmGradient, MatchesFiniteDifferencesTwoLayers) { gradient_check(2); }

TEST(LstmGradient, SequenceLengthOne) {
  const detail::Shape shape{2, 3, 2};
  std::vector<double> seqs = {0.5, -1.0, 1.5, 0.25}, y = {0.3, -0.7};
  const std::vector<double> theta = detail::init_params(shape, 11);
  std::vector<double> grad;
  detail::loss_and_gradient(shape, theta, seqs.data(), 2, 1, y.data(), &grad);
  for (std::size_t i = 0; i < theta.size(); ++i) {
    const double num = numeric_derivative(
        [&](const std::vector<double>& t) {
          return detail::loss_and_gradient(shape, t, seqs.data(), 2, 1, y.data(), nullptr);
        },
        theta, i);
    EXPECT_LE(rel_error(grad[i], num), 1e-6) << i;
  }
}

TEST(LstmInit, DeterministicAndForgetBiasOne) {
  const detail::Shape shape{5, 6, 2};
  const auto a = detail::init_params(shape, 42), b = detail::init_params(shape, 42), c = detail::init_params(shape, 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (const auto& blk : detail::param_blocks(shape)) {
    if (blk.name.find("bias") != std::string::npos) {
      for (std::size_t j = 6; j < 12; ++j) EXPECT_EQ(a[blk.offset + j], 1.0) << blk.name;
    } else {
      for (std::size_t j = 0; j < blk.size; ++j) EXPECT_LE(std::fabs(a[blk.offset + j]), 1.0 / std::sqrt(6.0));
    }
  }
}

// --- training ---------------------------------------------------------------------------------

TEST(LstmTrain, LearnsSumOfLastFiveSteps) {
  const Series s = make_series(3000, 1);
  const SequenceSet train = set_of(s, 9, 2399), valid = set_of(s, 2409, 2999);
  LstmParams p;
  p.sequence_length = 10;
  p.hidden_size = 16;
  p.batch_size = 32;
  p.max_epochs = 40;
  p.patience = 5;
  p.learning_rate = 1e-2;
  LstmTrainReport rep;
  const LstmModel m = LstmModel::train(train, valid, p, {}, &rep);
  ASSERT_GE(rep.best_epoch, 1);
  const std::vector<double> pred = m.predict(valid);
  ASSERT_EQ(pred.size(), valid.ends.size());
  double mean = 0, zero = 0;
  for (std::size_t e : valid.ends) {
    mean += s.y[e];
    zero += s.y[e] * s.y[e];
  }
  mean /= static_cast<double>(valid.ends.size());
  zero /= static_cast<double>(valid.ends.size());
  const double var = zero - mean * mean;
  const double got = mse(pred, valid);
  EXPECT_LT(got, 0.1 * var) << "valid MSE " << got << ", target variance " << var;
  EXPECT_LT(got, zero);
  // The reported best validation MSE is the kept model's, recomputed exactly by predict().
  EXPECT_EQ(got, rep.best_valid_mse);
  EXPECT_EQ(rep.valid_mse[static_cast<std::size_t>(rep.best_epoch - 1)], rep.best_valid_mse);
  EXPECT_EQ(static_cast<int>(rep.train_loss.size()), rep.epochs_trained);
  EXPECT_EQ(static_cast<int>(rep.valid_mse.size()), rep.epochs_trained);
  EXPECT_FALSE(rep.diverged);
  EXPECT_LT(rep.train_loss.back(), rep.train_loss.front());
  if (rep.early_stopped) {
    EXPECT_EQ(rep.epochs_trained, rep.best_epoch + p.patience);
  }
}

TEST(LstmTrain, EarlyStopsAfterPatience) {
  // Pure-noise targets: nothing to learn, so the validation MSE stops improving quickly.
  Series s = make_series(800, 2);
  std::mt19937 rng(5);
  std::normal_distribution<double> n01(0.0, 1.0);
  for (double& v : s.y) v = n01(rng);
  const SequenceSet train = set_of(s, 7, 599), valid = set_of(s, 607, 799);
  LstmParams p = small_params();
  p.max_epochs = 200;
  p.patience = 2;
  p.learning_rate = 0.05;
  LstmTrainReport rep;
  LstmModel::train(train, valid, p, {}, &rep);
  EXPECT_TRUE(rep.early_stopped);
  EXPECT_LT(rep.epochs_trained, 200);
  EXPECT_EQ(rep.epochs_trained, rep.best_epoch + 2);
  for (std::size_t e = static_cast<std::size_t>(rep.best_epoch); e < rep.valid_mse.size(); ++e) {
    EXPECT_GE(rep.valid_mse[e], rep.best_valid_mse);
  }
}

TEST(LstmTrain, DeterministicBytes) {
  const Series s = make_series(600, 3);
  const SequenceSet train = set_of(s, 7, 449), valid = set_of(s, 457, 599);
  const LstmParams p = small_params();
  const std::string a = LstmModel::train(train, valid, p, {}, nullptr).save();
  const std::string b = LstmModel::train(train, valid, p, {}, nullptr).save();
  EXPECT_EQ(a, b);
  LstmParams q = p;
  q.seed = 43;
  EXPECT_NE(a, LstmModel::train(train, valid, q, {}, nullptr).save());
}

TEST(LstmTrain, TwoLayersAndLargeBatch) {
  const Series s = make_series(600, 4);
  const SequenceSet train = set_of(s, 7, 449), valid = set_of(s, 457, 599);
  LstmParams p = small_params();
  p.num_layers = 2;
  p.batch_size = 1000000;  // one mini-batch per epoch
  LstmTrainReport rep;
  const LstmModel m = LstmModel::train(train, valid, p, {}, &rep);
  EXPECT_EQ(rep.epochs_trained, 3);
  for (double v : m.predict(valid)) EXPECT_TRUE(std::isfinite(v));
}

TEST(LstmTrain, StandardizesFeaturesAndTargets) {
  // Same series with features scaled and shifted wildly and targets in other units: the model
  // sees the same standardized problem, so it learns as well as on the original.
  Series s = make_series(1500, 6);
  for (std::size_t r = 0; r < s.rows; ++r) {
    s.x[r * 2] = 1e6 + 1e4 * s.x[r * 2];
    s.x[r * 2 + 1] *= 1e-9;
    s.y[r] = 50000 + 2000 * s.y[r];
  }
  const SequenceSet train = set_of(s, 9, 1199), valid = set_of(s, 1209, 1499);
  LstmParams p = small_params();
  p.sequence_length = 10;
  p.hidden_size = 16;
  p.batch_size = 32;
  p.max_epochs = 25;
  const LstmModel m = LstmModel::train(train, valid, p, {}, nullptr);
  double mean = 0, var = 0;
  for (std::size_t e : valid.ends) mean += s.y[e];
  mean /= static_cast<double>(valid.ends.size());
  for (std::size_t e : valid.ends) var += (s.y[e] - mean) * (s.y[e] - mean);
  var /= static_cast<double>(valid.ends.size());
  EXPECT_LT(mse(m.predict(valid), valid), 0.2 * var);
}

TEST(LstmTrain, MissingAndConstantFeatures) {
  Series s = make_series(600, 7);
  // Add a constant and an all-missing feature, and scatter missing values in feature 0.
  std::vector<double> x;
  for (std::size_t r = 0; r < s.rows; ++r) {
    x.push_back(r % 13 == 0 ? kNaN : s.x[r * 2]);
    x.push_back(s.x[r * 2 + 1]);
    x.push_back(12345.0);
    x.push_back(kNaN);
  }
  SequenceSet train{x.data(), s.rows, 4, s.y.data(), {}}, valid = train;
  for (std::size_t e = 7; e < 450; ++e) train.ends.push_back(e);
  for (std::size_t e = 457; e < 600; ++e) valid.ends.push_back(e);
  const LstmModel m = LstmModel::train(train, valid, small_params(), {}, nullptr);
  EXPECT_EQ(m.num_features(), 4u);
  for (double v : m.predict(valid)) EXPECT_TRUE(std::isfinite(v));
  // An extreme value at prediction time is clamped after standardization, not turned into NaN.
  x[500 * 4] = 1e300;
  for (double v : m.predict(valid)) EXPECT_TRUE(std::isfinite(v));
}

TEST(LstmTrain, CancelledBetweenMiniBatches) {
  const Series s = make_series(600, 8);
  const SequenceSet train = set_of(s, 7, 449), valid = set_of(s, 457, 599);
  LstmParams p = small_params();
  p.max_epochs = 10;
  int calls = 0;
  // 443 sequences in batches of 64 -> 7 mini-batches per epoch; stop in the 2nd epoch.
  auto stop = [&calls] { return ++calls > 9; };
  LstmTrainReport rep;
  try {
    LstmModel::train(train, valid, p, stop, &rep);
    FAIL() << "expected Cancelled";
  } catch (const cml::Cancelled& e) {
    EXPECT_NE(std::string(e.what()).find("cancelled at epoch 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(rep.epochs_trained, 1);
}

TEST(LstmTrain, DivergenceReportedWithEpoch) {
  const Series s = make_series(600, 9);
  const SequenceSet train = set_of(s, 7, 449), valid = set_of(s, 457, 599);
  LstmParams p = small_params();
  p.max_epochs = 5;
  // Test hook: the gradient of the 3rd epoch's 2nd mini-batch becomes infinite, as a float
  // overflow in the backward pass would make it.
  detail::TrainHooks hooks;
  hooks.after_backward = [](int epoch, int batch, double*, float* g, std::size_t) {
    if (epoch == 3 && batch == 1) g[0] = std::numeric_limits<float>::infinity();
  };
  LstmTrainReport rep;
  try {
    detail::train_with_hooks(train, valid, p, {}, &rep, hooks);
    FAIL() << "expected DataError";
  } catch (const cml::DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("diverged at epoch 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("gradient is not finite"), std::string::npos) << msg;
    EXPECT_NE(std::string(e.hint()).find("learning_rate"), std::string::npos);
  }
  EXPECT_TRUE(rep.diverged);
  EXPECT_EQ(rep.diverged_epoch, 3);
  EXPECT_EQ(rep.epochs_trained, 2);

  // A NaN loss is caught the same way.
  hooks.after_backward = [](int epoch, int, double* loss, float*, std::size_t) {
    if (epoch == 2) *loss = kNaN;
  };
  try {
    detail::train_with_hooks(train, valid, p, {}, &rep, hooks);
    FAIL() << "expected DataError";
  } catch (const cml::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("diverged at epoch 2 (loss is not finite)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(rep.diverged_epoch, 2);

  // Without a hook: a weight decay so large that the decayed gradient overflows float.
  LstmParams q = p;
  q.weight_decay = 1e300;
  try {
    LstmModel::train(train, valid, q, {}, &rep);
    FAIL() << "expected DataError";
  } catch (const cml::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("diverged at epoch 1"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(rep.diverged);
}

// --- argument checks --------------------------------------------------------------------------

void expect_bad_param(const LstmParams& p, const std::string& name) {
  try {
    p.validate();
    FAIL() << "expected InvalidParameter for " << name;
  } catch (const cml::InvalidParameter& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
  }
}

TEST(LstmParams, Validate) {
  EXPECT_NO_THROW(LstmParams().validate());
  const double inf = std::numeric_limits<double>::infinity();
  auto with = [](auto f) {
    LstmParams p;
    f(p);
    return p;
  };
  expect_bad_param(with([](LstmParams& p) { p.sequence_length = 0; }), "sequence_length");
  expect_bad_param(with([](LstmParams& p) { p.sequence_length = 1441; }), "sequence_length");
  expect_bad_param(with([](LstmParams& p) { p.hidden_size = 0; }), "hidden_size");
  expect_bad_param(with([](LstmParams& p) { p.hidden_size = 1025; }), "hidden_size");
  expect_bad_param(with([](LstmParams& p) { p.num_layers = 3; }), "num_layers");
  expect_bad_param(with([](LstmParams& p) { p.num_layers = 0; }), "num_layers");
  expect_bad_param(with([](LstmParams& p) { p.learning_rate = 0; }), "learning_rate");
  expect_bad_param(with([](LstmParams& p) { p.learning_rate = 1.5; }), "learning_rate");
  expect_bad_param(with([](LstmParams& p) { p.learning_rate = kNaN; }), "learning_rate");
  expect_bad_param(with([](LstmParams& p) { p.batch_size = 0; }), "batch_size");
  expect_bad_param(with([](LstmParams& p) { p.batch_size = 1000001; }), "batch_size");
  expect_bad_param(with([](LstmParams& p) { p.max_epochs = 0; }), "max_epochs");
  expect_bad_param(with([](LstmParams& p) { p.patience = 0; }), "patience");
  expect_bad_param(with([](LstmParams& p) { p.clip_norm = 0; }), "clip_norm");
  expect_bad_param(with([&](LstmParams& p) { p.clip_norm = inf; }), "clip_norm");
  expect_bad_param(with([](LstmParams& p) { p.weight_decay = -1e-9; }), "weight_decay");
  expect_bad_param(with([](LstmParams& p) { p.weight_decay = kNaN; }), "weight_decay");
  try {
    with([](LstmParams& p) { p.hidden_size = 0; }).validate();
  } catch (const cml::InvalidParameter& e) {
    EXPECT_STREQ(e.what(), "lstm: hidden_size = 0 is out of range: must be 1..1024");
  }
  // train() validates too.
  const Series s = make_series(100, 1);
  EXPECT_THROW(LstmModel::train(set_of(s, 10, 60), set_of(s, 70, 99),
                                with([](LstmParams& p) { p.patience = -1; }), {}, nullptr),
               cml::InvalidParameter);
}

TEST(LstmParams, ToJson) {
  const auto j = nlohmann::json::parse(LstmParams().to_json());
  EXPECT_EQ(j.size(), 10u);
  EXPECT_EQ(j.at("sequence_length"), 30);
  EXPECT_EQ(j.at("hidden_size"), 32);
  EXPECT_EQ(j.at("num_layers"), 1);
  EXPECT_EQ(j.at("batch_size"), 1000);
  EXPECT_EQ(j.at("seed"), 42);
  EXPECT_DOUBLE_EQ(j.at("learning_rate").get<double>(), 1e-3);
}

template <typename E>
void expect_throw_msg(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    FAIL() << "expected an exception mentioning '" << part << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(LstmTrain, RejectsBadSets) {
  Series s = make_series(200, 10);
  const LstmParams p = small_params();  // sequence_length 8
  const SequenceSet good_t = set_of(s, 7, 149), good_v = set_of(s, 157, 199);
  using IP = cml::InvalidParameter;
  expect_throw_msg<IP>([&] { LstmModel::train(set_of(s, 6, 149), good_v, p, {}, nullptr); }, "before row 7");
  expect_throw_msg<IP>([&] {
    SequenceSet v = good_v;
    v.ends.push_back(200);
    LstmModel::train(good_t, v, p, {}, nullptr);
  }, "only 200 rows");
  expect_throw_msg<IP>([&] {
    SequenceSet t = good_t;
    t.ends.clear();
    LstmModel::train(t, good_v, p, {}, nullptr);
  }, "0 training sequences of length 8; at least 1 needed");
  expect_throw_msg<IP>([&] {
    SequenceSet v = good_v;
    v.ends.clear();
    LstmModel::train(good_t, v, p, {}, nullptr);
  }, "0 validation sequences");
  expect_throw_msg<IP>([&] {
    SequenceSet v = good_v;
    v.cols = 1;
    LstmModel::train(good_t, v, p, {}, nullptr);
  }, "feature columns");
  // A NaN target of a sequence end is rejected; one of a row that is only inside sequences is not read.
  Series bad = s;
  bad.y[100] = kNaN;
  expect_throw_msg<IP>([&] { LstmModel::train(set_of(bad, 7, 149), set_of(bad, 157, 199), p, {}, nullptr); },
                       "target at row 100 is NaN");
  bad.y[100] = std::numeric_limits<double>::infinity();
  expect_throw_msg<IP>([&] { LstmModel::train(set_of(bad, 7, 149), set_of(bad, 157, 199), p, {}, nullptr); },
                       "target at row 100");
  // An infinite feature inside a sequence is rejected.
  Series badx = s;
  badx.x[120 * 2 + 1] = -std::numeric_limits<double>::infinity();
  expect_throw_msg<IP>([&] { LstmModel::train(set_of(badx, 7, 149), set_of(badx, 157, 199), p, {}, nullptr); },
                       "feature 1 at row 120");
  SequenceSet noy = good_t;
  noy.y = nullptr;
  EXPECT_THROW(LstmModel::train(noy, good_v, p, {}, nullptr), IP);
}

TEST(LstmPredict, ChecksArguments) {
  const Series s = make_series(300, 11);
  const LstmModel m = LstmModel::train(set_of(s, 7, 199), set_of(s, 207, 299), small_params(), {}, nullptr);
  SequenceSet q = set_of(s, 7, 20);
  q.y = nullptr;  // not needed
  EXPECT_EQ(m.predict(q).size(), 14u);
  q.ends = {};
  EXPECT_TRUE(m.predict(q).empty());
  q.ends = {3};
  EXPECT_THROW(m.predict(q), cml::InvalidParameter);
  q.ends = {300};
  EXPECT_THROW(m.predict(q), cml::InvalidParameter);
  q.ends = {10};
  q.cols = 3;
  EXPECT_THROW(m.predict(q), cml::InvalidParameter);
  EXPECT_EQ(m.params().sequence_length, 8);
  EXPECT_EQ(m.num_features(), 2u);
}

// --- serialization ----------------------------------------------------------------------------

class LstmSerialization : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    series_ = new Series(make_series(400, 12));
    LstmParams p = small_params();
    p.hidden_size = 3;
    p.sequence_length = 4;
    model_ = new LstmModel(LstmModel::train(set_of(*series_, 3, 299), set_of(*series_, 303, 399), p, {}, nullptr));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete series_;
  }
  static Series* series_;
  static LstmModel* model_;
};
Series* LstmSerialization::series_ = nullptr;
LstmModel* LstmSerialization::model_ = nullptr;

TEST_F(LstmSerialization, RoundTripIsBitIdentical) {
  const std::string bytes = model_->save();
  EXPECT_EQ(bytes.substr(0, 4), "CMLL");
  const LstmModel back = LstmModel::load(bytes);
  EXPECT_EQ(back.save(), bytes);
  EXPECT_EQ(back.num_features(), model_->num_features());
  EXPECT_EQ(back.params().to_json(), model_->params().to_json());
  const SequenceSet q = set_of(*series_, 3, 399);
  const std::vector<double> a = model_->predict(q), b = back.predict(q);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(double)));
  EXPECT_EQ(detail::get_params(back), detail::get_params(*model_));
}

TEST_F(LstmSerialization, WrongVersionAndMagic) {
  std::string bytes = model_->save();
  bytes[4] = 2;
  expect_throw_msg<cml::DataError>([&] { LstmModel::load(bytes); },
                                   "lstm model: format version 2 is not supported (this build reads version 1)");
  bytes = model_->save();
  bytes[0] = 'X';
  expect_throw_msg<cml::DataError>([&] { LstmModel::load(bytes); }, "wrong magic");
  expect_throw_msg<cml::DataError>([&] { LstmModel::load("{\"learner\": 1}"); }, "wrong magic");
}

TEST_F(LstmSerialization, EveryTruncationIsDataError) {
  const std::string bytes = model_->save();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    try {
      LstmModel::load(bytes.substr(0, n));
      ADD_FAILURE() << "prefix of " << n << " bytes loaded";
    } catch (const cml::DataError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("lstm model: ", 0), 0u) << e.what();
    }
  }
  EXPECT_THROW(LstmModel::load(bytes + '\0'), cml::DataError);
}

TEST_F(LstmSerialization, EveryFlippedByteIsDataError) {
  const std::string bytes = model_->save();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xFF}) {
      std::string b = bytes;
      b[i] = static_cast<char>(static_cast<unsigned char>(b[i]) ^ mask);
      EXPECT_THROW(LstmModel::load(b), cml::DataError) << "byte " << i << " mask " << int(mask);
    }
  }
}

// Hostile bytes with a valid checksum: the structure checks must still hold.
std::uint32_t test_crc32(const std::string& s) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char ch : s) {
    c ^= ch;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

std::string reseal(std::string b) {
  b.resize(b.size() - 4);
  const std::uint32_t c = test_crc32(b);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((c >> (8 * i)) & 0xFFu));
  return b;
}

void put_u32(std::string& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}

TEST_F(LstmSerialization, HostileContentWithValidChecksum) {
  const std::string bytes = model_->save();
  EXPECT_NO_THROW(LstmModel::load(reseal(bytes)));
  auto expect_bad = [](const std::string& b, const std::string& part) {
    expect_throw_msg<cml::DataError>([&] { LstmModel::load(b); }, part);
  };
  std::string b = bytes;
  put_u32(b, 8, 0xFFFFFFFFu);  // num_features
  expect_bad(reseal(b), "num_features");
  b = bytes;
  put_u32(b, 8, 0);
  expect_bad(reseal(b), "num_features");
  b = bytes;
  put_u32(b, 16, 100000);  // hidden_size
  expect_bad(reseal(b), "hidden_size");
  b = bytes;
  put_u32(b, 16, 1000);  // plausible hidden_size, but the bytes are far too short for it
  expect_bad(reseal(b), "truncated");
  b = bytes;
  put_u32(b, 20, 3);  // num_layers
  expect_bad(reseal(b), "num_layers");
  b = bytes;
  put_u32(b, 12, 0);  // sequence_length
  expect_bad(reseal(b), "sequence_length");
  // learning_rate = NaN
  b = bytes;
  for (int i = 0; i < 8; ++i) b[36 + i] = static_cast<char>(0xFF);
  expect_bad(reseal(b), "learning_rate");
  // y_std = 0
  b = bytes;
  for (int i = 0; i < 8; ++i) b[76 + i] = 0;
  expect_bad(reseal(b), "target statistics");
  // A weight = +inf (the last weight, just before the checksum).
  b = bytes;
  put_u32(b, b.size() - 8, 0x7F800000u);
  expect_bad(reseal(b), "weight is not finite");
}

TEST_F(LstmSerialization, RandomMutationsWithValidChecksumNeverCrash) {
  // Random byte mutations, resealed so that the checksum passes: load either rejects the bytes
  // with DataError or returns a model that predicts without crashing (a finite but absurd weight
  // may still give an absurd prediction).
  const std::string bytes = model_->save();
  const SequenceSet q = set_of(*series_, 3, 40);
  std::mt19937 rng(99);
  int loaded = 0, rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string b = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      // Mostly the header and statistics (where the structure lives), sometimes anywhere.
      const std::size_t span = (trial % 3 == 0) ? b.size() - 4 : std::min<std::size_t>(b.size() - 4, 120);
      b[rng() % span] = static_cast<char>(rng() & 0xFFu);
    }
    try {
      const LstmModel m = LstmModel::load(reseal(b));
      ++loaded;
      EXPECT_EQ(m.predict(q).size(), q.ends.size());
    } catch (const cml::DataError&) {
      ++rejected;
    } catch (const cml::InvalidParameter&) {
      ++rejected;  // a changed num_features makes q's columns mismatch
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0);
}

}  // namespace
