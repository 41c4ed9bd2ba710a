#include "tasks/message.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "base/ids.h"
#include "base/json_scan.h"
#include "base/time.h"

namespace dc::tasks {
namespace {

Error malformed(const std::string& why) { return Error(Errc::invalid_argument, "malformed task message: " + why); }

std::string_view json_type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a float";
    default:
      return "something else";
  }
}

std::string control_char_problem(std::string_view text) {
  for (char c : text) {
    if (std::iscntrl(static_cast<unsigned char>(c))) return "contains a control character";
  }
  return {};
}

// Options that workers read, with the types they must have (null always
// counts as absent, as in Dramatiq's `options.get(k) or default`).
Status check_options(const Json& options) {
  static constexpr std::array<std::string_view, 9> kNonNegativeNumbers = {
      "retries", "max_retries", "min_backoff", "max_backoff",      "time_limit",
      "max_age", "eta",         "delay",       "requeue_timestamp"};
  for (std::string_view key : kNonNegativeNumbers) {
    auto it = options.find(key);
    if (it == options.end() || it->is_null()) continue;
    if (!it->is_number()) {
      return malformed("options." + std::string(key) + " must be a number of milliseconds (or a count), not " +
                       std::string(json_type_name(*it)));
    }
    if (it->get<double>() < 0) return malformed("options." + std::string(key) + " must not be negative");
  }
  if (auto it = options.find("broker_priority"); it != options.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 255) {
      return malformed("options.broker_priority must be an integer from 0 to 255");
    }
  }
  if (auto it = options.find("pipe_ignore"); it != options.end() && !it->is_null() && !it->is_boolean()) {
    return malformed("options.pipe_ignore must be a boolean, not " + std::string(json_type_name(*it)));
  }
  if (auto it = options.find("traceback"); it != options.end() && !it->is_null() && !it->is_string()) {
    return malformed("options.traceback must be a string, not " + std::string(json_type_name(*it)));
  }
  if (auto it = options.find("pipe_target"); it != options.end() && !it->is_null()) {
    auto target = task_message_from_json(*it);
    if (!target) return Error(Errc::invalid_argument, "options.pipe_target: " + target.error().message());
  }
  return ok_status();
}

}  // namespace

std::string canonical_queue_name(std::string_view queue) {
  if (queue.ends_with(".DQ") || queue.ends_with(".XQ")) queue.remove_suffix(3);
  return std::string(queue);
}

std::string delay_queue_name(std::string_view queue) {
  if (queue.ends_with(".DQ")) return std::string(queue);
  return canonical_queue_name(queue) + ".DQ";
}

std::string dead_letter_queue_name(std::string_view queue) {
  if (queue.ends_with(".XQ")) return std::string(queue);
  return canonical_queue_name(queue) + ".XQ";
}

