// Consuming one queue with manual acknowledgements.
//
// The broker sends at most `prefetch` unacknowledged deliveries. Each
// delivery must be settled exactly once: ack() after its effect is committed,
// or reject() (requeue=false: the queue's dead-letter exchange takes it, for
// poison). Deliveries not settled when the connection goes away are requeued
// by the broker and come back with redelivered=true.
//
// Event loops: next(timeout) is the whole interface; it returns nullopt when
// nothing arrived in time, so the caller can run timers between calls, and it
// sends heartbeats while it waits. To multiplex with other descriptors, poll
// connection().fd() with a timeout and, on every wake-up, call next(0ms) until
// it returns nullopt: rabbitmq-c (and OpenSSL) may hold complete frames in
// memory while the socket is quiet, so readiness alone misses them. During
// long work between calls, call connection().keepalive() at least every
// heartbeat/2 seconds, or the broker drops the connection.
//
// A Consumer owns its Connection. Not thread safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/time.h"
#include "broker/connection.h"

namespace dc::broker {

struct Delivery {
  uint64_t delivery_tag = 0;  // pass to ack()/reject(); valid on this consumer only
  bool redelivered = false;   // delivered before and not acked then
  std::string exchange;
  std::string routing_key;
  std::string body;             // empty when body_discarded
  uint64_t body_size = 0;       // as its content header declared
  bool body_discarded = false;  // over ConsumerOptions::max_body_bytes: never read into memory
  std::optional<std::string> message_id;
  std::optional<std::string> content_type;
  std::optional<TimePoint> timestamp;  // whole seconds
  std::optional<int> delivery_mode;    // 2 = persistent
  std::optional<int> priority;         // 0-255, when the publisher set one
  // Application headers. String values as sent; numbers and booleans as
  // text; nested tables and arrays are left out.
  std::map<std::string, std::string, std::less<>> headers;

  // The header's value, or nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
};

struct ConsumerOptions {
  std::string queue;
  uint16_t prefetch = 1;     // unacked deliveries in flight (rabbit_prefetch), >= 1
  std::string consumer_tag;  // empty: the broker assigns one
  // > 0: a delivery whose body is declared larger comes out of next() with
  // body_discarded set and an empty body. Its frames are read and dropped as
  // they arrive, so memory stays bounded by one frame however large the
  // message; the caller rejects it (poison). 0: no limit.
  size_t max_body_bytes = 0;
};

class Consumer {
 public:
  // Takes the connection over, sets basic.qos(prefetch) and starts consuming
  // `options.queue` with manual acks. Errors: not_found when the queue does
  // not exist, access_refused, and the connection errors of connection.h.
  static Result<Consumer> start(Connection conn, ConsumerOptions options);

  Consumer(Consumer&&) noexcept;
  Consumer& operator=(Consumer&&) noexcept;
  ~Consumer();

  // The next delivery, waiting up to `timeout` (0 = only what is already
  // available), or nullopt when none arrived in time. Errors end the
  // consumer: connection lost or closed (unavailable/protocol/timeout; a
  // heartbeat timeout included), channel closed by the broker, or the broker
  // cancelled the consumer because the queue was deleted (unavailable). After
  // an error, destroy the Consumer and reconnect.
  Result<std::optional<Delivery>> next(std::chrono::milliseconds timeout);

  // Acknowledges one delivery: the broker forgets the message.
  Status ack(uint64_t delivery_tag);
  // Acknowledges `delivery_tag` and every earlier unsettled delivery of this
  // consumer in one frame (basic.ack multiple=true).
  Status ack_up_to(uint64_t delivery_tag);
  // Rejects one delivery. requeue=false dead-letters it (poison);
  // requeue=true puts it back at the head of the queue.
  Status reject(uint64_t delivery_tag, bool requeue = false);

  // Stops new deliveries (basic.cancel, bounded by rpc_timeout). Deliveries
  // already on the way may still come out of next(); unsettled ones return to
  // the queue when the connection closes. Idempotent.
  Status cancel();

  const std::string& queue() const { return options_.queue; }
  const std::string& consumer_tag() const { return options_.consumer_tag; }
  Connection& connection() { return conn_; }

 private:
  Consumer(Connection conn, ConsumerOptions options);
  Status check_live(std::string_view what);
  // basic.ack of `delivery_tag` alone, or with every earlier one (`multiple`).
  Status send_ack(uint64_t delivery_tag, bool multiple);

  Connection conn_;
  ConsumerOptions options_;
  uint64_t channel_generation_ = 0;  // the channel the consumer lives on
  std::optional<Error> ended_;       // set when the broker cancelled us
  bool cancelled_ = false;
};

}  // namespace dc::broker
