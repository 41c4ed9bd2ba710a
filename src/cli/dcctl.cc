#include "cli/dcctl.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

#include "base/names.h"
#include "base/redact.h"
#include "base/strings.h"
#include "base/version.h"
#include "cli/backend.h"
#include "cli/completion.h"
#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "cli/task_commands.h"
#include "cli/views.h"
#include "config/cli_flags.h"
#include "schedule/schedule.h"

namespace dc {
namespace {

using nlohmann::json;

int fail(const Error& error) { return report_failure(error); }
int open_failed(const Error& error) { return report_open_failure(error); }

std::string or_dash(const std::optional<std::string>& s) { return s ? *s : "-"; }
std::string time_or_dash(const std::optional<TimePoint>& t) { return t ? format_iso8601(*t) : "-"; }

// --exec as add and update take it: a non-empty JSON array of strings.
Result<std::vector<std::string>> parse_exec(const std::string& exec_text) {
  json exec = json::parse(exec_text, nullptr, /*allow_exceptions=*/false);
  if (exec.is_discarded() || !exec.is_array() || exec.empty()) {
    return Error(Errc::invalid_argument,
                 "--exec must be a non-empty JSON array of strings, e.g. --exec '[\"/bin/sleep\", \"60\"]'");
  }
  std::vector<std::string> argv;
  for (const auto& arg : exec) {
    if (!arg.is_string()) {
      return Error(Errc::invalid_argument, "--exec: every element must be a string (got " + arg.dump() + ")");
    }
    argv.push_back(arg.get<std::string>());
  }
  return argv;
}

// --schedule as add and update take it, in its canonical spelling.
Result<std::string> parse_schedule_option(const std::string& text) {
  auto parsed = parse_schedule(text);
  if (!parsed) return Error(Errc::invalid_argument, "--schedule: " + parsed.error().message());
  return parsed->to_string();
}

// --manager as add and update take it.
Status check_manager_option(const std::string& manager) {
  if (manager.empty())
    return Error(Errc::invalid_argument, "--manager NAME is required (the manager that runs this app)");
  if (auto problem = manager_name_problem(manager); !problem.empty()) {
    return Error(Errc::invalid_argument, "--manager: " + problem);
  }
  return ok_status();
}

int run_apps_add(const Config& config, App app, const std::string& exec_text) {
  if (auto problem = app_id_problem(app.app_id); !problem.empty()) {
    return fail(Error(Errc::invalid_argument, "invalid APP_ID: " + problem));
  }
  if (auto st = check_manager_option(app.manager); !st) return fail(st.error());
  auto exec = parse_exec(exec_text);
  if (!exec) return fail(exec.error());
  app.exec = std::move(exec).value();
  if (app.schedule) {
    auto schedule = parse_schedule_option(*app.schedule);
    if (!schedule) return fail(schedule.error());
    app.schedule = *schedule;
  }
  if (app.name.empty()) app.name = app.app_id;
  auto backend = open_backend(config);
  if (!backend) return open_failed(backend.error());
  if (auto st = (*backend)->add_app(app); !st) return fail(st.error());
  std::cout << "app " << app.app_id << " added (manager " << app.manager << ")\n";
  return kExitOk;
}

// What `apps update` was given, before validation.
struct AppUpdateOptions {
  std::string app_id;
  std::optional<std::string> name;
  std::optional<std::string> manager;
  std::optional<std::string> exec;
  std::optional<std::string> schedule;
  bool no_schedule = false;
  bool json_out = false;
};

int run_apps_update(const Config& config, const AppUpdateOptions& opt) {
  if (auto problem = app_id_problem(opt.app_id); !problem.empty()) {
    return fail(Error(Errc::invalid_argument, "invalid APP_ID: " + problem));
  }
  AppChanges changes;
  if (opt.name) {
    if (opt.name->empty()) return fail(Error(Errc::invalid_argument, "--name must not be empty"));
    changes.name = *opt.name;
  }
  if (opt.manager) {
    if (auto st = check_manager_option(*opt.manager); !st) return fail(st.error());
    changes.manager = *opt.manager;
  }
  if (opt.exec) {
    auto exec = parse_exec(*opt.exec);
    if (!exec) return fail(exec.error());
    changes.exec = std::move(exec).value();
  }
  if (opt.schedule && opt.no_schedule) {
    return fail(Error(Errc::invalid_argument, "give --schedule S or --no-schedule, not both"));
  }
  if (opt.schedule) {
    auto schedule = parse_schedule_option(*opt.schedule);
    if (!schedule) return fail(schedule.error());
    changes.schedule = std::optional<std::string>(*schedule);
  }
  if (opt.no_schedule) changes.schedule = std::optional<std::string>();
  if (!changes.name && !changes.manager && !changes.exec && !changes.schedule) {
    return fail(Error(Errc::invalid_argument,
                      "nothing to change: give --exec, --schedule, --no-schedule, --manager and/or --name"));
  }
  auto backend = open_backend(config);
  if (!backend) return open_failed(backend.error());
  auto app = (*backend)->update_app(opt.app_id, changes);
  if (!app) return fail(app.error());
  if (opt.json_out) {
    std::cout << to_json(*app).dump(2) << '\n';
  } else {
    std::cout << "app " << app->app_id << " updated (manager " << app->manager
              << "); a running app keeps its process until it is restarted\n";
  }
  return kExitOk;
}

void print_app(const App& app) {
  const json j = to_json(app);
  for (const auto& [key, value] : j.items()) {
    std::cout << key << ": " << printable(value.is_string() ? value.get<std::string>() : value.dump()) << '\n';
  }
}

int run_apps_list(const Config& config, const std::string& manager, bool json_out, bool no_headers) {
  auto backend = open_backend(config);
  if (!backend) return open_failed(backend.error());
  AppFilter filter;
  if (!manager.empty()) filter.manager = manager;
  auto apps = (*backend)->list_apps(filter);
  if (!apps) return fail(apps.error());
  if (json_out) {
    json arr = json::array();
    for (const auto& app : *apps) arr.push_back(to_json(app));
    std::cout << arr.dump(2) << '\n';
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& app : *apps) {
    rows.push_back({app.app_id, app.manager, std::string(to_string(app.status)),
                    app.pid ? std::to_string(*app.pid) : "-", app.disable ? "yes" : "no", or_dash(app.schedule),
                    app.cmd ? std::string(to_string(*app.cmd)) : "-",
                    app.cmd_flag ? std::string(to_string(*app.cmd_flag)) : "-", time_or_dash(app.next_run_at)});
  }
  print_table(std::cout,
              {"APP_ID", "MANAGER", "STATUS", "PID", "DISABLED", "SCHEDULE", "LAST_CMD", "CMD_FLAG", "NEXT_RUN"}, rows,
              !no_headers);
  return kExitOk;
}

int run_apps_show(const Config& config, const std::string& app_id, bool json_out) {
  auto backend = open_backend(config);
  if (!backend) return open_failed(backend.error());
  auto app = (*backend)->get_app(app_id);
  if (!app) return fail(app.error());
  if (!*app) return fail(Error(Errc::not_found, "unknown app '" + app_id + "'"));
  if (json_out) {
    std::cout << to_json(**app).dump(2) << '\n';
  } else {
    print_app(**app);
  }
  return kExitOk;
}

int run_apps_remove(const Config& config, const std::string& app_id) {
  auto backend = open_backend(config);
  if (!backend) return open_failed(backend.error());
  if (auto st = (*backend)->remove_app(app_id); !st) return fail(st.error());
  std::cout << "app " << app_id << " removed\n";
  return kExitOk;
}

void print_commands(const std::vector<CommandRecord>& records, bool no_headers) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(records.size());
  for (const auto& r : records) {
    rows.push_back({std::to_string(r.seq), r.cmd_id, r.app_id, std::string(to_string(r.command)),
                    std::string(to_string(r.flag)), format_iso8601(r.issued_at), r.issued_by,
                    r.path ? std::string(to_string(*r.path)) : "-", or_dash(r.claimed_by), or_dash(r.result)});
  }
  print_table(std::cout,
              {"SEQ", "CMD_ID", "APP_ID", "COMMAND", "FLAG", "ISSUED_AT", "ISSUED_BY", "PATH", "CLAIMED_BY", "RESULT"},
              rows, !no_headers);
}

int run_commands_list(const Config& config, const std::string& app_id, bool pending, int limit, bool json_out,
                      bool no_headers) {
  auto backend = open_backend(config);
  if (!backend) return open_failed(backend.error());
  CommandFilter filter;
  if (!app_id.empty()) filter.app_id = app_id;
  filter.pending_only = pending;
  filter.limit = limit;
  auto records = (*backend)->list_commands(filter);
  if (!records) return fail(records.error());
  if (json_out) {
    json arr = json::array();
    for (const auto& r : *records) arr.push_back(to_json(r));
    std::cout << arr.dump(2) << '\n';
  } else {
    print_commands(*records, no_headers);
  }
  return kExitOk;
}

int run_commands_show(const Config& config, const std::string& cmd_id, bool json_out, bool no_headers) {
  auto backend = open_backend(config);
  if (!backend) return open_failed(backend.error());
  auto records = (*backend)->get_command(cmd_id);
  if (!records) return fail(records.error());
  if (records->empty()) return fail(Error(Errc::not_found, "unknown command '" + cmd_id + "'"));
  if (json_out) {
    json arr = json::array();
    for (const auto& r : *records) arr.push_back(to_json(r));
    std::cout << json{{"cmd_id", cmd_id}, {"rows", arr}}.dump(2) << '\n';
  } else {
    print_commands(*records, no_headers);
  }
  return kExitOk;
}

int run_managers(const Config& config, bool json_out, bool no_headers) {
  auto backend = open_backend(config);
  if (!backend) return open_failed(backend.error());
  // Live: seen within the lease time the managers are configured with
  // (decided by the backend; dc-api decides by the database's clock).
  auto managers = (*backend)->list_managers();
  if (!managers) return fail(managers.error());
  if (json_out) {
    json arr = json::array();
    for (const auto& m : *managers) arr.push_back(to_json(m));
    std::cout << arr.dump(2) << '\n';
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& view : *managers) {
    const ManagerRecord& m = view.record;
    rows.push_back({m.name, m.host, std::to_string(m.pid), std::string(to_string(m.mode)), view.live ? "yes" : "no",
                    format_iso8601(m.last_seen), format_iso8601(m.started_at), m.version});
  }
  print_table(std::cout, {"NAME", "HOST", "PID", "MODE", "LIVE", "LAST_SEEN", "STARTED_AT", "VERSION"}, rows,
              !no_headers);
  return kExitOk;
}

int run_db_init(const Config& config) {
  if (!config.api_url.empty()) {
    std::cerr << "dcctl: db init works on the database itself; run it without api_url, where db_url reaches it\n";
    return kExitUsage;
  }
  auto store = Store::open(config.db_url);
  if (!store) return open_failed(store.error());
  auto version = (*store)->schema_version();
  if (!version) return fail(version.error());
  std::cout << "database " << redact_url(config.db_url) << " ready (" << (*store)->backend() << ", schema version "
            << *version << ")\n";
  return kExitOk;
}

// Everything the command line can ask for: the options of every
// subcommand, and which subcommand was given.
struct Request {
  std::optional<CmdName> issue_name;  // start|stop|restart|enable|disable
  IssueOptions issue;
  StatusOptions status;
  LogsOptions logs;
  AppUpdateOptions update;
  App new_app;
  std::string exec_text;
  std::string schedule_text;
  bool disabled = false;
  bool json_out = false;
  bool no_headers = false;
  std::string app_id;
  std::string manager;
  bool pending = false;
  int limit = 100;
  std::string cmd_id;
  CLI::App* status_cmd = nullptr;
  CLI::App* logs_cmd = nullptr;
  CLI::App* apps_add = nullptr;
  CLI::App* apps_update = nullptr;
  CLI::App* apps_list = nullptr;
  CLI::App* apps_show = nullptr;
  CLI::App* apps_remove = nullptr;
  CLI::App* commands_list = nullptr;
  CLI::App* commands_show = nullptr;
  CLI::App* managers = nullptr;
  CLI::App* db_init = nullptr;
};

constexpr std::string_view kSynopsis =
    "Synopsis:\n"
    "  dcctl start|stop|restart|enable|disable APP_ID... [--args JSON] [--issued-by WHO] [--wait[=SECS]] [--json]\n"
    "  dcctl start|stop|restart|enable|disable --all [--manager NAME] [...same options]\n"
    "  dcctl status [APP_ID...] [--manager NAME] [--json] [-q]\n"
    "  dcctl logs APP_ID [-n N] [-f]\n"
    "  dcctl apps add APP_ID --manager NAME --exec 'ARGV' [--name N] [--schedule S] [--disabled]\n"
    "  dcctl apps update APP_ID [--exec 'ARGV'] [--schedule S | --no-schedule] [--manager NAME] [--name N]\n"
    "  dcctl apps list|show APP_ID|remove APP_ID [--json] [-q]\n"
    "  dcctl commands list [--app APP_ID] [--pending] [--json] [-q] | dcctl commands show CMD_ID [--json]\n"
    "  dcctl managers [--json] [-q]\n"
    "  dcctl db init\n"
    "  dcctl task send|queues|dead ...   pipeline tasks (dcctl task --help)\n"
    "  dcctl completion bash|zsh         print the shell completion script\n"
    "Exit codes:\n"
    "  0 ok (with --wait: every outcome EXECUTED)\n"
    "  1 failed (with --wait: some outcome NOT_EXECUTED; the reason is printed)\n"
    "  2 usage or configuration error\n"
    "  3 --wait timed out (the command stays stored and still runs); status: a named app is not RUNNING\n"
    "  4 status: a named app is unknown; task: the broker cannot be reached\n"
    "  5 the database cannot be reached (with --api-url: dc-api or its database); nothing was recorded\n"
    "  Several apps: the worst of their codes (5 > 2 > 1 > 4 > 3 > 0).\n"
    "A command is stored in the database before it is published: if the broker is down it stays PENDING\n"
    "and the manager picks it up by polling.";

void add_no_headers_flag(CLI::App* sub, bool& no_headers) {
  sub->add_flag("-q,--no-headers", no_headers, "Print the rows without the header line");
}

// start|stop|restart|enable|disable APP_ID...|--all ...
void add_issue_commands(CLI::App& app, Request& r) {
  for (CmdName name : {CmdName::start, CmdName::stop, CmdName::restart, CmdName::enable, CmdName::disable}) {
    auto* sub = app.add_subcommand(to_lower_name(name),
                                   "Issue " + std::string(to_string(name)) + " for apps (one command each) or --all");
    sub->fallthrough();
    sub->add_option("APP_ID", r.issue.app_ids, "The apps to act on, one command each, issued in this order");
    sub->add_flag("--all", r.issue.all, "Every app (of --manager NAME if given): one broadcast command");
    sub->add_option("--manager", r.issue.manager, "With --all: only this manager's apps");
    sub->add_option("--args", r.issue.args, "JSON object passed to the app at start (DC_ARGS)");
    sub->add_option("--issued-by", r.issue.issued_by, "Who issues it (default: user@host)");
    auto* wait = sub->add_flag("--wait{30}", r.issue.wait,
                               "Wait for the outcomes, up to SECS (default 30), printing each as it lands: exit 0 "
                               "EXECUTED, 1 NOT_EXECUTED, 3 timed out");
    sub->add_flag("--json", r.issue.json_out, "Print one JSON document");
    sub->callback([&r, name, wait] {
      r.issue_name = name;
      if (wait->count() == 0) r.issue.wait = -1;
    });
  }
}

// status, logs
void add_state_commands(CLI::App& app, Request& r) {
  r.status_cmd = app.add_subcommand("status", "One line per app: status, pid, uptime, enabled, last command");
  r.status_cmd->fallthrough();
  r.status_cmd->add_option("APP_ID", r.status.app_ids,
                           "The apps to show (default: every app); exit 3 if one is not RUNNING, 4 if one is unknown");
  r.status_cmd->add_option("--manager", r.status.manager, "Only this manager's apps");
  r.status_cmd->add_flag("--json", r.status.json_out, "Print one JSON document");
  add_no_headers_flag(r.status_cmd, r.status.no_headers);

  r.logs_cmd = app.add_subcommand("logs", "Print an app's log (<log_dir>/<APP_ID>.log on this host)");
  r.logs_cmd->fallthrough();
  r.logs_cmd->add_option("APP_ID", r.logs.app_id, "The app")->required();
  r.logs_cmd->add_option("-n,--lines", r.logs.lines, "Print the last N lines (default 10)")
      ->check(CLI::Range(size_t{0}, size_t{1'000'000}));
  r.logs_cmd->add_flag("-f,--follow", r.logs.follow,
                       "Then print what is appended, across rotation and truncation, until SIGINT/SIGTERM (exit 0)");
}

// apps add|update|list|show|remove
void add_apps_commands(CLI::App& app, Request& r) {
  auto* apps = app.add_subcommand("apps", "Manage the app registry");
  apps->fallthrough();  // configuration flags may follow the subcommand's own
  apps->require_subcommand(1);
  r.apps_add = apps->add_subcommand("add", "Register an app");
  r.apps_add->fallthrough();
  r.apps_add->add_option("APP_ID", r.new_app.app_id, "Letters, digits, '_', '.', '-' (1-128, no leading '.')")
      ->required();
  r.apps_add->add_option("--manager", r.new_app.manager, "Owning manager's name (its rabbit_queue)")->required();
  r.apps_add->add_option("--exec", r.exec_text, "argv as a JSON array, e.g. '[\"/bin/sleep\",\"60\"]'")->required();
  r.apps_add->add_option("--name", r.new_app.name, "Display name (default: APP_ID)");
  r.apps_add->add_option("--schedule", r.schedule_text, "'every 30s|5m|2h' or a 5-field cron expression (UTC)");
  r.apps_add->add_flag("--disabled", r.disabled, "Register disabled (the schedule will not start it)");
  r.apps_update = apps->add_subcommand("update", "Change a registered app (the options given; the rest stays)");
  r.apps_update->fallthrough();
  r.apps_update->add_option("APP_ID", r.update.app_id, "The app")->required();
  r.apps_update->add_option("--exec", r.update.exec, "New argv as a JSON array (used from the next start)");
  r.apps_update->add_option("--schedule", r.update.schedule, "'every 30s|5m|2h' or a 5-field cron expression (UTC)");
  r.apps_update->add_flag("--no-schedule", r.update.no_schedule, "Remove the schedule");
  r.apps_update->add_option("--manager", r.update.manager, "Move the app to this manager (stop it first)");
  r.apps_update->add_option("--name", r.update.name, "Display name");
  r.apps_update->add_flag("--json", r.update.json_out, "Print the app as stored, one JSON document");
  r.apps_list = apps->add_subcommand("list", "List apps");
  r.apps_list->fallthrough();
  r.apps_list->add_option("--manager", r.manager, "Only this manager's apps");
  r.apps_list->add_flag("--json", r.json_out, "Print one JSON document");
  add_no_headers_flag(r.apps_list, r.no_headers);
  r.apps_show = apps->add_subcommand("show", "Show one app");
  r.apps_show->fallthrough();
  r.apps_show->add_option("APP_ID", r.app_id, "The app")->required();
  r.apps_show->add_flag("--json", r.json_out, "Print one JSON document");
  r.apps_remove = apps->add_subcommand("remove", "Remove an app from the registry (its command log stays)");
  r.apps_remove->fallthrough();
  r.apps_remove->add_option("APP_ID", r.app_id, "The app")->required();
}

// commands list|show, managers, db init
void add_inspection_commands(CLI::App& app, Request& r) {
  auto* commands = app.add_subcommand("commands", "Inspect the command log");
  commands->fallthrough();
  commands->require_subcommand(1);
  r.commands_list = commands->add_subcommand("list", "List commands, newest first");
  r.commands_list->fallthrough();
  r.commands_list->add_option("--app", r.app_id, "Only this app's commands");
  r.commands_list->add_flag("--pending", r.pending, "Only commands not yet carried out");
  r.commands_list->add_option("--limit", r.limit, "At most this many rows (default 100)")->check(CLI::Range(1, 100000));
  r.commands_list->add_flag("--json", r.json_out, "Print one JSON document");
  add_no_headers_flag(r.commands_list, r.no_headers);
  r.commands_show = commands->add_subcommand("show", "Show one command (one row per app)");
  r.commands_show->fallthrough();
  r.commands_show->add_option("CMD_ID", r.cmd_id, "The command id")->required();
  r.commands_show->add_flag("--json", r.json_out, "Print one JSON document");
  add_no_headers_flag(r.commands_show, r.no_headers);

  r.managers = app.add_subcommand("managers", "List managers, their mode and liveness");
  r.managers->fallthrough();
  r.managers->add_flag("--json", r.json_out, "Print one JSON document");
  add_no_headers_flag(r.managers, r.no_headers);
  auto* db = app.add_subcommand("db", "Database maintenance");
  db->fallthrough();
  db->require_subcommand(1);
  r.db_init = db->add_subcommand("init", "Create or migrate the schema");
  r.db_init->fallthrough();
}

// Runs the subcommand `r` names.
int run(Request& r, const Config& config) {
  if (r.issue_name) return run_issue(*r.issue_name, r.issue, config);
  if (r.status_cmd->parsed()) return run_status(r.status, config);
  if (r.logs_cmd->parsed()) return run_logs(r.logs, config);
  if (r.apps_add->parsed()) {
    if (!r.schedule_text.empty()) r.new_app.schedule = r.schedule_text;
    r.new_app.disable = r.disabled;
    return run_apps_add(config, r.new_app, r.exec_text);
  }
  if (r.apps_update->parsed()) return run_apps_update(config, r.update);
  if (r.apps_list->parsed()) return run_apps_list(config, r.manager, r.json_out, r.no_headers);
  if (r.apps_show->parsed()) return run_apps_show(config, r.app_id, r.json_out);
  if (r.apps_remove->parsed()) return run_apps_remove(config, r.app_id);
  if (r.commands_list->parsed()) {
    return run_commands_list(config, r.app_id, r.pending, r.limit, r.json_out, r.no_headers);
  }
  if (r.commands_show->parsed()) return run_commands_show(config, r.cmd_id, r.json_out, r.no_headers);
  if (r.managers->parsed()) return run_managers(config, r.json_out, r.no_headers);
  if (r.db_init->parsed()) return run_db_init(config);
  return -1;
}

}  // namespace

