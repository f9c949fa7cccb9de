// cryptoml volatility: market statistics and the HAR volatility model (see volatility.hpp).
#include "volatility.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include <Eigen/Dense>

#include "honest.hpp"
#include "options.hpp"
#include "seasonality.hpp"

namespace cml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t kMinutesPerWeekV = 10080;

std::int64_t floordiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

void check_series(const std::vector<std::int64_t>& ts, const std::vector<double>& close, const char* what) {
  if (ts.size() != close.size())
    throw InvalidParameter(std::string(what) + ": " + std::to_string(ts.size()) + " timestamps but " +
                               std::to_string(close.size()) + " closes",
                           "rule: one close per bar");
  for (std::size_t j = 0; j < ts.size(); ++j) {
    if (!(std::isfinite(close[j]) && close[j] > 0))
      throw InvalidParameter(std::string(what) + ": close of bar " + std::to_string(j + 1) + " is not a positive number",
                             "rule: closes are finite and > 0");
    if (j > 0 && ts[j] <= ts[j - 1])
      throw InvalidParameter(std::string(what) + ": bar " + std::to_string(j + 1) + " is not after bar " +
                                 std::to_string(j),
                             "rule: bar times strictly increase");
  }
}

// Sample standard deviation (n - 1); NaN with fewer than 2 values.
double sample_sd(const std::vector<double>& x) {
  if (x.size() < 2) return kNaN;
  double m = 0;
  for (double v : x) m += v;
  m /= static_cast<double>(x.size());
  double ss = 0;
  for (double v : x) ss += (v - m) * (v - m);
  return std::sqrt(ss / static_cast<double>(x.size() - 1));
}

// The returns of the market statistics' window ending at bar i, grouped by hour k = 0..24.
std::vector<std::vector<double>> hourly_returns(const std::vector<std::int64_t>& ts, const std::vector<double>& close,
                                                std::size_t i, int max_hour) {
  std::vector<std::vector<double>> groups(static_cast<std::size_t>(max_hour) + 1);
  const std::int64_t t = ts[i];
  for (std::size_t j = i; j >= 1; --j) {
    if (ts[j - 1] <= t - 1441) break;  // the previous bar is outside the window: no return
    const std::int64_t k = (t - ts[j]) / 60;
    if (k > max_hour) break;
    groups[static_cast<std::size_t>(k)].push_back(100.0 * (close[j] / close[j - 1] - 1.0));
  }
  return groups;
}

}  // namespace

// ---- market statistics ------------------------------------------------------------------------

double last_hour_sigma(const std::vector<std::int64_t>& ts, const std::vector<double>& close, std::size_t i) {
  if (i >= ts.size() || ts.size() != close.size())
    throw InvalidParameter("last hour sigma: bar " + std::to_string(i + 1) + " is not in the series",
                           "rule: the bar must be one of the series' bars");
  return sample_sd(hourly_returns(ts, close, i, 0)[0]);
}

