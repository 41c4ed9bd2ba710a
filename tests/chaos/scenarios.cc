#include "chaos/scenarios.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "base/ids.h"
#include "base/time.h"
#include "broker/consumer.h"
#include "broker/topology.h"
#include "chaos/command_source.h"
#include "chaos/scenario_kit.h"
#include "chaos/tcp_proxy.h"
#include "store/store.h"

namespace dc::chaos {

std::atomic<bool> g_interrupted{false};

std::chrono::milliseconds Context::random_ms(int lo, int hi) {
  std::uniform_int_distribution<int> dist(lo, hi);
  return std::chrono::milliseconds(dist(rng));
}

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string read_file(const std::string& path);

// as it lives: "another writer" for the manager and the command source.
class SqliteWriterLock {
 public:
  static Result<std::unique_ptr<SqliteWriterLock>> hold(const std::string& path) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      return Error(Errc::unavailable, "opening " + path + " to lock it: " + why);
    }
    std::unique_ptr<SqliteWriterLock> lock(new SqliteWriterLock(db));
    sqlite3_busy_timeout(db, 10000);
    char* message = nullptr;
    if (sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string why = message != nullptr ? message : "?";
      sqlite3_free(message);
      return Error(Errc::unavailable, "BEGIN EXCLUSIVE on " + path + ": " + why);
    }
    return lock;
  }
  ~SqliteWriterLock() {
    sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
  }
  SqliteWriterLock(const SqliteWriterLock&) = delete;
  SqliteWriterLock& operator=(const SqliteWriterLock&) = delete;

 private:
  explicit SqliteWriterLock(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};
}  // namespace

// --- 1. broker kill -9 ----------------------------------------------------

std::vector<Row> run_broker_kill(Context& ctx) {
  Fixture f(ctx, "broker-kill");
  const int count = ctx.pick(500, 5000);
  const int kills = ctx.pick(1, 2);
  Row row = stream_run(f, "broker kill -9 + restart", ctx.rabbit_port, count, ctx.pick(50, 100),
                       [&](Stream& stream, ManagerProcess&, Row& r) {
                         for (int k = 0; k < kills && !g_interrupted.load(); ++k) {
                           std::uniform_real_distribution<double> at(0.2, 0.7);
                           stream.wait_issued(static_cast<size_t>(count * (k + at(ctx.rng)) / kills));
                           say("  kill -9 broker at command " + std::to_string(stream.issued()));
                           if (auto st = ctx.rabbit->kill9(); !st) r.failures.push_back(st.error().message());
                           ++r.faults;
                           nap(ctx.random_ms(500, 3000));
                           if (auto st = ctx.rabbit->start(); !st) {
                             r.failures.push_back("broker restart: " + st.error().message());
                             return;
                           }
                           f.lifts.push_back(now());
                         }
                       });
  return {row};
}

// --- 2. manager kill -9 ---------------------------------------------------

std::vector<Row> run_manager_kill(Context& ctx) {
  Fixture f(ctx, "manager-kill");
  f.broker_recovery = false;
  const int kills = ctx.pick(3, 20);
  Row row =
      stream_run(f, "manager kill -9 + restart", ctx.rabbit_port, ctx.pick(300, 2000), 60,
                 [&](Stream&, ManagerProcess& m, Row& r) {
                   for (int k = 0; k < kills && !g_interrupted.load(); ++k) {
                     nap(ctx.random_ms(300, 2500));
                     if (auto code = m.wait(milliseconds(0))) {
                       r.failures.push_back("dc-manager exited by itself with code " + std::to_string(*code) +
                                            " before kill " + std::to_string(k + 1) + " (log " + m.log_path() + ")");
                     } else {
                       m.kill9();
                       ++r.faults;
                     }
                     if (auto st = m.spawn(); !st) {
                       r.failures.push_back(st.error().message());
                       return;
                     }
                     f.lifts.push_back(now());
                   }
                   if (!f.wait_ready(m.pid(), seconds(30))) {
                     r.failures.push_back("the last restarted dc-manager did not take over its lease in 30 s");
                   }
                 });
  return {row};
}

