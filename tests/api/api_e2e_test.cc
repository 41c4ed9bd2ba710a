// dc-api end to end: the real dc-api, real dc-managers, the real broker and
// both stores. Every path and every error of SPEC §8, roles, issued_by from
// the token, ?wait, a broadcast reaching two managers, resuming the event
// stream with Last-Event-ID.
#include <set>
#include <thread>

#include "api/api_fixture.h"
#include "base/ids.h"

namespace dc::api_test {
namespace {

using nlohmann::json;

class ApiE2eTest : public ApiTest {};
DC_E2E_BACKENDS(ApiE2eTest);

std::string start_body(const std::string& app_id, const std::string& args = "{}") {
  return R"({"app_id":")" + app_id + R"(","command":"START","args":)" + args + "}";
}

TEST_P(ApiE2eTest, StartWithWaitReturnsTheExecutedOutcomeIssuedByTheToken) {
  const std::string m1 = w().unique("m1");
  ASSERT_NE(start(m1), nullptr);
  ASSERT_TRUE(w().add_app("collector", m1, {e2e::collector_app()}));
  // The example from the issue: START with args, ?wait=10.
  json done = call_json("POST", "/api/v1/commands?wait=10", 200, start_body("collector", R"({"company_id":"123456"})"),
                        operator_);
  ASSERT_TRUE(done.is_object());
  EXPECT_EQ(done["done"], true);
  EXPECT_EQ(done["issued_by"], "ops");
  EXPECT_EQ(done["published"], true);
  ASSERT_EQ(done["outcomes"].size(), 1u);
  EXPECT_EQ(done["outcomes"][0]["flag_name"], "EXECUTED");
  EXPECT_EQ(done["outcomes"][0]["app_id"], "collector");
  EXPECT_EQ(done["outcomes"][0]["path"], "broker");
  const std::string id = done["command_id"];
  // The store agrees: issued_by is the token's name, args went through.
  auto rows = w().rows(id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].issued_by, "ops");
  EXPECT_EQ(json::parse(rows[0].args_json), json({{"company_id", "123456"}}));
  auto app = call_json("GET", "/api/v1/apps/collector", 200, {}, viewer_);
  EXPECT_EQ(app["status"], "RUNNING");
  EXPECT_EQ(app["cmd_flag_name"], "EXECUTED");
  EXPECT_EQ(app["cmd_issued_by"], "ops");
  EXPECT_EQ(app["cmd_path"], "broker");
  // GET the command: every row, done.
  auto command = call_json("GET", "/api/v1/commands/" + id, 200, {}, viewer_);
  EXPECT_EQ(command["done"], true);
  EXPECT_EQ(command["command_name"], "START");
  EXPECT_EQ(command["args"]["company_id"], "123456");
  // Without ?wait: 202 and a Location; then STOP.
  const HttpResponse accepted = call("POST", "/api/v1/commands", R"({"app_id":"collector","command":2})", operator_);
  EXPECT_EQ(accepted.status, 202) << accepted.body;
  bool located = false;
  for (const auto& [name, value] : accepted.headers)
    located = located || (name == "Location" && value.find("/api/v1/commands/") == 0);
  EXPECT_TRUE(located);
  const std::string stop_id = json::parse(accepted.body)["command_id"];
  auto stopped = w().wait_outcome(stop_id);
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].flag, CmdFlag::executed);
  // A command that cannot be carried out: the outcome says why.
  ASSERT_TRUE(w().add_app("broken", m1, {"/nonexistent/binary"}));
  json failed = call_json("POST", "/api/v1/commands?wait=10", 200, start_body("broken"), operator_);
  EXPECT_EQ(failed["outcomes"][0]["flag_name"], "NOT_EXECUTED");
  EXPECT_FALSE(failed["outcomes"][0]["result"].get<std::string>().empty());
}

TEST_P(ApiE2eTest, WaitRunsOutWith202WhenNoManagerTakesIt) {
  ASSERT_TRUE(w().add_app("orphan", "nobody", {e2e::collector_app()}));
  const auto started = std::chrono::steady_clock::now();
  json pending = call_json("POST", "/api/v1/commands?wait=1", 202, start_body("orphan"), operator_);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(pending["done"], false);
  ASSERT_EQ(pending["outcomes"].size(), 1u);
  EXPECT_EQ(pending["outcomes"][0]["flag_name"], "PENDING");
  auto listed = call_json("GET", "/api/v1/commands?pending=true", 200, {}, viewer_);
  ASSERT_EQ(listed["commands"].size(), 1u);
  EXPECT_EQ(listed["commands"][0]["cmd_id"], pending["command_id"]);
}

