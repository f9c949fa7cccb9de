// Exchange ingestion (issue 8): ml_ingest_klines, and the cycle of the "cryptoml ingest" worker that
// polls the exchanges' public candle endpoints over HTTP (libcurl).
//
// The worker (one per database of cryptoml.database_name, started by the launcher like the
// forecaster) does nothing while ingest.enabled is false: no request leaves the server without
// consent. When on, every ingest.pollInterval seconds, for each configured symbol:
//   - the exchange is the symbol's active one (cryptoml_internal.ingest_state), at first
//     ingest.primaryExchange[symbol] or the first of `exchanges`;
//   - the pages to fetch are the closed minutes after the newest stored bar (or the last
//     ingest.initialBackfillMinutes when none), in pages of min(data.backfillBatchSize, the
//     exchange's maximum), and, every 10 poll intervals, the holes between stored bars of that
//     window;
//   - each request waits for the exchange's token bucket (ingest.rateLimits, requests per second,
//     burst 1) and for any backoff; a failure (timeout, HTTP 429/5xx, an error body, a payload
//     that fails validation) is counted and logged without the response body, and retried after
//     an exponential backoff with jitter (a Retry-After is a floor); after ingest.failoverAfter
//     consecutive failures the symbol moves to the next exchange of `exchanges`.
// Bars are stored through cryptoml_internal.store_klines (the indicator trigger, idempotent
// upserts), one transaction per page.
//
// Seams. No C++ object with a destructor lives in a frame that calls PostgreSQL: the C++ work
// (config parsing, URL building, parsing responses) runs in noexcept helpers that catch
// everything and return plain data (palloc'd with the no-throw allocator, or fixed buffers).
// libcurl's callbacks call no PostgreSQL function (the body goes to a malloc'd buffer); they only
// read the interrupt flags to abort a transfer when the worker is asked to stop.
#include <curl/curl.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "exchange.hpp"

#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "pg.hpp"
#include "workers.hpp"

extern "C" {
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

PG_FUNCTION_INFO_V1(cml_ingest_klines);
}

