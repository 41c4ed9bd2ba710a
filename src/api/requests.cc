#include "api/requests.h"

#include <charconv>
#include <cmath>

#include <nlohmann/json.hpp>

#include "api/problem.h"
#include "base/json_scan.h"
#include "base/names.h"
#include "http/url.h"
#include "schedule/schedule.h"

namespace dc {
namespace {

using nlohmann::json;

Refusal refuse(std::string_view slug, std::string_view title, std::string detail, std::string_view field = {}) {
  json extra = json::object();
  if (!field.empty()) extra["field"] = field;
  return Refusal{problem(400, slug, title, detail, extra)};
}

Refusal invalid_field(std::string_view field, std::string detail) {
  return refuse("invalid-field", "Invalid field", std::move(detail), field);
}

// Parses a request body as one JSON object, refusing what is not JSON, not
// UTF-8, nested deeper than kMaxJsonDepth, or not an object.
Parsed<json> parse_object(std::string_view body) {
  if (body.empty()) return refuse("invalid-json", "Invalid JSON", "the body is empty; send a JSON object");
  // Checked on the text, before a parser (recursive in places) sees it.
  if (json_nesting_exceeds(body, kMaxJsonDepth)) {
    return refuse("too-deep", "JSON nested too deep",
                  "the body nests objects or arrays deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return refuse("invalid-json", "Invalid JSON", "the body is not valid JSON in UTF-8");
  }
  if (!parsed.is_object()) return refuse("invalid-json", "Invalid JSON", "the body must be a JSON object");
  return parsed;
}

// Refuses the first key of `object` that is not in `allowed`.
std::optional<Refusal> unknown_field(const json& object, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const auto name : allowed) known = known || key == name;
    if (!known) {
      std::string list;
      for (const auto name : allowed) list += (list.empty() ? "" : ", ") + std::string(name);
      return refuse("unknown-field", "Unknown field", "unknown field \"" + key + "\"; the fields are " + list, key);
    }
  }
  return std::nullopt;
}

std::optional<Refusal> bad_app_id(std::string_view app_id, bool allow_broadcast) {
  if (auto why = app_id_problem(app_id, allow_broadcast); !why.empty()) {
    return refuse("bad-app-id", "Invalid app id", "app_id is not valid: " + why, "app_id");
  }
  return std::nullopt;
}

std::optional<Refusal> bad_manager(std::string_view field, std::string_view name) {
  if (auto why = manager_name_problem(name); !why.empty()) {
    return invalid_field(field, std::string(field) + " is not a valid manager name: " + why);
  }
  return std::nullopt;
}

// Reads the registry fields present in `j` into `app`.
std::optional<Refusal> read_registry_fields(const json& j, App& app) {
  if (auto it = j.find("name"); it != j.end()) {
    if (!it->is_string()) return invalid_field("name", "name must be a string");
    app.name = it->get<std::string>();
    if (app.name.size() > 256) return invalid_field("name", "name is longer than 256 bytes");
  }
  if (auto it = j.find("manager"); it != j.end()) {
    if (!it->is_string()) return invalid_field("manager", "manager must be a string");
    app.manager = it->get<std::string>();
    if (auto refused = bad_manager("manager", app.manager)) return refused;
  }
  if (auto it = j.find("exec"); it != j.end()) {
    if (!it->is_array() || it->empty()) {
      return invalid_field("exec", "exec must be a non-empty array of strings (the argv, never run through a shell)");
    }
    std::vector<std::string> argv;
    for (const auto& arg : *it) {
      if (!arg.is_string()) return invalid_field("exec", "exec must hold only strings");
      argv.push_back(arg.get<std::string>());
      if (argv.back().find('\0') != std::string::npos) return invalid_field("exec", "an argument holds a NUL byte");
    }
    app.exec = std::move(argv);
  }
  if (auto it = j.find("schedule"); it != j.end()) {
    if (it->is_null()) {
      app.schedule.reset();
    } else if (!it->is_string()) {
      return invalid_field("schedule", "schedule must be a string ('every 5m', a cron expression) or null");
    } else {
      auto parsed = parse_schedule(it->get<std::string>());
      if (!parsed) return invalid_field("schedule", "schedule: " + parsed.error().message());
      app.schedule = parsed->to_string();
    }
  }
  if (auto it = j.find("disable"); it != j.end()) {
    if (!it->is_boolean()) return invalid_field("disable", "disable must be true or false");
    app.disable = it->get<bool>();
  }
  return std::nullopt;
}

Parsed<int64_t> parse_integer(std::string_view name, std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
    return refuse(
        "invalid-parameter", "Invalid query parameter",
        std::string(name) + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max), name);
  }
  return value;
}

}  // namespace

