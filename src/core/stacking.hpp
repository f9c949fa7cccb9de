// Stacking: the ensemble's "stacking" combiner, a constrained linear meta-model fitted on the
// members' OUT-OF-TIME predictions (their rolling-origin records, honest.hpp), beside the default
// "inverse_mse" combiner. Pure C++17: no PostgreSQL header.
//
// Conventions.
//
//   Alignment. Each member has a record of OutcomePairs (ts, raw, actual). The aligned pairs are
//     the minutes present in every member's record with a finite raw in each and a finite actual
//     in the first member's (the members predicted the same sample, so its actual is theirs), in
//     ts order. A member with two pairs at one minute is refused (InvalidParameter).
//
//   Known pairs. A fit "as of" minute t reads only the aligned pairs with ts + horizon <= t (their
//     outcome was known at t): what a model trained at t could have read.
//
//   Meta-model. With P the n x k member predictions of the known pairs, y their actuals and w0 the
//     inverse-MSE weights of the same pairs (inverse_mse_weights, model.hpp), the weights are
//       w = argmin over the simplex {w >= 0, sum w = 1} of
//           (1/n) sum_i (y_i - P_i w)^2  +  lambda * s2 * ||w - w0||^2,
//     s2 = (1/(n k)) sum_{i,m} P_im^2 (the members' mean squared prediction, so lambda has no unit),
//     lambda = kStackPriorPairs / n: the inverse-MSE weights count as kStackPriorPairs pairs of
//     evidence, so a short record stays near them and a long one follows its data. No intercept: a
//     window's mean change is not a forecast (the calibration's shrinkage is through the origin
//     too). The weights sum to 1: the meta-model chooses the mix, the calibration (honest.hpp)
//     chooses the scale, as for every model, and the stored ensemble (Model::ensemble) is a
//     convex combination.
//
//   Solver. The objective is a strictly convex quadratic (lambda * s2 > 0) on the simplex: its
//     minimum lies in the relative interior of one face {w_m = 0 for m outside S}, where it is the
//     minimum of the objective on the face's affine hull (a k x k linear system with the
//     constraint sum w = 1). Every support S (2^k - 1 of them, k <= kStackMaxMembers) is solved;
//     the feasible solution (w_S >= 0) with the least objective is the minimum: exact, no
//     iteration, no tolerance. The KKT residual (stationarity on S, dual feasibility off S) is
//     reported as the certificate (kkt).
//
//   Fallback (weights = w0, stacked = false, reason given): fewer than kStackMinPairs known pairs
//     (no pair at all: equal weights), every prediction 0 (s2 = 0), or a member whose predictions
//     are one constant over the known pairs (its weight would act as an intercept).
//
//   The stacked record. The ensemble's own out-of-time record (what calibrate() reads) is
//     prequential: aligned pair i is combined with the weights fitted as of ts_i (on the pairs known
//     before it, the fallback included); a pair with no known pair before it is left out. So the
//     record's pairs are out of time for the weights as well as for the member models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.hpp"
#include "honest.hpp"

namespace cml {

enum class Combiner { inverse_mse, stacking };
const char* combiner_name(Combiner c);
// InvalidParameter naming the value and the rule for anything but "inverse_mse" or "stacking".
Combiner parse_combiner(const std::string& name);

constexpr std::size_t kStackMinPairs = 100;  // fewer known aligned pairs: the inverse-MSE weights
constexpr double kStackPriorPairs = 250;     // lambda = kStackPriorPairs / n
constexpr std::size_t kStackMaxMembers = 8;  // supports enumerated: 2^k - 1

struct AlignedRecords {
  std::vector<std::int64_t> ts;           // ascending
  std::vector<std::vector<double>> raw;   // raw[m][i]: member m's prediction of pair i
  std::vector<double> actual;
};
// members[m]: member m's record, any order. InvalidParameter for no member, more than
// kStackMaxMembers, or a duplicated minute in a member's record.
AlignedRecords align_records(const std::vector<std::vector<OutcomePair>>& members);

struct StackFit {
  std::vector<double> weights;      // on the simplex
  std::vector<double> inverse_mse;  // w0 (equal weights with no pair)
  double lambda = 0;                // the penalty used (0 on fallback)
  std::size_t pairs = 0;            // known aligned pairs read
  bool stacked = false;             // false: the fallback, weights = inverse_mse
  std::string fallback;             // why, when not stacked
  double objective = 0;             // at the weights (stacked only)
  double kkt = 0;                   // KKT residual of the solution (stacked only; ~1e-15 relative)
};

// The meta-model fitted on rows P (raw[m][i]) and actuals y with a given lambda >= 0 (finite);
// lambda < 0 selects the rule kStackPriorPairs / n. The fallback rules apply. With lambda = 0 a
// support whose system is singular is skipped; InvalidParameter when no support is feasible then,
// for size mismatches, a non-finite value or more than kStackMaxMembers members.
StackFit fit_stack(const std::vector<std::vector<double>>& raw, const std::vector<double>& actual, double lambda = -1);

// The weights of the aligned pairs known as of minute as_of (ts + horizon <= as_of). horizon >= 1.
StackFit stack_weights(const AlignedRecords& a, int horizon, std::int64_t as_of);

// The prequential stacked record (see Conventions). horizon >= 1.
std::vector<OutcomePair> stacked_record(const AlignedRecords& a, int horizon);

// The aligned pairs combined with fixed weights w (one per member): the inverse-MSE ensemble's
// record. InvalidParameter for a weight count other than the members'.
std::vector<OutcomePair> combine_aligned(const AlignedRecords& a, const std::vector<double>& w);

// {"weights": [...], "inverse_mse": [...], "lambda": ..., "prior_pairs": 250, "pairs": n,
//  "stacked": true, "fallback": null or the reason, "objective": ..., "kkt": ...} (JSON text).
std::string stack_fit_json(const StackFit& f);

}  // namespace cml
