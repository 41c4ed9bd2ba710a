// Unit tests of the store: the contract suite on in-memory SQLite, and the
// pure helpers (db_url parsing and redaction, time and argv codecs).
#include <gtest/gtest.h>

#include "base/redact.h"
#include "store/codec.h"
#include "store/db_url.h"
#include "store/store_contract.h"

namespace dc::test {
namespace {

INSTANTIATE_TEST_SUITE_P(Memory, StoreContract, ::testing::Values(Backend::sqlite_memory), BackendName());
// The shared-database promises run in the integration binary only.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SharedStoreContract);

using store_detail::DbUrl;
using store_detail::parse_db_url;

TEST(ManagerModeText, RoundTripsAndRefusesTheRest) {
  for (ManagerMode mode : {ManagerMode::starting, ManagerMode::broker, ManagerMode::fallback, ManagerMode::stopped}) {
    EXPECT_EQ(manager_mode_from_string(to_string(mode)), mode);
  }
  EXPECT_EQ(manager_mode_from_string("Broker"), std::nullopt);
  EXPECT_EQ(manager_mode_from_string(""), std::nullopt);
}

TEST(DbUrl, SqliteForms) {
  auto file = parse_db_url("sqlite://dc.sqlite3");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->backend, DbUrl::Backend::sqlite);
  EXPECT_EQ(file->target, "dc.sqlite3");
  auto absolute = parse_db_url("sqlite:///var/lib/dc/dc.sqlite3");
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(absolute->target, "/var/lib/dc/dc.sqlite3");
  for (const char* memory : {"sqlite::memory:", "sqlite://:memory:"}) {
    auto parsed = parse_db_url(memory);
    ASSERT_TRUE(parsed.ok()) << memory;
    EXPECT_EQ(parsed->target, ":memory:");
  }
  EXPECT_ERRC(parse_db_url("sqlite://"), Errc::invalid_argument);
}

TEST(DbUrl, PostgresFormsAreHandedToLibpq) {
  for (const char* url : {"postgresql://u:p@h:5432/db", "postgres://h/db", "POSTGRESQL://h/db"}) {
    auto parsed = parse_db_url(url);
    ASSERT_TRUE(parsed.ok()) << url;
    EXPECT_EQ(parsed->backend, DbUrl::Backend::postgresql);
    EXPECT_EQ(parsed->target, url);
  }
}

TEST(DbUrl, MultiHostUrlsAreHandedToLibpqWithThePasswordMasked) {
  // A primary and its standby: libpq tries the hosts in order and keeps the
  // one that accepts writes.
  const std::string url =
      "postgresql://dc:S3cret@10.0.0.1:5432,10.0.0.2:5433/dc?target_session_attrs=read-write&connect_timeout=3";
  auto parsed = parse_db_url(url);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->backend, DbUrl::Backend::postgresql);
  EXPECT_EQ(parsed->target, url);
  EXPECT_EQ(parsed->redacted,
            "postgresql://dc:***@10.0.0.1:5432,10.0.0.2:5433/dc?target_session_attrs=read-write&connect_timeout=3");
  // The host list as query parameters, password too.
  EXPECT_EQ(redact_url("postgresql:///dc?host=a,b&port=5432,5433&password=S3cret&target_session_attrs=read-write"),
            "postgresql:///dc?host=a,b&port=5432,5433&password=***&target_session_attrs=read-write");
}

TEST(DbUrl, UnknownSchemeIsRefusedWithPasswordRedacted) {
  auto parsed = parse_db_url("mysql://admin:hunter2@db:3306/dc");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code(), Errc::invalid_argument);
  EXPECT_EQ(parsed.error().message().find("hunter2"), std::string::npos) << parsed.error().message();
  EXPECT_NE(parsed.error().message().find("mysql://admin:***@db:3306/dc"), std::string::npos)
      << parsed.error().message();
  auto opened = Store::open("dc.sqlite3");  // no scheme at all
  EXPECT_ERRC(opened, Errc::invalid_argument);
}

