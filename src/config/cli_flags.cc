#include "config/cli_flags.h"

#include <CLI/CLI.hpp>

namespace dc {

std::string config_flag_help(const ConfigKey& key) {
  std::string help(key.help);
  help += " (default: ";
  help += key.default_value.empty() ? "none" : key.default_value;
  help += ") [env ";
  help += config_env_var(key.name);
  help += "]";
  return help;
}

void add_config_flags(CLI::App& app, ConfigSources& sources) {
  constexpr const char* kGroup = "Configuration";
  app.add_option_function<std::string>(
         "--config", [&sources](const std::string& path) { sources.config_file = path; },
         "TOML configuration file (default: $DC_CONFIG, else ./dc.toml, else /etc/dc/dc.toml if present) [env " +
             std::string(kConfigFileEnvVar) + "]")
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

namespace {

void blank(char* text, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) text[i] = '*';
}

// Blanks the password of a URL "scheme://user:password@host...".
void blank_url_password(char* value) {
  const std::string_view url(value);
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return;
  const size_t at = url.find('@', scheme + 3);
  if (at == std::string_view::npos) return;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return;
  blank(value, colon + 1, at);
}

}  // namespace

void scrub_secret_flags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (!arg.starts_with("--")) continue;
    const size_t eq = arg.find('=');
    const std::string_view flag = arg.substr(0, eq);
    std::string key(flag.substr(2));
    for (char& c : key) {
      if (c == '-') c = '_';
    }
    const ConfigKey* config_key = find_config_key(key);
    const bool is_url = key == "db_url";
    if (config_key == nullptr || (!config_key->secret && !is_url)) continue;
    char* value = nullptr;
    if (eq != std::string_view::npos) {
      value = argv[i] + eq + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    if (value == nullptr) continue;
    if (is_url) {
      blank_url_password(value);
    } else {
      blank(value, 0, std::string_view(value).size());
    }
  }
}

}  // namespace dc
