// Unit tests of the per-bar anomaly detector (src/core/anomaly.hpp).
#include "anomaly.hpp"
#include "errors.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// A symbol's series: close follows beta * index + own noise; high/low a little outside the
// open/close; log-normal volume. Every minute present unless a gap is punched.
struct Series {
  std::vector<int64_t> minute;
  std::vector<double> high, low, close, volume, index;
  cml::AnomalyBars bars() const {
    cml::AnomalyBars b;
    b.minute = minute.data();
    b.high = high.data();
    b.low = low.data();
    b.close = close.data();
    b.volume = volume.data();
    b.index_return = index.data();
    b.n = minute.size();
    return b;
  }
  // Sets close[i] (scaling every later bar by the same factor: a level shift) and keeps the bar's
  // high/low around the new open/close.
  void shift_from(std::size_t i, double log_move) {
    const double f = std::exp(log_move);
    for (std::size_t j = i; j < close.size(); j++) {
      close[j] *= f;
      high[j] *= f;
      low[j] *= f;
    }
    high[i] = std::max(high[i], close[i - 1] * 1.0002);
    low[i] = std::min(low[i], close[i - 1] * 0.9998);
  }
};

Series make_series(std::size_t n, unsigned seed, double beta = 1.0, double sigma = 1e-3) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, 1);
  Series s;
  double c = 100;
  for (std::size_t i = 0; i < n; i++) {
    const double m = i == 0 ? kNaN : 0.8 * sigma * z(rng);
    const double r = i == 0 ? 0 : beta * m + 0.6 * sigma * z(rng);
    const double open = c;
    c = c * std::exp(r);
    s.minute.push_back(27000000 + (int64_t)i);
    s.close.push_back(c);
    s.high.push_back(std::max(open, c) * (1 + 0.0003 * std::fabs(z(rng))));
    s.low.push_back(std::min(open, c) * (1 - 0.0003 * std::fabs(z(rng))));
    s.volume.push_back(std::exp(3 + 0.5 * z(rng)));
    s.index.push_back(m);
  }
  return s;
}

cml::AnomalySettings settings(int window = 240, double threshold = 8) {
  cml::AnomalySettings st;
  st.window = window;
  st.threshold = threshold;
  return st;
}

std::vector<std::size_t> flagged(const std::vector<cml::AnomalyScore>& v) {
  std::vector<std::size_t> out;
  for (const auto& s : v)
    if (s.anomalous) out.push_back(s.row);
  return out;
}

const cml::AnomalyScore& at_row(const std::vector<cml::AnomalyScore>& v, std::size_t row) {
  for (const auto& s : v)
    if (s.row == row) return s;
  throw std::runtime_error("row not scored");
}

bool has_kind(const cml::AnomalyScore& s, int f) { return (s.kinds >> f) & 1u; }

TEST(AnomalyTest, QuietSeriesHasNoAnomalyAndWarmUpIsNotScored) {
  Series s = make_series(1000, 1);
  auto v = cml::score_anomalies(s.bars(), 0, settings());
  ASSERT_EQ(v.size(), 1000u - 240u);  // rows 0..239 are the warm-up
  EXPECT_EQ(v.front().row, 240u);
  EXPECT_TRUE(flagged(v).empty());
  for (const auto& sc : v) {
    EXPECT_LT(sc.score, 8.0);
    for (int f = 0; f < cml::kAnomalyFeatures; f++) EXPECT_TRUE(std::isfinite(sc.z[f])) << sc.row << " " << f;
  }
}

TEST(AnomalyTest, ReturnSpikeIsFlaggedAsReturnRangeAndResidual) {
  Series s = make_series(400, 2);
  s.shift_from(300, 0.03);  // +3 % in one minute, the index flat-ish
  auto v = cml::score_anomalies(s.bars(), 0, settings());
  EXPECT_EQ(flagged(v), std::vector<std::size_t>{300});
  const auto& sc = at_row(v, 300);
  EXPECT_TRUE(has_kind(sc, cml::kAnomalyReturn));
  EXPECT_TRUE(has_kind(sc, cml::kAnomalyRange));
  EXPECT_TRUE(has_kind(sc, cml::kAnomalyResidual));
  EXPECT_FALSE(has_kind(sc, cml::kAnomalyVolume));
  EXPECT_GT(sc.z[cml::kAnomalyReturn], 8.0);  // signed: an up move
  EXPECT_NEAR(sc.value[cml::kAnomalyReturn], std::log(s.close[300] / s.close[299]), 1e-12);
  EXPECT_DOUBLE_EQ(sc.score, std::max({std::fabs(sc.z[0]), std::fabs(sc.z[1]), std::fabs(sc.z[2]), std::fabs(sc.z[3])}));
}

