// Process-wide logging setup on spdlog. After init_logging() the rest of the
// code just calls spdlog::info(...), spdlog::warn(...) and so on.
//
// Formats, one record per line:
//   text: 2026-01-01T00:00:00.123Z INFO message
//   json: {"time":"2026-01-01T00:00:00.123Z","level":"info","msg":"message"}
// Times are UTC with milliseconds. In both formats a message cannot break the
// one-record-per-line rule: JSON escapes it, and the text format writes line
// breaks and other control characters as \n, \r, \t or \xNN.
#pragma once

#include <string>
#include <string_view>

#include <spdlog/common.h>

#include "base/result.h"

namespace dc {

enum class LogFormat { text, json };

struct LogOptions {
  LogFormat format = LogFormat::text;
  spdlog::level::level_enum level = spdlog::level::info;
  // Appended to (created if missing). Empty = standard error.
  std::string file;
  // Standard error is the systemd journal: each record starts with its
  // syslog priority ("<3>" error ... "<7>" debug), which the journal takes as
  // the entry's priority, so `journalctl -p warning` works.
  bool journal = false;
};

// True when standard error is the journal's stream: $JOURNAL_STREAM names
// its device and inode (what systemd sets for StandardError=journal).
bool stderr_is_journal();

// The syslog priority prefix the journal reads for `level`: "<7>" for trace
// and debug, "<6>" info, "<4>" warn, "<3>" error, "<2>" critical.
std::string_view journal_priority_prefix(spdlog::level::level_enum level);

// "text" or "json" (case-insensitive). Errors: Errc::invalid_argument.
Result<LogFormat> parse_log_format(std::string_view text);
// "trace", "debug", "info", "warn"/"warning", "error", "critical", "off"
// (case-insensitive). Errors: Errc::invalid_argument listing the choices.
Result<spdlog::level::level_enum> parse_log_level(std::string_view text);

// Replaces spdlog's default logger with one writing `options.format` at
// `options.level` and above to `options.file` or stderr. Every record is
// flushed as it is written. May be called again (e.g. after re-reading the
// configuration), but not while other threads are logging: spdlog reads its
// default logger pointer without a lock. Use reopen_log_file() to rotate.
// If this fails, the previous logger stays in place.
// Errors: Errc::io when the file cannot be opened, naming it.
Status init_logging(const LogOptions& options);

// For SIGHUP after logrotate: opens the configured log file path again and
// switches to it, so records go to a new file at the original path while the
// renamed one is left complete. No-op when logging goes to stderr. Call it
// from a normal thread (e.g. the event loop that saw the signal), not from
// the signal handler. Errors: Errc::io naming the file; logging then
// continues into the old file.
Status reopen_log_file();

}  // namespace dc
