// Failure of the broker itself, on a private node: a frozen broker detected
// by heartbeats, a broker killed (-9) in the middle of a confirmed batch, and
// durable data surviving the restart. One test case: the node is started once.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>
#include <thread>

#include "broker_test_util.h"
#include "private_node.h"

namespace dc::broker {
namespace {

using namespace std::chrono_literals;

TEST(BrokerFailure, FrozenBrokerKilledBrokerAndRestart) {
  DC_REQUIRE_RABBIT();
  test::PrivateNode node(dc::test::private_broker_port(5));
  std::string out;
  ASSERT_EQ(node.run("start", &out), 0) << out;
  CommandTopology topo{"dc_commands", "dc-restart-q", QueueType::classic};
  {
    auto conn = Connection::open(node.settings());
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    ASSERT_TRUE(declare_command_topology(*conn, topo).ok());
  }

  {
    SCOPED_TRACE("a frozen broker (SIGSTOP) is detected by heartbeat within ~2 intervals");
    ConnectionSettings s = node.settings();
    s.heartbeat = 1s;
    auto conn = Connection::open(s);
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    auto consumer = Consumer::start(std::move(*conn), {topo.queue, 1, ""});
    ASSERT_TRUE(consumer.ok()) << consumer.error().message();
    const int pid = node.pid();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    const auto start = std::chrono::steady_clock::now();
    std::optional<Error> error;
    while (!error && std::chrono::steady_clock::now() - start < 10s) {
      auto d = consumer->next(500ms);
      if (!d.ok()) error = d.error();
    }
    const auto took = std::chrono::steady_clock::now() - start;
    kill(pid, SIGCONT);
    ASSERT_TRUE(error.has_value()) << "frozen broker not detected in 10 s";
    EXPECT_EQ(error->code(), Errc::unavailable) << error->message();
    EXPECT_NE(error->message().find("heartbeat"), std::string::npos) << error->message();
    EXPECT_LT(took, 4s);
    EXPECT_FALSE(consumer->connection().usable());
  }

  std::set<std::string> confirmed_ids;
  {
    SCOPED_TRACE("broker killed mid-batch: outcomes are confirmed or unknown, never invented");
    auto conn = Connection::open(node.settings());
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    auto publisher = Publisher::create(std::move(*conn));
    ASSERT_TRUE(publisher.ok()) << publisher.error().message();
    std::vector<OutgoingMessage> batch(50000);
    for (auto& m : batch) {
      m.exchange = topo.exchange;
      m.routing_key = topo.queue;
      m.body = R"({"app_id":"a","command":1})";
    }
    std::thread killer([&] {
      std::this_thread::sleep_for(300ms);
      std::string kout;
      EXPECT_EQ(node.run("kill", &kout), 0) << kout;
    });
    const auto start = std::chrono::steady_clock::now();
    const auto results = publisher->publish_batch(batch);
    const auto took = std::chrono::steady_clock::now() - start;
    killer.join();
    size_t unknown = 0;
    for (const auto& r : results) {
      ASSERT_TRUE(r.outcome == PublishOutcome::confirmed || r.outcome == PublishOutcome::unknown)
          << to_string(r.outcome) << ": " << r.detail;
      if (r.confirmed()) {
        confirmed_ids.insert(r.message_id);
      } else {
        ++unknown;
        ASSERT_FALSE(r.detail.empty());
      }
    }
    EXPECT_GT(unknown, 0u) << "the kill came after the whole batch; test proves nothing";
    EXPECT_LT(took, 15s);
    EXPECT_FALSE(publisher->usable());
    // The failure is sticky and immediate for the next batch.
    const PublishResult after = publisher->publish(batch.front());
    EXPECT_EQ(after.outcome, PublishOutcome::unknown);
  }

  {
    SCOPED_TRACE("after restart the durable queue holds every confirmed message");
    ASSERT_EQ(node.run("start", &out), 0) << out;
    auto conn = Connection::open(node.settings());
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    auto count = queue_message_count(*conn, topo.queue);
    ASSERT_TRUE(count.ok()) << count.error().message();
    EXPECT_GE(*count, confirmed_ids.size());
    auto consumer = Consumer::start(std::move(*conn), {topo.queue, 1000, ""});
    ASSERT_TRUE(consumer.ok()) << consumer.error().message();
    std::set<std::string> seen;
    for (;;) {
      auto d = consumer->next(1s);
      ASSERT_TRUE(d.ok()) << d.error().message();
      if (!d->has_value()) break;
      seen.insert((*d)->message_id.value_or(""));
      ASSERT_TRUE(consumer->ack((*d)->delivery_tag).ok());
    }
    size_t missing = 0;
    for (const auto& id : confirmed_ids) missing += seen.count(id) == 0 ? 1 : 0;
    EXPECT_EQ(missing, 0u) << "confirmed messages lost across kill -9 and restart";
  }
}

}  // namespace
}  // namespace dc::broker
