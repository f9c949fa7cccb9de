// SQL face of the configuration: ml_config(), ml_config_get(), ml_config_set(), ml_config_reset(),
// ml_config_reset_all() and the key table behind ml_config_keys().
#include "config.hpp"
#include "options.hpp"

#include "config_access.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "owner.hpp"

extern "C" {
#include "utils/inval.h"
#include "utils/json.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "utils/syscache.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(ml_config);
PG_FUNCTION_INFO_V1(ml_config_get);
PG_FUNCTION_INFO_V1(ml_config_set);
PG_FUNCTION_INFO_V1(ml_config_reset);
PG_FUNCTION_INFO_V1(cml_config_key_table);
PG_FUNCTION_INFO_V1(cml_config_check);
}

namespace cml {
namespace pg {
namespace {

// The cache. The json object is created once and never destroyed (no static destructor).
json* g_effective = nullptr;
bool g_valid = false;
Oid g_config_relid = InvalidOid;
LogLevel g_log_level = LogLevel::info;
bool g_enable_recovery = true;
IndicatorParams g_indicator_params;
bool g_reject_unknown_symbols = true;
int g_future_tolerance = 120;
int g_backfill_batch = 1000;
constexpr int kMaxHorizons = 64;
int g_horizons[kMaxHorizons];
int g_nhorizons = 0;
InferenceSettings g_inference{true, 300, 60, 300, {}};
constexpr int kMaxSymbols = 2000;  // the config rule's maximum
char g_symbols[kMaxSymbols][24];   // sorted (strcmp) for config_symbol_allowed's binary search
int g_nsymbols = 0;
char g_symbols_text[kMaxSymbols * 24];

void config_inval_callback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == g_config_relid) g_valid = false;
}

Oid config_relid() {
  Oid nsp = get_namespace_oid("cryptoml_internal", true);
  Oid rel = OidIsValid(nsp) ? get_relname_relid("config", nsp) : InvalidOid;
  if (!OidIsValid(rel))
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("extension cryptoml is not installed in this database"),
                    errhint("Run CREATE EXTENSION cryptoml CASCADE.")));
  return rel;
}

// Stored overrides as a JSON object text {"path": value, ...}, palloc'd in the caller's context.
char* load_overrides(bool lock) {
  MemoryContext caller = CurrentMemoryContext;
  OwnerScope scope;  // any role may need the config (ml_log, the bar trigger): read it as its owner
  Form_pg_class cls = nullptr;
  HeapTuple reltup = SearchSysCache1(RELOID, ObjectIdGetDatum(g_config_relid));
  if (!HeapTupleIsValid(reltup)) elog(ERROR, "cryptoml: cache lookup failed for relation %u", g_config_relid);
  cls = (Form_pg_class)GETSTRUCT(reltup);
  Oid owner = cls->relowner;
  ReleaseSysCache(reltup);
  enter_owner(owner, &scope);
  SPI_connect();
  if (lock && SPI_execute("UPDATE cryptoml_internal.config_version SET version = version + 1 WHERE id = 1", false, 0) !=
                  SPI_OK_UPDATE)
    elog(ERROR, "cryptoml: could not serialize the configuration change");
  int rc = SPI_execute(
      "SELECT coalesce(jsonb_object_agg(path, value ORDER BY path), '{}'::jsonb)::text FROM cryptoml_internal.config",
      false, 1);  // not read-only: sees this statement's own config changes
  if (rc != SPI_OK_SELECT || SPI_processed != 1) elog(ERROR, "cryptoml: reading cryptoml_internal.config failed");
  char* value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
  MemoryContext spi = MemoryContextSwitchTo(caller);
  char* out = pstrdup(value);
  MemoryContextSwitchTo(spi);
  SPI_finish();
  leave_owner(&scope);
  return out;
}

