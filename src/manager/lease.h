// A manager's lease on its name (SPEC §6.7): one live manager per name.
//
// The lease is a managers row carrying this process's random instance id.
// A thread of its own, on a store connection of its own, refreshes it every
// heartbeat interval, so nothing the event loop does (a 30 s STOP, a long
// broadcast, a reconnect that blocks) lets it lapse. Times are the
// database's clock (Store::acquire_lease), so hosts with skewed clocks
// agree on expiry.
//
// Fencing: when a heartbeat finds the row carrying another instance, the
// lease was taken over (this process was frozen or cut off from the
// database past the lease time); fenced() turns true and stays true: stop
// acting at once, leave the apps (the new holder adopted them) and the row
// alone. Claims and finishes are fenced in the database too (Claimer). And
// may_act() is false whenever the last heartbeat is not recent enough to
// prove the lease is still held (lease_confirmed), e.g. right after the
// process was frozen: carry nothing out until one is.
//
// Thread-safe: may_act(), fenced(), set_mode() and instance() from any
// thread; acquire() and release() from the owner.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "base/result.h"
#include "store/store.h"

namespace dc {

class Lease {
 public:
  // Takes the lease for `self` (self.instance set, unique per process) and
  // starts the heartbeat. A holder on this host whose pid is gone (killed
  // -9) left a stale lease: it is taken over at once rather than after
  // `ttl`. Errors: conflict (a live manager holds the name, the message says
  // which), the store's.
  static Result<std::unique_ptr<Lease>> acquire(std::string_view db_url, ManagerRecord self,
                                                std::chrono::milliseconds ttl, std::chrono::milliseconds heartbeat);
  ~Lease();  // stops the heartbeat without releasing
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // The loop may carry out effects: not fenced, and the last successful
  // heartbeat was sent recently enough (lease_confirmed).
  bool may_act() const;
  bool fenced() const { return fenced_.load(); }
  // Reported by the next heartbeat, which is sent at once.
  void set_mode(ManagerMode mode);
  const std::string& instance() const { return self_.instance; }
  std::chrono::milliseconds ttl() const { return ttl_; }

  // Stops the heartbeat and marks the lease stopped. Does nothing to the
  // row when fenced (it is another instance's).
  Status release();

 private:
  Lease(std::unique_ptr<Store> store, ManagerRecord self, std::chrono::milliseconds ttl,
        std::chrono::milliseconds heartbeat);
  void run();
  void stop_thread();

  std::unique_ptr<Store> store_;  // the heartbeat thread's own connection
  ManagerRecord self_;
  std::chrono::milliseconds ttl_;
  std::chrono::milliseconds heartbeat_;
  std::atomic<int64_t> confirmed_ns_;  // steady_clock: when the last successful heartbeat was sent
  std::atomic<bool> fenced_{false};
  std::atomic<int> mode_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;          // guarded by mutex_
  bool mode_changed_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace dc
