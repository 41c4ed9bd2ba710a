// A tiny HTTP/1.1 server for /metrics and /healthz: plain POSIX sockets, one
// background thread, a poll() loop over the listening socket and up to
// HttpServerOptions::max_connections clients at once, so a slow or silent
// client never delays another one.
//
// It serves only GET and HEAD on exact paths registered with route(); every
// response carries `Connection: close` and the connection is closed after it.
// Replies: 404 unknown path, 405 other methods, 400 malformed request, 431
// request head over the size limit, 500 if a handler throws. A client that
// has not sent a complete request head within read_timeout is disconnected.
// Request bodies are never read into responses or logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "base/endpoint.h"
#include "base/result.h"

namespace dc {

struct HttpRequest {
  std::string method;  // "GET" or "HEAD"
  std::string path;    // the target without the query, e.g. "/metrics"
  std::string query;   // the part after '?', without it; may be empty
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on the server thread; must be thread-safe with respect to the rest
// of the program. An exception it throws becomes a 500 response.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // "host:port" or "[v6]:port" as parse_listen_address() (base/endpoint.h)
  // reads it: an IPv4 or IPv6 address ("0.0.0.0", "[::]": every interface)
  // or a host name, which listens on the first of its addresses that can be
  // bound. Port 0 picks a free port (read it back with port()).
  std::string listen = "127.0.0.1:0";
  // The whole request head must arrive within this time of the connect, and
  // the response must be taken within it too; otherwise the client is dropped.
  std::chrono::milliseconds read_timeout{5000};
  size_t max_header_bytes = 8192;
  // Further clients wait in the listen backlog until a slot frees.
  size_t max_connections = 32;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  // Stops the server (see stop()).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves `handler` for GET and HEAD on exactly `path` (e.g. "/metrics").
  // Must be called before start(); a later call for the same path replaces
  // the handler.
  void route(std::string path, HttpHandler handler);

  // Binds, listens and starts the server thread. Errors:
  // Errc::invalid_argument for an unparsable listen address; Errc::io when
  // the host name does not resolve or the socket cannot be bound (port in
  // use, address not local, permission), naming the address;
  // Errc::conflict if already started.
  Status start();

  // The bound port (useful with port 0); 0 before start().
  uint16_t port() const { return static_cast<uint16_t>(endpoint_.port); }
  // The listen address with the bound port, e.g. "[::1]:41234" through
  // to_string(); port 0 before start().
  const Endpoint& endpoint() const { return endpoint_; }

  // Closes the listening socket and all connections and joins the thread.
  // Returns within a few milliseconds whatever the clients do; idempotent.
  void stop();

 private:
  struct Loop;
  HttpServerOptions options_;
  std::map<std::string, HttpHandler, std::less<>> routes_;
  std::unique_ptr<Loop> loop_;  // listening socket, wake pipe; set while running
  std::thread thread_;
  Endpoint endpoint_;
};

}  // namespace dc
