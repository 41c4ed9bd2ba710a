#include "api/workers.h"

#include <spdlog/spdlog.h>

#include "api/command_source.h"

namespace dc {

WorkerContext::~WorkerContext() = default;

Result<Store*> WorkerContext::store() {
  if (!store_) {
    auto opened = Store::open(config_.db_url);
    if (!opened) return opened.error();
    store_ = std::move(opened).value();
  }
  return store_.get();
}

Result<CommandSource*> WorkerContext::source() {
  auto opened = store();
  if (!opened) return opened.error();
  if (!source_) source_ = std::make_unique<CommandSource>(**opened, config_);
  return source_.get();
}

WorkerPool::WorkerPool(Config config, size_t workers, size_t max_queue)
    : config_(std::move(config)), workers_(std::max<size_t>(1, workers)), max_queue_(max_queue) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  std::lock_guard lock(mutex_);
  stopping_ = false;
  for (size_t i = 0; i < workers_; ++i) threads_.emplace_back([this] { run(); });
}

bool WorkerPool::submit(std::function<void(WorkerContext&)> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || threads_.empty() || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(job));
  }
  ready_.notify_one();
  return true;
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WorkerPool::stop() {
  std::deque<std::function<void(WorkerContext&)>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  ready_.notify_all();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  // `dropped` goes here: the requests in it are answered 500 by their
  // responders' destructors.
}

void WorkerPool::run() {
  WorkerContext context(config_);
  for (;;) {
    std::function<void(WorkerContext&)> job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      job(context);
    } catch (const std::exception& e) {
      spdlog::error("api: a job failed: {}", e.what());
    }
  }
}

}  // namespace dc
