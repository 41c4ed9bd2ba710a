// The SQLite backend's session: one connection in WAL mode with a busy
// timeout, foreign keys on, synchronous=FULL (a committed command survives a
// power cut), and BEGIN IMMEDIATE for every write transaction so writers
// queue on the database lock instead of failing mid-transaction.
//
// Private to the store layer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/sql_session.h"
#include "store/sqlite_db.h"

namespace dc::store_detail {

// How long a writer waits for another connection's write lock before the
// operation fails with Errc::unavailable.
inline constexpr int kSqliteBusyTimeoutMs = 5000;

class SqliteSession final : public SqlSession {
 public:
  // Opens `path` (":memory:" for a private in-memory database) and applies
  // the connection settings above.
  static Result<std::unique_ptr<SqliteSession>> open(const std::string& path);

  std::string_view backend() const override { return "sqlite"; }
  const std::string& describe() const override { return db_.describe(); }
  Result<SqlRows> query(std::string_view sql, std::span<const SqlParam> params) override;
  Result<int64_t> execute(std::string_view sql, std::span<const SqlParam> params) override;
  Status begin_write() override;
  Status commit() override;
  void rollback() override;
  Status lock_for_migration() override { return ok_status(); }
  Status notify_commands(std::string_view /*payload*/) override { return ok_status(); }
  Result<std::unique_ptr<CommandNotifier>> listen(std::string_view) override {
    return std::unique_ptr<CommandNotifier>();
  }
  const std::vector<Migration>& migrations() const override { return sqlite_migrations(); }

 private:
  explicit SqliteSession(SqliteDb db) : db_(std::move(db)) {}
  // The prepared statement for `sql` with `params` bound.
  Result<SqliteStatement*> bound(std::string_view sql, std::span<const SqlParam> params);

  SqliteDb db_;
  // Prepared statements by their original SQL text. Declared after db_ so
  // they are finalized before the connection closes.
  // Looked up by string_view, without copying the SQL text.
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  std::unordered_map<std::string, SqliteStatement, SqlHash, std::equal_to<>> statements_;
};

}  // namespace dc::store_detail
