#include "http/client.h"

#include <optional>
#include <variant>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "http/url.h"

namespace dc {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection, plain or TLS, and the io_context its operations run on.
// Every operation is asynchronous with the stream's own timeout, then run
// to completion here: a dead server costs the deadline, never a hang.
class Channel {
 public:
  Channel(const HttpUrl& url, ssl::context* tls, const HttpClientOptions& options)
      : url_(url), tls_(tls), options_(options) {}

  bool connected() const { return stream_.index() != 0; }

  Status connect(Clock::time_point deadline) {
    close();
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(url_.host, std::to_string(url_.port), ec);
    if (ec) return Error(Errc::unavailable, "cannot resolve " + url_.host + ": " + ec.message());
    beast::tcp_stream tcp(ioc_);
    tcp.expires_at(deadline);
    tcp.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec) return failure("connect to", ec);
    tcp.socket().set_option(tcp::no_delay(true), ec);
    if (!tls_) {
      tcp.expires_never();
      stream_.emplace<PlainStream>(std::move(tcp));
      return ok_status();
    }
    auto& secure = stream_.emplace<TlsStream>(std::move(tcp), *tls_);
    // SSL_set_tlsext_host_name() without its macro's C-style cast.
    if (SSL_ctrl(secure.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(url_.host.c_str())) != 1) {
      close();
      return Error(Errc::unavailable, "cannot set the TLS server name " + url_.host);
    }
    if (options_.tls_verify) {
      secure.set_verify_mode(ssl::verify_peer);
      secure.set_verify_callback(ssl::host_name_verification(url_.host));
    } else {
      secure.set_verify_mode(ssl::verify_none);
    }
    beast::get_lowest_layer(secure).expires_at(deadline);
    secure.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    run();
    if (ec) {
      close();
      return failure("TLS handshake with", ec);
    }
    beast::get_lowest_layer(secure).expires_never();
    return ok_status();
  }

  // Runs `op(stream, done)`, which starts one asynchronous operation that
  // calls done(error_code), and waits for it until `deadline`. A hard
  // deadline closes the connection when it passes (the stream's own
  // timeout); a soft one only cancels the operation, and the connection
  // stays usable (an event stream waiting for its next event).
  template <class Op>
  beast::error_code perform(Clock::time_point deadline, Op&& op, bool soft = false) {
    beast::error_code ec;
    std::visit(
        [&](auto& stream) {
          using S = std::decay_t<decltype(stream)>;
          if constexpr (!std::is_same_v<S, std::monostate>) {
            net::steady_timer timer(ioc_);
            bool fired = false;
            if (soft) {
              timer.expires_at(deadline);
              timer.async_wait([&](beast::error_code wait_ec) {
                if (wait_ec) return;
                fired = true;
                beast::get_lowest_layer(stream).socket().cancel();
              });
            } else {
              beast::get_lowest_layer(stream).expires_at(deadline);
            }
            op(stream, [&](beast::error_code e) {
              ec = e;
              timer.cancel();
            });
            run();
            if (!soft) beast::get_lowest_layer(stream).expires_never();
            if (fired) ec = beast::error::timeout;
          } else {
            ec = net::error::not_connected;
          }
        },
        stream_);
    return ec;
  }

  void close() {
    std::visit(
        [](auto& stream) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(stream)>, std::monostate>) {
            beast::error_code ignored;
            beast::get_lowest_layer(stream).socket().close(ignored);
          }
        },
        stream_);
    stream_.emplace<std::monostate>();
    buffer_.clear();
  }

  beast::flat_buffer& buffer() { return buffer_; }

  Error failure(std::string_view what, const beast::error_code& ec) const {
    const std::string where = url_.host_header();
    if (ec == beast::error::timeout) return Error(Errc::timeout, std::string(what) + " " + where + ": timed out");
    return Error(Errc::unavailable, std::string(what) + " " + where + ": " + ec.message());
  }

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  net::io_context ioc_;
  const HttpUrl& url_;
  ssl::context* tls_;
  const HttpClientOptions& options_;
  std::variant<std::monostate, PlainStream, TlsStream> stream_;
  beast::flat_buffer buffer_;
};

