// dc-manager's event loop (SPEC §6): one thread owns the broker consumer, the
// store, the timers and the app processes. Decisions come from
// manager/decisions.h; this file only carries them out.
//
// Life cycle: Manager::start() opens the store, takes the name's lease
// (refusing when a live manager holds it), re-adopts or marks lost the apps
// it ran before, finishes commands it had claimed but not recorded, and
// connects to the broker (or starts in fallback mode). run() loops until
// request_stop(), then stops consuming, stops the apps, releases the lease
// and returns the exit code.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "broker/consumer.h"
#include "config/config.h"
#include "manager/decisions.h"
#include "manager/manager_metrics.h"
#include "process/process_handle.h"
#include "process/stop.h"
#include "store/store.h"

namespace dc {

struct ManagerOptions {
  // A manager not seen for this long has lost its lease to the name.
  std::chrono::milliseconds lease_ttl{15000};
  std::chrono::milliseconds lease_heartbeat{5000};
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
  std::string version = "0.1.0";
};

class Manager {
 public:
  static Result<std::unique_ptr<Manager>> start(Config config, ManagerOptions options = {});
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Runs until request_stop(); returns the process exit code (0 on a clean
  // shutdown).
  int run();

  // Async-signal-safe: asks run() to shut down.
  static void request_stop();
  // Async-signal-safe: asks run() to call `on_reopen_logs` (SIGHUP).
  static void request_log_reopen();
  std::function<void()> on_reopen_logs;

  // Thread-safe: read by the metrics endpoint's thread.
  ManagerMetrics& metrics() { return metrics_; }
  // The mode ("broker", "fallback", ...), for /healthz; thread-safe.
  std::string mode() const;
  bool broker_mode() const { return consumer_ != nullptr; }
  const std::string& name() const { return config_.manager_name(); }

 private:
  using Steady = std::chrono::steady_clock;

  struct Tracked {
    ProcessHandle process;
    bool child = true;  // spawned by this manager (reapable); false when re-adopted
  };

  Manager(Config config, ManagerOptions options, std::unique_ptr<Store> store);

  Status acquire_lease();
  Status recover();
  void try_connect();
  void broker_lost(const Error& error);
  void set_mode(std::string_view mode, std::string_view why);

  // What one transaction of the database-only path has decided so far.
  struct DbOnlyRun {
    std::vector<FinishedCommand> items;                    // to claim and finish, in order
    std::set<std::pair<std::string, std::string>> queued;  // their (cmd_id, app_id)
    std::map<std::string, App> apps;                       // the run's view of the apps it touches
    uint64_t duplicates = 0;                               // redeliveries of settled rows
  };

  // Handles deliveries that arrived together (up to the prefetch window).
  // Runs of ENABLE/DISABLE, whose whole effect is a database update, are
  // decided, carried out and recorded in one transaction and acked with
  // one multiple-ack after its commit; anything else goes through
  // handle_delivery(), in order.
  void handle_deliveries(std::vector<broker::Delivery>& deliveries);
  void handle_delivery(broker::Delivery& delivery, const Command& command);
  // Parses and authenticates a delivery. Returns the command, or nullopt
  // after dead-lettering a poison message.
  std::optional<Command> accept_delivery(broker::Delivery& delivery);
  // Adds the rows `command` writes for each app to `run` and returns true,
  // if all of them can take the database-only path (ENABLE/DISABLE, this
  // manager's apps, no older pending command outside the run); returns
  // false, adding nothing, otherwise.
  Result<bool> add_db_only(const Command& command, DbOnlyRun& run);
  // After the run's commit: metrics, one log line per command, one ack.
  void finish_run(const DbOnlyRun& run, const std::vector<ClaimResult>& results, uint64_t last_tag);
  // Applies one command (a broker delivery or a swept row). Returns
  // retryable errors (the store is unavailable) to the caller, which must
  // not acknowledge; other errors mean the command cannot be recorded.
  Status process_command(const Command& command, DeliveryPath path);
  Status run_for_app(const Command& command, const App& app, DeliveryPath path);
  // Claims `row` and carries it out; no-op when someone else has it.
  Status execute_row(const CommandRecord& row, DeliveryPath path);
  Status claim_and_carry_out(const CommandRecord& row, const App& app, DeliveryPath path);
  // Claims `row` and records it NOT_EXECUTED: the registry has no such app.
  Status record_unknown_app(const CommandRecord& row, DeliveryPath path);
  Outcome carry_out(const CommandRecord& row, const App& app, DeliveryPath path);
  Status finish(const CommandRecord& row, const Outcome& outcome);

  Result<ProcessHandle> start_app(const App& app, const std::string& cmd_id, const std::string& args_json);
  // Stops the app's process, keeping the broker connection alive meanwhile.
  Result<StopOutcome> stop_app(const std::string& app_id);
  bool is_running(const App& app);
  static AppState state_of(const App& app);

  void poll_database(bool broker_mode);
  void reap_children_now();
  void check_adopted();
  void run_schedule();
  void heartbeat_lease();
  // Refreshes the apps-by-status gauges (from the schedule tick's listing).
  void update_app_gauges(const std::vector<App>& apps);
  void shutdown();
  // Runs `op` until it succeeds or fails for good, waiting between retries
  // while the store is unavailable. Gives up when a stop is requested.
  Status with_store_retry(const std::function<Status()>& op);
  void keepalive();

  Config config_;
  ManagerOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<broker::Consumer> consumer_;
  // The broker node the last connection was lost to: tried last on
  // reconnect, so a hung node does not delay fail-over to the next one.
  std::optional<broker::Endpoint> lost_endpoint_;
  std::unique_ptr<CommandNotifier> notifier_;
  Backoff backoff_;
  std::string mode_ = "starting";
  std::map<std::string, Tracked> tracked_;  // app_id -> running process
  std::unordered_map<pid_t, std::string> app_by_pid_;
  ManagerMetrics metrics_;
  std::atomic<int> mode_code_{0};  // 0 starting, 1 broker, 2 fallback, 3 stopping (for other threads)
  TimePoint started_at_{};
  bool lease_lost_ = false;

  Steady::time_point next_reconnect_{};
  Steady::time_point next_poll_{};
  Steady::time_point next_sweep_{};
  Steady::time_point next_schedule_{};
  Steady::time_point next_lease_{};
};

}  // namespace dc
