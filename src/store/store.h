// The store (SPEC §5): the apps registry, the command log and the manager
// registry, behind one interface with two backends chosen by db_url:
//   sqlite://PATH, sqlite::memory:   (embedded default, WAL, busy timeout)
//   postgresql://user:pass@host:port/db   (shared store for a fleet)
// The database is what makes "never lost" and "effect once" true (SPEC §6):
// every operation below is one transaction, and every statement is
// parameterized.
//
// Values: text fields hold valid UTF-8 without NUL bytes, on both backends
// alike (PostgreSQL text cannot hold either, so SQLite refuses them too:
// the same input has the same outcome whichever backend a fleet runs);
// anything else is refused with Errc::invalid_argument naming the field.
// Key names (command ids) are at most 255 bytes, manager names follow
// manager_name_problem() and app ids app_id_problem(). docs/STORE.md has
// the schema.
//
// Errors: Errc::unavailable when the database cannot be reached, stayed
// locked past the busy timeout, is full, read-only or failing I/O for now
// (retry; a lost PostgreSQL connection is re-established by the next call;
// SQLite's SQLITE_FULL/READONLY/IOERR are transient like PostgreSQL's
// disk-full and read-only-standby errors), Errc::schema for rows or schema
// this build cannot read, Errc::fenced when a claimer's lease is no longer
// its own (see Claimer).
//
// Thread safety: a Store is NOT safe for concurrent use. Open one per thread
// (or per process); the backends make concurrent Stores on the same database
// safe against each other.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "protocol/command.h"

namespace dc {

// A registered app and its last known state, plus the mirror of its last
// command (cmd, cmd_flag, cmd_id, ...), as in the design note.
struct App {
  std::string app_id;
  std::string name;
  std::string manager;                  // owning manager's name
  std::vector<std::string> exec;        // argv; stored as a JSON array
  std::optional<std::string> schedule;  // "every 5m" or a 5-field cron
  bool disable = false;
  AppStatus status = AppStatus::stopped;
  std::optional<int64_t> pid;
  std::optional<int64_t> proc_start;  // /proc/<pid>/stat start time: tells a reused pid apart
  std::optional<int> exit_code;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> stopped_at;
  std::optional<TimePoint> next_run_at;  // next scheduled start, kept by the manager
  // When the app was registered (nullopt for apps older than the column):
  // a broadcast nobody recorded addresses the apps registered before it.
  std::optional<TimePoint> registered_at;
  // Mirror of the last command for this app.
  std::optional<CmdName> cmd;
  std::optional<CmdFlag> cmd_flag;
  std::optional<std::string> cmd_id;
  std::optional<std::string> cmd_issued_by;
  std::optional<std::string> cmd_args;
  std::optional<std::string> cmd_result;
  std::optional<DeliveryPath> cmd_path;  // how the last finished command arrived (unset while PENDING)
};

// The runtime state of an app that a command or the supervisor changes.
struct AppState {
  AppStatus status = AppStatus::stopped;
  bool disable = false;
  std::optional<int64_t> pid;
  std::optional<int64_t> proc_start;
  std::optional<int> exit_code;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> stopped_at;
};

// One row of the command log: one (command id, app).
struct CommandRecord {
  int64_t seq = 0;  // issue order, assigned by the store
  std::string cmd_id;
  std::string app_id;  // the app this row applies to (never "*")
  std::string target;  // what was addressed: the app id, or "*"
  CmdName command = CmdName::start;
  std::string args_json = "{}";
  std::string issued_by;
  TimePoint issued_at{};
  CmdFlag flag = CmdFlag::pending;
  std::optional<std::string> claimed_by;        // the claiming manager's name
  std::optional<std::string> claimed_instance;  // and its instance (ManagerRecord::instance)
  std::optional<TimePoint> claimed_at;
  std::optional<TimePoint> executed_at;
  std::optional<std::string> result;  // human-readable outcome or reason
  std::optional<DeliveryPath> path;
  // The x-dc-signature the source signed the command with ("" unsigned), so
  // the database path can check it as the broker path does.
  std::string signature;
  // Written by a command source before publishing (record_command), as
  // opposed to inserted by the manager that claimed a message nobody had
  // recorded.
  bool recorded = true;
};

// What a manager is doing, as its managers row, /healthz and the dc_mode
// metric report it.
enum class ManagerMode { starting, broker, fallback, stopped };
// "starting", "broker", "fallback", "stopped".
std::string_view to_string(ManagerMode mode);
// The inverse of to_string; nullopt for any other text.
std::optional<ManagerMode> manager_mode_from_string(std::string_view text);

struct ManagerRecord {
  std::string name;
  std::string host;
  int64_t pid = 0;
  TimePoint started_at{};
  TimePoint last_seen{};
  ManagerMode mode = ManagerMode::broker;
  std::string version;
  // Random per process start: what the lease, the heartbeat and the claims
  // match on. Not the pid: two containers both run their manager as pid 1.
  std::string instance;
};

// Who claims and finishes commands: a manager's name and, for a manager
// holding its lease, its instance. With an instance, every claim and finish
// is fenced: it takes effect only while the managers row of that name still
// carries this instance, atomically with the write, and otherwise fails
// with Errc::fenced (a newer manager of the name took the lease over: stop
// acting). Without one (tools, tests) there is no fence.
struct Claimer {
  std::string manager;
  std::string instance;
  Claimer(std::string_view manager_name, std::string_view instance_id = {})  // NOLINT(google-explicit-constructor)
      : manager(manager_name), instance(instance_id) {}
  Claimer(const char* manager_name) : manager(manager_name) {}         // NOLINT(google-explicit-constructor)
  Claimer(const std::string& manager_name) : manager(manager_name) {}  // NOLINT(google-explicit-constructor)
};

enum class ClaimResult {
  claimed,           // this caller now owns the (command, app)
  already_claimed,   // another caller claimed it and has not finished
  already_finished,  // it has an outcome already
};

struct Outcome {
  CmdFlag flag = CmdFlag::executed;
  std::string result;  // what happened, or why not
  DeliveryPath path = DeliveryPath::broker;
  std::optional<AppState> app_state;  // unset: the app row's state is unchanged (e.g. unknown app)
};

// A command and the outcome to record if the caller wins its claim.
struct FinishedCommand {
  CommandRecord record;
  Outcome outcome;
  // Whether a row for (cmd_id, app_id) is believed to exist. Only a hint of
  // which statement to try first (update or insert); either way the outcome
  // is right.
  bool row_exists = true;
};

// Where one command stands in its app's queue (Store::command_place).
struct CommandPlace {
  std::optional<CommandRecord> row;    // nullopt: no source recorded it
  std::vector<CommandRecord> earlier;  // the app's unclaimed PENDING rows before it, oldest first

