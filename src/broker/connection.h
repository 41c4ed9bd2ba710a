// An AMQP 0-9-1 connection to RabbitMQ (rabbitmq-c underneath), with one
// channel. This is the only owner of a rabbitmq-c connection in dc: nothing
// else opens, closes or destroys one.
//
// A Connection serves one purpose at a time: declaring topology, and then
// either one Publisher or one Consumer (which take the Connection over). Use
// separate connections to publish and to consume, as RabbitMQ recommends
// (flow control blocks publishing connections, never consuming ones).
//
// Every operation has a deadline: the TCP connect and TLS handshake are bound
// by `connect_timeout`, the AMQP handshake by `connect_timeout`, each
// synchronous request (declare, qos, consume, close) by `rpc_timeout`, and a
// stalled socket write by `write_timeout` (TCP_USER_TIMEOUT). While a caller
// waits inside the broker layer heartbeats are sent, and a broker silent for
// two heartbeat intervals is declared lost.
//
// Errors (dc::Errc):
//   unavailable     nothing listening, host unreachable, connect timed out,
//                   connection lost (socket error, heartbeat timeout), broker
//                   shutting down (320 CONNECTION_FORCED)
//   auth            username/password refused; TLS certificate not trusted
//   access_refused  user may not use the vhost or resource (403, 530)
//   protocol        the broker closed the channel/connection for another
//                   reason; the message carries its reply code and text
//   conflict        a declaration differs from the existing one (406)
//   not_found       a named exchange/queue does not exist (404)
//   timeout         a request got no answer in time; the connection is then
//                   unusable
// A Connection that returned unavailable, timeout or protocol (connection
// level) is dead: usable() turns false and every later call fails the same
// way. Destroy it and open a new one. Channel-level errors (404, 406, 403 on a
// resource) leave the connection usable; the channel is reopened on next use.
//
// Thread safety: none. A Connection (and the Publisher/Consumer owning it) is
// used from one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/endpoint.h"
#include "base/result.h"

namespace dc::broker {

struct TlsSettings {
  bool enabled = false;
  std::string ca_file;    // PEM CA bundle that signs the broker's certificate; empty = system store
  std::string cert_file;  // client certificate (PEM), only for brokers that require one
  std::string key_file;   // its private key (PEM)
  // Verify the broker's certificate chain and that it names the host we
  // connect to. Off only for experiments: without it TLS does not stop a
  // man in the middle.
  bool verify = true;
};

struct ConnectionSettings {
  std::vector<Endpoint> endpoints{{"localhost", 5672}};  // tried in order until one accepts
  // Tried after all the others, wherever it stands in `endpoints`: the node a
  // connection was just lost to. A hung node (frozen VM, stalled host) still
  // completes TCP handshakes, so trying it first would cost connect_timeout
  // before the next node of a cluster is tried.
  std::optional<Endpoint> try_last;
  std::string vhost = "/";
  std::string username = "guest";
  std::string password = "guest";                   // never logged, never part of an error message
  std::chrono::seconds heartbeat{10};               // 0 disables heartbeats
  std::chrono::milliseconds connect_timeout{5000};  // per endpoint: TCP + TLS + AMQP handshake
  std::chrono::milliseconds rpc_timeout{10000};     // each synchronous request
  std::chrono::milliseconds write_timeout{30000};   // unacknowledged socket writes
  TlsSettings tls;
  // Shown by the broker (connection_name in rabbitmqctl list_connections
  // client_properties, and in the management UI),
  // e.g. "dc-manager node-7". Empty: none.
  std::string connection_name;
};

class ConnectionCore;  // rabbitmq-c state; see connection_core.h (broker layer only)

class Connection {
 public:
  // Connects to the first endpoint of `settings` that accepts (in order,
  // with settings.try_last moved to the end), logs in and opens a channel.
  // When every endpoint fails, the error lists each endpoint's failure;
  // auth and access_refused stop the fail-over at once (another node of the
  // same cluster would refuse too).
  static Result<Connection> open(const ConnectionSettings& settings);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  // Closes gracefully (bounded by rpc_timeout, at most 2 s) when still usable.
  ~Connection();

  // The endpoint this connection reached.
  const Endpoint& endpoint() const;
  // "amqps://user@host:port/vhost" (never the password), for log lines.
  std::string describe() const;
  // False once the connection failed or was closed; see failure().
  bool usable() const;
  // Why the connection is unusable, or nullopt while usable.
  std::optional<Error> failure() const;
  // True while the broker withholds reading our publishes (connection.blocked,
  // e.g. a memory or disk alarm). Updated whenever frames are read.
  bool blocked() const;
  // The heartbeat interval agreed with the broker (0 = off).
  std::chrono::seconds heartbeat() const;

  // The socket, for poll()/epoll together with other descriptors. Readiness
  // is a hint only: rabbitmq-c (and OpenSSL for TLS) may already hold frames
  // in memory while the socket is quiet. After each wake-up, drain with
  // Consumer::next(0ms) until it returns nullopt, and never poll without a
  // timeout. -1 when unusable.
  int fd() const;

  // Sends a heartbeat when at least half an interval passed since the last
  // one this call sent. Call it during long work between waits (the waits
  // themselves send heartbeats); no-op when heartbeats are off.
  Status keepalive();

  // Closes the connection gracefully (connection.close, bounded by
  // rpc_timeout). Afterwards usable() is false. Idempotent.
  Status close();

  // The broker layer's own access to rabbitmq-c (publisher, consumer,
  // topology). Other layers have no use for it.
  ConnectionCore& core() { return *core_; }

 private:
  explicit Connection(std::unique_ptr<ConnectionCore> core);
  std::unique_ptr<ConnectionCore> core_;
};

}  // namespace dc::broker
