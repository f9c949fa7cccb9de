// Unit tests for the trade simulation and performance analytics (src/core/trading.hpp).
//
// Unless a test says otherwise the costs are the defaults, fee 0.1 % + slippage 0.05 % per side,
// so a round trip costs 2 * (0.1 + 0.05) = 0.3 percentage points, and the trade is opened at
// minute 1000 at 100 with sigma_pct 0.5 and horizon 4: d = 0.5 / 100 * sqrt(4) = 0.01, so with
// the default rule (tp 2 sigma, sl 1 sigma) a long has tp = 102, sl = 99 and a short tp = 98,
// sl = 101. Expiry is minute 1004.
#include "trading.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

using cml::Bar;
using cml::ClosedTrade;
using cml::Performance;
using cml::Side;
using cml::TradeCosts;
using cml::TradeRule;
using cml::TradeState;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kTol = 1e-9;

constexpr std::int64_t kOpen = 1000;  // entry minute of the hand-built trades

Bar bar(std::int64_t ts, double o, double h, double l, double c) { return Bar{ts, o, h, l, c}; }

TradeState open_long() { return cml::open_trade(Side::Long, kOpen, 100.0, 0.5, 4, TradeRule{}); }
TradeState open_short() {
  return cml::open_trade(Side::Short, kOpen, 100.0, 0.5, 4, TradeRule{});
}

// Expect an InvalidParameter whose message contains every fragment.
void expect_invalid(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected InvalidParameter";
  } catch (const cml::InvalidParameter& e) {
    const std::string m = e.what();
    for (const auto& frag : fragments)
      EXPECT_NE(m.find(frag), std::string::npos) << "message \"" << m << "\" lacks \"" << frag
                                                 << "\"";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

// Field-by-field equality of two trade states (NaN == NaN).
void expect_same_state(const TradeState& a, const TradeState& b) {
  auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  EXPECT_EQ(a.side, b.side);
  EXPECT_EQ(a.opened_at, b.opened_at);
  EXPECT_EQ(a.horizon_minutes, b.horizon_minutes);
  EXPECT_TRUE(same(a.entry, b.entry));
  EXPECT_TRUE(same(a.tp, b.tp));
  EXPECT_TRUE(same(a.sl, b.sl));
  EXPECT_TRUE(same(a.current_price, b.current_price));
  EXPECT_TRUE(same(a.pnl_pct, b.pnl_pct));
  EXPECT_TRUE(same(a.highest_profit_pct, b.highest_profit_pct));
  EXPECT_TRUE(same(a.lowest_loss_pct, b.lowest_loss_pct));
  EXPECT_EQ(a.profitable_minutes, b.profitable_minutes);
  EXPECT_EQ(a.total_minutes, b.total_minutes);
  EXPECT_EQ(a.active, b.active);
  EXPECT_EQ(a.completed_at, b.completed_at);
  EXPECT_EQ(a.exit_reason, b.exit_reason);
  EXPECT_TRUE(same(a.exit_price, b.exit_price));
}

}  // namespace

// ============================ opening a trade ===============================================

TEST(Trading, OpenTradeLevelsLongAndShort) {
  const TradeState l = open_long();
  EXPECT_EQ(l.side, Side::Long);
  EXPECT_NEAR(l.tp, 102.0, kTol);  // 100 * (1 + 2 * 0.01)
  EXPECT_NEAR(l.sl, 99.0, kTol);   // 100 * (1 - 1 * 0.01)
  const TradeState s = open_short();
  EXPECT_NEAR(s.tp, 98.0, kTol);   // 100 * (1 - 2 * 0.01)
  EXPECT_NEAR(s.sl, 101.0, kTol);  // 100 * (1 + 1 * 0.01)

  // Custom rule: sigma 1 %, horizon 9 -> d = 0.01 * 3 = 0.03; tp 3 sigma, sl 1.5 sigma.
  const TradeState c = cml::open_trade(Side::Long, 5, 100.0, 1.0, 9, TradeRule{3.0, 1.5});
  EXPECT_NEAR(c.tp, 109.0, kTol);  // 100 * (1 + 3 * 0.03)
  EXPECT_NEAR(c.sl, 95.5, kTol);   // 100 * (1 - 1.5 * 0.03)

  // Fresh state: nothing followed yet.
  EXPECT_TRUE(l.active);
  EXPECT_EQ(l.opened_at, kOpen);
  EXPECT_EQ(l.horizon_minutes, 4);
  EXPECT_EQ(l.entry, 100.0);
  EXPECT_EQ(l.current_price, 100.0);
  EXPECT_TRUE(std::isnan(l.pnl_pct));
  EXPECT_TRUE(std::isnan(l.highest_profit_pct));
  EXPECT_TRUE(std::isnan(l.lowest_loss_pct));
  EXPECT_EQ(l.profitable_minutes, 0);
  EXPECT_EQ(l.total_minutes, 0);
  EXPECT_EQ(l.completed_at, 0);
  EXPECT_EQ(l.exit_reason, "");
  EXPECT_TRUE(std::isnan(l.exit_price));
}

