// cryptoml trade simulation and performance analytics (issue 7): trades opened from forecasts and
// followed bar by bar on 1-minute bars, metrics over closed trades, naive baselines and forecast
// quality. Pure C++17: no PostgreSQL header may be included here. Everything is deterministic.
//
// Conventions.
//
//   Time. Timestamps are whole minutes since the epoch (int64). A bar is identified by its
//     ts_minutes; bars may have gaps (missing minutes).
//
//   Percentages. fee_pct, slippage_pct, sigma_pct and every *_pct result are in percent
//     (0.1 means 0.1 %). Returns used by the statistics (Sharpe, Sortino, equity) are fractions
//     r = pnl_pct / 100.
//
//   P&L, net of costs. For entry price E and exit (or mark) price X:
//       long : net_pct = 100 * (X / E - 1) - 2 * (fee_pct + slippage_pct)
//       short: net_pct = 100 * (1 - X / E) - 2 * (fee_pct + slippage_pct)
//     i.e. the gross return of the side minus a round trip of costs (fee + slippage on the entry
//     and on the exit side, both charged as percent of the entry notional). An open trade is marked
//     to market with the same formula at the bar's close, as if it were closed there.
//
//   TP/SL levels (open_trade). With d = sigma_pct / 100 * sqrt(horizon_minutes):
//       long : tp = E * (1 + tp_sigma * d), sl = E * (1 - sl_sigma * d)
//       short: tp = E * (1 - tp_sigma * d), sl = E * (1 + sl_sigma * d)
//
//   Following a trade (apply_bar), one bar at a time:
//     - Bars at or before the last minute already applied (initially opened_at) are ignored, so
//       re-applying a bar is a no-op; bars after the trade completed are ignored too.
//     - total_minutes = bar.ts - opened_at. Gaps count as elapsed minutes: when bars are missing,
//       the trade simply continues at the next bar that arrives.
//     - Hits are decided by the bar's high and low only. Long: TP hit when high >= tp, SL hit when
//       low <= sl. Short: TP hit when low <= tp, SL hit when high >= sl.
//     - Both TP and SL hit in the same bar: the worse outcome is assumed, the SL.
//     - A hit exits AT THE LEVEL PRICE (tp or sl), even when the bar opened beyond it (no gap-fill
//       modelling).
//     - Expiry: if neither level is hit and bar.ts >= opened_at + horizon_minutes, the trade exits
//       at that bar's close with reason "expiry". A bar exactly at the expiry minute counts; when a
//       gap skips past the expiry minute, the first bar after it closes the trade at its close
//       (its high/low are still checked against TP/SL first, as for every bar).
//     - Marks: while the trade stays open, current_price = close and pnl_pct = net_pct(close).
//       On the bar that closes it, current_price = exit_price and pnl_pct = net_pct(exit_price)
//       (that bar's close is not used as a mark).
//     - highest_profit_pct / lowest_loss_pct = max / min of pnl_pct over the marks seen (one per
//       applied bar: the close marks and the exit). NaN until the first bar is applied (costs are
//       only known from apply_bar).
//     - profitable_minutes += (bar.ts - previous applied minute) when the bar's mark (pnl_pct after
//       the bar) is > 0. The previous applied minute is opened_at for the first bar, so a gap is
//       credited to the bar that ends it.
//
//   Performance (performance()). Over closed trades, in the order given:
//     - win = net pnl > 0; win_rate = wins / trades.
//     - profit_factor = sum of winning pnl / |sum of losing pnl|; +Infinity when there are wins
//       and no losses; 0 when there are losses and no wins; NaN when there are no trades or every
//       trade is exactly 0 (0/0).
//     - Sharpe: per-trade returns r_i = pnl_i / 100, annualized by the number of trades per year
//       in the period, risk-free rate 0:
//           years           = (period_end - period_start) / periods_per_year
//           trades_per_year = trades / years
//           sharpe          = mean(r) / std(r) * sqrt(trades_per_year), std with n - 1.
//       NaN with fewer than 2 trades or when std(r) == 0.
//     - Sortino: mean(r) / dd * sqrt(trades_per_year), downside deviation
//       dd = sqrt(sum_i min(r_i, 0)^2 / n) over ALL n trades. NaN with no trades; when dd == 0
//       (no losing trade) +Infinity if mean(r) > 0, NaN otherwise.
//     - Equity curve: e_0 = 1, e_i = e_{i-1} * (1 + r_i) (compounding, in the given order; sort by
//       closed_at beforehand for a chronological curve). A trade losing 100 % or more ruins the
//       account: equity is floored at 0 and stays there. max_drawdown_pct = 100 * max_i
//       (peak_i - e_i) / peak_i where peak_i = max(e_0..e_i); total_return_pct = 100 * (e_n - 1).
//       Both are 0 with no trades (a flat curve).
//     - exposure = minutes of [period_start, period_end) covered by at least one trade's
//       [opened_at, closed_at) (overlaps counted once) / (period_end - period_start).
//
// Errors: cml::InvalidParameter for bad parameters or inputs; the message names the parameter (or
// element), the offending value and the rule.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "errors.hpp"

