#include "chaos/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dc::chaos {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

Result<std::unique_ptr<TcpProxy>> TcpProxy::start(int target_port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(Errc::io, std::string("proxy socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = loopback(0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return Error(Errc::io, "proxy bind/listen on 127.0.0.1: " + why);
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::unique_ptr<TcpProxy> proxy(new TcpProxy(fd, ntohs(addr.sin_port), target_port));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->accept_loop(); });
  return proxy;
}

TcpProxy::TcpProxy(int listen_fd, int port, int target_port)
    : listen_fd_(listen_fd), port_(port), target_port_(target_port) {}

TcpProxy::~TcpProxy() {
  stop_.store(true);
  if (acceptor_.joinable()) acceptor_.join();
  (void)cut_all();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  ::close(listen_fd_);
}

void TcpProxy::set_mode(LinkMode mode, std::chrono::milliseconds delay) {
  delay_ms_.store(delay.count());
  mode_.store(mode);
}

void TcpProxy::close_pair(Pair& pair) {
  // Caller holds mutex_ and is the pair's pump thread.
  if (pair.closed) return;
  pair.closed = true;
  ::shutdown(pair.client, SHUT_RDWR);
  ::shutdown(pair.server, SHUT_RDWR);
  ::close(pair.client);
  ::close(pair.server);
}

int TcpProxy::cut_all() {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (auto& pair : pairs_) {
    if (pair->closed || pair->cut) continue;
    ++n;
    pair->cut = true;
    ::shutdown(pair->client, SHUT_RDWR);
    ::shutdown(pair->server, SHUT_RDWR);
  }
  pairs_.clear();
  return n;
}

void TcpProxy::accept_loop() {
  while (!stop_.load()) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    if (!accepting_.load()) {
      ::close(client);
      continue;
    }
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(target_port_);
    if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (server >= 0) ::close(server);
      ::close(client);  // the broker is down: so is the link
      continue;
    }
    auto pair = std::make_shared<Pair>();
    pair->client = client;
    pair->server = server;
    std::lock_guard lock(mutex_);
    pairs_.push_back(pair);
    threads_.emplace_back([this, pair] { pump(pair); });
  }
}

bool TcpProxy::forward_chunk(int from, int to, const std::shared_ptr<Pair>& pair) {
  char buffer[65536];
  const ssize_t n = ::recv(from, buffer, sizeof buffer, MSG_DONTWAIT);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  if (mode_.load() == LinkMode::slow) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
  ssize_t sent = 0;
  while (sent < n) {
    if (stop_.load()) return false;
    {
      std::lock_guard lock(mutex_);
      if (pair->cut) return false;
    }
    pollfd pfd{to, POLLOUT, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    const ssize_t w = ::send(to, buffer + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    sent += w;
  }
  return true;
}

void TcpProxy::pump(std::shared_ptr<Pair> pair) {
  int client = -1;
  int server = -1;
  {
    std::lock_guard lock(mutex_);
    client = pair->client;
    server = pair->server;
  }
  while (!stop_.load()) {
    {
      std::lock_guard lock(mutex_);
      if (pair->cut) break;
    }
    if (mode_.load() == LinkMode::blackhole) {
      // Read nothing, write nothing, close nothing: a silent partition.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    pollfd pfds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (::poll(pfds, 2, 100) <= 0) continue;
    bool ok = true;
    if (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) ok = forward_chunk(client, server, pair);
    if (ok && (pfds[1].revents & (POLLIN | POLLHUP | POLLERR))) ok = forward_chunk(server, client, pair);
    if (!ok) break;
  }
  std::lock_guard lock(mutex_);
  close_pair(*pair);
}

}  // namespace dc::chaos
