#include "base/result.h"

namespace dc {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid argument";
    case Errc::not_found:
      return "not found";
    case Errc::conflict:
      return "conflict";
    case Errc::unavailable:
      return "unavailable";
    case Errc::auth:
      return "authentication failed";
    case Errc::access_refused:
      return "access refused";
    case Errc::protocol:
      return "protocol error";
    case Errc::timeout:
      return "timeout";
    case Errc::io:
      return "i/o error";
    case Errc::schema:
      return "schema error";
    case Errc::internal:
      return "internal error";
    case Errc::fenced:
      return "fenced";
  }
  return "unknown error";
}

Error Error::with_context(std::string_view context) const {
  std::string message(context);
  message += ": ";
  message += message_;
  return Error(code_, std::move(message));
}

}  // namespace dc
