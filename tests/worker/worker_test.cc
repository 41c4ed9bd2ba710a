// The Worker in-process against the real broker: Dramatiq's rules end to
// end (retries with backoff into Q.XQ, delays, age and time limits,
// pipelines, unknown actors, hostile bodies, graceful shutdown), with C++
// function actors and, where the rule concerns processes, exec actors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "broker/private_node.h"
#include "broker/publisher.h"
#include "tasks/dead_letters.h"
#include "tasks/decisions.h"
#include "tasks/enqueue.h"
#include "tasks/task_test_util.h"
#include "worker/exec_actor.h"
#include "worker/worker.h"

namespace dc::worker {
namespace {

using tasks::Json;
using tasks::TaskMessage;
using ::testing::HasSubstr;
using namespace tasks::test;
using Clock = std::chrono::steady_clock;

// What function actors saw, thread safe.
struct Journal {
  std::mutex mutex;
  std::vector<TaskMessage> runs;
  std::vector<Clock::time_point> times;
  void add(const TaskMessage& m) {
    std::lock_guard lock(mutex);
    runs.push_back(m);
    times.push_back(Clock::now());
  }
  size_t size() {
    std::lock_guard lock(mutex);
    return runs.size();
  }
  // An actor that records each message it gets and returns null.
  TaskFunction recorder() {
    return [this](const TaskContext& c) -> Result<Json> {
      add(c.message);
      return Json(nullptr);
    };
  }
};

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DC_REQUIRE_RABBIT();
    queue_ = unique_name("wq");
  }
  void TearDown() override {
    if (worker_) worker_->shutdown(std::chrono::seconds(5));
    worker_.reset();
    if (!queue_.empty()) delete_task_queues(queue_);
  }
  WorkerOptions options(int threads = 4) {
    WorkerOptions o;
    o.connection = test_settings();
    o.queues = {queue_};
    o.threads = threads;
    o.shutdown_timeout = std::chrono::seconds(5);
    o.min_reconnect = std::chrono::milliseconds(100);
    return o;
  }
  ActorSpec spec(const std::string& name) {
    ActorSpec s;
    s.name = name;
    s.queue = queue_;
    return s;
  }
  void start(ActorRegistry actors, WorkerOptions o) {
    auto w = Worker::start(std::move(o), std::move(actors));
    ASSERT_TRUE(w.ok()) << w.error().message();
    worker_ = std::move(*w);
    ASSERT_TRUE(wait_until([&] { return worker_->healthy(); }, std::chrono::seconds(10)))
        << worker_->describe_consumers();
  }
  void start(ActorRegistry actors) { start(std::move(actors), options()); }
  TaskMessage send(const std::string& actor, Json args = Json::array(), Json opts = Json::object(),
                   std::optional<int64_t> delay = std::nullopt) {
    auto enqueuer = tasks::TaskEnqueuer::connect(test_settings());
    EXPECT_TRUE(enqueuer.ok());
    tasks::EnqueueOptions eo;
    eo.delay_ms = delay;
    auto sent = enqueuer->enqueue(
        tasks::make_task_message(queue_, actor, std::move(args), Json::object(), std::move(opts)), eo);
    EXPECT_TRUE(sent.ok()) << sent.error().message();
    return *sent;
  }
  std::string queue_;
  std::unique_ptr<Worker> worker_;
};

TEST_F(WorkerTest, RunsAFunctionActorAndAcks) {
  Journal journal;
  ActorRegistry actors;
  ASSERT_TRUE(actors.add_function(spec("record"), journal.recorder()).ok());
  start(std::move(actors));
  for (int i = 0; i < 20; ++i) send("record", Json::array({i}));
  ASSERT_TRUE(wait_until([&] { return journal.size() == 20; }, std::chrono::seconds(10)));
  EXPECT_TRUE(wait_until([&] { return worker_->settled_count() == 20; }, std::chrono::seconds(5)));
  const auto c = counts(queue_);
  EXPECT_EQ(c.ready, 0u);
  EXPECT_EQ(c.dead, 0u);
  const std::string metrics = worker_->metrics().render();
  EXPECT_THAT(metrics, HasSubstr("dramatiq_messages_total{queue_name=\"" + queue_ + "\",actor_name=\"record\"} 20"));
  EXPECT_THAT(metrics, HasSubstr("dramatiq_message_duration_milliseconds_count{queue_name=\"" + queue_ +
                                 "\",actor_name=\"record\"} 20"));
  // dc-worker's /metrics also has the process_* metrics of every Prometheus client.
  EXPECT_THAT(metrics, HasSubstr("\nprocess_cpu_seconds_total "));
  EXPECT_THAT(metrics, HasSubstr("\nprocess_resident_memory_bytes "));
}