TEST(Trading, OpenTradeRejectsBadInputs) {
  const TradeRule r;
  expect_invalid([&] { cml::open_trade(Side::Long, 0, 0.0, 0.5, 4, r); }, {"entry_close = 0"});
  expect_invalid([&] { cml::open_trade(Side::Long, 0, -5.0, 0.5, 4, r); }, {"entry_close = -5"});
  expect_invalid([&] { cml::open_trade(Side::Long, 0, 100.0, 0.0, 4, r); },
                 {"sigma_pct = 0", "> 0"});
  expect_invalid([&] { cml::open_trade(Side::Long, 0, 100.0, -1.0, 4, r); }, {"sigma_pct = -1"});
  expect_invalid([&] { cml::open_trade(Side::Long, 0, 100.0, std::nan(""), 4, r); },
                 {"sigma_pct = NaN"});
  expect_invalid([&] { cml::open_trade(Side::Long, 0, 100.0, kInf, 4, r); },
                 {"sigma_pct = Infinity"});
  expect_invalid([&] { cml::open_trade(Side::Long, 0, 100.0, 0.5, 0, r); }, {"horizon = 0"});
  expect_invalid([&] { cml::open_trade(Side::Long, 0, 100.0, 0.5, -3, r); }, {"horizon = -3"});
  expect_invalid([&] { cml::open_trade(Side::Long, 0, 100.0, 0.5, 4, TradeRule{0.0, 1.0}); },
                 {"tp_sigma = 0", "> 0"});
  expect_invalid([&] { cml::open_trade(Side::Short, 0, 100.0, 0.5, 4, TradeRule{2.0, -1.0}); },
                 {"sl_sigma = -1"});
  // sigma 50 %, horizon 4: d = 0.5 * 2 = 1, so a long SL would be 100 * (1 - 1) = 0.
  expect_invalid([&] { cml::open_trade(Side::Long, 0, 100.0, 50.0, 4, r); }, {"sl = 0", "> 0"});
}

TEST(Trading, ValidateLevelsWrongSideThrowsNamingTheValue) {
  EXPECT_NO_THROW(cml::validate_levels(Side::Long, 100, 102, 99));
  EXPECT_NO_THROW(cml::validate_levels(Side::Short, 100, 98, 101));
  // Long: TP must be above, SL below the entry.
  expect_invalid([] { cml::validate_levels(Side::Long, 100, 99, 98); },
                 {"tp = 99", "long", "entry = 100", "above"});
  expect_invalid([] { cml::validate_levels(Side::Long, 100, 100, 98); }, {"tp = 100"});
  expect_invalid([] { cml::validate_levels(Side::Long, 100, 101, 100.5); },
                 {"sl = 100.5", "below"});
  // Short: mirrored.
  expect_invalid([] { cml::validate_levels(Side::Short, 100, 101, 102); },
                 {"tp = 101", "short", "below"});
  expect_invalid([] { cml::validate_levels(Side::Short, 100, 98, 99.5); }, {"sl = 99.5", "above"});
  expect_invalid([] { cml::validate_levels(Side::Short, 100, 0, 101); }, {"tp = 0", "> 0"});
  expect_invalid([] { cml::validate_levels(Side::Long, 100, std::nan(""), 99); }, {"tp = NaN"});
  // User-given levels go through the same check.
  expect_invalid([] { cml::open_trade_at_levels(Side::Long, kOpen, 100, 98, 97, 10); },
                 {"tp = 98"});
  const TradeState t = cml::open_trade_at_levels(Side::Short, kOpen, 100, 95, 103, 10);
  EXPECT_EQ(t.tp, 95);
  EXPECT_EQ(t.sl, 103);
  EXPECT_EQ(t.horizon_minutes, 10);
}

TEST(Trading, NegativeCostsThrowNamingTheValue) {
  expect_invalid([] { TradeCosts{-0.1, 0.05}.validate(); }, {"fee_pct = -0.1", ">= 0"});
  expect_invalid([] { TradeCosts{0.1, -0.05}.validate(); }, {"slippage_pct = -0.05", ">= 0"});
  expect_invalid([] { TradeCosts{std::nan(""), 0}.validate(); }, {"fee_pct = NaN"});
  EXPECT_NO_THROW((TradeCosts{0, 0}.validate()));

  // apply_bar rejects the costs and leaves the trade untouched.
  TradeState t = open_long();
  const TradeState before = t;
  expect_invalid([&] { cml::apply_bar(t, bar(1001, 100, 101, 99.5, 100.5), TradeCosts{-0.1, 0}); },
                 {"fee_pct = -0.1"});
  expect_same_state(t, before);
  expect_invalid([&] { cml::buy_and_hold({bar(1, 1, 1, 1, 1)}, TradeCosts{0.1, -0.2}); },
                 {"slippage_pct = -0.2"});
  expect_invalid([] { cml::net_pnl_pct(Side::Long, 100, 101, TradeCosts{-1, 0}); },
                 {"fee_pct = -1"});
}

TEST(Trading, NetPnlFormula) {
  const TradeCosts c;  // round trip 0.3
  EXPECT_NEAR(cml::net_pnl_pct(Side::Long, 100, 101, c), 0.7, kTol);    // +1 - 0.3
  EXPECT_NEAR(cml::net_pnl_pct(Side::Long, 100, 99, c), -1.3, kTol);    // -1 - 0.3
  EXPECT_NEAR(cml::net_pnl_pct(Side::Short, 100, 99, c), 0.7, kTol);    // 100*(1 - 0.99) - 0.3
  EXPECT_NEAR(cml::net_pnl_pct(Side::Short, 100, 101, c), -1.3, kTol);  // -1 - 0.3
  EXPECT_NEAR(cml::net_pnl_pct(Side::Long, 200, 200, TradeCosts{0.2, 0.1}), -0.6, kTol);
  expect_invalid([] { cml::net_pnl_pct(Side::Long, 0, 1, TradeCosts{}); }, {"entry = 0"});
}

// ============================ following a long trade bar by bar ===============================

