// The self-contained HTML dashboard of ml_dashboard() (issue 16): plain data in, one HTML page out.
//
// The page has no script, no external resource (no URL at all), no web font: inline CSS in one
// <style>, charts as inline <svg> with polylines, axis labels and a legend. Every string that comes
// from data is HTML-escaped. Every figure is printed through cml::format_double and also carried in
// a machine-checkable element: data-field names the figure, data-symbol / data-batch / data-worker
// / data-run the thing it belongs to, and data-value holds the exact value (empty when missing),
// while the element's text is the value rounded for reading ("n/a" when missing: NaN and
// infinities are never printed as numbers).
//
// Stable ids: id="summary", "alerts", "symbols", "symbol-<SYMBOL>" (one per symbol), "models",
// "model-<batch_id>", "workers", "backtest".
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace cml {

// A figure not known (printed "n/a", data-value empty).
constexpr double kDashMissing = std::numeric_limits<double>::quiet_NaN();

// A time is carried twice: `epoch` (seconds since 1970-01-01 UTC, for the charts; NaN when
// unknown) and `text` (as the database printed it, for reading; empty when unknown).
struct DashTime {
  double epoch = kDashMissing;
  std::string text;
};

struct DashBar {
  double epoch = kDashMissing;  // bar open time
  double close = kDashMissing;
};

struct DashForecast {
  int horizon = 0;               // minutes
  DashTime forecast_at;          // the bar the forecast was made from
  DashTime target_at;            // forecast_at + horizon
  double close_at_forecast = kDashMissing;      // close of that bar (NaN when the bar is gone)
  double predicted_change = kDashMissing;       // served change, %
  double predicted_price = kDashMissing;        // close_at_forecast * (1 + predicted_change / 100)
  double lower_price = kDashMissing;            // interval bounds as prices; NaN without an interval
  double upper_price = kDashMissing;
  std::string signal;            // LONG, SHORT or WAIT
  double confidence = kDashMissing;             // stated confidence, % (50-100)
  double live_confidence = kDashMissing;        // decayed by age (ml_forecasts_live.confidence)
  std::string model_version;
};

struct DashAlert {
  std::string kind;   // stale_data, completeness, interval_coverage_h15, ...
  std::string level;  // warning, error
  std::string message;
  double value = kDashMissing;
  double threshold = kDashMissing;
  DashTime since;
};

struct DashAnomaly {
  std::string kind;  // gap, invalid_bar, incomplete
  DashTime at;
  std::string detail;
};

struct DashSymbol {
  std::string symbol;
  bool configured = true;          // in the symbols setting
  DashTime latest_bar;
  double staleness_seconds = kDashMissing;        // NaN without any bar
  double staleness_threshold = kDashMissing;      // seconds
  double completeness = kDashMissing;             // ratio 0-1 over the last 60 minutes
  double completeness_threshold = kDashMissing;
  std::vector<DashBar> bars;       // in time order; the renderer keeps the last kMaxBars
  std::vector<DashForecast> forecasts;
  std::vector<DashAlert> alerts;
  std::vector<DashAnomaly> anomalies;
};

struct DashReliabilityBin {
  std::string bucket;     // 0-50, 50-60, ..., 90-100
  double stated = kDashMissing;          // mean stated confidence, %
  double observed = kDashMissing;        // observed hit rate, 0-1
  long long count = 0;
};

struct DashModel {
  std::string symbol;
  int horizon = 0;
  std::string model_type;
  std::string batch_id;
  DashTime created_at;
  double age_hours = kDashMissing;
  long long live_n = 0;      // outcomes with a direction (outcome != 0)
  long long live_hits = 0;   // of which the raw output had the outcome's sign
  double ece = kDashMissing;                // expected calibration error, points; NaN without outcomes
  std::vector<DashReliabilityBin> reliability;
  double interval_coverage = kDashMissing;  // NaN without an outcome with an interval
  long long with_interval = 0;
  double coverage_target = kDashMissing;    // inference.intervalCoverage
  double coverage_gap = kDashMissing;       // monitoring.alertThresholds.intervalCoverageGap: off target by more is flagged (over >= 100 outcomes)
};

struct DashWorker {
  std::string name;
  std::string database;
  std::string state;
  long long pid = -1;  // -1: none
  long long errors = 0;
  std::string last_error;
  DashTime last_error_at;
  DashTime last_run;
};

struct DashEquityPoint {
  double epoch = kDashMissing;
  double strategy = kDashMissing;     // equity of the backtest's trades, compounded, from 100
  double buy_and_hold = kDashMissing; // 100 + the buy-and-hold return (after its round trip's costs) if closed then
};

struct DashBacktest {
  std::string run_id;
  std::string symbol;
  int horizon = 0;
  std::string model_type;
  DashTime from, to;
  long long predictions = 0;
  long long trades = 0;
  std::vector<DashEquityPoint> equity;  // in time order
  double final_strategy = kDashMissing;                // NaN when no bar
  double final_buy_and_hold = kDashMissing;
};

struct DashboardData {
  std::string generated_at;
  std::string symbol_filter;  // empty: every symbol
  std::vector<DashSymbol> symbols;
  std::vector<DashModel> models;
  std::vector<DashWorker> workers;
  bool has_backtest = false;
  DashBacktest backtest;
};

// The price chart shows at most this many bars: the last ones.
constexpr std::size_t kMaxBars = 240;
// An equity curve is drawn with at most this many points (evenly picked, last point kept).
constexpr std::size_t kMaxEquityPoints = 400;

// The page.
std::string render_dashboard(const DashboardData& d);

// &, <, >, " and ' as entities; bytes that are not valid UTF-8 and control characters other than
// tab and newline become U+FFFD.
std::string html_escape(const std::string& s);

// The equity curves of a backtest: `bars` (epoch, close) in time order, `trades` (exit epoch,
// net P&L %) in trade order; the strategy's equity at a bar compounds the trades closed by then;
// buy and hold is 100 + 100 (close / first close - 1) - 2 (fee + slippage), its return if closed
// at that bar. Downsampled to kMaxEquityPoints (first and last kept).
std::vector<DashEquityPoint> equity_curve(const std::vector<DashBar>& bars,
                                          const std::vector<std::pair<double, double>>& trades,
                                          double fee_pct, double slippage_pct);

// DashboardData from the JSON document ml_dashboard's query builds (see src/pg/dashboard.cpp for
// its shape). Missing or null numbers become NaN. Throws InvalidParameter on malformed JSON.
DashboardData dashboard_data_from_json(const std::string& json_text);

}  // namespace cml
