// Wall-clock helpers. Timestamps on the wire (the message body) and in the
// store are ISO-8601 UTC text ("2025-01-15T10:30:00Z"; the store always
// writes six fractional digits, see store/codec.h); inside the program they
// are TimePoint, microseconds since the Unix epoch. Thread-safe.
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

// "2025-01-15T10:30:00.123456Z"; the six fractional digits only when they
// are not all zero.
std::string format_iso8601(TimePoint t);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)": `T` may also be
// `t` or a space, `Z` also `z`, the offset's colon may be left out, digits
// of the fraction past the sixth are dropped, and second 60 (a leap second)
// counts as the next minute's second 0. Returns nullopt for anything else,
// including a time without a zone.
std::optional<TimePoint> parse_iso8601(std::string_view text);

// Microseconds since the Unix epoch: the AMQP timestamp (whole seconds) and
// the metrics' clock readings are computed from it.
int64_t to_unix_micros(TimePoint t);
TimePoint from_unix_micros(int64_t micros);

// A count of seconds since the epoch as it arrives from outside (an AMQP
// timestamp is any unsigned 64-bit value). nullopt past the end of year
// 9999, where the conversion to microseconds would overflow.
std::optional<TimePoint> from_unix_seconds(uint64_t seconds);

}  // namespace dc
