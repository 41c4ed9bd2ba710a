// Pipeline tasks across a cluster (SPEC §9; issue "Beyond one machine"):
// a real dc-worker consumes a task queue on the three-node cluster while a
// sender enqueues 2,000+ tasks with confirms, the way a Dramatiq client
// does, and the node that holds the queue (and both connections) is killed
// with kill -9 and started again.
//
// Task queues keep Dramatiq's classic declaration, so the queue lives on one
// node: while that node is down the queue is unavailable (publishes and
// consumes are refused), the worker keeps reconnecting across the host list,
// and the sender retries each unconfirmed task with the same message id.
// The promise checked from outside is the task side's: at least once —
// every confirmed task runs, none is lost; a task that runs twice (a
// redelivery after the node's loss, or a resend whose first confirm was
// lost) is counted and reported, not failed.
#pragma once

#include "chaos/cluster.h"
#include "chaos/scenarios.h"

namespace dc::chaos {

Row task_node_loss(Context& ctx, RabbitCluster& cluster);

}  // namespace dc::chaos
