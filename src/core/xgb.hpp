// cryptoml XGBoost wrapper: regression training with early stopping, one-thread prediction,
// model (de)serialization. Pure C++17: no PostgreSQL header may be included here.
//
// Every XGBoost handle is owned by an XgbModel or by a guard local to one call; nothing in static
// storage owns a booster (a static owner crashed PostgreSQL backends at exit).
//
// Errors: InvalidParameter for bad arguments (message names the parameter/argument, the value and
// the rule), Cancelled when should_stop asked training to stop, DataError for model bytes that are
// not a valid saved model, cml::Error ("xgboost: <first line of XGBoost's error>", detail names the
// C API call) for any other XGBoost failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "errors.hpp"

namespace cml {

struct XgbParams {
  int max_depth = 6;
  double eta = 0.1;
  int num_rounds = 300;               // upper bound; early stopping usually ends sooner
  int early_stopping_rounds = 10;     // stop when validation RMSE has not improved for this many rounds (0 = off)
  double subsample = 1.0, colsample_bytree = 1.0, min_child_weight = 1.0, lambda = 1.0, alpha = 0.0;
  int nthread = 1;                    // threads XGBoost may use while training (predict always uses 1)
  std::uint64_t seed = 0;
  // Validates ranges, throwing InvalidParameter naming the parameter, the value and the rule:
  // max_depth 1..20, eta (0,1], num_rounds 1..100000, early_stopping_rounds 0..100000, subsample (0,1],
  // colsample_bytree (0,1], min_child_weight >= 0, lambda >= 0, alpha >= 0, nthread 1..64.
  // (min_child_weight, lambda and alpha must also be finite.)
  void validate() const;
  // JSON object of every field (for storing with a model): {"max_depth":6,...}
  std::string to_json() const;
};

struct XgbTrainReport {
  int rounds_trained = 0;             // trees kept (best iteration + 1 when early stopping fired)
  int best_iteration = -1;
  double best_valid_rmse = 0;         // on the validation set
  std::vector<double> valid_rmse;     // per round
  bool early_stopped = false;
};

// A dense row-major float matrix; NaN = missing.
struct DenseMatrix {
  const float* data; std::size_t rows; std::size_t cols;
};

class XgbModel {
 public:
  XgbModel(XgbModel&&) noexcept; XgbModel& operator=(XgbModel&&) noexcept;
  XgbModel(const XgbModel&) = delete; XgbModel& operator=(const XgbModel&) = delete;
  ~XgbModel();   // frees the booster

  // Trains a regression model (reg:squarederror, tree_method hist) on X/y, evaluating RMSE on the
  // validation set after every round, with early stopping; keeps only the best iteration's trees.
  // should_stop is polled between rounds; when it returns true training stops and Cancelled is thrown.
  // Throws InvalidParameter for empty sets, mismatched sizes, non-finite labels, cols mismatch.
  //
  // Trees kept: with early_stopping_rounds > 0, the trees of rounds 0..best_iteration (whether or
  // not early stopping fired before num_rounds); with early_stopping_rounds == 0, all num_rounds
  // trees. Feature values may be NaN (missing) but not +-infinity (InvalidParameter). The RMSE is
  // computed in double precision from the model's predictions; a round improves only when its
  // RMSE is strictly below the best so far. An empty should_stop never stops.
  static XgbModel train(const DenseMatrix& X, const std::vector<float>& y, const DenseMatrix& Xv,
                        const std::vector<float>& yv, const XgbParams& p, const std::function<bool()>& should_stop,
                        XgbTrainReport* report);

  // Predictions for every row, one thread, using exactly the kept trees. Not safe to call
  // concurrently on one model (the model's reusable input proxy is shared).
  // Throws InvalidParameter when X.cols != num_features() or a value is +-infinity; 0 rows -> {}.
  std::vector<float> predict(const DenseMatrix& X) const;

  std::size_t num_features() const;

  // Serialized model (XGBoost's UBJSON buffer), copied out of the booster.
  std::string save() const;

  // Loads a saved model. Throws DataError("xgboost model: <first line of XGBoost's error>") for corrupt bytes.
  // The bytes are first checked by a bounds-checked UBJSON reader (XGBoost 1.7's own reader does
  // not check lengths) and for the shape of a single-output gbtree regression model (tree links in
  // range and acyclic, split features < num_feature, num_feature between 1 and 1000000); failures there throw
  // DataError("xgboost model: <what is wrong>").
  static XgbModel load(const std::string& bytes);

 private:
  explicit XgbModel(void* handle, std::size_t nfeat);
  void* handle_ = nullptr;
  void* proxy_ = nullptr;  // XGBoost DMatrix proxy reused by predict
  std::size_t nfeat_ = 0;
};

}  // namespace cml
