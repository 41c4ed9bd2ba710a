// Looking at and acting on a task queue's dead letters (Q.XQ): what `dcctl
// task dead ...` and an HTTP layer call. Dramatiq itself has no such tools;
// these keep its conventions (a requeued message goes back on Q, as if it
// had just been enqueued).
//
// AMQP cannot peek at a queue, so listing takes the dead letters as
// deliveries without acknowledging them and gives them back by closing the
// channel: RabbitMQ returns unacknowledged messages to their queue, in their
// place. While a listing runs, those messages are briefly "unacked" rather
// than "ready". Nothing else consumes Q.XQ in a dc or Dramatiq deployment.
//
// Each call opens its own connection from `settings`; thread safe in that
// sense (no shared state).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "broker/connection.h"
#include "tasks/message.h"
#include "tasks/topology.h"

namespace dc::tasks {

struct DeadLetter {
  std::string body;                    // as stored
  std::optional<TaskMessage> message;  // when the body decodes
  std::string decode_error;            // why not, otherwise
  // Convenience views of message->options (empty when absent).
  std::string traceback() const;
  int64_t retries() const;
};

// Up to `limit` dead letters of canonical queue `queue`, oldest first.
// `max_body` bounds decoding (larger bodies are listed undecoded).
// Errors: not_found (the queue was never declared), the connection errors.
Result<std::vector<DeadLetter>> list_dead_letters(const broker::ConnectionSettings& settings, const std::string& queue,
                                                  size_t limit = 100, size_t max_body = kDefaultMaxTaskBody);

struct RequeueReport {
  size_t requeued = 0;     // published on Q (confirmed) and removed from Q.XQ
  size_t undecodable = 0;  // left in Q.XQ: their bodies are not task messages
  size_t failed = 0;       // left in Q.XQ: publishing to Q was not confirmed
};

// Moves dead letters back to Q: the one whose message_id is `message_id`,
// or every one when `message_id` is empty. Each is republished as a fresh
// attempt (queue_name Q, options.retries and options.eta removed; the last
// traceback stays until a new failure replaces it) and removed from Q.XQ only
// after the broker confirmed the copy: a crash in between leaves a
// duplicate, never a loss. Errors: not_found when `message_id` is given and
// no dead letter has it, or the queue does not exist; connection errors.
Result<RequeueReport> requeue_dead_letters(const broker::ConnectionSettings& settings, const std::string& queue,
                                           const std::string& message_id, const TaskQueueOptions& queue_options = {},
                                           size_t max_body = kDefaultMaxTaskBody);

// The message a requeue publishes for dead letter `message`.
TaskMessage requeued_copy(TaskMessage message);

// Drops every dead letter of `queue` (queue.purge on Q.XQ); returns how many.
Result<uint32_t> purge_dead_letters(const broker::ConnectionSettings& settings, const std::string& queue);

}  // namespace dc::tasks
