// The store's contract suite: every promise of store.h, checked the same way
// on each backend. store_contract_test.cc holds the tests; the unit binary
// instantiates them on in-memory SQLite, the integration binary on an
// SQLite file and on PostgreSQL.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/test_database.h"
#include "support/services.h"

namespace dc::test {

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::postgresql) DC_REQUIRE_POSTGRES();
    auto db = TestDatabase::create(GetParam());
    ASSERT_TRUE(db.ok()) << db.error().message();
    db_ = std::move(db).value();
    auto store = db_->open();
    ASSERT_TRUE(store.ok()) << store.error().message();
    store_ = std::move(store).value();
  }

  bool is_postgres() const { return GetParam() == Backend::postgresql; }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

struct BackendName {
  std::string operator()(const ::testing::TestParamInfo<Backend>& info) const { return backend_name(info.param); }
};

// The promises that need a database several connections share (reopen,
// tampering from outside, concurrent first opens): instantiated only for the
// on-disk SQLite file and PostgreSQL, since ":memory:" is private to one
// connection.
class SharedStoreContract : public StoreContract {};

}  // namespace dc::test
