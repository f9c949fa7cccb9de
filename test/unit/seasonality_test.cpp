// Unit tests of src/core/seasonality.* (hour-of-week profiles).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "errors.hpp"
#include "seasonality.hpp"

namespace {

using cml::BarSeries;
using cml::seasonal_profile;

constexpr std::int64_t kWeek = 10080;

void push(BarSeries& s, std::int64_t t, double close, double volume) {
  s.ts.push_back(t);
  s.open.push_back(close);
  s.high.push_back(close);
  s.low.push_back(close);
  s.close.push_back(close);
  s.volume.push_back(volume);
}

// Minutes [from, to) with close = f(t) and volume = t mod 7.
template <class F>
BarSeries series(std::int64_t from, std::int64_t to, F f) {
  BarSeries s;
  for (std::int64_t t = from; t < to; ++t) push(s, t, f(t), static_cast<double>(t % 7));
  return s;
}

double close_of(std::int64_t t) { return 100.0 * std::exp(0.001 * std::sin(0.37 * static_cast<double>(t))); }

// The definition, by brute force over every bar.
cml::SeasonalProfile brute(const BarSeries& s, std::size_t i, std::int64_t hour_start, int weeks) {
  double a = 0, v = 0;
  int na = 0, nv = 0;
  for (std::size_t j = 0; j <= i; ++j) {
    bool in = false;
    for (int w = 1; w <= weeks; ++w)
      in = in || (s.ts[j] >= hour_start - kWeek * w && s.ts[j] <= hour_start - kWeek * w + 59);
    if (!in) continue;
    if (j > 0 && s.ts[j - 1] == s.ts[j] - 1) {
      a += std::fabs(100.0 * std::log(s.close[j] / s.close[j - 1]));
      ++na;
    }
    if (!std::isnan(s.volume[j])) {
      v += std::log1p(s.volume[j]);
      ++nv;
    }
  }
  return {na ? a / na : std::nan(""), nv ? v / nv : std::nan(""), na, nv};
}

TEST(SeasonalityTest, MatchesDefinitionOnFullWeeks) {
  const std::int64_t start = 1000 * 60;  // whole hour
  BarSeries s = series(start, start + 5 * kWeek, close_of);
  const std::size_t i = s.size() - 1;
  const std::int64_t hour = (s.ts[i] / 60) * 60;  // the hour the last bar is in
  const auto p = seasonal_profile(s, i, hour);
  const auto b = brute(s, i, hour, cml::kSeasonalWeeks);
  EXPECT_EQ(p.returns, 4 * 60);
  EXPECT_EQ(p.volumes, 4 * 60);
  EXPECT_EQ(p.returns, b.returns);
  EXPECT_NEAR(p.abs_return, b.abs_return, 1e-12);
  EXPECT_NEAR(p.log_volume, b.log_volume, 1e-12);
  EXPECT_GT(p.abs_return, 0.0);
}

TEST(SeasonalityTest, HourWithKnownValues) {
  // One week back: the hour holds alternating closes 100 and 101 -> every return is ln(1.01).
  const std::int64_t hour = 2 * kWeek + 600;
  BarSeries s;
  for (std::int64_t t = hour - kWeek - 1; t <= hour - kWeek + 59; ++t)
    push(s, t, (t % 2 == 0) ? 100.0 : 101.0, 3.0);
  push(s, hour, 100.0, 1.0);
  const auto p = seasonal_profile(s, s.size() - 1, hour, 1);
  EXPECT_EQ(p.returns, 60);  // the minute before the window gives the first bar's return
  EXPECT_EQ(p.volumes, 60);
  EXPECT_NEAR(p.abs_return, 100.0 * std::log(1.01), 1e-12);
  EXPECT_NEAR(p.log_volume, std::log1p(3.0), 1e-15);
}

TEST(SeasonalityTest, GapsMissingVolumesAndFirstWeek) {
  const std::int64_t start = 0;
  BarSeries s = series(start, start + 2 * kWeek, close_of);
  const std::int64_t hour = kWeek + 120;
  // remove minutes 130..139 of last week's hour: the bar after a gap has no return
  BarSeries g;
  for (std::size_t j = 0; j < s.size(); ++j) {
    const std::int64_t t = s.ts[j];
    if (t >= hour - kWeek + 10 && t < hour - kWeek + 20) continue;
    push(g, t, s.close[j], (t == hour - kWeek + 30) ? std::numeric_limits<double>::quiet_NaN() : s.volume[j]);
  }
  const std::size_t i = g.size() - 1;
  const auto p = seasonal_profile(g, i, hour, 4);  // weeks 2..4 lie before the series
  const auto b = brute(g, i, hour, 4);
  EXPECT_EQ(p.returns, 60 - 10 - 1);
  EXPECT_EQ(p.volumes, 60 - 10 - 1);
  EXPECT_EQ(p.returns, b.returns);
  EXPECT_EQ(p.volumes, b.volumes);
  EXPECT_NEAR(p.abs_return, b.abs_return, 1e-12);
  EXPECT_NEAR(p.log_volume, b.log_volume, 1e-12);
  // the first week of history has no profile
  const auto none = seasonal_profile(g, 100, 120, 4);
  EXPECT_TRUE(std::isnan(none.abs_return));
  EXPECT_TRUE(std::isnan(none.log_volume));
  EXPECT_EQ(none.returns, 0);
  EXPECT_EQ(none.volumes, 0);
}

TEST(SeasonalityTest, NoLookAhead) {
  BarSeries s = series(0, 3 * kWeek, close_of);
  const std::size_t i = 2 * kWeek + 300;
  const std::int64_t hour = (s.ts[i] / 60) * 60 + 60;  // the next hour (allowed: <= ts + 60)
  const auto before = seasonal_profile(s, i, hour);
  for (std::size_t j = i + 1; j < s.size(); ++j) {
    s.close[j] *= 3.0;
    s.volume[j] = 1e9;
  }
  s.ts.resize(i + 5000);
  s.open.resize(i + 5000);
  s.high.resize(i + 5000);
  s.low.resize(i + 5000);
  s.close.resize(i + 5000);
  s.volume.resize(i + 5000);
  const auto after = seasonal_profile(s, i, hour);
  EXPECT_EQ(before.abs_return, after.abs_return);
  EXPECT_EQ(before.log_volume, after.log_volume);
  EXPECT_EQ(before.returns, after.returns);
}

TEST(SeasonalityTest, NegativeMinutes) {
  BarSeries s = series(-3 * kWeek, 60, close_of);
  const std::size_t i = s.size() - 1;
  const auto p = seasonal_profile(s, i, -120, 2);
  const auto b = brute(s, i, -120, 2);
  EXPECT_EQ(p.returns, 120);
  EXPECT_NEAR(p.abs_return, b.abs_return, 1e-12);
}

TEST(SeasonalityTest, BadInput) {
  BarSeries s = series(0, 200, close_of);
  EXPECT_THROW(seasonal_profile(s, 200, 60), cml::InvalidParameter);
  EXPECT_THROW(seasonal_profile(s, 10, 30), cml::InvalidParameter);
  EXPECT_THROW(seasonal_profile(s, 10, 10 + 61 + 49), cml::InvalidParameter);  // 120 > 10 + 60
  EXPECT_NO_THROW(seasonal_profile(s, 10, 60));
  EXPECT_THROW(seasonal_profile(s, 10, 60, 0), cml::InvalidParameter);
  try {
    seasonal_profile(s, 10, 45);
    FAIL();
  } catch (const cml::InvalidParameter& e) {
    EXPECT_NE(std::string(e.what()).find("45"), std::string::npos);
    EXPECT_NE(e.detail().find("rule:"), std::string::npos);
  }
}

}  // namespace
