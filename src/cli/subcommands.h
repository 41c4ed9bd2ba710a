// The subcommands of dcctl that do more than one call to the backend, each
// a function from its options and the configuration to an exit code
// (exit_codes.h). dcctl.cc parses the command line and calls them.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "protocol/command.h"

namespace dc {

// Prints "dcctl: <message>" to stderr; returns exit_code_for(error).
int report_failure(const Error& error);
// The same for a failure to open the backend: the database or dc-api that
// cannot be opened (also a SQLite file that cannot be) is exit 5.
int report_open_failure(const Error& error);

// start|stop|restart|enable|disable APP_ID... | --all [--manager NAME]
struct IssueOptions {
  std::vector<std::string> app_ids;  // one command per app, issued in this order
  bool all = false;
  std::string manager;
  std::string args = "{}";
  std::string issued_by;
  double wait = -1;  // seconds; < 0: do not wait
  bool json_out = false;
};
// Issues the commands, then (with wait >= 0) prints each app's outcome as
// it lands; a broadcast on a terminal also shows a progress line rewritten
// in place. The exit code is the worst outcome's (worst_exit_code()).
int run_issue(CmdName name, const IssueOptions& options, const Config& config);

// status [APP...] [--manager NAME]
struct StatusOptions {
  std::vector<std::string> app_ids;  // empty: every app (of `manager`)
  std::string manager;
  bool json_out = false;
  bool no_headers = false;
};
// One line per app. With APPs named: exit 3 when one is not RUNNING, 4 when
// one is unknown (LSB, as systemctl status).
int run_status(const StatusOptions& options, const Config& config);

// logs APP [-n N] [-f]
struct LogsOptions {
  std::string app_id;
  size_t lines = 10;
  bool follow = false;
};
// Prints the last lines of <log_dir>/<APP>.log as this host's configuration
// names it; with `follow`, what is appended until SIGINT/SIGTERM (exit 0).
int run_logs(const LogsOptions& options, const Config& config);

}  // namespace dc
