// Unit tests for the XGBoost wrapper (src/core/xgb.hpp).
#include "xgb.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

using cml::DenseMatrix;
using cml::XgbModel;
using cml::XgbParams;
using cml::XgbTrainReport;

namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

// Row-major features plus labels. y = 2*x0 - x1 + noise; x2 is an irrelevant feature.
struct Data {
  std::vector<float> x;
  std::vector<float> y;
  std::vector<float> truth;  // 2*x0 - x1 without noise
  std::size_t rows = 0, cols = 3;
  DenseMatrix m() const { return DenseMatrix{x.data(), rows, cols}; }
};

Data make_data(std::size_t rows, std::uint32_t seed, double noise = 0.1, double missing_frac = 0.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::normal_distribution<float> n(0.0f, static_cast<float>(noise));
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  Data d;
  d.rows = rows;
  d.x.resize(rows * d.cols);
  d.y.resize(rows);
  d.truth.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = &d.x[r * d.cols];
    for (std::size_t c = 0; c < d.cols; ++c) row[c] = u(rng);
    d.truth[r] = 2.0f * row[0] - row[1];
    d.y[r] = d.truth[r] + n(rng);
    if (missing_frac > 0) {
      for (std::size_t c = 0; c < d.cols; ++c) {
        if (coin(rng) < missing_frac) row[c] = kNaNf;
      }
    }
  }
  return d;
}

double rmse(const std::vector<float>& p, const std::vector<float>& y) {
  double s = 0;
  for (std::size_t i = 0; i < y.size(); ++i) s += (double(p[i]) - y[i]) * (double(p[i]) - y[i]);
  return std::sqrt(s / y.size());
}

double correlation(const std::vector<float>& a, const std::vector<float>& b) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= a.size();
  mb /= b.size();
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

const std::function<bool()> kNever = [] { return false; };

XgbModel train(const Data& t, const Data& v, const XgbParams& p, XgbTrainReport* rep = nullptr) {
  return XgbModel::train(t.m(), t.y, v.m(), v.y, p, kNever, rep);
}

// A small model shared by the load tests (few shallow trees: fast to load many times).
const std::string& small_model_bytes() {
  static const std::string bytes = [] {
    Data t = make_data(300, 11), v = make_data(100, 12);
    XgbParams p;
    p.max_depth = 3;
    p.num_rounds = 5;
    p.early_stopping_rounds = 0;
    return train(t, v, p).save();
  }();
  return bytes;
}

// Runs load(bytes) and returns the DataError message ("" when the load succeeded). Any other
// exception fails the test.
std::string load_error(const std::string& bytes) {
  try {
    XgbModel m = XgbModel::load(bytes);
    // A model that loads must also predict.
    std::vector<float> row(m.num_features(), 0.5f);
    auto p = m.predict(DenseMatrix{row.data(), 1, m.num_features()});
    EXPECT_EQ(p.size(), 1u);
    return "";
  } catch (const cml::DataError& e) {
    return e.what();
  }
}

void expect_clean_data_error(const std::string& bytes, const std::string& what) {
  std::string msg = load_error(bytes);
  EXPECT_FALSE(msg.empty()) << what << ": load succeeded";
  EXPECT_EQ(msg.rfind("xgboost model: ", 0), 0u) << what << ": " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << what << ": " << msg;
}

}  // namespace

