#include "broker/publisher.h"

#include "base/ids.h"
#include "broker/confirm_tracker.h"
#include "broker/connection_core.h"

namespace dc::broker {

std::string_view to_string(PublishOutcome outcome) {
  switch (outcome) {
    case PublishOutcome::confirmed:
      return "confirmed";
    case PublishOutcome::returned:
      return "returned";
    case PublishOutcome::nacked:
      return "nacked";
    case PublishOutcome::unknown:
      return "unknown";
  }
  return "unknown";
}

Result<Publisher> Publisher::create(Connection conn, PublisherOptions options) {
  if (options.max_in_flight == 0) options.max_in_flight = 1;
  Publisher publisher(std::move(conn), options);
  if (Status st = publisher.ensure_confirm_mode(); !st.ok()) return st.error();
  return publisher;
}

Publisher::Publisher(Connection conn, PublisherOptions options) : conn_(std::move(conn)), options_(options) {}
Publisher::Publisher(Publisher&&) noexcept = default;
Publisher& Publisher::operator=(Publisher&&) noexcept = default;
Publisher::~Publisher() = default;

bool Publisher::usable() const { return conn_.usable(); }

Status Publisher::ensure_confirm_mode() {
  ConnectionCore& core = conn_.core();
  if (Status st = core.ensure_channel(); !st.ok()) return st;
  if (confirm_generation_ == core.channel_generation()) return ok_status();
  // A new channel: confirm mode and the delivery-tag sequence start afresh.
  amqp_confirm_select_t select{};
  select.nowait = 0;
  amqp_method_number_t replies[] = {AMQP_CONFIRM_SELECT_OK_METHOD, 0};
  const amqp_rpc_reply_t reply =
      amqp_simple_rpc(core.state(), ConnectionCore::kChannel, AMQP_CONFIRM_SELECT_METHOD, replies, &select);
  if (Status st = core.check_reply(reply, "enabling publisher confirms"); !st.ok()) return st;
  confirm_generation_ = core.channel_generation();
  next_seq_ = 1;
  return ok_status();
}

PublishResult Publisher::publish(const OutgoingMessage& message) {
  return publish_batch(std::span<const OutgoingMessage>(&message, 1)).front();
}

std::vector<PublishResult> Publisher::publish_batch(std::span<const OutgoingMessage> messages) {
  std::vector<std::string> ids;
  ids.reserve(messages.size());
  for (const auto& m : messages) ids.push_back(m.message_id.empty() ? random_uuid() : m.message_id);
  ConfirmTracker tracker(std::move(ids));
  if (messages.empty()) return tracker.take_results();

  ConnectionCore& core = conn_.core();
  if (Status st = ensure_confirm_mode(); !st.ok()) {
    tracker.give_up("not sent: " + st.error().message());
    return tracker.take_results();
  }
  if (core.blocked()) {
    tracker.give_up("not sent: broker " + core.description() +
                    " is blocking publishers (memory or disk alarm); retry later");
    return tracker.take_results();
  }
  size_t next = 0;
  while (next < messages.size() || tracker.in_flight() > 0) {
    // Fill the window, then collect confirms (and returns) until it has room.
    while (next < messages.size() && tracker.in_flight() < options_.max_in_flight) {
      if (Status st = send(messages[next], tracker.message_id(next)); !st.ok()) {
        tracker.give_up(st.error().message());
        return tracker.take_results();
      }
      tracker.sent(next++, next_seq_++);
    }
    if (Status st = read_confirm(tracker); !st.ok()) {
      tracker.give_up(st.error().message());
      return tracker.take_results();
    }
  }
  return tracker.take_results();
}

Status Publisher::send(const OutgoingMessage& m, const std::string& message_id) {
  ConnectionCore& core = conn_.core();
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
  props.content_type = as_bytes(m.content_type);
  props.message_id = as_bytes(message_id);
  props.timestamp = static_cast<uint64_t>(to_unix_micros(m.timestamp.value_or(now())) / 1'000'000);
  if (m.priority) {
    props._flags |= AMQP_BASIC_PRIORITY_FLAG;
    props.priority = *m.priority;
  }
  if (m.persistent) {
    props._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  }
  std::vector<amqp_table_entry_t> headers(m.headers.size());
  if (!m.headers.empty()) {
    for (size_t h = 0; h < m.headers.size(); ++h) {
      headers[h].key = as_bytes(m.headers[h].first);
      headers[h].value.kind = AMQP_FIELD_KIND_UTF8;
      headers[h].value.value.bytes = as_bytes(m.headers[h].second);
    }
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers = amqp_table_t{static_cast<int>(headers.size()), headers.data()};
  }
  const int status =
      amqp_basic_publish(core.state(), ConnectionCore::kChannel, as_bytes(m.exchange), as_bytes(m.routing_key),
                         m.mandatory ? 1 : 0, /*immediate=*/0, &props, as_bytes(m.body));
  if (status != AMQP_STATUS_OK) return core.library_error(status, "publishing to exchange '" + m.exchange + "'");
  return ok_status();
}

Status Publisher::read_confirm(ConfirmTracker& tracker) {
  ConnectionCore& core = conn_.core();
  auto frame = core.wait_frame(deadline_after(options_.confirm_timeout));
  if (!frame.ok()) return frame.error();
  if (!frame->has_value()) {
    return core.fail(Error(Errc::timeout, "no publisher confirm from " + core.description() + " within " +
                                              std::to_string(options_.confirm_timeout.count()) +
                                              " ms; connection abandoned"));
  }
  const amqp_frame_t& f = **frame;
  if (f.frame_type == AMQP_FRAME_METHOD) {
    switch (f.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded);
        tracker.acked(ack->delivery_tag, ack->multiple != 0);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(f.payload.method.decoded);
        tracker.nacked(nack->delivery_tag, nack->multiple != 0,
                       "broker " + core.description() + " refused responsibility (basic.nack)");
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        const auto* ret = static_cast<const amqp_basic_return_t*>(f.payload.method.decoded);
        const std::string detail = std::to_string(ret->reply_code) + " " + to_string(ret->reply_text) +
                                   ": nothing bound to exchange '" + to_string(ret->exchange) + "' with routing key '" +
                                   to_string(ret->routing_key) + "'";
        // The returned message's content follows; its message_id names it.
        auto content = core.read_content(deadline_after(core.rpc_timeout()));
        if (!content.ok()) return content.error();
        tracker.returned(content->message_id.value_or(""), detail);
        break;
      }
      default:
        break;  // nothing else is expected on a publishing channel
    }
  }
  core.release_buffers();
  return ok_status();
}

}  // namespace dc::broker
