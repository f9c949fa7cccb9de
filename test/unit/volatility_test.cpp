// Unit tests of src/core/volatility.* (market statistics, the HAR volatility model).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "errors.hpp"
#include "honest.hpp"
#include "seasonality.hpp"
#include "volatility.hpp"

namespace {

using cml::BarSeries;

void push(BarSeries& s, std::int64_t t, double c) {
  s.ts.push_back(t);
  s.open.push_back(c);
  s.high.push_back(c);
  s.low.push_back(c);
  s.close.push_back(c);
  s.volume.push_back(1.0);
}

// Minute bars with GARCH(1,1) variance times an intraday (hour-of-day) profile; gaps where gap(t).
BarSeries garch_series(std::int64_t minutes, unsigned seed, bool with_gaps = false) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  BarSeries s;
  double c = 100.0, var = 1e-6, r = 0;
  for (std::int64_t t = 0; t < minutes; ++t) {
    const double hour = static_cast<double>((t / 60) % 24);
    const double season = 0.6 + 0.8 * std::pow(std::sin(3.14159265 * hour / 24.0), 2);
    var = 2e-8 + 0.10 * r * r + 0.88 * var;
    r = std::sqrt(var) * z(rng);
    c *= std::exp(r * season);
    if (with_gaps && (t % 5000 > 4900)) continue;
    push(s, t, c);
  }
  return s;
}

// ---- market statistics ----------------------------------------------------------------------------

// The SQL of ml_forecast_all 0.7.0, restated bar by bar (independently of the core's loops).
struct OldSql {
  double sigma, vol_pct;
};
OldSql old_sql(const std::vector<std::int64_t>& ts, const std::vector<double>& c) {
  const std::int64_t bar = ts.back();
  std::vector<std::int64_t> wt;
  std::vector<double> wc;
  for (std::size_t j = 0; j < ts.size(); ++j)
    if (ts[j] > bar - 1441) {
      wt.push_back(ts[j]);
      wc.push_back(c[j]);
    }
  std::vector<std::vector<double>> g(25);
  for (std::size_t j = 1; j < wt.size(); ++j)
    g[static_cast<std::size_t>(std::floor(static_cast<double>(bar - wt[j]) * 60.0 / 3600.0))].push_back(
        100 * (wc[j] / wc[j - 1] - 1));
  auto sd = [](const std::vector<double>& x) {
    if (x.size() < 2) return std::nan("");
    double m = 0, s = 0;
    for (double v : x) m += v;
    m /= x.size();
    for (double v : x) s += (v - m) * (v - m);
    return std::sqrt(s / (x.size() - 1));
  };
  OldSql o{sd(g[0]), std::nan("")};
  if (!std::isnan(o.sigma)) {
    double a = 0, n = 0;
    for (auto& x : g)
      if (!std::isnan(sd(x))) {
        n += 1;
        a += sd(x) <= o.sigma ? 1 : 0;
      }
    o.vol_pct = a / n;
  }
  return o;
}

TEST(VolatilityMarketStats, MatchesOldSqlWithGaps) {
  BarSeries s = garch_series(4000, 7, true);
  for (std::size_t end : {100u, 1500u, 2000u, 3000u}) {
    std::vector<std::int64_t> ts(s.ts.begin(), s.ts.begin() + end);
    std::vector<double> c(s.close.begin(), s.close.begin() + end);
    const auto m = cml::market_stats(ts, c, {5, 60, 1440});
    const auto o = old_sql(ts, c);
    EXPECT_NEAR(m.sigma, o.sigma, 1e-12 * o.sigma);
    EXPECT_DOUBLE_EQ(m.vol_pct, o.vol_pct);
    EXPECT_GT(m.vol_pct, 0.0);
    ASSERT_EQ(m.horizons.size(), 3u);
    // ER over min(max(h,10),240) moves
    for (const auto& h : m.horizons) {
      const int n = std::min({std::max(h.horizon, 10), 240, static_cast<int>(std::min<std::size_t>(241, end)) - 1});
      EXPECT_EQ(h.n, n);
      double steps = 0;
      for (int q = 0; q < n; ++q) steps += std::fabs(c[end - 1 - q] - c[end - 2 - q]);
      EXPECT_NEAR(h.er, std::fabs(c[end - 1] - c[end - 1 - n]) / steps, 1e-12);
      const std::string want = m.vol_pct >= 0.9 ? "volatile" : (h.er >= 0.3 ? "trending" : "ranging");
      EXPECT_EQ(h.regime, want);
    }
  }
}

