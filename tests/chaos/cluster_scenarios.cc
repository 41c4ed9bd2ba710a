#include "chaos/cluster_scenarios.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>
#include <variant>

#include "base/endpoint.h"
#include "base/ids.h"
#include "broker/consumer.h"
#include "chaos/cluster.h"
#include "chaos/scenario_kit.h"
#include "chaos/task_scenario.h"

namespace dc::chaos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// "a,b,c" from the environment, or `fallback`.
template <size_t N>
std::array<int, N> ports_from_env(const char* name, std::array<int, N> fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  std::array<int, N> ports{};
  std::istringstream in(text);
  std::string item;
  for (size_t i = 0; i < N; ++i) {
    if (!std::getline(in, item, ',')) return fallback;
    ports[i] = std::atoi(item.c_str());
    if (ports[i] <= 0) return fallback;
  }
  return ports;
}

bool selected(const std::string& name) {
  const char* only = std::getenv("CHAOS_CLUSTER_ONLY");
  if (only == nullptr || *only == '\0') return true;
  return ("," + std::string(only) + ",").find("," + name + ",") != std::string::npos;
}

// A fixture whose manager and source use the cluster and quorum queues.
void use_cluster(Fixture& f, const RabbitCluster& cluster) {
  f.rabbit_hosts = cluster.hosts();
  f.queue_type = "quorum";
  f.recovery_issued_after = true;
}

std::string fmt_s(double s) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(2);
  out << s << " s";
  return out.str();
}

// Poison published to the manager's queue while a node is down: each must
// still reach the dead-letter queue, with the reason "rejected", and no
// valid command may end up there (a redelivery after a lost node or a
// crash is not poison).
class PoisonProbe {
 public:
  explicit PoisonProbe(Fixture& f) : fixture_(f) {}

  void send() {
    if (!source_) source_ = fixture_.source();
    if (!source_) return;
    const std::string id = "poison-" + std::to_string(sent_.size()) + "-" + random_uuid();
    auto published = source_->publish_raw(fixture_.manager, "this is {not a command", id);
    // Unconfirmed (the publisher's node just died): the message may or may
    // not be queued, so it is not expected in the dead-letter queue.
    if (published.confirmed()) sent_.push_back(id);
  }

  void check(Row& row) {
    std::map<std::string, std::string> dead;  // message id -> x-first-death-reason
    broker::ConnectionSettings cs;
    auto endpoints = parse_endpoint_list(fixture_.rabbit_hosts, 5672);
    if (!endpoints) {
      row.failures.push_back("dead-letter check: " + endpoints.error().message());
      return;
    }
    cs.endpoints = std::move(*endpoints);
    cs.connection_name = "dc-chaos dead-letter reader";
    auto conn = broker::Connection::open(cs);
    if (!conn) {
      row.failures.push_back("dead-letter reader: " + conn.error().message());
      return;
    }
    auto consumer = broker::Consumer::start(std::move(*conn), {fixture_.exchange + ".dead", 50, ""});
    if (!consumer) {
      row.failures.push_back("reading the dead-letter queue: " + consumer.error().message());
      return;
    }
    for (;;) {
      auto d = consumer->next(milliseconds(2000));
      if (!d || !*d) break;
      dead[(*d)->message_id.value_or("-")] = (*d)->header("x-first-death-reason").value_or("?");
      (void)consumer->ack((*d)->delivery_tag);
    }
    int missing = 0, wrong_reason = 0, commands = 0;
    for (const auto& id : sent_) {
      auto it = dead.find(id);
      if (it == dead.end()) {
        ++missing;
      } else if (it->second != "rejected") {
        ++wrong_reason;
      }
    }
    for (const auto& [id, reason] : dead) {
      if (id.rfind("poison-", 0) != 0) ++commands;
    }
    row.notes.push_back(std::to_string(sent_.size()) + " poison message(s) sent during faults, " +
                        std::to_string(sent_.size() - static_cast<size_t>(missing)) +
                        " dead-lettered (reason rejected)");
    if (missing > 0)
      row.failures.push_back(std::to_string(missing) + " poison message(s) not in the dead-letter queue");
    if (wrong_reason > 0)
      row.failures.push_back(std::to_string(wrong_reason) + " dead letter(s) without reason rejected");
    if (commands > 0) row.failures.push_back(std::to_string(commands) + " valid command(s) dead-lettered");
  }

