#include "protocol/command.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/ids.h"

namespace dc {
namespace {

const TimePoint kReceived = *parse_iso8601("2026-01-01T00:00:00Z");

// The design note's example message, byte for byte.
constexpr std::string_view kNoteExample = R"({
    "app_id": "a1b2c3d4...",
    "command": 1,
    "issued_by": "admin@example.com",
    "timestamp": "2025-01-15T10:30:00Z",
    "args": {"company_id": "123456", "monitoring": true}
})";

MessageProperties with_id(std::string id) {
  MessageProperties props;
  props.message_id = std::move(id);
  return props;
}

Result<Command> parse(std::string_view body, MessageProperties props = {}) {
  return parse_command(body, props, kReceived);
}

// Asserts `body` is poison and the reason mentions `needle`.
void expect_poison(std::string_view body, std::string_view needle, MessageProperties props = {}) {
  auto result = parse(body, std::move(props));
  ASSERT_FALSE(result.ok()) << "accepted: " << body.substr(0, 200);
  EXPECT_EQ(result.error().code(), Errc::invalid_argument);
  EXPECT_NE(result.error().message().find(needle), std::string::npos)
      << "reason '" << result.error().message() << "' does not mention '" << needle << "'";
}

TEST(Enums, NamesAndValuesAreFixed) {
  EXPECT_EQ(static_cast<int>(CmdName::start), 1);
  EXPECT_EQ(static_cast<int>(CmdName::stop), 2);
  EXPECT_EQ(static_cast<int>(CmdName::restart), 3);
  EXPECT_EQ(static_cast<int>(CmdName::enable), 4);
  EXPECT_EQ(static_cast<int>(CmdName::disable), 5);
  EXPECT_EQ(static_cast<int>(CmdFlag::pending), 0);
  EXPECT_EQ(static_cast<int>(CmdFlag::executed), 1);
  EXPECT_EQ(static_cast<int>(CmdFlag::not_executed), 2);
  EXPECT_EQ(to_string(CmdName::restart), "RESTART");
  EXPECT_EQ(to_string(CmdFlag::not_executed), "NOT_EXECUTED");
  EXPECT_EQ(to_string(AppStatus::stopping), "STOPPING");
  EXPECT_EQ(to_string(DeliveryPath::poll), "poll");
}

TEST(Enums, LookupsAreCaseInsensitiveAndBounded) {
  EXPECT_EQ(cmd_name_from_string("disable"), CmdName::disable);
  EXPECT_EQ(cmd_name_from_string("StArT"), CmdName::start);
  EXPECT_FALSE(cmd_name_from_string("launch"));
  EXPECT_FALSE(cmd_name_from_string(""));
  EXPECT_EQ(cmd_flag_from_string("executed"), CmdFlag::executed);
  EXPECT_EQ(app_status_from_string("running"), AppStatus::running);
  EXPECT_EQ(delivery_path_from_string("BROKER"), DeliveryPath::broker);
  EXPECT_FALSE(cmd_name_from_int(0));
  EXPECT_FALSE(cmd_name_from_int(6));
  EXPECT_EQ(cmd_name_from_int(3), CmdName::restart);
  EXPECT_FALSE(cmd_flag_from_int(3));
  EXPECT_FALSE(app_status_from_int(-1));
  for (int i = 1; i <= 5; ++i) {
    const auto name = *cmd_name_from_int(i);
    EXPECT_EQ(cmd_name_from_string(to_string(name)), name);
  }
}

TEST(AppId, AcceptsSafeNames) {
  for (const char* good : {"a", "demo", "a1b2c3d4...", "app_1.v2-x", "A-Z.0_9", "x."}) {
    EXPECT_TRUE(is_valid_app_id(good)) << good << ": " << app_id_problem(good);
  }
  EXPECT_TRUE(is_valid_app_id(std::string(128, 'a')));
}

TEST(AppId, RejectsUnsafeNamesWithReason) {
  EXPECT_NE(app_id_problem("").find("empty"), std::string::npos);
  EXPECT_NE(app_id_problem(std::string(129, 'a')).find("129"), std::string::npos);
  EXPECT_NE(app_id_problem(".hidden").find("'.'"), std::string::npos);
  EXPECT_NE(app_id_problem("../etc/passwd").find("'.'"), std::string::npos);
  EXPECT_NE(app_id_problem("a/b").find("'/'"), std::string::npos);
  EXPECT_NE(app_id_problem("a b").find("' '"), std::string::npos);
  EXPECT_NE(app_id_problem("a;rm -rf").find("';'"), std::string::npos);
  EXPECT_NE(app_id_problem(std::string("a\0b", 3)).find("\\x00"), std::string::npos);
  EXPECT_NE(app_id_problem("caf\xc3\xa9").find("\\xc3"), std::string::npos);
  EXPECT_FALSE(is_valid_app_id("*"));
  EXPECT_TRUE(is_valid_app_id("*", /*allow_broadcast=*/true));
  EXPECT_FALSE(is_valid_app_id("**", true));
}

