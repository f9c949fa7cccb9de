// Honest statements of a forecast; see honest.hpp for the conventions.
#include "honest.hpp"

#include "text.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace cml {

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fmt(double v) { return format_double(v); }  // the project's one number formatter

// ceil((n + 1) * (1 - alpha)) without the floating-point step above a whole number: (n + 1) *
// (1 - alpha) = 9.000000000000002 for n = 9, alpha = 0.1 must give rank 9, not 10.
double conformal_rank(std::size_t n, double alpha) {
  const double x = static_cast<double>(n + 1) * (1.0 - alpha);
  const double r = std::round(x);
  if (std::fabs(x - r) <= 1e-9 * std::max(1.0, std::fabs(x))) return r;
  return std::ceil(x);
}

double normal_upper_tail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

}  // namespace

// ---- split ------------------------------------------------------------------------------------

SplitRows split_rows(std::size_t n, double validation_split, int horizon) {
  SplitRows s;
  if (!(validation_split > 0 && validation_split < 1))
    throw InvalidParameter("invalid validation split = " + fmt(validation_split) + ": must be strictly between 0 and 1",
                           "rule: 0 < validationSplit < 1");
  if (horizon < 1)
    throw InvalidParameter("invalid horizon = " + std::to_string(horizon) + ": must be >= 1 minute", "rule: horizon >= 1");
  s.valid = static_cast<std::size_t>(std::floor(static_cast<double>(n) * validation_split));
  s.embargo = static_cast<std::size_t>(horizon);
  s.train = n > s.valid + s.embargo ? n - s.valid - s.embargo : 0;
  s.ok = s.train >= kMinTrainRows && s.valid >= kMinValidRows;
  return s;
}

std::size_t split_min_rows(double validation_split, int horizon) {
  (void)split_rows(0, validation_split, horizon);  // checks the arguments
  // valid and train both grow without bound with n (0 < split < 1): the loop ends
  for (std::size_t n = 1;; ++n)
    if (split_rows(n, validation_split, horizon).ok) return n;
}

// ---- rolling origin ---------------------------------------------------------------------------

RollingOrigin rolling_origin(const std::vector<std::int64_t>& ts, int horizon, double validation_split, int folds,
                             const FoldTrainer& train_predict) {
  if (folds < 1 || folds > 20)
    throw InvalidParameter("invalid calibration folds = " + std::to_string(folds) + ": must be between 1 and 20",
                           "rule: 1 <= calibrationFolds <= 20");
  (void)split_rows(0, validation_split, horizon);
  for (std::size_t i = 1; i < ts.size(); ++i)
    if (ts[i] <= ts[i - 1])
      throw InvalidParameter("invalid sample times: sample " + std::to_string(i + 1) + " is not after sample " +
                                 std::to_string(i),
                             "rule: ts strictly increasing");
  RollingOrigin out;
  const std::size_t n = ts.size();
  const std::size_t chunks = static_cast<std::size_t>(folds) + 1;
  if (n < chunks) return out;
  const std::size_t size = n / chunks, first = size + n % chunks;
  for (int f = 1; f <= folds; ++f) {
    const std::size_t lo = first + static_cast<std::size_t>(f - 1) * size, hi = lo + size;
    const std::int64_t origin = ts[lo];
    // the samples before the chunk whose target was known at its first minute
    std::size_t known = 0;
    while (known < lo && ts[known] + horizon <= origin) ++known;
    const SplitRows sp = split_rows(known, validation_split, horizon);
    if (!sp.ok) continue;
    std::vector<std::size_t> train_rows, valid_rows, predict_rows;
    for (std::size_t i = 0; i < sp.train; ++i) train_rows.push_back(i);
    for (std::size_t i = known - sp.valid; i < known; ++i) valid_rows.push_back(i);
    for (std::size_t i = lo; i < hi; ++i) predict_rows.push_back(i);
    const std::vector<double> p = train_predict(train_rows, valid_rows, predict_rows);
    if (p.size() != predict_rows.size())
      throw InvalidParameter("rolling origin: the fold model returned " + std::to_string(p.size()) + " predictions for " +
                                 std::to_string(predict_rows.size()) + " rows",
                             "rule: one prediction (or NaN) per row");
    for (std::size_t k = 0; k < p.size(); ++k)
      if (std::isfinite(p[k])) {
        out.rows.push_back(predict_rows[k]);
        out.raw.push_back(p[k]);
      }
    out.folds_used++;
  }
  return out;
}

