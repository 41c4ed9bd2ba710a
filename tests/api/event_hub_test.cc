// The event hub against a real store (an SQLite file; PostgreSQL too when
// configured), with streams that record what they are sent: resuming from
// any point (the in-memory ring or the store), a reset after pruning,
// command watches, lost managers.
#include "api/event_hub.h"

#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/sse.h"
#include "store/store_contract.h"

namespace dc {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A stream that keeps what it is sent and can be told to stop reading.
class RecordingStream final : public HttpStream {
 public:
  bool send(std::shared_ptr<const std::string> data) override {
    std::lock_guard lock(mutex_);
    if (!open_) return false;
    for (auto& e : parser_.feed(*data)) events_.push_back(std::move(e));
    return true;
  }
  void close() override {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  bool is_open() const override {
    std::lock_guard lock(mutex_);
    return open_;
  }
  size_t queued_bytes() const override { return 0; }
  void on_close(std::function<void()>) override {}

  std::vector<SseEvent> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  // Waits until `n` events (not counting "reset") arrived.
  bool wait_for(size_t n, std::chrono::milliseconds timeout = 10s) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (data_events().size() >= n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  std::vector<SseEvent> data_events() const {
    std::vector<SseEvent> out;
    for (auto& e : events()) {
      if (e.event != "reset") out.push_back(e);
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  bool open_ = true;
  SseParser parser_;
  std::vector<SseEvent> events_;
};

App hub_app(const std::string& id) {
  App app;
  app.app_id = id;
  app.manager = "m1";
  app.exec = {"/bin/true"};
  return app;
}

class EventHubTest : public ::testing::TestWithParam<test::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == test::Backend::postgresql) DC_REQUIRE_POSTGRES();
    auto db = test::TestDatabase::create(GetParam());
    ASSERT_TRUE(db) << db.error().message();
    db_ = std::move(db).value();
    auto store = db_->open();
    ASSERT_TRUE(store);
    store_ = std::move(store).value();
    ASSERT_OK(store_->add_app(hub_app("a1")));
  }
  void TearDown() override {
    if (hub_) hub_->stop();
  }
  void start_hub(size_t ring_size) {
    EventHubOptions options;
    options.db_url = db_->url();
    options.poll_interval = 20ms;
    options.ring_size = ring_size;
    options.lease_ttl = 200ms;
    options.liveness_check = 50ms;
    hub_ = std::make_unique<EventHub>(options);
    ASSERT_OK(hub_->start());
  }
  void changes(int n, int from = 0) {
    for (int i = from; i < from + n; ++i) ASSERT_OK(store_->set_next_run("a1", from_unix_micros(i * 1'000'000)));
  }
  std::unique_ptr<test::TestDatabase> db_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<EventHub> hub_;
};

INSTANTIATE_TEST_SUITE_P(Backends, EventHubTest,
                         ::testing::Values(test::Backend::sqlite_file, test::Backend::postgresql), test::BackendName());

TEST_P(EventHubTest, NewStreamsGetWhatIsLoggedFromNowOn) {
  changes(3);
  start_hub(100);
  auto stream = std::make_shared<RecordingStream>();
  hub_->subscribe(stream, std::nullopt);
  changes(2, 3);
  ASSERT_TRUE(stream->wait_for(2));
  std::this_thread::sleep_for(100ms);
  const auto events = stream->data_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "app");
  const json data = json::parse(events[0].data);
  EXPECT_EQ(data["action"], "next_run");
  EXPECT_EQ(data["kind"], "app");
  EXPECT_EQ(std::to_string(data["seq"].get<int64_t>()), events[0].id);
}

// Far behind the ring, a stream is fed from the store, then from the ring,
// then live: every event once, in order.
TEST_P(EventHubTest, ResumingFromAnyPointMissesNothingAndRepeatsNothing) {
  changes(50);
  start_hub(10);
  ASSERT_OK_AND_ASSIGN(auto bounds, store_->event_bounds());
  for (int64_t after : {int64_t{0}, bounds.last - 30, bounds.last - 5, bounds.last}) {
    auto stream = std::make_shared<RecordingStream>();
    hub_->subscribe(stream, after);
    const size_t expected = static_cast<size_t>(bounds.last - after);
    ASSERT_TRUE(stream->wait_for(expected)) << "after " << after << ": got " << stream->data_events().size();
    std::this_thread::sleep_for(50ms);
    const auto events = stream->data_events();
    ASSERT_EQ(events.size(), expected) << "after " << after;
    for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(std::stoll(events[i].id), after + 1 + static_cast<int64_t>(i));
  }
  // While writers keep logging: a stream far behind catches up and goes live.
  auto stream = std::make_shared<RecordingStream>();
  hub_->subscribe(stream, 0);
  std::thread writer([&] { changes(40, 100); });
  writer.join();
  ASSERT_TRUE(stream->wait_for(static_cast<size_t>(bounds.last + 40)));
  std::this_thread::sleep_for(100ms);
  const auto events = stream->data_events();
  ASSERT_EQ(events.size(), static_cast<size_t>(bounds.last + 40));
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(std::stoll(events[i].id), static_cast<int64_t>(i) + 1);
}

TEST_P(EventHubTest, PrunedHistoryIsAReset) {
  changes(20);
  ASSERT_OK_AND_ASSIGN(auto pruned, store_->prune_events(now() + 1s, 5));
  EXPECT_GT(pruned, 0);
  start_hub(100);
  auto stream = std::make_shared<RecordingStream>();
  hub_->subscribe(stream, 1);
  ASSERT_TRUE(stream->wait_for(5));
  const auto events = stream->events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].event, "reset");
  EXPECT_EQ(stream->data_events().size(), 5u);
}

