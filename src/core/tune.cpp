// cryptoml hyperparameter search: space, sampler, folds, scoring, random search and successive
// halving. See tune.hpp.
#include "tune.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "features.hpp"
#include "honest.hpp"
#include "json_text.hpp"
#include "lstm.hpp"
#include "text.hpp"
#include "xgb.hpp"

namespace cml {
namespace {

SearchDim dim(std::string key, bool integer, bool log, double lo, double hi) {
  SearchDim d;
  d.key = std::move(key);
  d.integer = integer;
  d.log = log;
  d.lo = lo;
  d.hi = hi;
  return d;
}

std::string show(const json& v) {
  std::string s = v.is_number_float() ? format_double(v.get<double>()) : json_text(v);
  return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

std::string key_list(const std::vector<SearchDim>& space) {
  std::string out;
  for (const SearchDim& d : space) out += (out.empty() ? "" : ", ") + d.key;
  return out;
}

std::string choice(const json& v, const std::string& name, const std::vector<std::string>& allowed) {
  std::string rule = "rule: " + name + " is one of ";
  for (std::size_t i = 0; i < allowed.size(); i++) rule += (i ? ", " : "") + std::string("\"") + allowed[i] + "\"";
  if (!v.is_string()) throw InvalidParameter("option " + name + " must be a string, got " + show(v), rule);
  const std::string s = v.get<std::string>();
  if (std::find(allowed.begin(), allowed.end(), s) == allowed.end())
    throw InvalidParameter("unknown " + name + " " + show(v) + " for ml_tune", rule);
  return s;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// 4 significant digits.
double round4(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  const double scale = std::pow(10.0, 3 - static_cast<int>(std::floor(std::log10(std::fabs(v)))));
  return std::round(v * scale) / scale;
}

bool is_searched(ModelType type, const std::string& key) {
  for (const SearchDim& d : default_search_space(type))
    if (d.key == key) return true;
  return false;
}

}  // namespace

const std::vector<SearchDim>& default_search_space(ModelType type) {
  static const std::vector<SearchDim> xgb = {
      dim("max_depth", true, false, 2, 10),        dim("eta", false, true, 0.01, 0.3),
      dim("num_rounds", true, false, 50, 500),     dim("subsample", false, false, 0.5, 1),
      dim("colsample_bytree", false, false, 0.5, 1), dim("min_child_weight", false, true, 1, 100),
      dim("lambda", false, true, 0.01, 10),        dim("alpha", false, false, 0, 1),
  };
  static const std::vector<SearchDim> lstm = {
      dim("hiddenSize", true, false, 8, 64),       dim("learningRate", false, true, 1e-4, 1e-2),
      dim("sequenceLength", true, false, 10, 60),  dim("numLayers", true, false, 1, 2),
      dim("weightDecay", false, false, 0, 1e-3),
  };
  if (type == ModelType::xgboost) return xgb;
  if (type == ModelType::lstm) return lstm;
  throw InvalidParameter("model_type ensemble cannot be tuned",
                         "rule: ml_tune's model_type is xgboost or lstm (an ensemble combines its tuned members)",
                         "Tune the xgboost and lstm members, train them with options => '{\"params\": \"tuned\"}', then the ensemble.");
}

const char* tune_method_name(TuneMethod m) { return m == TuneMethod::random ? "random" : "halving"; }
const char* fold_scheme_name(FoldScheme s) { return s == FoldScheme::expanding ? "expanding" : "rolling"; }

TuneOptions parse_tune_options(ModelType type, int budget, const json& config, const json& options) {
  const std::vector<SearchDim>& defaults = default_search_space(type);  // refuses ensemble
  if (budget < 1 || budget > kTuneMaxBudget)
    throw InvalidParameter("budget = " + std::to_string(budget) + " is out of range",
                           "rule: budget is an integer in [1, " + std::to_string(kTuneMaxBudget) + "] (trials)");
  if (!options.is_object())
    throw InvalidParameter("options must be a JSON object, got " + show(options), "rule: options is a JSON object of option keys");
  TuneOptions o;
  o.space = defaults;
  for (auto it = options.begin(); it != options.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "method") {
      o.method = choice(v, "method", {"random", "halving"}) == "random" ? TuneMethod::random : TuneMethod::halving;
    } else if (k == "scheme") {
      o.scheme = choice(v, "scheme", {"expanding", "rolling"}) == "expanding" ? FoldScheme::expanding : FoldScheme::rolling;
    } else if (k == "folds") {
      o.folds = static_cast<int>(option_int(integer_option("folds", kTuneMinFolds, kTuneMaxFolds, "time-series CV folds"), v, "folds"));
    } else if (k == "seed") {
      o.seed = option_uint(*find_option(train_option_specs(type), "seed"), v, "seed");
    } else if (k == "featureSet") {
      o.feature_set = static_cast<int>(option_int(integer_option("featureSet", 1, kMaxFeatureSet, "feature set version"), v, "featureSet"));
    } else if (k == "train") {
      if (!v.is_object())
        throw InvalidParameter("option train must be an object of ml_train options, got " + show(v),
                               "rule: train is an object of ml_train options every trial uses");
      for (auto t = v.begin(); t != v.end(); ++t) {
        if (is_searched(type, t.key()))
          throw InvalidParameter("option train." + t.key() + " is a searched parameter",
                                 "rule: searched parameters are restricted or fixed with options.space, not options.train",
                                 "Use options => '{\"space\": {\"" + t.key() + "\": <value or [lo, hi]>}}'.");
        if (t.key() == "seed")
          throw InvalidParameter("option train.seed is set by the tune", "rule: the tune's seed is options.seed");
      }
      try {
        (void)parse_train_options(type, config, v);
      } catch (const InvalidParameter& e) {
        throw InvalidParameter(std::string("options.train: ") + e.what(), e.detail(), e.hint());
      }
      o.train = v;
    } else if (k == "space") {
      if (!v.is_object())
        throw InvalidParameter("option space must be an object, got " + show(v),
                               "rule: space maps search-space keys to [lo, hi] or one value");
      for (auto s = v.begin(); s != v.end(); ++s) {
        auto d = std::find_if(o.space.begin(), o.space.end(), [&](const SearchDim& x) { return x.key == s.key(); });
        if (d == o.space.end()) {
          std::string shown = s.key().size() > 60 ? s.key().substr(0, 60) + "..." : s.key();
          throw InvalidParameter("unknown search-space key \"" + shown + "\" for model_type " + model_type_name(type),
                                 "rule: space keys are " + key_list(defaults));
        }
        const OptionSpec& spec = *find_option(train_option_specs(type), d->key);
        const std::string name = "space." + d->key;
        const json& r = s.value();
        json lo, hi;
        if (r.is_array()) {
          if (r.size() != 2)
            throw InvalidParameter("option " + name + " = " + show(r) + " is not a range",
                                   "rule: a space value is [lo, hi] (lo <= hi) or one value");
          lo = r[0];
          hi = r[1];
        } else {
          lo = hi = r;
        }
        check_option(spec, lo, name);
        check_option(spec, hi, name);
        const double a = lo.get<double>(), b = hi.get<double>();
        if (a > b)
          throw InvalidParameter("option " + name + " = " + show(r) + " is an empty range (lo > hi)",
                                 "rule: a space value is [lo, hi] with lo <= hi, each " + spec.rule());
        if (d->log && a <= 0)
          throw InvalidParameter("option " + name + " = " + show(r) + " starts at " + show(lo) + " on a log scale",
                                 "rule: " + d->key + " is searched on a log scale: lo > 0");
        d->lo = a;
        d->hi = b;
      }
    } else {
      throw InvalidParameter("unknown ml_tune option \"" + (k.size() > 60 ? k.substr(0, 60) + "..." : k) + "\"",
                             "rule: options keys are method, scheme, folds, seed, space, train, featureSet");
    }
  }
  if (o.feature_set > 0 && o.train.contains("featureSet") && o.train.at("featureSet") != json(o.feature_set))
    throw InvalidParameter("option featureSet = " + std::to_string(o.feature_set) + " differs from option train.featureSet = " +
                               show(o.train.at("featureSet")),
                           "rule: give the feature set once (options.featureSet or options.train.featureSet)");
  if (o.feature_set > 0 && find_option(train_option_specs(type), "featureSet") == nullptr)
    throw InvalidParameter("option featureSet is not supported by this build", "rule: ml_train has no featureSet option");
  return o;
}

json sample_params(const std::vector<SearchDim>& space, std::uint64_t seed, int config) {
  std::mt19937_64 rng(splitmix64(seed + static_cast<std::uint64_t>(config) * 0x9E3779B97F4A7C15ULL));
  json p = json::object();
  for (const SearchDim& d : space) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1)
    if (d.integer) {
      const double span = d.hi - d.lo + 1;
      const long long v = static_cast<long long>(d.lo) + static_cast<long long>(std::floor(u * span));
      p[d.key] = std::min(v, static_cast<long long>(d.hi));
    } else {
      double v = d.log ? std::exp(std::log(d.lo) + u * (std::log(d.hi) - std::log(d.lo))) : d.lo + u * (d.hi - d.lo);
      v = round4(v);
      p[d.key] = std::min(std::max(v, d.lo), d.hi);
    }
  }
  return p;
}

