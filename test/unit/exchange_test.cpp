// Unit tests for the exchange access rules (src/core/exchange.hpp).
//
// The sample bodies below are written by hand in each exchange's documented response format.
// They all describe the same three closed 1-minute BTC candles:
//   open time (UTC)       open      high      low       close     volume
//   2026-11-24 10:00   95123.45  95180.00  95100.10  95150.25  12.3456
//   2026-11-24 10:01   95150.25  95210.50  95140.00  95200.75   8.5
//   2026-11-24 10:02   95200.75  95222.22  95111.11  95120.00   0.00001
// and the clock (kNow) reads 10:03:05, so all three are closed and a 10:03 candle is forming.
#include "exchange.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

using cml::exchange::Candle;
using cml::exchange::Exchange;
using cml::exchange::Page;
using cml::exchange::ParseOptions;
using cml::exchange::ParseResult;
using cml::exchange::TokenBucket;
using nlohmann::json;

namespace ex = cml::exchange;

namespace {

constexpr std::int64_t kMin = 60000;
constexpr std::int64_t kT0 = 1795514400000;           // 2026-11-24T10:00:00Z
constexpr std::int64_t kNow = kT0 + 3 * kMin + 5000;  // 10:03:05

// ---- Sample bodies -------------------------------------------------------------------------

// binance-us GET /api/v3/klines: ascending, prices as strings padded to 8 decimals.
const std::string kBinanceBody = R"([
  [1795514400000,"95123.45000000","95180.00000000","95100.10000000","95150.25000000","12.34560000",1795514459999,"1174532.12345678",1523,"6.12340000","582532.11000000","0"],
  [1795514460000,"95150.25000000","95210.50000000","95140.00000000","95200.75000000","8.50000000",1795514519999,"809107.50000000",987,"4.25000000","404553.75000000","0"],
  [1795514520000,"95200.75000000","95222.22000000","95111.11000000","95120.00000000","0.00001000",1795514579999,"0.95120000",1,"0.00000000","0.00000000","0"]
])";

// coinbase GET /products/BTC-USD/candles: newest first, [time s, low, high, open, close, volume].
const std::string kCoinbaseBody = R"([
  [1795514520,95111.11,95222.22,95200.75,95120,1e-05],
  [1795514460,95140,95210.5,95150.25,95200.75,8.5],
  [1795514400,95100.1,95180,95123.45,95150.25,12.3456]
])";

// bybit GET /v5/market/kline: newest first, all strings.
const std::string kBybitBody =
    R"({"retCode":0,"retMsg":"OK","result":{"category":"spot","symbol":"BTCUSDT","list":[
  ["1795514520000","95200.75","95222.22","95111.11","95120","0.00001","0.9512"],
  ["1795514460000","95150.25","95210.5","95140","95200.75","8.5","809107.5"],
  ["1795514400000","95123.45","95180","95100.1","95150.25","12.3456","1174532.12"]
]},"retExtInfo":{},"time":1795514585123})";

// One binance kline row with the given open time and values (closeTime etc. filled in).
std::string binance_row(std::int64_t t, const std::string& o, const std::string& h,
                        const std::string& l, const std::string& c, const std::string& v) {
  return "[" + std::to_string(t) + ",\"" + o + "\",\"" + h + "\",\"" + l + "\",\"" + c + "\",\"" +
         v + "\"," + std::to_string(t + kMin - 1) + ",\"1000.0\",10,\"0.5\",\"500.0\",\"0\"]";
}

// A binance body of one valid candle at kT0 followed by `row`.
std::string binance_with(const std::string& row) {
  return "[" + binance_row(kT0, "95123.45", "95180.00", "95100.10", "95150.25", "12.3456") + "," +
         row + "]";
}

std::string bybit_body(const std::string& list) {
  return R"({"retCode":0,"retMsg":"OK","result":{"category":"spot","symbol":"BTCUSDT","list":)" +
         list + R"(},"retExtInfo":{},"time":1795514585123})";
}

ParseOptions opts(std::int64_t now = kNow) {
  ParseOptions o;
  o.now_ms = now;
  return o;
}

ParseResult parse(Exchange e, const std::string& body, std::int64_t now = kNow) {
  return ex::parse_klines(e, body, opts(now));
}

// ---- Expectation helpers -------------------------------------------------------------------

void expect_fragments(const std::string& m, const std::vector<std::string>& fragments) {
  for (const auto& frag : fragments)
    EXPECT_NE(m.find(frag), std::string::npos)
        << "message \"" << m << "\" lacks \"" << frag << "\"";
}

// Expect a DataError whose message contains every fragment and whose detail states a rule.
void expect_data_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected DataError";
  } catch (const cml::DataError& e) {
    expect_fragments(e.what(), fragments);
    EXPECT_EQ(e.detail().rfind("rule: ", 0), 0u) << "detail \"" << e.detail() << "\"";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

void expect_invalid(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected InvalidParameter";
  } catch (const cml::InvalidParameter& e) {
    expect_fragments(e.what(), fragments);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

// Expect an ApiError; returns its message (empty on failure).
std::string api_error_message(Exchange e, const std::string& body) {
  try {
    parse(e, body);
    ADD_FAILURE() << "no exception; expected ApiError";
  } catch (const ex::ApiError& err) {
    return err.what();
  } catch (const std::exception& err) {
    ADD_FAILURE() << "wrong exception type: " << err.what();
  }
  return {};
}

// The three sample candles, with their values as doubles.
struct Expected {
  std::int64_t t;
  double o, h, l, c, v;
};
const Expected kExpected[] = {
    {kT0, 95123.45, 95180.00, 95100.10, 95150.25, 12.3456},
    {kT0 + kMin, 95150.25, 95210.50, 95140.00, 95200.75, 8.5},
    {kT0 + 2 * kMin, 95200.75, 95222.22, 95111.11, 95120.00, 0.00001},
};

void expect_sample_candles(const ParseResult& r) {
  ASSERT_EQ(r.candles.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const Candle& c = r.candles[i];
    const Expected& e = kExpected[i];
    EXPECT_EQ(c.open_time_ms, e.t) << "candle " << i;
    EXPECT_EQ(c.open, e.o) << "candle " << i;
    EXPECT_EQ(c.high, e.h) << "candle " << i;
    EXPECT_EQ(c.low, e.l) << "candle " << i;
    EXPECT_EQ(c.close, e.c) << "candle " << i;
    EXPECT_EQ(c.volume, e.v) << "candle " << i;
  }
  EXPECT_EQ(r.received, 3u);
  EXPECT_EQ(r.not_closed, 0u);
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_FALSE(r.reordered);
}

// ^-?[0-9]+(\.[0-9]+)?$ without <regex>.
bool plain_decimal(const std::string& s) {
  std::size_t i = s.rfind('-', 0) == 0 ? 1 : 0;
  const std::size_t d0 = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == d0) return false;
  if (i == s.size()) return true;
  if (s[i++] != '.') return false;
  const std::size_t f0 = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  return i > f0 && i == s.size();
}

}  // namespace

// ============================ exchanges =====================================================

TEST(ExchangeNames, ParseNameAndPageSize) {
  for (Exchange e : {Exchange::BinanceUs, Exchange::Coinbase, Exchange::Bybit})
    EXPECT_EQ(ex::parse_exchange(ex::exchange_name(e)), e);
  EXPECT_EQ(ex::exchange_name(Exchange::BinanceUs), "binance-us");
  EXPECT_EQ(ex::exchange_name(Exchange::Coinbase), "coinbase");
  EXPECT_EQ(ex::exchange_name(Exchange::Bybit), "bybit");
  EXPECT_EQ(ex::max_page(Exchange::BinanceUs), 1000);
  EXPECT_EQ(ex::max_page(Exchange::Coinbase), 300);
  EXPECT_EQ(ex::max_page(Exchange::Bybit), 1000);
}

TEST(ExchangeNames, UnknownNameRejected) {
  for (const std::string bad : {"binance", "Coinbase", "BYBIT", "", " bybit", "kraken"})
    expect_invalid([&] { ex::parse_exchange(bad); },
                   {"\"" + bad + "\"", "binance-us", "coinbase", "bybit"});
}

// ============================ parsing: the happy path =======================================

TEST(ExchangeParse, BinanceSample) {
  const ParseResult r = parse(Exchange::BinanceUs, kBinanceBody);
  expect_sample_candles(r);
  // String fields are kept exactly as sent, padding included.
  EXPECT_EQ(r.candles[0].open_s, "95123.45000000");
  EXPECT_EQ(r.candles[0].high_s, "95180.00000000");
  EXPECT_EQ(r.candles[0].low_s, "95100.10000000");
  EXPECT_EQ(r.candles[0].close_s, "95150.25000000");
  EXPECT_EQ(r.candles[0].volume_s, "12.34560000");
  EXPECT_EQ(r.candles[2].volume_s, "0.00001000");
}

TEST(ExchangeParse, CoinbaseSampleNewestFirstAndLowHighOpenClose) {
  const ParseResult r = parse(Exchange::Coinbase, kCoinbaseBody);
  expect_sample_candles(r);  // ascending, and open/high/low/close taken from the right places
  const Candle& c = r.candles[0];
  EXPECT_EQ(c.open_s, "95123.45");
  EXPECT_EQ(c.high_s, "95180");
  EXPECT_EQ(c.low_s, "95100.1");
  EXPECT_EQ(c.close_s, "95150.25");
  EXPECT_EQ(c.volume_s, "12.3456");
  // JSON numbers: shortest round-trip text, never an exponent.
  EXPECT_EQ(r.candles[2].volume_s, "0.00001");
  EXPECT_EQ(r.candles[2].close_s, "95120");
}

TEST(ExchangeParse, BybitSampleNewestFirst) {
  const ParseResult r = parse(Exchange::Bybit, kBybitBody);
  expect_sample_candles(r);
  EXPECT_EQ(r.candles[0].open_s, "95123.45");
  EXPECT_EQ(r.candles[0].high_s, "95180");
  EXPECT_EQ(r.candles[2].volume_s, "0.00001");
}

