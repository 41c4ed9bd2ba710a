#include "broker/connection.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "broker/connection_core.h"

namespace dc::broker {
namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  if (d.count() < 0) d = std::chrono::milliseconds(0);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

std::chrono::milliseconds until(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() < 0 ? std::chrono::milliseconds(0) : left;
}

// The reason OpenSSL left in its error queue (drained), or "".
std::string drain_openssl_errors(bool* verify_failed) {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    if (ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) *verify_failed = true;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text;
}

// Maps the failure of amqp_socket_open_noblock (TCP connect + TLS handshake).
Error open_error(int status, int saved_errno, const Endpoint& ep, const ConnectionSettings& s) {
  const std::string where = to_string(ep);
  bool verify_failed = false;
  const std::string ssl_reason = s.tls.enabled ? drain_openssl_errors(&verify_failed) : std::string();
  switch (status) {
    case AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED:
      return Error(Errc::unavailable, "cannot resolve broker host '" + ep.host + "': check rabbit_host");
    case AMQP_STATUS_TIMEOUT:
      return Error(Errc::unavailable, "no answer from broker at " + where + " within " +
                                          std::to_string(s.connect_timeout.count()) +
                                          " ms (host down or port filtered?)");
    case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
      verify_failed = true;
      break;
    case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
      return Error(Errc::auth, "TLS: the certificate of the broker at " + where + " does not name host '" + ep.host +
                                   "'; connect by the name in the certificate");
    default:
      break;
  }
  if (verify_failed) {
    return Error(Errc::auth, "TLS: the certificate of the broker at " + where + " is not trusted by " +
                                 (s.tls.ca_file.empty() ? std::string("the system CA store")
                                                        : "the CA file '" + s.tls.ca_file + "'") +
                                 (ssl_reason.empty() ? "" : " (" + ssl_reason + ")") +
                                 "; set rabbit_tls_ca to the CA that signed the broker's certificate");
  }
  if (status == AMQP_STATUS_SSL_CONNECTION_FAILED || status == AMQP_STATUS_SSL_ERROR) {
    return Error(Errc::unavailable, "TLS handshake with broker at " + where + " failed" +
                                        (ssl_reason.empty() ? "" : " (" + ssl_reason + ")") +
                                        "; is this an amqps port?");
  }
  std::string detail = amqp_error_string2(status);
  if (status == AMQP_STATUS_SOCKET_ERROR) {
    // rabbitmq-c connects non-blocking and keeps the real reason (SO_ERROR)
    // to itself; errno then only says EINPROGRESS.
    detail = "connection refused or host unreachable";
    if (saved_errno != 0 && saved_errno != EINPROGRESS && saved_errno != EAGAIN) {
      detail += std::string(" (") + std::strerror(saved_errno) + ")";
    }
  }
  return Error(Errc::unavailable, "cannot connect to broker at " + where + ": " + detail);
}

// Maps a failed amqp_login (broker reached, handshake refused or cut).
Error login_error(const amqp_rpc_reply_t& reply, const Endpoint& ep, const ConnectionSettings& s) {
  const std::string where = to_string(ep);
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
    const int code = close->reply_code;
    const std::string text = to_string(close->reply_text);
    if (code == AMQP_ACCESS_REFUSED) {
      return Error(Errc::auth, "broker at " + where + " refused the login of user '" + s.username + "' (" + text +
                                   "); check rabbit_username and rabbit_password");
    }
    if (code == AMQP_NOT_ALLOWED) {
      return Error(Errc::access_refused, "broker at " + where + " refused vhost '" + s.vhost + "' to user '" +
                                             s.username + "' (" + text +
                                             "); check rabbit_vhost or grant the user permissions on it");
    }
    return Error(errc_for_reply_code(code),
                 "broker at " + where + " closed the connection during login: " + std::to_string(code) + " " + text);
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    const int status = reply.library_error;
    if (status == AMQP_STATUS_TIMEOUT) {
      return Error(Errc::unavailable, "AMQP handshake with " + where + " timed out after " +
                                          std::to_string(s.connect_timeout.count()) +
                                          " ms (is this an AMQP port? a TLS port needs rabbit_tls)");
    }
    if (status == AMQP_STATUS_CONNECTION_CLOSED || status == AMQP_STATUS_SOCKET_CLOSED) {
      // Without the authentication_failure_close capability a broker just
      // drops the socket on bad credentials.
      return Error(Errc::unavailable, "broker at " + where +
                                          " closed the connection during login (overloaded, or refusing "
                                          "user '" +
                                          s.username + "')");
    }
    return Error(Errc::unavailable, "AMQP handshake with " + where + " failed: " + amqp_error_string2(status));
  }
  return Error(Errc::protocol, "AMQP handshake with " + where + " failed: unexpected reply");
}

