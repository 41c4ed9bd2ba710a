// The hands of the end-to-end tests: the real dc-manager and dcctl binaries
// run as child processes (argv, no shell) against the real broker and a real
// database, and the test looks at the outcome the way an operator would: the
// store, the broker's queues, the app processes in /proc.
//
// A World is everything one test owns: a scratch directory, a database of
// its own (a temporary SQLite file, or a fresh PostgreSQL database created
// on the server of DC_TEST_PG_URL and dropped afterwards), a private command
// exchange (so broadcasts and dead letters of parallel tests never meet),
// unique manager names, and the processes it started. Destroying a World
// stops its managers, kills whatever app processes they left behind (found
// by the unique DC_MANAGER in their environment), deletes its queues and
// exchanges and drops its database.
//
// Every wait has a deadline; nothing here sleeps for a fixed long time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "broker/consumer.h"
#include "broker/publisher.h"
#include "store/store.h"

namespace dc::e2e {

using Env = std::map<std::string, std::string>;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Paths compiled in by tests/e2e/CMakeLists.txt.
std::string manager_bin();
std::string dcctl_bin();
std::string source_dir();
// examples/collector: prints a line per second, exits 0 on SIGTERM, appends
// "<app id> <command id>" to $DC_WITNESS once per start.
std::string collector_app();
// examples/ignore-sigterm: only SIGKILL ends it; prints "ready" first.
std::string ignore_sigterm_app();

// Eight random hex digits.
std::string random_suffix();

// Calls `condition` every `step` until it returns true (-> true) or
// `timeout` passes (-> false).
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = 50ms);

std::string read_file(const std::string& path);
// The non-empty lines of a file (none when it does not exist).
std::vector<std::string> read_lines(const std::string& path);
void write_file(const std::string& path, const std::string& content, bool executable = false);

// True while `pid` names a process that is not a zombie. An orphaned app
// whose parent is gone may linger as a zombie when pid 1 does not reap; it
// has ended all the same.
bool process_alive(int64_t pid);
// True while any live (non-zombie) process is in process group `pgid`.
bool process_group_alive(int64_t pgid);
// Whether /proc/<pid>/environ holds exactly `entry` ("NAME=value").
bool process_has_env(int64_t pid, const std::string& entry);

// A child process of the test: started with exactly `env`, working
// directory `cwd`, stdin /dev/null, stdout and stderr appended to
// `output_path`. The destructor SIGKILLs and reaps it if it still runs.
class Child {
 public:
  static Result<std::unique_ptr<Child>> spawn(const std::vector<std::string>& argv, const Env& env,
                                              const std::string& cwd, const std::string& output_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // True until the process has exited (reaps it when it has).
  bool running();
  // Waits up to `timeout` for the exit; returns the exit code (128 + signal
  // when a signal ended it), or nullopt while it still runs.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  void signal(int sig);
  const std::optional<int>& exit_code() const { return exit_code_; }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<int> exit_code_;
};

struct ToolRun {
  int exit_code = -1;  // -1: did not finish in time (killed)
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

// Runs argv to completion within `timeout` (SIGKILL after it).
ToolRun run_tool(const std::vector<std::string>& argv, const Env& env, const std::string& cwd,
                 std::chrono::milliseconds timeout);

enum class Backend { sqlite, postgresql };
std::string to_string(Backend backend);

// Where a World's broker is.
struct BrokerAddress {
  std::string host;
  int port = 0;
};

// A RabbitMQ node of the test's own, run by scripts/rabbitmq-local.sh with
// its state in a temporary directory, which the test may kill (-9) and
// start again (durable queues survive). The destructor stops the node if it
// runs and deletes its state.
class PrivateBroker {
 public:
  explicit PrivateBroker(int port);
  ~PrivateBroker();
  PrivateBroker(const PrivateBroker&) = delete;
  PrivateBroker& operator=(const PrivateBroker&) = delete;

  // start: returns once AMQP accepts connections (the script allows 60 s).
  Status start();
  Status kill();
  Status stop();
  BrokerAddress address() const { return {"127.0.0.1", port_}; }

 private:
  Status script(const std::string& verb, std::chrono::milliseconds timeout);
  int port_;
  std::string dir_;
};

// One dc-manager process of a World.
struct ManagerProcess {
  std::string name;
  std::string log_path;
  std::unique_ptr<Child> child;
  pid_t pid() const { return child ? child->pid() : -1; }
};

class World {
 public:
  // Creates the scratch directory and the database. Errors: the database
  // server refused to create the database.
  static Result<std::unique_ptr<World>> create(Backend backend, BrokerAddress broker);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  Backend backend() const { return backend_; }
  const std::string& dir() const { return dir_; }
  const std::string& db_url() const { return db_url_; }
  const std::string& exchange() const { return exchange_; }
  const BrokerAddress& broker() const { return broker_; }
  Store& store() { return *store_; }
  // The file every app of this World appends "<app id> <command id>" to.
  std::string witness_path() const { return dir_ + "/witness.txt"; }
  // Witness lines of `app_id`.
  std::vector<std::string> witness_lines(const std::string& app_id) const;

