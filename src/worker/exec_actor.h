// An actor that is an executable (SPEC §9, [actors.NAME] with exec = argv):
//
//   - argv is run directly (run_program: posix_spawn, never a shell), in its
//     own process group, once per attempt;
//   - stdin: the whole message, one JSON object (the body Dramatiq would
//     write), then EOF;
//   - environment: dc-worker's own minus its secrets (DC_RABBIT_PASSWORD,
//     DC_COMMAND_SECRET, DC_DB_URL), plus DC_TASK_MESSAGE_ID, DC_TASK_ACTOR,
//     DC_TASK_QUEUE (the canonical queue) and DC_TASK_RETRIES;
//   - exit 0 is success, and the last non-empty stdout line, if it is JSON,
//     is the result (else the result is null);
//   - any other exit, or being killed at the time limit (the process group
//     gets SIGKILL), is a failure whose traceback is the stderr tail plus a
//     line saying how it ended.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker/actor.h"

namespace dc::worker {

// `base_env`: the environment every attempt starts from ("NAME=value").
std::unique_ptr<Actor> make_exec_actor(ActorSpec spec, std::vector<std::string> argv,
                                       std::vector<std::string> base_env);

// The environment an exec actor runs with: this process's, without the
// secrets dc programs read and without stale DC_TASK_* variables.
std::vector<std::string> exec_actor_base_env();

// The result an exec actor's stdout gives: its last non-empty line parsed as
// JSON, or null when that line is not JSON (or there is none).
tasks::Json result_from_stdout(std::string_view stdout_text);

}  // namespace dc::worker
