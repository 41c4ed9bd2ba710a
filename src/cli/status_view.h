// `dcctl status`: one line per app, as pure functions of the app's record
// and the time, so the columns, the uptime and the exit code are
// unit-tested (tests/cli/status_view_test.cc).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/time.h"
#include "store/store.h"

namespace dc {

// The columns of `dcctl status`.
std::vector<std::string> status_header();
// One app's cells, in status_header()'s order: APP_ID, NAME, MANAGER,
// STATUS, PID, UPTIME, ENABLED, LAST_CMD, CMD_FLAG. "-" for what is unknown.
std::vector<std::string> status_row(const App& app, TimePoint now);
// The same as one JSON object: app_id, name, manager, status, pid,
// started_at, uptime_s (null unless RUNNING), enabled, cmd, cmd_flag,
// cmd_id, cmd_result.
nlohmann::json status_json(const App& app, TimePoint now);

// How long an app has run, for people: "45s", "3m 12s", "5h 07m",
// "2d 04h". Negative durations (clock skew between hosts) show as "0s".
std::string format_uptime(std::chrono::seconds elapsed);

// Seconds since the app started while it is RUNNING with a start time;
// negative skew clamps to 0; nullopt otherwise.
std::optional<std::chrono::seconds> app_uptime(const App& app, TimePoint now);

}  // namespace dc
