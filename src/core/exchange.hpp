// cryptoml exchange access rules: which exchange product a symbol maps to, the URL of one page of
// 1-minute candles, strict parsing of the exchanges' kline responses, rate limiting, retry
// backoff and backfill planning. Pure C++17: no PostgreSQL header may be included here, and no
// network I/O happens here either; the caller fetches and hands over the response body, and
// passes its clock in, so everything below is deterministic.
//
// Conventions.
//
//   Time. Open times are milliseconds since the epoch (int64), UTC. A 1-minute candle is
//     identified by its open time, a multiple of 60 000 ms; its close time is its last ms,
//     open_time + 59 999 (binance-us states it, the others do not). It is CLOSED once
//     close_time < now_ms (open_time + 60 000 <= now_ms); before that it is still forming and
//     must not be stored. Only 1-minute candles are accepted: a body of larger candles (1h, 1d,
//     ...) is refused, never stored as 1-minute bars (see parse_klines).
//
//   Exchanges. "binance-us", "coinbase" (Coinbase Exchange public API) and "bybit" (v5, spot).
//     Each documents its own page size, request shape, field order and sort order; the
//     functions below hide those differences behind one canonical Candle.
//
//   Decimal text. Prices and volumes are kept twice: as doubles for computation and as the
//     exchange's own decimal text (open_s, ...) so that values can be stored as NUMERIC without a
//     binary round trip. The text is a plain decimal, ^-?[0-9]+(\.[0-9]+)?$, never an exponent.
//
//   Strictness. A response is either entirely valid or rejected: parse_klines never returns part
//     of a payload. Every rejection names the exchange, the candle (payload index and open time)
//     and the offending value in the message, and states the rule in the detail.
//
// Errors: cml::InvalidParameter for bad arguments (unknown exchange, bad symbol, bad limits),
// cml::DataError for an unusable response body, cml::exchange::ApiError for a well-formed error
// body sent by the exchange (invalid symbol, rate limit, ...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"

