#include "store/pg_conn.h"

#include <libpq-fe.h>

#include <array>
#include <charconv>
#include <vector>

namespace dc::store_detail {

namespace {

// libpq messages end with a newline and sometimes span lines; one line reads
// better inside our own message.
std::string one_line(const char* text) {
  std::string out = text != nullptr ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  return out;
}

// Maps a SQLSTATE to the kind of failure callers act on.
Errc classify(std::string_view state) {
  if (state.size() != 5) return Errc::unavailable;  // no state: the connection failed
  const std::string_view klass = state.substr(0, 2);
  if (klass == "08" || klass == "53" || state == "57P01" || state == "57P02" || state == "57P03" || state == "40001" ||
      state == "40P01" || state == "25006") {
    // connection, resources (disk full), shutdown, serialization, and a
    // read-only transaction (a standby not yet promoted): retry
    return Errc::unavailable;
  }
  if (state == "57014" || state == "55P03") return Errc::timeout;  // statement or lock timeout
  if (state == "23505") return Errc::conflict;
  if (klass == "23" || klass == "22") return Errc::invalid_argument;
  if (klass == "28") return Errc::auth;
  if (state == "42501") return Errc::access_refused;
  if (state == "3D000") return Errc::not_found;
  return Errc::internal;
}

// The server's notices ("relation already exists, skipping") would otherwise
// go to stderr; the store reports what matters through its return values.
void ignore_notice(void* /*arg*/, const char* /*message*/) {}

}  // namespace

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

SqlRows PgResult::rows() const {
  SqlRows rows;
  if (result_ == nullptr) return rows;
  const int count = PQntuples(result_);
  const int columns = PQnfields(result_);
  rows.reserve(static_cast<size_t>(count));
  for (int r = 0; r < count; ++r) {
    SqlRow row;
    row.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(result_, r, c) != 0) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(result_, r, c), static_cast<size_t>(PQgetlength(result_, r, c))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

int64_t PgResult::changed() const {
  if (result_ == nullptr) return 0;
  const std::string_view count = PQcmdTuples(result_);  // "" for a statement that changes no rows
  int64_t n = 0;
  std::from_chars(count.data(), count.data() + count.size(), n);
  return n;
}

Result<PgConnection> PgConnection::connect(const std::string& url, std::string describe) {
  const std::string connect_timeout = std::to_string(kPgConnectTimeoutS);
  const std::string options = "-c statement_timeout=" + std::to_string(kPgStatementTimeoutMs) +
                              " -c idle_in_transaction_session_timeout=" +
                              std::to_string(kPgIdleInTransactionTimeoutMs);
  // Keywords before "dbname" are defaults the URL may override; those after
  // it win over the URL (libpq processes them in order).
  const std::array<const char*, 11> keywords{"connect_timeout",
                                             "application_name",
                                             "keepalives",
                                             "keepalives_idle",
                                             "keepalives_interval",
                                             "keepalives_count",
                                             "tcp_user_timeout",
                                             "options",
                                             "dbname",
                                             "client_encoding",
                                             nullptr};
  const std::array<const char*, 11> values{connect_timeout.c_str(), "dc",        "1",    "10",   "5", "3", "30000",
                                           options.c_str(),         url.c_str(), "UTF8", nullptr};
  PgConnection conn(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1), std::move(describe));
  if (conn.conn_ == nullptr) return Error(Errc::internal, conn.describe_ + ": out of memory connecting");
  if (PQstatus(conn.conn_) != CONNECTION_OK) return conn.connection_error("cannot connect");
  PQsetNoticeProcessor(conn.conn_, ignore_notice, nullptr);
  return conn;
}

PgConnection& PgConnection::operator=(PgConnection&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    describe_ = std::move(other.describe_);
  }
  return *this;
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Error PgConnection::connection_error(std::string_view what) const {
  const std::string detail = one_line(PQerrorMessage(conn_));
  Errc code = Errc::unavailable;
  if (detail.find("authentication failed") != std::string::npos || detail.find("pg_hba.conf") != std::string::npos ||
      detail.find("password") != std::string::npos) {
    code = Errc::auth;
  } else if (detail.find("does not exist") != std::string::npos) {
    code = Errc::not_found;
  }
  std::string advice = code == Errc::auth        ? "check the user and password in db_url"
                       : code == Errc::not_found ? "create the database or fix db_url"
                                                 : "check that the server is running and db_url is right; retry";
  return Error(code, describe_ + ": " + std::string(what) + ": " + detail + " (" + advice + ")");
}

bool PgConnection::broken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }

Status PgConnection::reset() {
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) return connection_error("cannot reconnect");
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  return ok_status();
}

Result<PgResult> PgConnection::exec(std::string_view sql, std::span<const SqlParam> params) {
  std::vector<std::string> integers(params.size());
  std::vector<const char*> values(params.size(), nullptr);
  for (size_t i = 0; i < params.size(); ++i) {
    const SqlValue& value = params[i].value;
    if (const auto* number = std::get_if<int64_t>(&value)) {
      integers[i] = std::to_string(*number);
      values[i] = integers[i].c_str();
    } else if (const auto* bytes = std::get_if<std::string>(&value)) {
      values[i] = bytes->c_str();
    }
  }
  const std::string statement(sql);
  pg_result* raw = PQexecParams(conn_, statement.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                nullptr, nullptr, /*resultFormat=text*/ 0);
  PgResult result(raw);  // owns `raw` from here on
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;

  const char* state = raw != nullptr ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string detail = one_line(raw != nullptr ? PQresultErrorMessage(raw) : nullptr);
  if (detail.empty()) detail = one_line(PQerrorMessage(conn_));
  const Errc code = broken() ? Errc::unavailable : classify(state != nullptr ? state : "");
  std::string message = describe_ + ": '" + statement.substr(0, 60) + (statement.size() > 60 ? "...': " : "': ");
  message += detail;
  if (broken()) message += " (connection lost; the next operation reconnects)";
  return Error(code, std::move(message));
}

int PgConnection::socket() const { return conn_ != nullptr ? PQsocket(conn_) : -1; }

Result<int> PgConnection::consume_notifications() {
  if (PQconsumeInput(conn_) == 0) return connection_error("cannot read notifications");
  int count = 0;
  while (PGnotify* notify = PQnotifies(conn_)) {
    PQfreemem(notify);
    ++count;
  }
  return count;
}

}  // namespace dc::store_detail
