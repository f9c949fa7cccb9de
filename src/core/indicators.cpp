// cryptoml technical indicators (see indicators.hpp for the conventions).
#include "text.hpp"
#include "indicators.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>

namespace cml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fmt(double v) { return format_double(v); }

constexpr const char* kPeriodRule = "must be between 1 and 100000";

void check_period(const std::string& name, int v) {
  if (v < 1 || v > kMaxIndicatorPeriod)
    throw InvalidParameter("invalid " + name + " = " + std::to_string(v) + ": " + kPeriodRule,
                           "rule: integer between 1 and 100000");
}

// ctx prefixes every name in the messages ("indicator parameter ", "MACD ").
void check_macd(const std::string& ctx, const char* fast_name, const char* slow_name,
                const char* signal_name, int fast, int slow, int signal) {
  check_period(ctx + fast_name, fast);
  if (slow <= fast || slow > kMaxIndicatorPeriod)
    throw InvalidParameter("invalid " + ctx + slow_name + " = " + std::to_string(slow) +
                               ": must be greater than " + fast_name + " (" +
                               std::to_string(fast) + ") and at most 100000",
                           "rule: integer, fast < slow <= 100000");
  check_period(ctx + signal_name, signal);
}

void check_bb_k(const std::string& name, double k) {
  if (!std::isfinite(k) || !(k > 0))
    throw InvalidParameter("invalid " + name + " = " + fmt(k) + ": must be finite and > 0",
                           "rule: finite number > 0");
}

void check_finite_input(const char* what, const char* name, double v) {
  if (!std::isfinite(v))
    throw InvalidParameter(std::string(what) + ": " + name + " = " + fmt(v) + " is not finite");
}

// Mean and population standard deviation of x[0..n-1] (n >= 1): two passes, the second one
// with the usual correction term for the rounding of the mean. Negative variances clamp to 0.
// Four partial sums per pass break the add latency chain (the order is fixed: deterministic).
inline void mean_pstd(const double* x, std::size_t n, double& mean, double& sd) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += x[i];
    a1 += x[i + 1];
    a2 += x[i + 2];
    a3 += x[i + 3];
  }
  for (; i < n; ++i) a0 += x[i];
  const double dn = static_cast<double>(n);
  mean = ((a0 + a1) + (a2 + a3)) / dn;
  double s0 = 0, s1 = 0, q0 = 0, q1 = 0;
  i = 0;
  for (; i + 2 <= n; i += 2) {
    const double d0 = x[i] - mean, d1 = x[i + 1] - mean;
    s0 += d0;
    s1 += d1;
    q0 += d0 * d0;
    q1 += d1 * d1;
  }
  if (i < n) {
    const double d = x[i] - mean;
    s0 += d;
    q0 += d * d;
  }
  const double s = s0 + s1;
  double var = ((q0 + q1) - s * s / dn) / dn;
  if (!(var > 0)) var = 0;
  sd = std::sqrt(var);
}

}  // namespace

// ---- IndicatorParams / IndicatorValues ------------------------------------------------------

void IndicatorParams::validate() const {
  const std::string p = "indicator parameter ";
  check_period(p + "rsi_period", rsi_period);
  check_macd(p, "macd_fast", "macd_slow", "macd_signal", macd_fast, macd_slow, macd_signal);
  check_period(p + "bb_period", bb_period);
  check_bb_k(p + "bb_k", bb_k);
  check_period(p + "stoch_k", stoch_k);
  check_period(p + "stoch_d", stoch_d);
  check_period(p + "vol_window", vol_window);
}

bool IndicatorParams::operator==(const IndicatorParams& o) const {
  return rsi_period == o.rsi_period && macd_fast == o.macd_fast && macd_slow == o.macd_slow &&
         macd_signal == o.macd_signal && bb_period == o.bb_period && bb_k == o.bb_k &&
         stoch_k == o.stoch_k && stoch_d == o.stoch_d && vol_window == o.vol_window;
}

bool IndicatorValues::complete() const {
  return !std::isnan(rsi) && !std::isnan(macd) && !std::isnan(bb_upper) && !std::isnan(bb_lower) &&
         !std::isnan(stoch_k) && !std::isnan(stoch_d) && !std::isnan(volatility);
}

