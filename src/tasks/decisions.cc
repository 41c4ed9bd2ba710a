#include "tasks/decisions.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dc::tasks {

std::optional<int64_t> option_ms(const Json& options, std::string_view key) {
  if (!options.is_object()) return std::nullopt;
  auto it = options.find(key);
  if (it == options.end() || !it->is_number()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                          : static_cast<int64_t>(v);
  }
  if (it->is_number_integer()) return it->get<int64_t>();
  const double v = it->get<double>();
  if (!std::isfinite(v)) return v > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  if (v >= 9.2e18) return std::numeric_limits<int64_t>::max();
  if (v <= -9.2e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

EffectiveOptions effective_options(const TaskMessage& message, const ActorOptions& actor) {
  EffectiveOptions e;
  const Json& o = message.options;
  e.retries = std::max<int64_t>(0, option_ms(o, "retries").value_or(0));
  // Retries: message.options.get(k, actor.options.get(k, default)).
  e.max_retries = option_ms(o, "max_retries").value_or(actor.max_retries.value_or(kDefaultMaxRetries));
  e.min_backoff = option_ms(o, "min_backoff").value_or(actor.min_backoff.value_or(kDefaultMinBackoffMs));
  e.max_backoff = option_ms(o, "max_backoff").value_or(actor.max_backoff.value_or(kDefaultMaxBackoffMs));
  // TimeLimit and AgeLimit: message.options.get(k) or actor.options.get(k, default).
  const auto truthy = [&](std::string_view key) -> std::optional<int64_t> {
    auto v = option_ms(o, key);
    if (v && *v != 0) return v;
    return std::nullopt;
  };
  e.time_limit = truthy("time_limit").value_or(actor.time_limit.value_or(kDefaultTimeLimitMs));
  e.max_age = truthy("max_age");
  if (!e.max_age && actor.max_age && *actor.max_age != 0) e.max_age = actor.max_age;
  return e;
}

int64_t compute_backoff(int64_t attempts, int64_t factor, int64_t max_backoff, double uniform01) {
  const int exponent = static_cast<int>(std::clamp<int64_t>(attempts, 0, kMaxBackoffExponent));
  double backoff = std::min(static_cast<double>(std::max<int64_t>(factor, 0)) * std::ldexp(1.0, exponent),
                            static_cast<double>(std::max<int64_t>(max_backoff, 0)));
  backoff /= 2;
  const double u = std::clamp(uniform01, 0.0, 1.0);
  const double jittered = backoff + u * backoff;
  if (jittered >= 9.2e18) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(jittered);
}

bool age_exceeded(const TaskMessage& message, const EffectiveOptions& options, int64_t now_ms) {
  if (!options.max_age) return false;
  return now_ms - message.message_timestamp >= *options.max_age;
}

TaskMessage delayed_copy(TaskMessage message, int64_t delay_ms, int64_t now_ms) {
  message.queue_name = delay_queue_name(message.queue_name);
  // Saturating: a pipeline's options.delay comes from the message.
  const int64_t max = std::numeric_limits<int64_t>::max();
  message.options["eta"] = delay_ms > max - now_ms ? max : now_ms + std::max<int64_t>(delay_ms, 0);
  return message;
}

TaskMessage due_copy(TaskMessage message) {
  message.queue_name = canonical_queue_name(message.queue_name);
  message.options.erase("eta");
  return message;
}

std::optional<int64_t> eta_ms(const TaskMessage& message) {
  if (!message.options.contains("eta")) return std::nullopt;
  // An eta of null or a non-number is held for no time (due at once).
  return option_ms(message.options, "eta").value_or(0);
}

FailureDecision decide_failure(const TaskMessage& message, const EffectiveOptions& options,
                               const std::string& traceback, int64_t now_ms, double uniform01) {
  FailureDecision d;
  if (options.retries >= options.max_retries) {
    d.kind = FailureDecision::Kind::dead_letter;
    return d;
  }
  TaskMessage next = message;
  // options.setdefault("retries", 0); options["retries"] += 1; then traceback
  // and requeue_timestamp, each appended when new, replaced in place otherwise.
  next.options["retries"] = options.retries + 1;
  next.options["traceback"] = tail_of(traceback);
  next.options["requeue_timestamp"] = now_ms;
  const int64_t max_backoff = std::min(options.max_backoff, kDefaultMaxBackoffMs);
  d.delay_ms = compute_backoff(options.retries, options.min_backoff, max_backoff, uniform01);
  d.kind = FailureDecision::Kind::retry;
  d.message = delayed_copy(std::move(next), d.delay_ms, now_ms);
  return d;
}

Result<std::optional<PipelineStep>> next_pipeline_step(const TaskMessage& message, const Json& result,
                                                       bool actor_pipe_ignore) {
  auto it = message.options.find("pipe_target");
  if (it == message.options.end() || it->is_null()) return std::optional<PipelineStep>();
  auto target = task_message_from_json(*it);
  if (!target) return target.error().with_context("options.pipe_target");
  PipelineStep step{std::move(*target), std::nullopt};
  bool ignore = actor_pipe_ignore;
  if (auto p = step.message.options.find("pipe_ignore"); p != step.message.options.end() && p->is_boolean()) {
    ignore = ignore || p->get<bool>();
  }
  if (!ignore) step.message.args.push_back(result);
  step.delay_ms = option_ms(step.message.options, "delay");
  return std::optional<PipelineStep>(std::move(step));
}

std::string tail_of(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::string_view tail = text.substr(text.size() - max_bytes);
  // Start at a line when one begins in the first quarter of the tail...
  const size_t newline = tail.find('\n');
  if (newline != std::string_view::npos && newline < max_bytes / 4) {
    tail.remove_prefix(newline + 1);
  } else {
    // ...else at least not inside a UTF-8 sequence.
    while (!tail.empty() && (static_cast<unsigned char>(tail.front()) & 0xC0) == 0x80) tail.remove_prefix(1);
  }
  return std::string(tail);
}

}  // namespace dc::tasks
