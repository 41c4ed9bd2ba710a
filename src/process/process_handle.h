// Identifying and signalling one OS process instance. A pid alone is not an
// identity: after a process ends the kernel may give its pid to another. A
// ProcessHandle pairs the pid with the process's start time (field 22 of
// /proc/<pid>/stat, clock ticks after boot), which together name one
// process for the life of the machine; the store keeps both (apps.pid,
// apps.proc_start) so a manager restarted after a crash can tell its old
// app from a stranger that inherited the pid.
//
// All functions are thread-safe and never block beyond reading /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dc {

struct ProcessHandle {
  pid_t pid = -1;
  int64_t start_time = 0;  // /proc/<pid>/stat field 22

  friend bool operator==(const ProcessHandle&, const ProcessHandle&) = default;
};

// The start time of `pid`, or nullopt when no such process exists (or
// /proc cannot be read). A zombie (ended, not yet reaped) still has one.
std::optional<int64_t> process_start_time(pid_t pid);

// True when `pid` is alive, not a zombie, and started at `start_time`;
// false once it has ended (even if not yet reaped) or when the pid now
// belongs to another process.
bool is_same_process(pid_t pid, int64_t start_time);
inline bool is_same_process(const ProcessHandle& process) { return is_same_process(process.pid, process.start_time); }

// Sends `signal` to every process in process group `pgid` (kill(-pgid)).
// Returns true when at least one process was signalled, false when the
// group is empty (ESRCH). Errors: invalid_argument for pgid <= 1 (which
// would address the caller's group or every process), access_refused when
// the group belongs to another user (EPERM). Signal 0 probes for members.
// The caller must know the group is the one it means: spawn() makes every
// app the leader of its own group (pgid == pid).
Result<bool> signal_group(pid_t pgid, int signal);

// True when some process in group `pgid` is alive and not a zombie.
// signal_group(pgid, 0) cannot tell: kill() also succeeds while only
// zombies remain (ended members whose new parent has not reaped them yet).
// Scans /proc (milliseconds on a busy host).
bool group_has_live_members(pid_t pgid);

// Opens a pidfd (pidfd_open(2)) for `process` and checks, after opening,
// that the pid still names that process, so the fd cannot refer to a
// stranger that reused the pid. The fd becomes readable when the process
// ends; poll it in an event loop instead of sleeping. Errors: not_found
// when the process has ended and been reaped or the pid was reused,
// unavailable when the kernel lacks pidfds (older than 5.3), io otherwise.
Result<UniqueFd> open_pidfd(const ProcessHandle& process);

namespace detail {
// The fields of /proc/<pid>/stat the process layer reads.
struct ProcStat {
  char state = '?';  // R, S, D, Z (zombie), X (dead), ...
  pid_t process_group = 0;
  int64_t start_time = 0;
};
std::optional<ProcStat> read_proc_stat(pid_t pid);

// pidfd_open(2) and pidfd_send_signal(2) through syscall(2): glibc 2.36's
// <sys/pidfd.h> lacks extern "C", so its wrappers cannot be linked from C++.
// Same contract as the system calls (-1 and errno on failure).
int pidfd_open(pid_t pid);
int pidfd_send_signal(int pidfd, int signal);
}  // namespace detail

}  // namespace dc
