// cryptoml XGBoost wrapper. See xgb.hpp.
//
// XGBoost 1.7 facts this file relies on (see /work/shared/notes/pg-cpp-facts.md):
//  - XGBoosterPredictFromDense needs "cache_id": 0 in its config.
//  - Buffers returned by save/predict belong to the booster: copied at once.
//  - XGBGetLastError() carries a stack trace: only its first line is reported.
//  - Prediction runs with nthread 1 (set on the booster when an XgbModel is made).
//  - XGBoost's UBJSON reader does not check lengths against the buffer (a truncated or corrupt
//    model makes it read past the end), so load() checks the bytes first, see ModelCheck.
#include "xgb.hpp"

#include <xgboost/c_api.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

namespace cml {
namespace {

using json = nlohmann::json;

std::string first_line(const char* s) {
  if (s == nullptr || *s == '\0') return "unknown error";
  std::string out(s, std::strcspn(s, "\r\n"));
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out.empty() ? "unknown error" : out;
}

std::string last_error() { return first_line(XGBGetLastError()); }

// Throws cml::Error("xgboost: <first line>") with the call name as detail.
void check(int rc, const char* call) {
  if (rc != 0) throw Error("xgboost: " + last_error(), std::string("in XGBoost call ") + call);
}

// Shortest text that reads back as the same double (nlohmann's formatting), NaN/inf spelled out.
std::string fmt_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return json(v).dump();
}

class DMatrixGuard {
 public:
  DMatrixGuard() = default;
  ~DMatrixGuard() {
    if (h_ != nullptr) XGDMatrixFree(h_);
  }
  DMatrixGuard(const DMatrixGuard&) = delete;
  DMatrixGuard& operator=(const DMatrixGuard&) = delete;
  DMatrixHandle* out() { return &h_; }
  DMatrixHandle get() const { return h_; }

 private:
  DMatrixHandle h_ = nullptr;
};

class BoosterGuard {
 public:
  BoosterGuard() = default;
  ~BoosterGuard() {
    if (h_ != nullptr) XGBoosterFree(h_);
  }
  BoosterGuard(const BoosterGuard&) = delete;
  BoosterGuard& operator=(const BoosterGuard&) = delete;
  BoosterHandle* out() { return &h_; }
  BoosterHandle get() const { return h_; }
  BoosterHandle release() {
    BoosterHandle h = h_;
    h_ = nullptr;
    return h;
  }

 private:
  BoosterHandle h_ = nullptr;
};

void set_param(BoosterHandle h, const char* name, const std::string& value) {
  check(XGBoosterSetParam(h, name, value.c_str()), "XGBoosterSetParam");
}

// --- argument checks -------------------------------------------------------------------------

void check_matrix(const DenseMatrix& m, const char* name) {
  if (m.rows == 0 || m.cols == 0) {
    throw InvalidParameter(std::string(name) + " is empty (" + std::to_string(m.rows) + " rows, " +
                               std::to_string(m.cols) + " columns)",
                           "rule: at least one row and one column");
  }
  if (m.cols > std::numeric_limits<std::size_t>::max() / m.rows ||
      m.rows > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()) ||
      m.cols > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw InvalidParameter(std::string(name) + " is too large (" + std::to_string(m.rows) +
                           " rows, " + std::to_string(m.cols) + " columns)");
  }
  if (m.data == nullptr) throw InvalidParameter(std::string(name) + " has no data (null pointer)");
}

void check_no_inf(const DenseMatrix& m, const char* name) {
  const std::size_t n = m.rows * m.cols;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isinf(m.data[i])) {
      throw InvalidParameter(std::string(name) + " has an infinite value at row " +
                                 std::to_string(i / m.cols) + ", column " + std::to_string(i % m.cols),
                             "rule: feature values are finite or NaN (missing)");
    }
  }
}

void check_labels(const std::vector<float>& y, const DenseMatrix& m, const char* yname,
                  const char* mname) {
  if (y.size() != m.rows) {
    throw InvalidParameter(std::string(yname) + " has " + std::to_string(y.size()) + " labels but " +
                               mname + " has " + std::to_string(m.rows) + " rows",
                           "rule: one label per row");
  }
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) {
      throw InvalidParameter(std::string(yname) + " has a non-finite label at row " + std::to_string(i) +
                                 ": " + fmt_double(y[i]),
                             "rule: labels are finite numbers");
    }
  }
}

