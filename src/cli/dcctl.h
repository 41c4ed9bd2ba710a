// dcctl (SPEC §7): issues commands, manages the app registry, inspects
// commands and managers. Exit codes: 0 success; 1 failure (or, with --wait,
// a command NOT_EXECUTED); 2 usage or configuration error; 3 --wait ran out
// of time.
#pragma once

#include <string>

#include "protocol/command.h"

namespace dc {

int dcctl_main(int argc, char** argv);

// "start", "stop", ...: the subcommand that issues `name`.
std::string to_lower_name(CmdName name);

}  // namespace dc
