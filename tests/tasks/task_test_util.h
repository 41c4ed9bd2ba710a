// Shared helpers of the task and worker integration tests: the test broker,
// unique queue names, the Dramatiq peer (dramatiq_peer.py under
// /usr/bin/python3 with pika) and small waits.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "broker/broker_test_util.h"
#include "support/services.h"
#include "tasks/message.h"
#include "tasks/topology.h"

#ifndef DC_TASKS_TEST_DIR
#error "DC_TASKS_TEST_DIR must name tests/tasks"
#endif

namespace dc::tasks::test {

using broker::test::test_settings;
using broker::test::unique_name;

// 'text' with single quotes escaped for /bin/sh.
inline std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs dramatiq_peer.py COMMAND HOST PORT ARGS...; stdout (and stderr) in
// `out`, which is cleared first.
inline int peer(const std::string& command, const std::string& args, std::string* out = nullptr) {
  if (out != nullptr) out->clear();
  auto ep = dc::test::rabbit_endpoint();
  const std::string line = "/usr/bin/python3 " + std::string(DC_TASKS_TEST_DIR) + "/dramatiq_peer.py " + command + " " +
                           ep->host + " " + std::to_string(ep->port) + " " + args + " 2>&1";
  return dc::test::run_shell(line, out);
}

// The JSON document a peer printed (the first line starting with '[' or '{').
inline Json peer_json(const std::string& out) {
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    if (!line.empty() && (line[0] == '[' || line[0] == '{')) {
      Json value = Json::parse(line, nullptr, false);
      if (!value.is_discarded()) return value;
    }
    start = end + 1;
  }
  return nullptr;
}

// Skips (or, with DC_REQUIRE_SERVICES=1, fails) when pika is missing.
#define DC_REQUIRE_PIKA()                                                                   \
  do {                                                                                      \
    if (::dc::test::run_shell("/usr/bin/python3 -c 'import pika' 2>/dev/null") != 0) {      \
      if (::dc::test::services_required()) FAIL() << "python3-pika missing (install-deps)"; \
      GTEST_SKIP() << "python3-pika missing: run scripts/install-deps.sh";                  \
    }                                                                                       \
  } while (0)

// Deletes Q, Q.DQ and Q.XQ.
inline void delete_task_queues(const std::string& queue) {
  auto conn = broker::Connection::open(test_settings());
  if (!conn.ok()) return;
  for (const std::string& name : {queue, delay_queue_name(queue), dead_letter_queue_name(queue)}) {
    (void)broker::delete_queue(*conn, name);
  }
}

// Counts of Q, Q.DQ, Q.XQ (ready messages), or all -1 when unavailable.
inline TaskQueueCounts counts(const std::string& queue) {
  auto conn = broker::Connection::open(test_settings());
  if (!conn.ok()) return {queue, ~0u, ~0u, ~0u, 0, 0};
  auto c = task_queue_counts(*conn, queue);
  return c.ok() ? *c : TaskQueueCounts{queue, ~0u, ~0u, ~0u, 0, 0};
}

// Polls `done` every 20 ms until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace dc::tasks::test
