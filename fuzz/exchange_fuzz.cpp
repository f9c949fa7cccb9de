// libFuzzer target: the exchange candle parsers, cml::exchange::parse_klines, for binance-us,
// coinbase and bybit, plus the Retry-After header parser.
//
// Input: byte 0 picks the parser (byte % 4: 0 binance-us, 1 coinbase, 2 bybit, 3 Retry-After);
// the rest is the response body (or the header value). The clock is fixed (2026-01-01T00:00Z).
// An accepted body must give a result that keeps every promise of exchange.hpp (closed candles
// only, ascending, unique, plain decimal texts, OHLC consistency, the counters add up).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "exchange.hpp"
#include "fuzz_common.hpp"

namespace ex = cml::exchange;

namespace {

constexpr std::int64_t kNowMs = 1767225600000;  // 2026-01-01T00:00:00Z, a minute boundary

bool plain_decimal(const std::string& s) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const std::size_t a = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == a) return false;
  if (i == s.size()) return true;
  if (s[i++] != '.') return false;
  const std::size_t b = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i > b && i == s.size();
}

void check_result(ex::Exchange e, const ex::ParseResult& r) {
  FUZZ_CHECK(r.received == r.candles.size() + r.duplicates + r.not_closed);
  if (e != ex::Exchange::Bybit) FUZZ_CHECK(r.product.empty());
  std::int64_t prev = 0;
  for (const ex::Candle& c : r.candles) {
    FUZZ_CHECK(c.open_time_ms > prev);  // ascending and unique (and > 0)
    prev = c.open_time_ms;
    FUZZ_CHECK(c.open_time_ms % ex::kMinuteMs == 0);
    FUZZ_CHECK(c.open_time_ms + ex::kMinuteMs <= kNowMs);  // closed
    for (double v : {c.open, c.high, c.low, c.close, c.volume}) FUZZ_CHECK(std::isfinite(v));
    FUZZ_CHECK(c.open > 0 && c.high > 0 && c.low > 0 && c.close > 0 && c.volume >= 0);
    FUZZ_CHECK(c.high >= c.open && c.high >= c.close && c.high >= c.low);
    FUZZ_CHECK(c.low <= c.open && c.low <= c.close);
    for (const std::string* s : {&c.open_s, &c.high_s, &c.low_s, &c.close_s, &c.volume_s})
      FUZZ_CHECK(plain_decimal(*s));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int mode = data[0] % 4;
  const std::string body = fuzz::bytes(data + 1, size - 1);
  if (mode == 3) {
    // Documented to return nullopt for anything it cannot read: no exception at all.
    const auto ms = ex::parse_retry_after(body, kNowMs);
    if (ms) FUZZ_CHECK(*ms >= 0);
    return 0;
  }
  const ex::Exchange e = mode == 0 ? ex::Exchange::BinanceUs
                         : mode == 1 ? ex::Exchange::Coinbase
                                     : ex::Exchange::Bybit;
  ex::ParseOptions opt;
  opt.now_ms = kNowMs;
  ex::ParseResult r;
  if (fuzz::accepts([&] { r = ex::parse_klines(e, body, opt); })) check_result(e, r);
  return 0;
}
