#include <gtest/gtest.h>

#include "protocol/command.h"

namespace dc {
namespace {

using std::chrono::seconds;

constexpr std::string_view kBody = R"({"app_id":"demo","command":4})";
constexpr std::string_view kId = "7d1f0c2a-3b4e-4f5a-8b6c-9d0e1f2a3b4c";
constexpr std::string_view kKey = "manager_a";

class Signature : public ::testing::Test {
 protected:
  const TimePoint now_ = *parse_iso8601("2026-01-01T12:00:00Z");
  const std::vector<std::string> secrets_{"current-key", "previous-key"};

  std::string problem(const std::optional<std::string>& signature, std::string_view id = kId,
                      std::string_view body = kBody, TimePoint issued = {}, std::string_view key = kKey) {
    if (issued == TimePoint{}) issued = now_;
    return signature_problem(secrets_, signature, id, key, body, issued, now_, seconds(300));
  }
};

TEST_F(Signature, IsHmacOfIdRoutingKeyAndBody) {
  const auto sig = sign_command("current-key", kId, kKey, kBody);
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_EQ(sig, sign_command("current-key", kId, kKey, kBody));
  EXPECT_NE(sig, sign_command("other-key", kId, kKey, kBody));
  EXPECT_NE(sig, sign_command("current-key", "other-id", kKey, kBody));
  EXPECT_NE(sig, sign_command("current-key", kId, "manager_b", kBody));
  // The separators keep fields apart: moving bytes between them changes it.
  EXPECT_NE(sign_command("k", "ab", "c", "d"), sign_command("k", "a", "bc", "d"));
  EXPECT_NE(sig, sign_command("current-key", kId, kKey, R"({"app_id":"demo","command":5})"));
}

TEST_F(Signature, AcceptsEveryKeyOfTheRotationSet) {
  EXPECT_EQ(problem(sign_command("current-key", kId, kKey, kBody)), "");
  EXPECT_EQ(problem(sign_command("previous-key", kId, kKey, kBody)), "");
}

TEST_F(Signature, RejectsUnsignedWrongAndTampered) {
  EXPECT_NE(problem(std::nullopt).find("unsigned"), std::string::npos);
  EXPECT_NE(problem(std::string()).find("unsigned"), std::string::npos);
  EXPECT_NE(problem(sign_command("retired-key", kId, kKey, kBody)).find("bad signature"), std::string::npos);
  const auto sig = sign_command("current-key", kId, kKey, kBody);
  EXPECT_NE(problem(sig, kId, R"({"app_id":"demo","command":5})").find("bad signature"), std::string::npos);
  EXPECT_NE(problem(sig, "another-id").find("bad signature"), std::string::npos);
}

// Issue 11, item 3: a message signed for manager A's routing key does not
// verify when it arrives under another routing key (re-published to B, or
// to `all`).
TEST_F(Signature, RejectsAMessageReplayedUnderAnotherRoutingKey) {
  const auto sig = sign_command("current-key", kId, kKey, kBody);
  EXPECT_EQ(problem(sig), "");
  EXPECT_NE(problem(sig, kId, kBody, {}, "manager_b").find("bad signature"), std::string::npos);
  EXPECT_NE(problem(sig, kId, kBody, {}, "all").find("bad signature"), std::string::npos);
}

TEST_F(Signature, RejectsReplaysOutsideTheWindow) {
  const auto sig = sign_command("current-key", kId, kKey, kBody);
  EXPECT_EQ(problem(sig, kId, kBody, now_ - seconds(299)), "");
  EXPECT_NE(problem(sig, kId, kBody, now_ - seconds(301)).find("expired"), std::string::npos);
  EXPECT_NE(problem(sig, kId, kBody, now_ + seconds(301)).find("future"), std::string::npos);
}

}  // namespace
}  // namespace dc
