#include "manager/manager.h"

#include <poll.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>

#include "base/host.h"
#include "base/ids.h"
#include "base/redact.h"
#include "manager/recovery.h"
#include "source/broker_settings.h"

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

broker::ConsumerOptions consumer_options(const Config& config) {
  broker::ConsumerOptions options;
  options.queue = config.manager_name();
  options.prefetch = static_cast<uint16_t>(config.rabbit_prefetch);
  // A body over the protocol's limit is poison: refused by the size its
  // header declares, never read into memory.
  options.max_body_bytes = kMaxBodyBytes;
  return options;
}

broker::CommandTopology topology_or_default(const Config& config) {
  auto topology = command_topology(config, config.manager_name());
  return topology ? *topology : broker::CommandTopology{};
}

}  // namespace

void Manager::request_stop() { g_stop_requested.store(true); }
void Manager::request_log_reopen() { g_reopen_requested.store(true); }

Manager::Manager(Config config, ManagerOptions options, std::unique_ptr<Store> store, std::unique_ptr<Lease> lease)
    : config_(std::move(config)),
      options_(std::move(options)),
      store_(std::move(store)),
      lease_(std::move(lease)),
      runner_(config_, *store_, processes_, *lease_, metrics_,
              CommandRunner::Hooks{[this] { keepalive(); }, [this] { return stopping(); }}),
      deliveries_(config_, *store_, runner_, metrics_),
      scheduler_(*store_, runner_, processes_, std::chrono::seconds(config_.schedule_misfire_grace)),
      connector_(connection_settings(config_, "dc-manager " + config_.manager_name() + "@" + host_name()),
                 topology_or_default(config_), consumer_options(config_)),
      backoff_(options_.reconnect_initial, options_.reconnect_cap, options_.reconnect_jitter,
               static_cast<uint64_t>(::getpid()) ^ static_cast<uint64_t>(to_unix_micros(now()))) {}

Manager::~Manager() = default;

Result<std::unique_ptr<Manager>> Manager::start(Config config, ManagerOptions options) {
  if (auto topology = command_topology(config, config.manager_name()); !topology) return topology.error();
  auto store = Store::open(config.db_url);
  if (!store) return store.error().with_context("opening the store " + redact_url(config.db_url));
  ManagerRecord self;
  self.name = config.manager_name();
  self.host = host_name();
  self.pid = ::getpid();
  self.started_at = now();
  self.mode = ManagerMode::starting;
  self.version = options.version;
  self.instance = random_uuid();
  const std::chrono::milliseconds ttl = std::chrono::seconds(config.lease_ttl);
  auto lease = Lease::acquire(config.db_url, self, ttl, ttl / 3);
  if (!lease) return lease.error();
  spdlog::info("holding the lease on '{}' as instance {}", self.name, self.instance);
  std::unique_ptr<Manager> m(new Manager(std::move(config), std::move(options), std::move(*store), std::move(*lease)));
  if (auto st = recover(*m->store_, m->processes_, m->runner_); !st) {
    if (auto released = m->lease_->release(); !released) {
      spdlog::warn("releasing the lease failed: {}", released.error().message());
    }
    return st.error().with_context("recovering after the previous run");
  }
  m->keep_listening();
  // The first attempt on this thread: nothing else is due yet.
  auto consumer = m->connector_.connect();
  if (consumer) {
    m->consumer_ = std::move(*consumer);
    spdlog::info("consuming queue {} on {}", m->name(), m->consumer_->connection().describe());
    m->set_mode(ManagerMode::broker, "connected");
    m->next_sweep_ = Steady::now() + m->options_.sweep_interval;
  } else {
    spdlog::warn("broker unreachable: {}", consumer.error().message());
    m->set_mode(ManagerMode::fallback, "broker unreachable at start");
    m->next_reconnect_ = Steady::now() + m->backoff_.next();
  }
  return m;
}

bool Manager::stopping() const { return g_stop_requested.load() || fenced_; }

void Manager::keepalive() {
  // Long work (a STOP waiting out stop_timeout, a broadcast) is not a hang.
  if (const auto watchdog = systemd_.watchdog_interval(); watchdog && Steady::now() >= next_watchdog_) {
    (void)systemd_.watchdog();
    next_watchdog_ = Steady::now() + *watchdog;
  }
  if (!consumer_) return;
  if (auto st = consumer_->connection().keepalive(); !st) {
    spdlog::debug("broker keepalive failed: {}", st.error().message());
  }
}

void Manager::note_error(const Error& error, std::string_view doing) {
  if (error.code() == Errc::fenced) {
    if (!fenced_) spdlog::error("{}: {}; stopping at once", doing, error.message());
    fenced_ = true;
    return;
  }
  spdlog::warn("{}: {}", doing, error.message());
}