TEST_F(WorkerTest, RetriesWithBackoffThenDeadLetterWithRetriesAndTraceback) {
  Journal journal;
  ActorRegistry actors;
  ASSERT_TRUE(actors
                  .add_function(spec("flaky"),
                                [&](const TaskContext& c) -> Result<Json> {
                                  journal.add(c.message);
                                  return Error(Errc::internal, "ValueError: attempt " + std::to_string(c.retries));
                                })
                  .ok());
  start(std::move(actors));
  const TaskMessage sent = send("flaky", Json::array({7}), Json{{"max_retries", 3}, {"min_backoff", 100}});
  ASSERT_TRUE(wait_until([&] { return counts(queue_).dead == 1; }, std::chrono::seconds(15)))
      << journal.size() << " attempts";
  ASSERT_EQ(journal.size(), 4u) << "the first attempt and max_retries=3 retries";
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(journal.runs[i].message_id, sent.message_id);
    EXPECT_EQ(tasks::option_ms(journal.runs[i].options, "retries").value_or(0), static_cast<int64_t>(i));
  }
  // Backoff i: between 100*2^i/2 and 100*2^i ms (plus delivery time).
  for (size_t i = 1; i < 4; ++i) {
    const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(journal.times[i] - journal.times[i - 1]);
    EXPECT_GE(gap.count(), 100 * (1 << (i - 1)) / 2) << "retry " << i;
    EXPECT_LT(gap.count(), 100 * (1 << (i - 1)) + 1500) << "retry " << i;
  }
  auto dead = tasks::list_dead_letters(test_settings(), queue_, 10);
  ASSERT_TRUE(dead.ok()) << dead.error().message();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].message->message_id, sent.message_id);
  EXPECT_EQ((*dead)[0].retries(), 3);
  EXPECT_THAT((*dead)[0].traceback(), HasSubstr("ValueError: attempt 2"))
      << "the delivered body is dead-lettered: the traceback of the attempt before last, as Dramatiq";
  const std::string metrics = worker_->metrics().render();
  EXPECT_THAT(metrics,
              HasSubstr("dramatiq_message_errors_total{queue_name=\"" + queue_ + "\",actor_name=\"flaky\"} 4"));
  EXPECT_THAT(metrics,
              HasSubstr("dramatiq_message_retries_total{queue_name=\"" + queue_ + "\",actor_name=\"flaky\"} 3"));
  EXPECT_THAT(metrics,
              HasSubstr("dramatiq_message_rejects_total{queue_name=\"" + queue_ + "\",actor_name=\"flaky\"} 1"));
}

TEST_F(WorkerTest, DelayOfTwoSecondsIsHonoured) {
  Journal journal;
  ActorRegistry actors;
  ASSERT_TRUE(actors.add_function(spec("later"), journal.recorder()).ok());
  start(std::move(actors));
  const auto sent_at = Clock::now();
  send("later", Json::array(), Json::object(), 2000);
  ASSERT_TRUE(wait_until([&] { return journal.size() == 1; }, std::chrono::seconds(6)));
  const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(journal.times[0] - sent_at);
  EXPECT_GE(after.count(), 2000) << "not before its eta";
  EXPECT_LT(after.count(), 3000) << "not long after it (the check runs every 50 ms; the rest is load)";
  EXPECT_EQ(journal.runs[0].queue_name, queue_) << "run as the copy moved to Q";
  EXPECT_FALSE(journal.runs[0].options.contains("eta"));
  EXPECT_TRUE(
      wait_until([&] { return counts(queue_).delayed == 0 && counts(queue_).ready == 0; }, std::chrono::seconds(3)));
}