TEST(DbUrl, Redaction) {
  // The store names a database only by its redacted URL (base/redact.h).
  EXPECT_EQ(parse_db_url("postgresql://u:secret@h:5432/db")->redacted, "postgresql://u:***@h:5432/db");
  EXPECT_EQ(parse_db_url("postgresql://u:p/w@h/db")->redacted, "postgresql://u:***@h/db");
  EXPECT_EQ(parse_db_url("sqlite://dc.sqlite3")->redacted, "sqlite://dc.sqlite3");
}

TEST(PostgresOpen, EveryHostOfAListUnreachableIsUnavailableAndHidesThePassword) {
  auto opened = Store::open(
      "postgresql://dc:topsecret@127.0.0.1:1,127.0.0.1:2/dc?connect_timeout=2&target_session_attrs=read-write");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code(), Errc::unavailable) << opened.error().message();
  EXPECT_EQ(opened.error().message().find("topsecret"), std::string::npos) << opened.error().message();
  EXPECT_NE(opened.error().message().find("127.0.0.1:1,127.0.0.1:2"), std::string::npos) << opened.error().message();
}

TEST(PostgresOpen, UnreachableServerIsUnavailableAndHidesThePassword) {
  // Port 1 on loopback: nothing listens, the connect fails at once.
  auto opened = Store::open("postgresql://dc:topsecret@127.0.0.1:1/dc?connect_timeout=2");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code(), Errc::unavailable) << opened.error().message();
  EXPECT_TRUE(opened.error().retryable());
  EXPECT_EQ(opened.error().message().find("topsecret"), std::string::npos) << opened.error().message();
}

TEST(SqliteOpen, MissingFolderIsAnIoError) {
  auto opened = Store::open("sqlite:///nonexistent-dc-folder/sub/dc.sqlite3");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code(), Errc::io) << opened.error().message();
  EXPECT_NE(opened.error().message().find("/nonexistent-dc-folder/sub/dc.sqlite3"), std::string::npos);
}

TEST(Codec, TimesAreFixedWidthAndRoundTrip) {
  using store_detail::format_db_time;
  using store_detail::parse_db_time;
  EXPECT_EQ(format_db_time(from_unix_micros(0)), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_db_time(from_unix_micros(1'736'937'000'000'001)), "2025-01-15T10:30:00.000001Z");
  const TimePoint t = from_unix_micros(1'736'937'000'123'456);
  auto parsed = parse_db_time(format_db_time(t), "x");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, t);
  // Text order is time order, which lease expiry relies on.
  EXPECT_LT(format_db_time(from_unix_micros(1'736'937'000'000'000)),
            format_db_time(from_unix_micros(1'736'937'000'500'000)));
  EXPECT_ERRC(parse_db_time("yesterday", "apps.started_at"), Errc::schema);
}

TEST(Codec, ExecRoundTripsAndRefusesWhatArgvCannotCarry) {
  using store_detail::decode_exec;
  using store_detail::encode_exec;
  const std::vector<std::string> argv{"/bin/sh", "-c", "echo \"$HOME\" 'x' \\ \n", ""};
  auto encoded = encode_exec(argv);
  ASSERT_TRUE(encoded.ok());
  auto decoded = decode_exec(*encoded, "a1");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, argv);
  EXPECT_ERRC(encode_exec({}), Errc::invalid_argument);
  EXPECT_ERRC(encode_exec({std::string("a\0b", 3)}), Errc::invalid_argument);
  EXPECT_ERRC(encode_exec({"\xFF"}), Errc::invalid_argument);
  EXPECT_ERRC(decode_exec("not json", "a1"), Errc::schema);
  EXPECT_ERRC(decode_exec(R"({"a":1})", "a1"), Errc::schema);
  EXPECT_ERRC(decode_exec(R"(["a", 1])", "a1"), Errc::schema);
}

TEST(Codec, Utf8Validation) {
  using store_detail::is_valid_utf8;
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("naïve – 日本 🚀"));
  EXPECT_FALSE(is_valid_utf8("\xC3\x28"));          // bad continuation
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE6\x97"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xFF"));
}

}  // namespace
}  // namespace dc::test
