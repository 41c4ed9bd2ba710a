// The JSON shape of each store record: what `dcctl --json` prints and what
// dc-api sends and receives (docs/API.md), written once so the two always
// agree, and read back by dcctl's remote mode. Times are ISO-8601 UTC;
// absent values are null; enums travel as their number and their name
// ("cmd": 1, "cmd_name": "START").
//
// Pure functions; thread-safe.
#pragma once

#include <chrono>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "store/store.h"

namespace dc {

nlohmann::json to_json(const App& app);
nlohmann::json to_json(const CommandRecord& record);
// With "live": not stopped, and seen within `lease_ttl` of `now`.
nlohmann::json to_json(const ManagerRecord& manager, TimePoint now, std::chrono::milliseconds lease_ttl);

// A manager is live when not stopped and seen within the lease TTL.
bool manager_live(const ManagerRecord& manager, TimePoint now, std::chrono::milliseconds lease_ttl);

// The inverses, for a client of dc-api. Errc::protocol naming the field
// when a value is missing or of the wrong type. Manager: also returns
// "live" as sent.
Result<App> app_from_json(const nlohmann::json& j);
Result<CommandRecord> command_record_from_json(const nlohmann::json& j);
struct ManagerView {
  ManagerRecord record;
  bool live = false;
};
Result<ManagerView> manager_from_json(const nlohmann::json& j);
// A manager as to_json(ManagerRecord, ...) shows it, with the view's "live".
nlohmann::json to_json(const ManagerView& view);

}  // namespace dc
