#include "manager/scheduler.h"

#include <spdlog/spdlog.h>

#include "manager/decisions.h"
#include "schedule/schedule.h"

namespace dc {

void Scheduler::tick() {
  AppFilter filter{runner_.name()};
  filter.scheduled_only = true;
  auto apps = store_.list_apps(filter);
  if (!apps) {
    spdlog::warn("schedule: listing the scheduled apps failed: {}", apps.error().message());
    return;
  }
  const TimePoint t = now();
  const auto set_next = [&](const App& app, std::optional<TimePoint> at) {
    if (auto st = store_.set_next_run(app.app_id, at); !st) {
      spdlog::warn("schedule: recording the next run of {} failed: {}", app.app_id, st.error().message());
    }
  };
  for (const auto& app : *apps) {
    if (!app.schedule) continue;
    auto schedule = parse_schedule(*app.schedule);
    if (!schedule) {
      spdlog::warn("schedule: app {} has an unreadable schedule '{}': {}", app.app_id, *app.schedule,
                   schedule.error().message());
      continue;
    }
    if (!app.next_run_at) {
      set_next(app, schedule->next_run(app.started_at, t));
      continue;
    }
    switch (schedule_action(app, processes_.running(app.app_id), t, misfire_grace_)) {
      case ScheduleAction::wait:
        break;
      case ScheduleAction::skip_missed:
        spdlog::info("schedule: the run of {} due at {} was missed; skipped (no catch-up), next one scheduled",
                     app.app_id, format_iso8601(*app.next_run_at));
        set_next(app, schedule->next_after(t));
        break;
      case ScheduleAction::start: {
        AppState s = CommandRunner::state_of(app);
        auto started = runner_.start_app(app, "schedule", "{}", s);
        if (started) {
          spdlog::info("schedule started app {} (pid {})", app.app_id, started->pid);
        } else {
          s.status = AppStatus::failed;
          s.pid.reset();
          s.proc_start.reset();
          spdlog::warn("schedule could not start app {}: {}", app.app_id, started.error().message());
          if (auto st = store_.set_app_state(app.app_id, s); !st) {
            spdlog::warn("schedule: recording the failed start of {} failed: {}", app.app_id, st.error().message());
          }
        }
        set_next(app, schedule->next_after(t));
        break;
      }
    }
  }
}

}  // namespace dc
