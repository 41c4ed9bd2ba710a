#include "source/issue.h"

#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <set>

#include "base/host.h"
#include "base/ids.h"
#include "broker/publisher.h"
#include "broker/topology.h"
#include "source/broker_settings.h"

namespace dc {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What one publishing attempt came to.
struct Attempt {
  bool published = false;
  // The failure may belong to the connection rather than to this message
  // (closed while idle, a declaration gone stale): a fresh connection may
  // succeed where this one did not.
  bool connection_suspect = false;
  std::string detail;
};

Attempt failed(std::string detail, bool connection_suspect) {
  return Attempt{false, connection_suspect, std::move(detail)};
}

Attempt attempt_for(const broker::PublishResult& result, const std::string& routing_key) {
  switch (result.outcome) {
    case broker::PublishOutcome::confirmed:
      return Attempt{true, false, "published to '" + routing_key + "' and confirmed by the broker"};
    case broker::PublishOutcome::returned:
      return failed("unroutable: no queue bound for '" + routing_key + "' (" + result.detail + ")", true);
    case broker::PublishOutcome::nacked:
      return failed("refused by the broker (" + result.detail + ")", false);
    case broker::PublishOutcome::unknown:
      break;
  }
  return failed("publish outcome unknown (" + result.detail + ")", true);
}

broker::OutgoingMessage message_for(const Config& config, const Command& command, const std::string& body,
                                    const std::string& routing_key) {
  broker::OutgoingMessage message;
  message.exchange = config.rabbit_exchange;
  message.routing_key = routing_key;
  message.body = body;
  message.message_id = command.id;
  message.timestamp = command.issued_at;
  if (!command.signature.empty()) message.headers.emplace_back(std::string(kSignatureHeader), command.signature);
  return message;
}

}  // namespace

// The broker side of a CommandIssuer: one confirmed publisher connection and
// the queues declared on it. Everything is dropped together when the
// connection is abandoned, so a new connection declares afresh.
struct CommandIssuer::Publishing {
  std::optional<broker::Publisher> publisher;
  std::set<std::string> declared;  // queues declared on this connection
  bool exchanges_declared = false;
  SteadyClock::time_point last_used{};
  SteadyClock::time_point next_connect{};  // no connect attempt before this
  std::string connect_failure;             // why the last connect failed

  void drop() {
    publisher.reset();
    declared.clear();
    exchanges_declared = false;
  }

  // True when the connection should not be used again: dead, or idle for
  // longer than the heartbeat interval, after which the broker may have
  // closed it without our noticing.
  bool stale(SteadyClock::time_point now) {
    if (!publisher) return false;
    if (!publisher->usable()) return true;
    const auto heartbeat = publisher->connection().heartbeat();
    return heartbeat.count() > 0 && now - last_used > heartbeat;
  }

  // Opens the connection unless one is open. Empty on success, else why not.
  std::string connect(const Config& config, const IssuerOptions& options) {
    if (publisher) return {};
    const auto now = SteadyClock::now();
    if (now < next_connect) return "broker unreachable (" + connect_failure + ")";
    auto conn = broker::Connection::open(connection_settings(config, options.connection_name));
    if (!conn) {
      connect_failure = conn.error().message();
      next_connect = now + options.reconnect_interval;
      return "broker unreachable (" + connect_failure + ")";
    }
    auto created = broker::Publisher::create(std::move(*conn));
    if (!created) return "enabling publisher confirms failed (" + created.error().message() + ")";
    publisher.emplace(std::move(*created));
    return {};
  }

  // Declares the exchanges and each queue of `queues` not yet declared on
  // this connection. Empty on success, else why not.
  std::string declare(const Config& config, const std::vector<std::string>& queues) {
    broker::Connection& conn = publisher->connection();
    if (queues.empty() && !exchanges_declared) {
      auto type = broker::parse_queue_type(config.rabbit_queue_type);
      if (!type) return type.error().message();
      if (auto st = broker::declare_command_exchanges(conn, config.rabbit_exchange, *type); !st) {
        return "declaring the exchange failed (" + st.error().message() + ")";
      }
      exchanges_declared = true;
    }
    for (const auto& queue : queues) {
      if (declared.contains(queue)) continue;
      auto topology = command_topology(config, queue);
      if (!topology) return topology.error().message();
      if (auto st = broker::declare_command_topology(conn, *topology); !st) {
        return "declaring queue '" + queue + "' failed (" + st.error().message() + ")";
      }
      declared.insert(queue);
      exchanges_declared = true;
    }
    return {};
  }

