// Dramatiq's task rules as pure functions (tasks/decisions.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tasks/decisions.h"

namespace dc::tasks {
namespace {

using ::testing::HasSubstr;

TaskMessage message(Json options = Json::object()) {
  TaskMessage m;
  m.queue_name = "q";
  m.actor_name = "a";
  m.args = Json::array({1});
  m.options = std::move(options);
  m.message_id = "id-1";
  m.message_timestamp = 1'000'000;
  return m;
}

TEST(EffectiveOptionsTest, DramatiqDefaults) {
  EffectiveOptions e = effective_options(message(), {});
  EXPECT_EQ(e.retries, 0);
  EXPECT_EQ(e.max_retries, 20);
  EXPECT_EQ(e.min_backoff, 15'000);
  EXPECT_EQ(e.max_backoff, 604'800'000);
  EXPECT_EQ(e.time_limit, 600'000);
  EXPECT_FALSE(e.max_age.has_value());
}

TEST(EffectiveOptionsTest, MessageOptionsWinOverTheActor) {
  ActorOptions actor{5, 100, 1000, 2000, 3000, false};
  EffectiveOptions from_actor = effective_options(message(), actor);
  EXPECT_EQ(from_actor.max_retries, 5);
  EXPECT_EQ(from_actor.min_backoff, 100);
  EXPECT_EQ(from_actor.max_backoff, 1000);
  EXPECT_EQ(from_actor.time_limit, 2000);
  EXPECT_EQ(from_actor.max_age, 3000);
  EffectiveOptions e = effective_options(
      message({{"retries", 2}, {"max_retries", 0}, {"min_backoff", 10}, {"time_limit", 50}, {"max_age", 60}}), actor);
  EXPECT_EQ(e.retries, 2);
  EXPECT_EQ(e.max_retries, 0) << "an explicit 0 in the message counts (Retries uses options.get(k, default))";
  EXPECT_EQ(e.min_backoff, 10);
  EXPECT_EQ(e.max_backoff, 1000);
  EXPECT_EQ(e.time_limit, 50);
  EXPECT_EQ(e.max_age, 60);
}

TEST(EffectiveOptionsTest, ZeroTimeLimitAndAgeFallBackAsDramatiqsOr) {
  ActorOptions actor;
  actor.time_limit = 2000;
  EffectiveOptions e = effective_options(message({{"time_limit", 0}, {"max_age", 0}}), actor);
  EXPECT_EQ(e.time_limit, 2000);
  EXPECT_FALSE(e.max_age.has_value());
  EXPECT_EQ(effective_options(message({{"max_retries", nullptr}}), {}).max_retries, 20) << "null counts as absent";
}

TEST(BackoffTest, MatchesComputeBackoff) {
  // compute_backoff(attempts, factor=min_backoff, max_backoff) with jitter:
  // b = min(factor * 2**attempts, max); then b/2 + uniform(0, b/2).
  EXPECT_EQ(compute_backoff(0, 15'000, 604'800'000, 0.0), 7'500);
  EXPECT_EQ(compute_backoff(0, 15'000, 604'800'000, 0.999999), 14'999);
  EXPECT_EQ(compute_backoff(1, 15'000, 604'800'000, 0.0), 15'000);
  EXPECT_EQ(compute_backoff(3, 100, 604'800'000, 0.5), 600);
  EXPECT_EQ(compute_backoff(10, 100, 1000, 0.0), 500) << "capped by max_backoff";
  EXPECT_EQ(compute_backoff(100, 100, 604'800'000, 1.0), 604'800'000) << "exponent capped at 32";
  EXPECT_EQ(compute_backoff(40, 1'000'000'000'000, 604'800'000, 1.0), 604'800'000) << "no overflow";
  for (double u = 0; u < 1; u += 0.1) {
    const int64_t d = compute_backoff(2, 1000, 604'800'000, u);
    EXPECT_GE(d, 2000);
    EXPECT_LE(d, 4000);
  }
}

TEST(FailureTest, RetryGoesThroughTheDelayQueueWithRetriesTracebackAndEta) {
  TaskMessage m = message({{"max_retries", 3}, {"min_backoff", 100}});
  const EffectiveOptions e = effective_options(m, {});
  FailureDecision d = decide_failure(m, e, "Traceback: boom\n", 5'000'000, 0.0);
  ASSERT_EQ(d.kind, FailureDecision::Kind::retry);
  EXPECT_EQ(d.delay_ms, 50);
  EXPECT_EQ(d.message.queue_name, "q.DQ");
  EXPECT_EQ(d.message.message_id, "id-1") << "a retry keeps its id";
  EXPECT_EQ(d.message.options["retries"], 1);
  EXPECT_EQ(d.message.options["traceback"], "Traceback: boom\n");
  EXPECT_EQ(d.message.options["requeue_timestamp"], 5'000'000);
  EXPECT_EQ(d.message.options["eta"], 5'000'050);
  EXPECT_THAT(encode_task_message(d.message),
              HasSubstr(R"("options":{"max_retries":3,"min_backoff":100,"retries":1,"traceback":"Traceback: boom\n",)"
                        R"("requeue_timestamp":5000000,"eta":5000050})"))
      << "new options append in Dramatiq's order";
}

TEST(FailureTest, SecondRetryBacksOffFurther) {
  TaskMessage m = message({{"retries", 2}, {"min_backoff", 100}, {"traceback", "old"}});
  FailureDecision d = decide_failure(m, effective_options(m, {}), "new", 0, 0.0);
  ASSERT_EQ(d.kind, FailureDecision::Kind::retry);
  EXPECT_EQ(d.delay_ms, 200);
  EXPECT_EQ(d.message.options["retries"], 3);
  EXPECT_EQ(d.message.options["traceback"], "new");
}

TEST(FailureTest, ExhaustedRetriesDeadLetter) {
  TaskMessage m = message({{"retries", 3}, {"max_retries", 3}});
  EXPECT_EQ(decide_failure(m, effective_options(m, {}), "x", 0, 0.5).kind, FailureDecision::Kind::dead_letter);
  TaskMessage zero = message({{"max_retries", 0}});
  EXPECT_EQ(decide_failure(zero, effective_options(zero, {}), "x", 0, 0.5).kind, FailureDecision::Kind::dead_letter);
}

TEST(FailureTest, TracebackKeepsTheTail) {
  std::string long_trace;
  for (int i = 0; i < 2000; ++i) long_trace += "line " + std::to_string(i) + "\n";
  TaskMessage m = message();
  FailureDecision d = decide_failure(m, effective_options(m, {}), long_trace, 0, 0);
  const std::string kept = d.message.options["traceback"].get<std::string>();
  EXPECT_LE(kept.size(), kMaxTracebackBytes);
  EXPECT_THAT(kept, HasSubstr("line 1999\n"));
  EXPECT_EQ(kept.rfind("line ", 0), 0u) << "starts at a line";
}

TEST(AgeLimitTest, SkipsOldMessages) {
  TaskMessage m = message({{"max_age", 1000}});
  const EffectiveOptions e = effective_options(m, {});
  EXPECT_FALSE(age_exceeded(m, e, 1'000'999));
  EXPECT_TRUE(age_exceeded(m, e, 1'001'000));
  EXPECT_FALSE(age_exceeded(message(), effective_options(message(), {}), INT64_MAX / 2)) << "no max_age, no limit";
}

TEST(DelayTest, DelayedAndDueCopies) {
  TaskMessage m = message({{"x", 1}});
  TaskMessage delayed = delayed_copy(m, 2000, 10'000);
  EXPECT_EQ(delayed.queue_name, "q.DQ");
  EXPECT_EQ(delayed.options["eta"], 12'000);
  EXPECT_EQ(eta_ms(delayed), 12'000);
  TaskMessage due = due_copy(delayed);
  EXPECT_EQ(due.queue_name, "q");
  EXPECT_FALSE(due.options.contains("eta"));
  EXPECT_EQ(due.options, m.options);
  EXPECT_FALSE(eta_ms(due).has_value());
}

TEST(PipelineTest, ResultIsAppendedToTheNextArgs) {
  TaskMessage next = message();
  next.actor_name = "b";
  next.message_id = "id-2";
  TaskMessage m = message({{"pipe_target", task_message_to_json(next)}});
  auto step = next_pipeline_step(m, Json(42), false);
  ASSERT_TRUE(step.ok());
  ASSERT_TRUE(step->has_value());
  EXPECT_EQ((*step)->message.actor_name, "b");
  EXPECT_EQ((*step)->message.message_id, "id-2");
  EXPECT_EQ((*step)->message.args, Json::parse("[1, 42]"));
  EXPECT_FALSE((*step)->delay_ms.has_value());
}

TEST(PipelineTest, PipeIgnoreFromTargetOrActorAndDelay) {
  TaskMessage next = message({{"pipe_ignore", true}, {"delay", 500}});
  TaskMessage m = message({{"pipe_target", task_message_to_json(next)}});
  auto step = next_pipeline_step(m, Json("r"), false);
  ASSERT_TRUE(step.ok() && step->has_value());
  EXPECT_EQ((*step)->message.args, Json::parse("[1]"));
  EXPECT_EQ((*step)->delay_ms, 500);
  TaskMessage plain = message({{"pipe_target", task_message_to_json(message())}});
  auto ignored = next_pipeline_step(plain, Json("r"), /*actor_pipe_ignore=*/true);
  ASSERT_TRUE(ignored.ok() && ignored->has_value());
  EXPECT_EQ((*ignored)->message.args, Json::parse("[1]"));
  auto none = next_pipeline_step(message(), Json("r"), false);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto null_result = next_pipeline_step(plain, nullptr, false);
  ASSERT_TRUE(null_result.ok() && null_result->has_value());
  EXPECT_EQ((*null_result)->message.args, Json::parse("[1, null]")) << "None is appended, as in Dramatiq";
}

}  // namespace
}  // namespace dc::tasks
