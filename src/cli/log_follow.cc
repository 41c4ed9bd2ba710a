#include "cli/log_follow.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dc {
namespace {

FileIdentity identity_of(const struct stat& st) {
  return FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                      static_cast<int64_t>(st.st_size)};
}

Result<FileIdentity> identity_of_fd(int fd, const std::filesystem::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error(Errc::io, "cannot stat " + path.string() + ": " + std::strerror(errno));
  return identity_of(st);
}

std::optional<FileIdentity> identity_of_path(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return identity_of(st);
}

Result<UniqueFd> open_for_reading(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    const int err = errno;
    return Error(err == ENOENT ? Errc::not_found : Errc::io, path.string() + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error(Errc::io, path.string() + ": not a regular file");
  }
  return fd;
}

}  // namespace

FollowStep decide_follow_step(const FileIdentity& open, const std::optional<FileIdentity>& at_path, int64_t offset) {
  if (at_path && (at_path->device != open.device || at_path->inode != open.inode)) return FollowStep::reopen;
  if (open.size < offset) return FollowStep::rewind;
  return FollowStep::read_on;
}

size_t last_lines_offset(std::string_view data, size_t n) {
  if (n == 0) return data.size();
  size_t end = data.size();
  // A final newline ends the last line; it does not start an empty one.
  if (end > 0 && data[end - 1] == '\n') --end;
  size_t lines = 0;
  while (end > 0) {
    const size_t newline = data.rfind('\n', end - 1);
    if (newline == std::string_view::npos) return 0;
    if (++lines == n) return newline + 1;
    end = newline;
  }
  return 0;
}

Result<LogFollower> LogFollower::open(const std::filesystem::path& path) {
  auto fd = open_for_reading(path);
  if (!fd) return fd.error();
  return LogFollower(path, std::move(fd).value());
}

Result<std::string> LogFollower::tail(size_t n, size_t max_bytes) {
  auto identity = identity_of_fd(fd_.get(), path_);
  if (!identity) return identity.error();
  const int64_t size = identity->size;
  const int64_t from = std::max<int64_t>(0, size - static_cast<int64_t>(max_bytes));
  std::string data(static_cast<size_t>(size - from), '\0');
  size_t got = 0;
  while (got < data.size()) {
    const ssize_t r = ::pread(fd_.get(), data.data() + got, data.size() - got, from + static_cast<int64_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error(Errc::io, "cannot read " + path_.string() + ": " + std::strerror(errno));
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  data.resize(got);
  offset_ = from + static_cast<int64_t>(got);
  return data.substr(last_lines_offset(data, n));
}

Result<std::string> LogFollower::read_to_end() {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t r = ::pread(fd_.get(), buf, sizeof buf, offset_);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error(Errc::io, "cannot read " + path_.string() + ": " + std::strerror(errno));
    if (r == 0) return out;
    out.append(buf, static_cast<size_t>(r));
    offset_ += r;
  }
}

Result<std::string> LogFollower::read_new() {
  auto open_identity = identity_of_fd(fd_.get(), path_);
  if (!open_identity) return open_identity.error();
  switch (decide_follow_step(*open_identity, identity_of_path(path_), offset_)) {
    case FollowStep::read_on:
      return read_to_end();
    case FollowStep::rewind:
      offset_ = 0;
      return read_to_end();
    case FollowStep::reopen: {
      // What the app wrote to the old file before it was renamed away.
      auto rest = read_to_end();
      if (!rest) return rest.error();
      auto fd = open_for_reading(path_);
      if (!fd) return *rest;  // gone again in between: try on the next call
      fd_ = std::move(fd).value();
      offset_ = 0;
      auto fresh = read_to_end();
      if (!fresh) return fresh.error();
      return *rest + *fresh;
    }
  }
  return std::string();
}

}  // namespace dc
