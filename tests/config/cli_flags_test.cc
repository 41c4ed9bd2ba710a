// add_config_flags driven through a real CLI::App and argv.
#include "config/cli_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>

#include "temp_dir.h"

namespace dc {
namespace {

using ::testing::HasSubstr;

// Parses `args` (without the program name) like main() would.
void parse(CLI::App& app, std::vector<std::string> args) {
  // CLI11 takes the vector in reverse order (last argument first).
  std::reverse(args.begin(), args.end());
  app.parse(args);
}

class CliFlagsTest : public ::testing::Test {
 protected:
  CliFlagsTest() : cwd_(dir_.path()) {}
  test::TempDir dir_;
  test::ScopedChdir cwd_;
};

TEST_F(CliFlagsTest, EveryKeyHasAFlagWithHelpAndDefault) {
  CLI::App app("test");
  ConfigSources sources;
  add_config_flags(app, sources);
  for (const ConfigKey& key : config_keys()) {
    const CLI::Option* option = app.get_option_no_throw(config_flag(key.name));
    ASSERT_NE(option, nullptr) << key.name;
    EXPECT_THAT(option->get_description(), HasSubstr(std::string(key.help)));
    EXPECT_THAT(option->get_description(), HasSubstr("(default: "));
    // Every option names the environment variable that sets it too.
    EXPECT_THAT(option->get_description(), HasSubstr("[env " + config_env_var(key.name) + "]"));
  }
  EXPECT_NE(app.get_option_no_throw("--config"), nullptr);
  EXPECT_THAT(app.get_option("--config")->get_description(), HasSubstr("[env DC_CONFIG]"));
  EXPECT_THAT(app.help(), HasSubstr("[env DC_RABBIT_PORT]"));
  EXPECT_THAT(app.get_option("--rabbit-port")->get_description(), HasSubstr("(default: 5672)"));
  EXPECT_THAT(app.help(), HasSubstr("--rabbit-queue-type"));
  EXPECT_THAT(app.help(), HasSubstr("Configuration"));
}

TEST_F(CliFlagsTest, FlagsLandInSourcesKeyedByConfigKey) {
  CLI::App app("test");
  ConfigSources sources;
  add_config_flags(app, sources);
  parse(app, {"--config", "x.toml", "--rabbit-port", "5674", "--rabbit-tls=on", "--db-url",
              "sqlite::memory:", "--rabbit-port", "5675"});
  EXPECT_EQ(sources.config_file, "x.toml");
  EXPECT_EQ(sources.flags.at("rabbit_port"), "5675") << "the last of a repeated flag wins";
  EXPECT_EQ(sources.flags.at("rabbit_tls"), "on");
  EXPECT_EQ(sources.flags.at("db_url"), "sqlite::memory:");
  EXPECT_EQ(sources.flags.size(), 3u) << "flags not given stay out, so env and file can apply";
}

TEST_F(CliFlagsTest, UnknownFlagIsRejectedByTheParser) {
  CLI::App app("test");
  ConfigSources sources;
  add_config_flags(app, sources);
  EXPECT_THROW(parse(app, {"--rabbit-prot", "1"}), CLI::ParseError);
}

// The issue's end-to-end scenario, through argv: flag > env > file > default.
TEST_F(CliFlagsTest, IssueScenarioThroughArgv) {
  std::string file = dir_.write("x.toml", "rabbit_port = 5680\nrabbit_queue = \"from_file\"\n");
  auto load = [&](std::vector<std::string> args, std::map<std::string, std::string> env) {
    CLI::App app("test");
    ConfigSources sources;
    add_config_flags(app, sources);
    parse(app, std::move(args));
    sources.env = std::move(env);
    Result<Config> config = load_config(sources);
    EXPECT_TRUE(config.ok()) << config.error().message();
    return config.ok() ? config.value() : Config{};
  };
  EXPECT_EQ(load({"--config", file, "--rabbit-port", "5674"}, {{"DC_RABBIT_PORT", "5673"}}).rabbit_port, 5674);
  EXPECT_EQ(load({"--config", file}, {{"DC_RABBIT_PORT", "5673"}}).rabbit_port, 5673);
  EXPECT_EQ(load({"--config", file}, {}).rabbit_port, 5680);
  EXPECT_EQ(load({}, {}).rabbit_port, 5672);
  EXPECT_EQ(load({"--config", file}, {}).rabbit_queue, "from_file");
}

TEST_F(CliFlagsTest, BadFlagValueNamesTheFlag) {
  CLI::App app("test");
  ConfigSources sources;
  add_config_flags(app, sources);
  parse(app, {"--rabbit-port", "abc"});
  Result<Config> config = load_config(sources);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(), "rabbit_port: 'abc' is not a port number (1-65535) (from flag --rabbit-port)");
}

}  // namespace
}  // namespace dc
