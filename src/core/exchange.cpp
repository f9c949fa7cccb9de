// cryptoml exchange access rules (see exchange.hpp for the conventions).
#include "exchange.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <system_error>
#include <utility>

#include "json_text.hpp"
#include "text.hpp"

namespace cml::exchange {

using json = nlohmann::json;

namespace {

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kDayMs = 86400000;

// Longest exchange message kept in an ApiError, and longest quoted value in other messages.
constexpr std::size_t kApiMessageChars = 200;
constexpr std::size_t kQuotedValueChars = 40;

constexpr const char* kExchangeNames = "binance-us, coinbase, bybit";

// ---- Small arithmetic helpers ----------------------------------------------------------------

// a + b clamped to the int64 range.
std::int64_t sat_add(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > kInt64Max - b) return kInt64Max;
  if (b < 0 && a < kInt64Min - b) return kInt64Min;
  return a + b;
}

// A double rounded towards zero and clamped to the int64 range (NaN gives 0).
std::int64_t to_int64_sat(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9.2e18) return kInt64Max;
  if (v <= -9.2e18) return kInt64Min;
  return static_cast<std::int64_t>(v);
}

// Floor division (b > 0).
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// ---- Text helpers ----------------------------------------------------------------------------

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes there are not valid
// UTF-8 (overlong forms, surrogates and code points above U+10FFFF are invalid). *cp receives the
// code point.
std::size_t utf8_sequence(const std::string& s, std::size_t i, std::uint32_t* cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  std::size_t len;
  std::uint32_t v, min;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, v = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, v = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, v = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (byte(i + k) & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

// Text safe to put in an error message: control characters (C0, DEL, C1) removed, invalid UTF-8
// bytes replaced by '?', at most max_chars code points. *truncated tells whether text was cut.
std::string clean_text(const std::string& s, std::size_t max_chars, bool* truncated = nullptr) {
  std::string out;
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::uint32_t cp = 0;
    const std::size_t len = utf8_sequence(s, i, &cp);
    const bool control = len != 0 && (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F));
    if (!control) {
      if (chars == max_chars) break;
      out += len == 0 ? std::string("?") : s.substr(i, len);
      ++chars;
    }
    i += len == 0 ? 1 : len;
  }
  if (truncated != nullptr) *truncated = i < s.size();
  return out;
}

// A value from the payload, quoted and shortened for a message: "95123.45", "abc...".
std::string quote(const std::string& s) {
  bool cut = false;
  const std::string shown = clean_text(s, kQuotedValueChars, &cut);
  return "\"" + shown + (cut ? "...\"" : "\"");
}

// A JSON element for a message: its type and (shortened) text, e.g. number 95123.45.
std::string describe(const json& j) {
  if (j.is_null()) return "null";
  std::string text = j.is_string() ? j.get<std::string>() : json_text(j);
  bool cut = false;
  text = clean_text(text, kQuotedValueChars, &cut);
  if (cut) text += "...";
  return std::string(j.type_name()) + " " + (j.is_string() ? "\"" + text + "\"" : text);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// ^-?[0-9]+(\.[0-9]+)?$
bool is_plain_decimal(const std::string& s) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const std::size_t int_start = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == int_start) return false;
  if (i == s.size()) return true;
  if (s[i] != '.') return false;
  const std::size_t frac_start = ++i;
  while (i < s.size() && is_digit(s[i])) ++i;
  return i != frac_start && i == s.size();
}

// The decimal value of a plain decimal as canonical text (no leading zeros in the integer part,
// no trailing zeros in the fraction, no sign on zero), so that equal values compare equal:
// "0095123.4500" -> "95123.45", "-0.0" -> "0".
std::string normalize_decimal(const std::string& s) {
  const bool negative = !s.empty() && s[0] == '-';
  const std::size_t begin = negative ? 1 : 0;
  const std::size_t dot = s.find('.', begin);
  std::string int_part = s.substr(begin, (dot == std::string::npos ? s.size() : dot) - begin);
  std::string frac_part = dot == std::string::npos ? std::string() : s.substr(dot + 1);
  int_part.erase(0, std::min(int_part.find_first_not_of('0'), int_part.size()));
  if (int_part.empty()) int_part = "0";
  frac_part.erase(frac_part.find_last_not_of('0') + 1);
  const bool zero = int_part == "0" && frac_part.empty();
  return std::string(negative && !zero ? "-" : "") + int_part +
         (frac_part.empty() ? "" : "." + frac_part);
}

// Shortest fixed-notation text that reads back as v (finite): 1e-05 -> "0.00001".
std::string fixed_text(double v) {
  char buf[512];  // the longest fixed double (subnormals) needs about 330 characters
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

// "YYYY-MM-DDTHH:MM:SSZ" of a time in ms >= 0 (whole seconds; the ms part is not shown).
std::string iso_utc(std::int64_t ms);

// ---- Calendar --------------------------------------------------------------------------------
// Proleptic Gregorian calendar over 400-year eras of 146097 days; March-based years put the leap
// day at the end of the year, so the day of the year follows from the month by a linear formula.

// Days since 1970-01-01 of a date (month 1-12, day 1-31).
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;  // March-based year
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t yoe = y - era * 400;                          // [0, 399]
  const int mp = (m + 9) % 12;                                     // March = 0 ... February = 11
  const std::int64_t doy = (153 * mp + 2) / 5 + d - 1;             // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468;  // 719468: 0000-03-01 to 1970-01-01
}

struct CivilDate {
  std::int64_t year;
  int month, day;
};

