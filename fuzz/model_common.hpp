// Shared by the model loader targets: one prediction of a loaded model on a fixed feature row.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "fuzz_common.hpp"
#include "model.hpp"

namespace fuzz {

// A plausible row of the 29 v1 features (one missing value), repeated to the model's width, and
// as many identical contiguous rows as the model's sequence length; predicts the last row.
inline void predict_fixed_row(const cml::Model& m) {
  static const double kRow[] = {55.2, 1.5, 1.2, 0.3, 0.61, 0.012, 71.0, 64.5, 0.0008, 0.02,
                                0.05, -0.03, 0.1, 0.2, std::numeric_limits<double>::quiet_NaN(),
                                0.4, 0.9, 3.2, 1.1, -0.4, 0.15, 0.05, 0.03, 0.02, 0.12, 0.5,
                                -0.86, 0.78, 0.62};
  constexpr std::size_t kN = sizeof kRow / sizeof kRow[0];
  const std::size_t cols = m.num_features();
  const int len = m.sequence_length();
  FUZZ_CHECK(cols >= 1 && len >= 1);
  const std::size_t rows = static_cast<std::size_t>(len);
  std::vector<double> X(rows * cols);
  for (std::size_t i = 0; i < X.size(); ++i) X[i] = kRow[(i % cols) % kN];
  std::vector<int> run(rows);
  for (std::size_t i = 0; i < rows; ++i) run[i] = static_cast<int>(i) + 1;
  cml::FeatureRows d;
  d.X = X.data();
  d.rows = rows;
  d.cols = cols;
  d.run = run.data();
  std::vector<double> p;
  if (accepts([&] { p = m.predict(d, {rows - 1}); })) FUZZ_CHECK(p.size() == 1);
}

}  // namespace fuzz
