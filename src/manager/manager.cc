#include "manager/manager.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <limits>
#include <thread>

#include "broker/topology.h"
#include "manager/settings.h"
#include "process/discover.h"
#include "process/exit_status.h"
#include "process/spawn.h"
#include "process/stop.h"
#include "schedule/schedule.h"

namespace dc {
namespace {

std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_reopen_requested{false};

template <class Rep, class Period>
std::chrono::milliseconds ms(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0));
}

CommandRecord record_for(const Command& command, const std::string& app_id) {
  CommandRecord r;
  r.cmd_id = command.id;
  r.app_id = app_id;
  r.target = command.app_id;
  r.command = command.name;
  r.args_json = command.args_json;
  r.issued_by = command.issued_by;
  r.issued_at = command.issued_at;
  return r;
}

// A command for an app the registry does not know.
Outcome unknown_app_outcome(const std::string& app_id, DeliveryPath path) {
  return Outcome{CmdFlag::not_executed, "unknown app '" + app_id + "'", path, std::nullopt};
}

std::string describe_stop(const StopOutcome& done) {
  std::string how = "stopped (" + std::string(to_string(done.how));
  if (done.status.known()) how += ", " + done.status.describe();
  return how + ")";
}

bool pid_alive(int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

std::string Manager::mode() const {
  switch (mode_code_.load()) {
    case 1:
      return "broker";
    case 2:
      return "fallback";
    default:
      return "starting";
  }
}

void Manager::request_stop() { g_stop_requested.store(true); }
void Manager::request_log_reopen() { g_reopen_requested.store(true); }

Manager::Manager(Config config, ManagerOptions options, std::unique_ptr<Store> store)
    : config_(std::move(config)),
      options_(std::move(options)),
      store_(std::move(store)),
      backoff_(options_.reconnect_initial, options_.reconnect_cap, options_.reconnect_jitter,
               static_cast<uint64_t>(::getpid()) ^ static_cast<uint64_t>(to_unix_micros(now()))) {}

Manager::~Manager() = default;

Result<std::unique_ptr<Manager>> Manager::start(Config config, ManagerOptions options) {
  auto store = Store::open(config.db_url);
  if (!store) return store.error().with_context("opening the store " + redact_url(config.db_url));
  std::unique_ptr<Manager> m(new Manager(std::move(config), std::move(options), std::move(*store)));
  m->started_at_ = now();
  if (auto st = m->acquire_lease(); !st) return st.error();
  if (auto st = m->recover(); !st) {
    (void)m->store_->release_lease(m->name(), ::getpid());
    return st.error().with_context("recovering after the previous run");
  }
  auto notifier = m->store_->listen_for_commands();
  if (notifier) {
    m->notifier_ = std::move(*notifier);
  } else {
    spdlog::warn("database notifications unavailable ({}); polling only", notifier.error().message());
  }
  m->try_connect();
  if (!m->consumer_) m->set_mode("fallback", "broker unreachable at start");
  return m;
}

Status Manager::acquire_lease() {
  ManagerRecord self;
  self.name = name();
  self.host = host_name();
  self.pid = ::getpid();
  self.started_at = started_at_;
  self.last_seen = now();
  self.mode = "starting";
  self.version = options_.version;
  auto st = store_->acquire_lease(self, options_.lease_ttl);
  if (st || st.error().code() != Errc::conflict) return st;
  // A holder on this host whose process is gone (killed -9, crashed) left a
  // stale lease: take it over at once instead of waiting for it to expire.
  auto managers = store_->list_managers();
  if (managers) {
    for (const auto& m : *managers) {
      if (m.name == self.name && m.host == self.host && !pid_alive(m.pid)) {
        spdlog::warn("taking over the lease of manager '{}' from pid {} on this host, which is gone", m.name, m.pid);
        return store_->acquire_lease(self, std::chrono::milliseconds(0));
      }
    }
  }
  return st;
}

AppState Manager::state_of(const App& app) {
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

Status Manager::recover() {
  auto apps = store_->list_apps(AppFilter{name()});
  if (!apps) return apps.error();
  for (const auto& app : *apps) {
    const bool had_process =
        app.status == AppStatus::running || app.status == AppStatus::starting || app.status == AppStatus::stopping;
    if (!had_process || !app.pid) continue;
    if (app.proc_start && is_same_process(static_cast<pid_t>(*app.pid), *app.proc_start)) {
      tracked_[app.app_id] = Tracked{ProcessHandle{static_cast<pid_t>(*app.pid), *app.proc_start}, false};
      app_by_pid_[static_cast<pid_t>(*app.pid)] = app.app_id;
      spdlog::info("re-adopted app {} (pid {})", app.app_id, *app.pid);
      if (app.status != AppStatus::running) {
        AppState s = state_of(app);
        s.status = AppStatus::running;
        if (auto st = store_->set_app_state(app.app_id, s); !st) return st;
      }
    } else {
      spdlog::warn("app {} (pid {}) is gone since the last run: marked FAILED (lost)", app.app_id, *app.pid);
      const AppState s = ended_state(state_of(app), AppStatus::failed, std::nullopt, now());
      if (auto st = store_->set_app_state(app.app_id, s); !st) return st;
    }
  }

  // Apps started just before a crash, before their pid was recorded: adopt
  // them rather than start them again.
  for (const DiscoveredApp& orphan : find_app_processes(name())) {
    if (tracked_.contains(orphan.app_id)) continue;
    auto app = store_->get_app(orphan.app_id);
    if (!app) return app.error();
    if (!*app || (*app)->manager != name()) continue;
    spdlog::warn("adopting app {} (pid {}), started by command {} but never recorded", orphan.app_id,
                 orphan.process.pid, orphan.command_id);
    tracked_[orphan.app_id] = Tracked{orphan.process, false};
    app_by_pid_[orphan.process.pid] = orphan.app_id;
    const AppState s = running_state(state_of(**app), orphan.process.pid, orphan.process.start_time, now());
    if (auto st = store_->set_app_state(orphan.app_id, s); !st) return st;
  }

  auto unfinished = store_->claimed_unfinished(name());
  if (!unfinished) return unfinished.error();
  for (const auto& row : *unfinished) {
    auto app = store_->get_app(row.app_id);
    if (!app) return app.error();
    const DeliveryPath path = row.path.value_or(DeliveryPath::poll);
    if (!*app) {
      if (auto st = finish(row, unknown_app_outcome(row.app_id, path)); !st) return st;
      continue;
    }
    const bool running = is_running(**app);
    if (effect_already_visible(row.command, running, (*app)->disable, (*app)->started_at, row.claimed_at)) {
      spdlog::info("command {} for {} was carried out before the restart; recording it", row.cmd_id, row.app_id);
      Outcome outcome{CmdFlag::executed, "recovered after manager restart: effect already visible", path,
                      state_of(**app)};
      if (auto st = finish(row, outcome); !st) return st;
    } else {
      spdlog::info("command {} for {} was claimed but not carried out before the restart; running it now", row.cmd_id,
                   row.app_id);
      if (auto st = finish(row, carry_out(row, **app, path)); !st) return st;
    }
  }
  return ok_status();
}

void Manager::set_mode(std::string_view mode, std::string_view why) {
  if (mode_ == mode) return;
  spdlog::info("mode {} -> {} ({})", mode_, mode, why);
  mode_ = std::string(mode);
  metrics_.set_mode(mode);
  mode_code_.store(mode == "broker" ? 1 : mode == "fallback" ? 2 : 0);
  if (auto st = store_->heartbeat(name(), ::getpid(), mode_); !st) {
    spdlog::warn("could not record mode {} in the store: {}", mode_, st.error().message());
  }
  next_lease_ = Steady::now() + options_.lease_heartbeat;
}

void Manager::try_connect() {
  next_reconnect_ = Steady::now() + backoff_.next();
  auto settings = connection_settings(config_, "dc-manager " + name() + "@" + host_name());
  settings.try_last = lost_endpoint_;
  auto conn = broker::Connection::open(settings);
  if (!conn) {
    spdlog::log(backoff_.attempts() <= 1 ? spdlog::level::warn : spdlog::level::debug,
                "broker unreachable: {} (retry in {} ms)", conn.error().message(),
                ms(next_reconnect_ - Steady::now()).count());
    return;
  }
  auto topology = command_topology(config_, name());
  if (!topology) {
    spdlog::error("{}", topology.error().message());
    return;
  }
  if (auto st = broker::declare_command_topology(*conn, *topology); !st) {
    spdlog::error("declaring the command topology failed: {}", st.error().message());
    return;
  }
  broker::ConsumerOptions copts;
  copts.queue = name();
  copts.prefetch = static_cast<uint16_t>(config_.rabbit_prefetch);
  auto consumer = broker::Consumer::start(std::move(*conn), copts);
  if (!consumer) {
    spdlog::error("consuming queue {} failed: {}", name(), consumer.error().message());
    return;
  }
  consumer_ = std::make_unique<broker::Consumer>(std::move(*consumer));
  lost_endpoint_.reset();
  if (mode_ == "fallback") metrics_.reconnects().inc();
  backoff_.reset();
  spdlog::info("consuming queue {} on {}", name(), consumer_->connection().describe());
  // Whatever arrived through the database while we were away is taken now,
  // in issue order, before new deliveries.
  poll_database(/*broker_mode=*/false);
  set_mode("broker", "connected");
  next_sweep_ = Steady::now() + options_.sweep_interval;
}

void Manager::broker_lost(const Error& error) {
  spdlog::warn("broker connection lost: {}", error.message());
  if (consumer_) lost_endpoint_ = consumer_->connection().endpoint();
  consumer_.reset();
  backoff_.reset();
  set_mode("fallback", error.message());
  next_reconnect_ = Steady::now() + backoff_.next();
  next_poll_ = Steady::now();
}

void Manager::keepalive() {
  if (consumer_) (void)consumer_->connection().keepalive();
}

Status Manager::with_store_retry(const std::function<Status()>& op) {
  auto delay = std::chrono::milliseconds(100);
  for (;;) {
    Status st = op();
    if (st || !st.error().retryable()) return st;
    if (g_stop_requested.load()) return st;
    spdlog::warn("store unavailable ({}); retrying in {} ms", st.error().message(), delay.count());
    const auto until = Steady::now() + delay;
    while (Steady::now() < until && !g_stop_requested.load()) {
      keepalive();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

std::optional<Command> Manager::accept_delivery(broker::Delivery& delivery) {
  MessageProperties props;
  props.message_id = delivery.message_id;
  props.content_type = delivery.content_type;
  props.signature = delivery.header(kSignatureHeader);
  if (delivery.timestamp) props.timestamp = to_unix_micros(*delivery.timestamp) / 1'000'000;
  const TimePoint received = now();
  auto command = parse_command(delivery.body, props, received);
  std::string poison_reason;
  if (!command) {
    poison_reason = command.error().message();
  } else if (!config_.command_secrets.empty()) {
    poison_reason =
        signature_problem(config_.command_secrets, props.signature, props.message_id.value_or(""), delivery.body,
                          command->issued_at, received, std::chrono::seconds(config_.command_max_age));
  }
  if (!poison_reason.empty()) {
    metrics_.poison().inc();
    spdlog::warn("poison message (message_id {}, {} bytes, routing key {}): {}; dead-lettered",
                 delivery.message_id.value_or("-"), delivery.body.size(), delivery.routing_key, poison_reason);
    if (auto st = consumer_->reject(delivery.delivery_tag, /*requeue=*/false); !st) broker_lost(st.error());
    return std::nullopt;
  }
  return std::move(*command);
}

void Manager::handle_delivery(broker::Delivery& delivery, const Command& command) {
  if (!consumer_) return;
  Status st = with_store_retry([&] { return process_command(command, DeliveryPath::broker); });
  if (!st) {
    if (st.error().retryable()) return;  // shutting down: unacked, the broker redelivers it
    // The command is valid but cannot be recorded (e.g. a value the
    // database refuses): dead-letter it rather than block the queue.
    metrics_.poison().inc();
    spdlog::error("command {} cannot be recorded: {}; dead-lettered", command.id, st.error().message());
    if (auto rst = consumer_->reject(delivery.delivery_tag, false); !rst) broker_lost(rst.error());
    return;
  }
  // Ack only now: the outcome is committed.
  if (auto ack = consumer_->ack(delivery.delivery_tag); !ack) broker_lost(ack.error());
}

Result<bool> Manager::add_db_only(const Command& command, DbOnlyRun& run) {
  if (command.name != CmdName::enable && command.name != CmdName::disable) return false;
  std::vector<std::string> targets;
  if (command.is_broadcast()) {
    auto mine = store_->list_apps(AppFilter{name()});
    if (!mine) return mine.error();
    for (auto& app : *mine) {
      targets.push_back(app.app_id);
      run.apps.try_emplace(app.app_id, std::move(app));
    }
  } else {
    if (!run.apps.contains(command.app_id)) {
      auto app = store_->get_app(command.app_id);
      if (!app) return app.error();
      if (!*app || route_command(**app, name()) != Routing::mine) return false;  // the general path says why
      run.apps.emplace(command.app_id, std::move(**app));
    }
    targets.push_back(command.app_id);
  }
  // Every target must be able to take this path before any is added.
  std::vector<std::pair<std::string, bool>> open;  // (app_id, its row exists)
  uint64_t duplicates = 0;
  for (auto& app_id : targets) {
    keepalive();  // a broadcast to many apps is long work: keep the broker connection alive
    auto place = store_->command_place(command.id, app_id);
    if (!place) return place.error();
    if (place->settled()) {
      ++duplicates;
      continue;
    }
    // Per-app order: an older pending command not already ahead of this one
    // in the run sends the command down the general path.
    for (const auto& row : place->earlier) {
      if (!run.queued.contains({row.cmd_id, row.app_id})) return false;
    }
    open.emplace_back(std::move(app_id), place->row.has_value());
  }
  run.duplicates += duplicates;
  for (auto& [app_id, row_exists] : open) {
    App& app = run.apps.at(app_id);
    app.disable = command.name == CmdName::disable;
    const AppState state = observed_state(state_of(app), is_running(app));
    FinishedCommand item;
    item.record = record_for(command, app_id);
    item.outcome = Outcome{CmdFlag::executed, app.disable ? "disabled" : "enabled", DeliveryPath::broker, state};
    item.row_exists = row_exists;
    run.queued.insert({command.id, std::move(app_id)});
    run.items.push_back(std::move(item));
  }
  return true;
}

void Manager::handle_deliveries(std::vector<broker::Delivery>& deliveries) {
  // Parse and authenticate them all first: poison is dead-lettered at once.
  std::vector<std::pair<broker::Delivery*, Command>> accepted;
  accepted.reserve(deliveries.size());
  for (auto& delivery : deliveries) {
    if (!consumer_) return;
    if (auto command = accept_delivery(delivery)) accepted.emplace_back(&delivery, std::move(*command));
  }
  size_t next = 0;
  while (next < accepted.size()) {
    if (!consumer_ || g_stop_requested.load()) return;
    // The longest run of database-only commands from `next`, decided and
    // recorded in one transaction, so what was read still holds when it is
    // written.
    DbOnlyRun run;
    size_t end = next;
    std::vector<ClaimResult> results;
    Status st = with_store_retry([&] {
      return store_->in_transaction([&]() -> Status {
        run = DbOnlyRun();
        results.clear();
        for (end = next; end < accepted.size(); ++end) {
          auto added = add_db_only(accepted[end].second, run);
          if (!added) return added.error();
          if (!*added) break;
        }
        if (run.items.empty()) return ok_status();
        auto claimed = store_->claim_and_finish(run.items, name());
        if (!claimed) return claimed.error();
        results = std::move(*claimed);
        return ok_status();
      });
    });
    if (!st) {
      if (st.error().retryable()) return;  // shutting down: unacked, redelivered
      // Something in the run cannot be recorded: take each delivery alone,
      // so only the offending one is dead-lettered.
      const size_t stop = std::min(end + 1, accepted.size());
      spdlog::warn("recording {} command(s) together failed ({}); taking them one by one", stop - next,
                   st.error().message());
      for (size_t i = next; i < stop; ++i) handle_delivery(*accepted[i].first, accepted[i].second);
      next = stop;
      continue;
    }
    if (end > next) finish_run(run, results, accepted[end - 1].first->delivery_tag);
    // A command with effects outside the database: the general path, in order.
    if (end < accepted.size()) {
      handle_delivery(*accepted[end].first, accepted[end].second);
      ++end;
    }
    next = end;
  }
}

void Manager::finish_run(const DbOnlyRun& run, const std::vector<ClaimResult>& results, uint64_t last_tag) {
  // Every earlier delivery is settled by now (acked, or rejected as
  // poison), so one multiple-ack covers the whole run. It goes first: with
  // a small prefetch window the broker sends nothing new until it arrives.
  if (consumer_) {
    if (auto ack = consumer_->ack_up_to(last_tag); !ack) broker_lost(ack.error());
  }
  const TimePoint t = now();
  metrics_.duplicates().inc(run.duplicates);
  for (size_t i = 0; i < run.items.size(); ++i) {
    const CommandRecord& row = run.items[i].record;
    if (results[i] != ClaimResult::claimed) {
      metrics_.duplicates().inc();
      continue;
    }
    metrics_.command_finished(CmdFlag::executed, DeliveryPath::broker,
                              std::chrono::duration<double>(t - row.issued_at).count());
    spdlog::info("{} {} {}: EXECUTED via broker ({})", to_string(row.command), row.app_id, row.cmd_id,
                 run.items[i].outcome.result);
  }
}

Status Manager::process_command(const Command& command, DeliveryPath path) {
  if (command.is_broadcast()) {
    auto apps = store_->list_apps(AppFilter{name()});
    if (!apps) return apps.error();
    for (const auto& app : *apps) {
      // A broadcast to many apps is long work: keep the broker connection
      // alive, and let a shutdown interrupt it (the unacked message returns).
      keepalive();
      if (g_stop_requested.load()) return Error(Errc::unavailable, "shutting down during a broadcast");
      if (auto st = run_for_app(command, app, path); !st) return st;
    }
    return ok_status();
  }
  auto app = store_->get_app(command.app_id);
  if (!app) return app.error();
  switch (route_command(*app, name())) {
    case Routing::other_manager:
      metrics_.other_manager().inc();
      spdlog::info("command {} is for app {} of manager {}; not mine, skipped", command.id, command.app_id,
                   (*app)->manager);
      return ok_status();
    case Routing::unknown_app:
      return record_unknown_app(record_for(command, command.app_id), path);
    case Routing::mine:
      return run_for_app(command, **app, path);
  }
  return ok_status();
}

Status Manager::record_unknown_app(const CommandRecord& row, DeliveryPath path) {
  auto claim = store_->claim(row, name());
  if (!claim) return claim.error();
  if (*claim != ClaimResult::claimed) {
    metrics_.duplicates().inc();
    return ok_status();
  }
  spdlog::warn("command {}: unknown app '{}'", row.cmd_id, row.app_id);
  return finish(row, unknown_app_outcome(row.app_id, path));
}

Status Manager::run_for_app(const Command& command, const App& app, DeliveryPath path) {
  // Where this command stands in the app's issue order.
  auto place = store_->command_place(command.id, app.app_id);
  if (!place) return place.error();
  if (place->settled()) {
    metrics_.duplicates().inc();
    return ok_status();
  }
  // Per-app order (SPEC §6.3): older pending commands of this app first.
  for (const auto& row : place->earlier) {
    if (auto st = execute_row(row, DeliveryPath::poll); !st) return st;
  }
  std::optional<App> current = app;
  if (!place->earlier.empty()) {
    auto fresh = store_->get_app(app.app_id);
    if (!fresh) return fresh.error();
    if (!*fresh) return record_unknown_app(record_for(command, app.app_id), path);
    current = **fresh;
  }
  return claim_and_carry_out(record_for(command, app.app_id), *current, path);
}

Status Manager::execute_row(const CommandRecord& row, DeliveryPath path) {
  auto app = store_->get_app(row.app_id);
  if (!app) return app.error();
  if (!*app) return record_unknown_app(row, path);
  if ((*app)->manager != name()) return ok_status();
  return claim_and_carry_out(row, **app, path);
}

Status Manager::claim_and_carry_out(const CommandRecord& row, const App& app, DeliveryPath path) {
  auto claim = store_->claim(row, name());
  if (!claim) return claim.error();
  if (*claim != ClaimResult::claimed) {
    metrics_.duplicates().inc();
    spdlog::debug("command {} for {} already {}; not run again", row.cmd_id, row.app_id,
                  *claim == ClaimResult::already_finished ? "finished" : "claimed");
    return ok_status();
  }
  const Outcome outcome = carry_out(row, app, path);
  return with_store_retry([&] { return finish(row, outcome); });
}

Status Manager::finish(const CommandRecord& row, const Outcome& outcome) {
  auto st = store_->finish(row.cmd_id, row.app_id, name(), outcome);
  if (!st) return st;
  metrics_.command_finished(outcome.flag, outcome.path, std::chrono::duration<double>(now() - row.issued_at).count());
  if (outcome.flag == CmdFlag::executed) {
    spdlog::info("{} {} {}: EXECUTED via {} ({})", to_string(row.command), row.app_id, row.cmd_id,
                 to_string(outcome.path), outcome.result);
  } else {
    spdlog::warn("{} {} {}: NOT_EXECUTED via {} ({})", to_string(row.command), row.app_id, row.cmd_id,
                 to_string(outcome.path), outcome.result);
  }
  return ok_status();
}

bool Manager::is_running(const App& app) {
  // Child or re-adopted alike: alive and the same process (a zombie counts
  // as ended).
  auto it = tracked_.find(app.app_id);
  return it != tracked_.end() && is_same_process(it->second.process);
}

Outcome Manager::carry_out(const CommandRecord& row, const App& app, DeliveryPath path) {
  const bool running = is_running(app);
  const CommandPlan plan = plan_command(row.command, running);
  AppState state = observed_state(state_of(app), running);
  std::string result;
  if (plan.stop) {
    auto stopped = stop_app(app.app_id);
    if (!stopped) {
      return Outcome{CmdFlag::not_executed, "stop failed: " + stopped.error().message(), path, state};
    }
    state =
        ended_state(state, AppStatus::stopped,
                    stopped->status.known() ? std::optional<int>(stopped->status.shell_code()) : std::nullopt, now());
    result = describe_stop(*stopped);
  }
  if (plan.start) {
    auto started = start_app(app, row.cmd_id, row.args_json);
    if (!started) {
      state.status = AppStatus::failed;
      state.pid.reset();
      state.proc_start.reset();
      return Outcome{CmdFlag::not_executed, "start failed: " + started.error().message(), path, state};
    }
    state = running_state(state, started->pid, started->start_time, now());
    // Commit the new process before the outcome: a manager killed between
    // the two re-adopts it on restart and sees the START done, instead of
    // starting a second copy (effect once, SPEC §6.2).
    if (auto st = with_store_retry([&] { return store_->set_app_state(app.app_id, state); }); !st) {
      spdlog::warn("recording the start of {} (pid {}) failed: {}", app.app_id, started->pid, st.error().message());
    }
    if (!result.empty()) result += "; ";
    result += "started pid " + std::to_string(started->pid);
  }
  if (plan.set_disable) {
    state.disable = *plan.set_disable;
    result = *plan.set_disable ? "disabled" : "enabled";
  }
  if (!plan.noop_reason.empty()) result = plan.noop_reason;
  return Outcome{CmdFlag::executed, result, path, state};
}

Result<ProcessHandle> Manager::start_app(const App& app, const std::string& cmd_id, const std::string& args_json) {
  SpawnRequest request;
  request.app_id = app.app_id;
  request.argv = app.exec;
  request.log_dir = config_.log_dir;
  request.manager = name();
  request.command_id = cmd_id;
  request.args_json = args_json;
  auto spawned = spawn(request);
  if (!spawned) return spawned.error();
  tracked_[app.app_id] = Tracked{spawned->process, true};
  app_by_pid_[spawned->process.pid] = app.app_id;
  return spawned->process;
}

Result<StopOutcome> Manager::stop_app(const std::string& app_id) {
  auto it = tracked_.find(app_id);
  if (it == tracked_.end()) return StopOutcome{};
  const ProcessHandle process = it->second.process;
  auto stop = GracefulStop::begin(process, seconds_to_ms(config_.stop_timeout));
  if (!stop) return stop.error();
  Result<std::optional<StopOutcome>> outcome = std::optional<StopOutcome>();
  for (;;) {
    outcome = stop->poll();
    if (!outcome || *outcome) break;
    keepalive();
    const auto wait = std::min(ms(stop->next_deadline() - Steady::now()), std::chrono::milliseconds(100));
    pollfd pfd{stop->fd(), POLLIN, 0};
    (void)::poll(stop->fd() >= 0 ? &pfd : nullptr, stop->fd() >= 0 ? 1 : 0,
                 static_cast<int>(std::max<int64_t>(1, wait.count())));
  }
  if (!outcome) return outcome.error();
  tracked_.erase(app_id);
  app_by_pid_.erase(process.pid);
  return **outcome;
}

void Manager::reap_children_now() {
  for (const ExitStatus& status : reap_children()) {
    auto it = app_by_pid_.find(status.pid);
    if (it == app_by_pid_.end()) continue;
    const std::string app_id = it->second;
    app_by_pid_.erase(it);
    tracked_.erase(app_id);
    auto app = store_->get_app(app_id);
    if (!app || !*app) continue;
    const AppState s =
        ended_state(state_of(**app), status_after_exit(false, status.exit_code.value_or(0), status.signal.value_or(0)),
                    status.shell_code(), now());
    spdlog::info("app {} {}", app_id, status.describe());
    (void)with_store_retry([&] { return store_->set_app_state(app_id, s); });
  }
}

void Manager::check_adopted() {
  std::vector<std::string> gone;
  for (const auto& [app_id, tracked] : tracked_) {
    if (!tracked.child && !is_same_process(tracked.process)) gone.push_back(app_id);
  }
  for (const auto& app_id : gone) {
    app_by_pid_.erase(tracked_[app_id].process.pid);
    tracked_.erase(app_id);
    auto app = store_->get_app(app_id);
    if (!app || !*app) continue;
    // Not our child: how it ended is unknown.
    const AppState s = ended_state(state_of(**app), AppStatus::stopped, std::nullopt, now());
    spdlog::info("re-adopted app {} ended (exit status unknown)", app_id);
    (void)store_->set_app_state(app_id, s);
  }
}

void Manager::poll_database(bool broker_mode) {
  auto rows = store_->pending_for_manager(name());
  if (!rows) {
    spdlog::warn("polling the store failed: {}", rows.error().message());
    return;
  }
  const TimePoint t = now();
  for (const auto& row : *rows) {
    if (g_stop_requested.load()) return;
    if (!sweep_takes(row, broker_mode, t, options_.sweep_grace)) continue;
    if (auto st = execute_row(row, DeliveryPath::poll); !st) {
      spdlog::warn("command {} for {} from the store: {}", row.cmd_id, row.app_id, st.error().message());
      if (st.error().retryable()) return;
    }
  }
}

void Manager::run_schedule() {
  AppFilter filter{name()};
  filter.scheduled_only = true;
  auto apps = store_->list_apps(filter);
  if (!apps) return;
  const TimePoint t = now();
  for (const auto& app : *apps) {
    if (!app.schedule) continue;
    auto schedule = parse_schedule(*app.schedule);
    if (!schedule) continue;
    const bool running = is_running(app);
    if (!app.next_run_at) {
      (void)store_->set_next_run(app.app_id, schedule->next_run(app.started_at, t));
      continue;
    }
    if (!schedule_due(app, running, t)) continue;
    auto started = start_app(app, "schedule", "{}");
    AppState s = state_of(app);
    if (started) {
      s = running_state(s, started->pid, started->start_time, t);
      spdlog::info("schedule started app {} (pid {})", app.app_id, started->pid);
    } else {
      s.status = AppStatus::failed;
      spdlog::warn("schedule could not start app {}: {}", app.app_id, started.error().message());
    }
    (void)store_->set_app_state(app.app_id, s);
    (void)store_->set_next_run(app.app_id, schedule->next_after(t));
  }
}

void Manager::heartbeat_lease() {
  auto st = store_->heartbeat(name(), ::getpid(), mode_);
  if (!st) {
    if (st.error().code() == Errc::conflict) {
      spdlog::error("lost the lease on name '{}': {}; shutting down", name(), st.error().message());
      lease_lost_ = true;
      request_stop();
    } else {
      spdlog::warn("lease heartbeat failed: {}", st.error().message());
    }
  }
}

void Manager::update_app_gauges(const std::vector<App>& apps) {
  std::array<int64_t, 5> counts{};
  for (const auto& app : apps) counts[static_cast<size_t>(app.status)]++;
  metrics_.set_apps(counts);
}

int Manager::run() {
  next_poll_ = next_schedule_ = next_lease_ = Steady::now();
  while (!g_stop_requested.load()) {
    metrics_.last_loop_micros.store(to_unix_micros(now()), std::memory_order_relaxed);
    if (g_reopen_requested.exchange(false) && on_reopen_logs) on_reopen_logs();
    auto t = Steady::now();
    if (!consumer_ && t >= next_reconnect_) try_connect();

    // Sleep until the next timer, a delivery, or a notification.
    Steady::time_point wake = std::min({next_schedule_, next_lease_, t + options_.max_wait});
    wake = std::min(wake, consumer_ ? next_sweep_ : std::min(next_poll_, next_reconnect_));
    const auto wait = std::max(std::chrono::milliseconds(0), ms(wake - Steady::now()));
    if (consumer_) {
      auto delivery = consumer_->next(wait);
      if (!delivery) {
        broker_lost(delivery.error());
      } else if (*delivery) {
        // Take what else has already arrived, up to the prefetch window, so
        // a run of commands can share one transaction.
        std::vector<broker::Delivery> batch;
        batch.push_back(std::move(**delivery));
        while (batch.size() < static_cast<size_t>(config_.rabbit_prefetch)) {
          auto more = consumer_->next(std::chrono::milliseconds(0));
          if (!more) {
            broker_lost(more.error());  // the unacked deliveries come back
            break;
          }
          if (!*more) break;
          batch.push_back(std::move(**more));
        }
        if (consumer_) handle_deliveries(batch);
      }
    } else {
      pollfd pfd{notifier_ ? notifier_->fd() : -1, POLLIN, 0};
      const int n = ::poll(&pfd, 1, static_cast<int>(wait.count()));
      if (n > 0 && notifier_) {
        auto drained = notifier_->drain();
        if (!drained) {
          spdlog::warn("database notifications failed: {}", drained.error().message());
          notifier_.reset();
        }
        next_poll_ = Steady::now();
      }
    }

    reap_children_now();
    t = Steady::now();
    if (!consumer_ && t >= next_poll_) {
      poll_database(/*broker_mode=*/false);
      next_poll_ = Steady::now() + seconds_to_ms(config_.poll_interval);
      if (!notifier_) {
        if (auto n = store_->listen_for_commands(); n && *n) notifier_ = std::move(*n);
      }
    }
    if (consumer_ && t >= next_sweep_) {
      if (notifier_) (void)notifier_->drain();
      poll_database(/*broker_mode=*/true);
      next_sweep_ = Steady::now() + options_.sweep_interval;
    }
    if (t >= next_schedule_) {
      check_adopted();
      run_schedule();
      next_schedule_ = Steady::now() + options_.schedule_tick;
    }
    if (t >= next_lease_) {
      heartbeat_lease();
      // The apps-by-status gauges list every app: refreshed at the lease's
      // pace, not every schedule tick, so 10,000 apps cost nothing per second.
      if (auto apps = store_->list_apps(AppFilter{name()}); apps) update_app_gauges(*apps);
      next_lease_ = Steady::now() + options_.lease_heartbeat;
    }
  }
  shutdown();
  // A manager pushed out of its name exits non-zero so a supervisor notices.
  return lease_lost_ ? 1 : 0;
}

void Manager::shutdown() {
  spdlog::info("shutting down: stop consuming, stop {} app(s), release the lease", tracked_.size());
  if (consumer_) {
    (void)consumer_->cancel();
    consumer_.reset();
  }
  std::vector<std::string> app_ids;
  for (const auto& [app_id, tracked] : tracked_) app_ids.push_back(app_id);
  for (const auto& app_id : app_ids) {
    auto how = stop_app(app_id);
    auto app = store_->get_app(app_id);
    if (app && *app) {
      const std::optional<int> code =
          how && how->status.known() ? std::optional<int>(how->status.shell_code()) : (*app)->exit_code;
      (void)store_->set_app_state(app_id, ended_state(state_of(**app), AppStatus::stopped, code, now()));
    }
    spdlog::info("app {}: {}", app_id, how ? describe_stop(*how) : how.error().message());
  }
  if (auto st = store_->release_lease(name(), ::getpid()); !st) {
    spdlog::warn("releasing the lease failed: {}", st.error().message());
  }
  spdlog::info("manager {} stopped", name());
}

}  // namespace dc
