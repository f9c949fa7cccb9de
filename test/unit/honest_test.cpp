// Unit tests of honest forecast statements (src/core/honest.hpp). The expected values follow the
// header's "Conventions" comment; each is worked by hand in the comment next to it, or computed by
// a small reference written here straight from the stated formula (never copied from a run).
#include "honest.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

namespace {

using cml::Calibration;
using cml::HonestSettings;
using cml::OutcomePair;
using cml::SkillTest;
using cml::SplitRows;
using cml::Statement;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::int64_t kT0 = 28000000;  // minutes; an arbitrary start

// 1 - Phi(z), the one-sided p-value of a standard normal statistic.
double upper_tail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

// |a - b| <= tol * max(1, |b|).
void expect_rel(double actual, double expected, double tol = 1e-12) {
  EXPECT_NEAR(actual, expected, tol * std::max(1.0, std::fabs(expected))) << "expected " << expected;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same_statement(const Statement& a, const Statement& b) {
  return same_bits(a.raw, b.raw) && same_bits(a.served, b.served) && same_bits(a.confidence, b.confidence) &&
         same_bits(a.lower, b.lower) && same_bits(a.upper, b.upper) && a.skilled == b.skilled;
}

// ---- references written from the Conventions ---------------------------------------------------

struct RefLrv {
  double v = kNaN;
  std::size_t m = 0;
};
// The long-run variance of the Conventions, written out directly (batch sums recomputed, no prefix
// sums): c = x - mean(x); rho = sum_{i>=1} c_i c_{i-1} / sum_{i>=1} c_{i-1}^2 clipped to
// [-0.99, 0.99]; a = 4 rho^2 / ((1 - rho)^2 (1 + rho)^2); m = min(max(h, ceil(1.1447 (a n)^(1/3))),
// floor(n / 2)); V = n m / ((n - m + 1)(n - m)) * sum_{j=0..n-m} (mean of c_j..c_{j+m-1})^2.
// NaN (m 0) with fewer than 4 values.
RefLrv ref_lrv(const std::vector<double>& x, int h) {
  RefLrv r;
  const std::size_t n = x.size();
  if (n < 4) return r;
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(n);
  std::vector<double> c;
  for (double v : x) c.push_back(v - mean);
  double num = 0, den = 0;
  for (std::size_t i = 1; i < n; ++i) {
    num += c[i] * c[i - 1];
    den += c[i - 1] * c[i - 1];
  }
  const double rho = std::clamp(den > 0 ? num / den : 0.0, -0.99, 0.99);
  const double a = 4.0 * rho * rho / ((1.0 - rho) * (1.0 - rho) * (1.0 + rho) * (1.0 + rho));
  const double andrews = std::ceil(1.1447 * std::cbrt(a * static_cast<double>(n)));
  r.m = std::min<std::size_t>(std::max<std::size_t>(static_cast<std::size_t>(h), static_cast<std::size_t>(andrews)), n / 2);
  double ss = 0;
  for (std::size_t j = 0; j + r.m <= n; ++j) {
    double s = 0;
    for (std::size_t k = j; k < j + r.m; ++k) s += c[k];
    ss += (s / static_cast<double>(r.m)) * (s / static_cast<double>(r.m));
  }
  const double nn = static_cast<double>(n), mm = static_cast<double>(r.m);
  r.v = nn * mm / ((nn - mm + 1.0) * (nn - mm)) * ss;
  return r;
}

struct RefDm {
  double mean = 0, statistic = 0, p = 1;
  std::size_t m = 0;
};
// DM = mean / sqrt(V / n), V from ref_lrv; p = 1 - Phi(DM); no small-sample factor. Fewer than 4
// values: mean only, statistic 0, p 1.
RefDm ref_dm(const std::vector<double>& d, int h) {
  RefDm r;
  const double n = static_cast<double>(d.size());
  r.mean = std::accumulate(d.begin(), d.end(), 0.0) / n;
  if (d.size() < 4) return r;
  const RefLrv v = ref_lrv(d, h);
  r.m = v.m;
  r.statistic = r.mean / std::sqrt(v.v / n);
  r.p = upper_tail(r.statistic);
  return r;
}

// The prequential loss differentials of pairs sorted by ts: b_i fitted (clipped least squares
// through the origin) on the pairs j with ts_j + h <= ts_i, when there are >= kMinFitPairs of them.
std::vector<double> ref_loss_diffs(const std::vector<OutcomePair>& p, int h) {
  std::vector<double> d;
  for (std::size_t i = 0; i < p.size(); ++i) {
    double sra = 0, srr = 0;
    std::size_t m = 0;
    for (std::size_t j = 0; j < p.size(); ++j) {
      if (p[j].ts + h <= p[i].ts) {
        sra += p[j].raw * p[j].actual;
        srr += p[j].raw * p[j].raw;
        ++m;
      }
    }
    if (m < cml::kMinFitPairs) continue;
    const double b = srr > 0 ? std::clamp(sra / srr, 0.0, 1.0) : 0.0;
    const double e = p[i].actual - b * p[i].raw;
    d.push_back(p[i].actual * p[i].actual - e * e);
  }
  return d;
}

double ref_shrink(const std::vector<OutcomePair>& p) {
  double sra = 0, srr = 0;
  for (const auto& x : p) {
    sra += x.raw * x.actual;
    srr += x.raw * x.raw;
  }
  return srr > 0 ? std::clamp(sra / srr, 0.0, 1.0) : 0.0;
}

// The p-quantile of Student's t with df degrees of freedom, independently of the implementation:
// the density integrated by Simpson's rule from 0 (F(t) = 1/2 + sign(t) * integral_0^|t| f),
// inverted by bisection.
double ref_t_quantile(double p, double df) {
  const double norm = std::exp(std::lgamma((df + 1) / 2) - std::lgamma(df / 2)) / std::sqrt(df * M_PI);
  auto pdf = [&](double x) { return norm * std::pow(1 + x * x / df, -(df + 1) / 2); };
  auto cdf = [&](double t) {
    const int steps = 4000;  // even
    const double hstep = std::fabs(t) / steps;
    double s = pdf(0) + pdf(std::fabs(t));
    for (int k = 1; k < steps; ++k) s += (k % 2 ? 4.0 : 2.0) * pdf(k * hstep);
    const double half = s * hstep / 3;
    return t >= 0 ? 0.5 + half : 0.5 - half;
  };
  double lo = -200, hi = 200;
  for (int i = 0; i < 80; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// The served factor of the Conventions, written out: b = clip(LS slope, 0, 1) over all pairs; the
// n pairs (in time order) cut into kSlopeBlocks consecutive blocks, floor(n / kSlopeBlocks) pairs
// each and the first also the n mod kSlopeBlocks left over; each block with a non-zero raw gives
// its least-squares slope b_k = sum(r a) / sum(r^2); K >= 3 slopes and blocks of >= kMinFitPairs:
// clip(mean(b_k) - t(K - 1, 1 - significance) * sd(b_k) * sqrt(1 + 1/K), 0, b), sd with K - 1;
// otherwise 0.
double ref_block_lb(const std::vector<OutcomePair>& p, double significance) {
  const double b = ref_shrink(p);
  const std::size_t n = p.size(), blocks = cml::kSlopeBlocks, size = n / blocks;
  if (b <= 0 || size < cml::kMinFitPairs) return 0;
  std::vector<double> slopes;
  std::size_t from = 0;
  for (std::size_t k = 0; k < blocks; ++k) {
    const std::size_t to = from + size + (k == 0 ? n % blocks : 0);
    double spa = 0, spp = 0;
    for (std::size_t i = from; i < to; ++i) {
      spa += p[i].raw * p[i].actual;
      spp += p[i].raw * p[i].raw;
    }
    if (spp > 0) slopes.push_back(spa / spp);
    from = to;
  }
  const double k = static_cast<double>(slopes.size());
  if (slopes.size() < 3) return 0;
  const double mean = std::accumulate(slopes.begin(), slopes.end(), 0.0) / k;
  double ss = 0;
  for (double s : slopes) ss += (s - mean) * (s - mean);
  const double sd = std::sqrt(ss / (k - 1));
  return std::clamp(mean - ref_t_quantile(1 - significance, k - 1) * sd * std::sqrt(1 + 1 / k), 0.0, b);
}

// One block of `count` pairs at consecutive minutes from kT0 + 1000 * block: raw = scale * ((i mod
// 5) - 2), actual = slope * raw (sum of raw^2 = scale^2 * 60 for 30 pairs).
std::vector<OutcomePair> block_pairs(int block, int count, double slope, double scale = 1.0) {
  std::vector<OutcomePair> p;
  for (int i = 0; i < count; ++i) {
    const double r = scale * ((i % 5) - 2);
    p.push_back({kT0 + 1000 * static_cast<std::int64_t>(block) + i, r, slope * r});
  }
  return p;
}

std::vector<OutcomePair> concat(std::initializer_list<std::vector<OutcomePair>> parts) {
  std::vector<OutcomePair> out;
  for (const auto& v : parts) out.insert(out.end(), v.begin(), v.end());
  return out;
}

// Five blocks of 30 with the given slopes.
std::vector<OutcomePair> five_blocks(double s0, double s1, double s2, double s3, double s4) {
  return concat({block_pairs(0, 30, s0), block_pairs(1, 30, s1), block_pairs(2, 30, s2), block_pairs(3, 30, s3),
                 block_pairs(4, 30, s4)});
}

// k-th smallest (1-based) of v, clamped to [1, n].
double kth(std::vector<double> v, long k) {
  std::sort(v.begin(), v.end());
  k = std::clamp<long>(k, 1, static_cast<long>(v.size()));
  return v[static_cast<std::size_t>(k - 1)];
}

void expect_same_skill(const SkillTest& a, const SkillTest& b, double tol = 1e-12) {
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.batch, b.batch);
  expect_rel(a.mean_loss_diff, b.mean_loss_diff, tol);
  expect_rel(a.statistic, b.statistic, tol);
  expect_rel(a.p_value, b.p_value, tol);
  EXPECT_EQ(a.skilled, b.skilled);
}

// Pairs at consecutive minutes: actual = slope * raw + noise * N(0, 1).
std::vector<OutcomePair> make_pairs(std::size_t n, double slope, double noise, std::uint32_t seed,
                                    std::int64_t t0 = kT0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<OutcomePair> p(n);
  for (std::size_t i = 0; i < n; ++i) {
    p[i].ts = t0 + static_cast<std::int64_t>(i);
    p[i].raw = nd(rng);
    p[i].actual = slope * p[i].raw + noise * nd(rng);
  }
  return p;
}

// ======================================================================================== split

TEST(HonestSplit, WorkedExample) {
  // n = 100, split 0.2, horizon 15: valid = floor(100 * 0.2) = 20, embargo = 15,
  // train = 100 - 20 - 15 = 65 >= 30 and valid 20 >= 10 -> ok.
  const SplitRows r = cml::split_rows(100, 0.2, 15);
  EXPECT_EQ(r.valid, 20u);
  EXPECT_EQ(r.embargo, 15u);
  EXPECT_EQ(r.train, 65u);
  EXPECT_TRUE(r.ok);
}

TEST(HonestSplit, BoundariesOfTrainAndValid) {
  // n = 56, 0.2, 15: valid floor(11.2) = 11, train 56 - 11 - 15 = 30 -> ok (train exactly 30).
  SplitRows r = cml::split_rows(56, 0.2, 15);
  EXPECT_EQ(r.valid, 11u);
  EXPECT_EQ(r.embargo, 15u);
  EXPECT_EQ(r.train, 30u);
  EXPECT_TRUE(r.ok);
  // n = 55: valid floor(11) = 11, train 55 - 11 - 15 = 29 < 30 -> not ok.
  r = cml::split_rows(55, 0.2, 15);
  EXPECT_EQ(r.valid, 11u);
  EXPECT_EQ(r.train, 29u);
  EXPECT_FALSE(r.ok);
  // n = 50, 0.2, 1: valid 10 (exactly 10), embargo 1, train 39 -> ok.
  r = cml::split_rows(50, 0.2, 1);
  EXPECT_EQ(r.valid, 10u);
  EXPECT_EQ(r.embargo, 1u);
  EXPECT_EQ(r.train, 39u);
  EXPECT_TRUE(r.ok);
  // n = 49, 0.2, 1: valid floor(9.8) = 9 < 10 -> not ok even though train = 49 - 9 - 1 = 39.
  r = cml::split_rows(49, 0.2, 1);
  EXPECT_EQ(r.valid, 9u);
  EXPECT_EQ(r.train, 39u);
  EXPECT_FALSE(r.ok);
  // n = 50, 0.2, 15: valid 10, train 50 - 10 - 15 = 25 < 30 -> not ok.
  r = cml::split_rows(50, 0.2, 15);
  EXPECT_EQ(r.valid, 10u);
  EXPECT_EQ(r.train, 25u);
  EXPECT_FALSE(r.ok);
  // n = 179, 0.5, 60: valid floor(89.5) = 89, train 179 - 89 - 60 = 30 -> ok.
  r = cml::split_rows(179, 0.5, 60);
  EXPECT_EQ(r.valid, 89u);
  EXPECT_EQ(r.train, 30u);
  EXPECT_TRUE(r.ok);
  // n = 178, 0.5, 60: valid 89, train 178 - 89 - 60 = 29 -> not ok.
  EXPECT_FALSE(cml::split_rows(178, 0.5, 60).ok);
}

TEST(HonestSplit, TooFewRowsIsNotOk) {
  // n = 10, 0.2, 15: valid 2, nothing left to train on.
  const SplitRows r = cml::split_rows(10, 0.2, 15);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.train, 0u);
  EXPECT_FALSE(cml::split_rows(0, 0.2, 15).ok);
  EXPECT_EQ(cml::split_rows(0, 0.2, 15).train, 0u);
}

TEST(HonestSplit, PartsAddUpWhenOk) {
  for (double split : {0.05, 0.1, 0.2, 0.3, 0.5})
    for (int h : {1, 5, 15, 60})
      for (std::size_t n = 0; n < 2000; n += 7) {
        const SplitRows r = cml::split_rows(n, split, h);
        if (!r.ok) continue;
        EXPECT_EQ(r.train + r.embargo + r.valid, n) << n << " " << split << " " << h;
        EXPECT_EQ(r.embargo, static_cast<std::size_t>(h));
        EXPECT_GE(r.train, cml::kMinTrainRows);
        EXPECT_GE(r.valid, cml::kMinValidRows);
      }
}

TEST(HonestSplit, MinRowsHandComputed) {
  // 0.2, 15: valid >= 10 needs n >= 50; train = n - floor(0.2 n) - 15 >= 30 needs
  // n - floor(0.2 n) >= 45: n = 55 gives 44, n = 56 gives 45 -> 56.
  EXPECT_EQ(cml::split_min_rows(0.2, 15), 56u);
  // 0.05, 1: valid >= 10 needs n >= 200 (199 * 0.05 = 9.95); train 200 - 10 - 1 = 189 -> 200.
  EXPECT_EQ(cml::split_min_rows(0.05, 1), 200u);
  // 0.5, 60: train = ceil(n / 2) - 60 >= 30 -> ceil(n / 2) >= 90 -> n = 179 (valid 89).
  EXPECT_EQ(cml::split_min_rows(0.5, 60), 179u);
}

TEST(HonestSplit, MinRowsMatchesBruteForce) {
  for (double split : {0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 1.0 / 3.0, 0.4, 0.5})
    for (int h : {1, 2, 5, 15, 60, 240, 1440}) {
      std::size_t smallest = 0;
      bool found = false;
      for (std::size_t n = 0; n < 10000 && !found; ++n)
        if (cml::split_rows(n, split, h).ok) {
          smallest = n;
          found = true;
        }
      ASSERT_TRUE(found) << split << " " << h;
      EXPECT_EQ(cml::split_min_rows(split, h), smallest) << split << " " << h;
      // and every larger n is ok too (n - floor(s n) and floor(s n) never decrease)
      for (std::size_t n = smallest; n < smallest + 300; ++n)
        EXPECT_TRUE(cml::split_rows(n, split, h).ok) << n << " " << split << " " << h;
    }
}

TEST(HonestSplit, MinRowsRejectsBadSplitAndHorizon) {
  // the rule is 0 < split < 1 (training.validationSplit's); the backtests check their own [0.05, 0.5]
  EXPECT_THROW(cml::split_min_rows(1.0, 15), cml::InvalidParameter);
  EXPECT_THROW(cml::split_min_rows(1.5, 15), cml::InvalidParameter);
  EXPECT_THROW(cml::split_min_rows(0.0, 15), cml::InvalidParameter);
  EXPECT_THROW(cml::split_min_rows(-0.2, 15), cml::InvalidParameter);
  EXPECT_THROW(cml::split_min_rows(kNaN, 15), cml::InvalidParameter);
  EXPECT_THROW(cml::split_min_rows(0.2, 0), cml::InvalidParameter);
  EXPECT_THROW(cml::split_min_rows(0.2, -5), cml::InvalidParameter);
  EXPECT_NO_THROW(cml::split_min_rows(0.05, 1));
  EXPECT_NO_THROW(cml::split_min_rows(0.5, 1));
  // 0.04: valid = floor(0.04 n) >= 10 first at n = 250, train = 250 - 10 - 15 = 225 >= 30
  EXPECT_EQ(cml::split_min_rows(0.04, 15), 250u);
}

// ==================================================================================== conformal

TEST(HonestConformal, RankWithFiniteSampleCorrection) {
  const std::vector<double> s = {5, 1, 4, 2, 3};  // sorted 1 2 3 4 5, n = 5
  // alpha 0.2: rank ceil(6 * 0.8) = ceil(4.8) = 5 -> 5
  EXPECT_EQ(cml::conformal_quantile(s, 0.2), 5.0);
  // alpha 0.5: rank ceil(6 * 0.5) = 3 -> 3
  EXPECT_EQ(cml::conformal_quantile(s, 0.5), 3.0);
  // alpha 0.4: rank ceil(6 * 0.6) = ceil(3.6) = 4 -> 4
  EXPECT_EQ(cml::conformal_quantile(s, 0.4), 4.0);
  // alpha 0.8: rank ceil(6 * 0.2) = ceil(1.2) = 2 -> 2
  EXPECT_EQ(cml::conformal_quantile(s, 0.8), 2.0);
  // alpha 0.1: rank ceil(6 * 0.9) = ceil(5.4) = 6 > 5 -> the largest, 5
  EXPECT_EQ(cml::conformal_quantile(s, 0.1), 5.0);
  // alpha 0: rank 6 > 5 -> largest; alpha < 0 (an unclipped ACI level): larger rank -> largest
  EXPECT_EQ(cml::conformal_quantile(s, 0.0), 5.0);
  EXPECT_EQ(cml::conformal_quantile(s, -0.5), 5.0);
  // alpha 1: rank ceil(0) = 0 < 1 -> smallest; alpha 1.5: rank ceil(-3) = -3 -> smallest
  EXPECT_EQ(cml::conformal_quantile(s, 1.0), 1.0);
  EXPECT_EQ(cml::conformal_quantile(s, 1.5), 1.0);
  // alpha 0.95: rank ceil(6 * 0.05) = ceil(0.3) = 1 -> smallest
  EXPECT_EQ(cml::conformal_quantile(s, 0.95), 1.0);
}

TEST(HonestConformal, ExactIntegerRanksDoNotRoundUp) {
  // n = 9, alpha 0.1: (n + 1)(1 - alpha) = 10 * 0.9 = 9 exactly in math -> rank 9, the largest
  // of 9 (a rank of 10 would also give the largest, so this case cannot tell; see n = 19 below).
  std::vector<double> nine;
  for (int i = 1; i <= 9; ++i) nine.push_back(10.0 * i);
  EXPECT_EQ(cml::conformal_quantile(nine, 0.1), 90.0);
  // n = 19, alpha 0.1: 20 * 0.9 = 18 exactly -> rank 18 (not 19): the 18th smallest of 1..19.
  std::vector<double> nineteen;
  for (int i = 19; i >= 1; --i) nineteen.push_back(i);
  EXPECT_EQ(cml::conformal_quantile(nineteen, 0.1), 18.0);
  // n = 19, alpha 0.3: 20 * 0.7 = 14 exactly -> rank 14.
  EXPECT_EQ(cml::conformal_quantile(nineteen, 0.3), 14.0);
  // n = 4, alpha 0.6: 5 * 0.4 = 2 exactly -> rank 2.
  EXPECT_EQ(cml::conformal_quantile({4, 3, 2, 1}, 0.6), 2.0);
  // n = 9, alpha 0.7: 10 * 0.3 = 3 exactly in decimal math -> rank 3. In doubles,
  // 1 - 0.7 = 0.30000000000000004 and 10 * that = 3.0000000000000004, whose ceil is 4: an
  // implementation must not let that representation error move the rank.
  std::vector<double> ones;
  for (int i = 1; i <= 9; ++i) ones.push_back(i);
  EXPECT_EQ(cml::conformal_quantile(ones, 0.7), 3.0);
}

TEST(HonestConformal, EmptyTiesAndBadAlpha) {
  EXPECT_TRUE(std::isnan(cml::conformal_quantile({}, 0.2)));
  EXPECT_TRUE(std::isnan(cml::conformal_quantile({}, 1.0)));
  EXPECT_THROW(cml::conformal_quantile({1, 2, 3}, kNaN), cml::InvalidParameter);
  // one score: rank ceil(2 * 0.8) = 2 > 1 -> the only score
  EXPECT_EQ(cml::conformal_quantile({0.7}, 0.2), 0.7);
  // ties: {2, 2, 2, 1}, alpha 0.5: rank ceil(5 * 0.5) = 3 -> sorted 1 2 2 2 -> 2
  EXPECT_EQ(cml::conformal_quantile({2, 2, 2, 1}, 0.5), 2.0);
}

// ========================================================================================== ACI

TEST(HonestAci, Level) {
  // 0.2 + 0.005 * (10 * 0.2 - 5) = 0.2 + 0.005 * (-3) = 0.185
  EXPECT_NEAR(cml::aci_alpha(0.2, 0.005, 10, 5), 0.185, 1e-15);
  // nothing stated: alpha itself
  EXPECT_NEAR(cml::aci_alpha(0.2, 0.005, 0, 0), 0.2, 1e-15);
  // gamma 0: alpha itself whatever the record
  EXPECT_NEAR(cml::aci_alpha(0.2, 0.0, 100, 100), 0.2, 1e-15);
  // no miss in 100: 0.2 + 0.1 * (100 * 0.2 - 0) = 0.2 + 2 = 2.2 (not clipped)
  EXPECT_NEAR(cml::aci_alpha(0.2, 0.1, 100, 0), 2.2, 1e-14);
  // all 10 missed: 0.2 + 0.5 * (2 - 10) = 0.2 - 4 = -3.8 (not clipped)
  EXPECT_NEAR(cml::aci_alpha(0.2, 0.5, 10, 10), -3.8, 1e-14);
  // missed at the nominal rate leaves the level: 0.1 + 0.05 * (20 * 0.1 - 2) = 0.1
  EXPECT_NEAR(cml::aci_alpha(0.1, 0.05, 20, 2), 0.1, 1e-15);
}

TEST(HonestAci, MissedAboveStatedThrows) {
  EXPECT_THROW(cml::aci_alpha(0.2, 0.005, 5, 6), cml::InvalidParameter);
  EXPECT_THROW(cml::aci_alpha(0.2, 0.005, 0, 1), cml::InvalidParameter);
  EXPECT_NO_THROW(cml::aci_alpha(0.2, 0.005, 6, 6));
}

// ======================================================================================= shrink

TEST(HonestShrink, LeastSquaresThroughOrigin) {
  // (1 * 0.5 + 2 * 1) / (1 + 4) = 2.5 / 5 = 0.5
  EXPECT_NEAR(cml::shrink_factor({1, 2}, {0.5, 1}), 0.5, 1e-15);
  // (1 * 0.2 + 2 * 0.1 + 3 * 0.9) / (1 + 4 + 9) = 3.1 / 14 = 0.22142857142857142
  EXPECT_NEAR(cml::shrink_factor({1, 2, 3}, {0.2, 0.1, 0.9}), 3.1 / 14.0, 1e-15);
  // negative raws: (-2 * -1 + 1 * 0.5) / (4 + 1) = 2.5 / 5 = 0.5
  EXPECT_NEAR(cml::shrink_factor({-2, 1}, {-1, 0.5}), 0.5, 1e-15);
}

TEST(HonestShrink, ClipsAndDegenerateCases) {
  // (1 * -1 + 2 * -1) / 5 = -0.6 -> clipped to 0
  EXPECT_EQ(cml::shrink_factor({1, 2}, {-1, -1}), 0.0);
  // (3 + 3) / 2 = 3 -> clipped to 1
  EXPECT_EQ(cml::shrink_factor({1, 1}, {3, 3}), 1.0);
  // slope exactly 1
  EXPECT_EQ(cml::shrink_factor({1, -2, 4}, {1, -2, 4}), 1.0);
  // all raw 0 -> 0; no pair -> 0
  EXPECT_EQ(cml::shrink_factor({0, 0, 0}, {1, 2, 3}), 0.0);
  EXPECT_EQ(cml::shrink_factor({}, {}), 0.0);
}

TEST(HonestShrink, SizeMismatchThrows) {
  EXPECT_THROW(cml::shrink_factor({1, 2}, {1}), cml::InvalidParameter);
  EXPECT_THROW(cml::shrink_factor({}, {1}), cml::InvalidParameter);
}

// ============================================================================ shrink lower bound

TEST(HonestStudentT, ClosedFormsSymmetryAndDomain) {
  // df 1 (Cauchy): t = tan(pi (p - 1/2)): p 0.95 -> tan(0.45 pi) = 6.3137515; p 0.75 -> tan(pi/4) = 1.
  EXPECT_NEAR(cml::student_t_quantile(0.95, 1), std::tan(0.45 * M_PI), 1e-9);
  EXPECT_NEAR(cml::student_t_quantile(0.75, 1), 1.0, 1e-9);
  // df 2: t = (2p - 1) / sqrt(2 p (1 - p)): p 0.95 -> 0.9 / sqrt(0.095) = 2.9199856;
  // p 0.975 -> 0.95 / sqrt(0.04875) = 4.3026527.
  EXPECT_NEAR(cml::student_t_quantile(0.95, 2), 0.9 / std::sqrt(0.095), 1e-9);
  EXPECT_NEAR(cml::student_t_quantile(0.975, 2), 0.95 / std::sqrt(0.04875), 1e-9);
  // df 4: t = sqrt(4 cos(arccos(sqrt(q)) / 3) / sqrt(q) - 4), q = 4 p (1 - p): p 0.95 -> q 0.19
  // -> 2.1318468.
  const double q = 4 * 0.95 * 0.05;
  EXPECT_NEAR(cml::student_t_quantile(0.95, 4), std::sqrt(4 * std::cos(std::acos(std::sqrt(q)) / 3) / std::sqrt(q) - 4),
              1e-9);
  // many degrees of freedom: the normal quantile
  EXPECT_NEAR(cml::student_t_quantile(0.95, 1e7), 1.6448536269514722, 1e-6);
  for (double df : {1.0, 2.0, 3.0, 7.0, 30.0})
    for (double p : {0.6, 0.9, 0.95, 0.99}) {
      EXPECT_NEAR(cml::student_t_quantile(p, df), -cml::student_t_quantile(1 - p, df), 1e-9) << p << " " << df;
      EXPECT_NEAR(cml::student_t_quantile(p, df), ref_t_quantile(p, df), 1e-8) << p << " " << df;
    }
  // the median is 0. Tolerance 1e-7, not 1e-12: the implementation's CDF cannot tell t from 0 while
  // t^2 is below df * 2^-52 (df / (df + t^2) rounds to 1), so its bisection stops within about
  // sqrt(df * 2^-52) of 0 (1.5e-8 at df 3, 4.2e-8 at df 30) -- a precision limit, see the report.
  for (double df : {1.0, 2.0, 3.0, 7.0, 30.0}) EXPECT_NEAR(cml::student_t_quantile(0.5, df), 0.0, 1e-7) << df;
  for (double p : {0.0, 1.0, -0.5, 1.5, kNaN})
    EXPECT_THROW(cml::student_t_quantile(p, 3), cml::InvalidParameter) << p;
  for (double df : {0.0, -1.0, kNaN})
    EXPECT_THROW(cml::student_t_quantile(0.95, df), cml::InvalidParameter) << df;
}

TEST(HonestShrinkLowerBound, ExactFitKeepsTheSlope) {
  // Five blocks of 30 (n = 150, floor(150 / 5) = 30 = kMinFitPairs), actual = 0.5 raw: every
  // block's slope b_k = 0.5, mean 0.5, sd 0 -> 0.5 - t * 0 * sqrt(6/5) = 0.5, clip(0.5, 0, b = 0.5)
  // = 0.5 at any significance.
  const auto half = five_blocks(0.5, 0.5, 0.5, 0.5, 0.5);
  for (double sig : {0.05, 0.001, 0.5}) EXPECT_EQ(cml::shrink_lower_bound(half, sig), 0.5) << sig;
  // actual = raw: every b_k = 1 -> 1.
  EXPECT_EQ(cml::shrink_lower_bound(five_blocks(1, 1, 1, 1, 1), 0.05), 1.0);
  // actual = 2 raw: b_k = 2, mean 2, sd 0 -> clip(2, 0, b = 1) = 1.
  EXPECT_EQ(cml::shrink_lower_bound(five_blocks(2, 2, 2, 2, 2), 0.05), 1.0);
}

TEST(HonestShrinkLowerBound, TooFewPairsOrSlopesIsZero) {
  // An exact fit (actual = 0.5 raw) whose blocks are too small serves nothing:
  // n = 149: floor(149 / 5) = 29 < 30.
  EXPECT_EQ(cml::shrink_lower_bound(block_pairs(0, 149, 0.5), 0.05), 0.0);
  // n = 40: blocks of 8.
  EXPECT_EQ(cml::shrink_lower_bound(block_pairs(0, 40, 0.5), 0.05), 0.0);
  // n = 150 in one run: blocks of 30 -> 0.5.
  EXPECT_EQ(cml::shrink_lower_bound(block_pairs(0, 150, 0.5), 0.05), 0.5);
  // blocks with every raw 0 give no slope: two of five -> K = 3 -> still 0.5; three of five -> K = 2 -> 0
  EXPECT_EQ(cml::shrink_lower_bound(concat({block_pairs(0, 30, 0.5), block_pairs(1, 30, 0.5, 0.0), block_pairs(2, 30, 0.5),
                                            block_pairs(3, 30, 0.5, 0.0), block_pairs(4, 30, 0.5)}),
                                    0.05),
            0.5);
  EXPECT_EQ(cml::shrink_lower_bound(concat({block_pairs(0, 30, 0.5), block_pairs(1, 30, 0.5, 0.0), block_pairs(2, 30, 0.5, 0.0),
                                            block_pairs(3, 30, 0.5, 0.0), block_pairs(4, 30, 0.5)}),
                                    0.05),
            0.0);
  // no pair; all raw 0 (b = 0); a negative relation (b clipped to 0) -> 0 whatever the significance
  EXPECT_EQ(cml::shrink_lower_bound({}, 0.05), 0.0);
  EXPECT_EQ(cml::shrink_lower_bound(block_pairs(0, 150, 0.5, 0.0), 0.05), 0.0);
  EXPECT_EQ(cml::shrink_lower_bound(five_blocks(-0.5, -0.5, -0.5, -0.5, -0.5), 0.5), 0.0);
}

TEST(HonestShrinkLowerBound, WorkedPredictionBound) {
  // Five blocks of 30, raw (i mod 5) - 2 (sum r^2 = 60 each), slopes 0.5, 0.55, 0.6, 0.5, 0.55:
  // mean 2.7 / 5 = 0.54 = b (equal weights); deviations -0.04 0.01 0.06 -0.04 0.01,
  // squares 0.0016 + 0.0001 + 0.0036 + 0.0016 + 0.0001 = 0.007, sd = sqrt(0.007 / 4) = 0.0418330;
  // t(4, 0.95) = sqrt(4 cos(arccos(sqrt q) / 3) / sqrt q - 4), q = 4 (0.95)(0.05) = 0.19: 2.1318468;
  // b_lo = 0.54 - 2.1318468 * 0.0418330 * sqrt(1 + 1/5) = 0.54 - 0.0891815 * 1.0954451
  //      = 0.54 - 0.0976935 = 0.4423065.
  const auto p = five_blocks(0.5, 0.55, 0.6, 0.5, 0.55);
  const double q = 4 * 0.95 * 0.05;
  const double t4 = std::sqrt(4 * std::cos(std::acos(std::sqrt(q)) / 3) / std::sqrt(q) - 4);
  const double sd = std::sqrt(0.007 / 4);
  EXPECT_NEAR(cml::shrink_lower_bound(p, 0.05), 0.54 - t4 * sd * std::sqrt(1.2), 1e-12);
  EXPECT_NEAR(cml::shrink_lower_bound(p, 0.05), 0.4423065, 1e-7);
  // significance 0.5: t = 0 -> the mean of the block slopes, 0.54 (= b here)
  EXPECT_NEAR(cml::shrink_lower_bound(p, 0.5), 0.54, 1e-7);
  // The same five slopes in another order (0.55, 0.5, 0.6, 0.55, 0.5): the bound depends on the
  // set of block slopes only (and b is again 0.54).
  EXPECT_NEAR(cml::shrink_lower_bound(five_blocks(0.55, 0.5, 0.6, 0.55, 0.5), 0.05), 0.54 - t4 * sd * std::sqrt(1.2),
              1e-12);

  // Two blocks of raw 0 left out (K = 3): slopes 0.5, 0.55, 0.6 -> mean 0.55, sd = sqrt((0.05^2 + 0
  // + 0.05^2) / 2) = 0.05; b = 60 (0.5 + 0.55 + 0.6) / 180 = 0.55; t(2, 0.95) = 0.9 / sqrt(0.095)
  // = 2.9199856: b_lo = 0.55 - 2.9199856 * 0.05 * sqrt(4/3) = 0.55 - 0.1685854 = 0.3814146.
  const auto three = concat({block_pairs(0, 30, 0.5), block_pairs(1, 30, 0.9, 0.0), block_pairs(2, 30, 0.55),
                             block_pairs(3, 30, 0.9, 0.0), block_pairs(4, 30, 0.6)});
  const double t2 = 0.9 / std::sqrt(0.095);
  EXPECT_NEAR(cml::shrink_lower_bound(three, 0.05), 0.55 - t2 * 0.05 * std::sqrt(4.0 / 3.0), 1e-12);
  EXPECT_NEAR(cml::shrink_lower_bound(three, 0.05), 0.3814146, 1e-7);
  // significance 0.025: t(2, 0.975) = 0.95 / sqrt(0.04875) = 4.3026527 -> 0.55 - 0.2484137 = 0.3015863
  EXPECT_NEAR(cml::shrink_lower_bound(three, 0.025), 0.55 - 0.95 / std::sqrt(0.04875) * 0.05 * std::sqrt(4.0 / 3.0), 1e-12);
}

TEST(HonestShrinkLowerBound, FirstBlockTakesTheRemainder) {
  // n = 152: floor(152 / 5) = 30, remainder 2: blocks [0, 32) [32, 62) [62, 92) [92, 122) [122, 152).
  // Block slopes 0.5, 0.55, 0.6, 0.5, 0.55 as laid out -> the same bound as WorkedPredictionBound,
  // 0.54 - t(4, 0.95) sqrt(0.007 / 4) sqrt(1.2). (With the remainder anywhere else, pairs of
  // different slopes would share blocks and the bound would differ.)
  // b = (0.5 * 65 + 60 (0.55 + 0.6 + 0.5 + 0.55)) / (65 + 240) = 164.5 / 305 = 0.5393 > 0.4423:
  // no clip (32 pairs of raw (i mod 5) - 2: sum r^2 = 6 * 10 + 4 + 1 = 65).
  const auto p = concat({block_pairs(0, 32, 0.5), block_pairs(1, 30, 0.55), block_pairs(2, 30, 0.6),
                         block_pairs(3, 30, 0.5), block_pairs(4, 30, 0.55)});
  const double q = 4 * 0.95 * 0.05;
  const double t4 = std::sqrt(4 * std::cos(std::acos(std::sqrt(q)) / 3) / std::sqrt(q) - 4);
  EXPECT_NEAR(cml::shrink_lower_bound(p, 0.05), 0.54 - t4 * std::sqrt(0.007 / 4) * std::sqrt(1.2), 1e-12);
  EXPECT_NEAR(cml::shrink_lower_bound(p, 0.05), ref_block_lb(p, 0.05), 1e-9);
}

TEST(HonestShrinkLowerBound, ClippedToTheWindowSlope) {
  // Block 0: raw (i mod 5) - 2, slope 0.2 (sum r^2 = 60); blocks 1..4: raw 0.1 ((i mod 5) - 2),
  // slope 1 (sum r^2 = 0.6 each). Block slopes 0.2, 1, 1, 1, 1: mean 4.2 / 5 = 0.84;
  // b = (0.2 * 60 + 4 * 0.6) / (60 + 2.4) = 14.4 / 62.4 = 3/13 = 0.2307692.
  // significance 0.5: t = 0 -> clip(0.84, 0, 3/13) = 3/13.
  const auto p = concat({block_pairs(0, 30, 0.2), block_pairs(1, 30, 1.0, 0.1), block_pairs(2, 30, 1.0, 0.1),
                         block_pairs(3, 30, 1.0, 0.1), block_pairs(4, 30, 1.0, 0.1)});
  EXPECT_NEAR(cml::shrink_lower_bound(p, 0.5), 3.0 / 13.0, 1e-12);
  // significance 0.05: sd = sqrt((0.64^2 + 4 * 0.16^2) / 4) = sqrt((0.4096 + 0.1024) / 4) = 0.3578;
  // 0.84 - 2.1318 * 0.3578 * 1.0954 = 0.0045: in [0, 3/13]: not clipped.
  const double q = 4 * 0.95 * 0.05;
  const double t4 = std::sqrt(4 * std::cos(std::acos(std::sqrt(q)) / 3) / std::sqrt(q) - 4);
  EXPECT_NEAR(cml::shrink_lower_bound(p, 0.05), 0.84 - t4 * std::sqrt(0.512 / 4) * std::sqrt(1.2), 1e-12);
  // The other way round: block 0 slope 0.9 on raw (i mod 5) - 2, blocks 1..4 slope 0.2 on
  // 0.1 ((i mod 5) - 2): b = (54 + 4 * 0.12) / 62.4 = 54.48 / 62.4 = 0.8731;
  // mean(b_k) = 1.7 / 5 = 0.34 < b: significance 0.5 serves the mean, unclipped (tolerance 1e-7:
  // the t median, see HonestStudentT).
  const auto r = concat({block_pairs(0, 30, 0.9), block_pairs(1, 30, 0.2, 0.1), block_pairs(2, 30, 0.2, 0.1),
                         block_pairs(3, 30, 0.2, 0.1), block_pairs(4, 30, 0.2, 0.1)});
  EXPECT_NEAR(cml::shrink_lower_bound(r, 0.5), 0.34, 1e-7);
  // significance 0.05: sd = sqrt((0.56^2 + 4 * 0.14^2) / 4) = sqrt(0.392 / 4) = 0.3130;
  // 0.34 - 2.1318 * 0.3130 * 1.0954 = -0.391 -> 0
  EXPECT_EQ(cml::shrink_lower_bound(r, 0.05), 0.0);
}

TEST(HonestShrinkLowerBound, BlocksThatDisagreeGiveZero) {
  // Block slopes 0.6, 0, 0.3, 0.6, 0 (all in [0, 1]): mean 1.5 / 5 = 0.3 = b > 0;
  // sd = sqrt(4 * 0.09 / 4) = 0.3; 0.3 - 2.1318468 * 0.3 * 1.0954451 = 0.3 - 0.7006 < 0 -> 0.
  const auto p = five_blocks(0.6, 0.0, 0.3, 0.6, 0.0);
  EXPECT_EQ(cml::shrink_lower_bound(p, 0.05), 0.0);
  // significance 0.5: the mean, 0.3 (= b)
  EXPECT_NEAR(cml::shrink_lower_bound(p, 0.5), 0.3, 1e-7);

  // Independent raw and actual, 20 seeds of 1000 pairs (blocks of 200): 0 in most of them.
  int positive = 0;
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    const std::vector<OutcomePair> pairs = make_pairs(1000, 0.0, 1.0, seed);
    const double lb = cml::shrink_lower_bound(pairs, 0.05);
    EXPECT_GE(lb, 0.0);
    EXPECT_LE(lb, ref_shrink(pairs));
    positive += lb > 0;
  }
  EXPECT_LE(positive, 3);
}

TEST(HonestShrinkLowerBound, NeverAboveTheSlopeAndMatchesTheFormula) {
  // 0 <= bound <= shrink_factor over slopes, noise levels and lengths (some below 150), and the
  // formula written out (ref_block_lb) where every block's slope is well inside [0, 1]
  // (slope 0.5, noise <= 0.3, blocks of >= 30).
  int interior = 0;
  std::uint32_t seed = 300;
  for (double slope : {-0.5, 0.0, 0.05, 0.5, 1.0, 1.7})
    for (double noise : {0.1, 0.3, 3.0})
      for (std::size_t n : {40u, 149u, 150u, 152u, 157u, 400u, 2000u}) {
        const std::vector<OutcomePair> pairs = make_pairs(n, slope, noise, ++seed);
        std::vector<double> raw, actual;
        for (const auto& x : pairs) {
          raw.push_back(x.raw);
          actual.push_back(x.actual);
        }
        const double lb = cml::shrink_lower_bound(pairs, 0.05);
        const double b = cml::shrink_factor(raw, actual);
        EXPECT_GE(lb, 0.0);
        EXPECT_LE(lb, b) << slope << " " << noise << " " << n;
        if (n < 150) {
          EXPECT_EQ(lb, 0.0);
        }
        if (slope == 0.5 && noise <= 0.3 && n >= 150) {
          EXPECT_NEAR(lb, ref_block_lb(pairs, 0.05), 1e-9) << noise << " " << n;
        }
        if (lb > 0 && lb < b) ++interior;
        // a smaller significance never raises the bound (t grows)
        EXPECT_LE(cml::shrink_lower_bound(pairs, 0.01), lb + 1e-15);
      }
  EXPECT_GT(interior, 0);
}

// ================================================================= long-run variance and quantile

TEST(HonestLrv, OneTwoThreeFourWorked) {
  // x = {1, 2, 3, 4}, h = 1: mean 2.5, c = {-1.5, -0.5, 0.5, 1.5};
  // rho = ((-0.5)(-1.5) + (0.5)(-0.5) + (1.5)(0.5)) / ((-1.5)^2 + (-0.5)^2 + (0.5)^2)
  //     = (0.75 - 0.25 + 0.75) / (2.25 + 0.25 + 0.25) = 1.25 / 2.75 = 5/11;
  // a = 4 rho^2 / ((1 - rho)^2 (1 + rho)^2) = 4 rho^2 / (1 - rho^2)^2 = 4 (25/121) / (96/121)^2
  //   = 100 * 121 / 9216 = 12100 / 9216 = 1.3129...; a n = 48400 / 9216 = 5.2517...;
  // 1.1447 cbrt(5.2517) = 1.1447 * 1.7382 = 1.9897 -> ceil 2; m = min(max(1, 2), floor(4/2) = 2) = 2.
  // batches of 2 of c: (-1.5, -0.5) -> -1, (-0.5, 0.5) -> 0, (0.5, 1.5) -> 1: sum of squares 2;
  // V = n m / ((n - m + 1)(n - m)) * 2 = 4 * 2 / (3 * 2) * 2 = 8/3.
  std::size_t m = 99;
  EXPECT_NEAR(cml::long_run_variance({1, 2, 3, 4}, 1, &m), 8.0 / 3.0, 1e-14);
  EXPECT_EQ(m, 2u);
  // h = 2: m = max(2, 2) = 2, the same; h = 3: max(3, 2) = 3 capped at floor(4/2) = 2, the same.
  for (int h : {2, 3, 60}) {
    m = 99;
    EXPECT_NEAR(cml::long_run_variance({1, 2, 3, 4}, h, &m), 8.0 / 3.0, 1e-14) << h;
    EXPECT_EQ(m, 2u) << h;
  }
  // shift invariance: x + 100 has the same c
  EXPECT_NEAR(cml::long_run_variance({101, 102, 103, 104}, 1, &m), 8.0 / 3.0, 1e-12);
  // scale: (0.2 x) -> 0.04 V (rho, hence m, unchanged)
  EXPECT_NEAR(cml::long_run_variance({0.2, 0.4, 0.6, 0.8}, 1, &m), 0.04 * 8.0 / 3.0, 1e-14);
  EXPECT_EQ(m, 2u);
}

TEST(HonestLrv, BandwidthHorizonAndCapEachBind) {
  // x = {2, 2, 1, 0, 0, 1, 2, 0}: n 8, mean 8/8 = 1, c = {1, 1, 0, -1, -1, 0, 1, -1}.
  // sum_{i>=1} c_i c_{i-1} = 1*1 + 0*1 + (-1)*0 + (-1)(-1) + 0*(-1) + 1*0 + (-1)*1 = 1 + 0 + 0 + 1 + 0 + 0 - 1 = 1;
  // sum_{i>=1} c_{i-1}^2 = 1 + 1 + 0 + 1 + 1 + 0 + 1 = 5; rho = 1/5 = 0.2.
  // a = 4 (0.04) / (0.8^2 * 1.2^2) = 0.16 / (0.64 * 1.44) = 0.16 / 0.9216 = 0.17361;
  // a n = 1.3889; 1.1447 cbrt(1.3889) = 1.1447 * 1.1157 = 1.2772 -> ceil 2. Cap floor(8/2) = 4.
  const std::vector<double> x = {2, 2, 1, 0, 0, 1, 2, 0};
  std::size_t m = 0;
  // h = 1 and 2: m = max(h, 2) = 2 (Andrews' bandwidth binds for h = 1).
  //   batches of 2 of c: (1,1) 1, (1,0) 0.5, (0,-1) -0.5, (-1,-1) -1, (-1,0) -0.5, (0,1) 0.5, (1,-1) 0
  //   squares 1 + 0.25 + 0.25 + 1 + 0.25 + 0.25 + 0 = 3; V = 8 * 2 / (7 * 6) * 3 = 48 / 42 = 8/7.
  for (int h : {1, 2}) {
    EXPECT_NEAR(cml::long_run_variance(x, h, &m), 8.0 / 7.0, 1e-14) << h;
    EXPECT_EQ(m, 2u) << h;
  }
  // h = 3: m = max(3, 2) = 3 (the horizon binds).
  //   batches of 3: (1,1,0) 2/3, (1,0,-1) 0, (0,-1,-1) -2/3, (-1,-1,0) -2/3, (-1,0,1) 0, (0,1,-1) 0
  //   squares 3 * 4/9 = 4/3; V = 8 * 3 / (6 * 5) * 4/3 = 0.8 * 4/3 = 16/15.
  EXPECT_NEAR(cml::long_run_variance(x, 3, &m), 16.0 / 15.0, 1e-14);
  EXPECT_EQ(m, 3u);
  // h = 4: m = 4 = h = the cap. h = 5, 15: max(h, 2) = h capped at floor(8/2) = 4 (the cap binds).
  //   batches of 4: (1,1,0,-1) 1/4, (1,0,-1,-1) -1/4, (0,-1,-1,0) -1/2, (-1,-1,0,1) -1/4,
  //   (-1,0,1,-1) -1/4: squares 4/16 + 1/4 = 1/2; V = 8 * 4 / (5 * 4) * 1/2 = 0.8.
  for (int h : {4, 5, 15}) {
    EXPECT_NEAR(cml::long_run_variance(x, h, &m), 0.8, 1e-14) << h;
    EXPECT_EQ(m, 4u) << h;
  }
}

TEST(HonestLrv, NoLagOneCorrelationLeavesTheHorizon) {
  // x = 0.5 + c, c = {1, 0, -1, 0} five times (n 20): mean 0.5, every c_i c_{i-1} has a 0 factor
  // -> rho = 0, a = 0, Andrews' bandwidth 1.1447 cbrt(0) = 0 -> m = max(h, 0) = h (cap 10).
  std::vector<double> x;
  for (int k = 0; k < 5; ++k)
    for (double c : {1.0, 0.0, -1.0, 0.0}) x.push_back(0.5 + c);
  std::size_t m = 0;
  // h = 5: a batch of 5 is one whole period (sum 0) and one more value equal to its first, c_j:
  // batch means c_j / 5 for j = 0..15, 8 of them +-1/5: sum of squares 8/25 = 0.32;
  // V = 20 * 5 / (16 * 15) * 0.32 = (100 / 240) * 0.32 = 2/15.
  EXPECT_NEAR(cml::long_run_variance(x, 5, &m), 2.0 / 15.0, 1e-14);
  EXPECT_EQ(m, 5u);
  // h = 1: m = 1, batches are the values: V = n / (n (n - 1)) sum c^2 = 10 / 19 (the sample variance).
  EXPECT_NEAR(cml::long_run_variance(x, 1, &m), 10.0 / 19.0, 1e-14);
  EXPECT_EQ(m, 1u);
  // h = 4: four values per batch, each a whole period: every batch mean 0 -> V = 0.
  EXPECT_NEAR(cml::long_run_variance(x, 4, &m), 0.0, 1e-15);
  EXPECT_EQ(m, 4u);
  // h = 12: capped at 10.
  cml::long_run_variance(x, 12, &m);
  EXPECT_EQ(m, 10u);
}

TEST(HonestLrv, AlternatingSeriesHasALargeBandwidth) {
  // a = 4 rho^2 / (1 - rho^2)^2 is even in rho: an alternating series (rho -> -1) gets a large
  // bandwidth, not a small one. x = {1, -1, ...} (n 20): mean 0, rho = -19 / 19 = -1, clipped to
  // -0.99: a = 4 (0.9801) / (1.99^2 * 0.01^2) = 3.9204 / 3.9601e-4 = 9899.75; a n = 197995;
  // 1.1447 cbrt(197995) = 1.1447 * 58.28 = 66.7 -> 67, capped at 10. Batches of 10 alternate
  // evenly: every batch mean 0 -> V = 0.
  std::vector<double> x;
  for (int i = 0; i < 20; ++i) x.push_back(i % 2 == 0 ? 1.0 : -1.0);
  std::size_t m = 0;
  EXPECT_EQ(cml::long_run_variance(x, 1, &m), 0.0);
  EXPECT_EQ(m, 10u);
}

TEST(HonestLrv, FewerThanFourValuesIsNaN) {
  std::size_t m = 0;
  for (const std::vector<double>& x : {std::vector<double>{}, {1.0}, {1.0, 2.0}, {1.0, 2.0, 4.0}})
    EXPECT_TRUE(std::isnan(cml::long_run_variance(x, 1, &m))) << x.size();
  EXPECT_FALSE(std::isnan(cml::long_run_variance({1.0, 2.0, 4.0, 8.0}, 1, &m)));
}

TEST(HonestLrv, MatchesReferenceOnRandomSeries) {
  // AR(1) series of several lengths and persistences at several horizons: every regime (bandwidth,
  // horizon, cap) occurs; the batch size and V agree with the formula written out (ref_lrv).
  std::mt19937 rng(77);
  std::normal_distribution<double> nd(0.0, 1.0);
  bool andrews_bound = false, horizon_bound = false, cap_bound = false;
  for (std::size_t n : {4u, 5u, 9u, 50u, 400u, 3000u})
    for (double phi : {-0.6, 0.0, 0.3, 0.9})
      for (int h : {1, 2, 5, 15, 60}) {
        std::vector<double> x(n);
        double prev = 0;
        for (auto& v : x) v = prev = phi * prev + nd(rng);
        const RefLrv r = ref_lrv(x, h);
        std::size_t m = 0;
        const double v = cml::long_run_variance(x, h, &m);
        EXPECT_EQ(m, r.m) << n << " " << phi << " " << h;
        expect_rel(v, r.v, 1e-10);
        EXPECT_GE(m, 1u);
        EXPECT_LE(m, n / 2);
        if (m == n / 2 && static_cast<std::size_t>(h) > m) cap_bound = true;
        else if (m == static_cast<std::size_t>(h)) horizon_bound = true;
        else if (m > static_cast<std::size_t>(h)) andrews_bound = true;
      }
  EXPECT_TRUE(andrews_bound);
  EXPECT_TRUE(horizon_bound);
  EXPECT_TRUE(cap_bound);
}

// =========================================================================== Diebold-Mariano

TEST(HonestDm, HorizonOneWorked) {
  // d = {1, 2, 3, 4}, h = 1: mean 2.5; V = 8/3 with m = 2 (HonestLrv.OneTwoThreeFourWorked:
  // rho = 1.25 / 2.75, a n = 5.2517, ceil(1.1447 * 1.7382 = 1.9897) = 2, 3 batches of means
  // -1 0 1, V = 4 * 2 / (3 * 2) * 2 = 8/3). DM = 2.5 / sqrt((8/3) / 4) = 2.5 / sqrt(2/3)
  // = sqrt(6.25 * 1.5) = sqrt(9.375) = 3.0618621...; p = 1 - Phi(sqrt 9.375) = 0.00109982.
  const SkillTest t = cml::diebold_mariano({1, 2, 3, 4}, 1, 0.05, 4);
  EXPECT_EQ(t.n, 4u);
  EXPECT_NEAR(t.mean_loss_diff, 2.5, 1e-15);
  EXPECT_EQ(t.batch, 2u);
  EXPECT_NEAR(t.statistic, std::sqrt(9.375), 1e-12);
  EXPECT_NEAR(t.p_value, upper_tail(std::sqrt(9.375)), 1e-12);
  EXPECT_NEAR(t.p_value, 0.00109982353, 1e-11);
  EXPECT_TRUE(t.skilled);  // n 4 >= 4, mean > 0, p < 0.05
}

TEST(HonestDm, LongerHorizonsOnFourValues) {
  // d = {1, 2, 3, 4}: h = 2 -> m = max(2, 2) = 2; h = 3 or 15 -> max(h, 2) capped at
  // floor(4/2) = 2. The same V = 8/3, statistic sqrt(9.375), p = 0.00109982 (no HLN factor:
  // the horizon enters only through m).
  for (int h : {2, 3, 15}) {
    const SkillTest t = cml::diebold_mariano({1, 2, 3, 4}, h, 0.05, 4);
    EXPECT_EQ(t.n, 4u);
    EXPECT_EQ(t.batch, 2u) << h;
    EXPECT_NEAR(t.statistic, std::sqrt(9.375), 1e-12) << h;
    EXPECT_NEAR(t.p_value, upper_tail(std::sqrt(9.375)), 1e-12) << h;
    EXPECT_TRUE(t.skilled);
  }
  // p < significance is strict and decides: 0.0010998 vs 0.0010 and 0.0011
  EXPECT_FALSE(cml::diebold_mariano({1, 2, 3, 4}, 2, 0.0010, 4).skilled);
  EXPECT_TRUE(cml::diebold_mariano({1, 2, 3, 4}, 2, 0.0011, 4).skilled);
}

TEST(HonestDm, CapBindsOnFiveValues) {
  // d = {2, -1, 3, 0, 1}, h = 3: mean 5 / 5 = 1; c = {1, -2, 2, -1, 0}.
  // rho = ((-2)(1) + (2)(-2) + (-1)(2) + (0)(-1)) / (1 + 4 + 4 + 1) = (-2 - 4 - 2 + 0) / 10 = -0.8;
  // a = 4 (0.64) / (1.8^2 * 0.2^2) = 2.56 / (3.24 * 0.04) = 2.56 / 0.1296 = 19.753; a n = 98.77;
  // 1.1447 cbrt(98.77) = 1.1447 * 4.6224 = 5.29 -> 6; m = max(3, 6) = 6 capped at floor(5/2) = 2.
  // batches of 2 of c: (1,-2) -0.5, (-2,2) 0, (2,-1) 0.5, (-1,0) -0.5: squares 0.75;
  // V = 5 * 2 / (4 * 3) * 0.75 = (10/12) 0.75 = 0.625; DM = 1 / sqrt(0.625 / 5) = 1 / sqrt(0.125)
  // = sqrt(8) = 2.8284271...; p = 1 - Phi(sqrt 8) = 0.00233887.
  const SkillTest t = cml::diebold_mariano({2, -1, 3, 0, 1}, 3, 0.05, 5);
  EXPECT_EQ(t.n, 5u);
  EXPECT_NEAR(t.mean_loss_diff, 1.0, 1e-15);
  EXPECT_EQ(t.batch, 2u);
  EXPECT_NEAR(t.statistic, std::sqrt(8.0), 1e-12);
  EXPECT_NEAR(t.p_value, upper_tail(std::sqrt(8.0)), 1e-12);
  EXPECT_NEAR(t.p_value, 0.00233886749, 1e-11);
  EXPECT_TRUE(t.skilled);
  EXPECT_FALSE(cml::diebold_mariano({2, -1, 3, 0, 1}, 3, 0.0023, 5).skilled);
  EXPECT_FALSE(cml::diebold_mariano({2, -1, 3, 0, 1}, 3, 0.05, 6).skilled);  // n 5 < 6
}

TEST(HonestDm, EachRegimeOfTheBatchSize) {
  // d = {2, 2, 1, 0, 0, 1, 2, 0}: mean 1; V from HonestLrv.BandwidthHorizonAndCapEachBind.
  const std::vector<double> d = {2, 2, 1, 0, 0, 1, 2, 0};
  // h = 1: m = 2 (Andrews), V = 8/7: DM = 1 / sqrt((8/7) / 8) = sqrt(7) = 2.6457513; p = 0.00407549.
  SkillTest t = cml::diebold_mariano(d, 1, 0.05, 8);
  EXPECT_EQ(t.batch, 2u);
  EXPECT_NEAR(t.mean_loss_diff, 1.0, 1e-15);
  EXPECT_NEAR(t.statistic, std::sqrt(7.0), 1e-12);
  EXPECT_NEAR(t.p_value, 0.00407548580, 1e-11);
  EXPECT_TRUE(t.skilled);
  // h = 3: m = 3 (horizon), V = 16/15: DM = 1 / sqrt((16/15) / 8) = sqrt(7.5) = 2.7386128;
  // p = 0.00308495.
  t = cml::diebold_mariano(d, 3, 0.05, 8);
  EXPECT_EQ(t.batch, 3u);
  EXPECT_NEAR(t.statistic, std::sqrt(7.5), 1e-12);
  EXPECT_NEAR(t.p_value, 0.00308494966, 1e-11);
  // h = 5: m = 4 (cap), V = 0.8: DM = 1 / sqrt(0.8 / 8) = sqrt(10) = 3.1622777; p = 0.00078270.
  t = cml::diebold_mariano(d, 5, 0.05, 8);
  EXPECT_EQ(t.batch, 4u);
  EXPECT_NEAR(t.statistic, std::sqrt(10.0), 1e-12);
  EXPECT_NEAR(t.p_value, 0.00078270113, 1e-11);
}

TEST(HonestDm, HorizonSetsTheBatchWhenRhoIsZero) {
  // d = 0.5 + {1, 0, -1, 0} x 5 (n 20), rho = 0 -> m = h (HonestLrv.NoLagOneCorrelationLeavesTheHorizon).
  std::vector<double> d;
  for (int k = 0; k < 5; ++k)
    for (double c : {1.0, 0.0, -1.0, 0.0}) d.push_back(0.5 + c);
  // h = 5: V = 2/15, DM = 0.5 / sqrt((2/15) / 20) = 0.5 sqrt(150) = 6.1237244; p = 4.5706e-10.
  SkillTest t = cml::diebold_mariano(d, 5, 0.05, 20);
  EXPECT_EQ(t.n, 20u);
  EXPECT_EQ(t.batch, 5u);
  EXPECT_NEAR(t.mean_loss_diff, 0.5, 1e-15);
  EXPECT_NEAR(t.statistic, 0.5 * std::sqrt(150.0), 1e-12);
  EXPECT_NEAR(t.p_value, upper_tail(0.5 * std::sqrt(150.0)), 1e-15);
  EXPECT_TRUE(t.skilled);
  // h = 1: V = 10/19, DM = 0.5 / sqrt((10/19) / 20) = 0.5 sqrt(38) = 3.0822070; p = 0.00102736.
  t = cml::diebold_mariano(d, 1, 0.05, 20);
  EXPECT_EQ(t.batch, 1u);
  EXPECT_NEAR(t.statistic, 0.5 * std::sqrt(38.0), 1e-12);
  EXPECT_NEAR(t.p_value, 0.00102735949, 1e-11);
}

TEST(HonestDm, SkillNeedsEnoughPairsAndPositiveMean) {
  // Same numbers as HorizonOneWorked, but min_pairs 5 > n 4: the test is still computed, not skilled.
  SkillTest t = cml::diebold_mariano({1, 2, 3, 4}, 1, 0.05, 5);
  EXPECT_EQ(t.n, 4u);
  EXPECT_NEAR(t.mean_loss_diff, 2.5, 1e-15);
  EXPECT_NEAR(t.statistic, std::sqrt(9.375), 1e-12);
  EXPECT_EQ(t.batch, 2u);
  EXPECT_FALSE(t.skilled);
  // d negated: c negated, rho and V unchanged; mean -2.5, statistic -sqrt(9.375),
  // p = 1 - Phi(-sqrt 9.375) = 1 - 0.00109982: never skilled.
  t = cml::diebold_mariano({-1, -2, -3, -4}, 1, 0.5, 2);
  EXPECT_EQ(t.n, 4u);
  EXPECT_NEAR(t.mean_loss_diff, -2.5, 1e-15);
  EXPECT_NEAR(t.statistic, -std::sqrt(9.375), 1e-12);
  EXPECT_NEAR(t.p_value, 1.0 - 0.00109982353, 1e-11);
  EXPECT_FALSE(t.skilled);
  // mean exactly 0: d = {1, -1, -1, 1}: rho = ((-1)(1) + (-1)(-1) + (1)(-1)) / 3 = -1/3;
  // a = 4 (1/9) / (8/9)^2 = (4/9)(81/64) = 0.5625, a n = 2.25, 1.1447 cbrt(2.25) = 1.49998 -> 2;
  // batches (1,-1) 0, (-1,-1) -1, (-1,1) 0: V = 4 * 2 / (3 * 2) * 1 = 4/3 > 0;
  // statistic 0 / sqrt(1/3) = 0, p = 1/2, not skilled.
  t = cml::diebold_mariano({1, -1, -1, 1}, 1, 0.5, 2);
  EXPECT_NEAR(t.mean_loss_diff, 0.0, 1e-15);
  EXPECT_EQ(t.batch, 2u);
  EXPECT_NEAR(t.statistic, 0.0, 1e-12);
  EXPECT_NEAR(t.p_value, 0.5, 1e-12);
  EXPECT_FALSE(t.skilled);
}

TEST(HonestDm, FewerThanFourValues) {
  // no two batches: n and mean set, statistic 0, p 1, batch 0, not skilled (even with min_pairs 0)
  const SkillTest e = cml::diebold_mariano({}, 1, 0.05, 0);
  EXPECT_EQ(e.n, 0u);
  EXPECT_EQ(e.mean_loss_diff, 0.0);
  EXPECT_EQ(e.statistic, 0.0);
  EXPECT_EQ(e.p_value, 1.0);
  EXPECT_FALSE(e.skilled);
  // {3}: mean 3; {1, 2}: mean 1.5; {1, 2, 6}: mean 9 / 3 = 3.
  const std::pair<std::vector<double>, double> cases[] = {{{3.0}, 3.0}, {{1.0, 2.0}, 1.5}, {{1.0, 2.0, 6.0}, 3.0}};
  for (const auto& [d, mean] : cases) {
    const SkillTest t = cml::diebold_mariano(d, 1, 0.5, 0);
    EXPECT_EQ(t.n, d.size());
    EXPECT_NEAR(t.mean_loss_diff, mean, 1e-15);
    EXPECT_EQ(t.statistic, 0.0);
    EXPECT_EQ(t.p_value, 1.0);
    EXPECT_EQ(t.batch, 0u);
    EXPECT_FALSE(t.skilled) << d.size();
  }
}

TEST(HonestDm, MatchesReferenceOnRandomSeries) {
  std::mt19937 rng(2024);
  std::normal_distribution<double> nd(0.3, 1.0);
  for (std::size_t n : {50u, 400u})
    for (int h : {1, 2, 5, 15, 60}) {
      std::vector<double> d(n);
      // overlapping (MA) structure like horizon-h outcomes
      std::vector<double> e(d.size() + 10);
      for (auto& x : e) x = nd(rng);
      for (std::size_t i = 0; i < d.size(); ++i) d[i] = e[i] + 0.6 * e[i + 1] + 0.3 * e[i + 2];
      const RefDm r = ref_dm(d, h);
      const SkillTest t = cml::diebold_mariano(d, h, 0.05, 100);
      EXPECT_EQ(t.n, d.size());
      EXPECT_EQ(t.batch, r.m) << n << " " << h;
      expect_rel(t.mean_loss_diff, r.mean, 1e-12);
      expect_rel(t.statistic, r.statistic, 1e-10);
      EXPECT_NEAR(t.p_value, r.p, 1e-9);
      EXPECT_EQ(t.skilled, n >= 100 && r.mean > 0 && r.p < 0.05) << h;
      if (h == 60) {
        EXPECT_EQ(t.batch, n == 50 ? 25u : 60u);  // the cap floor(50/2), else the horizon
      }
    }
}

// =============================================================================== prequential

TEST(HonestDm, PrequentialHandSized) {
  // 32 pairs at consecutive minutes, h = 1. Pairs 0..29: raw 1, actual 0.5. Pair 30 has 30
  // known pairs (0..29), pair 31 has 31; pairs 0..29 have fewer than kMinFitPairs = 30 -> n = 2.
  // b_30 = (30 * 0.5) / 30 = 0.5; pair 30: raw 2, actual 2 -> d = 4 - (2 - 1)^2 = 3.
  // b_31 = (15 + 2 * 2) / (30 + 4) = 19 / 34; pair 31: raw 1, actual -1
  //   -> d = 1 - (-1 - 19/34)^2 = 1 - (53/34)^2 = (1156 - 2809) / 1156 = -1653 / 1156.
  // mean = (3 - 1653/1156) / 2 = (3468 - 1653) / 2312 = 1815 / 2312. Two differentials are fewer
  // than 4: n and mean set, statistic 0, p 1, batch 0, not skilled.
  std::vector<OutcomePair> p;
  for (int i = 0; i < 30; ++i) p.push_back({kT0 + i, 1.0, 0.5});
  p.push_back({kT0 + 30, 2.0, 2.0});
  p.push_back({kT0 + 31, 1.0, -1.0});
  SkillTest t = cml::prequential_skill(p, 1, 0.05, 2);
  EXPECT_EQ(t.n, 2u);
  EXPECT_NEAR(t.mean_loss_diff, 1815.0 / 2312.0, 1e-12);
  EXPECT_EQ(t.statistic, 0.0);
  EXPECT_EQ(t.p_value, 1.0);
  EXPECT_EQ(t.batch, 0u);
  EXPECT_FALSE(t.skilled);
  // Two more pairs on the fitted line (actual = 0.5 raw) and one off it. b stays
  // sum(r a) / sum(r^2) as the pairs arrive:
  //   pair 32: raw 2, actual 1, b_32 = (19 - 1) / (34 + 1) = 18 / 35
  //     [sum r a after pair 31 = 19 + 1 * (-1) = 18; sum r^2 = 34 + 1 = 35]
  //     d = 1 - (1 - 36/35)^2 = 1 - 1/1225 = 1224 / 1225.
  //   pair 33: raw -2, actual 2, b_33 = (18 + 2) / (35 + 4) = 20 / 39
  //     d = 4 - (2 + 40/39)^2 = 4 - (118/39)^2 = (6084 - 13924) / 1521 = -7840 / 1521.
  // d = {3, -1653/1156, 1224/1225, -7840/1521} = {3, -1.42993, 0.99918, -5.15450}: n 4, h = 1;
  // mean = -0.646313; rho = -0.696 -> a = 4 rho^2 / (1 - rho^2)^2 = 7.29, a n = 29.1,
  // 1.1447 cbrt(29.1) = 3.52 -> 4, capped at floor(4/2) = 2; V = 5.7110, DM = -0.6463 / sqrt(5.7110 / 4)
  // = -0.5409, p = 0.7057 (the formula on these four values: ref_dm).
  p.push_back({kT0 + 32, 2.0, 1.0});
  p.push_back({kT0 + 33, -2.0, 2.0});
  const std::vector<double> d = {3.0, -1653.0 / 1156.0, 1224.0 / 1225.0, -7840.0 / 1521.0};
  t = cml::prequential_skill(p, 1, 0.05, 2);
  EXPECT_EQ(t.n, 4u);
  const RefDm r = ref_dm(d, 1);
  EXPECT_EQ(t.batch, r.m);
  EXPECT_EQ(t.batch, 2u);
  expect_rel(t.mean_loss_diff, (3.0 - 1653.0 / 1156.0 + 1224.0 / 1225.0 - 7840.0 / 1521.0) / 4.0, 1e-12);
  expect_rel(t.statistic, r.statistic, 1e-10);
  EXPECT_NEAR(t.statistic, -0.5409015, 1e-6);
  EXPECT_NEAR(t.p_value, 0.7057123, 1e-6);
  EXPECT_FALSE(t.skilled);
}

TEST(HonestDm, PrequentialCountOfLossDifferentials) {
  const std::vector<OutcomePair> base = make_pairs(35, 0.5, 1.0, 11);
  // 35 pairs at consecutive minutes, h = 1: pair i knows pairs 0..i-1 (ts_j + 1 <= ts_i), i of
  // them; i >= 30 -> pairs 30..34 -> n = 5.
  EXPECT_EQ(cml::prequential_skill(base, 1, 0.05, 1).n, 5u);
  // h = 3: pair i knows j <= i - 3, i - 2 of them; i - 2 >= 30 -> i >= 32 -> n = 3.
  EXPECT_EQ(cml::prequential_skill(base, 3, 0.05, 1).n, 3u);
  // h = 6: i - 5 >= 30 -> i >= 35 -> none.
  const SkillTest none = cml::prequential_skill(base, 6, 0.05, 1);
  EXPECT_EQ(none.n, 0u);
  EXPECT_EQ(none.p_value, 1.0);
  EXPECT_FALSE(none.skilled);
  // ts every 2 minutes, h = 3: 2j + 3 <= 2i -> j <= i - 2, i - 1 of them; i >= 31 -> n = 4.
  std::vector<OutcomePair> spaced = base;
  for (std::size_t i = 0; i < spaced.size(); ++i) spaced[i].ts = kT0 + 2 * static_cast<std::int64_t>(i);
  EXPECT_EQ(cml::prequential_skill(spaced, 3, 0.05, 1).n, 4u);
  // 30 pairs or fewer: no pair has 30 earlier ones -> no loss differential at all.
  const std::vector<OutcomePair> thirty(base.begin(), base.begin() + 30);
  EXPECT_EQ(cml::prequential_skill(thirty, 1, 0.05, 0).n, 0u);
  EXPECT_EQ(cml::prequential_skill({}, 1, 0.05, 0).n, 0u);
}

TEST(HonestDm, PrequentialPerfectModel) {
  // actual = raw: every b_i = sum(raw^2) / sum(raw^2) = 1, so d_i = actual^2 - 0 = raw_i^2.
  for (int h : {1, 15}) {
    const std::vector<OutcomePair> p = make_pairs(400, 1.0, 0.0, 5);
    // pair i knows j <= i - h: i - h + 1 of them >= 30 -> i >= 29 + h -> n = 400 - 29 - h
    // (370 at h = 1, 356 at h = 15).
    const std::size_t expected_n = 400 - 29 - static_cast<std::size_t>(h);
    std::vector<double> d;
    for (std::size_t i = 29 + static_cast<std::size_t>(h); i < p.size(); ++i) d.push_back(p[i].raw * p[i].raw);
    ASSERT_EQ(d.size(), expected_n);
    const SkillTest t = cml::prequential_skill(p, h, 0.05, 100);
    EXPECT_EQ(t.n, expected_n) << h;
    const RefDm r = ref_dm(d, h);
    EXPECT_EQ(t.batch, r.m);
    // d = raw^2 of independent raws: rho near 0, Andrews' bandwidth small; at h = 15 the horizon sets m
    if (h == 15) {
      EXPECT_EQ(t.batch, 15u);
    }
    expect_rel(t.mean_loss_diff, r.mean, 1e-12);
    expect_rel(t.statistic, r.statistic, 1e-9);
    EXPECT_TRUE(t.skilled) << h;
    EXPECT_LT(t.p_value, 1e-6);
    // the same numbers as the DM test of those differentials
    expect_same_skill(t, cml::diebold_mariano(d, h, 0.05, 100), 1e-9);
  }
}

TEST(HonestDm, PrequentialNoiseIsNotSkilled) {
  // raw and actual independent: b_i stays near 0, d_i = 2 b a r - b^2 r^2 has mean <= 0 in
  // expectation; with this seed the test must not find skill.
  std::mt19937 rng(99);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<OutcomePair> p(1500);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = {kT0 + static_cast<std::int64_t>(i), nd(rng), nd(rng)};
  for (int h : {1, 15}) {
    const SkillTest t = cml::prequential_skill(p, h, 0.05, 100);
    EXPECT_FALSE(t.skilled) << h;
    EXPECT_EQ(t.n, 1500u - 29u - static_cast<std::size_t>(h));
    // and it agrees with the reference differentials
    const std::vector<double> d = ref_loss_diffs(p, h);
    ASSERT_EQ(d.size(), t.n);
    const RefDm r = ref_dm(d, h);
    EXPECT_EQ(t.batch, r.m) << h;
    expect_rel(t.mean_loss_diff, r.mean, 1e-9);
    expect_rel(t.statistic, r.statistic, 1e-7);
    EXPECT_NEAR(t.p_value, r.p, 1e-7);
  }
}

TEST(HonestDm, PrequentialMatchesReferenceWithGapsAndClipping) {
  // Uneven minutes, a negative relation for a while (b clipped to 0), then a positive one.
  std::mt19937 rng(7);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::uniform_int_distribution<int> gap(1, 4);
  std::vector<OutcomePair> p;
  std::int64_t ts = kT0;
  for (int i = 0; i < 300; ++i) {
    const double r = nd(rng);
    const double slope = i < 100 ? -0.8 : 0.7;
    p.push_back({ts, r, slope * r + 0.5 * nd(rng)});
    ts += gap(rng);
  }
  for (int h : {1, 5, 15}) {
    const std::vector<double> d = ref_loss_diffs(p, h);
    const SkillTest t = cml::prequential_skill(p, h, 0.05, 50);
    ASSERT_EQ(t.n, d.size()) << h;
    const RefDm r = ref_dm(d, h);
    EXPECT_EQ(t.batch, r.m) << h;
    expect_rel(t.mean_loss_diff, r.mean, 1e-9);
    expect_rel(t.statistic, r.statistic, 1e-7);
    EXPECT_NEAR(t.p_value, r.p, 1e-7);
    EXPECT_EQ(t.skilled, d.size() >= 50 && r.mean > 0 && r.p < 0.05);
  }
}

// ================================================================================== statements

TEST(HonestStatement, FromAHandMadeCalibration) {
  Calibration c;
  c.shrink = 0.5;
  c.skill.skilled = true;
  c.abs_residuals = {0.1, 0.2, 0.4, 0.8};  // n = 4
  c.half_width = 0.4;
  c.pairs = 4;
  // raw 1: served 0.5; #{|e| < 0.5} = 3 -> 50 + 50 * 3 / 5 = 80; interval 0.5 -+ 0.4.
  Statement s = cml::state(c, 1.0);
  EXPECT_EQ(s.raw, 1.0);
  EXPECT_NEAR(s.served, 0.5, 1e-15);
  EXPECT_NEAR(s.confidence, 80.0, 1e-12);
  EXPECT_NEAR(s.lower, 0.1, 1e-15);
  EXPECT_NEAR(s.upper, 0.9, 1e-15);
  EXPECT_TRUE(s.skilled);
  // raw -1: served -0.5, same confidence in the down direction (never below 50), [-0.9, -0.1].
  s = cml::state(c, -1.0);
  EXPECT_NEAR(s.served, -0.5, 1e-15);
  EXPECT_NEAR(s.confidence, 80.0, 1e-12);
  EXPECT_NEAR(s.lower, -0.9, 1e-15);
  EXPECT_NEAR(s.upper, -0.1, 1e-15);
  // raw 0.3: served 0.15; #{|e| < 0.15} = 1 -> 50 + 50 / 5 = 60.
  s = cml::state(c, 0.3);
  EXPECT_NEAR(s.served, 0.15, 1e-15);
  EXPECT_NEAR(s.confidence, 60.0, 1e-12);
  // raw 0.4: served 0.2; |e| < 0.2 is strict: only 0.1 -> 60.
  s = cml::state(c, 0.4);
  EXPECT_NEAR(s.confidence, 60.0, 1e-12);
  // raw 0.2: served 0.1; no |e| < 0.1 -> exactly 50.
  s = cml::state(c, 0.2);
  EXPECT_EQ(s.confidence, 50.0);
  // raw 100: served 50; all 4 below -> 50 + 50 * 4 / 5 = 90 (never reaches 100).
  s = cml::state(c, 100.0);
  EXPECT_NEAR(s.served, 50.0, 1e-12);
  EXPECT_NEAR(s.confidence, 90.0, 1e-12);
  // raw 0: served 0, 50.
  s = cml::state(c, 0.0);
  EXPECT_EQ(s.served, 0.0);
  EXPECT_EQ(s.confidence, 50.0);
  EXPECT_NEAR(s.lower, -0.4, 1e-15);
  EXPECT_NEAR(s.upper, 0.4, 1e-15);
  // NaN raw: served 0, confidence 50.
  s = cml::state(c, kNaN);
  EXPECT_EQ(s.served, 0.0);
  EXPECT_EQ(s.confidence, 50.0);
}

TEST(HonestStatement, WithoutSkillNothingLeaves) {
  Calibration c;
  c.shrink = 0.5;  // a shrinkage without skill is not served
  c.skill.skilled = false;
  c.abs_residuals = {0.1, 0.2, 0.4, 0.8};
  c.half_width = 0.8;
  for (double raw : {2.0, -3.0, 0.0, 1e-9}) {
    const Statement s = cml::state(c, raw);
    EXPECT_EQ(s.raw, raw);
    EXPECT_EQ(s.served, 0.0);
    EXPECT_EQ(s.confidence, 50.0);  // exactly
    EXPECT_FALSE(s.skilled);
    EXPECT_NEAR(s.lower, -0.8, 1e-15);  // 0 - q
    EXPECT_NEAR(s.upper, 0.8, 1e-15);   // 0 + q
  }
  const Statement s = cml::state(c, kNaN);
  EXPECT_EQ(s.served, 0.0);
  EXPECT_EQ(s.confidence, 50.0);
}

TEST(HonestStatement, NoResidualsNoInterval) {
  Calibration c;  // pairs 0
  c.half_width = kNaN;
  const Statement s = cml::state(c, 1.0);
  EXPECT_EQ(s.served, 0.0);
  EXPECT_EQ(s.confidence, 50.0);
  EXPECT_TRUE(std::isnan(s.lower));
  EXPECT_TRUE(std::isnan(s.upper));
  // and the same from calibrate with no pairs at all (or only unknown ones)
  HonestSettings hs;
  for (const std::vector<OutcomePair>& known :
       {std::vector<OutcomePair>{}, std::vector<OutcomePair>{{kT0, 1.0, kNaN}, {kT0 + 1, kNaN, 1.0}}}) {
    const Calibration e = cml::calibrate(known, 0, 0, hs);
    EXPECT_EQ(e.pairs, 0u);
    EXPECT_TRUE(e.abs_residuals.empty());
    EXPECT_TRUE(std::isnan(e.half_width));
    EXPECT_FALSE(e.skill.skilled);
    const Statement t = cml::state(e, 1.0);
    EXPECT_EQ(t.served, 0.0);
    EXPECT_EQ(t.confidence, 50.0);
    EXPECT_TRUE(std::isnan(t.lower));
    EXPECT_TRUE(std::isnan(t.upper));
  }
}

// Twelve finite pairs at kT0 + 1..12 (window 10 keeps ts 3..12), plus pairs calibrate must skip.
std::vector<OutcomePair> unskilled_pairs() {
  const double actual[12] = {50.0, -60.0, 0.5, -1.2, 0.3, 2.0, -0.7, 0.1, -0.4, 1.1, -0.9, 0.6};
  const double raw[12] = {1.0, -1.0, 0.2, 0.4, -0.3, 0.1, 0.5, -0.2, 0.3, 0.7, -0.6, 0.9};
  std::vector<OutcomePair> p;
  for (int i = 0; i < 12; ++i) p.push_back({kT0 + 1 + i, raw[i], actual[i]});
  // newer pairs that are unknown or non-finite: skipped, they must not push older ones out
  p.push_back({kT0 + 13, 0.5, kNaN});
  p.push_back({kT0 + 14, kNaN, 3.0});
  p.push_back({kT0 + 15, 0.5, kInf});
  p.push_back({kT0 + 16, -kInf, 0.2});
  // any order
  std::mt19937 rng(3);
  std::shuffle(p.begin(), p.end(), rng);
  return p;
}

TEST(HonestStatement, CalibrateUnskilledHandSized) {
  HonestSettings hs;
  hs.window = 10;
  hs.min_pairs = 100;
  hs.coverage = 0.8;
  hs.aci_gamma = 0.05;
  hs.horizon = 1;
  // window: ts 3..12, actual {0.5, -1.2, 0.3, 2.0, -0.7, 0.1, -0.4, 1.1, -0.9, 0.6}; 10 pairs
  // < kMinFitPairs + 1, no loss differential -> not skilled, served 0, e_i = actual_i.
  // |e| sorted: 0.1 0.3 0.4 0.5 0.6 0.7 0.9 1.1 1.2 2.0
  const Calibration c = cml::calibrate(unskilled_pairs(), 0, 0, hs);
  EXPECT_EQ(c.pairs, 10u);
  EXPECT_FALSE(c.skill.skilled);
  EXPECT_EQ(c.skill.n, 0u);
  const std::vector<double> sorted_abs = {0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9, 1.1, 1.2, 2.0};
  ASSERT_EQ(c.abs_residuals.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(c.abs_residuals[i], sorted_abs[i]) << i;
  // alpha = 1 - 0.8 = 0.2; rank ceil(11 * 0.8) = ceil(8.8) = 9 -> 1.2
  EXPECT_NEAR(c.alpha, 0.2, 1e-15);
  EXPECT_EQ(c.half_width, 1.2);
  for (double raw : {0.8, -0.8, 0.0}) {
    const Statement s = cml::state(c, raw);
    EXPECT_EQ(s.served, 0.0);
    EXPECT_EQ(s.confidence, 50.0);
    EXPECT_NEAR(s.lower, -1.2, 1e-15);
    EXPECT_NEAR(s.upper, 1.2, 1e-15);
    EXPECT_FALSE(s.skilled);
  }
}

TEST(HonestStatement, CalibrateAdaptiveLevel) {
  HonestSettings hs;
  hs.window = 10;
  hs.min_pairs = 100;
  hs.coverage = 0.8;
  hs.aci_gamma = 0.05;
  hs.horizon = 1;
  // |e| sorted: 0.1 0.3 0.4 0.5 0.6 0.7 0.9 1.1 1.2 2.0 (see CalibrateUnskilledHandSized)
  // stated 10, missed 0: 0.2 + 0.05 * (2 - 0) = 0.3 -> rank ceil(11 * 0.7) = ceil(7.7) = 8 -> 1.1
  Calibration c = cml::calibrate(unskilled_pairs(), 10, 0, hs);
  EXPECT_NEAR(c.alpha, 0.3, 1e-14);
  EXPECT_EQ(c.half_width, 1.1);
  // stated 10, missed 4: 0.2 + 0.05 * (2 - 4) = 0.1 -> rank ceil(11 * 0.9) = ceil(9.9) = 10 -> 2.0
  c = cml::calibrate(unskilled_pairs(), 10, 4, hs);
  EXPECT_NEAR(c.alpha, 0.1, 1e-14);
  EXPECT_EQ(c.half_width, 2.0);
  // stated 10, missed 8: 0.2 + 0.05 * (2 - 8) = -0.1 -> clipped to 0 -> rank 11 > 10 -> 2.0
  c = cml::calibrate(unskilled_pairs(), 10, 8, hs);
  EXPECT_EQ(c.alpha, 0.0);
  EXPECT_EQ(c.half_width, 2.0);
  // stated 100, missed 0: 0.2 + 0.05 * 20 = 1.2 -> clipped to 1 -> rank 0 < 1 -> smallest 0.1
  c = cml::calibrate(unskilled_pairs(), 100, 0, hs);
  EXPECT_EQ(c.alpha, 1.0);
  EXPECT_EQ(c.half_width, 0.1);
  // missed > stated is rejected
  EXPECT_THROW(cml::calibrate(unskilled_pairs(), 3, 4, hs), cml::InvalidParameter);
}

TEST(HonestStatement, CalibrateSkilledOnFewPairsServesNothing) {
  // 40 pairs at consecutive minutes, raw_i = (i mod 5) - 2 in {-2..2}, actual = 0.5 raw exactly.
  // Every b (window and prequential) = sum(0.5 r^2) / sum(r^2) = 0.5 exactly, so
  // d_i = (0.5 r)^2 - 0 = 0.25 r_i^2 for i = 30..39 (h = 1): r = -2 -1 0 1 2 -2 -1 0 1 2
  // -> d = 1 .25 0 .25 1 1 .25 0 .25 1; n = 10, mean = 5 / 10 = 0.5;
  // c = d - 0.5 = .5 -.25 -.5 -.25 .5 .5 -.25 -.5 -.25 .5;
  // sum_{i>=1} c_i c_{i-1} = -.125 + .125 + .125 - .125 + .25 - .125 + .125 + .125 - .125 = 0.25;
  // sum_{i>=1} c_{i-1}^2 = 5 * 0.25 + 4 * 0.0625 = 1.5; rho = 0.25 / 1.5 = 1/6;
  // a = 4 (1/36) / (35/36)^2 = (1/9)(1296/1225) = 144/1225 = 0.11755, a n = 1.1755,
  // 1.1447 cbrt(1.1755) = 1.1447 * 1.0554 = 1.208 -> 2; m = max(1, 2) = 2 (cap 5).
  // batches of 2 of c: .125 -.375 -.375 .125 .5 .125 -.375 -.375 .125:
  // squares 4 * 0.015625 + 4 * 0.140625 + 0.25 = 0.0625 + 0.5625 + 0.25 = 0.875;
  // V = 10 * 2 / (9 * 8) * 0.875 = 35/144; DM = 0.5 / sqrt((35/144) / 10) = 0.5 sqrt(1440 / 35)
  // = 0.5 sqrt(288 / 7) = 3.2071349...; p = 6.7032e-4 < 0.05; skilled (min_pairs 10).
  // Served: 40 pairs cut into 5 blocks of floor(40 / 5) = 8 < kMinFitPairs -> b_lo = 0, served 0
  // although the model has skill (and its window slope is 0.5).
  std::vector<OutcomePair> p;
  for (int i = 0; i < 40; ++i) {
    const double r = (i % 5) - 2;
    p.push_back({kT0 + i, r, 0.5 * r});
  }
  std::reverse(p.begin(), p.end());  // any order
  HonestSettings hs;
  hs.horizon = 1;
  hs.min_pairs = 10;
  hs.window = 100;
  const Calibration c = cml::calibrate(p, 0, 0, hs);
  EXPECT_EQ(c.pairs, 40u);
  EXPECT_EQ(c.shrink_ls, 0.5);
  EXPECT_EQ(c.shrink, 0.0);
  EXPECT_EQ(c.skill.n, 10u);
  EXPECT_EQ(c.skill.batch, 2u);
  EXPECT_NEAR(c.skill.mean_loss_diff, 0.5, 1e-15);
  EXPECT_NEAR(c.skill.statistic, 0.5 * std::sqrt(288.0 / 7.0), 1e-12);
  EXPECT_NEAR(c.skill.p_value, 6.7032056e-4, 1e-10);
  EXPECT_TRUE(c.skill.skilled);
  // residuals actual - 0 raw = 0.5 r: |e| in {0 x8, 0.5 x16, 1 x16}; q = rank ceil(41 * 0.8) = 33 -> 1
  ASSERT_EQ(c.abs_residuals.size(), 40u);
  EXPECT_EQ(std::count(c.abs_residuals.begin(), c.abs_residuals.end(), 0.0), 8);
  EXPECT_EQ(std::count(c.abs_residuals.begin(), c.abs_residuals.end(), 0.5), 16);
  EXPECT_EQ(std::count(c.abs_residuals.begin(), c.abs_residuals.end(), 1.0), 16);
  EXPECT_EQ(c.half_width, 1.0);
  // raw 2: served 0 * 2 = 0, confidence 50, interval 0 -+ 1; the statement is still skilled
  for (double raw : {2.0, -3.0, 0.0}) {
    const Statement s = cml::state(c, raw);
    EXPECT_TRUE(s.skilled);
    EXPECT_EQ(s.served, 0.0);
    EXPECT_EQ(s.confidence, 50.0);
    EXPECT_EQ(s.lower, -1.0);
    EXPECT_EQ(s.upper, 1.0);
  }
  Statement s;
  // the same window with min_pairs 11 > n 10: no skill, nothing served
  hs.min_pairs = 11;
  const Calibration u = cml::calibrate(p, 0, 0, hs);
  EXPECT_FALSE(u.skill.skilled);
  EXPECT_EQ(u.shrink_ls, 0.5);  // the slope is still reported
  EXPECT_EQ(u.shrink, 0.0);     // but nothing is served without skill
  s = cml::state(u, 2.0);
  EXPECT_EQ(s.served, 0.0);
  EXPECT_EQ(s.confidence, 50.0);
  // unskilled residuals are the actuals: |0.5 r| in {0 x8, 0.5 x16, 1 x16}; rank 33 of 40 -> 1
  EXPECT_EQ(u.half_width, 1.0);
}

TEST(HonestStatement, CalibrateSkilledExactFitServesTheSlope) {
  // 150 pairs at consecutive minutes, raw_i = (i mod 5) - 2, actual = 0.5 raw, h = 6.
  // Pair i knows j <= i - 6: i - 5 pairs >= 30 -> i >= 35 -> n = 115; every b = 0.5, so
  // d_i = 0.25 r_i^2; from pair 35 (r = -2): d = 1 .25 0 .25 1 repeated 23 times, mean 0.5;
  // c = .5 -.25 -.5 -.25 .5 repeated.
  // rho: sum_{i>=1} c_i c_{i-1} = 22 period joins (.5)(.5) = 5.5 (within a period
  // -.125 + .125 + .125 - .125 = 0); sum_{i=0..113} c_i^2 = 22 * 0.875 + 0.625 = 19.875;
  // rho = 5.5 / 19.875 = 0.2767, a = 4 rho^2 / (1 - rho^2)^2 = 0.3576, a n = 41.1,
  // 1.1447 cbrt(41.1) = 1.1447 * 3.452 = 3.95 -> 4; m = max(6, 4) = 6 (cap 57): the horizon.
  // A batch of 6 is a period (sum 0) and one more value, c_{j+5} = c_j: batch mean c_j / 6,
  // j = 0..109 (22 whole periods): sum of squares 22 * 0.875 / 36 = 19.25 / 36;
  // V = 115 * 6 / (110 * 109) * 19.25 / 36 = (690 / 11990) (19.25 / 36) = 0.030772;
  // DM = 0.5 / sqrt(0.030772 / 115) = 0.5 / 0.0163576 = 30.566; skilled (min_pairs 10).
  // Served: floor(150 / 5) = 30 pairs a block, each block's slope 0.5: mean 0.5, sd 0 -> b_lo =
  // 0.5 = b. Residuals all 0.
  std::vector<OutcomePair> p;
  for (int i = 0; i < 150; ++i) {
    const double r = (i % 5) - 2;
    p.push_back({kT0 + i, r, 0.5 * r});
  }
  std::reverse(p.begin(), p.end());  // any order
  HonestSettings hs;
  hs.horizon = 6;
  hs.min_pairs = 10;
  hs.window = 1000;
  const Calibration c = cml::calibrate(p, 0, 0, hs);
  EXPECT_EQ(c.pairs, 150u);
  EXPECT_EQ(c.skill.n, 115u);
  EXPECT_EQ(c.skill.batch, 6u);
  EXPECT_NEAR(c.skill.mean_loss_diff, 0.5, 1e-14);
  const double v = 690.0 / 11990.0 * 19.25 / 36.0;
  EXPECT_NEAR(c.skill.statistic, 0.5 / std::sqrt(v / 115.0), 1e-10);
  EXPECT_NEAR(c.skill.statistic, 30.566, 1e-3);
  EXPECT_TRUE(c.skill.skilled);
  EXPECT_EQ(c.shrink_ls, 0.5);
  EXPECT_EQ(c.shrink, 0.5);
  ASSERT_EQ(c.abs_residuals.size(), 150u);
  for (double e : c.abs_residuals) EXPECT_EQ(e, 0.0);
  EXPECT_EQ(c.half_width, 0.0);  // rank ceil(151 * 0.8) = 121 of 150 zeros
  // raw 2: served 1; all 150 |e| = 0 < 1 -> 50 + 50 * 150 / 151 = 99.6688...
  Statement s = cml::state(c, 2.0);
  EXPECT_TRUE(s.skilled);
  EXPECT_EQ(s.served, 1.0);
  EXPECT_NEAR(s.confidence, 50.0 + 50.0 * 150.0 / 151.0, 1e-12);
  EXPECT_EQ(s.lower, 1.0);
  EXPECT_EQ(s.upper, 1.0);
  // raw -3: served -1.5, the same confidence that the change is negative
  s = cml::state(c, -3.0);
  EXPECT_EQ(s.served, -1.5);
  EXPECT_NEAR(s.confidence, 50.0 + 50.0 * 150.0 / 151.0, 1e-12);
  EXPECT_EQ(s.lower, -1.5);
  EXPECT_EQ(s.upper, -1.5);
  // raw 0: served 0, no |e| < 0 -> 50
  s = cml::state(c, 0.0);
  EXPECT_EQ(s.served, 0.0);
  EXPECT_EQ(s.confidence, 50.0);
  // a window of 149 (pairs 1..149): blocks of floor(149 / 5) = 29 < 30 -> nothing served, though
  // still skilled (window pairs 35..148: 114 differentials)
  hs.window = 149;
  const Calibration less = cml::calibrate(p, 0, 0, hs);
  EXPECT_EQ(less.pairs, 149u);
  EXPECT_EQ(less.skill.n, 114u);
  EXPECT_TRUE(less.skill.skilled);
  EXPECT_EQ(less.shrink_ls, 0.5);
  EXPECT_EQ(less.shrink, 0.0);
  EXPECT_EQ(cml::state(less, 2.0).served, 0.0);
}

TEST(HonestStatement, CalibrateMatchesConventionsOnNoisyData) {
  // 300 pairs, actual = 0.5 raw + 0.3 noise, h = 5; older junk beyond the window.
  std::vector<OutcomePair> p = make_pairs(300, 0.5, 0.3, 21);
  std::vector<OutcomePair> input = p;
  for (int i = 1; i <= 50; ++i) input.push_back({kT0 - i, 1.0, -40.0});  // older than the window
  input.push_back({kT0 + 400, 1.0, kNaN});                             // unknown
  std::mt19937 rng(8);
  std::shuffle(input.begin(), input.end(), rng);
  HonestSettings hs;
  hs.horizon = 5;
  hs.window = 300;
  hs.min_pairs = 100;
  const Calibration c = cml::calibrate(input, 0, 0, hs);
  EXPECT_EQ(c.pairs, 300u);
  // shrink_ls is the clipped LS slope; what is served is the lower bound b_lo over 5 blocks of 60
  expect_rel(c.shrink_ls, ref_shrink(p), 1e-12);
  const double b = ref_block_lb(p, 0.05);
  expect_rel(c.shrink, b, 1e-9);
  EXPECT_GT(b, 0.0);
  EXPECT_LT(b, c.shrink_ls);  // the block slopes differ: the bound takes something off
  expect_same_skill(c.skill, cml::prequential_skill(p, 5, 0.05, 100));
  ASSERT_TRUE(c.skill.skilled);  // a clear relation over 300 - 29 - 5 = 266 differentials
  EXPECT_EQ(c.skill.n, 266u);
  EXPECT_EQ(c.skill.batch, ref_dm(ref_loss_diffs(p, 5), 5).m);
  std::vector<double> e;
  for (const auto& x : p) e.push_back(std::fabs(x.actual - b * x.raw));
  std::sort(e.begin(), e.end());
  ASSERT_EQ(c.abs_residuals.size(), e.size());
  for (std::size_t i = 0; i < e.size(); ++i) expect_rel(c.abs_residuals[i], e[i], 1e-12);
  // alpha 0.2: rank ceil(301 * 0.8) = ceil(240.8) = 241
  EXPECT_NEAR(c.alpha, 0.2, 1e-15);
  expect_rel(c.half_width, e[240], 1e-12);
  for (double raw : {1.5, -0.7, 0.05, -4.0}) {
    const Statement s = cml::state(c, raw);
    const double served = b * raw;
    const double below = static_cast<double>(
        std::count_if(e.begin(), e.end(), [&](double x) { return x < std::fabs(served); }));
    expect_rel(s.served, served, 1e-12);
    expect_rel(s.confidence, 50.0 + 50.0 * below / 301.0, 1e-12);
    expect_rel(s.lower, served - e[240], 1e-12);
    expect_rel(s.upper, served + e[240], 1e-12);
    EXPECT_TRUE(s.skilled);
  }
}

TEST(HonestStatement, WindowKeepsTheMostRecentPairs) {
  // 400 pairs; the window of 100 keeps the last 100 by ts, whatever the input order.
  std::vector<OutcomePair> p = make_pairs(400, 0.5, 0.3, 4);
  for (std::size_t i = 0; i < 300; ++i) p[i].actual = -p[i].actual * 10.0;  // different relation before
  std::vector<OutcomePair> shuffled = p;
  std::mt19937 rng(1);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  HonestSettings hs;
  hs.horizon = 1;
  hs.window = 100;
  hs.min_pairs = 20;
  const Calibration c = cml::calibrate(shuffled, 0, 0, hs);
  const std::vector<OutcomePair> last(p.end() - 100, p.end());
  const Calibration d = cml::calibrate(last, 0, 0, hs);
  EXPECT_EQ(c.pairs, 100u);
  EXPECT_EQ(c.shrink, d.shrink);
  EXPECT_EQ(c.shrink_ls, d.shrink_ls);
  expect_rel(c.shrink_ls, ref_shrink(last), 1e-12);
  // a window of 100: blocks of floor(100 / 5) = 20 < 30 -> nothing served, skill or not
  EXPECT_EQ(c.shrink, 0.0);
  expect_same_skill(c.skill, d.skill);
  expect_same_skill(c.skill, cml::prequential_skill(last, 1, 0.05, 20));
  EXPECT_EQ(c.skill.n, 100u - 30u);  // pairs 30..99 of the window have >= 30 known before them
  EXPECT_EQ(c.abs_residuals, d.abs_residuals);
  EXPECT_EQ(c.half_width, d.half_width);
}

TEST(HonestStatement, SignAndRangeProperties) {
  std::mt19937 rng(17);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::uniform_real_distribution<double> slope(-0.5, 1.5);
  HonestSettings hs;
  hs.horizon = 3;
  hs.min_pairs = 50;
  bool any_served = false;
  for (int trial = 0; trial < 20; ++trial) {
    const std::vector<OutcomePair> p = make_pairs(250, slope(rng), 0.5, 100 + trial);
    const Calibration c = cml::calibrate(p, 0, 0, hs);
    EXPECT_GE(c.shrink, 0.0);
    EXPECT_LE(c.shrink, c.shrink_ls);  // the served factor never exceeds the slope
    EXPECT_LE(c.shrink_ls, 1.0);
    if (!c.skill.skilled) {
      EXPECT_EQ(c.shrink, 0.0);
    }
    EXPECT_TRUE(std::is_sorted(c.abs_residuals.begin(), c.abs_residuals.end()));
    for (int k = 0; k < 20; ++k) {
      const double raw = 3.0 * nd(rng);
      const Statement s = cml::state(c, raw);
      EXPECT_GE(s.served * raw, 0.0);  // the sign of raw, or 0
      EXPECT_LE(std::fabs(s.served), std::fabs(raw));
      any_served = any_served || s.served != 0;
      EXPECT_GE(s.confidence, 50.0);
      EXPECT_LT(s.confidence, 100.0);
      EXPECT_LE(s.lower, s.served);
      EXPECT_GE(s.upper, s.served);
      EXPECT_EQ(s.skilled, c.skill.skilled);
      if (!s.skilled) {
        EXPECT_EQ(s.served, 0.0);
        EXPECT_EQ(s.confidence, 50.0);
      }
      // symmetric: -raw states the mirror image
      const Statement m = cml::state(c, -raw);
      EXPECT_EQ(m.served, -s.served);
      EXPECT_EQ(m.confidence, s.confidence);
    }
  }
  EXPECT_TRUE(any_served);
}

// =================================================================================== sequences

// Settings for the sequence tests: horizon 15, everything else default (window 10080, 100 pairs).
HonestSettings seq_settings() {
  HonestSettings hs;
  hs.horizon = 15;
  return hs;
}

// Reference replay: statement i from the prior pairs and earlier sequence pairs known at ts_i
// (ts + h <= ts_i, actual finite), ACI counting earlier statements with an interval whose outcome
// is known (missed: actual outside [lower, upper]).
std::vector<Statement> ref_sequence(const std::vector<OutcomePair>& prior, const std::vector<OutcomePair>& seq,
                                    const HonestSettings& hs) {
  std::vector<Statement> out;
  for (std::size_t i = 0; i < seq.size(); ++i) {
    std::vector<OutcomePair> known;
    for (const auto& p : prior)
      if (p.ts + hs.horizon <= seq[i].ts) known.push_back(p);
    std::size_t stated = 0, missed = 0;
    for (std::size_t j = 0; j < i; ++j) {
      if (seq[j].ts + hs.horizon > seq[i].ts || !std::isfinite(seq[j].actual)) continue;
      known.push_back(seq[j]);
      if (std::isfinite(out[j].lower) && std::isfinite(out[j].upper)) {
        ++stated;
        if (seq[j].actual < out[j].lower || seq[j].actual > out[j].upper) ++missed;
      }
    }
    out.push_back(cml::state(cml::calibrate(known, stated, missed, hs), seq[i].raw));
  }
  return out;
}

struct SeqData {
  std::vector<OutcomePair> prior, seq;
};
// prior: 300 pairs at kT0 + 0..299; sequence: 200 predictions at kT0 + 300..499.
SeqData make_seq(double slope, std::uint32_t seed) {
  SeqData d;
  d.prior = make_pairs(300, slope, 0.5, seed);
  d.seq = make_pairs(200, slope, 0.5, seed + 1, kT0 + 300);
  return d;
}

TEST(HonestSequence, MatchesStepByStepReplay) {
  for (double slope : {0.6, 0.0}) {
    SeqData d = make_seq(slope, 31);
    d.seq[50].actual = kNaN;  // an outcome never learned
    d.seq[51].actual = kNaN;
    const HonestSettings hs = seq_settings();
    const std::vector<Statement> got = cml::state_sequence(d.prior, d.seq, hs);
    const std::vector<Statement> want = ref_sequence(d.prior, d.seq, hs);
    ASSERT_EQ(got.size(), d.seq.size());
    bool any_skilled = false;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].raw, d.seq[i].raw);
      expect_rel(got[i].served, want[i].served, 1e-12);
      expect_rel(got[i].confidence, want[i].confidence, 1e-12);
      expect_rel(got[i].lower, want[i].lower, 1e-12);
      expect_rel(got[i].upper, want[i].upper, 1e-12);
      EXPECT_EQ(got[i].skilled, want[i].skilled) << i;
      any_skilled = any_skilled || got[i].skilled;
    }
    if (slope > 0) {
      EXPECT_TRUE(any_skilled);
    }
  }
}