  // The command is finished, or in the hands of anyone but `claimer`: a
  // delivery of it now is a redelivery, to be acked without running it. A
  // PENDING row claimed by `claimer` itself is not settled: that claim's
  // commit was lost on the way back (the connection dropped during
  // COMMIT), so claim() gives it back to its owner to carry out.
  bool settled(const Claimer& claimer) const {
    if (!row) return false;
    if (row->flag != CmdFlag::pending) return true;
    if (!row->claimed_by) return false;
    return !(!claimer.instance.empty() && row->claimed_by == claimer.manager &&
             row->claimed_instance == claimer.instance);
  }
};

// One change the store made, as its event log keeps it (SPEC §8 events). The
// log is written in the same transaction as the change it reports, so it
// never disagrees with the tables; `seq` orders it, and a change that
// commits later always has a larger seq than one that committed earlier,
// so a reader that has seen every event up to some seq and asks for the
// ones after it misses none and sees none twice.
//
// What is logged (subject; the JSON object in `data_json`, whose "action"
// says which change; docs/STORE.md lists every field):
//   command  cmd_id    recorded (by a source), claimed, finished (flag,
//                      result, path), each with the app_id of the row
//   app      app_id    added, updated, removed (the registry), state (status,
//                      pid, exit code, disable: a command's outcome, an
//                      exit, a scheduled start), next_run
//   manager  name      started (lease acquired), mode (broker/fallback, or
//                      seen again after being reported lost), stopped
//                      (lease released), lost (report_lost_managers)
enum class EventKind { command, app, manager };
// "command", "app", "manager".
std::string_view to_string(EventKind kind);

struct StoreEvent {
  int64_t seq = 0;
  TimePoint at{};
  EventKind kind = EventKind::command;
  std::string subject;
  std::string data_json;  // a JSON object with at least "action"
};

struct AppFilter {
  std::optional<std::string> manager;
  bool scheduled_only = false;  // only apps with a schedule
};

struct CommandFilter {
  std::optional<std::string> app_id;
  std::optional<std::string> cmd_id;
  bool pending_only = false;
  int limit = 100;
  std::optional<int64_t> after_seq;  // only rows with seq > this
  bool oldest_first = false;         // issue order; newest first otherwise
};

// Wakes a manager when a command is recorded (PostgreSQL LISTEN/NOTIFY).
class CommandNotifier {
 public:
  virtual ~CommandNotifier() = default;
  // A descriptor that becomes readable when a notification may be waiting.
  virtual int fd() const = 0;
  // Consumes pending notifications; returns how many arrived (any manager's:
  // a wake-up means "poll now", not "a command for you"). Fails with
  // Errc::unavailable once its connection is lost (fd() is then -1): create
  // a new notifier. Callers should poll with a timeout, not block forever.
  virtual Result<int> drain() = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Opens (creating and migrating as needed) the database named by db_url.
  // Fails with Errc::schema when the database was made by a newer version.
  static Result<std::unique_ptr<Store>> open(std::string_view db_url);