// ---- statements -------------------------------------------------------------------------------

void HonestSettings::validate() const {
  if (horizon < 1)
    throw InvalidParameter("invalid horizon = " + std::to_string(horizon) + ": must be >= 1 minute", "rule: horizon >= 1");
  if (!(coverage > 0 && coverage < 1))
    throw InvalidParameter("invalid interval coverage = " + fmt(coverage) + ": must be strictly between 0 and 1",
                           "rule: 0 < inference.intervalCoverage < 1");
  if (!(aci_gamma >= 0 && aci_gamma <= 1))
    throw InvalidParameter("invalid interval adaptation rate = " + fmt(aci_gamma) + ": must be between 0 and 1",
                           "rule: 0 <= inference.intervalAdaptRate <= 1");
  if (!(significance > 0 && significance <= 0.5))
    throw InvalidParameter("invalid skill significance = " + fmt(significance) + ": must be in (0, 0.5]",
                           "rule: 0 < inference.skillSignificance <= 0.5");
  if (window < 10)
    throw InvalidParameter("invalid calibration window = " + std::to_string(window) + ": must be >= 10 pairs",
                           "rule: inference.calibrationWindow >= 10");
}

double shrink_factor(const std::vector<double>& raw, const std::vector<double>& actual) {
  if (raw.size() != actual.size())
    throw InvalidParameter("shrink_factor: " + std::to_string(raw.size()) + " predictions and " +
                               std::to_string(actual.size()) + " outcomes",
                           "rule: one outcome per prediction");
  double spa = 0, spp = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    spa += raw[i] * actual[i];
    spp += raw[i] * raw[i];
  }
  if (!(spp > 0)) return 0;
  return std::min(1.0, std::max(0.0, spa / spp));
}

double long_run_variance(const std::vector<double>& x, int horizon, std::size_t* batch) {
  const std::size_t n = x.size();
  if (batch) *batch = 0;
  if (n < 4) return kNaN;
  double mean = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(n);
  // Andrews' AR(1) plug-in bandwidth for the Bartlett kernel
  double num = 0, den = 0;
  for (std::size_t i = 1; i < n; ++i) {
    num += (x[i] - mean) * (x[i - 1] - mean);
    den += (x[i - 1] - mean) * (x[i - 1] - mean);
  }
  double rho = den > 0 ? num / den : 0;
  rho = std::min(0.99, std::max(-0.99, rho));
  const double a = 4 * rho * rho / ((1 - rho) * (1 - rho) * (1 + rho) * (1 + rho));
  const double andrews = 1.1447 * std::cbrt(a * static_cast<double>(n));
  std::size_t m = std::max<std::size_t>(static_cast<std::size_t>(std::max(horizon, 1)), static_cast<std::size_t>(std::ceil(andrews)));
  m = std::min(m, n / 2);
  if (batch) *batch = m;
  // overlapping batch means, from prefix sums
  std::vector<double> prefix(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + (x[i] - mean);
  double ss = 0;
  for (std::size_t j = 0; j + m <= n; ++j) {
    const double bm = (prefix[j + m] - prefix[j]) / static_cast<double>(m);
    ss += bm * bm;
  }
  const double nn = static_cast<double>(n), mm = static_cast<double>(m);
  return nn * mm / ((nn - mm + 1) * (nn - mm)) * ss;
}

SkillTest diebold_mariano(const std::vector<double>& d, int horizon, double significance, std::size_t min_pairs) {
  SkillTest t;
  const std::size_t n = d.size();
  t.n = n;
  if (n == 0) return t;
  double mean = 0;
  for (double x : d) mean += x;
  mean /= static_cast<double>(n);
  t.mean_loss_diff = mean;
  if (n < 4) return t;
  const double v = long_run_variance(d, horizon, &t.batch);
  if (v > 0) {
    t.statistic = mean / std::sqrt(v / static_cast<double>(n));
  } else {
    t.statistic = mean > 0 ? std::numeric_limits<double>::infinity() : mean < 0 ? -std::numeric_limits<double>::infinity() : 0;
  }
  t.p_value = normal_upper_tail(t.statistic);
  t.skilled = n >= min_pairs && mean > 0 && t.p_value < significance;
  return t;
}

namespace {

// The regularized incomplete beta I_x(a, b) by its continued fraction (Lentz), for the t CDF.
double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x > (a + 1) / (a + b + 2)) return 1 - incomplete_beta(b, a, 1 - x);
  const double tiny = 1e-300;
  double f = 1, c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  f = d;
  for (int m = 1; m <= 300; ++m) {
    for (int k = 0; k < 2; ++k) {
      const double num = k == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1 + num * d;
      if (std::fabs(d) < tiny) d = tiny;
      c = 1 + num / c;
      if (std::fabs(c) < tiny) c = tiny;
      d = 1 / d;
      f *= c * d;
    }
    if (std::fabs(c * d - 1) < 1e-15) break;
  }
  return front * f / a;
}

}  // namespace

