// cryptoml models behind one interface: an XGBoost model, an LSTM, or an ensemble (a weighted sum of
// member models), predicting the horizon's percentage change for rows of time-ordered feature
// vectors; plus the evaluation shared by every model type (metrics beside the zero-change
// baseline, the confidence calibration). Pure C++17: no PostgreSQL header may be included here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "lstm.hpp"
#include "xgb.hpp"

namespace cml {

// Time-ordered feature rows (row-major rows x cols, NaN = missing) and, per row, how many rows end
// there contiguously in time: run[i] = 1 when row i-1 is not the previous minute, else run[i-1] + 1.
// A model with sequence length L can predict row i only when run[i] >= L.
struct FeatureRows {
  const double* X = nullptr;
  std::size_t rows = 0, cols = 0;
  const int* run = nullptr;
};

// run[] for a series of minute timestamps.
std::vector<int> contiguous_runs(const std::vector<long long>& minutes);

enum class ModelType { xgboost, lstm, ensemble };
const char* model_type_name(ModelType t);
// Throws InvalidParameter naming the value and the rule for anything else.
ModelType parse_model_type(const std::string& name);

class Model {
 public:
  static Model from_xgboost(XgbModel m);
  static Model from_lstm(LstmModel m);
  // members: (model, weight); weights finite, >= 0, sum > 0 (normalized here to sum 1); at least
  // two members, none of them an ensemble. InvalidParameter otherwise.
  static Model ensemble(std::vector<std::pair<Model, double>> members);
  // Loads saved bytes of an xgboost or lstm model (DataError for corrupt bytes).
  static Model load(ModelType t, const std::string& bytes);

  ModelType type() const { return type_; }
  // Rows of history one prediction needs: 1 (xgboost), L (lstm), the members' maximum (ensemble).
  int sequence_length() const;
  std::size_t num_features() const;
  // One prediction per row index; every row must have run >= sequence_length() (InvalidParameter
  // otherwise, naming the row), and cols must equal num_features().
  std::vector<double> predict(const FeatureRows& d, const std::vector<std::size_t>& rows) const;
  // Saved bytes (xgboost UBJSON, lstm "CMLL"); an ensemble has no bytes of its own (Error).
  std::string save() const;
  const std::vector<std::pair<Model, double>>& members() const { return members_; }

 private:
  ModelType type_ = ModelType::xgboost;
  std::shared_ptr<const XgbModel> xgb_;
  std::shared_ptr<const LstmModel> lstm_;
  std::vector<std::pair<Model, double>> members_;  // ensemble: weights sum to 1
};

// Weights for an ensemble learned on validation predictions: inverse mean squared error, normalized
// to sum 1 (a member with zero error gets all the weight). preds[m][i] is member m's prediction of
// y[i]. InvalidParameter for no members, size mismatches or no rows.
std::vector<double> inverse_mse_weights(const std::vector<std::vector<double>>& preds, const std::vector<double>& y);
// The same weights from the members' mean squared errors (finite, >= 0; InvalidParameter otherwise).
std::vector<double> inverse_mse_from_errors(const std::vector<double>& mse);

// Validation metrics of predictions against targets: RMSE, MAE, directional accuracy (share of
// rows with a non-zero target whose direction the prediction got right), and
// the RMSE of the zero-change baseline on the same rows. Direction: "up" when prediction > 0, so a
// zero prediction counts as a down call.
struct Metrics {
  std::size_t n = 0;
  double rmse = 0, mae = 0, accuracy = 0, baseline_rmse = 0;
};
Metrics evaluate(const std::vector<double>& pred, const std::vector<double>& y);

// Confidence calibration: rows with a non-zero target sorted by |prediction| and cut into up to five
// equal buckets (at least 10 rows each); each bucket's directional hit rate. JSON:
// {"method": "...", "buckets": [{"min_abs_pred": 0, "hit_rate": 0.52, "n": 800}, ...]}.
std::string calibration_json(const std::vector<double>& pred, const std::vector<double>& y);

// The same buckets as values: min_abs_pred ascending (the first is 0).
struct CalibrationBucket { double min_abs_pred; double hit_rate; std::size_t n; };
std::vector<CalibrationBucket> calibration_buckets(const std::vector<double>& pred, const std::vector<double>& y);
// A prediction's confidence in %: 100 x the hit rate of the last bucket whose min_abs_pred <= |predicted|,
// clamped to [0, 100]; 50 when there is no bucket (or the prediction is NaN). ml_forecast and
// the backtests both state confidence with it.
double confidence_of(const std::vector<CalibrationBucket>& buckets, double predicted);

}  // namespace cml
