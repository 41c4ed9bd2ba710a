#include "api/api_fixture.h"

#include <signal.h>

#include <regex>

namespace dc::api_test {

std::string api_bin() { return DC_API_BIN; }
std::string dcctl_path() { return DCCTL_BIN; }

std::unique_ptr<ApiProcess> ApiProcess::start(e2e::World& world, const Env& extra, std::string* why) {
  Env env = world.base_env();
  env["DC_API_LISTEN"] = "127.0.0.1:0";
  env["DC_API_TOKENS_FILE"] = world.dir() + "/api-tokens";
  for (const auto& [k, v] : extra) env[k] = v;
  auto process = std::unique_ptr<ApiProcess>(new ApiProcess());
  static int count = 0;
  process->log_path_ = world.dir() + "/dc-api-" + std::to_string(++count) + ".log";
  auto child = e2e::Child::spawn({api_bin()}, env, world.dir(), process->log_path_);
  if (!child) {
    if (why) *why = child.error().message();
    return nullptr;
  }
  process->child_ = std::move(child).value();
  // "dc-api 0.1.0 serving on http://127.0.0.1:41234 ..."
  const std::regex serving(R"(serving on (https?)://([^ ]+):([0-9]+))");
  std::smatch match;
  const bool up = e2e::wait_until(
      [&] {
        const std::string log = e2e::read_file(process->log_path_);
        return std::regex_search(log, match, serving) || !process->child_->running();
      },
      20s);
  const std::string log = e2e::read_file(process->log_path_);
  if (!up || !std::regex_search(log, match, serving)) {
    if (why) *why = "dc-api did not start serving within 20 s; its log:\n" + log;
    return nullptr;
  }
  process->port_ = std::stoi(match[3].str());
  process->url_ = match[1].str() + "://" + match[2].str() + ":" + match[3].str();
  return process;
}

ApiProcess::~ApiProcess() {
  if (child_ && child_->running()) stop();
}

std::optional<int> ApiProcess::stop() {
  child_->signal(SIGTERM);
  return child_->wait(10s);
}

void ApiTest::SetUp() {
  e2e::E2eTest::SetUp();
  if (!world_) return;
  viewer_ = make_token("viewer", "viewer");
  operator_ = make_token("ops", "operator");
  admin_ = make_token("root", "admin");
  ASSERT_TRUE(start_api());
}

void ApiTest::TearDown() {
  client_.reset();
  if (api_) {
    auto code = api_->stop();
    EXPECT_EQ(code, 0) << "dc-api did not stop cleanly on SIGTERM; its log:\n" << e2e::read_file(api_->log_path());
    api_.reset();
  }
  e2e::E2eTest::TearDown();
}

Env ApiTest::api_env() {
  Env env = w().base_env();
  env["DC_API_TOKENS_FILE"] = tokens_file();
  return env;
}

std::string ApiTest::make_token(const std::string& name, const std::string& role) {
  auto run = e2e::run_tool({api_bin(), "token", "add", name, "--role", role, "--quiet"}, api_env(), w().dir(), 20s);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::string token = run.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  return token;
}

bool ApiTest::start_api(const Env& extra) {
  if (api_) api_->stop();
  client_.reset();
  std::string why;
  api_ = ApiProcess::start(w(), extra, &why);
  if (!api_) {
    ADD_FAILURE() << why;
    return false;
  }
  auto client = HttpClient::create(api_->url(), HttpClientOptions{.timeout = 60s});
  if (!client) {
    ADD_FAILURE() << client.error().message();
    return false;
  }
  client_ = std::move(client).value();
  return true;
}

HttpResponse ApiTest::call(const std::string& method, const std::string& target, const std::string& body,
                           const std::string& token, const HttpHeaders& headers) {
  HttpHeaders all = headers;
  if (!token.empty()) all.emplace_back("Authorization", "Bearer " + token);
  auto response = client_->request(method, target, body, all);
  if (!response) {
    ADD_FAILURE() << method << " " << target << ": " << response.error().message();
    return HttpResponse{599, "", "", {}};
  }
  return std::move(response).value();
}

nlohmann::json ApiTest::call_json(const std::string& method, const std::string& target, int status,
                                  const std::string& body, const std::string& token) {
  const HttpResponse response = call(method, target, body, token);
  EXPECT_EQ(response.status, status) << method << " " << target << " -> " << response.body;
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_discarded()) {
    ADD_FAILURE() << method << " " << target << ": not JSON: " << response.body;
    return nlohmann::json();
  }
  return parsed;
}

nlohmann::json ApiTest::expect_problem(const HttpResponse& response, int status) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_EQ(response.content_type, "application/problem+json") << response.body;
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object()) {
    ADD_FAILURE() << "problem is not a JSON object: " << response.body;
    return nlohmann::json::object();
  }
  EXPECT_EQ(body.value("status", 0), status);
  EXPECT_TRUE(body.contains("type") && body.contains("title") && body.contains("detail")) << body;
  return body;
}

}  // namespace dc::api_test
