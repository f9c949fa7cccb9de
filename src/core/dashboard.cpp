// The HTML dashboard (see dashboard.hpp). Pure C++17.
#include "dashboard.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "text.hpp"
#include "trading.hpp"

namespace cml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- text -----------------------------------------------------------------------------------------

// The value rounded to `decimals` places for reading; "n/a" when not finite.
std::string shown(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  double p = std::pow(10.0, decimals);
  double r = std::round(v * p) / p;
  if (!std::isfinite(r)) r = v;
  if (r == 0) r = 0;  // no "-0"
  return format_double(r);
}

// The exact value for a data-value attribute; empty when not finite.
std::string exact(double v) { return std::isfinite(v) ? format_double(v) : std::string(); }

std::string integer(long long v) { return std::to_string(v); }

// An element carrying one figure: <tag data-field=... (owner attributes) data-value=...>text</tag>.
std::string figure(const char* tag, const std::string& field, const std::string& owner_attrs, double v, int decimals,
                   const std::string& unit = {}) {
  std::string s = "<";
  s += tag;
  s += " data-field=\"" + html_escape(field) + "\"" + owner_attrs + " data-value=\"" + exact(v) + "\">";
  s += shown(v, decimals);
  if (std::isfinite(v) && !unit.empty()) s += unit;
  s += "</";
  s += tag;
  s += ">";
  return s;
}
std::string figure_int(const char* tag, const std::string& field, const std::string& owner_attrs, long long v) {
  return std::string("<") + tag + " data-field=\"" + html_escape(field) + "\"" + owner_attrs + " data-value=\"" + integer(v) +
         "\">" + integer(v) + "</" + tag + ">";
}
std::string figure_text(const char* tag, const std::string& field, const std::string& owner_attrs, const std::string& v,
                        const std::string& empty_text = "none") {
  return std::string("<") + tag + " data-field=\"" + html_escape(field) + "\"" + owner_attrs + " data-value=\"" + html_escape(v) +
         "\">" + (v.empty() ? html_escape(empty_text) : html_escape(v)) + "</" + tag + ">";
}

std::string attr(const char* name, const std::string& v) { return std::string(" ") + name + "=\"" + html_escape(v) + "\""; }

std::string time_text(const DashTime& t) { return t.text.empty() ? std::string("n/a") : html_escape(t.text); }

// "2026-12-07 06:20" (UTC) of an epoch; "n/a" when not finite.
std::string epoch_label(double epoch, bool with_date) {
  if (!std::isfinite(epoch) || std::fabs(epoch) > 1e12) return "n/a";
  std::time_t t = static_cast<std::time_t>(std::floor(epoch));
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "n/a";
  char buf[32];
  std::strftime(buf, sizeof buf, with_date ? "%Y-%m-%d %H:%M" : "%H:%M", &tm);
  return buf;
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds)) return "n/a";
  if (seconds < 120) return shown(seconds, 0) + " s";
  if (seconds < 7200) return shown(seconds / 60, 1) + " min";
  if (seconds < 172800) return shown(seconds / 3600, 1) + " h";
  return shown(seconds / 86400, 1) + " days";
}

// ---- charts ---------------------------------------------------------------------------------------

struct Series {
  std::string name;
  std::string css;  // class of the line (colour, dash)
  std::vector<std::pair<double, double>> pts;
  bool markers = false;
};

// An interval drawn as a vertical bar at x from y0 to y1.
struct Whisker {
  double x, y0, y1;
  std::string css;
};

struct Chart {
  std::string id;
  std::string title;
  std::string x_title, y_title;
  bool x_time = false;
  double width = 880, height = 300;
  std::vector<Series> series;
  std::vector<Whisker> whiskers;
  bool diagonal = false;             // y = x reference line (reliability)
  double x_min = kNaN, x_max = kNaN;  // fixed ranges (NaN: from the data)
  double y_min = kNaN, y_max = kNaN;
};

void widen(double& lo, double& hi, double v) {
  if (!std::isfinite(v)) return;
  if (!std::isfinite(lo) || v < lo) lo = v;
  if (!std::isfinite(hi) || v > hi) hi = v;
}

std::string num(double v) {  // coordinates: 2 decimals are plenty
  return shown(v, 2);
}

