// One indicator streamed over the rows of a window partition: the core of the SQL window
// functions ml_rsi(close) OVER w, ml_macd, ml_bollinger, ml_stochastic and ml_volatility.
// Pure C++17: no PostgreSQL header may be included here.
//
// An IndicatorWindow wraps ONE of the streaming states of indicators.hpp (RsiState, MacdState,
// BollingerState, StochasticState, VolatilityState): the very states the trigger and the batch
// functions (cml::rsi, ...) run. Feeding it the rows of a series one by one therefore gives the
// batch function's output for that series bit for bit, including the warm-up rows (NaN). The
// window adds only what a row-at-a-time caller needs: input checks whose messages name the row
// of the partition instead of an array element, and one entry point for the five indicators.
//
// Cost per row: that of the state (O(1) amortized for RSI, MACD, stochastic; O(period) for
// Bollinger and O(window) for volatility, whose standard deviations are recomputed from the
// window contents on each bar exactly as the batch functions do). Memory: bounded by the periods.
//
// Errors (cml::InvalidParameter):
//   - construction: the parameters break a rule; the message is the one the batch function gives
//     for the same parameters (the same state constructor raises it), e.g.
//     "invalid RSI period = 0: must be between 1 and 100000";
//   - update: a non-finite input, a close <= 0 (volatility, whose returns divide by the previous
//     close) or high < low (stochastic). The message names the SQL function, the input, its value
//     and the 1-based row of the partition; the detail names the rule. The state is unchanged.
#pragma once

#include <cstdint>
#include <variant>

#include "indicators.hpp"

namespace cml {

enum class WindowIndicatorKind { Rsi, Macd, Bollinger, Stochastic, Volatility };

class IndicatorWindow {
 public:
  static constexpr int kMaxInputs = 3;   // stochastic: high, low, close
  static constexpr int kMaxOutputs = 3;  // MACD: macd, signal, hist; Bollinger: upper, middle, lower

  static IndicatorWindow rsi(int period);
  static IndicatorWindow macd(int fast, int slow, int signal);
  static IndicatorWindow bollinger(int period, double k);
  static IndicatorWindow stochastic(int k, int d);
  static IndicatorWindow volatility(int window);

  WindowIndicatorKind kind() const;
  const char* sql_name() const;  // "ml_rsi", ... (named in the messages)
  int inputs() const;            // 3 for stochastic (high, low, close), else 1 (close)
  int outputs() const;           // 1 (RSI, volatility), 2 (stochastic: k, d) or 3

  // Advances by one row. in[0..inputs()-1] are the row's inputs, out[0..outputs()-1] receive its
  // values (NaN = no value yet), in the order of the batch function's outputs. `row` is the
  // 1-based position of the row in the partition, used in messages only.
  void update(std::int64_t row, const double* in, double* out);

  std::int64_t rows() const { return rows_; }  // rows consumed so far

 private:
  using State = std::variant<RsiState, MacdState, BollingerState, StochasticState, VolatilityState>;
  explicit IndicatorWindow(State s);
  State state_;
  std::int64_t rows_ = 0;
};

}  // namespace cml
