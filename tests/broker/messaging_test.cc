// Publisher and Consumer against the real broker: properties end to end,
// confirms, returns, dead-lettering, and a queue deleted under a consumer.
#include <gtest/gtest.h>

#include <set>

#include "base/time.h"
#include "broker_test_util.h"

namespace dc::broker {
namespace {

using namespace std::chrono_literals;

class Messaging : public ::testing::Test {
 protected:
  void SetUp() override {
    DC_REQUIRE_RABBIT();
    topo_.exchange = test::unique_name("dc-msg-ex");
    topo_.queue = test::unique_name("dc-msg-q");
    auto conn = Connection::open(test::test_settings());
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    auto st = declare_command_topology(*conn, topo_);
    ASSERT_TRUE(st.ok()) << st.error().message();
    auto pub = Publisher::create(std::move(*conn));
    ASSERT_TRUE(pub.ok()) << pub.error().message();
    publisher_.emplace(std::move(*pub));
  }
  void TearDown() override {
    publisher_.reset();
    if (!topo_.queue.empty()) test::delete_topology(topo_);
  }

  Consumer start_consumer(const std::string& queue, uint16_t prefetch = 1) {
    auto conn = Connection::open(test::test_settings());
    EXPECT_TRUE(conn.ok()) << conn.error().message();
    auto consumer = Consumer::start(std::move(*conn), {queue, prefetch, ""});
    EXPECT_TRUE(consumer.ok()) << consumer.error().message();
    return std::move(*consumer);
  }

  OutgoingMessage message(std::string body, std::string routing_key = "") {
    OutgoingMessage m;
    m.exchange = topo_.exchange;
    m.routing_key = routing_key.empty() ? topo_.queue : routing_key;
    m.body = std::move(body);
    return m;
  }

  CommandTopology topo_;
  std::optional<Publisher> publisher_;
};

TEST_F(Messaging, RoundTripKeepsBodyAndEveryProperty) {
  OutgoingMessage m = message(R"({"app_id":"a1","command":1})");
  m.message_id = random_uuid();
  m.timestamp = *parse_iso8601("2025-01-15T10:30:00Z");
  m.headers = {{"x-dc-signature", "sha256=abc123"}, {"x-other", "v"}};
  const PublishResult r = publisher_->publish(m);
  ASSERT_EQ(r.outcome, PublishOutcome::confirmed) << r.detail;
  EXPECT_EQ(r.message_id, m.message_id);

  Consumer consumer = start_consumer(topo_.queue);
  auto d = consumer.next(5s);
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_TRUE(d->has_value());
  const Delivery& got = **d;
  EXPECT_EQ(got.body, m.body);
  EXPECT_EQ(got.message_id, m.message_id);
  EXPECT_EQ(got.content_type, "application/json");
  EXPECT_EQ(got.delivery_mode, 2);
  EXPECT_EQ(got.timestamp, m.timestamp);
  EXPECT_EQ(got.header("x-dc-signature"), "sha256=abc123");
  EXPECT_EQ(got.header("x-other"), "v");
  EXPECT_EQ(got.header("missing"), std::nullopt);
  EXPECT_EQ(got.exchange, topo_.exchange);
  EXPECT_EQ(got.routing_key, topo_.queue);
  EXPECT_FALSE(got.redelivered);
  EXPECT_GT(got.delivery_tag, 0u);
  ASSERT_TRUE(consumer.ack(got.delivery_tag).ok());

  auto none = consumer.next(200ms);
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_FALSE(none->has_value());
}

TEST_F(Messaging, EmptyMessageIdGetsAUuidAndTimestampDefaultsToNow) {
  const TimePoint before = now();
  const PublishResult r = publisher_->publish(message("{}"));
  ASSERT_TRUE(r.confirmed()) << r.detail;
  EXPECT_TRUE(is_uuid(r.message_id)) << r.message_id;
  Consumer consumer = start_consumer(topo_.queue);
  auto d = consumer.next(5s);
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->message_id, r.message_id);
  ASSERT_TRUE((*d)->timestamp.has_value());
  EXPECT_GE(*(*d)->timestamp, std::chrono::floor<std::chrono::seconds>(before));
  EXPECT_LE(*(*d)->timestamp, now());
}

TEST_F(Messaging, BatchOfThousandIsConfirmedAndArrivesInOrder) {
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(message(std::to_string(i), i % 2 ? "all" : ""));
  PublisherOptions small_window;
  small_window.max_in_flight = 64;  // force many window refills
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok());
  auto pub = Publisher::create(std::move(*conn), small_window);
  ASSERT_TRUE(pub.ok());
  const auto results = pub->publish_batch(batch);
  ASSERT_EQ(results.size(), batch.size());
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_EQ(r.outcome, PublishOutcome::confirmed) << r.detail;
    ids.insert(r.message_id);
  }
  EXPECT_EQ(ids.size(), 1000u);
  auto count = queue_message_count(pub->connection(), topo_.queue);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1000u);

  Consumer consumer = start_consumer(topo_.queue, 50);
  for (int i = 0; i < 1000; ++i) {
    auto d = consumer.next(5s);
    ASSERT_TRUE(d.ok()) << d.error().message();
    ASSERT_TRUE(d->has_value()) << "message " << i << " missing";
    ASSERT_EQ((*d)->body, std::to_string(i));
    ASSERT_TRUE(consumer.ack((*d)->delivery_tag).ok());
  }
}

