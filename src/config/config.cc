// Resolution of the configuration from flags, environment, TOML file and
// defaults (SPEC §4), and its JSON rendering.
//
// Each key is resolved independently: the highest-precedence source that
// gives it wins. Values from flags and the environment are text; values from
// the file keep their TOML type, so `rabbit_port = "5672"` is a type error
// while `--rabbit-port 5672` is fine. Every problem is phrased
// "<key>: <what is wrong> (from <source>)".

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <variant>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include "config/config.h"

#include "base/file.h"
#include "base/names.h"
#include "base/redact.h"
#include "base/strings.h"

extern char** environ;  // POSIX; <unistd.h> declares it only under _GNU_SOURCE

namespace dc {
namespace {

// ---------------------------------------------------------------------------
// Sources

// Where one value came from. `kind` orders precedence: a higher kind wins.
struct Origin {
  enum class Kind { file = 1, environment = 2, flag = 3 };
  Kind kind = Kind::file;
  std::string where;  // "--rabbit-port", "DC_RABBIT_PORT", "dc.toml, line 3"

  std::string describe() const {
    switch (kind) {
      case Kind::file:
        return "file " + where;
      case Kind::environment:
        return "environment " + where;
      case Kind::flag:
        return "flag " + where;
    }
    return where;
  }
};

// Flags and environment give text; the file gives TOML's natural types (an
// array only for the list keys).
using RawValue = std::variant<std::string, int64_t, double, bool, std::vector<std::string>>;

struct Setting {
  RawValue value;
  Origin origin;
};

// Every source's values, keyed by config key name.
struct Layers {
  std::map<std::string, Setting, std::less<>> file;
  std::map<std::string, Setting, std::less<>> environment;
  std::map<std::string, Setting, std::less<>> flags;
  std::vector<ActorConfig> actors;  // only the file has them

