#include "manager/command_runner.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "manager/decisions.h"

namespace dc {
namespace {

using Steady = std::chrono::steady_clock;

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0));
}

std::string describe_stop(const StopOutcome& done) {
  std::string how = "stopped (" + std::string(to_string(done.how));
  if (done.status.known()) how += ", " + done.status.describe();
  return how + ")";
}

Outcome unknown_app_outcome(const std::string& app_id, DeliveryPath path) {
  return Outcome{CmdFlag::not_executed, "unknown app '" + app_id + "'", path, std::nullopt};
}

// Errors the caller must see as they are: retry later, or stop acting.
bool must_pass_up(const Error& error) { return error.retryable() || error.code() == Errc::fenced; }

}  // namespace

CommandRunner::CommandRunner(const Config& config, Store& store, ProcessTable& processes, Lease& lease,
                             ManagerMetrics& metrics, Hooks hooks)
    : config_(config),
      store_(store),
      processes_(processes),
      lease_(lease),
      metrics_(metrics),
      hooks_(std::move(hooks)),
      claimer_(config.manager_name(), lease.instance()) {}

void CommandRunner::keepalive() const {
  if (hooks_.keepalive) hooks_.keepalive();
}

AppState CommandRunner::state_of(const App& app) {
  AppState s;
  s.status = app.status;
  s.disable = app.disable;
  s.pid = app.pid;
  s.proc_start = app.proc_start;
  s.exit_code = app.exit_code;
  s.started_at = app.started_at;
  s.stopped_at = app.stopped_at;
  return s;
}

AppState CommandRunner::observed(const App& app) const {
  return observed_state(state_of(app), processes_.running(app.app_id));
}

CommandRecord CommandRunner::record_for(const Command& command, const std::string& app_id) {
  CommandRecord r;
  r.cmd_id = command.id;
  r.app_id = app_id;
  r.target = command.app_id;
  r.command = command.name;
  r.args_json = command.args_json;
  r.issued_by = command.issued_by;
  r.issued_at = command.issued_at;
  r.signature = command.signature;
  return r;
}

