// Carrying out commands (SPEC §6.2, §6.3, §6.5). For each (command, app) the
// runner claims the row in the store (fenced by the lease), first runs the
// app's older pending commands (per-app order), acts on the app's process
// or its disable flag, and records the outcome together with the app's new
// state. Broker deliveries, rows read from the store (the fallback's poll,
// the sweep) and recovery all come through here, so every path follows the
// same rules.
//
// Errors, whatever the entry point:
//   retryable (Error::retryable())  the store is unavailable, the lease is
//                not confirmed yet, or a shutdown interrupted the work:
//                leave the command for later (a delivery stays unacked)
//   Errc::fenced this process lost its lease: stop acting at once
//   others       the command cannot be recorded (a value the store refuses)
//
// Not thread-safe: the manager's event loop owns it.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "manager/lease.h"
#include "manager/manager_metrics.h"
#include "manager/process_table.h"
#include "protocol/command.h"
#include "store/store.h"

namespace dc {

class CommandRunner {
 public:
  struct Hooks {
    std::function<void()> keepalive;  // during long work: keep the broker connection alive
    std::function<bool()> stopping;   // a shutdown was asked for: give up waiting
  };

  CommandRunner(const Config& config, Store& store, ProcessTable& processes, Lease& lease, ManagerMetrics& metrics,
                Hooks hooks);

  const std::string& name() const { return config_.manager_name(); }
  const Claimer& claimer() const { return claimer_; }
  bool stopping() const { return hooks_.stopping && hooks_.stopping(); }
  void keepalive() const;

  // What becomes of a delivered command once applied.
  struct Disposition {
    bool dead_letter = false;
    std::string reason;  // why it is dead-lettered
  };
  // Applies a command (a broker delivery) to every app it addresses: one
  // app, or a broadcast's targets (Store::broadcast_targets). A transient
  // failure on one app of a broadcast is retried; a permanent one is
  // recorded NOT_EXECUTED for that app and the others go on. A command for
  // another manager's app that no source recorded is dead-lettered, since
  // no one else would ever see it.
  Result<Disposition> apply(const Command& command, DeliveryPath path);

  // A row found in the store (poll, sweep, or an app's older pending row).
  // Another manager's app: left alone. A row the broker path would refuse
  // (recorded_command_problem: unsigned, wrongly signed, expired, too large)
  // is recorded NOT_EXECUTED with the reason; any other is carried out.
  Status execute_row(const CommandRecord& row, DeliveryPath path);

  // A row an earlier instance of this manager claimed and never finished
  // (recovery): finished EXECUTED when its effect is already visible in the
  // real process state, else carried out now.
  Status finish_stranded(const CommandRecord& row);

  // Records in the store how the processes that ended since the last call
  // ended (status, exit code). Returns the apps whose current process ended.
  std::set<std::string> record_exits();

  // Starts the app's process. Its pid, start time and RUNNING are recorded
  // (with `state` as the rest of the app's state, updated in place) before
  // the process runs the program, so none ever runs unrecorded.
  Result<ProcessHandle> start_app(const App& app, const std::string& cmd_id, const std::string& args_json,
                                  AppState& state);

  // Runs `op` until it succeeds or fails for good, waiting between tries
  // while the store is unavailable (up to 5 s apart). Gives up when a
  // shutdown is asked for.
  Status with_store_retry(const std::function<Status()>& op);

  // The apps of this manager that `command` (a broadcast) addresses.
  Result<std::vector<App>> broadcast_targets(const Command& command);

  // The app's state as recorded, corrected by what this manager sees.
  AppState observed(const App& app) const;

  static AppState state_of(const App& app);
  static CommandRecord record_for(const Command& command, const std::string& app_id);

 private:
  Status run_for_app(const Command& command, const App& app, DeliveryPath path);
  Status claim_and_carry_out(const CommandRecord& row, const App& app, DeliveryPath path);
  // Claims `row` and records it NOT_EXECUTED with `reason` (no effect).
  Status refuse(const CommandRecord& row, const std::string& reason, DeliveryPath path);
  Outcome carry_out(const CommandRecord& row, const App& app, DeliveryPath path);
  Status finish(const CommandRecord& row, const Outcome& outcome);

  const Config& config_;
  Store& store_;
  ProcessTable& processes_;
  Lease& lease_;
  ManagerMetrics& metrics_;
  Hooks hooks_;
  Claimer claimer_;
};

}  // namespace dc
