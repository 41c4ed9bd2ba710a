// A RabbitMQ node of a test's own, started through scripts/rabbitmq-local.sh
// in a temporary directory, for tests that must stop, kill or reconfigure
// the broker (TLS listener, crash and restart) without disturbing the shared
// test broker. Stopped and deleted when the object goes away.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include "broker/connection.h"
#include "support/services.h"

namespace dc::broker::test {

class PrivateNode {
 public:
  // `port`: AMQP port; `extra_env`: more "NAME=value " pairs for the script.
  PrivateNode(int port, std::string extra_env = "") : port_(port), extra_env_(std::move(extra_env)) {
    char tmpl[] = "/tmp/dc-broker-node-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~PrivateNode() {
    if (dir_.empty()) return;
    (void)run("stop");
    dc::test::run_shell("rm -rf '" + dir_ + "'");
  }
  PrivateNode(const PrivateNode&) = delete;
  PrivateNode& operator=(const PrivateNode&) = delete;

  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

  // Runs `rabbitmq-local.sh <verb>` for this node; returns its exit status
  // and appends its output to `output`.
  int run(const std::string& verb, std::string* output = nullptr) const {
    std::string out;
    const int rc =
        dc::test::run_shell("env DC_RABBIT_PORT=" + std::to_string(port_) + " DC_SERVICES_DIR='" + dir_ + "' " +
                                extra_env_ + " " + DC_REPO_ROOT + "/scripts/rabbitmq-local.sh " + verb + " 2>&1",
                            &out);
    if (output != nullptr) *output += out;
    return rc;
  }

  // The node's OS pid (from its pid file), or -1.
  int pid() const {
    std::ifstream in(dir_ + "/rabbitmq-" + std::to_string(port_) + "/rabbitmq.pid");
    int pid = -1;
    in >> pid;
    return pid;
  }

  ConnectionSettings settings() const {
    ConnectionSettings s;
    s.endpoints = {{"127.0.0.1", port_}};
    s.connect_timeout = std::chrono::milliseconds(3000);
    s.rpc_timeout = std::chrono::milliseconds(5000);
    return s;
  }

 private:
  int port_;
  std::string extra_env_;
  std::string dir_;
};

}  // namespace dc::broker::test
