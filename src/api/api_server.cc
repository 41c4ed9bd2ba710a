#include "api/api_server.h"

#include <atomic>
#include <chrono>
#include <mutex>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "api/command_source.h"
#include "api/embedded.h"
#include "api/event_hub.h"
#include "api/problem.h"
#include "api/requests.h"
#include "api/routes.h"
#include "api/tokens.h"
#include "api/workers.h"
#include "http/server.h"
#include "observe/build_info.h"
#include "observe/metrics.h"
#include "observe/process_metrics.h"
#include "views/json.h"

namespace dc {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kJson = "application/json";

// Headers on every response: no sniffing, no framing, no referrer, and a
// policy that lets the dashboard run only its own scripts and styles.
constexpr std::string_view kDashboardPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
constexpr std::string_view kApiPolicy = "default-src 'none'; frame-ancestors 'none'";

void add_security_headers(HttpResponse& response, bool dashboard) {
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("Content-Security-Policy", std::string(dashboard ? kDashboardPolicy : kApiPolicy));
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse response;
  response.status = status;
  response.content_type = std::string(kJson);
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

std::string status_label(int status) { return std::to_string(status); }

bool all_finished(const std::vector<CommandRecord>& rows) {
  for (const auto& row : rows) {
    if (row.flag == CmdFlag::pending) return false;
  }
  return true;
}

json command_json(const std::string& cmd_id, const std::vector<CommandRecord>& rows) {
  json out;
  out["command_id"] = cmd_id;
  if (!rows.empty()) {
    const CommandRecord& first = rows.front();
    out["target"] = first.target;
    out["command"] = static_cast<int>(first.command);
    out["command_name"] = to_string(first.command);
    out["issued_by"] = first.issued_by;
    out["issued_at"] = format_iso8601(first.issued_at);
    out["args"] = to_json(first)["args"];
  }
  out["done"] = all_finished(rows);
  json list = json::array();
  for (const auto& row : rows) list.push_back(to_json(row));
  out["rows"] = std::move(list);
  return out;
}

}  // namespace

struct api_detail::ApiCore {
  Config config;
  ApiOptions options;
  TokenStore tokens;
  MetricsRegistry metrics;
  CounterFamily* requests = nullptr;
  HistogramFamily* durations = nullptr;
  CounterFamily* auth_failures = nullptr;
  CounterFamily* commands_issued = nullptr;
  GaugeFamily* streams_gauge = nullptr;
  GaugeFamily* queue_gauge = nullptr;
  CounterFamily* events_counter = nullptr;
  std::unique_ptr<EventHub> hub;
  std::unique_ptr<WorkerPool> workers;
  std::unique_ptr<HttpServer> http;
  uint64_t events_reported = 0;
  std::mutex events_mutex;

  ApiCore(Config c, ApiOptions o) : config(std::move(c)), options(std::move(o)), tokens(config.api_tokens_file) {}

  // One request in flight: how to answer it, and what to count.
  struct Exchange {
    ApiCore* api;
    HttpResponder responder;
    std::string route;  // the pattern, for metrics
    SteadyClock::time_point started;
    bool dashboard = false;
    std::optional<Identity> who;  // once authenticated

    void respond(HttpResponse response) const {
      add_security_headers(response, dashboard);
      if (who) {
        // Who the server took the caller for: the dashboard shows it, and
        // hides what the role may not do.
        response.headers.emplace_back("X-Dc-Identity", who->name);
        response.headers.emplace_back("X-Dc-Role", std::string(to_string(who->role)));
      }
      api->observe(route, response.status, started);
      responder.respond(std::move(response));
    }
    void respond_json(int status, const json& body) const { respond(json_response(status, body)); }
    void fail(const Error& error) const { respond(problem_for(error)); }
  };

  void observe(const std::string& route, int status, SteadyClock::time_point started) {
    requests->with({route, status_label(status)}).inc();
    durations->with({route}).observe(std::chrono::duration<double>(SteadyClock::now() - started).count());
  }

