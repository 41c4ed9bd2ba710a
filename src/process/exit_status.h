// How processes ended, and collecting ("reaping") the exits of this
// process's children. A child that has ended stays a zombie until reaped;
// the manager reaps every child it spawns, with reap_children() once per
// turn of its event loop, or per app with try_reap().
//
// Reaping is destructive: once one call collects a child's status, no other
// call sees it. Within the manager one component owns reaping; when a
// GracefulStop is in progress for a pid the owner reaped, it must hand the
// status over with GracefulStop::note_exit().
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace dc {

struct ExitStatus {
  pid_t pid = -1;
  std::optional<int> exit_code;  // set when the process called exit(code)
  std::optional<int> signal;     // set when a signal ended it
  // Both are empty when the process was not our child (re-adopted after a
  // manager restart): it ended, but only its parent learns how.

  // From a waitpid() status word.
  static ExitStatus from_wait_status(pid_t pid, int status);

  bool known() const { return exit_code.has_value() || signal.has_value(); }
  // The shell's convention, as stored in apps.exit_code: the exit code,
  // 128 + the signal number, or -1 when unknown.
  int shell_code() const;
  // "exited with code 3", "killed by signal 15 (SIGTERM)",
  // "ended (status unknown: not a child of this process)".
  std::string describe() const;

  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

// Reaps `pid` if it has ended, without blocking. Returns its status, or
// nullopt while it runs. Errors: not_found when `pid` is not a child of
// this process (never was, or already reaped).
Result<std::optional<ExitStatus>> try_reap(pid_t pid);

// Reaps every ended child of this process without blocking
// (waitpid(-1, WNOHANG) until none is left) and returns their statuses.
std::vector<ExitStatus> reap_children();

// Waits until child `pid` ends, at most until `deadline`, and reaps it.
// Returns its status, or nullopt when it still runs at the deadline.
// Sleeps in poll(2) on a pidfd, so it wakes as soon as the child ends.
// Errors: not_found when `pid` is not a child of this process.
Result<std::optional<ExitStatus>> wait_exit(pid_t pid, std::chrono::steady_clock::time_point deadline);

}  // namespace dc
