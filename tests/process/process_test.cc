// spawn, identity, reaping and signalling against real processes. The tests
// run /bin/sh scripts as apps (the library itself never uses a shell).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "process/process.h"
#include "process_test_support.h"

namespace dc {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using test::read_file;
using test::ScratchDir;

SpawnRequest shell_app(const ScratchDir& dir, const std::string& app_id, const std::string& script) {
  SpawnRequest request;
  request.app_id = app_id;
  request.argv = {"/bin/sh", "-c", script};
  request.log_dir = dir.path() / "logs";
  request.manager = "mgr-1";
  request.command_id = "cmd-42";
  request.args_json = R"({"company_id":"123456","monitoring":true})";
  return request;
}

ExitStatus wait_for_exit(pid_t pid) {
  auto status = wait_exit(pid, steady_clock::now() + seconds{10});
  EXPECT_TRUE(status.ok()) << status.error().message();
  EXPECT_TRUE(status.ok() && status->has_value()) << "pid " << pid << " did not exit within 10 s";
  return status.ok() && status->has_value() ? **status : ExitStatus{};
}

TEST(Spawn, RunsArgvAndAppendsOutputToTheLog) {
  ScratchDir dir;
  auto first = spawn(shell_app(dir, "app1", "echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->log_path, dir.path() / "logs" / "app1.log");
  EXPECT_GT(first->process.pid, 0);
  const ExitStatus status = wait_for_exit(first->process.pid);
  EXPECT_EQ(status.pid, first->process.pid);
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_FALSE(status.signal.has_value());
  EXPECT_EQ(status.shell_code(), 3);
  EXPECT_EQ(status.describe(), "exited with code 3");

  auto second = spawn(shell_app(dir, "app1", "echo again"));
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(wait_for_exit(second->process.pid).exit_code, 0);
  EXPECT_EQ(read_file(first->log_path), "out\nerr\nagain\n");
  struct stat info {};
  ASSERT_EQ(::stat(first->log_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
}

TEST(Spawn, CreatesAMissingNestedLogDirectory) {
  ScratchDir dir;
  SpawnRequest request = shell_app(dir, "app", "echo hi");
  request.log_dir = dir.path() / "a" / "b" / "c";
  auto spawned = spawn(request);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  wait_for_exit(spawned->process.pid);
  EXPECT_EQ(read_file(dir.path() / "a" / "b" / "c" / "app.log"), "hi\n");
}

TEST(Spawn, PassesTheManagerEnvironmentPlusDcVariables) {
  ScratchDir dir;
  ::setenv("DC_PROCESS_TEST_INHERITED", "inherited-value", 1);
  ::setenv("DC_RABBIT_PASSWORD", "s3cret", 1);
  ::setenv("DC_APP_ID", "manager-own-value", 1);
  SpawnRequest request =
      shell_app(dir, "env-app",
                R"(printf '%s\n' "$DC_APP_ID" "$DC_MANAGER" "$DC_COMMAND_ID" "$DC_ARGS" "$DC_PROCESS_TEST_INHERITED" )"
                R"("$EXTRA_ONE" "${DC_RABBIT_PASSWORD-unset}"; env | grep -c '^DC_APP_ID=')");
  request.extra_env = {{"EXTRA_ONE", "first"}, {"EXTRA_ONE", "second wins"}};
  auto spawned = spawn(request);
  ::unsetenv("DC_PROCESS_TEST_INHERITED");
  ::unsetenv("DC_RABBIT_PASSWORD");
  ::unsetenv("DC_APP_ID");
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  EXPECT_EQ(wait_for_exit(spawned->process.pid).exit_code, 0);
  EXPECT_EQ(read_file(spawned->log_path),
            "env-app\nmgr-1\ncmd-42\n{\"company_id\":\"123456\",\"monitoring\":true}\ninherited-value\n"
            "second wins\nunset\n1\n");
}

TEST(Spawn, LooksUpBareNamesInPath) {
  ScratchDir dir;
  SpawnRequest request = shell_app(dir, "path-app", "");
  request.argv = {"sh", "-c", "echo via PATH"};
  auto spawned = spawn(request);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  EXPECT_EQ(wait_for_exit(spawned->process.pid).exit_code, 0);
  EXPECT_EQ(read_file(spawned->log_path), "via PATH\n");
}

TEST(Spawn, MissingBinaryIsAnErrorNotAnExit127) {
  ScratchDir dir;
  SpawnRequest request = shell_app(dir, "missing", "");
  request.argv = {(dir.path() / "no-such-binary").string()};
  auto spawned = spawn(request);
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code(), Errc::not_found);
  EXPECT_NE(spawned.error().message().find("no-such-binary"), std::string::npos) << spawned.error().message();
  EXPECT_NE(spawned.error().message().find("No such file or directory"), std::string::npos)
      << spawned.error().message();
  EXPECT_NE(spawned.error().message().find("app 'missing'"), std::string::npos) << spawned.error().message();

  request.argv = {"dc-no-such-program-anywhere"};
  spawned = spawn(request);
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code(), Errc::not_found);
  EXPECT_NE(spawned.error().message().find("'dc-no-such-program-anywhere' was not found in PATH"), std::string::npos)
      << spawned.error().message();
  // Nothing was left behind to reap.
  EXPECT_TRUE(reap_children().empty());
}

TEST(Spawn, NonExecutableAndUnrunnableFilesAreErrors) {
  ScratchDir dir;
  const auto plain = dir.path() / "plain.txt";
  { std::ofstream(plain) << "echo hi\n"; }
  SpawnRequest request = shell_app(dir, "bad", "");
  request.argv = {plain.string()};
  auto spawned = spawn(request);
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code(), Errc::io);
  EXPECT_NE(spawned.error().message().find("is not executable (Permission denied)"), std::string::npos)
      << spawned.error().message();

  // Executable, but neither a binary nor a #! script: exec says ENOEXEC and
  // we do not fall back to a shell the way execvp would.
  const auto garbage = dir.path() / "garbage";
  { std::ofstream(garbage) << "\x01\x02\x03 not a program\n"; }
  ::chmod(garbage.c_str(), 0755);
  request.argv = {garbage.string()};
  spawned = spawn(request);
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code(), Errc::io);
  EXPECT_NE(spawned.error().message().find("Exec format error"), std::string::npos) << spawned.error().message();

  // A script whose interpreter does not exist.
  const auto orphan = dir.path() / "orphan-script";
  { std::ofstream(orphan) << "#!/no/such/interpreter\n"; }
  ::chmod(orphan.c_str(), 0755);
  request.argv = {orphan.string()};
  spawned = spawn(request);
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code(), Errc::not_found);
  EXPECT_NE(spawned.error().message().find("interpreter"), std::string::npos) << spawned.error().message();

