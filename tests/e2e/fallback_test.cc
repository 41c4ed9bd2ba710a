// The broker dies and comes back (SPEC §6.1, §6.4). On a private RabbitMQ
// node (the shared broker's port + 4) shared by both store backends, since a node start takes
// 10-20 s: kill -9 the node; a command issued meanwhile is stored by dcctl
// and carried out through the database poll within poll_interval + 1 s; a
// manager started while the broker is down runs what waits for it; once the
// node is back every manager returns to broker mode within 30 s and commands
// flow through the broker again. Nothing is lost and nothing runs twice.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "e2e/e2e_support.h"
#include "support/services.h"

namespace dc::e2e {
namespace {

using nlohmann::json;

const int kPrivateBrokerPort = dc::test::private_broker_port(4);
constexpr double kPollInterval = 1.0;  // DC_POLL_INTERVAL of World::base_env()

double seconds_between(TimePoint from, TimePoint to) { return std::chrono::duration<double>(to - from).count(); }

// One backend's share of the scenario: manager A runs throughout, manager
// B is first started while the broker is down.
struct Side {
  std::unique_ptr<World> world;
  std::string manager_a, manager_b, app_a, app_b;
  ManagerProcess* a = nullptr;
  ManagerProcess* b = nullptr;
  std::string label() const { return to_string(world->backend()); }
};

json outcome_of(World& w, const std::vector<std::string>& args, int expected_exit = 0) {
  std::vector<std::string> with_wait = args;
  with_wait.push_back("--wait=20");
  json report = w.dcctl_json(with_wait, expected_exit);
  if (!report.is_object() || report["outcomes"].size() != 1) return json::object();
  return report["outcomes"][0];
}

TEST(E2eFallbackTest, BrokerKilledCommandsGoThroughTheDatabaseThenBackToTheBroker) {
  DC_REQUIRE_RABBIT();
  std::vector<Backend> backends = {Backend::sqlite};
  if (dc::test::postgres_url()) {
    backends.push_back(Backend::postgresql);
  } else if (dc::test::services_required()) {
    FAIL() << "DC_TEST_PG_URL not set";
  }

  // Declared first, destroyed last: the Worlds clean up on a live node.
  PrivateBroker node(kPrivateBrokerPort);
  auto t = Clock::now();
  ASSERT_TRUE(node.start()) << "starting the private broker failed";
  std::cout << "[ figure ] private node start: " << std::chrono::duration<double>(Clock::now() - t).count() << " s\n";

  std::vector<Side> sides;
  for (Backend backend : backends) {
    auto world = World::create(backend, node.address());
    ASSERT_TRUE(world.ok()) << world.error().message();
    Side side;
    side.world = std::move(*world);
    World& w = *side.world;
    side.manager_a = w.unique("m_a");
    side.manager_b = w.unique("m_b");
    side.app_a = w.unique("app_a");
    side.app_b = w.unique("app_b");
    ASSERT_TRUE(w.add_app(side.app_a, side.manager_a, {collector_app()}));
    ASSERT_TRUE(w.add_app(side.app_b, side.manager_b, {collector_app()}));
    std::string why;
    side.a = w.start_manager(side.manager_a, {}, "broker", &why);
    ASSERT_NE(side.a, nullptr) << why;
    const json before = outcome_of(w, {"start", side.app_a});
    EXPECT_EQ(before.value("flag", -1), 1) << before.dump();
    EXPECT_EQ(before.value("path", ""), "broker") << before.dump();
    sides.push_back(std::move(side));
  }

  // --- the broker dies ---
  ASSERT_TRUE(node.kill());
  for (auto& side : sides) {
    EXPECT_TRUE(side.world->wait_manager_mode(side.manager_a, "fallback", 15s, side.a->pid()))
        << side.label() << ": manager A never noticed the broker was gone";
  }

  for (auto& side : sides) {
    SCOPED_TRACE(side.label());
    World& w = *side.world;
    // dcctl still accepts the command: stored, publish failed, exit 0.
    ToolRun run = w.dcctl({"stop", side.app_a});
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.out.find("stored"), std::string::npos) << run.out;
    const size_t colon = run.out.find(':');
    const std::string prefix = "command ";
    ASSERT_TRUE(run.out.rfind(prefix, 0) == 0 && colon != std::string::npos) << run.out;
    const std::string cmd_id = run.out.substr(prefix.size(), colon - prefix.size());
    const auto rows = w.wait_outcome(cmd_id, 15s);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].flag, CmdFlag::executed) << rows[0].result.value_or("");
    EXPECT_EQ(rows[0].path, DeliveryPath::poll);
    ASSERT_TRUE(rows[0].executed_at.has_value());
    const double latency = seconds_between(rows[0].issued_at, *rows[0].executed_at);
    std::cout << "[ figure ] broker down, " << side.label() << ": issued -> EXECUTED via poll in " << latency
              << " s (poll_interval " << kPollInterval << " s)\n";
    EXPECT_LE(latency, kPollInterval + 1.0);
    EXPECT_EQ(w.app(side.app_a)->status, AppStatus::stopped);

