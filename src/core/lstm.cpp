// cryptoml LSTM sequence regressor. See lstm.hpp and docs/lstm.md. The network's forward and
// backward passes are in lstm_net_impl.hpp, compiled here (portable, SSE2) and a second time in
// lstm_avx2.cpp (AVX2+FMA), which is chosen at run time on CPUs that have both (KernelNet below).
#include "lstm.hpp"

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "lstm_kernels.hpp"
#include "text.hpp"

namespace cml {

// Friend of LstmModel: lets this file build models and read their fields.
struct LstmAccess {
  static LstmModel make() { return LstmModel(); }
  static LstmParams& p(LstmModel& m) { return m.p_; }
  static std::size_t& nfeat(LstmModel& m) { return m.nfeat_; }
  static std::vector<double>& x_mean(LstmModel& m) { return m.x_mean_; }
  static std::vector<double>& x_std(LstmModel& m) { return m.x_std_; }
  static double& y_mean(LstmModel& m) { return m.y_mean_; }
  static double& y_std(LstmModel& m) { return m.y_std_; }
  static std::vector<float>& w(LstmModel& m) { return m.weights_; }
  static const std::vector<float>& w(const LstmModel& m) { return m.weights_; }
};

namespace {

using lstm_detail::Shape;

// Standardized inputs are clamped to this magnitude so that float arithmetic stays finite for
// rows far outside the training distribution (validation or prediction rows).
constexpr double kInputClamp = 1e6;
// Workspace of one forward/backward pass: a mini-batch is processed in pieces of as many
// sequences as fit in this many bytes (at least one), and the pieces' gradients are summed (the
// same mathematics up to float rounding; deterministic, as the piece size depends only on the
// shapes). This bounds memory for any batch_size, and a piece that stays in the caches is faster:
// with the benchmark shapes (L 30, F 29, H 32) a 4 MiB piece is 134 sequences and an epoch took
// ~5% less time than with whole 1000-sequence batches (docs/lstm.md).
constexpr std::size_t kWorkspaceBytes = std::size_t(4) << 20;
// Sequences per forward pass when predicting (and when computing the validation MSE).
constexpr std::size_t kPredictChunk = 1000;
constexpr std::size_t kSmallPredict = 16;  // LstmModel::predict reuses a per-thread network up to this many sequences

// --- messages ---------------------------------------------------------------------------------

[[noreturn]] void out_of_range(const char* name, const std::string& value, const char* rule) {
  throw InvalidParameter(std::string("lstm: ") + name + " = " + value + " is out of range: must be " + rule,
                         std::string("rule: ") + name + " must be " + rule);
}

void check_int(const char* name, int v, int lo, int hi, const char* rule) {
  if (v < lo || v > hi) out_of_range(name, std::to_string(v), rule);
}

// --- deterministic random numbers ---------------------------------------------------------------

std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// xoshiro256** seeded through splitmix64; the stream id separates independent uses of one seed.
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t s = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    for (auto& w : s_) w = splitmix64(s);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n), n >= 1, without modulo bias (rejection on the top of the range).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
    for (;;) {
      const std::uint64_t r = next();
      if (r < limit) return r % n;
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> s_{};
};

// --- the network (lstm_net_impl.hpp) ---------------------------------------------------------

#include "lstm_net_impl.hpp"  // Layout, LstmNet<S>, Buf<S>: the portable (SSE2) build, in this anonymous namespace

Layout layout_of(const Shape& s) { return Layout(s.features, s.hidden, s.layers); }

// Allocator of kBufAlign-aligned storage, for the gradient the networks accumulate into (see Buf).
template <typename T>
struct AlignedAlloc {
  using value_type = T;
  AlignedAlloc() = default;
  template <typename U>
  AlignedAlloc(const AlignedAlloc<U>&) {}  // NOLINT(runtime/explicit)
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kBufAlign))); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(kBufAlign)); }
  template <typename U>
  bool operator==(const AlignedAlloc<U>&) const { return true; }
  template <typename U>
  bool operator!=(const AlignedAlloc<U>&) const { return false; }
};
using AlignedFloats = std::vector<float, AlignedAlloc<float>>;

// Sequences per pass that fit the workspace budget (at least 1, at most want). The same on both
// kernels, so that a mini-batch is cut into the same pieces.
std::size_t capacity_for(const Shape& s, std::size_t L, std::size_t want) {
  const std::size_t per = LstmNet<float>::scalars_per_sequence(s.features, s.hidden, s.layers, L) * sizeof(float);
  return std::max<std::size_t>(1, std::min(want, kWorkspaceBytes / per));
}

// --- CPU dispatch -----------------------------------------------------------------------------

struct CpuFlags {
  bool avx2 = false, fma = false;
};

CpuFlags cpu_flags() {
  static const CpuFlags flags = [] {
    CpuFlags f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2") != 0;
    f.fma = __builtin_cpu_supports("fma") != 0;
#endif
    return f;
  }();
  return flags;
}

// The process-wide request: -1 until set or read from CRYPTOML_LSTM_KERNELS.
std::atomic<int> g_kernels{-1};

// The float network of training and prediction on the kernels chosen when it is built. Every
// array the kernels read or write is kBufAlign-aligned (the weights, dLoss/dpred and the gradient
// are copied to aligned storage when they are not): Eigen's AVX2 code takes scalar or vector
// paths, which round differently, by the alignment of its operands (see Buf).
class KernelNet {
 public:
  KernelNet(const Shape& s, std::size_t L, std::size_t cap, LstmKernels k)
      : shape_(s), L_(L), cap_(cap), kernels_(k), num_params_(layout_of(s).total) {
    if (k == LstmKernels::avx2) {
      avx2_ = lstm_avx2::create(s.features, s.hidden, s.layers, L, cap);
    } else {
      portable_.reset(new LstmNet<float>(s.features, s.hidden, s.layers, L, cap));
    }
  }
  ~KernelNet() {
    if (avx2_ != nullptr) lstm_avx2::destroy(avx2_);
  }
  KernelNet(const KernelNet&) = delete;
  KernelNet& operator=(const KernelNet&) = delete;