// Inverse of days_from_civil.
CivilDate civil_from_days(std::int64_t days) {
  const std::int64_t z = days + 719468;
  const std::int64_t era = floor_div(z, 146097);
  const std::int64_t doe = z - era * 146097;                                       // [0, 146096]
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const std::int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(std::int64_t y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// 0 = Sunday ... 6 = Saturday; 1970-01-01 was a Thursday.
int weekday(std::int64_t days) { return static_cast<int>(((days % 7) + 7 + 4) % 7); }

std::string iso_utc(std::int64_t ms) {
  const std::int64_t days = floor_div(ms, kDayMs);
  const std::int64_t secs = (ms - days * kDayMs) / 1000;
  const CivilDate d = civil_from_days(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02dZ", static_cast<long long>(d.year),
                d.month, d.day, static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

// ---- Symbols and products --------------------------------------------------------------------

bool matches_charset(const std::string& s, std::size_t min_len, std::size_t max_len,
                     bool (*allowed)(char)) {
  if (s.size() < min_len || s.size() > max_len) return false;
  return std::all_of(s.begin(), s.end(), allowed);
}

bool symbol_char(char c) { return (c >= 'A' && c <= 'Z') || is_digit(c); }
bool product_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '-';
}

// ^[A-Za-z0-9-]{2,30}$
bool is_product_id(const std::string& s) { return matches_charset(s, 2, 30, product_char); }

void check_product(const std::string& product) {
  if (!is_product_id(product))
    throw InvalidParameter(
        "invalid product = " + quote(product) + ": not a plausible exchange product id",
        "rule: ^[A-Za-z0-9-]{2,30}$");
}

// ---- Parsing ---------------------------------------------------------------------------------

// Where each exchange puts a candle's fields, and how it types them.
enum class TimeKind { JsonMs, JsonSeconds, StringMs };
struct Layout {
  TimeKind time;
  bool values_are_strings;             // true: decimal strings; false: JSON numbers
  int open, high, low, close, volume;  // element positions
  bool newest_first;                   // documented order of the payload
  int close_time = -1;                 // element position of the candle's close time, -1: none
};

Layout layout_of(Exchange ex) {
  switch (ex) {
    case Exchange::BinanceUs:
      return {TimeKind::JsonMs, true, 1, 2, 3, 4, 5, false, 6};
    case Exchange::Coinbase:
      return {TimeKind::JsonSeconds, false, 3, 2, 1, 4, 5, true};
    case Exchange::Bybit:
      return {TimeKind::StringMs, true, 1, 2, 3, 4, 5, true};
  }
  throw InvalidParameter("invalid exchange");
}

// Fields every candle element must have (time, open, high, low, close, volume).
constexpr std::size_t kMinFields = 6;

// Builds the messages of one candle: "<exchange> candle [i] (open time T): ...".
struct Where {
  std::string exchange;
  std::size_t index;
  std::optional<std::int64_t> open_time;

  std::string prefix() const {
    std::string p = exchange + " candle [" + std::to_string(index) + "]";
    if (open_time) p += " (open time " + std::to_string(*open_time) + ")";
    return p + ": ";
  }
  [[noreturn]] void fail(const std::string& what, const std::string& rule) const {
    throw DataError(prefix() + what, "rule: " + rule);
  }
};

// An integer JSON number as int64, or nullopt (not an integer, or out of range).
std::optional<std::int64_t> json_int64(const json& j) {
  if (j.is_number_unsigned()) {
    const auto u = j.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(kInt64Max)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (j.is_number_integer()) return j.get<std::int64_t>();
  return std::nullopt;
}

// The open time of element `el` in ms, per the layout; checks type, range, > 0 and alignment.
std::int64_t read_open_time(const Layout& lay, const json& el, Where& where) {
  const json& t = el[0];
  std::int64_t ms = 0;
  switch (lay.time) {
    case TimeKind::JsonMs:
    case TimeKind::JsonSeconds: {
      const auto v = json_int64(t);
      if (!v)
        where.fail("open time (element 0) must be an integer, got " + describe(t),
                   "open time is a JSON integer");
      if (lay.time == TimeKind::JsonSeconds) {
        if (*v > kInt64Max / 1000 || *v < kInt64Min / 1000)
          where.fail("open time " + std::to_string(*v) + " s is out of range",
                     "open time in seconds fits in int64 milliseconds");
        ms = *v * 1000;
      } else {
        ms = *v;
      }
      break;
    }
    case TimeKind::StringMs: {
      if (!t.is_string())
        where.fail("open time (element 0) must be a string, got " + describe(t),
                   "open time is a string of decimal digits (ms)");
      const std::string& s = t.get_ref<const std::string&>();
      const bool negative = !s.empty() && s[0] == '-';
      const char* b = s.data() + (negative ? 1 : 0);
      const char* e = s.data() + s.size();
      std::uint64_t u = 0;
      const auto r = std::from_chars(b, e, u);
      const bool digits_only = b != e && std::all_of(b, e, is_digit);
      if (!digits_only || r.ptr != e)
        where.fail("open time " + quote(s) + " is not an integer",
                   "open time is a string of decimal digits (ms)");
      if (r.ec == std::errc::result_out_of_range || u > static_cast<std::uint64_t>(kInt64Max))
        where.fail("open time " + quote(s) + " is out of range", "open time fits in int64 ms");
      ms = negative ? -static_cast<std::int64_t>(u) : static_cast<std::int64_t>(u);
      break;
    }
  }
  where.open_time = ms;
  if (ms <= 0) where.fail("open time " + std::to_string(ms) + " is not > 0", "open time > 0");
  if (ms % kMinuteMs != 0)
    where.fail("open time " + std::to_string(ms) + " ms is not on a minute boundary",
               lay.time == TimeKind::JsonSeconds ? "open time is a multiple of 60 s"
                                                 : "open time is a multiple of 60000 ms");
  return ms;
}

// One price or volume field: its decimal text and value. Checks type, plain decimal, finite.
void read_value(const Layout& lay, const json& el, int pos, const char* name, const Where& where,
                std::string* text, double* value) {
  const json& f = el[static_cast<std::size_t>(pos)];
  const std::string field = std::string(name) + " (element " + std::to_string(pos) + ")";
  if (lay.values_are_strings) {
    if (!f.is_string())
      where.fail(field + " must be a string, got " + describe(f),
                 std::string(name) + " is a decimal string");
    *text = f.get<std::string>();
    if (!is_plain_decimal(*text))
      where.fail(std::string(name) + " " + quote(*text) + " is not a plain decimal number",
                 "decimal text ^-?[0-9]+(\\.[0-9]+)?$, no exponent, no spaces");
    const auto r = std::from_chars(text->data(), text->data() + text->size(), *value);
    if (r.ec == std::errc::result_out_of_range) {
      // Overflow (a non-zero integer part) is not finite; underflow is a value too small for a
      // double, read as 0 (the exact text is kept).
      const std::string norm = normalize_decimal(*text);
      const bool overflow = norm.rfind("0", 0) != 0 && norm.rfind("-0", 0) != 0;
      if (overflow)
        where.fail(std::string(name) + " " + quote(*text) + " is not finite as a double",
                   "finite number");
      *value = 0.0;
    }
  } else {
    if (!f.is_number())
      where.fail(field + " must be a number, got " + describe(f),
                 std::string(name) + " is a JSON number");
    // Integers keep their digits; other numbers get the shortest fixed text of their double.
    *value = f.get<double>();
    if (!std::isfinite(*value))
      where.fail(std::string(name) + " " + format_double(*value) + " is not finite",
                 "finite number");
    if (const auto i = json_int64(f))
      *text = std::to_string(*i);
    else if (f.is_number_unsigned())
      *text = std::to_string(f.get<std::uint64_t>());
    else
      *text = fixed_text(*value);
  }
}

// A duration in ms in the largest whole unit that divides it: 604800000 -> "1w", 3600000 ->
// "1h", 120000 -> "2m", 1500 -> "1500ms" (d > 0).
std::string duration_name(std::int64_t d) {
  static const std::pair<std::int64_t, const char*> kUnits[] = {
      {7 * kDayMs, "w"}, {kDayMs, "d"}, {3600000, "h"}, {kMinuteMs, "m"}, {1000, "s"}};
  for (const auto& [unit, suffix] : kUnits)
    if (d % unit == 0) return std::to_string(d / unit) + suffix;
  return std::to_string(d) + "ms";
}

// iso_utc with the milliseconds, "2021-04-02T00:59:59.999Z" (ms >= 0).
std::string iso_utc_ms(std::int64_t ms) {
  std::string s = iso_utc(ms);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms % 1000));
  s.insert(s.size() - 1, frac);
  return s;
}

// The close time of a candle: its last millisecond, open + 59 999 for a 1-minute candle.
// binance-us states it in every kline (element 6) and it is the authority on the candle's interval
// (a body of hourly klines is otherwise indistinguishable from 1-minute ones and would be stored
// as 1-minute bars): it must be present, an integer and exactly open + 59 999. The other exchanges
// state no interval per candle; their close time is open + 59 999 (parse_klines checks their
// spacing instead).
std::int64_t read_close_time(const Layout& lay, const json& el, std::int64_t open_ms,
                             const Where& where) {
  const std::int64_t expected = sat_add(open_ms, kMinuteMs - 1);
  if (lay.close_time < 0) return expected;
  const auto pos = static_cast<std::size_t>(lay.close_time);
  const std::string field = "closeTime (element " + std::to_string(pos) + ")";
  const std::string rule = field +
                           " is an integer equal to openTime + 59999 ms: cryptoml stores 1-minute "
                           "candles only (interval=1m)";
  if (el.size() <= pos)
    where.fail(field + " is missing: the candle's interval cannot be checked", rule);
  const auto close = json_int64(el[pos]);
  if (!close) where.fail(field + " must be an integer, got " + describe(el[pos]), rule);
  if (*close == expected) return expected;
  const std::string at = "candle at " + iso_utc(open_ms) + " closes at " + std::to_string(*close);
  if (*close <= open_ms) where.fail(at + ", not after it opens: not a 1-minute candle", rule);
  const std::int64_t span = *close - open_ms + 1;  // close > open > 0: no overflow
  std::string interval;
  if (span % kDayMs == 0 && span >= 28 * kDayMs && span <= 31 * kDayMs)
    interval = "a 1M (one month, " + std::to_string(span / kDayMs) + " days) candle";
  else if (span % 1000 == 0)
    interval = "a " + duration_name(span) + " candle";
  else
    interval = "a candle spanning " + std::to_string(span) + " ms";
  where.fail(at + " (" + iso_utc_ms(*close) + "): " + interval + ", not a 1-minute one", rule);
}

// Reads and validates one candle element (everything except duplicates). *close_time_ms receives
// the candle's close time (see read_close_time).
Candle read_candle(const Layout& lay, const json& el, Where& where, const ParseOptions& opt,
                   std::int64_t* close_time_ms) {
  if (!el.is_array() || el.size() < kMinFields)
    where.fail("expected an array of at least " + std::to_string(kMinFields) + " elements, got " +
                   (el.is_array() ? "an array of " + std::to_string(el.size()) : describe(el)),
               "each candle is an array [time, prices..., volume, ...]");
  Candle c;
  c.open_time_ms = read_open_time(lay, el, where);
  read_value(lay, el, lay.open, "open", where, &c.open_s, &c.open);
  read_value(lay, el, lay.high, "high", where, &c.high_s, &c.high);
  read_value(lay, el, lay.low, "low", where, &c.low_s, &c.low);
  read_value(lay, el, lay.close, "close", where, &c.close_s, &c.close);
  read_value(lay, el, lay.volume, "volume", where, &c.volume_s, &c.volume);
  *close_time_ms = read_close_time(lay, el, c.open_time_ms, where);

  const std::pair<const char*, const std::string*> prices[] = {
      {"open", &c.open_s}, {"high", &c.high_s}, {"low", &c.low_s}, {"close", &c.close_s}};
  const double values[] = {c.open, c.high, c.low, c.close};
  for (int k = 0; k < 4; ++k)
    if (!(values[k] > 0))
      where.fail(std::string(prices[k].first) + " " + quote(*prices[k].second) + " is not > 0",
                 "open, high, low and close > 0");
  if (c.volume < 0) where.fail("volume " + quote(c.volume_s) + " is negative", "volume >= 0");

  // OHLC consistency: the high bounds every price of the bar, the low bounds open and close.
  const std::string ohlc_rule = "high >= max(open, close, low) and low <= min(open, close)";
  struct Bound {
    const char* name;
    double v;
    const std::string* s;
  };
  const Bound others[] = {
      {"open", c.open, &c.open_s}, {"close", c.close, &c.close_s}, {"low", c.low, &c.low_s}};
  for (const Bound& o : others)
    if (c.high < o.v)
      where.fail("high " + quote(c.high_s) + " is below " + o.name + " " + quote(*o.s), ohlc_rule);
  for (int k = 0; k < 2; ++k)
    if (c.low > others[k].v)
      where.fail(
          "low " + quote(c.low_s) + " is above " + others[k].name + " " + quote(*others[k].s),
          ohlc_rule);

  // Clock skew: the exchange (or we) is ahead by more than the tolerance.
  const std::int64_t limit = sat_add(opt.now_ms, opt.future_tolerance_ms);
  if (c.open_time_ms > limit) {
    const double ahead_s =
        (static_cast<double>(c.open_time_ms) - static_cast<double>(opt.now_ms)) / 1000.0;
    where.fail("opens " + format_double(ahead_s) + " s after now (now_ms = " +
                   std::to_string(opt.now_ms) + "): clock skew between us and the exchange",
               "open time <= now + future_tolerance_ms (" +
                   std::to_string(opt.future_tolerance_ms) + " ms)");
  }
  return c;
}

// Throws ApiError "<exchange> API error: <message>".
[[noreturn]] void throw_api_error(const std::string& ex, const json& message,
                                  const std::string& detail) {
  std::string text;
  if (message.is_string())
    text = message.get<std::string>();
  else if (message.is_null())
    text = "(no message)";
  else
    text = json_text(message);
  throw ApiError(ex + " API error: " + clean_text(text, kApiMessageChars), detail);
}

// Recognises the exchange's error body and returns the candle array of a success body.
const json& candle_array(Exchange ex, const json& doc) {
  const std::string name = exchange_name(ex);
  const auto shape_error = [&](const std::string& expected, const json& got) {
    return DataError(
        name + " response has the wrong shape: expected " + expected + ", got " + describe(got),
        "rule: the documented " + name + " kline response");
  };
  const auto field = [](const json& obj, const char* key) -> const json& {
    static const json kNull;
    const auto it = obj.find(key);
    return it == obj.end() ? kNull : *it;
  };
  switch (ex) {
    case Exchange::BinanceUs:
      if (doc.is_object() && (doc.contains("code") || doc.contains("msg")))
        throw_api_error(
            name, field(doc, "msg"),
            doc.contains("code") ? "binance-us error code " + json_text(field(doc, "code")) : "");
      if (!doc.is_array()) throw shape_error("a JSON array of klines", doc);
      return doc;
    case Exchange::Coinbase:
      if (doc.is_object() && doc.contains("message"))
        throw_api_error(name, field(doc, "message"), "");
      if (!doc.is_array()) throw shape_error("a JSON array of candles", doc);
      return doc;
    case Exchange::Bybit: {
      if (!doc.is_object()) throw shape_error("a JSON object with retCode and result", doc);
      const json& code = field(doc, "retCode");
      if (!json_int64(code)) throw shape_error("an integer retCode", code);
      if (*json_int64(code) != 0)
        throw_api_error(name, field(doc, "retMsg"), "bybit retCode " + code.dump());
      const json& result = field(doc, "result");
      if (!result.is_object()) throw shape_error("result to be an object", result);
      const json& list = field(result, "list");
      if (!list.is_array()) throw shape_error("result.list to be an array", list);
      // cryptoml ingests spot candles (klines_url asks for category=spot). A v5 kline response
      // always names its category; a linear, inverse or option body (perpetuals, futures,
      // options) quotes another market's prices, and one without a category cannot be told apart.
      const json& category = field(result, "category");
      if (!category.is_string() || category.get_ref<const std::string&>() != "spot") {
        std::string what;
        if (!result.contains("category"))
          what = "names no result.category, so its market is unknown";
        else if (category.is_string())
          what = "is for category " + quote(category.get<std::string>()) + ", not \"spot\"";
        else
          what = "has result.category " + describe(category) + ", not \"spot\"";
        throw DataError(name + " response " + what + ": cryptoml ingests spot candles only",
                        "rule: bybit result.category is \"spot\" (the request asks for "
                        "category=spot)");
      }
      return list;
    }
  }
  throw InvalidParameter("invalid exchange");
}

// Field-by-field decimal comparison of two candles with the same open time; the name of the
// first field that differs, or nullptr when they are the same.
const char* first_difference(const Candle& a, const Candle& b) {
  const std::pair<const char*, std::pair<const std::string*, const std::string*>> fields[] = {
      {"open", {&a.open_s, &b.open_s}},
      {"high", {&a.high_s, &b.high_s}},
      {"low", {&a.low_s, &b.low_s}},
      {"close", {&a.close_s, &b.close_s}},
      {"volume", {&a.volume_s, &b.volume_s}}};
  for (const auto& [name, texts] : fields)
    if (normalize_decimal(*texts.first) != normalize_decimal(*texts.second)) return name;
  return nullptr;
}

const std::string& text_of(const Candle& c, const std::string& field) {
  if (field == "open") return c.open_s;
  if (field == "high") return c.high_s;
  if (field == "low") return c.low_s;
  if (field == "close") return c.close_s;
  return c.volume_s;
}

// ---- Retry-After -----------------------------------------------------------------------------

// A small left-to-right reader for the fixed-layout HTTP-date forms.
struct Reader {
  const std::string& s;
  std::size_t p = 0;

  bool done() const { return p == s.size(); }
  bool lit(const char* text) {
    const std::string t(text);
    if (s.compare(p, t.size(), t) != 0) return false;
    p += t.size();
    return true;
  }
  // Exactly n digits.
  bool digits(int n, int* out) {
    int v = 0;
    for (int k = 0; k < n; ++k, ++p) {
      if (p >= s.size() || !is_digit(s[p])) return false;
      v = v * 10 + (s[p] - '0');
    }
    *out = v;
    return true;
  }
  // One of the words; *index receives its position.
  bool word(const char* const* words, int count, int* index) {
    for (int k = 0; k < count; ++k)
      if (lit(words[k])) {
        *index = k;
        return true;
      }
    return false;
  }
  // HH:MM:SS
  bool time(int* h, int* m, int* sec) {
    return digits(2, h) && lit(":") && digits(2, m) && lit(":") && digits(2, sec);
  }
};

const char* const kDayNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kLongDayNames[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};
const char* const kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct HttpDate {
  int weekday, year, month, day, hour, minute, second;
};

// Parses one of the three HTTP-date forms (fields unchecked), or nullopt.
std::optional<HttpDate> read_http_date(const std::string& s, std::int64_t now_ms) {
  HttpDate d{};
  {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    Reader r{s};
    int month = 0;
    if (r.word(kDayNames, 7, &d.weekday) && r.lit(", ") && r.digits(2, &d.day) && r.lit(" ") &&
        r.word(kMonthNames, 12, &month) && r.lit(" ") && r.digits(4, &d.year) && r.lit(" ") &&
        r.time(&d.hour, &d.minute, &d.second) && r.lit(" GMT") && r.done()) {
      d.month = month + 1;
      return d;
    }
  }
  {  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    Reader r{s};
    int month = 0, yy = 0;
    if (r.word(kLongDayNames, 7, &d.weekday) && r.lit(", ") && r.digits(2, &d.day) && r.lit("-") &&
        r.word(kMonthNames, 12, &month) && r.lit("-") && r.digits(2, &yy) && r.lit(" ") &&
        r.time(&d.hour, &d.minute, &d.second) && r.lit(" GMT") && r.done()) {
      // A two-digit year more than 50 years ahead of now belongs to the previous century.
      const std::int64_t now_year = civil_from_days(floor_div(now_ms, kDayMs)).year;
      std::int64_t year = now_year - ((now_year % 100) + 100) % 100 + yy;
      if (year > now_year + 50) year -= 100;
      if (year < 0 || year > 9999) return std::nullopt;
      d.year = static_cast<int>(year);
      d.month = month + 1;
      return d;
    }
  }
  {  // asctime: Sun Nov  6 08:49:37 1994
    Reader r{s};
    int month = 0;
    if (r.word(kDayNames, 7, &d.weekday) && r.lit(" ") && r.word(kMonthNames, 12, &month) &&
        r.lit(" ")) {
      const bool day_ok = r.lit(" ") ? r.digits(1, &d.day) : r.digits(2, &d.day);
      if (day_ok && r.lit(" ") && r.time(&d.hour, &d.minute, &d.second) && r.lit(" ") &&
          r.digits(4, &d.year) && r.done()) {
        d.month = month + 1;
        return d;
      }
    }
  }
  return std::nullopt;
}

// SplitMix64 finalizer: a well-mixed 64-bit hash of x.
std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

// ---- Exchanges -------------------------------------------------------------------------------

Exchange parse_exchange(const std::string& name) {
  if (name == "binance-us") return Exchange::BinanceUs;
  if (name == "coinbase") return Exchange::Coinbase;
  if (name == "bybit") return Exchange::Bybit;
  throw InvalidParameter("invalid exchange = " + quote(name) + ": must be one of " + kExchangeNames,
                         std::string("rule: one of ") + kExchangeNames);
}

std::string exchange_name(Exchange ex) {
  switch (ex) {
    case Exchange::BinanceUs:
      return "binance-us";
    case Exchange::Coinbase:
      return "coinbase";
    case Exchange::Bybit:
      return "bybit";
  }
  throw InvalidParameter("invalid exchange value " + std::to_string(static_cast<int>(ex)));
}

int max_page(Exchange ex) {
  switch (ex) {
    case Exchange::BinanceUs:
      return 1000;
    case Exchange::Coinbase:
      return 300;
    case Exchange::Bybit:
      return 1000;
  }
  throw InvalidParameter("invalid exchange value " + std::to_string(static_cast<int>(ex)));
}

// ---- Symbols ---------------------------------------------------------------------------------

std::string product_for(Exchange ex, const std::string& symbol, const json& overrides) {
  if (!matches_charset(symbol, 2, 20, symbol_char))
    throw InvalidParameter(
        "invalid symbol = " + quote(symbol) + ": must be 2 to 20 upper-case letters or digits",
        "rule: ^[A-Z0-9]{2,20}$");
  if (!overrides.is_null() && !overrides.is_object())
    throw InvalidParameter(
        "invalid symbol overrides: expected a JSON object or null, got " + describe(overrides),
        "rule: {\"SYMBOL\": \"product-id\", ...}");

  // An explicit override wins for every exchange.
  if (overrides.is_object()) {
    const auto it = overrides.find(symbol);
    if (it != overrides.end()) {
      if (!it->is_string() || !is_product_id(it->get<std::string>()))
        throw InvalidParameter("invalid override for symbol " + symbol + " on " +
                                   exchange_name(ex) + ": " + describe(*it) +
                                   " is not a plausible product id",
                               "rule: a string matching ^[A-Za-z0-9-]{2,30}$");
      return it->get<std::string>();
    }
  }
  if (ex != Exchange::Coinbase) return symbol;

  // Coinbase names products BASE-QUOTE. Longest quote first, so that no shorter quote can claim
  // a suffix that belongs to a longer one.
  static const char* const kQuotes[] = {"USDT", "USDC", "USD", "BTC", "ETH", "EUR"};
  std::string best_quote;
  for (const char* q : kQuotes) {
    const std::string quote_str(q);
    if (quote_str.size() <= best_quote.size()) continue;
    if (symbol.size() > quote_str.size() &&
        symbol.compare(symbol.size() - quote_str.size(), quote_str.size(), quote_str) == 0)
      best_quote = quote_str;
  }
  if (best_quote.empty())
    throw InvalidParameter("no coinbase product for symbol " + symbol +
                               ": it does not end in a known quote currency after a base",
                           "rule: BASE followed by one of USDT, USDC, USD, BTC, ETH, EUR",
                           "add an entry for the symbol to the exchange symbol overrides");
  const std::string base = symbol.substr(0, symbol.size() - best_quote.size());
  return base + "-" + (best_quote == "USDT" ? std::string("USD") : best_quote);
}

// ---- Requests --------------------------------------------------------------------------------

std::string klines_url(Exchange ex, const std::string& base, const std::string& product,
                       std::int64_t start_ms, std::int64_t end_ms, int limit) {
  std::string root = base;
  if (!root.empty() && root.back() == '/') root.pop_back();
  const bool http = root.rfind("http://", 0) == 0 && root.size() > 7;
  const bool https = root.rfind("https://", 0) == 0 && root.size() > 8;
  if (!http && !https)
    throw InvalidParameter("invalid base URL = " + quote(base) +
                               ": must start with http:// or https:// and name a host",
                           "rule: http(s)://host[:port][/path], one trailing slash allowed");
  check_product(product);

  const int max = max_page(ex);
  if (limit < 1 || limit > max)
    throw InvalidParameter("invalid limit = " + std::to_string(limit) + " for " +
                               exchange_name(ex) + ": must be between 1 and " + std::to_string(max),
                           "rule: 1 <= limit <= the exchange's documented page size");
  const std::pair<const char*, std::int64_t> bounds[] = {{"start_ms", start_ms},
                                                         {"end_ms", end_ms}};
  for (const auto& [name, v] : bounds)
    if (v < 0 || v % kMinuteMs != 0)
      throw InvalidParameter(std::string("invalid ") + name + " = " + std::to_string(v) +
                                 ": must be a candle open time (>= 0, a multiple of 60000 ms)",
                             "rule: open times are whole minutes in ms");
  if (start_ms > end_ms)
    throw InvalidParameter("invalid range: start_ms = " + std::to_string(start_ms) +
                               " is after end_ms = " + std::to_string(end_ms),
                           "rule: start_ms <= end_ms");
  const std::int64_t candles = (end_ms - start_ms) / kMinuteMs + 1;
  if (candles > limit)
    throw InvalidParameter("invalid range: [" + std::to_string(start_ms) + ", " +
                               std::to_string(end_ms) + "] spans " + std::to_string(candles) +
                               " candles, more than limit = " + std::to_string(limit),
                           "rule: (end_ms - start_ms) / 60000 + 1 <= limit",
                           "split the range into pages (plan_pages)");

  const std::string s = std::to_string(start_ms), e = std::to_string(end_ms),
                    l = std::to_string(limit);
  switch (ex) {
    case Exchange::BinanceUs:
      return root + "/api/v3/klines?symbol=" + product + "&interval=1m&startTime=" + s +
             "&endTime=" + e + "&limit=" + l;
    case Exchange::Coinbase:
      return root + "/products/" + product + "/candles?granularity=60&start=" + iso_utc(start_ms) +
             "&end=" + iso_utc(end_ms);
    case Exchange::Bybit:
      return root + "/v5/market/kline?category=spot&symbol=" + product + "&interval=1&start=" + s +
             "&end=" + e + "&limit=" + l;
  }
  throw InvalidParameter("invalid exchange value " + std::to_string(static_cast<int>(ex)));
}

// ---- Responses -------------------------------------------------------------------------------

ParseResult parse_klines(Exchange ex, const std::string& body, const ParseOptions& opt) {
  const std::string name = exchange_name(ex);
  if (opt.future_tolerance_ms < 0)
    throw InvalidParameter("invalid future_tolerance_ms = " +
                               std::to_string(opt.future_tolerance_ms) + ": must be >= 0",
                           "rule: tolerance in ms >= 0");
  // 1. Size, before any parsing work.
  if (body.size() > opt.max_bytes)
    throw DataError(name + " response body is " + std::to_string(body.size()) +
                        " bytes, larger than the limit of " + std::to_string(opt.max_bytes) +
                        " bytes",
                    "rule: body size <= max_bytes");

  // 2. JSON and the top-level shape (error bodies are recognised here).
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::parse_error& e) {
    // The body itself is not quoted: it may be anything (an HTML error page, a proxy's text), and
    // messages end up in logs.
    throw DataError(name + " response is not valid JSON: syntax error at byte " + std::to_string(e.byte) + " of " +
                        std::to_string(body.size()),
                    "rule: the body is the exchange's JSON kline response");
  } catch (const json::exception&) {
    throw DataError(name + " response is not valid JSON (" + std::to_string(body.size()) + " bytes)",
                    "rule: the body is the exchange's JSON kline response");
  }
  const json& list = candle_array(ex, doc);
  const Layout lay = layout_of(ex);

  // 3. Every candle on its own, in payload order.
  struct Item {
    std::size_t index;  // position in the payload
    Candle candle;
    std::int64_t close_time_ms;  // last ms of the candle (read_close_time)
  };
  std::vector<Item> items;
  items.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    Where where{name, i, std::nullopt};
    std::int64_t close_time_ms = 0;
    Candle c = read_candle(lay, list[i], where, opt, &close_time_ms);
    items.push_back({i, std::move(c), close_time_ms});
  }

  ParseResult res;
  res.received = items.size();
  if (ex == Exchange::Bybit) {
    const auto result = doc.find("result");  // an object: candle_array checked it
    const auto symbol = result->find("symbol");
    if (symbol != result->end() && symbol->is_string()) res.product = symbol->get<std::string>();
  }

  // Documented order: ascending for binance-us, newest first for coinbase and bybit. Equal open
  // times (duplicates) do not break either order.
  for (std::size_t k = 1; k < items.size() && !res.reordered; ++k) {
    const std::int64_t prev = items[k - 1].candle.open_time_ms;
    const std::int64_t cur = items[k].candle.open_time_ms;
    res.reordered = lay.newest_first ? cur > prev : cur < prev;
  }
  // Stable: candles sharing an open time stay in payload order, so the first one is kept.
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.candle.open_time_ms < b.candle.open_time_ms;
  });

  // 4. Duplicates, then the still-forming candles.
  res.candles.reserve(items.size());
  const Item* kept = nullptr;  // first candle of the current open time
  std::size_t distinct = 0;    // distinct open times
  std::int64_t spacing = 0;    // gcd of the spacings between consecutive distinct open times
  for (const Item& it : items) {
    if (kept != nullptr && kept->candle.open_time_ms == it.candle.open_time_ms) {
      if (const char* field = first_difference(kept->candle, it.candle)) {
        const std::string f(field);
        throw DataError(name + " candles [" + std::to_string(kept->index) + "] and [" +
                            std::to_string(it.index) + "] both open at " +
                            std::to_string(it.candle.open_time_ms) +
                            " with different values: " + f + " " + quote(text_of(kept->candle, f)) +
                            " vs " + quote(text_of(it.candle, f)),
                        "rule: candles with the same open time carry the same values "
                        "(a conflicting duplicate)");
      }
      ++res.duplicates;
      continue;
    }
    if (kept != nullptr)  // both open times are positive multiples of 60 000: no overflow
      spacing = std::gcd(spacing, it.candle.open_time_ms - kept->candle.open_time_ms);
    ++distinct;
    kept = &it;
    // Still forming until its close time has passed: closed once close_time < now_ms, i.e.
    // open_time + 60 000 <= now_ms. For binance-us the close time is the one the exchange sent
    // (checked to be open + 59 999 by read_close_time), so the exchange's own statement decides.
    if (it.close_time_ms >= opt.now_ms) {
      ++res.not_closed;
      continue;
    }
    res.candles.push_back(it.candle);
  }

  // 5. The interval of coinbase and bybit bodies. They state none (binance-us does: closeTime,
  // checked per candle), but candles of a larger granularity (5m, 1h, 1d, ...) open on multiples
  // of it, so the spacings between their open times share a divisor above 60 s, while 1-minute
  // candles are spaced 60 s apart except around gaps (minutes without trades, an outage). With at
  // least 3 distinct open times, a gcd of the spacings above 60 s refuses the body. Two distinct
  // open times give a single spacing, and one gap between two 1-minute candles is legitimate, so
  // one or two candles are accepted whatever their spacing (a 1-candle or 2-candle body of
  // larger candles cannot be told from 1-minute data). A 1-minute body whose every spacing is a
  // multiple of 120 s or more (a very illiquid product on coinbase, which omits empty minutes) is
  // refused too: loudly, never stored wrong.
  if (ex != Exchange::BinanceUs && distinct >= 3 && spacing > kMinuteMs)
    throw DataError(
        name + " candles are spaced " + std::to_string(spacing / 1000) +
            " s apart (gcd of the spacings between the " + std::to_string(distinct) +
            " distinct open times, " + iso_utc(items.front().candle.open_time_ms) + " to " +
            iso_utc(items.back().candle.open_time_ms) + "): not 1-minute candles (" +
            duration_name(spacing) + " candles?)",
        "rule: with 3 or more distinct open times, the gcd of the spacings between consecutive "
        "open times is 60 s (1-minute candles; gaps allowed)");
  return res;
}

