// dc-manager's event loop (SPEC §6). It wires the parts and owns nothing
// else: the store, the broker consumer, the process table, the lease (its
// own thread), the background connector, the command runner, the delivery
// handler and the scheduler. Decisions come from manager/decisions.h.
//
// Life cycle: Manager::start() opens the store, takes the name's lease
// (refusing when a live manager holds it), re-adopts or marks lost the apps
// it ran before, finishes commands it had claimed but not recorded, and
// connects to the broker (or starts in fallback mode). run() loops until
// request_stop(), then stops consuming, stops the apps, releases the lease
// and returns the exit code. A manager whose lease was taken over (fenced)
// stops at once instead, leaving the apps and the lease to the new holder,
// and run() returns 1.
//
// Under systemd (Type=notify): READY=1 once run() starts (the lease is held
// and the manager consumes or polls), STATUS= with the mode and the apps
// running, WATCHDOG=1 from the loop, STOPPING=1 when it shuts down.
//
// Threads: the loop is one thread; the lease heartbeat and broker
// connection attempts run on threads of their own. metrics() and mode()
// may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/version.h"
#include "broker/consumer.h"
#include "config/config.h"
#include "manager/command_runner.h"
#include "manager/connector.h"
#include "manager/decisions.h"
#include "manager/deliveries.h"
#include "manager/lease.h"
#include "manager/manager_metrics.h"
#include "manager/process_table.h"
#include "manager/scheduler.h"
#include "observe/systemd_notify.h"
#include "store/store.h"

namespace dc {

struct ManagerOptions {
  // Broker mode: how often the database is swept for commands whose publish
  // failed at the source, and how old a PENDING row must be to be taken.
  std::chrono::milliseconds sweep_interval{10000};
  std::chrono::milliseconds sweep_grace{5000};
  std::chrono::milliseconds schedule_tick{1000};
  // Reconnect backoff: initial delay, cap, jitter fraction.
  std::chrono::milliseconds reconnect_initial{500};
  std::chrono::milliseconds reconnect_cap{10000};
  double reconnect_jitter = 0.2;
  // Longest single wait of the loop, so signals and timers are never late.
  std::chrono::milliseconds max_wait{200};
  std::string version{kVersion};
};

class Manager {
 public:
  static Result<std::unique_ptr<Manager>> start(Config config, ManagerOptions options = {});
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Runs until request_stop(); returns the process exit code (0 on a clean
  // shutdown, 1 when the lease was lost).
  int run();

  // Async-signal-safe: asks run() to shut down.
  static void request_stop();
  // Async-signal-safe: asks run() to call `on_reopen_logs` (SIGHUP).
  static void request_log_reopen();
  std::function<void()> on_reopen_logs;

  // Thread-safe: read by the metrics endpoint's thread.
  ManagerMetrics& metrics() { return metrics_; }
  // The mode, for /healthz; thread-safe.
  ManagerMode mode() const { return static_cast<ManagerMode>(mode_.load()); }
  const std::string& name() const { return config_.manager_name(); }

 private:
  using Steady = std::chrono::steady_clock;

  Manager(Config config, ManagerOptions options, std::unique_ptr<Store> store, std::unique_ptr<Lease> lease);

  // Takes a consumer the connector made, if any: resumes broker mode.
  void take_connection();
  void broker_lost(const Error& error);
  void set_mode(ManagerMode mode, std::string_view why);
  // Waits for a delivery (broker mode) or a database notification
  // (fallback), at most until `wake`; handles what arrived.
  void wait_and_handle(Steady::time_point wake);
  // The store's pending commands of this manager; `broker_mode`: only those
  // old enough that their publish probably failed (the sweep).
  void poll_database(bool broker_mode);
  // Keeps a LISTEN connection open (PostgreSQL), whatever the mode.
  void keep_listening();
  void keepalive();
  bool stopping() const;
  // A store error came back: stop acting if it says the lease is lost.
  void note_error(const Error& error, std::string_view doing);
  void shutdown();
  // STATUS= for the service manager: the mode and the apps running.
  void report_status();

  Config config_;
  ManagerOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Lease> lease_;
  ManagerMetrics metrics_;
  ProcessTable processes_;
  CommandRunner runner_;
  DeliveryHandler deliveries_;
  Scheduler scheduler_;
  BrokerConnector connector_;
  std::unique_ptr<broker::Consumer> consumer_;
  // The broker node the last connection was lost to: tried last on
  // reconnect, so a hung node does not delay fail-over to the next one.
  std::optional<Endpoint> lost_endpoint_;
  std::unique_ptr<CommandNotifier> notifier_;
  Backoff backoff_;
  std::atomic<int> mode_{static_cast<int>(ManagerMode::starting)};
  bool fenced_ = false;
  SystemdNotifier systemd_ = SystemdNotifier::from_environment();

  Steady::time_point next_reconnect_{};
  Steady::time_point next_poll_{};
  Steady::time_point next_sweep_{};
  Steady::time_point next_schedule_{};
  Steady::time_point next_gauges_{};
  Steady::time_point next_watchdog_{};
};

}  // namespace dc
