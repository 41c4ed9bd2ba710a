// Configuration (SPEC §4): flat keys, precedence
//   command-line flag > environment (DC_<KEY>) > TOML file > default.
// The file is --config F, else $DC_CONFIG, else ./dc.toml if present.
// Every error names the key and the source it came from.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace dc {

struct HostPort {
  std::string host;
  int port = 5672;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

struct Config {
  std::vector<HostPort> rabbit_hosts{{"localhost", 5672}};  // from rabbit_host + rabbit_port
  std::string rabbit_host = "localhost";  // as given (comma list)
  int rabbit_port = 5672;
  std::string rabbit_username = "guest";
  std::string rabbit_password = "guest";  // secret
  std::string rabbit_queue = "dc_manager";  // also the manager's name
  int rabbit_prefetch = 1;
  std::string rabbit_vhost = "/";
  std::string rabbit_exchange = "dc_commands";
  int rabbit_heartbeat = 10;  // seconds; 0 disables
  bool rabbit_tls = false;
  std::string rabbit_tls_ca;
  std::string rabbit_tls_cert;
  std::string rabbit_tls_key;
  bool rabbit_tls_verify = true;  // verification on whenever TLS is on
  std::string rabbit_queue_type = "classic";  // or "quorum"
  std::string db_url = "sqlite://dc.sqlite3";  // secret when it holds a password
  double poll_interval = 1.0;  // seconds
  double stop_timeout = 10.0;  // seconds
  std::string log_dir = "logs";
  std::string metrics_listen;  // "host:port"; empty = off
  std::vector<std::string> command_secrets;  // from command_secret (comma list); secret
  int command_max_age = 300;  // seconds

  // The manager's name is its queue's name.
  const std::string& manager_name() const { return rabbit_queue; }
};

// One configuration key: its name, default (as text), help line, and
// whether it is a secret (never printed).
struct ConfigKey {
  std::string_view name;
  std::string_view default_value;
  std::string_view help;
  bool secret = false;
};
const std::vector<ConfigKey>& config_keys();

// Where the values come from. Flags are keyed by config key name
// (rabbit_host), already separated from other command-line arguments.
struct ConfigSources {
  std::map<std::string, std::string> flags;
  std::map<std::string, std::string> env;  // the process environment (all of it)
  std::optional<std::string> config_file;  // from --config
};

// Collects the DC_* variables of the current process environment.
std::map<std::string, std::string> current_environment();

// Resolves the configuration. Errors (Errc::invalid_argument, Errc::io) name
// the key and the source: "rabbit_port: 'abc' is not a port number (from
// environment DC_RABBIT_PORT)".
Result<Config> load_config(const ConfigSources& sources);

// The effective configuration as one JSON object with every key of
// config_keys(); secrets shown as "***" (and a password inside db_url
// masked).
std::string config_to_json(const Config& config);

// db_url with any password replaced by "***", for logs.
std::string redact_url(std::string_view url);

}  // namespace dc