TEST(VolatilityMarketStats, KnownValuesAndEdges) {
  // one bar: no sigma, no ER
  auto one = cml::market_stats({100}, {5.0}, {15});
  EXPECT_TRUE(std::isnan(one.sigma));
  EXPECT_TRUE(std::isnan(one.vol_pct));
  EXPECT_TRUE(std::isnan(one.horizons[0].er));
  EXPECT_EQ(one.horizons[0].regime, "ranging");
  // three bars: returns +1 % and -1 %: sigma = sample sd of {1, x}; ER over 2 moves
  std::vector<std::int64_t> ts{0, 1, 2};
  std::vector<double> c{100, 101, 100};
  auto m = cml::market_stats(ts, c, {15});
  const double x2 = 100 * (100.0 / 101.0 - 1);
  const double mean = (1 + x2) / 2;
  EXPECT_NEAR(m.sigma, std::sqrt((1 - mean) * (1 - mean) + (x2 - mean) * (x2 - mean)), 1e-12);
  EXPECT_EQ(m.vol_pct, 1.0);
  EXPECT_EQ(m.horizons[0].n, 2);
  EXPECT_EQ(m.horizons[0].er, 0.0);      // back where it started
  EXPECT_EQ(m.horizons[0].regime, "volatile");  // the only hour is at its own percentile 1
  // flat window: ER 0
  auto flat = cml::market_stats({0, 1, 2, 3}, {7, 7, 7, 7}, {10});
  EXPECT_EQ(flat.horizons[0].er, 0.0);
  EXPECT_EQ(flat.sigma, 0.0);
  // a steady trend: ER 1, trending when not volatile
  std::vector<std::int64_t> t2;
  std::vector<double> c2;
  for (int k = 0; k < 600; ++k) {
    t2.push_back(k);
    c2.push_back(100 + (k < 400 ? 0.5 * std::sin(k) : 0.01 * (k - 400)));
  }
  auto tr = cml::market_stats(t2, c2, {60});
  EXPECT_NEAR(tr.horizons[0].er, 1.0, 1e-12);
  EXPECT_LT(tr.vol_pct, 0.9);
  EXPECT_EQ(tr.horizons[0].regime, "trending");
  // a return whose previous bar is older than 1440 minutes is not one
  auto gap = cml::market_stats({0, 1441, 1442, 1443}, {1, 2, 2.2, 2.0}, {5});
  EXPECT_NEAR(gap.sigma, std::sqrt(2.0) * std::fabs(10 - 100 * (2.0 / 2.2 - 1)) / 2, 1e-9);
}

TEST(VolatilityMarketStats, BadInput) {
  EXPECT_THROW(cml::market_stats({}, {}, {5}), cml::InvalidParameter);
  EXPECT_THROW(cml::market_stats({1, 2}, {1, 1}, {0}), cml::InvalidParameter);
  EXPECT_THROW(cml::market_stats({2, 1}, {1, 1}, {5}), cml::InvalidParameter);
  EXPECT_THROW(cml::market_stats({1, 2}, {1, -1}, {5}), cml::InvalidParameter);
  EXPECT_THROW(cml::market_stats({1, 2}, {1}, {5}), cml::InvalidParameter);
}

// ---- HAR data -------------------------------------------------------------------------------------

TEST(VolatilityHar, RealizedVolatilityTargetsAndGaps) {
  // closes alternate x1.01 / x1/1.01: every log return is +-100 ln 1.01
  BarSeries s;
  double c = 100;
  for (std::int64_t t = 0; t < 3000; ++t) {
    if (t >= 2000 && t < 2005) continue;  // a 5-minute gap
    push(s, t, c);
    c = (t % 2 == 0) ? c * 1.01 : c / 1.01;
  }
  const double r = 100 * std::log(1.01);
  auto d = cml::har_data(s, 15, 0, s.size());
  // row at t = 1500: RV over 15 minutes = r * sqrt(15); features per minute = ln r
  const std::size_t i = 1500;
  EXPECT_EQ(d.ts[i], 1500);
  EXPECT_NEAR(std::exp(d.y[i]), r * std::sqrt(15.0), 1e-9);
  EXPECT_NEAR(d.trailing[i], r * std::sqrt(15.0), 1e-9);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(d.x[i][k], std::log(r), 1e-9);
  EXPECT_TRUE(std::isnan(d.x[i][4]));  // no earlier week
  // the window over the gap: minutes 1995..2010 has 15 - 6 = 9 returns of r, scaled to 15 minutes
  const std::size_t g = 1995;
  EXPECT_EQ(d.ts[g], 1995);
  EXPECT_NEAR(std::exp(d.y[g]), r * std::sqrt(15.0), 1e-9);
  // too few minutes (fewer than half): undefined
  auto d60 = cml::har_data(s, 15, 0, 20);
  EXPECT_TRUE(std::isnan(d60.x[10][1]));  // 10 returns in 60 minutes
  EXPECT_FALSE(std::isnan(d60.x[10][0]));  // 10 of 15
  // the last rows: the window is not closed
  EXPECT_TRUE(std::isnan(d.y[s.size() - 1]));
  EXPECT_TRUE(std::isnan(d.y[s.size() - 15]));
  EXPECT_FALSE(std::isnan(d.y[s.size() - 16]));
  // the formula baseline is the market statistics' sigma * sqrt(h)
  std::vector<std::int64_t> ts(s.ts.begin(), s.ts.begin() + 1501);
  std::vector<double> cl(s.close.begin(), s.close.begin() + 1501);
  EXPECT_NEAR(d.formula[i], cml::market_stats(ts, cl, {15}).sigma * std::sqrt(15.0), 1e-12);
}

