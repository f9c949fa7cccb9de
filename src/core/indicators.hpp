// cryptoml technical indicators: RSI, MACD, Bollinger bands, fast stochastic, volatility.
// Pure C++17: no PostgreSQL header may be included here.
//
// Conventions (TA-Lib's). Input series are one symbol's bars in time order; "row i" is 0-based;
// "no value" is a quiet NaN. Timestamps play no part.
//
//   RSI(N), Wilder. d_i = close_i - close_{i-1} (i >= 1). The first average gain/loss is the
//     simple mean of the first N changes (rows 1..N); then avg = (avg*(N-1) + x)/N.
//     RSI = 100*G/(G+L), and 0 when G+L == 0. First value at row N.
//   MACD(fast, slow, signal). Both EMAs are seeded on row slow-1: slow with mean(close[0..slow-1]),
//     fast with mean(close[slow-fast..slow-1]); afterwards ema += k*(close - ema), k = 2/(N+1).
//     The MACD line (fast - slow) exists from row slow-1; the signal line is an EMA(signal) of it
//     seeded with the mean of its first `signal` values; hist = macd - signal. As in TA-Lib, ALL
//     THREE are reported only from row slow+signal-2 (33 with 12/26/9) and are NaN before.
//   Bollinger(period, k). middle = SMA(period); upper/lower = middle +/- k * population standard
//     deviation (divides by N) of the same window. First value at row period-1.
//   Stochastic fast (STOCHF)(k, d). %K_i = 100*(C_i - LL)/(HH - LL), HH/LL = max high / min low of
//     the last k bars including bar i; 0 when HH == LL. %D = SMA(d) of %K.
//     %K is reported from row k-1 and %D from row k+d-2 (15 with 14/3), by the streaming states AND
//     by the batch stochastic(). DEVIATION FROM TA-LIB: TA-Lib's STOCHF output starts %K on the
//     same row as %D (k+d-2); here %K starts d-1 rows earlier. Where both report a value, the
//     values are the same.
//   Volatility(window). Population standard deviation of the last `window` one-bar simple returns
//     r_i = close_i/close_{i-1} - 1. First value at row `window` (window returns are needed).
//
// Numerics. The two standard deviations (Bollinger, volatility) are computed from the window
// contents on every bar (two passes: mean, then the corrected sum of squared deviations), so they
// match a naive two-pass computation to a few ulps and are 0 for a constant window; that costs
// O(bb_period + vol_window) per bar. RSI, MACD and stochastic are O(1) amortized per bar (HH/LL use
// monotonic deques; %D is a running sum recomputed from its window every d bars). Memory is bounded
// by the windows. The batch functions run the very same streaming code, so streaming and batch
// results are bit-for-bit identical.
//
// Errors: cml::InvalidParameter for bad parameters or inputs (the message names the parameter or
// element and the offending value, and the rule); cml::DataError for unusable serialized states.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.hpp"

namespace cml {

namespace detail {
struct IndicatorCodec;  // serialization of the states (indicators.cpp)

// Maximum of a sliding window of the last `window` values pushed (monotonic deque, O(1) amortized).
// Values are pushed with consecutive indices 0, 1, 2, ...
class WindowMax {
 public:
  explicit WindowMax(int window);
  void push(std::int64_t idx, double v);
  double max() const { return val_[head_]; }  // only after at least one push

 private:
  friend struct IndicatorCodec;
  std::int64_t window_;
  std::vector<std::int64_t> idx_;
  std::vector<double> val_;
  std::size_t head_ = 0, size_ = 0;
};
}  // namespace detail

// Largest accepted period of any indicator.
constexpr int kMaxIndicatorPeriod = 100000;

// Most bars one IndicatorState may consume (2^53, some 17 billion years of minutes). deserialize
// rejects a larger bar count and update() refuses to go beyond it, so the int64 counters can
// never overflow (a checkpoint claiming INT64_MAX bars made the next update overflow them).
constexpr std::int64_t kMaxIndicatorBars = std::int64_t{1} << 53;

struct IndicatorParams {
  int rsi_period = 14, macd_fast = 12, macd_slow = 26, macd_signal = 9, bb_period = 20;
  double bb_k = 2.0;
  int stoch_k = 14, stoch_d = 3, vol_window = 5;
  // Throws InvalidParameter naming the parameter, its value and the rule:
  // rsi_period, macd_fast, macd_signal, bb_period, stoch_k, stoch_d, vol_window between 1 and
  // 100000; macd_slow > macd_fast and <= 100000; bb_k finite and > 0.
  void validate() const;
  bool operator==(const IndicatorParams&) const;
};

struct IndicatorValues {  // NaN = no value yet
  double rsi, macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, stoch_k, stoch_d,
      volatility;
  // true when rsi, macd, bb_upper, bb_lower, stoch_k, stoch_d, volatility are all non-NaN
  bool complete() const;
};

// ---- Per-indicator streaming states ---------------------------------------------------------
// Constructors validate their periods with the rules of IndicatorParams::validate (InvalidParameter).
// update() throws InvalidParameter for a non-finite input (VolatilityState: also close <= 0) and then
// leaves the state unchanged.

class RsiState {
 public:
  explicit RsiState(int period);
  double update(double close);  // NaN until row `period`