TrainOptions trial_train_options(ModelType type, const json& config, const TuneOptions& o, const json& params) {
  json opts = o.train;
  for (auto it = params.begin(); it != params.end(); ++it) opts[it.key()] = it.value();
  if (o.feature_set > 0) opts["featureSet"] = o.feature_set;
  if (!opts.contains("seed")) opts["seed"] = o.seed;
  return parse_train_options(type, config, opts);
}

// ---- the search -----------------------------------------------------------------------------

TuneSearch::TuneSearch(TuneMethod method, int budget, std::size_t n_rows, std::size_t min_rows) : method_(method) {
  if (budget < 1 || budget > kTuneMaxBudget)
    throw InvalidParameter("budget = " + std::to_string(budget) + " is out of range",
                           "rule: budget is an integer in [1, " + std::to_string(kTuneMaxBudget) + "] (trials)");
  if (method == TuneMethod::random) {
    counts_ = {budget};
    fraction_ = {1.0};
    total_ = budget;
    return;
  }
  // the most rungs whose smallest share still holds min_rows samples
  int r_data = 1;
  for (double share = 1.0 / kTuneHalvingEta; static_cast<double>(n_rows) * share >= static_cast<double>(min_rows) && r_data < 20;
       share /= kTuneHalvingEta)
    r_data++;
  for (int n0 = budget; n0 >= 1; n0--) {
    std::vector<int> c = {n0};
    while (static_cast<int>(c.size()) < r_data && c.back() >= kTuneHalvingEta) c.push_back(c.back() / kTuneHalvingEta);
    int total = 0;
    for (int x : c) total += x;
    if (total <= budget) {
      counts_ = c;
      total_ = total;
      break;
    }
  }
  const int R = static_cast<int>(counts_.size());
  for (int k = 0; k < R; k++) fraction_.push_back(std::pow(static_cast<double>(kTuneHalvingEta), -(R - 1 - k)));
}