TEST(HonestSequence, NoLookAhead) {
  const SeqData d = make_seq(0.6, 41);
  const HonestSettings hs = seq_settings();
  const std::vector<Statement> base = cml::state_sequence(d.prior, d.seq, hs);
  ASSERT_EQ(base.size(), 200u);

  // Sequence item k = 100 (ts kT0 + 400) is known at kT0 + 415 = ts of item 115.
  SeqData m = d;
  m.seq[100].actual += 25.0;
  const std::vector<Statement> a = cml::state_sequence(m.prior, m.seq, hs);
  ASSERT_EQ(a.size(), 200u);
  for (std::size_t i = 0; i < 115; ++i) EXPECT_TRUE(same_statement(a[i], base[i])) << "statement " << i;
  bool changed = false;
  for (std::size_t i = 115; i < 200; ++i) changed = changed || !same_statement(a[i], base[i]);
  EXPECT_TRUE(changed) << "an outcome known before a statement should be able to move it";
  EXPECT_FALSE(same_statement(a[115], base[115]));  // its own residual enters the window there

  // A prior pair at kT0 + 299 is known at kT0 + 314 = ts of sequence item 14.
  m = d;
  m.prior[299].actual -= 25.0;
  const std::vector<Statement> b = cml::state_sequence(m.prior, m.seq, hs);
  for (std::size_t i = 0; i < 14; ++i) EXPECT_TRUE(same_statement(b[i], base[i])) << "statement " << i;
  EXPECT_FALSE(same_statement(b[14], base[14]));

  // A prior pair placed inside the sequence's period (ts kT0 + 450, known at kT0 + 465, item 165).
  m = d;
  m.prior.push_back({kT0 + 450, 1.0, 0.3});
  const std::vector<Statement> c0 = cml::state_sequence(m.prior, m.seq, hs);
  m.prior.back().actual = 30.0;
  const std::vector<Statement> c1 = cml::state_sequence(m.prior, m.seq, hs);
  for (std::size_t i = 0; i < 165; ++i) EXPECT_TRUE(same_statement(c0[i], c1[i])) << "statement " << i;
  EXPECT_FALSE(same_statement(c0[165], c1[165]));

  // Changing a raw prediction changes no earlier statement and no statement before it is known
  // except its own raw.
  m = d;
  m.seq[120].raw = 7.0;
  const std::vector<Statement> r = cml::state_sequence(m.prior, m.seq, hs);
  for (std::size_t i = 0; i < 120; ++i) EXPECT_TRUE(same_statement(r[i], base[i])) << "statement " << i;
  EXPECT_EQ(r[120].raw, 7.0);
  for (std::size_t i = 121; i < 135; ++i) EXPECT_TRUE(same_statement(r[i], base[i])) << "statement " << i;

  // Truncating the sequence does not change the statements kept.
  const std::vector<OutcomePair> head(d.seq.begin(), d.seq.begin() + 80);
  const std::vector<Statement> t = cml::state_sequence(d.prior, head, hs);
  ASSERT_EQ(t.size(), 80u);
  for (std::size_t i = 0; i < 80; ++i) EXPECT_TRUE(same_statement(t[i], base[i])) << "statement " << i;
}

