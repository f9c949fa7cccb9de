// cryptoml feature set 2 (see features_v2.hpp for the formulas, the no-look-ahead contract and the
// bounded lookback). Pure C++17: no PostgreSQL header may be included here.
#include "features_v2.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace cml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::size_t kSet1 = 29;

// multi_timeframe
constexpr std::int64_t kTimeframes[] = {5, 15, 60};
constexpr std::size_t kNumTf = 3;
constexpr std::size_t kTfFeatures = 7;
constexpr std::int64_t kHtfBuckets = 27;
constexpr std::size_t kRsiBars = 15, kBbBars = 20, kStochBars = 14, kTrendLong = 26,
                      kTrendShort = 12, kTfVolBars = 21;
// cross_market
constexpr std::int64_t kLeadLags[] = {1, 5, 15};
constexpr std::int64_t kCorrWindows[] = {60, 240};
constexpr std::int64_t kRelLags[] = {5, 15, 60};
// volatility
constexpr std::int64_t kRvWindows[] = {15, 60, 240};
constexpr std::size_t kRangeWindows[] = {15, 60};

constexpr std::size_t kTfBase = kSet1;                               // 29
constexpr std::size_t kCrossBase = kTfBase + kNumTf * kTfFeatures;  // 50
constexpr std::size_t kCrossLead = kCrossBase;                       // 6: lead1 x3, lead2 x3
constexpr std::size_t kCrossIndex = kCrossLead + 6;                  // 3
constexpr std::size_t kCrossCorr = kCrossIndex + 3;                  // 8
constexpr std::size_t kCrossRel = kCrossCorr + 8;                    // 3
constexpr std::size_t kVolBase = kCrossRel + 3;                      // 70
constexpr std::size_t kSeasonBase = kVolBase + 7;                    // 77
constexpr std::size_t kNumV2 = kSeasonBase + 4;                      // 81

// Oldest minute a row reads of other symbols / own minute data: a - 240 = t - 241.
constexpr std::int64_t kOwnMinutesBack = kV2OtherMinutes + 1;
// Bar minutes of the rows built must lie within +/- this (no overflow in bucket or window arithmetic).
constexpr std::int64_t kMaxAbsMinute = std::int64_t{1} << 53;
// Chunks of rows whose minute span is below this share one minute-indexed layout.
constexpr std::int64_t kChunkMinutes = std::int64_t{1} << 16;

std::int64_t floordiv(std::int64_t a, std::int64_t b) {  // b > 0
  std::int64_t q = a / b;
  if ((a % b) < 0) --q;
  return q;
}

// Saturating a - b for b >= 0.
std::int64_t sub_sat(std::int64_t a, std::int64_t b) {
  return a < std::numeric_limits<std::int64_t>::min() + b ? std::numeric_limits<std::int64_t>::min()
                                                          : a - b;
}

const char* const kGroups[] = {"multi_timeframe", "cross_market", "volatility", "seasonality"};

std::string group_list() {
  std::string r;
  for (const char* g : kGroups) r += (r.empty() ? "" : ", ") + std::string(g);
  return r;
}

// ---- multi_timeframe ------------------------------------------------------------------------

struct Htf {
  std::int64_t b;
  double high, low, close;  // open is not used by any feature
};

// Last closed bucket at minute t: b with b*k + k - 1 <= t, i.e. floor((t + 1) / k) - 1, without
// overflowing at t = INT64_MAX.
std::int64_t last_closed_bucket(std::int64_t t, std::int64_t k) {
  const std::int64_t q = floordiv(t, k);
  return (t - q * k == k - 1) ? q : q - 1;
}

// HTF bars of the non-empty buckets formed by rows [r0, to) of s (r0 at a bucket boundary).
std::vector<Htf> htf_bars(const BarSeries& s, std::size_t r0, std::size_t to, std::int64_t k) {
  std::vector<Htf> out;
  for (std::size_t r = r0; r < to; ++r) {
    const std::int64_t b = floordiv(s.ts[r], k);
    if (out.empty() || out.back().b != b) {
      out.push_back({b, s.high[r], s.low[r], s.close[r]});
    } else {
      Htf& h = out.back();
      h.high = std::max(h.high, s.high[r]);
      h.low = std::min(h.low, s.low[r]);
      h.close = s.close[r];
    }
  }
  return out;
}