 private:
  Fixture& fixture_;
  std::unique_ptr<CommandSource> source_;
  std::vector<std::string> sent_;
};

// Waits for a random moment (15-45 %) into the k-th of `faults` equal parts
// of a stream of `count` commands.
void wait_for_moment(Context& ctx, Stream& stream, int count, int k, int faults) {
  std::uniform_real_distribution<double> at(0.15, 0.45);
  stream.wait_issued(static_cast<size_t>(count * (k + at(ctx.rng)) / faults));
}

// --- kill -9 the queue leader's node ---------------------------------------

Row cluster_kill(Context& ctx, RabbitCluster& cluster) {
  Fixture f(ctx, "cluster-kill");
  use_cluster(f, cluster);
  PoisonProbe poison(f);
  const int count = ctx.pick(400, 2400);
  const int kills = ctx.pick(1, 2);
  Row row = stream_run(f, "cluster: kill -9 the queue leader's node", cluster.port(1), count, ctx.pick(20, 30),
                       [&](Stream& stream, ManagerProcess&, Row& r) {
                         for (int k = 0; k < kills && !g_interrupted.load(); ++k) {
                           wait_for_moment(ctx, stream, count, k, kills);
                           auto leader = cluster.leader_of(f.manager);
                           if (!leader) {
                             r.failures.push_back("finding the queue leader: " + leader.error().message());
                             return;
                           }
                           say("  kill -9 node " + std::to_string(*leader) + " (leads " + f.manager + ") at command " +
                               std::to_string(stream.issued()));
                           if (auto st = cluster.kill9(*leader); !st) {
                             r.failures.push_back(st.error().message());
                             return;
                           }
                           f.lifts.push_back(now());  // the node is gone: the cluster must carry on, counted from here
                           ++r.faults;
                           poison.send();
                           nap(ctx.random_ms(2000, 6000));
                           say("  start node " + std::to_string(*leader));
                           if (auto st = cluster.start_node(*leader); !st) {
                             r.failures.push_back("node restart: " + st.error().message());
                             return;
                           }
                           poison.send();
                         }
                       });
  poison.check(row);
  row.notes.push_back("recovery: from each node's loss to the first outcome of a command issued after it");
  return row;
}

// --- rolling restart -------------------------------------------------------

Row cluster_rolling(Context& ctx, RabbitCluster& cluster) {
  Fixture f(ctx, "cluster-rolling");
  use_cluster(f, cluster);
  PoisonProbe poison(f);
  Row row = stream_run(f, "cluster: rolling restart of all three nodes", cluster.port(1), ctx.pick(600, 3000),
                       ctx.pick(15, 25), [&](Stream&, ManagerProcess&, Row& r) {
                         for (int n = 1; n <= 3 && !g_interrupted.load(); ++n) {
                           nap(ctx.random_ms(2000, 5000));
                           say("  rolling restart: node " + std::to_string(n));
                           if (auto st = cluster.stop_node(n); !st) {
                             r.failures.push_back("stopping node " + std::to_string(n) + ": " + st.error().message());
                             return;
                           }
                           f.lifts.push_back(now());
                           if (auto st = cluster.start_node(n); !st) {
                             r.failures.push_back("starting node " + std::to_string(n) + ": " + st.error().message());
                             return;
                           }
                           ++r.faults;
                           poison.send();
                         }
                       });
  poison.check(row);
  row.notes.push_back("recovery: from each node's stop to the first outcome of a command issued after it");
  return row;
}

// --- SIGSTOP past the tick time --------------------------------------------