int report_failure(const Error& error) {
  std::cerr << "dcctl: " << printable(error.message()) << '\n';
  return exit_code_for(error);
}

int report_open_failure(const Error& error) {
  std::cerr << "dcctl: " << printable(error.message()) << '\n';
  // A SQLite file that cannot be opened is a database that cannot be reached.
  if (error.code() == Errc::io) return kExitDatabaseUnavailable;
  return exit_code_for(error);
}

std::string to_lower_name(CmdName name) { return to_lower(to_string(name)); }

int dcctl_main(int argc, char** argv) {
  CLI::App app{
      "dcctl: issue commands to dc managers and inspect the registry.\n"
      "Shares dc-manager's configuration (flags, DC_* environment, dc.toml). With --api-url and\n"
      "--api-token-file it goes through dc-api instead of the database and the broker."};
  app.name("dcctl");
  app.set_version_flag("--version", "dcctl " + std::string(kVersion), "Print the version and exit");
  app.require_subcommand(1);
  app.footer(std::string(kSynopsis));
  ConfigSources sources;
  add_config_flags(app, sources);
  Request request;
  add_issue_commands(app, request);
  add_state_commands(app, request);
  add_apps_commands(app, request);
  add_inspection_commands(app, request);
  TaskCommands task_commands(app);
  CompletionCommand completion(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  // The values are copied out by now: keep secrets out of ps and /proc.
  scrub_secret_flags(argc, argv);
  if (completion.parsed()) return completion.run();

  auto config = load_config_from(sources);
  if (!config) {
    std::cerr << "dcctl: " << config.error().message() << '\n';
    return kExitUsage;
  }
  if (task_commands.parsed()) return task_commands.run(*config);
  if (const int code = run(request, *config); code >= 0) return code;
  std::cerr << app.help();
  return kExitUsage;
}

}  // namespace dc