TEST(ExchangeParse, AllExchangesGiveTheSameCanonicalCandles) {
  const ParseResult b = parse(Exchange::BinanceUs, kBinanceBody);
  const ParseResult c = parse(Exchange::Coinbase, kCoinbaseBody);
  const ParseResult y = parse(Exchange::Bybit, kBybitBody);
  ASSERT_EQ(b.candles.size(), 3u);
  ASSERT_EQ(c.candles.size(), 3u);
  ASSERT_EQ(y.candles.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    for (const ParseResult* other : {&c, &y}) {
      const Candle& p = b.candles[i];
      const Candle& q = other->candles[i];
      EXPECT_EQ(p.open_time_ms, q.open_time_ms);
      EXPECT_EQ(p.open, q.open);
      EXPECT_EQ(p.high, q.high);
      EXPECT_EQ(p.low, q.low);
      EXPECT_EQ(p.close, q.close);
      EXPECT_EQ(p.volume, q.volume);
    }
    // Every text field is a plain decimal.
    for (const ParseResult* r : {&b, &c, &y}) {
      const Candle& k = r->candles[i];
      for (const std::string* s : {&k.open_s, &k.high_s, &k.low_s, &k.close_s, &k.volume_s})
        EXPECT_TRUE(plain_decimal(*s)) << *s;
    }
  }
}

TEST(ExchangeParse, CoinbaseNumbersWithExponentsAndIntegersBecomePlainDecimals) {
  const std::string body =
      "[[1795514400,9.5e4,1.2E5,100000,1.00000e5,1.5e-7],"
      " [1795514460,0.5,2,1,1.25,0]]";
  const ParseResult r = parse(Exchange::Coinbase, body);
  ASSERT_EQ(r.candles.size(), 2u);
  const Candle& a = r.candles[0];
  EXPECT_EQ(a.low_s, "95000");
  EXPECT_EQ(a.high_s, "120000");
  EXPECT_EQ(a.open_s, "100000");
  EXPECT_EQ(a.close_s, "100000");
  EXPECT_EQ(a.volume_s, "0.00000015");
  EXPECT_EQ(a.volume, 1.5e-7);
  EXPECT_EQ(r.candles[1].volume_s, "0");
  for (const Candle& c : r.candles)
    for (const std::string* s : {&c.open_s, &c.high_s, &c.low_s, &c.close_s, &c.volume_s})
      EXPECT_TRUE(plain_decimal(*s)) << *s;
}

TEST(ExchangeParse, EmptyPayloadIsValid) {
  for (const auto& [e, body] :
       std::vector<std::pair<Exchange, std::string>>{{Exchange::BinanceUs, "[]"},
                                                     {Exchange::Coinbase, " [ ] "},
                                                     {Exchange::Bybit, bybit_body("[]")}}) {
    const ParseResult r = parse(e, body);
    EXPECT_TRUE(r.candles.empty());
    EXPECT_EQ(r.received, 0u);
  }
}

TEST(ExchangeParse, NotClosedCandleDropped) {
  // Binance: the forming 10:03 candle comes last; Coinbase and Bybit: first.
  const std::string forming_row =
      binance_row(kT0 + 3 * kMin, "95120.00", "95130.00", "95110.00", "95125.00", "0.5");
  std::string binance = kBinanceBody;
  binance.insert(binance.rfind(']'), "," + forming_row);
  const std::string coinbase =
      "[[1795514580,95110,95130,95120,95125,0.5]," + kCoinbaseBody.substr(1);
  const std::string bybit = bybit_body(
      R"([["1795514580000","95120","95130","95110","95125","0.5","47562.5"],
          ["1795514520000","95200.75","95222.22","95111.11","95120","0.00001","0.9512"]])");

  for (const auto& [e, body] :
       std::vector<std::pair<Exchange, std::string>>{{Exchange::BinanceUs, binance},
                                                     {Exchange::Coinbase, coinbase},
                                                     {Exchange::Bybit, bybit}}) {
    const ParseResult r = parse(e, body);
    EXPECT_EQ(r.not_closed, 1u) << ex::exchange_name(e);
    EXPECT_FALSE(r.reordered) << ex::exchange_name(e);
    ASSERT_FALSE(r.candles.empty());
    EXPECT_EQ(r.candles.back().open_time_ms, kT0 + 2 * kMin) << ex::exchange_name(e);
    EXPECT_EQ(r.received, r.candles.size() + r.not_closed + r.duplicates);
  }

  // Closed exactly when open + 60 s == now; one ms earlier it is still forming.
  const std::string one = "[" + binance_row(kT0, "1", "1", "1", "1", "1") + "]";
  EXPECT_EQ(parse(Exchange::BinanceUs, one, kT0 + kMin).candles.size(), 1u);
  const ParseResult early = parse(Exchange::BinanceUs, one, kT0 + kMin - 1);
  EXPECT_TRUE(early.candles.empty());
  EXPECT_EQ(early.not_closed, 1u);
}

TEST(ExchangeParse, ExactDuplicateCollapsed) {
  // The same candle twice; the second copy spells the same values differently ("95123.45" vs
  // "95123.450"), which is still the same decimal. The first occurrence is kept.
  const std::string body =
      "[" + binance_row(kT0, "95123.45", "95180.00", "95100.10", "95150.25", "12.3456") + "," +
      binance_row(kT0, "95123.450", "95180", "95100.1", "95150.2500", "12.34560") + "," +
      binance_row(kT0 + kMin, "95150.25", "95210.50", "95140.00", "95200.75", "8.5") + "]";
  const ParseResult r = parse(Exchange::BinanceUs, body);
  ASSERT_EQ(r.candles.size(), 2u);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(r.received, 3u);
  EXPECT_FALSE(r.reordered);
  EXPECT_EQ(r.candles[0].open_s, "95123.45");
  EXPECT_EQ(r.candles[0].high_s, "95180.00");
  EXPECT_EQ(r.candles[1].open_time_ms, kT0 + kMin);

  // Bybit, newest first, with the duplicate not adjacent to its twin.
  const std::string bybit = bybit_body(
      R"([["1795514460000","95150.25","95210.5","95140","95200.75","8.5","1"],
          ["1795514400000","95123.45","95180","95100.1","95150.25","12.3456","1"],
          ["1795514460000","95150.25","95210.5","95140","95200.75","8.5","1"]])");
  const ParseResult y = parse(Exchange::Bybit, bybit);
  EXPECT_EQ(y.candles.size(), 2u);
  EXPECT_EQ(y.duplicates, 1u);
  EXPECT_TRUE(y.reordered);  // 10:00 then 10:01 again: not newest first
}

TEST(ExchangeParse, ConflictingDuplicateRejected) {
  const std::string body =
      "[" + binance_row(kT0, "95123.45", "95180.00", "95100.10", "95150.25", "12.3456") + "," +
      binance_row(kT0, "95123.45", "95180.00", "95100.10", "95150.26", "12.3456") + "]";
  expect_data_error(
      [&] { parse(Exchange::BinanceUs, body); },
      {"binance-us", "[0]", "[1]", std::to_string(kT0), "close", "\"95150.25\"", "\"95150.26\""});
  // Volume alone differing is a conflict too.
  const std::string coinbase =
      "[[1795514400,95100.1,95180,95123.45,95150.25,12.3456],"
      " [1795514400,95100.1,95180,95123.45,95150.25,12.3457]]";
  expect_data_error([&] { parse(Exchange::Coinbase, coinbase); },
                    {"coinbase", "volume", "\"12.3456\"", "\"12.3457\""});
}

TEST(ExchangeParse, OutOfOrderSortedAndFlagged) {
  // Binance documents ascending: a descending payload is reordered.
  const std::string binance = "[" + binance_row(kT0 + kMin, "2", "2", "2", "2", "1") + "," +
                              binance_row(kT0, "1", "1", "1", "1", "1") + "]";
  const ParseResult b = parse(Exchange::BinanceUs, binance);
  EXPECT_TRUE(b.reordered);
  ASSERT_EQ(b.candles.size(), 2u);
  EXPECT_EQ(b.candles[0].open_time_ms, kT0);
  EXPECT_EQ(b.candles[0].open_s, "1");
  EXPECT_EQ(b.candles[1].open_time_ms, kT0 + kMin);

  // Coinbase documents newest first: an ascending payload is reordered.
  const std::string coinbase =
      "[[1795514400,95100.1,95180,95123.45,95150.25,12.3456],"
      " [1795514520,95111.11,95222.22,95200.75,95120,1e-05],"
      " [1795514460,95140,95210.5,95150.25,95200.75,8.5]]";
  const ParseResult c = parse(Exchange::Coinbase, coinbase);
  EXPECT_TRUE(c.reordered);
  expect_sample_candles(ParseResult{c.candles, 3, 0, 0, false, ""});

  // Bybit shuffled.
  const std::string bybit = bybit_body(
      R"([["1795514460000","95150.25","95210.5","95140","95200.75","8.5","1"],
          ["1795514520000","95200.75","95222.22","95111.11","95120","0.00001","1"],
          ["1795514400000","95123.45","95180","95100.1","95150.25","12.3456","1"]])");
  const ParseResult y = parse(Exchange::Bybit, bybit);
  EXPECT_TRUE(y.reordered);
  expect_sample_candles(ParseResult{y.candles, 3, 0, 0, false, ""});
}

// ============================ parsing: validation ===========================================

TEST(ExchangeValidation, OversizedBodyRefusedBeforeParsing) {
  ParseOptions o = opts();
  o.max_bytes = 100;
  const std::string big(101, '[');  // not JSON either: the size is checked first
  expect_data_error([&] { ex::parse_klines(Exchange::BinanceUs, big, o); },
                    {"binance-us", "101 bytes", "100 bytes"});
  // At the limit it is parsed (and here found valid).
  const std::string ok = "[" + std::string(98, ' ') + "]";
  EXPECT_NO_THROW(ex::parse_klines(Exchange::BinanceUs, ok, o));
  // The default limit is 4 MiB.
  EXPECT_EQ(ParseOptions{}.max_bytes, 4u << 20);
  const std::string huge((4u << 20) + 1, ' ');
  expect_data_error([&] { parse(Exchange::Bybit, huge); }, {"bybit", "4194305 bytes", "4194304"});
}

