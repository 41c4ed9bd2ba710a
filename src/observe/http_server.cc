#include "observe/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <system_error>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "base/unique_fd.h"

namespace dc {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string errno_text(int err) { return std::system_category().message(err); }

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 200 && status < 300 ? "OK" : "Error";
  }
}

// A header value must not be able to start a new header line.
std::string strip_line_breaks(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c != '\r' && c != '\n') out += c;
  }
  return out;
}

std::string serialize(const HttpResponse& response, bool include_body, std::string_view extra_headers = {}) {
  const int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  std::string out;
  out.reserve(160 + (include_body ? response.body.size() : 0));
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += strip_line_breaks(response.content_type);
  out += "\r\nContent-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  if (include_body) out += response.body;
  return out;
}

HttpResponse plain(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body)};
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) { return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char); }

// Parses "METHOD SP target SP HTTP/1.x" (without the line break).
bool parse_request_line(std::string_view line, HttpRequest& request) {
  const size_t first = line.find(' ');
  if (first == std::string_view::npos) return false;
  const size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos) return false;
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (!is_token(method)) return false;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return false;
  if (target.empty() || target[0] != '/') return false;
  for (const char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return false;
  }
  const size_t question = target.find('?');
  request.method = std::string(method);
  request.path = std::string(target.substr(0, question));
  request.query = question == std::string_view::npos ? std::string() : std::string(target.substr(question + 1));
  return true;
}

// Header lines are "name: value"; obsolete line folding is refused.
bool header_lines_valid(std::string_view headers) {
  while (!headers.empty()) {
    const size_t end = headers.find('\n');
    std::string_view line = headers.substr(0, end);
    headers = end == std::string_view::npos ? std::string_view() : headers.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return false;
    for (const char c : line) {
      if (c == '\0' || c == '\r') return false;
    }
  }
  return true;
}

struct Connection {
  enum class State { reading, writing, draining };

  UniqueFd fd;
  State state = State::reading;
  SteadyClock::time_point deadline;
  std::string in;   // request head received so far (never logged)
  std::string out;  // response bytes
  size_t sent = 0;
  bool request_line_checked = false;
};

}  // namespace

// Everything the server thread owns. The thread is the only user of the
// listener and of the connections; stop() only writes to wake_write.
struct HttpServer::Loop {
  UniqueFd listener;
  UniqueFd wake_read;
  UniqueFd wake_write;
  HttpServerOptions options;
  std::map<std::string, HttpHandler, std::less<>> routes;  // copied at start: route() cannot race the thread
  std::vector<Connection> connections;
  SteadyClock::time_point accept_resume{};  // accepting pauses after EMFILE and friends

  void run();
  void run_once();
  void accept_new(SteadyClock::time_point now);
  void on_readable(Connection& conn, SteadyClock::time_point now);
  void on_writable(Connection& conn, SteadyClock::time_point now);
  void respond(Connection& conn, const HttpResponse& response, bool include_body, SteadyClock::time_point now,
               std::string_view extra_headers = {});
  HttpResponse dispatch(const HttpRequest& request) const;
  bool woken() const;
};

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string path, HttpHandler handler) { routes_[std::move(path)] = std::move(handler); }

namespace {

// Binds and listens on the first address of `results` that allows it.
// Returns the listener, or the last failure in words.
Result<UniqueFd> listen_on(const addrinfo* results) {
  std::string failure = "the host has no address";
  for (const addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd.valid()) {
      failure = "socket: " + errno_text(errno);
      continue;
    }
    // Lets a restarted manager bind while old connections sit in TIME_WAIT;
    // on Linux it does not let two listeners share a port.
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      const int err = errno;
      failure =
          errno_text(err) + (err == EADDRINUSE ? "; another process holds the port: choose another port or stop it"
                                               : "; check that the address is local and the port allowed");
      continue;
    }
    if (::listen(fd.get(), 64) != 0) {
      failure = "listen: " + errno_text(errno);
      continue;
    }
    return fd;
  }
  return Error(Errc::io, failure);
}

uint16_t bound_port(int fd) {
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return 0;
  if (bound.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
}

}  // namespace

