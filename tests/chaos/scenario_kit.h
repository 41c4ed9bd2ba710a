// The machinery every fault scenario shares: a scenario's private world
// (Fixture: directory, database, exchange, apps, witness file, manager
// name), a command stream with dcctl's semantics (Stream), and the outside
// check of SPEC §6 over the commands table and the witness file (judge).
// stream_run() is the common shape: manager up, stream on, faults, settle,
// stop, judge.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "broker/topology.h"
#include "chaos/command_source.h"
#include "chaos/harness.h"
#include "chaos/scenarios.h"
#include "store/store.h"

namespace dc::chaos {

// A timestamped progress line on stderr.
void say(const std::string& line);
// Sleeps, waking early when the run is interrupted (SIGINT/SIGTERM).
void nap(std::chrono::milliseconds d);
double seconds_between(TimePoint a, TimePoint b);
// NOT_EXECUTED reasons grouped by their first words ("unknown app", "stop failed").
std::string short_reason(const std::optional<std::string>& result);

// One scenario's private world: its directory, database, exchange, apps,
// witness file and manager name.
class Fixture {
 public:
  Fixture(Context& context, std::string name, std::string url = "")
      : ctx(context), scenario(std::move(name)), dir(context.paths.work_dir + "/" + scenario) {
    ::mkdir(dir.c_str(), 0755);
    ::mkdir((dir + "/app-logs").c_str(), 0755);
    db_url = url.empty() ? "sqlite://" + dir + "/dc.sqlite3" : std::move(url);
    exchange = "chaos-" + ctx.run_id + "-" + scenario;
    manager = exchange;
    witness = dir + "/witness.txt";
    ::unlink(witness.c_str());
  }

  Status prepare(int volume, int witnessed) {
    auto store = Store::open(db_url);
    if (!store) return store.error().with_context("opening " + db_url);
    monitor = std::move(*store);
    for (int i = 0; i < volume + witnessed; ++i) {
      App app;
      app.app_id = (i < volume ? "v" + std::to_string(i) : "w" + std::to_string(i - volume));
      app.name = app.app_id;
      app.manager = manager;
      app.exec = {ctx.paths.source_dir + "/examples/collector"};
      if (i >= volume && !witness_exec.empty()) app.exec = witness_exec;
      if (auto st = monitor->add_app(app); !st) return st.error().with_context("registering " + app.app_id);
      (i < volume ? volume_apps : witness_apps).push_back(app.app_id);
    }
    return ok_status();
  }

  ManagerSpec spec(int port) const {
    ManagerSpec s;
    s.name = manager;
    s.exchange = exchange;
    s.rabbit_host = rabbit_hosts;
    s.rabbit_port = port;
    s.queue_type = queue_type;
    s.db_url = db_url;
    s.witness = witness;
    s.dir = dir;
    s.extra_env = manager_env;
    return s;
  }

  std::unique_ptr<CommandSource> source() const {
    auto store = Store::open(db_url);
    if (!store) return nullptr;
    SourceSettings settings;
    settings.rabbit_host = rabbit_hosts;
    settings.rabbit_port = ctx.rabbit_port;
    settings.exchange = exchange;
    settings.queue_type = queue_type == "quorum" ? broker::QueueType::quorum : broker::QueueType::classic;
    return std::make_unique<CommandSource>(std::move(*store), settings);
  }

  // Waits until `pid` holds this fixture's manager lease and left "starting".
  bool wait_ready(pid_t pid, std::chrono::milliseconds deadline) {
    const auto until = Clock::now() + deadline;
    while (Clock::now() < until && !g_interrupted.load()) {
      if (auto managers = monitor->list_managers()) {
        for (const auto& m : *managers) {
          if (m.name == manager && m.pid == pid && (m.mode == ManagerMode::broker || m.mode == ManagerMode::fallback))
            return true;
        }
      }
      nap(std::chrono::milliseconds(100));
    }
    return false;
  }

