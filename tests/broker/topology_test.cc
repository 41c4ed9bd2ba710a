// The SPEC §3 topology as the broker sees it (checked with rabbitmqctl).
#include <gtest/gtest.h>

#include "broker_test_util.h"

namespace dc::broker {
namespace {

using test::lines_with;
using test::rabbitmqctl;

class Topology : public ::testing::Test {
 protected:
  void SetUp() override {
    DC_REQUIRE_RABBIT();
    topo_.exchange = test::unique_name("dc-topo-ex");
    topo_.queue = test::unique_name("dc-topo-q");
  }
  void TearDown() override {
    if (!topo_.queue.empty()) test::delete_topology(topo_);
  }
  CommandTopology topo_;
};

TEST_F(Topology, DeclaresExchangesQueuesAndBothBindings) {
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  ASSERT_TRUE(declare_command_topology(*conn, topo_).ok());

  const std::string exchanges = rabbitmqctl("list_exchanges name type durable");
  EXPECT_EQ(lines_with(exchanges, {topo_.exchange + "\tdirect\ttrue"}).size(), 1u) << exchanges;
  EXPECT_EQ(lines_with(exchanges, {topo_.exchange + ".dlx\tfanout\ttrue"}).size(), 1u) << exchanges;

  const std::string queues = rabbitmqctl("list_queues name durable arguments");
  auto q = lines_with(queues, {topo_.queue + "\ttrue"});
  ASSERT_EQ(q.size(), 1u) << queues;
  EXPECT_NE(q[0].find("x-dead-letter-exchange"), std::string::npos) << q[0];
  EXPECT_NE(q[0].find(topo_.exchange + ".dlx"), std::string::npos) << q[0];
  EXPECT_EQ(q[0].find("x-queue-type"), std::string::npos) << q[0];
  EXPECT_EQ(lines_with(queues, {topo_.exchange + ".dead\ttrue"}).size(), 1u) << queues;

  const std::string bindings = rabbitmqctl("list_bindings source_name destination_name routing_key");
  EXPECT_EQ(lines_with(bindings, {topo_.exchange + "\t" + topo_.queue + "\t" + topo_.queue}).size(), 1u) << bindings;
  EXPECT_EQ(lines_with(bindings, {topo_.exchange + "\t" + topo_.queue + "\tall"}).size(), 1u) << bindings;
  EXPECT_EQ(lines_with(bindings, {topo_.exchange + ".dlx\t" + topo_.exchange + ".dead"}).size(), 1u) << bindings;
}

TEST_F(Topology, DeclaringTwiceIsHarmless) {
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  ASSERT_TRUE(declare_command_topology(*conn, topo_).ok());
  auto again = declare_command_topology(*conn, topo_);
  ASSERT_TRUE(again.ok()) << again.error().message();
  // A second client (a command source) declares the same thing.
  auto other = Connection::open(test::test_settings());
  ASSERT_TRUE(other.ok());
  auto third = declare_command_topology(*other, topo_);
  ASSERT_TRUE(third.ok()) << third.error().message();
  const std::string bindings = rabbitmqctl("list_bindings source_name destination_name routing_key");
  EXPECT_EQ(lines_with(bindings, {topo_.exchange + "\t" + topo_.queue + "\tall"}).size(), 1u) << bindings;
}

TEST_F(Topology, QuorumQueueCarriesItsType) {
  topo_.queue_type = QueueType::quorum;
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  auto st = declare_command_topology(*conn, topo_);
  ASSERT_TRUE(st.ok()) << st.error().message();
  const std::string queues = rabbitmqctl("list_queues name type arguments");
  auto q = lines_with(queues, {topo_.queue + "\tquorum"});
  ASSERT_EQ(q.size(), 1u) << queues;
  EXPECT_NE(q[0].find(topo_.exchange + ".dlx"), std::string::npos) << q[0];
}

TEST_F(Topology, ConflictingDeclarationSaysWhatDiffersAndWhatToDo) {
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  ASSERT_TRUE(declare_command_topology(*conn, topo_).ok());

  CommandTopology quorum = topo_;
  quorum.queue_type = QueueType::quorum;
  auto st = declare_command_topology(*conn, quorum);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::conflict) << st.error().message();
  const std::string& msg = st.error().message();
  EXPECT_NE(msg.find("PRECONDITION_FAILED"), std::string::npos) << msg;
  EXPECT_NE(msg.find("x-queue-type"), std::string::npos) << msg;  // the broker's words
  // The dead-letter queue follows rabbit_queue_type too and is declared first.
  EXPECT_NE(msg.find(topo_.dead_letter_queue()), std::string::npos) << msg;
  EXPECT_NE(msg.find("rabbit_queue_type"), std::string::npos) << msg;  // what to do
  EXPECT_NE(msg.find("delete"), std::string::npos) << msg;

  // A channel-level refusal leaves the connection usable.
  EXPECT_TRUE(conn->usable());
  auto again = declare_command_topology(*conn, topo_);
  EXPECT_TRUE(again.ok()) << again.error().message();
}

TEST_F(Topology, ExchangeOfAnotherTypeIsAConflict) {
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  // Someone declared the exchange name as fanout.
  CommandTopology other{topo_.exchange + ".dlx", topo_.queue, QueueType::classic};
  ASSERT_TRUE(
      declare_command_exchanges(*conn, topo_.exchange + ".dlx", QueueType::classic).ok());  // declares <ex>.dlx direct
  auto st = declare_command_topology(*conn, topo_);                                         // wants <ex>.dlx fanout
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::conflict) << st.error().message();
  EXPECT_NE(st.error().message().find("rabbit_exchange"), std::string::npos) << st.error().message();
  test::delete_topology(other);
}

TEST_F(Topology, MessageCountOfMissingQueueIsNotFound) {
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  auto count = queue_message_count(*conn, topo_.queue);
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.error().code(), Errc::not_found) << count.error().message();
  ASSERT_TRUE(declare_command_topology(*conn, topo_).ok());
  count = queue_message_count(*conn, topo_.queue);
  ASSERT_TRUE(count.ok()) << count.error().message();
  EXPECT_EQ(*count, 0u);
}

TEST(QueueType, Parses) {
  EXPECT_EQ(*parse_queue_type("classic"), QueueType::classic);
  EXPECT_EQ(*parse_queue_type("quorum"), QueueType::quorum);
  auto bad = parse_queue_type("stream");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("rabbit_queue_type"), std::string::npos);
}

}  // namespace
}  // namespace dc::broker
