// Unit tests for the feature set (src/core/features.hpp).
#include "features.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

using cml::BarSeries;
using cml::build_features;
using cml::build_targets;
using cml::feature_names;
using cml::IndicatorParams;
using cml::IndicatorState;
using cml::IndicatorValues;
using cml::InvalidParameter;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846;
// 2021-04-02T00:00Z (a Friday): 18719 days after 1970-01-01.
constexpr std::int64_t kFri20210402 = 18719LL * 1440;

std::size_t col(const std::string& name) {
  const auto& n = feature_names();
  auto it = std::find(n.begin(), n.end(), name);
  if (it == n.end()) throw std::runtime_error("no feature named " + name);
  return static_cast<std::size_t>(it - n.begin());
}

std::size_t nf() { return feature_names().size(); }

// Feature `name` of row r (0-based within the built range).
double at(const std::vector<double>& f, std::size_t r, const std::string& name) {
  return f.at(r * nf() + col(name));
}

std::uint64_t bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Bit-for-bit equality of two feature blocks (NaN == NaN); reports the first difference.
::testing::AssertionResult same_bits(const double* a, const double* b, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k)
    if (bits(a[k]) != bits(b[k]))
      return ::testing::AssertionFailure()
             << "element " << k << " (feature " << feature_names()[k % nf()] << ", row "
             << k / nf() << "): " << a[k] << " vs " << b[k];
  return ::testing::AssertionSuccess();
}

void push_bar(BarSeries& s, std::int64_t t, double o, double h, double l, double c, double v) {
  s.ts.push_back(t);
  s.open.push_back(o);
  s.high.push_back(h);
  s.low.push_back(l);
  s.close.push_back(c);
  s.volume.push_back(v);
}

// Bar with open == close == c and a small range around it.
void push_flat(BarSeries& s, std::int64_t t, double c, double v = 1.0) {
  push_bar(s, t, c, c * 1.001, c * 0.999, c, v);
}

// Geometric random walk of minute bars starting at ts0, with occasional gaps (2..6 minutes)
// and occasional unknown (NaN) or zero volumes.
BarSeries random_series(std::size_t n, std::uint64_t seed, std::int64_t ts0 = kFri20210402,
                        bool gaps = true) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  BarSeries s;
  std::int64_t t = ts0;
  double c = 30000.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) t += (gaps && u(rng) < 0.03) ? 2 + static_cast<std::int64_t>(rng() % 5) : 1;
    const double o = c;
    c = o * std::exp(0.002 * z(rng));
    const double h = std::max(o, c) * (1.0 + 0.001 * u(rng));
    const double l = std::min(o, c) * (1.0 - 0.001 * u(rng));
    double v = std::exp(3.0 + z(rng));
    const double r = u(rng);
    if (r < 0.01) v = kNaN;
    else if (r < 0.02) v = 0.0;
    push_bar(s, t, o, h, l, c, v);
  }
  return s;
}

BarSeries truncated(const BarSeries& s, std::size_t n) {
  BarSeries t = s;
  t.ts.resize(n);
  t.open.resize(n);
  t.high.resize(n);
  t.low.resize(n);
  t.close.resize(n);
  t.volume.resize(n);
  return t;
}

// Runs f and returns the InvalidParameter message ("" when nothing or something else is thrown).
std::string invalid_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidParameter& e) {
    return e.what();
  } catch (...) {
    return "<other exception>";
  }
  return "";
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// ---- names and version -------------------------------------------------------------------------

TEST(FeatureSet, VersionAndNames) {
  EXPECT_EQ(cml::kFeatureSetVersion, 1);
  const auto& n = feature_names();
  ASSERT_EQ(n.size(), 29u);
  EXPECT_EQ(std::set<std::string>(n.begin(), n.end()).size(), n.size()) << "names not unique";
  for (const auto& name : n) {
    ASSERT_FALSE(name.empty());
    EXPECT_TRUE(name[0] >= 'a' && name[0] <= 'z') << name;
    for (char ch : name)
      EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') << name;
  }
  // The documented order (stable for version 1).
  const std::vector<std::string> expected = {
      "rsi",       "macd",          "macd_signal",      "macd_hist",        "bb_position",
      "bb_width",  "stoch_k",       "stoch_d",          "volatility",       "ret_1",
      "ret_2",     "ret_3",         "ret_5",            "ret_10",           "ret_15",
      "ret_30",    "ret_60",        "log_volume",       "volume_ratio_20",  "volume_z_60",
      "range_pct", "body_pct",      "upper_shadow_pct", "lower_shadow_pct", "range_mean_15",
      "tod_sin",   "tod_cos",       "dow_sin",          "dow_cos"};
  EXPECT_EQ(n, expected);
  EXPECT_EQ(&feature_names(), &n);  // one stable instance
}

