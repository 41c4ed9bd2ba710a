#include "config/cli_flags.h"

#include <CLI/CLI.hpp>

namespace dc {

std::string config_flag_help(const ConfigKey& key) {
  std::string help(key.help);
  help += " (default: ";
  help += key.default_value.empty() ? "none" : key.default_value;
  help += ")";
  return help;
}

void add_config_flags(CLI::App& app, ConfigSources& sources) {
  constexpr const char* kGroup = "Configuration";
  app.add_option_function<std::string>(
         "--config", [&sources](const std::string& path) { sources.config_file = path; },
         "TOML configuration file (default: $DC_CONFIG, else ./dc.toml if present)")
      ->type_name("FILE")
      ->group(kGroup)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  for (const ConfigKey& key : config_keys()) {
    std::string name(key.name);
    app.add_option_function<std::string>(
           config_flag(key.name), [&sources, name](const std::string& value) { sources.flags[name] = value; },
           config_flag_help(key))
        ->type_name(std::string(key.value_name))
        ->group(kGroup)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
}

}  // namespace dc
