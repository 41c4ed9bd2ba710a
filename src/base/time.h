// Wall-clock helpers. Timestamps on the wire and in the store are ISO-8601
// UTC with a `Z` suffix ("2025-01-15T10:30:00Z", optionally with fractional
// seconds); inside the program they are TimePoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dc {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::microseconds>;

TimePoint now();

// "2025-01-15T10:30:00.123456Z"; fractional digits only when non-zero.
std::string format_iso8601(TimePoint t);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; a space may
// stand for the `T`. Returns nullopt for anything else.
std::optional<TimePoint> parse_iso8601(std::string_view text);

// Microseconds since the Unix epoch, the store's integer time representation.
int64_t to_unix_micros(TimePoint t);
TimePoint from_unix_micros(int64_t micros);

// A count of seconds since the epoch as it arrives from outside (an AMQP
// timestamp is any unsigned 64-bit value). nullopt past the end of year
// 9999, where the conversion to microseconds would overflow.
std::optional<TimePoint> from_unix_seconds(uint64_t seconds);

}  // namespace dc