// ---- WindowMax ------------------------------------------------------------------------------

namespace detail {

WindowMax::WindowMax(int window)
    : window_(window),
      idx_(static_cast<std::size_t>(window)),
      val_(static_cast<std::size_t>(window)) {}

void WindowMax::push(std::int64_t idx, double v) {
  const std::size_t cap = idx_.size();
  // Expire what left the window [idx-window+1, idx]; then at most window-1 entries remain.
  while (size_ > 0 && idx_[head_] <= idx - window_) {
    if (++head_ == cap) head_ = 0;
    --size_;
  }
  // Drop the entries that can never be the maximum again (strictly decreasing deque).
  while (size_ > 0) {
    std::size_t back = head_ + size_ - 1;
    if (back >= cap) back -= cap;
    if (val_[back] > v) break;
    --size_;
  }
  std::size_t at = head_ + size_;
  if (at >= cap) at -= cap;
  idx_[at] = idx;
  val_[at] = v;
  ++size_;
}

}  // namespace detail

// ---- RSI ------------------------------------------------------------------------------------

RsiState::RsiState(int period) : period_(period) { check_period("RSI period", period); }

double RsiState::update(double close) {
  check_finite_input("RSI update", "close", close);
  const std::int64_t row = n_++;
  if (row == 0) {
    prev_ = close;
    return kNaN;
  }
  const double d = close - prev_;
  prev_ = close;
  const double gain = d > 0 ? d : 0.0;
  const double loss = d < 0 ? -d : 0.0;
  if (row < period_) {
    sum_gain_ += gain;
    sum_loss_ += loss;
    return kNaN;
  }
  if (row == period_) {
    sum_gain_ += gain;
    sum_loss_ += loss;
    avg_gain_ = sum_gain_ / period_;
    avg_loss_ = sum_loss_ / period_;
  } else {
    avg_gain_ = (avg_gain_ * (period_ - 1) + gain) / period_;
    avg_loss_ = (avg_loss_ * (period_ - 1) + loss) / period_;
  }
  const double s = avg_gain_ + avg_loss_;
  return s == 0 ? 0.0 : 100.0 * (avg_gain_ / s);
}

// ---- MACD -----------------------------------------------------------------------------------

MacdState::MacdState(int fast, int slow, int signal)
    : fast_(fast),
      slow_(slow),
      signal_(signal),
      k_fast_(2.0 / (fast + 1.0)),
      k_slow_(2.0 / (slow + 1.0)),
      k_signal_(2.0 / (signal + 1.0)) {
  check_macd("MACD ", "fast period", "slow period", "signal period", fast, slow, signal);
}

MacdState::Out MacdState::update(double close) {
  check_finite_input("MACD update", "close", close);
  const std::int64_t row = n_++;
  const std::int64_t seed_row = slow_ - 1;
  if (row <= seed_row) {
    sum_slow_ += close;
    if (row >= slow_ - fast_) sum_fast_ += close;
    if (row < seed_row) return {kNaN, kNaN, kNaN};
    ema_slow_ = sum_slow_ / slow_;
    ema_fast_ = sum_fast_ / fast_;
  } else {
    ema_fast_ = ema_fast_ + k_fast_ * (close - ema_fast_);
    ema_slow_ = ema_slow_ + k_slow_ * (close - ema_slow_);
  }
  const double m = ema_fast_ - ema_slow_;
  const std::int64_t j = row - seed_row;  // index in the MACD line
  if (j < signal_ - 1) {
    sum_signal_ += m;
    return {kNaN, kNaN, kNaN};
  }
  if (j == signal_ - 1) {
    sum_signal_ += m;
    signal_ema_ = sum_signal_ / signal_;
  } else {
    signal_ema_ = signal_ema_ + k_signal_ * (m - signal_ema_);
  }
  return {m, signal_ema_, m - signal_ema_};
}

// ---- Bollinger ------------------------------------------------------------------------------