class RecordingWatch final : public CommandWatch {
 public:
  void on_change() override { ++changes; }
  void on_deadline() override { ++deadlines; }
  std::atomic<int> changes{0};
  std::atomic<int> deadlines{0};
};

TEST_P(EventHubTest, WatchesHearOfTheirCommandAndOfTheDeadline) {
  start_hub(100);
  auto watch = std::make_shared<RecordingWatch>();
  hub_->watch_command("c1", std::chrono::steady_clock::now() + 300ms, watch);
  Command command;
  command.id = "c1";
  command.app_id = "a1";
  command.issued_by = "t";
  ASSERT_OK(store_->record_command(command));
  Command other = command;
  other.id = "c2";
  ASSERT_OK(store_->record_command(other));
  for (int i = 0; i < 100 && watch->changes.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(watch->changes.load(), 1);
  for (int i = 0; i < 100 && watch->deadlines.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(watch->deadlines.load(), 1);
  // Unwatched before its deadline: never called again.
  auto early = std::make_shared<RecordingWatch>();
  hub_->watch_command("c3", std::chrono::steady_clock::now() + 200ms, early);
  hub_->unwatch("c3", early.get());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(early->deadlines.load(), 0);
}

TEST_P(EventHubTest, ASilentManagerIsReportedLost) {
  ManagerRecord m;
  m.name = "m1";
  m.host = "h";
  m.pid = 1;
  m.mode = ManagerMode::broker;
  m.instance = "i1";
  ASSERT_OK(store_->acquire_lease(m, 15s));
  start_hub(100);
  auto stream = std::make_shared<RecordingStream>();
  hub_->subscribe(stream, 0);
  ASSERT_TRUE(stream->wait_for(3, 10s));  // added, started, lost
  const auto events = stream->data_events();
  const json lost = json::parse(events.back().data);
  EXPECT_EQ(events.back().event, "manager");
  EXPECT_EQ(lost["action"], "lost");
  EXPECT_EQ(lost["live"], false);
}

}  // namespace
}  // namespace dc
