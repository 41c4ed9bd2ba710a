// Parsing of "host:port" lists and redaction of credentials in URLs.
#include <cctype>
#include <charconv>
#include <string>

#include "config/config.h"

namespace dc {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

// Returns the port, or nullopt unless `text` is a decimal 1-65535.
std::optional<int> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) return std::nullopt;
  return port;
}

// Empty when `host` may be handed to getaddrinfo, else the reason. Host names
// and IPv4 literals use [A-Za-z0-9.-_]; IPv6 literals hex digits, ':' and '.',
// plus an optional "%zone" suffix (an interface name).
std::string host_problem(std::string_view host, bool ipv6) {
  if (host.empty()) return "the host is empty";
  if (host.size() > 253) return "the host is longer than 253 characters";
  size_t zone = ipv6 ? host.find('%') : std::string_view::npos;
  if (zone == 0 || (zone != std::string_view::npos && zone + 1 == host.size())) return "the IPv6 zone is malformed";
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    auto u = static_cast<unsigned char>(c);
    bool in_zone = zone != std::string_view::npos && i > zone;
    bool ok = in_zone ? (std::isalnum(u) || c == '.' || c == '-' || c == '_')
              : ipv6  ? (std::isxdigit(u) || c == ':' || c == '.' || (i == zone))
                      : (std::isalnum(u) || c == '.' || c == '-' || c == '_');
    if (!ok) {
      return std::isprint(u) ? "the host contains '" + std::string(1, c) + "'"
                             : "the host contains a control or non-ASCII character";
    }
  }
  return {};
}

// Parses one entry; `default_port` nullopt means the port is required.
Result<HostPort> parse_entry(std::string_view raw, std::optional<int> default_port) {
  std::string_view entry = trim(raw);
  auto fail = [&](const std::string& why) {
    return Error(Errc::invalid_argument, "'" + std::string(entry) + "': " + why);
  };
  if (entry.empty()) return Error(Errc::invalid_argument, "an entry is empty (check for stray commas)");

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  bool ipv6 = false;
  if (entry.front() == '[') {
    size_t close = entry.find(']');
    if (close == std::string_view::npos) return fail("'[' without a closing ']'");
    host = entry.substr(1, close - 1);
    ipv6 = true;
    std::string_view after = entry.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("expected ':PORT' after ']'");
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    size_t colons = 0;
    for (char c : entry) colons += c == ':' ? 1 : 0;
    if (colons == 1) {
      size_t colon = entry.find(':');
      host = entry.substr(0, colon);
      port_text = entry.substr(colon + 1);
      has_port = true;
    } else if (colons > 1) {
      // A bare IPv6 literal cannot carry a port: "::1:5672" is ambiguous.
      if (!default_port) return fail("put an IPv6 address in brackets: [::1]:PORT");
      host = entry;
      ipv6 = true;
    } else {
      host = entry;
    }
  }
  if (std::string problem = host_problem(host, ipv6); !problem.empty()) return fail(problem);

  HostPort result;
  result.host = std::string(host);
  if (has_port) {
    std::optional<int> port = parse_port(port_text);
    if (!port) return fail("port '" + std::string(port_text) + "' is not a port number (1-65535)");
    result.port = *port;
  } else if (default_port) {
    result.port = *default_port;
  } else {
    return fail("expected HOST:PORT, e.g. 127.0.0.1:9100");
  }
  return result;
}

}  // namespace

Result<std::vector<HostPort>> parse_host_list(std::string_view list, int default_port) {
  std::vector<HostPort> hosts;
  size_t start = 0;
  while (true) {
    size_t comma = list.find(',', start);
    std::string_view entry =
        list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    Result<HostPort> host = parse_entry(entry, default_port);
    if (!host.ok()) return host.error();
    hosts.push_back(std::move(host.value()));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return hosts;
}

Result<HostPort> parse_host_port(std::string_view text) { return parse_entry(text, std::nullopt); }

std::string redact_url(std::string_view url) {
  std::string out(url);
  size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    size_t rest = scheme_end + 3;
    // The userinfo ends at the last '@' of the authority. A password with an
    // unescaped '/' would end the authority early, so when the authority has
    // no '@' look up to the query instead: over-masking beats a leak.
    size_t authority_end = out.find_first_of("/?#", rest);
    size_t at = std::string::npos;
    if (authority_end != rest) {
      at = out.rfind('@', authority_end == std::string::npos ? std::string::npos : authority_end - 1);
      if (at != std::string::npos && at < rest) at = std::string::npos;
    }
    if (at == std::string::npos) {
      size_t query = out.find_first_of("?#", rest);
      size_t candidate = out.rfind('@', query == std::string::npos ? std::string::npos : query);
      if (candidate != std::string::npos && candidate >= rest && (query == std::string::npos || candidate < query)) {
        at = candidate;
      }
    }
    if (at != std::string::npos) {
      size_t colon = out.find(':', rest);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // libpq also takes the password as a query parameter.
  size_t query = out.find('?');
  while (query != std::string::npos && query < out.size()) {
    size_t param = query + 1;
    size_t param_end = out.find_first_of("&#", param);
    if (param_end == std::string::npos) param_end = out.size();
    std::string_view name = std::string_view(out).substr(param, param_end - param);
    name = name.substr(0, name.find('='));
    std::string lowered;
    for (char c : name) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lowered == "password" && param + name.size() < param_end) {
      size_t value = param + name.size() + 1;
      out.replace(value, param_end - value, "***");
      param_end = value + 3;
    }
    if (param_end >= out.size() || out[param_end] == '#') break;
    query = param_end;
  }
  return out;
}

}  // namespace dc
