#include "api/service.h"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "api/api_server.h"
#include "api/tokens.h"
#include "base/version.h"
#include "daemon/command_line.h"
#include "observe/systemd_notify.h"

namespace dc {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// A thousand event streams and as many idle connections need more
// descriptors than the usual soft limit of 1024: take what the hard limit
// allows.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t wanted = limit.rlim_max;
  limit.rlim_cur = wanted;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("cannot raise the open-file limit to {}; serving at most about {} connections", wanted,
                 limit.rlim_cur);
  }
}

// Waits for SIGTERM or SIGINT (blocked in `signals`) and returns it. Under a
// systemd watchdog it wakes every ping interval and pings when the HTTP
// server's threads still run a posted task, so a wedged server stops the
// pings and systemd restarts it.
int wait_for_stop_signal(const sigset_t& signals, const ApiServer& server, SystemdNotifier& systemd) {
  const auto interval = systemd.watchdog_interval();
  for (;;) {
    if (!interval) {
      int received = 0;
      if (sigwait(&signals, &received) == 0) return received;
      continue;
    }
    const auto micros = interval->count();
    timespec wait{static_cast<time_t>(micros / 1'000'000), static_cast<long>(micros % 1'000'000) * 1000};
    const int received = sigtimedwait(&signals, nullptr, &wait);
    if (received > 0) return received;
    if (errno != EAGAIN) continue;  // EINTR
    const auto probe =
        std::max(std::chrono::milliseconds(100), std::chrono::duration_cast<std::chrono::milliseconds>(*interval / 2));
    if (server.responsive(probe)) {
      (void)systemd.watchdog();
    } else {
      spdlog::warn("dc-api: the HTTP server did not run a task within {} ms; no watchdog ping", probe.count());
    }
  }
}

int run_token_command(const Config& config, const std::string& verb, const std::string& name,
                      const std::string& role_text, bool quiet) {
  if (config.api_tokens_file.empty()) {
    std::cerr << "dc-api: api_tokens_file is not set; give --api-tokens-file FILE (or DC_API_TOKENS_FILE)\n";
    return kExitUsage;
  }
  const std::string& path = config.api_tokens_file;
  if (verb == "add") {
    auto role = role_from_string(role_text);
    if (!role) {
      std::cerr << "dc-api: --role must be viewer, operator or admin\n";
      return kExitUsage;
    }
    auto token = add_token(path, name, *role);
    if (!token) {
      std::cerr << "dc-api: " << token.error().message() << '\n';
      return token.error().code() == Errc::invalid_argument ? kExitUsage : kExitFailed;
    }
    if (quiet) {
      std::cout << *token << '\n';
    } else {
      std::cout << "token for " << name << " (" << to_string(*role) << "), shown this once:\n"
                << *token << "\nuse it as: Authorization: Bearer " << token->substr(0, 6) << "...\n";
    }
    return kExitOk;
  }
  if (verb == "revoke") {
    if (auto st = revoke_token(path, name); !st) {
      std::cerr << "dc-api: " << st.error().message() << '\n';
      return st.error().code() == Errc::not_found ? kExitFailed : kExitFailed;
    }
    std::cout << "token " << name << " revoked (a running dc-api stops accepting it within a second)\n";
    return kExitOk;
  }
  auto entries = read_token_file(path);
  if (!entries) {
    std::cerr << "dc-api: " << entries.error().message() << '\n';
    return kExitFailed;
  }
  std::cout << "NAME ROLE\n";
  for (const auto& entry : *entries) std::cout << entry.name << ' ' << to_string(entry.role) << '\n';
  return kExitOk;
}

}  // namespace

int api_main(int argc, char** argv) {
  CLI::App app{
      "dc-api: the HTTP API and live dashboard of dc (SPEC §8). Issues commands as dcctl does (record in the\n"
      "database, then publish), authenticated by bearer tokens (dc-api token add NAME --role ROLE)."};
  app.name("dc-api");
  DaemonCommandLine command_line(app);
  auto* token = app.add_subcommand("token", "Manage the bearer tokens in api_tokens_file");
  token->require_subcommand(1);
  std::string token_name;
  std::string token_role = "viewer";
  bool quiet = false;
  auto* token_add = token->add_subcommand("add", "Make a new token and print it once (only its hash is stored)");
  token_add->fallthrough();
  token_add->add_option("NAME", token_name, "Who holds it; becomes issued_by of its commands")->required();
  token_add->add_option("--role", token_role, "viewer, operator or admin (default: viewer)");
  token_add->add_flag("--quiet", quiet, "Print only the token");
  auto* token_list = token->add_subcommand("list", "List token names and roles");
  token_list->fallthrough();
  auto* token_revoke = token->add_subcommand("revoke", "Remove a token");
  token_revoke->fallthrough();
  token_revoke->add_option("NAME", token_name, "The token's name")->required();
  Config loaded;
  if (auto code = command_line.parse(app, "dc-api", kVersion, argc, argv, loaded)) return *code;
  const Config& config = loaded;
  if (token->parsed()) {
    const std::string verb = token_add->parsed() ? "add" : token_revoke->parsed() ? "revoke" : "list";
    return run_token_command(config, verb, token_name, token_role, quiet);
  }

  // Every thread starts with SIGTERM and SIGINT blocked; this thread waits
  // for them with sigwait, so no handler runs in the middle of anything.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, nullptr);
  raise_descriptor_limit();

  ApiOptions options;
  options.version = std::string(kVersion);
  ApiServer server(config, options);
  if (auto st = server.start(); !st) {
    spdlog::error("{}", st.error().message());
    server.stop();
    return st.error().code() == Errc::invalid_argument ? kExitUsage : kExitFailed;
  }
  // Type=notify: ready once the socket listens.
  SystemdNotifier systemd = SystemdNotifier::from_environment();
  if (auto st = systemd.ready("serving on " + server.address()); !st) {
    spdlog::warn("systemd notify: {}", st.error().message());
  }
  const int received = wait_for_stop_signal(stop_signals, server, systemd);
  spdlog::info("dc-api: {} received, stopping", received == SIGINT ? "SIGINT" : "SIGTERM");
  (void)systemd.stopping();
  server.stop();
  spdlog::info("dc-api stopped");
  return kExitOk;
}

}  // namespace dc