void make_dmatrix(const DenseMatrix& m, const std::vector<float>& y, DMatrixGuard* d) {
  check(XGDMatrixCreateFromMat(m.data, m.rows, m.cols, std::numeric_limits<float>::quiet_NaN(), d->out()),
        "XGDMatrixCreateFromMat");
  check(XGDMatrixSetFloatInfo(d->get(), "label", y.data(), y.size()), "XGDMatrixSetFloatInfo");
}

// Out-of-range parameter: the message names the parameter, the value and the rule.
[[noreturn]] void bad_param(const char* name, const std::string& value, const char* rule) {
  throw InvalidParameter(std::string("invalid XGBoost parameter ") + name + ": " + value + " (must be " +
                             rule + ")",
                         std::string("rule: ") + rule);
}

void check_int(const char* name, int v, int lo, int hi, const char* rule) {
  if (v < lo || v > hi) bad_param(name, std::to_string(v), rule);
}

// --- model byte check ------------------------------------------------------------------------
//
// A SAX pass of nlohmann's bounds-checked UBJSON reader over the bytes before XGBoost sees them.
// It guarantees that every length in the buffer fits in the buffer (so XGBoost's unchecked
// reader stays inside it), bounds nesting depth and the number of values, and checks what the
// XGBoost 1.7 loader and CPU predictor use as indexes without checking: tree ids, child and parent
// links, split feature indexes, tree_info, categorical-split data. The rest of the model (numbers,
// parameter strings) is left to XGBoost, whose other failures are clean errors.
class ModelCheck {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  explicit ModelCheck(std::size_t input_size) : budget_(input_size + 16) {}

  // Returns the model's number of features; throws DataError.
  std::size_t finish() {
    if (!error_.empty()) fail(error_);
    if (!seen_learner_) fail("no learner object");
    if (gb_name_ != "gbtree") fail("gradient booster is not gbtree: \"" + gb_name_ + "\"");
    if (objective_ != "reg:squarederror") {
      fail("objective is not reg:squarederror: \"" + objective_ + "\"");
    }
    // Bounded like the LSTM format's feature count: load() allocates a row of num_feature values and
    // XGBoost tens of bytes per feature, so a header claiming 2^30 features asked for gigabytes.
    std::int64_t nfeat = parse_count(num_feature_, "learner_model_param.num_feature", 1, kMaxXgbFeatures);
    if (!num_class_.empty() && num_class_ != "0") fail("num_class is not 0: " + num_class_);
    if (!num_target_.empty() && num_target_ != "1") fail("num_target is not 1: " + num_target_);
    if (!num_parallel_tree_.empty() && num_parallel_tree_ != "1") {
      fail("num_parallel_tree is not 1: " + num_parallel_tree_);
    }
    if (!seen_trees_) fail("no trees array");
    const std::size_t ntrees = tree_ids_.size();
    std::int64_t num_trees = parse_count(num_trees_, "gbtree_model_param.num_trees", 0, 1 << 30);
    if (static_cast<std::size_t>(num_trees) != ntrees) {
      fail("num_trees is " + num_trees_ + " but there are " + std::to_string(ntrees) + " trees");
    }
    if (tree_info_.size() != ntrees) fail("tree_info does not have one entry per tree");
    for (std::int64_t g : tree_info_) {
      if (g != 0) fail("tree_info has an output group other than 0");
    }
    std::vector<char> seen(ntrees, 0);
    for (std::int64_t id : tree_ids_) {
      if (id < 0 || static_cast<std::size_t>(id) >= ntrees || seen[id]) fail("tree ids are not 0..n-1");
      seen[id] = 1;
    }
    if (max_split_feature_ >= nfeat) fail("a split uses a feature index beyond num_feature");
    return static_cast<std::size_t>(nfeat);
  }

