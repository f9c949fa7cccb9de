// Unit tests for the technical indicators (src/core/indicators.hpp).
#include "indicators.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

using cml::IndicatorParams;
using cml::IndicatorState;
using cml::IndicatorValues;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::uint64_t bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// ---- series ---------------------------------------------------------------------------------

struct Bars {
  std::vector<double> high, low, close;
};

// Geometric random walk around `start` (close), with high/low spread around open/close.
Bars random_walk(std::size_t n, double start, std::uint64_t seed, double sigma = 0.001) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  Bars b;
  b.high.resize(n);
  b.low.resize(n);
  b.close.resize(n);
  double prev = start;
  for (std::size_t i = 0; i < n; ++i) {
    double c = prev * std::exp(sigma * z(rng));
    // Mean reversion keeps the level realistic over long series.
    c = c + 0.001 * (start - c);
    const double hi = std::max(prev, c) * (1 + sigma * std::fabs(z(rng)));
    const double lo = std::min(prev, c) * (1 - sigma * std::fabs(z(rng)));
    b.high[i] = hi;
    b.low[i] = lo;
    b.close[i] = c;
    prev = c;
  }
  return b;
}

// ---- naive references, straight from the definitions (non-streaming) --------------------------

namespace ref {

std::vector<double> rsi(const std::vector<double>& c, int N) {
  const std::size_t n = c.size();
  std::vector<double> out(n, kNaN), gain(n, 0.0), loss(n, 0.0);
  for (std::size_t i = 1; i < n; ++i) {
    const double d = c[i] - c[i - 1];
    gain[i] = d > 0 ? d : 0;
    loss[i] = d < 0 ? -d : 0;
  }
  if (n <= static_cast<std::size_t>(N)) return out;
  double G = 0, L = 0;
  for (int i = 1; i <= N; ++i) {
    G += gain[i];
    L += loss[i];
  }
  G /= N;
  L /= N;
  auto value = [](double g, double l) { return g + l == 0 ? 0.0 : 100.0 * g / (g + l); };
  out[N] = value(G, L);
  for (std::size_t i = N + 1; i < n; ++i) {
    G = (G * (N - 1) + gain[i]) / N;
    L = (L * (N - 1) + loss[i]) / N;
    out[i] = value(G, L);
  }
  return out;
}

// EMA(N) of x whose seed is the mean of the N values ending at row `seed_end`; NaN before.
std::vector<double> ema(const std::vector<double>& x, std::size_t seed_end, int N) {
  std::vector<double> out(x.size(), kNaN);
  if (seed_end >= x.size()) return out;
  double s = 0;
  for (std::size_t i = seed_end + 1 - N; i <= seed_end; ++i) s += x[i];
  double e = s / N;
  out[seed_end] = e;
  const double k = 2.0 / (N + 1);
  for (std::size_t i = seed_end + 1; i < x.size(); ++i) {
    e = e + k * (x[i] - e);
    out[i] = e;
  }
  return out;
}

cml::MacdSeries macd(const std::vector<double>& c, int fast, int slow, int signal) {
  const std::size_t n = c.size();
  const std::vector<double> f = ema(c, slow - 1, fast), s = ema(c, slow - 1, slow);
  std::vector<double> line(n, kNaN);
  for (std::size_t i = slow - 1; i < n; ++i) line[i] = f[i] - s[i];
  const std::size_t first = slow + signal - 2;
  const std::vector<double> sig = ema(line, first, signal);
  cml::MacdSeries out{std::vector<double>(n, kNaN), std::vector<double>(n, kNaN),
                      std::vector<double>(n, kNaN)};
  for (std::size_t i = first; i < n; ++i) {
    out.macd[i] = line[i];
    out.signal[i] = sig[i];
    out.hist[i] = line[i] - sig[i];
  }
  return out;
}

// Population mean and standard deviation of x[from..to] (inclusive), textbook two-pass.
void mean_std(const std::vector<double>& x, std::size_t from, std::size_t to, double& mean,
              double& sd) {
  const double cnt = static_cast<double>(to - from + 1);
  double s = 0;
  for (std::size_t i = from; i <= to; ++i) s += x[i];
  mean = s / cnt;
  double v = 0;
  for (std::size_t i = from; i <= to; ++i) v += (x[i] - mean) * (x[i] - mean);
  sd = std::sqrt(v / cnt);
}

cml::BollingerSeries bollinger(const std::vector<double>& c, int p, double k) {
  const std::size_t n = c.size();
  cml::BollingerSeries out{std::vector<double>(n, kNaN), std::vector<double>(n, kNaN),
                           std::vector<double>(n, kNaN)};
  for (std::size_t i = p - 1; i < n; ++i) {
    double m, sd;
    mean_std(c, i + 1 - p, i, m, sd);
    out.middle[i] = m;
    out.upper[i] = m + k * sd;
    out.lower[i] = m - k * sd;
  }
  return out;
}

cml::StochasticSeries stochastic(const Bars& b, int kp, int dp) {
  const std::size_t n = b.close.size();
  cml::StochasticSeries out{std::vector<double>(n, kNaN), std::vector<double>(n, kNaN)};
  for (std::size_t i = kp - 1; i < n; ++i) {
    double hh = -kInf, ll = kInf;
    for (std::size_t j = i + 1 - kp; j <= i; ++j) {
      hh = std::max(hh, b.high[j]);
      ll = std::min(ll, b.low[j]);
    }
    out.k[i] = hh == ll ? 0.0 : 100.0 * (b.close[i] - ll) / (hh - ll);
  }
  for (std::size_t i = kp + dp - 2; i < n; ++i) {
    double s = 0;
    for (std::size_t j = i + 1 - dp; j <= i; ++j) s += out.k[j];
    out.d[i] = s / dp;
  }
  return out;
}

std::vector<double> volatility(const std::vector<double>& c, int w) {
  const std::size_t n = c.size();
  std::vector<double> out(n, kNaN), r(n, kNaN);
  for (std::size_t i = 1; i < n; ++i) r[i] = c[i] / c[i - 1] - 1;
  for (std::size_t i = w; i < n; ++i) {
    double m, sd;
    mean_std(r, i + 1 - w, i, m, sd);
    out[i] = sd;
  }
  return out;
}

}  // namespace ref