namespace {

using json = nlohmann::json;
namespace ex = cml::exchange;

constexpr int kExchanges = 3;
constexpr int kMaxSymbols = 2000;  // the config rule's maximum of symbols
constexpr int kMaxPagesPerSymbol = 100;  // per cycle: a long backfill continues in the next cycle
constexpr int kMaxHoles = 50;
constexpr int64 kUnixEpochOffsetMs = (int64)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;

int64 now_ms() { return GetCurrentTimestamp() / 1000 + kUnixEpochOffsetMs; }

// ---- parsing a response into packed candles (C++ side) -------------------------------------------

// Closed candles of a payload, packed as NUL-terminated strings: per candle the open time (ms)
// and the open, high, low, close and volume text. palloc'd in the caller's context.
struct Packed {
  char* data;
  int count;
  int received, not_closed, duplicates;
  bool reordered;
};

// C++ only; throws what parse_klines throws, and DataError when a bybit payload names another
// symbol than the one asked for.
void parse_and_pack(ex::Exchange e, const std::string& body, const ex::ParseOptions& o, const std::string& product,
                    Packed* out) {
  ex::ParseResult r = ex::parse_klines(e, body, o);
  if (!r.product.empty() && r.product != product)
    throw cml::DataError(ex::exchange_name(e) + " payload is for symbol \"" + r.product.substr(0, 40) + "\", not \"" +
                             product + "\"",
                         "rule: the payload's result.symbol is the product the symbol maps to");
  std::string buf;
  buf.reserve(r.candles.size() * 80);
  for (const ex::Candle& c : r.candles) {
    buf += std::to_string(c.open_time_ms);
    buf.push_back('\0');
    for (const std::string* s : {&c.open_s, &c.high_s, &c.low_s, &c.close_s, &c.volume_s}) {
      buf += *s;
      buf.push_back('\0');
    }
  }
  out->data = cml::pg::pstrdup_nothrow(buf);
  out->count = static_cast<int>(r.candles.size());
  out->received = static_cast<int>(r.received);
  out->not_closed = static_cast<int>(r.not_closed);
  out->duplicates = static_cast<int>(r.duplicates);
  out->reordered = r.reordered;
}

// Stores packed candles with cryptoml_internal.store_klines; the caller is connected to SPI.
// Returns the bars inserted or changed.
int store_packed(const char* exchange, const char* symbol, const Packed* p) {
  const int n = p->count;
  Datum* ms = (Datum*)palloc(sizeof(Datum) * Max(n, 1));
  Datum* f[5];
  for (int k = 0; k < 5; k++) f[k] = (Datum*)palloc(sizeof(Datum) * Max(n, 1));
  const char* s = p->data;
  for (int i = 0; i < n; i++) {
    ms[i] = Int64GetDatum(strtoll(s, nullptr, 10));
    s += strlen(s) + 1;
    for (int k = 0; k < 5; k++) {
      f[k][i] = CStringGetTextDatum(s);
      s += strlen(s) + 1;
    }
  }
  Oid types[8] = {TEXTOID, TEXTOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
  Datum values[8];
  values[0] = CStringGetTextDatum(exchange);
  values[1] = CStringGetTextDatum(symbol);
  values[2] = PointerGetDatum(construct_array(ms, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  for (int k = 0; k < 5; k++) values[3 + k] = PointerGetDatum(construct_array(f[k], n, TEXTOID, -1, false, TYPALIGN_INT));
  if (SPI_execute_with_args("SELECT cryptoml_internal.store_klines($1, $2, $3, $4, $5, $6, $7, $8)", 8, types, values, nullptr,
                            false, 1) != SPI_OK_SELECT || SPI_processed != 1)
    elog(ERROR, "cryptoml: storing candles failed");
  bool isnull;
  return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

}  // namespace

// ml_ingest_klines(exchange, symbol, payload jsonb) -> bars inserted or changed.
Datum cml_ingest_klines(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("exchange, symbol and payload must not be NULL")));
  char* exchange = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* symbol = cml::pg::symbol_arg(PG_GETARG_TEXT_PP(1));
  Jsonb* jb = PG_GETARG_JSONB_P(2);
  if (!cml::pg::config_symbol_allowed(symbol))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown symbol \"%s\"", symbol),
                    errdetail("rule: ml_ingest_klines stores the configured symbols: %s", cml::pg::config_symbols_text()),
                    errhint("Add it with ml_config_set('symbols', ...), or set data.rejectUnknownSymbols to false.")));
  const char* cfg_text = cml::pg::config_json_text();
  // The payload as text: its size is checked against ingest.maxPayloadBytes before parsing.
  char* body = JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
  const int64 now = now_ms();
  Packed p;
  memset(&p, 0, sizeof p);
  cml::pg::GuardFailure failure;
  bool failed = false;
  try {
    const json cfg = json::parse(cfg_text);
    const ex::Exchange e = ex::parse_exchange(exchange);
    bool listed = false;
    for (const json& x : cfg.at("exchanges")) listed |= x.get<std::string>() == exchange;
    if (!listed)
      throw cml::InvalidParameter("exchange \"" + std::string(exchange) + "\" is not in the configured exchanges " +
                                      cfg.at("exchanges").dump(),
                                  "rule: ml_ingest_klines accepts the exchanges of the configuration key exchanges",
                                  "Add it with ml_config_set('exchanges', ...).");
    ex::ParseOptions o;
    o.now_ms = now;
    o.future_tolerance_ms = cfg.at("data").at("futureToleranceSeconds").get<int64_t>() * 1000;
    o.max_bytes = cfg.at("ingest").at("maxPayloadBytes").get<std::size_t>();
    const std::string product = ex::product_for(e, symbol, cfg.at("ingest").at("symbolMap").at(exchange));
    parse_and_pack(e, body, o, product, &p);
  } catch (...) {
    failed = true;
    cml::pg::classify_current_exception(failure);
  }
  if (failed) {
    // Logged (without the payload) before the error: the entry survives the rollback.
    // The arguments are the caller's: clipped to what the log's columns hold.
    cml::pg::log_write(cml::LogLevel::warning, "ingest", "ml_ingest_klines",
                       psprintf("ml_ingest_klines rejected a %.40s payload for %.40s: %s", exchange, symbol, failure.message),
                       psprintf("{\"payload_bytes\": %zu}", strlen(body)), strlen(symbol) <= 20 ? symbol : nullptr, nullptr);
    cml::pg::raise_failure("ml_ingest_klines", failure);
  }
  // Storing goes through the indicator trigger, which can still refuse a bar (an archived day, an
  // indicator that does not fit its column: SQLSTATE 22003). Such a refusal is logged like the
  // parser's, then raised unchanged; nothing of the payload is stored.
  MemoryContext caller = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  ErrorData* volatile refused = nullptr;
  volatile int n = 0;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(caller);
  PG_TRY();
  {
    SPI_connect();
    n = store_packed(exchange, symbol, &p);
    SPI_finish();
    ReleaseCurrentSubTransaction();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller);
    refused = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
  }
  PG_END_TRY();
  MemoryContextSwitchTo(caller);
  CurrentResourceOwner = owner;
  if (refused != nullptr) {
    cml::pg::log_write(cml::LogLevel::warning, "ingest", "ml_ingest_klines",
                       psprintf("ml_ingest_klines could not store a %.40s payload for %s (SQLSTATE %s): %s", exchange, symbol,
                                unpack_sql_state(refused->sqlerrcode), refused->message),
                       psprintf("{\"payload_bytes\": %zu}", strlen(body)), symbol, nullptr);
    ReThrowError(refused);
  }
  PG_RETURN_INT32(n);
}