  // nlohmann SAX interface
  bool null() { return scalar(Value{}); }
  bool boolean(bool b) {
    Value v;
    v.kind = Value::Int;
    v.i = b ? 1 : 0;
    return scalar(v);
  }
  bool number_integer(number_integer_t x) {
    Value v;
    v.kind = Value::Int;
    v.i = x;
    return scalar(v);
  }
  bool number_unsigned(number_unsigned_t x) {
    Value v;
    if (x > static_cast<number_unsigned_t>(std::numeric_limits<std::int64_t>::max())) {
      v.kind = Value::Float;  // out of any index range
    } else {
      v.kind = Value::Int;
      v.i = static_cast<std::int64_t>(x);
    }
    return scalar(v);
  }
  bool number_float(number_float_t, const string_t&) {
    Value v;
    v.kind = Value::Float;
    return scalar(v);
  }
  bool string(string_t& s) {
    Value v;
    v.kind = Value::Str;
    v.s = &s;
    return scalar(v);
  }
  bool binary(binary_t&) { return set_error("unexpected binary value"); }

  bool start_object(std::size_t) { return open(true); }
  bool key(string_t& k) {
    if (!spend()) return false;
    Frame& f = stack_.back();
    if (f.ctx != Ctx::Other && !f.keys.insert(k).second) return set_error("duplicate key \"" + k + "\"");
    f.key = k;
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(false); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) {
    return set_error("malformed UBJSON near byte " + std::to_string(pos));
  }

 private:
  enum class Ctx {
    Other, Root, Learner, ModelParam, Objective, Booster, BoosterModel, BoosterParam, Trees, Tree,
    TreeParam, TreeArray, MustBeEmpty, TreeInfo
  };
  enum Field { kLeft, kRight, kParent, kSplit, kSplitType, kNumFields };
  struct Frame {
    Ctx ctx = Ctx::Other;
    bool object = false;
    int field = -1;  // TreeArray: which Field
    std::string key;
    std::set<std::string> keys;
  };
  struct Value {
    enum Kind { Null, Int, Float, Str } kind = Null;
    std::int64_t i = 0;
    const std::string* s = nullptr;
  };
  struct Tree {
    bool has_id = false;
    std::int64_t id = -1;
    std::string num_nodes, size_leaf_vector;
    bool has[kNumFields] = {};
    std::vector<std::int64_t> a[kNumFields];
  };

  static constexpr std::size_t kMaxDepth = 32;
  static constexpr std::int64_t kMaxXgbFeatures = 1000000;

  [[noreturn]] static void fail(const std::string& what) { throw DataError("xgboost model: " + what); }

  bool set_error(const std::string& what) {
    if (error_.empty()) error_ = what;
    return false;
  }

  // Each event costs one unit; valid data consumes at least one byte per event except values of
  // zero-size UBJSON types repeated by a typed array count, which this bounds.
  bool spend() {
    if (budget_ == 0) return set_error("too many values for the buffer size");
    --budget_;
    return true;
  }