Result<std::unique_ptr<ConnectionCore>> open_one(const Endpoint& ep, const ConnectionSettings& s) {
  amqp_connection_state_t state = amqp_new_connection();
  if (state == nullptr) return Error(Errc::internal, "out of memory creating an AMQP connection");
  // From here the core owns `state` and destroys it on every path.
  auto core = std::make_unique<ConnectionCore>(state, ep, s);

  amqp_socket_t* socket = s.tls.enabled ? amqp_ssl_socket_new(state) : amqp_tcp_socket_new(state);
  if (socket == nullptr) return Error(Errc::internal, "cannot create an AMQP socket (out of memory or TLS init)");
  if (s.tls.enabled) {
    if (!s.tls.ca_file.empty()) {
      if (amqp_ssl_socket_set_cacert(socket, s.tls.ca_file.c_str()) != AMQP_STATUS_OK) {
        ERR_clear_error();
        return Error(Errc::io, "cannot load TLS CA file '" + s.tls.ca_file + "': check rabbit_tls_ca");
      }
    } else {
      SSL_CTX_set_default_verify_paths(static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket)));
    }
    if (s.tls.cert_file.empty() != s.tls.key_file.empty()) {
      return Error(Errc::invalid_argument, "TLS client certificate needs both rabbit_tls_cert and rabbit_tls_key");
    }
    if (!s.tls.cert_file.empty() &&
        amqp_ssl_socket_set_key(socket, s.tls.cert_file.c_str(), s.tls.key_file.c_str()) != AMQP_STATUS_OK) {
      ERR_clear_error();
      return Error(Errc::io, "cannot load TLS client certificate '" + s.tls.cert_file + "' / key '" + s.tls.key_file +
                                 "': check rabbit_tls_cert and rabbit_tls_key");
    }
    amqp_ssl_socket_set_verify_peer(socket, s.tls.verify ? 1 : 0);
    amqp_ssl_socket_set_verify_hostname(socket, s.tls.verify ? 1 : 0);
  }

  timeval connect_tv = to_timeval(s.connect_timeout);
  timeval rpc_tv = to_timeval(s.rpc_timeout);
  amqp_set_handshake_timeout(state, &connect_tv);
  amqp_set_rpc_timeout(state, &rpc_tv);

  errno = 0;
  const int open_status = amqp_socket_open_noblock(socket, ep.host.c_str(), ep.port, &connect_tv);
  const int saved_errno = errno;
  if (open_status != AMQP_STATUS_OK) return core->fail(open_error(open_status, saved_errno, ep, s));

  // A write the broker never acknowledges (peer gone, or a zero window held
  // by a blocked broker) fails after write_timeout instead of hanging: the
  // library's own writes have no deadline.
  if (const int fd = amqp_get_sockfd(state); fd >= 0 && s.write_timeout.count() > 0) {
    const unsigned int ms = static_cast<unsigned int>(s.write_timeout.count());
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
  }

  // rabbitmq-c advertises only a few capabilities by itself; without
  // consumer_cancel_notify the broker would not tell a consumer that its queue
  // was deleted, and without connection.blocked we would not learn of alarms.
  // The library merges this table into its defaults.
  amqp_table_entry_t capabilities[4];
  const char* capability_names[4] = {"consumer_cancel_notify", "connection.blocked", "basic.nack",
                                     "publisher_confirms"};
  for (int i = 0; i < 4; ++i) {
    capabilities[i].key = amqp_cstring_bytes(capability_names[i]);
    capabilities[i].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    capabilities[i].value.value.boolean = 1;
  }
  amqp_table_entry_t props[2];
  props[0].key = amqp_cstring_bytes("capabilities");
  props[0].value.kind = AMQP_FIELD_KIND_TABLE;
  props[0].value.value.table = amqp_table_t{4, capabilities};
  amqp_table_t client_properties{1, props};
  if (!s.connection_name.empty()) {
    props[1].key = amqp_cstring_bytes("connection_name");
    props[1].value.kind = AMQP_FIELD_KIND_UTF8;
    props[1].value.value.bytes = as_bytes(s.connection_name);
    client_properties.num_entries = 2;
  }
  const auto heartbeat = static_cast<int>(s.heartbeat.count());
  amqp_rpc_reply_t login =
      amqp_login_with_properties(state, s.vhost.c_str(), AMQP_DEFAULT_MAX_CHANNELS, AMQP_DEFAULT_FRAME_SIZE, heartbeat,
                                 &client_properties, AMQP_SASL_METHOD_PLAIN, s.username.c_str(), s.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) return core->fail(login_error(login, ep, s));

  if (Status st = core->ensure_channel(); !st.ok()) return st.error();
  return core;
}

}  // namespace

