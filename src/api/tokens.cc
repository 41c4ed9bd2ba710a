#include "api/tokens.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "base/ids.h"

namespace dc {
namespace {

constexpr size_t kMaxTokenName = 64;

bool is_hex_digest(std::string_view text) {
  if (text.size() != 64) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

Result<std::string> read_whole(const std::string& path, bool& exists) {
  std::ifstream in(path, std::ios::binary);
  exists = static_cast<bool>(in);
  if (!in) {
    if (errno == ENOENT) return std::string();
    return Error(Errc::io, "cannot read the tokens file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Writes `content` to `path` through a temporary file and a rename, so a
// reader sees the old file or the new one, never half of one. Mode 0600:
// the hashes are not secrets, but nobody else needs them.
Status write_atomically(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error(Errc::io, "cannot write '" + temp + "': " + std::strerror(errno));
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(temp.c_str());
      return Error(Errc::io, "cannot write '" + temp + "': " + why);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temp.c_str());
    return Error(Errc::io, "cannot write '" + temp + "': " + std::strerror(errno));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    return Error(Errc::io, "cannot replace '" + path + "': " + why);
  }
  return ok_status();
}

// The file's lines, each parsed or kept as it is (comments, blank lines).
struct FileLine {
  std::string text;
  std::optional<TokenEntry> entry;
};

Result<std::vector<FileLine>> parse_file(const std::string& path, const std::string& content) {
  std::vector<FileLine> lines;
  std::istringstream in(content);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    FileLine parsed{line, std::nullopt};
    const auto w = words(line);
    if (!w.empty() && w[0].front() != '#') {
      const std::string where = path + " line " + std::to_string(number);
      if (w.size() != 3) {
        return Error(Errc::invalid_argument,
                     where + ": expected 'NAME ROLE SHA256-HEX', found " + std::to_string(w.size()) + " words");
      }
      if (auto problem = token_name_problem(w[0]); !problem.empty()) {
        return Error(Errc::invalid_argument, where + ": " + problem);
      }
      auto role = role_from_string(w[1]);
      if (!role) {
        return Error(Errc::invalid_argument,
                     where + ": role '" + std::string(w[1]) + "' is not viewer, operator or admin");
      }
      if (!is_hex_digest(w[2])) {
        return Error(Errc::invalid_argument, where + ": the third word must be 64 lower-case hex digits (a SHA-256)");
      }
      for (const auto& earlier : lines) {
        if (earlier.entry && earlier.entry->name == w[0]) {
          return Error(Errc::invalid_argument, where + ": the name '" + std::string(w[0]) + "' appears twice");
        }
      }
      parsed.entry = TokenEntry{std::string(w[0]), *role, std::string(w[2])};
    }
    lines.push_back(std::move(parsed));
  }
  return lines;
}

std::string join(const std::vector<FileLine>& lines) {
  std::string out;
  for (const auto& line : lines) out += line.text + "\n";
  return out;
}

}  // namespace

std::string_view to_string(Role role) {
  switch (role) {
    case Role::viewer:
      return "viewer";
    case Role::operator_:
      return "operator";
    case Role::admin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> role_from_string(std::string_view text) {
  if (text == "viewer") return Role::viewer;
  if (text == "operator") return Role::operator_;
  if (text == "admin") return Role::admin;
  return std::nullopt;
}

std::string token_name_problem(std::string_view name) {
  if (name.empty() || name.size() > kMaxTokenName) return "a token name is 1 to 64 characters long";
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '@' || c == '+' || c == '-';
    if (!ok) return "a token name holds only letters, digits and _ . @ + -";
  }
  return {};
}

std::string generate_token() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // OpenSSL's generator failing is not something to carry on from.
    spdlog::critical("the random number generator failed");
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token = "dc_";
  for (const unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 0xf];
  }
  return token;
}

std::string hash_token(std::string_view token) { return sha256_hex(token); }

Result<std::vector<TokenEntry>> read_token_file(const std::string& path) {
  bool exists = false;
  auto content = read_whole(path, exists);
  if (!content) return content.error();
  auto lines = parse_file(path, *content);
  if (!lines) return lines.error();
  std::vector<TokenEntry> entries;
  for (auto& line : *lines) {
    if (line.entry) entries.push_back(std::move(*line.entry));
  }
  return entries;
}

Result<std::string> add_token(const std::string& path, std::string_view name, Role role) {
  if (auto problem = token_name_problem(name); !problem.empty()) return Error(Errc::invalid_argument, problem);
  bool exists = false;
  auto content = read_whole(path, exists);
  if (!content) return content.error();
  auto lines = parse_file(path, *content);
  if (!lines) return lines.error();
  for (const auto& line : *lines) {
    if (line.entry && line.entry->name == name) {
      return Error(Errc::conflict, "a token named '" + std::string(name) + "' exists in " + path +
                                       "; revoke it first or choose another name");
    }
  }
  if (!exists) lines->push_back({"# dc-api tokens: NAME ROLE SHA256-HEX (see `dc-api token --help`)", std::nullopt});
  const std::string token = generate_token();
  lines->push_back({std::string(name) + " " + std::string(to_string(role)) + " " + hash_token(token), std::nullopt});
  if (auto st = write_atomically(path, join(*lines)); !st) return st.error();
  return token;
}

Status revoke_token(const std::string& path, std::string_view name) {
  bool exists = false;
  auto content = read_whole(path, exists);
  if (!content) return content.error();
  auto lines = parse_file(path, *content);
  if (!lines) return lines.error();
  const size_t before = lines->size();
  std::erase_if(*lines, [&](const FileLine& line) { return line.entry && line.entry->name == name; });
  if (lines->size() == before) {
    return Error(Errc::not_found, "no token named '" + std::string(name) + "' in " + path);
  }
  return write_atomically(path, join(*lines));
}

TokenStore::TokenStore(std::string path, std::chrono::milliseconds recheck)
    : path_(std::move(path)), recheck_(recheck) {}

Status TokenStore::load() {
  if (path_.empty()) return ok_status();
  auto entries = read_token_file(path_);
  if (!entries) return entries.error();
  struct stat st {};
  std::lock_guard lock(mutex_);
  if (::stat(path_.c_str(), &st) == 0) {
    mtime_ns_ = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    size_bytes_ = static_cast<int64_t>(st.st_size);
  }
  entries_ = std::move(entries).value();
  checked_ = std::chrono::steady_clock::now();
  return ok_status();
}

void TokenStore::reload_if_changed() {
  // Called with mutex_ held.
  const auto now = std::chrono::steady_clock::now();
  if (path_.empty() || now - checked_ < recheck_) return;
  checked_ = now;
  struct stat st {};
  int64_t mtime = -2;
  int64_t size = -2;
  if (::stat(path_.c_str(), &st) == 0) {
    mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    size = static_cast<int64_t>(st.st_size);
  }
  if (mtime == mtime_ns_ && size == size_bytes_) return;
  auto entries = read_token_file(path_);
  if (!entries) {
    // Keep serving with what was loaded; a broken edit must not lock
    // everyone out (nor let everyone in).
    spdlog::error("tokens file changed but cannot be used, keeping the previous tokens: {}", entries.error().message());
    mtime_ns_ = mtime;
    size_bytes_ = size;
    return;
  }
  spdlog::info("tokens file {} reloaded: {} token(s)", path_, entries->size());
  entries_ = std::move(entries).value();
  mtime_ns_ = mtime;
  size_bytes_ = size;
}

std::optional<Identity> TokenStore::authenticate(std::string_view token) {
  const std::string hash = hash_token(token);
  std::lock_guard lock(mutex_);
  reload_if_changed();
  std::optional<Identity> found;
  // Every entry is compared, each in constant time: how long this takes
  // says nothing about which hash, or how much of one, matched.
  for (const auto& entry : entries_) {
    if (constant_time_equal(hash, entry.sha256_hex) && !found) found = Identity{entry.name, entry.role};
  }
  return found;
}

size_t TokenStore::size() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace dc
