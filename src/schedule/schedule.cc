#include "schedule/schedule.h"

#include <algorithm>
#include <cstdint>

#include "base/strings.h"

namespace dc {
namespace {

using std::chrono::seconds;

// True when `text` starts with the word "every" followed by whitespace or
// a digit (so "everyday" is not mistaken for it).
bool starts_with_every(std::string_view text) {
  static constexpr std::string_view kEvery = "every";
  if (text.size() < kEvery.size() || !equals_ignoring_case(text.substr(0, kEvery.size()), kEvery)) return false;
  return text.size() == kEvery.size() || is_space(text[kEvery.size()]) ||
         (text[kEvery.size()] >= '0' && text[kEvery.size()] <= '9');
}

Error every_error(std::string_view text, std::string_view what) {
  return Error(Errc::invalid_argument, "schedule '" + std::string(text) + "': " + std::string(what));
}

Result<seconds> parse_every(std::string_view text) {
  std::string_view rest = trim(text.substr(5));
  static constexpr std::string_view kUsage = "expected 'every <N>s', 'every <N>m' or 'every <N>h', e.g. 'every 30s'";
  size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  if (digits == 0) return every_error(text, kUsage);
  // Past 12 digits the value is over the maximum whatever the unit; stop
  // before it can overflow.
  if (digits > 12) return every_error(text, "the interval is longer than the maximum of 720h (30 days)");
  int64_t count = 0;
  for (size_t i = 0; i < digits; ++i) count = count * 10 + (rest[i] - '0');
  const std::string_view unit = trim(rest.substr(digits));
  int64_t unit_seconds = 0;
  if (unit.size() == 1) {
    switch (to_lower(unit[0])) {
      case 's':
        unit_seconds = 1;
        break;
      case 'm':
        unit_seconds = 60;
        break;
      case 'h':
        unit_seconds = 3600;
        break;
      default:
        break;
    }
  }
  if (unit_seconds == 0) return every_error(text, kUsage);
  if (count < 1) return every_error(text, "the interval must be at least 1 second");
  const seconds interval{count * unit_seconds};
  if (interval > kMaxScheduleInterval) {
    return every_error(text, "the interval is longer than the maximum of 720h (30 days); use a cron expression");
  }
  return interval;
}

}  // namespace

Result<Schedule> parse_schedule(std::string_view text) {
  const std::string_view body = trim(text);
  if (body.empty()) {
    return Error(Errc::invalid_argument, "schedule is empty; expected 'every <N>s|m|h' or a 5-field cron expression");
  }
  if (starts_with_every(body)) {
    auto interval = parse_every(body);
    if (!interval) return interval.error();
    return Schedule(*interval);
  }
  auto cron = CronExpression::parse(body);
  if (!cron) return cron.error();
  return Schedule(*cron);
}

std::optional<TimePoint> Schedule::next_run(std::optional<TimePoint> last_start, TimePoint now) const {
  if (kind() == Kind::every) {
    if (!last_start) return now;
    const auto next = next_after(*last_start);
    if (!next) return std::nullopt;
    return std::max(*next, now);
  }
  // "From the start of now's minute on" = strictly after the instant just
  // before it.
  const TimePoint after =
      last_start ? *last_start : std::chrono::floor<std::chrono::minutes>(now) - std::chrono::microseconds{1};
  const auto next = cron().next_after(after);
  if (!next) return std::nullopt;
  return std::max(*next, now);
}

bool Schedule::is_due(std::optional<TimePoint> last_start, TimePoint now) const {
  const auto next = next_run(last_start, now);
  return next && *next <= now;
}

std::optional<TimePoint> Schedule::next_after(TimePoint t) const {
  if (kind() == Kind::cron) return cron().next_after(t);
  // Saturate instead of overflowing near the end of TimePoint's range.
  if (t > TimePoint::max() - interval()) return std::nullopt;
  return t + interval();
}

std::string Schedule::to_string() const {
  if (kind() == Kind::cron) return cron().to_string();
  const int64_t total = interval().count();
  if (total % 3600 == 0) return "every " + std::to_string(total / 3600) + "h";
  if (total % 60 == 0) return "every " + std::to_string(total / 60) + "m";
  return "every " + std::to_string(total) + "s";
}

}  // namespace dc