bool TuneSearch::next(const std::vector<double>& scores, TrialSpec* out) const {
  const int t = static_cast<int>(scores.size());
  if (t >= total_) return false;
  // configurations of each rung, best first from rung 1 on
  std::vector<int> configs;
  int first = 0;  // index (0-based trial) of the rung's first trial
  for (int k = 0; k < static_cast<int>(counts_.size()); k++) {
    if (k == 0) {
      configs.clear();
      for (int c = 1; c <= counts_[0]; c++) configs.push_back(c);
    } else {
      std::vector<int> order(counts_[k - 1]);
      for (int i = 0; i < counts_[k - 1]; i++) order[i] = i;
      const int prev = first - counts_[k - 1];
      auto key = [&](int i) {
        const double s = scores[prev + i];
        return std::isfinite(s) ? s : std::numeric_limits<double>::infinity();
      };
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });
      std::vector<int> promoted;
      for (int i = 0; i < counts_[k]; i++) promoted.push_back(configs[order[i]]);
      configs = promoted;
    }
    if (t < first + counts_[k]) {
      out->trial = t + 1;
      out->rung = k;
      out->config = configs[t - first];
      out->fraction = fraction_[k];
      return true;
    }
    first += counts_[k];
  }
  return false;
}

int best_trial(const std::vector<double>& scores, const std::vector<int>& rungs) {
  int best = 0;
  for (std::size_t i = 0; i < scores.size(); i++) {
    if (!std::isfinite(scores[i])) continue;
    const int r = i < rungs.size() ? rungs[i] : 0;
    if (best == 0) {
      best = static_cast<int>(i) + 1;
      continue;
    }
    const int br = static_cast<std::size_t>(best - 1) < rungs.size() ? rungs[best - 1] : 0;
    if (r > br || (r == br && scores[i] < scores[best - 1])) best = static_cast<int>(i) + 1;
  }
  return best;
}

