// The hand-over between consumer threads and worker threads: messages ready
// to run, lower actor priority first, then in arrival order (Dramatiq's
// worker queue is a PriorityQueue keyed by actor priority too).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <queue>
#include <vector>

#include "tasks/message.h"
#include "worker/actor.h"

namespace dc::worker {

class QueueConsumer;

// One delivery handed to the worker threads. (origin, generation, tag)
// identify it for settling: a tag is valid only on the connection
// (generation) that delivered it.
struct WorkItem {
  tasks::TaskMessage message;
  const Actor* actor = nullptr;
  QueueConsumer* origin = nullptr;
  uint64_t generation = 0;
  uint64_t tag = 0;
  uint64_t seq = 0;  // arrival order, set by push()
};

// Thread safe.
class WorkQueue {
 public:
  // False (and the item is not taken) once closed.
  bool push(WorkItem item) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    item.seq = next_seq_++;
    items_.push(std::move(item));
    ready_.notify_one();
    return true;
  }

  // The next item; blocks while empty. nullopt once closed and empty.
  std::optional<WorkItem> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    WorkItem item = std::move(const_cast<WorkItem&>(items_.top()));
    items_.pop();
    return item;
  }

  // Refuses further pushes, wakes every pop(), and returns what was waiting.
  std::vector<WorkItem> close_and_drain() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    std::vector<WorkItem> left;
    while (!items_.empty()) {
      left.push_back(std::move(const_cast<WorkItem&>(items_.top())));
      items_.pop();
    }
    ready_.notify_all();
    return left;
  }

 private:
  struct Later {
    bool operator()(const WorkItem& a, const WorkItem& b) const {
      const int pa = a.actor ? a.actor->spec().priority : 0;
      const int pb = b.actor ? b.actor->spec().priority : 0;
      return pa != pb ? pa > pb : a.seq > b.seq;
    }
  };
  std::mutex mutex_;
  std::condition_variable ready_;
  std::priority_queue<WorkItem, std::vector<WorkItem>, Later> items_;
  uint64_t next_seq_ = 0;
  bool closed_ = false;
};

}  // namespace dc::worker
