// Precedence (flag > environment > file > default), file lookup and the
// password file.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"
#include "temp_dir.h"

namespace dc {
namespace {

using ::testing::HasSubstr;

// Every test runs in an empty working directory so a stray ./dc.toml cannot
// leak in, and gets a directory to write files into.
class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() : cwd_(dir_.path()) {}

  Config load_ok(const ConfigSources& sources) {
    Result<Config> config = load_config(sources);
    EXPECT_TRUE(config.ok()) << config.error().message();
    return config.ok() ? config.value() : Config{};
  }
  Error load_error(const ConfigSources& sources) {
    Result<Config> config = load_config(sources);
    EXPECT_FALSE(config.ok()) << "expected load_config to fail";
    return config.ok() ? Error(Errc::internal, "no error") : config.error();
  }

  test::TempDir dir_;
  test::ScopedChdir cwd_;
};

// The issue's scenario: DC_RABBIT_PORT=5673 dc-manager --config x.toml
// --rabbit-port 5674 shows 5674; without the flag 5673; without the env var
// the file's value; without the file 5672.
TEST_F(ConfigTest, PortPrecedenceFromTheIssue) {
  std::string file = dir_.write("x.toml", "rabbit_port = 5680\n");
  ConfigSources sources;
  sources.config_file = file;
  sources.env["DC_RABBIT_PORT"] = "5673";
  sources.flags["rabbit_port"] = "5674";
  EXPECT_EQ(load_ok(sources).rabbit_port, 5674);
  sources.flags.clear();
  EXPECT_EQ(load_ok(sources).rabbit_port, 5673);
  sources.env.clear();
  EXPECT_EQ(load_ok(sources).rabbit_port, 5680);
  sources.config_file.reset();
  EXPECT_EQ(load_ok(sources).rabbit_port, 5672);
}

TEST_F(ConfigTest, StringKeyPrecedence) {
  ConfigSources sources;
  sources.config_file = dir_.write("x.toml", "rabbit_queue = \"from_file\"\n");
  sources.env["DC_RABBIT_QUEUE"] = "from_env";
  sources.flags["rabbit_queue"] = "from_flag";
  EXPECT_EQ(load_ok(sources).rabbit_queue, "from_flag");
  EXPECT_EQ(load_ok(sources).manager_name(), "from_flag");
  sources.flags.clear();
  EXPECT_EQ(load_ok(sources).rabbit_queue, "from_env");
  sources.env.clear();
  EXPECT_EQ(load_ok(sources).rabbit_queue, "from_file");
  sources.config_file.reset();
  EXPECT_EQ(load_ok(sources).rabbit_queue, "dc_manager");
}

TEST_F(ConfigTest, BoolKeyPrecedence) {
  ConfigSources sources;
  sources.config_file = dir_.write("x.toml", "rabbit_tls = true\nrabbit_tls_verify = false\n");
  sources.env["DC_RABBIT_TLS"] = "no";
  sources.flags["rabbit_tls"] = "on";
  EXPECT_TRUE(load_ok(sources).rabbit_tls);
  sources.flags.clear();
  EXPECT_FALSE(load_ok(sources).rabbit_tls);
  sources.env.clear();
  Config from_file = load_ok(sources);
  EXPECT_TRUE(from_file.rabbit_tls);
  EXPECT_FALSE(from_file.rabbit_tls_verify);
  sources.config_file.reset();
  EXPECT_FALSE(load_ok(sources).rabbit_tls);
  EXPECT_TRUE(load_ok(sources).rabbit_tls_verify);
}

TEST_F(ConfigTest, FloatKeyPrecedenceAcceptsIntegersToo) {
  ConfigSources sources;
  sources.config_file = dir_.write("x.toml", "poll_interval = 2\nstop_timeout = 2.5\n");
  sources.env["DC_POLL_INTERVAL"] = "0.25";
  sources.flags["poll_interval"] = "3.5";
  EXPECT_DOUBLE_EQ(load_ok(sources).poll_interval, 3.5);
  sources.flags.clear();
  EXPECT_DOUBLE_EQ(load_ok(sources).poll_interval, 0.25);
  sources.env.clear();
  EXPECT_DOUBLE_EQ(load_ok(sources).poll_interval, 2.0);
  EXPECT_DOUBLE_EQ(load_ok(sources).stop_timeout, 2.5);
  sources.config_file.reset();
  EXPECT_DOUBLE_EQ(load_ok(sources).poll_interval, 1.0);
  EXPECT_DOUBLE_EQ(load_ok(sources).stop_timeout, 10.0);
}

TEST_F(ConfigTest, ListKeyPrecedenceAndTomlArrays) {
  ConfigSources sources;
  sources.config_file =
      dir_.write("x.toml", "command_secret = [\"file-a\", \"file-b\"]\nrabbit_host = [\"f1\", \"f2:5700\"]\n");
  sources.env["DC_COMMAND_SECRET"] = "env-a, env-b ,env-c";
  sources.flags["command_secret"] = "flag-a";
  EXPECT_EQ(load_ok(sources).command_secrets, std::vector<std::string>{"flag-a"});
  sources.flags.clear();
  EXPECT_EQ(load_ok(sources).command_secrets, (std::vector<std::string>{"env-a", "env-b", "env-c"}));
  sources.env.clear();
  Config from_file = load_ok(sources);
  EXPECT_EQ(from_file.command_secrets, (std::vector<std::string>{"file-a", "file-b"}));
  EXPECT_EQ(from_file.rabbit_hosts, (std::vector<Endpoint>{{"f1", 5672}, {"f2", 5700}}));
  EXPECT_EQ(from_file.rabbit_host, "f1,f2:5700");
  sources.config_file.reset();
  EXPECT_TRUE(load_ok(sources).command_secrets.empty());
}

TEST_F(ConfigTest, EachKeyResolvesFromItsOwnBestSource) {
  ConfigSources sources;
  sources.config_file = dir_.write("x.toml",
                                   "rabbit_port = 5680\n"
                                   "rabbit_queue = \"file_q\"\n"
                                   "log_dir = \"/var/log/dc\"\n");
  sources.env["DC_RABBIT_QUEUE"] = "env_q";
  sources.flags["rabbit_port"] = "5690";
  Config config = load_ok(sources);
  EXPECT_EQ(config.rabbit_port, 5690);
  EXPECT_EQ(config.rabbit_queue, "env_q");
  EXPECT_EQ(config.log_dir, "/var/log/dc");
  EXPECT_EQ(config.db_url, "sqlite://dc.sqlite3");
}

TEST_F(ConfigTest, HostsWithoutPortUseTheResolvedPort) {
  ConfigSources sources;
  sources.env["DC_RABBIT_HOST"] = "h1,h2:5673,[::1]:5671,h3";
  sources.flags["rabbit_port"] = "5699";
  Config config = load_ok(sources);
  EXPECT_EQ(config.rabbit_hosts, (std::vector<Endpoint>{{"h1", 5699}, {"h2", 5673}, {"::1", 5671}, {"h3", 5699}}));
  EXPECT_EQ(config.rabbit_host, "h1,h2:5673,[::1]:5671,h3");

  ConfigSources port_only;
  port_only.flags["rabbit_port"] = "5700";
  EXPECT_EQ(load_ok(port_only).rabbit_hosts, (std::vector<Endpoint>{{"localhost", 5700}}));
}

TEST_F(ConfigTest, NoSourcesGivesTheDefaults) {
  Config config = load_ok(ConfigSources{});
  Config defaults;
  EXPECT_EQ(config.rabbit_hosts, defaults.rabbit_hosts);
  EXPECT_EQ(config.rabbit_port, 5672);
  EXPECT_EQ(config.rabbit_password, "guest");
  EXPECT_TRUE(config.rabbit_password_file.empty());
  EXPECT_EQ(config.rabbit_queue, "dc_manager");
  EXPECT_EQ(config.db_url, "sqlite://dc.sqlite3");
  EXPECT_EQ(config.command_max_age, 300);
}

// Each key's documented default, given back as a flag, yields Config{}'s
// value: the table and the struct cannot drift apart unnoticed.
TEST_F(ConfigTest, DocumentedDefaultsMatchTheStruct) {
  ConfigSources sources;
  for (const ConfigKey& key : config_keys()) {
    if (key.name == "rabbit_password_file") continue;  // "" = not used; tested below
    sources.flags[std::string(key.name)] = std::string(key.default_value);
  }
  Config config = load_ok(sources);
  Config defaults;
  EXPECT_EQ(config_to_json(config), config_to_json(defaults));
  EXPECT_EQ(config.rabbit_hosts, defaults.rabbit_hosts);
  EXPECT_EQ(config.rabbit_password, defaults.rabbit_password);
  EXPECT_EQ(config.command_secrets, defaults.command_secrets);
}

TEST_F(ConfigTest, EmptyEnvironmentVariablesCountAsUnset) {
  ConfigSources sources;
  sources.config_file = dir_.write("x.toml", "rabbit_port = 5680\n");
  sources.env["DC_RABBIT_PORT"] = "";
  EXPECT_EQ(load_ok(sources).rabbit_port, 5680);
}

TEST_F(ConfigTest, UnrelatedDcVariablesAreIgnored) {
  ConfigSources sources;
  sources.env["DC_APP_ID"] = "app1";
  sources.env["DC_ARGS"] = "{}";
  sources.env["DC_TEST_RABBIT_HOST"] = "127.0.0.1";
  EXPECT_TRUE(load_config(sources).ok());
}

TEST_F(ConfigTest, UnknownFlagKeyIsAnError) {
  ConfigSources sources;
  sources.flags["rabbit_prot"] = "1";
  Error error = load_error(sources);
  EXPECT_THAT(error.message(), HasSubstr("rabbit_prot"));
  EXPECT_THAT(error.message(), HasSubstr("did you mean 'rabbit_port'"));
}

// ---------------------------------------------------------------------------
// File lookup

TEST_F(ConfigTest, DcConfigEnvironmentNamesTheFile) {
  ConfigSources sources;
  sources.env["DC_CONFIG"] = dir_.write("env.toml", "rabbit_prefetch = 7\n");
  EXPECT_EQ(load_ok(sources).rabbit_prefetch, 7);
}

TEST_F(ConfigTest, ConfigFlagBeatsDcConfig) {
  ConfigSources sources;
  sources.env["DC_CONFIG"] = dir_.write("env.toml", "rabbit_prefetch = 7\n");
  sources.config_file = dir_.write("flag.toml", "rabbit_prefetch = 8\n");
  EXPECT_EQ(load_ok(sources).rabbit_prefetch, 8);
}

TEST_F(ConfigTest, DcTomlInTheWorkingDirectoryIsUsedWhenPresent) {
  EXPECT_EQ(load_ok(ConfigSources{}).rabbit_prefetch, 1);
  dir_.write("dc.toml", "rabbit_prefetch = 9\n");
  EXPECT_EQ(load_ok(ConfigSources{}).rabbit_prefetch, 9);

  ConfigSources sources;
  sources.config_file = dir_.write("other.toml", "rabbit_prefetch = 4\n");
  EXPECT_EQ(load_ok(sources).rabbit_prefetch, 4) << "an explicit file replaces ./dc.toml";
}

TEST_F(ConfigTest, MissingExplicitFileIsAnIoErrorNamingIt) {
  ConfigSources sources;
  sources.config_file = (dir_.path() / "nope.toml").string();
  Error error = load_error(sources);
  EXPECT_EQ(error.code(), Errc::io);
  EXPECT_THAT(error.message(), HasSubstr("nope.toml"));
  EXPECT_THAT(error.message(), HasSubstr("--config"));
  EXPECT_THAT(error.message(), HasSubstr("No such file"));
}

TEST_F(ConfigTest, MissingDcConfigFileIsAnIoErrorNamingTheVariable) {
  ConfigSources sources;
  sources.env["DC_CONFIG"] = (dir_.path() / "gone.toml").string();
  Error error = load_error(sources);
  EXPECT_EQ(error.code(), Errc::io);
  EXPECT_THAT(error.message(), HasSubstr("gone.toml"));
  EXPECT_THAT(error.message(), HasSubstr("DC_CONFIG"));
}

TEST_F(ConfigTest, DirectoryAsConfigFileIsAnIoError) {
  ConfigSources sources;
  sources.config_file = dir_.path().string();
  Error error = load_error(sources);
  EXPECT_EQ(error.code(), Errc::io);
  EXPECT_THAT(error.message(), HasSubstr("directory"));
}

TEST_F(ConfigTest, UnreadableConfigFileIsAnIoError) {
  ConfigSources sources;
  sources.config_file = dir_.write("locked.toml", "rabbit_port = 1\n");
  ASSERT_EQ(::chmod(sources.config_file->c_str(), 0), 0);
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  // Root reads any file whatever its mode, so the check runs in a child that
  // has dropped to an unprivileged user (as CI and developers here are root).
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    auto result = load_config(sources);
    if (result.ok()) ::_exit(11);
    const Error& error = result.error();
    if (error.code() != Errc::io) ::_exit(12);
    if (error.message().find("locked.toml") == std::string::npos) ::_exit(13);
    if (error.message().find("Permission denied") == std::string::npos) ::_exit(14);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 setuid failed, 11 loaded, 12 wrong code, 13 no file name, 14 no reason";
}

TEST_F(ConfigTest, EmptyConfigFlagIsAnError) {
  ConfigSources sources;
  sources.config_file = "";
  EXPECT_THAT(load_error(sources).message(), HasSubstr("--config"));
}

TEST_F(ConfigTest, TomlSyntaxErrorReportsFileLineAndColumn) {
  ConfigSources sources;
  sources.config_file = dir_.write("broken.toml", "rabbit_port = 5672\nrabbit_queue = \"unterminated\n");
  Error error = load_error(sources);
  EXPECT_EQ(error.code(), Errc::invalid_argument);
  EXPECT_THAT(error.message(), HasSubstr("broken.toml"));
  EXPECT_THAT(error.message(), HasSubstr("line 2"));
  EXPECT_THAT(error.message(), HasSubstr("column"));
}

TEST_F(ConfigTest, EmptyFileIsFine) {
  ConfigSources sources;
  sources.config_file = dir_.write("empty.toml", "# nothing here\n");
  EXPECT_EQ(load_ok(sources).rabbit_port, 5672);
}

TEST_F(ConfigTest, TomlTextEntryPointMatchesTheFileFlow) {
  ConfigSources sources;
  sources.env["DC_RABBIT_PORT"] = "5673";
  Result<Config> config = load_config_from_toml_text("rabbit_port = 5680\nrabbit_prefetch = 3\n", sources);
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->rabbit_port, 5673);
  EXPECT_EQ(config->rabbit_prefetch, 3);

