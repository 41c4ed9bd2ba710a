#include "observe/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "observe/metrics.h"

namespace dc {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// A blocking client socket with a receive timeout, closed on destruction.
class Client {
 public:
  // Connects to 127.0.0.1:`port`, or to [::1]:`port` with `ipv6`.
  explicit Client(uint16_t port, std::chrono::milliseconds timeout = 3000ms, bool ipv6 = false) {
    fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (ipv6) {
      sockaddr_in6 addr{};
      addr.sin6_family = AF_INET6;
      addr.sin6_port = htons(port);
      addr.sin6_addr = in6addr_loopback;
      connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    } else {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    }
    EXPECT_TRUE(connected_) << "cannot connect to " << (ipv6 ? "[::1]:" : "127.0.0.1:") << port;
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(std::string_view data) const {
    ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
  }
  // Everything until the server closes (or the receive timeout).
  std::string read_all() const {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // True if the server closed the connection within the receive timeout.
  bool closed_by_server() const {
    char byte;
    return ::recv(fd_, &byte, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
};

Reply split(const std::string& raw) {
  Reply reply;
  const size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return reply;
  reply.status = std::stoi(raw.substr(9, 3));
  reply.head = raw.substr(0, end + 2);
  reply.body = raw.substr(end + 4);
  return reply;
}

Reply request(uint16_t port, std::string_view raw_request) {
  Client client(port);
  client.send(raw_request);
  return split(client.read_all());
}

Reply get(uint16_t port, std::string_view path) {
  return request(port, "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n");
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto family = registry_.counter("dc_poison_total", "Poison messages");
    ASSERT_TRUE(family);
    family.value()->with().inc(7);
  }

  void start(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(std::move(options));
    server_->route("/metrics", [this](const HttpRequest&) {
      return HttpResponse{200, std::string(kPrometheusContentType), registry_.render()};
    });
    server_->route("/healthz", [this](const HttpRequest&) {
      return healthy_ ? HttpResponse{200, "text/plain", "ok\n"} : HttpResponse{503, "text/plain", "broker down\n"};
    });
    server_->route("/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("handler bug"); });
    server_->route("/echo-query", [](const HttpRequest& r) { return HttpResponse{200, "text/plain", r.query}; });
    const Status started = server_->start();
    ASSERT_TRUE(started) << started.error().message();
    ASSERT_NE(server_->port(), 0);
  }

  MetricsRegistry registry_;
  std::atomic<bool> healthy_{true};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesMetrics) {
  start();
  const Reply reply = get(server_->port(), "/metrics");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, registry_.render());
  EXPECT_NE(reply.body.find("dc_poison_total 7\n"), std::string::npos);
  EXPECT_NE(reply.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(reply.head.find("Content-Length: " + std::to_string(reply.body.size()) + "\r\n"), std::string::npos);
  EXPECT_NE(reply.head.find("Connection: close\r\n"), std::string::npos);
}

TEST_F(HttpServerTest, HealthzReflectsTheCallback) {
  start();
  Reply reply = get(server_->port(), "/healthz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok\n");
  healthy_ = false;
  reply = get(server_->port(), "/healthz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, "broker down\n");
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  start();
  EXPECT_EQ(get(server_->port(), "/nope").status, 404);
  EXPECT_EQ(get(server_->port(), "/metrics/extra").status, 404);
}

TEST_F(HttpServerTest, QueryStringIsSeparatedFromPath) {
  start();
  const Reply reply = get(server_->port(), "/echo-query?a=1&b=2");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "a=1&b=2");
}

TEST_F(HttpServerTest, PostIs405WithAllow) {
  start();
  const Reply reply =
      request(server_->port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nsecret=body");
  EXPECT_EQ(reply.status, 405);
  EXPECT_NE(reply.head.find("Allow: GET, HEAD\r\n"), std::string::npos);
  // The request body is never echoed.
  EXPECT_EQ(reply.body.find("secret"), std::string::npos);
}

TEST_F(HttpServerTest, HeadHasHeadersButNoBody) {
  start();
  const Reply reply = request(server_->port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.body.empty());
  EXPECT_NE(reply.head.find("Content-Length: " + std::to_string(registry_.render().size())), std::string::npos);
}

TEST_F(HttpServerTest, MalformedRequestsAre400) {
  start();
  for (const char* garbage :
       {"hello\r\n\r\n", "GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics HTTP/9.9\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n", "G(T /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", "GET /metrics HTTP/1.1\r\nHost: x\r\n folded: line\r\n\r\n",
        "\x16\x03\x01\x02\x05\x01\x02\x01\xfc\x03\x03\n\n"}) {
    EXPECT_EQ(request(server_->port(), garbage).status, 400) << garbage;
  }
}

TEST_F(HttpServerTest, BadRequestLineIsAnsweredWithoutWaitingForTheHead) {
  start();
  Client client(server_->port());
  client.send("this is not http\r\n");  // no blank line follows
  const auto started = SteadyClock::now();
  EXPECT_EQ(split(client.read_all()).status, 400);
  EXPECT_LT(SteadyClock::now() - started, 1s);
}

TEST_F(HttpServerTest, OversizedHeadIs431) {
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  start(options);
  const std::string huge = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(4000, 'a') + "\r\n\r\n";
  EXPECT_EQ(request(server_->port(), huge).status, 431);
  // A request just under the limit is still served.
  const std::string fits = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(900, 'a') + "\r\n\r\n";
  EXPECT_EQ(request(server_->port(), fits).status, 200);
}

TEST_F(HttpServerTest, RequestArrivingInPiecesIsServed) {
  start();
  Client client(server_->port());
  client.send("GET /hea");
  std::this_thread::sleep_for(20ms);
  client.send("lthz HTTP/1.1\r\nHo");
  std::this_thread::sleep_for(20ms);
  client.send("st: x\r\n\r\n");
  EXPECT_EQ(split(client.read_all()).status, 200);
}

TEST_F(HttpServerTest, ThrowingHandlerIs500AndServerKeepsServing) {
  start();
  EXPECT_EQ(get(server_->port(), "/boom").status, 500);
  EXPECT_EQ(get(server_->port(), "/metrics").status, 200);
}

TEST_F(HttpServerTest, SilentClientDoesNotBlockOthersAndIsDroppedAtTheDeadline) {
  HttpServerOptions options;
  options.read_timeout = 1500ms;
  start(options);
  Client silent(server_->port(), 5000ms);
  std::this_thread::sleep_for(50ms);  // the server has accepted it by now

  const auto started = SteadyClock::now();
  EXPECT_EQ(get(server_->port(), "/metrics").status, 200);
  EXPECT_LT(SteadyClock::now() - started, 1000ms) << "a silent client delayed another one";

  const auto waiting = SteadyClock::now();
  EXPECT_TRUE(silent.closed_by_server());
  const auto waited = SteadyClock::now() - waiting;
  EXPECT_LT(waited, 3000ms) << "the silent client was not dropped at the read deadline";
}

TEST_F(HttpServerTest, ManyConcurrentClientsAreServed) {
  start();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (get(server_->port(), "/metrics").status == 200) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 100);
}

TEST_F(HttpServerTest, StopReturnsPromptlyWithAnIdleClientConnected) {
  start();
  Client idle(server_->port());
  idle.send("GET /metr");  // an unfinished request
  std::this_thread::sleep_for(50ms);
  const auto started = SteadyClock::now();
  server_->stop();
  EXPECT_LT(SteadyClock::now() - started, 500ms);
  EXPECT_TRUE(idle.closed_by_server());
  server_->stop();  // idempotent
}

TEST_F(HttpServerTest, BindingAPortInUseIsAClearError) {
  start();
  const std::string address = "127.0.0.1:" + std::to_string(server_->port());
  HttpServer second(HttpServerOptions{.listen = address});
  const Status status = second.start();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), Errc::io);
  EXPECT_NE(status.error().message().find(address), std::string::npos) << status.error().message();
  EXPECT_NE(status.error().message().find("in use"), std::string::npos) << status.error().message();
  // The first server is unaffected.
  EXPECT_EQ(get(server_->port(), "/metrics").status, 200);
}

TEST_F(HttpServerTest, StartTwiceIsAnError) {
  start();
  const Status again = server_->start();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::conflict);
}

TEST(HttpServerAddress, InvalidListenAddressIsInvalidArgument) {
  HttpServer server(HttpServerOptions{.listen = "127.0.0.1"});
  const Status status = server.start();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), Errc::invalid_argument);
  EXPECT_NE(status.error().message().find("'127.0.0.1'"), std::string::npos);
}