std::string render_chart(const Chart& c) {
  double x0 = c.x_min, x1 = c.x_max, y0 = c.y_min, y1 = c.y_max;
  bool fixed_x = std::isfinite(x0) && std::isfinite(x1), fixed_y = std::isfinite(y0) && std::isfinite(y1);
  if (!fixed_x) x0 = x1 = kNaN;
  if (!fixed_y) y0 = y1 = kNaN;
  for (const auto& s : c.series)
    for (const auto& p : s.pts) {
      if (!std::isfinite(p.first) || !std::isfinite(p.second)) continue;
      if (!fixed_x) widen(x0, x1, p.first);
      if (!fixed_y) widen(y0, y1, p.second);
    }
  for (const auto& w : c.whiskers) {
    if (!std::isfinite(w.x)) continue;
    if (!fixed_x) widen(x0, x1, w.x);
    if (!fixed_y) {
      widen(y0, y1, w.y0);
      widen(y0, y1, w.y1);
    }
  }
  std::string out = "<figure class=\"chart\"" + attr("id", c.id) + "><figcaption>" + html_escape(c.title) + "</figcaption>";
  if (!std::isfinite(x0) || !std::isfinite(y0)) return out + "<p class=\"empty\">no data to draw</p></figure>";
  if (x1 <= x0) {
    x0 -= 1;
    x1 += 1;
  }
  if (y1 <= y0) {
    double pad = std::fabs(y0) > 0 ? std::fabs(y0) * 0.001 : 1;
    y0 -= pad;
    y1 += pad;
  } else if (!fixed_y) {
    double pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
  }
  const double L = 70, R = 16, T = 14, B = 46;
  const double pw = c.width - L - R, ph = c.height - T - B;
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * pw; };
  auto Y = [&](double y) { return T + (1 - (y - y0) / (y1 - y0)) * ph; };
  out += "<svg role=\"img\" viewBox=\"0 0 " + num(c.width) + " " + num(c.height) + "\" width=\"" +
         num(c.width) + "\" height=\"" + num(c.height) + "\"><title>" + html_escape(c.title) + "</title>";
  out += "<rect class=\"plot\" x=\"" + num(L) + "\" y=\"" + num(T) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) + "\"/>";
  // grid and tick labels: 5 on each axis
  const int ticks = 5;
  bool same_day = c.x_time && epoch_label(x0, true).substr(0, 10) == epoch_label(x1, true).substr(0, 10);
  for (int i = 0; i <= ticks; i++) {
    double fx = x0 + (x1 - x0) * i / ticks, fy = y0 + (y1 - y0) * i / ticks;
    out += "<line class=\"grid\" x1=\"" + num(X(fx)) + "\" y1=\"" + num(T) + "\" x2=\"" + num(X(fx)) + "\" y2=\"" + num(T + ph) + "\"/>";
    out += "<line class=\"grid\" x1=\"" + num(L) + "\" y1=\"" + num(Y(fy)) + "\" x2=\"" + num(L + pw) + "\" y2=\"" + num(Y(fy)) + "\"/>";
    std::string xl = c.x_time ? epoch_label(fx, !same_day) : shown(fx, 1);
    out += "<text class=\"tick\" x=\"" + num(X(fx)) + "\" y=\"" + num(T + ph + 16) + "\" text-anchor=\"middle\">" + html_escape(xl) + "</text>";
    double span = y1 - y0;
    int dec = span >= 100 ? 0 : span >= 1 ? 2 : span >= 0.01 ? 4 : 6;
    out += "<text class=\"tick\" x=\"" + num(L - 6) + "\" y=\"" + num(Y(fy) + 4) + "\" text-anchor=\"end\">" + shown(fy, dec) + "</text>";
  }
  out += "<line class=\"axis\" x1=\"" + num(L) + "\" y1=\"" + num(T + ph) + "\" x2=\"" + num(L + pw) + "\" y2=\"" + num(T + ph) + "\"/>";
  out += "<line class=\"axis\" x1=\"" + num(L) + "\" y1=\"" + num(T) + "\" x2=\"" + num(L) + "\" y2=\"" + num(T + ph) + "\"/>";
  std::string xt = c.x_title + (c.x_time ? std::string(same_day ? " (UTC, " + epoch_label(x0, true).substr(0, 10) + ")" : " (UTC)") : "");
  out += "<text class=\"axis-title\" x=\"" + num(L + pw / 2) + "\" y=\"" + num(c.height - 6) + "\" text-anchor=\"middle\">" + html_escape(xt) +
         "</text>";
  out += "<text class=\"axis-title\" transform=\"translate(14 " + num(T + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         html_escape(c.y_title) + "</text>";
  if (c.diagonal)
    out += "<line class=\"diag\" x1=\"" + num(X(std::max(x0, y0))) + "\" y1=\"" + num(Y(std::max(x0, y0))) + "\" x2=\"" +
           num(X(std::min(x1, y1))) + "\" y2=\"" + num(Y(std::min(x1, y1))) + "\"/>";
  for (const auto& w : c.whiskers) {
    if (!std::isfinite(w.x) || !std::isfinite(w.y0) || !std::isfinite(w.y1)) continue;
    out += "<line class=\"" + html_escape(w.css) + "\" x1=\"" + num(X(w.x)) + "\" y1=\"" + num(Y(w.y0)) + "\" x2=\"" + num(X(w.x)) + "\" y2=\"" +
           num(Y(w.y1)) + "\"/>";
    for (double yy : {w.y0, w.y1})
      out += "<line class=\"" + html_escape(w.css) + "\" x1=\"" + num(X(w.x) - 4) + "\" y1=\"" + num(Y(yy)) + "\" x2=\"" + num(X(w.x) + 4) +
             "\" y2=\"" + num(Y(yy)) + "\"/>";
  }
  for (const auto& s : c.series) {
    std::string pts;
    int k = 0;
    for (const auto& p : s.pts) {
      if (!std::isfinite(p.first) || !std::isfinite(p.second)) continue;
      if (k++) pts += ' ';
      pts += num(X(p.first)) + "," + num(Y(p.second));
    }
    if (k >= 2) out += "<polyline class=\"" + html_escape(s.css) + "\" points=\"" + pts + "\"/>";
    if (s.markers || k == 1)
      for (const auto& p : s.pts)
        if (std::isfinite(p.first) && std::isfinite(p.second))
          out += "<circle class=\"" + html_escape(s.css) + " marker\" cx=\"" + num(X(p.first)) + "\" cy=\"" + num(Y(p.second)) + "\" r=\"3\"/>";
  }
  // legend
  double lx = L + 8, ly = T + 12;
  for (const auto& s : c.series) {
    out += "<line class=\"" + html_escape(s.css) + "\" x1=\"" + num(lx) + "\" y1=\"" + num(ly - 4) + "\" x2=\"" + num(lx + 18) + "\" y2=\"" +
           num(ly - 4) + "\"/><text class=\"legend\" x=\"" + num(lx + 22) + "\" y=\"" + num(ly) + "\">" + html_escape(s.name) + "</text>";
    lx += 30 + 7.0 * (double)s.name.size();
  }
  if (!c.whiskers.empty())
    out += "<line class=\"" + html_escape(c.whiskers.front().css) + "\" x1=\"" + num(lx + 9) + "\" y1=\"" + num(ly - 10) + "\" x2=\"" +
           num(lx + 9) + "\" y2=\"" + num(ly + 2) + "\"/><text class=\"legend\" x=\"" + num(lx + 22) + "\" y=\"" + num(ly) +
           "\">forecast interval</text>";
  if (c.diagonal)
    out += "<text class=\"legend\" x=\"" + num(L + pw - 8) + "\" y=\"" + num(T + ph - 8) + "\" text-anchor=\"end\">dashed: perfect calibration</text>";
  out += "</svg></figure>";
  return out;
}

