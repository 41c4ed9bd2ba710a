#include "process/discover.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "process/spawn.h"
#include "process/stop.h"
#include "process_test_support.h"

namespace dc {
namespace {

TEST(Discover, FindsTheAppsOfOneManagerButNotTheirChildren) {
  test::ScratchDir dir;
  const std::string manager = "discover-" + std::to_string(::getpid());
  SpawnRequest request;
  request.app_id = "orphan.app";
  // The app starts a child of its own, which inherits DC_MANAGER.
  request.argv = {"/bin/sh", "-c", "sleep 30 & wait"};
  request.log_dir = dir.path();
  request.manager = manager;
  request.command_id = "cmd-42";
  auto spawned = spawn(request);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message();
  SpawnRequest other = request;
  other.app_id = "someone.else";
  other.manager = manager + "-other";
  auto foreign = spawn(other);
  ASSERT_TRUE(foreign.ok()) << foreign.error().message();

  std::vector<DiscoveredApp> found;
  // Give the shell a moment to start its child, so the filter is exercised.
  for (int i = 0; i < 50; ++i) {
    found = find_app_processes(manager);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].process, spawned->process);
  EXPECT_EQ(found[0].app_id, "orphan.app");
  EXPECT_EQ(found[0].command_id, "cmd-42");

  ASSERT_TRUE(stop_process(spawned->process, std::chrono::milliseconds(2000)).ok());
  ASSERT_TRUE(stop_process(foreign->process, std::chrono::milliseconds(2000)).ok());
  EXPECT_TRUE(find_app_processes(manager).empty());
}

}  // namespace
}  // namespace dc
