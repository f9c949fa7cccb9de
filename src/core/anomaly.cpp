// Per-bar anomaly detector: see anomaly.hpp for the definitions.
#include "anomaly.hpp"

#include "errors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

namespace cml {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* const kNames[kAnomalyFeatures] = {"return", "range", "volume", "residual"};

// Median of v (reordered in place); v not empty.
double median_of(std::vector<double>& v) {
  const std::size_t n = v.size(), mid = n / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  double m = v[mid];
  if (n % 2 == 0) m = 0.5 * (m + *std::max_element(v.begin(), v.begin() + mid));
  return m;
}

struct Robust {
  double median = kNaN, scale = kNaN;
};

// Median and scale (anomaly.hpp) of the finite values of v; NaN when fewer than min_finite.
Robust robust_of(const std::vector<double>& values, std::size_t min_finite, double floor, std::vector<double>& buf) {
  buf.clear();
  for (double x : values)
    if (std::isfinite(x)) buf.push_back(x);
  Robust r;
  if (buf.size() < min_finite || buf.empty()) return r;
  r.median = median_of(buf);
  double mean_ad = 0;
  for (double& x : buf) {
    x = std::fabs(x - r.median);
    mean_ad += x;
  }
  mean_ad /= (double)buf.size();
  const double mad = median_of(buf);
  r.scale = std::max({kAnomalyMadScale * mad, kAnomalyMeanAdScale * mean_ad, floor});
  return r;
}

double clip(double x, const Robust& r) {
  return std::min(std::max(x, r.median - kAnomalyWinsor * r.scale), r.median + kAnomalyWinsor * r.scale);
}

}  // namespace

const char* anomaly_feature_name(int feature) {
  return feature >= 0 && feature < kAnomalyFeatures ? kNames[feature] : "unknown";
}

void check_anomaly_settings(const AnomalySettings& s) {
  if (s.window < 30 || s.window > 10080)
    throw InvalidParameter("invalid anomaly window " + std::to_string(s.window),
                           "rule: monitoring.anomalyWindow is an integer between 30 and 10080 (bars)");
  if (!(s.threshold >= 1 && s.threshold <= 1000)) {
    std::ostringstream os;
    os << s.threshold;
    throw InvalidParameter("invalid anomaly threshold " + os.str(),
                           "rule: monitoring.anomalyThreshold is a number between 1 and 1000 (robust z-score)");
  }
}

std::size_t anomaly_min_finite(int window) { return std::max<std::size_t>(10, (std::size_t)std::max(window, 0) / 2); }

