// The command protocol (SPEC §2): enums, the command value, and the rules for
// reading a message body plus its AMQP properties into a command. Pure: no
// I/O, no broker or store types. Every rejection is a typed Error whose
// message names the offending field, so a dead-lettered message can be
// understood from its log line alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/names.h"
#include "base/result.h"
#include "base/time.h"

namespace dc {

// Wire values are fixed (SPEC §2): the integers travel in messages and sit
// in the `cmd`, `command` and `cmd_flag`/`flag` columns.
enum class CmdName : int { start = 1, stop = 2, restart = 3, enable = 4, disable = 5 };
enum class CmdFlag : int { pending = 0, executed = 1, not_executed = 2 };
enum class AppStatus : int { stopped = 0, starting = 1, running = 2, stopping = 3, failed = 4 };
// Which path delivered a command to the manager that executed it.
enum class DeliveryPath : int { broker = 0, poll = 1 };

// Upper-case names: "START", "EXECUTED", "RUNNING", "broker"/"poll".
std::string_view to_string(CmdName name);
std::string_view to_string(CmdFlag flag);
std::string_view to_string(AppStatus status);
std::string_view to_string(DeliveryPath path);

// Case-insensitive name lookups; nullopt when unknown.
std::optional<CmdName> cmd_name_from_string(std::string_view text);
std::optional<CmdFlag> cmd_flag_from_string(std::string_view text);
std::optional<AppStatus> app_status_from_string(std::string_view text);
std::optional<DeliveryPath> delivery_path_from_string(std::string_view text);
// Integer lookups; nullopt when out of range.
std::optional<CmdName> cmd_name_from_int(int64_t value);
std::optional<CmdFlag> cmd_flag_from_int(int64_t value);
std::optional<AppStatus> app_status_from_int(int64_t value);

// `"*"` in a message's app_id addresses every app of the receiving manager;
// kBroadcastRoutingKey (base/names.h) is the routing key every manager queue
// is bound with.
inline constexpr std::string_view kBroadcastAppId = "*";
// Bodies larger than this are poison (SPEC §2).
inline constexpr size_t kMaxBodyBytes = size_t{64} * 1024;
inline constexpr size_t kMaxAppIdLength = 128;

// Returns an empty string when `app_id` is a valid app id, else the reason.
// Valid: 1-128 chars of [A-Za-z0-9_.-], not starting with '.', so it is safe
// as a file name (`log_dir/<app_id>.log`) and a log key. "*" is accepted only
// when `allow_broadcast`.
std::string app_id_problem(std::string_view app_id, bool allow_broadcast = false);
inline bool is_valid_app_id(std::string_view app_id, bool allow_broadcast = false) {
  return app_id_problem(app_id, allow_broadcast).empty();
}

// One command as it travels: the body fields plus the id from message_id.
struct Command {
  std::string id;      // command id (a UUID; see parse_command for the rules)
  std::string app_id;  // an app id, or "*"
  CmdName name = CmdName::start;
  std::string issued_by;
  TimePoint issued_at{};         // the body's timestamp, or the time of receipt
  std::string args_json = "{}";  // compact JSON object; "{}" when absent
  // The x-dc-signature it travelled with (empty: unsigned). Not part of the
  // body; recorded with the command so the database path can check it.
  std::string signature;

  bool is_broadcast() const { return app_id == kBroadcastAppId; }
  friend bool operator==(const Command&, const Command&) = default;
};

// The AMQP properties (and headers) the protocol reads.
struct MessageProperties {
  std::optional<std::string> message_id;
  std::optional<int64_t> timestamp;  // seconds since the epoch
  std::optional<std::string> content_type;
  std::optional<std::string> signature;  // header x-dc-signature
};

// Reads a message into a Command, or returns an Errc::invalid_argument Error
// saying why it is poison: not JSON, not an object, missing or mistyped
// app_id/command, invalid app_id, unknown command value, malformed
// timestamp/args/command_id, issued_by holding a control character (a NUL
// byte included: no backend stores the same thing for it), or a body over
// kMaxBodyBytes.
// Command id: `message_id` if present and non-empty; else the body's
// "command_id"; else stable_uuid(body), so redeliveries still dedupe.
// Unknown fields are ignored. `received_at` fills a missing timestamp.
Result<Command> parse_command(std::string_view body, const MessageProperties& props, TimePoint received_at);

// The JSON body for `command` (SPEC §2 layout, integer command, timestamp in
// ISO-8601 UTC). parse_command(serialize_command_body(c), {c.id}) == c up to
// sub-microsecond precision.
std::string serialize_command_body(const Command& command);

// Validates and compacts an args document: must be a JSON object. Returns the
// compact form, or an error naming the problem.
Result<std::string> normalize_args_json(std::string_view text);

}  // namespace dc

namespace dc {

// Signed commands (SPEC §4 command_secret). The signature is the lower-case
// hex HMAC-SHA256, keyed with the shared secret, of
//   message_id + "\n" + routing_key + "\n" + body
// and travels in the AMQP header `x-dc-signature`. The routing key binds
// the message to where it was sent: a signed `--all --manager A` message
// re-published to manager B (or to `all`) does not verify there.
inline constexpr std::string_view kSignatureHeader = "x-dc-signature";
std::string sign_command(std::string_view secret, std::string_view message_id, std::string_view routing_key,
                         std::string_view body);

// Checks a received message when signing is on: `signature` must match one
// of `secrets` (several allow key rotation) for this message id, routing
// key and body, and the command's timestamp must be at most `max_age` old
// (and not more than `max_age` in the future) at `now`, so a captured
// message cannot be replayed later; replays within the window are stopped
// by the command-id dedupe. Returns the reason it is poison, or an empty
// string when it is acceptable.
std::string signature_problem(const std::vector<std::string>& secrets, const std::optional<std::string>& signature,
                              std::string_view message_id, std::string_view routing_key, std::string_view body,
                              TimePoint issued_at, TimePoint now, std::chrono::seconds max_age);

}  // namespace dc