TEST(AnomalyTest, RangeSpikeAloneIsFlaggedAsRange) {
  Series s = make_series(400, 3);
  s.low[320] = std::min(s.close[319], s.close[320]) * 0.94;  // a wick: 6 % below, close unchanged
  auto v = cml::score_anomalies(s.bars(), 0, settings());
  EXPECT_EQ(flagged(v), std::vector<std::size_t>{320});
  EXPECT_EQ(cml::anomaly_kinds(at_row(v, 320).kinds), std::vector<std::string>{"range"});
}

TEST(AnomalyTest, VolumeSpikeAloneIsFlaggedAsVolume) {
  Series s = make_series(400, 4);
  s.volume[350] *= 2000;
  auto v = cml::score_anomalies(s.bars(), 0, settings());
  EXPECT_EQ(flagged(v), std::vector<std::size_t>{350});
  EXPECT_EQ(cml::anomaly_kinds(at_row(v, 350).kinds), std::vector<std::string>{"volume"});
}

TEST(AnomalyTest, MarketWideMoveIsReturnNotResidual) {
  for (double beta : {1.0, 1.6}) {
    Series s = make_series(400, 5, beta);
    s.index[300] = -0.03;  // every other symbol fell 3 % in that minute ...
    s.shift_from(300, beta * -0.03 + 0.0004);  // ... and this one with them (its usual beta)
    auto v = cml::score_anomalies(s.bars(), 0, settings());
    const auto& sc = at_row(v, 300);
    EXPECT_TRUE(sc.anomalous) << beta;
    EXPECT_TRUE(has_kind(sc, cml::kAnomalyReturn)) << beta;
    EXPECT_FALSE(has_kind(sc, cml::kAnomalyResidual)) << beta;
    EXPECT_LT(std::fabs(sc.z[cml::kAnomalyResidual]), 3.0) << beta;
    EXPECT_NEAR(sc.beta, beta, 0.25);
    // the same move alone (index flat) is idiosyncratic: residual
    Series t = make_series(400, 5, beta);
    t.index[300] = 0.0;
    t.shift_from(300, beta * -0.03 + 0.0004);
    EXPECT_TRUE(has_kind(at_row(cml::score_anomalies(t.bars(), 0, settings()), 300), cml::kAnomalyResidual)) << beta;
  }
}

TEST(AnomalyTest, FlatWindowGivesFiniteScoresAtTheFloor) {
  Series s = make_series(300, 6);
  for (std::size_t i = 0; i < 300; i++) {
    s.close[i] = s.high[i] = s.low[i] = 50;
    s.volume[i] = 7;
    s.index[i] = 0;
  }
  auto v = cml::score_anomalies(s.bars(), 0, settings());
  ASSERT_FALSE(v.empty());
  for (const auto& sc : v) {
    EXPECT_FALSE(sc.anomalous);
    EXPECT_EQ(sc.score, 0.0);
    EXPECT_DOUBLE_EQ(sc.scale[cml::kAnomalyReturn], cml::kAnomalyReturnFloor);
    EXPECT_DOUBLE_EQ(sc.scale[cml::kAnomalyVolume], cml::kAnomalyVolumeFloor);
  }
  // a 0.05 % move after the flat window: z = ln(1.0005) / floor, finite
  s.close[299] = s.high[299] = 50 * 1.0005;
  auto w = cml::score_anomalies(s.bars(), 299, settings());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NEAR(w[0].z[cml::kAnomalyReturn], std::log(1.0005) / cml::kAnomalyReturnFloor, 1e-9);
  EXPECT_FALSE(w[0].anomalous);  // about 5 < 8
}

TEST(AnomalyTest, TickBoundWindowUsesTheMeanAbsoluteDeviation) {
  // more than half of the returns are 0 (MAD = 0): the scale comes from the mean absolute deviation
  Series s = make_series(300, 7);
  for (std::size_t i = 1; i < 300; i++) s.close[i] = s.close[i - 1] * (i % 3 == 0 ? 1.001 : 1.0);
  auto v = cml::score_anomalies(s.bars(), 299, settings());
  ASSERT_EQ(v.size(), 1u);
  const double mean_ad = std::log(1.001) / 3.0;  // a third of the returns are ln(1.001), median 0
  EXPECT_NEAR(v[0].scale[cml::kAnomalyReturn], cml::kAnomalyMeanAdScale * mean_ad, 1e-4 * mean_ad);
}