  // "sqlite" or "postgresql".
  virtual std::string_view backend() const = 0;
  // The schema version this build writes, and the one the database has.
  static int current_schema_version();
  virtual Result<int> schema_version() = 0;

  // --- apps registry ---
  // Inserts a new app (conflict if app_id exists). Only the registry fields
  // (app_id, name, manager, exec, schedule, disable) are taken from `app`.
  virtual Status add_app(const App& app) = 0;
  // Updates registry fields of an existing app (not_found otherwise).
  virtual Status update_app(const App& app) = 0;
  // Removes the app (not_found if absent). Its command rows stay (audit).
  virtual Status remove_app(std::string_view app_id) = 0;
  virtual Result<std::optional<App>> get_app(std::string_view app_id) = 0;
  virtual Result<std::vector<App>> list_apps(const AppFilter& filter = {}) = 0;
  // Sets runtime state (status, pid, ...) outside any command: process exits,
  // scheduled starts, recovery.
  virtual Status set_app_state(std::string_view app_id, const AppState& state) = 0;
  virtual Status set_next_run(std::string_view app_id, std::optional<TimePoint> next_run_at) = 0;

  // --- command log ---
  // Records `command` for its app, or for "*" one row per app (of `manager`
  // when given, else of every manager); updates each app's mirror (cmd,
  // cmd_flag=PENDING, cmd_id, cmd_issued_by, cmd_args). One transaction.
  // Returns the rows written (seq assigned). not_found if the single app does
  // not exist; an empty vector for "*" over no apps; conflict (and nothing
  // written) if a row for this command id and one of the apps exists.
  // PostgreSQL: NOTIFY dc_commands with the owning manager's name (or `manager`,
  // or "*") when the transaction commits.
  virtual Result<std::vector<CommandRecord>> record_command(const Command& command,
                                                            std::optional<std::string_view> manager = {}) = 0;
  // Atomically claims (record.cmd_id, record.app_id) for `claimer`. If no
  // row exists (a message from a source that did not record it), inserts
  // one from `record` already claimed (recorded = false). Exactly one of any
  // number of concurrent callers gets ClaimResult::claimed. Claimed and
  // finished are final: nothing ever unclaims a row. A PENDING row already
  // claimed by this very claimer (same manager and instance) is `claimed`
  // again: an earlier claim whose COMMIT outcome was lost with the
  // connection did commit, and this re-read settles the ambiguity. Errors:
  // invalid_argument for app id "*" (expand it first); fenced (above).
  virtual Result<ClaimResult> claim(const CommandRecord& record, const Claimer& claimer) = 0;
  // Records the outcome of a claimed command and, in the same transaction,
  // the app's new state and mirror (cmd_flag, cmd_result). Fails with
  // conflict if the row is not claimed by the claimer's manager, or was
  // finished by anyone but this claimer; finishing again a row this claimer
  // finished succeeds and changes nothing (a retry after a lost COMMIT).
  // When outcome.app_state is unset, or the app no longer exists, the app
  // row (state and mirror) is left unchanged; otherwise the mirror becomes
  // this command (cmd, cmd_id, cmd_issued_by, cmd_args, cmd_flag, cmd_result).
  virtual Status finish(std::string_view cmd_id, std::string_view app_id, const Claimer& claimer,
                        const Outcome& outcome) = 0;
  // Claims and finishes a run of commands in ONE transaction: each item is
  // claimed as claim() would (inserting a row nobody recorded) and, when this
  // caller wins it, finished with its outcome as finish() would, in order.
  // Items another caller has, or that are finished, are left as they are.
  // Only for commands whose whole effect is this database update (ENABLE,
  // DISABLE): a command with an effect outside the database must commit its
  // claim before acting (claim, act, finish). One commit for the run is what
  // lets a manager keep up with the broker. Returns one result per item.
  virtual Result<std::vector<ClaimResult>> claim_and_finish(std::span<const FinishedCommand> items,
                                                            const Claimer& claimer) = 0;
  // Runs `body` as ONE write transaction: every store call it makes reads
  // and writes inside it, so what it read still holds when it writes.
  // Committed when `body` succeeds; rolled back when it fails, or when any
  // store call inside it failed (even one `body` chose to ignore). Keep it
  // short: it holds the database's write lock (SQLite). Not nestable.
  virtual Status in_transaction(const std::function<Status()>& body) = 0;
  // Unclaimed PENDING rows for apps owned by `manager`, in issue order
  // (a limit <= 0 means no limit, here and in CommandFilter).
  virtual Result<std::vector<CommandRecord>> pending_for_manager(std::string_view manager, int limit = 1000) = 0;
  // Command `cmd_id`'s row for `app_id` and the app's unclaimed PENDING rows
  // issued before it (every one of them when the command is not recorded),
  // read together: what a manager checks before it runs a command in
  // per-app order.
  virtual Result<CommandPlace> command_place(std::string_view cmd_id, std::string_view app_id) = 0;
  // Rows claimed by `manager` but never finished (crash recovery).
  virtual Result<std::vector<CommandRecord>> claimed_unfinished(std::string_view manager) = 0;
  // The apps of `manager` that broadcast `cmd_id` addresses (SPEC §6.3): the
  // apps of the manager when it was issued. For a broadcast a source
  // recorded, the apps it recorded rows for; for one nobody recorded, the
  // apps registered no later than `issued_at`. Ordered by app id. Apps
  // registered since are not touched by it, whichever path delivers it.
  virtual Result<std::vector<App>> broadcast_targets(std::string_view cmd_id, std::string_view manager,
                                                     TimePoint issued_at) = 0;
  virtual Result<std::vector<CommandRecord>> list_commands(const CommandFilter& filter) = 0;
  // The row of one (command id, app), or nullopt when there is none.
  virtual Result<std::optional<CommandRecord>> get_command_row(std::string_view cmd_id, std::string_view app_id) = 0;
  // All rows of one command id (one per app).
  virtual Result<std::vector<CommandRecord>> get_command(std::string_view cmd_id) = 0;

