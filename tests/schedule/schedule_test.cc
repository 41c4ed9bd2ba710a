// parse_schedule and Schedule::next_run: the two forms, their errors, and
// the manager's question "given the last start and now, when is it due?".
#include "schedule/schedule.h"

#include <gtest/gtest.h>

#include <string>

namespace dc {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TimePoint at(const char* iso) {
  auto t = parse_iso8601(iso);
  EXPECT_TRUE(t.has_value()) << iso;
  return t.value_or(TimePoint{});
}

Schedule schedule(const char* text) {
  auto parsed = parse_schedule(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message());
  return parsed.ok() ? *parsed : *parse_schedule("every 1s");
}

std::string parse_error(const char* text) {
  auto parsed = parse_schedule(text);
  EXPECT_FALSE(parsed.ok()) << text << " parsed as " << parsed->to_string();
  if (parsed.ok()) return {};
  EXPECT_EQ(parsed.error().code(), Errc::invalid_argument);
  return parsed.error().message();
}

std::string iso(std::optional<TimePoint> t) { return t ? format_iso8601(*t) : "never"; }

TEST(ParseSchedule, EveryForms) {
  const std::tuple<const char*, seconds, const char*> cases[] = {
      {"every 30s", seconds{30}, "every 30s"},     {"every 5m", minutes{5}, "every 5m"},
      {"every 2h", hours{2}, "every 2h"},          {"EVERY 5M", minutes{5}, "every 5m"},
      {"Every 1S", seconds{1}, "every 1s"},        {"  every   2 h  ", hours{2}, "every 2h"},
      {"\tevery\t45 s", seconds{45}, "every 45s"}, {"every60s", seconds{60}, "every 1m"},
      {"every 90m", minutes{90}, "every 90m"},     {"every 7200s", hours{2}, "every 2h"},
      {"every 0005m", minutes{5}, "every 5m"},     {"every 720h", hours{720}, "every 720h"},
  };
  for (const auto& [text, interval, canonical] : cases) {
    const Schedule parsed = schedule(text);
    ASSERT_EQ(parsed.kind(), Schedule::Kind::every) << text;
    EXPECT_EQ(parsed.interval(), interval) << text;
    EXPECT_EQ(parsed.to_string(), canonical) << text;
    EXPECT_EQ(*parse_schedule(parsed.to_string()), parsed) << text;
  }
}

TEST(ParseSchedule, EveryErrors) {
  EXPECT_EQ(parse_error("every 0s"), "schedule 'every 0s': the interval must be at least 1 second");
  const std::string usage = "expected 'every <N>s', 'every <N>m' or 'every <N>h', e.g. 'every 30s'";
  EXPECT_EQ(parse_error("every"), "schedule 'every': " + usage);
  EXPECT_EQ(parse_error("every 5"), "schedule 'every 5': " + usage);
  EXPECT_EQ(parse_error("every 5d"), "schedule 'every 5d': " + usage);
  EXPECT_EQ(parse_error("every 5 mins"), "schedule 'every 5 mins': " + usage);
  EXPECT_EQ(parse_error("every -5s"), "schedule 'every -5s': " + usage);
  EXPECT_EQ(parse_error("every 1.5h"), "schedule 'every 1.5h': " + usage);
  EXPECT_EQ(parse_error("every s"), "schedule 'every s': " + usage);
  EXPECT_NE(parse_error("every 721h").find("longer than the maximum of 720h"), std::string::npos);
  EXPECT_NE(parse_error("every 2592001s").find("longer than the maximum"), std::string::npos);
  EXPECT_NE(parse_error("every 99999999999999999999999s").find("longer than the maximum"), std::string::npos);
  EXPECT_EQ(parse_error(""), "schedule is empty; expected 'every <N>s|m|h' or a 5-field cron expression");
  EXPECT_EQ(parse_error(" \t "), "schedule is empty; expected 'every <N>s|m|h' or a 5-field cron expression");
}

TEST(ParseSchedule, CronForms) {
  const Schedule parsed = schedule("  0 9 * * MON-FRI ");
  ASSERT_EQ(parsed.kind(), Schedule::Kind::cron);
  EXPECT_EQ(parsed.to_string(), "0 9 * * 1-5");
  EXPECT_EQ(schedule("@hourly").to_string(), "0 * * * *");
  EXPECT_EQ(parse_error("61 * * * *"), "cron minute field '61' is out of range 0-59");
  EXPECT_NE(parse_error("everyday").find("has 1 fields"), std::string::npos);
  EXPECT_NE(schedule("0 0 * * *"), schedule("every 24h"));
}

TEST(ScheduleNextRun, EveryNeverStartedIsDueNow) {
  const Schedule every = schedule("every 30s");
  const TimePoint now = at("2025-01-15T10:30:15.5Z");
  EXPECT_EQ(every.next_run(std::nullopt, now), now);
  EXPECT_TRUE(every.is_due(std::nullopt, now));
}

TEST(ScheduleNextRun, EveryCountsFromTheLastStart) {
  const Schedule every = schedule("every 30s");
  const TimePoint now = at("2025-01-15T10:30:15Z");
  EXPECT_EQ(iso(every.next_run(now - seconds{10}, now)), "2025-01-15T10:30:35Z");
  EXPECT_FALSE(every.is_due(now - seconds{10}, now));
  EXPECT_TRUE(every.is_due(now - seconds{30}, now));
  // Overdue (the manager was down): due now, once.
  EXPECT_EQ(every.next_run(now - hours{5}, now), now);
  EXPECT_EQ(every.next_after(now), now + seconds{30});
}

TEST(ScheduleNextRun, CronNeverStartedRunsInTheCurrentMatchingMinute) {
  const Schedule daily = schedule("0 3 * * *");
  const TimePoint now = at("2025-01-15T03:00:20Z");
  EXPECT_EQ(daily.next_run(std::nullopt, now), now);
  EXPECT_TRUE(daily.is_due(std::nullopt, now));
  EXPECT_EQ(iso(daily.next_run(std::nullopt, at("2025-01-15T03:01:00Z"))), "2025-01-16T03:00:00Z");
  EXPECT_EQ(iso(daily.next_run(std::nullopt, at("2025-01-15T02:59:59Z"))), "2025-01-15T03:00:00Z");
  EXPECT_FALSE(daily.is_due(std::nullopt, at("2025-01-15T02:59:59Z")));
}

TEST(ScheduleNextRun, CronRunsOncePerMatchingMinute) {
  const Schedule daily = schedule("0 3 * * *");
  // Started yesterday at 03:00:05; at 03:00:10 today it is due again.
  EXPECT_TRUE(daily.is_due(at("2025-01-14T03:00:05Z"), at("2025-01-15T03:00:10Z")));
  // Started today at 03:00:05: not again in the same minute.
  EXPECT_EQ(iso(daily.next_run(at("2025-01-15T03:00:05Z"), at("2025-01-15T03:00:40Z"))), "2025-01-16T03:00:00Z");
  const Schedule minutely = schedule("* * * * *");
  EXPECT_FALSE(minutely.is_due(at("2025-01-15T03:00:00.5Z"), at("2025-01-15T03:00:59Z")));
  EXPECT_TRUE(minutely.is_due(at("2025-01-15T03:00:00.5Z"), at("2025-01-15T03:01:00Z")));
}

TEST(ScheduleNextRun, CronMissedRunsAreMadeUpOnce) {
  const Schedule daily = schedule("0 3 * * *");
  const TimePoint now = at("2025-01-15T10:00:00Z");
  EXPECT_EQ(daily.next_run(at("2025-01-12T03:00:01Z"), now), now);
  // Having started at 10:00, the next is tomorrow's slot.
  EXPECT_EQ(iso(daily.next_run(now, now + seconds{1})), "2025-01-16T03:00:00Z");
}

TEST(ScheduleNextRun, CronNextAfter) {
  EXPECT_EQ(iso(schedule("*/5 * * * *").next_after(at("2025-01-15T10:31:00Z"))), "2025-01-15T10:35:00Z");
  EXPECT_EQ(iso(schedule("0 0 1 1 *").next_after(at("9999-06-01T00:00:00Z"))), "never");
  EXPECT_EQ(schedule("0 0 1 1 *").next_run(std::nullopt, at("9999-06-01T00:00:00Z")), std::nullopt);
}

}  // namespace
}  // namespace dc
