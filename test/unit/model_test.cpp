// The model interface: contiguity, ensembles (weights, combination, validation), metrics beside the
// zero-change baseline, and the confidence calibration.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model.hpp"

namespace {

// rows x cols features with a learnable target: y = 2 * x0 - x1 (plus noise in x2).
struct Data {
  std::vector<double> X, y;
  std::vector<int> run;
  std::size_t rows, cols = 3;
  explicit Data(std::size_t n) : rows(n) {
    X.resize(n * cols);
    y.resize(n);
    std::vector<long long> minutes(n);
    for (std::size_t i = 0; i < n; ++i) {
      X[i * cols + 0] = std::sin(0.1 * i);
      X[i * cols + 1] = std::cos(0.07 * i);
      X[i * cols + 2] = std::sin(1.7 * i);
      y[i] = 2 * X[i * cols] - X[i * cols + 1];
      minutes[i] = static_cast<long long>(i) + (i >= n / 2 ? 5 : 0);  // one gap in the middle
    }
    run = cml::contiguous_runs(minutes);
  }
  cml::FeatureRows rows_view() const { return cml::FeatureRows{X.data(), rows, cols, run.data()}; }
};

cml::Model small_xgb(const Data& d) {
  std::vector<float> X(d.X.begin(), d.X.end()), y(d.y.begin(), d.y.end());
  cml::XgbParams p;
  p.num_rounds = 20;
  p.early_stopping_rounds = 0;
  const std::size_t nt = d.rows * 3 / 4;
  std::vector<float> yt(y.begin(), y.begin() + nt), yv(y.begin() + nt, y.end());
  return cml::Model::from_xgboost(cml::XgbModel::train({X.data(), nt, d.cols}, yt, {X.data() + nt * d.cols, d.rows - nt, d.cols},
                                                       yv, p, {}, nullptr));
}

cml::Model small_lstm(const Data& d, int L) {
  cml::LstmParams p;
  p.sequence_length = L;
  p.hidden_size = 4;
  p.max_epochs = 3;
  p.batch_size = 64;
  cml::SequenceSet tr, va;
  tr.X = va.X = d.X.data();
  tr.rows = va.rows = d.rows;
  tr.cols = va.cols = d.cols;
  tr.y = va.y = d.y.data();
  for (std::size_t i = 0; i < d.rows; ++i)
    if (d.run[i] >= L) (i < d.rows * 3 / 4 ? tr.ends : va.ends).push_back(i);
  return cml::Model::from_lstm(cml::LstmModel::train(tr, va, p, {}, nullptr));
}

TEST(Model, ContiguousRunsCountMinutesWithoutGaps) {
  EXPECT_EQ(cml::contiguous_runs({10, 11, 12, 14, 15, 17}), (std::vector<int>{1, 2, 3, 1, 2, 1}));
  EXPECT_TRUE(cml::contiguous_runs({}).empty());
}

TEST(Model, ParseModelTypeNamesTheRule) {
  EXPECT_EQ(cml::parse_model_type("lstm"), cml::ModelType::lstm);
  try {
    cml::parse_model_type("svm");
    FAIL();
  } catch (const cml::InvalidParameter& e) {
    EXPECT_STREQ(e.what(), "unknown model_type \"svm\"");
    EXPECT_NE(e.detail().find("xgboost, lstm, ensemble"), std::string::npos);
  }
}

TEST(Model, EnsembleIsTheWeightedSumOfItsMembers) {
  Data d(400);
  cml::Model x = small_xgb(d), l = small_lstm(d, 5);
  EXPECT_EQ(x.sequence_length(), 1);
  EXPECT_EQ(l.sequence_length(), 5);
  cml::Model e = cml::Model::ensemble({{x, 3.0}, {l, 1.0}});
  EXPECT_EQ(e.sequence_length(), 5);
  EXPECT_DOUBLE_EQ(e.members()[0].second, 0.75);
  EXPECT_DOUBLE_EQ(e.members()[1].second, 0.25);
  std::vector<std::size_t> rows = {10, 50, 150, 399};
  auto px = x.predict(d.rows_view(), rows), pl = l.predict(d.rows_view(), rows), pe = e.predict(d.rows_view(), rows);
  for (std::size_t k = 0; k < rows.size(); ++k) EXPECT_NEAR(pe[k], 0.75 * px[k] + 0.25 * pl[k], 1e-12);
}

TEST(Model, RowsWithoutEnoughHistoryAreRefused) {
  Data d(400);
  cml::Model l = small_lstm(d, 5);
  // row 200 is the first after the gap: 1 contiguous minute, the lstm needs 5
  EXPECT_THROW(l.predict(d.rows_view(), {200}), cml::InvalidParameter);
  EXPECT_NO_THROW(l.predict(d.rows_view(), {204}));
  EXPECT_THROW(l.predict(d.rows_view(), {400}), cml::InvalidParameter);
  cml::FeatureRows narrow{d.X.data(), d.rows, 2, d.run.data()};
  EXPECT_THROW(l.predict(narrow, {10}), cml::InvalidParameter);
}

TEST(Model, EnsembleWeightsAreValidated) {
  Data d(400);
  cml::Model x = small_xgb(d), l = small_lstm(d, 3);
  EXPECT_THROW(cml::Model::ensemble({{x, 1.0}}), cml::InvalidParameter);
  EXPECT_THROW(cml::Model::ensemble({{x, -1.0}, {l, 2.0}}), cml::InvalidParameter);
  EXPECT_THROW(cml::Model::ensemble({{x, 0.0}, {l, 0.0}}), cml::InvalidParameter);
  EXPECT_THROW(cml::Model::ensemble({{x, NAN}, {l, 1.0}}), cml::InvalidParameter);
  cml::Model e = cml::Model::ensemble({{x, 1.0}, {l, 1.0}});
  EXPECT_THROW(cml::Model::ensemble({{e, 1.0}, {l, 1.0}}), cml::InvalidParameter);
  EXPECT_THROW(e.save(), cml::Error);
}

TEST(Model, InverseMseWeights) {
  std::vector<double> y = {1, 2, 3, 4};
  std::vector<std::vector<double>> preds = {{1, 2, 3, 5}, {2, 3, 4, 5}};  // MSE 0.25 and 1
  auto w = cml::inverse_mse_weights(preds, y);
  EXPECT_NEAR(w[0], 0.8, 1e-12);
  EXPECT_NEAR(w[1], 0.2, 1e-12);
  auto exact = cml::inverse_mse_weights({{1, 2, 3, 4}, {2, 3, 4, 5}}, y);  // a perfect member takes all
  EXPECT_EQ(exact, (std::vector<double>{1.0, 0.0}));
  EXPECT_THROW(cml::inverse_mse_weights({}, y), cml::InvalidParameter);
  EXPECT_THROW(cml::inverse_mse_weights({{1, 2}}, y), cml::InvalidParameter);
  EXPECT_THROW(cml::inverse_mse_weights({{}}, {}), cml::InvalidParameter);
}

TEST(Model, EvaluateGivesMetricsBesideTheZeroChangeBaseline) {
  cml::Metrics m = cml::evaluate({0.5, -1, 0, 2}, {1, -1, -2, 0});
  EXPECT_EQ(m.n, 4u);
  EXPECT_NEAR(m.rmse, std::sqrt((0.25 + 0 + 4 + 4) / 4.0), 1e-12);
  EXPECT_NEAR(m.mae, (0.5 + 0 + 2 + 2) / 4.0, 1e-12);
  EXPECT_NEAR(m.baseline_rmse, std::sqrt((1 + 1 + 4 + 0) / 4.0), 1e-12);
  // directions on non-zero targets: up/up right, down/down right, 0 (a down call) vs -2 right
  EXPECT_NEAR(m.accuracy, 1.0, 1e-12);
  EXPECT_THROW(cml::evaluate({1}, {1, 2}), cml::InvalidParameter);
}

TEST(Model, CalibrationBucketsByPredictionSize) {
  // 100 rows: small predictions are right half the time, large ones always.
  std::vector<double> pred, y;
  for (int i = 0; i < 100; ++i) {
    const double p = (i + 1) * 0.01;
    pred.push_back(p);
    y.push_back(i < 50 ? (i % 2 ? 1.0 : -1.0) : 1.0);
  }
  auto j = nlohmann::json::parse(cml::calibration_json(pred, y));
  ASSERT_EQ(j.at("buckets").size(), 5u);
  EXPECT_DOUBLE_EQ(j["buckets"][0]["min_abs_pred"].get<double>(), 0.0);
  EXPECT_NEAR(j["buckets"][0]["hit_rate"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j["buckets"][4]["hit_rate"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(j["buckets"][4]["min_abs_pred"].get<double>(), 0.81, 1e-12);
  EXPECT_EQ(j["buckets"][4]["n"].get<int>(), 20);
  // few rows: one bucket
  auto small = nlohmann::json::parse(cml::calibration_json({0.1, -0.2, 0.3}, {1, 1, 1}));
  EXPECT_EQ(small.at("buckets").size(), 1u);
}

}  // namespace