  Status register_metrics();
  void handle(HttpRequest request, HttpResponder responder);
  void serve_dashboard(const HttpRequest& request, const Exchange& ex);
  void serve_api(HttpRequest request, const RouteMatch& match, Exchange ex);
  std::optional<Identity> authenticate(const HttpRequest& request, const RouteMatch& match, const Exchange& ex);
  // Runs `job` on a worker, or answers 503 when they are all busy.
  void on_worker(const Exchange& ex, std::function<void(WorkerContext&)> job);

  void list_commands(const HttpRequest& request, const Exchange& ex);
  void get_command(const std::string& cmd_id, const Exchange& ex);
  void post_command(const HttpRequest& request, const Identity& who, const Exchange& ex);
  void list_apps(const HttpRequest& request, const Exchange& ex);
  void get_app(const std::string& app_id, const HttpRequest& request, const Exchange& ex);
  void post_app(const HttpRequest& request, const Identity& who, const Exchange& ex);
  void patch_app(const std::string& app_id, const HttpRequest& request, const Identity& who, const Exchange& ex);
  void delete_app(const std::string& app_id, const HttpRequest& request, const Identity& who, const Exchange& ex);
  void list_managers(const HttpRequest& request, const Exchange& ex);
  void open_events(const HttpRequest& request, const Exchange& ex);
  void openapi(const Exchange& ex);

  HttpResponse metrics_text() {
    streams_gauge->with().set(static_cast<double>(hub ? hub->streams() : 0));
    queue_gauge->with().set(static_cast<double>(workers ? workers->queued() : 0));
    if (hub) {
      std::lock_guard lock(events_mutex);
      const uint64_t read = hub->events_read();
      events_counter->with().inc(read - events_reported);
      events_reported = read;
    }
    HttpResponse response;
    response.content_type = std::string(kPrometheusContentType);
    response.body = metrics.render();
    return response;
  }
};

// Follows a command for ?wait=SECS: re-reads its rows whenever the event
// log says something happened to it, and answers 200 once every row has an
// outcome, or 202 with the rows as they stand when the time is up.
class OutcomeWaiter final : public CommandWatch, public std::enable_shared_from_this<OutcomeWaiter> {
 public:
  OutcomeWaiter(api_detail::ApiCore& api, api_detail::ApiCore::Exchange ex, json report, std::string cmd_id)
      : api_(api), ex_(std::move(ex)), report_(std::move(report)), cmd_id_(std::move(cmd_id)) {}

  void on_change() override { check(false); }
  void on_deadline() override { check(true); }

  // Once when watching starts: the command may have finished already.
  void check(bool final) {
    {
      std::lock_guard lock(mutex_);
      if (answered_) return;
      final_ = final_ || final;
      if (checking_) {
        again_ = true;
        return;
      }
      checking_ = true;
    }
    auto self = shared_from_this();
    if (!api_.workers->submit([self](WorkerContext& ctx) { self->run_check(ctx); })) {
      answer(202, std::nullopt);
    }
  }

 private:
  void run_check(WorkerContext& ctx) {
    bool final = false;
    {
      std::lock_guard lock(mutex_);
      final = final_;
      again_ = false;
    }
    std::optional<std::vector<CommandRecord>> rows;
    if (auto store = ctx.store(); store) {
      auto read = (*store)->get_command(cmd_id_);
      if (read) rows = std::move(read).value();
    }
    if (rows && all_finished(*rows)) return answer(200, rows);
    if (final) return answer(202, rows);
    bool again = false;
    {
      std::lock_guard lock(mutex_);
      checking_ = false;
      again = again_ || final_;
    }
    if (again) check(false);
  }

  void answer(int status, const std::optional<std::vector<CommandRecord>>& rows) {
    {
      std::lock_guard lock(mutex_);
      if (answered_) return;
      answered_ = true;
    }
    api_.hub->unwatch(cmd_id_, this);
    json body = report_;
    if (rows) {
      json outcomes = json::array();
      for (const auto& row : *rows) outcomes.push_back(to_json(row));
      body["outcomes"] = std::move(outcomes);
      body["done"] = all_finished(*rows);
    } else {
      body["done"] = false;
    }
    ex_.respond_json(status, body);
  }

