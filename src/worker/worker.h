// The task worker (SPEC §9): Dramatiq's worker, in C++, on the same wire.
//
// For each queue Q it serves, one consumer thread consumes Q and another
// Q.DQ, each on its own connection (prefetch: worker_prefetch, default
// 2 x threads, for Q; min(1000 x threads, 65535) for Q.DQ, as Dramatiq).
// A consumer decodes each delivery on arrival:
//   - not a task message            -> rejected (dead-lettered to Q.XQ), logged, counted
//   - options.eta in the future     -> held in memory until then, then a copy without
//                                      eta is published on Q (confirmed) and the held
//                                      delivery acked
//   - no actor of that name         -> rejected (dead-lettered), logged with the reason
//   - otherwise                     -> handed to the worker threads (lower actor priority first)
// A worker thread runs one message at a time:
//   - AgeLimit: older than max_age  -> rejected (dead-lettered), as Dramatiq
//   - run the actor within time_limit
//   - success: options.pipe_target  -> the next step is published (confirmed), then ack
//   - failure with retries left     -> the retry is published on Q.DQ (confirmed), then ack
//   - failure, retries exhausted    -> rejected without requeue: RabbitMQ moves it to Q.XQ
// A delivery is acked only after its outcome is settled (its follow-up
// message confirmed by the broker): at-least-once, nothing lost when the
// worker dies at any point; a message may run again after a crash.
//
// Broker trouble: a consumer whose connection fails drops what it held
// (RabbitMQ redelivers every unacknowledged message) and reconnects with
// capped exponential backoff and jitter. A publish that fails is retried on
// a fresh connection a few times; if it still fails, the delivery is
// returned to its queue (requeue) to be run again.
//
// Thread safety: start() and shutdown() from one controlling thread;
// healthy() and metrics() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "broker/connection.h"
#include "tasks/topology.h"
#include "worker/actor.h"
#include "worker/metrics.h"

namespace dc::worker {

struct WorkerOptions {
  broker::ConnectionSettings connection;
  std::vector<std::string> queues;  // canonical names; empty = every queue an actor names
  int threads = 8;
  int prefetch = 0;  // deliveries in flight on each Q; 0 = 2 x threads
  std::chrono::milliseconds shutdown_timeout{600'000};
  tasks::TaskQueueOptions queue_options;
  size_t max_body = tasks::kDefaultMaxTaskBody;
  // Reconnect backoff: min_reconnect * 2^attempt, capped, with jitter.
  std::chrono::milliseconds min_reconnect{500};
  std::chrono::milliseconds max_reconnect{10'000};
  // How often a held delayed message's eta is checked at most (also the
  // longest a due message waits past its eta while the consumer is idle).
  std::chrono::milliseconds delay_tick{50};
};

class Worker {
 public:
  // Starts the consumer and worker threads. Consumers connect in the
  // background (a broker that is down is retried, not an error). Errors:
  // invalid_argument when there is no actor, a queue name is invalid, or
  // nothing would be consumed.
  static Result<std::unique_ptr<Worker>> start(WorkerOptions options, ActorRegistry actors);

  ~Worker();  // shutdown() with the configured timeout if not done yet
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Graceful stop: stops consuming, returns messages not started to their
  // queues, lets running attempts finish up to `timeout`, then cancels the
  // rest (exec actors are killed; their messages go back to the queue) and
  // closes every connection. Returns false when some function actor ignored
  // the cancellation for a further 10 s (its thread is abandoned).
  bool shutdown(std::chrono::milliseconds timeout);
  bool shutdown() { return shutdown(options_.shutdown_timeout); }

  // True when every consumer is connected and consuming.
  bool healthy() const;
  // "queue orders: consuming; queue orders.DQ: reconnecting (...)".
  std::string describe_consumers() const;
  // The canonical queues served.
  const std::vector<std::string>& queues() const { return options_.queues; }
  WorkerMetrics& metrics() { return *metrics_; }

  // Messages whose outcome has been settled (acked or rejected) since start.
  uint64_t settled_count() const;

 private:
  struct State;
  Worker(WorkerOptions options, std::unique_ptr<WorkerMetrics> metrics);

  WorkerOptions options_;
  std::unique_ptr<WorkerMetrics> metrics_;
  std::unique_ptr<State> state_;
  bool stopped_ = false;
};

}  // namespace dc::worker