// ---- sections -------------------------------------------------------------------------------------

const char* kStyle =
    "body{font-family:sans-serif;margin:0 24px 40px;color:#1d2330;background:#fafbfc;font-size:14px}"
    "h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #d5dae3;padding-bottom:4px}"
    "h3{font-size:16px;margin:18px 0 6px}nav a{margin-right:14px;color:#2357a8}"
    "table{border-collapse:collapse;margin:6px 0 10px;background:#fff}th,td{border:1px solid #d5dae3;padding:3px 8px;text-align:left;"
    "vertical-align:top}th{background:#eef1f6}td[data-value]{font-variant-numeric:tabular-nums}"
    ".bad{color:#b3261e;font-weight:bold}.good{color:#1e7b34}.empty{color:#6b7280;font-style:italic}"
    "article{background:#fff;border:1px solid #d5dae3;border-radius:6px;padding:4px 14px 10px;margin:12px 0}"
    "figure.chart{margin:8px 0}figcaption{font-weight:bold;margin-bottom:2px}"
    "svg{background:#fff;max-width:100%;height:auto}svg .plot{fill:#fcfcfe;stroke:none}"
    "svg .grid{stroke:#e4e7ee;stroke-width:1}svg .axis{stroke:#4b5563;stroke-width:1}"
    "svg .tick,svg .legend,svg .axis-title{font-family:sans-serif;font-size:11px;fill:#374151}"
    "svg polyline{fill:none;stroke-width:1.6}svg .marker{stroke-width:1}"
    "svg .s-close{stroke:#2357a8}svg .s-forecast{stroke:#d9480f;stroke-dasharray:5 3}svg circle.s-forecast{fill:#d9480f}"
    "svg .s-interval{stroke:#d9480f;stroke-width:1.5;opacity:.7}"
    "svg .s-strategy{stroke:#1e7b34}svg .s-hold{stroke:#7c3aed;stroke-dasharray:6 3}"
    "svg .s-reliab{stroke:#2357a8}svg circle.s-reliab{fill:#2357a8}svg .diag{stroke:#9ca3af;stroke-dasharray:4 4}"
    ".kv td:first-child{color:#4b5563}.muted{color:#6b7280}";

std::string owner_symbol(const std::string& sym) { return attr("data-symbol", sym); }

std::string section_summary(const DashboardData& d) {
  long long alerts = 0, anomalies = 0;
  for (const auto& s : d.symbols) {
    alerts += (long long)s.alerts.size();
    anomalies += (long long)s.anomalies.size();
  }
  std::string o = "<section id=\"summary\"><table class=\"kv\">";
  o += "<tr><td>generated</td>" + figure_text("td", "generated_at", "", d.generated_at, "n/a") + "</tr>";
  o += "<tr><td>symbols</td>" + figure_int("td", "symbol_count", "", (long long)d.symbols.size()) + "</tr>";
  o += "<tr><td>production models</td>" + figure_int("td", "model_count", "", (long long)d.models.size()) + "</tr>";
  o += "<tr><td>open alerts</td>" + figure_int("td", "open_alert_count", "", alerts) + "</tr>";
  o += "<tr><td>anomalies in the charts</td>" + figure_int("td", "anomaly_count", "", anomalies) + "</tr>";
  o += "</table></section>";
  return o;
}