// Same NaN pattern, and |a - r| <= rel * max(|r|, floor) wherever r is a number.
::testing::AssertionResult close_series(const std::vector<double>& a, const std::vector<double>& r,
                                        double rel, double floor) {
  if (a.size() != r.size())
    return ::testing::AssertionFailure() << "sizes " << a.size() << " vs " << r.size();
  std::size_t bad = 0, first = 0;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(r[i]) || std::isnan(a[i])) {
      if (std::isnan(r[i]) != std::isnan(a[i])) {
        if (bad++ == 0) first = i;
      }
      continue;
    }
    const double err = std::fabs(a[i] - r[i]) / std::max(std::fabs(r[i]), floor);
    worst = std::max(worst, err);
    if (err > rel && bad++ == 0) first = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess() << "worst relative error " << worst;
  return ::testing::AssertionFailure() << bad << " mismatches, first at row " << first << ": "
                                       << a[first] << " vs reference " << r[first]
                                       << " (worst relative error " << worst << ")";
}

::testing::AssertionResult same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << "sizes " << a.size() << " vs " << b.size();
  for (std::size_t i = 0; i < a.size(); ++i)
    if (bits(a[i]) != bits(b[i]))
      return ::testing::AssertionFailure()
             << "row " << i << ": " << a[i] << " vs " << b[i] << " (bits differ)";
  return ::testing::AssertionSuccess();
}

void expect_nan_until(const std::vector<double>& v, std::size_t first, const char* what) {
  for (std::size_t i = 0; i < first && i < v.size(); ++i)
    EXPECT_TRUE(std::isnan(v[i])) << what << " row " << i << " = " << v[i];
  if (first < v.size()) {
    EXPECT_FALSE(std::isnan(v[first])) << what << " row " << first;
  }
}

constexpr double kTol = 1e-12;

