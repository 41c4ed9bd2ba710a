// The task layer against the real broker, with a pika peer playing
// Dramatiq: queue declarations agree in both orders, what TaskEnqueuer
// publishes is what a Dramatiq worker reads, dead letters can be listed,
// requeued and purged, and a broker that is down or dies mid-enqueue gives
// a clear error and never a half-sent message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "broker/consumer.h"
#include "broker/private_node.h"
#include "task_test_util.h"
#include "tasks/dead_letters.h"
#include "tasks/decisions.h"
#include "tasks/enqueue.h"

namespace dc::tasks {
namespace {

using ::testing::HasSubstr;
using namespace test;

class TaskBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DC_REQUIRE_RABBIT();
    queue_ = unique_name("tq");
  }
  void TearDown() override {
    if (!queue_.empty()) delete_task_queues(queue_);
  }
  std::string queue_;
};

TEST_F(TaskBrokerTest, DramatiqDeclaresFirstThenDc) {
  DC_REQUIRE_PIKA();
  std::string out;
  ASSERT_EQ(peer("declare", queue_, &out), 0) << out;
  auto conn = broker::Connection::open(test_settings());
  ASSERT_TRUE(conn.ok());
  Status st = declare_task_queues(*conn, queue_, {});
  EXPECT_TRUE(st.ok()) << st.error().message();
}

TEST_F(TaskBrokerTest, DcDeclaresFirstThenDramatiqWithPriority) {
  DC_REQUIRE_PIKA();
  auto conn = broker::Connection::open(test_settings());
  ASSERT_TRUE(conn.ok());
  TaskQueueOptions options;
  options.max_priority = 10;
  ASSERT_TRUE(declare_task_queues(*conn, queue_, options).ok());
  std::string out;
  EXPECT_EQ(peer("declare", queue_ + " 10", &out), 0) << "Dramatiq with max_priority=10 must agree: " << out;
  EXPECT_EQ(peer("declare", queue_, &out), 3) << "without max_priority Dramatiq's declaration differs: " << out;
  // And ours refuses a mismatch with a clear conflict.
  Status mismatch = declare_task_queues(*conn, queue_, {});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code(), Errc::conflict);
  EXPECT_THAT(mismatch.error().message(), HasSubstr("task_max_priority"));
}

TEST_F(TaskBrokerTest, EnqueuedMessagesAreWhatDramatiqReads) {
  DC_REQUIRE_PIKA();
  auto enqueuer = TaskEnqueuer::connect(test_settings());
  ASSERT_TRUE(enqueuer.ok()) << enqueuer.error().message();
  auto sent = enqueuer->enqueue(make_task_message(queue_, "add", Json::array({1, "é", nullptr}),
                                                  Json{{"k", Json::array({true})}}, Json{{"max_retries", 3}}));
  ASSERT_TRUE(sent.ok()) << sent.error().message();
  std::string out;
  ASSERT_EQ(peer("receive", queue_ + " 1 5", &out), 0) << out;
  Json got = peer_json(out);
  ASSERT_TRUE(got.is_array() && got.size() == 1) << out;
  const Json& body = got[0]["body"];
  EXPECT_EQ(body["queue_name"], queue_);
  EXPECT_EQ(body["actor_name"], "add");
  EXPECT_EQ(body["args"], Json::parse(R"([1,"é",null])"));
  EXPECT_EQ(body["kwargs"], Json::parse(R"({"k":[true]})"));
  EXPECT_EQ(body["options"], Json::parse(R"({"max_retries":3})"));
  EXPECT_EQ(body["message_id"], sent->message_id);
  EXPECT_EQ(body["message_timestamp"], sent->message_timestamp);
  EXPECT_EQ(got[0]["routing_key"], queue_);
}

TEST_F(TaskBrokerTest, DelayedEnqueueGoesToTheDelayQueueWithEta) {
  DC_REQUIRE_PIKA();
  auto enqueuer = TaskEnqueuer::connect(test_settings());
  ASSERT_TRUE(enqueuer.ok());
  const int64_t before = to_unix_micros(now()) / 1000;
  EnqueueOptions delay;
  delay.delay_ms = 2000;
  auto sent = enqueuer->enqueue(make_task_message(queue_, "later"), delay);
  ASSERT_TRUE(sent.ok()) << sent.error().message();
  EXPECT_EQ(sent->queue_name, delay_queue_name(queue_));
  std::string out;
  ASSERT_EQ(peer("receive", delay_queue_name(queue_) + " 1 5", &out), 0) << out;
  Json got = peer_json(out);
  ASSERT_EQ(got.size(), 1u) << out;
  EXPECT_EQ(got[0]["body"]["queue_name"], delay_queue_name(queue_));
  const int64_t eta = got[0]["body"]["options"]["eta"].get<int64_t>();
  EXPECT_GE(eta, before + 2000);
  EXPECT_LE(eta, before + 3000);
}

