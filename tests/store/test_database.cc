#include "store/test_database.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "base/ids.h"
#include "store/pg_conn.h"
#include "store/sqlite_db.h"
#include "support/services.h"

namespace dc::test {

std::string backend_name(Backend backend) {
  switch (backend) {
    case Backend::sqlite_memory:
      return "SqliteMemory";
    case Backend::sqlite_file:
      return "SqliteFile";
    case Backend::postgresql:
      return "Postgresql";
  }
  return "Unknown";
}

Result<std::unique_ptr<TestDatabase>> TestDatabase::create(Backend backend) {
  std::unique_ptr<TestDatabase> db(new TestDatabase(backend));
  switch (backend) {
    case Backend::sqlite_memory:
      db->url_ = "sqlite::memory:";
      break;
    case Backend::sqlite_file: {
      std::string pattern = (std::filesystem::temp_directory_path() / "dc-store-test-XXXXXX").string();
      if (mkdtemp(pattern.data()) == nullptr) return Error(Errc::io, "mkdtemp " + pattern + " failed");
      db->directory_ = pattern;
      db->url_ = "sqlite://" + pattern + "/dc.sqlite3";
      break;
    }
    case Backend::postgresql: {
      auto base = postgres_url();
      if (!base) return Error(Errc::unavailable, "DC_TEST_PG_URL is not set");
      db->admin_url_ = *base;
      std::string id = random_uuid();
      std::erase(id, '-');
      db->schema_ = "dc_test_" + id;
      auto admin = store_detail::PgConnection::connect(db->admin_url_, "test admin");
      if (!admin) return admin.error();
      if (auto made = admin->exec("CREATE SCHEMA " + db->schema_, {}); !made) return made.error();
      // libpq's `options` URL parameter, percent-encoded: -csearch_path=<schema>
      db->url_ = *base + (base->find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + db->schema_;
      break;
    }
  }
  return db;
}

TestDatabase::~TestDatabase() {
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  if (!schema_.empty()) {
    auto admin = store_detail::PgConnection::connect(admin_url_, "test admin");
    if (admin) (void)admin->exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE", {});
  }
}

Result<store_detail::SqlRows> TestDatabase::raw_query(std::string_view sql) const {
  if (backend_ == Backend::sqlite_file) {
    auto db = store_detail::SqliteDb::open(directory_ + "/dc.sqlite3", "test raw");
    if (!db) return db.error();
    if (auto st = db->set_busy_timeout(5000); !st) return st.error();
    auto statement = db->prepare(sql);
    if (!statement) return statement.error();
    return statement->run();
  }
  if (backend_ == Backend::postgresql) {
    auto conn = store_detail::PgConnection::connect(url_, "test raw");
    if (!conn) return conn.error();
    auto result = conn->exec(sql, {});
    if (!result) return result.error();
    return result->rows();
  }
  return Error(Errc::invalid_argument, "an in-memory database has no second connection");
}

}  // namespace dc::test
