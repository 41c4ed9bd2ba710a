// App schedules (SPEC §6.6): the text in `apps.schedule`, parsed once and
// asked "when is this app next due?". Two forms:
//   every <N>s|m|h   a fixed interval from the app's last start
//                    ("every 30s", "EVERY 5 m", "every 2h"; N >= 1, at most
//                    30 days; case-insensitive, whitespace-tolerant)
//   cron expression  5 fields in UTC, see schedule/cron.h ("*/5 * * * *",
//                    "0 3 * * MON-FRI", "@daily")
// Pure: no clock reads, no I/O; a Schedule is an immutable value, safe to
// share between threads.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/result.h"
#include "base/time.h"
#include "schedule/cron.h"

namespace dc {

// The largest accepted `every` interval; anything longer is a calendar
// schedule and reads better as a cron expression.
inline constexpr std::chrono::seconds kMaxScheduleInterval = std::chrono::hours(24 * 30);

class Schedule {
 public:
  enum class Kind { every, cron };

  Kind kind() const { return std::holds_alternative<std::chrono::seconds>(rule_) ? Kind::every : Kind::cron; }
  // The interval of an `every` schedule; requires kind() == Kind::every.
  std::chrono::seconds interval() const { return std::get<std::chrono::seconds>(rule_); }
  // The expression of a cron schedule; requires kind() == Kind::cron.
  const CronExpression& cron() const { return std::get<CronExpression>(rule_); }

  // The answer the manager needs: given when the app last started (nullopt
  // = never) and the current time, when is it next due? The result is never
  // earlier than `now`; the app is due when the result is <= now (see
  // is_due). nullopt means never (a cron answer beyond the year 9999).
  //   every N: never started -> now; else max(last_start + N, now).
  //   cron:    never started -> the first matching minute from the start of
  //            now's minute on (so a manager checking at 03:00:20 still runs
  //            a "0 3 * * *" app); else the first matching minute strictly
  //            after last_start, clamped to now. A run missed while the
  //            manager was down is therefore made up once, not once per
  //            missed slot.
  std::optional<TimePoint> next_run(std::optional<TimePoint> last_start, TimePoint now) const;

  // next_run(last_start, now) <= now.
  bool is_due(std::optional<TimePoint> last_start, TimePoint now) const;

  // The next run strictly after `t` if a run started at `t`: t + N for
  // `every`; for cron the first matching minute boundary after t. nullopt
  // only when that falls outside the years 1-9999.
  std::optional<TimePoint> next_after(TimePoint t) const;

  // Canonical text for display and storage: "every 30s", "every 5m",
  // "every 2h" (the largest unit that divides the interval exactly), or
  // CronExpression::to_string(). parse_schedule(to_string()) == *this.
  std::string to_string() const;

  friend bool operator==(const Schedule&, const Schedule&) = default;

 private:
  friend Result<Schedule> parse_schedule(std::string_view text);
  explicit Schedule(std::variant<std::chrono::seconds, CronExpression> rule) : rule_(rule) {}

  std::variant<std::chrono::seconds, CronExpression> rule_;
};

// Parses a schedule. Errors are Errc::invalid_argument with a message that
// names the problem and the value, e.g. "schedule 'every 0s': the interval
// must be at least 1 second" or "cron minute field '61' is out of range
// 0-59".
Result<Schedule> parse_schedule(std::string_view text);

}  // namespace dc
