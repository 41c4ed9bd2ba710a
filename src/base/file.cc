#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace dc {

Result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  const UniqueFd file(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!file.valid()) return Error(Errc::io, std::strerror(errno));
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) return Error(Errc::io, std::strerror(errno));
  if (S_ISDIR(info.st_mode)) return Error(Errc::io, "it is a directory");
  if (!S_ISREG(info.st_mode)) return Error(Errc::io, "it is not a regular file");
  std::string content;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(Errc::io, std::strerror(errno));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_bytes) {
      return Error(Errc::io, "it is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return content;
}

}  // namespace dc