TEST(Trading, LongTakeProfit) {
  TradeState t = open_long();
  const TradeCosts c;
  // 1001: close 100.5, no level touched (high 101 < 102, low 99.5 > 99).
  //       mark = 100*(100.5/100 - 1) - 0.3 = 0.5 - 0.3 = 0.2 > 0 -> 1 profitable minute.
  cml::apply_bar(t, bar(1001, 100, 101, 99.5, 100.5), c);
  EXPECT_TRUE(t.active);
  EXPECT_EQ(t.total_minutes, 1);
  EXPECT_EQ(t.current_price, 100.5);
  EXPECT_NEAR(t.pnl_pct, 0.2, kTol);
  EXPECT_EQ(t.profitable_minutes, 1);
  // 1002: high 102.5 >= tp 102 -> exit at 102: 2 - 0.3 = 1.7 (> 0 -> +1 profitable minute).
  cml::apply_bar(t, bar(1002, 100.5, 102.5, 100.2, 102.2), c);
  EXPECT_FALSE(t.active);
  EXPECT_EQ(t.exit_reason, "tp");
  EXPECT_NEAR(t.exit_price, 102.0, kTol);
  EXPECT_NEAR(t.current_price, 102.0, kTol);  // the exit, not the bar's close 102.2
  EXPECT_NEAR(t.pnl_pct, 1.7, kTol);
  EXPECT_NEAR(t.highest_profit_pct, 1.7, kTol);
  EXPECT_NEAR(t.lowest_loss_pct, 0.2, kTol);
  EXPECT_EQ(t.profitable_minutes, 2);
  EXPECT_EQ(t.total_minutes, 2);
  EXPECT_EQ(t.completed_at, 1002);
  // A bar after completion changes nothing.
  const TradeState done = t;
  cml::apply_bar(t, bar(1003, 90, 90, 80, 85), c);
  expect_same_state(t, done);

  const ClosedTrade ct = cml::closed_trade(t);
  EXPECT_EQ(ct.opened_at, 1000);
  EXPECT_EQ(ct.closed_at, 1002);
  EXPECT_NEAR(ct.pnl_pct, 1.7, kTol);
}

TEST(Trading, LongStopLoss) {
  TradeState t = open_long();
  const TradeCosts c;
  // 1001: close 99.8 -> mark -0.2 - 0.3 = -0.5 (not profitable).
  cml::apply_bar(t, bar(1001, 100, 100.3, 99.6, 99.8), c);
  EXPECT_NEAR(t.pnl_pct, -0.5, kTol);
  // 1002: low 98.9 <= sl 99 -> exit at 99: -1 - 0.3 = -1.3.
  cml::apply_bar(t, bar(1002, 99.8, 99.9, 98.9, 99.2), c);
  EXPECT_FALSE(t.active);
  EXPECT_EQ(t.exit_reason, "sl");
  EXPECT_NEAR(t.exit_price, 99.0, kTol);
  EXPECT_NEAR(t.pnl_pct, -1.3, kTol);
  EXPECT_NEAR(t.highest_profit_pct, -0.5, kTol);  // the best mark was still a loss
  EXPECT_NEAR(t.lowest_loss_pct, -1.3, kTol);
  EXPECT_EQ(t.profitable_minutes, 0);
  EXPECT_EQ(t.total_minutes, 2);
  EXPECT_EQ(t.completed_at, 1002);
}

TEST(Trading, LongBothLevelsInOneBarAssumesStopLoss) {
  TradeState t = open_long();
  // 1001: high 102.5 >= tp 102 AND low 98.5 <= sl 99 -> the worse: SL at 99 -> -1.3,
  // even though the bar closes in profit at 101.
  cml::apply_bar(t, bar(1001, 100, 102.5, 98.5, 101), TradeCosts{});
  EXPECT_FALSE(t.active);
  EXPECT_EQ(t.exit_reason, "sl");
  EXPECT_NEAR(t.exit_price, 99.0, kTol);
  EXPECT_NEAR(t.pnl_pct, -1.3, kTol);
  EXPECT_EQ(t.total_minutes, 1);
  EXPECT_EQ(t.profitable_minutes, 0);
}

TEST(Trading, LongExpiryAtClose) {
  TradeState t = open_long();
  const TradeCosts c;
  // marks: 1001 close 100.4 -> 0.4 - 0.3 = 0.1 (+1 min); 1002 100.1 -> -0.2; 1003 99.9 -> -0.4;
  // 1004 = 1000 + 4 is the expiry minute: exit at its close 100.6 -> 0.6 - 0.3 = 0.3 (+1 min).
  cml::apply_bar(t, bar(1001, 100, 100.5, 100.0, 100.4), c);
  cml::apply_bar(t, bar(1002, 100.4, 100.5, 100.0, 100.1), c);
  cml::apply_bar(t, bar(1003, 100.1, 100.2, 99.8, 99.9), c);
  EXPECT_TRUE(t.active);
  EXPECT_NEAR(t.pnl_pct, -0.4, kTol);
  cml::apply_bar(t, bar(1004, 99.9, 100.8, 99.9, 100.6), c);
  EXPECT_FALSE(t.active);
  EXPECT_EQ(t.exit_reason, "expiry");
  EXPECT_EQ(t.exit_price, 100.6);
  EXPECT_NEAR(t.pnl_pct, 0.3, kTol);
  EXPECT_NEAR(t.highest_profit_pct, 0.3, kTol);
  EXPECT_NEAR(t.lowest_loss_pct, -0.4, kTol);
  EXPECT_EQ(t.profitable_minutes, 2);
  EXPECT_EQ(t.total_minutes, 4);
  EXPECT_EQ(t.completed_at, 1004);
}

TEST(Trading, GapDuringTradeContinuesAtNextBarAndExpiresAfterIt) {
  TradeState t = open_long();
  const TradeCosts c;
  // 1001: close 100.5 -> 0.2 (+1 min).
  cml::apply_bar(t, bar(1001, 100, 100.6, 100.0, 100.5), c);
  // 1002 is missing; 1003: close 101 -> 1 - 0.3 = 0.7 > 0: credited the 2 minutes since 1001.
  cml::apply_bar(t, bar(1003, 100.5, 101.2, 100.4, 101), c);
  EXPECT_TRUE(t.active);
  EXPECT_EQ(t.total_minutes, 3);
  EXPECT_EQ(t.profitable_minutes, 3);
  EXPECT_NEAR(t.pnl_pct, 0.7, kTol);
  // 1004 (expiry) and 1005 are missing; 1006 is the first bar after expiry: no level touched
  // (high 100.5 < 102, low 99.8 > 99), so it closes at its close 100.2 -> 0.2 - 0.3 = -0.1.
  cml::apply_bar(t, bar(1006, 100.9, 100.5, 99.8, 100.2), c);
  EXPECT_FALSE(t.active);
  EXPECT_EQ(t.exit_reason, "expiry");
  EXPECT_EQ(t.exit_price, 100.2);
  EXPECT_NEAR(t.pnl_pct, -0.1, kTol);
  EXPECT_EQ(t.total_minutes, 6);  // gaps count as elapsed minutes
  EXPECT_EQ(t.completed_at, 1006);
  EXPECT_EQ(t.profitable_minutes, 3);  // the last mark is a loss: nothing added
  EXPECT_NEAR(t.highest_profit_pct, 0.7, kTol);
  EXPECT_NEAR(t.lowest_loss_pct, -0.1, kTol);
}