TEST(HonestSequence, NothingKnownAtFirst) {
  // No prior: the first 15 statements (ts kT0 .. kT0 + 14) know no pair -> 0, 50 %, no interval.
  const std::vector<OutcomePair> seq = make_pairs(40, 0.6, 0.5, 9);
  const std::vector<Statement> s = cml::state_sequence({}, seq, seq_settings());
  ASSERT_EQ(s.size(), 40u);
  for (std::size_t i = 0; i < 15; ++i) {
    EXPECT_EQ(s[i].served, 0.0);
    EXPECT_EQ(s[i].confidence, 50.0);
    EXPECT_TRUE(std::isnan(s[i].lower)) << i;
    EXPECT_TRUE(std::isnan(s[i].upper)) << i;
    EXPECT_FALSE(s[i].skilled);
  }
  // statement 15 knows pair 0 -> an interval exists
  EXPECT_TRUE(std::isfinite(s[15].lower));
  EXPECT_TRUE(std::isfinite(s[15].upper));
  EXPECT_TRUE(cml::state_sequence({}, {}, seq_settings()).empty());
}

TEST(HonestSequence, AdaptiveLevelWidensAfterMisses) {
  // Prior: 200 unskilled pairs with |actual| < 1; then 60 predictions whose outcomes are all far
  // outside (actual 50): every stated interval misses. With gamma > 0 each known miss lowers
  // alpha_t = 0.2 + gamma (0.2 k - k) = 0.2 - 0.8 gamma k, so the quantile's rank rises.
  std::mt19937 rng(12);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<OutcomePair> prior, seq;
  for (int i = 0; i < 200; ++i) prior.push_back({kT0 + i, u(rng), u(rng)});
  for (int i = 0; i < 60; ++i) seq.push_back({kT0 + 215 + i, u(rng), 50.0});
  HonestSettings h0 = seq_settings();
  h0.aci_gamma = 0.0;
  HonestSettings h1 = seq_settings();
  h1.aci_gamma = 0.05;
  const std::vector<Statement> s0 = cml::state_sequence(prior, seq, h0);
  const std::vector<Statement> s1 = cml::state_sequence(prior, seq, h1);
  ASSERT_EQ(s0.size(), 60u);
  ASSERT_EQ(s1.size(), 60u);
  // the first 15 statements know no outcome of the sequence: identical
  for (std::size_t i = 0; i < 15; ++i) EXPECT_TRUE(same_statement(s0[i], s1[i])) << i;
  bool wider = false;
  for (std::size_t i = 15; i < 60; ++i) {
    const double w0 = s0[i].upper - s0[i].lower, w1 = s1[i].upper - s1[i].lower;
    EXPECT_GE(w1, w0) << i;
    wider = wider || w1 > w0;
  }
  EXPECT_TRUE(wider);
  // statement 15 knows one missed interval: alpha = 0.2 - 0.04 = 0.16 over 201 residuals:
  // rank ceil(202 * 0.84) = ceil(169.68) = 170 vs ceil(202 * 0.8) = ceil(161.6) = 162.
  std::vector<double> abs_e;
  for (const auto& p : prior) abs_e.push_back(std::fabs(p.actual));
  abs_e.push_back(50.0);
  EXPECT_FALSE(s1[15].skilled);
  EXPECT_NEAR(s0[15].upper, kth(abs_e, 162), 1e-15);
  EXPECT_NEAR(s1[15].upper, kth(abs_e, 170), 1e-15);
  // statement 20 knows items 0..5, all missed (their intervals came from the prior, |e| < 1):
  // alpha = 0.2 - 0.8 * 0.05 * 6 = -0.04 < 0 -> clipped to 0 -> rank 208 > 206 -> the largest, 50
  EXPECT_FALSE(s1[20].skilled);
  EXPECT_EQ(s1[20].upper, 50.0);
}

