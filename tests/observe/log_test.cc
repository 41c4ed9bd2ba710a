#include "observe/log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace dc {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "dc-log-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    log_path_ = dir_ / "manager.log";
  }
  void TearDown() override {
    // Back to stderr so no later test writes into the removed directory.
    EXPECT_TRUE(init_logging(LogOptions{}));
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void init(LogFormat format, spdlog::level::level_enum level = spdlog::level::info) {
    const Status status = init_logging(LogOptions{format, level, log_path_.string()});
    ASSERT_TRUE(status) << status.error().message();
  }

  fs::path dir_;
  fs::path log_path_;
};

// "2026-01-01T00:00:00.123Z": `9` in the pattern stands for any digit.
// (std::regex is avoided: g++ 12 warns inside it under the sanitizers.)
bool is_log_time(std::string_view text) {
  constexpr std::string_view kPattern = "9999-99-99T99:99:99.999Z";
  if (text.size() != kPattern.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool ok = kPattern[i] == '9' ? (text[i] >= '0' && text[i] <= '9') : text[i] == kPattern[i];
    if (!ok) return false;
  }
  return true;
}

TEST_F(LogTest, JsonLinesParseAndKeepTheMessageExactly) {
  init(LogFormat::json);
  const std::string tricky = "command \"START\" for app\nwith a newline, a tab\t, a backslash \\ and \x01 control";
  spdlog::info("{}", tricky);
  spdlog::warn("second {}", 2);
  spdlog::error("caf\xc3\xa9 and invalid utf-8 \xff here");
  spdlog::debug("below the level: not written");

  const auto lines = read_lines(log_path_);
  ASSERT_EQ(lines.size(), 3u);
  std::vector<nlohmann::json> records;
  for (const auto& line : lines) {
    const auto parsed = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
    ASSERT_TRUE(parsed.is_object());
    EXPECT_EQ(parsed.size(), 3u) << line;
    EXPECT_TRUE(is_log_time(parsed.at("time").get<std::string>())) << line;
    records.push_back(parsed);
  }
  EXPECT_EQ(records[0].at("level"), "info");
  EXPECT_EQ(records[0].at("msg"), tricky);
  EXPECT_EQ(records[1].at("level"), "warn");
  EXPECT_EQ(records[1].at("msg"), "second 2");
  EXPECT_EQ(records[2].at("level"), "error");
  EXPECT_EQ(records[2].at("msg"), "caf\xc3\xa9 and invalid utf-8 \xef\xbf\xbd here");
  // Field order is part of the format: time, level, msg.
  EXPECT_TRUE(lines[1].starts_with("{\"time\":\"")) << lines[1];
  EXPECT_NE(lines[1].find("\",\"level\":\"warn\",\"msg\":\"second 2\"}"), std::string::npos) << lines[1];
}

TEST_F(LogTest, TextLinesHaveTimeLevelAndOneLinePerRecord) {
  init(LogFormat::text, spdlog::level::debug);
  spdlog::info("hello");
  spdlog::debug("two\nlines");
  spdlog::critical("bell\x07");
  spdlog::trace("below the level");

  const auto lines = read_lines(log_path_);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].size() > 24 && is_log_time(std::string_view(lines[0]).substr(0, 24))) << lines[0];
  EXPECT_EQ(lines[0].substr(24), " INFO hello");
  EXPECT_TRUE(lines[1].ends_with(" DEBUG two\\nlines")) << lines[1];
  EXPECT_TRUE(lines[2].ends_with(" CRITICAL bell\\x07")) << lines[2];
}

TEST_F(LogTest, ReopenAfterRenameWritesANewFileAtTheOriginalPath) {
  init(LogFormat::text);
  spdlog::info("before rotation");
  const fs::path rotated = dir_ / "manager.log.1";
  fs::rename(log_path_, rotated);
  spdlog::info("after rename, before reopen");  // still the old (renamed) file
  const Status reopened = reopen_log_file();
  ASSERT_TRUE(reopened) << reopened.error().message();
  spdlog::info("after reopen");

  ASSERT_TRUE(fs::exists(log_path_));
  const auto fresh = read_lines(log_path_);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_TRUE(fresh[0].ends_with("INFO after reopen")) << fresh[0];
  const auto old = read_lines(rotated);
  ASSERT_EQ(old.size(), 2u);
  EXPECT_TRUE(old[0].ends_with("before rotation"));
  EXPECT_TRUE(old[1].ends_with("after rename, before reopen"));
}