Status HttpServer::start() {
  if (loop_) return Error(Errc::conflict, "HTTP server already started on " + to_string(endpoint_));
  auto address = parse_listen_address(options_.listen);
  if (!address) return address.error();
  const std::string where = "cannot serve HTTP on " + to_string(*address);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address->port);
  if (const int rc = ::getaddrinfo(address->host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Error(Errc::io, where + ": cannot resolve '" + address->host + "': " + ::gai_strerror(rc));
  }
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> results(found, ::freeaddrinfo);

  auto loop = std::make_unique<Loop>();
  loop->options = options_;
  loop->routes = routes_;
  auto listener = listen_on(results.get());
  if (!listener) return Error(Errc::io, where + ": " + listener.error().message());
  loop->listener = std::move(*listener);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) return Error(Errc::io, where + ": pipe: " + errno_text(errno));
  loop->wake_read = UniqueFd(pipe_fds[0]);
  loop->wake_write = UniqueFd(pipe_fds[1]);

  try {
    thread_ = std::thread([raw = loop.get()] { raw->run(); });
  } catch (const std::system_error& e) {
    return Error(Errc::io, where + ": cannot start the server thread: " + e.what());
  }
  endpoint_ = Endpoint{address->host, bound_port(loop->listener.get())};
  loop_ = std::move(loop);
  return ok_status();
}

void HttpServer::stop() {
  if (!loop_) return;
  // The pipe is non-blocking and only ever needs one byte: if it is full the
  // thread is already being woken.
  const char byte = 'x';
  [[maybe_unused]] const ssize_t written = ::write(loop_->wake_write.get(), &byte, 1);
  if (thread_.joinable()) thread_.join();
  loop_.reset();
}

bool HttpServer::Loop::woken() const {
  char byte;
  return ::read(wake_read.get(), &byte, 1) == 1;
}

void HttpServer::Loop::run() {
  // Nothing may escape the thread: an exception would call std::terminate.
  for (;;) {
    bool failed = false;
    try {
      if (woken()) break;
      run_once();
    } catch (const std::exception& e) {
      spdlog::error("metrics HTTP server: dropping {} connection(s) after an internal error: {}", connections.size(),
                    e.what());
      failed = true;
    } catch (...) {
      spdlog::error("metrics HTTP server: dropping {} connection(s) after an unknown internal error",
                    connections.size());
      failed = true;
    }
    if (failed) {
      connections.clear();
      // Back off so a persistent failure (e.g. poll out of memory) cannot
      // spin; stop() still wakes this wait at once.
      pollfd wake{wake_read.get(), POLLIN, 0};
      ::poll(&wake, 1, 100);
    }
  }
  connections.clear();
}

void HttpServer::Loop::run_once() {
  auto now = SteadyClock::now();
  std::erase_if(connections, [&](const Connection& c) { return now >= c.deadline; });

  const bool accepting = connections.size() < options.max_connections && now >= accept_resume;
  std::vector<pollfd> fds;
  fds.reserve(connections.size() + 2);
  fds.push_back({wake_read.get(), POLLIN, 0});
  fds.push_back({accepting ? listener.get() : -1, POLLIN, 0});
  SteadyClock::time_point next_wake = now + std::chrono::seconds(60);
  if (!accepting && accept_resume > now) next_wake = std::min(next_wake, accept_resume);
  for (const Connection& c : connections) {
    const short events = c.state == Connection::State::writing ? POLLOUT : POLLIN;
    fds.push_back({c.fd.get(), events, 0});
    next_wake = std::min(next_wake, c.deadline);
  }
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_wake - now);
  const int timeout_ms = static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, wait.count()));
  const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
  if (ready < 0) {
    if (errno == EINTR) return;
    throw std::system_error(errno, std::system_category(), "poll");
  }
  if (ready == 0) return;
  if ((fds[0].revents & POLLIN) != 0) return;  // run() reads the wake byte and exits

  now = SteadyClock::now();
  // Connections are handled before new ones are appended, so fds[i + 2]
  // still describes connections[i].
  for (size_t i = 0; i < connections.size(); ++i) {
    const short revents = fds[i + 2].revents;
    if (revents == 0) continue;
    Connection& conn = connections[i];
    if (conn.state == Connection::State::writing) {
      if ((revents & (POLLOUT | POLLERR | POLLHUP)) != 0) on_writable(conn, now);
    } else if ((revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      on_readable(conn, now);
    }
  }
  std::erase_if(connections, [](const Connection& c) { return !c.fd.valid(); });
  if (accepting && (fds[1].revents & POLLIN) != 0) accept_new(now);
}