    // Manager B has never run and the broker is down: the command waits in
    // the database, and B runs it when it starts (in fallback mode).
    json report = w.dcctl_json({"start", side.app_b});
    ASSERT_TRUE(report.is_object());
    EXPECT_EQ(report["published"], false) << report.dump();
    EXPECT_EQ(report["stored"], true);
    std::string why;
    side.b = w.start_manager(side.manager_b, {}, "fallback", &why);
    ASSERT_NE(side.b, nullptr) << why;
    const auto b_rows = w.wait_outcome(report.value("cmd_id", ""), 15s);
    ASSERT_EQ(b_rows.size(), 1u);
    EXPECT_EQ(b_rows[0].flag, CmdFlag::executed) << b_rows[0].result.value_or("");
    EXPECT_EQ(b_rows[0].path, DeliveryPath::poll);
    EXPECT_EQ(w.app(side.app_b)->status, AppStatus::running);
  }

  // --- the broker returns ---
  t = Clock::now();
  ASSERT_TRUE(node.start()) << "restarting the private broker failed";
  const auto back = Clock::now();
  std::cout << "[ figure ] private node restart: " << std::chrono::duration<double>(back - t).count() << " s\n";
  for (auto& side : sides) {
    for (auto* m : {side.a, side.b}) {
      EXPECT_TRUE(side.world->wait_manager_mode(m->name, "broker", 30s, m->pid()))
          << side.label() << ": " << m->name << " not back in broker mode within 30 s";
    }
  }
  for (auto& side : sides) {
    // What an operator sees.
    json managers = side.world->dcctl_json({"managers"});
    ASSERT_TRUE(managers.is_array());
    for (const auto& entry : managers) {
      EXPECT_EQ(entry.value("mode", ""), "broker") << entry.dump();
      EXPECT_EQ(entry.value("live", false), true) << entry.dump();
    }
    EXPECT_EQ(managers.size(), 2u);
  }
  std::cout << "[ figure ] all managers back in broker mode "
            << std::chrono::duration<double>(Clock::now() - back).count() << " s after the node was up\n";

  for (auto& side : sides) {
    SCOPED_TRACE(side.label());
    World& w = *side.world;
    json a = outcome_of(w, {"restart", side.app_a});
    EXPECT_EQ(a.value("flag", -1), 1) << a.dump();
    EXPECT_EQ(a.value("path", ""), "broker") << a.dump();
    json b = outcome_of(w, {"stop", side.app_b});
    EXPECT_EQ(b.value("flag", -1), 1) << b.dump();
    EXPECT_EQ(b.value("path", ""), "broker") << b.dump();
    EXPECT_EQ(w.issue_marker_and_wait(side.app_a), CmdFlag::executed);
    EXPECT_EQ(w.issue_marker_and_wait(side.app_b), CmdFlag::executed);

    // Nothing lost, nothing twice: every command has one row, EXECUTED;
    // A started twice (START before the crash, RESTART after), B once.
    for (const auto& app_id : {side.app_a, side.app_b}) {
      std::set<std::string> ids;
      for (const auto& row : w.rows_of_app(app_id)) {
        EXPECT_EQ(row.flag, CmdFlag::executed) << app_id << " " << row.cmd_id;
        EXPECT_TRUE(ids.insert(row.cmd_id).second) << "two rows for " << row.cmd_id;
      }
      EXPECT_EQ(ids.size(), app_id == side.app_a ? 4u : 3u) << app_id;
    }
    EXPECT_EQ(w.witness_lines(side.app_a).size(), 2u);
    EXPECT_EQ(w.witness_lines(side.app_b).size(), 1u);
    EXPECT_EQ(w.queue_count(side.manager_a), std::optional<uint32_t>(0));
    EXPECT_EQ(w.queue_count(side.manager_b), std::optional<uint32_t>(0));
  }
  sides.clear();  // managers and databases go before the node
}

}  // namespace
}  // namespace dc::e2e
