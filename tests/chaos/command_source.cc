#include "chaos/command_source.h"

#include <thread>

#include "base/endpoint.h"
#include "base/ids.h"
#include "broker/topology.h"

namespace dc::chaos {
namespace {

// Reconnect attempts after a failure are spaced so that a dead broker costs
// the stream little time per command.
constexpr std::chrono::milliseconds kReconnectSpacing{500};

}  // namespace

CommandSource::CommandSource(std::unique_ptr<Store> store, SourceSettings settings)
    : store_(std::move(store)), settings_(std::move(settings)) {}

CommandSource::~CommandSource() = default;

void CommandSource::drop_publisher() {
  // As dc-manager does: the node just lost is tried last next time.
  if (publisher_) lost_endpoint_ = publisher_->connection().endpoint();
  publisher_.reset();
  declared_.clear();
  next_connect_ = std::chrono::steady_clock::now() + kReconnectSpacing;
}

bool CommandSource::ensure_publisher(const std::string& queue) {
  if (publisher_ && !publisher_->usable()) drop_publisher();
  if (!publisher_) {
    if (std::chrono::steady_clock::now() < next_connect_) return false;
    broker::ConnectionSettings cs;
    auto endpoints = parse_endpoint_list(settings_.rabbit_host, settings_.rabbit_port);
    if (!endpoints) return false;
    cs.endpoints = std::move(*endpoints);
    cs.try_last = lost_endpoint_;
    cs.heartbeat = std::chrono::seconds(0);
    cs.connect_timeout = std::chrono::milliseconds(2000);
    cs.rpc_timeout = std::chrono::milliseconds(3000);
    cs.write_timeout = std::chrono::milliseconds(5000);
    cs.connection_name = "dc-chaos source";
    auto conn = broker::Connection::open(cs);
    if (!conn) {
      next_connect_ = std::chrono::steady_clock::now() + kReconnectSpacing;
      return false;
    }
    broker::PublisherOptions po;
    po.confirm_timeout = std::chrono::milliseconds(3000);
    auto pub = broker::Publisher::create(std::move(*conn), po);
    if (!pub) {
      next_connect_ = std::chrono::steady_clock::now() + kReconnectSpacing;
      return false;
    }
    publisher_.emplace(std::move(*pub));
  }
  if (!declared_.count(queue)) {
    broker::CommandTopology topology{settings_.exchange, queue, settings_.queue_type};
    if (auto st = broker::declare_command_topology(publisher_->connection(), topology); !st) {
      drop_publisher();
      return false;
    }
    declared_.insert(queue);
  }
  return true;
}

Result<std::string> CommandSource::issue(const std::string& app_id, const std::string& manager, CmdName name,
                                         const std::string& args_json) {
  Command command;
  command.id = random_uuid();
  command.app_id = app_id;
  command.name = name;
  command.issued_by = "dc-chaos";
  command.args_json = args_json;

  const auto deadline = std::chrono::steady_clock::now() + settings_.record_deadline;
  for (bool retried = false;; retried = true) {
    command.issued_at = now();
    // A broadcast addresses the apps of `manager` (dcctl --all --manager).
    auto rows = command.is_broadcast() ? store_->record_command(command, manager) : store_->record_command(command);
    if (rows) break;
    // A connection lost during COMMIT leaves its outcome unknown; when the
    // retry finds this (fresh, random) command id taken, that commit had
    // gone through (e.g. to the standby that was then promoted).
    if (retried && rows.error().code() == Errc::conflict) {
      ++counters_.record_ambiguous;
      break;
    }
    if (!rows.error().retryable() || std::chrono::steady_clock::now() >= deadline) {
      ++counters_.record_refused;
      return rows.error().with_context("recording command " + command.id);
    }
    ++counters_.record_retries;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ++counters_.recorded;

  if (!ensure_publisher(manager)) {
    ++counters_.publish_failed;
    return command.id;
  }
  broker::OutgoingMessage message;
  message.exchange = settings_.exchange;
  message.routing_key = manager;
  message.body = serialize_command_body(command);
  message.message_id = command.id;
  message.timestamp = command.issued_at;
  const auto result = publisher_->publish(message);
  if (result.confirmed()) {
    ++counters_.published;
  } else {
    ++counters_.publish_failed;
    // As dcctl: the next command starts from a fresh connection and
    // re-declares the queue (the exchange may have been deleted).
    drop_publisher();
    next_connect_ = std::chrono::steady_clock::now();
  }
  return command.id;
}

broker::PublishResult CommandSource::publish_raw(const std::string& routing_key, const std::string& body,
                                                 const std::string& message_id) {
  broker::PublishResult failed;
  failed.outcome = broker::PublishOutcome::unknown;
  if (!ensure_publisher(routing_key)) {
    failed.detail = "no publisher connection";
    return failed;
  }
  broker::OutgoingMessage message;
  message.exchange = settings_.exchange;
  message.routing_key = routing_key;
  message.body = body;
  message.message_id = message_id;
  auto result = publisher_->publish(message);
  if (!result.confirmed()) drop_publisher();
  return result;
}

}  // namespace dc::chaos