  std::size_t capacity() const { return cap_; }
  LstmKernels kernels() const { return kernels_; }
  bool built_for(const Shape& s, std::size_t L) const {
    return s.features == shape_.features && s.hidden == shape_.hidden && s.layers == shape_.layers && L == L_;
  }
  float* input() { return avx2_ != nullptr ? lstm_avx2::input(avx2_) : portable_->input(); }
  std::size_t input_stride() const {
    return avx2_ != nullptr ? lstm_avx2::input_stride(avx2_) : portable_->input_stride();
  }
  const float* pred() const { return avx2_ != nullptr ? lstm_avx2::pred(avx2_) : portable_->pred(); }
  void forward(const float* theta, std::size_t b) {
    theta = aligned_copy(theta, num_params_, &theta_copy_);
    if (avx2_ != nullptr) {
      lstm_avx2::forward(avx2_, theta, b);
    } else {
      portable_->forward(theta, b);
    }
  }
  void backward(const float* theta, const float* dpred, std::size_t b, float* grad) {
    theta = aligned_copy(theta, num_params_, &theta_copy_);
    dpred = aligned_copy(dpred, b, &dpred_copy_);
    float* g = grad;
    if (!is_aligned(grad)) {  // accumulate in an aligned copy: the same arithmetic
      grad_copy_.assign(grad, grad + num_params_);
      g = grad_copy_.data();
    }
    if (avx2_ != nullptr) {
      lstm_avx2::backward(avx2_, theta, dpred, b, g);
    } else {
      portable_->backward(theta, dpred, b, g);
    }
    if (g != grad) std::copy(grad_copy_.begin(), grad_copy_.end(), grad);
  }

 private:
  static bool is_aligned(const float* p) { return reinterpret_cast<std::uintptr_t>(p) % kBufAlign == 0; }
  static const float* aligned_copy(const float* p, std::size_t n, AlignedFloats* copy) {
    if (is_aligned(p)) return p;
    copy->assign(p, p + n);
    return copy->data();
  }

  Shape shape_;
  std::size_t L_;
  std::size_t cap_;
  LstmKernels kernels_;
  std::size_t num_params_;
  AlignedFloats theta_copy_, dpred_copy_, grad_copy_;
  std::unique_ptr<LstmNet<float>> portable_;
  lstm_avx2::Net* avx2_ = nullptr;
};

// --- data checks and standardization -----------------------------------------------------------

// Checks a sequence set against sequence length L; marks the rows its sequences cover.
void check_set(const SequenceSet& s, std::size_t L, const char* what, bool need_y, std::vector<char>* covered) {
  if (s.rows > 0 && s.X == nullptr) {
    throw InvalidParameter(std::string("lstm: ") + what + " feature matrix X is null but rows = " +
                           std::to_string(s.rows));
  }
  if (s.cols == 0) throw InvalidParameter(std::string("lstm: ") + what + " feature matrix has 0 columns");
  if (need_y && s.y == nullptr && !s.ends.empty()) {
    throw InvalidParameter(std::string("lstm: ") + what + " targets y are null");
  }
  // Difference array over rows: +1 at a sequence's first row, -1 after its last.
  std::vector<int> diff(s.rows + 1, 0);
  for (std::size_t k = 0; k < s.ends.size(); ++k) {
    const std::size_t e = s.ends[k];
    if (e >= s.rows) {
      throw InvalidParameter(std::string("lstm: ") + what + " sequence " + std::to_string(k) + " ends at row " +
                                 std::to_string(e) + " but there are only " + std::to_string(s.rows) + " rows",
                             "rule: every end is < rows");
    }
    if (e + 1 < L) {
      throw InvalidParameter(std::string("lstm: ") + what + " sequence " + std::to_string(k) + " ends at row " +
                                 std::to_string(e) + ", before row " + std::to_string(L - 1) +
                                 " (sequence_length " + std::to_string(L) + " needs " + std::to_string(L - 1) +
                                 " earlier rows)",
                             "rule: every end is >= sequence_length - 1");
    }
    if (need_y && !std::isfinite(s.y[e])) {
      throw InvalidParameter(std::string("lstm: ") + what + " target at row " + std::to_string(e) + " is " +
                                 format_double(s.y[e]) + "; targets of sequence ends must be finite",
                             "rule: y[ends[k]] is finite");
    }
    diff[e + 1 - L] += 1;
    diff[e + 1] -= 1;
  }
  covered->assign(s.rows, 0);
  int run = 0;
  for (std::size_t r = 0; r < s.rows; ++r) {
    run += diff[r];
    if (run > 0) {
      (*covered)[r] = 1;
      const double* row = s.X + r * s.cols;
      for (std::size_t c = 0; c < s.cols; ++c) {
        if (std::isinf(row[c])) {
          throw InvalidParameter(std::string("lstm: ") + what + " feature " + std::to_string(c) + " at row " +
                                     std::to_string(r) + " is " + format_double(row[c]) +
                                     "; features must be finite or NaN (missing)",
                                 "rule: no infinite feature values");
        }
      }
    }
  }
}

// Mean and standard deviation of values (NaN skipped), scaled by the largest magnitude so that
// sums cannot overflow. A constant, empty or (relative to its magnitude) near-constant series
// gets std 1.
struct MeanStd {
  double mean = 0, std = 1;
};

template <typename Get>
MeanStd mean_std(std::size_t n, Get get) {
  double maxabs = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = get(i);
    if (std::isnan(v)) continue;
    maxabs = std::max(maxabs, std::fabs(v));
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    ++count;
  }
  MeanStd r;
  if (count == 0) return r;
  if (lo == hi || maxabs == 0) {
    r.mean = lo;
    return r;
  }
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = get(i);
    if (!std::isnan(v)) sum += v / maxabs;
  }
  double m = sum / static_cast<double>(count);
  double corr = 0, ss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = get(i);
    if (std::isnan(v)) continue;
    const double d = v / maxabs - m;
    corr += d;
    ss += d * d;
  }
  const double cn = static_cast<double>(count);
  m += corr / cn;
  const double var = std::max(0.0, ss / cn - (corr / cn) * (corr / cn));
  const double sd = std::sqrt(var);
  r.mean = m * maxabs;
  r.std = sd > 1e-12 ? sd * maxabs : 1.0;
  return r;
}