namespace cml::exchange {

// One minute in milliseconds: the candle interval and the open-time alignment.
constexpr std::int64_t kMinuteMs = 60000;

// Largest Retry-After delay honoured as a floor by backoff_ms (one hour).
constexpr std::int64_t kMaxRetryAfterMs = 3600000;

// Largest number of pages plan_pages returns (see plan_pages).
constexpr std::size_t kMaxPlanPages = 100000;

enum class Exchange { BinanceUs, Coinbase, Bybit };

// "binance-us" | "coinbase" | "bybit" (exact, lower case). Throws InvalidParameter naming the
// value and listing the three names.
Exchange parse_exchange(const std::string& name);

// The name parse_exchange accepts for the exchange.
std::string exchange_name(Exchange ex);

// Documented maximum number of candles per request: binance-us 1000, coinbase 300, bybit 1000.
int max_page(Exchange ex);

// ---- Symbols -------------------------------------------------------------------------------
//
// Our symbols match ^[A-Z0-9]{2,20}$ (BTCUSDT). Default mapping:
//   binance-us, bybit: the symbol as is.
//   coinbase: BASE-QUOTE, splitting a known quote suffix (USDT, USDC, USD, BTC, ETH, EUR; the
//     longest match first) off a non-empty base; quote USDT maps to USD (Coinbase quotes the
//     dollar, not Tether): BTCUSDT -> BTC-USD, ETHBTC -> ETH-BTC, SOLUSDC -> SOL-USDC.
// `overrides` is null or a JSON object {"BTCUSDT": "BTC-USDT", ...}; the entry for the symbol,
// when present, wins over the default for every exchange. Only that entry is checked.
//
// Throws InvalidParameter for a symbol not matching the pattern, overrides that are neither null
// nor an object, an override value that is not a string matching ^[A-Za-z0-9-]{2,30}$ (a
// plausible product id), and a coinbase symbol without a known quote suffix and no override.
std::string product_for(Exchange ex, const std::string& symbol, const nlohmann::json& overrides);

// ---- Requests ------------------------------------------------------------------------------
//
// URL of one page of 1-minute candles covering the open times [start_ms, end_ms] (inclusive):
//   binance-us: {base}/api/v3/klines?symbol=P&interval=1m&startTime=S&endTime=E&limit=L  (ms)
//   coinbase:   {base}/products/P/candles?granularity=60&start=ISO&end=ISO
//               (ISO-8601 UTC to the second, 2026-11-24T10:00:00Z; Coinbase takes no limit
//               parameter and serves at most 300 candles)
//   bybit:      {base}/v5/market/kline?category=spot&symbol=P&interval=1&start=S&end=E&limit=L
// `base` is the API root ("https://api.binance.us"); one trailing slash is stripped.
//
// Rules (InvalidParameter otherwise, naming the value):
//   - base starts with http:// or https:// and is not just the scheme;
//   - product matches ^[A-Za-z0-9-]{2,30}$ (it goes into the URL unescaped);
//   - 1 <= limit <= max_page(ex);
//   - start_ms and end_ms are open times: >= 0 and multiples of 60 000; start_ms <= end_ms;
//   - the range holds at most `limit` open times: (end - start) / 60 000 + 1 <= limit. A range
//     larger than the page would be cut by the exchange (Bybit keeps the NEWEST candles of the
//     range, Coinbase refuses it), silently leaving a hole, so it is refused here instead.
std::string klines_url(Exchange ex, const std::string& base, const std::string& product,
                       std::int64_t start_ms, std::int64_t end_ms, int limit);

// ---- Responses -----------------------------------------------------------------------------

struct Candle {
  std::int64_t open_time_ms;
  double open, high, low, close, volume;
  // Canonical decimal text: exactly as the exchange sent it for string fields (binance-us,
  // bybit); for JSON numbers (coinbase) the shortest text that reads back as the same double,
  // written without an exponent (1e-05 -> 0.00001). Always matches ^-?[0-9]+(\.[0-9]+)?$.
  std::string open_s, high_s, low_s, close_s, volume_s;
};

struct ParseOptions {
  std::int64_t now_ms;                        // our clock
  std::int64_t future_tolerance_ms = 120000;  // a candle opening after now + this is clock skew
  std::size_t max_bytes = 4 << 20;            // a larger body is refused before parsing
};

// received == candles.size() + duplicates + not_closed.
struct ParseResult {
  std::vector<Candle> candles;  // closed candles only, ascending by open time, unique
  std::size_t received = 0;     // candles in the payload
  std::size_t not_closed = 0;   // dropped: still forming, close_time >= now_ms (binance-us: the
                                // closeTime it sent; others: open_time + 59 999)
  std::size_t duplicates = 0;   // exact duplicates collapsed (same open time, same values)
  bool reordered = false;       // payload was not in the exchange's documented order
  std::string product;          // the product the payload names (bybit's result.symbol), "" when it names none
};

// A well-formed error body sent by the exchange. what() is "<exchange> API error: <message>"
// with the exchange's own message (control characters removed, at most 200 characters); the
// detail carries the exchange's error code when there is one. A DataError: the payload is not
// candles (SQLSTATE 22000 in SQL).
class ApiError : public DataError {
 public:
  using DataError::DataError;
};

// Parses a kline response BODY exactly as the exchange returns it:
//   binance-us: [[openTime(int ms), "open", "high", "low", "close", "volume", closeTime(int),
//               "quoteVolume", trades(int), "takerBase", "takerQuote", "ignore"], ...]
//               ascending. Twelve elements documented; the first seven are read and checked,
//               extra ones are ignored. closeTime states the interval: it must be
//               openTime + 59 999 (a 1-minute kline), else the payload is refused.
//   coinbase:   [[time(int seconds), low, high, open, close, volume], ...] as JSON numbers,
//               NEWEST FIRST. Note the field order: low and high come before open and close.
//               At least six elements; extra ones are ignored.
//   bybit:      {"retCode":0, "retMsg":"OK", "result":{"category":"spot", "symbol":"BTCUSDT",
//               "list":[["startTime ms", "open", "high", "low", "close", "volume", "turnover"],
//               ...]}, ...}, list NEWEST FIRST, every field a string. At least six elements.
//               result.category must be "spot" (present, a string): linear, inverse and option
//               bodies are other markets and are refused.
//
// Error bodies are thrown as ApiError (checked right after the JSON parse):
//   binance-us: an object with "code" or "msg"   {"code":-1121,"msg":"Invalid symbol."}
//   coinbase:   an object with "message"         {"message":"NotFound"}
//   bybit:      "retCode" present and != 0, message from "retMsg"
//
// Validation, in this order, each failure a DataError (message: exchange, candle index in the
// payload, open time when known, the value; detail: the rule):
//   1. body.size() <= max_bytes (before parsing; the message gives both sizes);
//   2. valid JSON; the documented top-level shape (bybit: result.category "spot");
//   3. for every candle in payload order: element is an array of the documented arity and
//      types; open time > 0 and a multiple of 60 000 ms (coinbase: of 60 s); each price and the
//      volume a plain decimal (^-?[0-9]+(\.[0-9]+)?$, for string fields) that is finite as a
//      double (a value too small for a double reads as 0, its text kept); binance-us: closeTime
//      (element 6) present, an integer, equal to openTime + 59 999 (the message names the
//      candle's open time as UTC and the interval its closeTime implies, "a 1h candle, not a
//      1-minute one"); open, high, low,
//      close > 0; volume >= 0; high >= max(open, close, low) and
//      low <= min(open, close); open time <= now_ms + future_tolerance_ms (else clock skew, the
//      message gives how many seconds ahead);
//   4. candles sharing an open time must carry the same values (compared as decimals, so
//      "1.50" equals "1.5"); a conflict rejects the payload, an exact duplicate is collapsed into
//      its first occurrence in the payload and counted;
//   5. coinbase and bybit (whose bodies state no interval): with 3 or more distinct open times,
//      the gcd of the spacings between consecutive distinct open times must be 60 s; a larger
//      gcd means candles of a larger granularity (1h candles are spaced by multiples of 3600 s).
//      One or two distinct open times are accepted whatever their spacing: a gap between two
//      1-minute candles is legitimate, so two candles 3600 s apart cannot be told from two
//      1-minute candles around a gap.
// Then the candles are sorted ascending (reordered is set when the payload broke the exchange's
// documented order, ascending for binance-us, newest first for coinbase and bybit) and those
// still forming (close time >= now_ms; binance-us: the closeTime it sent) are dropped and
// counted.
//
// Throws InvalidParameter for options with future_tolerance_ms < 0.
ParseResult parse_klines(Exchange ex, const std::string& body, const ParseOptions& options);

// ---- Rate limiting and retries ---------------------------------------------------------------

// Token bucket with injected time: holds at most `burst` tokens, starts full, and gains
// rate_per_second tokens per second of elapsed time (continuously, as a real number). Each
// request takes one token. Over any window [t, t + W] at most burst + rate * W / 1000 requests
// pass.
//
// It is kept in the equivalent "virtual scheduling" form: with T = 1000 / rate ms per token and
// tau = (burst - 1) * T, a request at now passes when now >= tat - tau, where tat (theoretical
// arrival time) advances by T per passed request and never lags behind the clock. Only passed
// requests change the state, and tat is kept as whole ms plus a fraction below one, so there is
// no floating-point drift and the returned waits are exact: try_take(now + wait) passes, and
// try_take(now + wait - 1) does not, when nothing else took a token meanwhile. Time passed to
// try_take should not decrease; an earlier time only makes the bucket look emptier, it never
// lets extra requests pass.
class TokenBucket {
 public:
  // Throws InvalidParameter unless rate_per_second is finite and > 0 and burst is finite and
  // >= 1.
  TokenBucket(double rate_per_second, double burst);