HttpResponse to_response(const bhttp::response_header<>& head) {
  HttpResponse out;
  out.status = static_cast<int>(head.result_int());
  out.content_type = std::string(head[bhttp::field::content_type]);
  for (const auto& field : head) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  return out;
}

bhttp::request<bhttp::string_body> make_request(const HttpUrl& url, std::string_view method, std::string_view target,
                                                std::string_view body, const HttpHeaders& headers) {
  bhttp::request<bhttp::string_body> request;
  request.method_string(method);
  request.target(url.base_path + std::string(target));
  request.version(11);
  request.set(bhttp::field::host, url.host_header());
  request.set(bhttp::field::user_agent, "dc");
  bool content_type = false;
  for (const auto& [name, value] : headers) {
    content_type = content_type || beast::iequals(name, "Content-Type");
    request.insert(name, value);
  }
  if (!body.empty()) {
    if (!content_type) request.set(bhttp::field::content_type, "application/json");
    request.body() = std::string(body);
  }
  request.keep_alive(true);
  request.prepare_payload();
  return request;
}

class EventReader final : public HttpEventReader {
 public:
  EventReader(std::unique_ptr<HttpUrl> url, ssl::context* tls, const HttpClientOptions& options)
      : url_(std::move(url)), options_(options), channel_(*url_, tls, options_) {}

  Status open(std::string_view target, const HttpHeaders& headers) {
    const auto deadline = Clock::now() + options_.timeout;
    if (auto st = channel_.connect(deadline); !st) return st;
    auto request = make_request(*url_, "GET", target, {}, headers);
    request.set(bhttp::field::accept, "text/event-stream");
    auto ec = channel_.perform(deadline, [&](auto& stream, auto done) {
      bhttp::async_write(stream, request, [done](beast::error_code e, size_t) { done(e); });
    });
    if (ec) return channel_.failure("send to", ec);
    parser_.body_limit(boost::none);
    ec = channel_.perform(deadline, [&](auto& stream, auto done) {
      bhttp::async_read_header(stream, channel_.buffer(), parser_, [done](beast::error_code e, size_t) { done(e); });
    });
    if (ec) return channel_.failure("read from", ec);
    head_ = to_response(parser_.get().base());
    if (head_.status != 200) closed_ = true;
    return ok_status();
  }

  const HttpResponse& head() const override { return head_; }
  size_t bytes_received() const override { return received_; }

  Result<std::vector<SseEvent>> next(std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    std::vector<SseEvent> events;
    while (events.empty()) {
      if (closed_)
        return Error(Errc::unavailable, "the event stream is closed (status " + std::to_string(head_.status) + ")");
      if (Clock::now() >= deadline) return Error(Errc::timeout, "no event within the time");
      std::array<char, 16384> chunk{};
      parser_.get().body().data = chunk.data();
      parser_.get().body().size = chunk.size();
      auto ec = channel_.perform(
          deadline,
          [&](auto& stream, auto done) {
            bhttp::async_read_some(stream, channel_.buffer(), parser_,
                                   [done](beast::error_code e, size_t) { done(e); });
          },
          /*soft=*/true);
      if (ec == bhttp::error::need_buffer) ec = {};
      const size_t got = chunk.size() - parser_.get().body().size;
      received_ += got;
      auto parsed = parser_sse_.feed(std::string_view(chunk.data(), got));
      for (auto& event : parsed) events.push_back(std::move(event));
      if (ec == beast::error::timeout || ec == net::error::operation_aborted) {
        // Only this read was cancelled: the stream stays open.
        if (!events.empty()) break;
        return Error(Errc::timeout, "no event within the time");
      }
      if (ec || parser_.is_done()) {
        closed_ = true;
        if (!events.empty()) break;
        return Error(Errc::unavailable, "the server closed the event stream");
      }
    }
    return events;
  }

