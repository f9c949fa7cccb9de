// See market.hpp.
#include "node.hpp"
#include "market.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "config.hpp"

#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"

namespace cml {
namespace pg {
namespace {

template <typename T>
T* alloc_array(size_t n) {  // C++ side: throws bad_alloc instead of raising an ERROR
  void* p = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(T) * (n > 0 ? n : 1), MCXT_ALLOC_NO_OOM);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<T*>(p);
}

char* text_of(Timestamp ts) { return DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(ts))); }

}  // namespace

PgBars read_bars(const char* schema, const char* symbol, Timestamp after, Timestamp upto) {
  char* sql = psprintf("SELECT timestamp, open, high, low, close, volume "
                       "FROM %s.rollingchartdata WHERE symbol = $1 AND timestamp > $2 AND timestamp <= $3 ORDER BY timestamp",
                       schema);
  Oid types[3] = {TEXTOID, TIMESTAMPOID, TIMESTAMPOID};
  Datum values[3] = {CStringGetTextDatum(symbol), TimestampGetDatum(after), TimestampGetDatum(upto)};
  return query_bars(sql, 3, types, values, symbol);
}

PgBars query_bars(const char* sql, int nargs, Oid* types, Datum* values, const char* symbol) {
  if (SPI_execute_with_args(sql, nargs, types, values, nullptr, true, 0) != SPI_OK_SELECT)
    elog(ERROR, "cryptoml: reading the bars of %s failed", symbol);
  PgBars b;
  b.symbol = pstrdup(symbol);
  b.n = (int)SPI_processed;
  size_t rows = (size_t)Max(b.n, 1);
  b.stamp = (Timestamp*)palloc(sizeof(Timestamp) * rows);
  b.ts = (int64*)palloc(sizeof(int64) * rows);
  double** cols[5] = {&b.open, &b.high, &b.low, &b.close, &b.volume};
  for (double** c : cols) *c = (double*)palloc(sizeof(double) * rows);
  // numeric columns are converted here by numeric_value, the same double as ::float8 (numeric_float8)
  // without its detour through text (most of the cost of reading bars)
  bool numeric[5];
  for (int k = 0; k < 5; k++) numeric[k] = SPI_gettypeid(SPI_tuptable->tupdesc, 2 + k) == NUMERICOID;
  for (int i = 0; i < b.n; i++) {
    HeapTuple row = SPI_tuptable->vals[i];
    bool isnull;
    b.stamp[i] = DatumGetTimestamp(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
    b.ts[i] = minute_of(b.stamp[i]);
    for (int k = 0; k < 5; k++) {
      Datum d = SPI_getbinval(row, SPI_tuptable->tupdesc, 2 + k, &isnull);
      (*cols[k])[i] = isnull ? NAN : numeric[k] ? numeric_value(d) : DatumGetFloat8(d);
    }
  }
  SPI_freetuptable(SPI_tuptable);
  return b;
}

PgMarket market_of(int feature_set, const cml::MarketNames& names) {
  PgMarket m;
  m.feature_set = feature_set;
  m.n_leaders = (int)names.leaders.size();
  m.n_members = (int)names.index_members.size();
  m.leaders = alloc_array<char*>(names.leaders.size());
  m.members = alloc_array<char*>(names.index_members.size());
  for (size_t i = 0; i < names.leaders.size(); i++) m.leaders[i] = pstrdup_nothrow(names.leaders[i]);
  for (size_t i = 0; i < names.index_members.size(); i++) m.members[i] = pstrdup_nothrow(names.index_members[i]);
  m.names_json = pstrdup_nothrow(feature_set == 2 ? cml::market_names_json(names).dump() : std::string("null"));
  return m;
}

PgMarket config_market(int feature_set) {
  char* config = config_json_text();
  const bool cluster_node = node_role("") != NodeRole::Standalone;
  PgMarket m;
  guarded("features", [&] {
    const json tree = json::parse(config);
    const int fs = feature_set > 0 ? feature_set : cml::config_feature_set(tree);
    m = market_of(fs, fs == 2 ? cml::config_market_names(tree, cluster_node) : cml::MarketNames{});
  });
  return m;
}

cml::MarketNames names_of(const PgMarket& m) {
  cml::MarketNames n;
  n.leaders.assign(m.leaders, m.leaders + m.n_leaders);
  n.index_members.assign(m.members, m.members + m.n_members);
  return n;
}

cml::BarSeries series_of(const PgBars& b, int from, int to) {
  if (to < 0) to = b.n;
  cml::BarSeries s;
  s.ts.assign(b.ts + from, b.ts + to);
  s.open.assign(b.open + from, b.open + to);
  s.high.assign(b.high + from, b.high + to);
  s.low.assign(b.low + from, b.low + to);
  s.close.assign(b.close + from, b.close + to);
  s.volume.assign(b.volume + from, b.volume + to);
  return s;
}

int read_context_bars(const char* schema, const char* symbol, const PgMarket& m, int64 first_minute, const char* whose, PgBars** out) {
  char** names = nullptr;
  int n = 0;
  guarded("features", [&] {
    const std::vector<std::string> others = cml::context_symbols(names_of(m), symbol);
    names = alloc_array<char*>(others.size());
    for (const std::string& s : others) names[n++] = pstrdup_nothrow(s);
  });
  *out = (PgBars*)palloc(sizeof(PgBars) * Max(n, 1));
  const Timestamp from = (first_minute - 1 - cml::kV2OtherMinutes) * INT64CONST(60000000);
  for (int i = 0; i < n; i++) {
    CHECK_FOR_INTERRUPTS();
    (*out)[i] = read_bars(schema, names[i], from - 1, DT_NOEND);
    if ((*out)[i].n > 0) continue;
    // none since then: pending (a later bar may still come), or none at all (an input that cannot arrive in order)
    char* any = psprintf("SELECT 1 FROM %s.rollingchartdata WHERE symbol = $1 LIMIT 1", schema);
    Oid t1[1] = {TEXTOID};
    Datum v1[1] = {CStringGetTextDatum(names[i])};
    if (SPI_execute_with_args(any, 1, t1, v1, nullptr, true, 1) != SPI_OK_SELECT) elog(ERROR, "cryptoml: SPI failed");
    if (SPI_processed == 0) {
      bool leader = false;
      for (int k = 0; k < m.n_leaders; k++) leader |= strcmp(m.leaders[k], names[i]) == 0;
      ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
                      errmsg("feature set 2 of %s reads the bars of %s (%s), which has no bars at all", symbol, names[i],
                             leader ? "a cross-market leader" : "an index member"),
                      errdetail("rule: feature set 2 needs bars of every leader and index member of %s (leaders %s)", whose,
                                m.names_json),
                      errhint("Load the candles of %s into rollingChartData, or change features.crossMarketSymbols / symbols "
                              "(ml_config_set) and build the samples of set 2 again.", names[i])));
    }
  }
  return n;
}

cml::MarketContext context_of(const char* symbol, const PgMarket& m, const PgBars* others, int n_others) {
  cml::MarketContext c;
  c.symbol = symbol;
  const cml::MarketNames names = names_of(m);
  c.leaders = names.leaders;
  c.index_members = names.index_members;
  for (int i = 0; i < n_others; i++) c.bars.emplace(others[i].symbol, series_of(others[i]));
  return c;
}

void raise_pending(const char* symbol, Timestamp bar, const char* pending) {
  ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                  errmsg("the feature set 2 features of %s at %s are pending: the bar of %s for the minute before may still arrive",
                         symbol, text_of(bar), pending),
                  errdetail("rule: a row's cross-market features read the other symbols' bars up to the minute before it; "
                            "they are final once every leader and index member has a bar at or after %s",
                            text_of(bar - INT64CONST(60000000))),
                  errhint("Retry once that bar has arrived; a minute with no bar counts as a gap as soon as a later bar of that symbol arrives.")));
}

}  // namespace pg
}  // namespace cml
