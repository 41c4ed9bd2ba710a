#include "http/server.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/raw_client.h"

namespace dc {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using test::RawClient;
using test::RawReply;
using test::split_reply;

RawReply request(uint16_t port, std::string_view raw_request) {
  RawClient client(port);
  client.send(raw_request);
  return split_reply(client.read_response());
}

RawReply get(uint16_t port, std::string_view path) {
  return request(port, "GET " + std::string(path) +
                           " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\nConnection: close\r\n\r\n");
}

HttpResponse text(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(std::move(options));
    server_->route("/metrics", [](const HttpRequest&) {
      HttpResponse response = text(200, "dc_poison_total 7\n");
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      return response;
    });
    server_->route("/healthz",
                   [this](const HttpRequest&) { return healthy_ ? text(200, "ok\n") : text(503, "broker down\n"); });
    server_->route("/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("handler bug"); });
    server_->route("/echo-query", [](const HttpRequest& r) { return text(200, r.query); });
    if (fallback_) server_->fallback(fallback_);
    const Status started = server_->start();
    ASSERT_TRUE(started) << started.error().message();
    ASSERT_NE(server_->port(), 0);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  std::atomic<bool> healthy_{true};
  HttpAsyncHandler fallback_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesMetrics) {
  start();
  const RawReply reply = get(server_->port(), "/metrics");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "dc_poison_total 7\n");
  EXPECT_NE(reply.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(reply.head.find("Content-Length: " + std::to_string(reply.body.size()) + "\r\n"), std::string::npos);
  EXPECT_NE(reply.head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(reply.head.find("Cache-Control: no-store\r\n"), std::string::npos);
}

TEST_F(HttpServerTest, HealthzReflectsTheCallback) {
  start();
  RawReply reply = get(server_->port(), "/healthz");
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
  const RawReply reply = get(server_->port(), "/echo-query?a=1&b=2");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "a=1&b=2");
}

TEST_F(HttpServerTest, PostIs405WithAllow) {
  start();
  const RawReply reply =
      request(server_->port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nsecret=body");
  EXPECT_EQ(reply.status, 405);
  EXPECT_NE(reply.head.find("Allow: GET, HEAD\r\n"), std::string::npos);
  // The request body is never echoed.
  EXPECT_EQ(reply.body.find("secret"), std::string::npos);
}

TEST_F(HttpServerTest, HeadHasHeadersButNoBody) {
  start();
  RawClient client(server_->port());
  client.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const RawReply reply = split_reply(client.read_all());
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.body.empty());
  EXPECT_NE(reply.head.find("Content-Length: " + std::to_string(std::string("dc_poison_total 7\n").size())),
            std::string::npos);
}

TEST_F(HttpServerTest, MalformedRequestsAre400) {
  start();
  for (const char* garbage :
       {"hello\r\n\r\n", "GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics HTTP/9.9\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n", "G(T /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", "\x16\x03\x01\x02\x05\x01\x02\x01\xfc\x03\x03\n\n"}) {
    EXPECT_EQ(request(server_->port(), garbage).status, 400) << garbage;
  }
}

TEST_F(HttpServerTest, BadRequestLineIsAnsweredWithoutWaitingForTheHead) {
  start();
  RawClient client(server_->port());
  client.send("this is not http\r\n");  // no blank line follows
  const auto started = SteadyClock::now();
  EXPECT_EQ(split_reply(client.read_all()).status, 400);
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

TEST_F(HttpServerTest, HeadOfAMegabyteIs431WithDefaultLimits) {
  start();
  RawClient client(server_->port(), 5000ms);
  client.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n");
  EXPECT_EQ(split_reply(client.read_response()).status, 431);
}

TEST_F(HttpServerTest, RequestArrivingInPiecesIsServed) {
  start();
  RawClient client(server_->port());
  client.send("GET /hea");
  std::this_thread::sleep_for(20ms);
  client.send("lthz HTTP/1.1\r\nHo");
  std::this_thread::sleep_for(20ms);
  client.send("st: x\r\n\r\n");
  EXPECT_EQ(split_reply(client.read_response()).status, 200);
}

TEST_F(HttpServerTest, ThrowingHandlerIs500AndServerKeepsServing) {
  start();
  EXPECT_EQ(get(server_->port(), "/boom").status, 500);
  EXPECT_EQ(get(server_->port(), "/metrics").status, 200);
}

TEST_F(HttpServerTest, SilentClientDoesNotBlockOthersAndIsDroppedAtTheDeadline) {
  HttpServerOptions options;
  options.request_timeout = 1500ms;
  start(options);
  RawClient silent(server_->port(), 5000ms);
  std::this_thread::sleep_for(50ms);  // the server has accepted it by now

  const auto started = SteadyClock::now();
  EXPECT_EQ(get(server_->port(), "/metrics").status, 200);
  EXPECT_LT(SteadyClock::now() - started, 1000ms) << "a silent client delayed another one";

  const auto waiting = SteadyClock::now();
  EXPECT_TRUE(silent.closed_by_server());
  EXPECT_LT(SteadyClock::now() - waiting, 3000ms) << "the silent client was not dropped at the deadline";
}

// A slowloris client: a head that keeps arriving, one byte at a time, never
// earns more time than the deadline.
TEST_F(HttpServerTest, HeadSentOneByteAtATimeIsDroppedAtTheDeadline) {
  HttpServerOptions options;
  options.request_timeout = 1000ms;
  start(options);
  RawClient slow(server_->port(), 200ms);
  const std::string head = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a') + "\r\n\r\n";
  const auto started = SteadyClock::now();
  bool dropped = false;
  for (const char c : head) {
    if (!slow.send(std::string_view(&c, 1))) {
      dropped = true;
      break;
    }
    if (slow.closed_by_server()) {  // waits up to 200 ms
      dropped = true;
      break;
    }
  }
  EXPECT_TRUE(dropped);
  EXPECT_LT(SteadyClock::now() - started, 2500ms);
  EXPECT_EQ(get(server_->port(), "/metrics").status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  RawClient client(server_->port());
  for (int i = 0; i < 3; ++i) {
    client.send("GET /echo-query?n=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const RawReply reply = split_reply(client.read_response());
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "n=" + std::to_string(i));
  }
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

TEST_F(HttpServerTest, ConnectionsOverTheLimitAreClosed) {
  HttpServerOptions options;
  options.max_connections = 2;
  start(options);
  RawClient first(server_->port(), 2000ms);
  RawClient second(server_->port(), 2000ms);
  std::this_thread::sleep_for(100ms);
  RawClient third(server_->port(), 2000ms);
  EXPECT_TRUE(third.closed_by_server());
  first.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(split_reply(first.read_response()).status, 200);
}

TEST_F(HttpServerTest, StopReturnsPromptlyWithAnIdleClientConnected) {
  start();
  RawClient idle(server_->port());
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

// --- bodies and the asynchronous handler ---

TEST_F(HttpServerTest, BodyOverTheLimitIs413BeforeItIsRead) {
  fallback_ = [](HttpRequest request, HttpResponder responder) {
    responder.respond(text(200, std::to_string(request.body.size())));
  };
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  start(options);
  // Only the head is sent: the answer does not wait for the body.
  RawClient client(server_->port());
  client.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  EXPECT_EQ(split_reply(client.read_response()).status, 413);
  // A chunked body that grows over the limit.
  RawClient chunked(server_->port());
  chunked.send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  chunked.send("400\r\n" + std::string(1024, 'a') + "\r\n0\r\n\r\n");
  EXPECT_EQ(split_reply(chunked.read_response()).status, 413);
  // At the limit it is served.
  EXPECT_EQ(
      request(server_->port(), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b'))
          .body,
      "1000");
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredBeforeTheBody) {
  fallback_ = [](HttpRequest request, HttpResponder responder) { responder.respond(text(200, request.body)); };
  start();
  RawClient client(server_->port());
  client.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(split_reply(client.read_response()).status, 100);
  client.send("hello");
  const RawReply reply = split_reply(client.read_response());
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "hello");
}

TEST_F(HttpServerTest, AsynchronousAnswerFromAnotherThread) {
  std::vector<std::thread> workers;
  std::mutex mutex;
  fallback_ = [&](HttpRequest request, HttpResponder responder) {
    std::lock_guard lock(mutex);
    workers.emplace_back([request = std::move(request), responder] {
      std::this_thread::sleep_for(50ms);
      HttpResponse response =
          text(202, request.method + " " + request.path + " " + std::string(request.header("x-ID")));
      response.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: injected");
      responder.respond(response);
      responder.respond(text(500, "second answer is ignored"));
    });
  };
  start();
  auto client = HttpClient::create(url());
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {
    auto response = (*client)->request("PUT", "/thing", "{}", {{"X-Id", std::to_string(i)}});
    EXPECT_TRUE(response) << response.error().message();
    if (!response) continue;
    EXPECT_EQ(response->status, 202);
    EXPECT_EQ(response->body, "PUT /thing " + std::to_string(i));
    for (const auto& [name, value] : response->headers) EXPECT_NE(name, "Set-Cookie");
  }
  std::lock_guard lock(mutex);
  for (auto& worker : workers) worker.join();
}

TEST_F(HttpServerTest, ResponderDroppedWithoutAnswerIs500) {
  fallback_ = [](HttpRequest, HttpResponder) {};
  start();
  auto client = HttpClient::create(url());
  ASSERT_TRUE(client);
  auto response = (*client)->request("GET", "/dropped");
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 500);
}

TEST_F(HttpServerTest, ErrorBodiesCanBeReplaced) {
  HttpServerOptions options;
  options.max_body_bytes = 10;
  server_ = std::make_unique<HttpServer>(options);
  server_->fallback([](HttpRequest, HttpResponder responder) { responder.respond(text(200, "ok")); });
  server_->error_body([](int status, std::string detail) {
    HttpResponse response;
    response.status = status;
    response.content_type = "application/problem+json";
    response.body = "{\"status\":" + std::to_string(status) + ",\"detail\":\"" + detail + "\"}";
    return response;
  });
  ASSERT_TRUE(server_->start());
  const RawReply reply = request(server_->port(), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
  EXPECT_EQ(reply.status, 413);
  EXPECT_NE(reply.head.find("application/problem+json"), std::string::npos);
  EXPECT_NE(reply.body.find("\"status\":413"), std::string::npos);
}

// --- event streams ---

class StreamTest : public HttpServerTest {
 protected:
  void SetUp() override {
    fallback_ = [this](HttpRequest, HttpResponder responder) {
      HttpResponse head;
      head.content_type = "text/event-stream";
      auto stream = responder.stream(head);
      ASSERT_NE(stream, nullptr);
      stream->on_close([this] { ++closed_; });
      std::lock_guard lock(mutex_);
      streams_.push_back(stream);
    };
  }
  std::shared_ptr<HttpStream> wait_for_stream(size_t index) {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(mutex_);
        if (streams_.size() > index) return streams_[index];
      }
      std::this_thread::sleep_for(10ms);
    }
    return nullptr;
  }
  std::mutex mutex_;
  std::vector<std::shared_ptr<HttpStream>> streams_;
  std::atomic<int> closed_{0};
};

TEST_F(StreamTest, EventsReachTheClientInOrder) {
  start();
  auto client = HttpClient::create(url());
  ASSERT_TRUE(client);
  auto reader = (*client)->open_events("/events");
  ASSERT_TRUE(reader) << reader.error().message();
  EXPECT_EQ((*reader)->head().status, 200);
  EXPECT_EQ((*reader)->head().content_type, "text/event-stream");
  auto stream = wait_for_stream(0);
  ASSERT_NE(stream, nullptr);
  for (int i = 1; i <= 50; ++i) ASSERT_TRUE(stream->send(format_sse_event(std::to_string(i), "tick", "line")));
  std::vector<SseEvent> got;
  while (got.size() < 50) {
    auto events = (*reader)->next(5s);
    ASSERT_TRUE(events) << events.error().message();
    for (auto& e : *events) got.push_back(e);
  }
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[static_cast<size_t>(i)].id, std::to_string(i + 1));
    EXPECT_EQ(got[static_cast<size_t>(i)].event, "tick");
  }
  // Nothing more: a short wait times out, and the stream stays usable.
  auto none = (*reader)->next(100ms);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Errc::timeout);
  ASSERT_TRUE(stream->send(format_sse_event("51", "tick", "x")));
  auto more = (*reader)->next(5s);
  ASSERT_TRUE(more) << more.error().message();
  EXPECT_EQ(more->front().id, "51");
  // The server ends it.
  stream->close();
  auto after = (*reader)->next(5s);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code(), Errc::unavailable);
  for (int i = 0; i < 100 && closed_.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(closed_.load(), 1);
}

TEST_F(StreamTest, ClientLeavingIsNoticed) {
  start();
  {
    RawClient client(server_->port());
    client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_NE(wait_for_stream(0), nullptr);
  }
  for (int i = 0; i < 200 && closed_.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(closed_.load(), 1);
  EXPECT_FALSE(streams_[0]->is_open());
  EXPECT_FALSE(streams_[0]->send("data: late\n\n"));
}

TEST_F(StreamTest, ClientThatDoesNotReadIsDropped) {
  HttpServerOptions options;
  options.max_stream_buffer = 256 * 1024;
  start(options);
  RawClient client(server_->port());
  client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  auto stream = wait_for_stream(0);
  ASSERT_NE(stream, nullptr);
  const auto chunk = std::make_shared<const std::string>(format_sse_event("", "", std::string(16 * 1024, 'x')));
  int sent = 0;
  while (stream->send(chunk) && sent < 10000) ++sent;
  // The kernel's socket buffers take some, then the queue hits its bound.
  EXPECT_LT(sent, 10000);
  for (int i = 0; i < 200 && closed_.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(closed_.load(), 1);
  EXPECT_FALSE(stream->is_open());
}

TEST_F(StreamTest, StopEndsOpenStreams) {
  start();
  RawClient client(server_->port());
  client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_NE(wait_for_stream(0), nullptr);
  server_->stop();
  EXPECT_EQ(closed_.load(), 1);
  EXPECT_FALSE(streams_[0]->send("data: after stop\n\n"));
}

// --- addresses ---

TEST(HttpServerAddress, InvalidListenAddressIsInvalidArgument) {
  HttpServer server(HttpServerOptions{.listen = "127.0.0.1"});
  const Status status = server.start();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), Errc::invalid_argument);
  EXPECT_NE(status.error().message().find("'127.0.0.1'"), std::string::npos);
}

TEST(HttpServerAddress, ListensOnIpv6AndOnHostNames) {
  auto healthz = [](const HttpRequest&) { return text(200, "ok\n"); };
  {
    HttpServer server(HttpServerOptions{.listen = "[::1]:0"});
    server.route("/healthz", healthz);
    const Status started = server.start();
    ASSERT_TRUE(started) << started.error().message();
    EXPECT_EQ(server.address(), "[::1]:" + std::to_string(server.port()));
    RawClient client(server.port(), 3000ms, /*ipv6=*/true);
    client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(split_reply(client.read_response()).body, "ok\n");
  }
  {
    HttpServer server(HttpServerOptions{.listen = "localhost:0"});
    server.route("/healthz", healthz);
    const Status started = server.start();
    ASSERT_TRUE(started) << started.error().message();
    EXPECT_GT(server.port(), 0);
    // "localhost" is 127.0.0.1 or ::1 depending on the system's hosts file.
    auto client = HttpClient::create("http://" + server.address());
    ASSERT_TRUE(client);
    auto response = (*client)->request("GET", "/healthz");
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->body, "ok\n");
  }
}

