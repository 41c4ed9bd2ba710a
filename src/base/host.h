// The machine this process runs on, as other hosts and logs should name it.
#pragma once

#include <string>

namespace dc {

// This host's name from gethostname(), or "localhost" when it has none.
// Thread-safe.
std::string host_name();

}  // namespace dc