void ensure_loaded() {
  if (g_valid) return;
  g_config_relid = config_relid();
  char* overrides = load_overrides(false);
  guarded("configuration", [&] {
    json tree;
    try {
      tree = Config::effective(json::parse(overrides));
    } catch (const InvalidParameter& e) {
      throw DataError(std::string("the stored configuration is invalid: ") + e.what(), e.detail(),
                      "Repair it with ml_config_reset(path) or ml_config_reset_all().");
    }
    if (g_effective == nullptr) g_effective = new json();
    *g_effective = std::move(tree);
    g_log_level = parse_log_level(Config::get(*g_effective, "system.logLevel").get<std::string>());
    g_enable_recovery = Config::get(*g_effective, "system.enableRecovery").get<bool>();
    const json& f = Config::get(*g_effective, "features");
    IndicatorParams p;
    p.rsi_period = f.at("rsiPeriod").get<int>();
    p.macd_fast = f.at("macdFast").get<int>();
    p.macd_slow = f.at("macdSlow").get<int>();
    p.macd_signal = f.at("macdSignal").get<int>();
    p.bb_period = f.at("bollingerPeriod").get<int>();
    p.bb_k = f.at("bollingerStdDev").get<double>();
    p.stoch_k = f.at("stochasticK").get<int>();
    p.stoch_d = f.at("stochasticD").get<int>();
    p.vol_window = f.at("volatilityWindow").get<int>();
    p.validate();
    g_indicator_params = p;
    g_reject_unknown_symbols = Config::get(*g_effective, "data.rejectUnknownSymbols").get<bool>();
    g_future_tolerance = Config::get(*g_effective, "data.futureToleranceSeconds").get<int>();
    g_backfill_batch = Config::get(*g_effective, "data.backfillBatchSize").get<int>();
    g_inference.prediction_cache = Config::get(*g_effective, "inference.predictionCache").get<bool>();
    g_inference.max_prediction_age = Config::get(*g_effective, "inference.maxPredictionAge").get<int>();
    g_inference.confidence_threshold = Config::get(*g_effective, "inference.confidenceThreshold").get<double>();
    g_inference.stale_seconds = Config::get(*g_effective, "monitoring.alertThresholds.staleData").get<int>();
    g_inference.honest = cml::honest_settings(*g_effective, 1);
    g_nhorizons = 0;
    for (const json& h : Config::get(*g_effective, "training.forecastHorizons"))
      if (g_nhorizons < kMaxHorizons) g_horizons[g_nhorizons++] = h.get<int>();
    std::string list;
    g_nsymbols = 0;
    for (const json& sym : Config::get(*g_effective, "symbols")) {
      const std::string& name = sym.get_ref<const std::string&>();
      snprintf(g_symbols[g_nsymbols++], sizeof g_symbols[0], "%s", name.c_str());
      list += (list.empty() ? "" : ", ") + name;
    }
    snprintf(g_symbols_text, sizeof g_symbols_text, "%s", list.c_str());
    qsort(g_symbols, g_nsymbols, sizeof g_symbols[0], [](const void* a, const void* b) {
      return strcmp(static_cast<const char*>(a), static_cast<const char*>(b));
    });
  });
  g_valid = true;
}

char* jsonb_text(Jsonb* jb) { return JsonbToCString(nullptr, &jb->root, VARSIZE(jb)); }

Datum jsonb_from(const char* text) { return DirectFunctionCall1(jsonb_in, CStringGetDatum(text)); }

void spi_exec(const char* sql, int nargs, Oid* types, Datum* values) {
  SPI_connect();
  int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
  if (rc < 0) elog(ERROR, "cryptoml: SPI failed (%d) on: %s", rc, sql);
  SPI_finish();
}

// After a change: other backends drop their cache at commit, this one right away.
void config_changed() {
  CacheInvalidateRelcacheByRelid(g_config_relid);
  g_valid = false;
}

// The role that called the function: SECURITY DEFINER changes current_user, not the outer user.
char* caller_name() { return GetUserNameFromId(GetOuterUserId(), false); }

void log_config_change(const char* what, const char* path, const char* old_value, const char* new_value) {
  StringInfoData c;
  initStringInfo(&c);
  appendStringInfoString(&c, "{\"path\": ");
  escape_json(&c, path);
  appendStringInfo(&c, ", \"old\": %s, \"new\": %s, \"by\": ", old_value ? old_value : "null",
                   new_value ? new_value : "null");
  escape_json(&c, caller_name());
  appendStringInfoChar(&c, '}');
  char* msg = psprintf("config key %s %s by %s", path, what, caller_name());
  log_audit("config", what, msg, c.data);
  audit_event(psprintf("config_%s", what), path, old_value, new_value);
}

}  // namespace

void config_init() { CacheRegisterRelcacheCallback(config_inval_callback, (Datum)0); }

LogLevel config_log_level() {
  ensure_loaded();
  return g_log_level;
}

bool config_enable_recovery() {
  ensure_loaded();
  return g_enable_recovery;
}

const IndicatorParams& config_indicator_params() {
  ensure_loaded();
  return g_indicator_params;
}

bool config_symbol_allowed(const char* symbol) {
  ensure_loaded();
  if (!g_reject_unknown_symbols) return true;
  return bsearch(symbol, g_symbols, g_nsymbols, sizeof g_symbols[0],
                 [](const void* k, const void* e) { return strcmp(static_cast<const char*>(k), static_cast<const char*>(e)); }) != nullptr;
}

const char* config_symbols_text() {
  ensure_loaded();
  return g_symbols_text;
}

int config_future_tolerance_seconds() {
  ensure_loaded();
  return g_future_tolerance;
}

const InferenceSettings& config_inference() {
  ensure_loaded();
  return g_inference;
}

int config_training_horizons(int* out, int max) {
  ensure_loaded();
  for (int i = 0; i < g_nhorizons && i < max; i++) out[i] = g_horizons[i];
  return g_nhorizons;
}

int config_backfill_batch_size() {
  ensure_loaded();
  return g_backfill_batch;
}

char* config_json_text() {
  ensure_loaded();
  char* out = nullptr;
  guarded("ml_config", [&] { out = pstrdup_nothrow(g_effective->dump()); });
  return out;
}

}  // namespace pg
}  // namespace cml

using namespace cml::pg;
using cml::Config;
using cml::json;