Parsed<CommandRequest> parse_command_request(std::string_view body) {
  auto parsed = parse_object(body);
  if (auto* refused = std::get_if<Refusal>(&parsed)) return *refused;
  const json& j = std::get<json>(parsed);
  if (auto refused = unknown_field(j, {"app_id", "command", "args", "manager"})) return *refused;
  CommandRequest request;

  auto app_id = j.find("app_id");
  if (app_id == j.end()) return invalid_field("app_id", "app_id is required: an app id, or \"*\" for every app");
  if (!app_id->is_string()) return invalid_field("app_id", "app_id must be a string");
  request.app_id = app_id->get<std::string>();
  if (auto refused = bad_app_id(request.app_id, /*allow_broadcast=*/true)) return *refused;

  auto command = j.find("command");
  if (command == j.end()) return invalid_field("command", "command is required: 1-5 or START, STOP, ...");
  std::optional<CmdName> name;
  if (command->is_number_integer()) name = cmd_name_from_int(command->get<int64_t>());
  if (command->is_string()) name = cmd_name_from_string(command->get<std::string>());
  if (!name) {
    return refuse("bad-command", "Invalid command",
                  "command must be 1-5 or one of START, STOP, RESTART, ENABLE, DISABLE (got " +
                      command->dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 40) + ")",
                  "command");
  }
  request.name = *name;

  if (auto args = j.find("args"); args != j.end() && !args->is_null()) {
    if (!args->is_object()) return invalid_field("args", "args must be a JSON object");
    request.args_json = args->dump();
    // The command travels as one message of at most 64 KiB.
    if (request.args_json.size() > kMaxBodyBytes - 1024) {
      return invalid_field("args", "args is " + std::to_string(request.args_json.size()) +
                                       " bytes as JSON; a command's message is at most 64 KiB");
    }
  }
  if (auto manager = j.find("manager"); manager != j.end() && !manager->is_null()) {
    if (!manager->is_string()) return invalid_field("manager", "manager must be a string");
    if (request.app_id != kBroadcastAppId) {
      return invalid_field("manager", "manager goes only with app_id \"*\" (an app's manager comes from the registry)");
    }
    request.manager = manager->get<std::string>();
    if (auto refused = bad_manager("manager", *request.manager)) return *refused;
  }
  return request;
}

Parsed<App> parse_new_app(std::string_view body) {
  auto parsed = parse_object(body);
  if (auto* refused = std::get_if<Refusal>(&parsed)) return *refused;
  const json& j = std::get<json>(parsed);
  if (auto refused = unknown_field(j, {"app_id", "name", "manager", "exec", "schedule", "disable"})) return *refused;
  App app;
  auto app_id = j.find("app_id");
  if (app_id == j.end() || !app_id->is_string()) return invalid_field("app_id", "app_id is required (a string)");
  app.app_id = app_id->get<std::string>();
  if (auto refused = bad_app_id(app.app_id, /*allow_broadcast=*/false)) return *refused;
  if (!j.contains("manager")) return invalid_field("manager", "manager is required: the name of the owning manager");
  if (!j.contains("exec")) return invalid_field("exec", "exec is required: the argv as an array of strings");
  if (auto refused = read_registry_fields(j, app)) return *refused;
  if (app.name.empty()) app.name = app.app_id;
  return app;
}

Parsed<App> apply_app_patch(std::string_view body, App app) {
  auto parsed = parse_object(body);
  if (auto* refused = std::get_if<Refusal>(&parsed)) return *refused;
  const json& j = std::get<json>(parsed);
  if (j.contains("app_id")) {
    return invalid_field("app_id", "an app's id cannot change; add a new app and remove this one");
  }
  if (auto refused = unknown_field(j, {"name", "manager", "exec", "schedule", "disable"})) return *refused;
  if (auto refused = read_registry_fields(j, app)) return *refused;
  return app;
}