BollingerState::BollingerState(int period, double k) : period_(period), k_(k) {
  check_period("Bollinger period", period);
  check_bb_k("Bollinger k", k);
  ring_.assign(static_cast<std::size_t>(period), 0.0);
}

BollingerState::Out BollingerState::update(double close) {
  check_finite_input("Bollinger update", "close", close);
  ring_[pos_] = close;
  if (++pos_ == ring_.size()) pos_ = 0;
  if (++n_ < period_) return {kNaN, kNaN, kNaN};
  double mean, sd;
  mean_pstd(ring_.data(), ring_.size(), mean, sd);
  const double w = k_ * sd;
  return {mean + w, mean, mean - w};
}

// ---- Stochastic -----------------------------------------------------------------------------

namespace {
int checked_stochastic_k(int k, int d) {  // validates before any window is allocated
  check_period("stochastic k period", k);
  check_period("stochastic d period", d);
  return k;
}
}  // namespace

StochasticState::StochasticState(int k, int d)
    : k_period_(k),
      d_period_(d),
      highs_(checked_stochastic_k(k, d)),
      neg_lows_(k),
      kring_(static_cast<std::size_t>(d), 0.0) {}

StochasticState::Out StochasticState::update(double high, double low, double close) {
  check_finite_input("stochastic update", "high", high);
  check_finite_input("stochastic update", "low", low);
  check_finite_input("stochastic update", "close", close);
  const std::int64_t row = n_++;
  highs_.push(row, high);
  neg_lows_.push(row, -low);
  if (row < k_period_ - 1) return {kNaN, kNaN};
  const double hh = highs_.max();
  const double ll = -neg_lows_.max();
  const double k = hh == ll ? 0.0 : 100.0 * (close - ll) / (hh - ll);
  const std::int64_t j = row - (k_period_ - 1);  // index in the %K series
  if (j < d_period_) {
    ksum_ += k;
  } else {
    ksum_ += k - kring_[kpos_];
  }
  kring_[kpos_] = k;
  if (++kpos_ == kring_.size()) {
    kpos_ = 0;
    // The ring is full here: recompute the sum exactly so rounding never accumulates.
    double s = 0;
    for (double v : kring_) s += v;
    ksum_ = s;
  }
  if (j < d_period_ - 1) return {k, kNaN};
  return {k, ksum_ / d_period_};
}

// ---- Volatility -----------------------------------------------------------------------------

VolatilityState::VolatilityState(int window) : window_(window) {
  check_period("volatility window", window);
  ring_.assign(static_cast<std::size_t>(window), 0.0);
}

double VolatilityState::update(double close) {
  if (!std::isfinite(close) || !(close > 0))
    throw InvalidParameter("volatility update: close = " + fmt(close) +
                           " must be finite and > 0");
  const std::int64_t row = n_++;
  if (row == 0) {
    prev_ = close;
    return kNaN;
  }
  const double r = close / prev_ - 1.0;
  prev_ = close;
  ring_[pos_] = r;
  if (++pos_ == ring_.size()) pos_ = 0;
  if (row < window_) return kNaN;
  double mean, sd;
  mean_pstd(ring_.data(), ring_.size(), mean, sd);
  return sd;
}

// ---- IndicatorState -------------------------------------------------------------------------

namespace {
const IndicatorParams& validated(const IndicatorParams& p) {
  p.validate();
  return p;
}
}  // namespace

IndicatorState::IndicatorState(const IndicatorParams& p)
    : params_(validated(p)),
      rsi_(p.rsi_period),
      macd_(p.macd_fast, p.macd_slow, p.macd_signal),
      bb_(p.bb_period, p.bb_k),
      stoch_(p.stoch_k, p.stoch_d),
      vol_(p.vol_window) {}

