// Reading the small files dc reads whole: the config file, the password
// file, /proc/<pid>/environ. Thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "base/result.h"

namespace dc {

// The whole content of the regular file `path`, of at most `max_bytes`.
// Errc::io whose message is the reason alone ("No such file or directory",
// "it is a directory", "it is larger than N bytes"): callers name the file.
// Only regular files (procfs files count): a FIFO is opened without waiting
// for a writer, and a device or a pipe, which has no end, is refused.
Result<std::string> read_small_file(const std::string& path, size_t max_bytes);

}  // namespace dc