// ---------------------------------------------------------------------------
// Endpoints

// ---------------------------------------------------------------------------
// Connection

Result<Connection> Connection::open(const ConnectionSettings& settings) {
  if (settings.endpoints.empty()) return Error(Errc::invalid_argument, "no broker host configured (rabbit_host)");
  std::vector<Endpoint> order;
  for (const Endpoint& ep : settings.endpoints) {
    if (ep != settings.try_last) order.push_back(ep);
  }
  if (order.size() < settings.endpoints.size()) order.push_back(*settings.try_last);
  std::string failures;
  std::optional<Error> last;
  for (const Endpoint& ep : order) {
    auto core = open_one(ep, settings);
    if (core.ok()) return Connection(std::move(*core));
    const Error& e = core.error();
    // Credentials and permissions are the same on every node: failing over
    // would only repeat the refusal.
    if (e.code() == Errc::auth || e.code() == Errc::access_refused || e.code() == Errc::invalid_argument ||
        e.code() == Errc::io) {
      return e;
    }
    if (!failures.empty()) failures += "; ";
    failures += e.message();
    last = e;
  }
  if (settings.endpoints.size() == 1) return *last;
  return Error(last->code(), "no broker of " + std::to_string(settings.endpoints.size()) + " reachable: " + failures);
}

