#include "e2e/e2e_support.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "base/ids.h"
#include "broker/connection.h"
#include "broker/publisher.h"
#include "broker/topology.h"
#include "support/services.h"

namespace dc::e2e {
namespace {

namespace fs = std::filesystem;

// One libpq connection, finished when it goes out of scope.
struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConn = std::unique_ptr<PGconn, PgConnDeleter>;
struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// Runs one statement on the server of `url`; the error text, or "" on success.
std::string pg_exec(const std::string& url, const std::string& sql) {
  PgConn conn(PQconnectdb(url.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    return "cannot connect to " + url + ": " + (conn ? PQerrorMessage(conn.get()) : "out of memory");
  }
  PgResult result(PQexec(conn.get(), sql.c_str()));
  if (!result ||
      (PQresultStatus(result.get()) != PGRES_COMMAND_OK && PQresultStatus(result.get()) != PGRES_TUPLES_OK)) {
    return "'" + sql + "' failed: " + PQerrorMessage(conn.get());
  }
  return "";
}

// `url` with its database name replaced by `database`.
std::string with_database(const std::string& url, const std::string& database) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const size_t query = url.find('?');
  std::string base =
      url.substr(0, slash == std::string::npos ? (query == std::string::npos ? url.size() : query) : slash);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + database + tail;
}

// The fields of /proc/<pid>/stat after the command name: [0] state, [2] pgrp.
std::optional<std::vector<std::string>> proc_stat(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(paren + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f && fields.size() < 4;) fields.push_back(f);
  if (fields.size() < 3) return std::nullopt;
  return fields;
}

bool stat_alive(const std::vector<std::string>& fields) { return fields[0] != "Z" && fields[0] != "X"; }

std::vector<int64_t> all_pids() {
  std::vector<int64_t> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) pids.push_back(std::stoll(name));
  }
  return pids;
}

// SIGKILLs every process (and its group, when it leads one) whose
// environment says it was started for manager `name`: the apps of a killed
// manager outlive it by design.
int kill_apps_of(const std::string& name) {
  int killed = 0;
  const std::string entry = "DC_MANAGER=" + name;
  for (int64_t pid : all_pids()) {
    if (pid == ::getpid() || !process_has_env(pid, entry)) continue;
    auto fields = proc_stat(pid);
    if (fields && std::stoll((*fields)[2]) == pid) (void)::kill(static_cast<pid_t>(-pid), SIGKILL);
    (void)::kill(static_cast<pid_t>(pid), SIGKILL);
    ++killed;
  }
  return killed;
}

std::string tail_of(const std::string& path, size_t max_lines) {
  auto lines = read_lines(path);
  std::string out;
  for (size_t i = lines.size() > max_lines ? lines.size() - max_lines : 0; i < lines.size(); ++i) {
    out += lines[i] + "\n";
  }
  return out;
}

// posix_spawn with stdin /dev/null and stdout/stderr to files.
Result<pid_t> spawn_process(const std::vector<std::string>& argv, const Env& env, const std::string& cwd,
                            const std::string& out_path, const std::string& err_path) {
  std::vector<char*> c_argv;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : env) env_storage.push_back(k + "=" + v);
  std::vector<char*> c_env;
  for (const auto& e : env_storage) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (err_path == out_path) {
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv.at(0).c_str(), &actions, nullptr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Error(Errc::io, "cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

std::optional<int> decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return std::nullopt;
}

}  // namespace

std::string manager_bin() { return DC_MANAGER_BIN; }
std::string dcctl_bin() { return DCCTL_BIN; }
std::string source_dir() { return DC_SOURCE_DIR; }
std::string collector_app() { return source_dir() + "/examples/collector"; }
std::string ignore_sigterm_app() { return source_dir() + "/examples/ignore-sigterm"; }

std::string random_suffix() { return random_uuid().substr(0, 8); }

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

void write_file(const std::string& path, const std::string& content, bool executable) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  if (executable) ::chmod(path.c_str(), 0755);
}

bool process_alive(int64_t pid) {
  if (pid <= 0) return false;
  auto fields = proc_stat(pid);
  return fields && stat_alive(*fields);
}

bool process_group_alive(int64_t pgid) {
  if (pgid <= 0) return false;
  for (int64_t pid : all_pids()) {
    auto fields = proc_stat(pid);
    if (fields && stat_alive(*fields) && std::stoll((*fields)[2]) == pgid) return true;
  }
  return false;
}

