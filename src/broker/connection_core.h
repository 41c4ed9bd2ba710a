// Internal to the broker layer: the rabbitmq-c state behind a Connection and
// the frame-level helpers the publisher, consumer and topology share. Every
// rabbitmq-c status and broker close becomes a dc::Error here, once.
//
// Invariants:
//   - `state` is non-null for the whole life of the core and destroyed only
//     by ~ConnectionCore.
//   - Once `failure` is set the socket is not used again (except by the
//     destructor's cleanup); every helper returns that failure.
//   - Only channel `kChannel` is ever opened.
#pragma once

#include <amqp.h>
#include <amqp_framing.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/time.h"
#include "broker/connection.h"

namespace dc::broker {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

inline Deadline deadline_after(std::chrono::milliseconds d) { return SteadyClock::now() + d; }

// amqp_bytes_t <-> std::string without ownership transfer. The view is valid
// while `s` lives and is not modified.
inline amqp_bytes_t as_bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }
inline std::string to_string(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

// A message's content as read from the wire (after basic.deliver/return).
struct Content {
  std::string body;        // empty when discarded
  uint64_t body_size = 0;  // as the content header declared it
  bool discarded = false;  // over the reader's limit: read and dropped unbuffered
  std::optional<std::string> content_type;
  std::optional<std::string> message_id;
  std::optional<TimePoint> timestamp;
  std::optional<int> delivery_mode;
  std::optional<int> priority;
  std::map<std::string, std::string> headers;
};

class ConnectionCore {
 public:
  static constexpr amqp_channel_t kChannel = 1;

  ConnectionCore(amqp_connection_state_t state, Endpoint endpoint, const ConnectionSettings& settings);
  ~ConnectionCore();
  ConnectionCore(const ConnectionCore&) = delete;
  ConnectionCore& operator=(const ConnectionCore&) = delete;

  amqp_connection_state_t state() const { return state_; }
  const Endpoint& endpoint() const { return endpoint_; }
  const std::string& description() const { return description_; }
  std::chrono::milliseconds rpc_timeout() const { return rpc_timeout_; }
  const std::optional<Error>& failure() const { return failure_; }
  bool blocked() const { return blocked_; }
  int heartbeat_seconds() const;

  // Increments whenever the channel is (re)opened, so users that configured
  // it (confirm.select, basic.consume) notice a fresh channel.
  uint64_t channel_generation() const { return channel_generation_; }
  bool channel_open() const { return channel_open_; }

  // Fails with the stored failure when the connection is dead.
  Status check_usable() const;
  // Opens the channel if the broker closed it (e.g. after a 404/406).
  Status ensure_channel();

  // Records `error` as the connection's failure (first one wins), shuts the
  // socket down, and returns the stored failure.
  Error fail(Error error);

  // Converts the reply of a synchronous rabbitmq-c call. `what` names the
  // operation ("declaring queue 'q'"). Broker closes are answered (close-ok)
  // and mapped by reply code; library errors kill the connection.
  Status check_reply(const amqp_rpc_reply_t& reply, std::string_view what);
  // Converts a rabbitmq-c status (< 0) from an asynchronous call; fatal.
  Error library_error(int status, std::string_view what);

  // The next frame on our channel before `deadline`, or nullopt on timeout.
  // Frames on channel 0 are handled here (connection.close -> error,
  // connection.blocked/unblocked -> blocked()). channel.close from the broker
  // is acknowledged and returned as an error; the connection stays usable.
  // The frame's memory is valid until release_buffers().
  Result<std::optional<amqp_frame_t>> wait_frame(Deadline deadline);

  // Reads the content header and body frames that follow a basic.deliver or
  // basic.return. They follow immediately, so missing them by `deadline` is a
  // protocol failure.
  // `max_body` > 0: a body declared larger is read and dropped frame by
  // frame, never held (Content::discarded).
  Result<Content> read_content(Deadline deadline, size_t max_body = 0);

  // Lets rabbitmq-c reuse the memory of frames already consumed.
  void release_buffers();

  Status keepalive();
  Status close();

 private:
  Error broker_close_error(const amqp_connection_close_t& close);
  Error channel_close_error(const amqp_channel_close_t& close, std::string_view what);

  amqp_connection_state_t state_;
  Endpoint endpoint_;
  std::string description_;
  std::chrono::milliseconds rpc_timeout_;
  std::optional<Error> failure_;
  bool blocked_ = false;
  bool channel_open_ = false;
  uint64_t channel_generation_ = 0;
  SteadyClock::time_point last_keepalive_ = SteadyClock::now();
};

// Errc for a broker reply code (AMQP 0-9-1 section 1.9 constants).
Errc errc_for_reply_code(int code);
// "NOT_FOUND" etc. for the codes RabbitMQ uses; "" otherwise.
std::string_view reply_code_name(int code);

// Properties -> Content fields (headers flattened to strings: strings as is,
// numbers and booleans as text, nested tables/arrays skipped).
void copy_properties(const amqp_basic_properties_t& props, Content& out);

}  // namespace dc::broker