// Expect an InvalidParameter whose message contains every fragment.
void expect_invalid(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected InvalidParameter";
  } catch (const cml::InvalidParameter& e) {
    const std::string m = e.what();
    for (const auto& frag : fragments)
      EXPECT_NE(m.find(frag), std::string::npos) << "message \"" << m << "\" lacks \"" << frag
                                                 << "\"";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

void expect_data_error(const std::string& bytes, const std::vector<std::string>& fragments) {
  try {
    (void)IndicatorState::deserialize(bytes);
    ADD_FAILURE() << "no exception; expected DataError";
  } catch (const cml::DataError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("indicator state: ", 0), 0u) << m;
    for (const auto& frag : fragments)
      EXPECT_NE(m.find(frag), std::string::npos) << "message \"" << m << "\" lacks \"" << frag
                                                 << "\"";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

}  // namespace

// ============================ hand-computed small cases ======================================

TEST(Indicators, RsiHandComputed) {
  // close:   44  47  45  46  49  48  48  50
  // change:   -  +3  -2  +1  +3  -1   0  +2
  // row 3: G = (3+0+1)/3 = 4/3, L = (0+2+0)/3 = 2/3           -> RSI = 100*(4/3)/2   = 66.67
  // row 4: G = (4/3*2+3)/3 = 17/9,  L = (2/3*2+0)/3 = 4/9      -> RSI = 100*17/21
  // row 5: G = (17/9*2+0)/3 = 34/27, L = (4/9*2+1)/3 = 17/27   -> RSI = 100*34/51
  // row 6: G = 68/81, L = 34/81                                -> RSI = 100*68/102
  // row 7: G = (68/81*2+2)/3 = 298/243, L = 68/243             -> RSI = 100*298/366
  const std::vector<double> c{44, 47, 45, 46, 49, 48, 48, 50};
  const auto r = cml::rsi(c, 3);
  ASSERT_EQ(r.size(), c.size());
  expect_nan_until(r, 3, "rsi");
  EXPECT_NEAR(r[3], 100.0 * 4 / 6, kTol);
  EXPECT_NEAR(r[4], 100.0 * 17 / 21, kTol);
  EXPECT_NEAR(r[5], 100.0 * 34 / 51, kTol);
  EXPECT_NEAR(r[6], 100.0 * 68 / 102, kTol);
  EXPECT_NEAR(r[7], 100.0 * 298 / 366, kTol);
}

TEST(Indicators, RsiFlatIsZeroAndOnlyGainsIs100) {
  const std::vector<double> flat(30, 30000.5);
  const auto r = cml::rsi(flat, 14);
  expect_nan_until(r, 14, "rsi");
  for (std::size_t i = 14; i < r.size(); ++i) EXPECT_EQ(r[i], 0.0) << i;

  std::vector<double> up(40);
  for (std::size_t i = 0; i < up.size(); ++i) up[i] = 0.5 + 0.013 * i * i;
  const auto g = cml::rsi(up, 14);
  for (std::size_t i = 14; i < g.size(); ++i) EXPECT_EQ(g[i], 100.0) << i;

  // Only losses -> 0; period 1 -> 100/0 per bar direction.
  std::vector<double> down(20);
  for (std::size_t i = 0; i < down.size(); ++i) down[i] = 100.0 - i;
  const auto d = cml::rsi(down, 5);
  for (std::size_t i = 5; i < d.size(); ++i) EXPECT_EQ(d[i], 0.0) << i;
  const auto one = cml::rsi({1, 2, 1, 1}, 1);
  EXPECT_TRUE(std::isnan(one[0]));
  EXPECT_EQ(one[1], 100.0);
  EXPECT_EQ(one[2], 0.0);
  EXPECT_EQ(one[3], 0.0);  // no movement: G + L == 0
}

TEST(Indicators, MacdHandComputed) {
  // fast 2 (k=2/3), slow 3 (k=1/2), signal 2 (k=2/3); close 1 2 4 3 5 6 4 7
  // row 2: slow seed (1+2+4)/3 = 7/3, fast seed (2+4)/2 = 3, macd = 2/3 (not reported yet)
  // row 3: fast = 3 + 2/3*(3-3) = 3, slow = 7/3 + 1/2*(3-7/3) = 8/3, macd = 1/3
  //        signal seed = (2/3 + 1/3)/2 = 1/2, hist = 1/3 - 1/2 = -1/6   <- first row (3+2-2)
  // row 4: fast = 3 + 2/3*2 = 13/3, slow = 8/3 + 1/2*(5-8/3) = 23/6, macd = 1/2,
  //        signal = 1/2 + 2/3*(1/2-1/2) = 1/2, hist = 0
  // row 5: fast = 49/9, slow = 59/12, macd = 19/36, signal = 14/27, hist = 1/108
  // row 6: fast = 121/27, slow = 107/24, macd = 5/216, signal = 61/324, hist = -107/648
  // row 7: fast = 499/81, slow = 275/48, macd = 559/1296, signal = 227/648, hist = 35/432
  const std::vector<double> c{1, 2, 4, 3, 5, 6, 4, 7};
  const auto m = cml::macd(c, 2, 3, 2);
  expect_nan_until(m.macd, 3, "macd");
  expect_nan_until(m.signal, 3, "signal");
  expect_nan_until(m.hist, 3, "hist");
  const double macd[] = {1.0 / 3, 1.0 / 2, 19.0 / 36, 5.0 / 216, 559.0 / 1296};
  const double sig[] = {1.0 / 2, 1.0 / 2, 14.0 / 27, 61.0 / 324, 227.0 / 648};
  const double hist[] = {-1.0 / 6, 0.0, 1.0 / 108, -107.0 / 648, 35.0 / 432};
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(m.macd[3 + i], macd[i], kTol) << "row " << 3 + i;
    EXPECT_NEAR(m.signal[3 + i], sig[i], kTol) << "row " << 3 + i;
    EXPECT_NEAR(m.hist[3 + i], hist[i], kTol) << "row " << 3 + i;
  }
}

TEST(Indicators, MacdDefaultFirstRowIs33) {
  const Bars b = random_walk(60, 30000, 7);
  const auto m = cml::macd(b.close, 12, 26, 9);
  expect_nan_until(m.macd, 33, "macd");
  expect_nan_until(m.signal, 33, "signal");
  expect_nan_until(m.hist, 33, "hist");
  // slow + signal - 1 > n: all NaN, no error
  const auto none = cml::macd(std::vector<double>(33, 1.0), 12, 26, 9);
  for (double v : none.macd) EXPECT_TRUE(std::isnan(v));
  const auto one = cml::macd(std::vector<double>(34, 1.0), 12, 26, 9);
  EXPECT_EQ(one.macd[33], 0.0);
  EXPECT_EQ(one.signal[33], 0.0);
  EXPECT_EQ(one.hist[33], 0.0);
}