TEST(VolatilityHar, SeasonalFeatureCoversTheTargetHours) {
  BarSeries s = garch_series(3 * 10080, 3);
  const std::size_t i = 2 * 10080 + 30;  // t = 30 minutes into an hour
  auto d = cml::har_data(s, 60, i, i + 1);
  const auto p0 = cml::seasonal_profile(s, i, (s.ts[i] / 60) * 60);
  const auto p1 = cml::seasonal_profile(s, i, (s.ts[i] / 60) * 60 + 60);
  // (t, t+60] = 29 minutes of this hour, 31 of the next
  EXPECT_NEAR(d.x[0][4], std::log((29 * p0.abs_return + 31 * p1.abs_return) / 60), 1e-12);
  auto d15 = cml::har_data(s, 15, i, i + 1);
  EXPECT_NEAR(d15.x[0][4], std::log(p0.abs_return), 1e-12);
  auto d240 = cml::har_data(s, 240, i, i + 1);  // only the hours starting by t + 60
  EXPECT_NEAR(d240.x[0][4], std::log((29 * p0.abs_return + 60 * p1.abs_return) / 89), 1e-12);
}

TEST(VolatilityHar, LiveReadRangesGiveTheSameRow) {
  const BarSeries s = garch_series(3 * 10080, 17, true);
  for (std::size_t i : {s.size() - 1, s.size() - 100, s.size() / 2 + 1234}) {
    for (int h : {1, 15, 59, 60, 61, 240, 1440}) {
      const auto ranges = cml::har_read_ranges(s.ts[i], h);
      ASSERT_EQ(ranges.size(), 1u + cml::kSeasonalWeeks);
      BarSeries part;
      for (std::size_t j = 0; j <= i; ++j) {
        bool in = false;
        for (const auto& r : ranges) in = in || (s.ts[j] >= r.first && s.ts[j] <= r.second);
        if (in) push(part, s.ts[j], s.close[j]);
      }
      ASSERT_LT(part.size(), 3000u);
      const auto full = cml::har_data(s, h, i, i + 1);
      const auto live = cml::har_data(part, h, part.size() - 1, part.size());
      for (int k = 0; k < 5; ++k) EXPECT_EQ(full.x[0][k], live.x[0][k]) << h << " " << k;
      EXPECT_FALSE(std::isnan(live.x[0][4])) << h;
      EXPECT_EQ(full.trailing[0], live.trailing[0]);
      EXPECT_EQ(full.formula[0], live.formula[0]);
    }
  }
}

// ---- the model ------------------------------------------------------------------------------------

