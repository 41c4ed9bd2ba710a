// Who may use dc-api: bearer tokens with a name and a role, kept in
// api_tokens_file as one line per token,
//
//   NAME ROLE SHA256-HEX-OF-TOKEN      e.g.  ci-bot operator 9f86d0...
//
// ('#' starts a comment line). Only the hash is stored: a token is shown
// once, when `dc-api token add` makes it, and cannot be read back. A token
// is "dc_" and 64 random hex digits (256 bits). The name is what a command's
// issued_by becomes.
//
// Roles (SPEC §8): viewer reads everything; operator also issues commands;
// admin also changes the app registry.
//
// Thread safety: TokenFile functions are plain file operations (one
// writer at a time is the operator's business; writes are atomic renames).
// A TokenStore may be used from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace dc {

enum class Role { viewer = 0, operator_ = 1, admin = 2 };
std::string_view to_string(Role role);
std::optional<Role> role_from_string(std::string_view text);
// Whether `held` may do what `needed` may.
inline bool role_allows(Role held, Role needed) { return static_cast<int>(held) >= static_cast<int>(needed); }

struct TokenEntry {
  std::string name;
  Role role = Role::viewer;
  std::string sha256_hex;  // 64 lower-case hex digits
};

// Empty when `name` can name a token (1-64 of [A-Za-z0-9_.@+-]), else why.
std::string token_name_problem(std::string_view name);

// A new random token ("dc_" + 64 hex digits).
std::string generate_token();
// The hash stored for `token`.
std::string hash_token(std::string_view token);

// Reads a tokens file. A missing file is an empty list. Errc::invalid_argument
// naming the file and line for a malformed line or a duplicate name;
// Errc::io when it cannot be read.
Result<std::vector<TokenEntry>> read_token_file(const std::string& path);
// Adds a token `name` with `role` and returns the token (to show once).
// Errc::conflict when the name exists. The file is rewritten atomically,
// mode 0600, comments kept.
Result<std::string> add_token(const std::string& path, std::string_view name, Role role);
// Removes the token `name`; Errc::not_found when there is none.
Status revoke_token(const std::string& path, std::string_view name);

struct Identity {
  std::string name;
  Role role = Role::viewer;
};

// The tokens of a file, re-read when the file changes (checked at most
// once per `recheck`), so `token revoke` takes effect on a running dc-api
// without a restart. Without a file, every token is refused.
class TokenStore {
 public:
  explicit TokenStore(std::string path, std::chrono::milliseconds recheck = std::chrono::milliseconds(1000));

  // Loads the file; the error of read_token_file.
  Status load();
  // The identity `token` belongs to, or nullopt. Compares hashes in
  // constant time against every entry.
  std::optional<Identity> authenticate(std::string_view token);
  size_t size();

 private:
  void reload_if_changed();

  std::string path_;
  std::chrono::milliseconds recheck_;
  std::mutex mutex_;
  std::vector<TokenEntry> entries_;
  std::chrono::steady_clock::time_point checked_{};
  int64_t mtime_ns_ = -1;
  int64_t size_bytes_ = -1;
};

}  // namespace dc
