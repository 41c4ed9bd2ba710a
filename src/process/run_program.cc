#include "process/run_program.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"
#include "process/process_handle.h"

extern char** environ;  // POSIX

namespace dc {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kCancelPoll{50};
// After the program ended, how long pipes may stay open (held by something
// it started) before we stop reading them.
constexpr std::chrono::milliseconds kDrainAfterExit{200};

Error program_error(const std::string& program, Errc code, const std::string& what) {
  return Error(code, "cannot run '" + program + "': " + what);
}

// Appends `data` to `tail`, keeping at most `keep` bytes (the newest).
void keep_tail(std::string& tail, const char* data, size_t size, size_t keep) {
  tail.append(data, size);
  if (tail.size() > 2 * keep + 4096) tail.erase(0, tail.size() - keep);
}

// RAII for posix_spawn's attribute and file-action objects.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  bool attr_ok = false;
  bool actions_ok = false;
  SpawnSetup() {
    attr_ok = posix_spawnattr_init(&attr) == 0;
    actions_ok = posix_spawn_file_actions_init(&actions) == 0;
  }
  ~SpawnSetup() {
    if (attr_ok) posix_spawnattr_destroy(&attr);
    if (actions_ok) posix_spawn_file_actions_destroy(&actions);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Result<Pipe> make_pipe(const std::string& program) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return program_error(program, Errc::io, std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads what is available on `fd` into `tail`. Returns false at EOF or on
// an error other than EAGAIN.
bool drain(int fd, std::string& tail, size_t keep) {
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      keep_tail(tail, buffer, static_cast<size_t>(n), keep);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

// Blocks SIGPIPE in the calling thread while it lives, so writing to the
// stdin of a program that exited without reading it is EPIPE, not the death
// of the whole process (whatever the process's disposition). A SIGPIPE our
// writes raised is consumed before the mask is restored.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&old_, SIGPIPE)) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
};

}  // namespace

std::vector<std::string> environment_without(const std::vector<std::string>& drop) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::string_view name = text.substr(0, text.find('='));
    if (std::find(drop.begin(), drop.end(), name) != drop.end()) continue;
    env.emplace_back(text);
  }
  return env;
}

Result<ProgramResult> run_program(const ProgramRun& run) {
  if (run.argv.empty() || run.argv[0].empty()) {
    return Error(Errc::invalid_argument, "cannot run a program: its argv is empty");
  }
  const std::string& program = run.argv[0];
  const SigpipeBlock no_sigpipe;
  auto in = make_pipe(program);
  if (!in) return in.error();
  auto out = make_pipe(program);
  if (!out) return out.error();
  auto err = make_pipe(program);
  if (!err) return err.error();

  SpawnSetup setup;
  if (!setup.attr_ok || !setup.actions_ok) return program_error(program, Errc::io, "posix_spawn setup failed");
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawn_file_actions_adddup2(&setup.actions, in->read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, out->write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, err->write.get(), STDERR_FILENO);
  // Our pipes are O_CLOEXEC; closefrom also drops descriptors of libraries
  // that did not set it.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);

  std::vector<char*> argv;
  for (const std::string& arg : run.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& entry : run.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  const auto started = Clock::now();
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (rc != 0) {
    const std::string reason = std::strerror(rc);
    if (rc == ENOENT) return program_error(program, Errc::not_found, "no such program or interpreter (" + reason + ")");
    if (rc == EACCES) return program_error(program, Errc::io, "not executable (" + reason + "); check its mode");
    if (rc == ENOEXEC) return program_error(program, Errc::io, "not a program the kernel can run (" + reason + ")");
    return program_error(program, Errc::io, "posix_spawn failed (" + reason + ")");
  }
  in->read.reset();
  out->write.reset();
  err->write.reset();
  set_nonblocking(in->write.get());
  set_nonblocking(out->read.get());
  set_nonblocking(err->read.get());
  const UniqueFd pidfd(detail::pidfd_open(pid));

  ProgramResult result;
  size_t written = 0;
  if (run.stdin_data.empty()) in->write.reset();
  bool out_open = true;
  bool err_open = true;
  bool exited = false;
  const auto deadline = started + run.time_limit;
  std::optional<Clock::time_point> drain_until;
  const auto kill_group = [pid] { ::kill(-pid, SIGKILL); };

  for (;;) {
    // Has the program ended? (WNOWAIT: it stays a zombie, so its group id
    // stays ours until we kill what is left of the group.)
    if (!exited) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
        exited = true;
        kill_group();
        drain_until = Clock::now() + kDrainAfterExit;
      }
    }
    if ((!out_open && !err_open && exited) || (drain_until && Clock::now() >= *drain_until)) break;
    if (!exited && (run.cancel != nullptr && run.cancel->load(std::memory_order_relaxed))) {
      result.cancelled = true;
      kill_group();
    } else if (!exited && Clock::now() >= deadline && !result.timed_out) {
      result.timed_out = true;
      kill_group();
    }

    pollfd fds[4];
    nfds_t n = 0;
    if (in->write.valid()) fds[n++] = {in->write.get(), POLLOUT, 0};
    if (out_open) fds[n++] = {out->read.get(), POLLIN, 0};
    if (err_open) fds[n++] = {err->read.get(), POLLIN, 0};
    if (!exited && pidfd.valid()) fds[n++] = {pidfd.get(), POLLIN, 0};
    auto wait = std::chrono::milliseconds(exited ? 10 : 1000);
    if (!exited) wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
    if (run.cancel != nullptr || !pidfd.valid()) wait = std::min(wait, kCancelPoll);
    wait = std::max(wait, std::chrono::milliseconds(0));
    if (::poll(fds, n, static_cast<int>(wait.count())) < 0 && errno != EINTR) break;

    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (in->write.valid() && fds[i].fd == in->write.get()) {
        const ssize_t w = ::write(in->write.get(), run.stdin_data.data() + written, run.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        // EPIPE (it closed stdin without reading it all) ends our writing too.
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == run.stdin_data.size()) in->write.reset();
      } else if (out_open && fds[i].fd == out->read.get()) {
        out_open = drain(out->read.get(), result.stdout_tail, run.stdout_keep);
      } else if (err_open && fds[i].fd == err->read.get()) {
        err_open = drain(err->read.get(), result.stderr_tail, run.stderr_keep);
      }
    }
  }
  in->write.reset();
  kill_group();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = ExitStatus::from_wait_status(pid, status);
  if (result.stdout_tail.size() > run.stdout_keep)
    result.stdout_tail.erase(0, result.stdout_tail.size() - run.stdout_keep);
  if (result.stderr_tail.size() > run.stderr_keep)
    result.stderr_tail.erase(0, result.stderr_tail.size() - run.stderr_keep);
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return result;
}

}  // namespace dc
