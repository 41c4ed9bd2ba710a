#include "store/pg_session.h"

#include "store/codec.h"

namespace dc::store_detail {

namespace {

// Serializes schema migrations across every process opening the database:
// an arbitrary constant, the same in every dc build ("dcSchema" in ASCII).
constexpr std::string_view kLockForMigrationSql = "SELECT pg_advisory_xact_lock(7234297362787460449)";

// LISTENs on its own connection, so waiting for notifications never
// interleaves with the store's statements.
class PgCommandNotifier final : public CommandNotifier {
 public:
  explicit PgCommandNotifier(PgConnection conn) : conn_(std::move(conn)) {}

  int fd() const override { return conn_.socket(); }

  Result<int> drain() override {
    auto count = conn_.consume_notifications();
    if (!count) {
      return count.error().with_context(
          "notifier lost its connection; create a new one with "
          "listen_for_commands() or listen_for_events()");
    }
    return count;
  }

 private:
  PgConnection conn_;
};

}  // namespace

Result<std::unique_ptr<PgSession>> PgSession::open(std::string url, const std::string& redacted) {
  auto conn = PgConnection::connect(url, "postgresql " + redacted);
  if (!conn) return conn.error();
  return std::unique_ptr<PgSession>(new PgSession(std::move(url), std::move(conn).value()));
}

Status PgSession::ensure_connected() {
  if (!conn_.broken()) return ok_status();
  // A transaction does not survive its connection: report the loss rather
  // than continue on a new connection outside the transaction.
  if (in_transaction_) {
    return Error(Errc::unavailable, conn_.describe() + ": connection lost during a transaction; retry");
  }
  return conn_.reset();
}

Result<SqlRows> PgSession::query(std::string_view sql, std::span<const SqlParam> params) {
  if (auto st = check_storable_text(params); !st) return st.error();
  if (auto st = ensure_connected(); !st) return st.error();
  auto result = conn_.exec(sql, params);
  if (!result) return result.error();
  return result->rows();
}

Result<int64_t> PgSession::execute(std::string_view sql, std::span<const SqlParam> params) {
  if (auto st = check_storable_text(params); !st) return st.error();
  if (auto st = ensure_connected(); !st) return st.error();
  auto result = conn_.exec(sql, params);
  if (!result) return result.error();
  return result->changed();
}

Status PgSession::begin_write() {
  if (auto st = ensure_connected(); !st) return st;
  auto begun = conn_.exec("BEGIN", {});
  if (!begun && conn_.broken()) {
    // BEGIN changes nothing, so after a server restart it is safe to
    // reconnect and try once more right away.
    if (auto st = conn_.reset(); !st) return st;
    begun = conn_.exec("BEGIN", {});
  }
  if (!begun) return begun.error();
  in_transaction_ = true;
  return ok_status();
}

Status PgSession::commit() {
  auto committed = conn_.exec("COMMIT", {});
  in_transaction_ = false;
  if (!committed) return committed.error();
  return ok_status();
}

void PgSession::rollback() {
  if (in_transaction_ && !conn_.broken()) (void)conn_.exec("ROLLBACK", {});
  in_transaction_ = false;
}

Status PgSession::lock_for_migration() {
  auto locked = conn_.exec(kLockForMigrationSql, {});
  if (!locked) return locked.error();
  return ok_status();
}

Status PgSession::notify_commands(std::string_view payload) {
  const SqlParam params[] = {text("notification channel", kCommandsChannel),
                             text("notification payload (manager name)", payload)};
  if (auto st = check_storable_text(params); !st) return st;
  // pg_notify() rather than NOTIFY: NOTIFY takes no bound parameter.
  auto sent = conn_.exec("SELECT pg_notify($1, $2)", params);
  if (!sent) return sent.error();
  return ok_status();
}

Result<std::unique_ptr<CommandNotifier>> PgSession::listen(std::string_view channel) {
  auto conn = PgConnection::connect(url_, conn_.describe() + " (listener)");
  if (!conn) return conn.error();
  // A channel is an identifier, not a parameter: only our own constants.
  if (channel != kCommandsChannel && channel != kEventsChannel) {
    return Error(Errc::invalid_argument, "unknown notification channel " + std::string(channel));
  }
  auto listening = conn->exec("LISTEN " + std::string(channel), {});
  if (!listening) return listening.error();
  return std::unique_ptr<CommandNotifier>(std::make_unique<PgCommandNotifier>(std::move(conn).value()));
}

}  // namespace dc::store_detail
