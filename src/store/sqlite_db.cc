#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <chrono>
#include <random>
#include <thread>
#include <utility>

namespace dc::store_detail {

// Maps an (extended) SQLite result code to the kind of failure callers act on.
Errc sqlite_errc(int rc) {
  switch (rc) {
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return Errc::invalid_argument;
    default:
      break;
  }
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    // A full disk, a read-only file (remounted, or a snapshot being taken)
    // and failing I/O are conditions of the moment, like PostgreSQL's
    // disk-full (53100) and read-only-standby (25006) errors, which are
    // retried: retried here too, so a valid command waits for the disk
    // instead of being dead-lettered, whichever backend holds it.
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
      return Errc::unavailable;
    case SQLITE_CONSTRAINT:
      return Errc::conflict;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Errc::io;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_SCHEMA:
      return Errc::schema;
    default:
      return Errc::internal;
  }
}

struct SqliteDb::BusyWait {
  std::chrono::milliseconds timeout{0};
  std::chrono::steady_clock::time_point started;
  std::minstd_rand jitter{std::random_device{}()};
};

SqliteDb::SqliteDb(sqlite3* db, std::string describe)
    : db_(db), describe_(std::move(describe)), busy_(std::make_unique<BusyWait>()) {}

int SqliteDb::on_busy(void* state, int attempt) {
  auto* wait = static_cast<BusyWait*>(state);
  const auto now = std::chrono::steady_clock::now();
  if (attempt == 0) wait->started = now;  // SQLite counts from 0 for each new wait
  if (now - wait->started >= wait->timeout) return 0;
  // Short, jittered sleeps: a waiter notices a released lock quickly, and
  // waiters do not wake in lock step.
  const int ceiling_us = attempt < 10 ? 200 : 2000;
  std::uniform_int_distribution<int> pick(100, ceiling_us);
  std::this_thread::sleep_for(std::chrono::microseconds(pick(wait->jitter)));
  return 1;
}

Result<SqliteDb> SqliteDb::open(const std::string& path, std::string describe) {
  sqlite3* raw = nullptr;
  // NOMUTEX: a Store (and so its connection) is used by one thread at a time.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // sqlite3_open_v2 hands out a handle even on failure; own it either way.
  SqliteDb db(raw, std::move(describe));
  if (rc != SQLITE_OK) {
    if (raw == nullptr) return Error(Errc::internal, db.describe_ + ": out of memory opening the database");
    return db.error(rc, "cannot open the database file (does its folder exist and is it writable?)");
  }
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

SqliteDb::SqliteDb(SqliteDb&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), describe_(std::move(other.describe_)), busy_(std::move(other.busy_)) {}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    describe_ = std::move(other.describe_);
    busy_ = std::move(other.busy_);
  }
  return *this;
}

SqliteDb::~SqliteDb() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Error sqlite_error(sqlite3* db, int rc, std::string_view describe, std::string_view what) {
  std::string message = std::string(describe) + ": " + std::string(what) + ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if ((rc & 0xFF) == SQLITE_BUSY || (rc & 0xFF) == SQLITE_LOCKED) {
    message += " (another connection held the database lock past the busy timeout; retry)";
  }
  return Error(sqlite_errc(rc), std::move(message));
}

Status SqliteDb::exec(std::string_view sql) {
  const std::string statement(sql);
  const int rc = sqlite3_exec(db_, statement.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, statement);
  return ok_status();
}

Result<SqliteStatement> SqliteDb::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return error(rc, "cannot prepare statement");
  }
  if (stmt == nullptr) return Error(Errc::internal, describe_ + ": empty SQL statement");
  return SqliteStatement(db_, stmt, describe_);
}

int64_t SqliteDb::changes() const { return sqlite3_changes64(db_); }

bool SqliteDb::autocommit() const { return sqlite3_get_autocommit(db_) != 0; }

Status SqliteDb::set_busy_timeout(int milliseconds) {
  busy_->timeout = std::chrono::milliseconds(milliseconds);
  const int rc = sqlite3_busy_handler(db_, &SqliteDb::on_busy, busy_.get());
  if (rc != SQLITE_OK) return error(rc, "cannot set the busy timeout");
  return ok_status();
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      describe_(std::move(other.describe_)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    describe_ = std::move(other.describe_);
  }
  return *this;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Status SqliteStatement::bind(int index, const SqlValue& value, std::string_view field) {
  int rc = SQLITE_OK;
  if (std::holds_alternative<std::monostate>(value)) {
    rc = sqlite3_bind_null(stmt_, index);
  } else if (const auto* number = std::get_if<int64_t>(&value)) {
    rc = sqlite3_bind_int64(stmt_, index, *number);
  } else {
    const auto& bytes = std::get<std::string>(value);
    rc = sqlite3_bind_text64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC, SQLITE_UTF8);
  }
  if (rc != SQLITE_OK) {
    Error failure = sqlite_error(db_, rc, describe_, "cannot bind " + std::string(field));
    sqlite3_clear_bindings(stmt_);  // no pointer into the caller's values outlives the call
    return failure;
  }
  return ok_status();
}

void SqliteStatement::reset() {
  // sqlite3_reset repeats the last step's error, which run() has reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Result<SqlRows> SqliteStatement::run() {
  SqlRows rows;
  const int columns = sqlite3_column_count(stmt_);
  for (;;) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      const std::string sql = sqlite3_sql(stmt_);
      Error failure = sqlite_error(db_, rc, describe_, "'" + sql.substr(0, 60) + (sql.size() > 60 ? "...'" : "'"));
      reset();
      return failure;
    }
    SqlRow row;
    row.reserve(static_cast<size_t>(columns));
    for (int i = 0; i < columns; ++i) {
      if (sqlite3_column_type(stmt_, i) == SQLITE_NULL) {
        row.emplace_back(std::nullopt);
        continue;
      }
      // Text first, then its length: the documented order that keeps the
      // pointer valid and counts bytes, NULs included.
      const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
      const int size = sqlite3_column_bytes(stmt_, i);
      row.emplace_back(data != nullptr ? std::string(data, static_cast<size_t>(size)) : std::string());
    }
    rows.push_back(std::move(row));
  }
  reset();
  return rows;
}

}  // namespace dc::store_detail
