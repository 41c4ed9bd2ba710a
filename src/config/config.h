// Configuration (SPEC §4): flat keys, precedence
//   command-line flag > environment (DC_<KEY>) > TOML file > default.
// The file is --config F, else $DC_CONFIG, else ./dc.toml if present, else
// /etc/dc/dc.toml if present.
// Every error names the key and the source it came from.
//
// Everything here is a pure function of its arguments except
// current_environment() (reads the process environment), load_config_from()
// (the same, plus load_config) and the file reads load_config does (the config
// file and rabbit_password_file). Thread-safe: no shared mutable state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/endpoint.h"
#include "base/result.h"

namespace dc {

// One [actors.NAME] table of the config file: a pipeline-task actor that
// dc-worker runs as an executable (SPEC §9). Durations in milliseconds;
// unset values fall back to Dramatiq's defaults.
struct ActorConfig {
  std::string name;               // the table's name = Dramatiq's actor_name
  std::vector<std::string> exec;  // argv, never run through a shell
  std::string queue = "default";  // Dramatiq's default queue name
  std::optional<int64_t> max_retries;
  std::optional<int64_t> min_backoff;
  std::optional<int64_t> max_backoff;
  std::optional<int64_t> time_limit;
  std::optional<int64_t> max_age;
  bool pipe_ignore = false;
  int priority = 0;    // lower runs first among messages waiting in one worker, as Dramatiq's actor priority
  std::string origin;  // "file dc.toml, line 12", for messages
  friend bool operator==(const ActorConfig&, const ActorConfig&) = default;
};

struct Config {
  std::vector<Endpoint> rabbit_hosts{{"localhost", 5672}};  // from rabbit_host + rabbit_port
  std::string rabbit_host = "localhost";                    // as given (comma list)
  int rabbit_port = 5672;
  std::string rabbit_username = "guest";
  std::string rabbit_password = "guest";    // secret
  std::string rabbit_password_file;         // where rabbit_password was read from; empty = not used
  std::string rabbit_queue = "dc_manager";  // also the manager's name
  int rabbit_prefetch = 1;
  std::string rabbit_vhost = "/";
  std::string rabbit_exchange = "dc_commands";
  int rabbit_heartbeat = 10;  // seconds; 0 disables
  bool rabbit_tls = false;
  std::string rabbit_tls_ca;
  std::string rabbit_tls_cert;
  std::string rabbit_tls_key;
  bool rabbit_tls_verify = true;               // verification on whenever TLS is on
  std::string rabbit_queue_type = "classic";   // or "quorum"
  std::string db_url = "sqlite://dc.sqlite3";  // secret when it holds a password
  double poll_interval = 1.0;                  // seconds
  double stop_timeout = 10.0;                  // seconds
  std::string log_dir = "logs";
  std::string log_level = "info";            // the daemons' own log: trace, debug, info, warn, error, critical, off
  std::string log_format = "text";           // text or json, one record per line
  std::string log_file;                      // empty: standard error (the journal under systemd)
  std::string metrics_listen;                // "host:port" (base/endpoint.h); empty = off
  std::vector<std::string> command_secrets;  // from command_secret (comma list); secret
  int command_max_age = 300;                 // seconds
  int lease_ttl = 15;                        // seconds a manager's name stays taken without a heartbeat
  int schedule_misfire_grace = 60;           // seconds a scheduled run may be late before it is skipped
  // dc-worker and the task layer (SPEC §9).
  std::vector<std::string> worker_queues;  // empty: every queue an actor names
  int worker_threads = 8;
  int worker_prefetch = 0;               // per queue; 0 = 2 x worker_threads (Dramatiq's default)
  double worker_shutdown_timeout = 600;  // seconds
  int task_max_priority = 0;             // x-max-priority of task queues; 0 = none
  int task_max_body = 1048576;           // bytes
  std::vector<ActorConfig> actors;       // [actors.NAME] tables of the file, in name order
  // dc-api (SPEC §8)
  std::string api_listen = "127.0.0.1:8080";  // host:port; port 0 = any free port
  std::string api_tokens_file;                // NAME ROLE SHA256 lines; empty = every request is 401
  std::string api_tls_cert;                   // PEM; with api_tls_key: HTTPS
  std::string api_tls_key;
  int api_max_body = 65536;           // bytes; larger request bodies get 413
  double api_request_timeout = 10.0;  // seconds for a request head and body to arrive
  // dcctl's remote mode: talk to dc-api instead of the database and broker
  std::string api_url;         // http(s)://host:port; empty = off
  std::string api_token_file;  // a file holding the bearer token

