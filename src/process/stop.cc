#include "process/stop.h"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace dc {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// While waiting for group members other than the leader (nothing wakes us
// when they end) or without a pidfd, check this often.
constexpr milliseconds kRecheckInterval{10};

bool fd_readable(int fd) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, 0) > 0 && (entry.revents & POLLIN) != 0;
}

milliseconds since(steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
}

}  // namespace

std::string_view to_string(StopHow how) {
  switch (how) {
    case StopHow::already_gone:
      return "already_gone";
    case StopHow::exited:
      return "exited";
    case StopHow::terminated:
      return "terminated";
    case StopHow::killed:
      return "killed";
  }
  return "unknown";
}

Result<GracefulStop> GracefulStop::begin(const ProcessHandle& process, milliseconds stop_timeout,
                                         milliseconds kill_timeout) {
  GracefulStop stop;
  stop.process_ = process;
  stop.started_ = steady_clock::now();
  stop.kill_at_ = stop.started_ + stop_timeout;
  stop.kill_timeout_ = kill_timeout;

  // Already ended: complete at once. If it is our unreaped child (a zombie
  // with our start time), collect its status; never reap a pid that now
  // names another process.
  auto already_gone = [&stop](bool ours_to_reap) -> Result<GracefulStop> {
    ExitStatus status{stop.process_.pid, {}, {}};
    if (ours_to_reap) {
      auto reaped = try_reap(stop.process_.pid);
      if (reaped && reaped->has_value()) status = **reaped;
    }
    stop.process_ended_ = true;
    stop.status_ = status;
    stop.phase_ = Phase::done;
    stop.outcome_ = StopOutcome{StopHow::already_gone, status, since(stop.started_)};
    return std::move(stop);
  };

  const auto stat = detail::read_proc_stat(process.pid);
  if (!stat || stat->start_time != process.start_time) return already_gone(false);
  if (stat->state == 'Z' || stat->state == 'X') return already_gone(true);

  auto pidfd = open_pidfd(process);
  if (pidfd) {
    stop.pidfd_ = std::move(*pidfd);
  } else if (pidfd.error().code() == Errc::not_found) {
    return already_gone(false);
  }
  // Without a pidfd (old kernel, fd limit) the process is tracked by pid
  // and start time instead.
  stop.leads_group_ = stat->process_group == process.pid;
  if (auto sent = stop.send(SIGTERM); !sent) return sent.error();
  return stop;
}

Status GracefulStop::send(int signal) {
  if (leads_group_) {
    auto sent = signal_group(process_.pid, signal);
    if (!sent) return sent.error().with_context("stopping process " + std::to_string(process_.pid));
  }
  if (process_ended_) return ok_status();
  if (pidfd_.valid()) {
    if (detail::pidfd_send_signal(pidfd_.get(), signal) != 0 && errno != ESRCH) {
      return Error(Errc::io, "stopping process " + std::to_string(process_.pid) + ": sending signal " +
                                 std::to_string(signal) + " failed: " + std::strerror(errno));
    }
  } else if (is_same_process(process_) && ::kill(process_.pid, signal) != 0 && errno != ESRCH) {
    return Error(Errc::io, "stopping process " + std::to_string(process_.pid) + ": sending signal " +
                               std::to_string(signal) + " failed: " + std::strerror(errno));
  }
  return ok_status();
}

void GracefulStop::note_exit(const ExitStatus& status) {
  if (status.pid != process_.pid || process_ended_) return;
  status_ = status;
  process_ended_ = true;
}

Result<std::optional<StopOutcome>> GracefulStop::poll() {
  if (outcome_) return std::optional<StopOutcome>(outcome_);

  if (!process_ended_) {
    auto reaped = try_reap(process_.pid);
    if (reaped) {
      if (reaped->has_value()) {
        status_ = **reaped;
        process_ended_ = true;
      }
    } else {
      // Not our child (re-adopted, or reaped by the owner's reaper without
      // note_exit): we can only see that it is gone.
      process_ended_ = pidfd_.valid() ? fd_readable(pidfd_.get()) : !is_same_process(process_);
    }
  }

  bool group_alive = false;
  if (leads_group_) {
    auto probe = signal_group(process_.pid, 0);
    if (!probe) return probe.error().with_context("stopping process " + std::to_string(process_.pid));
    group_alive = *probe && group_has_live_members(process_.pid);
  }

  if (process_ended_ && !group_alive) {
    StopHow how = StopHow::terminated;
    if (phase_ == Phase::killing) {
      how = StopHow::killed;
    } else if (status_ && status_->exit_code) {
      how = StopHow::exited;
    }
    phase_ = Phase::done;
    outcome_ = StopOutcome{how, status_.value_or(ExitStatus{process_.pid, {}, {}}), since(started_)};
    return std::optional<StopOutcome>(outcome_);
  }

  const auto now = steady_clock::now();
  if (phase_ == Phase::terminating && now >= kill_at_) {
    if (auto sent = send(SIGKILL); !sent) return sent.error();
    phase_ = Phase::killing;
    give_up_at_ = now + kill_timeout_;
  } else if (phase_ == Phase::killing && now >= give_up_at_) {
    return Error(Errc::timeout, "process " + std::to_string(process_.pid) +
                                    (process_ended_ ? " has ended but members of its process group are" : " is") +
                                    " still alive " + std::to_string(kill_timeout_.count()) +
                                    " ms after SIGKILL; it may be stuck in uninterruptible I/O (state D)");
  }
  return std::optional<StopOutcome>();
}

GracefulStop::Deadline GracefulStop::next_deadline() const {
  const auto now = steady_clock::now();
  if (phase_ == Phase::done) return now;
  const Deadline phase_deadline = phase_ == Phase::terminating ? kill_at_ : give_up_at_;
  // The pidfd wakes the caller when the leader ends; nothing wakes it for
  // other group members or without a pidfd.
  if (pidfd_.valid() && !process_ended_) return phase_deadline;
  return std::min(phase_deadline, now + kRecheckInterval);
}

Result<StopOutcome> GracefulStop::wait() {
  for (;;) {
    auto progress = poll();
    if (!progress) return progress.error();
    if (progress->has_value()) return **progress;
    const auto left = std::chrono::ceil<milliseconds>(next_deadline() - steady_clock::now());
    const auto nap = std::clamp(left, milliseconds{0}, milliseconds{1000});
    if (pidfd_.valid() && !process_ended_) {
      pollfd entry{pidfd_.get(), POLLIN, 0};
      ::poll(&entry, 1, static_cast<int>(nap.count()));
    } else {
      std::this_thread::sleep_for(std::min(nap, kRecheckInterval));
    }
  }
}

Result<StopOutcome> stop_process(const ProcessHandle& process, milliseconds stop_timeout) {
  auto stop = GracefulStop::begin(process, stop_timeout);
  if (!stop) return stop.error();
  return stop->wait();
}

}  // namespace dc
