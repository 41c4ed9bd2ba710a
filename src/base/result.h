// Errors are values. Every fallible operation in libdc returns a Result<T>
// (or Status, for operations with no value): either the value, or an Error
// saying what happened, to what, and what to do. A C library's error code
// becomes an Error exactly once, at the wrapper that called it.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace dc {

// What kind of failure, so callers can decide without parsing messages.
enum class Errc {
  invalid_argument,  // bad input: a value, a flag, a message field
  not_found,         // no such app, command, manager, file
  conflict,          // already exists / already claimed / lease held
  unavailable,       // a service cannot be reached now; retrying may work
  auth,              // credentials refused
  access_refused,    // permission denied for a resource (vhost, queue)
  protocol,          // the peer broke protocol or closed the channel/connection
  timeout,           // a deadline passed
  io,                // local file or system call failure
  schema,            // database schema is newer than this build / corrupt
  internal,          // a bug: an invariant did not hold
  fenced,            // this process no longer holds the lease it acts under: stop acting at once
};

std::string_view to_string(Errc code);

class Error {
 public:
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  Errc code() const { return code_; }
  const std::string& message() const { return message_; }
  // True for failures that may succeed when retried (lost connection, busy).
  bool retryable() const { return code_ == Errc::unavailable || code_ == Errc::timeout; }

  // Returns a copy whose message is prefixed with `context: `.
  Error with_context(std::string_view context) const;

 private:
  Errc code_;
  std::string message_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok_status() { return {}; }

}  // namespace dc
