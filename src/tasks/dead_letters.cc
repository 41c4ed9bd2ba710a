#include "tasks/dead_letters.h"

#include <algorithm>

#include "broker/consumer.h"
#include "broker/publisher.h"
#include "tasks/decisions.h"
#include "tasks/enqueue.h"

namespace dc::tasks {
namespace {

// How long to wait for the next dead letter once the queue said it holds more.
constexpr std::chrono::milliseconds kDeliveryWait{2000};

struct Taken {
  uint64_t tag = 0;
  DeadLetter letter;
};

// Takes up to `limit` messages of Q.XQ as unacknowledged deliveries. They go
// back to the queue when `consumer`'s connection closes, unless acked.
Result<std::vector<Taken>> take_dead_letters(broker::Consumer& consumer, uint32_t available, size_t limit,
                                             size_t max_body) {
  std::vector<Taken> taken;
  const size_t want = std::min<size_t>(available, limit);
  while (taken.size() < want) {
    auto next = consumer.next(kDeliveryWait);
    if (!next) return next.error();
    if (!next->has_value()) break;  // another client took some meanwhile
    Taken t;
    t.tag = (*next)->delivery_tag;
    t.letter.body = std::move((*next)->body);
    auto decoded = decode_task_message(t.letter.body, max_body);
    if (decoded) {
      t.letter.message = std::move(*decoded);
    } else {
      t.letter.decode_error = decoded.error().message();
    }
    taken.push_back(std::move(t));
  }
  return taken;
}

struct Opened {
  broker::Consumer consumer;
  uint32_t available = 0;
};

Result<Opened> open_dead_letter_consumer(const broker::ConnectionSettings& settings, const std::string& queue,
                                         size_t limit) {
  if (std::string problem = queue_name_problem(queue); !problem.empty()) {
    return Error(Errc::invalid_argument, problem);
  }
  auto conn = broker::Connection::open(settings);
  if (!conn) return conn.error();
  const std::string xq = dead_letter_queue_name(queue);
  auto info = broker::inspect_queue(*conn, xq);
  if (!info) {
    if (info.error().code() == Errc::not_found) {
      return Error(Errc::not_found, "task queue '" + queue + "' has no dead-letter queue " + xq +
                                        " (no worker or client has declared it yet)");
    }
    return info.error();
  }
  broker::ConsumerOptions options;
  options.queue = xq;
  options.prefetch = static_cast<uint16_t>(std::clamp<size_t>(std::min<size_t>(info->message_count, limit), 1, 65535));
  auto consumer = broker::Consumer::start(std::move(*conn), options);
  if (!consumer) return consumer.error();
  return Opened{std::move(*consumer), info->message_count};
}

}  // namespace

std::string DeadLetter::traceback() const {
  if (!message) return {};
  auto it = message->options.find("traceback");
  return it != message->options.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t DeadLetter::retries() const { return message ? option_ms(message->options, "retries").value_or(0) : 0; }

Result<std::vector<DeadLetter>> list_dead_letters(const broker::ConnectionSettings& settings, const std::string& queue,
                                                  size_t limit, size_t max_body) {
  if (limit == 0) return std::vector<DeadLetter>();
  auto opened = open_dead_letter_consumer(settings, queue, limit);
  if (!opened) return opened.error();
  auto taken = take_dead_letters(opened->consumer, opened->available, limit, max_body);
  if (!taken) return taken.error();
  std::vector<DeadLetter> letters;
  for (Taken& t : *taken) letters.push_back(std::move(t.letter));
  // Closing the connection (Consumer's destructor) returns every one of them.
  return letters;
}

TaskMessage requeued_copy(TaskMessage message) {
  message.queue_name = canonical_queue_name(message.queue_name);
  message.options.erase("eta");
  message.options.erase("retries");
  return message;
}

Result<RequeueReport> requeue_dead_letters(const broker::ConnectionSettings& settings, const std::string& queue,
                                           const std::string& message_id, const TaskQueueOptions& queue_options,
                                           size_t max_body) {
  auto opened = open_dead_letter_consumer(settings, queue, SIZE_MAX);
  if (!opened) return opened.error();
  auto taken = take_dead_letters(opened->consumer, opened->available, 65535, max_body);
  if (!taken) return taken.error();

  RequeueReport report;
  std::vector<const Taken*> chosen;
  for (const Taken& t : *taken) {
    if (!message_id.empty() && (!t.letter.message || t.letter.message->message_id != message_id)) continue;
    if (!t.letter.message) {
      ++report.undecodable;
      continue;
    }
    chosen.push_back(&t);
  }
  if (!message_id.empty() && chosen.empty()) {
    return Error(Errc::not_found, "no dead letter of task queue '" + queue + "' has message id " + message_id);
  }
  if (chosen.empty()) return report;

  auto enqueuer = TaskEnqueuer::connect(settings, queue_options);
  if (!enqueuer) return enqueuer.error();
  std::vector<TaskMessage> copies;
  for (const Taken* t : chosen) copies.push_back(requeued_copy(*t->letter.message));
  const std::vector<Status> published = enqueuer->publish_batch(copies);
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (!published[i]) {
      ++report.failed;
      continue;
    }
    if (Status st = opened->consumer.ack(chosen[i]->tag); !st) return st.error();
    ++report.requeued;
  }
  // Make sure the acks reached the broker before the connection closes: a
  // synchronous request on the same channel comes back only after them.
  (void)broker::inspect_queue(opened->consumer.connection(), dead_letter_queue_name(queue));
  return report;
}

Result<uint32_t> purge_dead_letters(const broker::ConnectionSettings& settings, const std::string& queue) {
  if (std::string problem = queue_name_problem(queue); !problem.empty()) {
    return Error(Errc::invalid_argument, problem);
  }
  auto conn = broker::Connection::open(settings);
  if (!conn) return conn.error();
  return broker::purge_queue(*conn, dead_letter_queue_name(queue));
}

}  // namespace dc::tasks
