// How commands reach the manager (SPEC §2, §3, §6.1-6.3): broadcasts to
// several managers, a command waiting in the durable queue of a manager
// that is down, duplicate deliveries taking effect once, per-app order when
// a publish was lost, an outside pika client publishing the design note's
// message, poison messages dead-lettered without stopping the manager, and
// a preloaded queue of mixed commands taken in runs.
#include <gtest/gtest.h>

#include <string>

#include "base/ids.h"
#include "e2e/e2e_fixture.h"
#include "protocol/command.h"

namespace dc::e2e {
namespace {

using nlohmann::json;

class E2eDeliveryTest : public E2eTest {};

TEST_P(E2eDeliveryTest, BroadcastReachesEveryManagerForItsOwnAppsOnly) {
  const std::string ma = w().unique("m_a");
  const std::string mb = w().unique("m_b");
  const std::vector<std::string> apps_a = {w().unique("a1"), w().unique("a2")};
  const std::vector<std::string> apps_b = {w().unique("b1"), w().unique("b2")};
  for (const auto& id : apps_a) ASSERT_TRUE(w().add_app(id, ma, {"/bin/true"}));
  for (const auto& id : apps_b) ASSERT_TRUE(w().add_app(id, mb, {"/bin/true"}));
  ASSERT_NE(start(ma), nullptr);
  ASSERT_NE(start(mb), nullptr);

  // DISABLE --all --manager m_a: m_a's apps only.
  json report = issue({"disable", "--all", "--manager", ma});
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["routing_key"], ma);
  auto rows = w().rows(report.value("cmd_id", ""));
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.flag, CmdFlag::executed) << row.app_id;
    EXPECT_EQ(row.claimed_by, ma) << row.app_id;
  }
  for (const auto& id : apps_a) EXPECT_TRUE(w().app(id)->disable) << id;
  for (const auto& id : apps_b) EXPECT_FALSE(w().app(id)->disable) << id;

  // Everyone disabled, then ENABLE --all: every manager, its own apps.
  report = issue({"disable", "--all", "--manager", mb});
  for (const auto& id : apps_b) EXPECT_TRUE(w().app(id)->disable) << id;
  report = issue({"enable", "--all"});
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["routing_key"], "all");
  rows = w().rows(report.value("cmd_id", ""));
  ASSERT_EQ(rows.size(), 4u) << "one row per app of every manager, none extra";
  for (const auto& row : rows) {
    const bool of_a = std::find(apps_a.begin(), apps_a.end(), row.app_id) != apps_a.end();
    EXPECT_EQ(row.flag, CmdFlag::executed) << row.app_id;
    EXPECT_EQ(row.claimed_by, of_a ? ma : mb) << row.app_id << " was run by the wrong manager";
    EXPECT_EQ(row.target, "*");
  }
  for (const auto& id : apps_a) EXPECT_FALSE(w().app(id)->disable) << id;
  for (const auto& id : apps_b) EXPECT_FALSE(w().app(id)->disable) << id;
}

TEST_P(E2eDeliveryTest, CommandIssuedWhileManagerIsDownWaitsInItsQueue) {
  const std::string manager = w().unique("mgr");
  const std::string app_id = w().unique("app");
  ASSERT_TRUE(w().add_app(app_id, manager, {collector_app()}));

  // The manager has never run: dcctl declares its queue and publishes there.
  json report = w().dcctl_json({"start", app_id});
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["published"], true) << report.dump();
  const std::string cmd_id = report.value("cmd_id", "");
  EXPECT_EQ(w().queue_count(manager), std::optional<uint32_t>(1));

  ASSERT_NE(start(manager), nullptr);
  const auto rows = w().wait_outcome(cmd_id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].flag, CmdFlag::executed);
  std::cout << "[ figure ] command issued while its manager was down delivered via "
            << (rows[0].path ? to_string(*rows[0].path) : "?") << " (" << to_string(GetParam()) << ")\n";
  // The queued message was consumed and acknowledged, and ran only once.
  EXPECT_TRUE(wait_until([&] { return w().queue_count(manager) == std::optional<uint32_t>(0); }, 10s));
  EXPECT_TRUE(wait_until([&] { return w().witness_lines(app_id).size() == 1; }, 10s));
  ASSERT_EQ(w().issue_marker_and_wait(app_id), CmdFlag::executed);
  EXPECT_EQ(w().witness_lines(app_id).size(), 1u) << "the app was started twice";
  EXPECT_EQ(w().app(app_id)->status, AppStatus::running);
}