IndicatorValues IndicatorState::update(double high, double low, double close) {
  auto check = [](const char* name, double v) {
    if (!std::isfinite(v) || !(v > 0))
      throw InvalidParameter(std::string("indicator update: ") + name + " = " + fmt(v) +
                                 " must be finite and > 0",
                             "rule: high, low and close are finite prices > 0 with high >= low");
  };
  check("high", high);
  check("low", low);
  check("close", close);
  if (high < low)
    throw InvalidParameter("indicator update: high = " + fmt(high) + " is below low = " + fmt(low),
                           "rule: high, low and close are finite prices > 0 with high >= low");
  if (bars_ >= kMaxIndicatorBars)
    throw DataError("indicator update: the state has consumed " + std::to_string(bars_) +
                        " bars, the most one state holds",
                    "rule: at most 2^53 bars per indicator state");
  IndicatorValues v;
  v.rsi = rsi_.update(close);
  const MacdState::Out m = macd_.update(close);
  v.macd = m.macd;
  v.macd_signal = m.signal;
  v.macd_hist = m.hist;
  const BollingerState::Out b = bb_.update(close);
  v.bb_upper = b.upper;
  v.bb_middle = b.middle;
  v.bb_lower = b.lower;
  const StochasticState::Out s = stoch_.update(high, low, close);
  v.stoch_k = s.k;
  v.stoch_d = s.d;
  v.volatility = vol_.update(close);
  ++bars_;
  return v;
}

std::int64_t IndicatorState::bars() const { return bars_; }

const IndicatorParams& IndicatorState::params() const { return params_; }

// ---- Serialization --------------------------------------------------------------------------
//
// Version 1 layout, all little-endian, doubles as their IEEE-754 bit patterns:
//   "CMLI"  u16 version=1
//   params: i32 rsi_period, macd_fast, macd_slow, macd_signal, bb_period; f64 bb_k;
//           i32 stoch_k, stoch_d, vol_window
//   i64 bars
//   RSI:        i64 n; f64 prev, sum_gain, sum_loss, avg_gain, avg_loss
//   MACD:       i64 n; f64 sum_slow, sum_fast, ema_fast, ema_slow, sum_signal, signal_ema
//   Bollinger:  i64 n; u32 len (== bb_period); len x f64 ring (storage order)
//   Stochastic: i64 n; highs deque; negated-lows deque; u32 len (== stoch_d); len x f64 %K ring;
//               f64 ksum.   deque = u32 size (<= stoch_k); size x (i64 bar index, f64 value),
//               oldest first
//   Volatility: i64 n; f64 prev; u32 len (== vol_window); len x f64 ring of returns
// Ring positions are derived from n. Every n must equal bars.

namespace detail {

namespace {

constexpr char kMagic[4] = {'C', 'M', 'L', 'I'};
constexpr std::uint16_t kVersion = 1;

[[noreturn]] void corrupt(const std::string& what) {
  throw DataError("indicator state: " + what);
}

class Writer {
 public:
  void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  void u(std::uint64_t v, int bytes) {
    char b[8];
    for (int i = 0; i < bytes; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    out_.append(b, static_cast<std::size_t>(bytes));
  }
  void u16(std::uint16_t v) { u(v, 2); }
  void u32(std::uint32_t v) { u(v, 4); }
  void i32(std::int32_t v) { u(static_cast<std::uint32_t>(v), 4); }
  void i64(std::int64_t v) { u(static_cast<std::uint64_t>(v), 8); }
  void f64(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    u(bits, 8);
  }
  void vec(const std::vector<double>& v) {
    u32(static_cast<std::uint32_t>(v.size()));
    for (double x : v) f64(x);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  void need(std::size_t n, const char* what) const {
    if (s_.size() - off_ < n)
      corrupt("truncated: " + std::to_string(s_.size()) + " bytes, " + what + " needs " +
              std::to_string(n) + " bytes at offset " + std::to_string(off_));
  }
  std::uint64_t u(int bytes, const char* what) {
    need(static_cast<std::size_t>(bytes), what);
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(s_[off_ + i])) << (8 * i);
    off_ += static_cast<std::size_t>(bytes);
    return v;
  }
  std::uint16_t u16(const char* what) { return static_cast<std::uint16_t>(u(2, what)); }
  std::uint32_t u32(const char* what) { return static_cast<std::uint32_t>(u(4, what)); }
  std::int32_t i32(const char* what) { return static_cast<std::int32_t>(u32(what)); }
  std::int64_t i64(const char* what) { return static_cast<std::int64_t>(u(8, what)); }
  double f64(const char* what) {
    const std::uint64_t bits = u(8, what);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  // A vector whose length must be `expected` (its size is fixed by the params).
  void vec(std::vector<double>& v, std::size_t expected, const char* what) {
    const std::uint32_t len = u32(what);
    if (len != expected)
      corrupt(std::string(what) + " has " + std::to_string(len) + " values, expected " +
              std::to_string(expected));
    need(static_cast<std::size_t>(len) * 8, what);
    v.resize(len);
    for (auto& x : v) x = f64(what);
  }
  std::size_t offset() const { return off_; }
  std::size_t size() const { return s_.size(); }

 private:
  const std::string& s_;
  std::size_t off_ = 0;
};

std::size_t derived_pos(std::int64_t pushes, std::size_t cap) {
  return static_cast<std::size_t>(pushes % static_cast<std::int64_t>(cap));
}

}  // namespace

struct IndicatorCodec {
  static void write(Writer& w, const WindowMax& m) {
    w.u32(static_cast<std::uint32_t>(m.size_));
    const std::size_t cap = m.idx_.size();
    for (std::size_t i = 0, at = m.head_; i < m.size_; ++i) {
      w.i64(m.idx_[at]);
      w.f64(m.val_[at]);
      if (++at == cap) at = 0;
    }
  }