TEST_P(ApiE2eTest, BroadcastReachesTwoManagers) {
  const std::string m1 = w().unique("m1");
  const std::string m2 = w().unique("m2");
  ASSERT_NE(start(m1), nullptr);
  ASSERT_NE(start(m2), nullptr);
  ASSERT_TRUE(w().add_app("a1", m1, {e2e::collector_app()}));
  ASSERT_TRUE(w().add_app("a2", m2, {e2e::collector_app()}));
  json all = call_json("POST", "/api/v1/commands?wait=20", 200, R"({"app_id":"*","command":"DISABLE"})", operator_);
  EXPECT_EQ(all["routing_key"], "all");
  EXPECT_EQ(all["apps"], json({"a1", "a2"}));
  std::set<std::string> claimed_by;
  for (const auto& row : all["outcomes"]) {
    EXPECT_EQ(row["flag_name"], "EXECUTED") << row;
    claimed_by.insert(row["claimed_by"].get<std::string>());
  }
  EXPECT_EQ(claimed_by, (std::set<std::string>{m1, m2}));
  EXPECT_TRUE(w().app("a1")->disable);
  EXPECT_TRUE(w().app("a2")->disable);
  // One manager's apps only.
  json one = call_json("POST", "/api/v1/commands?wait=20", 200,
                       R"({"app_id":"*","command":"ENABLE","manager":")" + m2 + R"("})", operator_);
  EXPECT_EQ(one["apps"], json({"a2"}));
  EXPECT_TRUE(w().app("a1")->disable);
  EXPECT_FALSE(w().app("a2")->disable);
  // To a manager without apps: nothing recorded, nothing to wait for.
  json none =
      call_json("POST", "/api/v1/commands", 200, R"({"app_id":"*","command":"STOP","manager":"m9"})", operator_);
  EXPECT_TRUE(none["apps"].empty());
  EXPECT_EQ(none["done"], true);
}

