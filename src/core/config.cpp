// cryptoml configuration: defaults, per-key rules, validation. See config.hpp.
#include "config.hpp"
#include "json_text.hpp"
#include "features.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <cstring>
#include <utility>

namespace cml {
namespace {

constexpr std::size_t kMaxShown = 200;  // longest printed value/key before truncation

// The spec defaults. Integers are JSON integers; bollingerStdDev is real-valued but its spec
// default is the integer 2.
const char* const kDefaultsText = R"json({
  "system": {"environment": "development", "logLevel": "info", "enableRecovery": true,
             "maxConcurrentWorkers": 4},
  "data": {"retentionDays": 30, "compressionThreshold": 7, "backfillBatchSize": 1000,
           "rejectUnknownSymbols": true, "futureToleranceSeconds": 120},
  "features": {"rsiPeriod": 14, "macdFast": 12, "macdSlow": 26, "macdSignal": 9,
               "bollingerPeriod": 20, "bollingerStdDev": 2, "stochasticK": 14, "stochasticD": 3,
               "volatilityWindow": 5, "featureSet": 1, "crossMarketSymbols": ["BTCUSDT", "ETHUSDT"]},
  "training": {"windowSize": 600, "forecastHorizons": [5, 15, 30, 60], "validationSplit": 0.2,
               "modelTypes": ["xgboost", "lstm", "ensemble"], "batchSize": 1000,
               "maxEpochs": 100, "earlyStoppingPatience": 10, "calibrationFolds": 3,
               "excludeAnomalies": false},
  "inference": {"confidenceThreshold": 60, "ensembleWeights": {}, "predictionCache": true,
                "maxPredictionAge": 300, "intervalCoverage": 0.8, "intervalAdaptRate": 0.005,
                "skillSignificance": 0.05, "calibrationWindow": 10080},
  "forecasting": {"horizons": [5, 15, 30, 60, 240, 1440], "updateFrequency": 60,
                  "confidenceDecay": 0.95, "marketRegimes": ["trending", "ranging", "volatile"]},
  "monitoring": {"completenessThreshold": 0.95,
                 "alertThresholds": {"missingData": 0.1, "staleData": 300, "invalidValues": 0.05,
                                     "intervalCoverageGap": 0.05, "calibrationError": 0.05},
                 "checkInterval": 60, "anomalyThreshold": 12, "anomalyWindow": 240},
  "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"],
  "exchanges": ["binance-us", "coinbase", "bybit"],
  "trading": {"autoSimulate": false, "horizon": 15},
  "ingest": {"enabled": false, "pollInterval": 60, "initialBackfillMinutes": 1440, "primaryExchange": {},
             "failoverAfter": 3, "timeoutMs": 10000, "backoffBaseMs": 1000, "backoffMaxMs": 60000,
             "maxPayloadBytes": 4194304,
             "baseUrls": {"binance-us": "https://api.binance.us", "coinbase": "https://api.exchange.coinbase.com",
                          "bybit": "https://api.bybit.com"},
             "rateLimits": {"binance-us": 5, "coinbase": 3, "bybit": 10},
             "symbolMap": {"binance-us": {}, "coinbase": {}, "bybit": {}}}
})json";

enum class Kind { Int, Number, Bool, Enum, IntArray, EnumArray, SymbolArray, Weights, Url, SymbolMap };

struct Spec {
  std::string path;
  Kind kind = Kind::Int;
  std::int64_t imin = 0, imax = 0;  // Int, IntArray (inclusive)
  double dmin = 0, dmax = 0;        // Number
  bool min_open = false, max_open = false;
  std::vector<std::string> choices;  // Enum, EnumArray, Weights (allowed keys), SymbolMap (allowed values; empty: product ids)
  std::size_t max_items = 0;         // SymbolArray
  std::string rule;                  // human-readable rule
};

std::string fmt_double(double d) {
  std::ostringstream os;
  os << d;
  return os.str();
}

