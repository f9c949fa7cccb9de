// Unit tests of the stacking combiner (src/core/stacking.hpp). Expected values come from the
// header's Conventions: constructed data with a known answer, a closed form for two members and a
// projected-gradient reference (written here from the objective) for three.
#include "stacking.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backtest.hpp"
#include "model.hpp"
#include "options.hpp"

namespace {

using cml::AlignedRecords;
using cml::OutcomePair;
using cml::StackFit;

constexpr std::int64_t kT0 = 27000000;  // minutes
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::vector<double> normal(std::size_t n, double sd, std::mt19937_64& g) {
  std::normal_distribution<double> d(0, sd);
  std::vector<double> v(n);
  for (double& x : v) x = d(g);
  return v;
}

// The objective of the Conventions, written out from the rows.
double objective(const std::vector<std::vector<double>>& P, const std::vector<double>& y, const std::vector<double>& w,
                 double lambda) {
  const std::size_t k = P.size(), n = y.size();
  std::vector<double> mse(k, 0.0);
  double s2 = 0, loss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double f = 0;
    for (std::size_t m = 0; m < k; ++m) {
      f += w[m] * P[m][i];
      s2 += P[m][i] * P[m][i];
    }
    loss += (y[i] - f) * (y[i] - f);
  }
  const std::vector<double> w0 = cml::inverse_mse_weights(P, y);
  double pen = 0;
  for (std::size_t m = 0; m < k; ++m) pen += (w[m] - w0[m]) * (w[m] - w0[m]);
  return loss / static_cast<double>(n) + lambda * s2 / static_cast<double>(n * k) * pen;
}

// Two members: w = (t, 1 - t), the objective is a parabola in t; its minimum on [0, 1].
double two_member_t(const std::vector<std::vector<double>>& P, const std::vector<double>& y, double lambda) {
  const double q0 = objective(P, y, {0, 1}, lambda), q1 = objective(P, y, {1, 0}, lambda), qh = objective(P, y, {0.5, 0.5}, lambda);
  // q(t) = a t^2 + b t + q0 through q(0.5) and q(1)
  const double a = 2 * (q1 + q0 - 2 * qh), b = q1 - q0 - a;
  return a > 0 ? std::clamp(-b / (2 * a), 0.0, 1.0) : (q1 < q0 ? 1.0 : 0.0);
}

// Euclidean projection onto the simplex (sort-based).
std::vector<double> project(std::vector<double> v) {
  std::vector<double> u = v;
  std::sort(u.rbegin(), u.rend());
  double css = 0, theta = 0;
  for (std::size_t j = 0; j < u.size(); ++j) {
    css += u[j];
    const double t = (css - 1) / static_cast<double>(j + 1);
    if (u[j] - t > 0) theta = t;
  }
  for (double& x : v) x = std::max(0.0, x - theta);
  return v;
}

// Projected gradient with step 1/L (L = trace of the Hessian >= its largest eigenvalue): converges
// to the unique minimum of a strictly convex quadratic on the simplex.
std::vector<double> reference_pg(const std::vector<std::vector<double>>& P, const std::vector<double>& y, double lambda, int iters) {
  const std::size_t k = P.size(), n = y.size();
  std::vector<double> G(k * k, 0.0), c(k, 0.0);
  double s2 = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t m = 0; m < k; ++m) {
      c[m] += P[m][i] * y[i] / n;
      s2 += P[m][i] * P[m][i] / static_cast<double>(n * k);
      for (std::size_t l = 0; l < k; ++l) G[m * k + l] += P[m][i] * P[l][i] / n;
    }
  const std::vector<double> w0 = cml::inverse_mse_weights(P, y);
  double L = 0;
  for (std::size_t m = 0; m < k; ++m) L += 2 * (G[m * k + m] + lambda * s2);
  std::vector<double> w(k, 1.0 / k);
  for (int it = 0; it < iters; ++it) {
    std::vector<double> g(k, 0.0);
    for (std::size_t m = 0; m < k; ++m) {
      for (std::size_t l = 0; l < k; ++l) g[m] += G[m * k + l] * w[l];
      g[m] = 2 * (g[m] - c[m] + lambda * s2 * (w[m] - w0[m]));
    }
    for (std::size_t m = 0; m < k; ++m) w[m] -= g[m] / L;
    w = project(w);
  }
  return w;
}