  api_detail::ApiCore& api_;
  api_detail::ApiCore::Exchange ex_;
  json report_;
  std::string cmd_id_;
  std::mutex mutex_;
  bool answered_ = false;
  bool checking_ = false;
  bool again_ = false;
  bool final_ = false;
};

Status api_detail::ApiCore::register_metrics() {
  auto req =
      metrics.counter("dc_api_requests_total", "HTTP requests answered, by route and status", {"route", "status"});
  auto dur = metrics.histogram("dc_api_request_duration_seconds", "Time to answer a request, by route", {"route"});
  auto auth = metrics.counter("dc_api_auth_failures_total", "Requests refused 401 or 403", {"reason"});
  auto issued = metrics.counter("dc_api_commands_total",
                                "Commands issued through the API, by whether the broker "
                                "confirmed the publish",
                                {"published"});
  auto streams = metrics.gauge("dc_api_event_streams", "Open event streams (GET /api/v1/events)");
  auto queued = metrics.gauge("dc_api_worker_queue", "Jobs waiting for a worker");
  auto events = metrics.counter("dc_api_events_total", "Events read from the store's event log");
  if (!req || !dur || !auth || !issued || !streams || !queued || !events || !register_build_info(metrics)) {
    return Error(Errc::internal, "cannot register dc-api's metrics");
  }
  requests = *req;
  durations = *dur;
  auth_failures = *auth;
  commands_issued = *issued;
  streams_gauge = *streams;
  queue_gauge = *queued;
  events_counter = *events;
  add_process_metrics(metrics);
  return ok_status();
}

void api_detail::ApiCore::handle(HttpRequest request, HttpResponder responder) {
  Exchange ex{this, std::move(responder), "", SteadyClock::now(), false, std::nullopt};
  const RouteMatch match = match_route(request.path);
  if (match.route == ApiRoute::none && !match.pattern.empty()) {
    ex.route = std::string(match.pattern);
    return ex.respond(problem(404, "not-found", "Not found", "no API path " + request.path.substr(0, 200)));
  }
  if (match.route == ApiRoute::none) {
    ex.dashboard = true;
    return serve_dashboard(request, ex);
  }
  ex.route = std::string(match.pattern);
  serve_api(std::move(request), match, std::move(ex));
}

void api_detail::ApiCore::serve_dashboard(const HttpRequest& request, const Exchange& ex) {
  Exchange file_ex = ex;
  file_ex.route = "/ (dashboard)";
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse response = problem(405, "method-not-allowed", "Method not allowed", "the dashboard is read with GET");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return file_ex.respond(std::move(response));
  }
  const std::string path = request.path == "/" ? "/index.html" : request.path;
  const EmbeddedFile* file = find_embedded(dashboard_files(), path);
  if (file == nullptr) return file_ex.respond(problem(404, "not-found", "Not found", "no such file"));
  HttpResponse response;
  response.content_type = std::string(file->content_type);
  response.body = std::string(file->data);
  // The files change only with a new build: let browsers revalidate.
  response.headers.emplace_back("Cache-Control", "no-cache");
  file_ex.respond(std::move(response));
}

std::optional<Identity> api_detail::ApiCore::authenticate(const HttpRequest& request, const RouteMatch& match,
                                                          const Exchange& ex) {
  const auto refuse = [&](int status, std::string_view reason, std::string detail) {
    auth_failures->with({reason}).inc();
    // Who and what, never the token.
    spdlog::info("api: {} {} {} from {}: {}", status, request.method, match.pattern, request.remote, reason);
    HttpResponse response = status == 401 ? problem(401, "unauthorized", "Authentication required", detail)
                                          : problem(403, "forbidden", "Role too low", detail);
    if (status == 401) {
      response.headers.emplace_back("WWW-Authenticate", reason == "no token"
                                                            ? "Bearer realm=\"dc\""
                                                            : "Bearer realm=\"dc\", error=\"invalid_token\"");
    }
    ex.respond(std::move(response));
    return std::nullopt;
  };
  const auto token = bearer_token(request.header("Authorization"));
  if (!token) return refuse(401, "no token", "send Authorization: Bearer TOKEN (dc-api token add makes one)");
  auto identity = tokens.authenticate(*token);
  if (!identity) return refuse(401, "unknown token", "the token is not known (revoked, or mistyped)");
  const Role needed = role_needed(match.route, request.method);
  if (!role_allows(identity->role, needed)) {
    return refuse(403, "role too low",
                  "token '" + identity->name + "' has role " + std::string(to_string(identity->role)) + "; " +
                      request.method + " " + std::string(match.pattern) + " needs " + std::string(to_string(needed)));
  }
  return identity;
}