Datum ml_config(PG_FUNCTION_ARGS) { PG_RETURN_DATUM(jsonb_from(config_json_text())); }

Datum ml_config_get(PG_FUNCTION_ARGS) {
  char* path = text_to_cstring(PG_GETARG_TEXT_PP(0));
  ensure_loaded();
  char* out = nullptr;
  // from the cached object itself: no text round trip of the whole configuration per call
  guarded("ml_config_get", [&] { out = pstrdup_nothrow(Config::get(*g_effective, path).dump()); });
  PG_RETURN_DATUM(jsonb_from(out));
}

namespace {
// The one validation of ml_config_set and config_check: the value's own rule, then the cross-key
// rules on the overrides with it; sets the canonical text and the value it replaces.
void validate_setting(const char* who, const char* path, const char* value, const char* overrides, char** canonical,
                      char** old_value) {
  guarded(who, [&] {
    json v = cml::parse_json_document(value, "config key", path);  // 1e400: an error naming the key, not an internal one
    Config::validate_value(path, v);
    json o = json::parse(overrides);
    *old_value = pstrdup_nothrow(Config::get(Config::effective(o), path).dump());
    o[path] = v;
    Config::effective(o);  // cross-key rules on the result
    *canonical = pstrdup_nothrow(v.dump());
  });
}
}  // namespace

// config_check(path, value): ml_config_set's validation against the current overrides, no write
// (a router checks a value on every node before setting it on any).
Datum cml_config_check(PG_FUNCTION_ARGS) {
  char* path = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* value = jsonb_text(PG_GETARG_JSONB_P(1));
  g_config_relid = config_relid();
  char *canonical = nullptr, *old_value = nullptr;
  validate_setting("config_check", path, value, load_overrides(false), &canonical, &old_value);
  PG_RETURN_DATUM(jsonb_from(canonical));
}

// ml_config_set(path, value): validate against the locked, current overrides; store; return the value.
Datum ml_config_set(PG_FUNCTION_ARGS) {
  char* path = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* value = jsonb_text(PG_GETARG_JSONB_P(1));
  g_config_relid = config_relid();
  char* overrides = load_overrides(true);
  char *canonical = nullptr, *old_value = nullptr;
  validate_setting("ml_config_set", path, value, overrides, &canonical, &old_value);
  Oid types[3] = {TEXTOID, TEXTOID, NAMEOID};
  Datum values[3] = {CStringGetTextDatum(path), CStringGetTextDatum(canonical),
                     DirectFunctionCall1(namein, CStringGetDatum(caller_name()))};
  spi_exec("INSERT INTO cryptoml_internal.config (path, value, updated_by) VALUES ($1, $2::jsonb, $3) "
           "ON CONFLICT (path) DO UPDATE SET value = EXCLUDED.value, updated_at = now(), updated_by = EXCLUDED.updated_by",
           3, types, values);
  config_changed();
  log_config_change("set", path, old_value, canonical);
  PG_RETURN_DATUM(jsonb_from(canonical));
}

// ml_config_reset(path) drops one override and returns the default; with no argument
// (ml_config_reset_all) it drops every override and returns the default tree.
Datum ml_config_reset(PG_FUNCTION_ARGS) {
  char* path = (PG_NARGS() == 0 || PG_ARGISNULL(0)) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(0));
  g_config_relid = config_relid();
  char* overrides = load_overrides(true);
  char *result = nullptr, *old_value = nullptr;
  guarded("ml_config_reset", [&] {
    json o = json::parse(overrides);
    if (path == nullptr) {  // never validates the old overrides: the way out of an invalid stored config
      old_value = pstrdup_nothrow(o.dump());
      result = pstrdup_nothrow(Config::defaults().dump());
      return;
    }
    if (!Config::is_key(path)) Config::rule(path);  // throws the unknown-key error with its hint
    old_value = pstrdup_nothrow(Config::get(Config::effective(o), path).dump());
    o.erase(path);
    result = pstrdup_nothrow(Config::get(Config::effective(o), path).dump());
  });
  if (path == nullptr) {
    spi_exec("DELETE FROM cryptoml_internal.config", 0, nullptr, nullptr);
  } else {
    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(path)};
    spi_exec("DELETE FROM cryptoml_internal.config WHERE path = $1", 1, types, values);
  }
  config_changed();
  log_config_change("reset", path ? path : "*", old_value, result);
  PG_RETURN_DATUM(jsonb_from(result));
}

// [{"path", "value", "default", "rule"}...] for every settable key, for ml_config_keys().
Datum cml_config_key_table(PG_FUNCTION_ARGS) {
  char* tree = config_json_text();
  char* out = nullptr;
  guarded("ml_config_keys", [&] {
    json t = json::parse(tree);
    json rows = json::array();
    for (const std::string& k : Config::keys())
      rows.push_back({{"path", k}, {"value", Config::get(t, k)}, {"default", Config::get(Config::defaults(), k)},
                      {"rule", Config::rule(k)}});
    out = pstrdup_nothrow(rows.dump());
  });
  PG_RETURN_DATUM(jsonb_from(out));
}
