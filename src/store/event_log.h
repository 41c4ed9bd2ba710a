// The event log's rows as the store writes them: one builder per change,
// each making the JSON object a reader gets (docs/STORE.md "events").
// Events are collected during a write transaction and appended by its last
// statement (sql_store.cc), so they commit with the change they report.
//
// Private to the store layer.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"
#include "store/store.h"

namespace dc::store_detail {

// An event not yet written: what the events table's columns take.
struct PendingEvent {
  EventKind kind = EventKind::command;
  std::string subject;
  std::string data_json;
};

PendingEvent command_recorded_event(const CommandRecord& record);
// A claim, with the record's fields when this claim inserted the row (no
// source recorded it).
PendingEvent command_claimed_event(const CommandRecord& record, std::string_view claimed_by, std::string_view at,
                                   bool inserted);
PendingEvent command_finished_event(std::string_view cmd_id, std::string_view app_id, std::string_view claimed_by,
                                    const Outcome& outcome, std::string_view at, const CommandRecord* inserted_from);

PendingEvent app_state_event(std::string_view app_id, const AppState& state);
// "added" or "updated": the registry fields.
PendingEvent app_registry_event(std::string_view action, const App& app);
PendingEvent app_removed_event(std::string_view app_id);
PendingEvent app_next_run_event(std::string_view app_id, std::optional<TimePoint> next_run_at);

// action: "started", "mode", "stopped", "lost".
PendingEvent manager_event(std::string_view action, const ManagerRecord& manager, bool live);

std::optional<EventKind> event_kind_from_string(std::string_view text);

}  // namespace dc::store_detail
