// A blocking raw TCP client for tests that must send exactly the bytes they
// choose (malformed requests, slow or silent clients): a receive timeout,
// IPv4 or IPv6 loopback, closed on destruction.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace dc::test {

class RawClient {
 public:
  // Connects to 127.0.0.1:`port`, or to [::1]:`port` with `ipv6`.
  explicit RawClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(3000),
                     bool ipv6 = false) {
    fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    set_timeout(timeout);
    if (ipv6) {
      sockaddr_in6 addr{};
      addr.sin6_family = AF_INET6;
      addr.sin6_port = htons(port);
      addr.sin6_addr = in6addr_loopback;
      connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    } else {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    }
    EXPECT_TRUE(connected_) << "cannot connect to " << (ipv6 ? "[::1]:" : "127.0.0.1:") << port;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  void set_timeout(std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  // False when the peer has closed (the send failed).
  bool send(std::string_view data) const {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Everything until the server closes (or the receive timeout).
  std::string read_all() const {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // One response: its head, then as many body bytes as its Content-Length
  // says (everything until close when it has none). Test-side reading only.
  std::string read_response() {
    std::string out;
    char buf[4096];
    for (;;) {
      const size_t end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t length_at = find_header(out.substr(0, end), "content-length:");
        if (length_at != std::string::npos) {
          const size_t length = std::strtoul(out.c_str() + length_at, nullptr, 10);
          if (out.size() >= end + 4 + length) {
            pending_ = out.substr(end + 4 + length);
            return out.substr(0, end + 4 + length);
          }
        } else if (out.compare(9, 3, "100") == 0) {
          pending_ = out.substr(end + 4);
          return out.substr(0, end + 4);
        }
      }
      if (!pending_.empty()) {
        out += pending_;
        pending_.clear();
        continue;
      }
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  // True if the server closed the connection within the receive timeout.
  bool closed_by_server() const {
    char byte;
    return ::recv(fd_, &byte, 1, 0) == 0;
  }

 private:
  static size_t find_header(const std::string& head, std::string_view lower_name) {
    std::string lowered = head;
    for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lowered.find(std::string("\r\n") + std::string(lower_name));
    return at == std::string::npos ? at : at + 2 + lower_name.size();
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

struct RawReply {
  int status = 0;
  std::string head;
  std::string body;
};

inline RawReply split_reply(const std::string& raw) {
  RawReply reply;
  const size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return reply;
  reply.status = std::stoi(raw.substr(9, 3));
  reply.head = raw.substr(0, end + 2);
  reply.body = raw.substr(end + 4);
  return reply;
}

}  // namespace dc::test