  // n = number of values pushed so far.
  static void read(Reader& r, WindowMax& m, std::int64_t n, const char* what) {
    const std::uint32_t size = r.u32(what);
    if (size > m.idx_.size())
      corrupt(std::string(what) + " holds " + std::to_string(size) + " entries, at most " +
              std::to_string(m.idx_.size()) + " allowed");
    if ((n == 0) != (size == 0))
      corrupt(std::string(what) + " holds " + std::to_string(size) + " entries after " +
              std::to_string(n) + " bars");
    r.need(static_cast<std::size_t>(size) * 16, what);
    m.head_ = 0;
    m.size_ = size;
    for (std::size_t i = 0; i < size; ++i) {
      m.idx_[i] = r.i64(what);
      m.val_[i] = r.f64(what);
      const bool ok = m.idx_[i] >= n - m.window_ && m.idx_[i] < n && std::isfinite(m.val_[i]) &&
                      (i == 0 || (m.idx_[i] > m.idx_[i - 1] && m.val_[i] < m.val_[i - 1]));
      if (!ok) corrupt(std::string(what) + " is inconsistent at entry " + std::to_string(i + 1));
    }
    if (size > 0 && m.idx_[size - 1] != n - 1)
      corrupt(std::string(what) + " does not end at the last bar");
  }

  static std::string serialize(const IndicatorState& s) {
    Writer w;
    w.raw(kMagic, 4);
    w.u16(kVersion);
    const IndicatorParams& p = s.params_;
    w.i32(p.rsi_period);
    w.i32(p.macd_fast);
    w.i32(p.macd_slow);
    w.i32(p.macd_signal);
    w.i32(p.bb_period);
    w.f64(p.bb_k);
    w.i32(p.stoch_k);
    w.i32(p.stoch_d);
    w.i32(p.vol_window);
    w.i64(s.bars_);

    const RsiState& rs = s.rsi_;
    w.i64(rs.n_);
    w.f64(rs.prev_);
    w.f64(rs.sum_gain_);
    w.f64(rs.sum_loss_);
    w.f64(rs.avg_gain_);
    w.f64(rs.avg_loss_);

    const MacdState& m = s.macd_;
    w.i64(m.n_);
    w.f64(m.sum_slow_);
    w.f64(m.sum_fast_);
    w.f64(m.ema_fast_);
    w.f64(m.ema_slow_);
    w.f64(m.sum_signal_);
    w.f64(m.signal_ema_);

    const BollingerState& b = s.bb_;
    w.i64(b.n_);
    w.vec(b.ring_);

    const StochasticState& st = s.stoch_;
    w.i64(st.n_);
    write(w, st.highs_);
    write(w, st.neg_lows_);
    w.vec(st.kring_);
    w.f64(st.ksum_);

    const VolatilityState& v = s.vol_;
    w.i64(v.n_);
    w.f64(v.prev_);
    w.vec(v.ring_);
    return w.take();
  }

