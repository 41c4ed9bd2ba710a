// The seam between the store's semantics (sql_store.cc, written once) and the
// two database client libraries (sqlite_session.cc, pg_session.cc). A session
// is one connection; it runs parameterized statements and owns the
// transaction boundaries. Statements are written once in the subset of SQL
// both backends accept (RETURNING, ON CONFLICT ... DO NOTHING, partial
// indexes), with PostgreSQL-style `$N` placeholders.
//
// Private to the store layer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "store/schema.h"
#include "store/store.h"

namespace dc::store_detail {

// One bound value: SQL NULL, an integer, or text (which may hold any bytes,
// including NUL; a backend that cannot store such text refuses it).
// The notification channels (PostgreSQL): record_command notifies the first,
// every transaction that logs events the second.
inline constexpr std::string_view kCommandsChannel = "dc_commands";
inline constexpr std::string_view kEventsChannel = "dc_events";

using SqlValue = std::variant<std::monostate, int64_t, std::string>;

struct SqlParam {
  std::string_view field;  // "apps.name": named in errors about the value
  SqlValue value;
};

// Parameter helpers, so call sites read as a list of (field, value).
inline SqlParam text(std::string_view field, std::string_view value) { return {field, std::string(value)}; }
inline SqlParam integer(std::string_view field, int64_t value) { return {field, value}; }
inline SqlParam null(std::string_view field) { return {field, std::monostate{}}; }
template <class T>
SqlParam optional_integer(std::string_view field, const std::optional<T>& value) {
  return value ? integer(field, static_cast<int64_t>(*value)) : null(field);
}
inline SqlParam optional_text(std::string_view field, const std::optional<std::string>& value) {
  return value ? text(field, *value) : null(field);
}

// A result row: each column as its text form, nullopt for NULL. Integers
// arrive in decimal; booleans as "1"/"0" (SQLite) or "t"/"f" (PostgreSQL).
using SqlRow = std::vector<std::optional<std::string>>;
using SqlRows = std::vector<SqlRow>;

class SqlSession {
 public:
  virtual ~SqlSession() = default;

  // "sqlite" or "postgresql".
  virtual std::string_view backend() const = 0;
  // What this session is connected to, for error messages (no secrets).
  virtual const std::string& describe() const = 0;

  // Runs one statement with `$1..$N` bound to params[0..N-1] and returns
  // every row it produced. Errors are typed: unavailable (connection lost,
  // database busy past the timeout: retry), conflict (constraint),
  // invalid_argument (a value the backend cannot store; names the field).
  virtual Result<SqlRows> query(std::string_view sql, std::span<const SqlParam> params) = 0;
  // Runs one INSERT, UPDATE or DELETE without RETURNING and says how many
  // rows it changed (an INSERT ... ON CONFLICT DO NOTHING that met a
  // conflict changed none). Cheaper than RETURNING where only the count
  // matters: SQLite buffers RETURNING rows in a temporary table.
  virtual Result<int64_t> execute(std::string_view sql, std::span<const SqlParam> params) = 0;

  // Starts a transaction that will write: it takes the database's write
  // lock (SQLite: BEGIN IMMEDIATE) or at least begins (PostgreSQL; row locks
  // and conditional updates provide the exclusion there).
  virtual Status begin_write() = 0;
  virtual Status commit() = 0;
  // Abandons the open transaction, if any. Never fails: a lost connection
  // has already abandoned it.
  virtual void rollback() = 0;

  // Takes the cross-process lock that serializes schema migrations for the
  // duration of the current transaction (PostgreSQL advisory lock; SQLite's
  // write lock from begin_write already serializes).
  virtual Status lock_for_migration() = 0;

  // Inside a write transaction: wakes listeners when it commits. `payload`
  // is the owning manager's name or "*". No-op where there is no listener
  // mechanism (SQLite).
  virtual Status notify_commands(std::string_view payload) = 0;

  // A notifier on its own connection LISTENing on `channel`, or nullptr
  // (SQLite).
  virtual Result<std::unique_ptr<CommandNotifier>> listen(std::string_view channel) = 0;

  // The schema migrations in this backend's dialect, oldest first.
  virtual const std::vector<Migration>& migrations() const = 0;
};

// Refuses values a store text column does not hold, naming the field: a
// NUL byte or invalid UTF-8. PostgreSQL text cannot hold either; SQLite
// refuses them too, so the same input has the same outcome on both.
Status check_storable_text(std::span<const SqlParam> params);

}  // namespace dc::store_detail
