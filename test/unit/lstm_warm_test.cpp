// Unit tests of the LSTM's warm start, LstmModel::train_from (src/core/lstm.hpp): the entry point
// walk-forward backtests use to start a segment's network from the previous segment's.
#include "lstm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using cml::LstmModel;
using cml::LstmParams;
using cml::LstmTrainReport;
using cml::SequenceSet;
namespace detail = cml::lstm_detail;

namespace {

// rows x 2 features: f0 ~ N(mean, scale), f1 ~ N(0, 1) noise; y = sum of f0 over the last 4 rows
// (centred) plus noise. `mean` and `scale` shift the inputs away from the first window's statistics.
struct Data {
  std::vector<double> x, y;
  std::size_t rows = 0;
};
Data make_data(std::size_t rows, std::uint32_t seed, double mean = 0, double scale = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n01(0.0, 1.0);
  Data d;
  d.rows = rows;
  d.x.resize(rows * 2);
  d.y.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    d.x[r * 2] = mean + scale * n01(rng);
    d.x[r * 2 + 1] = n01(rng);
  }
  for (std::size_t r = 0; r < rows; ++r) {
    double s = 0;
    for (std::size_t k = 0; k < 4 && k <= r; ++k) s += (d.x[(r - k) * 2] - mean) / scale;
    d.y[r] = s + 0.1 * n01(rng);
  }
  return d;
}
SequenceSet set_of(const Data& d, std::size_t first_end, std::size_t last_end) {
  SequenceSet q{d.x.data(), d.rows, 2, d.y.data(), {}};
  for (std::size_t e = first_end; e <= last_end; ++e) q.ends.push_back(e);
  return q;
}
LstmParams params() {
  LstmParams p;
  p.sequence_length = 6;
  p.hidden_size = 6;
  p.batch_size = 64;
  p.max_epochs = 4;
  p.patience = 2;
  p.learning_rate = 1e-2;
  return p;
}
double mse(const LstmModel& m, const SequenceSet& s) {
  const std::vector<double> p = m.predict(s);
  double sum = 0;
  for (std::size_t k = 0; k < p.size(); ++k) sum += (p[k] - s.y[s.ends[k]]) * (p[k] - s.y[s.ends[k]]);
  return sum / static_cast<double>(p.size());
}

struct Warm : ::testing::Test {
  // init: trained on rows 0..599 of a first window; the warm runs train on a later window
  Data first = make_data(800, 11), later = make_data(800, 12);
  SequenceSet f_train = set_of(first, 5, 599), f_valid = set_of(first, 605, 799);
  SequenceSet train = set_of(later, 5, 599), valid = set_of(later, 605, 799);
  LstmModel init = LstmModel::train(f_train, f_valid, params(), {}, nullptr);
};

TEST_F(Warm, SameWeightsInSameModelOut) {
  const LstmParams p = params();
  LstmTrainReport r1, r2;
  const std::string a = LstmModel::train_from(init, train, valid, p, {}, &r1).save();
  const std::string b = LstmModel::train_from(LstmModel::load(init.save()), train, valid, p, {}, &r2).save();
  EXPECT_EQ(a, b);  // bit for bit, also from a saved and reloaded init
  EXPECT_EQ(r1.valid_mse, r2.valid_mse);
  // other weights in: another model out; and not what a cold start gives
  LstmParams q = p;
  q.seed = 7;
  const LstmModel other = LstmModel::train(f_train, f_valid, q, {}, nullptr);
  EXPECT_NE(a, LstmModel::train_from(other, train, valid, p, {}, nullptr).save());
  EXPECT_NE(a, LstmModel::train(train, valid, p, {}, nullptr).save());
}

