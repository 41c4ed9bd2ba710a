// `dcctl logs`: the last lines of an app's log file and, with -f, what is
// appended to it, through rotation (the file renamed away and a new one
// created, logrotate's default) and truncation (logrotate's copytruncate),
// as `tail -F` does. The decisions are pure functions, unit-tested in
// tests/cli/log_follow_test.cc; LogFollower is the thin file adapter.
//
// Thread safety: a LogFollower is used by one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dc {

// Which file a descriptor or a path names, and how long it is.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = 0;
};

enum class FollowStep {
  read_on,  // keep reading the open file from where we are
  reopen,   // the path names another file now (rotated): finish the open one, then read the new one from its start
  rewind,   // the open file is shorter than what was read (truncated): read it again from its start
};

// What to do next, given the open file (as it is now), the file the path
// names now (nullopt: none, e.g. between a rename and the new file's
// creation), and the offset read up to.
FollowStep decide_follow_step(const FileIdentity& open, const std::optional<FileIdentity>& at_path, int64_t offset);

// Where the last `n` lines of `data` begin (a last line without a newline
// counts as a line). 0 when `data` has no more than `n` lines.
size_t last_lines_offset(std::string_view data, size_t n);

class LogFollower {
 public:
  // Opens `path` for reading. Errc::not_found when there is no such file,
  // Errc::io otherwise (the reason, e.g. permission denied).
  static Result<LogFollower> open(const std::filesystem::path& path);

  // The last `n` lines of the file as it is now (0: none); the next
  // read_new() goes on from the end. Reads at most the file's last
  // `max_bytes` bytes, so a huge log costs no more than that.
  Result<std::string> tail(size_t n, size_t max_bytes = 4 << 20);

  // What was appended since the last read (empty: nothing), following a
  // rotation or a truncation as decide_follow_step() says.
  Result<std::string> read_new();

  const std::filesystem::path& path() const { return path_; }

 private:
  LogFollower(std::filesystem::path path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  Result<std::string> read_to_end();

  std::filesystem::path path_;
  UniqueFd fd_;
  int64_t offset_ = 0;
};

}  // namespace dc