double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0))
    throw InvalidParameter("student_t_quantile: p = " + fmt(p) + ", df = " + fmt(df), "rule: 0 < p < 1 and df > 0");
  auto cdf = [df](double t) {
    const double x = df / (df + t * t);
    const double tail = 0.5 * incomplete_beta(df / 2, 0.5, x);
    return t >= 0 ? 1 - tail : tail;
  };
  double lo = -1e6, hi = 1e6;
  for (int i = 0; i < 400 && hi - lo > 1e-13 * std::max(1.0, std::fabs(lo)); ++i) {
    const double mid = 0.5 * (lo + hi);
    if (cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

double shrink_lower_bound(const std::vector<OutcomePair>& pairs, double significance) {
  std::vector<double> raw, actual;
  for (const OutcomePair& p : pairs) {
    raw.push_back(p.raw);
    actual.push_back(p.actual);
  }
  const double b = shrink_factor(raw, actual);
  if (b <= 0) return 0;
  // the least-squares slope of each of kSlopeBlocks consecutive blocks of equal count (the
  // first takes the remainder), when each holds at least kMinFitPairs pairs
  std::vector<double> slopes;
  const std::size_t n = pairs.size(), size = n / kSlopeBlocks;
  if (size < kMinFitPairs) return 0;
  for (std::size_t blk = 0; blk < kSlopeBlocks; ++blk) {
    const std::size_t lo = blk == 0 ? 0 : n % kSlopeBlocks + blk * size, hi = n % kSlopeBlocks + (blk + 1) * size;
    double spa = 0, spp = 0;
    for (std::size_t i = lo; i < hi; ++i) {
      spa += pairs[i].raw * pairs[i].actual;
      spp += pairs[i].raw * pairs[i].raw;
    }
    if (spp > 0) slopes.push_back(spa / spp);
  }
  const std::size_t k = slopes.size();
  if (k < 3) return 0;
  double mean = 0;
  for (double x : slopes) mean += x;
  mean /= static_cast<double>(k);
  double ss = 0;
  for (double x : slopes) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / static_cast<double>(k - 1));
  const double kk = static_cast<double>(k);
  const double bound = mean - student_t_quantile(1 - significance, kk - 1) * sd * std::sqrt(1 + 1 / kk);
  return std::min(b, std::max(0.0, bound));
}

SkillTest prequential_skill(const std::vector<OutcomePair>& pairs, int horizon, double significance, std::size_t min_pairs) {
  std::vector<double> d;
  d.reserve(pairs.size());
  double spa = 0, spp = 0;
  std::size_t known = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    while (known < i && pairs[known].ts + horizon <= pairs[i].ts) {
      spa += pairs[known].raw * pairs[known].actual;
      spp += pairs[known].raw * pairs[known].raw;
      ++known;
    }
    if (known < kMinFitPairs) continue;
    const double b = spp > 0 ? std::min(1.0, std::max(0.0, spa / spp)) : 0.0;
    const double a = pairs[i].actual, e = a - b * pairs[i].raw;
    d.push_back(a * a - e * e);
  }
  return diebold_mariano(d, horizon, significance, min_pairs);
}