  // The winning setting for `key`, or nullptr when only the default applies.
  const Setting* pick(std::string_view key) const {
    for (const auto* layer : {&flags, &environment, &file}) {
      auto it = layer->find(key);
      if (it != layer->end()) return &it->second;
    }
    return nullptr;
  }
};

constexpr size_t kMaxConfigFileBytes = size_t{1024} * 1024;
constexpr size_t kMaxPasswordFileBytes = size_t{64} * 1024;

// The config file to read: the path, why it was chosen, for messages.
struct FileChoice {
  std::string path;
  std::string chosen_by;  // "from --config", "from environment DC_CONFIG", "found in the working directory", ...
};

Result<std::optional<FileChoice>> choose_config_file(const ConfigSources& sources) {
  if (sources.config_file) {
    if (sources.config_file->empty()) {
      return Error(Errc::invalid_argument, "--config: the path is empty; give the TOML file to read");
    }
    return std::optional<FileChoice>(FileChoice{*sources.config_file, "from --config"});
  }
  // An empty DC_CONFIG counts as unset, like every DC_ variable.
  auto env = sources.env.find(std::string(kConfigFileEnvVar));
  if (env != sources.env.end() && !env->second.empty()) {
    return std::optional<FileChoice>(FileChoice{env->second, "from environment " + std::string(kConfigFileEnvVar)});
  }
  std::error_code ec;
  if (std::filesystem::exists(std::string(kDefaultConfigFile), ec)) {
    return std::optional<FileChoice>(FileChoice{std::string(kDefaultConfigFile), "found in the working directory"});
  }
  if (std::filesystem::exists(std::string(kSystemConfigFile), ec)) {
    return std::optional<FileChoice>(FileChoice{std::string(kSystemConfigFile), "the system-wide file"});
  }
  return std::optional<FileChoice>();
}

// ---------------------------------------------------------------------------
// TOML file -> settings

std::string_view toml_type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// Keys whose value may be a TOML array of strings, same as the comma list.
bool is_list_key(std::string_view key) {
  return key == "rabbit_host" || key == "command_secret" || key == "worker_queues";
}

// The top-level table holding [actors.NAME] tables (SPEC §9).
constexpr std::string_view kActorsTable = "actors";

// Reads one [actors.NAME] table; problems are appended, each naming the
// actor, the key and the line.
void read_actor(const std::string& name, const toml::table& table, const std::string& label, uint32_t line,
                std::vector<ActorConfig>& actors, std::vector<std::string>& problems) {
  ActorConfig actor;
  actor.name = name;
  actor.origin = "file " + label + ", line " + std::to_string(line);
  const auto where = [&](const toml::node& node) {
    return "(from file " + label + ", line " + std::to_string(node.source().begin.line) + ")";
  };
  const std::string prefix = "actors." + name + ".";
  bool ok = true;
  const auto problem = [&](const std::string& text) {
    problems.push_back(text);
    ok = false;
  };
  if (name.empty() || name.size() > 255) problem("actors: an actor name must have 1-255 bytes " + actor.origin);
  for (char c : name) {
    if (std::iscntrl(static_cast<unsigned char>(c))) {
      problem("actors: actor name contains a control character (" + actor.origin + ")");
      break;
    }
  }
  for (auto&& [toml_key, node] : table) {
    const std::string key(toml_key.str());
    const std::string full = prefix + key;
    if (key == "exec") {
      const auto* array = node.as_array();
      bool strings = array != nullptr && !array->empty();
      if (array) {
        for (auto&& item : *array) {
          if (const auto* text = item.as_string();
              text && !text->get().empty() && text->get().find('\0') == std::string::npos) {
            actor.exec.push_back(text->get());
          } else {
            strings = false;
          }
        }
      }
      if (!strings) problem(full + ": expected a non-empty array of non-empty strings (the argv) " + where(node));
    } else if (key == "queue") {
      if (const auto* text = node.as_string()) {
        actor.queue = text->get();
      } else {
        problem(full + ": expected a string, got " + std::string(toml_type_name(node.type())) + " " + where(node));
      }
    } else if (key == "max_retries" || key == "min_backoff" || key == "max_backoff" || key == "time_limit" ||
               key == "max_age" || key == "priority") {
      const auto* number = node.as_integer();
      if (!number || number->get() < 0) {
        problem(full + ": expected an integer >= 0" +
                std::string(key == "max_retries" || key == "priority" ? "" : " (ms)") + " " + where(node));
        continue;
      }
      const int64_t value = number->get();
      if (key == "max_retries") actor.max_retries = value;
      if (key == "min_backoff") actor.min_backoff = value;
      if (key == "max_backoff") actor.max_backoff = value;
      if (key == "time_limit") actor.time_limit = value;
      if (key == "max_age") actor.max_age = value;
      if (key == "priority") {
        if (value > 1'000'000) {
          problem(full + ": expected at most 1000000 " + where(node));
          continue;
        }
        actor.priority = static_cast<int>(value);
      }
    } else if (key == "pipe_ignore") {
      if (const auto* flag = node.as_boolean()) {
        actor.pipe_ignore = flag->get();
      } else {
        problem(full + ": expected a boolean " + where(node));
      }
    } else {
      problem(full + ": unknown actor setting " + where(node) +
              "; an actor takes exec, queue, max_retries, min_backoff, max_backoff, time_limit, max_age, "
              "pipe_ignore and priority");
    }
  }
  if (actor.exec.empty() && ok) problem("actors." + name + ": exec is missing (" + actor.origin + ")");
  if (ok) actors.push_back(std::move(actor));
}

void read_actors(const toml::node& node, const std::string& label, uint32_t line, std::vector<ActorConfig>& actors,
                 std::vector<std::string>& problems) {
  const auto* table = node.as_table();
  if (!table) {
    problems.push_back("actors: expected tables [actors.NAME] (from file " + label + ", line " + std::to_string(line) +
                       ")");
    return;
  }
  for (auto&& [toml_name, actor_node] : *table) {
    const auto* actor_table = actor_node.as_table();
    const uint32_t actor_line = toml_name.source().begin.line;
    if (!actor_table) {
      problems.push_back("actors." + std::string(toml_name.str()) + ": expected a table [actors." +
                         std::string(toml_name.str()) + "] (from file " + label + ", line " +
                         std::to_string(actor_line) + ")");
      continue;
    }
    read_actor(std::string(toml_name.str()), *actor_table, label, actor_line, actors, problems);
  }
}

// Parses `text` (the file's content, labelled `label`) into settings.
// A syntax error stops everything; key problems are appended to `problems`.
Status read_toml(std::string_view text, const std::string& label, Layers& layers, std::vector<std::string>& problems) {
  toml::table table;
  try {
    table = toml::parse(text, label);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    return Error(Errc::invalid_argument, "config file " + label + ", line " + std::to_string(where.line) + ", column " +
                                             std::to_string(where.column) +
                                             ": TOML syntax error: " + std::string(error.description()));
  }
  // toml::table iterates in key order; report unknown keys in line order.
  std::vector<std::pair<uint32_t, std::string>> unknown_keys;
  for (auto&& [toml_key, node] : table) {
    std::string key(toml_key.str());
    Origin origin{Origin::Kind::file, label + ", line " + std::to_string(toml_key.source().begin.line)};
    if (key == kActorsTable) {
      read_actors(node, label, toml_key.source().begin.line, layers.actors, problems);
      continue;
    }
    if (!find_config_key(key)) {
      std::string message = "unknown key '" + key + "' (from " + origin.describe() + ")";
      if (node.is_table()) {
        message += "; keys are flat, without [sections]: write rabbit_port = 5672 at the top level";
      } else if (auto suggestion = closest_config_key(key)) {
        message += "; did you mean '" + std::string(*suggestion) + "'?";
      } else {
        message += "; see docs/CONFIGURATION.md for the known keys";
      }
      unknown_keys.emplace_back(toml_key.source().begin.line, std::move(message));
      continue;
    }
    Setting setting{std::string(), origin};
    if (auto* s = node.as_string()) {
      setting.value = s->get();
    } else if (auto* i = node.as_integer()) {
      setting.value = i->get();
    } else if (auto* f = node.as_floating_point()) {
      setting.value = f->get();
    } else if (auto* b = node.as_boolean()) {
      setting.value = b->get();
    } else if (auto* array = node.as_array(); array && is_list_key(key)) {
      std::vector<std::string> items;
      bool all_strings = true;
      for (auto&& item : *array) {
        if (auto* item_string = item.as_string()) {
          items.push_back(item_string->get());
        } else {
          all_strings = false;
        }
      }
      if (!all_strings) {
        problems.push_back(key + ": expected an array of strings (from " + origin.describe() + ")");
        continue;
      }
      setting.value = std::move(items);
    } else {
      problems.push_back(key + ": unexpected TOML value, " + std::string(toml_type_name(node.type())) + " (from " +
                         origin.describe() + ")");
      continue;
    }
    layers.file.insert_or_assign(key, std::move(setting));
  }
  std::sort(unknown_keys.begin(), unknown_keys.end());
  for (auto& [line, message] : unknown_keys) problems.push_back(std::move(message));
  return ok_status();
}

// ---------------------------------------------------------------------------
// Typed reading of settings

// Resolves keys into a Config, collecting every problem.
class Resolver {
 public:
  explicit Resolver(const Layers& layers) : layers_(layers) {}

