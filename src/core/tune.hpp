// cryptoml hyperparameter search (ml_tune): the documented search space of each model type, its
// restriction by the user, a deterministic sampler, time-series cross-validation folds built by
// the one rolling-origin rule of honest.hpp, out-of-fold scoring against zero change, and the
// two search methods (random search, successive halving). Pure C++17: no PostgreSQL header.
//
// Conventions (docs/training.md, "Hyperparameter search").
//
//   Space. Each dimension is an ml_train option key with an inclusive range [lo, hi], integer or
//     real, sampled uniformly on a linear or a log scale (see default_search_space). Every value
//     sampled is checked against the option's spec (options.hpp) before it trains: a range the
//     user gives must lie inside that spec, log dimensions need lo > 0.
//
//   Sampler. Configuration c (1, 2, ...) of a tune with seed s draws from std::mt19937_64 seeded
//     with splitmix64(s + c * 0x9E3779B97F4A7C15) (a fixed function), one 64-bit draw per
//     dimension in space order; u = (draw >> 11) * 2^-53 in [0, 1). Integer: lo + floor(u (hi - lo
//     + 1)), at most hi. Linear real: lo + u (hi - lo). Log real: exp(ln lo + u (ln hi - ln lo)).
//     Reals are rounded to 4 significant digits and kept in [lo, hi]. No std::*_distribution
//     (their output is implementation-defined): the same seed gives the same configurations on
//     every platform, and configuration c does not depend on any other.
//
//   Folds. The samples (time-ordered minutes) go through rolling_origin (honest.hpp): folds + 1
//     chunks of equal count, fold f predicts chunk f from the samples whose target was known at
//     its first minute (an embargo of `horizon` minutes before the test rows), split by split_rows
//     into training and early-stopping validation rows (again `horizon` rows of embargo).
//     expanding: a fold trains on all those rows; rolling: on at most as many as the first fold
//     that could train (its most recent ones), so every fold sees a window of the same length.
//
//   Score. Out of fold, pooled over every test row a fold model predicted:
//       score = sqrt(sum (y - p)^2 / sum y^2) = RMSE / RMSE of zero change   (lower is better,
//     1 = no better than predicting no change); each fold's own ratio is kept too.
//
//   Methods. random: `budget` configurations, each one trial on the whole window. halving
//     (successive halving, eta = 3): rung 0 runs n0 configurations on the most recent 3^-(R-1) of
//     the window, each later rung the best floor(count / 3) of the previous one (score, then
//     trial number; failed trials last) on 3 times as much, the last rung on the whole window.
//     R = min(1 + floor(log3 n0), the most rungs whose smallest share still holds min_rows
//     samples), n0 the largest count whose trials (the sum over rungs) fit the budget. A trial
//     is one configuration on one rung; the budget counts trials.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "model.hpp"
#include "options.hpp"

