#include "process/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "base/unique_fd.h"
#include "process/exit_status.h"

namespace dc {
namespace {

// How long the parent waits for the child to exec or report failure.
constexpr std::chrono::seconds kExecReportTimeout{10};
// When the error pipe arrives it names the step that failed.
enum class ChildStep : int { process_group = 1, signals = 2, stdio = 3, exec = 4, gate = 5 };
struct ChildReport {
  int step;
  int error;
};

std::string errno_text(int err) { return std::strerror(err); }

Error spawn_error(const SpawnRequest& request, Errc code, const std::string& what) {
  return Error(code, "cannot start app '" + request.app_id + "': " + what);
}

// Moves `fd` above the standard descriptors (keeping O_CLOEXEC), so the
// child's dup2 onto 0-2 never clobbers it. An fd below 3 only happens when
// this process was started with some of 0-2 closed.
Result<UniqueFd> above_stdio(UniqueFd fd, const char* what) {
  if (fd.get() > 2) return fd;
  UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!moved.valid()) return Error(Errc::io, std::string("cannot move ") + what + ": " + errno_text(errno));
  return moved;
}

// Finds argv[0] the way execvp would (PATH, default "/bin:/usr/bin"), but
// in the parent: the child may only make async-signal-safe calls, and we
// never fall back to running the file through a shell.
Result<std::string> resolve_program(const SpawnRequest& request) {
  const std::string& name = request.argv[0];
  if (name.find('/') != std::string::npos) return name;
  const char* env_path = std::getenv("PATH");
  const std::string search = env_path != nullptr ? env_path : "/bin:/usr/bin";
  std::string not_executable;
  size_t start = 0;
  while (start <= search.size()) {
    size_t end = search.find(':', start);
    if (end == std::string::npos) end = search.size();
    std::string dir = search.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) dir = ".";  // POSIX: an empty PATH entry is the current directory
    const std::string candidate = dir + "/" + name;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (not_executable.empty()) not_executable = candidate;
  }
  if (!not_executable.empty()) {
    return spawn_error(request, Errc::io,
                       "'" + not_executable + "' is not executable (Permission denied); chmod +x it");
  }
  return spawn_error(request, Errc::not_found,
                     "'" + name + "' was not found in PATH (" + search + "); give an absolute path or fix PATH");
}

Error exec_error(const SpawnRequest& request, const std::string& program, const ChildReport& report) {
  const std::string quoted = "'" + program + "'";
  const std::string reason = " (" + errno_text(report.error) + ")";
  switch (static_cast<ChildStep>(report.step)) {
    case ChildStep::process_group:
      return spawn_error(request, Errc::io, "setpgid in the child failed" + reason);
    case ChildStep::signals:
      return spawn_error(request, Errc::io, "resetting signals in the child failed" + reason);
    case ChildStep::stdio:
      return spawn_error(request, Errc::io, "redirecting stdin/stdout/stderr failed" + reason);
    case ChildStep::gate:
      return spawn_error(request, Errc::io, "the child was not let through to exec" + reason);
    case ChildStep::exec:
      break;
  }
  switch (report.error) {
    case ENOENT:
      return spawn_error(request, Errc::not_found,
                         quoted + " (or the interpreter its #! line names) does not exist" + reason);
    case EACCES:
      return spawn_error(request, Errc::io, quoted + " is not executable" + reason + "; check its mode and mount");
    case ENOEXEC:
      return spawn_error(request, Errc::io,
                         quoted + " is not a program the kernel can run and has no #! line" + reason);
    default:
      return spawn_error(request, Errc::io, "exec " + quoted + " failed" + reason);
  }
}

// Everything after fork() in the child. Only async-signal-safe calls: the
// parent may have other threads, whose locks the child inherits held.
[[noreturn]] void run_child(const char* program, char* const* argv, char* const* envp, int stdin_fd, int log_fd,
                            int report_fd, int gate_fd, int max_fd) {
  auto fail = [report_fd](ChildStep step) {
    const ChildReport report{static_cast<int>(step), errno};
    // A short write leaves the parent with a truncated report, which it
    // treats as a failure too; nothing better can be done here.
    [[maybe_unused]] const ssize_t n = ::write(report_fd, &report, sizeof report);
    ::_exit(127);
  };

  if (::setpgid(0, 0) != 0) fail(ChildStep::process_group);

  // The manager may block or ignore signals (e.g. SIGPIPE, or SIGTERM while
  // it handles it through a signalfd); an app must start with defaults.
  // Handlers are reset by exec anyway; ignored signals and the mask are not.
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail(ChildStep::signals);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);  // EINVAL for glibc-reserved ones
  }

  if (::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 || ::dup2(log_fd, STDERR_FILENO) < 0) {
    fail(ChildStep::stdio);
  }
  // Close everything else the manager had open (sockets, database files,
  // fds of libraries that did not set O_CLOEXEC, the write end of our own
  // gate), except the report pipe, which closes itself on a successful exec
  // (O_CLOEXEC), and the gate's read end.
  const int low = std::min(report_fd, gate_fd >= 0 ? gate_fd : report_fd);
  const int high = std::max(report_fd, gate_fd);
  const auto close_between = [max_fd](int from, int to) {  // [from, to)
    if (from >= to) return;
    if (::close_range(static_cast<unsigned>(from), static_cast<unsigned>(to - 1), 0) != 0) {
      for (int fd = from; fd < to && fd < max_fd; ++fd) ::close(fd);
    }
  };
  close_between(3, low);
  close_between(low + 1, high);
  if (::close_range(static_cast<unsigned>(high + 1), ~0U, 0) != 0) {
    for (int fd = high + 1; fd < max_fd; ++fd) ::close(fd);
  }
  // The gate: wait until the parent has accepted this process. EOF (the
  // parent gave up, or died) means never run the program.
  if (gate_fd >= 0) {
    char go = 0;
    ssize_t n = 0;
    do {
      n = ::read(gate_fd, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
      errno = n == 0 ? ECANCELED : errno;
      fail(ChildStep::gate);
    }
    ::close(gate_fd);
  }

  ::execve(program, argv, envp);
  fail(ChildStep::exec);
  ::_exit(127);  // not reached: fail() exits
}

