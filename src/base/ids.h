// Identifiers and digests: random UUIDs for new commands, stable name-based
// UUIDs for messages that arrive without one, and SHA-256 / HMAC-SHA256.
#pragma once

#include <string>
#include <string_view>

namespace dc {

// A random RFC 4122 version-4 UUID, lower-case, 36 characters. Aborts the
// process (with a message) if the kernel's random generator (getrandom(2))
// fails: an id that might repeat is worse than none.
std::string random_uuid();

// dc's namespace for name-based UUIDs.
inline constexpr std::string_view kStableUuidNamespace = "6f0f5c1e-3d2a-4b8e-9c47-2a1d5e8b7c30";

// The RFC 9562 version-5 (SHA-1, name-based) UUID of `data` in dc's
// namespace: the same input always yields the same id, and any tool can
// compute it (Python: uuid.uuid5(uuid.UUID(kStableUuidNamespace), data)).
std::string stable_uuid(std::string_view data);

// True for the canonical 8-4-4-4-12 hex form (either case).
bool is_uuid(std::string_view text);

// Lower-case hex of SHA-256(data).
std::string sha256_hex(std::string_view data);

// Lower-case hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// Compares in time independent of where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace dc