void api_detail::ApiCore::on_worker(const Exchange& ex, std::function<void(WorkerContext&)> job) {
  if (!workers->submit(std::move(job))) {
    HttpResponse response = problem(503, "busy", "Too busy", "every worker is busy; retry shortly");
    response.headers.emplace_back("Retry-After", "1");
    ex.respond(std::move(response));
  }
}

void api_detail::ApiCore::serve_api(HttpRequest request, const RouteMatch& match, Exchange ex) {
  if (!route_allows(match, request.method)) {
    HttpResponse response = problem(405, "method-not-allowed", "Method not allowed",
                                    request.method.substr(0, 32) + " is not allowed on " + std::string(match.pattern) +
                                        "; allowed: " + std::string(match.allow));
    response.headers.emplace_back("Allow", std::string(match.allow));
    return ex.respond(std::move(response));
  }
  auto who = authenticate(request, match, ex);
  if (!who) return;
  ex.who = who;
  const bool read = request.method == "GET" || request.method == "HEAD";
  switch (match.route) {
    case ApiRoute::commands:
      return read ? list_commands(request, ex) : post_command(request, *who, ex);
    case ApiRoute::command:
      return get_command(match.param, ex);
    case ApiRoute::apps:
      return read ? list_apps(request, ex) : post_app(request, *who, ex);
    case ApiRoute::app:
      if (read) return get_app(match.param, request, ex);
      if (request.method == "PATCH") return patch_app(match.param, request, *who, ex);
      return delete_app(match.param, request, *who, ex);
    case ApiRoute::managers:
      return list_managers(request, ex);
    case ApiRoute::events:
      return open_events(request, ex);
    case ApiRoute::openapi:
      return openapi(ex);
    case ApiRoute::none:
      break;
  }
  ex.respond(problem(404, "not-found", "Not found", "no such path"));
}

namespace {

// Answers a refusal, or returns the parsed value.
template <class T, class Ex>
std::optional<T> parsed_or_refuse(Parsed<T> parsed, const Ex& ex) {
  if (auto* refused = std::get_if<Refusal>(&parsed)) {
    ex.respond(std::move(refused->response));
    return std::nullopt;
  }
  return std::move(std::get<T>(parsed));
}

}  // namespace

void api_detail::ApiCore::list_commands(const HttpRequest& request, const Exchange& ex) {
  auto query = parsed_or_refuse(parse_command_list_query(request.query), ex);
  if (!query) return;
  const int64_t seq = hub->last_seq();
  on_worker(ex, [ex, filter = query->filter, seq](WorkerContext& ctx) {
    auto store = ctx.store();
    if (!store) return ex.fail(store.error());
    auto records = (*store)->list_commands(filter);
    if (!records) return ex.fail(records.error());
    json list = json::array();
    for (const auto& r : *records) list.push_back(to_json(r));
    json body{{"commands", std::move(list)}};
    body["next_after"] = filter.oldest_first && !records->empty() && static_cast<int>(records->size()) == filter.limit
                             ? json(records->back().seq)
                             : json(nullptr);
    HttpResponse response = json_response(200, body);
    response.headers.emplace_back("X-Dc-Event-Seq", std::to_string(seq));
    ex.respond(std::move(response));
  });
}

void api_detail::ApiCore::get_command(const std::string& cmd_id, const Exchange& ex) {
  on_worker(ex, [ex, cmd_id](WorkerContext& ctx) {
    auto store = ctx.store();
    if (!store) return ex.fail(store.error());
    auto rows = (*store)->get_command(cmd_id);
    if (!rows) return ex.fail(rows.error());
    if (rows->empty()) {
      return ex.respond(
          problem(404, "unknown-command", "Unknown command", "no command with id '" + cmd_id.substr(0, 64) + "'"));
    }
    ex.respond_json(200, command_json(cmd_id, *rows));
  });
}