double conformal_quantile(std::vector<double> scores, double alpha) {
  if (std::isnan(alpha)) throw InvalidParameter("conformal_quantile: alpha is NaN", "rule: alpha is a number");
  const std::size_t n = scores.size();
  if (n == 0) return kNaN;
  double rank = conformal_rank(n, alpha);
  std::size_t k = rank < 1 ? 1 : rank > static_cast<double>(n) ? n : static_cast<std::size_t>(rank);
  std::nth_element(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(k - 1), scores.end());
  return scores[k - 1];
}

double aci_alpha(double alpha, double gamma, std::size_t stated, std::size_t missed) {
  if (missed > stated)
    throw InvalidParameter("aci_alpha: " + std::to_string(missed) + " missed of " + std::to_string(stated) + " stated",
                           "rule: missed <= stated");
  return alpha + gamma * (static_cast<double>(stated) * alpha - static_cast<double>(missed));
}

Calibration calibrate(std::vector<OutcomePair> known, std::size_t stated, std::size_t missed, const HonestSettings& s) {
  s.validate();
  known.erase(std::remove_if(known.begin(), known.end(),
                             [](const OutcomePair& p) { return !std::isfinite(p.raw) || !std::isfinite(p.actual); }),
              known.end());
  // (a backtest's replay passes them in time order already: checked in O(n), not sorted again)
  const auto by_ts = [](const OutcomePair& a, const OutcomePair& b) { return a.ts < b.ts; };
  if (!std::is_sorted(known.begin(), known.end(), by_ts)) std::stable_sort(known.begin(), known.end(), by_ts);
  if (known.size() > s.window) known.erase(known.begin(), known.end() - static_cast<std::ptrdiff_t>(s.window));
  Calibration c;
  c.pairs = known.size();
  std::vector<double> raw, actual;
  raw.reserve(known.size());
  actual.reserve(known.size());
  for (const OutcomePair& p : known) {
    raw.push_back(p.raw);
    actual.push_back(p.actual);
  }
  c.shrink_ls = shrink_factor(raw, actual);
  c.skill = prequential_skill(known, s.horizon, s.significance, s.min_pairs);
  c.shrink = c.skill.skilled ? shrink_lower_bound(known, s.significance) : 0.0;
  const double b = c.shrink;
  c.abs_residuals.reserve(known.size());
  for (std::size_t i = 0; i < known.size(); ++i) c.abs_residuals.push_back(std::fabs(actual[i] - b * raw[i]));
  std::sort(c.abs_residuals.begin(), c.abs_residuals.end());
  c.alpha = std::min(1.0, std::max(0.0, aci_alpha(1.0 - s.coverage, s.aci_gamma, stated, missed)));
  c.half_width = conformal_quantile(c.abs_residuals, c.alpha);
  return c;
}

Statement state(const Calibration& c, double raw) {
  Statement st;
  st.raw = raw;
  st.skilled = c.skill.skilled;
  st.served = c.skill.skilled && std::isfinite(raw) ? c.shrink * raw : 0.0;  // shrink is 0 without skill
  const std::size_t n = c.abs_residuals.size();
  if (st.served != 0 && n > 0) {
    const std::size_t below = static_cast<std::size_t>(
        std::lower_bound(c.abs_residuals.begin(), c.abs_residuals.end(), std::fabs(st.served)) - c.abs_residuals.begin());
    st.confidence = 50.0 + 50.0 * static_cast<double>(below) / static_cast<double>(n + 1);
  }
  st.lower = std::isnan(c.half_width) ? kNaN : st.served - c.half_width;
  st.upper = std::isnan(c.half_width) ? kNaN : st.served + c.half_width;
  return st;
}

