// Shared helpers of the cryptoml libFuzzer targets (fuzz/*_fuzz.cpp). See docs/fuzzing.md.
//
// The rule every target checks: an invalid input is rejected by a cml::Error (InvalidParameter,
// DataError, ...). Only those are caught here; any other exception escapes the fuzz entry point,
// std::terminate aborts, and libFuzzer reports the input as a crash. Sanitizer reports, hangs
// (-timeout) and huge allocations (-malloc_limit_mb / -rss_limit_mb) are reported by libFuzzer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "errors.hpp"

// A broken invariant on an ACCEPTED input: print and abort, so libFuzzer saves the input.
#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace fuzz {

inline std::string bytes(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Runs f(); returns true when it returned normally, false when it threw a cml::Error (the
// documented rejection). Anything else propagates.
template <class F>
bool accepts(F&& f) {
  try {
    f();
    return true;
  } catch (const cml::Error& e) {
    // Every rejection carries a message: an empty what() would leave the user with nothing.
    FUZZ_CHECK(e.what() != nullptr && e.what()[0] != '\0');
    return false;
  }
}

}  // namespace fuzz