 private:
  std::unique_ptr<HttpUrl> url_;
  HttpClientOptions options_;
  Channel channel_;
  bhttp::response_parser<bhttp::buffer_body> parser_;
  SseParser parser_sse_;
  HttpResponse head_;
  size_t received_ = 0;
  bool closed_ = false;
};

}  // namespace

struct HttpClient::Impl {
  HttpUrl url;
  HttpClientOptions options;
  std::optional<ssl::context> tls;
  std::unique_ptr<Channel> channel;
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::create(std::string_view base_url, HttpClientOptions options) {
  auto url = parse_http_url(base_url);
  if (!url) return url.error();
  auto impl = std::make_unique<Impl>();
  impl->url = std::move(url).value();
  impl->options = std::move(options);
  if (impl->url.tls) {
    impl->tls.emplace(ssl::context::tls_client);
    impl->tls->set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1);
    beast::error_code ec;
    if (impl->options.tls_ca_file.empty()) {
      impl->tls->set_default_verify_paths(ec);
    } else {
      impl->tls->load_verify_file(impl->options.tls_ca_file, ec);
    }
    if (ec) {
      return Error(Errc::invalid_argument,
                   "cannot load the CA certificates " +
                       (impl->options.tls_ca_file.empty() ? std::string("of the system")
                                                          : "'" + impl->options.tls_ca_file + "'") +
                       ": " + ec.message());
    }
  }
  impl->channel = std::make_unique<Channel>(impl->url, impl->tls ? &*impl->tls : nullptr, impl->options);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<HttpResponse> HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                                         const HttpHeaders& headers) {
  auto& channel = *impl_->channel;
  const auto deadline = Clock::now() + impl_->options.timeout;
  const auto message = make_request(impl_->url, method, target, body, headers);
  for (int attempt = 0;; ++attempt) {
    const bool reused = channel.connected();
    if (!reused) {
      if (auto st = channel.connect(deadline); !st) return st.error();
    }
    auto ec = channel.perform(deadline, [&](auto& stream, auto done) {
      bhttp::async_write(stream, message, [done](beast::error_code e, size_t) { done(e); });
    });
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(impl_->options.max_response_bytes);
    if (!ec) {
      ec = channel.perform(deadline, [&](auto& stream, auto done) {
        bhttp::async_read(stream, channel.buffer(), parser, [done](beast::error_code e, size_t) { done(e); });
      });
    }
    if (ec) {
      channel.close();
      // A kept connection the server had already closed: nothing of this
      // request was read by it. Once more on a new connection.
      const bool closed_early = ec == bhttp::error::end_of_stream || ec == net::error::connection_reset ||
                                ec == net::error::broken_pipe || ec == net::error::eof;
      if (reused && attempt == 0 && closed_early && parser.get().result_int() == 0) continue;
      if (ec == bhttp::error::body_limit) {
        return Error(Errc::protocol, "the response from " + impl_->url.host_header() + " is over " +
                                         std::to_string(impl_->options.max_response_bytes) + " bytes");
      }
      if (&ec.category() == &bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
          ec != bhttp::error::end_of_stream) {
        return Error(Errc::protocol, impl_->url.host_header() + " did not answer in HTTP: " + ec.message());
      }
      return channel.failure("request to", ec);
    }
    auto& response = parser.get();
    HttpResponse out = to_response(response.base());
    out.body = std::move(response.body());
    if (!response.keep_alive()) channel.close();
    return out;
  }
}

Result<std::unique_ptr<HttpEventReader>> HttpClient::open_events(std::string_view target, const HttpHeaders& headers) {
  auto reader = std::make_unique<EventReader>(std::make_unique<HttpUrl>(impl_->url),
                                              impl_->tls ? &*impl_->tls : nullptr, impl_->options);
  if (auto st = reader->open(target, headers); !st) return st.error();
  return std::unique_ptr<HttpEventReader>(std::move(reader));
}

}  // namespace dc
