#include "tasks/topology.h"

#include "tasks/message.h"

namespace dc::tasks {

std::vector<broker::QueueArgument> work_queue_arguments(std::string_view queue, const TaskQueueOptions& options) {
  std::vector<broker::QueueArgument> arguments = {
      {"x-dead-letter-exchange", std::string()},
      {"x-dead-letter-routing-key", dead_letter_queue_name(queue)},
  };
  if (options.max_priority > 0) arguments.push_back({"x-max-priority", int64_t{options.max_priority}});
  return arguments;
}

std::vector<broker::QueueArgument> dead_letter_queue_arguments(const TaskQueueOptions& options) {
  return {{"x-message-ttl", options.dead_message_ttl_ms}};
}

Status declare_task_queues(broker::Connection& conn, std::string_view queue, const TaskQueueOptions& options) {
  if (std::string problem = queue_name_problem(queue); !problem.empty()) {
    return Error(Errc::invalid_argument, problem);
  }
  const auto work = work_queue_arguments(queue, options);
  if (auto q = broker::declare_durable_queue(conn, queue, work); !q) return q.error();
  if (auto dq = broker::declare_durable_queue(conn, delay_queue_name(queue), work); !dq) return dq.error();
  const auto dead = dead_letter_queue_arguments(options);
  if (auto xq = broker::declare_durable_queue(conn, dead_letter_queue_name(queue), dead); !xq) return xq.error();
  return ok_status();
}

Result<TaskQueueCounts> task_queue_counts(broker::Connection& conn, std::string_view queue) {
  TaskQueueCounts counts;
  counts.queue = std::string(queue);
  auto q = broker::inspect_queue(conn, queue);
  if (!q) return q.error();
  auto dq = broker::inspect_queue(conn, delay_queue_name(queue));
  if (!dq) return dq.error();
  auto xq = broker::inspect_queue(conn, dead_letter_queue_name(queue));
  if (!xq) return xq.error();
  counts.ready = q->message_count;
  counts.consumers = q->consumer_count;
  counts.delayed = dq->message_count;
  counts.delay_consumers = dq->consumer_count;
  counts.dead = xq->message_count;
  return counts;
}

}  // namespace dc::tasks