void api_detail::ApiCore::post_command(const HttpRequest& request, const Identity& who, const Exchange& ex) {
  auto wait = parsed_or_refuse(parse_wait(request.query), ex);
  if (!wait) return;
  auto parsed = parsed_or_refuse(parse_command_request(request.body), ex);
  if (!parsed) return;
  IssueRequest issue;
  issue.name = parsed->name;
  issue.app_id = parsed->app_id;
  issue.manager = parsed->manager;
  issue.args_json = parsed->args_json;
  issue.issued_by = who.name;  // never from the request
  const double wait_seconds = *wait;
  on_worker(ex, [this, ex, issue, wait_seconds](WorkerContext& ctx) {
    auto source = ctx.source();
    if (!source) return ex.fail(source.error());
    auto report = (*source)->issue(issue);
    if (!report) {
      if (report.error().code() == Errc::not_found) {
        return ex.respond(
            problem(404, "unknown-app", "Unknown app", report.error().message(), json{{"field", "app_id"}}));
      }
      return ex.fail(report.error());
    }
    commands_issued->with({report->published ? "true" : "false"}).inc();
    json body;
    body["command_id"] = report->command.id;
    body["command"] = static_cast<int>(report->command.name);
    body["command_name"] = to_string(report->command.name);
    body["app_id"] = issue.app_id;
    body["manager"] = issue.manager ? json(*issue.manager) : json(nullptr);
    body["issued_by"] = report->command.issued_by;
    body["issued_at"] = format_iso8601(report->command.issued_at);
    json apps = json::array();
    for (const auto& row : report->rows) apps.push_back(row.app_id);
    body["apps"] = std::move(apps);
    body["routing_key"] = report->routing_key;
    body["published"] = report->published;
    body["publish"] = report->publish_detail;
    body["status_url"] = "/api/v1/commands/" + report->command.id;
    if (report->rows.empty()) {
      // A broadcast that reached no app: nothing was recorded, nothing runs.
      body["done"] = true;
      body["outcomes"] = json::array();
      return ex.respond_json(200, body);
    }
    if (wait_seconds <= 0) {
      HttpResponse response = json_response(202, body);
      response.headers.emplace_back("Location", "/api/v1/commands/" + report->command.id);
      return ex.respond(std::move(response));
    }
    auto waiter = std::make_shared<OutcomeWaiter>(*this, ex, body, report->command.id);
    const auto deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                   std::chrono::duration<double>(wait_seconds));
    hub->watch_command(report->command.id, deadline, waiter);
    waiter->check(false);
  });
}

void api_detail::ApiCore::list_apps(const HttpRequest& request, const Exchange& ex) {
  auto params = parsed_or_refuse(parse_query_params(request.query, {"manager"}), ex);
  if (!params) return;
  AppFilter filter;
  filter.manager = query_value(*params, "manager");
  const int64_t seq = hub->last_seq();
  on_worker(ex, [ex, filter, seq](WorkerContext& ctx) {
    auto store = ctx.store();
    if (!store) return ex.fail(store.error());
    auto apps = (*store)->list_apps(filter);
    if (!apps) return ex.fail(apps.error());
    json list = json::array();
    for (const auto& app : *apps) list.push_back(to_json(app));
    HttpResponse response = json_response(200, json{{"apps", std::move(list)}});
    response.headers.emplace_back("X-Dc-Event-Seq", std::to_string(seq));
    ex.respond(std::move(response));
  });
}

namespace {

HttpResponse unknown_app(const std::string& app_id) {
  return problem(404, "unknown-app", "Unknown app", "no app with id '" + app_id.substr(0, 128) + "'",
                 json{{"field", "app_id"}});
}

}  // namespace

void api_detail::ApiCore::get_app(const std::string& app_id, const HttpRequest& request, const Exchange& ex) {
  if (!parsed_or_refuse(parse_query_params(request.query, {}), ex)) return;
  on_worker(ex, [ex, app_id](WorkerContext& ctx) {
    auto store = ctx.store();
    if (!store) return ex.fail(store.error());
    auto app = (*store)->get_app(app_id);
    if (!app) return ex.fail(app.error());
    if (!*app) return ex.respond(unknown_app(app_id));
    ex.respond_json(200, to_json(**app));
  });
}

