#include "manager/service.h"

#include <signal.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "config/cli_flags.h"
#include "http/server.h"
#include "manager/manager.h"
#include "observe/log.h"

namespace dc {
namespace {

constexpr std::string_view kVersion = "0.1.0";
// /healthz fails when the event loop has not turned for this long.
constexpr int64_t kLoopStallMicros = 10'000'000;

void on_stop_signal(int) { Manager::request_stop(); }
void on_hup_signal(int) { Manager::request_log_reopen(); }

void install_signal_handlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_hup_signal;
  sigaction(SIGHUP, &sa, nullptr);
  // A broken socket must be an error value, not a dead process.
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);
}

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
  // The values are copied out by now: keep secrets out of ps and /proc.
  scrub_secret_flags(argc, argv);
  if (show_version) {
    std::cout << "dc-manager " << kVersion << '\n';
    return 0;
  }
  auto config = load_config_from(sources);
  if (!config) {
    std::cerr << "dc-manager: " << config.error().message() << '\n';
    return 2;
  }
  if (print_config) {
    std::cout << config_to_json(*config) << '\n';
    return 0;
  }
  LogOptions log_options;
  auto level = parse_log_level(log_level);
  auto format = parse_log_format(log_format);
  if (!level || !format) {
    std::cerr << "dc-manager: " << (level ? format.error() : level.error()).message() << '\n';
    return 2;
  }
  log_options.level = *level;
  log_options.format = *format;
  log_options.file = log_file;
  if (auto st = init_logging(log_options); !st) {
    std::cerr << "dc-manager: " << st.error().message() << '\n';
    return 2;
  }
  install_signal_handlers();

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