  Result<Config> bad = load_config_from_toml_text("rabbit_prefetch = 0\n", {}, "inline.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("file inline.toml, line 1"));
}

TEST_F(ConfigTest, LoadConfigFromUsesTheProcessEnvironmentWhenNoneIsGiven) {
  ASSERT_EQ(::setenv("DC_RABBIT_PREFETCH", "11", 1), 0);
  ASSERT_EQ(::setenv("NOT_DC_RABBIT_PREFETCH", "12", 1), 0);
  std::map<std::string, std::string> env = current_environment();
  EXPECT_EQ(env["DC_RABBIT_PREFETCH"], "11");
  EXPECT_EQ(env.count("NOT_DC_RABBIT_PREFETCH"), 0u);
  Result<Config> config = load_config_from(ConfigSources{});
  ConfigSources explicit_env;
  explicit_env.env["DC_RABBIT_PREFETCH"] = "13";
  Result<Config> overridden = load_config_from(explicit_env);
  ::unsetenv("DC_RABBIT_PREFETCH");
  ::unsetenv("NOT_DC_RABBIT_PREFETCH");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->rabbit_prefetch, 11);
  ASSERT_TRUE(overridden.ok());
  EXPECT_EQ(overridden->rabbit_prefetch, 13);
}

// ---------------------------------------------------------------------------
// rabbit_password_file