TEST(FeatureSet, OutputShape) {
  const BarSeries s = random_series(200, 1);
  EXPECT_EQ(build_features(s, 0, 200, {}).size(), 200 * nf());
  EXPECT_EQ(build_features(s, 50, 70, {}).size(), 20 * nf());
  EXPECT_TRUE(build_features(s, 70, 70, {}).empty());
  EXPECT_EQ(build_targets(s, 10, 30, 5).size(), 20u);
}

// ---- no look-ahead (the key property) ----------------------------------------------------------

TEST(FeatureLookAhead, RowUnchangedWhenTheFutureChanges) {
  const std::size_t n = 5000;
  const BarSeries s = random_series(n, 42);
  const IndicatorParams p;
  const std::size_t cuts[] = {0, 1, 13, 14, 19, 33, 59, 60, 61, 100, 777, 2500, 4321, 4998};
  for (std::size_t i : cuts) {
    SCOPED_TRACE("cut " + std::to_string(i));
    const std::vector<double> base = build_features(s, i, i + 1, p);
    ASSERT_EQ(base.size(), nf());

    std::vector<BarSeries> variants;
    {  // prices scaled, volumes changed after i
      BarSeries v = s;
      for (std::size_t k = i + 1; k < n; ++k) {
        v.open[k] *= 1.7;
        v.high[k] *= 1.7;
        v.low[k] *= 1.7;
        v.close[k] *= 1.7;
        v.volume[k] = (k % 3 == 0) ? kNaN : v.volume[k] * 3 + 5;
      }
      variants.push_back(v);
    }
    variants.push_back(truncated(s, i + 1));  // every bar after i removed
    {                                         // every other bar after i removed
      BarSeries v = truncated(s, i + 1);
      for (std::size_t k = i + 2; k < n; k += 2)
        push_bar(v, s.ts[k], s.open[k], s.high[k], s.low[k], s.close[k], s.volume[k]);
      variants.push_back(v);
    }
    {  // bars added right after i (the later bars shifted by 7 minutes to make room)
      BarSeries v = truncated(s, i + 1);
      const std::int64_t t = s.ts[i];
      for (int k = 1; k <= 3; ++k) push_flat(v, t + k, s.close[i] * (1 + 0.05 * k), 1e6);
      for (std::size_t k = i + 1; k < n; ++k)
        push_bar(v, s.ts[k] + 7, s.open[k], s.high[k], s.low[k], s.close[k], s.volume[k]);
      variants.push_back(v);
    }
    {  // garbage after i: invalid bars are not even read
      BarSeries v = truncated(s, i + 1);
      push_bar(v, s.ts[i], -1.0, kNaN, 5.0, 0.0, -3.0);
      push_bar(v, s.ts[i] - 100, 1.0, 1.0, 1.0, 1.0, 1.0);
      variants.push_back(v);
    }
    for (std::size_t k = 0; k < variants.size(); ++k) {
      SCOPED_TRACE("variant " + std::to_string(k));
      const std::vector<double> got = build_features(variants[k], i, i + 1, p);
      ASSERT_EQ(got.size(), base.size());
      EXPECT_TRUE(same_bits(base.data(), got.data(), base.size()));
    }
  }
}

TEST(FeatureLookAhead, EveryEarlyRowEqualsItsPrefixBuild) {
  // Row i built on the full series == row i built on s[0..i] (nothing after i exists), for every
  // row through the warm-up of every window and indicator.
  const BarSeries s = random_series(400, 7);
  const std::vector<double> all = build_features(s, 0, s.size(), {});
  for (std::size_t i = 0; i < s.size(); ++i) {
    const std::vector<double> alone = build_features(truncated(s, i + 1), i, i + 1, {});
    ASSERT_TRUE(same_bits(all.data() + i * nf(), alone.data(), nf())) << "row " << i;
  }
}

