// GracefulStop / stop_process: SIGTERM to the group, SIGKILL after the
// timeout, the whole group gone afterwards, for children and for
// re-adopted processes that are not our children.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "process/process.h"
#include "process_test_support.h"

namespace dc {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using test::read_file;
using test::ScratchDir;
using test::wait_for_text;

SpawnedProcess start(const ScratchDir& dir, const std::string& app_id, const std::string& script) {
  SpawnRequest request;
  request.app_id = app_id;
  request.argv = {"/bin/sh", "-c", script};
  request.log_dir = dir.path();
  request.manager = "mgr-1";
  auto spawned = spawn(request);
  EXPECT_TRUE(spawned.ok()) << spawned.error().message();
  return spawned.ok() ? *spawned : SpawnedProcess{};
}

// Waits for the pid the script wrote to `file` and returns it with its
// start time.
ProcessHandle read_pid_file(const std::filesystem::path& file) {
  EXPECT_TRUE(wait_for_text(file, "\n")) << file;
  const pid_t pid = std::stoi(read_file(file));
  return ProcessHandle{pid, process_start_time(pid).value_or(-1)};
}

bool gone_within(const ProcessHandle& process, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (is_same_process(process)) {
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds{10});
  }
  return true;
}

TEST(StopProcess, SigtermEndsTheWholeGroupIncludingGrandchildren) {
  ScratchDir dir;
  const auto pid_file = dir.path() / "grandchild.pid";
  const SpawnedProcess app = start(dir, "family", "sleep 30 & echo $! > " + pid_file.string() + "; wait");
  const ProcessHandle grandchild = read_pid_file(pid_file);
  ASSERT_TRUE(is_same_process(grandchild));
  EXPECT_EQ(::getpgid(grandchild.pid), app.process.pid);

  auto outcome = stop_process(app.process, seconds{5});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->how, StopHow::terminated);
  EXPECT_EQ(outcome->status.pid, app.process.pid);
  EXPECT_EQ(outcome->status.signal, SIGTERM);
  EXPECT_LT(outcome->elapsed, seconds{2});
  EXPECT_FALSE(is_same_process(app.process));
  EXPECT_TRUE(gone_within(grandchild, seconds{1})) << "grandchild " << grandchild.pid << " survived the stop";
  EXPECT_FALSE(group_has_live_members(app.process.pid)) << "the group still has live members";
}

TEST(StopProcess, ATrapThatExitsIsReportedAsExited) {
  ScratchDir dir;
  const SpawnedProcess app =
      start(dir, "polite", "trap 'echo bye; exit 7' TERM; echo ready; while :; do sleep 0.05; done");
  ASSERT_TRUE(wait_for_text(app.log_path, "ready"));
  auto outcome = stop_process(app.process, seconds{5});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->how, StopHow::exited);
  EXPECT_EQ(outcome->status.exit_code, 7);
  EXPECT_NE(read_file(app.log_path).find("bye"), std::string::npos);
}

TEST(StopProcess, IgnoringSigtermEarnsSigkillAfterTheTimeout) {
  ScratchDir dir;
  const SpawnedProcess app = start(dir, "stubborn", "trap '' TERM; echo ready; while :; do sleep 0.05; done");
  ASSERT_TRUE(wait_for_text(app.log_path, "ready"));
  const milliseconds timeout{400};
  const auto begun = steady_clock::now();
  auto outcome = stop_process(app.process, timeout);
  const auto took = steady_clock::now() - begun;
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->how, StopHow::killed);
  EXPECT_EQ(outcome->status.signal, SIGKILL);
  EXPECT_GE(took, timeout);
  EXPECT_LT(took, timeout + milliseconds{600}) << "SIGKILL came late";
  EXPECT_GE(outcome->elapsed, timeout);
  EXPECT_FALSE(group_has_live_members(app.process.pid));
}

TEST(StopProcess, AGrandchildIgnoringSigtermIsKilledEvenWhenTheLeaderExits) {
  ScratchDir dir;
  const auto pid_file = dir.path() / "stubborn.pid";
  // The leader dies of SIGTERM at once; its child ignores it.
  const SpawnedProcess app =
      start(dir, "leftover",
            "sh -c 'trap \"\" TERM; echo $$ > " + pid_file.string() + "; while :; do sleep 0.05; done' & wait");
  const ProcessHandle stubborn = read_pid_file(pid_file);
  const milliseconds timeout{300};
  auto outcome = stop_process(app.process, timeout);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->how, StopHow::killed);
  EXPECT_EQ(outcome->status.signal, SIGTERM) << "the leader's own status";
  EXPECT_GE(outcome->elapsed, timeout);
  EXPECT_TRUE(gone_within(stubborn, seconds{1}));
}

