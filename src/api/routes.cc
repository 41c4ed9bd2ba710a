#include "api/routes.h"

#include "http/url.h"

namespace dc {
namespace {

constexpr std::string_view kPrefix = "/api/v1/";

RouteMatch fixed(ApiRoute route, std::string_view pattern, std::string_view allow) {
  return RouteMatch{route, {}, pattern, allow};
}

}  // namespace

RouteMatch match_route(std::string_view path) {
  if (!path.starts_with(kPrefix)) return RouteMatch{ApiRoute::none, {}, "", ""};
  const std::string_view rest = path.substr(kPrefix.size());
  const RouteMatch unknown{ApiRoute::none, {}, "/api/v1/*", ""};
  if (rest == "commands") return fixed(ApiRoute::commands, "/api/v1/commands", "GET, HEAD, POST");
  if (rest == "apps") return fixed(ApiRoute::apps, "/api/v1/apps", "GET, HEAD, POST");
  if (rest == "managers") return fixed(ApiRoute::managers, "/api/v1/managers", "GET, HEAD");
  if (rest == "events") return fixed(ApiRoute::events, "/api/v1/events", "GET");
  if (rest == "openapi.json") return fixed(ApiRoute::openapi, "/api/v1/openapi.json", "GET, HEAD");
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return unknown;
  const std::string_view collection = rest.substr(0, slash);
  const std::string_view raw = rest.substr(slash + 1);
  if (raw.empty() || raw.find('/') != std::string_view::npos) return unknown;
  auto param = percent_decode(raw);
  if (!param) return unknown;
  if (collection == "commands") {
    return RouteMatch{ApiRoute::command, std::move(*param), "/api/v1/commands/{command_id}", "GET, HEAD"};
  }
  if (collection == "apps") {
    return RouteMatch{ApiRoute::app, std::move(*param), "/api/v1/apps/{app_id}", "GET, HEAD, PATCH, DELETE"};
  }
  return unknown;
}

bool route_allows(const RouteMatch& match, std::string_view method) {
  if (match.route == ApiRoute::none || method.empty()) return false;
  // Compare whole words of the Allow list.
  std::string_view list = match.allow;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view word = list.substr(0, comma);
    while (!word.empty() && word.front() == ' ') word.remove_prefix(1);
    if (word == method) return true;
    if (comma == std::string_view::npos) break;
    list = list.substr(comma + 1);
  }
  return false;
}

Role role_needed(ApiRoute route, std::string_view method) {
  if (method == "GET" || method == "HEAD") return Role::viewer;
  if (route == ApiRoute::commands) return Role::operator_;
  return Role::admin;
}

}  // namespace dc