TEST_P(E2eDeliveryTest, DuplicatePublishTakesEffectOnce) {
  const std::string manager = w().unique("mgr");
  const std::string app_id = w().unique("app");
  ASSERT_TRUE(w().add_app(app_id, manager, {collector_app()}));
  ASSERT_NE(start(manager), nullptr);

  // RESTART: were it carried out twice, the app would start twice.
  const Command restart = outside_command(CmdName::restart, app_id);
  ASSERT_TRUE(w().publish(manager, serialize_command_body(restart), restart.id, /*copies=*/2));
  auto rows = w().wait_outcome(restart.id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].flag, CmdFlag::executed);
  EXPECT_EQ(rows[0].path, DeliveryPath::broker);
  // A later command goes through the same queue, so once it is done the
  // second copy has been handled too.
  ASSERT_EQ(w().issue_marker_and_wait(app_id), CmdFlag::executed);
  EXPECT_EQ(w().queue_count(manager), std::optional<uint32_t>(0));
  EXPECT_EQ(w().rows(restart.id).size(), 1u);
  EXPECT_EQ(w().witness_lines(app_id).size(), 1u) << "the duplicate delivery ran the command again";
}

TEST_P(E2eDeliveryTest, OlderUnpublishedCommandRunsFirst) {
  const std::string manager = w().unique("mgr");
  const std::string app_id = w().unique("app");
  ASSERT_TRUE(w().add_app(app_id, manager, {"/bin/true"}));
  ASSERT_NE(start(manager), nullptr);

  // A source recorded DISABLE but its publish never happened...
  const Command older = outside_command(CmdName::disable, app_id);
  auto recorded = w().store().record_command(older);
  ASSERT_TRUE(recorded.ok()) << recorded.error().message();
  // ...then ENABLE is issued normally and arrives through the broker.
  json report = issue({"enable", app_id});
  ASSERT_TRUE(report.is_object());
  const auto newer_rows = w().rows(report.value("cmd_id", ""));
  const auto older_rows = w().rows(older.id);
  ASSERT_EQ(newer_rows.size(), 1u);
  ASSERT_EQ(older_rows.size(), 1u);
  EXPECT_EQ(newer_rows[0].flag, CmdFlag::executed);
  EXPECT_EQ(older_rows[0].flag, CmdFlag::executed) << "the older command was not run before the newer one";
  ASSERT_TRUE(older_rows[0].executed_at && newer_rows[0].executed_at);
  EXPECT_LE(*older_rows[0].executed_at, *newer_rows[0].executed_at);
  EXPECT_FALSE(w().app(app_id)->disable) << "the older DISABLE took effect after the newer ENABLE";
}

TEST_P(E2eDeliveryTest, PikaClientPublishingTheDesignNoteMessageGetsItExecuted) {
  const std::string manager = w().unique("mgr");
  const std::string app_id = w().unique("app");
  ASSERT_TRUE(w().add_app(app_id, manager, w().env_recording_app()));
  ASSERT_NE(start(manager), nullptr);

  // The design note's example, verbatim but for the app id.
  const std::string body =
      "{\n"
      "    \"app_id\": \"" +
      app_id +
      "\",\n"
      "    \"command\": 1,\n"
      "    \"issued_by\": \"admin@example.com\",\n"
      "    \"timestamp\": \"2025-01-15T10:30:00Z\",\n"
      "    \"args\": {\"company_id\": \"123456\", \"monitoring\": true}\n"
      "}";
  const std::string body_file = w().dir() + "/note-message.json";
  write_file(body_file, body);
  ToolRun run = run_tool({"/usr/bin/python3", std::string(DC_E2E_DIR) + "/pika_publish.py", w().broker().host,
                          std::to_string(w().broker().port), w().exchange(), manager, body_file},
                         w().base_env(), w().dir(), 30s);
  ASSERT_EQ(run.exit_code, 0) << "pika publish failed: " << run.out << run.err;

  std::vector<CommandRecord> rows;
  ASSERT_TRUE(wait_until(
      [&] {
        rows = w().rows_of_app(app_id);
        return rows.size() == 1 && rows[0].flag != CmdFlag::pending;
      },
      20s))
      << "the pika-published command was not carried out";
  EXPECT_EQ(rows[0].flag, CmdFlag::executed) << rows[0].result.value_or("");
  EXPECT_EQ(rows[0].command, CmdName::start);
  EXPECT_EQ(rows[0].issued_by, "admin@example.com");
  EXPECT_EQ(to_unix_micros(rows[0].issued_at), int64_t{1736937000} * 1'000'000)
      << "the body's timestamp is the issue time: " << format_iso8601(rows[0].issued_at);
  const json expected_args = {{"company_id", "123456"}, {"monitoring", true}};
  EXPECT_EQ(json::parse(rows[0].args_json, nullptr, false), expected_args);
  auto app = w().app(app_id);
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->status, AppStatus::running);
  EXPECT_TRUE(app->pid && process_alive(*app->pid));
  std::map<std::string, std::string> passed;
  ASSERT_TRUE(wait_until([&] { return !(passed = w().passed_env(rows[0].cmd_id, app_id)).empty(); }, 10s));
  EXPECT_EQ(json::parse(passed["DC_ARGS"], nullptr, false), expected_args) << passed["DC_ARGS"];
  EXPECT_EQ(passed["DC_APP_ID"], app_id);
}

