// Every command type carried out on a real process by the real dc-manager,
// issued with the real dcctl (SPEC §6.5, §7): what the app receives, what
// happens to its process, what the store records, and dcctl --wait's exit
// codes. Stop escalation to SIGKILL for an app that ignores SIGTERM.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "e2e/e2e_fixture.h"

namespace dc::e2e {
namespace {

using nlohmann::json;

class E2eCommandsTest : public E2eTest {};

// The outcome dcctl --wait --json reported for its single row.
json only_outcome(const json& report) {
  if (!report.is_object() || !report.contains("outcomes") || report["outcomes"].size() != 1) return json::object();
  return report["outcomes"][0];
}

TEST_P(E2eCommandsTest, EveryCommandTypeOnARealProcess) {
  const std::string manager = w().unique("mgr");
  const std::string app_id = w().unique("app");
  ASSERT_TRUE(w().add_app(app_id, manager, w().env_recording_app()));
  ASSERT_NE(start(manager), nullptr);

  // START with args that a shell would mangle: they must arrive byte for byte.
  const json args = {{"company_id", "123456"},
                     {"monitoring", true},
                     {"note",
                      "quotes \" and 'single', \xc3\xbcnic\xc3\xb6"
                      "de, $HOME; `not a shell` \\n"},
                     {"nested", {{"list", {1, 2.5, nullptr}}}}};
  json report = issue({"start", app_id, "--args", args.dump(), "--issued-by", "e2e@example.com"});
  ASSERT_TRUE(report.is_object());
  const std::string start_id = report.value("cmd_id", "");
  EXPECT_EQ(report["published"], true) << report.dump();
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  EXPECT_EQ(only_outcome(report).value("path", ""), "broker") << report.dump();

  auto app = w().app(app_id);
  ASSERT_TRUE(app.has_value());
  ASSERT_EQ(app->status, AppStatus::running);
  ASSERT_TRUE(app->pid.has_value());
  const int64_t first_pid = *app->pid;
  EXPECT_TRUE(process_alive(first_pid)) << "pid " << first_pid << " recorded RUNNING is not alive";
  EXPECT_TRUE(process_has_env(first_pid, "DC_COMMAND_ID=" + start_id)) << "pid " << first_pid << " is not our app";
  EXPECT_EQ(app->cmd, CmdName::start);
  EXPECT_EQ(app->cmd_flag, CmdFlag::executed);
  EXPECT_EQ(app->cmd_id, start_id);
  EXPECT_EQ(app->cmd_issued_by, "e2e@example.com");

  // What the app was given (DC_APP_ID, DC_MANAGER, DC_COMMAND_ID, DC_ARGS).
  std::map<std::string, std::string> passed;
  ASSERT_TRUE(wait_until([&] { return !(passed = w().passed_env(start_id, app_id)).empty(); }, 10s))
      << "the app never recorded its environment";
  EXPECT_EQ(passed["DC_APP_ID"], app_id);
  EXPECT_EQ(passed["DC_MANAGER"], manager);
  EXPECT_EQ(passed["DC_COMMAND_ID"], start_id);
  const json received = json::parse(passed["DC_ARGS"], nullptr, false);
  EXPECT_EQ(received, args) << "DC_ARGS as received: " << passed["DC_ARGS"];
  ASSERT_TRUE(wait_until([&] { return w().witness_lines(app_id).size() == 1; }, 10s));
  EXPECT_EQ(w().witness_lines(app_id).front(), app_id + " " + start_id);

  // START of a running app: an EXECUTED no-op, same process.
  report = issue({"start", app_id});
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  app = w().app(app_id);
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->status, AppStatus::running);
  EXPECT_EQ(app->pid, first_pid) << "START of a running app replaced its process";
  EXPECT_TRUE(process_alive(first_pid));

