#include "http/url.h"

#include <charconv>

namespace dc {
namespace {

Result<uint16_t> parse_port(std::string_view text, std::string_view whole, int min_port) {
  int port = -1;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port < min_port || port > 65535) {
    return Error(Errc::invalid_argument, "'" + std::string(whole) + "': the port must be a number from " +
                                             std::to_string(min_port) + " to 65535");
  }
  return static_cast<uint16_t>(port);
}

bool valid_host(std::string_view host, bool bracketed) {
  if (host.empty()) return false;
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || (bracketed && (c == ':' || c == '%'));
    if (!ok) return false;
  }
  return true;
}

// "host:port" / "[v6]:port", with an optional port when `default_port` >= 0.
Result<HostAndPort> split_host_port(std::string_view text, int default_port, int min_port) {
  HostAndPort out;
  std::string_view rest;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Error(Errc::invalid_argument, "'" + std::string(text) + "': an IPv6 address needs its closing ']'");
    }
    out.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    bracketed = true;
  } else {
    const size_t colon = text.rfind(':');
    out.host = std::string(text.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (!valid_host(out.host, bracketed)) {
    return Error(Errc::invalid_argument,
                 "'" + std::string(text) + "': expected host:port or [IPv6]:port, with a host name or address");
  }
  if (rest.empty()) {
    if (default_port < 0) return Error(Errc::invalid_argument, "'" + std::string(text) + "': the port is missing");
    out.port = static_cast<uint16_t>(default_port);
    return out;
  }
  if (rest.front() != ':') {
    return Error(Errc::invalid_argument, "'" + std::string(text) + "': expected ':' and a port after the host");
  }
  auto port = parse_port(rest.substr(1), text, min_port);
  if (!port) return port.error();
  out.port = *port;
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Result<HostAndPort> split_listen_address(std::string_view text) {
  auto parsed = split_host_port(text, -1, 0);
  if (!parsed) return parsed.error();
  return parsed;
}

std::string HttpUrl::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HttpUrl> parse_http_url(std::string_view text) {
  HttpUrl url;
  std::string_view rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    url.tls = true;
    rest = text.substr(8);
  } else {
    return Error(Errc::invalid_argument,
                 "'" + std::string(text) + "' is not an http:// or https:// URL (e.g. http://127.0.0.1:8080)");
  }
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    return Error(Errc::invalid_argument,
                 "'" + std::string(text) + "': credentials do not go in the URL; use a token file");
  }
  auto host_port = split_host_port(authority, url.tls ? 443 : 80, 1);
  if (!host_port) return host_port.error();
  url.host = host_port->host;
  url.port = host_port->port;
  if (slash != std::string_view::npos) {
    std::string_view base = rest.substr(slash);
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    if (base.find_first_of("?#") != std::string_view::npos) {
      return Error(Errc::invalid_argument, "'" + std::string(text) + "': the URL must not carry a query or fragment");
    }
    url.base_path = std::string(base);
  }
  return url;
}

std::optional<std::string> percent_decode(std::string_view text) { return decode(text, false); }

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    auto key = decode(part.substr(0, eq), true);
    auto value = decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

}  // namespace dc
