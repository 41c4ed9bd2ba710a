// A fresh, empty database of each backend for the store tests, removed
// again afterwards: a private SQLite file in a temporary folder, an in-memory
// SQLite database, or a private schema in the PostgreSQL database named by
// DC_TEST_PG_URL (search_path set through the URL, so every connection a
// Store makes lands in it).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/sql_session.h"
#include "store/store.h"

namespace dc {

inline void PrintTo(Errc code, std::ostream* os) { *os << to_string(code); }
inline void PrintTo(ClaimResult result, std::ostream* os) {
  switch (result) {
    case ClaimResult::claimed:
      *os << "claimed";
      break;
    case ClaimResult::already_claimed:
      *os << "already_claimed";
      break;
    case ClaimResult::already_finished:
      *os << "already_finished";
      break;
  }
}

namespace test {

enum class Backend { sqlite_memory, sqlite_file, postgresql };

// "SqliteMemory", "SqliteFile", "Postgresql": test-name suffixes.
std::string backend_name(Backend backend);

class TestDatabase {
 public:
  // Makes a fresh database. For PostgreSQL the caller has checked that
  // DC_TEST_PG_URL is set (DC_REQUIRE_POSTGRES).
  static Result<std::unique_ptr<TestDatabase>> create(Backend backend);
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  ~TestDatabase();

  Backend backend() const { return backend_; }
  const std::string& url() const { return url_; }
  // False for an in-memory database, which only one Store can ever see.
  bool shared() const { return backend_ != Backend::sqlite_memory; }
  // Opens another Store on this database.
  Result<std::unique_ptr<Store>> open() const { return Store::open(url_); }

  // Runs SQL directly, behind the store's back (shared databases only):
  // for tests that tamper with a database the way an outside tool could.
  Result<store_detail::SqlRows> raw_query(std::string_view sql) const;

  // Where a file database lives (empty otherwise).
  const std::string& directory() const { return directory_; }

 private:
  explicit TestDatabase(Backend backend) : backend_(backend) {}

  Backend backend_;
  std::string url_;
  std::string directory_;  // sqlite_file
  std::string schema_;     // postgresql
  std::string admin_url_;  // postgresql: DC_TEST_PG_URL itself
};

}  // namespace test
}  // namespace dc

// Result helpers: fail the test with the error's own message.
#define DC_CONCAT_INNER(a, b) a##b
#define DC_CONCAT(a, b) DC_CONCAT_INNER(a, b)
#define ASSERT_OK(expr)                                           \
  do {                                                            \
    const auto& dc_result_ = (expr);                              \
    ASSERT_TRUE(dc_result_.ok()) << dc_result_.error().message(); \
  } while (0)
#define EXPECT_OK(expr)                                           \
  do {                                                            \
    const auto& dc_result_ = (expr);                              \
    EXPECT_TRUE(dc_result_.ok()) << dc_result_.error().message(); \
  } while (0)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) DC_ASSERT_OK_AND_ASSIGN_IMPL(DC_CONCAT(dc_result_, __LINE__), lhs, expr)
#define DC_ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  ASSERT_TRUE(tmp.ok()) << tmp.error().message();    \
  lhs = std::move(tmp).value()
// Expects `expr` to fail with `code`; shows the message either way.
#define EXPECT_ERRC(expr, expected_errc)                                                               \
  do {                                                                                                 \
    const auto& dc_result_ = (expr);                                                                   \
    EXPECT_FALSE(dc_result_.ok()) << "expected " << ::dc::to_string(expected_errc) << ", got success"; \
    if (!dc_result_.ok()) {                                                                            \
      EXPECT_EQ(dc_result_.error().code(), expected_errc) << dc_result_.error().message();             \
    }                                                                                                  \
  } while (0)
