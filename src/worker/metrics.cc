#include "worker/metrics.h"

namespace dc::worker {

WorkerMetrics::WorkerMetrics() {
  // Registration can only fail for an invalid definition, which these are not.
  messages = registry_.counter("dramatiq_messages_total", "The total number of messages processed.",
                               {"queue_name", "actor_name"})
                 .value();
  errors = registry_.counter("dramatiq_message_errors_total", "The total number of errored messages.",
                             {"queue_name", "actor_name"})
               .value();
  retries = registry_.counter("dramatiq_message_retries_total", "The total number of retried messages.",
                              {"queue_name", "actor_name"})
                .value();
  rejects = registry_.counter("dramatiq_message_rejects_total", "The total number of dead-lettered messages.",
                              {"queue_name", "actor_name"})
                .value();
  inprogress = registry_.gauge("dramatiq_messages_inprogress", "The number of messages in progress.",
                               {"queue_name", "actor_name"})
                   .value();
  delayed_inprogress = registry_.gauge("dramatiq_delayed_messages_inprogress",
                                       "The number of delayed messages in memory.", {"queue_name", "actor_name"})
                           .value();
  duration_ms = registry_.histogram("dramatiq_message_duration_milliseconds", "The time spent processing messages.",
                                    {"queue_name", "actor_name"}, kDurationBucketsMs)
                    .value();
  consumers_connected = registry_.gauge("dc_worker_consumer_connected",
                                        "1 while dc-worker consumes the queue, 0 while it reconnects.", {"queue"})
                            .value();
  undecodable = registry_.counter("dc_worker_undecodable_messages_total",
                                  "Messages that are not task messages, dead-lettered on arrival.", {"queue"})
                    .value();
}

}  // namespace dc::worker