MarketStats market_stats(const std::vector<std::int64_t>& ts, const std::vector<double>& close,
                         const std::vector<int>& horizons) {
  if (ts.empty()) throw InvalidParameter("market statistics: no bars", "rule: the symbol needs at least one bar");
  for (int h : horizons)
    if (h < 1)
      throw InvalidParameter("invalid horizon = " + std::to_string(h) + ": must be >= 1 minute", "rule: horizon >= 1");
  const std::size_t first = ts.size() > 1441 ? ts.size() - 1441 : 0;
  {
    const std::vector<std::int64_t> tail_ts(ts.begin() + static_cast<std::ptrdiff_t>(first), ts.end());
    const std::vector<double> tail_c(close.begin() + static_cast<std::ptrdiff_t>(std::min(first, close.size())),
                                     close.end());
    check_series(tail_ts, tail_c, "market statistics");
  }
  const std::size_t i = ts.size() - 1;
  MarketStats m;
  const auto groups = hourly_returns(ts, close, i, 24);
  std::vector<double> sd;
  for (const auto& g : groups) sd.push_back(sample_sd(g));
  m.sigma = sd[0];
  if (std::isnan(m.sigma)) {
    m.vol_pct = kNaN;
  } else {
    int below = 0, with = 0;
    for (double s : sd)
      if (!std::isnan(s)) {
        ++with;
        if (s <= m.sigma) ++below;
      }
    m.vol_pct = static_cast<double>(below) / static_cast<double>(with);
  }
  const int bars = static_cast<int>(std::min<std::size_t>(241, ts.size()));
  for (int h : horizons) {
    HorizonStats hs;
    hs.horizon = h;
    hs.n = std::min({std::max(h, 10), 240, bars - 1});
    if (hs.n < 1) {
      hs.n = 0;
      hs.er = kNaN;
    } else {
      double steps = 0;  // newest move first, as the SQL's running sum
      for (int q = 0; q < hs.n; ++q) steps += std::fabs(close[i - q] - close[i - q - 1]);
      hs.er = steps > 0 ? std::fabs(close[i] - close[i - hs.n]) / steps : 0.0;
    }
    hs.regime = m.vol_pct >= 0.9 ? "volatile" : (hs.er >= 0.3 ? "trending" : "ranging");
    m.horizons.push_back(hs);
  }
  return m;
}

// ---- HAR data -----------------------------------------------------------------------------------

const std::vector<std::string>& har_feature_names() {
  static const std::vector<std::string> names{"rv15", "rv60", "rv240", "rv1440", "season"};
  return names;
}

namespace {

constexpr int kTrailing[4] = {15, 60, 240, 1440};

// Squared minute log returns of the bars of a series (0 where the previous minute has no bar,
// which `has` marks). RV sums them over the window directly (not as a difference of prefix sums),
// so a row's value does not depend on the bars before its window, bit for bit.
struct RvIndex {
  const std::vector<std::int64_t>& ts;
  std::vector<double> sq;
  std::vector<char> has;

  RvIndex(const BarSeries& s) : ts(s.ts), sq(s.size(), 0.0), has(s.size(), 0) {
    for (std::size_t j = 1; j < s.size(); ++j)
      if (s.ts[j - 1] == s.ts[j] - 1) {
        const double r = 100.0 * std::log(s.close[j] / s.close[j - 1]);
        sq[j] = r * r;
        has[j] = 1;
      }
  }
  // RV(a, b]: the minutes a < m <= b
  double rv(std::int64_t a, std::int64_t b) const {
    const std::size_t lo = static_cast<std::size_t>(std::upper_bound(ts.begin(), ts.end(), a) - ts.begin());
    const std::size_t hi = static_cast<std::size_t>(std::upper_bound(ts.begin(), ts.end(), b) - ts.begin());
    double ss = 0;
    std::int64_t c = 0;
    for (std::size_t j = lo; j < hi; ++j) {
      ss += sq[j];
      c += has[j];
    }
    const std::int64_t len = b - a;
    if (c == 0 || 2 * c < len) return kNaN;
    return std::sqrt(ss * static_cast<double>(len) / static_cast<double>(c));
  }
};

double safe_log(double v) { return (std::isfinite(v) && v > 0) ? std::log(v) : kNaN; }

}  // namespace