Row cluster_freeze(Context& ctx, RabbitCluster& cluster) {
  Fixture f(ctx, "cluster-freeze");
  use_cluster(f, cluster);
  PoisonProbe poison(f);
  const int faults = ctx.pick(1, 2);
  std::vector<std::string> heals;
  Row row = stream_run(
      f, "cluster: SIGSTOP the leader's node past the tick time", cluster.port(1), ctx.pick(600, 2400),
      ctx.pick(15, 20), [&](Stream&, ManagerProcess&, Row& r) {
        for (int k = 0; k < faults && !g_interrupted.load(); ++k) {
          nap(ctx.random_ms(3000, 6000));
          auto leader = cluster.leader_of(f.manager);
          if (!leader) {
            r.failures.push_back("finding the queue leader: " + leader.error().message());
            return;
          }
          // net_ticktime is 15 s (scripts/rabbitmq-cluster.sh): the others
          // declare the node down, and on SIGCONT it finds itself in a
          // minority and pauses until it has rejoined (pause_minority).
          const auto frozen = ctx.random_ms(20000, 25000);
          say("  SIGSTOP node " + std::to_string(*leader) + " for " + std::to_string(frozen.count()) + " ms");
          if (auto st = cluster.freeze(*leader); !st) {
            r.failures.push_back(st.error().message());
            return;
          }
          f.lifts.push_back(now());
          // The probe's first publish goes to the frozen node and fails;
          // the next one, on another node, must be dead-lettered all the same.
          poison.send();
          nap(frozen / 2);
          poison.send();
          nap(frozen - frozen / 2);
          if (auto st = cluster.thaw(*leader); !st) r.failures.push_back(st.error().message());
          ++r.faults;
          std::string healed;
          if (auto st = cluster.heal(*leader, healed); !st) {
            r.failures.push_back(st.error().message());
            return;
          }
          heals.push_back(healed);
          say("  cluster healthy again: " + healed);
        }
      });
  poison.check(row);
  std::string list;
  for (const auto& h : heals) list += (list.empty() ? "" : "; ") + h;
  row.notes.push_back(
      "after SIGCONT: " + list +
      "; recovery: from each freeze's start to the first broker outcome of a command issued after it; the "
      "broker path resumes once the other nodes "
      "declare the frozen one down (net_ticktime), the database path carries the commands meanwhile");
  return row;
}

// --- PostgreSQL primary lost -----------------------------------------------

// A fixture on a fresh database of the pair (and the cluster); on failure,
// the row that says why.
std::variant<std::unique_ptr<Fixture>, Row> pg_fixture(Context& ctx, RabbitCluster& cluster, PostgresPair& pair,
                                                       const std::string& scenario, const std::string& label) {
  std::string db = "chaos_" + ctx.run_id + "_" + scenario;
  std::replace(db.begin(), db.end(), '-', '_');
  auto url = pair.create_database(db);
  if (!url) {
    Row r;
    r.scenario = label;
    r.failures.push_back(url.error().message());
    return r;
  }
  auto f = std::make_unique<Fixture>(ctx, scenario, *url);
  use_cluster(*f, cluster);
  // Recovery: the first outcome by any path once a primary is back, a
  // command the manager was retrying included.
  f->broker_recovery = false;
  f->recovery_issued_after = false;
  return f;
}

// Kills the primary, waits as an HA manager's detection would, promotes the
// standby. Returns how long there was no primary.
Result<double> fail_over(Context& ctx, PostgresPair& pair) {
  const TimePoint lost = now();
  if (auto st = pair.kill_primary(); !st) return st.error();
  nap(ctx.random_ms(1000, 3000));
  if (auto st = pair.promote(); !st) return st.error();
  return seconds_between(lost, now());
}