TEST(Trading, GapThenLevelHitOnExpiryBarTakesTheLevel) {
  TradeState t = open_long();
  const TradeCosts c;
  cml::apply_bar(t, bar(1001, 100, 100.6, 100.0, 100.5), c);  // 0.2, +1 min
  // 1004 is the expiry minute, but its high 102.4 touches tp 102 first: exit "tp" at 102 -> 1.7,
  // credited the 3 minutes since 1001.
  cml::apply_bar(t, bar(1004, 100.5, 102.4, 100.3, 100.4), c);
  EXPECT_EQ(t.exit_reason, "tp");
  EXPECT_NEAR(t.pnl_pct, 1.7, kTol);
  EXPECT_EQ(t.total_minutes, 4);
  EXPECT_EQ(t.profitable_minutes, 4);
}

TEST(Trading, StaleAndDuplicateBarsAreIgnored) {
  TradeState t = open_long();
  const TradeCosts c;
  const TradeState fresh = t;
  cml::apply_bar(t, bar(999, 100, 200, 50, 150), c);   // before the entry
  cml::apply_bar(t, bar(1000, 100, 200, 50, 150), c);  // the entry bar itself
  expect_same_state(t, fresh);
  cml::apply_bar(t, bar(1002, 100, 100.6, 100.0, 100.5), c);
  const TradeState after = t;
  cml::apply_bar(t, bar(1002, 100, 100.6, 100.0, 100.5), c);  // same bar again
  cml::apply_bar(t, bar(1001, 100, 200, 50, 150), c);         // older than the last one
  expect_same_state(t, after);
}

TEST(Trading, ZeroCostsGiveTheGrossReturn) {
  TradeState t = open_long();
  cml::apply_bar(t, bar(1001, 100, 102.0, 100, 101), TradeCosts{0, 0});  // high == tp: hit
  EXPECT_EQ(t.exit_reason, "tp");
  EXPECT_NEAR(t.pnl_pct, 2.0, kTol);
}

TEST(Trading, BadBarThrowsAndLeavesTheStateUnchanged) {
  TradeState t = open_long();
  const TradeState before = t;
  expect_invalid([&] { cml::apply_bar(t, bar(1001, 100, 99, 101, 100), TradeCosts{}); },
                 {"minute 1001", "high = 99", "low = 101"});
  expect_invalid([&] { cml::apply_bar(t, bar(1001, 100, 101, 99.5, 0), TradeCosts{}); },
                 {"close = 0"});
  expect_invalid([&] { cml::apply_bar(t, bar(1001, std::nan(""), 101, 99.5, 100), TradeCosts{}); },
                 {"open = NaN"});
  expect_same_state(t, before);
}

// ============================ short trades (mirrored) ========================================

TEST(Trading, ShortTakeProfit) {
  TradeState t = open_short();
  const TradeCosts c;
  // 1001: close 99.5 -> 100*(1 - 0.995) - 0.3 = 0.2 (+1 min).
  cml::apply_bar(t, bar(1001, 100, 100.4, 99.5, 99.5), c);
  EXPECT_NEAR(t.pnl_pct, 0.2, kTol);
  // 1002: low 97.5 <= tp 98 -> exit at 98: 2 - 0.3 = 1.7 (+1 min).
  cml::apply_bar(t, bar(1002, 99.5, 99.6, 97.5, 97.8), c);
  EXPECT_EQ(t.exit_reason, "tp");
  EXPECT_NEAR(t.exit_price, 98.0, kTol);
  EXPECT_NEAR(t.pnl_pct, 1.7, kTol);
  EXPECT_EQ(t.profitable_minutes, 2);
  EXPECT_EQ(t.completed_at, 1002);
}

TEST(Trading, ShortStopLossAndBothInOneBar) {
  // 1001: high 101.5 >= sl 101 -> exit at 101: 100*(1 - 1.01) - 0.3 = -1.3.
  TradeState t = open_short();
  cml::apply_bar(t, bar(1001, 100, 101.5, 99.9, 101.2), TradeCosts{});
  EXPECT_EQ(t.exit_reason, "sl");
  EXPECT_NEAR(t.exit_price, 101.0, kTol);
  EXPECT_NEAR(t.pnl_pct, -1.3, kTol);
  // Both: high 101.2 >= sl 101 and low 97.9 <= tp 98 -> SL, -1.3.
  TradeState b = open_short();
  cml::apply_bar(b, bar(1001, 100, 101.2, 97.9, 98.5), TradeCosts{});
  EXPECT_EQ(b.exit_reason, "sl");
  EXPECT_NEAR(b.pnl_pct, -1.3, kTol);
}

