// The issuing layer (source/issue.h) against the real test broker and an
// SQLite file: recorded before published, one connection reused across
// commands, recovery from a connection or a queue that went away between
// commands, a broker that is down, and issuers working side by side.
#include "source/issue.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "base/ids.h"
#include "broker/topology.h"
#include "source/broker_settings.h"
#include "support/services.h"

namespace dc {
namespace {

using namespace std::chrono_literals;

// Runs `$DC_TEST_RABBITMQCTL -q <args>`; returns its output.
std::string rabbitmqctl(const std::string& args) {
  std::string out;
  const auto ctl = test::env("DC_TEST_RABBITMQCTL");
  if (!ctl) {
    ADD_FAILURE() << "DC_TEST_RABBITMQCTL not set";
    return out;
  }
  EXPECT_EQ(test::run_shell(*ctl + " -q " + args + " 2>&1", &out), 0) << args << ": " << out;
  return out;
}

// The broker's pids of the connections whose client properties carry
// `connection_name`.
std::vector<std::string> connections_named(const std::string& connection_name) {
  std::vector<std::string> pids;
  const std::string out = rabbitmqctl("list_connections pid client_properties");
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    if (line.find(connection_name) != std::string::npos) pids.push_back(line.substr(0, line.find('\t')));
    start = end + 1;
  }
  return pids;
}

class IssueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DC_REQUIRE_RABBIT();
    char pattern[] = "/tmp/dc-source-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    auto store = Store::open("sqlite://" + dir_ + "/dc.sqlite3");
    ASSERT_TRUE(store.ok()) << store.error().message();
    store_ = std::move(*store);

    const auto broker = *test::rabbit_endpoint();
    config_.rabbit_hosts = {{broker.host, broker.port}};
    config_.rabbit_exchange = "dc-src-" + random_uuid().substr(0, 8);
    manager_ = "mgr-" + random_uuid().substr(0, 8);
    add_app("app-1", manager_);
  }

  void TearDown() override {
    if (auto conn = broker::Connection::open(connection_settings(config_, "dc source test cleanup")); conn) {
      for (const auto& queue : {manager_, std::string("other-") + manager_}) (void)broker::delete_queue(*conn, queue);
      (void)broker::delete_queue(*conn, config_.rabbit_exchange + ".dead");
      (void)broker::delete_exchange(*conn, config_.rabbit_exchange);
      (void)broker::delete_exchange(*conn, config_.rabbit_exchange + ".dlx");
    }
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void add_app(const std::string& app_id, const std::string& manager) {
    App app;
    app.app_id = app_id;
    app.name = app_id;
    app.manager = manager;
    app.exec = {"/bin/true"};
    ASSERT_TRUE(store_->add_app(app).ok());
  }

  // Ready messages in `queue`, as the broker counts them.
  uint32_t queued(const std::string& queue) {
    auto conn = broker::Connection::open(connection_settings(config_, "dc source test count"));
    if (!conn) return 0;
    auto count = broker::queue_message_count(*conn, queue);
    return count ? *count : 0;
  }

  static IssueRequest request(CmdName name, const std::string& app_id) {
    IssueRequest r;
    r.name = name;
    r.app_id = app_id;
    r.issued_by = "test@host";
    return r;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  Config config_;
  std::string manager_;
};

TEST_F(IssueTest, RecordsThenPublishesToTheOwningManagersQueue) {
  auto report = issue_command(*store_, config_, request(CmdName::start, "app-1"));
  ASSERT_TRUE(report.ok()) << report.error().message();
  EXPECT_TRUE(report->published) << report->publish_detail;
  EXPECT_EQ(report->routing_key, manager_);
  ASSERT_EQ(report->rows.size(), 1u);
  EXPECT_EQ(report->command.issued_by, "test@host");

  auto rows = store_->get_command(report->command.id);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().flag, CmdFlag::pending);
  EXPECT_EQ(queued(manager_), 1u) << "the queue was declared before the publish, so the message waits in it";
}