// ---- the ingest worker ---------------------------------------------------------------------------

namespace {

// What one cycle needs of the configuration, copied out of the JSON (plain data).
struct ExchangeSettings {
  bool listed;                          // in `exchanges`
  char base[256];                       // ingest.baseUrls.<name>
  double rate;                          // ingest.rateLimits.<name>, requests per second
  char product[kMaxSymbols][40];        // per symbol; "" when it has no mapping on this exchange
  char mapping_error[kMaxSymbols][160]; // why not
};
struct IngestSettings {
  bool enabled;
  int poll, initial_minutes, failover_after, timeout_ms, page_size_cap, tolerance_s;
  int64 backoff_base, backoff_max, max_bytes;
  int norder;
  int order[kExchanges];                // `exchanges`, as exchange indexes in configured order
  ExchangeSettings ex[kExchanges];
  int nsymbols;
  char symbol[kMaxSymbols][24];
  int primary[kMaxSymbols];             // exchange index
};

const char* const kNames[kExchanges] = {"binance-us", "coinbase", "bybit"};

int exchange_index(const char* name) {
  for (int i = 0; i < kExchanges; i++)
    if (strcmp(name, kNames[i]) == 0) return i;
  return -1;
}

ex::Exchange exchange_of(int i) {
  return i == 0 ? ex::Exchange::BinanceUs : i == 1 ? ex::Exchange::Coinbase : ex::Exchange::Bybit;
}

// Fills s from the effective configuration, for the served symbols (a JSON array; null: the
// configured ones); false (with err) when it cannot be read.
bool read_settings(const char* cfg_text, const char* served_text, IngestSettings* s, char* err, size_t errlen) noexcept {
  try {
    memset(s, 0, sizeof *s);
    const json cfg = json::parse(cfg_text);
    const json& in = cfg.at("ingest");
    s->enabled = in.at("enabled").get<bool>();
    s->poll = in.at("pollInterval").get<int>();
    s->initial_minutes = in.at("initialBackfillMinutes").get<int>();
    s->failover_after = in.at("failoverAfter").get<int>();
    s->timeout_ms = in.at("timeoutMs").get<int>();
    s->backoff_base = in.at("backoffBaseMs").get<int64_t>();
    s->backoff_max = in.at("backoffMaxMs").get<int64_t>();
    s->max_bytes = in.at("maxPayloadBytes").get<int64_t>();
    s->page_size_cap = cfg.at("data").at("backfillBatchSize").get<int>();
    s->tolerance_s = cfg.at("data").at("futureToleranceSeconds").get<int>();
    for (const json& x : cfg.at("exchanges")) {
      const int i = exchange_index(x.get<std::string>().c_str());
      if (i >= 0 && s->norder < kExchanges) {
        s->order[s->norder++] = i;
        s->ex[i].listed = true;
      }
    }
    const json served = served_text != nullptr ? json::parse(served_text) : cfg.at("symbols");
    for (const json& x : served) {
      if (s->nsymbols == kMaxSymbols) break;
      strlcpy(s->symbol[s->nsymbols++], x.get<std::string>().c_str(), sizeof s->symbol[0]);
    }
    for (int i = 0; i < kExchanges; i++) {
      ExchangeSettings& e = s->ex[i];
      strlcpy(e.base, in.at("baseUrls").at(kNames[i]).get<std::string>().c_str(), sizeof e.base);
      e.rate = in.at("rateLimits").at(kNames[i]).get<double>();
      const json& map = in.at("symbolMap").at(kNames[i]);
      for (int k = 0; k < s->nsymbols; k++) {
        try {
          strlcpy(e.product[k], ex::product_for(exchange_of(i), s->symbol[k], map).c_str(), sizeof e.product[0]);
        } catch (const std::exception& x) {
          e.product[k][0] = '\0';
          strlcpy(e.mapping_error[k], x.what(), sizeof e.mapping_error[0]);
        }
      }
    }
    const json& primary = in.at("primaryExchange");
    for (int k = 0; k < s->nsymbols; k++) {
      s->primary[k] = s->norder > 0 ? s->order[0] : 0;
      if (primary.contains(s->symbol[k])) s->primary[k] = exchange_index(primary.at(s->symbol[k]).get<std::string>().c_str());
    }
    return true;
  } catch (const std::exception& x) {
    snprintf(err, errlen, "reading the ingest configuration: %s", x.what());
    return false;
  }
}

// Rate limiting and backoff state of this worker, per exchange (lives as long as the process; the
// buckets are trivially destructible and never freed).
ex::TokenBucket* g_bucket[kExchanges];
double g_bucket_rate[kExchanges];
int64 g_blocked_until[kExchanges];  // ms: no request to the exchange before this (backoff, Retry-After)
bool g_curl_ready = false;
const char* g_schema = nullptr;  // the extension's schema, quoted, for this cycle

// ms until a request to exchange i may go (0: go now, and the token is taken).
int64 request_wait(int i, double rate) noexcept {
  try {
    if (g_bucket[i] == nullptr || g_bucket_rate[i] != rate) {
      g_bucket[i] = new ex::TokenBucket(rate, 1.0);  // replaced when the rate changes (the old one is small; leaked)
      g_bucket_rate[i] = rate;
    }
    const int64 t = now_ms();
    if (g_blocked_until[i] > t) return g_blocked_until[i] - t;
    return g_bucket[i]->try_take(t);
  } catch (...) {
    return 1000;
  }
}

// Waits ms milliseconds, answering interrupts (a stop request ends the worker here).
void sleep_ms(int64 ms) {
  while (ms > 0) {
    const long chunk = (long)Min(ms, (int64)1000);
    const int64 start = now_ms();
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, chunk, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    ms -= Max(now_ms() - start, (int64)1);
  }
}

// One HTTP GET. The body is malloc'd (free with free()); no PostgreSQL call happens in here.
struct HttpResult {
  long status;
  bool transport_failed;  // no HTTP answer: timeout, connection refused, ...
  bool too_large;
  char error[CURL_ERROR_SIZE + 64];
  char retry_after[64];
  char* body;
  size_t len;
  size_t max_bytes;
};

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  HttpResult* r = static_cast<HttpResult*>(user);
  const size_t n = size * nmemb;
  if (r->len + n > r->max_bytes) {
    r->too_large = true;
    return 0;  // aborts the transfer
  }
  char* grown = static_cast<char*>(realloc(r->body, r->len + n + 1));
  if (grown == nullptr) return 0;
  r->body = grown;
  memcpy(r->body + r->len, data, n);
  r->len += n;
  r->body[r->len] = '\0';
  return n;
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  HttpResult* r = static_cast<HttpResult*>(user);
  const size_t n = size * nmemb;
  const char* key = "retry-after:";
  if (n > strlen(key) && strncasecmp(data, key, strlen(key)) == 0) {
    size_t i = strlen(key);
    while (i < n && (data[i] == ' ' || data[i] == '\t')) i++;
    size_t j = n;
    while (j > i && (data[j - 1] == '\r' || data[j - 1] == '\n' || data[j - 1] == ' ')) j--;
    const size_t len = Min(j - i, sizeof r->retry_after - 1);
    memcpy(r->retry_after, data + i, len);
    r->retry_after[len] = '\0';
  }
  return n;
}