  const std::vector<std::string>& problems() const { return problems_; }
  bool io_failure() const { return io_failure_; }

  void fail(std::string_view key, std::string_view what, const Origin& origin) {
    problems_.push_back(std::string(key) + ": " + std::string(what) + " (from " + origin.describe() + ")");
  }

  // A string key. `check` returns "" when the value is acceptable, else the
  // reason. Secrets are never echoed in messages.
  void text(std::string_view key, std::string& out,
            const std::function<std::string(std::string_view)>& check = nullptr) {
    const Setting* setting = layers_.pick(key);
    if (!setting) return;
    std::optional<std::string> value = as_text(key, *setting);
    if (!value) return;
    if (check) {
      if (std::string problem = check(*value); !problem.empty()) {
        fail(key, problem, setting->origin);
        return;
      }
    }
    out = std::move(*value);
  }

  // An integer key within [min, max]; `what` completes "... is not <what>".
  void integer(std::string_view key, int& out, int64_t min, int64_t max, std::string_view what) {
    const Setting* setting = layers_.pick(key);
    if (!setting) return;
    std::optional<int64_t> value;
    std::string shown;
    const auto* text_value = std::get_if<std::string>(&setting->value);
    if (text_value && setting->origin.kind != Origin::Kind::file) {
      std::string_view digits = trim(*text_value);
      int64_t parsed = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed);
      if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty()) value = parsed;
      shown = *text_value;
    } else if (const auto* int_value = std::get_if<int64_t>(&setting->value)) {
      value = *int_value;
      shown = std::to_string(*int_value);
    } else {
      type_error(key, "an integer", *setting);
      return;
    }
    if (!value || *value < min || *value > max) {
      fail(key, "'" + shown + "' is not " + std::string(what), setting->origin);
      return;
    }
    out = static_cast<int>(*value);
  }

