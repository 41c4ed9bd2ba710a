// A small synchronous HTTP/1.1 client on Boost.Beast, for dcctl's remote
// mode, the tests and the benchmarks: one kept-alive connection to one base
// URL (http:// or https://), every call bounded by a deadline.
//
// Thread safety: an HttpClient is NOT safe for concurrent use; give each
// thread its own. An HttpEventReader is independent of the client that
// opened it (its own connection) and, likewise, for one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "http/server.h"
#include "http/sse.h"

namespace dc {

struct HttpClientOptions {
  // Bounds each request: connecting, sending and reading the whole response.
  std::chrono::milliseconds timeout{30000};
  // HTTPS: the CA file to verify the server with ("" = the system's), and
  // whether to verify its certificate and host name at all.
  std::string tls_ca_file{};
  bool tls_verify = true;
  // Responses larger than this are an error (Errc::protocol).
  size_t max_response_bytes = 64u << 20;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// An open event stream (GET that answers text/event-stream).
class HttpEventReader {
 public:
  virtual ~HttpEventReader() = default;
  // The status and head of the response that opened the stream.
  virtual const HttpResponse& head() const = 0;
  // Waits up to `timeout` for at least one complete event and returns every
  // complete event received so far (comments such as keep-alives are not
  // events). Errc::timeout when none came in time (the stream stays
  // usable); Errc::unavailable when the server closed the stream.
  virtual Result<std::vector<SseEvent>> next(std::chrono::milliseconds timeout) = 0;
  // Bytes received so far, comments included.
  virtual size_t bytes_received() const = 0;
};

class HttpClient {
 public:
  // Errc::invalid_argument for a URL that is not http(s)://host[:port][/base],
  // or a CA file that does not load.
  static Result<std::unique_ptr<HttpClient>> create(std::string_view base_url, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` `target` (appended to the URL's base path; may carry a
  // query) with `body` and `headers`, and returns the response whatever its
  // status. A body goes with Content-Type application/json unless `headers`
  // say otherwise. The connection is kept for the next call; when a kept
  // connection turns out closed by the server before it answered, the
  // request is sent once more on a new one. Errors: Errc::unavailable (no
  // connection, connection lost, TLS handshake refused), Errc::timeout,
  // Errc::protocol (not HTTP, response too large).
  Result<HttpResponse> request(std::string_view method, std::string_view target, std::string_view body = {},
                               const HttpHeaders& headers = {});

  // Opens an event stream on a connection of its own: GET `target` with
  // `headers` (e.g. Authorization, Last-Event-ID). A response that is not a
  // 200 is returned as an error-free reader whose head() tells the status
  // and whose next() reports the stream closed.
  Result<std::unique_ptr<HttpEventReader>> open_events(std::string_view target, const HttpHeaders& headers = {});

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dc
