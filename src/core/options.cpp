// cryptoml options: the table-driven parser of ml_train's and ml_backtest's options and the safe
// JSON text parser. See options.hpp.
#include "options.hpp"

#include <climits>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "feature_context.hpp"
#include "features.hpp"
#include "json_text.hpp"
#include "text.hpp"

namespace cml {
namespace {

constexpr std::size_t kMaxShown = 60;  // longest value, key or token shown in a message
constexpr std::uint64_t kUint64Max = std::numeric_limits<std::uint64_t>::max();

// s cut after max bytes (at a UTF-8 character boundary), "..." marking the cut.
std::string cut(const std::string& s, std::size_t max = kMaxShown) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

// A value as a message shows it: doubles as PostgreSQL spells them (NaN, Infinity), the rest as
// compact JSON (json_text: a deeply nested value is described, not dumped); cut after 60 characters.
std::string show(const json& v) {
  if (v.is_number_float()) return format_double(v.get<double>());
  return cut(json_text(v));
}

std::string fmt_num(double d) { return format_double(d); }

}  // namespace

OptionSpec integer_option(std::string key, std::int64_t lo, std::uint64_t hi, std::string note) {
  OptionSpec s;
  s.key = std::move(key);
  s.type = OptionType::Integer;
  s.imin = lo;
  s.imax = hi;
  s.kind = "an integer";
  s.note = std::move(note);
  return s;
}

// A finite number in a range; each end open or closed.
OptionSpec number_option(std::string key, double lo, bool lo_open, double hi, bool hi_open, std::string note) {
  OptionSpec s;
  s.key = std::move(key);
  s.type = OptionType::Number;
  s.dmin = lo;
  s.min_open = lo_open;
  s.dmax = hi;
  s.max_open = hi_open;
  s.kind = "a finite number";
  s.note = std::move(note);
  return s;
}

namespace {

// A finite number >= lo (or > lo), no other upper bound.
OptionSpec num_min(std::string key, double lo, bool lo_open, std::string note = {}) {
  OptionSpec s = number_option(std::move(key), lo, lo_open, std::numeric_limits<double>::max(), false, std::move(note));
  s.has_max = false;
  return s;
}

OptionSpec array_opt(std::string key, std::string kind, std::string note = {}) {
  OptionSpec s;
  s.key = std::move(key);
  s.type = OptionType::StringArray;
  s.kind = std::move(kind);
  s.note = std::move(note);
  return s;
}

// A string, one of `choices`.
OptionSpec choice_opt(std::string key, std::vector<std::string> choices, std::string note = {}) {
  OptionSpec s;
  s.key = std::move(key);
  s.type = OptionType::Choice;
  s.choices = std::move(choices);
  s.kind = "a string";
  s.note = std::move(note);
  return s;
}

OptionSpec bool_opt(std::string key, std::string note = {}) {
  OptionSpec s;
  s.key = std::move(key);
  s.type = OptionType::Boolean;
  s.kind = "a boolean";
  s.note = std::move(note);
  return s;
}

OptionSpec obj_opt(std::string key, std::string kind, std::string note = {}) {
  OptionSpec s;
  s.key = std::move(key);
  s.type = OptionType::Object;
  s.kind = std::move(kind);
  s.note = std::move(note);
  return s;
}

// What a value of the spec's type is called in "must be ..." messages.
std::string type_noun(const OptionSpec& s) {
  switch (s.type) {
    case OptionType::Integer:
      return "an integer";
    case OptionType::Number:
      return "a number";
    case OptionType::Boolean:
      return "a boolean";
    case OptionType::Object:
    case OptionType::StringArray:
      return s.kind.empty() ? "an object" : s.kind;
    case OptionType::Choice:
      return "a string";
  }
  return "a value";
}

[[noreturn]] void wrong_type(const OptionSpec& s, const json& v, const std::string& name) {
  throw InvalidParameter("option " + cut(name) + " must be " + type_noun(s) + ", got " + show(v), "rule: " + s.rule());
}

[[noreturn]] void out_of_range(const OptionSpec& s, const json& v, const std::string& name) {
  throw InvalidParameter("option " + cut(name) + " = " + show(v) + " is out of range", "rule: " + s.rule());
}

// The integer a JSON value holds, exactly, read from its own representation: a JSON integer
// (int64 or uint64), or a double that is integral and within [-2^63, 2^64). value = negative ? s : u.
enum class IntRead { ok, not_integer, out_of_range };
IntRead read_integer(const json& v, bool* negative, std::int64_t* s, std::uint64_t* u) {
  *negative = false;
  *s = 0;
  *u = 0;
  if (v.is_number_unsigned()) {
    *u = v.get<std::uint64_t>();
    return IntRead::ok;
  }
  if (v.is_number_integer()) {
    const std::int64_t i = v.get<std::int64_t>();
    if (i < 0) {
      *negative = true;
      *s = i;
    } else {
      *u = static_cast<std::uint64_t>(i);
    }
    return IntRead::ok;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d)) return IntRead::out_of_range;
    if (std::trunc(d) != d) return IntRead::not_integer;
    if (d >= 18446744073709551616.0 || d < -9223372036854775808.0) return IntRead::out_of_range;
    if (d >= 0) {
      *u = static_cast<std::uint64_t>(d);
    } else {
      *negative = true;
      *s = static_cast<std::int64_t>(d);
    }
    return IntRead::ok;
  }
  return IntRead::not_integer;
}

