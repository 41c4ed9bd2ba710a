// The hands of dc-api's end-to-end tests: a World of the e2e suite (its own
// database on either backend, its own exchange, real dc-manager processes
// against the real broker) plus a real dc-api process over the same
// database and broker, with tokens of each role made by `dc-api token add`.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_fixture.h"
#include "http/client.h"

namespace dc::api_test {

using namespace std::chrono_literals;
using e2e::Env;

std::string api_bin();
std::string dcctl_path();

// One running dc-api of a World.
class ApiProcess {
 public:
  // Starts dc-api with the World's environment plus `extra`, and waits
  // until it serves (its log says where). nullptr with `why` on failure.
  static std::unique_ptr<ApiProcess> start(e2e::World& world, const Env& extra, std::string* why);
  ~ApiProcess();

  const std::string& url() const { return url_; }
  int port() const { return port_; }
  const std::string& log_path() const { return log_path_; }
  e2e::Child& child() { return *child_; }
  // SIGTERM, and the exit code within 10 s.
  std::optional<int> stop();

 private:
  std::unique_ptr<e2e::Child> child_;
  std::string url_;
  int port_ = 0;
  std::string log_path_;
};

class ApiTest : public e2e::E2eTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Makes a token with `role` in the World's tokens file.
  std::string make_token(const std::string& name, const std::string& role);
  // Starts dc-api (again) with `extra` environment.
  bool start_api(const Env& extra = {});

  // A request with `token` (empty: none); fails the test when no answer.
  HttpResponse call(const std::string& method, const std::string& target, const std::string& body = {},
                    const std::string& token = {}, const HttpHeaders& headers = {});
  // call(), expecting `status`, and the body as JSON.
  nlohmann::json call_json(const std::string& method, const std::string& target, int status,
                           const std::string& body = {}, const std::string& token = {});
  // The problem of an error answer, checked for shape and content type.
  nlohmann::json expect_problem(const HttpResponse& response, int status);

  Env api_env();
  std::string tokens_file() { return w().dir() + "/api-tokens"; }

  std::unique_ptr<ApiProcess> api_;
  std::unique_ptr<HttpClient> client_;
  std::string viewer_;  // token names: viewer, ops (operator), root (admin)
  std::string operator_;
  std::string admin_;
};

}  // namespace dc::api_test
