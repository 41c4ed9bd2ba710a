// A TCP proxy between a manager and the broker, under the test's control:
// it listens on 127.0.0.1 (an ephemeral port) and forwards every accepted
// connection to 127.0.0.1:<target>. The test then breaks the link on
// purpose:
//   cut_all()            both sides of every current connection closed cleanly
//   set_accepting(false) new connections are closed at once (a refusing link)
//   LinkMode::blackhole  nothing is forwarded, sockets stay open: only
//                        heartbeats can tell (a silent partition)
//   LinkMode::slow       each chunk is delayed before it is forwarded
// One thread accepts, one thread per connection pumps both directions; every
// wait is bounded (100 ms) so mode changes and stop take effect promptly.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/result.h"

namespace dc::chaos {

enum class LinkMode { forward, blackhole, slow };

class TcpProxy {
 public:
  static Result<std::unique_ptr<TcpProxy>> start(int target_port);
  // Closes every connection and the listener, joins all threads.
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // `delay` applies to LinkMode::slow: the wait before each chunk is forwarded.
  void set_mode(LinkMode mode, std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  void set_accepting(bool accepting) { accepting_.store(accepting); }
  // Closes both sides of every open connection; returns how many there were.
  int cut_all();

 private:
  struct Pair {
    int client = -1;
    int server = -1;
    // Guarded by mutex_. Only the pair's pump thread closes the fds (so a
    // number is never reused under it); cut_all() only shuts them down.
    bool cut = false;
    bool closed = false;
  };
  TcpProxy(int listen_fd, int port, int target_port);
  void accept_loop();
  void pump(std::shared_ptr<Pair> pair);
  void close_pair(Pair& pair);
  bool forward_chunk(int from, int to, const std::shared_ptr<Pair>& pair);

  int listen_fd_;
  int port_;
  int target_port_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> accepting_{true};
  std::atomic<LinkMode> mode_{LinkMode::forward};
  std::atomic<int64_t> delay_ms_{0};
  std::mutex mutex_;
  std::vector<std::shared_ptr<Pair>> pairs_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace dc::chaos