  static std::int64_t parse_int(const std::string& s, bool* ok) {
    *ok = false;
    if (s.empty() || s.size() > 18) return 0;
    std::int64_t v = 0;
    std::size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
      neg = true;
      i = 1;
      if (s.size() == 1) return 0;
    }
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return 0;
      v = v * 10 + (s[i] - '0');
    }
    *ok = true;
    return neg ? -v : v;
  }

  static std::int64_t parse_count(const std::string& s, const char* what, std::int64_t lo, std::int64_t hi) {
    bool ok = false;
    std::int64_t v = parse_int(s, &ok);
    if (!ok || v < lo || v > hi) {
      fail(std::string(what) + " is missing or invalid: \"" + s + "\" (rule: an integer between " + std::to_string(lo) +
           " and " + std::to_string(hi) + ")");
    }
    return v;
  }

  Ctx child_ctx(bool object, int* field) const {
    if (stack_.empty()) return object ? Ctx::Root : Ctx::Other;
    const Frame& p = stack_.back();
    const std::string& k = p.key;
    switch (p.ctx) {
      case Ctx::Root:
        if (object && k == "learner") return Ctx::Learner;
        break;
      case Ctx::Learner:
        if (object && k == "learner_model_param") return Ctx::ModelParam;
        if (object && k == "objective") return Ctx::Objective;
        if (object && k == "gradient_booster") return Ctx::Booster;
        if (!object && (k == "feature_names" || k == "feature_types")) return Ctx::MustBeEmpty;
        break;
      case Ctx::Booster:
        if (object && k == "model") return Ctx::BoosterModel;
        break;
      case Ctx::BoosterModel:
        if (object && k == "gbtree_model_param") return Ctx::BoosterParam;
        if (!object && k == "trees") return Ctx::Trees;
        if (!object && k == "tree_info") return Ctx::TreeInfo;
        break;
      case Ctx::Trees:
        if (object) return Ctx::Tree;
        break;
      case Ctx::Tree:
        if (object && k == "tree_param") return Ctx::TreeParam;
        if (!object) {
          if (k == "left_children") *field = kLeft;
          if (k == "right_children") *field = kRight;
          if (k == "parents") *field = kParent;
          if (k == "split_indices") *field = kSplit;
          if (k == "split_type") *field = kSplitType;
          if (*field >= 0) return Ctx::TreeArray;
          if (k == "categories" || k == "categories_nodes" || k == "categories_segments" ||
              k == "categories_sizes") {
            return Ctx::MustBeEmpty;
          }
        }
        break;
      default:
        break;
    }
    return Ctx::Other;
  }

  bool open(bool object) {
    if (!spend()) return false;
    if (stack_.size() >= kMaxDepth) return set_error("nesting too deep");
    if (!stack_.empty() && stack_.back().ctx == Ctx::MustBeEmpty) return not_empty();
    int field = -1;
    Frame f;
    f.ctx = child_ctx(object, &field);
    f.object = object;
    f.field = field;
    if (stack_.empty() && !object) return set_error("top level is not an object");
    if (!stack_.empty()) {
      Frame& p = stack_.back();
      if (p.ctx == Ctx::Root && p.key == "learner") seen_learner_ = true;
      if (p.ctx == Ctx::BoosterModel && p.key == "trees") seen_trees_ = true;
      if (f.ctx == Ctx::TreeArray) {
        Tree& t = trees_.back();
        if (t.has[field]) return set_error("duplicate tree array");
        t.has[field] = true;
      }
    }
    if (f.ctx == Ctx::Tree) trees_.emplace_back();
    stack_.push_back(std::move(f));
    return true;
  }

  bool close() {
    if (stack_.empty()) return set_error("unbalanced containers");
    if (stack_.back().ctx == Ctx::Tree) {
      if (!check_tree(trees_.back())) return false;
      tree_ids_.push_back(trees_.back().id);
      trees_.pop_back();
    }
    stack_.pop_back();
    return true;
  }

  bool not_empty() {
    return set_error("model has categorical splits or feature names/types, which are not supported");
  }

  bool scalar(const Value& v) {
    if (!spend()) return false;
    if (stack_.empty()) return set_error("top level is not an object");
    Frame& f = stack_.back();
    const std::string& k = f.key;
    auto str = [&](std::string* dst) {
      if (v.kind != Value::Str) return set_error("\"" + k + "\" is not a string");
      *dst = *v.s;
      return true;
    };
    switch (f.ctx) {
      case Ctx::ModelParam:
        if (k == "num_feature") return str(&num_feature_);
        if (k == "num_class") return str(&num_class_);
        if (k == "num_target") return str(&num_target_);
        return true;
      case Ctx::Objective:
        if (k == "name") return str(&objective_);
        return true;
      case Ctx::Booster:
        if (k == "name") return str(&gb_name_);
        return true;
      case Ctx::BoosterParam:
        if (k == "num_trees") return str(&num_trees_);
        if (k == "num_parallel_tree") return str(&num_parallel_tree_);
        return true;
      case Ctx::TreeInfo:
        if (v.kind != Value::Int) return set_error("tree_info holds a non-integer");
        tree_info_.push_back(v.i);
        return true;
      case Ctx::Tree:
        if (k == "id") {
          if (v.kind != Value::Int) return set_error("tree id is not an integer");
          trees_.back().has_id = true;
          trees_.back().id = v.i;
        }
        return true;
      case Ctx::TreeParam:
        if (k == "num_nodes") return str(&trees_.back().num_nodes);
        if (k == "size_leaf_vector") return str(&trees_.back().size_leaf_vector);
        return true;
      case Ctx::TreeArray:
        if (v.kind != Value::Int) return set_error("a tree index array holds a non-integer");
        trees_.back().a[f.field].push_back(v.i);
        return true;
      case Ctx::MustBeEmpty:
        return not_empty();
      default:
        return true;
    }
  }

  bool check_tree(const Tree& t) {
    if (!t.has_id) return set_error("a tree has no id");
    bool ok = false;
    const std::int64_t n = parse_int(t.num_nodes, &ok);
    if (!ok || n < 1 || n > std::numeric_limits<std::int32_t>::max()) {
      return set_error("tree num_nodes is missing or invalid: \"" + t.num_nodes + "\"");
    }
    if (!t.size_leaf_vector.empty() && t.size_leaf_vector != "0") {
      return set_error("tree size_leaf_vector is not 0");
    }
    for (int fi = 0; fi < kNumFields; ++fi) {
      if (!t.has[fi] || static_cast<std::int64_t>(t.a[fi].size()) != n) {
        return set_error("a tree array is missing or does not have num_nodes entries");
      }
    }
    const auto& left = t.a[kLeft];
    const auto& right = t.a[kRight];
    const auto& parent = t.a[kParent];
    for (std::int64_t i = 0; i < n; ++i) {
      if (t.a[kSplitType][i] != 0) return not_empty();
      if (i > 0 && (parent[i] < 0 || parent[i] >= n)) return set_error("a tree has a parent link out of range");
    }
    // Walk from the root: every reachable internal node has two distinct, in-range, unvisited
    // children (so the tree is finite and acyclic) and a split feature >= 0.
    std::vector<char> visited(static_cast<std::size_t>(n), 0);
    std::vector<std::int64_t> todo{0};
    visited[0] = 1;
    while (!todo.empty()) {
      const std::int64_t u = todo.back();
      todo.pop_back();
      if (left[u] == -1) continue;  // leaf
      const std::int64_t l = left[u], r = right[u];
      if (l < 1 || l >= n || r < 1 || r >= n || l == r || visited[l] || visited[r]) {
        return set_error("a tree has a child link out of range or a cycle");
      }
      const std::int64_t s = t.a[kSplit][u];
      if (s < 0) return set_error("a tree has a negative split feature index");
      max_split_feature_ = std::max(max_split_feature_, s);
      visited[l] = visited[r] = 1;
      todo.push_back(l);
      todo.push_back(r);
    }
    return true;
  }

  std::size_t budget_;
  std::string error_;
  std::vector<Frame> stack_;
  std::vector<Tree> trees_;  // trees being read (at most one, given the context rules)
  std::vector<std::int64_t> tree_ids_;
  std::vector<std::int64_t> tree_info_;
  std::int64_t max_split_feature_ = -1;
  bool seen_learner_ = false, seen_trees_ = false;
  std::string gb_name_, objective_, num_feature_, num_class_, num_target_, num_trees_, num_parallel_tree_;
};

