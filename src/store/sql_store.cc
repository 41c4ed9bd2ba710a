#include "store/sql_store.h"

#include <charconv>
#include <limits>
#include <type_traits>
#include <utility>

#include "base/names.h"
#include "store/codec.h"
#include "store/event_log.h"
#include "store/schema.h"

namespace dc::store_detail {

namespace {

// Column lists, in the order the decoders below read them.
constexpr std::string_view kAppColumns =
    "app_id, name, manager, exec, schedule, disable, status, pid, proc_start, exit_code, started_at, stopped_at, "
    "next_run_at, cmd, cmd_flag, cmd_id, cmd_issued_by, cmd_args, cmd_result, registered_at, cmd_path";
constexpr std::string_view kCommandColumns =
    "seq, cmd_id, app_id, target, command, args, issued_by, issued_at, flag, claimed_by, claimed_at, executed_at, "
    "result, path, claimed_instance, signature, recorded";
constexpr std::string_view kManagerColumns = "name, host, pid, started_at, last_seen, mode, version, instance";

std::string quoted(std::string_view text) {
  // Names in messages are cut short so a 1 MB value does not become a 1 MB
  // log line.
  constexpr size_t kMax = 80;
  return "'" + std::string(text.substr(0, kMax)) + (text.size() > kMax ? "...'" : "'");
}

Error schema_error(std::string_view what) { return Error(Errc::schema, std::string(what)); }

// Reads one row column by column. The first column that does not hold what
// the schema promises (a hand-edited row, say) is remembered as an
// Errc::schema error, and later reads return defaults; callers check error()
// once at the end instead of after every column.
class RowReader {
 public:
  RowReader(const SqlRow& row, std::string what) : row_(row), what_(std::move(what)) {}

  std::string text(size_t i) const { return row_.at(i).value_or(std::string()); }
  std::optional<std::string> optional_text(size_t i) const { return row_.at(i); }

  std::optional<int64_t> optional_integer(size_t i, std::string_view column) {
    const auto& cell = row_.at(i);
    if (!cell) return std::nullopt;
    int64_t value = 0;
    const char* begin = cell->data();
    const char* end = begin + cell->size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr != end) {
      fail(column, *cell, "not an integer");
      return std::nullopt;
    }
    return value;
  }

  int64_t integer(size_t i, std::string_view column) {
    auto value = optional_integer(i, column);
    if (!value && row_.at(i) == std::nullopt) fail(column, "NULL", "must not be NULL");
    return value.value_or(0);
  }

  bool boolean(size_t i, std::string_view column) {
    const std::string value = text(i);
    if (value == "1" || value == "t" || value == "true") return true;
    if (value == "0" || value == "f" || value == "false") return false;
    fail(column, value, "not a boolean");
    return false;
  }

  std::optional<TimePoint> optional_time(size_t i, std::string_view column) {
    const auto& cell = row_.at(i);
    if (!cell) return std::nullopt;
    auto parsed = parse_db_time(*cell, column);
    if (!parsed) {
      fail(column, *cell, "not an ISO-8601 UTC time");
      return std::nullopt;
    }
    return *parsed;
  }

  TimePoint time(size_t i, std::string_view column) { return optional_time(i, column).value_or(TimePoint{}); }

  template <class Enum>
  std::optional<Enum> optional_code(size_t i, std::string_view column, std::optional<Enum> (*from_int)(int64_t)) {
    const auto value = optional_integer(i, column);
    if (!value) return std::nullopt;
    auto decoded = from_int(*value);
    if (!decoded) fail(column, std::to_string(*value), "not a known code");
    return decoded;
  }

  const std::optional<Error>& error() const { return error_; }

 private:
  void fail(std::string_view column, std::string_view value, std::string_view why) {
    if (error_) return;
    error_ = schema_error(what_ + ": column " + std::string(column) + " holds " + quoted(value) + ", " +
                          std::string(why) + "; fix the row by hand or restore it");
  }

  const SqlRow& row_;
  std::string what_;
  std::optional<Error> error_;
};

Result<App> decode_app(const SqlRow& row) {
  RowReader r(row, "apps row " + quoted(row.at(0).value_or("")));
  App app;
  app.app_id = r.text(0);
  app.name = r.text(1);
  app.manager = r.text(2);
  auto exec = decode_exec(r.text(3), app.app_id);
  if (!exec) return exec.error();
  app.exec = std::move(exec).value();
  app.schedule = r.optional_text(4);
  app.disable = r.boolean(5, "disable");
  const std::string status = r.text(6);
  if (auto parsed = app_status_from_string(status)) {
    app.status = *parsed;
  } else {
    return schema_error("apps row " + quoted(app.app_id) + ": column status holds " + quoted(status) +
                        ", not one of STOPPED/STARTING/RUNNING/STOPPING/FAILED");
  }
  app.pid = r.optional_integer(7, "pid");
  app.proc_start = r.optional_integer(8, "proc_start");
  if (auto code = r.optional_integer(9, "exit_code")) app.exit_code = static_cast<int>(*code);
  app.started_at = r.optional_time(10, "started_at");
  app.stopped_at = r.optional_time(11, "stopped_at");
  app.next_run_at = r.optional_time(12, "next_run_at");
  app.cmd = r.optional_code<CmdName>(13, "cmd", cmd_name_from_int);
  app.cmd_flag = r.optional_code<CmdFlag>(14, "cmd_flag", cmd_flag_from_int);
  app.cmd_id = r.optional_text(15);
  app.cmd_issued_by = r.optional_text(16);
  app.cmd_args = r.optional_text(17);
  app.cmd_result = r.optional_text(18);
  app.registered_at = r.optional_time(19, "registered_at");
  if (r.error()) return *r.error();
  if (const auto path = r.optional_text(20)) {
    app.cmd_path = delivery_path_from_string(*path);
    if (!app.cmd_path) {
      return schema_error("apps row " + quoted(app.app_id) + ": column cmd_path holds " + quoted(*path) +
                          ", not 'broker' or 'poll'");
    }
  }
  return app;
}

Result<CommandRecord> decode_command(const SqlRow& row) {
  RowReader r(row, "commands row seq " + row.at(0).value_or("?"));
  CommandRecord record;
  record.seq = r.integer(0, "seq");
  record.cmd_id = r.text(1);
  record.app_id = r.text(2);
  record.target = r.text(3);
  record.command = r.optional_code<CmdName>(4, "command", cmd_name_from_int).value_or(CmdName::start);
  record.args_json = r.text(5);
  record.issued_by = r.text(6);
  record.issued_at = r.time(7, "issued_at");
  record.flag = r.optional_code<CmdFlag>(8, "flag", cmd_flag_from_int).value_or(CmdFlag::pending);
  record.claimed_by = r.optional_text(9);
  record.claimed_at = r.optional_time(10, "claimed_at");
  record.executed_at = r.optional_time(11, "executed_at");
  record.result = r.optional_text(12);
  record.claimed_instance = r.optional_text(14);
  record.signature = r.text(15);
  record.recorded = r.boolean(16, "recorded");
  if (const auto path = r.optional_text(13)) {
    record.path = delivery_path_from_string(*path);
    if (!record.path) {
      return schema_error("commands row seq " + std::to_string(record.seq) + ": column path holds " + quoted(*path) +
                          ", not 'broker' or 'poll'");
    }
  }
  if (r.error()) return *r.error();
  return record;
}

Result<ManagerRecord> decode_manager(const SqlRow& row) {
  RowReader r(row, "managers row " + quoted(row.at(0).value_or("")));
  ManagerRecord manager;
  manager.name = r.text(0);
  manager.host = r.text(1);
  manager.pid = r.integer(2, "pid");
  manager.started_at = r.time(3, "started_at");
  manager.last_seen = r.time(4, "last_seen");
  const std::string mode = r.text(5);
  manager.version = r.text(6);
  manager.instance = r.text(7);
  if (r.error()) return *r.error();
  const auto known = manager_mode_from_string(mode);
  if (!known) {
    return schema_error("managers row " + quoted(manager.name) + ": column mode holds " + quoted(mode) +
                        ", not 'starting', 'broker', 'fallback' or 'stopped'");
  }
  manager.mode = *known;
  return manager;
}

template <class T, class Decode>
Result<std::vector<T>> decode_all(const SqlRows& rows, Decode decode) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const SqlRow& row : rows) {
    auto decoded = decode(row);
    if (!decoded) return decoded.error();
    out.push_back(std::move(decoded).value());
  }
  return out;
}