TEST_P(ApiE2eTest, RolesAndAuthentication) {
  ASSERT_TRUE(w().add_app("a1", "m1", {e2e::collector_app()}));
  // No token, an unknown token: 401 with a challenge, for every API path.
  for (const char* path : {"/api/v1/apps", "/api/v1/commands", "/api/v1/managers", "/api/v1/openapi.json",
                           "/api/v1/apps/a1", "/api/v1/events"}) {
    const HttpResponse none = call("GET", path);
    expect_problem(none, 401);
    bool challenge = false;
    for (const auto& [name, value] : none.headers) challenge = challenge || (name == "WWW-Authenticate");
    EXPECT_TRUE(challenge) << path;
    expect_problem(call("GET", path, {}, "dc_" + std::string(64, 'f')), 401);
  }
  expect_problem(call("GET", "/api/v1/apps", {}, {}, {{"Authorization", "Basic cm9vdDpyb290"}}), 401);
  // viewer reads, cannot issue or change the registry.
  call_json("GET", "/api/v1/apps", 200, {}, viewer_);
  auto denied = expect_problem(call("POST", "/api/v1/commands", start_body("a1"), viewer_), 403);
  EXPECT_NE(denied["detail"].get<std::string>().find("operator"), std::string::npos);
  // operator issues, cannot change the registry.
  call_json("POST", "/api/v1/commands", 202, start_body("a1"), operator_);
  expect_problem(call("POST", "/api/v1/apps", R"({"app_id":"x","manager":"m1","exec":["/bin/true"]})", operator_), 403);
  expect_problem(call("DELETE", "/api/v1/apps/a1", {}, operator_), 403);
  // admin does everything.
  call_json("POST", "/api/v1/apps", 201, R"({"app_id":"x","manager":"m1","exec":["/bin/true"]})", admin_);
  EXPECT_EQ(call("DELETE", "/api/v1/apps/x", {}, admin_).status, 204);
  // No token needed for these.
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  const auto metrics = call("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  // The process_* metrics of every Prometheus client, as dc-manager serves them.
  for (const char* name : {"\nprocess_cpu_seconds_total ", "\nprocess_resident_memory_bytes ", "\nprocess_open_fds ",
                           "\nprocess_start_time_seconds "}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name << metrics.body;
  }
  EXPECT_EQ(call("GET", "/").status, 200);
  EXPECT_EQ(call("GET", "/app.js").status, 200);
  // The refusals were logged without the token.
  const std::string log = e2e::read_file(api_->log_path());
  EXPECT_NE(log.find("401"), std::string::npos);
  EXPECT_EQ(log.find(viewer_), std::string::npos);
  EXPECT_EQ(log.find(std::string(64, 'f')), std::string::npos);
  // A revoked token stops working without a restart.
  const std::string temp = make_token("temp", "viewer");
  // A new token works without a restart, once the file is re-read (<= 1 s).
  EXPECT_TRUE(e2e::wait_until([&] { return call("GET", "/api/v1/apps", {}, temp).status == 200; }, 5s));
  auto revoked = e2e::run_tool({api_bin(), "token", "revoke", "temp"}, api_env(), w().dir(), 20s);
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_TRUE(e2e::wait_until([&] { return call("GET", "/api/v1/apps", {}, temp).status == 401; }, 5s));
  auto listed = e2e::run_tool({api_bin(), "token", "list"}, api_env(), w().dir(), 20s);
  EXPECT_NE(listed.out.find("ops operator"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("temp"), std::string::npos);
}

TEST_P(ApiE2eTest, EveryErrorIsAProblemNamingTheRule) {
  ASSERT_TRUE(w().add_app("a1", "m1", {e2e::collector_app()}));
  auto field = [&](const std::string& body) {
    return expect_problem(call("POST", "/api/v1/commands", body, operator_), 400).value("field", "");
  };
  EXPECT_EQ(field(R"({"app_id":"a1","command":1,"issued_by":"mallory"})"), "issued_by");
  EXPECT_EQ(field(R"({"app_id":"../../etc/passwd","command":1})"), "app_id");
  EXPECT_EQ(field(R"({"app_id":"<script>alert(1)</script>","command":1})"), "app_id");
  EXPECT_EQ(field(R"({"app_id":"a1","command":"FLY"})"), "command");
  EXPECT_EQ(field(R"({"app_id":"a1","command":1,"args":"x"})"), "args");
  auto unknown_app = expect_problem(call("POST", "/api/v1/commands", start_body("ghost"), operator_), 404);
  EXPECT_EQ(unknown_app["type"], "urn:dc:problem:unknown-app");
  expect_problem(call("GET", "/api/v1/apps/ghost", {}, viewer_), 404);
  expect_problem(call("GET", "/api/v1/commands/" + random_uuid(), {}, viewer_), 404);
  expect_problem(call("GET", "/api/v1/nothing", {}, viewer_), 404);
  expect_problem(call("GET", "/nothing.html"), 404);
  // Wrong method: 405 with Allow.
  const HttpResponse wrong = call("PUT", "/api/v1/commands", "{}", admin_);
  expect_problem(wrong, 405);
  bool allow = false;
  for (const auto& [name, value] : wrong.headers) allow = allow || (name == "Allow" && value == "GET, HEAD, POST");
  EXPECT_TRUE(allow);
  expect_problem(call("DELETE", "/api/v1/managers", {}, admin_), 405);
  expect_problem(call("POST", "/", "x"), 405);
  // Bodies: over the limit, not JSON, not UTF-8, too deep.
  auto big = expect_problem(call("POST", "/api/v1/commands", std::string(1 << 20, ' '), operator_), 413);
  EXPECT_EQ(big["type"], "urn:dc:problem:body-too-large");
  EXPECT_EQ(expect_problem(call("POST", "/api/v1/commands", "{not json", operator_), 400)["type"],
            "urn:dc:problem:invalid-json");
  expect_problem(call("POST", "/api/v1/commands", "{\"app_id\":\"a1\xc3\x28\",\"command\":1}", operator_), 400);
  EXPECT_EQ(expect_problem(call("POST", "/api/v1/commands", std::string(5000, '[') + std::string(5000, ']'), operator_),
                           400)["type"],
            "urn:dc:problem:too-deep");
  // Query strings.
  EXPECT_EQ(expect_problem(call("GET", "/api/v1/commands?limit=0", {}, viewer_), 400)["field"], "limit");
  EXPECT_EQ(expect_problem(call("GET", "/api/v1/apps?bogus=1", {}, viewer_), 400)["type"],
            "urn:dc:problem:unknown-parameter");
  EXPECT_EQ(expect_problem(call("POST", "/api/v1/commands?wait=-3", start_body("a1"), operator_), 400)["field"],
            "wait");
  // The registry's own rules.
  auto conflict = expect_problem(
      call("POST", "/api/v1/apps", R"({"app_id":"a1","manager":"m1","exec":["/bin/true"]})", admin_), 409);
  EXPECT_EQ(conflict["type"], "urn:dc:problem:conflict");
  EXPECT_EQ(expect_problem(call("PATCH", "/api/v1/apps/a1", R"({"schedule":"whenever"})", admin_), 400)["field"],
            "schedule");
  expect_problem(call("PATCH", "/api/v1/apps/ghost", R"({"name":"x"})", admin_), 404);
  expect_problem(call("DELETE", "/api/v1/apps/ghost", {}, admin_), 404);
}

TEST_P(ApiE2eTest, AppRegistryAndListings) {
  auto added = call_json("POST", "/api/v1/apps", 201,
                         R"({"app_id":"nightly","manager":"m1","exec":["/bin/sleep","1"],"name":"<b>Nightly</b>",)"
                         R"("schedule":"30 2 * * *"})",
                         admin_);
  EXPECT_EQ(added["name"], "<b>Nightly</b>");
  EXPECT_EQ(added["schedule"], "30 2 * * *");
  EXPECT_EQ(added["status"], "STOPPED");
  auto patched = call_json("PATCH", "/api/v1/apps/nightly", 200, R"({"disable":true,"schedule":null})", admin_);
  EXPECT_EQ(patched["disable"], true);
  EXPECT_TRUE(patched["schedule"].is_null());
  EXPECT_EQ(patched["name"], "<b>Nightly</b>");
  call_json("POST", "/api/v1/apps", 201, R"({"app_id":"other","manager":"m2","exec":["/bin/true"]})", admin_);
  auto of_m1 = call_json("GET", "/api/v1/apps?manager=m1", 200, {}, viewer_);
  ASSERT_EQ(of_m1["apps"].size(), 1u);
  EXPECT_EQ(of_m1["apps"][0]["app_id"], "nightly");
  auto all = call_json("GET", "/api/v1/apps", 200, {}, viewer_);
  EXPECT_EQ(all["apps"].size(), 2u);
  // Commands in issue order, paged with after=.
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(call_json("POST", "/api/v1/commands", 202, R"({"app_id":"nightly","command":"ENABLE"})",
                            operator_)["command_id"]);
  }
  auto page1 = call_json("GET", "/api/v1/commands?app_id=nightly&limit=3", 200, {}, viewer_);
  ASSERT_EQ(page1["commands"].size(), 3u);
  EXPECT_EQ(page1["commands"][0]["cmd_id"], ids[0]);
  ASSERT_TRUE(page1["next_after"].is_number());
  auto page2 =
      call_json("GET", "/api/v1/commands?app_id=nightly&limit=3&after=" + page1["next_after"].dump(), 200, {}, viewer_);
  ASSERT_EQ(page2["commands"].size(), 2u);
  EXPECT_EQ(page2["commands"][1]["cmd_id"], ids[4]);
  EXPECT_TRUE(page2["next_after"].is_null());
  auto newest = call_json("GET", "/api/v1/commands?order=desc&limit=1", 200, {}, viewer_);
  EXPECT_EQ(newest["commands"][0]["cmd_id"], ids[4]);
  // Managers: mode and liveness.
  const std::string m1 = w().unique("m1");
  ASSERT_NE(start(m1), nullptr);
  auto managers = call_json("GET", "/api/v1/managers", 200, {}, viewer_);
  ASSERT_EQ(managers["managers"].size(), 1u);
  EXPECT_EQ(managers["managers"][0]["name"], m1);
  EXPECT_EQ(managers["managers"][0]["mode"], "broker");
  EXPECT_EQ(managers["managers"][0]["live"], true);
  // Removing an app keeps its commands (audit trail).
  EXPECT_EQ(call("DELETE", "/api/v1/apps/nightly", {}, admin_).status, 204);
  EXPECT_EQ(call_json("GET", "/api/v1/commands?app_id=nightly", 200, {}, viewer_)["commands"].size(), 5u);
}

// A client that disconnects, misses 100 changes and reconnects with
// Last-Event-ID receives all 100, in order, once.
TEST_P(ApiE2eTest, EventStreamResumesWithLastEventId) {
  ASSERT_TRUE(w().add_app("a1", "m1", {e2e::collector_app()}));
  auto events_client = HttpClient::create(api_->url());
  ASSERT_TRUE(events_client);
  const HttpHeaders auth{{"Authorization", "Bearer " + viewer_}};
  std::string last_id;
  {
    auto reader = (*events_client)->open_events("/api/v1/events", auth);
    ASSERT_TRUE(reader) << reader.error().message();
    ASSERT_EQ((*reader)->head().status, 200);
    call_json("PATCH", "/api/v1/apps/a1", 200, R"({"name":"n0"})", admin_);
    // "From now" is from the newest event the server had read: the app's
    // "added" may come first.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (last_id.empty() && std::chrono::steady_clock::now() < deadline) {
      auto events = (*reader)->next(2s);
      if (!events) continue;
      for (const auto& e : *events) {
        if (e.event == "app" && json::parse(e.data).value("name", "") == "n0") last_id = e.id;
      }
    }
    ASSERT_FALSE(last_id.empty()) << "the change n0 never arrived";
  }  // disconnected
  for (int i = 1; i <= 100; ++i) {
    call_json("PATCH", "/api/v1/apps/a1", 200, R"({"name":"n)" + std::to_string(i) + R"("})", admin_);
  }
  HttpHeaders resume = auth;
  resume.emplace_back("Last-Event-ID", last_id);
  auto reader = (*events_client)->open_events("/api/v1/events", resume);
  ASSERT_TRUE(reader) << reader.error().message();
  std::vector<SseEvent> got;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (got.size() < 100 && std::chrono::steady_clock::now() < deadline) {
    auto events = (*reader)->next(5s);
    if (!events) continue;
    for (auto& e : *events) got.push_back(e);
  }
  ASSERT_EQ(got.size(), 100u);
  int64_t previous = std::stoll(last_id);
  for (int i = 0; i < 100; ++i) {
    const auto& e = got[static_cast<size_t>(i)];
    EXPECT_GT(std::stoll(e.id), previous);
    previous = std::stoll(e.id);
    const json data = json::parse(e.data);
    EXPECT_EQ(data["name"], "n" + std::to_string(i + 1));
    EXPECT_EQ(data["seq"], std::stoll(e.id));
  }
  // None twice, nothing more.
  auto extra = (*reader)->next(1500ms);
  EXPECT_FALSE(extra) << "unexpected event " << (extra ? extra->front().data : "");
  // Live events keep coming on the resumed stream.
  call_json("PATCH", "/api/v1/apps/a1", 200, R"({"name":"live"})", admin_);
  auto live = (*reader)->next(10s);
  ASSERT_TRUE(live);
  EXPECT_EQ(json::parse(live->front().data)["name"], "live");
  // Bad Last-Event-ID: 400.
  HttpHeaders bad = auth;
  bad.emplace_back("Last-Event-ID", "yesterday");
  auto refused = (*events_client)->open_events("/api/v1/events", bad);
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)->head().status, 400);
}

