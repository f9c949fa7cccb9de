// Stacking: see stacking.hpp for the conventions.
#include "stacking.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "model.hpp"

namespace cml {

namespace {

using json = nlohmann::json;

// Sufficient statistics of the known pairs: everything a fit reads, so the prequential record
// adds one pair at a time instead of refitting from the rows.
struct Stats {
  std::size_t k = 0, n = 0;
  std::vector<double> G;         // k x k: sum P_im P_il
  std::vector<double> c;         // sum P_im y_i
  std::vector<double> se;        // sum (P_im - y_i)^2
  std::vector<double> pmin, pmax;
  explicit Stats(std::size_t members)
      : k(members), G(members * members, 0.0), c(members, 0.0), se(members, 0.0),
        pmin(members, std::numeric_limits<double>::infinity()), pmax(members, -std::numeric_limits<double>::infinity()) {}
  void add(const std::vector<std::vector<double>>& raw, double y, std::size_t i) {
    ++n;
    for (std::size_t m = 0; m < k; ++m) {
      const double p = raw[m][i];
      for (std::size_t l = 0; l < k; ++l) G[m * k + l] += p * raw[l][i];
      c[m] += p * y;
      se[m] += (p - y) * (p - y);
      pmin[m] = std::min(pmin[m], p);
      pmax[m] = std::max(pmax[m], p);
    }
  }
};

// Solves A x = b (n x n, row-major, copied) by Gaussian elimination with partial pivoting; false
// when a pivot is below tiny (singular for our purpose).
bool solve(std::vector<double> A, std::vector<double> b, std::size_t n, double tiny, std::vector<double>* x) {
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t piv = col;
    for (std::size_t r = col + 1; r < n; ++r)
      if (std::fabs(A[r * n + col]) > std::fabs(A[piv * n + col])) piv = r;
    if (!(std::fabs(A[piv * n + col]) > tiny)) return false;
    if (piv != col) {
      for (std::size_t j = 0; j < n; ++j) std::swap(A[col * n + j], A[piv * n + j]);
      std::swap(b[col], b[piv]);
    }
    for (std::size_t r = col + 1; r < n; ++r) {
      const double f = A[r * n + col] / A[col * n + col];
      if (f == 0) continue;
      for (std::size_t j = col; j < n; ++j) A[r * n + j] -= f * A[col * n + j];
      b[r] -= f * b[col];
    }
  }
  x->assign(n, 0.0);
  for (std::size_t r = n; r-- > 0;) {
    double s = b[r];
    for (std::size_t j = r + 1; j < n; ++j) s -= A[r * n + j] * (*x)[j];
    (*x)[r] = s / A[r * n + r];
  }
  return true;
}

std::vector<double> equal_weights(std::size_t k) { return std::vector<double>(k, 1.0 / static_cast<double>(k)); }

std::string member_label(std::size_t m) { return "member " + std::to_string(m + 1); }

// The fit from statistics (the Conventions' meta-model, fallback and solver). lambda < 0: the rule.
StackFit fit_stats(const Stats& s, double lambda) {
  StackFit f;
  const std::size_t k = s.k;
  f.pairs = s.n;
  if (s.n == 0) {
    f.inverse_mse = f.weights = equal_weights(k);
    f.fallback = "no known pair: equal weights";
    return f;
  }
  const double n = static_cast<double>(s.n);
  std::vector<double> mse(k);
  for (std::size_t m = 0; m < k; ++m) mse[m] = s.se[m] / n;
  f.inverse_mse = inverse_mse_from_errors(mse);
  f.weights = f.inverse_mse;
  if (s.n < kStackMinPairs) {
    f.fallback = std::to_string(s.n) + " known pairs, fewer than " + std::to_string(kStackMinPairs) + ": inverse-MSE weights";
    return f;
  }
  double s2 = 0;
  for (std::size_t m = 0; m < k; ++m) s2 += s.G[m * k + m];
  s2 /= n * static_cast<double>(k);
  if (!(s2 > 0)) {
    f.fallback = "every member predicts 0 on the known pairs: inverse-MSE weights";
    return f;
  }
  for (std::size_t m = 0; m < k; ++m)
    if (s.pmin[m] == s.pmax[m]) {
      f.fallback = member_label(m) + " predicts one constant on the known pairs (its weight would act as an intercept): inverse-MSE weights";
      return f;
    }
  const double lam = lambda < 0 ? kStackPriorPairs / n : lambda;
  const double pen = lam * s2;
  // objective without its constant (1/n) sum y^2: w'(G/n)w - 2 (c/n)'w + pen ||w - w0||^2
  auto objective = [&](const std::vector<double>& w) {
    double q = 0;
    for (std::size_t m = 0; m < k; ++m) {
      for (std::size_t l = 0; l < k; ++l) q += w[m] * s.G[m * k + l] / n * w[l];
      q -= 2 * w[m] * s.c[m] / n;
      q += pen * (w[m] - f.inverse_mse[m]) * (w[m] - f.inverse_mse[m]);
    }
    return q;
  };
  double diag_max = 0;
  for (std::size_t m = 0; m < k; ++m) diag_max = std::max(diag_max, s.G[m * k + m] / n + pen);
  const double tiny = 1e-14 * diag_max;
  bool found = false;
  std::vector<double> best;
  double best_q = 0;
  for (std::size_t mask = 1; mask < (std::size_t(1) << k); ++mask) {
    std::vector<std::size_t> S;
    for (std::size_t m = 0; m < k; ++m)
      if (mask & (std::size_t(1) << m)) S.push_back(m);
    const std::size_t d = S.size();
    std::vector<double> w(k, 0.0);
    if (d == 1) {
      w[S[0]] = 1;
    } else {
      // H u = b, H v = 1 on the face; w_S = u - eta v with eta = (1'u - 1) / (1'v)
      std::vector<double> H(d * d), b(d), u, v;
      for (std::size_t a = 0; a < d; ++a) {
        for (std::size_t e = 0; e < d; ++e) H[a * d + e] = s.G[S[a] * k + S[e]] / n + (a == e ? pen : 0.0);
        b[a] = s.c[S[a]] / n + pen * f.inverse_mse[S[a]];
      }
      if (!solve(H, b, d, tiny, &u) || !solve(H, std::vector<double>(d, 1.0), d, tiny, &v)) continue;
      double su = 0, sv = 0;
      for (std::size_t a = 0; a < d; ++a) {
        su += u[a];
        sv += v[a];
      }
      if (!(sv != 0) || !std::isfinite(sv)) continue;
      const double eta = (su - 1) / sv;
      bool feasible = true;
      for (std::size_t a = 0; a < d; ++a) {
        w[S[a]] = u[a] - eta * v[a];
        feasible = feasible && w[S[a]] >= 0 && std::isfinite(w[S[a]]);
      }
      if (!feasible) continue;
      double sum = 0;
      for (double x : w) sum += x;
      for (double& x : w) x /= sum;  // exact on the simplex up to rounding
    }
    const double q = objective(w);
    if (!found || q < best_q) {
      found = true;
      best = w;
      best_q = q;
    }
  }
  if (!found)
    throw InvalidParameter("stacking: no support of the simplex gives a solution (lambda = 0 and singular members)",
                           "rule: lambda > 0, or members whose predictions are not collinear");
  f.weights = best;
  f.objective = best_q;
  f.lambda = lam;
  f.stacked = true;
  // KKT certificate: gradient g = 2 ((G/n) w - c/n + pen (w - w0)); equal (= -nu) on the support,
  // >= -nu off it. Reported relative to s2.
  std::vector<double> g(k, 0.0);
  for (std::size_t m = 0; m < k; ++m) {
    for (std::size_t l = 0; l < k; ++l) g[m] += s.G[m * k + l] / n * best[l];
    g[m] = 2 * (g[m] - s.c[m] / n + pen * (best[m] - f.inverse_mse[m]));
  }
  double gmin_on = std::numeric_limits<double>::infinity(), gmax_on = -gmin_on;
  for (std::size_t m = 0; m < k; ++m)
    if (best[m] > 0) {
      gmin_on = std::min(gmin_on, g[m]);
      gmax_on = std::max(gmax_on, g[m]);
    }
  double r = gmax_on - gmin_on;
  for (std::size_t m = 0; m < k; ++m)
    if (!(best[m] > 0)) r = std::max(r, gmin_on - g[m]);
  f.kkt = std::max(0.0, r) / s2;
  return f;
}

void check_horizon(int horizon) {
  if (horizon < 1)
    throw InvalidParameter("stacking: horizon = " + std::to_string(horizon) + " is out of range", "rule: horizon >= 1 minute");
}

}  // namespace

