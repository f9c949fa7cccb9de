// cryptoml options: ONE table-driven parser for the options of ml_train (xgboost, lstm, ensemble)
// and ml_backtest, and a safe parser for user-supplied JSON text (options, ml_config_set values).
// Pure C++17: no PostgreSQL header may be included here.
//
// Every key of an options object has a spec: a type (integer, number, boolean, object), an
// inclusive range and a rule text. A value is checked against its spec on the JSON's own
// representation (int64, uint64 or double) BEFORE it is narrowed to the field it sets, so
// 4294967302 never becomes 6 and 2147483648 is "out of range", not "must be an integer":
//   - integer: a JSON integer, or a double that is integral (6.0 is 6; 6.5 is refused), in
//     [min, max];
//   - number: any JSON number, finite, in its range (each end open or closed);
//   - boolean: true or false;
//   - object: a JSON object (its content is checked by its own rule);
//   - string array: a JSON array of strings (their meaning is checked by their own rule).
// The ranges match the validate() functions of the structs the values end up in (XgbParams,
// LstmParams, BacktestConfig, TradeRule, TradeCosts) and the config rules of the training.* keys;
// those validate() functions keep their checks (test/unit/options_test.cpp checks that every
// bound the parser accepts passes them).
//
// Every error is a cml::InvalidParameter whose message names the key and the value and whose
// detail states the rule:
//   message: option max_depth = 4294967302 is out of range
//   detail:  rule: max_depth is an integer in [1, 20]
//   message: option hiddenSize must be an integer, got "big"
//   message: unknown option "windowsize" for model_type xgboost
//   detail:  rule: options keys are windowSize, validationSplit, ...
// Keys of an ensemble's member options are named with their member: option xgboost.max_depth.
// Values are shown as JSON, cut after 60 characters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backtest.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "lstm.hpp"
#include "model.hpp"
#include "stacking.hpp"
#include "xgb.hpp"