  // A number of seconds within [min, max] (a float; TOML integers too).
  void seconds(std::string_view key, double& out, double min, double max, std::string_view what) {
    const Setting* setting = layers_.pick(key);
    if (!setting) return;
    std::optional<double> value;
    std::string shown;
    const auto* text_value = std::get_if<std::string>(&setting->value);
    if (text_value && setting->origin.kind != Origin::Kind::file) {
      std::string_view digits = trim(*text_value);
      double parsed = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed);
      if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty()) value = parsed;
      shown = *text_value;
    } else if (const auto* int_value = std::get_if<int64_t>(&setting->value)) {
      value = static_cast<double>(*int_value);
      shown = std::to_string(*int_value);
    } else if (const auto* float_value = std::get_if<double>(&setting->value)) {
      value = *float_value;
      shown = std::to_string(*float_value);
    } else {
      type_error(key, "a number", *setting);
      return;
    }
    // NaN fails both comparisons' negations, so test the good range.
    if (!value || !std::isfinite(*value) || !(*value >= min && *value <= max)) {
      fail(key, "'" + shown + "' is not " + std::string(what), setting->origin);
      return;
    }
    out = *value;
  }

  void boolean(std::string_view key, bool& out) {
    const Setting* setting = layers_.pick(key);
    if (!setting) return;
    if (const auto* bool_value = std::get_if<bool>(&setting->value)) {
      out = *bool_value;
      return;
    }
    const auto* text_value = std::get_if<std::string>(&setting->value);
    if (!text_value || setting->origin.kind == Origin::Kind::file) {
      type_error(key, "a boolean (true or false)", *setting);
      return;
    }
    std::string word = to_lower(trim(*text_value));
    if (word == "true" || word == "1" || word == "yes" || word == "on") {
      out = true;
    } else if (word == "false" || word == "0" || word == "no" || word == "off") {
      out = false;
    } else {
      fail(key, "'" + *text_value + "' is not a boolean; use true/false, 1/0, yes/no or on/off", setting->origin);
    }
  }

  // A comma list (text) or an array of strings (file); items trimmed. An
  // empty text as a whole means "none"; an empty item is an error. Items are
  // never echoed (the only list key holds secrets).
  void list(std::string_view key, std::vector<std::string>& out, bool secret) {
    const Setting* setting = layers_.pick(key);
    if (!setting) return;
    std::vector<std::string> items;
    if (const auto* text_value = std::get_if<std::string>(&setting->value)) {
      if (text_value->empty()) {
        out.clear();
        return;
      }
      size_t start = 0;
      while (true) {
        size_t comma = text_value->find(',', start);
        items.emplace_back(trim(std::string_view(*text_value).substr(start, comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (const auto* array = std::get_if<std::vector<std::string>>(&setting->value)) {
      for (const std::string& item : *array) items.emplace_back(trim(item));
    } else {
      type_error(key, "a string or an array of strings", *setting);
      return;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].empty()) {
        fail(key,
             "entry " + std::to_string(i + 1) + " of " + std::to_string(items.size()) + " is empty" +
                 (secret ? "" : " (check for stray commas)"),
             setting->origin);
        return;
      }
    }
    out = std::move(items);
  }

  // The setting's text as a string (a TOML array of strings is joined with
  // commas for the list keys given as plain text).
  std::optional<std::string> as_text(std::string_view key, const Setting& setting) {
    if (const auto* text_value = std::get_if<std::string>(&setting.value)) return *text_value;
    if (const auto* array = std::get_if<std::vector<std::string>>(&setting.value)) {
      std::string joined;
      for (const std::string& item : *array) joined += (joined.empty() ? "" : ",") + item;
      return joined;
    }
    type_error(key, "a string", setting);
    return std::nullopt;
  }

  void type_error(std::string_view key, std::string_view expected, const Setting& setting) {
    std::string_view got = std::visit(
        [](const auto& value) -> std::string_view {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::string>) return "a string";
          if constexpr (std::is_same_v<T, int64_t>) return "an integer";
          if constexpr (std::is_same_v<T, double>) return "a float";
          if constexpr (std::is_same_v<T, bool>) return "a boolean";
          return "an array";
        },
        setting.value);
    fail(key, "expected " + std::string(expected) + ", got " + std::string(got), setting.origin);
  }

  void note_io_failure() { io_failure_ = true; }

 private:
  const Layers& layers_;
  std::vector<std::string> problems_;
  bool io_failure_ = false;
};

// ---------------------------------------------------------------------------
// Value checks: "" when fine, else why not.

std::string control_char_problem(std::string_view value) {
  for (char c : value) {
    if (std::iscntrl(static_cast<unsigned char>(c))) return "contains a control character";
  }
  return {};
}

std::string non_empty_problem(std::string_view value) {
  if (value.empty()) return "is empty";
  return control_char_problem(value);
}

// AMQP short strings are at most 255 bytes; the name restrictions keep queue
// (= manager) and exchange names safe in routing keys, file names and logs.
std::string amqp_name_problem(std::string_view value) {
  if (value.empty()) return "is empty";
  if (value.size() > 255) return "is longer than 255 bytes";
  for (char c : value) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' || c == '-')) {
      return "'" + std::string(value) + "' may contain only letters, digits and _ . : -";
    }
  }
  if (value.substr(0, 4) == "amq.")
    return "'" + std::string(value) + "': names starting with 'amq.' are reserved by AMQP";
  return {};
}

