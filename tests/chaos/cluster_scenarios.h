// The fault scenarios beyond one machine (docs/OPERATIONS.md, "Across
// machines"): a three-node RabbitMQ cluster with quorum queues and a
// PostgreSQL primary with a synchronous standby, each losing a member while
// 2,000+ commands stream in, checked from outside exactly like the
// single-machine scenarios (lost, duplicated effects, order violations,
// recovery time):
//
//   cluster-kill     kill -9 the node that leads the manager's queue, restart it
//   cluster-rolling  rolling restart of all three nodes, one at a time
//   cluster-freeze   SIGSTOP the leader's node past the cluster's tick time, SIGCONT
//   task-node-loss   kill -9 the node of a task queue under dc-worker (task_scenario.h)
//   pg-failover      kill -9 the PostgreSQL primary, promote the standby
//   both             a broker node and the PostgreSQL primary lost in the same second
//   pg-async         pg-failover with asynchronous replication and a lagging
//                    standby: what is NOT covered, shown (its losses do not fail the run)
//
// The cluster and the pair are private (scripts/rabbitmq-cluster.sh,
// scripts/postgres-ha.sh) and started once for all of them. Ports come from
// the environment, so scripts/chaos.sh can keep runs apart:
//   CHAOS_CLUSTER_PORTS   three AMQP ports  (default 56931,56932,56933 short; 56941,56942,56943 full)
//   CHAOS_PG_HA_PORTS     two PostgreSQL ports (default 56981,56982 short; 56991,56992 full)
//   CHAOS_CLUSTER_ONLY    comma list of the names above (default: all)
#pragma once

#include <vector>

#include "chaos/scenarios.h"

namespace dc::chaos {

// Runs the cluster scenarios (one row each) and stops what it started.
std::vector<Row> run_cluster(Context& ctx);

}  // namespace dc::chaos
