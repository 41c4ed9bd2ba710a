// Connecting to the broker off the event loop (SPEC §6.4). A connection
// attempt can block for connect_timeout per host (a broker that drops SYNs,
// or accepts and never answers); made on a thread of its own, it never
// delays the fallback's polling, the schedule or process supervision.
//
// One attempt at a time: connect, declare the manager's topology, start
// consuming. The consumer it yields is handed to the loop, which owns it
// from then on (a Consumer is not thread-safe, but may change threads).
//
// Not thread-safe itself: the event loop calls begin(), busy() and take().
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/result.h"
#include "broker/connection.h"
#include "broker/consumer.h"
#include "broker/topology.h"

namespace dc {

class BrokerConnector {
 public:
  BrokerConnector(broker::ConnectionSettings settings, broker::CommandTopology topology,
                  broker::ConsumerOptions options);
  // Waits for an attempt under way (at most connect_timeout per host).
  ~BrokerConnector();
  BrokerConnector(const BrokerConnector&) = delete;
  BrokerConnector& operator=(const BrokerConnector&) = delete;

  // Starts an attempt in the background, unless one is under way.
  // `try_last`, when set, is the node the last connection was lost to: it
  // is tried after the others, so a hung node does not delay fail-over.
  void begin(std::optional<Endpoint> try_last = std::nullopt);
  bool busy() const { return busy_.load(); }
  // The outcome of the last finished attempt, once: a consuming Consumer,
  // or why there is none. nullopt while an attempt runs or after it was
  // taken.
  std::optional<Result<std::unique_ptr<broker::Consumer>>> take();

  // One attempt, on the calling thread.
  Result<std::unique_ptr<broker::Consumer>> connect(std::optional<Endpoint> try_last = std::nullopt) const;

 private:
  const broker::ConnectionSettings settings_;
  const broker::CommandTopology topology_;
  const broker::ConsumerOptions options_;
  std::atomic<bool> busy_{false};
  std::mutex mutex_;
  std::optional<Result<std::unique_ptr<broker::Consumer>>> outcome_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace dc
