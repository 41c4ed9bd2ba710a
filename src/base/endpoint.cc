#include "base/endpoint.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "base/strings.h"

namespace dc {
namespace {

// The port in `text` if it is a decimal number from `lowest` to 65535.
std::optional<int> parse_port(std::string_view text, int lowest) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < lowest || port > 65535) return std::nullopt;
  return port;
}

// Empty when `host` may be handed to getaddrinfo, else the reason.
std::string host_problem(std::string_view host, bool ipv6) {
  if (host.empty()) return "the host is empty";
  if (host.size() > 253) return "the host is longer than 253 characters";
  const size_t zone = ipv6 ? host.find('%') : std::string_view::npos;
  if (zone == 0 || (zone != std::string_view::npos && zone + 1 == host.size())) return "the IPv6 zone is malformed";
  for (size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    const auto u = static_cast<unsigned char>(c);
    const bool in_zone = zone != std::string_view::npos && i > zone;
    const bool name_char = std::isalnum(u) || c == '.' || c == '-' || c == '_';
    const bool ok = in_zone ? name_char : ipv6 ? (std::isxdigit(u) || c == ':' || c == '.' || i == zone) : name_char;
    if (!ok) {
      return std::isprint(u) ? "the host contains '" + std::string(1, c) + "'"
                             : "the host contains a control or non-ASCII character";
    }
  }
  return {};
}

struct EntryRules {
  std::optional<int> default_port;  // nullopt: the port is required
  int lowest_port = 1;
};

Result<Endpoint> parse_entry(std::string_view raw, const EntryRules& rules) {
  const std::string_view entry = trim(raw);
  auto fail = [&](const std::string& why) {
    return Error(Errc::invalid_argument, "'" + std::string(entry) + "': " + why);
  };
  if (entry.empty()) return Error(Errc::invalid_argument, "an entry is empty (check for stray commas)");

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  bool ipv6 = false;
  if (entry.front() == '[') {
    const size_t close = entry.find(']');
    if (close == std::string_view::npos) return fail("'[' without a closing ']'");
    host = entry.substr(1, close - 1);
    ipv6 = true;
    const std::string_view after = entry.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("expected ':PORT' after ']'");
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t colons = static_cast<size_t>(std::count(entry.begin(), entry.end(), ':'));
    if (colons == 1) {
      const size_t colon = entry.find(':');
      host = entry.substr(0, colon);
      port_text = entry.substr(colon + 1);
      has_port = true;
    } else if (colons > 1) {
      // A bare IPv6 literal cannot carry a port: "::1:5672" is ambiguous.
      if (!rules.default_port) return fail("put an IPv6 address in brackets: [::1]:PORT");
      host = entry;
      ipv6 = true;
    } else {
      host = entry;
    }
  }
  if (std::string problem = host_problem(host, ipv6); !problem.empty()) return fail(problem);

  Endpoint result;
  result.host = std::string(host);
  if (has_port) {
    const std::optional<int> port = parse_port(port_text, rules.lowest_port);
    if (!port) {
      return fail("port '" + std::string(port_text) + "' is not a port number (" + std::to_string(rules.lowest_port) +
                  "-65535)");
    }
    result.port = *port;
  } else if (rules.default_port) {
    result.port = *rules.default_port;
  } else {
    return fail("expected HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100");
  }
  return result;
}

}  // namespace

std::string to_string(const Endpoint& endpoint) {
  if (endpoint.host.find_first_of(":%") != std::string::npos) {
    return "[" + endpoint.host + "]:" + std::to_string(endpoint.port);
  }
  return endpoint.host + ":" + std::to_string(endpoint.port);
}

Result<std::vector<Endpoint>> parse_endpoint_list(std::string_view list, int default_port) {
  std::vector<Endpoint> endpoints;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    const std::string_view entry =
        list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    Result<Endpoint> endpoint = parse_entry(entry, EntryRules{default_port, 1});
    if (!endpoint.ok()) return endpoint.error();
    endpoints.push_back(std::move(endpoint.value()));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return endpoints;
}

Result<Endpoint> parse_listen_address(std::string_view text) { return parse_entry(text, EntryRules{std::nullopt, 0}); }

}  // namespace dc
