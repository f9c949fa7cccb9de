// libFuzzer target: the indicator checkpoint codec, cml::IndicatorState::deserialize.
//
// Input: the checkpoint bytes. When deserialize accepts them: serialize() gives the same bytes
// back (the format has one encoding per state), one update() with a fixed bar works (or is
// rejected by a cml::Error), and the state after that update serializes to bytes that
// deserialize accepts again (a checkpoint the trigger writes can always be read back).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_common.hpp"
#include "indicators.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in = fuzz::bytes(data, size);
  std::unique_ptr<cml::IndicatorState> s;
  if (!fuzz::accepts([&] { s.reset(new cml::IndicatorState(cml::IndicatorState::deserialize(in))); }))
    return 0;
  FUZZ_CHECK(s->serialize() == in);
  const std::int64_t bars = s->bars();
  if (fuzz::accepts([&] { s->update(101.5, 99.25, 100.75); })) {
    FUZZ_CHECK(s->bars() == bars + 1);
    const std::string next = s->serialize();
    std::unique_ptr<cml::IndicatorState> back;
    FUZZ_CHECK(fuzz::accepts([&] { back.reset(new cml::IndicatorState(cml::IndicatorState::deserialize(next))); }));
    FUZZ_CHECK(back->serialize() == next);
  } else {
    FUZZ_CHECK(s->serialize() == in);  // a rejected update leaves the state unchanged
  }
  return 0;
}
