// parse_endpoints: the rabbit_host list syntax (pure, no broker).
#include <gtest/gtest.h>

#include "broker/connection.h"

namespace dc::broker {
namespace {

TEST(ParseEndpoints, SingleHostGetsDefaultPort) {
  auto eps = parse_endpoints("localhost", 5672);
  ASSERT_TRUE(eps.ok()) << eps.error().message();
  EXPECT_EQ(*eps, (std::vector<Endpoint>{{"localhost", 5672}}));
}

TEST(ParseEndpoints, ListWithPortsInOrder) {
  auto eps = parse_endpoints("h1, h2:5673 ,10.0.0.3:1", 5672);
  ASSERT_TRUE(eps.ok()) << eps.error().message();
  EXPECT_EQ(*eps, (std::vector<Endpoint>{{"h1", 5672}, {"h2", 5673}, {"10.0.0.3", 1}}));
}

TEST(ParseEndpoints, Ipv6BracketedAndBare) {
  auto eps = parse_endpoints("[::1]:5674,[fe80::1],::1", 5672);
  ASSERT_TRUE(eps.ok()) << eps.error().message();
  EXPECT_EQ(*eps, (std::vector<Endpoint>{{"::1", 5674}, {"fe80::1", 5672}, {"::1", 5672}}));
}

TEST(ParseEndpoints, RejectsBadEntriesNamingThem) {
  for (const char* bad : {"", "h1,,h2", "h1:abc", "h1:0", "h1:70000", "h1:", ":5672", "[::1", "[::1]x"}) {
    auto eps = parse_endpoints(bad, 5672);
    ASSERT_FALSE(eps.ok()) << "accepted '" << bad << "'";
    EXPECT_EQ(eps.error().code(), Errc::invalid_argument);
  }
  auto eps = parse_endpoints("good,h1:abc", 5672);
  ASSERT_FALSE(eps.ok());
  EXPECT_NE(eps.error().message().find("h1:abc"), std::string::npos) << eps.error().message();
}

}  // namespace
}  // namespace dc::broker
