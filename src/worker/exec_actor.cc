#include "worker/exec_actor.h"

#include <algorithm>

#include "base/json_scan.h"
#include "process/run_program.h"
#include "process/spawn.h"

namespace dc::worker {
namespace {

class ExecActor final : public Actor {
 public:
  ExecActor(ActorSpec spec, std::vector<std::string> argv, std::vector<std::string> base_env)
      : Actor(std::move(spec)), argv_(std::move(argv)), base_env_(std::move(base_env)) {}

  AttemptResult run(const TaskContext& context) const override {
    const tasks::TaskMessage& m = context.message;
    ProgramRun run;
    run.argv = argv_;
    run.env = base_env_;
    run.env.push_back("DC_TASK_MESSAGE_ID=" + m.message_id);
    run.env.push_back("DC_TASK_ACTOR=" + m.actor_name);
    run.env.push_back("DC_TASK_QUEUE=" + tasks::canonical_queue_name(m.queue_name));
    run.env.push_back("DC_TASK_RETRIES=" + std::to_string(context.retries));
    run.stdin_data = tasks::encode_task_message(m);
    run.time_limit =
        std::max(std::chrono::milliseconds(0),
                 std::chrono::ceil<std::chrono::milliseconds>(context.deadline - std::chrono::steady_clock::now()));
    run.cancel = context.cancelled;
    auto outcome = run_program(run);
    const std::string who = "actor '" + spec().name + "' (" + argv_[0] + ")";
    if (!outcome) return AttemptResult::failed(outcome.error().message());
    if (outcome->cancelled) return AttemptResult::interrupted();
    std::string traceback = outcome->stderr_tail;
    if (!traceback.empty() && traceback.back() != '\n') traceback += '\n';
    if (outcome->timed_out) {
      return AttemptResult::failed(traceback + "TimeLimitExceeded: " + who + " was killed after " +
                                   std::to_string(outcome->elapsed.count()) + " ms (time_limit)");
    }
    if (outcome->status.exit_code != 0) {
      return AttemptResult::failed(traceback + who + " " + outcome->status.describe());
    }
    return AttemptResult::ok(result_from_stdout(outcome->stdout_tail));
  }

 private:
  std::vector<std::string> argv_;
  std::vector<std::string> base_env_;
};

}  // namespace

std::unique_ptr<Actor> make_exec_actor(ActorSpec spec, std::vector<std::string> argv,
                                       std::vector<std::string> base_env) {
  return std::make_unique<ExecActor>(std::move(spec), std::move(argv), std::move(base_env));
}

std::vector<std::string> exec_actor_base_env() {
  std::vector<std::string> drop = kManagerSecretEnv;
  for (const char* name : {"DC_TASK_MESSAGE_ID", "DC_TASK_ACTOR", "DC_TASK_QUEUE", "DC_TASK_RETRIES"}) {
    drop.emplace_back(name);
  }
  return environment_without(drop);
}

tasks::Json result_from_stdout(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  const size_t newline = text.rfind('\n');
  std::string_view line = newline == std::string_view::npos ? text : text.substr(newline + 1);
  while (!line.empty() && blank(line.front())) line.remove_prefix(1);
  if (line.empty() || json_nesting_exceeds(line, tasks::kMaxTaskJsonDepth)) return nullptr;
  tasks::Json value = tasks::Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return nullptr;
  return value;
}

}  // namespace dc::worker
