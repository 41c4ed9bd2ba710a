#include "manager/manager_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace dc {
namespace {

TEST(ManagerMetrics, TwoSeriesPerAppFromTheSnapshot) {
  const std::string text = format_app_status_metrics(
      {{"collector", AppStatus::running}, {"nightly", AppStatus::failed}, {"odd\"id", AppStatus::stopped}});
  EXPECT_NE(text.find("# TYPE dc_app_running gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("dc_app_running{app_id=\"collector\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("dc_app_running{app_id=\"nightly\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("dc_app_running{app_id=\"odd\\\"id\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE dc_app_status gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("dc_app_status{app_id=\"collector\",status=\"RUNNING\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("dc_app_status{app_id=\"nightly\",status=\"FAILED\"} 1\n"), std::string::npos) << text;
  // Only the current status: no zero series for the other four.
  EXPECT_EQ(text.find("status=\"STOPPED\"} 0"), std::string::npos) << text;
}

TEST(ManagerMetrics, RendersKeepEveryNameAndAddTheNewOnes) {
  ManagerMetrics metrics;
  metrics.command_finished(CmdName::restart, CmdFlag::executed, DeliveryPath::broker, 0.003);
  metrics.set_app_states({{"collector", AppStatus::running}});
  const std::string text = metrics.render();
  for (const char* name :
       {"dc_commands_total{outcome=\"executed\",path=\"broker\"} 1", "dc_poison_total", "dc_duplicates_total",
        "dc_other_manager_total", "dc_broker_reconnects_total", "dc_mode{mode=\"starting\"} 1", "dc_build_info{",
        "dc_command_latency_seconds_bucket{command=\"RESTART\",le=\"0.005\"} 1",
        "dc_command_latency_seconds_count{command=\"RESTART\"} 1",
        "dc_command_latency_seconds_count{command=\"START\"} 0", "dc_app_running{app_id=\"collector\"} 1",
        "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
        "process_start_time_seconds"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << "\n" << text;
  }
  // An app gone from the snapshot is gone from /metrics.
  metrics.set_app_states({});
  EXPECT_EQ(metrics.render().find("app_id=\"collector\""), std::string::npos);
}

}  // namespace
}  // namespace dc