std::size_t check_model_bytes(const std::string& bytes) {
  if (bytes.empty()) throw DataError("xgboost model: empty buffer");
  // XGBoost takes a buffer as UBJSON when it starts with '{' followed by a letter (the type
  // marker of the first key's length); anything else would reach its JSON-text or legacy
  // binary readers, which save() never produces.
  if (bytes.size() < 2 || bytes[0] != '{' || !std::isalpha(static_cast<unsigned char>(bytes[1]))) {
    throw DataError("xgboost model: not an XGBoost UBJSON model");
  }
  ModelCheck mc(bytes.size());
  bool ok = false;
  try {
    ok = json::sax_parse(bytes.begin(), bytes.end(), &mc, json::input_format_t::ubjson, true);
  } catch (const json::exception& e) {
    throw DataError(std::string("xgboost model: malformed UBJSON: ") + first_line(e.what()));
  }
  (void)ok;  // on failure finish() reports the recorded error
  return mc.finish();
}

std::string predict_config() {
  return "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
         "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}";
}

// proxy: a DMatrix proxy kept by the caller and reused across calls, or nullptr. XGBoost 1.7 builds
// a fresh proxy when given none, and every proxy construction re-reads the cgroup CPU quota files
// (Context's constructor calls GetCfsCPUCount): about half of a one-row prediction.
std::vector<float> predict_dense(BoosterHandle h, const DenseMatrix& X, DMatrixHandle proxy = nullptr) {
  const std::uint32_t one = 1;
  unsigned char first_byte = 0;
  std::memcpy(&first_byte, &one, 1);
  char iface[256];
  std::snprintf(iface, sizeof iface,
                "{\"data\":[%" PRIuMAX ",true],\"shape\":[%zu,%zu],\"typestr\":\"%cf4\",\"version\":3}",
                static_cast<std::uintmax_t>(reinterpret_cast<std::uintptr_t>(X.data)), X.rows, X.cols,
                first_byte == 1 ? '<' : '>');
  const std::string config = predict_config();
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  check(XGBoosterPredictFromDense(h, iface, config.c_str(), proxy, &shape, &dim, &out),
        "XGBoosterPredictFromDense");
  bst_ulong total = 1;
  for (bst_ulong i = 0; i < dim; ++i) total *= shape[i];
  if (dim == 0 || total != X.rows || out == nullptr) {
    throw Error("xgboost: prediction has an unexpected shape", "in XGBoost call XGBoosterPredictFromDense");
  }
  return std::vector<float>(out, out + X.rows);
}

