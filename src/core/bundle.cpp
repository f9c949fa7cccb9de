// See bundle.hpp.
#include "bundle.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include "feature_context.hpp"
#include "features.hpp"
#include "features_v2.hpp"
#include "json_text.hpp"
#include "options.hpp"
#include "text.hpp"
#include "version.hpp"

namespace cml {

using json = nlohmann::json;

// ---- SHA-256 (FIPS 180-4, section 6.2) -------------------------------------------------------------
namespace {

constexpr std::uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void sha256_block(std::uint32_t h[8], const unsigned char* p) {
  std::uint32_t w[64];
  for (int t = 0; t < 16; t++)
    w[t] = (std::uint32_t)p[4 * t] << 24 | (std::uint32_t)p[4 * t + 1] << 16 | (std::uint32_t)p[4 * t + 2] << 8 |
           (std::uint32_t)p[4 * t + 3];
  for (int t = 16; t < 64; t++) {
    std::uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    std::uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int t = 0; t < 64; t++) {
    std::uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[t] + w[t];
    std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

}  // namespace

std::string sha256(const std::string& data) {
  std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  std::size_t full = n / 64 * 64;
  for (std::size_t i = 0; i < full; i += 64) sha256_block(h, p + i);
  // the tail, a 1 bit, zeros and the length in bits (big-endian) in one or two blocks
  unsigned char tail[128] = {0};
  std::size_t rest = n - full;
  if (rest) std::memcpy(tail, p + full, rest);
  tail[rest] = 0x80;
  std::size_t blocks = rest + 9 <= 64 ? 1 : 2;
  std::uint64_t bits = static_cast<std::uint64_t>(n) * 8;
  for (int i = 0; i < 8; i++) tail[blocks * 64 - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  for (std::size_t b = 0; b < blocks; b++) sha256_block(h, tail + 64 * b);
  std::string out(32, '\0');
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = static_cast<char>(h[i] >> (24 - 8 * j));
  return out;
}

std::string sha256_hex(const std::string& data) {
  static const char* hex = "0123456789abcdef";
  std::string d = sha256(data), out;
  out.reserve(64);
  for (unsigned char c : d) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

// ---- base64 (RFC 4648) -----------------------------------------------------------------------------
namespace {
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
std::string show_char(unsigned char c) {
  if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
  return buf;
}
}  // namespace

std::string base64_encode(const std::string& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t i = 0, n = bytes.size();
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (std::uint32_t)p[i] << 16 | (std::uint32_t)p[i + 1] << 8 | p[i + 2];
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  if (n - i == 1) {
    std::uint32_t v = (std::uint32_t)p[i] << 16;
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out += "==";
  } else if (n - i == 2) {
    std::uint32_t v = (std::uint32_t)p[i] << 16 | (std::uint32_t)p[i + 1] << 8;
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::string base64_decode(const std::string& text, const std::string& field) {
  const std::string rule = "rule: standard base64 (RFC 4648: A-Z a-z 0-9 + /), '=' padding to a multiple of 4 characters, no line "
                           "breaks or spaces";
  const std::size_t n = text.size();
  if (n % 4 != 0)
    throw DataError(field + " is not valid base64: its length " + std::to_string(n) + " is not a multiple of 4 (truncated?)", rule);
  std::size_t pad = 0;
  if (n >= 1 && text[n - 1] == '=') pad = (n >= 2 && text[n - 2] == '=') ? 2 : 1;
  std::string out;
  out.reserve(n / 4 * 3);
  for (std::size_t i = 0; i < n; i += 4) {
    int v[4];
    for (int j = 0; j < 4; j++) {
      const std::size_t at = i + j;
      const unsigned char c = static_cast<unsigned char>(text[at]);
      if (at >= n - pad) {  // a padding position
        v[j] = 0;
        continue;
      }
      v[j] = b64_value(c);
      if (v[j] < 0)
        throw DataError(field + " is not valid base64: " + show_char(c) + " at character " + std::to_string(at + 1) +
                            (c == '=' ? " (padding only at the end)" : ""),
                        rule);
    }
    std::uint32_t w = (std::uint32_t)v[0] << 18 | (std::uint32_t)v[1] << 12 | (std::uint32_t)v[2] << 6 | (std::uint32_t)v[3];
    const bool last = i + 4 == n;
    const std::size_t keep = last ? 3 - pad : 3;
    if (last && pad > 0 && (w & ((1u << (8 * pad)) - 1)) != 0)
      throw DataError(field + " is not valid base64: the last group has non-zero unused bits",
                      rule + "; unused bits zero (canonical encoding)");
    out.push_back(static_cast<char>(w >> 16));
    if (keep >= 2) out.push_back(static_cast<char>((w >> 8) & 255));
    if (keep >= 3) out.push_back(static_cast<char>(w & 255));
  }
  return out;
}

// ---- the bundle ------------------------------------------------------------------------------------
namespace {

const char* type_name(const json& v) { return v.type_name(); }

std::string shown(const json& v) { return clip_for_message(json_text(v), 60); }

[[noreturn]] void bad(const std::string& path, const std::string& what, const std::string& rule) {
  throw InvalidParameter(path + " " + what, "rule: " + rule);
}

// The fields of an object: refuses anything but an object, and keys it does not know.
const json& object_at(const json& v, const std::string& path, std::initializer_list<const char*> keys) {
  if (!v.is_object()) bad(path, "must be a JSON object, got " + std::string(type_name(v)) + " " + shown(v), "see bundle.hpp for the format");
  for (auto it = v.begin(); it != v.end(); ++it) {
    bool known = false;
    for (const char* k : keys) known = known || it.key() == k;
    if (!known) {
      std::string list;
      for (const char* k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
      bad(path, "has an unknown field \"" + clip_for_message(it.key()) + "\"", "the fields of " + path + " are " + list);
    }
  }
  return v;
}

const json& field(const json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) bad(path + "." + key, "is missing", "every field of the format is present (null where a value is unknown)");
  return *it;
}

long long integer(const json& obj, const char* key, const std::string& path, long long lo, long long hi) {
  const json& v = field(obj, key, path);
  const std::string name = path + "." + key;
  long long x;
  if (v.is_number_integer()) {
    x = v.get<long long>();
  } else if (v.is_number_unsigned()) {
    if (v.get<unsigned long long>() > (unsigned long long)std::numeric_limits<long long>::max())
      bad(name, "= " + shown(v) + " is out of range", "an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
    x = static_cast<long long>(v.get<unsigned long long>());
  } else {
    bad(name, "must be an integer, got " + std::string(type_name(v)) + " " + shown(v),
        "an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  if (x < lo || x > hi)
    bad(name, "= " + std::to_string(x) + " is out of range", "an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
  return x;
}

std::optional<long long> opt_integer(const json& obj, const char* key, const std::string& path, long long lo, long long hi) {
  if (field(obj, key, path).is_null()) return std::nullopt;
  return integer(obj, key, path, lo, hi);
}

double number(const json& v, const std::string& name, double lo, double hi, const std::string& rule) {
  if (!v.is_number()) bad(name, "must be a number, got " + std::string(type_name(v)) + " " + shown(v), rule);
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) bad(name, "= " + format_double(x) + " is out of range", rule);
  return x;
}

std::optional<double> opt_number(const json& obj, const char* key, const std::string& path, double lo, double hi,
                                 const std::string& rule) {
  const json& v = field(obj, key, path);
  if (v.is_null()) return std::nullopt;
  return number(v, path + "." + key, lo, hi, rule + " (or null)");
}

const std::string& string_at(const json& obj, const char* key, const std::string& path, const std::string& rule) {
  const json& v = field(obj, key, path);
  if (!v.is_string()) bad(path + "." + key, "must be a string, got " + std::string(type_name(v)) + " " + shown(v), rule);
  return v.get_ref<const std::string&>();
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// YYYY-MM-DDTHH:MM:SS[.f{1,6}], a real calendar date, year 1 to 9999.
bool valid_timestamp(const std::string& s) {
  auto digits = [&](std::size_t at, std::size_t n, int* out) {
    if (at + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = at; i < at + n; i++) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, se;
  if (s.size() < 19 || !digits(0, 4, &y) || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' || !digits(8, 2, &d) || s[10] != 'T' ||
      !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi) || s[16] != ':' || !digits(17, 2, &se))
    return false;
  if (s.size() > 19) {
    if (s[19] != '.' || s.size() < 21 || s.size() > 26) return false;
    int frac;
    if (!digits(20, s.size() - 20, &frac)) return false;
  }
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return false;
  return d <= days[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0);
}
const char* kTimestampRule = "a timestamp written YYYY-MM-DDTHH:MM:SS with an optional .ffffff (1 to 6 digits), a real date, year 1 to 9999";

bool valid_symbol(const std::string& s) {
  if (s.size() < 2 || s.size() > 20) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

bool valid_batch_id(const std::string& s) {
  if (s.empty() || s.size() > kMaxBatchIdChars) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

// The first character breaking the batch_id rule, for the message.
std::string batch_id_problem(const std::string& s) {
  if (s.empty()) return "is empty";
  std::size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
  if (chars > kMaxBatchIdChars) return "is " + std::to_string(chars) + " characters long";
  for (std::size_t i = 0; i < s.size(); i++) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return "has a control character (" + show_char(c) + ") at byte " + std::to_string(i + 1);
  }
  return "has a character outside A-Z a-z 0-9 - _ .";
}

const double kDecimal10_6 = 9999.999999;  // the largest DECIMAL(10,6) value

BundleBatch parse_batch(const json& v, const std::string& path) {
  object_at(v, path, {"batch_id", "symbol", "forecast_horizon", "model_type", "training_samples", "validation_samples", "rmse", "mae",
                      "accuracy", "baseline_rmse", "hyperparameters", "feature_set_version", "duration_ms", "shrinkage",
                      "skill_statistic", "skill_p_value", "calibration_pairs", "created_at"});
  BundleBatch b;
  b.batch_id = string_at(v, "batch_id", path, "a string");
  if (!valid_batch_id(b.batch_id))
    bad(path + ".batch_id", "\"" + clip_for_message(b.batch_id) + "\" " + batch_id_problem(b.batch_id),
        "1 to 50 characters (mlTrainingBatches.batch_id is VARCHAR(50)) from A-Z a-z 0-9 - _ . (what ml_train writes)");
  b.symbol = string_at(v, "symbol", path, "a string");
  if (!valid_symbol(b.symbol)) bad(path + ".symbol", "\"" + clip_for_message(b.symbol) + "\" is not a symbol", "a symbol matches ^[A-Z0-9]{2,20}$");
  b.forecast_horizon = (int)integer(v, "forecast_horizon", path, 1, std::numeric_limits<int>::max());
  const std::string& type = string_at(v, "model_type", path, "one of xgboost, lstm, ensemble");
  try {
    b.model_type = parse_model_type(type);
  } catch (const InvalidParameter& e) {
    throw InvalidParameter(path + ".model_type: " + e.what(), e.detail());
  }
  b.training_samples = integer(v, "training_samples", path, 0, std::numeric_limits<int>::max());
  b.validation_samples = integer(v, "validation_samples", path, 0, std::numeric_limits<int>::max());
  const std::string dec = "a number between 0 and 9999.999999 (a DECIMAL(10,6) column)";
  b.rmse = opt_number(v, "rmse", path, 0, kDecimal10_6, dec);
  b.mae = opt_number(v, "mae", path, 0, kDecimal10_6, dec);
  b.accuracy = opt_number(v, "accuracy", path, 0, 1, "a number between 0 and 1");
  b.baseline_rmse = opt_number(v, "baseline_rmse", path, 0, kDecimal10_6, dec);
  const json& hp = field(v, "hyperparameters", path);
  if (!hp.is_object() && !hp.is_null())
    bad(path + ".hyperparameters", "must be an object or null, got " + std::string(type_name(hp)) + " " + shown(hp), "an object or null");
  if (json_deeper_than(hp, kMaxJsonTextDepth))
    bad(path + ".hyperparameters", "is nested more than " + std::to_string(kMaxJsonTextDepth) + " levels deep", "at most 64 levels");
  b.hyperparameters = hp;
  auto fsv = opt_integer(v, "feature_set_version", path, 1, std::numeric_limits<int>::max());
  if (fsv) b.feature_set_version = (int)*fsv;
  b.duration_ms = opt_integer(v, "duration_ms", path, 0, std::numeric_limits<long long>::max());
  const std::string fin = "a finite number";
  b.shrinkage = opt_number(v, "shrinkage", path, -1e300, 1e300, fin);
  b.skill_statistic = opt_number(v, "skill_statistic", path, -1e300, 1e300, fin);
  b.skill_p_value = opt_number(v, "skill_p_value", path, 0, 1, "a number between 0 and 1");
  auto cp = opt_integer(v, "calibration_pairs", path, 0, std::numeric_limits<int>::max());
  if (cp) b.calibration_pairs = (int)*cp;
  const json& ca = field(v, "created_at", path);
  if (!ca.is_null()) {
    const std::string& s = string_at(v, "created_at", path, kTimestampRule);
    if (!valid_timestamp(s)) bad(path + ".created_at", "= \"" + clip_for_message(s) + "\" is not a timestamp", kTimestampRule);
    b.created_at = s;
  }
  return b;
}

BundleModel parse_model_part(const json& v, const std::string& path, ModelType type) {
  object_at(v, path, {"feature_set_version", "feature_names", "calibration", "oot_ts", "oot_raw", "oot_actual", "bytes_base64", "sha256"});
  BundleModel m;
  m.feature_set_version = (int)integer(v, "feature_set_version", path, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
  if (m.feature_set_version < 1 || m.feature_set_version > kMaxFeatureSet)
    throw InvalidParameter(path + ".feature_set_version " + std::to_string(m.feature_set_version) + " is not supported by this cryptoml (" +
                               kVersion + ")",
                           "rule: this build computes feature sets 1 to " + std::to_string(kMaxFeatureSet) +
                               " (src/core/features.hpp, features_v2.hpp); a model of another feature set cannot be served here");
  const json& names = field(v, "feature_names", path);
  if (!names.is_array())
    bad(path + ".feature_names", "must be an array of strings, got " + std::string(type_name(names)), "the feature names in vector order");
  const auto& expected = feature_names_for(m.feature_set_version);
  for (std::size_t i = 0; i < names.size(); i++) {
    if (!names[i].is_string())
      bad(path + ".feature_names[" + std::to_string(i) + "]", "must be a string, got " + shown(names[i]), "the feature names in vector order");
    m.feature_names.push_back(names[i].get<std::string>());
  }
  if (m.feature_names != expected) {
    std::size_t i = 0;
    while (i < m.feature_names.size() && i < expected.size() && m.feature_names[i] == expected[i]) i++;
    bad(path + ".feature_names",
        "differ from feature set " + std::to_string(m.feature_set_version) + " at position " + std::to_string(i) + " (" +
            (i < m.feature_names.size() ? "\"" + clip_for_message(m.feature_names[i]) + "\"" : std::string("missing")) + " where " +
            (i < expected.size() ? "\"" + expected[i] + "\"" : std::string("nothing")) + " is expected)",
        "the " + std::to_string(expected.size()) + " names of the feature set, in vector order (src/core/features.hpp, features_v2.hpp)");
  }
  const json& cal = field(v, "calibration", path);
  if (!cal.is_object() && !cal.is_null())
    bad(path + ".calibration", "must be an object or null, got " + std::string(type_name(cal)) + " " + shown(cal), "an object or null");
  if (json_deeper_than(cal, kMaxJsonTextDepth))
    bad(path + ".calibration", "is nested more than " + std::to_string(kMaxJsonTextDepth) + " levels deep", "at most 64 levels");
  m.calibration = cal;
  const json& ts = field(v, "oot_ts", path);
  const json& raw = field(v, "oot_raw", path);
  const json& act = field(v, "oot_actual", path);
  const std::string oot_rule = "oot_ts, oot_raw and oot_actual are all null or all arrays of the same length";
  if (ts.is_null() && raw.is_null() && act.is_null()) {
    m.has_oot = false;
  } else {
    if (!ts.is_array()) bad(path + ".oot_ts", "must be an array, got " + std::string(type_name(ts)), oot_rule);
    if (!raw.is_array()) bad(path + ".oot_raw", "must be an array, got " + std::string(type_name(raw)), oot_rule);
    if (!act.is_array()) bad(path + ".oot_actual", "must be an array, got " + std::string(type_name(act)), oot_rule);
    if (ts.size() != raw.size() || ts.size() != act.size())
      bad(path, "has oot_ts of " + std::to_string(ts.size()) + " elements, oot_raw of " + std::to_string(raw.size()) +
                    " and oot_actual of " + std::to_string(act.size()),
          oot_rule);
    m.has_oot = true;
    for (std::size_t i = 0; i < ts.size(); i++) {
      const std::string at = "[" + std::to_string(i) + "]";
      if (!ts[i].is_string() || !valid_timestamp(ts[i].get_ref<const std::string&>()))
        bad(path + ".oot_ts" + at, "= " + shown(ts[i]) + " is not a timestamp", kTimestampRule);
      m.oot_ts.push_back(ts[i].get<std::string>());
      m.oot_raw.push_back(number(raw[i], path + ".oot_raw" + at, -1e300, 1e300, "a finite number (% change)"));
      m.oot_actual.push_back(number(act[i], path + ".oot_actual" + at, -1e300, 1e300, "a finite number (% change)"));
    }
  }
  const std::string& sha = string_at(v, "sha256", path, "64 lowercase hex digits");
  bool hex = sha.size() == 64;
  for (char c : sha) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) bad(path + ".sha256", "= \"" + clip_for_message(sha) + "\" is not a SHA-256 digest", "64 lowercase hex digits");
  m.bytes = base64_decode(string_at(v, "bytes_base64", path, "a base64 string"), path + ".bytes_base64");
  const std::string actual = sha256_hex(m.bytes);
  if (actual != sha)
    throw DataError(path + ".bytes_base64 does not match " + path + ".sha256: the " + std::to_string(m.bytes.size()) +
                        " bytes have SHA-256 " + actual + ", the bundle states " + sha,
                    "rule: sha256 is the SHA-256 of the decoded model bytes; the bundle is corrupt or was changed");
  if (m.bytes.empty()) throw DataError(path + ".bytes_base64 is empty", "rule: a model has saved bytes");
  (void)type;
  return m;
}

Bundle parse_value(const json& doc, const std::string& path, Model* loaded, bool nested) {
  object_at(doc, path, {"format", "bundle_version", "extension_version", "batch", "model", "members"});
  const json& f = field(doc, "format", path);
  if (!f.is_string() || f.get_ref<const std::string&>() != kBundleFormat)
    bad(path + ".format", "= " + shown(f) + " is not a cryptoml model bundle", std::string("format is \"") + kBundleFormat + "\"");
  const json& bv = field(doc, "bundle_version", path);
  if (!bv.is_number_integer() && !bv.is_number_unsigned())
    bad(path + ".bundle_version", "must be an integer, got " + std::string(type_name(bv)) + " " + shown(bv),
        "an integer from 1 to " + std::to_string(kBundleVersion));
  const bool newer = bv.is_number_unsigned() ? bv.get<unsigned long long>() > (unsigned long long)kBundleVersion
                                             : bv.get<long long>() > kBundleVersion;
  if (newer)
    throw InvalidParameter(path + ".bundle_version " + shown(bv) + " is newer than this cryptoml (" + kVersion +
                               ") reads: " + std::to_string(kBundleVersion),
                           "rule: bundle_version <= " + std::to_string(kBundleVersion) +
                               "; import it with the cryptoml version that exported it, or a newer one");
  if (bv.get<long long>() < 1)
    bad(path + ".bundle_version", "= " + shown(bv) + " is out of range", "an integer from 1 to " + std::to_string(kBundleVersion));
  Bundle b;
  const std::string& ev = string_at(doc, "extension_version", path, "a version string");
  if (ev.empty() || ev.size() > 40) bad(path + ".extension_version", "\"" + clip_for_message(ev) + "\" is not a version", "1 to 40 characters");
  b.extension_version = ev;
  b.batch = parse_batch(field(doc, "batch", path), path + ".batch");
  b.model = parse_model_part(field(doc, "model", path), path + ".model", b.batch.model_type);
  if (b.batch.feature_set_version && *b.batch.feature_set_version != b.model.feature_set_version)
    bad(path + ".batch.feature_set_version",
        "= " + std::to_string(*b.batch.feature_set_version) + " differs from model.feature_set_version " +
            std::to_string(b.model.feature_set_version),
        "the batch and its model state the same feature set");
  // a set-2 model's live features read the leaders and index members it was trained with
  if (b.model.feature_set_version == 2) {
    try {
      (void)recorded_market_names(b.batch.hyperparameters, path + ".batch.hyperparameters");
    } catch (const DataError& e) {
      throw InvalidParameter(e.what(), e.detail(), e.hint());
    }
  }
  const json& members = field(doc, "members", path);
  if (!members.is_array()) bad(path + ".members", "must be an array, got " + std::string(type_name(members)), "an array ([] unless an ensemble)");
  const std::size_t nf = b.model.feature_names.size();
  if (b.batch.model_type != ModelType::ensemble) {
    if (!members.empty())
      bad(path + ".members", "has " + std::to_string(members.size()) + " elements for a " + model_type_name(b.batch.model_type) + " model",
          "only an ensemble has members");
    Model m;
    try {
      m = Model::load(b.batch.model_type, b.model.bytes);
    } catch (const DataError& e) {
      throw DataError(path + ".model.bytes_base64 does not load as a " + std::string(model_type_name(b.batch.model_type)) + " model: " + e.what(),
                      e.detail().empty() ? "rule: the bytes are a model saved by cryptoml (xgboost UBJSON, lstm CMLL)" : e.detail());
    }
    if (m.num_features() != nf)
      throw DataError(path + ".model.bytes_base64 holds a model of " + std::to_string(m.num_features()) + " inputs, but the bundle names " +
                          std::to_string(nf) + " features",
                      "rule: the model reads one input per feature name");
    if (loaded) *loaded = std::move(m);
    return b;
  }
  if (nested) bad(path + ".batch.model_type", "= \"ensemble\" for an ensemble member", "an ensemble's members are xgboost or lstm models");
  if (members.size() != 2)
    bad(path + ".members", "has " + std::to_string(members.size()) + " elements", "an ensemble has two members (the registry's xgboost and lstm)");
  std::vector<std::pair<Model, double>> models;
  std::set<std::string> ids;
  double sum = 0;
  for (std::size_t i = 0; i < members.size(); i++) {
    const std::string mp = path + ".members[" + std::to_string(i) + "]";
    object_at(members[i], mp, {"weight", "bundle"});
    const double w = number(field(members[i], "weight", mp), mp + ".weight", 0, 1, "a weight between 0 and 1; the weights sum to 1");
    Model mm;
    Bundle mb = parse_value(field(members[i], "bundle", mp), mp + ".bundle", &mm, true);
    if (mb.batch.symbol != b.batch.symbol || mb.batch.forecast_horizon != b.batch.forecast_horizon)
      bad(mp + ".bundle.batch", "is a model of " + mb.batch.symbol + " h" + std::to_string(mb.batch.forecast_horizon) + ", the ensemble one of " +
                                    b.batch.symbol + " h" + std::to_string(b.batch.forecast_horizon),
          "members forecast the ensemble's symbol and horizon");
    if (mb.batch.batch_id == b.batch.batch_id || !ids.insert(mb.batch.batch_id).second)
      bad(mp + ".bundle.batch.batch_id", "\"" + mb.batch.batch_id + "\" appears twice in the bundle", "batch_ids are unique");
    sum += w;
    models.emplace_back(std::move(mm), w);
    b.members.push_back(std::move(mb));
    b.weights.push_back(w);
  }
  if (std::fabs(sum - 1) > 1e-6)
    bad(path + ".members", "weights sum to " + format_double(sum), "an ensemble's weights sum to 1 (within 1e-6)");
  // The ensemble's own bytes are its descriptor, naming its members.
  json desc = json::parse(b.model.bytes, nullptr, false);
  bool names_members = desc.is_object() && desc.value("format", json()) == json("cryptoml ensemble") && desc.contains("members") &&
                       desc["members"].is_array() && desc["members"].size() == b.members.size();
  if (names_members) {
    std::set<std::string> named;
    for (const auto& e : desc["members"])
      if (e.is_object() && e.contains("batch_id") && e["batch_id"].is_string()) named.insert(e["batch_id"].get<std::string>());
    names_members = named == ids;
  }
  if (!names_members)
    throw DataError(path + ".model.bytes_base64 is not the descriptor of an ensemble of the bundle's members",
                    "rule: an ensemble's bytes are {\"format\": \"cryptoml ensemble\", \"members\": [{\"batch_id\": ...}, ...]} naming "
                    "the members nested in the bundle");
  Model e = Model::ensemble(std::move(models));
  if (e.num_features() != nf)
    throw DataError(path + ": the members read " + std::to_string(e.num_features()) + " inputs, the ensemble names " + std::to_string(nf) +
                        " features",
                    "rule: the model reads one input per feature name");
  if (loaded) *loaded = std::move(e);
  return b;
}

json to_json(const Bundle& b) {
  auto opt = [](const auto& o) { return o ? json(*o) : json(nullptr); };
  json batch = {{"batch_id", b.batch.batch_id},
                {"symbol", b.batch.symbol},
                {"forecast_horizon", b.batch.forecast_horizon},
                {"model_type", model_type_name(b.batch.model_type)},
                {"training_samples", b.batch.training_samples},
                {"validation_samples", b.batch.validation_samples},
                {"rmse", opt(b.batch.rmse)},
                {"mae", opt(b.batch.mae)},
                {"accuracy", opt(b.batch.accuracy)},
                {"baseline_rmse", opt(b.batch.baseline_rmse)},
                {"hyperparameters", b.batch.hyperparameters},
                {"feature_set_version", opt(b.batch.feature_set_version)},
                {"duration_ms", opt(b.batch.duration_ms)},
                {"shrinkage", opt(b.batch.shrinkage)},
                {"skill_statistic", opt(b.batch.skill_statistic)},
                {"skill_p_value", opt(b.batch.skill_p_value)},
                {"calibration_pairs", opt(b.batch.calibration_pairs)},
                {"created_at", b.batch.created_at.empty() ? json(nullptr) : json(b.batch.created_at)}};
  json model = {{"feature_set_version", b.model.feature_set_version},
                {"feature_names", b.model.feature_names},
                {"calibration", b.model.calibration},
                {"oot_ts", b.model.has_oot ? json(b.model.oot_ts) : json(nullptr)},
                {"oot_raw", b.model.has_oot ? json(b.model.oot_raw) : json(nullptr)},
                {"oot_actual", b.model.has_oot ? json(b.model.oot_actual) : json(nullptr)},
                {"bytes_base64", base64_encode(b.model.bytes)},
                {"sha256", sha256_hex(b.model.bytes)}};
  json members = json::array();
  for (std::size_t i = 0; i < b.members.size(); i++)
    members.push_back({{"weight", i < b.weights.size() ? json(b.weights[i]) : json(nullptr)}, {"bundle", to_json(b.members[i])}});
  return {{"format", kBundleFormat}, {"bundle_version", kBundleVersion}, {"extension_version", kVersion},
          {"batch", batch}, {"model", model}, {"members", members}};
}

}  // namespace

void validate_bundle(const Bundle& b, Model* loaded) {
  if (b.weights.size() != b.members.size())
    throw InvalidParameter("bundle.members: " + std::to_string(b.members.size()) + " members and " + std::to_string(b.weights.size()) + " weights",
                           "rule: one weight per member");
  for (double x : b.model.oot_raw)
    if (!std::isfinite(x)) throw InvalidParameter("bundle.model.oot_raw holds " + format_double(x), "rule: finite numbers");
  for (double x : b.model.oot_actual)
    if (!std::isfinite(x)) throw InvalidParameter("bundle.model.oot_actual holds " + format_double(x), "rule: finite numbers");
  (void)parse_value(to_json(b), "bundle", loaded, false);
}

std::string bundle_json(const Bundle& b) {
  validate_bundle(b);
  return to_json(b).dump();
}

Bundle parse_bundle(const std::string& text, Model* loaded) {
  json doc = parse_json_document(text, "bundle");
  if (json_deeper_than(doc, kMaxJsonTextDepth))
    throw InvalidParameter("bundle is nested more than " + std::to_string(kMaxJsonTextDepth) + " levels deep", "rule: see bundle.hpp for the format");
  return parse_value(doc, "bundle", loaded, false);
}

std::string bundle_model_path(const std::string& batch_id) { return "db://models/" + batch_id; }

long long batch_id_number(const std::string& batch_id) {
  std::size_t i = batch_id.size();
  while (i > 0 && batch_id[i - 1] >= '0' && batch_id[i - 1] <= '9') i--;
  const std::size_t digits = batch_id.size() - i;
  if (digits == 0 || digits > 18 || i == 0 || batch_id[i - 1] != '-') return -1;
  return std::stoll(batch_id.substr(i));
}

}  // namespace cml