std::string alert_rows(const DashSymbol& s) {
  std::string o;
  for (const auto& a : s.alerts) {
    std::string own = owner_symbol(s.symbol) + attr("data-alert", a.kind);
    o += "<tr" + own + "><td>" + html_escape(s.symbol) + "</td>" + figure_text("td", "alert_kind", own, a.kind) +
         "<td class=\"" + std::string(a.level == "error" ? "bad" : "") + "\">" + html_escape(a.level) + "</td>" +
         figure("td", "alert_value", own, a.value, 4) + figure("td", "alert_threshold", own, a.threshold, 4) +
         figure_text("td", "alert_since", own, a.since.text, "n/a") + "<td>" + html_escape(a.message) + "</td></tr>";
  }
  return o;
}

std::string section_alerts(const DashboardData& d) {
  std::string o = "<section id=\"alerts\"><h2>Open alerts</h2>";
  std::string rows;
  for (const auto& s : d.symbols) rows += alert_rows(s);
  if (rows.empty())
    o += "<p class=\"empty\">no open alert</p>";
  else
    o += "<table><tr><th>symbol</th><th>alert</th><th>level</th><th>value</th><th>threshold</th><th>since</th><th>message</th></tr>" + rows +
         "</table>";
  return o + "</section>";
}

std::vector<DashBar> last_bars(const std::vector<DashBar>& bars) {
  if (bars.size() <= kMaxBars) return bars;
  return std::vector<DashBar>(bars.end() - (std::ptrdiff_t)kMaxBars, bars.end());
}

std::string symbol_block(const DashSymbol& s) {
  const std::string own = owner_symbol(s.symbol);
  std::string o = "<article" + attr("id", "symbol-" + s.symbol) + own + "><h3>" + html_escape(s.symbol) +
                  (s.configured ? "" : " <span class=\"muted\">(not in the symbols setting)</span>") + "</h3>";
  bool stale_bad = !std::isfinite(s.staleness_seconds) ||
                   (std::isfinite(s.staleness_threshold) && s.staleness_seconds > s.staleness_threshold);
  bool compl_bad = std::isfinite(s.completeness) && std::isfinite(s.completeness_threshold) && s.completeness < s.completeness_threshold;
  o += "<table class=\"kv\">";
  o += "<tr><td>latest bar</td>" + figure_text("td", "latest_bar", own, s.latest_bar.text, "no bar") + "</tr>";
  o += "<tr><td>staleness (s since the latest bar closed)</td>" + figure("td", "staleness_seconds", own, s.staleness_seconds, 1) +
       "<td class=\"" + (stale_bad ? "bad" : "good") + "\">" + duration_text(s.staleness_seconds) + (stale_bad ? ", stale" : ", fresh") +
       " (threshold " + shown(s.staleness_threshold, 1) + " s)</td></tr>";
  o += "<tr><td>staleness (minutes)</td>" + figure("td", "staleness_minutes", own, s.staleness_seconds / 60, 1) + "<td></td></tr>";
  o += "<tr><td>completeness (last 60 min)</td>" + figure("td", "completeness", own, s.completeness, 4) + "<td class=\"" +
       (compl_bad ? "bad" : "good") + "\">" + shown(s.completeness * 100, 1) + (std::isfinite(s.completeness) ? " %" : "") +
       " (threshold " + shown(s.completeness_threshold, 4) + ")</td></tr>";
  o += "<tr><td>open alerts</td>" + figure_int("td", "open_alerts", own, (long long)s.alerts.size()) + "<td></td></tr>";
  o += "</table>";

  // price chart with the forecasts
  std::vector<DashBar> bars = last_bars(s.bars);
  Chart c;
  c.id = "chart-price-" + s.symbol;
  c.title = s.symbol + ": close of the last " + std::to_string(bars.size()) + " bars and the latest forecasts";
  c.x_title = "time";
  c.y_title = "price";
  c.x_time = true;
  Series close{"close", "s-close", {}, false};
  for (const auto& b : bars) close.pts.emplace_back(b.epoch, b.close);
  c.series.push_back(close);
  double first = bars.empty() ? kNaN : bars.front().epoch;
  for (const auto& f : s.forecasts) {
    if (!std::isfinite(f.forecast_at.epoch) || !std::isfinite(first) || f.forecast_at.epoch < first) continue;
    Series fs{"forecast h" + std::to_string(f.horizon), "s-forecast", {}, true};
    fs.pts.emplace_back(f.forecast_at.epoch, f.close_at_forecast);
    fs.pts.emplace_back(f.target_at.epoch, f.predicted_price);
    c.series.push_back(fs);
    if (std::isfinite(f.lower_price) && std::isfinite(f.upper_price)) c.whiskers.push_back({f.target_at.epoch, f.lower_price, f.upper_price, "s-interval"});
  }
  o += bars.empty() ? "<p class=\"empty\">no bar</p>" : render_chart(c);
  o += "<p class=\"muted\">bars shown: <span data-field=\"bars_shown\"" + own + " data-value=\"" + integer((long long)bars.size()) + "\">" +
       integer((long long)bars.size()) + "</span></p>";

  // forecasts
  if (s.forecasts.empty()) {
    o += "<p class=\"empty\">no forecast yet</p>";
  } else {
    o += "<table><tr><th>horizon</th><th>from bar</th><th>target</th><th>change %</th><th>price</th><th>interval</th><th>signal</th>"
         "<th>confidence %</th><th>live confidence %</th><th>model</th></tr>";
    for (const auto& f : s.forecasts) {
      std::string fo = own + attr("data-horizon", std::to_string(f.horizon));
      o += "<tr" + fo + ">" + figure_int("td", "forecast_horizon", fo, f.horizon) + figure_text("td", "forecast_at", fo, f.forecast_at.text, "n/a") +
           figure_text("td", "target_at", fo, f.target_at.text, "n/a") + figure("td", "predicted_change", fo, f.predicted_change, 4) +
           figure("td", "predicted_price", fo, f.predicted_price, 4) + "<td>" +
           (std::isfinite(f.lower_price) && std::isfinite(f.upper_price)
                ? figure("span", "lower_price", fo, f.lower_price, 4) + " to " + figure("span", "upper_price", fo, f.upper_price, 4)
                : std::string("<span class=\"empty\">no interval</span>")) +
           "</td>" + figure_text("td", "signal", fo, f.signal, "n/a") + figure("td", "confidence", fo, f.confidence, 2) +
           figure("td", "live_confidence", fo, f.live_confidence, 2) + figure_text("td", "model_version", fo, f.model_version, "n/a") + "</tr>";
    }
    o += "</table>";
  }
  // alerts and anomalies
  if (s.alerts.empty())
    o += "<p class=\"empty\">no open alert</p>";
  else
    o += "<table><tr><th>symbol</th><th>alert</th><th>level</th><th>value</th><th>threshold</th><th>since</th><th>message</th></tr>" +
         alert_rows(s) + "</table>";
  if (s.anomalies.empty()) {
    o += "<p class=\"empty\">no anomaly in the bars shown</p>";
  } else {
    o += "<table><tr><th>anomaly</th><th>at</th><th>detail</th></tr>";
    for (const auto& a : s.anomalies)
      o += "<tr" + own + ">" + figure_text("td", "anomaly_kind", own, a.kind) + "<td>" + time_text(a.at) + "</td><td>" + html_escape(a.detail) +
           "</td></tr>";
    o += "</table>";
  }
  return o + "</article>";
}

