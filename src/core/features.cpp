// cryptoml feature set v1 (see features.hpp for the formulas and the no-look-ahead contract).
// Pure C++17: no PostgreSQL header may be included here.
#include "text.hpp"
#include "features.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace cml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr std::int64_t kMinutesPerDay = 1440;

// Time-based return lags (minutes), in the order of the ret_* features.
constexpr int kReturnLags[] = {1, 2, 3, 5, 10, 15, 30, 60};
constexpr std::size_t kVolRatioWindow = 20;
constexpr std::size_t kVolZWindow = 60;
constexpr std::size_t kRangeMeanWindow = 15;

// Column indices (must follow feature_names()).
enum Col : std::size_t {
  kRsi = 0,
  kMacd,
  kMacdSignal,
  kMacdHist,
  kBbPosition,
  kBbWidth,
  kStochK,
  kStochD,
  kVolatility,
  kRet1,  // .. kRet1 + 7 = ret_60
  kLogVolume = kRet1 + 8,
  kVolumeRatio20,
  kVolumeZ60,
  kRangePct,
  kBodyPct,
  kUpperShadowPct,
  kLowerShadowPct,
  kRangeMean15,
  kTodSin,
  kTodCos,
  kDowSin,
  kDowCos,
  kNumFeatures
};

std::string fmt(double v) { return format_double(v); }

[[noreturn]] void row_error(const char* fn, std::size_t row, const std::string& what,
                            const char* rule) {
  throw InvalidParameter(std::string(fn) + ": row " + std::to_string(row + 1) + ": " + what +
                             " (" + rule + ")",
                         std::string("rule: ") + rule);
}

void check_lengths(const BarSeries& s, const char* fn) {
  const std::size_t n = s.ts.size();
  const struct {
    const char* name;
    std::size_t size;
  } cols[] = {{"open", s.open.size()},
              {"high", s.high.size()},
              {"low", s.low.size()},
              {"close", s.close.size()},
              {"volume", s.volume.size()}};
  for (const auto& c : cols)
    if (c.size != n)
      throw InvalidParameter(std::string(fn) + ": " + c.name + " has " + std::to_string(c.size) +
                                 " rows but ts has " + std::to_string(n) +
                                 " (all columns must have the same length)",
                             "rule: ts, open, high, low, close and volume have equal lengths");
}

// Checks the row rules of BarSeries::validate on rows [0, rows). Lengths must be checked first.
void check_rows(const BarSeries& s, std::size_t rows, const char* fn) {
  for (std::size_t r = 0; r < rows; ++r) {
    if (r > 0 && s.ts[r] <= s.ts[r - 1])
      row_error(fn, r,
                "ts = " + std::to_string(s.ts[r]) + " is not greater than the previous ts = " +
                    std::to_string(s.ts[r - 1]),
                "ts must be strictly increasing");
    const struct {
      const char* name;
      double v;
    } prices[] = {{"open", s.open[r]}, {"high", s.high[r]}, {"low", s.low[r]}, {"close", s.close[r]}};
    for (const auto& p : prices)
      if (!std::isfinite(p.v) || !(p.v > 0))
        row_error(fn, r, std::string(p.name) + " = " + fmt(p.v),
                  "prices must be finite and > 0");
    const double o = s.open[r], h = s.high[r], l = s.low[r], c = s.close[r];
    if (l > o || l > c)
      row_error(fn, r,
                "low = " + fmt(l) + " is above " + (l > o ? "open = " + fmt(o) : "close = " + fmt(c)),
                "low <= open, close <= high");
    if (h < o || h < c)
      row_error(fn, r,
                "high = " + fmt(h) + " is below " +
                    (h < o ? "open = " + fmt(o) : "close = " + fmt(c)),
                "low <= open, close <= high");
    const double v = s.volume[r];
    if (!std::isnan(v) && (!std::isfinite(v) || v < 0))
      row_error(fn, r, "volume = " + fmt(v), "volume must be NaN (unknown) or finite and >= 0");
  }
}

void check_range(const BarSeries& s, std::size_t from, std::size_t to, const char* fn) {
  if (from > to || to > s.size())
    throw InvalidParameter(std::string(fn) + ": invalid row range [" + std::to_string(from) + ", " +
                               std::to_string(to) + ") for a series of " +
                               std::to_string(s.size()) + " bars (need from <= to <= size)",
                           "rule: 0 <= from <= to <= number of bars");
}

