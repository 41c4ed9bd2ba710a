// Executable actors (SPEC §9) and run_program underneath them: the message
// on stdin, DC_TASK_* in the environment without dc's secrets, the last
// stdout line as the result, the stderr tail as the traceback, and the time
// limit killing the whole process group. Real processes, no broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "process/run_program.h"
#include "tasks/enqueue.h"
#include "worker/exec_actor.h"

namespace dc::worker {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ExecActorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dc-exec-actor-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  // An actor running `script` with /bin/sh; $1 is the test's directory.
  std::unique_ptr<Actor> sh_actor(const std::string& script) {
    ActorSpec spec;
    spec.name = "sh";
    spec.queue = "q";
    return make_exec_actor(spec, {"/bin/sh", "-c", script, "sh", dir_}, exec_actor_base_env());
  }
  AttemptResult run(const Actor& actor, const tasks::TaskMessage& m, std::chrono::milliseconds limit,
                    int64_t retries = 0) {
    TaskContext context{m, retries, std::chrono::steady_clock::now() + limit, nullptr};
    return actor.run(context);
  }
  std::string dir_;
};

TEST_F(ExecActorTest, MessageOnStdinEnvironmentAndResult) {
  ::setenv("DC_RABBIT_PASSWORD", "Secret-Pw-9", 1);
  auto actor = sh_actor(R"(cat > "$1/stdin"; env > "$1/env"; echo progress; echo '{"ok": [1, 2]}'; echo)");
  ::unsetenv("DC_RABBIT_PASSWORD");
  tasks::TaskMessage m = tasks::make_task_message("q.DQ", "sh", tasks::Json::array({1, "two"}));
  AttemptResult r = run(*actor, m, std::chrono::seconds(10), 2);
  ASSERT_EQ(r.kind, AttemptResult::Kind::success) << r.traceback;
  EXPECT_EQ(r.result, tasks::Json::parse(R"({"ok":[1,2]})")) << "the last non-empty line";
  EXPECT_EQ(read_file(dir_ + "/stdin"), tasks::encode_task_message(m)) << "the whole message, as Dramatiq encodes it";
  const std::string env = read_file(dir_ + "/env");
  EXPECT_THAT(env, HasSubstr("DC_TASK_MESSAGE_ID=" + m.message_id + "\n"));
  EXPECT_THAT(env, HasSubstr("DC_TASK_ACTOR=sh\n"));
  EXPECT_THAT(env, HasSubstr("DC_TASK_QUEUE=q\n")) << "the canonical queue";
  EXPECT_THAT(env, HasSubstr("DC_TASK_RETRIES=2\n"));
  EXPECT_THAT(env, Not(HasSubstr("Secret-Pw-9"))) << "dc's secrets stay out of actors";
}

TEST_F(ExecActorTest, NonJsonLastLineIsANullResult) {
  auto actor = sh_actor("echo done");
  AttemptResult r = run(*actor, tasks::make_task_message("q", "sh"), std::chrono::seconds(10));
  ASSERT_EQ(r.kind, AttemptResult::Kind::success);
  EXPECT_TRUE(r.result.is_null());
  EXPECT_EQ(result_from_stdout("1\n2\n  3  \n\n"), tasks::Json(3));
  EXPECT_EQ(result_from_stdout("\"text\""), tasks::Json("text"));
  EXPECT_TRUE(result_from_stdout("").is_null());
  EXPECT_TRUE(result_from_stdout(std::string(1000, '[') + std::string(1000, ']')).is_null()) << "too deep";
}

TEST_F(ExecActorTest, FailureCarriesTheStderrTail) {
  auto actor = sh_actor("echo 'Traceback (most recent call last):' >&2; echo 'ValueError: bad input' >&2; exit 3");
  AttemptResult r = run(*actor, tasks::make_task_message("q", "sh"), std::chrono::seconds(10));
  ASSERT_EQ(r.kind, AttemptResult::Kind::failure);
  EXPECT_THAT(r.traceback, HasSubstr("Traceback (most recent call last):\nValueError: bad input\n"));
  EXPECT_THAT(r.traceback, HasSubstr("exited with code 3"));
}

TEST_F(ExecActorTest, TimeLimitKillsTheWholeProcessGroup) {
  // A grandchild that would outlive the actor, and its pid for the check.
  auto actor = sh_actor(R"(sleep 30 & echo $! > "$1/grandchild"; echo started >&2; sleep 30)");
  const auto started = std::chrono::steady_clock::now();
  AttemptResult r = run(*actor, tasks::make_task_message("q", "sh"), std::chrono::milliseconds(500));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(r.kind, AttemptResult::Kind::failure);
  EXPECT_THAT(r.traceback, HasSubstr("started\n"));
  EXPECT_THAT(r.traceback, HasSubstr("TimeLimitExceeded"));
  EXPECT_LT(took, std::chrono::seconds(3));
  const pid_t grandchild = std::stoi(read_file(dir_ + "/grandchild"));
  // Killed and reaped by init: kill(0) fails, or only a zombie remains briefly.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string content;
    std::getline(stat, content);
    gone = content.empty() || content.find(") Z") != std::string::npos;
    if (!gone) usleep(20'000);
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " outlived the time limit";
}

TEST_F(ExecActorTest, MissingProgramIsAFailureNotACrash) {
  ActorSpec spec;
  spec.name = "missing";
  auto actor = make_exec_actor(spec, {"/nonexistent/actor"}, exec_actor_base_env());
  AttemptResult r = run(*actor, tasks::make_task_message("q", "missing"), std::chrono::seconds(5));
  ASSERT_EQ(r.kind, AttemptResult::Kind::failure);
  EXPECT_THAT(r.traceback, HasSubstr("/nonexistent/actor"));
}

TEST_F(ExecActorTest, CancellationKillsAndReportsInterrupted) {
  auto actor = sh_actor("sleep 30");
  std::atomic<bool> cancel{false};
  tasks::TaskMessage m = tasks::make_task_message("q", "sh");
  TaskContext context{m, 0, std::chrono::steady_clock::now() + std::chrono::seconds(30), &cancel};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  const auto started = std::chrono::steady_clock::now();
  AttemptResult r = actor->run(context);
  canceller.join();
  EXPECT_EQ(r.kind, AttemptResult::Kind::cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST(RunProgramTest, AProgramThatIgnoresStdinIsNoSigpipe) {
  // SIGPIPE keeps its default action (death) in this test process.
  ProgramRun run;
  run.argv = {"/bin/true"};
  run.env = {"PATH=/usr/bin:/bin"};
  run.stdin_data = std::string(1 << 20, 'x');
  for (int i = 0; i < 20; ++i) {
    auto result = run_program(run);
    ASSERT_TRUE(result.ok()) << result.error().message();
    EXPECT_TRUE(result->succeeded());
  }
}

TEST(RunProgramTest, LargeStdinAndStdoutDoNotDeadlock) {
  ProgramRun run;
  run.argv = {"/bin/cat"};
  run.env = {"PATH=/usr/bin:/bin"};
  run.stdin_data = std::string(3 << 20, 'x');  // larger than any pipe buffer
  run.stdout_keep = 1 << 20;
  auto result = run_program(run);
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_TRUE(result->succeeded());
  EXPECT_EQ(result->stdout_tail, std::string(1 << 20, 'x')) << "the newest stdout_keep bytes";
}

}  // namespace
}  // namespace dc::worker
