// The paths of dc-api (SPEC §8) and which role each method needs, as a pure
// lookup, so the table is one place and unit-testable.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/tokens.h"

namespace dc {

enum class ApiRoute {
  none,      // not an API path
  commands,  // /api/v1/commands
  command,   // /api/v1/commands/{command_id}
  apps,      // /api/v1/apps
  app,       // /api/v1/apps/{app_id}
  managers,  // /api/v1/managers
  events,    // /api/v1/events
  openapi,   // /api/v1/openapi.json
};

struct RouteMatch {
  ApiRoute route = ApiRoute::none;
  std::string param;  // {command_id} or {app_id}, percent-decoded
  // The path pattern, for metrics and logs ("/api/v1/apps/{app_id}").
  std::string_view pattern;
  // The methods the path answers, as an Allow header lists them.
  std::string_view allow;
};

// Matches `path` (the request target without the query). A path under
// /api/v1/ that names nothing, or has a malformed %-escape, is
// ApiRoute::none with the pattern "/api/v1/*".
RouteMatch match_route(std::string_view path);

// Whether `route` answers `method` (HEAD wherever GET is), and the role
// needed: viewer for reads, operator to issue commands, admin to change
// the registry.
bool route_allows(const RouteMatch& match, std::string_view method);
Role role_needed(ApiRoute route, std::string_view method);

}  // namespace dc
