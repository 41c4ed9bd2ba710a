// The dc-worker program: command line (the shared configuration flags plus
// logging options), logging, signals, /metrics and /healthz, and the
// Worker. Exit codes: 0 clean shutdown; 1 runtime failure (metrics port in
// use, a task that ignored cancellation); 2 usage or configuration error.
//
// Signals: SIGTERM/SIGINT stop consuming, let running tasks finish up to
// worker_shutdown_timeout and return the rest to the queue; SIGHUP reopens
// the log file.
#pragma once

#include <functional>

#include "base/result.h"
#include "config/config.h"
#include "worker/actor.h"

namespace dc::worker {

int worker_main(int argc, char** argv);

// For programs that embed the worker with C++ actors of their own: the same
// program as dc-worker, with `register_actors` adding function actors to
// the registry (after the configured exec actors).
int worker_main(int argc, char** argv, const std::function<Status(const Config&, ActorRegistry&)>& register_actors);

}  // namespace dc::worker
