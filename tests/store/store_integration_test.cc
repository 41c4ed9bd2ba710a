// Integration tests of the store: the contract suite on an SQLite file and on
// the real PostgreSQL (DC_TEST_PG_URL), claim races between threads and
// between processes, and PostgreSQL connection loss.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/ids.h"
#include "store/pg_conn.h"
#include "store/store_contract.h"

namespace dc::test {
namespace {

using namespace std::chrono_literals;

INSTANTIATE_TEST_SUITE_P(Shared, StoreContract, ::testing::Values(Backend::sqlite_file, Backend::postgresql),
                         BackendName());
INSTANTIATE_TEST_SUITE_P(Shared, SharedStoreContract, ::testing::Values(Backend::sqlite_file, Backend::postgresql),
                         BackendName());

constexpr int kRaceCommands = 1000;

App race_app(const std::string& app_id) {
  App app;
  app.app_id = app_id;
  app.manager = "m1";
  app.exec = {"/bin/true"};
  return app;
}

CommandRecord race_record(int i) {
  CommandRecord record;
  record.cmd_id = "race-" + std::to_string(i);
  record.app_id = "app-" + std::to_string(i % 10);
  record.target = record.app_id;
  record.command = CmdName::start;
  record.issued_by = "race";
  record.issued_at = now();
  return record;
}

// Records the even-numbered race commands; the odd ones reach the claimers
// unrecorded, so both halves of claim (conditional UPDATE, and INSERT of a
// missing row) are raced.
void prepare_race(Store& store) {
  for (int a = 0; a < 10; ++a) ASSERT_OK(store.add_app(race_app("app-" + std::to_string(a))));
  for (int i = 0; i < kRaceCommands; i += 2) {
    const CommandRecord record = race_record(i);
    Command command;
    command.id = record.cmd_id;
    command.app_id = record.app_id;
    command.name = record.command;
    command.issued_by = record.issued_by;
    command.issued_at = record.issued_at;
    ASSERT_OK(store.record_command(command));
  }
}

// Every race command ends up with exactly one row, claimed by a contender.
void expect_each_claimed_once(Store& store) {
  CommandFilter all;
  all.limit = 0;
  ASSERT_OK_AND_ASSIGN(auto rows, store.list_commands(all));
  EXPECT_EQ(rows.size(), static_cast<size_t>(kRaceCommands));
  for (const auto& row : rows) EXPECT_TRUE(row.claimed_by.has_value()) << row.cmd_id;
}

class StoreRace : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::postgresql) DC_REQUIRE_POSTGRES();
    ASSERT_OK_AND_ASSIGN(db_, TestDatabase::create(GetParam()));
  }
  std::unique_ptr<TestDatabase> db_;
};

INSTANTIATE_TEST_SUITE_P(Shared, StoreRace, ::testing::Values(Backend::sqlite_file, Backend::postgresql),
                         BackendName());

