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
#include "config/config.h"
#include "source/issue.h"
#include "store/store.h"
#include "views/json.h"

namespace dc {

// The registry fields `dcctl apps update` may change; unset ones stay.
struct AppChanges {
  std::optional<std::string> name;
  std::optional<std::string> manager;
  std::optional<std::vector<std::string>> exec;
  std::optional<std::optional<std::string>> schedule;  // set to nullopt: no schedule any more
};

class DcctlBackend {
 public:
  virtual ~DcctlBackend() = default;

  // Records and publishes (issue.h). Remotely, issued_by is the token's name.
  virtual Result<IssueReport> issue(const IssueRequest& request) = 0;
  virtual Status add_app(const App& app) = 0;
  // Changes the registry fields `changes` gives (the others stay) and
  // returns the app as stored. Errc::not_found for an unknown app,
  // Errc::invalid_argument for a value the registry refuses.
  virtual Result<App> update_app(const std::string& app_id, const AppChanges& changes) = 0;
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
