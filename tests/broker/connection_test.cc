// Connection against the real broker: login, the error taxonomy, fail-over
// and heartbeats.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "broker_test_util.h"

namespace dc::broker {
namespace {

using namespace std::chrono_literals;
using test::test_settings;

// A TCP port on 127.0.0.1 where nothing listens (bound, never listened).
int dead_port() { return 1; }

// A listening socket that never accepts nor speaks: the kernel completes the
// TCP handshake, the AMQP handshake never comes, as with a frozen broker.
class HungListener {
 public:
  HungListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot set up a listening socket";
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~HungListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  HungListener(const HungListener&) = delete;
  HungListener& operator=(const HungListener&) = delete;
  Endpoint endpoint() const { return {"127.0.0.1", port_}; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(Connection, ConnectsAndDescribesItselfWithoutPassword) {
  DC_REQUIRE_RABBIT();
  auto s = test_settings();
  s.password = "guest";
  auto conn = Connection::open(s);
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  EXPECT_TRUE(conn->usable());
  EXPECT_FALSE(conn->failure().has_value());
  EXPECT_GE(conn->fd(), 0);
  EXPECT_EQ(conn->endpoint(), s.endpoints.front());
  EXPECT_EQ(conn->heartbeat(), 10s);
  EXPECT_NE(conn->describe().find("guest@"), std::string::npos);
  EXPECT_EQ(conn->describe().find("guest@guest"), std::string::npos);
  EXPECT_TRUE(conn->close().ok());
  EXPECT_FALSE(conn->usable());
  EXPECT_EQ(conn->fd(), -1);
}

TEST(Connection, WrongPasswordIsAuthErrorThatSaysWhatToCheck) {
  DC_REQUIRE_RABBIT();
  auto s = test_settings();
  s.password = "not-the-password-123";
  auto conn = Connection::open(s);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.error().code(), Errc::auth) << conn.error().message();
  EXPECT_NE(conn.error().message().find("guest"), std::string::npos) << conn.error().message();
  EXPECT_NE(conn.error().message().find("rabbit_password"), std::string::npos) << conn.error().message();
  EXPECT_EQ(conn.error().message().find("not-the-password-123"), std::string::npos) << "password leaked";
  EXPECT_FALSE(conn.error().retryable());
}

TEST(Connection, UnknownVhostIsAccessRefused) {
  DC_REQUIRE_RABBIT();
  auto s = test_settings();
  s.vhost = "no-such-vhost";
  auto conn = Connection::open(s);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.error().code(), Errc::access_refused) << conn.error().message();
  EXPECT_NE(conn.error().message().find("no-such-vhost"), std::string::npos) << conn.error().message();
}

TEST(Connection, NothingListeningIsUnavailableQuickly) {
  DC_REQUIRE_RABBIT();
  auto s = test_settings();
  s.endpoints = {{"127.0.0.1", dead_port()}};
  const auto start = std::chrono::steady_clock::now();
  auto conn = Connection::open(s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.error().code(), Errc::unavailable) << conn.error().message();
  EXPECT_TRUE(conn.error().retryable());
  EXPECT_NE(conn.error().message().find("127.0.0.1:1"), std::string::npos) << conn.error().message();
  EXPECT_LT(took, 1s);
}

TEST(Connection, UnresolvableHostIsUnavailable) {
  DC_REQUIRE_RABBIT();
  auto s = test_settings();
  s.endpoints = {{"no-such-host.invalid", 5672}};
  auto conn = Connection::open(s);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.error().code(), Errc::unavailable) << conn.error().message();
  EXPECT_NE(conn.error().message().find("no-such-host.invalid"), std::string::npos) << conn.error().message();
}

TEST(Connection, FailsOverToTheNextHostInOrder) {
  DC_REQUIRE_RABBIT();
  auto s = test_settings();
  const Endpoint good = s.endpoints.front();
  s.endpoints = {{"127.0.0.1", dead_port()}, good};
  auto conn = Connection::open(s);
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  EXPECT_EQ(conn->endpoint(), good);
}

// Connection::open and how long it took.
std::pair<Result<Connection>, std::chrono::steady_clock::duration> timed_open(const ConnectionSettings& s) {
  const auto start = std::chrono::steady_clock::now();
  auto conn = Connection::open(s);
  return {std::move(conn), std::chrono::steady_clock::now() - start};
}

TEST(Connection, TheNodeJustLostIsTriedLast) {
  DC_REQUIRE_RABBIT();
  HungListener hung;
  auto s = test_settings();
  const Endpoint good = s.endpoints.front();
  s.endpoints = {hung.endpoint(), good};
  s.connect_timeout = 1500ms;
  // In list order, the hung node costs the whole connect timeout.
  auto [slow, slow_took] = timed_open(s);
  ASSERT_TRUE(slow.ok()) << slow.error().message();
  EXPECT_EQ(slow->endpoint(), good);
  EXPECT_GE(slow_took, 1400ms);
  // Named as the node just lost, it goes last: the next node answers at once.
  s.try_last = hung.endpoint();
  auto [fast, fast_took] = timed_open(s);
  ASSERT_TRUE(fast.ok()) << fast.error().message();
  EXPECT_EQ(fast->endpoint(), good);
  EXPECT_LT(fast_took, 1000ms) << "the hung node was tried first";
}

TEST(Connection, TheNodeTriedLastIsStillTriedWhenTheOthersFail) {
  DC_REQUIRE_RABBIT();
  auto s = test_settings();
  const Endpoint good = s.endpoints.front();
  s.endpoints = {good, {"127.0.0.1", dead_port()}};
  s.try_last = good;
  auto conn = Connection::open(s);
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  EXPECT_EQ(conn->endpoint(), good);
}

TEST(Connection, AllHostsDeadListsEveryFailure) {
  DC_REQUIRE_RABBIT();
  auto s = test_settings();
  s.endpoints = {{"127.0.0.1", dead_port()}, {"127.0.0.1", 2}};
  auto conn = Connection::open(s);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.error().code(), Errc::unavailable);
  EXPECT_NE(conn.error().message().find("127.0.0.1:1"), std::string::npos) << conn.error().message();
  EXPECT_NE(conn.error().message().find("127.0.0.1:2"), std::string::npos) << conn.error().message();
}

