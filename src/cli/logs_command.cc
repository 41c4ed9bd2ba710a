// dcctl logs APP [-n N] [-f]: the app's log on this host.
#include <signal.h>
#include <time.h>

#include <csignal>
#include <filesystem>
#include <iostream>

#include "base/host.h"
#include "cli/backend.h"
#include "cli/exit_codes.h"
#include "cli/log_follow.h"
#include "cli/subcommands.h"
#include "cli/views.h"
#include "process/spawn.h"

namespace dc {
namespace {

volatile std::sig_atomic_t g_stop_following = 0;

void on_stop_signal(int) { g_stop_following = 1; }

// SIGINT and SIGTERM end -f cleanly (exit 0); no SA_RESTART, so the wait
// between reads ends at once.
void catch_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  (void)::sigaction(SIGINT, &action, nullptr);
  (void)::sigaction(SIGTERM, &action, nullptr);
}

void sleep_ms(long ms) {
  struct timespec ts {};
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1'000'000L;
  (void)::nanosleep(&ts, nullptr);  // a signal ends it early: that is the point
}

// Why the log is not here, in as much detail as the registry can give: an
// unknown app, or the manager and host that run it.
std::string where_the_log_is(const Config& config, const std::string& app_id, int& code) {
  code = kExitFailed;
  auto backend = open_backend(config);
  if (!backend) return "";
  auto app = (*backend)->get_app(app_id);
  if (!app) return "";
  if (!*app) {
    return "; and there is no app '" + app_id + "' in the registry (dcctl apps list)";
  }
  std::string manager_host;
  if (auto managers = (*backend)->list_managers(); managers) {
    for (const auto& view : *managers) {
      if (view.record.name == (*app)->manager) manager_host = view.record.host;
    }
  }
  std::string text = "; app '" + app_id + "' is run by manager '" + (*app)->manager + "'";
  if (!manager_host.empty()) text += " on host " + manager_host;
  if (!manager_host.empty() && manager_host != host_name()) text += " (this is " + host_name() + ")";
  if ((*app)->status == AppStatus::stopped && !(*app)->started_at) text += ", which has never started it";
  return text;
}

}  // namespace

int run_logs(const LogsOptions& opt, const Config& config) {
  auto path = app_log_path(config.log_dir, opt.app_id);
  if (!path) return report_failure(path.error());
  std::error_code ignored;
  const std::filesystem::path shown = std::filesystem::absolute(*path, ignored);

  auto follower = LogFollower::open(*path);
  if (!follower) {
    int code = kExitFailed;
    std::string detail;
    if (follower.error().code() == Errc::not_found) detail = where_the_log_is(config, opt.app_id, code);
    std::cerr << "dcctl: no log of app '" << printable(opt.app_id) << "' at " << printable(shown.string()) << " ("
              << printable(follower.error().message()) << ")" << printable(detail)
              << ".\n  dcctl reads <log_dir>/<app_id>.log with log_dir from its own configuration (here '"
              << printable(config.log_dir)
              << "'): run it on the manager's host with the manager's configuration (--config, DC_LOG_DIR).\n";
    return code;
  }

  auto last = follower->tail(opt.lines);
  if (!last) return report_failure(last.error());
  std::cout << *last << std::flush;
  if (!opt.follow) return kExitOk;

  catch_stop_signals();
  while (g_stop_following == 0) {
    auto fresh = follower->read_new();
    if (!fresh) return report_failure(fresh.error());
    if (!fresh->empty()) std::cout << *fresh << std::flush;
    sleep_ms(200);
  }
  return kExitOk;
}

}  // namespace dc