TEST_F(IssueTest, RefusesBadRequestsBeforeRecordingAnything) {
  CommandIssuer issuer(*store_, config_);
  IssueRequest bad_id = request(CmdName::start, "../etc");
  EXPECT_EQ(issuer.issue(bad_id).error().code(), Errc::invalid_argument);
  IssueRequest manager_without_all = request(CmdName::start, "app-1");
  manager_without_all.manager = manager_;
  EXPECT_EQ(issuer.issue(manager_without_all).error().code(), Errc::invalid_argument);
  IssueRequest bad_args = request(CmdName::start, "app-1");
  bad_args.args_json = "[1]";
  EXPECT_EQ(issuer.issue(bad_args).error().code(), Errc::invalid_argument);
  EXPECT_EQ(issuer.issue(request(CmdName::start, "nope")).error().code(), Errc::not_found);

  auto all = store_->list_commands(CommandFilter{});
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(IssueTest, ReusesOneConnectionAcrossCommands) {
  IssuerOptions options;
  options.connection_name = "dc source test " + random_uuid();
  CommandIssuer issuer(*store_, config_, options);
  for (int i = 0; i < 20; ++i) {
    auto report = issuer.issue(request(i % 2 == 0 ? CmdName::disable : CmdName::enable, "app-1"));
    ASSERT_TRUE(report.ok()) << report.error().message();
    ASSERT_TRUE(report->published) << report->publish_detail;
  }
  EXPECT_EQ(connections_named(options.connection_name).size(), 1u);
  EXPECT_EQ(queued(manager_), 20u);
}

TEST_F(IssueTest, RecoversFromAConnectionTheBrokerClosedBetweenCommands) {
  IssuerOptions options;
  options.connection_name = "dc source test " + random_uuid();
  CommandIssuer issuer(*store_, config_, options);
  ASSERT_TRUE(issuer.issue(request(CmdName::start, "app-1"))->published);
  const auto pids = connections_named(options.connection_name);
  ASSERT_EQ(pids.size(), 1u);
  rabbitmqctl("close_connection '" + pids.front() + "' 'closed by the test'");

  auto report = issuer.issue(request(CmdName::stop, "app-1"));
  ASSERT_TRUE(report.ok()) << report.error().message();
  EXPECT_TRUE(report->published) << report->publish_detail;
  EXPECT_GE(queued(manager_), 2u);
}

TEST_F(IssueTest, RedeclaresAQueueDeletedBetweenCommands) {
  CommandIssuer issuer(*store_, config_);
  ASSERT_TRUE(issuer.issue(request(CmdName::start, "app-1"))->published);
  {
    auto conn = broker::Connection::open(connection_settings(config_, "dc source test delete"));
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(broker::delete_queue(*conn, manager_).ok());
  }
  auto report = issuer.issue(request(CmdName::stop, "app-1"));
  ASSERT_TRUE(report.ok()) << report.error().message();
  EXPECT_TRUE(report->published) << report->publish_detail;
  EXPECT_EQ(queued(manager_), 1u);
}

TEST_F(IssueTest, BroadcastDeclaresEveryManagersQueue) {
  const std::string other = "other-" + manager_;
  add_app("app-2", other);
  auto report = issue_command(*store_, config_, request(CmdName::restart, std::string(kBroadcastAppId)));
  ASSERT_TRUE(report.ok()) << report.error().message();
  EXPECT_TRUE(report->published) << report->publish_detail;
  EXPECT_EQ(report->routing_key, kBroadcastRoutingKey);
  EXPECT_EQ(report->rows.size(), 2u);
  EXPECT_EQ(queued(manager_), 1u);
  EXPECT_EQ(queued(other), 1u);
}

TEST_F(IssueTest, ABrokerThatIsDownLeavesTheCommandRecordedAndIsNotRetriedForEveryCommand) {
  // A listener that accepts TCP but never speaks AMQP: each connect attempt
  // costs the whole handshake timeout (5 s).
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(silent, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Config down = config_;
  down.rabbit_hosts = {{"127.0.0.1", ntohs(addr.sin_port)}};

  IssuerOptions options;
  options.reconnect_interval = 60s;
  CommandIssuer issuer(*store_, down, options);
  auto first = issuer.issue(request(CmdName::start, "app-1"));
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_FALSE(first->published);
  EXPECT_NE(first->publish_detail.find("broker unreachable"), std::string::npos) << first->publish_detail;

  const auto start = std::chrono::steady_clock::now();
  auto second = issuer.issue(request(CmdName::stop, "app-1"));
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(silent);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_FALSE(second->published);
  EXPECT_LT(took, 1s) << "within reconnect_interval the issuer only records";

  for (const auto& id : {first->command.id, second->command.id}) {
    auto rows = store_->get_command(id);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(rows->front().flag, CmdFlag::pending) << "stored for the manager's database path";
  }
}

TEST_F(IssueTest, IssuersOnSeparateThreadsWorkSideBySide) {
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::atomic<int> published{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // The contract: one issuer and one store per thread.
      auto store = Store::open("sqlite://" + dir_ + "/dc.sqlite3");
      if (!store) return;
      CommandIssuer issuer(**store, config_);
      for (int i = 0; i < kEach; ++i) {
        auto report = issuer.issue(request(CmdName::enable, "app-1"));
        if (report && report->published) ++published;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(published.load(), kThreads * kEach);
  EXPECT_EQ(queued(manager_), static_cast<uint32_t>(kThreads * kEach));
}

}  // namespace
}  // namespace dc
