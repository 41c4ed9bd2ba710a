// Identifiers and digests: random UUIDs for new commands, stable name-based
// UUIDs for messages that arrive without one, and SHA-256 / HMAC-SHA256.
#pragma once

#include <string>
#include <string_view>

namespace dc {

// A random RFC 4122 version-4 UUID, lower-case, 36 characters.
std::string random_uuid();

// A version-5-style UUID (SHA-256 truncated, version nibble 5) derived from
// `data`: the same input always yields the same id.
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
