// cryptoml trade simulation and performance analytics (see trading.hpp for the conventions).
#include "trading.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>

#include "text.hpp"

namespace cml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Largest number of trades random_entry draws.
constexpr int kMaxRandomTrades = 1000000;

std::string fmt(double v) { return format_double(v); }

const char* side_name(Side s) { return s == Side::Long ? "long" : "short"; }

// Throws unless v is finite and > 0. `what` names the value in the message.
void check_positive_price(const std::string& what, double v) {
  if (!std::isfinite(v) || !(v > 0))
    throw InvalidParameter("invalid " + what + " = " + fmt(v) + ": must be finite and > 0",
                           "rule: finite price > 0");
}

void check_horizon(int horizon) {
  if (horizon <= 0)
    throw InvalidParameter("invalid horizon = " + std::to_string(horizon) +
                               ": must be > 0 minutes",
                           "rule: integer number of minutes > 0");
}

// Gross return of the side in percent, before costs.
double gross_pct(Side side, double entry, double exit) {
  return side == Side::Long ? 100.0 * (exit / entry - 1.0) : 100.0 * (1.0 - exit / entry);
}

// Round-trip costs in percentage points.
double round_trip_pct(const TradeCosts& c) { return 2.0 * (c.fee_pct + c.slippage_pct); }

void check_bar(const Bar& b) {
  const std::string at = "bar at minute " + std::to_string(b.ts_minutes) + ": ";
  check_positive_price(at + "open", b.open);
  check_positive_price(at + "high", b.high);
  check_positive_price(at + "low", b.low);
  check_positive_price(at + "close", b.close);
  if (b.high < b.low)
    throw InvalidParameter("invalid " + at + "high = " + fmt(b.high) + " is below low = " +
                               fmt(b.low),
                           "rule: high >= low");
}

// Throws unless the bars' timestamps are strictly increasing.
void check_increasing(const std::vector<Bar>& bars) {
  for (std::size_t i = 1; i < bars.size(); ++i)
    if (bars[i].ts_minutes <= bars[i - 1].ts_minutes)
      throw InvalidParameter("bars are not in time order: bar " + std::to_string(i + 1) +
                                 " at minute " + std::to_string(bars[i].ts_minutes) +
                                 " does not come after minute " +
                                 std::to_string(bars[i - 1].ts_minutes),
                             "rule: strictly increasing ts_minutes");
}

void check_same_length(const char* a, std::size_t na, const char* b, std::size_t nb) {
  if (na != nb)
    throw InvalidParameter(std::string("arrays of unequal length: ") + a + " has " +
                           std::to_string(na) + " elements, " + b + " has " +
                           std::to_string(nb));
  if (na > static_cast<std::size_t>(INT_MAX))
    throw InvalidParameter(std::string("too many elements in ") + a + ": " + std::to_string(na));
}

void check_finite_elements(const char* name, const std::vector<double>& x) {
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]))
      throw InvalidParameter(std::string(name) + "[" + std::to_string(i + 1) +
                             "] = " + fmt(x[i]) + " is not finite");
}

// Applies one mark (pnl in percent) to the running extremes. fmax/fmin skip the NaN start.
void record_mark(TradeState& t, double pnl) {
  t.pnl_pct = pnl;
  t.highest_profit_pct = std::fmax(t.highest_profit_pct, pnl);
  t.lowest_loss_pct = std::fmin(t.lowest_loss_pct, pnl);
}

}  // namespace

void TradeCosts::validate() const {
  const std::pair<const char*, double> fields[] = {{"fee_pct", fee_pct},
                                                   {"slippage_pct", slippage_pct}};
  for (const auto& [name, v] : fields)
    if (!std::isfinite(v) || v < 0)
      throw InvalidParameter(std::string("invalid ") + name + " = " + fmt(v) +
                                 ": must be finite and >= 0 (percent per side)",
                             "rule: finite number >= 0");
}

