// libFuzzer target: decode_task_message must never crash, hang or trip a
// sanitizer; every rejection says why; whatever it accepts re-encodes to a
// body that decodes to the same message and encodes to the same bytes (the
// round trip Dramatiq bodies make through dc-worker), and Dramatiq's rules
// (effective options, failure decision, pipeline step) accept it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tasks/decisions.h"
#include "tasks/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto decoded = dc::tasks::decode_task_message(body, 65536);
  if (!decoded.ok()) {
    if (decoded.error().message().empty()) std::abort();
    return 0;
  }
  const std::string encoded = dc::tasks::encode_task_message(*decoded);
  auto again = dc::tasks::decode_task_message(encoded, 1 << 20);
  if (!again.ok() || !(*again == *decoded)) std::abort();
  if (dc::tasks::encode_task_message(*again) != encoded) std::abort();

  const dc::tasks::EffectiveOptions options = dc::tasks::effective_options(*decoded, {});
  auto failure = dc::tasks::decide_failure(*decoded, options, "traceback", 1'700'000'000'000, 0.5);
  if (failure.kind == dc::tasks::FailureDecision::Kind::retry) {
    if (failure.delay_ms < 0) std::abort();
    // The retry must itself be a message a worker accepts.
    if (!dc::tasks::decode_task_message(dc::tasks::encode_task_message(failure.message), 1 << 21).ok()) std::abort();
  }
  auto step = dc::tasks::next_pipeline_step(*decoded, dc::tasks::Json(1), false);
  if (!step.ok()) std::abort();  // decode already checked pipe_target
  (void)dc::tasks::age_exceeded(*decoded, options, 1'700'000'000'000);
  return 0;
}