  // --- managers ---
  // Lease times are the database's clock (PostgreSQL's clock_timestamp();
  // for SQLite, a file on one host, that host's clock), never the caller's,
  // so managers on hosts with skewed clocks judge expiry alike.
  //
  // Registers `self` (self.instance must be set), refusing with
  // Errc::conflict when another instance of the same name was seen less
  // than `lease_ttl` ago and is not marked stopped.
  virtual Status acquire_lease(const ManagerRecord& self, std::chrono::milliseconds lease_ttl) = 0;
  // Refreshes last_seen and mode; fenced if the lease now belongs to another
  // instance, not_found if there is no lease of that name.
  virtual Status heartbeat(std::string_view name, std::string_view instance, ManagerMode mode) = 0;
  // Marks the manager stopped (mode "stopped"); conflict, leaving the row
  // alone, if another instance holds it.
  virtual Status release_lease(std::string_view name, std::string_view instance) = 0;
  // The database's clock now (what lease times are measured with).
  virtual Result<TimePoint> database_time() = 0;
  virtual Result<std::vector<ManagerRecord>> list_managers() = 0;

  // A notifier for new commands, or nullptr when the backend has none
  // (SQLite: the manager polls).
  virtual Result<std::unique_ptr<CommandNotifier>> listen_for_commands() = 0;

  // --- event log ---
  // Events with seq > `after_seq`, oldest first, at most `limit` (> 0).
  virtual Result<std::vector<StoreEvent>> events_after(int64_t after_seq, int limit) = 0;
  // The oldest and newest seq the log holds (0, 0 when it is empty). Events
  // before `first` were pruned.
  struct EventBounds {
    int64_t first = 0;
    int64_t last = 0;
  };
  virtual Result<EventBounds> event_bounds() = 0;
  // Deletes events older than `before`, always keeping the newest
  // `keep_at_least`. Returns how many went.
  virtual Result<int64_t> prune_events(TimePoint before, int64_t keep_at_least) = 0;
  // Logs a "lost" manager event, once per loss, for every manager not
  // stopped whose last heartbeat is older than `lease_ttl` by the
  // database's clock (liveness is a matter of time passing: nobody writes
  // it otherwise). Safe to run from several processes at once: each loss is
  // logged by exactly one. A manager seen again logs "mode" with live true.
  // Returns the managers reported now.
  virtual Result<std::vector<ManagerRecord>> report_lost_managers(std::chrono::milliseconds lease_ttl) = 0;
  // Wakes a reader when events are logged (PostgreSQL LISTEN/NOTIFY; the
  // same notifier interface as listen_for_commands()), or nullptr when the
  // backend has none (SQLite: poll events_after()).
  virtual Result<std::unique_ptr<CommandNotifier>> listen_for_events() = 0;
};

}  // namespace dc