void TradeRule::validate() const {
  const std::pair<const char*, double> fields[] = {{"tp_sigma", tp_sigma},
                                                   {"sl_sigma", sl_sigma}};
  for (const auto& [name, v] : fields)
    if (!std::isfinite(v) || !(v > 0))
      throw InvalidParameter(std::string("invalid ") + name + " = " + fmt(v) +
                                 ": must be finite and > 0 (multiple of sigma)",
                             "rule: finite number > 0");
}

double net_pnl_pct(Side side, double entry, double exit, const TradeCosts& costs) {
  costs.validate();
  check_positive_price("entry", entry);
  check_positive_price("exit", exit);
  return gross_pct(side, entry, exit) - round_trip_pct(costs);
}

void validate_levels(Side side, double entry, double tp, double sl) {
  check_positive_price("entry", entry);
  check_positive_price("tp", tp);
  check_positive_price("sl", sl);
  const bool is_long = side == Side::Long;
  const std::string ctx = std::string(" for a ") + side_name(side) + " trade with entry = " +
                          fmt(entry);
  if (is_long ? !(tp > entry) : !(tp < entry))
    throw InvalidParameter("invalid tp = " + fmt(tp) + ctx + ": must be " +
                               (is_long ? "above" : "below") + " the entry",
                           is_long ? "rule: long tp > entry > sl" : "rule: short tp < entry < sl");
  if (is_long ? !(sl < entry) : !(sl > entry))
    throw InvalidParameter("invalid sl = " + fmt(sl) + ctx + ": must be " +
                               (is_long ? "below" : "above") + " the entry",
                           is_long ? "rule: long tp > entry > sl" : "rule: short tp < entry < sl");
}

TradeState open_trade_at_levels(Side side, std::int64_t opened_at_minute, double entry_close,
                                double tp, double sl, int horizon) {
  check_horizon(horizon);
  validate_levels(side, entry_close, tp, sl);
  TradeState t;
  t.side = side;
  t.opened_at = opened_at_minute;
  t.horizon_minutes = horizon;
  t.entry = entry_close;
  t.tp = tp;
  t.sl = sl;
  t.current_price = entry_close;
  t.pnl_pct = kNaN;
  t.highest_profit_pct = kNaN;
  t.lowest_loss_pct = kNaN;
  t.profitable_minutes = 0;
  t.total_minutes = 0;
  t.active = true;
  t.completed_at = 0;
  t.exit_reason.clear();
  t.exit_price = kNaN;
  return t;
}

TradeState open_trade(Side side, std::int64_t opened_at_minute, double entry_close,
                      double sigma_pct, int horizon, const TradeRule& rule) {
  check_positive_price("entry_close", entry_close);
  if (!std::isfinite(sigma_pct) || !(sigma_pct > 0))
    throw InvalidParameter("invalid sigma_pct = " + fmt(sigma_pct) + ": must be finite and > 0",
                           "rule: finite volatility in percent > 0");
  check_horizon(horizon);
  rule.validate();
  // d: the expected move over the horizon as a fraction of the entry (random-walk scaling).
  const double d = sigma_pct / 100.0 * std::sqrt(static_cast<double>(horizon));
  const double sign = side == Side::Long ? 1.0 : -1.0;  // +1: TP above / SL below the entry
  const double tp = entry_close * (1.0 + sign * rule.tp_sigma * d);
  const double sl = entry_close * (1.0 - sign * rule.sl_sigma * d);
  return open_trade_at_levels(side, opened_at_minute, entry_close, tp, sl, horizon);
}

