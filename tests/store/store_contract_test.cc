// The contract suite (see store_contract.h): one TEST_P per promise of
// store.h, run against every backend.
#include <poll.h>

#include <chrono>
#include <thread>

#include "store/store_contract.h"

namespace dc::test {
namespace {

using namespace std::chrono_literals;

App make_app(std::string app_id, std::string manager) {
  App app;
  app.app_id = std::move(app_id);
  app.name = "name of " + app.app_id;
  app.manager = std::move(manager);
  app.exec = {"/bin/sleep", "60"};
  return app;
}

Command make_command(std::string id, std::string app_id, CmdName name = CmdName::start) {
  Command command;
  command.id = std::move(id);
  command.app_id = std::move(app_id);
  command.name = name;
  command.issued_by = "tester@host";
  command.issued_at = from_unix_micros(1'736'937'000'123'456);
  command.args_json = R"({"company_id":"123456","monitoring":true})";
  return command;
}

CommandRecord record_for(std::string cmd_id, std::string app_id, CmdName name = CmdName::start) {
  CommandRecord record;
  record.cmd_id = std::move(cmd_id);
  record.app_id = std::move(app_id);
  record.target = record.app_id;
  record.command = name;
  record.issued_by = "outside@source";
  record.issued_at = from_unix_micros(1'736'937'000'000'000);
  return record;
}

Outcome executed(std::string result, std::optional<AppState> state = std::nullopt) {
  Outcome outcome;
  outcome.flag = CmdFlag::executed;
  outcome.result = std::move(result);
  outcome.path = DeliveryPath::broker;
  outcome.app_state = std::move(state);
  return outcome;
}

// A manager record; its instance is "<host>/<pid>" unless given.
ManagerRecord manager_record(std::string name, std::string host, int64_t pid, std::string instance = "") {
  ManagerRecord record;
  record.name = std::move(name);
  record.host = std::move(host);
  record.pid = pid;
  record.mode = ManagerMode::broker;
  record.version = "0.1.0";
  record.instance = instance.empty() ? record.host.substr(0, 40) + "/" + std::to_string(pid) : std::move(instance);
  return record;
}

// ------------------------------------------------------------ schema

TEST_P(StoreContract, FreshDatabaseHasCurrentSchema) {
  EXPECT_EQ(store_->backend(), is_postgres() ? "postgresql" : "sqlite");
  ASSERT_OK_AND_ASSIGN(const int version, store_->schema_version());
  EXPECT_EQ(version, Store::current_schema_version());
  EXPECT_GE(Store::current_schema_version(), 1);
}

TEST_P(SharedStoreContract, ReopenKeepsDataAndSchema) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  store_.reset();
  ASSERT_OK_AND_ASSIGN(auto reopened, db_->open());
  ASSERT_OK_AND_ASSIGN(const int version, reopened->schema_version());
  EXPECT_EQ(version, Store::current_schema_version());
  ASSERT_OK_AND_ASSIGN(auto app, reopened->get_app("a1"));
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->manager, "m1");
  // Migrations ran once: one row per version.
  ASSERT_OK_AND_ASSIGN(auto rows, db_->raw_query("SELECT COUNT(*) FROM schema_version"));
  EXPECT_EQ(rows.at(0).at(0), std::to_string(Store::current_schema_version()));
}

TEST_P(SharedStoreContract, RefusesDatabaseFromNewerVersion) {
  const int newer = Store::current_schema_version() + 1;
  ASSERT_OK(db_->raw_query("INSERT INTO schema_version (version, applied_at) VALUES (" + std::to_string(newer) +
                           ", '2030-01-01T00:00:00.000000Z')"));
  auto reopened = db_->open();
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().code(), Errc::schema);
  EXPECT_NE(reopened.error().message().find("upgrade dc"), std::string::npos) << reopened.error().message();
  EXPECT_NE(reopened.error().message().find(std::to_string(newer)), std::string::npos);
}

TEST_P(SharedStoreContract, ConcurrentFirstOpensAllSucceed) {
  // A second fresh database, opened for the first time by 6 threads at once.
  store_.reset();
  db_.reset();
  ASSERT_OK_AND_ASSIGN(db_, TestDatabase::create(GetParam()));
  std::vector<std::thread> threads;
  std::vector<std::optional<Error>> errors(6);
  for (size_t i = 0; i < errors.size(); ++i) {
    threads.emplace_back([&, i] {
      auto store = db_->open();
      if (!store) errors[i] = store.error();
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) EXPECT_FALSE(error.has_value()) << error->message();
  ASSERT_OK_AND_ASSIGN(auto rows, db_->raw_query("SELECT COUNT(*) FROM schema_version"));
  EXPECT_EQ(rows.at(0).at(0), std::to_string(Store::current_schema_version()));
}

TEST_P(SharedStoreContract, TimesAreStoredAsFixedWidthIsoUtc) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->record_command(make_command("c1", "a1")));
  ASSERT_OK_AND_ASSIGN(auto rows, db_->raw_query("SELECT issued_at FROM commands"));
  EXPECT_EQ(rows.at(0).at(0), "2025-01-15T10:30:00.123456Z");
  ASSERT_OK(store_->set_next_run("a1", from_unix_micros(1'736'937'000'000'000)));
  ASSERT_OK_AND_ASSIGN(rows, db_->raw_query("SELECT next_run_at, status FROM apps"));
  EXPECT_EQ(rows.at(0).at(0), "2025-01-15T10:30:00.000000Z");
  EXPECT_EQ(rows.at(0).at(1), "STOPPED");
}

// ------------------------------------------------------------ apps

TEST_P(StoreContract, AddGetListUpdateRemoveApps) {
  App a1 = make_app("a1", "m1");
  a1.schedule = "every 5m";
  a1.disable = true;
  a1.exec = {"/usr/bin/env", "python3", "-c", "print('hi')", ""};
  ASSERT_OK(store_->add_app(a1));
  ASSERT_OK(store_->add_app(make_app("b2", "m2")));
  ASSERT_OK(store_->add_app(make_app("a0", "m1")));

  ASSERT_OK_AND_ASSIGN(auto got, store_->get_app("a1"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->name, "name of a1");
  EXPECT_EQ(got->manager, "m1");
  EXPECT_EQ(got->exec, a1.exec);
  EXPECT_EQ(got->schedule, "every 5m");
  EXPECT_TRUE(got->disable);
  EXPECT_EQ(got->status, AppStatus::stopped);
  EXPECT_FALSE(got->pid.has_value());
  EXPECT_FALSE(got->cmd.has_value());
  EXPECT_FALSE(got->cmd_flag.has_value());

  ASSERT_OK_AND_ASSIGN(auto all, store_->list_apps());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].app_id, "a0");  // ordered by app_id
  EXPECT_EQ(all[2].app_id, "b2");
  ASSERT_OK_AND_ASSIGN(auto of_m1, store_->list_apps(AppFilter{"m1"}));
  ASSERT_EQ(of_m1.size(), 2u);
  for (const App& app : of_m1) EXPECT_EQ(app.manager, "m1");

  App changed = a1;
  changed.manager = "m3";
  changed.schedule.reset();
  changed.disable = false;
  changed.exec = {"/bin/true"};
  changed.status = AppStatus::running;  // not a registry field: ignored
  ASSERT_OK(store_->update_app(changed));
  ASSERT_OK_AND_ASSIGN(got, store_->get_app("a1"));
  EXPECT_EQ(got->manager, "m3");
  EXPECT_FALSE(got->schedule.has_value());
  EXPECT_FALSE(got->disable);
  EXPECT_EQ(got->exec, std::vector<std::string>{"/bin/true"});
  EXPECT_EQ(got->status, AppStatus::stopped);

  ASSERT_OK(store_->remove_app("a1"));
  ASSERT_OK_AND_ASSIGN(got, store_->get_app("a1"));
  EXPECT_FALSE(got.has_value());
}

TEST_P(StoreContract, AppErrorsAreTyped) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  EXPECT_ERRC(store_->add_app(make_app("a1", "m2")), Errc::conflict);
  EXPECT_ERRC(store_->update_app(make_app("nope", "m1")), Errc::not_found);
  EXPECT_ERRC(store_->remove_app("nope"), Errc::not_found);
  EXPECT_ERRC(store_->set_app_state("nope", AppState{}), Errc::not_found);
  EXPECT_ERRC(store_->set_next_run("nope", std::nullopt), Errc::not_found);
  EXPECT_ERRC(store_->add_app(make_app("bad/id", "m1")), Errc::invalid_argument);
  EXPECT_ERRC(store_->add_app(make_app("", "m1")), Errc::invalid_argument);
  EXPECT_ERRC(store_->add_app(make_app("a2", "")), Errc::invalid_argument);
  App no_exec = make_app("a3", "m1");
  no_exec.exec.clear();
  EXPECT_ERRC(store_->add_app(no_exec), Errc::invalid_argument);
  ASSERT_OK_AND_ASSIGN(auto missing, store_->get_app("nope"));
  EXPECT_FALSE(missing.has_value());
  // The failed adds left nothing behind.
  ASSERT_OK_AND_ASSIGN(auto all, store_->list_apps());
  EXPECT_EQ(all.size(), 1u);
}

TEST_P(StoreContract, AppStateAndNextRunRoundTrip) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  AppState state;
  state.status = AppStatus::running;
  state.disable = true;
  state.pid = 4242;
  state.proc_start = 987654321;
  state.exit_code = -9;
  state.started_at = from_unix_micros(1'700'000'000'000'001);
  state.stopped_at = from_unix_micros(1'700'000'100'000'000);
  ASSERT_OK(store_->set_app_state("a1", state));
  const TimePoint next = from_unix_micros(1'800'000'000'654'321);
  ASSERT_OK(store_->set_next_run("a1", next));
  ASSERT_OK_AND_ASSIGN(auto app, store_->get_app("a1"));
  EXPECT_EQ(app->status, AppStatus::running);
  EXPECT_TRUE(app->disable);
  EXPECT_EQ(app->pid, 4242);
  EXPECT_EQ(app->proc_start, 987654321);
  EXPECT_EQ(app->exit_code, -9);
  EXPECT_EQ(app->started_at, state.started_at);
  EXPECT_EQ(app->stopped_at, state.stopped_at);
  EXPECT_EQ(app->next_run_at, next);

  ASSERT_OK(store_->set_app_state("a1", AppState{}));
  ASSERT_OK(store_->set_next_run("a1", std::nullopt));
  ASSERT_OK_AND_ASSIGN(app, store_->get_app("a1"));
  EXPECT_EQ(app->status, AppStatus::stopped);
  EXPECT_FALSE(app->pid.has_value());
  EXPECT_FALSE(app->exit_code.has_value());
  EXPECT_FALSE(app->started_at.has_value());
  EXPECT_FALSE(app->next_run_at.has_value());
}

// ------------------------------------------------------------ record

TEST_P(StoreContract, RecordOneAppWritesRowAndMirror) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  const Command command = make_command("c1", "a1", CmdName::restart);
  ASSERT_OK_AND_ASSIGN(auto rows, store_->record_command(command));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_GT(rows[0].seq, 0);
  EXPECT_EQ(rows[0].app_id, "a1");
  EXPECT_EQ(rows[0].target, "a1");
  EXPECT_EQ(rows[0].flag, CmdFlag::pending);

  ASSERT_OK_AND_ASSIGN(auto stored, store_->get_command("c1"));
  ASSERT_EQ(stored.size(), 1u);
  const CommandRecord& row = stored[0];
  EXPECT_EQ(row.seq, rows[0].seq);
  EXPECT_EQ(row.command, CmdName::restart);
  EXPECT_EQ(row.args_json, command.args_json);
  EXPECT_EQ(row.issued_by, "tester@host");
  EXPECT_EQ(row.issued_at, command.issued_at);
  EXPECT_EQ(row.flag, CmdFlag::pending);
  EXPECT_FALSE(row.claimed_by.has_value());
  EXPECT_FALSE(row.claimed_at.has_value());
  EXPECT_FALSE(row.executed_at.has_value());
  EXPECT_FALSE(row.result.has_value());
  EXPECT_FALSE(row.path.has_value());

  ASSERT_OK_AND_ASSIGN(auto app, store_->get_app("a1"));
  EXPECT_EQ(app->cmd, CmdName::restart);
  EXPECT_EQ(app->cmd_flag, CmdFlag::pending);
  EXPECT_EQ(app->cmd_id, "c1");
  EXPECT_EQ(app->cmd_issued_by, "tester@host");
  EXPECT_EQ(app->cmd_args, command.args_json);
  EXPECT_FALSE(app->cmd_result.has_value());
}

TEST_P(StoreContract, RecordRefusesUnknownAppAndReusedId) {
  EXPECT_ERRC(store_->record_command(make_command("c1", "ghost")), Errc::not_found);
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->record_command(make_command("c1", "a1")));
  EXPECT_ERRC(store_->record_command(make_command("c1", "a1", CmdName::stop)), Errc::conflict);
  EXPECT_ERRC(store_->record_command(make_command("", "a1")), Errc::invalid_argument);
  ASSERT_OK_AND_ASSIGN(auto rows, store_->get_command("c1"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].command, CmdName::start);  // the refused STOP changed nothing
}

TEST_P(StoreContract, RecordBroadcastWritesOneRowPerApp) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->add_app(make_app("a2", "m1")));
  ASSERT_OK(store_->add_app(make_app("b1", "m2")));