// Population mean and std of x[0..n); sd = 0 exactly when all values are equal.
void mean_sd(const double* x, std::size_t n, double& mean, double& sd) {
  double sum = 0;
  bool all_equal = true;
  for (std::size_t j = 0; j < n; ++j) {
    sum += x[j];
    all_equal = all_equal && x[j] == x[0];
  }
  mean = sum / static_cast<double>(n);
  if (all_equal) {
    sd = 0;
    return;
  }
  double sd_sum = 0, sq_sum = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const double d = x[j] - mean;
    sd_sum += d;
    sq_sum += d * d;
  }
  const double nn = static_cast<double>(n);
  sd = std::sqrt(std::max(0.0, (sq_sum - sd_sum * sd_sum / nn) / nn));
}

// The 7 features of one timeframe from the window w[0..n) (the non-empty closed buckets among
// b0-26..b0, in time order).
void htf_features(const Htf* w, std::size_t n, std::int64_t b0, double* out) {
  auto close_of = [&](std::int64_t b) {
    for (std::size_t j = n; j-- > 0;) {
      if (w[j].b == b) return w[j].close;
      if (w[j].b < b) break;
    }
    return kNaN;
  };
  const double c_b0 = close_of(b0);
  out[0] = 100.0 * (c_b0 / close_of(b0 - 1) - 1.0);
  out[1] = 100.0 * (c_b0 / close_of(b0 - 4) - 1.0);
  for (std::size_t f = 2; f < kTfFeatures; ++f) out[f] = kNaN;
  if (n == 0) return;
  const double c0 = w[n - 1].close;
  double closes[kHtfBuckets];
  for (std::size_t j = 0; j < n; ++j) closes[j] = w[j].close;

  if (n >= kRsiBars) {  // Cutler: sums of gains and losses of the last 14 changes
    double g = 0, l = 0;
    for (std::size_t j = n - kRsiBars + 1; j < n; ++j) {
      const double d = closes[j] - closes[j - 1];
      if (d > 0) g += d;
      else l -= d;
    }
    out[2] = (g + l == 0) ? kNaN : 100.0 * g / (g + l);
  }
  if (n >= kBbBars) {
    double m, sd;
    mean_sd(closes + (n - kBbBars), kBbBars, m, sd);
    out[3] = sd == 0 ? kNaN : (c0 - (m - 2.0 * sd)) / (4.0 * sd);
  }
  if (n >= kStochBars) {
    double hh = w[n - kStochBars].high, ll = w[n - kStochBars].low;
    for (std::size_t j = n - kStochBars + 1; j < n; ++j) {
      hh = std::max(hh, w[j].high);
      ll = std::min(ll, w[j].low);
    }
    out[4] = hh == ll ? kNaN : 100.0 * (c0 - ll) / (hh - ll);
  }
  if (n >= kTrendLong) {
    double s_long = 0, s_short = 0;
    for (std::size_t j = n - kTrendLong; j < n; ++j) s_long += closes[j];
    for (std::size_t j = n - kTrendShort; j < n; ++j) s_short += closes[j];
    const double sma_long = s_long / static_cast<double>(kTrendLong);
    const double sma_short = s_short / static_cast<double>(kTrendShort);
    out[5] = 100.0 * (sma_short / sma_long - 1.0);
  }
  if (n >= kTfVolBars) {
    double lr[kTfVolBars - 1];
    for (std::size_t j = 0; j + 1 < kTfVolBars; ++j) {
      const std::size_t c = n - kTfVolBars + 1 + j;
      lr[j] = std::log(closes[c] / closes[c - 1]);
    }
    double m, sd;
    mean_sd(lr, kTfVolBars - 1, m, sd);
    out[6] = 100.0 * sd;
  }
}

