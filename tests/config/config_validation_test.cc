// Validation: every bad value is rejected with a message naming the key and
// the source it came from.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"
#include "temp_dir.h"

namespace dc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ConfigValidationTest : public ::testing::Test {
 protected:
  ConfigValidationTest() : cwd_(dir_.path()) {}

  // Loads with `key` set to `value` through a flag; returns the error
  // message, or "" when the value was accepted.
  std::string flag_error(const std::string& key, const std::string& value) {
    ConfigSources sources;
    sources.flags[key] = value;
    Result<Config> config = load_config(sources);
    return config.ok() ? std::string() : config.error().message();
  }
  std::string env_error(const std::string& key, const std::string& value) {
    ConfigSources sources;
    sources.env[config_env_var(key)] = value;
    Result<Config> config = load_config(sources);
    return config.ok() ? std::string() : config.error().message();
  }
  // Loads `toml` as the file x.toml; returns the error message or "".
  std::string file_error(const std::string& toml) {
    ConfigSources sources;
    sources.config_file = dir_.write("x.toml", toml);
    Result<Config> config = load_config(sources);
    return config.ok() ? std::string() : config.error().message();
  }
  // Expects `value` for `key` rejected from a flag and from the environment,
  // each message naming the key and where the value came from.
  void expect_rejected(const std::string& key, const std::string& value) {
    std::string message = flag_error(key, value);
    EXPECT_THAT(message, HasSubstr(key + ": ")) << "flag value '" << value << "'";
    EXPECT_THAT(message, HasSubstr("(from flag " + config_flag(key) + ")")) << "flag value '" << value << "'";
    if (value.empty()) {
      // An empty environment variable counts as unset, so it is accepted.
      EXPECT_EQ(env_error(key, value), "");
      return;
    }
    message = env_error(key, value);
    EXPECT_THAT(message, HasSubstr(key + ": ")) << "env value '" << value << "'";
    EXPECT_THAT(message, HasSubstr("(from environment " + config_env_var(key) + ")")) << "env value '" << value << "'";
  }
  // Expects the one-line file `toml_line` rejected, naming `key` and the line.
  void expect_file_rejected(const std::string& toml_line, const std::string& key) {
    std::string message = file_error(toml_line + "\n");
    EXPECT_THAT(message, HasSubstr(key + ": ")) << toml_line;
    EXPECT_THAT(message, HasSubstr("(from file " + (dir_.path() / "x.toml").string() + ", line 1)")) << toml_line;
  }

  test::TempDir dir_;
  test::ScopedChdir cwd_;
};

TEST_F(ConfigValidationTest, Ports) {
  for (const char* bad : {"abc", "0", "65536", "-1", "56 72", "5672x", "", "99999999999999999999"}) {
    expect_rejected("rabbit_port", bad);
  }
  EXPECT_THAT(env_error("rabbit_port", "abc"),
              HasSubstr("rabbit_port: 'abc' is not a port number (1-65535) (from environment DC_RABBIT_PORT)"));
  EXPECT_EQ(flag_error("rabbit_port", "1"), "");
  EXPECT_EQ(flag_error("rabbit_port", "65535"), "");
  EXPECT_EQ(flag_error("rabbit_port", " 5672 "), "") << "surrounding blanks are forgiven for numbers";
  expect_file_rejected("rabbit_port = 70000", "rabbit_port");
  expect_file_rejected("rabbit_port = \"5672\"", "rabbit_port");
  expect_file_rejected("rabbit_port = 5672.5", "rabbit_port");
  EXPECT_THAT(file_error("rabbit_port = \"5672\"\n"), HasSubstr("expected an integer, got a string"));
}

TEST_F(ConfigValidationTest, Prefetch) {
  for (const char* bad : {"0", "65536", "x"}) expect_rejected("rabbit_prefetch", bad);
  EXPECT_EQ(flag_error("rabbit_prefetch", "65535"), "");
}

TEST_F(ConfigValidationTest, Heartbeat) {
  for (const char* bad : {"-1", "3601", "ten"}) expect_rejected("rabbit_heartbeat", bad);
  EXPECT_EQ(flag_error("rabbit_heartbeat", "0"), "");
  EXPECT_EQ(flag_error("rabbit_heartbeat", "3600"), "");
}

TEST_F(ConfigValidationTest, PollInterval) {
  for (const char* bad : {"0", "-1", "nan", "inf", "abc", "0.001", "3601", "1,5"}) {
    expect_rejected("poll_interval", bad);
  }
  EXPECT_EQ(flag_error("poll_interval", "0.5"), "");
  EXPECT_EQ(flag_error("poll_interval", "2"), "");
  expect_file_rejected("poll_interval = 0.0", "poll_interval");
  expect_file_rejected("poll_interval = nan", "poll_interval");
  expect_file_rejected("poll_interval = \"1.0\"", "poll_interval");
}