TEST(Indicators, BollingerHandComputed) {
  // period 3, k 2; close 1 2 3 5 5 5 4
  // row 2: (1,2,3) mean 2,    var (1+0+1)/3 = 2/3
  // row 3: (2,3,5) mean 10/3, var (16+1+25)/27 = 14/9
  // row 4: (3,5,5) mean 13/3, var (16+4+4)/27 = 8/9
  // row 5: (5,5,5) mean 5,    var 0 -> all three bands equal
  // row 6: (5,5,4) mean 14/3, var (1+1+4)/27 = 2/9
  const std::vector<double> c{1, 2, 3, 5, 5, 5, 4};
  const auto b = cml::bollinger(c, 3, 2.0);
  expect_nan_until(b.middle, 2, "middle");
  expect_nan_until(b.upper, 2, "upper");
  expect_nan_until(b.lower, 2, "lower");
  const double mean[] = {2, 10.0 / 3, 13.0 / 3, 5, 14.0 / 3};
  const double var[] = {2.0 / 3, 14.0 / 9, 8.0 / 9, 0, 2.0 / 9};
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(b.middle[2 + i], mean[i], kTol) << i;
    EXPECT_NEAR(b.upper[2 + i], mean[i] + 2 * std::sqrt(var[i]), kTol) << i;
    EXPECT_NEAR(b.lower[2 + i], mean[i] - 2 * std::sqrt(var[i]), kTol) << i;
  }
  EXPECT_EQ(b.upper[5], 5.0);
  EXPECT_EQ(b.lower[5], 5.0);
  // period 1: the bands collapse onto the close
  const auto p1 = cml::bollinger(c, 1, 3.0);
  for (std::size_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(p1.upper[i], c[i]);
    EXPECT_EQ(p1.lower[i], c[i]);
  }
}

TEST(Indicators, BollingerFlatWindowHasZeroWidth) {
  std::vector<double> c(50, 30000.25);
  for (std::size_t i = 0; i < 10; ++i) c[i] = 30000.25 + (i % 3) * 7.125;
  const auto b = cml::bollinger(c, 20, 2.0);
  for (std::size_t i = 29; i < c.size(); ++i) {
    EXPECT_EQ(b.upper[i], 30000.25) << i;
    EXPECT_EQ(b.middle[i], 30000.25) << i;
    EXPECT_EQ(b.lower[i], 30000.25) << i;
  }
}

TEST(Indicators, StochasticHandComputed) {
  // k 3, d 2.   bar: high low close -> window HH LL -> %K -> %D
  // 0: 10  8  9
  // 1: 11  9 10
  // 2: 12  9 11   HH 12 LL 8   K = 100*3/4 = 75
  // 3: 12 10 10   HH 12 LL 9   K = 100*1/3          D = (75 + 100/3)/2
  // 4: 11 10 11   HH 12 LL 9   K = 100*2/3          D = (100/3 + 200/3)/2 = 50
  // 5: 10 10 10   HH 12 LL 10  K = 0                D = 100/3
  // 6: 10 10 10   HH 11 LL 10  K = 0                D = 0
  // 7: 10 10 10   HH == LL     K = 0 (no range)     D = 0
  const std::vector<double> h{10, 11, 12, 12, 11, 10, 10, 10};
  const std::vector<double> l{8, 9, 9, 10, 10, 10, 10, 10};
  const std::vector<double> c{9, 10, 11, 10, 11, 10, 10, 10};
  const auto s = cml::stochastic(h, l, c, 3, 2);
  expect_nan_until(s.k, 2, "k");  // %K from row k-1 (not delayed to k+d-2, see header)
  expect_nan_until(s.d, 3, "d");
  const double k[] = {75, 100.0 / 3, 200.0 / 3, 0, 0, 0};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(s.k[2 + i], k[i], kTol) << 2 + i;
  const double d[] = {(75 + 100.0 / 3) / 2, 50, 100.0 / 3, 0, 0};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(s.d[3 + i], d[i], kTol) << 3 + i;
  EXPECT_EQ(s.k[7], 0.0);
  EXPECT_EQ(s.d[7], 0.0);

  // defaults: %K from row 13, %D from row 15
  const Bars b = random_walk(40, 30000, 3);
  const auto t = cml::stochastic(b.high, b.low, b.close, 14, 3);
  expect_nan_until(t.k, 13, "k");
  expect_nan_until(t.d, 15, "d");

  // HH == LL everywhere: %K = %D = 0
  const std::vector<double> flat(20, 2.5);
  const auto f = cml::stochastic(flat, flat, flat, 5, 3);
  for (std::size_t i = 4; i < flat.size(); ++i) EXPECT_EQ(f.k[i], 0.0);
  for (std::size_t i = 6; i < flat.size(); ++i) EXPECT_EQ(f.d[i], 0.0);
}

TEST(Indicators, VolatilityHandComputed) {
  // window 2; close 100 110 99 99 108.9 -> returns .1 -.1 0 .1
  // row 2: (.1, -.1) mean 0     sd .1
  // row 3: (-.1, 0)  mean -.05  sd .05
  // row 4: (0, .1)   mean .05   sd .05
  const std::vector<double> c{100, 110, 99, 99, 108.9};
  const auto v = cml::volatility(c, 2);
  expect_nan_until(v, 2, "volatility");
  EXPECT_NEAR(v[2], 0.1, kTol);
  EXPECT_NEAR(v[3], 0.05, kTol);
  EXPECT_NEAR(v[4], 0.05, kTol);
  // window 1: a single return has no spread
  const auto w1 = cml::volatility(c, 1);
  EXPECT_TRUE(std::isnan(w1[0]));
  for (std::size_t i = 1; i < c.size(); ++i) EXPECT_EQ(w1[i], 0.0);
  // window == n: no value fits, all NaN, no error
  for (double x : cml::volatility(c, 5)) EXPECT_TRUE(std::isnan(x));
}

