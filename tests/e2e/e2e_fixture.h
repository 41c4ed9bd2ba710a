// The fixture of the end-to-end tests that run once per store backend
// (SQLite file, PostgreSQL database) against the shared test broker
// (tests/support/services.h). Each test gets its own World (e2e_support.h).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/ids.h"
#include "e2e/e2e_support.h"
#include "protocol/command.h"
#include "support/services.h"

namespace dc::e2e {

class E2eTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    DC_REQUIRE_RABBIT();
    if (GetParam() == Backend::postgresql) DC_REQUIRE_POSTGRES();
    auto endpoint = dc::test::rabbit_endpoint();
    auto world = World::create(GetParam(), BrokerAddress{endpoint->host, endpoint->port});
    ASSERT_TRUE(world.ok()) << world.error().message();
    world_ = std::move(*world);
  }
  void TearDown() override { world_.reset(); }

  World& w() { return *world_; }

  // Starts a manager and waits for `mode`; nullptr plus a test failure
  // saying why when it did not get there.
  ManagerProcess* start(const std::string& name, const Env& extra = {}, const std::string& mode = "broker") {
    std::string why;
    ManagerProcess* m = w().start_manager(name, extra, mode, &why);
    if (m == nullptr) ADD_FAILURE() << why;
    return m;
  }

  // `dcctl <args> --wait=20 --json`, expecting `expected_exit`.
  nlohmann::json issue(std::vector<std::string> args, int expected_exit = 0) {
    args.push_back("--wait=20");
    return w().dcctl_json(args, expected_exit);
  }

  // A command as an outside source would publish it, not recorded in the store.
  static Command outside_command(CmdName name, const std::string& app_id, const std::string& args = "{}") {
    Command c;
    c.id = random_uuid();
    c.app_id = app_id;
    c.name = name;
    c.issued_by = "e2e-publisher";
    c.issued_at = now();
    c.args_json = args;
    return c;
  }

  std::unique_ptr<World> world_;
};

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) { return to_string(info.param); }

}  // namespace dc::e2e

// Runs every TEST_P of `suite` once per backend.
#define DC_E2E_BACKENDS(suite)                                                                            \
  INSTANTIATE_TEST_SUITE_P(Backends, suite,                                                               \
                           ::testing::Values(::dc::e2e::Backend::sqlite, ::dc::e2e::Backend::postgresql), \
                           ::dc::e2e::backend_name)