// ================================================================================= reliability

TEST(HonestReliability, TwoBuckets) {
  // {55, 55, 65, 65} x {1, 0, 1, 1}: 50-60: mean 55, hit rate 50 %, gap 5; 60-70: mean 65,
  // hit 100 %, gap 35. ECE = 0.5 * 5 + 0.5 * 35 = 20.
  // brier = (0.45^2 + 0.55^2 + 0.35^2 + 0.35^2) / 4 = (0.2025 + 0.3025 + 0.1225 + 0.1225) / 4
  //       = 0.75 / 4 = 0.1875; skill = 1 - 0.1875 / 0.25 = 0.25.
  const cml::Reliability r = cml::reliability({55, 55, 65, 65}, {true, false, true, true}, 2);
  EXPECT_EQ(r.n, 4u);
  EXPECT_NEAR(r.ece, 20.0, 1e-12);
  EXPECT_NEAR(r.brier, 0.1875, 1e-12);
  EXPECT_NEAR(r.brier_skill, 0.25, 1e-12);
  EXPECT_NEAR(r.largest_gap, 35.0, 1e-12);  // both buckets hold 2
  // min_bucket 3: no bucket qualifies -> NaN
  EXPECT_TRUE(std::isnan(cml::reliability({55, 55, 65, 65}, {true, false, true, true}, 3).largest_gap));
}