void apply_bar(TradeState& t, const Bar& bar, const TradeCosts& costs) {
  if (!t.active) return;
  // Bars at or before the last applied minute (opened_at + total_minutes) are ignored.
  if (bar.ts_minutes <= t.opened_at) return;
  // bar.ts > opened_at here, so the unsigned difference is the exact (positive) distance.
  const std::uint64_t elapsed_u =
      static_cast<std::uint64_t>(bar.ts_minutes) - static_cast<std::uint64_t>(t.opened_at);
  if (t.total_minutes >= 0 && elapsed_u <= static_cast<std::uint64_t>(t.total_minutes)) return;

  costs.validate();
  check_bar(bar);
  check_horizon(t.horizon_minutes);
  validate_levels(t.side, t.entry, t.tp, t.sl);
  if (t.total_minutes < 0)
    throw InvalidParameter("invalid trade state: total_minutes = " +
                           std::to_string(t.total_minutes) + " must be >= 0");
  if (elapsed_u > static_cast<std::uint64_t>(INT_MAX))
    throw InvalidParameter("bar at minute " + std::to_string(bar.ts_minutes) + " is " +
                           std::to_string(elapsed_u) + " minutes after the entry at minute " +
                           std::to_string(t.opened_at) + ": at most " + std::to_string(INT_MAX) +
                           " minutes can be followed");
  const int elapsed = static_cast<int>(elapsed_u);
  const int step = elapsed - t.total_minutes;  // minutes since the previous applied bar (>= 1)

  const bool is_long = t.side == Side::Long;
  const bool tp_hit = is_long ? bar.high >= t.tp : bar.low <= t.tp;
  const bool sl_hit = is_long ? bar.low <= t.sl : bar.high >= t.sl;

  const char* reason = nullptr;
  double exit = kNaN;
  if (sl_hit) {  // also when both are hit in this bar: assume the worse outcome
    reason = "sl";
    exit = t.sl;
  } else if (tp_hit) {
    reason = "tp";
    exit = t.tp;
  } else if (elapsed >= t.horizon_minutes) {
    reason = "expiry";
    exit = bar.close;
  }

  t.total_minutes = elapsed;
  const double mark_price = reason ? exit : bar.close;
  t.current_price = mark_price;
  record_mark(t, gross_pct(t.side, t.entry, mark_price) - round_trip_pct(costs));
  if (t.pnl_pct > 0) t.profitable_minutes += step;
  if (reason) {
    t.active = false;
    t.completed_at = bar.ts_minutes;
    t.exit_reason = reason;
    t.exit_price = exit;
  }
}

TradeState simulate(Side side, std::int64_t opened_at_minute, double entry_close, double sigma_pct,
                    int horizon, const TradeRule& rule, const std::vector<Bar>& bars_after_entry,
                    const TradeCosts& costs) {
  costs.validate();
  check_increasing(bars_after_entry);
  TradeState t = open_trade(side, opened_at_minute, entry_close, sigma_pct, horizon, rule);
  for (const Bar& b : bars_after_entry) {
    if (!t.active) break;
    apply_bar(t, b, costs);
  }
  return t;
}

ClosedTrade closed_trade(const TradeState& t) {
  if (t.active)
    throw InvalidParameter("trade opened at minute " + std::to_string(t.opened_at) +
                           " is still active: only completed trades have a final P&L");
  return ClosedTrade{t.opened_at, t.completed_at, t.pnl_pct};
}

// ---- Performance ---------------------------------------------------------------------------

