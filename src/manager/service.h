// The dc-manager program: command line, logging, signals, metrics endpoint,
// and the Manager's run loop. Exit codes: 0 clean shutdown; 1 runtime
// failure (store unreachable, lease held by a live manager); 2 usage or
// configuration error.
#pragma once

namespace dc {

int manager_main(int argc, char** argv);

}  // namespace dc