std::string section_symbols(const DashboardData& d) {
  std::string o = "<section id=\"symbols\"><h2>Symbols</h2>";
  if (d.symbols.empty()) return o + "<p class=\"empty\">no symbol: nothing configured and no bar stored</p></section>";
  for (const auto& s : d.symbols) o += symbol_block(s);
  return o + "</section>";
}

std::string section_models(const DashboardData& d) {
  std::string o = "<section id=\"models\"><h2>Production models</h2><p class=\"muted\">live figures over each model's last "
                  "inference.calibrationWindow outcomes (one per bar), as ml_health judges them</p>";
  if (d.models.empty()) return o + "<p class=\"empty\">no production model</p></section>";
  o += "<table><tr><th>symbol</th><th>horizon</th><th>type</th><th>batch</th><th>age (h)</th><th>live outcomes</th><th>hits</th>"
       "<th>directional accuracy</th><th>95 % interval</th><th>ECE (points)</th><th>interval coverage</th><th>target</th></tr>";
  std::string blocks;
  for (const auto& m : d.models) {
    std::string own = attr("data-batch", m.batch_id) + owner_symbol(m.symbol) + attr("data-horizon", std::to_string(m.horizon));
    double acc = m.live_n > 0 ? (double)m.live_hits / (double)m.live_n : kNaN;
    Interval w{kNaN, kNaN};
    if (m.live_n > 0 && m.live_hits >= 0 && m.live_hits <= m.live_n && m.live_n <= std::numeric_limits<int>::max())
      w = wilson_interval((int)m.live_hits, (int)m.live_n);
    bool cov_bad = std::isfinite(m.interval_coverage) && std::isfinite(m.coverage_target) && std::isfinite(m.coverage_gap) &&
                   m.with_interval >= 100 && std::fabs(m.interval_coverage - m.coverage_target) > m.coverage_gap;
    o += "<tr" + own + "><td>" + html_escape(m.symbol) + "</td>" + figure_int("td", "horizon", own, m.horizon) +
         figure_text("td", "model_type", own, m.model_type) + figure_text("td", "batch_id", own, m.batch_id) +
         figure("td", "age_hours", own, m.age_hours, 2) + figure_int("td", "live_n", own, m.live_n) + figure_int("td", "live_hits", own, m.live_hits) +
         figure("td", "live_accuracy", own, acc, 4) + "<td>" + figure("span", "accuracy_low95", own, w.low, 4) + " to " +
         figure("span", "accuracy_high95", own, w.high, 4) + "</td>" + figure("td", "ece", own, m.ece, 2) +
         "<td><span" + std::string(cov_bad ? " class=\"bad\"" : "") + ">" + figure("span", "interval_coverage", own, m.interval_coverage, 4) + "</span>" +
         " <span class=\"muted\">(" + integer(m.with_interval) + " with an interval)</span></td>" +
         figure("td", "coverage_target", own, m.coverage_target, 4) + "</tr>";
    // the reliability diagram
    blocks += "<article" + attr("id", "model-" + m.batch_id) + own + "><h3>" + html_escape(m.symbol) + " h" + std::to_string(m.horizon) + " " +
              html_escape(m.model_type) + " <span class=\"muted\">" + html_escape(m.batch_id) + "</span></h3>";
    if (m.reliability.empty()) {
      blocks += "<p class=\"empty\">no outcome yet: no reliability diagram</p>";
    } else {
      Chart c;
      c.id = "chart-reliability-" + m.batch_id;
      c.title = "reliability: stated confidence against observed hit rate";
      c.x_title = "stated confidence (%)";
      c.y_title = "observed hit rate (%)";
      c.width = 420;
      c.height = 300;
      c.x_min = 0;
      c.x_max = 100;
      c.y_min = 0;
      c.y_max = 100;
      c.diagonal = true;
      Series r{"observed", "s-reliab", {}, true};
      for (const auto& b : m.reliability) r.pts.emplace_back(b.stated, b.observed * 100);
      c.series.push_back(r);
      blocks += render_chart(c);
      blocks += "<table><tr><th>bucket</th><th>forecasts</th><th>stated %</th><th>observed hit rate</th></tr>";
      for (const auto& b : m.reliability) {
        std::string bo = own + attr("data-bucket", b.bucket);
        blocks += "<tr" + bo + "><td>" + html_escape(b.bucket) + "</td>" + figure_int("td", "bucket_count", bo, b.count) +
                  figure("td", "bucket_stated", bo, b.stated, 2) + figure("td", "bucket_observed", bo, b.observed, 4) + "</tr>";
      }
      blocks += "</table>";
    }
    blocks += "</article>";
  }
  return o + "</table>" + blocks + "</section>";
}