std::string quoted_list(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += '"' + v[i] + '"';
  }
  return out;
}

std::string truncate_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  s += "...";
  return s;
}

// Compact JSON of a value (strings quoted), truncated for messages.
std::string show(const json& v) {
  return truncate_utf8(json_text(v), kMaxShown);
}

std::string show_key(const std::string& path) { return show(json(path)); }

Spec int_spec(std::string path, std::int64_t lo, std::int64_t hi, const char* unit = nullptr) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::Int;
  s.imin = lo;
  s.imax = hi;
  s.rule = "integer between " + std::to_string(lo) + " and " + std::to_string(hi);
  if (unit) s.rule += std::string(" (") + unit + ")";
  return s;
}

Spec num_spec(std::string path, double lo, bool lo_open, double hi, bool hi_open) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::Number;
  s.dmin = lo;
  s.dmax = hi;
  s.min_open = lo_open;
  s.max_open = hi_open;
  if (!lo_open && !hi_open)
    s.rule = "number between " + fmt_double(lo) + " and " + fmt_double(hi);
  else if (lo_open && hi_open)
    s.rule = "number strictly between " + fmt_double(lo) + " and " + fmt_double(hi);
  else if (lo_open)
    s.rule = "number greater than " + fmt_double(lo) + " and at most " + fmt_double(hi);
  else
    s.rule = "number at least " + fmt_double(lo) + " and less than " + fmt_double(hi);
  return s;
}

Spec bool_spec(std::string path) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::Bool;
  s.rule = "boolean (true or false)";
  return s;
}

Spec enum_spec(std::string path, std::vector<std::string> choices) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::Enum;
  s.choices = std::move(choices);
  s.rule = "one of " + quoted_list(s.choices);
  return s;
}

Spec int_array_spec(std::string path, std::int64_t lo, std::int64_t hi) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::IntArray;
  s.imin = lo;
  s.imax = hi;
  s.rule = "non-empty array of unique integers, each between " + std::to_string(lo) + " and " +
           std::to_string(hi);
  return s;
}

Spec enum_array_spec(std::string path, std::vector<std::string> choices) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::EnumArray;
  s.choices = std::move(choices);
  s.rule = "non-empty array of unique strings, each one of " + quoted_list(s.choices);
  return s;
}

Spec symbols_spec(std::string path) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::SymbolArray;
  s.max_items = 2000;  // a cluster's nodes all carry the whole list (docs/scale-out.md)
  s.rule = "non-empty array of at most 2000 unique strings, each matching ^[A-Z0-9]{2,20}$";
  return s;
}

// The cross-market leaders of feature set 2: its slots lead1 and lead2.
Spec leaders_spec(std::string path) {
  Spec s = symbols_spec(std::move(path));
  s.max_items = 2;
  s.rule = "non-empty array of at most 2 unique strings, each matching ^[A-Z0-9]{2,20}$ (feature set 2's lead1 and lead2)";
  return s;
}

Spec weights_spec(std::string path, std::vector<std::string> models) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::Weights;
  s.choices = std::move(models);
  s.rule = "object: empty (weights are learned) or mapping model types (" +
           quoted_list(s.choices) + ") to finite numbers >= 0 with a sum > 0";
  return s;
}

Spec url_spec(std::string path) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::Url;
  s.rule = "http:// or https:// URL of a host (letters, digits, dots, hyphens), an optional :port and path, "
           "no query, no credentials, at most 200 characters";
  return s;
}

// An object mapping our symbols to a value: one of `choices`, or (choices empty) an exchange
// product id matching ^[A-Za-z0-9-]{2,30}$.
Spec symbol_map_spec(std::string path, std::vector<std::string> choices) {
  Spec s;
  s.path = std::move(path);
  s.kind = Kind::SymbolMap;
  s.choices = std::move(choices);
  s.max_items = 100;
  s.rule = "object of at most 100 entries mapping symbols (^[A-Z0-9]{2,20}$) to " +
           (s.choices.empty() ? std::string("product ids (^[A-Za-z0-9-]{2,30}$)") : "one of " + quoted_list(s.choices));
  return s;
}

