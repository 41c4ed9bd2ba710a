#include "chaos/harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace dc::chaos {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string children_file() {
  const char* dir = std::getenv("DC_CHAOS_WORK_DIR");
  return dir != nullptr ? std::string(dir) + "/children.pids" : std::string();
}

void remember_child(pid_t pid) {
  const std::string file = children_file();
  if (file.empty()) return;
  std::ofstream out(file, std::ios::app);
  out << pid << '\n';
}

Env with_base_env(Env env) {
  for (const char* name : {"PATH", "HOME"}) {
    if (const char* value = std::getenv(name); value != nullptr && env.count(name) == 0) env[name] = value;
  }
  return env;
}

}  // namespace

Result<pid_t> spawn_process(const std::vector<std::string>& argv, const Env& env, const std::string& cwd,
                            const std::string& log_path) {
  if (argv.empty()) return Error(Errc::invalid_argument, "spawn_process: empty argv");
  // Everything the child needs is built before fork(): after it, only
  // async-signal-safe calls (the driver has other threads).
  std::vector<char*> c_argv;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : with_base_env(env)) env_storage.push_back(k + "=" + v);
  std::vector<char*> c_env;
  for (const auto& e : env_storage) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Error(Errc::io, "cannot open log " + log_path + ": " + errno_text());
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return Error(Errc::io, "fork failed: " + errno_text());
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // a ^C to the driver is the driver's business, not its children's
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::close_range(3, ~0U, 0);
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (null_fd >= 0) ::close(null_fd);
  remember_child(pid);
  return pid;
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (r < 0 && errno != EINTR) return -1;  // not our child (already reaped)
    if (Clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<int> run_process(const std::vector<std::string>& argv, const Env& env, const std::string& log_path,
                        std::chrono::milliseconds deadline) {
  auto pid = spawn_process(argv, env, "/", log_path);
  if (!pid) return pid.error();
  if (auto code = wait_exit(*pid, deadline)) return *code;
  ::kill(*pid, SIGKILL);
  (void)wait_exit(*pid, std::chrono::seconds(5));
  return Error(Errc::timeout, argv[0] + " did not finish within " + std::to_string(deadline.count()) +
                                  " ms; killed (log: " + log_path + ")");
}

int kill_orphan_apps(const std::string& manager_prefix) {
  const std::string needle = "DC_MANAGER=" + manager_prefix;
  int killed = 0;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 1 || pid == ::getpid()) continue;
    std::ifstream vars("/proc/" + std::string(entry->d_name) + "/environ", std::ios::binary);
    for (std::string var; std::getline(vars, var, '\0');) {
      if (var.rfind(needle, 0) == 0) {
        // The app's whole process group: the collector's `sleep` too.
        if (::kill(-static_cast<pid_t>(pid), SIGKILL) != 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
        ++killed;
        break;
      }
    }
  }
  ::closedir(proc);
  return killed;
}

Memory memory_of(pid_t pid) {
  Memory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kib = std::strtol(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmHWM:", 0) == 0) m.peak_kib = std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return m;
}

// --- Rabbit ---------------------------------------------------------------

Rabbit::Rabbit(const Paths& paths, int port)
    : paths_(paths), port_(port), services_dir_(paths.work_dir + "/services") {}

Rabbit::~Rabbit() {
  if (frozen_) (void)thaw();
  if (started_) (void)stop();
}

Env Rabbit::script_env() const {
  return Env{{"DC_RABBIT_PORT", std::to_string(port_)}, {"DC_SERVICES_DIR", services_dir_}};
}

Status Rabbit::start() {
  ::mkdir(services_dir_.c_str(), 0755);
  started_ = true;  // even a failed start may leave a node to stop
  auto rc = run_process({paths_.source_dir + "/scripts/rabbitmq-local.sh", "start"}, script_env(),
                        paths_.work_dir + "/rabbitmq-script.log", std::chrono::seconds(90));
  if (!rc) return rc.error();
  if (*rc != 0) {
    return Error(Errc::unavailable, "scripts/rabbitmq-local.sh start (port " + std::to_string(port_) + ") exited " +
                                        std::to_string(*rc) + "; see " + paths_.work_dir + "/rabbitmq-script.log");
  }
  return ok_status();
}

Status Rabbit::stop() {
  if (frozen_) (void)thaw();
  auto rc = run_process({paths_.source_dir + "/scripts/rabbitmq-local.sh", "stop"}, script_env(),
                        paths_.work_dir + "/rabbitmq-script.log", std::chrono::seconds(60));
  started_ = false;
  if (!rc) return rc.error();
  return ok_status();
}

Status Rabbit::kill9() {
  auto rc = run_process({paths_.source_dir + "/scripts/rabbitmq-local.sh", "kill"}, script_env(),
                        paths_.work_dir + "/rabbitmq-script.log", std::chrono::seconds(30));
  if (!rc) return rc.error();
  if (*rc != 0) return Error(Errc::unavailable, "scripts/rabbitmq-local.sh kill exited " + std::to_string(*rc));
  return ok_status();
}

Result<pid_t> Rabbit::node_pid() const {
  const std::string file = services_dir_ + "/rabbitmq-" + std::to_string(port_) + "/rabbitmq.pid";
  std::ifstream in(file);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) return Error(Errc::not_found, "no broker pid in " + file);
  return static_cast<pid_t>(pid);
}

