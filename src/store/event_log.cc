#include "store/event_log.h"

#include <nlohmann/json.hpp>

namespace dc {

std::string_view to_string(EventKind kind) {
  switch (kind) {
    case EventKind::command:
      return "command";
    case EventKind::app:
      return "app";
    case EventKind::manager:
      return "manager";
  }
  return "command";
}

namespace store_detail {
namespace {

using nlohmann::json;

json time_or_null(const std::optional<TimePoint>& t) { return t ? json(format_iso8601(*t)) : json(nullptr); }

template <class T>
json or_null(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

// Text the store holds is valid UTF-8 (check_storable_text); replace is a
// guard, never a path taken.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

PendingEvent make(EventKind kind, std::string_view subject, const json& data) {
  return PendingEvent{kind, std::string(subject), dump(data)};
}

void add_record_fields(json& j, const CommandRecord& record) {
  j["target"] = record.target.empty() ? record.app_id : record.target;
  j["command"] = static_cast<int>(record.command);
  j["command_name"] = to_string(record.command);
  j["issued_by"] = record.issued_by;
  j["issued_at"] = format_iso8601(record.issued_at == TimePoint{} ? now() : record.issued_at);
}

}  // namespace

PendingEvent command_recorded_event(const CommandRecord& record) {
  json j;
  j["action"] = "recorded";
  j["cmd_id"] = record.cmd_id;
  j["app_id"] = record.app_id;
  add_record_fields(j, record);
  j["seq"] = record.seq;
  j["flag"] = static_cast<int>(CmdFlag::pending);
  j["flag_name"] = to_string(CmdFlag::pending);
  return make(EventKind::command, record.cmd_id, j);
}

PendingEvent command_claimed_event(const CommandRecord& record, std::string_view claimed_by, std::string_view at,
                                   bool inserted) {
  json j;
  j["action"] = "claimed";
  j["cmd_id"] = record.cmd_id;
  j["app_id"] = record.app_id;
  if (inserted) add_record_fields(j, record);
  j["claimed_by"] = claimed_by;
  j["claimed_at"] = at;
  return make(EventKind::command, record.cmd_id, j);
}

PendingEvent command_finished_event(std::string_view cmd_id, std::string_view app_id, std::string_view claimed_by,
                                    const Outcome& outcome, std::string_view at, const CommandRecord* inserted_from) {
  json j;
  j["action"] = "finished";
  j["cmd_id"] = cmd_id;
  j["app_id"] = app_id;
  if (inserted_from != nullptr) add_record_fields(j, *inserted_from);
  j["claimed_by"] = claimed_by;
  j["flag"] = static_cast<int>(outcome.flag);
  j["flag_name"] = to_string(outcome.flag);
  j["result"] = outcome.result;
  j["path"] = to_string(outcome.path);
  j["executed_at"] = at;
  return make(EventKind::command, cmd_id, j);
}

PendingEvent app_state_event(std::string_view app_id, const AppState& state) {
  json j;
  j["action"] = "state";
  j["app_id"] = app_id;
  j["status"] = to_string(state.status);
  j["disable"] = state.disable;
  j["pid"] = or_null(state.pid);
  j["exit_code"] = or_null(state.exit_code);
  j["started_at"] = time_or_null(state.started_at);
  j["stopped_at"] = time_or_null(state.stopped_at);
  return make(EventKind::app, app_id, j);
}

PendingEvent app_registry_event(std::string_view action, const App& app) {
  json j;
  j["action"] = action;
  j["app_id"] = app.app_id;
  j["name"] = app.name;
  j["manager"] = app.manager;
  j["exec"] = app.exec;
  j["schedule"] = or_null(app.schedule);
  j["disable"] = app.disable;
  return make(EventKind::app, app.app_id, j);
}

PendingEvent app_removed_event(std::string_view app_id) {
  return make(EventKind::app, app_id, json{{"action", "removed"}, {"app_id", app_id}});
}

PendingEvent app_next_run_event(std::string_view app_id, std::optional<TimePoint> next_run_at) {
  return make(EventKind::app, app_id,
              json{{"action", "next_run"}, {"app_id", app_id}, {"next_run_at", time_or_null(next_run_at)}});
}

PendingEvent manager_event(std::string_view action, const ManagerRecord& manager, bool live) {
  json j;
  j["action"] = action;
  j["name"] = manager.name;
  j["host"] = manager.host;
  j["pid"] = manager.pid;
  j["mode"] = to_string(manager.mode);
  j["live"] = live;
  j["last_seen"] = format_iso8601(manager.last_seen);
  j["started_at"] = format_iso8601(manager.started_at);
  j["version"] = manager.version;
  return make(EventKind::manager, manager.name, j);
}

std::optional<EventKind> event_kind_from_string(std::string_view text) {
  if (text == "command") return EventKind::command;
  if (text == "app") return EventKind::app;
  if (text == "manager") return EventKind::manager;
  return std::nullopt;
}

}  // namespace store_detail
}  // namespace dc
