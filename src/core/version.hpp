#pragma once
namespace cml {
// Keep equal to default_version in cryptoml.control (a unit test and a regression test check it).
inline constexpr const char* kVersion = "0.11.0";
}  // namespace cml
