#include "base/unique_fd.h"

#include <unistd.h>

namespace dc {

void UniqueFd::reset(int fd) {
  // close() errors are not actionable here: on Linux the fd is released
  // even when close reports EINTR or EIO, so retrying would be wrong.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace dc
