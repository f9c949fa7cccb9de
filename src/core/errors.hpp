// cryptoml core error types. Pure C++17: no PostgreSQL header may be included here.
//
// The binding layer (src/pg/guard.hpp) maps each type to a SQLSTATE:
//   InvalidParameter -> 22023 invalid_parameter_value
//   DataError        -> 22000 data_exception
//   std::bad_alloc   -> 53200 out_of_memory
//   Cancelled        -> 57014 query_canceled
//   anything else    -> XX000 internal_error
#pragma once

#include <stdexcept>
#include <string>

namespace cml {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg, std::string detail = {}, std::string hint = {})
      : std::runtime_error(msg), detail_(std::move(detail)), hint_(std::move(hint)) {}
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  std::string detail_;
  std::string hint_;
};

// A caller passed a value that breaks a documented rule (bad argument, bad config value).
class InvalidParameter : public Error {
 public:
  using Error::Error;
};

// Data the operation works on is unusable (corrupt model bytes, inconsistent candles).
class DataError : public Error {
 public:
  using Error::Error;
};

// A long computation stopped because the host asked it to (cancel, statement_timeout).
class Cancelled : public Error {
 public:
  using Error::Error;
};

}  // namespace cml
