#include "views/json.h"

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

// Reads fields of one JSON object; the first problem is kept and later
// reads return defaults, so callers check error() once.
class FieldReader {
 public:
  FieldReader(const json& j, std::string what) : j_(j), what_(std::move(what)) {
    if (!j_.is_object()) fail("", "an object");
  }

  std::string text(std::string_view key) {
    const json* v = find(key);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      fail(key, "a string");
      return std::string();
    }
    return v->get<std::string>();
  }
  std::optional<std::string> optional_text(std::string_view key) {
    const json* v = find(key, true);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_string()) {
      fail(key, "a string or null");
      return std::nullopt;
    }
    return v->get<std::string>();
  }
  std::optional<int64_t> optional_integer(std::string_view key) {
    const json* v = find(key, true);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_number_integer()) {
      fail(key, "an integer or null");
      return std::nullopt;
    }
    return v->get<int64_t>();
  }
  int64_t integer(std::string_view key) {
    const json* v = find(key);
    if (v == nullptr) return 0;
    if (!v->is_number_integer()) {
      fail(key, "an integer");
      return 0;
    }
    return v->get<int64_t>();
  }
  bool boolean(std::string_view key) {
    const json* v = find(key);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      fail(key, "true or false");
      return false;
    }
    return v->get<bool>();
  }
  std::optional<TimePoint> optional_time(std::string_view key) {
    auto value = optional_text(key);
    if (!value) return std::nullopt;
    auto parsed = parse_iso8601(*value);
    if (!parsed) fail(key, "an ISO-8601 time");
    return parsed;
  }
  TimePoint time(std::string_view key) {
    auto value = optional_time(key);
    if (!value && !error_) fail(key, "an ISO-8601 time");
    return value.value_or(TimePoint{});
  }
  template <class Enum>
  std::optional<Enum> optional_code(std::string_view key, std::optional<Enum> (*from_int)(int64_t)) {
    auto value = optional_integer(key);
    if (!value) return std::nullopt;
    auto decoded = from_int(*value);
    if (!decoded) fail(key, "a known code");
    return decoded;
  }
  ManagerMode mode(std::string_view key) {
    const std::string value = text(key);
    auto mode = manager_mode_from_string(value);
    if (!mode && !error_) fail(key, "\"starting\", \"broker\", \"fallback\" or \"stopped\"");
    return mode.value_or(ManagerMode::stopped);
  }
  std::optional<DeliveryPath> optional_path(std::string_view key) {
    auto value = optional_text(key);
    if (!value) return std::nullopt;
    auto path = delivery_path_from_string(*value);
    if (!path) fail(key, "\"broker\" or \"poll\"");
    return path;
  }
  // A JSON value kept as its text (args).
  std::string json_text(std::string_view key) {
    const json* v = find(key, true);
    if (v == nullptr || v->is_null()) return "{}";
    return v->is_string() ? v->get<std::string>() : v->dump();
  }
  const json* raw(std::string_view key) { return find(key, true); }

  const std::optional<Error>& error() const { return error_; }

 private:
  const json* find(std::string_view key, bool optional = false) {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end()) {
      if (!optional) fail(key, "present");
      return nullptr;
    }
    return &*it;
  }
  void fail(std::string_view key, std::string_view expected) {
    if (error_) return;
    error_ = Error(Errc::protocol, what_ + (key.empty() ? std::string() : ": field \"" + std::string(key) + "\"") +
                                       " must be " + std::string(expected));
  }

  const json& j_;
  std::string what_;
  std::optional<Error> error_;
};

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
  j["cmd_path"] = app.cmd_path ? json(to_string(*app.cmd_path)) : json(nullptr);
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
  return m.mode != ManagerMode::stopped && m.last_seen + lease_ttl > now;
}

json to_json(const ManagerRecord& m, TimePoint now, std::chrono::milliseconds lease_ttl) {
  json j;
  j["name"] = m.name;
  j["host"] = m.host;
  j["pid"] = m.pid;
  j["started_at"] = format_iso8601(m.started_at);
  j["last_seen"] = format_iso8601(m.last_seen);
  j["mode"] = to_string(m.mode);
  j["version"] = m.version;
  j["live"] = manager_live(m, now, lease_ttl);
  return j;
}

json to_json(const ManagerView& view) {
  json j = to_json(view.record, TimePoint{}, std::chrono::milliseconds(0));
  j["live"] = view.live;
  return j;
}

Result<App> app_from_json(const json& j) {
  FieldReader r(j, "app");
  App app;
  app.app_id = r.text("app_id");
  app.name = r.text("name");
  app.manager = r.text("manager");
  if (const json* exec = r.raw("exec"); exec != nullptr && exec->is_array()) {
    for (const auto& arg : *exec) {
      if (!arg.is_string()) return Error(Errc::protocol, "app: field \"exec\" must be an array of strings");
      app.exec.push_back(arg.get<std::string>());
    }
  }
  app.schedule = r.optional_text("schedule");
  app.disable = r.boolean("disable");
  const std::string status = r.text("status");
  app.pid = r.optional_integer("pid");
  if (auto code = r.optional_integer("exit_code")) app.exit_code = static_cast<int>(*code);
  app.started_at = r.optional_time("started_at");
  app.stopped_at = r.optional_time("stopped_at");
  app.next_run_at = r.optional_time("next_run_at");
  app.cmd = r.optional_code<CmdName>("cmd", cmd_name_from_int);
  app.cmd_flag = r.optional_code<CmdFlag>("cmd_flag", cmd_flag_from_int);
  app.cmd_id = r.optional_text("cmd_id");
  app.cmd_issued_by = r.optional_text("cmd_issued_by");
  if (const json* args = r.raw("cmd_args"); args != nullptr && !args->is_null()) app.cmd_args = r.json_text("cmd_args");
  app.cmd_result = r.optional_text("cmd_result");
  app.cmd_path = r.optional_path("cmd_path");
  if (r.error()) return *r.error();
  auto parsed = app_status_from_string(status);
  if (!parsed) return Error(Errc::protocol, "app: field \"status\" holds an unknown status");
  app.status = *parsed;
  return app;
}

Result<CommandRecord> command_record_from_json(const json& j) {
  FieldReader r(j, "command row");
  CommandRecord record;
  record.seq = r.integer("seq");
  record.cmd_id = r.text("cmd_id");
  record.app_id = r.text("app_id");
  record.target = r.text("target");
  record.command = r.optional_code<CmdName>("command", cmd_name_from_int).value_or(CmdName::start);
  record.args_json = r.json_text("args");
  record.issued_by = r.text("issued_by");
  record.issued_at = r.time("issued_at");
  record.flag = r.optional_code<CmdFlag>("flag", cmd_flag_from_int).value_or(CmdFlag::pending);
  record.claimed_by = r.optional_text("claimed_by");
  record.claimed_at = r.optional_time("claimed_at");
  record.executed_at = r.optional_time("executed_at");
  record.result = r.optional_text("result");
  record.path = r.optional_path("path");
  if (r.error()) return *r.error();
  return record;
}

Result<ManagerView> manager_from_json(const json& j) {
  FieldReader r(j, "manager");
  ManagerView view;
  view.record.name = r.text("name");
  view.record.host = r.text("host");
  view.record.pid = r.integer("pid");
  view.record.started_at = r.time("started_at");
  view.record.last_seen = r.time("last_seen");
  view.record.mode = r.mode("mode");
  view.record.version = r.text("version");
  view.live = r.boolean("live");
  if (r.error()) return *r.error();
  return view;
}

}  // namespace dc
