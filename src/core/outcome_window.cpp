// See outcome_window.hpp.
#include "outcome_window.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "errors.hpp"
#include "honest.hpp"

namespace cml {

OutcomeWindow::OutcomeWindow(std::vector<KnownOutcome> rows) : rows_(std::move(rows)) {
  for (std::size_t i = 0; i < rows_.size(); i++) {
    if (i > 0 && rows_[i].ts <= rows_[i - 1].ts)
      throw InvalidParameter("outcome rows out of order at row " + std::to_string(i), "rule: one row per bar, in time order");
    if (rows_[i].missed && !rows_[i].stated)
      throw InvalidParameter("outcome row " + std::to_string(i) + " missed an interval it did not state", "rule: missed implies stated");
  }
}

void OutcomeWindow::trim(std::size_t keep) {
  if (rows_.size() <= keep) return;
  const std::size_t drop = rows_.size() - keep;
  for (std::size_t i = 0; i < drop; i++) {
    dropped_stated_ += rows_[i].stated ? 1 : 0;
    dropped_missed_ += rows_[i].missed ? 1 : 0;
  }
  dropped_ += drop;
  rows_.erase(rows_.begin(), rows_.begin() + static_cast<std::ptrdiff_t>(drop));
  memo_.valid = false;
}

bool OutcomeWindow::half_width(std::int64_t known_until, std::size_t window, double coverage, double gamma, double* q) const {
  // the kept rows known at the bar: [0, end)
  const auto past_end = std::upper_bound(rows_.begin(), rows_.end(), known_until,
                                         [](std::int64_t t, const KnownOutcome& r) { return t < r.ts; });
  const std::size_t end = static_cast<std::size_t>(past_end - rows_.begin());
  if (dropped_ > 0 && end < window) return false;  // the window reaches the counted rows
  const std::size_t from = end > window ? end - window : 0;
  std::size_t stated = dropped_stated_, missed = dropped_missed_;
  for (std::size_t i = 0; i < end; i++) {
    stated += rows_[i].stated ? 1 : 0;
    missed += rows_[i].missed ? 1 : 0;
  }
  if (memo_.valid && memo_.end == end && memo_.window == window && memo_.stated == stated && memo_.missed == missed &&
      memo_.coverage == coverage && memo_.gamma == gamma) {
    *q = memo_.q;
    return true;
  }
  std::vector<double> scores;
  scores.reserve(end - from);
  for (std::size_t i = from; i < end; i++)
    if (std::isfinite(rows_[i].residual)) scores.push_back(std::fabs(rows_[i].residual));
  const double alpha = std::min(1.0, std::max(0.0, aci_alpha(1 - coverage, gamma, stated, missed)));
  *q = conformal_quantile(std::move(scores), alpha);
  memo_ = Memo{true, end, window, stated, missed, coverage, gamma, *q};
  return true;
}

}  // namespace cml
