// A real dc-manager's /metrics after real commands (issue 16): the
// process_* metrics of Prometheus client libraries, one dc_app_running and
// one dc_app_status series per app, the `command` label on the latency
// histogram, and every metric name that existed before.
#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "e2e/e2e_fixture.h"
#include "support/child_process.h"

namespace dc::e2e {
namespace {

class E2eMetricsTest : public E2eTest {};

// The value of the sample line that starts with `series` ("name{labels}"), or "".
std::string sample(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const size_t start = at + series.size() + 1;
      return text.substr(start, text.find('\n', start) - start);
    }
    at += series.size();
  }
  return "";
}

TEST_P(E2eMetricsTest, ProcessAndPerAppMetricsOnARealManager) {
  const std::string manager = w().unique("mgr");
  const std::string a = w().unique("a");
  const std::string b = w().unique("b");
  ASSERT_TRUE(w().add_app(a, manager, {collector_app()}));
  ASSERT_TRUE(w().add_app(b, manager, {collector_app()}));
  ManagerProcess* m = start(manager, {{"DC_METRICS_LISTEN", "127.0.0.1:0"}});
  ASSERT_NE(m, nullptr);
  std::string address;
  ASSERT_TRUE(
      wait_until([&] { return !(address = test::served_metrics_address(read_file(m->log_path))).empty(); }, 10s))
      << read_file(m->log_path);
  ASSERT_EQ(w().dcctl({"start", a, "--wait=20"}).exit_code, 0);
  ASSERT_EQ(w().dcctl({"restart", a, "--wait=20"}).exit_code, 0);

  const auto scrape = [&] {
    return run_tool({"/usr/bin/curl", "-sS", "--max-time", "5", "http://" + address + "/metrics"}, {}, w().dir(), 10s)
        .out;
  };
  std::string text;
  // The per-app series follow the registry within the manager's 5 s refresh.
  ASSERT_TRUE(wait_until(
      [&] {
        text = scrape();
        return sample(text, "dc_app_running{app_id=\"" + a + "\"}") == "1";
      },
      15s))
      << text;
  EXPECT_EQ(sample(text, "dc_app_running{app_id=\"" + b + "\"}"), "0") << text;
  EXPECT_EQ(sample(text, "dc_app_status{app_id=\"" + a + "\",status=\"RUNNING\"}"), "1") << text;
  EXPECT_EQ(sample(text, "dc_app_status{app_id=\"" + b + "\",status=\"STOPPED\"}"), "1") << text;
  EXPECT_EQ(text.find("dc_app_status{app_id=\"" + a + "\",status=\"STOPPED\"}"), std::string::npos) << text;

  // The latency histogram, by command.
  EXPECT_EQ(sample(text, "dc_command_latency_seconds_count{command=\"START\"}"), "1") << text;
  EXPECT_EQ(sample(text, "dc_command_latency_seconds_count{command=\"RESTART\"}"), "1") << text;
  EXPECT_EQ(sample(text, "dc_command_latency_seconds_count{command=\"STOP\"}"), "0") << text;

  // Every name that was there before.
  for (const char* name :
       {"dc_commands_total", "dc_poison_total", "dc_duplicates_total", "dc_other_manager_total", "dc_mode",
        "dc_broker_reconnects_total", "dc_apps", "dc_build_info", "dc_command_latency_seconds"}) {
    EXPECT_NE(text.find("# TYPE " + std::string(name) + " "), std::string::npos) << name;
  }
  EXPECT_EQ(sample(text, "dc_commands_total{outcome=\"executed\",path=\"broker\"}"), "2") << text;

  // process_*, read from the manager's own /proc entry.
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos) << text;
  const double rss = std::stod("0" + sample(text, "process_resident_memory_bytes"));
  EXPECT_GT(rss, 1e6) << text;
  const double fds = std::stod("0" + sample(text, "process_open_fds"));
  EXPECT_GE(fds, 5) << text;  // stdio, the log, sockets to the broker and the database
  const double started = std::stod("0" + sample(text, "process_start_time_seconds"));
  const double t = static_cast<double>(std::time(nullptr));
  EXPECT_GT(started, t - 120) << text;
  EXPECT_LE(started, t + 2) << text;
}

DC_E2E_BACKENDS(E2eMetricsTest);

}  // namespace
}  // namespace dc::e2e
