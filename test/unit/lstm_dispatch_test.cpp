// The LSTM's CPU kernels (docs/lstm.md "CPU kernels"): selection (auto | portable | avx2, the
// environment variable CRYPTOML_LSTM_KERNELS) and agreement of the portable (SSE2) and avx2
// (AVX2+FMA) builds of the network within the documented tolerance; a model trained on one
// predicts on the other. The cross-path tests skip on a CPU without AVX2+FMA.
#include "lstm.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

using cml::LstmKernels;
using cml::LstmModel;
using cml::LstmParams;
using cml::SequenceSet;
namespace detail = cml::lstm_detail;

namespace {

// Restores the process-wide kernel request and CRYPTOML_LSTM_KERNELS after a test.
class KernelsGuard {
 public:
  KernelsGuard() : saved_(cml::lstm_kernels_requested()) {
    const char* e = std::getenv("CRYPTOML_LSTM_KERNELS");
    had_env_ = e != nullptr;
    if (had_env_) env_ = e;
  }
  ~KernelsGuard() {
    if (had_env_) {
      setenv("CRYPTOML_LSTM_KERNELS", env_.c_str(), 1);
    } else {
      unsetenv("CRYPTOML_LSTM_KERNELS");
    }
    cml::set_lstm_kernels(saved_);
  }

 private:
  LstmKernels saved_;
  bool had_env_ = false;
  std::string env_;
};

std::string invalid_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const cml::InvalidParameter& e) {
    return std::string(e.what()) + " | " + e.detail() + " | " + e.hint();
  }
  return "(no InvalidParameter)";
}

TEST(LstmKernelsSelect, ParseAndName) {
  EXPECT_EQ(cml::parse_lstm_kernels("auto"), LstmKernels::automatic);
  EXPECT_EQ(cml::parse_lstm_kernels("portable"), LstmKernels::portable);
  EXPECT_EQ(cml::parse_lstm_kernels("avx2"), LstmKernels::avx2);
  for (LstmKernels k : {LstmKernels::automatic, LstmKernels::portable, LstmKernels::avx2}) {
    EXPECT_EQ(cml::parse_lstm_kernels(cml::lstm_kernels_name(k)), k);
  }
  for (const char* bad : {"", "AVX2", "sse2", "avx", "auto "}) {
    const std::string m = invalid_message([&] { cml::parse_lstm_kernels(bad, "cryptoml.lstm_kernels"); });
    EXPECT_NE(m.find("cryptoml.lstm_kernels = '" + std::string(bad) + "' is not valid"), std::string::npos) << m;
    EXPECT_NE(m.find("auto, portable, avx2"), std::string::npos) << m;
  }
}

TEST(LstmKernelsSelect, ResolveByCpuFlags) {
  for (bool a : {false, true}) {
    for (bool f : {false, true}) {
      EXPECT_EQ(cml::resolve_lstm_kernels(LstmKernels::portable, a, f), LstmKernels::portable);
    }
  }
  EXPECT_EQ(cml::resolve_lstm_kernels(LstmKernels::automatic, false, false), LstmKernels::portable);
  EXPECT_EQ(cml::resolve_lstm_kernels(LstmKernels::automatic, true, false), LstmKernels::portable);
  EXPECT_EQ(cml::resolve_lstm_kernels(LstmKernels::automatic, false, true), LstmKernels::portable);
#if defined(__x86_64__)
  // this build has the avx2 kernels (Makefile/CMakeLists.txt compile lstm_avx2.cpp with -mavx2 -mfma)
  EXPECT_EQ(cml::resolve_lstm_kernels(LstmKernels::automatic, true, true), LstmKernels::avx2);
  EXPECT_EQ(cml::resolve_lstm_kernels(LstmKernels::avx2, true, true), LstmKernels::avx2);
  // an old CPU: the error names the flags it lacks
  std::string m = invalid_message([] { cml::resolve_lstm_kernels(LstmKernels::avx2, false, false); });
  EXPECT_NE(m.find("this CPU lacks the avx2 and fma flags"), std::string::npos) << m;
  m = invalid_message([] { cml::resolve_lstm_kernels(LstmKernels::avx2, false, true); });
  EXPECT_NE(m.find("this CPU lacks the avx2 flag"), std::string::npos) << m;
  m = invalid_message([] { cml::resolve_lstm_kernels(LstmKernels::avx2, true, false); });
  EXPECT_NE(m.find("this CPU lacks the fma flag"), std::string::npos) << m;
  EXPECT_NE(m.find("'auto' or 'portable'"), std::string::npos) << m;
#endif
}