int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return (InterruptPending && (ProcDiePending || QueryCancelPending)) ? 1 : 0;  // 1 aborts the transfer
}

void http_get(const char* url, int timeout_ms, size_t max_bytes, HttpResult* r) {
  memset(r, 0, sizeof *r);
  r->max_bytes = max_bytes;
  CURL* c = curl_easy_init();
  if (c == nullptr) {
    r->transport_failed = true;
    strlcpy(r->error, "libcurl could not create a handle", sizeof r->error);
    return;
  }
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cryptoml-ingest");
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  if (rc != CURLE_OK) {
    r->transport_failed = !r->too_large;
    if (rc == CURLE_OPERATION_TIMEDOUT)
      snprintf(r->error, sizeof r->error, "timed out after %d ms", timeout_ms);
    else if (r->too_large)
      snprintf(r->error, sizeof r->error, "response larger than ingest.maxPayloadBytes (%zu bytes)", max_bytes);
    else
      snprintf(r->error, sizeof r->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
  }
  curl_easy_cleanup(c);
}

// The page URL (C++; "" with err on failure).
bool page_url(int i, const char* base, const char* product, int64 start, int64 end, int limit, char* out, size_t outlen,
              char* err, size_t errlen) noexcept {
  try {
    strlcpy(out, ex::klines_url(exchange_of(i), base, product, start, end, limit).c_str(), outlen);
    return true;
  } catch (const std::exception& x) {
    snprintf(err, errlen, "%s", x.what());
    return false;
  }
}

// Parses a 200 response (C++). kind: 0 ok, 1 an error body of the exchange, 2 invalid payload.
int parse_response(int i, const char* body, size_t len, const IngestSettings& s, const char* product, Packed* out,
                   char* err, size_t errlen) noexcept {
  try {
    ex::ParseOptions o;
    o.now_ms = now_ms();
    o.future_tolerance_ms = (int64_t)s.tolerance_s * 1000;
    o.max_bytes = (std::size_t)s.max_bytes;
    parse_and_pack(exchange_of(i), std::string(body ? body : "", len), o, product, out);
    return 0;
  } catch (const ex::ApiError& x) {
    snprintf(err, errlen, "%s", x.what());
    return 1;
  } catch (const std::exception& x) {
    snprintf(err, errlen, "%s", x.what());
    return 2;
  }
}

int64 backoff_for(int attempt, const IngestSettings& s, const char* retry_after, uint64 seed) noexcept {
  try {
    std::optional<std::int64_t> ra;
    if (retry_after && retry_after[0]) ra = ex::parse_retry_after(retry_after, now_ms());
    return ex::backoff_ms(attempt, s.backoff_base, s.backoff_max, ra, seed);
  } catch (...) {
    return s.backoff_max;
  }
}

// Pages of [start, end] open times (ms) for a symbol: holes first, then the tail after the newest bar.
int plan_symbol_pages(bool have_latest, int64 latest, const int64* holes, int nholes, int page_size, int initial_minutes,
                      int64* starts, int64* ends, int max_pages) noexcept {
  try {
    int n = 0;
    for (int h = 0; h < nholes && n < max_pages; h++)
      for (int64 a = holes[2 * h]; a <= holes[2 * h + 1] && n < max_pages; a += (int64)page_size * ex::kMinuteMs) {
        starts[n] = a;
        ends[n] = Min(holes[2 * h + 1], a + (int64)(page_size - 1) * ex::kMinuteMs);
        n++;
      }
    std::optional<std::int64_t> l;
    if (have_latest) l = latest;
    for (const ex::Page& p : ex::plan_pages(l, now_ms(), page_size, initial_minutes)) {
      if (n == max_pages) break;
      starts[n] = p.start_ms;
      ends[n] = p.end_ms;
      n++;
    }
    return n;
  } catch (...) {
    return 0;
  }
}

// Runs sql in a transaction of its own; false (and the error recorded as the worker's) on failure.
bool run_tx(int slot, const char* sql, int nargs, Oid* types, Datum* values, const char* nulls, int64* result) {
  cml::pg::WorkerStatement st{sql, nargs, types, values, nulls, result};
  char* error = cml::pg::worker_transaction(cml::pg::worker_statement, &st);
  if (error != nullptr) cml::pg::worker_record_error(slot, error);
  return error == nullptr;
}

// Records one failed request: counts it, logs it (no response body) and returns the consecutive failures.
int64 record_failure(int slot, const char* symbol, int i, const char* message, long status, int attempt, const char* url) {
  // The URL holds the public product and time range only (no credential is ever configured);
  // logged without its host so that logs stay readable.
  const char* path = strstr(url, "://");
  path = path ? strchr(path + 3, '/') : nullptr;
  char* ctx = psprintf("{\"status\": %ld, \"attempt\": %d, \"request\": \"%s\"}", status, attempt, path ? path : "");
  Oid t[6] = {TEXTOID, TEXTOID, BOOLOID, TEXTOID, TEXTOID, TEXTOID};
  Datum v[6] = {CStringGetTextDatum(symbol), CStringGetTextDatum(kNames[i]), BoolGetDatum(true), CStringGetTextDatum(message),
                CStringGetTextDatum(ctx), CStringGetTextDatum(psprintf("%s %s: %s", kNames[i], symbol, message))};
  int64 n = 0;
  (void)run_tx(slot,
               psprintf("SELECT cryptoml_internal.ingest_attempt($1, $2, $3, $4) "
                        "FROM (SELECT %s.ml_log('warning', 'ingest', $2, $6, $5::jsonb, $1)) l",
                        g_schema),
               6, t, v, nullptr, &n);
  cml::pg::worker_record_error(slot, psprintf("%s %s: %s", kNames[i], symbol, message));
  return n;
}

// The next listed exchange after i that maps the symbol (i itself when there is none).
int next_exchange(const IngestSettings& s, int i, int k) {
  int pos = 0;
  for (int j = 0; j < s.norder; j++)
    if (s.order[j] == i) pos = j;
  for (int step = 1; step <= s.norder; step++) {
    const int cand = s.order[(pos + step) % s.norder];
    if (s.ex[cand].product[k][0] != '\0') return cand;
  }
  return i;
}

enum PageOutcome { kPageStored, kPageFailed, kFailedOver };

// Stores a parsed page and records the successful request (worker_transaction's body).
struct StorePage {
  const char* exchange;
  const char* symbol;
  const Packed* packed;
};
void store_page(void* arg) {
  StorePage* sp = static_cast<StorePage*>(arg);
  (void)store_packed(sp->exchange, sp->symbol, sp->packed);
  Oid t[2] = {TEXTOID, TEXTOID};
  Datum v[2] = {CStringGetTextDatum(sp->symbol), CStringGetTextDatum(sp->exchange)};
  if (SPI_execute_with_args("SELECT cryptoml_internal.ingest_attempt($1, $2, false, NULL)", 2, t, v, nullptr, false, 0) < 0)
    elog(ERROR, "cryptoml ingest: recording the request failed");
}

// Fetches and stores one page, retrying with backoff; at failover_after consecutive failures the
// symbol moves to the next exchange.
PageOutcome ingest_page(int slot, const IngestSettings& s, int k, int i, int64 start, int64 end, uint64 seed) {
  const char* symbol = s.symbol[k];
  const int limit = (int)((end - start) / ex::kMinuteMs + 1);
  char url[1024], err[512];
  if (!page_url(i, s.ex[i].base, s.ex[i].product[k], start, end, limit, url, sizeof url, err, sizeof err)) {
    cml::pg::worker_record_error(slot, psprintf("%s %s: %s", kNames[i], symbol, err));
    return kPageFailed;
  }
  for (int attempt = 1;; attempt++) {
    for (int64 w; (w = request_wait(i, s.ex[i].rate)) > 0;) sleep_ms(w);
    HttpResult r;
    pgstat_report_activity(STATE_RUNNING, url);
    http_get(url, s.timeout_ms, (size_t)s.max_bytes, &r);
    pgstat_report_activity(STATE_IDLE, nullptr);
    // The next request to this exchange starts at least 1/rate after this one ended, so the
    // exchange sees them spaced by 1/rate even when their transit times differ.
    g_blocked_until[i] = Max(g_blocked_until[i], now_ms() + (int64)std::ceil(1000.0 / s.ex[i].rate));
    CHECK_FOR_INTERRUPTS();
    char* message = nullptr;
    bool retriable = true;
    Packed p;
    memset(&p, 0, sizeof p);
    if (r.transport_failed || r.too_large) {
      message = pstrdup(r.error);
    } else if (r.status == 429 || r.status == 418 || r.status == 403 || r.status >= 500) {  // 403: bybit's "access too frequent"
      message = psprintf("HTTP %ld%s%s", r.status, r.retry_after[0] ? ", Retry-After " : "", r.retry_after);
    } else {
      char perr[512];
      const int kind = parse_response(i, r.body, r.len, s, s.ex[i].product[k], &p, perr, sizeof perr);
      if (kind == 1) {
        message = psprintf("HTTP %ld, the exchange says: %s", r.status, perr);
        retriable = false;  // e.g. the symbol is not listed there: the next exchange may have it
      } else if (kind == 2) {
        message = psprintf("HTTP %ld, payload rejected: %s", r.status, perr);
      } else if (r.status != 200) {
        message = psprintf("HTTP %ld", r.status);
      }
    }
    const long status = r.status;
    char retry_after[64];
    strlcpy(retry_after, r.retry_after, sizeof retry_after);
    free(r.body);
    if (message == nullptr) {
      StorePage sp{kNames[i], symbol, &p};
      char* error = cml::pg::worker_transaction(store_page, &sp);
      if (error == nullptr) return kPageStored;
      message = psprintf("storing the candles failed: %s", error);
      retriable = false;
    }
    const int64 failures = record_failure(slot, symbol, i, message, status, attempt, url);
    if (failures >= s.failover_after) {
      const int next = next_exchange(s, i, k);
      if (next != i) {
        Oid t[3] = {TEXTOID, TEXTOID, TEXTOID};
        char* note = psprintf("%s: switching from %s to %s after %lld consecutive failed requests", symbol, kNames[i], kNames[next],
                              (long long)failures);
        Datum v[3] = {CStringGetTextDatum(symbol), CStringGetTextDatum(kNames[next]), CStringGetTextDatum(note)};
        (void)run_tx(slot,
                     psprintf("SELECT cryptoml_internal.ingest_use($1, $2), %s.ml_log('warning', 'ingest', 'failover', $3, NULL, $1)",
                              g_schema),
                     3, t, v, nullptr, nullptr);
        return kFailedOver;
      }
      return kPageFailed;  // no other exchange: try again next cycle
    }
    if (!retriable) return kPageFailed;
    g_blocked_until[i] = Max(g_blocked_until[i], now_ms() + backoff_for(attempt, s, retry_after, seed + (uint64)attempt));
  }
}

// What a cycle reads of one symbol (worker_transaction's body fills it).
struct SymbolState {
  const char* symbol;
  const char* schema;
  int64 hole_every_s;
  int initial_minutes;
  bool have_latest, holes_due;
  int64 latest;   // open time (ms) of the newest stored bar
  int active;     // exchange index, -1: none yet
  int nholes;
  int64* holes;   // [start, end] open times (ms), kMaxHoles pairs, allocated by the caller
};

void read_symbol_state(void* arg) {
  SymbolState* st = static_cast<SymbolState*>(arg);
  Oid t[2] = {TEXTOID, INT8OID};
  Datum v[2] = {CStringGetTextDatum(st->symbol), Int64GetDatum(st->hole_every_s)};
  if (SPI_execute_with_args(
          psprintf("SELECT (extract(epoch FROM (SELECT max(r.timestamp) FROM %s.rollingchartdata r WHERE r.symbol = $1)) * 1000)::int8, "
                   "(SELECT i.exchange FROM cryptoml_internal.ingest_state i WHERE i.symbol = $1 AND i.is_active), "
                   "coalesce((SELECT i.holes_checked_at < now() - make_interval(secs => $2) OR i.holes_checked_at IS NULL "
                   "FROM cryptoml_internal.ingest_state i WHERE i.symbol = $1 AND i.is_active), true)",
                   st->schema),
          2, t, v, nullptr, true, 1) != SPI_OK_SELECT ||
      SPI_processed != 1)
    elog(ERROR, "cryptoml ingest: reading the state of %s failed", st->symbol);
  bool isnull;
  Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  st->have_latest = !isnull;
  if (st->have_latest) st->latest = DatumGetInt64(d);
  char* a = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
  st->active = a ? exchange_index(a) : -1;
  d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
  st->holes_due = !isnull && DatumGetBool(d);
  if (!st->have_latest || !st->holes_due) return;
  Oid t2[2] = {TEXTOID, INT4OID};
  Datum v2[2] = {CStringGetTextDatum(st->symbol), Int32GetDatum(st->initial_minutes)};
  if (SPI_execute_with_args(
          "SELECT (extract(epoch FROM h.gap_start) * 1000)::int8, (extract(epoch FROM h.gap_end) * 1000)::int8 "
          "FROM cryptoml_internal.chart_holes($1, (now() AT TIME ZONE 'UTC')::timestamp - make_interval(mins => $2)) h",
          2, t2, v2, nullptr, true, kMaxHoles) != SPI_OK_SELECT)
    elog(ERROR, "cryptoml ingest: reading the holes of %s failed", st->symbol);
  for (uint64 j = 0; j < SPI_processed && st->nholes < kMaxHoles; j++) {
    bool n1, n2;
    st->holes[2 * st->nholes] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 1, &n1));
    st->holes[2 * st->nholes + 1] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 2, &n2));
    st->nholes++;
  }
}