void Manager::set_mode(ManagerMode mode, std::string_view why) {
  const auto previous = static_cast<ManagerMode>(mode_.exchange(static_cast<int>(mode)));
  if (previous == mode) return;
  spdlog::info("mode {} -> {} ({})", to_string(previous), to_string(mode), why);
  metrics_.set_mode(mode);
  lease_->set_mode(mode);
  report_status();
}

void Manager::report_status() {
  if (!systemd_.enabled()) return;
  const std::string text =
      "mode " + std::string(to_string(mode())) + ", " + std::to_string(processes_.size()) + " app(s) running";
  if (auto st = systemd_.status(text); !st) spdlog::debug("systemd notify: {}", st.error().message());
}

void Manager::take_connection() {
  auto outcome = connector_.take();
  if (!outcome) return;
  if (!*outcome) {
    spdlog::log(backoff_.attempts() <= 1 ? spdlog::level::warn : spdlog::level::debug,
                "broker unreachable: {} (retry in {} ms)", outcome->error().message(),
                std::max<int64_t>(0, ms(next_reconnect_ - Steady::now()).count()));
    return;
  }
  consumer_ = std::move(**outcome);
  lost_endpoint_.reset();
  metrics_.reconnects().inc();
  backoff_.reset();
  spdlog::info("consuming queue {} on {}", name(), consumer_->connection().describe());
  // Whatever arrived through the database while we were away is taken now,
  // in issue order, before new deliveries.
  poll_database(/*broker_mode=*/false);
  set_mode(ManagerMode::broker, "connected");
  next_sweep_ = Steady::now() + options_.sweep_interval;
}

void Manager::broker_lost(const Error& error) {
  spdlog::warn("broker connection lost: {}", error.message());
  if (consumer_) lost_endpoint_ = consumer_->connection().endpoint();
  consumer_.reset();
  backoff_.reset();
  set_mode(ManagerMode::fallback, error.message());
  next_reconnect_ = Steady::now() + backoff_.next();
  next_poll_ = Steady::now();
}

void Manager::keep_listening() {
  if (notifier_ && notifier_->fd() >= 0) return;
  notifier_.reset();
  auto notifier = store_->listen_for_commands();
  if (!notifier) {
    spdlog::debug("database notifications unavailable ({}); polling only", notifier.error().message());
    return;
  }
  if (*notifier) spdlog::debug("listening for database notifications");
  notifier_ = std::move(*notifier);
}

void Manager::wait_and_handle(Steady::time_point wake) {
  const auto wait = std::max(std::chrono::milliseconds(0), ms(wake - Steady::now()));
  if (consumer_) {
    auto delivery = consumer_->next(wait);
    if (!delivery) return broker_lost(delivery.error());
    if (*delivery) {
      // Take what else has already arrived, up to the prefetch window, so
      // a run of commands can share one transaction.
      std::vector<broker::Delivery> batch;
      batch.push_back(std::move(**delivery));
      while (batch.size() < static_cast<size_t>(config_.rabbit_prefetch)) {
        auto more = consumer_->next(std::chrono::milliseconds(0));
        if (!more) {
          broker_lost(more.error());  // the unacked deliveries come back
          return;
        }
        if (!*more) break;
        batch.push_back(std::move(**more));
      }
      if (auto st = deliveries_.handle(*consumer_, batch); !st) {
        if (is_fenced(st)) return note_error(st.error(), "handling deliveries");
        return broker_lost(st.error());
      }
    }
    // A LISTEN connection lost in broker mode is noticed here, so the next
    // fallback wakes on NOTIFY at once rather than a poll_interval later.
    if (notifier_ && notifier_->fd() >= 0) {
      pollfd pfd{notifier_->fd(), POLLIN, 0};
      if (::poll(&pfd, 1, 0) > 0) {
        if (auto drained = notifier_->drain(); !drained) {
          spdlog::warn("database notifications lost ({}); listening again", drained.error().message());
          notifier_.reset();
        }
      }
    }
    return;
  }
  // Fallback: sleep until the deadline or a notification.
  pollfd pfd{notifier_ ? notifier_->fd() : -1, POLLIN, 0};
  const int n = ::poll(&pfd, 1, static_cast<int>(wait.count()));
  if (n > 0 && notifier_) {
    if (auto drained = notifier_->drain(); !drained) {
      spdlog::warn("database notifications lost ({}); listening again", drained.error().message());
      notifier_.reset();
    }
    next_poll_ = Steady::now();
  }
}

void Manager::poll_database(bool broker_mode) {
  auto rows = store_->pending_for_manager(name());
  if (!rows) return note_error(rows.error(), "polling the store");
  const TimePoint t = now();
  for (const auto& row : *rows) {
    if (stopping()) return;
    if (!sweep_takes(row, broker_mode, t, options_.sweep_grace)) continue;
    if (auto st = runner_.execute_row(row, DeliveryPath::poll); !st) {
      note_error(st.error(), "command " + row.cmd_id + " for " + row.app_id + " from the store");
      if (st.error().retryable() || fenced_) return;
    }
  }
}