void multi_timeframe(const BarSeries& s, std::size_t from, std::size_t to, double* out) {
  for (std::size_t f = 0; f < kNumTf; ++f) {
    const std::int64_t k = kTimeframes[f];
    const std::int64_t first_bucket = last_closed_bucket(s.ts[from], k) - (kHtfBuckets - 1);
    const std::int64_t lo_min =
        first_bucket < floordiv(std::numeric_limits<std::int64_t>::min(), k) + 1
            ? std::numeric_limits<std::int64_t>::min()
            : first_bucket * k;
    const std::size_t r0 = static_cast<std::size_t>(
        std::lower_bound(s.ts.begin(), s.ts.begin() + static_cast<std::ptrdiff_t>(to), lo_min) -
        s.ts.begin());
    const std::vector<Htf> bars = htf_bars(s, r0, to, k);
    std::size_t end = 0;  // bars[0..end) have b <= b0 of the current row (b0 never decreases)
    for (std::size_t i = from; i < to; ++i) {
      const std::int64_t b0 = last_closed_bucket(s.ts[i], k);
      while (end < bars.size() && bars[end].b <= b0) ++end;
      std::size_t begin = end;
      while (begin > 0 && bars[begin - 1].b > b0 - kHtfBuckets) --begin;
      htf_features(bars.data() + begin, end - begin, b0,
                   out + (i - from) * kNumV2 + kTfBase + f * kTfFeatures);
    }
  }
}

// ---- cross_market and time-based realized volatility ------------------------------------------

struct Inputs {
  const BarSeries* lead[2];           // lead[1] null when only one leader
  std::vector<const BarSeries*> idx;  // index members, sorted by name
};

// Closes of rows of x with ts in [base, last] laid out by minute (NaN where no bar).
void layout(const BarSeries& x, std::int64_t base, std::int64_t last, std::vector<double>& close) {
  close.assign(static_cast<std::size_t>(last - base + 1), kNaN);
  auto it = std::lower_bound(x.ts.begin(), x.ts.end(), base);
  for (; it != x.ts.end() && *it <= last; ++it) {
    const std::size_t r = static_cast<std::size_t>(it - x.ts.begin());
    close[static_cast<std::size_t>(*it - base)] = x.close[r];
  }
}

// lr[u] = ln(close[u] / close[u-1]) where both exist, else NaN.
void log_returns(const std::vector<double>& close, std::vector<double>& lr) {
  lr.assign(close.size(), kNaN);
  for (std::size_t u = 1; u < close.size(); ++u) lr[u] = std::log(close[u] / close[u - 1]);
}

// corr and beta of y on x over the minutes a-W+1..a for both windows W of kCorrWindows (60 and
// 240), in one pass backwards from a: the sums of the 60-minute window are the first 60 steps of
// the 240-minute one. Pairs where both values exist. The values are shifted by the newest pair
// (kx, ky) before summing (shifted sums: no cancellation when the mean is large against the
// spread); cov = Sxy - Sx*Sy/n etc. out = {corr60, beta60, corr240, beta240}.
void corr_beta(const double* y, const double* x, std::size_t a, double* out) {
  std::size_t n = 0;
  double kx = 0, ky = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  bool x_equal = true, y_equal = true;
  std::size_t step = 0;
  for (std::size_t q = 0; q < 2; ++q) {
    const std::size_t w = static_cast<std::size_t>(kCorrWindows[q]);
    for (; step < w; ++step) {
      const std::size_t u = a - step;
      if (std::isnan(y[u]) || std::isnan(x[u])) continue;
      if (n == 0) {
        kx = x[u];
        ky = y[u];
      }
      const double dx = x[u] - kx, dy = y[u] - ky;
      x_equal = x_equal && dx == 0;
      y_equal = y_equal && dy == 0;
      sx += dx;
      sy += dy;
      sxx += dx * dx;
      syy += dy * dy;
      sxy += dx * dy;
      ++n;
    }
    double* o = out + 2 * q;
    o[0] = o[1] = kNaN;
    if (2 * n < w || x_equal) continue;  // too few pairs; beta and corr divide by var_x
    const double nn = static_cast<double>(n);
    const double cxx = sxx - sx * sx / nn, cyy = syy - sy * sy / nn, cxy = sxy - sx * sy / nn;
    if (!(cxx > 0)) continue;
    o[1] = cxy / cxx;
    if (!y_equal && cyy > 0) o[0] = cxy / std::sqrt(cxx * cyy);
  }
}

