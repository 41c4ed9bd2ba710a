#include "manager/process_table.h"

#include <poll.h>

#include <algorithm>

namespace dc {

std::optional<ProcessHandle> ProcessTable::live(std::string_view app_id) const {
  auto it = current_.find(app_id);
  if (it == current_.end()) return std::nullopt;
  const ProcessHandle& process = by_pid_.at(it->second).process;
  if (!is_same_process(process)) return std::nullopt;
  return process;
}

Result<ProcessHandle> ProcessTable::start(const SpawnRequest& request) {
  auto spawned = spawn(request);
  if (!spawned) return spawned.error();
  const ProcessHandle process = spawned->process;
  by_pid_[process.pid] = Entry{request.app_id, process, /*child=*/true};
  current_[request.app_id] = process.pid;
  return process;
}

void ProcessTable::adopt(const std::string& app_id, const ProcessHandle& process) {
  by_pid_[process.pid] = Entry{app_id, process, /*child=*/false};
  current_[app_id] = process.pid;
}

void ProcessTable::forget(pid_t pid) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return;
  auto current = current_.find(it->second.app_id);
  if (current != current_.end() && current->second == pid) current_.erase(current);
  by_pid_.erase(it);
}

Result<StopOutcome> ProcessTable::stop(const std::string& app_id, std::chrono::milliseconds timeout,
                                       const std::function<void()>& tick) {
  auto it = current_.find(app_id);
  if (it == current_.end()) return StopOutcome{};
  const pid_t pid = it->second;
  auto stop = GracefulStop::begin(by_pid_.at(pid).process, timeout);
  if (!stop) return stop.error();
  Result<std::optional<StopOutcome>> outcome = std::optional<StopOutcome>();
  for (;;) {
    outcome = stop->poll();
    if (!outcome || *outcome) break;
    if (tick) tick();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(stop->next_deadline() - std::chrono::steady_clock::now());
    const auto wait = std::clamp(left, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
    pollfd pfd{stop->fd(), POLLIN, 0};
    (void)::poll(stop->fd() >= 0 ? &pfd : nullptr, stop->fd() >= 0 ? 1 : 0, static_cast<int>(wait.count()));
  }
  if (!outcome) return outcome.error();
  // GracefulStop reaped our child itself; an already-gone zombie is left to
  // collect_exits(), which will find it no longer tracked.
  forget(pid);
  return **outcome;
}

std::vector<ProcessTable::Exit> ProcessTable::collect_exits() {
  std::vector<Exit> exits;
  const auto ended = [&](pid_t pid, std::optional<ExitStatus> status) {
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) return;  // not an app process, or no longer tracked
    auto current = current_.find(it->second.app_id);
    exits.push_back(
        Exit{it->second.app_id, it->second.process, status, current != current_.end() && current->second == pid});
    forget(pid);
  };
  for (const ExitStatus& status : reap_children()) ended(status.pid, status);
  std::vector<pid_t> adopted_gone;
  for (const auto& [pid, entry] : by_pid_) {
    if (!entry.child && !is_same_process(entry.process)) adopted_gone.push_back(pid);
  }
  for (const pid_t pid : adopted_gone) ended(pid, std::nullopt);
  return exits;
}

std::vector<std::string> ProcessTable::apps() const {
  std::vector<std::string> ids;
  ids.reserve(current_.size());
  for (const auto& [app_id, pid] : current_) ids.push_back(app_id);
  return ids;
}

}  // namespace dc
