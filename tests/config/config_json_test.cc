// config_to_json (what --print-config shows) and the key table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "config/config.h"

namespace dc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConfigJsonTest, HasEveryKeyInTableOrderAndNothingElse) {
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(config_to_json(Config{}));
  ASSERT_TRUE(json.is_object());
  std::vector<std::string> printed;
  for (const auto& item : json.items()) printed.push_back(item.key());
  std::vector<std::string> expected;
  for (const ConfigKey& key : config_keys()) expected.emplace_back(key.name);
  expected.emplace_back("actors");  // the [actors.NAME] tables, not a key
  EXPECT_EQ(printed, expected);
}

TEST(ConfigJsonTest, ValuesHaveTheirNaturalTypes) {
  nlohmann::json json = nlohmann::json::parse(config_to_json(Config{}));
  EXPECT_EQ(json["rabbit_host"], "localhost");
  EXPECT_EQ(json["rabbit_port"], 5672);
  EXPECT_TRUE(json["rabbit_port"].is_number_integer());
  EXPECT_EQ(json["rabbit_prefetch"], 1);
  EXPECT_EQ(json["rabbit_heartbeat"], 10);
  EXPECT_EQ(json["rabbit_tls"], false);
  EXPECT_EQ(json["rabbit_tls_verify"], true);
  EXPECT_TRUE(json["rabbit_tls_ca"].is_null());
  EXPECT_TRUE(json["poll_interval"].is_number_float());
  EXPECT_DOUBLE_EQ(json["poll_interval"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(json["stop_timeout"].get<double>(), 10.0);
  EXPECT_EQ(json["db_url"], "sqlite://dc.sqlite3");
  EXPECT_TRUE(json["metrics_listen"].is_null());
  EXPECT_TRUE(json["command_secret"].is_null()) << "off";
  EXPECT_EQ(json["rabbit_password"], "***") << "the default password is still a secret";
  EXPECT_EQ(json["command_max_age"], 300);
}

TEST(ConfigJsonTest, NoSecretAppearsInClear) {
  ConfigSources sources;
  sources.flags["rabbit_password"] = "Pw-Clear-Text-1";
  sources.flags["command_secret"] = "Hmac-Key-One,Hmac-Key-Two";
  sources.flags["db_url"] = "postgresql://dcuser:Db-Pass-3@db.example:5432/dc?password=Db-Pass-4";
  sources.flags["metrics_listen"] = "127.0.0.1:9100";
  Result<Config> config = load_config(sources);
  ASSERT_TRUE(config.ok()) << config.error().message();
  std::string text = config_to_json(*config);
  for (const char* secret : {"Pw-Clear-Text-1", "Hmac-Key-One", "Hmac-Key-Two", "Db-Pass-3", "Db-Pass-4"}) {
    EXPECT_THAT(text, Not(HasSubstr(secret)));
  }
  nlohmann::json json = nlohmann::json::parse(text);
  EXPECT_EQ(json["rabbit_password"], "***");
  EXPECT_EQ(json["command_secret"], "***");
  EXPECT_EQ(json["db_url"], "postgresql://dcuser:***@db.example:5432/dc?password=***");
  EXPECT_EQ(json["metrics_listen"], "127.0.0.1:9100");
}

TEST(ConfigJsonTest, MultiHostDbUrlIsShownWithThePasswordMasked) {
  ConfigSources sources;
  sources.flags["db_url"] =
      "postgresql://dc:Pair-Pass-5@10.0.0.1:5432,10.0.0.2:5432/dc?target_session_attrs=read-write";
  Result<Config> config = load_config(sources);
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->db_url, sources.flags["db_url"]) << "the URL reaches libpq unchanged";
  const std::string text = config_to_json(*config);
  EXPECT_THAT(text, Not(HasSubstr("Pair-Pass-5")));
  EXPECT_EQ(nlohmann::json::parse(text)["db_url"],
            "postgresql://dc:***@10.0.0.1:5432,10.0.0.2:5432/dc?target_session_attrs=read-write");
}

TEST(ConfigJsonTest, SecretKeysAreMarked) {
  std::set<std::string_view> secrets;
  std::set<std::string_view> names;
  for (const ConfigKey& key : config_keys()) {
    if (key.secret) secrets.insert(key.name);
    EXPECT_TRUE(names.insert(key.name).second) << "duplicate key " << key.name;
    EXPECT_FALSE(key.help.empty()) << key.name;
  }
  EXPECT_EQ(secrets, (std::set<std::string_view>{"rabbit_password", "command_secret"}));
  for (const char* spec_key :
       {"rabbit_host",       "rabbit_port",     "rabbit_username", "rabbit_password", "rabbit_password_file",
        "rabbit_queue",      "rabbit_prefetch", "rabbit_vhost",    "rabbit_exchange", "rabbit_heartbeat",
        "rabbit_tls",        "rabbit_tls_ca",   "rabbit_tls_cert", "rabbit_tls_key",  "rabbit_tls_verify",
        "rabbit_queue_type", "db_url",          "poll_interval",   "stop_timeout",    "log_dir",
        "metrics_listen",    "command_secret",  "command_max_age", "lease_ttl",       "schedule_misfire_grace",
        "worker_queues",     "worker_threads",  "api_listen",      "api_tokens_file", "api_tls_cert",
        "api_tls_key",       "api_max_body",    "api_url",         "api_token_file"}) {
    EXPECT_NE(find_config_key(spec_key), nullptr) << spec_key;
  }
  EXPECT_EQ(names.size(), 42u);
  EXPECT_EQ(find_config_key("nope"), nullptr);
}

TEST(ConfigNamingTest, EnvironmentAndFlagNames) {
  EXPECT_EQ(config_env_var("rabbit_host"), "DC_RABBIT_HOST");
  EXPECT_EQ(config_flag("rabbit_host"), "--rabbit-host");
  EXPECT_EQ(config_flag("db_url"), "--db-url");
}

TEST(ConfigNamingTest, ClosestKey) {
  EXPECT_EQ(closest_config_key("rabit_port"), "rabbit_port");
  EXPECT_EQ(closest_config_key("RABBIT_HOST"), "rabbit_host");
  EXPECT_EQ(closest_config_key("rabbit-heartbeat"), "rabbit_heartbeat");
  EXPECT_EQ(closest_config_key("poll_intervall"), "poll_interval");
  EXPECT_EQ(closest_config_key("rabbit_password_file_path"), "rabbit_password_file");
  EXPECT_EQ(closest_config_key("port"), std::nullopt);
  EXPECT_EQ(closest_config_key("xyz"), std::nullopt);
  EXPECT_EQ(closest_config_key(""), std::nullopt);
  EXPECT_EQ(closest_config_key(std::string(1000, 'a')), std::nullopt);
}

}  // namespace
}  // namespace dc
