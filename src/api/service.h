// The dc-api program: command line (the shared configuration flags, plus
// `token add|list|revoke`), logging, signals, and the ApiServer until
// SIGTERM or SIGINT. Exit codes: 0 clean shutdown; 1 runtime failure (the
// database cannot be reached, the port is taken); 2 usage or configuration
// error.
#pragma once

namespace dc {

int api_main(int argc, char** argv);

}  // namespace dc
