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

TEST(Schedule, DueOnlyWhenEnabledIdleAndTime) {
  const TimePoint t = now();
  App app = app_of("m");
  EXPECT_FALSE(schedule_due(app, false, t));  // no schedule
  app.schedule = "every 5s";
  app.next_run_at = t - seconds(1);
  EXPECT_TRUE(schedule_due(app, false, t));
  EXPECT_FALSE(schedule_due(app, true, t));
  app.disable = true;
  EXPECT_FALSE(schedule_due(app, false, t));
  app.disable = false;
  app.next_run_at = t + seconds(1);
  EXPECT_FALSE(schedule_due(app, false, t));
  app.next_run_at.reset();
  EXPECT_FALSE(schedule_due(app, false, t));
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
