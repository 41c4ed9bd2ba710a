// The event log's promises (store.h, "event log"), run on every backend with
// the rest of the contract suite: every change is logged with its
// transaction and only then, in order, and a reader following the log while
// writers commit concurrently misses nothing and sees nothing twice.
#include <poll.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "store/store_contract.h"

namespace dc::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

App event_app(std::string app_id, std::string manager = "m1") {
  App app;
  app.app_id = std::move(app_id);
  app.name = app.app_id;
  app.manager = std::move(manager);
  app.exec = {"/bin/sleep", "60"};
  return app;
}

Command event_command(std::string id, std::string app_id, CmdName name = CmdName::start) {
  Command command;
  command.id = std::move(id);
  command.app_id = std::move(app_id);
  command.name = name;
  command.issued_by = "alice";
  command.issued_at = now();
  return command;
}

ManagerRecord lease_holder(std::string name, std::string instance) {
  ManagerRecord record;
  record.name = std::move(name);
  record.host = "host-1";
  record.pid = 4242;
  record.mode = ManagerMode::broker;
  record.version = "test";
  record.instance = std::move(instance);
  return record;
}

// "kind/action subject" per event, for compact comparisons.
std::vector<std::string> summary(const std::vector<StoreEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    const json data = json::parse(e.data_json);
    out.push_back(std::string(to_string(e.kind)) + "/" + data.at("action").get<std::string>() + " " + e.subject);
  }
  return out;
}

std::vector<StoreEvent> all_events(Store& store) {
  auto events = store.events_after(0, 0);
  EXPECT_TRUE(events) << events.error().message();
  return events ? *events : std::vector<StoreEvent>();
}

TEST_P(StoreContract, EveryChangeIsLoggedInOrder) {
  ASSERT_OK_AND_ASSIGN(auto empty, store_->event_bounds());
  EXPECT_EQ(empty.first, 0);
  EXPECT_EQ(empty.last, 0);

  ASSERT_OK(store_->add_app(event_app("a1")));
  ASSERT_OK_AND_ASSIGN(auto rows, store_->record_command(event_command("c1", "a1")));
  ASSERT_OK(store_->claim(rows[0], "m1"));
  AppState running;
  running.status = AppStatus::running;
  running.pid = 1234;
  Outcome outcome;
  outcome.flag = CmdFlag::executed;
  outcome.result = "started";
  outcome.path = DeliveryPath::poll;
  outcome.app_state = running;
  ASSERT_OK(store_->finish("c1", "a1", "m1", outcome));
  AppState exited;
  exited.status = AppStatus::failed;
  exited.exit_code = 3;
  ASSERT_OK(store_->set_app_state("a1", exited));
  ASSERT_OK(store_->set_next_run("a1", now() + 60s));
  App changed = event_app("a1");
  changed.disable = true;
  ASSERT_OK(store_->update_app(changed));
  ASSERT_OK(store_->remove_app("a1"));

  const auto events = all_events(*store_);
  EXPECT_EQ(summary(events), (std::vector<std::string>{"app/added a1", "command/recorded c1", "command/claimed c1",
                                                       "command/finished c1", "app/state a1", "app/state a1",
                                                       "app/next_run a1", "app/updated a1", "app/removed a1"}));
  for (size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i].seq, events[i - 1].seq);

  const json recorded = json::parse(events[1].data_json);
  EXPECT_EQ(recorded["app_id"], "a1");
  EXPECT_EQ(recorded["command"], 1);
  EXPECT_EQ(recorded["issued_by"], "alice");
  EXPECT_EQ(recorded["flag"], 0);
  const json finished = json::parse(events[3].data_json);
  EXPECT_EQ(finished["flag"], 1);
  EXPECT_EQ(finished["flag_name"], "EXECUTED");
  EXPECT_EQ(finished["path"], "poll");
  EXPECT_EQ(finished["result"], "started");
  EXPECT_EQ(finished["claimed_by"], "m1");
  const json state = json::parse(events[4].data_json);
  EXPECT_EQ(state["status"], "RUNNING");
  EXPECT_EQ(state["pid"], 1234);
  const json failed = json::parse(events[5].data_json);
  EXPECT_EQ(failed["status"], "FAILED");
  EXPECT_EQ(failed["exit_code"], 3);
  EXPECT_TRUE(failed["pid"].is_null());
  EXPECT_EQ(json::parse(events[7].data_json)["disable"], true);

  ASSERT_OK_AND_ASSIGN(auto bounds, store_->event_bounds());
  EXPECT_EQ(bounds.first, events.front().seq);
  EXPECT_EQ(bounds.last, events.back().seq);
  // Paging: after a seq, at most `limit`.
  ASSERT_OK_AND_ASSIGN(auto page, store_->events_after(events[2].seq, 3));
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].seq, events[3].seq);
  ASSERT_OK_AND_ASSIGN(auto none, store_->events_after(bounds.last, 10));
  EXPECT_TRUE(none.empty());
}