TEST_F(ConfigTest, PasswordFileIsReadWithTrailingNewlineStripped) {
  ConfigSources sources;
  std::string path = dir_.write("pw", "s3cret pass\n");
  sources.env["DC_RABBIT_PASSWORD_FILE"] = path;
  Config config = load_ok(sources);
  EXPECT_EQ(config.rabbit_password, "s3cret pass");
  EXPECT_EQ(config.rabbit_password_file, path);

  sources.env["DC_RABBIT_PASSWORD_FILE"] = dir_.write("pw-crlf", "crlf\r\n");
  EXPECT_EQ(load_ok(sources).rabbit_password, "crlf");
  sources.env["DC_RABBIT_PASSWORD_FILE"] = dir_.write("pw-bare", "bare");
  EXPECT_EQ(load_ok(sources).rabbit_password, "bare");
}

TEST_F(ConfigTest, MissingPasswordFileNamesKeyFileAndSource) {
  ConfigSources sources;
  sources.flags["rabbit_password_file"] = (dir_.path() / "no-such-pw").string();
  Error error = load_error(sources);
  EXPECT_EQ(error.code(), Errc::io);
  EXPECT_THAT(error.message(), HasSubstr("rabbit_password_file"));
  EXPECT_THAT(error.message(), HasSubstr("no-such-pw"));
  EXPECT_THAT(error.message(), HasSubstr("flag --rabbit-password-file"));
}