void expect_simplex(const StackFit& f) {
  double sum = 0;
  for (double w : f.weights) {
    EXPECT_GE(w, 0.0);
    sum += w;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
}

// ---- the meta-model -----------------------------------------------------------------------------

TEST(Stacking, ExactOnConstructedDataWithoutPenalty) {
  std::mt19937_64 g(1);
  const std::size_t n = 2000;
  std::vector<std::vector<double>> P = {normal(n, 1.0, g), normal(n, 0.5, g)};
  std::vector<double> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.7 * P[0][i] + 0.3 * P[1][i];
  const StackFit f = cml::fit_stack(P, y, 0.0);
  ASSERT_TRUE(f.stacked);
  EXPECT_NEAR(f.weights[0], 0.7, 1e-12);
  EXPECT_NEAR(f.weights[1], 0.3, 1e-12);
  EXPECT_LT(f.kkt, 1e-10);
  // three members, the true mix on a face: (0.5, 0, 0.5)
  std::vector<std::vector<double>> P3 = {normal(n, 1.0, g), normal(n, 1.0, g), normal(n, 1.0, g)};
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.5 * P3[0][i] + 0.5 * P3[2][i];
  const StackFit f3 = cml::fit_stack(P3, y, 0.0);
  EXPECT_NEAR(f3.weights[0], 0.5, 1e-12);
  EXPECT_EQ(f3.weights[1], 0.0);
  EXPECT_NEAR(f3.weights[2], 0.5, 1e-12);
}

TEST(Stacking, NonNegativeWhereLeastSquaresIsNot) {
  // y = 1.6 p1 - 0.6 p2 with p2 = p1 + noise: unconstrained least squares puts -0.6 on p2
  std::mt19937_64 g(2);
  const std::size_t n = 1500;
  std::vector<double> p1 = normal(n, 1.0, g), e = normal(n, 0.3, g), p2(n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    p2[i] = p1[i] + e[i];
    y[i] = 1.6 * p1[i] - 0.6 * p2[i];
  }
  for (double lambda : {0.0, 0.01, 1.0}) {
    const StackFit f = cml::fit_stack({p1, p2}, y, lambda);
    expect_simplex(f);
    EXPECT_NEAR(f.weights[0], two_member_t({p1, p2}, y, lambda), 1e-9) << "lambda " << lambda;
    EXPECT_LT(f.kkt, 1e-10);
  }
  EXPECT_EQ(cml::fit_stack({p1, p2}, y, 0.0).weights[1], 0.0);  // on the boundary exactly
}

TEST(Stacking, MatchesProjectedGradientAndKkt) {
  // three correlated members and noise: the exact support solution equals the converged
  // projected-gradient iterate, and satisfies the KKT conditions (the optimality proof of a convex
  // problem)
  std::mt19937_64 g(3);
  const std::size_t n = 800;
  std::vector<double> sig = normal(n, 1.0, g);
  std::vector<std::vector<double>> P(3);
  for (int m = 0; m < 3; ++m) {
    std::vector<double> noise = normal(n, 0.5 + m, g);
    P[m].resize(n);
    for (std::size_t i = 0; i < n; ++i) P[m][i] = sig[i] * (0.3 + 0.4 * m) + noise[i];
  }
  std::vector<double> y = normal(n, 1.0, g);
  for (std::size_t i = 0; i < n; ++i) y[i] += sig[i];
  for (double lambda : {0.0, 0.05, 0.5, 5.0}) {
    const StackFit f = cml::fit_stack(P, y, lambda);
    const std::vector<double> ref = reference_pg(P, y, lambda, 200000);
    expect_simplex(f);
    for (int m = 0; m < 3; ++m) EXPECT_NEAR(f.weights[m], ref[m], 1e-7) << "lambda " << lambda << " member " << m;
    EXPECT_LE(objective(P, y, f.weights, lambda), objective(P, y, ref, lambda) + 1e-12);
    EXPECT_LT(f.kkt, 1e-9);
  }
}

TEST(Stacking, ShrinkageLimits) {
  std::mt19937_64 g(4);
  const std::size_t n = 1000;
  std::vector<std::vector<double>> P = {normal(n, 1.0, g), normal(n, 1.0, g)};
  std::vector<double> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.9 * P[0][i] + 0.1 * P[1][i];
  const std::vector<double> w0 = cml::inverse_mse_weights(P, y);
  const StackFit inf = cml::fit_stack(P, y, 1e12);
  EXPECT_NEAR(inf.weights[0], w0[0], 1e-9);
  EXPECT_NEAR(inf.weights[1], w0[1], 1e-9);
  EXPECT_EQ(inf.inverse_mse, w0);
  // the distance to w0 shrinks as lambda grows; lambda 0 is the exact mix
  double last = 2;
  for (double lambda : {0.0, 0.1, 1.0, 10.0, 100.0}) {
    const double d = std::fabs(cml::fit_stack(P, y, lambda).weights[0] - w0[0]);
    EXPECT_LT(d, last) << "lambda " << lambda;
    last = d;
  }
  EXPECT_NEAR(cml::fit_stack(P, y, 0.0).weights[0], 0.9, 1e-12);
  // the rule: lambda = 250 / n
  EXPECT_DOUBLE_EQ(cml::fit_stack(P, y).lambda, cml::kStackPriorPairs / n);
}

// ---- degenerate inputs ----------------------------------------------------------------------------

TEST(Stacking, DegenerateInputs) {
  std::mt19937_64 g(5);
  const std::size_t n = 500;
  std::vector<double> p = normal(n, 1.0, g), y = normal(n, 1.0, g);
  for (std::size_t i = 0; i < n; ++i) y[i] += 0.5 * p[i];
  // one member constant: the fallback, named
  const StackFit c = cml::fit_stack({p, std::vector<double>(n, 0.02)}, y);
  EXPECT_FALSE(c.stacked);
  EXPECT_NE(c.fallback.find("member 2 predicts one constant"), std::string::npos) << c.fallback;
  EXPECT_EQ(c.weights, cml::inverse_mse_weights({p, std::vector<double>(n, 0.02)}, y));
  // every prediction 0
  const StackFit z = cml::fit_stack({std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)}, y);
  EXPECT_FALSE(z.stacked);
  EXPECT_NE(z.fallback.find("predicts 0"), std::string::npos) << z.fallback;
  // identical members: the data cannot tell them apart, the penalty gives exactly w0 (equal here)
  const StackFit same = cml::fit_stack({p, p}, y);
  ASSERT_TRUE(same.stacked);
  EXPECT_NEAR(same.weights[0], 0.5, 1e-12);
  EXPECT_NEAR(same.weights[1], 0.5, 1e-12);
  // collinear members (p2 = 2 p1): unique by the penalty, the closed form's answer
  std::vector<double> p2(n);
  for (std::size_t i = 0; i < n; ++i) p2[i] = 2 * p[i];
  const StackFit col = cml::fit_stack({p, p2}, y);
  ASSERT_TRUE(col.stacked);
  expect_simplex(col);
  EXPECT_NEAR(col.weights[0], two_member_t({p, p2}, y, col.lambda), 1e-9);
  // too few pairs: inverse-MSE weights, with the reason
  std::vector<double> p99(p.begin(), p.begin() + 99), q99 = normal(99, 1.0, g), y99(y.begin(), y.begin() + 99);
  const StackFit few = cml::fit_stack({p99, q99}, y99);
  EXPECT_FALSE(few.stacked);
  EXPECT_EQ(few.fallback, "99 known pairs, fewer than 100: inverse-MSE weights");
  EXPECT_EQ(few.weights, cml::inverse_mse_weights({p99, q99}, y99));
  std::vector<double> p100(p.begin(), p.begin() + 100), q100 = normal(100, 1.0, g), y100(y.begin(), y.begin() + 100);
  EXPECT_TRUE(cml::fit_stack({p100, q100}, y100).stacked);
  // no pair: equal weights
  const StackFit none = cml::fit_stack({{}, {}}, {});
  EXPECT_FALSE(none.stacked);
  EXPECT_EQ(none.weights, (std::vector<double>{0.5, 0.5}));
  // bad input
  EXPECT_THROW(cml::fit_stack({p, {1.0}}, y), cml::InvalidParameter);
  std::vector<double> bad = p;
  bad[3] = kNaN;
  EXPECT_THROW(cml::fit_stack({bad, p}, y), cml::InvalidParameter);
  EXPECT_THROW(cml::fit_stack({p, p}, y, std::numeric_limits<double>::infinity()), cml::InvalidParameter);
  EXPECT_THROW(cml::fit_stack({}, y), cml::InvalidParameter);
}