TEST_P(StoreContract, WhatIsRolledBackIsNotLogged) {
  ASSERT_OK(store_->add_app(event_app("a1")));
  const auto before = all_events(*store_).size();
  // Refused changes log nothing.
  EXPECT_ERRC(store_->add_app(event_app("a1")), Errc::conflict);
  EXPECT_ERRC(store_->record_command(event_command("c1", "nope")), Errc::not_found);
  EXPECT_ERRC(store_->set_app_state("nope", AppState{}), Errc::not_found);
  ASSERT_OK_AND_ASSIGN(auto rows, store_->record_command(event_command("c1", "a1")));
  EXPECT_ERRC(store_->record_command(event_command("c1", "a1")), Errc::conflict);
  // A transaction whose body fails logs none of what it did.
  const Status failed = store_->in_transaction([&]() -> Status {
    if (auto st = store_->set_app_state("a1", AppState{}); !st) return st;
    return Error(Errc::internal, "changed my mind");
  });
  EXPECT_FALSE(failed);
  EXPECT_EQ(summary(all_events(*store_)).size(), before + 1);  // the one recorded command
  // A lost claim, a repeated finish log nothing either.
  ASSERT_OK(store_->claim(rows[0], "m1"));
  ASSERT_OK_AND_ASSIGN(auto lost, store_->claim(rows[0], "m2"));
  EXPECT_EQ(lost, ClaimResult::already_claimed);
  Outcome outcome;
  outcome.result = "done";
  ASSERT_OK(store_->finish("c1", "a1", Claimer("m1", ""), outcome));
  EXPECT_ERRC(store_->finish("c1", "a1", Claimer("m2", ""), outcome), Errc::conflict);
  EXPECT_EQ(summary(all_events(*store_)), (std::vector<std::string>{"app/added a1", "command/recorded c1",
                                                                    "command/claimed c1", "command/finished c1"}));
}

TEST_P(StoreContract, ATransactionLogsItsChangesTogether) {
  ASSERT_OK(store_->add_app(event_app("a1")));
  ASSERT_OK(store_->add_app(event_app("a2")));
  ASSERT_OK_AND_ASSIGN(auto rows, store_->record_command(event_command("b1", "*", CmdName::disable)));
  ASSERT_EQ(rows.size(), 2u);
  AppState disabled;
  disabled.disable = true;
  Outcome outcome;
  outcome.result = "disabled";
  outcome.app_state = disabled;
  CommandRecord unrecorded = rows[0];
  unrecorded.cmd_id = "ext";
  std::vector<FinishedCommand> items{{rows[0], outcome}, {rows[1], outcome}, {unrecorded, outcome}};
  ASSERT_OK_AND_ASSIGN(auto results, store_->claim_and_finish(items, "m1"));
  const auto events = all_events(*store_);
  EXPECT_EQ(summary(events),
            (std::vector<std::string>{"app/added a1", "app/added a2", "command/recorded b1", "command/recorded b1",
                                      "command/finished b1", "app/state a1", "command/finished b1", "app/state a2",
                                      "command/finished ext", "app/state a1"}));
  // The row nobody recorded carries what it is in its one event.
  const json ext = json::parse(events[8].data_json);
  EXPECT_EQ(ext["command"], 5);
  EXPECT_EQ(ext["issued_by"], "alice");
  // Events of one transaction are consecutive.
  for (size_t i = 5; i < events.size(); ++i) EXPECT_EQ(events[i].seq, events[i - 1].seq + 1);
}

