// RAII for libpq's handles. These are the only places that call PQfinish,
// PQclear and PQfreemem, and where a libpq failure becomes a dc::Error
// (exactly once). Every wait has a deadline: connects time out after
// kPgConnectTimeoutS, statements after kPgStatementTimeoutMs, and TCP
// keepalives notice a vanished server. A session that sits idle inside a
// transaction for kPgIdleInTransactionTimeoutMs is ended by the server: a
// process frozen mid-transaction (SIGSTOP, a stalled VM) would otherwise
// hold its row locks, the manager lease's FOR SHARE among them, and block a
// replacement's lease takeover for as long as it stays frozen. dc's
// transactions run their statements back to back and never idle that long.
//
// Private to the store layer.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"
#include "store/sql_session.h"

struct pg_conn;
struct pg_result;

namespace dc::store_detail {

inline constexpr int kPgConnectTimeoutS = 10;
inline constexpr int kPgStatementTimeoutMs = 30000;
inline constexpr int kPgIdleInTransactionTimeoutMs = 5000;

// Owns one PGresult.
class PgResult {
 public:
  explicit PgResult(pg_result* result) : result_(result) {}
  PgResult(PgResult&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  // Every row, each column in text form (nullopt for NULL).
  SqlRows rows() const;
  // Rows an INSERT, UPDATE or DELETE changed (PQcmdTuples); 0 otherwise.
  int64_t changed() const;

 private:
  pg_result* result_ = nullptr;
};

// Owns one PGconn.
class PgConnection {
 public:
  // Connects to `url` (a postgresql:// URL; its own parameters win over the
  // defaults above, except client_encoding, which is always UTF8).
  // `describe` (the redacted URL) names the database in every error.
  // Errors: unavailable (server unreachable), auth, not_found (no such
  // database).
  static Result<PgConnection> connect(const std::string& url, std::string describe);

  PgConnection(PgConnection&& other) noexcept
      : conn_(std::exchange(other.conn_, nullptr)), describe_(std::move(other.describe_)) {}
  PgConnection& operator=(PgConnection&& other) noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  // Runs one statement with text parameters (NULL for monostate). The
  // values must already be valid for PostgreSQL text (see PgSession).
  Result<PgResult> exec(std::string_view sql, std::span<const SqlParam> params);
  // True once libpq has seen the connection fail.
  bool broken() const;
  // Reconnects with the original parameters (PQreset).
  Status reset();

  // The socket, for poll(); -1 when broken.
  int socket() const;
  // Reads whatever the server sent (PQconsumeInput) and counts the
  // notifications received (PQnotifies), freeing each.
  Result<int> consume_notifications();

  const std::string& describe() const { return describe_; }

 private:
  PgConnection(pg_conn* conn, std::string describe) : conn_(conn), describe_(std::move(describe)) {}
  Error connection_error(std::string_view what) const;

  pg_conn* conn_ = nullptr;
  std::string describe_;
};

}  // namespace dc::store_detail
