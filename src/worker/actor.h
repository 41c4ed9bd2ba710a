// Actors: what dc-worker runs for a message (SPEC §9). An actor is either an
// executable declared in the configuration ([actors.NAME], see
// exec_actor.h) or a C++ function registered by a program that embeds the
// worker. Both are called the same way and report the same outcome.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "tasks/decisions.h"
#include "tasks/message.h"

namespace dc::worker {

// What an actor gets for one attempt.
struct TaskContext {
  const tasks::TaskMessage& message;
  int64_t retries = 0;  // options.retries: attempts that failed before this one
  // When the attempt's time limit (time_limit) runs out. A function actor
  // cannot be interrupted: one still running then has its attempt failed
  // when it returns, whatever it returns; check expired() to stop early.
  std::chrono::steady_clock::time_point deadline;
  // True once the worker is shutting down past its grace period: the
  // attempt will be returned to the queue; stop as soon as possible.
  const std::atomic<bool>* cancelled = nullptr;

  bool expired() const { return std::chrono::steady_clock::now() >= deadline; }
  bool cancel_requested() const { return cancelled != nullptr && cancelled->load(std::memory_order_relaxed); }
};

// One attempt's outcome.
struct AttemptResult {
  enum class Kind {
    success,    // `result` is what a pipe_target receives
    failure,    // `traceback` says why; Dramatiq's retry rule applies
    cancelled,  // stopped by shutdown: the message goes back to its queue untouched
  };
  Kind kind = Kind::success;
  tasks::Json result;     // success: the return value (null when none)
  std::string traceback;  // failure: the stderr tail or the error text
  static AttemptResult ok(tasks::Json value = nullptr) { return {Kind::success, std::move(value), {}}; }
  static AttemptResult failed(std::string why) { return {Kind::failure, nullptr, std::move(why)}; }
  static AttemptResult interrupted() { return {Kind::cancelled, nullptr, {}}; }
};

// A C++ actor: returns the result, or an Error whose message becomes the
// traceback. Exceptions it throws are caught and count as failures.
// Called from worker threads, several at once: it must be thread safe.
using TaskFunction = std::function<Result<tasks::Json>(const TaskContext&)>;

struct ActorSpec {
  std::string name;               // actor_name on the wire
  std::string queue = "default";  // canonical queue name
  tasks::ActorOptions options;    // max_retries, backoffs, time_limit, max_age, pipe_ignore
  int priority = 0;               // lower runs first among messages waiting in the worker
};

class Actor {
 public:
  virtual ~Actor() = default;
  const ActorSpec& spec() const { return spec_; }
  // Runs one attempt. Never throws.
  virtual AttemptResult run(const TaskContext& context) const = 0;

 protected:
  explicit Actor(ActorSpec spec) : spec_(std::move(spec)) {}

 private:
  ActorSpec spec_;
};

// An Actor calling a TaskFunction; enforces the time limit after the fact.
std::unique_ptr<Actor> make_function_actor(ActorSpec spec, TaskFunction function);

// The actors a worker knows, by name. Filled before the worker starts, then
// only read (thread safe for readers).
class ActorRegistry {
 public:
  // Errors: conflict when `name` is taken, invalid_argument for a bad queue
  // name or an empty actor name.
  Status add(std::unique_ptr<Actor> actor);
  Status add_function(ActorSpec spec, TaskFunction function) {
    return add(make_function_actor(std::move(spec), std::move(function)));
  }
  // nullptr when no actor has that name.
  const Actor* find(std::string_view name) const;
  // Canonical queue names the actors name, sorted.
  std::vector<std::string> queues() const;
  bool empty() const { return actors_.empty(); }
  size_t size() const { return actors_.size(); }

 private:
  std::map<std::string, std::unique_ptr<Actor>, std::less<>> actors_;
};

}  // namespace dc::worker
