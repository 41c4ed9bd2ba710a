#include "base/time.h"

#include <gtest/gtest.h>

namespace dc {
namespace {

TEST(Time, FormatsWholeSecondsWithoutFraction) {
  const auto t = parse_iso8601("2025-01-15T10:30:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_iso8601(*t), "2025-01-15T10:30:00Z");
}

TEST(Time, RoundTripsMicroseconds) {
  const auto t = parse_iso8601("2024-02-29T23:59:59.123456Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_iso8601(*t), "2024-02-29T23:59:59.123456Z");
  EXPECT_EQ(from_unix_micros(to_unix_micros(*t)), *t);
}

TEST(Time, AppliesOffsets) {
  EXPECT_EQ(parse_iso8601("2025-01-15T12:30:00+02:00"), parse_iso8601("2025-01-15T10:30:00Z"));
  EXPECT_EQ(parse_iso8601("2025-01-15T05:00:00-0530"), parse_iso8601("2025-01-15T10:30:00Z"));
  EXPECT_EQ(parse_iso8601("2025-01-15 10:30:00Z"), parse_iso8601("2025-01-15T10:30:00Z"));
}

TEST(Time, TruncatesFractionBeyondMicroseconds) {
  EXPECT_EQ(parse_iso8601("2025-01-15T10:30:00.1234567Z"), parse_iso8601("2025-01-15T10:30:00.123456Z"));
  EXPECT_EQ(parse_iso8601("2025-01-15T10:30:00.5Z"), parse_iso8601("2025-01-15T10:30:00.500000Z"));
}

TEST(Time, RejectsMalformed) {
  for (const char* bad : {"", "2025", "2025-01-15", "2025-01-15T10:30:00", "2025-13-01T00:00:00Z",
                          "2025-02-30T00:00:00Z", "2025-01-15T24:00:00Z", "2025-01-15T10:30:00Zjunk",
                          "2025-01-15T10:30:00.Z", "yesterday", "2025-01-15T10:30:00+25:00"}) {
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
  }
}

TEST(Time, AcceptsTheLenientFormsTheHeaderNames) {
  const auto reference = parse_iso8601("2025-01-15T10:30:00Z");
  ASSERT_TRUE(reference);
  EXPECT_EQ(parse_iso8601("2025-01-15t10:30:00z"), reference);
  EXPECT_EQ(parse_iso8601("2025-01-15T11:30:00+0100"), reference);
  EXPECT_EQ(parse_iso8601("2025-01-15T10:29:60Z"), reference) << "a leap second is the next minute's 0";
}

TEST(Time, EpochIsZero) { EXPECT_EQ(format_iso8601(from_unix_micros(0)), "1970-01-01T00:00:00Z"); }

// Issue 11, item 12: an AMQP timestamp is any unsigned 64-bit count of
// seconds; one beyond year 9999 is refused instead of overflowing.
TEST(Time, FromUnixSecondsRefusesWhatWouldOverflow) {
  EXPECT_EQ(from_unix_seconds(0), std::optional<TimePoint>(TimePoint{}));
  EXPECT_EQ(format_iso8601(*from_unix_seconds(1736937000)), "2025-01-15T10:30:00Z");
  EXPECT_EQ(format_iso8601(*from_unix_seconds(253402300799)), "9999-12-31T23:59:59Z");
  EXPECT_EQ(from_unix_seconds(253402300800), std::nullopt);
  EXPECT_EQ(from_unix_seconds(uint64_t{1} << 62), std::nullopt);
  EXPECT_EQ(from_unix_seconds(UINT64_MAX), std::nullopt);
}

}  // namespace

}  // namespace dc
