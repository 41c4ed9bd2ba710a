#include "base/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace dc {
namespace {

TEST(Ids, RandomUuidsAreVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = random_uuid();
    ASSERT_TRUE(is_uuid(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(Ids, StableUuidIsDeterministic) {
  EXPECT_EQ(stable_uuid("abc"), stable_uuid("abc"));
  EXPECT_NE(stable_uuid("abc"), stable_uuid("abd"));
  EXPECT_TRUE(is_uuid(stable_uuid("")));
  EXPECT_EQ(stable_uuid("abc")[14], '5');
  // A real RFC 9562 version 5: the values Python's uuid.uuid5 gives for dc's
  // namespace, so outside tools can compute the id a manager derives.
  EXPECT_EQ(stable_uuid(R"({"app_id":"demo","command":4})"), "409fc15c-98e2-5d92-88a3-113f4c8a356d");
  EXPECT_EQ(stable_uuid(""), "d05a9c41-7554-536c-99a1-a4886adbd68e");
}

TEST(Ids, RecognizesUuids) {
  EXPECT_TRUE(is_uuid("123e4567-E89B-12d3-a456-426614174000"));
  EXPECT_FALSE(is_uuid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(is_uuid(""));
}

TEST(Ids, Sha256MatchesKnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Ids, HmacMatchesRfc4231Case2) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Ids, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

}  // namespace
}  // namespace dc