TEST_F(TaskBrokerTest, BrokerPriorityTravelsAsAmqpPriority) {
  DC_REQUIRE_PIKA();
  TaskQueueOptions options;
  options.max_priority = 10;
  auto enqueuer = TaskEnqueuer::connect(test_settings(), options);
  ASSERT_TRUE(enqueuer.ok());
  ASSERT_TRUE(
      enqueuer->enqueue(make_task_message(queue_, "low", Json::array(), Json::object(), Json{{"broker_priority", 1}}))
          .ok());
  ASSERT_TRUE(
      enqueuer->enqueue(make_task_message(queue_, "high", Json::array(), Json::object(), Json{{"broker_priority", 9}}))
          .ok());
  std::string out;
  ASSERT_EQ(peer("receive", queue_ + " 2 5", &out), 0) << out;
  Json got = peer_json(out);
  ASSERT_EQ(got.size(), 2u) << out;
  EXPECT_EQ(got[0]["body"]["actor_name"], "high") << "the priority queue delivers 9 before 1";
  EXPECT_EQ(got[0]["priority"], 9);
  EXPECT_EQ(got[1]["priority"], 1);
}

// Publishes `count` messages straight into Q.XQ (as RabbitMQ's
// dead-lettering would put them there), with retries and a traceback.
std::vector<TaskMessage> fill_dead_letters(const std::string& queue, int count) {
  auto enqueuer = TaskEnqueuer::connect(test_settings());
  EXPECT_TRUE(enqueuer.ok());
  std::vector<TaskMessage> sent;
  for (int i = 0; i < count; ++i) {
    TaskMessage m =
        make_task_message(dead_letter_queue_name(queue), "broken", Json::array({i}), Json::object(),
                          Json{{"retries", 3}, {"traceback", "Traceback\nValueError: " + std::to_string(i)}});
    EXPECT_TRUE(enqueuer->ensure_queues(queue).ok());
    auto results = enqueuer->publish_batch(std::span<const TaskMessage>(&m, 1));
    EXPECT_TRUE(results.front().ok());
    sent.push_back(m);
  }
  return sent;
}

TEST_F(TaskBrokerTest, DeadLettersListWithoutRemovingThem) {
  auto sent = fill_dead_letters(queue_, 3);
  auto letters = list_dead_letters(test_settings(), queue_, 10);
  ASSERT_TRUE(letters.ok()) << letters.error().message();
  ASSERT_EQ(letters->size(), 3u);
  EXPECT_EQ((*letters)[0].message->message_id, sent[0].message_id) << "oldest first";
  EXPECT_EQ((*letters)[2].traceback(), "Traceback\nValueError: 2");
  EXPECT_EQ((*letters)[1].retries(), 3);
  EXPECT_TRUE(wait_until([&] { return counts(queue_).dead == 3; }, std::chrono::seconds(5)))
      << "listing gives every message back";
  auto limited = list_dead_letters(test_settings(), queue_, 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size(), 2u);
}

TEST_F(TaskBrokerTest, DeadLettersRequeueOneOrAllAndPurge) {
  auto sent = fill_dead_letters(queue_, 3);
  auto one = requeue_dead_letters(test_settings(), queue_, sent[1].message_id);
  ASSERT_TRUE(one.ok()) << one.error().message();
  EXPECT_EQ(one->requeued, 1u);
  EXPECT_TRUE(
      wait_until([&] { return counts(queue_).dead == 2 && counts(queue_).ready == 1; }, std::chrono::seconds(5)));
  auto conn = broker::Connection::open(test_settings());
  ASSERT_TRUE(conn.ok());
  broker::ConsumerOptions consume;
  consume.queue = queue_;
  auto consumer = broker::Consumer::start(std::move(*conn), consume);
  ASSERT_TRUE(consumer.ok());
  auto delivery = consumer->next(std::chrono::seconds(5));
  ASSERT_TRUE(delivery.ok() && delivery->has_value());
  auto requeued = decode_task_message((*delivery)->body);
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(requeued->message_id, sent[1].message_id);
  EXPECT_EQ(requeued->queue_name, queue_) << "back on Q, not Q.XQ";
  EXPECT_FALSE(requeued->options.contains("retries")) << "a fresh set of retries";
  ASSERT_TRUE(consumer->ack((*delivery)->delivery_tag).ok());

  auto missing = requeue_dead_letters(test_settings(), queue_, "no-such-id");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::not_found);

  auto all = requeue_dead_letters(test_settings(), queue_, "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->requeued, 2u);
  fill_dead_letters(queue_, 2);
  auto purged = purge_dead_letters(test_settings(), queue_);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 2u);
  EXPECT_EQ(counts(queue_).dead, 0u);
}

