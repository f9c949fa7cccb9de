// libFuzzer target: the LSTM model loader, cml::LstmModel::load, and cml::Model::load(lstm).
//
// Input: the model bytes ("CMLL" format, docs/lstm.md). The bytes are loaded as they are; then,
// since a random mutation almost never keeps the trailing CRC-32 right, a copy whose last four
// bytes are replaced by the CRC-32 of the rest is loaded too (through Model::load), so the checks
// behind the checksum are reached. An accepted model predicts once on a fixed row, and its save()
// gives back exactly the bytes it was loaded from.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "model_common.hpp"

namespace {

// CRC-32 (IEEE 802.3, reflected, as the CMLL format uses).
std::uint32_t crc32(const unsigned char* p, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void load_and_use(const std::string& bytes, bool via_model) {
  std::unique_ptr<cml::Model> m;
  const bool ok = fuzz::accepts([&] {
    if (via_model)
      m.reset(new cml::Model(cml::Model::load(cml::ModelType::lstm, bytes)));
    else
      m.reset(new cml::Model(cml::Model::from_lstm(cml::LstmModel::load(bytes))));
  });
  if (!ok) return;
  FUZZ_CHECK(m->type() == cml::ModelType::lstm);
  FUZZ_CHECK(m->save() == bytes);
  fuzz::predict_fixed_row(*m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in = fuzz::bytes(data, size);
  load_and_use(in, false);
  if (size >= 8) {
    std::string fixed = in;
    const std::uint32_t c = crc32(reinterpret_cast<const unsigned char*>(fixed.data()), fixed.size() - 4);
    for (int i = 0; i < 4; ++i) fixed[fixed.size() - 4 + i] = static_cast<char>((c >> (8 * i)) & 0xFFu);
    if (fixed != in) load_and_use(fixed, true);
  }
  return 0;
}
