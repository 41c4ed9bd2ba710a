// Keeping credentials out of messages and logs. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace dc {

// `url` with the password of its user-info part and the value of any
// `password=` query parameter (any case) replaced by "***": the only form of
// a database URL that may appear in a message or a log line. A password with
// an unescaped '/' or '@' is still masked whole (over-masking beats a leak).
std::string redact_url(std::string_view url);

}  // namespace dc