// ---- Rate limiting and retries ---------------------------------------------------------------

TokenBucket::TokenBucket(double rate_per_second, double burst) {
  if (!std::isfinite(rate_per_second) || !(rate_per_second > 0))
    throw InvalidParameter(
        "invalid rate_per_second = " + format_double(rate_per_second) + ": must be finite and > 0",
        "rule: finite requests per second > 0");
  if (!std::isfinite(burst) || !(burst >= 1))
    throw InvalidParameter("invalid burst = " + format_double(burst) + ": must be finite and >= 1",
                           "rule: finite number of requests >= 1");
  period_ms_ = 1000.0 / rate_per_second;
  tolerance_ms_ = (burst - 1.0) * period_ms_;
}

std::int64_t TokenBucket::try_take(std::int64_t now_ms) {
  if (started_) {
    // Earliest whole ms at which a request passes: ceil(tat - tau). Only the small part
    // (fraction - tau) goes through floating point; extreme rates saturate.
    const std::int64_t ready = sat_add(tat_ms_, to_int64_sat(std::ceil(tat_frac_ - tolerance_ms_)));
    if (now_ms < ready) return ready - now_ms;  // ready > now_ms >= INT64_MIN: no overflow
  }
  // Pass: tat = max(tat, now) + T, renormalized to whole ms plus a fraction in [0, 1).
  if (!started_ || now_ms > tat_ms_) {  // now > tat_ms_ + tat_frac_ for integer now
    tat_ms_ = now_ms;
    tat_frac_ = 0.0;
  }
  started_ = true;
  tat_frac_ += period_ms_;
  const double whole = std::floor(tat_frac_);
  tat_ms_ = sat_add(tat_ms_, to_int64_sat(whole));
  tat_frac_ -= whole;
  if (!(tat_frac_ >= 0.0 && tat_frac_ < 1.0)) tat_frac_ = 0.0;  // only for periods beyond 2^53 ms
  return 0;
}

