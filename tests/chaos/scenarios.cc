#include "chaos/scenarios.h"

#include <dirent.h>
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

// --- 8-11. issue 11: late exits, broadcasts, leases, hanging reconnects ---

namespace {

// Live process-group leaders whose environment holds DC_MANAGER=`manager`
// and DC_APP_ID=`app_id`: the copies of that app that run (an app's own
// children share its group and are not counted).
std::vector<pid_t> app_processes(const std::string& manager, const std::string& app_id) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 1) continue;
    const std::string stat = read_file("/proc/" + std::string(entry->d_name) + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 1));
    std::string state;
    long parent = 0;
    long group = 0;
    fields >> state >> parent >> group;
    if (state == "Z" || state == "X" || group != pid) continue;
    std::ifstream vars("/proc/" + std::string(entry->d_name) + "/environ", std::ios::binary);
    bool of_manager = false;
    bool of_app = false;
    for (std::string var; std::getline(vars, var, '\0');) {
      of_manager = of_manager || var == "DC_MANAGER=" + manager;
      of_app = of_app || var == "DC_APP_ID=" + app_id;
    }
    if (of_manager && of_app) found.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return found;
}

// Supervision as the record says: every app RUNNING has exactly its
// recorded process alive, every other app none; never two copies.
void check_supervision(Fixture& f, const std::vector<std::string>& apps, Row& row) {
  int mismatches = 0;
  for (const auto& app_id : apps) {
    auto app = f.monitor->get_app(app_id);
    if (!app || !*app) continue;
    const auto live = app_processes(f.manager, app_id);
    std::string problem;
    if (live.size() > 1) {
      problem = std::to_string(live.size()) + " copies run";
    } else if ((*app)->status == AppStatus::running) {
      if (live.empty() || !(*app)->pid || live[0] != *(*app)->pid)
        problem = "RUNNING, but its recorded process is not the one that runs";
    } else if (!live.empty()) {
      problem = std::string(to_string((*app)->status)) + ", yet pid " + std::to_string(live[0]) + " runs unsupervised";
    }
    if (!problem.empty()) {
      ++mismatches;
      if (mismatches <= 3) row.notes.push_back("app " + app_id + ": " + problem);
    }
  }
  if (mismatches > 0) {
    row.failures.push_back(std::to_string(mismatches) + " app(s) whose record does not match the processes that run");
  } else {
    row.notes.push_back("supervision matches the record for all " + std::to_string(apps.size()) + " apps");
  }
}

std::string write_script(const Fixture& f, const std::string& name, const std::string& body) {
  const std::string path = f.dir + "/" + name;
  std::ofstream(path) << "#!/bin/sh\nprintf '%s %s\\n' \"$DC_APP_ID\" \"$DC_COMMAND_ID\" >> \"$DC_WITNESS\"\n" << body;
  ::chmod(path.c_str(), 0755);
  return path;
}

App script_app(const Fixture& f, const std::string& app_id, const std::string& path) {
  App app;
  app.app_id = app_id;
  app.name = app_id;
  app.manager = f.manager;
  app.exec = {path};
  return app;
}

}  // namespace

// Item 1: apps that exit by themselves while the manager is busy with slow
// STOPs, with START/RESTART/STOP of them queued behind in the same batch.
std::vector<Row> run_late_exits(Context& ctx) {
  Fixture f(ctx, "late-exit");
  f.witness_exec = {write_script(f, "flaky.sh", "sleep \"$(awk 'BEGIN { srand(); print 0.3 + rand() * 1.2 }')\"\n")};
  f.manager_env = {{"DC_RABBIT_PREFETCH", "16"}, {"DC_STOP_TIMEOUT", "1.5"}};
  Row row = stream_run(
      f, "apps exit while the manager is busy", ctx.rabbit_port, ctx.pick(400, 2500), 40,
      [&](Stream& stream, ManagerProcess&, Row& r) {
        const std::string stubborn = write_script(f, "stubborn.sh", "trap '' TERM\nwhile :; do sleep 1; done\n");
        if (auto st = f.monitor->add_app(script_app(f, "slow-stop", stubborn)); !st) {
          r.failures.push_back(st.error().message());
          return;
        }
        auto source = f.source();
        while (!stream.done() && !g_interrupted.load() && source) {
          for (const CmdName name : {CmdName::start, CmdName::stop}) {
            if (auto id = source->issue("slow-stop", f.manager, name)) f.extra_ids.push_back(*id);
          }
          ++r.faults;
          nap(ctx.random_ms(800, 2000));
        }
      },
      [&](Row& r) { check_supervision(f, f.witness_apps, r); });
  return {row};
}

