#include "store/db_url.h"

namespace dc::store_detail {

namespace {

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    const char a = text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] - 'A' + 'a') : text[i];
    if (a != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::string redact_db_url(std::string_view url) {
  std::string out(url);
  const size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const size_t authority_begin = scheme_end + 3;
    const size_t authority_end = out.find_first_of("/?#", authority_begin);
    const size_t limit = authority_end == std::string::npos ? out.size() : authority_end;
    const size_t at = out.rfind('@', limit == 0 ? 0 : limit - 1);
    if (at != std::string::npos && at >= authority_begin && at < limit) {
      const size_t colon = out.find(':', authority_begin);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // libpq also takes the password as a query parameter.
  for (size_t pos = out.find("password="); pos != std::string::npos; pos = out.find("password=", pos + 1)) {
    if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&') continue;
    const size_t value_begin = pos + 9;
    const size_t value_end = out.find('&', value_begin);
    out.replace(value_begin, (value_end == std::string::npos ? out.size() : value_end) - value_begin, "***");
  }
  return out;
}

Result<DbUrl> parse_db_url(std::string_view url) {
  DbUrl parsed;
  parsed.redacted = redact_db_url(url);
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
