// The PostgreSQL backend's session: one libpq connection, READ COMMITTED
// transactions, claims made exclusive by conditional UPDATEs and
// INSERT ... ON CONFLICT DO NOTHING (see docs/STORE.md), NOTIFY dc_commands
// on every recorded command.
//
// A lost connection fails the operation in hand with Errc::unavailable and
// is re-established at the start of the next one, so a caller that retries
// recovers once the server is back.
//
// Private to the store layer.
#pragma once

#include <memory>
#include <string>

#include "store/pg_conn.h"
#include "store/sql_session.h"

namespace dc::store_detail {

class PgSession final : public SqlSession {
 public:
  // `url` is passed to libpq; `redacted` names the database in messages.
  static Result<std::unique_ptr<PgSession>> open(std::string url, const std::string& redacted);

  std::string_view backend() const override { return "postgresql"; }
  const std::string& describe() const override { return conn_.describe(); }
  Result<SqlRows> query(std::string_view sql, std::span<const SqlParam> params) override;
  Result<int64_t> execute(std::string_view sql, std::span<const SqlParam> params) override;
  Status begin_write() override;
  Status commit() override;
  void rollback() override;
  Status lock_for_migration() override;
  Status notify_commands(std::string_view payload) override;
  Result<std::unique_ptr<CommandNotifier>> listen(std::string_view channel) override;
  const std::vector<Migration>& migrations() const override { return postgres_migrations(); }

 private:
  PgSession(std::string url, PgConnection conn) : url_(std::move(url)), conn_(std::move(conn)) {}
  // Before a statement outside a transaction: reconnects a broken connection.
  Status ensure_connected();

  std::string url_;
  PgConnection conn_;
  bool in_transaction_ = false;
};

}  // namespace dc::store_detail