// A FIFO with no writer would block a plain open() forever.
TEST_F(ConfigTest, PasswordFileMustBeARegularFile) {
  std::string fifo = (dir_.path() / "pw-fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ConfigSources sources;
  sources.env["DC_RABBIT_PASSWORD_FILE"] = fifo;
  Error error = load_error(sources);
  EXPECT_EQ(error.code(), Errc::io);
  EXPECT_THAT(error.message(), HasSubstr("not a regular file"));
  EXPECT_THAT(error.message(), HasSubstr("environment DC_RABBIT_PASSWORD_FILE"));
}

TEST_F(ConfigTest, EmptyPasswordFileIsAnError) {
  ConfigSources sources;
  sources.flags["rabbit_password_file"] = dir_.write("pw-empty", "\n");
  Error error = load_error(sources);
  EXPECT_THAT(error.message(), HasSubstr("rabbit_password_file"));
  EXPECT_THAT(error.message(), HasSubstr("empty"));
}

TEST_F(ConfigTest, PasswordAndPasswordFileFollowPrecedence) {
  std::string pw_file = dir_.write("pw", "from-file\n");
  {
    // File gives the password file; the environment's password is higher.
    ConfigSources sources;
    sources.config_file = dir_.write("a.toml", "rabbit_password_file = \"" + pw_file + "\"\n");
    sources.env["DC_RABBIT_PASSWORD"] = "from-env";
    Config config = load_ok(sources);
    EXPECT_EQ(config.rabbit_password, "from-env");
    EXPECT_TRUE(config.rabbit_password_file.empty());
  }
  {
    // File gives the password; the environment's password file is higher.
    ConfigSources sources;
    sources.config_file = dir_.write("b.toml", "rabbit_password = \"in-toml\"\n");
    sources.env["DC_RABBIT_PASSWORD_FILE"] = pw_file;
    EXPECT_EQ(load_ok(sources).rabbit_password, "from-file");
  }
  {
    // Both from the same source: ambiguous.
    ConfigSources sources;
    sources.env["DC_RABBIT_PASSWORD"] = "x";
    sources.env["DC_RABBIT_PASSWORD_FILE"] = pw_file;
    Error error = load_error(sources);
    EXPECT_THAT(error.message(), HasSubstr("rabbit_password_file"));
    EXPECT_THAT(error.message(), HasSubstr("keep only one"));
    EXPECT_THAT(error.message(), HasSubstr("environment DC_RABBIT_PASSWORD"));
  }
}

}  // namespace
}  // namespace dc