TEST(HonestReliability, EveryBucket) {
  // 40 (below 50, hit 0): gap 40; 52 (50-60, hit 1): 48; 68 (60-70, hit 1): 32; 71 (70-80,
  // hit 0): 71; 85 (80-90, hit 1): 15; 92 and 100 (90-100, hits 1 1): mean 96, gap 4.
  // ECE = (40 + 48 + 32 + 71 + 15) / 7 + (2/7) 4 = 214 / 7 = 30.571428...
  // brier = (0.4^2 + 0.48^2 + 0.32^2 + 0.71^2 + 0.15^2 + 0.08^2 + 0^2) / 7
  //       = (0.16 + 0.2304 + 0.1024 + 0.5041 + 0.0225 + 0.0064) / 7 = 1.0258 / 7;
  // skill = 1 - (1.0258 / 7) / 0.25.
  const std::vector<double> c = {40, 52, 68, 71, 85, 92, 100};
  const std::vector<bool> h = {false, true, true, false, true, true, true};
  cml::Reliability r = cml::reliability(c, h, 1);
  EXPECT_EQ(r.n, 7u);
  EXPECT_NEAR(r.ece, 214.0 / 7.0, 1e-12);
  EXPECT_NEAR(r.brier, 1.0258 / 7.0, 1e-12);
  EXPECT_NEAR(r.brier_skill, 1.0 - (1.0258 / 7.0) / 0.25, 1e-12);
  EXPECT_NEAR(r.largest_gap, 71.0, 1e-12);
  // min_bucket 2: only 90-100 (2 statements) qualifies -> 4
  r = cml::reliability(c, h, 2);
  EXPECT_NEAR(r.largest_gap, 4.0, 1e-12);
}

