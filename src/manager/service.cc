#include "manager/service.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "config/cli_flags.h"
#include "manager/manager.h"

namespace dc {
namespace {

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
  // A broken broker socket must be an error value, not a dead process.
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);
}

}  // namespace

int manager_main(int argc, char** argv) {
  CLI::App app{"dc-manager: consumes commands from RabbitMQ (or the database when the broker is down) and\n"
               "carries them out on this manager's apps. Its name is its queue's name (--rabbit-queue)."};
  app.name("dc-manager");
  ConfigSources sources;
  add_config_flags(app, sources);
  bool print_config = false;
  std::string log_level = "info";
  app.add_flag("--print-config", print_config, "Print the effective configuration as JSON (secrets as ***) and exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (default: info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (sources.env.empty()) sources.env = current_environment();
  auto config = load_config(sources);
  if (!config) {
    std::cerr << "dc-manager: " << config.error().message() << '\n';
    return 2;
  }
  if (print_config) {
    std::cout << config_to_json(*config) << '\n';
    return 0;
  }

  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  install_signal_handlers();

  spdlog::info("dc-manager {} starting: store {}, broker {}:{}, queue {}", "0.1.0", redact_url(config->db_url),
               config->rabbit_host, config->rabbit_port, config->rabbit_queue);
  auto manager = Manager::start(*config);
  if (!manager) {
    spdlog::error("{}", manager.error().message());
    return 1;
  }
  return (*manager)->run();
}

}  // namespace dc
