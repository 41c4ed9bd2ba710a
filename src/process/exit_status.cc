#include "process/exit_status.h"

#include <poll.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/unique_fd.h"
#include "process/process_handle.h"

namespace dc {

ExitStatus ExitStatus::from_wait_status(pid_t pid, int status) {
  ExitStatus result;
  result.pid = pid;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

int ExitStatus::shell_code() const {
  if (exit_code) return *exit_code;
  if (signal) return 128 + *signal;
  return -1;
}

std::string ExitStatus::describe() const {
  if (exit_code) return "exited with code " + std::to_string(*exit_code);
  if (signal) {
    const char* abbrev = sigabbrev_np(*signal);
    return "killed by signal " + std::to_string(*signal) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  return "ended (status unknown: not a child of this process)";
}

Result<std::optional<ExitStatus>> try_reap(pid_t pid) {
  if (pid <= 0) return Error(Errc::invalid_argument, "cannot reap pid " + std::to_string(pid));
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == pid) return std::optional<ExitStatus>(ExitStatus::from_wait_status(pid, status));
  if (reaped == 0) return std::optional<ExitStatus>();
  const int err = errno;
  if (err == ECHILD) {
    return Error(Errc::not_found, "process " + std::to_string(pid) + " is not a child of this process");
  }
  return Error(Errc::io, "waitpid(" + std::to_string(pid) + ") failed: " + std::strerror(err));
}

std::vector<ExitStatus> reap_children() {
  std::vector<ExitStatus> reaped;
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      reaped.push_back(ExitStatus::from_wait_status(pid, status));
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    break;  // 0: children left, none ended; ECHILD: no children at all
  }
  return reaped;
}

Result<std::optional<ExitStatus>> wait_exit(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  using std::chrono::steady_clock;
  // A pidfd lets poll() wake the moment the child ends. Without one (old
  // kernel, fd limit) fall back to checking every few milliseconds.
  const UniqueFd pidfd(pid > 0 ? detail::pidfd_open(pid) : -1);
  for (;;) {
    auto reaped = try_reap(pid);
    if (!reaped || reaped->has_value()) return reaped;
    const auto now = steady_clock::now();
    if (now >= deadline) return std::optional<ExitStatus>();
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    if (pidfd.valid()) {
      pollfd entry{pidfd.get(), POLLIN, 0};
      // Bounded by the deadline; capped so a clock oddity cannot stall us.
      ::poll(&entry, 1, static_cast<int>(std::min<int64_t>(wait.count(), 1000)));
    } else {
      std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds{5}));
    }
  }
}

}  // namespace dc
