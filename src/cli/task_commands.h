// `dcctl task ...` (SPEC §9): send task messages the way Dramatiq clients do,
// and look at task queues and their dead letters.
//
//   dcctl task send QUEUE ACTOR [--args JSON] [--kwargs JSON] [--delay MS] [--option K=V]... [--wait-confirm] [--json]
//   dcctl task queues [QUEUE...] [--json] [-q]
//   dcctl task dead list QUEUE [--limit N] [--json]
//   dcctl task dead requeue QUEUE (--all | MESSAGE_ID)
//   dcctl task dead purge QUEUE
//
// Tasks have no database fallback: with the broker down these fail at once
// with exit code 4 (kExitBrokerUnavailable). Other codes as dcctl's: 0 ok,
// 1 failure, 2 usage.
#pragma once

#include <memory>

#include "cli/exit_codes.h"
#include "config/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace dc {

class TaskCommands {
 public:
  // Registers the `task` subcommand tree on `app` (before app.parse()).
  explicit TaskCommands(CLI::App& app);
  ~TaskCommands();
  TaskCommands(const TaskCommands&) = delete;
  TaskCommands& operator=(const TaskCommands&) = delete;

  // True when the command line named `task ...` (after app.parse()).
  bool parsed() const;
  // Runs it; returns the exit code.
  int run(const Config& config);

 private:
  struct Options;
  std::unique_ptr<Options> options_;
};

}  // namespace dc
