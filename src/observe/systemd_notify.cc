#include "observe/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/unique_fd.h"

namespace dc {

SystemdNotifier SystemdNotifier::from_environment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  std::optional<std::chrono::microseconds> watchdog;
  if (const char* usec = std::getenv("WATCHDOG_USEC"); usec != nullptr) {
    const char* pid = std::getenv("WATCHDOG_PID");
    char* end = nullptr;
    const long long value = std::strtoll(usec, &end, 10);
    const bool ours = pid == nullptr || std::strtoll(pid, nullptr, 10) == ::getpid();
    if (end != usec && *end == '\0' && value > 0 && ours) watchdog = std::chrono::microseconds(value);
  }
  return SystemdNotifier(socket != nullptr ? socket : "", watchdog);
}

std::optional<std::chrono::microseconds> SystemdNotifier::watchdog_interval() const {
  if (!watchdog_) return std::nullopt;
  return *watchdog_ / 2;
}

Status SystemdNotifier::send(std::string_view message) {
  if (socket_.empty()) return ok_status();
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(address.sun_path)) {
    return Error(Errc::invalid_argument, "NOTIFY_SOCKET '" + socket_ + "' is longer than a socket path may be");
  }
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  if (socket_.front() == '@') {
    address.sun_path[0] = '\0';  // abstract namespace
  } else {
    ++length;  // the terminating NUL of a path
  }
  const UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error(Errc::io, std::string("notify socket: ") + std::strerror(errno));
  const ssize_t sent = ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  const int err = errno;
  if (sent < 0) return Error(Errc::io, "sending to NOTIFY_SOCKET " + socket_ + ": " + std::strerror(err));
  return ok_status();
}

Status SystemdNotifier::ready(std::string_view status) {
  std::string message = "READY=1";
  if (!status.empty()) message += "\nSTATUS=" + std::string(status);
  return send(message);
}

Status SystemdNotifier::status(std::string_view status) { return send("STATUS=" + std::string(status)); }
Status SystemdNotifier::watchdog() { return send("WATCHDOG=1"); }
Status SystemdNotifier::stopping() { return send("STOPPING=1"); }

}  // namespace dc
