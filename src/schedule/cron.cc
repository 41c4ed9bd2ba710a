#include "schedule/cron.h"

#include <array>
#include <bit>
#include <chrono>
#include <string>
#include <vector>

#include "base/strings.h"

namespace dc {
namespace {

using std::chrono::days;
using std::chrono::minutes;
using std::chrono::sys_days;
using std::chrono::year_month_day;

struct FieldSpec {
  const char* name;  // as used in error messages
  int min;
  int max;                                   // largest accepted input value (day-of-week: 7, folded to 0)
  const std::array<const char*, 12>* names;  // value names; index 0 = `min`
  int name_count;
};

constexpr std::array<const char*, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 12> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr FieldSpec kMinute{"minute", 0, 59, nullptr, 0};
constexpr FieldSpec kHour{"hour", 0, 23, nullptr, 0};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, nullptr, 0};
constexpr FieldSpec kMonth{"month", 1, 12, &kMonthNames, 12};
constexpr FieldSpec kDayOfWeek{"day-of-week", 0, 7, &kDayNames, 7};

// Longest digit string accepted for a number, so parsing never overflows.
constexpr size_t kMaxDigits = 4;

// The answer of a search must stay within years the calendar code handles
// exactly; the search itself gives up after this many years (a valid
// expression matches within 28: the longest gap is a month's first day
// falling on one given weekday, across a non-leap century year).
constexpr int kMinYear = 1;
constexpr int kMaxYear = 9999;
constexpr int kSearchYears = 40;

struct ParsedField {
  uint64_t bits = 0;
  bool star = false;
};

Error field_error(const FieldSpec& spec, std::string_view what) {
  return Error(Errc::invalid_argument, std::string("cron ") + spec.name + " field " + std::string(what));
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// A number or (for month/day-of-week) a name; range-checked.
Result<int> parse_value(std::string_view token, const FieldSpec& spec) {
  if (token.empty()) return field_error(spec, "has an empty value");
  if (token[0] >= '0' && token[0] <= '9') {
    if (token.size() > kMaxDigits) {
      return field_error(
          spec, quoted(token) + " is out of range " + std::to_string(spec.min) + "-" + std::to_string(spec.max));
    }
    int value = 0;
    for (char c : token) {
      if (c < '0' || c > '9') return field_error(spec, quoted(token) + " is not a number");
      value = value * 10 + (c - '0');
    }
    if (value < spec.min || value > spec.max) {
      return field_error(
          spec, quoted(token) + " is out of range " + std::to_string(spec.min) + "-" + std::to_string(spec.max));
    }
    return value;
  }
  if (spec.names != nullptr) {
    for (int i = 0; i < spec.name_count; ++i) {
      if (equals_ignoring_case(token, (*spec.names)[static_cast<size_t>(i)])) return spec.min + i;
    }
    return field_error(spec, quoted(token) + " is not a number or a name (" + (*spec.names)[0] + "-" +
                                 (*spec.names)[static_cast<size_t>(spec.name_count - 1)] + ")");
  }
  return field_error(spec, quoted(token) + " is not a number");
}

Result<int> parse_step(std::string_view token, std::string_view item, const FieldSpec& spec) {
  // Day-of-week steps span 0-6 (7 is only an alias of 0).
  const int span = (&spec == &kDayOfWeek ? 6 : spec.max) - spec.min + 1;
  bool digits = !token.empty() && token.size() <= kMaxDigits;
  for (char c : token) digits = digits && c >= '0' && c <= '9';
  const int step = digits ? std::stoi(std::string(token)) : 0;
  if (!digits || step < 1 || step > span) {
    return field_error(spec,
                       "step " + quoted(token) + " in " + quoted(item) + " must be a number 1-" + std::to_string(span));
  }
  return step;
}

void set_range(uint64_t& bits, int first, int last, int step) {
  for (int v = first; v <= last; v += step) bits |= uint64_t{1} << v;
}

Result<ParsedField> parse_field(std::string_view text, const FieldSpec& spec) {
  ParsedField field;
  field.star = !text.empty() && text[0] == '*';
  const bool is_dow = &spec == &kDayOfWeek;
  size_t start = 0;
  bool several = text.find(',') != std::string_view::npos;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) return field_error(spec, quoted(text) + " has an empty list item");

    std::string_view range = item;
    std::optional<int> step;
    if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      auto parsed = parse_step(item.substr(slash + 1), item, spec);
      if (!parsed) return parsed.error();
      step = *parsed;
    }

