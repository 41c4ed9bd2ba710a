// Publisher-confirm bookkeeping for one batch, without I/O: what the
// Publisher knows about each message between basic.publish and its outcome,
// driven by the frames the broker sends back. Every rule of RabbitMQ's
// publisher confirms that decides an outcome lives here, so it is tested
// without a broker (tests/broker/confirm_tracker_test.cc).
//
// The rules:
//   - On a channel in confirm mode the broker numbers publishes 1, 2, 3, ...
//     (delivery tags) and answers each with basic.ack (confirmed) or
//     basic.nack (refused); `multiple` settles every tag up to and including
//     the one given.
//   - A mandatory message that no queue takes comes back as basic.return,
//     which carries no tag: it is matched by message_id to the oldest message
//     in flight with that id. The return precedes the ack of the same message,
//     and the return decides its outcome.
//   - A tag that is not in flight (already settled, from another batch) is
//     ignored.
//   - When the connection fails, every message without an outcome is
//     unknown, with the reason.
//
// Not thread-safe; one per publish_batch() call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "broker/publisher.h"

namespace dc::broker {

class ConfirmTracker {
 public:
  // A batch of messages with these ids (as sent), none published yet; every
  // outcome starts as unknown.
  explicit ConfirmTracker(std::vector<std::string> message_ids);

  size_t size() const { return results_.size(); }
  const std::string& message_id(size_t index) const { return results_[index].message_id; }

  // Message `index` was published with delivery tag `tag`.
  void sent(size_t index, uint64_t tag);
  // Messages published and not yet acked or nacked.
  size_t in_flight() const { return in_flight_.size(); }

  void acked(uint64_t tag, bool multiple);
  void nacked(uint64_t tag, bool multiple, std::string_view detail);
  void returned(std::string_view message_id, std::string_view detail);

  // The connection failed or no confirm came in time: every message without
  // an outcome (in flight or never sent) is unknown, saying `why`. Nothing is
  // in flight afterwards.
  void give_up(std::string_view why);

  // One result per message, in batch order. Call once, at the end.
  std::vector<PublishResult> take_results() { return std::move(results_); }

 private:
  void settle(uint64_t tag, bool multiple, PublishOutcome outcome, std::string_view detail);

  std::vector<PublishResult> results_;
  std::vector<bool> settled_;             // acked or nacked
  std::vector<bool> returned_;            // basic.return seen: the outcome is final
  std::map<uint64_t, size_t> in_flight_;  // delivery tag -> index, ascending
};

}  // namespace dc::broker
