// Cost per bar of the indicator kernels (src/core/indicators.hpp) over 1M random-walk bars.
// items_per_second = bars/s; the time_per_bar counter is its inverse.
#include "indicators.hpp"
#include "indicator_windows.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace {

constexpr std::size_t kBars = 1000000;

struct Bars {
  std::vector<double> high, low, close;
};

const Bars& bars() {
  static const Bars b = [] {
    Bars r;
    r.high.resize(kBars);
    r.low.resize(kBars);
    r.close.resize(kBars);
    std::mt19937_64 rng(12345);
    std::normal_distribution<double> z(0.0, 1.0);
    double prev = 30000;
    for (std::size_t i = 0; i < kBars; ++i) {
      double c = prev * std::exp(0.001 * z(rng));
      c += 0.001 * (30000 - c);
      r.high[i] = std::max(prev, c) * (1 + 0.001 * std::fabs(z(rng)));
      r.low[i] = std::min(prev, c) * (1 - 0.001 * std::fabs(z(rng)));
      r.close[i] = c;
      prev = c;
    }
    return r;
  }();
  return b;
}

void per_bar(benchmark::State& state) {
  const auto items = static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(kBars);
  state.SetItemsProcessed(items);
  state.counters["time_per_bar"] = benchmark::Counter(
      static_cast<double>(kBars),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_IndicatorStateUpdate(benchmark::State& state) {
  const Bars& b = bars();
  for (auto _ : state) {
    cml::IndicatorState st(cml::IndicatorParams{});
    for (std::size_t i = 0; i < kBars; ++i) {
      cml::IndicatorValues v = st.update(b.high[i], b.low[i], b.close[i]);
      benchmark::DoNotOptimize(v);
    }
  }
  per_bar(state);
}
BENCHMARK(BM_IndicatorStateUpdate)->Unit(benchmark::kMillisecond);

void BM_Rsi(benchmark::State& state) {
  const Bars& b = bars();
  for (auto _ : state) benchmark::DoNotOptimize(cml::rsi(b.close, 14));
  per_bar(state);
}
BENCHMARK(BM_Rsi)->Unit(benchmark::kMillisecond);

void BM_Macd(benchmark::State& state) {
  const Bars& b = bars();
  for (auto _ : state) benchmark::DoNotOptimize(cml::macd(b.close, 12, 26, 9));
  per_bar(state);
}
BENCHMARK(BM_Macd)->Unit(benchmark::kMillisecond);

void BM_Bollinger(benchmark::State& state) {
  const Bars& b = bars();
  for (auto _ : state) benchmark::DoNotOptimize(cml::bollinger(b.close, 20, 2.0));
  per_bar(state);
}
BENCHMARK(BM_Bollinger)->Unit(benchmark::kMillisecond);

void BM_Stochastic(benchmark::State& state) {
  const Bars& b = bars();
  for (auto _ : state) benchmark::DoNotOptimize(cml::stochastic(b.high, b.low, b.close, 14, 3));
  per_bar(state);
}
BENCHMARK(BM_Stochastic)->Unit(benchmark::kMillisecond);

void BM_Volatility(benchmark::State& state) {
  const Bars& b = bars();
  for (auto _ : state) benchmark::DoNotOptimize(cml::volatility(b.close, 5));
  per_bar(state);
}
BENCHMARK(BM_Volatility)->Unit(benchmark::kMillisecond);

// The window functions' step (src/core/indicator_windows.hpp): one IndicatorWindow fed row by row,
// as ml_rsi(close) OVER w does; compare with BM_Rsi, ... (the array functions' kernels) of the
// same run: the ratio is the cost of the row-at-a-time wrapper (input checks, dispatch).
void window_per_row(benchmark::State& state, cml::IndicatorWindow (*make)()) {
  const Bars& b = bars();
  for (auto _ : state) {
    cml::IndicatorWindow w = make();
    double out[cml::IndicatorWindow::kMaxOutputs];
    for (std::size_t i = 0; i < kBars; ++i) {
      const double in[3] = {b.high[i], b.low[i], b.close[i]};
      w.update(static_cast<std::int64_t>(i) + 1, w.inputs() == 3 ? in : in + 2, out);
      benchmark::DoNotOptimize(out);
    }
  }
  per_bar(state);
}
BENCHMARK_CAPTURE(window_per_row, Rsi, [] { return cml::IndicatorWindow::rsi(14); })->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(window_per_row, Macd, [] { return cml::IndicatorWindow::macd(12, 26, 9); })->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(window_per_row, Bollinger, [] { return cml::IndicatorWindow::bollinger(20, 2.0); })->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(window_per_row, Stochastic, [] { return cml::IndicatorWindow::stochastic(14, 3); })->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(window_per_row, Volatility, [] { return cml::IndicatorWindow::volatility(5); })->Unit(benchmark::kMillisecond);

}  // namespace