TEST_F(LogTest, InitAppendsToAnExistingFile) {
  { std::ofstream(log_path_) << "existing line\n"; }
  init(LogFormat::text);
  spdlog::info("appended");
  const auto lines = read_lines(log_path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "existing line");
}

TEST_F(LogTest, ReopenFailureKeepsLoggingToTheOldFile) {
  const fs::path sub = dir_ / "sub";
  fs::create_directory(sub);
  log_path_ = sub / "manager.log";
  init(LogFormat::text);
  const fs::path moved = dir_ / "moved.log";
  fs::rename(log_path_, moved);
  fs::remove(sub);  // the original path can no longer be created
  const Status reopened = reopen_log_file();
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code(), Errc::io);
  EXPECT_NE(reopened.error().message().find(log_path_.string()), std::string::npos);
  spdlog::info("still logged");
  const auto lines = read_lines(moved);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].ends_with("still logged"));
}

TEST_F(LogTest, UnopenableFileIsAnIoErrorNamingIt) {
  const std::string path = (dir_ / "missing-dir" / "x.log").string();
  const Status status = init_logging(LogOptions{LogFormat::json, spdlog::level::info, path});
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), Errc::io);
  EXPECT_NE(status.error().message().find(path), std::string::npos);
}

TEST_F(LogTest, ReopenWithStderrLoggingIsANoOp) {
  ASSERT_TRUE(init_logging(LogOptions{}));
  EXPECT_TRUE(reopen_log_file());
}

// Issue 16: under systemd (StandardError=journal) every record carries its
// syslog priority, so `journalctl -p warning` shows warnings and errors.
TEST_F(LogTest, ToTheJournalEachRecordCarriesItsPriority) {
  // Standard error becomes a file the journal "is": JOURNAL_STREAM names it.
  const int saved = ::dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  const std::string path = (dir_ / "journal.stream").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_GE(::dup2(fd, STDERR_FILENO), 0);
  ::close(fd);
  struct stat info {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &info), 0);
  ASSERT_EQ(::setenv("JOURNAL_STREAM", (std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino)).c_str(), 1),
            0);
  EXPECT_TRUE(stderr_is_journal());
  LogOptions options;
  options.level = spdlog::level::debug;
  options.journal = stderr_is_journal();
  ASSERT_TRUE(init_logging(options));
  spdlog::debug("d");
  spdlog::info("i");
  spdlog::warn("w");
  spdlog::error("e");
  spdlog::critical("c");
  ASSERT_TRUE(init_logging(LogOptions{}));
  ::fflush(stderr);
  ASSERT_GE(::dup2(saved, STDERR_FILENO), 0);
  ::close(saved);
  ::unsetenv("JOURNAL_STREAM");
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].substr(0, 3), "<7>");
  EXPECT_EQ(lines[1].substr(0, 3), "<6>");
  EXPECT_EQ(lines[2].substr(0, 3), "<4>");
  EXPECT_EQ(lines[3].substr(0, 3), "<3>");
  EXPECT_EQ(lines[4].substr(0, 3), "<2>");
  EXPECT_NE(lines[2].find("WARN w"), std::string::npos) << lines[2];
  // Another stream, or none: not the journal.
  ::setenv("JOURNAL_STREAM", "1:2", 1);
  EXPECT_FALSE(stderr_is_journal());
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(stderr_is_journal());
}

TEST(LogOptionsParsing, ParsesFormatsAndLevels) {
  EXPECT_EQ(parse_log_format("JSON").value(), LogFormat::json);
  EXPECT_EQ(parse_log_format("text").value(), LogFormat::text);
  const auto bad_format = parse_log_format("xml");
  ASSERT_FALSE(bad_format);
  EXPECT_EQ(bad_format.error().code(), Errc::invalid_argument);
  EXPECT_NE(bad_format.error().message().find("xml"), std::string::npos);

  EXPECT_EQ(parse_log_level("Debug").value(), spdlog::level::debug);
  EXPECT_EQ(parse_log_level("warning").value(), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("error").value(), spdlog::level::err);
  EXPECT_EQ(parse_log_level("off").value(), spdlog::level::off);
  const auto bad_level = parse_log_level("verbose");
  ASSERT_FALSE(bad_level);
  EXPECT_NE(bad_level.error().message().find("trace, debug, info"), std::string::npos);
}

}  // namespace
}  // namespace dc