TEST(Connection, ShowsItsNameToTheBroker) {
  DC_REQUIRE_RABBIT();
  auto s = test_settings();
  s.connection_name = test::unique_name("dc-conn-name");
  auto conn = Connection::open(s);
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  const std::string out = test::rabbitmqctl("list_connections client_properties");
  EXPECT_NE(out.find(s.connection_name), std::string::npos) << out;
}

// With a 1 s heartbeat the broker drops a client that stays silent for about
// 2 s. A consumer idling in next() for well over that must stay connected,
// because next() sends heartbeats while it waits, and must then still
// receive a message.
TEST(Connection, IdleConsumerKeepsConnectionAliveWithHeartbeats) {
  DC_REQUIRE_RABBIT();
  CommandTopology t{test::unique_name("dc-hb-ex"), test::unique_name("dc-hb-q"), QueueType::classic};
  auto s = test_settings();
  s.heartbeat = 1s;
  auto conn = Connection::open(s);
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  EXPECT_EQ(conn->heartbeat(), 1s);
  ASSERT_TRUE(declare_command_topology(*conn, t).ok());
  auto consumer = Consumer::start(std::move(*conn), {t.queue, 1, ""});
  ASSERT_TRUE(consumer.ok()) << consumer.error().message();

  const auto until = std::chrono::steady_clock::now() + 4500ms;
  while (std::chrono::steady_clock::now() < until) {
    auto d = consumer->next(300ms);
    ASSERT_TRUE(d.ok()) << d.error().message();
    ASSERT_FALSE(d->has_value());
  }
  // Long work between waits: keepalive() covers it.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(400ms);
    ASSERT_TRUE(consumer->connection().keepalive().ok());
  }
  EXPECT_TRUE(consumer->connection().usable());

  auto pconn = Connection::open(test_settings());
  ASSERT_TRUE(pconn.ok());
  auto publisher = Publisher::create(std::move(*pconn));
  ASSERT_TRUE(publisher.ok());
  OutgoingMessage m;
  m.exchange = t.exchange;
  m.routing_key = t.queue;
  m.body = "{}";
  ASSERT_EQ(publisher->publish(m).outcome, PublishOutcome::confirmed);
  auto d = consumer->next(5s);
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_TRUE(d->has_value());
  EXPECT_TRUE(consumer->ack((*d)->delivery_tag).ok());
  test::delete_topology(t);
}

}  // namespace
}  // namespace dc::broker