bool process_has_env(int64_t pid, const std::string& entry) {
  const std::string env = read_file("/proc/" + std::to_string(pid) + "/environ");
  size_t start = 0;
  while (start < env.size()) {
    size_t end = env.find('\0', start);
    if (end == std::string::npos) end = env.size();
    if (env.compare(start, end - start, entry) == 0) return true;
    start = end + 1;
  }
  return false;
}

// --- Child ---

Result<std::unique_ptr<Child>> Child::spawn(const std::vector<std::string>& argv, const Env& env,
                                            const std::string& cwd, const std::string& output_path) {
  auto pid = spawn_process(argv, env, cwd, output_path, output_path);
  if (!pid) return pid.error();
  return std::unique_ptr<Child>(new Child(*pid));
}

Child::~Child() {
  if (!running()) return;
  (void)::kill(pid_, SIGKILL);
  int status = 0;
  (void)::waitpid(pid_, &status, 0);
}

bool Child::running() {
  if (exit_code_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_wait_status(status).value_or(-1);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    exit_code_ = -1;
    return false;
  }
  return true;
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
  wait_until([this] { return !running(); }, timeout, 10ms);
  return exit_code_;
}

void Child::signal(int sig) {
  if (running()) (void)::kill(pid_, sig);
}

ToolRun run_tool(const std::vector<std::string>& argv, const Env& env, const std::string& cwd,
                 std::chrono::milliseconds timeout) {
  ToolRun run;
  const std::string base = cwd + "/tool-" + random_suffix();
  const auto started = Clock::now();
  auto pid = spawn_process(argv, env, cwd, base + ".out", base + ".err");
  if (!pid) {
    run.err = pid.error().message();
    return run;
  }
  int status = 0;
  bool done = wait_until(
      [&] {
        const pid_t r = ::waitpid(*pid, &status, WNOHANG);
        return r == *pid || r < 0;
      },
      timeout, 5ms);
  if (!done) {
    (void)::kill(*pid, SIGKILL);
    (void)::waitpid(*pid, &status, 0);
  } else {
    run.exit_code = decode_wait_status(status).value_or(-1);
  }
  run.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  run.out = read_file(base + ".out");
  run.err = read_file(base + ".err");
  std::error_code ignored;
  fs::remove(base + ".out", ignored);
  fs::remove(base + ".err", ignored);
  return run;
}

// --- PrivateBroker ---

PrivateBroker::PrivateBroker(int port) : port_(port) {
  char tmpl[] = "/tmp/dc-e2e-broker-XXXXXX";
  if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
}

PrivateBroker::~PrivateBroker() {
  // Also after a kill: `stop` then ends the node's private epmd.
  if (!dir_.empty()) (void)stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

Status PrivateBroker::script(const std::string& verb, std::chrono::milliseconds timeout) {
  if (dir_.empty()) return Error(Errc::io, "no state directory for the private broker");
  Env env;
  env["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  env["HOME"] = dir_;
  env["DC_RABBIT_PORT"] = std::to_string(port_);
  env["DC_SERVICES_DIR"] = dir_;
  ToolRun run = run_tool({source_dir() + "/scripts/rabbitmq-local.sh", verb}, env, dir_, timeout);
  if (run.exit_code != 0) {
    return Error(Errc::unavailable, "rabbitmq-local.sh " + verb + " (port " + std::to_string(port_) + ") exited " +
                                        std::to_string(run.exit_code) + ": " + run.out + run.err);
  }
  return ok_status();
}

// The node's ports sit in Linux's ephemeral range (32768-60999): a test
// that opens thousands of client connections at the same time (dc-api's
// hostile clients) can hold one of them for a moment as the local end of
// a connection, and the node then fails to listen. Such a clash is brief:
// try again, three times in all, before calling the start failed.
Status PrivateBroker::start() {
  Status last = ok_status();
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) {
      (void)stop();
      std::this_thread::sleep_for(5s);
    }
    last = script("start", 90s);
    if (last) return last;
  }
  return last;
}
Status PrivateBroker::kill() { return script("kill", 30s); }
Status PrivateBroker::stop() { return script("stop", 60s); }

std::string to_string(Backend backend) { return backend == Backend::sqlite ? "sqlite" : "postgresql"; }

// --- World ---

World::World(Backend backend, BrokerAddress broker) : backend_(backend), broker_(std::move(broker)) {}

