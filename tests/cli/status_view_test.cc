#include "cli/status_view.h"

#include <gtest/gtest.h>

namespace dc {
namespace {

using std::chrono::seconds;

App running_app(TimePoint t) {
  App app;
  app.app_id = "collector";
  app.name = "Collector";
  app.manager = "manager_1";
  app.status = AppStatus::running;
  app.pid = 4242;
  app.started_at = t - seconds(3 * 3600 + 7 * 60 + 5);
  app.cmd = CmdName::restart;
  app.cmd_flag = CmdFlag::executed;
  app.cmd_id = "c1";
  return app;
}

TEST(StatusView, UptimeReadsLikeAPersonWouldSayIt) {
  EXPECT_EQ(format_uptime(seconds(0)), "0s");
  EXPECT_EQ(format_uptime(seconds(45)), "45s");
  EXPECT_EQ(format_uptime(seconds(3 * 60 + 12)), "3m 12s");
  EXPECT_EQ(format_uptime(seconds(5 * 3600 + 7 * 60 + 59)), "5h 07m");
  EXPECT_EQ(format_uptime(seconds(2 * 86400 + 4 * 3600 + 30)), "2d 04h");
  EXPECT_EQ(format_uptime(seconds(-20)), "0s");  // clock skew between hosts
}

TEST(StatusView, ARunningAppShowsPidUptimeAndItsLastCommand) {
  const TimePoint t = now();
  const auto row = status_row(running_app(t), t);
  EXPECT_EQ(row, (std::vector<std::string>{"collector", "Collector", "manager_1", "RUNNING", "4242", "3h 07m", "yes",
                                           "RESTART", "EXECUTED"}));
  EXPECT_EQ(row.size(), status_header().size());
}

TEST(StatusView, AStoppedAppHasNoPidNorUptime) {
  const TimePoint t = now();
  App app = running_app(t);
  app.status = AppStatus::stopped;
  app.disable = true;
  app.cmd = CmdName::stop;
  app.cmd_flag = CmdFlag::pending;
  app.name.clear();
  const auto row = status_row(app, t);
  EXPECT_EQ(row, (std::vector<std::string>{"collector", "collector", "manager_1", "STOPPED", "-", "-", "no", "STOP",
                                           "PENDING"}));
}

TEST(StatusView, JsonCarriesTheSameFacts) {
  const TimePoint t = now();
  const auto j = status_json(running_app(t), t);
  EXPECT_EQ(j["app_id"], "collector");
  EXPECT_EQ(j["status"], "RUNNING");
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_EQ(j["uptime_s"], 3 * 3600 + 7 * 60 + 5);
  EXPECT_EQ(j["enabled"], true);
  EXPECT_EQ(j["cmd"], "RESTART");
  EXPECT_EQ(j["cmd_flag"], "EXECUTED");
  App never;
  never.app_id = "x";
  const auto k = status_json(never, t);
  EXPECT_TRUE(k["pid"].is_null());
  EXPECT_TRUE(k["uptime_s"].is_null());
  EXPECT_TRUE(k["cmd"].is_null());
}

}  // namespace
}  // namespace dc
