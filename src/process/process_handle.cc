#include "process/process_handle.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

namespace dc {

namespace detail {

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  // The line is at most a few hundred bytes; comm is at most 16 chars.
  char buf[1024];
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return std::nullopt;
  const std::string_view line(buf, static_cast<size_t>(n));
  // Field 2 is "(comm)" and comm may hold spaces and parentheses: the
  // fields after it start after the *last* ')'.
  const size_t close = line.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  ProcStat stat;
  int field = 2;
  size_t pos = close + 1;
  while (pos < line.size() && field < 22) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    const size_t end = std::min(line.find(' ', pos), line.size());
    const std::string_view token = line.substr(pos, end - pos);
    ++field;
    if (token.empty()) return std::nullopt;
    if (field == 3) {
      stat.state = token[0];
    } else if (field == 5 || field == 22) {
      int64_t value = 0;
      for (char c : token) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + (c - '0');
      }
      if (field == 5) stat.process_group = static_cast<pid_t>(value);
      if (field == 22) stat.start_time = value;
    }
    pos = end;
  }
  if (field != 22) return std::nullopt;
  return stat;
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U)); }

int pidfd_send_signal(int pidfd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0U));
}

}  // namespace detail

std::optional<int64_t> process_start_time(pid_t pid) {
  const auto stat = detail::read_proc_stat(pid);
  if (!stat) return std::nullopt;
  return stat->start_time;
}

bool is_same_process(pid_t pid, int64_t start_time) {
  const auto stat = detail::read_proc_stat(pid);
  return stat && stat->start_time == start_time && stat->state != 'Z' && stat->state != 'X';
}

Result<bool> signal_group(pid_t pgid, int signal) {
  if (pgid <= 1) {
    return Error(Errc::invalid_argument, "refusing to signal process group " + std::to_string(pgid) +
                                             ": it would address this process's own group or every process");
  }
  if (::kill(-pgid, signal) == 0) return true;
  const int err = errno;
  if (err == ESRCH) return false;
  if (err == EPERM) {
    return Error(Errc::access_refused, "cannot signal process group " + std::to_string(pgid) +
                                           ": it belongs to another user (" + std::strerror(err) + ")");
  }
  return Error(Errc::io,
               "kill(-" + std::to_string(pgid) + ", " + std::to_string(signal) + ") failed: " + std::strerror(err));
}

bool group_has_live_members(pid_t pgid) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos || name.size() > 9) continue;
    const auto stat = detail::read_proc_stat(static_cast<pid_t>(std::stol(name)));
    if (stat && stat->process_group == pgid && stat->state != 'Z' && stat->state != 'X') return true;
  }
  // An unreadable /proc leaves only kill()'s answer, which said "not empty".
  return static_cast<bool>(error);
}

Result<UniqueFd> open_pidfd(const ProcessHandle& process) {
  if (process.pid <= 0) {
    return Error(Errc::invalid_argument, "cannot open a pidfd for pid " + std::to_string(process.pid));
  }
  UniqueFd fd(detail::pidfd_open(process.pid));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ESRCH) {
      return Error(Errc::not_found, "process " + std::to_string(process.pid) + " no longer exists");
    }
    if (err == ENOSYS) {
      return Error(Errc::unavailable, "pidfd_open is not supported by this kernel (needs Linux 5.3)");
    }
    return Error(Errc::io, "pidfd_open(" + std::to_string(process.pid) + ") failed: " + std::strerror(err));
  }
  // Checked after opening: if the pid still has our start time now, the fd
  // was opened on our process (a pid cannot be reused while it exists).
  const auto start_time = process_start_time(process.pid);
  if (!start_time || *start_time != process.start_time) {
    return Error(Errc::not_found,
                 "process " + std::to_string(process.pid) + " has ended; the pid now belongs to another process");
  }
  return fd;
}

}  // namespace dc
