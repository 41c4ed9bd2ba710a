#include "cli/issue.h"

#include <pwd.h>
#include <unistd.h>

#include <set>

#include "base/ids.h"
#include "broker/publisher.h"
#include "broker/topology.h"
#include "manager/settings.h"

namespace dc {
namespace {

// Publishes `body` to `routing_key`, first declaring `queues` so a manager
// that never ran still gets the command in its durable queue. Returns the
// outcome in words; `published` is set only on a broker confirm.
std::string publish(const Config& config, const std::set<std::string>& queues, const std::string& routing_key,
                    const Command& command, bool& published) {
  published = false;
  auto conn = broker::Connection::open(connection_settings(config, "dcctl " + host_name()));
  if (!conn) return "broker unreachable (" + conn.error().message() + ")";
  if (queues.empty()) {
    auto type = broker::parse_queue_type(config.rabbit_queue_type);
    if (!type) return type.error().message();
    if (auto st = broker::declare_command_exchanges(*conn, config.rabbit_exchange, *type); !st) {
      return "declaring the exchange failed (" + st.error().message() + ")";
    }
  }
  for (const auto& queue : queues) {
    auto topology = command_topology(config, queue);
    if (!topology) return topology.error().message();
    if (auto st = broker::declare_command_topology(*conn, *topology); !st) {
      return "declaring queue '" + queue + "' failed (" + st.error().message() + ")";
    }
  }
  auto publisher = broker::Publisher::create(std::move(*conn));
  if (!publisher) return "enabling publisher confirms failed (" + publisher.error().message() + ")";

  broker::OutgoingMessage message;
  message.exchange = config.rabbit_exchange;
  message.routing_key = routing_key;
  message.body = serialize_command_body(command);
  message.message_id = command.id;
  message.timestamp = command.issued_at;
  if (!config.command_secrets.empty()) {
    message.headers.emplace_back(std::string(kSignatureHeader),
                                 sign_command(config.command_secrets.front(), command.id, message.body));
  }
  const auto result = publisher->publish(message);
  switch (result.outcome) {
    case broker::PublishOutcome::confirmed:
      published = true;
      return "published to '" + routing_key + "' and confirmed by the broker";
    case broker::PublishOutcome::returned:
      return "unroutable: no queue bound for '" + routing_key + "' (" + result.detail + ")";
    case broker::PublishOutcome::nacked:
      return "refused by the broker (" + result.detail + ")";
    case broker::PublishOutcome::unknown:
      return "publish outcome unknown (" + result.detail + ")";
  }
  return "publish outcome unknown";
}

}  // namespace

std::string default_issuer() {
  std::string user;
  if (const passwd* pw = getpwuid(geteuid()); pw != nullptr && pw->pw_name != nullptr) user = pw->pw_name;
  if (user.empty()) {
    const char* env_user = std::getenv("USER");
    user = env_user != nullptr ? env_user : "unknown";
  }
  return user + "@" + host_name();
}

Result<IssueReport> issue_command(Store& store, const Config& config, const IssueRequest& request) {
  const bool broadcast = request.app_id == kBroadcastAppId;
  if (auto problem = app_id_problem(request.app_id, /*allow_broadcast=*/true); !problem.empty()) {
    return Error(Errc::invalid_argument, problem);
  }
  if (request.manager && !broadcast) {
    return Error(Errc::invalid_argument, "--manager goes with --all (a single app's manager comes from the registry)");
  }
  auto args = normalize_args_json(request.args_json);
  if (!args) return args.error().with_context("--args");

  IssueReport report;
  report.command.id = random_uuid();
  report.command.app_id = request.app_id;
  report.command.name = request.name;
  report.command.issued_by = request.issued_by.empty() ? default_issuer() : request.issued_by;
  report.command.issued_at = now();
  report.command.args_json = *args;

  std::set<std::string> queues;
  if (broadcast) {
    report.routing_key = request.manager ? *request.manager : std::string(kBroadcastRoutingKey);
  } else {
    auto app = store.get_app(request.app_id);
    if (!app) return app.error();
    if (!*app) {
      return Error(Errc::not_found, "unknown app '" + request.app_id + "' (register it with: dcctl apps add " +
                                        request.app_id + " --manager NAME --exec '[\"/path/to/binary\"]')");
    }
    report.routing_key = (*app)->manager;
  }

  std::optional<std::string_view> manager_filter;
  if (request.manager) manager_filter = *request.manager;
  auto rows = store.record_command(report.command, manager_filter);
  if (!rows) return rows.error();
  report.rows = std::move(*rows);
  if (report.rows.empty()) {
    report.publish_detail = "no apps matched; nothing to do";
    return report;
  }

  if (broadcast && !request.manager) {
    auto apps = store.list_apps();
    if (!apps) return apps.error();
    for (const auto& app : *apps) queues.insert(app.manager);
  } else {
    queues.insert(report.routing_key);
  }
  report.publish_detail = publish(config, queues, report.routing_key, report.command, report.published);
  return report;
}

}  // namespace dc