// Takes a trained or loaded booster into its final state: one prediction thread.
void finalize_booster(BoosterHandle h) { set_param(h, "nthread", "1"); }

}  // namespace

// --- XgbParams -------------------------------------------------------------------------------

void XgbParams::validate() const {
  check_int("max_depth", max_depth, 1, 20, "an integer between 1 and 20");
  if (!(eta > 0.0 && eta <= 1.0)) bad_param("eta", fmt_double(eta), "a number in (0, 1]");
  check_int("num_rounds", num_rounds, 1, 100000, "an integer between 1 and 100000");
  check_int("early_stopping_rounds", early_stopping_rounds, 0, 100000,
            "an integer between 0 and 100000 (0 = off)");
  if (!(subsample > 0.0 && subsample <= 1.0)) bad_param("subsample", fmt_double(subsample), "a number in (0, 1]");
  if (!(colsample_bytree > 0.0 && colsample_bytree <= 1.0)) {
    bad_param("colsample_bytree", fmt_double(colsample_bytree), "a number in (0, 1]");
  }
  if (!(min_child_weight >= 0.0 && std::isfinite(min_child_weight))) {
    bad_param("min_child_weight", fmt_double(min_child_weight), "a finite number >= 0");
  }
  if (!(lambda >= 0.0 && std::isfinite(lambda))) bad_param("lambda", fmt_double(lambda), "a finite number >= 0");
  if (!(alpha >= 0.0 && std::isfinite(alpha))) bad_param("alpha", fmt_double(alpha), "a finite number >= 0");
  check_int("nthread", nthread, 1, 64, "an integer between 1 and 64");
}

std::string XgbParams::to_json() const {
  nlohmann::ordered_json j;
  j["max_depth"] = max_depth;
  j["eta"] = eta;
  j["num_rounds"] = num_rounds;
  j["early_stopping_rounds"] = early_stopping_rounds;
  j["subsample"] = subsample;
  j["colsample_bytree"] = colsample_bytree;
  j["min_child_weight"] = min_child_weight;
  j["lambda"] = lambda;
  j["alpha"] = alpha;
  j["nthread"] = nthread;
  j["seed"] = seed;
  return j.dump();
}

// --- XgbModel --------------------------------------------------------------------------------

XgbModel::XgbModel(void* handle, std::size_t nfeat) : handle_(handle), nfeat_(nfeat) {
  // The prediction proxy, made once per model (see predict_dense). Without one, predict still works.
  DMatrixHandle proxy = nullptr;
  if (XGProxyDMatrixCreate(&proxy) == 0) proxy_ = proxy;
}

XgbModel::XgbModel(XgbModel&& o) noexcept : handle_(o.handle_), proxy_(o.proxy_), nfeat_(o.nfeat_) {
  o.handle_ = nullptr;
  o.proxy_ = nullptr;
  o.nfeat_ = 0;
}

XgbModel& XgbModel::operator=(XgbModel&& o) noexcept {
  if (this != &o) {
    if (handle_ != nullptr) XGBoosterFree(handle_);
    if (proxy_ != nullptr) XGDMatrixFree(proxy_);
    handle_ = o.handle_;
    proxy_ = o.proxy_;
    nfeat_ = o.nfeat_;
    o.handle_ = nullptr;
    o.proxy_ = nullptr;
    o.nfeat_ = 0;
  }
  return *this;
}

XgbModel::~XgbModel() {
  if (proxy_ != nullptr) XGDMatrixFree(proxy_);
  if (handle_ != nullptr) XGBoosterFree(handle_);
}