  static IndicatorState deserialize(const std::string& bytes) {
    Reader r(bytes);
    r.need(4, "the magic");
    if (std::memcmp(bytes.data(), kMagic, 4) != 0)
      corrupt("wrong magic (expected \"CMLI\"): not an indicator state");
    r.u(4, "the magic");
    const std::uint16_t version = r.u16("the version");
    if (version != kVersion)
      corrupt("unsupported version " + std::to_string(version) + " (expected " +
              std::to_string(kVersion) + ")");
    IndicatorParams p;
    p.rsi_period = r.i32("params");
    p.macd_fast = r.i32("params");
    p.macd_slow = r.i32("params");
    p.macd_signal = r.i32("params");
    p.bb_period = r.i32("params");
    p.bb_k = r.f64("params");
    p.stoch_k = r.i32("params");
    p.stoch_d = r.i32("params");
    p.vol_window = r.i32("params");
    try {
      p.validate();
    } catch (const InvalidParameter& e) {
      corrupt(std::string("bad params: ") + e.what());
    }
    IndicatorState s(p);
    s.bars_ = r.i64("bars");
    if (s.bars_ < 0) corrupt("negative bar count " + std::to_string(s.bars_));
    if (s.bars_ > kMaxIndicatorBars)
      corrupt("bar count " + std::to_string(s.bars_) + " is above the limit of " + std::to_string(kMaxIndicatorBars) +
              " (rule: 0 <= bars <= 2^53)");
    auto check_n = [&](std::int64_t n, const char* what) {
      if (n != s.bars_)
        corrupt(std::string(what) + " has consumed " + std::to_string(n) + " bars, expected " +
                std::to_string(s.bars_));
    };

    RsiState& rs = s.rsi_;
    rs.n_ = r.i64("RSI state");
    check_n(rs.n_, "RSI state");
    rs.prev_ = r.f64("RSI state");
    rs.sum_gain_ = r.f64("RSI state");
    rs.sum_loss_ = r.f64("RSI state");
    rs.avg_gain_ = r.f64("RSI state");
    rs.avg_loss_ = r.f64("RSI state");

    MacdState& m = s.macd_;
    m.n_ = r.i64("MACD state");
    check_n(m.n_, "MACD state");
    m.sum_slow_ = r.f64("MACD state");
    m.sum_fast_ = r.f64("MACD state");
    m.ema_fast_ = r.f64("MACD state");
    m.ema_slow_ = r.f64("MACD state");
    m.sum_signal_ = r.f64("MACD state");
    m.signal_ema_ = r.f64("MACD state");

    BollingerState& b = s.bb_;
    b.n_ = r.i64("Bollinger state");
    check_n(b.n_, "Bollinger state");
    r.vec(b.ring_, static_cast<std::size_t>(p.bb_period), "Bollinger window");
    b.pos_ = derived_pos(b.n_, b.ring_.size());

    StochasticState& st = s.stoch_;
    st.n_ = r.i64("stochastic state");
    check_n(st.n_, "stochastic state");
    read(r, st.highs_, st.n_, "stochastic high window");
    read(r, st.neg_lows_, st.n_, "stochastic low window");
    r.vec(st.kring_, static_cast<std::size_t>(p.stoch_d), "stochastic %K window");
    st.ksum_ = r.f64("stochastic state");
    const std::int64_t kpushes = st.n_ >= p.stoch_k ? st.n_ - p.stoch_k + 1 : 0;
    st.kpos_ = derived_pos(kpushes, st.kring_.size());

    VolatilityState& v = s.vol_;
    v.n_ = r.i64("volatility state");
    check_n(v.n_, "volatility state");
    v.prev_ = r.f64("volatility state");
    r.vec(v.ring_, static_cast<std::size_t>(p.vol_window), "volatility window");
    v.pos_ = derived_pos(v.n_ > 0 ? v.n_ - 1 : 0, v.ring_.size());

    if (r.offset() != r.size())
      corrupt(std::to_string(r.size() - r.offset()) + " trailing bytes after the state (" +
              std::to_string(r.offset()) + " bytes expected)");
    return s;
  }
};

}  // namespace detail

std::string IndicatorState::serialize() const { return detail::IndicatorCodec::serialize(*this); }

IndicatorState IndicatorState::deserialize(const std::string& bytes) {
  return detail::IndicatorCodec::deserialize(bytes);
}

// ---- Batch functions ------------------------------------------------------------------------

namespace {

void check_fits(const char* fn, const char* name, int period, std::size_t n) {
  if (static_cast<std::size_t>(period) > n)
    throw InvalidParameter(std::string(fn) + ": " + name + " " + std::to_string(period) +
                               " is larger than the array length " + std::to_string(n),
                           "rule: every period must be at most the number of elements");
}

void check_elements(const char* fn, const char* array, const std::vector<double>& x,
                    bool positive = false) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    if (!std::isfinite(v))
      throw InvalidParameter(std::string(fn) + ": element " + std::to_string(i + 1) +
                             " (1-based) of " + array + " is " + fmt(v) + ", not a finite number");
    if (positive && !(v > 0))
      throw InvalidParameter(std::string(fn) + ": element " + std::to_string(i + 1) +
                             " (1-based) of " + array + " is " + fmt(v) +
                             "; prices must be > 0");
  }
}

}  // namespace