std::string section_workers(const DashboardData& d) {
  std::string o = "<section id=\"workers\"><h2>Background workers</h2>";
  if (d.workers.empty()) return o + "<p class=\"empty\">no worker reported</p></section>";
  o += "<table><tr><th>worker</th><th>database</th><th>state</th><th>pid</th><th>errors</th><th>last run</th><th>last error</th>"
       "<th>last error at</th></tr>";
  for (const auto& w : d.workers) {
    std::string own = attr("data-worker", w.name) + attr("data-database", w.database);
    o += "<tr" + own + ">" + figure_text("td", "worker", own, w.name) + figure_text("td", "database", own, w.database, "(all)") +
         figure_text("td", "state", own, w.state, "n/a") +
         (w.pid >= 0 ? figure_int("td", "pid", own, w.pid) : figure_text("td", "pid", own, "", "none")) +
         figure_int("td", "errors", own, w.errors) + "<td>" + time_text(w.last_run) + "</td>" +
         figure_text("td", "last_error", own, w.last_error, "none") + "<td>" + time_text(w.last_error_at) + "</td></tr>";
  }
  return o + "</table></section>";
}

std::string section_backtest(const DashboardData& d) {
  std::string o = "<section id=\"backtest\"><h2>Latest backtest</h2>";
  if (!d.has_backtest) return o + "<p class=\"empty\">no backtest yet</p></section>";
  const DashBacktest& b = d.backtest;
  std::string own = attr("data-run", b.run_id) + owner_symbol(b.symbol);
  o += "<table class=\"kv\">";
  o += "<tr><td>run</td>" + figure_text("td", "run_id", own, b.run_id) + "</tr>";
  o += "<tr><td>symbol</td>" + figure_text("td", "symbol", own, b.symbol) + "</tr>";
  o += "<tr><td>horizon (min)</td>" + figure_int("td", "horizon", own, b.horizon) + "</tr>";
  o += "<tr><td>model type</td>" + figure_text("td", "model_type", own, b.model_type) + "</tr>";
  o += "<tr><td>period</td><td>" + time_text(b.from) + " to " + time_text(b.to) + "</td></tr>";
  o += "<tr><td>predictions</td>" + figure_int("td", "predictions", own, b.predictions) + "</tr>";
  o += "<tr><td>trades</td>" + figure_int("td", "trades", own, b.trades) + "</tr>";
  o += "<tr><td>final equity, strategy (from 100)</td>" + figure("td", "final_equity", own, b.final_strategy, 4) + "</tr>";
  o += "<tr><td>final equity, buy and hold (from 100)</td>" + figure("td", "final_buy_and_hold", own, b.final_buy_and_hold, 4) + "</tr>";
  o += "</table>";
  Chart c;
  c.id = "chart-equity";
  c.title = b.symbol + " h" + std::to_string(b.horizon) + " " + b.model_type + ": equity of the backtest's trades against buy and hold";
  c.x_title = "time";
  c.y_title = "equity (start = 100)";
  c.x_time = true;
  Series st{"strategy", "s-strategy", {}, false}, bh{"buy and hold", "s-hold", {}, false};
  for (const auto& p : b.equity) {
    st.pts.emplace_back(p.epoch, p.strategy);
    bh.pts.emplace_back(p.epoch, p.buy_and_hold);
  }
  c.series.push_back(st);
  c.series.push_back(bh);
  o += b.equity.empty() ? "<p class=\"empty\">no bar in the backtest's period</p>" : render_chart(c);
  return o + "</section>";
}

// ---- JSON -----------------------------------------------------------------------------------------

using json = nlohmann::json;

