// The manager's decisions, free of I/O (STYLE: protocol logic without I/O).
// Given a command, an app's state and this manager's mode, what happens next
// is decided here; the event loop (manager.h) only carries it out. Every
// function is pure and unit-tested without a broker, a database or a process
// (tests/manager/decisions_test.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

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

// Whether the schedule should start `app` now: it has a schedule, is enabled,
// is not running, and its next run time has come.
bool schedule_due(const App& app, bool running, TimePoint now);

// Whether a command row found by the database sweep should be run by the
// sweep rather than left to its broker delivery. In broker mode only rows
// older than `grace` are swept (their publish probably failed at the
// source); in fallback mode every pending row is taken at once.
bool sweep_takes(const CommandRecord& record, bool broker_mode, TimePoint now, std::chrono::milliseconds grace);

}  // namespace dc
