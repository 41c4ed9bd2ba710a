// Dramatiq's task semantics as pure functions: which option value applies,
// the retry backoff, what a failure or a success leads to, and the copies a
// message goes through on its way through a delay queue. No I/O, no clock,
// no randomness: the caller passes `now_ms` and a uniform random number, so
// every rule is tested exhaustively without a broker (tests/tasks).
//
// The rules follow Dramatiq's middleware (Retries, AgeLimit, TimeLimit,
// Pipelines) and its RabbitMQ broker's enqueue; docs/TASKS.md lists each and
// where dc-worker differs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tasks/message.h"

namespace dc::tasks {

// Dramatiq's defaults (Retries, TimeLimit middleware; RabbitMQ broker).
inline constexpr int64_t kDefaultMaxRetries = 20;
inline constexpr int64_t kDefaultMinBackoffMs = 15'000;
inline constexpr int64_t kDefaultMaxBackoffMs = 604'800'000;  // 7 days; also the cap for any max_backoff
inline constexpr int64_t kDefaultTimeLimitMs = 600'000;
inline constexpr int64_t kDeadMessageTtlMs = 604'800'000;  // x-message-ttl of Q.XQ
inline constexpr int kMaxBackoffExponent = 32;
// options.traceback keeps at most this much of the actor's stderr (the tail).
inline constexpr size_t kMaxTracebackBytes = 8192;

// An actor's own settings (the [actors.NAME] table, or a C++ registration).
// Unset fields fall back to Dramatiq's defaults.
struct ActorOptions {
  std::optional<int64_t> max_retries;
  std::optional<int64_t> min_backoff;  // ms
  std::optional<int64_t> max_backoff;  // ms
  std::optional<int64_t> time_limit;   // ms
  std::optional<int64_t> max_age;      // ms
  bool pipe_ignore = false;
  friend bool operator==(const ActorOptions&, const ActorOptions&) = default;
};

// The values that apply to one message of one actor. Message options win
// over the actor's, as in Dramatiq: max_retries, min_backoff and
// max_backoff whenever the message has them (0 included); time_limit and
// max_age only when non-zero (Dramatiq reads them with `or`).
struct EffectiveOptions {
  int64_t retries = 0;  // attempts that failed before this one
  int64_t max_retries = kDefaultMaxRetries;
  int64_t min_backoff = kDefaultMinBackoffMs;
  int64_t max_backoff = kDefaultMaxBackoffMs;
  int64_t time_limit = kDefaultTimeLimitMs;
  std::optional<int64_t> max_age;  // nullopt: no age limit
};
EffectiveOptions effective_options(const TaskMessage& message, const ActorOptions& actor);

// A numeric option in ms (or a count), or nullopt when absent or null.
// Floats are truncated; values beyond int64 saturate.
std::optional<int64_t> option_ms(const Json& options, std::string_view key);

// Dramatiq's compute_backoff(attempts, factor, max_backoff, jitter=True):
// b = min(factor * 2^min(attempts, 32), max_backoff), then b/2 + uniform*b/2,
// truncated. `uniform01` in [0, 1). Never overflows.
int64_t compute_backoff(int64_t attempts, int64_t factor, int64_t max_backoff, double uniform01);

// AgeLimit: true when the message is at least max_age old (Dramatiq skips it
// and, since it also fails it, dead-letters it).
bool age_exceeded(const TaskMessage& message, const EffectiveOptions& options, int64_t now_ms);

// The copy enqueue(message, delay=delay_ms) publishes: queue_name = Q.DQ and
// options.eta = now + delay (appended if new, as dict.update does).
TaskMessage delayed_copy(TaskMessage message, int64_t delay_ms, int64_t now_ms);

// The copy a worker publishes when a delayed message is due: queue_name = Q
// (canonical) and no options.eta.
TaskMessage due_copy(TaskMessage message);

// options.eta in ms since the epoch, or nullopt when the message has none.
std::optional<int64_t> eta_ms(const TaskMessage& message);

// What happens after an attempt failed (Retries middleware).
struct FailureDecision {
  enum class Kind {
    retry,        // publish `message` (on Q.DQ, with eta) and then ack the original
    dead_letter,  // reject the original without requeue: RabbitMQ moves it to Q.XQ
  };
  Kind kind = Kind::dead_letter;
  TaskMessage message;   // retry: the message to publish
  int64_t delay_ms = 0;  // retry: the backoff chosen
};
// `traceback`: the failure's description (the actor's stderr tail), cut to
// its last kMaxTracebackBytes. A retry carries options.retries + 1,
// options.traceback and options.requeue_timestamp = now; with retries >=
// max_retries the message is dead-lettered as it arrived (Dramatiq nacks the
// delivered body, so Q.XQ holds the traceback of the attempt before last).
FailureDecision decide_failure(const TaskMessage& message, const EffectiveOptions& options,
                               const std::string& traceback, int64_t now_ms, double uniform01);

// Pipelines: after a success, the next message to enqueue, if
// options.pipe_target names one: the target with `result` appended to its
// args unless its options.pipe_ignore or the current actor's pipe_ignore is
// set. `delay_ms` is set when the target's options carry a "delay" (Dramatiq
// enqueues it with that delay). A target that does not decode is an error
// (invalid_argument), which decode_task_message already excludes.
struct PipelineStep {
  TaskMessage message;
  std::optional<int64_t> delay_ms;
};
Result<std::optional<PipelineStep>> next_pipeline_step(const TaskMessage& message, const Json& result,
                                                       bool actor_pipe_ignore);

// The last `max_bytes` of `text`, starting at a line boundary when one is
// near, for options.traceback.
std::string tail_of(std::string_view text, size_t max_bytes = kMaxTracebackBytes);

}  // namespace dc::tasks
