// Names that travel as AMQP names and sit in the database: the rule for a
// manager's name, which is also its queue and its routing key (SPEC §3).
// One rule, applied where a name enters: the configuration (rabbit_queue)
// and the app registry (apps.manager).
#pragma once

#include <string>
#include <string_view>

namespace dc {

// The routing key every manager's queue is bound with (SPEC §3): a command
// published with it reaches every manager.
inline constexpr std::string_view kBroadcastRoutingKey = "all";

// Returns an empty string when `name` can name a manager, else the reason
// (quoting the name). Valid: 1-255 bytes of [A-Za-z0-9_.:-], not `all` (the
// broadcast routing key: such a manager would receive every broadcast, and
// could not be addressed alone) and not starting with `amq.` (RabbitMQ
// reserves those queue names, so declaring the manager's queue, which every
// broadcast publish does, would fail).
std::string manager_name_problem(std::string_view name);

}  // namespace dc
