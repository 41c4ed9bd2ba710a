#include "broker/consumer.h"

#include <algorithm>

#include "broker/connection_core.h"

namespace dc::broker {

std::optional<std::string> Delivery::header(std::string_view name) const {
  auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

Result<Consumer> Consumer::start(Connection conn, ConsumerOptions options) {
  if (options.queue.empty()) return Error(Errc::invalid_argument, "consumer needs a queue name (rabbit_queue)");
  if (options.prefetch == 0) options.prefetch = 1;
  Consumer consumer(std::move(conn), std::move(options));
  ConnectionCore& core = consumer.conn_.core();
  const std::string& queue = consumer.options_.queue;
  if (Status st = core.ensure_channel(); !st.ok()) return st.error();

  amqp_basic_qos(core.state(), ConnectionCore::kChannel, 0, consumer.options_.prefetch, /*global=*/0);
  if (Status st = core.check_reply(amqp_get_rpc_reply(core.state()), "setting prefetch"); !st.ok()) return st.error();

  const amqp_basic_consume_ok_t* ok =
      amqp_basic_consume(core.state(), ConnectionCore::kChannel, as_bytes(queue),
                         as_bytes(consumer.options_.consumer_tag), /*no_local=*/0, /*no_ack=*/0,
                         /*exclusive=*/0, amqp_empty_table);
  if (Status st = core.check_reply(amqp_get_rpc_reply(core.state()), "consuming from queue '" + queue + "'");
      !st.ok()) {
    return st.error();
  }
  consumer.options_.consumer_tag = to_string(ok->consumer_tag);
  consumer.channel_generation_ = core.channel_generation();
  core.release_buffers();
  return consumer;
}

Consumer::Consumer(Connection conn, ConsumerOptions options) : conn_(std::move(conn)), options_(std::move(options)) {}
Consumer::Consumer(Consumer&&) noexcept = default;
Consumer& Consumer::operator=(Consumer&&) noexcept = default;
Consumer::~Consumer() = default;

Status Consumer::check_live(std::string_view what) {
  ConnectionCore& core = conn_.core();
  if (Status st = core.check_usable(); !st.ok()) return st;
  if (ended_) return *ended_;
  if (!core.channel_open() || core.channel_generation() != channel_generation_) {
    // Delivery tags belong to the channel they came on; after it closed the
    // broker has already requeued every unsettled delivery.
    ended_ = Error(Errc::unavailable,
                   std::string(what) + ": the channel consuming queue '" + options_.queue + "' was closed; reconnect");
    return *ended_;
  }
  return ok_status();
}

Result<std::optional<Delivery>> Consumer::next(std::chrono::milliseconds timeout) {
  if (Status st = check_live("consuming"); !st.ok()) return st.error();
  ConnectionCore& core = conn_.core();
  const Deadline deadline = deadline_after(std::max(timeout, std::chrono::milliseconds(0)));
  for (;;) {
    auto frame = core.wait_frame(deadline);
    if (!frame.ok()) {
      if (!core.channel_open()) ended_ = frame.error();
      return frame.error();
    }
    if (!frame->has_value()) return std::optional<Delivery>();
    const amqp_frame_t& f = **frame;
    if (f.frame_type != AMQP_FRAME_METHOD) {
      core.release_buffers();
      continue;
    }
    if (f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
      const auto* deliver = static_cast<const amqp_basic_deliver_t*>(f.payload.method.decoded);
      Delivery d;
      d.delivery_tag = deliver->delivery_tag;
      d.redelivered = deliver->redelivered != 0;
      d.exchange = to_string(deliver->exchange);
      d.routing_key = to_string(deliver->routing_key);
      // The content follows the method at once; a zero timeout must not cut
      // a message in half.
      auto content = core.read_content(std::max(deadline, deadline_after(core.rpc_timeout())), options_.max_body_bytes);
      if (!content.ok()) return content.error();
      d.body = std::move(content->body);
      d.body_size = content->body_size;
      d.body_discarded = content->discarded;
      d.message_id = std::move(content->message_id);
      d.content_type = std::move(content->content_type);
      d.timestamp = content->timestamp;
      d.delivery_mode = content->delivery_mode;
      d.priority = content->priority;
      for (auto& [key, value] : content->headers) d.headers.emplace(key, std::move(value));
      core.release_buffers();
      return std::optional<Delivery>(std::move(d));
    }
    if (f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
      // consumer_cancel_notify: the queue was deleted (or its node failed).
      ended_ = Error(Errc::unavailable, "broker " + core.description() + " cancelled the consumer of queue '" +
                                            options_.queue +
                                            "' (queue deleted or unavailable); reconnect, redeclare and consume again");
      core.release_buffers();
      return *ended_;
    }
    core.release_buffers();  // e.g. basic.cancel-ok after cancel(): nothing to do
  }
}

Status Consumer::ack(uint64_t delivery_tag) { return send_ack(delivery_tag, /*multiple=*/false); }

Status Consumer::ack_up_to(uint64_t delivery_tag) { return send_ack(delivery_tag, /*multiple=*/true); }

Status Consumer::send_ack(uint64_t delivery_tag, bool multiple) {
  if (Status st = check_live(multiple ? "acknowledging deliveries" : "acknowledging a delivery"); !st.ok()) return st;
  ConnectionCore& core = conn_.core();
  if (const int status = amqp_basic_ack(core.state(), ConnectionCore::kChannel, delivery_tag, multiple ? 1 : 0);
      status != AMQP_STATUS_OK) {
    return core.library_error(status, (multiple ? "acknowledging deliveries up to " : "acknowledging delivery ") +
                                          std::to_string(delivery_tag));
  }
  return ok_status();
}

Status Consumer::reject(uint64_t delivery_tag, bool requeue) {
  if (Status st = check_live("rejecting a delivery"); !st.ok()) return st;
  ConnectionCore& core = conn_.core();
  if (const int status = amqp_basic_reject(core.state(), ConnectionCore::kChannel, delivery_tag, requeue ? 1 : 0);
      status != AMQP_STATUS_OK) {
    return core.library_error(status, "rejecting delivery " + std::to_string(delivery_tag));
  }
  return ok_status();
}

Status Consumer::cancel() {
  if (cancelled_) return ok_status();
  if (Status st = check_live("cancelling the consumer"); !st.ok()) return st;
  ConnectionCore& core = conn_.core();
  amqp_basic_cancel(core.state(), ConnectionCore::kChannel, as_bytes(options_.consumer_tag));
  if (Status st = core.check_reply(amqp_get_rpc_reply(core.state()),
                                   "cancelling the consumer of queue '" + options_.queue + "'");
      !st.ok()) {
    return st;
  }
  cancelled_ = true;
  return ok_status();
}

}  // namespace dc::broker