  ASSERT_OK_AND_ASSIGN(auto of_m1, store_->record_command(make_command("c1", "*", CmdName::stop), "m1"));
  ASSERT_EQ(of_m1.size(), 2u);
  for (const auto& row : of_m1) {
    EXPECT_EQ(row.target, "*");
    EXPECT_EQ(row.cmd_id, "c1");
  }
  EXPECT_LT(of_m1[0].seq, of_m1[1].seq);
  ASSERT_OK_AND_ASSIGN(auto b1, store_->get_app("b1"));
  EXPECT_FALSE(b1->cmd_id.has_value());  // another manager's app: untouched
  ASSERT_OK_AND_ASSIGN(auto a2, store_->get_app("a2"));
  EXPECT_EQ(a2->cmd_id, "c1");
  EXPECT_EQ(a2->cmd, CmdName::stop);

  ASSERT_OK_AND_ASSIGN(auto every, store_->record_command(make_command("c2", "*", CmdName::disable)));
  ASSERT_EQ(every.size(), 3u);
  ASSERT_OK_AND_ASSIGN(auto rows, store_->get_command("c2"));
  EXPECT_EQ(rows.size(), 3u);
  ASSERT_OK_AND_ASSIGN(b1, store_->get_app("b1"));
  EXPECT_EQ(b1->cmd, CmdName::disable);
  EXPECT_EQ(b1->cmd_flag, CmdFlag::pending);

