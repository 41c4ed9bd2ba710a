// Running a program to completion with its standard streams wired to us:
// what dc-worker does for an executable actor (SPEC §9), and generic enough
// for any "run this with that input, within this time" need.
//
// The program starts through posix_spawnp (glibc: clone + exec, no fork of
// our address space; an exec failure comes back as an error, and a file
// without a #! line is never run through a shell), leads its own process
// group, gets default signal dispositions and an empty mask, and inherits
// only fds 0-2: stdin is a pipe fed with `stdin_data`, stdout and stderr are
// pipes whose tails are kept.
//
// When the program ends, whatever it left running in its process group is
// killed (SIGKILL) before the program is reaped, so nothing it started
// outlives the run and the group id cannot be someone else's yet. At the
// time limit, or when `cancel` turns true, the whole group is killed the
// same way. Every run is reaped before run_program returns: no zombies.
//
// Thread safe: each call owns its pipes and child; the caller's process
// must not reap children it did not spawn itself (no waitpid(-1)).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "base/result.h"
#include "process/exit_status.h"

namespace dc {

struct ProgramRun {
  std::vector<std::string> argv;  // argv[0]: a path, or a name looked up in PATH
  std::vector<std::string> env;   // the complete environment, "NAME=value" each
  std::string stdin_data;         // written to stdin, which is then closed
  std::chrono::milliseconds time_limit{600'000};
  size_t stdout_keep = size_t{1} << 20;  // bytes of stdout kept (the tail)
  size_t stderr_keep = size_t{64} << 10;
  // Checked at least every 50 ms while the program runs; true kills it.
  const std::atomic<bool>* cancel = nullptr;
};

struct ProgramResult {
  ExitStatus status;
  bool timed_out = false;  // killed at the time limit
  bool cancelled = false;  // killed because *cancel turned true
  std::string stdout_tail;
  std::string stderr_tail;
  std::chrono::milliseconds elapsed{0};
  bool succeeded() const { return !timed_out && !cancelled && status.exit_code == 0; }
};

// Errors (the program did not run): invalid_argument (empty argv),
// not_found (no such program or interpreter), io (not executable, pipes,
// spawn failure), each naming the program.
Result<ProgramResult> run_program(const ProgramRun& run);

// This process's environment as "NAME=value" strings, without the variables
// named in `drop`.
std::vector<std::string> environment_without(const std::vector<std::string>& drop);

}  // namespace dc
