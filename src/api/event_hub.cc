#include "api/event_hub.h"

#include <poll.h>

#include <algorithm>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "http/sse.h"

namespace dc {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kPage = 500;  // events per read from the store

}  // namespace

EventHub::EventHub(EventHubOptions options) : options_(std::move(options)) {}

EventHub::~EventHub() { stop(); }

Status EventHub::start() {
  auto store = Store::open(options_.db_url);
  if (!store) return store.error().with_context("event hub");
  store_ = std::move(store).value();
  auto bounds = store_->event_bounds();
  if (!bounds) return bounds.error().with_context("event hub");
  auto notifier = store_->listen_for_events();
  if (!notifier) return notifier.error().with_context("event hub");
  notifier_ = std::move(notifier).value();
  {
    std::lock_guard lock(mutex_);
    last_seq_ = bounds->last;
    first_seq_ = bounds->first;
    stopping_ = false;
  }
  const auto now = SteadyClock::now();
  next_keepalive_ = now + options_.keepalive;
  next_liveness_ = now;
  next_prune_ = now + std::chrono::minutes(1);
  thread_ = std::thread([this] { run(); });
  return ok_status();
}

void EventHub::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t EventHub::last_seq() const {
  std::lock_guard lock(mutex_);
  return last_seq_;
}

size_t EventHub::streams() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

uint64_t EventHub::events_read() const {
  std::lock_guard lock(mutex_);
  return events_read_;
}

void EventHub::subscribe(std::shared_ptr<HttpStream> stream, std::optional<int64_t> after) {
  // Tell the client how soon to come back if the connection drops.
  stream->send(std::string("retry: 2000\n\n"));
  std::lock_guard lock(mutex_);
  Subscriber subscriber{std::move(stream), last_seq_, false};
  if (after) {
    subscriber.cursor = *after;
    if (*after < first_seq_ - 1) {
      // What it missed is gone: say so, then go on from what is kept.
      nlohmann::json data{{"reason", "events after " + std::to_string(*after) + " up to " +
                                         std::to_string(first_seq_ - 1) + " were pruned; reload the state"}};
      subscriber.stream->send(format_sse_event("", "reset", data.dump()));
      subscriber.cursor = first_seq_ - 1;
    }
    const bool ring_covers =
        !ring_.empty() ? subscriber.cursor >= ring_.front().seq - 1 : subscriber.cursor >= last_seq_;
    if (ring_covers) {
      send_from_ring(subscriber);
    } else {
      subscriber.catching_up = true;
      wake_.notify_all();
    }
  }
  subscribers_.push_back(std::move(subscriber));
}

void EventHub::watch_command(const std::string& cmd_id, SteadyClock::time_point deadline,
                             std::shared_ptr<CommandWatch> watch) {
  {
    std::lock_guard lock(mutex_);
    watches_.emplace(cmd_id, Watch{cmd_id, deadline, std::move(watch)});
  }
  wake_.notify_all();
}

void EventHub::unwatch(const std::string& cmd_id, const CommandWatch* watch) {
  std::lock_guard lock(mutex_);
  auto [begin, end] = watches_.equal_range(cmd_id);
  for (auto it = begin; it != end; ++it) {
    if (it->second.watch.get() == watch) {
      watches_.erase(it);
      return;
    }
  }
}

void EventHub::send_from_ring(Subscriber& subscriber) {
  for (const auto& event : ring_) {
    if (event.seq <= subscriber.cursor) continue;
    if (!subscriber.stream->send(event.wire)) return;
    subscriber.cursor = event.seq;
  }
  subscriber.cursor = std::max(subscriber.cursor, last_seq_);
}

void EventHub::run() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (auto st = read_new_events(); !st) {
      spdlog::warn("event hub: reading the event log failed (retrying): {}", st.error().message());
    }
    catch_up();
    housekeeping();
    expire_watches();
    // Sleep until the next thing to do.
    auto wait = options_.poll_interval;
    {
      std::lock_guard lock(mutex_);
      const bool behind =
          std::any_of(subscribers_.begin(), subscribers_.end(), [](const Subscriber& s) { return s.catching_up; });
      if (behind) wait = std::chrono::milliseconds(20);
      const auto now = SteadyClock::now();
      for (const auto& [id, w] : watches_) {
        wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(w.deadline - now) +
                                  std::chrono::milliseconds(1));
      }
    }
    wait_for_work(std::max(wait, std::chrono::milliseconds(1)));
  }
}

void EventHub::wait_for_work(std::chrono::milliseconds timeout) {
  if (notifier_ && notifier_->fd() >= 0) {
    // PostgreSQL: a NOTIFY wakes us at once; stop() is noticed within a
    // quarter second.
    pollfd pfd{notifier_->fd(), POLLIN, 0};
    const auto slice = std::min(timeout, std::chrono::milliseconds(250));
    if (::poll(&pfd, 1, static_cast<int>(slice.count())) > 0) {
      if (auto drained = notifier_->drain(); !drained) {
        spdlog::warn("event hub: {}", drained.error().message());
        auto again = store_->listen_for_events();
        notifier_ = again ? std::move(again).value() : nullptr;
      }
    }
    return;
  }
  if (!notifier_ && store_->backend() == "postgresql") {
    // The notifier was lost: try again, and poll meanwhile.
    auto again = store_->listen_for_events();
    if (again) notifier_ = std::move(again).value();
  }
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, timeout, [this] { return stopping_; });
}