TEST(Parse, ReadsTheDesignNoteExample) {
  auto result = parse(kNoteExample, with_id("3f1c2a9e-0000-4000-8000-000000000001"));
  ASSERT_TRUE(result.ok()) << result.error().message();
  const Command& c = *result;
  EXPECT_EQ(c.id, "3f1c2a9e-0000-4000-8000-000000000001");
  EXPECT_EQ(c.app_id, "a1b2c3d4...");
  EXPECT_EQ(c.name, CmdName::start);
  EXPECT_EQ(c.issued_by, "admin@example.com");
  EXPECT_EQ(format_iso8601(c.issued_at), "2025-01-15T10:30:00Z");
  EXPECT_EQ(nlohmann::json::parse(c.args_json),
            nlohmann::json::parse(R"({"company_id": "123456", "monitoring": true})"));
  EXPECT_FALSE(c.is_broadcast());
}

TEST(Parse, AcceptsCommandNamesAsStrings) {
  auto r = parse(R"({"app_id":"x","command":"restart"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, CmdName::restart);
  r = parse(R"({"app_id":"x","command":"DISABLE"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, CmdName::disable);
  r = parse(R"({"app_id":"x","command":4.0})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, CmdName::enable);
}

TEST(Parse, BroadcastAppId) {
  auto r = parse(R"({"app_id":"*","command":4})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_broadcast());
}

TEST(Parse, DefaultsForOptionalFields) {
  auto r = parse(R"({"app_id":"x","command":2})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->issued_at, kReceived);
  EXPECT_EQ(r->args_json, "{}");
  EXPECT_EQ(r->issued_by, "");
  r = parse(R"({"app_id":"x","command":2,"args":null,"timestamp":null,"issued_by":null})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->args_json, "{}");
  EXPECT_EQ(r->issued_at, kReceived);
}

TEST(Parse, IgnoresUnknownFields) {
  auto r = parse(R"({"app_id":"x","command":1,"priority":9,"nested":{"a":[1,2]},"v":2})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, CmdName::start);
}

TEST(CommandId, MessageIdWins) {
  auto r = parse(R"({"app_id":"x","command":1,"command_id":"from-body"})", with_id("from-props"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, "from-props");
}

TEST(CommandId, BodyCommandIdWhenNoMessageId) {
  auto r = parse(R"({"app_id":"x","command":1,"command_id":"from-body"})", with_id(""));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, "from-body");
}

TEST(CommandId, DerivedIdIsStableAcrossRedeliveries) {
  constexpr std::string_view body = R"({"app_id":"x","command":1})";
  auto first = parse(body);
  auto second = parse_command(body, {}, kReceived + std::chrono::seconds(30));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(is_uuid(first->id));
  EXPECT_EQ(first->id, second->id);
  auto other = parse(R"({"app_id":"y","command":1})");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(first->id, other->id);
}

TEST(Poison, NotJson) { expect_poison("this is not json", "not valid JSON"); }
TEST(Poison, Empty) { expect_poison("", "empty"); }
TEST(Poison, Binary) { expect_poison(std::string("\x00\x01\xff\xfe", 4), "not valid JSON"); }
TEST(Poison, InvalidUtf8) { expect_poison("{\"app_id\":\"a\xff\",\"command\":1}", "not valid JSON"); }
TEST(Poison, NotAnObject) {
  expect_poison("[1,2,3]", "must be a JSON object, not an array");
  expect_poison("42", "not an integer");
  expect_poison("\"START\"", "not a string");
  expect_poison("null", "not null");
}
TEST(Poison, MissingAppId) { expect_poison(R"({"command":1})", "missing field 'app_id'"); }
TEST(Poison, MistypedAppId) {
  expect_poison(R"({"app_id":12,"command":1})", "'app_id' must be a string, not an integer");
  expect_poison(R"({"app_id":null,"command":1})", "'app_id' must be a string");
}
TEST(Poison, UnsafeAppId) {
  expect_poison(R"({"app_id":"../../etc/passwd","command":1})", "invalid app_id");
  expect_poison(R"({"app_id":"a;rm -rf /","command":1})", "invalid app_id");
  expect_poison(R"({"app_id":"","command":1})", "app_id is empty");
}
TEST(Poison, MissingCommand) { expect_poison(R"({"app_id":"x"})", "missing field 'command'"); }
TEST(Poison, MistypedCommand) {
  expect_poison(R"({"app_id":"x","command":true})", "'command' must be an integer or a name");
  expect_poison(R"({"app_id":"x","command":[1]})", "'command' must be an integer or a name");
}
TEST(Poison, UnknownCommandValue) {
  expect_poison(R"({"app_id":"x","command":0})", "unknown command value 0");
  expect_poison(R"({"app_id":"x","command":6})", "unknown command value 6");
  expect_poison(R"({"app_id":"x","command":-1})", "unknown command value -1");
  expect_poison(R"({"app_id":"x","command":1.5})", "unknown command value 1.5");
  expect_poison(R"({"app_id":"x","command":99999999999999999999})", "unknown command value");
  expect_poison(R"({"app_id":"x","command":"LAUNCH"})", "unknown command name \"LAUNCH\"");
}
TEST(Poison, BadTimestamp) {
  expect_poison(R"({"app_id":"x","command":1,"timestamp":"yesterday"})", "'timestamp'");
  expect_poison(R"({"app_id":"x","command":1,"timestamp":1700000000})", "'timestamp' must be an ISO-8601 string");
}
TEST(Poison, BadArgs) {
  expect_poison(R"({"app_id":"x","command":1,"args":[1,2]})", "'args' must be a JSON object, not an array");
  expect_poison(R"({"app_id":"x","command":1,"args":"a=b"})", "'args' must be a JSON object");
}
TEST(Poison, BadIssuedBy) {
  expect_poison(R"({"app_id":"x","command":1,"issued_by":7})", "'issued_by' must be a string");
}
// Issue 11, item 11: a NUL (or any control character) in issued_by is
// poison on every backend, where before SQLite stored it and PostgreSQL
// refused the row.
TEST(Poison, ControlCharacterInIssuedBy) {
  expect_poison(R"({"app_id":"x","command":1,"issued_by":"a\u0000b"})", "control character");
  expect_poison(R"({"app_id":"x","command":1,"issued_by":"a\nb"})", "control character");
  EXPECT_TRUE(parse(R"j({"app_id":"x","command":1,"issued_by":"admin@example.com (ops, Zürich)"})j").ok());
}

TEST(Poison, BadCommandId) {
  expect_poison(R"({"app_id":"x","command":1,"command_id":5})", "'command_id'");
  expect_poison(R"({"app_id":"x","command":1,"command_id":""})", "'command_id'");
  expect_poison(R"({"app_id":"x","command":1})", "non-printable", with_id("has space"));
}
TEST(Poison, TooLarge) {
  std::string body = R"({"app_id":"x","command":1,"pad":")" + std::string(kMaxBodyBytes, 'a') + "\"}";
  expect_poison(body, "limit 65536");
}
TEST(Poison, ExactlyAtLimitIsAccepted) {
  std::string body = R"({"app_id":"x","command":1,"pad":""})";
  body.insert(body.size() - 2, std::string(kMaxBodyBytes - body.size(), 'a'));
  ASSERT_EQ(body.size(), kMaxBodyBytes);
  EXPECT_TRUE(parse(body).ok());
}
TEST(Poison, DeepNesting) {
  std::string body =
      R"({"app_id":"x","command":1,"args":{"a":)" + std::string(5000, '[') + std::string(5000, ']') + "}}";
  expect_poison(body, "deeper than");
}
TEST(Poison, BracketsInsideStringsDoNotCountAsNesting) {
  std::string body = R"({"app_id":"x","command":1,"args":{"a":")" + std::string(500, '[') + R"(\"{"}})";
  EXPECT_TRUE(parse(body).ok());
}

TEST(Serialize, RoundTrips) {
  Command c;
  c.id = random_uuid();
  c.app_id = "demo";
  c.name = CmdName::disable;
  c.issued_by = "ops@example.com";
  c.issued_at = *parse_iso8601("2025-06-01T12:00:00.250000Z");
  c.args_json = R"({"k":"v","n":[1,2,3]})";
  const std::string body = serialize_command_body(c);
  auto back = parse(body, with_id(c.id));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, c);
  // The command always travels as its integer.
  EXPECT_EQ(nlohmann::json::parse(body)["command"], 5);
}

TEST(Serialize, WritesTheNoteLayout) {
  Command c;
  c.app_id = "a1";
  c.name = CmdName::start;
  c.issued_by = "me";
  c.issued_at = *parse_iso8601("2025-01-15T10:30:00Z");
  const auto doc = nlohmann::json::parse(serialize_command_body(c));
  EXPECT_EQ(doc["app_id"], "a1");
  EXPECT_EQ(doc["command"], 1);
  EXPECT_EQ(doc["issued_by"], "me");
  EXPECT_EQ(doc["timestamp"], "2025-01-15T10:30:00Z");
  EXPECT_TRUE(doc["args"].is_object());
}

TEST(Args, Normalize) {
  auto r = normalize_args_json(R"( { "a" : 1 } )");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, R"({"a":1})");
  EXPECT_FALSE(normalize_args_json("[1]").ok());
  EXPECT_FALSE(normalize_args_json("{").ok());
  EXPECT_NE(normalize_args_json("x").error().message().find("not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace dc