TEST_P(StoreContract, ManagerLeaseChangesAreLogged) {
  ASSERT_OK(store_->acquire_lease(lease_holder("m1", "i1"), 15s));
  ASSERT_OK(store_->heartbeat("m1", "i1", ManagerMode::broker));  // nothing changes: not logged
  ASSERT_OK(store_->heartbeat("m1", "i1", ManagerMode::fallback));
  ASSERT_OK(store_->heartbeat("m1", "i1", ManagerMode::fallback));
  ASSERT_OK(store_->heartbeat("m1", "i1", ManagerMode::broker));
  ASSERT_OK(store_->release_lease("m1", "i1"));
  const auto events = all_events(*store_);
  EXPECT_EQ(summary(events), (std::vector<std::string>{"manager/started m1", "manager/mode m1", "manager/mode m1",
                                                       "manager/stopped m1"}));
  const json fallback = json::parse(events[1].data_json);
  EXPECT_EQ(fallback["mode"], "fallback");
  EXPECT_EQ(fallback["live"], true);
  EXPECT_EQ(fallback["host"], "host-1");
  EXPECT_EQ(fallback["pid"], 4242);
  EXPECT_EQ(json::parse(events[3].data_json)["live"], false);
  // A fenced heartbeat logs nothing.
  ASSERT_OK(store_->acquire_lease(lease_holder("m1", "i2"), 15s));
  EXPECT_ERRC(store_->heartbeat("m1", "i1", ManagerMode::fallback), Errc::fenced);
  EXPECT_EQ(all_events(*store_).size(), events.size() + 1);
}

TEST_P(StoreContract, LostManagersAreReportedOnceAndBackWhenSeen) {
  ASSERT_OK(store_->acquire_lease(lease_holder("m1", "i1"), 15s));
  ASSERT_OK(store_->acquire_lease(lease_holder("m2", "i2"), 15s));
  ASSERT_OK(store_->release_lease("m2", "i2"));  // stopped: never "lost"
  ASSERT_OK_AND_ASSIGN(auto fresh, store_->report_lost_managers(60s));
  EXPECT_TRUE(fresh.empty());
  std::this_thread::sleep_for(20ms);
  ASSERT_OK_AND_ASSIGN(auto lost, store_->report_lost_managers(10ms));
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].name, "m1");
  ASSERT_OK_AND_ASSIGN(auto again, store_->report_lost_managers(10ms));
  EXPECT_TRUE(again.empty());  // once per loss
  // Seen again: a heartbeat in the same mode is logged this time.
  ASSERT_OK(store_->heartbeat("m1", "i1", ManagerMode::broker));
  ASSERT_OK(store_->heartbeat("m1", "i1", ManagerMode::broker));
  auto events = all_events(*store_);
  const auto names = summary(events);
  EXPECT_EQ(std::vector<std::string>(names.end() - 2, names.end()),
            (std::vector<std::string>{"manager/lost m1", "manager/mode m1"}));
  EXPECT_EQ(json::parse(events[events.size() - 2].data_json)["live"], false);
  EXPECT_EQ(json::parse(events.back().data_json)["live"], true);
  // And can be lost again.
  std::this_thread::sleep_for(20ms);
  ASSERT_OK_AND_ASSIGN(auto lost_again, store_->report_lost_managers(10ms));
  EXPECT_EQ(lost_again.size(), 1u);
}

