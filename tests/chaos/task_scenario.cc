#include "chaos/task_scenario.h"

#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "base/endpoint.h"
#include "chaos/scenario_kit.h"
#include "tasks/enqueue.h"

namespace dc::chaos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Enqueues `count` tasks at `rate` per second from its own thread, as a
// Dramatiq client with confirm_delivery does, and resends a task whose
// confirm did not come (same message id) until the broker confirms it.
class TaskSender {
 public:
  TaskSender(std::string hosts, std::string queue, int count, double rate)
      : hosts_(std::move(hosts)), queue_(std::move(queue)), count_(count), rate_(rate) {}
  ~TaskSender() { join(); }

  void start() {
    thread_ = std::thread([this] { body(); });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  size_t attempted() const { return attempted_.load(); }
  void wait_attempted(size_t n) const {
    while (attempted_.load() < n && !done_.load() && !g_interrupted.load()) nap(milliseconds(20));
  }
  std::vector<std::string> confirmed() {
    std::lock_guard lock(mutex_);
    return confirmed_;
  }
  uint64_t resends() const { return resends_.load(); }
  uint64_t abandoned() const { return abandoned_.load(); }
  std::string last_error() {
    std::lock_guard lock(mutex_);
    return last_error_;
  }

 private:
  void body() {
    broker::ConnectionSettings settings;
    if (auto endpoints = parse_endpoint_list(hosts_, 5672)) settings.endpoints = std::move(*endpoints);
    settings.heartbeat = seconds(2);
    settings.connect_timeout = milliseconds(2000);
    settings.rpc_timeout = milliseconds(5000);
    settings.connection_name = "dc-chaos task sender";
    std::optional<tasks::TaskEnqueuer> enqueuer;
    const auto start = Clock::now();
    for (int i = 0; i < count_ && !g_interrupted.load(); ++i) {
      const tasks::TaskMessage message = tasks::make_task_message(queue_, "mark", tasks::Json::array({i}));
      const auto give_up = Clock::now() + seconds(180);
      for (bool sent = false; !sent && !g_interrupted.load();) {
        if (Clock::now() >= give_up) {
          abandoned_.fetch_add(1);
          break;
        }
        if (!enqueuer) {
          auto connected = tasks::TaskEnqueuer::connect(settings);
          if (!connected) {
            note_error(connected.error().message());
            nap(milliseconds(200));
            continue;
          }
          enqueuer.emplace(std::move(*connected));
        }
        auto published = enqueuer->enqueue(message);
        if (published) {
          std::lock_guard lock(mutex_);
          confirmed_.push_back(message.message_id);
          sent = true;
        } else {
          // Whatever failed (node gone, queue's home node down, no
          // confirm), start over on a fresh connection and send the same
          // message again: the worker may then see it twice.
          note_error(published.error().message());
          resends_.fetch_add(1);
          enqueuer.reset();
          nap(milliseconds(200));
        }
      }
      attempted_.fetch_add(1);
      std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>((i + 1) * 1e6 / rate_)));
    }
    done_.store(true);
  }

  void note_error(std::string text) {
    std::lock_guard lock(mutex_);
    last_error_ = std::move(text);
  }

  const std::string hosts_;
  const std::string queue_;
  const int count_;
  const double rate_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> confirmed_;  // guarded by mutex_
  std::string last_error_;              // guarded by mutex_
  std::atomic<size_t> attempted_{0};
  std::atomic<uint64_t> resends_{0};
  std::atomic<uint64_t> abandoned_{0};
  std::atomic<bool> done_{false};
};

// The witness file: one line "<unix ns> <message id>" per run of a task.
struct Runs {
  std::map<std::string, int> per_id;
  std::vector<std::pair<int64_t, std::string>> lines;
};

Runs read_runs(const std::string& path) {
  Runs runs;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    const std::string id = line.substr(space + 1);
    ++runs.per_id[id];
    runs.lines.emplace_back(std::atoll(line.substr(0, space).c_str()), id);
  }
  return runs;
}