void HttpServer::Loop::accept_new(SteadyClock::time_point now) {
  while (connections.size() < options.max_connections) {
    const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      // Out of descriptors or memory: the listener stays readable, so pause
      // instead of spinning on it.
      spdlog::warn("metrics HTTP server: accept failed: {}; pausing new connections for 100 ms", errno_text(err));
      accept_resume = now + std::chrono::milliseconds(100);
      return;
    }
    Connection conn;
    conn.fd = UniqueFd(fd);
    conn.deadline = now + options.read_timeout;
    connections.push_back(std::move(conn));
  }
}

void HttpServer::Loop::on_readable(Connection& conn, SteadyClock::time_point now) {
  char buf[4096];
  const ssize_t n = ::recv(conn.fd.get(), buf, sizeof buf, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    conn.fd.reset();
    return;
  }
  if (conn.state == Connection::State::draining) {
    // Discard what the client still sends until it closes; then close too.
    if (n == 0) conn.fd.reset();
    return;
  }
  if (n == 0) {
    // The client closed its side before finishing the request head.
    if (conn.in.empty()) {
      conn.fd.reset();
    } else {
      respond(conn, plain(400, "bad request: incomplete request head\n"), true, now);
    }
    return;
  }
  conn.in.append(buf, static_cast<size_t>(n));

  // Refuse a malformed request line as soon as it is complete, without
  // waiting for the rest of the head.
  if (!conn.request_line_checked) {
    const size_t line_end = conn.in.find('\n');
    if (line_end != std::string::npos) {
      std::string_view line(conn.in.data(), line_end);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      HttpRequest ignored;
      if (!parse_request_line(line, ignored)) {
        respond(conn, plain(400, "bad request: malformed request line\n"), true, now);
        return;
      }
      conn.request_line_checked = true;
    }
  }

  size_t head_end = conn.in.find("\r\n\r\n");
  if (head_end == std::string::npos) head_end = conn.in.find("\n\n");
  if (head_end == std::string::npos || head_end > options.max_header_bytes) {
    if (conn.in.size() > options.max_header_bytes) {
      respond(conn, plain(431, "request head larger than " + std::to_string(options.max_header_bytes) + " bytes\n"),
              true, now);
    }
    return;
  }

  const std::string_view head(conn.in.data(), head_end);
  const size_t line_end = head.find('\n');
  std::string_view line = head.substr(0, line_end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  HttpRequest request;
  if (!parse_request_line(line, request)) {
    respond(conn, plain(400, "bad request: malformed request line\n"), true, now);
    return;
  }
  if (line_end != std::string_view::npos && !header_lines_valid(head.substr(line_end + 1))) {
    respond(conn, plain(400, "bad request: malformed header line\n"), true, now);
    return;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    respond(conn, plain(405, "method not allowed: use GET or HEAD\n"), true, now, "Allow: GET, HEAD\r\n");
    return;
  }
  respond(conn, dispatch(request), request.method == "GET", now);
}

HttpResponse HttpServer::Loop::dispatch(const HttpRequest& request) const {
  const auto it = routes.find(request.path);
  if (it == routes.end()) return plain(404, "not found\n");
  try {
    return it->second(request);
  } catch (const std::exception& e) {
    spdlog::error("metrics HTTP server: handler for {} failed: {}", request.path, e.what());
  } catch (...) {
    spdlog::error("metrics HTTP server: handler for {} failed with an unknown exception", request.path);
  }
  return plain(500, "internal error\n");
}

void HttpServer::Loop::respond(Connection& conn, const HttpResponse& response, bool include_body,
                               SteadyClock::time_point now, std::string_view extra_headers) {
  conn.out = serialize(response, include_body, extra_headers);
  conn.sent = 0;
  conn.in.clear();
  conn.in.shrink_to_fit();
  conn.state = Connection::State::writing;
  conn.deadline = now + options.read_timeout;
  on_writable(conn, now);  // usually completes at once: the socket buffer is empty
}

void HttpServer::Loop::on_writable(Connection& conn, SteadyClock::time_point now) {
  while (conn.sent < conn.out.size()) {
    const ssize_t n = ::send(conn.fd.get(), conn.out.data() + conn.sent, conn.out.size() - conn.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      conn.fd.reset();
      return;
    }
    conn.sent += static_cast<size_t>(n);
  }
  // Half-close and read until the client closes, so unread request bytes do
  // not make the kernel reset the connection before the client has read the
  // response. The drain is short and bounded.
  ::shutdown(conn.fd.get(), SHUT_WR);
  conn.out.clear();
  conn.out.shrink_to_fit();
  conn.state = Connection::State::draining;
  conn.deadline = std::min(conn.deadline, now + std::chrono::seconds(1));
}

}  // namespace dc