std::string queue_name_problem(std::string_view value) { return manager_name_problem(value); }

std::string db_url_problem(std::string_view value) {
  auto starts = [&](std::string_view prefix) { return value.substr(0, prefix.size()) == prefix; };
  if (value == "sqlite::memory:") return {};
  if (starts("sqlite://")) {
    if (value.size() == 9) return "'sqlite://' names no file; write sqlite://PATH, e.g. sqlite://dc.sqlite3";
    return control_char_problem(value);
  }
  if (starts("postgresql://") || starts("postgres://")) return control_char_problem(value);
  // Never echo a password that may sit inside the URL.
  return "'" + redact_url(value) +
         "' is not a supported database URL; use sqlite://PATH, sqlite::memory: or "
         "postgresql://user:pass@host:port/db";
}

std::string queue_type_problem(std::string_view value) {
  if (value == "classic" || value == "quorum") return {};
  return "'" + std::string(value) + "' is not a queue type; use classic or quorum";
}

// ---------------------------------------------------------------------------
// Resolution

Status collect_flags_and_env(const ConfigSources& sources, Layers& layers) {
  for (const auto& [key, value] : sources.flags) {
    if (!find_config_key(key)) {
      std::string message = "unknown configuration key '" + key + "' given as a flag";
      if (auto suggestion = closest_config_key(key)) message += "; did you mean '" + std::string(*suggestion) + "'?";
      return Error(Errc::invalid_argument, message);
    }
    layers.flags.insert_or_assign(key, Setting{value, {Origin::Kind::flag, config_flag(key)}});
  }
  for (const ConfigKey& key : config_keys()) {
    std::string name = config_env_var(key.name);
    auto it = sources.env.find(name);
    // An empty variable counts as unset (compose files and shells leave
    // `DC_X=` behind), so it never overrides the file.
    if (it != sources.env.end() && !it->second.empty()) {
      layers.environment.insert_or_assign(std::string(key.name),
                                          Setting{it->second, {Origin::Kind::environment, name}});
    }
  }
  return ok_status();
}

// rabbit_password and rabbit_password_file: one setting, two spellings.
void resolve_password(const Layers& layers, Resolver& resolver, Config& config) {
  const Setting* password = layers.pick("rabbit_password");
  const Setting* password_file = layers.pick("rabbit_password_file");
  std::string path;
  if (password_file) {
    std::optional<std::string> text = resolver.as_text("rabbit_password_file", *password_file);
    if (!text) return;
    path = *text;
  }
  // An empty path means "no file", so it does not shadow rabbit_password.
  bool use_file = password_file && !path.empty() && (!password || password_file->origin.kind > password->origin.kind);
  if (password_file && !path.empty() && password && password_file->origin.kind == password->origin.kind) {
    resolver.fail("rabbit_password_file",
                  "rabbit_password is set in the same place (" + password->origin.describe() + "); keep only one",
                  password_file->origin);
    return;
  }
  if (!use_file) {
    resolver.text("rabbit_password", config.rabbit_password, [](std::string_view value) -> std::string {
      // SASL PLAIN separates fields with NUL; the value itself is never echoed.
      if (value.find('\0') != std::string_view::npos) return "contains a NUL byte";
      return {};
    });
    return;
  }
  Result<std::string> content = read_small_file(path, kMaxPasswordFileBytes);
  if (!content.ok()) {
    resolver.note_io_failure();
    resolver.fail("rabbit_password_file", "cannot read '" + path + "': " + content.error().message(),
                  password_file->origin);
    return;
  }
  std::string secret = std::move(content.value());
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) {
    resolver.fail("rabbit_password_file", "'" + path + "' is empty; put the broker password in it",
                  password_file->origin);
    return;
  }
  if (secret.find('\0') != std::string::npos) {
    resolver.fail("rabbit_password_file", "'" + path + "' contains a NUL byte", password_file->origin);
    return;
  }
  config.rabbit_password = std::move(secret);
  config.rabbit_password_file = path;
}

