#include "store/sqlite_session.h"

namespace dc::store_detail {

namespace {

// The store's statements use PostgreSQL's `$N` placeholders; SQLite reads
// `$N` as a *named* parameter numbered by first appearance, so rewrite to
// `?N`, which binds to index N exactly. The store's SQL has no string
// literal containing '$', so a plain scan is enough.
std::string to_sqlite_placeholders(std::string_view sql) {
  std::string out(sql);
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '$' && out[i + 1] >= '0' && out[i + 1] <= '9') out[i] = '?';
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<SqliteSession>> SqliteSession::open(const std::string& path) {
  auto db = SqliteDb::open(path, "sqlite " + path);
  if (!db) return db.error();
  std::unique_ptr<SqliteSession> session(new SqliteSession(std::move(db).value()));
  // The busy timeout first: switching to WAL needs the lock a concurrent
  // first open may hold.
  if (auto st = session->db_.set_busy_timeout(kSqliteBusyTimeoutMs); !st) return st.error();
  // journal_mode answers with a row; "memory" for an in-memory database.
  if (auto rows = session->query("PRAGMA journal_mode=WAL", {}); !rows) return rows.error();
  for (std::string_view pragma : {"PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto st = session->db_.exec(pragma); !st) return st.error();
  }
  return session;
}

Result<SqliteStatement*> SqliteSession::bound(std::string_view sql, std::span<const SqlParam> params) {
  if (auto st = check_storable_text(params); !st) return st.error();
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    auto prepared = db_.prepare(to_sqlite_placeholders(sql));
    if (!prepared) return prepared.error();
    it = statements_.emplace(std::string(sql), std::move(prepared).value()).first;
  }
  SqliteStatement& statement = it->second;
  for (size_t i = 0; i < params.size(); ++i) {
    if (auto st = statement.bind(static_cast<int>(i + 1), params[i].value, params[i].field); !st) return st.error();
  }
  return &statement;
}

Result<SqlRows> SqliteSession::query(std::string_view sql, std::span<const SqlParam> params) {
  auto statement = bound(sql, params);
  if (!statement) return statement.error();
  return (*statement)->run();
}

Result<int64_t> SqliteSession::execute(std::string_view sql, std::span<const SqlParam> params) {
  auto statement = bound(sql, params);
  if (!statement) return statement.error();
  if (auto rows = (*statement)->run(); !rows) return rows.error();
  return db_.changes();
}

// Prepared once, like every other statement: a manager opens thousands of
// transactions a second.
Status SqliteSession::begin_write() {
  if (auto begun = execute("BEGIN IMMEDIATE", {}); !begun) return begun.error();
  return ok_status();
}

Status SqliteSession::commit() {
  if (auto committed = execute("COMMIT", {}); !committed) return committed.error();
  return ok_status();
}

void SqliteSession::rollback() {
  // SQLite may already have rolled back on its own (e.g. after SQLITE_FULL).
  if (!db_.autocommit()) (void)db_.exec("ROLLBACK");
}

}  // namespace dc::store_detail
