// How dcctl shows store records to people: aligned text tables. The JSON
// shape of each record (--json, and dc-api's) is views/json.h.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "store/store.h"
#include "views/json.h"

namespace dc {

// A plain text table: a header row, then rows, columns padded to the widest
// cell. Cells are printed as given except control characters, which are
// escaped so hostile values cannot rewrite the terminal. Without
// `with_header` (-q/--no-headers) the header row is measured but not
// printed, so the columns line up the same either way.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows, bool with_header = true);

// Printable form of untrusted text (control characters as \xNN).
std::string printable(std::string_view text);

}  // namespace dc
