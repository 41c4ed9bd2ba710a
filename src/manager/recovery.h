// Start-up recovery (SPEC §6.2, §6.5): what an earlier instance of this
// manager left behind when it died. Its apps are re-adopted when the
// process their record names (pid and start time) still runs, and marked
// FAILED (lost) otherwise; nothing is adopted that the record does not
// name, since every app process is recorded before it runs (spawn's
// before_exec gate). Then every command it claimed and never finished is
// finished against the real process state (CommandRunner::finish_stranded).
#pragma once

#include "base/result.h"
#include "manager/command_runner.h"
#include "manager/process_table.h"
#include "store/store.h"

namespace dc {

Status recover(Store& store, ProcessTable& processes, CommandRunner& runner);

}  // namespace dc
