// The table of configuration keys and the naming rules derived from it.
#include <algorithm>

#include "base/strings.h"
#include "config/config.h"

namespace dc {

const std::vector<ConfigKey>& config_keys() {
  // Order = documentation order (docs/CONFIGURATION.md, --help, --print-config).
  // default_value must stay in step with Config's member initialisers; a unit
  // test feeds every default back in as a flag and compares with Config{}.
  static const std::vector<ConfigKey> keys = {
      {"rabbit_host", "localhost", "broker host; a comma list h1,h2:5673 fails over in order", false,
       "HOST[:PORT],..."},
      {"rabbit_port", "5672", "AMQP port for hosts listed without one", false, "PORT"},
      {"rabbit_username", "guest", "broker user name", false, "USER"},
      {"rabbit_password", "guest", "broker password (never printed)", true, "PASSWORD"},
      {"rabbit_password_file", "", "read the broker password from this file (trailing newline stripped)", false,
       "PATH"},
      {"rabbit_queue", "dc_manager", "this manager's queue and its name ([A-Za-z0-9_.:-])", false, "NAME"},
      {"rabbit_prefetch", "1", "unacknowledged deliveries in flight (1-65535)", false, "N"},
      {"rabbit_vhost", "/", "broker virtual host", false, "VHOST"},
      {"rabbit_exchange", "dc_commands", "command exchange (direct, durable)", false, "NAME"},
      {"rabbit_heartbeat", "10", "AMQP heartbeat in seconds (0-3600; 0 disables)", false, "SECONDS"},
      {"rabbit_tls", "false", "connect with TLS (amqps)", false, "BOOL"},
      {"rabbit_tls_ca", "", "CA certificate file (PEM) to verify the broker with", false, "PATH"},
      {"rabbit_tls_cert", "", "client certificate file (PEM); needs rabbit_tls_key", false, "PATH"},
      {"rabbit_tls_key", "", "client private key file (PEM); needs rabbit_tls_cert", false, "PATH"},
      {"rabbit_tls_verify", "true", "verify the broker's certificate and host name", false, "BOOL"},
      {"rabbit_queue_type", "classic", "queue type: classic or quorum", false, "TYPE"},
      {"db_url", "sqlite://dc.sqlite3", "database: sqlite://PATH, sqlite::memory: or postgresql://user:pass@host/db",
       false, "URL"},
      {"poll_interval", "1.0", "seconds between database polls while the broker is down (> 0)", false, "SECONDS"},
      {"stop_timeout", "10", "seconds from SIGTERM to SIGKILL on STOP (>= 0)", false, "SECONDS"},
      {"log_dir", "logs", "directory for app stdout/stderr logs", false, "DIR"},
      {"log_level", "info", "this program's log level: trace, debug, info, warn, error, critical, off", false, "LEVEL"},
      {"log_format", "text", "this program's log format: text or json, one record per line", false, "FORMAT"},
      {"log_file", "", "append this program's log to this file (empty: standard error); SIGHUP reopens it", false,
       "PATH"},
      {"metrics_listen", "", "host:port serving /metrics and /healthz (empty = off)", false, "HOST:PORT"},
      {"command_secret", "", "HMAC-SHA256 key(s), comma separated; when set, unsigned commands are poison", true,
       "KEY,..."},
      {"command_max_age", "300", "seconds after which a signed command is a replay (>= 1)", false, "SECONDS"},
      {"lease_ttl", "15", "seconds a manager's name stays taken after its last heartbeat (3-3600)", false, "SECONDS"},
      {"schedule_misfire_grace", "60",
       "seconds a scheduled run may start late; a later one is skipped, as cron does (>= 1)", false, "SECONDS"},
      {"worker_queues", "", "task queues dc-worker consumes, comma separated (default: every queue an actor names)",
       false, "QUEUE,..."},
      {"worker_threads", "8", "dc-worker threads running tasks (1-1024)", false, "N"},
      {"worker_prefetch", "0", "task deliveries in flight per queue (0 = 2 x worker_threads, as Dramatiq)", false, "N"},
      {"worker_shutdown_timeout", "600", "seconds dc-worker lets running tasks finish after SIGTERM (>= 0)", false,
       "SECONDS"},
      {"task_max_priority", "0", "x-max-priority of task queues (0 = none, else 1-255; Dramatiq's max_priority)", false,
       "N"},
      {"task_max_body", "1048576", "largest task message body in bytes; larger ones are dead-lettered", false, "BYTES"},
      {"api_listen", "127.0.0.1:8080", "dc-api: host:port to serve the API and dashboard on ([::1]:8080 for IPv6)",
       false, "HOST:PORT"},
      {"api_tokens_file", "", "dc-api: file of 'NAME ROLE SHA256' token lines (empty = every request is 401)", false,
       "PATH"},
      {"api_tls_cert", "", "dc-api: certificate chain (PEM) to serve HTTPS; needs api_tls_key", false, "PATH"},
      {"api_tls_key", "", "dc-api: private key (PEM) for api_tls_cert", false, "PATH"},
      {"api_max_body", "65536", "dc-api: largest request body in bytes; larger ones get 413 (1024-67108864)", false,
       "BYTES"},
      {"api_request_timeout", "10", "dc-api: seconds a request's head and body may take to arrive (1-3600)", false,
       "SECONDS"},
      {"api_url", "", "dcctl: talk to dc-api at this URL (http(s)://host:port) instead of the database and broker",
       false, "URL"},
      {"api_token_file", "", "dcctl: file holding the bearer token for api_url", false, "PATH"},
  };
  return keys;
}

const ConfigKey* find_config_key(std::string_view name) {
  const auto& keys = config_keys();
  auto it = std::find_if(keys.begin(), keys.end(), [&](const ConfigKey& key) { return key.name == name; });
  return it == keys.end() ? nullptr : &*it;
}

namespace {

// Levenshtein distance, case-insensitive, with '-' and '_' equal so that
// "rabbit-port" is an exact match of rabbit_port.
size_t edit_distance(std::string_view a_text, std::string_view b_text) {
  std::string a = to_lower(a_text);
  std::string b = to_lower(b_text);
  std::replace(a.begin(), a.end(), '-', '_');
  std::replace(b.begin(), b.end(), '-', '_');
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string_view> closest_config_key(std::string_view name) {
  // Names longer than any key by a wide margin are not typos; bounding the
  // length also bounds the work for arbitrary input (fuzzing, garbage files).
  if (name.empty() || name.size() > 64) return std::nullopt;
  std::optional<std::string_view> best;
  size_t best_distance = 0;
  for (const ConfigKey& key : config_keys()) {
    size_t distance = edit_distance(name, key.name);
    if (!best || distance < best_distance) {
      best = key.name;
      best_distance = distance;
    }
  }
  // A near miss: at most 2 edits, and fewer than a third of the name, so
  // "port" does not "suggest" rabbit_port.
  if (best && best_distance <= 2 && best_distance * 3 <= name.size()) return best;
  // A key given with a prefix or suffix too many ("rabbit_port_number"); the
  // longest contained key wins (rabbit_password_file over rabbit_password).
  std::optional<std::string_view> contained;
  for (const ConfigKey& key : config_keys()) {
    if (key.name.size() >= 6 && name.find(key.name) != std::string_view::npos &&
        (!contained || key.name.size() > contained->size())) {
      contained = key.name;
    }
  }
  return contained;
}

std::string config_env_var(std::string_view key) { return "DC_" + to_upper(key); }

std::string config_flag(std::string_view key) {
  std::string flag = "--";
  for (char c : key) flag += c == '_' ? '-' : c;
  return flag;
}

}  // namespace dc
