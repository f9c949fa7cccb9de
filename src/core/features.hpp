// cryptoml feature set: the ONE function that turns a symbol's minute bars into model inputs,
// used both to build training samples and to build live forecasts, so that training and inference
// can never disagree. Pure C++17: no PostgreSQL header may be included here.
//
// ---- No look-ahead ----------------------------------------------------------------------------
// Row i of build_features() reads only bars 0..i of the series (values AND timestamps): changing,
// removing or adding bars after i leaves row i bit-for-bit unchanged, and building a range
// [from, to) gives exactly the rows that building each row alone gives. Only build_targets()
// looks ahead, by design.
//
// ---- Feature set v1 (kFeatureSetVersion = 1), in vector order --------------------------------
// Notation: for row i, C = close[i], O = open[i], H = high[i], L = low[i], V = volume[i], t = ts[i]
// (whole minutes since 2000-01-01 00:00 UTC, PostgreSQL's epoch: the binding passes
// cml::pg::minute_of of the bar's timestamp, NOT Unix minutes). "The last N bars" means the N rows i-N+1..i of the series
// (ROW-based over the bars that exist: a gap in time does not shorten or extend the window);
// the value is NaN when i+1 < N. Standard deviations are population ones (divide by N).
// Every feature is NaN when one of its inputs is NaN.
//
//  Indicators at the bar: an IndicatorState (indicators.hpp) with the given IndicatorParams is run
//  over rows 0..i (the full prefix, from row 0), so the values equal the ones the trigger keeps.
//   0 rsi          RSI(rsi_period), Wilder
//   1 macd         MACD line EMA(fast) - EMA(slow)
//   2 macd_signal  EMA(signal) of the MACD line
//   3 macd_hist    macd - macd_signal
//   4 bb_position  (C - lower) / (upper - lower), Bollinger(bb_period, bb_k); NaN if upper == lower
//                  (in [0, 1] while C lies within the bands)
//   5 bb_width     (upper - lower) / middle
//   6 stoch_k      fast stochastic %K(stoch_k)
//   7 stoch_d      %D = SMA(stoch_d) of %K
//   8 volatility   population std of the last vol_window one-bar simple returns (row-based)
//  Returns, TIME-based (exchange gaps): for lag k minutes, with C' = close of the bar whose ts is
//  exactly t - k (NaN when no bar has that timestamp):
//   9..16 ret_1, ret_2, ret_3, ret_5, ret_10, ret_15, ret_30, ret_60 = 100 * (C / C' - 1)
//  Volume (volume may be NaN = unknown; a window containing a NaN gives NaN):
//  17 log_volume       ln(1 + V)   (computed as log1p(V))
//  18 volume_ratio_20  V / mean(volume of the last 20 bars, this one included); NaN if the mean is 0
//  19 volume_z_60      (V - m) / sd, m and sd = mean and population std of the volume of the last
//                      60 bars (this one included); NaN if sd == 0 (all 60 volumes equal)
//  Range (percent):
//  20 range_pct         100 * (H - L) / C
//  21 body_pct          100 * (C - O) / O
//  22 upper_shadow_pct  100 * (H - max(O, C)) / C
//  23 lower_shadow_pct  100 * (min(O, C) - L) / C
//  24 range_mean_15     mean of range_pct over the last 15 bars (this one included)
//  Time (UTC): minute_of_day = t mod 1440 (0..1439); day_of_week = (floor(t / 1440) + 3) mod 7.
//  With t counted from 2000-01-01 (a Saturday, day 0 -> 3) as the binding passes it, this gives
//  Wednesday = 0, Thursday = 1, Friday = 2, Saturday = 3, Sunday = 4, Monday = 5, Tuesday = 6,
//  i.e. (ISO day of week + 4) mod 7. (The formula was written for Unix minutes, where it would
//  give Monday = 0; it is kept as trained models depend on it. minute_of_day is the same for both
//  epochs, 10957 whole days apart.) Both use floored modulo, so t < 0 works too.
//  25 tod_sin  sin(2*pi*minute_of_day/1440)
//  26 tod_cos  cos(2*pi*minute_of_day/1440)
//  27 dow_sin  sin(2*pi*day_of_week/7)
//  28 dow_cos  cos(2*pi*day_of_week/7)
//
// ---- Cost -------------------------------------------------------------------------------------
// build_features(s, from, to): one pass over rows 0..to-1 with the streaming IndicatorState
// (rows before `from` only advance it); each output row then costs O(1) window work (at most
// 20 + 60 + 15 bars, plus a binary search over at most k+1 bars per return lag). So the cost is
// O(to) and a 60k-bar build takes a few tens of milliseconds.
//
// ---- Errors -----------------------------------------------------------------------------------
// cml::InvalidParameter (message names the function, the 1-based row and the rule):
//   - BarSeries::validate(): unequal lengths; ts not strictly increasing; open/high/low/close not
//     finite or <= 0; low > min(open, close) or high < max(open, close); volume neither NaN nor
//     finite and >= 0 (negative or infinite volume).
//   - build_features(): from > to or to > size(); invalid IndicatorParams; the rows 0..to-1 break a
//     rule of validate() (only the rows read are checked: a bad bar after to-1 does not matter,
//     which keeps the no-look-ahead property even for errors). Lengths must always be equal.
//   - build_targets(): from > to or to > size(); horizon_minutes < 1; the series breaks a rule of
//     validate() (the whole series is checked, since targets look ahead).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "errors.hpp"
#include "indicators.hpp"

namespace cml {

// One symbol's bars in strictly increasing time order. ts = whole minutes since 2000-01-01 00:00
// UTC (PostgreSQL's epoch; cml::pg::minute_of), which fixes the day_of_week convention above.
struct BarSeries {
  std::vector<std::int64_t> ts;
  std::vector<double> open, high, low, close, volume;  // volume may be NaN (unknown)
  std::size_t size() const;  // ts.size()
  // Equal lengths, strictly increasing ts, finite positive prices, low <= open,close <= high,
  // volume NaN or finite >= 0 -> InvalidParameter naming the row (1-based) and the rule.
  void validate() const;
};

constexpr int kFeatureSetVersion = 1;
// The highest feature set this build computes (features.featureSet's upper bound; set 2 is in
// features_v2.hpp).
constexpr int kMaxFeatureSet = 2;

// Names of the features, in vector order (stable for a version). 29 names in v1.
const std::vector<std::string>& feature_names();

// Computes the feature vectors of bars [from, to) (indices into s), reading only bars with
// index <= i for row i. Indicators come from an IndicatorState run from s[0] (full history, so the
// values equal the trigger's). Output: row-major (to-from) x feature_names().size() doubles; NaN
// where a feature has no value. from == to gives an empty vector.
std::vector<double> build_features(const BarSeries& s, std::size_t from, std::size_t to,
                                   const IndicatorParams& p);

// The same features when s is only the tail of a longer history: `before_first` is the indicator
// state after the bar preceding s[0] (for example restored from the trigger's checkpoint). The
// rows must leave enough history in s for the windows (60 rows and 60 minutes before `from`);
// then the result is bit-identical to building from the full history.
std::vector<double> build_features(const BarSeries& s, std::size_t from, std::size_t to,
                                   const IndicatorState& before_first);

// Targets for horizon h minutes, one per row of [from, to): 100 * (close at ts+h / close - 1) when a
// bar exists at exactly ts + h minutes, else NaN (gaps: no sample; also the last h minutes of the
// series). Only this function looks ahead, by design.
std::vector<double> build_targets(const BarSeries& s, std::size_t from, std::size_t to,
                                  int horizon_minutes);

}  // namespace cml
