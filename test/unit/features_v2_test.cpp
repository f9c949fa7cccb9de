// Feature set 2 (src/core/features_v2.hpp): names and groups, no look-ahead (own and other
// symbols), the arrival rule, tail builds equal to full builds bit for bit, hand-computed values
// of each group, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "features.hpp"
#include "features_v2.hpp"
#include "indicators.hpp"
#include "seasonality.hpp"

namespace {

using cml::BarSeries;
using cml::MarketContext;

constexpr std::size_t kNF = 81;

std::size_t col(const std::string& name) {
  const auto& n = cml::feature_names_for(2);
  for (std::size_t c = 0; c < n.size(); ++c)
    if (n[c] == name) return c;
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

bool same_bits(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Index of the first differing value, or -1.
long first_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return -2;
  for (std::size_t j = 0; j < a.size(); ++j)
    if (!same_bits(a[j], b[j])) return static_cast<long>(j);
  return -1;
}

void push_bar(BarSeries& s, std::int64_t t, double o, double h, double l, double c, double v) {
  s.ts.push_back(t);
  s.open.push_back(o);
  s.high.push_back(h);
  s.low.push_back(l);
  s.close.push_back(c);
  s.volume.push_back(v);
}

// A random walk of n minutes from minute t0 with some missing minutes (gap_prob).
BarSeries random_series(unsigned seed, std::int64_t t0, std::size_t n, double gap_prob,
                        double price = 100.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  BarSeries s;
  double c = price;
  for (std::size_t k = 0; k < n; ++k) {
    const double o = c;
    c = o * std::exp(0.001 * z(rng));
    const double h = std::max(o, c) * (1.0 + 0.0005 * u(rng));
    const double l = std::min(o, c) * (1.0 - 0.0005 * u(rng));
    const double v = u(rng) < 0.01 ? std::nan("") : 1000.0 * u(rng);
    if (k > 0 && u(rng) < gap_prob) continue;  // the bar of this minute is missing
    push_bar(s, t0 + static_cast<std::int64_t>(k), o, h, l, c, v);
  }
  return s;
}

BarSeries slice_rows(const BarSeries& s, std::size_t r0, std::size_t r1) {
  BarSeries o;
  for (std::size_t r = r0; r < r1; ++r)
    push_bar(o, s.ts[r], s.open[r], s.high[r], s.low[r], s.close[r], s.volume[r]);
  return o;
}

BarSeries slice_minutes(const BarSeries& s, std::int64_t lo, std::int64_t hi) {
  BarSeries o;
  for (std::size_t r = 0; r < s.size(); ++r)
    if (s.ts[r] >= lo && s.ts[r] <= hi)
      push_bar(o, s.ts[r], s.open[r], s.high[r], s.low[r], s.close[r], s.volume[r]);
  return o;
}

// A market of 6 symbols: AAA (the one described), BTC and ETH (leaders), BBB, CCC, DDD.
struct Market {
  std::map<std::string, BarSeries> all;
  MarketContext ctx(const std::string& symbol = "AAA") const {
    MarketContext m;
    m.symbol = symbol;
    m.leaders = {"BTC", "ETH"};
    m.index_members = {"AAA", "BBB", "BTC", "CCC", "DDD", "ETH"};
    for (const auto& kv : all)
      if (kv.first != symbol) m.bars[kv.first] = kv.second;
    return m;
  }
};

Market make_market(std::int64_t t0, std::size_t n) {
  Market mk;
  const char* names[] = {"AAA", "BBB", "BTC", "CCC", "DDD", "ETH"};
  unsigned seed = 11;
  for (const char* nm : names) {
    mk.all[nm] = random_series(seed, t0, n, 0.02, 50.0 + seed);
    ++seed;
  }
  return mk;
}

const cml::IndicatorParams kP{};

// ---- names, groups, errors ----------------------------------------------------------------------

TEST(FeaturesV2Names, SetsGroupsAndErrors) {
  EXPECT_EQ(cml::feature_names_for(1), cml::feature_names());
  const auto& n2 = cml::feature_names_for(2);
  ASSERT_EQ(n2.size(), kNF);
  for (std::size_t c = 0; c < 29; ++c) EXPECT_EQ(n2[c], cml::feature_names()[c]);
  EXPECT_EQ(std::set<std::string>(n2.begin(), n2.end()).size(), n2.size()) << "duplicate names";
  EXPECT_EQ(n2[29], "tf5_ret_1");
  EXPECT_EQ(n2[49], "tf60_volatility");
  EXPECT_EQ(n2[50], "lead1_ret_1");
  EXPECT_EQ(n2[80], "rv60_season_ratio");

  const auto& g = cml::feature_groups_v2();
  ASSERT_EQ(g, (std::vector<std::string>{"multi_timeframe", "cross_market", "volatility", "seasonality"}));
  std::size_t next = 29;
  for (const auto& name : g) {
    const auto cols = cml::feature_group_columns(name);
    ASSERT_FALSE(cols.empty());
    for (std::size_t c : cols) EXPECT_EQ(c, next++) << name;
  }
  EXPECT_EQ(next, kNF);
  EXPECT_EQ(cml::feature_group_columns("volatility").size(), 7u);
  EXPECT_EQ(n2[cml::feature_group_columns("seasonality")[0]], "season_absret_now");

  for (int v : {0, 3, -1}) {
    try {
      cml::feature_names_for(v);
      ADD_FAILURE() << "version " << v << " accepted";
    } catch (const cml::InvalidParameter& e) {
      EXPECT_EQ(std::string(e.what()), "unknown feature set " + std::to_string(v));
      EXPECT_EQ(e.detail(), "rule: feature sets are 1 or 2");
    }
  }
  try {
    cml::feature_group_columns("volume");
    ADD_FAILURE() << "unknown group accepted";
  } catch (const cml::InvalidParameter& e) {
    EXPECT_NE(std::string(e.what()).find("\"volume\""), std::string::npos) << e.what();
    EXPECT_NE(e.detail().find("multi_timeframe, cross_market, volatility, seasonality"),
              std::string::npos)
        << e.detail();
  }
}

TEST(FeaturesV2Errors, BadContext) {
  const Market mk = make_market(0, 300);
  const BarSeries& s = mk.all.at("AAA");
  auto expect_error = [&](MarketContext m, const std::string& needle) {
    try {
      cml::build_features_v2(s, 250, 260, kP, m);
      ADD_FAILURE() << "accepted; expected " << needle;
    } catch (const cml::InvalidParameter& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  MarketContext m = mk.ctx();
  m.leaders = {};
  expect_error(m, "0 cross-market leaders");
  m.leaders = {"BTC", "ETH", "BBB"};
  expect_error(m, "3 cross-market leaders");
  m.leaders = {"BTC", "BTC"};
  expect_error(m, "BTC twice");
  m = mk.ctx();
  m.index_members = {};
  expect_error(m, "no members");
  m.index_members = {"BBB", "CCC", "BBB"};
  expect_error(m, "BBB is listed twice");
  m = mk.ctx();
  m.bars.erase("CCC");
  expect_error(m, "no bars given for index member CCC");
  m = mk.ctx();
  m.bars.erase("ETH");
  expect_error(m, "no bars given for cross-market symbol ETH");
  m = mk.ctx();
  std::swap(m.bars["DDD"].ts[3], m.bars["DDD"].ts[4]);
  expect_error(m, "bars of DDD");
  m = mk.ctx();
  m.season_bars = slice_rows(s, 0, 10);
  m.season_bars.close[2] = -1;
  expect_error(m, "season bars of AAA");
  m = mk.ctx();
  m.bars["DDD"] = BarSeries{};  // an empty series is fine: no bars, its values are missing
  EXPECT_NO_THROW(cml::build_features_v2(s, 250, 260, kP, m));
  m = mk.ctx();
  m.leaders = {"BTC"};
  m.index_members = {"AAA"};
  m.bars.clear();
  m.bars["BTC"] = mk.all.at("BTC");
  EXPECT_NO_THROW(cml::build_features_v2(s, 250, 260, kP, m));
}


// ---- set 1 inside set 2 -------------------------------------------------------------------------

TEST(FeaturesV2, Set1ColumnsEqualBuildFeatures) {
  const Market mk = make_market(1000000, 2000);
  const BarSeries& s = mk.all.at("AAA");
  const auto v2 = cml::build_features_v2(s, 100, 1900, kP, mk.ctx());
  const auto v1 = cml::build_features(s, 100, 1900, kP);
  ASSERT_EQ(v2.size(), 1800 * kNF);
  for (std::size_t r = 0; r < 1800; ++r)
    for (std::size_t c = 0; c < 29; ++c)
      ASSERT_TRUE(same_bits(v2[r * kNF + c], v1[r * 29 + c])) << "row " << r << " col " << c;
  // The new groups have values once the windows are full.
  std::size_t have = 0;
  for (std::size_t c = 29; c < kNF; ++c)
    if (!std::isnan(v2[1799 * kNF + c])) ++have;
  EXPECT_GE(have, 45u) << "most set-2 features of the last row should have values";
  EXPECT_TRUE(cml::build_features_v2(s, 5, 5, kP, mk.ctx()).empty());
}

// ---- no look-ahead ------------------------------------------------------------------------------

TEST(FeaturesV2LookAhead, RowUnchangedWhenTheFutureAndMinuteTOfOthersChange) {
  const Market mk = make_market(2000000, 1500);
  const BarSeries& s = mk.all.at("AAA");
  const MarketContext m0 = mk.ctx();
  const auto full = cml::build_features_v2(s, 0, s.size(), kP, m0);
  for (std::size_t i : {std::size_t{300}, std::size_t{777}, std::size_t{1200}}) {
    const std::int64_t t = s.ts[i];
    std::vector<double> want(full.begin() + static_cast<std::ptrdiff_t>(i * kNF),
                             full.begin() + static_cast<std::ptrdiff_t>((i + 1) * kNF));
    // The future of s: other values after row i, and a removed bar.
    BarSeries s2 = s;
    for (std::size_t r = i + 1; r < s2.size(); ++r) {
      s2.close[r] *= 1.05;
      s2.high[r] = std::max(s2.high[r] * 1.05, s2.close[r]);
      s2.low[r] = std::min(s2.low[r], s2.close[r]);
    }
    s2.ts.erase(s2.ts.begin() + static_cast<std::ptrdiff_t>(i + 2));
    s2.open.erase(s2.open.begin() + static_cast<std::ptrdiff_t>(i + 2));
    s2.high.erase(s2.high.begin() + static_cast<std::ptrdiff_t>(i + 2));
    s2.low.erase(s2.low.begin() + static_cast<std::ptrdiff_t>(i + 2));
    s2.close.erase(s2.close.begin() + static_cast<std::ptrdiff_t>(i + 2));
    s2.volume.erase(s2.volume.begin() + static_cast<std::ptrdiff_t>(i + 2));
    // Other symbols: every bar with ts >= t changed, and minute t itself removed or added.
    MarketContext m2 = m0;
    for (auto& kv : m2.bars) {
      BarSeries& x = kv.second;
      BarSeries y;
      for (std::size_t r = 0; r < x.size(); ++r) {
        if (x.ts[r] == t) continue;  // drop minute t where it exists
        if (x.ts[r] > t) {
          push_bar(y, x.ts[r], x.open[r] * 0.9, x.high[r] * 0.9, x.low[r] * 0.9, x.close[r] * 0.9, 1);
        } else {
          push_bar(y, x.ts[r], x.open[r], x.high[r], x.low[r], x.close[r], x.volume[r]);
        }
      }
      x = y;
    }
    EXPECT_EQ(first_diff(cml::build_features_v2(s2, i, i + 1, kP, m2), want), -1) << "row " << i;
    // A late bar of another symbol at minute t (added after the row was built) changes nothing.
    MarketContext m3 = m2;
    for (auto& kv : m3.bars) {
      BarSeries& x = kv.second;
      auto it = std::lower_bound(x.ts.begin(), x.ts.end(), t);
      const std::size_t r = static_cast<std::size_t>(it - x.ts.begin());
      x.ts.insert(x.ts.begin() + static_cast<std::ptrdiff_t>(r), t);
      x.open.insert(x.open.begin() + static_cast<std::ptrdiff_t>(r), 77.0);
      x.high.insert(x.high.begin() + static_cast<std::ptrdiff_t>(r), 90.0);
      x.low.insert(x.low.begin() + static_cast<std::ptrdiff_t>(r), 70.0);
      x.close.insert(x.close.begin() + static_cast<std::ptrdiff_t>(r), 88.0);
      x.volume.insert(x.volume.begin() + static_cast<std::ptrdiff_t>(r), 5.0);
    }
    EXPECT_EQ(first_diff(cml::build_features_v2(s2, i, i + 1, kP, m3), want), -1) << "row " << i;
    // ...while a change at minute t - 1 of a leader does change the row (the test can fail).
    MarketContext m4 = m0;
    BarSeries& btc = m4.bars["BTC"];
    auto it = std::upper_bound(btc.ts.begin(), btc.ts.end(), t - 1) - 1;  // last bar <= t - 1
    ASSERT_GE(*it, t - 5) << "fixture: BTC has a bar in the last 5 minutes before t";
    btc.close[static_cast<std::size_t>(it - btc.ts.begin())] *= 1.001;
    btc.high[static_cast<std::size_t>(it - btc.ts.begin())] *= 1.001;
    EXPECT_NE(first_diff(cml::build_features_v2(s, i, i + 1, kP, m4), want), -1) << "row " << i;
  }
}

// Rows built one by one equal the rows of one build.
TEST(FeaturesV2LookAhead, RangeEqualsRowByRow) {
  const Market mk = make_market(3000000, 700);
  const BarSeries& s = mk.all.at("AAA");
  const auto full = cml::build_features_v2(s, 0, s.size(), kP, mk.ctx());
  for (std::size_t i = 0; i < s.size(); i += 37) {
    const auto one = cml::build_features_v2(s, i, i + 1, kP, mk.ctx());
    const std::vector<double> want(full.begin() + static_cast<std::ptrdiff_t>(i * kNF),
                                   full.begin() + static_cast<std::ptrdiff_t>((i + 1) * kNF));
    EXPECT_EQ(first_diff(one, want), -1) << "row " << i;
  }
}

// ---- arrival rule -------------------------------------------------------------------------------

TEST(FeaturesV2Arrival, PendingInputs) {
  MarketContext m;
  m.symbol = "AAA";
  m.leaders = {"BTC", "ETH"};
  m.index_members = {"AAA", "BBB", "BTC"};
  const std::int64_t t = 5000;
  push_bar(m.bars["BTC"], t - 1, 1, 1, 1, 1, 1);
  push_bar(m.bars["ETH"], t - 2, 1, 1, 1, 1, 1);
  EXPECT_EQ(cml::pending_inputs(m, t), (std::vector<std::string>{"BBB", "ETH"}));
  m.bars["BBB"];  // an empty series: still pending
  EXPECT_EQ(cml::pending_inputs(m, t), (std::vector<std::string>{"BBB", "ETH"}));
  push_bar(m.bars["ETH"], t, 1, 1, 1, 1, 1);  // a bar at t: minute t - 1 is a gap, final
  EXPECT_EQ(cml::pending_inputs(m, t), (std::vector<std::string>{"BBB"}));
  push_bar(m.bars["BBB"], t - 1, 1, 1, 1, 1, 1);
  EXPECT_TRUE(cml::pending_inputs(m, t).empty());
  EXPECT_EQ(cml::pending_inputs(m, t + 1), (std::vector<std::string>{"BBB", "BTC"}));
  // The symbol itself is never pending, even when it is a leader.
  m.symbol = "BTC";
  EXPECT_EQ(cml::pending_inputs(m, t + 1), (std::vector<std::string>{"AAA", "BBB"}));
}

// ---- tails --------------------------------------------------------------------------------------

struct Tail {
  BarSeries s;
  cml::IndicatorState before;
  MarketContext m;
  std::size_t from, to;
};

Tail make_tail(const Market& mk, std::size_t from, std::size_t to, std::int64_t other_minutes,
               std::size_t own_rows, bool season) {
  const BarSeries& s = mk.all.at("AAA");
  const std::size_t r0 = from >= own_rows ? from - own_rows : 0;
  cml::IndicatorState st(kP);
  for (std::size_t r = 0; r < r0; ++r) st.update(s.high[r], s.low[r], s.close[r]);
  Tail tl{slice_rows(s, r0, to), st, {}, from - r0, to - r0};
  tl.m = mk.ctx();
  for (auto& kv : tl.m.bars)
    kv.second = slice_minutes(kv.second, s.ts[from] - 1 - other_minutes, s.ts[to - 1] - 1);
  if (season) {
    std::set<std::int64_t> minutes;
    for (std::size_t i = from; i < to; ++i)
      for (const auto& rg : cml::v2_season_ranges(s.ts[i]))
        for (std::int64_t u = rg.first; u <= rg.second; ++u) minutes.insert(u);
    for (std::size_t r = 0; r < s.size(); ++r)
      if (minutes.count(s.ts[r]))
        push_bar(tl.m.season_bars, s.ts[r], s.open[r], s.high[r], s.low[r], s.close[r], s.volume[r]);
  }
  return tl;
}

TEST(FeaturesV2Tail, TailBuildEqualsFullBuild) {
  // 5 weeks of minutes so that the seasonality group has values.
  const std::size_t n = 5 * 10080 + 600;
  const Market mk = make_market(27000000 + 17, n);  // not aligned to an hour or a week
  const BarSeries& s = mk.all.at("AAA");
  const MarketContext m = mk.ctx();
  const std::size_t to = s.size();
  const std::size_t from = to - 400;
  const auto full = cml::build_features_v2(s, from, to, kP, m);
  // The full build has values in every group at the last row.
  for (const auto& g : cml::feature_groups_v2()) {
    std::size_t have = 0;
    for (std::size_t c : cml::feature_group_columns(g))
      if (!std::isnan(full[(to - from - 1) * kNF + c])) ++have;
    EXPECT_GT(have, 0u) << g;
  }
  // Exactly the documented tail.
  Tail tl = make_tail(mk, from, to, cml::kV2OtherMinutes, cml::kV2OwnRows, true);
  const auto tail = cml::build_features_v2(tl.s, tl.from, tl.to, tl.before, tl.m);
  EXPECT_EQ(first_diff(tail, full), -1);
  // Each row alone from its own tail (a live forecast).
  for (std::size_t i = from; i < to; i += 97) {
    Tail one = make_tail(mk, i, i + 1, cml::kV2OtherMinutes, cml::kV2OwnRows, true);
    const std::vector<double> want(full.begin() + static_cast<std::ptrdiff_t>((i - from) * kNF),
                                   full.begin() + static_cast<std::ptrdiff_t>((i - from + 1) * kNF));
    EXPECT_EQ(first_diff(cml::build_features_v2(one.s, one.from, one.to, one.before, one.m), want),
              -1)
        << "row " << i;
  }
  // The season bars as one span (kV2SeasonMinutes) instead of the ranges.
  Tail span = make_tail(mk, from, to, cml::kV2OtherMinutes, cml::kV2OwnRows, false);
  span.m.season_bars = slice_minutes(s, s.ts[from] - cml::kV2SeasonMinutes, s.ts[to - 1]);
  EXPECT_EQ(first_diff(cml::build_features_v2(span.s, span.from, span.to, span.before, span.m), full),
            -1);
  // Less than documented differs somewhere (so this test can fail): one minute less of the other
  // symbols (the 240-minute index correlation of row `from`), a much shorter own tail.
  Tail short_other = make_tail(mk, from, to, cml::kV2OtherMinutes - 1, cml::kV2OwnRows, true);
  EXPECT_NE(first_diff(cml::build_features_v2(short_other.s, short_other.from, short_other.to,
                                              short_other.before, short_other.m),
                       full),
            -1);
  // (kV2OwnRows has a margin: 27 buckets of 60 minutes are read, the oldest only after a gap.)
  Tail short_own = make_tail(mk, from, to, cml::kV2OtherMinutes, 1300, true);
  EXPECT_NE(first_diff(cml::build_features_v2(short_own.s, short_own.from, short_own.to,
                                              short_own.before, short_own.m),
                       full),
            -1);
  Tail no_season = make_tail(mk, from, to, cml::kV2OtherMinutes, cml::kV2OwnRows, false);
  const auto ns = cml::build_features_v2(no_season.s, no_season.from, no_season.to, no_season.before,
                                         no_season.m);
  const long d = first_diff(ns, full);
  ASSERT_GE(d, 0);
  EXPECT_GE(static_cast<std::size_t>(d) % kNF, cml::feature_group_columns("seasonality")[0]);
}

TEST(FeaturesV2Tail, SeasonRanges) {
  const std::int64_t t = 10080 * 300 + 60 * 7 + 25;  // minute 25 of some hour
  const auto r = cml::v2_season_ranges(t);
  ASSERT_EQ(r.size(), static_cast<std::size_t>(cml::kSeasonalWeeks));
  const std::int64_t h = t - 25;
  for (int w = 1; w <= cml::kSeasonalWeeks; ++w) {
    const auto& g = r[static_cast<std::size_t>(cml::kSeasonalWeeks - w)];
    EXPECT_EQ(g.first, h - 10080 * w - 1);
    EXPECT_EQ(g.second, h - 10080 * w + 119);
    EXPECT_LT(g.second, t);
    EXPECT_GE(g.first, t - cml::kV2SeasonMinutes);
  }
  // Negative minutes: floored hours.
  EXPECT_EQ(cml::v2_season_ranges(-1).back().first, -60 - 10080 - 1);
}

// ---- hand-computed values: multi_timeframe ---------------------------------------------------------

// Minutes 0..n-1 (aligned to the epoch), close(m) given, open = previous close, high/low around.
BarSeries series_from_closes(const std::vector<double>& c, std::int64_t t0 = 0) {
  BarSeries s;
  for (std::size_t m = 0; m < c.size(); ++m) {
    const double o = m == 0 ? c[0] : c[m - 1];
    push_bar(s, t0 + static_cast<std::int64_t>(m), o, std::max(o, c[m]) + 0.5, std::min(o, c[m]) - 0.5,
             c[m], 10.0);
  }
  return s;
}

MarketContext self_context(const std::string& sym = "AAA") {
  MarketContext m;
  m.symbol = sym;
  m.leaders = {sym};
  m.index_members = {sym};
  return m;
}

TEST(FeaturesV2Values, HtfBucketClosingRule) {
  std::vector<double> c;
  for (int m = 0; m < 40; ++m) c.push_back(100.0 + m);
  const BarSeries s = series_from_closes(c);
  const auto f = cml::build_features_v2(s, 0, s.size(), kP, self_context());
  const std::size_t r1 = col("tf5_ret_1"), r4 = col("tf5_ret_4");
  // Row 8: bucket [5, 9] is still open -> last closed is [0, 4], no previous bucket.
  EXPECT_TRUE(std::isnan(f[8 * kNF + r1]));
  // Row 9: bucket [5, 9] ends at t = 9: closed, includes bar 9: 100 * (109 / 104 - 1).
  EXPECT_DOUBLE_EQ(f[9 * kNF + r1], 100.0 * (109.0 / 104.0 - 1.0));
  // Rows 10..13: the open bucket [10, 14] is excluded: the same value.
  for (int i = 10; i <= 13; ++i) EXPECT_TRUE(same_bits(f[i * kNF + r1], f[9 * kNF + r1])) << i;
  EXPECT_DOUBLE_EQ(f[14 * kNF + r1], 100.0 * (114.0 / 109.0 - 1.0));
  // ret_4 at row 24: buckets 4 ([20, 24]) and 0: 100 * (124 / 104 - 1).
  EXPECT_TRUE(std::isnan(f[23 * kNF + r4]));
  EXPECT_DOUBLE_EQ(f[24 * kNF + r4], 100.0 * (124.0 / 104.0 - 1.0));
  // A change inside the open bucket changes nothing of tf5 at row 12; at row 14 it does.
  BarSeries s2 = s;
  s2.close[11] = 150.0;
  s2.high[11] = 151.0;
  s2.open[12] = 150.0;
  s2.high[12] = 151.0;
  const auto g = cml::build_features_v2(s2, 0, s2.size(), kP, self_context());
  for (std::size_t c : cml::feature_group_columns("multi_timeframe"))
    for (int i = 10; i <= 13; ++i)
      EXPECT_TRUE(same_bits(g[i * kNF + c], f[i * kNF + c])) << "row " << i << " col " << c;
  EXPECT_TRUE(same_bits(g[14 * kNF + r1], f[14 * kNF + r1]));  // close of bucket = minute 14
  s2.close[14] = 120.0;
  s2.high[14] = 121.0;
  const auto h = cml::build_features_v2(s2, 0, s2.size(), kP, self_context());
  EXPECT_DOUBLE_EQ(h[14 * kNF + r1], 100.0 * (120.0 / 109.0 - 1.0));
  // An empty bucket: no bars in [15, 19] -> ret_1 at row 24 is NaN (time-based).
  BarSeries gap;
  for (std::size_t r = 0; r < s.size(); ++r)
    if (s.ts[r] < 15 || s.ts[r] > 19)
      push_bar(gap, s.ts[r], s.open[r], s.high[r], s.low[r], s.close[r], s.volume[r]);
  const auto q = cml::build_features_v2(gap, 0, gap.size(), kP, self_context());
  const std::size_t row24 = 24 - 5;
  ASSERT_EQ(gap.ts[row24], 24);
  EXPECT_TRUE(std::isnan(q[row24 * kNF + r1]));
  EXPECT_DOUBLE_EQ(q[(row24 + 5) * kNF + r1], 100.0 * (129.0 / 124.0 - 1.0));
}

TEST(FeaturesV2Values, HtfIndicatorsByHand) {
  // 15-minute HTF closes alternate +2 / -1: Cutler RSI over 14 changes = 100 * 14 / 21.
  std::vector<double> htf_close;
  double x = 1000;
  for (int b = 0; b < 30; ++b) {
    x += (b % 2 == 0) ? 2.0 : -1.0;
    htf_close.push_back(x);
  }
  std::vector<double> c;
  for (int b = 0; b < 30; ++b)
    for (int j = 0; j < 15; ++j) c.push_back(j == 14 ? htf_close[b] : htf_close[b] - 3.0 + 0.1 * j);
  const BarSeries s = series_from_closes(c, 15 * 1000);
  const auto f = cml::build_features_v2(s, 0, s.size(), kP, self_context());
  const std::size_t last = s.size() - 1;  // minute 15*1000 + 449: closes bucket 1029 (b = 29)
  const double* row = f.data() + last * kNF;
  // Last 15 HTF closes: b = 15..29; changes of b = 16..29: 7 of +2 and 7 of -1.
  EXPECT_NEAR(row[col("tf15_rsi")], 100.0 * 14.0 / 21.0, 1e-9);
  // Reference computations from the HTF bars (high/low of a bucket: max/min of its bars).
  std::vector<double> hi(30), lo(30);
  for (int b = 0; b < 30; ++b) {
    hi[b] = -1e300;
    lo[b] = 1e300;
    for (int j = 0; j < 15; ++j) {
      hi[b] = std::max(hi[b], s.high[b * 15 + j]);
      lo[b] = std::min(lo[b], s.low[b * 15 + j]);
    }
  }
  double m = 0;
  for (int b = 10; b < 30; ++b) m += htf_close[b];
  m /= 20;
  double v = 0;
  for (int b = 10; b < 30; ++b) v += (htf_close[b] - m) * (htf_close[b] - m);
  const double sd = std::sqrt(v / 20);
  EXPECT_NEAR(row[col("tf15_bb_position")], (htf_close[29] - (m - 2 * sd)) / (4 * sd), 1e-9);
  double hh = -1e300, ll = 1e300;
  for (int b = 16; b < 30; ++b) {
    hh = std::max(hh, hi[b]);
    ll = std::min(ll, lo[b]);
  }
  EXPECT_NEAR(row[col("tf15_stoch_k")], 100.0 * (htf_close[29] - ll) / (hh - ll), 1e-9);
  double s12 = 0, s26 = 0;
  for (int b = 4; b < 30; ++b) s26 += htf_close[b];
  for (int b = 18; b < 30; ++b) s12 += htf_close[b];
  EXPECT_NEAR(row[col("tf15_trend")], 100.0 * ((s12 / 12) / (s26 / 26) - 1.0), 1e-9);
  std::vector<double> lr;
  for (int b = 10; b < 30; ++b) lr.push_back(std::log(htf_close[b] / htf_close[b - 1]));
  double lm = 0;
  for (double r : lr) lm += r;
  lm /= 20;
  double lv = 0;
  for (double r : lr) lv += (r - lm) * (r - lm);
  EXPECT_NEAR(row[col("tf15_volatility")], 100.0 * std::sqrt(lv / 20), 1e-9);
  EXPECT_NEAR(row[col("tf15_ret_4")], 100.0 * (htf_close[29] / htf_close[25] - 1.0), 1e-9);
  // Too few HTF bars: the 60-minute timeframe has 7 closed buckets: rsi/bb/trend/vol NaN.
  EXPECT_TRUE(std::isnan(row[col("tf60_rsi")]));
  EXPECT_TRUE(std::isnan(row[col("tf60_trend")]));
  EXPECT_FALSE(std::isnan(row[col("tf60_ret_4")]));
  // A flat market: RSI and stochastic have no value (G + L == 0, HH == LL).
  const BarSeries flat = series_from_closes(std::vector<double>(200, 50.0));
  BarSeries flat2 = flat;
  for (std::size_t r = 0; r < flat2.size(); ++r) flat2.high[r] = flat2.low[r] = 50.0;
  const auto g = cml::build_features_v2(flat2, 199, 200, kP, self_context());
  EXPECT_TRUE(std::isnan(g[col("tf5_rsi")]));
  EXPECT_TRUE(std::isnan(g[col("tf5_stoch_k")]));
  EXPECT_TRUE(std::isnan(g[col("tf5_bb_position")]));
  EXPECT_EQ(g[col("tf5_volatility")], 0.0);
  EXPECT_EQ(g[col("tf5_trend")], 0.0);
}

// ---- hand-computed values: cross_market -------------------------------------------------------

TEST(FeaturesV2Values, CrossMarketByHand) {
  // Own closes: exp(0.001 * m * (1 + (m % 3))) walk; leader closes = own^2 (log returns doubled);
  // BBB = a second index member with its own pattern.
  const std::size_t n = 400;
  std::vector<double> own_c(n), lead_c(n), b_c(n);
  double lo = std::log(100.0), lb = std::log(30.0);
  for (std::size_t m = 0; m < n; ++m) {
    lo += 0.001 * ((m % 3) == 0 ? 1.0 : -0.7) * (1.0 + 0.1 * static_cast<double>(m % 7));
    lb += 0.0005 * ((m % 5) < 2 ? 1.0 : -0.5);
    own_c[m] = std::exp(lo);
    lead_c[m] = own_c[m] * own_c[m] / 100.0;
    b_c[m] = std::exp(lb);
  }
  const BarSeries own = series_from_closes(own_c, 7000);
  BarSeries lead = series_from_closes(lead_c, 7000);
  BarSeries bbb = series_from_closes(b_c, 7000);
  MarketContext m;
  m.symbol = "AAA";
  m.leaders = {"BTC"};
  m.index_members = {"AAA", "BBB"};
  m.bars["BTC"] = lead;
  m.bars["BBB"] = bbb;
  const std::size_t i = 350;  // minute t = 7350, a = 7349 (row 349)
  const auto f = cml::build_features_v2(own, i, i + 1, kP, m);
  const std::size_t a = i - 1;
  EXPECT_NEAR(f[col("lead1_ret_1")], 100.0 * (lead_c[a] / lead_c[a - 1] - 1.0), 1e-10);
  EXPECT_NEAR(f[col("lead1_ret_15")], 100.0 * (lead_c[a] / lead_c[a - 15] - 1.0), 1e-10);
  for (const char* nm : {"lead2_ret_1", "lead2_ret_5", "lead2_ret_15"})
    EXPECT_TRUE(std::isnan(f[col(nm)])) << nm;
  // Index of two members: the geometric mean of their gross returns.
  auto idx = [&](std::size_t k) {
    return 100.0 * (std::sqrt(own_c[a] / own_c[a - k] * b_c[a] / b_c[a - k]) - 1.0);
  };
  EXPECT_NEAR(f[col("index_ret_1")], idx(1), 1e-10);
  EXPECT_NEAR(f[col("index_ret_5")], idx(5), 1e-10);
  EXPECT_NEAR(f[col("index_ret_15")], idx(15), 1e-10);
  EXPECT_NEAR(f[col("rel_ret_60")], 100.0 * (own_c[a] / own_c[a - 60] - 1.0) - idx(60), 1e-9);
  // Leader log returns are exactly twice the own ones: corr 1, beta 1/2.
  EXPECT_NEAR(f[col("corr_lead1_60")], 1.0, 1e-9);
  EXPECT_NEAR(f[col("beta_lead1_60")], 0.5, 1e-9);
  EXPECT_NEAR(f[col("corr_lead1_240")], 1.0, 1e-9);
  EXPECT_NEAR(f[col("beta_lead1_240")], 0.5, 1e-9);
  // Index: reference computation over the minutes a-59..a.
  {
    std::vector<double> y, x;
    for (std::size_t u = a - 59; u <= a; ++u) {
      const double ry = std::log(own_c[u] / own_c[u - 1]);
      y.push_back(ry);
      x.push_back((ry + std::log(b_c[u] / b_c[u - 1])) / 2);
    }
    double my = 0, mx = 0;
    for (std::size_t j = 0; j < y.size(); ++j) {
      my += y[j];
      mx += x[j];
    }
    my /= 60;
    mx /= 60;
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t j = 0; j < y.size(); ++j) {
      sxy += (x[j] - mx) * (y[j] - my);
      sxx += (x[j] - mx) * (x[j] - mx);
      syy += (y[j] - my) * (y[j] - my);
    }
    EXPECT_NEAR(f[col("beta_index_60")], sxy / sxx, 1e-9);
    EXPECT_NEAR(f[col("corr_index_60")], sxy / std::sqrt(sxx * syy), 1e-9);
  }

  // Missing leader bars: at a-5 only -> ret_5 NaN, ret_1 and ret_15 have values.
  auto drop = [](const BarSeries& x, std::int64_t lo_min, std::int64_t hi_min) {
    BarSeries y;
    for (std::size_t r = 0; r < x.size(); ++r)
      if (x.ts[r] < lo_min || x.ts[r] > hi_min)
        push_bar(y, x.ts[r], x.open[r], x.high[r], x.low[r], x.close[r], x.volume[r]);
    return y;
  };
  const std::int64_t ta = 7000 + static_cast<std::int64_t>(a);
  MarketContext m2 = m;
  m2.bars["BTC"] = drop(lead, ta - 5, ta - 5);
  auto g = cml::build_features_v2(own, i, i + 1, kP, m2);
  EXPECT_TRUE(std::isnan(g[col("lead1_ret_5")]));
  EXPECT_FALSE(std::isnan(g[col("lead1_ret_1")]));
  EXPECT_FALSE(std::isnan(g[col("lead1_ret_15")]));
  // Missing at a: all leader returns NaN; correlation still has its pairs (59 of 60).
  m2.bars["BTC"] = drop(lead, ta, ta);
  g = cml::build_features_v2(own, i, i + 1, kP, m2);
  EXPECT_TRUE(std::isnan(g[col("lead1_ret_1")]));
  EXPECT_TRUE(std::isnan(g[col("lead1_ret_15")]));
  EXPECT_NEAR(g[col("beta_lead1_60")], 0.5, 1e-9);
  // Fewer than W/2 pairs: 31 of the 60 minute-returns missing -> NaN; 30 missing -> a value.
  m2.bars["BTC"] = drop(lead, ta - 30, ta);  // minutes a-30..a: returns a-30..a and a-29.. gone
  g = cml::build_features_v2(own, i, i + 1, kP, m2);
  EXPECT_TRUE(std::isnan(g[col("beta_lead1_60")]));
  EXPECT_TRUE(std::isnan(g[col("corr_lead1_60")]));
  m2.bars["BTC"] = drop(lead, ta - 28, ta);  // returns of minutes a-28..a: 29 missing, 31 pairs
  g = cml::build_features_v2(own, i, i + 1, kP, m2);
  EXPECT_NEAR(g[col("beta_lead1_60")], 0.5, 1e-9);
  // A missing index member bar at a: r_I(a) is the own return alone.
  MarketContext m3 = m;
  m3.bars["BBB"] = drop(bbb, ta, ta);
  g = cml::build_features_v2(own, i, i + 1, kP, m3);
  EXPECT_NEAR(g[col("index_ret_1")], 100.0 * (own_c[a] / own_c[a - 1] - 1.0), 1e-10);
  // No member has minute a (the own bar is missing too): index returns NaN.
  const BarSeries own_gap = drop(own, ta, ta);
  m3.bars["BBB"] = drop(bbb, ta, ta);
  const std::size_t i_gap = i - 1;  // one row fewer before t
  ASSERT_EQ(own_gap.ts[i_gap], ta + 1);
  g = cml::build_features_v2(own_gap, i_gap, i_gap + 1, kP, m3);
  EXPECT_TRUE(std::isnan(g[col("index_ret_1")]));
  EXPECT_TRUE(std::isnan(g[col("index_ret_15")]));
  EXPECT_TRUE(std::isnan(g[col("rel_ret_5")]));
  // The symbol is its own leader: corr 1 and beta 1 from its own bars.
  MarketContext self = m;
  self.leaders = {"AAA", "BTC"};
  g = cml::build_features_v2(own, i, i + 1, kP, self);
  EXPECT_NEAR(g[col("corr_lead1_240")], 1.0, 1e-12);
  EXPECT_NEAR(g[col("beta_lead1_240")], 1.0, 1e-12);
  EXPECT_NEAR(g[col("lead1_ret_5")], 100.0 * (own_c[a] / own_c[a - 5] - 1.0), 1e-10);
  EXPECT_NEAR(g[col("lead2_ret_5")], 100.0 * (lead_c[a] / lead_c[a - 5] - 1.0), 1e-10);
}

// ---- hand-computed values: volatility ---------------------------------------------------------

TEST(FeaturesV2Values, VolatilityByHand) {
  // Log return 0.001 every minute, H/L = e^0.004, C = O * e^0.001.
  BarSeries s;
  for (int m = 0; m < 300; ++m) {
    const double c = 100.0 * std::exp(0.001 * m);
    const double o = 100.0 * std::exp(0.001 * (m - 1));
    push_bar(s, 50000 + m, o, c * std::exp(0.002), o * std::exp(-0.001), c, 1);
  }
  const std::size_t i = 299;
  auto f = cml::build_features_v2(s, i, i + 1, kP, self_context());
  EXPECT_NEAR(f[col("rv_15")], 100.0 * 0.001 * std::sqrt(15.0), 1e-9);
  EXPECT_NEAR(f[col("rv_240")], 100.0 * 0.001 * std::sqrt(240.0), 1e-9);
  const double hl = 0.004, co = 0.001;
  EXPECT_NEAR(f[col("parkinson_15")], 100.0 * std::sqrt(hl * hl / (4 * std::log(2.0))), 1e-9);
  EXPECT_NEAR(f[col("parkinson_60")], 100.0 * std::sqrt(hl * hl / (4 * std::log(2.0))), 1e-9);
  EXPECT_NEAR(f[col("garman_klass_60")],
              100.0 * std::sqrt(0.5 * hl * hl - (2 * std::log(2.0) - 1) * co * co), 1e-9);
  // Too few rows for a window: NaN (row-based 60 at row 58, time-based 240 at row 100).
  f = cml::build_features_v2(s, 58, 59, kP, self_context());
  EXPECT_TRUE(std::isnan(f[col("parkinson_60")]));
  EXPECT_FALSE(std::isnan(f[col("parkinson_15")]));
  f = cml::build_features_v2(s, 100, 101, kP, self_context());
  EXPECT_TRUE(std::isnan(f[col("rv_240")]));
  EXPECT_FALSE(std::isnan(f[col("rv_60")]));
  // Gaps: rv scales by N / n; with fewer than N / 2 pairs NaN. Remove minutes 290..295 of the
  // last 15: pairs of minutes 290..296 missing (7), 8 left -> value; remove one more -> NaN.
  auto without = [&](std::int64_t lo_m, std::int64_t hi_m) {
    BarSeries y;
    for (std::size_t r = 0; r < s.size(); ++r)
      if (s.ts[r] < lo_m || s.ts[r] > hi_m)
        push_bar(y, s.ts[r], s.open[r], s.high[r], s.low[r], s.close[r], s.volume[r]);
    return y;
  };
  BarSeries g1 = without(50000 + 290, 50000 + 295);
  f = cml::build_features_v2(g1, g1.size() - 1, g1.size(), kP, self_context());
  EXPECT_NEAR(f[col("rv_15")], 100.0 * 0.001 * std::sqrt(15.0), 1e-9);
  BarSeries g2 = without(50000 + 289, 50000 + 295);
  f = cml::build_features_v2(g2, g2.size() - 1, g2.size(), kP, self_context());
  EXPECT_TRUE(std::isnan(f[col("rv_15")]));
  // Garman-Klass when the bar moves from its low to its high: ln(C/O) = ln(H/L) = x.
  BarSeries k;
  for (int m = 0; m < 20; ++m) push_bar(k, m, 100.0, 110.0, 100.0, 110.0, 1);
  f = cml::build_features_v2(k, 19, 20, kP, self_context());
  const double x = std::log(1.1);
  EXPECT_NEAR(f[col("garman_klass_15")], 100.0 * std::sqrt(0.5 * x * x - (2 * std::log(2.0) - 1) * x * x),
              1e-9);
}

// ---- seasonality ------------------------------------------------------------------------------

TEST(FeaturesV2Values, SeasonalityFromPreviousWeeks) {
  // |log return| of a bar = 0.002 * (1 + hour of day / 10), the same every day, so the profile
  // of hour h of the day is 0.2 * (1 + h / 10) (percent); volume 9 + hour of day.
  const std::int64_t t0 = 10080 * 2000 + 13;  // minute 13 of an hour
  auto mag = [](std::int64_t t) { return 0.002 * (1.0 + static_cast<double>((t / 60) % 24) / 10.0); };
  BarSeries s;
  double c = 100.0;
  for (int m = 0; m < 5 * 10080; ++m) {
    const std::int64_t t = t0 + m;
    const double o = c;
    c = o * std::exp(m % 2 == 0 ? mag(t) : -mag(t));
    push_bar(s, t, o, std::max(o, c), std::min(o, c), c, 9.0 + static_cast<double>((t / 60) % 24));
  }
  const std::size_t last = s.size() - 1;
  const std::int64_t tl = s.ts[last];
  auto f = cml::build_features_v2(s, last, last + 1, kP, self_context());
  EXPECT_NEAR(f[col("season_absret_now")], 100.0 * mag(tl), 1e-9);
  EXPECT_NEAR(f[col("season_absret_next")], 100.0 * mag(tl + 60), 1e-9);
  EXPECT_GT(std::fabs(mag(tl + 60) - mag(tl)), 1e-4) << "fixture: the two hours differ";
  EXPECT_NEAR(f[col("season_logvol_now")], std::log1p(9.0 + static_cast<double>((tl / 60) % 24)), 1e-12);
  EXPECT_NEAR(f[col("rv60_season_ratio")], f[col("rv_60")] / (100.0 * mag(tl) * std::sqrt(60.0)), 1e-9);
  // The same as seasonal_profile of the hour and of the next one.
  const std::int64_t t = s.ts[last];
  const std::int64_t h = (t / 60) * 60;
  EXPECT_TRUE(same_bits(f[col("season_absret_now")], cml::seasonal_profile(s, last, h).abs_return));
  EXPECT_TRUE(same_bits(f[col("season_absret_next")], cml::seasonal_profile(s, last, h + 60).abs_return));
  // First week: no earlier week -> NaN, and so is the ratio.
  f = cml::build_features_v2(s, 500, 501, kP, self_context());
  EXPECT_TRUE(std::isnan(f[col("season_absret_now")]));
  EXPECT_TRUE(std::isnan(f[col("rv60_season_ratio")]));
  // A change in the last week before t at the same hour changes the profile (reads the past)...
  BarSeries s2 = s;
  const std::size_t r_week = last - 10080;  // minute t - 10080: same hour, one week earlier
  s2.close[r_week] *= 1.01;
  s2.high[r_week] = std::max(s2.high[r_week], s2.close[r_week]);
  s2.open[r_week + 1] = s2.close[r_week];
  s2.high[r_week + 1] = std::max(s2.high[r_week + 1], s2.open[r_week + 1]);
  s2.low[r_week + 1] = std::min(s2.low[r_week + 1], s2.open[r_week + 1]);
  const auto g = cml::build_features_v2(s2, last, last + 1, kP, self_context());
  EXPECT_GT(g[col("season_absret_now")], 100.0 * mag(tl) + 1e-6);
}

}  // namespace
