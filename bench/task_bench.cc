// dc-task-bench: the pipeline-task measurements of `make bench` (SPEC §10
// tasks.* keys), driven by scripts/bench.sh next to the Python reference
// peers in bench/reference/. Each subcommand prints one JSON object.
//
//   dc-task-bench enqueue --port P --queue Q --count N
//       TaskEnqueuer::enqueue one message at a time, each confirmed before
//       the next (what Dramatiq's enqueue does with confirm_delivery=True).
//   dc-task-bench preload --port P --queue Q --count N --actor A
//       Fills Q with N messages (pipelined, confirmed); not timed.
//   dc-task-bench worker --port P --queue Q --count N --threads T [--prefetch K] [--exec PROGRAM]
//       Preloads N messages, then runs a Worker with a no-op actor (a C++
//       function, or the executable PROGRAM) until all N are settled.
//   dc-task-bench spawn --count N --threads T --program PROGRAM
//       The bare posix_spawn + waitpid loop exec actors are bound by.
#include <spawn.h>
#include <sys/wait.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "tasks/enqueue.h"
#include "worker/exec_actor.h"
#include "worker/worker.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using dc::tasks::Json;

dc::broker::ConnectionSettings settings(int port) {
  dc::broker::ConnectionSettings s;
  s.endpoints = {{"127.0.0.1", port}};
  s.connection_name = "dc-task-bench";
  return s;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

int fail(const std::string& what) {
  std::cerr << "dc-task-bench: " << what << '\n';
  return 1;
}

int preload(int port, const std::string& queue, int count, const std::string& actor) {
  auto enqueuer = dc::tasks::TaskEnqueuer::connect(settings(port));
  if (!enqueuer) return fail(enqueuer.error().message());
  constexpr int kChunk = 500;
  for (int done = 0; done < count;) {
    std::vector<dc::tasks::TaskMessage> batch;
    for (int i = 0; i < kChunk && done + i < count; ++i) {
      batch.push_back(dc::tasks::make_task_message(queue, actor, Json::array({done + i})));
    }
    for (const dc::Status& st : enqueuer->publish_batch(batch)) {
      if (!st) return fail(st.error().message());
    }
    done += static_cast<int>(batch.size());
  }
  return 0;
}

int enqueue(int port, const std::string& queue, int count) {
  auto enqueuer = dc::tasks::TaskEnqueuer::connect(settings(port));
  if (!enqueuer) return fail(enqueuer.error().message());
  if (dc::Status st = enqueuer->ensure_queues(queue); !st) return fail(st.error().message());
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    auto sent = enqueuer->enqueue(dc::tasks::make_task_message(queue, "noop", Json::array({i})));
    if (!sent) return fail(sent.error().message());
  }
  const double s = seconds_since(start);
  std::cout << Json{{"count", count}, {"seconds", s}, {"per_s", count / s}}.dump() << '\n';
  return 0;
}

int worker(int port, const std::string& queue, int count, int threads, int prefetch, const std::string& program) {
  if (int rc = preload(port, queue, count, "noop"); rc != 0) return rc;
  dc::worker::ActorRegistry actors;
  dc::worker::ActorSpec spec;
  spec.name = "noop";
  spec.queue = queue;
  dc::Status added =
      program.empty()
          ? actors.add_function(spec, [](const dc::worker::TaskContext&) -> dc::Result<Json> { return Json(nullptr); })
          : actors.add(dc::worker::make_exec_actor(spec, {program}, dc::worker::exec_actor_base_env()));
  if (!added) return fail(added.error().message());
  dc::worker::WorkerOptions options;
  options.connection = settings(port);
  options.queues = {queue};
  options.threads = threads;
  options.prefetch = prefetch;
  const auto start = Clock::now();
  auto w = dc::worker::Worker::start(options, std::move(actors));
  if (!w) return fail(w.error().message());
  const auto deadline = start + std::chrono::minutes(10);
  while ((*w)->settled_count() < static_cast<uint64_t>(count) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double s = seconds_since(start);
  const uint64_t settled = (*w)->settled_count();
  (*w)->shutdown(std::chrono::seconds(10));
  if (settled < static_cast<uint64_t>(count)) return fail("only " + std::to_string(settled) + " settled in time");
  std::cout << Json{{"count", count}, {"threads", threads}, {"seconds", s}, {"per_s", count / s}}.dump() << '\n';
  return 0;
}

int spawn_loop(int count, int threads, const std::string& program) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
      while (next.fetch_add(1) < count) {
        pid_t pid = 0;
        if (posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv, environ) != 0) {
          failed = true;
          return;
        }
        int status = 0;
        waitpid(pid, &status, 0);
      }
    });
  }
  for (auto& t : pool) t.join();
  if (failed) return fail("posix_spawn " + program + " failed");
  const double s = seconds_since(start);
  std::cout << Json{{"count", count}, {"threads", threads}, {"seconds", s}, {"per_s", count / s}}.dump() << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dc-task-bench: pipeline-task benchmarks (see scripts/bench.sh)"};
  app.require_subcommand(1);
  int port = 5672;
  std::string queue = "bench_tasks";
  int count = 1000;
  int threads = 8;
  int prefetch = 0;
  std::string program;
  std::string actor = "noop";
  auto* enqueue_cmd = app.add_subcommand("enqueue", "confirmed enqueue rate, one message at a time");
  auto* preload_cmd = app.add_subcommand("preload", "fill a queue (untimed)");
  auto* worker_cmd = app.add_subcommand("worker", "tasks/s through a Worker with a no-op actor");
  auto* spawn_cmd = app.add_subcommand("spawn", "bare posix_spawn + waitpid rate");
  for (auto* sub : {enqueue_cmd, preload_cmd, worker_cmd}) {
    sub->add_option("--port", port)->required();
    sub->add_option("--queue", queue);
  }
  for (auto* sub : {enqueue_cmd, preload_cmd, worker_cmd, spawn_cmd}) sub->add_option("--count", count);
  preload_cmd->add_option("--actor", actor);
  worker_cmd->add_option("--threads", threads);
  worker_cmd->add_option("--prefetch", prefetch, "deliveries in flight (default 0: 2 x threads, as Dramatiq)");
  worker_cmd->add_option("--exec", program, "an executable no-op actor (default: a C++ function)");
  spawn_cmd->add_option("--threads", threads);
  spawn_cmd->add_option("--program", program)->required();
  CLI11_PARSE(app, argc, argv);
  if (enqueue_cmd->parsed()) return enqueue(port, queue, count);
  if (preload_cmd->parsed()) return preload(port, queue, count, actor);
  if (worker_cmd->parsed()) return worker(port, queue, count, threads, prefetch, program);
  return spawn_loop(count, threads, program);
}