TEST_F(Warm, InitialWeightsAreEpochZero) {
  LstmParams p = params();
  LstmTrainReport rep;
  const LstmModel m = LstmModel::train_from(init, train, valid, p, {}, &rep);
  // the validation MSE never ends above the inherited weights'
  const double start = mse(init, valid);
  EXPECT_LE(rep.best_valid_mse, start);
  EXPECT_EQ(mse(m, valid), rep.best_valid_mse);
  EXPECT_GE(rep.best_epoch, 0);
  EXPECT_LE(rep.epochs_trained, p.max_epochs);
  if (rep.best_epoch == 0) {
    EXPECT_EQ(rep.best_valid_mse, start);
  } else {
    EXPECT_EQ(rep.valid_mse[static_cast<std::size_t>(rep.best_epoch - 1)], rep.best_valid_mse);
    EXPECT_LT(rep.best_valid_mse, start);
  }

  // A step size that wrecks every epoch: the inherited model comes back unchanged, weights and
  // standardization (its predictions, bit for bit), after `patience` epochs.
  p.learning_rate = 1.0;
  p.clip_norm = 1e6;
  p.max_epochs = 10;
  p.patience = 2;
  LstmTrainReport bad;
  const LstmModel kept = LstmModel::train_from(init, train, valid, p, {}, &bad);
  EXPECT_EQ(bad.best_epoch, 0);
  EXPECT_EQ(bad.epochs_trained, 2);
  EXPECT_TRUE(bad.early_stopped);
  EXPECT_EQ(detail::get_params(kept), detail::get_params(init));
  EXPECT_EQ(kept.predict(valid), init.predict(valid));
}

TEST_F(Warm, KeepsTheInitialStandardization) {
  // A window whose inputs are shifted and scaled: a cold model standardizes by its statistics, a
  // warm one keeps init's (its weights expect inputs scaled that way). With a step too small to
  // move a float weight, the weights stay init's, and the warm model predicts exactly as init does.
  const Data shifted = make_data(800, 13, 5.0, 3.0);
  const SequenceSet tr = set_of(shifted, 5, 599), va = set_of(shifted, 605, 799);
  LstmParams p = params();
  p.learning_rate = 1e-12;
  p.max_epochs = 1;
  LstmTrainReport rep;
  const LstmModel kept = LstmModel::train_from(init, tr, va, p, {}, &rep);
  EXPECT_EQ(rep.best_epoch, 0);
  ASSERT_EQ(detail::get_params(kept), detail::get_params(init));
  EXPECT_EQ(kept.predict(va), init.predict(va));
  // the same weights under the shifted window's own standardization predict otherwise
  const LstmModel cold = LstmModel::train(tr, va, p, {}, nullptr);
  EXPECT_NE(detail::with_params(cold, detail::get_params(init)).predict(va), init.predict(va));
}

TEST_F(Warm, ShapeMustMatch) {
  for (int which = 0; which < 3; ++which) {
    LstmParams p = params();
    if (which == 0) p.hidden_size = 7;
    if (which == 1) p.sequence_length = 5;
    if (which == 2) p.num_layers = 2;
    try {
      (void)LstmModel::train_from(init, train, valid, p, {}, nullptr);
      ADD_FAILURE() << "shape " << which << " accepted";
    } catch (const cml::InvalidParameter& e) {
      EXPECT_NE(std::string(e.what()).find("initial model has 2 features, sequence 6, 6 units, 1 layer(s)"), std::string::npos)
          << e.what();
    }
  }
  // another feature count
  const Data three = [] {
    Data d = make_data(800, 14);
    std::vector<double> x;
    for (std::size_t r = 0; r < d.rows; ++r) x.insert(x.end(), {d.x[r * 2], d.x[r * 2 + 1], 0.5});
    d.x = x;
    return d;
  }();
  SequenceSet tr{three.x.data(), three.rows, 3, three.y.data(), train.ends}, va{three.x.data(), three.rows, 3, three.y.data(), valid.ends};
  EXPECT_THROW((void)LstmModel::train_from(init, tr, va, params(), {}, nullptr), cml::InvalidParameter);
}

TEST_F(Warm, CancelledLikeTrain) {
  int calls = 0;
  EXPECT_THROW((void)LstmModel::train_from(init, train, valid, params(), [&] { return ++calls > 3; }, nullptr), cml::Cancelled);
}

}  // namespace