Connection::Connection(std::unique_ptr<ConnectionCore> core) : core_(std::move(core)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

const Endpoint& Connection::endpoint() const { return core_->endpoint(); }
std::string Connection::describe() const { return core_->description(); }
bool Connection::usable() const { return !core_->failure().has_value(); }
std::optional<Error> Connection::failure() const { return core_->failure(); }
bool Connection::blocked() const { return core_->blocked(); }
std::chrono::seconds Connection::heartbeat() const { return std::chrono::seconds(core_->heartbeat_seconds()); }
int Connection::fd() const { return usable() ? amqp_get_sockfd(core_->state()) : -1; }
Status Connection::keepalive() { return core_->keepalive(); }
Status Connection::close() { return core_->close(); }

// ---------------------------------------------------------------------------
// ConnectionCore

ConnectionCore::ConnectionCore(amqp_connection_state_t state, Endpoint endpoint, const ConnectionSettings& settings)
    : state_(state), endpoint_(std::move(endpoint)), rpc_timeout_(settings.rpc_timeout) {
  description_ = std::string(settings.tls.enabled ? "amqps://" : "amqp://") + settings.username + "@" +
                 to_string(endpoint_) + " vhost " + settings.vhost;
}

ConnectionCore::~ConnectionCore() {
  if (!failure_) {
    // Bounded: a broker that does not answer close within 2 s is abandoned.
    if (rpc_timeout_ > std::chrono::milliseconds(2000)) {
      timeval tv = to_timeval(std::chrono::milliseconds(2000));
      amqp_set_rpc_timeout(state_, &tv);
    }
    (void)close();
  }
  amqp_destroy_connection(state_);
}

int ConnectionCore::heartbeat_seconds() const { return amqp_get_heartbeat(state_); }

Status ConnectionCore::check_usable() const {
  if (failure_) return *failure_;
  return ok_status();
}

Error ConnectionCore::fail(Error error) {
  if (!failure_) {
    failure_ = std::move(error);
    // Later calls must fail fast rather than write into a half-dead socket.
    if (const int fd = amqp_get_sockfd(state_); fd >= 0) shutdown(fd, SHUT_RDWR);
  }
  return *failure_;
}

Status ConnectionCore::ensure_channel() {
  if (Status st = check_usable(); !st.ok()) return st;
  if (channel_open_) return ok_status();
  amqp_channel_open(state_, kChannel);
  if (Status st = check_reply(amqp_get_rpc_reply(state_), "opening a channel"); !st.ok()) return st;
  channel_open_ = true;
  ++channel_generation_;
  return ok_status();
}

Error ConnectionCore::library_error(int status, std::string_view what) {
  const std::string w(what);
  switch (status) {
    case AMQP_STATUS_HEARTBEAT_TIMEOUT:
      return fail(Error(Errc::unavailable, "connection to " + description_ + " lost while " + w +
                                               ": no heartbeat for " + std::to_string(2 * heartbeat_seconds()) +
                                               " s (broker or network dead)"));
    case AMQP_STATUS_TIMEOUT:
      return fail(Error(Errc::timeout, w + ": no answer from " + description_ + " within " +
                                           std::to_string(rpc_timeout_.count()) + " ms; connection abandoned"));
    case AMQP_STATUS_CONNECTION_CLOSED:
    case AMQP_STATUS_SOCKET_CLOSED:
    case AMQP_STATUS_SOCKET_ERROR:
    case AMQP_STATUS_TCP_ERROR:
    case AMQP_STATUS_SSL_ERROR:
      return fail(Error(Errc::unavailable,
                        "connection to " + description_ + " lost while " + w + ": " + amqp_error_string2(status)));
    default:
      return fail(Error(Errc::protocol, w + " on " + description_ + ": " + amqp_error_string2(status)));
  }
}

Error ConnectionCore::broker_close_error(const amqp_connection_close_t& close) {
  const int code = close.reply_code;
  // Answer the close so the broker can release the connection at once.
  amqp_connection_close_ok_t ok{};
  (void)amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
  std::string msg =
      "broker closed connection " + description_ + ": " + std::to_string(code) + " " + to_string(close.reply_text);
  // 320 CONNECTION_FORCED: shutdown or an operator's close_connection; the
  // broker (or another node) may take us back later.
  const Errc errc = code == AMQP_CONNECTION_FORCED ? Errc::unavailable : errc_for_reply_code(code);
  return fail(Error(errc, std::move(msg)));
}

Error ConnectionCore::channel_close_error(const amqp_channel_close_t& close, std::string_view what) {
  amqp_channel_close_ok_t ok{};
  (void)amqp_send_method(state_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
  channel_open_ = false;
  const int code = close.reply_code;
  return Error(errc_for_reply_code(code),
               std::string(what) + ": broker refused: " + std::to_string(code) + " " + to_string(close.reply_text));
}

Status ConnectionCore::check_reply(const amqp_rpc_reply_t& reply, std::string_view what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return ok_status();
    case AMQP_RESPONSE_NONE:
      return Error(Errc::internal, std::string(what) + ": no reply recorded (missing RPC)");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return library_error(reply.library_error, what);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        Error e = broker_close_error(*static_cast<const amqp_connection_close_t*>(reply.reply.decoded));
        return e.with_context(what);
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        return channel_close_error(*static_cast<const amqp_channel_close_t*>(reply.reply.decoded), what);
      }
      return fail(
          Error(Errc::protocol, std::string(what) + ": unexpected broker method " + std::to_string(reply.reply.id)));
  }
  return Error(Errc::internal, std::string(what) + ": unknown reply type");
}

