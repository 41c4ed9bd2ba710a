#include "broker/publisher.h"

#include <algorithm>
#include <map>

#include "base/ids.h"
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
  ConnectionCore& core = conn_.core();
  const size_t n = messages.size();
  std::vector<PublishResult> results(n);
  for (size_t i = 0; i < n; ++i) {
    results[i].message_id = messages[i].message_id.empty() ? random_uuid() : messages[i].message_id;
  }
  // settled: acked or nacked; returned: basic.return seen (final as well).
  std::vector<bool> settled(n, false);
  std::vector<bool> returned(n, false);
  // Marks every message without an outcome yet as unknown, saying why.
  auto give_up = [&](const std::string& why) {
    for (size_t i = 0; i < n; ++i) {
      if (!settled[i] && !returned[i]) {
        results[i].outcome = PublishOutcome::unknown;
        results[i].detail = why;
      }
    }
    return results;
  };
  if (n == 0) return results;
  if (Status st = ensure_confirm_mode(); !st.ok()) return give_up("not sent: " + st.error().message());
  if (core.blocked()) {
    return give_up("not sent: broker " + core.description() +
                   " is blocking publishers (memory or disk alarm); retry later");
  }

  std::map<uint64_t, size_t> in_flight;  // delivery tag -> message index, ascending
  auto settle = [&](size_t index, PublishOutcome outcome, std::string detail) {
    settled[index] = true;
    if (returned[index]) return;  // the return, which precedes the ack, decided it
    results[index].outcome = outcome;
    results[index].detail = std::move(detail);
  };
  // basic.ack / basic.nack with `multiple` settle every tag up to `tag`.
  auto settle_tags = [&](uint64_t tag, bool multiple, PublishOutcome outcome, const std::string& detail) {
    auto end = in_flight.upper_bound(tag);
    auto begin = multiple ? in_flight.begin() : in_flight.find(tag);
    if (begin == in_flight.end()) return;
    if (!multiple) end = std::next(begin);
    for (auto it = begin; it != end; ++it) settle(it->second, outcome, detail);
    in_flight.erase(begin, end);
  };

  std::vector<amqp_table_entry_t> header_entries;
  size_t next = 0;
  while (next < n || !in_flight.empty()) {
    // Fill the window.
    while (next < n && in_flight.size() < options_.max_in_flight) {
      const OutgoingMessage& m = messages[next];
      amqp_basic_properties_t props{};
      props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
      props.content_type = as_bytes(m.content_type);
      props.message_id = as_bytes(results[next].message_id);
      props.timestamp = static_cast<uint64_t>(to_unix_micros(m.timestamp.value_or(now())) / 1'000'000);
      if (m.priority) {
        props._flags |= AMQP_BASIC_PRIORITY_FLAG;
        props.priority = *m.priority;
      }
      if (m.persistent) {
        props._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
      }
      if (!m.headers.empty()) {
        header_entries.resize(m.headers.size());
        for (size_t h = 0; h < m.headers.size(); ++h) {
          header_entries[h].key = as_bytes(m.headers[h].first);
          header_entries[h].value.kind = AMQP_FIELD_KIND_UTF8;
          header_entries[h].value.value.bytes = as_bytes(m.headers[h].second);
        }
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers = amqp_table_t{static_cast<int>(header_entries.size()), header_entries.data()};
      }
      const int status =
          amqp_basic_publish(core.state(), ConnectionCore::kChannel, as_bytes(m.exchange), as_bytes(m.routing_key),
                             m.mandatory ? 1 : 0, /*immediate=*/0, &props, as_bytes(m.body));
      if (status != AMQP_STATUS_OK) {
        return give_up(core.library_error(status, "publishing to exchange '" + m.exchange + "'").message());
      }
      in_flight.emplace(next_seq_++, next);
      ++next;
    }
    if (in_flight.empty()) continue;

    // Collect confirms (and returns) until the window has room again.
    auto frame = core.wait_frame(deadline_after(options_.confirm_timeout));
    if (!frame.ok()) return give_up(frame.error().message());
    if (!frame->has_value()) {
      const Error e = core.fail(Error(Errc::timeout, "no publisher confirm from " + core.description() + " within " +
                                                         std::to_string(options_.confirm_timeout.count()) +
                                                         " ms; connection abandoned"));
      return give_up(e.message());
    }
    const amqp_frame_t& f = **frame;
    if (f.frame_type != AMQP_FRAME_METHOD) {
      core.release_buffers();
      continue;
    }
    switch (f.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded);
        settle_tags(ack->delivery_tag, ack->multiple != 0, PublishOutcome::confirmed, "");
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(f.payload.method.decoded);
        settle_tags(nack->delivery_tag, nack->multiple != 0, PublishOutcome::nacked,
                    "broker " + core.description() + " refused responsibility (basic.nack)");
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        // A return precedes the ack of the same message; it carries no
        // delivery tag, so the message is found by its message_id.
        const auto* ret = static_cast<const amqp_basic_return_t*>(f.payload.method.decoded);
        const int code = ret->reply_code;
        std::string detail = std::to_string(code) + " " + to_string(ret->reply_text) + ": nothing bound to exchange '" +
                             to_string(ret->exchange) + "' with routing key '" + to_string(ret->routing_key) + "'";
        auto content = core.read_content(deadline_after(core.rpc_timeout()));
        if (!content.ok()) return give_up(content.error().message());
        const std::string id = content->message_id.value_or("");
        for (const auto& [tag, index] : in_flight) {
          if (!returned[index] && results[index].message_id == id) {
            returned[index] = true;
            results[index].outcome = PublishOutcome::returned;
            results[index].detail = std::move(detail);
            break;
          }
        }
        break;
      }
      default:
        break;  // nothing else is expected on a publishing channel
    }
    core.release_buffers();
  }
  return results;
}

}  // namespace dc::broker