TEST(Stacking, Combiner) {
  EXPECT_EQ(cml::parse_combiner("stacking"), cml::Combiner::stacking);
  EXPECT_EQ(cml::parse_combiner("inverse_mse"), cml::Combiner::inverse_mse);
  try {
    cml::parse_combiner("Stacking");
    FAIL();
  } catch (const cml::InvalidParameter& e) {
    EXPECT_STREQ(e.what(), "unknown combiner \"Stacking\"");
    EXPECT_EQ(e.detail(), "rule: combiner is \"inverse_mse\" (the default) or \"stacking\"");
  }
}

TEST(Stacking, CombinerOption) {
  using cml::json;
  using cml::ModelType;
  const json& cfg = cml::Config::defaults();
  EXPECT_EQ(cml::parse_train_options(ModelType::ensemble, cfg, json::object()).combiner, cml::Combiner::inverse_mse);
  const cml::TrainOptions t = cml::parse_train_options(ModelType::ensemble, cfg, json{{"combiner", "stacking"}});
  EXPECT_EQ(t.combiner, cml::Combiner::stacking);
  EXPECT_FALSE(t.weights_set);
  // an explicit combiner overrides configured weights; {} weights ask for learned ones
  json with_weights = cfg;
  with_weights["inference"]["ensembleWeights"] = json{{"xgboost", 1}, {"lstm", 1}};
  EXPECT_TRUE(cml::parse_train_options(ModelType::ensemble, with_weights, json::object()).weights_set);
  EXPECT_FALSE(cml::parse_train_options(ModelType::ensemble, with_weights, json{{"combiner", "stacking"}}).weights_set);
  EXPECT_NO_THROW(cml::parse_train_options(ModelType::ensemble, cfg, json{{"combiner", "stacking"}, {"weights", json::object()}}));
  auto message = [&](ModelType type, const json& o, bool backtest) {
    try {
      if (backtest) (void)cml::parse_backtest_options(o, type, 15);
      else (void)cml::parse_train_options(type, cfg, o);
    } catch (const cml::InvalidParameter& e) {
      return std::string(e.what()) + " | " + e.detail();
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(ModelType::ensemble, json{{"combiner", "median"}}, false),
            "option combiner = \"median\" is not allowed | rule: combiner is one of \"inverse_mse\", \"stacking\" (how the "
            "ensemble weighs its members; docs/training.md, Stacking)");
  EXPECT_EQ(message(ModelType::ensemble, json{{"combiner", 1}}, false).substr(0, 38), "option combiner must be a string, got ");
  EXPECT_EQ(message(ModelType::xgboost, json{{"combiner", "stacking"}}, false),
            "option combiner is for model_type ensemble, not xgboost | rule: combiner chooses how an ensemble weighs its members; "
            "an xgboost or lstm model has none");
  EXPECT_EQ(message(ModelType::ensemble, json{{"combiner", "stacking"}, {"weights", json{{"xgboost", 1}}}}, false),
            "options weights and combiner \"stacking\" are both given | rule: weights fixes the members' weights, combiner learns "
            "them: give one of them");
  EXPECT_EQ(cml::parse_backtest_options(json{{"combiner", "stacking"}}, ModelType::ensemble, 15).combiner, cml::Combiner::stacking);
  EXPECT_EQ(cml::parse_backtest_options(json::object(), ModelType::ensemble, 15).combiner, cml::Combiner::inverse_mse);
  EXPECT_EQ(message(ModelType::lstm, json{{"combiner", "stacking"}}, true).substr(0, 52), "option combiner is for model_type ensemble, not lstm");
  EXPECT_EQ(message(ModelType::ensemble, json{{"combiner", "Stacking"}}, true).substr(0, 43), "option combiner = \"Stacking\" is not allowed");
}

// ---- records: alignment, the weights as of a time, the prequential record -------------------------

struct Records {
  std::vector<OutcomePair> a, b;
};
Records make_records(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<double> s = normal(n, 1.0, g), e1 = normal(n, 0.8, g), e2 = normal(n, 0.4, g), noise = normal(n, 1.0, g);
  Records r;
  for (std::size_t i = 0; i < n; ++i) {
    const double y = 0.6 * s[i] + noise[i];
    r.a.push_back(OutcomePair{kT0 + static_cast<std::int64_t>(i), s[i] + e1[i], y});
    r.b.push_back(OutcomePair{kT0 + static_cast<std::int64_t>(i), 0.5 * s[i] + e2[i], y});
  }
  return r;
}

TEST(Stacking, Alignment) {
  std::vector<OutcomePair> a = {{kT0 + 2, 1, 0.5}, {kT0, 2, 0.1}, {kT0 + 1, kNaN, 0.2}, {kT0 + 3, 4, kNaN}, {kT0 + 5, 6, 0.6}};
  std::vector<OutcomePair> b = {{kT0, -2, 9}, {kT0 + 1, 1, 0.2}, {kT0 + 2, 3, 0.5}, {kT0 + 3, 1, 0.3}};
  const AlignedRecords al = cml::align_records({a, b});
  EXPECT_EQ(al.ts, (std::vector<std::int64_t>{kT0, kT0 + 2}));  // +1: NaN raw, +3: NaN actual, +5: not in b
  EXPECT_EQ(al.raw[0], (std::vector<double>{2, 1}));
  EXPECT_EQ(al.raw[1], (std::vector<double>{-2, 3}));
  EXPECT_EQ(al.actual, (std::vector<double>{0.1, 0.5}));  // the first member's actual
  EXPECT_EQ(cml::combine_aligned(al, {0.25, 0.75})[1].raw, 0.25 * 1 + 0.75 * 3);
  a.push_back({kT0, 1, 1});
  EXPECT_THROW(cml::align_records({a, b}), cml::InvalidParameter);
  EXPECT_THROW(cml::align_records({}), cml::InvalidParameter);
  EXPECT_THROW(cml::combine_aligned(al, {1.0}), cml::InvalidParameter);
}

TEST(Stacking, WeightsReadOnlyPairsKnownAsOf) {
  const Records r = make_records(3000, 6);
  const int h = 15;
  const std::int64_t as_of = kT0 + 2000;
  const StackFit f = cml::stack_weights(cml::align_records({r.a, r.b}), h, as_of);
  ASSERT_TRUE(f.stacked);
  EXPECT_EQ(f.pairs, 2000u - h + 1);  // ts + 15 <= as_of: ts <= kT0 + 1985
  // the same as fitting those rows directly
  std::vector<std::vector<double>> P(2);
  std::vector<double> y;
  for (std::size_t i = 0; i < f.pairs; ++i) {
    P[0].push_back(r.a[i].raw);
    P[1].push_back(r.b[i].raw);
    y.push_back(r.a[i].actual);
  }
  const StackFit direct = cml::fit_stack(P, y);
  EXPECT_TRUE(same_bits(f.weights[0], direct.weights[0]) && same_bits(f.weights[1], direct.weights[1]));
  // anything not known at as_of (raw or actual of a pair with ts + h > as_of) changes nothing
  Records later = r;
  for (std::size_t i = f.pairs; i < later.a.size(); ++i) {
    later.a[i].actual = -50;
    later.a[i].raw = 100;
    later.b[i].raw = -3;
  }
  const StackFit g = cml::stack_weights(cml::align_records({later.a, later.b}), h, as_of);
  EXPECT_TRUE(same_bits(f.weights[0], g.weights[0]) && same_bits(f.weights[1], g.weights[1]));
  // and the last known pair does change them
  later.a[f.pairs - 1].actual += 5;
  const StackFit k = cml::stack_weights(cml::align_records({later.a, later.b}), h, as_of);
  EXPECT_FALSE(same_bits(f.weights[0], k.weights[0]));
}

TEST(Stacking, PrequentialRecordHasNoLookAhead) {
  const Records r = make_records(1200, 7);
  const int h = 5;
  const AlignedRecords al = cml::align_records({r.a, r.b});
  const std::vector<OutcomePair> rec = cml::stacked_record(al, h);
  ASSERT_EQ(rec.size(), al.ts.size() - h);  // the first h pairs have no known pair before them
  // each pair: the weights as of its own minute, applied to its member predictions
  for (std::size_t j = 0; j < rec.size(); j += 97) {
    const std::size_t i = j + h;
    EXPECT_EQ(rec[j].ts, al.ts[i]);
    const StackFit f = cml::stack_weights(al, h, al.ts[i]);
    EXPECT_TRUE(same_bits(rec[j].raw, f.weights[0] * al.raw[0][i] + f.weights[1] * al.raw[1][i])) << "pair " << i;
    EXPECT_EQ(rec[j].actual, al.actual[i]);
  }
  // the fallback for the early pairs, stacking later
  EXPECT_FALSE(cml::stack_weights(al, h, al.ts[50]).stacked);
  EXPECT_TRUE(cml::stack_weights(al, h, al.ts[600]).stacked);
  // outcomes from minute T on are changed: no pair before T + h changes; member outputs from T on
  // are changed: no pair before T changes
  const std::int64_t T = kT0 + 700;
  Records later = r;
  for (std::size_t i = 700; i < later.a.size(); ++i) later.a[i].actual *= -3;
  std::vector<OutcomePair> rec2 = cml::stacked_record(cml::align_records({later.a, later.b}), h);
  for (std::size_t j = 0; j < rec.size(); ++j) {
    if (rec[j].ts < T + h) EXPECT_TRUE(same_bits(rec[j].raw, rec2[j].raw)) << "ts " << rec[j].ts - kT0;
    if (rec[j].ts == T + h) EXPECT_FALSE(same_bits(rec[j].raw, rec2[j].raw));
  }
  later = r;
  for (std::size_t i = 700; i < later.a.size(); ++i) later.b[i].raw += 1;
  rec2 = cml::stacked_record(cml::align_records({later.a, later.b}), h);
  for (std::size_t j = 0; j < rec.size(); ++j)
    if (rec[j].ts < T) EXPECT_TRUE(same_bits(rec[j].raw, rec2[j].raw)) << "ts " << rec[j].ts - kT0;
  EXPECT_THROW(cml::stacked_record(al, 0), cml::InvalidParameter);
}

TEST(Stacking, FitJson) {
  const Records r = make_records(400, 8);
  const StackFit f = cml::stack_weights(cml::align_records({r.a, r.b}), 15, kT0 + 1000);
  const std::string j = cml::stack_fit_json(f);
  EXPECT_NE(j.find("\"stacked\":true"), std::string::npos) << j;
  EXPECT_NE(j.find("\"fallback\":null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"pairs\":400"), std::string::npos) << j;
}

// ---- walk-forward (backtest.hpp with combiner stacking) --------------------------------------------

cml::SampleSet wf_samples(int n) {  // y = 0.5 f0 - 0.2 f1 + noise, f2 noise
  std::mt19937_64 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  cml::SampleSet s;
  s.cols = 3;
  for (int i = 0; i < n; ++i) {
    const float f0 = nd(rng), f1 = nd(rng), f2 = nd(rng), e = nd(rng);
    s.ts.push_back(kT0 + i);
    s.X.insert(s.X.end(), {f0, f1, f2});
    s.y.push_back(0.5f * f0 - 0.2f * f1 + 0.3f * e);
  }
  return s;
}

cml::BacktestConfig wf_cfg(cml::ModelType t) {
  cml::BacktestConfig c;
  c.model = t;
  c.horizon = 15;
  c.retrain_every = 300;
  c.window = 1000;
  c.xgb.num_rounds = 30;
  c.xgb.max_depth = 3;
  c.xgb.eta = 0.3;
  c.lstm.sequence_length = 5;
  c.lstm.hidden_size = 4;
  c.lstm.max_epochs = 3;
  c.lstm.patience = 2;
  c.lstm.batch_size = 256;
  c.combiner = cml::Combiner::stacking;
  return c;
}

std::vector<cml::SegmentResult> wf_run(const cml::SampleSet& s, std::int64_t from, std::int64_t to, const cml::BacktestConfig& c) {
  std::vector<cml::SegmentResult> out;
  cml::walk_forward(s, from, to, c, 0, [&](const cml::SegmentResult& r) { out.push_back(r); }, {});
  return out;
}

TEST(StackingWalkForward, OneConvexMixPerSegmentAndNoLookAhead) {
  const cml::SampleSet s = wf_samples(1700);
  const std::int64_t from = kT0 + 1100, to = kT0 + 1700;
  const auto x = wf_run(s, from, to, wf_cfg(cml::ModelType::xgboost));
  const auto l = wf_run(s, from, to, wf_cfg(cml::ModelType::lstm));
  const auto e = wf_run(s, from, to, wf_cfg(cml::ModelType::ensemble));
  ASSERT_EQ(e.size(), 2u);
  for (std::size_t k = 0; k < e.size(); ++k) {
    ASSERT_EQ(e[k].predictions.size(), x[k].predictions.size());
    ASSERT_EQ(e[k].predictions.size(), l[k].predictions.size());
    // raw = w x + (1 - w) l with one w per segment, in [0, 1]
    std::vector<double> implied;
    for (std::size_t i = 0; i < e[k].predictions.size(); ++i) {
      const double a = x[k].predictions[i].raw, b = l[k].predictions[i].raw, v = e[k].predictions[i].raw;
      EXPECT_GE(v, std::min(a, b) - 1e-9);
      EXPECT_LE(v, std::max(a, b) + 1e-9);
      if (std::fabs(a - b) > 0.05) implied.push_back((v - b) / (a - b));
      EXPECT_GE(e[k].predictions[i].confidence, 50.0);
      EXPECT_FALSE(std::isnan(e[k].predictions[i].lower));
    }
    ASSERT_GT(implied.size(), 50u);
    const auto [lo, hi] = std::minmax_element(implied.begin(), implied.end());
    EXPECT_LT(*hi - *lo, 1e-6) << "segment " << k;
    EXPECT_GT(*lo, 0.5) << "the xgboost member (the better one on this signal) weighs most";
  }
  // samples from the second segment's start on changed: the first segment is the same
  cml::SampleSet p = s;
  for (std::size_t i = 0; i < p.ts.size(); ++i)
    if (p.ts[i] >= from + 300) {
      p.X[i * 3] = 2.0f;
      p.y[i] = -4.0f;
    }
  const auto e2 = wf_run(p, from, to, wf_cfg(cml::ModelType::ensemble));
  ASSERT_EQ(e2[0].predictions.size(), e[0].predictions.size());
  for (std::size_t i = 0; i < e[0].predictions.size(); ++i) {
    EXPECT_TRUE(same_bits(e[0].predictions[i].raw, e2[0].predictions[i].raw));
    EXPECT_TRUE(same_bits(e[0].predictions[i].predicted, e2[0].predictions[i].predicted));
    EXPECT_TRUE(same_bits(e[0].predictions[i].confidence, e2[0].predictions[i].confidence));
  }
  // against the inverse-MSE combiner on the same folds and members: with one member far better than
  // the other (xgboost sees the linear signal, the tiny lstm barely), stacking puts more weight on
  // it and its raw output errs less
  cml::BacktestConfig inv = wf_cfg(cml::ModelType::ensemble);
  inv.combiner = cml::Combiner::inverse_mse;
  const auto e_inv = wf_run(s, from, to, inv);
  double se_stack = 0, se_inv = 0, se_zero = 0;
  std::size_t hit_stack = 0, hit_inv = 0, n = 0;
  for (std::size_t k = 0; k < e.size(); ++k)
    for (std::size_t i = 0; i < e[k].predictions.size(); ++i) {
      const cml::BacktestPrediction &a = e[k].predictions[i], &b = e_inv[k].predictions[i];
      se_stack += (a.raw - a.actual) * (a.raw - a.actual);
      se_inv += (b.raw - b.actual) * (b.raw - b.actual);
      se_zero += a.actual * a.actual;
      hit_stack += (a.raw > 0) == (a.actual > 0);
      hit_inv += (b.raw > 0) == (b.actual > 0);
      ++n;
    }
  std::printf("walk-forward on constructed data, %zu predictions: raw RMSE / zero-change stacking %.4f, inverse-MSE %.4f; "
              "direction stacking %.3f, inverse-MSE %.3f\n",
              n, std::sqrt(se_stack / se_zero), std::sqrt(se_inv / se_zero), double(hit_stack) / n, double(hit_inv) / n);
  EXPECT_LT(se_stack, se_inv);
  // deterministic
  const auto again = wf_run(s, from, to, wf_cfg(cml::ModelType::ensemble));
  for (std::size_t i = 0; i < e[1].predictions.size(); ++i) EXPECT_TRUE(same_bits(e[1].predictions[i].raw, again[1].predictions[i].raw));
}

}  // namespace
