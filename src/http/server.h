// An HTTP/1.1 server on Boost.Beast: one io_context run by a small pool of
// threads, every connection asynchronous (no thread per connection), so a
// thousand open event streams cost a thousand sockets, not a thousand
// threads. dc-manager serves /metrics and /healthz with it; dc-api serves its
// REST API, its event stream and the dashboard.
//
// Limits, each answered without reading further:
//   - the request head must arrive within request_timeout of the moment the
//     server starts waiting for it (a keep-alive connection idle that long
//     is closed; a client that sends its head a byte a second is dropped);
//   - a head over max_header_bytes is 431, a body over max_body_bytes is
//     413 (told from Content-Length before any of the body is read);
//   - a response must be taken within write_timeout;
//   - over max_connections open connections, new ones are closed at once.
// After an error reply (400, 408, 413, 431) the connection is closed.
// "Expect: 100-continue" is answered before the body is read.
//
// Handlers: route() registers a synchronous handler for GET and HEAD on one
// exact path (dc-manager's endpoints); fallback() takes every other request
// with an HttpResponder that may answer later, from any thread, or turn the
// response into an event stream (Server-Sent Events). With no route and no
// fallback for a path the server answers 404 (405 for a routed path and
// another method).
//
// TLS (OpenSSL) when tls_cert_file and tls_key_file are set: every
// connection is then HTTPS, the handshake bounded by request_timeout.
//
// Thread safety: configure (route, fallback, error_body) before start();
// after it, stop() and port() may be called from any thread. Handlers run on
// the server's threads, several at once: they must be thread-safe and must
// not block for long (hand slow work to threads of your own and answer
// through the HttpResponder).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace dc {

namespace http_detail {
struct ServerCore;
}  // namespace http_detail

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // as sent: "/api/v1/apps?manager=m1"
  std::string path;    // the target up to '?', not percent-decoded
  std::string query;   // after '?', without it; may be empty
  // Header fields in arrival order; names as sent (compare with header()).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // the client's address, "ip:port"
  // The value of the first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Further header fields; line breaks in names or values are removed.
  std::vector<std::pair<std::string, std::string>> headers{};
};

// A synchronous handler; an exception it throws becomes a 500 response.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// An open Server-Sent Events (or any never-ending) response body.
// Thread-safe; every member may be called from any thread.
class HttpStream {
 public:
  virtual ~HttpStream() = default;
  // Queues `data` to be written. Returns false, and closes the stream, when
  // the stream is closed or the bytes queued and not yet written would go
  // over the server's max_stream_buffer (a client that does not read is
  // dropped rather than allowed to grow memory).
  virtual bool send(std::shared_ptr<const std::string> data) = 0;
  bool send(std::string data) { return send(std::make_shared<const std::string>(std::move(data))); }
  // Closes the connection after what is queued has been written.
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  // Bytes queued and not yet written to the client.
  virtual size_t queued_bytes() const = 0;
  // Called once, on a server thread, when the stream ends for any reason
  // (client gone, write timeout, too slow, close(), server stop). Set it
  // before the stream can end to be sure to hear of it: when already ended,
  // it is called at once.
  virtual void on_close(std::function<void()> callback) = 0;
};

// The answer to one request, owed by a fallback handler. Copyable handle;
// the first respond() or stream() wins, later calls do nothing. When every
// copy is dropped without an answer, the client gets a 500.
class HttpResponder {
 public:
  void respond(HttpResponse response) const;
  // Sends `head` (status and headers; its body is ignored) with no length,
  // and returns the open stream that carries the body until it closes.
  // Returns nullptr when the connection is already gone.
  std::shared_ptr<HttpStream> stream(HttpResponse head) const;

  struct State;  // the connection's side; opaque
  explicit HttpResponder(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

using HttpAsyncHandler = std::function<void(HttpRequest, HttpResponder)>;

struct HttpServerOptions {
  // "host:port", "[v6]:port"; "0.0.0.0" and "[::]" listen on every
  // interface, a host name on the first of its addresses that binds. Port 0
  // picks a free port (read it back with port()).
  std::string listen = "127.0.0.1:0";
  int threads = 1;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  size_t max_header_bytes = 8192;
  size_t max_body_bytes = 65536;
  size_t max_connections = 64;
  size_t max_stream_buffer = 1 << 20;  // bytes queued per stream before the client is dropped
  // PEM files; both set: HTTPS.
  std::string tls_cert_file{};
  std::string tls_key_file{};
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  // Stops the server (see stop()).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves `handler` for GET and HEAD on exactly `path` (e.g. "/metrics").
  // A later call for the same path replaces the handler.
  void route(std::string path, HttpHandler handler);
  // Takes every request no route() matches.
  void fallback(HttpAsyncHandler handler);
  // The body of the server's own error replies (400, 404, 405, 408, 413,
  // 431, 500): by default text/plain. `status` and a sentence saying why.
  void error_body(std::function<HttpResponse(int status, std::string detail)> make);

  // Binds, listens and starts the threads. Errors: Errc::invalid_argument
  // for an unparsable listen address or TLS files that do not load (naming
  // the file); Errc::io when the host does not resolve or no address can be
  // bound (port in use, address not local), naming the address;
  // Errc::conflict if already started.
  Status start();

  // The bound port (useful with port 0); 0 before start().
  uint16_t port() const { return port_; }
  // The bound address with its port, e.g. "127.0.0.1:41234", "[::1]:8080".
  const std::string& address() const { return address_; }
  // Open connections now.
  size_t connections() const;
  // True when the server's threads run a task posted to them within
  // `timeout`: its event loop turns (what a service manager's watchdog asks).
  // False before start(), after stop(), or when every thread is stuck.
  // Call it from the thread that calls start() and stop().
  bool responsive(std::chrono::milliseconds timeout) const;

  // Closes the listening socket and every connection (open streams end)
  // and joins the threads. Returns promptly whatever the clients do;
  // idempotent. Must not be called from a handler.
  void stop();

 private:
  HttpServerOptions options_;
  std::map<std::string, HttpHandler, std::less<>> routes_;
  HttpAsyncHandler fallback_;
  std::function<HttpResponse(int, std::string)> error_body_;
  std::shared_ptr<http_detail::ServerCore> impl_;
  uint16_t port_ = 0;
  std::string address_;
};

}  // namespace dc
