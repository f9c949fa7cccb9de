// One indicator streamed over the rows of a window partition (see indicator_windows.hpp).
#include "text.hpp"
#include "indicator_windows.hpp"

#include <cmath>
#include <string>
#include <utility>

namespace cml {

namespace {

constexpr const char* kSqlNames[] = {"ml_rsi", "ml_macd", "ml_bollinger", "ml_stochastic",
                                     "ml_volatility"};

[[noreturn]] void bad_input(const char* fn, const char* input, double v, std::int64_t row,
                            const char* what, const char* rule) {
  throw InvalidParameter(std::string(fn) + ": " + input + " = " + format_double(v) + " at row " +
                             std::to_string(row) + " of the window partition " + what,
                         std::string("rule: ") + rule);
}

constexpr const char* kFiniteRule =
    "prices must be finite numbers (rows whose price is NULL are skipped)";

inline void check_finite(const char* fn, const char* input, double v, std::int64_t row) {
  if (!std::isfinite(v)) bad_input(fn, input, v, row, "is not a finite number", kFiniteRule);
}

}  // namespace

IndicatorWindow::IndicatorWindow(State s) : state_(std::move(s)) {}

IndicatorWindow IndicatorWindow::rsi(int period) { return IndicatorWindow(State(RsiState(period))); }

IndicatorWindow IndicatorWindow::macd(int fast, int slow, int signal) {
  return IndicatorWindow(State(MacdState(fast, slow, signal)));
}

IndicatorWindow IndicatorWindow::bollinger(int period, double k) {
  return IndicatorWindow(State(BollingerState(period, k)));
}

IndicatorWindow IndicatorWindow::stochastic(int k, int d) {
  return IndicatorWindow(State(StochasticState(k, d)));
}

IndicatorWindow IndicatorWindow::volatility(int window) {
  return IndicatorWindow(State(VolatilityState(window)));
}

WindowIndicatorKind IndicatorWindow::kind() const {
  return static_cast<WindowIndicatorKind>(state_.index());
}

const char* IndicatorWindow::sql_name() const { return kSqlNames[state_.index()]; }

int IndicatorWindow::inputs() const { return kind() == WindowIndicatorKind::Stochastic ? 3 : 1; }

int IndicatorWindow::outputs() const {
  switch (kind()) {
    case WindowIndicatorKind::Macd:
    case WindowIndicatorKind::Bollinger:
      return 3;
    case WindowIndicatorKind::Stochastic:
      return 2;
    default:
      return 1;
  }
}

void IndicatorWindow::update(std::int64_t row, const double* in, double* out) {
  const char* fn = sql_name();
  switch (kind()) {
    case WindowIndicatorKind::Rsi:
      check_finite(fn, "close", in[0], row);
      out[0] = std::get_if<RsiState>(&state_)->update(in[0]);
      break;
    case WindowIndicatorKind::Macd: {
      check_finite(fn, "close", in[0], row);
      const MacdState::Out o = std::get_if<MacdState>(&state_)->update(in[0]);
      out[0] = o.macd;
      out[1] = o.signal;
      out[2] = o.hist;
      break;
    }
    case WindowIndicatorKind::Bollinger: {
      check_finite(fn, "close", in[0], row);
      const BollingerState::Out o = std::get_if<BollingerState>(&state_)->update(in[0]);
      out[0] = o.upper;
      out[1] = o.middle;
      out[2] = o.lower;
      break;
    }
    case WindowIndicatorKind::Stochastic: {
      check_finite(fn, "high", in[0], row);
      check_finite(fn, "low", in[1], row);
      check_finite(fn, "close", in[2], row);
      if (in[0] < in[1])
        throw InvalidParameter(std::string(fn) + ": high = " + format_double(in[0]) +
                                   " is below low = " + format_double(in[1]) + " at row " +
                                   std::to_string(row) + " of the window partition",
                               "rule: high >= low for every bar");
      const StochasticState::Out o =
          std::get_if<StochasticState>(&state_)->update(in[0], in[1], in[2]);
      out[0] = o.k;
      out[1] = o.d;
      break;
    }
    case WindowIndicatorKind::Volatility:
      check_finite(fn, "close", in[0], row);
      if (!(in[0] > 0))
        bad_input(fn, "close", in[0], row, "is not > 0",
                  "prices must be > 0 (returns divide by the previous close)");
      out[0] = std::get_if<VolatilityState>(&state_)->update(in[0]);
      break;
  }
  ++rows_;
}

}  // namespace cml
