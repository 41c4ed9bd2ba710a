// parse_endpoint_list / parse_listen_address / to_string(Endpoint).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/endpoint.h"

namespace dc {
namespace {

using ::testing::HasSubstr;

std::vector<Endpoint> hosts_ok(std::string_view list, int default_port = 5672) {
  Result<std::vector<Endpoint>> hosts = parse_endpoint_list(list, default_port);
  EXPECT_TRUE(hosts.ok()) << list << ": " << hosts.error().message();
  return hosts.ok() ? hosts.value() : std::vector<Endpoint>{};
}

TEST(EndpointListTest, ParsesNamesPortsAndIpv6) {
  EXPECT_EQ(hosts_ok("localhost"), (std::vector<Endpoint>{{"localhost", 5672}}));
  EXPECT_EQ(hosts_ok("h1,h2:5673"), (std::vector<Endpoint>{{"h1", 5672}, {"h2", 5673}}));
  EXPECT_EQ(hosts_ok(" h1 , h2:5673 ", 5671), (std::vector<Endpoint>{{"h1", 5671}, {"h2", 5673}}));
  EXPECT_EQ(hosts_ok("[::1]:5673,[fe80::1%eth0]"), (std::vector<Endpoint>{{"::1", 5673}, {"fe80::1%eth0", 5672}}));
  EXPECT_EQ(hosts_ok("::1"), (std::vector<Endpoint>{{"::1", 5672}})) << "bare IPv6 without a port";
  EXPECT_EQ(hosts_ok("10.0.0.1:1,rabbit-2.example.com:65535"),
            (std::vector<Endpoint>{{"10.0.0.1", 1}, {"rabbit-2.example.com", 65535}}));
}

TEST(EndpointListTest, RejectsBadEntriesNamingThem) {
  for (const char* bad : {"", " ", "h1,", "h1,,h2", ":5672", "h1:", "h1:0", "h1:65536", "h1:-1", "h1:x", "h 1", "[::1",
                          "[]:5672", "[::1]5672", "h1:5672:1:2x", "h\x01"}) {
    Result<std::vector<Endpoint>> hosts = parse_endpoint_list(bad, 5672);
    EXPECT_FALSE(hosts.ok()) << "'" << bad << "' was accepted";
    if (!hosts.ok()) {
      EXPECT_EQ(hosts.error().code(), Errc::invalid_argument);
    }
  }
  Result<std::vector<Endpoint>> hosts = parse_endpoint_list("good,bad:99999", 5672);
  ASSERT_FALSE(hosts.ok());
  EXPECT_THAT(hosts.error().message(), HasSubstr("'bad:99999'"));
  EXPECT_THAT(hosts.error().message(), HasSubstr("1-65535"));
}

TEST(ListenAddressTest, RequiresHostAndPortAndAllowsPortZero) {
  Result<Endpoint> address = parse_listen_address("127.0.0.1:9100");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(*address, (Endpoint{"127.0.0.1", 9100}));
  address = parse_listen_address("[::]:9100");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(*address, (Endpoint{"::", 9100}));
  address = parse_listen_address("[::1]:0");
  ASSERT_TRUE(address.ok()) << "port 0: any free port";
  EXPECT_EQ(*address, (Endpoint{"::1", 0}));
  address = parse_listen_address("localhost:0");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(*address, (Endpoint{"localhost", 0}));
  for (const char* bad : {"", "host", "9100", ":9100", "host:", "::1", "[::1]", "a,b:1", "h:65536", "h:-1", "*:80",
                          "h 1:80", "[::1]:80x"}) {
    const Result<Endpoint> result = parse_listen_address(bad);
    EXPECT_FALSE(result.ok()) << "'" << bad << "' was accepted";
    if (!result.ok()) {
      EXPECT_EQ(result.error().code(), Errc::invalid_argument);
    }
  }
  EXPECT_THAT(parse_listen_address("::1").error().message(), HasSubstr("brackets"));
  EXPECT_THAT(parse_listen_address("h:65536").error().message(), HasSubstr("0-65535"));
}

TEST(EndpointTest, PrintsIpv6InBrackets) {
  EXPECT_EQ(to_string(Endpoint{"rabbit-1", 5672}), "rabbit-1:5672");
  EXPECT_EQ(to_string(Endpoint{"::1", 9100}), "[::1]:9100");
  // What to_string prints, the parsers read back.
  for (const Endpoint& e : {Endpoint{"10.0.0.1", 1}, Endpoint{"fe80::1%eth0", 5673}, Endpoint{"h", 65535}}) {
    EXPECT_EQ(*parse_listen_address(to_string(e)), e);
    EXPECT_EQ(parse_endpoint_list(to_string(e), 1)->front(), e);
  }
}

}  // namespace
}  // namespace dc