TEST(ExchangeValidation, NotJson) {
  expect_data_error(
      [&] { parse(Exchange::BinanceUs, "<html><body>502 Bad Gateway</body></html>"); },
      {"binance-us", "not valid JSON", "syntax error at byte 1 of 41"});
  try {
    parse(Exchange::BinanceUs, "<html><body>502 Bad Gateway</body></html>");
  } catch (const cml::DataError& e) {
    EXPECT_EQ(std::string(e.what()).find("html"), std::string::npos) << "the body is not quoted: " << e.what();
  }
  expect_data_error([&] { parse(Exchange::Coinbase, ""); }, {"coinbase", "not valid JSON"});
  expect_data_error([&] { parse(Exchange::Bybit, kBybitBody.substr(0, 80)); },
                    {"bybit", "not valid JSON"});
}

TEST(ExchangeValidation, WrongTopLevelShape) {
  expect_data_error([&] { parse(Exchange::BinanceUs, R"({"klines":[]})"); },
                    {"binance-us", "wrong shape", "object"});
  expect_data_error([&] { parse(Exchange::Coinbase, R"("candles")"); },
                    {"coinbase", "wrong shape", "string \"candles\""});
  expect_data_error([&] { parse(Exchange::Bybit, kBinanceBody); },
                    {"bybit", "wrong shape", "array"});
  expect_data_error([&] { parse(Exchange::Bybit, R"({"retMsg":"OK","result":{"list":[]}})"); },
                    {"bybit", "retCode", "null"});
  expect_data_error([&] { parse(Exchange::Bybit, R"({"retCode":0,"retMsg":"OK","result":{}})"); },
                    {"bybit", "result.list", "null"});
  expect_data_error(
      [&] { parse(Exchange::Bybit, R"({"retCode":0,"retMsg":"OK","result":{"list":{}}})"); },
      {"bybit", "result.list", "object"});
}

TEST(ExchangeValidation, ElementOfWrongTypeOrArity) {
  // Not an array.
  expect_data_error([&] { parse(Exchange::BinanceUs, binance_with(R"({"t":1})")); },
                    {"binance-us candle [1]", "object"});
  // Too few elements.
  expect_data_error(
      [&] { parse(Exchange::BinanceUs, binance_with(R"([1795514460000,"1","1","1","1"])")); },
      {"binance-us candle [1]", "at least 6", "array of 5"});
  expect_data_error([&] { parse(Exchange::Coinbase, "[[1795514400,1,1,1,1]]"); },
                    {"coinbase candle [0]", "array of 5"});
  // Binance: open time must be an integer, prices strings.
  expect_data_error(
      [&] { parse(Exchange::BinanceUs, binance_with(R"(["1795514460000","1","1","1","1","1"])")); },
      {"binance-us candle [1]", "open time", "string \"1795514460000\""});
  expect_data_error(
      [&] { parse(Exchange::BinanceUs, binance_with(R"([1795514460000.0,"1","1","1","1","1"])")); },
      {"binance-us candle [1]", "open time", "number"});
  expect_data_error(
      [&] {
        parse(Exchange::BinanceUs, binance_with(R"([1795514460000,"1",95210.5,"1","1","1"])"));
      },
      {"binance-us candle [1]", std::to_string(kT0 + kMin), "high", "number 95210.5"});
  // Coinbase: prices must be numbers.
  expect_data_error([&] { parse(Exchange::Coinbase, R"([[1795514400,"95100.1",2,1,1,1]])"); },
                    {"coinbase candle [0]", "low", "string \"95100.1\""});
  expect_data_error([&] { parse(Exchange::Coinbase, R"([[1795514400,1,2,1,1,null]])"); },
                    {"coinbase candle [0]", "volume", "null"});
  // Bybit: everything is a string, the open time too.
  expect_data_error(
      [&] { parse(Exchange::Bybit, bybit_body(R"([[1795514400000,"1","1","1","1","1","1"]])")); },
      {"bybit candle [0]", "open time", "number 1795514400000"});
  expect_data_error(
      [&] { parse(Exchange::Bybit, bybit_body(R"([["17955144OOOOO","1","1","1","1","1","1"]])")); },
      {"bybit candle [0]", "\"17955144OOOOO\"", "not an integer"});
  expect_data_error(
      [&] {
        parse(Exchange::Bybit, bybit_body(R"([["1795514400000","1","1","1",true,"1","1"]])"));
      },
      {"bybit candle [0]", "close", "boolean true"});
}

TEST(ExchangeValidation, PriceNotAPlainDecimal) {
  for (const std::string bad : {"1e-5", "9.5E4", " 95123.45", "95123.45 ", "95123.", ".5", "+1",
                                "NaN", "Infinity", "", "95,123.45", "0x10", "1..2"}) {
    expect_data_error(
        [&] {
          parse(Exchange::BinanceUs,
                binance_with(binance_row(kT0 + kMin, "95150.25", "95210.5", "95140", bad, "1")));
        },
        {"binance-us candle [1]", std::to_string(kT0 + kMin), "close \"" + bad + "\"",
         "plain decimal"});
  }
  expect_data_error(
      [&] {
        parse(Exchange::Bybit, bybit_body(R"([["1795514400000","1","1","1","1","1e3","1"]])"));
      },
      {"bybit candle [0]", "volume \"1e3\"", "plain decimal"});
}

TEST(ExchangeValidation, PriceNotFinite) {
  const std::string huge = "1" + std::string(400, '0');  // a plain decimal beyond any double
  expect_data_error(
      [&] {
        parse(Exchange::BinanceUs, binance_with(binance_row(kT0 + kMin, "1", huge, "1", "1", "1")));
      },
      {"binance-us candle [1]", "high \"1000000000", "...\"", "not finite"});
  // A value too small for a double underflows to 0: a price is then not > 0 ...
  const std::string tiny = "0." + std::string(400, '0') + "1";
  expect_data_error(
      [&] {
        parse(Exchange::BinanceUs,
              binance_with(binance_row(kT0 + kMin, tiny, "1", tiny, "1", "1")));
      },
      {"binance-us candle [1]", "open \"0.000", "not > 0"});
  // ... while such a volume is accepted with its exact text.
  const ParseResult r =
      parse(Exchange::BinanceUs, "[" + binance_row(kT0, "1", "1", "1", "1", tiny) + "]");
  ASSERT_EQ(r.candles.size(), 1u);
  EXPECT_EQ(r.candles[0].volume_s, tiny);
  EXPECT_EQ(r.candles[0].volume, 0.0);
}

TEST(ExchangeValidation, PriceNotPositive) {
  expect_data_error(
      [&] {
        parse(Exchange::BinanceUs,
              binance_with(binance_row(kT0 + kMin, "0.00000000", "1", "0.5", "1", "1")));
      },
      {"binance-us candle [1]", std::to_string(kT0 + kMin), "open \"0.00000000\"", "not > 0"});
  expect_data_error([&] { parse(Exchange::Coinbase, "[[1795514400,-1,2,1,1,1]]"); },
                    {"coinbase candle [0]", "low \"-1\"", "not > 0"});
  expect_data_error(
      [&] {
        parse(Exchange::Bybit, bybit_body(R"([["1795514400000","1","1","1","-0","1","1"]])"));
      },
      {"bybit candle [0]", "close \"-0\"", "not > 0"});
}

TEST(ExchangeValidation, VolumeNegative) {
  expect_data_error(
      [&] {
        parse(Exchange::BinanceUs,
              binance_with(binance_row(kT0 + kMin, "1", "1", "1", "1", "-0.001")));
      },
      {"binance-us candle [1]", std::to_string(kT0 + kMin), "volume \"-0.001\"", "negative"});
  expect_data_error([&] { parse(Exchange::Coinbase, "[[1795514400,1,1,1,1,-5]]"); },
                    {"coinbase candle [0]", "volume \"-5\""});
  // Zero volume is fine (a minute without trades).
  EXPECT_EQ(parse(Exchange::Coinbase, "[[1795514400,1,1,1,1,0]]").candles.size(), 1u);
}

TEST(ExchangeValidation, OhlcInconsistent) {
  const std::string t = std::to_string(kT0 + kMin);
  auto bad = [&](const std::string& o, const std::string& h, const std::string& l,
                 const std::string& c) {
    return binance_with(binance_row(kT0 + kMin, o, h, l, c, "1"));
  };
  expect_data_error([&] { parse(Exchange::BinanceUs, bad("100", "99.5", "99", "99.2")); },
                    {"candle [1]", t, "high \"99.5\"", "below open \"100\""});
  expect_data_error([&] { parse(Exchange::BinanceUs, bad("99.2", "99.5", "99", "100")); },
                    {"candle [1]", "high \"99.5\"", "below close \"100\""});
  expect_data_error([&] { parse(Exchange::BinanceUs, bad("99.2", "99.5", "99.3", "99.4")); },
                    {"candle [1]", "low \"99.3\"", "above open \"99.2\""});
  expect_data_error([&] { parse(Exchange::BinanceUs, bad("99.4", "99.5", "99.3", "99.2")); },
                    {"candle [1]", "low \"99.3\"", "above close \"99.2\""});
  // Coinbase: the low/high positions are checked as low/high, not as open/close.
  expect_data_error([&] { parse(Exchange::Coinbase, "[[1795514400,101,100,100.5,100.5,1]]"); },
                    {"coinbase candle [0]", "high \"100\"", "below open \"100.5\""});
  // A flat bar (all four equal) is consistent.
  EXPECT_EQ(parse(Exchange::BinanceUs, bad("99", "99", "99", "99")).candles.size(), 2u);
}

