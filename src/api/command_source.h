// dc-api's way of issuing a command: through the issuing layer every
// command source shares (record in the store first, then publish with
// confirms; a broker that is down leaves the command PENDING for the
// managers' database path), over one worker's store connection.
//
// Thread safety: one per worker thread (not safe for concurrent use).
#pragma once

#include "base/result.h"
#include "cli/issue.h"
#include "config/config.h"
#include "store/store.h"

namespace dc {

class CommandSource {
 public:
  CommandSource(Store& store, const Config& config) : store_(store), config_(config) {}
  // The issuing layer's result: errors before anything is recorded
  // (invalid_argument, not_found, the store's), else the report.
  Result<IssueReport> issue(const IssueRequest& request) { return issue_command(store_, config_, request); }

 private:
  Store& store_;
  const Config& config_;
};

}  // namespace dc
