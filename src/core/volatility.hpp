// cryptoml volatility: the market statistics of ml_forecast_all and a trained volatility model.
// Pure C++17 (no PostgreSQL header).
//
// ---- Market statistics (ml_forecast_all's volatility and trend forecasts) -----------------------
// For the bar i (ts in minutes) of a series of closes:
//   returns       100 * (close[j] / close[j-1] - 1) between consecutive STORED bars j-1, j that
//                 both lie in the window ts[i] - 1440 <= ts <= ts[i] (gaps are not filled; the
//                 first bar of the window has no return)
//   hour k        of a return: floor((ts[i] - ts[j]) / 60), k = 0 is the last hour (ts[i]-59..ts[i])
//   sigma         the SAMPLE standard deviation of the returns of hour 0 (NaN with fewer than 2)
//   vol_pct       the share of the hours k = 0..24 with a sigma (2 returns or more) whose sigma is
//                 <= sigma of hour 0 (hour 0 included); NaN when sigma is NaN
//   er(h)         the efficiency ratio over the last n moves, n = min(max(h, 10), 240, m - 1),
//                 m = min(241, i + 1) bars: |close[i] - close[i-n]| / sum of |close[q] - close[q-1]|
//                 over those n moves; 0 for a flat window (no move); NaN when n < 1
//   regime(h)     "volatile" when vol_pct >= 0.9, else "trending" when er >= 0.3, else "ranging"
//                 (a NaN compares false)
// The volatility forecast of the formula is sigma * sqrt(h) (percent, the realized volatility
// expected over h minutes: the square root of the expected sum of squared one-minute returns).
//
// ---- The HAR volatility model -----------------------------------------------------------------
// Minute log returns r_m = 100 * ln(close at m / close at m-1) (percent) exist for the minutes m
// whose bar and previous minute's bar are both stored. The realized volatility of the minutes
// (a, b] is
//   RV(a, b] = sqrt( (b - a) / c * sum of r_m^2 over the c minutes a < m <= b that have one ),
// scaled for the missing minutes, and NaN when 2 * c < b - a (fewer than half of them).
// Row i (t = ts[i]) of horizon h has
//   target    y = ln RV(t, t+h], NaN when t + h > the last bar's minute (the window is not closed)
//             or RV is 0 or NaN
//   features  x_L = ln( RV(t-L, t] / sqrt(L) ) for L = 15, 60, 240, 1440 (per-minute scale; NaN
//             when RV is 0 or NaN), and x_season = ln of the hour-of-week profile of |r|
//             (seasonality.hpp, 4 weeks) of the hours the target window covers, averaged with
//             weights = minutes of (t, t+h] in each hour; only hours starting at or before t + 60
//             count (the profile's contract), so for h > 60 it is the profile of the next hour(s).
//   baseline  trailing = RV(t-h, t] (the last h minutes' realized volatility), and
//             formula  = sigma(i) * sqrt(h) with sigma of the market statistics above.
// The model is ridge-regularized least squares of y on the standardized features (intercept not
// penalized): minimize sum (y - a - b.z)^2 + ridge * n * |b|^2, z = (x - center) / scale, center
// and scale = mean and population sd of the training rows (scale 1 when the sd is 0).
//   mu(i)      = a + b.z(i)                                   the forecast of ln RV (median)
//   sigma(i)   = exp(mu(i)) * sqrt(smearing)                  the forecast of RV, in percent
//   smearing   = mean of exp(2 e) over the training residuals e (Duan's smearing estimate), so that
//                sigma^2 estimates E[RV^2]: the same unit as the formula's sigma * sqrt(h).
// A row with a NaN feature cannot be predicted (NaN).
//
// Losses (rows where the target and every compared forecast are finite and > 0):
//   QLIKE(f) = mean of ( y^2 / f^2 - ln(y^2 / f^2) - 1 ) with y = RV, f = forecast of RV
//   RMSE_log = sqrt of the mean of (ln f - ln y)^2; the model's ln f is mu (its log forecast), the
//              baselines' ln f is the log of their forecast.
//
// Errors: InvalidParameter (message names the value, detail the rule); DataError for stored model
// JSON that is not a valid HAR model.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "features.hpp"