  ASSERT_OK_AND_ASSIGN(auto none, store_->record_command(make_command("c3", "*"), "nobody"));
  EXPECT_TRUE(none.empty());
}

TEST_P(StoreContract, RemovingAnAppKeepsItsCommandRows) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->record_command(make_command("c1", "a1")));
  ASSERT_OK(store_->remove_app("a1"));
  ASSERT_OK_AND_ASSIGN(auto rows, store_->get_command("c1"));
  EXPECT_EQ(rows.size(), 1u);
}

// ------------------------------------------------------------ claim / finish

TEST_P(StoreContract, ClaimHasExactlyOneWinner) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK_AND_ASSIGN(auto rows, store_->record_command(make_command("c1", "a1")));
  ASSERT_OK_AND_ASSIGN(auto first, store_->claim(rows[0], "m1"));
  EXPECT_EQ(first, ClaimResult::claimed);
  ASSERT_OK_AND_ASSIGN(auto again, store_->claim(rows[0], "m1"));
  EXPECT_EQ(again, ClaimResult::already_claimed);
  ASSERT_OK_AND_ASSIGN(auto other, store_->claim(rows[0], "m2"));
  EXPECT_EQ(other, ClaimResult::already_claimed);

  ASSERT_OK_AND_ASSIGN(auto stored, store_->get_command("c1"));
  EXPECT_EQ(stored[0].claimed_by, "m1");
  EXPECT_TRUE(stored[0].claimed_at.has_value());

  ASSERT_OK(store_->finish("c1", "a1", "m1", executed("started")));
  ASSERT_OK_AND_ASSIGN(auto after, store_->claim(rows[0], "m2"));
  EXPECT_EQ(after, ClaimResult::already_finished);
}

TEST_P(StoreContract, ClaimInsertsARowNobodyRecorded) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  CommandRecord outside = record_for("ext-1", "a1", CmdName::stop);
  outside.args_json = R"({"k":"v"})";
  ASSERT_OK_AND_ASSIGN(auto result, store_->claim(outside, "m1"));
  EXPECT_EQ(result, ClaimResult::claimed);
  ASSERT_OK_AND_ASSIGN(auto rows, store_->get_command("ext-1"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].claimed_by, "m1");
  EXPECT_EQ(rows[0].command, CmdName::stop);
  EXPECT_EQ(rows[0].issued_by, "outside@source");
  EXPECT_EQ(rows[0].issued_at, outside.issued_at);
  EXPECT_EQ(rows[0].args_json, R"({"k":"v"})");
  EXPECT_EQ(rows[0].flag, CmdFlag::pending);
  ASSERT_OK_AND_ASSIGN(auto app, store_->get_app("a1"));
  EXPECT_EQ(app->cmd_id, "ext-1");
  EXPECT_EQ(app->cmd, CmdName::stop);
  ASSERT_OK_AND_ASSIGN(auto second, store_->claim(outside, "m2"));
  EXPECT_EQ(second, ClaimResult::already_claimed);

  // An app nobody registered still gets its audit row.
  ASSERT_OK_AND_ASSIGN(auto unknown, store_->claim(record_for("ext-2", "ghost"), "m1"));
  EXPECT_EQ(unknown, ClaimResult::claimed);
  EXPECT_ERRC(store_->claim(record_for("ext-3", "*"), "m1"), Errc::invalid_argument);
  EXPECT_ERRC(store_->claim(record_for("ext-3", "a1"), ""), Errc::invalid_argument);
}

TEST_P(StoreContract, FinishRecordsOutcomeStateAndMirror) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK_AND_ASSIGN(auto rows, store_->record_command(make_command("c1", "a1", CmdName::start)));
  ASSERT_OK(store_->claim(rows[0], "m1"));
  AppState running;
  running.status = AppStatus::running;
  running.pid = 777;
  running.proc_start = 12345;
  running.started_at = from_unix_micros(1'736'937'001'000'000);
  Outcome outcome = executed("started pid 777", running);
  outcome.path = DeliveryPath::poll;
  ASSERT_OK(store_->finish("c1", "a1", "m1", outcome));

  ASSERT_OK_AND_ASSIGN(auto stored, store_->get_command("c1"));
  EXPECT_EQ(stored[0].flag, CmdFlag::executed);
  EXPECT_EQ(stored[0].result, "started pid 777");
  EXPECT_EQ(stored[0].path, DeliveryPath::poll);
  EXPECT_TRUE(stored[0].executed_at.has_value());

  ASSERT_OK_AND_ASSIGN(auto app, store_->get_app("a1"));
  EXPECT_EQ(app->status, AppStatus::running);
  EXPECT_EQ(app->pid, 777);
  EXPECT_EQ(app->proc_start, 12345);
  EXPECT_EQ(app->started_at, running.started_at);
  EXPECT_EQ(app->cmd, CmdName::start);
  EXPECT_EQ(app->cmd_id, "c1");
  EXPECT_EQ(app->cmd_flag, CmdFlag::executed);
  EXPECT_EQ(app->cmd_result, "started pid 777");
}

