// Feature set 2's inputs beside the symbol's own bars, read with SPI: the market names (leaders
// and index members) of the configuration or of a model, the other symbols' bars, and their turn
// into cml::BarSeries / cml::MarketContext (src/core/features_v2.hpp). Shared by ml_build_samples
// (samples.cpp), ml_forecast and latest_features (forecast.cpp).
//
// Plain data in PostgreSQL frames (palloc'd); the C++ objects are made inside guarded().
#pragma once

#include "feature_context.hpp"
#include "features_v2.hpp"
#include "pg.hpp"

namespace cml {
namespace pg {

// One symbol's bars in time order, palloc'd.
struct PgBars {
  const char* symbol;
  int n;
  Timestamp* stamp;  // the timestamps
  int64* ts;         // their minutes (minute_of): the time unit of the features
  double *open, *high, *low, *close, *volume;  // volume NaN when NULL
};

// A feature set and, for set 2, its market names, palloc'd.
struct PgMarket {
  int feature_set;
  int n_leaders;
  char** leaders;
  int n_members;
  char** members;
  char* names_json;  // {"index_members": [...], "leaders": [...]} (set 2), else "null"
};

// The bars of `symbol` with after < timestamp <= upto (DT_NOBEGIN / DT_NOEND: unbounded), in time
// order. Caller is connected to SPI; allocates in the current memory context.
PgBars read_bars(const char* schema, const char* symbol, Timestamp after, Timestamp upto);
// The same from any read-only query whose columns are timestamp, open, high, low, close, volume
// (float8, or numeric: converted as ::float8 would), ordered by timestamp (several ranges of one symbol, for example).
PgBars query_bars(const char* sql, int nargs, Oid* types, Datum* values, const char* symbol);

// features.featureSet, and for set 2 features.crossMarketSymbols and symbols of the effective
// configuration (or `feature_set` instead of features.featureSet when > 0). Call outside C++ regions.
PgMarket config_market(int feature_set = 0);

// C++ (inside guarded()): a palloc'd PgMarket of names (pstrdup_nothrow: throws bad_alloc).
PgMarket market_of(int feature_set, const cml::MarketNames& names);
// C++ (inside guarded()).
cml::MarketNames names_of(const PgMarket& m);
cml::BarSeries series_of(const PgBars& b, int from = 0, int to = -1);  // rows [from, to), to -1 = all

// The other symbols' bars a set-2 build of `symbol` needs for rows from minute `first_minute` on:
// every leader and index member but `symbol`, each with its bars from first_minute - 1 -
// kV2OtherMinutes on (no upper bound: pending_inputs sees each one's latest bar). Returns their
// count, the palloc'd array in *out. ERROR (no_data_found) naming the symbol when one has no bar at
// all: its bars could never arrive in order. `whose` says where the names come from, for the hint
// ("the configuration", "model xgb-...").
int read_context_bars(const char* schema, const char* symbol, const PgMarket& m, int64 first_minute, const char* whose,
                      PgBars** out);

// C++ (inside guarded()): the MarketContext of a set-2 build.
cml::MarketContext context_of(const char* symbol, const PgMarket& m, const PgBars* others, int n_others);

// ERROR (SQLSTATE 55000 object_not_in_prerequisite_state) for a set-2 row of `symbol` at `bar`
// whose inputs are pending: `pending` ("A, B") names the symbols whose bar of the minute before may
// still arrive. Call outside C++ regions.
void raise_pending(const char* symbol, Timestamp bar, const char* pending);

}  // namespace pg
}  // namespace cml
