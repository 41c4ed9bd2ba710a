// dc-api at its edges, against the real processes: the OpenAPI document
// checked against the live server, hostile clients (huge bodies and heads,
// deep JSON, invalid UTF-8, slow heads, thousands of idle connections),
// HTTPS, the broker killed under a POST, dcctl's remote mode, --print-config
// and a clean SIGTERM.
#include <sys/socket.h>

#include <filesystem>
#include <thread>

#include "api/api_fixture.h"
#include "http/raw_client.h"
#include "support/services.h"

namespace dc::api_test {
namespace {

using nlohmann::json;
using test::RawClient;
using test::split_reply;

class ApiEdgesTest : public ApiTest {};
DC_E2E_BACKENDS(ApiEdgesTest);

TEST_P(ApiEdgesTest, TheOpenApiDocumentMatchesTheLiveServer) {
  Env env = api_env();
  env["DC_VIEWER_TOKEN"] = viewer_;
  env["DC_OPERATOR_TOKEN"] = operator_;
  env["DC_ADMIN_TOKEN"] = admin_;
  auto run =
      e2e::run_tool({"/usr/bin/python3", std::string(DC_SOURCE_DIR) + "/tests/api/openapi_check.py", api_->url()}, env,
                    w().dir(), 120s);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("0 problem(s)"), std::string::npos) << run.out;
}

TEST_P(ApiEdgesTest, HostileClientsDoNotHurtOthers) {
  ASSERT_TRUE(w().add_app("a1", "m1", {e2e::collector_app()}));
  const auto healthy = [&] { return call("GET", "/api/v1/apps/a1", {}, viewer_).status == 200; };
  // A body of 1 MB: 413 without reading it.
  expect_problem(call("POST", "/api/v1/commands", std::string(1 << 20, 'x'), operator_), 413);
  // A head of 1 MB: 431 (or the connection dropped), and the server lives.
  {
    RawClient client(static_cast<uint16_t>(api_->port()), 5000ms);
    client.send("GET /api/v1/apps HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n");
    const auto reply = split_reply(client.read_response());
    EXPECT_TRUE(reply.status == 431 || reply.status == 0) << reply.status << " " << reply.body;
  }
  EXPECT_TRUE(healthy());
  // Deep JSON, invalid UTF-8, markup and ../ in ids and args.
  expect_problem(call("POST", "/api/v1/commands", std::string(60000, '{'), operator_), 400);
  expect_problem(call("POST", "/api/v1/commands", "{\"app_id\":\"\xff\xfe\",\"command\":1}", operator_), 400);
  expect_problem(call("POST", "/api/v1/apps", R"({"app_id":"../../x","manager":"m1","exec":["/bin/true"]})", admin_),
                 400);
  expect_problem(call("GET", "/api/v1/apps/..%2F..%2Fetc%2Fpasswd", {}, viewer_), 404);
  expect_problem(call("GET", "/api/v1/apps/%3Cscript%3E", {}, viewer_), 404);
  auto issued =
      call_json("POST", "/api/v1/commands", 202,
                R"({"app_id":"a1","command":1,"args":{"x":"<script>alert(1)</script>","p":"../../etc"}})", operator_);
  auto rows = w().rows(issued["command_id"]);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(json::parse(rows[0].args_json)["x"], "<script>alert(1)</script>");
  // 2,000 idle connections: the service stays up and answers others.
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 2000; ++i) {
    idle.push_back(std::make_unique<RawClient>(static_cast<uint16_t>(api_->port()), 1000ms));
    ASSERT_TRUE(idle.back()->connected()) << "connection " << i;
  }
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(healthy());
  call_json("POST", "/api/v1/commands", 202, R"({"app_id":"a1","command":"ENABLE"})", operator_);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  idle.clear();
  EXPECT_TRUE(api_->child().running());
  // A head sent a byte a second is dropped within the timeout (2 s here).
  ASSERT_TRUE(start_api({{"DC_API_REQUEST_TIMEOUT", "2"}}));
  {
    RawClient slow(static_cast<uint16_t>(api_->port()), 1100ms);
    const std::string head = "GET /api/v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + viewer_ + "\r\n\r\n";
    const auto slow_started = std::chrono::steady_clock::now();
    bool dropped = false;
    for (size_t i = 0; i < head.size() && !dropped; ++i) {
      dropped = !slow.send(head.substr(i, 1)) || slow.closed_by_server();
    }
    EXPECT_TRUE(dropped);
    EXPECT_LT(std::chrono::steady_clock::now() - slow_started, 5s);
    EXPECT_TRUE(healthy()) << "others are answered meanwhile";
  }
}