TEST_P(StoreContract, ClaimAndFinishRecordsARunInOneGo) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->add_app(make_app("a2", "m1")));
  ASSERT_OK_AND_ASSIGN(auto recorded, store_->record_command(make_command("c1", "a1", CmdName::disable)));
  ASSERT_OK_AND_ASSIGN(auto taken, store_->record_command(make_command("c2", "a2", CmdName::disable)));
  ASSERT_OK(store_->claim(taken[0], "m2"));  // someone else holds c2
  ASSERT_OK_AND_ASSIGN(auto done, store_->record_command(make_command("c3", "a2", CmdName::enable)));
  ASSERT_OK(store_->claim(done[0], "m1"));
  ASSERT_OK(store_->finish("c3", "a2", "m1", executed("enabled")));

  AppState disabled;
  disabled.disable = true;
  AppState enabled;
  std::vector<FinishedCommand> items{
      {recorded[0], executed("disabled", disabled)},
      {taken[0], executed("disabled", disabled)},
      {done[0], executed("enabled", enabled)},
      {record_for("ext-1", "a1", CmdName::enable), executed("enabled", enabled)},  // nobody recorded it
  };
  ASSERT_OK_AND_ASSIGN(auto results, store_->claim_and_finish(items, "m1"));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0], ClaimResult::claimed);
  EXPECT_EQ(results[1], ClaimResult::already_claimed);
  EXPECT_EQ(results[2], ClaimResult::already_finished);
  EXPECT_EQ(results[3], ClaimResult::claimed);

  ASSERT_OK_AND_ASSIGN(auto c1, store_->get_command("c1"));
  EXPECT_EQ(c1[0].flag, CmdFlag::executed);
  EXPECT_EQ(c1[0].claimed_by, "m1");
  EXPECT_EQ(c1[0].result, "disabled");
  ASSERT_OK_AND_ASSIGN(auto c2, store_->get_command("c2"));
  EXPECT_EQ(c2[0].flag, CmdFlag::pending);
  EXPECT_EQ(c2[0].claimed_by, "m2");
  ASSERT_OK_AND_ASSIGN(auto ext, store_->get_command("ext-1"));
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(ext[0].flag, CmdFlag::executed);
  // Applied in order: a1 was disabled by c1, then enabled by ext-1.
  ASSERT_OK_AND_ASSIGN(auto a1, store_->get_app("a1"));
  EXPECT_FALSE(a1->disable);
  EXPECT_EQ(a1->cmd_id, "ext-1");
  EXPECT_EQ(a1->cmd_flag, CmdFlag::executed);
  EXPECT_EQ(a1->cmd, CmdName::enable);
  EXPECT_EQ(a1->cmd_issued_by, ext[0].issued_by);
  EXPECT_EQ(a1->cmd_args, ext[0].args_json);
  EXPECT_EQ(a1->cmd_result, "enabled");

  // The row_exists hint only orders the statements: wrong either way, the
  // outcome is the same.
  ASSERT_OK_AND_ASSIGN(auto hinted, store_->record_command(make_command("c4", "a2", CmdName::disable)));
  FinishedCommand recorded_but_hinted_absent{hinted[0], executed("disabled", disabled)};
  recorded_but_hinted_absent.row_exists = false;
  FinishedCommand absent_and_hinted_absent{record_for("ext-2", "a2", CmdName::enable), executed("enabled", enabled)};
  absent_and_hinted_absent.row_exists = false;
  FinishedCommand finished_and_hinted_absent{done[0], executed("enabled", enabled)};
  finished_and_hinted_absent.row_exists = false;
  std::vector<FinishedCommand> hints{recorded_but_hinted_absent, absent_and_hinted_absent, finished_and_hinted_absent};
  ASSERT_OK_AND_ASSIGN(auto hinted_results, store_->claim_and_finish(hints, "m1"));
  EXPECT_EQ(hinted_results[0], ClaimResult::claimed);
  EXPECT_EQ(hinted_results[1], ClaimResult::claimed);
  EXPECT_EQ(hinted_results[2], ClaimResult::already_finished);
  ASSERT_OK_AND_ASSIGN(auto c4, store_->get_command("c4"));
  ASSERT_EQ(c4.size(), 1u);
  EXPECT_EQ(c4[0].flag, CmdFlag::executed);
  EXPECT_EQ(c4[0].claimed_by, "m1");
  ASSERT_OK_AND_ASSIGN(auto ext2, store_->get_command("ext-2"));
  ASSERT_EQ(ext2.size(), 1u);
  EXPECT_EQ(ext2[0].flag, CmdFlag::executed);
  ASSERT_OK_AND_ASSIGN(auto a2, store_->get_app("a2"));
  EXPECT_EQ(a2->cmd_id, "ext-2");
  EXPECT_EQ(a2->cmd_issued_by, "outside@source");
  EXPECT_EQ(a2->cmd_args, "{}");
  EXPECT_FALSE(a2->disable);

  // A run with a bad item records nothing.
  std::vector<FinishedCommand> bad{{record_for("c9", "a1", CmdName::enable), executed("enabled", enabled)},
                                   {record_for("c10", "../x", CmdName::enable), executed("enabled", enabled)}};
  EXPECT_ERRC(store_->claim_and_finish(bad, "m1"), Errc::invalid_argument);
  ASSERT_OK_AND_ASSIGN(auto c9, store_->get_command("c9"));
  EXPECT_TRUE(c9.empty());
}

TEST_P(StoreContract, InTransactionCommitsOnSuccessOnly) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  AppState enabled;
  const std::vector<FinishedCommand> first{{record_for("t1", "a1", CmdName::enable), executed("enabled", enabled)}};
  const std::vector<FinishedCommand> second{{record_for("t2", "a1", CmdName::enable), executed("enabled", enabled)}};

  // Reads inside see the transaction's own writes; all of it commits.
  ASSERT_OK(store_->in_transaction([&]() -> Status {
    auto claimed = store_->claim_and_finish(first, "m1");
    if (!claimed) return claimed.error();
    auto place = store_->command_place("t1", "a1");
    if (!place) return place.error();
    EXPECT_TRUE(place->row.has_value());
    return ok_status();
  }));
  ASSERT_OK_AND_ASSIGN(auto t1, store_->get_command("t1"));
  ASSERT_EQ(t1.size(), 1u);
  EXPECT_EQ(t1[0].flag, CmdFlag::executed);

  // The body fails: nothing it wrote stays.
  EXPECT_ERRC(store_->in_transaction([&]() -> Status {
    auto claimed = store_->claim_and_finish(second, "m1");
    if (!claimed) return claimed.error();
    return Error(Errc::internal, "the caller changed its mind");
  }),
              Errc::internal);
  ASSERT_OK_AND_ASSIGN(auto t2, store_->get_command("t2"));
  EXPECT_TRUE(t2.empty());

  // A store call inside failed and the body ignored it: still rolled back.
  EXPECT_FALSE(store_->in_transaction([&]() -> Status {
    auto claimed = store_->claim_and_finish(second, "m1");
    if (!claimed) return claimed.error();
    (void)store_->finish("no-such-command", "a1", "m1", executed("enabled", enabled));
    return ok_status();
  }));
  ASSERT_OK_AND_ASSIGN(auto t2_again, store_->get_command("t2"));
  EXPECT_TRUE(t2_again.empty());

  // No nesting.
  EXPECT_ERRC(store_->in_transaction([&]() -> Status { return store_->in_transaction([] { return ok_status(); }); }),
              Errc::invalid_argument);
  // The store is usable afterwards.
  ASSERT_OK(store_->claim_and_finish(second, "m1"));
}

TEST_P(StoreContract, GetsOneRowAndListsScheduledApps) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  App scheduled = make_app("a2", "m1");
  scheduled.schedule = "every 5m";
  ASSERT_OK(store_->add_app(scheduled));
  ASSERT_OK(store_->add_app(make_app("a3", "m2")));
  ASSERT_OK(store_->record_command(make_command("c1", "*", CmdName::enable)));
  ASSERT_OK_AND_ASSIGN(auto row, store_->get_command_row("c1", "a2"));
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->app_id, "a2");
  EXPECT_EQ(row->target, "*");
  ASSERT_OK_AND_ASSIGN(auto none, store_->get_command_row("c1", "nope"));
  EXPECT_FALSE(none.has_value());

  AppFilter filter;
  filter.scheduled_only = true;
  ASSERT_OK_AND_ASSIGN(auto all_scheduled, store_->list_apps(filter));
  ASSERT_EQ(all_scheduled.size(), 1u);
  EXPECT_EQ(all_scheduled[0].app_id, "a2");
  filter.manager = "m2";
  ASSERT_OK_AND_ASSIGN(auto none_scheduled, store_->list_apps(filter));
  EXPECT_TRUE(none_scheduled.empty());
}

