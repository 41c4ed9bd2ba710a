// The chaos driver's hands on the replicated services: a three-node
// RabbitMQ cluster (scripts/rabbitmq-cluster.sh) and a PostgreSQL primary
// with a streaming standby (scripts/postgres-ha.sh). Like Rabbit and
// Postgres in harness.h, each object stops what it started when destroyed,
// and only processes the scripts started are ever signalled.
#pragma once

#include <array>
#include <string>

#include "base/result.h"
#include "chaos/harness.h"

namespace dc::chaos {

class RabbitCluster {
 public:
  RabbitCluster(const Paths& paths, std::array<int, 3> ports);
  ~RabbitCluster();  // thaws frozen nodes; stops the cluster if this object started it
  RabbitCluster(const RabbitCluster&) = delete;
  RabbitCluster& operator=(const RabbitCluster&) = delete;

  // Starts (or joins) all three nodes; returns once every node reports the
  // cluster healthy.
  Status start();
  Status stop();
  // Node n (1..3): SIGKILL; start again (returns once the cluster is
  // healthy); SIGSTOP / SIGCONT.
  Status kill9(int n);
  Status start_node(int n);
  // Graceful stop, once the node's quorum queues can lose it.
  Status stop_node(int n);
  Status freeze(int n);
  Status thaw(int n);
  // After thaw(n): returns once the cluster has been healthy for a while;
  // when it records a partition instead (the woken node never saw the
  // others go down, so pause_minority did not pause it), restarts node n,
  // as RabbitMQ's partitions guide prescribes. Says which in `what`.
  Status heal(int n, std::string& what);
  // The node (1..3) that leads quorum queue `queue`, asked on a running node.
  Result<int> leader_of(const std::string& queue);
  // The node (1..3) a classic queue lives on, asked on a running node.
  Result<int> home_of(const std::string& queue);

  // "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3", the rabbit_host of clients.
  std::string hosts() const;
  int port(int n) const { return ports_.at(static_cast<size_t>(n - 1)); }

 private:
  Result<std::string> script(const std::vector<std::string>& args, std::chrono::milliseconds deadline);
  Env script_env() const;
  // The node named by `column` ("leader", "pid") of list_queues for `queue`.
  Result<int> node_of(const std::string& queue, const std::string& column);

  Paths paths_;
  std::array<int, 3> ports_;
  std::string services_dir_;
  bool started_ = false;
  std::array<bool, 3> frozen_{};
};

class PostgresPair {
 public:
  // `synchronous`: a commit returns once the standby has it.
  PostgresPair(const Paths& paths, std::array<int, 2> ports, bool synchronous);
  ~PostgresPair();  // stops both servers if this object started them
  PostgresPair(const PostgresPair&) = delete;
  PostgresPair& operator=(const PostgresPair&) = delete;

  Status start();
  Status stop();
  // SIGKILL every process of the current primary.
  Status kill_primary();
  // The standby becomes the primary (fencing the old one), as an HA manager
  // would; then rejoin() rebuilds the old primary as the new standby.
  Status promote();
  Status rejoin();
  // Holds the standby's WAL receiver for `seconds` (a lagging standby);
  // blocks for that long.
  Status lag_standby(double seconds);
  // Creates database `name` (fresh) on the primary; returns the multi-host
  // URL with target_session_attrs=read-write.
  Result<std::string> create_database(const std::string& name);

 private:
  Result<std::string> script(const std::vector<std::string>& args, std::chrono::milliseconds deadline);
  Env script_env() const;

  Paths paths_;
  std::array<int, 2> ports_;
  bool synchronous_;
  std::string services_dir_;
  bool started_ = false;
};

}  // namespace dc::chaos