// Checks an integer option; returns its value as (negative, s, u).
void checked_integer(const OptionSpec& spec, const json& v, const std::string& name, bool* negative, std::int64_t* s,
                     std::uint64_t* u) {
  if (spec.type != OptionType::Integer) throw std::logic_error("option " + spec.key + " is not an integer option");
  switch (read_integer(v, negative, s, u)) {
    case IntRead::not_integer:
      wrong_type(spec, v, name);
    case IntRead::out_of_range:
      out_of_range(spec, v, name);
    case IntRead::ok:
      break;
  }
  const bool ok = *negative ? *s >= spec.imin
                            : (spec.imin <= 0 || *u >= static_cast<std::uint64_t>(spec.imin)) && *u <= spec.imax;
  if (!ok) out_of_range(spec, v, name);
}

// An integer option narrowed to int: only for specs whose range lies within int.
int option_int32(const OptionSpec& spec, const json& v, const std::string& name) {
  if (spec.imin < INT_MIN || spec.imax > static_cast<std::uint64_t>(INT_MAX))
    throw std::logic_error("option " + spec.key + " does not fit an int");
  return static_cast<int>(option_int(spec, v, name));
}

std::string key_list(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const OptionSpec& s : specs) out += (out.empty() ? "" : ", ") + s.key;
  return out;
}

const char* const kMemberName[2] = {"xgboost", "lstm"};

std::vector<OptionSpec> build_train_specs(ModelType type) {
  std::vector<OptionSpec> v = {
      integer_option("windowSize", 10, 10000000, "minutes; the rule of config training.windowSize"),
      number_option("validationSplit", 0, true, 1, true, "the rule of config training.validationSplit"),
  };
  if (type == ModelType::xgboost) {
    const std::vector<OptionSpec> x = {
        integer_option("earlyStoppingPatience", 1, 100000, "rounds; the rule of config training.earlyStoppingPatience"),
        integer_option("max_depth", 1, 20),
        number_option("eta", 0, true, 1, false),
        integer_option("num_rounds", 1, 100000, "an upper bound: early stopping usually ends sooner"),
        number_option("subsample", 0, true, 1, false),
        number_option("colsample_bytree", 0, true, 1, false),
        num_min("min_child_weight", 0, false),
        num_min("lambda", 0, false, "L2 regularisation"),
        num_min("alpha", 0, false, "L1 regularisation"),
        integer_option("nthread", 1, 64),
        integer_option("seed", 0, kUint64Max),
    };
    v.insert(v.end(), x.begin(), x.end());
  } else if (type == ModelType::lstm) {
    const std::vector<OptionSpec> l = {
        integer_option("earlyStoppingPatience", 1, 100000, "epochs; the rule of config training.earlyStoppingPatience"),
        integer_option("batchSize", 1, 1000000, "sequences; the rule of config training.batchSize"),
        integer_option("maxEpochs", 1, 100000, "the rule of config training.maxEpochs"),
        integer_option("sequenceLength", 1, 1440, "minutes per sequence"),
        integer_option("hiddenSize", 1, 1024),
        integer_option("numLayers", 1, 2),
        number_option("learningRate", 0, true, 1, false),
        num_min("clipNorm", 0, true),
        num_min("weightDecay", 0, false),
        integer_option("seed", 0, kUint64Max),
    };
    v.insert(v.end(), l.begin(), l.end());
  } else {
    v.push_back(obj_opt("weights", "an object of member weights", "the rule of config inference.ensembleWeights"));
    v.push_back(obj_opt("xgboost", "an object of member options", "xgboost options for the member the ensemble trains"));
    v.push_back(obj_opt("lstm", "an object of member options", "lstm options for the member the ensemble trains"));
    v.push_back(choice_opt("combiner", {"inverse_mse", "stacking"}, "how the ensemble weighs its members; docs/training.md, Stacking"));
  }
  v.push_back(integer_option("featureSet", 1, kMaxFeatureSet, "the samples' feature set; default config features.featureSet"));
  return v;
}