TEST(VolatilityHar, FitRecoversCoefficientsAndRoundTrips) {
  cml::HarData d;
  d.horizon = 15;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z(0, 1);
  const double beta[5] = {0.4, 0.2, 0.1, 0.05, 0.3};
  for (int r = 0; r < 5000; ++r) {
    std::array<double, 5> x;
    double y = -0.5;
    for (int k = 0; k < 5; ++k) {
      x[k] = z(rng) * (k + 1);
      y += beta[k] * x[k];
    }
    d.ts.push_back(r);
    d.x.push_back(x);
    d.y.push_back(y + 0.3 * z(rng));
    d.trailing.push_back(1);
    d.formula.push_back(1);
  }
  std::vector<std::size_t> rows(5000);
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = r;
  const auto m = cml::fit_har(d, rows, 0.0);
  std::array<double, 5> zero{}, unit{};
  unit[2] = 1;
  EXPECT_NEAR(m.predict_log(zero), -0.5, 0.02);
  for (int k = 0; k < 5; ++k) {
    std::array<double, 5> e{};
    e[k] = 1;
    EXPECT_NEAR(m.predict_log(e) - m.predict_log(zero), beta[k], 0.02) << k;
  }
  EXPECT_NEAR(m.resid_sd, 0.3, 0.02);
  EXPECT_NEAR(m.smearing, std::exp(2 * 0.09), 0.03);  // lognormal: E exp(2e) = exp(2 s^2)
  EXPECT_NEAR(m.predict_sigma(unit), std::exp(m.predict_log(unit)) * std::sqrt(m.smearing), 1e-12);
  // a strong ridge shrinks toward the mean
  const auto shrunk = cml::fit_har(d, rows, 100.0);
  EXPECT_LT(std::fabs(shrunk.predict_log(unit) - shrunk.intercept), std::fabs(m.predict_log(unit) - m.intercept));
  // JSON round trip through text
  const auto back = cml::HarModel::from_json(nlohmann::json::parse(m.to_json().dump()));
  for (int r = 0; r < 50; ++r) EXPECT_EQ(back.predict_sigma(d.x[r]), m.predict_sigma(d.x[r]));
  EXPECT_EQ(back.horizon, 15);
  // a NaN feature cannot be predicted
  std::array<double, 5> bad = unit;
  bad[4] = std::nan("");
  EXPECT_TRUE(std::isnan(m.predict_sigma(bad)));
  // stored JSON that is not a model
  auto j = m.to_json();
  j["coef"] = {1, 2};
  EXPECT_THROW(cml::HarModel::from_json(j), cml::DataError);
  j = m.to_json();
  j["type"] = "xgboost";
  EXPECT_THROW(cml::HarModel::from_json(j), cml::DataError);
  j = m.to_json();
  j["smearing"] = -1;
  EXPECT_THROW(cml::HarModel::from_json(j), cml::DataError);
  EXPECT_THROW(cml::HarModel::from_json(nlohmann::json::array()), cml::DataError);
  // too few rows, bad ridge
  EXPECT_THROW(cml::fit_har(d, std::vector<std::size_t>(rows.begin(), rows.begin() + 50), 0.0), cml::DataError);
  EXPECT_THROW(cml::fit_har(d, rows, -1.0), cml::InvalidParameter);
}

TEST(VolatilityHar, Losses) {
  EXPECT_EQ(cml::qlike_loss(2.0, 2.0), 0.0);
  EXPECT_GT(cml::qlike_loss(2.0, 1.0), 0.0);
  EXPECT_GT(cml::qlike_loss(1.0, 2.0), 0.0);
  // under-prediction costs more than over-prediction by the same factor
  EXPECT_GT(cml::qlike_loss(2.0, 1.0), cml::qlike_loss(1.0, 2.0));
  EXPECT_NEAR(cml::qlike_loss(1.0, 2.0), 0.25 - std::log(0.25) - 1, 1e-15);
}

TEST(VolatilityHar, TrainSplitsWithTheOneRule) {
  BarSeries s = garch_series(4 * 10080, 5);
  cml::VolOptions o;
  o.validation_split = 0.25;
  const auto res = cml::train_volatility(s, 10080 + 1440, 15, o);
  const auto sp = cml::split_rows(res.rows, 0.25, 15);
  EXPECT_TRUE(sp.ok);
  EXPECT_EQ(res.valid_rows, sp.valid);
  EXPECT_LE(res.train_rows, sp.train);
  EXPECT_LT(res.train_to + 15, res.valid_from);
  EXPECT_GT(res.valid.n, 1000u);
  EXPECT_LT(res.valid.ratio(), 1.0);  // GARCH variance: the model beats the trailing 15 minutes
  EXPECT_THROW(cml::train_volatility(s, s.size() - 50, 15, o), cml::DataError);
}

// ---- no look-ahead ----------------------------------------------------------------------------------

