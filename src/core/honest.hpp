// What a forecast states, from the model's out-of-time record: the served (shrunk) change, the
// confidence that the stated direction is right, the conformal interval of the change, and the
// skill test that must pass before any of it leaves "no change, 50 %, WAIT". One path: ml_train,
// ml_forecast, the forecaster worker and the walk-forward backtests all state their numbers through
// these functions (docs/forecasting.md, "Honest forecasts"). Pure C++17: no PostgreSQL header.
//
// Conventions.
//
//   Pairs. An OutcomePair is one out-of-time prediction: the minute of the bar it was made at
//     (ts), the model's raw output and the change that happened over the horizon (actual, NaN
//     while unknown). It becomes known at ts + horizon: a statement at time t may read only pairs
//     with ts + horizon <= t. Out of time means the model that made it was trained only on samples
//     whose targets were known before ts (rolling-origin folds at training, the model's own live
//     or backtest predictions afterwards).
//
//   Window. calibrate() reads the most recent `window` known pairs (by ts) with a finite raw and
//     actual.
//
//   Shrinkage. b = clip(sum(raw * actual) / sum(raw^2), 0, 1): least squares of the actual on the
//     raw prediction through the origin. What is served is the slope the record supports for what
//     comes next, not only on average over the window: skill that held last week and is gone now
//     is the common case in minute returns. The window's pairs (in time order) are cut into
//     kSlopeBlocks consecutive blocks of equal count (the first takes the remainder); each gives
//     its own slope b_k (blocks without a non-zero raw are left out); with K >= 3 slopes and
//     blocks of at least kMinFitPairs pairs, the served factor is the lower prediction bound of
//     the next block's slope,
//       b_lo = clip(mean(b_k) - t(K - 1, 1 - significance) * sd(b_k) * sqrt(1 + 1/K), 0, b),
//     and 0 otherwise; served = b_lo * raw when the model has skill, else 0. Any factor in
//     [0, 2 b] beats zero change on the record as a whole.
//
//   Skill (prequential Diebold-Mariano). For each pair i of the window in time order, b_i is the
//     shrinkage fitted on the window's pairs known before it (ts_j + horizon <= ts_i, at least
//     kMinFitPairs of them); its loss differential is d_i = actual_i^2 - (actual_i - b_i raw_i)^2
//     (zero change's squared error minus the served prediction's: positive when the model helps).
//     DM = mean(d) / sqrt(V / n), V the long-run variance of d: horizon-h outcomes of
//     consecutive minutes overlap (h - 1 lags at least), and squared errors of minute returns
//     inherit volatility clustering, whose dependence lasts far longer. V is the overlapping
//     batch means estimator (Meketon & Schmeiser 1984: the Bartlett/Newey-West estimator
//     computed in O(n)) with batch size m = max(h, ceil(Andrews' (1991) AR(1) plug-in bandwidth
//     for the Bartlett kernel, 1.1447 (a n)^(1/3), a = 4 rho^2 / ((1 - rho)^2 (1 + rho)^2), rho the
//     lag-1 autocorrelation of d clipped to [-0.99, 0.99])), at most n / 2:
//       V = n m / ((n - m + 1)(n - m)) * sum over the n - m + 1 batches j of (mean of batch j - mean(d))^2.
//     One-sided p = 1 - Phi(DM). The model has skill when n >= min_pairs, mean(d) > 0 and p <
//     significance. Every d_i is out of sample: b_i never saw pair i.
//
//   Confidence (conformal predictive distribution, symmetrized). Residuals e_i = actual_i -
//     served_i over the window; the stated direction is the sign of the raw prediction (the served
//     change has that sign or is 0) and its probability is
//       P = 1/2 + 1/2 * #{ |e_i| < |served| } / (n + 1),
//     the conformal predictive P(actual has the sign of served) when the residual distribution is
//     taken symmetric (a window's drift is not a forecast). Never below 50 %; exactly 50 % without
//     skill (served = 0).
//
//   Interval. Split conformal with the (n + 1) correction on |e_i|: q = the ceil((n + 1)(1 -
//     alpha_t))-th smallest |e_i| (the largest when that rank exceeds n, and no interval at all
//     with no residual); lower = served - q, upper = served + q. alpha_t is the adaptive
//     conformal level (Gibbs & Candes 2021) after the model's stated intervals whose outcome is
//     known: alpha_t = alpha + gamma * (stated * alpha - missed), alpha = 1 - coverage, used
//     clipped to [0, 1].
//
// Errors: InvalidParameter naming the value and the rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "errors.hpp"