  // "<prefix>_<8 hex>": unique manager (= queue) or app names.
  std::string unique(const std::string& prefix);

  // The DC_* environment both binaries run with: DC_DB_URL, DC_RABBIT_HOST,
  // DC_RABBIT_PORT, DC_RABBIT_EXCHANGE, DC_LOG_DIR, DC_POLL_INTERVAL (1),
  // DC_STOP_TIMEOUT (5), DC_RABBIT_HEARTBEAT (2), plus DC_WITNESS for the
  // apps, PATH and HOME.
  Env base_env() const;

  // Starts dc-manager `name` (DC_RABBIT_QUEUE=name) with `extra` env on top
  // of base_env(), and waits until the managers table shows it (its pid)
  // in `mode` ("broker" or "fallback"); empty `mode`: do not wait.
  // Returns nullptr (with the reason in `why`) when it did not get there
  // within 30 s.
  ManagerProcess* start_manager(const std::string& name, const Env& extra = {}, const std::string& mode = "broker",
                                std::string* why = nullptr);
  // SIGTERM and the exit code (nullopt if still running after 20 s).
  std::optional<int> stop_manager(ManagerProcess& manager);
  // SIGKILL and reap.
  void kill_manager(ManagerProcess& manager);
  // The managers row of `name`, if any.
  std::optional<ManagerRecord> manager_row(const std::string& name);
  // Waits until the row of `name` is in `mode` (and, when pid > 0, has that pid).
  bool wait_manager_mode(const std::string& name, const std::string& mode, std::chrono::milliseconds timeout,
                         int64_t pid = 0);

  // Runs dcctl with base_env() plus `extra`.
  ToolRun dcctl(const std::vector<std::string>& args, const Env& extra = {}, std::chrono::milliseconds timeout = 60s);
  // Runs dcctl, expects exit `expected_exit`, parses stdout as JSON (null
  // plus a test failure when it is not).
  nlohmann::json dcctl_json(const std::vector<std::string>& args, int expected_exit = 0);
  // Issues DISABLE for `app_id` with dcctl and waits for its outcome. It
  // travels behind everything published to the app's manager before it (one
  // queue, delivered in order), so once it is done those are handled too.
  // nullopt when it got no outcome within 20 s.
  std::optional<CmdFlag> issue_marker_and_wait(const std::string& app_id);
  // Registers an app with `dcctl apps add`; false (with a test failure) on error.
  bool add_app(const std::string& app_id, const std::string& manager, const std::vector<std::string>& exec);
  // An app whose start writes DC_APP_ID, DC_MANAGER, DC_COMMAND_ID and
  // DC_ARGS to files (see passed_env) and then runs the collector.
  std::vector<std::string> env_recording_app() const;
  // What env_recording_app() received for (command, app): variable -> value;
  // empty until its start completed.
  std::map<std::string, std::string> passed_env(const std::string& cmd_id, const std::string& app_id) const;

  // Store lookups (failures become test failures and empty results).
  std::optional<App> app(const std::string& app_id);
  std::vector<CommandRecord> rows(const std::string& cmd_id);
  std::vector<CommandRecord> rows_of_app(const std::string& app_id);
  // Waits until every row of `cmd_id` (at least `min_rows`) has an outcome;
  // returns the rows (still PENDING ones when the time ran out).
  std::vector<CommandRecord> wait_outcome(const std::string& cmd_id, std::chrono::milliseconds timeout = 20s,
                                          size_t min_rows = 1);

  // Broker side. Declares the command topology of manager `queue` on this
  // World's exchange, as a command source does.
  Status declare_queue(const std::string& queue);
  // Publishes `body` (confirmed) to this World's exchange `copies` times with
  // the same message_id (empty: a random one, shared by the copies).
  Status publish(const std::string& routing_key, const std::string& body, const std::string& message_id,
                 int copies = 1);
  // Publishes `message` on this World's exchange (its `exchange` is
  // overwritten), waiting for the confirm.
  Status publish_message(broker::OutgoingMessage message);
  // Consumes the next message of `queue` and acks it: what an eavesdropper
  // with access to the queue would capture. Errors: nothing arrived within
  // `timeout`.
  Result<broker::Delivery> take_message(const std::string& queue, std::chrono::milliseconds timeout = 10s);
  // Runs one statement on the PostgreSQL server of DC_TEST_PG_URL (not only
  // this World's database); the error text, or "" on success.
  std::string pg_server_exec(const std::string& sql);
  // Ready messages in `queue`; nullopt when it cannot be asked.
  std::optional<uint32_t> queue_count(const std::string& queue);
  std::string dead_letter_queue() const { return exchange_ + ".dead"; }

 private:
  World(Backend backend, BrokerAddress broker);
  void cleanup();

  Backend backend_;
  BrokerAddress broker_;
  std::string dir_;
  std::string db_url_;
  std::string pg_database_;  // PostgreSQL database to drop; empty for SQLite
  std::string exchange_;
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<ManagerProcess>> managers_;
  std::vector<std::string> names_;  // every manager name used, for cleanup
};

}  // namespace dc::e2e
