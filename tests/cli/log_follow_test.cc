#include "cli/log_follow.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace dc {
namespace {

namespace fs = std::filesystem;

TEST(LastLines, CountsLinesFromTheEnd) {
  EXPECT_EQ(std::string_view("a\nb\nc\n").substr(last_lines_offset("a\nb\nc\n", 2)), "b\nc\n");
  EXPECT_EQ(std::string_view("a\nb\nc").substr(last_lines_offset("a\nb\nc", 2)), "b\nc");
  EXPECT_EQ(last_lines_offset("a\nb\nc\n", 3), 0u);
  EXPECT_EQ(last_lines_offset("a\nb\nc\n", 10), 0u);
  EXPECT_EQ(last_lines_offset("a\nb\n", 0), 4u);
  EXPECT_EQ(last_lines_offset("", 5), 0u);
  EXPECT_EQ(std::string_view("a\n\n\n").substr(last_lines_offset("a\n\n\n", 2)), "\n\n");
}

TEST(FollowStep, DecidesLikeTailDashCapitalF) {
  const FileIdentity open{1, 100, 500};
  EXPECT_EQ(decide_follow_step(open, FileIdentity{1, 100, 500}, 500), FollowStep::read_on);
  EXPECT_EQ(decide_follow_step(open, FileIdentity{1, 100, 600}, 500), FollowStep::read_on);
  // Renamed away, a new file in its place: finish the old one, go on with the new.
  EXPECT_EQ(decide_follow_step(open, FileIdentity{1, 101, 0}, 500), FollowStep::reopen);
  EXPECT_EQ(decide_follow_step(open, FileIdentity{2, 100, 0}, 500), FollowStep::reopen);
  // Truncated in place (copytruncate).
  EXPECT_EQ(decide_follow_step(FileIdentity{1, 100, 10}, FileIdentity{1, 100, 10}, 500), FollowStep::rewind);
  // Nothing at the path for a moment: keep reading what is open.
  EXPECT_EQ(decide_follow_step(open, std::nullopt, 500), FollowStep::read_on);
}

class LogFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dc-log-follow-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    path_ = dir_ / "app.log";
  }
  void TearDown() override { fs::remove_all(dir_); }
  void append(const std::string& text, const fs::path& path) {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << text;
  }
  void append(const std::string& text) { append(text, path_); }

  fs::path dir_;
  fs::path path_;
};

TEST_F(LogFollowerTest, AMissingFileIsNotFound) {
  auto follower = LogFollower::open(path_);
  ASSERT_FALSE(follower);
  EXPECT_EQ(follower.error().code(), Errc::not_found);
  EXPECT_NE(follower.error().message().find(path_.string()), std::string::npos);
}

TEST_F(LogFollowerTest, TailsThenFollowsAppends) {
  append("one\ntwo\nthree\n");
  auto follower = LogFollower::open(path_);
  ASSERT_TRUE(follower) << follower.error().message();
  EXPECT_EQ(*follower->tail(2), "two\nthree\n");
  EXPECT_EQ(*follower->read_new(), "");
  append("four\n");
  EXPECT_EQ(*follower->read_new(), "four\n");
  append("fi");
  EXPECT_EQ(*follower->read_new(), "fi");
  append("ve\n");
  EXPECT_EQ(*follower->read_new(), "ve\n");
}

TEST_F(LogFollowerTest, TailReadsOnlyTheLastBytesOfAHugeLog) {
  std::string big;
  for (int i = 0; i < 10000; ++i) big += "line " + std::to_string(i) + "\n";
  append(big);
  auto follower = LogFollower::open(path_);
  ASSERT_TRUE(follower);
  EXPECT_EQ(*follower->tail(3, 64), "line 9997\nline 9998\nline 9999\n");
  append("more\n");
  EXPECT_EQ(*follower->read_new(), "more\n");
}

TEST_F(LogFollowerTest, FollowsARotationByRename) {
  append("before\n");
  auto follower = LogFollower::open(path_);
  ASSERT_TRUE(follower);
  EXPECT_EQ(*follower->tail(10), "before\n");
  append("last words\n");  // written before the rename, not yet read
  fs::rename(path_, dir_ / "app.log.1");
  append("after rotation\n");  // the new file at the path
  EXPECT_EQ(*follower->read_new(), "last words\nafter rotation\n");
  append("and on\n");
  EXPECT_EQ(*follower->read_new(), "and on\n");
}

TEST_F(LogFollowerTest, FollowsATruncation) {
  append("a long first line\nand a second\n");
  auto follower = LogFollower::open(path_);
  ASSERT_TRUE(follower);
  (void)follower->tail(10);
  fs::resize_file(path_, 0);  // logrotate's copytruncate
  append("fresh\n");
  EXPECT_EQ(*follower->read_new(), "fresh\n");
}

TEST_F(LogFollowerTest, KeepsReadingWhileThePathIsEmpty) {
  append("x\n");
  auto follower = LogFollower::open(path_);
  ASSERT_TRUE(follower);
  (void)follower->tail(10);
  fs::rename(path_, dir_ / "app.log.1");
  append("y\n", dir_ / "app.log.1");  // the app still writes to the renamed file
  EXPECT_EQ(*follower->read_new(), "y\n");
  append("z\n");  // the new file appears
  EXPECT_EQ(*follower->read_new(), "z\n");
}

}  // namespace
}  // namespace dc
