// Errors as RFC 9457 problem details (application/problem+json): every
// error dc-api returns is one of these, with `type` (a URN naming the rule,
// listed in docs/API.md), `title`, `status` and `detail`, plus optional
// fields such as "field" (which request field broke the rule).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "http/server.h"

namespace dc {

inline constexpr std::string_view kProblemContentType = "application/problem+json";

// `slug` becomes the type "urn:dc:problem:<slug>"; `title` is fixed per
// type, `detail` says what happened this time. `extra` fields are merged in.
HttpResponse problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
                     const nlohmann::json& extra = nlohmann::json::object());

// The problem for one of the server's own refusals (400, 404, 405, 408,
// 413, 431, 500, 503): the type names the status.
HttpResponse http_problem(int status, std::string detail);

// The problem for a store or issuing error: invalid_argument 400,
// not_found 404, conflict 409, unavailable/timeout 503, anything else 500
// (with the detail kept out of the reply and logged instead).
HttpResponse problem_for(const Error& error);

}  // namespace dc
