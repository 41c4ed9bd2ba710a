// The threads that do dc-api's blocking work, so the HTTP threads never
// wait on a database or a broker: a fixed number of workers, each with a
// store connection (and a command issuer) of its own, taking jobs from one
// bounded queue. A full queue refuses the job (the caller answers 503), so
// a flood of requests costs memory for at most max_queue of them.
//
// Thread safety: submit() may be called from any thread; a job runs on one
// worker and gets that worker's WorkerContext, which it must not keep.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "store/store.h"

namespace dc {

class CommandSource;

// What a job works with: this worker's own connections, opened on first
// use (and again after a failed open).
class WorkerContext {
 public:
  explicit WorkerContext(const Config& config) : config_(config) {}
  ~WorkerContext();
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  const Config& config() const { return config_; }
  // The worker's store; Errc::unavailable (or the open's error) when it
  // cannot be opened now.
  Result<Store*> store();
  // The worker's command source (records, then publishes) over store().
  Result<CommandSource*> source();

 private:
  const Config& config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CommandSource> source_;
};

class WorkerPool {
 public:
  WorkerPool(Config config, size_t workers, size_t max_queue);
  // Stops (see stop()).
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start();
  // Queues `job`; false when the queue is full or the pool stopped.
  bool submit(std::function<void(WorkerContext&)> job);
  // Lets the jobs in hand finish, drops the queued ones, joins.
  void stop();
  size_t queued() const;

 private:
  void run();

  Config config_;
  size_t workers_;
  size_t max_queue_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void(WorkerContext&)>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dc