TEST(FeatureLookAhead, RangeEqualsRowsBuiltAlone) {
  const BarSeries s = random_series(5000, 43);
  IndicatorParams p;
  p.rsi_period = 9;
  p.bb_period = 30;
  p.bb_k = 2.5;
  p.vol_window = 20;
  const std::vector<double> all = build_features(s, 0, s.size(), p);
  ASSERT_EQ(all.size(), s.size() * nf());
  for (std::size_t i : {0ul, 1ul, 25ul, 59ul, 60ul, 999ul, 2500ul, 4999ul}) {
    const std::vector<double> one = build_features(s, i, i + 1, p);
    EXPECT_TRUE(same_bits(all.data() + i * nf(), one.data(), nf())) << "row " << i;
  }
  const std::pair<std::size_t, std::size_t> ranges[] = {{0, 10}, {5, 100}, {1234, 3456}, {4990, 5000}};
  for (const auto& r : ranges) {
    const std::vector<double> part = build_features(s, r.first, r.second, p);
    ASSERT_EQ(part.size(), (r.second - r.first) * nf());
    EXPECT_TRUE(same_bits(all.data() + r.first * nf(), part.data(), part.size()))
        << "range [" << r.first << ", " << r.second << ")";
  }
}

// ---- targets -----------------------------------------------------------------------------------

TEST(FeatureTargets, HandSeriesWithGaps) {
  BarSeries s;
  const std::int64_t ts[] = {0, 1, 2, 4, 5, 7};
  const double c[] = {100, 101, 102, 104, 105, 107};
  for (int k = 0; k < 6; ++k) push_flat(s, kFri20210402 + ts[k], c[k]);
  auto pct = [](double a, double b) { return 100.0 * (a / b - 1.0); };

  const std::vector<double> h1 = build_targets(s, 0, 6, 1);
  ASSERT_EQ(h1.size(), 6u);
  EXPECT_EQ(h1[0], pct(101, 100));
  EXPECT_DOUBLE_EQ(h1[0], 1.0);
  EXPECT_EQ(h1[1], pct(102, 101));
  EXPECT_TRUE(std::isnan(h1[2]));  // no bar at minute 3
  EXPECT_EQ(h1[3], pct(105, 104));
  EXPECT_TRUE(std::isnan(h1[4]));  // no bar at minute 6
  EXPECT_TRUE(std::isnan(h1[5]));  // end of the series

  const std::vector<double> h2 = build_targets(s, 0, 6, 2);
  EXPECT_EQ(h2[0], pct(102, 100));
  EXPECT_DOUBLE_EQ(h2[0], 2.0);
  EXPECT_TRUE(std::isnan(h2[1]));  // minute 3 missing (the bar at 4 is NOT used)
  EXPECT_EQ(h2[2], pct(104, 102));
  EXPECT_TRUE(std::isnan(h2[3]));  // minute 6 missing
  EXPECT_EQ(h2[4], pct(107, 105));
  EXPECT_TRUE(std::isnan(h2[5]));

  const std::vector<double> h3 = build_targets(s, 0, 6, 3);
  EXPECT_TRUE(std::isnan(h3[0]));  // minute 3 missing
  EXPECT_EQ(h3[1], pct(104, 101));
  EXPECT_EQ(h3[2], pct(105, 102));
  EXPECT_EQ(h3[3], pct(107, 104));
  EXPECT_TRUE(std::isnan(h3[4]));
  EXPECT_TRUE(std::isnan(h3[5]));

  // A sub-range gives the same values.
  const std::vector<double> sub = build_targets(s, 2, 5, 2);
  ASSERT_EQ(sub.size(), 3u);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(bits(sub[k]), bits(h2[k + 2])) << k;
}

TEST(FeatureTargets, LastHorizonIsNaNAndErrors) {
  BarSeries s;
  for (int k = 0; k < 100; ++k) push_flat(s, 1000 + k, 50.0 + k);
  for (int h : {1, 5, 30}) {
    const std::vector<double> t = build_targets(s, 0, 100, h);
    for (int k = 0; k < 100; ++k) {
      if (k + h < 100)
        EXPECT_EQ(t[k], 100.0 * ((50.0 + k + h) / (50.0 + k) - 1.0)) << h << " " << k;
      else
        EXPECT_TRUE(std::isnan(t[k])) << h << " " << k;
    }
  }
  EXPECT_TRUE(std::isnan(build_targets(s, 0, 100, 1000)[0]));  // beyond the series
  EXPECT_TRUE(contains(invalid_message([&] { build_targets(s, 0, 100, 0); }), "horizon_minutes"));
  EXPECT_TRUE(contains(invalid_message([&] { build_targets(s, 0, 100, -5); }), "horizon_minutes"));
  EXPECT_TRUE(contains(invalid_message([&] { build_targets(s, 5, 4, 1); }), "range"));
  EXPECT_TRUE(contains(invalid_message([&] { build_targets(s, 0, 101, 1); }), "range"));
  // Targets read the whole series: a bad bar anywhere is an error.
  BarSeries bad = s;
  bad.close[80] = -1;
  EXPECT_TRUE(contains(invalid_message([&] { build_targets(bad, 0, 10, 1); }), "row 81"));
}