TEST_P(ApiEdgesTest, ServesHttps) {
  const std::string cert = w().dir() + "/cert.pem";
  const std::string key = w().dir() + "/key.pem";
  ASSERT_EQ(test::run_shell("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
                            "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
                            key + "' -out '" + cert + "' >/dev/null 2>&1"),
            0);
  std::string why;
  auto secure = ApiProcess::start(w(), {{"DC_API_TLS_CERT", cert}, {"DC_API_TLS_KEY", key}}, &why);
  ASSERT_NE(secure, nullptr) << why;
  ASSERT_EQ(secure->url().substr(0, 8), "https://");
  auto client = HttpClient::create(secure->url(), HttpClientOptions{.tls_ca_file = cert});
  ASSERT_TRUE(client);
  auto response = (*client)->request("GET", "/api/v1/managers", {}, {{"Authorization", "Bearer " + viewer_}});
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(secure->stop(), 0);
}

// The broker down: POST is still 202, and the command runs through the
// database (path poll).
TEST_P(ApiEdgesTest, BrokerDownCommandsStillRunThroughTheDatabase) {
  // A broker of its own, which it kills: offset 10 for SQLite, 11 for
  // PostgreSQL (tests/support/services.h), as ctest may run both at once.
  e2e::PrivateBroker broker(test::private_broker_port(10 + static_cast<int>(GetParam())));
  ASSERT_TRUE(broker.start());
  // A World of its own on the private broker.
  api_->stop();
  api_.reset();
  client_.reset();
  auto world = e2e::World::create(GetParam(), broker.address());
  ASSERT_TRUE(world) << world.error().message();
  world_ = std::move(world).value();
  admin_ = make_token("root", "admin");
  operator_ = make_token("ops", "operator");
  ASSERT_TRUE(start_api());
  const std::string m1 = w().unique("m1");
  ASSERT_NE(start(m1), nullptr);
  ASSERT_TRUE(w().add_app("a1", m1, {e2e::collector_app()}));
  ASSERT_TRUE(broker.kill());
  ASSERT_TRUE(w().wait_manager_mode(m1, "fallback", 30s));
  json issued = call_json("POST", "/api/v1/commands?wait=20", 200, R"({"app_id":"a1","command":"START"})", operator_);
  EXPECT_EQ(issued["published"], false);
  ASSERT_EQ(issued["outcomes"].size(), 1u);
  EXPECT_EQ(issued["outcomes"][0]["flag_name"], "EXECUTED");
  EXPECT_EQ(issued["outcomes"][0]["path"], "poll");
  // Without ?wait: 202 all the same.
  json accepted = call_json("POST", "/api/v1/commands", 202, R"({"app_id":"a1","command":"STOP"})", operator_);
  EXPECT_EQ(accepted["published"], false);
  auto stopped = w().wait_outcome(accepted["command_id"]);
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].flag, CmdFlag::executed);
  EXPECT_EQ(stopped[0].path, DeliveryPath::poll);
}

class DcctlRemoteTest : public ApiTest {
 protected:
  // dcctl with only the API's address and a token: no database, no broker.
  e2e::ToolRun remote(std::vector<std::string> args, const std::string& token) {
    const std::string token_file = w().dir() + "/token-" + std::to_string(++files_);
    e2e::write_file(token_file, token + "\n");
    Env env;
    env["PATH"] = "/usr/bin:/bin";
    env["HOME"] = w().dir();
    env["DC_DB_URL"] = "sqlite:///nonexistent/dir/never.sqlite3";
    env["DC_RABBIT_PORT"] = "1";
    args.insert(args.begin(), dcctl_path());
    args.push_back("--api-url");
    args.push_back(api_->url());
    args.push_back("--api-token-file");
    args.push_back(token_file);
    return e2e::run_tool(args, env, w().dir(), 60s);
  }
  int files_ = 0;
};
DC_E2E_BACKENDS(DcctlRemoteTest);

