// The task codec (SPEC §9): Dramatiq bodies round-trip byte for byte, and
// every malformed body is rejected with a reason naming the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tasks/message.h"

namespace dc::tasks {
namespace {

using ::testing::HasSubstr;

// What Dramatiq's JSONEncoder writes for
//   broker.enqueue(add.message_with_options(args=(1, "é"), kwargs={"k": [True, None]}, max_retries=3))
// (json.dumps with separators=(",", ":"), ensure_ascii=True).
constexpr std::string_view kDramatiqBody =
    R"({"queue_name":"default","actor_name":"add","args":[1,"\u00e9"],"kwargs":{"k":[true,null]},)"
    R"("options":{"max_retries":3},"message_id":"3c8b1c6e-6f1c-4a57-9e43-0c1d2b7a9e10",)"
    R"("message_timestamp":1736937000123})";

TEST(TaskMessageTest, DecodesDramatiqBody) {
  auto m = decode_task_message(kDramatiqBody);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->queue_name, "default");
  EXPECT_EQ(m->actor_name, "add");
  EXPECT_EQ(m->args, Json::parse(R"([1,"é"])"));
  EXPECT_EQ(m->kwargs, Json::parse(R"({"k":[true,null]})"));
  EXPECT_EQ(m->options["max_retries"], 3);
  EXPECT_EQ(m->message_id, "3c8b1c6e-6f1c-4a57-9e43-0c1d2b7a9e10");
  EXPECT_EQ(m->message_timestamp, 1736937000123);
}

TEST(TaskMessageTest, RoundTripIsByteForByte) {
  auto m = decode_task_message(kDramatiqBody);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(encode_task_message(*m), kDramatiqBody);
}

TEST(TaskMessageTest, OptionOrderIsKeptAndNewOptionsAppend) {
  const std::string body = R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{"zeta":1,"alpha":2},)"
                           R"("message_id":"id-1","message_timestamp":5})";
  auto m = decode_task_message(body);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(encode_task_message(*m), body);
  m->options["retries"] = 1;
  m->options["zeta"] = 7;  // replaced in place, as in a Python dict
  EXPECT_THAT(encode_task_message(*m), HasSubstr(R"("options":{"zeta":7,"alpha":2,"retries":1})"));
}

TEST(TaskMessageTest, EncodesNonAsciiAsPythonDoes) {
  TaskMessage m;
  m.queue_name = "q";
  m.actor_name = "a";
  m.args = Json::array({"\xF0\x9F\x98\x80", "tab\there", "\x7F"});
  m.message_id = "x";
  m.message_timestamp = 1;
  // Python: json.dumps(["😀", "tab\there", "\x7f"]) == '["\ud83d\ude00", "tab\\there", "\u007f"]'
  EXPECT_THAT(encode_task_message(m), HasSubstr(R"("args":["\ud83d\ude00","tab\there","\u007f"])"));
}

TEST(TaskMessageTest, MissingIdAndTimestampAreFilledAsDramatiqDoes) {
  auto m = decode_task_message(R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{}})");
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->message_id.size(), 36u);
  EXPECT_GT(m->message_timestamp, 1'700'000'000'000);
  auto nulls = decode_task_message(
      R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{},"message_id":null,"message_timestamp":null})");
  ASSERT_TRUE(nulls.ok()) << nulls.error().message();
  EXPECT_FALSE(nulls->message_id.empty());
}

struct Malformed {
  std::string body;
  std::string reason;
};

class MalformedTest : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedTest, IsRejectedWithReason) {
  auto m = decode_task_message(GetParam().body);
  ASSERT_FALSE(m.ok()) << GetParam().body;
  EXPECT_EQ(m.error().code(), Errc::invalid_argument);
  EXPECT_THAT(m.error().message(), HasSubstr(GetParam().reason)) << GetParam().body;
}

const std::string kValidTail = R"("message_id":"i","message_timestamp":1})";

