// dcctl (SPEC §7): issues commands, manages the app registry, inspects
// commands, apps and managers, tails app logs. Exit codes (exit_codes.h):
// 0 success; 1 failure (or, with --wait, a command NOT_EXECUTED); 2 usage or
// configuration error; 3 --wait ran out of time (status: an app is not
// running); 4 status: unknown app (task: broker down); 5 the database
// cannot be reached.
#pragma once

#include <string>

#include "protocol/command.h"

namespace dc {

int dcctl_main(int argc, char** argv);

// "start", "stop", ...: the subcommand that issues `name`.
std::string to_lower_name(CmdName name);

}  // namespace dc