Status Rabbit::freeze() {
  auto pid = node_pid();
  if (!pid) return pid.error();
  if (::kill(*pid, SIGSTOP) != 0) return Error(Errc::io, "SIGSTOP to the broker failed: " + errno_text());
  frozen_ = true;
  return ok_status();
}

Status Rabbit::thaw() {
  auto pid = node_pid();
  if (!pid) return pid.error();
  if (::kill(*pid, SIGCONT) != 0) return Error(Errc::io, "SIGCONT to the broker failed: " + errno_text());
  frozen_ = false;
  return ok_status();
}

// --- Postgres -------------------------------------------------------------

Postgres::Postgres(const Paths& paths, int port)
    : paths_(paths), port_(port), services_dir_(paths.work_dir + "/services") {}

Postgres::~Postgres() {
  if (started_) (void)stop();
}

Env Postgres::script_env() const {
  return Env{{"DC_PG_PORT", std::to_string(port_)}, {"DC_SERVICES_DIR", services_dir_}};
}

Status Postgres::start() {
  ::mkdir(services_dir_.c_str(), 0755);
  started_ = true;
  auto rc = run_process({paths_.source_dir + "/scripts/postgres-local.sh", "start"}, script_env(),
                        paths_.work_dir + "/postgres-script.log", std::chrono::seconds(90));
  if (!rc) return rc.error();
  if (*rc != 0) {
    return Error(Errc::unavailable, "scripts/postgres-local.sh start (port " + std::to_string(port_) + ") exited " +
                                        std::to_string(*rc) + "; see " + paths_.work_dir + "/postgres-script.log");
  }
  return ok_status();
}

Status Postgres::stop() {
  auto rc = run_process({paths_.source_dir + "/scripts/postgres-local.sh", "stop"}, script_env(),
                        paths_.work_dir + "/postgres-script.log", std::chrono::seconds(60));
  started_ = false;
  if (!rc) return rc.error();
  if (*rc != 0) return Error(Errc::unavailable, "scripts/postgres-local.sh stop exited " + std::to_string(*rc));
  return ok_status();
}

Result<std::string> Postgres::create_database(const std::string& name) {
  const std::string psql = "/usr/lib/postgresql/15/bin/psql";
  const std::string port = std::to_string(port_);
  for (const std::string& sql : {"DROP DATABASE IF EXISTS " + name, "CREATE DATABASE " + name}) {
    auto rc =
        run_process({psql, "-X", "-q", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres", "-c", sql},
                    {}, paths_.work_dir + "/postgres-script.log", std::chrono::seconds(30));
    if (!rc) return rc.error();
    if (*rc != 0) return Error(Errc::unavailable, "psql '" + sql + "' exited " + std::to_string(*rc));
  }
  return "postgresql://postgres@127.0.0.1:" + port + "/" + name;
}

// --- ManagerProcess -------------------------------------------------------

ManagerProcess::~ManagerProcess() {
  if (pid_ > 0) kill9();
}

std::string ManagerProcess::log_path() const {
  return spec_.dir + "/" + (spec_.log_name.empty() ? spec_.name : spec_.log_name) + ".log";
}

Status ManagerProcess::spawn() {
  Env env{
      {"DC_RABBIT_HOST", spec_.rabbit_host},
      {"DC_RABBIT_PORT", std::to_string(spec_.rabbit_port)},
      {"DC_RABBIT_QUEUE", spec_.name},
      {"DC_RABBIT_EXCHANGE", spec_.exchange},
      {"DC_RABBIT_QUEUE_TYPE", spec_.queue_type},
      {"DC_RABBIT_HEARTBEAT", std::to_string(spec_.heartbeat_s)},
      {"DC_DB_URL", spec_.db_url},
      {"DC_POLL_INTERVAL", std::to_string(spec_.poll_interval_s)},
      {"DC_STOP_TIMEOUT", "3"},
      {"DC_LOG_DIR", spec_.dir + "/app-logs"},
      {"DC_WITNESS", spec_.witness},
      // Apps end by themselves eventually even if everything else fails.
      {"COLLECTOR_TICKS", "1800"},
  };
  for (const auto& [name, value] : spec_.extra_env) env[name] = value;
  auto pid = spawn_process({paths_.bin_dir + "/dc-manager"}, env, spec_.dir, log_path());
  if (!pid) return pid.error();
  pid_ = *pid;
  ++spawns_;
  return ok_status();
}

void ManagerProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  (void)wait_exit(pid_, std::chrono::seconds(10));
  pid_ = -1;
}

std::optional<int> ManagerProcess::terminate(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGTERM);
  auto code = wait_exit(pid_, deadline);
  if (!code) {
    kill9();
    return std::nullopt;
  }
  pid_ = -1;
  return code;
}

std::optional<int> ManagerProcess::wait(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return std::nullopt;
  auto code = wait_exit(pid_, deadline);
  if (code) pid_ = -1;
  return code;
}

}  // namespace dc::chaos