HubEvent EventHub::to_hub_event(const StoreEvent& event) const {
  nlohmann::json data = nlohmann::json::parse(event.data_json, nullptr, /*allow_exceptions=*/false);
  if (!data.is_object()) data = nlohmann::json::object();
  data["seq"] = event.seq;
  data["at"] = format_iso8601(event.at);
  data["kind"] = to_string(event.kind);
  const std::string text = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return HubEvent{
      event.seq, event.kind, event.subject,
      std::make_shared<const std::string>(format_sse_event(std::to_string(event.seq), to_string(event.kind), text))};
}

Status EventHub::read_new_events() {
  for (;;) {
    int64_t after = 0;
    {
      std::lock_guard lock(mutex_);
      after = last_seq_;
    }
    auto events = store_->events_after(after, kPage);
    if (!events) return events.error();
    if (events->empty()) return ok_status();
    std::vector<HubEvent> hub_events;
    hub_events.reserve(events->size());
    for (const auto& event : *events) hub_events.push_back(to_hub_event(event));
    publish(std::move(hub_events));
    if (events->size() < static_cast<size_t>(kPage)) return ok_status();
  }
}

void EventHub::publish(std::vector<HubEvent> events) {
  std::vector<std::shared_ptr<CommandWatch>> poked;
  {
    std::lock_guard lock(mutex_);
    for (auto& event : events) {
      ++events_read_;
      last_seq_ = event.seq;
      for (auto& subscriber : subscribers_) {
        if (subscriber.catching_up || event.seq <= subscriber.cursor) continue;
        if (subscriber.stream->send(event.wire)) subscriber.cursor = event.seq;
      }
      if (event.kind == EventKind::command) {
        auto [begin, end] = watches_.equal_range(event.subject);
        for (auto it = begin; it != end; ++it) poked.push_back(it->second.watch);
      }
      ring_.push_back(std::move(event));
      if (ring_.size() > options_.ring_size) ring_.pop_front();
    }
    if (first_seq_ == 0 && !ring_.empty()) first_seq_ = ring_.front().seq;
    std::erase_if(subscribers_, [](const Subscriber& s) { return !s.stream->is_open(); });
  }
  // Outside the lock: a watch may submit work that comes back to the hub.
  for (const auto& watch : poked) watch->on_change();
}

void EventHub::catch_up() {
  // One page per lagging stream per turn, and only while the stream takes
  // them: a far-behind client gets its backlog at its own pace.
  std::vector<std::pair<std::shared_ptr<HttpStream>, int64_t>> lagging;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : subscribers_) {
      if (s.catching_up && s.stream->queued_bytes() < options_.catch_up_queue_bytes) {
        lagging.emplace_back(s.stream, s.cursor);
      }
    }
  }
  for (auto& [stream, cursor] : lagging) {
    auto events = store_->events_after(cursor, kPage);
    if (!events) {
      spdlog::warn("event hub: catching a stream up failed (retrying): {}", events.error().message());
      return;
    }
    int64_t sent_to = cursor;
    for (const auto& event : *events) {
      if (!stream->send(to_hub_event(event).wire)) break;
      sent_to = event.seq;
    }
    std::lock_guard lock(mutex_);
    for (auto& s : subscribers_) {
      if (s.stream != stream) continue;
      s.cursor = sent_to;
      const bool ring_covers = ring_.empty() ? s.cursor >= last_seq_ : s.cursor >= ring_.front().seq - 1;
      if (ring_covers) {
        s.catching_up = false;
        send_from_ring(s);
      }
    }
  }
}

void EventHub::housekeeping() {
  const auto now = SteadyClock::now();
  if (now >= next_liveness_) {
    next_liveness_ = now + options_.liveness_check;
    auto lost = store_->report_lost_managers(options_.lease_ttl);
    if (!lost) {
      spdlog::warn("event hub: checking manager liveness failed: {}", lost.error().message());
    } else {
      for (const auto& m : *lost) {
        spdlog::warn("manager {} on {} (pid {}) has not been seen since {}: reported lost", m.name, m.host, m.pid,
                     format_iso8601(m.last_seen));
      }
    }
  }
  if (now >= next_keepalive_) {
    next_keepalive_ = now + options_.keepalive;
    keep_alive();
  }
  if (now >= next_prune_) {
    next_prune_ = now + std::chrono::hours(1);
    auto pruned = store_->prune_events(dc::now() - options_.retention, options_.keep_at_least);
    if (!pruned) {
      spdlog::warn("event hub: pruning the event log failed: {}", pruned.error().message());
    } else if (*pruned > 0) {
      spdlog::info("event hub: pruned {} events older than {} h", *pruned, options_.retention.count());
    }
    if (auto bounds = store_->event_bounds(); bounds) {
      std::lock_guard lock(mutex_);
      first_seq_ = bounds->first;
    }
  }
}

void EventHub::keep_alive() {
  static const auto comment = std::make_shared<const std::string>(format_sse_comment("keep-alive"));
  std::lock_guard lock(mutex_);
  for (auto& subscriber : subscribers_) subscriber.stream->send(comment);
  std::erase_if(subscribers_, [](const Subscriber& s) { return !s.stream->is_open(); });
}

void EventHub::expire_watches() {
  std::vector<std::shared_ptr<CommandWatch>> expired;
  {
    std::lock_guard lock(mutex_);
    const auto now = SteadyClock::now();
    for (auto it = watches_.begin(); it != watches_.end();) {
      if (it->second.deadline <= now) {
        expired.push_back(it->second.watch);
        it = watches_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& watch : expired) watch->on_deadline();
}

}  // namespace dc
