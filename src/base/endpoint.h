// A network endpoint, host and port, and the one parser of its text form.
// The broker host list (rabbit_host), the broker connection and every HTTP
// listener (metrics_listen) take endpoints from here, so an address the
// configuration accepts is one the program can use.
//
// Text forms: "host:port", "[v6-literal]:port"; in a list, also "host"
// (the list's default port) and a bare IPv6 literal without a port ("::1").
// A host is a name or IPv4 literal of [A-Za-z0-9._-], or an IPv6 literal of
// hex digits, ':' and '.', with an optional "%zone" (interface name).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace dc {

struct Endpoint {
  std::string host;  // a name or an address; an IPv6 literal without brackets
  int port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// "host:port", or "[v6]:port" for an IPv6 literal (a host with ':' or a
// "%zone"): text that parse_listen_address() reads back to `endpoint`.
std::string to_string(const Endpoint& endpoint);

// Parses a list "h1,h2:5673,[::1]:5671" (entries trimmed of white space; an
// entry without a port gets `default_port`). Ports are 1-65535.
// Errc::invalid_argument naming the bad entry when an entry is empty, a port
// is out of range, or a host holds characters no host can.
Result<std::vector<Endpoint>> parse_endpoint_list(std::string_view list, int default_port);

// Parses one address to listen on: "host:port" or "[v6]:port", both
// required; port 0 asks the system for a free port. "0.0.0.0:PORT" and
// "[::]:PORT" listen on every interface. Errc::invalid_argument saying why.
Result<Endpoint> parse_listen_address(std::string_view text);

}  // namespace dc