// Item 2: broadcasts issued while the manager is down, then apps registered
// and started; the older broadcasts must not touch them.
std::vector<Row> run_broadcast_newer_apps(Context& ctx) {
  Fixture f(ctx, "broadcast-new-apps");
  f.broker_recovery = false;
  // Each broadcast with how many of the newer apps existed when it was
  // issued: the ones registered later must not be touched by it.
  std::vector<std::pair<std::string, size_t>> broadcasts;
  std::vector<std::string> newer;
  Row row = stream_run(
      f, "broadcasts meet apps newer than them", ctx.rabbit_port, ctx.pick(200, 1500), 40,
      [&](Stream&, ManagerProcess& m, Row& r) {
        auto source = f.source();
        const int rounds = ctx.pick(2, 4);
        for (int k = 0; k < rounds && !g_interrupted.load() && source; ++k) {
          nap(ctx.random_ms(1000, 2500));
          if (auto code = m.terminate(seconds(30)); code != std::optional<int>(0)) {
            r.failures.push_back("dc-manager did not stop cleanly before round " + std::to_string(k + 1));
            return;
          }
          for (const CmdName name : {CmdName::stop, CmdName::disable}) {
            if (auto id = source->issue("*", f.manager, name)) {
              broadcasts.emplace_back(*id, newer.size());
              f.extra_ids.push_back(*id);
            }
          }
          for (int i = 0; i < 3; ++i) {
            App app = script_app(f, "n" + std::to_string(k) + "-" + std::to_string(i), "");
            app.exec = {ctx.paths.source_dir + "/examples/collector"};
            if (auto st = f.monitor->add_app(app); !st) {
              r.failures.push_back(st.error().message());
              return;
            }
            newer.push_back(app.app_id);
            for (const CmdName name : {CmdName::start, CmdName::enable}) {
              if (auto id = source->issue(app.app_id, f.manager, name)) f.extra_ids.push_back(*id);
            }
          }
          ++r.faults;
          if (auto st = m.spawn(); !st) {
            r.failures.push_back(st.error().message());
            return;
          }
          if (!f.wait_ready(m.pid(), seconds(30))) r.failures.push_back("dc-manager did not come back within 30 s");
          f.lifts.push_back(now());
        }
      },
      [&](Row& r) {
        // An app registered after a broadcast was issued: no row of it, and
        // its own later START and ENABLE stand.
        uint64_t touched = 0;
        for (const auto& [id, existing] : broadcasts) {
          auto rows = f.monitor->get_command(id);
          if (!rows) continue;
          for (const auto& rec : *rows) {
            if (std::find(newer.begin() + static_cast<std::ptrdiff_t>(existing), newer.end(), rec.app_id) !=
                newer.end()) {
              ++touched;
            }
          }
        }
        // The apps registered after the last broadcast keep their own START
        // and ENABLE.
        const size_t last = broadcasts.empty() ? 0 : broadcasts.back().second;
        for (size_t i = last; i < newer.size(); ++i) {
          auto app = f.monitor->get_app(newer[i]);
          if (app && *app && ((*app)->status != AppStatus::running || (*app)->disable)) ++touched;
        }
        r.order_violations += touched;
        if (touched > 0) {
          r.failures.push_back(std::to_string(touched) + " broadcast effect(s) on apps registered after it");
        } else {
          r.notes.push_back(std::to_string(broadcasts.size()) + " broadcasts left all " + std::to_string(newer.size()) +
                            " newer apps as their own commands set them");
        }
        check_supervision(f, newer, r);
      });
  return {row};
}