// Standardized, clamped feature; NaN (missing) -> 0. Branch-free so that the row loop vectorizes.
template <typename S>
inline S standardize(double v, double mean, double inv_std) {
  v = v == v ? v : mean;  // NaN -> exactly 0 below
  const double z = (v - mean) * inv_std;
  return static_cast<S>(std::min(std::max(z, -kInputClamp), kInputClamp));
}

struct Standardizer {
  std::vector<double> mean, inv_std;
  double y_mean = 0, y_std = 1;
  Standardizer(const std::vector<double>& xm, const std::vector<double>& xs, double ym, double ys)
      : mean(xm), inv_std(xs.size()), y_mean(ym), y_std(ys) {
    for (std::size_t c = 0; c < xs.size(); ++c) inv_std[c] = 1.0 / xs[c];
  }
};

// Copies sequences idx[0..b) of s, standardized, into a network input buffer (column t*b + k =
// step t of sequence k, `stride` scalars apart). Step-major, so that the writes are sequential.
template <typename S>
void gather(const SequenceSet& s, const Standardizer& st, std::size_t L, const std::size_t* idx, std::size_t b,
            S* dst, std::size_t stride) {
  const std::size_t F = s.cols;
  const double* const mean = st.mean.data();
  const double* const inv = st.inv_std.data();
  for (std::size_t t = 0; t < L; ++t) {
    for (std::size_t k = 0; k < b; ++k) {
      const double* row = s.X + (s.ends[idx[k]] + 1 - L + t) * F;
      S* out = dst + (t * b + k) * stride;
      for (std::size_t c = 0; c < F; ++c) out[c] = standardize<S>(row[c], mean[c], inv[c]);
    }
  }
}

bool all_finite(const float* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return false;
  }
  return true;
}

[[noreturn]] void diverged(int epoch, const char* what, const LstmParams& p, LstmTrainReport* report) {
  if (report != nullptr) {
    report->diverged = true;
    report->diverged_epoch = epoch;
  }
  throw DataError("lstm: training diverged at epoch " + std::to_string(epoch) + " (" + what +
                      " is not finite); try a lower learning_rate",
                  "learning_rate = " + format_double(p.learning_rate) + ", clip_norm = " + format_double(p.clip_norm) +
                      ", weight_decay = " + format_double(p.weight_decay),
                  "lower learning_rate (or weight_decay), or check the targets and features for extreme values");
}

// Predictions (standardized units, as float) for all sequences of s, in chunks of a size that
// depends only on the shape and the number of sequences. net is reused when it has that capacity.
void predict_std(const Shape& shape, std::size_t L, const float* theta, const SequenceSet& s,
                 const Standardizer& st, const std::function<bool()>* should_stop, const std::function<void()>& on_stop,
                 LstmKernels kernels, std::unique_ptr<KernelNet>* net_cache, std::vector<float>* out) {
  const std::size_t n = s.ends.size();
  out->assign(n, 0.0f);
  if (n == 0) return;
  const std::size_t cap = capacity_for(shape, L, std::min(n, kPredictChunk));
  if (!*net_cache || (*net_cache)->capacity() != cap || (*net_cache)->kernels() != kernels) {
    net_cache->reset(new KernelNet(shape, L, cap, kernels));
  }
  KernelNet& net = **net_cache;
  std::vector<std::size_t> idx(cap);
  for (std::size_t s0 = 0; s0 < n; s0 += cap) {
    if (should_stop != nullptr && *should_stop && (*should_stop)()) on_stop();
    const std::size_t b = std::min(cap, n - s0);
    for (std::size_t k = 0; k < b; ++k) idx[k] = s0 + k;
    gather(s, st, L, idx.data(), b, net.input(), net.input_stride());
    net.forward(theta, b);
    std::copy(net.pred(), net.pred() + b, out->begin() + static_cast<std::ptrdiff_t>(s0));
  }
}

// --- training state ---------------------------------------------------------------------------

class Trainer {
 public:
  // Checks the training set (InvalidParameter), computes the standardization, initializes weights;
  // with warm (a warm start), takes its standardization and weights instead.
  Trainer(const SequenceSet& train, const LstmParams& p, const LstmModel* warm = nullptr)
      : train_(train),
        p_(p),
        L_(static_cast<std::size_t>(p.sequence_length)),
        shape_{static_cast<int>(train.cols), p.hidden_size, p.num_layers},
        rng_(p.seed, 2),
        kernels_(lstm_kernels_active()) {
    p.validate();
    std::vector<char> covered;
    check_set(train, L_, "training", true, &covered);
    if (train.ends.empty()) {
      throw InvalidParameter("lstm: 0 training sequences of length " + std::to_string(L_) + "; at least 1 needed");
    }
    const std::size_t F = train.cols;
    x_mean_.resize(F);
    x_std_.resize(F);
    for (std::size_t c = 0; c < F; ++c) {
      const MeanStd ms = mean_std(train.rows, [&](std::size_t r) {
        return covered[r] ? train.X[r * F + c] : std::numeric_limits<double>::quiet_NaN();
      });
      x_mean_[c] = ms.mean;
      x_std_[c] = ms.std;
    }
    const MeanStd ym = mean_std(train.ends.size(), [&](std::size_t k) { return train.y[train.ends[k]]; });
    st_.reset(new Standardizer(x_mean_, x_std_, ym.mean, ym.std));
    ys_.resize(train.ends.size());
    for (std::size_t k = 0; k < ys_.size(); ++k) {
      ys_[k] = static_cast<float>((train.y[train.ends[k]] - ym.mean) / ym.std);
    }
    const std::vector<double> init = lstm_detail::init_params(shape_, p.seed);
    theta_.assign(init.begin(), init.end());
    grad_.assign(theta_.size(), 0.0f);
    m_.assign(theta_.size(), 0.0f);
    v_.assign(theta_.size(), 0.0f);
    order_.resize(train.ends.size());
    for (std::size_t k = 0; k < order_.size(); ++k) order_[k] = k;
    const std::size_t bs = std::min<std::size_t>(static_cast<std::size_t>(p.batch_size), order_.size());
    net_.reset(new KernelNet(shape_, L_, capacity_for(shape_, L_, bs), kernels_));
    dpred_.resize(net_->capacity());
    if (warm != nullptr) start_from(*warm);
  }

