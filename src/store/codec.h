// How values the store holds are written into columns and read back, shared
// by both backends so a database is readable the same way from either.
//
// Private to the store layer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/time.h"

namespace dc::store_detail {

// Times are ISO-8601 UTC with exactly six fractional digits,
// "2025-01-15T10:30:00.000000Z": readable by any outside tool, and fixed
// width so that text order is time order (years 1000-9999).
std::string format_db_time(TimePoint t);
// Reads a time written by format_db_time (or any ISO-8601 form with a
// zone); Errc::schema naming `field` otherwise.
Result<TimePoint> parse_db_time(std::string_view text, std::string_view field);

// argv as a JSON array of strings. Refuses (invalid_argument) an empty argv,
// an element with a NUL byte (execve cannot pass it) or invalid UTF-8 (JSON
// cannot hold it).
Result<std::string> encode_exec(const std::vector<std::string>& argv);
// The inverse; Errc::schema naming the app when the column is not a JSON
// array of strings (e.g. written by hand).
Result<std::vector<std::string>> decode_exec(std::string_view json_text, std::string_view app_id);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view text);

}  // namespace dc::store_detail