// Item 5: the lease under long work and under a freeze longer than it. On
// PostgreSQL, the shared store of a fleet: a frozen process that holds an
// SQLite file's write lock stops every other user of that file, a
// single-host matter the lease cannot help with.
std::vector<Row> run_lease_takeover(Context& ctx) {
  Postgres pg(ctx.paths, ctx.pg_port);
  Result<std::string> url = Error(Errc::unavailable, "not started");
  if (auto st = pg.start(); !st) {
    url = st.error();
  } else {
    url = pg.create_database("chaos_lease_" + ctx.run_id);
  }
  if (!url) {
    Row r;
    r.scenario = "lease: long STOP, frozen manager replaced";
    r.failures.push_back(url.error().message());
    return {r};
  }
  Fixture f(ctx, "lease", *url);
  f.broker_recovery = false;
  constexpr int kTtl = 3;
  f.manager_env = {{"DC_LEASE_TTL", std::to_string(kTtl)}, {"DC_STOP_TIMEOUT", std::to_string(2 * kTtl)}};
  int round = 0;
  size_t fenced_exits = 0;
  Row row = stream_run(
      f, "lease: long STOP, frozen manager replaced", ctx.rabbit_port, ctx.pick(300, 2000), 40,
      [&](Stream&, ManagerProcess& m, Row& r) {
        const std::string stubborn = write_script(f, "stubborn.sh", "trap '' TERM\nwhile :; do sleep 1; done\n");
        if (auto st = f.monitor->add_app(script_app(f, "slow-stop", stubborn)); !st) {
          r.failures.push_back(st.error().message());
          return;
        }
        auto source = f.source();
        const int rounds = ctx.pick(1, 3);
        for (int k = 0; k < rounds && !g_interrupted.load() && source; ++k) {
          const auto second_spec = [&] {
            ManagerSpec spec = f.spec(ctx.rabbit_port);
            spec.log_name = f.manager + "-second-" + std::to_string(++round);
            return spec;
          };
          // A STOP that outlasts the lease: nobody may take the name meanwhile.
          std::string stop_id;
          for (const CmdName name : {CmdName::start, CmdName::stop}) {
            if (auto id = source->issue("slow-stop", f.manager, name)) {
              f.extra_ids.push_back(*id);
              stop_id = *id;
            }
            nap(milliseconds(kTtl * 1000 / 2));
          }
          nap(milliseconds(kTtl * 1000 + 500));
          {
            ManagerProcess intruder(ctx.paths, second_spec());
            if (auto st = intruder.spawn(); !st) r.failures.push_back(st.error().message());
            const auto code = intruder.wait(seconds(20));
            if (code != std::optional<int>(1)) {
              r.failures.push_back("a second manager started while the first was in a long STOP (exit " +
                                   (code ? std::to_string(*code) : std::string("none")) + ")");
            }
          }
          ++r.faults;
          // The slow STOP ends (its SIGKILL is due) before the next fault.
          const auto until = Clock::now() + seconds(20);
          while (Clock::now() < until && !g_interrupted.load()) {
            auto rows = f.monitor->get_command(stop_id);
            if (rows && !rows->empty() && rows->front().flag != CmdFlag::pending) break;
            nap(milliseconds(100));
          }
          // Frozen past the lease: replaced; woken, the old one stops at
          // once and leaves the apps it ran to the new holder.
          say("  manager frozen past its lease");
          ::kill(m.pid(), SIGSTOP);
          nap(seconds(kTtl + 2));
          ManagerProcess replacement(ctx.paths, second_spec());
          if (auto st = replacement.spawn(); !st) r.failures.push_back(st.error().message());
          if (!f.wait_ready(replacement.pid(), seconds(30))) r.failures.push_back("no replacement took the lease");
          ::kill(m.pid(), SIGCONT);
          const auto code = m.wait(seconds(20));
          if (code != std::optional<int>(1)) {
            r.failures.push_back("the fenced manager exited " + (code ? std::to_string(*code) : std::string("not")) +
                                 ", expected 1 at once");
            if (!code) m.kill9();
          }
          // It took the fenced way out: apps left to the new holder, none
          // stopped, the lease row untouched.
          const std::string log = read_file(m.log_path());
          const auto count = [&](const std::string& text) {
            size_t n = 0;
            for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
            return n;
          };
          if (count("left running for the new holder") != fenced_exits + 1 || count("shutting down: stop") != 0) {
            r.failures.push_back("the fenced manager did not leave its apps to the new holder (log " + m.log_path() +
                                 ")");
          }
          ++fenced_exits;
          ++r.faults;
          nap(ctx.random_ms(1000, 2000));  // the replacement works meanwhile
          if (replacement.terminate(seconds(30)) != std::optional<int>(0)) {
            r.failures.push_back("the replacement did not stop cleanly");
          }
          if (auto st = m.spawn(); !st) {
            r.failures.push_back(st.error().message());
            return;
          }
          if (!f.wait_ready(m.pid(), seconds(30))) r.failures.push_back("the first manager did not come back");
          f.lifts.push_back(now());
        }
      },
      [&](Row& r) {
        r.notes.push_back(std::to_string(fenced_exits) + " fenced manager(s) left their apps to the new holder");
        check_supervision(f, f.witness_apps, r);
      });
  return {row};
}