TEST(ExchangeValidation, OpenTimeNotOnAMinute) {
  expect_data_error(
      [&] {
        parse(Exchange::BinanceUs,
              binance_with(binance_row(kT0 + kMin + 1, "1", "1", "1", "1", "1")));
      },
      {"binance-us candle [1]", std::to_string(kT0 + kMin + 1), "minute"});
  expect_data_error([&] { parse(Exchange::Coinbase, "[[1795514430,1,1,1,1,1]]"); },
                    {"coinbase candle [0]", "1795514430000", "minute"});
  expect_data_error(
      [&] { parse(Exchange::Bybit, bybit_body(R"([["1795514400500","1","1","1","1","1","1"]])")); },
      {"bybit candle [0]", "1795514400500"});
}

TEST(ExchangeValidation, OpenTimeNotPositive) {
  expect_data_error(
      [&] { parse(Exchange::BinanceUs, "[" + binance_row(0, "1", "1", "1", "1", "1") + "]"); },
      {"binance-us candle [0]", "open time 0", "> 0"});
  expect_data_error([&] { parse(Exchange::Coinbase, "[[-60,1,1,1,1,1]]"); },
                    {"coinbase candle [0]", "-60000", "> 0"});
  expect_data_error(
      [&] { parse(Exchange::Bybit, bybit_body(R"([["-60000","1","1","1","1","1","1"]])")); },
      {"bybit candle [0]", "-60000", "> 0"});
}

TEST(ExchangeValidation, ClockSkew) {
  // A candle an hour ahead of our clock.
  const std::int64_t ahead = kNow + 3600 * 1000 - 5000;  // 11:03:00, 3595 s after 10:03:05
  expect_data_error(
      [&] {
        parse(Exchange::BinanceUs, binance_with(binance_row(ahead, "1", "1", "1", "1", "1")));
      },
      {"binance-us candle [1]", std::to_string(ahead), "3595 s", "clock skew"});
  // Within the default 120 s tolerance it is merely not closed; beyond a custom one, skew.
  const std::int64_t soon = kT0 + 5 * kMin;  // 10:05:00, 115 s ahead
  const std::string body = binance_with(binance_row(soon, "1", "1", "1", "1", "1"));
  const ParseResult r = parse(Exchange::BinanceUs, body);
  EXPECT_EQ(r.not_closed, 1u);
  EXPECT_EQ(r.candles.size(), 1u);
  ParseOptions strict = opts();
  strict.future_tolerance_ms = 60000;
  expect_data_error([&] { ex::parse_klines(Exchange::BinanceUs, body, strict); },
                    {"115 s", "clock skew"});
  // A negative tolerance is a bad argument.
  strict.future_tolerance_ms = -1;
  expect_invalid([&] { ex::parse_klines(Exchange::BinanceUs, body, strict); },
                 {"future_tolerance_ms = -1"});
}

TEST(ExchangeValidation, OneBadCandleFailsTheWholePayload) {
  // The bad candle is the last in the payload: nothing is returned.
  std::string body = kBinanceBody;
  body.insert(body.rfind(']'), "," + binance_row(kT0 + 3 * kMin, "1", "1", "2", "1", "1"));
  expect_data_error([&] { parse(Exchange::BinanceUs, body); }, {"candle [3]", "high \"1\""});
}

// ============================ Candle interval and market (issue 14) ==========================
//
// Only 1-minute spot candles may be stored. binance-us states each kline's interval through its
// closeTime (element 6); coinbase and bybit bodies state none, so their spacing is checked; bybit
// names its market in result.category.

namespace {

// A binance kline opening at t whose closeTime element is the JSON text `close`.
std::string binance_kline(std::int64_t t, const std::string& close) {
  return "[" + std::to_string(t) + R"(,"100.5","101","100","100.75","2.5",)" + close +
         R"(,"250.0",7,"1.0","100.0","0"])";
}

constexpr std::int64_t kHourMs = 3600000;
constexpr std::int64_t kDayMs = 86400000;
constexpr std::int64_t kMidnight = kT0 - 10 * kHourMs;  // 2026-11-24T00:00:00Z, a Tuesday

}  // namespace

TEST(ExchangeInterval, BinanceOneMinuteKlineAccepted) {
  const std::string close = std::to_string(kT0 + 59999);
  const ParseResult r = parse(Exchange::BinanceUs, "[" + binance_kline(kT0, close) + "]");
  ASSERT_EQ(r.candles.size(), 1u);
  EXPECT_EQ(r.candles[0].open_time_ms, kT0);
  EXPECT_EQ(r.candles[0].close_s, "100.75");
  EXPECT_EQ(r.not_closed, 0u);
}

TEST(ExchangeInterval, BinanceHourDayWeekMonthKlinesRefused) {
  struct Case {
    std::int64_t open, span;
    std::string interval, open_iso, close_iso;
  };
  const Case cases[] = {
      {kT0, kHourMs, "a 1h candle", "2026-11-24T10:00:00Z", "2026-11-24T10:59:59.999Z"},
      {kMidnight, kDayMs, "a 1d candle", "2026-11-24T00:00:00Z", "2026-11-24T23:59:59.999Z"},
      // Binance weeks start on Monday: 2026-11-23.
      {kMidnight - kDayMs, 7 * kDayMs, "a 1w candle", "2026-11-23T00:00:00Z",
       "2026-11-29T23:59:59.999Z"},
      {kMidnight - 23 * kDayMs, 30 * kDayMs, "a 1M (one month, 30 days) candle",
       "2026-11-01T00:00:00Z", "2026-11-30T23:59:59.999Z"},
      {kT0, 5 * kMin, "a 5m candle", "2026-11-24T10:00:00Z", "2026-11-24T10:04:59.999Z"},
      {kT0, 1000, "a 1s candle", "2026-11-24T10:00:00Z", "2026-11-24T10:00:00.999Z"},
  };
  for (const Case& c : cases) {
    const std::int64_t close = c.open + c.span - 1;
    SCOPED_TRACE(c.interval);
    expect_data_error(
        [&] {
          parse(Exchange::BinanceUs, "[" + binance_kline(c.open, std::to_string(close)) + "]");
        },
        {"binance-us candle [0] (open time " + std::to_string(c.open) + ")",
         "candle at " + c.open_iso + " closes at " + std::to_string(close) + " (" + c.close_iso +
             ")",
         c.interval + ", not a 1-minute one"});
    // The detail states the rule.
    try {
      parse(Exchange::BinanceUs, "[" + binance_kline(c.open, std::to_string(close)) + "]");
    } catch (const cml::DataError& e) {
      EXPECT_NE(std::string(e.detail()).find("openTime + 59999 ms"), std::string::npos)
          << e.detail();
    }
  }
  // One hourly kline after good 1-minute ones refuses the whole payload.
  std::string body = kBinanceBody;
  body.insert(body.rfind(']'),
              "," + binance_kline(kT0 + 3 * kMin, std::to_string(kT0 + 3 * kMin + kHourMs - 1)));
  expect_data_error([&] { parse(Exchange::BinanceUs, body); },
                    {"binance-us candle [3]", "a 1h candle, not a 1-minute one"});
}

TEST(ExchangeInterval, BinanceCloseTimeMissingNotAnIntegerOrInconsistentRefused) {
  const std::string t = std::to_string(kT0);
  // Missing: six elements (the minimum arity) leave the interval unknown.
  expect_data_error(
      [&] { parse(Exchange::BinanceUs, R"([[1795514400000,"1","1","1","1","1"]])"); },
      {"binance-us candle [0] (open time " + t + ")", "closeTime (element 6) is missing"});
  // Not an integer.
  for (const std::string bad :
       {R"("1795514459999")", "1795514459999.0", "1.795514459999e12", "null", "true", "[]",
        "-1795514459999", "99999999999999999999"}) {
    SCOPED_TRACE(bad);
    const std::string body = "[" + binance_kline(kT0, bad) + "]";
    if (bad == "-1795514459999") {
      expect_data_error([&] { parse(Exchange::BinanceUs, body); },
                        {"closes at -1795514459999, not after it opens"});
    } else {
      expect_data_error([&] { parse(Exchange::BinanceUs, body); },
                        {"binance-us candle [0] (open time " + t + ")",
                         "closeTime (element 6) must be an integer"});
    }
  }
  // Inconsistent with a 1-minute kline: one ms off either way, the open time itself, before it.
  for (const std::int64_t close : {kT0 + 59998, kT0 + 60000, kT0, kT0 - 1, kT0 + 30000}) {
    SCOPED_TRACE(close);
    expect_data_error(
        [&] { parse(Exchange::BinanceUs, "[" + binance_kline(kT0, std::to_string(close)) + "]"); },
        {"binance-us candle [0] (open time " + t + ")", "closes at " + std::to_string(close),
         "1-minute"});
  }
  expect_data_error(
      [&] {
        parse(Exchange::BinanceUs, "[" + binance_kline(kT0, std::to_string(kT0 + 59998)) + "]");
      },
      {"a candle spanning 59999 ms, not a 1-minute one"});
  expect_data_error(
      [&] {
        parse(Exchange::BinanceUs, "[" + binance_kline(kT0, std::to_string(kT0 + 60000)) + "]");
      },
      {"a candle spanning 60001 ms"});
  // The type errors of the first six elements are still reported first.
  expect_data_error(
      [&] { parse(Exchange::BinanceUs, R"([[1795514400000,"1",95210.5,"1","1","1"]])"); },
      {"high", "number 95210.5"});
}