int Manager::run() {
  next_poll_ = next_schedule_ = next_gauges_ = next_watchdog_ = Steady::now();
  if (auto st = systemd_.ready("mode " + std::string(to_string(mode()))); !st) {
    spdlog::warn("telling systemd the manager is ready failed: {}", st.error().message());
  }
  const auto watchdog = systemd_.watchdog_interval();
  while (!stopping()) {
    metrics_.last_loop_micros.store(to_unix_micros(now()), std::memory_order_relaxed);
    if (watchdog && Steady::now() >= next_watchdog_) {
      // From the loop itself: a loop that hangs stops the pings, and systemd
      // restarts the manager.
      (void)systemd_.watchdog();
      next_watchdog_ = Steady::now() + *watchdog;
    }
    if (g_reopen_requested.exchange(false) && on_reopen_logs) on_reopen_logs();
    if (lease_->fenced()) {
      fenced_ = true;
      break;
    }
    auto t = Steady::now();
    if (!consumer_) {
      take_connection();
      if (!consumer_ && !connector_.busy() && t >= next_reconnect_) {
        connector_.begin(lost_endpoint_);  // on its own thread: polling goes on meanwhile
        next_reconnect_ = t + backoff_.next();
      }
    }

    Steady::time_point wake = std::min(next_schedule_, t + options_.max_wait);
    wake = std::min(wake, consumer_ ? next_sweep_ : next_poll_);
    wait_and_handle(wake);
    if (stopping()) break;

    runner_.record_exits();
    t = Steady::now();
    keep_listening();
    if (!consumer_ && t >= next_poll_) {
      poll_database(/*broker_mode=*/false);
      next_poll_ = Steady::now() + seconds_to_ms(config_.poll_interval);
    }
    if (consumer_ && t >= next_sweep_) {
      poll_database(/*broker_mode=*/true);
      next_sweep_ = Steady::now() + options_.sweep_interval;
    }
    if (t >= next_schedule_) {
      scheduler_.tick();
      next_schedule_ = Steady::now() + options_.schedule_tick;
    }
    if (t >= next_gauges_) {
      // The apps-by-status gauges list every app: refreshed every few
      // seconds, not every tick, so 10,000 apps cost nothing per second.
      if (auto apps = store_->list_apps(AppFilter{name()}); apps) {
        std::array<int64_t, 5> counts{};
        for (const auto& app : *apps) counts[static_cast<size_t>(app.status)]++;
        metrics_.set_apps(counts);
        report_status();
      } else {
        note_error(apps.error(), "counting apps by status");
      }
      next_gauges_ = Steady::now() + std::chrono::seconds(5);
    }
  }
  shutdown();
  // A manager pushed out of its name exits non-zero so a supervisor notices.
  return fenced_ ? 1 : 0;
}

void Manager::shutdown() {
  (void)systemd_.stopping();
  if (fenced_) {
    // Another instance holds the name now and has adopted the apps: leave
    // them running and the lease alone. Closing the connection returns any
    // unacked delivery to the queue, for the new holder.
    spdlog::error("manager {} lost its lease: stopping at once; {} app(s) left running for the new holder", name(),
                  processes_.size());
    consumer_.reset();
    return;
  }
  spdlog::info("shutting down: stop consuming, stop {} app(s), release the lease", processes_.size());
  if (consumer_) {
    if (auto st = consumer_->cancel(); !st) spdlog::debug("cancelling the consumer: {}", st.error().message());
    consumer_.reset();
  }
  for (const auto& app_id : processes_.apps()) {
    auto how = processes_.stop(app_id, seconds_to_ms(config_.stop_timeout), {});
    auto app = store_->get_app(app_id);
    if (app && *app) {
      const std::optional<int> code =
          how && how->status.known() ? std::optional<int>(how->status.shell_code()) : (*app)->exit_code;
      const AppState s = ended_state(CommandRunner::state_of(**app), AppStatus::stopped, code, now());
      if (auto st = store_->set_app_state(app_id, s); !st) {
        spdlog::warn("recording the stop of app {} failed: {}", app_id, st.error().message());
      }
    } else if (!app) {
      spdlog::warn("reading app {} after stopping it failed: {}", app_id, app.error().message());
    }
    spdlog::info("app {}: {}", app_id,
                 how ? std::string(to_string(how->how)) + (how->status.known() ? ", " + how->status.describe() : "")
                     : how.error().message());
  }
  if (auto st = lease_->release(); !st) spdlog::warn("releasing the lease failed: {}", st.error().message());
  spdlog::info("manager {} stopped", name());
}

}  // namespace dc
