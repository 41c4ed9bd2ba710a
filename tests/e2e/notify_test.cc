// dc-manager under a service manager (issue 16): with NOTIFY_SOCKET pointed
// at a datagram socket the test reads, the real dc-manager reports READY=1
// once it holds its lease and consumes, STATUS= with its mode, WATCHDOG=1
// from its loop every WATCHDOG_USEC / 2, and STOPPING=1 on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "e2e/e2e_fixture.h"
#include "support/notify_socket.h"

namespace dc::e2e {
namespace {

class E2eNotifyTest : public E2eTest {};

TEST_P(E2eNotifyTest, ReadyWatchdogAndStoppingReachTheServiceManager) {
  const test::NotifySocket socket(w().dir() + "/notify.sock");
  ASSERT_TRUE(socket.ok());
  const std::string& path = socket.path();

  const std::string manager = w().unique("mgr");
  ManagerProcess* m = start(manager, {{"NOTIFY_SOCKET", path}, {"WATCHDOG_USEC", "1000000"}});
  ASSERT_NE(m, nullptr);
  // Three seconds of a running manager: READY first, then pings every 0.5 s.
  const auto messages = socket.receive(std::chrono::seconds(3));
  ASSERT_FALSE(messages.empty()) << "dc-manager sent nothing to NOTIFY_SOCKET";
  EXPECT_EQ(test::count_containing(messages, "READY=1"), 1u);
  EXPECT_GE(test::count_containing(messages, "STATUS=mode broker"), 1u);
  EXPECT_GE(test::count_containing(messages, "WATCHDOG=1"), 5u) << "expected a ping every 0.5 s for 3 s";

  m->child->signal(SIGTERM);
  const auto code = m->child->wait(std::chrono::seconds(20));
  EXPECT_EQ(code, std::optional<int>(0));
  const auto last = socket.receive(std::chrono::milliseconds(500));
  EXPECT_EQ(test::count_containing(last, "STOPPING=1"), 1u);
}

DC_E2E_BACKENDS(E2eNotifyTest);

}  // namespace
}  // namespace dc::e2e