std::int64_t backoff_ms(int attempt, std::int64_t base_ms, std::int64_t max_ms,
                        std::optional<std::int64_t> retry_after_ms, std::uint64_t seed) {
  if (attempt < 1)
    throw InvalidParameter("invalid attempt = " + std::to_string(attempt) + ": must be >= 1",
                           "rule: 1-based failure count");
  if (base_ms < 1)
    throw InvalidParameter("invalid base_ms = " + std::to_string(base_ms) + ": must be >= 1",
                           "rule: base delay in ms >= 1");
  if (max_ms < base_ms)
    throw InvalidParameter("invalid max_ms = " + std::to_string(max_ms) +
                               ": must be >= base_ms = " + std::to_string(base_ms),
                           "rule: max_ms >= base_ms");
  if (retry_after_ms && *retry_after_ms < 0)
    throw InvalidParameter(
        "invalid retry_after_ms = " + std::to_string(*retry_after_ms) + ": must be >= 0",
        "rule: delay in ms >= 0");

  // raw = min(max_ms, base_ms * 2^(attempt - 1)), doubling without overflow.
  std::int64_t raw = base_ms;
  for (int k = 1; k < attempt && raw < max_ms; ++k) raw = raw > max_ms / 2 ? max_ms : raw * 2;
  raw = std::min(raw, max_ms);

  // Jitter: uniform over [ceil(raw / 2), raw], from a hash of (seed, attempt). The modulo bias
  // is below span / 2^64, far too small to matter.
  const std::int64_t lo = raw - raw / 2;
  const std::uint64_t span = static_cast<std::uint64_t>(raw - lo);
  const std::uint64_t h =
      mix64(seed ^ mix64(static_cast<std::uint64_t>(static_cast<std::int64_t>(attempt))));
  const std::uint64_t offset = h % (span + 1);
  std::int64_t delay = lo + static_cast<std::int64_t>(offset);

  // The server's Retry-After is a floor, honoured up to one hour.
  if (retry_after_ms) delay = std::max(delay, std::min(*retry_after_ms, kMaxRetryAfterMs));
  return delay;
}