// Index of the bar whose ts is exactly `target` among rows [lo, hi), or hi if there is none.
std::size_t find_ts(const std::vector<std::int64_t>& ts, std::size_t lo, std::size_t hi,
                    std::int64_t target) {
  auto b = ts.begin() + static_cast<std::ptrdiff_t>(lo);
  auto e = ts.begin() + static_cast<std::ptrdiff_t>(hi);
  auto it = std::lower_bound(b, e, target);
  if (it != e && *it == target) return static_cast<std::size_t>(it - ts.begin());
  return hi;
}

// 100 * (close[i] / close at exactly ts[i] - lag - 1), reading rows <= i only.
double time_return(const BarSeries& s, std::size_t i, int lag) {
  const std::int64_t t = s.ts[i];
  if (t < std::numeric_limits<std::int64_t>::min() + lag) return kNaN;
  const std::int64_t target = t - lag;
  const std::size_t k = static_cast<std::size_t>(lag);
  // ts strictly increasing in whole minutes: the bar at t - lag, if any, is among rows i-lag..i-1.
  std::size_t j;
  if (i >= k && s.ts[i - k] == target) {
    j = i - k;  // no gap: the usual case
  } else {
    const std::size_t lo = i >= k ? i - k : 0;
    j = find_ts(s.ts, lo, i, target);
    if (j == i) return kNaN;
  }
  return 100.0 * (s.close[i] / s.close[j] - 1.0);
}

double range_pct(const BarSeries& s, std::size_t i) {
  return 100.0 * (s.high[i] - s.low[i]) / s.close[i];
}

// Mean of x[i-n+1..i] in chronological order; NaN if i+1 < n or any element is NaN.
double window_mean(const double* x, std::size_t i, std::size_t n) {
  if (i + 1 < n) return kNaN;
  double sum = 0;
  for (std::size_t k = i + 1 - n; k <= i; ++k) sum += x[k];
  return sum / static_cast<double>(n);  // NaN propagates
}

}  // namespace

std::size_t BarSeries::size() const { return ts.size(); }

void BarSeries::validate() const {
  check_lengths(*this, "bar series");
  check_rows(*this, ts.size(), "bar series");
}

const std::vector<std::string>& feature_names() {
  static const std::vector<std::string> names = {
      "rsi",          "macd",          "macd_signal",      "macd_hist",        "bb_position",
      "bb_width",     "stoch_k",       "stoch_d",          "volatility",       "ret_1",
      "ret_2",        "ret_3",         "ret_5",            "ret_10",           "ret_15",
      "ret_30",       "ret_60",        "log_volume",       "volume_ratio_20",  "volume_z_60",
      "range_pct",    "body_pct",      "upper_shadow_pct", "lower_shadow_pct", "range_mean_15",
      "tod_sin",      "tod_cos",       "dow_sin",          "dow_cos"};
  return names;
}

