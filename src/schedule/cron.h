// A standard 5-field cron expression (minute hour day-of-month month
// day-of-week), evaluated in UTC at minute resolution. Pure: no I/O, no
// clock reads; every function is a function of its arguments, so a
// CronExpression is safe to share between threads.
//
// Grammar, per field: `*`, `*/n`, or a comma list of `v`, `a-b`, `a-b/n`
// and `a/n` (= a through the field's maximum, every n). Months accept
// JAN-DEC and days of week SUN-SAT (case-insensitive); day-of-week takes
// 0-7 with both 0 and 7 meaning Sunday. `*` may not be mixed into a list.
// The macros @yearly (@annually), @monthly, @weekly, @daily (@midnight)
// and @hourly stand for their usual expressions.
//
// Day rule (as in Vixie cron): when both day-of-month and day-of-week are
// restricted (neither field starts with `*`), a day matching either one is
// enough; otherwise a day must match both.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/time.h"

namespace dc {

class CronExpression {
 public:
  // Parses `text` (surrounding whitespace ignored, fields separated by any
  // run of spaces or tabs). On failure returns Errc::invalid_argument whose
  // message names the field and the value, e.g. "cron minute field '61' is
  // out of range 0-59". An expression that can never match any date (e.g.
  // "0 0 30 2 *", February 30) is rejected here too, so a parsed expression
  // always has a next run.
  static Result<CronExpression> parse(std::string_view text);

  // True when the UTC minute containing `t` matches.
  bool matches(TimePoint t) const;

  // The first minute boundary strictly after `t` that matches (seconds and
  // sub-seconds zero). nullopt only when the answer would fall outside the
  // years 1-9999 or `t` lies outside them.
  std::optional<TimePoint> next_after(TimePoint t) const;

  // Canonical text, a function of the meaning only: names become numbers,
  // day-of-week 7 becomes 0, a full minute/hour/month field is `*` and an
  // every-n pattern from the field's minimum is `*/n`, other sets are sorted
  // lists with runs of three or more as ranges ("0 9 * * 1-5"). The day
  // fields keep `*`/`*/n` exactly when they were written starting with `*`.
  // parse(to_string()) yields an equal expression.
  std::string to_string() const;

  friend bool operator==(const CronExpression&, const CronExpression&) = default;

 private:
  CronExpression() = default;
  bool day_matches(int day_of_month, int day_of_week) const;

  // Bit i set = value i allowed. Days of month use bits 1-31, months 1-12,
  // days of week 0-6 (0 = Sunday).
  uint64_t minutes_ = 0;
  uint64_t hours_ = 0;
  uint64_t days_of_month_ = 0;
  uint64_t months_ = 0;
  uint64_t days_of_week_ = 0;
  // Whether the day field was written starting with `*`: decides the day
  // rule, so it is part of the expression's meaning (and of equality).
  bool day_of_month_star_ = false;
  bool day_of_week_star_ = false;
};

}  // namespace dc