std::string queue_name_problem(std::string_view queue) {
  if (queue.empty()) return "a queue name must not be empty";
  if (queue.size() > 200) return "queue name '" + std::string(queue.substr(0, 40)) + "...' is longer than 200 bytes";
  const auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  const auto rest = [&](char c) {
    return letter(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-';
  };
  bool valid = letter(queue.front());
  for (char c : queue) valid = valid && rest(c);
  if (!valid) {
    return "queue name '" + std::string(queue) +
           "' must start with a letter or '_' and hold only letters, digits, '.', '_' and '-'";
  }
  if (queue.ends_with(".DQ") || queue.ends_with(".XQ")) {
    return "queue name '" + std::string(queue) + "' names a delay or dead-letter queue; give the queue itself (" +
           canonical_queue_name(queue) + ")";
  }
  return {};
}

Result<TaskMessage> task_message_from_json(const Json& value) {
  if (!value.is_object()) return malformed("the body must be a JSON object, not " + std::string(json_type_name(value)));
  static constexpr std::array<std::string_view, 7> kKeys = {
      "queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp"};
  for (const auto& [key, unused] : value.items()) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      return malformed("unknown field '" + key.substr(0, 64) +
                       "' (a Dramatiq message has exactly queue_name, actor_name, args, kwargs, options, message_id "
                       "and message_timestamp)");
    }
  }
  const auto field = [&](std::string_view key) -> const Json* {
    auto it = value.find(key);
    return it == value.end() ? nullptr : &*it;
  };
  const auto require = [&](std::string_view key, bool (Json::*is)() const noexcept,
                           std::string_view kind) -> Result<const Json*> {
    const Json* v = field(key);
    if (!v) return malformed("field '" + std::string(key) + "' is missing");
    if (!(v->*is)()) {
      return malformed("field '" + std::string(key) + "' must be " + std::string(kind) + ", not " +
                       std::string(json_type_name(*v)));
    }
    return v;
  };

  TaskMessage m;
  auto queue = require("queue_name", &Json::is_string, "a string");
  if (!queue) return queue.error();
  m.queue_name = (*queue)->get<std::string>();
  if (std::string problem = queue_name_problem(canonical_queue_name(m.queue_name)); !problem.empty()) {
    return malformed("queue_name: " + problem);
  }
  auto actor = require("actor_name", &Json::is_string, "a string");
  if (!actor) return actor.error();
  m.actor_name = (*actor)->get<std::string>();
  if (m.actor_name.empty()) return malformed("field 'actor_name' is empty");
  if (m.actor_name.size() > 255) return malformed("field 'actor_name' is longer than 255 bytes");
  if (std::string problem = control_char_problem(m.actor_name); !problem.empty()) {
    return malformed("field 'actor_name' " + problem);
  }
  auto args = require("args", &Json::is_array, "an array");
  if (!args) return args.error();
  m.args = **args;
  auto kwargs = require("kwargs", &Json::is_object, "an object");
  if (!kwargs) return kwargs.error();
  m.kwargs = **kwargs;
  auto options = require("options", &Json::is_object, "an object");
  if (!options) return options.error();
  m.options = **options;
  if (Status st = check_options(m.options); !st) return st.error();

  if (const Json* id = field("message_id"); id && !id->is_null()) {
    if (!id->is_string()) {
      return malformed("field 'message_id' must be a string, not " + std::string(json_type_name(*id)));
    }
    m.message_id = id->get<std::string>();
    if (m.message_id.size() > 255) return malformed("field 'message_id' is longer than 255 bytes");
    if (std::string problem = control_char_problem(m.message_id); !problem.empty()) {
      return malformed("field 'message_id' " + problem);
    }
  }
  // Dramatiq: message_id or generate_unique_id().
  if (m.message_id.empty()) m.message_id = random_uuid();

  if (const Json* ts = field("message_timestamp"); ts && !ts->is_null()) {
    if (!ts->is_number_integer()) {
      return malformed("field 'message_timestamp' must be an integer (ms since the epoch), not " +
                       std::string(json_type_name(*ts)));
    }
    if (ts->is_number_unsigned() && ts->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return malformed("field 'message_timestamp' is out of range");
    }
    m.message_timestamp = ts->get<int64_t>();
    if (m.message_timestamp < 0) return malformed("field 'message_timestamp' must not be negative");
  }
  // Dramatiq: message_timestamp or int(time.time() * 1000).
  if (m.message_timestamp == 0) m.message_timestamp = to_unix_micros(now()) / 1000;
  return m;
}

Result<TaskMessage> decode_task_message(std::string_view body, size_t max_body) {
  if (body.size() > max_body) {
    return malformed("the body has " + std::to_string(body.size()) + " bytes, more than the limit of " +
                     std::to_string(max_body) + " (task_max_body)");
  }
  if (dc::json_nesting_exceeds(body, kMaxTaskJsonDepth)) {
    return malformed("JSON nested deeper than " + std::to_string(kMaxTaskJsonDepth) + " levels");
  }
  Json value = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return malformed("the body is not valid UTF-8 JSON");
  return task_message_from_json(value);
}

Json task_message_to_json(const TaskMessage& message) {
  Json j = Json::object();
  j["queue_name"] = message.queue_name;
  j["actor_name"] = message.actor_name;
  j["args"] = message.args;
  j["kwargs"] = message.kwargs;
  j["options"] = message.options;
  j["message_id"] = message.message_id;
  j["message_timestamp"] = message.message_timestamp;
  return j;
}

std::string encode_task_message(const TaskMessage& message) {
  // json.dumps(..., separators=(",", ":")) with ensure_ascii=True. Strings
  // we hold are valid UTF-8 (decoded JSON or validated input); replace
  // rather than throw if a caller built one that is not.
  return task_message_to_json(message).dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
}

}  // namespace dc::tasks
