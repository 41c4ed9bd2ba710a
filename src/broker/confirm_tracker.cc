#include "broker/confirm_tracker.h"

#include <iterator>

namespace dc::broker {

ConfirmTracker::ConfirmTracker(std::vector<std::string> message_ids)
    : results_(message_ids.size()), settled_(message_ids.size(), false), returned_(message_ids.size(), false) {
  for (size_t i = 0; i < message_ids.size(); ++i) {
    results_[i].message_id = std::move(message_ids[i]);
    results_[i].outcome = PublishOutcome::unknown;
  }
}

void ConfirmTracker::sent(size_t index, uint64_t tag) { in_flight_.emplace(tag, index); }

void ConfirmTracker::acked(uint64_t tag, bool multiple) { settle(tag, multiple, PublishOutcome::confirmed, ""); }

void ConfirmTracker::nacked(uint64_t tag, bool multiple, std::string_view detail) {
  settle(tag, multiple, PublishOutcome::nacked, detail);
}

void ConfirmTracker::settle(uint64_t tag, bool multiple, PublishOutcome outcome, std::string_view detail) {
  auto begin = multiple ? in_flight_.begin() : in_flight_.find(tag);
  if (begin == in_flight_.end()) return;
  const auto end = multiple ? in_flight_.upper_bound(tag) : std::next(begin);
  for (auto it = begin; it != end; ++it) {
    const size_t index = it->second;
    settled_[index] = true;
    if (returned_[index]) continue;  // the return, which preceded the ack, decided it
    results_[index].outcome = outcome;
    results_[index].detail = std::string(detail);
  }
  in_flight_.erase(begin, end);
}

void ConfirmTracker::returned(std::string_view message_id, std::string_view detail) {
  for (const auto& [tag, index] : in_flight_) {
    if (!returned_[index] && results_[index].message_id == message_id) {
      returned_[index] = true;
      results_[index].outcome = PublishOutcome::returned;
      results_[index].detail = std::string(detail);
      return;
    }
  }
}

void ConfirmTracker::give_up(std::string_view why) {
  // Acked, nacked and returned messages keep their outcome; the rest, in
  // flight or never sent, cannot be known.
  for (size_t i = 0; i < results_.size(); ++i) {
    if (settled_[i] || returned_[i]) continue;
    results_[i].outcome = PublishOutcome::unknown;
    results_[i].detail = std::string(why);
  }
  in_flight_.clear();
}

}  // namespace dc::broker
