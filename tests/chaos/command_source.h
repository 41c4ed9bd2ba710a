// A command source with dcctl's semantics (SPEC §6.1, src/source/issue.cc), fast
// enough for streams of thousands: record the command in the store first,
// then publish it with one reused, confirmed publisher connection. A publish
// that fails (broker down, link cut, exchange gone) leaves the row PENDING
// for the manager's database path, and the next publish reconnects and
// re-declares the target queue exactly as dcctl does.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "base/result.h"
#include "broker/publisher.h"
#include "broker/topology.h"
#include "protocol/command.h"
#include "store/store.h"

namespace dc::chaos {

struct SourceSettings {
  // One host, or a list "h1:p1,h2:p2" tried in order (rabbit_host syntax);
  // entries without a port use rabbit_port.
  std::string rabbit_host = "127.0.0.1";
  int rabbit_port = 0;
  std::string exchange;
  broker::QueueType queue_type = broker::QueueType::classic;
  // How long record_command is retried while the database is unavailable
  // before the command counts as refused (it was never accepted).
  std::chrono::milliseconds record_deadline{60000};
};

struct SourceCounters {
  uint64_t recorded = 0;
  uint64_t published = 0;       // confirmed by the broker
  uint64_t publish_failed = 0;  // left PENDING for the database path
  uint64_t record_refused = 0;  // the store stayed unavailable: never accepted
  uint64_t record_retries = 0;
  uint64_t record_ambiguous = 0;  // a retry found the lost COMMIT had gone through
};

class CommandSource {
 public:
  CommandSource(std::unique_ptr<Store> store, SourceSettings settings);
  ~CommandSource();

  // Records then publishes one command for `app_id` (owned by `manager`), or
  // for "*": every app of `manager` at this moment.
  // Returns the command id once it is recorded, whatever happened to the
  // publish; an error when it could not be recorded within the deadline.
  Result<std::string> issue(const std::string& app_id, const std::string& manager, CmdName name,
                            const std::string& args_json = "{}");

  // Publishes a raw message (hostile input) to `routing_key` without recording
  // anything. Returns the publish outcome.
  broker::PublishResult publish_raw(const std::string& routing_key, const std::string& body,
                                    const std::string& message_id);

  const SourceCounters& counters() const { return counters_; }
  Store& store() { return *store_; }

 private:
  bool ensure_publisher(const std::string& queue);
  void drop_publisher();

  std::unique_ptr<Store> store_;
  SourceSettings settings_;
  std::optional<broker::Publisher> publisher_;
  std::set<std::string> declared_;
  std::optional<Endpoint> lost_endpoint_;
  std::chrono::steady_clock::time_point next_connect_{};
  SourceCounters counters_;
};

}  // namespace dc::chaos
