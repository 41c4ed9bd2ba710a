// Reading a db_url (SPEC §4) into the backend it names.
//
// Private to the store layer.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace dc::store_detail {

struct DbUrl {
  enum class Backend { sqlite, postgresql };
  Backend backend = Backend::sqlite;
  // SQLite: the file path, or ":memory:". PostgreSQL: the URL unchanged
  // (libpq reads postgresql:// and postgres:// URLs itself).
  std::string target;
  // The URL through redact_url() (base/redact.h): the only form of it that
  // may appear in a message or a log line.
  std::string redacted;
};

// Accepts sqlite://PATH (sqlite:///abs/path for an absolute path),
// sqlite::memory: (also sqlite://:memory:), postgresql://... and
// postgres://... . Anything else is Errc::invalid_argument naming the
// (redacted) URL.
Result<DbUrl> parse_db_url(std::string_view url);

}  // namespace dc::store_detail