TEST_P(DcctlRemoteTest, SameOutputJsonWaitAndExitCodes) {
  const std::string m1 = w().unique("m1");
  ASSERT_NE(start(m1), nullptr);
  auto added =
      remote({"apps", "add", "collector", "--manager", m1, "--exec", "[\"" + e2e::collector_app() + "\"]"}, admin_);
  ASSERT_EQ(added.exit_code, 0) << added.out << added.err;
  EXPECT_EQ(added.out, "app collector added (manager " + m1 + ")\n");
  // An operator may not change the registry: exit 1, the reason printed.
  auto refused = remote({"apps", "add", "x", "--manager", m1, "--exec", "[\"/bin/true\"]"}, operator_);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("admin"), std::string::npos) << refused.err;

  auto started =
      remote({"start", "collector", "--args", R"({"company_id":"123456"})", "--wait=20", "--json"}, operator_);
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  json out = json::parse(started.out);
  EXPECT_EQ(out["published"], true);
  EXPECT_EQ(out["timed_out"], false);
  EXPECT_EQ(out["outcomes"][0]["flag_name"], "EXECUTED");
  EXPECT_EQ(out["outcomes"][0]["issued_by"], "ops");  // the token's name
  // --issued-by cannot override the token.
  EXPECT_EQ(remote({"stop", "collector", "--issued-by", "mallory"}, operator_).exit_code, 2);
  // A command nobody carries out: exit 3 after the wait.
  ASSERT_TRUE(w().add_app("orphan", "nobody", {"/bin/true"}));
  EXPECT_EQ(remote({"start", "orphan", "--wait=1"}, operator_).exit_code, 3);
  // NOT_EXECUTED: exit 1.
  ASSERT_TRUE(w().add_app("broken", m1, {"/nonexistent/binary"}));
  EXPECT_EQ(remote({"start", "broken", "--wait=20"}, operator_).exit_code, 1);

  // Every listing prints exactly what the local dcctl prints (the manager's
  // last_seen moves with its heartbeat: compare everything else).
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"apps", "list"},
                                             {"apps", "list", "--json"},
                                             {"apps", "show", "collector"},
                                             {"apps", "show", "collector", "--json"},
                                             {"commands", "list"},
                                             {"commands", "list", "--app", "collector", "--json"},
                                             {"commands", "show", out["cmd_id"].get<std::string>(), "--json"}}) {
    auto there = remote(args, viewer_);
    auto here = w().dcctl(args);
    EXPECT_EQ(there.exit_code, here.exit_code) << ::testing::PrintToString(args);
    EXPECT_EQ(there.out, here.out) << ::testing::PrintToString(args) << "\n" << there.err;
  }
  auto managers_there = remote({"managers", "--json"}, viewer_);
  auto managers_here = w().dcctl({"managers", "--json"});
  json there = json::parse(managers_there.out);
  json here = json::parse(managers_here.out);
  ASSERT_EQ(there.size(), here.size());
  for (size_t i = 0; i < there.size(); ++i) {
    there[i].erase("last_seen");
    here[i].erase("last_seen");
  }
  EXPECT_EQ(there, here);
  EXPECT_EQ(remote({"managers"}, viewer_).exit_code, 0);
  // Unknown app and command: the same exits as locally.
  EXPECT_EQ(remote({"apps", "show", "ghost"}, viewer_).exit_code, w().dcctl({"apps", "show", "ghost"}).exit_code);
  EXPECT_EQ(remote({"commands", "show", "nope"}, viewer_).exit_code, w().dcctl({"commands", "show", "nope"}).exit_code);
  auto removed = remote({"apps", "remove", "orphan"}, admin_);
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "app orphan removed\n");
  // A bad token, a missing token file, db init: clear errors.
  auto bad = remote({"apps", "list"}, "dc_" + std::string(64, '0'));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("token"), std::string::npos) << bad.err;
  EXPECT_EQ(remote({"db", "init"}, viewer_).exit_code, 2);
}

