// How dcctl (and later the HTTP API) shows store records: one JSON shape per
// record type, and aligned text tables for people.
#pragma once

#include <nlohmann/json.hpp>

#include <iosfwd>
#include <string>
#include <vector>

#include "store/store.h"

namespace dc {

nlohmann::json to_json(const App& app);
nlohmann::json to_json(const CommandRecord& record);
nlohmann::json to_json(const ManagerRecord& manager, TimePoint now, std::chrono::milliseconds lease_ttl);

// A manager is live when not stopped and seen within the lease TTL.
bool manager_live(const ManagerRecord& manager, TimePoint now, std::chrono::milliseconds lease_ttl);

// A plain text table: a header row, then rows, columns padded to the widest
// cell. Cells are printed as given except control characters, which are
// escaped so hostile values cannot rewrite the terminal.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// Printable form of untrusted text (control characters as \xNN).
std::string printable(std::string_view text);

}  // namespace dc
