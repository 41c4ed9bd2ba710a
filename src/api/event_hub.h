// The live side of dc-api: one thread follows the store's event log
// (Store::events_after; woken by LISTEN/NOTIFY on PostgreSQL, polling every
// poll_interval on SQLite) and fans each new event out to every open event
// stream (GET /api/v1/events) and to the requests waiting for a command's
// outcome (?wait=SECS).
//
// An event's SSE id is its seq in the log, so a client that reconnects with
// Last-Event-ID N gets exactly the events after N: from a ring of the
// newest events kept in memory, or, when it is further behind, read back
// from the store page by page (at the pace the client takes them). If the
// events it missed were pruned, it first gets an event "reset" (reload your
// state), then the oldest events still kept.
//
// The same thread reports managers whose heartbeat stopped
// (Store::report_lost_managers, every liveness_check; the "lost" event goes
// through the log like any other), sends a keep-alive comment to every
// stream every keepalive, and prunes events older than retention.
//
// Thread safety: every public member may be called from any thread.
// Callbacks (CommandWatch) run on the hub's thread and must not block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "http/server.h"
#include "store/store.h"

namespace dc {

struct EventHubOptions {
  std::string db_url;
  std::chrono::milliseconds poll_interval{200};  // SQLite: how often the log is read
  std::chrono::milliseconds keepalive{15000};
  std::chrono::milliseconds liveness_check{1000};
  std::chrono::milliseconds lease_ttl{15000};  // a manager unseen this long is lost
  size_t ring_size = 4096;                     // newest events kept in memory
  std::chrono::hours retention{24 * 7};        // events older than this are pruned...
  int64_t keep_at_least = 10000;               // ...but never the newest this many
  // A stream catching up from the store gets its next page only while it
  // has fewer bytes than this queued.
  size_t catch_up_queue_bytes = 256 * 1024;
};

// One event as a stream sends it.
struct HubEvent {
  int64_t seq = 0;
  EventKind kind = EventKind::command;
  std::string subject;
  std::shared_ptr<const std::string> wire;  // the SSE text
};

// Follows one command's events until the deadline (see watch_command).
class CommandWatch {
 public:
  virtual ~CommandWatch() = default;
  // An event about the command was logged (it may be finished now).
  virtual void on_change() = 0;
  // The deadline passed; the hub lets go of the watch afterwards.
  virtual void on_deadline() = 0;
};

class EventHub {
 public:
  explicit EventHub(EventHubOptions options);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Opens the hub's own store connection, finds the log's newest event and
  // starts the thread. Errors: the store's.
  Status start();
  // Stops the thread (streams stay open; the HTTP server closes them).
  void stop();

  // Sends `stream` every event after `after` (a Last-Event-ID), or, with
  // nullopt, every event logged from now on.
  void subscribe(std::shared_ptr<HttpStream> stream, std::optional<int64_t> after);
  // Calls watch->on_change() for every event of command `cmd_id` logged
  // from now on, and watch->on_deadline() once when `deadline` passes
  // (steady clock); the hub keeps the watch until then.
  void watch_command(const std::string& cmd_id, std::chrono::steady_clock::time_point deadline,
                     std::shared_ptr<CommandWatch> watch);

  // Lets go of `watch` before its deadline (the command is done).
  void unwatch(const std::string& cmd_id, const CommandWatch* watch);

  // The newest seq the hub has read (0 before any).
  int64_t last_seq() const;
  size_t streams() const;
  // Events read from the log since start.
  uint64_t events_read() const;

 private:
  struct Subscriber {
    std::shared_ptr<HttpStream> stream;
    int64_t cursor = 0;  // the newest seq this stream has been sent (or need not get)
    bool catching_up = false;
  };
  struct Watch {
    std::string cmd_id;
    std::chrono::steady_clock::time_point deadline;
    std::shared_ptr<CommandWatch> watch;
  };

  void run();
  void wait_for_work(std::chrono::milliseconds timeout);
  Status read_new_events();
  void publish(std::vector<HubEvent> events);
  void catch_up();
  void keep_alive();
  void expire_watches();
  void housekeeping();
  HubEvent to_hub_event(const StoreEvent& event) const;
  // Sends ring events after subscriber.cursor; with mutex_ held.
  void send_from_ring(Subscriber& subscriber);

  EventHubOptions options_;
  std::unique_ptr<Store> store_;  // the hub thread's own
  std::unique_ptr<CommandNotifier> notifier_;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  int64_t last_seq_ = 0;
  int64_t first_seq_ = 0;  // the oldest event the log still holds
  std::deque<HubEvent> ring_;
  std::vector<Subscriber> subscribers_;
  std::multimap<std::string, Watch> watches_;
  uint64_t events_read_ = 0;

  std::chrono::steady_clock::time_point next_keepalive_{};
  std::chrono::steady_clock::time_point next_liveness_{};
  std::chrono::steady_clock::time_point next_prune_{};
};

}  // namespace dc