std::vector<OptionSpec> build_backtest_specs(ModelType model) {
  return {
      integer_option("retrainEvery", 1, 52560000, "minutes per segment"),
      integer_option("windowSize", 50, 100000000, "samples per training window"),
      number_option("validationSplit", 0.05, false, 0.5, false),
      integer_option("maxDepth", 1, 20),
      number_option("learningRate", 0, true, 1, false, "xgboost eta"),
      integer_option("numRounds", 1, 100000),
      number_option("tpSigma", 0, true, 100, false, "multiple of sigma"),
      number_option("slSigma", 0, true, 100, false, "multiple of sigma"),
      number_option("feePct", 0, false, 10, false, "percent per side"),
      number_option("slippagePct", 0, false, 10, false, "percent per side"),
      number_option("minEdgePct", -100, false, 100, false, "percent; < 0 means the round-trip cost 2 * (feePct + slippagePct)"),
      number_option("confidenceThreshold", 0, false, 100, false, "percent"),
      model == ModelType::xgboost ? integer_option("earlyStoppingPatience", 0, 100000, "0 = off (xgboost only)")
                                  : integer_option("earlyStoppingPatience", 1, 100000, "0 = off is for xgboost only"),
      integer_option("sequenceLength", 1, 1440, "minutes per sequence"),
      integer_option("hiddenSize", 1, 1024),
      integer_option("numLayers", 1, 2),
      number_option("lstmLearningRate", 0, true, 1, false),
      integer_option("maxEpochs", 1, 100000),
      integer_option("batchSize", 1, 1000000),
      integer_option("calibrationFolds", 1, 20, "rolling-origin folds per segment"),
      number_option("intervalCoverage", 0, true, 1, true, "share of outcomes the intervals cover"),
      number_option("intervalAdaptRate", 0, false, 1, false, "ACI gamma"),
      number_option("skillSignificance", 0, true, 0.5, false, "one-sided level of the skill test"),
      integer_option("calibrationWindow", 10, 10000000, "outcomes a statement reads"),
      integer_option("featureSet", 1, kMaxFeatureSet, "the samples' feature set; default config features.featureSet"),
      array_opt("excludeGroups", "an array of feature group names", "feature set 2 groups blanked before training and prediction"),
      choice_opt("combiner", {"inverse_mse", "stacking"}, "model ensemble only: how it weighs its members"),
      bool_opt("warmStart", "lstm and ensemble: each segment's networks start from the previous segment's weights"),
      integer_option("warmMaxEpochs", 1, 100000, "epochs of a warm-started network"),
      integer_option("warmPatience", 1, 100000, "patience of a warm-started network, counted from its initial weights"),
      integer_option("warmWindow", 0, 100000000, "a warm-started network's epochs train on only its newest warmWindow sequences; 0 = all"),
  };
}

bool is_training_key(const std::string& k) {
  return k == "windowSize" || k == "validationSplit" || k == "earlyStoppingPatience" || k == "batchSize" ||
         k == "maxEpochs";
}