// ============================ against the naive reference ====================================

class ReferenceTest : public ::testing::TestWithParam<double> {};

TEST_P(ReferenceTest, BatchMatchesNaiveReference) {
  const double level = GetParam();
  const Bars b = random_walk(100000, level, 42);
  const double rel = 1e-9;
  struct P {
    int rsi, fast, slow, signal, bb, sk, sd, vol;
    double k;
  };
  for (const P& p : {P{14, 12, 26, 9, 20, 14, 3, 5, 2.0}, P{3, 2, 3, 2, 3, 3, 2, 2, 1.5},
                     P{50, 30, 100, 40, 200, 60, 10, 100, 2.5}}) {
    SCOPED_TRACE("rsi " + std::to_string(p.rsi) + " bb " + std::to_string(p.bb));
    EXPECT_TRUE(close_series(cml::rsi(b.close, p.rsi), ref::rsi(b.close, p.rsi), rel, 1.0));

    const auto m = cml::macd(b.close, p.fast, p.slow, p.signal);
    const auto mr = ref::macd(b.close, p.fast, p.slow, p.signal);
    const double floor = 1e-6 * level;  // MACD values cross 0: compare to the price scale there
    EXPECT_TRUE(close_series(m.macd, mr.macd, rel, floor));
    EXPECT_TRUE(close_series(m.signal, mr.signal, rel, floor));
    EXPECT_TRUE(close_series(m.hist, mr.hist, rel, floor));

    const auto bb = cml::bollinger(b.close, p.bb, p.k);
    const auto br = ref::bollinger(b.close, p.bb, p.k);
    // The spec's tighter bound for the bands: relative 1e-12 against the two-pass reference.
    EXPECT_TRUE(close_series(bb.upper, br.upper, 1e-12, 0));
    EXPECT_TRUE(close_series(bb.middle, br.middle, 1e-12, 0));
    EXPECT_TRUE(close_series(bb.lower, br.lower, 1e-12, 0));
    // The band half-width itself (k * std), the ill-conditioned part.
    std::vector<double> w(bb.upper.size()), wr(bb.upper.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      w[i] = bb.upper[i] - bb.middle[i];
      wr[i] = br.upper[i] - br.middle[i];
    }
    EXPECT_TRUE(close_series(w, wr, 1e-9, 0));

    const auto s = cml::stochastic(b.high, b.low, b.close, p.sk, p.sd);
    const auto sr = ref::stochastic(b, p.sk, p.sd);
    EXPECT_TRUE(close_series(s.k, sr.k, rel, 1.0));  // 0..100 oscillators: absolute floor 1
    EXPECT_TRUE(close_series(s.d, sr.d, rel, 1.0));

    EXPECT_TRUE(close_series(cml::volatility(b.close, p.vol), ref::volatility(b.close, p.vol),
                             1e-12, 0));
  }
}

INSTANTIATE_TEST_SUITE_P(PriceLevels, ReferenceTest, ::testing::Values(30000.0, 0.5));

// ============================ streaming == batch, bit for bit ================================

TEST(Indicators, StreamingEqualsBatchBitForBit) {
  const Bars b = random_walk(50000, 30000, 11, 0.002);
  const std::size_t n = b.close.size();
  {
    cml::RsiState st(9);
    std::vector<double> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = st.update(b.close[i]);
    EXPECT_TRUE(same_bits(out, cml::rsi(b.close, 9)));
  }
  {
    cml::MacdState st(5, 13, 4);
    std::vector<double> m(n), s(n), h(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto o = st.update(b.close[i]);
      m[i] = o.macd;
      s[i] = o.signal;
      h[i] = o.hist;
    }
    const auto r = cml::macd(b.close, 5, 13, 4);
    EXPECT_TRUE(same_bits(m, r.macd));
    EXPECT_TRUE(same_bits(s, r.signal));
    EXPECT_TRUE(same_bits(h, r.hist));
  }
  {
    cml::BollingerState st(17, 2.2);
    std::vector<double> u(n), m(n), l(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto o = st.update(b.close[i]);
      u[i] = o.upper;
      m[i] = o.middle;
      l[i] = o.lower;
    }
    const auto r = cml::bollinger(b.close, 17, 2.2);
    EXPECT_TRUE(same_bits(u, r.upper));
    EXPECT_TRUE(same_bits(m, r.middle));
    EXPECT_TRUE(same_bits(l, r.lower));
  }
  {
    cml::StochasticState st(10, 4);
    std::vector<double> k(n), d(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto o = st.update(b.high[i], b.low[i], b.close[i]);
      k[i] = o.k;
      d[i] = o.d;
    }
    const auto r = cml::stochastic(b.high, b.low, b.close, 10, 4);
    EXPECT_TRUE(same_bits(k, r.k));
    EXPECT_TRUE(same_bits(d, r.d));
  }
  {
    cml::VolatilityState st(7);
    std::vector<double> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = st.update(b.close[i]);
    EXPECT_TRUE(same_bits(out, cml::volatility(b.close, 7)));
  }
}

