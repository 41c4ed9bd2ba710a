#include "observe/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <system_error>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace dc {

namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
// The one owner of the log file's FILE*.
using UniqueFile = std::unique_ptr<std::FILE, FileCloser>;

Result<UniqueFile> open_for_append(const std::string& path) {
  // "e" = O_CLOEXEC: app processes the manager spawns must not inherit it.
  std::FILE* file = std::fopen(path.c_str(), "ae");
  if (file == nullptr) {
    return Error(Errc::io, "cannot open log file " + path + ": " + std::system_category().message(errno) +
                               "; check that its directory exists and is writable");
  }
  return UniqueFile(file);
}

std::string_view level_name(spdlog::level::level_enum level, bool upper) {
  switch (level) {
    case spdlog::level::trace:
      return upper ? "TRACE" : "trace";
    case spdlog::level::debug:
      return upper ? "DEBUG" : "debug";
    case spdlog::level::info:
      return upper ? "INFO" : "info";
    case spdlog::level::warn:
      return upper ? "WARN" : "warn";
    case spdlog::level::err:
      return upper ? "ERROR" : "error";
    case spdlog::level::critical:
      return upper ? "CRITICAL" : "critical";
    default:
      return upper ? "OFF" : "off";
  }
}

void append(spdlog::memory_buf_t& dest, std::string_view text) { dest.append(text.data(), text.data() + text.size()); }

// "2026-01-01T00:00:00.123Z"
void append_time(spdlog::memory_buf_t& dest, spdlog::log_clock::time_point time) {
  using namespace std::chrono;
  const auto millis = duration_cast<milliseconds>(time.time_since_epoch()).count();
  const auto seconds_part = static_cast<std::time_t>(millis / 1000);
  const auto millis_part = static_cast<int>(millis % 1000);
  std::tm tm{};
  ::gmtime_r(&seconds_part, &tm);
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis_part);
  if (n > 0) dest.append(buf, buf + std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

// Keeps one record on one line in the text format.
void append_text_escaped(spdlog::memory_buf_t& dest, std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      append(dest, "\\n");
    } else if (c == '\r') {
      append(dest, "\\r");
    } else if (c == '\t') {
      append(dest, "\\t");
    } else if (byte < 0x20 || byte == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", byte);
      append(dest, buf);
    } else {
      dest.push_back(c);
    }
  }
}

class LineFormatter final : public spdlog::formatter {
 public:
  LineFormatter(LogFormat format, bool journal) : format_(format), journal_(journal) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (journal_) append(dest, journal_priority_prefix(msg.level));
    if (format_ == LogFormat::json) {
      append(dest, "{\"time\":\"");
      append_time(dest, msg.time);
      append(dest, "\",\"level\":\"");
      append(dest, level_name(msg.level, false));
      append(dest, "\",\"msg\":");
      // `replace` turns invalid UTF-8 into U+FFFD instead of throwing, so any
      // bytes a peer sent us can be logged.
      append(dest, nlohmann::json(std::string(payload)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      append(dest, "}\n");
    } else {
      append_time(dest, msg.time);
      dest.push_back(' ');
      append(dest, level_name(msg.level, true));
      dest.push_back(' ');
      append_text_escaped(dest, payload);
      dest.push_back('\n');
    }
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_, journal_);
  }

 private:
  LogFormat format_;
  bool journal_;
};

// Appends formatted records to a file and can switch to a freshly opened file
// at the same path (logrotate's rename-then-SIGHUP). Every record is flushed
// so nothing is lost in a crash and `tail -f` sees it at once.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ReopenableFileSink(std::string path, UniqueFile file) : path_(std::move(path)), file_(std::move(file)) {}

  Status reopen() {
    // Open before taking the lock and before dropping the old file: on
    // failure logging carries on where it was.
    auto fresh = open_for_append(path_);
    if (!fresh) return fresh.error();
    std::lock_guard lock(mutex_);
    file_ = std::move(*fresh);
    return ok_status();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    if (std::fwrite(formatted.data(), 1, formatted.size(), file_.get()) != formatted.size() ||
        std::fflush(file_.get()) != 0) {
      // spdlog's error handler reports this on stderr, rate-limited.
      spdlog::throw_spdlog_ex("cannot write log file " + path_, errno);
    }
  }

  void flush_() override { std::fflush(file_.get()); }

 private:
  const std::string path_;
  UniqueFile file_;  // guarded by mutex_
};

std::mutex g_mutex;
std::shared_ptr<ReopenableFileSink> g_file_sink;  // guarded by g_mutex; null when logging to stderr

}  // namespace

Result<LogFormat> parse_log_format(std::string_view text) {
  const std::string name = to_lower(text);
  if (name == "text") return LogFormat::text;
  if (name == "json") return LogFormat::json;
  return Error(Errc::invalid_argument, "unknown log format '" + std::string(text) + "'; use text or json");
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat info {};
  if (::fstat(STDERR_FILENO, &info) != 0) return false;
  return static_cast<unsigned long long>(info.st_dev) == device &&
         static_cast<unsigned long long>(info.st_ino) == inode;
}

std::string_view journal_priority_prefix(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "<7>";
    case spdlog::level::info:
      return "<6>";
    case spdlog::level::warn:
      return "<4>";
    case spdlog::level::err:
      return "<3>";
    case spdlog::level::critical:
      return "<2>";
    default:
      return "<6>";
  }
}

Result<spdlog::level::level_enum> parse_log_level(std::string_view text) {
  const std::string name = to_lower(text);
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn" || name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "critical") return spdlog::level::critical;
  if (name == "off") return spdlog::level::off;
  return Error(Errc::invalid_argument,
               "unknown log level '" + std::string(text) + "'; use trace, debug, info, warn, error, critical or off");
}

Status init_logging(const LogOptions& options) {
  std::shared_ptr<ReopenableFileSink> file_sink;
  spdlog::sink_ptr sink;
  if (options.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    auto file = open_for_append(options.file);
    if (!file) return file.error();
    file_sink = std::make_shared<ReopenableFileSink>(options.file, std::move(*file));
    sink = file_sink;
  }
  sink->set_formatter(std::make_unique<LineFormatter>(options.format, options.journal && options.file.empty()));
  auto logger = std::make_shared<spdlog::logger>("dc", std::move(sink));
  logger->set_level(options.level);
  logger->flush_on(spdlog::level::trace);

  std::lock_guard lock(g_mutex);
  spdlog::set_default_logger(std::move(logger));
  g_file_sink = std::move(file_sink);
  return ok_status();
}

Status reopen_log_file() {
  std::shared_ptr<ReopenableFileSink> sink;
  {
    std::lock_guard lock(g_mutex);
    sink = g_file_sink;
  }
  if (!sink) return ok_status();
  return sink->reopen();
}

}  // namespace dc
