// cryptoml intraday seasonality (see seasonality.hpp for the definition).
#include "seasonality.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "errors.hpp"

namespace cml {

namespace {
constexpr std::int64_t kMinutesPerWeek = 10080;
}

SeasonalProfile seasonal_profile(const BarSeries& s, std::size_t i, std::int64_t hour_start, int weeks) {
  if (i >= s.size())
    throw InvalidParameter("seasonal profile: row " + std::to_string(i + 1) + " is past the series (" +
                               std::to_string(s.size()) + " bars)",
                           "rule: the row must be one of the series' bars");
  if (s.close.size() != s.ts.size() || s.volume.size() != s.ts.size())
    throw InvalidParameter("seasonal profile: the series' columns have unequal lengths",
                           "rule: ts, close and volume have one value per bar");
  if (((hour_start % 60) + 60) % 60 != 0)
    throw InvalidParameter("seasonal profile: hour start " + std::to_string(hour_start) +
                               " is not a whole hour",
                           "rule: hour_start is a multiple of 60 minutes");
  if (hour_start > s.ts[i] + 60)
    throw InvalidParameter("seasonal profile: hour start " + std::to_string(hour_start) + " is after minute " +
                               std::to_string(s.ts[i]) + " + 60 of row " + std::to_string(i + 1),
                           "rule: hour_start <= ts[i] + 60 (the profile reads only earlier weeks)");
  if (weeks < 1)
    throw InvalidParameter("seasonal profile: weeks = " + std::to_string(weeks) + " must be >= 1",
                           "rule: weeks >= 1");

  const double nan = std::numeric_limits<double>::quiet_NaN();
  SeasonalProfile p{nan, nan, 0, 0};
  double sum_abs = 0.0, sum_vol = 0.0;
  const auto first = s.ts.begin();
  const auto last = s.ts.begin() + static_cast<std::ptrdiff_t>(i) + 1;  // rows <= i only
  for (int w = 1; w <= weeks; ++w) {
    const std::int64_t lo = hour_start - kMinutesPerWeek * w;
    const std::int64_t hi = lo + 59;
    for (auto it = std::lower_bound(first, last, lo); it != last && *it <= hi; ++it) {
      const std::size_t j = static_cast<std::size_t>(it - first);
      if (j > 0 && s.ts[j - 1] == s.ts[j] - 1) {
        const double r = std::fabs(100.0 * std::log(s.close[j] / s.close[j - 1]));
        if (std::isfinite(r)) {
          sum_abs += r;
          ++p.returns;
        }
      }
      const double v = s.volume[j];
      if (std::isfinite(v) && v >= 0) {
        sum_vol += std::log1p(v);
        ++p.volumes;
      }
    }
  }
  if (p.returns > 0) p.abs_return = sum_abs / p.returns;
  if (p.volumes > 0) p.log_volume = sum_vol / p.volumes;
  return p;
}

}  // namespace cml
