#include "http/server.h"

#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_set>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "base/endpoint.h"

namespace dc {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) return value;
  }
  return {};
}

namespace {

std::string without_line_breaks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c != '\r' && c != '\n' && c != '\0') out += c;
  }
  return out;
}

std::string reason_text(int status) {
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return reason.empty() ? std::string("Error") : std::string(reason);
}

HttpResponse default_error_body(int status, std::string detail) {
  HttpResponse response;
  response.status = status;
  response.body = std::to_string(status) + " " + reason_text(status) + ": " + detail + "\n";
  return response;
}

// Closed by stop() before the io_context goes: after that no thread outside
// the server can reach a connection (respond(), send()), so none outlives
// the io_context its socket belongs to. It also lists the responders not
// yet answered, whose hold on their connection stop() takes away.
struct Gate {
  std::shared_mutex mutex;
  bool open = true;
  std::mutex pending_mutex;
  std::unordered_set<HttpResponder::State*> pending;
};

}  // namespace

namespace http_detail {

class StreamState;

// What an HttpResponder and an HttpStream reach a connection through.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void post_response(HttpResponse response) = 0;
  virtual void post_stream_head(HttpResponse head, std::shared_ptr<StreamState> stream) = 0;
  virtual void post_stream_data(std::shared_ptr<const std::string> data) = 0;
  virtual void post_stream_close() = 0;
};

class StreamState final : public HttpStream {
 public:
  StreamState(std::weak_ptr<Connection> connection, std::shared_ptr<Gate> gate, size_t max_buffer)
      : connection_(std::move(connection)), gate_(std::move(gate)), max_buffer_(max_buffer) {}

  bool send(std::shared_ptr<const std::string> data) override {
    if (!open_.load()) return false;
    const size_t queued = pending_.fetch_add(data->size()) + data->size();
    if (queued > max_buffer_) {
      spdlog::warn("http: dropping an event stream whose client does not read ({} bytes queued)", queued);
      close();
      return false;
    }
    return with_connection([&](Connection& c) { c.post_stream_data(std::move(data)); });
  }

  void close() override {
    with_connection([](Connection& c) { c.post_stream_close(); });
  }

  bool is_open() const override { return open_.load(); }
  size_t queued_bytes() const override { return pending_.load(); }

  void on_close(std::function<void()> callback) override {
    {
      std::lock_guard lock(mutex_);
      if (!ended_) {
        callback_ = std::move(callback);
        return;
      }
    }
    if (callback) callback();
  }

  // The connection's side.
  void written(size_t bytes) { pending_.fetch_sub(bytes); }
  void ended() {
    open_.store(false);
    std::function<void()> callback;
    {
      std::lock_guard lock(mutex_);
      if (ended_) return;
      ended_ = true;
      callback = std::move(callback_);
    }
    if (callback) callback();
  }

 private:
  template <class F>
  bool with_connection(F&& f) {
    std::shared_lock lock(gate_->mutex);
    if (!gate_->open) return false;
    auto connection = connection_.lock();
    if (!connection) return false;
    f(*connection);
    return true;
  }

  std::weak_ptr<Connection> connection_;
  std::shared_ptr<Gate> gate_;
  const size_t max_buffer_;
  std::atomic<size_t> pending_{0};
  std::atomic<bool> open_{true};
  std::mutex mutex_;
  bool ended_ = false;
  std::function<void()> callback_;
};

}  // namespace http_detail

using http_detail::Connection;
using http_detail::StreamState;

// A request's side of the connection until it is answered. It holds the
// connection (nothing else may while a handler works on the request), and
// lets go of it when it answers or when stop() closes the gate.
struct HttpResponder::State {
  std::shared_ptr<Connection> connection;  // guarded by gate->mutex
  std::shared_ptr<Gate> gate;
  size_t max_stream_buffer = 0;
  std::atomic<bool> answered{false};