TEST(VolatilityHar, NoLookAhead) {
  const BarSeries s = garch_series(3 * 10080, 9);
  const int h = 60;
  const std::size_t cut = 2 * 10080 + 777;  // row of the prediction bar t
  BarSeries changed = s;
  for (std::size_t j = cut + 1; j < changed.size(); ++j) {
    const double f = (j % 3 == 0) ? 1.5 : 0.7;
    changed.open[j] *= f;
    changed.high[j] *= f;
    changed.low[j] *= f;
    changed.close[j] *= f;
  }
  // the fit reads no target after its window's end T = ts[cut]: rows with t + h <= T
  auto rows_before = [&](const cml::HarData& d) {
    std::vector<std::size_t> r;
    for (std::size_t k = 0; k < d.size(); ++k)
      if (d.ts[k] + h <= s.ts[cut]) r.push_back(k);
    return r;
  };
  const auto d1 = cml::har_data(s, h, 0, s.size());
  const auto d2 = cml::har_data(changed, h, 0, changed.size());
  const auto m1 = cml::fit_har(d1, rows_before(d1), 1e-3);
  const auto m2 = cml::fit_har(d2, rows_before(d2), 1e-3);
  EXPECT_EQ(m1.to_json().dump(), m2.to_json().dump());
  // the features and baselines at t read only bars <= t
  for (std::size_t k = cut - 5; k <= cut; ++k) {
    for (int f = 0; f < 5; ++f) EXPECT_EQ(d1.x[k][f], d2.x[k][f]);
    EXPECT_EQ(d1.trailing[k], d2.trailing[k]);
    EXPECT_EQ(d1.formula[k], d2.formula[k]);
  }
  // walk-forward: every prediction up to t is the same, also with the bars after t removed
  cml::VolOptions o;
  o.warmup_days = 8;
  o.refit_every = 720;
  o.train_days = 0;
  BarSeries truncated = s;
  for (auto* v : {&truncated.open, &truncated.high, &truncated.low, &truncated.close, &truncated.volume})
    v->resize(cut + 1);
  truncated.ts.resize(cut + 1);
  const auto w1 = cml::walk_forward(s, h, o);
  const auto w2 = cml::walk_forward(changed, h, o);
  const auto w3 = cml::walk_forward(truncated, h, o);
  std::size_t compared = 0;
  for (std::size_t k = 0; k <= cut; ++k) {
    if (std::isnan(w1.sigma[k])) continue;
    EXPECT_EQ(w1.sigma[k], w2.sigma[k]) << k;
    EXPECT_EQ(w1.sigma[k], w3.sigma[k]) << k;
    ++compared;
  }
  EXPECT_GT(compared, 5000u);
}

TEST(VolatilityHar, WalkForwardBeatsTrailingOnGarch) {
  const BarSeries s = garch_series(4 * 10080, 21);
  cml::VolOptions o;
  o.warmup_days = 9;
  o.train_days = 0;
  for (int h : {15, 60}) {
    const auto w = cml::walk_forward(s, h, o);
    EXPECT_GT(w.refits, 10);
    EXPECT_GT(w.metrics.n, 10000u);
    EXPECT_LT(w.metrics.ratio(), 0.95) << h;
    EXPECT_LT(w.metrics.rmse_log, w.metrics.rmse_log_baseline) << h;
  }
}

// ---- options -------------------------------------------------------------------------------------

TEST(VolatilityOptions, Parse) {
  auto o = cml::parse_vol_options(nlohmann::json::parse(R"({"ridge": 0.5, "trainDays": 7})"), false, 0.2);
  EXPECT_EQ(o.ridge, 0.5);
  EXPECT_EQ(o.train_days, 7);
  EXPECT_EQ(o.validation_split, 0.2);
  auto e = cml::parse_vol_options(nlohmann::json::object(), true, 0.2);
  EXPECT_EQ(e.train_days, 0);
  EXPECT_EQ(e.refit_every, 1440);
  try {
    cml::parse_vol_options(nlohmann::json::parse(R"({"refitEvery": 60})"), false, 0.2);
    FAIL();
  } catch (const cml::InvalidParameter& ex) {
    EXPECT_NE(std::string(ex.what()).find("unknown option \"refitEvery\""), std::string::npos);
    EXPECT_NE(ex.detail().find("ridge, validationSplit, trainDays"), std::string::npos);
  }
  EXPECT_THROW(cml::parse_vol_options(nlohmann::json::parse(R"({"ridge": -1})"), false, 0.2), cml::InvalidParameter);
  EXPECT_THROW(cml::parse_vol_options(nlohmann::json::parse(R"({"trainDays": 1.5})"), false, 0.2), cml::InvalidParameter);
  EXPECT_THROW(cml::parse_vol_options(nlohmann::json::parse(R"({"validationSplit": 1})"), false, 0.2), cml::InvalidParameter);
  EXPECT_THROW(cml::parse_vol_options(nlohmann::json::parse(R"({"refitEvery": 0})"), true, 0.2), cml::InvalidParameter);
  EXPECT_THROW(cml::parse_vol_options(nlohmann::json::parse("[1]"), true, 0.2), cml::InvalidParameter);
}

}  // namespace