Status require_nonempty(std::string_view value, std::string_view what) {
  if (value.empty()) return Error(Errc::invalid_argument, std::string(what) + " is empty");
  return ok_status();
}

// Names that are keys (indexed columns) stay short: PostgreSQL cannot index
// a value much over 2 kB, and the same names travel as AMQP short strings
// (queue name = manager name, message_id = command id) of at most 255 bytes.
// Both backends apply the same limit so a name valid on one is valid on the
// other.
constexpr size_t kMaxNameBytes = 255;

Status check_name(std::string_view value, std::string_view what) {
  if (auto st = require_nonempty(value, what); !st) return st;
  if (value.size() > kMaxNameBytes) {
    return Error(Errc::invalid_argument, std::string(what) + " is " + std::to_string(value.size()) +
                                             " bytes long; the limit is " + std::to_string(kMaxNameBytes));
  }
  return ok_status();
}

// A limit of zero or less means "no limit".
int64_t effective_limit(int limit) { return limit > 0 ? limit : std::numeric_limits<int64_t>::max(); }

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<SqlSession> session) : db_(std::move(session)) {}

  Status migrate();

  std::string_view backend() const override { return db_->backend(); }
  Result<int> schema_version() override;

  Status add_app(const App& app) override;
  Status update_app(const App& app) override;
  Status remove_app(std::string_view app_id) override;
  Result<std::optional<App>> get_app(std::string_view app_id) override;
  Result<std::vector<App>> list_apps(const AppFilter& filter) override;
  Status set_app_state(std::string_view app_id, const AppState& state) override;
  Status set_next_run(std::string_view app_id, std::optional<TimePoint> next_run_at) override;

  Result<std::vector<CommandRecord>> record_command(const Command& command,
                                                    std::optional<std::string_view> manager) override;
  Result<ClaimResult> claim(const CommandRecord& record, const Claimer& claimer) override;
  Status finish(std::string_view cmd_id, std::string_view app_id, const Claimer& claimer,
                const Outcome& outcome) override;
  Result<std::vector<ClaimResult>> claim_and_finish(std::span<const FinishedCommand> items,
                                                    const Claimer& claimer) override;
  Result<std::vector<CommandRecord>> pending_for_manager(std::string_view manager, int limit) override;
  Result<CommandPlace> command_place(std::string_view cmd_id, std::string_view app_id) override;
  Status in_transaction(const std::function<Status()>& body) override;
  Result<std::vector<CommandRecord>> claimed_unfinished(std::string_view manager) override;
  Result<std::vector<App>> broadcast_targets(std::string_view cmd_id, std::string_view manager,
                                             TimePoint issued_at) override;
  Result<std::vector<CommandRecord>> list_commands(const CommandFilter& filter) override;
  Result<std::vector<CommandRecord>> get_command(std::string_view cmd_id) override;
  Result<std::optional<CommandRecord>> get_command_row(std::string_view cmd_id, std::string_view app_id) override;

  Status acquire_lease(const ManagerRecord& self, std::chrono::milliseconds lease_ttl) override;
  Status heartbeat(std::string_view name, std::string_view instance, ManagerMode mode) override;
  Status release_lease(std::string_view name, std::string_view instance) override;
  Result<TimePoint> database_time() override;
  Result<std::vector<ManagerRecord>> list_managers() override;

  Result<std::unique_ptr<CommandNotifier>> listen_for_commands() override { return db_->listen(kCommandsChannel); }

  Result<std::vector<StoreEvent>> events_after(int64_t after_seq, int limit) override;
  Result<EventBounds> event_bounds() override;
  Result<int64_t> prune_events(TimePoint before, int64_t keep_at_least) override;
  Result<std::vector<ManagerRecord>> report_lost_managers(std::chrono::milliseconds lease_ttl) override;
  Result<std::unique_ptr<CommandNotifier>> listen_for_events() override { return db_->listen(kEventsChannel); }

 private:
  // The bodies of claim() and finish(), for use inside a write transaction.
  Result<ClaimResult> claim_locked(const CommandRecord& record, const Claimer& claimer, const std::string& claimed_at);
  Status finish_locked(std::string_view cmd_id, std::string_view app_id, const Claimer& claimer, const Outcome& outcome,
                       const std::string& executed_at);
  // Both at once, for claim_and_finish().
  Result<ClaimResult> claim_finished_locked(const FinishedCommand& item, const Claimer& claimer,
                                            const std::string& stamp);
  // Why a claim found no unclaimed row to take: the claimer is fenced, the
  // row is this claimer's own (a claim whose commit it did not see), or
  // someone else has it or finished it.
  Result<ClaimResult> held_elsewhere(std::string_view cmd_id, std::string_view app_id, const Claimer& claimer);
  // Errc::fenced unless the claimer has no instance or still holds its
  // manager's lease (the managers row carries its instance).
  Status check_fence(const Claimer& claimer);
  // The fence of every claim and finish, as an SQL condition: the
  // claimer's managers row still carries its instance. `manager_param` and
  // `instance_param` number the parameters holding them; an empty instance
  // means "no fence". On PostgreSQL the managers row is read FOR SHARE, so
  // a lease takeover waits for the claim's commit, and the new holder's
  // recovery sees every claim made under the old instance; SQLite's write
  // lock serialises them anyway.
  std::string fence_condition(int manager_param, int instance_param) const;
  std::string_view share_lock() const { return db_->backend() == "postgresql" ? " FOR SHARE" : ""; }
  // The database's clock, for leases.
  Result<TimePoint> database_now();
  // Logs `event` with the write transaction in progress: it is appended by
  // the transaction's last statement, and goes if the transaction does.
  void log_event(PendingEvent event) { events_.push_back(std::move(event)); }
  // Appends the logged events (write_transaction, just before COMMIT).
  Status append_events();
  // The app's state and mirror after a finished command (nothing when the
  // outcome carries no app state). `inserted_from`: the record the row was
  // just inserted from, so its values need not be read back; or nullptr.
  Status mirror_outcome(std::string_view cmd_id, std::string_view app_id, const Outcome& outcome,
                        const CommandRecord* inserted_from);

  // Every statement goes through these two. A failed statement inside a
  // transaction dooms it: PostgreSQL has already aborted it, and would
  // answer COMMIT with a silent rollback.
  Result<SqlRows> run(std::string_view sql, std::span<const SqlParam> params) { return noted(db_->query(sql, params)); }
  Result<int64_t> execute(std::string_view sql, std::span<const SqlParam> params) {
    return noted(db_->execute(sql, params));
  }
  Result<SqlRows> run(std::string_view sql, std::initializer_list<SqlParam> params = {}) {
    return run(sql, std::span<const SqlParam>(params.begin(), params.size()));
  }
  Result<int64_t> execute(std::string_view sql, std::initializer_list<SqlParam> params) {
    return execute(sql, std::span<const SqlParam>(params.begin(), params.size()));
  }
  template <class T>
  Result<T> noted(Result<T> result) {
    if (!result && transaction_open_) doomed_ = true;
    return result;
  }

  // Runs `body` (returning Result<T> or Status) inside one write
  // transaction: committed when it succeeds, rolled back when it or the
  // commit fails. Every error is prefixed with `what`.
  //
  // Inside in_transaction() the body joins the caller's transaction instead,
  // and a failure there dooms it (the caller's commit turns into a
  // rollback).
  template <class Body>
  std::invoke_result_t<Body&> write_transaction(std::string_view what, Body&& body) {
    using R = std::invoke_result_t<Body&>;
    if (transaction_open_) {
      R result = body();
      if (result) return result;
      doomed_ = true;
      return R(result.error().with_context(what));
    }
    if (auto begun = db_->begin_write(); !begun) return R(begun.error().with_context(what));
    transaction_open_ = true;
    doomed_ = false;
    events_.clear();
    R result = body();
    if (result && !doomed_ && !events_.empty()) {
      if (auto appended = append_events(); !appended) result = R(appended.error());
    }
    transaction_open_ = false;
    events_.clear();
    if (result && doomed_) result = R(Error(Errc::internal, "an operation inside the transaction failed"));
    if (!result) {
      db_->rollback();
      return R(result.error().with_context(what));
    }
    if (auto committed = db_->commit(); !committed) {
      db_->rollback();
      return R(committed.error().with_context(what));
    }
    return result;
  }

  Result<std::vector<CommandRecord>> select_commands(std::string_view what, const std::string& sql,
                                                     const std::vector<SqlParam>& params) {
    auto rows = run(sql, params);
    if (!rows) return rows.error().with_context(what);
    auto records = decode_all<CommandRecord>(*rows, decode_command);
    if (!records) return records.error().with_context(what);
    return records;
  }

  std::unique_ptr<SqlSession> db_;
  bool transaction_open_ = false;     // inside write_transaction()
  bool doomed_ = false;               // something inside it failed
  std::vector<PendingEvent> events_;  // logged inside the open write transaction
};

