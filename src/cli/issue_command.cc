// dcctl start|stop|restart|enable|disable: issue, then follow the outcomes.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/backend.h"
#include "cli/dcctl.h"
#include "cli/exit_codes.h"
#include "cli/outcome_tracker.h"
#include "cli/subcommands.h"
#include "cli/views.h"

namespace dc {
namespace {

using nlohmann::json;

// The progress line is for a person watching a terminal: never in a pipe,
// a file or a dumb terminal, where it would be noise.
bool stdout_is_terminal() {
  if (::isatty(STDOUT_FILENO) != 1) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::string_view(term) != "dumb";
}

// Prints outcome lines as they land and, when `progress` is on, keeps a
// progress line under them, rewritten in place ("\r" + erase line).
class OutcomePrinter {
 public:
  OutcomePrinter(bool quiet, bool progress) : quiet_(quiet), progress_(progress) {}

  void landed(const CommandRecord& row) {
    if (quiet_) return;
    clear_progress();
    std::cout << format_outcome_line(row) << '\n';
  }
  void progress(const OutcomeTracker& tracker) {
    if (quiet_ || !progress_) return;
    clear_progress();
    const std::string line = format_progress(tracker);
    std::cout << line << std::flush;
    shown_ = true;
  }
  // Leaves the terminal on a fresh line.
  void finish() { clear_progress(); }
  void line(const std::string& text) {
    if (quiet_) return;
    clear_progress();
    std::cout << text << '\n';
  }

 private:
  void clear_progress() {
    if (!shown_) return;
    std::cout << "\r\x1b[K";
    shown_ = false;
  }
  bool quiet_;
  bool progress_;
  bool shown_ = false;
};

json report_json(CmdName name, const std::string& target, const IssueReport& report) {
  json out;
  out["cmd_id"] = report.command.id;
  out["command"] = static_cast<int>(name);
  out["command_name"] = to_string(name);
  out["target"] = target;
  out["routing_key"] = report.routing_key;
  out["apps"] = report.rows.size();
  out["published"] = report.published;
  out["publish"] = report.publish_detail;
  out["stored"] = true;
  return out;
}

void print_report(CmdName name, const std::string& target, const IssueReport& report) {
  std::cout << "command " << report.command.id << ": " << to_string(name) << ' ' << printable(target) << " ("
            << report.rows.size() << (report.rows.size() == 1 ? " app" : " apps") << ")\n";
  if (report.rows.empty()) {
    std::cout << "  " << printable(report.publish_detail) << '\n';
  } else if (report.published) {
    std::cout << "  stored; " << printable(report.publish_detail) << '\n';
  } else {
    std::cout << "  stored as PENDING; " << printable(report.publish_detail)
              << "\n  the manager will pick it up by polling the database\n";
  }
  std::cout << std::flush;
}

// Reads back the commands still pending until every row has an outcome or
// `timeout_s` has passed (at 20 ms, growing to 250 ms). Returns the exit
// code of a read that failed, else -1.
int follow_outcomes(DcctlBackend& backend, OutcomeTracker& tracker, double timeout_s, OutcomePrinter& printer) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  auto delay = std::chrono::milliseconds(20);
  printer.progress(tracker);
  while (!tracker.done()) {
    for (const auto& cmd_id : tracker.pending_commands()) {
      auto rows = backend.get_command(cmd_id);
      if (!rows) {
        printer.finish();
        return report_failure(rows.error().with_context("reading the outcome of " + cmd_id));
      }
      for (const auto& row : tracker.update(*rows)) printer.landed(row);
    }
    printer.progress(tracker);
    if (tracker.done() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(250));
  }
  printer.finish();
  return -1;
}

}  // namespace

int run_issue(CmdName name, const IssueOptions& opt, const Config& config) {
  if (opt.all == !opt.app_ids.empty()) {
    std::cerr << "dcctl: give either APP_ID... or --all, e.g. 'dcctl " << to_lower_name(name) << " demo', 'dcctl "
              << to_lower_name(name) << " a b c' or 'dcctl " << to_lower_name(name) << " --all --manager manager_1'\n";
    return kExitUsage;
  }
  if (!opt.manager.empty() && !opt.all) {
    std::cerr << "dcctl: --manager goes with --all (a single app's manager comes from the registry)\n";
    return kExitUsage;
  }
  auto backend = open_backend(config);
  if (!backend) return report_open_failure(backend.error());

  std::vector<std::string> targets = opt.all ? std::vector<std::string>{std::string(kBroadcastAppId)} : opt.app_ids;
  OutcomeTracker tracker;
  json reports = json::array();
  int code = kExitOk;
  size_t issued = 0;
  for (const auto& target : targets) {
    IssueRequest request;
    request.name = name;
    request.app_id = target;
    if (!opt.manager.empty()) request.manager = opt.manager;
    request.args_json = opt.args;
    request.issued_by = opt.issued_by;
    auto report = (*backend)->issue(request);
    if (!report) {
      const int failed = report_failure(report.error().with_context(target));
      code = worst_exit_code(code, failed);
      reports.push_back(json{{"target", target}, {"stored", false}, {"error", report.error().message()}});
      // A database that cannot be reached, or a bad option, fails the
      // remaining apps the same way: say so once and stop.
      if (failed == kExitDatabaseUnavailable || failed == kExitUsage) break;
      continue;
    }
    ++issued;
    std::vector<std::string> app_ids;
    app_ids.reserve(report->rows.size());
    for (const auto& row : report->rows) app_ids.push_back(row.app_id);
    tracker.expect(report->command.id, app_ids);
    reports.push_back(report_json(name, target, *report));
    if (!opt.json_out) print_report(name, target, *report);
  }
  if (issued < targets.size() && issued > 0 && !opt.json_out) {
    std::cerr << "dcctl: " << issued << " of " << targets.size() << " commands issued\n";
  }

  bool timed_out = false;
  if (opt.wait >= 0 && tracker.total() > 0) {
    OutcomePrinter printer(opt.json_out, opt.all && stdout_is_terminal());
    if (const int failed = follow_outcomes(**backend, tracker, opt.wait, printer); failed >= 0) return failed;
    timed_out = !tracker.done();
    if (opt.all) printer.line(format_progress(tracker));
    if (timed_out) {
      printer.line("  not done within " + std::to_string(static_cast<int64_t>(opt.wait)) +
                   " s: " + std::to_string(tracker.pending()) + " still pending (they stay stored and will still run)");
    }
    if (tracker.not_executed() > 0) code = worst_exit_code(code, kExitFailed);
    if (timed_out) code = worst_exit_code(code, kExitTimeout);
    // Each command's document gets its rows as they stand.
    const auto rows = tracker.rows();
    for (auto& doc : reports) {
      if (!doc.contains("cmd_id")) continue;
      json outcomes = json::array();
      bool pending = false;
      for (const auto& row : rows) {
        if (row.cmd_id != doc["cmd_id"].get<std::string>()) continue;
        outcomes.push_back(to_json(row));
        pending = pending || row.flag == CmdFlag::pending;
      }
      doc["outcomes"] = outcomes;
      doc["timed_out"] = pending;
    }
  }
  if (opt.json_out && (issued > 0 || targets.size() > 1)) {
    // One app or --all: the command's document, as before several apps
    // could be named; several: {"commands": [...]} in the order given.
    if (targets.size() == 1 && reports.size() == 1) {
      std::cout << reports[0].dump(2) << '\n';
    } else {
      std::cout << json{{"commands", reports}}.dump(2) << '\n';
    }
  }
  return code;
}

}  // namespace dc