// --- 3. network cut through a proxy ---------------------------------------

std::vector<Row> run_network(Context& ctx) {
  std::vector<Row> rows;
  for (const std::string mode : {"close", "blackhole", "slow"}) {
    if (g_interrupted.load()) break;
    Fixture f(ctx, "net-" + mode);
    auto proxy = TcpProxy::start(ctx.rabbit_port);
    if (!proxy) {
      Row r;
      r.scenario = "network " + mode;
      r.failures.push_back(proxy.error().message());
      rows.push_back(r);
      continue;
    }
    const int faults = ctx.pick(1, 3);
    const std::string label = mode == "close"       ? "network: clean close, link refused"
                              : mode == "blackhole" ? "network: silent blackhole"
                                                    : "network: slow link";
    rows.push_back(
        stream_run(f, label, (*proxy)->port(), ctx.pick(200, 1000), 40, [&](Stream&, ManagerProcess&, Row& r) {
          for (int k = 0; k < faults && !g_interrupted.load(); ++k) {
            nap(ctx.random_ms(1000, 3000));
            if (mode == "close") {
              (*proxy)->set_accepting(false);
              const int cut = (*proxy)->cut_all();
              say("  cut " + std::to_string(cut) + " connection(s)");
              nap(ctx.random_ms(500, 3000));
              (*proxy)->set_accepting(true);
            } else if (mode == "blackhole") {
              say("  blackhole on");
              (*proxy)->set_mode(LinkMode::blackhole);
              nap(ctx.random_ms(5000, 9000));
              (*proxy)->set_mode(LinkMode::forward);
            } else {
              const auto delay = ctx.random_ms(100, 400);
              say("  slow link: " + std::to_string(delay.count()) + " ms per chunk");
              (*proxy)->set_mode(LinkMode::slow, delay);
              nap(ctx.random_ms(4000, 8000));
              (*proxy)->set_mode(LinkMode::forward);
            }
            ++r.faults;
            f.lifts.push_back(now());
          }
        }));
  }
  return rows;
}

// --- 4. broker SIGSTOP / SIGCONT ------------------------------------------

std::vector<Row> run_broker_freeze(Context& ctx) {
  Fixture f(ctx, "broker-freeze");
  const int faults = ctx.pick(1, 2);
  Row row = stream_run(f, "broker SIGSTOP + SIGCONT", ctx.rabbit_port, ctx.pick(200, 1000), 40,
                       [&](Stream&, ManagerProcess&, Row& r) {
                         for (int k = 0; k < faults && !g_interrupted.load(); ++k) {
                           nap(ctx.random_ms(1000, 2500));
                           const auto frozen = ctx.random_ms(5000, 10000);
                           say("  broker frozen for " + std::to_string(frozen.count()) + " ms");
                           if (auto st = ctx.rabbit->freeze(); !st) {
                             r.failures.push_back(st.error().message());
                             return;
                           }
                           nap(frozen);
                           if (auto st = ctx.rabbit->thaw(); !st) r.failures.push_back(st.error().message());
                           ++r.faults;
                           f.lifts.push_back(now());
                         }
                       });
  return {row};
}

// --- 5. database unavailable ----------------------------------------------