namespace cml {

// ---- the one train/validation split -----------------------------------------------------------

// n time-ordered samples: the last floor(n * validation_split) validate (early stopping), the
// `horizon` before them are dropped (embargo: their targets overlap the validation period), the
// rest train. ok when train >= min_train and valid >= min_valid. ml_train, the backtests and the
// rolling-origin folds all split with it.
struct SplitRows {
  std::size_t train = 0, embargo = 0, valid = 0;
  bool ok = false;
};
constexpr std::size_t kMinTrainRows = 30;
constexpr std::size_t kMinValidRows = 10;
SplitRows split_rows(std::size_t n, double validation_split, int horizon);
// The smallest n for which split_rows is ok. Both throw InvalidParameter for a split outside
// (0, 1) or a horizon < 1.
std::size_t split_min_rows(double validation_split, int horizon);

// ---- rolling-origin evaluation inside a training window -------------------------------------

// Trains a model on train_rows (early-stopped on valid_rows) and returns its predictions of
// predict_rows (NaN for a row it cannot predict, e.g. without a sequence's history). Indices are
// into the caller's time-ordered samples.
using FoldTrainer = std::function<std::vector<double>(const std::vector<std::size_t>& train_rows,
                                                      const std::vector<std::size_t>& valid_rows,
                                                      const std::vector<std::size_t>& predict_rows)>;
struct RollingOrigin {
  std::vector<std::size_t> rows;  // predicted sample indices, ascending
  std::vector<double> raw;        // the fold model's prediction of each (finite)
  int folds_used = 0;
};
// The n = ts.size() samples (minutes, strictly increasing) are cut into folds + 1 consecutive
// chunks of equal count (the first takes the remainder). For f = 1..folds, the samples of chunks
// before f whose target was known at the first minute of chunk f (ts + horizon <= that minute)
// are split with split_rows; when ok, a model trained on that split predicts chunk f. A fold
// whose split is not ok is skipped. folds in [1, 20] (InvalidParameter otherwise).
RollingOrigin rolling_origin(const std::vector<std::int64_t>& ts, int horizon, double validation_split, int folds,
                             const FoldTrainer& train_predict);

// ---- statements ------------------------------------------------------------------------------

struct HonestSettings {
  int horizon = 15;             // minutes: a pair at ts is known at ts + horizon
  double coverage = 0.8;        // inference.intervalCoverage, in (0, 1)
  double aci_gamma = 0.005;     // inference.intervalAdaptRate, in [0, 1]
  double significance = 0.05;   // inference.skillSignificance, in (0, 0.5]
  std::size_t window = 10080;   // inference.calibrationWindow: known pairs read, >= 10
  std::size_t min_pairs = 100;  // loss differentials the skill test needs
  // InvalidParameter naming the field, value and rule.
  void validate() const;
};
constexpr std::size_t kMinFitPairs = 30;
constexpr std::size_t kSlopeBlocks = 5;

struct OutcomePair {
  std::int64_t ts = 0;  // minute of the forecast's bar
  double raw = 0;       // the model's output, % change
  double actual = 0;    // the change that happened, %; NaN while unknown
};

struct SkillTest {
  std::size_t n = 0;           // loss differentials
  double mean_loss_diff = 0;   // mean(d): zero change's MSE minus the served prediction's
  double statistic = 0;        // DM statistic
  std::size_t batch = 0;       // the batch size m of the long-run variance
  double p_value = 1;          // one-sided: the served prediction beats zero change
  bool skilled = false;
};

// Least squares of actual on raw through the origin, clipped to [0, 1]; 0 with no pair or all
// raw 0. Sizes must match (InvalidParameter).
double shrink_factor(const std::vector<double>& raw, const std::vector<double>& actual);
// The served factor b_lo of pairs sorted by ts (see Conventions), in [0, shrink_factor].
double shrink_lower_bound(const std::vector<OutcomePair>& pairs, double significance);
// The p-quantile of Student's t with df degrees of freedom (InvalidParameter unless 0 < p < 1, df > 0).
double student_t_quantile(double p, double df);
// The long-run variance (overlapping batch means with Andrews' bandwidth, see Conventions) of a
// series in time order, and the batch size used; NaN with fewer than 4 values.
double long_run_variance(const std::vector<double>& x, int horizon, std::size_t* batch);
// The DM test of loss differentials in time order (see Conventions) at `horizon`, one-sided.
// Fewer than 4 values (no two batches): n and mean set, statistic 0, p 1, not skilled.
SkillTest diebold_mariano(const std::vector<double>& loss_diff, int horizon, double significance, std::size_t min_pairs);
// The prequential DM test of pairs sorted by ts (all known).
SkillTest prequential_skill(const std::vector<OutcomePair>& pairs, int horizon, double significance, std::size_t min_pairs);
// The ceil((n + 1)(1 - alpha))-th smallest score, the largest when that rank exceeds n, the
// smallest when it is below 1 (alpha >= 1); NaN with no score. alpha NaN: InvalidParameter.
double conformal_quantile(std::vector<double> scores, double alpha);
// alpha + gamma * (stated * alpha - missed): the ACI level after `stated` intervals of which
// `missed` did not cover (missed <= stated, InvalidParameter otherwise). Not clipped.
double aci_alpha(double alpha, double gamma, std::size_t stated, std::size_t missed);

// The state a statement is made from.
struct Calibration {
  std::size_t pairs = 0;      // known pairs in the window
  double shrink_ls = 0;       // b, the least-squares slope
  double shrink = 0;          // the factor served: b_lo with skill, else 0
  SkillTest skill;
  double alpha = 0.2;         // ACI level in use (clipped to [0, 1])
  double half_width = 0;      // q; NaN without residuals
  std::vector<double> abs_residuals;  // |actual - served| of the window, ascending
};
// From the pairs known at the statement's time (any order; unknown or non-finite ones are
// skipped) and the model's earlier stated intervals whose outcome is known (stated, missed).
Calibration calibrate(std::vector<OutcomePair> known, std::size_t stated, std::size_t missed, const HonestSettings& s);

struct Statement {
  double raw = 0, served = 0;
  double confidence = 50;     // %, in [50, 100)
  double lower = 0, upper = 0;  // NaN when no interval can be stated
  bool skilled = false;
};
// The statement for a raw prediction (NaN raw: served 0, confidence 50).
Statement state(const Calibration& c, double raw);

// Statements of predictions one model made in time order (sorted by ts; actual NaN while
// unknown), each from what was known at its time: `prior` out-of-time pairs (known at ts +
// horizon, as all pairs) and the sequence's own earlier predictions once their outcome was known,
// with ACI counting the sequence's intervals whose outcome was known. What a live model states
// forecast after forecast, replayed (the backtests).
std::vector<Statement> state_sequence(const std::vector<OutcomePair>& prior, const std::vector<OutcomePair>& sequence,
                                      const HonestSettings& s);

// ---- reliability -----------------------------------------------------------------------------

// Stated confidences (%) against hits (the stated direction was right), in the reliability
// table's buckets: below 50, 50-60, ..., 80-90, 90-100. ece: sum over buckets of share x |mean
// confidence - hit rate|, in points; brier: mean (confidence/100 - hit)^2; brier_skill: 1 -
// brier / 0.25 (always stating 50 %); largest_gap: the largest |mean confidence - hit rate| of a
// bucket holding at least min_bucket statements (NaN when none does), in points. Non-finite
// confidences are skipped; sizes must match.
struct Reliability {
  std::size_t n = 0;
  double ece = 0, brier = 0, brier_skill = 0, largest_gap = 0;
};
Reliability reliability(const std::vector<double>& confidence_pct, const std::vector<bool>& hit, std::size_t min_bucket);

}  // namespace cml
