// One-row XGBoost prediction, the unit of work of ml_forecast's predict step.
// Run: ./build/cryptoml_bench --benchmark_filter=Xgb
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "xgb.hpp"

namespace {

cml::XgbModel make_model(std::size_t rows, std::size_t cols) {
  std::vector<float> X(rows * cols), y(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    double s = 0;
    for (std::size_t c = 0; c < cols; ++c) {
      X[i * cols + c] = static_cast<float>(std::sin(0.37 * i + 1.3 * c));
      s += X[i * cols + c] * (c % 3 == 0 ? 1.0 : -0.5);
    }
    y[i] = static_cast<float>(s);
  }
  cml::XgbParams p;
  p.num_rounds = 50;
  p.early_stopping_rounds = 0;
  const std::size_t nv = rows / 5, nt = rows - nv;
  std::vector<float> yt(y.begin(), y.begin() + nt), yv(y.begin() + nt, y.end());
  return cml::XgbModel::train({X.data(), nt, cols}, yt, {X.data() + nt * cols, nv, cols}, yv, p, {}, nullptr);
}

void BM_XgbPredictOneRow(benchmark::State& state) {
  const std::size_t cols = 29;
  cml::XgbModel m = make_model(2000, cols);
  std::vector<float> row(cols, 0.25f);
  for (auto _ : state) benchmark::DoNotOptimize(m.predict({row.data(), 1, cols}));
}
BENCHMARK(BM_XgbPredictOneRow);

}  // namespace
