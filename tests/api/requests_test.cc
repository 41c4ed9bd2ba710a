// The pure parts of dc-api: request bodies and query strings, the route
// table and roles, problem documents, bearer tokens.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/embedded.h"
#include "api/problem.h"
#include "api/requests.h"
#include "api/routes.h"

namespace dc {
namespace {

using nlohmann::json;

template <class T>
T ok(const Parsed<T>& parsed) {
  if (auto* refused = std::get_if<Refusal>(&parsed)) {
    ADD_FAILURE() << "refused: " << refused->response.body;
    return T{};
  }
  return std::get<T>(parsed);
}

// The problem a refusal carries, parsed.
template <class T>
json refusal(const Parsed<T>& parsed) {
  auto* refused = std::get_if<Refusal>(&parsed);
  if (refused == nullptr) {
    ADD_FAILURE() << "accepted, expected a refusal";
    return json::object();
  }
  EXPECT_EQ(refused->response.content_type, "application/problem+json");
  json body = json::parse(refused->response.body);
  EXPECT_EQ(body["status"], refused->response.status);
  EXPECT_TRUE(body.contains("type") && body.contains("title") && body.contains("detail")) << body;
  return body;
}

TEST(CommandRequest, ReadsTheFields) {
  const auto r =
      ok(parse_command_request(R"({"app_id":"collector","command":"start","args":{"company_id":"123456"}})"));
  EXPECT_EQ(r.app_id, "collector");
  EXPECT_EQ(r.name, CmdName::start);
  EXPECT_EQ(json::parse(r.args_json), json({{"company_id", "123456"}}));
  const auto b = ok(parse_command_request(R"({"app_id":"*","command":5,"manager":"m1"})"));
  EXPECT_EQ(b.name, CmdName::disable);
  EXPECT_EQ(b.manager, "m1");
  EXPECT_EQ(b.args_json, "{}");
}

TEST(CommandRequest, RefusesWhatItDoesNotUnderstand) {
  EXPECT_EQ(refusal(parse_command_request(R"({"app_id":"a","command":1,"issued_by":"mallory"})"))["field"],
            "issued_by");
  EXPECT_EQ(refusal(parse_command_request(R"({"app_id":"../etc","command":1})"))["type"], "urn:dc:problem:bad-app-id");
  EXPECT_EQ(refusal(parse_command_request(R"({"app_id":"<script>alert(1)</script>","command":1})"))["field"], "app_id");
  EXPECT_EQ(refusal(parse_command_request(R"({"app_id":"a","command":9})"))["type"], "urn:dc:problem:bad-command");
  EXPECT_EQ(refusal(parse_command_request(R"({"app_id":"a","command":"LAUNCH"})"))["field"], "command");
  EXPECT_EQ(refusal(parse_command_request(R"({"app_id":"a","command":1,"args":[1]})"))["field"], "args");
  EXPECT_EQ(refusal(parse_command_request(R"({"app_id":"a","command":1,"manager":"m1"})"))["field"], "manager");
  EXPECT_EQ(refusal(parse_command_request(R"({"command":1})"))["field"], "app_id");
  EXPECT_EQ(refusal(parse_command_request(R"([1,2])"))["type"], "urn:dc:problem:invalid-json");
  EXPECT_EQ(refusal(parse_command_request("{\"app_id\":\"a\xff\",\"command\":1}"))["type"],
            "urn:dc:problem:invalid-json");
  EXPECT_EQ(refusal(parse_command_request(""))["type"], "urn:dc:problem:invalid-json");
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  EXPECT_EQ(refusal(parse_command_request(deep))["type"], "urn:dc:problem:too-deep");
  std::string nested = "1";
  for (int i = 0; i < 40; ++i) nested = R"({"a":)" + nested + "}";
  const std::string deep_args = R"({"app_id":"a","command":1,"args":)" + nested + "}";
  EXPECT_EQ(refusal(parse_command_request(deep_args))["type"], "urn:dc:problem:too-deep");
  const std::string huge_args = R"({"app_id":"a","command":1,"args":{"x":")" + std::string(70000, 'y') + "\"}}";
  EXPECT_EQ(refusal(parse_command_request(huge_args))["field"], "args");
}

TEST(CommandRequest, HostileArgsAreData) {
  const auto r = ok(parse_command_request(R"({"app_id":"a","command":1,"args":{"x":"<script>../../etc</script>"}})"));
  EXPECT_EQ(json::parse(r.args_json)["x"], "<script>../../etc</script>");
}

TEST(AppRequests, NewAppNeedsManagerAndExec) {
  const auto app =
      ok(parse_new_app(R"({"app_id":"a1","manager":"m1","exec":["/bin/sleep","60"],"schedule":"every 5m"})"));
  EXPECT_EQ(app.name, "a1");
  EXPECT_EQ(app.exec, (std::vector<std::string>{"/bin/sleep", "60"}));
  EXPECT_EQ(app.schedule, "every 5m");
  EXPECT_EQ(refusal(parse_new_app(R"({"app_id":"a1","exec":["x"]})"))["field"], "manager");
  EXPECT_EQ(refusal(parse_new_app(R"({"app_id":"a1","manager":"m1","exec":[]})"))["field"], "exec");
  EXPECT_EQ(refusal(parse_new_app(R"({"app_id":"a1","manager":"m1","exec":["x"],"schedule":"sometimes"})"))["field"],
            "schedule");
  EXPECT_EQ(refusal(parse_new_app(R"({"app_id":"a1","manager":"all","exec":["x"]})"))["field"], "manager");
  EXPECT_EQ(refusal(parse_new_app(R"({"app_id":"*","manager":"m1","exec":["x"]})"))["field"], "app_id");
}

TEST(AppRequests, PatchChangesOnlyWhatIsGiven) {
  App app;
  app.app_id = "a1";
  app.name = "old";
  app.manager = "m1";
  app.exec = {"x"};
  app.schedule = "every 1m";
  const auto patched = ok(apply_app_patch(R"({"name":"new","schedule":null,"disable":true})", app));
  EXPECT_EQ(patched.name, "new");
  EXPECT_EQ(patched.manager, "m1");
  EXPECT_FALSE(patched.schedule);
  EXPECT_TRUE(patched.disable);
  EXPECT_EQ(refusal(apply_app_patch(R"({"app_id":"b"})", app))["field"], "app_id");
  EXPECT_EQ(refusal(apply_app_patch(R"({"status":"RUNNING"})", app))["field"], "status");
}

TEST(Queries, CommandListParameters) {
  const auto q = ok(parse_command_list_query("app_id=a1&pending=true&limit=5&after=10&order=desc"));
  EXPECT_EQ(q.filter.app_id, "a1");
  EXPECT_TRUE(q.filter.pending_only);
  EXPECT_EQ(q.filter.limit, 5);
  EXPECT_EQ(q.filter.after_seq, 10);
  EXPECT_FALSE(q.filter.oldest_first);
  EXPECT_TRUE(ok(parse_command_list_query("")).filter.oldest_first);
  EXPECT_EQ(refusal(parse_command_list_query("limit=0"))["field"], "limit");
  EXPECT_EQ(refusal(parse_command_list_query("limit=abc"))["field"], "limit");
  EXPECT_EQ(refusal(parse_command_list_query("pending=yes"))["field"], "pending");
  EXPECT_EQ(refusal(parse_command_list_query("sort=seq"))["type"], "urn:dc:problem:unknown-parameter");
  EXPECT_EQ(refusal(parse_command_list_query("app_id=..%2F"))["field"], "app_id");
}

TEST(Queries, WaitAndEventPosition) {
  EXPECT_EQ(ok(parse_wait("")), 0.0);
  EXPECT_EQ(ok(parse_wait("wait=2.5")), 2.5);
  EXPECT_EQ(refusal(parse_wait("wait=-1"))["field"], "wait");
  EXPECT_EQ(refusal(parse_wait("wait=nan"))["field"], "wait");
  EXPECT_EQ(refusal(parse_wait("wait=1000"))["field"], "wait");
  EXPECT_FALSE(ok(parse_event_position("", "")));
  EXPECT_EQ(ok(parse_event_position("42", "after=7")), 42);
  EXPECT_EQ(ok(parse_event_position("", "after=7")), 7);
  EXPECT_EQ(refusal(parse_event_position("x", ""))["field"], "Last-Event-ID");
}

TEST(Tokens, BearerHeader) {
  EXPECT_EQ(bearer_token("Bearer dc_abc"), "dc_abc");
  EXPECT_EQ(bearer_token("bearer   dc_abc "), "dc_abc");
  EXPECT_FALSE(bearer_token("Basic dXNlcjpwdw=="));
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token(""));
}