TEST_F(WorkerTest, AgeLimitSkipsAndDeadLetters) {
  Journal journal;
  ActorRegistry actors;
  ActorSpec s = spec("old");
  s.options.max_age = 1000;
  ASSERT_TRUE(actors.add_function(s, journal.recorder()).ok());
  start(std::move(actors));
  // An old message (timestamp an hour ago) and a fresh one.
  auto enqueuer = tasks::TaskEnqueuer::connect(test_settings());
  ASSERT_TRUE(enqueuer.ok());
  TaskMessage old = tasks::make_task_message(queue_, "old", Json::array({"old"}));
  old.message_timestamp -= 3'600'000;
  ASSERT_TRUE(enqueuer->enqueue(old).ok());
  send("old", Json::array({"fresh"}));
  ASSERT_TRUE(wait_until([&] { return journal.size() == 1 && counts(queue_).dead == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(journal.runs[0].args[0], "fresh");
}

TEST_F(WorkerTest, TimeLimitKillsAStuckExecActor) {
  ActorRegistry actors;
  ActorSpec s = spec("stuck");
  s.options.time_limit = 500;
  s.options.max_retries = 0;
  ASSERT_TRUE(actors.add(make_exec_actor(s, {"/bin/sleep", "60"}, exec_actor_base_env())).ok());
  start(std::move(actors));
  const auto started = Clock::now();
  send("stuck");
  ASSERT_TRUE(wait_until([&] { return counts(queue_).dead == 1; }, std::chrono::seconds(10)));
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(4));
  EXPECT_THAT(worker_->metrics().render(),
              HasSubstr("dramatiq_message_errors_total{queue_name=\"" + queue_ + "\",actor_name=\"stuck\"} 1"));
}

TEST_F(WorkerTest, TwoStepPipelinePassesTheFirstResult) {
  Journal journal;
  ActorRegistry actors;
  ASSERT_TRUE(
      actors
          .add_function(spec("double"),
                        [](const TaskContext& c) -> Result<Json> { return Json(c.message.args[0].get<int>() * 2); })
          .ok());
  ASSERT_TRUE(actors.add_function(spec("collect"), journal.recorder()).ok());
  start(std::move(actors));
  // dramatiq.pipeline([double.message(21), collect.message("sum")]).run()
  TaskMessage second = tasks::make_task_message(queue_, "collect", Json::array({"sum"}));
  send("double", Json::array({21}), Json{{"pipe_target", tasks::task_message_to_json(second)}});
  ASSERT_TRUE(wait_until([&] { return journal.size() == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(journal.runs[0].message_id, second.message_id);
  EXPECT_EQ(journal.runs[0].args, Json::parse(R"(["sum", 42])"));
}

TEST_F(WorkerTest, HostileBodiesAndUnknownActorsGoToTheDeadLetterQueue) {
  Journal journal;
  ActorRegistry actors;
  ASSERT_TRUE(actors.add_function(spec("ok"), journal.recorder()).ok());
  start(std::move(actors));
  auto conn = broker::Connection::open(test_settings());
  ASSERT_TRUE(conn.ok());
  auto publisher = broker::Publisher::create(std::move(*conn));
  ASSERT_TRUE(publisher.ok());
  const std::vector<std::string> hostile = {
      "not json",
      R"({"queue_name":")" + queue_ + R"(","actor_name":"ok","args":[")" + std::string(10 << 20, 'x') +
          R"("],"kwargs":{},"options":{}})",
      R"({"queue_name":")" + queue_ + R"(","actor_name":"ok","args":{},"kwargs":[],"options":{}})",
      R"({"queue_name":")" + queue_ + R"(","args":[],"kwargs":{},"options":{}})",
      std::string("\x00\xff\xfe", 3),
      std::string(200, '['),
  };
  for (const std::string& body : hostile) {
    broker::OutgoingMessage m;
    m.routing_key = queue_;
    m.body = body;
    ASSERT_TRUE(publisher->publish(m).confirmed());
  }
  send("nobody-knows-me");
  send("ok", Json::array({"after"}));
  ASSERT_TRUE(wait_until([&] { return journal.size() == 1 && counts(queue_).dead == hostile.size() + 1; },
                         std::chrono::seconds(20)))
      << "dead " << counts(queue_).dead;
  EXPECT_EQ(journal.runs[0].args[0], "after") << "the worker kept going";
  EXPECT_TRUE(worker_->healthy());
  EXPECT_THAT(worker_->metrics().render(), HasSubstr("dc_worker_undecodable_messages_total{queue=\"" + queue_ + "\"} " +
                                                     std::to_string(hostile.size())));
}

TEST_F(WorkerTest, ShutdownLetsRunningTasksFinishAndReturnsTheRest) {
  Journal journal;
  ActorRegistry actors;
  ASSERT_TRUE(actors
                  .add_function(spec("slow"),
                                [&](const TaskContext& c) -> Result<Json> {
                                  std::this_thread::sleep_for(std::chrono::milliseconds(500));
                                  journal.add(c.message);
                                  return Json(nullptr);
                                })
                  .ok());
  start(std::move(actors), options(1));
  for (int i = 0; i < 5; ++i) send("slow", Json::array({i}));
  ASSERT_TRUE(wait_until(
      [&] {
        return worker_->metrics().render().find("dramatiq_messages_inprogress{queue_name=\"" + queue_ +
                                                "\",actor_name=\"slow\"} 1") != std::string::npos;
      },
      std::chrono::seconds(5)));
  EXPECT_TRUE(worker_->shutdown(std::chrono::seconds(5)));
  EXPECT_EQ(journal.size(), 1u) << "the running task finished; nothing new started";
  EXPECT_TRUE(wait_until([&] { return counts(queue_).ready == 4; }, std::chrono::seconds(5)))
      << "the other four are back in the queue: " << counts(queue_).ready;
}

}  // namespace
}  // namespace dc::worker