Performance performance(const std::vector<ClosedTrade>& trades, std::int64_t period_start,
                        std::int64_t period_end, double periods_per_year) {
  if (!(period_end > period_start))
    throw InvalidParameter("invalid period: period_end = " + std::to_string(period_end) +
                               " must be after period_start = " + std::to_string(period_start),
                           "rule: period_start < period_end");
  if (!std::isfinite(periods_per_year) || !(periods_per_year > 0))
    throw InvalidParameter("invalid periods_per_year = " + fmt(periods_per_year) +
                               ": must be finite and > 0",
                           "rule: timestamp units per year, e.g. 525600 for minutes");
  if (trades.size() > static_cast<std::size_t>(INT_MAX))
    throw InvalidParameter("too many trades: " + std::to_string(trades.size()));
  for (std::size_t i = 0; i < trades.size(); ++i) {
    const ClosedTrade& c = trades[i];
    const std::string el = "trade " + std::to_string(i + 1);
    if (!std::isfinite(c.pnl_pct))
      throw InvalidParameter("invalid " + el + ": pnl_pct = " + fmt(c.pnl_pct) +
                             " is not finite");
    if (c.closed_at < c.opened_at)
      throw InvalidParameter("invalid " + el + ": closed_at = " + std::to_string(c.closed_at) +
                                 " is before opened_at = " + std::to_string(c.opened_at),
                             "rule: closed_at >= opened_at");
  }

  const int n = static_cast<int>(trades.size());
  // Period length as a double; the subtraction is done unsigned so it cannot overflow.
  const double period_minutes = static_cast<double>(static_cast<std::uint64_t>(period_end) -
                                                    static_cast<std::uint64_t>(period_start));
  const double years = period_minutes / periods_per_year;

  Performance p;
  p.trades = n;
  p.trades_per_year = n / years;
  p.win_rate = p.avg_pnl = p.median_pnl = p.profit_factor = p.sharpe = p.sortino = kNaN;
  p.max_drawdown_pct = 0;
  p.total_return_pct = 0;
  p.exposure = 0;

  // Exposure: union of the trades' [opened_at, closed_at) clipped to the period.
  {
    std::vector<std::pair<std::int64_t, std::int64_t>> iv;
    iv.reserve(trades.size());
    for (const ClosedTrade& c : trades) {
      const std::int64_t a = std::max(c.opened_at, period_start);
      const std::int64_t b = std::min(c.closed_at, period_end);
      if (a < b) iv.emplace_back(a, b);
    }
    std::sort(iv.begin(), iv.end());
    double covered = 0;
    std::int64_t cur_a = 0, cur_b = 0;
    bool open = false;
    for (const auto& [a, b] : iv) {
      if (open && a <= cur_b) {
        cur_b = std::max(cur_b, b);
      } else {
        if (open) covered += static_cast<double>(cur_b - cur_a);
        cur_a = a;
        cur_b = b;
        open = true;
      }
    }
    if (open) covered += static_cast<double>(cur_b - cur_a);
    p.exposure = covered / period_minutes;
  }

  if (n == 0) return p;

  // Per-trade figures in percent.
  double sum = 0, gross_win = 0, gross_loss = 0;
  int wins = 0;
  for (const ClosedTrade& c : trades) {
    sum += c.pnl_pct;
    if (c.pnl_pct > 0) {
      ++wins;
      gross_win += c.pnl_pct;
    } else if (c.pnl_pct < 0) {
      gross_loss += -c.pnl_pct;
    }
  }
  p.win_rate = static_cast<double>(wins) / n;
  p.avg_pnl = sum / n;
  {
    std::vector<double> s;
    s.reserve(trades.size());
    for (const ClosedTrade& c : trades) s.push_back(c.pnl_pct);
    std::sort(s.begin(), s.end());
    const std::size_t h = s.size() / 2;
    p.median_pnl = s.size() % 2 ? s[h] : (s[h - 1] + s[h]) / 2.0;
  }
  if (gross_loss > 0)
    p.profit_factor = gross_win / gross_loss;
  else
    p.profit_factor = gross_win > 0 ? kInf : kNaN;  // no losses: +inf, or 0/0 if all flat

  // Returns as fractions; two-pass mean and sample standard deviation.
  double mean = 0;
  for (const ClosedTrade& c : trades) mean += c.pnl_pct / 100.0;
  mean /= n;
  const double ann = std::sqrt(p.trades_per_year);
  if (n >= 2) {
    double ss = 0;
    for (const ClosedTrade& c : trades) {
      const double d = c.pnl_pct / 100.0 - mean;
      ss += d * d;
    }
    const double sd = std::sqrt(ss / (n - 1));
    if (sd > 0) p.sharpe = mean / sd * ann;
  }
  double down = 0;
  for (const ClosedTrade& c : trades) {
    const double r = std::min(c.pnl_pct / 100.0, 0.0);
    down += r * r;
  }
  const double dd = std::sqrt(down / n);
  if (dd > 0)
    p.sortino = mean / dd * ann;
  else
    p.sortino = mean > 0 ? kInf : kNaN;

  // Compounded equity curve, floored at 0 (ruin), and its largest relative drawdown.
  double equity = 1.0, peak = 1.0, max_dd = 0.0;
  for (const ClosedTrade& c : trades) {
    equity = std::max(0.0, equity * (1.0 + c.pnl_pct / 100.0));
    peak = std::max(peak, equity);
    max_dd = std::max(max_dd, (peak - equity) / peak);
  }
  p.max_drawdown_pct = 100.0 * max_dd;
  p.total_return_pct = 100.0 * (equity - 1.0);
  return p;
}