namespace {

// The features of rows [from, to), with the indicator state `st` advanced over rows 0..to-1.
std::vector<double> build_features_from(const BarSeries& s, std::size_t from, std::size_t to, IndicatorState st) {
  static const char* const fn = "build_features";
  check_lengths(s, fn);
  check_range(s, from, to, fn);
  check_rows(s, to, fn);  // only the rows read: a bad bar after to-1 does not matter

  constexpr std::size_t nf = kNumFeatures;
  static_assert(sizeof(kReturnLags) / sizeof(kReturnLags[0]) == kLogVolume - kRet1,
                "return lags and columns disagree");
  std::vector<double> out((to - from) * nf, kNaN);

  // range_pct of the rows the range_mean_15 windows need, computed once per bar.
  const std::size_t rp0 = from >= kRangeMeanWindow - 1 ? from - (kRangeMeanWindow - 1) : 0;
  std::vector<double> rp(to - rp0);
  for (std::size_t k = rp0; k < to; ++k) rp[k - rp0] = range_pct(s, k);

  const double* vol = s.volume.data();
  for (std::size_t i = 0; i < to; ++i) {
    const IndicatorValues iv = st.update(s.high[i], s.low[i], s.close[i]);
    if (i < from) continue;
    double* row = out.data() + (i - from) * nf;
    const double o = s.open[i], h = s.high[i], l = s.low[i], c = s.close[i], v = vol[i];

    // Indicators.
    row[kRsi] = iv.rsi;
    row[kMacd] = iv.macd;
    row[kMacdSignal] = iv.macd_signal;
    row[kMacdHist] = iv.macd_hist;
    const double width = iv.bb_upper - iv.bb_lower;  // NaN before the first band
    row[kBbPosition] = (std::isnan(width) || width == 0) ? kNaN : (c - iv.bb_lower) / width;
    row[kBbWidth] = width / iv.bb_middle;
    row[kStochK] = iv.stoch_k;
    row[kStochD] = iv.stoch_d;
    row[kVolatility] = iv.volatility;

    // Time-based returns.
    for (std::size_t r = 0; r < kLogVolume - kRet1; ++r)
      row[kRet1 + r] = time_return(s, i, kReturnLags[r]);

    // Volume.
    row[kLogVolume] = std::log1p(v);
    {
      const double m = window_mean(vol, i, kVolRatioWindow);
      row[kVolumeRatio20] = (std::isnan(m) || m == 0) ? kNaN : v / m;
    }
    if (i + 1 >= kVolZWindow) {
      const std::size_t b = i + 1 - kVolZWindow;
      const double m = window_mean(vol, i, kVolZWindow);
      if (!std::isnan(m)) {
        // Corrected two-pass population variance; an all-equal window is sd == 0 exactly.
        bool all_equal = true;
        double sd_sum = 0, sq_sum = 0;
        for (std::size_t k = b; k <= i; ++k) {
          all_equal = all_equal && vol[k] == vol[b];
          const double d = vol[k] - m;
          sd_sum += d;
          sq_sum += d * d;
        }
        const double n = static_cast<double>(kVolZWindow);
        const double var = std::max(0.0, (sq_sum - sd_sum * sd_sum / n) / n);
        const double sd = std::sqrt(var);
        row[kVolumeZ60] = (all_equal || sd == 0) ? kNaN : (v - m) / sd;
      }
    }

    // Range.
    row[kRangePct] = rp[i - rp0];
    row[kBodyPct] = 100.0 * (c - o) / o;
    row[kUpperShadowPct] = 100.0 * (h - std::max(o, c)) / c;
    row[kLowerShadowPct] = 100.0 * (std::min(o, c) - l) / c;
    if (i + 1 >= kRangeMeanWindow) {
      double sum = 0;
      for (std::size_t k = i + 1 - kRangeMeanWindow; k <= i; ++k) sum += rp[k - rp0];
      row[kRangeMean15] = sum / static_cast<double>(kRangeMeanWindow);
    }

    // Time of day / week (UTC), floored modulo.
    const std::int64_t t = s.ts[i];
    std::int64_t mod = t % kMinutesPerDay;
    std::int64_t day = t / kMinutesPerDay;
    if (mod < 0) {
      mod += kMinutesPerDay;
      --day;
    }
    std::int64_t dow = (day % 7 + 7 + 3) % 7;  // t from 2000-01-01 (a Saturday): Wednesday = 0 (features.hpp)
    const double a_tod = kTwoPi * static_cast<double>(mod) / static_cast<double>(kMinutesPerDay);
    const double a_dow = kTwoPi * static_cast<double>(dow) / 7.0;
    row[kTodSin] = std::sin(a_tod);
    row[kTodCos] = std::cos(a_tod);
    row[kDowSin] = std::sin(a_dow);
    row[kDowCos] = std::cos(a_dow);
  }
  return out;
}

}  // namespace

std::vector<double> build_features(const BarSeries& s, std::size_t from, std::size_t to,
                                   const IndicatorParams& p) {
  p.validate();
  return build_features_from(s, from, to, IndicatorState(p));
}

std::vector<double> build_features(const BarSeries& s, std::size_t from, std::size_t to,
                                   const IndicatorState& before_first) {
  return build_features_from(s, from, to, before_first);
}

std::vector<double> build_targets(const BarSeries& s, std::size_t from, std::size_t to,
                                  int horizon_minutes) {
  static const char* const fn = "build_targets";
  check_lengths(s, fn);
  check_range(s, from, to, fn);
  if (horizon_minutes < 1)
    throw InvalidParameter(std::string(fn) + ": invalid horizon_minutes = " +
                               std::to_string(horizon_minutes) + ": must be >= 1",
                           "rule: integer >= 1");
  check_rows(s, s.size(), fn);  // targets look ahead: the whole series is read

  const std::size_t n = s.size();
  const std::size_t h = static_cast<std::size_t>(horizon_minutes);
  std::vector<double> out(to - from, kNaN);
  for (std::size_t i = from; i < to; ++i) {
    const std::int64_t t = s.ts[i];
    if (t > std::numeric_limits<std::int64_t>::max() - horizon_minutes) continue;
    const std::int64_t target = t + horizon_minutes;
    // ts strictly increasing in whole minutes: the bar at t + h, if any, is among rows i+1..i+h.
    const std::size_t hi = std::min(n, i + 1 + h);
    std::size_t j;
    if (i + h < n && s.ts[i + h] == target)
      j = i + h;  // no gap: the usual case
    else
      j = find_ts(s.ts, i + 1, hi, target);
    if (j < hi) out[i - from] = 100.0 * (s.close[j] / s.close[i] - 1.0);
  }
  return out;
}

}  // namespace cml