 private:
  friend struct detail::IndicatorCodec;
  int period_;
  std::int64_t n_ = 0;  // bars consumed
  double prev_ = 0, sum_gain_ = 0, sum_loss_ = 0, avg_gain_ = 0, avg_loss_ = 0;
};

class MacdState {
 public:
  MacdState(int fast, int slow, int signal);  // fast >= 1, slow > fast, signal >= 1
  struct Out {
    double macd, signal, hist;
  };
  Out update(double close);  // all three NaN until row slow+signal-2

 private:
  friend struct detail::IndicatorCodec;
  int fast_, slow_, signal_;
  double k_fast_, k_slow_, k_signal_;
  std::int64_t n_ = 0;
  double sum_slow_ = 0, sum_fast_ = 0, ema_fast_ = 0, ema_slow_ = 0, sum_signal_ = 0, signal_ema_ = 0;
};

class BollingerState {
 public:
  BollingerState(int period, double k);  // k finite and > 0
  struct Out {
    double upper, middle, lower;
  };
  Out update(double close);  // NaN until row period-1

 private:
  friend struct detail::IndicatorCodec;
  int period_;
  double k_;
  std::int64_t n_ = 0;
  std::size_t pos_ = 0;
  std::vector<double> ring_;
};

class StochasticState {
 public:
  StochasticState(int k, int d);
  struct Out {
    double k, d;
  };
  // k from row k-1, d from row k+d-2 (see the header comment). high < low is not checked here.
  Out update(double high, double low, double close);

 private:
  friend struct detail::IndicatorCodec;
  int k_period_, d_period_;
  std::int64_t n_ = 0;
  detail::WindowMax highs_, neg_lows_;  // lows are kept negated: min(low) == -max(-low)
  std::size_t kpos_ = 0;
  double ksum_ = 0;
  std::vector<double> kring_;
};

class VolatilityState {
 public:
  explicit VolatilityState(int window);
  double update(double close);  // close must be finite and > 0; NaN until row `window`

 private:
  friend struct detail::IndicatorCodec;
  int window_;
  std::int64_t n_ = 0;
  double prev_ = 0;
  std::size_t pos_ = 0;
  std::vector<double> ring_;
};

// ---- Combined state of one symbol (used by the trigger) --------------------------------------
class IndicatorState {
 public:
  explicit IndicatorState(const IndicatorParams& p);  // validates p
  // Advance one bar. Throws InvalidParameter (state unchanged) for non-finite or non-positive
  // close/high/low or high < low, DataError (state unchanged) when kMaxIndicatorBars bars were
  // consumed already. stoch_k is reported from row stoch_k-1 (not delayed).
  IndicatorValues update(double high, double low, double close);
  std::int64_t bars() const;  // bars consumed so far
  const IndicatorParams& params() const;
  // Versioned, self-describing binary snapshot of the full state (full double precision, params
  // included). deserialize(serialize()) continues bit-for-bit identically. Format: magic "CMLI",
  // uint16 version = 1, then the fields little-endian (see indicators.cpp). deserialize throws
  // DataError("indicator state: ...") on wrong magic, unsupported version (the message names the
  // found and the expected version), truncation, trailing bytes, invalid params or inconsistent
  // sizes/counters (a bar count above kMaxIndicatorBars included).
  std::string serialize() const;
  static IndicatorState deserialize(const std::string& bytes);

 private:
  friend struct detail::IndicatorCodec;
  IndicatorParams params_;
  std::int64_t bars_ = 0;
  RsiState rsi_;
  MacdState macd_;
  BollingerState bb_;
  StochasticState stoch_;
  VolatilityState vol_;
};

// ---- Batch functions ------------------------------------------------------------------------
// Run the SAME streaming states over arrays: output length == input length, NaN where no value.
// They throw InvalidParameter for:
//   - a period <= 0 (or breaking another rule of IndicatorParams::validate, e.g. slow <= fast);
//   - any period argument larger than the array length n (the message names the period, its value
//     and n). An empty array therefore always fails this way. A period that fits but leaves no
//     room for a value (rsi period == n, macd slow+signal-1 > n, volatility window == n, ...)
//     is not an error: the output is all NaN;
//   - arrays of unequal length (stochastic);
//   - non-finite elements (the message names the array and the 1-based element index);
//   - volatility only: elements <= 0 (returns divide by the previous close).
std::vector<double> rsi(const std::vector<double>& close, int period);

struct MacdSeries {
  std::vector<double> macd, signal, hist;
};
MacdSeries macd(const std::vector<double>& close, int fast, int slow, int signal);

struct BollingerSeries {
  std::vector<double> upper, middle, lower;
};
BollingerSeries bollinger(const std::vector<double>& close, int period, double k);

struct StochasticSeries {
  std::vector<double> k, d;
};
StochasticSeries stochastic(const std::vector<double>& high, const std::vector<double>& low,
                            const std::vector<double>& close, int k, int d);

std::vector<double> volatility(const std::vector<double>& close, int window);

}  // namespace cml
