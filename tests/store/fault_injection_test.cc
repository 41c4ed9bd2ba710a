// Faults at the store's boundary with the database, on real databases (an
// SQLite file and the real PostgreSQL): a COMMIT whose outcome is lost with
// the connection (issue 11, item 9), and a disk that fills up under SQLite
// (issue 11, item 11). The database underneath is real; only the answer to
// one call is replaced, the way LevelDB's fault_injection_test wraps its Env.
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <atomic>

#include "store/db_url.h"
#include "store/pg_session.h"
#include "store/sql_store.h"
#include "store/sqlite_db.h"
#include "store/sqlite_session.h"
#include "store/store_contract.h"

namespace dc::test {
namespace {

using namespace std::chrono_literals;
using store_detail::SqlParam;
using store_detail::SqlRows;
using store_detail::SqlSession;

// Forwards everything to a real session. While `lose_commits` is set, every
// COMMIT is carried out and then reported as lost with the connection (the
// reply never arrived): the caller cannot know it committed.
class LostCommitSession final : public SqlSession {
 public:
  explicit LostCommitSession(std::unique_ptr<SqlSession> real) : real_(std::move(real)) {}

  std::atomic<bool> lose_commits{false};
  int lost = 0;

  std::string_view backend() const override { return real_->backend(); }
  const std::string& describe() const override { return real_->describe(); }
  Result<SqlRows> query(std::string_view sql, std::span<const SqlParam> params) override {
    return real_->query(sql, params);
  }
  Result<int64_t> execute(std::string_view sql, std::span<const SqlParam> params) override {
    return real_->execute(sql, params);
  }
  Status begin_write() override { return real_->begin_write(); }
  Status commit() override {
    Status st = real_->commit();
    if (!st || !lose_commits.load()) return st;
    ++lost;
    return Error(Errc::unavailable, real_->describe() + ": connection lost during COMMIT (injected)");
  }
  void rollback() override { real_->rollback(); }
  Status lock_for_migration() override { return real_->lock_for_migration(); }
  Status notify_commands(std::string_view payload) override { return real_->notify_commands(payload); }
  Result<std::unique_ptr<CommandNotifier>> listen(std::string_view channel) override { return real_->listen(channel); }
  const std::vector<store_detail::Migration>& migrations() const override { return real_->migrations(); }