TEST_F(ConfigValidationTest, StopTimeout) {
  for (const char* bad : {"-0.5", "-1", "x", "86401"}) expect_rejected("stop_timeout", bad);
  EXPECT_EQ(flag_error("stop_timeout", "0"), "");
  EXPECT_EQ(flag_error("stop_timeout", "2.5"), "");
}

TEST_F(ConfigValidationTest, QueueType) {
  expect_rejected("rabbit_queue_type", "fifo");
  expect_rejected("rabbit_queue_type", "");
  EXPECT_THAT(flag_error("rabbit_queue_type", "stream"), HasSubstr("use classic or quorum"));
  EXPECT_EQ(flag_error("rabbit_queue_type", "quorum"), "");
  EXPECT_EQ(flag_error("rabbit_queue_type", "classic"), "");
}

TEST_F(ConfigValidationTest, Booleans) {
  for (const char* yes : {"true", "1", "yes", "on", "TRUE", "On"}) {
    ConfigSources sources;
    sources.env["DC_RABBIT_TLS"] = yes;
    Result<Config> config = load_config(sources);
    ASSERT_TRUE(config.ok()) << yes;
    EXPECT_TRUE(config->rabbit_tls) << yes;
  }
  for (const char* no : {"false", "0", "no", "off", "NO"}) {
    ConfigSources sources;
    sources.flags["rabbit_tls_verify"] = no;
    Result<Config> config = load_config(sources);
    ASSERT_TRUE(config.ok()) << no;
    EXPECT_FALSE(config->rabbit_tls_verify) << no;
  }
  for (const char* bad : {"maybe", "2", "", "y e s"}) expect_rejected("rabbit_tls", bad);
  EXPECT_THAT(flag_error("rabbit_tls", "maybe"), HasSubstr("true/false, 1/0, yes/no or on/off"));
  // The file uses TOML's own booleans.
  expect_file_rejected("rabbit_tls = \"yes\"", "rabbit_tls");
  expect_file_rejected("rabbit_tls = 1", "rabbit_tls");
}

TEST_F(ConfigValidationTest, QueueName) {
  for (const std::string& bad :
       {std::string(""), std::string("has space"), std::string("slash/name"), std::string("amq.mine"),
        std::string("all"), std::string(256, 'q'), std::string("tab\tname"), std::string("caf\xc3\xa9")}) {
    expect_rejected("rabbit_queue", bad);
  }
  EXPECT_EQ(flag_error("rabbit_queue", std::string(255, 'q')), "");
  EXPECT_EQ(flag_error("rabbit_queue", "site-1.mgr_A:east"), "");
  expect_file_rejected("rabbit_queue = 5", "rabbit_queue");
}

TEST_F(ConfigValidationTest, ExchangeVhostUsernameLogDir) {
  expect_rejected("rabbit_exchange", "");
  expect_rejected("rabbit_exchange", "amq.direct");
  expect_rejected("rabbit_exchange", "with space");
  expect_rejected("rabbit_vhost", "");
  expect_rejected("rabbit_vhost", std::string(256, 'v'));
  expect_rejected("rabbit_username", "");
  expect_rejected("log_dir", "");
  EXPECT_EQ(flag_error("rabbit_vhost", "/prod"), "");
}

TEST_F(ConfigValidationTest, HostList) {
  for (const char* bad :
       {"", "h1,", ",h1", "h1,,h2", "h1:0", "h1:70000", "h1:abc", "bad host", "[::1", "[::1]x", "h/1"}) {
    expect_rejected("rabbit_host", bad);
  }
  EXPECT_THAT(flag_error("rabbit_host", "h1,h2:99999"), HasSubstr("'h2:99999'"));
  expect_file_rejected("rabbit_host = [\"h1\", 5]", "rabbit_host");
  expect_file_rejected("rabbit_host = 5", "rabbit_host");
}

TEST_F(ConfigValidationTest, MetricsListen) {
  for (const char* bad : {"9100", "host", ":9100", "*:9100", "host:", "a:b:c", "host:65536", "::1"}) {
    expect_rejected("metrics_listen", bad);
  }
  // Whatever is accepted here, the HTTP server listens on (same parser):
  // IPv6 literals, host names, and port 0 for any free port.
  for (const char* good : {"127.0.0.1:9100", "[::1]:9100", "localhost:9100", "[::1]:0", "0.0.0.0:0", ""}) {
    ConfigSources sources;
    sources.flags["metrics_listen"] = good;
    Result<Config> config = load_config(sources);
    ASSERT_TRUE(config.ok()) << good << ": " << config.error().message();
    EXPECT_EQ(config->metrics_listen, good);
  }
}

