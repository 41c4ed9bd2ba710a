#include "tasks/enqueue.h"

#include "base/ids.h"
#include "base/time.h"
#include "tasks/decisions.h"

namespace dc::tasks {
namespace {

Error no_broker(const Error& e) {
  if (e.code() != Errc::unavailable && e.code() != Errc::timeout) return e;
  return Error(Errc::unavailable, e.message() +
                                      "; task messages need the broker (there is no database fallback for tasks): "
                                      "nothing was enqueued, retry when the broker is back");
}

Status outcome_status(const broker::PublishResult& r, const TaskMessage& m) {
  switch (r.outcome) {
    case broker::PublishOutcome::confirmed:
      return ok_status();
    case broker::PublishOutcome::returned:
      return Error(Errc::not_found, "task " + m.message_id + " was not enqueued: queue '" + m.queue_name +
                                        "' does not exist (" + r.detail + ")");
    case broker::PublishOutcome::nacked:
      return Error(Errc::unavailable,
                   "task " + m.message_id + " was refused by the broker (" + r.detail + "); nothing was enqueued");
    case broker::PublishOutcome::unknown:
      break;
  }
  return Error(Errc::unavailable, "task " + m.message_id + " may or may not be queued: " + r.detail +
                                      "; sending it again may duplicate it (same message_id)");
}

}  // namespace

TaskMessage make_task_message(std::string queue, std::string actor, Json args, Json kwargs, Json options) {
  TaskMessage m;
  m.queue_name = std::move(queue);
  m.actor_name = std::move(actor);
  m.args = std::move(args);
  m.kwargs = std::move(kwargs);
  m.options = std::move(options);
  m.message_id = random_uuid();
  m.message_timestamp = to_unix_micros(now()) / 1000;
  return m;
}

broker::OutgoingMessage to_outgoing(const TaskMessage& message) {
  broker::OutgoingMessage out;
  out.exchange = "";
  out.routing_key = message.queue_name;
  out.body = encode_task_message(message);
  out.message_id = message.message_id;
  out.mandatory = true;
  out.persistent = true;
  if (auto it = message.options.find("broker_priority"); it != message.options.end() && it->is_number_integer()) {
    const int64_t p = it->get<int64_t>();
    if (p >= 0 && p <= 255) out.priority = static_cast<uint8_t>(p);
  }
  return out;
}

Result<TaskEnqueuer> TaskEnqueuer::connect(const broker::ConnectionSettings& settings, TaskQueueOptions queue_options,
                                           broker::PublisherOptions publisher_options) {
  auto conn = broker::Connection::open(settings);
  if (!conn) return no_broker(conn.error());
  auto publisher = broker::Publisher::create(std::move(*conn), publisher_options);
  if (!publisher) return no_broker(publisher.error());
  return TaskEnqueuer(std::move(*publisher), queue_options);
}

TaskEnqueuer::TaskEnqueuer(broker::Publisher publisher, TaskQueueOptions options)
    : publisher_(std::move(publisher)), queue_options_(options) {}
TaskEnqueuer::TaskEnqueuer(TaskEnqueuer&&) noexcept = default;
TaskEnqueuer& TaskEnqueuer::operator=(TaskEnqueuer&&) noexcept = default;
TaskEnqueuer::~TaskEnqueuer() = default;

bool TaskEnqueuer::usable() const { return publisher_.usable(); }

Status TaskEnqueuer::ensure_queues(const std::string& queue) {
  if (declared_.contains(queue)) return ok_status();
  if (Status st = declare_task_queues(publisher_.connection(), queue, queue_options_); !st) {
    return no_broker(st.error());
  }
  declared_.insert(queue);
  return ok_status();
}

std::vector<Status> TaskEnqueuer::publish_batch(std::span<const TaskMessage> messages) {
  std::vector<Status> results(messages.size());
  std::vector<broker::OutgoingMessage> outgoing;
  std::vector<size_t> index;  // outgoing[i] is messages[index[i]]
  outgoing.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    const TaskMessage& m = messages[i];
    if (std::string problem = queue_name_problem(canonical_queue_name(m.queue_name)); !problem.empty()) {
      results[i] = Error(Errc::invalid_argument, problem);
      continue;
    }
    if (Status st = ensure_queues(canonical_queue_name(m.queue_name)); !st) {
      results[i] = st.error();
      continue;
    }
    outgoing.push_back(to_outgoing(m));
    index.push_back(i);
  }
  const auto published = publisher_.publish_batch(outgoing);
  for (size_t k = 0; k < published.size(); ++k) {
    Status st = outcome_status(published[k], messages[index[k]]);
    // A queue deleted behind our back is declared again next time.
    if (!st && st.error().code() == Errc::not_found)
      declared_.erase(canonical_queue_name(messages[index[k]].queue_name));
    results[index[k]] = st.ok() ? st : Status(no_broker(st.error()));
  }
  return results;
}

Result<TaskMessage> TaskEnqueuer::enqueue(TaskMessage message, const EnqueueOptions& options) {
  if (options.delay_ms) message = delayed_copy(std::move(message), *options.delay_ms, to_unix_micros(now()) / 1000);
  if (message.message_id.empty()) message.message_id = random_uuid();
  if (message.message_timestamp == 0) message.message_timestamp = to_unix_micros(now()) / 1000;
  Status st = publish_batch(std::span<const TaskMessage>(&message, 1)).front();
  if (!st) return st.error();
  return message;
}

}  // namespace dc::tasks