TEST(ExchangeInterval, BinanceFutureCloseTimeIsNotClosed) {
  // The 10:03 kline closes at 10:03:59.999, after now (10:03:05): still forming, not stored.
  std::string body = kBinanceBody;
  body.insert(body.rfind(']'),
              "," + binance_kline(kT0 + 3 * kMin, std::to_string(kT0 + 3 * kMin + 59999)));
  ParseResult r = parse(Exchange::BinanceUs, body);
  EXPECT_EQ(r.received, 4u);
  EXPECT_EQ(r.not_closed, 1u);
  ASSERT_EQ(r.candles.size(), 3u);
  EXPECT_EQ(r.candles.back().open_time_ms, kT0 + 2 * kMin);
  // Closed once now is past its closeTime: at closeTime it is still forming, one ms later closed.
  const std::int64_t close = kT0 + 3 * kMin + 59999;
  r = parse(Exchange::BinanceUs, body, close);
  EXPECT_EQ(r.not_closed, 1u);
  EXPECT_EQ(r.candles.size(), 3u);
  r = parse(Exchange::BinanceUs, body, close + 1);
  EXPECT_EQ(r.not_closed, 0u);
  EXPECT_EQ(r.candles.size(), 4u);
  // A forming candle of a larger interval is not merely skipped: the payload is refused.
  const std::string hourly = "[" + binance_kline(kT0, std::to_string(kT0 + kHourMs - 1)) + "]";
  expect_data_error([&] { parse(Exchange::BinanceUs, hourly); }, {"a 1h candle"});
}

namespace {

// A coinbase candle row at `secs` (all prices 100, volume 1).
std::string coinbase_row(std::int64_t secs) {
  return "[" + std::to_string(secs) + ",100,100,100,100,1]";
}

// A coinbase body of candles at kT0 - offsets (seconds), newest first as given.
std::string coinbase_at(const std::vector<std::int64_t>& offsets_s) {
  std::string body = "[";
  for (std::size_t k = 0; k < offsets_s.size(); ++k)
    body += (k ? "," : "") + coinbase_row(kT0 / 1000 - offsets_s[k]);
  return body + "]";
}

}  // namespace

TEST(ExchangeInterval, CoinbaseThreeHourlyCandlesRefused) {
  expect_data_error(
      [&] { parse(Exchange::Coinbase, coinbase_at({0, 3600, 7200})); },
      {"coinbase candles are spaced 3600 s apart (gcd of the spacings between the 3 distinct "
       "open times, 2026-11-24T08:00:00Z to 2026-11-24T10:00:00Z): not 1-minute candles (1h "
       "candles?)"});
  // Days, 5-minute candles, and an uneven hourly series with gaps (gcd still 3600 s).
  expect_data_error([&] { parse(Exchange::Coinbase, coinbase_at({36000, 122400, 208800})); },
                    {"spaced 86400 s apart", "(1d candles?)"});
  expect_data_error([&] { parse(Exchange::Coinbase, coinbase_at({0, 300, 600, 900})); },
                    {"spaced 300 s apart", "(5m candles?)"});
  expect_data_error([&] { parse(Exchange::Coinbase, coinbase_at({0, 3600, 14400, 18000})); },
                    {"spaced 3600 s apart", "4 distinct"});
  // Every spacing a multiple of 120 s: refused too (the documented cost of the rule).
  expect_data_error([&] { parse(Exchange::Coinbase, coinbase_at({0, 120, 360})); },
                    {"spaced 120 s apart"});
  // The detail states the rule.
  try {
    parse(Exchange::Coinbase, coinbase_at({0, 3600, 7200}));
    ADD_FAILURE() << "no exception";
  } catch (const cml::DataError& e) {
    EXPECT_EQ(e.detail(),
              "rule: with 3 or more distinct open times, the gcd of the spacings between "
              "consecutive open times is 60 s (1-minute candles; gaps allowed)");
  }
}

TEST(ExchangeInterval, CoinbaseTwoCandlesAnHourApartAccepted) {
  // One spacing cannot tell a 1h body from two 1-minute candles around a 59-minute gap.
  const ParseResult r = parse(Exchange::Coinbase, coinbase_at({0, 3600}));
  ASSERT_EQ(r.candles.size(), 2u);
  EXPECT_EQ(r.candles[0].open_time_ms, kT0 - kHourMs);
  EXPECT_EQ(r.candles[1].open_time_ms, kT0);
  // An exact duplicate does not make a third distinct open time.
  const ParseResult d = parse(Exchange::Coinbase, coinbase_at({0, 3600, 3600}));
  EXPECT_EQ(d.candles.size(), 2u);
  EXPECT_EQ(d.duplicates, 1u);
  // A single candle of any alignment is accepted.
  EXPECT_EQ(parse(Exchange::Coinbase, coinbase_at({36000})).candles.size(), 1u);
}

TEST(ExchangeInterval, CoinbaseGapsInOneMinuteCandlesAccepted) {
  // Spacings of 60 s and 120 s (one missing minute): gcd 60 s.
  ParseResult r = parse(Exchange::Coinbase, coinbase_at({0, 60, 180}));
  ASSERT_EQ(r.candles.size(), 3u);
  EXPECT_EQ(r.candles[0].open_time_ms, kT0 - 3 * kMin);
  // An hour-long gap next to consecutive minutes is fine too.
  r = parse(Exchange::Coinbase, coinbase_at({0, 60, 3660, 3720}));
  EXPECT_EQ(r.candles.size(), 4u);
  // Spacings of 120 s and 180 s: gcd 60 s.
  EXPECT_EQ(parse(Exchange::Coinbase, coinbase_at({0, 120, 300})).candles.size(), 3u);
}

TEST(ExchangeInterval, BybitSpotSpacingChecked) {
  // Bybit bodies state no interval either: three spot candles an hour apart are refused.
  const std::string hourly = bybit_body(
      R"([["1795514400000","1","1","1","1","1","1"],["1795510800000","1","1","1","1","1","1"],
          ["1795507200000","1","1","1","1","1","1"]])");
  expect_data_error([&] { parse(Exchange::Bybit, hourly); },
                    {"bybit candles are spaced 3600 s apart", "not 1-minute candles"});
  // binance-us is judged by closeTime alone: 1-minute klines around a 59-minute gap are fine.
  const std::string binance = "[" + binance_row(kT0 - 2 * kHourMs, "1", "1", "1", "1", "1") +
                              "," + binance_row(kT0 - kHourMs, "1", "1", "1", "1", "1") + "," +
                              binance_row(kT0, "1", "1", "1", "1", "1") + "]";
  EXPECT_EQ(parse(Exchange::BinanceUs, binance).candles.size(), 3u);
}

namespace {

// A bybit body with the sample candles and the given "category" member text ("" for none).
std::string bybit_with_category(const std::string& member) {
  return R"({"retCode":0,"retMsg":"OK","result":{)" + member +
         R"("symbol":"BTCUSDT","list":[
  ["1795514520000","95200.75","95222.22","95111.11","95120","0.00001","0.9512"],
  ["1795514460000","95150.25","95210.5","95140","95200.75","8.5","809107.5"]
]},"retExtInfo":{},"time":1795514585123})";
}

}  // namespace

TEST(ExchangeBybitCategory, SpotAccepted) {
  const ParseResult r = parse(Exchange::Bybit, bybit_with_category(R"("category":"spot",)"));
  EXPECT_EQ(r.candles.size(), 2u);
  EXPECT_EQ(r.product, "BTCUSDT");
  // The request asks for category=spot.
  const std::string url =
      ex::klines_url(Exchange::Bybit, "https://api.bybit.com", "BTCUSDT", kT0, kT0, 1);
  EXPECT_NE(url.find("?category=spot&"), std::string::npos) << url;
}

TEST(ExchangeBybitCategory, OtherCategoriesRefused) {
  for (const std::string cat : {"linear", "inverse", "option", "Spot", "spot ", ""}) {
    SCOPED_TRACE(cat);
    expect_data_error(
        [&] { parse(Exchange::Bybit, bybit_with_category("\"category\":\"" + cat + "\",")); },
        {"bybit response is for category \"" + cat + "\", not \"spot\"",
         "cryptoml ingests spot candles only"});
  }
  // A long category is clipped like any quoted value.
  expect_data_error(
      [&] {
        parse(Exchange::Bybit,
              bybit_with_category("\"category\":\"" + std::string(500, 'x') + "\","));
      },
      {"category \"" + std::string(40, 'x') + "...\""});
  expect_data_error(
      [&] { parse(Exchange::Bybit, bybit_with_category(R"("category":1,)")); },
      {"bybit response has result.category number 1, not \"spot\""});
  expect_data_error(
      [&] { parse(Exchange::Bybit, bybit_with_category(R"("category":null,)")); },
      {"bybit response has result.category null"});
  // The detail states the rule.
  try {
    parse(Exchange::Bybit, bybit_with_category(R"("category":"linear",)"));
    ADD_FAILURE() << "no exception";
  } catch (const cml::DataError& e) {
    EXPECT_EQ(e.detail(),
              "rule: bybit result.category is \"spot\" (the request asks for category=spot)");
  }
}

TEST(ExchangeBybitCategory, MissingCategoryRefused) {
  expect_data_error([&] { parse(Exchange::Bybit, bybit_with_category("")); },
                    {"bybit response names no result.category", "spot candles only"});
  // Even with an empty list (a v5 success body always names its category).
  expect_data_error(
      [&] { parse(Exchange::Bybit, R"({"retCode":0,"retMsg":"OK","result":{"list":[]}})"); },
      {"names no result.category"});
  // An error body is still an ApiError, whatever its (empty) result.
  EXPECT_THROW(parse(Exchange::Bybit, R"({"retCode":10001,"retMsg":"params error","result":{}})"),
               ex::ApiError);
}

// ============================ API error bodies ==============================================

