#include "manager/decisions.h"

#include <gtest/gtest.h>

#include <set>

namespace dc {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

App app_of(std::string manager) {
  App app;
  app.app_id = "a";
  app.manager = std::move(manager);
  return app;
}

TEST(Route, ByOwner) {
  EXPECT_EQ(route_command(app_of("m1"), "m1"), Routing::mine);
  EXPECT_EQ(route_command(app_of("m2"), "m1"), Routing::other_manager);
  EXPECT_EQ(route_command(std::nullopt, "m1"), Routing::unknown_app);
}

TEST(Plan, StartAndStopAreIdempotent) {
  auto p = plan_command(CmdName::start, false);
  EXPECT_TRUE(p.start);
  EXPECT_FALSE(p.stop);
  EXPECT_TRUE(p.noop_reason.empty());
  p = plan_command(CmdName::start, true);
  EXPECT_FALSE(p.start);
  EXPECT_EQ(p.noop_reason, "already running");
  p = plan_command(CmdName::stop, true);
  EXPECT_TRUE(p.stop);
  EXPECT_FALSE(p.start);
  p = plan_command(CmdName::stop, false);
  EXPECT_FALSE(p.stop);
  EXPECT_EQ(p.noop_reason, "already stopped");
}

TEST(Plan, RestartStopsOnlyWhatRuns) {
  auto p = plan_command(CmdName::restart, true);
  EXPECT_TRUE(p.stop);
  EXPECT_TRUE(p.start);
  p = plan_command(CmdName::restart, false);
  EXPECT_FALSE(p.stop);
  EXPECT_TRUE(p.start);
}

TEST(Plan, EnableDisableTouchOnlyTheFlag) {
  for (bool running : {false, true}) {
    auto p = plan_command(CmdName::enable, running);
    EXPECT_EQ(p.set_disable, false);
    EXPECT_FALSE(p.start || p.stop);
    p = plan_command(CmdName::disable, running);
    EXPECT_EQ(p.set_disable, true);
    EXPECT_FALSE(p.start || p.stop);
  }
}

TEST(ObservedState, TheProcessOverridesAStaleRecord) {
  AppState recorded;
  recorded.disable = true;
  recorded.exit_code = 3;
  for (AppStatus status : {AppStatus::running, AppStatus::starting}) {
    recorded.status = status;
    EXPECT_EQ(observed_state(recorded, /*running=*/false).status, AppStatus::stopped) << to_string(status);
    EXPECT_EQ(observed_state(recorded, /*running=*/true).status, AppStatus::running) << to_string(status);
  }
  for (AppStatus status : {AppStatus::stopped, AppStatus::stopping, AppStatus::failed}) {
    recorded.status = status;
    EXPECT_EQ(observed_state(recorded, /*running=*/false).status, status) << to_string(status);
    EXPECT_EQ(observed_state(recorded, /*running=*/true).status, AppStatus::running) << to_string(status);
  }
  // Only the status changes.
  const AppState seen = observed_state(recorded, false);
  EXPECT_TRUE(seen.disable);
  EXPECT_EQ(seen.exit_code, 3);
}

TEST(ExitStatus, StopRequestedIsAlwaysStopped) {
  EXPECT_EQ(status_after_exit(true, 1, 0), AppStatus::stopped);
  EXPECT_EQ(status_after_exit(true, 0, 9), AppStatus::stopped);
  EXPECT_EQ(status_after_exit(false, 0, 0), AppStatus::stopped);
  EXPECT_EQ(status_after_exit(false, 3, 0), AppStatus::failed);
  EXPECT_EQ(status_after_exit(false, 0, 11), AppStatus::failed);
}

TEST(Recovery, EffectVisibility) {
  const TimePoint claimed = now();
  EXPECT_TRUE(effect_already_visible(CmdName::start, true, false, std::nullopt, claimed));
  EXPECT_FALSE(effect_already_visible(CmdName::start, false, false, std::nullopt, claimed));
  EXPECT_TRUE(effect_already_visible(CmdName::stop, false, false, std::nullopt, claimed));
  EXPECT_FALSE(effect_already_visible(CmdName::stop, true, false, std::nullopt, claimed));
  EXPECT_TRUE(effect_already_visible(CmdName::restart, true, false, claimed + seconds(1), claimed));
  EXPECT_FALSE(effect_already_visible(CmdName::restart, true, false, claimed - seconds(1), claimed));
  EXPECT_FALSE(effect_already_visible(CmdName::restart, false, false, claimed + seconds(1), claimed));
  EXPECT_TRUE(effect_already_visible(CmdName::enable, false, false, std::nullopt, claimed));
  EXPECT_FALSE(effect_already_visible(CmdName::enable, false, true, std::nullopt, claimed));
  EXPECT_TRUE(effect_already_visible(CmdName::disable, true, true, std::nullopt, claimed));
}

TEST(Backoff, GrowsToTheCapWithJitter) {
  Backoff backoff(milliseconds(100), milliseconds(5000), 0.2, 42);
  std::vector<int64_t> delays;
  for (int i = 0; i < 12; ++i) delays.push_back(backoff.next().count());
  EXPECT_GE(delays[0], 80);
  EXPECT_LE(delays[0], 120);
  EXPECT_GE(delays[3], 640);  // 800 +- 20%
  EXPECT_LE(delays[3], 960);
  for (auto d : delays) EXPECT_LE(d, 5000);
  EXPECT_GE(delays.back(), 4000);
  EXPECT_EQ(backoff.attempts(), 12);
  backoff.reset();
  EXPECT_LE(backoff.next().count(), 120);
}

TEST(Backoff, JitterSpreadsAFleet) {
  std::set<int64_t> firsts;
  for (uint64_t seed = 0; seed < 20; ++seed)
    firsts.insert(Backoff(milliseconds(1000), milliseconds(30000), 0.5, seed).next().count());
  EXPECT_GT(firsts.size(), 10u);
}

TEST(Schedule, StartsOnlyWhenEnabledIdleAndTime) {
  const TimePoint t = now();
  const seconds grace(60);
  App app = app_of("m");
  EXPECT_EQ(schedule_action(app, false, t, grace), ScheduleAction::wait);  // no schedule
  app.schedule = "every 5s";
  app.next_run_at = t - seconds(1);
  EXPECT_EQ(schedule_action(app, false, t, grace), ScheduleAction::start);
  EXPECT_EQ(schedule_action(app, true, t, grace), ScheduleAction::wait);
  app.disable = true;
  EXPECT_EQ(schedule_action(app, false, t, grace), ScheduleAction::wait);
  app.disable = false;
  app.next_run_at = t + seconds(1);
  EXPECT_EQ(schedule_action(app, false, t, grace), ScheduleAction::wait);
  app.next_run_at.reset();
  EXPECT_EQ(schedule_action(app, false, t, grace), ScheduleAction::wait);
}

// Issue 11, item 12: a run missed while the app was disabled, still running
// or the manager down is skipped, not fired at once when it can run again.
TEST(Schedule, ARunLaterThanTheGraceIsSkippedNotCaughtUp) {
  const TimePoint t = now();
  const seconds grace(60);
  App app = app_of("m");
  app.schedule = "0 0 1 1 *";
  app.next_run_at = t - seconds(60);
  EXPECT_EQ(schedule_action(app, false, t, grace), ScheduleAction::start);  // exactly at the grace: still runs
  app.next_run_at = t - seconds(61);
  EXPECT_EQ(schedule_action(app, false, t, grace), ScheduleAction::skip_missed);
  app.next_run_at = t - std::chrono::hours(1);
  EXPECT_EQ(schedule_action(app, false, t, grace), ScheduleAction::skip_missed);
  app.disable = true;  // disabled past its time: rescheduled, so ENABLE does not fire it
  EXPECT_EQ(schedule_action(app, false, t, grace), ScheduleAction::skip_missed);
  app.disable = false;
  EXPECT_EQ(schedule_action(app, true, t, grace), ScheduleAction::skip_missed);             // still running then
  EXPECT_EQ(schedule_action(app, false, t, std::chrono::hours(2)), ScheduleAction::start);  // a wide grace catches up
}

// Issue 11, item 4: a command read from the store is held to the rules of
// a broker delivery: the size of the body its source published, and with
// signing on, a signature for that body and this manager's routing keys.
TEST(RecordedCommand, RefusedForTheSameReasonsAsABrokerDelivery) {
  const TimePoint t = *parse_iso8601("2026-06-01T12:00:00.123456Z");
  const std::vector<std::string> secrets = {"current", "previous"};
  Command c;
  c.id = "4a1f2b3c-0000-4000-8000-000000000001";
  c.app_id = "collector";
  c.name = CmdName::start;
  c.issued_by = "ops@example.com";
  c.issued_at = t;
  c.args_json = R"({"company_id":"123456","monitoring":true})";
  CommandRecord row;
  row.cmd_id = c.id;
  row.app_id = c.app_id;
  row.target = c.app_id;
  row.command = c.name;
  row.issued_by = c.issued_by;
  row.issued_at = c.issued_at;
  row.args_json = c.args_json;
  const auto check = [&](const CommandRecord& r, const std::vector<std::string>& keys) {
    return recorded_command_problem(r, "manager_1", keys, t + seconds(5), seconds(300));
  };
  const std::string body = serialize_command_body(c);

  EXPECT_EQ(check(row, {}), "");  // signing off: anything recorded may run
  EXPECT_NE(check(row, secrets).find("unsigned"), std::string::npos);
  row.signature = sign_command("retired", c.id, "manager_1", body);
  EXPECT_NE(check(row, secrets).find("bad signature"), std::string::npos);
  row.signature = sign_command("previous", c.id, "manager_1", body);
  EXPECT_EQ(check(row, secrets), "");
  row.signature = sign_command("current", c.id, "manager_2", body);  // signed for another manager
  EXPECT_NE(check(row, secrets).find("bad signature"), std::string::npos);
  row.signature = sign_command("current", c.id, "all", body);  // `all` is for broadcasts only
  EXPECT_NE(check(row, secrets).find("bad signature"), std::string::npos);
  row.signature = sign_command("current", c.id, "manager_1", body);
  EXPECT_NE(recorded_command_problem(row, "manager_1", secrets, t + seconds(301), seconds(300)).find("expired"),
            std::string::npos);

  // A broadcast verifies under this manager's key or `all`.
  CommandRecord broadcast = row;
  broadcast.target = "*";
  Command bc = c;
  bc.app_id = "*";
  broadcast.signature = sign_command("current", c.id, "all", serialize_command_body(bc));
  EXPECT_EQ(check(broadcast, secrets), "");
  broadcast.signature = sign_command("current", c.id, "manager_1", serialize_command_body(bc));
  EXPECT_EQ(check(broadcast, secrets), "");

  CommandRecord big = row;
  big.args_json = R"({"pad":")" + std::string(kMaxBodyBytes, 'x') + "\"}";
  EXPECT_NE(check(big, {}).find("limit"), std::string::npos);
}

