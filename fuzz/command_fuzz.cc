// libFuzzer target: parse_command must never crash, hang or trip a sanitizer,
// and whatever it accepts must survive a serialize/parse round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/command.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const dc::TimePoint received = dc::from_unix_micros(1'700'000'000'000'000);
  dc::MessageProperties props;
  if (size > 0 && data[0] % 2 == 0) props.message_id = "0b7e2a3c-1111-4222-8333-444455556666";
  auto parsed = dc::parse_command(body, props, received);
  if (!parsed.ok()) {
    if (parsed.error().message().empty()) std::abort();  // every rejection says why
    return 0;
  }
  const std::string again = dc::serialize_command_body(*parsed);
  dc::MessageProperties same_id;
  same_id.message_id = parsed->id;
  auto reparsed = dc::parse_command(again, same_id, received);
  if (!reparsed.ok() || reparsed->app_id != parsed->app_id || reparsed->name != parsed->name) std::abort();
  return 0;
}
