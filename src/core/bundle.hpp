// cryptoml model bundles: one registered model (its registry row, bytes, feature set, calibration
// and out-of-time record; an ensemble with its members' bundles nested) as a versioned JSON
// document that ml_export_model writes and ml_import_model reads back, in this or another
// database. Plus the pieces it needs: SHA-256 (FIPS 180-4) and strict base64 (RFC 4648).
// Pure C++17: no PostgreSQL header may be included here.
//
// ---- Format (bundle_version 1) -------------------------------------------------------------------
// {"format": "cryptoml-model-bundle", "bundle_version": 1, "extension_version": "0.7.0",
//  "batch": {"batch_id": "xgb-BTCUSDT-h15-7", "symbol": "BTCUSDT", "forecast_horizon": 15,
//            "model_type": "xgboost", "training_samples": 1590, "validation_samples": 397,
//            "rmse": 0.16, "mae": 0.12, "accuracy": 0.81, "baseline_rmse": 1.09,
//            "hyperparameters": {... the training window: train_first_bar ... valid_last_bar ...},
//            "feature_set_version": 1, "duration_ms": 640, "shrinkage": 0.93,
//            "skill_statistic": 32.6, "skill_p_value": 7.1e-234, "calibration_pairs": 1500,
//            "created_at": "2026-12-07T10:11:12.123456"},
//  "model": {"feature_set_version": 1, "feature_names": ["rsi", ...], "calibration": {...} | null,
//            "oot_ts": ["2021-05-02T19:15:00", ...] | null, "oot_raw": [...] | null,
//            "oot_actual": [...] | null, "bytes_base64": "...", "sha256": "<64 lowercase hex>"},
//  "members": [{"weight": 0.6, "bundle": {a whole bundle}}, ...]}   (an ensemble only; else [])
// Nullable registry columns are JSON null. Timestamps are UTC-less TIMESTAMP values written
// YYYY-MM-DDTHH:MM:SS with an optional .ffffff (1 to 6 digits).
//
// ---- Errors ----------------------------------------------------------------------------------------
// parse_bundle() checks everything before anything is registered and throws
//   InvalidParameter: the document (not JSON, truncated: "invalid JSON for bundle at byte N: ..."),
//     unknown format, bundle_version newer than kBundleVersion ("bundle_version 2 is newer than
//     this cryptoml (0.7.0) reads: 1"), a missing field, a field of the wrong type, a number out
//     of its range (NaN cannot be written in JSON; huge numbers are refused by range), an unknown
//     model_type, feature set version not built here, bad batch_id / symbol, oot arrays of unequal
//     length, a bad timestamp, a malformed sha256, ensemble members (count, weights, types).
//   DataError: bytes that are not strict base64, bytes whose SHA-256 is not the stated one, bytes
//     that do not load as a model of the stated type (Model::load), a model whose number of
//     inputs differs from its feature names, an ensemble whose descriptor does not name its members.
// Every message names the field (bundle.batch.symbol, bundle.members[0].bundle.model.sha256), the
// value (clipped) and the rule (in the detail).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "model.hpp"

namespace cml {

inline constexpr const char* kBundleFormat = "cryptoml-model-bundle";
inline constexpr int kBundleVersion = 1;
// mlTrainingBatches.batch_id is VARCHAR(50); symbols match ^[A-Z0-9]{2,20}$ (the project's rule).
inline constexpr std::size_t kMaxBatchIdChars = 50;

// ---- SHA-256 and base64 ----------------------------------------------------------------------------
// The 32-byte SHA-256 digest of data (FIPS 180-4).
std::string sha256(const std::string& data);
// The same digest as 64 lowercase hex digits.
std::string sha256_hex(const std::string& data);
// Standard base64 (RFC 4648 section 4: A-Z a-z 0-9 + /, '=' padding), no line breaks.
std::string base64_encode(const std::string& bytes);
// Strict decode: length a multiple of 4, only the alphabet, '=' only as the last one or two
// characters, unused bits of the last group zero (so every byte string has exactly one encoding).
// DataError naming `field`, the offending character and its position (1-based) otherwise.
std::string base64_decode(const std::string& text, const std::string& field = "base64 text");

// ---- The bundle -----------------------------------------------------------------------------------
struct BundleBatch {
  std::string batch_id, symbol;
  ModelType model_type = ModelType::xgboost;
  int forecast_horizon = 0;
  long long training_samples = 0, validation_samples = 0;
  // DECIMAL(10,6) columns (|x| < 10000; accuracy 0..1) and DOUBLE PRECISION ones (finite).
  std::optional<double> rmse, mae, accuracy, baseline_rmse, shrinkage, skill_statistic, skill_p_value;
  std::optional<long long> duration_ms;
  std::optional<int> calibration_pairs;
  std::optional<int> feature_set_version;
  nlohmann::json hyperparameters;  // an object or null
  std::string created_at;          // YYYY-MM-DDTHH:MM:SS[.ffffff]
};

struct BundleModel {
  int feature_set_version = 0;
  std::vector<std::string> feature_names;
  nlohmann::json calibration;  // an object or null
  bool has_oot = false;        // false: no out-of-time record (NULL columns, models before 0.6.0)
  std::vector<std::string> oot_ts;
  std::vector<double> oot_raw, oot_actual;
  std::string bytes;  // the saved model (an ensemble: its descriptor)
};

struct Bundle {
  std::string extension_version;  // of the cryptoml that wrote it
  BundleBatch batch;
  BundleModel model;
  std::vector<Bundle> members;  // an ensemble's members, with...
  std::vector<double> weights;  // ...their weights (same length)
};

// The bundle as JSON text (compact), after the checks parse_bundle makes (InvalidParameter /
// DataError likewise, so no bundle is written that would not be read back). extension_version
// is set to kVersion.
std::string bundle_json(const Bundle& b);

// Parses and checks a bundle document (see Errors above); the model bytes are loaded, so a
// bundle that parses is one the registry can serve. `loaded`, when given, receives that model.
Bundle parse_bundle(const std::string& text, Model* loaded = nullptr);

// The checks on their own, on a bundle already in memory (what bundle_json runs).
void validate_bundle(const Bundle& b, Model* loaded = nullptr);

// A model_path for a batch the way ml_train writes it: db://models/<batch_id>.
std::string bundle_model_path(const std::string& batch_id);

// The trailing number of a batch_id ml_train wrote ("<prefix>-<symbol>-h<h>-<id>"), or -1 when it
// has none: ml_import_model moves the id sequence past it, so a later ml_train never writes the
// same batch_id.
long long batch_id_number(const std::string& batch_id);

}  // namespace cml
