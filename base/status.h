// Errors as values at component boundaries.
//
// A Status is either ok or a code plus a message that says what was wrong, in words a user can
// act on. Result<T> is a Status or a T. No exception crosses a component boundary: foreign error
// types (rocksdb::Status, grpc::Status, libsodium ints, protobuf parse bools) are translated into
// these in one place per component.
//
// kCorruption means stored bytes are wrong (hash link, signature, checksum); it is reported and
// never retried quietly. kBusy means a named limit was hit.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/assert.h"

namespace base {

enum class Code {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kCorruption,
  kIOError,
  kNotLeader,
  kBusy,
  kUnavailable,
  // The request names something that exists with other content (an event id on the ledger or
  // in flight with a different hash). Nothing was changed.
  kAlreadyExists,
};

std::string_view code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status not_found(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status invalid_argument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status io_error(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status not_leader(std::string msg) { return Status(Code::kNotLeader, std::move(msg)); }
  static Status busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status already_exists(std::string msg) {
    return Status(Code::kAlreadyExists, std::move(msg));
  }

  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: expiry is before effective time".
  std::string to_string() const;

  // Prefixes the message with context, keeping the code: "block 12: <message>".
  Status with_context(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline std::string_view code_name(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NotFound";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kCorruption: return "Corruption";
    case Code::kIOError: return "IOError";
    case Code::kNotLeader: return "NotLeader";
    case Code::kBusy: return "Busy";
    case Code::kUnavailable: return "Unavailable";
    case Code::kAlreadyExists: return "AlreadyExists";
  }
  return "Unknown";
}

inline std::string Status::to_string() const {
  if (is_ok()) return "OK";
  std::string out(code_name(code_));
  out += ": ";
  out += message_;
  return out;
}

inline Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

// Result<T>: a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : value_(std::move(status)) {  // NOLINT: implicit by design
    LEDGER_ASSERT(!std::get<Status>(value_).is_ok());
  }

  bool is_ok() const { return std::holds_alternative<T>(value_); }
  const Status& status() const {
    static const Status kOkStatus;
    return is_ok() ? kOkStatus : std::get<Status>(value_);
  }
  T& value() & {
    LEDGER_ASSERT(is_ok());
    return std::get<T>(value_);
  }
  const T& value() const& {
    LEDGER_ASSERT(is_ok());
    return std::get<T>(value_);
  }
  T&& value() && {
    LEDGER_ASSERT(is_ok());
    return std::get<T>(std::move(value_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace base

// Returns early with the Status of `expr` if it is not ok.
#define RETURN_IF_ERROR(expr)                       \
  do {                                              \
    ::base::Status status_macro_tmp_ = (expr);      \
    if (!status_macro_tmp_.is_ok()) return status_macro_tmp_; \
  } while (0)

#define BASE_CONCAT_INNER(a, b) a##b
#define BASE_CONCAT(a, b) BASE_CONCAT_INNER(a, b)
// ASSIGN_OR_RETURN(auto x, f()): binds the value of a Result or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(BASE_CONCAT(result_macro_tmp_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.is_ok()) return tmp.status();      \
  lhs = std::move(tmp).value()