  // RESTART: the old process is gone, a new one runs.
  report = issue({"restart", app_id});
  const std::string restart_id = report.value("cmd_id", "");
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  app = w().app(app_id);
  ASSERT_TRUE(app.has_value());
  ASSERT_EQ(app->status, AppStatus::running);
  ASSERT_TRUE(app->pid.has_value());
  const int64_t second_pid = *app->pid;
  EXPECT_NE(second_pid, first_pid);
  EXPECT_FALSE(process_alive(first_pid)) << "RESTART left the old process running";
  EXPECT_TRUE(process_alive(second_pid));
  EXPECT_TRUE(process_has_env(second_pid, "DC_COMMAND_ID=" + restart_id));
  ASSERT_TRUE(wait_until([&] { return w().witness_lines(app_id).size() == 2; }, 10s));
  EXPECT_EQ(w().witness_lines(app_id).back(), app_id + " " + restart_id);
  ASSERT_TRUE(wait_until([&] { return !(passed = w().passed_env(restart_id, app_id)).empty(); }, 10s));
  EXPECT_EQ(passed["DC_ARGS"], "{}") << "a command without --args gives the app an empty object";

  // STOP: process (and its group) gone, STOPPED, clean exit recorded.
  report = issue({"stop", app_id});
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  app = w().app(app_id);
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->status, AppStatus::stopped);
  EXPECT_FALSE(app->pid.has_value());
  EXPECT_FALSE(process_alive(second_pid)) << "STOP left the process running";
  EXPECT_TRUE(wait_until([&] { return !process_group_alive(second_pid); }, 5s)) << "STOP left the process group";
  EXPECT_EQ(app->exit_code, 0) << "the collector exits 0 on SIGTERM";

  // STOP of a stopped app: an EXECUTED no-op.
  report = issue({"stop", app_id});
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  EXPECT_EQ(w().app(app_id)->status, AppStatus::stopped);

  // DISABLE / ENABLE flip apps.disable and start nothing.
  report = issue({"disable", app_id});
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  EXPECT_TRUE(w().app(app_id)->disable);
  report = issue({"enable", app_id});
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  app = w().app(app_id);
  EXPECT_FALSE(app->disable);
  EXPECT_EQ(app->status, AppStatus::stopped);
  EXPECT_EQ(app->cmd, CmdName::enable);
  EXPECT_EQ(app->cmd_flag, CmdFlag::executed);
  EXPECT_EQ(w().witness_lines(app_id).size(), 2u) << "only START and RESTART start the app";

  // The audit trail: one row per command, in issue order, each EXECUTED by
  // this manager via the broker with a result, executed in order.
  const auto rows = w().rows_of_app(app_id);
  const std::vector<CmdName> expected = {CmdName::start, CmdName::start,   CmdName::restart, CmdName::stop,
                                         CmdName::stop,  CmdName::disable, CmdName::enable};
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(i) + " " + rows[i].cmd_id);
    EXPECT_EQ(rows[i].command, expected[i]);
    EXPECT_EQ(rows[i].flag, CmdFlag::executed);
    EXPECT_EQ(rows[i].path, DeliveryPath::broker);
    EXPECT_EQ(rows[i].claimed_by, manager);
    EXPECT_TRUE(rows[i].result.has_value() && !rows[i].result->empty());
    ASSERT_TRUE(rows[i].executed_at.has_value());
    if (i > 0) {
      EXPECT_LE(*rows[i - 1].executed_at, *rows[i].executed_at);
    }
  }
  EXPECT_EQ(rows[0].args_json, args.dump());
  EXPECT_NE(rows[0].result->find("started pid " + std::to_string(first_pid)), std::string::npos) << *rows[0].result;
}

TEST_P(E2eCommandsTest, WaitExitCodes) {
  const std::string manager = w().unique("mgr");
  const std::string absent_manager = w().unique("nobody");
  const std::string good = w().unique("good");
  const std::string missing = w().unique("missing");
  const std::string orphan = w().unique("orphan");
  const std::string missing_binary = w().dir() + "/no-such-dir/no-such-binary";
  ASSERT_TRUE(w().add_app(good, manager, {"/bin/true"}));
  ASSERT_TRUE(w().add_app(missing, manager, {missing_binary, "--flag"}));
  ASSERT_TRUE(w().add_app(orphan, absent_manager, {"/bin/true"}));
  ASSERT_NE(start(manager), nullptr);

  // 0: EXECUTED.
  ToolRun run = w().dcctl({"enable", good, "--wait=20"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("EXECUTED"), std::string::npos) << run.out;

  // 1: NOT_EXECUTED with a reason naming the missing binary.
  json report = w().dcctl_json({"start", missing, "--wait=20"}, 1);
  ASSERT_TRUE(report.is_object());
  const json outcome = only_outcome(report);
  EXPECT_EQ(outcome.value("flag", -1), 2) << report.dump();
  EXPECT_NE(outcome.value("result", "").find(missing_binary), std::string::npos)
      << "the reason should name the binary: " << report.dump();
  auto app = w().app(missing);
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->cmd_flag, CmdFlag::not_executed);
  EXPECT_NE(app->status, AppStatus::running);
  EXPECT_TRUE(app->cmd_result.has_value() && app->cmd_result->find(missing_binary) != std::string::npos);

  // 3: the owning manager is not running; the command is stored and waits.
  report = w().dcctl_json({"start", orphan, "--wait=1"}, 3);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["timed_out"], true) << report.dump();
  EXPECT_EQ(report["stored"], true);
  const auto rows = w().rows(report.value("cmd_id", ""));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].flag, CmdFlag::pending);
  EXPECT_EQ(w().queue_count(absent_manager), std::optional<uint32_t>(1))
      << "the command should wait in the absent manager's durable queue";
}