namespace {

struct Columns {
  std::vector<double> rsi, macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, stoch_k,
      stoch_d, volatility;
  void push(const IndicatorValues& v) {
    rsi.push_back(v.rsi);
    macd.push_back(v.macd);
    macd_signal.push_back(v.macd_signal);
    macd_hist.push_back(v.macd_hist);
    bb_upper.push_back(v.bb_upper);
    bb_middle.push_back(v.bb_middle);
    bb_lower.push_back(v.bb_lower);
    stoch_k.push_back(v.stoch_k);
    stoch_d.push_back(v.stoch_d);
    volatility.push_back(v.volatility);
  }
};

void expect_same(const Columns& a, const Columns& b) {
  EXPECT_TRUE(same_bits(a.rsi, b.rsi));
  EXPECT_TRUE(same_bits(a.macd, b.macd));
  EXPECT_TRUE(same_bits(a.macd_signal, b.macd_signal));
  EXPECT_TRUE(same_bits(a.macd_hist, b.macd_hist));
  EXPECT_TRUE(same_bits(a.bb_upper, b.bb_upper));
  EXPECT_TRUE(same_bits(a.bb_middle, b.bb_middle));
  EXPECT_TRUE(same_bits(a.bb_lower, b.bb_lower));
  EXPECT_TRUE(same_bits(a.stoch_k, b.stoch_k));
  EXPECT_TRUE(same_bits(a.stoch_d, b.stoch_d));
  EXPECT_TRUE(same_bits(a.volatility, b.volatility));
}

Columns run(IndicatorState& st, const Bars& b, std::size_t from, std::size_t to) {
  Columns c;
  for (std::size_t i = from; i < to; ++i) c.push(st.update(b.high[i], b.low[i], b.close[i]));
  return c;
}

Columns slice(const Columns& c, std::size_t from) {
  auto cut = [from](const std::vector<double>& v) {
    return std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(from), v.end());
  };
  return Columns{cut(c.rsi),      cut(c.macd),      cut(c.macd_signal), cut(c.macd_hist),
                 cut(c.bb_upper), cut(c.bb_middle), cut(c.bb_lower),    cut(c.stoch_k),
                 cut(c.stoch_d),  cut(c.volatility)};
}

}  // namespace

TEST(Indicators, IndicatorStateEqualsBatchBitForBit) {
  for (double level : {30000.0, 0.5}) {
    const Bars b = random_walk(30000, level, 5);
    for (const IndicatorParams& p :
         {IndicatorParams{}, IndicatorParams{3, 2, 3, 2, 4, 1.0, 3, 2, 2}}) {
      IndicatorState st(p);
      const Columns c = run(st, b, 0, b.close.size());
      EXPECT_EQ(st.bars(), static_cast<std::int64_t>(b.close.size()));
      EXPECT_TRUE(same_bits(c.rsi, cml::rsi(b.close, p.rsi_period)));
      const auto m = cml::macd(b.close, p.macd_fast, p.macd_slow, p.macd_signal);
      EXPECT_TRUE(same_bits(c.macd, m.macd));
      EXPECT_TRUE(same_bits(c.macd_signal, m.signal));
      EXPECT_TRUE(same_bits(c.macd_hist, m.hist));
      const auto bb = cml::bollinger(b.close, p.bb_period, p.bb_k);
      EXPECT_TRUE(same_bits(c.bb_upper, bb.upper));
      EXPECT_TRUE(same_bits(c.bb_middle, bb.middle));
      EXPECT_TRUE(same_bits(c.bb_lower, bb.lower));
      const auto s = cml::stochastic(b.high, b.low, b.close, p.stoch_k, p.stoch_d);
      EXPECT_TRUE(same_bits(c.stoch_k, s.k));
      EXPECT_TRUE(same_bits(c.stoch_d, s.d));
      EXPECT_TRUE(same_bits(c.volatility, cml::volatility(b.close, p.vol_window)));
    }
  }
}

TEST(Indicators, IndicatorStateCompleteFromRow33WithDefaults) {
  const Bars b = random_walk(40, 30000, 9);
  IndicatorState st(IndicatorParams{});
  for (std::size_t i = 0; i < b.close.size(); ++i) {
    const IndicatorValues v = st.update(b.high[i], b.low[i], b.close[i]);
    EXPECT_EQ(v.complete(), i >= 33) << i;
    EXPECT_EQ(std::isnan(v.stoch_k), i < 13) << i;  // %K not delayed in the streaming output
    EXPECT_EQ(std::isnan(v.stoch_d), i < 15) << i;
    EXPECT_EQ(std::isnan(v.rsi), i < 14) << i;
    EXPECT_EQ(std::isnan(v.bb_middle), i < 19) << i;
    EXPECT_EQ(std::isnan(v.volatility), i < 5) << i;
  }
}

// ============================ serialization ==================================================