  // One epoch (1-based number `epoch`); returns the mean standardized training MSE.
  double run_epoch(int epoch, const std::function<bool()>& should_stop, const lstm_detail::TrainHooks* hooks,
                   LstmTrainReport* report) {
    const std::size_t n = order_.size();
    for (std::size_t k = n; k > 1; --k) std::swap(order_[k - 1], order_[rng_.below(k)]);
    const std::size_t bs = static_cast<std::size_t>(p_.batch_size);
    const std::size_t cap = net_->capacity();
    double epoch_loss = 0;
    int batch = 0;
    for (std::size_t s0 = 0; s0 < n; s0 += bs, ++batch) {
      if (should_stop && should_stop()) {
        throw Cancelled("lstm: training cancelled at epoch " + std::to_string(epoch));
      }
      const std::size_t b = std::min(bs, n - s0);
      std::fill(grad_.begin(), grad_.end(), 0.0f);
      double loss = 0;
      const float scale = static_cast<float>(2.0 / static_cast<double>(b));
      for (std::size_t m0 = 0; m0 < b; m0 += cap) {
        const std::size_t mb = std::min(cap, b - m0);
        const std::size_t* idx = order_.data() + s0 + m0;
        gather(train_, *st_, L_, idx, mb, net_->input(), net_->input_stride());
        net_->forward(theta_.data(), mb);
        const float* pred = net_->pred();
        for (std::size_t k = 0; k < mb; ++k) {
          const float err = pred[k] - ys_[idx[k]];
          loss += static_cast<double>(err) * static_cast<double>(err);
          dpred_[k] = scale * err;
        }
        net_->backward(theta_.data(), dpred_.data(), mb, grad_.data());
      }
      loss /= static_cast<double>(b);
      if (hooks != nullptr && hooks->after_backward) {
        hooks->after_backward(epoch, batch, &loss, grad_.data(), grad_.size());
      }
      if (!std::isfinite(loss)) diverged(epoch, "loss", p_, report);
      double sq = 0;
      for (float g : grad_) sq += static_cast<double>(g) * static_cast<double>(g);
      const double norm = std::sqrt(sq);
      if (!std::isfinite(norm)) diverged(epoch, "gradient", p_, report);
      const double coef = p_.clip_norm / (norm + 1e-6);
      if (coef < 1.0) {
        const float c = static_cast<float>(coef);
        for (float& g : grad_) g *= c;
      }
      adam_step();
      if (!all_finite(theta_.data(), theta_.size())) diverged(epoch, "updated weight", p_, report);
      epoch_loss += loss * static_cast<double>(b);
    }
    return epoch_loss / static_cast<double>(n);
  }

  // Validation MSE in target units (double).
  double valid_mse(const SequenceSet& valid, const std::function<bool()>& should_stop, int epoch) {
    std::vector<float> pred;
    predict_std(shape_, L_, theta_.data(), valid, *st_, &should_stop,
                [epoch] { throw Cancelled("lstm: training cancelled at epoch " + std::to_string(epoch)); },
                kernels_, &infer_net_, &pred);
    double s = 0;
    for (std::size_t k = 0; k < pred.size(); ++k) {
      const double d = static_cast<double>(pred[k]) * st_->y_std + st_->y_mean - valid.y[valid.ends[k]];
      s += d * d;
    }
    return s / static_cast<double>(pred.size());
  }

  const Shape& shape() const { return shape_; }
  const std::vector<float>& theta() const { return theta_; }
  const Standardizer& standardizer() const { return *st_; }
  const std::vector<double>& x_mean() const { return x_mean_; }
  const std::vector<double>& x_std() const { return x_std_; }

 private:
  // Warm start: init's standardization (its weights expect inputs scaled by it) and weights.
  void start_from(const LstmModel& init) {
    const LstmParams& q = init.params();
    if (init.num_features() != train_.cols || q.sequence_length != p_.sequence_length ||
        q.hidden_size != p_.hidden_size || q.num_layers != p_.num_layers) {
      throw InvalidParameter("lstm: initial model has " + std::to_string(init.num_features()) + " features, sequence " +
                                 std::to_string(q.sequence_length) + ", " + std::to_string(q.hidden_size) + " units, " +
                                 std::to_string(q.num_layers) + " layer(s); the training asks for " +
                                 std::to_string(train_.cols) + ", " + std::to_string(p_.sequence_length) + ", " +
                                 std::to_string(p_.hidden_size) + ", " + std::to_string(p_.num_layers),
                             "rule: a warm start keeps the network's shape (features, sequence_length, hidden_size, num_layers)");
    }
    LstmModel m = init;
    x_mean_ = LstmAccess::x_mean(m);
    x_std_ = LstmAccess::x_std(m);
    st_.reset(new Standardizer(x_mean_, x_std_, LstmAccess::y_mean(m), LstmAccess::y_std(m)));
    for (std::size_t k = 0; k < ys_.size(); ++k) {
      ys_[k] = static_cast<float>((train_.y[train_.ends[k]] - st_->y_mean) / st_->y_std);
    }
    theta_ = LstmAccess::w(m);
  }