TEST_P(E2eCommandsTest, StopEscalatesToSigkillAfterStopTimeout) {
  const std::string manager = w().unique("mgr");
  const std::string app_id = w().unique("stubborn");
  ASSERT_TRUE(w().add_app(app_id, manager, {ignore_sigterm_app()}));
  ASSERT_NE(start(manager, {{"DC_STOP_TIMEOUT", "1"}}), nullptr);

  json report = issue({"start", app_id});
  ASSERT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  auto app = w().app(app_id);
  ASSERT_TRUE(app.has_value() && app->pid.has_value());
  const int64_t pid = *app->pid;
  // SIGTERM must arrive after the trap is set, or it would simply work.
  const std::string log = w().dir() + "/logs/" + app_id + ".log";
  ASSERT_TRUE(wait_until([&] { return read_file(log).find("ready") != std::string::npos; }, 10s)) << read_file(log);

  report = issue({"stop", app_id});
  const json outcome = only_outcome(report);
  EXPECT_EQ(outcome.value("flag", -1), 1) << report.dump();
  EXPECT_NE(outcome.value("result", "").find("killed"), std::string::npos) << report.dump();
  const auto rows = w().rows(report.value("cmd_id", ""));
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_TRUE(rows[0].claimed_at && rows[0].executed_at);
  const double stop_seconds = std::chrono::duration<double>(*rows[0].executed_at - *rows[0].claimed_at).count();
  std::cout << "[ figure ] STOP of a SIGTERM-ignoring app with stop_timeout=1: " << stop_seconds << " s ("
            << to_string(GetParam()) << ")\n";
  EXPECT_GE(stop_seconds, 1.0) << "SIGKILL came before stop_timeout";
  EXPECT_LT(stop_seconds, 8.0) << "SIGKILL came far too late";
  EXPECT_FALSE(process_alive(pid));
  EXPECT_TRUE(wait_until([&] { return !process_group_alive(pid); }, 5s)) << "the app's children survived";
  app = w().app(app_id);
  EXPECT_EQ(app->status, AppStatus::stopped);
  EXPECT_FALSE(app->pid.has_value());
}

TEST_P(E2eCommandsTest, AnAppExitingByItselfIsReapedAndCanBeStartedAgain) {
  const std::string manager = w().unique("mgr");
  const std::string app_id = w().unique("short");
  ASSERT_TRUE(w().add_app(app_id, manager, {"/bin/sh", "-c", "exit 3"}));
  ASSERT_NE(start(manager), nullptr);

  json report = issue({"start", app_id});
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  std::optional<App> app;
  ASSERT_TRUE(wait_until(
      [&] {
        app = w().app(app_id);
        return app && app->status != AppStatus::running;
      },
      10s))
      << "the exit was never recorded";
  EXPECT_EQ(app->status, AppStatus::failed);
  EXPECT_EQ(app->exit_code, 3);
  EXPECT_FALSE(app->pid.has_value());

  // STOP of an app that already ended is a no-op; START runs it again.
  report = issue({"stop", app_id});
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  report = issue({"start", app_id});
  EXPECT_EQ(only_outcome(report).value("flag", -1), 1) << report.dump();
  EXPECT_NE(only_outcome(report).value("result", "").find("started pid"), std::string::npos) << report.dump();
}

DC_E2E_BACKENDS(E2eCommandsTest);

}  // namespace
}  // namespace dc::e2e
