#include "protocol/command.h"

#include "base/json_scan.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "base/ids.h"
#include "base/strings.h"

namespace dc {
namespace {

using nlohmann::json;

template <class Enum, size_t N>
std::optional<Enum> lookup(const std::array<std::pair<Enum, std::string_view>, N>& table, std::string_view text) {
  for (const auto& [value, name] : table) {
    if (equals_ignoring_case(name, text)) return value;
  }
  return std::nullopt;
}

template <class Enum, size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "UNKNOWN";
}

constexpr std::array<std::pair<CmdName, std::string_view>, 5> kCmdNames{{
    {CmdName::start, "START"},
    {CmdName::stop, "STOP"},
    {CmdName::restart, "RESTART"},
    {CmdName::enable, "ENABLE"},
    {CmdName::disable, "DISABLE"},
}};
constexpr std::array<std::pair<CmdFlag, std::string_view>, 3> kCmdFlags{{
    {CmdFlag::pending, "PENDING"},
    {CmdFlag::executed, "EXECUTED"},
    {CmdFlag::not_executed, "NOT_EXECUTED"},
}};
constexpr std::array<std::pair<AppStatus, std::string_view>, 5> kAppStatuses{{
    {AppStatus::stopped, "STOPPED"},
    {AppStatus::starting, "STARTING"},
    {AppStatus::running, "RUNNING"},
    {AppStatus::stopping, "STOPPING"},
    {AppStatus::failed, "FAILED"},
}};
constexpr std::array<std::pair<DeliveryPath, std::string_view>, 2> kDeliveryPaths{{
    {DeliveryPath::broker, "broker"},
    {DeliveryPath::poll, "poll"},
}};

Error poison(std::string message) { return Error(Errc::invalid_argument, std::move(message)); }

// A short, printable rendering of a JSON value for error messages.
std::string describe(const json& value) {
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::string_view type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "a value of another type";
  }
}

Result<CmdName> read_command_field(const json& body) {
  const auto it = body.find("command");
  if (it == body.end()) return poison("missing field 'command'");
  if (it->is_number_integer() || it->is_number_unsigned()) {
    const auto value = it->get<int64_t>();
    if (auto name = cmd_name_from_int(value)) return *name;
    return poison("unknown command value " + std::to_string(value) +
                  " (expected 1-5: START, STOP, RESTART, ENABLE, DISABLE)");
  }
  if (it->is_number_float()) {
    // Only a float that is exactly a small integer (4.0) names a command;
    // range-check before converting, since a huge double does not fit.
    const double value = it->get<double>();
    if (value >= 1.0 && value <= 5.0 && value == static_cast<double>(static_cast<int>(value))) {
      return *cmd_name_from_int(static_cast<int>(value));
    }
    return poison("unknown command value " + describe(*it) + " (expected 1-5: START, STOP, RESTART, ENABLE, DISABLE)");
  }
  if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    if (auto name = cmd_name_from_string(text)) return *name;
    return poison("unknown command name " + describe(*it) + " (expected START, STOP, RESTART, ENABLE or DISABLE)");
  }
  return poison("field 'command' must be an integer or a name, not " + std::string(type_name(*it)));
}

// Guards nlohmann's recursive parser against stack exhaustion on hostile
// input: the protocol never needs deep documents.
constexpr int kMaxDepth = 64;

bool too_deep(std::string_view body) { return json_nesting_exceeds(body, kMaxDepth); }

}  // namespace

std::string_view to_string(CmdName name) { return name_of(kCmdNames, name); }
std::string_view to_string(CmdFlag flag) { return name_of(kCmdFlags, flag); }
std::string_view to_string(AppStatus status) { return name_of(kAppStatuses, status); }
std::string_view to_string(DeliveryPath path) { return name_of(kDeliveryPaths, path); }

std::optional<CmdName> cmd_name_from_string(std::string_view text) { return lookup(kCmdNames, text); }
std::optional<CmdFlag> cmd_flag_from_string(std::string_view text) { return lookup(kCmdFlags, text); }
std::optional<AppStatus> app_status_from_string(std::string_view text) { return lookup(kAppStatuses, text); }
std::optional<DeliveryPath> delivery_path_from_string(std::string_view text) { return lookup(kDeliveryPaths, text); }

std::optional<CmdName> cmd_name_from_int(int64_t value) {
  if (value < 1 || value > 5) return std::nullopt;
  return static_cast<CmdName>(value);
}
std::optional<CmdFlag> cmd_flag_from_int(int64_t value) {
  if (value < 0 || value > 2) return std::nullopt;
  return static_cast<CmdFlag>(value);
}
std::optional<AppStatus> app_status_from_int(int64_t value) {
  if (value < 0 || value > 4) return std::nullopt;
  return static_cast<AppStatus>(value);
}

std::string app_id_problem(std::string_view app_id, bool allow_broadcast) {
  if (app_id == kBroadcastAppId) {
    return allow_broadcast ? std::string() : std::string("'*' (every app) is not allowed here");
  }
  if (app_id.empty()) return "app_id is empty";
  if (app_id.size() > kMaxAppIdLength) {
    return "app_id is " + std::to_string(app_id.size()) + " characters long (at most " +
           std::to_string(kMaxAppIdLength) + ")";
  }
  if (app_id.front() == '.') return "app_id must not start with '.'";
  for (const char c : app_id) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '_' || c == '.' || c == '-')) {
      std::string shown = (u >= 0x20 && u < 0x7f) ? std::string(1, c)
                                                  : "\\x" + std::string(1, "0123456789abcdef"[u >> 4]) +
                                                        std::string(1, "0123456789abcdef"[u & 0xf]);
      return "app_id contains '" + shown + "' (allowed: letters, digits, '_', '.', '-')";
    }
  }
  return {};
}

