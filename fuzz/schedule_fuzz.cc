// libFuzzer target: parse_schedule must never crash, hang or trip a
// sanitizer; whatever it accepts must round-trip through to_string() and
// answer next_after/next_run consistently: strictly later than the given
// time, on a minute boundary that matches (cron), and stable under a
// second call. Links dc_schedule (and dc_base).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "schedule/schedule.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Schedules are short; past this the parser's behaviour cannot change.
  if (size > 512) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = dc::parse_schedule(text);
  if (!parsed.ok()) {
    check(!parsed.error().message().empty());  // every rejection says why
    return 0;
  }
  const dc::Schedule& schedule = *parsed;

  auto again = dc::parse_schedule(schedule.to_string());
  check(again.ok() && *again == schedule);

  // Reference instants: fixed ones around calendar edges, plus one taken
  // from the input so the fuzzer can steer it.
  int64_t steer = 0;
  std::memcpy(&steer, data, std::min(size, sizeof steer));
  const int64_t span = int64_t{400} * 366 * 86400 * 1'000'000;  // ~400 years in microseconds
  const int64_t instants[] = {
      1'700'000'000'000'000,         // 2023-11-14
      951'782'400'000'000,           // 2000-02-29T00:00:00Z
      4'102'444'799'000'000,         // 2099-12-31T23:59:59Z
      253'402'300'740'000'000,       // 9999-12-31T23:59:00Z
      -62'135'596'800'000'000,       // 0001-01-01T00:00:00Z
      (steer % span + span) % span,  // somewhere in 1970-2370
  };
  for (int64_t micros : instants) {
    const dc::TimePoint t = dc::from_unix_micros(micros);
    const auto next = schedule.next_after(t);
    if (next) {
      check(*next > t);
      check(schedule.next_after(t) == next);
      if (schedule.kind() == dc::Schedule::Kind::cron) {
        check(schedule.cron().matches(*next));
        check(std::chrono::floor<std::chrono::minutes>(*next) == *next);
      } else {
        check(*next - t == schedule.interval());
      }
    }
    const auto due = schedule.next_run(std::nullopt, t);
    if (due) check(*due >= t);
    const auto after_start = schedule.next_run(t, t);
    if (after_start) check(*after_start > t);
  }
  return 0;
}
