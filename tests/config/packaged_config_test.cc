// The packages' /etc/dc/dc.toml (packaging/dc.toml.example) documents every
// configuration key, so it cannot drift from the key table: each key of
// config_keys() appears as a commented "#key = value" line whose first
// occurrence shows the key's default, no such line names an unknown key,
// and the file with those lines uncommented is a valid configuration equal
// to the defaults.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "config/config.h"

namespace dc {
namespace {

std::string packaged_config() {
  std::ifstream in(DC_PACKAGED_CONFIG);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first "#key = value" line of each top-level key (before any table
// such as [actors.NAME]), value as written.
std::map<std::string, std::string> shown_keys(const std::string& text) {
  std::map<std::string, std::string> keys;
  const std::regex line_re("^#([a-z_]+) = (.*)$");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#[", 0) == 0) break;  // table keys follow
    std::smatch m;
    if (std::regex_match(line, m, line_re)) keys.emplace(m[1], m[2]);
  }
  return keys;
}

std::string unquoted(const std::string& value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') return value.substr(1, value.size() - 2);
  return value;
}

TEST(PackagedConfig, ShowsEveryKeyWithItsDefault) {
  const std::string text = packaged_config();
  ASSERT_FALSE(text.empty()) << "cannot read " << DC_PACKAGED_CONFIG;
  const auto shown = shown_keys(text);
  std::set<std::string> known;
  for (const ConfigKey& key : config_keys()) {
    known.emplace(key.name);
    const auto it = shown.find(std::string(key.name));
    ASSERT_NE(it, shown.end()) << "packaging/dc.toml.example does not show #" << key.name << " = ...";
    EXPECT_EQ(unquoted(it->second), key.default_value) << key.name << ": the first line must show the default";
  }
  for (const auto& [name, value] : shown) EXPECT_TRUE(known.count(name)) << "unknown key #" << name;
}

TEST(PackagedConfig, UncommentedIsTheDefaultConfiguration) {
  std::string toml;
  for (const auto& [name, value] : shown_keys(packaged_config())) {
    // Two spellings of one setting; the file shows both, one may be given.
    if (name == "rabbit_password_file") continue;
    toml += name + " = " + value + "\n";
  }
  const auto config = load_config_from_toml_text(toml, {}, "dc.toml.example");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config_to_json(*config), config_to_json(Config{}));
}

}  // namespace
}  // namespace dc