std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t now_ms) {
  // Optional whitespace around the field value (spaces and tabs).
  const std::size_t b = value.find_first_not_of(" \t");
  if (b == std::string::npos) return std::nullopt;
  const std::string v = value.substr(b, value.find_last_not_of(" \t") - b + 1);

  // delta-seconds: 1*DIGIT, saturating.
  if (std::all_of(v.begin(), v.end(), is_digit)) {
    std::int64_t secs = 0;
    for (char c : v) {
      if (secs > (kInt64Max / 1000 - (c - '0')) / 10) return kInt64Max;
      secs = secs * 10 + (c - '0');
    }
    return secs * 1000;
  }

  // HTTP-date: the fields must form a real date whose weekday is the one named.
  const auto d = read_http_date(v, now_ms);
  if (!d || d->month < 1 || d->month > 12 || d->day < 1 ||
      d->day > days_in_month(d->year, d->month) || d->hour > 23 || d->minute > 59 ||
      d->second > 60)  // 60: a leap second
    return std::nullopt;
  const std::int64_t days = days_from_civil(d->year, d->month, d->day);
  if (weekday(days) != d->weekday) return std::nullopt;
  const std::int64_t date_ms =
      days * kDayMs + (d->hour * 3600LL + d->minute * 60LL + d->second) * 1000LL;
  // A date in the past means "now"; the difference saturates for an absurdly early now_ms.
  if (now_ms >= date_ms) return 0;
  if (now_ms < 0 && date_ms > kInt64Max + now_ms) return kInt64Max;
  return date_ms - now_ms;
}

