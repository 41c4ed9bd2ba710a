// dcctl's remote mode: every operation as a call to dc-api (docs/API.md),
// authenticated with the bearer token of api_token_file. The answers come
// back as the same records the local mode reads from the store, so dcctl
// prints them the same way.
#include <chrono>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/backend.h"
#include "http/client.h"
#include "http/url.h"

namespace dc {
namespace {

using nlohmann::json;

// An error answer from dc-api as an Error of the matching kind, with the
// problem's detail as its message.
Error api_error(const HttpResponse& response, std::string_view what) {
  std::string detail;
  auto problem = json::parse(response.body, nullptr, false);
  if (problem.is_object() && problem.contains("detail") && problem["detail"].is_string()) {
    detail = problem["detail"].get<std::string>();
  } else {
    detail = "HTTP " + std::to_string(response.status);
  }
  const std::string message = std::string(what) + ": " + detail;
  switch (response.status) {
    case 400:
    case 413:
      return Error(Errc::invalid_argument, message);
    case 401:
      return Error(Errc::auth, message + " (check api_token_file)");
    case 403:
      return Error(Errc::access_refused, message);
    case 404:
      return Error(Errc::not_found, message);
    case 409:
      return Error(Errc::conflict, message);
    case 503:
      return Error(Errc::unavailable, message);
    default:
      return Error(Errc::protocol, message);
  }
}

template <class T>
Result<std::vector<T>> decode_list(const json& body, std::string_view key, Result<T> (*decode)(const json&)) {
  if (!body.is_object() || !body.contains(key) || !body[std::string(key)].is_array()) {
    return Error(Errc::protocol, "dc-api answered without \"" + std::string(key) + "\"");
  }
  std::vector<T> out;
  for (const auto& item : body[std::string(key)]) {
    auto decoded = decode(item);
    if (!decoded) return decoded.error();
    out.push_back(std::move(decoded).value());
  }
  return out;
}

class RemoteBackend final : public DcctlBackend {
 public:
  RemoteBackend(std::unique_ptr<HttpClient> client, std::string token)
      : client_(std::move(client)), token_(std::move(token)) {}

  Result<IssueReport> issue(const IssueRequest& request) override {
    if (!request.issued_by.empty()) {
      return Error(Errc::invalid_argument,
                   "--issued-by does not go with api_url: dc-api records the token's name as issued_by");
    }
    json body{{"app_id", request.app_id}, {"command", static_cast<int>(request.name)}};
    auto args = json::parse(request.args_json, nullptr, false);
    if (args.is_discarded() || !args.is_object()) {
      return Error(Errc::invalid_argument, "--args must be a JSON object, e.g. --args '{\"company_id\":\"123456\"}'");
    }
    body["args"] = args;
    if (request.manager) body["manager"] = *request.manager;
    auto answer = call("POST", "/api/v1/commands", body.dump(), "issue the command");
    if (!answer) return answer.error();
    const json& j = *answer;
    IssueReport report;
    try {
      report.command.id = j.at("command_id").get<std::string>();
      report.command.app_id = j.at("app_id").get<std::string>();
      report.command.name = request.name;
      report.command.issued_by = j.at("issued_by").get<std::string>();
      report.command.issued_at = parse_iso8601(j.at("issued_at").get<std::string>()).value_or(now());
      report.routing_key = j.at("routing_key").get<std::string>();
      report.published = j.at("published").get<bool>();
      report.publish_detail = j.at("publish").get<std::string>();
      for (const auto& app_id : j.at("apps")) {
        CommandRecord row;
        row.cmd_id = report.command.id;
        row.app_id = app_id.get<std::string>();
        row.target = request.app_id;
        row.command = request.name;
        report.rows.push_back(std::move(row));
      }
    } catch (const json::exception& e) {
      return Error(Errc::protocol, std::string("dc-api's answer to a command is not as documented: ") + e.what());
    }
    return report;
  }

  Status add_app(const App& app) override {
    json body{{"app_id", app.app_id},
              {"name", app.name},
              {"manager", app.manager},
              {"exec", app.exec},
              {"disable", app.disable}};
    if (app.schedule) body["schedule"] = *app.schedule;
    auto answer = call("POST", "/api/v1/apps", body.dump(), "add app '" + app.app_id + "'");
    if (!answer) return answer.error();
    return ok_status();
  }