TEST(LstmKernelsSelect, SetAndActive) {
  KernelsGuard guard;
  cml::set_lstm_kernels(LstmKernels::portable);
  EXPECT_EQ(cml::lstm_kernels_requested(), LstmKernels::portable);
  EXPECT_EQ(cml::lstm_kernels_active(), LstmKernels::portable);
  cml::set_lstm_kernels(LstmKernels::automatic);
  EXPECT_EQ(cml::lstm_kernels_active(), cml::lstm_avx2_available() ? LstmKernels::avx2 : LstmKernels::portable);
  cml::set_lstm_kernels(LstmKernels::portable);
  if (cml::lstm_avx2_available()) {
    cml::set_lstm_kernels(LstmKernels::avx2);
    EXPECT_EQ(cml::lstm_kernels_active(), LstmKernels::avx2);
  } else {
    EXPECT_THROW(cml::set_lstm_kernels(LstmKernels::avx2), cml::InvalidParameter);
    EXPECT_EQ(cml::lstm_kernels_requested(), LstmKernels::portable);  // unchanged
  }
}

TEST(LstmKernelsSelect, EnvironmentVariable) {
  KernelsGuard guard;
  unsetenv("CRYPTOML_LSTM_KERNELS");
  detail::reset_lstm_kernels_from_env();
  EXPECT_EQ(cml::lstm_kernels_requested(), LstmKernels::automatic);
  setenv("CRYPTOML_LSTM_KERNELS", "portable", 1);
  detail::reset_lstm_kernels_from_env();
  EXPECT_EQ(cml::lstm_kernels_active(), LstmKernels::portable);
  if (cml::lstm_avx2_available()) {
    setenv("CRYPTOML_LSTM_KERNELS", "avx2", 1);
    detail::reset_lstm_kernels_from_env();
    EXPECT_EQ(cml::lstm_kernels_active(), LstmKernels::avx2);
  }
  setenv("CRYPTOML_LSTM_KERNELS", "fast", 1);
  detail::reset_lstm_kernels_from_env();
  const std::string m = invalid_message([] { cml::lstm_kernels_active(); });
  EXPECT_NE(m.find("CRYPTOML_LSTM_KERNELS = 'fast' is not valid"), std::string::npos) << m;
  // an explicit request (the GUC in PostgreSQL) takes over from the environment
  cml::set_lstm_kernels(LstmKernels::portable);
  EXPECT_EQ(cml::lstm_kernels_active(), LstmKernels::portable);
}

// --- the two paths agree -------------------------------------------------------------------------

// Documented tolerance (docs/lstm.md "CPU kernels"): on the same weights and inputs the two builds
// differ only in float rounding: FMA rounds a*b+c once instead of twice and the AVX2 GEMM sums in
// 8-wide instead of 4-wide blocks. Each rounding is ~6e-8 relative (float); the recurrence is
// contracting (sigmoid/tanh gates), so the differences do not grow over the 30 steps: measured
// 3e-8..6e-8 on predictions and 1e-7 relative on the gradient with the same weights, and 7e-7 of
// the target's standard deviation for a trained model predicted on the other path. Tolerance:
// predictions within 1e-5 (standardized units, or relative to the target's standard deviation)
// and the gradient within 1e-5 relative (L2 norm of the difference / L2 norm), 10x or more above
// what was measured.
constexpr double kPredTol = 1e-5, kGradRelTol = 1e-5;

