// The command line every dc daemon (dc-manager, dc-worker) shares: the
// configuration flags of config/cli_flags.h (log_level, log_format and
// log_file among them) plus --print-config and --version, and what follows
// parsing:
// secrets scrubbed from argv, the configuration loaded, logging set up.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace dc {

class DaemonCommandLine {
 public:
  // Registers the options on `app`; keep this object alive until finish().
  explicit DaemonCommandLine(CLI::App& app);

  // Parses argv with `app`, then: scrubs secret flags from argv, answers
  // --version and --print-config, loads the configuration into `config` and
  // initialises logging. Returns nullopt when the program should go on, or
  // the exit code it must return now (0 after --help/--version/
  // --print-config, 2 for a usage or configuration error, whose message was
  // printed as "<program>: ...").
  std::optional<int> parse(CLI::App& app, std::string_view program, std::string_view version, int argc, char** argv,
                           Config& config);

 private:
  ConfigSources sources_;
  bool print_config_ = false;
  bool show_version_ = false;
};

}  // namespace dc