INSTANTIATE_TEST_SUITE_P(
    Bodies, MalformedTest,
    ::testing::Values(
        Malformed{"", "not valid UTF-8 JSON"}, Malformed{"not json", "not valid UTF-8 JSON"},
        Malformed{"\xff\xfe{}", "not valid UTF-8 JSON"}, Malformed{"[1,2]", "must be a JSON object, not an array"},
        Malformed{"42", "must be a JSON object"},
        Malformed{R"({"actor_name":"a","args":[],"kwargs":{},"options":{}})", "'queue_name' is missing"},
        Malformed{R"({"queue_name":"q","args":[],"kwargs":{},"options":{}})", "'actor_name' is missing"},
        Malformed{R"({"queue_name":"q","actor_name":"a","kwargs":{},"options":{}})", "'args' is missing"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"options":{}})", "'kwargs' is missing"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{}})", "'options' is missing"},
        Malformed{R"({"queue_name":1,"actor_name":"a","args":[],"kwargs":{},"options":{}})",
                  "'queue_name' must be a string, not an integer"},
        Malformed{R"({"queue_name":"q","actor_name":"","args":[],"kwargs":{},"options":{}})", "'actor_name' is empty"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":"abc","kwargs":{},"options":{}})",
                  "'args' must be an array, not a string"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":[],"options":{}})",
                  "'kwargs' must be an object, not an array"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":null})",
                  "'options' must be an object, not null"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{},"message_id":7})",
                  "'message_id' must be a string"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{},"message_timestamp":"x"})",
                  "'message_timestamp' must be an integer"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{},"message_timestamp":1.5})",
                  "'message_timestamp' must be an integer"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{},"extra":1})",
                  "unknown field 'extra'"},
        Malformed{R"({"queue_name":"bad name","actor_name":"a","args":[],"kwargs":{},"options":{}})",
                  "queue_name: queue name 'bad name'"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{"max_retries":"3"}})",
                  "options.max_retries must be a number"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{"eta":-5}})",
                  "options.eta must not be negative"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{"pipe_ignore":1}})",
                  "options.pipe_ignore must be a boolean"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{"broker_priority":300}})",
                  "broker_priority must be an integer from 0 to 255"},
        Malformed{
            R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{"pipe_target":{"queue_name":"q"}}})",
            "options.pipe_target: malformed task message: field 'actor_name' is missing"},
        Malformed{R"({"queue_name":"q","actor_name":"a","args":[],"kwargs":{},"options":{"traceback":[]}})",
                  "options.traceback must be a string"}));

TEST(TaskMessageTest, OversizedBodyIsRejected) {
  std::string body = R"({"queue_name":"q","actor_name":"a","args":[")" + std::string(2'000'000, 'x') +
                     R"("],"kwargs":{},"options":{}})";
  auto m = decode_task_message(body);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message(), HasSubstr("more than the limit of 1048576"));
  EXPECT_TRUE(decode_task_message(body, 4'000'000).ok()) << "the limit is the caller's";
}

TEST(TaskMessageTest, DeepNestingIsRejectedBeforeParsing) {
  std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto m =
      decode_task_message(R"({"queue_name":"q","actor_name":"a","args":)" + deep + R"(,"kwargs":{},"options":{}})");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message(), HasSubstr("nested deeper than 128"));
  // Brackets inside strings do not count.
  auto fine = decode_task_message(R"({"queue_name":"q","actor_name":"a","args":[")" + std::string(500, '[') +
                                  R"("],"kwargs":{},"options":{}})");
  EXPECT_TRUE(fine.ok()) << fine.error().message();
}

TEST(TaskQueueNamesTest, AsDramatiq) {
  EXPECT_EQ(canonical_queue_name("q"), "q");
  EXPECT_EQ(canonical_queue_name("q.DQ"), "q");
  EXPECT_EQ(canonical_queue_name("q.XQ"), "q");
  EXPECT_EQ(delay_queue_name("q"), "q.DQ");
  EXPECT_EQ(delay_queue_name("q.DQ"), "q.DQ");
  EXPECT_EQ(delay_queue_name("q.XQ"), "q.DQ");
  EXPECT_EQ(dead_letter_queue_name("q"), "q.XQ");
  EXPECT_EQ(dead_letter_queue_name("q.DQ"), "q.XQ");
  EXPECT_EQ(dead_letter_queue_name("q.XQ"), "q.XQ");
  EXPECT_EQ(queue_name_problem("default"), "");
  EXPECT_EQ(queue_name_problem("_a.b-c9"), "");
  EXPECT_NE(queue_name_problem(""), "");
  EXPECT_NE(queue_name_problem("9lives"), "");
  EXPECT_NE(queue_name_problem("a b"), "");
  EXPECT_NE(queue_name_problem("q.DQ"), "");
  EXPECT_NE(queue_name_problem(std::string(201, 'a')), "");
}

}  // namespace
}  // namespace dc::tasks
