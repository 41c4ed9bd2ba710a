#include "api/problem.h"

#include <spdlog/spdlog.h>

namespace dc {

HttpResponse problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
                     const nlohmann::json& extra) {
  nlohmann::json body = extra.is_object() ? extra : nlohmann::json::object();
  body["type"] = "urn:dc:problem:" + std::string(slug);
  body["title"] = title;
  body["status"] = status;
  body["detail"] = detail;
  HttpResponse response;
  response.status = status;
  response.content_type = std::string(kProblemContentType);
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

HttpResponse http_problem(int status, std::string detail) {
  switch (status) {
    case 400:
      return problem(status, "bad-request", "Bad request", detail);
    case 401:
      return problem(status, "unauthorized", "Authentication required", detail);
    case 403:
      return problem(status, "forbidden", "Role too low", detail);
    case 404:
      return problem(status, "not-found", "Not found", detail);
    case 405:
      return problem(status, "method-not-allowed", "Method not allowed", detail);
    case 408:
      return problem(status, "request-timeout", "Request timeout", detail);
    case 413:
      return problem(status, "body-too-large", "Request body too large", detail);
    case 431:
      return problem(status, "headers-too-large", "Request header fields too large", detail);
    case 503:
      return problem(status, "unavailable", "Service unavailable", detail);
    default:
      return problem(status, "internal", "Internal error", detail);
  }
}

HttpResponse problem_for(const Error& error) {
  switch (error.code()) {
    case Errc::invalid_argument:
      return problem(400, "invalid", "Invalid request", error.message());
    case Errc::not_found:
      return problem(404, "not-found", "Not found", error.message());
    case Errc::conflict:
      return problem(409, "conflict", "Conflict", error.message());
    case Errc::unavailable:
    case Errc::timeout:
      // What is down and where stays in the log, not in the reply.
      spdlog::warn("api: {}", error.message());
      return problem(503, "unavailable", "Service unavailable", "the database cannot be reached now; retry shortly");
    default:
      spdlog::error("api: internal error: {}", error.message());
      return problem(500, "internal", "Internal error", "the server failed; its log says why");
  }
}

}  // namespace dc
