// The programs from outside. Every metrics_listen the configuration accepts
// is one dc-manager serves on: an IPv6 literal, a host name and an IPv4
// literal, each with port 0, answer /healthz, and /metrics names the build's
// version and commit; every program's --version prints that version. Runs the real
// dc-manager on an SQLite file with no broker (fallback mode).
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "base/version.h"
#include "support/child_process.h"
#include "support/services.h"

namespace dc {
namespace {

class MetricsListen : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dc-metrics-listen-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

TEST_P(MetricsListen, ServesHealthz) {
  const std::string listen = GetParam();
  const auto log = dir_ / "manager.log";
  const pid_t pid = test::start_logged(
      {DC_MANAGER_BIN, "--rabbit-host", "127.0.0.1", "--rabbit-port", "1", "--rabbit-queue",
       "metrics_m" + std::to_string(::getpid()), "--db-url", "sqlite://" + (dir_ / "dc.sqlite3").string(), "--log-dir",
       (dir_ / "logs").string(), "--metrics-listen", listen},
      log);
  std::string address;
  for (int i = 0; i < 100 && address.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (::waitpid(pid, nullptr, WNOHANG) == pid) break;  // exited early: the log says why
    address = test::served_metrics_address(test::slurp(log));
  }
  ASSERT_FALSE(address.empty()) << "dc-manager did not serve " << listen << ":\n" << test::slurp(log);
  EXPECT_EQ(address.find(":0"), std::string::npos) << "the log names the bound port: " << address;

  std::string body;
  const int curl = test::run_shell("curl -gsS --max-time 5 'http://" + address + "/healthz' 2>&1", &body);
  EXPECT_EQ(curl, 0) << body;
  EXPECT_NE(body.find("ok: mode"), std::string::npos) << body;
  std::string metrics;
  EXPECT_EQ(test::run_shell("curl -gsS --max-time 5 'http://" + address + "/metrics' 2>&1", &metrics), 0) << metrics;
  EXPECT_NE(metrics.find("dc_build_info{version=\"" + std::string(kVersion) + "\",commit=\"" +
                         std::string(build_commit()) + "\"} 1"),
            std::string::npos)
      << metrics;

  ::kill(pid, SIGTERM);
  EXPECT_EQ(test::wait_exit(pid), 0) << test::slurp(log);
}

TEST(Version, ComesFromTheProjectVersion) {
  for (const std::string program : {DC_MANAGER_BIN, DCCTL_BIN, DC_API_BIN, DC_WORKER_BIN}) {
    std::string out;
    EXPECT_EQ(test::run_shell("'" + program + "' --version", &out), 0) << program;
    const std::string name = std::filesystem::path(program).filename();
    EXPECT_EQ(out, name + " " + std::string(kVersion) + "\n");
  }
}

std::string address_kind(const ::testing::TestParamInfo<const char*>& param) {
  return param.index == 0 ? "Ipv6Literal" : param.index == 1 ? "HostName" : "Ipv4Literal";
}

INSTANTIATE_TEST_SUITE_P(Addresses, MetricsListen, ::testing::Values("[::1]:0", "localhost:0", "127.0.0.1:0"),
                         address_kind);

}  // namespace
}  // namespace dc