void cross_and_rv(const BarSeries& s, std::size_t from, std::size_t to, const Inputs& in,
                  double* out) {
  std::vector<double> own_c, own_lr, lead_c[2], lead_lr, tmp_c, tmp_lr, idx_sum, idx_lr;
  std::vector<int> idx_n;
  std::size_t c0 = from;
  while (c0 < to) {
    std::size_t c1 = c0 + 1;
    while (c1 < to && s.ts[c1] - s.ts[c0] < kChunkMinutes) ++c1;
    const std::int64_t last = s.ts[c1 - 1];
    const std::int64_t base = sub_sat(s.ts[c0], kOwnMinutesBack);
    // Own bars up to the chunk's last minute (a row at t reads own minutes <= t); other symbols'
    // only up to last - 1 (a row at t reads them at minutes <= t - 1).
    layout(s, base, last, own_c);
    log_returns(own_c, own_lr);
    auto other = [&](const BarSeries* x, std::vector<double>& c) {
      layout(*x, base, x == &s ? last : last - 1, c);
      c.resize(own_c.size(), kNaN);
    };
    for (int j = 0; j < 2; ++j)
      if (in.lead[j]) other(in.lead[j], lead_c[j]);
    log_returns(lead_c[0], lead_lr);
    idx_sum.assign(own_c.size(), 0.0);
    idx_n.assign(own_c.size(), 0);
    for (const BarSeries* x : in.idx) {
      other(x, tmp_c);
      log_returns(tmp_c, tmp_lr);
      for (std::size_t u = 0; u < tmp_lr.size(); ++u)
        if (!std::isnan(tmp_lr[u])) {
          idx_sum[u] += tmp_lr[u];
          ++idx_n[u];
        }
    }
    idx_lr.assign(own_c.size(), kNaN);
    for (std::size_t u = 0; u < idx_lr.size(); ++u)
      if (idx_n[u] > 0) idx_lr[u] = idx_sum[u] / static_cast<double>(idx_n[u]);

    for (std::size_t i = c0; i < c1; ++i) {
      double* row = out + (i - from) * kNumV2;
      const std::size_t t = static_cast<std::size_t>(s.ts[i] - base);  // >= kOwnMinutesBack
      const std::size_t a = t - 1;
      // Leaders' lagged returns.
      for (int j = 0; j < 2; ++j) {
        if (!in.lead[j]) continue;
        const std::vector<double>& c = lead_c[j];
        for (std::size_t q = 0; q < 3; ++q)
          row[kCrossLead + 3 * j + q] =
              100.0 * (c[a] / c[a - static_cast<std::size_t>(kLeadLags[q])] - 1.0);
      }
      // Index returns: compounded mean log returns, NaN if a minute has none.
      auto index_ret = [&](std::int64_t k) {
        double sum = 0;
        for (std::size_t j = 0; j < static_cast<std::size_t>(k); ++j) sum += idx_lr[a - j];
        return 100.0 * std::expm1(sum);  // NaN propagates
      };
      for (std::size_t q = 0; q < 3; ++q) row[kCrossIndex + q] = index_ret(kLeadLags[q]);
      // Correlation and beta of own returns with lead1 and with the index.
      {
        double cb[4];
        corr_beta(own_lr.data(), lead_lr.data(), a, cb);
        row[kCrossCorr + 0] = cb[0];
        row[kCrossCorr + 1] = cb[1];
        row[kCrossCorr + 2] = cb[2];
        row[kCrossCorr + 3] = cb[3];
        corr_beta(own_lr.data(), idx_lr.data(), a, cb);
        row[kCrossCorr + 4] = cb[0];
        row[kCrossCorr + 5] = cb[1];
        row[kCrossCorr + 6] = cb[2];
        row[kCrossCorr + 7] = cb[3];
      }
      // Own return relative to the index, both ending at a.
      for (std::size_t q = 0; q < 3; ++q) {
        const std::int64_t k = kRelLags[q];
        row[kCrossRel + q] = 100.0 * (own_c[a] / own_c[a - static_cast<std::size_t>(k)] - 1.0) -
                             index_ret(k);
      }
      // Realized volatility over the minutes t-N+1 .. t.
      for (std::size_t q = 0; q < 3; ++q) {
        const std::int64_t n_win = kRvWindows[q];
        double sq = 0;
        std::int64_t n = 0;
        for (std::size_t u = t + 1 - static_cast<std::size_t>(n_win); u <= t; ++u)
          if (!std::isnan(own_lr[u])) {
            sq += own_lr[u] * own_lr[u];
            ++n;
          }
        row[kVolBase + q] = 2 * n < n_win ? kNaN
                                          : 100.0 * std::sqrt(sq * static_cast<double>(n_win) /
                                                              static_cast<double>(n));
      }
    }
    c0 = c1;
  }
}

