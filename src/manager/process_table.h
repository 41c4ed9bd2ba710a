// The app processes one manager supervises (SPEC §6.5): its children,
// spawned here, whose exit statuses it reaps, and processes an earlier
// instance of the manager started, re-adopted after a restart, whose end it
// can see but not how. A process is known by pid and start time.
//
// Tracked by pid, not by app: an exit ends only the process it belongs to.
// An old process of an app whose exit is collected late (a zombie reaped
// after a new START) never ends the supervision of the app's new process.
//
// Not thread-safe: the manager's event loop owns it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "process/exit_status.h"
#include "process/process_handle.h"
#include "process/spawn.h"
#include "process/stop.h"

namespace dc {

class ProcessTable {
 public:
  struct Exit {
    std::string app_id;
    ProcessHandle process;
    // nullopt: an adopted process (not our child); it ended, how is unknown.
    std::optional<ExitStatus> status;
    // It was the app's current process. false: an older process of the app
    // that a newer one had already replaced; its end changes nothing.
    bool current = true;
  };

  // The app's process while it is alive; nullopt once it has ended, even
  // if it is not reaped yet (a zombie does not run the app).
  std::optional<ProcessHandle> live(std::string_view app_id) const;
  bool running(std::string_view app_id) const { return live(app_id).has_value(); }

  // Spawns `request` (see spawn(): its before_exec runs before the program
  // does) and tracks the new process as request.app_id's. The app must not
  // have a live process; an ended one not collected yet is kept until
  // collect_exits() reports it as not current.
  Result<ProcessHandle> start(const SpawnRequest& request);

  // Tracks `process`, started by an earlier instance of this manager, as
  // `app_id`'s.
  void adopt(const std::string& app_id, const ProcessHandle& process);

  // Stops the app's process: SIGTERM to its group, SIGKILL after `timeout`
  // (process/stop.h), calling `tick` at least every 100 ms while it waits
  // (keep the broker connection alive). Without a process: StopHow
  // already_gone. The app has no process afterwards, unless the stop failed.
  Result<StopOutcome> stop(const std::string& app_id, std::chrono::milliseconds timeout,
                           const std::function<void()>& tick);

  // The processes that ended since the last call: children reaped here
  // (with their status) and adopted ones no longer alive. Each stops being
  // tracked; an app whose current process ended has no process afterwards.
  std::vector<Exit> collect_exits();

  // The apps with a tracked current process.
  std::vector<std::string> apps() const;
  size_t size() const { return current_.size(); }

 private:
  struct Entry {
    std::string app_id;
    ProcessHandle process;
    bool child = true;  // ours: reaped here; false: adopted
  };
  void forget(pid_t pid);

  std::map<pid_t, Entry> by_pid_;
  std::map<std::string, pid_t, std::less<>> current_;  // app id -> its current process
};

}  // namespace dc
