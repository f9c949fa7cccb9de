// See model.hpp.
#include "model.hpp"

#include "text.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace cml {

using json = nlohmann::json;

std::vector<int> contiguous_runs(const std::vector<long long>& minutes) {
  std::vector<int> run(minutes.size());
  for (std::size_t i = 0; i < minutes.size(); ++i)
    run[i] = (i > 0 && minutes[i] == minutes[i - 1] + 1) ? run[i - 1] + 1 : 1;
  return run;
}

const char* model_type_name(ModelType t) {
  switch (t) {
    case ModelType::xgboost: return "xgboost";
    case ModelType::lstm: return "lstm";
    case ModelType::ensemble: return "ensemble";
  }
  return "?";
}

ModelType parse_model_type(const std::string& name) {
  if (name == "xgboost") return ModelType::xgboost;
  if (name == "lstm") return ModelType::lstm;
  if (name == "ensemble") return ModelType::ensemble;
  throw InvalidParameter("unknown model_type \"" + clip_for_message(name) + "\"",
                         "rule: model_type must be one of xgboost, lstm, ensemble");
}

Model Model::from_xgboost(XgbModel m) {
  Model r;
  r.type_ = ModelType::xgboost;
  r.xgb_ = std::make_shared<const XgbModel>(std::move(m));
  return r;
}

Model Model::from_lstm(LstmModel m) {
  Model r;
  r.type_ = ModelType::lstm;
  r.lstm_ = std::make_shared<const LstmModel>(std::move(m));
  return r;
}

Model Model::ensemble(std::vector<std::pair<Model, double>> members) {
  if (members.size() < 2)
    throw InvalidParameter("an ensemble needs at least two members, got " + std::to_string(members.size()));
  double sum = 0;
  for (const auto& m : members) {
    if (m.first.type() == ModelType::ensemble) throw InvalidParameter("an ensemble member cannot itself be an ensemble");
    if (!std::isfinite(m.second) || m.second < 0)
      throw InvalidParameter("ensemble weight of the " + std::string(model_type_name(m.first.type())) + " member is " +
                                 std::to_string(m.second),
                             "rule: weights are finite numbers >= 0 with a sum > 0");
    if (m.first.num_features() != members[0].first.num_features())
      throw InvalidParameter("ensemble members disagree on the number of features");
    sum += m.second;
  }
  if (!(sum > 0)) throw InvalidParameter("ensemble weights sum to 0", "rule: weights are finite numbers >= 0 with a sum > 0");
  for (auto& m : members) m.second /= sum;
  Model r;
  r.type_ = ModelType::ensemble;
  r.members_ = std::move(members);
  return r;
}

Model Model::load(ModelType t, const std::string& bytes) {
  switch (t) {
    case ModelType::xgboost: return from_xgboost(XgbModel::load(bytes));
    case ModelType::lstm: return from_lstm(LstmModel::load(bytes));
    case ModelType::ensemble: break;
  }
  throw InvalidParameter("an ensemble is loaded from its members, not from bytes");
}

int Model::sequence_length() const {
  switch (type_) {
    case ModelType::xgboost: return 1;
    case ModelType::lstm: return lstm_->params().sequence_length;
    case ModelType::ensemble: {
      int l = 1;
      for (const auto& m : members_) l = std::max(l, m.first.sequence_length());
      return l;
    }
  }
  return 1;
}

std::size_t Model::num_features() const {
  switch (type_) {
    case ModelType::xgboost: return xgb_->num_features();
    case ModelType::lstm: return lstm_->num_features();
    case ModelType::ensemble: return members_.empty() ? 0 : members_[0].first.num_features();
  }
  return 0;
}

std::vector<double> Model::predict(const FeatureRows& d, const std::vector<std::size_t>& rows) const {
  if (d.cols != num_features())
    throw InvalidParameter("feature rows have " + std::to_string(d.cols) + " columns but the model has " +
                           std::to_string(num_features()) + " features");
  const int L = sequence_length();
  for (std::size_t r : rows) {
    if (r >= d.rows) throw InvalidParameter("row " + std::to_string(r) + " is out of range (" + std::to_string(d.rows) + " rows)");
    if (d.run == nullptr ? L > 1 : d.run[r] < L)
      throw InvalidParameter("row " + std::to_string(r) + " has " + std::to_string(d.run ? d.run[r] : 1) +
                             " contiguous minutes of history, the " + model_type_name(type_) + " model needs " +
                             std::to_string(L));
  }
  std::vector<double> out;
  if (rows.empty()) return out;
  switch (type_) {
    case ModelType::xgboost: {
      std::vector<float> X(rows.size() * d.cols);
      for (std::size_t k = 0; k < rows.size(); ++k)
        for (std::size_t c = 0; c < d.cols; ++c) X[k * d.cols + c] = static_cast<float>(d.X[rows[k] * d.cols + c]);
      std::vector<float> p = xgb_->predict(DenseMatrix{X.data(), rows.size(), d.cols});
      out.assign(p.begin(), p.end());
      return out;
    }
    case ModelType::lstm: {
      SequenceSet s;
      s.X = d.X;
      s.rows = d.rows;
      s.cols = d.cols;
      s.ends = rows;
      return lstm_->predict(s);
    }
    case ModelType::ensemble: {
      out.assign(rows.size(), 0.0);
      for (const auto& m : members_) {
        std::vector<double> p = m.first.predict(d, rows);
        for (std::size_t k = 0; k < rows.size(); ++k) out[k] += m.second * p[k];
      }
      return out;
    }
  }
  return out;
}

