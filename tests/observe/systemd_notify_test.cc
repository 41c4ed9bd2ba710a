#include "observe/systemd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace dc {
namespace {

// A datagram socket the test reads, standing in for systemd.
class FakeSystemd {
 public:
  explicit FakeSystemd(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    if (name_.front() == '@') {
      address.sun_path[0] = '\0';
    } else {
      ::unlink(name_.c_str());
      ++length;
    }
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  }
  ~FakeSystemd() {
    ::close(fd_);
    if (name_.front() != '@') ::unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  std::string next() {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 2000) <= 0) return "(nothing)";
    char buffer[512];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n < 0 ? "(error)" : std::string(buffer, static_cast<size_t>(n));
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SystemdNotify, SendsEachStateToAPathSocket) {
  const std::string path = "/tmp/dc-notify-test-" + std::to_string(::getpid());
  FakeSystemd systemd(path);
  ASSERT_TRUE(systemd.bound());
  SystemdNotifier notifier(path, std::chrono::seconds(4));
  EXPECT_TRUE(notifier.enabled());
  EXPECT_EQ(notifier.watchdog_interval(), std::chrono::microseconds(2'000'000));
  ASSERT_TRUE(notifier.ready("mode broker, 3 apps").ok());
  EXPECT_EQ(systemd.next(), "READY=1\nSTATUS=mode broker, 3 apps");
  ASSERT_TRUE(notifier.watchdog().ok());
  EXPECT_EQ(systemd.next(), "WATCHDOG=1");
  ASSERT_TRUE(notifier.status("mode fallback").ok());
  EXPECT_EQ(systemd.next(), "STATUS=mode fallback");
  ASSERT_TRUE(notifier.stopping().ok());
  EXPECT_EQ(systemd.next(), "STOPPING=1");
}

TEST(SystemdNotify, AbstractSocketsToo) {
  const std::string name = "@dc-notify-test-" + std::to_string(::getpid());
  FakeSystemd systemd(name);
  ASSERT_TRUE(systemd.bound());
  ASSERT_TRUE(SystemdNotifier(name, std::nullopt).ready().ok());
  EXPECT_EQ(systemd.next(), "READY=1");
}

TEST(SystemdNotify, WithoutASocketEverythingIsANoOp) {
  SystemdNotifier off("", std::nullopt);
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.watchdog_interval().has_value());
  EXPECT_TRUE(off.ready().ok());
  EXPECT_TRUE(off.stopping().ok());
}

TEST(SystemdNotify, AnUnreachableSocketIsAnErrorNotACrash) {
  SystemdNotifier gone("/tmp/dc-notify-nobody-listens-here", std::nullopt);
  EXPECT_FALSE(gone.ready().ok());
}

}  // namespace
}  // namespace dc
