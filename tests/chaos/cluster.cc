#include "chaos/cluster.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace dc::chaos {
namespace {

// Runs `script` with `args`, its output (stdout and stderr) appended to
// `log` and returned; an error when it exits non-zero or overruns.
Result<std::string> run_script(const std::string& script, const std::vector<std::string>& args, const Env& env,
                               const std::string& log, std::chrono::milliseconds deadline) {
  const std::string capture = log + ".last";
  ::unlink(capture.c_str());
  std::vector<std::string> argv{script};
  argv.insert(argv.end(), args.begin(), args.end());
  auto rc = run_process(argv, env, capture, deadline);
  std::ifstream in(capture);
  std::stringstream text;
  text << in.rdbuf();
  std::ofstream(log, std::ios::app) << text.str();
  std::string what = script.substr(script.rfind('/') + 1);
  for (const auto& a : args) what += " " + a;
  if (!rc) return rc.error().with_context(what);
  if (*rc != 0) return Error(Errc::unavailable, what + " exited " + std::to_string(*rc) + "; see " + log);
  return text.str();
}

Status done(const Result<std::string>& out) { return out ? ok_status() : Status(out.error()); }

}  // namespace

// --- RabbitCluster --------------------------------------------------------

RabbitCluster::RabbitCluster(const Paths& paths, std::array<int, 3> ports)
    : paths_(paths), ports_(ports), services_dir_(paths.work_dir + "/services") {}

RabbitCluster::~RabbitCluster() {
  for (int n = 1; n <= 3; ++n) {
    if (frozen_[static_cast<size_t>(n - 1)]) (void)thaw(n);
  }
  if (started_) (void)stop();
}

Env RabbitCluster::script_env() const {
  return Env{{"DC_CLUSTER_RABBIT_PORTS",
              std::to_string(ports_[0]) + "," + std::to_string(ports_[1]) + "," + std::to_string(ports_[2])},
             {"DC_SERVICES_DIR", services_dir_}};
}

Result<std::string> RabbitCluster::script(const std::vector<std::string>& args, std::chrono::milliseconds deadline) {
  ::mkdir(services_dir_.c_str(), 0755);
  return run_script(paths_.source_dir + "/scripts/rabbitmq-cluster.sh", args, script_env(),
                    paths_.work_dir + "/rabbitmq-cluster-script.log", deadline);
}

std::string RabbitCluster::hosts() const {
  return "127.0.0.1:" + std::to_string(ports_[0]) + ",127.0.0.1:" + std::to_string(ports_[1]) +
         ",127.0.0.1:" + std::to_string(ports_[2]);
}

Status RabbitCluster::start() {
  started_ = true;                                            // even a failed start may leave nodes to stop
  return done(script({"start"}, std::chrono::seconds(600)));  // a fresh cluster joins node by node
}

Status RabbitCluster::stop() {
  started_ = false;
  return done(script({"stop"}, std::chrono::seconds(180)));
}

Status RabbitCluster::kill9(int n) { return done(script({"kill", std::to_string(n)}, std::chrono::seconds(30))); }

Status RabbitCluster::start_node(int n) {
  return done(script({"start", std::to_string(n)}, std::chrono::seconds(240)));
}

Status RabbitCluster::stop_node(int n) { return done(script({"stop", std::to_string(n)}, std::chrono::seconds(300))); }

Status RabbitCluster::freeze(int n) {
  Status st = done(script({"freeze", std::to_string(n)}, std::chrono::seconds(30)));
  if (st) frozen_[static_cast<size_t>(n - 1)] = true;
  return st;
}

Status RabbitCluster::thaw(int n) {
  Status st = done(script({"thaw", std::to_string(n)}, std::chrono::seconds(30)));
  if (st) frozen_[static_cast<size_t>(n - 1)] = false;
  return st;
}

Status RabbitCluster::heal(int n, std::string& what) {
  auto out = script({"heal", std::to_string(n)}, std::chrono::seconds(400));
  if (!out) return out.error();
  what = out->find("restarting") != std::string::npos ? "partition recorded, node restarted" : "healed by itself";
  return ok_status();
}

Result<int> RabbitCluster::leader_of(const std::string& queue) { return node_of(queue, "leader"); }

// A classic queue's process id names its node: <dc-cluster-P-k@localhost.N.N.N>.
Result<int> RabbitCluster::home_of(const std::string& queue) { return node_of(queue, "pid"); }