namespace dc {
namespace {

// dc-worker's keys and [actors.NAME] tables (SPEC §9).
class WorkerConfigTest : public ::testing::Test {
 protected:
  Result<Config> load_text(const std::string& toml, ConfigSources sources = {}) {
    return load_config_from_toml_text(toml, sources, "w.toml");
  }
};

TEST_F(WorkerConfigTest, ActorTablesAndWorkerKeys) {
  auto config = load_text(R"(
worker_queues = ["pipeline", "default"]
worker_threads = 4
task_max_priority = 10

[actors.collect]
exec = ["/opt/jobs/collect", "--fast"]
queue = "pipeline"
max_retries = 3
min_backoff = 100
time_limit = 5000
pipe_ignore = true

[actors.plain]
exec = ["plain"]
)");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->worker_queues, (std::vector<std::string>{"pipeline", "default"}));
  EXPECT_EQ(config->worker_threads, 4);
  EXPECT_EQ(config->task_max_priority, 10);
  ASSERT_EQ(config->actors.size(), 2u);
  const ActorConfig& collect = config->actors[0];
  EXPECT_EQ(collect.name, "collect");
  EXPECT_EQ(collect.exec, (std::vector<std::string>{"/opt/jobs/collect", "--fast"}));
  EXPECT_EQ(collect.queue, "pipeline");
  EXPECT_EQ(collect.max_retries, 3);
  EXPECT_EQ(collect.min_backoff, 100);
  EXPECT_EQ(collect.time_limit, 5000);
  EXPECT_FALSE(collect.max_backoff.has_value());
  EXPECT_TRUE(collect.pipe_ignore);
  EXPECT_EQ(config->actors[1].queue, "default") << "Dramatiq's default queue";
  const std::string json = config_to_json(*config);
  EXPECT_NE(json.find("\"collect\""), std::string::npos);
}

TEST_F(WorkerConfigTest, WorkerQueuesFromTheCommandLine) {
  ConfigSources sources;
  sources.flags["worker_queues"] = "pipeline, other";
  auto config = load_text("", sources);
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->worker_queues, (std::vector<std::string>{"pipeline", "other"}));
}

TEST_F(WorkerConfigTest, BadActorTablesNameTheActorKeyAndLine) {
  auto missing = load_text("[actors.a]\nqueue = \"q\"\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("actors.a: exec is missing (file w.toml, line 1)"), std::string::npos)
      << missing.error().message();
  auto typed = load_text("[actors.a]\nexec = \"/bin/true\"\nmax_retries = -1\nbogus = 1\n");
  ASSERT_FALSE(typed.ok());
  const std::string m = typed.error().message();
  EXPECT_NE(m.find("actors.a.exec: expected a non-empty array"), std::string::npos) << m;
  EXPECT_NE(m.find("actors.a.max_retries: expected an integer >= 0 (from file w.toml, line 3)"), std::string::npos)
      << m;
  EXPECT_NE(m.find("actors.a.bogus: unknown actor setting"), std::string::npos) << m;
  auto threads = load_text("worker_threads = 0\n");
  ASSERT_FALSE(threads.ok());
  EXPECT_NE(threads.error().message().find("worker_threads"), std::string::npos);
}

}  // namespace
}  // namespace dc