  State(std::shared_ptr<Connection> c, std::shared_ptr<Gate> g, size_t max_buffer)
      : connection(std::move(c)), gate(std::move(g)), max_stream_buffer(max_buffer) {
    std::lock_guard lock(gate->pending_mutex);
    gate->pending.insert(this);
  }
  ~State() {
    if (!answered.load()) {
      answer(
          [](Connection& c) { c.post_response(default_error_body(500, "the request was dropped without an answer")); });
    }
    std::lock_guard lock(gate->pending_mutex);
    gate->pending.erase(this);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // Runs `f` on the connection once, whoever calls first.
  template <class F>
  bool answer(F&& f) {
    if (answered.exchange(true)) return false;
    std::shared_lock lock(gate->mutex);
    if (!gate->open || !connection) return false;
    f(*connection);
    connection.reset();
    return true;
  }
};

void HttpResponder::respond(HttpResponse response) const {
  state_->answer([&](Connection& c) { c.post_response(std::move(response)); });
}

std::shared_ptr<HttpStream> HttpResponder::stream(HttpResponse head) const {
  std::shared_ptr<StreamState> stream;
  const bool sent = state_->answer([&](Connection& c) {
    stream = std::make_shared<StreamState>(state_->connection, state_->gate, state_->max_stream_buffer);
    c.post_stream_head(std::move(head), stream);
  });
  if (!sent) return nullptr;
  return stream;
}

struct http_detail::ServerCore {
  HttpServerOptions options;
  const std::map<std::string, HttpHandler, std::less<>>* routes = nullptr;
  HttpAsyncHandler fallback;
  std::function<HttpResponse(int, std::string)> error_body;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::atomic<size_t> connections{0};
  net::io_context ioc;
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor{ioc};
  net::steady_timer accept_pause{ioc};
  std::vector<std::thread> threads;

  explicit ServerCore(int threads_hint) : ioc(std::max(1, threads_hint)) {}

  void accept();
  template <class Session>
  void start_session(tcp::socket socket);
};

namespace {

// One connection. `Stream` is beast::tcp_stream or
// beast::ssl_stream<beast::tcp_stream>. Every member runs on the
// connection's strand (the socket's executor).
template <class Stream>
class Session final : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(http_detail::ServerCore& server, Stream stream, std::string remote)
      : server_(server), stream_(std::move(stream)), remote_(std::move(remote)), write_timer_(stream_.get_executor()) {
    server_.connections.fetch_add(1);
  }
  ~Session() override {
    if (sse_) sse_->ended();
    server_.connections.fetch_sub(1);
  }

