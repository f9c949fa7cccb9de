// Cost of building feature rows (src/core/features.hpp, features_v2.hpp): 60,000 rows of a symbol
// in a market of 6 symbols (random walks, 2 % of minutes missing). items_per_second = rows/s.
//   BM_FeaturesV1       build_features, set 1 (29 features)
//   BM_FeaturesV2       build_features_v2, set 2 (81 features), 2 leaders, 6 index members
//   BM_FeaturesV2Live   one row from a tail (kV2OwnRows rows, kV2OtherMinutes of the others, the
//                       season ranges), as a live forecast builds it
#include "features.hpp"
#include "features_v2.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kRows = 60000;

cml::BarSeries walk(unsigned seed, std::int64_t t0, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  cml::BarSeries s;
  double c = 100.0 + seed;
  for (std::size_t k = 0; k < n; ++k) {
    const double o = c;
    c = o * std::exp(0.001 * z(rng));
    if (k > 0 && u(rng) < 0.02) continue;
    s.ts.push_back(t0 + static_cast<std::int64_t>(k));
    s.open.push_back(o);
    s.high.push_back(std::max(o, c) * (1 + 0.0005 * u(rng)));
    s.low.push_back(std::min(o, c) * (1 - 0.0005 * u(rng)));
    s.close.push_back(c);
    s.volume.push_back(1000 * u(rng));
  }
  return s;
}

struct Fixture {
  cml::BarSeries own;
  cml::MarketContext m;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture r;
    const std::int64_t t0 = 28000000;
    const std::size_t minutes = kRows + kRows / 40;  // ~60k rows after the gaps
    r.own = walk(1, t0, minutes);
    r.m.symbol = "AAA";
    r.m.leaders = {"BTC", "ETH"};
    r.m.index_members = {"AAA", "BBB", "BTC", "CCC", "DDD", "ETH"};
    unsigned seed = 2;
    for (const char* nm : {"BBB", "BTC", "CCC", "DDD", "ETH"}) r.m.bars[nm] = walk(seed++, t0, minutes);
    return r;
  }();
  return f;
}

void BM_FeaturesV1(benchmark::State& st) {
  const Fixture& f = fixture();
  for (auto _ : st)
    benchmark::DoNotOptimize(cml::build_features(f.own, 0, f.own.size(), cml::IndicatorParams{}));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * f.own.size()));
}
BENCHMARK(BM_FeaturesV1)->Unit(benchmark::kMillisecond);

void BM_FeaturesV2(benchmark::State& st) {
  const Fixture& f = fixture();
  for (auto _ : st)
    benchmark::DoNotOptimize(
        cml::build_features_v2(f.own, 0, f.own.size(), cml::IndicatorParams{}, f.m));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * f.own.size()));
}
BENCHMARK(BM_FeaturesV2)->Unit(benchmark::kMillisecond);

void BM_FeaturesV2Live(benchmark::State& st) {
  const Fixture& f = fixture();
  const std::size_t i = f.own.size() - 1;
  const std::size_t r0 = i - cml::kV2OwnRows;
  cml::BarSeries tail;
  auto copy = [](const cml::BarSeries& s, std::size_t r, cml::BarSeries& o) {
    o.ts.push_back(s.ts[r]);
    o.open.push_back(s.open[r]);
    o.high.push_back(s.high[r]);
    o.low.push_back(s.low[r]);
    o.close.push_back(s.close[r]);
    o.volume.push_back(s.volume[r]);
  };
  for (std::size_t r = r0; r <= i; ++r) copy(f.own, r, tail);
  cml::IndicatorState before{cml::IndicatorParams{}};
  for (std::size_t r = 0; r < r0; ++r) before.update(f.own.high[r], f.own.low[r], f.own.close[r]);
  cml::MarketContext m = f.m;
  const std::int64_t t = f.own.ts[i];
  for (auto& kv : m.bars) {
    cml::BarSeries x;
    for (std::size_t r = 0; r < kv.second.size(); ++r)
      if (kv.second.ts[r] >= t - 1 - cml::kV2OtherMinutes && kv.second.ts[r] <= t - 1)
        copy(kv.second, r, x);
    kv.second = x;
  }
  for (const auto& rg : cml::v2_season_ranges(t))
    for (std::size_t r = 0; r < f.own.size(); ++r)
      if (f.own.ts[r] >= rg.first && f.own.ts[r] <= rg.second) copy(f.own, r, m.season_bars);
  for (auto _ : st)
    benchmark::DoNotOptimize(cml::build_features_v2(tail, tail.size() - 1, tail.size(), before, m));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}
BENCHMARK(BM_FeaturesV2Live)->Unit(benchmark::kMicrosecond);

}  // namespace