TrainOptions parse_train(ModelType type, const json& config, const json& options, const std::string& prefix) {
  if (!options.is_object())
    throw InvalidParameter("options must be a JSON object, got " + show(options), "rule: options is a JSON object of option keys");
  const std::vector<OptionSpec>& specs = train_option_specs(type);
  json training = Config::get(config, "training");
  const json& inference = Config::get(config, "inference");
  TrainOptions t;
  t.type = type;
  XgbParams& x = t.xgb;
  LstmParams& l = t.lstm;
  t.feature_set = config_feature_set(config);
  for (auto it = options.begin(); it != options.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const std::string name = prefix + k;
    const OptionSpec* s = find_option(specs, k);
    if (k == "combiner" && type != ModelType::ensemble)
      throw InvalidParameter("option " + cut(name) + " is for model_type ensemble, not " + model_type_name(type),
                             "rule: combiner chooses how an ensemble weighs its members; an xgboost or lstm model has none");
    if (s == nullptr)
      throw InvalidParameter("unknown option \"" + cut(name) + "\" for model_type " + model_type_name(type),
                             "rule: options keys are " + key_list(specs));
    check_option(*s, v, name);  // type and range, before any narrowing
    if (k == "featureSet") {
      t.feature_set = option_int32(*s, v, name);
    } else if (k == "combiner") {
      t.combiner = parse_combiner(option_choice(*s, v, name));
      t.combiner_set = true;
    } else if (is_training_key(k)) {
      const json checked = s->type == OptionType::Integer ? json(option_int(*s, v, name)) : json(option_number(*s, v, name));
      Config::validate_value("training." + k, checked);  // the config rule stays the authority for these keys
      training[k] = checked;
    } else if (type == ModelType::xgboost) {
      if (k == "max_depth") x.max_depth = option_int32(*s, v, name);
      if (k == "eta") x.eta = option_number(*s, v, name);
      if (k == "num_rounds") x.num_rounds = option_int32(*s, v, name);
      if (k == "subsample") x.subsample = option_number(*s, v, name);
      if (k == "colsample_bytree") x.colsample_bytree = option_number(*s, v, name);
      if (k == "min_child_weight") x.min_child_weight = option_number(*s, v, name);
      if (k == "lambda") x.lambda = option_number(*s, v, name);
      if (k == "alpha") x.alpha = option_number(*s, v, name);
      if (k == "nthread") x.nthread = option_int32(*s, v, name);
      if (k == "seed") x.seed = option_uint(*s, v, name);
    } else if (type == ModelType::lstm) {
      if (k == "sequenceLength") l.sequence_length = option_int32(*s, v, name);
      if (k == "hiddenSize") l.hidden_size = option_int32(*s, v, name);
      if (k == "numLayers") l.num_layers = option_int32(*s, v, name);
      if (k == "learningRate") l.learning_rate = option_number(*s, v, name);
      if (k == "clipNorm") l.clip_norm = option_number(*s, v, name);
      if (k == "weightDecay") l.weight_decay = option_number(*s, v, name);
      if (k == "seed") l.seed = option_uint(*s, v, name);
    }
  }
  // training.* values passed the config rules (the effective tree, or the checks above)
  t.window = training.at("windowSize").get<int>();
  t.split = training.at("validationSplit").get<double>();
  const int patience = training.at("earlyStoppingPatience").get<int>();
  x.early_stopping_rounds = patience;
  l.patience = patience;
  l.batch_size = training.at("batchSize").get<int>();
  l.max_epochs = training.at("maxEpochs").get<int>();
  if (type == ModelType::xgboost) x.validate();
  if (type == ModelType::lstm) l.validate();
  if (type != ModelType::ensemble) return t;

  // References, and members checked before they are copied: copying (or dumping) a json recurses
  // once per nesting level, so a value nested a million levels deep overflowed the stack.
  const json& w = options.contains("weights") ? options.at("weights") : inference.at("ensembleWeights");
  Config::validate_value("inference.ensembleWeights", w);  // object of xgboost/lstm -> finite >= 0, sum > 0
  if (t.combiner_set && options.contains("weights") && !options.at("weights").empty())  // {} asks for learned weights
    throw InvalidParameter("options weights and combiner " + show(options.at("combiner")) + " are both given",
                           "rule: weights fixes the members' weights, combiner learns them: give one of them");
  if (!w.empty() && !t.combiner_set) {  // an explicit combiner overrides inference.ensembleWeights
    t.weights_set = true;
    t.weights[0] = w.value("xgboost", 0.0);
    t.weights[1] = w.value("lstm", 0.0);
  }
  for (int m = 0; m < 2; m++) {
    if (options.contains(kMemberName[m]))  // an object (checked above) of scalar options after this
      (void)parse_train(m == 0 ? ModelType::xgboost : ModelType::lstm, config, options.at(kMemberName[m]),
                        prefix + kMemberName[m] + ".");
    json mo = options.contains(kMemberName[m]) ? options.at(kMemberName[m]) : json::object();
    // A member trained here uses the ensemble's window and split, so its training rows end
    // before the ensemble's validation rows, and the ensemble's feature set.
    const json feature_set(t.feature_set);
    for (const char* k : {"windowSize", "validationSplit", "featureSet"}) {
      const json& mine = std::string(k) == "featureSet" ? feature_set : training.at(k);
      if (mo.contains(k) && mo.at(k) != mine)
        throw InvalidParameter("option " + prefix + kMemberName[m] + "." + k + " = " + show(mo.at(k)) +
                                   " differs from the ensemble's " + k + " (" + show(mine) + ")",
                               "rule: members trained for an ensemble use its windowSize, validationSplit and featureSet, "
                               "so their training rows precede its validation rows and they read the same features");
      mo[k] = mine;
    }
    // bad member options fail now, named with their member
    (void)parse_train(m == 0 ? ModelType::xgboost : ModelType::lstm, config, mo, prefix + kMemberName[m] + ".");
    t.member_options[m] = mo.dump();
  }
  return t;
}