TEST(Xgb, LearnsSimpleFunction) {
  Data t = make_data(2000, 1), v = make_data(500, 2), test = make_data(500, 3);
  XgbParams p;
  XgbTrainReport rep;
  XgbModel m = train(t, v, p, &rep);
  EXPECT_EQ(m.num_features(), 3u);

  std::vector<float> zeros(v.rows, 0.0f);
  const double zero_rmse = rmse(zeros, v.y);
  EXPECT_GT(zero_rmse, 1.0);
  EXPECT_LT(rep.best_valid_rmse, 0.25 * zero_rmse);
  ASSERT_GE(rep.best_iteration, 0);
  ASSERT_LT(static_cast<std::size_t>(rep.best_iteration), rep.valid_rmse.size());
  EXPECT_EQ(rep.best_valid_rmse, rep.valid_rmse[rep.best_iteration]);
  for (double r : rep.valid_rmse) EXPECT_GE(r, rep.best_valid_rmse);
  EXPECT_EQ(rep.rounds_trained, rep.best_iteration + 1);
  EXPECT_GT(rep.rounds_trained, 20);  // eta 0.1 needs many rounds on this function

  // The kept trees are the best iteration's: the model's own validation RMSE is the best one.
  EXPECT_NEAR(rmse(m.predict(v.m()), v.y), rep.best_valid_rmse, 1e-6 * rep.best_valid_rmse);

  std::vector<float> pred = m.predict(test.m());
  ASSERT_EQ(pred.size(), test.rows);
  EXPECT_GT(correlation(pred, test.truth), 0.97);
  EXPECT_LT(rmse(pred, test.y), 0.25);
}

TEST(Xgb, SaveLoadRoundTripIsBitIdentical) {
  Data t = make_data(2000, 4), v = make_data(400, 5), test = make_data(700, 6, 0.1, 0.1);
  XgbParams p;
  p.num_rounds = 60;
  XgbModel m = train(t, v, p);
  const std::string bytes = m.save();
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_EQ(bytes[0], '{');

  XgbModel loaded = XgbModel::load(bytes);
  EXPECT_EQ(loaded.num_features(), m.num_features());
  EXPECT_TRUE(bit_identical(m.predict(test.m()), loaded.predict(test.m())));
  EXPECT_EQ(loaded.save(), bytes);

  // Moves keep the booster; a moved-from model refuses to predict.
  XgbModel moved(std::move(loaded));
  EXPECT_TRUE(bit_identical(m.predict(test.m()), moved.predict(test.m())));
  EXPECT_THROW(loaded.predict(test.m()), cml::Error);  // NOLINT(bugprone-use-after-move)
  m = std::move(moved);
  EXPECT_EQ(m.save(), bytes);
}

TEST(Xgb, EarlyStoppingKeepsBestTrees) {
  Data t = make_data(2000, 7);
  // Validation labels are pure noise, unrelated to Xv.
  Data v = make_data(500, 8);
  std::mt19937 rng(9);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (float& y : v.y) y = n(rng);

  XgbParams p;  // num_rounds 300, early_stopping_rounds 10
  XgbTrainReport rep;
  XgbModel m = train(t, v, p, &rep);
  EXPECT_TRUE(rep.early_stopped);
  EXPECT_LT(rep.rounds_trained, 60);
  EXPECT_EQ(rep.rounds_trained, rep.best_iteration + 1);
  EXPECT_EQ(rep.valid_rmse.size(), static_cast<std::size_t>(rep.best_iteration + 1 + p.early_stopping_rounds));
  EXPECT_EQ(rep.best_valid_rmse, rep.valid_rmse[rep.best_iteration]);

  // Same seed, exactly rounds_trained rounds, no early stopping: the same trees.
  XgbParams q = p;
  q.num_rounds = rep.rounds_trained;
  q.early_stopping_rounds = 0;
  XgbTrainReport rep2;
  XgbModel ref = train(t, v, q, &rep2);
  EXPECT_EQ(rep2.rounds_trained, rep.rounds_trained);
  EXPECT_FALSE(rep2.early_stopped);
  Data test = make_data(500, 10);
  XgbModel loaded = XgbModel::load(m.save());
  EXPECT_TRUE(bit_identical(loaded.predict(test.m()), ref.predict(test.m())));
  EXPECT_TRUE(bit_identical(m.predict(test.m()), ref.predict(test.m())));

  // One round more is a different model (the comparison above can fail).
  XgbParams r = q;
  r.num_rounds = rep.rounds_trained + 1;
  XgbModel more = train(t, v, r);
  EXPECT_FALSE(bit_identical(more.predict(test.m()), ref.predict(test.m())));
}