Result<std::unique_ptr<World>> World::create(Backend backend, BrokerAddress broker) {
  std::unique_ptr<World> w(new World(backend, std::move(broker)));
  char tmpl[] = "/tmp/dc-e2e-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Error(Errc::io, std::string("mkdtemp: ") + std::strerror(errno));
  w->dir_ = tmpl;
  fs::create_directories(w->dir_ + "/logs");
  fs::create_directories(w->dir_ + "/env");
  w->exchange_ = "dc_e2e_" + random_suffix();
  if (backend == Backend::sqlite) {
    w->db_url_ = "sqlite://" + w->dir_ + "/dc.sqlite3";
  } else {
    auto server = dc::test::postgres_url();
    if (!server) return Error(Errc::invalid_argument, "DC_TEST_PG_URL not set");
    w->pg_database_ = "dc_e2e_" + random_suffix();
    if (auto problem = pg_exec(*server, "CREATE DATABASE " + w->pg_database_); !problem.empty()) {
      w->pg_database_.clear();
      return Error(Errc::unavailable, problem);
    }
    w->db_url_ = with_database(*server, w->pg_database_);
  }
  auto store = Store::open(w->db_url_);
  if (!store) return store.error().with_context("opening the test database");
  w->store_ = std::move(*store);

  // Records what the manager hands an app (SPEC §6.5), one directory per
  // (command, app), "done" written last so a reader never sees half of it.
  write_file(w->dir_ + "/envapp.sh",
             "#!/bin/sh\n"
             "out=\"" +
                 w->dir_ +
                 "/env/${DC_COMMAND_ID:-none}/${DC_APP_ID:-none}\"\n"
                 "mkdir -p \"$out\"\n"
                 "printf '%s' \"$DC_APP_ID\" > \"$out/DC_APP_ID\"\n"
                 "printf '%s' \"$DC_MANAGER\" > \"$out/DC_MANAGER\"\n"
                 "printf '%s' \"$DC_COMMAND_ID\" > \"$out/DC_COMMAND_ID\"\n"
                 "printf '%s' \"$DC_ARGS\" > \"$out/DC_ARGS\"\n"
                 ": > \"$out/done\"\n"
                 "exec '" +
                 collector_app() + "' \"$@\"\n",
             /*executable=*/true);
  return w;
}

World::~World() { cleanup(); }