std::vector<AnomalyScore> score_anomalies(const AnomalyBars& b, std::size_t first, const AnomalySettings& s) {
  check_anomaly_settings(s);
  const std::size_t w = (std::size_t)s.window;
  std::vector<AnomalyScore> out;
  if (b.n == 0 || first >= b.n) return out;
  const std::size_t start = first > w + 1 ? first - w - 1 : 0;  // first row read
  for (std::size_t i = start + 1; i < b.n; i++)
    if (b.minute[i] <= b.minute[i - 1])
      throw InvalidParameter("bars out of time order at row " + std::to_string(i),
                             "rule: one bar per minute, in increasing time order");
  // Features of every row read (indexed from start).
  const std::size_t m = b.n - start;
  std::vector<double> ret(m, kNaN), rng(m, kNaN), vol(m, kNaN), idx(m, kNaN);
  for (std::size_t k = 0; k < m; k++) {
    const std::size_t i = start + k;
    if (i > 0 && b.minute[i] - b.minute[i - 1] == 1 && b.close[i] > 0 && b.close[i - 1] > 0)
      ret[k] = std::log(b.close[i] / b.close[i - 1]);
    if (b.low[i] > 0 && b.high[i] >= b.low[i]) rng[k] = std::log(b.high[i] / b.low[i]);
    if (b.volume[i] >= 0) vol[k] = std::log1p(b.volume[i]);
    idx[k] = b.index_return[i];
    if (!std::isfinite(ret[k])) ret[k] = kNaN;
    if (!std::isfinite(rng[k])) rng[k] = kNaN;
    if (!std::isfinite(vol[k])) vol[k] = kNaN;
    if (!std::isfinite(idx[k])) idx[k] = kNaN;
  }
  const std::size_t min_finite = anomaly_min_finite(s.window);
  std::vector<double> win(w), buf, res(w), rt, mt;
  for (std::size_t i = std::max(first, w); i < b.n; i++) {
    const std::size_t k = i - start, k0 = k - w;  // window rows k0 .. k-1
    AnomalyScore sc;
    sc.row = i;
    const std::vector<double>* feats[3] = {&ret, &rng, &vol};
    const double floors[kAnomalyFeatures] = {kAnomalyReturnFloor, kAnomalyReturnFloor, kAnomalyVolumeFloor, kAnomalyReturnFloor};
    Robust rob[kAnomalyFeatures];
    for (int f = 0; f < 3; f++) {
      std::copy(feats[f]->begin() + k0, feats[f]->begin() + k, win.begin());
      rob[f] = robust_of(win, min_finite, floors[f], buf);
      sc.value[f] = (*feats[f])[k];
    }
    // beta on the window's winsorized (return, index) pairs
    std::copy(idx.begin() + k0, idx.begin() + k, win.begin());
    const Robust rob_idx = robust_of(win, 1, kAnomalyReturnFloor, buf);
    double sxy = 0, sxx = 0;
    std::size_t pairs = 0;
    if (std::isfinite(rob[kAnomalyReturn].median) && std::isfinite(rob_idx.median))
      for (std::size_t j = k0; j < k; j++)
        if (std::isfinite(ret[j]) && std::isfinite(idx[j])) {
          const double x = clip(idx[j], rob_idx), y = clip(ret[j], rob[kAnomalyReturn]);
          sxy += x * y;
          sxx += x * x;
          pairs++;
        }
    const bool beta_fitted = pairs >= kAnomalyMinBetaPairs && sxx > 0;
    sc.beta = beta_fitted ? std::min(std::max(sxy / sxx, 0.0), kAnomalyBetaMax) : 1.0;
    for (std::size_t j = k0; j < k; j++) res[j - k0] = ret[j] - sc.beta * idx[j];  // NaN propagates
    rob[kAnomalyResidual] = robust_of(res, min_finite, floors[kAnomalyResidual], buf);
    sc.value[kAnomalyResidual] = ret[k] - sc.beta * idx[k];
    // a fitted beta is uncertain: the residual's scale is that of a prediction at m_i
    if (beta_fitted && std::isfinite(rob[kAnomalyResidual].scale) && std::isfinite(idx[k]))
      rob[kAnomalyResidual].scale *= std::sqrt(1.0 + idx[k] * idx[k] / sxx);
    for (int f = 0; f < kAnomalyFeatures; f++) {
      sc.median[f] = rob[f].median;
      sc.scale[f] = rob[f].scale;
      sc.z[f] = std::isfinite(sc.value[f]) && std::isfinite(rob[f].median) ? (sc.value[f] - rob[f].median) / rob[f].scale : kNaN;
      if (!std::isfinite(sc.value[f])) sc.value[f] = kNaN;
      if (std::isfinite(sc.z[f])) {
        sc.score = std::max(sc.score, std::fabs(sc.z[f]));
        if (std::fabs(sc.z[f]) >= s.threshold) sc.kinds |= 1u << f;
      }
    }
    sc.anomalous = sc.kinds != 0;
    out.push_back(sc);
  }
  return out;
}

std::vector<std::string> anomaly_kinds(unsigned kinds) {
  std::vector<std::string> v;
  for (int f = 0; f < kAnomalyFeatures; f++)
    if (kinds & (1u << f)) v.push_back(kNames[f]);
  return v;
}

std::string anomaly_detail_json(const AnomalyScore& s) {
  auto num = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
  nlohmann::json j = nlohmann::json::object();
  for (int f = 0; f < kAnomalyFeatures; f++)
    j[kNames[f]] = {{"value", num(s.value[f])}, {"median", num(s.median[f])}, {"scale", num(s.scale[f])}, {"z", num(s.z[f])}};
  j["beta"] = num(s.beta);
  return j.dump();
}

}  // namespace cml
