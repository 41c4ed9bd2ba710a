// The Store's semantics, written once over a SqlSession: the same statements
// run on SQLite and PostgreSQL, so both backends keep the same promises and
// one contract test suite checks both.
//
// Private to the store layer; Store::open is the public way in.
#pragma once

#include <memory>

#include "store/sql_session.h"
#include "store/store.h"

namespace dc::store_detail {

// Wraps `session`, creating or migrating the schema first. Errc::schema when
// the database was written by a newer dc.
Result<std::unique_ptr<Store>> open_sql_store(std::unique_ptr<SqlSession> session);

}  // namespace dc::store_detail