TEST(HonestReliability, BucketEdges) {
  // 100 belongs to 90-100: {95, 100} x {1, 0}: one bucket, mean 97.5, hit 50 -> 47.5
  // (two buckets would give 0.5 * 5 + 0.5 * 100 = 52.5).
  cml::Reliability r = cml::reliability({95, 100}, {true, false}, 2);
  EXPECT_NEAR(r.ece, 47.5, 1e-12);
  EXPECT_NEAR(r.largest_gap, 47.5, 1e-12);
  // 60 opens 60-70: {59.9, 60} x {0, 1}: 59.9 -> gap 59.9, 60 -> gap 40: ECE 0.5 * 59.9 + 0.5 * 40
  // = 49.95 (one bucket would give |59.95 - 50| = 9.95).
  r = cml::reliability({59.9, 60}, {false, true}, 1);
  EXPECT_NEAR(r.ece, 49.95, 1e-12);
  EXPECT_NEAR(r.largest_gap, 59.9, 1e-12);
  // 50 opens 50-60; below 50 is its own bucket: {49.9, 50} x {0, 1}: gaps 49.9 and 50 -> 49.95
  // (together: |49.95 - 50| = 0.05).
  r = cml::reliability({49.9, 50}, {false, true}, 1);
  EXPECT_NEAR(r.ece, 49.95, 1e-12);
  EXPECT_NEAR(r.largest_gap, 50.0, 1e-12);
  // everything below 50 is one bucket: {10, 45} x {1, 0}: mean 27.5, hit 50 -> 22.5
  r = cml::reliability({10, 45}, {true, false}, 2);
  EXPECT_NEAR(r.ece, 22.5, 1e-12);
  EXPECT_NEAR(r.largest_gap, 22.5, 1e-12);
  // brier = (0.1 - 1)^2 + (0.45 - 0)^2 = 0.81 + 0.2025 = 1.0125 / 2 = 0.50625
  EXPECT_NEAR(r.brier, 0.50625, 1e-12);
  EXPECT_NEAR(r.brier_skill, 1.0 - 0.50625 / 0.25, 1e-12);
  // 80-90 and 89.99: {80, 89.99} x {1, 1}: one bucket, mean 84.995, gap 15.005
  r = cml::reliability({80, 89.99}, {true, true}, 2);
  EXPECT_NEAR(r.ece, 15.005, 1e-11);
  EXPECT_NEAR(r.largest_gap, 15.005, 1e-11);
}

