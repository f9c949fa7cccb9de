// The known outcomes of one series of stored forecasts (a symbol's volatility forecasts of one
// horizon) as the interval of a later forecast of the series reads them, kept between forecasts.
//
// A forecast at bar t states center -/+ q, q the split conformal quantile (conformal_quantile) of
// the |residuals| of the last `window` forecasts of the series whose outcome is known at t (bar +
// horizon <= t), at the ACI level (aci_alpha, clipped to [0, 1]) after every such forecast that
// stated an interval (stated) and those whose interval missed the outcome (missed). Residuals
// that are not finite (an unknown prediction) are left out of the quantile but count in the window.
//
// The series is read once (one row per bar, time order) and kept; only the newest `keep` rows
// are kept, the older ones counted (stated, missed). A question the kept rows cannot answer (its
// window reaches into the counted rows) says so: the caller reads the series again. The last
// answer is remembered, so the same question costs no sort. Pure C++17.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cml {

struct KnownOutcome {
  std::int64_t ts = 0;    // the forecast's bar (any time unit; strictly increasing in a series)
  double residual = 0;    // actual - predicted; NaN when the prediction is unknown
  bool stated = false;    // the forecast stated an interval
  bool missed = false;    // ... that did not cover the actual (implies stated)
};

class OutcomeWindow {
 public:
  OutcomeWindow() = default;
  // rows: strictly increasing ts (InvalidParameter otherwise, or a missed row that did not state).
  explicit OutcomeWindow(std::vector<KnownOutcome> rows);
  // Keeps the newest `keep` rows, counting the others.
  void trim(std::size_t keep);
  // q for a forecast whose known outcomes are the rows with ts <= known_until (see above), with
  // interval coverage `coverage` and ACI rate `gamma`; window = SIZE_MAX reads them all. False
  // when the kept rows cannot answer. *q is NaN without a finite residual in the window.
  bool half_width(std::int64_t known_until, std::size_t window, double coverage, double gamma, double* q) const;
  std::size_t kept() const { return rows_.size(); }
  std::size_t counted() const { return dropped_; }

 private:
  std::vector<KnownOutcome> rows_;
  std::size_t dropped_ = 0, dropped_stated_ = 0, dropped_missed_ = 0;
  struct Memo {
    bool valid = false;
    std::size_t end = 0, window = 0, stated = 0, missed = 0;
    double coverage = 0, gamma = 0, q = 0;
  };
  mutable Memo memo_;
};

}  // namespace cml
