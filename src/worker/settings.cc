#include "worker/settings.h"

#include "source/broker_settings.h"
#include "worker/exec_actor.h"

namespace dc::worker {

Result<WorkerOptions> worker_options(const Config& config) {
  WorkerOptions options;
  options.connection = connection_settings(config, "dc-worker");
  for (const std::string& queue : config.worker_queues) {
    if (std::string problem = tasks::queue_name_problem(queue); !problem.empty()) {
      return Error(Errc::invalid_argument, "worker_queues: " + problem);
    }
    options.queues.push_back(queue);
  }
  options.threads = config.worker_threads;
  options.prefetch = config.worker_prefetch;
  options.shutdown_timeout = std::chrono::milliseconds(static_cast<int64_t>(config.worker_shutdown_timeout * 1000));
  options.queue_options.max_priority = config.task_max_priority;
  options.max_body = static_cast<size_t>(config.task_max_body);
  return options;
}

ActorSpec actor_spec(const ActorConfig& actor) {
  ActorSpec spec;
  spec.name = actor.name;
  spec.queue = actor.queue;
  spec.options.max_retries = actor.max_retries;
  spec.options.min_backoff = actor.min_backoff;
  spec.options.max_backoff = actor.max_backoff;
  spec.options.time_limit = actor.time_limit;
  spec.options.max_age = actor.max_age;
  spec.options.pipe_ignore = actor.pipe_ignore;
  spec.priority = actor.priority;
  return spec;
}

Status add_configured_actors(const Config& config, ActorRegistry& actors) {
  const std::vector<std::string> base_env = exec_actor_base_env();
  for (const ActorConfig& actor : config.actors) {
    if (std::string problem = tasks::queue_name_problem(actor.queue); !problem.empty()) {
      return Error(Errc::invalid_argument, "actors." + actor.name + ".queue: " + problem + " (" + actor.origin + ")");
    }
    if (Status st = actors.add(make_exec_actor(actor_spec(actor), actor.exec, base_env)); !st) {
      return st.error().with_context(actor.origin);
    }
  }
  return ok_status();
}

}  // namespace dc::worker