  Context& ctx;
  std::string scenario;
  std::string dir;
  std::string db_url;
  std::string exchange;
  std::string manager;
  std::string witness;
  std::unique_ptr<Store> monitor;
  std::vector<std::string> volume_apps;
  std::vector<std::string> witness_apps;
  std::vector<TimePoint> lifts;  // when each fault ended
  bool broker_recovery = true;   // recovery = first outcome via the broker (else via any path)
  // Recovery counts only outcomes of commands issued after the lift: when
  // a lift marks a fault's start (a cluster should carry on through it),
  // a delivery already in hand would otherwise pass for recovery.
  bool recovery_issued_after = false;
  // The broker: one host (its port given to spec() and ctx.rabbit_port for
  // the source) or a list "h:p,h:p,h:p" tried in order (a cluster).
  std::string rabbit_hosts = "127.0.0.1";
  std::string queue_type = "classic";
  std::vector<std::string> witness_exec;  // the witness apps' argv (default: the collector)
  Env manager_env;                        // more DC_* settings for the manager
  std::vector<std::string> extra_ids;     // commands the faults issued, judged with the stream's
};

// Issues `count` commands at `rate` per second from its own thread and its
// own store connection: 80 % ENABLE/DISABLE on volume apps, 20 %
// START/STOP/RESTART on witness apps.
class Stream {
 public:
  Stream(Fixture& f, int count, double rate, uint64_t seed)
      : fixture_(f), source_(f.source()), count_(count), rate_(rate), seed_(seed) {}
  ~Stream() { join(); }

  bool start() {
    if (!source_) return false;
    thread_ = std::thread([this] { body(); });
    return true;
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  size_t issued() const { return issued_.load(); }
  bool done() const { return done_.load(); }
  // Blocks until `n` commands were issued or the stream ended.
  void wait_issued(size_t n) const {
    while (issued_.load() < n && !done_.load() && !g_interrupted.load()) nap(std::chrono::milliseconds(20));
  }
  std::vector<std::string> ids() {
    std::lock_guard lock(mutex_);
    return ids_;
  }
  SourceCounters counters() {
    std::lock_guard lock(mutex_);
    return source_->counters();
  }
  TimePoint finished_at() const { return finished_at_; }

 private:
  void body() {
    std::mt19937_64 rng(seed_);
    std::uniform_real_distribution<double> unit(0, 1);
    const auto start = Clock::now();
    for (int i = 0; i < count_ && !g_interrupted.load(); ++i) {
      std::string app;
      CmdName name;
      if (fixture_.witness_apps.empty() || unit(rng) < 0.8) {
        app = fixture_.volume_apps[rng() % fixture_.volume_apps.size()];
        name = unit(rng) < 0.5 ? CmdName::enable : CmdName::disable;
      } else {
        app = fixture_.witness_apps[rng() % fixture_.witness_apps.size()];
        const double r = unit(rng);
        name = r < 0.5 ? CmdName::start : (r < 0.8 ? CmdName::stop : CmdName::restart);
      }
      std::optional<std::string> id;
      {
        std::lock_guard lock(mutex_);
        auto issued = source_->issue(app, fixture_.manager, name);
        if (issued) ids_.push_back(*issued);
      }
      issued_.fetch_add(1);
      const auto due = start + std::chrono::microseconds(static_cast<int64_t>((i + 1) * 1e6 / rate_));
      std::this_thread::sleep_until(due);
    }
    finished_at_ = now();
    done_.store(true);
  }

  Fixture& fixture_;
  std::unique_ptr<CommandSource> source_;
  int count_;
  double rate_;
  uint64_t seed_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> ids_;
  std::atomic<size_t> issued_{0};
  std::atomic<bool> done_{false};
  TimePoint finished_at_{};
};

// Waits until no command is PENDING (or the deadline); returns whether it settled.
bool settle(Fixture& f, std::chrono::milliseconds deadline);
// The outside check of SPEC §6 over the commands table and the witness file.
void judge(Fixture& f, const std::vector<std::string>& ids, Row& row);
// Stops the manager (SIGTERM, must exit 0 within 30 s) and the apps it left.
void stop_manager(Fixture& f, ManagerProcess& m, Row& row);
// The common shape: manager up, stream on, `faults` in this thread, then
// settle, stop and judge. `before_stop`, when given, looks at the settled
// world while the manager still runs.
Row stream_run(Fixture& f, const std::string& label, int manager_port, int count, double rate,
               const std::function<void(Stream&, ManagerProcess&, Row&)>& faults,
               const std::function<void(Row&)>& before_stop = {});

}  // namespace dc::chaos
