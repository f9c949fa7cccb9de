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
  int best_epoch = -1;             // 1-based epoch whose weights were kept (-1: none yet; 0: train_from's initial weights)
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

  // Warm start: train() starting from init's weights and standardization (not recomputed from
  // `train`) instead of p.seed's random weights; Adam's moments start at zero. The validation MSE
  // of init's weights counts as epoch 0: they are kept (best_epoch 0) unless an epoch is strictly
  // better, and patience counts from them. p.seed still orders the mini-batches, so the same init,
  // data and p give the same model. InvalidParameter also when init's features, sequence_length,
  // hidden_size or num_layers differ from train.cols and p.
  static LstmModel train_from(const LstmModel& init, const SequenceSet& train, const SequenceSet& valid,
                              const LstmParams& p, const std::function<bool()>& should_stop, LstmTrainReport* report);

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

// Which build of the network's dense kernels (forward/backward GEMMs and gate math) LSTM training
// and prediction run on (docs/lstm.md "CPU kernels"): `portable` is compiled for the x86-64
// baseline (SSE2) and runs anywhere; `avx2` is the same code compiled with AVX2+FMA, for CPUs
// that have both; `automatic` ("auto") takes avx2 when the CPU has it. The two differ in float
// rounding only (FMA, summation order), and a model trained on one predicts on the other.
enum class LstmKernels { automatic, portable, avx2 };

// "auto" | "portable" | "avx2" (exactly); InvalidParameter naming `what` and the value otherwise.
LstmKernels parse_lstm_kernels(const std::string& value, const char* what = "lstm kernels");
const char* lstm_kernels_name(LstmKernels k);  // "auto", "portable", "avx2"
// True when this CPU has AVX2 and FMA and this build has the avx2 kernels.
bool lstm_avx2_available();
// What a request runs on, given the CPU's flags: automatic -> avx2 if cpu_avx2 && cpu_fma (and the
// build has avx2 kernels), else portable; avx2 without them throws InvalidParameter naming the
// missing CPU flags. Never returns automatic.
LstmKernels resolve_lstm_kernels(LstmKernels requested, bool cpu_avx2, bool cpu_fma);
// The same on this CPU's flags.
LstmKernels resolve_lstm_kernels(LstmKernels requested);
// The process-wide request for networks built from now on (a training run keeps its kernels to
// the end). Until set, it is the environment variable CRYPTOML_LSTM_KERNELS (auto when unset);
// in PostgreSQL the GUC cryptoml.lstm_kernels sets it. set throws InvalidParameter (and changes
// nothing) when the request cannot run on this CPU; active() resolves the request (it throws
// InvalidParameter for a bad CRYPTOML_LSTM_KERNELS).
void set_lstm_kernels(LstmKernels requested);
LstmKernels lstm_kernels_requested();
LstmKernels lstm_kernels_active();  // portable or avx2

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

// The float forward and backward pass of training on the given kernels (portable or avx2), for
// the cross-path tests: seqs and y as for loss_and_gradient (already standardized); fills pred
// (B predictions) and grad (s.num_params(), gradient of the mean squared error); returns that MSE.
double loss_and_gradient_f32(const Shape& s, const std::vector<float>& theta, const float* seqs, std::size_t B,
                             std::size_t L, const float* y, LstmKernels kernels, std::vector<float>* pred,
                             std::vector<float>* grad);

// Test hook: forget the process-wide kernel request, so that the next use reads
// CRYPTOML_LSTM_KERNELS again (as at process start).
void reset_lstm_kernels_from_env();

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