std::vector<Statement> state_sequence(const std::vector<OutcomePair>& prior, const std::vector<OutcomePair>& sequence,
                                      const HonestSettings& s) {
  s.validate();
  for (std::size_t i = 1; i < sequence.size(); ++i)
    if (sequence[i].ts < sequence[i - 1].ts)
      throw InvalidParameter("state_sequence: prediction " + std::to_string(i + 1) + " is before prediction " +
                                 std::to_string(i),
                             "rule: predictions sorted by ts");
  std::vector<OutcomePair> base;
  base.reserve(prior.size());
  for (const OutcomePair& p : prior)
    if (std::isfinite(p.raw) && std::isfinite(p.actual)) base.push_back(p);
  std::stable_sort(base.begin(), base.end(), [](const OutcomePair& a, const OutcomePair& b) { return a.ts < b.ts; });
  std::vector<Statement> out;
  out.reserve(sequence.size());
  std::size_t prior_known = 0, seq_known = 0, stated = 0, missed = 0;
  std::vector<OutcomePair> known;
  bool have = false;
  Calibration c;
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    const std::int64_t t = sequence[i].ts;
    bool changed = !have;
    while (prior_known < base.size() && base[prior_known].ts + s.horizon <= t) {
      known.push_back(base[prior_known++]);
      changed = true;
    }
    while (seq_known < i && sequence[seq_known].ts + s.horizon <= t) {
      const OutcomePair& p = sequence[seq_known];
      const Statement& was = out[seq_known];
      if (std::isfinite(p.actual)) {
        if (std::isfinite(p.raw)) known.push_back(p);
        if (std::isfinite(was.lower)) {
          stated++;
          if (p.actual < was.lower || p.actual > was.upper) missed++;
        }
        changed = true;
      }
      ++seq_known;
    }
    if (changed) {
      // the window's pairs only: keeps the replay linear in the sequence
      if (known.size() > 2 * s.window) {
        const auto by_ts = [](const OutcomePair& a, const OutcomePair& b) { return a.ts < b.ts; };
        if (!std::is_sorted(known.begin(), known.end(), by_ts)) std::stable_sort(known.begin(), known.end(), by_ts);
        known.erase(known.begin(), known.end() - static_cast<std::ptrdiff_t>(s.window));
      }
      c = calibrate(known, stated, missed, s);
      have = true;
    }
    out.push_back(state(c, sequence[i].raw));
  }
  return out;
}

// ---- reliability ------------------------------------------------------------------------------

Reliability reliability(const std::vector<double>& confidence_pct, const std::vector<bool>& hit, std::size_t min_bucket) {
  if (confidence_pct.size() != hit.size())
    throw InvalidParameter("reliability: " + std::to_string(confidence_pct.size()) + " confidences and " +
                               std::to_string(hit.size()) + " outcomes",
                           "rule: one outcome per confidence");
  double n_b[6] = {0}, conf_b[6] = {0}, hit_b[6] = {0};
  Reliability r;
  double brier = 0;
  for (std::size_t i = 0; i < hit.size(); ++i) {
    const double c = confidence_pct[i];
    if (!std::isfinite(c)) continue;
    const int b = c < 50 ? 0 : c >= 90 ? 5 : static_cast<int>(std::floor(c / 10)) - 4;
    const double h = hit[i] ? 1.0 : 0.0;
    n_b[b] += 1;
    conf_b[b] += c / 100;
    hit_b[b] += h;
    brier += (c / 100 - h) * (c / 100 - h);
    r.n++;
  }
  r.largest_gap = kNaN;
  if (r.n == 0) {
    r.ece = r.brier = r.brier_skill = kNaN;
    return r;
  }
  const double n = static_cast<double>(r.n);
  for (int b = 0; b < 6; ++b) {
    if (n_b[b] == 0) continue;
    const double gap = 100 * std::fabs(conf_b[b] / n_b[b] - hit_b[b] / n_b[b]);
    r.ece += n_b[b] / n * gap;
    if (n_b[b] >= static_cast<double>(min_bucket) && !(gap <= r.largest_gap)) r.largest_gap = gap;
  }
  r.brier = brier / n;
  r.brier_skill = 1 - r.brier / 0.25;
  return r;
}

}  // namespace cml