TEST(HonestReliability, StatingFiftyAndSkipping) {
  // Always 50 %: brier 0.25 whatever the hits, skill 0.
  cml::Reliability r = cml::reliability({50, 50, 50, 50}, {true, true, false, true}, 1);
  EXPECT_NEAR(r.brier, 0.25, 1e-15);
  EXPECT_NEAR(r.brier_skill, 0.0, 1e-15);
  // hit rate 75 % vs 50: ECE 25
  EXPECT_NEAR(r.ece, 25.0, 1e-12);
  // non-finite confidences skipped: {55, NaN, inf, 65} x {1, 1, 0, 0}
  // -> {55 hit 1, 65 hit 0}: gaps 45 and 65 -> ECE 55; brier (0.2025 + 0.4225) / 2 = 0.3125
  r = cml::reliability({55, kNaN, kInf, 65}, {true, true, false, false}, 1);
  EXPECT_EQ(r.n, 2u);
  EXPECT_NEAR(r.ece, 55.0, 1e-12);
  EXPECT_NEAR(r.brier, 0.3125, 1e-12);
  EXPECT_NEAR(r.largest_gap, 65.0, 1e-12);
}

TEST(HonestReliability, SizeMismatchThrows) {
  EXPECT_THROW(cml::reliability({55, 65}, {true}, 1), cml::InvalidParameter);
  EXPECT_THROW(cml::reliability({}, {true}, 1), cml::InvalidParameter);
  const cml::Reliability r = cml::reliability({}, {}, 1);
  EXPECT_EQ(r.n, 0u);
  EXPECT_TRUE(std::isnan(r.largest_gap));
}