Parsed<QueryParams> parse_query_params(std::string_view query, const std::vector<std::string_view>& allowed) {
  auto params = parse_query(query);
  if (!params) return refuse("invalid-parameter", "Invalid query parameter", "the query string has a bad %-escape");
  for (const auto& [name, value] : *params) {
    bool known = false;
    for (const auto a : allowed) known = known || name == a;
    if (!known) {
      std::string list;
      for (const auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return refuse("unknown-parameter", "Unknown query parameter",
                    "unknown query parameter \"" + name.substr(0, 64) + "\"" +
                        (list.empty() ? std::string("; this path takes none") : "; this path takes " + list),
                    name.substr(0, 64));
    }
  }
  return std::move(*params);
}

std::optional<std::string> query_value(const QueryParams& params, std::string_view name) {
  std::optional<std::string> value;
  for (const auto& [key, v] : params) {
    if (key == name) value = v;
  }
  return value;
}

Parsed<CommandListQuery> parse_command_list_query(std::string_view query) {
  auto parsed = parse_query_params(query, {"app_id", "pending", "limit", "after", "order"});
  if (auto* refused = std::get_if<Refusal>(&parsed)) return *refused;
  const auto& params = std::get<QueryParams>(parsed);
  CommandListQuery out;
  out.filter.oldest_first = true;
  if (auto app_id = query_value(params, "app_id")) {
    if (auto refused = bad_app_id(*app_id, false)) return *refused;
    out.filter.app_id = *app_id;
  }
  if (auto pending = query_value(params, "pending")) {
    if (*pending != "true" && *pending != "false") {
      return refuse("invalid-parameter", "Invalid query parameter", "pending must be true or false", "pending");
    }
    out.filter.pending_only = *pending == "true";
  }
  if (auto limit = query_value(params, "limit")) {
    auto value = parse_integer("limit", *limit, 1, 1000);
    if (auto* refused = std::get_if<Refusal>(&value)) return *refused;
    out.filter.limit = static_cast<int>(std::get<int64_t>(value));
  }
  if (auto after = query_value(params, "after")) {
    auto value = parse_integer("after", *after, 0, std::numeric_limits<int64_t>::max());
    if (auto* refused = std::get_if<Refusal>(&value)) return *refused;
    out.filter.after_seq = std::get<int64_t>(value);
  }
  if (auto order = query_value(params, "order")) {
    if (*order != "asc" && *order != "desc") {
      return refuse("invalid-parameter", "Invalid query parameter",
                    "order must be asc (issue order, the default) or desc (newest first)", "order");
    }
    out.filter.oldest_first = *order == "asc";
  }
  return out;
}

Parsed<double> parse_wait(std::string_view query) {
  auto parsed = parse_query_params(query, {"wait"});
  if (auto* refused = std::get_if<Refusal>(&parsed)) return *refused;
  auto wait = query_value(std::get<QueryParams>(parsed), "wait");
  if (!wait) return 0.0;
  double seconds = -1;
  const auto [ptr, ec] = std::from_chars(wait->data(), wait->data() + wait->size(), seconds);
  if (wait->empty() || ec != std::errc() || ptr != wait->data() + wait->size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > 300) {
    return refuse("invalid-parameter", "Invalid query parameter", "wait must be a number of seconds from 0 to 300",
                  "wait");
  }
  return seconds;
}

std::optional<std::string> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > 512) return std::nullopt;
  return std::string(token);
}

Parsed<std::optional<int64_t>> parse_event_position(std::string_view last_event_id, std::string_view query) {
  auto parsed = parse_query_params(query, {"after"});
  if (auto* refused = std::get_if<Refusal>(&parsed)) return *refused;
  std::optional<std::string> text;
  if (!last_event_id.empty()) {
    text = std::string(last_event_id);
  } else {
    text = query_value(std::get<QueryParams>(parsed), "after");
  }
  if (!text) return std::optional<int64_t>();
  auto value =
      parse_integer(last_event_id.empty() ? "after" : "Last-Event-ID", *text, 0, std::numeric_limits<int64_t>::max());
  if (auto* refused = std::get_if<Refusal>(&value)) return *refused;
  return std::optional<int64_t>(std::get<int64_t>(value));
}

}  // namespace dc
