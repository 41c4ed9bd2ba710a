#include "base/result.h"

#include <gtest/gtest.h>

#include <memory>

namespace dc {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) return Error(Errc::invalid_argument, std::to_string(x) + " is odd");
  return x / 2;
}

TEST(Result, HoldsValueOrError) {
  auto good = half(4);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
  EXPECT_EQ(bad.error().message(), "3 is odd");
}

TEST(Result, MovesOnlyValues) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  auto p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Result, StatusAndContext) {
  Status fine;
  EXPECT_TRUE(fine.ok());
  Status failed = Error(Errc::unavailable, "connection refused").with_context("broker 127.0.0.1:5672");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message(), "broker 127.0.0.1:5672: connection refused");
  EXPECT_TRUE(failed.error().retryable());
  EXPECT_FALSE(Error(Errc::auth, "x").retryable());
}

}  // namespace
}  // namespace dc