// --- the JSON text parser ---------------------------------------------------------------------

// A SAX pass that only follows where it is in the document, to name the place of an error.
class Locator : public nlohmann::json_sax<json> {
 public:
  bool failed = false;
  int error_id = 0;
  std::size_t position = 0;  // characters read when the error was found
  std::string token;         // the last token read
  std::string error;         // nlohmann's message

  bool null() override { return element(); }
  bool boolean(bool) override { return element(); }
  bool number_integer(number_integer_t) override { return element(); }
  bool number_unsigned(number_unsigned_t) override { return element(); }
  bool number_float(number_float_t, const string_t&) override { return element(); }
  bool string(string_t&) override { return element(); }
  bool binary(binary_t&) override { return element(); }
  bool start_object(std::size_t) override {
    frames_.push_back(Frame{false, {}, false, 0});
    return true;
  }
  bool key(string_t& k) override {
    frames_.back().key = k;
    frames_.back().has_key = true;
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return element();
  }
  bool start_array(std::size_t) override {
    frames_.push_back(Frame{true, {}, false, 0});
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return element();
  }
  bool parse_error(std::size_t pos, const std::string& last_token, const nlohmann::json::exception& ex) override {
    failed = true;
    error_id = ex.id;
    position = pos;
    token = last_token;
    error = ex.what();
    return false;
  }

  // Where the parser is: keys joined by ".", array elements as [i] (the element being read).
  std::string path() const {
    std::string p;
    for (const Frame& f : frames_) {
      if (f.array) {
        p += "[" + std::to_string(f.count) + "]";
      } else if (f.has_key) {
        p += (p.empty() ? "" : ".") + cut(f.key);
      }
    }
    return p;
  }

 private:
  struct Frame {
    bool array;
    std::string key;
    bool has_key;
    std::size_t count;  // array: elements read
  };
  std::vector<Frame> frames_;

  bool element() {
    if (!frames_.empty() && frames_.back().array) frames_.back().count++;
    return true;
  }
};