TEST(ExchangeApiError, EachExchangesErrorBody) {
  std::string m =
      api_error_message(Exchange::BinanceUs, R"({"code":-1121,"msg":"Invalid symbol."})");
  EXPECT_EQ(m, "binance-us API error: Invalid symbol.");
  m = api_error_message(Exchange::Coinbase, R"({"message":"NotFound"})");
  EXPECT_EQ(m, "coinbase API error: NotFound");
  m = api_error_message(
      Exchange::Bybit,
      R"({"retCode":10001,"retMsg":"Not supported symbols","result":{},"retExtInfo":{},"time":1795514585123})");
  EXPECT_EQ(m, "bybit API error: Not supported symbols");
  // The code travels in the detail.
  try {
    parse(Exchange::BinanceUs, R"({"code":-1003,"msg":"Too many requests."})");
    ADD_FAILURE() << "no exception";
  } catch (const ex::ApiError& e) {
    EXPECT_NE(e.detail().find("-1003"), std::string::npos) << e.detail();
  }
  // An ApiError is a DataError (the payload holds no candles: SQLSTATE 22000 in SQL); callers
  // that catch ApiError first can tell "the exchange said no" from "garbage".
  EXPECT_THROW(parse(Exchange::Bybit, R"({"retCode":10006,"retMsg":"Too many visits!"})"),
               ex::ApiError);
  bool as_api_error = false;
  try {
    parse(Exchange::Coinbase, R"({"message":"NotFound"})");
  } catch (const ex::ApiError&) {
    as_api_error = true;
  } catch (const cml::DataError&) {
  }
  EXPECT_TRUE(as_api_error);
  EXPECT_THROW(parse(Exchange::Coinbase, R"({"message":"NotFound"})"), cml::DataError);
}

TEST(ExchangeApiError, MessageCleanedAndTruncated) {
  // Control characters (a JSON-escaped newline, tab, NUL and ESC) are removed.
  std::string m =
      api_error_message(Exchange::Coinbase, R"({"message":"bad\nrequest\t\u0000now\u001b[31m"})");
  EXPECT_EQ(m, "coinbase API error: badrequestnow[31m");
  // At most 200 characters of the exchange's message are kept (counted in characters, so a
  // multi-byte character is never cut in half).
  const std::string long_msg = std::string(150, 'a') + std::string(100, 'b');
  m = api_error_message(Exchange::Bybit, R"({"retCode":10001,"retMsg":")" + long_msg + R"("})");
  EXPECT_EQ(m, "bybit API error: " + long_msg.substr(0, 200));
  std::string euros;
  for (int i = 0; i < 250; ++i) euros += "\xE2\x82\xAC";  // U+20AC, 3 bytes each
  m = api_error_message(Exchange::BinanceUs, R"({"code":-1,"msg":")" + euros + R"("})");
  EXPECT_EQ(m, "binance-us API error: " + euros.substr(0, 600));
}

// ============================ symbols =======================================================

TEST(ExchangeProduct, Defaults) {
  const json none;  // null
  EXPECT_EQ(ex::product_for(Exchange::BinanceUs, "BTCUSDT", none), "BTCUSDT");
  EXPECT_EQ(ex::product_for(Exchange::Bybit, "ETHBTC", none), "ETHBTC");
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "BTCUSDT", none), "BTC-USD");
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "BTCUSD", none), "BTC-USD");
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "SOLUSDC", none), "SOL-USDC");
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "ETHBTC", none), "ETH-BTC");
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "LINKETH", none), "LINK-ETH");
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "BTCEUR", none), "BTC-EUR");
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "1INCHUSDT", none), "1INCH-USD");
  // The longest quote wins: USDCUSDT is USDC quoted in USDT, not USDCUSD quoted in T.
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "USDCUSDT", none), "USDC-USD");
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "XUSD", none), "X-USD");
  // An empty object is the same as null.
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "BTCUSDT", json::object()), "BTC-USD");
}

TEST(ExchangeProduct, OverridesWin) {
  const json o = {{"BTCUSDT", "BTC-USDT"}, {"MATICUSD", "POL-USD"}, {"XBT", "XBTUSD"}};
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "BTCUSDT", o), "BTC-USDT");
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "MATICUSD", o), "POL-USD");
  EXPECT_EQ(ex::product_for(Exchange::BinanceUs, "BTCUSDT", o), "BTC-USDT");
  EXPECT_EQ(ex::product_for(Exchange::Bybit, "XBT", o), "XBTUSD");
  // Symbols without an entry keep the default.
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "ETHUSDT", o), "ETH-USD");
  EXPECT_EQ(ex::product_for(Exchange::Bybit, "ETHUSDT", o), "ETHUSDT");
  // An override supplies a coinbase mapping that has no default.
  EXPECT_EQ(ex::product_for(Exchange::Coinbase, "XBT", o), "XBTUSD");
}

TEST(ExchangeProduct, Failures) {
  const json none;
  // Coinbase symbol without a known quote (or with nothing before it).
  expect_invalid([&] { ex::product_for(Exchange::Coinbase, "BTCJPY", none); },
                 {"coinbase", "BTCJPY", "quote"});
  expect_invalid([&] { ex::product_for(Exchange::Coinbase, "USDT", none); }, {"USDT"});
  // Symbols outside ^[A-Z0-9]{2,20}$.
  for (const std::string bad : {"btcusdt", "B", "BTC-USD", "BTC USDT", "", "ABCDEFGHIJKLMNOPQRSTU"})
    expect_invalid([&] { ex::product_for(Exchange::BinanceUs, bad, none); },
                   {"symbol = \"" + bad + "\"", "2 to 20 upper-case letters or digits"});
  // Implausible override values.
  for (const json& v : {json("BTC/USD"), json("B"), json(""), json(42), json(nullptr),
                        json(std::string(31, 'A')), json("BTC-USD?x=1")})
    expect_invalid(
        [&] {
          ex::product_for(Exchange::Coinbase, "BTCUSDT", json{{"BTCUSDT", v}});
        },
        {"override", "BTCUSDT", "product id"});
  // Overrides that are not an object.
  expect_invalid([&] { ex::product_for(Exchange::Bybit, "BTCUSDT", json::array({"BTCUSDT"})); },
                 {"overrides", "array"});
}

// ============================ requests ======================================================

TEST(ExchangeUrl, ExactStrings) {
  const std::int64_t s = kT0, e = kT0 + 299 * kMin;  // 10:00 to 14:59, 300 candles
  EXPECT_EQ(ex::klines_url(Exchange::BinanceUs, "https://api.binance.us", "BTCUSDT", s, e, 1000),
            "https://api.binance.us/api/v3/klines?symbol=BTCUSDT&interval=1m"
            "&startTime=1795514400000&endTime=1795532340000&limit=1000");
  EXPECT_EQ(
      ex::klines_url(Exchange::Coinbase, "https://api.exchange.coinbase.com", "BTC-USD", s, e, 300),
      "https://api.exchange.coinbase.com/products/BTC-USD/candles?granularity=60"
      "&start=2026-11-24T10:00:00Z&end=2026-11-24T14:59:00Z");
  EXPECT_EQ(ex::klines_url(Exchange::Bybit, "https://api.bybit.com", "BTCUSDT", s, e, 1000),
            "https://api.bybit.com/v5/market/kline?category=spot&symbol=BTCUSDT&interval=1"
            "&start=1795514400000&end=1795532340000&limit=1000");
  // One trailing slash is stripped; a single candle is a valid range.
  EXPECT_EQ(ex::klines_url(Exchange::BinanceUs, "http://127.0.0.1:8080/", "BTCUSDT", s, s, 1),
            "http://127.0.0.1:8080/api/v3/klines?symbol=BTCUSDT&interval=1m"
            "&startTime=1795514400000&endTime=1795514400000&limit=1");
  // ISO dates across a year boundary and a leap day.
  EXPECT_EQ(ex::klines_url(Exchange::Coinbase, "https://x.test/", "ETH-BTC", 1709251140000,
                           1709251200000, 2),
            "https://x.test/products/ETH-BTC/candles?granularity=60"
            "&start=2024-02-29T23:59:00Z&end=2024-03-01T00:00:00Z");
  EXPECT_EQ(ex::klines_url(Exchange::Coinbase, "https://x.test", "BTC-USD", 1735689540000,
                           1735689600000, 2),
            "https://x.test/products/BTC-USD/candles?granularity=60"
            "&start=2024-12-31T23:59:00Z&end=2025-01-01T00:00:00Z");
}

