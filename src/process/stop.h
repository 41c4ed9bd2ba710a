// Stopping an app (SPEC §6.5): SIGTERM to its process group, SIGKILL to the
// group after stop_timeout. A GracefulStop is the non-blocking form for an
// event loop (begin, then poll() whenever fd() is readable or
// next_deadline() passes); stop_process() is the blocking form.
//
// A stop is complete when the app's process has ended *and* its process
// group has no live members (zombies waiting for their new parent to reap
// them do not count), so a grandchild that ignores SIGTERM is SIGKILLed too.
// The app may be our child (spawned by this manager: its exit status is
// reaped and reported) or a process re-adopted after a manager restart (we
// can see that it ended, not how).
#pragma once

#include <chrono>
#include <optional>

#include "base/result.h"
#include "base/unique_fd.h"
#include "process/exit_status.h"
#include "process/process_handle.h"

namespace dc {

enum class StopHow {
  already_gone,  // it had ended (or the pid names another process) before the stop began
  exited,        // it exited by itself after SIGTERM (a trap that cleans up and calls exit)
  terminated,    // SIGTERM (or another signal before SIGKILL) ended it; also a re-adopted
                 // process that ended before SIGKILL, whose status cannot be known
  killed,        // something in the group outlived stop_timeout and got SIGKILL
};
std::string_view to_string(StopHow how);

struct StopOutcome {
  StopHow how = StopHow::already_gone;
  ExitStatus status;  // the app process's status; unknown for re-adopted ones
  std::chrono::milliseconds elapsed{0};
};

// How long to wait after SIGKILL before reporting that a process will not
// die (it is in uninterruptible sleep, e.g. on a hung NFS mount).
inline constexpr std::chrono::milliseconds kKillWaitTimeout{5000};

class GracefulStop {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  // Begins stopping `process`: checks it is still the same process, then
  // sends SIGTERM to its group (when it leads one) and to the process
  // itself (through a pidfd, so a process that left its group is not
  // missed). If it is already gone the stop is complete at once
  // (StopHow::already_gone); the group is then left alone, since its id
  // may name someone else's by now. Errors: access_refused (EPERM), io.
  static Result<GracefulStop> begin(const ProcessHandle& process, std::chrono::milliseconds stop_timeout,
                                    std::chrono::milliseconds kill_timeout = kKillWaitTimeout);

  // Advances the stop without blocking: reaps the process if it ended,
  // sends SIGKILL to the group once stop_timeout has passed. Returns the
  // outcome once complete (and the same outcome on every later call),
  // nullopt while in progress. Errors: timeout when something is still
  // alive kill_timeout after SIGKILL (the stop is abandoned), or a signal
  // failure.
  Result<std::optional<StopOutcome>> poll();

  // Blocks, polling, until the stop completes or fails; bounded by
  // stop_timeout + kill_timeout (plus scheduling slack).
  Result<StopOutcome> wait();

  // A file descriptor that becomes readable when the app process ends
  // (its pidfd), or -1 when unavailable. Group members other than the
  // leader do not wake it: call poll() at next_deadline() regardless.
  int fd() const { return pidfd_.get(); }
  // When poll() should next be called at the latest: soon while waiting
  // for other group members, else the SIGKILL or give-up deadline.
  Deadline next_deadline() const;

  // Hands over an exit status the owner's own reaper (reap_children)
  // collected for this process, which poll() can then no longer reap.
  void note_exit(const ExitStatus& status);

  const ProcessHandle& process() const { return process_; }

 private:
  enum class Phase { terminating, killing, done };
  GracefulStop() = default;
  Status send(int signal);

  ProcessHandle process_;
  UniqueFd pidfd_;
  bool leads_group_ = false;  // pgid == pid: the group is signalled too
  bool process_ended_ = false;
  std::optional<ExitStatus> status_;
  Phase phase_ = Phase::terminating;
  std::chrono::milliseconds kill_timeout_{0};
  Deadline started_{};
  Deadline kill_at_{};     // SIGKILL when still alive then
  Deadline give_up_at_{};  // set when SIGKILL is sent
  std::optional<StopOutcome> outcome_;
};

// Stops `process` and waits for it: GracefulStop::begin(...).wait().
Result<StopOutcome> stop_process(const ProcessHandle& process, std::chrono::milliseconds stop_timeout);

}  // namespace dc
