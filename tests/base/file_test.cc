#include "base/file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace dc {
namespace {

class ReadSmallFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dc-file-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string dir_;
};

TEST_F(ReadSmallFile, ReadsAWholeFileUpToTheLimit) {
  const std::string content(10000, 'x');
  auto read = read_small_file(write("f", content), 10000);
  ASSERT_TRUE(read.ok()) << read.error().message();
  EXPECT_EQ(*read, content);
  auto empty = read_small_file(write("e", ""), 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST_F(ReadSmallFile, RefusesWhatIsNotASmallRegularFile) {
  auto big = read_small_file(write("big", std::string(101, 'x')), 100);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), Errc::io);
  EXPECT_NE(big.error().message().find("larger than 100 bytes"), std::string::npos);

  auto missing = read_small_file(dir_ + "/missing", 100);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::io);

  auto directory = read_small_file(dir_, 100);
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.error().message().find("directory"), std::string::npos);

  // A FIFO without a writer: refused at once, never waited on.
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto pipe = read_small_file(fifo, 100);
  ASSERT_FALSE(pipe.ok());
  EXPECT_NE(pipe.error().message().find("not a regular file"), std::string::npos);
}

TEST_F(ReadSmallFile, ReadsProcFiles) {
  auto environ_block = read_small_file("/proc/self/environ", size_t{1} << 20);
  ASSERT_TRUE(environ_block.ok()) << environ_block.error().message();
}

}  // namespace
}  // namespace dc