TEST_P(E2eDeliveryTest, APreloadedMixedQueueRunsEachCommandOnceInPerAppOrder) {
  // Everything waits in the queue before the manager starts, so it arrives
  // together, up to the prefetch window: runs of ENABLE/DISABLE share a
  // transaction, a START in the middle takes the general path, poison and a
  // duplicate sit among them.
  const std::string manager = w().unique("mgr");
  const std::string flags = w().unique("flags");
  const std::string runner = w().unique("runner");
  const std::string late = w().unique("late");
  ASSERT_TRUE(w().add_app(flags, manager, {"/bin/true"}));
  ASSERT_TRUE(w().add_app(runner, manager, {collector_app()}));
  ASSERT_TRUE(w().add_app(late, manager, {"/bin/true"}));
  ASSERT_TRUE(w().declare_queue(manager));

  // A source recorded DISABLE for `late` but never published it: it must
  // run before the ENABLE for `late` in the queue (the start-up sweep or the
  // per-app order check takes it, whichever comes first).
  const Command unpublished = outside_command(CmdName::disable, late);
  ASSERT_TRUE(w().store().record_command(unpublished).ok());
  const std::vector<Command> commands = {
      outside_command(CmdName::disable, flags), outside_command(CmdName::enable, flags),
      outside_command(CmdName::start, runner),  outside_command(CmdName::disable, runner),
      outside_command(CmdName::disable, flags), outside_command(CmdName::enable, late),
  };
  for (size_t i = 0; i < commands.size(); ++i) {
    const Command& c = commands[i];
    ASSERT_TRUE(w().publish(manager, serialize_command_body(c), c.id, /*copies=*/i == 1 ? 2 : 1));
    if (i == 0) {
      ASSERT_TRUE(w().publish(manager, "not a command", ""));
    }
  }
  ASSERT_NE(start(manager, {{"DC_RABBIT_PREFETCH", "64"}}), nullptr);

  std::vector<CommandRecord> outcome;
  for (const Command& c : commands) {
    auto rows = w().wait_outcome(c.id);
    ASSERT_EQ(rows.size(), 1u) << to_string(c.name) << " " << c.app_id;
    EXPECT_EQ(rows[0].flag, CmdFlag::executed) << to_string(c.name) << " " << c.app_id;
    EXPECT_EQ(rows[0].path, DeliveryPath::broker);
    ASSERT_TRUE(rows[0].executed_at.has_value());
    outcome.push_back(rows[0]);
  }
  auto older = w().wait_outcome(unpublished.id);
  ASSERT_EQ(older.size(), 1u);
  EXPECT_EQ(older[0].flag, CmdFlag::executed) << "the recorded, unpublished command was not run first";
  ASSERT_TRUE(older[0].executed_at.has_value());

  // Per-app order, and the last word of each app stands.
  EXPECT_LE(*outcome[0].executed_at, *outcome[1].executed_at);
  EXPECT_LE(*outcome[1].executed_at, *outcome[4].executed_at);
  EXPECT_LE(*outcome[2].executed_at, *outcome[3].executed_at);
  EXPECT_LE(*older[0].executed_at, *outcome[5].executed_at);
  EXPECT_TRUE(w().app(flags)->disable);
  EXPECT_EQ(w().app(flags)->cmd_id, commands[4].id);
  EXPECT_TRUE(w().app(runner)->disable);
  EXPECT_EQ(w().app(runner)->status, AppStatus::running);
  EXPECT_FALSE(w().app(late)->disable) << "the older DISABLE took effect after the newer ENABLE";

  // Each ran once; the poison went to the dead letters; nothing is left.
  EXPECT_EQ(w().rows_of_app(flags).size(), 3u);
  EXPECT_TRUE(wait_until([&] { return w().witness_lines(runner).size() == 1; }, 10s));
  EXPECT_TRUE(wait_until([&] { return w().queue_count(w().dead_letter_queue()) == std::optional<uint32_t>(1); }, 10s))
      << "dead letters: " << w().queue_count(w().dead_letter_queue()).value_or(9999);
  EXPECT_TRUE(wait_until([&] { return w().queue_count(manager) == std::optional<uint32_t>(0); }, 10s));
  ASSERT_EQ(w().issue_marker_and_wait(runner), CmdFlag::executed);
  EXPECT_EQ(w().witness_lines(runner).size(), 1u) << "the app was started twice";
}