TEST(AnomalyTest, NanVolumeIsNotScoredAndNotCounted) {
  Series s = make_series(400, 8);
  s.volume[300] = kNaN;
  s.volume[301] = -1;  // invalid: undefined as well
  auto v = cml::score_anomalies(s.bars(), 0, settings());
  EXPECT_TRUE(flagged(v).empty());
  EXPECT_TRUE(std::isnan(at_row(v, 300).z[cml::kAnomalyVolume]));
  EXPECT_TRUE(std::isnan(at_row(v, 301).z[cml::kAnomalyVolume]));
  EXPECT_TRUE(std::isfinite(at_row(v, 300).z[cml::kAnomalyReturn]));
  // a window with fewer than window/2 finite volumes does not score volume
  for (std::size_t i = 0; i < 300; i++)
    if (i % 3 != 0) s.volume[i] = kNaN;
  EXPECT_TRUE(std::isnan(at_row(cml::score_anomalies(s.bars(), 0, settings()), 310).z[cml::kAnomalyVolume]));
}

TEST(AnomalyTest, ReturnAcrossAGapIsUndefined) {
  Series s = make_series(400, 9);
  for (std::size_t i = 300; i < 400; i++) s.minute[i] += 90;  // 90 missing minutes before row 300
  s.shift_from(300, 0.05);
  auto v = cml::score_anomalies(s.bars(), 0, settings());
  const auto& sc = at_row(v, 300);
  EXPECT_TRUE(std::isnan(sc.value[cml::kAnomalyReturn]));
  EXPECT_TRUE(std::isnan(sc.z[cml::kAnomalyReturn]));
  EXPECT_TRUE(std::isnan(sc.z[cml::kAnomalyResidual]));
}

TEST(AnomalyTest, NoLookAheadAndIncrementalEqualsFullScan) {
  Series s = make_series(700, 10);
  s.shift_from(500, -0.04);
  auto full = cml::score_anomalies(s.bars(), 0, settings());
  // scoring from row 450 gives the same numbers as the full scan
  auto part = cml::score_anomalies(s.bars(), 450, settings());
  ASSERT_EQ(part.size(), 250u);
  for (const auto& sc : part) {
    const auto& f = at_row(full, sc.row);
    for (int k = 0; k < cml::kAnomalyFeatures; k++) EXPECT_EQ(std::isnan(sc.z[k]) ? 0.0 : sc.z[k], std::isnan(f.z[k]) ? 0.0 : f.z[k]);
    EXPECT_EQ(sc.kinds, f.kinds);
  }
  // changing everything after row 499 leaves rows <= 499 untouched (the bar itself is excluded too)
  Series t = s;
  for (std::size_t i = 499; i < 700; i++) {
    t.close[i] *= 3;
    t.volume[i] *= 100;
  }
  t.high[499] = t.close[499] * 1.5;
  auto v = cml::score_anomalies(t.bars(), 0, settings());
  for (std::size_t row = 240; row < 499; row++) EXPECT_EQ(at_row(v, row).score, at_row(full, row).score) << row;
  EXPECT_TRUE(at_row(v, 499).anomalous);
}

TEST(AnomalyTest, ThresholdDecidesAndKindsNameTheFeatures) {
  Series s = make_series(400, 11);
  s.shift_from(300, 0.006);  // about 6 robust sigmas
  const auto& sc = at_row(cml::score_anomalies(s.bars(), 0, settings()), 300);
  const double z = std::fabs(sc.z[cml::kAnomalyReturn]);
  ASSERT_GT(z, 3.0);
  EXPECT_TRUE(at_row(cml::score_anomalies(s.bars(), 0, settings(240, z)), 300).anomalous);           // >= threshold
  EXPECT_FALSE(has_kind(at_row(cml::score_anomalies(s.bars(), 0, settings(240, z * 1.0001 + 1e-9)), 300), cml::kAnomalyReturn));
  EXPECT_EQ(cml::anomaly_kinds(0xF), (std::vector<std::string>{"return", "range", "volume", "residual"}));
  const std::string js = cml::anomaly_detail_json(sc);
  EXPECT_NE(js.find("\"residual\""), std::string::npos);
  EXPECT_NE(js.find("\"beta\""), std::string::npos);
}

TEST(AnomalyTest, BadSettingsAndOrderAreRejected) {
  Series s = make_series(300, 12);
  EXPECT_THROW(cml::score_anomalies(s.bars(), 0, settings(29, 8)), cml::InvalidParameter);
  EXPECT_THROW(cml::score_anomalies(s.bars(), 0, settings(10081, 8)), cml::InvalidParameter);
  EXPECT_THROW(cml::score_anomalies(s.bars(), 0, settings(240, 0.5)), cml::InvalidParameter);
  EXPECT_THROW(cml::score_anomalies(s.bars(), 0, settings(240, kNaN)), cml::InvalidParameter);
  s.minute[280] = s.minute[279];
  EXPECT_THROW(cml::score_anomalies(s.bars(), 0, settings()), cml::InvalidParameter);
  cml::AnomalyBars empty;
  EXPECT_TRUE(cml::score_anomalies(empty, 0, settings()).empty());
}

}  // namespace