TEST(StopProcess, AnAlreadyEndedChildIsReapedAndReportedAsAlreadyGone) {
  ScratchDir dir;
  const SpawnedProcess app = start(dir, "quick", "exit 5");
  ASSERT_TRUE(gone_within(app.process, seconds{5}));
  auto outcome = stop_process(app.process, seconds{5});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->how, StopHow::already_gone);
  EXPECT_EQ(outcome->status.exit_code, 5);
  auto reaped = try_reap(app.process.pid);
  ASSERT_FALSE(reaped.ok()) << "the zombie was not reaped";
  EXPECT_EQ(reaped.error().code(), Errc::not_found);

  // Reaped and gone, or a pid that now names another process: nothing is
  // signalled.
  auto again = stop_process(app.process, seconds{5});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->how, StopHow::already_gone);
  EXPECT_FALSE(again->status.known());
  auto stranger = stop_process(ProcessHandle{::getpid(), *process_start_time(::getpid()) + 1}, seconds{5});
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(stranger->how, StopHow::already_gone);
}

TEST(StopProcess, ReadoptedProcessThatIsNotOurChild) {
  ScratchDir dir;
  const auto pid_file = dir.path() / "adopted.pid";
  // setsid makes the sleep lead its own session and group; the shell then
  // exits, so the sleep is re-parented away from us, like an app left
  // running by a manager that crashed.
  const SpawnedProcess launcher = start(dir, "launcher", "setsid sleep 30 & echo $! > " + pid_file.string());
  const ProcessHandle adopted = read_pid_file(pid_file);
  ASSERT_TRUE(is_same_process(adopted));
  const auto deadline = steady_clock::now() + seconds{5};
  while (::getpgid(adopted.pid) != adopted.pid && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds{5});  // until setsid has run
  }
  ASSERT_EQ(::getpgid(adopted.pid), adopted.pid);
  auto launcher_status = wait_exit(launcher.process.pid, steady_clock::now() + seconds{5});
  ASSERT_TRUE(launcher_status.ok() && launcher_status->has_value());

  auto outcome = stop_process(adopted, seconds{5});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->how, StopHow::terminated);
  EXPECT_FALSE(outcome->status.known());
  EXPECT_EQ(outcome->status.describe(), "ended (status unknown: not a child of this process)");
  EXPECT_FALSE(is_same_process(adopted));
  EXPECT_LT(outcome->elapsed, seconds{2});
}

TEST(GracefulStop, DrivenWithoutBlockingFromAnEventLoop) {
  ScratchDir dir;
  const SpawnedProcess app = start(dir, "loop", "trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done");
  ASSERT_TRUE(wait_for_text(app.log_path, "ready"));
  auto stop = GracefulStop::begin(app.process, seconds{5});
  ASSERT_TRUE(stop.ok()) << stop.error().message();
  ASSERT_GE(stop->fd(), 0);
  EXPECT_LE(stop->next_deadline(), steady_clock::now() + seconds{5});

  std::optional<StopOutcome> outcome;
  const auto deadline = steady_clock::now() + seconds{5};
  while (!outcome && steady_clock::now() < deadline) {
    auto step = stop->poll();
    ASSERT_TRUE(step.ok()) << step.error().message();
    outcome = *step;
    if (!outcome) {
      pollfd entry{stop->fd(), POLLIN, 0};
      const auto wait = std::chrono::ceil<milliseconds>(stop->next_deadline() - steady_clock::now());
      ::poll(&entry, 1, static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 100)));
    }
  }
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->how, StopHow::exited);
  EXPECT_EQ(outcome->status.exit_code, 3);
  // Complete stays complete.
  auto later = stop->poll();
  ASSERT_TRUE(later.ok() && later->has_value());
  EXPECT_EQ((*later)->how, StopHow::exited);
}

TEST(GracefulStop, TakesOverAStatusTheOwnersReaperCollected) {
  ScratchDir dir;
  const SpawnedProcess app = start(dir, "handover", "sleep 30");
  auto stop = GracefulStop::begin(app.process, seconds{5});
  ASSERT_TRUE(stop.ok()) << stop.error().message();
  // The manager's own reaper gets there first.
  std::vector<ExitStatus> reaped;
  const auto deadline = steady_clock::now() + seconds{5};
  while (reaped.empty() && steady_clock::now() < deadline) {
    reaped = reap_children();
    std::this_thread::sleep_for(milliseconds{5});
  }
  ASSERT_EQ(reaped.size(), 1u);
  stop->note_exit(reaped[0]);
  auto outcome = stop->wait();
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->how, StopHow::terminated);
  EXPECT_EQ(outcome->status.signal, SIGTERM);
}

}  // namespace
}  // namespace dc