HarData har_data(const BarSeries& s, int horizon, std::size_t from, std::size_t to) {
  if (horizon < 1 || horizon > 10080)
    throw InvalidParameter("invalid horizon = " + std::to_string(horizon) + ": must be between 1 and 10080 minutes",
                           "rule: horizon in [1, 10080]");
  if (from > to || to > s.size())
    throw InvalidParameter("volatility rows [" + std::to_string(from) + ", " + std::to_string(to) +
                               ") are not within the series (" + std::to_string(s.size()) + " bars)",
                           "rule: from <= to <= bars");
  s.validate();
  HarData d;
  d.horizon = horizon;
  d.from = from;
  const std::size_t n = to - from;
  d.ts.resize(n);
  d.x.resize(n);
  d.y.assign(n, kNaN);
  d.trailing.assign(n, kNaN);
  d.formula.assign(n, kNaN);
  if (n == 0) return d;
  const RvIndex idx(s);
  const std::int64_t last = s.ts.back();
  std::unordered_map<std::int64_t, SeasonalProfile> profiles;  // by hour start: the windows lie in
                                                               // earlier weeks, so the profile of an
                                                               // hour is the same for every row allowed to ask
  const double sqrt_h = std::sqrt(static_cast<double>(horizon));
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t i = from + r;
    const std::int64_t t = s.ts[i];
    d.ts[r] = t;
    for (int k = 0; k < 4; ++k)
      d.x[r][k] = safe_log(idx.rv(t - kTrailing[k], t) / std::sqrt(static_cast<double>(kTrailing[k])));
    // seasonality of the hours of (t, t+h] that start at or before t + 60
    double wsum = 0, vsum = 0;
    const std::int64_t end = t + std::min(horizon, 60);
    for (std::int64_t hs = floordiv(t + 1, 60) * 60; hs <= end && hs <= t + 60; hs += 60) {
      const std::int64_t a = std::max(hs, t + 1), b = std::min(hs + 59, t + horizon);
      const double minutes = static_cast<double>(b - a + 1);
      if (minutes <= 0) continue;
      auto it = profiles.find(hs);
      if (it == profiles.end()) it = profiles.emplace(hs, seasonal_profile(s, i, hs)).first;
      if (it->second.returns > 0) {
        wsum += minutes;
        vsum += minutes * it->second.abs_return;
      }
    }
    d.x[r][4] = wsum > 0 ? safe_log(vsum / wsum) : kNaN;
    d.trailing[r] = idx.rv(t - horizon, t);
    const double sigma = last_hour_sigma(s.ts, s.close, i);
    d.formula[r] = sigma * sqrt_h;
    if (t + horizon <= last) d.y[r] = safe_log(idx.rv(t, t + horizon));
  }
  return d;
}

std::vector<std::pair<std::int64_t, std::int64_t>> har_read_ranges(std::int64_t t, int horizon) {
  if (horizon < 1 || horizon > 10080)
    throw InvalidParameter("invalid horizon = " + std::to_string(horizon) + ": must be between 1 and 10080 minutes",
                           "rule: horizon in [1, 10080]");
  std::vector<std::pair<std::int64_t, std::int64_t>> r;
  r.emplace_back(t - 1440, t);
  // the hours har_data's seasonal feature asks for: from the one of t + 1 while they start by
  // t + min(h, 60)
  const std::int64_t first_hour = floordiv(t + 1, 60) * 60;
  std::int64_t last_hour = first_hour;
  while (last_hour + 60 <= t + std::min(horizon, 60)) last_hour += 60;
  for (int w = 1; w <= kSeasonalWeeks; ++w)
    r.emplace_back(first_hour - kMinutesPerWeekV * w - 1, last_hour - kMinutesPerWeekV * w + 59);
  return r;
}

// ---- the model ------------------------------------------------------------------------------------

double HarModel::predict_log(const std::array<double, kHarFeatures>& x) const {
  double mu = intercept;
  for (int k = 0; k < kHarFeatures; ++k) {
    if (!std::isfinite(x[k])) return kNaN;
    mu += coef[k] * (x[k] - center[k]) / scale[k];
  }
  return mu;
}

double HarModel::predict_sigma(const std::array<double, kHarFeatures>& x) const {
  const double mu = predict_log(x);
  return std::isfinite(mu) ? std::exp(mu) * std::sqrt(smearing) : kNaN;
}

