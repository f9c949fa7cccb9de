// Compact JSON text of an untrusted value for error messages. Pure C++17: no PostgreSQL header
// may be included here.
//
// nlohmann's dump() recurses once per nesting level, so dumping a deeply nested value taken from
// an untrusted document ("[[[[...", a million levels in a 4 MB exchange body or a config value)
// overflowed the stack and crashed the process (found by fuzz/exchange_fuzz and fuzz/config_fuzz,
// docs/fuzzing.md). json_text() checks the depth first, without recursion, and describes a value
// nested deeper than kMaxJsonTextDepth instead of dumping it.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cml {

// Deepest nesting that json_text() dumps (a scalar is depth 0, [1] is depth 1).
constexpr std::size_t kMaxJsonTextDepth = 64;

// True when v has arrays or objects nested more than max_depth levels deep (iterative).
inline bool json_deeper_than(const nlohmann::json& v, std::size_t max_depth) {
  std::vector<std::pair<const nlohmann::json*, std::size_t>> todo{{&v, 0}};
  while (!todo.empty()) {
    const auto [node, depth] = todo.back();
    todo.pop_back();
    if (!node->is_structured() || node->empty()) continue;
    if (depth + 1 > max_depth) return true;
    for (const auto& child : *node) todo.emplace_back(&child, depth + 1);
  }
  return false;
}

// v.dump() (compact; invalid UTF-8 replaced by U+FFFD), or, for a value nested more than
// kMaxJsonTextDepth levels deep, "<array nested more than 64 levels deep>" (object likewise).
inline std::string json_text(const nlohmann::json& v) {
  if (json_deeper_than(v, kMaxJsonTextDepth))
    return std::string("<") + v.type_name() + " nested more than " + std::to_string(kMaxJsonTextDepth) +
           " levels deep>";
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cml