void api_detail::ApiCore::post_app(const HttpRequest& request, const Identity& who, const Exchange& ex) {
  if (!parsed_or_refuse(parse_query_params(request.query, {}), ex)) return;
  auto app = parsed_or_refuse(parse_new_app(request.body), ex);
  if (!app) return;
  on_worker(ex, [ex, app = *app, name = who.name](WorkerContext& ctx) {
    auto store = ctx.store();
    if (!store) return ex.fail(store.error());
    if (auto st = (*store)->add_app(app); !st) return ex.fail(st.error());
    spdlog::info("api: {} added app {} (manager {})", name, app.app_id, app.manager);
    auto added = (*store)->get_app(app.app_id);
    if (!added || !*added) return ex.fail(added ? Error(Errc::internal, "the new app vanished") : added.error());
    HttpResponse response = json_response(201, to_json(**added));
    response.headers.emplace_back("Location", "/api/v1/apps/" + app.app_id);
    ex.respond(std::move(response));
  });
}

void api_detail::ApiCore::patch_app(const std::string& app_id, const HttpRequest& request, const Identity& who,
                                    const Exchange& ex) {
  if (!parsed_or_refuse(parse_query_params(request.query, {}), ex)) return;
  on_worker(ex, [ex, app_id, body = request.body, name = who.name](WorkerContext& ctx) {
    auto store = ctx.store();
    if (!store) return ex.fail(store.error());
    auto current = (*store)->get_app(app_id);
    if (!current) return ex.fail(current.error());
    if (!*current) return ex.respond(unknown_app(app_id));
    auto changed = parsed_or_refuse(apply_app_patch(body, **current), ex);
    if (!changed) return;
    if (auto st = (*store)->update_app(*changed); !st) return ex.fail(st.error());
    spdlog::info("api: {} updated app {}", name, app_id);
    auto updated = (*store)->get_app(app_id);
    if (!updated || !*updated)
      return ex.fail(updated ? Error(Errc::not_found, "the app was removed") : updated.error());
    ex.respond_json(200, to_json(**updated));
  });
}

void api_detail::ApiCore::delete_app(const std::string& app_id, const HttpRequest& request, const Identity& who,
                                     const Exchange& ex) {
  if (!parsed_or_refuse(parse_query_params(request.query, {}), ex)) return;
  on_worker(ex, [ex, app_id, name = who.name](WorkerContext& ctx) {
    auto store = ctx.store();
    if (!store) return ex.fail(store.error());
    if (auto st = (*store)->remove_app(app_id); !st) {
      if (st.error().code() == Errc::not_found) return ex.respond(unknown_app(app_id));
      return ex.fail(st.error());
    }
    spdlog::info("api: {} removed app {}", name, app_id);
    HttpResponse response;
    response.status = 204;
    ex.respond(std::move(response));
  });
}

void api_detail::ApiCore::list_managers(const HttpRequest& request, const Exchange& ex) {
  if (!parsed_or_refuse(parse_query_params(request.query, {}), ex)) return;
  const auto ttl = std::chrono::milliseconds(static_cast<int64_t>(config.lease_ttl) * 1000);
  const int64_t seq = hub->last_seq();
  on_worker(ex, [ex, ttl, seq](WorkerContext& ctx) {
    auto store = ctx.store();
    if (!store) return ex.fail(store.error());
    auto managers = (*store)->list_managers();
    if (!managers) return ex.fail(managers.error());
    // Liveness by the database's clock, as the leases themselves.
    auto at = (*store)->database_time();
    if (!at) return ex.fail(at.error());
    json list = json::array();
    for (const auto& m : *managers) list.push_back(to_json(m, *at, ttl));
    HttpResponse response = json_response(200, json{{"managers", std::move(list)}});
    response.headers.emplace_back("X-Dc-Event-Seq", std::to_string(seq));
    ex.respond(std::move(response));
  });
}

void api_detail::ApiCore::open_events(const HttpRequest& request, const Exchange& ex) {
  auto position = parsed_or_refuse(parse_event_position(request.header("Last-Event-ID"), request.query), ex);
  if (!position) return;
  HttpResponse head;
  head.content_type = "text/event-stream; charset=utf-8";
  head.headers.emplace_back("X-Accel-Buffering", "no");  // reverse proxies: do not buffer the stream
  add_security_headers(head, false);
  observe(ex.route, 200, ex.started);
  auto stream = ex.responder.stream(std::move(head));
  if (!stream) return;
  hub->subscribe(std::move(stream), *position);
}