Row pg_failover(Context& ctx, RabbitCluster& cluster, PostgresPair& pair) {
  const std::string label = "PostgreSQL: kill -9 the primary, promote the standby";
  auto made = pg_fixture(ctx, cluster, pair, "pg-failover", label);
  if (auto* failed = std::get_if<Row>(&made)) return *failed;
  Fixture& f = *std::get<std::unique_ptr<Fixture>>(made);
  const int faults = ctx.pick(1, 2);
  std::vector<std::string> outages;
  Row row = stream_run(f, label, cluster.port(1), ctx.pick(500, 2000), ctx.pick(20, 25),
                       [&](Stream&, ManagerProcess&, Row& r) {
                         for (int k = 0; k < faults && !g_interrupted.load(); ++k) {
                           nap(ctx.random_ms(3000, 8000));
                           say("  kill -9 the PostgreSQL primary");
                           auto down = fail_over(ctx, pair);
                           if (!down) {
                             r.failures.push_back(down.error().message());
                             return;
                           }
                           f.lifts.push_back(now());
                           ++r.faults;
                           outages.push_back(fmt_s(*down));
                           say("  standby promoted after " + fmt_s(*down));
                           if (k + 1 < faults) {
                             say("  rebuilding the old primary as the new standby");
                             if (auto st = pair.rejoin(); !st) {
                               r.failures.push_back("rejoin: " + st.error().message());
                               return;
                             }
                           }
                         }
                       });
  std::string list;
  for (const auto& o : outages) list += (list.empty() ? "" : ", ") + o;
  row.notes.push_back("no primary for " + list + " (kill to promotion); recovery counted from the promotion");
  if (auto st = pair.rejoin(); !st) row.failures.push_back("rejoin after the scenario: " + st.error().message());
  return row;
}

// --- a broker node and the primary in the same second -----------------------

Row both_lost(Context& ctx, RabbitCluster& cluster, PostgresPair& pair) {
  const std::string label = "both: a broker node and the PostgreSQL primary in the same second";
  auto made = pg_fixture(ctx, cluster, pair, "both", label);
  if (auto* failed = std::get_if<Row>(&made)) return *failed;
  Fixture& f = *std::get<std::unique_ptr<Fixture>>(made);
  PoisonProbe poison(f);
  std::string outage;
  Row row = stream_run(f, label, cluster.port(1), ctx.pick(500, 2000), ctx.pick(20, 25),
                       [&](Stream&, ManagerProcess&, Row& r) {
                         nap(ctx.random_ms(4000, 8000));
                         auto leader = cluster.leader_of(f.manager);
                         if (!leader) {
                           r.failures.push_back("finding the queue leader: " + leader.error().message());
                           return;
                         }
                         say("  kill -9 node " + std::to_string(*leader) + " and the PostgreSQL primary");
                         Status broker_kill = ok_status();
                         std::thread killer([&] { broker_kill = cluster.kill9(*leader); });
                         auto down = fail_over(ctx, pair);
                         killer.join();
                         if (!broker_kill) r.failures.push_back(broker_kill.error().message());
                         if (!down) {
                           r.failures.push_back(down.error().message());
                           return;
                         }
                         f.lifts.push_back(now());
                         r.faults += 2;
                         outage = fmt_s(*down);
                         poison.send();
                         say("  start node " + std::to_string(*leader));
                         if (auto st = cluster.start_node(*leader); !st) {
                           r.failures.push_back("node restart: " + st.error().message());
                         }
                       });
  poison.check(row);
  row.notes.push_back("no primary for " + outage + "; recovery counted from the promotion");
  if (auto st = pair.rejoin(); !st) row.failures.push_back("rejoin after the scenario: " + st.error().message());
  return row;
}

// --- what asynchronous replication loses -------------------------------------

