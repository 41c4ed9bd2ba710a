// RAII for SQLite's two handles. These are the only places that call
// sqlite3_close_v2 and sqlite3_finalize, and where an SQLite result code
// becomes a dc::Error (exactly once).
//
// Private to the store layer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"
#include "store/sql_session.h"

struct sqlite3;
struct sqlite3_stmt;

namespace dc::store_detail {

class SqliteStatement;

// The kind of failure an (extended) SQLite result code is, as callers act on
// it: the same Errc as PostgreSQL's equivalent (BUSY, LOCKED, FULL,
// READONLY, IOERR are Errc::unavailable: retry).
Errc sqlite_errc(int rc);

// The one conversion from an SQLite result code to a dc::Error: says which
// database, what was being done, and SQLite's own explanation.
Error sqlite_error(sqlite3* db, int rc, std::string_view describe, std::string_view what);

// One open database connection. Move-only; closes on destruction.
class SqliteDb {
 public:
  // Opens (creating if absent) `path` (":memory:" for a private in-memory
  // database). `describe` names the database in every error message.
  static Result<SqliteDb> open(const std::string& path, std::string describe);

  SqliteDb(SqliteDb&& other) noexcept;
  SqliteDb& operator=(SqliteDb&& other) noexcept;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  // Runs SQL text without parameters or results (BEGIN, COMMIT, PRAGMA x=y).
  Status exec(std::string_view sql);
  Result<SqliteStatement> prepare(std::string_view sql);
  // Rows changed by the most recent INSERT, UPDATE or DELETE.
  int64_t changes() const;
  // True when no transaction is open.
  bool autocommit() const;
  // While another connection holds the lock, retry for up to `milliseconds`
  // before failing with SQLITE_BUSY (Errc::unavailable). Unlike SQLite's own
  // busy timeout, whose sleeps grow to 100 ms and let busy writers starve a
  // waiter past the deadline, this retries every 0.1-2 ms with jitter.
  Status set_busy_timeout(int milliseconds);

  // The Error for result code `rc` of the operation `what`, with SQLite's
  // own message.
  Error error(int rc, std::string_view what) const { return sqlite_error(db_, rc, describe_, what); }
  const std::string& describe() const { return describe_; }

 private:
  // The busy handler's state; on the heap so its address survives moves.
  struct BusyWait;
  static int on_busy(void* wait, int attempt);

  SqliteDb(sqlite3* db, std::string describe);

  sqlite3* db_ = nullptr;
  std::string describe_;
  std::unique_ptr<BusyWait> busy_;
};

// One prepared statement. Move-only; finalizes on destruction. Must be
// destroyed before the SqliteDb that prepared it (sqlite3_close_v2 would
// otherwise defer the close until it is).
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Binds `value` to the 1-based parameter `index`. Text is bound with its
  // explicit length, so embedded NUL bytes are stored intact, and without a
  // copy: `value` must outlive the statement's run() (the bindings are
  // cleared when it returns).
  Status bind(int index, const SqlValue& value, std::string_view field);
  // Runs the statement to completion and returns all rows, then resets it
  // (bindings cleared) for reuse, on success and on failure alike.
  Result<SqlRows> run();

 private:
  friend class SqliteDb;
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt, std::string describe)
      : db_(db), stmt_(stmt), describe_(std::move(describe)) {}
  void reset();

  sqlite3* db_ = nullptr;  // not owned
  sqlite3_stmt* stmt_ = nullptr;
  std::string describe_;
};

}  // namespace dc::store_detail