TEST(ExchangeUrl, CalendarEveryDayFrom2024To2100) {
  // An independent calendar, stepped one day at a time from Monday 2024-01-01, against the
  // dates in coinbase URLs (ms -> date) and in Retry-After HTTP-dates (date -> ms).
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int y = 2024, m = 1, d = 1, wd = 1;
  std::int64_t ms = 1704067200000;  // 2024-01-01T00:00:00Z
  char want[64], http[64];
  while (y <= 2100) {
    std::snprintf(want, sizeof want, "&start=%04d-%02d-%02dT00:00:00Z", y, m, d);
    const std::string url =
        ex::klines_url(Exchange::Coinbase, "https://x.test", "BTC-USD", ms, ms, 1);
    ASSERT_NE(url.find(want), std::string::npos) << url << " lacks " << want;
    std::snprintf(http, sizeof http, "%s, %02d %s %04d 00:00:00 GMT", kDays[wd], d, kMonths[m - 1],
                  y);
    ASSERT_EQ(ex::parse_retry_after(http, 0), ms) << http;
    // Next day.
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    const int dim[] = {31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (++d > dim[m - 1]) d = 1, ++m;
    if (m > 12) m = 1, ++y;
    wd = (wd + 1) % 7;
    ms += 86400000;
  }
  // 2100 is not a leap year.
  EXPECT_EQ(ex::parse_retry_after("Mon, 29 Feb 2100 00:00:00 GMT", 0), std::nullopt);
  EXPECT_EQ(ex::parse_retry_after("Tue, 29 Feb 2000 00:00:00 GMT", 0), 951782400000);
}

TEST(ExchangeUrl, Failures) {
  const std::string b = "https://api.bybit.com";
  expect_invalid([&] { ex::klines_url(Exchange::BinanceUs, b, "BTCUSDT", kT0, kT0, 1001); },
                 {"limit = 1001", "1000"});
  expect_invalid([&] { ex::klines_url(Exchange::Coinbase, b, "BTC-USD", kT0, kT0, 301); },
                 {"limit = 301", "300"});
  expect_invalid([&] { ex::klines_url(Exchange::Bybit, b, "BTCUSDT", kT0, kT0, 0); },
                 {"limit = 0"});
  expect_invalid([&] { ex::klines_url(Exchange::Bybit, b, "BTCUSDT", kT0 + kMin, kT0, 10); },
                 {"start_ms = " + std::to_string(kT0 + kMin), "end_ms = " + std::to_string(kT0)});
  // 301 candles do not fit a coinbase page; 3 do not fit a limit of 2.
  expect_invalid(
      [&] { ex::klines_url(Exchange::Coinbase, b, "BTC-USD", kT0, kT0 + 300 * kMin, 300); },
      {"301 candles", "limit = 300"});
  expect_invalid([&] { ex::klines_url(Exchange::Bybit, b, "BTCUSDT", kT0, kT0 + 2 * kMin, 2); },
                 {"3 candles", "limit = 2"});
  expect_invalid([&] { ex::klines_url(Exchange::Bybit, b, "BTCUSDT", kT0 + 1, kT0 + kMin, 10); },
                 {"start_ms = " + std::to_string(kT0 + 1)});
  expect_invalid([&] { ex::klines_url(Exchange::Bybit, b, "BTCUSDT", -kMin, kT0, 10); },
                 {"start_ms = -60000"});
  expect_invalid([&] { ex::klines_url(Exchange::Bybit, "api.bybit.com", "BTCUSDT", kT0, kT0, 1); },
                 {"base URL = \"api.bybit.com\""});
  expect_invalid([&] { ex::klines_url(Exchange::Bybit, "https://", "BTCUSDT", kT0, kT0, 1); },
                 {"base URL"});
  expect_invalid([&] { ex::klines_url(Exchange::Bybit, b, "BTC&x=1", kT0, kT0, 1); },
                 {"product = \"BTC&x=1\""});
}

// ============================ rate limiting =================================================

TEST(ExchangeRateLimit, BurstThenWaits) {
  TokenBucket tb(2.0, 5.0);  // 2 requests per second, bursts of 5
  const std::int64_t t = 1000000;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(tb.try_take(t), 0) << "request " << i;
  // Empty: the next token accrues in 1 / 2 s.
  EXPECT_EQ(tb.try_take(t), 500);
  EXPECT_EQ(tb.try_take(t + 200), 300);  // a refused call takes nothing
  EXPECT_EQ(tb.try_take(t + 499), 1);
  EXPECT_EQ(tb.try_take(t + 500), 0);
  EXPECT_EQ(tb.try_take(t + 500), 500);
}

TEST(ExchangeRateLimit, RefillsAtRateUpToBurst) {
  TokenBucket tb(10.0, 3.0);
  const std::int64_t t = 0;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(tb.try_take(t), 0);
  ASSERT_GT(tb.try_take(t), 0);
  // 250 ms at 10/s refill 2.5 tokens: two requests pass, the third waits 50 ms.
  EXPECT_EQ(tb.try_take(t + 250), 0);
  EXPECT_EQ(tb.try_take(t + 250), 0);
  EXPECT_EQ(tb.try_take(t + 250), 50);
  // A long idle period refills only up to the burst.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(tb.try_take(t + 3600000), 0);
  EXPECT_GT(tb.try_take(t + 3600000), 0);
  // Time going backwards refills nothing (and is not an error).
  EXPECT_GT(tb.try_take(t + 1000), 0);
}

TEST(ExchangeRateLimit, WaitIsExactForAwkwardRates) {
  // With a rate whose token period is not a whole number of ms, the returned wait is the
  // smallest whole-ms wait that succeeds.
  for (double rate : {3.0, 7.0, 0.3, 19.7, 1200.0}) {
    TokenBucket tb(rate, 1.0);
    std::int64_t now = 5000;
    ASSERT_EQ(tb.try_take(now), 0);
    for (int i = 0; i < 50; ++i) {
      const std::int64_t wait = tb.try_take(now);
      ASSERT_GE(wait, 1) << "rate " << rate;
      TokenBucket probe = tb;  // one ms early is still too early
      EXPECT_GT(probe.try_take(now + wait - 1), 0) << "rate " << rate << " wait " << wait;
      now += wait;
      ASSERT_EQ(tb.try_take(now), 0) << "rate " << rate;
    }
  }
}

TEST(ExchangeRateLimit, NeverMoreThanRateTimesWindowPlusBurst) {
  // A greedy caller tries every 7 ms for a simulated minute.
  const double rate = 5.0, burst = 10.0;
  TokenBucket tb(rate, burst);
  std::vector<std::int64_t> passed;
  for (std::int64_t t = 0; t <= 60000; t += 7)
    if (tb.try_take(t) == 0) passed.push_back(t);
  // Over the minute: the burst plus 5/s * 60 s.
  EXPECT_LE(passed.size(), static_cast<std::size_t>(burst + rate * 60));
  EXPECT_GE(passed.size(), static_cast<std::size_t>(burst + rate * 60 - 2));  // and it is used
  // In every window [t0, t0 + w] starting at a passed request.
  for (std::int64_t w : {0, 100, 1000, 5000, 30000}) {
    std::size_t worst = 0;
    for (std::size_t i = 0, j = 0; i < passed.size(); ++i) {
      while (j < passed.size() && passed[j] <= passed[i] + w) ++j;
      worst = std::max(worst, j - i);
    }
    EXPECT_LE(static_cast<double>(worst), rate * w / 1000.0 + burst) << "window " << w;
  }
}

TEST(ExchangeRateLimit, ConstructorRejectsBadParameters) {
  expect_invalid([] { TokenBucket(0.0, 1.0); }, {"rate_per_second = 0"});
  expect_invalid([] { TokenBucket(-1.0, 1.0); }, {"rate_per_second = -1"});
  expect_invalid([] { TokenBucket(std::nan(""), 1.0); }, {"rate_per_second = NaN"});
  expect_invalid([] { TokenBucket(1.0, 0.5); }, {"burst = 0.5", ">= 1"});
  expect_invalid([] { TokenBucket(1.0, INFINITY); }, {"burst = Infinity"});
}

// ============================ backoff =======================================================

TEST(ExchangeBackoff, GrowsExponentiallyWithinJitterBounds) {
  // base 500 ms, cap 60 s: raw = 500, 1000, 2000, ..., 32000, 60000, 60000.
  std::int64_t raw = 500;
  for (int attempt = 1; attempt <= 10; ++attempt) {
    const std::int64_t d = ex::backoff_ms(attempt, 500, 60000, std::nullopt, 42);
    EXPECT_GE(d, (raw + 1) / 2) << "attempt " << attempt;
    EXPECT_LE(d, raw) << "attempt " << attempt;
    raw = std::min<std::int64_t>(raw * 2, 60000);
  }
  // Averaged over seeds the delay doubles per attempt until the cap.
  auto mean = [](int attempt) {
    double sum = 0;
    for (std::uint64_t s = 0; s < 2000; ++s)
      sum += ex::backoff_ms(attempt, 1000, 1 << 30, std::nullopt, s);
    return sum / 2000;
  };
  EXPECT_NEAR(mean(2) / mean(1), 2.0, 0.05);
  EXPECT_NEAR(mean(5) / mean(4), 2.0, 0.05);
}

TEST(ExchangeBackoff, CapAndHugeAttempts) {
  for (int attempt : {8, 20, 63, 64, 1000, INT32_MAX}) {
    const std::int64_t d = ex::backoff_ms(attempt, 1000, 30000, std::nullopt, 7);
    EXPECT_GE(d, 15000) << attempt;
    EXPECT_LE(d, 30000) << attempt;
  }
  // base == max: always within [max/2, max].
  const std::int64_t d = ex::backoff_ms(1, 10, 10, std::nullopt, 1);
  EXPECT_GE(d, 5);
  EXPECT_LE(d, 10);
  // A delay of 1 ms cannot be jittered below 1.
  EXPECT_EQ(ex::backoff_ms(1, 1, 1, std::nullopt, 99), 1);
}

TEST(ExchangeBackoff, JitterCoversTheUpperHalfDeterministically) {
  std::int64_t lo = INT64_MAX, hi = 0;
  std::set<std::int64_t> seen;
  for (std::uint64_t seed = 0; seed < 5000; ++seed) {
    const std::int64_t d = ex::backoff_ms(3, 1000, 60000, std::nullopt, seed);  // raw 4000
    ASSERT_GE(d, 2000);
    ASSERT_LE(d, 4000);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    seen.insert(d);
    // Same inputs, same delay.
    ASSERT_EQ(d, ex::backoff_ms(3, 1000, 60000, std::nullopt, seed));
  }
  // Spread over the whole range, not stuck at one end.
  EXPECT_LT(lo, 2100);
  EXPECT_GT(hi, 3900);
  EXPECT_GT(seen.size(), 1000u);
  // One seed still jitters differently from attempt to attempt (relative to raw).
  std::set<double> fractions;
  for (int attempt = 1; attempt <= 6; ++attempt)
    fractions.insert(static_cast<double>(ex::backoff_ms(attempt, 1000, 1 << 30, std::nullopt, 5)) /
                     (1000.0 * (1 << (attempt - 1))));
  EXPECT_GT(fractions.size(), 3u);
}

TEST(ExchangeBackoff, RetryAfterIsAFloor) {
  // A Retry-After below the jittered delay changes nothing.
  const std::int64_t plain = ex::backoff_ms(3, 1000, 60000, std::nullopt, 11);
  EXPECT_EQ(ex::backoff_ms(3, 1000, 60000, std::int64_t{10}, 11), plain);
  // Above it, it wins, even above max_ms.
  EXPECT_EQ(ex::backoff_ms(3, 1000, 60000, std::int64_t{90000}, 11), 90000);
  EXPECT_EQ(ex::backoff_ms(1, 1000, 2000, std::int64_t{7000}, 11), 7000);
  // Only up to one hour.
  EXPECT_EQ(ex::backoff_ms(1, 1000, 2000, std::int64_t{86400000}, 11), 3600000);
  EXPECT_EQ(ex::backoff_ms(1, 1000, 2000, std::int64_t{INT64_MAX}, 11), 3600000);
  // Zero is allowed (and is no floor).
  EXPECT_LE(ex::backoff_ms(1, 1000, 2000, std::int64_t{0}, 11), 1000);
}

TEST(ExchangeBackoff, RejectsBadParameters) {
  expect_invalid([] { ex::backoff_ms(0, 1000, 2000, std::nullopt, 1); }, {"attempt = 0"});
  expect_invalid([] { ex::backoff_ms(1, 0, 2000, std::nullopt, 1); }, {"base_ms = 0"});
  expect_invalid([] { ex::backoff_ms(1, 1000, 999, std::nullopt, 1); }, {"max_ms = 999"});
  expect_invalid([] { ex::backoff_ms(1, 1000, 2000, std::int64_t{-1}, 1); },
                 {"retry_after_ms = -1"});
}

// ============================ Retry-After ===================================================

TEST(ExchangeRetryAfter, DeltaSeconds) {
  EXPECT_EQ(ex::parse_retry_after("7", kNow), 7000);
  EXPECT_EQ(ex::parse_retry_after("0", kNow), 0);
  EXPECT_EQ(ex::parse_retry_after(" 120\t", kNow), 120000);
  EXPECT_EQ(ex::parse_retry_after("007", kNow), 7000);
  EXPECT_EQ(ex::parse_retry_after("99999999999999999999999", kNow), INT64_MAX);  // saturates
}

TEST(ExchangeRetryAfter, HttpDates) {
  const std::int64_t date = 1445412480000;  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(ex::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - 5000), 5000);
  EXPECT_EQ(ex::parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", date - 5000), 5000);
  EXPECT_EQ(ex::parse_retry_after("Wed Oct 21 07:28:00 2015", date - 5000), 5000);
  EXPECT_EQ(ex::parse_retry_after("Sun Nov  6 08:49:37 1994", 784111777000 - 1), 1);
  // A date in the past means "now".
  EXPECT_EQ(ex::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date + 1000), 0);
  // Relative to our clock in 2026.
  EXPECT_EQ(ex::parse_retry_after("Tue, 24 Nov 2026 10:03:35 GMT", kNow), 30000);
  // RFC 850 two-digit years: more than 50 years ahead means the previous century.
  EXPECT_EQ(ex::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 784111777000 - 2000), 2000);
  // Seen from 2026: "94" would be 2094, more than 50 years ahead, so it is 1994 (past: 0) ...
  EXPECT_EQ(ex::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", kNow), 0);
  // ... while "30" is 2030 (2030-03-01 12:00:00 UTC is 1898596800000).
  EXPECT_EQ(ex::parse_retry_after("Friday, 01-Mar-30 12:00:00 GMT", kNow), 1898596800000 - kNow);
}

