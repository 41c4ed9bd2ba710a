#include "process/child_signal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dc {
namespace {

// The write end the handler uses; -1 when none is installed. Only written
// outside the handler while SIGCHLD cannot be using it (see install/dtor).
volatile sig_atomic_t g_write_fd = -1;

extern "C" void on_sigchld(int) {
  const int saved_errno = errno;  // the handler must not disturb the interrupted code
  const int fd = g_write_fd;
  if (fd >= 0) {
    const char byte = 1;
    // EAGAIN (pipe full) is fine: the fd is readable already.
    [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

}  // namespace

Result<std::unique_ptr<ChildExitSignal>> ChildExitSignal::install() {
  if (g_write_fd >= 0) {
    return Error(Errc::conflict, "a SIGCHLD notifier is already installed in this process; share its fd()");
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Error(Errc::io, std::string("cannot create the SIGCHLD pipe: ") + std::strerror(errno));
  }
  std::unique_ptr<ChildExitSignal> notifier(new ChildExitSignal());
  notifier->read_end_.reset(fds[0]);
  notifier->write_end_.reset(fds[1]);
  g_write_fd = fds[1];

  struct sigaction action {};
  action.sa_handler = on_sigchld;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  if (::sigaction(SIGCHLD, &action, &notifier->previous_) != 0) {
    g_write_fd = -1;
    return Error(Errc::io, std::string("cannot install the SIGCHLD handler: ") + std::strerror(errno));
  }
  return notifier;
}

ChildExitSignal::~ChildExitSignal() {
  // Restore first, so no handler runs against a closed write end.
  ::sigaction(SIGCHLD, &previous_, nullptr);
  g_write_fd = -1;
}

void ChildExitSignal::clear() {
  char buf[64];
  while (::read(read_end_.get(), buf, sizeof buf) > 0) {
  }
}

}  // namespace dc
