// Reliable publishing: persistent messages, `mandatory` routing and
// publisher confirms, with an outcome per message.
//
// Outcomes (PublishOutcome):
//   confirmed  the broker took responsibility: the message is in every queue
//              it routed to (on disk for durable queues). Only this outcome
//              means "delivered to the broker".
//   returned   unroutable: no queue is bound for the routing key (basic.return,
//              e.g. "312 NO_ROUTE"). The broker still acks a returned message;
//              the return wins. Nothing was queued.
//   nacked     the broker refused responsibility (basic.nack: internal error,
//              queue length limit with reject-publish). Nothing is promised.
//   unknown    no answer: the connection or channel failed, or no confirm came
//              within confirm_timeout, before this message's outcome arrived.
//              The message may or may not be queued; republish (consumers
//              dedupe by message_id) or rely on the database fallback.
// A message is never reported confirmed unless the broker acked it.
//
// A Publisher owns its Connection (one channel in confirm mode). Not thread
// safe. After an unknown outcome check usable(): when false, destroy the
// Publisher and reconnect; when true (a channel-level refusal such as a
// missing exchange), the next batch reopens the channel by itself.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "broker/connection.h"

namespace dc::broker {

struct OutgoingMessage {
  std::string exchange;
  std::string routing_key;
  std::string body;
  // The AMQP message_id (the command id). Empty: a random UUID is assigned
  // and reported in PublishResult::message_id.
  std::string message_id;
  // AMQP timestamp (whole seconds on the wire). Empty: the time of publishing.
  std::optional<TimePoint> timestamp;
  std::string content_type = "application/json";
  // String-valued application headers, e.g. {"x-dc-signature", "..."}.
  std::vector<std::pair<std::string, std::string>> headers;
  bool mandatory = true;   // unroutable -> returned (instead of silently dropped)
  bool persistent = true;  // delivery_mode 2
  // AMQP priority (0-255); honoured by queues declared with x-max-priority.
  // Empty: the property is not sent.
  std::optional<uint8_t> priority;
};

enum class PublishOutcome { confirmed, returned, nacked, unknown };
std::string_view to_string(PublishOutcome outcome);

struct PublishResult {
  PublishOutcome outcome = PublishOutcome::unknown;
  std::string message_id;  // as sent
  // Why, for anything but confirmed: the broker's reply for returned ("312
  // NO_ROUTE: ..."), the failure for unknown.
  std::string detail;
  bool confirmed() const { return outcome == PublishOutcome::confirmed; }
};

struct PublisherOptions {
  // Messages published but not yet confirmed, at most. Bounds memory and the
  // number of unknown outcomes when a connection dies.
  size_t max_in_flight = 256;
  // Longest wait for the next confirm while messages are in flight. When it
  // passes, the connection is abandoned and the rest is unknown.
  std::chrono::milliseconds confirm_timeout{10000};
};

class ConfirmTracker;  // confirm_tracker.h: the outcome rules, without I/O

class Publisher {
 public:
  // Takes the connection over and puts its channel in confirm mode.
  static Result<Publisher> create(Connection conn, PublisherOptions options = {});

  Publisher(Publisher&&) noexcept;
  Publisher& operator=(Publisher&&) noexcept;
  ~Publisher();

  // Publishes `messages` in order and waits (bounded, see confirm_timeout)
  // until each has an outcome. Returns one result per message, same order.
  // Never fails as a whole: failures show as unknown outcomes whose detail
  // says what happened. While the broker blocks publishers (resource alarm)
  // nothing is sent and every outcome is unknown.
  std::vector<PublishResult> publish_batch(std::span<const OutgoingMessage> messages);

  // publish_batch() for one message.
  PublishResult publish(const OutgoingMessage& message);

  // False once the connection is dead; see Connection::failure().
  bool usable() const;
  Connection& connection() { return conn_; }

 private:
  Publisher(Connection conn, PublisherOptions options);
  Status ensure_confirm_mode();
  // basic.publish of `message` with `message_id`; a failure kills the
  // connection.
  Status send(const OutgoingMessage& message, const std::string& message_id);
  // Waits (up to confirm_timeout) for the next frame and gives any confirm
  // or return in it to `tracker`.
  Status read_confirm(ConfirmTracker& tracker);

  Connection conn_;
  PublisherOptions options_;
  uint64_t confirm_generation_ = 0;  // channel generation in confirm mode; 0 = none
  uint64_t next_seq_ = 1;            // delivery tag of the next publish on this channel
};

}  // namespace dc::broker