TEST(Routes, MatchesEveryPathOfTheSpec) {
  EXPECT_EQ(match_route("/api/v1/commands").route, ApiRoute::commands);
  auto command = match_route("/api/v1/commands/6f1c");
  EXPECT_EQ(command.route, ApiRoute::command);
  EXPECT_EQ(command.param, "6f1c");
  auto app = match_route("/api/v1/apps/a%3Cb");
  EXPECT_EQ(app.route, ApiRoute::app);
  EXPECT_EQ(app.param, "a<b");
  EXPECT_EQ(match_route("/api/v1/managers").route, ApiRoute::managers);
  EXPECT_EQ(match_route("/api/v1/events").route, ApiRoute::events);
  EXPECT_EQ(match_route("/api/v1/openapi.json").route, ApiRoute::openapi);
  EXPECT_EQ(match_route("/api/v1/apps/a/b").route, ApiRoute::none);
  EXPECT_EQ(match_route("/api/v1/nope").pattern, "/api/v1/*");
  EXPECT_EQ(match_route("/index.html").pattern, "");
  EXPECT_TRUE(route_allows(match_route("/api/v1/apps/x"), "PATCH"));
  EXPECT_FALSE(route_allows(match_route("/api/v1/managers"), "POST"));
  EXPECT_FALSE(route_allows(match_route("/api/v1/events"), "PUT"));
}