  // Takes one token if one is available at now_ms and returns 0; otherwise takes nothing and
  // returns the number of ms (>= 1) until one is.
  std::int64_t try_take(std::int64_t now_ms);

 private:
  double period_ms_;         // T: ms per token
  double tolerance_ms_;      // tau: how far tat may run ahead of the clock
  bool started_ = false;     // false until the first passed request (bucket full)
  std::int64_t tat_ms_ = 0;  // whole ms of tat
  double tat_frac_ = 0.0;    // fraction of a ms of tat, in [0, 1)
};

// Delay before retry number `attempt` (1-based: attempt 1 follows the first failure):
//   raw   = min(max_ms, base_ms * 2^(attempt - 1))
//   delay = a value in [ceil(raw / 2), raw] (full jitter over the upper half), chosen by a hash
//           of (seed, attempt): the same seed and attempt always give the same delay, and one
//           seed gives independent-looking jitter across attempts.
//   With retry_after_ms (the server's Retry-After), the result is max(delay, min(retry_after_ms,
//   kMaxRetryAfterMs)): never less than the server asked for, even above max_ms, but a
//   Retry-After above one hour is only honoured up to one hour.
// Throws InvalidParameter for attempt < 1, base_ms < 1, max_ms < base_ms or a negative
// retry_after_ms.
std::int64_t backoff_ms(int attempt, std::int64_t base_ms, std::int64_t max_ms,
                        std::optional<std::int64_t> retry_after_ms, std::uint64_t seed);

// Delay in ms asked for by a Retry-After header value (surrounding spaces and tabs ignored):
//   delta-seconds: one or more digits, "7" -> 7000 (saturating at INT64_MAX ms);
//   HTTP-date: IMF-fixdate "Wed, 21 Oct 2015 07:28:00 GMT", or the obsolete forms HTTP
//     recipients must also accept, RFC 850 "Wednesday, 21-Oct-15 07:28:00 GMT" (a two-digit
//     year more than 50 years ahead of now_ms is in the previous century) and asctime
//     "Wed Oct 21 07:28:00 2015"; the result is date - now_ms, or 0 for a date in the past.
// nullopt for an empty or unparsable value, including an invalid date or a weekday that does not
// match the date.
std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t now_ms);

// ---- Backfill planning -----------------------------------------------------------------------

struct Page {
  std::int64_t start_ms, end_ms;  // inclusive open times, minute aligned
};

// Pages of open times still missing after the newest stored bar, oldest first:
//   last  = the last CLOSED minute, floor(now_ms / 60 000) * 60 000 - 60 000;
//   first = latest_ms + 60 000, or, with nothing stored, last - (initial_minutes - 1) * 60 000
//           (exactly initial_minutes closed minutes), never before 60 000 (open times are > 0);
//   [first, last] is cut into consecutive pages of page_size minutes, the last one possibly
//   shorter. Empty when first > last (up to date, or latest_ms is in the future).
// Throws InvalidParameter for a latest_ms that is not a positive multiple of 60 000,
// page_size < 1, initial_minutes < 1, or a plan of more than kMaxPlanPages pages (hint: use a
// larger page size).
std::vector<Page> plan_pages(std::optional<std::int64_t> latest_ms, std::int64_t now_ms,
                             int page_size, int initial_minutes);

}  // namespace cml::exchange