// ---- Backfill planning -----------------------------------------------------------------------

std::vector<Page> plan_pages(std::optional<std::int64_t> latest_ms, std::int64_t now_ms,
                             int page_size, int initial_minutes) {
  if (page_size < 1)
    throw InvalidParameter("invalid page_size = " + std::to_string(page_size) + ": must be >= 1",
                           "rule: candles per page >= 1");
  if (initial_minutes < 1)
    throw InvalidParameter(
        "invalid initial_minutes = " + std::to_string(initial_minutes) + ": must be >= 1",
        "rule: minutes to backfill when nothing is stored >= 1");
  if (latest_ms && (*latest_ms <= 0 || *latest_ms % kMinuteMs != 0))
    throw InvalidParameter("invalid latest_ms = " + std::to_string(*latest_ms) +
                               ": must be a candle open time (> 0, a multiple of 60000 ms)",
                           "rule: open times are whole minutes in ms");

  // The last closed minute opens one minute before the current (forming) one. Nothing with an
  // open time > 0 has closed before 120 000 ms.
  if (now_ms < 2 * kMinuteMs) return {};
  const std::int64_t last = floor_div(now_ms, kMinuteMs) * kMinuteMs - kMinuteMs;
  std::int64_t first;
  if (latest_ms) {
    if (*latest_ms >= last) return {};  // up to date (or a stored bar from the future)
    first = *latest_ms + kMinuteMs;
  } else {
    first = last - (static_cast<std::int64_t>(initial_minutes) - 1) * kMinuteMs;
  }
  first = std::max(first, kMinuteMs);  // open times are > 0

  const std::int64_t minutes = (last - first) / kMinuteMs + 1;
  const std::int64_t pages = (minutes + page_size - 1) / page_size;
  if (pages > static_cast<std::int64_t>(kMaxPlanPages))
    throw InvalidParameter("backfill of " + std::to_string(minutes) + " minutes from " +
                               std::to_string(first) + " needs " + std::to_string(pages) +
                               " pages of " + std::to_string(page_size) + ", more than " +
                               std::to_string(kMaxPlanPages),
                           "rule: at most " + std::to_string(kMaxPlanPages) + " pages per plan",
                           "use a larger page size");

  std::vector<Page> plan;
  plan.reserve(static_cast<std::size_t>(pages));
  const std::int64_t step = static_cast<std::int64_t>(page_size) * kMinuteMs;
  for (std::int64_t k = 0; k < pages; ++k) {
    const std::int64_t start = first + k * step;
    plan.push_back({start, start + std::min(step - kMinuteMs, last - start)});
  }
  return plan;
}

}  // namespace cml::exchange