int64_t unix_ns(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

Row task_node_loss(Context& ctx, RabbitCluster& cluster) {
  Fixture f(ctx, "task-node-loss");
  const std::string queue = "chaos_tasks_" + ctx.run_id;
  const std::string witness = f.dir + "/task-runs.txt";
  const std::string config = f.dir + "/dc-worker.toml";
  std::ofstream(config) << "rabbit_host = \"" << cluster.hosts() << "\"\n"
                        << "rabbit_heartbeat = 2\n"
                        << "worker_threads = 4\n"
                        << "[actors.mark]\n"
                        << "exec = [\"/bin/sh\", \"-c\", \"echo \\\"$(date +%s%N) $DC_TASK_MESSAGE_ID\\\" >> "
                        << witness << "\"]\n"
                        << "queue = \"" << queue << "\"\n";
  Row row;
  row.scenario = "tasks: kill -9 the node that holds the task queue (dc-worker, at least once)";
  const int count = ctx.pick(400, 2400);
  const int kills = ctx.pick(1, 2);
  say(row.scenario + ": " + std::to_string(count) + " tasks");

  auto worker = spawn_process({ctx.paths.bin_dir + "/dc-worker", "--config", config, "--worker-queues", queue}, {},
                              f.dir, f.dir + "/dc-worker.log");
  if (!worker) {
    row.failures.push_back("starting dc-worker: " + worker.error().message());
    return row;
  }
  TaskSender sender(cluster.hosts(), queue, count, ctx.pick(20, 30));
  sender.start();
  std::vector<TimePoint> restarts;
  for (int k = 0; k < kills && !g_interrupted.load(); ++k) {
    std::uniform_real_distribution<double> at(0.15, 0.45);
    sender.wait_attempted(static_cast<size_t>(count * (k + at(ctx.rng)) / kills));
    auto home = cluster.home_of(queue);
    if (!home) {
      row.failures.push_back("finding the task queue's node: " + home.error().message());
      break;
    }
    say("  kill -9 node " + std::to_string(*home) + " (holds " + queue + ") at task " +
        std::to_string(sender.attempted()));
    if (auto st = cluster.kill9(*home); !st) {
      row.failures.push_back(st.error().message());
      break;
    }
    ++row.faults;
    nap(ctx.random_ms(2000, 6000));
    say("  start node " + std::to_string(*home));
    if (auto st = cluster.start_node(*home); !st) {
      row.failures.push_back("node restart: " + st.error().message());
      break;
    }
    restarts.push_back(now());
  }
  sender.join();
  const TimePoint sent_all = now();
  const std::vector<std::string> confirmed = sender.confirmed();
  Runs runs;
  const auto until = Clock::now() + milliseconds(ctx.pick(90000, 240000));
  for (;;) {
    runs = read_runs(witness);
    size_t missing = 0;
    for (const auto& id : confirmed) missing += runs.per_id.count(id) == 0 ? 1 : 0;
    if (missing == 0 || Clock::now() >= until || g_interrupted.load()) break;
    nap(milliseconds(250));
  }
  row.settle_s = seconds_between(sent_all, now());

  ::kill(*worker, SIGTERM);
  if (auto code = wait_exit(*worker, seconds(30)); !code) {
    row.failures.push_back("dc-worker did not exit within 30 s of SIGTERM (log " + f.dir + "/dc-worker.log)");
  } else if (*code != 0) {
    row.failures.push_back("dc-worker exited " + std::to_string(*code) + " (log " + f.dir + "/dc-worker.log)");
  }

  row.issued = static_cast<uint64_t>(sender.attempted());
  for (const auto& id : confirmed) {
    auto it = runs.per_id.find(id);
    if (it == runs.per_id.end()) {
      ++row.lost;
    } else {
      ++row.executed;
      if (it->second > 1) ++row.duplicated;
    }
  }
  for (const TimePoint restart : restarts) {
    std::optional<int64_t> first;
    for (const auto& [at, id] : runs.lines) {
      if (at >= unix_ns(restart) && (!first || at < *first)) first = at;
    }
    if (first) row.recovery_s = std::max(row.recovery_s, static_cast<double>(*first - unix_ns(restart)) / 1e9);
  }
  if (row.lost > 0) row.failures.push_back(std::to_string(row.lost) + " confirmed task(s) never ran");
  if (sender.abandoned() > 0) {
    row.failures.push_back(std::to_string(sender.abandoned()) + " task(s) not confirmed within 180 s of resending (" +
                           sender.last_error() + ")");
  }
  row.notes.push_back("sender: " + std::to_string(confirmed.size()) + " confirmed, " +
                      std::to_string(sender.resends()) + " resent after a refused or unconfirmed publish");
  if (row.duplicated > 0) {
    row.notes.push_back(std::to_string(row.duplicated) +
                        " task(s) ran twice: at least once, as Dramatiq promises (a redelivery after the node's loss, "
                        "or a resend whose first confirm was lost)");
    if (row.passed()) row.verdict = "PASS (at least once)";
  }
  row.notes.push_back(
      "recovery: from the node's restart to the next task run (the classic queue is unavailable "
      "while its node is down)");
  say(row.scenario + ": " + (row.passed() ? "PASS" : "FAIL"));
  return row;
}

}  // namespace dc::chaos