nlohmann::json HarModel::to_json() const {
  nlohmann::json j;
  j["type"] = "har";
  j["version"] = 1;
  j["horizon"] = horizon;
  j["features"] = har_feature_names();
  j["center"] = std::vector<double>(center.begin(), center.end());
  j["scale"] = std::vector<double>(scale.begin(), scale.end());
  j["coef"] = std::vector<double>(coef.begin(), coef.end());
  j["intercept"] = intercept;
  j["smearing"] = smearing;
  j["resid_sd"] = resid_sd;
  j["ridge"] = ridge;
  j["train_rows"] = train_rows;
  return j;
}

HarModel HarModel::from_json(const nlohmann::json& j) {
  auto bad = [](const std::string& why) {
    return DataError("stored volatility model is not a valid HAR model: " + why,
                     "rule: a HAR model is {type: har, version: 1, horizon, features, center, scale, coef, intercept, "
                     "smearing, ...} with finite numbers");
  };
  if (!j.is_object()) throw bad("not a JSON object");
  auto num = [&](const char* key) {
    if (!j.contains(key) || !j[key].is_number()) throw bad(std::string("\"") + key + "\" is not a number");
    const double v = j[key].get<double>();
    if (!std::isfinite(v)) throw bad(std::string("\"") + key + "\" is not finite");
    return v;
  };
  auto arr = [&](const char* key) {
    std::array<double, kHarFeatures> a{};
    if (!j.contains(key) || !j[key].is_array() || j[key].size() != kHarFeatures)
      throw bad(std::string("\"") + key + "\" is not an array of " + std::to_string(kHarFeatures) + " numbers");
    for (int k = 0; k < kHarFeatures; ++k) {
      if (!j[key][k].is_number()) throw bad(std::string("\"") + key + "\" holds a non-number");
      a[k] = j[key][k].get<double>();
      if (!std::isfinite(a[k])) throw bad(std::string("\"") + key + "\" holds a non-finite number");
    }
    return a;
  };
  if (!j.contains("type") || j["type"] != "har") throw bad("type is not \"har\"");
  if (num("version") != 1) throw bad("version is not 1");
  if (!j.contains("features") || j["features"] != nlohmann::json(har_feature_names()))
    throw bad("features are not " + nlohmann::json(har_feature_names()).dump());
  HarModel m;
  const double h = num("horizon");
  if (h < 1 || h > 10080 || h != std::floor(h)) throw bad("horizon is not an integer in [1, 10080]");
  m.horizon = static_cast<int>(h);
  m.center = arr("center");
  m.scale = arr("scale");
  for (double v : m.scale)
    if (!(v > 0)) throw bad("a scale is not > 0");
  m.coef = arr("coef");
  m.intercept = num("intercept");
  m.smearing = num("smearing");
  if (!(m.smearing > 0)) throw bad("smearing is not > 0");
  m.resid_sd = j.contains("resid_sd") ? num("resid_sd") : 0.0;
  m.ridge = j.contains("ridge") ? num("ridge") : 0.0;
  m.train_rows = j.contains("train_rows") ? static_cast<std::size_t>(std::max(0.0, num("train_rows"))) : 0;
  return m;
}

namespace {
bool usable(const HarData& d, std::size_t r) {
  if (!std::isfinite(d.y[r])) return false;
  for (double v : d.x[r])
    if (!std::isfinite(v)) return false;
  return true;
}
}  // namespace

