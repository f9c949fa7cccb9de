// The model registry's stored models, read with SPI and turned into cml::Model objects: shared by
// ml_train (the production model to beat, ensemble members) and ml_forecast (loading a model).
#pragma once

#include "model.hpp"
#include "pg.hpp"

namespace cml {
namespace pg {

// A stored model's bytes and type, fetched with SPI (for an ensemble, followed by its members).
struct Blob {
  char* batch_id;
  int type;
  const char* bytes;
  size_t len;
  double weight;  // as an ensemble member
};
struct BlobSet {
  int n;
  Blob items[3];
};


// Fetches a stored model (and, for an ensemble, its members) into `out`. False when the batch has
// no model row. Caller is connected to SPI; the bytes stay valid until SPI_finish. Errors
// (ereport) for a registry row naming an unknown model type or an ensemble member without bytes.
bool fetch_model(const char* batch_id, BlobSet* out);

// C++ (call inside guarded()): the model of fetched blobs; DataError for corrupt bytes.
cml::Model build_model(const BlobSet& s);

extern const char* const kModelTypeNames[3];  // indexed by cml::ModelType

}  // namespace pg
}  // namespace cml
