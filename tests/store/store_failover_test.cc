// The store against a PostgreSQL primary with a synchronous standby
// (scripts/postgres-ha.sh), through the multi-host URL an operator gives
// dc: a command committed before the primary dies is on the standby, and
// once the standby is promoted the same Store object reconnects to it by
// itself. A private pair on ports derived from DC_PG_PORT (+40, +80) or
// DC_TEST_PG_HA_PORTS, started and stopped by the test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/ids.h"
#include "store/store.h"
#include "support/services.h"
#include "test_database.h"

namespace dc::test {
namespace {

using namespace std::chrono_literals;

class PostgresPair {
 public:
  PostgresPair() {
    const int base = env("DC_PG_PORT") ? std::stoi(*env("DC_PG_PORT")) : 55432;
    ports_ = env("DC_TEST_PG_HA_PORTS").value_or(std::to_string(base + 40) + "," + std::to_string(base + 80));
  }
  ~PostgresPair() { (void)run("stop"); }
  PostgresPair(const PostgresPair&) = delete;
  PostgresPair& operator=(const PostgresPair&) = delete;

  // Runs scripts/postgres-ha.sh ARGS; its output in `out`.
  int run(const std::string& args, std::string* out = nullptr) {
    const std::string services = env("DC_SERVICES_DIR").value_or(std::string(DC_REPO_ROOT) + "/build/services");
    return run_shell("DC_PG_HA_PORTS=" + ports_ + " DC_SERVICES_DIR='" + services + "-failover' '" DC_REPO_ROOT +
                         std::string("/scripts/postgres-ha.sh' ") + args + " 2>&1",
                     out);
  }
  std::string url(const std::string& db) const {
    const std::string first = ports_.substr(0, ports_.find(','));
    const std::string second = ports_.substr(ports_.find(',') + 1);
    return "postgresql://postgres@127.0.0.1:" + first + ",127.0.0.1:" + second + "/" + db +
           "?target_session_attrs=read-write&connect_timeout=3";
  }

 private:
  std::string ports_;
};

Command enable(const std::string& app_id) {
  Command c;
  c.id = random_uuid();
  c.app_id = app_id;
  c.name = CmdName::enable;
  c.issued_by = "failover-test";
  c.issued_at = now();
  return c;
}

TEST(StoreFailover, CommittedCommandsSurviveAndTheStoreFollowsThePromotedStandby) {
  if (::access("/usr/lib/postgresql/15/bin/postgres", X_OK) != 0) {
    if (services_required()) FAIL() << "PostgreSQL 15 binaries missing";
    GTEST_SKIP() << "no PostgreSQL binaries: run scripts/install-deps.sh";
  }
  PostgresPair pair;
  std::string out;
  (void)pair.run("stop");
  ASSERT_EQ(pair.run("start", &out), 0) << out;
  ASSERT_OK_AND_ASSIGN(auto store, Store::open(pair.url("dc")));
  App app;
  app.app_id = "failover-" + random_uuid().substr(0, 8);
  app.manager = "m-" + app.app_id;  // the pair's data outlives a run
  app.exec = {"/bin/true"};
  ASSERT_OK(store->add_app(app));
  const Command before = enable(app.app_id);
  ASSERT_OK(store->record_command(before));

  ASSERT_EQ(pair.run("kill-primary", &out), 0) << out;
  // The primary is gone: the store says so, as a retryable error.
  auto during = store->get_command(before.id);
  ASSERT_FALSE(during.ok()) << "read from a dead primary";
  EXPECT_TRUE(during.error().retryable()) << during.error().message();

  ASSERT_EQ(pair.run("promote", &out), 0) << out;
  // The same Store reconnects, to the only host that accepts writes now.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  Result<std::vector<CommandRecord>> rows = Error(Errc::unavailable, "not tried");
  while (std::chrono::steady_clock::now() < deadline) {
    rows = store->get_command(before.id);
    if (rows.ok()) break;
    ASSERT_TRUE(rows.error().retryable()) << rows.error().message();
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(rows.ok()) << rows.error().message();
  ASSERT_EQ(rows->size(), 1u) << "the command committed before the loss is missing on the new primary";
  const Command after = enable(app.app_id);
  ASSERT_OK(store->record_command(after));
  ASSERT_OK_AND_ASSIGN(auto pending, store->pending_for_manager(app.manager));
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].cmd_id, before.id);
  EXPECT_EQ(pending[1].cmd_id, after.id);
}

}  // namespace
}  // namespace dc::test