  void run() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(server_.options.request_timeout);
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->end();
        self->read_request();
      });
    } else {
      net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->read_request(); });
    }
  }

  // --- Connection: posted from any thread ---
  void post_response(HttpResponse response) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), r = std::move(response)]() mutable {
      self->write_response(std::move(r));
    });
  }
  void post_stream_head(HttpResponse head, std::shared_ptr<StreamState> stream) override {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), h = std::move(head), s = std::move(stream)]() mutable {
                self->start_stream(std::move(h), std::move(s));
              });
  }
  void post_stream_data(std::shared_ptr<const std::string> data) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), d = std::move(data)]() mutable {
      self->queue_.push_back(std::move(d));
      self->flush();
    });
  }
  void post_stream_close() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->close_after_flush_ = true;
      self->flush();
    });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  using Parser = bhttp::request_parser<bhttp::string_body>;

  const HttpServerOptions& options() const { return server_.options; }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(options().request_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    auto& request = parser_->get();
    if (request.version() != 10 && request.version() != 11) {
      return write_error(400, "only HTTP/1.0 and HTTP/1.1 are served");
    }
    if (request.target().empty() || request.target().front() != '/') {
      return write_error(400, "the request target must be a path starting with '/'");
    }
    if (const auto length = parser_->content_length(); length && *length > options().max_body_bytes) {
      return write_error(413, "the body is " + std::to_string(*length) + " bytes; the limit is " +
                                  std::to_string(options().max_body_bytes));
    }
    if (parser_->is_done()) return on_body({});
    if (beast::iequals(request[bhttp::field::expect], "100-continue")) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, request.version());
      bhttp::async_write(stream_, *cont, [self = this->shared_from_this(), cont](beast::error_code wec, size_t) {
        if (wec) return self->end();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    beast::get_lowest_layer(stream_).expires_after(options().request_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      return write_error(431, "the request head is over " + std::to_string(options().max_header_bytes) + " bytes");
    }
    if (ec == bhttp::error::body_limit) {
      return write_error(413, "the body is over " + std::to_string(options().max_body_bytes) + " bytes");
    }
    if (&ec.category() == &bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      return write_error(400, "malformed request: " + ec.message());
    }
    end();  // the client left, timed out or broke the connection
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    beast::get_lowest_layer(stream_).expires_never();
    auto message = parser_->release();
    keep_alive_ = message.keep_alive();
    head_only_ = message.method() == bhttp::verb::head;
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) request.query = request.target.substr(question + 1);
    for (const auto& field : message) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.remote = remote_;
    dispatch(std::move(request));
  }

  void dispatch(HttpRequest request) {
    const auto& routes = *server_.routes;
    if (auto route = routes.find(request.path); route != routes.end()) {
      if (request.method != "GET" && request.method != "HEAD") {
        HttpResponse response = error(405, "only GET and HEAD are served at " + request.path);
        response.headers.emplace_back("Allow", "GET, HEAD");
        return write_response(std::move(response));
      }
      try {
        return write_response(route->second(request));
      } catch (const std::exception& e) {
        spdlog::error("http: handler for {} failed: {}", request.path, e.what());
        return write_response(error(500, "the handler failed"));
      }
    }
    if (!server_.fallback) return write_response(error(404, "no such path"));
    HttpResponder responder(
        std::make_shared<HttpResponder::State>(this->shared_from_this(), server_.gate, options().max_stream_buffer));
    try {
      server_.fallback(std::move(request), responder);
    } catch (const std::exception& e) {
      spdlog::error("http: handler failed: {}", e.what());
      responder.respond(error(500, "the handler failed"));
    }
  }

  HttpResponse error(int status, std::string detail) const {
    return server_.error_body ? server_.error_body(status, std::move(detail))
                              : default_error_body(status, std::move(detail));
  }

  void write_error(int status, std::string detail) {
    keep_alive_ = false;
    head_only_ = false;
    // The client may still be sending what was refused (a 1 MB body):
    // closing at once would reset the connection and lose the answer.
    linger_ = true;
    write_response(error(status, std::move(detail)));
  }

  template <class Message>
  void set_headers(Message& message, const HttpResponse& response) {
    message.set(bhttp::field::content_type, without_line_breaks(response.content_type));
    bool cache_control = false;
    for (const auto& [name, value] : response.headers) {
      const std::string clean_name = without_line_breaks(name);
      if (clean_name.empty()) continue;
      cache_control = cache_control || beast::iequals(clean_name, "Cache-Control");
      message.insert(clean_name, without_line_breaks(value));
    }
    if (!cache_control) message.set(bhttp::field::cache_control, "no-store");
  }

  void write_response(HttpResponse response) {
    if (closed_ || streaming_) return;
    const int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>();
    message->version(11);
    message->result(static_cast<unsigned>(status));
    set_headers(*message, response);
    message->keep_alive(keep_alive_);
    if (head_only_) {
      message->content_length(response.body.size());
    } else {
      message->body() = std::move(response.body);
      message->prepare_payload();
    }
    beast::get_lowest_layer(stream_).expires_after(options().write_timeout);
    bhttp::async_write(stream_, *message, [self = this->shared_from_this(), message](beast::error_code ec, size_t) {
      if (ec) return self->end();
      if (!self->keep_alive_) return self->linger_ ? self->linger() : self->shutdown();
      self->read_request();
    });
  }

  void start_stream(HttpResponse head, std::shared_ptr<StreamState> stream) {
    if (closed_ || streaming_) {
      stream->ended();
      return;
    }
    streaming_ = true;
    sse_ = std::move(stream);
    auto message = std::make_shared<bhttp::response<bhttp::empty_body>>();
    message->version(11);
    message->result(static_cast<unsigned>(head.status));
    set_headers(*message, head);
    message->keep_alive(false);  // the body ends when the connection does
    writing_ = true;
    arm_write_timer();
    bhttp::async_write(stream_, *message, [self = this->shared_from_this(), message](beast::error_code ec, size_t) {
      self->write_timer_.cancel();
      self->writing_ = false;
      if (ec) return self->end();
      self->watch_for_close();
      self->flush();
    });
  }

  // While streaming, the client sends nothing; a read completes only when
  // it goes away.
  void watch_for_close() {
    stream_.async_read_some(net::buffer(watch_buffer_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->end();
                              self->watch_for_close();
                            });
  }

  void arm_write_timer() {
    write_timer_.expires_after(options().write_timeout);
    write_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return;  // cancelled: the write finished
      spdlog::info("http: closing a stream to {}: a write took over {} ms", self->remote_,
                   self->options().write_timeout.count());
      self->end();
    });
  }

  void flush() {
    if (closed_ || !streaming_ || writing_) return;
    if (queue_.empty()) {
      if (close_after_flush_) shutdown();
      return;
    }
    writing_ = true;
    arm_write_timer();
    auto data = queue_.front();
    net::async_write(stream_, net::buffer(*data),
                     [self = this->shared_from_this(), data](beast::error_code ec, size_t) {
                       self->write_timer_.cancel();
                       self->writing_ = false;
                       self->queue_.pop_front();
                       if (self->sse_) self->sse_->written(data->size());
                       if (ec) return self->end();
                       self->flush();
                     });
  }

  // Closes our side, then reads and drops what the client still sends for
  // a moment (as web servers' "lingering close" does), so that the answer
  // is not lost to a reset when unread request bytes meet a closed socket.
  void linger() {
    if (closed_) return;
    if constexpr (kTls) {
      shutdown();
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      drain();
    }
  }

  void drain() {
    stream_.async_read_some(net::buffer(watch_buffer_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->end();
                              self->drain();
                            });
  }

  void shutdown() {
    if (closed_) return;
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(options().write_timeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->end(); });
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      end();
    }
  }

  void end() {
    if (closed_) return;
    closed_ = true;
    write_timer_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
    if (sse_) sse_->ended();
  }

  http_detail::ServerCore& server_;
  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_;  // unbounded itself: the parser's header and body limits bound it
  std::optional<Parser> parser_;
  bool keep_alive_ = false;
  bool head_only_ = false;
  bool linger_ = false;
  bool closed_ = false;
  // Event stream
  bool streaming_ = false;
  bool writing_ = false;
  bool close_after_flush_ = false;
  std::shared_ptr<StreamState> sse_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  net::steady_timer write_timer_;
  std::array<char, 512> watch_buffer_{};
};

}  // namespace

