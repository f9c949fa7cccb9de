// libFuzzer target: the XGBoost model loader, cml::XgbModel::load, and cml::Model::load for the
// xgboost and ensemble types (libxgboost itself is not instrumented: only what it does to our
// memory and what escapes from it is seen).
//
// Input: the model bytes (XGBoost UBJSON). Inputs of even size go through Model::load(xgboost),
// odd ones through XgbModel::load directly. An accepted model predicts once on a fixed row, and
// its save() bytes load again. Model::load(ensemble, bytes) must always be InvalidParameter.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "model_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in = fuzz::bytes(data, size);
  std::unique_ptr<cml::Model> m;
  const bool ok = fuzz::accepts([&] {
    if (size % 2 == 0)
      m.reset(new cml::Model(cml::Model::load(cml::ModelType::xgboost, in)));
    else
      m.reset(new cml::Model(cml::Model::from_xgboost(cml::XgbModel::load(in))));
  });
  if (ok) {
    FUZZ_CHECK(m->type() == cml::ModelType::xgboost && m->sequence_length() == 1);
    fuzz::predict_fixed_row(*m);
    const std::string saved = m->save();
    std::unique_ptr<cml::Model> again;
    FUZZ_CHECK(fuzz::accepts([&] { again.reset(new cml::Model(cml::Model::load(cml::ModelType::xgboost, saved))); }));
    FUZZ_CHECK(again->num_features() == m->num_features());
  }
  try {
    cml::Model::load(cml::ModelType::ensemble, in);
    FUZZ_CHECK(!"Model::load(ensemble) accepted bytes");
  } catch (const cml::InvalidParameter&) {
  }
  return 0;
}
