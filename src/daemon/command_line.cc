#include "daemon/command_line.h"

// GCC 12 reports a null dereference inside CLI11's own string splitting
// once it is inlined here (a false positive: the vector it appends to is
// valid); the warning stays on for our code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <iostream>

#include "config/cli_flags.h"
#include "observe/log.h"

namespace dc {

DaemonCommandLine::DaemonCommandLine(CLI::App& app) {
  add_config_flags(app, sources_);
  app.add_flag("--print-config", print_config_, "Print the effective configuration as JSON (secrets as ***) and exit");
  app.add_flag("--version", show_version_, "Print the version and exit");
}

std::optional<int> DaemonCommandLine::parse(CLI::App& app, std::string_view program, std::string_view version, int argc,
                                            char** argv, Config& config) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // The values are copied out by now: keep secrets out of ps and /proc.
  scrub_secret_flags(argc, argv);
  if (show_version_) {
    std::cout << program << ' ' << version << '\n';
    return 0;
  }
  auto loaded = load_config_from(sources_);
  if (!loaded) {
    std::cerr << program << ": " << loaded.error().message() << '\n';
    return 2;
  }
  if (print_config_) {
    std::cout << config_to_json(loaded.value()) << '\n';
    return 0;
  }
  // log_level and log_format were validated with the configuration.
  auto level = parse_log_level(loaded->log_level);
  auto format = parse_log_format(loaded->log_format);
  if (!level || !format) {
    std::cerr << program << ": " << (level ? format.error() : level.error()).message() << '\n';
    return 2;
  }
  LogOptions log_options;
  log_options.level = *level;
  log_options.format = *format;
  log_options.file = loaded->log_file;
  log_options.journal = log_options.file.empty() && stderr_is_journal();
  if (auto st = init_logging(log_options); !st) {
    std::cerr << program << ": " << st.error().message() << '\n';
    return 2;
  }
  config = std::move(loaded.value());
  return std::nullopt;
}

}  // namespace dc