  // The manager's name is its queue's name.
  const std::string& manager_name() const { return rabbit_queue; }
};

// One configuration key: its name, default (as text), help line, and
// whether it is a secret (never printed).
struct ConfigKey {
  std::string_view name;
  std::string_view default_value;  // the text that, given as a flag, yields Config{}'s value; "" = off/none
  std::string_view help;
  bool secret = false;
  std::string_view value_name = "VALUE";  // placeholder shown in --help (PORT, SECONDS, BOOL...)
};
// Every key of SPEC §4 plus rabbit_password_file and the dc-worker keys, in
// documentation order. The [actors.NAME] tables are not keys: they exist
// only in the file.
// The returned vector is a process-lifetime constant.
const std::vector<ConfigKey>& config_keys();

// The key named `name`, or nullptr when there is none.
const ConfigKey* find_config_key(std::string_view name);

// The known key closest to `name` when it looks like a typo of one (small
// edit distance), else nullopt. Used for "did you mean" hints.
std::optional<std::string_view> closest_config_key(std::string_view name);

// Naming rules: rabbit_port <-> DC_RABBIT_PORT <-> --rabbit-port.
std::string config_env_var(std::string_view key);
std::string config_flag(std::string_view key);  // with the leading "--"

// The environment variable naming the config file.
inline constexpr std::string_view kConfigFileEnvVar = "DC_CONFIG";
// The file used when neither --config nor $DC_CONFIG names one (if present).
inline constexpr std::string_view kDefaultConfigFile = "dc.toml";
// The file used when none of the above names or finds one (if present): the
// packages' conffile, shared by the daemons' units and dcctl on the host.
inline constexpr std::string_view kSystemConfigFile = "/etc/dc/dc.toml";

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
// environment DC_RABBIT_PORT)". When several values are bad, every problem is
// reported, one per line. Errc::io: the config file (named explicitly by
// --config or $DC_CONFIG, or ./dc.toml or /etc/dc/dc.toml when present) or rabbit_password_file
// cannot be read. Environment variables that start with DC_ but name no key
// are ignored (apps run with DC_APP_ID etc.); an unknown key in the file or in
// `sources.flags` is an error.
//
// rabbit_password and rabbit_password_file are two spellings of one setting:
// the one from the higher-precedence source wins; both from the same source
// is an error. The password file's trailing newlines are stripped.
Result<Config> load_config(const ConfigSources& sources);

// load_config, with `sources.env` replaced by current_environment() when it
// is empty. What the mains call after add_config_flags() has filled `flags`.
Result<Config> load_config_from(const ConfigSources& sources);

// load_config with `toml_text` as the content of the config file, labelled
// `file_label` in messages; `sources.config_file` and $DC_CONFIG are ignored
// and neither ./dc.toml nor /etc/dc/dc.toml is looked at. For tests and the fuzzer.
Result<Config> load_config_from_toml_text(std::string_view toml_text, const ConfigSources& sources = {},
                                          std::string_view file_label = "<toml text>");

// The effective configuration as one JSON object with every key of
// config_keys(), then "actors" (an object of the [actors.NAME] tables);
// secrets shown as "***" (and a password inside db_url masked).
std::string config_to_json(const Config& config);

}  // namespace dc
