#include "cli/dcctl.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <thread>

#include "base/redact.h"
#include "base/strings.h"
#include "base/version.h"
#include "cli/backend.h"
#include "cli/completion.h"
#include "cli/task_commands.h"
#include "cli/views.h"
#include "config/cli_flags.h"
#include "schedule/schedule.h"

namespace dc {
namespace {

using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitTimeout = 3;

int fail(const Error& error) {
  std::cerr << "dcctl: " << printable(error.message()) << '\n';
  return error.code() == Errc::invalid_argument ? kExitUsage : kExitFailed;
}

std::string or_dash(const std::optional<std::string>& s) { return s ? *s : "-"; }
std::string time_or_dash(const std::optional<TimePoint>& t) { return t ? format_iso8601(*t) : "-"; }

struct IssueOptions {
  std::string app_id;
  bool all = false;
  std::string manager;
  std::string args = "{}";
  std::string issued_by;
  double wait = -1;  // seconds; < 0: do not wait
  bool json_out = false;
};

int run_issue(CmdName name, const IssueOptions& opt, const Config& config) {
  if (opt.all == !opt.app_id.empty()) {
    std::cerr << "dcctl: give either APP_ID or --all, e.g. 'dcctl " << to_lower_name(name) << " demo' or 'dcctl "
              << to_lower_name(name) << " --all --manager manager_1'\n";
    return kExitUsage;
  }
  if (!opt.manager.empty() && !opt.all) {
    std::cerr << "dcctl: --manager goes with --all (a single app's manager comes from the registry)\n";
    return kExitUsage;
  }
  auto backend = open_backend(config);
  if (!backend) return fail(backend.error());

  IssueRequest request;
  request.name = name;
  request.app_id = opt.all ? std::string(kBroadcastAppId) : opt.app_id;
  if (!opt.manager.empty()) request.manager = opt.manager;
  request.args_json = opt.args;
  request.issued_by = opt.issued_by;
  auto report = (*backend)->issue(request);
  if (!report) return fail(report.error());

  json out;
  out["cmd_id"] = report->command.id;
  out["command"] = static_cast<int>(name);
  out["command_name"] = to_string(name);
  out["target"] = request.app_id;
  out["routing_key"] = report->routing_key;
  out["apps"] = report->rows.size();
  out["published"] = report->published;
  out["publish"] = report->publish_detail;
  out["stored"] = true;
  if (!opt.json_out) {
    std::cout << "command " << report->command.id << ": " << to_string(name) << ' ' << request.app_id << " ("
              << report->rows.size() << (report->rows.size() == 1 ? " app" : " apps") << ")\n";
    if (report->rows.empty()) {
      std::cout << "  " << report->publish_detail << '\n';
    } else if (report->published) {
      std::cout << "  stored; " << report->publish_detail << '\n';
    } else {
      std::cout << "  stored as PENDING; " << printable(report->publish_detail)
                << "\n  the manager will pick it up by polling the database\n";
    }
  }

  int code = kExitOk;
  if (opt.wait >= 0 && !report->rows.empty()) {
    bool timed_out = false;
    auto rows = (*backend)->wait_for_outcome(report->command.id, opt.wait, timed_out);
    if (!rows) return fail(rows.error());
    json outcomes = json::array();
    bool all_executed = true;
    for (const auto& row : *rows) {
      all_executed = all_executed && row.flag == CmdFlag::executed;
      outcomes.push_back(to_json(row));
      if (!opt.json_out) {
        std::cout << "  " << row.app_id << ": " << to_string(row.flag);
        if (row.result) std::cout << " (" << printable(*row.result) << ')';
        std::cout << '\n';
      }
    }
    out["outcomes"] = outcomes;
    out["timed_out"] = timed_out;
    code = timed_out ? kExitTimeout : (all_executed ? kExitOk : kExitFailed);
    if (timed_out && !opt.json_out) std::cout << "  not done within " << opt.wait << " s\n";
  }
  if (opt.json_out) std::cout << out.dump(2) << '\n';
  return code;
}

int run_apps_add(const Config& config, App app, const std::string& exec_text) {
  if (auto problem = app_id_problem(app.app_id); !problem.empty()) {
    std::cerr << "dcctl: invalid APP_ID: " << problem << '\n';
    return kExitUsage;
  }
  if (app.manager.empty()) {
    std::cerr << "dcctl: --manager NAME is required (the manager that runs this app)\n";
    return kExitUsage;
  }
  json exec = json::parse(exec_text, nullptr, /*allow_exceptions=*/false);
  if (exec.is_discarded() || !exec.is_array() || exec.empty()) {
    std::cerr << "dcctl: --exec must be a non-empty JSON array of strings, e.g. --exec '[\"/bin/sleep\", \"60\"]'\n";
    return kExitUsage;
  }
  for (const auto& arg : exec) {
    if (!arg.is_string()) {
      std::cerr << "dcctl: --exec: every element must be a string (got " << arg.dump() << ")\n";
      return kExitUsage;
    }
    app.exec.push_back(arg.get<std::string>());
  }
  if (app.schedule) {
    auto parsed = parse_schedule(*app.schedule);
    if (!parsed) {
      std::cerr << "dcctl: --schedule: " << parsed.error().message() << '\n';
      return kExitUsage;
    }
    app.schedule = parsed->to_string();
  }
  if (app.name.empty()) app.name = app.app_id;
  auto backend = open_backend(config);
  if (!backend) return fail(backend.error());
  if (auto st = (*backend)->add_app(app); !st) return fail(st.error());
  std::cout << "app " << app.app_id << " added (manager " << app.manager << ")\n";
  return kExitOk;
}

void print_app(const App& app) {
  const json j = to_json(app);
  for (const auto& [key, value] : j.items()) {
    std::cout << key << ": " << printable(value.is_string() ? value.get<std::string>() : value.dump()) << '\n';
  }
}

int run_apps_list(const Config& config, const std::string& manager, bool json_out) {
  auto backend = open_backend(config);
  if (!backend) return fail(backend.error());
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
              {"APP_ID", "MANAGER", "STATUS", "PID", "DISABLED", "SCHEDULE", "LAST_CMD", "CMD_FLAG", "NEXT_RUN"}, rows);
  return kExitOk;
}

int run_apps_show(const Config& config, const std::string& app_id, bool json_out) {
  auto backend = open_backend(config);
  if (!backend) return fail(backend.error());
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
  if (!backend) return fail(backend.error());
  if (auto st = (*backend)->remove_app(app_id); !st) return fail(st.error());
  std::cout << "app " << app_id << " removed\n";
  return kExitOk;
}

void print_commands(const std::vector<CommandRecord>& records) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(records.size());
  for (const auto& r : records) {
    rows.push_back({std::to_string(r.seq), r.cmd_id, r.app_id, std::string(to_string(r.command)),
                    std::string(to_string(r.flag)), format_iso8601(r.issued_at), r.issued_by,
                    r.path ? std::string(to_string(*r.path)) : "-", or_dash(r.claimed_by), or_dash(r.result)});
  }
  print_table(std::cout,
              {"SEQ", "CMD_ID", "APP_ID", "COMMAND", "FLAG", "ISSUED_AT", "ISSUED_BY", "PATH", "CLAIMED_BY", "RESULT"},
              rows);
}

