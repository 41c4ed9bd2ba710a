// The queues of one task queue Q, declared exactly as Dramatiq's
// RabbitmqBroker declares them (SPEC §9), so either side may declare first
// without a 406 PRECONDITION_FAILED:
//
//   Q      durable, x-dead-letter-exchange = "", x-dead-letter-routing-key = "Q.XQ"
//   Q.DQ   durable, the same arguments (a message rejected there dead-letters to Q.XQ too)
//   Q.XQ   durable, x-message-ttl = 604800000 (7 days; RabbitMQ expires dead letters head first)
//   with a priority queue (task_max_priority N > 0) Q and Q.DQ also carry x-max-priority = N,
//   like Dramatiq's RabbitmqBroker(max_priority=N).
//
// Messages are published on the default exchange "" with the queue's name as
// routing key, so there is nothing to bind.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "broker/connection.h"
#include "broker/topology.h"

namespace dc::tasks {

struct TaskQueueOptions {
  // x-max-priority of Q and Q.DQ; 0 = not a priority queue. Every client of
  // a queue must agree (Dramatiq: RabbitmqBroker(max_priority=...)).
  int max_priority = 0;
  // x-message-ttl of Q.XQ (Dramatiq: dramatiq_dead_message_ttl).
  int64_t dead_message_ttl_ms = 604'800'000;
};

// The x-arguments of Q (and Q.DQ) and of Q.XQ for canonical queue `queue`.
std::vector<broker::QueueArgument> work_queue_arguments(std::string_view queue, const TaskQueueOptions& options);
std::vector<broker::QueueArgument> dead_letter_queue_arguments(const TaskQueueOptions& options);

// Declares Q, Q.DQ and Q.XQ for canonical queue name `queue` (idempotent).
// Errors: invalid_argument for a name queue_name_problem() refuses, conflict
// (406) when a queue exists with other arguments, and the connection errors.
Status declare_task_queues(broker::Connection& conn, std::string_view queue, const TaskQueueOptions& options);

// Ready messages in Q, Q.DQ and Q.XQ, and consumers of Q and Q.DQ, by
// passive declares (nothing is created). AMQP counts only messages waiting
// in a queue: a delayed message a worker holds until its eta is delivered
// and unacknowledged, so it is not in `delayed`. Errc::not_found when a
// queue does not exist (the connection stays usable).
struct TaskQueueCounts {
  std::string queue;
  uint32_t ready = 0;
  uint32_t delayed = 0;
  uint32_t dead = 0;
  uint32_t consumers = 0;        // of Q
  uint32_t delay_consumers = 0;  // of Q.DQ
};
Result<TaskQueueCounts> task_queue_counts(broker::Connection& conn, std::string_view queue);

}  // namespace dc::tasks
