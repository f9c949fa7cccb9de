// OutcomeWindow (src/core/outcome_window.hpp): the interval half-width from a kept series equals
// the direct computation (conformal_quantile of the window's |residuals| at the ACI level over all
// known rows), after trimming, for every bar asked, and says when it cannot answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "errors.hpp"
#include "honest.hpp"
#include "outcome_window.hpp"

namespace {

using cml::KnownOutcome;
using cml::OutcomeWindow;

std::vector<KnownOutcome> series(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> e(0, 1);
  std::uniform_int_distribution<int> gap(1, 3), coin(0, 3);
  std::vector<KnownOutcome> rows;
  std::int64_t ts = 1000;
  for (std::size_t i = 0; i < n; i++) {
    ts += gap(rng);
    KnownOutcome r;
    r.ts = ts;
    r.residual = coin(rng) == 0 ? NAN : e(rng);
    r.stated = coin(rng) != 0;
    r.missed = r.stated && coin(rng) == 0;
    rows.push_back(r);
  }
  return rows;
}

// The direct computation, as the SQL of ml_forecast_all 0.10.0 did it.
double direct(const std::vector<KnownOutcome>& rows, std::int64_t until, std::size_t window, double coverage, double gamma) {
  std::vector<KnownOutcome> past;
  for (const KnownOutcome& r : rows)
    if (r.ts <= until) past.push_back(r);
  std::size_t stated = 0, missed = 0;
  for (const KnownOutcome& r : past) {
    stated += r.stated;
    missed += r.missed;
  }
  std::vector<double> scores;
  const std::size_t from = past.size() > window ? past.size() - window : 0;
  for (std::size_t i = from; i < past.size(); i++)
    if (std::isfinite(past[i].residual)) scores.push_back(std::fabs(past[i].residual));
  const double alpha = std::min(1.0, std::max(0.0, cml::aci_alpha(1 - coverage, gamma, stated, missed)));
  return cml::conformal_quantile(scores, alpha);
}

void expect_same(double a, double b) {
  if (std::isnan(b)) EXPECT_TRUE(std::isnan(a));
  else EXPECT_EQ(a, b);
}

TEST(OutcomeWindow, EqualsTheDirectComputationAtEveryBar) {
  const std::vector<KnownOutcome> rows = series(400, 7);
  OutcomeWindow w(rows);
  for (std::size_t window : {std::size_t(10), std::size_t(50), std::size_t(1000), std::numeric_limits<std::size_t>::max()})
    for (std::int64_t until = 900; until <= rows.back().ts + 5; until += 7) {
      double q = -1;
      ASSERT_TRUE(w.half_width(until, window, 0.8, 0.005, &q));
      expect_same(q, direct(rows, until, window, 0.8, 0.005));
      ASSERT_TRUE(w.half_width(until, window, 0.8, 0.005, &q));  // remembered
      expect_same(q, direct(rows, until, window, 0.8, 0.005));
    }
}

TEST(OutcomeWindow, TrimmedCountsTheDroppedRowsAndRefusesWhatItCannotAnswer) {
  const std::vector<KnownOutcome> rows = series(500, 11);
  OutcomeWindow w(rows);
  w.trim(120);
  EXPECT_EQ(w.kept(), 120u);
  EXPECT_EQ(w.counted(), 380u);
  int answered = 0, refused = 0;
  for (std::int64_t until = rows[300].ts; until <= rows.back().ts; until++) {
    double q = -1;
    if (w.half_width(until, 50, 0.9, 0.01, &q)) {
      answered++;
      expect_same(q, direct(rows, until, 50, 0.9, 0.01));
    } else {
      refused++;
      // refused only when fewer than 50 kept rows are known at the bar
      std::size_t known_kept = 0;
      for (std::size_t i = 380; i < rows.size(); i++) known_kept += rows[i].ts <= until;
      EXPECT_LT(known_kept, 50u);
    }
  }
  EXPECT_GT(answered, 0);
  EXPECT_GT(refused, 0);
  double q;
  EXPECT_FALSE(w.half_width(rows.back().ts, std::numeric_limits<std::size_t>::max(), 0.8, 0.005, &q));  // all rows: some are only counted
}

TEST(OutcomeWindow, EmptyAndInvalid) {
  OutcomeWindow empty;
  double q = 0;
  ASSERT_TRUE(empty.half_width(100, 10, 0.8, 0.005, &q));
  EXPECT_TRUE(std::isnan(q));
  std::vector<KnownOutcome> bad = series(3, 1);
  bad[2].ts = bad[1].ts;
  EXPECT_THROW(OutcomeWindow{bad}, cml::InvalidParameter);
  std::vector<KnownOutcome> bad2 = series(3, 1);
  bad2[0].stated = false;
  bad2[0].missed = true;
  EXPECT_THROW(OutcomeWindow{bad2}, cml::InvalidParameter);
}

}  // namespace