TEST(Xgb, EarlyStoppingOffKeepsAllRounds) {
  Data t = make_data(500, 13), v = make_data(200, 14);
  for (float& y : v.y) y = -y;  // validation gets worse as the model learns
  XgbParams p;
  p.num_rounds = 25;
  p.early_stopping_rounds = 0;
  XgbTrainReport rep;
  XgbModel m = train(t, v, p, &rep);
  EXPECT_FALSE(rep.early_stopped);
  EXPECT_EQ(rep.rounds_trained, 25);
  EXPECT_EQ(rep.valid_rmse.size(), 25u);
  EXPECT_LT(rep.best_iteration, 24);
  EXPECT_NEAR(rmse(m.predict(v.m()), v.y), rep.valid_rmse.back(), 1e-6 * rep.valid_rmse.back());
}

TEST(Xgb, DeterministicForSameSeed) {
  Data t = make_data(1500, 15), v = make_data(300, 16), test = make_data(300, 17);
  XgbParams p;
  p.num_rounds = 40;
  p.subsample = 0.7;
  p.colsample_bytree = 0.7;
  p.seed = 42;
  const std::string a = train(t, v, p).save();
  const std::string b = train(t, v, p).save();
  EXPECT_EQ(a, b);

  p.seed = 43;
  const std::string c = train(t, v, p).save();
  EXPECT_NE(a, c);
  EXPECT_FALSE(bit_identical(XgbModel::load(a).predict(test.m()), XgbModel::load(c).predict(test.m())));

  // Seeds above INT64_MAX are accepted (passed to XGBoost as their two's complement).
  p.seed = std::numeric_limits<std::uint64_t>::max();
  EXPECT_NO_THROW(train(t, v, p));

  // Two training threads: still reproducible.
  p.seed = 42;
  p.nthread = 2;
  p.num_rounds = 15;
  EXPECT_EQ(train(t, v, p).save(), train(t, v, p).save());
}

TEST(Xgb, ShouldStopCancels) {
  Data t = make_data(500, 18), v = make_data(200, 19);
  XgbParams p;
  p.early_stopping_rounds = 0;
  int polls = 0;
  auto stop_after_3 = [&polls] { return ++polls > 3; };
  XgbTrainReport rep;
  rep.rounds_trained = -7;
  try {
    XgbModel::train(t.m(), t.y, v.m(), v.y, p, stop_after_3, &rep);
    ADD_FAILURE() << "train did not throw";
  } catch (const cml::Cancelled& e) {
    EXPECT_NE(std::string(e.what()).find("cancel"), std::string::npos) << e.what();
  }
  EXPECT_EQ(polls, 4);
  EXPECT_EQ(rep.rounds_trained, -7);  // report untouched

  // Stop at the first poll; and repeated cancellations leave nothing behind that breaks training.
  for (int i = 0; i < 20; ++i) {
    EXPECT_THROW(XgbModel::train(t.m(), t.y, v.m(), v.y, p, [] { return true; }, nullptr), cml::Cancelled);
  }
  p.num_rounds = 5;
  EXPECT_NO_THROW(XgbModel::train(t.m(), t.y, v.m(), v.y, p, std::function<bool()>(), nullptr));
}

