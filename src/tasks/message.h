// The pipeline-task message (SPEC §9): Dramatiq's RabbitMQ wire format, read
// and written byte for byte the way Dramatiq's JSONEncoder does. Pure: no
// I/O, no broker types (decode_task_message draws a UUID and reads the clock
// only to fill the two fields Dramatiq itself fills when they are missing).
//
// A body is one UTF-8 JSON object with exactly these keys:
//   queue_name         string, the queue the message is on ("Q" or "Q.DQ")
//   actor_name         string
//   args               array   (positional arguments)
//   kwargs             object  (keyword arguments)
//   options            object  (retries, eta, pipe_target, ... see decisions.h)
//   message_id         string (a UUID); optional, generated when missing/null
//   message_timestamp  integer, ms since the epoch; optional, now when missing/null
// Dramatiq builds Message(**body), so an unknown key makes the body
// undecodable there; it is rejected here too. Every rejection is an
// Errc::invalid_argument whose message names the offending field.
//
// Encoding is Python's json.dumps(body, separators=(",", ":")): no spaces,
// keys in the order above (options keep their own order), non-ASCII written
// as \uXXXX escapes. decode then encode of a Dramatiq body gives the same
// bytes back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace dc::tasks {

// Key order matters on the wire (Dramatiq keeps insertion order), so every
// JSON value of a task is an ordered_json.
using Json = nlohmann::ordered_json;

// Bodies larger than this are rejected unless the caller allows more
// (task_max_body). Dramatiq has no limit; a worker without one can be made
// to allocate without bound by a single message.
inline constexpr size_t kDefaultMaxTaskBody = size_t{1024} * 1024;
// JSON nesting deeper than this is rejected before parsing (bounds recursion
// when the message is re-encoded).
inline constexpr int kMaxTaskJsonDepth = 128;

struct TaskMessage {
  std::string queue_name;
  std::string actor_name;
  Json args = Json::array();
  Json kwargs = Json::object();
  Json options = Json::object();
  std::string message_id;
  int64_t message_timestamp = 0;  // ms since the epoch

  friend bool operator==(const TaskMessage&, const TaskMessage&) = default;
};

// Reads a message body. Errors (invalid_argument): larger than `max_body`,
// nested deeper than kMaxTaskJsonDepth, not JSON, not an object, a missing
// or mistyped field, an unknown top-level key, a queue name Dramatiq could
// not have made, an option of a kind workers read (retries, eta, max_retries,
// pipe_target, ...) with the wrong type.
Result<TaskMessage> decode_task_message(std::string_view body, size_t max_body = kDefaultMaxTaskBody);

// Reads a message from a JSON value already parsed (a pipe_target).
// Same rules as decode_task_message.
Result<TaskMessage> task_message_from_json(const Json& value);

// The JSON object of `message`, keys in wire order.
Json task_message_to_json(const TaskMessage& message);

// The body Dramatiq would write for `message`.
std::string encode_task_message(const TaskMessage& message);

// Queue names, as Dramatiq's q_name / dq_name / xq_name:
//   canonical_queue_name("Q.DQ") == "Q", ("Q.XQ") == "Q", ("Q") == "Q"
//   delay_queue_name("Q") == "Q.DQ" (unchanged for a .DQ name; .XQ -> .DQ)
//   dead_letter_queue_name("Q") == "Q.XQ" (unchanged for .XQ; .DQ -> .XQ)
std::string canonical_queue_name(std::string_view queue);
std::string delay_queue_name(std::string_view queue);
std::string dead_letter_queue_name(std::string_view queue);

// "" when `queue` is a valid canonical queue name, else why not. Valid is
// what Dramatiq accepts for an actor's queue_name ([A-Za-z_][A-Za-z0-9._-]*),
// at most 200 bytes so Q.DQ and Q.XQ stay valid AMQP names, and not ending
// in .DQ or .XQ.
std::string queue_name_problem(std::string_view queue);

}  // namespace dc::tasks
