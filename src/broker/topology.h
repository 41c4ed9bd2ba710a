// The command topology of SPEC §3, declared identically by every manager and
// every command source:
//
//   exchange <exchange>        direct, durable
//     -> queue <queue>         durable, x-dead-letter-exchange=<exchange>.dlx,
//                              bound twice: routing key <queue> and routing
//                              key "all" (kBroadcastRoutingKey, base/names.h)
//   exchange <exchange>.dlx    fanout, durable
//     -> queue <exchange>.dead durable, bound with ""
//
// With QueueType::quorum both queues are quorum queues (replicated on a
// cluster), and the manager queue also carries
//   x-dead-letter-strategy=at-least-once  a dead letter leaves the queue only
//                                         once <exchange>.dead has confirmed it
//   x-overflow=reject-publish             required by at-least-once (no length
//                                         limit is set, so nothing is refused)
//   x-delivery-limit=kQuorumDeliveryLimit see below
// so poison rejected by a manager lands in <exchange>.dead (x-death reason
// "rejected") whichever node is down.
//
// Declaring is idempotent. A declaration that differs from what exists (other
// type, other arguments) is refused by the broker with 406
// PRECONDITION_FAILED; it comes back as Errc::conflict with the broker's
// words and what to do. Every client of one exchange must therefore use the
// same queue type.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "base/names.h"
#include "base/result.h"
#include "broker/connection.h"

namespace dc::broker {

inline constexpr std::string_view kDefaultCommandExchange = "dc_commands";

enum class QueueType { classic, quorum };

// A quorum queue counts the deliveries of each message and dead-letters it
// (x-death reason "delivery_limit") past its limit. dc-manager never
// requeues: it acks, or rejects poison without requeue. So on the RabbitMQ
// versions that count every return (before 4.3), each count comes from a
// consumer that went away with the message unacknowledged: a manager
// crash, a shutdown, the loss of its broker node. Such a redelivery is not
// poison, and must not be treated as such: RabbitMQ 4's default limit of 20
// could be reached by a long-lived queue's unlucky message in a crash-looping
// manager, so the limit is set explicitly, far above what failures add.
// Only a message that killed the manager that many times (a true poison
// pill) ends in the dead-letter queue this way.
inline constexpr int32_t kQuorumDeliveryLimit = 100;

// "classic" / "quorum" (case-sensitive, as in rabbit_queue_type); anything
// else is invalid_argument.
Result<QueueType> parse_queue_type(std::string_view text);
std::string_view to_string(QueueType type);

struct CommandTopology {
  std::string exchange{kDefaultCommandExchange};
  std::string queue;  // the manager's queue, named like the manager
  QueueType queue_type = QueueType::classic;

  std::string dead_letter_exchange() const { return exchange + ".dlx"; }
  std::string dead_letter_queue() const { return exchange + ".dead"; }
};

// Declares the exchange, the dead-letter exchange and queue, `t.queue` and its
// two bindings. Requires a non-empty queue and exchange (invalid_argument).
// Errors: conflict (406: existing queue/exchange declared differently),
// access_refused (user lacks configure permission), and the connection errors
// of connection.h. After a channel-level error the connection stays usable.
Status declare_command_topology(Connection& conn, const CommandTopology& t);

// Declares only the exchanges and the dead-letter queue (of type
// `dead_letter_type`): what a command source needs before publishing to
// routing key "all" when no manager queue is known.
// declare_command_topology() includes this.
Status declare_command_exchanges(Connection& conn, std::string_view exchange, QueueType dead_letter_type);

// Number of ready messages in `queue` (passive declare). Errc::not_found when
// the queue does not exist.
Result<uint32_t> queue_message_count(Connection& conn, std::string_view queue);

// One x-argument of a queue declaration: a string (AMQP longstr) or an
// integer (sent as a 32-bit signed integer when it fits, else 64-bit; the
// broker treats every integer width as the same type when it compares a
// redeclaration, so clients that encode the same number differently agree).
struct QueueArgument {
  std::string key;
  std::variant<std::string, int64_t> value;
};

// What queue.declare-ok reports: ready messages (not those delivered and
// unacknowledged) and consumers.
struct QueueInfo {
  uint32_t message_count = 0;
  uint32_t consumer_count = 0;
};

// Declares the durable, non-exclusive queue `queue` with `arguments`
// (idempotent). Errors: conflict (406: it exists with other arguments; the
// message says what to do), access_refused, and the connection errors of
// connection.h. After a channel-level error the connection stays usable.
Result<QueueInfo> declare_durable_queue(Connection& conn, std::string_view queue,
                                        std::span<const QueueArgument> arguments);

// queue.declare with passive=true: the counts of an existing queue.
// Errc::not_found when the queue does not exist.
Result<QueueInfo> inspect_queue(Connection& conn, std::string_view queue);

// Removes every ready message of `queue` (queue.purge) and returns how many
// there were. Unacknowledged deliveries are not touched. Errc::not_found
// when the queue does not exist.
Result<uint32_t> purge_queue(Connection& conn, std::string_view queue);

// Deletes `queue` (with its messages). Succeeds when it does not exist.
Status delete_queue(Connection& conn, std::string_view queue);

// Deletes `exchange`. Succeeds when it does not exist.
Status delete_exchange(Connection& conn, std::string_view exchange);

}  // namespace dc::broker