struct Schema {
  json defaults;
  std::map<std::string, Spec> specs;                        // leaf path -> rule
  std::vector<std::string> keys;                            // sorted leaf paths
  std::map<std::string, std::vector<std::string>> sections;  // inner path -> relative leaf keys
  std::vector<std::string> top_level;                       // sorted top-level names
};

Schema build_schema() {
  Schema sc;
  sc.defaults = json::parse(kDefaultsText);

  const std::vector<std::string> models = {"xgboost", "lstm", "ensemble"};
  std::vector<Spec> v = {
      enum_spec("system.environment", {"development", "production"}),
      enum_spec("system.logLevel", {"debug", "info", "warning", "error"}),
      bool_spec("system.enableRecovery"),
      int_spec("system.maxConcurrentWorkers", 1, 64),
      int_spec("data.retentionDays", 1, 36500, "days"),
      int_spec("data.compressionThreshold", 1, 36500, "days"),
      int_spec("data.backfillBatchSize", 1, 1000000),
      bool_spec("data.rejectUnknownSymbols"),
      int_spec("data.futureToleranceSeconds", 0, 86400, "seconds"),
      int_spec("features.rsiPeriod", 2, 1000),
      int_spec("features.macdFast", 2, 1000),
      int_spec("features.macdSlow", 2, 1000),
      int_spec("features.macdSignal", 1, 1000),
      int_spec("features.bollingerPeriod", 2, 1000),
      num_spec("features.bollingerStdDev", 0, true, 10, false),
      int_spec("features.stochasticK", 1, 1000),
      int_spec("features.stochasticD", 1, 1000),
      int_spec("features.volatilityWindow", 2, 1000),
      int_spec("features.featureSet", 1, kMaxFeatureSet, "feature set version"),
      leaders_spec("features.crossMarketSymbols"),
      int_spec("training.windowSize", 10, 10000000, "minutes"),
      int_array_spec("training.forecastHorizons", 1, 10080),
      num_spec("training.validationSplit", 0, true, 1, true),
      enum_array_spec("training.modelTypes", models),
      int_spec("training.batchSize", 1, 1000000),
      int_spec("training.maxEpochs", 1, 100000),
      int_spec("training.earlyStoppingPatience", 1, 100000),
      int_spec("training.calibrationFolds", 1, 20, "rolling-origin folds"),
      bool_spec("training.excludeAnomalies"),
      num_spec("inference.confidenceThreshold", 0, false, 100, false),
      weights_spec("inference.ensembleWeights", {"xgboost", "lstm"}),
      bool_spec("inference.predictionCache"),
      int_spec("inference.maxPredictionAge", 0, 86400, "seconds"),
      num_spec("inference.intervalCoverage", 0, true, 1, true),
      num_spec("inference.intervalAdaptRate", 0, false, 1, false),
      num_spec("inference.skillSignificance", 0, true, 0.5, false),
      int_spec("inference.calibrationWindow", 10, 10000000, "outcomes"),
      int_array_spec("forecasting.horizons", 1, 10080),
      int_spec("forecasting.updateFrequency", 1, 86400, "seconds"),
      num_spec("forecasting.confidenceDecay", 0, true, 1, false),
      enum_array_spec("forecasting.marketRegimes", {"trending", "ranging", "volatile"}),
      num_spec("monitoring.completenessThreshold", 0, false, 1, false),
      num_spec("monitoring.alertThresholds.missingData", 0, false, 1, false),
      int_spec("monitoring.alertThresholds.staleData", 1, 604800, "seconds"),
      num_spec("monitoring.alertThresholds.invalidValues", 0, false, 1, false),
      num_spec("monitoring.alertThresholds.intervalCoverageGap", 0, true, 1, false),
      num_spec("monitoring.alertThresholds.calibrationError", 0, true, 1, false),
      int_spec("monitoring.checkInterval", 1, 86400, "seconds"),
      num_spec("monitoring.anomalyThreshold", 1, false, 1000, false),
      int_spec("monitoring.anomalyWindow", 30, 10080, "bars"),
      symbols_spec("symbols"),
      enum_array_spec("exchanges", {"binance-us", "coinbase", "bybit"}),
      bool_spec("trading.autoSimulate"),
      int_spec("trading.horizon", 1, 10080, "minutes"),
      bool_spec("ingest.enabled"),
      int_spec("ingest.pollInterval", 1, 86400, "seconds"),
      int_spec("ingest.initialBackfillMinutes", 1, 525600, "minutes"),
      symbol_map_spec("ingest.primaryExchange", {"binance-us", "coinbase", "bybit"}),
      int_spec("ingest.failoverAfter", 1, 1000, "consecutive failed polls"),
      int_spec("ingest.timeoutMs", 100, 120000, "milliseconds"),
      int_spec("ingest.backoffBaseMs", 1, 3600000, "milliseconds"),
      int_spec("ingest.backoffMaxMs", 1, 3600000, "milliseconds"),
      int_spec("ingest.maxPayloadBytes", 1024, 67108864, "bytes"),
      url_spec("ingest.baseUrls.binance-us"),
      url_spec("ingest.baseUrls.coinbase"),
      url_spec("ingest.baseUrls.bybit"),
      num_spec("ingest.rateLimits.binance-us", 0, true, 100, false),
      num_spec("ingest.rateLimits.coinbase", 0, true, 100, false),
      num_spec("ingest.rateLimits.bybit", 0, true, 100, false),
      symbol_map_spec("ingest.symbolMap.binance-us", {}),
      symbol_map_spec("ingest.symbolMap.coinbase", {}),
      symbol_map_spec("ingest.symbolMap.bybit", {}),
  };

  std::set<std::string> top;
  for (auto& s : v) {
    const std::string path = s.path;
    sc.keys.push_back(path);
    // Register every proper prefix as a section holding this leaf (relative name).
    std::size_t dot = path.find('.');
    top.insert(path.substr(0, dot));
    while (dot != std::string::npos) {
      sc.sections[path.substr(0, dot)].push_back(path.substr(dot + 1));
      dot = path.find('.', dot + 1);
    }
    sc.specs.emplace(path, std::move(s));
  }
  std::sort(sc.keys.begin(), sc.keys.end());
  for (auto& kv : sc.sections) std::sort(kv.second.begin(), kv.second.end());
  sc.top_level.assign(top.begin(), top.end());
  return sc;
}