std::string Model::save() const {
  switch (type_) {
    case ModelType::xgboost: return xgb_->save();
    case ModelType::lstm: return lstm_->save();
    case ModelType::ensemble: break;
  }
  throw Error("an ensemble has no model bytes of its own (its members do)");
}

std::vector<double> inverse_mse_weights(const std::vector<std::vector<double>>& preds, const std::vector<double>& y) {
  if (preds.empty()) throw InvalidParameter("no ensemble members to weight");
  if (y.empty()) throw InvalidParameter("no validation rows to weight the ensemble members on");
  std::vector<double> mse(preds.size(), 0.0);
  for (std::size_t m = 0; m < preds.size(); ++m) {
    if (preds[m].size() != y.size())
      throw InvalidParameter("member " + std::to_string(m) + " has " + std::to_string(preds[m].size()) +
                             " predictions for " + std::to_string(y.size()) + " rows");
    for (std::size_t i = 0; i < y.size(); ++i) mse[m] += (preds[m][i] - y[i]) * (preds[m][i] - y[i]);
    mse[m] /= static_cast<double>(y.size());
    if (!std::isfinite(mse[m])) throw InvalidParameter("member " + std::to_string(m) + " has a non-finite validation error");
  }
  return inverse_mse_from_errors(mse);
}

std::vector<double> inverse_mse_from_errors(const std::vector<double>& mse) {
  if (mse.empty()) throw InvalidParameter("no ensemble members to weight");
  for (std::size_t m = 0; m < mse.size(); ++m)
    if (!std::isfinite(mse[m]) || mse[m] < 0)
      throw InvalidParameter("member " + std::to_string(m) + " has a mean squared error that is not a finite number >= 0");
  std::vector<double> w(mse.size(), 0.0);
  bool exact = false;
  for (double e : mse) exact |= e == 0;
  double sum = 0;
  for (std::size_t m = 0; m < mse.size(); ++m) {
    w[m] = exact ? (mse[m] == 0 ? 1.0 : 0.0) : 1.0 / mse[m];
    sum += w[m];
  }
  for (double& x : w) x /= sum;
  return w;
}

Metrics evaluate(const std::vector<double>& pred, const std::vector<double>& y) {
  if (pred.size() != y.size()) throw InvalidParameter("evaluate: predictions and targets differ in size");
  Metrics m;
  m.n = y.size();
  if (y.empty()) return m;
  double se = 0, ae = 0, base = 0;
  std::size_t dir_n = 0, dir_ok = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double e = pred[i] - y[i];
    se += e * e;
    ae += std::fabs(e);
    base += y[i] * y[i];
    if (y[i] != 0) {
      ++dir_n;
      dir_ok += (pred[i] > 0) == (y[i] > 0);
    }
  }
  const double n = static_cast<double>(y.size());
  m.rmse = std::sqrt(se / n);
  m.mae = ae / n;
  m.baseline_rmse = std::sqrt(base / n);
  m.accuracy = dir_n ? static_cast<double>(dir_ok) / static_cast<double>(dir_n) : 0;
  return m;
}

std::vector<CalibrationBucket> calibration_buckets(const std::vector<double>& pred, const std::vector<double>& y) {
  if (pred.size() != y.size()) throw InvalidParameter("calibration: predictions and targets differ in size");
  std::vector<std::pair<double, bool>> scored;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (y[i] != 0) scored.push_back({std::fabs(pred[i]), (pred[i] > 0) == (y[i] > 0)});
  std::sort(scored.begin(), scored.end());
  std::vector<CalibrationBucket> buckets;
  const std::size_t nb = std::min<std::size_t>(5, std::max<std::size_t>(1, scored.size() / 10));
  for (std::size_t b = 0; b < nb; ++b) {
    const std::size_t lo = scored.size() * b / nb, hi = scored.size() * (b + 1) / nb;
    if (hi <= lo) continue;
    std::size_t ok = 0;
    for (std::size_t i = lo; i < hi; ++i) ok += scored[i].second;
    buckets.push_back({b == 0 ? 0.0 : scored[lo].first, static_cast<double>(ok) / static_cast<double>(hi - lo), hi - lo});
  }
  return buckets;
}

std::string calibration_json(const std::vector<double>& pred, const std::vector<double>& y) {
  json buckets = json::array();
  for (const CalibrationBucket& b : calibration_buckets(pred, y))
    buckets.push_back({{"min_abs_pred", b.min_abs_pred}, {"hit_rate", b.hit_rate}, {"n", b.n}});
  return json{{"method", "validation hit rate by |prediction| quintile"}, {"buckets", buckets}}.dump();
}

double confidence_of(const std::vector<CalibrationBucket>& buckets, double predicted) {
  double hit_rate = 0.5;
  for (const CalibrationBucket& b : buckets)
    if (std::fabs(predicted) >= b.min_abs_pred) hit_rate = b.hit_rate;  // never for NaN
  return std::min(100.0, std::max(0.0, 100.0 * hit_rate));
}

}  // namespace cml
