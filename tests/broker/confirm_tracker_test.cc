// The publisher-confirm rules (broker/confirm_tracker.h), driven frame by
// frame as the broker would send them; no broker needed.
#include "broker/confirm_tracker.h"

#include <gtest/gtest.h>

namespace dc::broker {
namespace {

std::vector<PublishOutcome> outcomes(ConfirmTracker& tracker) {
  std::vector<PublishOutcome> out;
  for (const auto& r : tracker.take_results()) out.push_back(r.outcome);
  return out;
}

using O = PublishOutcome;

// A batch of `n` messages "m0", "m1", ... all sent, tags first_tag.. .
ConfirmTracker sent_batch(size_t n, uint64_t first_tag = 1) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back("m" + std::to_string(i));
  ConfirmTracker tracker(std::move(ids));
  for (size_t i = 0; i < n; ++i) tracker.sent(i, first_tag + i);
  return tracker;
}

TEST(ConfirmTracker, EachAckConfirmsItsMessage) {
  auto t = sent_batch(3);
  EXPECT_EQ(t.in_flight(), 3u);
  t.acked(2, false);
  t.acked(1, false);
  EXPECT_EQ(t.in_flight(), 1u);
  t.acked(3, false);
  EXPECT_EQ(t.in_flight(), 0u);
  EXPECT_EQ(outcomes(t), (std::vector<O>{O::confirmed, O::confirmed, O::confirmed}));
}

TEST(ConfirmTracker, MultipleAckSettlesEveryTagUpToItAndNoLater) {
  auto t = sent_batch(5);
  t.acked(3, true);
  EXPECT_EQ(t.in_flight(), 2u);
  t.nacked(5, false, "refused");
  EXPECT_EQ(t.in_flight(), 1u);
  t.give_up("connection lost");
  const auto results = t.take_results();
  EXPECT_EQ(results[0].outcome, O::confirmed);
  EXPECT_EQ(results[2].outcome, O::confirmed);
  EXPECT_EQ(results[3].outcome, O::unknown);
  EXPECT_EQ(results[3].detail, "connection lost");
  EXPECT_EQ(results[4].outcome, O::nacked);
  EXPECT_EQ(results[4].detail, "refused");
}

TEST(ConfirmTracker, MultipleNackRefusesTheWholeRange) {
  auto t = sent_batch(3);
  t.acked(1, false);
  t.nacked(3, true, "queue full");
  EXPECT_EQ(outcomes(t), (std::vector<O>{O::confirmed, O::nacked, O::nacked}));
}

TEST(ConfirmTracker, TagsContinueAcrossBatchesOnOneChannel) {
  auto t = sent_batch(2, /*first_tag=*/41);
  t.acked(40, true);  // a tag of an earlier batch: nothing of ours
  EXPECT_EQ(t.in_flight(), 2u);
  t.acked(42, true);
  EXPECT_EQ(outcomes(t), (std::vector<O>{O::confirmed, O::confirmed}));
}

TEST(ConfirmTracker, AckOfAnUnknownOrSettledTagIsIgnored) {
  auto t = sent_batch(2);
  t.nacked(1, false, "no");
  t.acked(1, false);  // already settled
  t.acked(9, false);  // never sent
  EXPECT_EQ(t.in_flight(), 1u);
  t.acked(2, false);
  EXPECT_EQ(outcomes(t), (std::vector<O>{O::nacked, O::confirmed}));
}

TEST(ConfirmTracker, AReturnWinsOverTheAckThatFollowsIt) {
  auto t = sent_batch(3);
  t.returned("m1", "312 NO_ROUTE");
  EXPECT_EQ(t.in_flight(), 3u) << "a returned message still waits for its ack";
  t.acked(3, true);
  const auto results = t.take_results();
  EXPECT_EQ(results[0].outcome, O::confirmed);
  EXPECT_EQ(results[1].outcome, O::returned);
  EXPECT_EQ(results[1].detail, "312 NO_ROUTE");
  EXPECT_EQ(results[2].outcome, O::confirmed);
}

TEST(ConfirmTracker, AReturnMatchesTheOldestUnreturnedMessageWithItsId) {
  ConfirmTracker t({"same", "same", "other"});
  t.sent(0, 1);
  t.sent(1, 2);
  t.sent(2, 3);
  t.acked(1, false);
  t.returned("same", "first");   // m0 is settled: the return is m1's
  t.returned("same", "second");  // no unreturned message with that id left
  t.returned("nobody", "x");     // not in flight: ignored
  t.acked(3, true);
  const auto results = t.take_results();
  EXPECT_EQ(results[0].outcome, O::confirmed);
  EXPECT_EQ(results[1].outcome, O::returned);
  EXPECT_EQ(results[1].detail, "first");
  EXPECT_EQ(results[2].outcome, O::confirmed);
}

TEST(ConfirmTracker, GivingUpMakesEveryMessageWithoutAnOutcomeUnknown) {
  ConfirmTracker t({"a", "b", "c", "d"});
  t.sent(0, 1);
  t.sent(1, 2);
  t.sent(2, 3);  // "d" is never sent
  t.acked(1, false);
  t.returned("b", "312 NO_ROUTE");
  t.give_up("broker gone");
  EXPECT_EQ(t.in_flight(), 0u);
  const auto results = t.take_results();
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].outcome, O::confirmed);
  EXPECT_EQ(results[1].outcome, O::returned) << "a return is final even without its ack";
  EXPECT_EQ(results[2].outcome, O::unknown);
  EXPECT_EQ(results[2].detail, "broker gone");
  EXPECT_EQ(results[3].outcome, O::unknown);
  EXPECT_EQ(results[3].detail, "broker gone");
  EXPECT_EQ(results[3].message_id, "d");
}

TEST(ConfirmTracker, NothingIsConfirmedWithoutAnAck) {
  ConfirmTracker t({"a"});
  EXPECT_EQ(t.message_id(0), "a");
  const auto results = t.take_results();
  EXPECT_EQ(results[0].outcome, O::unknown);
  EXPECT_FALSE(results[0].confirmed());
}

}  // namespace
}  // namespace dc::broker