TEST(Xgb, BadInputIsInvalidParameter) {
  Data t = make_data(200, 20), v = make_data(50, 21);
  XgbParams p;
  p.num_rounds = 3;
  auto run = [&](const DenseMatrix& X, const std::vector<float>& y, const DenseMatrix& Xv,
                 const std::vector<float>& yv, const XgbParams& q) {
    XgbModel::train(X, y, Xv, yv, q, kNever, nullptr);
  };
  const std::vector<float> none;
  EXPECT_THROW(run(DenseMatrix{t.x.data(), 0, 3}, none, v.m(), v.y, p), cml::InvalidParameter);
  EXPECT_THROW(run(DenseMatrix{t.x.data(), t.rows, 0}, t.y, v.m(), v.y, p), cml::InvalidParameter);
  EXPECT_THROW(run(t.m(), t.y, DenseMatrix{v.x.data(), 0, 3}, none, p), cml::InvalidParameter);
  EXPECT_THROW(run(DenseMatrix{nullptr, t.rows, 3}, t.y, v.m(), v.y, p), cml::InvalidParameter);

  std::vector<float> short_y(t.y.begin(), t.y.end() - 1);
  EXPECT_THROW(run(t.m(), short_y, v.m(), v.y, p), cml::InvalidParameter);
  std::vector<float> long_yv = v.y;
  long_yv.push_back(0);
  EXPECT_THROW(run(t.m(), t.y, v.m(), long_yv, p), cml::InvalidParameter);

  std::vector<float> nan_y = t.y;
  nan_y[17] = kNaNf;
  try {
    run(t.m(), nan_y, v.m(), v.y, p);
    ADD_FAILURE() << "NaN label accepted";
  } catch (const cml::InvalidParameter& e) {
    EXPECT_NE(std::string(e.what()).find("row 17"), std::string::npos) << e.what();
  }
  std::vector<float> inf_yv = v.y;
  inf_yv[3] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(run(t.m(), t.y, v.m(), inf_yv, p), cml::InvalidParameter);

  // Xv with different columns.
  std::vector<float> xv2(v.rows * 2, 0.5f);
  EXPECT_THROW(run(t.m(), t.y, DenseMatrix{xv2.data(), v.rows, 2}, v.y, p), cml::InvalidParameter);

  // Infinite feature values (NaN means missing; infinity is an error).
  Data bad = t;
  bad.x[5] = -std::numeric_limits<float>::infinity();
  EXPECT_THROW(run(bad.m(), bad.y, v.m(), v.y, p), cml::InvalidParameter);

  // Parameters are validated by train too.
  XgbParams q = p;
  q.eta = 0;
  EXPECT_THROW(run(t.m(), t.y, v.m(), v.y, q), cml::InvalidParameter);

  // predict: wrong number of columns, infinity; zero rows is fine.
  XgbModel m = XgbModel::train(t.m(), t.y, v.m(), v.y, p, kNever, nullptr);
  EXPECT_THROW(m.predict(DenseMatrix{xv2.data(), v.rows, 2}), cml::InvalidParameter);
  EXPECT_THROW(m.predict(bad.m()), cml::InvalidParameter);
  EXPECT_TRUE(m.predict(DenseMatrix{nullptr, 0, 3}).empty());
}