Result<std::optional<amqp_frame_t>> ConnectionCore::wait_frame(Deadline deadline) {
  for (;;) {
    if (Status st = check_usable(); !st.ok()) return st.error();
    amqp_frame_t frame{};
    timeval tv = to_timeval(until(deadline));
    const int status = amqp_simple_wait_frame_noblock(state_, &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) return std::optional<amqp_frame_t>();
    if (status != AMQP_STATUS_OK) return library_error(status, "waiting for the broker");
    if (frame.channel == 0) {
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      switch (frame.payload.method.id) {
        case AMQP_CONNECTION_CLOSE_METHOD:
          return broker_close_error(*static_cast<const amqp_connection_close_t*>(frame.payload.method.decoded));
        case AMQP_CONNECTION_BLOCKED_METHOD:
          blocked_ = true;
          continue;
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
          blocked_ = false;
          continue;
        default:
          continue;
      }
    }
    if (frame.channel != kChannel) continue;  // no other channel is ever opened
    if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
      return channel_close_error(*static_cast<const amqp_channel_close_t*>(frame.payload.method.decoded),
                                 "channel of " + description_);
    }
    return std::optional<amqp_frame_t>(frame);
  }
}

Result<Content> ConnectionCore::read_content(Deadline deadline, size_t max_body) {
  auto header = wait_frame(deadline);
  if (!header.ok()) return header.error();
  if (!header->has_value() || (*header)->frame_type != AMQP_FRAME_HEADER) {
    return fail(Error(Errc::protocol, "broker " + description_ + " sent a message without its content header"));
  }
  Content content;
  const auto& props = (*header)->payload.properties;
  copy_properties(*static_cast<const amqp_basic_properties_t*>(props.decoded), content);
  content.body_size = props.body_size;
  // Refused by the size its header declares, before any of it is read: the
  // body frames are then read and dropped one by one, so memory stays
  // bounded by one frame whatever the broker accepted (up to 128 MiB).
  content.discarded = max_body > 0 && props.body_size > max_body;
  if (!content.discarded) content.body.reserve(static_cast<size_t>(props.body_size));
  uint64_t received = 0;
  while (received < props.body_size) {
    auto body = wait_frame(deadline);
    if (!body.ok()) return body.error();
    if (!body->has_value() || (*body)->frame_type != AMQP_FRAME_BODY) {
      return fail(Error(Errc::protocol, "broker " + description_ + " sent an incomplete message body"));
    }
    const amqp_bytes_t& fragment = (*body)->payload.body_fragment;
    received += fragment.len;
    if (content.discarded) {
      release_buffers();
    } else {
      content.body.append(static_cast<const char*>(fragment.bytes), fragment.len);
    }
  }
  return content;
}

void ConnectionCore::release_buffers() { amqp_maybe_release_buffers(state_); }

Status ConnectionCore::keepalive() {
  if (Status st = check_usable(); !st.ok()) return st;
  const int hb = heartbeat_seconds();
  if (hb <= 0) return ok_status();
  const auto now = SteadyClock::now();
  if (now - last_keepalive_ < std::chrono::milliseconds(hb * 500)) return ok_status();
  amqp_frame_t frame{};
  frame.frame_type = AMQP_FRAME_HEARTBEAT;
  frame.channel = 0;
  if (const int status = amqp_send_frame(state_, &frame); status != AMQP_STATUS_OK) {
    return library_error(status, "sending a heartbeat");
  }
  last_keepalive_ = now;
  return ok_status();
}

Status ConnectionCore::close() {
  if (failure_) return ok_status();  // nothing left to close gracefully
  const amqp_rpc_reply_t reply = amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  Status st = ok_status();
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    st = Error(Errc::unavailable, "closing " + description_ + ": " + amqp_error_string2(reply.library_error));
  }
  fail(Error(Errc::unavailable, "connection " + description_ + " was closed by this process"));
  return st;
}

// ---------------------------------------------------------------------------
// Helpers

Errc errc_for_reply_code(int code) {
  switch (code) {
    case AMQP_ACCESS_REFUSED:
    case AMQP_NOT_ALLOWED:
      return Errc::access_refused;
    case AMQP_NOT_FOUND:
      return Errc::not_found;
    case AMQP_PRECONDITION_FAILED:
    case AMQP_RESOURCE_LOCKED:
      return Errc::conflict;
    case AMQP_CONNECTION_FORCED:
      return Errc::unavailable;
    default:
      return Errc::protocol;
  }
}