  request.argv = {};
  spawned = spawn(request);
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(reap_children().empty());
}

TEST(Spawn, OddButValidAppIdsMakeLogPathsInsideTheLogDirectory) {
  ScratchDir dir;
  const std::string long_id(128, 'x');
  for (const std::string& id : {std::string("my-app_1.v2"), std::string("-leading-dash"), std::string("A"),
                                std::string("x..y"), std::string("UPPER.lower-09_"), long_id}) {
    auto path = app_log_path(dir.path(), id);
    ASSERT_TRUE(path.ok()) << id << ": " << path.error().message();
    EXPECT_EQ(path->parent_path(), dir.path()) << id;
    EXPECT_EQ(path->filename().string(), id + ".log");

    auto spawned = spawn(shell_app(dir, id, "echo \"$DC_APP_ID\""));
    ASSERT_TRUE(spawned.ok()) << id << ": " << spawned.error().message();
    wait_for_exit(spawned->process.pid);
    EXPECT_EQ(read_file(dir.path() / "logs" / (id + ".log")), id + "\n");
  }
  for (const std::string& id : {std::string(""), std::string(".hidden"), std::string(".."), std::string("a/b"),
                                std::string("../escape"), std::string("nul\0byte", 8), std::string(201, 'y')}) {
    auto path = app_log_path(dir.path(), id);
    ASSERT_FALSE(path.ok()) << "accepted app id '" << id << "'";
    EXPECT_EQ(path.error().code(), Errc::invalid_argument);
    EXPECT_FALSE(spawn(shell_app(dir, id, "true")).ok());
  }
}

TEST(Spawn, ChildInheritsNoFdsAndDefaultSignals) {
  ScratchDir dir;
  // A descriptor the "manager" opened without O_CLOEXEC, like a library
  // socket would be, plus an ignored SIGPIPE and a blocked SIGTERM.
  const int leaky = ::dup2(STDERR_FILENO, 57);
  ASSERT_EQ(leaky, 57);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe {};
  ::sigaction(SIGPIPE, &ignore, &old_pipe);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigset_t old_mask;
  ::pthread_sigmask(SIG_BLOCK, &term, &old_mask);

  auto spawned = spawn(shell_app(dir, "fds",
                                 "if [ -e /proc/self/fd/57 ]; then echo fd57-open; else echo fd57-closed; fi; "
                                 "[ -r /proc/self/fd/0 ] && readlink /proc/self/fd/0; "
                                 "grep -E '^(SigBlk|SigIgn)' /proc/self/status"));
  ::close(leaky);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  wait_for_exit(spawned->process.pid);
  const std::string log = read_file(spawned->log_path);
  EXPECT_NE(log.find("fd57-closed"), std::string::npos) << log;
  EXPECT_NE(log.find("/dev/null"), std::string::npos) << log;
  EXPECT_NE(log.find("SigBlk:\t0000000000000000"), std::string::npos) << log;
  // Signals 32 and 33 are glibc's own (thread cancellation, setxid):
  // sigaction() refuses them, so spawn() cannot reset them, and whether they
  // are ignored depends on whoever started this test. Every other signal
  // must be back to its default.
  const size_t at = log.find("SigIgn:\t");
  ASSERT_NE(at, std::string::npos) << log;
  const uint64_t ignored = std::stoull(log.substr(at + 8, 16), nullptr, 16);
  constexpr uint64_t kGlibcReserved = (uint64_t{1} << 31) | (uint64_t{1} << 32);
  EXPECT_EQ(ignored & ~kGlibcReserved, 0u) << log;
}