template <class SessionT>
void http_detail::ServerCore::start_session(tcp::socket socket) {
  beast::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  std::string remote =
      ec ? std::string("?")
         : (peer.address().is_v6() ? "[" + peer.address().to_string() + "]" : peer.address().to_string()) + ":" +
               std::to_string(peer.port());
  if constexpr (std::is_same_v<SessionT, Session<beast::tcp_stream>>) {
    std::make_shared<SessionT>(*this, beast::tcp_stream(std::move(socket)), std::move(remote))->run();
  } else {
    std::make_shared<SessionT>(*this, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *tls), std::move(remote))
        ->run();
  }
}

void http_detail::ServerCore::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors, most likely: pause rather than spin.
      spdlog::warn("http: accept failed: {}; pausing 100 ms", ec.message());
      accept_pause.expires_after(std::chrono::milliseconds(100));
      accept_pause.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    if (connections.load() >= options.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else if (tls) {
      start_session<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket));
    } else {
      start_session<Session<beast::tcp_stream>>(std::move(socket));
    }
    accept();
  });
}

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string path, HttpHandler handler) { routes_[std::move(path)] = std::move(handler); }

void HttpServer::fallback(HttpAsyncHandler handler) { fallback_ = std::move(handler); }

void HttpServer::error_body(std::function<HttpResponse(int, std::string)> make) { error_body_ = std::move(make); }