TEST_F(Messaging, UnroutableMandatoryMessageIsReturnedOthersInBatchConfirmed) {
  std::vector<OutgoingMessage> batch = {message("routed-1"), message("lost", "nobody-is-bound-to-this"),
                                        message("routed-2")};
  const auto results = publisher_->publish_batch(batch);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].outcome, PublishOutcome::confirmed) << results[0].detail;
  EXPECT_EQ(results[1].outcome, PublishOutcome::returned) << results[1].detail;
  EXPECT_NE(results[1].detail.find("NO_ROUTE"), std::string::npos) << results[1].detail;
  EXPECT_NE(results[1].detail.find("nobody-is-bound-to-this"), std::string::npos) << results[1].detail;
  EXPECT_EQ(results[2].outcome, PublishOutcome::confirmed) << results[2].detail;
  // The publisher carries on.
  EXPECT_TRUE(publisher_->publish(message("after")).confirmed());
}

TEST_F(Messaging, MissingExchangeIsUnknownAndThePublisherRecovers) {
  OutgoingMessage m = message("x");
  m.exchange = test::unique_name("dc-no-such-exchange");
  const PublishResult r = publisher_->publish(m);
  EXPECT_EQ(r.outcome, PublishOutcome::unknown);
  EXPECT_NE(r.detail.find("NOT_FOUND"), std::string::npos) << r.detail;
  EXPECT_TRUE(publisher_->usable());
  const PublishResult ok = publisher_->publish(message("y"));
  EXPECT_EQ(ok.outcome, PublishOutcome::confirmed) << ok.detail;
}

TEST_F(Messaging, RejectedMessageLandsInTheDeadLetterQueue) {
  OutgoingMessage m = message("not json at all");
  m.message_id = random_uuid();
  ASSERT_TRUE(publisher_->publish(m).confirmed());
  {
    Consumer consumer = start_consumer(topo_.queue);
    auto d = consumer.next(5s);
    ASSERT_TRUE(d.ok() && d->has_value());
    ASSERT_TRUE(consumer.reject((*d)->delivery_tag, /*requeue=*/false).ok());
    auto none = consumer.next(300ms);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value()) << "rejected message came back";
  }
  Consumer dead = start_consumer(topo_.dead_letter_queue());
  auto d = dead.next(5s);
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_TRUE(d->has_value()) << "nothing in " << topo_.dead_letter_queue();
  EXPECT_EQ((*d)->body, "not json at all");
  EXPECT_EQ((*d)->message_id, m.message_id);
  EXPECT_EQ((*d)->exchange, topo_.dead_letter_exchange());
  EXPECT_TRUE(dead.ack((*d)->delivery_tag).ok());
}

TEST_F(Messaging, UnackedDeliveryIsRedeliveredAfterConsumerGoesAway) {
  ASSERT_TRUE(publisher_->publish(message("again")).confirmed());
  {
    Consumer first = start_consumer(topo_.queue);
    auto d = first.next(5s);
    ASSERT_TRUE(d.ok() && d->has_value());
    EXPECT_FALSE((*d)->redelivered);
  }  // closed without ack
  Consumer second = start_consumer(topo_.queue);
  auto d = second.next(5s);
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->body, "again");
  EXPECT_TRUE((*d)->redelivered);
}

TEST_F(Messaging, PrefetchBoundsUnackedDeliveries) {
  std::vector<OutgoingMessage> batch(5, message("p"));
  for (const auto& r : publisher_->publish_batch(batch)) ASSERT_TRUE(r.confirmed());
  Consumer consumer = start_consumer(topo_.queue, 2);
  auto a = consumer.next(5s);
  auto b = consumer.next(5s);
  ASSERT_TRUE(a.ok() && a->has_value() && b.ok() && b->has_value());
  auto c = consumer.next(500ms);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value()) << "a third delivery arrived with prefetch 2";
  ASSERT_TRUE(consumer.ack((*a)->delivery_tag).ok());
  c = consumer.next(5s);
  ASSERT_TRUE(c.ok() && c->has_value());
}

TEST_F(Messaging, QueueDeletedUnderConsumerEndsIt) {
  Consumer consumer = start_consumer(topo_.queue);
  auto idle = consumer.next(100ms);
  ASSERT_TRUE(idle.ok());
  ASSERT_TRUE(delete_queue(publisher_->connection(), topo_.queue).ok());
  auto d = consumer.next(5s);
  ASSERT_FALSE(d.ok()) << "next() did not notice the queue was deleted";
  EXPECT_EQ(d.error().code(), Errc::unavailable) << d.error().message();
  EXPECT_NE(d.error().message().find(topo_.queue), std::string::npos) << d.error().message();
  // The consumer stays ended.
  auto again = consumer.next(0ms);
  EXPECT_FALSE(again.ok());
}

TEST_F(Messaging, ConsumingMissingQueueIsNotFound) {
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok());
  auto consumer = Consumer::start(std::move(*conn), {test::unique_name("dc-missing-q"), 1, ""});
  ASSERT_FALSE(consumer.ok());
  EXPECT_EQ(consumer.error().code(), Errc::not_found) << consumer.error().message();
}

TEST_F(Messaging, CancelStopsNewDeliveries) {
  Consumer consumer = start_consumer(topo_.queue);
  ASSERT_TRUE(consumer.cancel().ok());
  ASSERT_TRUE(publisher_->publish(message("after-cancel")).confirmed());
  auto d = consumer.next(500ms);
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_FALSE(d->has_value());
  auto count = queue_message_count(publisher_->connection(), topo_.queue);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1u);
}

}  // namespace
}  // namespace dc::broker
