// The manager's decisions, free of I/O (STYLE: protocol logic without I/O).
// Given a command, an app's state and this manager's mode, what happens next
// is decided here; the event loop (manager.h) only carries it out. Every
// function is pure and unit-tested in tests/manager/decisions_test.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/time.h"
#include "protocol/command.h"
#include "store/store.h"

namespace dc {

// Which manager handles a command addressed to one app.
enum class Routing {
  mine,           // the app is registered to this manager: claim and run
  other_manager,  // owned by another manager: ack, log, change nothing
  unknown_app,    // not in the registry: NOT_EXECUTED with a reason
};
Routing route_command(const std::optional<App>& app, std::string_view manager);

// What a command does to one app, decided from whether its process runs.
struct CommandPlan {
  bool stop = false;                // stop the running process first
  bool start = false;               // then start the app
  std::optional<bool> set_disable;  // new value of apps.disable
  std::string noop_reason;          // set when the command is an EXECUTED no-op
};
CommandPlan plan_command(CmdName name, bool running);
// The recorded result of setting apps.disable: "disabled" / "enabled".
std::string_view disable_result(bool disable);

// Whether a command's whole effect is a database update (ENABLE, DISABLE):
// such commands may be decided, carried out and recorded together in one
// transaction with their neighbours in the queue.
bool database_only(CmdName name);

// Whether one app's share of a database-only command may join the run of
// commands being recorded in one transaction:
//   duplicate     it is settled already (a redelivery): nothing to write
//   join          its row is free and every older pending command of the
//                 app is already ahead of it in the run (`queued`)
//   general_path  an older pending command outside the run (per-app order
//                 needs it run first), or a claim of ours whose commit went
//                 unseen: the command takes the one-by-one path
enum class RunJoin { duplicate, join, general_path };
RunJoin run_join(const CommandPlace& place, const Claimer& claimer,
                 const std::set<std::pair<std::string, std::string>>& queued);

// The status an app ends in when its process exits. `stop_requested`: the
// manager was stopping it (STOP, RESTART, shutdown), so any exit is a stop.
AppStatus status_after_exit(bool stop_requested, int exit_code, int term_signal);

// A command found claimed-but-unfinished after a crash: has its effect
// already happened, judging by the real process state? If so it is finished
// as EXECUTED without running again; if not, it is run now.
bool effect_already_visible(CmdName name, bool running, bool disabled, std::optional<TimePoint> started_at,
                            std::optional<TimePoint> claimed_at);

// The app's recorded state corrected by what the manager sees: RUNNING when
// its process runs; a RUNNING or STARTING record without a process is stale
// and becomes STOPPED; anything else as recorded.
AppState observed_state(AppState recorded, bool running);
// The state of an app whose process has ended: `status`, no pid, the exit
// code when known, stopped at `at`; everything else as in `state`.
AppState ended_state(AppState state, AppStatus status, std::optional<int> exit_code, TimePoint at);
// The state of an app whose process `pid` (start time `proc_start`) has run
// since `at`; everything else as in `state`.
AppState running_state(AppState state, int64_t pid, int64_t proc_start, TimePoint at);

// Capped exponential backoff with jitter for reconnecting to the broker:
// initial, 2x, 4x ... up to `cap`, each delay scaled by a random factor in
// [1 - jitter, 1 + jitter] so a fleet does not reconnect in lockstep.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, double jitter, uint64_t seed);
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  double jitter_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

// What the schedule does with `app` at `now` (SPEC §6.6):
//   wait         no schedule, no next run time yet, or its time has not come
//   start        enabled, not running, and its time came at most
//                `misfire_grace` ago
//   skip_missed  its time came longer ago than `misfire_grace` (the manager
//                was down, the app disabled or still running): the run is
//                skipped, not made up, as cron does; the caller sets the next
//                run after now
enum class ScheduleAction { wait, start, skip_missed };
ScheduleAction schedule_action(const App& app, bool running, TimePoint now, std::chrono::seconds misfire_grace);

// Why a command found in the store (the poll, the sweep, or an older pending
// row run first) must not run, or "" when it may. The same rules as for a
// broker delivery, so no path runs what another refuses: the body its
// source published (serialize_command_body of the row's fields) is at most
// kMaxBodyBytes; and with `secrets` set, the row's signature verifies for
// that body under routing key `manager` or `all` (the keys this manager's
// queue is bound with), and the command is at most `max_age` old.
std::string recorded_command_problem(const CommandRecord& row, std::string_view manager,
                                     const std::vector<std::string>& secrets, TimePoint now,
                                     std::chrono::seconds max_age);

// Whether a lease whose last heartbeat was sent at `last_confirmed` (and
// succeeded) may still be acted on at `now`: sent less than 4/5 of
// `lease_ttl` ago. A peer sees the lease expire only `lease_ttl` after the
// database recorded that heartbeat, later than the sending, so a manager
// stops acting before anyone else can start.
bool lease_confirmed(std::chrono::steady_clock::time_point last_confirmed, std::chrono::steady_clock::time_point now,
                     std::chrono::milliseconds lease_ttl);

// Whether a command row found by the database sweep should be run by the
// sweep rather than left to its broker delivery. In broker mode only rows
// older than `grace` are swept (their publish probably failed at the
// source); in fallback mode every pending row is taken at once.
bool sweep_takes(const CommandRecord& record, bool broker_mode, TimePoint now, std::chrono::milliseconds grace);

}  // namespace dc
