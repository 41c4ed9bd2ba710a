// Secrets never appear in logs, --print-config, /metrics or the process
// title (issue: reliability and security). Runs the real dc-manager with a
// wrong broker password and a command secret, then greps everything it
// exposed for both.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.h"
#include "support/services.h"

namespace dc {
namespace {

constexpr const char* kPassword = "pw-Secret-4f9a1c";
constexpr const char* kCommandSecret = "hmac-Secret-77b2e0";

using test::slurp;
using test::start_logged;
using test::wait_exit;

// A port that was free a moment ago on 127.0.0.1.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class Secrets : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dc-secrets-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> manager_args(const std::string& host, int port) {
    return {DC_MANAGER_BIN,
            "--rabbit-host",
            host,
            "--rabbit-port",
            std::to_string(port),
            "--rabbit-password",
            kPassword,
            "--command-secret=" + std::string(kCommandSecret),
            "--rabbit-queue",
            "secrets_m" + std::to_string(::getpid()),
            "--db-url",
            "sqlite://" + (dir_ / "dc.sqlite3").string(),
            "--log-dir",
            (dir_ / "logs").string()};
  }

  std::filesystem::path dir_;
};

TEST_F(Secrets, NotInPrintConfig) {
  auto args = manager_args("127.0.0.1", 1);
  args.push_back("--print-config");
  const auto out = dir_ / "print.txt";
  ASSERT_EQ(wait_exit(start_logged(args, out)), 0);
  const std::string text = slurp(out);
  EXPECT_NE(text.find("\"rabbit_password\""), std::string::npos) << text;
  EXPECT_EQ(text.find(kPassword), std::string::npos) << text;
  EXPECT_EQ(text.find(kCommandSecret), std::string::npos) << text;
}

TEST_F(Secrets, NotInLogsMetricsOrProcessTitle) {
  DC_REQUIRE_RABBIT();
  const auto broker = *test::rabbit_endpoint();
  auto args = manager_args(broker.host, broker.port);
  args.push_back("--metrics-listen");
  const int metrics_port = free_port();
  args.push_back("127.0.0.1:" + std::to_string(metrics_port));
  args.push_back("--log-level");
  args.push_back("debug");
  const auto log = dir_ / "manager.log";
  const pid_t pid = start_logged(args, log);
  // The wrong password makes the broker refuse the login: the error is
  // logged, and the manager carries on in fallback mode.
  std::string text;
  for (int i = 0; i < 100 && text.find("fallback") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    text = slurp(log);
  }
  ASSERT_NE(text.find("fallback"), std::string::npos) << text;
  EXPECT_NE(text.find("guest"), std::string::npos) << "the log names the user, not the password:\n" << text;

  const std::string cmdline = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  EXPECT_NE(cmdline.find("--rabbit-password"), std::string::npos);
  EXPECT_EQ(cmdline.find(kPassword), std::string::npos);
  EXPECT_EQ(cmdline.find(kCommandSecret), std::string::npos);

  std::string metrics;
  ASSERT_EQ(test::run_shell("curl -s http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics", &metrics), 0);
  EXPECT_NE(metrics.find("dc_mode"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find(kPassword), std::string::npos);

  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit(pid), 0);
  text = slurp(log);
  EXPECT_EQ(text.find(kPassword), std::string::npos) << text;
  EXPECT_EQ(text.find(kCommandSecret), std::string::npos) << text;
}

}  // namespace
}  // namespace dc
