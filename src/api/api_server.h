// dc-api (SPEC §8): the REST API under /api/v1, the live event stream, the
// dashboard at /, and /healthz and /metrics, on one HTTP server.
//
// The HTTP threads only parse, authenticate and route; everything that
// touches the database or the broker runs on the worker pool (each worker
// with its own store connection and command source), and the event stream
// and ?wait are fed by the event hub. A command is issued as every source
// issues it (record first, then publish with confirms): a broker that is
// down is not an error, the command stays PENDING and the managers take it
// from the database.
//
// Thread safety: start() and stop() from one thread; the rest is internal.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/result.h"
#include "config/config.h"

namespace dc {

namespace api_detail {
struct ApiCore;
}  // namespace api_detail

struct ApiOptions {
  int http_threads = 2;
  size_t workers = 4;
  size_t max_queue = 1024;         // jobs waiting for a worker before 503
  size_t max_connections = 10000;  // open HTTP connections (event streams included)
  std::string version;             // shown in the start-up log
};

class ApiServer {
 public:
  ApiServer(Config config, ApiOptions options = {});
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Loads the tokens, opens (and migrates) the store, starts the event hub,
  // the workers and the HTTP server. Errors name what failed: the tokens
  // file, the database, the listen address or the TLS files.
  Status start();
  // Stops accepting, closes every connection and joins every thread.
  void stop();

  // True when the HTTP server's threads run a task within `timeout`
  // (HttpServer::responsive): what dc-api's watchdog pings rest on. Call it
  // from the thread that calls start() and stop().
  bool responsive(std::chrono::milliseconds timeout) const;

  // The bound address, e.g. "127.0.0.1:8080" (useful with port 0).
  std::string address() const;
  bool tls() const;

 private:
  std::unique_ptr<api_detail::ApiCore> impl_;
};

}  // namespace dc