TEST(ExchangeRetryAfter, GarbageIsNullopt) {
  for (const std::string bad :
       {"", "   ", "-5", "1.5", "7s", "soon", "Wed, 21 Oct 2015 07:28:00",  // no GMT
        "Wed, 21 Oct 2015 07:28:00 UTC", "Thu, 21 Oct 2015 07:28:00 GMT",   // wrong weekday
        "Mon, 30 Feb 2015 07:28:00 GMT", "Wed, 21 Oct 2015 24:00:00 GMT",   // invalid date/time
        "Wed, 21 Foo 2015 07:28:00 GMT", "wed, 21 oct 2015 07:28:00 gmt",   // case-sensitive
        "Wed, 21 Oct 2015 07:28:00 GMT trailing", "Wed,21 Oct 2015 07:28:00 GMT"})
    EXPECT_EQ(ex::parse_retry_after(bad, kNow), std::nullopt) << "\"" << bad << "\"";
}

// ============================ backfill planning =============================================

TEST(ExchangePlan, NothingStored) {
  // now 10:03:05: the last closed minute is 10:02; 5 initial minutes are 09:58 .. 10:02.
  const auto plan = ex::plan_pages(std::nullopt, kNow, 1000, 5);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].start_ms, kT0 - 2 * kMin);
  EXPECT_EQ(plan[0].end_ms, kT0 + 2 * kMin);
  // 2500 initial minutes in pages of 1000: 1000 + 1000 + 500.
  const auto big = ex::plan_pages(std::nullopt, kNow, 1000, 2500);
  ASSERT_EQ(big.size(), 3u);
  EXPECT_EQ(big[0].start_ms, kT0 + 2 * kMin - 2499 * kMin);
  EXPECT_EQ(big[2].end_ms, kT0 + 2 * kMin);
  EXPECT_EQ((big[2].end_ms - big[2].start_ms) / kMin + 1, 500);
}

TEST(ExchangePlan, UpToDate) {
  EXPECT_TRUE(ex::plan_pages(kT0 + 2 * kMin, kNow, 1000, 60).empty());
  // A stored bar at the forming minute (or later) is "up to date" too.
  EXPECT_TRUE(ex::plan_pages(kT0 + 3 * kMin, kNow, 1000, 60).empty());
  EXPECT_TRUE(ex::plan_pages(kT0 + 90 * kMin, kNow, 1000, 60).empty());
  // The 10:02 candle closes at exactly 10:03:00.000.
  EXPECT_TRUE(ex::plan_pages(kT0 + kMin, kT0 + 3 * kMin - 1, 1000, 60).empty());
  EXPECT_EQ(ex::plan_pages(kT0 + kMin, kT0 + 3 * kMin, 1000, 60).size(), 1u);
}

TEST(ExchangePlan, OnePartialPage) {
  const auto plan = ex::plan_pages(kT0 - 10 * kMin, kNow, 1000, 60);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].start_ms, kT0 - 9 * kMin);
  EXPECT_EQ(plan[0].end_ms, kT0 + 2 * kMin);
}

TEST(ExchangePlan, SeveralPagesConsecutive) {
  // 12 missing minutes (09:51 .. 10:02) in pages of 5: 5 + 5 + 2.
  const auto plan = ex::plan_pages(kT0 - 10 * kMin, kNow, 5, 60);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].start_ms, kT0 - 9 * kMin);
  EXPECT_EQ(plan[0].end_ms, kT0 - 5 * kMin);
  EXPECT_EQ(plan[1].start_ms, kT0 - 4 * kMin);
  EXPECT_EQ(plan[1].end_ms, kT0);
  EXPECT_EQ(plan[2].start_ms, kT0 + kMin);
  EXPECT_EQ(plan[2].end_ms, kT0 + 2 * kMin);
  for (std::size_t i = 1; i < plan.size(); ++i)
    EXPECT_EQ(plan[i].start_ms, plan[i - 1].end_ms + kMin);
  // Every page fits one request.
  for (const Page& p : plan)
    EXPECT_NO_THROW(ex::klines_url(Exchange::Bybit, "https://api.bybit.com", "BTCUSDT", p.start_ms,
                                   p.end_ms, 5));
}

TEST(ExchangePlan, PageSizeBoundary) {
  // Exactly page_size missing minutes: one full page; one more: a second page of one.
  const std::int64_t last = kT0 + 2 * kMin;
  const auto exact = ex::plan_pages(last - 300 * kMin, kNow, 300, 60);
  ASSERT_EQ(exact.size(), 1u);
  EXPECT_EQ(exact[0].start_ms, last - 299 * kMin);
  EXPECT_EQ(exact[0].end_ms, last);
  const auto over = ex::plan_pages(last - 301 * kMin, kNow, 300, 60);
  ASSERT_EQ(over.size(), 2u);
  EXPECT_EQ(over[0].end_ms - over[0].start_ms, 299 * kMin);
  EXPECT_EQ(over[1].start_ms, last);
  EXPECT_EQ(over[1].end_ms, last);
  // page_size 1: one page per minute.
  EXPECT_EQ(ex::plan_pages(last - 3 * kMin, kNow, 1, 60).size(), 3u);
}

TEST(ExchangePlan, UnalignedNow) {
  // Any now within 10:03:00.000 .. 10:03:59.999 gives the same plan ending at 10:02.
  for (std::int64_t now : {kT0 + 3 * kMin, kT0 + 3 * kMin + 1, kNow, kT0 + 4 * kMin - 1}) {
    const auto plan = ex::plan_pages(std::nullopt, now, 1000, 3);
    ASSERT_EQ(plan.size(), 1u) << now;
    EXPECT_EQ(plan[0].start_ms, kT0) << now;
    EXPECT_EQ(plan[0].end_ms, kT0 + 2 * kMin) << now;
  }
  // Before any minute > 0 has closed there is nothing to fetch; the start never precedes 60 000.
  EXPECT_TRUE(ex::plan_pages(std::nullopt, 119999, 1000, 60).empty());
  const auto early = ex::plan_pages(std::nullopt, 185000, 1000, 60);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0].start_ms, kMin);
  EXPECT_EQ(early[0].end_ms, 2 * kMin);
}

TEST(ExchangePlan, RejectsBadParameters) {
  expect_invalid([] { ex::plan_pages(std::nullopt, kNow, 0, 60); }, {"page_size = 0"});
  expect_invalid([] { ex::plan_pages(std::nullopt, kNow, 1000, 0); }, {"initial_minutes = 0"});
  expect_invalid([] { ex::plan_pages(kT0 + 1, kNow, 1000, 60); },
                 {"latest_ms = " + std::to_string(kT0 + 1)});
  expect_invalid([] { ex::plan_pages(std::int64_t{0}, kNow, 1000, 60); }, {"latest_ms = 0"});
  // A plan of more than kMaxPlanPages pages is refused with a hint.
  try {
    ex::plan_pages(kMin, kNow, 1, 60);
    ADD_FAILURE() << "no exception";
  } catch (const cml::InvalidParameter& e) {
    EXPECT_NE(std::string(e.what()).find("pages"), std::string::npos) << e.what();
    EXPECT_EQ(e.hint(), "use a larger page size");
  }
  // The same gap in pages of 1000 is fine (about 30 000 pages).
  EXPECT_NO_THROW(ex::plan_pages(kMin, kNow, 1000, 60));
}
