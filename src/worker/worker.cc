#include "worker/worker.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "base/time.h"
#include "tasks/decisions.h"
#include "tasks/enqueue.h"
#include "worker/queue_consumer.h"
#include "worker/work_queue.h"

namespace dc::worker {
namespace {

int64_t now_ms() { return to_unix_micros(now()) / 1000; }

// Attempts at publishing one follow-up message (retry, pipeline step) on a
// fresh connection before the delivery is given back to its queue.
constexpr int kPublishAttempts = 3;
// Time limits beyond this (a message's options.time_limit can say anything)
// are treated as this.
constexpr int64_t kLongestTimeLimitMs = int64_t{365} * 86'400'000;
// How long past the shutdown deadline a cancelled function actor may take.
constexpr std::chrono::seconds kCancelGrace{10};

// The first line of `text` that is not blank, for a one-line log.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const size_t newline = text.rfind('\n');
  return std::string(newline == std::string_view::npos ? text : text.substr(newline + 1));
}

}  // namespace

struct Worker::State {
  ActorRegistry actors;
  WorkQueue work;
  std::atomic<uint64_t> settled{0};
  std::atomic<bool> cancel{false};
  std::vector<std::unique_ptr<QueueConsumer>> consumers;
  std::vector<std::thread> threads;
  std::mutex running_mutex;
  std::condition_variable running_changed;
  int running_threads = 0;
};

namespace {

// One worker thread's private publishing connection and randomness.
class ThreadContext {
 public:
  ThreadContext(const WorkerOptions& options, int index)
      : options_(options), index_(index), rng_(std::random_device{}()) {}

  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

  // The metric series of one (queue_name, actor_name), looked up once per
  // thread: a registry lookup takes a lock and allocates.
  struct Series {
    Counter& messages;
    Counter& errors;
    Counter& retries;
    Counter& rejects;
    Gauge& inprogress;
    Histogram& duration_ms;
  };
  const Series& series(WorkerMetrics& metrics, std::string_view queue, std::string_view actor) {
    std::string key;
    key.reserve(queue.size() + actor.size() + 1);
    key.append(queue).push_back('\0');
    key.append(actor);
    auto it = series_.find(key);
    if (it == series_.end()) {
      Series made{metrics.messages->with({queue, actor}),   metrics.errors->with({queue, actor}),
                  metrics.retries->with({queue, actor}),    metrics.rejects->with({queue, actor}),
                  metrics.inprogress->with({queue, actor}), metrics.duration_ms->with({queue, actor})};
      it = series_.emplace(std::move(key), made).first;
    }
    return it->second;
  }

  // Publishes `message` with confirms, reconnecting between attempts.
  Status publish(const tasks::TaskMessage& message) {
    Status last = Error(Errc::unavailable, "not attempted");
    for (int attempt = 0; attempt < kPublishAttempts; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
      if (!enqueuer_ || !enqueuer_->usable()) {
        enqueuer_.reset();
        broker::ConnectionSettings settings = options_.connection;
        settings.connection_name = "dc-worker thread " + std::to_string(index_);
        auto connected = tasks::TaskEnqueuer::connect(settings, options_.queue_options);
        if (!connected) {
          last = connected.error();
          continue;
        }
        enqueuer_.emplace(std::move(*connected));
      }
      last = enqueuer_->publish_batch(std::span<const tasks::TaskMessage>(&message, 1)).front();
      if (last) return last;
      if (last.error().code() == Errc::invalid_argument) return last;  // will not get better
    }
    return last;
  }

