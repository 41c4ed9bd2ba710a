// Issuing a command (SPEC §6.1, §3): what every command source does, dcctl,
// dc-api and the benchmarks alike. First the command is recorded in the
// store, one row per app it reaches, so it is durable before anything else
// happens; then the target manager's queue is declared exactly as the
// manager declares it, and the command is published with mandatory routing
// and publisher confirms. A publish that fails is reported, never fatal:
// the rows stay PENDING and the manager picks them up from the database.
//
// Two ways in:
//   issue_command()   one command over a connection of its own, opened and
//                     closed within the call (dcctl).
//   CommandIssuer     a long-lived source (dc-api): keeps one publisher
//                     connection and the queues it has declared across
//                     commands.
//
// Thread safety: a CommandIssuer is NOT safe for concurrent use; it holds a
// Store (not thread-safe either) and one broker connection. A service that
// issues from a pool of threads gives each thread its own CommandIssuer over
// its own Store: issuers share nothing, so any number of them may issue in
// parallel against the same database and broker. issue_command() and
// default_issuer() may be called from any thread (each call with its own
// Store).
#pragma once

#include <chrono>
#include <memory>
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
  std::string issued_by;               // empty: default_issuer()
};

struct IssueReport {
  Command command;                  // as published (id, timestamp filled in)
  std::vector<CommandRecord> rows;  // one per app it reached; empty: nothing recorded
  std::string routing_key;          // the owning manager, or "all"
  bool published = false;           // the broker confirmed it
  std::string publish_detail;       // the outcome in words, for the operator
};

struct IssuerOptions {
  // Shown by the broker (rabbitmqctl list_connections). Empty:
  // "dc source <user@host>".
  std::string connection_name;
  // After a failed connect, commands are only recorded (their rows stay
  // PENDING for the database path) until this long has passed: a broker that
  // is down costs a long-lived source one connect attempt per interval, not
  // one per command.
  std::chrono::milliseconds reconnect_interval{1000};
};

class CommandIssuer {
 public:
  // Connects lazily: the first issue() opens the broker connection. `store`
  // must outlive the issuer.
  CommandIssuer(Store& store, Config config, IssuerOptions options = {});
  ~CommandIssuer();
  CommandIssuer(CommandIssuer&&) noexcept;
  CommandIssuer& operator=(CommandIssuer&&) noexcept;

  // Records `request`, then publishes it. Errors, returned before anything
  // is recorded: invalid_argument (bad app id, args not a JSON object,
  // `manager` without "*", a message over 64 KiB), not_found (no such app).
  // With command_secret set, the recorded row and the message carry the
  // same signature. Store errors while
  // recording are returned as they are (unavailable: retry). Once the rows
  // are recorded the result is a report, whatever the broker does:
  // `published` says whether the broker confirmed the message.
  //
  // The connection is reused from one command to the next. When a publish on
  // a reused connection fails in a way a fresh connection may not (the
  // broker closed an idle connection, a queue declared earlier was deleted),
  // the command is published once more on a new connection; managers dedupe
  // by command id, so a second copy never runs twice. A connection idle for
  // longer than its heartbeat interval is replaced before use.
  Result<IssueReport> issue(const IssueRequest& request);

 private:
  struct Publishing;  // the broker connection and what it has declared
  std::string publish(const std::vector<std::string>& queues, const IssueReport& report, const std::string& body,
                      bool& published);

  Store* store_;
  Config config_;
  IssuerOptions options_;
  std::unique_ptr<Publishing> publishing_;
};

// Records and publishes one command over a connection of its own (see
// CommandIssuer::issue for errors and the report).
Result<IssueReport> issue_command(Store& store, const Config& config, const IssueRequest& request);

// "user@host" of the calling process.
std::string default_issuer();

}  // namespace dc