TEST_F(ConfigValidationTest, DbUrl) {
  for (const char* bad : {"mysql://u@h/db", "sqlite://", "dc.sqlite3", "", "sqlite:memory"}) {
    expect_rejected("db_url", bad);
  }
  for (const char* good :
       {"sqlite://dc.sqlite3", "sqlite:///var/lib/dc.db", "sqlite::memory:", "postgresql://u:p@127.0.0.1:5432/dc",
        "postgres://localhost/dc", "postgresql://u:p@10.0.0.1:5432,10.0.0.2:5433/dc?target_session_attrs=read-write"}) {
    EXPECT_EQ(flag_error("db_url", good), "") << good;
  }
  // The error must not echo a password.
  std::string message = env_error("db_url", "mysql://user:topsecretpw@h/db");
  EXPECT_THAT(message, HasSubstr("db_url"));
  EXPECT_THAT(message, Not(HasSubstr("topsecretpw")));
}

TEST_F(ConfigValidationTest, CommandSecrets) {
  expect_rejected("command_secret", "a,,b");
  expect_rejected("command_secret", "a,");
  std::string message = flag_error("command_secret", "secret-one,");
  EXPECT_THAT(message, Not(HasSubstr("secret-one"))) << "secrets are never echoed";
  EXPECT_THAT(file_error("command_secret = [\"k1\", \"\"]\n"), HasSubstr("command_secret: entry 2 of 2 is empty"));
  ConfigSources sources;
  sources.flags["command_secret"] = "";
  Result<Config> config = load_config(sources);
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->command_secrets.empty()) << "an empty value means off";
}

TEST_F(ConfigValidationTest, CommandMaxAge) {
  for (const char* bad : {"0", "-5", "1.5", "x", "4294967296"}) expect_rejected("command_max_age", bad);
  EXPECT_EQ(flag_error("command_max_age", "1"), "");
}

TEST_F(ConfigValidationTest, TlsCertificateNeedsItsKey) {
  std::string message = flag_error("rabbit_tls_cert", "/etc/dc/client.pem");
  EXPECT_THAT(message, HasSubstr("rabbit_tls_cert: is set but rabbit_tls_key is not"));
  EXPECT_THAT(message, HasSubstr("(from flag --rabbit-tls-cert)"));
  EXPECT_THAT(env_error("rabbit_tls_key", "/k.pem"), HasSubstr("(from environment DC_RABBIT_TLS_KEY)"));
  ConfigSources both;
  both.flags["rabbit_tls_cert"] = "/c.pem";
  both.env["DC_RABBIT_TLS_KEY"] = "/k.pem";
  EXPECT_TRUE(load_config(both).ok());
}

TEST_F(ConfigValidationTest, UnknownKeyInFileSuggestsTheClosest) {
  std::string message = file_error("rabbit_port = 5672\nrabit_port = 5673\n");
  EXPECT_THAT(message, HasSubstr("unknown key 'rabit_port'"));
  EXPECT_THAT(message, HasSubstr("x.toml, line 2"));
  EXPECT_THAT(message, HasSubstr("did you mean 'rabbit_port'?"));

  message = file_error("completely_unrelated = 1\n");
  EXPECT_THAT(message, HasSubstr("unknown key 'completely_unrelated'"));
  EXPECT_THAT(message, Not(HasSubstr("did you mean")));

  message = file_error("[rabbit]\nport = 5672\n");
  EXPECT_THAT(message, HasSubstr("unknown key 'rabbit'"));
  EXPECT_THAT(message, HasSubstr("keys are flat"));
}

TEST_F(ConfigValidationTest, WrongTomlTypes) {
  expect_file_rejected("log_dir = 5", "log_dir");
  expect_file_rejected("log_dir = [\"a\"]", "log_dir");
  expect_file_rejected("rabbit_heartbeat = 1979-05-27", "rabbit_heartbeat");
  expect_file_rejected("db_url = { a = 1 }", "db_url");
  EXPECT_THAT(file_error("log_dir = 5\n"), HasSubstr("expected a string, got an integer"));
}

TEST_F(ConfigValidationTest, EveryProblemIsReported) {
  std::string message = file_error("rabbit_port = 0\nrabbit_prefetch = 0\nbogus_key = 1\n");
  EXPECT_THAT(message, HasSubstr("rabbit_port:"));
  EXPECT_THAT(message, HasSubstr("rabbit_prefetch:"));
  EXPECT_THAT(message, HasSubstr("bogus_key"));
}

}  // namespace
}  // namespace dc
