#include "manager/service.h"

#include <signal.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "base/redact.h"
#include "base/version.h"
#include "daemon/command_line.h"
#include "daemon/signals.h"
#include "http/server.h"
#include "manager/manager.h"
#include "observe/log.h"

namespace dc {
namespace {

// /healthz fails when the event loop has not turned for this long.
constexpr int64_t kLoopStallMicros = 10'000'000;

void on_stop_signal(int) { Manager::request_stop(); }
void on_hup_signal(int) { Manager::request_log_reopen(); }

// Serves /metrics and /healthz from the manager's thread-safe state.
Result<std::unique_ptr<HttpServer>> start_metrics(Manager& manager, const std::string& listen) {
  HttpServerOptions options;
  options.listen = listen;
  auto server = std::make_unique<HttpServer>(options);
  server->route("/metrics", [&manager](const HttpRequest&) {
    return HttpResponse{200, std::string(kPrometheusContentType), manager.metrics().render()};
  });
  server->route("/healthz", [&manager](const HttpRequest&) {
    const int64_t age = to_unix_micros(now()) - manager.metrics().last_loop_micros.load();
    const std::string mode(to_string(manager.mode()));
    if (age > kLoopStallMicros) {
      return HttpResponse{503, "text/plain",
                          "unhealthy: event loop stalled for " + std::to_string(age / 1000) + " ms\n"};
    }
    return HttpResponse{200, "text/plain", "ok: mode " + mode + "\n"};
  });
  if (auto st = server->start(); !st) return st.error().with_context("metrics_listen");
  return server;
}

}  // namespace

int manager_main(int argc, char** argv) {
  CLI::App app{
      "dc-manager: consumes commands from RabbitMQ (or from the database while the broker is down)\n"
      "and carries them out on this manager's apps. Its name is its queue's name (--rabbit-queue)."};
  app.name("dc-manager");
  DaemonCommandLine command_line(app);
  Config loaded;
  if (auto code = command_line.parse(app, "dc-manager", kVersion, argc, argv, loaded)) return *code;
  const Config* config = &loaded;
  install_daemon_signal_handlers(on_stop_signal, on_hup_signal);

  spdlog::info("dc-manager {} starting: name {}, store {}, broker {}", kVersion, config->manager_name(),
               redact_url(config->db_url), config->rabbit_host);
  ManagerOptions options;
  options.version = std::string(kVersion);
  auto manager = Manager::start(*config, options);
  if (!manager) {
    spdlog::error("{}", manager.error().message());
    return 1;
  }
  (*manager)->on_reopen_logs = [] {
    if (auto st = reopen_log_file(); !st) spdlog::warn("reopening the log file failed: {}", st.error().message());
  };
  std::unique_ptr<HttpServer> metrics;
  if (!config->metrics_listen.empty()) {
    auto server = start_metrics(**manager, config->metrics_listen);
    if (!server) {
      spdlog::error("{}", server.error().message());
      Manager::request_stop();  // release the lease and stop cleanly
      (void)(*manager)->run();
      return 1;
    }
    metrics = std::move(*server);
    spdlog::info("serving /metrics and /healthz on {}", metrics->address());
  }
  const int code = (*manager)->run();
  if (metrics) metrics->stop();
  return code;
}

}  // namespace dc
