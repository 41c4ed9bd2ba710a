// One AMQP queue (Q or Q.DQ) consumed for the worker, on its own thread and
// connection. Internal to the worker layer; see worker.h for the rules.
//
// The thread owns the connection: deliveries are settled (ack, reject,
// requeue) only on it, so worker threads post settlements through settle()
// and the thread carries them out. A settlement for a delivery of an
// earlier connection (generation) is dropped: the broker has already put
// that message back.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "worker/work_queue.h"
#include "worker/worker.h"

namespace dc::worker {

enum class Settlement {
  ack,      // done: the broker forgets it
  reject,   // dead-letter it (basic.reject, requeue=false -> Q.XQ)
  requeue,  // give it back to its queue to run again
};

// How to send a batch of acks with as few frames as the channel allows:
// one multiple-ack (basic.ack multiple=true) up to `up_to` covers every
// acked tag below the lowest delivery still pending, and the acks above it
// go one by one. `pending` holds the deliveries of the channel not settled
// by this batch (or before); `acks` the tags this batch acks.
struct AckPlan {
  std::optional<uint64_t> up_to;
  std::vector<uint64_t> singles;
};
AckPlan plan_acks(const std::set<uint64_t>& pending, std::vector<uint64_t> acks);

// What every consumer of a worker shares; owned by the worker.
struct ConsumerShared {
  const WorkerOptions* options = nullptr;
  const ActorRegistry* actors = nullptr;
  WorkerMetrics* metrics = nullptr;
  WorkQueue* work = nullptr;
  std::atomic<uint64_t>* settled = nullptr;
};

class QueueConsumer {
 public:
  QueueConsumer(std::string queue, uint16_t prefetch, ConsumerShared shared);
  ~QueueConsumer();
  QueueConsumer(const QueueConsumer&) = delete;
  QueueConsumer& operator=(const QueueConsumer&) = delete;

  void start();
  // Any thread.
  void settle(uint64_t generation, uint64_t tag, Settlement settlement);
  // Any thread: stop taking deliveries (basic.cancel) and give back what is
  // held (delayed messages; deliveries still arriving). Keeps the connection
  // so running messages can still be settled.
  void stop_consuming();
  // Settles what was posted, closes the connection (the broker requeues
  // anything unsettled) and joins the thread.
  void close();

  bool connected() const { return connected_.load(); }
  std::string status() const;
  const std::string& queue() const { return queue_; }

 private:
  struct Held;  // a delayed message waiting for its eta
  struct Posted {
    uint64_t generation;
    uint64_t tag;
    Settlement settlement;
  };
  void run();
  void wake();

  std::string queue_;      // AMQP name: Q or Q.DQ
  std::string canonical_;  // Q
  uint16_t prefetch_;
  ConsumerShared shared_;
  UniqueFd wake_fd_;  // eventfd
  std::thread thread_;
  std::mutex mutex_;  // guards posted_, status_
  std::vector<Posted> posted_;
  std::string status_ = "starting";
  std::atomic<bool> stopping_{false};
  std::atomic<bool> closing_{false};
  std::atomic<bool> connected_{false};
};

}  // namespace dc::worker
