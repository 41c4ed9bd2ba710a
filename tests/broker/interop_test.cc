// Interoperability with an independent client: pika (the design note's
// client) publishes the note's example message for our consumer, and reads
// what our publisher sends. Uses tests/broker/pika_peer.py with
// /usr/bin/python3.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/time.h"
#include "broker_test_util.h"
#include "protocol/command.h"

namespace dc::broker {
namespace {

using namespace std::chrono_literals;

// The message exactly as the design note shows it (seed/000_..., "Message
// Format"), whitespace included.
constexpr std::string_view kNoteExample = R"({
    "app_id": "a1b2c3d4...",
    "command": 1,
    "issued_by": "admin@example.com",
    "timestamp": "2025-01-15T10:30:00Z",
    "args": {"company_id": "123456", "monitoring": true}
})";

std::string peer() { return std::string("/usr/bin/python3 ") + DC_BROKER_TEST_DIR + "/pika_peer.py"; }

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    DC_REQUIRE_RABBIT();
    if (dc::test::run_shell("/usr/bin/python3 -c 'import pika' 2>/dev/null") != 0) {
      GTEST_SKIP() << "python3-pika missing: run scripts/install-deps.sh";
    }
    topo_.exchange = test::unique_name("dc-interop-ex");
    topo_.queue = test::unique_name("dc-interop-q");
    auto conn = Connection::open(test::test_settings());
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    ASSERT_TRUE(declare_command_topology(*conn, topo_).ok());
  }
  void TearDown() override {
    if (!topo_.queue.empty()) test::delete_topology(topo_);
  }
  CommandTopology topo_;
};

TEST_F(Interop, PikaPublishesTheNoteExampleAndOurConsumerReadsIt) {
  const auto ep = *dc::test::rabbit_endpoint();
  const std::string id = random_uuid();
  const TimePoint before = now();
  std::string out;
  const int rc =
      dc::test::run_shell(peer() + " publish " + ep.host + " " + std::to_string(ep.port) + " " + topo_.exchange + " " +
                              topo_.queue + " " + id + " " + shell_quote(kNoteExample) + " 2>&1",
                          &out);
  ASSERT_EQ(rc, 0) << out;

  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok());
  auto consumer = Consumer::start(std::move(*conn), {topo_.queue, 1, ""});
  ASSERT_TRUE(consumer.ok()) << consumer.error().message();
  auto d = consumer->next(5s);
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_TRUE(d->has_value());
  const Delivery& got = **d;
  EXPECT_EQ(got.body, kNoteExample);
  EXPECT_EQ(got.message_id, id);
  EXPECT_EQ(got.content_type, "application/json");
  EXPECT_EQ(got.delivery_mode, 2);
  ASSERT_TRUE(got.timestamp.has_value());
  EXPECT_GE(*got.timestamp, std::chrono::floor<std::chrono::seconds>(before) - 1s);

  // And the protocol layer reads it as the command the note means.
  MessageProperties props;
  props.message_id = got.message_id;
  props.content_type = got.content_type;
  props.timestamp = std::chrono::duration_cast<std::chrono::seconds>(got.timestamp->time_since_epoch()).count();
  auto cmd = parse_command(got.body, props, now());
  ASSERT_TRUE(cmd.ok()) << cmd.error().message();
  EXPECT_EQ(cmd->id, id);
  EXPECT_EQ(cmd->app_id, "a1b2c3d4...");
  EXPECT_EQ(cmd->name, CmdName::start);
  EXPECT_EQ(cmd->issued_by, "admin@example.com");
  EXPECT_EQ(cmd->issued_at, *parse_iso8601("2025-01-15T10:30:00Z"));
  EXPECT_EQ(nlohmann::json::parse(cmd->args_json),
            nlohmann::json::parse(R"({"company_id":"123456","monitoring":true})"));
  EXPECT_TRUE(consumer->ack(got.delivery_tag).ok());
}

TEST_F(Interop, PikaReadsWhatOurPublisherSends) {
  auto conn = Connection::open(test::test_settings());
  ASSERT_TRUE(conn.ok());
  auto publisher = Publisher::create(std::move(*conn));
  ASSERT_TRUE(publisher.ok());
  OutgoingMessage m;
  m.exchange = topo_.exchange;
  m.routing_key = "all";
  m.body = std::string(kNoteExample);
  m.message_id = random_uuid();
  m.timestamp = *parse_iso8601("2025-01-15T10:30:00Z");
  m.headers = {{"x-dc-signature", "deadbeef"}};
  ASSERT_EQ(publisher->publish(m).outcome, PublishOutcome::confirmed);

  const auto ep = *dc::test::rabbit_endpoint();
  std::string out;
  const int rc =
      dc::test::run_shell(peer() + " get " + ep.host + " " + std::to_string(ep.port) + " " + topo_.queue + " 5", &out);
  ASSERT_EQ(rc, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["body"], m.body);
  EXPECT_EQ(j["content_type"], "application/json");
  EXPECT_EQ(j["delivery_mode"], 2);
  EXPECT_EQ(j["message_id"], m.message_id);
  EXPECT_EQ(j["timestamp"], 1736937000);  // 2025-01-15T10:30:00Z
  EXPECT_EQ(j["headers"]["x-dc-signature"], "deadbeef");
  EXPECT_EQ(j["routing_key"], "all");
  EXPECT_EQ(j["exchange"], topo_.exchange);
}

}  // namespace
}  // namespace dc::broker
