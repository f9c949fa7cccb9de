// Unit tests for the HTML dashboard (src/core/dashboard.hpp): escaping, empty data, NaN handling,
// sections and their ids, no script or outside resource, downsampling, Wilson figures, JSON input.
#include "dashboard.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "errors.hpp"
#include "text.hpp"
#include "trading.hpp"

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool has(const std::string& page, const std::string& s) { return page.find(s) != std::string::npos; }
std::size_t count(const std::string& page, const std::string& s) {
  std::size_t n = 0;
  for (std::size_t p = page.find(s); p != std::string::npos; p = page.find(s, p + 1)) n++;
  return n;
}
std::string lower(std::string s) {
  for (auto& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

cml::DashSymbol symbol(const std::string& name, int bars) {
  cml::DashSymbol s;
  s.symbol = name;
  s.latest_bar = {1.8e9, "2027-01-15 08:00:00"};
  s.staleness_seconds = 42.5;
  s.staleness_threshold = 300;
  s.completeness = 0.95;
  s.completeness_threshold = 0.95;
  for (int i = 0; i < bars; i++) s.bars.push_back({1.8e9 - 60.0 * (bars - 1 - i), 100 + std::sin(i / 7.0)});
  return s;
}

cml::DashboardData full() {
  cml::DashboardData d;
  d.generated_at = "2026-12-07 06:00:00 UTC";
  d.symbols.push_back(symbol("BTCUSDT", 300));
  d.symbols.push_back(symbol("ETHUSDT", 10));
  cml::DashForecast f;
  f.horizon = 15;
  f.forecast_at = {1.8e9, "2027-01-15 08:00:00"};
  f.target_at = {1.8e9 + 900, "2027-01-15 08:15:00"};
  f.close_at_forecast = 100;
  f.predicted_change = 0.25;
  f.predicted_price = 100.25;
  f.lower_price = 99.5;
  f.upper_price = 101;
  f.signal = "LONG";
  f.confidence = 63.5;
  f.live_confidence = 61.25;
  f.model_version = "xgb-BTCUSDT-15-1";
  d.symbols[0].forecasts.push_back(f);
  d.symbols[0].alerts.push_back({"stale_data", "error", "BTCUSDT: stale_data alert raised", 630, 300, {1.8e9, "2027-01-15 08:01:00+00"}});
  d.symbols[0].anomalies.push_back({"gap", {1.8e9 - 600, "2027-01-15 07:50:00"}, "3 minutes without a bar"});
  cml::DashModel m;
  m.symbol = "BTCUSDT";
  m.horizon = 15;
  m.model_type = "xgboost";
  m.batch_id = "xgb-BTCUSDT-15-1";
  m.age_hours = 5.5;
  m.live_n = 120;
  m.live_hits = 72;
  m.ece = 3.25;
  m.reliability = {{"50-60", 55.5, 0.58, 80}, {"60-70", 64, 0.625, 40}};
  m.interval_coverage = 0.81;
  m.with_interval = 118;
  m.coverage_target = 0.8;
  m.coverage_gap = 0.05;
  d.models.push_back(m);
  d.workers.push_back({"launcher", "", "running", 1234, 0, "", {kNaN, ""}, {1.8e9, "2027-01-15 08:00:00+00"}});
  d.workers.push_back({"monitor", "cryptoml", "sleeping", 1240, 2, "BTCUSDT: relation does not exist", {1.8e9, "2027-01-15 07:59:00+00"},
                       {1.8e9, "2027-01-15 08:00:00+00"}});
  d.has_backtest = true;
  d.backtest.run_id = "bt-0123456789abcdef01234567";
  d.backtest.symbol = "BTCUSDT";
  d.backtest.horizon = 5;
  d.backtest.model_type = "xgboost";
  std::vector<cml::DashBar> bars;
  for (int i = 0; i < 100; i++) bars.push_back({1.7e9 + 60.0 * i, 100 + i * 0.1});
  d.backtest.equity = cml::equity_curve(bars, {{1.7e9 + 600, 1.0}, {1.7e9 + 1200, -0.5}}, 0.1, 0.05);
  d.backtest.final_strategy = d.backtest.equity.back().strategy;
  d.backtest.final_buy_and_hold = d.backtest.equity.back().buy_and_hold;
  d.backtest.trades = 2;
  d.backtest.predictions = 100;
  return d;
}

TEST(DashboardEscape, EscapesMarkupAndQuotes) {
  EXPECT_EQ(cml::html_escape("<script>alert(\"x\")</script>&'"), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
  EXPECT_EQ(cml::html_escape("plain BTCUSDT"), "plain BTCUSDT");
  EXPECT_EQ(cml::html_escape("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");  // valid UTF-8 kept
  EXPECT_EQ(cml::html_escape(std::string("a\x01" "b\xFF" "c", 5)), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c");
  EXPECT_EQ(cml::html_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong form refused
}

TEST(DashboardEscape, HostileDataComesOutEscaped) {
  cml::DashboardData d = full();
  d.symbols[0].symbol = "<script>alert(1)</script>";
  d.symbols[0].alerts[0].message = "<img src=x onerror=alert(1)>";
  d.workers[1].last_error = "\"><script>steal()</script>";
  d.models[0].batch_id = "b\" onmouseover=\"x";
  d.backtest.run_id = "<b>run</b>";
  d.generated_at = "<i>";
  const std::string page = cml::render_dashboard(d);
  EXPECT_FALSE(has(lower(page), "<script"));
  EXPECT_FALSE(has(page, "<img"));
  EXPECT_FALSE(has(page, "<b>run"));
  EXPECT_FALSE(has(page, "<i>"));
  EXPECT_FALSE(has(page, "\" onmouseover=\"x"));
  EXPECT_TRUE(has(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(has(page, "id=\"symbol-&lt;script&gt;alert(1)&lt;/script&gt;\""));
  EXPECT_TRUE(has(page, "&quot;&gt;&lt;script&gt;steal()&lt;/script&gt;"));
  EXPECT_TRUE(has(page, "&lt;img src=x onerror=alert(1)&gt;"));
}

TEST(DashboardSections, EverySectionWithItsId) {
  const std::string page = cml::render_dashboard(full());
  for (const char* id : {"summary", "alerts", "symbols", "symbol-BTCUSDT", "symbol-ETHUSDT", "models", "model-xgb-BTCUSDT-15-1", "workers",
                         "backtest", "chart-price-BTCUSDT", "chart-reliability-xgb-BTCUSDT-15-1", "chart-equity"})
    EXPECT_TRUE(has(page, std::string("id=\"") + id + "\"")) << id;
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(has(page, "</html>"));
  EXPECT_EQ(count(page, "<style>"), 1u);
  EXPECT_GE(count(page, "<svg"), 4u);  // two price charts, a reliability diagram, the equity curve
  EXPECT_GE(count(page, "<polyline"), 4u);
  EXPECT_TRUE(has(page, "forecast interval"));  // legend
  EXPECT_TRUE(has(page, "buy and hold"));
  EXPECT_TRUE(has(page, "stated confidence (%)"));  // axis titles
  EXPECT_TRUE(has(page, "observed hit rate (%)"));
}

TEST(DashboardSections, FiguresInDataAttributes) {
  const std::string page = cml::render_dashboard(full());
  EXPECT_TRUE(has(page, "<td data-field=\"staleness_seconds\" data-symbol=\"BTCUSDT\" data-value=\"42.5\">42.5</td>"));
  EXPECT_TRUE(has(page, "data-field=\"completeness\" data-symbol=\"BTCUSDT\" data-value=\"0.95\">0.95<"));
  EXPECT_TRUE(has(page, "data-field=\"batch_id\" data-batch=\"xgb-BTCUSDT-15-1\""));
  EXPECT_TRUE(has(page, "data-field=\"live_accuracy\" data-batch=\"xgb-BTCUSDT-15-1\" data-symbol=\"BTCUSDT\" data-horizon=\"15\" data-value=\"0.6\">0.6<"));
  EXPECT_TRUE(has(page, "data-field=\"worker\" data-worker=\"monitor\" data-database=\"cryptoml\" data-value=\"monitor\""));
  EXPECT_TRUE(has(page, "data-field=\"run_id\" data-run=\"bt-0123456789abcdef01234567\""));
  EXPECT_TRUE(has(page, "data-field=\"signal\""));
  EXPECT_TRUE(has(page, "data-field=\"lower_price\""));
  EXPECT_TRUE(has(page, "data-field=\"alert_kind\" data-symbol=\"BTCUSDT\" data-alert=\"stale_data\" data-value=\"stale_data\""));
  EXPECT_TRUE(has(page, "data-field=\"anomaly_kind\""));
}

TEST(DashboardSections, WilsonIntervalOfTheLiveAccuracy) {
  const std::string page = cml::render_dashboard(full());
  cml::Interval w = cml::wilson_interval(72, 120);
  EXPECT_TRUE(has(page, "data-field=\"accuracy_low95\" data-batch=\"xgb-BTCUSDT-15-1\" data-symbol=\"BTCUSDT\" data-horizon=\"15\" data-value=\"" +
                            cml::format_double(w.low) + "\""));
  EXPECT_TRUE(has(page, "data-value=\"" + cml::format_double(w.high) + "\""));
  EXPECT_LT(w.low, 0.6);
  // coverage off target by more than the gap, over >= 100 outcomes, is flagged
  EXPECT_FALSE(has(page, "<span class=\"bad\"><span data-field=\"interval_coverage\""));
  cml::DashboardData d = full();
  d.models[0].interval_coverage = 0.6;
  EXPECT_TRUE(has(cml::render_dashboard(d), "<span class=\"bad\"><span data-field=\"interval_coverage\""));
  EXPECT_GT(w.high, 0.6);
}

TEST(DashboardEmpty, EmptySectionsSaySo) {
  cml::DashboardData d;
  d.generated_at = "now";
  const std::string page = cml::render_dashboard(d);
  EXPECT_TRUE(has(page, "no production model"));
  EXPECT_TRUE(has(page, "no backtest yet"));
  EXPECT_TRUE(has(page, "no worker reported"));
  EXPECT_TRUE(has(page, "no open alert"));
  EXPECT_TRUE(has(page, "no symbol"));
  for (const char* id : {"alerts", "symbols", "models", "workers", "backtest"}) EXPECT_TRUE(has(page, std::string("id=\"") + id + "\"")) << id;
  // a symbol without bars, forecasts or anomalies; a model without outcomes
  d.symbols.push_back(symbol("SOLUSDT", 0));
  cml::DashModel m;
  m.symbol = "SOLUSDT";
  m.batch_id = "b1";
  m.age_hours = kNaN;
  m.ece = kNaN;
  m.interval_coverage = kNaN;
  m.coverage_target = 0.8;
  d.models.push_back(m);
  const std::string p2 = cml::render_dashboard(d);
  EXPECT_TRUE(has(p2, "no bar"));
  EXPECT_TRUE(has(p2, "no forecast yet"));
  EXPECT_TRUE(has(p2, "no anomaly"));
  EXPECT_TRUE(has(p2, "no outcome yet"));
  EXPECT_TRUE(has(p2, "data-field=\"live_accuracy\" data-batch=\"b1\" data-symbol=\"SOLUSDT\" data-horizon=\"0\" data-value=\"\">n/a<"));
}

TEST(DashboardNumbers, NaNAndInfinityNeverPrinted) {
  cml::DashboardData d = full();
  d.symbols[0].staleness_seconds = kNaN;
  d.symbols[0].completeness = kInf;
  d.symbols[0].forecasts[0].lower_price = kNaN;
  d.symbols[0].forecasts[0].confidence = -kInf;
  d.symbols[0].bars[5].close = kNaN;
  d.models[0].ece = kNaN;
  d.models[0].interval_coverage = kInf;
  d.models[0].reliability[0].observed = kNaN;
  d.backtest.final_strategy = kNaN;
  d.backtest.equity[3].strategy = kInf;
  const std::string page = cml::render_dashboard(d);
  const std::string l = lower(page);
  EXPECT_FALSE(std::regex_search(l, std::regex("[^a-z]nan[^a-z]")));
  EXPECT_FALSE(has(l, "infinity"));
  EXPECT_FALSE(std::regex_search(l, std::regex("[^a-z.]inf[^a-z.]")));
  EXPECT_TRUE(has(page, "data-field=\"staleness_seconds\" data-symbol=\"BTCUSDT\" data-value=\"\">n/a<"));
  EXPECT_TRUE(has(page, "no interval"));
}

TEST(DashboardSafety, NoScriptNoOutsideResource) {
  const std::string page = cml::render_dashboard(full());
  const std::string l = lower(page);
  EXPECT_FALSE(has(l, "<script"));
  EXPECT_FALSE(has(l, "javascript:"));
  EXPECT_FALSE(has(l, "@import"));
  EXPECT_FALSE(has(l, "@font-face"));
  EXPECT_FALSE(has(l, "url("));
  EXPECT_FALSE(std::regex_search(l, std::regex("\\ssrc\\s*=")));
  EXPECT_FALSE(has(l, "<link"));
  EXPECT_FALSE(has(l, "http://"));
  EXPECT_FALSE(has(l, "https://"));
  // every href is an anchor of the page
  std::smatch m;
  std::string rest = l;
  int hrefs = 0;
  while (std::regex_search(rest, m, std::regex("href=\"([^\"]*)\""))) {
    EXPECT_EQ(m[1].str().rfind("#", 0), 0u) << m[1].str();
    hrefs++;
    rest = m.suffix();
  }
  EXPECT_GT(hrefs, 0);
  EXPECT_FALSE(std::regex_search(l, std::regex("\\son[a-z]+\\s*=")));  // no event handler attribute
}

TEST(DashboardSize, PriceDownsampledToTheLastBars) {
  cml::DashboardData d = full();
  const std::string page = cml::render_dashboard(d);
  EXPECT_TRUE(has(page, "data-field=\"bars_shown\" data-symbol=\"BTCUSDT\" data-value=\"240\""));
  EXPECT_TRUE(has(page, "data-field=\"bars_shown\" data-symbol=\"ETHUSDT\" data-value=\"10\""));
  EXPECT_TRUE(has(page, "close of the last 240 bars"));
  // six symbols of 10,000 bars each, a long backtest: still a small page
  d.symbols.clear();
  for (const char* s : {"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"}) d.symbols.push_back(symbol(s, 10000));
  std::vector<cml::DashBar> bars;
  for (int i = 0; i < 100000; i++) bars.push_back({1.7e9 + 60.0 * i, 100 + std::sin(i / 50.0)});
  d.backtest.equity = cml::equity_curve(bars, {}, 0.1, 0.05);
  EXPECT_EQ(d.backtest.equity.size(), cml::kMaxEquityPoints);
  EXPECT_EQ(d.backtest.equity.front().epoch, 1.7e9);
  EXPECT_EQ(d.backtest.equity.back().epoch, 1.7e9 + 60.0 * 99999);
  const std::string big = cml::render_dashboard(d);
  EXPECT_LT(big.size(), 400u * 1024);
}

TEST(DashboardEquity, CompoundsTradesAndBuyAndHoldAfterCosts) {
  std::vector<cml::DashBar> bars = {{0, 100}, {60, 101}, {120, 102}, {180, 110}};
  auto e = cml::equity_curve(bars, {{60, 10}, {150, -5}, {500, 2}}, 0.1, 0.05);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_DOUBLE_EQ(e[0].strategy, 100);
  EXPECT_DOUBLE_EQ(e[1].strategy, 110);
  EXPECT_DOUBLE_EQ(e[2].strategy, 110);
  EXPECT_DOUBLE_EQ(e[3].strategy, 100 * 1.1 * 0.95 * 1.02);  // a trade closed after the last bar counts at the end
  EXPECT_DOUBLE_EQ(e[0].buy_and_hold, 100 - 0.3);
  EXPECT_DOUBLE_EQ(e[3].buy_and_hold, 100 + 100 * (110.0 / 100 - 1) - 0.3);
  EXPECT_TRUE(cml::equity_curve({}, {{1, 1}}, 0.1, 0.05).empty());
}

TEST(DashboardJson, ReadsTheQueryDocument) {
  const std::string j = R"({"generated_at": "2026-12-07 06:00:00 UTC", "symbol_filter": null,
    "symbols": [{"symbol": "BTCUSDT", "configured": true, "latest_bar": "2026-12-07 05:59:00", "latest_bar_epoch": 1796536740,
                 "staleness_seconds": 12.25, "staleness_threshold": 300, "completeness": 0.9833333333333333,
                 "completeness_threshold": 0.95, "bars": [[1796536680, 100.5], [1796536740, 101]],
                 "forecasts": [{"horizon": 15, "forecast_at": "x", "forecast_at_epoch": 1796536740, "target_at": "y",
                                "target_at_epoch": 1796537640, "close": 101, "predicted_change": 0.1, "predicted_price": 101.101,
                                "lower_price": null, "upper_price": null, "signal": "WAIT", "confidence": 50,
                                "live_confidence": "NaN", "model_version": "m1"}],
                 "alerts": [{"kind": "stale_data", "level": "error", "message": "m", "value": 630, "threshold": 300, "since": "s"}],
                 "anomalies": [{"kind": "gap", "at": "t", "detail": "2 minutes without a bar"}]}],
    "models": [{"symbol": "BTCUSDT", "horizon": 15, "model_type": "xgboost", "batch_id": "m1", "age_hours": 1.5, "live_n": 10,
                "live_hits": 7, "ece": 4.5, "reliability": [{"bucket": "50-60", "stated": 55, "observed": 0.7, "count": 10}],
                "interval_coverage": 0.8, "with_interval": 10, "coverage_target": 0.8}],
    "workers": [{"worker": "launcher", "database": null, "state": "not loaded", "pid": null, "errors": 0, "last_error": "x"}],
    "backtest": {"run_id": "bt-1", "symbol": "BTCUSDT", "horizon": 5, "model_type": "xgboost", "predictions": 3, "trades": 1,
                 "fee_pct": 0.1, "slippage_pct": 0.05, "bars": [[0, 100], [60, 105]], "trade_pnl": [[60, 2]]}})";
  cml::DashboardData d = cml::dashboard_data_from_json(j);
  ASSERT_EQ(d.symbols.size(), 1u);
  EXPECT_EQ(d.symbols[0].completeness, 0.9833333333333333);
  EXPECT_EQ(d.symbols[0].bars.size(), 2u);
  ASSERT_EQ(d.symbols[0].forecasts.size(), 1u);
  EXPECT_TRUE(std::isnan(d.symbols[0].forecasts[0].lower_price));
  EXPECT_TRUE(std::isnan(d.symbols[0].forecasts[0].live_confidence));
  EXPECT_EQ(d.models[0].live_hits, 7);
  EXPECT_EQ(d.workers[0].pid, -1);
  EXPECT_EQ(d.workers[0].database, "");
  ASSERT_TRUE(d.has_backtest);
  EXPECT_DOUBLE_EQ(d.backtest.final_strategy, 102);
  EXPECT_DOUBLE_EQ(d.backtest.final_buy_and_hold, 104.7);
  const std::string page = cml::render_dashboard(d);
  EXPECT_TRUE(has(page, "data-value=\"0.9833333333333333\">0.9833<"));
  EXPECT_TRUE(has(page, "data-field=\"pid\" data-worker=\"launcher\" data-database=\"\" data-value=\"\">none<"));

  cml::DashboardData none = cml::dashboard_data_from_json(R"({"generated_at": "t", "symbols": [], "models": [], "workers": [], "backtest": null})");
  EXPECT_FALSE(none.has_backtest);
  EXPECT_THROW(cml::dashboard_data_from_json("{not json"), cml::DataError);
  EXPECT_THROW(cml::dashboard_data_from_json("[1]"), cml::DataError);
}

}  // namespace