TEST_P(E2eDeliveryTest, PoisonIsDeadLetteredAndTheManagerCarriesOn) {
  const std::string manager = w().unique("mgr");
  const std::string app_id = w().unique("app");
  ASSERT_TRUE(w().add_app(app_id, manager, {"/bin/true"}));
  ManagerProcess* m = start(manager);
  ASSERT_NE(m, nullptr);

  ASSERT_TRUE(w().publish(manager, "this is not JSON {", ""));
  ASSERT_TRUE(w().publish(manager, R"({"app_id": 42, "command": 1})", ""));
  EXPECT_TRUE(wait_until([&] { return w().queue_count(w().dead_letter_queue()) == std::optional<uint32_t>(2); }, 15s))
      << "dead letters: " << w().queue_count(w().dead_letter_queue()).value_or(9999);
  EXPECT_TRUE(m->child->running()) << "a poison message stopped the manager";

  json report = issue({"disable", app_id});
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["outcomes"][0]["flag"], 1) << report.dump();
  EXPECT_TRUE(w().app(app_id)->disable);
  EXPECT_EQ(w().rows_of_app(app_id).size(), 1u) << "poison left rows in the command log";
}

TEST_P(E2eDeliveryTest, WithCommandSecretOnlySignedCommandsRun) {
  const std::string manager = w().unique("mgr");
  const std::string app_id = w().unique("app");
  ASSERT_TRUE(w().add_app(app_id, manager, {"/bin/true"}));
  // The manager accepts the current and the previous key (rotation).
  ManagerProcess* m = start(manager, {{"DC_COMMAND_SECRET", "current-key,previous-key"}});
  ASSERT_NE(m, nullptr);

  // dcctl signing with either key of the set: carried out.
  auto run_signed = [&](const std::string& key, const std::string& verb) {
    std::vector<std::string> args{verb, app_id, "--wait=20", "--json"};
    ToolRun run = w().dcctl(args, {{"DC_COMMAND_SECRET", key}});
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    return run;
  };
  run_signed("previous-key", "disable");
  EXPECT_TRUE(w().app(app_id)->disable);
  run_signed("current-key", "enable");
  EXPECT_FALSE(w().app(app_id)->disable);

  // Unsigned (an outside publisher) and wrongly signed (dcctl with a retired
  // key) messages are poison: dead-lettered, not run through the broker.
  ASSERT_TRUE(w().publish(manager, serialize_command_body(outside_command(CmdName::disable, app_id)), ""));
  ToolRun wrong = w().dcctl({"disable", app_id, "--json"}, {{"DC_COMMAND_SECRET", "retired-key"}});
  EXPECT_EQ(wrong.exit_code, 0) << wrong.out << wrong.err;
  EXPECT_TRUE(wait_until([&] { return w().queue_count(w().dead_letter_queue()) == std::optional<uint32_t>(2); }, 15s))
      << "dead letters: " << w().queue_count(w().dead_letter_queue()).value_or(9999);
  EXPECT_TRUE(m->child->running());
}

DC_E2E_BACKENDS(E2eDeliveryTest);

}  // namespace
}  // namespace dc::e2e
