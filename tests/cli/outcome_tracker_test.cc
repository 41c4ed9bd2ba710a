#include "cli/outcome_tracker.h"

#include <gtest/gtest.h>

namespace dc {
namespace {

CommandRecord row(const std::string& cmd_id, const std::string& app_id, CmdFlag flag,
                  std::optional<std::string> result = std::nullopt) {
  CommandRecord r;
  r.cmd_id = cmd_id;
  r.app_id = app_id;
  r.flag = flag;
  r.result = std::move(result);
  return r;
}

TEST(OutcomeTracker, ReportsEachOutcomeOnceAsItLands) {
  OutcomeTracker tracker;
  tracker.expect("c1", {"a", "b", "c"});
  EXPECT_EQ(tracker.total(), 3u);
  EXPECT_EQ(tracker.pending(), 3u);
  EXPECT_FALSE(tracker.done());

  auto landed = tracker.update(
      {row("c1", "a", CmdFlag::pending), row("c1", "b", CmdFlag::executed), row("c1", "c", CmdFlag::pending)});
  ASSERT_EQ(landed.size(), 1u);
  EXPECT_EQ(landed[0].app_id, "b");
  EXPECT_EQ(tracker.executed(), 1u);

  // b again (still EXECUTED) is not reported twice; a and c land now.
  landed = tracker.update({row("c1", "a", CmdFlag::not_executed, "binary missing"), row("c1", "b", CmdFlag::executed),
                           row("c1", "c", CmdFlag::executed)});
  ASSERT_EQ(landed.size(), 2u);
  EXPECT_EQ(landed[0].app_id, "a");
  EXPECT_EQ(landed[1].app_id, "c");
  EXPECT_EQ(tracker.executed(), 2u);
  EXPECT_EQ(tracker.not_executed(), 1u);
  EXPECT_TRUE(tracker.done());
  EXPECT_TRUE(tracker.pending_commands().empty());
}

TEST(OutcomeTracker, KeepsSeveralCommandsInTheOrderIssued) {
  OutcomeTracker tracker;
  tracker.expect("c1", {"a"});
  tracker.expect("c2", {"b"});
  tracker.expect("c3", {"c"});
  EXPECT_EQ(tracker.pending_commands(), (std::vector<std::string>{"c1", "c2", "c3"}));
  (void)tracker.update({row("c2", "b", CmdFlag::executed)});
  EXPECT_EQ(tracker.pending_commands(), (std::vector<std::string>{"c1", "c3"}));
  const auto rows = tracker.rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].cmd_id, "c1");
  EXPECT_EQ(rows[0].flag, CmdFlag::pending);
  EXPECT_EQ(rows[1].cmd_id, "c2");
  EXPECT_EQ(rows[1].flag, CmdFlag::executed);
}

TEST(OutcomeTracker, IgnoresRowsItDoesNotExpect) {
  OutcomeTracker tracker;
  tracker.expect("c1", {"a"});
  // An app registered after the broadcast, and another command's row.
  EXPECT_TRUE(tracker.update({row("c1", "late", CmdFlag::executed), row("c9", "a", CmdFlag::executed)}).empty());
  EXPECT_EQ(tracker.pending(), 1u);
}

TEST(OutcomeTracker, AnAppExpectedTwiceCountsOnce) {
  OutcomeTracker tracker;
  tracker.expect("c1", {"a", "a"});
  EXPECT_EQ(tracker.total(), 1u);
}

TEST(OutcomeTracker, ProgressLineCountsExecutedAndNotExecutedOfTheTotal) {
  OutcomeTracker tracker;
  std::vector<std::string> apps;
  for (int i = 0; i < 500; ++i) apps.push_back("app" + std::to_string(i));
  tracker.expect("c1", apps);
  std::vector<CommandRecord> rows;
  for (int i = 0; i < 312; ++i) rows.push_back(row("c1", apps[static_cast<size_t>(i)], CmdFlag::executed));
  rows.push_back(row("c1", "app400", CmdFlag::not_executed));
  rows.push_back(row("c1", "app401", CmdFlag::not_executed));
  (void)tracker.update(rows);
  EXPECT_EQ(format_progress(tracker), "312/500 executed, 2 not executed");
}

TEST(OutcomeTracker, OutcomeLineShowsTheReasonPrintably) {
  EXPECT_EQ(format_outcome_line(row("c", "a", CmdFlag::executed, "started pid 42")), "  a: EXECUTED (started pid 42)");
  EXPECT_EQ(format_outcome_line(row("c", "a", CmdFlag::not_executed, "bad\x1b[2J")), "  a: NOT_EXECUTED (bad\\x1b[2J)");
  EXPECT_EQ(format_outcome_line(row("c", "a", CmdFlag::executed)), "  a: EXECUTED");
}

}  // namespace
}  // namespace dc