  Attempt publish(const Config& config, const IssuerOptions& options, const std::vector<std::string>& queues,
                  const broker::OutgoingMessage& message) {
    if (std::string problem = connect(config, options); !problem.empty()) return failed(problem, false);
    if (std::string problem = declare(config, queues); !problem.empty()) return failed(problem, true);
    Attempt attempt = attempt_for(publisher->publish(message), message.routing_key);
    last_used = SteadyClock::now();
    return attempt;
  }
};

CommandIssuer::CommandIssuer(Store& store, Config config, IssuerOptions options)
    : store_(&store),
      config_(std::move(config)),
      options_(std::move(options)),
      publishing_(std::make_unique<Publishing>()) {
  if (options_.connection_name.empty()) options_.connection_name = "dc source " + default_issuer();
}

CommandIssuer::~CommandIssuer() = default;
CommandIssuer::CommandIssuer(CommandIssuer&&) noexcept = default;
CommandIssuer& CommandIssuer::operator=(CommandIssuer&&) noexcept = default;

std::string CommandIssuer::publish(const std::vector<std::string>& queues, const IssueReport& report,
                                   const std::string& body, bool& published) {
  const broker::OutgoingMessage message = message_for(config_, report.command, body, report.routing_key);
  Publishing& p = *publishing_;
  if (p.stale(SteadyClock::now())) p.drop();
  const bool reused = p.publisher.has_value();
  Attempt attempt = p.publish(config_, options_, queues, message);
  if (!attempt.published && attempt.connection_suspect) {
    // Whatever this connection had is suspect now; a reused one gets one
    // more try on a fresh connection, as a one-shot source would have made.
    p.drop();
    if (reused) attempt = p.publish(config_, options_, queues, message);
    if (!attempt.published) p.drop();
  }
  published = attempt.published;
  return attempt.detail;
}

Result<IssueReport> CommandIssuer::issue(const IssueRequest& request) {
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

  if (broadcast) {
    report.routing_key = request.manager ? *request.manager : std::string(kBroadcastRoutingKey);
  } else {
    auto app = store_->get_app(request.app_id);
    if (!app) return app.error();
    if (!*app) {
      return Error(Errc::not_found, "unknown app '" + request.app_id + "' (register it with: dcctl apps add " +
                                        request.app_id + " --manager NAME --exec '[\"/path/to/binary\"]')");
    }
    report.routing_key = (*app)->manager;
  }

  // The message exactly as it will be published, checked and signed before
  // anything is recorded: the manager refuses a body over 64 KiB on every
  // path (SPEC §2), and checks the signature the row keeps on the database
  // path too, so what is recorded is what the broker carries.
  const std::string body = serialize_command_body(report.command);
  if (body.size() > kMaxBodyBytes) {
    return Error(Errc::invalid_argument, "the command's message would be " + std::to_string(body.size()) +
                                             " bytes; managers refuse messages over 64 KiB (" +
                                             std::to_string(kMaxBodyBytes) + " bytes): make --args smaller");
  }
  if (!config_.command_secrets.empty()) {
    report.command.signature =
        sign_command(config_.command_secrets.front(), report.command.id, report.routing_key, body);
  }

  std::optional<std::string_view> manager_filter;
  if (request.manager) manager_filter = *request.manager;
  auto rows = store_->record_command(report.command, manager_filter);
  if (!rows) return rows.error();
  report.rows = std::move(*rows);
  if (report.rows.empty()) {
    report.publish_detail = "no apps matched; nothing to do";
    return report;
  }

  // The queues to declare first, so that a manager that never ran still
  // finds the command in its durable queue: every manager a broadcast to
  // "all" reaches, else the one the routing key names.
  std::set<std::string> queues;
  if (broadcast && !request.manager) {
    auto apps = store_->list_apps();
    if (!apps) return apps.error();
    for (const auto& app : *apps) queues.insert(app.manager);
  } else {
    queues.insert(report.routing_key);
  }
  report.publish_detail = publish({queues.begin(), queues.end()}, report, body, report.published);
  return report;
}

Result<IssueReport> issue_command(Store& store, const Config& config, const IssueRequest& request) {
  IssuerOptions options;
  options.connection_name = "dcctl " + host_name();
  return CommandIssuer(store, config, options).issue(request);
}

std::string default_issuer() {
  std::string user;
  passwd entry{};
  passwd* found = nullptr;
  std::array<char, 1024> buf{};
  if (getpwuid_r(geteuid(), &entry, buf.data(), buf.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr) {
    user = found->pw_name;
  }
  if (user.empty()) {
    const char* env_user = std::getenv("USER");
    user = env_user != nullptr ? env_user : "unknown";
  }
  return user + "@" + host_name();
}

}  // namespace dc