double jnum(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return kNaN;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) {  // PostgreSQL's spellings of the non-finite values
    const std::string& s = it->get_ref<const std::string&>();
    if (s == "NaN") return kNaN;
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  return kNaN;
}
long long jint(const json& o, const char* key, long long dflt = 0) {
  double v = jnum(o, key);
  return std::isfinite(v) ? (long long)v : dflt;
}
std::string jstr(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}
bool jbool(const json& o, const char* key, bool dflt) {
  auto it = o.find(key);
  return it != o.end() && it->is_boolean() ? it->get<bool>() : dflt;
}
const json& jarr(const json& o, const char* key) {
  static const json empty = json::array();
  auto it = o.find(key);
  return it != o.end() && it->is_array() ? *it : empty;
}
DashTime jtime(const json& o, const char* text_key, const char* epoch_key) { return DashTime{jnum(o, epoch_key), jstr(o, text_key)}; }
double pair_num(const json& a, std::size_t i) {
  if (!a.is_array() || a.size() <= i || !a[i].is_number()) return kNaN;
  return a[i].get<double>();
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size() + 8);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '&': o += "&amp;"; break;
        case '<': o += "&lt;"; break;
        case '>': o += "&gt;"; break;
        case '"': o += "&quot;"; break;
        case '\'': o += "&#39;"; break;
        default:
          if (c < 0x20 && c != '\t' && c != '\n') o += "\xEF\xBF\xBD";
          else if (c == 0x7F) o += "\xEF\xBF\xBD";
          else o += (char)c;
      }
      i++;
      continue;
    }
    // a UTF-8 sequence: copied when well formed (no overlong form, no surrogate, <= U+10FFFF)
    std::size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    bool okseq = len > 0 && i + len <= n;
    for (std::size_t k = 1; okseq && k < len; k++) okseq = (p[i + k] & 0xC0) == 0x80;
    if (okseq && len == 3) {
      if (c == 0xE0 && p[i + 1] < 0xA0) okseq = false;
      if (c == 0xED && p[i + 1] >= 0xA0) okseq = false;
    }
    if (okseq && len == 4) {
      if (c == 0xF0 && p[i + 1] < 0x90) okseq = false;
      if (c == 0xF4 && p[i + 1] >= 0x90) okseq = false;
    }
    if (!okseq) {
      o += "\xEF\xBF\xBD";
      i++;
      continue;
    }
    o.append(s, i, len);
    i += len;
  }
  return o;
}

std::vector<DashEquityPoint> equity_curve(const std::vector<DashBar>& bars, const std::vector<std::pair<double, double>>& trades,
                                          double fee_pct, double slippage_pct) {
  std::vector<DashEquityPoint> all;
  std::vector<DashBar> good;
  for (const auto& b : bars)
    if (std::isfinite(b.epoch) && std::isfinite(b.close) && b.close > 0) good.push_back(b);
  if (good.empty()) return all;
  double cost = 2 * ((std::isfinite(fee_pct) ? fee_pct : 0) + (std::isfinite(slippage_pct) ? slippage_pct : 0));
  // trades by exit time (stable: trade order among equal exits, so compounding stays in trade order)
  std::vector<std::pair<double, double>> t = trades;
  std::stable_sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double eq = 100;
  std::size_t k = 0;
  const double c0 = good.front().close;
  for (std::size_t i = 0; i < good.size(); i++) {
    bool last = i + 1 == good.size();
    while (k < t.size() && (t[k].first <= good[i].epoch || last)) {
      if (std::isfinite(t[k].second)) eq *= 1 + t[k].second / 100;
      k++;
    }
    all.push_back({good[i].epoch, eq, 100 + 100 * (good[i].close / c0 - 1) - cost});
  }
  if (all.size() <= kMaxEquityPoints) return all;
  std::vector<DashEquityPoint> out;
  out.reserve(kMaxEquityPoints);
  const std::size_t m = kMaxEquityPoints;
  for (std::size_t j = 0; j < m; j++) out.push_back(all[j * (all.size() - 1) / (m - 1)]);
  return out;
}

