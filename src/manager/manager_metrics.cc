#include "manager/manager_metrics.h"

#include "observe/build_info.h"
#include "observe/process_metrics.h"

#include <string_view>
#include <utility>

namespace dc {
namespace {

template <class T>
T* must(Result<T*> family) {
  // Registration fails only for malformed names: a programming error.
  return family.ok() ? *family : nullptr;
}

}  // namespace

ManagerMetrics::ManagerMetrics() {
  auto* commands = must(registry_.counter("dc_commands_total", "Commands carried out, by outcome and delivery path",
                                          {"outcome", "path"}));
  const std::array<std::string_view, 2> outcomes{"executed", "not_executed"};
  const std::array<std::string_view, 2> paths{"broker", "poll"};
  for (size_t o = 0; o < outcomes.size(); ++o) {
    for (size_t p = 0; p < paths.size(); ++p) {
      const std::array<std::string_view, 2> labels{outcomes[o], paths[p]};
      commands_[o][p] = &commands->with(labels);
    }
  }
  poison_ = &must(registry_.counter("dc_poison_total", "Messages dead-lettered as poison"))->with();
  duplicates_ = &must(registry_.counter("dc_duplicates_total",
                                        "Deliveries of commands already claimed or finished (not run again)"))
                     ->with();
  other_manager_ =
      &must(registry_.counter("dc_other_manager_total", "Commands for apps of another manager (skipped)"))->with();
  reconnects_ =
      &must(registry_.counter("dc_broker_reconnects_total", "Reconnections to the broker after a loss"))->with();
  mode_ = must(registry_.gauge("dc_mode", "1 for the mode the manager is in", {"mode"}));
  for (ManagerMode mode : {ManagerMode::starting, ManagerMode::broker, ManagerMode::fallback}) {
    const std::array<std::string_view, 1> label{to_string(mode)};
    mode_->with(label);  // every mode renders, as 0 or 1
  }
  set_mode(ManagerMode::starting);
  apps_ = must(registry_.gauge("dc_apps", "Apps of this manager by status", {"status"}));
  auto* latency = must(
      registry_.histogram("dc_command_latency_seconds", "From issue to recorded outcome, by command", {"command"}));
  for (size_t i = 0; i < latency_.size(); ++i) {
    const std::array<std::string_view, 1> command{to_string(static_cast<CmdName>(i + 1))};
    latency_[i] = &latency->with(command);  // every command renders, from 0
  }
  // Fails only when the name is taken, which no other metric here does.
  (void)register_build_info(registry_);
  registry_.add_collector([this](std::string& out) {
    std::vector<AppStatusSample> apps;
    {
      std::lock_guard lock(app_states_mutex_);
      apps = app_states_;
    }
    out += format_app_status_metrics(apps);
  });
  add_process_metrics(registry_);
}

std::string format_app_status_metrics(const std::vector<AppStatusSample>& apps) {
  std::vector<Sample> running;
  std::vector<Sample> status;
  running.reserve(apps.size());
  status.reserve(apps.size());
  for (const auto& app : apps) {
    running.push_back(Sample{{app.app_id}, app.status == AppStatus::running ? 1.0 : 0.0});
    status.push_back(Sample{{app.app_id, std::string(to_string(app.status))}, 1.0});
  }
  std::string out;
  append_family(out, "dc_app_running", "gauge", "1 while the app runs, else 0; one series per app of this manager",
                {"app_id"}, running);
  append_family(out, "dc_app_status", "gauge", "The app's current status as a label (value 1); one series per app",
                {"app_id", "status"}, status);
  return out;
}

void ManagerMetrics::set_app_states(std::vector<AppStatusSample> apps) {
  std::lock_guard lock(app_states_mutex_);
  app_states_ = std::move(apps);
}

void ManagerMetrics::command_finished(CmdName command, CmdFlag flag, DeliveryPath path, double latency_seconds) {
  if (flag == CmdFlag::pending) return;
  const size_t o = flag == CmdFlag::executed ? 0 : 1;
  const size_t p = path == DeliveryPath::broker ? 0 : 1;
  commands_[o][p]->inc();
  const auto index = static_cast<size_t>(command) - 1;
  if (index < latency_.size()) latency_[index]->observe(latency_seconds);
}

uint64_t ManagerMetrics::commands(CmdFlag flag, DeliveryPath path) const {
  if (flag == CmdFlag::pending) return 0;
  return commands_[flag == CmdFlag::executed ? 0 : 1][path == DeliveryPath::broker ? 0 : 1]->value();
}

void ManagerMetrics::set_apps(const std::array<int64_t, 5>& by_status) {
  std::array<std::pair<std::string_view, double>, 5> values{};
  for (size_t i = 0; i < by_status.size(); ++i) {
    values[i] = {to_string(static_cast<AppStatus>(i)), static_cast<double>(by_status[i])};
  }
  apps_->set_all(values);
}

}  // namespace dc
