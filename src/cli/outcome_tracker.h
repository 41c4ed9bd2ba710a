// Following issued commands until every app has an outcome, as pure
// bookkeeping: dcctl feeds it the rows it reads back (from the store or
// dc-api) and prints what it says has landed. No I/O here, so every rule is
// unit-tested (tests/cli/outcome_tracker_test.cc).
//
// Thread safety: none; one tracker per wait.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "store/store.h"

namespace dc {

class OutcomeTracker {
 public:
  // Expects one row per app of command `cmd_id` (all PENDING so far).
  // Commands are reported in the order they were added.
  void expect(const std::string& cmd_id, const std::vector<std::string>& app_ids);

  // Takes the rows of one command as they stand now and returns those whose
  // outcome (EXECUTED / NOT_EXECUTED) is new since the last call, in the
  // order given. Rows of apps or commands never expected are ignored; a row
  // that lands twice is returned once.
  std::vector<CommandRecord> update(const std::vector<CommandRecord>& rows);

  size_t total() const { return total_; }
  size_t executed() const { return executed_; }
  size_t not_executed() const { return not_executed_; }
  size_t pending() const { return total_ - executed_ - not_executed_; }
  bool done() const { return pending() == 0; }

  // Commands that still have a PENDING row, in the order they were expected.
  std::vector<std::string> pending_commands() const;
  // The latest row of every app of every command (PENDING ones as expected),
  // in the order expected.
  std::vector<CommandRecord> rows() const;

 private:
  struct Command {
    std::string cmd_id;
    std::vector<CommandRecord> rows;             // in expected order
    std::map<std::string, size_t> index_of_app;  // app_id -> index in rows
    size_t pending = 0;
  };
  std::vector<Command> commands_;
  std::map<std::string, size_t> index_of_command_;
  size_t total_ = 0;
  size_t executed_ = 0;
  size_t not_executed_ = 0;
};

// "312/500 executed, 2 not executed": the progress line of a broadcast.
std::string format_progress(const OutcomeTracker& tracker);

// "  app_1: EXECUTED (started pid 42)": one landed outcome as dcctl prints it
// (the result made printable).
std::string format_outcome_line(const CommandRecord& row);

}  // namespace dc