// One symbol: its exchange, the pages to fetch, each fetched and stored.
void ingest_symbol(int slot, const IngestSettings& s, int k, const char* schema) {
  const char* symbol = s.symbol[k];
  SymbolState st;
  memset(&st, 0, sizeof st);
  st.symbol = symbol;
  st.schema = schema;
  st.active = -1;
  st.hole_every_s = (int64)s.poll * 10;
  st.initial_minutes = s.initial_minutes;
  st.holes = (int64*)palloc(sizeof(int64) * 2 * kMaxHoles);
  char* error = cml::pg::worker_transaction(read_symbol_state, &st);
  if (error != nullptr) {
    cml::pg::worker_record_error(slot, psprintf("%s: %s", symbol, error));
    return;
  }
  bool have_latest = st.have_latest;
  const bool holes_due = st.holes_due;
  int64 latest = st.latest;
  const int active = st.active, nholes = st.nholes;
  const int64* holes = st.holes;

  // A symbol whose newest bar is older than the backfill window is backfilled from the window's
  // start: older history is for ml_ingest_klines or a bulk load.
  if (have_latest && latest < now_ms() - (int64)s.initial_minutes * ex::kMinuteMs) have_latest = false;
  int i = active;
  if (i < 0 || !s.ex[i].listed) {
    i = s.primary[k];
    if (i < 0 || !s.ex[i].listed) i = s.norder > 0 ? s.order[0] : -1;
    if (i < 0) return;
    Oid t[2] = {TEXTOID, TEXTOID};
    Datum v[2] = {CStringGetTextDatum(symbol), CStringGetTextDatum(kNames[i])};
    if (!run_tx(slot, "SELECT cryptoml_internal.ingest_use($1, $2)", 2, t, v, nullptr, nullptr)) return;
  }
  if (s.ex[i].product[k][0] == '\0') {
    (void)record_failure(slot, symbol, i, s.ex[i].mapping_error[k], 0, 0, "");
    const int next = next_exchange(s, i, k);
    if (next != i) {
      Oid t[2] = {TEXTOID, TEXTOID};
      Datum v[2] = {CStringGetTextDatum(symbol), CStringGetTextDatum(kNames[next])};
      (void)run_tx(slot, "SELECT cryptoml_internal.ingest_use($1, $2)", 2, t, v, nullptr, nullptr);
    }
    return;
  }
  if (holes_due) {
    Oid t[2] = {TEXTOID, TEXTOID};
    Datum v[2] = {CStringGetTextDatum(symbol), CStringGetTextDatum(kNames[i])};
    (void)run_tx(slot, "UPDATE cryptoml_internal.ingest_state SET holes_checked_at = now() WHERE symbol = $1 AND exchange = $2", 2,
                 t, v, nullptr, nullptr);
  }
  const int page_size = Max(1, Min(s.page_size_cap, i == 1 ? 300 : 1000));
  int64* starts = (int64*)palloc(sizeof(int64) * kMaxPagesPerSymbol);
  int64* ends = (int64*)palloc(sizeof(int64) * kMaxPagesPerSymbol);
  const int npages = plan_symbol_pages(have_latest, latest, holes, nholes, page_size, s.initial_minutes, starts, ends,
                                       kMaxPagesPerSymbol);
  for (int p = 0; p < npages; p++) {
    CHECK_FOR_INTERRUPTS();
    const PageOutcome o = ingest_page(slot, s, k, i, starts[p], ends[p], (uint64)starts[p] ^ (uint64)k);
    if (o != kPageStored) return;  // failed (next cycle) or moved to another exchange (next cycle)
  }
}

}  // namespace