// Reads the child's report: EOF (exec succeeded) or a ChildReport.
// Returns nullopt on success, the report on failure; a timeout or a
// truncated report is an Error.
Result<std::optional<ChildReport>> read_child_report(int fd, const SpawnRequest& request, pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + kExecReportTimeout;
  ChildReport report{};
  size_t have = 0;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      return spawn_error(request, Errc::timeout,
                         "child " + std::to_string(pid) + " neither ran the program nor failed within " +
                             std::to_string(kExecReportTimeout.count()) + " s (slow or hung file system?)");
    }
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) {
      return spawn_error(request, Errc::io, "poll on the exec report pipe failed: " + errno_text(errno));
    }
    if (ready <= 0) continue;
    const ssize_t n = ::read(fd, reinterpret_cast<char*>(&report) + have, sizeof report - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      return spawn_error(request, Errc::io, "reading the exec report pipe failed: " + errno_text(errno));
    }
    if (n == 0) {
      if (have == 0) return std::optional<ChildReport>();
      return spawn_error(request, Errc::io, "the child failed before exec and its report was cut short");
    }
    have += static_cast<size_t>(n);
    if (have == sizeof report) return std::optional<ChildReport>(report);
  }
}

// Kills and reaps a child we are giving up on; bounded because SIGKILL
// cannot be caught.
void discard_child(pid_t pid) {
  ::kill(pid, SIGKILL);
  [[maybe_unused]] auto reaped = wait_exit(pid, std::chrono::steady_clock::now() + std::chrono::seconds{5});
}

bool env_name_is(const char* entry, const std::string& name) {
  return std::strncmp(entry, name.c_str(), name.size()) == 0 && entry[name.size()] == '=';
}

}  // namespace

Result<std::filesystem::path> app_log_path(const std::filesystem::path& log_dir, std::string_view app_id) {
  std::string problem;
  if (app_id.empty()) {
    problem = "it is empty";
  } else if (app_id.size() > 200) {
    problem = "it is longer than 200 bytes";
  } else if (app_id.front() == '.') {
    problem = "it starts with '.'";
  } else if (app_id.find('/') != std::string_view::npos || app_id.find('\0') != std::string_view::npos) {
    problem = "it contains '/' or a NUL byte";
  }
  if (!problem.empty()) {
    return Error(Errc::invalid_argument,
                 "app id '" + std::string(app_id) + "' cannot name a log file in " + log_dir.string() + ": " + problem);
  }
  return log_dir / (std::string(app_id) + ".log");
}

