// What the broker delivered (SPEC §2, §6.2): each delivery is read and
// authenticated (poison is dead-lettered at once, a body over 64 KiB by its
// declared size, unread), then applied in order through the CommandRunner
// and acked only after its outcome is committed.
//
// Runs of ENABLE/DISABLE, whose whole effect is a database update, are
// decided, carried out and recorded in ONE store transaction and acked with
// one multiple-ack after its commit (what lets a manager keep up with the
// broker at a large prefetch). Anything else takes the runner's path, one
// delivery at a time, in order.
//
// Not thread-safe: the manager's event loop owns it.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "broker/consumer.h"
#include "config/config.h"
#include "manager/command_runner.h"
#include "manager/manager_metrics.h"
#include "store/store.h"

namespace dc {

class DeliveryHandler {
 public:
  DeliveryHandler(const Config& config, Store& store, CommandRunner& runner, ManagerMetrics& metrics)
      : config_(config), store_(store), runner_(runner), metrics_(metrics) {}

  // Settles `deliveries` (taken together, up to the prefetch window) on
  // `consumer`. Errors: Errc::fenced (stop acting at once, leave the rest
  // unacked), or the broker connection failed while settling (reconnect;
  // the unsettled ones come back). A shutdown asked for meanwhile leaves
  // the rest unacked too, returning ok.
  Status handle(broker::Consumer& consumer, std::vector<broker::Delivery>& deliveries);

 private:
  // What one transaction of the database-only path has decided so far.
  struct DbOnlyRun {
    std::vector<FinishedCommand> items;                    // to claim and finish, in order
    std::set<std::pair<std::string, std::string>> queued;  // their (cmd_id, app_id)
    std::map<std::string, App> apps;                       // the run's view of the apps it touches
    uint64_t duplicates = 0;                               // redeliveries of settled rows
  };

  // Parses and authenticates a delivery. Returns the command, or nullopt
  // after dead-lettering a poison message.
  Result<std::optional<Command>> accept(broker::Consumer& consumer, const broker::Delivery& delivery);
  // Applies one command through the runner, then acks or dead-letters it.
  Status apply_one(broker::Consumer& consumer, const broker::Delivery& delivery, const Command& command);
  // Adds the rows `command` writes for each app to `run` and returns true,
  // if all of them can take the database-only path (ENABLE/DISABLE, this
  // manager's apps, no older pending command outside the run); returns
  // false, adding nothing, otherwise.
  Result<bool> add_db_only(const Command& command, DbOnlyRun& run);
  // After the run's commit: one ack, metrics, one log line per command.
  Status finish_run(broker::Consumer& consumer, const DbOnlyRun& run, const std::vector<ClaimResult>& results,
                    uint64_t last_tag);

  const Config& config_;
  Store& store_;
  CommandRunner& runner_;
  ManagerMetrics& metrics_;
};

// Whether `st` failed because this manager lost its lease.
inline bool is_fenced(const Status& st) { return !st && st.error().code() == Errc::fenced; }

}  // namespace dc
