// Replays real exchange candle responses through parse_klines (src/core/exchange.hpp).
//
// The bodies are in shared/data/exchange-fixtures (CRYPTOML_SOURCE_DIR "/../shared/data/
// exchange-fixtures"): kline responses of Binance(.US), Coinbase Exchange and Bybit v5 recorded by
// other open-source projects for their own tests. Its README gives each body's origin and
// interval. Each body has one expected outcome below:
//   - a 1-minute body is accepted with its exact candle count, and its first and last candles
//     carry exactly the exchange's values (the decimal text as sent; coinbase numbers as their
//     shortest text);
//   - a body of larger candles is refused by the interval rule (binance-us: closeTime; coinbase
//     and bybit: the gcd of the spacings), except a single coinbase candle, whose interval no rule
//     can see (documented in docs/ingest.md);
//   - a bybit body of another market (linear) is refused.
// Every file of the folder must have an entry (a new fixture cannot go unjudged). When the folder
// does not exist, the tests are skipped.
#include "exchange.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

namespace ex = cml::exchange;
namespace fs = std::filesystem;
using ex::Exchange;

const char* const kFixtureDir = CRYPTOML_SOURCE_DIR "/../shared/data/exchange-fixtures";

// Later than every candle of every fixture (the newest, a testnet recording, opens in 2026-06),
// so that every 1-minute candle is closed.
constexpr std::int64_t kReplayNow = 1893456000000;  // 2030-01-01T00:00:00Z

struct Bar {
  std::int64_t open_time_ms;
  const char *open, *high, *low, *close, *volume;
};

struct Fixture {
  const char* path;  // relative to kFixtureDir
  Exchange exchange;
  bool accepted;
  // accepted:
  std::size_t received, candles, duplicates;
  Bar first, last;
  // refused: fragments of the message, and of the detail (the rule)
  std::vector<std::string> message;
  std::string rule;
};

// Shown by gtest for a failing case.
void PrintTo(const Fixture& f, std::ostream* os) { *os << f.path; }

Fixture accepted(const char* path, Exchange e, std::size_t received, std::size_t candles,
                 std::size_t duplicates, Bar first, Bar last) {
  return {path, e, true, received, candles, duplicates, first, last, {}, ""};
}

Fixture refused(const char* path, Exchange e, std::vector<std::string> message, std::string rule) {
  return {path, e, false, 0, 0, 0, {}, {}, std::move(message), std::move(rule)};
}

const std::string kCloseTimeRule =
    "rule: closeTime (element 6) is an integer equal to openTime + 59999 ms: cryptoml stores "
    "1-minute candles only (interval=1m)";
const std::string kSpacingRule =
    "rule: with 3 or more distinct open times, the gcd of the spacings between consecutive open "
    "times is 60 s (1-minute candles; gaps allowed)";
const std::string kCategoryRule =
    "rule: bybit result.category is \"spot\" (the request asks for category=spot)";