TEST(Trading, ShortExpiry) {
  TradeState t = open_short();
  const TradeCosts c;
  // 1001 close 100.2 -> -0.2 - 0.3 = -0.5; 1004 (expiry) close 99.4 -> 0.6 - 0.3 = 0.3 (+3 min).
  cml::apply_bar(t, bar(1001, 100, 100.3, 99.9, 100.2), c);
  cml::apply_bar(t, bar(1004, 100.2, 100.3, 99.3, 99.4), c);
  EXPECT_EQ(t.exit_reason, "expiry");
  EXPECT_NEAR(t.pnl_pct, 0.3, kTol);
  EXPECT_NEAR(t.highest_profit_pct, 0.3, kTol);
  EXPECT_NEAR(t.lowest_loss_pct, -0.5, kTol);
  EXPECT_EQ(t.profitable_minutes, 3);
  EXPECT_EQ(t.total_minutes, 4);
}

// ============================ simulate ======================================================

TEST(Trading, SimulateStopsAtCompletion) {
  const std::vector<Bar> bars = {bar(999, 1, 1, 1, 1),  // before the entry: skipped
                                 bar(1001, 100, 101, 99.5, 100.5),
                                 bar(1002, 100.5, 102.5, 100.2, 102.2),  // TP
                                 bar(1003, 90, 90, 80, 85)};             // ignored
  const TradeState t =
      cml::simulate(Side::Long, kOpen, 100.0, 0.5, 4, TradeRule{}, bars, TradeCosts{});
  EXPECT_EQ(t.exit_reason, "tp");
  EXPECT_NEAR(t.pnl_pct, 1.7, kTol);
  EXPECT_EQ(t.completed_at, 1002);
  EXPECT_EQ(t.profitable_minutes, 2);

  // Running out of bars leaves the trade active.
  const TradeState open = cml::simulate(Side::Long, kOpen, 100.0, 0.5, 4, TradeRule{},
                                        {bar(1001, 100, 101, 99.5, 100.5)}, TradeCosts{});
  EXPECT_TRUE(open.active);
  EXPECT_NEAR(open.pnl_pct, 0.2, kTol);
  expect_invalid([&] { cml::closed_trade(open); }, {"still active"});

  expect_invalid(
      [] {
        cml::simulate(Side::Long, kOpen, 100.0, 0.5, 4, TradeRule{},
                      {bar(1002, 100, 101, 99.5, 100.5), bar(1001, 100, 101, 99.5, 100.5)},
                      TradeCosts{});
      },
      {"not in time order", "minute 1001"});
}

// ============================ performance ===================================================

// Four trades with net returns +2 %, -1 %, +3 %, -2 % over a period of 21024 minutes
// = 21024 / 525600 = 0.04 years, so trades_per_year = 4 / 0.04 = 100 and the annualization
// factor is sqrt(100) = 10.
//   mean r        = (0.02 - 0.01 + 0.03 - 0.02) / 4 = 0.005
//   deviations    = 0.015, -0.015, 0.025, -0.025; squares sum to 2*0.000225 + 2*0.000625 = 0.0017
//   sample std    = sqrt(0.0017 / 3) = 0.0238047614...
//   Sharpe        = 0.005 / 0.0238047614 * 10 = 2.1004201260...
//   downside dev  = sqrt((0 + 0.01^2 + 0 + 0.02^2) / 4) = sqrt(0.000125) = 0.0111803399...
//   Sortino       = 0.005 / 0.0111803399 * 10 = 4.4721359550...
//   equity        = 1.02, 1.02*0.99 = 1.0098, *1.03 = 1.040094, *0.98 = 1.01929212
//   drawdowns     = 0, (1.02-1.0098)/1.02 = 1 %, 0, (1.040094-1.01929212)/1.040094 = 2 % -> max 2 %
//   total return  = 1.929212 %
//   win rate 0.5, average 0.5 %, median of {-2,-1,2,3} = (-1+2)/2 = 0.5 %, profit factor 5/3.
//   exposure: [0,100) and [50,150) overlap -> 150 minutes; [1000,1100) -> 100; [21000,21100)
//   clipped to the period end -> 24; total 274 / 21024.
TEST(Trading, PerformanceHandComputed) {
  const std::vector<ClosedTrade> trades = {
      {0, 100, 2.0}, {50, 150, -1.0}, {1000, 1100, 3.0}, {21000, 21100, -2.0}};
  const Performance p = cml::performance(trades, 0, 21024, cml::kMinutesPerYear);
  EXPECT_EQ(p.trades, 4);
  EXPECT_NEAR(p.trades_per_year, 100.0, 1e-9);
  EXPECT_NEAR(p.win_rate, 0.5, kTol);
  EXPECT_NEAR(p.avg_pnl, 0.5, kTol);
  EXPECT_NEAR(p.median_pnl, 0.5, kTol);
  EXPECT_NEAR(p.profit_factor, 5.0 / 3.0, kTol);
  EXPECT_NEAR(p.sharpe, 2.1004201260, 1e-9);
  EXPECT_NEAR(p.sharpe, 0.005 / std::sqrt(0.0017 / 3) * 10, 1e-9);
  EXPECT_NEAR(p.sortino, 4.4721359550, 1e-9);
  EXPECT_NEAR(p.max_drawdown_pct, 2.0, kTol);
  EXPECT_NEAR(p.total_return_pct, 1.929212, kTol);
  EXPECT_NEAR(p.exposure, 274.0 / 21024.0, kTol);
}

TEST(Trading, PerformanceProfitFactorEdgeCases) {
  auto pf = [](const std::vector<double>& pnls) {
    std::vector<ClosedTrade> t;
    for (double v : pnls) t.push_back({0, 1, v});
    return cml::performance(t, 0, 100, cml::kMinutesPerYear).profit_factor;
  };
  EXPECT_TRUE(std::isnan(pf({})));                // no trades
  EXPECT_EQ(pf({1.0, 2.0}), kInf);                // wins, no losses
  EXPECT_EQ(pf({0.0, 1.0}), kInf);                // a flat trade is neither win nor loss
  EXPECT_EQ(pf({-1.0, -2.0}), 0.0);               // losses only
  EXPECT_TRUE(std::isnan(pf({0.0, 0.0})));        // 0 / 0
  EXPECT_NEAR(pf({3.0, -1.0, -2.0}), 1.0, kTol);  // 3 / 3
}