 private:
  std::unique_ptr<SqlSession> real_;
};

Result<std::unique_ptr<SqlSession>> open_session(const std::string& url) {
  auto parsed = store_detail::parse_db_url(url);
  if (!parsed) return parsed.error();
  if (parsed->backend == store_detail::DbUrl::Backend::sqlite) {
    auto session = store_detail::SqliteSession::open(parsed->target);
    if (!session) return session.error();
    return std::unique_ptr<SqlSession>(std::move(*session));
  }
  auto session = store_detail::PgSession::open(parsed->target, parsed->redacted);
  if (!session) return session.error();
  return std::unique_ptr<SqlSession>(std::move(*session));
}

class StoreFaults : public StoreContract {};

INSTANTIATE_TEST_SUITE_P(Shared, StoreFaults, ::testing::Values(Backend::sqlite_file, Backend::postgresql),
                         BackendName());

Command command_for(const std::string& id, const std::string& app_id) {
  Command command;
  command.id = id;
  command.app_id = app_id;
  command.name = CmdName::disable;
  command.issued_by = "faults@test";
  command.issued_at = now();
  return command;
}

// Issue 11, item 9: the claim's COMMIT went through but its reply was lost.
// The manager's retry re-reads the row, finds its own claim and carries the
// command out (before: it took its own claim for someone else's, acked, and
// the row stayed PENDING until a restart). The finish's COMMIT is lost too:
// the retry finds its own finish and succeeds, once.
TEST_P(StoreFaults, ACommitWhoseOutcomeWasLostIsResolvedByTheRetry) {
  auto real = open_session(db_->url());
  ASSERT_TRUE(real.ok()) << real.error().message();
  auto faulty = std::make_unique<LostCommitSession>(std::move(*real));
  LostCommitSession& faults = *faulty;
  ASSERT_OK_AND_ASSIGN(auto store, store_detail::open_sql_store(std::move(faulty)));

  App app;
  app.app_id = "a1";
  app.manager = "m1";
  app.exec = {"/bin/true"};
  ASSERT_OK(store->add_app(app));
  ASSERT_OK(store->record_command(command_for("c1", "a1")));
  ManagerRecord self;
  self.name = "m1";
  self.host = "host";
  self.pid = 1;
  self.mode = ManagerMode::broker;
  self.instance = "instance-1";
  ASSERT_OK(store->acquire_lease(self, 30s));
  const Claimer me("m1", "instance-1");
  ASSERT_OK_AND_ASSIGN(auto rows, store->get_command("c1"));

  faults.lose_commits = true;
  auto claimed = store->claim(rows[0], me);
  ASSERT_FALSE(claimed.ok());
  EXPECT_TRUE(claimed.error().retryable()) << claimed.error().message();
  faults.lose_commits = false;
  ASSERT_OK_AND_ASSIGN(auto place, store->command_place("c1", "a1"));
  EXPECT_FALSE(place.settled(me)) << "the manager would ack its own unseen claim as a duplicate";
  ASSERT_OK_AND_ASSIGN(auto retried, store->claim(rows[0], me));
  EXPECT_EQ(retried, ClaimResult::claimed);

  Outcome outcome;
  outcome.flag = CmdFlag::executed;
  outcome.result = "disabled";
  faults.lose_commits = true;
  auto finished = store->finish("c1", "a1", me, outcome);
  ASSERT_FALSE(finished.ok());
  faults.lose_commits = false;
  ASSERT_OK(store->finish("c1", "a1", me, outcome));
  EXPECT_EQ(faults.lost, 2);

  ASSERT_OK_AND_ASSIGN(auto row, store->get_command_row("c1", "a1"));
  EXPECT_EQ(row->flag, CmdFlag::executed);
  EXPECT_EQ(row->result, "disabled");
  ASSERT_OK_AND_ASSIGN(auto again, store->claim(rows[0], me));
  EXPECT_EQ(again, ClaimResult::already_finished);
}

// Issue 11, item 11: a full disk is a condition of the moment on SQLite as
// on PostgreSQL (53100): Errc::unavailable, so the manager retries a valid
// command instead of dead-lettering it; once there is room it is recorded.
// A full disk can be made here only for the SQLite file (a process file
// size limit); PostgreSQL's disk-full SQLSTATE 53100 is classified as
// unavailable in pg_conn.cc.
class SqliteFaults : public StoreContract {};
INSTANTIATE_TEST_SUITE_P(File, SqliteFaults, ::testing::Values(Backend::sqlite_file), BackendName());

TEST_P(SqliteFaults, AFullDiskIsRetryable) {
  App app;
  app.app_id = "a1";
  app.manager = "m1";
  app.exec = {"/bin/true"};
  ASSERT_OK(store_->add_app(app));
  // The file size limit makes every write past it fail as a full disk does
  // (EFBIG instead of ENOSPC); SIGXFSZ is ignored so the write just fails.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &previous), 0);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Command big = command_for("big", "a1");
  big.args_json = R"({"pad":")" + std::string(200 * 1024, 'x') + "\"}";
  auto full = store_->record_command(big);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  ASSERT_EQ(::sigaction(SIGXFSZ, &previous, nullptr), 0);
  ASSERT_FALSE(full.ok()) << "the write past the limit succeeded";
  EXPECT_EQ(full.error().code(), Errc::unavailable) << full.error().message();
  ASSERT_OK(store_->record_command(big));
  ASSERT_OK_AND_ASSIGN(auto rows, store_->get_command("big"));
  EXPECT_EQ(rows.size(), 1u);
}

// The classification itself, for the codes no test can provoke here.
TEST(SqliteErrors, TransientConditionsAreRetryable) {
  for (const int rc : {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_WRITE, SQLITE_READONLY,
                       SQLITE_READONLY_DBMOVED}) {
    EXPECT_EQ(store_detail::sqlite_errc(rc), Errc::unavailable) << rc;
  }
  EXPECT_EQ(store_detail::sqlite_errc(SQLITE_CORRUPT), Errc::schema);
  EXPECT_EQ(store_detail::sqlite_errc(SQLITE_CONSTRAINT_CHECK), Errc::invalid_argument);
  EXPECT_EQ(store_detail::sqlite_errc(SQLITE_CANTOPEN), Errc::io);
}

}  // namespace
}  // namespace dc::test