void compare_paths(const detail::Shape& shape, std::size_t L, std::size_t B, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::vector<float> seqs(B * L * static_cast<std::size_t>(shape.features)), y(B);
  for (float& v : seqs) v = n01(rng);
  for (float& v : y) v = n01(rng);
  const std::vector<double> init = detail::init_params(shape, seed);
  const std::vector<float> theta(init.begin(), init.end());
  std::vector<float> pp, pa, gp, ga;
  const double lp = detail::loss_and_gradient_f32(shape, theta, seqs.data(), B, L, y.data(), LstmKernels::portable, &pp, &gp);
  const double la = detail::loss_and_gradient_f32(shape, theta, seqs.data(), B, L, y.data(), LstmKernels::avx2, &pa, &ga);
  ASSERT_EQ(pp.size(), B);
  ASSERT_EQ(gp.size(), ga.size());
  double max_dp = 0;
  bool differ = false;
  for (std::size_t b = 0; b < B; ++b) {
    max_dp = std::max(max_dp, std::fabs(static_cast<double>(pp[b]) - pa[b]));
    differ |= pp[b] != pa[b];
  }
  double dg = 0, ng = 0;
  for (std::size_t i = 0; i < gp.size(); ++i) {
    const double d = static_cast<double>(gp[i]) - ga[i];
    dg += d * d;
    ng += static_cast<double>(gp[i]) * gp[i];
    differ |= gp[i] != ga[i];
  }
  const double rel_g = std::sqrt(dg / ng);
  EXPECT_LT(max_dp, kPredTol) << "layers " << shape.layers;
  EXPECT_LT(rel_g, kGradRelTol) << "layers " << shape.layers;
  EXPECT_NEAR(lp, la, kPredTol * 2 * (1 + lp));
  // different code really ran: FMA and the AVX2 GEMM change some rounding
  EXPECT_TRUE(differ) << "the avx2 and portable kernels gave bit-identical results: is the dispatch working?";
  std::printf("[          ] layers %d: max |pred diff| %.3g, gradient relative diff %.3g\n", shape.layers, max_dp, rel_g);
}

TEST(LstmKernelsPaths, SameWeightsSameResultsWithinTolerance) {
  if (!cml::lstm_avx2_available()) GTEST_SKIP() << "CPU without AVX2+FMA: only the portable kernels run here";
  compare_paths({29, 32, 1}, 30, 200, 7);  // the benchmark's shape (200 sequences: two workspace pieces)
  compare_paths({5, 16, 2}, 12, 64, 8);
}

// The series of lstm_test.cpp: target = sum of feature 0 over the last 5 rows plus noise.
struct Series {
  std::vector<double> x, y;
  std::size_t rows = 0, cols = 2;
};

Series make_series(std::size_t rows, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n01(0.0, 1.0);
  Series s;
  s.rows = rows;
  s.x.resize(rows * 2);
  s.y.resize(rows);
  for (double& v : s.x) v = n01(rng);
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (std::size_t k = 0; k < 5 && k <= r; ++k) sum += s.x[(r - k) * 2];
    s.y[r] = sum + 0.05 * n01(rng);
  }
  return s;
}

SequenceSet set_of(const Series& s, std::size_t first_end, std::size_t last_end) {
  SequenceSet q{s.x.data(), s.rows, s.cols, s.y.data(), {}};
  for (std::size_t e = first_end; e <= last_end; ++e) q.ends.push_back(e);
  return q;
}

double mse(const std::vector<double>& pred, const SequenceSet& s) {
  double sum = 0;
  for (std::size_t k = 0; k < pred.size(); ++k) sum += (pred[k] - s.y[s.ends[k]]) * (pred[k] - s.y[s.ends[k]]);
  return sum / static_cast<double>(pred.size());
}

