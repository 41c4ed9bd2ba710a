#include "base/redact.h"

#include <gtest/gtest.h>

namespace dc {
namespace {

TEST(RedactUrlTest, MasksPasswords) {
  EXPECT_EQ(redact_url("postgresql://user:pass@host:5432/db"), "postgresql://user:***@host:5432/db");
  EXPECT_EQ(redact_url("postgres://u:p@h"), "postgres://u:***@h");
  EXPECT_EQ(redact_url("postgresql://u:p/w@h/db"), "postgresql://u:***@h/db") << "unescaped '/' in the password";
  EXPECT_EQ(redact_url("postgresql://u:p@ss@h/db"), "postgresql://u:***@h/db") << "unescaped '@' in the password";
  EXPECT_EQ(redact_url("postgresql://h/db?user=u&password=pw&sslmode=require"),
            "postgresql://h/db?user=u&password=***&sslmode=require");
  EXPECT_EQ(redact_url("postgresql://h/db?PASSWORD=pw#frag"), "postgresql://h/db?PASSWORD=***#frag");
  EXPECT_EQ(redact_url("postgresql://u:p%40ss@h/db?sslmode=require&password=x2&a=b"),
            "postgresql://u:***@h/db?sslmode=require&password=***&a=b");
}

TEST(RedactUrlTest, LeavesUrlsWithoutPasswordsAlone) {
  for (const char* url :
       {"sqlite://dc.sqlite3", "sqlite::memory:", "postgresql://user@host/db", "postgresql://host:5432/db",
        "postgresql:///db", "sqlite:///var/lib/dc.db", "", "no-scheme"}) {
    EXPECT_EQ(redact_url(url), url);
  }
}

}  // namespace
}  // namespace dc