// Item 7: a broker that accepts connections and never answers, so each
// reconnect attempt hangs for connect_timeout per host: the fallback polls
// on time all the same.
std::vector<Row> run_hanging_reconnects(Context& ctx) {
  Fixture f(ctx, "hanging-reconnect");
  auto proxy = TcpProxy::start(ctx.rabbit_port);
  if (!proxy) {
    Row r;
    r.scenario = "fallback while reconnects hang";
    r.failures.push_back(proxy.error().message());
    return {r};
  }
  // Two hosts, both the proxy: every attempt waits out two connect timeouts.
  f.manager_env = {{"DC_RABBIT_HOST", "127.0.0.1,127.0.0.1"}};
  std::vector<std::pair<TimePoint, TimePoint>> windows;
  Row row = stream_run(
      f, "fallback while reconnects hang", (*proxy)->port(), ctx.pick(300, 2000), 40,
      [&](Stream&, ManagerProcess&, Row& r) {
        const int faults = ctx.pick(1, 3);
        for (int k = 0; k < faults && !g_interrupted.load(); ++k) {
          nap(ctx.random_ms(1000, 2500));
          say("  broker silent: connections accepted, never answered");
          (*proxy)->set_mode(LinkMode::blackhole);
          (*proxy)->cut_all();
          const TimePoint from = now();
          nap(ctx.random_ms(8000, 12000));
          windows.emplace_back(from, now());
          (*proxy)->set_mode(LinkMode::forward);
          ++r.faults;
          f.lifts.push_back(now());
        }
      },
      [&](Row& r) {
        CommandFilter all;
        all.limit = 0;
        auto rows = f.monitor->list_commands(all);
        if (!rows) return;
        double worst = 0;
        int taken = 0;
        for (const auto& rec : *rows) {
          if (rec.path != DeliveryPath::poll || !rec.executed_at) continue;
          for (const auto& [from, to] : windows) {
            // Past the first second of the outage (the switch to fallback).
            if (rec.issued_at < from + seconds(1) || rec.issued_at > to) continue;
            worst = std::max(worst, seconds_between(rec.issued_at, *rec.executed_at));
            ++taken;
          }
        }
        r.notes.push_back(std::to_string(taken) + " command(s) taken by the poll while reconnects hung; worst " +
                          std::to_string(worst).substr(0, 4) + " s from issue to outcome");
        if (worst > 2.0) r.failures.push_back("the fallback waited behind a hanging reconnect");
      });
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
