// parse_host_list / parse_host_port.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"

namespace dc {
namespace {

using ::testing::HasSubstr;

std::vector<HostPort> hosts_ok(std::string_view list, int default_port = 5672) {
  Result<std::vector<HostPort>> hosts = parse_host_list(list, default_port);
  EXPECT_TRUE(hosts.ok()) << list << ": " << hosts.error().message();
  return hosts.ok() ? hosts.value() : std::vector<HostPort>{};
}

TEST(HostListTest, ParsesNamesPortsAndIpv6) {
  EXPECT_EQ(hosts_ok("localhost"), (std::vector<HostPort>{{"localhost", 5672}}));
  EXPECT_EQ(hosts_ok("h1,h2:5673"), (std::vector<HostPort>{{"h1", 5672}, {"h2", 5673}}));
  EXPECT_EQ(hosts_ok(" h1 , h2:5673 ", 5671), (std::vector<HostPort>{{"h1", 5671}, {"h2", 5673}}));
  EXPECT_EQ(hosts_ok("[::1]:5673,[fe80::1%eth0]"), (std::vector<HostPort>{{"::1", 5673}, {"fe80::1%eth0", 5672}}));
  EXPECT_EQ(hosts_ok("::1"), (std::vector<HostPort>{{"::1", 5672}})) << "bare IPv6 without a port";
  EXPECT_EQ(hosts_ok("10.0.0.1:1,rabbit-2.example.com:65535"),
            (std::vector<HostPort>{{"10.0.0.1", 1}, {"rabbit-2.example.com", 65535}}));
}

TEST(HostListTest, RejectsBadEntriesNamingThem) {
  for (const char* bad : {"", " ", "h1,", "h1,,h2", ":5672", "h1:", "h1:0", "h1:65536", "h1:-1", "h1:x", "h 1", "[::1",
                          "[]:5672", "[::1]5672", "h1:5672:1:2x", "h\x01"}) {
    Result<std::vector<HostPort>> hosts = parse_host_list(bad, 5672);
    EXPECT_FALSE(hosts.ok()) << "'" << bad << "' was accepted";
    if (!hosts.ok()) {
      EXPECT_EQ(hosts.error().code(), Errc::invalid_argument);
    }
  }
  Result<std::vector<HostPort>> hosts = parse_host_list("good,bad:99999", 5672);
  ASSERT_FALSE(hosts.ok());
  EXPECT_THAT(hosts.error().message(), HasSubstr("'bad:99999'"));
  EXPECT_THAT(hosts.error().message(), HasSubstr("1-65535"));
}

TEST(HostPortTest, RequiresHostAndPort) {
  Result<HostPort> address = parse_host_port("127.0.0.1:9100");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(*address, (HostPort{"127.0.0.1", 9100}));
  address = parse_host_port("[::]:9100");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(*address, (HostPort{"::", 9100}));
  for (const char* bad : {"", "host", "9100", ":9100", "host:", "::1", "[::1]", "a,b:1"}) {
    EXPECT_FALSE(parse_host_port(bad).ok()) << "'" << bad << "' was accepted";
  }
  EXPECT_THAT(parse_host_port("::1").error().message(), HasSubstr("brackets"));
}

}  // namespace
}  // namespace dc