Result<SpawnedProcess> spawn(const SpawnRequest& request) {
  if (request.argv.empty() || request.argv[0].empty()) {
    return spawn_error(request, Errc::invalid_argument, "its command line (exec) is empty");
  }
  auto log_path = app_log_path(request.log_dir, request.app_id);
  if (!log_path) return log_path.error();
  auto program = resolve_program(request);
  if (!program) return program.error();

  std::error_code dir_error;
  std::filesystem::create_directories(request.log_dir, dir_error);
  if (dir_error) {
    return spawn_error(request, Errc::io,
                       "cannot create log directory '" + request.log_dir.string() + "': " + dir_error.message());
  }
  UniqueFd opened_log(::open(log_path->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!opened_log.valid()) {
    return spawn_error(request, Errc::io, "cannot open log file '" + log_path->string() + "': " + errno_text(errno));
  }
  auto log_fd = above_stdio(std::move(opened_log), "the log file fd");
  if (!log_fd) return spawn_error(request, Errc::io, log_fd.error().message());
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) return spawn_error(request, Errc::io, "cannot open /dev/null: " + errno_text(errno));
  auto stdin_fd = above_stdio(std::move(dev_null), "the /dev/null fd");
  if (!stdin_fd) return spawn_error(request, Errc::io, stdin_fd.error().message());
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return spawn_error(request, Errc::io, "cannot create the exec report pipe: " + errno_text(errno));
  }
  UniqueFd report_read(pipe_fds[0]);
  auto report_write = above_stdio(UniqueFd(pipe_fds[1]), "the exec report pipe");
  if (!report_write) return spawn_error(request, Errc::io, report_write.error().message());
  // The gate (only with before_exec): the child reads one byte from it
  // before exec; the parent writes it once before_exec accepted the child.
  UniqueFd gate_read;
  UniqueFd gate_write;
  if (request.before_exec) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return spawn_error(request, Errc::io, "cannot create the exec gate pipe: " + errno_text(errno));
    }
    auto gate_in = above_stdio(UniqueFd(pipe_fds[0]), "the exec gate pipe");
    if (!gate_in) return spawn_error(request, Errc::io, gate_in.error().message());
    gate_read = std::move(*gate_in);
    gate_write = UniqueFd(pipe_fds[1]);
  }

  // argv and envp as the C arrays execve wants, built before fork.
  std::vector<char*> argv;
  for (const std::string& arg : request.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::pair<std::string, std::string>> added = {{"DC_APP_ID", request.app_id},
                                                            {"DC_MANAGER", request.manager},
                                                            {"DC_COMMAND_ID", request.command_id},
                                                            {"DC_ARGS", request.args_json}};
  added.insert(added.end(), request.extra_env.begin(), request.extra_env.end());
  std::vector<std::string> env_storage;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const auto replaced = [entry](const auto& kv) { return env_name_is(*entry, kv.first); };
    const auto dropped = [entry](const std::string& name) { return env_name_is(*entry, name); };
    if (std::any_of(added.begin(), added.end(), replaced)) continue;
    if (std::any_of(request.unset_env.begin(), request.unset_env.end(), dropped)) continue;
    env_storage.emplace_back(*entry);
  }
  for (const auto& variable : added) {
    // A later extra_env entry of the same name wins over an earlier one.
    // (Not a structured binding: clang 14 cannot capture those.)
    const std::string& name = variable.first;
    std::erase_if(env_storage, [&name](const std::string& entry) { return env_name_is(entry.c_str(), name); });
    env_storage.push_back(name + "=" + variable.second);
  }
  std::vector<char*> envp;
  envp.reserve(env_storage.size() + 1);
  for (const std::string& entry : env_storage) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  const int max_fd = static_cast<int>(std::clamp<long>(open_max, 256, 65536));

  const pid_t pid = ::fork();
  if (pid < 0) return spawn_error(request, Errc::io, "fork failed: " + errno_text(errno));
  if (pid == 0) {
    run_child(program->c_str(), argv.data(), envp.data(), stdin_fd->get(), log_fd->get(), report_write->get(),
              gate_read.get(), max_fd);
  }

  // Also in the parent, so the group exists before spawn() returns even if
  // the child has not run yet. EACCES: the child already exec'd (and set
  // its group itself); ESRCH: it already ended. Neither is a problem.
  ::setpgid(pid, pid);
  report_write->reset();
  if (request.before_exec) {
    gate_read.reset();
    // Held at the gate, the child exists: its start time is readable.
    const auto held_start = process_start_time(pid);
    Status accepted = held_start ? request.before_exec(ProcessHandle{pid, *held_start})
                                 : Status(spawn_error(request, Errc::internal,
                                                      "started pid " + std::to_string(pid) + " but cannot read /proc/" +
                                                          std::to_string(pid) + "/stat"));
    if (!accepted) {
      gate_write.reset();  // EOF at the gate: the child exits without exec
      discard_child(pid);
      return accepted.error();
    }
    const char go = 1;
    if (::write(gate_write.get(), &go, 1) != 1) {
      const int err = errno;
      gate_write.reset();
      discard_child(pid);
      return spawn_error(request, Errc::io, "cannot open the exec gate: " + errno_text(err));
    }
    gate_write.reset();
  }
  auto report = read_child_report(report_read.get(), request, pid);
  if (!report) {
    discard_child(pid);
    return report.error();
  }
  if (report->has_value()) {
    // The child _exit()s right after writing; reap it so no zombie stays.
    [[maybe_unused]] auto reaped = wait_exit(pid, std::chrono::steady_clock::now() + std::chrono::seconds{5});
    return exec_error(request, *program, **report);
  }
  // The child has exec'd, so it exists at least as a zombie until reaped:
  // its start time is readable.
  const auto start_time = process_start_time(pid);
  if (!start_time) {
    discard_child(pid);
    return spawn_error(request, Errc::internal,
                       "started pid " + std::to_string(pid) + " but cannot read /proc/" + std::to_string(pid) +
                           "/stat (is SIGCHLD ignored, so children are reaped automatically?)");
  }
  return SpawnedProcess{ProcessHandle{pid, *start_time}, *log_path};
}

}  // namespace dc