Result<Config> resolve(const Layers& layers) {
  Config config;
  Resolver r(layers);

  r.integer("rabbit_port", config.rabbit_port, 1, 65535, "a port number (1-65535)");
  r.text("rabbit_host", config.rabbit_host, [&](std::string_view value) -> std::string {
    Result<std::vector<Endpoint>> hosts = parse_endpoint_list(value, config.rabbit_port);
    if (!hosts.ok()) return hosts.error().message();
    config.rabbit_hosts = std::move(hosts.value());
    return {};
  });
  if (!layers.pick("rabbit_host")) config.rabbit_hosts = {{config.rabbit_host, config.rabbit_port}};
  r.text("rabbit_username", config.rabbit_username, non_empty_problem);
  resolve_password(layers, r, config);
  r.text("rabbit_queue", config.rabbit_queue, queue_name_problem);
  r.integer("rabbit_prefetch", config.rabbit_prefetch, 1, 65535, "a prefetch count (1-65535)");
  r.text("rabbit_vhost", config.rabbit_vhost, [](std::string_view value) -> std::string {
    if (value.size() > 255) return "is longer than 255 bytes";
    return non_empty_problem(value);
  });
  r.text("rabbit_exchange", config.rabbit_exchange, amqp_name_problem);
  r.integer("rabbit_heartbeat", config.rabbit_heartbeat, 0, 3600, "a heartbeat in seconds (0-3600, 0 disables)");
  r.boolean("rabbit_tls", config.rabbit_tls);
  r.text("rabbit_tls_ca", config.rabbit_tls_ca, control_char_problem);
  r.text("rabbit_tls_cert", config.rabbit_tls_cert, control_char_problem);
  r.text("rabbit_tls_key", config.rabbit_tls_key, control_char_problem);
  r.boolean("rabbit_tls_verify", config.rabbit_tls_verify);
  r.text("rabbit_queue_type", config.rabbit_queue_type, queue_type_problem);
  r.text("db_url", config.db_url, db_url_problem);
  r.seconds("poll_interval", config.poll_interval, 0.01, 3600, "a poll interval in seconds (0.01-3600)");
  r.seconds("stop_timeout", config.stop_timeout, 0, 86400, "a stop timeout in seconds (0-86400)");
  r.text("log_dir", config.log_dir, non_empty_problem);
  r.text("log_level", config.log_level, [](std::string_view value) -> std::string {
    for (const char* level : {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"}) {
      if (equals_ignoring_case(value, level)) return {};
    }
    return "'" + std::string(value) + "' is not a log level; use trace, debug, info, warn, error, critical or off";
  });
  r.text("log_format", config.log_format, [](std::string_view value) -> std::string {
    if (value == "text" || value == "json") return {};
    return "'" + std::string(value) + "' is not a log format; use text or json";
  });
  r.text("log_file", config.log_file, control_char_problem);
  r.text("metrics_listen", config.metrics_listen, [&](std::string_view value) -> std::string {
    if (value.empty()) return {};  // off
    // The parser the HTTP server listens with: what passes here can be served.
    Result<Endpoint> address = parse_listen_address(value);
    return address.ok() ? std::string() : address.error().message();
  });
  r.list("command_secret", config.command_secrets, /*secret=*/true);
  r.integer("command_max_age", config.command_max_age, 1, std::numeric_limits<int32_t>::max(),
            "an age in seconds (>= 1)");
  r.integer("lease_ttl", config.lease_ttl, 3, 3600, "a lease time in seconds (3-3600)");
  r.integer("schedule_misfire_grace", config.schedule_misfire_grace, 1, std::numeric_limits<int32_t>::max(),
            "a grace time in seconds (>= 1)");
  r.list("worker_queues", config.worker_queues, /*secret=*/false);
  for (const std::string& queue : config.worker_queues) {
    if (std::string problem = amqp_name_problem(queue); !problem.empty()) {
      r.fail("worker_queues", problem, layers.pick("worker_queues")->origin);
      break;
    }
  }
  r.integer("worker_threads", config.worker_threads, 1, 1024, "a thread count (1-1024)");
  r.integer("worker_prefetch", config.worker_prefetch, 0, 65535, "a prefetch count (0-65535; 0 = 2 x worker_threads)");
  r.seconds("worker_shutdown_timeout", config.worker_shutdown_timeout, 0, 86400,
            "a shutdown timeout in seconds (0-86400)");
  r.integer("task_max_priority", config.task_max_priority, 0, 255, "a priority (0-255; 0 = no priority queues)");
  r.integer("task_max_body", config.task_max_body, 1024, int64_t{128} * 1024 * 1024,
            "a size in bytes (1024-134217728)");
  config.actors = layers.actors;
  r.text("api_listen", config.api_listen, [](std::string_view value) -> std::string {
    // The parser dc-api listens with: what passes here can be served.
    Result<Endpoint> address = parse_listen_address(value);
    return address.ok() ? std::string() : address.error().message();
  });
  r.text("api_tokens_file", config.api_tokens_file, control_char_problem);
  r.text("api_tls_cert", config.api_tls_cert, control_char_problem);
  r.text("api_tls_key", config.api_tls_key, control_char_problem);
  r.integer("api_max_body", config.api_max_body, 1024, 64 * 1024 * 1024, "a size in bytes (1024-67108864)");
  r.seconds("api_request_timeout", config.api_request_timeout, 1, 3600, "a timeout in seconds (1-3600)");
  r.text("api_url", config.api_url, [](std::string_view value) -> std::string {
    if (value.empty()) return {};
    if (!value.starts_with("http://") && !value.starts_with("https://")) {
      return "'" + std::string(value) + "' is not an http:// or https:// URL (e.g. http://127.0.0.1:8080)";
    }
    return control_char_problem(value);
  });
  r.text("api_token_file", config.api_token_file, control_char_problem);

  // A certificate is useless without its key and vice versa.
  const auto require_pair = [&](const std::string& cert, const std::string& key, std::string_view cert_key,
                                std::string_view key_key) {
    if (cert.empty() == key.empty()) return;
    const bool cert_given = !cert.empty();
    std::string_view given = cert_given ? cert_key : key_key;
    std::string_view missing = cert_given ? key_key : cert_key;
    if (const Setting* setting = layers.pick(given)) {
      r.fail(given, "is set but " + std::string(missing) + " is not; give both or neither", setting->origin);
    }
  };
  require_pair(config.rabbit_tls_cert, config.rabbit_tls_key, "rabbit_tls_cert", "rabbit_tls_key");
  require_pair(config.api_tls_cert, config.api_tls_key, "api_tls_cert", "api_tls_key");

  if (r.problems().empty()) return config;
  std::string message;
  for (const std::string& problem : r.problems()) message += (message.empty() ? "" : "\n") + problem;
  return Error(r.io_failure() && r.problems().size() == 1 ? Errc::io : Errc::invalid_argument, message);
}

// Shared tail of load_config and load_config_from_toml_text.
Result<Config> load_with_file_text(const ConfigSources& sources, const std::optional<std::string_view>& toml_text,
                                   const std::string& label) {
  Layers layers;
  if (Status status = collect_flags_and_env(sources, layers); !status.ok()) return status.error();
  std::vector<std::string> problems;
  if (toml_text) {
    if (Status status = read_toml(*toml_text, label, layers, problems); !status.ok()) return status.error();
  }
  Result<Config> config = resolve(layers);
  if (problems.empty()) return config;
  // Report file problems (unknown keys) together with the value problems.
  if (!config.ok()) problems.push_back(config.error().message());
  std::string message;
  for (const std::string& problem : problems) message += (message.empty() ? "" : "\n") + problem;
  return Error(Errc::invalid_argument, message);
}

}  // namespace