  void adam_step() {
    ++step_;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step_));
    const double bc2 = 1.0 - std::pow(b2, static_cast<double>(step_));
    const float step_size = static_cast<float>(p_.learning_rate / bc1);
    const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    const float wd = static_cast<float>(p_.weight_decay);
    const float fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2), feps = static_cast<float>(eps);
    for (std::size_t i = 0; i < theta_.size(); ++i) {
      float g = grad_[i];
      if (wd != 0.0f) g += wd * theta_[i];
      m_[i] = fb1 * m_[i] + (1.0f - fb1) * g;
      v_[i] = fb2 * v_[i] + (1.0f - fb2) * g * g;
      theta_[i] -= step_size * m_[i] / (std::sqrt(v_[i]) * inv_sqrt_bc2 + feps);
    }
  }

  const SequenceSet& train_;
  LstmParams p_;
  std::size_t L_;
  Shape shape_;
  Rng rng_;
  LstmKernels kernels_;  // for the whole run
  std::vector<double> x_mean_, x_std_;
  std::unique_ptr<Standardizer> st_;
  std::vector<float> ys_, theta_, m_, v_, dpred_;
  AlignedFloats grad_;
  std::vector<std::size_t> order_;
  std::unique_ptr<KernelNet> net_, infer_net_;
  long step_ = 0;
};

LstmModel make_model(const LstmParams& p, const Trainer& t, const std::vector<float>& theta) {
  LstmModel m = LstmAccess::make();
  LstmAccess::p(m) = p;
  LstmAccess::nfeat(m) = static_cast<std::size_t>(t.shape().features);
  LstmAccess::x_mean(m) = t.x_mean();
  LstmAccess::x_std(m) = t.x_std();
  LstmAccess::y_mean(m) = t.standardizer().y_mean;
  LstmAccess::y_std(m) = t.standardizer().y_std;
  LstmAccess::w(m) = theta;
  return m;
}

LstmModel train_impl(const SequenceSet& train, const SequenceSet& valid, const LstmParams& p,
                     const std::function<bool()>& should_stop, LstmTrainReport* report,
                     const lstm_detail::TrainHooks* hooks, const LstmModel* init = nullptr) {
  LstmTrainReport local;
  LstmTrainReport& rep = report != nullptr ? *report : local;
  rep = LstmTrainReport();
  p.validate();
  const std::size_t L = static_cast<std::size_t>(p.sequence_length);
  if (valid.cols != train.cols) {
    throw InvalidParameter("lstm: validation set has " + std::to_string(valid.cols) +
                               " feature columns but the training set has " + std::to_string(train.cols),
                           "rule: training and validation sets have the same columns");
  }
  std::vector<char> covered;
  check_set(valid, L, "validation", true, &covered);
  Trainer tr(train, p, init);  // checks the training set
  if (valid.ends.empty()) {
    throw InvalidParameter("lstm: 0 validation sequences of length " + std::to_string(L) + "; at least 1 needed");
  }
  double best = std::numeric_limits<double>::infinity();
  std::vector<float> best_theta = tr.theta();
  int since_best = 0;
  if (init != nullptr) {  // warm start: the initial weights are epoch 0, kept unless an epoch beats them
    best = tr.valid_mse(valid, should_stop, 0);
    if (!std::isfinite(best)) diverged(0, "validation MSE", p, &rep);
    rep.best_epoch = 0;
    rep.best_valid_mse = best;
  }
  for (int epoch = 1; epoch <= p.max_epochs; ++epoch) {
    const double loss = tr.run_epoch(epoch, should_stop, hooks, &rep);
    const double mse = tr.valid_mse(valid, should_stop, epoch);
    if (!std::isfinite(mse)) diverged(epoch, "validation MSE", p, &rep);
    rep.epochs_trained = epoch;
    rep.train_loss.push_back(loss);
    rep.valid_mse.push_back(mse);
    if (mse < best) {
      best = mse;
      best_theta = tr.theta();
      rep.best_epoch = epoch;
      rep.best_valid_mse = mse;
      since_best = 0;
    } else if (++since_best >= p.patience) {
      rep.early_stopped = epoch < p.max_epochs;
      break;
    }
  }
  return make_model(p, tr, best_theta);
}

// --- serialization ----------------------------------------------------------------------------

constexpr char kMagic[4] = {'C', 'M', 'L', 'L'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kHeaderBytes = 84;        // up to and including y_std
constexpr std::uint32_t kMaxFeatures = 1000000;  // load() rejects more

std::uint32_t crc32(const unsigned char* p, std::size_t n) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

class Writer {
 public:
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
  }
  void f64(double v) {
    std::uint64_t u;
    std::memcpy(&u, &v, sizeof u);
    u64(u);
  }
  void f32(float v) {
    std::uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    u32(u);
  }
  void raw(const char* p, std::size_t n) { out_.append(p, n); }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& b) : p_(reinterpret_cast<const unsigned char*>(b.data())), n_(b.size()) {}
  std::uint32_t u32() {
    need(4);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(p_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return v;
  }
  std::uint64_t u64() {
    need(8);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p_[pos_ + i]) << (8 * i);
    pos_ += 8;
    return v;
  }
  double f64() {
    const std::uint64_t u = u64();
    double v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  }
  float f32() {
    const std::uint32_t u = u32();
    float v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  }
  std::size_t pos() const { return pos_; }

 private:
  void need(std::size_t k) {
    if (n_ - pos_ < k) throw DataError("lstm model: truncated (" + std::to_string(n_) + " bytes)");
  }
  const unsigned char* p_;
  std::size_t n_, pos_ = 0;
};

[[noreturn]] void corrupt(const std::string& what) { throw DataError("lstm model: " + what); }

}  // namespace

// --- LstmParams -------------------------------------------------------------------------------