HarModel fit_har(const HarData& d, const std::vector<std::size_t>& rows, double ridge) {
  if (!(std::isfinite(ridge) && ridge >= 0))
    throw InvalidParameter("option ridge must be a finite number >= 0", "rule: ridge is a finite number >= 0");
  std::vector<std::size_t> use;
  use.reserve(rows.size());
  for (std::size_t r : rows) {
    if (r >= d.size())
      throw InvalidParameter("volatility fit: row " + std::to_string(r + 1) + " is past the data (" +
                                 std::to_string(d.size()) + " rows)",
                             "rule: rows index the data");
    if (usable(d, r)) use.push_back(r);
  }
  if (use.size() < kHarMinTrainRows)
    throw DataError("too few rows to fit the volatility model: " + std::to_string(use.size()) +
                               " with a known target and every feature",
                           "rule: at least " + std::to_string(kHarMinTrainRows) + " rows",
                           "load more history (the features need a day of bars before a row, the seasonality "
                           "a week)");
  const double n = static_cast<double>(use.size());
  HarModel m;
  m.horizon = d.horizon;
  m.ridge = ridge;
  m.train_rows = use.size();
  double ybar = 0;
  for (std::size_t r : use) ybar += d.y[r];
  ybar /= n;
  for (int k = 0; k < kHarFeatures; ++k) {
    double mk = 0;
    for (std::size_t r : use) mk += d.x[r][k];
    mk /= n;
    double ss = 0;
    for (std::size_t r : use) ss += (d.x[r][k] - mk) * (d.x[r][k] - mk);
    const double sd = std::sqrt(ss / n);
    m.center[k] = mk;
    m.scale[k] = sd > 0 ? sd : 1.0;
  }
  Eigen::Matrix<double, kHarFeatures, kHarFeatures> A = Eigen::Matrix<double, kHarFeatures, kHarFeatures>::Zero();
  Eigen::Matrix<double, kHarFeatures, 1> b = Eigen::Matrix<double, kHarFeatures, 1>::Zero();
  for (std::size_t r : use) {
    Eigen::Matrix<double, kHarFeatures, 1> z;
    for (int k = 0; k < kHarFeatures; ++k) z[k] = (d.x[r][k] - m.center[k]) / m.scale[k];
    A.noalias() += z * z.transpose();
    b.noalias() += z * (d.y[r] - ybar);
  }
  // a tiny floor keeps a constant feature (z = 0) solvable when ridge is 0
  for (int k = 0; k < kHarFeatures; ++k) A(k, k) += ridge * n + 1e-12 * n;
  const Eigen::Matrix<double, kHarFeatures, 1> beta = A.ldlt().solve(b);
  for (int k = 0; k < kHarFeatures; ++k) m.coef[k] = beta[k];
  m.intercept = ybar;
  double smear = 0, ss = 0;
  for (std::size_t r : use) {
    const double e = d.y[r] - m.predict_log(d.x[r]);
    smear += std::exp(2 * e);
    ss += e * e;
  }
  m.smearing = smear / n;
  m.resid_sd = std::sqrt(ss / n);
  if (!std::isfinite(m.intercept) || !std::isfinite(m.smearing))
    throw DataError("volatility fit: the regression gave non-finite coefficients", "rule: features and targets are finite");
  for (double c : m.coef)
    if (!std::isfinite(c))
      throw DataError("volatility fit: the regression gave non-finite coefficients", "rule: features and targets are finite");
  return m;
}

// ---- losses -------------------------------------------------------------------------------------

double qlike_loss(double actual_rv, double forecast_rv) {
  const double q = (actual_rv * actual_rv) / (forecast_rv * forecast_rv);
  return q - std::log(q) - 1.0;
}