TEST(Xgb, CorruptBytesAreDataError) {
  const std::string& good = small_model_bytes();
  ASSERT_EQ(load_error(good), "");

  expect_clean_data_error("", "empty");
  expect_clean_data_error("{", "one byte");
  expect_clean_data_error("not a model at all", "text");

  // Random bytes, also ones that look like the start of a UBJSON model.
  std::mt19937 rng(23);
  for (int i = 0; i < 50; ++i) {
    std::string junk(1 + rng() % 2000, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (i % 2 == 0) {
      junk[0] = '{';
      if (junk.size() > 1) junk[1] = 'L';
    }
    expect_clean_data_error(junk, "random bytes #" + std::to_string(i));
  }

  // Every truncation of a model in a sweep (XGBoost's own reader would read past the end).
  for (std::size_t len = 1; len < good.size(); len += 1 + len / 8) {
    expect_clean_data_error(good.substr(0, len), "truncated to " + std::to_string(len));
  }
  expect_clean_data_error(good.substr(0, good.size() - 1), "truncated by one byte");
  expect_clean_data_error(good + "x", "trailing byte");

  // The JSON text format is not what save() writes.
  std::string text = nlohmann::json::from_ubjson(good).dump();
  expect_clean_data_error(text, "JSON text");

  // Single-byte corruption anywhere: either a clean DataError or a model that loads and predicts
  // (e.g. a changed leaf value); never a crash.
  int rejected = 0, accepted = 0;
  for (std::size_t pos = 0; pos < good.size(); pos += 1 + good.size() / 400) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string b = good;
      b[pos] = static_cast<char>(static_cast<unsigned char>(b[pos]) ^ flip);
      std::string msg = load_error(b);
      if (!msg.empty()) {
        ++rejected;
        EXPECT_EQ(msg.rfind("xgboost model: ", 0), 0u) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "byte " << pos << ": " << msg;
      } else {
        ++accepted;
      }
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
}

TEST(Xgb, XgboostLoadErrorsKeepFirstLine) {
  // Valid UBJSON with a sound tree structure, but written by nlohmann (small length markers,
  // float64 numbers), which XGBoost's reader rejects: its error, first line only.
  nlohmann::json j = nlohmann::json::from_ubjson(small_model_bytes());
  std::vector<std::uint8_t> v = nlohmann::json::to_ubjson(j);
  std::string msg = load_error(std::string(v.begin(), v.end()));
  ASSERT_FALSE(msg.empty());
  EXPECT_EQ(msg.rfind("xgboost model: ", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(msg.find("Stack trace"), std::string::npos) << msg;
  // The message is XGBoost's (1.7: 'Expecting: "L", got: ...'), not one of the byte check's.
  EXPECT_NE(msg.find("Expecting"), std::string::npos) << msg;
}

TEST(Xgb, StructurallyUnsafeModelsAreRejected) {
  const nlohmann::json base = nlohmann::json::from_ubjson(small_model_bytes());
  auto trees_of = [](nlohmann::json& j) -> nlohmann::json& {
    return j["learner"]["gradient_booster"]["model"]["trees"];
  };
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
    const char* expect;
  };
  const Case cases[] = {
      {"child out of range", [&](nlohmann::json& j) { trees_of(j)[0]["left_children"][0] = 1000; }, "child link"},
      {"cycle", [&](nlohmann::json& j) {
         auto& t = trees_of(j)[0];
         int l = t["left_children"][0];
         t["left_children"][l] = 0;
         t["right_children"][l] = l;
       }, "child link"},
      {"feature out of range", [&](nlohmann::json& j) { trees_of(j)[0]["split_indices"][0] = 3; }, "feature index"},
      {"parent out of range", [&](nlohmann::json& j) { trees_of(j)[0]["parents"][1] = -5; }, "parent link"},
      {"array length", [&](nlohmann::json& j) { trees_of(j)[0]["right_children"].erase(0); }, "num_nodes"},
      {"duplicate tree id", [&](nlohmann::json& j) { trees_of(j)[1]["id"] = 0; }, "tree ids"},
      {"num_trees", [&](nlohmann::json& j) {
         j["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "9";
       }, "num_trees"},
      {"tree_info group", [&](nlohmann::json& j) {
         j["learner"]["gradient_booster"]["model"]["tree_info"][0] = 3;
       }, "tree_info"},
      {"categorical", [&](nlohmann::json& j) { trees_of(j)[0]["split_type"][0] = 1; }, "categorical"},
      {"objective", [&](nlohmann::json& j) { j["learner"]["objective"]["name"] = "binary:logistic"; },
       "objective"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = base;
    c.edit(j);
    std::vector<std::uint8_t> v = nlohmann::json::to_ubjson(j);
    std::string msg = load_error(std::string(v.begin(), v.end()));
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.what << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << c.what << ": " << msg;
  }
}

TEST(Xgb, ValidateRejectsEachField) {
  EXPECT_NO_THROW(XgbParams().validate());
  XgbParams edge;
  edge.max_depth = 20;
  edge.eta = 1.0;
  edge.num_rounds = 100000;
  edge.early_stopping_rounds = 0;
  edge.subsample = 1e-9;
  edge.colsample_bytree = 1.0;
  edge.min_child_weight = 0;
  edge.lambda = 0;
  edge.alpha = 0;
  edge.nthread = 64;
  EXPECT_NO_THROW(edge.validate());

  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Bad {
    const char* name;
    std::function<void(XgbParams&)> set;
  };
  const Bad bads[] = {
      {"max_depth", [](XgbParams& p) { p.max_depth = 0; }},
      {"max_depth", [](XgbParams& p) { p.max_depth = 21; }},
      {"eta", [](XgbParams& p) { p.eta = 0; }},
      {"eta", [](XgbParams& p) { p.eta = 1.5; }},
      {"eta", [nan](XgbParams& p) { p.eta = nan; }},
      {"num_rounds", [](XgbParams& p) { p.num_rounds = 0; }},
      {"num_rounds", [](XgbParams& p) { p.num_rounds = 100001; }},
      {"early_stopping_rounds", [](XgbParams& p) { p.early_stopping_rounds = -1; }},
      {"early_stopping_rounds", [](XgbParams& p) { p.early_stopping_rounds = 100001; }},
      {"subsample", [](XgbParams& p) { p.subsample = 0; }},
      {"subsample", [](XgbParams& p) { p.subsample = 1.01; }},
      {"colsample_bytree", [](XgbParams& p) { p.colsample_bytree = -0.5; }},
      {"colsample_bytree", [](XgbParams& p) { p.colsample_bytree = 2; }},
      {"min_child_weight", [](XgbParams& p) { p.min_child_weight = -1; }},
      {"min_child_weight", [inf](XgbParams& p) { p.min_child_weight = inf; }},
      {"lambda", [](XgbParams& p) { p.lambda = -0.1; }},
      {"lambda", [nan](XgbParams& p) { p.lambda = nan; }},
      {"alpha", [](XgbParams& p) { p.alpha = -2; }},
      {"nthread", [](XgbParams& p) { p.nthread = 0; }},
      {"nthread", [](XgbParams& p) { p.nthread = 65; }},
  };
  for (const Bad& b : bads) {
    XgbParams p;
    b.set(p);
    try {
      p.validate();
      ADD_FAILURE() << b.name << " accepted";
    } catch (const cml::InvalidParameter& e) {
      EXPECT_NE(std::string(e.what()).find(b.name), std::string::npos) << e.what();
    }
  }
  XgbParams p;
  p.max_depth = 25;
  try {
    p.validate();
  } catch (const cml::InvalidParameter& e) {
    EXPECT_NE(std::string(e.what()).find("25"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("between 1 and 20"), std::string::npos) << e.what();
  }
}

TEST(Xgb, ParamsToJson) {
  XgbParams p;
  p.eta = 0.05;
  p.seed = 18446744073709551615ull;
  p.subsample = 0.8;
  nlohmann::json j = nlohmann::json::parse(p.to_json());
  EXPECT_EQ(j.size(), 11u);
  EXPECT_EQ(j["max_depth"], 6);
  EXPECT_EQ(j["eta"].get<double>(), 0.05);
  EXPECT_EQ(j["num_rounds"], 300);
  EXPECT_EQ(j["early_stopping_rounds"], 10);
  EXPECT_EQ(j["subsample"].get<double>(), 0.8);
  EXPECT_EQ(j["colsample_bytree"].get<double>(), 1.0);
  EXPECT_EQ(j["min_child_weight"].get<double>(), 1.0);
  EXPECT_EQ(j["lambda"].get<double>(), 1.0);
  EXPECT_EQ(j["alpha"].get<double>(), 0.0);
  EXPECT_EQ(j["nthread"], 1);
  EXPECT_EQ(j["seed"].get<std::uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(p.to_json().rfind("{\"max_depth\":6,", 0), 0u) << p.to_json();
}

TEST(Xgb, MissingValuesAccepted) {
  Data t = make_data(2000, 30, 0.1, 0.2), v = make_data(400, 31, 0.1, 0.2);
  XgbTrainReport rep;
  XgbParams p;
  XgbModel m = train(t, v, p, &rep);
  std::vector<float> zeros(v.rows, 0.0f);
  EXPECT_LT(rep.best_valid_rmse, 0.8 * rmse(zeros, v.y));

  std::vector<float> x = {kNaNf, kNaNf, kNaNf, 0.5f, kNaNf, 0.1f, kNaNf, -0.5f, kNaNf};
  std::vector<float> pred = m.predict(DenseMatrix{x.data(), 3, 3});
  ASSERT_EQ(pred.size(), 3u);
  for (float f : pred) EXPECT_TRUE(std::isfinite(f));
  EXPECT_GT(pred[1], pred[2]);  // x0 = 0.5 vs x0 = -0.5, x1 missing
}