TEST(Spawn, AppLeadsItsOwnProcessGroup) {
  ScratchDir dir;
  auto spawned = spawn(shell_app(dir, "pgrp", "exec sleep 5"));
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  EXPECT_EQ(::getpgid(spawned->process.pid), spawned->process.pid);
  EXPECT_NE(::getpgid(spawned->process.pid), ::getpgrp());
  EXPECT_TRUE(group_has_live_members(spawned->process.pid));
  auto signalled = signal_group(spawned->process.pid, SIGKILL);
  ASSERT_TRUE(signalled.ok()) << signalled.error().message();
  EXPECT_TRUE(*signalled);
  const ExitStatus status = wait_for_exit(spawned->process.pid);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(status.shell_code(), 128 + SIGKILL);
  EXPECT_EQ(status.describe(), "killed by signal 9 (SIGKILL)");
  // Its only member is reaped: the group is empty now.
  auto again = signal_group(spawned->process.pid, 0);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

// Issue 11, item 10: the manager records an app's pid before the app runs
// (SpawnRequest::before_exec), so no app process ever runs that its record
// does not name, and recovery adopts only what the record says.
TEST(SpawnGate, BeforeExecSeesTheProcessThatThenRunsTheProgram) {
  ScratchDir dir;
  const std::string marker = (dir.path() / "ran").string();
  SpawnRequest request = shell_app(dir, "gated", ": > '" + marker + "'; exec sleep 30");
  std::optional<ProcessHandle> seen;
  bool ran_before = true;
  request.before_exec = [&](const ProcessHandle& process) -> Status {
    seen = process;
    std::this_thread::sleep_for(milliseconds(200));  // the program must not start meanwhile
    ran_before = std::ifstream(marker).good();
    return ok_status();
  };
  auto spawned = spawn(request);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(*seen, spawned->process) << "pid and start time before exec are the app's own";
  EXPECT_FALSE(ran_before) << "the program ran before before_exec accepted it";
  EXPECT_TRUE(is_same_process(spawned->process));
  ::kill(spawned->process.pid, SIGKILL);
  wait_for_exit(spawned->process.pid);
}

TEST(SpawnGate, ARefusalMeansTheProgramNeverRuns) {
  ScratchDir dir;
  const std::string marker = (dir.path() / "ran").string();
  SpawnRequest request = shell_app(dir, "refused", ": > '" + marker + "'");
  pid_t held = -1;
  request.before_exec = [&](const ProcessHandle& process) -> Status {
    held = process.pid;
    return Error(Errc::unavailable, "the store is down (test)");
  };
  auto spawned = spawn(request);
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code(), Errc::unavailable);
  EXPECT_NE(spawned.error().message().find("the store is down"), std::string::npos);
  ASSERT_GT(held, 0);
  EXPECT_FALSE(process_start_time(held).has_value()) << "the held child was not reaped";
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(std::ifstream(marker).good()) << "the refused program ran";
}