// ---- each feature on hand-checked series -------------------------------------------------------

TEST(FeatureValues, IndicatorsEqualTheStreamingState) {
  const BarSeries s = random_series(300, 5);
  IndicatorParams p;
  p.stoch_k = 10;
  p.macd_fast = 5;
  p.macd_slow = 13;
  const std::vector<double> f = build_features(s, 0, s.size(), p);
  IndicatorState st(p);
  int within = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const IndicatorValues v = st.update(s.high[i], s.low[i], s.close[i]);
    EXPECT_EQ(bits(at(f, i, "rsi")), bits(v.rsi)) << i;
    EXPECT_EQ(bits(at(f, i, "macd")), bits(v.macd)) << i;
    EXPECT_EQ(bits(at(f, i, "macd_signal")), bits(v.macd_signal)) << i;
    EXPECT_EQ(bits(at(f, i, "macd_hist")), bits(v.macd_hist)) << i;
    EXPECT_EQ(bits(at(f, i, "stoch_k")), bits(v.stoch_k)) << i;
    EXPECT_EQ(bits(at(f, i, "stoch_d")), bits(v.stoch_d)) << i;
    EXPECT_EQ(bits(at(f, i, "volatility")), bits(v.volatility)) << i;
    const double pos = at(f, i, "bb_position"), width = at(f, i, "bb_width");
    if (i + 1 < static_cast<std::size_t>(p.bb_period)) {
      EXPECT_TRUE(std::isnan(pos)) << i;
      EXPECT_TRUE(std::isnan(width)) << i;
      continue;
    }
    EXPECT_DOUBLE_EQ(pos, (s.close[i] - v.bb_lower) / (v.bb_upper - v.bb_lower)) << i;
    EXPECT_DOUBLE_EQ(width, (v.bb_upper - v.bb_lower) / v.bb_middle) << i;
    EXPECT_GT(width, 0) << i;
    if (s.close[i] >= v.bb_lower && s.close[i] <= v.bb_upper) {
      ++within;
      EXPECT_GE(pos, 0.0) << i;
      EXPECT_LE(pos, 1.0) << i;
    } else {
      EXPECT_TRUE(pos < 0 || pos > 1) << i;
    }
  }
  EXPECT_GT(within, 200);  // the common case was exercised
  // Warm-up rows are NaN.
  EXPECT_TRUE(std::isnan(at(f, 13, "rsi")));
  EXPECT_FALSE(std::isnan(at(f, 14, "rsi")));
  EXPECT_TRUE(std::isnan(at(f, 4, "volatility")));
  EXPECT_FALSE(std::isnan(at(f, 5, "volatility")));
}

TEST(FeatureValues, BollingerOnAConstantSeries) {
  BarSeries s;
  for (int k = 0; k < 30; ++k) push_flat(s, k, 100.0);
  const std::vector<double> f = build_features(s, 0, 30, {});
  EXPECT_TRUE(std::isnan(at(f, 25, "bb_position")));  // width 0
  EXPECT_EQ(at(f, 25, "bb_width"), 0.0);
  EXPECT_EQ(at(f, 25, "rsi"), 0.0);  // no gain, no loss
}