TEST_P(StoreContract, PruningKeepsTheNewest) {
  ASSERT_OK(store_->add_app(event_app("a1")));
  for (int i = 0; i < 10; ++i) ASSERT_OK(store_->set_next_run("a1", now()));
  ASSERT_OK_AND_ASSIGN(auto before, store_->event_bounds());
  ASSERT_OK_AND_ASSIGN(auto none, store_->prune_events(now() - 3600s, 0));
  EXPECT_EQ(none, 0);  // nothing that old
  ASSERT_OK_AND_ASSIGN(auto pruned, store_->prune_events(now() + 1s, 4));
  EXPECT_EQ(pruned, 7);
  ASSERT_OK_AND_ASSIGN(auto after, store_->event_bounds());
  EXPECT_EQ(after.last, before.last);
  EXPECT_EQ(after.first, before.last - 3);
  // Seq is never reused after a prune.
  ASSERT_OK(store_->set_next_run("a1", now()));
  ASSERT_OK_AND_ASSIGN(auto newest, store_->event_bounds());
  EXPECT_EQ(newest.last, before.last + 1);
}

// A reader following the log (events_after its last seq, over and over)
// while writers on other connections commit: it must end up with exactly
// the log's events, none skipped (a seq that committed after a larger one)
// and none twice.
TEST_P(SharedStoreContract, AFollowingReaderMissesNothingWhileWritersCommit) {
  constexpr int kWriters = 4;
  constexpr int kChangesPerWriter = 150;
  for (int w = 0; w < kWriters; ++w) ASSERT_OK(store_->add_app(event_app("w" + std::to_string(w))));
  ASSERT_OK_AND_ASSIGN(auto start, store_->event_bounds());

  std::atomic<int> writers_done{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto store = db_->open();
      if (!store) {
        failed = true;
        ++writers_done;
        return;
      }
      const std::string app = "w" + std::to_string(w);
      for (int i = 0; i < kChangesPerWriter && !failed; ++i) {
        // Alternate single statements and multi-statement transactions.
        Status st = ok_status();
        if (i % 3 == 0) {
          auto recorded = (*store)->record_command(event_command(app + "-" + std::to_string(i), app));
          if (!recorded) st = recorded.error();
        } else {
          st = (*store)->set_next_run(app, now());
        }
        if (!st && !st.error().retryable()) failed = true;
      }
      ++writers_done;
    });
  }
  auto reader_store = db_->open();
  ASSERT_TRUE(reader_store);
  std::vector<int64_t> seen;
  int64_t cursor = start.last;
  for (;;) {
    const bool finished = writers_done.load() == kWriters;
    auto events = (*reader_store)->events_after(cursor, 500);
    ASSERT_TRUE(events) << events.error().message();
    for (const auto& e : *events) {
      seen.push_back(e.seq);
      cursor = e.seq;
    }
    if (finished && events->empty()) break;
  }
  for (auto& writer : writers) writer.join();
  ASSERT_FALSE(failed.load());

  ASSERT_OK_AND_ASSIGN(auto logged, store_->events_after(start.last, 0));
  std::vector<int64_t> expected;
  for (const auto& e : logged) expected.push_back(e.seq);
  EXPECT_EQ(seen.size(), expected.size());
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), seen.size());
}

TEST_P(SharedStoreContract, ListenersAreWokenByLoggedChanges) {
  ASSERT_OK_AND_ASSIGN(auto notifier, store_->listen_for_events());
  if (!is_postgres()) {
    EXPECT_EQ(notifier, nullptr);  // SQLite readers poll
    return;
  }
  ASSERT_NE(notifier, nullptr);
  auto writer = db_->open();
  ASSERT_TRUE(writer);
  ASSERT_OK((*writer)->add_app(event_app("a1")));
  pollfd pfd{notifier->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 5000), 1) << "no notification within 5 s";
  ASSERT_OK_AND_ASSIGN(auto count, notifier->drain());
  EXPECT_GE(count, 1);
}

}  // namespace
}  // namespace dc::test