// ---- range estimators (row-based) -------------------------------------------------------------

void range_estimators(const BarSeries& s, std::size_t from, std::size_t to, double* out) {
  const std::size_t back = kRangeWindows[1] - 1;
  const std::size_t r0 = from >= back ? from - back : 0;
  std::vector<double> hl2(to - r0), co2(to - r0);
  for (std::size_t r = r0; r < to; ++r) {
    const double hl = std::log(s.high[r] / s.low[r]);
    const double co = std::log(s.close[r] / s.open[r]);
    hl2[r - r0] = hl * hl;
    co2[r - r0] = co * co;
  }
  const double four_ln2 = 4.0 * std::log(2.0);
  const double gk_c = 2.0 * std::log(2.0) - 1.0;
  for (std::size_t i = from; i < to; ++i) {
    double* row = out + (i - from) * kNumV2 + kVolBase + 3;
    for (std::size_t q = 0; q < 2; ++q) {
      const std::size_t n = kRangeWindows[q];
      if (i + 1 < n) continue;
      double p = 0, gk = 0;
      for (std::size_t r = i + 1 - n; r <= i; ++r) {
        p += hl2[r - r0];
        gk += 0.5 * hl2[r - r0] - gk_c * co2[r - r0];
      }
      const double nn = static_cast<double>(n);
      row[q] = 100.0 * std::sqrt(p / nn / four_ln2);
      row[2 + q] = 100.0 * std::sqrt(std::max(0.0, gk / nn));
    }
  }
}

// ---- seasonality ------------------------------------------------------------------------------

// s's rows 0..to-1 merged by ts with `extra` (s's bar wins on equal ts).
BarSeries merge_season(const BarSeries& s, std::size_t to, const BarSeries& extra) {
  BarSeries m;
  const std::size_t n = to + extra.size();
  m.ts.reserve(n);
  m.open.reserve(n);
  m.high.reserve(n);
  m.low.reserve(n);
  m.close.reserve(n);
  m.volume.reserve(n);
  auto push = [&](const BarSeries& x, std::size_t r) {
    m.ts.push_back(x.ts[r]);
    m.open.push_back(x.open[r]);
    m.high.push_back(x.high[r]);
    m.low.push_back(x.low[r]);
    m.close.push_back(x.close[r]);
    m.volume.push_back(x.volume[r]);
  };
  std::size_t a = 0, b = 0;
  while (a < to || b < extra.size()) {
    if (b == extra.size() || (a < to && s.ts[a] <= extra.ts[b])) {
      if (b < extra.size() && s.ts[a] == extra.ts[b]) ++b;
      push(s, a++);
    } else {
      push(extra, b++);
    }
  }
  return m;
}

void seasonality(const BarSeries& s, std::size_t from, std::size_t to, const BarSeries& extra,
                 double* out) {
  BarSeries merged;
  const BarSeries* src = &s;
  if (extra.size() > 0) {
    merged = merge_season(s, to, extra);
    src = &merged;
  }
  const double sqrt60 = std::sqrt(60.0);
  bool have = false;
  std::int64_t cached_h = 0;
  SeasonalProfile now{kNaN, kNaN, 0, 0}, next{kNaN, kNaN, 0, 0};
  for (std::size_t i = from; i < to; ++i) {
    const std::int64_t t = s.ts[i];
    const std::int64_t h = floordiv(t, 60) * 60;
    if (!have || h != cached_h) {
      // The profile of an hour depends only on bars weeks before it: the same for every row of
      // the hour, so it is computed once per hour.
      const std::size_t im = static_cast<std::size_t>(
          std::lower_bound(src->ts.begin(), src->ts.end(), t) - src->ts.begin());
      now = seasonal_profile(*src, im, h);
      next = seasonal_profile(*src, im, h + 60);
      cached_h = h;
      have = true;
    }
    double* row = out + (i - from) * kNumV2 + kSeasonBase;
    row[0] = now.abs_return;
    row[1] = next.abs_return;
    row[2] = now.log_volume;
    const double rv60 = out[(i - from) * kNumV2 + kVolBase + 1];
    const double denom = now.abs_return * sqrt60;
    row[3] = (std::isnan(rv60) || std::isnan(denom) || rv60 == 0 || denom == 0) ? kNaN
                                                                                : rv60 / denom;
  }
}

