// Shared helpers of the broker integration tests: settings for the broker of
// tests/support/services.h, unique names so tests never share state, and
// rabbitmqctl queries that check from the broker's side.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/ids.h"
#include "broker/connection.h"
#include "broker/consumer.h"
#include "broker/publisher.h"
#include "broker/topology.h"
#include "support/services.h"

namespace dc::broker::test {

// Settings for the test broker (DC_TEST_RABBIT_HOST/PORT), guest/guest.
inline ConnectionSettings test_settings() {
  ConnectionSettings s;
  auto ep = dc::test::rabbit_endpoint();
  if (ep) s.endpoints = {{ep->host, ep->port}};
  s.heartbeat = std::chrono::seconds(10);
  s.connect_timeout = std::chrono::milliseconds(3000);
  s.rpc_timeout = std::chrono::milliseconds(5000);
  s.connection_name = "dc broker test";
  return s;
}

// "prefix-1a2b3c4d": unique per call.
inline std::string unique_name(const std::string& prefix) { return prefix + "-" + random_uuid().substr(0, 8); }

// Runs `$DC_TEST_RABBITMQCTL -q <args>` and returns its stdout; fails the
// test when the command fails.
inline std::string rabbitmqctl(const std::string& args) {
  auto ctl = dc::test::env("DC_TEST_RABBITMQCTL");
  if (!ctl) {
    ADD_FAILURE() << "DC_TEST_RABBITMQCTL not set";
    return "";
  }
  std::string out;
  const int rc = dc::test::run_shell(*ctl + " -q " + args + " 2>&1", &out);
  EXPECT_EQ(rc, 0) << "rabbitmqctl " << args << ": " << out;
  return out;
}

// Lines of `text` containing every one of `needles`.
inline std::vector<std::string> lines_with(const std::string& text, const std::vector<std::string>& needles) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    bool all = true;
    for (const auto& n : needles) all = all && line.find(n) != std::string::npos;
    if (all) out.push_back(line);
    start = end + 1;
  }
  return out;
}

// Deletes the topology a test declared, through its own connection.
inline void delete_topology(const CommandTopology& t) {
  auto conn = Connection::open(test_settings());
  if (!conn.ok()) return;
  (void)delete_queue(*conn, t.queue);
  (void)delete_queue(*conn, t.dead_letter_queue());
  (void)delete_exchange(*conn, t.exchange);
  (void)delete_exchange(*conn, t.dead_letter_exchange());
}

}  // namespace dc::broker::test