const char* combiner_name(Combiner c) { return c == Combiner::stacking ? "stacking" : "inverse_mse"; }

Combiner parse_combiner(const std::string& name) {
  if (name == "inverse_mse") return Combiner::inverse_mse;
  if (name == "stacking") return Combiner::stacking;
  std::string shown = name.size() > 60 ? name.substr(0, 60) + "..." : name;
  throw InvalidParameter("unknown combiner \"" + shown + "\"", "rule: combiner is \"inverse_mse\" (the default) or \"stacking\"");
}

AlignedRecords align_records(const std::vector<std::vector<OutcomePair>>& members) {
  if (members.empty()) throw InvalidParameter("stacking: no member record", "rule: at least one member");
  if (members.size() > kStackMaxMembers)
    throw InvalidParameter("stacking: " + std::to_string(members.size()) + " members",
                           "rule: at most " + std::to_string(kStackMaxMembers) + " members");
  const std::size_t k = members.size();
  std::vector<std::map<std::int64_t, const OutcomePair*>> by_ts(k);
  for (std::size_t m = 0; m < k; ++m)
    for (const OutcomePair& p : members[m])
      if (!by_ts[m].emplace(p.ts, &p).second)
        throw InvalidParameter("stacking: " + member_label(m) + " has two pairs at minute " + std::to_string(p.ts),
                               "rule: one out-of-time pair per member and minute");
  AlignedRecords a;
  a.raw.assign(k, {});
  for (const auto& [t, p0] : by_ts[0]) {
    if (!std::isfinite(p0->actual) || !std::isfinite(p0->raw)) continue;
    bool all = true;
    for (std::size_t m = 1; m < k && all; ++m) {
      auto it = by_ts[m].find(t);
      all = it != by_ts[m].end() && std::isfinite(it->second->raw);
    }
    if (!all) continue;
    a.ts.push_back(t);
    a.actual.push_back(p0->actual);
    for (std::size_t m = 0; m < k; ++m) a.raw[m].push_back(m == 0 ? p0->raw : by_ts[m].at(t)->raw);
  }
  return a;
}

