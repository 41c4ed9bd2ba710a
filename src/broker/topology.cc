#include "broker/topology.h"

#include <cstdint>
#include <deque>
#include <vector>

#include "broker/connection_core.h"

namespace dc::broker {
namespace {

// Adds advice to a 406 refusal: the broker says what differs, we say how to
// get out of it.
Error explain_conflict(const Error& e, std::string_view kind, std::string_view name, std::string_view advice) {
  if (e.code() != Errc::conflict) return e;
  return Error(Errc::conflict, e.message() + ". The " + std::string(kind) + " '" + std::string(name) +
                                   "' already exists with other settings: " + std::string(advice));
}

Status declare_exchange(ConnectionCore& core, const std::string& name, const char* type) {
  if (Status st = core.ensure_channel(); !st.ok()) return st;
  amqp_exchange_declare(core.state(), ConnectionCore::kChannel, as_bytes(name), amqp_cstring_bytes(type),
                        /*passive=*/0, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  Status st =
      core.check_reply(amqp_get_rpc_reply(core.state()), "declaring " + std::string(type) + " exchange '" + name + "'");
  if (!st.ok()) {
    return explain_conflict(st.error(), "exchange", name,
                            "delete it (management UI or rabbitmqadmin) or choose another rabbit_exchange");
  }
  return ok_status();
}

Status declare_queue(ConnectionCore& core, const std::string& name, amqp_table_t arguments, std::string_view advice) {
  if (Status st = core.ensure_channel(); !st.ok()) return st;
  amqp_queue_declare(core.state(), ConnectionCore::kChannel, as_bytes(name), /*passive=*/0, /*durable=*/1,
                     /*exclusive=*/0, /*auto_delete=*/0, arguments);
  Status st = core.check_reply(amqp_get_rpc_reply(core.state()), "declaring queue '" + name + "'");
  if (!st.ok()) return explain_conflict(st.error(), "queue", name, advice);
  return ok_status();
}

Status bind_queue(ConnectionCore& core, const std::string& queue, const std::string& exchange,
                  const std::string& routing_key) {
  if (Status st = core.ensure_channel(); !st.ok()) return st;
  amqp_queue_bind(core.state(), ConnectionCore::kChannel, as_bytes(queue), as_bytes(exchange), as_bytes(routing_key),
                  amqp_empty_table);
  return core.check_reply(amqp_get_rpc_reply(core.state()), "binding queue '" + queue + "' to exchange '" + exchange +
                                                                "' with key '" + routing_key + "'");
}

// Queue arguments as rabbitmq-c wants them; owns the text values the table
// points into (a deque never moves what it holds).
class QueueArguments {
 public:
  void text(const char* key, std::string value) {
    amqp_table_entry_t& e = entries_.emplace_back();
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = as_bytes(values_.emplace_back(std::move(value)));
  }
  void integer(const char* key, int32_t value) {
    amqp_table_entry_t& e = entries_.emplace_back();
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_I32;
    e.value.value.i32 = value;
  }
  amqp_table_t table() { return amqp_table_t{static_cast<int>(entries_.size()), entries_.data()}; }

 private:
  std::deque<std::string> values_;
  std::vector<amqp_table_entry_t> entries_;
};

}  // namespace

Result<QueueType> parse_queue_type(std::string_view text) {
  if (text == "classic") return QueueType::classic;
  if (text == "quorum") return QueueType::quorum;
  return Error(Errc::invalid_argument,
               "rabbit_queue_type: '" + std::string(text) + "' is not a queue type (use classic or quorum)");
}

std::string_view to_string(QueueType type) { return type == QueueType::quorum ? "quorum" : "classic"; }

Status declare_command_exchanges(Connection& conn, std::string_view exchange_name, QueueType dead_letter_type) {
  if (exchange_name.empty()) return Error(Errc::invalid_argument, "rabbit_exchange must not be empty");
  ConnectionCore& core = conn.core();
  const std::string exchange(exchange_name);
  const std::string dlx = exchange + ".dlx";
  const std::string dead = exchange + ".dead";
  if (Status st = declare_exchange(core, exchange, "direct"); !st.ok()) return st;
  if (Status st = declare_exchange(core, dlx, "fanout"); !st.ok()) return st;
  QueueArguments args;
  if (dead_letter_type == QueueType::quorum) args.text("x-queue-type", "quorum");
  if (Status st = declare_queue(core, dead, args.table(),
                                "delete it (rabbitmqctl delete_queue " + dead +
                                    ") after saving its dead letters, or set rabbit_queue_type to what it was "
                                    "declared with");
      !st.ok()) {
    return st;
  }
  return bind_queue(core, dead, dlx, "");
}

Status declare_command_topology(Connection& conn, const CommandTopology& t) {
  if (t.queue.empty()) return Error(Errc::invalid_argument, "rabbit_queue must not be empty");
  if (Status st = declare_command_exchanges(conn, t.exchange, t.queue_type); !st.ok()) return st;
  ConnectionCore& core = conn.core();

  QueueArguments args;
  args.text("x-dead-letter-exchange", t.dead_letter_exchange());
  if (t.queue_type == QueueType::quorum) {
    args.text("x-queue-type", "quorum");
    // Dead letters move only once the dead-letter queue has confirmed them
    // (RabbitMQ's at-least-once dead-lettering, which needs reject-publish
    // overflow); the default, at-most-once, drops them while that queue is
    // unavailable, e.g. during a leader election.
    args.text("x-dead-letter-strategy", "at-least-once");
    args.text("x-overflow", "reject-publish");
    args.integer("x-delivery-limit", kQuorumDeliveryLimit);
  }

  const std::string advice = "delete the queue (rabbitmqctl delete_queue " + t.queue +
                             ", after draining it) or set rabbit_queue_type/rabbit_exchange to what it was "
                             "declared with";
  if (Status st = declare_queue(core, t.queue, args.table(), advice); !st.ok()) return st;
  if (Status st = bind_queue(core, t.queue, t.exchange, t.queue); !st.ok()) return st;
  return bind_queue(core, t.queue, t.exchange, std::string(kBroadcastRoutingKey));
}

Result<uint32_t> queue_message_count(Connection& conn, std::string_view queue) {
  auto info = inspect_queue(conn, queue);
  if (!info.ok()) return info.error();
  return info->message_count;
}

Result<QueueInfo> inspect_queue(Connection& conn, std::string_view queue) {
  ConnectionCore& core = conn.core();
  if (Status st = core.ensure_channel(); !st.ok()) return st.error();
  const std::string name(queue);
  const amqp_queue_declare_ok_t* ok = amqp_queue_declare(core.state(), ConnectionCore::kChannel, as_bytes(name),
                                                         /*passive=*/1, 0, 0, 0, amqp_empty_table);
  if (Status st = core.check_reply(amqp_get_rpc_reply(core.state()), "inspecting queue '" + name + "'"); !st.ok()) {
    return st.error();
  }
  const QueueInfo info{ok->message_count, ok->consumer_count};
  core.release_buffers();
  return info;
}

Result<QueueInfo> declare_durable_queue(Connection& conn, std::string_view queue,
                                        std::span<const QueueArgument> arguments) {
  if (queue.empty()) return Error(Errc::invalid_argument, "declaring a queue needs a name");
  ConnectionCore& core = conn.core();
  if (Status st = core.ensure_channel(); !st.ok()) return st.error();
  std::vector<amqp_table_entry_t> entries(arguments.size());
  for (size_t i = 0; i < arguments.size(); ++i) {
    entries[i].key = as_bytes(arguments[i].key);
    if (const auto* text = std::get_if<std::string>(&arguments[i].value)) {
      entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
      entries[i].value.value.bytes = as_bytes(*text);
    } else {
      const int64_t number = std::get<int64_t>(arguments[i].value);
      if (number >= INT32_MIN && number <= INT32_MAX) {
        entries[i].value.kind = AMQP_FIELD_KIND_I32;
        entries[i].value.value.i32 = static_cast<int32_t>(number);
      } else {
        entries[i].value.kind = AMQP_FIELD_KIND_I64;
        entries[i].value.value.i64 = number;
      }
    }
  }
  const amqp_table_t table{static_cast<int>(entries.size()), entries.data()};
  const std::string name(queue);
  const amqp_queue_declare_ok_t* ok = amqp_queue_declare(core.state(), ConnectionCore::kChannel, as_bytes(name),
                                                         /*passive=*/0, /*durable=*/1, /*exclusive=*/0,
                                                         /*auto_delete=*/0, table);
  Status st = core.check_reply(amqp_get_rpc_reply(core.state()), "declaring queue '" + name + "'");
  if (!st.ok()) {
    return explain_conflict(st.error(), "queue", name,
                            "every client must declare it with the same arguments (for task queues: the same "
                            "task_max_priority); delete it after draining it, or use the arguments it has");
  }
  const QueueInfo info{ok->message_count, ok->consumer_count};
  core.release_buffers();
  return info;
}

Result<uint32_t> purge_queue(Connection& conn, std::string_view queue) {
  ConnectionCore& core = conn.core();
  if (Status st = core.ensure_channel(); !st.ok()) return st.error();
  const std::string name(queue);
  const amqp_queue_purge_ok_t* ok = amqp_queue_purge(core.state(), ConnectionCore::kChannel, as_bytes(name));
  if (Status st = core.check_reply(amqp_get_rpc_reply(core.state()), "purging queue '" + name + "'"); !st.ok()) {
    return st.error();
  }
  const uint32_t count = ok->message_count;
  core.release_buffers();
  return count;
}

Status delete_queue(Connection& conn, std::string_view queue) {
  ConnectionCore& core = conn.core();
  if (Status st = core.ensure_channel(); !st.ok()) return st;
  const std::string name(queue);
  amqp_queue_delete(core.state(), ConnectionCore::kChannel, as_bytes(name), /*if_unused=*/0, /*if_empty=*/0);
  Status st = core.check_reply(amqp_get_rpc_reply(core.state()), "deleting queue '" + name + "'");
  if (!st.ok() && st.error().code() == Errc::not_found) return ok_status();
  return st;
}

Status delete_exchange(Connection& conn, std::string_view exchange) {
  ConnectionCore& core = conn.core();
  if (Status st = core.ensure_channel(); !st.ok()) return st;
  const std::string name(exchange);
  amqp_exchange_delete(core.state(), ConnectionCore::kChannel, as_bytes(name), /*if_unused=*/0);
  Status st = core.check_reply(amqp_get_rpc_reply(core.state()), "deleting exchange '" + name + "'");
  if (!st.ok() && st.error().code() == Errc::not_found) return ok_status();
  return st;
}

}  // namespace dc::broker