// ---- context ----------------------------------------------------------------------------------

const BarSeries* series_of(const BarSeries& s, const MarketContext& m, const std::string& name,
                           const char* role) {
  if (name == m.symbol) return &s;
  auto it = m.bars.find(name);
  if (it == m.bars.end())
    throw InvalidParameter("build_features_v2: no bars given for " + std::string(role) + " " +
                               name + " (symbol " + m.symbol + ")",
                           "rule: the market context holds the bars of every leader and index "
                           "member other than the symbol itself");
  return &it->second;
}

Inputs check_context(const BarSeries& s, const MarketContext& m) {
  static const char* const fn = "build_features_v2";
  if (m.leaders.empty() || m.leaders.size() > 2 || (m.leaders.size() == 2 && m.leaders[0] == m.leaders[1]))
    throw InvalidParameter(std::string(fn) + ": " + std::to_string(m.leaders.size()) +
                               " cross-market leaders given" +
                               (m.leaders.size() == 2 ? " (" + m.leaders[0] + " twice)" : ""),
                           "rule: 1 or 2 distinct cross-market symbols");
  for (const std::string& l : m.leaders)
    if (l.empty())
      throw InvalidParameter(std::string(fn) + ": an empty cross-market symbol name",
                             "rule: 1 or 2 distinct cross-market symbols");
  if (m.index_members.empty())
    throw InvalidParameter(std::string(fn) + ": the index has no members",
                           "rule: at least one index member (the configured symbols)");
  std::vector<std::string> members = m.index_members;
  std::sort(members.begin(), members.end());
  for (std::size_t j = 0; j < members.size(); ++j) {
    if (members[j].empty())
      throw InvalidParameter(std::string(fn) + ": an empty index member name",
                             "rule: index members are distinct symbol names");
    if (j > 0 && members[j] == members[j - 1])
      throw InvalidParameter(std::string(fn) + ": index member " + members[j] + " is listed twice",
                             "rule: index members are distinct symbol names");
  }
  for (const auto& kv : m.bars) {
    if (kv.first == m.symbol) continue;
    try {
      kv.second.validate();
    } catch (const InvalidParameter& e) {
      throw InvalidParameter(std::string(fn) + ": bars of " + kv.first + ": " + e.what(),
                             e.detail(), e.hint());
    }
  }
  if (m.season_bars.size() > 0) {
    try {
      m.season_bars.validate();
    } catch (const InvalidParameter& e) {
      throw InvalidParameter(std::string(fn) + ": season bars of " + m.symbol + ": " + e.what(),
                             e.detail(), e.hint());
    }
  }
  Inputs in;
  in.lead[0] = series_of(s, m, m.leaders[0], "cross-market symbol");
  in.lead[1] = m.leaders.size() > 1 ? series_of(s, m, m.leaders[1], "cross-market symbol") : nullptr;
  for (const std::string& name : members) in.idx.push_back(series_of(s, m, name, "index member"));
  return in;
}

std::vector<double> build_v2(const BarSeries& s, std::size_t from, std::size_t to,
                             const std::vector<double>& set1, const MarketContext& m) {
  const Inputs in = check_context(s, m);
  if (from < to && (s.ts[from] < -kMaxAbsMinute || s.ts[to - 1] > kMaxAbsMinute))
    throw InvalidParameter("build_features_v2: bar minute " +
                               std::to_string(s.ts[from] < -kMaxAbsMinute ? s.ts[from] : s.ts[to - 1]) +
                               " is out of range",
                           "rule: bar minutes lie within +/- 2^53 minutes of the epoch");
  std::vector<double> out((to - from) * kNumV2, kNaN);
  for (std::size_t r = 0; r < to - from; ++r)
    std::copy(set1.begin() + static_cast<std::ptrdiff_t>(r * kSet1),
              set1.begin() + static_cast<std::ptrdiff_t>((r + 1) * kSet1),
              out.begin() + static_cast<std::ptrdiff_t>(r * kNumV2));
  if (from == to) return out;
  multi_timeframe(s, from, to, out.data());
  cross_and_rv(s, from, to, in, out.data());
  range_estimators(s, from, to, out.data());
  seasonality(s, from, to, m.season_bars, out.data());
  return out;
}

}  // namespace