void LstmParams::validate() const {
  check_int("sequence_length", sequence_length, 1, 1440, "1..1440");
  check_int("hidden_size", hidden_size, 1, 1024, "1..1024");
  check_int("num_layers", num_layers, 1, 2, "1..2");
  if (!(std::isfinite(learning_rate) && learning_rate > 0.0 && learning_rate <= 1.0)) {
    out_of_range("learning_rate", format_double(learning_rate), "finite, > 0 and <= 1");
  }
  check_int("batch_size", batch_size, 1, 1000000, "1..1000000");
  check_int("max_epochs", max_epochs, 1, 100000, "1..100000");
  check_int("patience", patience, 1, 100000, "1..100000");
  if (!(std::isfinite(clip_norm) && clip_norm > 0.0)) out_of_range("clip_norm", format_double(clip_norm), "finite and > 0");
  if (!(std::isfinite(weight_decay) && weight_decay >= 0.0)) {
    out_of_range("weight_decay", format_double(weight_decay), "finite and >= 0");
  }
}

std::string LstmParams::to_json() const {
  nlohmann::ordered_json j;
  j["sequence_length"] = sequence_length;
  j["hidden_size"] = hidden_size;
  j["num_layers"] = num_layers;
  j["learning_rate"] = learning_rate;
  j["batch_size"] = batch_size;
  j["max_epochs"] = max_epochs;
  j["patience"] = patience;
  j["clip_norm"] = clip_norm;
  j["weight_decay"] = weight_decay;
  j["seed"] = seed;
  return j.dump();
}

// --- LstmModel --------------------------------------------------------------------------------

LstmModel LstmModel::train(const SequenceSet& train, const SequenceSet& valid, const LstmParams& p,
                           const std::function<bool()>& should_stop, LstmTrainReport* report) {
  return train_impl(train, valid, p, should_stop, report, nullptr);
}

LstmModel LstmModel::train_from(const LstmModel& init, const SequenceSet& train, const SequenceSet& valid,
                                const LstmParams& p, const std::function<bool()>& should_stop,
                                LstmTrainReport* report) {
  return train_impl(train, valid, p, should_stop, report, nullptr, &init);
}

std::vector<double> LstmModel::predict(const SequenceSet& s) const {
  if (s.cols != nfeat_) {
    throw InvalidParameter("lstm: the set has " + std::to_string(s.cols) + " feature columns but the model was trained on " +
                               std::to_string(nfeat_),
                           "rule: predict with the features the model was trained on");
  }
  const std::size_t L = static_cast<std::size_t>(p_.sequence_length);
  std::vector<char> covered;
  check_set(s, L, "prediction", false, &covered);
  const Shape shape{static_cast<int>(nfeat_), p_.hidden_size, p_.num_layers};
  const Standardizer st(x_mean_, x_std_, y_mean_, y_std_);
  std::vector<float> pred;
  // A few sequences (the forecaster's one per call) reuse this thread's small network instead of
  // allocating and zeroing a workspace per call (the network sets its own initial state on every
  // pass, so reuse changes no bit); larger sets get a network of their own, freed on return.
  thread_local std::unique_ptr<KernelNet> small_net;
  std::unique_ptr<KernelNet> net;
  std::unique_ptr<KernelNet>* cache = &net;
  if (s.ends.size() <= kSmallPredict) {
    if (small_net && !small_net->built_for(shape, L)) small_net.reset();
    cache = &small_net;
  }
  predict_std(shape, L, weights_.data(), s, st, nullptr, [] {}, lstm_kernels_active(), cache, &pred);
  std::vector<double> out(pred.size());
  for (std::size_t k = 0; k < pred.size(); ++k) out[k] = static_cast<double>(pred[k]) * y_std_ + y_mean_;
  return out;
}

// Byte layout (all little-endian), see docs/lstm.md:
//   "CMLL" | u32 version | u32 F | u32 L | u32 H | u32 layers | u32 batch_size | u32 max_epochs |
//   u32 patience | f64 learning_rate | f64 clip_norm | f64 weight_decay | u64 seed | f64 y_mean |
//   f64 y_std | f64 x_mean[F] | f64 x_std[F] | u64 P | f32 weights[P] | u32 CRC-32 of all before
std::string LstmModel::save() const {
  Writer w;
  w.raw(kMagic, 4);
  w.u32(kFormatVersion);
  w.u32(static_cast<std::uint32_t>(nfeat_));
  w.u32(static_cast<std::uint32_t>(p_.sequence_length));
  w.u32(static_cast<std::uint32_t>(p_.hidden_size));
  w.u32(static_cast<std::uint32_t>(p_.num_layers));
  w.u32(static_cast<std::uint32_t>(p_.batch_size));
  w.u32(static_cast<std::uint32_t>(p_.max_epochs));
  w.u32(static_cast<std::uint32_t>(p_.patience));
  w.f64(p_.learning_rate);
  w.f64(p_.clip_norm);
  w.f64(p_.weight_decay);
  w.u64(p_.seed);
  w.f64(y_mean_);
  w.f64(y_std_);
  for (double v : x_mean_) w.f64(v);
  for (double v : x_std_) w.f64(v);
  w.u64(weights_.size());
  for (float v : weights_) w.f32(v);
  std::string& out = w.str();
  w.u32(crc32(reinterpret_cast<const unsigned char*>(out.data()), out.size()));
  return std::move(out);
}

