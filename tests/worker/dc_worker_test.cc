// The dc-worker and dcctl programs with pika peers playing Dramatiq's
// client and worker: a Dramatiq client's messages are run by dc-worker,
// dcctl task send feeds a Dramatiq worker, the issue's walk-through (send,
// run once, fail into the dead-letter queue, dead list with traceback),
// kill -9 in the middle of 1,000 tasks loses none, SIGTERM is graceful,
// and a broker that is down gives dcctl its own exit code.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <set>
#include <sstream>

#include "tasks/enqueue.h"
#include "tasks/task_test_util.h"

extern char** environ;

namespace dc::worker {
namespace {

using tasks::Json;
using ::testing::HasSubstr;
using namespace tasks::test;
using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// A running program whose output goes to `log`; killed (SIGKILL) and reaped
// if still running when destroyed.
class Program {
 public:
  Program(const std::vector<std::string>& argv, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Program() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      wait_exit(std::chrono::seconds(10));
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) { ::kill(pid_, sig); }
  // The exit code, or -1 when it did not end in time (or died of a signal: 128+n).
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

class DcWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DC_REQUIRE_RABBIT();
    queue_ = unique_name("pq");
    char tmpl[] = "/tmp/dc-worker-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto ep = dc::test::rabbit_endpoint();
    // (DC_RABBIT_HOST/PORT in the environment, as make test exports them,
    // name the same broker.)
    broker_ = "rabbit_host = \"" + ep->host + "\"\nrabbit_port = " + std::to_string(ep->port) + "\n";
  }
  void TearDown() override {
    if (!queue_.empty()) delete_task_queues(queue_);
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  // Writes dc.toml with the broker, `extra` keys and actor tables.
  std::string config(const std::string& extra) {
    const std::string path = dir_ + "/dc.toml";
    std::ofstream(path) << broker_ << extra;
    return path;
  }
  // An actor that appends its message id to the witness file.
  std::string witness_actor(const std::string& name, const std::string& more = "") {
    return "[actors." + name + "]\nexec = [\"/bin/sh\", \"-c\", \"" + more +
           "echo \\\"$DC_TASK_MESSAGE_ID $DC_TASK_RETRIES\\\" >> " + dir_ + "/witness\"]\nqueue = \"" + queue_ + "\"\n";
  }
  std::unique_ptr<Program> worker(const std::string& config_path, const std::vector<std::string>& more = {}) {
    std::vector<std::string> argv = {DC_WORKER_BIN, "--config", config_path, "--worker-queues", queue_};
    argv.insert(argv.end(), more.begin(), more.end());
    return std::make_unique<Program>(argv, dir_ + "/worker.log");
  }
  int dcctl(const std::string& config_path, const std::string& args, std::string* out) {
    out->clear();
    return dc::test::run_shell(std::string(DCCTL_BIN) + " --config " + config_path + " " + args + " 2>&1", out);
  }
  std::vector<std::string> witness() { return lines_of(read_file(dir_ + "/witness")); }

  std::string queue_;
  std::string dir_;
  std::string broker_;
};

TEST_F(DcWorkerTest, DramatiqClientMessagesAreRunByDcWorker) {
  DC_REQUIRE_PIKA();
  const std::string cfg = config("worker_threads = 2\n" + witness_actor("record"));
  std::string out;
  // Sent before the worker ever ran (the Dramatiq side declares), one delayed.
  ASSERT_EQ(peer("send", queue_ + " record '[1, \"a\"]' '{\"k\": 2}' '{}'", &out), 0) << out;
  const Json first = peer_json(out);
  ASSERT_EQ(peer("send", queue_ + " record '[]' '{}' '{\"max_retries\": 1}' 500", &out), 0) << out;
  const Json delayed = peer_json(out);
  auto w = worker(cfg);
  ASSERT_TRUE(wait_until([&] { return witness().size() == 2; }, std::chrono::seconds(15)))
      << read_file(dir_ + "/worker.log");
  std::set<std::string> ids;
  for (const std::string& line : witness()) ids.insert(line.substr(0, line.find(' ')));
  EXPECT_EQ(ids, (std::set<std::string>{first["message_id"], delayed["message_id"]}));
  EXPECT_TRUE(
      wait_until([&] { return counts(queue_).ready == 0 && counts(queue_).dead == 0; }, std::chrono::seconds(5)));
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait_exit(std::chrono::seconds(10)), 0) << read_file(dir_ + "/worker.log");
}

TEST_F(DcWorkerTest, DcctlSendFeedsADramatiqWorker) {
  DC_REQUIRE_PIKA();
  const std::string cfg = config("");
  std::string out;
  ASSERT_EQ(dcctl(cfg,
                  "task send " + queue_ +
                      " count_words --args '[\"hello world\"]' --kwargs '{\"lang\": \"en\"}' --option max_retries=3 "
                      "--option note=plain --wait-confirm",
                  &out),
            0)
      << out;
  const std::string id = lines_of(out).at(0);
  ASSERT_EQ(peer("receive", queue_ + " 1 5", &out), 0) << out;
  const Json got = peer_json(out);
  ASSERT_EQ(got.size(), 1u) << out;
  const Json& body = got[0]["body"];
  EXPECT_EQ(body["message_id"], id);
  EXPECT_EQ(body["actor_name"], "count_words");
  EXPECT_EQ(body["args"], Json::parse(R"(["hello world"])"));
  EXPECT_EQ(body["kwargs"], Json::parse(R"({"lang":"en"})"));
  EXPECT_EQ(body["options"], Json::parse(R"({"max_retries":3,"note":"plain"})"));
  ASSERT_EQ(dcctl(cfg, "task send " + queue_ + " later --delay 60000", &out), 0) << out;
  ASSERT_EQ(peer("receive", queue_ + ".DQ 1 5", &out), 0) << out;
  EXPECT_EQ(peer_json(out)[0]["body"]["queue_name"], queue_ + ".DQ");
  EXPECT_TRUE(peer_json(out)[0]["body"]["options"].contains("eta"));
}

// The issue's walk-through with the example actor: it runs once; a failing
// one exhausts max_retries and `dcctl task dead list` shows its traceback.
TEST_F(DcWorkerTest, ExampleActorRunsOnceAndFailuresEndInDeadListWithTraceback) {
  const std::string cfg =
      config("[actors.collect]\nexec = [\"" + std::string(DC_REPO_ROOT) + "/examples/tasks/collect\"]\nqueue = \"" +
             queue_ + "\"\nmax_retries = 2\nmin_backoff = 100\n");
  std::string out;
  ASSERT_EQ(dcctl(cfg, "task send " + queue_ + " collect --args '[1,2]'", &out), 0) << out;
  ASSERT_EQ(dcctl(cfg, "task send " + queue_ + " collect --args '[\"x\"]'", &out), 0) << out;
  const std::string failing_id = lines_of(out).at(0);
  auto w = worker(cfg);
  ASSERT_TRUE(wait_until([&] { return counts(queue_).dead == 1; }, std::chrono::seconds(20)))
      << read_file(dir_ + "/worker.log");
  EXPECT_TRUE(
      wait_until([&] { return counts(queue_).ready == 0 && counts(queue_).delayed == 0; }, std::chrono::seconds(5)))
      << "the good message ran and was acked";
  ASSERT_EQ(dcctl(cfg, "task dead list " + queue_, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("message " + failing_id));
  EXPECT_THAT(out, HasSubstr("retries 2"));
  EXPECT_THAT(out, HasSubstr("TypeError: collect only adds numbers, got 'x'"));
  ASSERT_EQ(dcctl(cfg, "task queues " + queue_, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(queue_));
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait_exit(std::chrono::seconds(10)), 0);
  ASSERT_EQ(dcctl(cfg, "task dead purge " + queue_, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("purged 1"));
}

TEST_F(DcWorkerTest, KillNineInTheMiddleOfAThousandTasksLosesNone) {
  const std::string cfg = config("worker_threads = 8\n" + witness_actor("mark", "sleep 0.01; "));
  constexpr int kTasks = 1000;
  std::set<std::string> sent;
  {
    auto enqueuer = tasks::TaskEnqueuer::connect(test_settings());
    ASSERT_TRUE(enqueuer.ok());
    std::vector<tasks::TaskMessage> batch;
    for (int i = 0; i < kTasks; ++i) batch.push_back(tasks::make_task_message(queue_, "mark", Json::array({i})));
    for (const Status& st : enqueuer->publish_batch(batch)) ASSERT_TRUE(st.ok());
    for (const auto& m : batch) sent.insert(m.message_id);
  }
  {
    auto first = worker(cfg);
    ASSERT_TRUE(wait_until([&] { return witness().size() >= 300; }, std::chrono::seconds(60)))
        << read_file(dir_ + "/worker.log");
    first->signal(SIGKILL);
    EXPECT_EQ(first->wait_exit(std::chrono::seconds(10)), 128 + SIGKILL);
  }
  const size_t at_kill = witness().size();
  EXPECT_LT(at_kill, static_cast<size_t>(kTasks)) << "killed in the middle";
  auto second = worker(cfg);
  std::set<std::string> seen;
  ASSERT_TRUE(wait_until(
      [&] {
        seen.clear();
        for (const std::string& line : witness()) seen.insert(line.substr(0, line.find(' ')));
        return seen.size() >= static_cast<size_t>(kTasks);
      },
      std::chrono::seconds(90)))
      << seen.size() << " of " << kTasks << " ran; " << read_file(dir_ + "/worker.log");
  EXPECT_EQ(seen, sent) << "every message id ran, and nothing else";
  EXPECT_GE(witness().size(), static_cast<size_t>(kTasks));
  EXPECT_TRUE(wait_until([&] { return counts(queue_).ready == 0; }, std::chrono::seconds(10)));
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait_exit(std::chrono::seconds(15)), 0);
}

TEST_F(DcWorkerTest, SigtermFinishesRunningTasksAndReturnsTheRest) {
  const std::string cfg = config("worker_threads = 1\n" + witness_actor("slow", "sleep 1; "));
  std::string out;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(dcctl(cfg, "task send " + queue_ + " slow", &out), 0) << out;
  auto w = worker(cfg);
  // One thread takes 2 deliveries (prefetch 2 x threads) and runs the first.
  ASSERT_TRUE(wait_until([&] { return counts(queue_).ready == 1; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait_exit(std::chrono::seconds(10)), 0) << read_file(dir_ + "/worker.log");
  EXPECT_EQ(witness().size(), 1u) << "the running task finished, no other started; " << read_file(dir_ + "/worker.log");
  EXPECT_TRUE(wait_until([&] { return counts(queue_).ready == 2; }, std::chrono::seconds(5)))
      << "the other two are back in the queue";
}

TEST_F(DcWorkerTest, BrokerDownGivesItsOwnExitCode) {
  // Flags, not a file: DC_RABBIT_PORT in the environment (make test exports
  // it) would win over a file.
  const std::string down = " --rabbit-host 127.0.0.1 --rabbit-port 1";
  std::string out;
  const int rc = dc::test::run_shell(std::string(DCCTL_BIN) + down + " task send " + queue_ + " a 2>&1", &out);
  EXPECT_EQ(rc, 4) << out;
  EXPECT_THAT(out, HasSubstr("no database fallback for tasks"));
  out.clear();
  EXPECT_EQ(dc::test::run_shell(std::string(DCCTL_BIN) + down + " task send 'bad queue' a 2>&1", &out), 2) << out;
}

}  // namespace
}  // namespace dc::worker