StackFit fit_stack(const std::vector<std::vector<double>>& raw, const std::vector<double>& actual, double lambda) {
  if (raw.empty()) throw InvalidParameter("stacking: no member", "rule: at least one member");
  if (raw.size() > kStackMaxMembers)
    throw InvalidParameter("stacking: " + std::to_string(raw.size()) + " members",
                           "rule: at most " + std::to_string(kStackMaxMembers) + " members");
  if (!std::isfinite(lambda))
    throw InvalidParameter("stacking: lambda is not finite", "rule: lambda is a finite number (< 0: the rule 250 / n)");
  Stats s(raw.size());
  for (std::size_t m = 0; m < raw.size(); ++m)
    if (raw[m].size() != actual.size())
      throw InvalidParameter("stacking: " + member_label(m) + " has " + std::to_string(raw[m].size()) + " predictions for " +
                                 std::to_string(actual.size()) + " actuals",
                             "rule: one prediction per member and pair");
  for (std::size_t i = 0; i < actual.size(); ++i) {
    bool finite = std::isfinite(actual[i]);
    for (std::size_t m = 0; m < raw.size(); ++m) finite = finite && std::isfinite(raw[m][i]);
    if (!finite)
      throw InvalidParameter("stacking: pair " + std::to_string(i + 1) + " has a non-finite value",
                             "rule: predictions and actuals are finite");
    s.add(raw, actual[i], i);
  }
  return fit_stats(s, lambda);
}

StackFit stack_weights(const AlignedRecords& a, int horizon, std::int64_t as_of) {
  check_horizon(horizon);
  Stats s(a.raw.size());
  for (std::size_t i = 0; i < a.ts.size() && a.ts[i] <= as_of - horizon; ++i) s.add(a.raw, a.actual[i], i);
  return fit_stats(s, -1);
}

std::vector<OutcomePair> stacked_record(const AlignedRecords& a, int horizon) {
  check_horizon(horizon);
  const std::size_t k = a.raw.size();
  Stats s(k);
  std::vector<OutcomePair> out;
  std::size_t j = 0;  // pairs [0, j) are known at the current pair
  StackFit f;
  bool fresh = false;
  for (std::size_t i = 0; i < a.ts.size(); ++i) {
    while (j < i && a.ts[j] <= a.ts[i] - horizon) {
      s.add(a.raw, a.actual[j], j);
      ++j;
      fresh = false;
    }
    if (j == 0) continue;  // no weights were knowable yet
    if (!fresh) {
      f = fit_stats(s, -1);
      fresh = true;
    }
    double raw = 0;
    for (std::size_t m = 0; m < k; ++m) raw += f.weights[m] * a.raw[m][i];
    out.push_back(OutcomePair{a.ts[i], raw, a.actual[i]});
  }
  return out;
}

std::vector<OutcomePair> combine_aligned(const AlignedRecords& a, const std::vector<double>& w) {
  if (w.size() != a.raw.size())
    throw InvalidParameter("stacking: " + std::to_string(w.size()) + " weights for " + std::to_string(a.raw.size()) + " members",
                           "rule: one weight per member");
  std::vector<OutcomePair> out;
  out.reserve(a.ts.size());
  for (std::size_t i = 0; i < a.ts.size(); ++i) {
    double raw = 0;
    for (std::size_t m = 0; m < w.size(); ++m) raw += w[m] * a.raw[m][i];
    out.push_back(OutcomePair{a.ts[i], raw, a.actual[i]});
  }
  return out;
}

std::string stack_fit_json(const StackFit& f) {
  json j = {{"weights", f.weights}, {"inverse_mse", f.inverse_mse}, {"lambda", f.lambda}, {"prior_pairs", kStackPriorPairs},
            {"min_pairs", kStackMinPairs}, {"pairs", f.pairs}, {"stacked", f.stacked},
            {"fallback", f.stacked ? json(nullptr) : json(f.fallback)}, {"objective", f.objective}, {"kkt", f.kkt}};
  return j.dump();
}

}  // namespace cml
