#include "manager/lease.h"

#include <signal.h>

#include <spdlog/spdlog.h>

#include <cerrno>

#include "manager/decisions.h"

namespace dc {
namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t steady_ns(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

bool pid_alive(int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

Result<std::unique_ptr<Lease>> Lease::acquire(std::string_view db_url, ManagerRecord self,
                                              std::chrono::milliseconds ttl, std::chrono::milliseconds heartbeat) {
  auto store = Store::open(db_url);
  if (!store) return store.error();
  const auto sent = SteadyClock::now();
  auto st = (*store)->acquire_lease(self, ttl);
  if (!st && st.error().code() == Errc::conflict) {
    // A holder on this host whose process is gone (killed -9, crashed) left
    // a stale lease: take it over at once instead of waiting for it to
    // expire. Another container on this host (its own pid namespace) is not
    // mistaken for it: its pid, whatever it is, is alive here or its host
    // name differs.
    auto managers = (*store)->list_managers();
    if (!managers) {
      spdlog::warn("reading the lease holder of '{}' failed: {}", self.name, managers.error().message());
    } else {
      for (const auto& m : *managers) {
        if (m.name == self.name && m.host == self.host && m.mode != ManagerMode::stopped && !pid_alive(m.pid)) {
          spdlog::warn("taking over the lease of manager '{}' from pid {} on this host, which is gone", m.name, m.pid);
          st = (*store)->acquire_lease(self, std::chrono::milliseconds(0));
          break;
        }
      }
    }
  }
  if (!st) return st.error();
  std::unique_ptr<Lease> lease(new Lease(std::move(*store), std::move(self), ttl, heartbeat));
  lease->confirmed_ns_.store(steady_ns(sent));
  lease->thread_ = std::thread([l = lease.get()] { l->run(); });
  return lease;
}

Lease::Lease(std::unique_ptr<Store> store, ManagerRecord self, std::chrono::milliseconds ttl,
             std::chrono::milliseconds heartbeat)
    : store_(std::move(store)),
      self_(std::move(self)),
      ttl_(ttl),
      heartbeat_(heartbeat),
      confirmed_ns_(0),
      mode_(static_cast<int>(ManagerMode::starting)) {}

Lease::~Lease() { stop_thread(); }

bool Lease::may_act() const {
  if (fenced_.load()) return false;
  const SteadyClock::time_point confirmed{std::chrono::nanoseconds(confirmed_ns_.load())};
  return lease_confirmed(confirmed, SteadyClock::now(), ttl_);
}

void Lease::set_mode(ManagerMode mode) {
  if (mode_.exchange(static_cast<int>(mode)) == static_cast<int>(mode)) return;
  std::lock_guard lock(mutex_);
  mode_changed_ = true;
  wake_.notify_all();
}

void Lease::run() {
  bool failing = false;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, heartbeat_, [&] { return stop_ || mode_changed_; });
    if (stop_) return;
    mode_changed_ = false;
    lock.unlock();
    const auto sent = SteadyClock::now();
    const auto mode = static_cast<ManagerMode>(mode_.load());
    const Status st = store_->heartbeat(self_.name, self_.instance, mode);
    if (st) {
      confirmed_ns_.store(steady_ns(sent));
      if (failing) spdlog::info("lease heartbeat of '{}' works again", self_.name);
      failing = false;
    } else if (st.error().code() == Errc::fenced || st.error().code() == Errc::not_found) {
      spdlog::error("lost the lease on name '{}': {}; stopping at once, leaving the apps to the new holder", self_.name,
                    st.error().message());
      fenced_.store(true);
      return;
    } else if (!failing) {
      failing = true;
      spdlog::warn("lease heartbeat of '{}' failed: {}; nothing is carried out until one succeeds", self_.name,
                   st.error().message());
    }
    lock.lock();
  }
}

void Lease::stop_thread() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Status Lease::release() {
  stop_thread();
  if (fenced_.load()) return ok_status();
  return store_->release_lease(self_.name, self_.instance);
}

}  // namespace dc