void World::cleanup() {
  const bool failed = ::testing::Test::HasFailure();
  for (auto& m : managers_) {
    if (!m->child || !m->child->running()) continue;
    m->child->signal(SIGTERM);
    if (!m->child->wait(20s)) {
      m->child->signal(SIGKILL);
      (void)m->child->wait(5s);
    }
  }
  for (const auto& name : names_) kill_apps_of(name);
  if (failed) {
    for (auto& m : managers_) {
      std::cerr << "---- last lines of dc-manager " << m->name << " (" << m->log_path << ")\n"
                << tail_of(m->log_path, 40);
    }
  }
  managers_.clear();

  broker::ConnectionSettings settings;
  settings.endpoints = {{broker_.host, broker_.port}};
  settings.connect_timeout = 2s;
  settings.rpc_timeout = 5s;
  if (auto conn = broker::Connection::open(settings)) {
    for (const auto& name : names_) (void)broker::delete_queue(*conn, name);
    (void)broker::delete_queue(*conn, dead_letter_queue());
    (void)broker::delete_exchange(*conn, exchange_);
    (void)broker::delete_exchange(*conn, exchange_ + ".dlx");
  }

  store_.reset();
  if (!pg_database_.empty()) {
    if (auto server = dc::test::postgres_url()) {
      if (auto problem = pg_exec(*server, "DROP DATABASE IF EXISTS " + pg_database_ + " WITH (FORCE)");
          !problem.empty()) {
        std::cerr << "e2e: could not drop database " << pg_database_ << ": " << problem << '\n';
      }
    }
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

std::vector<std::string> World::witness_lines(const std::string& app_id) const {
  std::vector<std::string> out;
  for (const auto& line : read_lines(witness_path())) {
    if (line.rfind(app_id + " ", 0) == 0) out.push_back(line);
  }
  return out;
}

std::string World::unique(const std::string& prefix) {
  std::string name = prefix + "_" + random_suffix();
  names_.push_back(name);
  return name;
}

Env World::base_env() const {
  Env env;
  env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  env["HOME"] = dir_;
  env["DC_DB_URL"] = db_url_;
  env["DC_RABBIT_HOST"] = broker_.host;
  env["DC_RABBIT_PORT"] = std::to_string(broker_.port);
  env["DC_RABBIT_EXCHANGE"] = exchange_;
  env["DC_RABBIT_HEARTBEAT"] = "2";
  env["DC_LOG_DIR"] = dir_ + "/logs";
  env["DC_POLL_INTERVAL"] = "1";
  env["DC_STOP_TIMEOUT"] = "5";
  env["DC_WITNESS"] = witness_path();
  return env;
}

ManagerProcess* World::start_manager(const std::string& name, const Env& extra, const std::string& mode,
                                     std::string* why) {
  Env env = base_env();
  env["DC_RABBIT_QUEUE"] = name;
  for (const auto& [k, v] : extra) env[k] = v;
  auto m = std::make_unique<ManagerProcess>();
  m->name = name;
  m->log_path = dir_ + "/manager-" + name + ".log";
  auto child = Child::spawn({manager_bin()}, env, dir_, m->log_path);
  if (!child) {
    if (why) *why = child.error().message();
    return nullptr;
  }
  m->child = std::move(*child);
  managers_.push_back(std::move(m));
  ManagerProcess* started = managers_.back().get();
  if (mode.empty()) return started;
  const bool ready = wait_until(
      [&] {
        if (!started->child->running()) return true;
        auto row = manager_row(name);
        return row && row->pid == started->pid() && to_string(row->mode) == mode;
      },
      30s, 50ms);
  if (!ready || !started->child->running()) {
    if (why) {
      *why = "dc-manager " + name +
             (started->child->running()
                  ? " not in mode " + mode + " within 30 s"
                  : " exited with code " + std::to_string(started->child->exit_code().value_or(-1))) +
             "; its log:\n" + tail_of(started->log_path, 30);
    }
    return nullptr;
  }
  return started;
}

std::optional<int> World::stop_manager(ManagerProcess& manager) {
  manager.child->signal(SIGTERM);
  return manager.child->wait(20s);
}

void World::kill_manager(ManagerProcess& manager) {
  manager.child->signal(SIGKILL);
  (void)manager.child->wait(10s);
}

std::optional<ManagerRecord> World::manager_row(const std::string& name) {
  auto managers = store_->list_managers();
  if (!managers) return std::nullopt;
  for (const auto& m : *managers) {
    if (m.name == name) return m;
  }
  return std::nullopt;
}

bool World::wait_manager_mode(const std::string& name, const std::string& mode, std::chrono::milliseconds timeout,
                              int64_t pid) {
  return wait_until(
      [&] {
        auto row = manager_row(name);
        return row && to_string(row->mode) == mode && (pid <= 0 || row->pid == pid);
      },
      timeout, 50ms);
}

ToolRun World::dcctl(const std::vector<std::string>& args, const Env& extra, std::chrono::milliseconds timeout) {
  Env env = base_env();
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> argv{dcctl_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_tool(argv, env, dir_, timeout);
}

nlohmann::json World::dcctl_json(const std::vector<std::string>& args, int expected_exit) {
  std::vector<std::string> with_json = args;
  with_json.push_back("--json");
  ToolRun run = dcctl(with_json);
  std::string shown;
  for (const auto& a : with_json) shown += " " + a;
  EXPECT_EQ(run.exit_code, expected_exit) << "dcctl" << shown << "\nstdout: " << run.out << "\nstderr: " << run.err;
  auto parsed = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    ADD_FAILURE() << "dcctl" << shown << " printed no JSON: " << run.out << "\nstderr: " << run.err;
    return nullptr;
  }
  return parsed;
}

std::optional<CmdFlag> World::issue_marker_and_wait(const std::string& app_id) {
  nlohmann::json report = dcctl_json({"disable", app_id});
  if (!report.is_object() || !report.contains("cmd_id")) return std::nullopt;
  auto rows = wait_outcome(report["cmd_id"].get<std::string>());
  if (rows.size() != 1 || rows[0].flag == CmdFlag::pending) return std::nullopt;
  return rows[0].flag;
}

bool World::add_app(const std::string& app_id, const std::string& manager, const std::vector<std::string>& exec) {
  ToolRun run = dcctl({"apps", "add", app_id, "--manager", manager, "--exec", nlohmann::json(exec).dump()});
  EXPECT_EQ(run.exit_code, 0) << "dcctl apps add " << app_id << ": " << run.out << run.err;
  return run.exit_code == 0;
}

std::vector<std::string> World::env_recording_app() const { return {dir_ + "/envapp.sh"}; }

std::map<std::string, std::string> World::passed_env(const std::string& cmd_id, const std::string& app_id) const {
  const std::string d = dir_ + "/env/" + cmd_id + "/" + app_id;
  std::map<std::string, std::string> out;
  if (!fs::exists(d + "/done")) return out;
  for (const char* v : {"DC_APP_ID", "DC_MANAGER", "DC_COMMAND_ID", "DC_ARGS"}) out[v] = read_file(d + "/" + v);
  return out;
}

std::optional<App> World::app(const std::string& app_id) {
  auto app = store_->get_app(app_id);
  EXPECT_TRUE(app.ok()) << (app.ok() ? "" : app.error().message());
  if (!app.ok()) return std::nullopt;
  return *app;
}

std::vector<CommandRecord> World::rows(const std::string& cmd_id) {
  auto rows = store_->get_command(cmd_id);
  EXPECT_TRUE(rows.ok()) << (rows.ok() ? "" : rows.error().message());
  return rows.ok() ? *rows : std::vector<CommandRecord>{};
}

std::vector<CommandRecord> World::rows_of_app(const std::string& app_id) {
  CommandFilter filter;
  filter.app_id = app_id;
  filter.limit = 0;
  auto rows = store_->list_commands(filter);
  EXPECT_TRUE(rows.ok()) << (rows.ok() ? "" : rows.error().message());
  if (!rows.ok()) return {};
  std::sort(rows->begin(), rows->end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return *rows;
}

std::vector<CommandRecord> World::wait_outcome(const std::string& cmd_id, std::chrono::milliseconds timeout,
                                               size_t min_rows) {
  std::vector<CommandRecord> last;
  wait_until(
      [&] {
        auto rows = store_->get_command(cmd_id);
        if (!rows) return false;
        last = *rows;
        if (last.size() < min_rows) return false;
        for (const auto& r : last) {
          if (r.flag == CmdFlag::pending) return false;
        }
        return true;
      },
      timeout, 25ms);
  return last;
}

namespace {

broker::ConnectionSettings settings_for(const BrokerAddress& address) {
  broker::ConnectionSettings s;
  s.endpoints = {{address.host, address.port}};
  s.connect_timeout = 3s;
  s.rpc_timeout = 5s;
  s.connection_name = "dc e2e test";
  return s;
}

}  // namespace

Status World::declare_queue(const std::string& queue) {
  auto conn = broker::Connection::open(settings_for(broker_));
  if (!conn) return conn.error();
  broker::CommandTopology topology;
  topology.exchange = exchange_;
  topology.queue = queue;
  return broker::declare_command_topology(*conn, topology);
}

Status World::publish(const std::string& routing_key, const std::string& body, const std::string& message_id,
                      int copies) {
  auto conn = broker::Connection::open(settings_for(broker_));
  if (!conn) return conn.error();
  auto publisher = broker::Publisher::create(std::move(*conn));
  if (!publisher) return publisher.error();
  broker::OutgoingMessage message;
  message.exchange = exchange_;
  message.routing_key = routing_key;
  message.body = body;
  message.message_id = message_id.empty() ? random_uuid() : message_id;
  std::vector<broker::OutgoingMessage> batch(static_cast<size_t>(copies), message);
  for (const auto& result : publisher->publish_batch(batch)) {
    if (!result.confirmed()) {
      return Error(Errc::unavailable, "publish to '" + routing_key + "' " +
                                          std::string(broker::to_string(result.outcome)) + ": " + result.detail);
    }
  }
  return ok_status();
}

Status World::publish_message(broker::OutgoingMessage message) {
  auto conn = broker::Connection::open(settings_for(broker_));
  if (!conn) return conn.error();
  auto publisher = broker::Publisher::create(std::move(*conn));
  if (!publisher) return publisher.error();
  message.exchange = exchange_;
  const auto result = publisher->publish(message);
  if (!result.confirmed()) {
    return Error(Errc::unavailable, "publish to '" + message.routing_key + "' " +
                                        std::string(broker::to_string(result.outcome)) + ": " + result.detail);
  }
  return ok_status();
}

Result<broker::Delivery> World::take_message(const std::string& queue, std::chrono::milliseconds timeout) {
  auto conn = broker::Connection::open(settings_for(broker_));
  if (!conn) return conn.error();
  broker::ConsumerOptions options;
  options.queue = queue;
  auto consumer = broker::Consumer::start(std::move(*conn), options);
  if (!consumer) return consumer.error();
  auto delivery = consumer->next(timeout);
  if (!delivery) return delivery.error();
  if (!*delivery) return Error(Errc::timeout, "no message in queue '" + queue + "' within the timeout");
  if (auto st = consumer->ack((*delivery)->delivery_tag); !st) return st.error();
  return std::move(**delivery);
}

std::string World::pg_server_exec(const std::string& sql) {
  auto server = dc::test::postgres_url();
  if (!server) return "DC_TEST_PG_URL not set";
  return pg_exec(*server, sql);
}

std::optional<uint32_t> World::queue_count(const std::string& queue) {
  auto conn = broker::Connection::open(settings_for(broker_));
  if (!conn) return std::nullopt;
  auto count = broker::queue_message_count(*conn, queue);
  if (!count) return std::nullopt;
  return *count;
}

}  // namespace dc::e2e
