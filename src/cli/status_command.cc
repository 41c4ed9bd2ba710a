// dcctl status [APP...]: one line per app, LSB exit codes.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/backend.h"
#include "cli/exit_codes.h"
#include "cli/status_view.h"
#include "cli/subcommands.h"
#include "cli/views.h"

namespace dc {

int run_status(const StatusOptions& opt, const Config& config) {
  if (!opt.manager.empty() && !opt.app_ids.empty()) {
    std::cerr
        << "dcctl: --manager goes without APP ids: 'dcctl status --manager manager_1' lists that manager's apps\n";
    return kExitUsage;
  }
  auto backend = open_backend(config);
  if (!backend) return report_open_failure(backend.error());

  std::vector<App> apps;
  int code = kExitOk;
  if (opt.app_ids.empty()) {
    AppFilter filter;
    if (!opt.manager.empty()) filter.manager = opt.manager;
    auto listed = (*backend)->list_apps(filter);
    if (!listed) return report_failure(listed.error());
    apps = std::move(listed).value();
  } else {
    for (const auto& app_id : opt.app_ids) {
      auto app = (*backend)->get_app(app_id);
      if (!app) return report_failure(app.error().with_context(app_id));
      if (!*app) {
        std::cerr << "dcctl: unknown app '" << printable(app_id) << "' (dcctl apps list shows the registry)\n";
        code = worst_exit_code(code, kExitUnknownApp);
        continue;
      }
      // LSB: a named program that is not running is exit 3.
      if ((*app)->status != AppStatus::running) code = worst_exit_code(code, kExitNotRunning);
      apps.push_back(std::move(**app));
    }
  }

  const TimePoint t = now();
  if (opt.json_out) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& app : apps) arr.push_back(status_json(app, t));
    std::cout << arr.dump(2) << '\n';
    return code;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(apps.size());
  for (const auto& app : apps) rows.push_back(status_row(app, t));
  if (!rows.empty() || opt.app_ids.empty()) print_table(std::cout, status_header(), rows, !opt.no_headers);
  return code;
}

}  // namespace dc