namespace cml {
namespace pg {

int ingest_cycle(int slot) {
  MemoryContext cycle = CurrentMemoryContext;
  const char* schema = nullptr;
  char* cfg_text = nullptr;
  char* served_text = nullptr;
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  SPI_connect();
  PushActiveSnapshot(GetTransactionSnapshot());
  schema = extension_schema();
  if (schema != nullptr) {
    schema = MemoryContextStrdup(cycle, schema);
    cfg_text = MemoryContextStrdup(cycle, config_json_text());
    // the symbols this database serves: on a cluster node only those it owns (0.9.0)
    if (SPI_execute("SELECT 1 WHERE to_regprocedure('cryptoml_internal.served_symbols()') IS NOT NULL", true, 1) == SPI_OK_SELECT &&
        SPI_processed == 1 &&
        SPI_execute("SELECT coalesce(jsonb_agg(s ORDER BY s), '[]')::text FROM cryptoml_internal.served_symbols() s", true, 1) ==
            SPI_OK_SELECT &&
        SPI_processed == 1)
      served_text = MemoryContextStrdup(cycle, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
  }
  SPI_finish();
  PopActiveSnapshot();
  CommitTransactionCommand();
  MemoryContextSwitchTo(cycle);
  if (schema == nullptr) {
    worker_set_state(slot, "waiting: extension not installed");
    return 10;
  }
  IngestSettings* s = (IngestSettings*)palloc(sizeof(IngestSettings));
  char err[512];
  if (!read_settings(cfg_text, served_text, s, err, sizeof err)) {
    worker_record_error(slot, err);
    return 10;
  }
  if (!s->enabled) {
    worker_set_state(slot, "idle: ingest.enabled is false");
    return 10;  // the configuration is read again in 10 s
  }
  if (!g_curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      worker_record_error(slot, "libcurl could not be initialized");
      return 60;
    }
    g_curl_ready = true;
  }
  worker_set_state(slot, "ingesting");
  g_schema = schema;
  for (int k = 0; k < s->nsymbols; k++) {
    CHECK_FOR_INTERRUPTS();
    ingest_symbol(slot, *s, k, schema);
  }
  return Max(s->poll, 1);
}

}  // namespace pg
}  // namespace cml