namespace cml {

// ---- market statistics ------------------------------------------------------------------------

struct HorizonStats {
  int horizon = 0;
  int n = 0;            // moves in the efficiency ratio (0 = none)
  double er = 0;        // NaN when n < 1
  std::string regime;   // volatile, trending, ranging
};
struct MarketStats {
  double sigma = 0;     // % (NaN = none)
  double vol_pct = 0;   // 0..1 (NaN = none)
  std::vector<HorizonStats> horizons;  // in the order given
};

// The sample std of the returns of the last hour at bar i (the market statistics' sigma).
// ts and close of equal length, ts strictly increasing (InvalidParameter otherwise), i < size.
double last_hour_sigma(const std::vector<std::int64_t>& ts, const std::vector<double>& close, std::size_t i);

// The statistics at the LAST bar of ts/close (pass at least its last 1441 bars; more are
// ignored). Horizons must be >= 1. InvalidParameter on an empty series, unequal lengths,
// non-increasing ts, a close that is not finite and > 0, or a horizon < 1.
MarketStats market_stats(const std::vector<std::int64_t>& ts, const std::vector<double>& close,
                         const std::vector<int>& horizons);

// ---- the HAR model ------------------------------------------------------------------------------

constexpr int kHarFeatures = 5;
const std::vector<std::string>& har_feature_names();  // rv15, rv60, rv240, rv1440, season

// Per-row inputs of rows [from, to) of a series for horizon h (see above). The features and the
// baselines of row i read only bars <= i; the target reads bars up to t + h.
struct HarData {
  int horizon = 0;
  std::size_t from = 0;
  std::vector<std::int64_t> ts;                       // ts of each row
  std::vector<std::array<double, kHarFeatures>> x;    // features (NaN = undefined)
  std::vector<double> y;                              // ln RV target (NaN = undefined)
  std::vector<double> trailing;                       // baseline RV(t-h, t] (NaN = undefined)
  std::vector<double> formula;                        // baseline sigma * sqrt(h) (NaN = undefined)
  std::size_t size() const { return ts.size(); }
};
// s is validated (BarSeries::validate); horizon in [1, 10080]; from <= to <= size.
HarData har_data(const BarSeries& s, int horizon, std::size_t from, std::size_t to);

// The minute ranges [first, last] (inclusive) the features and baselines of a row at minute t
// read: the last 1441 minutes, and per earlier week the seasonal window of the hours the target
// covers with the minute before it (1 + kSeasonalWeeks ranges, ascending within each). har_data
// of a series holding only the bars of these ranges (up to t) gives row t the same features and
// baselines as the full series: a live prediction reads only these.
std::vector<std::pair<std::int64_t, std::int64_t>> har_read_ranges(std::int64_t t, int horizon);

struct HarModel {
  int horizon = 0;
  double ridge = 0;
  std::array<double, kHarFeatures> center{}, scale{}, coef{};
  double intercept = 0;
  double smearing = 1;
  double resid_sd = 0;
  std::size_t train_rows = 0;

  double predict_log(const std::array<double, kHarFeatures>& x) const;    // mu; NaN if a feature is
  double predict_sigma(const std::array<double, kHarFeatures>& x) const;  // RV in %; NaN likewise
  nlohmann::json to_json() const;
  static HarModel from_json(const nlohmann::json& j);  // DataError when not a valid HAR model
};

constexpr std::size_t kHarMinTrainRows = 100;
constexpr double kHarDefaultRidge = 1e-3;
// Fits on the given rows of d (only rows with a finite target and finite features count; the rows
// are used as given: the caller chooses them, e.g. with split_rows). InvalidParameter when fewer
// than kHarMinTrainRows rows are usable or ridge is not finite and >= 0.
HarModel fit_har(const HarData& d, const std::vector<std::size_t>& rows, double ridge);

// Losses of the model against the two baselines, on the rows of d where the target, the model's
// forecast (from `sigma` and `mu`, one per row of d, NaN = none) and both baselines are finite
// and > 0.
struct VolMetrics {
  std::size_t n = 0;
  double qlike = 0, qlike_baseline = 0, qlike_formula = 0;        // NaN when n == 0
  double rmse_log = 0, rmse_log_baseline = 0, rmse_log_formula = 0;
  double ratio() const { return qlike / qlike_baseline; }         // model / trailing baseline
};
VolMetrics vol_metrics(const HarData& d, const std::vector<double>& sigma, const std::vector<double>& mu,
                       const std::vector<std::size_t>& rows);
double qlike_loss(double actual_rv, double forecast_rv);

// ---- options, training and walk-forward --------------------------------------------------------

struct VolOptions {
  double ridge = kHarDefaultRidge;  // ridge
  double validation_split = 0.2;    // validationSplit (training): training.validationSplit by default
  int train_days = 30;              // trainDays: training rows from the last N days (training);
                                    // evaluation: 0 = expanding window, else a rolling N-day window
  int refit_every = 1440;           // refitEvery (evaluation, minutes)
  int warmup_days = 14;             // warmupDays (evaluation): first refit this long after the first bar
};
// Parses the options object of ml_train_volatility (evaluate = false: keys ridge, validationSplit,
// trainDays) or ml_volatility_evaluate (evaluate = true: ridge, trainDays, refitEvery,
// warmupDays). `default_split` is training.validationSplit. InvalidParameter for an unknown key
// (naming the keys), a value of the wrong type or out of range.
VolOptions parse_vol_options(const nlohmann::json& options, bool evaluate, double default_split);

// Trains on the rows of s from `first_row` (bars before it are only history for the features):
// the rows with a target are split by split_rows(n, validation_split, horizon): the model is fit
// on the training part and its metrics are those of the validation part.
struct VolTrainResult {
  HarModel model;
  VolMetrics valid;
  std::size_t rows = 0, train_rows = 0, valid_rows = 0;
  std::int64_t train_from = 0, train_to = 0, valid_from = 0, valid_to = 0;  // minutes (row ts)
};
VolTrainResult train_volatility(const BarSeries& s, std::size_t first_row, int horizon, const VolOptions& o);

// Walk-forward: refits at T_k = ts[0] + warmup_days * 1440 + k * refit_every; the model of T_k is
// fit on the rows t with t + h <= T_k (and t >= T_k - train_days * 1440 when train_days > 0) and
// predicts the rows T_k <= t < T_{k+1}. A refit with fewer than kHarMinTrainRows usable rows is
// skipped (its rows get no prediction). Each prediction reads only bars <= its row.
struct WalkForward {
  HarData data;
  std::vector<double> sigma, mu;  // per row of data (NaN = no prediction)
  VolMetrics metrics;
  int refits = 0;
};
WalkForward walk_forward(const BarSeries& s, int horizon, const VolOptions& o);

}  // namespace cml