TEST(FeatureValues, TimeBasedReturnsWithAGap) {
  // ts = 0..69 minutes without minute 30; close = 100 + minute.
  BarSeries s;
  for (int m = 0; m < 70; ++m)
    if (m != 30) push_flat(s, kFri20210402 + m, 100.0 + m);
  ASSERT_EQ(s.size(), 69u);
  const std::vector<double> f = build_features(s, 0, s.size(), {});
  auto row_of = [&](int minute) { return static_cast<std::size_t>(minute < 30 ? minute : minute - 1); };
  auto ret = [](double a, double b) { return 100.0 * (a / b - 1.0); };
  // Before the gap: ordinary lagged returns, NaN before the series starts.
  EXPECT_TRUE(std::isnan(at(f, row_of(0), "ret_1")));
  EXPECT_EQ(at(f, row_of(1), "ret_1"), ret(101, 100));
  EXPECT_TRUE(std::isnan(at(f, row_of(1), "ret_2")));
  EXPECT_EQ(at(f, row_of(10), "ret_10"), ret(110, 100));
  EXPECT_TRUE(std::isnan(at(f, row_of(9), "ret_10")));
  // Minute 31: the bar one minute back is missing -> NaN (NOT the row before, minute 29).
  EXPECT_TRUE(std::isnan(at(f, row_of(31), "ret_1")));
  EXPECT_EQ(at(f, row_of(31), "ret_2"), ret(131, 129));
  EXPECT_EQ(at(f, row_of(31), "ret_3"), ret(131, 128));
  EXPECT_TRUE(std::isnan(at(f, row_of(32), "ret_2")));
  EXPECT_EQ(at(f, row_of(32), "ret_1"), ret(132, 131));
  EXPECT_TRUE(std::isnan(at(f, row_of(35), "ret_5")));
  EXPECT_EQ(at(f, row_of(35), "ret_3"), ret(135, 132));
  EXPECT_TRUE(std::isnan(at(f, row_of(45), "ret_15")));
  EXPECT_EQ(at(f, row_of(45), "ret_10"), ret(145, 135));
  EXPECT_TRUE(std::isnan(at(f, row_of(60), "ret_30")));
  EXPECT_EQ(at(f, row_of(61), "ret_30"), ret(161, 131));
  // ret_60 across the gap: time-based (row-based would use minute 0 at minute 61's row).
  EXPECT_TRUE(std::isnan(at(f, row_of(59), "ret_60")));
  EXPECT_EQ(at(f, row_of(60), "ret_60"), ret(160, 100));
  EXPECT_EQ(at(f, row_of(61), "ret_60"), ret(161, 101));
  EXPECT_EQ(at(f, row_of(69), "ret_60"), ret(169, 109));
  EXPECT_DOUBLE_EQ(at(f, row_of(60), "ret_60"), 60.0);
}

TEST(FeatureValues, Volume) {
  BarSeries s;
  for (int k = 0; k < 70; ++k) push_flat(s, k, 100.0, k + 1.0);  // volume 1..70
  std::vector<double> f = build_features(s, 0, s.size(), {});
  EXPECT_EQ(at(f, 0, "log_volume"), std::log1p(1.0));
  EXPECT_DOUBLE_EQ(at(f, 9, "log_volume"), std::log(11.0));
  EXPECT_TRUE(std::isnan(at(f, 18, "volume_ratio_20")));
  EXPECT_DOUBLE_EQ(at(f, 19, "volume_ratio_20"), 20.0 / 10.5);  // mean(1..20) = 10.5
  EXPECT_DOUBLE_EQ(at(f, 30, "volume_ratio_20"), 31.0 / 21.5);  // mean(12..31) = 21.5
  EXPECT_TRUE(std::isnan(at(f, 58, "volume_z_60")));
  // Volumes 1..60: mean 30.5, population variance (60^2 - 1)/12.
  const double sd = std::sqrt((60.0 * 60.0 - 1.0) / 12.0);
  EXPECT_NEAR(at(f, 59, "volume_z_60"), (60.0 - 30.5) / sd, 1e-12);
  EXPECT_NEAR(at(f, 69, "volume_z_60"), (70.0 - 40.5) / sd, 1e-12);

  // Unknown volume: NaN wherever it is in a window.
  s.volume[40] = kNaN;
  f = build_features(s, 0, s.size(), {});
  EXPECT_TRUE(std::isnan(at(f, 40, "log_volume")));
  EXPECT_FALSE(std::isnan(at(f, 39, "volume_ratio_20")));
  for (std::size_t i = 40; i < 60; ++i) EXPECT_TRUE(std::isnan(at(f, i, "volume_ratio_20"))) << i;
  EXPECT_DOUBLE_EQ(at(f, 60, "volume_ratio_20"), 61.0 / 51.5);
  for (std::size_t i = 59; i < 70; ++i) EXPECT_TRUE(std::isnan(at(f, i, "volume_z_60"))) << i;

  // Constant volume: sd 0 -> NaN z; zero volume: mean 0 -> NaN ratio, log_volume 0.
  BarSeries c;
  for (int k = 0; k < 70; ++k) push_flat(c, k, 100.0, k < 65 ? 0.1 : 0.0);
  f = build_features(c, 0, c.size(), {});
  EXPECT_TRUE(std::isnan(at(f, 60, "volume_z_60")));
  EXPECT_DOUBLE_EQ(at(f, 60, "volume_ratio_20"), 1.0);
  EXPECT_EQ(at(f, 66, "log_volume"), 0.0);
  EXPECT_EQ(at(f, 66, "volume_ratio_20"), 0.0);
  EXPECT_FALSE(std::isnan(at(f, 66, "volume_z_60")));
  BarSeries zero;
  for (int k = 0; k < 25; ++k) push_flat(zero, k, 100.0, 0.0);
  f = build_features(zero, 0, zero.size(), {});
  EXPECT_TRUE(std::isnan(at(f, 24, "volume_ratio_20")));
}

