#include <gtest/gtest.h>

#include "http/sse.h"
#include "http/url.h"

namespace dc {
namespace {

TEST(HttpUrl, ParsesBaseUrls) {
  auto url = parse_http_url("http://127.0.0.1:8080");
  ASSERT_TRUE(url);
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->base_path, "");
  auto secure = parse_http_url("https://dc.example.com/dc/");
  ASSERT_TRUE(secure);
  EXPECT_TRUE(secure->tls);
  EXPECT_EQ(secure->port, 443);
  EXPECT_EQ(secure->base_path, "/dc");
  auto v6 = parse_http_url("http://[::1]:9");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host_header(), "[::1]:9");
  for (const char* bad : {"ftp://x", "127.0.0.1:8080", "http://user:pw@x", "http://x:0", "http://x/a?b=1", "http://"}) {
    EXPECT_FALSE(parse_http_url(bad)) << bad;
  }
}

TEST(PercentEncoding, RoundTrips) {
  EXPECT_EQ(percent_encode("a b/<c>%"), "a%20b%2F%3Cc%3E%25");
  EXPECT_EQ(percent_decode("a%20b%2F%3Cc%3E%25"), "a b/<c>%");
  EXPECT_EQ(percent_decode("x+y"), "x+y");
  EXPECT_FALSE(percent_decode("%2"));
  EXPECT_FALSE(percent_decode("%zz"));
}

TEST(Query, ParsesPairsInOrder) {
  auto q = parse_query("app_id=a%3Cb&pending=true&&flag&x=1+2");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 4u);
  EXPECT_EQ((*q)[0], (std::pair<std::string, std::string>{"app_id", "a<b"}));
  EXPECT_EQ((*q)[1].second, "true");
  EXPECT_EQ((*q)[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ((*q)[3].second, "1 2");
  EXPECT_FALSE(parse_query("a=%"));
}

TEST(Sse, FormatsAndParsesBack) {
  const std::string wire = format_sse_event("42", "command", "{\"a\":1}\nsecond line") + format_sse_comment("ping") +
                           format_sse_event("43", "app\r\nevil: x", "");
  SseParser parser;
  // Split anywhere: feed one byte at a time.
  std::vector<SseEvent> events;
  for (const char c : wire) {
    for (auto& e : parser.feed(std::string_view(&c, 1))) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, "42");
  EXPECT_EQ(events[0].event, "command");
  EXPECT_EQ(events[0].data, "{\"a\":1}\nsecond line");
  EXPECT_EQ(events[1].id, "43");
  EXPECT_EQ(events[1].event, "appevil: x");  // a line break cannot start a new field
  EXPECT_EQ(events[1].data, "");
}

TEST(Sse, CrLfAndCommentsAreHandled) {
  SseParser parser;
  auto events = parser.feed(": hello\r\n\r\nid: 7\r\ndata: x\r\n\r\ndata: no id\r\n\r\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, "7");
  EXPECT_EQ(events[0].data, "x");
  EXPECT_EQ(events[1].id, "7");  // the last event id carries over, as in browsers
}

}  // namespace
}  // namespace dc
