// The service manager's readiness protocol (sd_notify(3)), without
// libsystemd: datagrams of "KEY=VALUE" lines to the unix socket named by
// $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). A unit
// with Type=notify learns when the daemon is ready (READY=1), what it is
// doing (STATUS=...), that its loop still turns (WATCHDOG=1, at least every
// $WATCHDOG_USEC / 2), and that it is stopping (STOPPING=1).
//
// Without $NOTIFY_SOCKET (not run by systemd) every call is a no-op that
// succeeds. Thread-safe: sends are single datagrams.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace dc {

class SystemdNotifier {
 public:
  // Reads $NOTIFY_SOCKET and $WATCHDOG_USEC (and $WATCHDOG_PID: the watchdog
  // is ours only when it names this process or is unset).
  static SystemdNotifier from_environment();
  // For tests: an explicit socket ("" = off) and watchdog interval.
  SystemdNotifier(std::string socket, std::optional<std::chrono::microseconds> watchdog)
      : socket_(std::move(socket)), watchdog_(watchdog) {}

  bool enabled() const { return !socket_.empty(); }
  // How often WATCHDOG=1 must be sent (half the unit's WatchdogSec), or
  // nullopt when there is no watchdog.
  std::optional<std::chrono::microseconds> watchdog_interval() const;

  Status ready(std::string_view status = {});
  Status status(std::string_view status);
  Status watchdog();
  Status stopping();
  // Any message, e.g. "RELOADING=1".
  Status send(std::string_view message);

 private:
  std::string socket_;
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace dc