// ---------------------------------------------------------------- schema

Status SqlStore::migrate() {
  return write_transaction("open " + db_->describe(), [&]() -> Status {
    if (auto st = db_->lock_for_migration(); !st) return st;
    if (auto rows = run(schema_version_table_sql()); !rows) return rows.error();
    auto rows = run("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!rows) return rows.error();
    RowReader r(rows->at(0), "schema_version");
    const int64_t version = r.integer(0, "version");
    if (r.error()) return *r.error();
    if (version > kSchemaVersion) {
      return Error(Errc::schema, "the database has schema version " + std::to_string(version) +
                                     ", newer than version " + std::to_string(kSchemaVersion) +
                                     " that this dc understands; upgrade dc to use this database");
    }
    for (const Migration& migration : db_->migrations()) {
      if (migration.version <= version) continue;
      for (std::string_view statement : migration.statements) {
        if (auto applied = run(statement); !applied) {
          return applied.error().with_context("migration to schema version " + std::to_string(migration.version));
        }
      }
      auto recorded = run("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                          {integer("schema_version.version", migration.version),
                           text("schema_version.applied_at", format_db_time(now()))});
      if (!recorded) return recorded.error();
    }
    return ok_status();
  });
}

Result<int> SqlStore::schema_version() {
  auto rows = run("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  if (!rows) return rows.error().with_context("read the schema version");
  RowReader r(rows->at(0), "schema_version");
  const int64_t version = r.integer(0, "version");
  if (r.error()) return *r.error();
  return static_cast<int>(version);
}

// ---------------------------------------------------------------- apps

namespace {

Status validate_registry_fields(const App& app) {
  if (auto problem = app_id_problem(app.app_id); !problem.empty()) {
    return Error(Errc::invalid_argument, "app_id " + quoted(app.app_id) + " is not valid: " + problem);
  }
  if (auto problem = manager_name_problem(app.manager); !problem.empty()) {
    return Error(Errc::invalid_argument, "apps.manager (the owning manager's name) is not valid: " + problem);
  }
  return ok_status();
}

}  // namespace

Status SqlStore::add_app(const App& app) {
  const std::string what = "add app " + quoted(app.app_id);
  if (auto st = validate_registry_fields(app); !st) return st.error().with_context(what);
  auto exec = encode_exec(app.exec);
  if (!exec) return exec.error().with_context(what);
  return write_transaction(what, [&]() -> Status {
    auto rows =
        run("INSERT INTO apps (app_id, name, manager, exec, schedule, disable, status, registered_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, 'STOPPED', $7) ON CONFLICT (app_id) DO NOTHING RETURNING app_id",
            {text("apps.app_id", app.app_id), text("apps.name", app.name), text("apps.manager", app.manager),
             text("apps.exec", *exec), optional_text("apps.schedule", app.schedule),
             integer("apps.disable", app.disable ? 1 : 0), text("apps.registered_at", format_db_time(now()))});
    if (!rows) return rows.error();
    if (rows->empty()) return Error(Errc::conflict, "it already exists; use update or remove it first");
    log_event(app_registry_event("added", app));
    return ok_status();
  });
}

Status SqlStore::update_app(const App& app) {
  const std::string what = "update app " + quoted(app.app_id);
  if (auto st = validate_registry_fields(app); !st) return st.error().with_context(what);
  auto exec = encode_exec(app.exec);
  if (!exec) return exec.error().with_context(what);
  return write_transaction(what, [&]() -> Status {
    auto rows =
        run("UPDATE apps SET name = $2, manager = $3, exec = $4, schedule = $5, disable = $6 WHERE app_id = $1 "
            "RETURNING app_id",
            {text("apps.app_id", app.app_id), text("apps.name", app.name), text("apps.manager", app.manager),
             text("apps.exec", *exec), optional_text("apps.schedule", app.schedule),
             integer("apps.disable", app.disable ? 1 : 0)});
    if (!rows) return rows.error();
    if (rows->empty()) return Error(Errc::not_found, "no such app; add it first");
    log_event(app_registry_event("updated", app));
    return ok_status();
  });
}

Status SqlStore::remove_app(std::string_view app_id) {
  const std::string what = "remove app " + quoted(app_id);
  return write_transaction(what, [&]() -> Status {
    auto rows = run("DELETE FROM apps WHERE app_id = $1 RETURNING app_id", {text("apps.app_id", app_id)});
    if (!rows) return rows.error();
    if (rows->empty()) return Error(Errc::not_found, "no such app");
    log_event(app_removed_event(app_id));
    return ok_status();
  });
}

Result<std::optional<App>> SqlStore::get_app(std::string_view app_id) {
  const std::string what = "get app " + quoted(app_id);
  auto rows = run("SELECT " + std::string(kAppColumns) + " FROM apps WHERE app_id = $1", {text("apps.app_id", app_id)});
  if (!rows) return rows.error().with_context(what);
  if (rows->empty()) return std::optional<App>();
  auto app = decode_app(rows->front());
  if (!app) return app.error().with_context(what);
  return std::optional<App>(std::move(app).value());
}

Result<std::vector<App>> SqlStore::list_apps(const AppFilter& filter) {
  const std::string what = "list apps";
  const std::string scheduled = filter.scheduled_only ? " schedule IS NOT NULL" : "";
  auto rows = filter.manager ? run("SELECT " + std::string(kAppColumns) + " FROM apps WHERE manager = $1" +
                                       (scheduled.empty() ? "" : " AND" + scheduled) + " ORDER BY app_id",
                                   {text("apps.manager", *filter.manager)})
                             : run("SELECT " + std::string(kAppColumns) + " FROM apps" +
                                   (scheduled.empty() ? "" : " WHERE" + scheduled) + " ORDER BY app_id");
  if (!rows) return rows.error().with_context(what);
  auto apps = decode_all<App>(*rows, decode_app);
  if (!apps) return apps.error().with_context(what);
  return apps;
}

namespace {

// The AppState columns' parameters, numbered from $2 ($1 is the app id).
std::vector<SqlParam> app_state_params(std::string_view app_id, const AppState& state) {
  std::vector<SqlParam> params;
  params.push_back(text("apps.app_id", app_id));
  params.push_back(text("apps.status", to_string(state.status)));
  params.push_back(integer("apps.disable", state.disable ? 1 : 0));
  params.push_back(optional_integer("apps.pid", state.pid));
  params.push_back(optional_integer("apps.proc_start", state.proc_start));
  params.push_back(optional_integer("apps.exit_code", state.exit_code));
  params.push_back(state.started_at ? text("apps.started_at", format_db_time(*state.started_at))
                                    : null("apps.started_at"));
  params.push_back(state.stopped_at ? text("apps.stopped_at", format_db_time(*state.stopped_at))
                                    : null("apps.stopped_at"));
  return params;
}
// $1..$8 of a new commands row: cmd_id, app_id, target, command, args,
// issued_by, issued_at, signature. A record from a source that did not say
// targets its own app, has empty args and was issued now.
std::string_view args_or_empty(const CommandRecord& record) {
  return record.args_json.empty() ? std::string_view("{}") : std::string_view(record.args_json);
}

std::vector<SqlParam> new_row_params(const CommandRecord& record) {
  const TimePoint issued_at = record.issued_at == TimePoint{} ? now() : record.issued_at;
  std::vector<SqlParam> params;
  params.reserve(13);
  params.push_back(text("commands.cmd_id", record.cmd_id));
  params.push_back(text("commands.app_id", record.app_id));
  params.push_back(text("commands.target", record.target.empty() ? record.app_id : record.target));
  params.push_back(integer("commands.command", static_cast<int>(record.command)));
  params.push_back(text("commands.args", args_or_empty(record)));
  params.push_back(text("commands.issued_by", record.issued_by));
  params.push_back(text("commands.issued_at", format_db_time(issued_at)));
  params.push_back(text("commands.signature", record.signature));
  return params;
}

constexpr std::string_view kSetAppStateColumns =
    "status = $2, disable = $3, pid = $4, proc_start = $5, exit_code = $6, started_at = $7, stopped_at = $8";

}  // namespace

Status SqlStore::set_app_state(std::string_view app_id, const AppState& state) {
  const std::string what = "set state of app " + quoted(app_id);
  return write_transaction(what, [&]() -> Status {
    auto changed = execute("UPDATE apps SET " + std::string(kSetAppStateColumns) + " WHERE app_id = $1",
                           app_state_params(app_id, state));
    if (!changed) return changed.error();
    if (*changed == 0) return Error(Errc::not_found, "no such app");
    log_event(app_state_event(app_id, state));
    return ok_status();
  });
}

Status SqlStore::set_next_run(std::string_view app_id, std::optional<TimePoint> next_run_at) {
  const std::string what = "set next run of app " + quoted(app_id);
  return write_transaction(what, [&]() -> Status {
    auto changed =
        execute("UPDATE apps SET next_run_at = $2 WHERE app_id = $1",
                {text("apps.app_id", app_id),
                 next_run_at ? text("apps.next_run_at", format_db_time(*next_run_at)) : null("apps.next_run_at")});
    if (!changed) return changed.error();
    if (*changed == 0) return Error(Errc::not_found, "no such app");
    log_event(app_next_run_event(app_id, next_run_at));
    return ok_status();
  });
}

// ---------------------------------------------------------------- commands

Result<std::vector<CommandRecord>> SqlStore::record_command(const Command& command,
                                                            std::optional<std::string_view> manager) {
  const std::string what =
      "record command " + quoted(command.id) + " for " +
      (command.is_broadcast() ? (manager ? "every app of manager " + quoted(*manager) : std::string("every app"))
                              : "app " + quoted(command.app_id));
  if (auto st = check_name(command.id, "the command id"); !st) return st.error().with_context(what);
  if (auto st = require_nonempty(command.app_id, "the app id"); !st) return st.error().with_context(what);
  const TimePoint issued_at = command.issued_at == TimePoint{} ? now() : command.issued_at;
  const std::string args = command.args_json.empty() ? "{}" : command.args_json;

  return write_transaction(what, [&]() -> Result<std::vector<CommandRecord>> {
    // (app_id, owning manager) of every app this command addresses.
    Result<SqlRows> targets = Error(Errc::internal, "unset");
    if (!command.is_broadcast()) {
      targets = run("SELECT app_id, manager FROM apps WHERE app_id = $1", {text("commands.app_id", command.app_id)});
      if (targets && targets->empty()) {
        return Error(Errc::not_found, "no such app; register it with `dcctl apps add` first");
      }
    } else if (manager) {
      targets =
          run("SELECT app_id, manager FROM apps WHERE manager = $1 ORDER BY app_id", {text("apps.manager", *manager)});
    } else {
      targets = run("SELECT app_id, manager FROM apps ORDER BY app_id");
    }
    if (!targets) return targets.error();

    std::vector<CommandRecord> written;
    written.reserve(targets->size());
    for (const SqlRow& target : *targets) {
      CommandRecord record;
      record.cmd_id = command.id;
      record.app_id = target.at(0).value_or("");
      record.target = command.app_id;
      record.command = command.name;
      record.args_json = args;
      record.issued_by = command.issued_by;
      record.issued_at = issued_at;
      record.flag = CmdFlag::pending;
      record.signature = command.signature;
      auto inserted =
          run("INSERT INTO commands (cmd_id, app_id, target, command, args, issued_by, issued_at, signature, flag) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0) ON CONFLICT (cmd_id, app_id) DO NOTHING RETURNING seq",
              new_row_params(record));
      if (!inserted) return inserted.error();
      if (inserted->empty()) {
        return Error(Errc::conflict, "command id " + quoted(record.cmd_id) + " is already recorded for app " +
                                         quoted(record.app_id) + "; every command needs a new id");
      }
      RowReader r(inserted->front(), "new commands row");
      record.seq = r.integer(0, "seq");
      if (r.error()) return *r.error();

      auto mirrored =
          run("UPDATE apps SET cmd = $2, cmd_flag = 0, cmd_id = $3, cmd_issued_by = $4, cmd_args = $5, "
              "cmd_result = NULL, cmd_path = NULL WHERE app_id = $1",
              {text("apps.app_id", record.app_id), integer("apps.cmd", static_cast<int>(record.command)),
               text("apps.cmd_id", record.cmd_id), text("apps.cmd_issued_by", record.issued_by),
               text("apps.cmd_args", record.args_json)});
      if (!mirrored) return mirrored.error();
      log_event(command_recorded_event(record));
      written.push_back(std::move(record));
    }
    if (!written.empty()) {
      // Delivered on commit: listeners never wake before the rows exist.
      const std::string payload =
          command.is_broadcast() ? std::string(manager.value_or(kBroadcastAppId)) : targets->front().at(1).value_or("");
      if (auto st = db_->notify_commands(payload); !st) return st.error();
    }
    return written;
  });
}

Result<ClaimResult> SqlStore::claim(const CommandRecord& record, const Claimer& claimer) {
  const std::string what = "claim command " + quoted(record.cmd_id) + " for app " + quoted(record.app_id);
  if (auto st = check_name(record.cmd_id, "the command id"); !st) return st.error().with_context(what);
  if (auto st = check_name(claimer.manager, "the claiming manager's name"); !st) return st.error().with_context(what);
  if (record.app_id == kBroadcastAppId) {
    return Error(Errc::invalid_argument, what + ": a claim names one app; expand \"*\" into the manager's apps first");
  }
  if (auto problem = app_id_problem(record.app_id); !problem.empty()) {
    return Error(Errc::invalid_argument, what + ": " + problem);
  }
  const std::string claimed_at = format_db_time(now());

  // Claimed and finished are absorbing states (nothing ever unclaims a row),
  // so a plain read that sees either is already the answer. This spares the
  // losers of a race, and every redelivery, the write lock. A row claimed
  // by this claimer itself goes on to the fenced re-check below.
  auto seen = run("SELECT flag, claimed_by, claimed_instance FROM commands WHERE cmd_id = $1 AND app_id = $2",
                  {text("commands.cmd_id", record.cmd_id), text("commands.app_id", record.app_id)});
  if (!seen) return seen.error().with_context(what);
  if (!seen->empty()) {
    RowReader r(seen->front(), "commands row");
    const int64_t flag = r.integer(0, "flag");
    if (r.error()) return r.error()->with_context(what);
    if (flag != static_cast<int>(CmdFlag::pending)) return ClaimResult::already_finished;
    const auto& holder = seen->front().at(1);
    const bool own = !claimer.instance.empty() && holder == claimer.manager && seen->front().at(2) == claimer.instance;
    if (holder.has_value() && !own) return ClaimResult::already_claimed;
  }

  return write_transaction(what, [&]() -> Result<ClaimResult> { return claim_locked(record, claimer, claimed_at); });
}

Status SqlStore::finish(std::string_view cmd_id, std::string_view app_id, const Claimer& claimer,
                        const Outcome& outcome) {
  const std::string what = "finish command " + quoted(cmd_id) + " for app " + quoted(app_id);
  if (outcome.flag == CmdFlag::pending) {
    return Error(Errc::invalid_argument, what + ": an outcome is EXECUTED or NOT_EXECUTED, not PENDING");
  }
  const std::string executed_at = format_db_time(now());
  return write_transaction(what,
                           [&]() -> Status { return finish_locked(cmd_id, app_id, claimer, outcome, executed_at); });
}

std::string SqlStore::fence_condition(int manager_param, int instance_param) const {
  const std::string m = "$" + std::to_string(manager_param);
  const std::string i = "$" + std::to_string(instance_param);
  return "(" + i + " = '' OR EXISTS (SELECT 1 FROM managers WHERE name = " + m + " AND instance = " + i +
         std::string(share_lock()) + "))";
}

Status SqlStore::check_fence(const Claimer& claimer) {
  if (claimer.instance.empty()) return ok_status();
  auto holder = run("SELECT instance FROM managers WHERE name = $1" + std::string(share_lock()),
                    {text("managers.name", claimer.manager)});
  if (!holder) return holder.error();
  const std::string current = holder->empty() ? std::string() : holder->front().at(0).value_or("");
  if (current == claimer.instance) return ok_status();
  return Error(Errc::fenced, "manager " + quoted(claimer.manager) + " instance " + quoted(claimer.instance) +
                                 " no longer holds the lease (now " +
                                 (current.empty() ? std::string("nobody") : "instance " + quoted(current)) +
                                 "); this process must stop acting as the manager");
}

Result<ClaimResult> SqlStore::claim_locked(const CommandRecord& record, const Claimer& claimer,
                                           const std::string& claimed_at) {
  // The claim proper: one conditional UPDATE, fenced. Of any number of
  // concurrent callers exactly one sees the row unclaimed and changes it; in
  // PostgreSQL the others block on the row lock and then re-check the
  // condition against the committed row, in SQLite they queue on the
  // write lock (BEGIN IMMEDIATE).
  const std::string update_sql =
      "UPDATE commands SET claimed_by = $3, claimed_at = $4, claimed_instance = $5 "
      "WHERE cmd_id = $1 AND app_id = $2 AND flag = 0 AND claimed_by IS NULL AND " +
      fence_condition(3, 5);
  auto updated =
      execute(update_sql, {text("commands.cmd_id", record.cmd_id), text("commands.app_id", record.app_id),
                           text("commands.claimed_by", claimer.manager), text("commands.claimed_at", claimed_at),
                           text("commands.claimed_instance", claimer.instance)});
  if (!updated) return updated.error();
  if (*updated > 0) {
    log_event(command_claimed_event(record, claimer.manager, claimed_at, false));
    return ClaimResult::claimed;
  }

  // No unclaimed row: either none exists (a message from a source that did
  // not record it) or someone has it. Inserting the row already claimed
  // decides the first case atomically: the UNIQUE (cmd_id, app_id) key lets
  // exactly one concurrent insert through. The fence first (the UPDATE
  // carried its own).
  if (auto st = check_fence(claimer); !st) return st.error();
  std::vector<SqlParam> params = new_row_params(record);
  params.push_back(text("commands.claimed_by", claimer.manager));
  params.push_back(text("commands.claimed_at", claimed_at));
  params.push_back(text("commands.claimed_instance", claimer.instance));
  auto inserted = execute(
      "INSERT INTO commands (cmd_id, app_id, target, command, args, issued_by, issued_at, signature, flag, "
      "claimed_by, claimed_at, claimed_instance, recorded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, "
      "FALSE) ON CONFLICT (cmd_id, app_id) DO NOTHING",
      params);
  if (!inserted) return inserted.error();
  if (*inserted == 0) return held_elsewhere(record.cmd_id, record.app_id, claimer);
  // The app's mirror learns of the command as if it had been recorded.
  auto mirrored = execute(
      "UPDATE apps SET (cmd, cmd_id, cmd_issued_by, cmd_args) = (SELECT command, cmd_id, issued_by, args "
      "FROM commands WHERE cmd_id = $2 AND app_id = $1), cmd_flag = 0, cmd_result = NULL, cmd_path = NULL "
      "WHERE app_id = $1",
      {text("apps.app_id", record.app_id), text("commands.cmd_id", record.cmd_id)});
  if (!mirrored) return mirrored.error();
  log_event(command_claimed_event(record, claimer.manager, claimed_at, true));
  return ClaimResult::claimed;
}

Result<ClaimResult> SqlStore::held_elsewhere(std::string_view cmd_id, std::string_view app_id, const Claimer& claimer) {
  if (auto st = check_fence(claimer); !st) return st.error();
  auto existing = run("SELECT flag, claimed_by, claimed_instance FROM commands WHERE cmd_id = $1 AND app_id = $2",
                      {text("commands.cmd_id", cmd_id), text("commands.app_id", app_id)});
  if (!existing) return existing.error();
  if (existing->empty()) return Error(Errc::internal, "the row vanished between insert and read");
  RowReader r(existing->front(), "commands row");
  const int64_t flag = r.integer(0, "flag");
  if (r.error()) return *r.error();
  if (flag != static_cast<int>(CmdFlag::pending)) return ClaimResult::already_finished;
  // A claim of this very claimer whose COMMIT outcome it never saw: it did
  // commit, and the row is the claimer's to carry out.
  const bool own = !claimer.instance.empty() && existing->front().at(1) == claimer.manager &&
                   existing->front().at(2) == claimer.instance;
  return own ? ClaimResult::claimed : ClaimResult::already_claimed;
}

Status SqlStore::finish_locked(std::string_view cmd_id, std::string_view app_id, const Claimer& claimer,
                               const Outcome& outcome, const std::string& executed_at) {
  const std::string update_sql =
      "UPDATE commands SET flag = $4, result = $5, path = $6, executed_at = $7, "
      "claimed_instance = CASE WHEN $8 = '' THEN claimed_instance ELSE $8 END "
      "WHERE cmd_id = $1 AND app_id = $2 AND claimed_by = $3 AND flag = 0 AND " +
      fence_condition(3, 8);
  auto updated =
      execute(update_sql,
              {text("commands.cmd_id", cmd_id), text("commands.app_id", app_id),
               text("commands.claimed_by", claimer.manager), integer("commands.flag", static_cast<int>(outcome.flag)),
               text("commands.result", outcome.result), text("commands.path", to_string(outcome.path)),
               text("commands.executed_at", executed_at), text("managers.instance", claimer.instance)});
  if (!updated) return updated.error();
  if (*updated == 0) {
    if (auto st = check_fence(claimer); !st) return st;
    // Say why, so the caller's log line explains the refusal.
    auto existing = run("SELECT flag, claimed_by, claimed_instance FROM commands WHERE cmd_id = $1 AND app_id = $2",
                        {text("commands.cmd_id", cmd_id), text("commands.app_id", app_id)});
    if (!existing) return existing.error();
    if (existing->empty()) return Error(Errc::conflict, "no such command row; claim it before finishing it");
    RowReader r(existing->front(), "commands row");
    const auto flag = r.optional_code<CmdFlag>(0, "flag", cmd_flag_from_int);
    const auto holder = r.optional_text(1);
    const auto instance = r.optional_text(2);
    if (r.error()) return *r.error();
    if (flag && *flag != CmdFlag::pending) {
      // This claimer's own earlier finish, whose COMMIT outcome was lost:
      // done already, nothing to change.
      if (!claimer.instance.empty() && holder == claimer.manager && instance == claimer.instance) {
        return ok_status();
      }
      return Error(Errc::conflict, "it is already finished as " + std::string(to_string(*flag)));
    }
    if (!holder) return Error(Errc::conflict, "it is not claimed; claim it before finishing it");
    return Error(Errc::conflict, "it is claimed by " + quoted(*holder) + ", not by " + quoted(claimer.manager));
  }
  log_event(command_finished_event(cmd_id, app_id, claimer.manager, outcome, executed_at, nullptr));
  return mirror_outcome(cmd_id, app_id, outcome, /*inserted_from=*/nullptr);
}

Status SqlStore::mirror_outcome(std::string_view cmd_id, std::string_view app_id, const Outcome& outcome,
                                const CommandRecord* inserted_from) {
  if (!outcome.app_state) return ok_status();
  std::vector<SqlParam> params = app_state_params(app_id, *outcome.app_state);
  params.push_back(text("commands.cmd_id", cmd_id));
  params.push_back(integer("apps.cmd_flag", static_cast<int>(outcome.flag)));
  params.push_back(text("apps.cmd_result", outcome.result));
  params.push_back(text("apps.cmd_path", to_string(outcome.path)));
  // The mirror copies the command from its row: from `inserted_from` when
  // this transaction has just inserted the row from it, else read back.
  // An app removed meanwhile matches no row: the command's outcome stands.
  static const std::string copy_from_row =
      "UPDATE apps SET " + std::string(kSetAppStateColumns) +
      ", (cmd, cmd_id, cmd_issued_by, cmd_args) = (SELECT command, cmd_id, issued_by, args FROM commands "
      "WHERE cmd_id = $9 AND app_id = $1), cmd_flag = $10, cmd_result = $11, cmd_path = $12 WHERE app_id = $1";
  static const std::string copy_from_record =
      "UPDATE apps SET " + std::string(kSetAppStateColumns) +
      ", cmd_id = $9, cmd_flag = $10, cmd_result = $11, cmd_path = $12, cmd = $13, cmd_issued_by = $14, "
      "cmd_args = $15 WHERE app_id = $1";
  if (inserted_from != nullptr) {
    params.push_back(integer("apps.cmd", static_cast<int>(inserted_from->command)));
    params.push_back(text("apps.cmd_issued_by", inserted_from->issued_by));
    params.push_back(text("apps.cmd_args", args_or_empty(*inserted_from)));
  }
  auto mirrored = execute(inserted_from != nullptr ? copy_from_record : copy_from_row, params);
  if (!mirrored) return mirrored.error();
  if (*mirrored > 0) log_event(app_state_event(app_id, *outcome.app_state));
  return ok_status();
}

Result<ClaimResult> SqlStore::claim_finished_locked(const FinishedCommand& item, const Claimer& claimer,
                                                    const std::string& stamp) {
  const CommandRecord& record = item.record;
  const Outcome& outcome = item.outcome;
  // claim() and finish() in one step: an unclaimed row becomes finished,
  // or (nobody recorded it) is inserted finished. The same conditions
  // decide the winner as in claim_locked(); the fence was checked once for
  // the whole transaction by claim_and_finish(). The likelier statement
  // goes first; when it changes nothing, the other decides.
  const auto update = [&] {
    return execute(
        "UPDATE commands SET claimed_by = $3, claimed_at = $4, executed_at = $4, flag = $5, result = $6, path = $7, "
        "claimed_instance = $8 WHERE cmd_id = $1 AND app_id = $2 AND flag = 0 AND (claimed_by IS NULL OR "
        "($8 <> '' AND claimed_by = $3 AND claimed_instance = $8))",
        {text("commands.cmd_id", record.cmd_id), text("commands.app_id", record.app_id),
         text("commands.claimed_by", claimer.manager), text("commands.claimed_at", stamp),
         integer("commands.flag", static_cast<int>(outcome.flag)), text("commands.result", outcome.result),
         text("commands.path", to_string(outcome.path)), text("commands.claimed_instance", claimer.instance)});
  };
  const auto insert = [&] {
    std::vector<SqlParam> params = new_row_params(record);
    params.push_back(text("commands.claimed_by", claimer.manager));
    params.push_back(text("commands.claimed_at", stamp));
    params.push_back(integer("commands.flag", static_cast<int>(outcome.flag)));
    params.push_back(text("commands.result", outcome.result));
    params.push_back(text("commands.path", to_string(outcome.path)));
    params.push_back(text("commands.claimed_instance", claimer.instance));
    return execute(
        "INSERT INTO commands (cmd_id, app_id, target, command, args, issued_by, issued_at, signature, claimed_by, "
        "claimed_at, executed_at, flag, result, path, claimed_instance, recorded) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14, FALSE) "
        "ON CONFLICT (cmd_id, app_id) DO NOTHING",
        params);
  };
  bool inserted = !item.row_exists;
  auto changed = inserted ? insert() : update();
  if (!changed) return changed.error();
  if (*changed == 0) {
    inserted = !inserted;
    changed = inserted ? insert() : update();
    if (!changed) return changed.error();
    if (*changed == 0) return held_elsewhere(record.cmd_id, record.app_id, Claimer(claimer.manager));
  }
  log_event(command_finished_event(record.cmd_id, record.app_id, claimer.manager, outcome, stamp,
                                   inserted ? &record : nullptr));
  if (auto st = mirror_outcome(record.cmd_id, record.app_id, outcome, inserted ? &record : nullptr); !st) {
    return st.error();
  }
  return ClaimResult::claimed;
}

Result<std::vector<ClaimResult>> SqlStore::claim_and_finish(std::span<const FinishedCommand> items,
                                                            const Claimer& claimer) {
  const std::string what = "claim and finish " + std::to_string(items.size()) + " command(s)";
  if (auto st = check_name(claimer.manager, "the claiming manager's name"); !st) return st.error().with_context(what);
  for (const auto& item : items) {
    if (auto st = check_name(item.record.cmd_id, "the command id"); !st) return st.error().with_context(what);
    if (auto problem = app_id_problem(item.record.app_id); !problem.empty()) {
      return Error(Errc::invalid_argument, what + ": " + problem);
    }
    if (item.outcome.flag == CmdFlag::pending) {
      return Error(Errc::invalid_argument, what + ": an outcome is EXECUTED or NOT_EXECUTED, not PENDING");
    }
  }
  const std::string stamp = format_db_time(now());
  return write_transaction(what, [&]() -> Result<std::vector<ClaimResult>> {
    // One fence for the run: the managers row is read inside the write
    // transaction, so no takeover can commit between it and the writes
    // (SQLite: the write lock; PostgreSQL: FOR UPDATE holds the row).
    if (auto st = check_fence(claimer); !st) return st.error();
    std::vector<ClaimResult> results;
    results.reserve(items.size());
    for (const auto& item : items) {
      auto claimed = claim_finished_locked(item, claimer, stamp);
      if (!claimed) return claimed.error();
      results.push_back(*claimed);
    }
    return results;
  });
}

Result<std::vector<CommandRecord>> SqlStore::pending_for_manager(std::string_view manager, int limit) {
  return select_commands("list pending commands of manager " + quoted(manager),
                         "SELECT " + std::string(kCommandColumns) +
                             " FROM commands WHERE flag = 0 AND claimed_by IS NULL"
                             " AND app_id IN (SELECT app_id FROM apps WHERE manager = $1) ORDER BY seq LIMIT $2",
                         {text("apps.manager", manager), integer("limit", effective_limit(limit))});
}

Status SqlStore::in_transaction(const std::function<Status()>& body) {
  if (transaction_open_) {
    return Error(Errc::invalid_argument, "a store transaction is already open; in_transaction() does not nest");
  }
  return write_transaction("transaction", body);
}

Result<CommandPlace> SqlStore::command_place(std::string_view cmd_id, std::string_view app_id) {
  // One statement (each condition has its index), so both parts are read
  // from the same snapshot.
  auto rows = select_commands("find command " + quoted(cmd_id) + " in the queue of app " + quoted(app_id),
                              "SELECT " + std::string(kCommandColumns) +
                                  " FROM commands WHERE app_id = $2 AND (cmd_id = $1 OR (flag = 0 AND claimed_by IS "
                                  "NULL)) ORDER BY seq",
                              {text("commands.cmd_id", cmd_id), text("commands.app_id", app_id)});
  if (!rows) return rows.error();
  CommandPlace place;
  for (auto& row : *rows) {
    if (row.cmd_id == cmd_id) {
      place.row = std::move(row);
      break;  // later rows were issued after it
    }
    place.earlier.push_back(std::move(row));
  }
  return place;
}

Result<std::vector<CommandRecord>> SqlStore::claimed_unfinished(std::string_view manager) {
  return select_commands(
      "list unfinished claims of manager " + quoted(manager),
      "SELECT " + std::string(kCommandColumns) + " FROM commands WHERE claimed_by = $1 AND flag = 0 ORDER BY seq",
      {text("commands.claimed_by", manager)});
}

Result<std::vector<App>> SqlStore::broadcast_targets(std::string_view cmd_id, std::string_view manager,
                                                     TimePoint issued_at) {
  const std::string what =
      "list the apps of manager " + quoted(manager) + " that broadcast " + quoted(cmd_id) + " addresses";
  auto rows = run("SELECT " + std::string(kAppColumns) +
                      " FROM apps WHERE manager = $1 AND ("
                      " app_id IN (SELECT app_id FROM commands WHERE cmd_id = $2 AND recorded)"
                      " OR (NOT EXISTS (SELECT 1 FROM commands WHERE cmd_id = $2 AND recorded)"
                      "  AND (registered_at IS NULL OR registered_at <= $3))) ORDER BY app_id",
                  {text("apps.manager", manager), text("commands.cmd_id", cmd_id),
                   text("commands.issued_at", format_db_time(issued_at))});
  if (!rows) return rows.error().with_context(what);
  auto apps = decode_all<App>(*rows, decode_app);
  if (!apps) return apps.error().with_context(what);
  return apps;
}

Result<std::vector<CommandRecord>> SqlStore::list_commands(const CommandFilter& filter) {
  std::string sql = "SELECT " + std::string(kCommandColumns) + " FROM commands";
  std::vector<SqlParam> params;
  std::string conditions;
  const auto add = [&](std::string_view condition) {
    conditions += conditions.empty() ? " WHERE " : " AND ";
    conditions += condition;
  };
  if (filter.app_id) {
    params.push_back(text("commands.app_id", *filter.app_id));
    add("app_id = $" + std::to_string(params.size()));
  }
  if (filter.cmd_id) {
    params.push_back(text("commands.cmd_id", *filter.cmd_id));
    add("cmd_id = $" + std::to_string(params.size()));
  }
  if (filter.pending_only) add("flag = 0");
  if (filter.after_seq) {
    params.push_back(integer("commands.seq", *filter.after_seq));
    add("seq > $" + std::to_string(params.size()));
  }
  params.push_back(integer("limit", effective_limit(filter.limit)));
  sql += conditions + (filter.oldest_first ? " ORDER BY seq" : " ORDER BY seq DESC") + " LIMIT $" +
         std::to_string(params.size());
  return select_commands("list commands", sql, params);
}

Result<std::vector<CommandRecord>> SqlStore::get_command(std::string_view cmd_id) {
  return select_commands("get command " + quoted(cmd_id),
                         "SELECT " + std::string(kCommandColumns) + " FROM commands WHERE cmd_id = $1 ORDER BY seq",
                         {text("commands.cmd_id", cmd_id)});
}

Result<std::optional<CommandRecord>> SqlStore::get_command_row(std::string_view cmd_id, std::string_view app_id) {
  auto rows =
      select_commands("get command " + quoted(cmd_id) + " for app " + quoted(app_id),
                      "SELECT " + std::string(kCommandColumns) + " FROM commands WHERE cmd_id = $1 AND app_id = $2",
                      {text("commands.cmd_id", cmd_id), text("commands.app_id", app_id)});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<CommandRecord>();
  return std::optional<CommandRecord>(std::move(rows->front()));
}

// ---------------------------------------------------------------- managers

Result<TimePoint> SqlStore::database_now() {
  if (db_->backend() != "postgresql") return now();  // SQLite: the database is a file on this host
  auto rows = run("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
  if (!rows) return rows.error().with_context("read the database's clock");
  RowReader r(rows->at(0), "clock_timestamp()");
  auto at = r.optional_time(0, "clock_timestamp");
  if (r.error()) return *r.error();
  if (!at) return Error(Errc::internal, "the database's clock read as NULL");
  return *at;
}

Result<TimePoint> SqlStore::database_time() { return database_now(); }

Status SqlStore::acquire_lease(const ManagerRecord& self, std::chrono::milliseconds lease_ttl) {
  const std::string what = "acquire the lease of manager " + quoted(self.name);
  if (auto st = check_name(self.name, "the manager name"); !st) return st.error().with_context(what);
  if (auto st = require_nonempty(self.host, "the manager host"); !st) return st.error().with_context(what);
  if (auto st = require_nonempty(self.instance, "the manager instance"); !st) return st.error().with_context(what);
  const auto ttl = std::chrono::duration_cast<std::chrono::microseconds>(lease_ttl);

  return write_transaction(what, [&]() -> Status {
    auto at = database_now();
    if (!at) return at.error();
    const std::string seen = format_db_time(*at);
    const std::string started = format_db_time(self.started_at == TimePoint{} ? *at : self.started_at);
    const std::initializer_list<SqlParam> row = {text("managers.name", self.name),
                                                 text("managers.host", self.host),
                                                 integer("managers.pid", self.pid),
                                                 text("managers.started_at", started),
                                                 text("managers.last_seen", seen),
                                                 text("managers.mode", to_string(self.mode)),
                                                 text("managers.version", self.version),
                                                 text("managers.instance", self.instance),
                                                 text("lease expiry", format_db_time(*at - ttl))};
    // First holder of the name: the primary key lets one insert through.
    auto inserted =
        run("INSERT INTO managers (name, host, pid, started_at, last_seen, mode, version, instance) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING RETURNING name",
            std::vector<SqlParam>(row.begin(), row.begin() + 8));
    if (!inserted) return inserted.error();
    ManagerRecord acquired = self;
    acquired.started_at = self.started_at == TimePoint{} ? *at : self.started_at;
    acquired.last_seen = *at;
    if (!inserted->empty()) {
      log_event(manager_event("started", acquired, true));
      return ok_status();
    }
    // Take over a row that is free: stopped, expired by the database's
    // clock, or this very instance's. Never by host and pid: two containers
    // on one host both run their manager as pid 1. Conditional, so two
    // contenders cannot both win.
    auto taken =
        run("UPDATE managers SET host = $2, pid = $3, started_at = $4, last_seen = $5, mode = $6, version = $7, "
            "instance = $8, reported_live = TRUE WHERE name = $1 AND (mode = 'stopped' OR last_seen < $9 OR "
            "instance = $8) RETURNING name",
            std::vector<SqlParam>(row));
    if (!taken) return taken.error();
    if (!taken->empty()) {
      log_event(manager_event("started", acquired, true));
      return ok_status();
    }
    auto holder = run("SELECT " + std::string(kManagerColumns) + " FROM managers WHERE name = $1",
                      {text("managers.name", self.name)});
    if (!holder) return holder.error();
    if (holder->empty()) return Error(Errc::unavailable, "the lease row changed while being read; retry");
    auto record = decode_manager(holder->front());
    if (!record) return record.error();
    return Error(Errc::conflict, "a manager of this name is already running on host " + quoted(record->host) +
                                     " (pid " + std::to_string(record->pid) + ", mode " +
                                     std::string(to_string(record->mode)) + ", last seen " +
                                     format_iso8601(record->last_seen) +
                                     " by the database's clock); stop it first, or wait until its lease expires at " +
                                     format_iso8601(record->last_seen + ttl));
  });
}

Status SqlStore::heartbeat(std::string_view name, std::string_view instance, ManagerMode manager_mode) {
  const std::string what = "heartbeat of manager " + quoted(name);
  const std::string_view mode = to_string(manager_mode);
  auto at = database_now();
  if (!at) return at.error().with_context(what);
  const std::string seen = format_db_time(*at);
  // Nearly every heartbeat changes only last_seen, which the event log does
  // not record: one statement. A change of mode, or being seen again after
  // a loss was logged, goes the logged way below.
  auto quiet =
      execute("UPDATE managers SET last_seen = $3 WHERE name = $1 AND instance = $2 AND mode = $4 AND reported_live",
              {text("managers.name", name), text("managers.instance", instance), text("managers.last_seen", seen),
               text("managers.mode", mode)});
  if (!quiet) return quiet.error().with_context(what);
  if (*quiet > 0) return ok_status();
  return write_transaction(what, [&]() -> Status {
    auto rows =
        run("UPDATE managers SET last_seen = $3, mode = $4, reported_live = TRUE WHERE name = $1 AND "
            "instance = $2 RETURNING " +
                std::string(kManagerColumns),
            {text("managers.name", name), text("managers.instance", instance), text("managers.last_seen", seen),
             text("managers.mode", mode)});
    if (!rows) return rows.error();
    if (!rows->empty()) {
      auto record = decode_manager(rows->front());
      if (!record) return record.error();
      log_event(manager_event("mode", *record, true));
      return ok_status();
    }
    auto holder =
        run("SELECT " + std::string(kManagerColumns) + " FROM managers WHERE name = $1", {text("managers.name", name)});
    if (!holder) return holder.error();
    if (holder->empty()) return Error(Errc::not_found, "no lease for this name; acquire it first");
    auto record = decode_manager(holder->front());
    if (!record) return record.error();
    return Error(Errc::fenced, "the lease was taken over by pid " + std::to_string(record->pid) + " on host " +
                                   quoted(record->host) + "; this process must stop acting as the manager");
  });
}

Status SqlStore::release_lease(std::string_view name, std::string_view instance) {
  const std::string what = "release the lease of manager " + quoted(name);
  auto at = database_now();
  if (!at) return at.error().with_context(what);
  return write_transaction(what, [&]() -> Status {
    auto rows =
        run("UPDATE managers SET mode = 'stopped', last_seen = $3, reported_live = FALSE WHERE name = $1 AND "
            "instance = $2 RETURNING " +
                std::string(kManagerColumns),
            {text("managers.name", name), text("managers.instance", instance),
             text("managers.last_seen", format_db_time(*at))});
    if (!rows) return rows.error();
    if (!rows->empty()) {
      auto record = decode_manager(rows->front());
      if (!record) return record.error();
      log_event(manager_event("stopped", *record, false));
      return ok_status();
    }
    auto holder = run("SELECT pid, host FROM managers WHERE name = $1", {text("managers.name", name)});
    if (!holder) return holder.error();
    if (holder->empty()) return Error(Errc::not_found, "no lease for this name");
    return Error(Errc::conflict, "it is held by another instance (pid " + holder->front().at(0).value_or("?") +
                                     " on host " + quoted(holder->front().at(1).value_or("?")) + "); left unchanged");
  });
}

Result<std::vector<ManagerRecord>> SqlStore::report_lost_managers(std::chrono::milliseconds lease_ttl) {
  const std::string what = "report managers whose lease expired";
  auto at = database_now();
  if (!at) return at.error().with_context(what);
  const std::string expiry = format_db_time(*at - std::chrono::duration_cast<std::chrono::microseconds>(lease_ttl));
  constexpr std::string_view kLost = " FROM managers WHERE reported_live AND mode <> 'stopped' AND last_seen < $1";
  // A plain read first: nearly always nobody is lost, and then no write
  // lock is taken.
  auto candidates = run("SELECT name" + std::string(kLost), {text("lease expiry", expiry)});
  if (!candidates) return candidates.error().with_context(what);
  if (candidates->empty()) return std::vector<ManagerRecord>();
  return write_transaction(what, [&]() -> Result<std::vector<ManagerRecord>> {
    // Conditional: of several processes reporting at once, each loss goes
    // to exactly one (the others find reported_live already false).
    auto rows =
        run("UPDATE managers SET reported_live = FALSE WHERE reported_live AND mode <> 'stopped' AND "
            "last_seen < $1 RETURNING " +
                std::string(kManagerColumns),
            {text("lease expiry", expiry)});
    if (!rows) return rows.error();
    auto lost = decode_all<ManagerRecord>(*rows, decode_manager);
    if (!lost) return lost.error();
    for (const auto& manager : *lost) log_event(manager_event("lost", manager, false));
    return lost;
  });
}

// ---------------------------------------------------------------- events

namespace {

Result<StoreEvent> decode_event(const SqlRow& row) {
  RowReader r(row, "events row seq " + row.at(0).value_or("?"));
  StoreEvent event;
  event.seq = r.integer(0, "seq");
  event.at = r.time(1, "at");
  const std::string kind = r.text(2);
  event.subject = r.text(3);
  event.data_json = r.text(4);
  if (r.error()) return *r.error();
  auto parsed = event_kind_from_string(kind);
  if (!parsed) {
    return schema_error("events row seq " + std::to_string(event.seq) + ": column kind holds " + quoted(kind) +
                        ", not command/app/manager");
  }
  event.kind = *parsed;
  return event;
}

// Events per INSERT: 4 parameters each, well under both backends' limits.
constexpr size_t kEventsPerStatement = 200;
// Serializes the appending of events across every process writing to a
// PostgreSQL database ("dcEvents" in ASCII), so that seq order is commit
// order: sequence values are handed out in the order transactions ask, not
// the order they commit, and a reader that saw seq 11 committed must never
// later find a 10. Taken by the transaction's last statement and held only
// until its COMMIT. SQLite needs nothing: its write lock already orders
// transactions.
constexpr std::string_view kEventsLockKey = "7233701801297343603";

}  // namespace

Status SqlStore::append_events() {
  const bool pg = db_->backend() == "postgresql";
  const std::string at = format_db_time(now());
  for (size_t begin = 0; begin < events_.size(); begin += kEventsPerStatement) {
    const size_t end = std::min(events_.size(), begin + kEventsPerStatement);
    std::vector<SqlParam> params;
    params.reserve(1 + 3 * (end - begin));
    params.push_back(text("events.at", at));
    std::string values;
    for (size_t i = begin; i < end; ++i) {
      const PendingEvent& event = events_[i];
      params.push_back(text("events.kind", to_string(event.kind)));
      params.push_back(text("events.subject", event.subject));
      params.push_back(text("events.data", event.data_json));
      const size_t n = params.size();
      values += (i == begin ? "($1, $" : ", ($1, $") + std::to_string(n - 2) + ", $" + std::to_string(n - 1) + ", $" +
                std::to_string(n) + (pg ? ", " + std::to_string(i) : std::string()) + ")";
    }
    const std::string sql =
        pg ? "INSERT INTO events (at, kind, subject, data) SELECT v.at, v.kind, v.subject, v.data FROM (SELECT "
             "pg_advisory_xact_lock(" +
                 std::string(kEventsLockKey) + "), pg_notify('" + std::string(kEventsChannel) +
                 "', '')) AS l, (VALUES " + values + ") AS v(at, kind, subject, data, n) ORDER BY v.n"
           : "INSERT INTO events (at, kind, subject, data) VALUES " + values;
    auto appended = execute(sql, params);
    if (!appended) return appended.error().with_context("append to the event log");
  }
  return ok_status();
}

Result<std::vector<StoreEvent>> SqlStore::events_after(int64_t after_seq, int limit) {
  const std::string what = "read the event log after seq " + std::to_string(after_seq);
  auto rows = run("SELECT seq, at, kind, subject, data FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
                  {integer("events.seq", after_seq), integer("limit", effective_limit(limit))});
  if (!rows) return rows.error().with_context(what);
  auto events = decode_all<StoreEvent>(*rows, decode_event);
  if (!events) return events.error().with_context(what);
  return events;
}

Result<Store::EventBounds> SqlStore::event_bounds() {
  auto rows = run("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM events");
  if (!rows) return rows.error().with_context("read the event log's bounds");
  RowReader r(rows->at(0), "events bounds");
  EventBounds bounds{r.integer(0, "min(seq)"), r.integer(1, "max(seq)")};
  if (r.error()) return *r.error();
  return bounds;
}

Result<int64_t> SqlStore::prune_events(TimePoint before, int64_t keep_at_least) {
  const std::string what = "prune the event log";
  return write_transaction(what, [&]() -> Result<int64_t> {
    return execute("DELETE FROM events WHERE at < $1 AND seq <= (SELECT COALESCE(MAX(seq), 0) FROM events) - $2",
                   {text("events.at", format_db_time(before)), integer("keep", std::max<int64_t>(0, keep_at_least))});
  });
}

Result<std::vector<ManagerRecord>> SqlStore::list_managers() {
  auto rows = run("SELECT " + std::string(kManagerColumns) + " FROM managers ORDER BY name");
  if (!rows) return rows.error().with_context("list managers");
  auto managers = decode_all<ManagerRecord>(*rows, decode_manager);
  if (!managers) return managers.error().with_context("list managers");
  return managers;
}

}  // namespace

Result<std::unique_ptr<Store>> open_sql_store(std::unique_ptr<SqlSession> session) {
  auto store = std::make_unique<SqlStore>(std::move(session));
  if (auto st = store->migrate(); !st) return st.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace dc::store_detail