size_t HttpServer::connections() const { return impl_ ? impl_->connections.load() : 0; }

Status HttpServer::start() {
  if (impl_) return Error(Errc::conflict, "the HTTP server on " + address_ + " is already started");
  auto listen = parse_listen_address(options_.listen);
  if (!listen) return listen.error();
  auto impl = std::make_shared<http_detail::ServerCore>(options_.threads);
  impl->options = options_;
  impl->routes = &routes_;
  impl->fallback = fallback_;
  impl->error_body = error_body_;

  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
      return Error(Errc::invalid_argument, "HTTPS needs both a certificate and a private key file");
    }
    impl->tls.emplace(ssl::context::tls_server);
    impl->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    beast::error_code ec;
    impl->tls->use_certificate_chain_file(options_.tls_cert_file, ec);
    if (ec) {
      return Error(Errc::invalid_argument,
                   "cannot load the TLS certificate '" + options_.tls_cert_file + "': " + ec.message());
    }
    impl->tls->use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
    if (ec) {
      return Error(Errc::invalid_argument,
                   "cannot load the TLS private key '" + options_.tls_key_file + "': " + ec.message());
    }
  }

  tcp::resolver resolver(impl->ioc);
  beast::error_code ec;
  const auto results = resolver.resolve(listen->host, std::to_string(listen->port),
                                        tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return Error(Errc::io, "cannot resolve the listen address '" + options_.listen + "': " + ec.message());
  std::string last_error = "no address";
  for (const auto& entry : results) {
    beast::error_code bind_ec;
    tcp::acceptor acceptor(impl->ioc);
    acceptor.open(entry.endpoint().protocol(), bind_ec);
    if (!bind_ec) acceptor.set_option(net::socket_base::reuse_address(true), bind_ec);
    if (!bind_ec) acceptor.bind(entry.endpoint(), bind_ec);
    if (!bind_ec) acceptor.listen(net::socket_base::max_listen_connections, bind_ec);
    if (bind_ec) {
      last_error = bind_ec.message();
      continue;
    }
    impl->acceptor = std::move(acceptor);
    break;
  }
  if (!impl->acceptor.is_open()) {
    return Error(Errc::io, "cannot listen on '" + options_.listen + "': " + last_error);
  }
  const auto bound = impl->acceptor.local_endpoint(ec);
  port_ = bound.port();
  address_ = (bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string()) + ":" +
             std::to_string(port_);
  impl->accept();
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    impl->threads.emplace_back([raw = impl.get()] { raw->ioc.run(); });
  }
  impl_ = std::move(impl);
  return ok_status();
}

bool HttpServer::responsive(std::chrono::milliseconds timeout) const {
  const std::shared_ptr<http_detail::ServerCore> core = impl_;
  if (!core) return false;
  auto ran = std::make_shared<std::promise<void>>();
  std::future<void> done = ran->get_future();
  net::post(core->ioc, [ran] { ran->set_value(); });
  // A task dropped by stop() breaks the promise: ready, but not a run.
  if (done.wait_for(timeout) != std::future_status::ready) return false;
  try {
    done.get();
    return true;
  } catch (const std::future_error&) {
    return false;
  }
}

void HttpServer::stop() {
  if (!impl_) return;
  {
    std::unique_lock lock(impl_->gate->mutex);
    impl_->gate->open = false;
    std::lock_guard pending(impl_->gate->pending_mutex);
    for (HttpResponder::State* state : impl_->gate->pending) state->connection.reset();
  }
  impl_->ioc.stop();
  for (auto& thread : impl_->threads) thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  // Destroying the io_context destroys every connection still queued in it.
  impl_.reset();
}

}  // namespace dc
