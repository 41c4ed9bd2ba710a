// The store's schema as versioned migrations, one list per backend dialect.
// docs/STORE.md describes every table and column.
//
// Policy: a migration, once released, is never edited. A schema change is a
// new Migration appended to both lists with the next version number, and
// kSchemaVersion moves to it. Migrations run inside one transaction on open,
// under a lock that serializes concurrent first opens.
//
// Private to the store layer.
#pragma once

#include <string_view>
#include <vector>

namespace dc::store_detail {

// The version this build writes (Store::current_schema_version()).
inline constexpr int kSchemaVersion = 3;

struct Migration {
  int version;  // the schema version after this migration
  std::vector<std::string_view> statements;
};

// The statement creating `schema_version` itself; safe to run every open.
std::string_view schema_version_table_sql();

const std::vector<Migration>& sqlite_migrations();
const std::vector<Migration>& postgres_migrations();

}  // namespace dc::store_detail