TEST_P(StoreContract, FinishWithoutStateLeavesAppRowAlone) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK_AND_ASSIGN(auto rows, store_->record_command(make_command("c1", "a1")));
  ASSERT_OK(store_->claim(rows[0], "m2"));
  Outcome refused;
  refused.flag = CmdFlag::not_executed;
  refused.result = "app a1 is owned by manager m1, not m2";
  ASSERT_OK(store_->finish("c1", "a1", "m2", refused));
  ASSERT_OK_AND_ASSIGN(auto stored, store_->get_command("c1"));
  EXPECT_EQ(stored[0].flag, CmdFlag::not_executed);
  EXPECT_EQ(stored[0].result, refused.result);
  ASSERT_OK_AND_ASSIGN(auto app, store_->get_app("a1"));
  EXPECT_EQ(app->cmd_flag, CmdFlag::pending);  // mirror untouched
  EXPECT_FALSE(app->cmd_result.has_value());

  // A command for an app that does not exist finishes too.
  ASSERT_OK(store_->claim(record_for("c2", "ghost"), "m1"));
  AppState state;
  state.status = AppStatus::running;
  ASSERT_OK(store_->finish("c2", "ghost", "m1", executed("nothing to do", state)));
  ASSERT_OK_AND_ASSIGN(auto ghost, store_->get_app("ghost"));
  EXPECT_FALSE(ghost.has_value());
}

TEST_P(StoreContract, FinishConflicts) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK_AND_ASSIGN(auto rows, store_->record_command(make_command("c1", "a1")));
  EXPECT_ERRC(store_->finish("c1", "a1", "m1", executed("x")), Errc::conflict);    // not claimed
  EXPECT_ERRC(store_->finish("nope", "a1", "m1", executed("x")), Errc::conflict);  // no row
  ASSERT_OK(store_->claim(rows[0], "m1"));
  EXPECT_ERRC(store_->finish("c1", "a1", "m2", executed("x")), Errc::conflict);  // someone else's claim
  Outcome pending;
  pending.flag = CmdFlag::pending;
  EXPECT_ERRC(store_->finish("c1", "a1", "m1", pending), Errc::invalid_argument);
  ASSERT_OK(store_->finish("c1", "a1", "m1", executed("done")));
  auto twice = store_->finish("c1", "a1", "m1", executed("again"));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code(), Errc::conflict);
  EXPECT_NE(twice.error().message().find("already finished as EXECUTED"), std::string::npos) << twice.error().message();
  ASSERT_OK_AND_ASSIGN(auto stored, store_->get_command("c1"));
  EXPECT_EQ(stored[0].result, "done");
}

// ------------------------------------------------------------ queries

TEST_P(StoreContract, PendingQueriesFollowIssueOrder) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->add_app(make_app("a2", "m1")));
  ASSERT_OK(store_->add_app(make_app("b1", "m2")));
  std::vector<CommandRecord> a1_rows;
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(auto rows, store_->record_command(make_command("a1-" + std::to_string(i), "a1")));
    a1_rows.push_back(rows[0]);
    ASSERT_OK(store_->record_command(make_command("a2-" + std::to_string(i), "a2")));
    ASSERT_OK(store_->record_command(make_command("b1-" + std::to_string(i), "b1")));
  }
  ASSERT_OK(store_->claim(a1_rows[1], "m1"));
  ASSERT_OK(store_->claim(a1_rows[2], "m1"));
  ASSERT_OK(store_->finish(a1_rows[2].cmd_id, "a1", "m1", executed("ok")));

  ASSERT_OK_AND_ASSIGN(auto pending, store_->pending_for_manager("m1"));
  ASSERT_EQ(pending.size(), 6u);  // a1: 0 and 3; a2: 0..3
  for (size_t i = 1; i < pending.size(); ++i) EXPECT_LT(pending[i - 1].seq, pending[i].seq);
  for (const auto& row : pending) {
    EXPECT_NE(row.app_id, "b1");
    EXPECT_FALSE(row.claimed_by.has_value());
    EXPECT_EQ(row.flag, CmdFlag::pending);
  }
  EXPECT_EQ(pending[0].cmd_id, "a1-0");
  ASSERT_OK_AND_ASSIGN(auto limited, store_->pending_for_manager("m1", 2));
  ASSERT_EQ(limited.size(), 2u);
  EXPECT_EQ(limited[0].cmd_id, "a1-0");
  EXPECT_EQ(limited[1].cmd_id, "a2-0");

  ASSERT_OK_AND_ASSIGN(auto place, store_->command_place("a1-3", "a1"));
  ASSERT_TRUE(place.row.has_value());
  EXPECT_FALSE(place.settled(Claimer("m1")));
  EXPECT_EQ(place.row->seq, a1_rows[3].seq);
  EXPECT_EQ(place.row->flag, CmdFlag::pending);
  ASSERT_EQ(place.earlier.size(), 1u);  // 1 is claimed, 2 finished
  EXPECT_EQ(place.earlier[0].cmd_id, "a1-0");
  ASSERT_OK_AND_ASSIGN(auto first, store_->command_place("a1-0", "a1"));
  ASSERT_TRUE(first.row.has_value());
  EXPECT_TRUE(first.earlier.empty());
  // A finished command's own row comes back as it is.
  ASSERT_OK_AND_ASSIGN(auto finished, store_->command_place("a1-2", "a1"));
  ASSERT_TRUE(finished.row.has_value());
  EXPECT_EQ(finished.row->flag, CmdFlag::executed);
  EXPECT_TRUE(finished.settled(Claimer("m1")));
  ASSERT_OK_AND_ASSIGN(auto claimed, store_->command_place("a1-1", "a1"));
  EXPECT_TRUE(claimed.settled(Claimer("m1")));
  ASSERT_EQ(finished.earlier.size(), 1u);
  // Not recorded: every unclaimed pending row of the app is earlier.
  ASSERT_OK_AND_ASSIGN(auto unrecorded, store_->command_place("never-recorded", "a1"));
  EXPECT_FALSE(unrecorded.row.has_value());
  EXPECT_FALSE(unrecorded.settled(Claimer("m1")));
  ASSERT_EQ(unrecorded.earlier.size(), 2u);
  EXPECT_EQ(unrecorded.earlier[0].cmd_id, "a1-0");
  EXPECT_EQ(unrecorded.earlier[1].cmd_id, "a1-3");
  // Another app's rows never show.
  ASSERT_OK_AND_ASSIGN(auto other, store_->command_place("a1-3", "a2"));
  EXPECT_FALSE(other.row.has_value());
  EXPECT_EQ(other.earlier.size(), 4u);

  ASSERT_OK_AND_ASSIGN(auto unfinished, store_->claimed_unfinished("m1"));
  ASSERT_EQ(unfinished.size(), 1u);
  EXPECT_EQ(unfinished[0].cmd_id, "a1-1");
  ASSERT_OK_AND_ASSIGN(auto none, store_->claimed_unfinished("m2"));
  EXPECT_TRUE(none.empty());
}