namespace cml {

constexpr int kTuneMaxBudget = 500;   // trials per ml_tune call
constexpr int kTuneMinFolds = 2, kTuneMaxFolds = 10, kTuneDefaultFolds = 4;
constexpr int kTuneHalvingEta = 3;
constexpr std::uint64_t kTuneDefaultSeed = 42;

struct SearchDim {
  std::string key;      // an ml_train option key
  bool integer = false;
  bool log = false;     // sampled on a log scale (lo > 0)
  double lo = 0, hi = 0;  // inclusive
};

// The documented default space of xgboost and lstm (InvalidParameter for ensemble: tune its members).
const std::vector<SearchDim>& default_search_space(ModelType type);

enum class TuneMethod { random, halving };
enum class FoldScheme { expanding, rolling };
const char* tune_method_name(TuneMethod m);
const char* fold_scheme_name(FoldScheme s);

struct TuneOptions {
  TuneMethod method = TuneMethod::random;
  FoldScheme scheme = FoldScheme::expanding;
  int folds = kTuneDefaultFolds;
  std::uint64_t seed = kTuneDefaultSeed;
  std::vector<SearchDim> space;   // the default space, restricted by options.space
  json train = json::object();    // ml_train options every trial uses (options.train), not searched
  int feature_set = 0;            // options.featureSet (0 = not given)
};

// Checks model_type (xgboost or lstm), budget (1..kTuneMaxBudget) and options:
//   method "random" | "halving"; scheme "expanding" | "rolling"; folds integer in [2, 10];
//   seed integer >= 0; featureSet integer in [1, kMaxFeatureSet]; train: an object of ml_train
//   options (checked by parse_train_options, searched keys and seed refused there); space: an
//   object whose keys are dimensions of the default space, each [lo, hi] (numbers, lo <= hi, both
//   passing the option's spec; integers for integer dimensions; lo > 0 on a log scale) or one
//   value (fixed). InvalidParameter naming the value and the rule for anything else.
// `config` is the effective configuration (for the training.* rules of options.train).
TuneOptions parse_tune_options(ModelType type, int budget, const json& config, const json& options);

// Configuration c (>= 1) of the space for a seed: an object key -> value (integers as integers).
json sample_params(const std::vector<SearchDim>& space, std::uint64_t seed, int config);

// ml_train's options of a trial: options.train, the sampled params, and the tune's seed unless
// options.train sets one; parsed by parse_train_options (so every sampled value passes its spec).
TrainOptions trial_train_options(ModelType type, const json& config, const TuneOptions& o, const json& params);

// ---- the search -----------------------------------------------------------------------------

struct TrialSpec {
  int trial = 0;          // 1-based, in the order trials run
  int rung = 0;           // 0 for random search
  int config = 0;         // the configuration sampled (sample_params' c)
  double fraction = 1;    // share of the window's most recent samples the trial uses
};

class TuneSearch {
 public:
  // n_rows: samples in the window; min_rows: the fewest a trial's share may hold (halving).
  TuneSearch(TuneMethod method, int budget, std::size_t n_rows, std::size_t min_rows);
  int total_trials() const { return total_; }
  int rungs() const { return static_cast<int>(counts_.size()); }
  const std::vector<int>& rung_counts() const { return counts_; }
  // The trial after the finished ones: scores[k] is trial k+1's score (NaN = failed), in trial
  // order. false when the search is done (scores.size() == total_trials()).
  bool next(const std::vector<double>& scores, TrialSpec* out) const;

 private:
  TuneMethod method_;
  int total_ = 0;
  std::vector<int> counts_;       // trials per rung
  std::vector<double> fraction_;  // share of the window per rung
};

// The best trial (lowest finite score; on the last rung for halving; ties: the earlier trial),
// 0 when no trial scored. rungs[k] is trial k+1's rung.
int best_trial(const std::vector<double>& scores, const std::vector<int>& rungs);

// ---- one trial ---------------------------------------------------------------------------------

// Time-ordered samples: X row-major rows x cols (NaN = missing), targets y, minutes strictly
// increasing, run[] as FeatureRows::run.
struct TuneData {
  const double* X = nullptr;
  const double* y = nullptr;
  const std::int64_t* minutes = nullptr;
  const int* run = nullptr;
  std::size_t rows = 0, cols = 0;
};

struct TrialResult {
  double score = 0;                 // pooled RMSE / zero-change RMSE (NaN when nothing was predicted)
  double rmse = 0, baseline_rmse = 0;
  std::vector<double> fold_scores;  // per fold that predicted rows
  int folds_used = 0;
  std::size_t rows_scored = 0, rows_used = 0;
  bool ok = false;
  std::string error;                // why not ok (no fold could train, lstm diverged, ...)
};

// The fewest samples with which the first of `folds` folds can train (contiguous minutes).
std::size_t tune_min_rows(int folds, double validation_split, int horizon);

// Cross-validates one configuration on the most recent `fraction` of d. should_stop is polled by
// the training loops (Cancelled propagates); a fold lstm that diverges makes the trial fail (not
// ok, error set), as does a trial no fold could train.
TrialResult run_trial(const TrainOptions& t, const TuneData& d, int horizon, const TuneOptions& o, double fraction,
                      const std::function<bool()>& should_stop);

// Out-of-fold score of predictions (finite ones only) against targets: sqrt(sum (y-p)^2 / sum y^2).
double zero_change_ratio(const std::vector<double>& pred, const std::vector<double>& y);

// ---- ml_train options => '{"params": "tuned"}' ----------------------------------------------

// true when options asks for tuned parameters ("params": "tuned"); InvalidParameter for another
// "params" value.
bool wants_tuned_params(const json& options);
// options without "params", the tune's best params under the caller's own keys (which win).
json apply_tuned_params(const json& options, const json& best_params);

}  // namespace cml
