// From the configuration (SPEC §4, §9) to a Worker: the worker_* and task_*
// keys, the broker connection, and the executable actors of the
// [actors.NAME] tables.
#pragma once

#include "base/result.h"
#include "config/config.h"
#include "worker/actor.h"
#include "worker/worker.h"

namespace dc::worker {

// Errors: invalid_argument naming the key (a worker_queues entry that is not
// a task queue name).
Result<WorkerOptions> worker_options(const Config& config);

// The actor options of an [actors.NAME] table.
ActorSpec actor_spec(const ActorConfig& actor);

// Adds an exec actor to `actors` for each [actors.NAME] table. Errors:
// invalid_argument naming the actor and where it was declared (a queue name
// Dramatiq would refuse), conflict (a name already registered).
Status add_configured_actors(const Config& config, ActorRegistry& actors);

}  // namespace dc::worker