TEST(FeatureValues, Range) {
  BarSeries s;
  push_bar(s, 0, 100, 110, 95, 105, 1);  // up bar
  push_bar(s, 1, 105, 106, 99, 100, 1);  // down bar
  for (int k = 2; k < 20; ++k) push_bar(s, k, 100, 100 + k, 100 - k * 0.5, 100, 1);
  const std::vector<double> f = build_features(s, 0, s.size(), {});
  EXPECT_DOUBLE_EQ(at(f, 0, "range_pct"), 100.0 * 15 / 105);
  EXPECT_DOUBLE_EQ(at(f, 0, "body_pct"), 5.0);
  EXPECT_DOUBLE_EQ(at(f, 0, "upper_shadow_pct"), 100.0 * 5 / 105);
  EXPECT_DOUBLE_EQ(at(f, 0, "lower_shadow_pct"), 100.0 * 5 / 105);
  EXPECT_DOUBLE_EQ(at(f, 1, "range_pct"), 7.0);
  EXPECT_DOUBLE_EQ(at(f, 1, "body_pct"), 100.0 * (100 - 105) / 105.0);
  EXPECT_DOUBLE_EQ(at(f, 1, "upper_shadow_pct"), 1.0);
  EXPECT_DOUBLE_EQ(at(f, 1, "lower_shadow_pct"), 1.0);
  EXPECT_DOUBLE_EQ(at(f, 5, "upper_shadow_pct"), 5.0);
  EXPECT_DOUBLE_EQ(at(f, 5, "lower_shadow_pct"), 2.5);
  EXPECT_TRUE(std::isnan(at(f, 13, "range_mean_15")));
  auto rp = [&](std::size_t i) { return 100.0 * (s.high[i] - s.low[i]) / s.close[i]; };
  for (std::size_t i = 14; i < 20; ++i) {
    double sum = 0;
    for (std::size_t k = i - 14; k <= i; ++k) sum += rp(k);
    EXPECT_DOUBLE_EQ(at(f, i, "range_mean_15"), sum / 15) << i;
  }
  EXPECT_DOUBLE_EQ(at(f, 19, "range_mean_15"), (1.5 * (5 + 19) * 15 / 2) / 15);  // k = 5..19
}

TEST(FeatureValues, TimeOfDayAndWeek) {
  auto dow_of = [](double s, double c) {
    double a = std::atan2(s, c);
    if (a < 0) a += 2 * kPi;
    return static_cast<int>(std::lround(a * 7 / (2 * kPi))) % 7;
  };
  auto minute_of = [](double s, double c) {
    double a = std::atan2(s, c);
    if (a < 0) a += 2 * kPi;
    return static_cast<int>(std::lround(a * 1440 / (2 * kPi))) % 1440;
  };
  BarSeries s;
  push_flat(s, -1441, 100);                         // 1969-12-30T23:59Z, Tuesday
  push_flat(s, -1, 100);                            // 1969-12-31T23:59Z, Wednesday
  push_flat(s, 0, 100);                             // 1970-01-01T00:00Z, Thursday
  push_flat(s, kFri20210402 - 4 * 1440, 100);       // 2021-03-29T00:00Z, Monday
  push_flat(s, kFri20210402, 100);                  // 2021-04-02T00:00Z, Friday
  push_flat(s, kFri20210402 + 6 * 60, 100);         // 06:00 Friday
  push_flat(s, kFri20210402 + 12 * 60, 100);        // 12:00 Friday
  push_flat(s, kFri20210402 + 2 * 1440 + 1439, 100);  // 2021-04-04T23:59Z, Sunday
  const std::vector<double> f = build_features(s, 0, s.size(), {});
  const int dows[] = {1, 2, 3, 0, 4, 4, 4, 6};
  const int mins[] = {1439, 1439, 0, 0, 0, 360, 720, 1439};
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(dow_of(at(f, i, "dow_sin"), at(f, i, "dow_cos")), dows[i]) << i;
    EXPECT_EQ(minute_of(at(f, i, "tod_sin"), at(f, i, "tod_cos")), mins[i]) << i;
    EXPECT_DOUBLE_EQ(at(f, i, "dow_sin"), std::sin(2 * kPi * dows[i] / 7)) << i;
    EXPECT_DOUBLE_EQ(at(f, i, "dow_cos"), std::cos(2 * kPi * dows[i] / 7)) << i;
    EXPECT_NEAR(at(f, i, "tod_sin"), std::sin(2 * kPi * mins[i] / 1440), 1e-15) << i;
    EXPECT_NEAR(at(f, i, "tod_cos"), std::cos(2 * kPi * mins[i] / 1440), 1e-15) << i;
  }
  // Midnight exactly: sin 0, cos 1; Monday exactly: sin 0, cos 1.
  EXPECT_EQ(at(f, 4, "tod_sin"), 0.0);
  EXPECT_EQ(at(f, 4, "tod_cos"), 1.0);
  EXPECT_EQ(at(f, 3, "dow_sin"), 0.0);
  EXPECT_EQ(at(f, 3, "dow_cos"), 1.0);
  EXPECT_DOUBLE_EQ(at(f, 5, "tod_sin"), 1.0);
  EXPECT_DOUBLE_EQ(at(f, 6, "tod_cos"), -1.0);
}