TEST_P(StoreContract, ListCommandsFiltersNewestFirst) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->add_app(make_app("a2", "m1")));
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(store_->record_command(make_command("c" + std::to_string(i), i % 2 == 0 ? "a1" : "a2")));
  }
  ASSERT_OK_AND_ASSIGN(auto rows, store_->get_command("c0"));
  ASSERT_OK(store_->claim(rows[0], "m1"));
  ASSERT_OK(store_->finish("c0", "a1", "m1", executed("ok")));

  ASSERT_OK_AND_ASSIGN(auto all, store_->list_commands(CommandFilter{}));
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.front().cmd_id, "c4");
  EXPECT_EQ(all.back().cmd_id, "c0");
  CommandFilter by_app;
  by_app.app_id = "a1";
  ASSERT_OK_AND_ASSIGN(auto of_a1, store_->list_commands(by_app));
  ASSERT_EQ(of_a1.size(), 3u);
  EXPECT_EQ(of_a1[0].cmd_id, "c4");
  by_app.pending_only = true;
  ASSERT_OK_AND_ASSIGN(auto pending_a1, store_->list_commands(by_app));
  EXPECT_EQ(pending_a1.size(), 2u);
  CommandFilter limited;
  limited.limit = 2;
  ASSERT_OK_AND_ASSIGN(auto two, store_->list_commands(limited));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].cmd_id, "c4");
  EXPECT_EQ(two[1].cmd_id, "c3");
  CommandFilter by_id;
  by_id.cmd_id = "c2";
  ASSERT_OK_AND_ASSIGN(auto one, store_->list_commands(by_id));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].app_id, "a1");
  ASSERT_OK_AND_ASSIGN(auto missing, store_->get_command("nope"));
  EXPECT_TRUE(missing.empty());
}

// ------------------------------------------------------------ managers

TEST_P(StoreContract, LeaseRefusesASecondLiveManager) {
  ASSERT_OK(store_->acquire_lease(manager_record("m1", "host-a", 100, "i-a"), 30s));
  auto second = store_->acquire_lease(manager_record("m1", "host-b", 200, "i-b"), 30s);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), Errc::conflict);
  EXPECT_NE(second.error().message().find("host-a"), std::string::npos) << second.error().message();
  EXPECT_NE(second.error().message().find("pid 100"), std::string::npos) << second.error().message();
  EXPECT_NE(second.error().message().find("last seen"), std::string::npos) << second.error().message();
  // The same instance may take its lease again.
  EXPECT_OK(store_->acquire_lease(manager_record("m1", "host-a", 100, "i-a"), 30s));
  // Issue 11, item 5: same host, same pid, another instance (two containers
  // that both run their manager as pid 1) is a second manager, refused.
  EXPECT_ERRC(store_->acquire_lease(manager_record("m1", "host-a", 100, "i-c"), 30s), Errc::conflict);
  // Other names are independent.
  EXPECT_OK(store_->acquire_lease(manager_record("m2", "host-b", 200, "i-b"), 30s));

  ASSERT_OK(store_->heartbeat("m1", "i-a", ManagerMode::fallback));
  EXPECT_ERRC(store_->heartbeat("m1", "i-b", ManagerMode::broker), Errc::fenced);
  EXPECT_ERRC(store_->heartbeat("m1", "i-c", ManagerMode::broker), Errc::fenced);
  EXPECT_ERRC(store_->heartbeat("ghost", "i-a", ManagerMode::broker), Errc::not_found);
  EXPECT_ERRC(store_->release_lease("m1", "i-b"), Errc::conflict);

  ASSERT_OK_AND_ASSIGN(auto managers, store_->list_managers());
  ASSERT_EQ(managers.size(), 2u);
  EXPECT_EQ(managers[0].name, "m1");
  EXPECT_EQ(managers[0].host, "host-a");
  EXPECT_EQ(managers[0].pid, 100);
  EXPECT_EQ(managers[0].instance, "i-a");
  EXPECT_EQ(managers[0].mode, ManagerMode::fallback);
  EXPECT_EQ(managers[0].version, "0.1.0");
  EXPECT_LE(managers[0].started_at, managers[0].last_seen);
  ASSERT_OK_AND_ASSIGN(const TimePoint db_now, store_->database_time());
  EXPECT_LE(managers[0].last_seen, db_now);
}

TEST_P(StoreContract, ReleasedOrExpiredLeaseCanBeTaken) {
  ASSERT_OK(store_->acquire_lease(manager_record("m1", "host-a", 100, "i-a"), 30s));
  ASSERT_OK(store_->release_lease("m1", "i-a"));
  ASSERT_OK_AND_ASSIGN(auto managers, store_->list_managers());
  EXPECT_EQ(managers.at(0).mode, ManagerMode::stopped);
  ASSERT_OK(store_->acquire_lease(manager_record("m1", "host-b", 200, "i-b"), 30s));
  // host-a's old process has lost it.
  EXPECT_ERRC(store_->heartbeat("m1", "i-a", ManagerMode::broker), Errc::fenced);

  // Expiry: host-b stops heartbeating; after the TTL anyone may take over.
  std::this_thread::sleep_for(60ms);
  EXPECT_ERRC(store_->acquire_lease(manager_record("m1", "host-c", 300, "i-c"), 10s), Errc::conflict);
  ASSERT_OK(store_->acquire_lease(manager_record("m1", "host-c", 300, "i-c"), 50ms));
  ASSERT_OK_AND_ASSIGN(managers, store_->list_managers());
  EXPECT_EQ(managers.at(0).host, "host-c");
  EXPECT_EQ(managers.at(0).pid, 300);
  EXPECT_EQ(managers.at(0).instance, "i-c");
  EXPECT_EQ(managers.at(0).mode, ManagerMode::broker);
  EXPECT_ERRC(store_->release_lease("ghost", "i-x"), Errc::not_found);
}

// Issue 11, item 5: claims and finishes are fenced by the lease. Once
// another instance took the name over, the old instance's claim, finish and
// batch all fail with Errc::fenced and change nothing.
TEST_P(StoreContract, ClaimsAndFinishesOfAReplacedInstanceAreFenced) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  for (int i = 0; i < 3; ++i) ASSERT_OK(store_->record_command(make_command("c" + std::to_string(i), "a1")));
  ASSERT_OK_AND_ASSIGN(auto c0, store_->get_command("c0"));
  ASSERT_OK_AND_ASSIGN(auto c1, store_->get_command("c1"));
  ASSERT_OK_AND_ASSIGN(auto c2, store_->get_command("c2"));
  ASSERT_OK(store_->acquire_lease(manager_record("m1", "host-a", 1, "old"), 30s));
  const Claimer old_one("m1", "old");
  ASSERT_OK_AND_ASSIGN(auto claimed, store_->claim(c0[0], old_one));
  EXPECT_EQ(claimed, ClaimResult::claimed);

  // Taken over (released here; expiry is the same for the store).
  ASSERT_OK(store_->release_lease("m1", "old"));
  ASSERT_OK(store_->acquire_lease(manager_record("m1", "host-b", 2, "new"), 30s));
  EXPECT_ERRC(store_->claim(c1[0], old_one), Errc::fenced);
  EXPECT_ERRC(store_->claim(record_for("unrecorded", "a1"), old_one), Errc::fenced);
  EXPECT_ERRC(store_->finish("c0", "a1", old_one, executed("late")), Errc::fenced);
  FinishedCommand item;
  item.record = c2[0];
  item.outcome = executed("batch");
  EXPECT_ERRC(store_->claim_and_finish(std::span<const FinishedCommand>(&item, 1), old_one), Errc::fenced);
  ASSERT_OK_AND_ASSIGN(auto untouched, store_->get_command_row("c1", "a1"));
  EXPECT_FALSE(untouched->claimed_by.has_value());
  ASSERT_OK_AND_ASSIGN(untouched, store_->get_command_row("c2", "a1"));
  EXPECT_EQ(untouched->flag, CmdFlag::pending);
  ASSERT_OK_AND_ASSIGN(auto none, store_->get_command_row("unrecorded", "a1"));
  EXPECT_FALSE(none.has_value());

  // The new holder finishes what the old one left (recovery) and goes on.
  const Claimer new_one("m1", "new");
  ASSERT_OK(store_->finish("c0", "a1", new_one, executed("recovered")));
  ASSERT_OK_AND_ASSIGN(claimed, store_->claim(c1[0], new_one));
  EXPECT_EQ(claimed, ClaimResult::claimed);
}