// Every listen address the configuration accepts can be served: IPv6
// literals and host names included (the same parser reads both).
TEST(HttpServerAddress, ListensOnIpv6AndOnHostNames) {
  auto healthz = [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok\n"}; };
  {
    HttpServer server(HttpServerOptions{.listen = "[::1]:0"});
    server.route("/healthz", healthz);
    const Status started = server.start();
    ASSERT_TRUE(started) << started.error().message();
    EXPECT_EQ(to_string(server.endpoint()), "[::1]:" + std::to_string(server.port()));
    Client client(server.port(), 3000ms, /*ipv6=*/true);
    client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(split(client.read_all()).body, "ok\n");
  }
  {
    HttpServer server(HttpServerOptions{.listen = "localhost:0"});
    server.route("/healthz", healthz);
    const Status started = server.start();
    ASSERT_TRUE(started) << started.error().message();
    EXPECT_EQ(server.endpoint().host, "localhost");
    EXPECT_GT(server.port(), 0);
    // "localhost" is 127.0.0.1 or ::1 depending on the system's hosts file.
    const bool v4 = [&] {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(server.port());
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
      ::close(fd);
      return ok;
    }();
    Client client(server.port(), 3000ms, /*ipv6=*/!v4);
    client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(split(client.read_all()).body, "ok\n");
  }
}

TEST(HttpServerAddress, ListensOnAllInterfaces) {
  HttpServer server(HttpServerOptions{.listen = "0.0.0.0:0"});
  server.route("/healthz", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok\n"}; });
  ASSERT_TRUE(server.start());
  EXPECT_EQ(get(server.port(), "/healthz").body, "ok\n");
}

}  // namespace
}  // namespace dc