// ---- validation ----------------------------------------------------------------------------------

TEST(FeatureValidation, SeriesRules) {
  const BarSeries good = random_series(20, 3);
  EXPECT_NO_THROW(good.validate());
  EXPECT_NO_THROW(BarSeries{}.validate());
  EXPECT_EQ(good.size(), 20u);

  auto msg = [](const BarSeries& s) { return invalid_message([&] { s.validate(); }); };
  {
    BarSeries s = good;
    s.volume.pop_back();
    const std::string m = msg(s);
    EXPECT_TRUE(contains(m, "volume") && contains(m, "19") && contains(m, "20")) << m;
    s = good;
    s.high.push_back(1);
    EXPECT_TRUE(contains(msg(s), "high")) << msg(s);
  }
  {
    BarSeries s = good;
    s.ts[3] = s.ts[2];  // row 4 (1-based) not increasing
    const std::string m = msg(s);
    EXPECT_TRUE(contains(m, "row 4") && contains(m, "strictly increasing")) << m;
    s = good;
    s.ts[9] = s.ts[8] - 5;
    EXPECT_TRUE(contains(msg(s), "row 10")) << msg(s);
  }
  struct Case {
    std::size_t row;
    std::function<void(BarSeries&, std::size_t)> change;
    const char* words;
  };
  const Case cases[] = {
      {0, [](BarSeries& s, std::size_t r) { s.close[r] = kNaN; }, "close"},
      {5, [](BarSeries& s, std::size_t r) { s.open[r] = 0.0; }, "open"},
      {7, [](BarSeries& s, std::size_t r) { s.low[r] = -1.0; }, "low"},
      {8, [](BarSeries& s, std::size_t r) { s.high[r] = std::numeric_limits<double>::infinity(); },
       "high"},
      {11, [](BarSeries& s, std::size_t r) { s.high[r] = std::min(s.open[r], s.close[r]) * 0.9999; },
       "high"},
      {12, [](BarSeries& s, std::size_t r) { s.low[r] = std::max(s.open[r], s.close[r]) * 1.0001; },
       "low"},
      {13, [](BarSeries& s, std::size_t r) { s.close[r] = s.high[r] * 1.01; }, "high"},
      {14, [](BarSeries& s, std::size_t r) { s.open[r] = s.low[r] * 0.99; }, "low"},
      {19, [](BarSeries& s, std::size_t r) { s.volume[r] = -1.0; }, "volume"},
      {2, [](BarSeries& s, std::size_t r) { s.volume[r] = std::numeric_limits<double>::infinity(); },
       "volume"},
  };
  for (const auto& c : cases) {
    BarSeries s = good;
    c.change(s, c.row);
    const std::string m = msg(s);
    EXPECT_TRUE(contains(m, "row " + std::to_string(c.row + 1) + ":") && contains(m, c.words))
        << "row " << c.row + 1 << ": " << m;
  }
  BarSeries nan_volume = good;
  nan_volume.volume[4] = kNaN;  // unknown volume is fine
  EXPECT_NO_THROW(nan_volume.validate());
}

