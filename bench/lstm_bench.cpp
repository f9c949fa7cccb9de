// One training epoch of the LSTM regressor (src/core/lstm.hpp), to compare with PyTorch
// (bench/lstm_torch.py, same shapes; bench/lstm_epoch.sh runs both).
//
// Fixed shapes: 20000 training sequences, sequence_length 30, 29 features, hidden_size 32,
// 1 layer, batch_size 1000 (20 mini-batches), one thread. An epoch = shuffle, then per mini-batch
// gather + forward + backward (BPTT) + gradient clipping + Adam; no validation pass.
// Data: N(0,1) features and targets; sequences are sliding windows over 20029 rows.
#include "lstm.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <random>
#include <vector>

namespace {

constexpr std::size_t kSequences = 20000, kLength = 30, kFeatures = 29;

struct Data {
  std::vector<double> x, y;
  cml::SequenceSet set;
};

const Data& data() {
  static const Data d = [] {
    Data r;
    const std::size_t rows = kSequences + kLength - 1;
    std::mt19937_64 rng(2024);
    std::normal_distribution<double> z(0.0, 1.0);
    r.x.resize(rows * kFeatures);
    r.y.resize(rows);
    for (double& v : r.x) v = z(rng);
    for (double& v : r.y) v = z(rng);
    r.set = cml::SequenceSet{r.x.data(), rows, kFeatures, r.y.data(), {}};
    for (std::size_t e = kLength - 1; e < rows; ++e) r.set.ends.push_back(e);
    return r;
  }();
  return d;
}

void BM_LstmEpoch(benchmark::State& state) {
  cml::LstmParams p;
  p.sequence_length = static_cast<int>(kLength);
  p.hidden_size = 32;
  p.num_layers = static_cast<int>(state.range(0));
  p.batch_size = 1000;
  p.learning_rate = 1e-3;
  cml::lstm_detail::EpochRunner runner(data().set, p);
  runner.run_epoch();  // warm-up: first touch of the workspace
  double loss = 0;
  for (auto _ : state) {
    loss = runner.run_epoch();
    benchmark::DoNotOptimize(loss);
  }
  state.counters["sequences_per_second"] =
      benchmark::Counter(static_cast<double>(kSequences) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["train_loss"] = loss;
}
BENCHMARK(BM_LstmEpoch)->Arg(1)->ArgName("layers")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