VolMetrics vol_metrics(const HarData& d, const std::vector<double>& sigma, const std::vector<double>& mu,
                       const std::vector<std::size_t>& rows) {
  if (sigma.size() != d.size() || mu.size() != d.size())
    throw InvalidParameter("volatility metrics: one forecast per row is needed", "rule: sizes match");
  VolMetrics m;
  double q[3] = {0, 0, 0}, e[3] = {0, 0, 0};
  auto ok = [](double v) { return std::isfinite(v) && v > 0; };
  for (std::size_t r : rows) {
    if (r >= d.size() || !std::isfinite(d.y[r]) || !ok(sigma[r]) || !std::isfinite(mu[r]) || !ok(d.trailing[r]) ||
        !ok(d.formula[r]))
      continue;
    const double y = std::exp(d.y[r]);
    const double f[3] = {sigma[r], d.trailing[r], d.formula[r]};
    const double lf[3] = {mu[r], std::log(d.trailing[r]), std::log(d.formula[r])};
    for (int k = 0; k < 3; ++k) {
      q[k] += qlike_loss(y, f[k]);
      e[k] += (lf[k] - d.y[r]) * (lf[k] - d.y[r]);
    }
    ++m.n;
  }
  if (m.n == 0) {
    m.qlike = m.qlike_baseline = m.qlike_formula = kNaN;
    m.rmse_log = m.rmse_log_baseline = m.rmse_log_formula = kNaN;
    return m;
  }
  const double n = static_cast<double>(m.n);
  m.qlike = q[0] / n;
  m.qlike_baseline = q[1] / n;
  m.qlike_formula = q[2] / n;
  m.rmse_log = std::sqrt(e[0] / n);
  m.rmse_log_baseline = std::sqrt(e[1] / n);
  m.rmse_log_formula = std::sqrt(e[2] / n);
  return m;
}

// ---- options --------------------------------------------------------------------------------------

namespace {

const std::vector<OptionSpec>& vol_specs(bool evaluate) {
  static const std::vector<OptionSpec> train{
      number_option("ridge", 0, false, 100, false, "ridge penalty on the standardized coefficients"),
      number_option("validationSplit", 0, true, 1, true),
      integer_option("trainDays", 1, 3650, "days of training rows before the latest bar"),
  };
  static const std::vector<OptionSpec> eval{
      number_option("ridge", 0, false, 100, false, "ridge penalty on the standardized coefficients"),
      integer_option("trainDays", 0, 3650, "0 = expanding window, else a rolling window of N days"),
      integer_option("refitEvery", 1, 100800, "minutes between refits"),
      integer_option("warmupDays", 1, 3650, "days of bars before the first refit"),
  };
  return evaluate ? eval : train;
}

}  // namespace

VolOptions parse_vol_options(const nlohmann::json& options, bool evaluate, double default_split) {
  const auto& specs = vol_specs(evaluate);
  const std::string fn = evaluate ? "ml_volatility_evaluate" : "ml_train_volatility";
  if (!options.is_object())
    throw InvalidParameter("options of " + fn + " must be a JSON object, got " + options.dump().substr(0, 60),
                           "rule: options is a JSON object");
  VolOptions o;
  o.validation_split = default_split;
  o.train_days = evaluate ? 0 : 30;
  for (auto it = options.begin(); it != options.end(); ++it) {
    const OptionSpec* spec = find_option(specs, it.key());
    if (!spec) {
      std::string keys;
      for (const auto& s : specs) keys += (keys.empty() ? "" : ", ") + s.key;
      throw InvalidParameter("unknown option \"" + it.key().substr(0, 60) + "\" for " + fn, "rule: options keys are " + keys);
    }
    const std::string& k = spec->key;
    if (k == "ridge") o.ridge = option_number(*spec, it.value(), k);
    else if (k == "validationSplit") o.validation_split = option_number(*spec, it.value(), k);
    else if (k == "trainDays") o.train_days = static_cast<int>(option_int(*spec, it.value(), k));
    else if (k == "refitEvery") o.refit_every = static_cast<int>(option_int(*spec, it.value(), k));
    else if (k == "warmupDays") o.warmup_days = static_cast<int>(option_int(*spec, it.value(), k));
  }
  if (!(o.validation_split > 0 && o.validation_split < 1))
    throw InvalidParameter("invalid validation split = " + std::to_string(o.validation_split) +
                               ": must be strictly between 0 and 1",
                           "rule: 0 < validationSplit < 1");
  return o;
}

// ---- training and walk-forward ----------------------------------------------------------------------