std::vector<Row> run_database(Context& ctx) {
  std::vector<Row> rows;
  {
    Postgres pg(ctx.paths, ctx.pg_port);
    Result<std::string> url = Error(Errc::unavailable, "not started");
    if (auto st = pg.start(); !st) {
      url = st.error();
    } else {
      url = pg.create_database("chaos_" + ctx.run_id);
    }
    if (!url) {
      Row r;
      r.scenario = "PostgreSQL restarted mid-stream";
      r.failures.push_back(url.error().message());
      rows.push_back(r);
    } else {
      Fixture f(ctx, "pg-restart", *url);
      f.broker_recovery = false;
      const int faults = ctx.pick(1, 2);
      rows.push_back(stream_run(f, "PostgreSQL restarted mid-stream", ctx.rabbit_port, ctx.pick(200, 1000), 40,
                                [&](Stream&, ManagerProcess&, Row& r) {
                                  for (int k = 0; k < faults && !g_interrupted.load(); ++k) {
                                    nap(ctx.random_ms(1000, 3000));
                                    say("  PostgreSQL stop");
                                    if (auto st = pg.stop(); !st) r.failures.push_back(st.error().message());
                                    nap(ctx.random_ms(1000, 4000));
                                    if (auto st = pg.start(); !st) {
                                      r.failures.push_back("PostgreSQL restart: " + st.error().message());
                                      return;
                                    }
                                    ++r.faults;
                                    f.lifts.push_back(now());
                                  }
                                }));
    }
  }
  if (g_interrupted.load()) return rows;
  Fixture f(ctx, "sqlite-lock");
  f.broker_recovery = false;
  const int faults = ctx.pick(2, 4);
  const std::string path = f.dir + "/dc.sqlite3";
  rows.push_back(stream_run(f, "SQLite locked by another writer", ctx.rabbit_port, ctx.pick(200, 1000), 40,
                            [&](Stream&, ManagerProcess&, Row& r) {
                              for (int k = 0; k < faults && !g_interrupted.load(); ++k) {
                                nap(ctx.random_ms(500, 2000));
                                auto lock = SqliteWriterLock::hold(path);
                                if (!lock) {
                                  r.failures.push_back(lock.error().message());
                                  return;
                                }
                                const auto held = ctx.random_ms(2000, 7000);
                                say("  SQLite write lock held for " + std::to_string(held.count()) + " ms");
                                nap(held);
                                lock->reset();
                                ++r.faults;
                                f.lifts.push_back(now());
                              }
                            }));
  return rows;
}

// --- 6. queue and exchange deleted ----------------------------------------

std::vector<Row> run_topology_delete(Context& ctx) {
  Fixture f(ctx, "topology-delete");
  const int rounds = ctx.pick(1, 2);
  Row row = stream_run(f, "queue and exchange deleted", ctx.rabbit_port, ctx.pick(200, 1000), 40,
                       [&](Stream&, ManagerProcess&, Row& r) {
                         broker::ConnectionSettings cs;
                         cs.endpoints = {{"127.0.0.1", ctx.rabbit_port}};
                         cs.connection_name = "dc-chaos admin";
                         auto admin = broker::Connection::open(cs);
                         if (!admin) {
                           r.failures.push_back("admin connection: " + admin.error().message());
                           return;
                         }
                         for (int k = 0; k < rounds && !g_interrupted.load(); ++k) {
                           nap(ctx.random_ms(1000, 2500));
                           auto depth = broker::queue_message_count(*admin, f.manager);
                           say("  deleting queue " + f.manager + " (" +
                               (depth ? std::to_string(*depth) : std::string("?")) + " ready messages)");
                           if (auto st = broker::delete_queue(*admin, f.manager); !st) {
                             r.failures.push_back("delete queue: " + st.error().message());
                           }
                           ++r.faults;
                           f.lifts.push_back(now());
                           nap(ctx.random_ms(1000, 2500));
                           say("  deleting exchange " + f.exchange);
                           if (auto st = broker::delete_exchange(*admin, f.exchange); !st) {
                             r.failures.push_back("delete exchange: " + st.error().message());
                           }
                           ++r.faults;
                           f.lifts.push_back(now());
                         }
                       });
  return {row};
}

// --- 7. two managers with the same name -----------------------------------