std::size_t XgbModel::num_features() const { return nfeat_; }

XgbModel XgbModel::train(const DenseMatrix& X, const std::vector<float>& y, const DenseMatrix& Xv,
                         const std::vector<float>& yv, const XgbParams& p,
                         const std::function<bool()>& should_stop, XgbTrainReport* report) {
  p.validate();
  check_matrix(X, "training matrix X");
  check_matrix(Xv, "validation matrix Xv");
  if (Xv.cols != X.cols) {
    throw InvalidParameter("validation matrix Xv has " + std::to_string(Xv.cols) +
                               " columns but training matrix X has " + std::to_string(X.cols),
                           "rule: X and Xv have the same columns");
  }
  check_labels(y, X, "training labels y", "X");
  check_labels(yv, Xv, "validation labels yv", "Xv");
  check_no_inf(X, "training matrix X");
  check_no_inf(Xv, "validation matrix Xv");

  DMatrixGuard dtrain, dvalid;
  make_dmatrix(X, y, &dtrain);
  make_dmatrix(Xv, yv, &dvalid);
  DMatrixHandle cache[2] = {dtrain.get(), dvalid.get()};
  BoosterGuard b;
  check(XGBoosterCreate(cache, 2, b.out()), "XGBoosterCreate");
  const std::pair<const char*, std::string> params[] = {
      {"objective", "reg:squarederror"},
      {"booster", "gbtree"},
      {"tree_method", "hist"},
      {"eval_metric", "rmse"},
      {"max_depth", std::to_string(p.max_depth)},
      {"eta", fmt_double(p.eta)},
      {"subsample", fmt_double(p.subsample)},
      {"colsample_bytree", fmt_double(p.colsample_bytree)},
      {"min_child_weight", fmt_double(p.min_child_weight)},
      {"lambda", fmt_double(p.lambda)},
      {"alpha", fmt_double(p.alpha)},
      {"nthread", std::to_string(p.nthread)},
      // XGBoost's seed is an int64: the 64 bits are passed through as a signed value.
      {"seed", std::to_string(static_cast<std::int64_t>(p.seed))},
      {"verbosity", "1"},
  };
  for (const auto& kv : params) set_param(b.get(), kv.first, kv.second);

  const char* valid_config =
      "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"strict_shape\":false}";
  XgbTrainReport rep;
  rep.valid_rmse.reserve(static_cast<std::size_t>(p.num_rounds));
  double best_key = std::numeric_limits<double>::infinity();
  int since_best = 0;
  for (int round = 0; round < p.num_rounds; ++round) {
    if (should_stop && should_stop()) {
      throw Cancelled("XGBoost training cancelled after " + std::to_string(round) + " rounds");
    }
    check(XGBoosterUpdateOneIter(b.get(), round, dtrain.get()), "XGBoosterUpdateOneIter");
    // RMSE of all trees so far on the validation set (XGBoost caches its predictions for dvalid,
    // so this costs one tree per round).
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* pred = nullptr;
    check(XGBoosterPredictFromDMatrix(b.get(), dvalid.get(), valid_config, &shape, &dim, &pred),
          "XGBoosterPredictFromDMatrix");
    bst_ulong total = 1;
    for (bst_ulong i = 0; i < dim; ++i) total *= shape[i];
    if (dim == 0 || total != Xv.rows || pred == nullptr) {
      throw Error("xgboost: validation prediction has an unexpected shape",
                  "in XGBoost call XGBoosterPredictFromDMatrix");
    }
    double sse = 0;
    for (std::size_t i = 0; i < Xv.rows; ++i) {
      const double d = static_cast<double>(pred[i]) - static_cast<double>(yv[i]);
      sse += d * d;
    }
    const double rmse = std::sqrt(sse / static_cast<double>(Xv.rows));
    rep.valid_rmse.push_back(rmse);
    const double key = std::isnan(rmse) ? std::numeric_limits<double>::infinity() : rmse;
    if (rep.best_iteration < 0 || key < best_key) {
      rep.best_iteration = round;
      rep.best_valid_rmse = rmse;
      best_key = key;
      since_best = 0;
    } else if (p.early_stopping_rounds > 0 && ++since_best >= p.early_stopping_rounds) {
      rep.early_stopped = true;
      break;
    }
  }

  const int rounds_done = static_cast<int>(rep.valid_rmse.size());
  rep.rounds_trained = p.early_stopping_rounds > 0 ? rep.best_iteration + 1 : rounds_done;
  // A fresh booster holding exactly the kept trees (and none of the training caches).
  BoosterGuard kept;
  const int rc = XGBoosterSlice(b.get(), 0, rep.rounds_trained, 1, kept.out());
  if (rc != 0) {
    throw Error("xgboost: " + (rc == -2 ? std::string("slice index out of bounds") : last_error()),
                "in XGBoost call XGBoosterSlice");
  }
  finalize_booster(kept.get());
  bst_ulong nfeat = 0;
  check(XGBoosterGetNumFeature(kept.get(), &nfeat), "XGBoosterGetNumFeature");
  if (nfeat != X.cols) {
    throw Error("xgboost: trained model has " + std::to_string(nfeat) + " features, expected " +
                std::to_string(X.cols));
  }
  XgbModel model(kept.release(), X.cols);
  if (report != nullptr) *report = std::move(rep);
  return model;
}

