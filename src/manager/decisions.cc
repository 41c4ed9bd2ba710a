#include "manager/decisions.h"

#include <algorithm>
#include <cmath>

namespace dc {

Routing route_command(const std::optional<App>& app, std::string_view manager) {
  if (!app) return Routing::unknown_app;
  return app->manager == manager ? Routing::mine : Routing::other_manager;
}

CommandPlan plan_command(CmdName name, bool running) {
  CommandPlan plan;
  switch (name) {
    case CmdName::start:
      if (running) {
        plan.noop_reason = "already running";
      } else {
        plan.start = true;
      }
      break;
    case CmdName::stop:
      if (running) {
        plan.stop = true;
      } else {
        plan.noop_reason = "already stopped";
      }
      break;
    case CmdName::restart:
      plan.stop = running;
      plan.start = true;
      break;
    case CmdName::enable:
      plan.set_disable = false;
      break;
    case CmdName::disable:
      plan.set_disable = true;
      break;
  }
  return plan;
}

std::string_view disable_result(bool disable) { return disable ? "disabled" : "enabled"; }

bool database_only(CmdName name) {
  const CommandPlan plan = plan_command(name, /*running=*/false);
  return plan.set_disable.has_value() && !plan.start && !plan.stop;
}

RunJoin run_join(const CommandPlace& place, const Claimer& claimer,
                 const std::set<std::pair<std::string, std::string>>& queued) {
  if (place.settled(claimer)) return RunJoin::duplicate;
  if (place.row && place.row->claimed_by) return RunJoin::general_path;
  for (const auto& row : place.earlier) {
    if (!queued.contains({row.cmd_id, row.app_id})) return RunJoin::general_path;
  }
  return RunJoin::join;
}

AppStatus status_after_exit(bool stop_requested, int exit_code, int term_signal) {
  if (stop_requested) return AppStatus::stopped;
  if (term_signal != 0) return AppStatus::failed;
  return exit_code == 0 ? AppStatus::stopped : AppStatus::failed;
}

bool effect_already_visible(CmdName name, bool running, bool disabled, std::optional<TimePoint> started_at,
                            std::optional<TimePoint> claimed_at) {
  switch (name) {
    case CmdName::start:
      return running;
    case CmdName::stop:
      return !running;
    case CmdName::restart:
      // Done only if the process now running was started after the claim.
      return running && started_at && claimed_at && *started_at >= *claimed_at;
    case CmdName::enable:
      return !disabled;
    case CmdName::disable:
      return disabled;
  }
  return false;
}

AppState observed_state(AppState recorded, bool running) {
  if (running) {
    recorded.status = AppStatus::running;
  } else if (recorded.status == AppStatus::running || recorded.status == AppStatus::starting) {
    recorded.status = AppStatus::stopped;
  }
  return recorded;
}

AppState ended_state(AppState state, AppStatus status, std::optional<int> exit_code, TimePoint at) {
  state.status = status;
  state.pid.reset();
  state.proc_start.reset();
  state.exit_code = exit_code;
  state.stopped_at = at;
  return state;
}

AppState running_state(AppState state, int64_t pid, int64_t proc_start, TimePoint at) {
  state.status = AppStatus::running;
  state.pid = pid;
  state.proc_start = proc_start;
  state.started_at = at;
  state.exit_code.reset();
  state.stopped_at.reset();
  return state;
}

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, double jitter, uint64_t seed)
    : initial_(initial), cap_(cap), jitter_(std::clamp(jitter, 0.0, 1.0)), rng_(seed) {}

std::chrono::milliseconds Backoff::next() {
  const double base = static_cast<double>(initial_.count()) * std::pow(2.0, std::min(attempt_, 30));
  const double capped = std::min(base, static_cast<double>(cap_.count()));
  ++attempt_;
  std::uniform_real_distribution<double> spread(1.0 - jitter_, 1.0 + jitter_);
  const double delay = std::min(capped * spread(rng_), static_cast<double>(cap_.count()));
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(1.0, delay)));
}

ScheduleAction schedule_action(const App& app, bool running, TimePoint now, std::chrono::seconds misfire_grace) {
  if (!app.schedule || !app.next_run_at || *app.next_run_at > now) return ScheduleAction::wait;
  if (now - *app.next_run_at > misfire_grace) return ScheduleAction::skip_missed;
  if (app.disable || running) return ScheduleAction::wait;
  return ScheduleAction::start;
}

std::string recorded_command_problem(const CommandRecord& row, std::string_view manager,
                                     const std::vector<std::string>& secrets, TimePoint now,
                                     std::chrono::seconds max_age) {
  Command command;
  command.id = row.cmd_id;
  command.app_id = row.target.empty() ? row.app_id : row.target;
  command.name = row.command;
  command.issued_by = row.issued_by;
  command.issued_at = row.issued_at;
  command.args_json = row.args_json;
  const std::string body = serialize_command_body(command);
  if (body.size() > kMaxBodyBytes) {
    return "its message is " + std::to_string(body.size()) + " bytes (limit " + std::to_string(kMaxBodyBytes) + ")";
  }
  if (secrets.empty()) return {};
  // A single app's command was published to its manager; a broadcast to
  // that manager or to `all`.
  std::string first_problem;
  const bool broadcast = command.app_id == kBroadcastAppId;
  for (const std::string_view key : {manager, kBroadcastRoutingKey}) {
    if (key == kBroadcastRoutingKey && !broadcast) break;
    auto problem = signature_problem(secrets, row.signature, row.cmd_id, key, body, row.issued_at, now, max_age);
    if (problem.empty()) return {};
    if (first_problem.empty()) first_problem = std::move(problem);
  }
  return first_problem;
}

bool lease_confirmed(std::chrono::steady_clock::time_point last_confirmed, std::chrono::steady_clock::time_point now,
                     std::chrono::milliseconds lease_ttl) {
  return now - last_confirmed < lease_ttl * 4 / 5;
}

bool sweep_takes(const CommandRecord& record, bool broker_mode, TimePoint now, std::chrono::milliseconds grace) {
  if (record.flag != CmdFlag::pending || record.claimed_by) return false;
  if (!broker_mode) return true;
  return record.issued_at + grace <= now;
}

}  // namespace dc