 private:
  const WorkerOptions& options_;
  int index_;
  std::mt19937_64 rng_;
  std::optional<tasks::TaskEnqueuer> enqueuer_;
  std::map<std::string, Series, std::less<>> series_;
};

// Runs one message to its settlement (see worker.h).
void process(const WorkItem& item, ThreadContext& context, WorkerMetrics& metrics, const std::atomic<bool>& cancel) {
  const tasks::TaskMessage& m = item.message;
  const ActorSpec& spec = item.actor->spec();
  const std::string_view queue_label = m.queue_name;
  const auto settle = [&](Settlement s) { item.origin->settle(item.generation, item.tag, s); };
  const tasks::EffectiveOptions options = tasks::effective_options(m, spec.options);
  const ThreadContext::Series& series = context.series(metrics, queue_label, m.actor_name);

  if (tasks::age_exceeded(m, options, now_ms())) {
    spdlog::warn("message {} ({}) has exceeded its age limit of {} ms; dead-lettering it", m.message_id, m.actor_name,
                 *options.max_age);
    series.messages.inc();
    series.duration_ms.observe(0);
    series.rejects.inc();
    settle(Settlement::reject);
    return;
  }

  Gauge& inprogress = series.inprogress;
  inprogress.add(1);
  const auto started = std::chrono::steady_clock::now();
  // A message may ask for any time limit; a year is "none" and keeps the
  // deadline arithmetic far from overflow.
  const auto limit = std::chrono::milliseconds(std::clamp<int64_t>(options.time_limit, 0, kLongestTimeLimitMs));
  const TaskContext task{m, options.retries, started + limit, &cancel};
  AttemptResult result = item.actor->run(task);
  const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  inprogress.add(-1);

  if (result.kind == AttemptResult::Kind::cancelled) {
    spdlog::warn("message {} ({}) was interrupted by the shutdown; it goes back to queue {}", m.message_id,
                 m.actor_name, m.queue_name);
    settle(Settlement::requeue);
    return;
  }
  series.duration_ms.observe(elapsed);
  series.messages.inc();

  if (result.kind == AttemptResult::Kind::success) {
    auto step = tasks::next_pipeline_step(m, result.result, spec.options.pipe_ignore);
    if (!step) {  // decode_task_message already checked pipe_target; defensive
      spdlog::error("message {}: {}", m.message_id, step.error().message());
      settle(Settlement::ack);
      return;
    }
    if (step->has_value()) {
      tasks::TaskMessage next = std::move((*step)->message);
      if ((*step)->delay_ms) next = tasks::delayed_copy(std::move(next), *(*step)->delay_ms, now_ms());
      if (Status st = context.publish(next); !st) {
        spdlog::error(
            "message {} ({}) succeeded but its pipeline step {} could not be enqueued: {}; it goes back "
            "to queue {} and will run again",
            m.message_id, m.actor_name, next.actor_name, st.error().message(), m.queue_name);
        settle(Settlement::requeue);
        return;
      }
    }
    settle(Settlement::ack);
    return;
  }

  // Failure: Dramatiq's Retries rule.
  series.errors.inc();
  const tasks::FailureDecision decision =
      tasks::decide_failure(m, options, result.traceback, now_ms(), context.uniform());
  if (decision.kind == tasks::FailureDecision::Kind::dead_letter) {
    spdlog::warn("message {} ({}) failed: {}; retries exceeded ({} of {}), dead-lettering it to {}", m.message_id,
                 m.actor_name, last_line(result.traceback), options.retries, options.max_retries,
                 tasks::dead_letter_queue_name(m.queue_name));
    series.rejects.inc();
    settle(Settlement::reject);
    return;
  }
  if (Status st = context.publish(decision.message); !st) {
    spdlog::error("message {} ({}) failed and its retry could not be enqueued: {}; it goes back to queue {}",
                  m.message_id, m.actor_name, st.error().message(), m.queue_name);
    settle(Settlement::requeue);
    return;
  }
  spdlog::info("message {} ({}) failed: {}; retry {} of {} in {} ms", m.message_id, m.actor_name,
               last_line(result.traceback), options.retries + 1, options.max_retries, decision.delay_ms);
  series.retries.inc();
  settle(Settlement::ack);
}

}  // namespace

Worker::Worker(WorkerOptions options, std::unique_ptr<WorkerMetrics> metrics)
    : options_(std::move(options)), metrics_(std::move(metrics)), state_(std::make_unique<State>()) {}

