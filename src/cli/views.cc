#include "cli/views.h"

#include <algorithm>
#include <ostream>

namespace dc {
namespace {

using nlohmann::json;

template <class T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json optional_time(const std::optional<TimePoint>& t) { return t ? json(format_iso8601(*t)) : json(nullptr); }

// Stored args are a JSON object in text; show them as JSON when they parse.
json args_value(const std::string& text) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json(text) : parsed;
}

}  // namespace

json to_json(const App& app) {
  json j;
  j["app_id"] = app.app_id;
  j["name"] = app.name;
  j["manager"] = app.manager;
  j["exec"] = app.exec;
  j["schedule"] = optional_json(app.schedule);
  j["disable"] = app.disable;
  j["status"] = to_string(app.status);
  j["pid"] = optional_json(app.pid);
  j["exit_code"] = optional_json(app.exit_code);
  j["started_at"] = optional_time(app.started_at);
  j["stopped_at"] = optional_time(app.stopped_at);
  j["next_run_at"] = optional_time(app.next_run_at);
  j["cmd"] = app.cmd ? json(static_cast<int>(*app.cmd)) : json(nullptr);
  j["cmd_name"] = app.cmd ? json(to_string(*app.cmd)) : json(nullptr);
  j["cmd_flag"] = app.cmd_flag ? json(static_cast<int>(*app.cmd_flag)) : json(nullptr);
  j["cmd_flag_name"] = app.cmd_flag ? json(to_string(*app.cmd_flag)) : json(nullptr);
  j["cmd_id"] = optional_json(app.cmd_id);
  j["cmd_issued_by"] = optional_json(app.cmd_issued_by);
  j["cmd_args"] = app.cmd_args ? args_value(*app.cmd_args) : json(nullptr);
  j["cmd_result"] = optional_json(app.cmd_result);
  return j;
}

json to_json(const CommandRecord& r) {
  json j;
  j["seq"] = r.seq;
  j["cmd_id"] = r.cmd_id;
  j["app_id"] = r.app_id;
  j["target"] = r.target;
  j["command"] = static_cast<int>(r.command);
  j["command_name"] = to_string(r.command);
  j["args"] = args_value(r.args_json);
  j["issued_by"] = r.issued_by;
  j["issued_at"] = format_iso8601(r.issued_at);
  j["flag"] = static_cast<int>(r.flag);
  j["flag_name"] = to_string(r.flag);
  j["claimed_by"] = optional_json(r.claimed_by);
  j["claimed_at"] = optional_time(r.claimed_at);
  j["executed_at"] = optional_time(r.executed_at);
  j["result"] = optional_json(r.result);
  j["path"] = r.path ? json(to_string(*r.path)) : json(nullptr);
  return j;
}

bool manager_live(const ManagerRecord& m, TimePoint now, std::chrono::milliseconds lease_ttl) {
  return m.mode != "stopped" && m.last_seen + lease_ttl > now;
}

json to_json(const ManagerRecord& m, TimePoint now, std::chrono::milliseconds lease_ttl) {
  json j;
  j["name"] = m.name;
  j["host"] = m.host;
  j["pid"] = m.pid;
  j["started_at"] = format_iso8601(m.started_at);
  j["last_seen"] = format_iso8601(m.last_seen);
  j["mode"] = m.mode;
  j["version"] = m.version;
  j["live"] = manager_live(m, now, lease_ttl);
  return j;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], printable(row[i]).size());
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      const std::string cell = printable(row[i]);
      line += cell;
      if (i + 1 < row.size()) line += std::string(widths[i] - cell.size() + 2, ' ');
    }
    out << line << '\n';
  };
  emit(header);
  for (const auto& row : rows) emit(row);
}

}  // namespace dc
