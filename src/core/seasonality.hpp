// cryptoml intraday seasonality: hour-of-week profiles of absolute return and volume, learned
// only from the weeks BEFORE the bar they describe. Pure C++17 (no PostgreSQL header).
//
// Used by feature set 2 (features_v2.hpp, group "seasonality") and by the volatility model
// (volatility.hpp): one definition in one place.
//
// ---- Definition ---------------------------------------------------------------------------------
// For a series s (BarSeries, ts in minutes since the epoch), a row i and an hour start
// hour_start (a multiple of 60 minutes, hour_start <= ts[i] + 60), the profile of that hour of the
// week is taken over the same hour in each of the previous `weeks` weeks:
//   minutes [hour_start - 10080*w, hour_start - 10080*w + 59] for w = 1..weeks,
// reading only bars of rows <= i (every such minute is before ts[i] since w >= 1).
//   abs_return = mean over the bars j in those windows whose previous minute (ts[j] - 1) has a
//                bar of |100 * ln(close[j] / close[j-1])|  (percent)
//   log_volume = mean of log1p(volume[j]) over the bars j in those windows with a known volume
//   returns    = how many returns abs_return averages; volumes = how many volumes
// NaN (and count 0) when no value exists (the first week of a symbol's history, an outage).
#pragma once

#include <cstddef>
#include <cstdint>

#include "features.hpp"

namespace cml {

struct SeasonalProfile {
  double abs_return;
  double log_volume;
  int returns = 0;
  int volumes = 0;
};

constexpr int kSeasonalWeeks = 4;

// Throws InvalidParameter when i >= s.size(), hour_start is not a multiple of 60, hour_start >
// ts[i] + 60, or weeks < 1.
SeasonalProfile seasonal_profile(const BarSeries& s, std::size_t i, std::int64_t hour_start,
                                 int weeks = kSeasonalWeeks);

}  // namespace cml
