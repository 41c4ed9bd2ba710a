// The schedule (SPEC §6.6): every tick, the apps of this manager with a
// schedule are looked at; an enabled, idle app whose run time has come is
// started (schedule_action), a run missed by more than
// schedule_misfire_grace is skipped, and the next run time is kept in
// apps.next_run_at.
#pragma once

#include "manager/command_runner.h"
#include "store/store.h"

namespace dc {

class Scheduler {
 public:
  Scheduler(Store& store, CommandRunner& runner, ProcessTable& processes, std::chrono::seconds misfire_grace)
      : store_(store), runner_(runner), processes_(processes), misfire_grace_(misfire_grace) {}

  void tick();

 private:
  Store& store_;
  CommandRunner& runner_;
  ProcessTable& processes_;
  std::chrono::seconds misfire_grace_;
};

}  // namespace dc