TEST(Routes, RolesNeeded) {
  EXPECT_EQ(role_needed(ApiRoute::commands, "GET"), Role::viewer);
  EXPECT_EQ(role_needed(ApiRoute::commands, "POST"), Role::operator_);
  EXPECT_EQ(role_needed(ApiRoute::apps, "POST"), Role::admin);
  EXPECT_EQ(role_needed(ApiRoute::app, "DELETE"), Role::admin);
  EXPECT_TRUE(role_allows(Role::admin, Role::operator_));
  EXPECT_FALSE(role_allows(Role::viewer, Role::operator_));
}

// Every path and method the server routes is in the OpenAPI document it
// serves (the reverse, every documented operation answering as documented,
// is checked against the live server by tests/api/openapi_check.py).
TEST(Routes, EveryRouteIsDocumented) {
  const EmbeddedFile* file = find_embedded(openapi_files(), "/openapi.json");
  ASSERT_NE(file, nullptr);
  const json doc = json::parse(file->data);
  EXPECT_EQ(doc["openapi"], "3.1.0");
  for (const char* path : {"/api/v1/commands", "/api/v1/commands/x", "/api/v1/apps", "/api/v1/apps/x",
                           "/api/v1/managers", "/api/v1/events", "/api/v1/openapi.json"}) {
    const RouteMatch match = match_route(path);
    ASSERT_NE(match.route, ApiRoute::none) << path;
    const std::string pattern(match.pattern);
    ASSERT_TRUE(doc["paths"].contains(pattern)) << pattern;
    for (const char* method : {"GET", "POST", "PATCH", "DELETE", "PUT"}) {
      std::string lower(method);
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_EQ(route_allows(match, method), doc["paths"][pattern].contains(lower)) << method << " " << pattern;
    }
  }
  for (const char* unauthenticated : {"/healthz", "/metrics", "/"}) {
    EXPECT_TRUE(doc["paths"].contains(unauthenticated)) << unauthenticated;
  }
}

TEST(Problems, ErrorsMapToStatuses) {
  EXPECT_EQ(problem_for(Error(Errc::invalid_argument, "x")).status, 400);
  EXPECT_EQ(problem_for(Error(Errc::not_found, "x")).status, 404);
  EXPECT_EQ(problem_for(Error(Errc::conflict, "x")).status, 409);
  const HttpResponse down = problem_for(Error(Errc::unavailable, "postgresql db.internal:5432 refused"));
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.body.find("db.internal"), std::string::npos) << "internals leak into the reply";
  const HttpResponse internal = problem_for(Error(Errc::internal, "secret detail"));
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.body.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace dc