std::vector<double> rsi(const std::vector<double>& close, int period) {
  RsiState st(period);
  check_fits("rsi", "period", period, close.size());
  check_elements("rsi", "close", close);
  std::vector<double> out(close.size());
  for (std::size_t i = 0; i < close.size(); ++i) out[i] = st.update(close[i]);
  return out;
}

MacdSeries macd(const std::vector<double>& close, int fast, int slow, int signal) {
  MacdState st(fast, slow, signal);
  check_fits("macd", "fast period", fast, close.size());
  check_fits("macd", "slow period", slow, close.size());
  check_fits("macd", "signal period", signal, close.size());
  check_elements("macd", "close", close);
  const std::size_t n = close.size();
  MacdSeries out{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    const MacdState::Out o = st.update(close[i]);
    out.macd[i] = o.macd;
    out.signal[i] = o.signal;
    out.hist[i] = o.hist;
  }
  return out;
}

BollingerSeries bollinger(const std::vector<double>& close, int period, double k) {
  BollingerState st(period, k);
  check_fits("bollinger", "period", period, close.size());
  check_elements("bollinger", "close", close);
  const std::size_t n = close.size();
  BollingerSeries out{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    const BollingerState::Out o = st.update(close[i]);
    out.upper[i] = o.upper;
    out.middle[i] = o.middle;
    out.lower[i] = o.lower;
  }
  return out;
}

StochasticSeries stochastic(const std::vector<double>& high, const std::vector<double>& low,
                            const std::vector<double>& close, int k, int d) {
  StochasticState st(k, d);
  if (high.size() != low.size() || high.size() != close.size())
    throw InvalidParameter("stochastic: high, low and close must have the same length (got " +
                           std::to_string(high.size()) + ", " + std::to_string(low.size()) +
                           " and " + std::to_string(close.size()) + ")");
  check_fits("stochastic", "k period", k, close.size());
  check_fits("stochastic", "d period", d, close.size());
  check_elements("stochastic", "high", high);
  check_elements("stochastic", "low", low);
  check_elements("stochastic", "close", close);
  const std::size_t n = close.size();
  StochasticSeries out{std::vector<double>(n), std::vector<double>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    const StochasticState::Out o = st.update(high[i], low[i], close[i]);
    out.k[i] = o.k;
    out.d[i] = o.d;
  }
  return out;
}

std::vector<double> volatility(const std::vector<double>& close, int window) {
  VolatilityState st(window);
  check_fits("volatility", "window", window, close.size());
  check_elements("volatility", "close", close, /*positive=*/true);
  std::vector<double> out(close.size());
  for (std::size_t i = 0; i < close.size(); ++i) out[i] = st.update(close[i]);
  return out;
}

}  // namespace cml