std::vector<Row> run_duplicate_name(Context& ctx) {
  Fixture f(ctx, "same-name");
  Row row;
  row.scenario = "second manager, same name";
  say(row.scenario);
  if (auto st = f.prepare(2, 1); !st) {
    row.failures.push_back(st.error().message());
    return {row};
  }
  ManagerProcess first(ctx.paths, f.spec(ctx.rabbit_port));
  if (auto st = first.spawn(); !st) {
    row.failures.push_back(st.error().message());
    return {row};
  }
  if (!f.wait_ready(first.pid(), seconds(30))) {
    row.failures.push_back("first dc-manager did not take its lease within 30 s (log " + first.log_path() + ")");
    return {row};
  }
  auto source = f.source();
  std::vector<std::string> ids;
  std::string codes;
  const int rounds = ctx.pick(1, 3);
  for (int k = 0; k < rounds && !g_interrupted.load(); ++k) {
    ManagerSpec spec = f.spec(ctx.rabbit_port);
    spec.log_name = f.manager + "-second-" + std::to_string(k + 1);
    ManagerProcess second(ctx.paths, spec);
    const auto t0 = Clock::now();
    if (auto st = second.spawn(); !st) {
      row.failures.push_back(st.error().message());
      break;
    }
    ++row.faults;
    auto code = second.wait(seconds(30));
    const double took = std::chrono::duration<double>(Clock::now() - t0).count();
    row.recovery_s = std::max(row.recovery_s, took);
    codes += (codes.empty() ? "" : ",") + (code ? std::to_string(*code) : std::string("still running"));
    if (!code) {
      row.failures.push_back("the second manager with the same name was still running after 30 s");
    } else if (*code != 1) {
      row.failures.push_back("the second manager exited " + std::to_string(*code) + ", expected 1");
    }
    const std::string log = read_file(second.log_path());
    if (log.find("already running") == std::string::npos && log.find("another dc-manager") == std::string::npos) {
      row.notes.push_back("refusal message not found in " + second.log_path());
    }
    if (first.wait(milliseconds(0))) row.failures.push_back("the first manager died when the second started");
    // The first still holds the lease and still works.
    if (auto managers = f.monitor->list_managers()) {
      for (const auto& m : *managers) {
        if (m.name == f.manager && m.pid != first.pid()) {
          row.failures.push_back("the lease moved to pid " + std::to_string(m.pid));
        }
      }
    }
    for (const auto& [app, name] :
         {std::pair{f.volume_apps[0], CmdName::disable}, {f.witness_apps[0], CmdName::start}}) {
      if (auto id = source ? source->issue(app, f.manager, name) : Result<std::string>(Error(Errc::io, "no source"))) {
        ids.push_back(*id);
      }
    }
  }
  if (!settle(f, seconds(60))) row.notes.push_back("did not settle before the deadline");
  stop_manager(f, first, row);
  row.notes.push_back("second manager exit codes: " + codes);
  judge(f, ids, row);
  say(row.scenario + ": " + (row.passed() ? "PASS" : "FAIL"));
  return {row};
}

// --- hostile input --------------------------------------------------------