TEST(DatabaseOnly, EnableAndDisableOnly) {
  EXPECT_TRUE(database_only(CmdName::enable));
  EXPECT_TRUE(database_only(CmdName::disable));
  EXPECT_FALSE(database_only(CmdName::start));
  EXPECT_FALSE(database_only(CmdName::stop));
  EXPECT_FALSE(database_only(CmdName::restart));
  EXPECT_EQ(disable_result(true), "disabled");
  EXPECT_EQ(disable_result(false), "enabled");
}

// Which deliveries may share one transaction (the ENABLE/DISABLE runs).
TEST(RunJoin, JoinsOnlyWhenNothingOlderIsLeftBehind) {
  const Claimer me("m1", "i1");
  CommandRecord row;
  row.cmd_id = "c2";
  row.app_id = "a1";
  CommandRecord older;
  older.cmd_id = "c1";
  older.app_id = "a1";
  std::set<std::pair<std::string, std::string>> queued;

  CommandPlace place;  // not recorded, nothing older
  EXPECT_EQ(run_join(place, me, queued), RunJoin::join);
  place.row = row;  // recorded, free
  EXPECT_EQ(run_join(place, me, queued), RunJoin::join);
  place.earlier = {older};  // an older pending command outside the run
  EXPECT_EQ(run_join(place, me, queued), RunJoin::general_path);
  queued.insert({"c1", "a1"});  // ... which is ahead of it in the run
  EXPECT_EQ(run_join(place, me, queued), RunJoin::join);

  place.row->claimed_by = "m1";  // our own claim whose commit went unseen
  place.row->claimed_instance = "i1";
  EXPECT_EQ(run_join(place, me, queued), RunJoin::general_path);
  place.row->claimed_instance = "i0";  // someone else's: a redelivery
  EXPECT_EQ(run_join(place, me, queued), RunJoin::duplicate);
  place.row->claimed_by.reset();
  place.row->flag = CmdFlag::executed;
  EXPECT_EQ(run_join(place, me, queued), RunJoin::duplicate);
}