namespace cml {

// Minutes in a 365-day year: periods_per_year for minute timestamps on a 24/7 market.
constexpr double kMinutesPerYear = 525600.0;

// z of a two-sided 95 % normal interval (Wilson intervals).
constexpr double kZ95 = 1.959963984540054;

// Trading costs, per side, in percent of the entry notional. A round trip costs
// 2 * (fee_pct + slippage_pct) percentage points.
struct TradeCosts {
  double fee_pct = 0.1;
  double slippage_pct = 0.05;
  // Throws InvalidParameter naming the field, its value and the rule: both finite and >= 0.
  void validate() const;
};

// TP/SL distances as multiples of sigma_pct * sqrt(horizon) (see the header comment).
struct TradeRule {
  double tp_sigma = 2.0;
  double sl_sigma = 1.0;
  // Throws InvalidParameter naming the field, its value and the rule: both finite and > 0.
  void validate() const;
};

enum class Side { Long, Short };

// One OHLC bar. Prices must be finite and > 0 with high >= low (checked by apply_bar).
struct Bar {
  std::int64_t ts_minutes;  // minutes since the epoch
  double open, high, low, close;
};

// A simulated trade and everything followed so far. Maps onto a tradeSimulations row.
struct TradeState {
  Side side;
  std::int64_t opened_at;    // minute of the entry bar (its close is the entry price)
  int horizon_minutes;       // the trade expires horizon_minutes after opened_at
  double entry, tp, sl;      // entry price, take-profit and stop-loss levels
  double current_price;      // latest close seen (exit price once completed); entry before any bar
  double pnl_pct;            // latest mark net of round-trip costs (exit P&L once completed);
                             // NaN before any bar
  double highest_profit_pct; // max of the marks seen; NaN before any bar
  double lowest_loss_pct;    // min of the marks seen; NaN before any bar
  int profitable_minutes;    // minutes credited to bars whose mark was > 0
  int total_minutes;         // minutes from opened_at to the last applied bar
  bool active;               // true while open
  std::int64_t completed_at; // minute of the exit bar; 0 while active
  std::string exit_reason;   // "tp", "sl", "expiry"; "" while active
  double exit_price;         // tp, sl or the expiry bar's close; NaN while active
};

// A completed trade as seen by the performance metrics.
struct ClosedTrade {
  std::int64_t opened_at;  // entry minute
  std::int64_t closed_at;  // exit minute (>= opened_at)
  double pnl_pct;          // net P&L in percent (finite)
};

// net_pct of the header comment: P&L in percent of a trade entered at `entry` and exited (or
// marked) at `exit`, after a round trip of costs. Throws InvalidParameter for entry or exit not
// finite and > 0, or invalid costs.
double net_pnl_pct(Side side, double entry, double exit, const TradeCosts& costs);

// Throws InvalidParameter unless entry, tp and sl are finite and > 0 and the levels are on their
// side of the entry: long tp > entry > sl, short tp < entry < sl. The message names the level,
// its value, the entry and the rule. Used for computed and user-given levels alike.
void validate_levels(Side side, double entry, double tp, double sl);

// Opens a trade at the close `entry_close` of the bar at `opened_at_minute`, with TP/SL from
// sigma_pct (the forecast's per-minute volatility, in percent) and the rule (header comment).
// Throws InvalidParameter for entry_close not finite or <= 0, sigma_pct not finite or <= 0,
// horizon <= 0, an invalid rule, or levels that fail validate_levels (e.g. a long SL at or below
// 0 when sl_sigma * sigma_pct * sqrt(horizon) >= 100).
TradeState open_trade(Side side, std::int64_t opened_at_minute, double entry_close,
                      double sigma_pct, int horizon, const TradeRule& rule);

// Opens a trade with user-given TP/SL levels (checked by validate_levels); horizon > 0.
TradeState open_trade_at_levels(Side side, std::int64_t opened_at_minute, double entry_close,
                                double tp, double sl, int horizon);

// Follows the trade over one bar (header comment: "Following a trade"). A no-op for an inactive
// trade or a bar at or before the last applied minute. Throws InvalidParameter (state unchanged)
// for invalid costs, a bar with a non-finite or non-positive price or high < low, an inconsistent
// state (bad entry/levels/horizon, total_minutes < 0), or more than 2^31-1 minutes between
// opened_at and the bar.
void apply_bar(TradeState& trade, const Bar& bar, const TradeCosts& costs);

// open_trade, then apply_bar over `bars_after_entry` until the trade completes (later bars are
// ignored). Bars at or before opened_at_minute are skipped. When the bars run out first the
// returned trade is still active. Throws InvalidParameter for the reasons of open_trade and
// apply_bar, and when the bars' timestamps are not strictly increasing.
TradeState simulate(Side side, std::int64_t opened_at_minute, double entry_close, double sigma_pct,
                    int horizon, const TradeRule& rule, const std::vector<Bar>& bars_after_entry,
                    const TradeCosts& costs);

// The ClosedTrade of a completed trade; throws InvalidParameter for an active one.
ClosedTrade closed_trade(const TradeState& trade);

// ---- Performance ---------------------------------------------------------------------------
// See the header comment for the exact definitions.
struct Performance {
  int trades;               // number of trades
  double win_rate;          // fraction of trades with pnl > 0; NaN with no trades
  double avg_pnl;           // mean net pnl, percent; NaN with no trades
  double median_pnl;        // median net pnl, percent (mean of the middle two for even n);
                            // NaN with no trades
  double profit_factor;     // gross profit / |gross loss|; +Infinity with wins and no losses;
                            // NaN with no trades or all trades exactly 0
  double sharpe;            // annualized per-trade Sharpe (risk-free 0); NaN with < 2 trades or
                            // zero spread
  double sortino;           // annualized per-trade Sortino; NaN with no trades
  double max_drawdown_pct;  // largest peak-to-trough fall of the compounded equity, percent
  double exposure;          // fraction of the period's minutes with at least one open trade
  double total_return_pct;  // compounded return of all trades, percent
  double trades_per_year;   // trades / period length in years (the Sharpe/Sortino annualization)
};

// period_start < period_end (minutes); periods_per_year = timestamp units per year (use
// kMinutesPerYear for minute timestamps), finite and > 0. Each trade needs a finite pnl_pct and
// closed_at >= opened_at; trades need not lie inside the period (exposure only counts the part
// inside). Throws InvalidParameter otherwise (naming the element, 1-based).
Performance performance(const std::vector<ClosedTrade>& trades, std::int64_t period_start,
                        std::int64_t period_end, double periods_per_year);

// ---- Baselines -------------------------------------------------------------------------------

// Net P&L in percent of buying the first bar's close and selling the last bar's close, one round
// trip of costs: 100 * (last.close / first.close - 1) - 2 * (fee_pct + slippage_pct).
// Throws InvalidParameter for no bars, a close not finite and > 0, or invalid costs.
double buy_and_hold(const std::vector<Bar>& bars, const TradeCosts& costs);

// n_trades random trades on the same bars, exiting at expiry only (no TP/SL): the entry is the
// close of bar i, the exit is the close of the first bar j with ts_j >= ts_i + horizon (as in
// apply_bar's gap rule), pnl = net_pnl_pct. Overlapping trades are allowed.
// Deterministic, and the same on every platform: rng = std::mt19937_64(seed); the eligible
// entries are bars 0..m-1 (the bars i for which such a j exists); for each trade:
//   index: draw x = rng() until x >= (2^64 mod m), then i = x mod m (unbiased);
//   side : the top bit of the next rng() draw, 0 = long, 1 = short.
// The trades are returned sorted by entry minute (ties in draw order).
// Throws InvalidParameter for n_trades < 0 or > 1000000, horizon <= 0, invalid costs, bars not
// strictly increasing in time or with a close not finite and > 0, and for n_trades > 0 when no
// bar is eligible (the bars span less than the horizon).
std::vector<ClosedTrade> random_entry(const std::vector<Bar>& bars, int n_trades, int horizon,
                                      std::uint64_t seed, const TradeCosts& costs);

// ---- Forecast quality --------------------------------------------------------------------------

struct Interval {
  double low, high;
};

// Wilson score interval of a binomial proportion successes / n at normal quantile z:
//   center = (p + z^2/(2n)) / (1 + z^2/n), half = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/(4n^2)),
// clamped to [0, 1]. {NaN, NaN} for n == 0. Throws InvalidParameter unless
// 0 <= successes <= n and z is finite and > 0.
Interval wilson_interval(int successes, int n, double z = kZ95);

struct DirectionalAccuracy {
  int n;              // pairs counted (actual != 0)
  int hits;           // pairs whose predicted sign equals the actual sign
  double accuracy;    // hits / n; NaN when n == 0
  double wilson_low;  // 95 % Wilson interval of the accuracy; NaN when n == 0
  double wilson_high;
};

// Sign agreement of predicted and actual changes (or returns). Pairs with actual == 0 are skipped;
// a prediction of 0 has no direction and counts as a miss. Throws InvalidParameter for arrays of
// unequal length or a non-finite element (the message names the array and the 1-based index).
DirectionalAccuracy directional_accuracy(const std::vector<double>& preds,
                                         const std::vector<double>& actuals);

// Root mean squared error and mean absolute error of preds against actuals. NaN for empty arrays.
// Same input errors as directional_accuracy.
double rmse(const std::vector<double>& preds, const std::vector<double>& actuals);
double mae(const std::vector<double>& preds, const std::vector<double>& actuals);

// One bucket of a reliability (calibration) table.
struct ReliabilityBucket {
  double lower, upper;     // confidence range [lower, upper); the last one, [90, 100], has 100
  int count;               // forecasts whose stated confidence falls in the range
  double mean_confidence;  // mean stated confidence, 0-100; NaN when count == 0
  double hit_rate;         // observed fraction of hits, 0-1; NaN when count == 0
};

// Always six buckets, in order: [0,50), [50,60), [60,70), [70,80), [80,90), [90,100].
// A well-calibrated model has hit_rate close to mean_confidence / 100 in every bucket.
// Throws InvalidParameter for arrays of unequal length or a confidence outside [0, 100] or NaN.
std::vector<ReliabilityBucket> reliability(const std::vector<double>& confidences,
                                           const std::vector<bool>& hits);

}  // namespace cml