namespace {

struct Hostile {
  std::string kind;
  std::string body;
};

std::vector<Hostile> hostile_messages(std::mt19937_64& rng) {
  std::vector<Hostile> list;
  list.push_back({"not JSON", "this is {not json"});
  std::string binary(4096, '\0');
  for (char& c : binary) c = static_cast<char>(rng() & 0xff);
  list.push_back({"binary (4 KiB random bytes)", binary});
  const std::string head = R"({"app_id":"v0","command":4,"pad":")";
  list.push_back({"10 MB body", head + std::string(10 * 1024 * 1024 - head.size() - 2, 'x') + "\"}"});
  list.push_back({"deep nesting (20,000 levels)", R"({"app_id":"v0","command":4,"args":{"a":)" +
                                                      std::string(20000, '[') + std::string(20000, ']') + "}}"});
  list.push_back({"wrong types (app_id number, command string)", R"({"app_id":42,"command":"4"})"});
  list.push_back({"wrong types (command array, args string)", R"({"app_id":"v0","command":[4],"args":"x"})"});
  list.push_back({"unknown command 99", R"({"app_id":"v0","command":99})"});
  list.push_back({"app_id with ../", R"({"app_id":"../../etc/passwd","command":1})"});
  list.push_back({"invalid UTF-8", "{\"app_id\":\"v0\",\"command\":4,\"issued_by\":\"\xff\xfe\xc3\x28\"}"});
  std::string million = R"({"app_id":"v0","command":4,"args":[)";
  million.reserve(million.size() + 2'000'010);
  for (int i = 0; i < 1'000'000; ++i) million += (i == 0 ? "0" : ",0");
  list.push_back({"args array of 1,000,000 elements", million + "]}"});
  list.push_back({"empty body", ""});
  list.push_back({"JSON array, not an object", "[1,2,3]"});
  return list;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::vector<Row> run_hostile(Context& ctx, HostileReport& report) {
  Fixture f(ctx, "hostile");
  Row row;
  row.scenario = "hostile input (valid commands interleaved)";
  say(row.scenario);
  if (auto st = f.prepare(5, 2); !st) {
    row.failures.push_back(st.error().message());
    return {row};
  }
  ManagerProcess m(ctx.paths, f.spec(ctx.rabbit_port));
  if (auto st = m.spawn(); !st) {
    row.failures.push_back(st.error().message());
    return {row};
  }
  if (!f.wait_ready(m.pid(), seconds(30))) {
    row.failures.push_back("dc-manager did not take its lease within 30 s (log " + m.log_path() + ")");
    return {row};
  }
  auto source = f.source();
  if (!source) {
    row.failures.push_back("cannot open the store for the command source");
    return {row};
  }
  const Memory before = memory_of(m.pid());
  report.rss_before_kib = before.rss_kib;

  // Shell metacharacters in args must reach the app verbatim, never through a shell.
  const std::string canary = f.dir + "/pwned";
  const std::string meta_value = "$(touch " + canary + "-1) `touch " + canary + "-2`; touch " + canary + "-3 | cat > " +
                                 canary + "-4 && echo * ~ $HOME";
  const std::string meta_args = R"({"note":")" + meta_value + "\"}";

  std::vector<std::string> ids;
  std::map<std::string, std::string> kind_of;  // message_id -> kind
  std::map<std::string, size_t> bytes_of;
  int valid = 0;
  auto issue_valid = [&](const std::string& app, CmdName name, const std::string& args = "{}") {
    auto id = source->issue(app, f.manager, name, args);
    if (id) {
      ids.push_back(*id);
      ++valid;
    } else {
      row.failures.push_back("issuing a valid command failed: " + id.error().message());
    }
    return id;
  };
  const auto messages = hostile_messages(ctx.rng);
  std::string meta_id;
  for (size_t i = 0; i < messages.size() && !g_interrupted.load(); ++i) {
    (void)issue_valid(f.volume_apps[i % f.volume_apps.size()], i % 2 ? CmdName::enable : CmdName::disable);
    const std::string message_id = "hostile-" + std::to_string(i) + "-" + random_uuid();
    kind_of[message_id] = messages[i].kind;
    bytes_of[message_id] = messages[i].body.size();
    auto published = source->publish_raw(f.manager, messages[i].body, message_id);
    if (!published.confirmed()) {
      row.notes.push_back("publish of '" + messages[i].kind + "' not confirmed: " + published.detail);
    }
    if (i == messages.size() / 2) {
      if (auto id = issue_valid(f.witness_apps[0], CmdName::start, meta_args)) meta_id = *id;
    } else {
      (void)issue_valid(f.witness_apps[1], i % 2 ? CmdName::start : CmdName::stop);
    }
  }
  report.poison_sent = messages.size();
  const bool settled = settle(f, seconds(60));
  if (!settled) row.notes.push_back("did not settle before the deadline");
  // Let the manager reject the last poison messages, which carry no DB row.
  nap(milliseconds(1500));
  const Memory after = memory_of(m.pid());
  report.rss_after_kib = after.rss_kib;
  report.peak_kib = after.peak_kib;
  const bool alive = !m.wait(milliseconds(0)).has_value();
  if (!alive) row.failures.push_back("dc-manager died on hostile input (log " + m.log_path() + ")");

