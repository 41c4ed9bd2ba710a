// Enqueueing task messages the way Dramatiq's RabbitmqBroker.enqueue does,
// with the delivery guarantees Dramatiq leaves optional turned on:
//
//   - the queue's Q, Q.DQ and Q.XQ are declared first (once per queue name
//     per TaskEnqueuer), exactly as Dramatiq declares them (topology.h);
//   - the body is published on the default exchange "" with routing key Q
//     (or Q.DQ with options.eta when delayed), delivery_mode 2, `mandatory`
//     set, AMQP priority = options.broker_priority when present, AMQP
//     message_id = the task's message_id;
//   - enqueue returns only once the broker confirmed the message (publisher
//     confirms), so a success means the message is on disk in its queue.
//
// There is no database fallback for tasks (SPEC §9): with the broker down,
// connect() and enqueue() fail at once with Errc::unavailable, and the
// caller decides. A failed enqueue never leaves a partial message behind:
// the broker takes a message whole or not at all; after an `unavailable`
// outcome whose detail says "may or may not be queued", sending again may
// produce a duplicate (same message_id), never a half message.
//
// Not thread safe: one TaskEnqueuer per thread (each owns a connection).
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "broker/connection.h"
#include "broker/publisher.h"
#include "tasks/message.h"
#include "tasks/topology.h"

namespace dc::tasks {

// A new message for `actor` on canonical queue `queue`, with a random UUID
// and the current time, as actor.message_with_options(...) makes one.
TaskMessage make_task_message(std::string queue, std::string actor, Json args = Json::array(),
                              Json kwargs = Json::object(), Json options = Json::object());

struct EnqueueOptions {
  // Dramatiq's enqueue(message, delay=...): publish to Q.DQ with
  // options.eta = now + delay. Empty: publish to the message's queue.
  std::optional<int64_t> delay_ms;
};

class TaskEnqueuer {
 public:
  // Opens a publishing connection. Errors: unavailable (broker down or
  // unreachable; the message says tasks have no fallback), auth,
  // access_refused.
  static Result<TaskEnqueuer> connect(const broker::ConnectionSettings& settings, TaskQueueOptions queue_options = {},
                                      broker::PublisherOptions publisher_options = {});

  TaskEnqueuer(TaskEnqueuer&&) noexcept;
  TaskEnqueuer& operator=(TaskEnqueuer&&) noexcept;
  ~TaskEnqueuer();

  // Enqueues `message` (after applying options.delay_ms) and waits for the
  // broker's confirm. Returns the message as published (queue_name Q.DQ and
  // options.eta when delayed). Errors: invalid_argument (bad queue name or
  // message), conflict (queues declared elsewhere with other arguments),
  // not_found (returned unroutable: the queue vanished), unavailable
  // (connection lost, broker refused or did not confirm in time: the message
  // may or may not be queued; the error says which).
  Result<TaskMessage> enqueue(TaskMessage message, const EnqueueOptions& options = {});

  // Publishes already prepared messages (each on its own queue_name, which
  // may be a .DQ name) in one pipelined batch and waits for every confirm.
  // One result per message, in order.
  std::vector<Status> publish_batch(std::span<const TaskMessage> messages);

  // Declares Q, Q.DQ and Q.XQ for canonical `queue` unless this enqueuer
  // already did.
  Status ensure_queues(const std::string& queue);

  // False once the connection is dead: destroy and connect again.
  bool usable() const;

 private:
  TaskEnqueuer(broker::Publisher publisher, TaskQueueOptions options);

  broker::Publisher publisher_;
  TaskQueueOptions queue_options_;
  std::set<std::string, std::less<>> declared_;
};

// The AMQP message Dramatiq's enqueue publishes for `message` (body,
// routing key = its queue_name, persistent, mandatory, priority).
broker::OutgoingMessage to_outgoing(const TaskMessage& message);

}  // namespace dc::tasks
