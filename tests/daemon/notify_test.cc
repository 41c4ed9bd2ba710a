// dc-api and dc-worker under a service manager (issue 16), as
// tests/e2e/notify_test.cc does for dc-manager: with NOTIFY_SOCKET pointed
// at a datagram socket the test reads, the real programs report READY=1 once
// they serve (dc-api: listening) or consume (dc-worker: every consumer
// consuming), STATUS= saying so, WATCHDOG=1 every WATCHDOG_USEC / 2, and
// STOPPING=1 on SIGTERM before they exit 0. Their /metrics carry
// dc_build_info{version,commit}.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/version.h"
#include "support/child_process.h"
#include "support/notify_socket.h"
#include "support/services.h"

namespace dc {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The build_info line every program's /metrics carries.
std::string build_info_line() {
  return "dc_build_info{version=\"" + std::string(kVersion) + "\",commit=\"" + std::string(build_commit()) + "\"} 1";
}

class DaemonNotify : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dc-daemon-notify-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      test::wait_exit(pid_);
    }
    std::filesystem::remove_all(dir_);
  }

  // Starts `program` with NOTIFY_SOCKET and a 1 s watchdog, output in log().
  void start(const std::string& socket, std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/env", "NOTIFY_SOCKET=" + socket, "WATCHDOG_USEC=1000000"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = test::start_logged(argv, log());
    ASSERT_GT(pid_, 0);
  }
  // SIGTERM, then the exit code.
  int terminate() {
    ::kill(pid_, SIGTERM);
    const int code = test::wait_exit(pid_);
    pid_ = -1;
    return code;
  }
  std::filesystem::path log() const { return dir_ / "program.log"; }

  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

TEST_F(DaemonNotify, ApiIsReadyOnceListeningPingsAndSaysStopping) {
  const test::NotifySocket socket((dir_ / "notify.sock").string());
  ASSERT_TRUE(socket.ok());
  start(socket.path(),
        {DC_API_BIN, "--api-listen", "127.0.0.1:0", "--db-url", "sqlite://" + (dir_ / "dc.sqlite3").string(),
         "--rabbit-host", "127.0.0.1", "--rabbit-port", "1", "--log-level", "debug"});
  const auto first = socket.receive_until("READY=1", seconds(20));
  ASSERT_EQ(test::count_containing(first, "READY=1"), 1u) << test::slurp(log());
  EXPECT_NE(first.back().find("STATUS=serving on 127.0.0.1:"), std::string::npos) << first.back();
  // The address it says it serves on answers: READY came after the listen.
  const std::string& ready = first.back();
  const std::string address = ready.substr(ready.find("serving on ") + 11);
  std::string health;
  EXPECT_EQ(
      test::run_shell("curl -sS --max-time 5 'http://" + address.substr(0, address.find('\n')) + "/healthz'", &health),
      0);
  EXPECT_NE(health.find("ok:"), std::string::npos) << health;
  std::string metrics;
  EXPECT_EQ(
      test::run_shell("curl -sS --max-time 5 'http://" + address.substr(0, address.find('\n')) + "/metrics'", &metrics),
      0);
  EXPECT_NE(metrics.find(build_info_line()), std::string::npos) << metrics;

  const auto running = socket.receive(seconds(3));
  EXPECT_GE(test::count_containing(running, "WATCHDOG=1"), 4u) << "expected a ping about every 0.5 s for 3 s";
  EXPECT_EQ(test::count_containing(running, "READY=1"), 0u);

  EXPECT_EQ(terminate(), 0) << test::slurp(log());
  EXPECT_EQ(test::count_containing(socket.receive(milliseconds(500)), "STOPPING=1"), 1u);
}

// An [actors.noop] table on a queue of this test's own, with the broker.
std::string worker_config(const std::string& host, int port, const std::string& queue) {
  return "rabbit_host = \"" + host + "\"\nrabbit_port = " + std::to_string(port) +
         "\nworker_threads = 1\n[actors.noop]\nexec = [\"/bin/true\"]\nqueue = \"" + queue + "\"\n";
}

TEST_F(DaemonNotify, WorkerIsReadyOnceConsumingPingsAndSaysStopping) {
  DC_REQUIRE_RABBIT();
  const auto rabbit = *test::rabbit_endpoint();
  const std::string queue = "notify_q_" + std::to_string(::getpid());
  std::ofstream(dir_ / "dc.toml") << worker_config(rabbit.host, rabbit.port, queue);
  const test::NotifySocket socket((dir_ / "notify.sock").string());
  ASSERT_TRUE(socket.ok());
  start(socket.path(), {DC_WORKER_BIN, "--config", (dir_ / "dc.toml").string()});

  const auto first = socket.receive_until("READY=1", seconds(20));
  ASSERT_EQ(test::count_containing(first, "READY=1"), 1u) << test::slurp(log());
  EXPECT_NE(first.back().find("STATUS=queue " + queue + ": consuming"), std::string::npos) << first.back();
  const auto running = socket.receive(seconds(3));
  EXPECT_GE(test::count_containing(running, "WATCHDOG=1"), 5u) << "expected a ping every 0.5 s for 3 s";
  EXPECT_EQ(test::count_containing(running, "READY=1"), 0u);

  EXPECT_EQ(terminate(), 0) << test::slurp(log());
  EXPECT_EQ(test::count_containing(socket.receive(milliseconds(500)), "STOPPING=1"), 1u);
}

// Without a broker the worker consumes nothing: never READY (systemd's start
// timeout then fails the start, and Restart= tries again), yet its loop
// turns, so the watchdog is fed.
TEST_F(DaemonNotify, WorkerWithoutBrokerIsNotReadyButAlive) {
  std::ofstream(dir_ / "dc.toml") << worker_config("127.0.0.1", 1, "notify_nobroker");
  const test::NotifySocket socket((dir_ / "notify.sock").string());
  ASSERT_TRUE(socket.ok());
  start(socket.path(), {DC_WORKER_BIN, "--config", (dir_ / "dc.toml").string(), "--metrics-listen", "127.0.0.1:0"});
  const auto messages = socket.receive(seconds(3));
  EXPECT_EQ(test::count_containing(messages, "READY=1"), 0u);
  EXPECT_GE(test::count_containing(messages, "WATCHDOG=1"), 4u) << test::slurp(log());
  // Its /metrics names the build.
  const std::string text = test::slurp(log());
  const std::string marker = "serving /metrics and /healthz on ";
  const size_t at = text.find(marker);
  ASSERT_NE(at, std::string::npos) << text;
  const std::string address =
      text.substr(at + marker.size(), text.find_first_of(" \r\n", at + marker.size()) - (at + marker.size()));
  std::string metrics;
  EXPECT_EQ(test::run_shell("curl -sS --max-time 5 'http://" + address + "/metrics'", &metrics), 0);
  EXPECT_NE(metrics.find(build_info_line()), std::string::npos) << metrics;
  EXPECT_EQ(terminate(), 0) << test::slurp(log());
}

}  // namespace
}  // namespace dc