Result<std::string> normalize_args_json(std::string_view text) {
  if (too_deep(text)) return poison("args nests deeper than " + std::to_string(kMaxDepth) + " levels");
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return poison("args is not valid JSON");
  if (!value.is_object()) return poison("args must be a JSON object, not " + std::string(type_name(value)));
  return value.dump();
}

Result<Command> parse_command(std::string_view body, const MessageProperties& props, TimePoint received_at) {
  if (body.size() > kMaxBodyBytes) {
    return poison("body is " + std::to_string(body.size()) + " bytes (limit " + std::to_string(kMaxBodyBytes) + ")");
  }
  if (body.empty()) return poison("body is empty (expected a JSON object)");
  if (too_deep(body)) return poison("body nests deeper than " + std::to_string(kMaxDepth) + " levels");

  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return poison("body is not valid JSON (or not UTF-8)");
  if (!doc.is_object()) return poison("body must be a JSON object, not " + std::string(type_name(doc)));

  Command command;

  const auto app = doc.find("app_id");
  if (app == doc.end()) return poison("missing field 'app_id'");
  if (!app->is_string()) return poison("field 'app_id' must be a string, not " + std::string(type_name(*app)));
  command.app_id = app->get<std::string>();
  if (auto problem = app_id_problem(command.app_id, /*allow_broadcast=*/true); !problem.empty()) {
    return poison("invalid app_id: " + problem);
  }

  auto name = read_command_field(doc);
  if (!name) return name.error();
  command.name = *name;

  if (const auto it = doc.find("issued_by"); it != doc.end() && !it->is_null()) {
    if (!it->is_string()) return poison("field 'issued_by' must be a string, not " + std::string(type_name(*it)));
    command.issued_by = it->get<std::string>();
    for (const char c : command.issued_by) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return poison("field 'issued_by' contains a control character (a NUL byte, say)");
    }
  }

  command.issued_at = received_at;
  if (const auto it = doc.find("timestamp"); it != doc.end() && !it->is_null()) {
    if (!it->is_string())
      return poison("field 'timestamp' must be an ISO-8601 string, not " + std::string(type_name(*it)));
    const auto parsed = parse_iso8601(it->get_ref<const std::string&>());
    if (!parsed) return poison("field 'timestamp' " + describe(*it) + " is not an ISO-8601 UTC time");
    command.issued_at = *parsed;
  }

  if (const auto it = doc.find("args"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) return poison("field 'args' must be a JSON object, not " + std::string(type_name(*it)));
    command.args_json = it->dump();
  }

  if (props.message_id && !props.message_id->empty()) {
    command.id = *props.message_id;
  } else if (const auto it = doc.find("command_id"); it != doc.end() && !it->is_null()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty())
      return poison("field 'command_id' must be a non-empty string");
    command.id = it->get<std::string>();
  } else {
    command.id = stable_uuid(body);
  }
  if (command.id.size() > 128) return poison("command id is longer than 128 characters");
  if (props.signature) command.signature = *props.signature;
  for (const char c : command.id) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return poison("command id contains a space or a non-printable character");
  }
  return command;
}

std::string serialize_command_body(const Command& command) {
  json doc = json::object();
  doc["app_id"] = command.app_id;
  doc["command"] = static_cast<int>(command.name);
  doc["issued_by"] = command.issued_by;
  doc["timestamp"] = format_iso8601(command.issued_at);
  json args = json::parse(command.args_json, nullptr, /*allow_exceptions=*/false);
  doc["args"] = args.is_object() ? std::move(args) : json::object();
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace dc

namespace dc {

std::string sign_command(std::string_view secret, std::string_view message_id, std::string_view routing_key,
                         std::string_view body) {
  std::string data;
  data.reserve(message_id.size() + routing_key.size() + 2 + body.size());
  data.append(message_id);
  data.push_back('\n');
  data.append(routing_key);
  data.push_back('\n');
  data.append(body);
  return hmac_sha256_hex(secret, data);
}

std::string signature_problem(const std::vector<std::string>& secrets, const std::optional<std::string>& signature,
                              std::string_view message_id, std::string_view routing_key, std::string_view body,
                              TimePoint issued_at, TimePoint now, std::chrono::seconds max_age) {
  if (!signature || signature->empty()) return "unsigned command (command_secret is set: x-dc-signature required)";
  bool matched = false;
  for (const auto& secret : secrets) {
    // Check every key, not just until the first match, so timing does not
    // reveal which key of the rotation set signed it.
    if (constant_time_equal(sign_command(secret, message_id, routing_key, body), *signature)) matched = true;
  }
  if (!matched) {
    return "bad signature (x-dc-signature does not match any command_secret for routing key '" +
           std::string(routing_key) + "')";
  }
  if (issued_at + max_age < now) return "expired: signed command is older than command_max_age (replay?)";
  if (issued_at > now + max_age) return "signed command is timestamped in the future beyond command_max_age";
  return {};
}

}  // namespace dc