TEST(Trading, PerformanceZeroAndOneTrade) {
  const Performance z = cml::performance({}, 0, 525600, cml::kMinutesPerYear);
  EXPECT_EQ(z.trades, 0);
  EXPECT_TRUE(std::isnan(z.win_rate));
  EXPECT_TRUE(std::isnan(z.avg_pnl));
  EXPECT_TRUE(std::isnan(z.median_pnl));
  EXPECT_TRUE(std::isnan(z.sharpe));
  EXPECT_TRUE(std::isnan(z.sortino));
  EXPECT_EQ(z.max_drawdown_pct, 0.0);
  EXPECT_EQ(z.total_return_pct, 0.0);
  EXPECT_EQ(z.exposure, 0.0);
  EXPECT_EQ(z.trades_per_year, 0.0);

  // One winning trade in a one-year period: no spread -> Sharpe NaN; no downside -> Sortino +inf.
  const Performance w = cml::performance({{10, 20, 5.0}}, 0, 525600, cml::kMinutesPerYear);
  EXPECT_TRUE(std::isnan(w.sharpe));
  EXPECT_EQ(w.sortino, kInf);
  EXPECT_EQ(w.win_rate, 1.0);
  EXPECT_EQ(w.median_pnl, 5.0);
  EXPECT_NEAR(w.total_return_pct, 5.0, kTol);
  EXPECT_EQ(w.max_drawdown_pct, 0.0);
  EXPECT_NEAR(w.exposure, 10.0 / 525600.0, 1e-15);

  // One losing trade of -4 %: trades_per_year 1, downside dev 0.04 -> Sortino = -0.04/0.04 = -1.
  const Performance l = cml::performance({{10, 20, -4.0}}, 0, 525600, cml::kMinutesPerYear);
  EXPECT_TRUE(std::isnan(l.sharpe));
  EXPECT_NEAR(l.sortino, -1.0, kTol);
  EXPECT_NEAR(l.max_drawdown_pct, 4.0, kTol);
  EXPECT_NEAR(l.total_return_pct, -4.0, kTol);

  // Identical returns: std 0 -> Sharpe NaN.
  const Performance s =
      cml::performance({{0, 1, 1.0}, {1, 2, 1.0}}, 0, 525600, cml::kMinutesPerYear);
  EXPECT_TRUE(std::isnan(s.sharpe));
  EXPECT_EQ(s.sortino, kInf);
}

TEST(Trading, PerformanceMedianOddAndRuin) {
  const Performance m =
      cml::performance({{0, 1, 3.0}, {0, 1, -1.0}, {0, 1, 2.0}}, 0, 10, cml::kMinutesPerYear);
  EXPECT_EQ(m.median_pnl, 2.0);
  // +10 %, then a short losing 150 %: equity 1.1 * (1 - 1.5) < 0 -> floored at 0 (ruin); the
  // +50 % afterwards cannot recover it. Drawdown 100 %, total return -100 %.
  const Performance r = cml::performance({{0, 1, 10.0}, {1, 2, -150.0}, {2, 3, 50.0}}, 0, 10,
                                         cml::kMinutesPerYear);
  EXPECT_NEAR(r.max_drawdown_pct, 100.0, kTol);
  EXPECT_NEAR(r.total_return_pct, -100.0, kTol);
}

TEST(Trading, PerformanceRejectsBadInputs) {
  expect_invalid([] { cml::performance({}, 10, 10, cml::kMinutesPerYear); },
                 {"period_end = 10", "period_start = 10"});
  expect_invalid([] { cml::performance({}, 0, 10, 0.0); }, {"periods_per_year = 0"});
  expect_invalid([] { cml::performance({{0, 5, 1.0}, {9, 8, 1.0}}, 0, 10, 1.0); },
                 {"trade 2", "closed_at = 8", "opened_at = 9"});
  expect_invalid([] { cml::performance({{0, 5, std::nan("")}}, 0, 10, 1.0); },
                 {"trade 1", "pnl_pct = NaN"});
}

// ============================ baselines =====================================================

TEST(Trading, BuyAndHoldWithCosts) {
  const std::vector<Bar> up = {bar(0, 100, 100, 100, 100), bar(1, 100, 105, 99, 104),
                               bar(5, 104, 111, 103, 110)};
  EXPECT_NEAR(cml::buy_and_hold(up, TradeCosts{}), 9.7, kTol);       // 10 - 0.3
  EXPECT_NEAR(cml::buy_and_hold(up, TradeCosts{0, 0}), 10.0, kTol);  // gross
  EXPECT_NEAR(cml::buy_and_hold(up, TradeCosts{0.05, 0.05}), 9.8, kTol);
  const std::vector<Bar> down = {bar(0, 100, 100, 100, 100), bar(1, 95, 95, 95, 95)};
  EXPECT_NEAR(cml::buy_and_hold(down, TradeCosts{}), -5.3, kTol);
  EXPECT_NEAR(cml::buy_and_hold({bar(0, 50, 50, 50, 50)}, TradeCosts{}), -0.3, kTol);
  expect_invalid([] { cml::buy_and_hold({}, TradeCosts{}); }, {"at least one bar"});
}

namespace {

// 200 one-minute bars with a gap (minutes 50..59 missing) and a wavy close.
std::vector<Bar> wavy_bars() {
  std::vector<Bar> b;
  for (int m = 0; m < 210; ++m) {
    if (m >= 50 && m < 60) continue;
    const double c = 100.0 + 3.0 * std::sin(m / 7.0) + 0.01 * m;
    b.push_back(bar(m, c, c + 0.2, c - 0.2, c));
  }
  return b;
}

}  // namespace