const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> kAll = {
      // ---- binance ----
      accepted("binance/nautilus_http_spot_market_klines_1m.json", Exchange::BinanceUs, 10, 10, 0,
               {1634943780000, "60685.22000000", "60729.84000000", "60670.90000000",
                "60719.27000000", "21.63272000"},
               {1634944320000, "60739.85000000", "60739.85000000", "60739.85000000",
                "60739.85000000", "0.04734000"}),
      accepted("binance/python-binance_first_available_res_BNBBTC_1m.json", Exchange::BinanceUs,
               1, 1, 0,
               {1500004800000, "0.00005000", "0.00005300", "0.00001000", "0.00004790",
                "663152.00000000"},
               {1500004800000, "0.00005000", "0.00005300", "0.00001000", "0.00004790",
                "663152.00000000"}),
      // One row repeated 5 times: 4 exact duplicates collapsed.
      accepted("binance/python-binance_first_res_BNBBTC_1m_x5.json", Exchange::BinanceUs, 5, 1, 4,
               {1519892340000, "0.00099400", "0.00099810", "0.00099400", "0.00099810",
                "4806.04000000"},
               {1519892340000, "0.00099400", "0.00099810", "0.00099400", "0.00099810",
                "4806.04000000"}),
      refused("binance/ccxt_binanceus_fetchOHLCV_BTCUSDT_1h.json", Exchange::BinanceUs,
              {"binance-us candle [0] (open time 1710327600000): candle at 2024-03-13T11:00:00Z "
               "closes at 1710331199999 (2024-03-13T11:59:59.999Z): a 1h candle, not a 1-minute "
               "one"},
              kCloseTimeRule),
      refused("binance/hummingbot_binance_spot_BTCUSDT_1h.json", Exchange::BinanceUs,
              {"binance-us candle [0] (open time 1672981200000): candle at 2023-01-06T05:00:00Z "
               "closes at 1672984799999",
               "a 1h candle, not a 1-minute one"},
              kCloseTimeRule),
      refused("binance/python-binance_recording_get_klines_BTCUSDT_1d_testnet.json",
              Exchange::BinanceUs,
              {"binance-us candle [0] (open time 1780444800000): candle at 2026-06-03T00:00:00Z",
               "a 1d candle, not a 1-minute one"},
              kCloseTimeRule),
      refused("binance/nautilus_klines_response_docs_example.json", Exchange::BinanceUs,
              {"binance-us candle [0] (open time 1499040000000): candle at 2017-07-03T00:00:00Z "
               "closes at 1499644799999 (2017-07-09T23:59:59.999Z): a 1w candle, not a 1-minute "
               "one"},
              kCloseTimeRule),
      // ---- coinbase ----
      accepted("coinbase-pro-node/2020-03-20-00-00.json", Exchange::Coinbase, 300, 300, 0,
               {1584662400000, "6177.01", "6177.01", "6176.99", "6177.01", "86.48116268"},
               {1584680340000, "6221.99", "6222.01", "6221.99", "6222.01", "39.81861594"}),
      accepted("coinbase-pro-node/2020-03-20-05-00.json", Exchange::Coinbase, 300, 300, 0,
               {1584680400000, "6221.99", "6222.01", "6221.99", "6222.01", "29.98341594"},
               {1584698340000, "6742.01", "6742.01", "6741.99", "6742.01", "44.3096844"}),
      accepted("coinbase/gdax-sim_twoHistoricRates_1m.json", Exchange::Coinbase, 2, 2, 0,
               {1546475280000, "0.0391", "0.03915", "0.0391", "0.03915", "11.75"},
               {1546475340000, "0.03914", "0.03914", "0.03909", "0.03911", "1.51"}),
      refused("coinbase-pro-node/GET-200.json", Exchange::Coinbase,
              {"coinbase candles are spaced 3600 s apart (gcd of the spacings between the 169 "
               "distinct open times, 2020-03-09T00:00:00Z to 2020-03-16T00:00:00Z): not 1-minute "
               "candles (1h candles?)"},
              kSpacingRule),
      // A single 1h candle: no rule can see its interval (a coinbase body states none, and one
      // open time has no spacing), so it is accepted. Documented in docs/ingest.md.
      accepted("coinbase/ccxt_coinbaseexchange_fetchOHLCV_BTCUSDT_1h.json", Exchange::Coinbase, 1,
               1, 0, {1710327600000, "73243.33", "73402.47", "73241.5", "73370.65", "1.56794406"},
               {1710327600000, "73243.33", "73402.47", "73241.5", "73370.65", "1.56794406"}),
      // ---- bybit ----
      refused("bybit/nautilus_spot_klines_btc_1d.json", Exchange::Bybit,
              {"bybit candles are spaced 86400 s apart (gcd of the spacings between the 3 distinct "
               "open times, 2023-09-12T00:00:00Z to 2023-09-14T00:00:00Z): not 1-minute candles "
               "(1d candles?)"},
              kSpacingRule),
      refused("bybit/hummingbot_bybit_spot_BTCUSDT_1h.json", Exchange::Bybit,
              {"bybit candles are spaced 3600 s apart (gcd of the spacings between the 5 distinct "
               "open times, 2024-05-08T10:00:00Z to 2024-05-08T14:00:00Z)"},
              kSpacingRule),
      refused("bybit/nautilus_linear_klines_btc_1d.json", Exchange::Bybit,
              {"bybit response is for category \"linear\", not \"spot\": cryptoml ingests spot "
               "candles only"},
              kCategoryRule),
      // ccxt recorded retCode as a string (Bybit sends an integer): refused for its shape before
      // the category is looked at (BybitLinearRefusedForItsCategory repairs it).
      refused("bybit/ccxt_bybit_fetchOHLCV_BTCUSDT_linear_1h.json", Exchange::Bybit,
              {"bybit response has the wrong shape: expected an integer retCode, got string "
               "\"0\""},
              "rule: the documented bybit kline response"),
  };
  return kAll;
}

bool have_fixtures() { return fs::is_directory(kFixtureDir); }

