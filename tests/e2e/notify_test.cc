// dc-manager under a service manager (issue 16): with NOTIFY_SOCKET pointed
// at a datagram socket the test reads, the real dc-manager reports READY=1
// once it holds its lease and consumes, STATUS= with its mode, WATCHDOG=1
// from its loop every WATCHDOG_USEC / 2, and STOPPING=1 on SIGTERM.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "e2e/e2e_fixture.h"

namespace dc::e2e {
namespace {

class E2eNotifyTest : public E2eTest {};

// Every datagram that arrives within `window` (at most 64).
std::vector<std::string> receive(int fd, std::chrono::milliseconds window) {
  std::vector<std::string> messages;
  const auto until = std::chrono::steady_clock::now() + window;
  while (messages.size() < 64) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return messages;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) return messages;
    char buffer[1024];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return messages;
    messages.emplace_back(buffer, static_cast<size_t>(n));
  }
  return messages;
}

size_t count_of(const std::vector<std::string>& messages, const std::string& needle) {
  size_t n = 0;
  for (const auto& m : messages) n += m.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

TEST_P(E2eNotifyTest, ReadyWatchdogAndStoppingReachTheServiceManager) {
  const std::string path = w().dir() + "/notify.sock";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(address.sun_path));
  std::memcpy(address.sun_path, path.data(), path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);

  const std::string manager = w().unique("mgr");
  ManagerProcess* m = start(manager, {{"NOTIFY_SOCKET", path}, {"WATCHDOG_USEC", "1000000"}});
  ASSERT_NE(m, nullptr);
  // Three seconds of a running manager: READY first, then pings every 0.5 s.
  const auto messages = receive(fd, std::chrono::seconds(3));
  ASSERT_FALSE(messages.empty()) << "dc-manager sent nothing to NOTIFY_SOCKET";
  EXPECT_EQ(count_of(messages, "READY=1"), 1u);
  EXPECT_GE(count_of(messages, "STATUS=mode broker"), 1u);
  EXPECT_GE(count_of(messages, "WATCHDOG=1"), 5u) << "expected a ping every 0.5 s for 3 s";

  m->child->signal(SIGTERM);
  const auto code = m->child->wait(std::chrono::seconds(20));
  EXPECT_EQ(code, std::optional<int>(0));
  const auto last = receive(fd, std::chrono::milliseconds(500));
  EXPECT_EQ(count_of(last, "STOPPING=1"), 1u);
  ::close(fd);
}

DC_E2E_BACKENDS(E2eNotifyTest);

}  // namespace
}  // namespace dc::e2e