Row pg_async(Context& ctx, RabbitCluster& cluster, PostgresPair& pair) {
  const std::string label = "not covered: asynchronous standby, kill -9 the primary while the standby lags";
  auto made = pg_fixture(ctx, cluster, pair, "pg-async", label);
  if (auto* failed = std::get_if<Row>(&made)) return *failed;
  Fixture& f = *std::get<std::unique_ptr<Fixture>>(made);
  Row row = stream_run(f, label, cluster.port(1), ctx.pick(400, 2000), ctx.pick(20, 25),
                       [&](Stream&, ManagerProcess&, Row& r) {
                         nap(ctx.random_ms(3000, 6000));
                         // The standby stops applying WAL for a moment (a slow
                         // link, a busy disk); the primary, not waiting for it,
                         // acknowledges every commit meanwhile.
                         say("  the standby lags; kill -9 the primary 2 s into the lag");
                         Status lag = ok_status();
                         std::thread lagger([&] { lag = pair.lag_standby(4.0); });
                         nap(milliseconds(2000));
                         auto down = fail_over(ctx, pair);
                         lagger.join();
                         if (!down) {
                           r.failures.push_back(down.error().message());
                           return;
                         }
                         f.lifts.push_back(now());
                         ++r.faults;
                       });
  // What the check found is the point of this row, not a failure of dc:
  // acknowledged commits that did not reach the standby are gone.
  std::vector<std::string> kept;
  for (auto& failure : row.failures) {
    const bool loss = failure.find("lost") != std::string::npos ||
                      failure.find("took effect twice") != std::string::npos ||
                      failure.find("order violation") != std::string::npos;
    if (!loss) kept.push_back(std::move(failure));
  }
  row.failures = std::move(kept);
  row.verdict = row.passed() ? "shown" : "";
  say(label + ": " + (row.passed() ? "shown (what it loses does not fail the run)" : "FAIL"));
  row.notes.push_back(row.lost + row.duplicated + row.order_violations > 0
                          ? "asynchronous replication lost acknowledged commits: " + std::to_string(row.lost) +
                                " command(s) lost, " + std::to_string(row.duplicated) +
                                " executed twice (their outcome vanished and they ran again), " +
                                std::to_string(row.order_violations) + " order violation(s)"
                          : "this run lost nothing: the standby had every commit when the primary died");
  return row;
}

}  // namespace

std::vector<Row> run_cluster(Context& ctx) {
  std::vector<Row> rows;
  const auto cluster_ports = ports_from_env<3>(
      "CHAOS_CLUSTER_PORTS", ctx.short_mode ? std::array{56931, 56932, 56933} : std::array{56941, 56942, 56943});
  const auto pg_ports =
      ports_from_env<2>("CHAOS_PG_HA_PORTS", ctx.short_mode ? std::array{56981, 56982} : std::array{56991, 56992});
  say("cluster: starting three RabbitMQ nodes on " + std::to_string(cluster_ports[0]) + "-" +
      std::to_string(cluster_ports[2]));
  RabbitCluster cluster(ctx.paths, cluster_ports);
  if (auto st = cluster.start(); !st) {
    Row r;
    r.scenario = "cluster: start three RabbitMQ nodes";
    r.failures.push_back(st.error().message());
    return {r};
  }
  if (selected("cluster-kill") && !g_interrupted.load()) rows.push_back(cluster_kill(ctx, cluster));
  if (selected("cluster-rolling") && !g_interrupted.load()) rows.push_back(cluster_rolling(ctx, cluster));
  if (selected("cluster-freeze") && !g_interrupted.load()) rows.push_back(cluster_freeze(ctx, cluster));
  if (selected("task-node-loss") && !g_interrupted.load()) rows.push_back(task_node_loss(ctx, cluster));
  if ((selected("pg-failover") || selected("both")) && !g_interrupted.load()) {
    PostgresPair pair(ctx.paths, pg_ports, /*synchronous=*/true);
    if (auto st = pair.start(); !st) {
      Row r;
      r.scenario = "PostgreSQL: start a primary and a synchronous standby";
      r.failures.push_back(st.error().message());
      rows.push_back(r);
    } else {
      if (selected("pg-failover") && !g_interrupted.load()) rows.push_back(pg_failover(ctx, cluster, pair));
      if (selected("both") && !g_interrupted.load()) rows.push_back(both_lost(ctx, cluster, pair));
    }
  }
  if (selected("pg-async") && !g_interrupted.load()) {
    PostgresPair pair(ctx.paths, pg_ports, /*synchronous=*/false);
    if (auto st = pair.start(); !st) {
      Row r;
      r.scenario = "PostgreSQL: start a primary and an asynchronous standby";
      r.failures.push_back(st.error().message());
      rows.push_back(r);
    } else {
      rows.push_back(pg_async(ctx, cluster, pair));
    }
  }
  return rows;
}

}  // namespace dc::chaos