  Result<App> update_app(const std::string& app_id, const AppChanges& changes) override {
    json body = json::object();
    if (changes.name) body["name"] = *changes.name;
    if (changes.manager) body["manager"] = *changes.manager;
    if (changes.exec) body["exec"] = *changes.exec;
    if (changes.schedule) body["schedule"] = *changes.schedule ? json(**changes.schedule) : json();
    auto answer = call("PATCH", "/api/v1/apps/" + percent_encode(app_id), body.dump(), "update app '" + app_id + "'");
    if (!answer) return answer.error();
    return app_from_json(*answer);
  }

  Result<std::vector<App>> list_apps(const AppFilter& filter) override {
    std::string target = "/api/v1/apps";
    if (filter.manager) target += "?manager=" + percent_encode(*filter.manager);
    auto answer = call("GET", target, {}, "list apps");
    if (!answer) return answer.error();
    return decode_list<App>(*answer, "apps", app_from_json);
  }

  Result<std::optional<App>> get_app(const std::string& app_id) override {
    auto answer = call("GET", "/api/v1/apps/" + percent_encode(app_id), {}, "get app '" + app_id + "'");
    if (!answer) {
      if (answer.error().code() == Errc::not_found) return std::optional<App>();
      return answer.error();
    }
    auto app = app_from_json(*answer);
    if (!app) return app.error();
    return std::optional<App>(std::move(app).value());
  }

  Status remove_app(const std::string& app_id) override {
    auto answer = call("DELETE", "/api/v1/apps/" + percent_encode(app_id), {}, "remove app '" + app_id + "'");
    if (!answer) return answer.error();
    return ok_status();
  }

  Result<std::vector<CommandRecord>> list_commands(const CommandFilter& filter) override {
    std::string target = "/api/v1/commands?order=" + std::string(filter.oldest_first ? "asc" : "desc") +
                         "&limit=" + std::to_string(std::clamp(filter.limit, 1, 1000));
    if (filter.app_id) target += "&app_id=" + percent_encode(*filter.app_id);
    if (filter.pending_only) target += "&pending=true";
    if (filter.after_seq) target += "&after=" + std::to_string(*filter.after_seq);
    auto answer = call("GET", target, {}, "list commands");
    if (!answer) return answer.error();
    return decode_list<CommandRecord>(*answer, "commands", command_record_from_json);
  }

  Result<std::vector<CommandRecord>> get_command(const std::string& cmd_id) override {
    auto answer = call("GET", "/api/v1/commands/" + percent_encode(cmd_id), {}, "get command '" + cmd_id + "'");
    if (!answer) {
      if (answer.error().code() == Errc::not_found) return std::vector<CommandRecord>();
      return answer.error();
    }
    return decode_list<CommandRecord>(*answer, "rows", command_record_from_json);
  }

  Result<std::vector<ManagerView>> list_managers() override {
    auto answer = call("GET", "/api/v1/managers", {}, "list managers");
    if (!answer) return answer.error();
    return decode_list<ManagerView>(*answer, "managers", manager_from_json);
  }

 private:
  // A 2xx answer's JSON body (null for 204), or the error it means.
  Result<json> call(std::string_view method, const std::string& target, const std::string& body,
                    std::string_view what) {
    auto response = client_->request(method, target, body, {{"Authorization", "Bearer " + token_}});
    if (!response) return response.error().with_context(std::string(what) + " through dc-api");
    if (response->status < 200 || response->status > 299) return api_error(*response, what);
    if (response->status == 204 || response->body.empty()) return json();
    auto parsed = json::parse(response->body, nullptr, false);
    if (parsed.is_discarded()) return Error(Errc::protocol, std::string(what) + ": dc-api answered something not JSON");
    return parsed;
  }

  std::unique_ptr<HttpClient> client_;
  std::string token_;
};

Result<std::string> read_token(const std::string& path) {
  if (path.empty()) {
    return Error(Errc::invalid_argument,
                 "api_url is set but api_token_file is not; give --api-token-file FILE (a file holding the token)");
  }
  std::ifstream in(path);
  if (!in) return Error(Errc::invalid_argument, "cannot read api_token_file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty() || token.find_first_of("\r\n") != std::string::npos) {
    return Error(Errc::invalid_argument, "api_token_file '" + path + "' must hold one token on one line");
  }
  return token;
}

}  // namespace

Result<std::unique_ptr<DcctlBackend>> open_remote_backend(const Config& config) {
  auto token = read_token(config.api_token_file);
  if (!token) return token.error();
  auto client = HttpClient::create(config.api_url, HttpClientOptions{.timeout = std::chrono::seconds(60)});
  if (!client) return client.error().with_context("api_url");
  return std::unique_ptr<DcctlBackend>(
      std::make_unique<RemoteBackend>(std::move(client).value(), std::move(token).value()));
}

}  // namespace dc
