#include "manager/recovery.h"

#include <spdlog/spdlog.h>

#include "manager/decisions.h"

namespace dc {

Status recover(Store& store, ProcessTable& processes, CommandRunner& runner) {
  auto apps = store.list_apps(AppFilter{runner.name()});
  if (!apps) return apps.error();
  for (const auto& app : *apps) {
    const bool had_process =
        app.status == AppStatus::running || app.status == AppStatus::starting || app.status == AppStatus::stopping;
    if (!had_process || !app.pid) continue;
    const ProcessHandle process{static_cast<pid_t>(*app.pid), app.proc_start.value_or(-1)};
    if (app.proc_start && is_same_process(process)) {
      processes.adopt(app.app_id, process);
      spdlog::info("re-adopted app {} (pid {})", app.app_id, *app.pid);
      if (app.status != AppStatus::running) {
        AppState s = CommandRunner::state_of(app);
        s.status = AppStatus::running;
        if (auto st = store.set_app_state(app.app_id, s); !st) return st;
      }
    } else {
      spdlog::warn("app {} (pid {}) is gone since the last run: marked FAILED (lost)", app.app_id, *app.pid);
      const AppState s = ended_state(CommandRunner::state_of(app), AppStatus::failed, std::nullopt, now());
      if (auto st = store.set_app_state(app.app_id, s); !st) return st;
    }
  }

  auto unfinished = store.claimed_unfinished(runner.name());
  if (!unfinished) return unfinished.error();
  for (const auto& row : *unfinished) {
    if (auto st = runner.finish_stranded(row); !st) return st;
  }
  return ok_status();
}

}  // namespace dc