TEST_P(StoreRace, EightThreadsClaimEachCommandExactlyOnce) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, db_->open());
    prepare_race(*store);
  }
  constexpr int kThreads = 8;
  std::array<std::atomic<int>, kRaceCommands> wins{};
  std::atomic<int> errors{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  std::vector<std::string> first_error(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto store = db_->open();
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      if (!store) {
        errors.fetch_add(1);
        first_error[t] = store.error().message();
        return;
      }
      const std::string name = "m" + std::to_string(t);
      for (int i = 0; i < kRaceCommands; ++i) {
        auto result = (*store)->claim(race_record(i), name);
        if (!result) {
          errors.fetch_add(1);
          if (first_error[t].empty()) first_error[t] = result.error().message();
          continue;
        }
        if (*result == ClaimResult::claimed) wins[i].fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& message : first_error) EXPECT_TRUE(message.empty()) << message;
  EXPECT_EQ(errors.load(), 0);
  int doubles = 0;
  int unclaimed = 0;
  for (const auto& w : wins) {
    doubles += w.load() > 1 ? 1 : 0;
    unclaimed += w.load() == 0 ? 1 : 0;
  }
  EXPECT_EQ(doubles, 0) << "commands claimed more than once";
  EXPECT_EQ(unclaimed, 0) << "commands nobody claimed";
  ASSERT_OK_AND_ASSIGN(auto store, db_->open());
  expect_each_claimed_once(*store);
}

// Four processes, each with its own connection, claim the same commands; each
// reports its wins through a pipe.
TEST(PostgresRace, FourProcessesClaimEachCommandExactlyOnce) {
  DC_REQUIRE_POSTGRES();
  ASSERT_OK_AND_ASSIGN(auto db, TestDatabase::create(Backend::postgresql));
  {
    ASSERT_OK_AND_ASSIGN(auto store, db->open());
    prepare_race(*store);
  }
  constexpr int kProcesses = 4;
  std::array<int, kProcesses> read_ends{};
  std::array<pid_t, kProcesses> children{};
  for (int p = 0; p < kProcesses; ++p) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0) << std::strerror(errno);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0) << std::strerror(errno);
    if (child == 0) {
      ::close(fds[0]);
      // The child reports wins as int32 indices, then -1 on error; it leaves
      // through _exit so the parent's gtest state and connections stay put.
      auto store = Store::open(db->url());
      int status = 0;
      if (!store) {
        status = 2;
      } else {
        const std::string name = "proc" + std::to_string(p);
        for (int i = 0; i < kRaceCommands; ++i) {
          auto result = (*store)->claim(race_record(i), name);
          int32_t report = !result ? -1 : *result == ClaimResult::claimed ? i : -2;
          if (report == -2) continue;
          if (::write(fds[1], &report, sizeof report) != static_cast<ssize_t>(sizeof report)) status = 3;
        }
      }
      ::close(fds[1]);
      ::_exit(status);
    }
    ::close(fds[1]);
    read_ends[p] = fds[0];
    children[p] = child;
  }

  std::array<int, kRaceCommands> wins{};
  int errors = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  int open_pipes = kProcesses;
  while (open_pipes > 0 && std::chrono::steady_clock::now() < deadline) {
    std::array<pollfd, kProcesses> pfds{};
    for (int p = 0; p < kProcesses; ++p) pfds[p] = {read_ends[p], POLLIN, 0};
    if (::poll(pfds.data(), pfds.size(), 1000) <= 0) continue;
    for (int p = 0; p < kProcesses; ++p) {
      if (read_ends[p] < 0 || (pfds[p].revents & (POLLIN | POLLHUP)) == 0) continue;
      int32_t index = 0;
      const ssize_t n = ::read(read_ends[p], &index, sizeof index);
      if (n == static_cast<ssize_t>(sizeof index)) {
        if (index >= 0 && index < kRaceCommands) {
          ++wins[static_cast<size_t>(index)];
        } else {
          ++errors;
        }
      } else {
        ::close(read_ends[p]);
        read_ends[p] = -1;
        --open_pipes;
        pfds[p].fd = -1;
      }
    }
  }
  EXPECT_EQ(open_pipes, 0) << "children did not finish within 60 s";
  for (int p = 0; p < kProcesses; ++p) {
    if (read_ends[p] >= 0) {
      ::kill(children[p], SIGKILL);
      ::close(read_ends[p]);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(children[p], &status, 0), children[p]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << p << " status " << status;
  }
  EXPECT_EQ(errors, 0) << "claims that failed in a child";
  int doubles = 0;
  int unclaimed = 0;
  for (int w : wins) {
    doubles += w > 1 ? 1 : 0;
    unclaimed += w == 0 ? 1 : 0;
  }
  EXPECT_EQ(doubles, 0) << "commands claimed by two processes";
  EXPECT_EQ(unclaimed, 0) << "commands nobody claimed";
  ASSERT_OK_AND_ASSIGN(auto store, db->open());
  expect_each_claimed_once(*store);
}

// The server ends the store's connection (as a restart or failover would):
// the call in hand fails with a retryable error, the next one reconnects.
TEST(PostgresConnection, LostConnectionIsUnavailableThenRecovers) {
  DC_REQUIRE_POSTGRES();
  ASSERT_OK_AND_ASSIGN(auto db, TestDatabase::create(Backend::postgresql));
  std::string tag = random_uuid();
  std::erase(tag, '-');
  const std::string application = "dc_reset_" + tag;
  ASSERT_OK_AND_ASSIGN(auto store, Store::open(db->url() + "&application_name=" + application));
  ASSERT_OK(store->add_app(race_app("a1")));

  const auto terminate = [&] {
    auto admin = store_detail::PgConnection::connect(*postgres_url(), "test admin");
    ASSERT_TRUE(admin.ok()) << admin.error().message();
    auto killed = admin->exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + application + "'", {});
    ASSERT_TRUE(killed.ok()) << killed.error().message();
    ASSERT_EQ(killed->rows().size(), 1u);
  };

  terminate();
  auto lost = store->get_app("a1");
  ASSERT_FALSE(lost.ok());
  EXPECT_TRUE(lost.error().retryable()) << lost.error().message();
  ASSERT_OK_AND_ASSIGN(auto app, store->get_app("a1"));  // reconnected
  EXPECT_TRUE(app.has_value());

  // A write transaction after a loss reconnects before it begins.
  terminate();
  Command command;
  command.id = "c1";
  command.app_id = "a1";
  ASSERT_OK(store->record_command(command));
  ASSERT_OK_AND_ASSIGN(auto rows, store->get_command("c1"));
  EXPECT_EQ(rows.size(), 1u);
}

}  // namespace
}  // namespace dc::test
