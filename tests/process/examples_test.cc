// The example apps in examples/ behave as the demo and the reliability
// tests rely on: the collector reports its DC_* environment, ticks, records
// each start in $DC_WITNESS and exits 0 on SIGTERM; ignore-sigterm needs
// the SIGKILL escalation.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "process/process.h"
#include "process_test_support.h"

namespace dc {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test::read_file;
using test::ScratchDir;
using test::wait_for_text;

const std::filesystem::path kExamples = std::filesystem::path(DC_SOURCE_DIR) / "examples";

TEST(ExampleCollector, ReportsTicksWitnessesAndStopsCleanly) {
  ScratchDir dir;
  SpawnRequest request;
  request.app_id = "collector-1";
  request.argv = {(kExamples / "collector").string()};
  request.log_dir = dir.path();
  request.manager = "mgr-a";
  request.command_id = "3f2b";
  request.args_json = R"({"company_id":"123456"})";
  request.extra_env = {{"DC_WITNESS", (dir.path() / "witness").string()}, {"COLLECTOR_INTERVAL", "0.1"}};
  auto spawned = spawn(request);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  ASSERT_TRUE(wait_for_text(spawned->log_path, "tick 2")) << read_file(spawned->log_path);
  const std::string log = read_file(spawned->log_path);
  EXPECT_NE(log.find("collector collector-1: started"), std::string::npos) << log;
  EXPECT_NE(log.find("manager=mgr-a command=3f2b args={\"company_id\":\"123456\"}"), std::string::npos) << log;
  EXPECT_NE(log.find("collector collector-1: tick 1 args={\"company_id\":\"123456\"}"), std::string::npos) << log;
  EXPECT_EQ(read_file(dir.path() / "witness"), "collector-1 3f2b\n");

  auto outcome = stop_process(spawned->process, seconds{5});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->how, StopHow::exited);
  EXPECT_EQ(outcome->status.exit_code, 0);
  EXPECT_LT(outcome->elapsed, seconds{2});
  EXPECT_NE(read_file(spawned->log_path).find("stopping on TERM"), std::string::npos);

  // A second start appends a second witness line.
  request.command_id = "9c1d";
  request.extra_env.push_back({"COLLECTOR_TICKS", "1"});
  auto second = spawn(request);
  ASSERT_TRUE(second.ok()) << second.error().message();
  auto done = wait_exit(second->process.pid, std::chrono::steady_clock::now() + seconds{5});
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->exit_code, 0);
  EXPECT_EQ(read_file(dir.path() / "witness"), "collector-1 3f2b\ncollector-1 9c1d\n");
}

TEST(ExampleIgnoreSigterm, NeedsSigkill) {
  ScratchDir dir;
  SpawnRequest request;
  request.app_id = "stubborn";
  request.argv = {(kExamples / "ignore-sigterm").string()};
  request.log_dir = dir.path();
  auto spawned = spawn(request);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  ASSERT_TRUE(wait_for_text(spawned->log_path, "ready"));
  auto outcome = stop_process(spawned->process, milliseconds{300});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  EXPECT_EQ(outcome->how, StopHow::killed);
  EXPECT_EQ(outcome->status.signal, SIGKILL);
}

}  // namespace
}  // namespace dc