namespace cml {

enum class OptionType { Integer, Number, Boolean, Object, StringArray, Choice };

struct OptionSpec {
  std::string key;
  OptionType type = OptionType::Integer;
  std::int64_t imin = 0;   // Integer: inclusive bounds
  std::uint64_t imax = 0;
  double dmin = 0, dmax = 0;            // Number: bounds (always finite values)
  bool min_open = false, max_open = false;
  bool has_max = true;                  // Number: false = no upper bound besides finiteness
  std::string kind;                     // "an integer", "a number", "a boolean", "an object of member options", ...
  std::string note;                     // appended to the rule, e.g. "percent per side"
  std::vector<std::string> choices;     // Choice: the strings allowed
  // "max_depth is an integer in [1, 20]", "eta is a finite number in (0, 1]",
  // "lambda is a finite number >= 0", "feePct is a finite number in [0, 10] (percent per side)".
  std::string rule() const;
};

// The spec table of ml_train's options for a model type, in the order the "options keys are"
// rule lists them: xgboost: windowSize, validationSplit, earlyStoppingPatience, max_depth, eta,
// num_rounds, subsample, colsample_bytree, min_child_weight, lambda, alpha, nthread, seed;
// lstm: windowSize, validationSplit, earlyStoppingPatience, batchSize, maxEpochs, sequenceLength,
// hiddenSize, numLayers, learningRate, clipNorm, weightDecay, seed; ensemble: windowSize,
// validationSplit, weights, xgboost, lstm. Every type ends with featureSet (1 or 2; default config
// features.featureSet).
const std::vector<OptionSpec>& train_option_specs(ModelType type);

// The spec table of ml_backtest's options (earlyStoppingPatience may be 0 = off for xgboost
// only): retrainEvery, windowSize, validationSplit, maxDepth, learningRate, numRounds, tpSigma,
// slSigma, feePct, slippagePct, minEdgePct, confidenceThreshold, earlyStoppingPatience,
// sequenceLength, hiddenSize, numLayers, lstmLearningRate, maxEpochs, batchSize, ..., featureSet
// (1 or 2), excludeGroups (an array of feature set 2 groups: feature_context.hpp's excluded_columns
// checks the names), combiner, warmStart (a boolean; true is refused for xgboost), warmMaxEpochs,
// warmPatience, warmWindow (0 = all) (backtest.hpp, "Warm start").
const std::vector<OptionSpec>& backtest_option_specs(ModelType model);

// Spec builders (every option table uses them: ml_train, ml_backtest, ml_tune, the volatility
// model): an integer in [lo, hi]; a finite number in a range, each end open or closed.
OptionSpec integer_option(std::string key, std::int64_t lo, std::uint64_t hi, std::string note = {});
OptionSpec number_option(std::string key, double lo, bool lo_open, double hi, bool hi_open, std::string note = {});

// The spec of key in a table, or nullptr.
const OptionSpec* find_option(const std::vector<OptionSpec>& specs, const std::string& key);

// One value checked against its spec; `name` is how messages call it ("max_depth",
// "xgboost.max_depth"). Each throws InvalidParameter for a value of another type or out of
// range. option_int needs spec.imax <= INT64_MAX; option_uint needs spec.imin >= 0.
std::int64_t option_int(const OptionSpec& spec, const json& value, const std::string& name);
std::uint64_t option_uint(const OptionSpec& spec, const json& value, const std::string& name);
double option_number(const OptionSpec& spec, const json& value, const std::string& name);
bool option_bool(const OptionSpec& spec, const json& value, const std::string& name);
const json& option_object(const OptionSpec& spec, const json& value, const std::string& name);
const json& option_string_array(const OptionSpec& spec, const json& value, const std::string& name);
std::string option_choice(const OptionSpec& spec, const json& value, const std::string& name);  // one of spec.choices
void check_option(const OptionSpec& spec, const json& value, const std::string& name);  // by spec.type

// ml_train's settings: options over the configuration tree (training.*, inference.*).
struct TrainOptions {
  ModelType type = ModelType::xgboost;
  int window = 0;                // training.windowSize or options.windowSize
  double split = 0;              // training.validationSplit or options.validationSplit
  XgbParams xgb;                 // early_stopping_rounds = earlyStoppingPatience
  LstmParams lstm;               // patience, batch_size, max_epochs from training.* / options
  bool weights_set = false;      // ensemble: weights given (options.weights or inference.ensembleWeights)
  double weights[2] = {0, 0};    // xgboost, lstm
  std::string member_options[2]; // ensemble: options (JSON object text) of the xgboost and lstm
                                 // member it trains, with the ensemble's windowSize, validationSplit
                                 // and featureSet
  int feature_set = 1;           // config features.featureSet or options.featureSet: the samples used
  Combiner combiner = Combiner::inverse_mse;  // ensemble: options.combiner (stacking.hpp); given
  bool combiner_set = false;                  // explicitly, it overrides inference.ensembleWeights
};

// Parses and checks ml_train's options for a model type against `config` (the effective
// configuration tree, see Config::effective). Checks every key's type and range before
// narrowing, the training.* keys also by their config rule, then XgbParams / LstmParams
// validate(), the ensemble's weights by the rule of inference.ensembleWeights and its member
// options (recursively: a bad member option fails here, naming "xgboost.<key>" / "lstm.<key>";
// a member windowSize or validationSplit other than the ensemble's is refused).
// Throws InvalidParameter.
TrainOptions parse_train_options(ModelType type, const json& config, const json& options);

// Parses and checks ml_backtest's options (the object ml_backtest resolved; keys not given keep
// BacktestConfig's defaults) for a model and horizon, then BacktestConfig::validate().
// earlyStoppingPatience sets both xgb.early_stopping_rounds and lstm.patience.
// Throws InvalidParameter.
BacktestConfig parse_backtest_options(const json& options, ModelType model, int horizon);

// Parses user-supplied JSON text (options, a config value) into a json, like json::parse, but
// every failure is an InvalidParameter instead of nlohmann's exception:
//   - a number that does not fit a double (PostgreSQL's jsonb keeps 1e400 exactly and prints
//     it as 1 followed by 400 zeros):
//       message: option xgboost.max_depth = 1000000000000000000000000000000000000000000000000000000000000... (401 characters) is out of range
//       detail:  rule: numbers must fit a double (|x| <= 1.8e308); the number starts at byte 27
//   - a syntax error ({"eta": tru}):
//       message: invalid JSON for option eta at byte 12: syntax error while parsing value - invalid literal
//       detail:  rule: the text must be a single JSON value (RFC 8259); last read: '"eta": tru}'
//     (the byte is where the parser stopped, the key path the nearest key it had read).
// A value is named `what` followed by base_path and its key path in the document (keys joined by
// ".", array elements as [i]): what "option" names "option xgboost.max_depth"; what "config
// key" with base_path "inference.ensembleWeights" names "config key
// inference.ensembleWeights.xgboost". Bytes count from 1. Values and keys are cut after 60
// characters.
json parse_json_document(const std::string& text, const std::string& what, const std::string& base_path = {});

}  // namespace cml