// Issue 11, item 9: a claim or finish whose COMMIT outcome was lost. The
// retry re-reads the row: a PENDING row claimed by this very claimer
// (manager and instance) is its own claim and comes back `claimed`; a
// finish it already made succeeds again without changing anything. Anyone
// else still finds the row taken.
TEST_P(StoreContract, AClaimersOwnUnseenCommitIsResolvedByRereading) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->record_command(make_command("c1", "a1")));
  ASSERT_OK_AND_ASSIGN(auto rows, store_->get_command("c1"));
  ASSERT_OK(store_->acquire_lease(manager_record("m1", "host-a", 1, "me"), 30s));
  const Claimer me("m1", "me");
  ASSERT_OK_AND_ASSIGN(auto first, store_->claim(rows[0], me));
  EXPECT_EQ(first, ClaimResult::claimed);
  // As if the reply to that COMMIT never arrived: the retry asks again.
  ASSERT_OK_AND_ASSIGN(auto again, store_->claim(rows[0], me));
  EXPECT_EQ(again, ClaimResult::claimed);
  ASSERT_OK_AND_ASSIGN(auto place, store_->command_place("c1", "a1"));
  EXPECT_FALSE(place.settled(me)) << "its own unseen claim is not a redelivery to skip";
  EXPECT_TRUE(place.settled(Claimer("m1", "someone-else")));
  EXPECT_TRUE(place.settled(Claimer("m1")));
  ASSERT_OK_AND_ASSIGN(auto other, store_->claim(rows[0], Claimer("m1", "someone-else")));
  EXPECT_EQ(other, ClaimResult::already_claimed);

  ASSERT_OK(store_->finish("c1", "a1", me, executed("done")));
  ASSERT_OK(store_->finish("c1", "a1", me, executed("done")));  // the retry of a finish whose reply was lost
  ASSERT_OK_AND_ASSIGN(auto row, store_->get_command_row("c1", "a1"));
  EXPECT_EQ(row->flag, CmdFlag::executed);
  EXPECT_EQ(row->result, "done");
  EXPECT_EQ(row->claimed_instance, "me");
  // Someone else of the name does not hold the lease; without an instance
  // (no fence) the row is simply finished already.
  EXPECT_ERRC(store_->finish("c1", "a1", Claimer("m1", "someone-else"), executed("other")), Errc::fenced);
  EXPECT_ERRC(store_->finish("c1", "a1", Claimer("m1"), executed("other")), Errc::conflict);
  ASSERT_OK_AND_ASSIGN(auto after, store_->claim(rows[0], me));
  EXPECT_EQ(after, ClaimResult::already_finished);
}

// Issue 11, item 2: a broadcast addresses the apps of its manager when it
// was issued: the ones a source recorded rows for, or, for a broadcast
// nobody recorded, the apps registered no later than its timestamp. Rows a
// manager inserted while claiming do not count as recorded.
TEST_P(StoreContract, BroadcastTargetsAreTheAppsOfItsIssueTime) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->add_app(make_app("a2", "m1")));
  ASSERT_OK(store_->add_app(make_app("b1", "m2")));
  Command recorded = make_command("bc-recorded", "*", CmdName::stop);
  recorded.issued_at = now();
  ASSERT_OK(store_->record_command(recorded));
  std::this_thread::sleep_for(5ms);
  const TimePoint between = now();
  std::this_thread::sleep_for(5ms);
  ASSERT_OK(store_->add_app(make_app("a3", "m1")));  // registered after both broadcasts were issued

  ASSERT_OK_AND_ASSIGN(auto targets, store_->broadcast_targets("bc-recorded", "m1", recorded.issued_at));
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].app_id, "a1");
  EXPECT_EQ(targets[1].app_id, "a2");
  ASSERT_OK_AND_ASSIGN(auto of_m2, store_->broadcast_targets("bc-recorded", "m2", recorded.issued_at));
  ASSERT_EQ(of_m2.size(), 1u);
  EXPECT_EQ(of_m2[0].app_id, "b1");
  // Even with a much later timestamp, a recorded broadcast keeps its rows.
  ASSERT_OK_AND_ASSIGN(targets, store_->broadcast_targets("bc-recorded", "m1", now() + 1h));
  EXPECT_EQ(targets.size(), 2u);

  // Nobody recorded it: the apps registered by its timestamp.
  ASSERT_OK_AND_ASSIGN(targets, store_->broadcast_targets("bc-unrecorded", "m1", between));
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[1].app_id, "a2");
  // A manager claims it for a1 (inserting a row): still unrecorded.
  CommandRecord claimed_row = record_for("bc-unrecorded", "a1", CmdName::stop);
  claimed_row.target = "*";
  ASSERT_OK(store_->claim(claimed_row, "m1"));
  ASSERT_OK_AND_ASSIGN(auto row, store_->get_command_row("bc-unrecorded", "a1"));
  EXPECT_FALSE(row->recorded);
  ASSERT_OK_AND_ASSIGN(targets, store_->broadcast_targets("bc-unrecorded", "m1", between));
  EXPECT_EQ(targets.size(), 2u) << "the claim-inserted row narrowed the broadcast to one app";
  ASSERT_OK_AND_ASSIGN(targets, store_->broadcast_targets("bc-unrecorded", "m1", now()));
  EXPECT_EQ(targets.size(), 3u);
  ASSERT_OK_AND_ASSIGN(auto a3, store_->get_app("a3"));
  ASSERT_TRUE(a3->registered_at.has_value());
  EXPECT_GT(*a3->registered_at, between);
}

// Issue 11, item 4: the signature a source recorded the command with comes
// back with each of its rows, for the database path to check.
TEST_P(StoreContract, RowsKeepTheirSourcesSignature) {
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  Command signed_command = make_command("signed", "a1");
  signed_command.signature = std::string(64, 'a');
  ASSERT_OK(store_->record_command(signed_command));
  ASSERT_OK_AND_ASSIGN(auto row, store_->get_command_row("signed", "a1"));
  EXPECT_EQ(row->signature, signed_command.signature);
  EXPECT_TRUE(row->recorded);
  ASSERT_OK(store_->record_command(make_command("unsigned", "a1")));
  ASSERT_OK_AND_ASSIGN(row, store_->get_command_row("unsigned", "a1"));
  EXPECT_EQ(row->signature, "");
}

// ------------------------------------------------------------ hostile values

