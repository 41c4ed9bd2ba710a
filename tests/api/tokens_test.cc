#include "api/tokens.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace dc {
namespace {

using namespace std::chrono_literals;

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dc-tokens-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "tokens").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(TokenFileTest, AddStoresOnlyTheHashAndAuthenticates) {
  auto viewer = add_token(path_, "grafana", Role::viewer);
  ASSERT_TRUE(viewer) << viewer.error().message();
  auto admin = add_token(path_, "alice@example.com", Role::admin);
  ASSERT_TRUE(admin);
  EXPECT_TRUE(viewer->starts_with("dc_"));
  EXPECT_EQ(viewer->size(), 3u + 64u);
  EXPECT_NE(*viewer, *admin);

  std::ifstream in(path_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string content = buffer.str();
  EXPECT_EQ(content.find(*viewer), std::string::npos) << "the token itself must not be stored";
  EXPECT_NE(content.find("grafana viewer " + hash_token(*viewer)), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  TokenStore store(path_);
  ASSERT_TRUE(store.load());
  auto who = store.authenticate(*admin);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->name, "alice@example.com");
  EXPECT_EQ(who->role, Role::admin);
  EXPECT_FALSE(store.authenticate("dc_" + std::string(64, '0')));
  EXPECT_FALSE(store.authenticate(""));
}

TEST_F(TokenFileTest, NamesAreUniqueAndRevokeTakesEffectWithoutRestart) {
  auto first = add_token(path_, "ci", Role::operator_);
  ASSERT_TRUE(first);
  auto again = add_token(path_, "ci", Role::viewer);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::conflict);
  EXPECT_FALSE(add_token(path_, "bad name", Role::viewer));
  EXPECT_FALSE(add_token(path_, "<img>", Role::viewer));

  TokenStore store(path_, 0ms);
  ASSERT_TRUE(store.load());
  ASSERT_TRUE(store.authenticate(*first));
  ASSERT_TRUE(revoke_token(path_, "ci"));
  EXPECT_FALSE(store.authenticate(*first));
  EXPECT_EQ(revoke_token(path_, "ci").error().code(), Errc::not_found);
}

TEST_F(TokenFileTest, MalformedFilesAreRefusedNamingTheLine) {
  std::ofstream(path_) << "# comment\n\nalice admin " << std::string(64, 'a') << "\nbob superuser "
                       << std::string(64, 'b') << "\n";
  auto read = read_token_file(path_);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message().find("line 4"), std::string::npos) << read.error().message();
  std::ofstream(path_) << "alice admin nothex\n";
  EXPECT_FALSE(read_token_file(path_));
  std::ofstream(path_) << "a viewer " << std::string(64, 'a') << "\na admin " << std::string(64, 'b') << "\n";
  EXPECT_FALSE(read_token_file(path_));
  // A missing file is no tokens, not an error.
  auto missing = read_token_file((dir_ / "none").string());
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->empty());
}

TEST_F(TokenFileTest, ABrokenEditKeepsThePreviousTokens) {
  auto token = add_token(path_, "ops", Role::operator_);
  ASSERT_TRUE(token);
  TokenStore store(path_, 0ms);
  ASSERT_TRUE(store.load());
  std::this_thread::sleep_for(10ms);
  std::ofstream(path_, std::ios::app) << "garbage line\n";
  EXPECT_TRUE(store.authenticate(*token));
}

}  // namespace
}  // namespace dc