LstmModel LstmModel::load(const std::string& bytes) {
  if (bytes.size() < 4) corrupt("truncated (" + std::to_string(bytes.size()) + " bytes)");
  if (std::memcmp(bytes.data(), kMagic, 4) != 0) corrupt("wrong magic (not a cryptoml LSTM model)");
  Reader r(bytes);
  r.u32();  // magic
  const std::uint32_t version = r.u32();
  if (version != kFormatVersion) {
    corrupt("format version " + std::to_string(version) + " is not supported (this build reads version " +
            std::to_string(kFormatVersion) + ")");
  }
  if (bytes.size() < kHeaderBytes) corrupt("truncated (" + std::to_string(bytes.size()) + " bytes)");
  const std::uint32_t F = r.u32(), L = r.u32(), H = r.u32(), NL = r.u32();
  const std::uint32_t batch = r.u32(), epochs = r.u32(), patience = r.u32();
  if (F < 1 || F > kMaxFeatures) corrupt("num_features = " + std::to_string(F) + " is out of range (1.." + std::to_string(kMaxFeatures) + ")");
  if (L < 1 || L > 1440) corrupt("sequence_length = " + std::to_string(L) + " is out of range");
  if (H < 1 || H > 1024) corrupt("hidden_size = " + std::to_string(H) + " is out of range");
  if (NL < 1 || NL > 2) corrupt("num_layers = " + std::to_string(NL) + " is out of range");
  if (batch > 1000000 || epochs > 100000 || patience > 100000) corrupt("training parameters are out of range");
  const Shape shape{static_cast<int>(F), static_cast<int>(H), static_cast<int>(NL)};
  const std::uint64_t P = shape.num_params();
  const std::uint64_t expected = kHeaderBytes + 16ull * F + 8 + 4ull * P + 4;
  if (bytes.size() < expected) {
    corrupt("truncated (" + std::to_string(bytes.size()) + " bytes; this shape needs " + std::to_string(expected) + ")");
  }
  if (bytes.size() > expected) {
    corrupt(std::to_string(bytes.size() - expected) + " unexpected bytes after the model");
  }
  const unsigned char* base = reinterpret_cast<const unsigned char*>(bytes.data());
  std::uint32_t stored_crc = 0;
  for (int i = 0; i < 4; ++i) stored_crc |= static_cast<std::uint32_t>(base[expected - 4 + i]) << (8 * i);
  if (crc32(base, expected - 4) != stored_crc) corrupt("checksum mismatch (corrupt bytes)");

  LstmModel m;
  LstmParams& p = m.p_;
  p.sequence_length = static_cast<int>(L);
  p.hidden_size = static_cast<int>(H);
  p.num_layers = static_cast<int>(NL);
  p.batch_size = static_cast<int>(batch);
  p.max_epochs = static_cast<int>(epochs);
  p.patience = static_cast<int>(patience);
  p.learning_rate = r.f64();
  p.clip_norm = r.f64();
  p.weight_decay = r.f64();
  p.seed = r.u64();
  try {
    p.validate();
  } catch (const InvalidParameter& e) {
    corrupt(std::string("stored parameters are invalid: ") + e.what());
  }
  m.nfeat_ = F;
  m.y_mean_ = r.f64();
  m.y_std_ = r.f64();
  if (!std::isfinite(m.y_mean_) || !std::isfinite(m.y_std_) || !(m.y_std_ > 0)) corrupt("target statistics are not valid");
  m.x_mean_.resize(F);
  m.x_std_.resize(F);
  for (auto& v : m.x_mean_) v = r.f64();
  for (auto& v : m.x_std_) v = r.f64();
  for (std::uint32_t c = 0; c < F; ++c) {
    if (!std::isfinite(m.x_mean_[c]) || !std::isfinite(m.x_std_[c]) || !(m.x_std_[c] > 0)) {
      corrupt("feature statistics of feature " + std::to_string(c) + " are not valid");
    }
  }
  if (r.u64() != P) corrupt("parameter count does not match the shape");
  m.weights_.resize(P);
  for (auto& v : m.weights_) v = r.f32();
  if (!all_finite(m.weights_.data(), m.weights_.size())) corrupt("a weight is not finite");
  return m;
}

// --- CPU kernels ------------------------------------------------------------------------------

LstmKernels parse_lstm_kernels(const std::string& value, const char* what) {
  if (value == "auto") return LstmKernels::automatic;
  if (value == "portable") return LstmKernels::portable;
  if (value == "avx2") return LstmKernels::avx2;
  throw InvalidParameter(std::string(what) + " = '" + value + "' is not valid: must be auto, portable or avx2",
                         std::string("rule: ") + what + " is one of auto, portable, avx2");
}

const char* lstm_kernels_name(LstmKernels k) {
  switch (k) {
    case LstmKernels::portable: return "portable";
    case LstmKernels::avx2: return "avx2";
    case LstmKernels::automatic: break;
  }
  return "auto";
}

bool lstm_avx2_available() {
  const CpuFlags f = cpu_flags();
  return f.avx2 && f.fma && lstm_avx2::compiled();
}

LstmKernels resolve_lstm_kernels(LstmKernels requested, bool cpu_avx2, bool cpu_fma) {
  const bool ok = cpu_avx2 && cpu_fma && lstm_avx2::compiled();
  switch (requested) {
    case LstmKernels::portable: return LstmKernels::portable;
    case LstmKernels::automatic: return ok ? LstmKernels::avx2 : LstmKernels::portable;
    case LstmKernels::avx2: break;
  }
  if (ok) return LstmKernels::avx2;
  std::string why;
  if (!lstm_avx2::compiled()) {
    why = "this build of cryptoml has no avx2 kernels (not compiled for x86-64 with -mavx2 -mfma)";
  } else {
    why = std::string("this CPU lacks ") + (!cpu_avx2 && !cpu_fma ? "the avx2 and fma flags" : !cpu_avx2 ? "the avx2 flag" : "the fma flag");
  }
  throw InvalidParameter("lstm kernels 'avx2' need a CPU with the avx2 and fma flags (AVX2 and FMA3): " + why,
                         "rule: avx2 only where /proc/cpuinfo lists both avx2 and fma",
                         "use lstm kernels 'auto' or 'portable'");
}

LstmKernels resolve_lstm_kernels(LstmKernels requested) {
  const CpuFlags f = cpu_flags();
  return resolve_lstm_kernels(requested, f.avx2, f.fma);
}

void set_lstm_kernels(LstmKernels requested) {
  const CpuFlags f = cpu_flags();
  resolve_lstm_kernels(requested, f.avx2, f.fma);  // throws when it cannot run here
  g_kernels.store(static_cast<int>(requested));
}