int run_commands_list(const Config& config, const std::string& app_id, bool pending, int limit, bool json_out) {
  auto backend = open_backend(config);
  if (!backend) return fail(backend.error());
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
    print_commands(*records);
  }
  return kExitOk;
}

int run_commands_show(const Config& config, const std::string& cmd_id, bool json_out) {
  auto backend = open_backend(config);
  if (!backend) return fail(backend.error());
  auto records = (*backend)->get_command(cmd_id);
  if (!records) return fail(records.error());
  if (records->empty()) return fail(Error(Errc::not_found, "unknown command '" + cmd_id + "'"));
  if (json_out) {
    json arr = json::array();
    for (const auto& r : *records) arr.push_back(to_json(r));
    std::cout << json{{"cmd_id", cmd_id}, {"rows", arr}}.dump(2) << '\n';
  } else {
    print_commands(*records);
  }
  return kExitOk;
}

int run_managers(const Config& config, bool json_out) {
  auto backend = open_backend(config);
  if (!backend) return fail(backend.error());
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
  print_table(std::cout, {"NAME", "HOST", "PID", "MODE", "LIVE", "LAST_SEEN", "STARTED_AT", "VERSION"}, rows);
  return kExitOk;
}

int run_db_init(const Config& config) {
  if (!config.api_url.empty()) {
    std::cerr << "dcctl: db init works on the database itself; run it without api_url, where db_url reaches it\n";
    return kExitUsage;
  }
  auto store = Store::open(config.db_url);
  if (!store) return fail(store.error());
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
  App new_app;
  std::string exec_text;
  std::string schedule_text;
  bool disabled = false;
  bool json_out = false;
  std::string app_id;
  std::string manager;
  bool pending = false;
  int limit = 100;
  std::string cmd_id;
  CLI::App* apps_add = nullptr;
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
    "  dcctl start|stop|restart|enable|disable APP_ID [--args JSON] [--issued-by WHO] [--wait[=SECS]] [--json]\n"
    "  dcctl start|stop|restart|enable|disable --all [--manager NAME] [...same options]\n"
    "  dcctl apps add APP_ID --manager NAME --exec 'ARGV' [--name N] [--schedule S] [--disabled]\n"
    "  dcctl apps list|show APP_ID|remove APP_ID [--json]\n"
    "  dcctl commands list [--app APP_ID] [--pending] [--json] | dcctl commands show CMD_ID [--json]\n"
    "  dcctl managers [--json]\n"
    "  dcctl db init\n"
    "  dcctl task send|queues|dead ...   pipeline tasks (dcctl task --help)\n"
    "  dcctl completion bash|zsh         print the shell completion script\n"
    "Exit codes: 0 ok; 1 failed (with --wait: NOT_EXECUTED); 2 usage or configuration error; 3 --wait timed out.\n"
    "A command is stored in the database before it is published: if the broker is down it stays PENDING\n"
    "and the manager picks it up by polling.";

// start|stop|restart|enable|disable APP_ID|--all ...
void add_issue_commands(CLI::App& app, Request& r) {
  for (CmdName name : {CmdName::start, CmdName::stop, CmdName::restart, CmdName::enable, CmdName::disable}) {
    auto* sub =
        app.add_subcommand(to_lower_name(name), "Issue " + std::string(to_string(name)) + " for one app or --all");
    sub->fallthrough();
    sub->add_option("APP_ID", r.issue.app_id, "The app to act on");
    sub->add_flag("--all", r.issue.all, "Every app (of --manager NAME if given)");
    sub->add_option("--manager", r.issue.manager, "With --all: only this manager's apps");
    sub->add_option("--args", r.issue.args, "JSON object passed to the app at start (DC_ARGS)");
    sub->add_option("--issued-by", r.issue.issued_by, "Who issues it (default: user@host)");
    auto* wait = sub->add_flag("--wait{30}", r.issue.wait,
                               "Wait for the outcome, up to SECS (default 30): exit 0 EXECUTED, 1 NOT_EXECUTED, "
                               "3 timed out");
    sub->add_flag("--json", r.issue.json_out, "Print one JSON document");
    sub->callback([&r, name, wait] {
      r.issue_name = name;
      if (wait->count() == 0) r.issue.wait = -1;
    });
  }
}

// apps add|list|show|remove
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
  r.apps_list = apps->add_subcommand("list", "List apps");
  r.apps_list->fallthrough();
  r.apps_list->add_option("--manager", r.manager, "Only this manager's apps");
  r.apps_list->add_flag("--json", r.json_out, "Print one JSON document");
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
  r.commands_show = commands->add_subcommand("show", "Show one command (one row per app)");
  r.commands_show->fallthrough();
  r.commands_show->add_option("CMD_ID", r.cmd_id, "The command id")->required();
  r.commands_show->add_flag("--json", r.json_out, "Print one JSON document");

  r.managers = app.add_subcommand("managers", "List managers, their mode and liveness");
  r.managers->fallthrough();
  r.managers->add_flag("--json", r.json_out, "Print one JSON document");
  auto* db = app.add_subcommand("db", "Database maintenance");
  db->fallthrough();
  db->require_subcommand(1);
  r.db_init = db->add_subcommand("init", "Create or migrate the schema");
  r.db_init->fallthrough();
}

// Runs the subcommand `r` names.
int run(Request& r, const Config& config) {
  if (r.issue_name) return run_issue(*r.issue_name, r.issue, config);
  if (r.apps_add->parsed()) {
    if (!r.schedule_text.empty()) r.new_app.schedule = r.schedule_text;
    r.new_app.disable = r.disabled;
    return run_apps_add(config, r.new_app, r.exec_text);
  }
  if (r.apps_list->parsed()) return run_apps_list(config, r.manager, r.json_out);
  if (r.apps_show->parsed()) return run_apps_show(config, r.app_id, r.json_out);
  if (r.apps_remove->parsed()) return run_apps_remove(config, r.app_id);
  if (r.commands_list->parsed()) return run_commands_list(config, r.app_id, r.pending, r.limit, r.json_out);
  if (r.commands_show->parsed()) return run_commands_show(config, r.cmd_id, r.json_out);
  if (r.managers->parsed()) return run_managers(config, r.json_out);
  if (r.db_init->parsed()) return run_db_init(config);
  return -1;
}

}  // namespace

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