namespace dc::worker {
namespace {

// The broker dies under a running worker and comes back: the worker
// reconnects by itself (capped backoff) and goes on consuming; /healthz's
// view (healthy()) follows.
TEST(WorkerReconnectTest, ResumesAfterTheBrokerRestarts) {
  DC_REQUIRE_RABBIT();
  broker::test::PrivateNode node(dc::test::private_broker_port(9));
  std::string out;
  ASSERT_EQ(node.run("start", &out), 0) << out;
  Journal journal;
  ActorRegistry actors;
  ActorSpec s;
  s.name = "count";
  s.queue = "reconnect_q";
  ASSERT_TRUE(actors.add_function(s, journal.recorder()).ok());
  WorkerOptions o;
  o.connection = node.settings();
  o.threads = 2;
  o.min_reconnect = std::chrono::milliseconds(100);
  o.max_reconnect = std::chrono::milliseconds(1000);
  auto w = Worker::start(o, std::move(actors));
  ASSERT_TRUE(w.ok()) << w.error().message();
  ASSERT_TRUE(wait_until([&] { return (*w)->healthy(); }, std::chrono::seconds(10)));
  // The id of the message sent, or "" when it could not be.
  const auto send = [&]() -> std::string {
    auto enqueuer = tasks::TaskEnqueuer::connect(node.settings());
    if (!enqueuer.ok()) return "";
    auto sent = enqueuer->enqueue(tasks::make_task_message("reconnect_q", "count"));
    return sent.ok() ? sent->message_id : "";
  };
  const auto ran = [&](const std::string& id) {
    std::lock_guard lock(journal.mutex);
    return std::any_of(journal.runs.begin(), journal.runs.end(),
                       [&](const TaskMessage& m) { return m.message_id == id; });
  };
  const std::string first = send();
  ASSERT_FALSE(first.empty());
  ASSERT_TRUE(wait_until([&] { return ran(first); }, std::chrono::seconds(10)));

  ASSERT_EQ(node.run("kill", &out), 0) << out;
  EXPECT_TRUE(wait_until([&] { return !(*w)->healthy(); }, std::chrono::seconds(10))) << "a dead broker is noticed";
  EXPECT_EQ(send(), "") << "no broker, no enqueue";
  ASSERT_EQ(node.run("start", &out), 0) << out;
  EXPECT_TRUE(wait_until([&] { return (*w)->healthy(); }, std::chrono::seconds(20))) << (*w)->describe_consumers();
  // (The first message may run again: killed before its ack reached the
  // disk, it is redelivered. At least once.)
  const std::string second = send();
  ASSERT_FALSE(second.empty());
  EXPECT_TRUE(wait_until([&] { return ran(second); }, std::chrono::seconds(10))) << (*w)->describe_consumers();
  EXPECT_TRUE((*w)->shutdown(std::chrono::seconds(5)));
}

}  // namespace
}  // namespace dc::worker