TEST(Trading, RandomEntryIsDeterministic) {
  const std::vector<Bar> bars = wavy_bars();
  const TradeCosts c;
  const auto a = cml::random_entry(bars, 50, 15, 42, c);
  const auto b = cml::random_entry(bars, 50, 15, 42, c);
  ASSERT_EQ(a.size(), 50u);
  ASSERT_EQ(b.size(), 50u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].opened_at, b[i].opened_at);
    EXPECT_EQ(a[i].closed_at, b[i].closed_at);
    EXPECT_EQ(a[i].pnl_pct, b[i].pnl_pct);  // bit-for-bit
  }
  const auto other = cml::random_entry(bars, 50, 15, 43, c);
  bool differs = false;
  for (std::size_t i = 0; i < a.size(); ++i)
    differs = differs || a[i].opened_at != other[i].opened_at || a[i].pnl_pct != other[i].pnl_pct;
  EXPECT_TRUE(differs);

  // Every trade exits at the close of the first bar at or after entry + 15 (gaps included) and
  // its P&L is the long or the short net P&L between those closes. Sorted by entry.
  int longs = 0, shorts = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const ClosedTrade& t = a[i];
    if (i > 0) {
      EXPECT_LE(a[i - 1].opened_at, t.opened_at);
    }
    const Bar* entry = nullptr;
    const Bar* exit = nullptr;
    for (const Bar& x : bars) {
      if (x.ts_minutes == t.opened_at) entry = &x;
      if (!exit && x.ts_minutes >= t.opened_at + 15) exit = &x;
    }
    ASSERT_NE(entry, nullptr);
    ASSERT_NE(exit, nullptr);
    EXPECT_EQ(t.closed_at, exit->ts_minutes);
    const double lp = cml::net_pnl_pct(Side::Long, entry->close, exit->close, c);
    const double sp = cml::net_pnl_pct(Side::Short, entry->close, exit->close, c);
    if (t.pnl_pct == lp)
      ++longs;
    else if (t.pnl_pct == sp)
      ++shorts;
    else
      ADD_FAILURE() << "trade " << i << " pnl " << t.pnl_pct << " is neither " << lp << " nor "
                    << sp;
  }
  EXPECT_GT(longs, 0);
  EXPECT_GT(shorts, 0);

  // The same performance function applies.
  const Performance p = cml::performance(a, 0, 210, cml::kMinutesPerYear);
  EXPECT_EQ(p.trades, 50);
  EXPECT_GT(p.exposure, 0.0);
  EXPECT_LE(p.exposure, 1.0);
}

