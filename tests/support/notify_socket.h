// The service manager's end of sd_notify(3) for tests: a datagram socket
// bound to a path that a daemon under test gets as $NOTIFY_SOCKET, and what
// arrives on it. Lets a test check READY=1, STATUS=, WATCHDOG=1 and
// STOPPING=1 of a real program without a running systemd.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

namespace dc::test {

class NotifySocket {
 public:
  // Binds a datagram socket at `path` (which must not exist); ok() says
  // whether that worked.
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (fd_ < 0 || path_.size() >= sizeof(address.sun_path)) return;
    std::memcpy(address.sun_path, path_.data(), path_.size());
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    if (bound_) ::unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool ok() const { return bound_; }
  const std::string& path() const { return path_; }

  // Every datagram that arrives within `window` (at most 64).
  std::vector<std::string> receive(std::chrono::milliseconds window) const {
    std::vector<std::string> messages;
    const auto until = std::chrono::steady_clock::now() + window;
    while (messages.size() < 64) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      if (left <= 0) return messages;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) return messages;
      char buffer[1024];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return messages;
      messages.emplace_back(buffer, static_cast<size_t>(n));
    }
    return messages;
  }

  // Datagrams received until one contains `needle` or `timeout` passes; the
  // last one holds the needle unless time ran out.
  std::vector<std::string> receive_until(const std::string& needle, std::chrono::milliseconds timeout) const {
    std::vector<std::string> messages;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      for (auto& m : receive(std::min(left, std::chrono::milliseconds(100)))) {
        const bool found = m.find(needle) != std::string::npos;
        messages.push_back(std::move(m));
        if (found) return messages;
      }
    }
    return messages;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

// How many of `messages` contain `needle`.
inline size_t count_containing(const std::vector<std::string>& messages, const std::string& needle) {
  size_t n = 0;
  for (const auto& m : messages) n += m.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

}  // namespace dc::test