    int first = 0;
    int last = 0;
    if (range == "*") {
      if (several) return field_error(spec, quoted(text) + ": '*' cannot be combined with other list items");
      first = spec.min;
      last = is_dow ? 6 : spec.max;
    } else {
      const size_t dash = range.find('-');
      auto low = parse_value(range.substr(0, dash), spec);
      if (!low) return low.error();
      first = *low;
      if (dash != std::string_view::npos) {
        auto high = parse_value(range.substr(dash + 1), spec);
        if (!high) return high.error();
        last = *high;
        if (last < first) {
          return field_error(spec, "range " + quoted(range) + " is reversed; write the smaller value first");
        }
      } else {
        // `a/n` runs from a to the field's maximum (day-of-week: 7, folded
        // to Sunday below, so "5/1" = "5-7"); a plain `a` is one value.
        last = step ? spec.max : first;
      }
    }
    set_range(field.bits, first, last, step.value_or(1));
    if (start > text.size()) break;
  }
  if (is_dow && (field.bits & (uint64_t{1} << 7)) != 0) {
    field.bits = (field.bits & ~(uint64_t{1} << 7)) | 1;  // 7 is Sunday, as 0 is
  }
  return field;
}

std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t begin = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > begin) fields.push_back(text.substr(begin, i - begin));
  }
  return fields;
}

std::string_view expand_macro(std::string_view text) {
  struct Macro {
    const char* name;
    const char* expression;
  };
  static constexpr Macro kMacros[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
  };
  for (const Macro& macro : kMacros) {
    if (equals_ignoring_case(text, macro.name)) return macro.expression;
  }
  return {};
}

int max_days_in_month(int month) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};  // February: leap years
  return kDays[month - 1];
}

bool has_bit(uint64_t bits, int value) { return (bits >> value) & 1; }

// The smallest value >= from whose bit is set, or -1.
int next_set(uint64_t bits, int from) {
  if (from >= 64) return -1;
  const uint64_t rest = bits >> from;
  return rest == 0 ? -1 : from + std::countr_zero(rest);
}

// Renders a set of values in canonical form (see CronExpression::to_string).
std::string render(uint64_t bits, int min, int max, bool star, bool star_allowed_without_flag) {
  const int span = max - min + 1;
  uint64_t full = 0;
  set_range(full, min, max, 1);
  std::vector<int> values;
  for (int v = min; v <= max; ++v) {
    if (has_bit(bits, v)) values.push_back(v);
  }
  if (star || star_allowed_without_flag) {
    if (bits == full) return "*";
    const int step = values.size() >= 2 ? values[1] - values[0] : span;
    uint64_t pattern = 0;
    set_range(pattern, min, max, step);
    if (values.front() == min && pattern == bits && (star || values.size() >= 2)) {
      return "*/" + std::to_string(step);
    }
  }
  std::string out;
  for (size_t i = 0; i < values.size();) {
    size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    if (!out.empty()) out += ',';
    if (j - i >= 2) {
      out += std::to_string(values[i]) + "-" + std::to_string(values[j]);
      i = j + 1;
    } else {
      out += std::to_string(values[i]);
      ++i;
    }
  }
  return out;
}

}  // namespace