Result<int> RabbitCluster::node_of(const std::string& queue, const std::string& column) {
  Error last(Errc::unavailable, "no node answered");
  for (int n = 1; n <= 3; ++n) {
    if (frozen_[static_cast<size_t>(n - 1)]) continue;
    auto out = script({"ctl", std::to_string(n), "list_queues", "-q", "--no-table-headers", "name", column},
                      std::chrono::seconds(60));
    if (!out) {
      last = out.error();
      continue;
    }
    std::istringstream lines(*out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string name, leader;
      if (!(fields >> name >> leader) || name != queue) continue;
      // dc-cluster-<port1>-<k>@localhost
      const size_t at = leader.find('@');
      if (at == std::string::npos || at == 0) break;
      const char k = leader[at - 1];
      if (k >= '1' && k <= '3') return k - '0';
    }
    return Error(Errc::not_found,
                 "queue '" + queue + "' has no " + column + " in list_queues on node " + std::to_string(n));
  }
  return last;
}

// --- PostgresPair ---------------------------------------------------------

PostgresPair::PostgresPair(const Paths& paths, std::array<int, 2> ports, bool synchronous)
    : paths_(paths),
      ports_(ports),
      synchronous_(synchronous),
      services_dir_(paths.work_dir + (synchronous ? "/services" : "/services-async")) {}

PostgresPair::~PostgresPair() {
  if (started_) (void)stop();
}

Env PostgresPair::script_env() const {
  return Env{{"DC_PG_HA_PORTS", std::to_string(ports_[0]) + "," + std::to_string(ports_[1])},
             {"DC_PG_HA_SYNC", synchronous_ ? "on" : "off"},
             {"DC_SERVICES_DIR", services_dir_}};
}

Result<std::string> PostgresPair::script(const std::vector<std::string>& args, std::chrono::milliseconds deadline) {
  ::mkdir(services_dir_.c_str(), 0755);
  return run_script(paths_.source_dir + "/scripts/postgres-ha.sh", args, script_env(),
                    paths_.work_dir + "/postgres-ha-script.log", deadline);
}

Status PostgresPair::start() {
  started_ = true;
  return done(script({"start"}, std::chrono::seconds(240)));
}

Status PostgresPair::stop() {
  started_ = false;
  return done(script({"stop"}, std::chrono::seconds(120)));
}

Status PostgresPair::kill_primary() { return done(script({"kill-primary"}, std::chrono::seconds(30))); }

Status PostgresPair::promote() { return done(script({"promote"}, std::chrono::seconds(120))); }

Status PostgresPair::rejoin() { return done(script({"rejoin"}, std::chrono::seconds(240))); }

Status PostgresPair::lag_standby(double seconds) {
  std::ostringstream s;
  s << seconds;
  return done(script({"lag-standby", s.str()}, std::chrono::seconds(static_cast<int>(seconds) + 60)));
}

Result<std::string> PostgresPair::create_database(const std::string& name) {
  auto port_text = script({"primary-port"}, std::chrono::seconds(10));
  if (!port_text) return port_text.error();
  std::string port = *port_text;
  while (!port.empty() && (port.back() == '\n' || port.back() == ' ')) port.pop_back();
  const std::string psql = "/usr/lib/postgresql/15/bin/psql";
  // remote_apply: the standby shows the new database before this returns,
  // or a client whose multi-host URL lists the standby first would be
  // refused by it ("database does not exist"), and libpq does not try the
  // next host after such a refusal.
  const Env env{{"PGOPTIONS", "-c synchronous_commit=remote_apply"}};
  for (const std::string& sql : {"DROP DATABASE IF EXISTS " + name, "CREATE DATABASE " + name}) {
    auto rc =
        run_process({psql, "-X", "-q", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres", "-c", sql},
                    env, paths_.work_dir + "/postgres-ha-script.log", std::chrono::seconds(60));
    if (!rc) return rc.error();
    if (*rc != 0) return Error(Errc::unavailable, "psql '" + sql + "' exited " + std::to_string(*rc));
  }
  return "postgresql://postgres@127.0.0.1:" + std::to_string(ports_[0]) + ",127.0.0.1:" + std::to_string(ports_[1]) +
         "/" + name + "?target_session_attrs=read-write";
}

}  // namespace dc::chaos