TEST(Indicators, SerializeMidSeriesContinuesBitForBit) {
  const Bars b = random_walk(10000, 30000, 21, 0.003);
  const std::size_t n = b.close.size();
  for (const IndicatorParams& p :
       {IndicatorParams{}, IndicatorParams{3, 2, 3, 2, 4, 1.0, 3, 2, 2},
        IndicatorParams{1, 1, 2, 1, 1, 0.5, 1, 1, 1}}) {
    IndicatorState whole(p);
    const Columns all = run(whole, b, 0, n);
    for (std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{5},
                              std::size_t{13}, std::size_t{15}, std::size_t{25}, std::size_t{33},
                              std::size_t{34}, std::size_t{777}, std::size_t{5000}, n - 1, n}) {
      SCOPED_TRACE("split at " + std::to_string(split));
      IndicatorState first(p);
      run(first, b, 0, split);
      const std::string bytes = first.serialize();
      ASSERT_EQ(bytes.substr(0, 4), "CMLI");
      IndicatorState second = IndicatorState::deserialize(bytes);
      EXPECT_EQ(second.bars(), static_cast<std::int64_t>(split));
      EXPECT_TRUE(second.params() == p);
      EXPECT_EQ(second.serialize(), bytes);  // the round trip is byte-exact
      const Columns rest = run(second, b, split, n);
      expect_same(rest, slice(all, split));
      EXPECT_EQ(second.serialize(), whole.serialize());
    }
  }
}

TEST(Indicators, DeserializeRejectsBadBytes) {
  const Bars b = random_walk(100, 30000, 4);
  IndicatorState st(IndicatorParams{});
  run(st, b, 0, b.close.size());
  const std::string good = st.serialize();
  EXPECT_NO_THROW((void)IndicatorState::deserialize(good));

  std::string magic = good;
  magic[0] = 'X';
  expect_data_error(magic, {"magic", "CMLI"});

  std::string version = good;
  version[4] = 99;  // u16 little-endian at offset 4
  version[5] = 0;
  expect_data_error(version, {"version 99", "expected 1"});

  for (std::size_t len = 0; len < good.size(); ++len) {
    SCOPED_TRACE("length " + std::to_string(len));
    expect_data_error(good.substr(0, len), {"truncated"});
  }
  expect_data_error(good + '\0', {"trailing"});

  // Params offset 6: i32 rsi_period, macd_fast, macd_slow, macd_signal, bb_period (offset 22).
  std::string bad_params = good;
  bad_params[6] = 0;  // rsi_period 14 -> 0
  expect_data_error(bad_params, {"rsi_period", "0"});

  std::string sizes = good;
  sizes[22] = 21;  // bb_period 20 -> 21: the serialized window has 20 values
  expect_data_error(sizes, {"Bollinger window has 20 values, expected 21"});

  // bars (i64 at offset 46) no longer agrees with the sub-states
  std::string count = good;
  count[46] = static_cast<char>(count[46] + 1);
  expect_data_error(count, {"expected"});
}

// ============================ bad input ======================================================

TEST(Indicators, BatchRejectsBadPeriods) {
  const std::vector<double> c{1, 2, 3, 4, 5};
  expect_invalid([&] { cml::rsi(c, 0); }, {"period", "0"});
  expect_invalid([&] { cml::rsi(c, -3); }, {"period", "-3"});
  expect_invalid([&] { cml::rsi(c, 6); }, {"rsi", "period 6", "array length 5"});
  EXPECT_NO_THROW(cml::rsi(c, 5));  // period == n: all NaN
  for (double v : cml::rsi(c, 5)) EXPECT_TRUE(std::isnan(v));
  expect_invalid([&] { cml::rsi({}, 14); }, {"period 14", "array length 0"});
  expect_invalid([&] { cml::rsi(c, 100001); }, {"100001"});

  expect_invalid([&] { cml::macd(c, 0, 3, 2); }, {"fast", "0"});
  expect_invalid([&] { cml::macd(c, 3, 3, 2); }, {"slow", "3"});
  expect_invalid([&] { cml::macd(c, 2, 3, -1); }, {"signal", "-1"});
  expect_invalid([&] { cml::macd(c, 2, 6, 2); }, {"slow period 6", "array length 5"});
  expect_invalid([&] { cml::macd(c, 2, 3, 6); }, {"signal period 6", "array length 5"});

  expect_invalid([&] { cml::bollinger(c, 0, 2); }, {"period", "0"});
  expect_invalid([&] { cml::bollinger(c, 6, 2); }, {"period 6", "array length 5"});
  expect_invalid([&] { cml::bollinger(c, 3, 0); }, {"k", "0"});
  expect_invalid([&] { cml::bollinger(c, 3, -1); }, {"k", "-1"});
  expect_invalid([&] { cml::bollinger(c, 3, kNaN); }, {"k", "NaN"});
  expect_invalid([&] { cml::bollinger(c, 3, kInf); }, {"k", "Infinity"});

  expect_invalid([&] { cml::stochastic(c, c, c, 0, 3); }, {"k period", "0"});
  expect_invalid([&] { cml::stochastic(c, c, c, 3, 0); }, {"d period", "0"});
  expect_invalid([&] { cml::stochastic(c, c, c, 6, 1); }, {"k period 6", "array length 5"});
  expect_invalid([&] { cml::stochastic(c, c, c, 2, 6); }, {"d period 6", "array length 5"});
  expect_invalid([&] { cml::stochastic(c, {1, 2, 3, 4}, c, 2, 2); }, {"same length", "5", "4"});

  expect_invalid([&] { cml::volatility(c, 0); }, {"window", "0"});
  expect_invalid([&] { cml::volatility(c, 6); }, {"window 6", "array length 5"});
}

