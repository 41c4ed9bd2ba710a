#include "worker/metrics.h"

#include "observe/build_info.h"
#include "observe/process_metrics.h"

namespace dc::worker {

WorkerMetrics::WorkerMetrics() {
  // Registration fails only for an invalid definition, which these are not.
  const auto counter = [&](std::string_view name, std::string_view help) {
    return registry_.counter(name, help, {"queue_name", "actor_name"}).value();
  };
  const auto gauge = [&](std::string_view name, std::string_view help) {
    return registry_.gauge(name, help, {"queue_name", "actor_name"}).value();
  };
  messages = counter("dramatiq_messages_total", "The total number of messages processed.");
  errors = counter("dramatiq_message_errors_total", "The total number of errored messages.");
  retries = counter("dramatiq_message_retries_total", "The total number of retried messages.");
  rejects = counter("dramatiq_message_rejects_total", "The total number of dead-lettered messages.");
  inprogress = gauge("dramatiq_messages_inprogress", "The number of messages in progress.");
  delayed_inprogress = gauge("dramatiq_delayed_messages_inprogress", "The number of delayed messages in memory.");
  duration_ms = registry_
                    .histogram("dramatiq_message_duration_milliseconds", "The time spent processing messages.",
                               {"queue_name", "actor_name"}, kDurationBucketsMs)
                    .value();
  consumers_connected = registry_
                            .gauge("dc_worker_consumer_connected",
                                   "1 while dc-worker consumes the queue, 0 while it reconnects.", {"queue"})
                            .value();
  undecodable = registry_
                    .counter("dc_worker_undecodable_messages_total",
                             "Messages that are not task messages, dead-lettered on arrival.", {"queue"})
                    .value();
  add_process_metrics(registry_);
  (void)register_build_info(registry_);
}

}  // namespace dc::worker
