// Makes child exits pollable in a single-threaded event loop: while a
// ChildExitSignal lives, every SIGCHLD writes a byte to a non-blocking pipe
// whose read end is fd(). The loop polls fd() beside its sockets; when it is
// readable, call clear() and then reap (reap_children() or try_reap()).
// clear() before reaping, so an exit that races with the reap leaves the
// fd readable for the next turn rather than being lost.
//
// This installs a process-wide SIGCHLD handler (SA_RESTART|SA_NOCLDSTOP);
// at most one ChildExitSignal may exist at a time, and the previous handler
// is restored when it is destroyed. It does not reap anything itself.
// Per-process pidfds (open_pidfd) are the alternative without a handler.
#pragma once

#include <signal.h>

#include <memory>

#include "base/result.h"
#include "process/unique_fd.h"

namespace dc {

class ChildExitSignal {
 public:
  // Errors: conflict when one is already installed; io when the pipe or
  // sigaction fails.
  static Result<std::unique_ptr<ChildExitSignal>> install();
  ~ChildExitSignal();
  ChildExitSignal(const ChildExitSignal&) = delete;
  ChildExitSignal& operator=(const ChildExitSignal&) = delete;

  // Readable after at least one SIGCHLD since the last clear().
  int fd() const { return read_end_.get(); }
  // Empties the pipe without blocking.
  void clear();

 private:
  ChildExitSignal() = default;
  UniqueFd read_end_;
  UniqueFd write_end_;
  struct sigaction previous_ {};
};

}  // namespace dc
