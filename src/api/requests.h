// What dc-api reads from a request, as pure functions: the JSON bodies of
// POST /commands, POST /apps and PATCH /apps/{id}, the query parameters of
// each GET, the bearer token and Last-Event-ID. Each refuses what it does
// not understand with a problem naming the field or the rule (unknown
// field, wrong type, bad app id, bad command, JSON nested too deep, not
// UTF-8), so the handlers only ever see valid values.
//
// Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "http/server.h"
#include "protocol/command.h"
#include "store/store.h"

namespace dc {

// Nesting deeper than this (objects and arrays) is refused before the
// document is built, so a hostile body cannot exhaust the stack.
inline constexpr int kMaxJsonDepth = 32;

// A refusal: the problem to send.
struct Refusal {
  HttpResponse response;
};

template <class T>
using Parsed = std::variant<T, Refusal>;

// POST /api/v1/commands
struct CommandRequest {
  CmdName name = CmdName::start;
  std::string app_id;                  // an app id or "*"
  std::optional<std::string> manager;  // only with "*"
  std::string args_json = "{}";        // compact JSON object
};
Parsed<CommandRequest> parse_command_request(std::string_view body);

// POST /api/v1/apps: a whole registry entry.
Parsed<App> parse_new_app(std::string_view body);
// PATCH /api/v1/apps/{id}: the fields given change `app`.
Parsed<App> apply_app_patch(std::string_view body, App app);

// Query parameters, checked against the names a path takes.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
Parsed<QueryParams> parse_query_params(std::string_view query, const std::vector<std::string_view>& allowed);
// The value of `name` in `params`, or nullopt.
std::optional<std::string> query_value(const QueryParams& params, std::string_view name);

// GET /api/v1/commands
struct CommandListQuery {
  CommandFilter filter;
};
Parsed<CommandListQuery> parse_command_list_query(std::string_view query);

// ?wait=SECS on POST /api/v1/commands: 0 (no wait) to 300 seconds.
Parsed<double> parse_wait(std::string_view query);

// "Bearer TOKEN" (the scheme case-insensitive) -> TOKEN; nullopt otherwise.
std::optional<std::string> bearer_token(std::string_view authorization);

// Where an event stream starts: Last-Event-ID (header) wins over ?after=.
// nullopt: from now. A refusal for a value that is not a seq.
Parsed<std::optional<int64_t>> parse_event_position(std::string_view last_event_id, std::string_view query);

}  // namespace dc
