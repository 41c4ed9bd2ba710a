// The configuration's command-line flags, shared by dc-manager and dcctl so
// both accept exactly the same options (SPEC §4, §7).
#pragma once

#include "config/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace dc {

// Registers on `app`, in an option group "Configuration":
//   --config FILE        -> sources.config_file
//   --<key-with-dashes> VALUE for every key of config_keys() -> sources.flags[key]
// Each option's help is the key's help line plus "(default: X) [env DC_KEY]". Values are
// stored as given (validation happens in load_config, so errors name the
// flag); a flag given twice keeps the last value. `sources` must outlive
// app.parse(). Register on the root App; subcommands that should accept the
// flags after their own arguments need `fallthrough()` (CLI11).
void add_config_flags(CLI::App& app, ConfigSources& sources);

// Overwrites in place, after parsing, the values of secret flags in argv
// (--rabbit-password, --command-secret, and the password inside --db-url;
// both "--flag VALUE" and "--flag=VALUE") with '*', so they do not show in
// ps or /proc/<pid>/cmdline. Prefer the environment or a password file.
void scrub_secret_flags(int argc, char** argv);

// The help text add_config_flags gives `key`:
// "AMQP port ... (default: 5672) [env DC_RABBIT_PORT]".
std::string config_flag_help(const ConfigKey& key);

}  // namespace dc