TEST_P(StoreContract, HostileTextIsStoredIntactOrRefused) {
  const std::string injection = "'; DROP TABLE apps; --";
  const std::string quotes = R"(O'Brien "quoted" \backslash %_ $1 ?1)";
  const std::string big(1 << 20, 'x');
  const std::vector<std::string> storable = {injection, quotes, big, "naïve – 日本 🚀"};
  int n = 0;
  for (const std::string& value : storable) {
    SCOPED_TRACE("value #" + std::to_string(n));
    const std::string app_id = "app" + std::to_string(n++);
    // Names that are keys (manager, command id) are limited to 255 bytes on
    // every backend; the 1 MB value goes into every other text field.
    const std::string name = value.size() <= 255 ? value : "big-" + app_id;
    // Manager names follow manager_name_problem(); command ids hold anything.
    const std::string manager = "mgr-" + app_id;
    App app = make_app(app_id, manager);
    app.name = value;
    app.schedule = value;
    app.exec = {value, value};
    ASSERT_OK(store_->add_app(app));
    Command command = make_command(name, app_id);
    command.issued_by = value;
    command.args_json = value;
    ASSERT_OK(store_->record_command(command));
    ASSERT_OK_AND_ASSIGN(auto rows, store_->get_command(name));
    ASSERT_EQ(rows.size(), 1u);
    ASSERT_OK_AND_ASSIGN(auto claimed, store_->claim(rows[0], manager));
    EXPECT_EQ(claimed, ClaimResult::claimed);
    AppState state;
    ASSERT_OK(store_->finish(name, app_id, manager, executed(value, state)));
    ManagerRecord lease = manager_record(manager, value, 1);
    lease.version = value;
    ASSERT_OK(store_->acquire_lease(lease, 30s));

    ASSERT_OK_AND_ASSIGN(auto got, store_->get_app(app_id));
    ASSERT_TRUE(got.has_value());
    EXPECT_TRUE(got->name == value);
    EXPECT_TRUE(got->manager == manager);
    EXPECT_TRUE(got->schedule == value);
    EXPECT_TRUE(got->exec == app.exec);
    EXPECT_TRUE(got->cmd_id == name);
    EXPECT_TRUE(got->cmd_issued_by == value);
    EXPECT_TRUE(got->cmd_args == value);
    EXPECT_TRUE(got->cmd_result == value);
    ASSERT_OK_AND_ASSIGN(rows, store_->get_command(name));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_TRUE(rows[0].issued_by == value);
    EXPECT_TRUE(rows[0].args_json == value);
    EXPECT_TRUE(rows[0].claimed_by == manager);
    EXPECT_TRUE(rows[0].result == value);
    ASSERT_OK_AND_ASSIGN(auto of_manager, store_->list_apps(AppFilter{manager}));
    EXPECT_EQ(of_manager.size(), 1u);
  }
  ASSERT_OK_AND_ASSIGN(auto managers, store_->list_managers());
  ASSERT_EQ(managers.size(), storable.size());
  for (const auto& manager : managers) EXPECT_TRUE(manager.host == manager.version);
  // The injection did nothing: every table still answers.
  ASSERT_OK_AND_ASSIGN(auto apps, store_->list_apps());
  EXPECT_EQ(apps.size(), storable.size());
  EXPECT_ERRC(store_->add_app(make_app(injection, "m1")), Errc::invalid_argument);
  // Issue 11, item 12: names a broadcast or the broker reserves.
  EXPECT_ERRC(store_->add_app(make_app("a-all", "all")), Errc::invalid_argument);
  EXPECT_ERRC(store_->add_app(make_app("a-amq", "amq.gen-1")), Errc::invalid_argument);
  EXPECT_ERRC(store_->add_app(make_app("a-injection", injection)), Errc::invalid_argument);
  ASSERT_OK_AND_ASSIGN(auto none, store_->get_app(injection));
  EXPECT_FALSE(none.has_value());

  // Oversized names are refused with the field named, on every backend.
  auto big_manager = store_->add_app(make_app("a-big", big));
  EXPECT_ERRC(big_manager, Errc::invalid_argument);
  if (!big_manager.ok()) {
    EXPECT_NE(big_manager.error().message().find("apps.manager"), std::string::npos);
    EXPECT_LT(big_manager.error().message().size(), 1000u) << "the message must not echo the value";
  }
  EXPECT_ERRC(store_->record_command(make_command(big, "app0")), Errc::invalid_argument);
  EXPECT_ERRC(store_->claim(record_for(big, "app0"), "m1"), Errc::invalid_argument);
  EXPECT_ERRC(store_->claim(record_for("c-big", "app0"), big), Errc::invalid_argument);
  EXPECT_ERRC(store_->acquire_lease(manager_record(big, "h", 1), 30s), Errc::invalid_argument);
}

// Issue 11, item 11: the same input has the same outcome on both backends.
// NUL bytes and invalid UTF-8 are refused, naming the field, by SQLite as
// by PostgreSQL (whose text cannot hold them), and nothing is left behind.
TEST_P(StoreContract, NulAndInvalidUtf8AreRefusedAlikeOnEveryBackend) {
  const std::string with_nul("before\0after", 12);
  const std::string bad_utf8 = "caf\xC3\x28 \xFF\xFE";
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  for (const std::string& value : {with_nul, bad_utf8}) {
    SCOPED_TRACE(value == with_nul ? "NUL" : "invalid UTF-8");
    App app = make_app("a2", "m1");
    app.exec = {"/bin/echo", value};
    auto exec_refused = store_->add_app(app);
    EXPECT_ERRC(exec_refused, Errc::invalid_argument);
    if (!exec_refused.ok()) {
      EXPECT_NE(exec_refused.error().message().find("apps.exec[1]"), std::string::npos)
          << exec_refused.error().message();
    }

    App named = make_app("a3", "m1");
    named.name = value;
    Command command = make_command("c-" + std::to_string(value.size()), "a1");
    command.issued_by = value;
    auto name_result = store_->add_app(named);
    auto record_result = store_->record_command(command);
    EXPECT_ERRC(name_result, Errc::invalid_argument);
    if (!name_result.ok()) {
      EXPECT_NE(name_result.error().message().find("apps.name"), std::string::npos) << name_result.error().message();
    }
    EXPECT_ERRC(record_result, Errc::invalid_argument);
    if (!record_result.ok()) {
      EXPECT_NE(record_result.error().message().find("commands.issued_by"), std::string::npos)
          << record_result.error().message();
    }
    ASSERT_OK_AND_ASSIGN(auto rows, store_->get_command(command.id));
    EXPECT_TRUE(rows.empty());  // the refused record left nothing behind
    ASSERT_OK_AND_ASSIGN(auto a3, store_->get_app("a3"));
    EXPECT_FALSE(a3.has_value());
  }
}

// ------------------------------------------------------------ notifications

TEST_P(StoreContract, NotifierWakesOnRecordedCommands) {
  ASSERT_OK_AND_ASSIGN(auto notifier, store_->listen_for_commands());
  if (!is_postgres()) {
    EXPECT_EQ(notifier, nullptr) << "SQLite has no notifications: the manager polls";
    return;
  }
  ASSERT_NE(notifier, nullptr);
  ASSERT_GE(notifier->fd(), 0);
  ASSERT_OK(store_->add_app(make_app("a1", "m1")));
  ASSERT_OK(store_->record_command(make_command("c1", "a1")));
  // Other tests may share the channel; wait until at least ours arrived.
  int received = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (received == 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{notifier->fd(), POLLIN, 0};
    ASSERT_GE(::poll(&pfd, 1, 500), 0);
    ASSERT_OK_AND_ASSIGN(const int count, notifier->drain());
    received += count;
  }
  EXPECT_GE(received, 1);
}

}  // namespace
}  // namespace dc::test