VolTrainResult train_volatility(const BarSeries& s, std::size_t first_row, int horizon, const VolOptions& o) {
  if (first_row > s.size())
    throw InvalidParameter("volatility training: first row " + std::to_string(first_row + 1) + " is past the series",
                           "rule: the first row is one of the bars");
  HarData d = har_data(s, horizon, first_row, s.size());
  // the time-ordered rows that have a target (the sample set the split rule cuts)
  std::vector<std::size_t> rows;
  for (std::size_t r = 0; r < d.size(); ++r)
    if (std::isfinite(d.y[r])) rows.push_back(r);
  const SplitRows sp = split_rows(rows.size(), o.validation_split, horizon);
  if (!sp.ok)
    throw DataError("too few rows to train the volatility model: " + std::to_string(rows.size()) +
                               " rows with a known target at horizon " + std::to_string(horizon),
                           "rule: at least " + std::to_string(split_min_rows(o.validation_split, horizon)) +
                               " rows (split rule: training, embargo of the horizon, validation)",
                           "load more bars or lower validationSplit");
  const std::vector<std::size_t> train(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(sp.train));
  const std::vector<std::size_t> valid(rows.end() - static_cast<std::ptrdiff_t>(sp.valid), rows.end());
  VolTrainResult res;
  res.model = fit_har(d, train, o.ridge);
  std::vector<double> sigma(d.size(), kNaN), mu(d.size(), kNaN);
  for (std::size_t r : valid) {
    mu[r] = res.model.predict_log(d.x[r]);
    sigma[r] = res.model.predict_sigma(d.x[r]);
  }
  res.valid = vol_metrics(d, sigma, mu, valid);
  res.rows = rows.size();
  res.train_rows = res.model.train_rows;
  res.valid_rows = valid.size();
  res.train_from = d.ts[train.front()];
  res.train_to = d.ts[train.back()];
  res.valid_from = d.ts[valid.front()];
  res.valid_to = d.ts[valid.back()];
  return res;
}

WalkForward walk_forward(const BarSeries& s, int horizon, const VolOptions& o) {
  if (o.refit_every < 1 || o.warmup_days < 1 || o.train_days < 0)
    throw InvalidParameter("walk-forward: refitEvery and warmupDays must be >= 1 and trainDays >= 0",
                           "rule: refitEvery >= 1, warmupDays >= 1, trainDays >= 0");
  WalkForward w;
  w.data = har_data(s, horizon, 0, s.size());
  const HarData& d = w.data;
  w.sigma.assign(d.size(), kNaN);
  w.mu.assign(d.size(), kNaN);
  if (d.size() == 0) {
    w.metrics = vol_metrics(d, w.sigma, w.mu, {});
    return w;
  }
  const std::int64_t start = d.ts.front() + static_cast<std::int64_t>(o.warmup_days) * 1440;
  std::vector<std::size_t> predicted;
  std::size_t next = static_cast<std::size_t>(std::lower_bound(d.ts.begin(), d.ts.end(), start) - d.ts.begin());
  for (std::int64_t T = start; next < d.size(); T += o.refit_every) {
    const std::int64_t T_next = T + o.refit_every;
    std::size_t end = next;
    while (end < d.size() && d.ts[end] < T_next) ++end;
    if (end == next) continue;
    std::vector<std::size_t> train;
    const std::int64_t lo = o.train_days > 0 ? T - static_cast<std::int64_t>(o.train_days) * 1440 : INT64_MIN;
    for (std::size_t r = 0; r < d.size() && d.ts[r] + horizon <= T; ++r)
      if (d.ts[r] >= lo && usable(d, r)) train.push_back(r);
    if (train.size() >= kHarMinTrainRows) {
      const HarModel m = fit_har(d, train, o.ridge);
      ++w.refits;
      for (std::size_t r = next; r < end; ++r) {
        w.mu[r] = m.predict_log(d.x[r]);
        w.sigma[r] = m.predict_sigma(d.x[r]);
        predicted.push_back(r);
      }
    }
    next = end;
  }
  w.metrics = vol_metrics(d, w.sigma, w.mu, predicted);
  return w;
}

}  // namespace cml
