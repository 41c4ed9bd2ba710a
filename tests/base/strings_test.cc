#include "base/strings.h"

#include <gtest/gtest.h>

namespace dc {
namespace {

TEST(Strings, TrimRemovesAsciiWhiteSpaceAtBothEnds) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim("\v\f"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
  EXPECT_EQ(trim("\xc2\xa0x"), "\xc2\xa0x") << "non-ASCII bytes are not white space";
}

TEST(Strings, CaseChangesOnlyAsciiLetters) {
  EXPECT_EQ(to_lower("StArT-1_\xc3\x89"), "start-1_\xc3\x89");
  EXPECT_EQ(to_upper("rabbit_port"), "RABBIT_PORT");
  EXPECT_TRUE(equals_ignoring_case("Start", "START"));
  EXPECT_FALSE(equals_ignoring_case("Start", "STAR"));
  EXPECT_FALSE(equals_ignoring_case("[", "{")) << "only letters fold";
}

}  // namespace
}  // namespace dc
