// Scanning JSON text without parsing it, for limits that must hold before
// a parser (recursive in places) ever sees hostile input.
#pragma once

#include <string_view>

namespace dc {

// True when arrays and objects in `text` nest deeper than `limit`. Brackets
// inside strings do not count; the text need not be valid JSON.
bool json_nesting_exceeds(std::string_view text, int limit);

}  // namespace dc