TEST_P(ApiE2eTest, CommandEventsFollowTheCommandThroughTheManager) {
  const std::string m1 = w().unique("m1");
  ASSERT_NE(start(m1), nullptr);
  ASSERT_TRUE(w().add_app("a1", m1, {e2e::collector_app()}));
  auto events_client = HttpClient::create(api_->url());
  ASSERT_TRUE(events_client);
  auto reader = (*events_client)->open_events("/api/v1/events", {{"Authorization", "Bearer " + viewer_}});
  ASSERT_TRUE(reader);
  const std::string id = call_json("POST", "/api/v1/commands?wait=10", 200, start_body("a1"), operator_)["command_id"];
  std::vector<std::string> seen;
  bool running = false;
  bool finished = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!(running && finished) && std::chrono::steady_clock::now() < deadline) {
    auto events = (*reader)->next(2s);
    if (!events) continue;
    for (const auto& e : *events) {
      const json data = json::parse(e.data);
      seen.push_back(e.event + "/" + data.value("action", "?"));
      running = running || (e.event == "app" && data.value("status", "") == "RUNNING");
      finished = finished || (e.event == "command" && data.value("action", "") == "finished" &&
                              data.value("cmd_id", "") == id && data.value("flag_name", "") == "EXECUTED");
    }
  }
  EXPECT_NE(std::find(seen.begin(), seen.end(), "command/recorded"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "command/claimed"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "command/finished"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "app/state"), seen.end()) << ::testing::PrintToString(seen);
  (void)id;
}

}  // namespace
}  // namespace dc::api_test
