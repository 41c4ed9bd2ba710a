// The command topology of SPEC §3, declared identically by every manager and
// every command source:
//
//   exchange <exchange>        direct, durable
//     -> queue <queue>         durable, x-dead-letter-exchange=<exchange>.dlx
//                              (x-queue-type=quorum when asked), bound twice:
//                              routing key <queue> and routing key "all"
//                              (kBroadcastRoutingKey, protocol/command.h)
//   exchange <exchange>.dlx    fanout, durable
//     -> queue <exchange>.dead durable (always classic), bound with ""
//
// Declaring is idempotent. A declaration that differs from what exists (other
// type, other arguments) is refused by the broker with 406
// PRECONDITION_FAILED; it comes back as Errc::conflict with the broker's
// words and what to do.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "broker/connection.h"
#include "protocol/command.h"

namespace dc::broker {

inline constexpr std::string_view kDefaultCommandExchange = "dc_commands";

enum class QueueType { classic, quorum };

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

// Declares only the exchanges and the dead-letter queue: what a command
// source needs before publishing to routing key "all" when no manager queue
// is known. declare_command_topology() includes this.
Status declare_command_exchanges(Connection& conn, std::string_view exchange);

// Number of ready messages in `queue` (passive declare). Errc::not_found when
// the queue does not exist.
Result<uint32_t> queue_message_count(Connection& conn, std::string_view queue);

// Deletes `queue` (with its messages). Succeeds when it does not exist.
Status delete_queue(Connection& conn, std::string_view queue);

// Deletes `exchange`. Succeeds when it does not exist.
Status delete_exchange(Connection& conn, std::string_view exchange);

}  // namespace dc::broker