TEST(TaskBrokerDownTest, EnqueueFailsAtOnceWithAClearError) {
  broker::ConnectionSettings settings;
  settings.endpoints = {{"127.0.0.1", 1}};  // nothing listens on port 1
  settings.connect_timeout = std::chrono::milliseconds(2000);
  const auto started = std::chrono::steady_clock::now();
  auto enqueuer = TaskEnqueuer::connect(settings);
  ASSERT_FALSE(enqueuer.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << "refused, not timed out";
  EXPECT_EQ(enqueuer.error().code(), Errc::unavailable);
  EXPECT_THAT(enqueuer.error().message(), HasSubstr("no database fallback for tasks"));
}

// The broker is SIGKILLed while a stream of confirmed enqueues runs: each
// enqueue either returned success (and the message survives the restart)
// or failed with Errc::unavailable; nothing in the queue is a partial or
// undecodable message.
TEST(TaskBrokerKillTest, BrokerKilledDuringEnqueue) {
  DC_REQUIRE_RABBIT();
  broker::test::PrivateNode node(dc::test::private_broker_port(8));
  std::string out;
  ASSERT_EQ(node.run("start", &out), 0) << out;
  broker::ConnectionSettings settings = node.settings();
  const std::string queue = "tq-kill";
  std::set<std::string> confirmed;
  std::vector<std::string> errors;
  std::atomic<int> attempts{0};
  std::thread sender([&] {
    auto enqueuer = TaskEnqueuer::connect(settings);
    if (!enqueuer.ok()) return;
    for (int i = 0; i < 100000; ++i) {
      auto sent = enqueuer->enqueue(make_task_message(queue, "a", Json::array({i, std::string(2000, 'x')})));
      ++attempts;
      if (!sent.ok()) {
        errors.push_back(sent.error().message());
        EXPECT_EQ(sent.error().code(), Errc::unavailable) << sent.error().message();
        break;
      }
      confirmed.insert(sent->message_id);
    }
  });
  ASSERT_TRUE(wait_until([&] { return attempts.load() >= 200; }, std::chrono::seconds(20)));
  ASSERT_EQ(node.run("kill", &out), 0) << out;
  sender.join();
  ASSERT_EQ(errors.size(), 1u) << "the enqueue in flight must fail, not hang";
  EXPECT_THAT(errors[0], ::testing::AnyOf(HasSubstr("may or may not be queued"), HasSubstr("no database fallback")));
  // A new enqueue fails at once, clearly.
  auto down = TaskEnqueuer::connect(settings);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code(), Errc::unavailable);

  ASSERT_EQ(node.run("start", &out), 0) << out;
  auto conn = broker::Connection::open(settings);
  ASSERT_TRUE(conn.ok());
  broker::ConsumerOptions consume;
  consume.queue = queue;
  consume.prefetch = 500;
  auto consumer = broker::Consumer::start(std::move(*conn), consume);
  ASSERT_TRUE(consumer.ok()) << consumer.error().message();
  std::set<std::string> stored;
  for (;;) {
    auto d = consumer->next(std::chrono::milliseconds(1000));
    ASSERT_TRUE(d.ok());
    if (!d->has_value()) break;
    auto m = decode_task_message((*d)->body);
    ASSERT_TRUE(m.ok()) << "a stored message is whole: " << m.error().message();
    stored.insert(m->message_id);
    ASSERT_TRUE(consumer->ack((*d)->delivery_tag).ok());
  }
  for (const std::string& id : confirmed) EXPECT_TRUE(stored.contains(id)) << "confirmed " << id << " was lost";
  EXPECT_LE(stored.size(), confirmed.size() + 1) << "at most the one in flight beyond the confirmed ones";
}

}  // namespace
}  // namespace dc::tasks