// ============================================================================== rolling origin

struct Call {
  std::vector<std::size_t> train, valid, predict;
};

// Records each call; predicts 1000 + row, NaN for rows divisible by nan_every (0: never).
struct Recorder {
  std::vector<Call> calls;
  std::size_t nan_every = 0;
  cml::FoldTrainer trainer() {
    return [this](const std::vector<std::size_t>& t, const std::vector<std::size_t>& v,
                  const std::vector<std::size_t>& p) {
      calls.push_back({t, v, p});
      std::vector<double> out;
      for (std::size_t r : p) out.push_back(nan_every && r % nan_every == 0 ? kNaN : 1000.0 + static_cast<double>(r));
      return out;
    };
  }
};

std::vector<std::size_t> range(std::size_t from, std::size_t to) {
  std::vector<std::size_t> v;
  for (std::size_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

std::vector<std::int64_t> minutes(std::size_t n) {
  std::vector<std::int64_t> ts;
  for (std::size_t i = 0; i < n; ++i) ts.push_back(kT0 + static_cast<std::int64_t>(i));
  return ts;
}

TEST(HonestRollingOrigin, WorkedFourFolds) {
  // n = 500, folds 4 -> 5 chunks of 100. h = 5, split 0.2, consecutive minutes: before chunk f
  // starting at row s, rows i with i + 5 <= s are known: s - 4 of them.
  //   f1: s 100, 96 rows: valid floor(19.2) = 19, embargo 5, train 72: train 0..71, valid 77..95
  //   f2: s 200, 196 rows: valid 39, train 152: train 0..151, valid 157..195
  //   f3: s 300, 296 rows: valid 59, train 232: train 0..231, valid 237..295
  //   f4: s 400, 396 rows: valid 79, train 312: train 0..311, valid 317..395
  Recorder rec;
  const cml::RollingOrigin ro = cml::rolling_origin(minutes(500), 5, 0.2, 4, rec.trainer());
  ASSERT_EQ(rec.calls.size(), 4u);
  EXPECT_EQ(ro.folds_used, 4);
  const std::size_t start[4] = {100, 200, 300, 400}, train[4] = {72, 152, 232, 312},
                    valid_from[4] = {77, 157, 237, 317}, known[4] = {96, 196, 296, 396};
  for (int f = 0; f < 4; ++f) {
    EXPECT_EQ(rec.calls[f].train, range(0, train[f])) << f;
    EXPECT_EQ(rec.calls[f].valid, range(valid_from[f], known[f])) << f;
    EXPECT_EQ(rec.calls[f].predict, range(start[f], start[f] + 100)) << f;
  }
  EXPECT_EQ(ro.rows, range(100, 500));
  ASSERT_EQ(ro.raw.size(), 400u);
  for (std::size_t i = 0; i < 400; ++i) EXPECT_EQ(ro.raw[i], 1000.0 + static_cast<double>(100 + i));
}

TEST(HonestRollingOrigin, FirstChunkTakesRemainderAndSmallFoldsAreSkipped) {
  // n = 103, folds 4: 5 chunks, floor(103 / 5) = 20, the first takes 20 + 3 = 23:
  // [0, 23) [23, 43) [43, 63) [63, 83) [83, 103). h = 1, split 0.2: known before s: s rows.
  //   f1: 23 rows: valid floor(4.6) = 4 < 10 -> skipped
  //   f2: 43 rows: valid floor(8.6) = 8 < 10 -> skipped
  //   f3: 63 rows: valid floor(12.6) = 12, train 63 - 12 - 1 = 50 -> train 0..49, valid 51..62
  //   f4: 83 rows: valid floor(16.6) = 16, train 83 - 16 - 1 = 66 -> train 0..65, valid 67..82
  Recorder rec;
  const cml::RollingOrigin ro = cml::rolling_origin(minutes(103), 1, 0.2, 4, rec.trainer());
  ASSERT_EQ(rec.calls.size(), 2u);
  EXPECT_EQ(ro.folds_used, 2);
  EXPECT_EQ(rec.calls[0].train, range(0, 50));
  EXPECT_EQ(rec.calls[0].valid, range(51, 63));
  EXPECT_EQ(rec.calls[0].predict, range(63, 83));
  EXPECT_EQ(rec.calls[1].train, range(0, 66));
  EXPECT_EQ(rec.calls[1].valid, range(67, 83));
  EXPECT_EQ(rec.calls[1].predict, range(83, 103));
  EXPECT_EQ(ro.rows, range(63, 103));
}

TEST(HonestRollingOrigin, SkipsFoldsWithoutEnoughRows) {
  // n = 100, folds 4: chunks of 20; h = 5: known before s: s - 4 rows.
  //   f1: 16 -> not ok; f2: 36 -> valid 7 -> not ok;
  //   f3: 56 -> valid 11, train 56 - 11 - 5 = 40 -> ok; f4: 76 -> valid 15, train 56 -> ok.
  Recorder rec;
  const cml::RollingOrigin ro = cml::rolling_origin(minutes(100), 5, 0.2, 4, rec.trainer());
  EXPECT_EQ(ro.folds_used, 2);
  ASSERT_EQ(rec.calls.size(), 2u);
  EXPECT_EQ(rec.calls[0].train, range(0, 40));
  EXPECT_EQ(rec.calls[0].valid, range(45, 56));
  EXPECT_EQ(rec.calls[1].train, range(0, 56));
  EXPECT_EQ(rec.calls[1].valid, range(61, 76));
  EXPECT_EQ(ro.rows, range(60, 100));
  // too few samples for any fold: nothing
  Recorder none;
  const cml::RollingOrigin empty = cml::rolling_origin(minutes(40), 5, 0.2, 3, none.trainer());
  EXPECT_EQ(empty.folds_used, 0);
  EXPECT_TRUE(empty.rows.empty());
  EXPECT_TRUE(empty.raw.empty());
  EXPECT_TRUE(none.calls.empty());
}

TEST(HonestRollingOrigin, DropsNaNPredictions) {
  Recorder rec;
  rec.nan_every = 7;
  const cml::RollingOrigin ro = cml::rolling_origin(minutes(500), 5, 0.2, 4, rec.trainer());
  EXPECT_EQ(ro.folds_used, 4);
  std::vector<std::size_t> want;
  for (std::size_t r = 100; r < 500; ++r)
    if (r % 7 != 0) want.push_back(r);
  EXPECT_EQ(ro.rows, want);
  ASSERT_EQ(ro.raw.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(std::isfinite(ro.raw[i]));
    EXPECT_EQ(ro.raw[i], 1000.0 + static_cast<double>(want[i]));
  }
}

TEST(HonestRollingOrigin, UnevenMinutesInvariants) {
  // Irregular minutes: every row trained or validated on was known at the first predicted minute,
  // valid rows follow train rows after `horizon` dropped rows, chunks tile the predicted range.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> gap(1, 9);
  std::vector<std::int64_t> ts;
  std::int64_t t = kT0;
  for (int i = 0; i < 1237; ++i) {
    ts.push_back(t);
    t += gap(rng);
  }
  for (int h : {1, 15, 60})
    for (int folds : {1, 3, 7, 20}) {
      Recorder rec;
      const cml::RollingOrigin ro = cml::rolling_origin(ts, h, 0.25, folds, rec.trainer());
      const std::size_t n = ts.size(), chunk = n / static_cast<std::size_t>(folds + 1);
      const std::size_t first = chunk + n % static_cast<std::size_t>(folds + 1);
      std::vector<std::size_t> want_rows;
      std::size_t call = 0;
      for (int f = 1; f <= folds; ++f) {
        const std::size_t s = first + static_cast<std::size_t>(f - 1) * chunk;
        std::size_t m = 0;
        while (m < s && ts[m] + h <= ts[s]) ++m;
        const SplitRows sp = cml::split_rows(m, 0.25, h);
        if (!sp.ok) continue;
        ASSERT_LT(call, rec.calls.size()) << h << " " << folds << " " << f;
        const Call& c = rec.calls[call++];
        EXPECT_EQ(c.predict, range(s, s + chunk)) << h << " " << folds << " " << f;
        EXPECT_EQ(c.train, range(0, sp.train)) << h << " " << folds << " " << f;
        EXPECT_EQ(c.valid, range(sp.train + static_cast<std::size_t>(h), m)) << h << " " << folds << " " << f;
        for (std::size_t r : c.train) EXPECT_LE(ts[r] + h, ts[c.predict.front()]);
        for (std::size_t r : c.valid) EXPECT_LE(ts[r] + h, ts[c.predict.front()]);
        if (!c.train.empty() && !c.valid.empty()) {
          EXPECT_EQ(c.valid.front(), c.train.back() + 1 + h);
        }
        for (std::size_t r = s; r < s + chunk; ++r) want_rows.push_back(r);
      }
      EXPECT_EQ(call, rec.calls.size()) << h << " " << folds;
      EXPECT_EQ(ro.folds_used, static_cast<int>(call));
      EXPECT_EQ(ro.rows, want_rows) << h << " " << folds;
      EXPECT_TRUE(std::is_sorted(ro.rows.begin(), ro.rows.end()));
    }
}

TEST(HonestRollingOrigin, FoldsOutsideRangeThrow) {
  Recorder rec;
  const std::vector<std::int64_t> ts = minutes(500);
  EXPECT_THROW(cml::rolling_origin(ts, 5, 0.2, 0, rec.trainer()), cml::InvalidParameter);
  EXPECT_THROW(cml::rolling_origin(ts, 5, 0.2, -1, rec.trainer()), cml::InvalidParameter);
  EXPECT_THROW(cml::rolling_origin(ts, 5, 0.2, 21, rec.trainer()), cml::InvalidParameter);
  EXPECT_TRUE(rec.calls.empty());
  EXPECT_NO_THROW(cml::rolling_origin(ts, 5, 0.2, 1, rec.trainer()));
  EXPECT_NO_THROW(cml::rolling_origin(minutes(2100), 5, 0.2, 20, rec.trainer()));
  // folds 1: chunks [0, 250) [250, 500); 246 known rows: valid floor(49.2) = 49, train 192
  Recorder one;
  const cml::RollingOrigin ro = cml::rolling_origin(ts, 5, 0.2, 1, one.trainer());
  ASSERT_EQ(one.calls.size(), 1u);
  EXPECT_EQ(one.calls[0].train, range(0, 192));
  EXPECT_EQ(one.calls[0].valid, range(197, 246));
  EXPECT_EQ(ro.rows, range(250, 500));
}

// ==================================================================================== settings

TEST(HonestSettingsValidate, DefaultsAreValid) { EXPECT_NO_THROW(HonestSettings{}.validate()); }

TEST(HonestSettingsValidate, RejectsEachRuleBroken) {
  auto with = [](auto edit) {
    HonestSettings s;
    edit(s);
    return s;
  };
  for (double c : {0.0, 1.0, kNaN, -0.1, 1.5, kInf})
    EXPECT_THROW(with([&](HonestSettings& s) { s.coverage = c; }).validate(), cml::InvalidParameter) << c;
  for (double c : {0.01, 0.5, 0.99})
    EXPECT_NO_THROW(with([&](HonestSettings& s) { s.coverage = c; }).validate()) << c;
  for (double g : {-0.001, -1.0, 1.001, kNaN})
    EXPECT_THROW(with([&](HonestSettings& s) { s.aci_gamma = g; }).validate(), cml::InvalidParameter) << g;
  for (double g : {0.0, 0.005, 1.0})
    EXPECT_NO_THROW(with([&](HonestSettings& s) { s.aci_gamma = g; }).validate()) << g;
  for (double a : {0.0, -0.05, 0.5001, 1.0, kNaN})
    EXPECT_THROW(with([&](HonestSettings& s) { s.significance = a; }).validate(), cml::InvalidParameter) << a;
  for (double a : {0.001, 0.05, 0.5})
    EXPECT_NO_THROW(with([&](HonestSettings& s) { s.significance = a; }).validate()) << a;
  for (std::size_t w : {0u, 1u, 9u})
    EXPECT_THROW(with([&](HonestSettings& s) { s.window = w; }).validate(), cml::InvalidParameter) << w;
  EXPECT_NO_THROW(with([](HonestSettings& s) { s.window = 10; }).validate());
  for (int h : {0, -1, -15})
    EXPECT_THROW(with([&](HonestSettings& s) { s.horizon = h; }).validate(), cml::InvalidParameter) << h;
  EXPECT_NO_THROW(with([](HonestSettings& s) { s.horizon = 1; }).validate());
}

}  // namespace
