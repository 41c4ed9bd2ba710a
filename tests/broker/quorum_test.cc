// The command topology with rabbit_queue_type = quorum, against the real
// broker (a quorum queue works on a single node too; the cluster scenarios
// of tests/chaos take nodes away): both queues are quorum queues, poison
// still lands in the dead-letter queue with its reason, and redeliveries
// caused by consumers that went away are not counted as poison.
#include <gtest/gtest.h>

#include "broker_test_util.h"

namespace dc::broker {
namespace {

using namespace std::chrono_literals;
using test::lines_with;
using test::rabbitmqctl;

class Quorum : public ::testing::Test {
 protected:
  void SetUp() override {
    DC_REQUIRE_RABBIT();
    topo_.exchange = test::unique_name("dc-qq-ex");
    topo_.queue = test::unique_name("dc-qq-q");
    topo_.queue_type = QueueType::quorum;
  }
  void TearDown() override {
    if (!topo_.queue.empty()) test::delete_topology(topo_);
  }

  void declare() {
    auto conn = Connection::open(test::test_settings());
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    auto st = declare_command_topology(*conn, topo_);
    ASSERT_TRUE(st.ok()) << st.error().message();
  }

  void publish(const std::string& body, const std::string& message_id) {
    auto conn = Connection::open(test::test_settings());
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    auto pub = Publisher::create(std::move(*conn));
    ASSERT_TRUE(pub.ok()) << pub.error().message();
    OutgoingMessage m;
    m.exchange = topo_.exchange;
    m.routing_key = topo_.queue;
    m.body = body;
    m.message_id = message_id;
    const PublishResult r = pub->publish(m);
    ASSERT_TRUE(r.confirmed()) << r.detail;
  }

  Consumer consumer(const std::string& queue) {
    auto conn = Connection::open(test::test_settings());
    EXPECT_TRUE(conn.ok()) << conn.error().message();
    auto c = Consumer::start(std::move(*conn), {queue, 1, ""});
    EXPECT_TRUE(c.ok()) << c.error().message();
    return std::move(*c);
  }

  CommandTopology topo_;
};

TEST_F(Quorum, ManagerAndDeadLetterQueuesAreBothQuorumWithSafeDeadLettering) {
  declare();
  const std::string queues = rabbitmqctl("list_queues name type arguments");
  auto q = lines_with(queues, {topo_.queue + "\tquorum"});
  ASSERT_EQ(q.size(), 1u) << queues;
  EXPECT_NE(q[0].find(topo_.dead_letter_exchange()), std::string::npos) << q[0];
  EXPECT_NE(q[0].find("at-least-once"), std::string::npos) << q[0];
  EXPECT_NE(q[0].find("reject-publish"), std::string::npos) << q[0];
  EXPECT_NE(q[0].find("x-delivery-limit"), std::string::npos) << q[0];
  // A classic dead-letter queue lives on one node: with that node down,
  // poison would have nowhere to go.
  EXPECT_EQ(lines_with(queues, {topo_.dead_letter_queue() + "\tquorum"}).size(), 1u) << queues;
}

TEST_F(Quorum, ExchangesOnlyDeclarationAgreesWithTheFullTopology) {
  // dcctl declares only the exchanges and the dead-letter queue before a
  // broadcast with no known manager queue; a manager declares everything
  // afterwards. Both must describe the same dead-letter queue.
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  auto st = declare_command_exchanges(*conn, topo_.exchange, QueueType::quorum);
  ASSERT_TRUE(st.ok()) << st.error().message();
  st = declare_command_topology(*conn, topo_);
  ASSERT_TRUE(st.ok()) << st.error().message();
}

TEST_F(Quorum, PoisonLandsInTheDeadLetterQueueWithItsReason) {
  declare();
  const std::string id = random_uuid();
  publish("not json", id);
  {
    Consumer c = consumer(topo_.queue);
    auto d = c.next(10s);
    ASSERT_TRUE(d.ok() && d->has_value());
    ASSERT_TRUE(c.reject((*d)->delivery_tag, /*requeue=*/false).ok());
  }
  Consumer dead = consumer(topo_.dead_letter_queue());
  auto d = dead.next(10s);
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_TRUE(d->has_value()) << "nothing in " << topo_.dead_letter_queue();
  EXPECT_EQ((*d)->body, "not json");
  EXPECT_EQ((*d)->message_id, id);
  EXPECT_EQ((*d)->header("x-first-death-reason"), "rejected");
  EXPECT_EQ((*d)->header("x-first-death-queue"), topo_.queue);
}

TEST_F(Quorum, RedeliveriesAfterConsumersWentAwayAreNotPoison) {
  declare();
  const std::string id = random_uuid();
  publish(R"({"app_id":"a1","command":4})", id);
  // More crashes with the message in hand than RabbitMQ 4's default
  // delivery limit (20): each one adds to its delivery count.
  constexpr int kCrashes = 25;
  for (int i = 0; i < kCrashes; ++i) {
    Consumer c = consumer(topo_.queue);
    auto d = c.next(10s);
    ASSERT_TRUE(d.ok() && d->has_value()) << "delivery " << i << " missing";
    EXPECT_EQ((*d)->message_id, id);
    EXPECT_EQ((*d)->redelivered, i > 0);
  }  // closed without ack, as a killed manager would
  Consumer c = consumer(topo_.queue);
  auto d = c.next(10s);
  ASSERT_TRUE(d.ok() && d->has_value()) << "the message was dropped or dead-lettered after " << kCrashes
                                        << " redeliveries";
  EXPECT_EQ((*d)->header("x-delivery-count"), std::to_string(kCrashes));
  ASSERT_TRUE(c.ack((*d)->delivery_tag).ok());

  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok());
  auto dead = queue_message_count(*conn, topo_.dead_letter_queue());
  ASSERT_TRUE(dead.ok()) << dead.error().message();
  EXPECT_EQ(*dead, 0u) << "a redelivered command was dead-lettered";
}

}  // namespace
}  // namespace dc::broker