const std::vector<std::string>& feature_groups_v2() {
  static const std::vector<std::string> g(std::begin(kGroups), std::end(kGroups));
  return g;
}

const std::vector<std::string>& feature_names_for(int version) {
  static const std::vector<std::string> v2 = [] {
    std::vector<std::string> n = feature_names();
    for (std::int64_t k : kTimeframes) {
      const std::string p = "tf" + std::to_string(k) + "_";
      for (const char* f : {"ret_1", "ret_4", "rsi", "bb_position", "stoch_k", "trend", "volatility"})
        n.push_back(p + f);
    }
    for (const char* l : {"lead1", "lead2", "index"})
      for (std::int64_t k : kLeadLags) n.push_back(std::string(l) + "_ret_" + std::to_string(k));
    for (const char* x : {"lead1", "index"})
      for (std::int64_t w : kCorrWindows) {
        n.push_back("corr_" + std::string(x) + "_" + std::to_string(w));
        n.push_back("beta_" + std::string(x) + "_" + std::to_string(w));
      }
    for (std::int64_t k : kRelLags) n.push_back("rel_ret_" + std::to_string(k));
    for (std::int64_t w : kRvWindows) n.push_back("rv_" + std::to_string(w));
    for (std::size_t w : kRangeWindows) n.push_back("parkinson_" + std::to_string(w));
    for (std::size_t w : kRangeWindows) n.push_back("garman_klass_" + std::to_string(w));
    for (const char* f : {"season_absret_now", "season_absret_next", "season_logvol_now",
                          "rv60_season_ratio"})
      n.push_back(f);
    return n;
  }();
  if (version == 1) return feature_names();
  if (version == 2) return v2;
  throw InvalidParameter("unknown feature set " + std::to_string(version),
                         "rule: feature sets are 1 or 2");
}

std::vector<std::size_t> feature_group_columns(const std::string& group) {
  std::size_t lo = 0, hi = 0;
  if (group == "multi_timeframe") {
    lo = kTfBase;
    hi = kCrossBase;
  } else if (group == "cross_market") {
    lo = kCrossBase;
    hi = kVolBase;
  } else if (group == "volatility") {
    lo = kVolBase;
    hi = kSeasonBase;
  } else if (group == "seasonality") {
    lo = kSeasonBase;
    hi = kNumV2;
  } else {
    throw InvalidParameter("unknown feature group \"" + group + "\"",
                           "rule: feature groups are " + group_list());
  }
  std::vector<std::size_t> cols;
  for (std::size_t c = lo; c < hi; ++c) cols.push_back(c);
  return cols;
}

std::vector<double> build_features_v2(const BarSeries& s, std::size_t from, std::size_t to,
                                      const IndicatorParams& p, const MarketContext& m) {
  return build_v2(s, from, to, build_features(s, from, to, p), m);
}

std::vector<double> build_features_v2(const BarSeries& s, std::size_t from, std::size_t to,
                                      const IndicatorState& before_first, const MarketContext& m) {
  return build_v2(s, from, to, build_features(s, from, to, before_first), m);
}

std::vector<std::pair<std::int64_t, std::int64_t>> v2_season_ranges(std::int64_t t) {
  const std::int64_t h = floordiv(t, 60) * 60;
  std::vector<std::pair<std::int64_t, std::int64_t>> r;
  for (int w = kSeasonalWeeks; w >= 1; --w) {
    const std::int64_t lo = h - 10080 * static_cast<std::int64_t>(w);
    r.emplace_back(lo - 1, lo + 119);
  }
  return r;
}

std::vector<std::string> pending_inputs(const MarketContext& m, std::int64_t t) {
  std::set<std::string> names(m.leaders.begin(), m.leaders.end());
  names.insert(m.index_members.begin(), m.index_members.end());
  names.erase(m.symbol);
  std::vector<std::string> out;
  for (const std::string& n : names) {
    auto it = m.bars.find(n);
    if (it == m.bars.end() || it->second.ts.empty() || it->second.ts.back() < t - 1) out.push_back(n);
  }
  return out;
}

}  // namespace cml
