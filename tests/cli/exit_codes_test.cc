#include "cli/exit_codes.h"

#include <gtest/gtest.h>

namespace dc {
namespace {

TEST(ExitCodes, StayAsDocumented) {
  // SPEC §7's codes, and dcctl's own; docs/OPERATIONS.md and dcctl --help list them.
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitFailed, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitTimeout, 3);
  EXPECT_EQ(kExitNotRunning, 3);
  EXPECT_EQ(kExitBrokerUnavailable, 4);
  EXPECT_EQ(kExitUnknownApp, 4);
  EXPECT_EQ(kExitDatabaseUnavailable, 5);
}

TEST(ExitCodes, AnUnreachableServiceIsNotARefusedCommand) {
  EXPECT_EQ(exit_code_for(Error(Errc::unavailable, "connection refused")), kExitDatabaseUnavailable);
  EXPECT_EQ(exit_code_for(Error(Errc::timeout, "timed out")), kExitDatabaseUnavailable);
  EXPECT_EQ(exit_code_for(Error(Errc::invalid_argument, "bad")), kExitUsage);
  EXPECT_EQ(exit_code_for(Error(Errc::not_found, "unknown app")), kExitFailed);
  EXPECT_EQ(exit_code_for(Error(Errc::auth, "refused")), kExitFailed);
}

TEST(ExitCodes, WorstOfSeveralFollowsTheDocumentedOrder) {
  // 5 > 2 > 1 > 4 > 3 > 0, whichever comes first.
  const int order[] = {kExitOk, kExitTimeout, kExitUnknownApp, kExitFailed, kExitUsage, kExitDatabaseUnavailable};
  for (size_t i = 0; i < std::size(order); ++i) {
    for (size_t j = 0; j < std::size(order); ++j) {
      const int expected = order[std::max(i, j)];
      EXPECT_EQ(worst_exit_code(order[i], order[j]), expected) << order[i] << " vs " << order[j];
    }
  }
}

}  // namespace
}  // namespace dc