std::vector<float> XgbModel::predict(const DenseMatrix& X) const {
  if (handle_ == nullptr) throw Error("xgboost: predict on an empty (moved-from) model");
  if (X.cols != nfeat_) {
    throw InvalidParameter("matrix has " + std::to_string(X.cols) + " columns but the model has " +
                               std::to_string(nfeat_) + " features",
                           "rule: one column per model feature");
  }
  if (X.rows == 0) return {};
  check_matrix(X, "matrix");
  check_no_inf(X, "matrix");
  return predict_dense(handle_, X, proxy_);
}

std::string XgbModel::save() const {
  if (handle_ == nullptr) throw Error("xgboost: save of an empty (moved-from) model");
  bst_ulong len = 0;
  const char* buf = nullptr;
  check(XGBoosterSaveModelToBuffer(handle_, "{\"format\":\"ubj\"}", &len, &buf), "XGBoosterSaveModelToBuffer");
  if (buf == nullptr && len != 0) throw Error("xgboost: saved model buffer is null");
  return std::string(buf, buf + len);
}

XgbModel XgbModel::load(const std::string& bytes) {
  const std::size_t nfeat = check_model_bytes(bytes);
  // One thread from the start: XGBoost's loader runs a parallel loop over the trees with the
  // booster's configured thread count, and a parameter only takes effect when the booster is
  // configured, which needs data of the right width. So the booster is made over one row of
  // missing values, configured with nthread 1, and then loaded (which replaces everything else);
  // loading and predicting then start no OpenMP thread.
  std::vector<float> row(nfeat, std::numeric_limits<float>::quiet_NaN());
  const DenseMatrix one_row{row.data(), 1, nfeat};
  BoosterGuard b;
  {
    DMatrixGuard d;
    check(XGDMatrixCreateFromMat(row.data(), 1, nfeat, std::numeric_limits<float>::quiet_NaN(), d.out()),
          "XGDMatrixCreateFromMat");
    DMatrixHandle cache[1] = {d.get()};
    check(XGBoosterCreate(cache, 1, b.out()), "XGBoosterCreate");
    set_param(b.get(), "nthread", "1");
    bst_ulong len = 0;
    const char* config = nullptr;
    check(XGBoosterSaveJsonConfig(b.get(), &len, &config), "XGBoosterSaveJsonConfig");
  }
  if (XGBoosterLoadModelFromBuffer(b.get(), bytes.data(), bytes.size()) != 0) {
    throw DataError("xgboost model: " + last_error(), "in XGBoost call XGBoosterLoadModelFromBuffer");
  }
  finalize_booster(b.get());
  bst_ulong n = 0;
  check(XGBoosterGetNumFeature(b.get(), &n), "XGBoosterGetNumFeature");
  if (n != nfeat) throw DataError("xgboost model: inconsistent number of features");
  // One prediction on a row of missing values: configuration problems of the loaded model show
  // up here, as a DataError, rather than at the first real prediction.
  try {
    predict_dense(b.get(), one_row);
  } catch (const Error& e) {
    throw DataError(std::string("xgboost model: ") + (std::strncmp(e.what(), "xgboost: ", 9) == 0 ? e.what() + 9 : e.what()),
                    e.detail());
  }
  return XgbModel(b.release(), nfeat);
}

}  // namespace cml
