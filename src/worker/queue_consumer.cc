#include "worker/queue_consumer.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <random>

#include <spdlog/spdlog.h>

#include "base/time.h"
#include "broker/consumer.h"
#include "tasks/decisions.h"
#include "tasks/enqueue.h"

namespace dc::worker {
namespace {

int64_t now_ms() { return to_unix_micros(now()) / 1000; }

}  // namespace

AckPlan plan_acks(const std::set<uint64_t>& pending, std::vector<uint64_t> acks) {
  std::sort(acks.begin(), acks.end());
  AckPlan plan;
  const uint64_t lowest_pending = pending.empty() ? UINT64_MAX : *pending.begin();
  for (uint64_t tag : acks) {
    if (tag < lowest_pending) {
      plan.up_to = tag;  // ascending: the last one below wins
    } else {
      plan.singles.push_back(tag);
    }
  }
  return plan;
}

struct QueueConsumer::Held {
  int64_t eta = 0;
  uint64_t seq = 0;
  uint64_t tag = 0;
  tasks::TaskMessage message;
  // Min-heap on (eta, seq) with std::push_heap's max-heap convention.
  bool operator<(const Held& other) const { return eta != other.eta ? eta > other.eta : seq > other.seq; }
};

QueueConsumer::QueueConsumer(std::string queue, uint16_t prefetch, ConsumerShared shared)
    : queue_(std::move(queue)),
      canonical_(tasks::canonical_queue_name(queue_)),
      prefetch_(prefetch),
      shared_(shared),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

QueueConsumer::~QueueConsumer() { close(); }

void QueueConsumer::start() {
  thread_ = std::thread([this] { run(); });
}

void QueueConsumer::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void QueueConsumer::settle(uint64_t generation, uint64_t tag, Settlement settlement) {
  {
    std::lock_guard lock(mutex_);
    posted_.push_back({generation, tag, settlement});
  }
  wake();
}

void QueueConsumer::stop_consuming() {
  stopping_ = true;
  wake();
}

void QueueConsumer::close() {
  closing_ = true;
  stopping_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
}

std::string QueueConsumer::status() const {
  std::lock_guard lock(const_cast<std::mutex&>(mutex_));
  return status_;
}

void QueueConsumer::run() {
  const WorkerOptions& options = *shared_.options;
  WorkerMetrics& metrics = *shared_.metrics;
  Gauge& connected_gauge = metrics.consumers_connected->with({queue_});
  std::optional<broker::Consumer> consumer;
  std::optional<tasks::TaskEnqueuer> mover;  // publishes due delayed messages
  std::vector<Held> held;                    // heap
  std::set<uint64_t> outstanding;            // deliveries of this connection not settled yet
  uint64_t generation = 0;
  uint64_t held_seq = 0;
  int failures = 0;
  bool cancelled = false;
  int64_t mover_retry_at = 0;
  // rabbitmq-c may hold deliveries it read along with a synchronous reply
  // (basic.consume-ok): drain before the first wait, or they sit there
  // until the socket wakes us for something else.
  bool drain_first = false;
  std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> uniform(0.0, 1.0);

  const auto set_status = [&](std::string text) {
    std::lock_guard lock(mutex_);
    status_ = std::move(text);
  };
  const auto delayed_gauge = [&](const Held& h) -> Gauge& {
    return metrics.delayed_inprogress->with({h.message.queue_name, h.message.actor_name});
  };
  // The broker node the last connection was lost to: tried last on
  // reconnect, so a hung or dead node of a cluster does not delay fail-over.
  std::optional<Endpoint> lost_endpoint;
  const auto drop_connection = [&](const Error& e) {
    if (consumer) lost_endpoint = consumer->connection().endpoint();
    spdlog::warn("task queue {}: {}; its unacknowledged messages go back to the queue, reconnecting", queue_,
                 e.message());
    consumer.reset();
    connected_ = false;
    connected_gauge.set(0);
    for (const Held& h : held) delayed_gauge(h).add(-1);
    held.clear();
    outstanding.clear();
    cancelled = false;
    failures = std::max(failures, 1);
    set_status("reconnecting: " + e.message());
  };
  // Waits for `timeout` or a wake-up, whichever comes first.
  const auto pause = [&](std::chrono::milliseconds timeout) {
    pollfd p{wake_fd_.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(timeout.count()));
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
  };

  for (;;) {
    if (!consumer) {
      if (closing_ || stopping_) break;
      if (failures > 0) {
        const int64_t backoff = tasks::compute_backoff(failures - 1, options.min_reconnect.count(),
                                                       options.max_reconnect.count(), uniform(rng));
        pause(std::chrono::milliseconds(backoff));
        if (closing_ || stopping_) break;
      }
      broker::ConnectionSettings settings = options.connection;
      settings.connection_name = "dc-worker " + queue_;
      settings.try_last = lost_endpoint;
      auto conn = broker::Connection::open(settings);
      Status declared =
          conn ? tasks::declare_task_queues(*conn, canonical_, options.queue_options) : Status(conn.error());
      std::optional<broker::Consumer> started;
      if (declared) {
        broker::ConsumerOptions consumer_options;
        consumer_options.queue = queue_;
        consumer_options.prefetch = prefetch_;
        auto c = broker::Consumer::start(std::move(*conn), consumer_options);
        if (c) {
          started.emplace(std::move(*c));
        } else {
          declared = c.error();
        }
      }
      if (!started) {
        if (failures == 0 || failures % 10 == 0) {
          spdlog::warn("task queue {}: cannot consume: {}; retrying", queue_, declared.error().message());
        }
        ++failures;
        set_status("reconnecting: " + declared.error().message());
        continue;
      }
      if (failures > 0) spdlog::info("task queue {}: consuming again", queue_);
      consumer = std::move(started);
      lost_endpoint.reset();
      failures = 0;
      ++generation;
      connected_ = true;
      connected_gauge.set(1);
      set_status("consuming");
      drain_first = true;
    }

    // Sleep until the broker sends something, a settlement is posted, or
    // the next held message is due.
    auto timeout = std::chrono::milliseconds(1000);
    if (!held.empty()) {
      const int64_t until = std::max(held.front().eta, mover_retry_at) - now_ms();
      timeout = std::clamp(std::chrono::milliseconds(until), options.delay_tick, timeout);
    }
    if (drain_first) timeout = std::chrono::milliseconds(0);
    drain_first = false;
    pollfd fds[2] = {{consumer->connection().fd(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(timeout.count()));
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);

    // 1. Settlements posted by worker threads.
    std::vector<Posted> posted;
    {
      std::lock_guard lock(mutex_);
      posted.swap(posted_);
    }
    std::optional<Error> failure;
    // Rejects and requeues one by one; acks in as few frames as possible
    // (plan_acks), after the rejects so a multiple-ack never covers them.
    std::vector<uint64_t> acks;
    for (const Posted& p : posted) {
      if (p.generation != generation) continue;  // that connection is gone; the broker requeued it
      outstanding.erase(p.tag);
      if (p.settlement == Settlement::ack) {
        acks.push_back(p.tag);
        continue;
      }
      if (Status st = consumer->reject(p.tag, /*requeue=*/p.settlement == Settlement::requeue); !st) {
        failure = st.error();
        break;
      }
      if (p.settlement == Settlement::reject) shared_.settled->fetch_add(1);
    }
    if (!failure && !acks.empty()) {
      const AckPlan plan = plan_acks(outstanding, acks);
      Status st = plan.up_to ? consumer->ack_up_to(*plan.up_to) : ok_status();
      for (size_t i = 0; st && i < plan.singles.size(); ++i) st = consumer->ack(plan.singles[i]);
      if (st) {
        shared_.settled->fetch_add(acks.size());
      } else {
        failure = st.error();
      }
    }
    if (failure) {
      drop_connection(*failure);
      continue;
    }
    if (closing_) break;

    // 2. Stop consuming: give back what is held.
    if (stopping_ && !cancelled) {
      cancelled = true;
      if (Status st = consumer->cancel(); !st) {
        drop_connection(st.error());
        continue;
      }
      for (const Held& h : held) {
        delayed_gauge(h).add(-1);
        outstanding.erase(h.tag);
        (void)consumer->reject(h.tag, /*requeue=*/true);
      }
      held.clear();
      set_status("stopped consuming");
    }

    // 3. Deliveries.
    for (;;) {
      auto next = consumer->next(std::chrono::milliseconds(0));
      if (!next) {
        failure = next.error();
        break;
      }
      if (!next->has_value()) break;
      broker::Delivery& d = **next;
      Status st = ok_status();
      auto decoded = tasks::decode_task_message(d.body, options.max_body);
      if (!decoded) {
        spdlog::warn("task queue {}: dead-lettering a message that is not a task message: {}", queue_,
                     decoded.error().message());
        metrics.undecodable->with({queue_}).inc();
        st = consumer->reject(d.delivery_tag, /*requeue=*/false);
        if (st) shared_.settled->fetch_add(1);
      } else if (cancelled) {
        st = consumer->reject(d.delivery_tag, /*requeue=*/true);
      } else if (auto eta = tasks::eta_ms(*decoded)) {
        outstanding.insert(d.delivery_tag);
        Held h{*eta, held_seq++, d.delivery_tag, std::move(*decoded)};
        delayed_gauge(h).add(1);
        held.push_back(std::move(h));
        std::push_heap(held.begin(), held.end());
      } else if (const Actor* actor = shared_.actors->find(decoded->actor_name); actor == nullptr) {
        spdlog::error("task queue {}: dead-lettering message {}: no actor named '{}' in this worker", queue_,
                      decoded->message_id, decoded->actor_name);
        metrics.rejects->with({decoded->queue_name, decoded->actor_name}).inc();
        st = consumer->reject(d.delivery_tag, /*requeue=*/false);
        if (st) shared_.settled->fetch_add(1);
      } else {
        WorkItem item{std::move(*decoded), actor, this, generation, d.delivery_tag, 0};
        if (shared_.work->push(std::move(item))) {
          outstanding.insert(d.delivery_tag);
        } else {
          st = consumer->reject(d.delivery_tag, /*requeue=*/true);
        }
      }
      if (!st) {
        failure = st.error();
        break;
      }
    }
    if (failure) {
      drop_connection(*failure);
      continue;
    }

    // 4. Held messages whose eta has come: a copy without eta goes to Q,
    // then the held delivery is acked.
    const int64_t now = now_ms();
    if (!held.empty() && held.front().eta <= now && now >= mover_retry_at) {
      std::vector<Held> due;
      while (!held.empty() && held.front().eta <= now) {
        std::pop_heap(held.begin(), held.end());
        due.push_back(std::move(held.back()));
        held.pop_back();
      }
      if (!mover || !mover->usable()) {
        mover.reset();
        broker::ConnectionSettings settings = options.connection;
        settings.connection_name = "dc-worker " + queue_ + " (delayed)";
        auto connected = tasks::TaskEnqueuer::connect(settings, options.queue_options);
        if (connected) {
          mover.emplace(std::move(*connected));
        } else {
          spdlog::warn("task queue {}: cannot publish due delayed messages: {}", queue_, connected.error().message());
        }
      }
      std::vector<Status> published(due.size(), Status(Error(Errc::unavailable, "no connection")));
      if (mover) {
        std::vector<tasks::TaskMessage> copies;
        copies.reserve(due.size());
        for (const Held& h : due) copies.push_back(tasks::due_copy(h.message));
        published = mover->publish_batch(copies);
      }
      for (size_t i = 0; i < due.size(); ++i) {
        if (!published[i]) {
          held.push_back(std::move(due[i]));
          std::push_heap(held.begin(), held.end());
          mover_retry_at = now + 1000;
          continue;
        }
        delayed_gauge(due[i]).add(-1);
        outstanding.erase(due[i].tag);
        if (Status st = consumer->ack(due[i].tag); !st) {
          failure = st.error();
          break;
        }
        shared_.settled->fetch_add(1);
      }
      if (failure) {
        drop_connection(*failure);
        continue;
      }
    }
    if (Status st = consumer->connection().keepalive(); !st) drop_connection(st.error());
  }
  // Leaving: the broker requeues whatever this connection had not settled.
  for (const Held& h : held) delayed_gauge(h).add(-1);
  consumer.reset();
  connected_ = false;
  connected_gauge.set(0);
  set_status("closed");
}

}  // namespace dc::worker
