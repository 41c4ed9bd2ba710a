// The small text forms around HTTP: base URLs, query strings and
// percent-encoding (listen addresses are base/endpoint.h's). Pure
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace dc {

// "http://host[:port][/base]" or "https://...": what dcctl's api_url names.
// The port defaults to 80/443; a trailing '/' of the base is dropped.
struct HttpUrl {
  bool tls = false;
  std::string host;  // an IPv6 literal without its brackets
  uint16_t port = 0;
  std::string base_path;  // "" or "/prefix"
  // "host:port" as a Host header carries it ("[::1]:8080").
  std::string host_header() const;
};
Result<HttpUrl> parse_http_url(std::string_view text);

// Decodes %XX escapes; '+' stays '+'. nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);
// Encodes everything but unreserved characters (RFC 3986: A-Z a-z 0-9 - . _ ~).
std::string percent_encode(std::string_view text);

// "a=1&b=x%20y" -> {{"a","1"},{"b","x y"}} in order ('+' is a space, as
// HTML forms send it). nullopt for a malformed escape.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

}  // namespace dc
