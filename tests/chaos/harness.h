// The chaos driver's hands: child processes it starts and ends, the private
// RabbitMQ and PostgreSQL instances it controls through scripts/, and the
// dc-manager processes under test. Everything started here is registered so
// that it is ended at exit, including after a failed scenario.
//
// Only processes this driver started are ever signalled, by pid. App
// processes that a killed manager leaves behind are found by the manager
// name in their environment (DC_MANAGER), which is unique per run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace dc::chaos {

using Clock = std::chrono::steady_clock;
using Env = std::map<std::string, std::string>;

// Where the driver finds the product and keeps its state.
struct Paths {
  std::string source_dir;  // the repository: scripts/, examples/
  std::string bin_dir;     // holds dc-manager
  std::string work_dir;    // private state of this run (build/chaos/...)
};

// Starts argv[0] (a path, no shell) with exactly `env` (plus PATH and HOME
// of this process), working directory `cwd`, stdin /dev/null and stdout and
// stderr appended to `log_path`. Returns the child's pid; the child is
// recorded in `<work_dir>/children.pids` so scripts/chaos.sh can end it if the
// driver itself dies.
Result<pid_t> spawn_process(const std::vector<std::string>& argv, const Env& env, const std::string& cwd,
                            const std::string& log_path);

// Waits up to `deadline` for `pid` (our child) to exit. Returns its exit code
// (128 + signal when killed), or nullopt when it is still running.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds deadline);

// Runs argv to completion within `deadline` (SIGKILL after it), output
// appended to `log_path`. Returns the exit code; Errc::timeout past the
// deadline.
Result<int> run_process(const std::vector<std::string>& argv, const Env& env, const std::string& log_path,
                        std::chrono::milliseconds deadline);

// Sends SIGKILL to every process whose environment holds DC_MANAGER=<name>
// for a manager name starting with `manager_prefix` (the apps of this run's
// managers, including ones orphaned by a killed manager). Returns how many.
int kill_orphan_apps(const std::string& manager_prefix);

// The calling process's resident set (VmRSS) and peak (VmHWM) of `pid`, in KiB.
struct Memory {
  long rss_kib = -1;
  long peak_kib = -1;
};
Memory memory_of(pid_t pid);

// A private RabbitMQ node driven through scripts/rabbitmq-local.sh.
class Rabbit {
 public:
  Rabbit(const Paths& paths, int port);
  ~Rabbit();  // stops the node if this object started it
  Rabbit(const Rabbit&) = delete;
  Rabbit& operator=(const Rabbit&) = delete;

  Status start();
  Status stop();
  Status kill9();  // SIGKILL the node; data kept
  // SIGSTOP / SIGCONT the Erlang VM (half-open: sockets stay, nothing answers).
  Status freeze();
  Status thaw();
  int port() const { return port_; }

 private:
  Result<pid_t> node_pid() const;
  Env script_env() const;

  Paths paths_;
  int port_;
  std::string services_dir_;
  bool started_ = false;
  bool frozen_ = false;
};

// A private PostgreSQL driven through scripts/postgres-local.sh.
class Postgres {
 public:
  Postgres(const Paths& paths, int port);
  ~Postgres();  // stops the server if this object started it
  Postgres(const Postgres&) = delete;
  Postgres& operator=(const Postgres&) = delete;

  Status start();
  Status stop();
  // Creates database `name` (fresh) and returns its URL.
  Result<std::string> create_database(const std::string& name);
  int port() const { return port_; }

 private:
  Env script_env() const;
  Paths paths_;
  int port_;
  std::string services_dir_;
  bool started_ = false;
};

// How a dc-manager under test is configured.
struct ManagerSpec {
  std::string name;                       // also its queue
  std::string exchange;                   // a private exchange per scenario, so dead letters are counted per scenario
  std::string rabbit_host = "127.0.0.1";  // or a host list "h:p,h:p" (rabbit_host syntax)
  int rabbit_port = 0;
  std::string queue_type = "classic";  // rabbit_queue_type
  std::string db_url;
  std::string witness;   // DC_WITNESS for its apps
  std::string dir;       // working directory, logs
  std::string log_name;  // log file name without .log; empty = name
  int heartbeat_s = 2;
  double poll_interval_s = 0.2;
  // More DC_* settings (they override the ones above): DC_LEASE_TTL,
  // DC_RABBIT_PREFETCH, DC_STOP_TIMEOUT...
  Env extra_env;
};

// One dc-manager process.
class ManagerProcess {
 public:
  ManagerProcess(const Paths& paths, ManagerSpec spec) : paths_(paths), spec_(std::move(spec)) {}
  ~ManagerProcess();  // SIGKILL if still running
  ManagerProcess(const ManagerProcess&) = delete;
  ManagerProcess& operator=(const ManagerProcess&) = delete;

  Status spawn();
  // SIGKILL and reap.
  void kill9();
  // SIGTERM, then the exit code within `deadline` (SIGKILL and nullopt after).
  std::optional<int> terminate(std::chrono::milliseconds deadline);
  std::optional<int> wait(std::chrono::milliseconds deadline);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const ManagerSpec& spec() const { return spec_; }
  std::string log_path() const;
  int spawn_count() const { return spawns_; }

 private:
  Paths paths_;
  ManagerSpec spec_;
  pid_t pid_ = -1;
  int spawns_ = 0;
};

}  // namespace dc::chaos