LstmKernels lstm_kernels_requested() {
  int k = g_kernels.load();
  if (k < 0) {
    const char* env = std::getenv("CRYPTOML_LSTM_KERNELS");
    const LstmKernels r = env != nullptr && *env != '\0' ? parse_lstm_kernels(env, "CRYPTOML_LSTM_KERNELS") : LstmKernels::automatic;
    int expected = -1;
    g_kernels.compare_exchange_strong(expected, static_cast<int>(r));
    k = g_kernels.load();
  }
  return static_cast<LstmKernels>(k);
}

LstmKernels lstm_kernels_active() {
  const CpuFlags f = cpu_flags();
  return resolve_lstm_kernels(lstm_kernels_requested(), f.avx2, f.fma);
}

// --- lstm_detail --------------------------------------------------------------------------------

namespace lstm_detail {

std::size_t Shape::num_params() const { return layout_of(*this).total; }

std::vector<ParamBlock> param_blocks(const Shape& s) {
  const Layout lay = layout_of(s);
  const std::size_t H = static_cast<std::size_t>(s.hidden);
  std::vector<ParamBlock> out;
  for (int l = 0; l < s.layers; ++l) {
    const std::string pre = "l" + std::to_string(l) + ".";
    out.push_back({pre + "w_in", lay.layers[l].w_in, 4 * H * lay.layers[l].in});
    out.push_back({pre + "w_rec", lay.layers[l].w_rec, 4 * H * H});
    out.push_back({pre + "bias", lay.layers[l].bias, 4 * H});
  }
  out.push_back({"head.w", lay.head_w, H});
  out.push_back({"head.b", lay.head_b, 1});
  return out;
}

std::vector<double> init_params(const Shape& s, std::uint64_t seed) {
  const Layout lay = layout_of(s);
  Rng rng(seed, 1);
  std::vector<double> theta(lay.total);
  const double k = 1.0 / std::sqrt(static_cast<double>(s.hidden));
  for (double& v : theta) v = (2.0 * rng.uniform() - 1.0) * k;
  const std::size_t H = static_cast<std::size_t>(s.hidden);
  for (int l = 0; l < lay.NL; ++l) {
    for (std::size_t j = 0; j < H; ++j) theta[lay.layers[l].bias + H + j] = 1.0;  // forget gate
  }
  return theta;
}

double loss_and_gradient(const Shape& s, const std::vector<double>& theta, const double* seqs, std::size_t B,
                         std::size_t L, const double* y, std::vector<double>* grad) {
  const std::size_t F = static_cast<std::size_t>(s.features);
  if (theta.size() != s.num_params()) throw InvalidParameter("lstm: theta has the wrong size");
  LstmNet<double> net(s.features, s.hidden, s.layers, L, B);
  double* in = net.input();
  const std::size_t stride = net.input_stride();
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t t = 0; t < L; ++t) {
      std::copy(seqs + (b * L + t) * F, seqs + (b * L + t + 1) * F, in + (t * B + b) * stride);
    }
  }
  net.forward(theta.data(), B);
  std::vector<double> dpred(B);
  double loss = 0;
  for (std::size_t b = 0; b < B; ++b) {
    const double e = net.pred()[b] - y[b];
    loss += e * e;
    dpred[b] = 2.0 * e / static_cast<double>(B);
  }
  if (grad != nullptr) {
    grad->assign(theta.size(), 0.0);
    net.backward(theta.data(), dpred.data(), B, grad->data());
  }
  return loss / static_cast<double>(B);
}

double loss_and_gradient_f32(const Shape& s, const std::vector<float>& theta, const float* seqs, std::size_t B,
                             std::size_t L, const float* y, LstmKernels kernels, std::vector<float>* pred,
                             std::vector<float>* grad) {
  const std::size_t F = static_cast<std::size_t>(s.features);
  if (theta.size() != s.num_params()) throw InvalidParameter("lstm: theta has the wrong size");
  const CpuFlags f = cpu_flags();
  KernelNet net(s, L, B, resolve_lstm_kernels(kernels, f.avx2, f.fma));
  float* in = net.input();
  const std::size_t stride = net.input_stride();
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t t = 0; t < L; ++t) {
      std::copy(seqs + (b * L + t) * F, seqs + (b * L + t + 1) * F, in + (t * B + b) * stride);
    }
  }
  net.forward(theta.data(), B);
  pred->assign(net.pred(), net.pred() + B);
  std::vector<float> dpred(B);
  double loss = 0;
  for (std::size_t b = 0; b < B; ++b) {
    const float e = (*pred)[b] - y[b];
    loss += static_cast<double>(e) * static_cast<double>(e);
    dpred[b] = 2.0f * e / static_cast<float>(B);
  }
  AlignedFloats g(theta.size(), 0.0f);
  net.backward(theta.data(), dpred.data(), B, g.data());
  grad->assign(g.begin(), g.end());
  return loss / static_cast<double>(B);
}

void reset_lstm_kernels_from_env() { g_kernels.store(-1); }

std::vector<float> get_params(const LstmModel& m) { return LstmAccess::w(m); }

LstmModel with_params(const LstmModel& m, const std::vector<float>& theta) {
  if (theta.size() != LstmAccess::w(m).size()) throw InvalidParameter("lstm: parameter vector has the wrong size");
  LstmModel out = m;
  LstmAccess::w(out) = theta;
  return out;
}

LstmModel train_with_hooks(const SequenceSet& train, const SequenceSet& valid, const LstmParams& p,
                           const std::function<bool()>& should_stop, LstmTrainReport* report,
                           const TrainHooks& hooks) {
  return train_impl(train, valid, p, should_stop, report, &hooks);
}

struct EpochRunner::Impl {
  Impl(const SequenceSet& s, const LstmParams& p) : tr(s, p) {}
  Trainer tr;
  int epoch = 0;
};

EpochRunner::EpochRunner(const SequenceSet& train, const LstmParams& p) : impl_(new Impl(train, p)) {}
EpochRunner::~EpochRunner() = default;

double EpochRunner::run_epoch() {
  ++impl_->epoch;
  return impl_->tr.run_epoch(impl_->epoch, std::function<bool()>(), nullptr, nullptr);
}

}  // namespace lstm_detail
}  // namespace cml