void api_detail::ApiCore::openapi(const Exchange& ex) {
  const EmbeddedFile* file = find_embedded(openapi_files(), "/openapi.json");
  if (file == nullptr) return ex.fail(Error(Errc::internal, "the OpenAPI document is not built in"));
  HttpResponse response;
  response.content_type = std::string(kJson);
  response.body = std::string(file->data);
  ex.respond(std::move(response));
}

ApiServer::ApiServer(Config config, ApiOptions options)
    : impl_(std::make_unique<api_detail::ApiCore>(std::move(config), std::move(options))) {}

ApiServer::~ApiServer() { stop(); }

Status ApiServer::start() {
  api_detail::ApiCore& api = *impl_;
  if (auto st = api.register_metrics(); !st) return st;
  if (api.config.api_tokens_file.empty()) {
    spdlog::warn("api_tokens_file is not set: every API request will be refused (401)");
  } else if (auto st = api.tokens.load(); !st) {
    return st.error().with_context("api_tokens_file");
  } else if (api.tokens.size() == 0) {
    spdlog::warn("api_tokens_file {} holds no tokens yet: add one with `dc-api token add NAME --role ROLE`",
                 api.config.api_tokens_file);
  }
  // Open the store once here: it creates or migrates the schema, and a
  // database that cannot be reached is a start-up error, not a 503 later.
  {
    auto store = Store::open(api.config.db_url);
    if (!store) return store.error().with_context("db_url");
  }
  EventHubOptions hub_options;
  hub_options.db_url = api.config.db_url;
  hub_options.lease_ttl = std::chrono::milliseconds(static_cast<int64_t>(api.config.lease_ttl) * 1000);
  api.hub = std::make_unique<EventHub>(hub_options);
  if (auto st = api.hub->start(); !st) return st;
  api.workers = std::make_unique<WorkerPool>(api.config, api.options.workers, api.options.max_queue);
  api.workers->start();

  HttpServerOptions http;
  http.listen = api.config.api_listen;
  http.threads = api.options.http_threads;
  http.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(api.config.api_request_timeout * 1000));
  http.max_body_bytes = static_cast<size_t>(api.config.api_max_body);
  http.max_header_bytes = 16 * 1024;
  http.max_connections = api.options.max_connections;
  http.tls_cert_file = api.config.api_tls_cert;
  http.tls_key_file = api.config.api_tls_key;
  api.http = std::make_unique<HttpServer>(http);
  api.http->error_body([](int status, std::string detail) {
    HttpResponse response = http_problem(status, std::move(detail));
    add_security_headers(response, false);
    return response;
  });
  api.http->route("/metrics", [&api](const HttpRequest&) { return api.metrics_text(); });
  api.http->route("/healthz", [&api](const HttpRequest&) {
    HttpResponse response;
    response.body = "ok: " + std::to_string(api.hub->streams()) + " event streams, last event " +
                    std::to_string(api.hub->last_seq()) + "\n";
    return response;
  });
  api.http->fallback(
      [&api](HttpRequest request, HttpResponder responder) { api.handle(std::move(request), std::move(responder)); });
  if (auto st = api.http->start(); !st) return st.error().with_context("api_listen");
  spdlog::info("dc-api {} serving on {}://{} (store {}, {} worker(s))", api.options.version,
               api.config.api_tls_cert.empty() ? "http" : "https", api.http->address(),
               std::string(api.config.db_url.substr(0, api.config.db_url.find(':'))), api.options.workers);
  return ok_status();
}

void ApiServer::stop() {
  if (!impl_) return;
  if (impl_->http) impl_->http->stop();
  if (impl_->hub) impl_->hub->stop();
  if (impl_->workers) impl_->workers->stop();
}

std::string ApiServer::address() const { return impl_->http ? impl_->http->address() : std::string(); }

bool ApiServer::responsive(std::chrono::milliseconds timeout) const {
  return impl_->http && impl_->http->responsive(timeout);
}

bool ApiServer::tls() const { return !impl_->config.api_tls_cert.empty(); }

}  // namespace dc