Result<std::unique_ptr<Worker>> Worker::start(WorkerOptions options, ActorRegistry actors) {
  if (actors.empty()) {
    return Error(Errc::invalid_argument, "dc-worker has no actor: declare [actors.NAME] tables in the configuration");
  }
  if (options.queues.empty()) options.queues = actors.queues();
  std::sort(options.queues.begin(), options.queues.end());
  options.queues.erase(std::unique(options.queues.begin(), options.queues.end()), options.queues.end());
  for (const std::string& queue : options.queues) {
    if (std::string problem = tasks::queue_name_problem(queue); !problem.empty()) {
      return Error(Errc::invalid_argument, "worker_queues: " + problem);
    }
  }
  options.threads = std::clamp(options.threads, 1, 1024);
  const int prefetch = options.prefetch > 0 ? options.prefetch : std::min(options.threads * 2, 65535);
  const int delay_prefetch = std::min(options.threads * 1000, 65535);

  std::unique_ptr<Worker> worker(new Worker(std::move(options), std::make_unique<WorkerMetrics>()));
  State& state = *worker->state_;
  state.actors = std::move(actors);
  ConsumerShared shared{&worker->options_, &state.actors, worker->metrics_.get(), &state.work, &state.settled};
  for (const std::string& queue : worker->options_.queues) {
    state.consumers.push_back(std::make_unique<QueueConsumer>(queue, static_cast<uint16_t>(prefetch), shared));
    state.consumers.push_back(
        std::make_unique<QueueConsumer>(tasks::delay_queue_name(queue), static_cast<uint16_t>(delay_prefetch), shared));
  }
  for (auto& consumer : state.consumers) consumer->start();
  state.running_threads = worker->options_.threads;
  for (int i = 0; i < worker->options_.threads; ++i) {
    state.threads.emplace_back([&state, w = worker.get(), i] {
      ThreadContext context(w->options_, i);
      while (auto item = state.work.pop()) process(*item, context, *w->metrics_, state.cancel);
      std::lock_guard lock(state.running_mutex);
      --state.running_threads;
      state.running_changed.notify_all();
    });
  }
  return worker;
}

Worker::~Worker() {
  if (!stopped_) shutdown();
}

bool Worker::shutdown(std::chrono::milliseconds timeout) {
  if (stopped_) return true;
  stopped_ = true;
  State& state = *state_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& consumer : state.consumers) consumer->stop_consuming();
  // Messages not started yet go back to their queues at once.
  for (WorkItem& item : state.work.close_and_drain())
    item.origin->settle(item.generation, item.tag, Settlement::requeue);

  std::unique_lock lock(state.running_mutex);
  bool finished = state.running_changed.wait_until(lock, deadline, [&] { return state.running_threads == 0; });
  if (!finished) {
    spdlog::warn("shutdown: {} task(s) still running after {} ms; cancelling them (they go back to their queues)",
                 state.running_threads, timeout.count());
    state.cancel = true;
    finished = state.running_changed.wait_for(lock, kCancelGrace, [&] { return state.running_threads == 0; });
  }
  lock.unlock();
  if (finished) {
    for (auto& thread : state.threads) thread.join();
  } else {
    spdlog::error("shutdown: a function actor ignored cancellation for {} s; abandoning its thread",
                  kCancelGrace.count());
    for (auto& thread : state.threads) thread.detach();
  }
  for (auto& consumer : state.consumers) consumer->close();
  if (!finished) state_.release();  // the abandoned thread may still use it
  return finished;
}

bool Worker::healthy() const {
  if (!state_) return false;
  return std::all_of(state_->consumers.begin(), state_->consumers.end(),
                     [](const auto& consumer) { return consumer->connected(); });
}

std::string Worker::describe_consumers() const {
  std::string text;
  if (!state_) return text;
  for (const auto& consumer : state_->consumers) {
    if (!text.empty()) text += "; ";
    text += "queue " + consumer->queue() + ": " + consumer->status();
  }
  return text;
}

uint64_t Worker::settled_count() const { return state_ ? state_->settled.load() : 0; }

}  // namespace dc::worker
