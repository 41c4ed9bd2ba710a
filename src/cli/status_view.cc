#include "cli/status_view.h"

#include <algorithm>
#include <cstdio>

namespace dc {

std::vector<std::string> status_header() {
  return {"APP_ID", "NAME", "MANAGER", "STATUS", "PID", "UPTIME", "ENABLED", "LAST_CMD", "CMD_FLAG"};
}

std::optional<std::chrono::seconds> app_uptime(const App& app, TimePoint now) {
  if (app.status != AppStatus::running || !app.started_at) return std::nullopt;
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - *app.started_at);
  return std::max(elapsed, std::chrono::seconds(0));
}

std::string format_uptime(std::chrono::seconds elapsed) {
  const int64_t total = std::max<int64_t>(elapsed.count(), 0);
  const int64_t days = total / 86400;
  const int64_t hours = (total % 86400) / 3600;
  const int64_t minutes = (total % 3600) / 60;
  const int64_t seconds = total % 60;
  char buf[48];
  if (days > 0) {
    std::snprintf(buf, sizeof buf, "%lldd %02lldh", static_cast<long long>(days), static_cast<long long>(hours));
  } else if (hours > 0) {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(hours), static_cast<long long>(minutes));
  } else if (minutes > 0) {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", static_cast<long long>(minutes), static_cast<long long>(seconds));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(seconds));
  }
  return buf;
}

std::vector<std::string> status_row(const App& app, TimePoint now) {
  const auto uptime = app_uptime(app, now);
  const bool has_pid = app.pid && (app.status == AppStatus::running || app.status == AppStatus::starting ||
                                   app.status == AppStatus::stopping);
  return {app.app_id,
          app.name.empty() ? app.app_id : app.name,
          app.manager,
          std::string(to_string(app.status)),
          has_pid ? std::to_string(*app.pid) : "-",
          uptime ? format_uptime(*uptime) : "-",
          app.disable ? "no" : "yes",
          app.cmd ? std::string(to_string(*app.cmd)) : "-",
          app.cmd_flag ? std::string(to_string(*app.cmd_flag)) : "-"};
}

nlohmann::json status_json(const App& app, TimePoint now) {
  using nlohmann::json;
  const auto uptime = app_uptime(app, now);
  json j;
  j["app_id"] = app.app_id;
  j["name"] = app.name.empty() ? app.app_id : app.name;
  j["manager"] = app.manager;
  j["status"] = to_string(app.status);
  j["pid"] = app.pid ? json(*app.pid) : json();
  j["started_at"] = app.started_at ? json(format_iso8601(*app.started_at)) : json();
  j["uptime_s"] = uptime ? json(uptime->count()) : json();
  j["enabled"] = !app.disable;
  j["cmd"] = app.cmd ? json(to_string(*app.cmd)) : json();
  j["cmd_flag"] = app.cmd_flag ? json(to_string(*app.cmd_flag)) : json();
  j["cmd_id"] = app.cmd_id ? json(*app.cmd_id) : json();
  j["cmd_result"] = app.cmd_result ? json(*app.cmd_result) : json();
  return j;
}

}  // namespace dc
