// dc-api's way of issuing a command: the issuing layer every command source
// shares (source/issue.h: record in the store first, then publish with
// confirms; a broker that is down leaves the command PENDING for the
// managers' database path), one long-lived CommandIssuer per worker so the
// broker connection and the queues it declared are reused across commands.
//
// Thread safety: one per worker thread (not safe for concurrent use).
#pragma once

#include "base/result.h"
#include "config/config.h"
#include "source/issue.h"
#include "store/store.h"

namespace dc {

class CommandSource {
 public:
  // `store` must outlive the source.
  CommandSource(Store& store, const Config& config)
      : issuer_(store, config, IssuerOptions{.connection_name = "dc-api " + default_issuer()}) {}
  // The issuing layer's result: errors before anything is recorded
  // (invalid_argument, not_found, the store's), else the report.
  Result<IssueReport> issue(const IssueRequest& request) { return issuer_.issue(request); }

 private:
  CommandIssuer issuer_;
};

}  // namespace dc
