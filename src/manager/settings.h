// From configuration to the adapters: the broker connection settings and the
// command topology that a Config describes. Shared by dc-manager and dcctl
// so both declare exactly the same queue (SPEC §3: a command source declares
// the target manager's queue exactly as the manager does).
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "broker/connection.h"
#include "broker/topology.h"
#include "config/config.h"

namespace dc {

// `connection_name` is shown by the broker (rabbitmqctl list_connections).
broker::ConnectionSettings connection_settings(const Config& config, std::string_view connection_name);

// The topology for manager queue `queue` with the configured exchange and
// queue type.
Result<broker::CommandTopology> command_topology(const Config& config, std::string_view queue);

// "host" from gethostname(), or "localhost".
std::string host_name();

}  // namespace dc
