// The process layer's public face (SPEC §6.5): everything the manager needs
// to run apps as OS processes. Depends only on base.
//
//   spawn.h          spawn(): start an app (argv, own process group, log file, DC_* env)
//   process_handle.h ProcessHandle (pid + start time), is_same_process, signal_group,
//                    group_has_live_members, open_pidfd
//   exit_status.h    ExitStatus, try_reap, reap_children, wait_exit
//   stop.h           GracefulStop / stop_process: SIGTERM, then SIGKILL after stop_timeout
//
// Everything is non-blocking except wait_exit, GracefulStop::wait and
// stop_process, which block up to their deadline, and spawn, which waits
// (bounded) only until the child has exec'd.
#pragma once

#include "process/exit_status.h"
#include "process/process_handle.h"
#include "process/spawn.h"
#include "process/stop.h"
