#include "store/store.h"

#include "store/db_url.h"
#include "store/pg_session.h"
#include "store/schema.h"
#include "store/sql_store.h"
#include "store/sqlite_session.h"

namespace dc {

int Store::current_schema_version() { return store_detail::kSchemaVersion; }

std::string_view to_string(ManagerMode mode) {
  switch (mode) {
    case ManagerMode::starting:
      return "starting";
    case ManagerMode::broker:
      return "broker";
    case ManagerMode::fallback:
      return "fallback";
    case ManagerMode::stopped:
      return "stopped";
  }
  return "starting";
}

std::optional<ManagerMode> manager_mode_from_string(std::string_view text) {
  for (ManagerMode mode : {ManagerMode::starting, ManagerMode::broker, ManagerMode::fallback, ManagerMode::stopped}) {
    if (text == to_string(mode)) return mode;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Store>> Store::open(std::string_view db_url) {
  using store_detail::DbUrl;
  auto url = store_detail::parse_db_url(db_url);
  if (!url) return url.error();
  std::unique_ptr<store_detail::SqlSession> session;
  if (url->backend == DbUrl::Backend::sqlite) {
    auto opened = store_detail::SqliteSession::open(url->target);
    if (!opened) return opened.error();
    session = std::move(opened).value();
  } else {
    auto opened = store_detail::PgSession::open(url->target, url->redacted);
    if (!opened) return opened.error();
    session = std::move(opened).value();
  }
  return store_detail::open_sql_store(std::move(session));
}

}  // namespace dc
