// cryptoml LSTM sequence regressor on Eigen: stacked LSTM layers, a linear head on the last time
// step, MSE loss, Adam, gradient clipping, early stopping on a validation set, a versioned binary
// model format. Pure C++17: no PostgreSQL header may be included here. See docs/lstm.md.
//
// Errors: InvalidParameter for bad arguments (message names the parameter/argument, the value and
// the rule), Cancelled when should_stop asked training to stop, DataError when training diverged
// (non-finite loss or gradient) and for model bytes that are not a valid saved model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "errors.hpp"

namespace cml {

struct LstmParams {
  int sequence_length = 30;    // time steps per sample (L)
  int hidden_size = 32;        // units per LSTM layer (H)
  int num_layers = 1;          // stacked LSTM layers: 1 or 2
  double learning_rate = 1e-3; // Adam step size
  int batch_size = 1000;       // sequences per mini-batch
  int max_epochs = 100;
  int patience = 10;           // stop after this many epochs without a strictly better validation MSE
  double clip_norm = 1.0;      // gradients are rescaled so that their global L2 norm is <= clip_norm
  double weight_decay = 0;     // L2 term added to the gradient (as torch.optim.Adam's weight_decay)
  std::uint64_t seed = 42;     // initial weights and mini-batch order
  // Validates ranges, throwing InvalidParameter naming the parameter, the value and the rule:
  // sequence_length 1..1440, hidden_size 1..1024, num_layers 1..2, learning_rate in (0, 1],
  // batch_size 1..1000000, max_epochs 1..100000, patience 1..100000, clip_norm finite > 0,
  // weight_decay finite >= 0.
  void validate() const;
  // JSON object of every field (for storing with a model): {"sequence_length":30,...}
  std::string to_json() const;
};

struct LstmTrainReport {
  int epochs_trained = 0;          // epochs completed
  int best_epoch = -1;             // 1-based epoch whose weights were kept (-1: none yet)
  double best_valid_mse = 0;       // validation MSE of that epoch, in target units
  std::vector<double> train_loss;  // per epoch: mean mini-batch MSE on the standardized target
  std::vector<double> valid_mse;   // per epoch: validation MSE in target units
  bool early_stopped = false;      // stopped by patience before max_epochs
  bool diverged = false;           // loss or gradient became NaN/inf (train() then throws DataError)
  int diverged_epoch = 0;          // 1-based
};

// Time-ordered feature rows and their targets. X is row-major rows x cols (NaN = missing; +-inf is
// rejected). Sample k is the sequence of rows ends[k]-L+1 .. ends[k] (inclusive, L =
// sequence_length) with target y[ends[k]]. The caller guarantees those rows are contiguous in time;
// only y[ends[k]] is read (it must be finite). y may be nullptr for predict().
struct SequenceSet {
  const double* X = nullptr;
  std::size_t rows = 0, cols = 0;
  const double* y = nullptr;
  std::vector<std::size_t> ends;
};

class LstmModel {
 public:
  // Trains on `train`, evaluating the validation MSE after every epoch and keeping the best epoch's
  // weights; stops early after p.patience epochs without strict improvement. should_stop is polled
  // before every mini-batch (and between validation chunks); when it returns true, Cancelled
  // ("lstm: training cancelled at epoch E") is thrown. An empty should_stop never stops.
  // Throws InvalidParameter for bad params, no sequences, an end out of range, cols mismatch,
  // a non-finite target, an infinite feature; DataError when training diverged (report->diverged).
  // report may be nullptr; it is filled as far as training got, also when an exception is thrown.
  static LstmModel train(const SequenceSet& train, const SequenceSet& valid, const LstmParams& p,
                         const std::function<bool()>& should_stop, LstmTrainReport* report);

  // One prediction (in target units) per s.ends[k]; s.y is not read.
  // Throws InvalidParameter when s.cols != num_features(), an end is out of range or a feature of a
  // used row is +-infinity.
  std::vector<double> predict(const SequenceSet& s) const;

  std::size_t num_features() const { return nfeat_; }
  const LstmParams& params() const { return p_; }

  // Versioned little-endian binary model ("CMLL", format version 1; layout in docs/lstm.md).
  std::string save() const;
  // Bounds-checked; throws DataError("lstm model: ...") for anything that is not a valid saved model.
  static LstmModel load(const std::string& bytes);

  LstmModel(LstmModel&&) noexcept = default;
  LstmModel& operator=(LstmModel&&) noexcept = default;
  LstmModel(const LstmModel&) = default;
  LstmModel& operator=(const LstmModel&) = default;
  ~LstmModel() = default;

 private:
  LstmModel() = default;
  friend struct LstmAccess;
  LstmParams p_;
  std::size_t nfeat_ = 0;
  std::vector<double> x_mean_, x_std_;  // per feature
  double y_mean_ = 0, y_std_ = 1;
  std::vector<float> weights_;          // flat parameter vector, layout in lstm_detail::param_blocks
};

// Internals exposed for unit tests and benchmarks; not for the binding layer.
namespace lstm_detail {

struct Shape {
  int features = 0, hidden = 0, layers = 1;
  std::size_t num_params() const;
};

// One named block of the flat parameter vector. Per layer l (input size In = features for l = 0,
// hidden otherwise): "l<l>.w_in" (4H x In, column-major, gate rows i,f,g,o), "l<l>.w_rec" (4H x H,
// column-major), "l<l>.bias" (4H); then "head.w" (H) and "head.b" (1).
struct ParamBlock {
  std::string name;
  std::size_t offset = 0, size = 0;
};
std::vector<ParamBlock> param_blocks(const Shape& s);

// Deterministic initial parameters (PyTorch's U(-1/sqrt(H), 1/sqrt(H)), forget-gate bias 1).
std::vector<double> init_params(const Shape& s, std::uint64_t seed);

// MSE loss of a batch and its gradient with respect to theta, in double precision. seqs holds
// B sequences of L rows of s.features values (sample-major: seqs[(b*L + t)*F + f]), already
// standardized; y holds B targets. grad (may be nullptr) is resized to s.num_params().
double loss_and_gradient(const Shape& s, const std::vector<double>& theta, const double* seqs, std::size_t B,
                         std::size_t L, const double* y, std::vector<double>* grad);

// The flat parameter vector of a model (float, as trained) and a copy of a model with new ones
// (the size must match).
std::vector<float> get_params(const LstmModel& m);
LstmModel with_params(const LstmModel& m, const std::vector<float>& theta);

// Test hooks. after_backward is called after every mini-batch's backward pass (before the
// finiteness check, clipping and the Adam step) with the 1-based epoch, the 0-based batch index,
// the batch loss and the gradient; a test may overwrite them to simulate a numerical failure.
struct TrainHooks {
  std::function<void(int epoch, int batch, double* loss, float* grad, std::size_t n)> after_backward;
};
LstmModel train_with_hooks(const SequenceSet& train, const SequenceSet& valid, const LstmParams& p,
                           const std::function<bool()>& should_stop, LstmTrainReport* report,
                           const TrainHooks& hooks);

// Benchmark hook: the training state train() builds (standardized data, initial weights, Adam)
// and one epoch of it (shuffled mini-batches: forward, backward, clipping, Adam; no validation).
// The runner keeps a reference to `train`, which must outlive it.
class EpochRunner {
 public:
  EpochRunner(const SequenceSet& train, const LstmParams& p);
  ~EpochRunner();
  EpochRunner(const EpochRunner&) = delete;
  EpochRunner& operator=(const EpochRunner&) = delete;
  double run_epoch();  // mean training loss (standardized MSE)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lstm_detail
}  // namespace cml