TEST(Trading, RandomEntryFollowsTheDocumentedAlgorithm) {
  // Re-derive the trades from the documented recipe: std::mt19937_64(seed); eligible entries
  // 0..m-1; index by rejection (x >= 2^64 mod m, i = x mod m); side = top bit of the next draw.
  const std::vector<Bar> bars = wavy_bars();
  const int horizon = 15, n = 20;
  const std::uint64_t seed = 7;
  std::size_t m = 0;
  while (m < bars.size() && bars[m].ts_minutes + horizon <= bars.back().ts_minutes) ++m;
  std::mt19937_64 rng(seed);
  const std::uint64_t mm = m, threshold = (0 - mm) % mm;
  std::vector<std::pair<std::size_t, bool>> draws;  // (entry index, short?)
  for (int k = 0; k < n; ++k) {
    std::uint64_t x;
    do x = rng();
    while (x < threshold);
    const bool is_short = (rng() >> 63) != 0;
    draws.emplace_back(static_cast<std::size_t>(x % mm), is_short);
  }
  std::stable_sort(draws.begin(), draws.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const auto got = cml::random_entry(bars, n, horizon, seed, TradeCosts{});
  ASSERT_EQ(got.size(), draws.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    const Bar& e = bars[draws[k].first];
    std::size_t j = draws[k].first + 1;
    while (bars[j].ts_minutes < e.ts_minutes + horizon) ++j;
    EXPECT_EQ(got[k].opened_at, e.ts_minutes);
    EXPECT_EQ(got[k].closed_at, bars[j].ts_minutes);
    EXPECT_EQ(got[k].pnl_pct, cml::net_pnl_pct(draws[k].second ? Side::Short : Side::Long,
                                               e.close, bars[j].close, TradeCosts{}));
  }
}

TEST(Trading, RandomEntryEdgeCases) {
  const std::vector<Bar> bars = wavy_bars();
  EXPECT_TRUE(cml::random_entry(bars, 0, 15, 1, TradeCosts{}).empty());
  EXPECT_TRUE(cml::random_entry({}, 0, 15, 1, TradeCosts{}).empty());
  // Exactly one eligible entry: bars at minutes 0 and 15 with horizon 15.
  const auto one = cml::random_entry({bar(0, 1, 1, 1, 100), bar(15, 1, 1, 1, 101)}, 5, 15, 9,
                                     TradeCosts{0, 0});
  ASSERT_EQ(one.size(), 5u);
  for (const ClosedTrade& t : one) {
    EXPECT_EQ(t.opened_at, 0);
    EXPECT_EQ(t.closed_at, 15);
  }
  expect_invalid([] { cml::random_entry({bar(0, 1, 1, 1, 1), bar(14, 1, 1, 1, 1)}, 1, 15, 1, {}); },
                 {"no bar has a bar 15 minutes later"});
  expect_invalid([&] { cml::random_entry(bars, -1, 15, 1, TradeCosts{}); }, {"n_trades = -1"});
  expect_invalid([&] { cml::random_entry(bars, 1, 0, 1, TradeCosts{}); }, {"horizon = 0"});
  expect_invalid(
      [] { cml::random_entry({bar(5, 1, 1, 1, 1), bar(5, 1, 1, 1, 1)}, 1, 1, 1, TradeCosts{}); },
      {"not in time order"});
}

// ============================ forecast quality ==============================================

TEST(Trading, WilsonIntervalKnownValues) {
  // 50 of 100: p = 0.5, z = 1.96: center 0.5, half = 1.96 * sqrt(0.0025 + 0.000096) / 1.038415
  // = 0.09617 -> [0.4038, 0.5962].
  const cml::Interval w = cml::wilson_interval(50, 100);
  EXPECT_NEAR(w.low, 0.4038, 5e-5);
  EXPECT_NEAR(w.high, 0.5962, 5e-5);
  EXPECT_NEAR(w.low, 0.40383153, 1e-8);
  EXPECT_NEAR(w.high, 0.59616847, 1e-8);
  // 0 of 10: [0, z^2/10 / (1 + z^2/10)] = [0, 0.38415/1.38415] = [0, 0.27753]; 10 of 10 mirrored.
  const cml::Interval none = cml::wilson_interval(0, 10);
  EXPECT_NEAR(none.low, 0.0, 1e-12);
  EXPECT_NEAR(none.high, 0.27753280, 1e-8);
  const cml::Interval all = cml::wilson_interval(10, 10);
  EXPECT_NEAR(all.low, 0.72246720, 1e-8);
  EXPECT_NEAR(all.high, 1.0, 1e-12);
  const cml::Interval empty = cml::wilson_interval(0, 0);
  EXPECT_TRUE(std::isnan(empty.low) && std::isnan(empty.high));
  expect_invalid([] { cml::wilson_interval(11, 10); }, {"successes = 11", "n = 10"});
}

TEST(Trading, DirectionalAccuracyRmseMae) {
  // Pairs: (1,2) hit, (-1,-0.5) hit, (2,-1) miss, (0.5,0) skipped, (-3,-2) hit, (0,1) miss
  // (no predicted direction), (1,3) hit -> n = 6, hits = 4.
  const std::vector<double> preds = {1, -1, 2, 0.5, -3, 0, 1};
  const std::vector<double> actuals = {2, -0.5, -1, 0, -2, 1, 3};
  const cml::DirectionalAccuracy d = cml::directional_accuracy(preds, actuals);
  EXPECT_EQ(d.n, 6);
  EXPECT_EQ(d.hits, 4);
  EXPECT_NEAR(d.accuracy, 4.0 / 6.0, kTol);
  EXPECT_NEAR(d.wilson_low, 0.29999332, 1e-7);
  EXPECT_NEAR(d.wilson_high, 0.90322859, 1e-7);

  const cml::DirectionalAccuracy none = cml::directional_accuracy({1, 2}, {0, 0});
  EXPECT_EQ(none.n, 0);
  EXPECT_TRUE(std::isnan(none.accuracy));
  EXPECT_TRUE(std::isnan(none.wilson_low));

  // errors -1, 0, -2: MSE = 5/3 -> RMSE = sqrt(5/3) = 1.2909944...; MAE = 3/3 = 1.
  EXPECT_NEAR(cml::rmse({1, 2, 3}, {2, 2, 5}), std::sqrt(5.0 / 3.0), kTol);
  EXPECT_NEAR(cml::mae({1, 2, 3}, {2, 2, 5}), 1.0, kTol);
  EXPECT_TRUE(std::isnan(cml::rmse({}, {})));
  EXPECT_TRUE(std::isnan(cml::mae({}, {})));

  expect_invalid([] { cml::directional_accuracy({1, 2}, {1}); }, {"unequal length"});
  expect_invalid([] { cml::rmse({1, 2}, {1, std::nan("")}); }, {"actuals[2] = NaN"});
  expect_invalid([] { cml::mae({kInf}, {1}); }, {"preds[1] = Infinity"});
}

TEST(Trading, ReliabilityBuckets) {
  const std::vector<double> conf = {10, 49.9, 50, 55, 59.99, 60, 75, 80, 89.9, 90, 100};
  const std::vector<bool> hit = {true, false, true, false, false, true, false, true, true, true,
                                 false};
  const auto r = cml::reliability(conf, hit);
  ASSERT_EQ(r.size(), 6u);
  const double lower[] = {0, 50, 60, 70, 80, 90}, upper[] = {50, 60, 70, 80, 90, 100};
  // [0,50): 10 (hit), 49.9         -> 2, mean 29.95, rate 1/2
  // [50,60): 50 (hit), 55, 59.99   -> 3, mean 164.99/3, rate 1/3
  // [60,70): 60 (hit)              -> 1, mean 60, rate 1
  // [70,80): 75                    -> 1, mean 75, rate 0
  // [80,90): 80 (hit), 89.9 (hit)  -> 2, mean 84.95, rate 1
  // [90,100]: 90 (hit), 100        -> 2, mean 95, rate 1/2
  const int count[] = {2, 3, 1, 1, 2, 2};
  const double mean[] = {29.95, 164.99 / 3, 60, 75, 84.95, 95};
  const double rate[] = {0.5, 1.0 / 3, 1, 0, 1, 0.5};
  for (int b = 0; b < 6; ++b) {
    EXPECT_EQ(r[b].lower, lower[b]) << b;
    EXPECT_EQ(r[b].upper, upper[b]) << b;
    EXPECT_EQ(r[b].count, count[b]) << b;
    EXPECT_NEAR(r[b].mean_confidence, mean[b], kTol) << b;
    EXPECT_NEAR(r[b].hit_rate, rate[b], kTol) << b;
  }

  const auto empty = cml::reliability({}, {});
  ASSERT_EQ(empty.size(), 6u);
  for (const auto& b : empty) {
    EXPECT_EQ(b.count, 0);
    EXPECT_TRUE(std::isnan(b.mean_confidence));
    EXPECT_TRUE(std::isnan(b.hit_rate));
  }
  expect_invalid([] { cml::reliability({50, 100.5}, {true, false}); },
                 {"confidences[2] = 100.5", "between 0 and 100"});
  expect_invalid([] { cml::reliability({-1}, {true}); }, {"confidences[1] = -1"});
  expect_invalid([] { cml::reliability({std::nan("")}, {true}); }, {"confidences[1] = NaN"});
  expect_invalid([] { cml::reliability({50}, {true, false}); }, {"unequal length"});
}