TEST(HttpServerAddress, ListensOnAllInterfaces) {
  HttpServer server(HttpServerOptions{.listen = "0.0.0.0:0"});
  server.route("/healthz", [](const HttpRequest&) { return text(200, "ok\n"); });
  ASSERT_TRUE(server.start());
  EXPECT_EQ(get(server.port(), "/healthz").body, "ok\n");
}

// --- TLS ---

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dc-http-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
        (dir_ / "key.pem").string() + "' -out '" + (dir_ / "cert.pem").string() + "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(TlsTest, ServesHttpsAndRefusesPlainText) {
  HttpServerOptions options;
  options.tls_cert_file = (dir_ / "cert.pem").string();
  options.tls_key_file = (dir_ / "key.pem").string();
  options.request_timeout = 2000ms;
  HttpServer server(options);
  server.route("/healthz", [](const HttpRequest&) { return text(200, "ok\n"); });
  ASSERT_TRUE(server.start());
  const std::string port = std::to_string(server.port());

  HttpClientOptions verified;
  verified.tls_ca_file = (dir_ / "cert.pem").string();
  auto client = HttpClient::create("https://127.0.0.1:" + port, verified);
  ASSERT_TRUE(client) << client.error().message();
  for (int i = 0; i < 2; ++i) {  // the second one on the kept connection
    auto response = (*client)->request("GET", "/healthz");
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->body, "ok\n");
  }
  // Without the CA the certificate is refused.
  auto unverified = HttpClient::create("https://127.0.0.1:" + port);
  ASSERT_TRUE(unverified);
  EXPECT_FALSE((*unverified)->request("GET", "/healthz"));
  // Plain HTTP to the TLS port gets nothing useful.
  auto plain = HttpClient::create("http://127.0.0.1:" + port, HttpClientOptions{.timeout = 3000ms});
  ASSERT_TRUE(plain);
  auto response = (*plain)->request("GET", "/healthz");
  EXPECT_TRUE(!response || response->status != 200);
}

TEST_F(TlsTest, MissingKeyFileIsAClearError) {
  HttpServerOptions options;
  options.tls_cert_file = (dir_ / "cert.pem").string();
  options.tls_key_file = (dir_ / "nope.pem").string();
  HttpServer server(options);
  const Status status = server.start();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), Errc::invalid_argument);
  EXPECT_NE(status.error().message().find("nope.pem"), std::string::npos);
}

}  // namespace
}  // namespace dc