std::map<std::string, std::string> current_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    if (text.substr(0, 3) != "DC_") continue;
    size_t equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return env;
}

Result<Config> load_config(const ConfigSources& sources) {
  Result<std::optional<FileChoice>> choice = choose_config_file(sources);
  if (!choice.ok()) return choice.error();
  if (!choice.value()) return load_with_file_text(sources, std::nullopt, {});
  const FileChoice& file = **choice;
  Result<std::string> text = read_small_file(file.path, kMaxConfigFileBytes);
  if (!text.ok()) {
    return Error(Errc::io, "cannot read config file '" + file.path + "' (" + file.chosen_by +
                               "): " + text.error().message() + "; fix the path or the permissions");
  }
  return load_with_file_text(sources, std::string_view(text.value()), file.path);
}

Result<Config> load_config_from(const ConfigSources& sources) {
  if (!sources.env.empty()) return load_config(sources);
  ConfigSources with_env = sources;
  with_env.env = current_environment();
  return load_config(with_env);
}

Result<Config> load_config_from_toml_text(std::string_view toml_text, const ConfigSources& sources,
                                          std::string_view file_label) {
  return load_with_file_text(sources, toml_text, std::string(file_label));
}

std::string config_to_json(const Config& config) {
  // ordered_json keeps config_keys()' documentation order. Unset optional
  // values are null; secrets are "***" whenever they hold anything.
  auto optional_text = [](const std::string& value) -> nlohmann::ordered_json {
    if (value.empty()) return nullptr;
    return value;
  };
  nlohmann::ordered_json json;
  json["rabbit_host"] = config.rabbit_host;
  json["rabbit_port"] = config.rabbit_port;
  json["rabbit_username"] = config.rabbit_username;
  json["rabbit_password"] = config.rabbit_password.empty() ? "" : "***";
  json["rabbit_password_file"] = optional_text(config.rabbit_password_file);
  json["rabbit_queue"] = config.rabbit_queue;
  json["rabbit_prefetch"] = config.rabbit_prefetch;
  json["rabbit_vhost"] = config.rabbit_vhost;
  json["rabbit_exchange"] = config.rabbit_exchange;
  json["rabbit_heartbeat"] = config.rabbit_heartbeat;
  json["rabbit_tls"] = config.rabbit_tls;
  json["rabbit_tls_ca"] = optional_text(config.rabbit_tls_ca);
  json["rabbit_tls_cert"] = optional_text(config.rabbit_tls_cert);
  json["rabbit_tls_key"] = optional_text(config.rabbit_tls_key);
  json["rabbit_tls_verify"] = config.rabbit_tls_verify;
  json["rabbit_queue_type"] = config.rabbit_queue_type;
  json["db_url"] = redact_url(config.db_url);
  json["poll_interval"] = config.poll_interval;
  json["stop_timeout"] = config.stop_timeout;
  json["log_dir"] = config.log_dir;
  json["log_level"] = config.log_level;
  json["log_format"] = config.log_format;
  json["log_file"] = config.log_file;
  json["metrics_listen"] = optional_text(config.metrics_listen);
  json["command_secret"] = config.command_secrets.empty() ? nlohmann::ordered_json(nullptr) : "***";
  json["command_max_age"] = config.command_max_age;
  json["lease_ttl"] = config.lease_ttl;
  json["schedule_misfire_grace"] = config.schedule_misfire_grace;
  json["worker_queues"] =
      config.worker_queues.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(config.worker_queues);
  json["worker_threads"] = config.worker_threads;
  json["worker_prefetch"] = config.worker_prefetch;
  json["worker_shutdown_timeout"] = config.worker_shutdown_timeout;
  json["task_max_priority"] = config.task_max_priority;
  json["task_max_body"] = config.task_max_body;
  json["api_listen"] = config.api_listen;
  json["api_tokens_file"] = optional_text(config.api_tokens_file);
  json["api_tls_cert"] = optional_text(config.api_tls_cert);
  json["api_tls_key"] = optional_text(config.api_tls_key);
  json["api_max_body"] = config.api_max_body;
  json["api_request_timeout"] = config.api_request_timeout;
  json["api_url"] = optional_text(config.api_url);
  json["api_token_file"] = optional_text(config.api_token_file);
  // The [actors.NAME] tables come last, after every key.
  nlohmann::ordered_json actors = nlohmann::ordered_json::object();
  for (const ActorConfig& actor : config.actors) {
    nlohmann::ordered_json a;
    a["exec"] = actor.exec;
    a["queue"] = actor.queue;
    const auto optional_ms = [](const std::optional<int64_t>& v) -> nlohmann::ordered_json {
      return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
    };
    a["max_retries"] = optional_ms(actor.max_retries);
    a["min_backoff"] = optional_ms(actor.min_backoff);
    a["max_backoff"] = optional_ms(actor.max_backoff);
    a["time_limit"] = optional_ms(actor.time_limit);
    a["max_age"] = optional_ms(actor.max_age);
    a["pipe_ignore"] = actor.pipe_ignore;
    a["priority"] = actor.priority;
    actors[actor.name] = std::move(a);
  }
  json["actors"] = std::move(actors);
  // Config values are validated text, but a Config built by hand may hold
  // invalid UTF-8: replace rather than throw.
  return json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace dc