// ---- Baselines -------------------------------------------------------------------------------

double buy_and_hold(const std::vector<Bar>& bars, const TradeCosts& costs) {
  costs.validate();
  if (bars.empty()) throw InvalidParameter("buy_and_hold needs at least one bar, got none");
  check_positive_price("first bar close", bars.front().close);
  check_positive_price("last bar close", bars.back().close);
  return gross_pct(Side::Long, bars.front().close, bars.back().close) - round_trip_pct(costs);
}

std::vector<ClosedTrade> random_entry(const std::vector<Bar>& bars, int n_trades, int horizon,
                                      std::uint64_t seed, const TradeCosts& costs) {
  if (n_trades < 0 || n_trades > kMaxRandomTrades)
    throw InvalidParameter("invalid n_trades = " + std::to_string(n_trades) +
                               ": must be between 0 and " + std::to_string(kMaxRandomTrades),
                           "rule: integer between 0 and 1000000");
  check_horizon(horizon);
  costs.validate();
  check_increasing(bars);
  for (std::size_t i = 0; i < bars.size(); ++i)
    check_positive_price("bar " + std::to_string(i + 1) + " close", bars[i].close);

  std::vector<ClosedTrade> out;
  if (n_trades == 0) return out;

  // Eligible entries: bar i has a bar at or after ts_i + horizon. Since the timestamps increase,
  // they form the prefix 0..m-1 (ts_i <= last ts - horizon, computed without overflow).
  std::size_t m = 0;
  if (!bars.empty()) {
    const std::int64_t last = bars.back().ts_minutes;
    while (m < bars.size() &&
           static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(bars[m].ts_minutes) >=
               static_cast<std::uint64_t>(horizon))
      ++m;
  }
  if (m == 0)
    throw InvalidParameter("random_entry: no bar has a bar " + std::to_string(horizon) +
                           " minutes later (" + std::to_string(bars.size()) +
                           " bars); the bars must span more than the horizon");

  std::mt19937_64 rng(seed);
  const std::uint64_t mm = static_cast<std::uint64_t>(m);
  const std::uint64_t threshold = (0 - mm) % mm;  // 2^64 mod m
  struct Draw {
    std::size_t entry;
    Side side;
  };
  std::vector<Draw> draws;
  draws.reserve(static_cast<std::size_t>(n_trades));
  for (int k = 0; k < n_trades; ++k) {
    std::uint64_t x;
    do x = rng();
    while (x < threshold);
    const std::size_t i = static_cast<std::size_t>(x % mm);
    const Side side = (rng() >> 63) ? Side::Short : Side::Long;
    draws.push_back({i, side});
  }
  std::stable_sort(draws.begin(), draws.end(),
                   [](const Draw& a, const Draw& b) { return a.entry < b.entry; });

  out.reserve(draws.size());
  for (const Draw& d : draws) {
    const Bar& e = bars[d.entry];
    // First bar at or after the expiry minute (exists for every eligible entry).
    const std::int64_t expiry = e.ts_minutes + horizon;
    const auto it = std::lower_bound(
        bars.begin() + static_cast<std::ptrdiff_t>(d.entry) + 1, bars.end(), expiry,
        [](const Bar& b, std::int64_t t) { return b.ts_minutes < t; });
    out.push_back(ClosedTrade{e.ts_minutes, it->ts_minutes,
                              gross_pct(d.side, e.close, it->close) - round_trip_pct(costs)});
  }
  return out;
}

// ---- Forecast quality --------------------------------------------------------------------------