TEST(LstmKernelsPaths, TrainOnOnePredictOnTheOther) {
  if (!cml::lstm_avx2_available()) GTEST_SKIP() << "CPU without AVX2+FMA: only the portable kernels run here";
  KernelsGuard guard;
  const Series s = make_series(3000, 1);
  const SequenceSet train = set_of(s, 9, 2399), valid = set_of(s, 2409, 2999);
  LstmParams p;
  p.sequence_length = 10;
  p.hidden_size = 16;
  p.batch_size = 32;
  p.max_epochs = 25;
  p.patience = 5;
  p.learning_rate = 1e-2;
  double var = 0, mean = 0;
  for (std::size_t e : valid.ends) mean += s.y[e];
  mean /= static_cast<double>(valid.ends.size());
  for (std::size_t e : valid.ends) var += (s.y[e] - mean) * (s.y[e] - mean);
  var /= static_cast<double>(valid.ends.size());
  double y_scale = 0;  // the target's standard deviation: prediction tolerances are relative to it
  y_scale = std::sqrt(var);

  std::vector<double> valid_mse;
  for (LstmKernels trained_on : {LstmKernels::portable, LstmKernels::avx2}) {
    const LstmKernels other = trained_on == LstmKernels::avx2 ? LstmKernels::portable : LstmKernels::avx2;
    cml::set_lstm_kernels(trained_on);
    const LstmModel m = LstmModel::train(train, valid, p, {}, nullptr);
    const std::vector<double> own = m.predict(valid);
    const std::string bytes = m.save();
    // quality: each path learns the task as lstm_test's LearnsSumOfLastFiveSteps demands
    valid_mse.push_back(mse(own, valid));
    EXPECT_LT(valid_mse.back(), 0.1 * var) << cml::lstm_kernels_name(trained_on);
    // the other path loads the bytes and predicts the same within the tolerance
    cml::set_lstm_kernels(other);
    const LstmModel loaded = LstmModel::load(bytes);
    EXPECT_EQ(loaded.save(), bytes);  // the format carries nothing path-specific
    const std::vector<double> there = loaded.predict(valid);
    ASSERT_EQ(there.size(), own.size());
    double max_d = 0;
    for (std::size_t k = 0; k < own.size(); ++k) max_d = std::max(max_d, std::fabs(own[k] - there[k]));
    EXPECT_LT(max_d, kPredTol * y_scale) << "trained on " << cml::lstm_kernels_name(trained_on);
    std::printf("[          ] trained on %s: valid MSE %.5g (target variance %.4g); predicted on %s: max diff %.3g\n",
                cml::lstm_kernels_name(trained_on), valid_mse.back(), var, cml::lstm_kernels_name(other), max_d);
  }
  // the two trainings follow slightly different float paths but reach the same quality
  EXPECT_LT(std::fabs(valid_mse[0] - valid_mse[1]), 0.25 * std::max(valid_mse[0], valid_mse[1]));
}

// Both paths are deterministic whatever the heap hands out: Eigen's AVX2 code rounds differently
// by operand alignment, so every array the kernels touch is 64-byte aligned (docs/lstm.md).
TEST(LstmKernelsPaths, DeterministicWhateverTheHeapAlignment) {
  KernelsGuard guard;
  const Series s = make_series(600, 3);
  const SequenceSet train = set_of(s, 7, 449), valid = set_of(s, 457, 599);
  LstmParams p;
  p.sequence_length = 8;
  p.hidden_size = 8;
  p.batch_size = 64;
  p.max_epochs = 3;
  p.learning_rate = 1e-2;
  for (LstmKernels k : {LstmKernels::portable, LstmKernels::avx2}) {
    if (k == LstmKernels::avx2 && !cml::lstm_avx2_available()) continue;
    cml::set_lstm_kernels(k);
    const std::string first = LstmModel::train(train, valid, p, {}, nullptr).save();
    std::vector<std::vector<char>> junk;  // shifts where the next allocations land
    for (std::size_t shift : {16, 48, 80, 112}) {
      junk.emplace_back(shift);
      EXPECT_EQ(LstmModel::train(train, valid, p, {}, nullptr).save(), first)
          << cml::lstm_kernels_name(k) << " after a " << shift << "-byte allocation";
    }
  }
}

}  // namespace
