// Issuing a command (SPEC §6.1, §3): record it in the store first, so it is
// durable before anything else happens; then declare the target manager's
// queue exactly as the manager would and publish with mandatory routing and
// publisher confirms. A publish that fails is reported, never fatal: the
// command stays PENDING in the store and the manager picks it up by polling.
// Used by dcctl; the HTTP API issues commands the same way.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "protocol/command.h"
#include "store/store.h"

namespace dc {

struct IssueRequest {
  CmdName name = CmdName::start;
  std::string app_id;                  // an app id, or "*" for every app
  std::optional<std::string> manager;  // with "*": only this manager's apps
  std::string args_json = "{}";        // a JSON object
  std::string issued_by;
};

struct IssueReport {
  Command command;                  // as published (id, timestamp filled in)
  std::vector<CommandRecord> rows;  // one per app it reached
  std::string routing_key;          // the owning manager, or "all"
  bool published = false;           // the broker confirmed it
  std::string publish_detail;       // the outcome in words
};

// Records and publishes. Errors, before anything is recorded:
// invalid_argument (bad app id, args not a JSON object, --manager without
// "*"), not_found (no such app). After recording, store errors are returned
// as is; broker trouble only shows in the report.
Result<IssueReport> issue_command(Store& store, const Config& config, const IssueRequest& request);

// "user@host" of the calling process.
std::string default_issuer();

}  // namespace dc
