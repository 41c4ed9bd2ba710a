// dcctl as an operator uses it (issue 16): several apps in one command,
// `status` with its LSB exit codes, `logs` and `logs -f`, `apps update`, the
// exit code of a database that cannot be reached, and the progress line of
// a broadcast on a terminal (dcctl run under a pseudo-terminal). The real
// dc-manager and dcctl against the real broker and both stores.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>

#include "e2e/e2e_fixture.h"

namespace dc::e2e {
namespace {

using nlohmann::json;

class E2eDcctlTest : public E2eTest {
 protected:
  // Registers `app_id` for `manager` running the example collector.
  void add_collector(const std::string& app_id, const std::string& manager) {
    ASSERT_TRUE(w().add_app(app_id, manager, {collector_app()}));
  }
  // Registers collectors `first` and `second` for a new manager, starts the
  // manager and, with dcctl, `first`. False (with a failure) when one step
  // did not work.
  bool manager_with_two_collectors(const std::string& manager, const std::string& first, const std::string& second) {
    add_collector(first, manager);
    add_collector(second, manager);
    if (::testing::Test::HasFailure() || start(manager) == nullptr) return false;
    ToolRun started = w().dcctl({"start", first, "--wait=20"});
    EXPECT_EQ(started.exit_code, 0) << started.out << started.err;
    return started.exit_code == 0;
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    out.push_back(text.substr(at, end == std::string::npos ? std::string::npos : end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct PtyRun {
  int exit_code = -1;
  std::string out;
};

// Runs argv with `env` on a fresh pseudo-terminal as its stdin, stdout and
// stderr (so isatty() is true, as for an operator at a terminal), and
// collects everything it wrote until it exits or `timeout` passes.
PtyRun run_in_pty(const std::vector<std::string>& argv, const Env& env, const std::string& cwd,
                  std::chrono::milliseconds timeout) {
  PtyRun run;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  env_strings.push_back("TERM=xterm");
  std::vector<char*> c_argv;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (auto& e : env_strings) c_env.push_back(e.data());
  c_env.push_back(nullptr);

  int master = -1;
  struct winsize size {};
  size.ws_row = 40;
  size.ws_col = 200;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) return run;
  if (pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    struct pollfd pfd {
      master, POLLIN, 0
    };
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 200)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child has exited and closed the terminal
    run.out.append(buf, static_cast<size_t>(n));
  }
  // The terminal closes before the process has quite exited (a sanitizer
  // build checks for leaks after that): wait for the exit, within the time.
  int status = 0;
  pid_t reaped = 0;
  while ((reaped = ::waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  if (reaped == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else if (reaped == pid && WIFEXITED(status)) {
    run.exit_code = WEXITSTATUS(status);
  }
  ::close(master);
  return run;
}

TEST_P(E2eDcctlTest, RestartOfSeveralAppsIsOneCommandEachInTheOrderGiven) {
  const std::string manager = w().unique("mgr");
  const std::string a = w().unique("a");
  const std::string b = w().unique("b");
  add_collector(a, manager);
  add_collector(b, manager);
  ASSERT_NE(start(manager), nullptr);
  ToolRun started = w().dcctl({"start", a, b, "--wait=20"});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;

  ToolRun restarted = w().dcctl({"restart", a, b, "--wait=20"});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out << restarted.err;
  // Two commands, a's first, and an outcome line for each.
  const size_t cmd_a = restarted.out.find("RESTART " + a + " (1 app)");
  const size_t cmd_b = restarted.out.find("RESTART " + b + " (1 app)");
  ASSERT_NE(cmd_a, std::string::npos) << restarted.out;
  ASSERT_NE(cmd_b, std::string::npos) << restarted.out;
  EXPECT_LT(cmd_a, cmd_b) << restarted.out;
  EXPECT_TRUE(contains(restarted.out, "  " + a + ": EXECUTED")) << restarted.out;
  EXPECT_TRUE(contains(restarted.out, "  " + b + ": EXECUTED")) << restarted.out;
  const auto rows_a = w().rows_of_app(a);
  const auto rows_b = w().rows_of_app(b);
  ASSERT_EQ(rows_a.size(), 2u);
  ASSERT_EQ(rows_b.size(), 2u);
  EXPECT_NE(rows_a.back().cmd_id, rows_b.back().cmd_id) << "one command per app";
  const auto& last_a = rows_a.back().command == CmdName::restart ? rows_a.back() : rows_a.front();
  const auto& last_b = rows_b.back().command == CmdName::restart ? rows_b.back() : rows_b.front();
  EXPECT_LT(last_a.seq, last_b.seq) << "issued in the order given";

  // --json: one document listing the commands in order.
  const json doc = w().dcctl_json({"stop", a, b, "--wait=20"});
  ASSERT_TRUE(doc.contains("commands")) << doc.dump();
  ASSERT_EQ(doc["commands"].size(), 2u);
  EXPECT_EQ(doc["commands"][0]["target"], a);
  EXPECT_EQ(doc["commands"][1]["target"], b);
  EXPECT_EQ(doc["commands"][1]["outcomes"][0]["flag"], 1);

  // One unknown app among them: the others still run; the exit is 1.
  ToolRun mixed = w().dcctl({"start", a, "no_such_app_x", b, "--wait=20"});
  EXPECT_EQ(mixed.exit_code, 1) << mixed.out << mixed.err;
  EXPECT_TRUE(contains(mixed.err, "no_such_app_x")) << mixed.err;
  EXPECT_TRUE(contains(mixed.out, "  " + b + ": EXECUTED")) << mixed.out;
  auto app_b = w().app(b);
  ASSERT_TRUE(app_b.has_value());
  EXPECT_EQ(app_b->status, AppStatus::running);
}

TEST_P(E2eDcctlTest, StatusIsOneLinePerAppWithLsbExitCodes) {
  const std::string manager = w().unique("mgr");
  const std::string a = w().unique("a");
  const std::string b = w().unique("b");
  ASSERT_TRUE(manager_with_two_collectors(manager, a, b));
  auto app_a = w().app(a);
  ASSERT_TRUE(app_a.has_value() && app_a->pid.has_value());

  ToolRun one = w().dcctl({"status", a});
  EXPECT_EQ(one.exit_code, 0) << one.out << one.err;
  auto lines = lines_of(one.out);
  ASSERT_EQ(lines.size(), 2u) << one.out;
  EXPECT_TRUE(lines[0].starts_with("APP_ID")) << one.out;
  for (const char* column : {"STATUS", "PID", "UPTIME", "ENABLED", "LAST_CMD", "CMD_FLAG"}) {
    EXPECT_TRUE(contains(lines[0], column)) << column << " in " << lines[0];
  }
  EXPECT_TRUE(lines[1].starts_with(a)) << lines[1];
  for (const std::string& cell : {std::string("RUNNING"), std::to_string(*app_a->pid), std::string("yes"),
                                  std::string("START"), std::string("EXECUTED")}) {
    EXPECT_TRUE(contains(lines[1], " " + cell + " ") || lines[1].ends_with(" " + cell)) << cell << " in " << lines[1];
  }
  // Aligned: every column starts where its header does.
  EXPECT_EQ(lines[0].find("STATUS"), lines[1].find("RUNNING"));

  // A named app that is not running: 3, as systemctl status answers.
  ToolRun both = w().dcctl({"status", a, b});
  EXPECT_EQ(both.exit_code, 3) << both.out << both.err;
  EXPECT_EQ(lines_of(both.out).size(), 3u) << both.out;
  EXPECT_TRUE(contains(both.out, "STOPPED")) << both.out;

  // An unknown app: 4, with its own message; the known one is still shown.
  ToolRun unknown = w().dcctl({"status", a, "no_such_app_y"});
  EXPECT_EQ(unknown.exit_code, 4) << unknown.out << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "unknown app 'no_such_app_y'")) << unknown.err;
  EXPECT_TRUE(contains(unknown.out, a)) << unknown.out;

  // -q: no header; every app without names; exit 0 for a listing.
  ToolRun quiet = w().dcctl({"status", "-q"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  lines = lines_of(quiet.out);
  ASSERT_EQ(lines.size(), 2u) << quiet.out;
  EXPECT_FALSE(contains(quiet.out, "APP_ID")) << quiet.out;

  const json doc = w().dcctl_json({"status", a, b}, 3);
  ASSERT_TRUE(doc.is_array() && doc.size() == 2) << doc.dump();
  EXPECT_EQ(doc[0]["status"], "RUNNING");
  EXPECT_EQ(doc[0]["pid"], *app_a->pid);
  EXPECT_TRUE(doc[0]["uptime_s"].is_number());
  EXPECT_EQ(doc[1]["status"], "STOPPED");

  // -q on the other listings too.
  ToolRun apps = w().dcctl({"apps", "list", "--no-headers"});
  EXPECT_EQ(apps.exit_code, 0);
  EXPECT_EQ(lines_of(apps.out).size(), 2u) << apps.out;
  ToolRun managers = w().dcctl({"managers", "-q"});
  EXPECT_FALSE(contains(managers.out, "LAST_SEEN")) << managers.out;
  EXPECT_TRUE(contains(managers.out, manager)) << managers.out;
}

TEST_P(E2eDcctlTest, LogsTailsTheAppLogAndFollowsNewLinesUntilSigterm) {
  const std::string manager = w().unique("mgr");
  const std::string a = w().unique("a");
  const std::string never = w().unique("never");
  ASSERT_TRUE(manager_with_two_collectors(manager, a, never));
  const std::string log = w().dir() + "/logs/" + a + ".log";
  ASSERT_TRUE(wait_until([&] { return read_lines(log).size() >= 3; }, 15s)) << "the collector wrote no lines";

  ToolRun two = w().dcctl({"logs", a, "-n", "2"});
  EXPECT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(lines_of(two.out).size(), 2u) << two.out;

  // -f: lines written after it started arrive; SIGTERM ends it with 0.
  const std::string followed = w().dir() + "/follow.out";
  Env env = w().base_env();
  auto child = Child::spawn({dcctl_bin(), "logs", a, "-n", "0", "-f"}, env, w().dir(), followed);
  ASSERT_TRUE(child) << child.error().message();
  const size_t before = read_lines(log).size();
  ASSERT_TRUE(wait_until([&] { return read_lines(followed).size() >= 2; }, 15s))
      << "dcctl logs -f showed no new lines: " << read_file(followed);
  // What it showed are lines the app wrote after -f started, in order.
  const auto shown = read_lines(followed);
  const auto all = read_lines(log);
  auto at = std::search(all.begin(), all.end(), shown.begin(), shown.end());
  EXPECT_NE(at, all.end()) << "not the app's lines: " << read_file(followed);
  EXPECT_GE(static_cast<size_t>(at - all.begin()), before - 1);
  (*child)->signal(SIGTERM);
  EXPECT_EQ((*child)->wait(10s), 0) << read_file(followed);

  // An app that never ran has no log: a clear error naming the path.
  ToolRun missing = w().dcctl({"logs", never});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_TRUE(contains(missing.err, w().dir() + "/logs/" + never + ".log")) << missing.err;
  EXPECT_TRUE(contains(missing.err, "run by manager '" + manager + "'")) << missing.err;
}

TEST_P(E2eDcctlTest, AppsUpdateChangesWhatItIsGivenAndValidatesLikeAdd) {
  const std::string manager = w().unique("mgr");
  const std::string other = w().unique("mgr");
  const std::string a = w().unique("a");
  add_collector(a, manager);

  ToolRun updated = w().dcctl({"apps", "update", a, "--exec", R"(["/bin/sleep", "60"])", "--schedule", "every 5m"});
  ASSERT_EQ(updated.exit_code, 0) << updated.out << updated.err;
  auto app = w().app(a);
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->exec, (std::vector<std::string>{"/bin/sleep", "60"}));
  EXPECT_EQ(app->schedule, "every 5m");
  EXPECT_EQ(app->manager, manager) << "what was not given stays";

  const json doc = w().dcctl_json({"apps", "update", a, "--no-schedule", "--manager", other});
  EXPECT_EQ(doc["manager"], other) << doc.dump();
  EXPECT_TRUE(doc["schedule"].is_null()) << doc.dump();
  app = w().app(a);
  ASSERT_TRUE(app.has_value());
  EXPECT_FALSE(app->schedule.has_value());
  EXPECT_EQ(app->manager, other);

  // Validated as `apps add` validates, before anything changes.
  EXPECT_EQ(w().dcctl({"apps", "update", a, "--schedule", "every fortnight"}).exit_code, 2);
  EXPECT_EQ(w().dcctl({"apps", "update", a, "--exec", "/bin/sleep 60"}).exit_code, 2);
  EXPECT_EQ(w().dcctl({"apps", "update", a, "--exec", "[]"}).exit_code, 2);
  EXPECT_EQ(w().dcctl({"apps", "update", a, "--manager", "all"}).exit_code, 2);
  EXPECT_EQ(w().dcctl({"apps", "update", a}).exit_code, 2);
  ToolRun unknown = w().dcctl({"apps", "update", "no_such_app_z", "--name", "x"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "no_such_app_z")) << unknown.err;
  app = w().app(a);
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->exec, (std::vector<std::string>{"/bin/sleep", "60"}));
}

TEST_P(E2eDcctlTest, ADatabaseThatCannotBeReachedIsExitFiveNotNotExecuted) {
  // Nothing listens on port 1; a SQLite file in a directory that does not exist.
  for (const std::string& url : {std::string("postgresql://dc@127.0.0.1:1/dc?connect_timeout=2"),
                                 "sqlite://" + w().dir() + "/no/such/dir/dc.sqlite3"}) {
    const Env env{{"DC_DB_URL", url}};
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"start", "some_app", "--wait=5"}, std::vector<std::string>{"status"},
          std::vector<std::string>{"restart", "a", "b"}, std::vector<std::string>{"apps", "list"}}) {
      ToolRun run = w().dcctl(args, env);
      EXPECT_EQ(run.exit_code, 5) << url << " " << args[0] << ": " << run.out << run.err;
      EXPECT_FALSE(run.err.empty());
    }
  }
  ToolRun help = w().dcctl({"--help"});
  EXPECT_TRUE(contains(help.out, "5 the database cannot be reached")) << help.out;
  EXPECT_TRUE(contains(help.out, "[env DC_DB_URL]")) << help.out;
}

TEST_P(E2eDcctlTest, ABroadcastOnATerminalShowsAProgressLineRewrittenInPlace) {
  const std::string manager = w().unique("mgr");
  std::vector<std::string> apps;
  for (int i = 0; i < 4; ++i) {
    apps.push_back(w().unique("p"));
    ASSERT_TRUE(w().add_app(apps.back(), manager, {"/bin/true"}));
  }
  ASSERT_NE(start(manager), nullptr);

  Env env = w().base_env();
  PtyRun tty = run_in_pty({dcctl_bin(), "enable", "--all", "--manager", manager, "--wait=20"}, env, w().dir(), 30s);
  EXPECT_EQ(tty.exit_code, 0) << tty.out;
  // Rewritten in place: a carriage return and erase-line before each redraw,
  // the final count, and each app's outcome as its own line.
  EXPECT_TRUE(contains(tty.out, "\r\x1b[K")) << json(tty.out).dump();
  EXPECT_TRUE(contains(tty.out, "0/4 executed, 0 not executed")) << json(tty.out).dump();
  EXPECT_TRUE(contains(tty.out, "4/4 executed, 0 not executed")) << json(tty.out).dump();
  for (const auto& app : apps) EXPECT_TRUE(contains(tty.out, app + ": EXECUTED")) << json(tty.out).dump();

  // Not a terminal: plain lines only, the summary once at the end.
  ToolRun plain = w().dcctl({"disable", "--all", "--manager", manager, "--wait=20"});
  EXPECT_EQ(plain.exit_code, 0) << plain.out << plain.err;
  EXPECT_FALSE(contains(plain.out, "\r")) << json(plain.out).dump();
  EXPECT_FALSE(contains(plain.out, "\x1b")) << json(plain.out).dump();
  EXPECT_TRUE(contains(plain.out, "4/4 executed, 0 not executed\n")) << plain.out;
  for (const auto& app : apps) EXPECT_TRUE(contains(plain.out, "  " + app + ": EXECUTED")) << plain.out;
}

DC_E2E_BACKENDS(E2eDcctlTest);

}  // namespace
}  // namespace dc::e2e