std::string_view reply_code_name(int code) {
  switch (code) {
    case AMQP_CONTENT_TOO_LARGE:
      return "CONTENT_TOO_LARGE";
    case AMQP_NO_ROUTE:
      return "NO_ROUTE";
    case AMQP_NO_CONSUMERS:
      return "NO_CONSUMERS";
    case AMQP_ACCESS_REFUSED:
      return "ACCESS_REFUSED";
    case AMQP_NOT_FOUND:
      return "NOT_FOUND";
    case AMQP_RESOURCE_LOCKED:
      return "RESOURCE_LOCKED";
    case AMQP_PRECONDITION_FAILED:
      return "PRECONDITION_FAILED";
    case AMQP_CONNECTION_FORCED:
      return "CONNECTION_FORCED";
    case AMQP_INVALID_PATH:
      return "INVALID_PATH";
    case AMQP_FRAME_ERROR:
      return "FRAME_ERROR";
    case AMQP_SYNTAX_ERROR:
      return "SYNTAX_ERROR";
    case AMQP_COMMAND_INVALID:
      return "COMMAND_INVALID";
    case AMQP_CHANNEL_ERROR:
      return "CHANNEL_ERROR";
    case AMQP_UNEXPECTED_FRAME:
      return "UNEXPECTED_FRAME";
    case AMQP_RESOURCE_ERROR:
      return "RESOURCE_ERROR";
    case AMQP_NOT_ALLOWED:
      return "NOT_ALLOWED";
    case AMQP_NOT_IMPLEMENTED:
      return "NOT_IMPLEMENTED";
    case AMQP_INTERNAL_ERROR:
      return "INTERNAL_ERROR";
    default:
      return "";
  }
}

namespace {

std::optional<std::string> field_as_text(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
      return to_string(v.value.bytes);
    case AMQP_FIELD_KIND_BOOLEAN:
      return std::string(v.value.boolean ? "true" : "false");
    case AMQP_FIELD_KIND_I8:
      return std::to_string(v.value.i8);
    case AMQP_FIELD_KIND_U8:
      return std::to_string(v.value.u8);
    case AMQP_FIELD_KIND_I16:
      return std::to_string(v.value.i16);
    case AMQP_FIELD_KIND_U16:
      return std::to_string(v.value.u16);
    case AMQP_FIELD_KIND_I32:
      return std::to_string(v.value.i32);
    case AMQP_FIELD_KIND_U32:
      return std::to_string(v.value.u32);
    case AMQP_FIELD_KIND_I64:
      return std::to_string(v.value.i64);
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      return std::to_string(v.value.u64);
    case AMQP_FIELD_KIND_F32:
      return std::to_string(v.value.f32);
    case AMQP_FIELD_KIND_F64:
      return std::to_string(v.value.f64);
    default:
      return std::nullopt;  // tables, arrays, decimals, void
  }
}

}  // namespace

void copy_properties(const amqp_basic_properties_t& props, Content& out) {
  const amqp_flags_t f = props._flags;
  if (f & AMQP_BASIC_CONTENT_TYPE_FLAG) out.content_type = to_string(props.content_type);
  if (f & AMQP_BASIC_MESSAGE_ID_FLAG) out.message_id = to_string(props.message_id);
  if (f & AMQP_BASIC_DELIVERY_MODE_FLAG) out.delivery_mode = props.delivery_mode;
  if (f & AMQP_BASIC_PRIORITY_FLAG) out.priority = props.priority;
  // Any 64-bit value can arrive; one no calendar holds is left out.
  if (f & AMQP_BASIC_TIMESTAMP_FLAG) out.timestamp = from_unix_seconds(props.timestamp);
  if (f & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < props.headers.num_entries; ++i) {
      const amqp_table_entry_t& e = props.headers.entries[i];
      if (auto text = field_as_text(e.value)) out.headers[to_string(e.key)] = std::move(*text);
    }
  }
}

}  // namespace dc::broker