  // What reached the dead-letter queue.
  std::set<std::string> dead_ids;
  broker::ConnectionSettings cs;
  cs.endpoints = {{"127.0.0.1", ctx.rabbit_port}};
  cs.connection_name = "dc-chaos dead-letter reader";
  if (auto conn = broker::Connection::open(cs)) {
    const std::string dead_queue = f.exchange + ".dead";
    if (auto depth = broker::queue_message_count(*conn, dead_queue)) report.dead_lettered = *depth;
    broker::ConsumerOptions co;
    co.queue = dead_queue;
    co.prefetch = 20;
    if (auto consumer = broker::Consumer::start(std::move(*conn), co)) {
      for (;;) {
        auto d = consumer->next(milliseconds(1000));
        if (!d || !*d) break;
        if ((*d)->message_id) dead_ids.insert(*(*d)->message_id);
        (void)consumer->ack((*d)->delivery_tag);
      }
    } else {
      row.failures.push_back("reading " + dead_queue + ": " + consumer.error().message());
    }
  } else {
    row.failures.push_back("dead-letter reader: " + conn.error().message());
  }
  for (const auto& [id, kind] : kind_of) {
    HostileLine line;
    line.kind = kind;
    line.bytes = bytes_of[id];
    line.expected = "dead-lettered";
    line.ok = dead_ids.count(id) > 0;
    line.observed = line.ok ? "dead-lettered" : "not in the dead-letter queue";
    if (!line.ok) row.failures.push_back("'" + kind + "' was not dead-lettered");
    report.lines.push_back(line);
  }
  // The shell-metacharacter command: executed, args verbatim, no shell ran.
  {
    HostileLine line;
    line.kind = "shell metacharacters in args (valid START)";
    line.bytes = meta_args.size();
    line.expected = "executed, args verbatim";
    bool executed = false;
    if (auto rows = f.monitor->get_command(meta_id); rows && !rows->empty()) {
      executed = rows->front().flag == CmdFlag::executed;
    }
    const std::string log = read_file(f.dir + "/app-logs/" + f.witness_apps[0] + ".log");
    const bool verbatim = log.find(meta_value) != std::string::npos;
    bool shell_ran = false;
    for (int k = 1; k <= 4; ++k)
      shell_ran = shell_ran || ::access((canary + "-" + std::to_string(k)).c_str(), F_OK) == 0;
    line.ok = executed && verbatim && !shell_ran;
    line.observed = std::string(executed ? "executed" : "NOT executed") +
                    (verbatim ? ", args verbatim" : ", args altered") + (shell_ran ? ", A SHELL RAN IT" : ", no shell");
    if (!line.ok) row.failures.push_back("shell metacharacters: " + line.observed);
    report.lines.push_back(line);
  }
  if (report.rss_after_kib > 0 && report.rss_before_kib > 0 &&
      report.rss_after_kib - report.rss_before_kib > 64 * 1024) {
    row.failures.push_back("manager RSS grew by more than 64 MiB");
  }
  stop_manager(f, m, row);
  judge(f, ids, row);
  row.faults = static_cast<int>(messages.size());
  row.notes.push_back(std::to_string(valid) + " valid commands interleaved with " + std::to_string(messages.size()) +
                      " hostile messages; dead-letter queue held " + std::to_string(report.dead_lettered));
  say(row.scenario + ": " + (row.passed() ? "PASS" : "FAIL"));
  return {row};
}

}  // namespace dc::chaos