Status CommandRunner::with_store_retry(const std::function<Status()>& op) {
  auto delay = std::chrono::milliseconds(100);
  for (;;) {
    Status st = op();
    if (st || !st.error().retryable()) return st;
    if (hooks_.stopping && hooks_.stopping()) return st;
    spdlog::warn("{}; retrying in {} ms", st.error().message(), delay.count());
    const auto until = Steady::now() + delay;
    while (Steady::now() < until && !(hooks_.stopping && hooks_.stopping())) {
      keepalive();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

Result<std::vector<App>> CommandRunner::broadcast_targets(const Command& command) {
  return store_.broadcast_targets(command.id, name(), command.issued_at);
}

Result<CommandRunner::Disposition> CommandRunner::apply(const Command& command, DeliveryPath path) {
  if (command.is_broadcast()) {
    auto apps = broadcast_targets(command);
    if (!apps) return apps.error();
    for (const auto& app : *apps) {
      // A broadcast to many apps is long work: keep the broker connection
      // alive, and let a shutdown interrupt it (the unacked message returns).
      keepalive();
      if (hooks_.stopping && hooks_.stopping()) {
        return Error(Errc::unavailable, "shutting down during a broadcast");
      }
      Status st = with_store_retry([&] { return run_for_app(command, app, path); });
      if (st) continue;
      if (must_pass_up(st.error())) return st.error();
      // This app's row cannot be recorded as it is: say so on the row if
      // possible, and go on with the others.
      spdlog::error("command {} for app {}: {}; recorded NOT_EXECUTED, the broadcast goes on", command.id, app.app_id,
                    st.error().message());
      if (auto refused =
              refuse(record_for(command, app.app_id), "cannot be carried out: " + st.error().message(), path);
          !refused) {
        if (must_pass_up(refused.error())) return refused.error();
        spdlog::error("command {} for app {}: not even its refusal can be recorded: {}", command.id, app.app_id,
                      refused.error().message());
      }
    }
    return Disposition{};
  }
  auto app = store_.get_app(command.app_id);
  if (!app) return app.error();
  switch (route_command(*app, name())) {
    case Routing::other_manager: {
      metrics_.other_manager().inc();
      auto row = store_.get_command_row(command.id, command.app_id);
      if (!row) return row.error();
      if (!*row) {
        return Disposition{true, "app " + command.app_id + " belongs to manager " + (*app)->manager +
                                     " and no source recorded this command, so its owner would never see it"};
      }
      spdlog::info("command {} is for app {} of manager {}; not mine, left to its owner", command.id, command.app_id,
                   (*app)->manager);
      return Disposition{};
    }
    case Routing::unknown_app: {
      const CommandRecord row = record_for(command, command.app_id);
      auto claim = store_.claim(row, claimer_);
      if (!claim) return claim.error();
      if (*claim != ClaimResult::claimed) {
        metrics_.duplicates().inc();
        return Disposition{};
      }
      spdlog::warn("command {}: unknown app '{}'", row.cmd_id, row.app_id);
      if (auto st = with_store_retry([&] { return finish(row, unknown_app_outcome(row.app_id, path)); }); !st) {
        return st.error();
      }
      return Disposition{};
    }
    case Routing::mine:
      if (auto st = run_for_app(command, **app, path); !st) return st.error();
      return Disposition{};
  }
  return Disposition{};
}

Status CommandRunner::run_for_app(const Command& command, const App& app, DeliveryPath path) {
  // Where this command stands in the app's issue order.
  auto place = store_.command_place(command.id, app.app_id);
  if (!place) return place.error();
  if (place->settled(claimer_)) {
    metrics_.duplicates().inc();
    return ok_status();
  }
  // Per-app order (SPEC §6.3): older pending commands of this app first.
  for (const auto& row : place->earlier) {
    if (auto st = execute_row(row, DeliveryPath::poll); !st) return st;
  }
  std::optional<App> current = app;
  if (!place->earlier.empty()) {
    auto fresh = store_.get_app(app.app_id);
    if (!fresh) return fresh.error();
    if (!*fresh) {
      return refuse(record_for(command, app.app_id), unknown_app_outcome(app.app_id, path).result, path);
    }
    current = **fresh;
  }
  return claim_and_carry_out(record_for(command, app.app_id), *current, path);
}

Status CommandRunner::execute_row(const CommandRecord& row, DeliveryPath path) {
  auto app = store_.get_app(row.app_id);
  if (!app) return app.error();
  if (!*app) return refuse(row, unknown_app_outcome(row.app_id, path).result, path);
  if ((*app)->manager != name()) return ok_status();
  if (const std::string problem = recorded_command_problem(row, name(), config_.command_secrets, now(),
                                                           std::chrono::seconds(config_.command_max_age));
      !problem.empty()) {
    spdlog::warn("command {} for {} from the store refused: {}", row.cmd_id, row.app_id, problem);
    return refuse(row, "refused: " + problem, path);
  }
  return claim_and_carry_out(row, **app, path);
}

Status CommandRunner::refuse(const CommandRecord& row, const std::string& reason, DeliveryPath path) {
  auto claim = store_.claim(row, claimer_);
  if (!claim) return claim.error();
  if (*claim != ClaimResult::claimed) {
    metrics_.duplicates().inc();
    return ok_status();
  }
  return with_store_retry([&] { return finish(row, Outcome{CmdFlag::not_executed, reason, path, std::nullopt}); });
}

Status CommandRunner::claim_and_carry_out(const CommandRecord& row, const App& app, DeliveryPath path) {
  auto claim = store_.claim(row, claimer_);
  if (!claim) return claim.error();
  if (*claim != ClaimResult::claimed) {
    metrics_.duplicates().inc();
    spdlog::debug("command {} for {} already {}; not run again", row.cmd_id, row.app_id,
                  *claim == ClaimResult::already_finished ? "finished" : "claimed");
    return ok_status();
  }
  // The claim is ours; its effect waits until the lease is proven still
  // ours (e.g. after this process was frozen). The claim stays: a retry
  // finds it ours again (CommandPlace::settled).
  if (!lease_.may_act()) {
    if (lease_.fenced()) return Error(Errc::fenced, "the lease on '" + name() + "' was taken over");
    return Error(Errc::unavailable, "the lease on '" + name() + "' is not confirmed by a recent heartbeat");
  }
  const Outcome outcome = carry_out(row, app, path);
  return with_store_retry([&] { return finish(row, outcome); });
}

Status CommandRunner::finish(const CommandRecord& row, const Outcome& outcome) {
  auto st = store_.finish(row.cmd_id, row.app_id, claimer_, outcome);
  if (!st) return st;
  metrics_.command_finished(row.command, outcome.flag, outcome.path,
                            std::chrono::duration<double>(now() - row.issued_at).count());
  if (outcome.flag == CmdFlag::executed) {
    spdlog::info("{} {} {}: EXECUTED via {} ({})", to_string(row.command), row.app_id, row.cmd_id,
                 to_string(outcome.path), outcome.result);
  } else {
    spdlog::warn("{} {} {}: NOT_EXECUTED via {} ({})", to_string(row.command), row.app_id, row.cmd_id,
                 to_string(outcome.path), outcome.result);
  }
  return ok_status();
}

std::set<std::string> CommandRunner::record_exits() {
  std::set<std::string> ended;
  for (const auto& exit : processes_.collect_exits()) {
    if (!exit.current) {
      spdlog::info("an older process of app {} (pid {}) ended; the app runs as another process now", exit.app_id,
                   exit.process.pid);
      continue;
    }
    ended.insert(exit.app_id);
    auto app = store_.get_app(exit.app_id);
    if (!app) {
      spdlog::warn("recording the end of app {} (pid {}): {}", exit.app_id, exit.process.pid, app.error().message());
      continue;
    }
    if (!*app) continue;  // removed from the registry meanwhile
    AppState s;
    if (exit.status) {
      s = ended_state(state_of(**app),
                      status_after_exit(false, exit.status->exit_code.value_or(0), exit.status->signal.value_or(0)),
                      exit.status->shell_code(), now());
      spdlog::info("app {} {}", exit.app_id, exit.status->describe());
    } else {
      // Not our child (re-adopted): how it ended is unknown.
      s = ended_state(state_of(**app), AppStatus::stopped, std::nullopt, now());
      spdlog::info("re-adopted app {} (pid {}) ended (exit status unknown)", exit.app_id, exit.process.pid);
    }
    if (auto st = with_store_retry([&] { return store_.set_app_state(exit.app_id, s); }); !st) {
      spdlog::warn("recording the end of app {}: {}", exit.app_id, st.error().message());
    }
  }
  return ended;
}

Result<ProcessHandle> CommandRunner::start_app(const App& app, const std::string& cmd_id, const std::string& args_json,
                                               AppState& state) {
  SpawnRequest request;
  request.app_id = app.app_id;
  request.argv = app.exec;
  request.log_dir = config_.log_dir;
  request.manager = name();
  request.command_id = cmd_id;
  request.args_json = args_json;
  // Recorded before it runs: a manager killed at any point afterwards finds
  // it by its record (pid and start time) and never starts a second copy.
  request.before_exec = [&](const ProcessHandle& process) -> Status {
    if (!lease_.may_act()) return Error(Errc::unavailable, "the lease is not confirmed; not starting " + app.app_id);
    state = running_state(state, process.pid, process.start_time, now());
    return with_store_retry([&] { return store_.set_app_state(app.app_id, state); });
  };
  return processes_.start(request);
}

Outcome CommandRunner::carry_out(const CommandRecord& row, const App& recorded, DeliveryPath path) {
  // Reap first: an exit not yet collected must not be taken for a running
  // app, nor collected later as the end of a process started now.
  App app = recorded;
  if (record_exits().contains(app.app_id)) {
    if (auto fresh = store_.get_app(app.app_id); fresh && *fresh) app = **fresh;
  }
  const bool running = processes_.running(app.app_id);
  const CommandPlan plan = plan_command(row.command, running);
  AppState state = observed_state(state_of(app), running);
  std::string result;
  if (plan.stop) {
    auto stopped = processes_.stop(app.app_id, seconds_to_ms(config_.stop_timeout), [this] { keepalive(); });
    if (!stopped) {
      return Outcome{CmdFlag::not_executed, "stop failed: " + stopped.error().message(), path, state};
    }
    state =
        ended_state(state, AppStatus::stopped,
                    stopped->status.known() ? std::optional<int>(stopped->status.shell_code()) : std::nullopt, now());
    result = describe_stop(*stopped);
  }
  if (plan.start) {
    auto started = start_app(app, row.cmd_id, row.args_json, state);
    if (!started) {
      state.status = AppStatus::failed;
      state.pid.reset();
      state.proc_start.reset();
      return Outcome{CmdFlag::not_executed, "start failed: " + started.error().message(), path, state};
    }
    if (!result.empty()) result += "; ";
    result += "started pid " + std::to_string(started->pid);
  }
  if (plan.set_disable) {
    state.disable = *plan.set_disable;
    result = disable_result(*plan.set_disable);
  }
  if (!plan.noop_reason.empty()) result = plan.noop_reason;
  return Outcome{CmdFlag::executed, result, path, state};
}

Status CommandRunner::finish_stranded(const CommandRecord& row) {
  auto app = store_.get_app(row.app_id);
  if (!app) return app.error();
  const DeliveryPath path = row.path.value_or(DeliveryPath::poll);
  if (!*app) return finish(row, unknown_app_outcome(row.app_id, path));
  const bool running = processes_.running(row.app_id);
  if (effect_already_visible(row.command, running, (*app)->disable, (*app)->started_at, row.claimed_at)) {
    spdlog::info("command {} for {} was carried out before the restart; recording it", row.cmd_id, row.app_id);
    return finish(row, Outcome{CmdFlag::executed, "recovered after manager restart: effect already visible", path,
                               observed(**app)});
  }
  spdlog::info("command {} for {} was claimed but not carried out before the restart; running it now", row.cmd_id,
               row.app_id);
  return finish(row, carry_out(row, **app, path));
}

}  // namespace dc
