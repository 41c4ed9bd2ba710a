// ASCII text helpers, one set for the whole program: configuration values,
// protocol names, host lists. None of them knows about locales; bytes
// outside ASCII are left as they are. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace dc {

// True for ASCII white space: space, \t, \n, \v, \f, \r.
bool is_space(char c);

// `text` without leading and trailing white space.
std::string_view trim(std::string_view text);

// `text` with A-Z turned to a-z (to_lower) or a-z to A-Z (to_upper).
std::string to_lower(std::string_view text);
std::string to_upper(std::string_view text);
char to_lower(char c);

// True when `a` and `b` are equal ignoring the case of A-Z.
bool equals_ignoring_case(std::string_view a, std::string_view b);

}  // namespace dc