TEST_P(DcctlRemoteTest, StatusSeveralAppsAndUpdateThroughTheApi) {
  const std::string m1 = w().unique("m1");
  ASSERT_NE(start(m1), nullptr);
  ASSERT_TRUE(w().add_app("r1", m1, {e2e::collector_app()}));
  ASSERT_TRUE(w().add_app("r2", m1, {e2e::collector_app()}));
  auto started = remote({"start", "r1", "r2", "--wait=20"}, operator_);
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  EXPECT_NE(started.out.find("  r1: EXECUTED"), std::string::npos) << started.out;
  EXPECT_NE(started.out.find("  r2: EXECUTED"), std::string::npos) << started.out;

  auto status = remote({"status", "r1", "r2"}, viewer_);
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find("RUNNING"), std::string::npos) << status.out;
  EXPECT_EQ(remote({"status", "r1", "ghost"}, viewer_).exit_code, 4);
  ASSERT_EQ(remote({"stop", "r2", "--wait=20"}, operator_).exit_code, 0);
  EXPECT_EQ(remote({"status", "r1", "r2"}, viewer_).exit_code, 3);
  auto listed = remote({"status", "--json"}, viewer_);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(json::parse(listed.out).size(), 2u) << listed.out;

  auto updated = remote({"apps", "update", "r1", "--schedule", "every 5m", "--name", "Remote one"}, admin_);
  ASSERT_EQ(updated.exit_code, 0) << updated.out << updated.err;
  auto app = w().app("r1");
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->schedule, "every 5m");
  EXPECT_EQ(app->name, "Remote one");
  ASSERT_EQ(remote({"apps", "update", "r1", "--no-schedule"}, admin_).exit_code, 0);
  app = w().app("r1");
  ASSERT_TRUE(app.has_value());
  EXPECT_FALSE(app->schedule.has_value());
  EXPECT_EQ(app->name, "Remote one") << "what was not given stays";
  EXPECT_EQ(remote({"apps", "update", "r1", "--name", "x"}, operator_).exit_code, 1);  // admin only
  EXPECT_EQ(remote({"apps", "update", "ghost", "--name", "x"}, admin_).exit_code, 1);

  // dc-api that cannot be reached: exit 5, as a database that cannot be.
  const std::string token_file = w().dir() + "/token-unreachable";
  e2e::write_file(token_file, viewer_ + "\n");
  auto unreachable =
      e2e::run_tool({dcctl_path(), "status", "--api-url", "http://127.0.0.1:1", "--api-token-file", token_file},
                    {{"PATH", "/usr/bin:/bin"}, {"HOME", w().dir()}}, w().dir(), 60s);
  EXPECT_EQ(unreachable.exit_code, 5) << unreachable.out << unreachable.err;
}

TEST_P(ApiEdgesTest, PrintConfigAndCleanShutdown) {
  auto printed = e2e::run_tool({api_bin(), "--print-config", "--api-listen", "[::1]:9090"}, api_env(), w().dir(), 20s);
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  json config = json::parse(printed.out);
  EXPECT_EQ(config["api_listen"], "[::1]:9090");
  EXPECT_EQ(config["api_max_body"], 65536);
  EXPECT_EQ(config["rabbit_password"], "***");
  auto bad = e2e::run_tool({api_bin(), "--api-max-body", "abc"}, api_env(), w().dir(), 20s);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("api_max_body"), std::string::npos) << bad.err;
  auto taken = e2e::run_tool({api_bin(), "--api-listen", "127.0.0.1:" + std::to_string(api_->port())}, api_env(),
                             w().dir(), 20s);
  EXPECT_EQ(taken.exit_code, 1) << taken.err;
  // An open event stream does not hold up SIGTERM.
  auto events = HttpClient::create(api_->url());
  ASSERT_TRUE(events);
  auto reader = (*events)->open_events("/api/v1/events", {{"Authorization", "Bearer " + viewer_}});
  ASSERT_TRUE(reader);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(api_->stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  api_.reset();
}

}  // namespace
}  // namespace dc::api_test
