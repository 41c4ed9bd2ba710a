// Starting an app as an OS process (SPEC §6.5). The argv is executed
// directly, never through a shell; the process leads its own process group
// (so STOP can signal everything it started), reads /dev/null, and appends
// stdout and stderr to `log_dir/<app_id>.log`.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "process/process_handle.h"

namespace dc {

// Environment variables of the manager that hold its secrets; spawn() does
// not pass them on to apps (SPEC §4: rabbit_password, command_secret, and
// db_url, which may carry a database password).
inline const std::vector<std::string> kManagerSecretEnv = {"DC_RABBIT_PASSWORD", "DC_COMMAND_SECRET", "DC_DB_URL"};

struct SpawnRequest {
  std::string app_id;             // names the log file; see app_log_path
  std::vector<std::string> argv;  // argv[0]: a path, or a name looked up in PATH
  std::filesystem::path log_dir;  // created if missing
  // Passed to the app as DC_APP_ID (= app_id), DC_MANAGER, DC_COMMAND_ID and
  // DC_ARGS: the C++ counterpart of the design note's init(runtime, args).
  std::string manager;
  std::string command_id;
  std::string args_json = "{}";
  // More variables for the app; they override inherited ones of that name.
  std::vector<std::pair<std::string, std::string>> extra_env;
  // Inherited variables to drop.
  std::vector<std::string> unset_env = kManagerSecretEnv;
  // Called in the parent with the new process (pid and start time) before
  // that process runs the program; the child waits at a gate until it
  // returns. When it fails, the child never runs the program (it is killed
  // and reaped) and spawn() fails with its error. When the parent dies
  // meanwhile, the gate closes and the child exits without running it. A
  // manager records the pid here, durably, so that no app process ever runs
  // that its record does not name (effect once across a crash, SPEC §6.2).
  std::function<Status(const ProcessHandle&)> before_exec;
};

struct SpawnedProcess {
  ProcessHandle process;  // also the process group id: process.pid
  std::filesystem::path log_path;
};

// `log_dir/<app_id>.log`. Errors (invalid_argument): an app id that is
// empty, longer than 200 bytes, starts with '.', or holds '/' or NUL,
// since it could not name a file inside log_dir.
Result<std::filesystem::path> app_log_path(const std::filesystem::path& log_dir, std::string_view app_id);

// Starts the app and returns once it runs the requested program (exec
// succeeded), with its pid and start time; request.before_exec, if set, has
// accepted the process by then. The environment is this
// process's own, minus `unset_env`, plus DC_APP_ID, DC_MANAGER,
// DC_COMMAND_ID, DC_ARGS and `extra_env`. Signal dispositions and the
// signal mask are reset to defaults in the app, and it inherits no file
// descriptors beyond 0-2. Errors, each naming the app and the path:
//   invalid_argument  empty argv or argv[0], bad app id
//   not_found         argv[0] not found in PATH, or the file (or a #!
//                     interpreter it names) does not exist
//   io                log directory/file cannot be created or opened, the
//                     file is not executable or not a runnable format,
//                     fork failed, or another exec failure (with strerror)
//   timeout           the child neither ran the program nor reported an
//                     error within 10 s (it is killed)
//   whatever before_exec returned (the child is killed, the program never ran)
// Thread-safe as far as fork() is: the child only makes async-signal-safe
// calls, and everything it needs is prepared before fork.
Result<SpawnedProcess> spawn(const SpawnRequest& request);

}  // namespace dc