TEST(FeatureValidation, BuildFeaturesChecksTheRowsItReads) {
  BarSeries s = random_series(50, 9);
  s.high[30] = s.low[30] * 0.5;  // bad bar at row 31 (1-based)
  EXPECT_NO_THROW(build_features(s, 0, 30, {}));
  EXPECT_NO_THROW(build_features(s, 29, 30, {}));
  std::string m = invalid_message([&] { build_features(s, 40, 41, {}); });
  EXPECT_TRUE(contains(m, "build_features") && contains(m, "row 31")) << m;
  EXPECT_TRUE(contains(invalid_message([&] { s.validate(); }), "row 31"));

  const BarSeries g = random_series(50, 9);
  EXPECT_TRUE(contains(invalid_message([&] { build_features(g, 10, 9, {}); }), "range"));
  EXPECT_TRUE(contains(invalid_message([&] { build_features(g, 0, 51, {}); }), "range"));
  BarSeries shorter = g;
  shorter.low.resize(10);  // unequal lengths are an error even for an early range
  EXPECT_TRUE(contains(invalid_message([&] { build_features(shorter, 0, 5, {}); }), "low"));
  IndicatorParams bad;
  bad.macd_slow = 5;  // not > macd_fast
  EXPECT_TRUE(contains(invalid_message([&] { build_features(g, 0, 10, bad); }), "slow"));
}

// ---- speed ---------------------------------------------------------------------------------------

TEST(FeatureSpeed, SixtyThousandBars) {
  const BarSeries s = random_series(60000, 11);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<double> f = build_features(s, 0, s.size(), {});
  const auto t1 = std::chrono::steady_clock::now();
  const std::vector<double> t = build_targets(s, 0, s.size(), 15);
  const auto t2 = std::chrono::steady_clock::now();
  ASSERT_EQ(f.size(), s.size() * nf());
  ASSERT_EQ(t.size(), s.size());
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::printf("[ timing   ] build_features 60000 bars x %zu features: %.2f ms; build_targets: %.2f ms\n",
              nf(), ms(t1 - t0), ms(t2 - t1));
  // Sanity: after the warm-up, most rows have every feature (gaps and NaN volumes aside).
  std::size_t complete = 0;
  for (std::size_t i = 100; i < s.size(); ++i) {
    bool ok = true;
    for (std::size_t k = 0; k < nf(); ++k) ok = ok && !std::isnan(f[i * nf() + k]);
    complete += ok;
  }
  EXPECT_GT(complete, s.size() / 10);
}

}  // namespace

// The tail build used by live forecasts: a state restored mid-history plus the last bars gives
// exactly the row built from the full history.
TEST(FeatureTail, RestoredStatePlusTailEqualsFullHistory) {
  cml::BarSeries full;
  std::int64_t t = 27000000;
  double c = 100;
  unsigned x = 12345;
  for (int i = 0; i < 3000; ++i) {
    x = x * 1103515245u + 12345u;
    double r = (static_cast<int>((x >> 8) % 2001) - 1000) / 1.0e6;
    double o = c;
    c = o * (1 + r);
    full.ts.push_back(t + i + (i > 1500 ? 7 : 0));  // a 7-minute gap half way
    full.open.push_back(o);
    full.high.push_back(std::max(o, c) * 1.0005);
    full.low.push_back(std::min(o, c) * 0.9995);
    full.close.push_back(c);
    full.volume.push_back(10 + (x >> 20) % 50);
  }
  cml::IndicatorParams p;
  std::vector<double> whole = cml::build_features(full, 2999, 3000, p);
  for (std::size_t cut : {100u, 2000u, 2900u}) {
    cml::IndicatorState st(p);
    for (std::size_t i = 0; i < cut; ++i) st.update(full.high[i], full.low[i], full.close[i]);
    cml::IndicatorState restored = cml::IndicatorState::deserialize(st.serialize());
    cml::BarSeries tail;
    tail.ts.assign(full.ts.begin() + cut, full.ts.end());
    tail.open.assign(full.open.begin() + cut, full.open.end());
    tail.high.assign(full.high.begin() + cut, full.high.end());
    tail.low.assign(full.low.begin() + cut, full.low.end());
    tail.close.assign(full.close.begin() + cut, full.close.end());
    tail.volume.assign(full.volume.begin() + cut, full.volume.end());
    std::vector<double> last = cml::build_features(tail, tail.size() - 1, tail.size(), restored);
    ASSERT_EQ(last.size(), whole.size());
    EXPECT_EQ(0, std::memcmp(last.data(), whole.data(), whole.size() * sizeof(double))) << "cut " << cut;
  }
}