std::string value_name(const std::string& what, const std::string& base, const std::string& path) {
  std::string full = cut(base, 200);
  if (!path.empty()) full += (full.empty() || path[0] == '[' ? "" : ".") + path;
  return full.empty() ? what + " (the whole document)" : what + " " + full;
}

// nlohmann's description of a syntax error, without its "[json.exception...] parse error at
// line 1, column 9: " prefix and its "; last read: '<token>'" (the token can be long), keeping
// a "; expected ..." that follows it.
std::string describe(const std::string& e) {
  std::string d = e;
  const std::size_t col = d.find("column ");
  if (col != std::string::npos) {
    const std::size_t colon = d.find(": ", col);
    if (colon != std::string::npos) d = d.substr(colon + 2);
  }
  std::string expected;  // "; expected end of input" and the like, after the token
  const std::size_t exp = d.rfind("'; expected ");
  if (exp != std::string::npos) expected = cut(d.substr(exp + 1), 80);
  const std::size_t last = d.find("; last read");
  if (last != std::string::npos) d.resize(last);
  return cut(d, 200) + (last != std::string::npos && exp > last ? expected : "");
}

}  // namespace

std::string OptionSpec::rule() const {
  std::string r = key + " is ";
  switch (type) {
    case OptionType::Integer:
      r += "an integer in [" + std::to_string(imin) + ", " + std::to_string(imax) + "]";
      break;
    case OptionType::Number:
      r += "a finite number ";
      if (has_max)
        r += std::string("in ") + (min_open ? "(" : "[") + fmt_num(dmin) + ", " + fmt_num(dmax) + (max_open ? ")" : "]");
      else
        r += std::string(min_open ? "> " : ">= ") + fmt_num(dmin);
      break;
    case OptionType::Boolean:
      r += "a boolean (true or false)";
      break;
    case OptionType::Object:
    case OptionType::StringArray:
      r += kind.empty() ? "an object" : kind;
      break;
    case OptionType::Choice:
      r += "one of";
      for (std::size_t i = 0; i < choices.size(); ++i) r += (i ? ", \"" : " \"") + choices[i] + "\"";
      break;
  }
  if (!note.empty()) r += " (" + note + ")";
  return r;
}

const std::vector<OptionSpec>& train_option_specs(ModelType type) {
  static const std::vector<OptionSpec> xgb = build_train_specs(ModelType::xgboost);
  static const std::vector<OptionSpec> lstm = build_train_specs(ModelType::lstm);
  static const std::vector<OptionSpec> ens = build_train_specs(ModelType::ensemble);
  return type == ModelType::xgboost ? xgb : type == ModelType::lstm ? lstm : ens;
}

const std::vector<OptionSpec>& backtest_option_specs(ModelType model) {
  static const std::vector<OptionSpec> xgb = build_backtest_specs(ModelType::xgboost);
  static const std::vector<OptionSpec> other = build_backtest_specs(ModelType::lstm);
  return model == ModelType::xgboost ? xgb : other;
}

const OptionSpec* find_option(const std::vector<OptionSpec>& specs, const std::string& key) {
  for (const OptionSpec& s : specs)
    if (s.key == key) return &s;
  return nullptr;
}

