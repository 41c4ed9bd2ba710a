#include "cli/outcome_tracker.h"

#include "cli/views.h"

namespace dc {

void OutcomeTracker::expect(const std::string& cmd_id, const std::vector<std::string>& app_ids) {
  auto [it, inserted] = index_of_command_.emplace(cmd_id, commands_.size());
  if (inserted) commands_.push_back(Command{cmd_id, {}, {}, 0});
  Command& command = commands_[it->second];
  for (const auto& app_id : app_ids) {
    if (command.index_of_app.contains(app_id)) continue;
    CommandRecord row;
    row.cmd_id = cmd_id;
    row.app_id = app_id;
    row.flag = CmdFlag::pending;
    command.index_of_app.emplace(app_id, command.rows.size());
    command.rows.push_back(std::move(row));
    ++command.pending;
    ++total_;
  }
}

std::vector<CommandRecord> OutcomeTracker::update(const std::vector<CommandRecord>& rows) {
  std::vector<CommandRecord> landed;
  for (const auto& row : rows) {
    auto command_it = index_of_command_.find(row.cmd_id);
    if (command_it == index_of_command_.end()) continue;
    Command& command = commands_[command_it->second];
    auto app_it = command.index_of_app.find(row.app_id);
    if (app_it == command.index_of_app.end()) continue;
    CommandRecord& known = command.rows[app_it->second];
    if (known.flag != CmdFlag::pending) continue;  // already reported
    known = row;
    if (row.flag == CmdFlag::pending) continue;
    --command.pending;
    ++(row.flag == CmdFlag::executed ? executed_ : not_executed_);
    landed.push_back(row);
  }
  return landed;
}

std::vector<std::string> OutcomeTracker::pending_commands() const {
  std::vector<std::string> out;
  for (const auto& command : commands_) {
    if (command.pending > 0) out.push_back(command.cmd_id);
  }
  return out;
}

std::vector<CommandRecord> OutcomeTracker::rows() const {
  std::vector<CommandRecord> out;
  out.reserve(total_);
  for (const auto& command : commands_) out.insert(out.end(), command.rows.begin(), command.rows.end());
  return out;
}

std::string format_progress(const OutcomeTracker& tracker) {
  return std::to_string(tracker.executed()) + "/" + std::to_string(tracker.total()) + " executed, " +
         std::to_string(tracker.not_executed()) + " not executed";
}

std::string format_outcome_line(const CommandRecord& row) {
  std::string line = "  " + printable(row.app_id) + ": " + std::string(to_string(row.flag));
  if (row.result) line += " (" + printable(*row.result) + ")";
  return line;
}

}  // namespace dc
