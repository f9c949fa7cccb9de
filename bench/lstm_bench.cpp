// One training epoch of the LSTM regressor (src/core/lstm.hpp), to compare with PyTorch
// (bench/lstm_torch.py, same shapes; bench/lstm_epoch.sh runs both).
//
// Fixed shapes: 20000 training sequences, sequence_length 30, 29 features, hidden_size 32,
// 1 layer, batch_size 1000 (20 mini-batches), one thread. An epoch = shuffle, then per mini-batch
// gather + forward + backward (BPTT) + gradient clipping + Adam; no validation pass.
// Data: N(0,1) features and targets; sequences are sliding windows over 20029 rows.
//
// BM_LstmPredictOne: LstmModel::predict on one sequence (L 30, H 32, 29 features), what the
// forecaster asks per symbol and horizon; the input is the deterministic one lstm_torch.py --infer
// builds (x[t][f] = sin(0.1 * (29 t + f)) + 0.01 f). Both run on the kernels that
// CRYPTOML_LSTM_KERNELS (auto | portable | avx2) selects; the label names them.
#include "lstm.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
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
  state.SetLabel(cml::lstm_kernels_name(cml::lstm_kernels_active()));
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

void BM_LstmPredictOne(benchmark::State& state) {
  state.SetLabel(cml::lstm_kernels_name(cml::lstm_kernels_active()));
  // a trained model of the benchmark's shapes: 1 epoch on 2000 of the epoch benchmark's sequences
  cml::LstmParams p;
  p.sequence_length = static_cast<int>(kLength);
  p.hidden_size = 32;
  p.max_epochs = 1;
  cml::SequenceSet tr = data().set, va = data().set;
  tr.ends.resize(2000);
  va.ends.assign(data().set.ends.begin() + 2000, data().set.ends.begin() + 2200);
  const cml::LstmModel model = cml::LstmModel::train(tr, va, p, {}, nullptr);
  std::vector<double> x(kLength * kFeatures);
  for (std::size_t t = 0; t < kLength; ++t) {
    for (std::size_t f = 0; f < kFeatures; ++f) {
      x[t * kFeatures + f] = std::sin(0.1 * static_cast<double>(t * kFeatures + f)) + 0.01 * static_cast<double>(f);
    }
  }
  const cml::SequenceSet one{x.data(), kLength, kFeatures, nullptr, {kLength - 1}};
  double y = 0;
  for (auto _ : state) {
    y = model.predict(one)[0];
    benchmark::DoNotOptimize(y);
  }
  state.counters["prediction"] = y;
}
BENCHMARK(BM_LstmPredictOne)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