Result<CronExpression> CronExpression::parse(std::string_view text) {
  std::string_view body = trim(text);
  if (!body.empty() && body.front() == '@') {
    const std::string_view expanded = expand_macro(body);
    if (expanded.empty()) {
      return Error(Errc::invalid_argument, "cron macro " + quoted(body) +
                                               " is not supported; use @yearly, @monthly, @weekly, @daily or @hourly");
    }
    body = expanded;
  }

  const std::vector<std::string_view> fields = split_fields(body);
  if (fields.size() != 5) {
    return Error(Errc::invalid_argument, "cron expression " + quoted(body) + " has " + std::to_string(fields.size()) +
                                             " fields; expected 5 (minute hour day-of-month month day-of-week)");
  }
  static constexpr const FieldSpec* kSpecs[] = {&kMinute, &kHour, &kDayOfMonth, &kMonth, &kDayOfWeek};
  ParsedField parsed[5];
  for (size_t i = 0; i < 5; ++i) {
    auto field = parse_field(fields[i], *kSpecs[i]);
    if (!field) return field.error();
    parsed[i] = *field;
  }

  CronExpression cron;
  cron.minutes_ = parsed[0].bits;
  cron.hours_ = parsed[1].bits;
  cron.days_of_month_ = parsed[2].bits;
  cron.day_of_month_star_ = parsed[2].star;
  cron.months_ = parsed[3].bits;
  cron.days_of_week_ = parsed[4].bits;
  cron.day_of_week_star_ = parsed[4].star;

  // When a day must match both day fields, it exists iff some allowed month
  // has some allowed day: over the 400-year Gregorian cycle every valid date
  // falls on every weekday. When either day field alone is enough, the
  // restricted day-of-week matches at least once a week.
  const bool both_required = cron.day_of_month_star_ || cron.day_of_week_star_;
  if (both_required) {
    bool possible = false;
    for (int month = 1; month <= 12 && !possible; ++month) {
      if (!has_bit(cron.months_, month)) continue;
      const int first_day = next_set(cron.days_of_month_, 1);
      possible = first_day != -1 && first_day <= max_days_in_month(month);
    }
    if (!possible) {
      return Error(Errc::invalid_argument,
                   "cron expression " + quoted(body) + " never matches: no allowed month has the allowed day-of-month");
    }
  }
  return cron;
}

bool CronExpression::day_matches(int day_of_month, int day_of_week) const {
  const bool dom = has_bit(days_of_month_, day_of_month);
  const bool dow = has_bit(days_of_week_, day_of_week);
  return (day_of_month_star_ || day_of_week_star_) ? (dom && dow) : (dom || dow);
}

bool CronExpression::matches(TimePoint t) const {
  const auto day = std::chrono::floor<days>(t);
  const year_month_day ymd{day};
  const auto minute_of_day = std::chrono::floor<minutes>(t - day).count();
  const int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  const int dow = static_cast<int>(std::chrono::weekday{day}.c_encoding());
  return has_bit(months_, month) && day_matches(static_cast<int>(static_cast<unsigned>(ymd.day())), dow) &&
         has_bit(hours_, static_cast<int>(minute_of_day / 60)) &&
         has_bit(minutes_, static_cast<int>(minute_of_day % 60));
}

std::optional<TimePoint> CronExpression::next_after(TimePoint t) const {
  static const sys_days kFirstDay{std::chrono::year{kMinYear} / 1 / 1};
  static const sys_days kEndDay{std::chrono::year{kMaxYear + 1} / 1 / 1};
  if (t < TimePoint{kFirstDay} || t >= TimePoint{kEndDay}) return std::nullopt;

  const auto start = std::chrono::floor<minutes>(t) + minutes{1};
  sys_days day = std::chrono::floor<days>(start);
  int minute_of_day = static_cast<int>((start - day).count());
  int hour = minute_of_day / 60;
  int minute = minute_of_day % 60;
  const sys_days give_up = std::min(kEndDay, day + days{366 * kSearchYears});

  while (day < give_up) {
    const year_month_day ymd{day};
    const int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    if (!has_bit(months_, month)) {
      day = sys_days{year_month_day{ymd.year() / ymd.month() / 1} + std::chrono::months{1}};
      hour = minute = 0;
      continue;
    }
    const int dow = static_cast<int>(std::chrono::weekday{day}.c_encoding());
    if (!day_matches(static_cast<int>(static_cast<unsigned>(ymd.day())), dow)) {
      day += days{1};
      hour = minute = 0;
      continue;
    }
    const int next_hour = next_set(hours_, hour);
    if (next_hour == -1 || next_hour > 23) {
      day += days{1};
      hour = minute = 0;
      continue;
    }
    if (next_hour != hour) {
      hour = next_hour;
      minute = 0;
    }
    const int next_minute = next_set(minutes_, minute);
    if (next_minute == -1 || next_minute > 59) {
      ++hour;
      minute = 0;
      if (hour == 24) {
        day += days{1};
        hour = 0;
      }
      continue;
    }
    return TimePoint{day} + std::chrono::hours{hour} + minutes{next_minute};
  }
  return std::nullopt;
}

std::string CronExpression::to_string() const {
  return render(minutes_, 0, 59, false, true) + " " + render(hours_, 0, 23, false, true) + " " +
         render(days_of_month_, 1, 31, day_of_month_star_, false) + " " + render(months_, 1, 12, false, true) + " " +
         render(days_of_week_, 0, 6, day_of_week_star_, false);
}

}  // namespace dc