const Schema& schema() {
  static const Schema sc = build_schema();
  return sc;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += v[i];
  }
  return out;
}

[[noreturn]] void throw_unknown(const std::string& path) {
  const Schema& sc = schema();
  std::string hint;
  std::string prefix = path;
  while (!prefix.empty()) {
    auto it = sc.sections.find(prefix);
    if (it != sc.sections.end()) {
      hint = "keys under \"" + prefix + "\": " + join(it->second);
      break;
    }
    std::size_t dot = prefix.rfind('.');
    if (dot == std::string::npos) break;
    prefix.resize(dot);
  }
  if (hint.empty()) hint = "top-level sections: " + join(sc.top_level);
  throw InvalidParameter("unknown config key " + show_key(path), {}, hint);
}

const Spec& spec_of(const std::string& path) {
  const Schema& sc = schema();
  auto it = sc.specs.find(path);
  if (it == sc.specs.end()) throw_unknown(path);
  return it->second;
}

[[noreturn]] void reject(const Spec& s, const json& value, const std::string& rule_text) {
  std::string hint;
  // Default value as a hint; defaults always exist for every spec path.
  const json* d = &schema().defaults;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = s.path.find('.', start);
    d = &d->at(s.path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  hint = "default: " + show(*d);
  throw InvalidParameter("invalid value for config key " + show_key(s.path) + ": " + show(value),
                         "rule: " + rule_text, hint);
}

// Reads a JSON integer into an int64 if it lies in [lo, hi]; false for any other value.
bool int_in_range(const json& v, std::int64_t lo, std::int64_t hi, std::int64_t* out) {
  if (!v.is_number_integer()) return false;
  std::int64_t x;
  if (v.is_number_unsigned()) {
    std::uint64_t u = v.get<std::uint64_t>();
    if (hi < 0 || u > static_cast<std::uint64_t>(hi)) return false;
    x = static_cast<std::int64_t>(u);
  } else {
    x = v.get<std::int64_t>();
  }
  if (x < lo || x > hi) return false;
  if (out) *out = x;
  return true;
}

bool number_ok(const Spec& s, const json& v) {
  if (!v.is_number()) return false;
  double d = v.get<double>();
  if (!std::isfinite(d)) return false;
  if (s.min_open ? !(d > s.dmin) : !(d >= s.dmin)) return false;
  if (s.max_open ? !(d < s.dmax) : !(d <= s.dmax)) return false;
  return true;
}

bool is_symbol(const std::string& str) {
  if (str.size() < 2 || str.size() > 20) return false;
  for (char c : str)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

std::string element_ref(std::size_t index0, const json& e) {
  return "element " + std::to_string(index0 + 1) + " " + show(e);
}

void validate_array(const Spec& s, const json& value) {
  if (!value.is_array()) reject(s, value, s.rule);
  if (value.empty()) reject(s, value, s.rule + " (the array is empty)");
  if (s.max_items && value.size() > s.max_items)
    reject(s, value, s.rule + " (got " + std::to_string(value.size()) + " elements)");

  std::map<std::string, std::size_t> seen;  // canonical element -> first index
  for (std::size_t i = 0; i < value.size(); ++i) {
    const json& e = value[i];
    switch (s.kind) {
      case Kind::IntArray:
        if (!int_in_range(e, s.imin, s.imax, nullptr))
          reject(s, value,
                 "each element must be an integer between " + std::to_string(s.imin) + " and " +
                     std::to_string(s.imax) + " (" + element_ref(i, e) + " is not)");
        break;
      case Kind::EnumArray:
        if (!e.is_string() || std::find(s.choices.begin(), s.choices.end(),
                                        e.get_ref<const std::string&>()) == s.choices.end())
          reject(s, value,
                 "each element must be one of " + quoted_list(s.choices) + " (" +
                     element_ref(i, e) + " is not)");
        break;
      case Kind::SymbolArray:
        if (!e.is_string())
          reject(s, value,
                 "each element must be a string matching ^[A-Z0-9]{2,20}$ (" + element_ref(i, e) +
                     " is not)");
        if (!is_symbol(e.get_ref<const std::string&>()))
          reject(s, value,
                 "each element must match ^[A-Z0-9]{2,20}$ (" + element_ref(i, e) + " does not)");
        break;
      default:
        break;
    }
    // Elements are valid integers or strings here, so their dump is a canonical identity.
    auto ins = seen.emplace(e.dump(), i);
    if (!ins.second)
      reject(s, value,
             "each element must be unique (" + element_ref(i, e) + " repeats element " +
                 std::to_string(ins.first->second + 1) + ")");
  }
}

void validate_weights(const Spec& s, const json& value) {
  if (!value.is_object()) reject(s, value, s.rule);
  double sum = 0;
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (std::find(s.choices.begin(), s.choices.end(), it.key()) == s.choices.end())
      reject(s, value,
             "each key must be one of " + quoted_list(s.choices) + " (key " + show_key(it.key()) +
                 " is not)");
    const json& w = it.value();
    bool ok = w.is_number() && std::isfinite(w.get<double>()) && w.get<double>() >= 0;
    if (!ok)
      reject(s, value,
             "each weight must be a finite number >= 0 (key " + show_key(it.key()) + " has " +
                 show(w) + ")");
    sum += w.get<double>();
  }
  if (!value.empty() && !(sum > 0 && std::isfinite(sum)))
    reject(s, value, "non-empty weights must have a finite sum > 0 (sum is " + fmt_double(sum) + ")");
}

bool is_url(const std::string& u) {
  if (u.size() > 200) return false;
  std::size_t i;
  if (u.rfind("http://", 0) == 0) i = 7;
  else if (u.rfind("https://", 0) == 0) i = 8;
  else return false;
  const std::size_t host = i;
  while (i < u.size() && (std::isalnum(static_cast<unsigned char>(u[i])) || u[i] == '.' || u[i] == '-')) ++i;
  if (i == host) return false;
  if (i < u.size() && u[i] == ':') {
    const std::size_t port = ++i;
    while (i < u.size() && std::isdigit(static_cast<unsigned char>(u[i]))) ++i;
    if (i == port || i - port > 5) return false;
  }
  for (; i < u.size(); ++i)
    if (!(std::isalnum(static_cast<unsigned char>(u[i])) || std::strchr("/._~-", u[i]))) return false;
  return true;
}

bool is_product(const std::string& p) {
  if (p.size() < 2 || p.size() > 30) return false;
  for (char c : p)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
  return true;
}

void validate_symbol_map(const Spec& s, const json& value) {
  if (!value.is_object()) reject(s, value, s.rule);
  if (value.size() > s.max_items) reject(s, value, s.rule + " (got " + std::to_string(value.size()) + " entries)");
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (!is_symbol(it.key()))
      reject(s, value, "each key must be a symbol matching ^[A-Z0-9]{2,20}$ (key " + show_key(it.key()) + " is not)");
    const json& v = it.value();
    const bool ok = v.is_string() && (s.choices.empty() ? is_product(v.get_ref<const std::string&>())
                                                        : std::find(s.choices.begin(), s.choices.end(),
                                                                    v.get_ref<const std::string&>()) != s.choices.end());
    if (!ok) reject(s, value, s.rule + " (key " + show_key(it.key()) + " has " + show(v) + ")");
  }
}