DashboardData dashboard_data_from_json(const std::string& json_text) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const std::exception& e) {
    throw DataError("the dashboard's data is not valid JSON", clip_for_message(e.what(), 200));
  }
  if (!doc.is_object()) throw DataError("the dashboard's data is not a JSON object");
  DashboardData d;
  d.generated_at = jstr(doc, "generated_at");
  d.symbol_filter = jstr(doc, "symbol_filter");
  for (const auto& s : jarr(doc, "symbols")) {
    if (!s.is_object()) continue;
    DashSymbol y;
    y.symbol = jstr(s, "symbol");
    y.configured = jbool(s, "configured", true);
    y.latest_bar = jtime(s, "latest_bar", "latest_bar_epoch");
    y.staleness_seconds = jnum(s, "staleness_seconds");
    y.staleness_threshold = jnum(s, "staleness_threshold");
    y.completeness = jnum(s, "completeness");
    y.completeness_threshold = jnum(s, "completeness_threshold");
    for (const auto& b : jarr(s, "bars")) y.bars.push_back({pair_num(b, 0), pair_num(b, 1)});
    for (const auto& f : jarr(s, "forecasts")) {
      if (!f.is_object()) continue;
      DashForecast x;
      x.horizon = (int)jint(f, "horizon");
      x.forecast_at = jtime(f, "forecast_at", "forecast_at_epoch");
      x.target_at = jtime(f, "target_at", "target_at_epoch");
      x.close_at_forecast = jnum(f, "close");
      x.predicted_change = jnum(f, "predicted_change");
      x.predicted_price = jnum(f, "predicted_price");
      x.lower_price = jnum(f, "lower_price");
      x.upper_price = jnum(f, "upper_price");
      x.signal = jstr(f, "signal");
      x.confidence = jnum(f, "confidence");
      x.live_confidence = jnum(f, "live_confidence");
      x.model_version = jstr(f, "model_version");
      y.forecasts.push_back(x);
    }
    for (const auto& a : jarr(s, "alerts")) {
      if (!a.is_object()) continue;
      y.alerts.push_back({jstr(a, "kind"), jstr(a, "level"), jstr(a, "message"), jnum(a, "value"), jnum(a, "threshold"),
                          jtime(a, "since", "since_epoch")});
    }
    for (const auto& a : jarr(s, "anomalies")) {
      if (!a.is_object()) continue;
      y.anomalies.push_back({jstr(a, "kind"), jtime(a, "at", "at_epoch"), jstr(a, "detail")});
    }
    d.symbols.push_back(std::move(y));
  }
  for (const auto& m : jarr(doc, "models")) {
    if (!m.is_object()) continue;
    DashModel x;
    x.symbol = jstr(m, "symbol");
    x.horizon = (int)jint(m, "horizon");
    x.model_type = jstr(m, "model_type");
    x.batch_id = jstr(m, "batch_id");
    x.created_at = jtime(m, "created_at", "created_at_epoch");
    x.age_hours = jnum(m, "age_hours");
    x.live_n = jint(m, "live_n");
    x.live_hits = jint(m, "live_hits");
    x.ece = jnum(m, "ece");
    for (const auto& b : jarr(m, "reliability"))
      if (b.is_object()) x.reliability.push_back({jstr(b, "bucket"), jnum(b, "stated"), jnum(b, "observed"), jint(b, "count")});
    x.interval_coverage = jnum(m, "interval_coverage");
    x.with_interval = jint(m, "with_interval");
    x.coverage_target = jnum(m, "coverage_target");
    x.coverage_gap = jnum(m, "coverage_gap");
    d.models.push_back(std::move(x));
  }
  for (const auto& w : jarr(doc, "workers")) {
    if (!w.is_object()) continue;
    DashWorker x;
    x.name = jstr(w, "worker");
    x.database = jstr(w, "database");
    x.state = jstr(w, "state");
    x.pid = jint(w, "pid", -1);
    x.errors = jint(w, "errors");
    x.last_error = jstr(w, "last_error");
    x.last_error_at = jtime(w, "last_error_at", "last_error_at_epoch");
    x.last_run = jtime(w, "last_run", "last_run_epoch");
    d.workers.push_back(std::move(x));
  }
  auto bt = doc.find("backtest");
  if (bt != doc.end() && bt->is_object()) {
    const json& b = *bt;
    d.has_backtest = true;
    DashBacktest& x = d.backtest;
    x.run_id = jstr(b, "run_id");
    x.symbol = jstr(b, "symbol");
    x.horizon = (int)jint(b, "horizon");
    x.model_type = jstr(b, "model_type");
    x.from = jtime(b, "from", "from_epoch");
    x.to = jtime(b, "to", "to_epoch");
    x.predictions = jint(b, "predictions");
    x.trades = jint(b, "trades");
    std::vector<DashBar> bars;
    for (const auto& p : jarr(b, "bars")) bars.push_back({pair_num(p, 0), pair_num(p, 1)});
    std::vector<std::pair<double, double>> trades;
    for (const auto& p : jarr(b, "trade_pnl")) trades.emplace_back(pair_num(p, 0), pair_num(p, 1));
    x.equity = equity_curve(bars, trades, jnum(b, "fee_pct"), jnum(b, "slippage_pct"));
    x.final_strategy = x.equity.empty() ? kNaN : x.equity.back().strategy;
    x.final_buy_and_hold = x.equity.empty() ? kNaN : x.equity.back().buy_and_hold;
  }
  return d;
}

std::string render_dashboard(const DashboardData& d) {
  std::string o;
  o.reserve(64 * 1024);
  o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
       "<title>cryptoml dashboard</title><style>";
  o += kStyle;
  o += "</style></head><body><h1>cryptoml dashboard</h1><p class=\"muted\">generated " + html_escape(d.generated_at) +
       (d.symbol_filter.empty() ? std::string() : " for " + html_escape(d.symbol_filter)) +
       "; figures as the database computes them (ml_health, ml_workers, the registry, the backtest tables)</p>";
  o += "<nav><a href=\"#alerts\">alerts</a><a href=\"#symbols\">symbols</a><a href=\"#models\">models</a><a href=\"#workers\">workers</a>"
       "<a href=\"#backtest\">backtest</a></nav>";
  o += section_summary(d);
  o += section_alerts(d);
  o += section_symbols(d);
  o += section_models(d);
  o += section_workers(d);
  o += section_backtest(d);
  o += "</body></html>\n";
  return o;
}

}  // namespace cml
