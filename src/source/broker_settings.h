// From configuration to the broker layer: the connection settings and the
// command topology a Config describes. Every command source and dc-manager
// take them from here, so a source declares a manager's queue exactly as the
// manager does (SPEC §3). Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "base/result.h"
#include "broker/connection.h"
#include "broker/topology.h"
#include "config/config.h"

namespace dc {

// `connection_name` is shown by the broker (rabbitmqctl list_connections).
broker::ConnectionSettings connection_settings(const Config& config, std::string_view connection_name);

// The topology for manager queue `queue` with the configured exchange and
// queue type. Errors: invalid_argument for an unknown rabbit_queue_type.
Result<broker::CommandTopology> command_topology(const Config& config, std::string_view queue);

}  // namespace dc
