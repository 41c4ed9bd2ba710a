#include "store/db_url.h"

#include "base/redact.h"
#include "base/strings.h"

namespace dc::store_detail {

namespace {

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equals_ignoring_case(text.substr(0, prefix.size()), prefix);
}

}  // namespace

Result<DbUrl> parse_db_url(std::string_view url) {
  DbUrl parsed;
  parsed.redacted = redact_url(url);
  if (url == "sqlite::memory:" || url == "sqlite://:memory:") {
    parsed.backend = DbUrl::Backend::sqlite;
    parsed.target = ":memory:";
    return parsed;
  }
  if (starts_with_ci(url, "sqlite://")) {
    parsed.backend = DbUrl::Backend::sqlite;
    parsed.target = std::string(url.substr(9));
    if (parsed.target.empty()) {
      return Error(Errc::invalid_argument,
                   "db_url 'sqlite://' names no file: use sqlite://PATH (e.g. sqlite://dc.sqlite3) or sqlite::memory:");
    }
    return parsed;
  }
  if (starts_with_ci(url, "postgresql://") || starts_with_ci(url, "postgres://")) {
    parsed.backend = DbUrl::Backend::postgresql;
    parsed.target = std::string(url);
    return parsed;
  }
  return Error(Errc::invalid_argument, "db_url '" + parsed.redacted +
                                           "' has an unknown scheme: use sqlite://PATH, sqlite::memory: or "
                                           "postgresql://user:pass@host:port/db");
}

}  // namespace dc::store_detail
