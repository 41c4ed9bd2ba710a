#include "worker/service.h"

#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "base/version.h"
#include "daemon/command_line.h"
#include "daemon/signals.h"
#include "http/server.h"
#include "observe/log.h"
#include "observe/systemd_notify.h"
#include "worker/settings.h"
#include "worker/worker.h"

namespace dc::worker {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reopen{false};

void on_stop_signal(int) { g_stop = true; }
void on_hup_signal(int) { g_reopen = true; }

Result<std::unique_ptr<HttpServer>> start_metrics(Worker& worker, const std::string& listen) {
  HttpServerOptions options;
  options.listen = listen;
  auto server = std::make_unique<HttpServer>(options);
  server->route("/metrics", [&worker](const HttpRequest&) {
    return HttpResponse{200, std::string(kPrometheusContentType), worker.metrics().render()};
  });
  server->route("/healthz", [&worker](const HttpRequest&) {
    if (!worker.healthy()) {
      return HttpResponse{503, "text/plain", "unhealthy: " + worker.describe_consumers() + "\n"};
    }
    return HttpResponse{200, "text/plain", "ok: " + worker.describe_consumers() + "\n"};
  });
  if (auto st = server->start(); !st) return st.error().with_context("metrics_listen");
  return server;
}

}  // namespace

int worker_main(int argc, char** argv) { return worker_main(argc, argv, nullptr); }

int worker_main(int argc, char** argv, const std::function<Status(const Config&, ActorRegistry&)>& register_actors) {
  CLI::App app{
      "dc-worker: runs pipeline tasks from RabbitMQ, wire-compatible with Dramatiq workers and clients.\n"
      "Actors are [actors.NAME] tables of the configuration file (see docs/TASKS.md)."};
  app.name("dc-worker");
  DaemonCommandLine command_line(app);
  Config loaded;
  if (auto code = command_line.parse(app, "dc-worker", kVersion, argc, argv, loaded)) return *code;
  const Config* config = &loaded;
  auto options = worker_options(*config);
  if (!options) {
    std::cerr << "dc-worker: " << options.error().message() << '\n';
    return 2;
  }
  ActorRegistry actors;
  if (Status st = add_configured_actors(*config, actors); !st) {
    std::cerr << "dc-worker: " << st.error().message() << '\n';
    return 2;
  }
  if (register_actors) {
    if (Status st = register_actors(*config, actors); !st) {
      std::cerr << "dc-worker: " << st.error().message() << '\n';
      return 2;
    }
  }
  install_daemon_signal_handlers(on_stop_signal, on_hup_signal);
  auto worker = Worker::start(*options, std::move(actors));
  if (!worker) {
    std::cerr << "dc-worker: " << worker.error().message() << '\n';
    return 2;
  }
  std::string queues;
  for (const std::string& q : (*worker)->queues()) queues += (queues.empty() ? "" : ", ") + q;
  spdlog::info("dc-worker {} starting: queues {}, {} threads, broker {}", kVersion, queues, options->threads,
               config->rabbit_host);
  std::unique_ptr<HttpServer> metrics;
  if (!config->metrics_listen.empty()) {
    auto server = start_metrics(**worker, config->metrics_listen);
    if (!server) {
      spdlog::error("{}", server.error().message());
      (*worker)->shutdown(std::chrono::milliseconds(0));
      return 1;
    }
    metrics = std::move(*server);
    spdlog::info("serving /metrics and /healthz on {}", metrics->address());
  }
  // Type=notify: READY=1 once every consumer consumes, STATUS= whenever the
  // consumers' state changes, WATCHDOG=1 from this loop. The consumers'
  // description takes their locks, so a consumer wedged while holding one
  // stops the pings too.
  SystemdNotifier systemd = SystemdNotifier::from_environment();
  const auto watchdog = systemd.watchdog_interval();
  auto next_watchdog = std::chrono::steady_clock::now();
  bool ready = false;
  std::string last_status;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_reopen.exchange(false)) {
      if (auto st = reopen_log_file(); !st) spdlog::warn("reopening the log file failed: {}", st.error().message());
    }
    if (systemd.enabled()) {
      std::string status = (*worker)->describe_consumers();
      if (!ready && (*worker)->healthy()) {
        ready = true;
        if (auto st = systemd.ready(status); !st) spdlog::warn("systemd notify: {}", st.error().message());
      } else if (status != last_status) {
        (void)systemd.status(status);
      }
      last_status = std::move(status);
      if (watchdog && std::chrono::steady_clock::now() >= next_watchdog) {
        (void)systemd.watchdog();
        next_watchdog = std::chrono::steady_clock::now() + *watchdog;
      }
    }
  }
  (void)systemd.stopping();
  spdlog::info("dc-worker stopping: no new messages; running tasks have {} s to finish",
               options->shutdown_timeout.count() / 1000.0);
  const bool clean = (*worker)->shutdown();
  if (metrics) metrics->stop();
  spdlog::info("dc-worker stopped ({} messages settled)", (*worker)->settled_count());
  if (!clean) std::_Exit(1);  // a thread we could not stop still runs
  return 0;
}

}  // namespace dc::worker