TEST(Indicators, BatchRejectsNonFiniteElements) {
  std::vector<double> c{1, 2, 3, 4, 5, 6};
  c[3] = kNaN;
  expect_invalid([&] { cml::rsi(c, 2); }, {"element 4", "1-based", "close", "NaN"});
  expect_invalid([&] { cml::macd(c, 1, 2, 2); }, {"element 4", "NaN"});
  expect_invalid([&] { cml::bollinger(c, 2, 2); }, {"element 4", "NaN"});
  expect_invalid([&] { cml::volatility(c, 2); }, {"element 4", "NaN"});
  c[3] = 4;
  c[0] = -kInf;
  expect_invalid([&] { cml::rsi(c, 2); }, {"element 1", "-Infinity"});
  const std::vector<double> ok{1, 2, 3, 4, 5, 6};
  std::vector<double> hi = ok;
  hi[5] = kInf;
  expect_invalid([&] { cml::stochastic(hi, ok, ok, 2, 2); }, {"element 6", "high", "Infinity"});
  expect_invalid([&] { cml::stochastic(ok, hi, ok, 2, 2); }, {"element 6", "low"});
  expect_invalid([&] { cml::stochastic(ok, ok, hi, 2, 2); }, {"element 6", "close"});
  std::vector<double> zero = ok;
  zero[2] = 0;
  expect_invalid([&] { cml::volatility(zero, 2); }, {"element 3", "0", "> 0"});
}

TEST(Indicators, IndicatorStateRejectsBadBars) {
  IndicatorState st(IndicatorParams{});
  st.update(101, 99, 100);
  expect_invalid([&] { st.update(101, 99, kNaN); }, {"close", "NaN"});
  expect_invalid([&] { st.update(kInf, 99, 100); }, {"high", "Infinity"});
  expect_invalid([&] { st.update(101, 0, 100); }, {"low", "= 0"});
  expect_invalid([&] { st.update(101, 99, -5); }, {"close", "-5"});
  expect_invalid([&] { st.update(99, 101, 100); }, {"high = 99", "below low = 101"});
  EXPECT_EQ(st.bars(), 1);  // rejected bars leave the state alone
  IndicatorState fresh(IndicatorParams{});
  fresh.update(101, 99, 100);
  EXPECT_EQ(st.serialize(), fresh.serialize());
}

TEST(Indicators, StatesRejectBadParameters) {
  expect_invalid([] { cml::RsiState s(0); }, {"RSI period", "0"});
  expect_invalid([] { cml::MacdState s(12, 12, 9); }, {"slow", "12"});
  expect_invalid([] { cml::BollingerState s(20, -2); }, {"k", "-2"});
  expect_invalid([] { cml::StochasticState s(14, 0); }, {"d period", "0"});
  expect_invalid([] { cml::VolatilityState s(-1); }, {"window", "-1"});
  cml::RsiState r(3);
  expect_invalid([&] { r.update(kNaN); }, {"close", "NaN"});
  cml::VolatilityState v(3);
  expect_invalid([&] { v.update(0); }, {"close", "0"});
}

TEST(Indicators, ParamsValidate) {
  EXPECT_NO_THROW(IndicatorParams{}.validate());
  auto bad = [](std::function<void(IndicatorParams&)> change, std::vector<std::string> frags) {
    IndicatorParams p;
    change(p);
    expect_invalid([&] { p.validate(); }, frags);
    expect_invalid([&] { IndicatorState s(p); }, frags);
  };
  bad([](IndicatorParams& p) { p.rsi_period = 0; }, {"rsi_period", "0", "between 1 and 100000"});
  bad([](IndicatorParams& p) { p.macd_fast = -1; }, {"macd_fast", "-1"});
  bad([](IndicatorParams& p) { p.macd_slow = 12; }, {"macd_slow", "12", "greater than macd_fast"});
  bad([](IndicatorParams& p) { p.macd_signal = 0; }, {"macd_signal", "0"});
  bad([](IndicatorParams& p) { p.bb_period = 100001; }, {"bb_period", "100001"});
  bad([](IndicatorParams& p) { p.bb_k = 0; }, {"bb_k", "0", "finite and > 0"});
  bad([](IndicatorParams& p) { p.bb_k = kNaN; }, {"bb_k", "NaN"});
  bad([](IndicatorParams& p) { p.stoch_k = 0; }, {"stoch_k", "0"});
  bad([](IndicatorParams& p) { p.stoch_d = 0; }, {"stoch_d", "0"});
  bad([](IndicatorParams& p) { p.vol_window = 0; }, {"vol_window", "0"});

  IndicatorParams a, b;
  EXPECT_TRUE(a == b);
  b.bb_k = 2.5;
  EXPECT_FALSE(a == b);
  b = a;
  b.vol_window = 6;
  EXPECT_FALSE(a == b);
  IndicatorState st(b);
  EXPECT_TRUE(st.params() == b);
  EXPECT_EQ(st.bars(), 0);
}
