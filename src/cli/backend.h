// What dcctl reads and changes, behind one interface with two ways of doing
// it: directly (the database, and the broker to publish), or through dc-api
// (api_url, api_token_file: SPEC §8) for operators who should hold neither
// the database's nor the broker's credentials. dcctl prints the same thing,
// and exits with the same codes, whichever it talks to.
//
// Thread safety: one backend per thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "source/issue.h"
#include "config/config.h"
#include "store/store.h"
#include "views/json.h"

namespace dc {

class DcctlBackend {
 public:
  virtual ~DcctlBackend() = default;

  // Records and publishes (issue.h). Remotely, issued_by is the token's name.
  virtual Result<IssueReport> issue(const IssueRequest& request) = 0;
  // Every row of `cmd_id` once all have an outcome, or as they stand when
  // `timeout_s` ran out (`timed_out` set): get_command() at growing
  // intervals (20 ms up to 250 ms).
  Result<std::vector<CommandRecord>> wait_for_outcome(const std::string& cmd_id, double timeout_s, bool& timed_out);
  virtual Status add_app(const App& app) = 0;
  virtual Result<std::vector<App>> list_apps(const AppFilter& filter) = 0;
  virtual Result<std::optional<App>> get_app(const std::string& app_id) = 0;
  virtual Status remove_app(const std::string& app_id) = 0;
  // Newest first, as filter.limit says.
  virtual Result<std::vector<CommandRecord>> list_commands(const CommandFilter& filter) = 0;
  virtual Result<std::vector<CommandRecord>> get_command(const std::string& cmd_id) = 0;
  virtual Result<std::vector<ManagerView>> list_managers() = 0;
};

// The database and broker of `config`.
Result<std::unique_ptr<DcctlBackend>> open_local_backend(const Config& config);
// dc-api at config.api_url with the token in config.api_token_file.
// Errc::invalid_argument when the URL or the token file is unusable.
Result<std::unique_ptr<DcctlBackend>> open_remote_backend(const Config& config);
// Remote when config.api_url is set, else local.
Result<std::unique_ptr<DcctlBackend>> open_backend(const Config& config);

}  // namespace dc