TEST(Lease, ConfirmedForFourFifthsOfItsTime) {
  using std::chrono::steady_clock;
  const auto sent = steady_clock::time_point(seconds(1000));
  EXPECT_TRUE(lease_confirmed(sent, sent, milliseconds(15000)));
  EXPECT_TRUE(lease_confirmed(sent, sent + milliseconds(11999), milliseconds(15000)));
  EXPECT_FALSE(lease_confirmed(sent, sent + milliseconds(12000), milliseconds(15000)));
  EXPECT_FALSE(lease_confirmed(sent, sent + seconds(60), milliseconds(15000)));  // frozen past its lease
}

TEST(Sweep, GraceOnlyInBrokerMode) {
  const TimePoint t = now();
  CommandRecord r;
  r.issued_at = t - seconds(2);
  EXPECT_TRUE(sweep_takes(r, false, t, seconds(5)));
  EXPECT_FALSE(sweep_takes(r, true, t, seconds(5)));
  r.issued_at = t - seconds(6);
  EXPECT_TRUE(sweep_takes(r, true, t, seconds(5)));
  r.claimed_by = "m";
  EXPECT_FALSE(sweep_takes(r, false, t, seconds(5)));
  r.claimed_by.reset();
  r.flag = CmdFlag::executed;
  EXPECT_FALSE(sweep_takes(r, false, t, seconds(5)));
}

}  // namespace
}  // namespace dc