std::int64_t option_int(const OptionSpec& spec, const json& value, const std::string& name) {
  if (spec.imax > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw std::logic_error("option " + spec.key + " does not fit an int64");
  bool negative;
  std::int64_t s;
  std::uint64_t u;
  checked_integer(spec, value, name, &negative, &s, &u);
  return negative ? s : static_cast<std::int64_t>(u);
}

std::uint64_t option_uint(const OptionSpec& spec, const json& value, const std::string& name) {
  if (spec.imin < 0) throw std::logic_error("option " + spec.key + " may be negative");
  bool negative;
  std::int64_t s;
  std::uint64_t u;
  checked_integer(spec, value, name, &negative, &s, &u);
  return u;  // not negative: the range starts at >= 0
}

double option_number(const OptionSpec& spec, const json& value, const std::string& name) {
  if (spec.type != OptionType::Number) throw std::logic_error("option " + spec.key + " is not a number option");
  if (!value.is_number()) wrong_type(spec, value, name);
  const double d = value.get<double>();
  if (!std::isfinite(d)) out_of_range(spec, value, name);
  const bool lo_ok = spec.min_open ? d > spec.dmin : d >= spec.dmin;
  const bool hi_ok = !spec.has_max || (spec.max_open ? d < spec.dmax : d <= spec.dmax);
  if (!lo_ok || !hi_ok) out_of_range(spec, value, name);
  return d;
}

bool option_bool(const OptionSpec& spec, const json& value, const std::string& name) {
  if (spec.type != OptionType::Boolean) throw std::logic_error("option " + spec.key + " is not a boolean option");
  if (!value.is_boolean()) wrong_type(spec, value, name);
  return value.get<bool>();
}

const json& option_object(const OptionSpec& spec, const json& value, const std::string& name) {
  if (spec.type != OptionType::Object) throw std::logic_error("option " + spec.key + " is not an object option");
  if (!value.is_object()) wrong_type(spec, value, name);
  return value;
}

const json& option_string_array(const OptionSpec& spec, const json& value, const std::string& name) {
  if (spec.type != OptionType::StringArray) throw std::logic_error("option " + spec.key + " is not a string array option");
  if (!value.is_array()) wrong_type(spec, value, name);
  for (const json& x : value)
    if (!x.is_string()) wrong_type(spec, value, name);
  return value;
}

std::string option_choice(const OptionSpec& spec, const json& value, const std::string& name) {
  if (spec.type != OptionType::Choice) throw std::logic_error("option " + spec.key + " is not a choice option");
  if (!value.is_string()) wrong_type(spec, value, name);
  for (const std::string& c : spec.choices)
    if (value.get<std::string>() == c) return c;
  throw InvalidParameter("option " + cut(name) + " = " + show(value) + " is not allowed", "rule: " + spec.rule());
}

void check_option(const OptionSpec& spec, const json& value, const std::string& name) {
  switch (spec.type) {
    case OptionType::Integer: {
      bool negative;
      std::int64_t s;
      std::uint64_t u;
      checked_integer(spec, value, name, &negative, &s, &u);
      return;
    }
    case OptionType::Number:
      (void)option_number(spec, value, name);
      return;
    case OptionType::Boolean:
      (void)option_bool(spec, value, name);
      return;
    case OptionType::Object:
      (void)option_object(spec, value, name);
      return;
    case OptionType::StringArray:
      (void)option_string_array(spec, value, name);
      return;
    case OptionType::Choice:
      (void)option_choice(spec, value, name);
      return;
  }
}

TrainOptions parse_train_options(ModelType type, const json& config, const json& options) {
  return parse_train(type, config, options, "");
}

BacktestConfig parse_backtest_options(const json& options, ModelType model, int horizon) {
  if (!options.is_object())
    throw InvalidParameter("options must be a JSON object, got " + show(options), "rule: options is a JSON object of option keys");
  const std::vector<OptionSpec>& specs = backtest_option_specs(model);
  BacktestConfig c;
  c.horizon = horizon;
  c.model = model;
  for (auto it = options.begin(); it != options.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const OptionSpec* s = find_option(specs, k);
    if (s == nullptr)
      throw InvalidParameter("unknown option \"" + cut(k) + "\" for ml_backtest", "rule: options keys are " + key_list(specs));
    check_option(*s, v, k);  // type and range, before any narrowing
    if (k == "retrainEvery") c.retrain_every = option_int32(*s, v, k);
    if (k == "windowSize") c.window = option_int32(*s, v, k);
    if (k == "validationSplit") c.validation_split = option_number(*s, v, k);
    if (k == "maxDepth") c.xgb.max_depth = option_int32(*s, v, k);
    if (k == "learningRate") c.xgb.eta = option_number(*s, v, k);
    if (k == "numRounds") c.xgb.num_rounds = option_int32(*s, v, k);
    if (k == "tpSigma") c.rule.tp_sigma = option_number(*s, v, k);
    if (k == "slSigma") c.rule.sl_sigma = option_number(*s, v, k);
    if (k == "feePct") c.costs.fee_pct = option_number(*s, v, k);
    if (k == "slippagePct") c.costs.slippage_pct = option_number(*s, v, k);
    if (k == "minEdgePct") c.min_edge_pct = option_number(*s, v, k);
    if (k == "confidenceThreshold") c.min_confidence = option_number(*s, v, k);
    if (k == "earlyStoppingPatience") c.xgb.early_stopping_rounds = c.lstm.patience = option_int32(*s, v, k);
    if (k == "sequenceLength") c.lstm.sequence_length = option_int32(*s, v, k);
    if (k == "hiddenSize") c.lstm.hidden_size = option_int32(*s, v, k);
    if (k == "numLayers") c.lstm.num_layers = option_int32(*s, v, k);
    if (k == "lstmLearningRate") c.lstm.learning_rate = option_number(*s, v, k);
    if (k == "maxEpochs") c.lstm.max_epochs = option_int32(*s, v, k);
    if (k == "batchSize") c.lstm.batch_size = option_int32(*s, v, k);
    if (k == "calibrationFolds") c.calibration_folds = option_int32(*s, v, k);
    if (k == "intervalCoverage") c.honest.coverage = option_number(*s, v, k);
    if (k == "intervalAdaptRate") c.honest.aci_gamma = option_number(*s, v, k);
    if (k == "skillSignificance") c.honest.significance = option_number(*s, v, k);
    if (k == "calibrationWindow") c.honest.window = static_cast<std::size_t>(option_int32(*s, v, k));
    if (k == "combiner") {
      if (model != ModelType::ensemble)
        throw InvalidParameter("option combiner is for model_type ensemble, not " + std::string(model_type_name(model)),
                               "rule: combiner chooses how an ensemble weighs its members; an xgboost or lstm model has none");
      c.combiner = parse_combiner(option_choice(*s, v, k));
    }
    if (k == "warmStart") {
      c.warm_start = option_bool(*s, v, k);
      if (c.warm_start && model == ModelType::xgboost)
        throw InvalidParameter("option warmStart = true is for model_type lstm or ensemble, not xgboost",
                               "rule: warmStart starts a segment's lstm networks from the previous segment's; an xgboost backtest has none");
    }
    if (k == "warmMaxEpochs") c.warm_max_epochs = option_int32(*s, v, k);
    if (k == "warmPatience") c.warm_patience = option_int32(*s, v, k);
    if (k == "warmWindow") c.warm_window = option_int32(*s, v, k);
  }
  // the ablation's group names, against the feature set the options name (ml_backtest resolves it)
  if (options.contains("excludeGroups"))
    (void)excluded_columns(options.contains("featureSet") ? static_cast<int>(options.at("featureSet").get<long long>()) : 1,
                           options.at("excludeGroups"));
  c.honest.horizon = horizon;
  c.validate();
  return c;
}

json parse_json_document(const std::string& text, const std::string& what, const std::string& base_path) {
  try {
    return json::parse(text);
  } catch (const json::exception& first) {
    Locator loc;
    (void)json::sax_parse(text, &loc);
    if (!loc.failed)  // not expected: the same parser failed a moment ago
      throw InvalidParameter("invalid JSON for " + value_name(what, base_path, "") + ": " + cut(first.what(), 200),
                             "rule: the text must be a single JSON value (RFC 8259)");
    const std::string name = value_name(what, base_path, loc.path());
    if (loc.error_id == 406) {  // out_of_range.406: number overflow (a double cannot hold it)
      const std::size_t start = loc.position >= loc.token.size() ? loc.position - loc.token.size() + 1 : 1;
      std::string shown = loc.token;
      if (shown.size() > kMaxShown) shown = shown.substr(0, kMaxShown) + "... (" + std::to_string(loc.token.size()) + " characters)";
      throw InvalidParameter(name + " = " + shown + " is out of range",
                             "rule: numbers must fit a double (|x| <= 1.8e308); the number starts at byte " +
                                 std::to_string(start));
    }
    throw InvalidParameter("invalid JSON for " + name + " at byte " + std::to_string(loc.position) + ": " + describe(loc.error),
                           "rule: the text must be a single JSON value (RFC 8259); last read: '" + cut(loc.token) + "'");
  }
}

}  // namespace cml
