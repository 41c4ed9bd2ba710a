// plan_acks: a multiple-ack must never cover a delivery still pending.
#include <gtest/gtest.h>

#include "worker/queue_consumer.h"

namespace dc::worker {
namespace {

TEST(AckPlanTest, OneMultipleAckBelowTheLowestPendingDelivery) {
  AckPlan plan = plan_acks({7, 9}, {3, 1, 2, 8, 10});
  EXPECT_EQ(plan.up_to, 3u) << "1, 2, 3 in one frame";
  EXPECT_EQ(plan.singles, (std::vector<uint64_t>{8, 10})) << "above 7, which still runs";
}

TEST(AckPlanTest, NothingPendingAcksEverythingAtOnce) {
  AckPlan plan = plan_acks({}, {5, 4});
  EXPECT_EQ(plan.up_to, 5u);
  EXPECT_TRUE(plan.singles.empty());
}

TEST(AckPlanTest, AllAboveThePendingOneGoSingly) {
  AckPlan plan = plan_acks({1}, {2, 3});
  EXPECT_FALSE(plan.up_to.has_value());
  EXPECT_EQ(plan.singles, (std::vector<uint64_t>{2, 3}));
}

}  // namespace
}  // namespace dc::worker
