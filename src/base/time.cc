#include "base/time.h"

#include <charconv>
#include <cstdio>

namespace dc {

TimePoint now() { return std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now()); }

int64_t to_unix_micros(TimePoint t) { return t.time_since_epoch().count(); }

TimePoint from_unix_micros(int64_t micros) { return TimePoint(std::chrono::microseconds(micros)); }

std::optional<TimePoint> from_unix_seconds(uint64_t seconds) {
  constexpr uint64_t kEndOfYear9999 = 253402300799;  // 9999-12-31T23:59:59Z
  if (seconds > kEndOfYear9999) return std::nullopt;
  return TimePoint(std::chrono::seconds(static_cast<int64_t>(seconds)));
}

std::string format_iso8601(TimePoint t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const auto since_midnight = t - day;
  const hh_mm_ss hms{duration_cast<microseconds>(since_midnight)};
  char buf[40];
  const long long micros = hms.subseconds().count();
  if (micros == 0) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<long long>(hms.hours().count()), static_cast<long long>(hms.minutes().count()),
                  static_cast<long long>(hms.seconds().count()));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<long long>(hms.hours().count()), static_cast<long long>(hms.minutes().count()),
                  static_cast<long long>(hms.seconds().count()), micros);
  }
  return buf;
}

namespace {

// Reads exactly `width` digits at `pos`.
bool read_digits(std::string_view text, size_t& pos, size_t width, int& out) {
  if (pos + width > text.size()) return false;
  int value = 0;
  for (size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  out = value;
  return true;
}

bool expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<TimePoint> parse_iso8601(std::string_view text) {
  using namespace std::chrono;
  size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!read_digits(text, pos, 4, y) || !expect(text, pos, '-') || !read_digits(text, pos, 2, mo) ||
      !expect(text, pos, '-') || !read_digits(text, pos, 2, d))
    return std::nullopt;
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!read_digits(text, pos, 2, h) || !expect(text, pos, ':') || !read_digits(text, pos, 2, mi) ||
      !expect(text, pos, ':') || !read_digits(text, pos, 2, s))
    return std::nullopt;
  long long micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!read_digits(text, pos, 2, oh)) return std::nullopt;
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (!read_digits(text, pos, 2, om)) return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;  // a timestamp without a zone is ambiguous
  }
  if (pos != text.size()) return std::nullopt;
  if (mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  const auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} + microseconds{micros} - minutes{offset_minutes};
  return time_point_cast<microseconds>(tp);
}

}  // namespace dc