Interval wilson_interval(int successes, int n, double z) {
  if (n < 0 || successes < 0 || successes > n)
    throw InvalidParameter("invalid wilson_interval counts: successes = " +
                               std::to_string(successes) + ", n = " + std::to_string(n) +
                               ": need 0 <= successes <= n",
                           "rule: 0 <= successes <= n");
  if (!std::isfinite(z) || !(z > 0))
    throw InvalidParameter("invalid z = " + fmt(z) + ": must be finite and > 0");
  if (n == 0) return Interval{kNaN, kNaN};
  const double nn = n, p = successes / nn, z2 = z * z;
  const double denom = 1.0 + z2 / nn;
  const double center = (p + z2 / (2.0 * nn)) / denom;
  const double half = z / denom * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
  return Interval{std::max(0.0, center - half), std::min(1.0, center + half)};
}

DirectionalAccuracy directional_accuracy(const std::vector<double>& preds,
                                         const std::vector<double>& actuals) {
  check_same_length("preds", preds.size(), "actuals", actuals.size());
  check_finite_elements("preds", preds);
  check_finite_elements("actuals", actuals);
  DirectionalAccuracy r{0, 0, kNaN, kNaN, kNaN};
  for (std::size_t i = 0; i < preds.size(); ++i) {
    if (actuals[i] == 0) continue;
    ++r.n;
    if ((preds[i] > 0 && actuals[i] > 0) || (preds[i] < 0 && actuals[i] < 0)) ++r.hits;
  }
  if (r.n == 0) return r;
  r.accuracy = static_cast<double>(r.hits) / r.n;
  const Interval w = wilson_interval(r.hits, r.n);
  r.wilson_low = w.low;
  r.wilson_high = w.high;
  return r;
}

double rmse(const std::vector<double>& preds, const std::vector<double>& actuals) {
  check_same_length("preds", preds.size(), "actuals", actuals.size());
  check_finite_elements("preds", preds);
  check_finite_elements("actuals", actuals);
  if (preds.empty()) return kNaN;
  double s = 0;
  for (std::size_t i = 0; i < preds.size(); ++i) {
    const double e = preds[i] - actuals[i];
    s += e * e;
  }
  return std::sqrt(s / static_cast<double>(preds.size()));
}

double mae(const std::vector<double>& preds, const std::vector<double>& actuals) {
  check_same_length("preds", preds.size(), "actuals", actuals.size());
  check_finite_elements("preds", preds);
  check_finite_elements("actuals", actuals);
  if (preds.empty()) return kNaN;
  double s = 0;
  for (std::size_t i = 0; i < preds.size(); ++i) s += std::fabs(preds[i] - actuals[i]);
  return s / static_cast<double>(preds.size());
}

std::vector<ReliabilityBucket> reliability(const std::vector<double>& confidences,
                                           const std::vector<bool>& hits) {
  check_same_length("confidences", confidences.size(), "hits", hits.size());
  static const double kEdges[] = {0, 50, 60, 70, 80, 90, 100};
  constexpr int kBuckets = 6;
  std::vector<ReliabilityBucket> out;
  std::vector<double> conf_sum(kBuckets, 0.0);
  std::vector<int> hit_count(kBuckets, 0);
  for (int b = 0; b < kBuckets; ++b) out.push_back({kEdges[b], kEdges[b + 1], 0, kNaN, kNaN});
  for (std::size_t i = 0; i < confidences.size(); ++i) {
    const double c = confidences[i];
    if (!(c >= 0 && c <= 100))  // also rejects NaN
      throw InvalidParameter("invalid confidences[" + std::to_string(i + 1) + "] = " + fmt(c) +
                                 ": must be between 0 and 100",
                             "rule: stated confidence in percent, 0-100");
    int b = 0;  // compare with the edges themselves: no rounding at the bucket boundaries
    while (b < kBuckets - 1 && c >= kEdges[b + 1]) ++b;
    ++out[b].count;
    conf_sum[b] += c;
    if (hits[i]) ++hit_count[b];
  }
  for (int b = 0; b < kBuckets; ++b) {
    if (out[b].count == 0) continue;
    out[b].mean_confidence = conf_sum[b] / out[b].count;
    out[b].hit_rate = static_cast<double>(hit_count[b]) / out[b].count;
  }
  return out;
}

}  // namespace cml