std::string read_fixture(const std::string& rel) {
  std::ifstream in(fs::path(kFixtureDir) / rel, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << rel;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

ex::ParseOptions replay_options() {
  ex::ParseOptions o;
  o.now_ms = kReplayNow;
  return o;
}

void expect_bar(const ex::Candle& c, const Bar& b, const char* which) {
  SCOPED_TRACE(which);
  EXPECT_EQ(c.open_time_ms, b.open_time_ms);
  EXPECT_EQ(c.open_s, b.open);
  EXPECT_EQ(c.high_s, b.high);
  EXPECT_EQ(c.low_s, b.low);
  EXPECT_EQ(c.close_s, b.close);
  EXPECT_EQ(c.volume_s, b.volume);
}

class Replay : public ::testing::TestWithParam<Fixture> {};

TEST_P(Replay, Body) {
  if (!have_fixtures()) GTEST_SKIP() << kFixtureDir << " does not exist";
  const Fixture& f = GetParam();
  const std::string body = read_fixture(f.path);
  ASSERT_FALSE(body.empty());
  if (f.accepted) {
    ex::ParseResult r;
    ASSERT_NO_THROW(r = ex::parse_klines(f.exchange, body, replay_options()));
    EXPECT_EQ(r.received, f.received);
    EXPECT_EQ(r.duplicates, f.duplicates);
    EXPECT_EQ(r.not_closed, 0u);
    ASSERT_EQ(r.candles.size(), f.candles);
    expect_bar(r.candles.front(), f.first, "first");
    expect_bar(r.candles.back(), f.last, "last");
    for (std::size_t k = 1; k < r.candles.size(); ++k)
      EXPECT_LT(r.candles[k - 1].open_time_ms, r.candles[k].open_time_ms) << k;
    return;
  }
  try {
    ex::parse_klines(f.exchange, body, replay_options());
    ADD_FAILURE() << f.path << " was accepted; expected a DataError";
  } catch (const cml::DataError& e) {
    const std::string m = e.what();
    for (const std::string& frag : f.message)
      EXPECT_NE(m.find(frag), std::string::npos) << "message \"" << m << "\" lacks \"" << frag
                                                 << "\"";
    EXPECT_EQ(e.detail(), f.rule);
    // Messages never carry the body: no more than one clipped value (40 characters) of it.
    EXPECT_LT(m.size(), 400u) << m;
  }
}

std::string test_name(const ::testing::TestParamInfo<Fixture>& info) {
  std::string name;
  for (const char* p = info.param.path; *p != '\0'; ++p)
    name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return name.substr(0, name.size() - 5);  // without "_json"
}

INSTANTIATE_TEST_SUITE_P(ExchangeFixtures, Replay, ::testing::ValuesIn(fixtures()), test_name);

TEST(ExchangeFixtures, EveryFileHasAnExpectedOutcome) {
  if (!have_fixtures()) GTEST_SKIP() << kFixtureDir << " does not exist";
  std::set<std::string> on_disk, expected;
  for (const auto& entry : fs::recursive_directory_iterator(kFixtureDir))
    if (entry.is_regular_file() && entry.path().extension() == ".json")
      on_disk.insert(fs::relative(entry.path(), kFixtureDir).generic_string());
  for (const Fixture& f : fixtures()) expected.insert(f.path);
  EXPECT_EQ(on_disk, expected);
  // The README describes each of them.
  const std::string readme = read_fixture("README.md");
  for (const Fixture& f : fixtures())
    EXPECT_NE(readme.find(f.path), std::string::npos) << f.path << " is not in the README";
}

TEST(ExchangeFixtures, BybitLinearRefusedForItsCategory) {
  if (!have_fixtures()) GTEST_SKIP() << kFixtureDir << " does not exist";
  // The ccxt recording with retCode and time as the integers Bybit sends: then the category
  // refuses it.
  nlohmann::json doc =
      nlohmann::json::parse(read_fixture("bybit/ccxt_bybit_fetchOHLCV_BTCUSDT_linear_1h.json"));
  doc["retCode"] = 0;
  doc["time"] = 1706803708087;
  try {
    ex::parse_klines(Exchange::Bybit, doc.dump(), replay_options());
    ADD_FAILURE() << "accepted";
  } catch (const cml::DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              "bybit response is for category \"linear\", not \"spot\": cryptoml ingests spot "
              "candles only");
    EXPECT_EQ(e.detail(), kCategoryRule);
  }
}

TEST(ExchangeFixtures, BybitSpotDailyBodyAtItsOwnTime) {
  if (!have_fixtures()) GTEST_SKIP() << kFixtureDir << " does not exist";
  // At the body's own time (its newest daily candle still open) it is refused just the same:
  // larger candles are refused, not merely filtered as unclosed.
  const std::string body = read_fixture("bybit/nautilus_spot_klines_btc_1d.json");
  ex::ParseOptions o;
  o.now_ms = nlohmann::json::parse(body).at("time").get<std::int64_t>();
  try {
    ex::parse_klines(Exchange::Bybit, body, o);
    ADD_FAILURE() << "accepted";
  } catch (const cml::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("spaced 86400 s apart"), std::string::npos) << e.what();
  }
}

TEST(ExchangeFixtures, OneMinuteBodiesAtTheirOwnTimeKeepOnlyClosedCandles) {
  if (!have_fixtures()) GTEST_SKIP() << kFixtureDir << " does not exist";
  // Replayed one minute after the newest candle opened (its closeTime + 1): everything is closed;
  // at its closeTime the newest one is still forming.
  const std::string body = read_fixture("binance/nautilus_http_spot_market_klines_1m.json");
  ex::ParseOptions o;
  o.now_ms = 1634944320000 + 60000;
  EXPECT_EQ(ex::parse_klines(Exchange::BinanceUs, body, o).candles.size(), 10u);
  o.now_ms -= 1;
  const ex::ParseResult r = ex::parse_klines(Exchange::BinanceUs, body, o);
  EXPECT_EQ(r.candles.size(), 9u);
  EXPECT_EQ(r.not_closed, 1u);
}

}  // namespace