void validate_spec(const Spec& s, const json& value) {
  switch (s.kind) {
    case Kind::Int:
      if (!int_in_range(value, s.imin, s.imax, nullptr)) reject(s, value, s.rule);
      return;
    case Kind::Number:
      if (!number_ok(s, value)) reject(s, value, s.rule);
      return;
    case Kind::Bool:
      if (!value.is_boolean()) reject(s, value, s.rule);
      return;
    case Kind::Enum:
      if (!value.is_string() || std::find(s.choices.begin(), s.choices.end(),
                                          value.get_ref<const std::string&>()) == s.choices.end())
        reject(s, value, s.rule);
      return;
    case Kind::IntArray:
    case Kind::EnumArray:
    case Kind::SymbolArray:
      validate_array(s, value);
      return;
    case Kind::Weights:
      validate_weights(s, value);
      return;
    case Kind::Url:
      if (!value.is_string() || !is_url(value.get_ref<const std::string&>())) reject(s, value, s.rule);
      return;
    case Kind::SymbolMap:
      validate_symbol_map(s, value);
      return;
  }
}

// Navigates a dotted path in a tree; nullptr when a step is missing or not an object.
const json* find_path(const json& tree, const std::string& path) {
  const json* node = &tree;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object()) return nullptr;
    auto it = node->find(part);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

