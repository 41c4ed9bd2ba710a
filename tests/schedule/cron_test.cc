// CronExpression: grammar, error messages, canonical text, and next_after
// across minute/hour/day/month/year boundaries, leap years and the day rule.
#include "schedule/cron.h"

#include <gtest/gtest.h>

#include <string>

namespace dc {
namespace {

TimePoint at(const char* iso) {
  auto t = parse_iso8601(iso);
  EXPECT_TRUE(t.has_value()) << iso;
  return t.value_or(TimePoint{});
}

CronExpression cron(const char* text) {
  auto parsed = CronExpression::parse(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message());
  return parsed.ok() ? *parsed : *CronExpression::parse("* * * * *");
}

std::string parse_error(const char* text) {
  auto parsed = CronExpression::parse(text);
  EXPECT_FALSE(parsed.ok()) << text << " parsed as " << parsed->to_string();
  if (parsed.ok()) return {};
  EXPECT_EQ(parsed.error().code(), Errc::invalid_argument);
  return parsed.error().message();
}

std::string next(const char* expression, const char* after) {
  auto result = cron(expression).next_after(at(after));
  return result ? format_iso8601(*result) : "never";
}

TEST(CronParse, CanonicalForms) {
  const std::pair<const char*, const char*> cases[] = {
      {"* * * * *", "* * * * *"},
      {"  *\t*  * * *  ", "* * * * *"},
      {"*/15 * * * *", "*/15 * * * *"},
      {"0,15,30,45 * * * *", "*/15 * * * *"},
      {"0/20 * * * *", "*/20 * * * *"},
      {"5/20 * * * *", "5,25,45 * * * *"},
      {"0-30/10 * * * *", "0,10,20,30 * * * *"},
      {"1,2,3,10 * * * *", "1-3,10 * * * *"},
      {"3,1,2 * * * *", "1-3 * * * *"},
      {"0-59 0-23 * 1-12 *", "* * * * *"},
      {"0 9 * * 1-5", "0 9 * * 1-5"},
      {"0 9 * * MON-fri", "0 9 * * 1-5"},
      {"0 0 1 jan *", "0 0 1 1 *"},
      {"0 0 * JAN-MAR,Dec *", "0 0 * 1-3,12 *"},
      {"0 0 * * SUN", "0 0 * * 0"},
      {"0 0 * * 7", "0 0 * * 0"},
      {"0 0 * * 5-7", "0 0 * * 0,5,6"},
      {"0 0 * * 0-7", "0 0 * * 0-6"},
      {"0 0 * * 7/7", "0 0 * * 0"},      // found by the fuzzer: once an empty set
      {"0 0 * * 5/1", "0 0 * * 0,5,6"},  // a/n on day-of-week runs through 7 (Sunday)
      {"0 0 1-31 * *", "0 0 1-31 * *"},  // restricted, unlike `*`: changes the day rule
      {"0 0 */2 * *", "0 0 */2 * *"},
      {"0 0 */31 * *", "0 0 */31 * *"},
      {"0 0 * * */7", "0 0 * * */7"},
      {"07 08 * * *", "7 8 * * *"},
      {"@daily", "0 0 * * *"},
      {"@MIDNIGHT", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
      {"@weekly", "0 0 * * 0"},
      {"@monthly", "0 0 1 * *"},
      {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
  };
  for (const auto& [text, canonical] : cases) {
    const CronExpression parsed = cron(text);
    EXPECT_EQ(parsed.to_string(), canonical) << text;
    auto again = CronExpression::parse(parsed.to_string());
    ASSERT_TRUE(again.ok()) << canonical;
    EXPECT_EQ(*again, parsed) << text << " does not round-trip through " << canonical;
  }
}

TEST(CronParse, ErrorsNameTheFieldAndValue) {
  EXPECT_EQ(parse_error("61 * * * *"), "cron minute field '61' is out of range 0-59");
  EXPECT_EQ(parse_error("* 24 * * *"), "cron hour field '24' is out of range 0-23");
  EXPECT_EQ(parse_error("* * 0 * *"), "cron day-of-month field '0' is out of range 1-31");
  EXPECT_EQ(parse_error("* * 32 * *"), "cron day-of-month field '32' is out of range 1-31");
  EXPECT_EQ(parse_error("* * * 13 *"), "cron month field '13' is out of range 1-12");
  EXPECT_EQ(parse_error("* * * * 8"), "cron day-of-week field '8' is out of range 0-7");
  EXPECT_EQ(parse_error("99999999 * * * *"), "cron minute field '99999999' is out of range 0-59");
  EXPECT_EQ(parse_error("* * * foo *"), "cron month field 'foo' is not a number or a name (jan-dec)");
  EXPECT_EQ(parse_error("* * * * funday"), "cron day-of-week field 'funday' is not a number or a name (sun-sat)");
  EXPECT_EQ(parse_error("mon * * * *"), "cron minute field 'mon' is not a number");
  EXPECT_EQ(parse_error("5x * * * *"), "cron minute field '5x' is not a number");
  EXPECT_EQ(parse_error("*/0 * * * *"), "cron minute field step '0' in '*/0' must be a number 1-60");
  EXPECT_EQ(parse_error("*/61 * * * *"), "cron minute field step '61' in '*/61' must be a number 1-60");
  EXPECT_EQ(parse_error("1-5/ * * * *"), "cron minute field step '' in '1-5/' must be a number 1-60");
  EXPECT_EQ(parse_error("5-1 * * * *"), "cron minute field range '5-1' is reversed; write the smaller value first");
  EXPECT_EQ(parse_error("1,,2 * * * *"), "cron minute field '1,,2' has an empty list item");
  EXPECT_EQ(parse_error("1, * * * *"), "cron minute field '1,' has an empty list item");
  EXPECT_EQ(parse_error("*,5 * * * *"), "cron minute field '*,5': '*' cannot be combined with other list items");
  EXPECT_EQ(parse_error("-5 * * * *"), "cron minute field has an empty value");
  EXPECT_EQ(parse_error("* * * *"),
            "cron expression '* * * *' has 4 fields; expected 5 (minute hour day-of-month month day-of-week)");
  EXPECT_EQ(parse_error("* * * * * *"),
            "cron expression '* * * * * *' has 6 fields; expected 5 (minute hour day-of-month month day-of-week)");
  EXPECT_NE(parse_error("@reboot").find("not supported"), std::string::npos);
}

TEST(CronParse, ImpossibleDatesAreRejected) {
  EXPECT_NE(parse_error("0 0 30 2 *").find("never matches"), std::string::npos);
  EXPECT_NE(parse_error("0 0 31 4,6,9,11 *").find("never matches"), std::string::npos);
  EXPECT_NE(parse_error("0 0 30-31 feb *").find("never matches"), std::string::npos);
  // February 29 exists in leap years; April 31 with a weekday matches that
  // weekday under the either-day rule.
  EXPECT_TRUE(CronExpression::parse("0 0 29 2 *").ok());
  EXPECT_TRUE(CronExpression::parse("0 0 31 4 1").ok());
  EXPECT_TRUE(CronExpression::parse("0 0 31 2,3 *").ok());
}

TEST(CronNext, IsStrictlyAfterAndOnMinuteBoundaries) {
  EXPECT_EQ(next("* * * * *", "2025-01-15T10:30:15.250Z"), "2025-01-15T10:31:00Z");
  EXPECT_EQ(next("* * * * *", "2025-01-15T10:30:00Z"), "2025-01-15T10:31:00Z");
  EXPECT_EQ(next("* * * * *", "2025-01-15T10:30:59.999999Z"), "2025-01-15T10:31:00Z");
  EXPECT_EQ(next("*/15 * * * *", "2025-01-15T10:46:00Z"), "2025-01-15T11:00:00Z");
  EXPECT_EQ(next("*/15 * * * *", "2025-01-15T10:44:59Z"), "2025-01-15T10:45:00Z");
}

TEST(CronNext, CrossesHourDayMonthAndYearBoundaries) {
  EXPECT_EQ(next("0 * * * *", "2025-01-15T10:00:00Z"), "2025-01-15T11:00:00Z");
  EXPECT_EQ(next("59 23 * * *", "2025-01-15T23:59:00Z"), "2025-01-16T23:59:00Z");
  EXPECT_EQ(next("0 * * * *", "2024-12-31T23:30:00Z"), "2025-01-01T00:00:00Z");
  EXPECT_EQ(next("0 0 1 * *", "2025-01-31T12:00:00Z"), "2025-02-01T00:00:00Z");
  EXPECT_EQ(next("0 12 31 12 *", "2025-12-31T12:00:00Z"), "2026-12-31T12:00:00Z");
  EXPECT_EQ(next("0 0 31 * *", "2025-04-01T00:00:00Z"), "2025-05-31T00:00:00Z");
  EXPECT_EQ(next("30 6 * * *", "2025-02-28T07:00:00Z"), "2025-03-01T06:30:00Z");
  EXPECT_EQ(next("15 10 * * *", "2025-01-15T10:14:00Z"), "2025-01-15T10:15:00Z");
}

TEST(CronNext, LeapYears) {
  EXPECT_EQ(next("0 0 29 2 *", "2025-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(next("0 0 29 2 *", "2024-02-28T23:59:00Z"), "2024-02-29T00:00:00Z");
  // 2100 is not a leap year, 2000 was.
  EXPECT_EQ(next("0 0 29 2 *", "2096-03-01T00:00:00Z"), "2104-02-29T00:00:00Z");
  EXPECT_EQ(next("0 0 29 2 *", "1999-01-01T00:00:00Z"), "2000-02-29T00:00:00Z");
  EXPECT_EQ(next("0 0 * 3 *", "2024-02-28T12:00:00Z"), "2024-03-01T00:00:00Z");
  EXPECT_EQ(next("0 0 1 3 *", "2024-02-29T00:00:00Z"), "2024-03-01T00:00:00Z");
}

TEST(CronNext, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // 2025-01-01 is a Wednesday. "The 13th or any Friday".
  EXPECT_EQ(next("0 0 13 * 5", "2025-01-01T00:00:00Z"), "2025-01-03T00:00:00Z");
  EXPECT_EQ(next("0 0 13 * fri", "2025-01-11T00:00:00Z"), "2025-01-13T00:00:00Z");
  EXPECT_EQ(next("0 0 13 * 5", "2025-01-13T00:00:00Z"), "2025-01-17T00:00:00Z");
  // Restricted "1-31" is not `*`: the either-day rule applies, so every day.
  EXPECT_EQ(next("0 0 1-31 * 1", "2025-01-01T00:00:00Z"), "2025-01-02T00:00:00Z");
}

TEST(CronNext, BothDayFieldsRequiredWhenOneStartsWithStar) {
  // Day-of-month `*`: Mondays only. 2025-01-06 is the first Monday.
  EXPECT_EQ(next("0 0 * * 1", "2025-01-01T00:00:00Z"), "2025-01-06T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 7", "2025-01-01T00:00:00Z"), "2025-01-05T00:00:00Z");
  // `*/2` counts as `*`: odd days that are Mondays (Jan 6 is even, Jan 13 odd).
  EXPECT_EQ(next("0 0 */2 * 1", "2025-01-01T00:00:00Z"), "2025-01-13T00:00:00Z");
  // Day-of-week `*`: the 13th only.
  EXPECT_EQ(next("0 0 13 * *", "2025-01-01T00:00:00Z"), "2025-01-13T00:00:00Z");
  // The 1st of a month that is a Sunday: next after 2025-01-01 is 2025-06-01.
  EXPECT_EQ(next("0 0 */31 * 0", "2025-01-01T00:00:00Z"), "2025-06-01T00:00:00Z");
}

TEST(CronNext, StepsRangesAndNames) {
  EXPECT_EQ(next("10-20/5 8-10 * * *", "2025-01-01T08:21:00Z"), "2025-01-01T09:10:00Z");
  EXPECT_EQ(next("10-20/5 8-10 * * *", "2025-01-01T10:20:00Z"), "2025-01-02T08:10:00Z");
  EXPECT_EQ(next("0 */6 * * *", "2025-01-01T13:00:00Z"), "2025-01-01T18:00:00Z");
  EXPECT_EQ(next("30 6 * feb sat", "2025-01-01T00:00:00Z"), "2025-02-01T06:30:00Z");
  EXPECT_EQ(next("0 9 * * mon-fri", "2025-01-03T09:00:00Z"), "2025-01-06T09:00:00Z");  // Friday -> Monday
  EXPECT_EQ(next("0 0 1 */3 *", "2025-02-10T00:00:00Z"), "2025-04-01T00:00:00Z");
  EXPECT_EQ(next("0 0 1 jan,jul *", "2025-07-01T00:00:00Z"), "2026-01-01T00:00:00Z");
}

TEST(CronNext, NeverOutsideTheSupportedYears) {
  EXPECT_EQ(next("0 0 1 1 *", "9999-06-01T00:00:00Z"), "never");
  EXPECT_EQ(next("* * * * *", "9999-12-31T23:58:00Z"), "9999-12-31T23:59:00Z");
  EXPECT_EQ(next("* * * * *", "9999-12-31T23:59:00Z"), "never");
}

TEST(CronMatches, ChecksEachField) {
  const CronExpression workdays = cron("30 9 * * 1-5");
  EXPECT_TRUE(workdays.matches(at("2025-01-15T09:30:00Z")));  // Wednesday
  EXPECT_TRUE(workdays.matches(at("2025-01-15T09:30:59Z")));
  EXPECT_FALSE(workdays.matches(at("2025-01-15T09:31:00Z")));
  EXPECT_FALSE(workdays.matches(at("2025-01-15T10:30:00Z")));
  EXPECT_FALSE(workdays.matches(at("2025-01-18T09:30:00Z")));  // Saturday
  EXPECT_FALSE(cron("* * * feb *").matches(at("2025-01-15T09:30:00Z")));
}

// next_after agrees with a minute-by-minute scan using matches(): nothing
// matches between t and the answer, and the answer matches.
TEST(CronNext, AgreesWithBruteForceScan) {
  const char* expressions[] = {"*/7 */5 * * *",   "0 0 13 * 5", "15 3 */3 * 1-5",  "0 12 * * 0,6",
                               "45 23 28-31 * *", "0 0 1 * 1",  "5-10 1,13 2 * *", "*/20 * * 2 *"};
  for (const char* text : expressions) {
    const CronExpression expression = cron(text);
    TimePoint t = at("2024-02-25T22:17:30Z");
    for (int run = 0; run < 12; ++run) {
      auto found = expression.next_after(t);
      ASSERT_TRUE(found.has_value()) << text;
      ASSERT_TRUE(expression.matches(*found)) << text << " at " << format_iso8601(*found);
      for (TimePoint m = std::chrono::floor<std::chrono::minutes>(t) + std::chrono::minutes{1}; m < *found;
           m += std::chrono::minutes{1}) {
        ASSERT_FALSE(expression.matches(m)) << text << ": skipped " << format_iso8601(m);
      }
      t = *found;
    }
  }
}

}  // namespace
}  // namespace dc
