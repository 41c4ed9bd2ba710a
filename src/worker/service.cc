#include "worker/service.h"

#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "config/cli_flags.h"
#include "observe/http_server.h"
#include "observe/log.h"
#include "worker/settings.h"
#include "worker/worker.h"

namespace dc::worker {
namespace {

constexpr std::string_view kVersion = "0.1.0";

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reopen{false};

void on_stop_signal(int) { g_stop = true; }
void on_hup_signal(int) { g_reopen = true; }

void install_signal_handlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_hup_signal;
  sigaction(SIGHUP, &sa, nullptr);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);
}

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
  ConfigSources sources;
  add_config_flags(app, sources);
  bool print_config = false;
  bool show_version = false;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string log_file;
  app.add_flag("--print-config", print_config, "Print the effective configuration as JSON (secrets as ***) and exit");
  app.add_flag("--version", show_version, "Print the version and exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (default: info)");
  app.add_option("--log-format", log_format, "text or json, one record per line (default: text)");
  app.add_option("--log-file", log_file, "Append logs to this file (default: standard error); SIGHUP reopens it");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  scrub_secret_flags(argc, argv);
  if (show_version) {
    std::cout << "dc-worker " << kVersion << '\n';
    return 0;
  }
  auto config = load_config_from(sources);
  if (!config) {
    std::cerr << "dc-worker: " << config.error().message() << '\n';
    return 2;
  }
  if (print_config) {
    std::cout << config_to_json(*config) << '\n';
    return 0;
  }
  auto level = parse_log_level(log_level);
  auto format = parse_log_format(log_format);
  if (!level || !format) {
    std::cerr << "dc-worker: " << (level ? format.error() : level.error()).message() << '\n';
    return 2;
  }
  LogOptions log_options;
  log_options.level = *level;
  log_options.format = *format;
  log_options.file = log_file;
  if (auto st = init_logging(log_options); !st) {
    std::cerr << "dc-worker: " << st.error().message() << '\n';
    return 2;
  }
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
  install_signal_handlers();
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
    spdlog::info("serving /metrics and /healthz on {}:{}",
                 config->metrics_listen.substr(0, config->metrics_listen.rfind(':')), metrics->port());
  }
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_reopen.exchange(false)) {
      if (auto st = reopen_log_file(); !st) spdlog::warn("reopening the log file failed: {}", st.error().message());
    }
  }
  spdlog::info("dc-worker stopping: no new messages; running tasks have {} s to finish",
               options->shutdown_timeout.count() / 1000.0);
  const bool clean = (*worker)->shutdown();
  if (metrics) metrics->stop();
  spdlog::info("dc-worker stopped ({} messages settled)", (*worker)->settled_count());
  if (!clean) std::_Exit(1);  // a thread we could not stop still runs
  return 0;
}

}  // namespace dc::worker