json* find_path_mut(json& tree, const std::string& path) {
  return const_cast<json*>(find_path(tree, path));
}

std::int64_t int_at(const json& tree, const char* path) {
  return find_path(tree, path)->get<std::int64_t>();
}

}  // namespace

const json& Config::defaults() { return schema().defaults; }

const std::vector<std::string>& Config::keys() { return schema().keys; }

bool Config::is_key(const std::string& path) { return schema().specs.count(path) != 0; }

std::string Config::rule(const std::string& path) { return spec_of(path).rule; }

void Config::validate_value(const std::string& path, const json& value) {
  validate_spec(spec_of(path), value);
}

json Config::effective(const json& overrides) {
  json tree = schema().defaults;
  if (overrides.is_null()) return tree;
  if (!overrides.is_object())
    throw InvalidParameter(
        "invalid config overrides: expected a JSON object mapping config keys to values, got " +
            std::string(overrides.type_name()),
        "overrides: " + show(overrides));
  for (auto it = overrides.begin(); it != overrides.end(); ++it) {
    const Spec& s = spec_of(it.key());
    validate_spec(s, it.value());
    *find_path_mut(tree, s.path) = it.value();
  }

  const std::int64_t fast = int_at(tree, "features.macdFast");
  const std::int64_t slow = int_at(tree, "features.macdSlow");
  if (!(fast < slow))
    throw InvalidParameter("invalid config: features.macdFast (" + std::to_string(fast) +
                               ") must be less than features.macdSlow (" +
                               std::to_string(slow) + ")",
                           "rule: features.macdFast < features.macdSlow",
                           "change the other key first when both must move");
  const std::int64_t comp = int_at(tree, "data.compressionThreshold");
  const std::int64_t keep = int_at(tree, "data.retentionDays");
  if (!(comp <= keep))
    throw InvalidParameter("invalid config: data.compressionThreshold (" + std::to_string(comp) +
                               ") must be less than or equal to data.retentionDays (" +
                               std::to_string(keep) + ")",
                           "rule: data.compressionThreshold <= data.retentionDays",
                           "change the other key first when both must move");
  // explicitly set cross-market symbols must be configured symbols (their bars are this
  // database's); the default pair is checked where set 2 uses it (a database that configures
  // other symbols and never builds set 2 need not name the leaders)
  if (overrides.contains("features.crossMarketSymbols")) {
    const json& all = Config::get(tree, "symbols");
    for (const json& x : Config::get(tree, "features.crossMarketSymbols")) {
      bool found = false;
      for (const json& y : all) found = found || y == x;
      if (!found)
        throw InvalidParameter("invalid config: features.crossMarketSymbols names " + show(x) +
                                   ", which is not in symbols",
                               "rule: every features.crossMarketSymbols entry is one of the configured symbols " + show(all),
                               "add the symbol to symbols first");
    }
  }
  const std::int64_t base = int_at(tree, "ingest.backoffBaseMs");
  const std::int64_t cap = int_at(tree, "ingest.backoffMaxMs");
  if (!(base <= cap))
    throw InvalidParameter("invalid config: ingest.backoffBaseMs (" + std::to_string(base) +
                               ") must be less than or equal to ingest.backoffMaxMs (" + std::to_string(cap) + ")",
                           "rule: ingest.backoffBaseMs <= ingest.backoffMaxMs",
                           "change the other key first when both must move");
  return tree;
}

const json& Config::get(const json& tree, const std::string& path) {
  const Schema& sc = schema();
  if (!sc.specs.count(path) && !sc.sections.count(path)) throw_unknown(path);
  const json* node = find_path(tree, path);
  if (!node)
    throw InvalidParameter("config key " + show_key(path) + " is absent from the configuration");
  return *node;
}

HonestSettings honest_settings(const json& tree, int horizon) {
  HonestSettings h;
  h.horizon = horizon;
  h.coverage = Config::get(tree, "inference.intervalCoverage").get<double>();
  h.aci_gamma = Config::get(tree, "inference.intervalAdaptRate").get<double>();
  h.significance = Config::get(tree, "inference.skillSignificance").get<double>();
  h.window = Config::get(tree, "inference.calibrationWindow").get<std::size_t>();
  return h;
}

}  // namespace cml