// The manager dies while recording: the held child never runs the program.
TEST(SpawnGate, AParentDyingAtTheGateLeavesNothingRunning) {
  ScratchDir dir;
  const std::string marker = (dir.path() / "ran").string();
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t manager = ::fork();
  ASSERT_GE(manager, 0);
  if (manager == 0) {
    ::close(report[0]);
    SpawnRequest request = shell_app(dir, "orphan", ": > '" + marker + "'; exec sleep 30");
    request.before_exec = [&](const ProcessHandle& process) -> Status {
      [[maybe_unused]] const ssize_t n = ::write(report[1], &process.pid, sizeof process.pid);
      ::_exit(0);  // killed between spawning and recording
    };
    (void)spawn(request);
    ::_exit(1);
  }
  ::close(report[1]);
  pid_t held = -1;
  ASSERT_EQ(::read(report[0], &held, sizeof held), static_cast<ssize_t>(sizeof held));
  ::close(report[0]);
  wait_for_exit(manager);
  const auto deadline = steady_clock::now() + seconds(5);
  while (steady_clock::now() < deadline) {
    auto start = process_start_time(held);
    if (!start || !is_same_process(held, *start)) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  auto start = process_start_time(held);
  EXPECT_FALSE(start && is_same_process(held, *start)) << "the held child outlived its parent";
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(std::ifstream(marker).good()) << "a child whose parent died at the gate ran the program";
}

TEST(SignalGroup, RefusesGroupsThatWouldHitEverything) {
  for (pid_t pgid : {-5, 0, 1}) {
    auto result = signal_group(pgid, 0);
    ASSERT_FALSE(result.ok()) << pgid;
    EXPECT_EQ(result.error().code(), Errc::invalid_argument);
  }
}

TEST(Identity, StartTimeTellsProcessesApart) {
  ScratchDir dir;
  auto self = process_start_time(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_GT(*self, 0);
  EXPECT_TRUE(is_same_process(::getpid(), *self));
  EXPECT_FALSE(is_same_process(::getpid(), *self + 1));
  EXPECT_FALSE(process_start_time(0).has_value());
  EXPECT_FALSE(process_start_time(-1).has_value());

  auto spawned = spawn(shell_app(dir, "ident", "sleep 0.2"));
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  const ProcessHandle handle = spawned->process;
  EXPECT_EQ(process_start_time(handle.pid), handle.start_time);
  EXPECT_TRUE(is_same_process(handle));
  EXPECT_FALSE(is_same_process(handle.pid, handle.start_time - 1));

  // Ended but not reaped (a zombie): no longer "the same running process".
  const auto deadline = steady_clock::now() + seconds{5};
  while (is_same_process(handle) && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds{10});
  }
  EXPECT_FALSE(is_same_process(handle));
  EXPECT_EQ(process_start_time(handle.pid), handle.start_time) << "a zombie keeps its start time";
  EXPECT_EQ(wait_for_exit(handle.pid).exit_code, 0);
  EXPECT_FALSE(is_same_process(handle));
  EXPECT_FALSE(process_start_time(handle.pid).has_value());
}

TEST(Reap, CollectsEveryEndedChildWithItsStatus) {
  ScratchDir dir;
  std::map<pid_t, int> expected;
  for (int code : {0, 1, 2}) {
    auto spawned = spawn(shell_app(dir, "reap" + std::to_string(code), "exit " + std::to_string(code)));
    ASSERT_TRUE(spawned.ok()) << spawned.error().message();
    expected[spawned->process.pid] = code;
  }
  auto killed = spawn(shell_app(dir, "reap-killed", "kill -TERM $$"));
  ASSERT_TRUE(killed.ok());

  std::map<pid_t, ExitStatus> seen;
  const auto deadline = steady_clock::now() + seconds{10};
  while (seen.size() < 4 && steady_clock::now() < deadline) {
    for (const ExitStatus& status : reap_children()) seen[status.pid] = status;
    std::this_thread::sleep_for(milliseconds{5});
  }
  ASSERT_EQ(seen.size(), 4u);
  for (const auto& [pid, code] : expected) EXPECT_EQ(seen[pid].exit_code, code) << pid;
  EXPECT_EQ(seen[killed->process.pid].signal, SIGTERM);
  EXPECT_TRUE(reap_children().empty());
}

TEST(Reap, TryReapAndWaitExitReportRunningAndForeignProcesses) {
  ScratchDir dir;
  auto spawned = spawn(shell_app(dir, "slow", "sleep 0.3; exit 4"));
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  auto running = try_reap(spawned->process.pid);
  ASSERT_TRUE(running.ok());
  EXPECT_FALSE(running->has_value());

  const auto start = steady_clock::now();
  auto early = wait_exit(spawned->process.pid, start + milliseconds{50});
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->has_value()) << "returned before the child ended";
  EXPECT_GE(steady_clock::now() - start, milliseconds{50});

  auto done = wait_exit(spawned->process.pid, steady_clock::now() + seconds{5});
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ((*done)->exit_code, 4);
  EXPECT_LT(steady_clock::now() - start, seconds{2});

  // Reaped already, and pid 1 was never ours.
  for (pid_t pid : {spawned->process.pid, pid_t{1}}) {
    auto foreign = try_reap(pid);
    ASSERT_FALSE(foreign.ok());
    EXPECT_EQ(foreign.error().code(), Errc::not_found);
    auto waited = wait_exit(pid, steady_clock::now() + milliseconds{10});
    ASSERT_FALSE(waited.ok());
    EXPECT_EQ(waited.error().code(), Errc::not_found);
  }
}

}  // namespace
}  // namespace dc