// ---- one trial ---------------------------------------------------------------------------------

std::size_t tune_min_rows(int folds, double validation_split, int horizon) {
  return static_cast<std::size_t>(folds + 1) * (split_min_rows(validation_split, horizon) + static_cast<std::size_t>(horizon));
}

double zero_change_ratio(const std::vector<double>& pred, const std::vector<double>& y) {
  if (pred.size() != y.size())
    throw InvalidParameter("zero_change_ratio: " + std::to_string(pred.size()) + " predictions for " + std::to_string(y.size()) +
                               " targets",
                           "rule: one prediction per target");
  double se = 0, s0 = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < y.size(); i++) {
    if (!std::isfinite(pred[i]) || !std::isfinite(y[i])) continue;
    se += (y[i] - pred[i]) * (y[i] - pred[i]);
    s0 += y[i] * y[i];
    n++;
  }
  if (n == 0 || s0 <= 0) return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt(se / s0);
}

TrialResult run_trial(const TrainOptions& t, const TuneData& d, int horizon, const TuneOptions& o, double fraction,
                      const std::function<bool()>& should_stop) {
  if (t.type != ModelType::xgboost && t.type != ModelType::lstm) (void)default_search_space(t.type);  // refuses
  TrialResult res;
  const std::size_t n = d.rows, nf = d.cols;
  std::size_t keep = n;
  if (fraction < 1) keep = static_cast<std::size_t>(std::floor(static_cast<double>(n) * fraction));
  const std::size_t off = n - keep;
  res.rows_used = keep;
  std::vector<std::int64_t> minutes(d.minutes + off, d.minutes + n);
  std::size_t cap = 0;  // rolling: the first fold's training rows
  FoldTrainer trainer = [&](const std::vector<std::size_t>& tr_in, const std::vector<std::size_t>& va,
                            const std::vector<std::size_t>& pr) {
    std::vector<std::size_t> tr = tr_in;
    if (o.scheme == FoldScheme::rolling) {
      if (cap == 0) cap = tr.size();
      if (tr.size() > cap) tr.erase(tr.begin(), tr.end() - static_cast<std::ptrdiff_t>(cap));
    }
    std::vector<double> out(pr.size(), std::numeric_limits<double>::quiet_NaN());
    if (t.type == ModelType::xgboost) {
      auto gather = [&](const std::vector<std::size_t>& rows) {
        std::vector<float> X;
        X.reserve(rows.size() * nf);
        for (std::size_t i : rows)
          for (std::size_t c = 0; c < nf; c++) X.push_back(static_cast<float>(d.X[(off + i) * nf + c]));
        return X;
      };
      std::vector<float> Xt = gather(tr), Xv = gather(va), Xp = gather(pr), yt, yv;
      for (std::size_t i : tr) yt.push_back(static_cast<float>(d.y[off + i]));
      for (std::size_t i : va) yv.push_back(static_cast<float>(d.y[off + i]));
      XgbModel m = XgbModel::train(DenseMatrix{Xt.data(), tr.size(), nf}, yt, DenseMatrix{Xv.data(), va.size(), nf}, yv, t.xgb,
                                   should_stop, nullptr);
      const std::vector<float> p = m.predict(DenseMatrix{Xp.data(), pr.size(), nf});
      for (std::size_t k = 0; k < p.size(); k++) out[k] = p[k];
    } else {
      const int L = t.lstm.sequence_length;
      auto with_history = [&](const std::vector<std::size_t>& rows) {
        std::vector<std::size_t> r;
        for (std::size_t i : rows)
          if (d.run[off + i] >= L && i + 1 >= static_cast<std::size_t>(L))  // the sequence lies in the trial's window
            r.push_back(off + i);
        return r;
      };
      SequenceSet trs{d.X, n, nf, d.y, with_history(tr)}, vas{d.X, n, nf, d.y, with_history(va)};
      const std::vector<std::size_t> prs = with_history(pr);
      if (trs.ends.size() < 30 || vas.ends.size() < 10 || prs.empty()) return out;
      LstmModel m = LstmModel::train(trs, vas, t.lstm, should_stop, nullptr);
      const std::vector<double> p = m.predict(SequenceSet{d.X, n, nf, nullptr, prs});
      for (std::size_t k = 0, j = 0; k < pr.size() && j < prs.size(); k++)
        if (off + pr[k] == prs[j]) out[k] = p[j++];
    }
    std::vector<double> yf;
    for (std::size_t i : pr) yf.push_back(d.y[off + i]);
    const double fs = zero_change_ratio(out, yf);
    if (std::isfinite(fs)) res.fold_scores.push_back(fs);
    return out;
  };
  RollingOrigin ro;
  try {
    ro = rolling_origin(minutes, horizon, t.split, o.folds, trainer);
  } catch (const DataError& e) {  // an lstm fold diverged
    res.ok = false;
    res.error = e.what();
    res.score = std::numeric_limits<double>::quiet_NaN();
    return res;
  }
  res.folds_used = static_cast<int>(res.fold_scores.size());
  std::vector<double> p, y;
  for (std::size_t k = 0; k < ro.rows.size(); k++) {
    p.push_back(ro.raw[k]);
    y.push_back(d.y[off + ro.rows[k]]);
  }
  res.rows_scored = p.size();
  res.score = zero_change_ratio(p, y);
  if (!p.empty()) {
    double se = 0, s0 = 0;
    for (std::size_t k = 0; k < p.size(); k++) {
      se += (y[k] - p[k]) * (y[k] - p[k]);
      s0 += y[k] * y[k];
    }
    res.rmse = std::sqrt(se / static_cast<double>(p.size()));
    res.baseline_rmse = std::sqrt(s0 / static_cast<double>(p.size()));
  }
  res.ok = std::isfinite(res.score);
  if (!res.ok)
    res.error = p.empty() ? "no fold could train and predict: " + std::to_string(keep) + " samples in the trial's window, at least " +
                                std::to_string(tune_min_rows(o.folds, t.split, horizon)) + " needed for " +
                                std::to_string(o.folds) + " folds" +
                                (t.type == ModelType::lstm ? " (and enough gap-free sequences of sequenceLength minutes)" : "")
                          : "every target of the scored rows is 0: the zero-change RMSE is 0";
  return res;
}

// ---- ml_train options => '{"params": "tuned"}' ----------------------------------------------

bool wants_tuned_params(const json& options) {
  if (!options.is_object() || !options.contains("params")) return false;
  const json& v = options.at("params");
  if (!v.is_string() || v.get<std::string>() != "tuned")
    throw InvalidParameter("option params = " + show(v) + " is not supported",
                           "rule: params is \"tuned\": the best parameters of the latest completed ml_tune of the symbol, "
                           "horizon and model_type");
  return true;
}

json apply_tuned_params(const json& options, const json& best_params) {
  json out = best_params.is_object() ? best_params : json::object();
  for (auto it = options.begin(); it != options.end(); ++it)
    if (it.key() != "params") out[it.key()] = it.value();
  return out;
}

}  // namespace cml
